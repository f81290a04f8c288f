use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::json;
use session_store::{MemorySessionStore, SessionFields, SessionStoreConfig, SessionStoreError};
use twilio::media::{Inbound, decode};

use super::*;
use crate::token::{STREAM_TOKEN_PARAMETER, issue_stream_token};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap()
}

fn admission(shared: Arc<dyn SessionStore>, instance: &str, max_calls: usize) -> StreamAdmission {
    StreamAdmission::new(
        Arc::from(SECRET),
        AdmissionConfig {
            account_sid: Some(ACCOUNT.to_owned()),
            token_lifetime: Duration::from_secs(120),
            live_claim_ttl: Duration::from_secs(3600),
            max_calls,
            max_pending: 2,
            instance: instance.to_owned(),
        },
        shared,
    )
}

fn memory() -> Arc<dyn SessionStore> {
    Arc::new(MemorySessionStore::new(&SessionStoreConfig::default()).unwrap())
}

/// The `start` Twilio sends for a stream announced with a token issued at `now() + issued_secs`.
fn start(call_sid: &str, account: &str, nonce: &str, from: &str) -> Start {
    start_with(
        call_sid,
        account,
        nonce,
        &[("From", from), ("direction", "inbound")],
    )
}

/// A `start` whose token signs `params`.
fn start_with(call_sid: &str, account: &str, nonce: &str, params: &[(&str, &str)]) -> Start {
    let params = params.iter().copied();
    let token = issue_stream_token(SECRET, call_sid, ACCOUNT, params.clone(), now(), nonce);
    let mut custom: HashMap<&str, &str> = params.collect();
    custom.insert(STREAM_TOKEN_PARAMETER, &token);
    let frame = json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {
        "accountSid": account, "streamSid": "MZ1", "callSid": call_sid, "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": custom}});
    match decode(&frame.to_string()).unwrap() {
        Inbound::Start(start) => start,
        other => panic!("{other:?}"),
    }
}

fn label(res: &Result<Admitted, Refusal>) -> &'static str {
    match res {
        Ok(_) => "admitted",
        Err(refusal) => refusal.label(),
    }
}

#[tokio::test]
async fn a_token_is_used_once_across_instances_and_one_stream_per_call_is_live() {
    let redis_like = memory();
    let a = admission(redis_like.clone(), "gw-a", 10);
    let b = admission(redis_like, "gw-b", 10);
    let first = a
        .admit(&start("CA1", ACCOUNT, "n1", "+14135550100"), now())
        .await;
    assert_eq!(label(&first), "admitted");
    // The same token again, on this instance or another: refused.
    let again = start("CA1", ACCOUNT, "n1", "+14135550100");
    assert_eq!(label(&a.admit(&again, now()).await), "token_replayed");
    assert_eq!(label(&b.admit(&again, now()).await), "token_replayed");
    // A fresh token for the same call while its stream is live: refused.
    let second = start("CA1", ACCOUNT, "n2", "+14135550100");
    assert_eq!(label(&b.admit(&second, now()).await), "already_live");
    // Once the stream ended normally, the call is over: no new token is accepted for it.
    let first = first.unwrap();
    first.mark_ended("completed").await;
    first.release().await;
    let third = start("CA1", ACCOUNT, "n3", "+14135550100");
    assert_eq!(label(&b.admit(&third, now()).await), "call_ended");
}

#[tokio::test]
async fn forged_foreign_and_late_streams_are_refused() {
    let gate = admission(memory(), "gw", 10);
    let mut forged = start("CA1", ACCOUNT, "n1", "+14135550100");
    forged
        .custom_parameters
        .insert("From".to_owned(), "+14135550101".to_owned());
    assert_eq!(label(&gate.admit(&forged, now()).await), "forged_token");
    let foreign = start("CA1", "AC_someone_else", "n2", "+14135550100");
    assert_eq!(label(&gate.admit(&foreign, now()).await), "forged_token");
    let late = start("CA1", ACCOUNT, "n3", "+14135550100");
    let later = now() + chrono::Duration::seconds(121);
    assert_eq!(label(&gate.admit(&late, later).await), "expired_token");
    let mut bare = start("CA1", ACCOUNT, "n4", "+14135550100");
    bare.custom_parameters.remove(STREAM_TOKEN_PARAMETER);
    assert_eq!(label(&gate.admit(&bare, now()).await), "missing_token");
    assert_eq!(gate.active_calls(), 0);
}

