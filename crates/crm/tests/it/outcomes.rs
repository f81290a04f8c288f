//! The end-of-call webhook's queue: a row per finished call, written with its final record,
//! claimed by one worker at a time, delivered or retried or given up.

use chrono::Duration;
use crm::TokenUsage as Usage;
use crm::{CallDirection, CallRecord, CrmConfig, outcomes::CallOutcome};
use serde_json::json;

use crate::harness::{TestDb, both_backends, config, local, shop};

both_backends!(
    finished_calls_are_queued_claimed_once_and_delivered_or_retried,
    a_recording_is_kept_on_the_call_whichever_lands_first_and_retention_finds_old_ones
);

async fn a_recording_is_kept_on_the_call_whichever_lands_first_and_retention_finds_old_ones(
    db: TestDb,
) {
    let crm = &db.crm;
    let at = local(2026, 11, 24, 9, 5);
    // The report comes before any record of the call: a placeholder holds it; the start
    // record adds nothing and the final record keeps it.
    crm.set_call_recording("CA9", "RE9", "https://rec/RE9", at)
        .await
        .unwrap();
    crm.record_call(&record("CA9", false)).await.unwrap();
    crm.record_call(&record("CA9", true)).await.unwrap();
    let stored = crm.get_call("CA9").await.unwrap().unwrap();
    assert_eq!(stored.status, "completed");
    assert_eq!(stored.caller_phone, "+14135550150");
    let recording = crm.call_recording("CA9").await.unwrap().unwrap();
    assert_eq!(
        (recording.recording_sid.as_str(), recording.url.as_str()),
        ("RE9", "https://rec/RE9")
    );
    // The usual order: record first, then the report.
    crm.record_call(&record("CA8", true)).await.unwrap();
    crm.set_call_recording("CA8", "RE8", "https://rec/RE8", at)
        .await
        .unwrap();
    let started = local(2026, 11, 24, 9, 0);
    assert!(
        crm.recordings_to_delete(started, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let old = crm
        .recordings_to_delete(started + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(old.len(), 2);
    crm.recording_deleted("CA9", at).await.unwrap();
    let left = crm
        .recordings_to_delete(started + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|r| r.call_sid.as_str()).collect::<Vec<_>>(),
        ["CA8"]
    );
    assert!(crm.call_recording("CA7").await.unwrap().is_none());
}

fn record(call_sid: &str, ended: bool) -> CallRecord {
    CallRecord {
        call_sid: call_sid.into(),
        customer_id: None,
        caller_phone: "+14135550150".into(),
        direction: CallDirection::Inbound,
        call_type: Some("inbound_new".into()),
        started_at: local(2026, 11, 24, 9, 0),
        ended_at: ended.then(|| local(2026, 11, 24, 9, 3)),
        status: if ended { "completed" } else { "in_progress" }.into(),
        summary: Some(json!({"conversation": {"state": "execution", "intent": "check_hours"}})),
        transcript: Some(json!([])),
        escalated: false,
        escalation_reason: None,
        usage: Usage::default(),
    }
}

async fn finished_calls_are_queued_claimed_once_and_delivered_or_retried(db: TestDb) {
    // Without the setting nothing is queued.
    db.crm.record_call(&record("CA_OFF", true)).await.unwrap();
    let crm = crm::connect_and_migrate(
        &db.url,
        &CrmConfig {
            queue_outcomes: true,
            ..config()
        },
        shop(),
    )
    .await
    .unwrap();
    let ended = local(2026, 11, 24, 9, 3);
    crm.record_call(&record("CA1", false)).await.unwrap();
    assert!(
        crm.outcome_delivery("CA1").await.unwrap().is_none(),
        "not while in progress"
    );
    crm.record_call(&record("CA1", true)).await.unwrap();
    crm.record_call(&record("CA1", true)).await.unwrap();
    assert!(crm.outcome_delivery("CA_OFF").await.unwrap().is_none());
    assert_eq!(crm.due_outcomes(ended, 10).await.unwrap(), ["CA1"]);

    // One worker claims it; another cannot while the lease runs.
    assert!(
        crm.claim_outcome("CA1", ended, Duration::seconds(30))
            .await
            .unwrap()
    );
    assert!(
        !crm.claim_outcome("CA1", ended, Duration::seconds(30))
            .await
            .unwrap()
    );
    assert!(crm.due_outcomes(ended, 10).await.unwrap().is_empty());

    // A failed attempt comes back at its retry time.
    let retry = ended + Duration::seconds(10);
    crm.outcome_attempt_failed("CA1", "HTTP 500", Some(retry), ended)
        .await
        .unwrap();
    assert!(crm.due_outcomes(ended, 10).await.unwrap().is_empty());
    assert_eq!(crm.due_outcomes(retry, 10).await.unwrap(), ["CA1"]);
    assert!(
        crm.claim_outcome("CA1", retry, Duration::seconds(30))
            .await
            .unwrap()
    );
    crm.outcome_delivered("CA1", retry).await.unwrap();
    let delivery = crm.outcome_delivery("CA1").await.unwrap().unwrap();
    assert_eq!(delivery.attempts, 2);
    assert_eq!(delivery.delivered_at, Some(retry));
    assert_eq!(delivery.last_error.as_deref(), Some("HTTP 500"));
    assert!(
        crm.due_outcomes(retry + Duration::hours(1), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A call the gateway never finished (it died) is closed by Twilio's status and queued too.
    crm.record_call(&record("CA2", false)).await.unwrap();
    assert!(
        crm.close_open_call("CA2", ended, "interrupted")
            .await
            .unwrap()
    );
    assert_eq!(crm.due_outcomes(ended, 10).await.unwrap(), ["CA2"]);
    crm.outcome_attempt_failed("CA2", "could not connect", None, ended)
        .await
        .unwrap();
    assert!(
        crm.due_outcomes(retry, 10).await.unwrap().is_empty(),
        "given up"
    );
    assert_eq!(
        crm.outcome_delivery("CA2")
            .await
            .unwrap()
            .unwrap()
            .failed_at,
        Some(ended)
    );

    let report = crm.outcome_report("CA1").await.unwrap().unwrap();
    assert_eq!(report.outcome, CallOutcome::Answered);
    assert_eq!(report.duration_seconds, Some(180));
    assert_eq!(report.caller_phone.as_deref(), Some("+14135550150"));
    let _ = crm.close().await;
}
