//! `ReplayTts`: a `TextToSpeech` that speaks each text for as long as the capture says it took.
//!
//! # Script format
//!
//! A queue of `(text, bytes)` in the order the texts were sent to TTS in the recording. A
//! `Text(t)` takes the first queued entry with the same text (dropping the entries before it) and
//! produces that many bytes of μ-law; a text the recording does not have gets `per_char` bytes per
//! character. The capture does not tie audio to texts, but the pipeline's mark names carry
//! `turn:group:bytes`, so a turn's total audio is exact; it is shared among the turn's texts by
//! their length (`lengths_from_capture`).
//!
//! The audio is a soft 200 Hz hum with a syllable-rate swell (pleasanter in the WAV than a test
//! tone), in 20 ms chunks: in real time, the first 100 ms after the text and the rest every 10 ms
//! (twice real time, like a vendor); with `fast`, at once. `Flush` is answered with `Flushed` once
//! the audio queued before it was delivered; `Clear` drops what is undelivered and answers
//! `Cleared`; `Close` (or dropping every handle) ends the session with `Closed`.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use providers::{
    ProviderError, TextToSpeech, TtsCommand, TtsEvent, TtsHandle, TtsOptions, TtsSession,
};
use tokio::{sync::mpsc, time::Instant};

use super::capture::Line;

/// One 20 ms chunk.
const CHUNK: usize = 160;

/// A text-to-speech that replays recorded audio lengths (see the module docs).
#[derive(Clone)]
pub(crate) struct ReplayTts {
    lengths: Arc<Mutex<VecDeque<(String, usize)>>>,
    per_char: usize,
    fast: bool,
    hum: Arc<[u8]>,
}

impl ReplayTts {
    /// `lengths` in recorded order; `per_char` bytes per character for anything else.
    pub(crate) fn new(lengths: Vec<(String, usize)>, per_char: usize, fast: bool) -> Self {
        Self {
            lengths: Arc::new(Mutex::new(lengths.into())),
            per_char,
            fast,
            hum: hum().into(),
        }
    }

    fn audio_len(&self, text: &str) -> usize {
        let mut lengths = self
            .lengths
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(pos) = lengths.iter().position(|(t, _)| t == text) {
            let (_, bytes) = lengths.drain(..=pos).next_back().unwrap_or_default();
            return bytes;
        }
        text.chars().count() * self.per_char
    }
}

/// Two seconds of the agent's "voice": 200 Hz with a 4 Hz swell, as μ-law.
fn hum() -> Vec<u8> {
    let samples: Vec<i16> = (0..16_000)
        .map(|i| {
            let t = f64::from(i) / 8000.0;
            let swell = 0.55 + 0.45 * (std::f64::consts::TAU * 4.0 * t).sin();
            (4000.0 * swell * (std::f64::consts::TAU * 200.0 * t).sin()) as i16
        })
        .collect();
    let mut mulaw = Vec::new();
    audio_codec::encode_mulaw(&samples, &mut mulaw);
    mulaw
}

