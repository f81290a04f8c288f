//! Per-call session state: the `SessionStore` trait with a Redis backend (on `fred`) and an
//! in-memory backend with the same semantics.
//!
//! A session is a JSON object (`SessionFields`) keyed by the Twilio call SID. The pipeline holds an
//! `Arc<dyn SessionStore>` and uses the seed's operations: `set_session` when a call starts,
//! `update_session` (a top-level merge) after each turn and at the end, `get_session`,
//! `delete_session` and `list_active`. The field names the seed writes are constants in `fields`.
//! Gateways sharing a store also report themselves there (`publish_instance`, `list_instances`)
//! for the fleet-wide view.
//!
//! Backends: `RedisSessionStore` (one hash per call, atomic merge plus TTL, a bounded outage buffer
//! that replays writes when Redis comes back; a single node, Sentinel or a Redis Cluster, a call's
//! keys in one hash slot) and `MemorySessionStore` (the default when no Redis
//! URL is configured). `connect` picks one from an optional URL. Both are configured by
//! `SessionStoreConfig` and fail with `SessionStoreError`.
//!
//! Cargo feature `redis` (on by default) brings the Redis backend, `connect` and `fred`. The call
//! pipeline uses the crate without it (the trait, its data and errors, and the in-memory store);
//! the binary turns it on.
//!
//! Must not depend on: other workspace crates, axum, sea-orm, or the process environment.

mod config;
mod error;
mod memory;
mod pending;
#[cfg(feature = "redis")]
mod redis;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

pub use config::SessionStoreConfig;
pub use error::SessionStoreError;
pub use memory::MemorySessionStore;
#[cfg(feature = "redis")]
pub use redis::{BufferStatus, RedisSessionStore};

/// The fields of one call's session: a JSON object whose top-level keys are merged independently.
pub type SessionFields = serde_json::Map<String, Value>;

/// Field names the call pipeline writes (the seed's session layout).
///
/// The store does not require any of them; only `STATUS` has a meaning to it (see
/// `TERMINAL_STATUSES`).
pub mod fields {
    /// Twilio Media Stream SID of the call (string), written by `set_session` at start.
    pub const STREAM_SID: &str = "stream_sid";
    /// Caller's phone number (string), written at start.
    pub const CALLER_PHONE: &str = "caller_phone";
    /// RFC 3339 UTC timestamp of the call start (string).
    pub const STARTED_AT: &str = "started_at";
    /// The LLM message history (array of messages), rewritten after each turn and at the end.
    pub const CONVERSATION_HISTORY: &str = "conversation_history";
    /// RFC 3339 UTC timestamp of the latest per-turn update (string).
    pub const LAST_UPDATED: &str = "last_updated";
    /// The conversation state machine summary after the latest turn (object).
    pub const CONVERSATION_STATE: &str = "conversation_state";
    /// RFC 3339 UTC timestamp of the call end (string), written by the final update.
    pub const ENDED_AT: &str = "ended_at";
    /// LLM token usage of the whole call (number or object), written by the final update.
    pub const TOTAL_TOKENS: &str = "total_tokens";
    /// Call status (string); a value in `TERMINAL_STATUSES` takes the call out of `list_active`.
    pub const STATUS: &str = "status";
    /// Final conversation summary (object: call type, state, intent, turn count, slots, ...).
    pub const CONVERSATION_SUMMARY: &str = "conversation_summary";
    /// What another gateway needs to resume the conversation (object), rewritten after each
    /// turn: `conversation::ConversationSnapshot`.
    pub const CONVERSATION_SNAPSHOT: &str = "conversation_snapshot";
    /// Whether the call was escalated to a human (bool).
    pub const ESCALATION_TRIGGERED: &str = "escalation_triggered";
    /// Why the call was escalated (string), present only when it was.
    pub const ESCALATION_REASON: &str = "escalation_reason";
}

/// Values of the `status` field that end a call's membership in `list_active`.
///
/// Rule for `list_active`: a call is active from its first write until its stored `status` is one
/// of these strings, its session is deleted, or its TTL expires. A later write that leaves `status`
/// unchanged (say, a late history update) does not make an ended call active again.
pub const TERMINAL_STATUSES: &[&str] = &["completed", "ended", "failed", "canceled", "cancelled"];