#[tokio::test]
async fn a_token_signed_for_another_account_than_configured_is_refused() {
    // Same secret, but this gateway serves another account.
    let gate = StreamAdmission::new(
        Arc::from(SECRET),
        AdmissionConfig {
            account_sid: Some("AC_other".to_owned()),
            ..admission(memory(), "gw", 1).config.clone()
        },
        memory(),
    );
    let stream = start("CA1", ACCOUNT, "n1", "+14135550100");
    assert_eq!(label(&gate.admit(&stream, now()).await), "account_mismatch");
}

#[tokio::test]
async fn only_admitted_streams_take_call_slots_and_pending_sockets_have_their_own_cap() {
    let gate = admission(memory(), "gw", 1);
    let pending: Vec<_> = (0..3).map(|_| gate.try_begin()).collect();
    assert_eq!(
        pending.iter().map(Option::is_some).collect::<Vec<_>>(),
        [true, true, false]
    );
    // Junk sockets waiting for `start` do not count against calls.
    assert!(gate.has_capacity());
    let call = gate
        .admit(&start("CA1", ACCOUNT, "n1", "+14135550100"), now())
        .await
        .unwrap();
    assert_eq!(gate.active_calls(), 1);
    assert!(!gate.has_capacity());
    let over = gate
        .admit(&start("CA2", ACCOUNT, "n2", "+14135550101"), now())
        .await;
    assert_eq!(label(&over), "at_capacity");
    pending[0].as_ref().unwrap().free();
    assert!(gate.try_begin().is_some());
    call.release().await;
    assert_eq!(gate.active_calls(), 0);
    // The refused call's live claim was released (and it was not marked ended): it can come
    // back with a new token.
    let back = gate
        .admit(&start("CA2", ACCOUNT, "n3", "+14135550101"), now())
        .await;
    assert_eq!(label(&back), "admitted");
}

/// A shared store that is down.
#[derive(Debug)]
struct DownStore;

#[async_trait]
impl SessionStore for DownStore {
    async fn set_session(&self, _: &str, _: SessionFields) -> Result<(), SessionStoreError> {
        unreachable!("admission never writes sessions")
    }
    async fn update_session(&self, _: &str, _: SessionFields) -> Result<(), SessionStoreError> {
        unreachable!("admission never writes sessions")
    }
    async fn get_session(&self, _: &str) -> Result<Option<SessionFields>, SessionStoreError> {
        unreachable!("admission never reads sessions")
    }
    async fn delete_session(&self, _: &str) -> Result<(), SessionStoreError> {
        unreachable!("admission never deletes sessions")
    }
    async fn list_active(&self) -> Result<Vec<String>, SessionStoreError> {
        unreachable!("admission never lists sessions")
    }
    async fn publish_instance(
        &self,
        _: &str,
        _: serde_json::Value,
        _: Duration,
    ) -> Result<(), SessionStoreError> {
        unreachable!("admission never reports the instance")
    }
    async fn list_instances(&self) -> Result<Vec<(String, serde_json::Value)>, SessionStoreError> {
        unreachable!("admission never lists instances")
    }
    async fn ping(&self) -> Result<(), SessionStoreError> {
        Err(SessionStoreError::Unavailable {
            op: "ping",
            source: None,
        })
    }
    async fn claim(&self, _: &str, _: &str, _: Duration) -> Result<bool, SessionStoreError> {
        Err(SessionStoreError::Unavailable {
            op: "claim",
            source: None,
        })
    }
    async fn release(&self, _: &str, _: &str) -> Result<(), SessionStoreError> {
        Err(SessionStoreError::Unavailable {
            op: "release",
            source: None,
        })
    }
    async fn claim_holder(&self, _: &str) -> Result<Option<String>, SessionStoreError> {
        Err(SessionStoreError::Unavailable {
            op: "claim_holder",
            source: None,
        })
    }
}

