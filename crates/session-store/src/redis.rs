//! `RedisSessionStore`: sessions in Redis through a `fred` connection pool, with a bounded outage
//! buffer.
//!
//! Layout: one hash per call at `{prefix}{<call_sid>}` (the braces are a Redis Cluster hash tag:
//! every key of one call is in one slot), each top-level field a JSON-encoded value; claims at
//! `{prefix}claim:<what>_{<call_sid>}` (the tag is the part after the last `_`); and one sorted
//! set `{prefix}index:active` of active call SIDs scored by their expiry time (ms since the
//! epoch). A write is two Lua scripts, each on one key, so it runs unchanged on a single node,
//! Sentinel or a Redis Cluster (`redis-cluster://` URL): `WRITE_SCRIPT` updates the call's hash
//! and refreshes its TTL atomically and says whether the call is still active, then
//! `INDEX_SCRIPT` adds it to or removes it from the index (on whichever node holds the index).
//! A failure between the two is retried as a whole (every write is idempotent); until then the
//! index lags the session. A script is a single command, which also lets `fred` drop it when it
//! timed out before being sent. Instances report themselves in one hash, `{prefix}fleet:instances`
//! (each field `<expiry ms> <JSON report>`), for the fleet-wide view.
//!
//! Ordering: a call always uses the same pooled connection (chosen by hashing its SID), so its
//! commands reach Redis in the order they were issued, including a timed-out command that was
//! already on the wire and the buffered state written after it.
//!
//! Outage: a write that fails because Redis is unreachable or slow starts an outage (one `warn`
//! log). From then on writes go to the outage buffer without touching Redis, so they return at
//! once; each call keeps only its newest merged state (`PendingWrite::then`). Writes for a call
//! that still has a buffered entry also go to the buffer, so they cannot overtake it. A background
//! flusher task owned by the store retries every `flush_retry_interval`; when everything is
//! written the outage ends (one `info` log). When the buffer already holds `max_buffered_calls`
//! calls, a write for another call fails with `BufferFull` (calls already buffered keep merging).
//! During an outage `get_session` answers from the buffer when the buffered write alone decides
//! the result (`set_session` or `delete_session`), and fails with `Unavailable` otherwise;
//! `list_active` fails with `Unavailable`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{
    Builder, Client, ClientLike, Config as FredConfig, Error as FredError, ErrorKind,
    HashesInterface, KeysInterface, LuaInterface, Pool, ReconnectPolicy, TcpConfig,
};
use fred::types::ConnectHandle;
use fred::types::{Expiration, SetOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, error, info, warn};

use crate::pending::PendingWrite;
use crate::{
    SessionFields, SessionStore, SessionStoreConfig, SessionStoreError, validate_call_sid,
};

/// Lua that sets `now_ms` from the Redis node's clock (`TIME`), for the scripts below.
macro_rules! lua_now_ms {
    () => {
        "local time = redis.call('TIME')\nlocal now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)\n"
    };
}

/// The atomic write of one call's hash: `KEYS[1]` the hash; `ARGV[1]` the mode (`merge`,
/// `replace` or `delete`), `ARGV[2]` the TTL in ms, then field and JSON value pairs. Returns 1
/// when the call is active afterwards, 0 when it has no session or a terminal status. The
/// `terminal` table must list `TERMINAL_STATUSES` JSON-encoded (a unit test checks it).
const WRITE_SCRIPT: &str = r#"
local key = KEYS[1]
local mode, ttl_ms = ARGV[1], tonumber(ARGV[2])
local terminal = {
  ['"completed"'] = true, ['"ended"'] = true, ['"failed"'] = true,
  ['"canceled"'] = true, ['"cancelled"'] = true,
}
if mode ~= 'merge' then
  redis.call('DEL', key)
end
if mode ~= 'delete' and #ARGV > 2 then
  redis.call('HSET', key, unpack(ARGV, 3))
end
if redis.call('EXISTS', key) == 0 then
  return 0
end
redis.call('PEXPIRE', key, ttl_ms)
local status = redis.call('HGET', key, 'status')
if status and terminal[status] then
  return 0
end
return 1
"#;

