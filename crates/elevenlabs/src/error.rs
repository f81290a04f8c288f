//! The crate's error type.

/// What failed in this crate, outside a session (sessions report `providers::ProviderError`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Required settings were not given (all of them are listed at once).
    #[error("missing settings: {}", names.join(", "))]
    MissingSettings {
        /// The environment-style names (`ELEVENLABS_API_KEY`, ...).
        names: Vec<&'static str>,
    },
    /// A setting has a value we cannot use.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// The setting.
        name: &'static str,
        /// Why it is unusable.
        reason: String,
    },
    /// A server frame we could not read (not JSON, bad base64, wrong types).
    #[error("malformed server message: {reason}")]
    Malformed {
        /// What was wrong.
        reason: String,
    },
}
