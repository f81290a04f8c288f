//! Caller and agent audio for the bench: a voice-like μ-law pattern, silence, and the energy test
//! the STT simulator uses to find speech segments.

use std::f64::consts::TAU;

use audio_codec_algorithms::{decode_ulaw, encode_ulaw};
use bytes::Bytes;

/// Bytes in one 20 ms Twilio frame (8 kHz μ-law, one byte per sample).
pub(crate) const FRAME_BYTES: usize = 160;
/// Samples (and μ-law bytes) per second.
pub(crate) const BYTES_PER_SECOND: usize = 8000;
/// μ-law code for digital silence (decodes to 0).
pub(crate) const SILENCE_CODE: u8 = 0xFF;

/// One second of a voice-like signal: a 140 Hz fundamental with a few harmonics, shaped by a 4 Hz
/// syllable envelope that never drops below 60 %, so every 20 ms frame is clearly voiced.
pub(crate) fn voice_pattern() -> Bytes {
    let samples: Vec<u8> = (0..BYTES_PER_SECOND)
        .map(|n| {
            let t = n as f64 / BYTES_PER_SECOND as f64;
            let f0 = 140.0;
            let wave = (TAU * f0 * t).sin()
                + 0.5 * (TAU * 2.0 * f0 * t).sin()
                + 0.3 * (TAU * 3.0 * f0 * t + 0.5).sin()
                + 0.2 * (TAU * 5.0 * f0 * t + 1.0).sin();
            let envelope = 0.6 + 0.4 * (TAU * 4.0 * t).sin().abs();
            // `wave` stays within ±2.0, so this stays well inside i16.
            encode_ulaw((wave / 2.0 * envelope * 12_000.0) as i16)
        })
        .collect();
    Bytes::from(samples)
}

/// One 20 ms frame of silence.
pub(crate) fn silence_frame() -> Bytes {
    Bytes::from_static(&[SILENCE_CODE; FRAME_BYTES])
}

/// The `index`th 20 ms frame of `pattern`, wrapping around.
pub(crate) fn frame_of(pattern: &Bytes, index: usize) -> Bytes {
    let frames = (pattern.len() / FRAME_BYTES).max(1);
    let start = (index % frames) * FRAME_BYTES;
    pattern.slice(start..(start + FRAME_BYTES).min(pattern.len()))
}

/// Mean absolute linear amplitude of a μ-law buffer (0 for an empty one).
pub(crate) fn mean_abs(mulaw: &[u8]) -> u32 {
    if mulaw.is_empty() {
        return 0;
    }
    let table = abs_table();
    let total: u64 = mulaw
        .iter()
        .map(|&code| u64::from(table[code as usize]))
        .sum();
    (total / mulaw.len() as u64) as u32
}

/// |linear value| of every μ-law code, built once: the STT simulator measures every frame of
/// every call.
fn abs_table() -> &'static [u16; 256] {
    static TABLE: std::sync::OnceLock<[u16; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|code| decode_ulaw(code as u8).unsigned_abs()))
}

/// The duration of `bytes` of 8 kHz μ-law audio, in seconds.
pub(crate) fn seconds_of(bytes: u64) -> f64 {
    bytes as f64 / BYTES_PER_SECOND as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_voice_frame_is_loud_and_silence_is_zero() {
        let pattern = voice_pattern();
        assert_eq!(pattern.len(), BYTES_PER_SECOND);
        let quietest = (0..50)
            .map(|i| mean_abs(&frame_of(&pattern, i)))
            .min()
            .unwrap();
        assert!(quietest > 1_500, "quietest voice frame: {quietest}");
        assert_eq!(mean_abs(&silence_frame()), 0);
        assert_eq!(mean_abs(&[]), 0);
    }

    #[test]
    fn frames_wrap_around_the_pattern() {
        let pattern = voice_pattern();
        assert_eq!(frame_of(&pattern, 0), frame_of(&pattern, 50));
        assert_eq!(frame_of(&pattern, 3).len(), FRAME_BYTES);
    }
}