/// The active index after a write: `KEYS[1]` the index; `ARGV[1]` the call SID, `ARGV[2]` `1`
/// (active: added with its expiry) or `0` (removed), `ARGV[3]` the TTL in ms. Expired entries
/// are pruned on the way, by the index node's clock.
const INDEX_SCRIPT: &str = concat!(
    lua_now_ms!(),
    r#"
local index = KEYS[1]
local call_sid, active, ttl_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', index, '-inf', now_ms)
if active == '1' then
  redis.call('ZADD', index, now_ms + ttl_ms, call_sid)
  redis.call('PEXPIRE', index, ttl_ms)
else
  redis.call('ZREM', index, call_sid)
end
return 1
"#
);

/// Deletes a claim only when its value is still the caller's owner id.
const RELEASE_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Publishes an instance report: `KEYS[1]` the fleet hash; `ARGV[1]` the instance, `ARGV[2]` the
/// report (JSON), `ARGV[3]` its lifetime in ms. Each field holds `<expiry ms> <report>`, by this
/// node's clock; the hash lives as long as its newest report.
const PUBLISH_INSTANCE_SCRIPT: &str = concat!(
    lua_now_ms!(),
    r#"
local ttl_ms = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], (now_ms + ttl_ms) .. ' ' .. ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl_ms then
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
end
return 1
"#
);

/// The reports that have not expired, pruning the others: `KEYS[1]` the fleet hash; returns
/// instance and report pairs.
const LIST_INSTANCES_SCRIPT: &str = concat!(
    lua_now_ms!(),
    r#"
local fields = redis.call('HGETALL', KEYS[1])
local res = {}
for i = 1, #fields, 2 do
  local expires, report = string.match(fields[i + 1], '^(%d+) (.*)$')
  if expires and tonumber(expires) > now_ms then
    table.insert(res, fields[i])
    table.insert(res, report)
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
return res
"#
);

/// Active call SIDs: index members whose expiry is still ahead (by Redis' clock).
const LIST_ACTIVE_SCRIPT: &str = concat!(
    lua_now_ms!(),
    r#"
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_ms, '+inf')
"#
);

/// Session store on Redis; see the module docs for the layout and the outage behaviour.
///
/// `connect` starts a background flusher task owned by the store. `shutdown` (or dropping the
/// store) stops it after a last flush attempt and closes the connections.
#[derive(Debug)]
pub struct RedisSessionStore {
    shared: Arc<Shared>,
    /// Dropping it (with the store) tells the flusher to stop too.
    shutdown_tx: watch::Sender<bool>,
    status_rx: watch::Receiver<BufferStatus>,
    tasks: Mutex<Tasks>,
}

/// What the outage buffer holds right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferStatus {
    /// Redis is considered down: writes go to the buffer without trying Redis.
    pub in_outage: bool,
    /// Calls with a buffered write not yet in Redis.
    pub buffered_calls: usize,
}

#[derive(Debug, Default)]
struct Tasks {
    flusher: Option<JoinHandle<()>>,
    connection: Option<ConnectHandle>,
}

#[derive(Debug)]
struct Shared {
    pool: Pool,
    config: SessionStoreConfig,
    index_key: String,
    /// Only held for map operations: no `.await` happens under it.
    buffer: Mutex<OutageBuffer>,
    status_tx: watch::Sender<BufferStatus>,
}

/// Invariant: `entries` is only non-empty while `in_outage` is set (entries are added when an
/// outage starts or during one, and the outage ends only once they are all written).
#[derive(Debug, Default)]
struct OutageBuffer {
    in_outage: bool,
    closed: bool,
    entries: HashMap<String, Buffered>,
    /// Bumped on every buffered write; lets the flusher tell whether an entry changed while its
    /// snapshot was being written.
    next_version: u64,
}

#[derive(Debug)]
struct Buffered {
    write: PendingWrite,
    version: u64,
}

