//! The behaviour every `SessionStore` backend must have. Each case takes a `Fixture` that opens
//! stores of the backend under test; `memory` and `redis` instantiate every case.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use session_store::{SessionStore, SessionStoreConfig, SessionStoreError, fields};

use crate::obj;

/// Opens stores of one backend and moves its clock.
pub(crate) trait Fixture {
    /// A store with `config` (the fixture may change the key prefix to isolate the test).
    async fn open(&self, config: SessionStoreConfig) -> Arc<dyn SessionStore>;

    /// Lets `duration` pass for the backend's clock.
    async fn elapse(&self, duration: Duration);

    /// A store with the default config.
    async fn open_default(&self) -> Arc<dyn SessionStore> {
        self.open(SessionStoreConfig::default()).await
    }
}

/// Instantiates every behaviour case as a test; `$run` is a macro taking the case's path.
macro_rules! behaviour_suite {
    ($run:ident) => {
        $run!(set_then_get_round_trips_json_values);
        $run!(update_merges_top_level_fields_like_the_seed);
        $run!(set_replaces_the_whole_session);
        $run!(update_creates_a_missing_session);
        $run!(missing_session_reads_as_none);
        $run!(delete_removes_the_session_and_its_active_entry);
        $run!(empty_set_means_no_session);
        $run!(list_active_follows_status);
        $run!(sessions_are_isolated_per_call);
        $run!(concurrent_merges_of_one_call_all_land);
        $run!(ttl_expires_idle_sessions_and_writes_refresh_it);
        $run!(invalid_call_sid_is_rejected);
        $run!(ping_answers);
        $run!(claims_are_exclusive_until_released_or_expired);
        $run!(instance_reports_replace_each_other_and_expire);
    };
}
pub(crate) use behaviour_suite;

pub(crate) async fn set_then_get_round_trips_json_values(fx: &impl Fixture) {
    let store = fx.open_default().await;
    let session = obj(json!({
        "stream_sid": "MZ0123",
        "caller_phone": "+15551234567",
        "started_at": "2025-01-12T10:00:00+00:00",
        "conversation_history": [],
        "int": 42, "float": 1.5, "neg": -7, "bool": false, "null": null,
        "unicode": "caf\u{e9} \u{1f697} \"quoted\" \\ back",
        "nested": {"a": [1, {"b": null}], "empty": {}},
    }));
    store.set_session("CA1", session.clone()).await.unwrap();
    assert_eq!(store.get_session("CA1").await.unwrap(), Some(session));
}

/// The seed's lifecycle: `set_session` at start, a per-turn update (step 6), a final update
/// (step 7).
pub(crate) async fn update_merges_top_level_fields_like_the_seed(fx: &impl Fixture) {
    let store = fx.open_default().await;
    let start = obj(json!({
        fields::STREAM_SID: "MZ1",
        fields::CALLER_PHONE: "+15551234567",
        fields::STARTED_AT: "2025-01-12T10:00:00+00:00",
        fields::CONVERSATION_HISTORY: [],
    }));
    store.set_session("CA1", start).await.unwrap();
    let turn = obj(json!({
        fields::CONVERSATION_HISTORY: [{"role": "user", "content": "hi"}],
        fields::LAST_UPDATED: "2025-01-12T10:00:05+00:00",
        fields::CONVERSATION_STATE: {"state": "intent_detection", "collected_slots": {"a": 1}},
    }));
    store.update_session("CA1", turn).await.unwrap();
    let end = obj(json!({
        fields::ENDED_AT: "2025-01-12T10:03:00+00:00",
        fields::CONVERSATION_HISTORY: [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "bye"}],
        fields::TOTAL_TOKENS: 812,
        fields::STATUS: "completed",
        // Nested objects are replaced whole, not deep-merged.
        fields::CONVERSATION_STATE: {"state": "closing"},
        fields::CONVERSATION_SUMMARY: {"call_type": "inbound_existing", "turn_count": 8},
        fields::ESCALATION_TRIGGERED: false,
    }));
    store.update_session("CA1", end).await.unwrap();

    let want = obj(json!({
        "stream_sid": "MZ1",
        "caller_phone": "+15551234567",
        "started_at": "2025-01-12T10:00:00+00:00",
        "conversation_history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "bye"}],
        "last_updated": "2025-01-12T10:00:05+00:00",
        "conversation_state": {"state": "closing"},
        "ended_at": "2025-01-12T10:03:00+00:00",
        "total_tokens": 812,
        "status": "completed",
        "conversation_summary": {"call_type": "inbound_existing", "turn_count": 8},
        "escalation_triggered": false,
    }));
    assert_eq!(store.get_session("CA1").await.unwrap(), Some(want));
}

