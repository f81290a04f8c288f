//! The behaviour suite against `RedisSessionStore` on the server at `VOICE_TEST_REDIS_URL`, plus
//! checks of the Redis layout and of connection failures.
//!
//! Each test uses its own key prefix, so parallel tests and other people's data never collide,
//! and deletes its keys at the end (a failed test leaves keys that expire within 10 minutes).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::prelude::{Builder, Client, ClientLike, Config, HashesInterface, KeysInterface};
use fred::types::CustomCommand;
use serde_json::json;
use session_store::{RedisSessionStore, SessionStore, SessionStoreConfig, SessionStoreError};

use crate::behaviour::{self, Fixture, behaviour_suite};
use crate::{in_ci, obj};

/// TTL for tests that do not test TTLs: long enough for any test, short enough that keys of a
/// failed test go away on their own.
const TEST_TTL: Duration = Duration::from_secs(10 * 60);

/// The Redis URL for tests, or `None` (with a notice) to skip; fails when `CI` is set.
pub(crate) fn test_redis_url() -> Option<String> {
    match std::env::var("VOICE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(!in_ci(), "VOICE_TEST_REDIS_URL must be set when CI is set");
            eprintln!("skipping redis test: VOICE_TEST_REDIS_URL is unset");
            None
        }
    }
}

/// A key prefix no other test run shares.
pub(crate) fn unique_prefix(case: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "test:session-store:{}:{nanos}:{n}:{case}:",
        std::process::id()
    )
}

/// A plain client, to look at what the store wrote.
pub(crate) async fn raw_client(url: &str) -> Client {
    let client = Builder::from_config(Config::from_url(url).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();
    client
}

/// Deletes every key under `prefix`.
pub(crate) async fn delete_keys(client: &Client, prefix: &str) {
    let keys: Vec<String> = client
        .custom(
            CustomCommand::new_static("KEYS", None::<u16>, false),
            vec![format!("{prefix}*")],
        )
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = client.del(keys).await.unwrap();
    }
}

struct RedisFixture {
    url: String,
    prefix: String,
    stores: Mutex<Vec<Arc<dyn SessionStore>>>,
}

impl RedisFixture {
    fn new(case: &str) -> Option<Self> {
        Some(Self {
            url: test_redis_url()?,
            prefix: unique_prefix(case),
            stores: Mutex::new(Vec::new()),
        })
    }

    async fn cleanup(self) {
        let stores = std::mem::take(&mut *self.stores.lock().unwrap());
        for store in stores {
            store.shutdown().await.unwrap();
        }
        let client = raw_client(&self.url).await;
        delete_keys(&client, &self.prefix).await;
        client.quit().await.unwrap();
    }
}

/// A store on `url` for one test: its own key prefix, a short TTL unless the test sets one, a
/// forgiving per-operation timeout and a small pool.
pub(crate) async fn open_test_store(
    url: &str,
    prefix: &str,
    mut config: SessionStoreConfig,
) -> Arc<dyn SessionStore> {
    config.key_prefix = prefix.to_owned();
    if config.ttl == SessionStoreConfig::default().ttl {
        config.ttl = TEST_TTL;
    }
    // The test machine is shared and busy; a timeout here would turn into a spurious outage.
    config.op_timeout = Duration::from_secs(2);
    config.pool_size = config
        .pool_size
        .min(std::num::NonZeroUsize::new(2).unwrap());
    Arc::new(RedisSessionStore::connect(url, config).await.unwrap())
}

impl Fixture for RedisFixture {
    async fn open(&self, config: SessionStoreConfig) -> Arc<dyn SessionStore> {
        let store = open_test_store(&self.url, &self.prefix, config).await;
        self.stores.lock().unwrap().push(Arc::clone(&store));
        store
    }

