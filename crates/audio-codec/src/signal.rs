//! Test and simulator signals: a voice-like μ-law waveform and a fast loudness measure, for
//! simulated callers and simulated speech vendors that must sound like speech to an energy test.

use std::f64::consts::TAU;

use crate::mulaw::{SAMPLE_RATE_HZ, decode_mulaw_sample, encode_mulaw_sample};

/// One second of a voice-like signal as 8 kHz μ-law: a 140 Hz fundamental with a few harmonics,
/// shaped by a 4 Hz syllable envelope that never drops below 60 %, so every 20 ms frame is
/// clearly voiced.
pub fn voice_pattern() -> Vec<u8> {
    let rate = f64::from(SAMPLE_RATE_HZ);
    (0..SAMPLE_RATE_HZ)
        .map(|n| {
            let t = f64::from(n) / rate;
            let f0 = 140.0;
            let wave = (TAU * f0 * t).sin()
                + 0.5 * (TAU * 2.0 * f0 * t).sin()
                + 0.3 * (TAU * 3.0 * f0 * t + 0.5).sin()
                + 0.2 * (TAU * 5.0 * f0 * t + 1.0).sin();
            let envelope = 0.6 + 0.4 * (TAU * 4.0 * t).sin().abs();
            // `wave` stays within ±2.0, so this stays well inside i16.
            encode_mulaw_sample((wave / 2.0 * envelope * 12_000.0) as i16)
        })
        .collect()
}

/// Mean absolute linear amplitude of a μ-law buffer (0 for an empty one). A table lookup per
/// byte: simulators measure every frame of every call with it.
pub fn mean_abs_mulaw(mulaw: &[u8]) -> u32 {
    if mulaw.is_empty() {
        return 0;
    }
    let table = abs_table();
    let total: u64 = mulaw
        .iter()
        .map(|&code| u64::from(table[usize::from(code)]))
        .sum();
    u32::try_from(total / mulaw.len() as u64).unwrap_or(u32::MAX)
}

/// |linear value| of every μ-law code, built once.
fn abs_table() -> &'static [u16; 256] {
    static TABLE: std::sync::OnceLock<[u16; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|code| decode_mulaw_sample(code as u8).unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mulaw::{FRAME_BYTES, MULAW_SILENCE};

    #[test]
    fn every_voice_frame_is_loud_and_silence_is_zero() {
        let pattern = voice_pattern();
        assert_eq!(pattern.len(), SAMPLE_RATE_HZ as usize);
        let quietest = pattern
            .chunks(FRAME_BYTES)
            .map(mean_abs_mulaw)
            .min()
            .unwrap();
        assert!(quietest > 1_500, "quietest voice frame: {quietest}");
        assert_eq!(mean_abs_mulaw(&[MULAW_SILENCE; FRAME_BYTES]), 0);
        assert_eq!(mean_abs_mulaw(&[]), 0);
    }
}