pub(crate) async fn set_replaces_the_whole_session(fx: &impl Fixture) {
    let store = fx.open_default().await;
    store
        .set_session("CA1", obj(json!({"a": 1, "b": 2})))
        .await
        .unwrap();
    store
        .update_session("CA1", obj(json!({"c": 3})))
        .await
        .unwrap();
    store
        .set_session("CA1", obj(json!({"b": "new"})))
        .await
        .unwrap();
    assert_eq!(
        store.get_session("CA1").await.unwrap(),
        Some(obj(json!({"b": "new"})))
    );
}

pub(crate) async fn update_creates_a_missing_session(fx: &impl Fixture) {
    let store = fx.open_default().await;
    store
        .update_session("CA1", obj(json!({"status": "in_progress"})))
        .await
        .unwrap();
    assert_eq!(
        store.get_session("CA1").await.unwrap(),
        Some(obj(json!({"status": "in_progress"})))
    );
    assert_eq!(store.list_active().await.unwrap(), ["CA1"]);
}

pub(crate) async fn missing_session_reads_as_none(fx: &impl Fixture) {
    let store = fx.open_default().await;
    assert_eq!(store.get_session("CA-never-written").await.unwrap(), None);
    assert_eq!(store.list_active().await.unwrap(), Vec::<String>::new());
}

pub(crate) async fn delete_removes_the_session_and_its_active_entry(fx: &impl Fixture) {
    let store = fx.open_default().await;
    store
        .set_session("CA1", obj(json!({"a": 1})))
        .await
        .unwrap();
    store
        .set_session("CA2", obj(json!({"a": 2})))
        .await
        .unwrap();
    store.delete_session("CA1").await.unwrap();
    assert_eq!(store.get_session("CA1").await.unwrap(), None);
    assert_eq!(store.list_active().await.unwrap(), ["CA2"]);
    // Deleting again, or deleting what never existed, is fine.
    store.delete_session("CA1").await.unwrap();
    store.delete_session("CA-never-written").await.unwrap();
    // An update after a delete starts a fresh session.
    store
        .update_session("CA1", obj(json!({"b": 1})))
        .await
        .unwrap();
    assert_eq!(
        store.get_session("CA1").await.unwrap(),
        Some(obj(json!({"b": 1})))
    );
}

pub(crate) async fn empty_set_means_no_session(fx: &impl Fixture) {
    let store = fx.open_default().await;
    store
        .set_session("CA1", obj(json!({"a": 1})))
        .await
        .unwrap();
    store.set_session("CA1", obj(json!({}))).await.unwrap();
    assert_eq!(store.get_session("CA1").await.unwrap(), None);
    assert_eq!(store.list_active().await.unwrap(), Vec::<String>::new());
    // An empty merge into nothing creates nothing.
    store.update_session("CA2", obj(json!({}))).await.unwrap();
    assert_eq!(store.get_session("CA2").await.unwrap(), None);
}

pub(crate) async fn list_active_follows_status(fx: &impl Fixture) {
    let store = fx.open_default().await;
    store
        .set_session("CA3", obj(json!({"stream_sid": "MZ3"})))
        .await
        .unwrap();
    store
        .set_session("CA1", obj(json!({"stream_sid": "MZ1"})))
        .await
        .unwrap();
    store
        .set_session("CA2", obj(json!({"status": "in_progress"})))
        .await
        .unwrap();
    assert_eq!(store.list_active().await.unwrap(), ["CA1", "CA2", "CA3"]);

    store
        .update_session("CA2", obj(json!({"status": "completed"})))
        .await
        .unwrap();
    assert_eq!(store.list_active().await.unwrap(), ["CA1", "CA3"]);
    // A late write that leaves the status alone does not bring an ended call back.
    store
        .update_session("CA2", obj(json!({"conversation_history": []})))
        .await
        .unwrap();
    assert_eq!(store.list_active().await.unwrap(), ["CA1", "CA3"]);

    for (call_sid, status) in [("CA1", "ended"), ("CA3", "failed")] {
        store
            .update_session(call_sid, obj(json!({"status": status})))
            .await
            .unwrap();
    }
    assert_eq!(store.list_active().await.unwrap(), Vec::<String>::new());

    // A non-terminal status (or a non-string one) makes the call active again.
    store
        .update_session("CA1", obj(json!({"status": "in_progress"})))
        .await
        .unwrap();
    store
        .update_session("CA3", obj(json!({"status": ["completed"]})))
        .await
        .unwrap();
    assert_eq!(store.list_active().await.unwrap(), ["CA1", "CA3"]);
    // The sessions of ended calls are kept until their TTL.
    assert_eq!(
        store.get_session("CA2").await.unwrap(),
        Some(obj(
            json!({"status": "completed", "conversation_history": []})
        ))
    );
}

