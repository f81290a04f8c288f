//! The crate's error type.

/// What failed in this crate, outside a session (sessions report `providers::ProviderError`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
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
