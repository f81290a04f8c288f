//! Redis outages, against a private `redis-server` this test starts, kills and restarts.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use fred::prelude::{ClientLike, HashesInterface};
use serde_json::json;
use session_store::{
    BufferStatus, RedisSessionStore, SessionFields, SessionStore, SessionStoreConfig,
    SessionStoreError, fields,
};
use tokio::time::Instant;
use tracing::Instrument;
use tracing_subscriber::fmt::MakeWriter;

use crate::obj;
use crate::redis::{delete_keys, raw_client, unique_prefix};
use crate::redis_server::{RedisServer, free_port};

/// The per-operation timeout under test.
const OP_TIMEOUT: Duration = Duration::from_millis(300);
/// Scheduling slack on top of `OP_TIMEOUT` on a busy shared machine; a stall would be seconds
/// (fred waits forever for a reply by default).
const SLACK: Duration = Duration::from_millis(700);
/// Hang guard for the flush after the restart (it normally takes a few hundred ms).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(20);

fn outage_config(prefix: &str) -> SessionStoreConfig {
    SessionStoreConfig {
        key_prefix: prefix.to_owned(),
        ttl: Duration::from_secs(10 * 60),
        op_timeout: OP_TIMEOUT,
        max_buffered_calls: NonZeroUsize::new(2).unwrap(),
        pool_size: NonZeroUsize::new(2).unwrap(),
        reconnect_min_delay: Duration::from_millis(50),
        reconnect_max_delay: Duration::from_millis(200),
        flush_retry_interval: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(5),
    }
}

fn start_fields(stream_sid: &str) -> SessionFields {
    obj(json!({
        fields::STREAM_SID: stream_sid,
        fields::CALLER_PHONE: "+15550000000",
        fields::STARTED_AT: "2025-01-12T10:00:00+00:00",
        fields::CONVERSATION_HISTORY: [],
    }))
}

fn turn_fields(turn: u32) -> SessionFields {
    let history: Vec<_> = (1..=turn)
        .map(|n| json!({"role": "user", "content": format!("turn {n}")}))
        .collect();
    obj(json!({
        fields::CONVERSATION_HISTORY: history,
        fields::LAST_UPDATED: format!("2025-01-12T10:00:{turn:02}+00:00"),
        fields::CONVERSATION_STATE: {"state": "slot_collection", "turn_count": turn},
    }))
}

fn end_fields() -> SessionFields {
    obj(json!({
        fields::ENDED_AT: "2025-01-12T10:03:00+00:00",
        fields::TOTAL_TOKENS: 1234,
        fields::STATUS: "completed",
        fields::CONVERSATION_SUMMARY: {"state": "closing", "intent": "schedule_appointment"},
        fields::ESCALATION_TRIGGERED: false,
    }))
}

/// Runs one store operation and checks that it returned within the op timeout.
#[track_caller]
fn timed<T>(op: impl Future<Output = T>) -> impl Future<Output = T> {
    let caller = std::panic::Location::caller();
    async move {
        let started = Instant::now();
        let res = tokio::time::timeout(Duration::from_secs(10), op)
            .await
            .unwrap_or_else(|_| panic!("{caller}: store operation hung"));
        let elapsed = started.elapsed();
        assert!(
            elapsed <= OP_TIMEOUT + SLACK,
            "{caller}: store operation took {elapsed:?}"
        );
        res
    }
}

/// Everything logged in this test binary. A process-wide subscriber (rather than a scoped one)
/// because tracing caches per-callsite interest across threads, and tests run in parallel
/// threads; tests tell their lines apart by a span field.
#[derive(Clone, Default)]
struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    fn global() -> &'static LogCapture {
        static LOGS: OnceLock<LogCapture> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = LogCapture::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(logs.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            logs
        })
    }

    /// Lines containing both `tag` and `message`.
    fn count(&self, tag: &str, message: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|line| line.contains(tag) && line.contains(message))
            .count()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn stored_fields(url: &str, key: String) -> SessionFields {
    let client = raw_client(url).await;
    let stored: HashMap<String, String> = client.hgetall(key).await.unwrap();
    client.quit().await.unwrap();
    stored
        .into_iter()
        .map(|(field, raw)| (field, serde_json::from_str(&raw).unwrap()))
        .collect()
}

/// Redis dies in the middle of a call and comes back empty (no persistence) on the same port:
/// the call never stalls, and what it wrote during the outage lands once Redis is back.
#[tokio::test]
async fn writes_during_an_outage_reach_redis_after_it_restarts() {
    let port = free_port();
    let Some(server) = RedisServer::start(port) else {
        return;
    };
    let logs = LogCapture::global();
    let prefix = unique_prefix("outage");
    // The store's flusher task inherits the span, so its lines carry the tag too.
    let span = tracing::info_span!("outage_test", tag = %prefix);
    outage_scenario(server, port, &prefix)
        .instrument(span)
        .await;
    assert_eq!(logs.count(&prefix, "redis session store unavailable"), 1);
    assert_eq!(logs.count(&prefix, "redis session store recovered"), 1);
}