pub(crate) async fn sessions_are_isolated_per_call(fx: &impl Fixture) {
    let store = fx.open_default().await;
    store
        .set_session("CA1", obj(json!({"a": 1})))
        .await
        .unwrap();
    store
        .set_session("CA2", obj(json!({"a": 2})))
        .await
        .unwrap();
    store
        .update_session("CA1", obj(json!({"b": 1})))
        .await
        .unwrap();
    store.delete_session("CA2").await.unwrap();
    store
        .set_session("CA2", obj(json!({"c": 2})))
        .await
        .unwrap();
    assert_eq!(
        store.get_session("CA1").await.unwrap(),
        Some(obj(json!({"a": 1, "b": 1})))
    );
    assert_eq!(
        store.get_session("CA2").await.unwrap(),
        Some(obj(json!({"c": 2})))
    );
}

/// A read-modify-write merge would lose fields here; the store's merge must be atomic.
pub(crate) async fn concurrent_merges_of_one_call_all_land(fx: &impl Fixture) {
    const N_WRITERS: usize = 20;
    let store = fx.open_default().await;
    store
        .set_session("CA1", obj(json!({"start": true})))
        .await
        .unwrap();
    let mut writers = tokio::task::JoinSet::new();
    for writer_idx in 0..N_WRITERS {
        let store = Arc::clone(&store);
        writers.spawn(async move {
            let fields = obj(json!({ format!("field_{writer_idx}"): writer_idx }));
            store.update_session("CA1", fields).await
        });
    }
    while let Some(res) = writers.join_next().await {
        res.unwrap().unwrap();
    }
    let session = store.get_session("CA1").await.unwrap().unwrap();
    assert_eq!(session.len(), N_WRITERS + 1, "{session:?}");
    for writer_idx in 0..N_WRITERS {
        assert_eq!(session[&format!("field_{writer_idx}")], json!(writer_idx));
    }
}

pub(crate) async fn ttl_expires_idle_sessions_and_writes_refresh_it(fx: &impl Fixture) {
    const TTL: Duration = Duration::from_secs(2);
    let store = fx
        .open(SessionStoreConfig {
            ttl: TTL,
            ..SessionStoreConfig::default()
        })
        .await;
    store
        .set_session("CA1", obj(json!({"a": 1})))
        .await
        .unwrap();
    store
        .set_session("CA2", obj(json!({"a": 2})))
        .await
        .unwrap();
    fx.elapse(TTL * 6 / 10).await;
    // CA1 is written again, CA2 is left idle.
    store
        .update_session("CA1", obj(json!({"b": 1})))
        .await
        .unwrap();
    fx.elapse(TTL * 6 / 10).await;
    assert_eq!(
        store.get_session("CA1").await.unwrap(),
        Some(obj(json!({"a": 1, "b": 1})))
    );
    assert_eq!(store.get_session("CA2").await.unwrap(), None);
    assert_eq!(store.list_active().await.unwrap(), ["CA1"]);
    fx.elapse(TTL + Duration::from_millis(100)).await;
    assert_eq!(store.get_session("CA1").await.unwrap(), None);
    assert_eq!(store.list_active().await.unwrap(), Vec::<String>::new());
    // An update after expiry starts from nothing.
    store
        .update_session("CA1", obj(json!({"c": 1})))
        .await
        .unwrap();
    assert_eq!(
        store.get_session("CA1").await.unwrap(),
        Some(obj(json!({"c": 1})))
    );
}