impl RedisSessionStore {
    /// Connects a pool of `config.pool_size` connections to `url` (`redis://`, `rediss://`, with
    /// optional credentials and database) and starts the flusher.
    ///
    /// Fails with `Connect` when Redis cannot be reached within `config.connect_timeout`: a
    /// misconfigured URL shows at startup. Later outages are survived (see the module docs).
    pub async fn connect(url: &str, config: SessionStoreConfig) -> Result<Self, SessionStoreError> {
        config.validate()?;
        let fred_config =
            FredConfig::from_url(url).map_err(|err| SessionStoreError::InvalidUrl {
                source: Box::new(err),
            })?;
        let policy = ReconnectPolicy::new_exponential(
            0, // retry forever; commands meanwhile fail after `op_timeout`
            millis_u32(config.reconnect_min_delay),
            millis_u32(config.reconnect_max_delay),
            2,
        );
        let pool = Builder::from_config(fred_config)
            .with_connection_config(|conn| {
                conn.connection_timeout = config.connect_timeout;
                conn.internal_command_timeout = config.connect_timeout;
                conn.tcp = TcpConfig {
                    nodelay: Some(true),
                    ..TcpConfig::default()
                };
            })
            .with_performance_config(|perf| perf.default_command_timeout = config.op_timeout)
            .set_policy(policy)
            .build_pool(config.pool_size.get())
            .map_err(|err| SessionStoreError::InvalidUrl {
                source: Box::new(err),
            })?;
        let connection = match tokio::time::timeout(config.connect_timeout, pool.init()).await {
            Ok(Ok(handle)) => handle,
            Ok(Err(err)) => {
                let _ = pool.quit().await;
                return Err(SessionStoreError::Connect {
                    source: Some(Box::new(err)),
                });
            }
            Err(_elapsed) => {
                let _ = pool.quit().await;
                return Err(SessionStoreError::Connect { source: None });
            }
        };

        let (status_tx, status_rx) = watch::channel(BufferStatus {
            in_outage: false,
            buffered_calls: 0,
        });
        let shared = Arc::new(Shared {
            pool,
            index_key: format!("{}index:active", config.key_prefix),
            config,
            buffer: Mutex::new(OutageBuffer::default()),
            status_tx,
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let flusher =
            tokio::spawn(flush_buffered_writes(Arc::clone(&shared), shutdown_rx).in_current_span());
        Ok(Self {
            shared,
            shutdown_tx,
            status_rx,
            tasks: Mutex::new(Tasks {
                flusher: Some(flusher),
                connection: Some(connection),
            }),
        })
    }

    /// What the outage buffer holds now.
    pub fn buffer_status(&self) -> BufferStatus {
        *self.status_rx.borrow()
    }

    /// Waits until no outage is in progress and every buffered write is in Redis. Callers bound it
    /// with a timeout.
    pub async fn wait_flushed(&self) {
        let mut status_rx = self.status_rx.clone();
        // The sender lives in `shared`, which `self` keeps alive, so this cannot fail.
        let _ = status_rx
            .wait_for(|status| !status.in_outage && status.buffered_calls == 0)
            .await;
    }

    async fn write(
        &self,
        op: &'static str,
        call_sid: &str,
        write: PendingWrite,
    ) -> Result<(), SessionStoreError> {
        validate_call_sid(call_sid)?;
        let shared = &self.shared;
        {
            let mut buffer = shared.lock_buffer();
            if buffer.closed {
                return Err(closed(op));
            }
            if buffer.in_outage || buffer.entries.contains_key(call_sid) {
                let res = buffer.push(call_sid, write, shared.config.max_buffered_calls.get());
                shared.publish_status(buffer);
                return res;
            }
        }
        match shared.send_write(call_sid, &write).await {
            Ok(()) => Ok(()),
            Err(err) if is_transient(&err) => {
                let mut buffer = shared.lock_buffer();
                let outage_started = !buffer.in_outage;
                buffer.in_outage = true;
                let res = buffer.push(call_sid, write, shared.config.max_buffered_calls.get());
                let buffered_calls = buffer.entries.len();
                shared.publish_status(buffer);
                if outage_started {
                    warn!(
                        op,
                        error = %err,
                        buffered_calls,
                        "redis session store unavailable, buffering session writes"
                    );
                }
                res
            }
            Err(err) => Err(SessionStoreError::Rejected {
                op,
                source: Box::new(err),
            }),
        }
    }

    /// Turns a failed read into the caller's error, starting an outage when Redis is unreachable.
    fn read_failed(&self, op: &'static str, err: FredError) -> SessionStoreError {
        if !is_transient(&err) {
            return SessionStoreError::Rejected {
                op,
                source: Box::new(err),
            };
        }
        let mut buffer = self.shared.lock_buffer();
        let outage_started = !buffer.in_outage;
        buffer.in_outage = true;
        self.shared.publish_status(buffer);
        if outage_started {
            warn!(op, error = %err, "redis session store unavailable, buffering session writes");
        }
        SessionStoreError::Unavailable {
            op,
            source: Some(Box::new(err)),
        }
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn set_session(
        &self,
        call_sid: &str,
        fields: SessionFields,
    ) -> Result<(), SessionStoreError> {
        self.write("set_session", call_sid, PendingWrite::Replace(fields))
            .await
    }

    async fn update_session(
        &self,
        call_sid: &str,
        fields: SessionFields,
    ) -> Result<(), SessionStoreError> {
        self.write("update_session", call_sid, PendingWrite::Merge(fields))
            .await
    }

    async fn get_session(
        &self,
        call_sid: &str,
    ) -> Result<Option<SessionFields>, SessionStoreError> {
        const OP: &str = "get_session";
        validate_call_sid(call_sid)?;
        let (in_outage, pending) = {
            let buffer = self.shared.lock_buffer();
            if buffer.closed {
                return Err(closed(OP));
            }
            let pending = buffer
                .entries
                .get(call_sid)
                .map(|entry| entry.write.clone());
            (buffer.in_outage, pending)
        };
        if let Some(known) = pending.as_ref().and_then(PendingWrite::known_result) {
            return Ok(known);
        }
        // A buffered merge needs the stored base, and there is none to read during an outage.
        if in_outage || pending.is_some() {
            return Err(SessionStoreError::Unavailable {
                op: OP,
                source: None,
            });
        }
        let stored: HashMap<String, String> = self
            .shared
            .client_for(call_sid)
            .hgetall(self.shared.session_key(call_sid))
            .await
            .map_err(|err| self.read_failed(OP, err))?;
        decode_fields(stored)
    }

    async fn delete_session(&self, call_sid: &str) -> Result<(), SessionStoreError> {
        self.write("delete_session", call_sid, PendingWrite::Delete)
            .await
    }

    async fn list_active(&self) -> Result<Vec<String>, SessionStoreError> {
        const OP: &str = "list_active";
        if self.shared.lock_buffer().in_outage {
            return Err(SessionStoreError::Unavailable {
                op: OP,
                source: None,
            });
        }
        // No outage means an empty buffer, so Redis' answer is complete.
        let mut res: Vec<String> = self
            .shared
            .pool
            .next()
            .eval(
                LIST_ACTIVE_SCRIPT,
                vec![self.shared.index_key.clone()],
                Vec::<String>::new(),
            )
            .await
            .map_err(|err| self.read_failed(OP, err))?;
        res.sort_unstable();
        Ok(res)
    }

    async fn ping(&self) -> Result<(), SessionStoreError> {
        const OP: &str = "ping";
        let _: String = self.shared.pool.next().ping(None).await.map_err(|err| {
            SessionStoreError::Unavailable {
                op: OP,
                source: Some(Box::new(err)),
            }
        })?;
        Ok(())
    }

    async fn claim(
        &self,
        key: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, SessionStoreError> {
        const OP: &str = "claim";
        validate_call_sid(key)?;
        if self.shared.lock_buffer().closed {
            return Err(closed(OP));
        }
        let set: Option<String> = self
            .shared
            .pool
            .next()
            .set(
                self.shared.claim_key(key),
                owner,
                Some(Expiration::PX(
                    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1),
                )),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(unavailable(OP))?;
        Ok(set.is_some())
    }

    async fn claim_holder(&self, key: &str) -> Result<Option<String>, SessionStoreError> {
        const OP: &str = "claim_holder";
        validate_call_sid(key)?;
        self.shared
            .pool
            .next()
            .get(self.shared.claim_key(key))
            .await
            .map_err(unavailable(OP))
    }

    async fn publish_instance(
        &self,
        instance: &str,
        report: serde_json::Value,
        ttl: Duration,
    ) -> Result<(), SessionStoreError> {
        const OP: &str = "publish_instance";
        validate_call_sid(instance)?;
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let _: i64 = self
            .shared
            .pool
            .next()
            .eval(
                PUBLISH_INSTANCE_SCRIPT,
                vec![self.shared.fleet_key()],
                vec![instance.to_owned(), report.to_string(), ttl_ms.to_string()],
            )
            .await
            .map_err(unavailable(OP))?;
        Ok(())
    }

    async fn list_instances(&self) -> Result<Vec<(String, serde_json::Value)>, SessionStoreError> {
        const OP: &str = "list_instances";
        let flat: Vec<String> = self
            .shared
            .pool
            .next()
            .eval(
                LIST_INSTANCES_SCRIPT,
                vec![self.shared.fleet_key()],
                Vec::<String>::new(),
            )
            .await
            .map_err(unavailable(OP))?;
        let mut res = Vec::with_capacity(flat.len() / 2);
        for pair in flat.chunks_exact(2) {
            match serde_json::from_str(&pair[1]) {
                Ok(report) => res.push((pair[0].clone(), report)),
                Err(err) => {
                    warn!(instance = %pair[0], error = %err, "skipping an unreadable instance report")
                }
            }
        }
        res.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(res)
    }

    async fn release(&self, key: &str, owner: &str) -> Result<(), SessionStoreError> {
        const OP: &str = "release";
        validate_call_sid(key)?;
        let _deleted: i64 = self
            .shared
            .pool
            .next()
            .eval(
                RELEASE_SCRIPT,
                vec![self.shared.claim_key(key)],
                vec![owner.to_owned()],
            )
            .await
            .map_err(unavailable(OP))?;
        Ok(())
    }

    async fn shutdown(&self) -> Result<(), SessionStoreError> {
        let _ = self.shutdown_tx.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        if let Some(flusher) = tasks.flusher
            && let Err(err) = flusher.await
        {
            error!(error = %err, "session flusher task failed");
        }
        // The flusher closed the pool, which ends the connection task; do not wait forever.
        if let Some(connection) = tasks.connection {
            let _ = tokio::time::timeout(self.shared.config.op_timeout, connection).await;
        }
        let n_calls = {
            let mut buffer = self.shared.lock_buffer();
            buffer.closed = true;
            buffer.entries.len()
        };
        if n_calls > 0 {
            return Err(SessionStoreError::Unflushed { n_calls });
        }
        Ok(())
    }
}

impl OutageBuffer {
    /// Merges `write` into the call's buffered entry, or adds one if there is room.
    fn push(
        &mut self,
        call_sid: &str,
        write: PendingWrite,
        capacity: usize,
    ) -> Result<(), SessionStoreError> {
        self.next_version += 1;
        let version = self.next_version;
        if let Some(entry) = self.entries.get_mut(call_sid) {
            let older = std::mem::replace(&mut entry.write, PendingWrite::Delete);
            entry.write = older.then(write);
            entry.version = version;
            return Ok(());
        }
        if self.entries.len() >= capacity {
            return Err(SessionStoreError::BufferFull { capacity });
        }
        self.entries
            .insert(call_sid.to_owned(), Buffered { write, version });
        Ok(())
    }

    fn status(&self) -> BufferStatus {
        BufferStatus {
            in_outage: self.in_outage,
            buffered_calls: self.entries.len(),
        }
    }
}

impl Shared {
    fn lock_buffer(&self) -> MutexGuard<'_, OutageBuffer> {
        // Every critical section leaves the buffer consistent, so a panic elsewhere does not
        // poison the data itself.
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes the buffer's status and releases the lock.
    fn publish_status(&self, buffer: MutexGuard<'_, OutageBuffer>) {
        let status = buffer.status();
        drop(buffer);
        self.status_tx.send_if_modified(|current| {
            let changed = *current != status;
            *current = status;
            changed
        });
    }

    /// `{prefix}claim:<what>_{<call_sid>}`: the part after the last `_` is the hash tag, so a
    /// call's claims (`live_CA…`, `ended_CA…`) share its session's slot. Keys cannot contain
    /// `:`, `{` or `}`, so claims never meet sessions or the index.
    fn claim_key(&self, key: &str) -> String {
        let prefix = &self.config.key_prefix;
        match key.rsplit_once('_') {
            Some((what, tag)) if !tag.is_empty() => format!("{prefix}claim:{what}_{{{tag}}}"),
            _ => format!("{prefix}claim:{{{key}}}"),
        }
    }

    /// `{prefix}fleet:instances`: every instance's report, one hash (one slot).
    fn fleet_key(&self) -> String {
        format!("{}fleet:instances", self.config.key_prefix)
    }

    /// `{prefix}{<call_sid>}`.
    fn session_key(&self, call_sid: &str) -> String {
        format!("{}{{{call_sid}}}", self.config.key_prefix)
    }

    /// The pooled connection this call always uses, which keeps its commands in order.
    fn client_for(&self, call_sid: &str) -> &Client {
        let clients = self.pool.clients();
        let mut hasher = DefaultHasher::new();
        call_sid.hash(&mut hasher);
        let n_clients = u64::try_from(clients.len()).unwrap_or(1).max(1);
        let client_idx = usize::try_from(hasher.finish() % n_clients).unwrap_or(0);
        &clients[client_idx]
    }

    async fn send_write(&self, call_sid: &str, write: &PendingWrite) -> Result<(), FredError> {
        let (mode, fields) = match write {
            PendingWrite::Merge(fields) => ("merge", Some(fields)),
            PendingWrite::Replace(fields) => ("replace", Some(fields)),
            PendingWrite::Delete => ("delete", None),
        };
        let n_fields = fields.map_or(0, SessionFields::len);
        let ttl_ms = self.config.ttl_ms().to_string();
        let mut args = Vec::with_capacity(2 + 2 * n_fields);
        args.push(mode.to_owned());
        args.push(ttl_ms.clone());
        for (field, value) in fields.into_iter().flatten() {
            args.push(field.clone());
            args.push(value.to_string());
        }
        let client = self.client_for(call_sid);
        let active: i64 = client
            .eval(WRITE_SCRIPT, vec![self.session_key(call_sid)], args)
            .await?;
        let index_args = vec![call_sid.to_owned(), active.to_string(), ttl_ms];
        let _: i64 = client
            .eval(INDEX_SCRIPT, vec![self.index_key.clone()], index_args)
            .await?;
        Ok(())
    }

    /// Writes a snapshot of every buffered entry; ends the outage when nothing is left.
    async fn flush_once(&self) {
        let (in_outage, snapshot) = {
            let buffer = self.lock_buffer();
            let snapshot: Vec<(String, PendingWrite, u64)> = buffer
                .entries
                .iter()
                .map(|(call_sid, entry)| (call_sid.clone(), entry.write.clone(), entry.version))
                .collect();
            (buffer.in_outage, snapshot)
        };
        if snapshot.is_empty() {
            if !in_outage {
                return;
            }
            // The outage began on a read: probe before letting writes go to Redis again.
            if let Err(err) = self.pool.next().ping::<String>(None).await {
                debug!(error = %err, "redis still unavailable");
                return;
            }
        }
        let mut n_flushed = 0_usize;
        for (call_sid, write, version) in snapshot {
            let res = self.send_write(&call_sid, &write).await;
            if let Err(err) = &res {
                if is_transient(err) {
                    debug!(error = %err, "redis still unavailable");
                    break;
                }
                // Retrying would fail the same way forever and hold a buffer slot.
                error!(%call_sid, error = %err, "redis rejected a buffered session write, dropping it");
            }
            let mut buffer = self.lock_buffer();
            if buffer
                .entries
                .get(&call_sid)
                .is_some_and(|entry| entry.version == version)
            {
                buffer.entries.remove(&call_sid);
            }
            drop(buffer);
            if res.is_ok() {
                n_flushed += 1;
            }
        }
        let mut buffer = self.lock_buffer();
        let recovered = buffer.in_outage && buffer.entries.is_empty();
        if recovered {
            buffer.in_outage = false;
        }
        self.publish_status(buffer);
        if recovered {
            info!(
                n_flushed,
                "redis session store recovered, buffered writes flushed"
            );
        }
    }
}

/// The store's background task: retries buffered writes until shutdown, then makes a last
/// attempt and closes the pool.
async fn flush_buffered_writes(shared: Arc<Shared>, mut shutdown_rx: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            // Also fires when the store (and so the sender) is dropped.
            _ = shutdown_rx.changed() => break,
            () = tokio::time::sleep(shared.config.flush_retry_interval) => {}
        }
        shared.flush_once().await;
    }
    // A clean shutdown should not lose what Redis can still take.
    shared.flush_once().await;
    let _ = tokio::time::timeout(shared.config.op_timeout, shared.pool.quit()).await;
}

/// Whether the failure is about reaching Redis (worth buffering and retrying) rather than about
/// the command itself.
fn is_transient(err: &FredError) -> bool {
    !matches!(
        err.kind(),
        ErrorKind::InvalidCommand
            | ErrorKind::InvalidArgument
            | ErrorKind::Parse
            | ErrorKind::Config
            | ErrorKind::Url
            | ErrorKind::NotFound
    )
}

/// A failed claim command: claims are never buffered, so the caller sees the outage.
fn unavailable(op: &'static str) -> impl Fn(FredError) -> SessionStoreError {
    move |err| SessionStoreError::Unavailable {
        op,
        source: Some(Box::new(err)),
    }
}

fn closed(op: &'static str) -> SessionStoreError {
    SessionStoreError::Closed { op }
}

/// Decodes a stored hash; an empty hash is a missing session.
fn decode_fields(
    stored: HashMap<String, String>,
) -> Result<Option<SessionFields>, SessionStoreError> {
    if stored.is_empty() {
        return Ok(None);
    }
    let mut res = SessionFields::new();
    for (field, raw) in stored {
        let value =
            serde_json::from_str(&raw).map_err(|source| SessionStoreError::CorruptField {
                field: field.clone(),
                source,
            })?;
        res.insert(field, value);
    }
    Ok(Some(res))
}

fn millis_u32(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::TERMINAL_STATUSES;

    #[test]
    fn write_script_knows_every_terminal_status() {
        for status in TERMINAL_STATUSES {
            let encoded = serde_json::Value::from(*status).to_string();
            assert!(
                WRITE_SCRIPT.contains(&format!("['{encoded}'] = true")),
                "{status} missing from WRITE_SCRIPT"
            );
        }
        assert_eq!(
            WRITE_SCRIPT.matches("] = true").count(),
            TERMINAL_STATUSES.len()
        );
    }

    #[test]
    fn buffer_merges_per_call_and_rejects_new_calls_when_full() {
        let mut buffer = OutageBuffer::default();
        let fields = |value: serde_json::Value| match value {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        };
        buffer
            .push("CA1", PendingWrite::Merge(fields(json!({"a": 1}))), 2)
            .unwrap();
        buffer.push("CA2", PendingWrite::Delete, 2).unwrap();
        let full = buffer.push("CA3", PendingWrite::Delete, 2);
        assert!(
            matches!(full, Err(SessionStoreError::BufferFull { capacity: 2 })),
            "{full:?}"
        );
        buffer
            .push("CA1", PendingWrite::Merge(fields(json!({"b": 2}))), 2)
            .unwrap();
        buffer
            .push("CA2", PendingWrite::Merge(fields(json!({"c": 3}))), 2)
            .unwrap();
        assert_eq!(buffer.entries.len(), 2);
        assert_eq!(
            buffer.entries["CA1"].write,
            PendingWrite::Merge(fields(json!({"a": 1, "b": 2})))
        );
        assert_eq!(
            buffer.entries["CA2"].write,
            PendingWrite::Replace(fields(json!({"c": 3})))
        );
        assert_eq!(buffer.entries["CA2"].version, 5);
    }

    #[test]
    fn corrupt_field_is_an_error_not_a_panic() {
        let stored = HashMap::from([
            ("status".to_owned(), "\"completed\"".to_owned()),
            ("history".to_owned(), "[1, 2".to_owned()),
        ]);
        match decode_fields(stored) {
            Err(SessionStoreError::CorruptField { field, .. }) => assert_eq!(field, "history"),
            other => panic!("{other:?}"),
        }
        assert_eq!(decode_fields(HashMap::new()).unwrap(), None);
    }
}