/// Each recorded text with its share of its turn's audio, from the `turn:group:bytes` mark names
/// and `tts_text` lines of a capture. Turns without marks are left out.
pub(crate) fn lengths_from_capture(lines: &[Line]) -> Vec<(String, usize)> {
    let mut group_bytes: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut texts: Vec<(u64, String)> = Vec::new();
    for line in lines {
        match line.kind.as_str() {
            "twilio_out" if line.str("event") == "mark" => {
                let name = line
                    .value
                    .pointer("/detail/name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("");
                let mut parts = name.split(':').map(str::parse::<u64>);
                if let (Some(Ok(turn)), Some(Ok(group)), Some(Ok(bytes)), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                {
                    let entry = group_bytes.entry((turn, group)).or_default();
                    *entry = (*entry).max(bytes as usize);
                }
            }
            "tts_text" => {
                let turn = line
                    .value
                    .get("turn")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                texts.push((turn, line.str("text").to_owned()));
            }
            _ => {}
        }
    }
    let mut turn_bytes: BTreeMap<u64, usize> = BTreeMap::new();
    for ((turn, _), bytes) in group_bytes {
        *turn_bytes.entry(turn).or_default() += bytes;
    }
    let mut turn_chars: BTreeMap<u64, usize> = BTreeMap::new();
    for (turn, text) in &texts {
        *turn_chars.entry(*turn).or_default() += text.chars().count();
    }
    // Whole frames per text, the turn's last text taking the rest: no padding in the pipeline's
    // framer, so the turn's audio comes out exactly as long as recorded.
    let mut last_of_turn: BTreeMap<u64, usize> = BTreeMap::new();
    for (idx, (turn, _)) in texts.iter().enumerate() {
        last_of_turn.insert(*turn, idx);
    }
    let mut given: BTreeMap<u64, usize> = BTreeMap::new();
    let mut lengths = Vec::new();
    for (idx, (turn, text)) in texts.into_iter().enumerate() {
        let (Some(&bytes), Some(&chars)) = (turn_bytes.get(&turn), turn_chars.get(&turn)) else {
            continue;
        };
        let so_far = given.entry(turn).or_default();
        let share = if last_of_turn.get(&turn) == Some(&idx) {
            bytes.saturating_sub(*so_far)
        } else {
            (bytes * text.chars().count() / chars.max(1)) / CHUNK * CHUNK
        };
        *so_far += share;
        lengths.push((text, share));
    }
    lengths
}

#[async_trait]
impl TextToSpeech for ReplayTts {
    async fn connect(&self, _options: TtsOptions) -> Result<TtsSession, ProviderError> {
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (events_tx, events_rx) = mpsc::channel(256);
        Ok(TtsSession {
            handle: TtsHandle::new(commands_tx),
            events: events_rx,
            driver: synthesize(self.clone(), commands_rx, events_tx).boxed(),
        })
    }

    fn name(&self) -> &'static str {
        "replay"
    }
}

enum Pending {
    Audio(Bytes),
    Flushed,
}

async fn synthesize(
    tts: ReplayTts,
    mut commands_rx: mpsc::Receiver<TtsCommand>,
    events_tx: mpsc::Sender<TtsEvent>,
) {
    let (first_delay, interval) = if tts.fast {
        (Duration::ZERO, Duration::ZERO)
    } else {
        (Duration::from_millis(100), Duration::from_millis(10))
    };
    let mut queue: VecDeque<Pending> = VecDeque::new();
    let mut next_audio_at = Instant::now();
    let mut hum_pos = 0;
    loop {
        while let Some(front) = queue.front() {
            let event = match front {
                Pending::Flushed => TtsEvent::Flushed {
                    at: std::time::Instant::now(),
                },
                Pending::Audio(_) if Instant::now() < next_audio_at => break,
                Pending::Audio(chunk) => {
                    next_audio_at = Instant::now() + interval;
                    TtsEvent::Audio {
                        mulaw: chunk.clone(),
                        at: std::time::Instant::now(),
                    }
                }
            };
            queue.pop_front();
            if events_tx.send(event).await.is_err() {
                return;
            }
        }
        let command = tokio::select! {
            biased;
            command = commands_rx.recv() => command,
            () = tokio::time::sleep_until(next_audio_at), if !queue.is_empty() => continue,
        };
        match command {
            Some(TtsCommand::Text(text)) => {
                if !queue.iter().any(|p| matches!(p, Pending::Audio(_))) {
                    next_audio_at = Instant::now() + first_delay;
                }
                let len = tts.audio_len(&text);
                let audio: Vec<u8> = (0..len)
                    .map(|i| tts.hum[(hum_pos + i) % tts.hum.len()])
                    .collect();
                hum_pos = (hum_pos + len) % tts.hum.len();
                let audio = Bytes::from(audio);
                for start in (0..audio.len()).step_by(CHUNK) {
                    let end = (start + CHUNK).min(audio.len());
                    queue.push_back(Pending::Audio(audio.slice(start..end)));
                }
            }
            Some(TtsCommand::Flush) => queue.push_back(Pending::Flushed),
            Some(TtsCommand::Clear) => {
                queue.clear();
                let cleared = TtsEvent::Cleared {
                    at: std::time::Instant::now(),
                };
                if events_tx.send(cleared).await.is_err() {
                    return;
                }
            }
            Some(TtsCommand::Close) | None => {
                let _ = events_tx
                    .send(TtsEvent::Closed {
                        at: std::time::Instant::now(),
                    })
                    .await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::capture::parse_capture;

    #[test]
    fn a_turns_marked_audio_is_shared_among_its_texts_in_whole_frames() {
        let capture = r#"{"kind":"tts_text","t_ms":1,"turn":1,"text":"Hello there."}
{"kind":"tts_text","t_ms":1,"turn":1,"text":"Hi."}
{"kind":"twilio_out","t_ms":2,"event":"mark","detail":{"name":"1:0:4000"}}
{"kind":"twilio_out","t_ms":3,"event":"mark","detail":{"name":"1:0:5000"}}
{"kind":"twilio_out","t_ms":3,"event":"mark","detail":{"name":"1:1:1000"}}
{"kind":"tts_text","t_ms":4,"turn":3,"text":"Ab."}
{"kind":"tts_text","t_ms":4,"turn":3,"text":"Abc."}
{"kind":"twilio_out","t_ms":5,"event":"mark","detail":{"name":"3:0:1000"}}
{"kind":"tts_text","t_ms":4,"turn":2,"text":"Unmarked."}"#;
        let lines = parse_capture(capture).unwrap();
        assert_eq!(
            lengths_from_capture(&lines),
            vec![
                ("Hello there.".to_owned(), 4800),
                ("Hi.".to_owned(), 1200),
                // 1000 * 3 / 7 = 428, whole frames: 320; the rest to the last text.
                ("Ab.".to_owned(), 320),
                ("Abc.".to_owned(), 680),
            ]
        );
    }

    #[test]
    fn texts_take_their_recorded_length_in_order_and_others_the_rate() {
        let tts = ReplayTts::new(
            vec![
                ("a".to_owned(), 100),
                ("b".to_owned(), 200),
                ("a".to_owned(), 300),
            ],
            8,
            true,
        );
        assert_eq!(tts.audio_len("b"), 200);
        assert_eq!(tts.audio_len("a"), 300);
        assert_eq!(tts.audio_len("a"), 8);
        assert_eq!(tts.audio_len("four"), 32);
    }
}
