//! What every simulated vendor server shares (cargo feature `sim`; the gateway's own build does
//! not enable it): its state (settings, the key it expects, its counters, the token that ends its
//! sessions) and the key check. The servers themselves live with their protocols:
//! `deepgram::sim::{listen, speak}`, `openai::sim::server`, `elevenlabs::sim`.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::http::{HeaderMap, header::AUTHORIZATION};
use tokio_util::sync::CancellationToken;

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