/// Where sessions live; shared by every call as `Arc<dyn SessionStore>`.
///
/// Writes refresh the session's TTL. A session with no fields does not exist: `set_session` with an
/// empty object is the same as `delete_session`. Call SIDs must be 1 to 64 ASCII letters, digits,
/// `-` or `_` (Twilio's are `CA` plus 32 hex digits), so that they can never collide with the
/// store's own keys.
#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Replaces the whole session of `call_sid` with `fields` (the seed's `set_session`, used when
    /// a call starts).
    async fn set_session(
        &self,
        call_sid: &str,
        fields: SessionFields,
    ) -> Result<(), SessionStoreError>;

    /// Merges `fields` into the session of `call_sid`: each top-level field given replaces the
    /// stored one (nested objects are replaced whole, not deep-merged) and the other stored
    /// fields stay. Creates the session when there is none.
    async fn update_session(
        &self,
        call_sid: &str,
        fields: SessionFields,
    ) -> Result<(), SessionStoreError>;

    /// Reads the session of `call_sid`; `None` when there is none or it expired.
    async fn get_session(&self, call_sid: &str)
    -> Result<Option<SessionFields>, SessionStoreError>;

    /// Removes the session of `call_sid` and its entry in the active set. Deleting a missing
    /// session is not an error.
    async fn delete_session(&self, call_sid: &str) -> Result<(), SessionStoreError>;

    /// Call SIDs of the active calls (see `TERMINAL_STATUSES` for the rule), sorted.
    async fn list_active(&self) -> Result<Vec<String>, SessionStoreError>;

    /// Readiness check: `Ok` when the backend answers within the per-operation timeout.
    async fn ping(&self) -> Result<(), SessionStoreError>;

    /// Claims `key` for `owner` for `ttl` if nobody holds it (Redis `SET NX PX`): `true` when
    /// this caller now holds it, `false` when someone else does. A claim is shared by every
    /// gateway on the same Redis; it is how a stream token is used once and how at most one
    /// stream runs per call across instances. Keys follow the call-SID rule. Never buffered: an
    /// unreachable Redis is an error, and the caller decides how to degrade.
    async fn claim(&self, key: &str, owner: &str, ttl: Duration)
    -> Result<bool, SessionStoreError>;

    /// Releases `key` if `owner` still holds it (compare and delete); otherwise does nothing.
    async fn release(&self, key: &str, owner: &str) -> Result<(), SessionStoreError>;

    /// Who holds `key` now (the `owner` its claim was made with), if anyone.
    ///
    /// A claim is also how a webhook leaves a one-time signal for the call it concerns, on
    /// whichever instance runs that call: the first `claim` of the key sets the value, later
    /// ones change nothing, and the call reads it here (`call_pipeline::signals`).
    async fn claim_holder(&self, key: &str) -> Result<Option<String>, SessionStoreError>;

    /// Publishes what instance `instance` reports about itself (its calls, capacity, whether
    /// it drains), replacing its previous report; the report vanishes `ttl` after this unless
    /// published again. The fleet-wide view: every gateway on the same Redis sees every other.
    /// `instance` follows the call-SID rule.
    async fn publish_instance(
        &self,
        instance: &str,
        report: Value,
        ttl: Duration,
    ) -> Result<(), SessionStoreError>;

    /// Every instance report that has not expired, by instance, sorted.
    async fn list_instances(&self) -> Result<Vec<(String, Value)>, SessionStoreError>;

    /// Whether someone holds `key` now.
    async fn is_claimed(&self, key: &str) -> Result<bool, SessionStoreError> {
        Ok(self.claim_holder(key).await?.is_some())
    }

    /// Flushes buffered writes (bounded by the per-operation timeout) and stops background work.
    /// Returns `SessionStoreError::Unflushed` when some buffered calls could not be written.
    async fn shutdown(&self) -> Result<(), SessionStoreError> {
        Ok(())
    }
}

/// Opens the configured backend: Redis when `redis_url` is given (failing when it cannot connect
/// within `config.connect_timeout`), otherwise the in-memory store.
#[cfg(feature = "redis")]
pub async fn connect(
    redis_url: Option<&str>,
    config: SessionStoreConfig,
) -> Result<std::sync::Arc<dyn SessionStore>, SessionStoreError> {
    use std::sync::Arc;
    match redis_url {
        Some(url) => Ok(Arc::new(RedisSessionStore::connect(url, config).await?)),
        None => Ok(Arc::new(MemorySessionStore::new(&config)?)),
    }
}

/// Rejects call SIDs that could collide with the store's own keys or blow up key sizes.
fn validate_call_sid(call_sid: &str) -> Result<(), SessionStoreError> {
    const MAX_LEN: usize = 64;
    let reason = if call_sid.is_empty() {
        "empty"
    } else if call_sid.len() > MAX_LEN {
        "longer than 64 bytes"
    } else if !call_sid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        "not only ASCII letters, digits, '-' and '_'"
    } else {
        return Ok(());
    };
    Err(SessionStoreError::InvalidCallSid { reason })
}

/// Whether a stored `status` value ends the call's membership in the active set.
fn is_terminal_status(status: Option<&Value>) -> bool {
    matches!(status, Some(Value::String(s)) if TERMINAL_STATUSES.contains(&s.as_str()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn call_sid_validation() {
        let too_long = "C".repeat(65);
        let max_len = "C".repeat(64);
        let cases: &[(&str, bool)] = &[
            ("CA0123456789abcdef0123456789abcdef", true),
            ("test-call_1", true),
            (&max_len, true),
            ("", false),
            (&too_long, false),
            ("has space", false),
            ("voice:session", false),
            ("CA*", false),
            ("caf\u{e9}", false),
        ];
        for &(call_sid, ok) in cases {
            assert_eq!(validate_call_sid(call_sid).is_ok(), ok, "{call_sid:?}");
        }
    }

    #[test]
    fn terminal_status() {
        let cases = [
            (Some(json!("completed")), true),
            (Some(json!("ended")), true),
            (Some(json!("failed")), true),
            (Some(json!("in_progress")), false),
            (Some(json!("Completed")), false),
            (Some(json!(["completed"])), false),
            (Some(json!(null)), false),
            (None, false),
        ];
        for (status, terminal) in cases {
            assert_eq!(is_terminal_status(status.as_ref()), terminal, "{status:?}");
        }
    }
}
