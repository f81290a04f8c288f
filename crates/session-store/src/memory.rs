//! `MemorySessionStore`: sessions in a process-local map, with the Redis backend's semantics.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use crate::pending::PendingWrite;
use crate::{
    SessionFields, SessionStore, SessionStoreConfig, SessionStoreError, fields, is_terminal_status,
    validate_call_sid,
};

/// How many writes between sweeps of expired sessions, so memory stays bounded by the live calls
/// even when nobody calls `list_active`.
const WRITES_PER_SWEEP: u32 = 1024;
/// Claims held before `claim` sweeps the expired ones.
const CLAIMS_BEFORE_SWEEP: usize = 4096;

/// Session store in process memory: the default when no Redis URL is configured, and the store
/// tests use.
///
/// Same semantics as `RedisSessionStore`, TTL included. Expiry is checked lazily against tokio's
/// clock (`tokio::time::Instant`), so tests under a paused clock control it with
/// `tokio::time::advance`. Sessions do not survive a restart and are not shared between
/// processes.
#[derive(Debug)]
pub struct MemorySessionStore {
    ttl: Duration,
    /// Only held for map operations: no `.await` happens under it.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, StoredSession>,
    /// `claim` keys: owner and expiry.
    claims: HashMap<String, (String, Instant)>,
    /// Instance reports and their expiry.
    instances: HashMap<String, (Value, Instant)>,
    writes_since_sweep: u32,
}

#[derive(Debug)]
struct StoredSession {
    fields: SessionFields,
    expires_at: Instant,
}

impl MemorySessionStore {
    /// Creates an empty store using `config.ttl` (the Redis-only values are ignored).
    pub fn new(config: &SessionStoreConfig) -> Result<Self, SessionStoreError> {
        config.validate()?;
        Ok(Self {
            ttl: config.ttl,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the map consistent, so a panic elsewhere does not poison
        // the data itself.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, call_sid: &str, write: PendingWrite) -> Result<(), SessionStoreError> {
        validate_call_sid(call_sid)?;
        let now = Instant::now();
        let mut state = self.lock();
        state.writes_since_sweep += 1;
        if state.writes_since_sweep >= WRITES_PER_SWEEP {
            state.writes_since_sweep = 0;
            state.sessions.retain(|_, session| session.expires_at > now);
            state.claims.retain(|_, (_, expires_at)| *expires_at > now);
        }
        let stored = state
            .sessions
            .remove(call_sid)
            .filter(|session| session.expires_at > now)
            .map(|session| session.fields);
        if let Some(fields) = write.apply_to(stored) {
            let session = StoredSession {
                fields,
                expires_at: now + self.ttl,
            };
            state.sessions.insert(call_sid.to_owned(), session);
        }
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn set_session(
        &self,
        call_sid: &str,
        fields: SessionFields,
    ) -> Result<(), SessionStoreError> {
        self.write(call_sid, PendingWrite::Replace(fields))
    }

    async fn update_session(
        &self,
        call_sid: &str,
        fields: SessionFields,
    ) -> Result<(), SessionStoreError> {
        self.write(call_sid, PendingWrite::Merge(fields))
    }

    async fn get_session(
        &self,
        call_sid: &str,
    ) -> Result<Option<SessionFields>, SessionStoreError> {
        validate_call_sid(call_sid)?;
        let now = Instant::now();
        let mut state = self.lock();
        match state.sessions.get(call_sid) {
            Some(session) if session.expires_at > now => Ok(Some(session.fields.clone())),
            Some(_) => {
                state.sessions.remove(call_sid);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn delete_session(&self, call_sid: &str) -> Result<(), SessionStoreError> {
        self.write(call_sid, PendingWrite::Delete)
    }

    async fn list_active(&self) -> Result<Vec<String>, SessionStoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        state.sessions.retain(|_, session| session.expires_at > now);
        let mut res: Vec<String> = state
            .sessions
            .iter()
            .filter(|(_, session)| !is_terminal_status(session.fields.get(fields::STATUS)))
            .map(|(call_sid, _)| call_sid.clone())
            .collect();
        drop(state);
        res.sort_unstable();
        Ok(res)
    }

    async fn ping(&self) -> Result<(), SessionStoreError> {
        Ok(())
    }

    async fn claim(
        &self,
        key: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, SessionStoreError> {
        validate_call_sid(key)?;
        let now = Instant::now();
        let mut state = self.lock();
        if state.claims.len() >= CLAIMS_BEFORE_SWEEP {
            state.claims.retain(|_, (_, expires_at)| *expires_at > now);
        }
        match state.claims.get(key) {
            Some((_, expires_at)) if *expires_at > now => Ok(false),
            _ => {
                state
                    .claims
                    .insert(key.to_owned(), (owner.to_owned(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn claim_holder(&self, key: &str) -> Result<Option<String>, SessionStoreError> {
        validate_call_sid(key)?;
        let now = Instant::now();
        Ok(self
            .lock()
            .claims
            .get(key)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(owner, _)| owner.clone()))
    }

    async fn publish_instance(
        &self,
        instance: &str,
        report: Value,
        ttl: Duration,
    ) -> Result<(), SessionStoreError> {
        validate_call_sid(instance)?;
        let now = Instant::now();
        let mut state = self.lock();
        state
            .instances
            .retain(|_, (_, expires_at)| *expires_at > now);
        state
            .instances
            .insert(instance.to_owned(), (report, now + ttl));
        Ok(())
    }

    async fn list_instances(&self) -> Result<Vec<(String, Value)>, SessionStoreError> {
        let now = Instant::now();
        let mut res: Vec<(String, Value)> = self
            .lock()
            .instances
            .iter()
            .filter(|(_, (_, expires_at))| *expires_at > now)
            .map(|(instance, (report, _))| (instance.clone(), report.clone()))
            .collect();
        res.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(res)
    }

    async fn release(&self, key: &str, owner: &str) -> Result<(), SessionStoreError> {
        validate_call_sid(key)?;
        let mut state = self.lock();
        if state
            .claims
            .get(key)
            .is_some_and(|(held_by, _)| held_by == owner)
        {
            state.claims.remove(key);
        }
        Ok(())
    }
}
