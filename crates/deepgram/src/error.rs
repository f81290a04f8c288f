//! The crate's own error: building a configuration from settings.
//!
//! Session errors use the shared `providers::ProviderError`, because they cross the trait boundary.

/// What went wrong building a Deepgram configuration from settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A setting was present but could not be used.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// The environment variable name.
        name: &'static str,
        /// Why it was rejected.
        reason: String,
    },
}