    /// Real time: expiry runs on Redis' clock.
    async fn elapse(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

macro_rules! redis_case {
    ($case:ident) => {
        #[tokio::test]
        async fn $case() {
            let Some(fx) = RedisFixture::new(stringify!($case)) else {
                return;
            };
            behaviour::$case(&fx).await;
            fx.cleanup().await;
        }
    };
}

behaviour_suite!(redis_case);

/// The documented layout: one hash per call with JSON-encoded fields and a TTL, and the active
/// index; ops and other tools rely on it.
#[tokio::test]
async fn layout_is_a_hash_of_json_values_with_ttl() {
    let Some(url) = test_redis_url() else { return };
    let prefix = unique_prefix("layout");
    let config = SessionStoreConfig {
        key_prefix: prefix.clone(),
        ttl: TEST_TTL,
        ..SessionStoreConfig::default()
    };
    let store = RedisSessionStore::connect(&url, config).await.unwrap();
    store
        .set_session(
            "CA1",
            obj(json!({"stream_sid": "MZ1", "total_tokens": 12, "history": []})),
        )
        .await
        .unwrap();

    let client = raw_client(&url).await;
    let mut stored: Vec<(String, String)> = client
        .hgetall::<std::collections::HashMap<String, String>, _>(format!("{prefix}{{CA1}}"))
        .await
        .unwrap()
        .into_iter()
        .collect();
    stored.sort();
    let want = [
        ("history", "[]"),
        ("stream_sid", "\"MZ1\""),
        ("total_tokens", "12"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|&(field, value)| (field.to_owned(), value.to_owned()))
        .collect();
    assert_eq!(stored, want);
    for key in [format!("{prefix}{{CA1}}"), format!("{prefix}index:active")] {
        let pttl_ms: i64 = client.pttl(&key).await.unwrap();
        assert!(
            pttl_ms > 0 && pttl_ms <= 600_000,
            "{key}: pttl {pttl_ms} ms"
        );
    }

    // A field someone else wrote that is not JSON is an error value, not a panic.
    let _: i64 = client
        .hset(format!("{prefix}{{CA1}}"), ("history", "not json"))
        .await
        .unwrap();
    let res = store.get_session("CA1").await;
    assert!(
        matches!(&res, Err(SessionStoreError::CorruptField { field, .. }) if field == "history"),
        "{res:?}"
    );

    store.shutdown().await.unwrap();
    delete_keys(&client, &prefix).await;
    client.quit().await.unwrap();
}

/// After `shutdown` the store refuses work instead of buffering it forever.
#[tokio::test]
async fn shutdown_store_refuses_operations() {
    let Some(url) = test_redis_url() else { return };
    let prefix = unique_prefix("shutdown");
    let config = SessionStoreConfig {
        key_prefix: prefix.clone(),
        ttl: TEST_TTL,
        ..SessionStoreConfig::default()
    };
    let store = RedisSessionStore::connect(&url, config).await.unwrap();
    store
        .set_session("CA1", obj(json!({"a": 1})))
        .await
        .unwrap();
    store.shutdown().await.unwrap();
    let res = store.update_session("CA1", obj(json!({"a": 2}))).await;
    assert!(
        matches!(res, Err(SessionStoreError::Closed { .. })),
        "{res:?}"
    );
    let res = store.get_session("CA1").await;
    assert!(
        matches!(res, Err(SessionStoreError::Closed { .. })),
        "{res:?}"
    );

    let client = raw_client(&url).await;
    delete_keys(&client, &prefix).await;
    client.quit().await.unwrap();
}

/// A Redis that is not there at startup is reported at once, not retried forever.
#[tokio::test]
async fn connect_to_nothing_fails_fast() {
    let port = crate::redis_server::free_port();
    let config = SessionStoreConfig {
        connect_timeout: Duration::from_secs(2),
        ..SessionStoreConfig::default()
    };
    let started = tokio::time::Instant::now();
    let res = RedisSessionStore::connect(&format!("redis://127.0.0.1:{port}"), config).await;
    assert!(
        matches!(res, Err(SessionStoreError::Connect { .. })),
        "{res:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn bad_url_is_a_typed_error() {
    let res = RedisSessionStore::connect("not a url", SessionStoreConfig::default()).await;
    assert!(
        matches!(res, Err(SessionStoreError::InvalidUrl { .. })),
        "{res:?}"
    );
}
