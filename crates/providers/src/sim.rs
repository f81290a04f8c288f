//! What every simulated vendor server shares (cargo feature `sim`; the gateway's own build does
//! not enable it): its state (settings, the key it expects, its counters, the token that ends its
//! sessions) and the key check. The servers themselves live with their protocols:
//! `deepgram::sim::{listen, speak}`, `openai::sim::server`, `elevenlabs::sim`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::http::{HeaderMap, header::AUTHORIZATION};
use tokio_util::sync::CancellationToken;

/// How a simulated text-to-speech vendor paces its audio (8 kHz μ-law, 8 bytes a millisecond).
#[derive(Debug, Clone)]
pub struct TtsPacing {
    /// From the flush to the first audio frame.
    pub time_to_first_audio: Duration,
    /// Audio length per character of text.
    pub ms_per_char: u32,
    /// Pacing as a multiple of real time (2.0 = one second of audio every half second; 0: as
    /// fast as the socket takes it).
    pub speed: f64,
    /// Audio per frame.
    pub chunk: Duration,
}

/// μ-law bytes in one millisecond of 8 kHz audio.
const BYTES_PER_MS: usize = 8;
/// The smallest frame a simulator sends: 20 ms, one Twilio frame.
const MIN_CHUNK_BYTES: usize = 160;

impl TtsPacing {
    /// Bytes of audio for `text`.
    pub fn audio_bytes_for(&self, text: &str) -> usize {
        text.chars().count() * self.ms_per_char as usize * BYTES_PER_MS
    }

    /// Bytes in one frame, at least 20 ms and at most `available`.
    pub fn chunk_bytes(&self, available: usize) -> usize {
        (self.chunk.as_millis() as usize * BYTES_PER_MS).clamp(MIN_CHUNK_BYTES, available)
    }

    /// The wait between frames.
    pub fn chunk_gap(&self) -> Duration {
        if self.speed > 0.0 {
            self.chunk.div_f64(self.speed)
        } else {
            Duration::ZERO
        }
    }
}

/// What one simulator saw, for reports and tests.
#[derive(Debug, Default)]
pub struct Counters {
    /// Sessions opened (WebSocket upgrades, or streamed HTTP requests).
    pub sessions: AtomicU64,
    /// Final transcripts sent (speech-to-text).
    pub finals: AtomicU64,
    /// Flushes answered with audio (text-to-speech).
    pub flushes: AtomicU64,
    /// Clears (text-to-speech).
    pub clears: AtomicU64,
    /// Requests or upgrades refused (bad key, bad body).
    pub rejected: AtomicU64,
}

impl Counters {
    /// Adds one to `counter` (one of a `Counters`' fields).
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The value of `counter` now.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// State shared by every handler of one simulator.
#[derive(Debug)]
pub struct SimState<C> {
    /// The simulator's settings.
    pub config: C,
    /// The key clients must present.
    pub api_key: String,
    /// What it saw.
    pub counters: Arc<Counters>,
    /// Cancelled: every open session ends.
    pub cancel: CancellationToken,
}

impl<C> SimState<C> {
    /// A simulator with fresh counters.
    pub fn new(config: C, api_key: &str, cancel: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            config,
            api_key: api_key.to_owned(),
            counters: Arc::default(),
            cancel,
        })
    }

    /// Whether header `name` is exactly `<scheme> <api_key>` (no scheme: exactly the key); a
    /// refusal is counted.
    pub fn authorized_by(&self, headers: &HeaderMap, name: &str, scheme: Option<&str>) -> bool {
        let value = headers.get(name).and_then(|v| v.to_str().ok());
        let key = match scheme {
            Some(scheme) => value
                .and_then(|v| v.strip_prefix(scheme))
                .and_then(|v| v.strip_prefix(' ')),
            None => value,
        };
        let ok = key.is_some_and(|key| key == self.api_key);
        if !ok {
            Counters::bump(&self.counters.rejected);
        }
        ok
    }

    /// Whether `Authorization` is exactly `<scheme> <api_key>`.
    pub fn authorized(&self, headers: &HeaderMap, scheme: &str) -> bool {
        self.authorized_by(headers, AUTHORIZATION.as_str(), Some(scheme))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_sizes_frames_and_gaps() {
        let pacing = TtsPacing {
            time_to_first_audio: Duration::ZERO,
            ms_per_char: 10,
            speed: 2.0,
            chunk: Duration::from_millis(100),
        };
        assert_eq!(pacing.audio_bytes_for("Hi. "), 320);
        assert_eq!(pacing.chunk_bytes(8000), 800);
        assert_eq!(pacing.chunk_bytes(500), 500);
        assert_eq!(pacing.chunk_gap(), Duration::from_millis(50));
        let flat_out = TtsPacing {
            speed: 0.0,
            chunk: Duration::from_millis(5),
            ..pacing
        };
        assert_eq!(flat_out.chunk_gap(), Duration::ZERO);
        assert_eq!(flat_out.chunk_bytes(8000), 160);
    }

    #[test]
    fn the_key_check_takes_the_exact_key_and_counts_refusals() {
        let sim = SimState::new((), "k1", CancellationToken::new());
        let mut headers = HeaderMap::new();
        assert!(!sim.authorized(&headers, "Token"));
        headers.insert(AUTHORIZATION, "Token k1".parse().unwrap());
        assert!(sim.authorized(&headers, "Token"));
        assert!(!sim.authorized(&headers, "Bearer"));
        headers.insert(AUTHORIZATION, "Token k12".parse().unwrap());
        assert!(!sim.authorized(&headers, "Token"));
        headers.insert("xi-api-key", "k1".parse().unwrap());
        assert!(sim.authorized_by(&headers, "xi-api-key", None));
        assert_eq!(Counters::get(&sim.counters.rejected), 3);
    }
}
