//! Caller audio for the bench: the voice-like μ-law pattern (`audio_codec::voice_pattern`) in
//! 20 ms frames, and silence.

use bytes::Bytes;

/// Bytes in one 20 ms Twilio frame (8 kHz μ-law, one byte per sample).
pub(crate) const FRAME_BYTES: usize = 160;
/// μ-law code for digital silence (decodes to 0).
pub(crate) const SILENCE_CODE: u8 = 0xFF;

/// One second of `audio_codec::voice_pattern`, the voice-like signal every frame of which is
/// clearly voiced.
pub(crate) fn voice_pattern() -> Bytes {
    Bytes::from(audio_codec::voice_pattern())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_wrap_around_the_pattern() {
        let pattern = voice_pattern();
        assert_eq!(frame_of(&pattern, 0), frame_of(&pattern, 50));
        assert_eq!(frame_of(&pattern, 3).len(), FRAME_BYTES);
    }
}
