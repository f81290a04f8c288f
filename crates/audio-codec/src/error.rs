//! The crate's single error type.

/// What went wrong in an audio conversion.
///
/// Every variant is plain data: none of them carries a type from `rubato` or `hound`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sample rate was zero, or rubato refused the conversion between the two rates.
    #[error("cannot resample from {from_hz} Hz to {to_hz} Hz: {reason}")]
    Resample {
        /// Input sample rate.
        from_hz: u32,
        /// Output sample rate.
        to_hz: u32,
        /// Why, in words.
        reason: String,
    },
    /// An `EnergyVadConfig` that cannot work (for example a stop threshold above the start one).
    #[error("invalid energy vad config: {reason}")]
    InvalidVadConfig {
        /// Which constraint was broken.
        reason: &'static str,
    },
    /// The reader or writer given for a WAV file failed.
    #[error("wav io failed")]
    WavIo(#[source] std::io::Error),
    /// The bytes are not a well-formed WAV file.
    #[error("malformed wav: {reason}")]
    WavMalformed {
        /// What the parser objected to.
        reason: String,
    },
    /// A well-formed WAV file in a format we do not read (only 16-bit integer PCM is read).
    #[error("unsupported wav format: {bits_per_sample}-bit {sample_format}, {channels} channel(s)")]
    WavUnsupported {
        /// Bits per sample in the file.
        bits_per_sample: u16,
        /// `"int"` or `"float"`.
        sample_format: &'static str,
        /// Channel count in the file.
        channels: u16,
    },
}
