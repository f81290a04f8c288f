//! The crate's error type.

/// Why a session store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionStoreError {
    /// The call SID is not 1 to 64 ASCII letters, digits, `-` or `_`.
    #[error("invalid call sid: {reason}")]
    InvalidCallSid {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `SessionStoreConfig` value is out of range.
    #[error("invalid session store config: {reason}")]
    InvalidConfig {
        /// Which value and why.
        reason: &'static str,
    },
    /// The Redis URL could not be parsed (the URL itself is not included: it may hold a password).
    #[error("invalid redis url")]
    InvalidUrl {
        /// The parser's complaint.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Redis could not be reached at startup within the connect timeout.
    #[error("could not connect to redis")]
    Connect {
        /// The connection error, when there was one before the timeout.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Redis did not answer a read within the per-operation timeout, or is known to be down, and
    /// the outage buffer cannot answer it. Writes never fail this way: they are buffered.
    #[error("session store unavailable during {op}")]
    Unavailable {
        /// The operation (`get_session`, `list_active`, `ping`, ...).
        op: &'static str,
        /// The underlying error, absent when the store already knew Redis was down.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Redis is down and the outage buffer already holds `capacity` other calls: this call's write
    /// was dropped. Calls already in the buffer keep merging their writes.
    #[error("session outage buffer full ({capacity} calls); write dropped")]
    BufferFull {
        /// The configured `max_buffered_calls`.
        capacity: usize,
    },
    /// Redis rejected a command for a reason that retrying will not fix (a script or protocol
    /// error).
    #[error("redis rejected {op}")]
    Rejected {
        /// The operation.
        op: &'static str,
        /// Redis' or the client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored field is not valid JSON (someone else wrote the key).
    #[error("stored session field {field:?} is not valid json")]
    CorruptField {
        /// The hash field.
        field: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// `shutdown` could not write everything the outage buffer held.
    #[error("{n_calls} buffered sessions were not written before shutdown")]
    Unflushed {
        /// How many calls' writes were lost.
        n_calls: usize,
    },
    /// The store was shut down; it takes no more operations.
    #[error("session store is shut down ({op})")]
    Closed {
        /// The operation that was refused.
        op: &'static str,
    },
}

impl SessionStoreError {
    /// Whether trying the same operation later may succeed (the backend was unreachable, slow or
    /// full), as opposed to a bad argument or bad data.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Unavailable { .. } | Self::BufferFull { .. }
        )
    }
}