pub(crate) async fn invalid_call_sid_is_rejected(fx: &impl Fixture) {
    let store = fx.open_default().await;
    let too_long = "C".repeat(65);
    for call_sid in ["", "CA 1", "voice:session:x", "CA*", too_long.as_str()] {
        let results = [
            store.set_session(call_sid, obj(json!({"a": 1}))).await,
            store.update_session(call_sid, obj(json!({"a": 1}))).await,
            store.get_session(call_sid).await.map(drop),
            store.delete_session(call_sid).await,
        ];
        for res in results {
            assert!(
                matches!(res, Err(SessionStoreError::InvalidCallSid { .. })),
                "{call_sid:?}: {res:?}"
            );
        }
    }
    assert_eq!(store.list_active().await.unwrap(), Vec::<String>::new());
}

pub(crate) async fn ping_answers(fx: &impl Fixture) {
    let store = fx.open_default().await;
    store.ping().await.unwrap();
}

/// A claim is held by one owner: others are refused until it is released by its owner or expires,
/// and it is shared by every store on the same backend (two gateways on one Redis).
pub(crate) async fn claims_are_exclusive_until_released_or_expired(fx: &impl Fixture) {
    const TTL: Duration = Duration::from_millis(600);
    let store = fx.open_default().await;
    assert!(!store.is_claimed("live_CA1").await.unwrap());
    assert!(store.claim("live_CA1", "gw-a", TTL).await.unwrap());
    assert!(store.is_claimed("live_CA1").await.unwrap());
    assert!(!store.claim("live_CA1", "gw-b", TTL).await.unwrap());
    assert!(!store.claim("live_CA1", "gw-a", TTL).await.unwrap());
    // The first claim's owner is what the key holds (how webhooks leave signals for a call).
    assert_eq!(
        store.claim_holder("live_CA1").await.unwrap().as_deref(),
        Some("gw-a")
    );
    assert_eq!(store.claim_holder("live_CA9").await.unwrap(), None);
    // A different key is free; claims never show up as sessions.
    assert!(store.claim("live_CA2", "gw-b", TTL).await.unwrap());
    assert_eq!(store.get_session("live_CA1").await.unwrap(), None);
    assert_eq!(store.list_active().await.unwrap(), Vec::<String>::new());
    // Only the owner's release counts.
    store.release("live_CA1", "gw-b").await.unwrap();
    assert!(!store.claim("live_CA1", "gw-b", TTL).await.unwrap());
    store.release("live_CA1", "gw-a").await.unwrap();
    assert!(store.claim("live_CA1", "gw-b", TTL).await.unwrap());
    // Expiry frees a claim nobody released.
    fx.elapse(TTL + Duration::from_millis(200)).await;
    assert!(!store.is_claimed("live_CA2").await.unwrap());
    assert_eq!(store.claim_holder("live_CA2").await.unwrap(), None);
    assert!(store.claim("live_CA2", "gw-c", TTL).await.unwrap());
    assert!(matches!(
        store.claim("bad key", "gw-a", TTL).await,
        Err(SessionStoreError::InvalidCallSid { .. })
    ));
}

/// The fleet view: each instance's latest report, gone once it is not renewed. (That every
/// gateway on one Redis sees the others' reports is the Redis backend's: each store there is a
/// client of the same server; `e2e_tests/fleet.rs` shows it across gateways.)
pub(crate) async fn instance_reports_replace_each_other_and_expire(fx: &impl Fixture) {
    let one = fx.open_default().await;
    let other = &one;
    let ttl = Duration::from_millis(1500);
    one.publish_instance("gw-a", json!({"active_calls": 1}), ttl)
        .await
        .unwrap();
    one.publish_instance("gw-a", json!({"active_calls": 2}), ttl)
        .await
        .unwrap();
    other
        .publish_instance(
            "gw-b",
            json!({"active_calls": 0, "draining": true}),
            ttl * 4,
        )
        .await
        .unwrap();
    assert_eq!(
        other.list_instances().await.unwrap(),
        vec![
            ("gw-a".to_owned(), json!({"active_calls": 2})),
            (
                "gw-b".to_owned(),
                json!({"active_calls": 0, "draining": true})
            ),
        ]
    );
    assert!(one.publish_instance("gw:a", json!({}), ttl).await.is_err());
    fx.elapse(ttl + Duration::from_millis(500)).await;
    let left: Vec<String> = one
        .list_instances()
        .await
        .unwrap()
        .into_iter()
        .map(|(instance, _)| instance)
        .collect();
    assert_eq!(left, ["gw-b"]);
}
