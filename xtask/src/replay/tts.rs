//! The replay's voice: `providers::fake::FakeTts` with the recording's audio lengths
//! (`RecordedLengths`), so each text plays for as long as the capture says it took, and a hum for
//! a waveform.
//!
//! The capture does not tie audio to texts, but the pipeline's mark names carry
//! `turn:group:bytes`, so a turn's total audio is exact; it is shared among the turn's texts by
//! their length (`lengths_from_capture`). A text the recording does not have gets the capture's
//! rate per character.
//!
//! The audio is a soft 200 Hz hum with a syllable-rate swell (pleasanter in the WAV than a test
//! tone), in 20 ms chunks: in real time, the first 100 ms after the text and the rest every 10 ms
//! (twice real time, like a vendor); with `fast`, at once.

use std::{collections::BTreeMap, time::Duration};

use providers::fake::{FakeTts, FakeTtsConfig, RecordedLengths};

use super::capture::Line;

/// One 20 ms chunk.
const CHUNK: usize = 160;

/// The replay's text-to-speech: `ms_per_char` for texts the recording lacks, `lengths` (in
/// recorded order) for the others; with `fast`, audio comes at once.
pub(crate) fn replay_tts(lengths: Vec<(String, usize)>, ms_per_char: u64, fast: bool) -> FakeTts {
    let (first_chunk_delay, chunk_interval) = if fast {
        (Duration::ZERO, Duration::ZERO)
    } else {
        (Duration::from_millis(100), Duration::from_millis(10))
    };
    FakeTts::new(FakeTtsConfig {
        audio_per_char: Duration::from_millis(ms_per_char),
        chunk_len: Duration::from_millis(20),
        first_chunk_delay,
        chunk_interval,
        recorded_lengths: Some(RecordedLengths::new(lengths)),
        voice: Some(hum().into()),
        ..FakeTtsConfig::default()
    })
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
}
