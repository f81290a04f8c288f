//! The error vocabulary shared by every provider.

use std::time::Duration;

/// What went wrong talking to a provider. Vendor crates map their transport errors into this, so
/// callers never see `reqwest` or `tungstenite` types.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ProviderError {
    /// Could not open a connection (DNS, TCP, TLS, WebSocket handshake refused).
    #[error("connect failed: {0}")]
    Connect(String),
    /// The provider did not answer in time (connect, first token, first audio, idle socket).
    #[error("timed out: {0}")]
    Timeout(String),
    /// HTTP 429 or a vendor rate-limit message; `retry_after` when the vendor said how long to wait.
    #[error("rate limited (retry after {retry_after:?})")]
    RateLimited {
        /// The vendor's `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// An HTTP status the vendor answered with (4xx other than 429, or 5xx).
    #[error("http status {status}: {message}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// The vendor's error message, if any.
        message: String,
    },
    /// Authentication was refused (401/403, or a WebSocket close for bad credentials).
    #[error("authentication refused: {0}")]
    Auth(String),
    /// The vendor sent something we could not parse or that breaks the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An error the vendor reported in-band (an `error` SSE event, an `Error` WebSocket message).
    #[error("vendor error: {0}")]
    Vendor(String),
    /// The session is closed (the socket went away and will not come back, or `close` was called).
    #[error("session closed")]
    Closed,
}

impl ProviderError {
    /// Whether trying the same request again (after a backoff) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect(_) | Self::Timeout(_) | Self::RateLimited { .. } => true,
            Self::Http { status, .. } => *status >= 500 || *status == 408,
            Self::Auth(_) | Self::Protocol(_) | Self::Vendor(_) | Self::Closed => false,
        }
    }
}