async fn outage_scenario(server: RedisServer, port: u16, prefix: &str) {
    let url = server.url();
    let store = RedisSessionStore::connect(&url, outage_config(prefix))
        .await
        .unwrap();

    // Call 1 starts and takes a turn while Redis is up.
    timed(store.set_session("CA-1", start_fields("MZ1")))
        .await
        .unwrap();
    timed(store.update_session("CA-1", turn_fields(1)))
        .await
        .unwrap();

    server.kill();

    let mut want_call1 = SessionFields::new();
    for turn in 2..=6 {
        want_call1.extend(turn_fields(turn));
        timed(store.update_session("CA-1", turn_fields(turn)))
            .await
            .unwrap();
    }
    // Call 2 starts during the outage.
    timed(store.set_session("CA-2", start_fields("MZ2")))
        .await
        .unwrap();
    assert_eq!(
        store.buffer_status(),
        BufferStatus {
            in_outage: true,
            buffered_calls: 2
        }
    );
    // The buffer holds 2 calls: a third call's write is refused...
    let res = timed(store.set_session("CA-3", start_fields("MZ3"))).await;
    assert!(
        matches!(res, Err(SessionStoreError::BufferFull { capacity: 2 })),
        "{res:?}"
    );
    // ...while reads answer from the buffer when it alone decides, and fail at once otherwise.
    assert_eq!(
        timed(store.get_session("CA-2")).await.unwrap(),
        Some(start_fields("MZ2"))
    );
    let res = timed(store.get_session("CA-1")).await;
    assert!(
        matches!(res, Err(SessionStoreError::Unavailable { .. })),
        "{res:?}"
    );
    let res = timed(store.list_active()).await;
    assert!(
        matches!(res, Err(SessionStoreError::Unavailable { .. })),
        "{res:?}"
    );
    // Call 1 ends during the outage (the seed's final update).
    want_call1.extend(end_fields());
    timed(store.update_session("CA-1", end_fields()))
        .await
        .unwrap();

    let server = RedisServer::start(port).unwrap();
    tokio::time::timeout(FLUSH_TIMEOUT, store.wait_flushed())
        .await
        .expect("buffered writes were not flushed after redis came back");

    // The restarted server lost everything from before the outage, so call 1 holds exactly what
    // was written during it, including the final update.
    assert_eq!(
        stored_fields(&server.url(), format!("{prefix}{{CA-1}}")).await,
        want_call1
    );
    assert_eq!(
        stored_fields(&server.url(), format!("{prefix}{{CA-2}}")).await,
        start_fields("MZ2")
    );
    assert_eq!(store.get_session("CA-1").await.unwrap(), Some(want_call1));
    assert_eq!(store.list_active().await.unwrap(), ["CA-2"]);
    // Back to normal: writes go straight to Redis.
    store
        .update_session("CA-2", obj(json!({"status": "completed"})))
        .await
        .unwrap();
    assert_eq!(
        store.buffer_status(),
        BufferStatus {
            in_outage: false,
            buffered_calls: 0
        }
    );
    assert_eq!(store.list_active().await.unwrap(), Vec::<String>::new());

    store.shutdown().await.unwrap();
    let client = raw_client(&server.url()).await;
    delete_keys(&client, prefix).await;
    client.quit().await.unwrap();
}

/// A shutdown while Redis is down says how many calls' writes it could not save.
#[tokio::test]
async fn shutdown_during_an_outage_reports_unflushed_calls() {
    let port = free_port();
    let Some(server) = RedisServer::start(port) else {
        return;
    };
    let prefix = unique_prefix("outage-shutdown");
    let store = RedisSessionStore::connect(&server.url(), outage_config(&prefix))
        .await
        .unwrap();
    timed(store.set_session("CA-1", start_fields("MZ1")))
        .await
        .unwrap();
    server.kill();
    timed(store.update_session("CA-1", end_fields()))
        .await
        .unwrap();
    let started = Instant::now();
    let res = store.shutdown().await;
    assert!(
        matches!(res, Err(SessionStoreError::Unflushed { n_calls: 1 })),
        "{res:?}"
    );
    // One failed flush attempt and the pool's close, each bounded by the op timeout.
    assert!(
        started.elapsed() <= 3 * OP_TIMEOUT + SLACK,
        "{:?}",
        started.elapsed()
    );
}

/// A Redis that stops answering without closing connections (frozen with `SIGSTOP`): writes still
/// return within the op timeout, and land once it answers again.
#[tokio::test]
async fn a_frozen_redis_does_not_stall_writes() {
    let port = free_port();
    let Some(server) = RedisServer::start(port) else {
        return;
    };
    let prefix = unique_prefix("outage-frozen");
    let store = RedisSessionStore::connect(&server.url(), outage_config(&prefix))
        .await
        .unwrap();
    timed(store.set_session("CA-1", start_fields("MZ1")))
        .await
        .unwrap();

    server.signal("-STOP");
    let mut want = start_fields("MZ1");
    for turn in 1..=3 {
        want.extend(turn_fields(turn));
        timed(store.update_session("CA-1", turn_fields(turn)))
            .await
            .unwrap();
    }
    assert!(store.buffer_status().in_outage);
    want.extend(end_fields());
    timed(store.update_session("CA-1", end_fields()))
        .await
        .unwrap();
    server.signal("-CONT");

    tokio::time::timeout(FLUSH_TIMEOUT, store.wait_flushed())
        .await
        .expect("buffered writes were not flushed after redis thawed");
    // Nothing was lost this time (the server kept its data), so the session is the whole call.
    assert_eq!(
        stored_fields(&server.url(), format!("{prefix}{{CA-1}}")).await,
        want
    );
    assert_eq!(store.list_active().await.unwrap(), Vec::<String>::new());
    store.shutdown().await.unwrap();
    let client = raw_client(&server.url()).await;
    delete_keys(&client, &prefix).await;
    client.quit().await.unwrap();
}