#[tokio::test]
async fn with_the_shared_store_down_streams_are_refused_and_handed_off() {
    let gate = admission(Arc::new(DownStore), "gw", 10);
    let stream = start("CA1", ACCOUNT, "n1", "+14135550100");
    let refused = gate.admit(&stream, now()).await;
    assert_eq!(label(&refused), "claims_unavailable");
    assert!(refused.unwrap_err().hands_off());
    assert_eq!(gate.active_calls(), 0);
}

#[tokio::test]
async fn an_ended_call_is_never_admitted_again_but_a_crashed_one_can_resume() {
    let store = memory();
    let gate = admission(store.clone(), "gw", 10);
    let first = gate
        .admit(&start("CA1", ACCOUNT, "n1", "+14135550100"), now())
        .await
        .unwrap();
    first.mark_ended("completed").await;
    first.release().await;
    // A replayed webhook minted a fresh token for the finished call: refused.
    let replayed = start("CA1", ACCOUNT, "n2", "+14135550100");
    assert_eq!(label(&gate.admit(&replayed, now()).await), "call_ended");
    // A call whose task died (dropped without release) is not marked ended; its live claim is
    // freed in the background, so the call can resume with a new token.
    let crashed = gate
        .admit(&start("CA2", ACCOUNT, "n3", "+14135550101"), now())
        .await
        .unwrap();
    drop(crashed);
    tokio::task::yield_now().await;
    let resumed = start("CA2", ACCOUNT, "n4", "+14135550101");
    assert_eq!(label(&gate.admit(&resumed, now()).await), "admitted");
}

#[tokio::test]
async fn only_a_resume_token_takes_over_the_claim_of_a_gateway_that_died() {
    let store = memory();
    let crashed_gateway = admission(store.clone(), "gw-a", 10);
    let survivor = admission(store.clone(), "gw-b", 10);
    let params = [("From", "+14135550100"), ("direction", "inbound")];
    let first = crashed_gateway
        .admit(&start_with("CA1", ACCOUNT, "n1", &params), now())
        .await
        .unwrap();
    // The process died: nothing was released, nothing marked ended.
    std::mem::forget(first);
    let plain = start_with("CA1", ACCOUNT, "n2", &params);
    assert_eq!(label(&survivor.admit(&plain, now()).await), "already_live");
    let resume = [
        ("From", "+14135550100"),
        ("direction", "inbound"),
        (RESUME_PARAMETER, "1"),
    ];
    let resumed = survivor
        .admit(&start_with("CA1", ACCOUNT, "n3", &resume), now())
        .await;
    assert_eq!(label(&resumed), "admitted");
    // The claim is the survivor's now: an ordinary token still meets a live stream.
    let again = start_with("CA1", ACCOUNT, "n4", &params);
    assert_eq!(label(&survivor.admit(&again, now()).await), "already_live");
    // A resume token cannot reopen a call that ended on purpose.
    let resumed = resumed.unwrap();
    resumed.mark_ended("completed").await;
    resumed.release().await;
    let late = start_with("CA1", ACCOUNT, "n5", &resume);
    assert_eq!(label(&survivor.admit(&late, now()).await), "call_ended");
    assert_eq!(
        store
            .claim_holder(&ended_mark_key("CA1"))
            .await
            .unwrap()
            .as_deref(),
        Some("completed")
    );
}

#[tokio::test]
async fn a_call_is_resumed_at_most_max_resumes_times_fleet_wide() {
    let store = memory();
    let a = admission(store.clone(), "gw-a", 10);
    let b = admission(store, "gw-b", 10);
    assert!(a.claim_resume("CA1").await.unwrap());
    assert!(b.claim_resume("CA1").await.unwrap());
    assert_eq!(MAX_RESUMES, 2);
    assert!(!a.claim_resume("CA1").await.unwrap());
    assert!(b.claim_resume("CA2").await.unwrap(), "counted per call");
}

#[test]
fn an_ended_marks_status_name_reads_back() {
    use crate::CallStatus;
    for status in [
        CallStatus::Completed,
        CallStatus::Transferred,
        CallStatus::Rejected,
        CallStatus::Failed,
        CallStatus::Voicemail,
        CallStatus::Lost,
    ] {
        assert_eq!(CallStatus::from_name(status.as_str()), Some(status));
    }
    assert_eq!(CallStatus::from_name("hung_up"), None);
}
