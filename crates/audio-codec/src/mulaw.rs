//! G.711 μ-law over slices, and the constants of Twilio's 8 kHz / 20 ms framing.
//!
//! Both directions delegate to `audio-codec-algorithms`, whose decoder is already a static
//! 256-entry table (the ITU G.191 values) and whose encoder is the ITU G.191 `ulaw_compress`
//! variant (one's complement of negative inputs before the shift by two).
//! On the few negative inputs where G.711 encoders disagree (docs/protocols.md section 9.3)
//! this gives the ITU column, e.g. -4 -> `0x7F`, -100 -> `0x73`, -31612 -> `0x01`;
//! the result is always within one quantization step of the other variants.

#[cfg(test)]
mod tests;

use std::time::Duration;

use audio_codec_algorithms::{decode_ulaw, encode_ulaw};

/// Sample rate of telephone μ-law audio (Twilio Media Streams), in hertz.
pub const SAMPLE_RATE_HZ: u32 = 8000;

/// Length of one Media Streams frame.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);

/// Bytes (= samples, one byte each) in one 20 ms μ-law frame at 8 kHz.
pub const FRAME_BYTES: usize = 160;

/// The μ-law byte that decodes to 0 and that encoders produce for 0; fill silence with it.
///
/// `0x7F` also decodes to 0 ("negative zero"), but `0x00` is the loudest negative value.
pub const MULAW_SILENCE: u8 = 0xFF;

/// Decodes one μ-law byte to a 16-bit linear sample (range ±32124).
#[inline]
pub fn decode_mulaw_sample(mulaw: u8) -> i16 {
    decode_ulaw(mulaw)
}

/// Encodes one 16-bit linear sample to μ-law (ITU G.191 variant, see the module docs).
#[inline]
pub fn encode_mulaw_sample(linear: i16) -> u8 {
    encode_ulaw(linear)
}

/// Decodes μ-law bytes, appending one linear sample per byte to `out`.
///
/// `out` is appended to, not cleared, so one buffer can collect several frames;
/// it only allocates when its capacity is exceeded.
pub fn decode_mulaw(mulaw: &[u8], out: &mut Vec<i16>) {
    out.extend(mulaw.iter().map(|&byte| decode_ulaw(byte)));
}

/// Encodes linear samples, appending one μ-law byte per sample to `out`.
///
/// `out` is appended to, not cleared; it only allocates when its capacity is exceeded.
pub fn encode_mulaw(linear: &[i16], out: &mut Vec<u8>) {
    out.extend(linear.iter().map(|&sample| encode_ulaw(sample)));
}
