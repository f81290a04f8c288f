//! The webhook worker against a local receiver that answers 500 and then 200, over a SQLite
//! CRM, at a clock the test moves.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicI64, Ordering},
};

use axum::{Router, extract::State, http::HeaderMap, routing::post};
use crm::{CallDirection, CallRecord};
use serde_json::{Value, json};

use super::*;

/// What the receiver got, in order, and a count that changes with each request.
#[derive(Default)]
pub(crate) struct ReceivedLog {
    requests: Mutex<Vec<(HeaderMap, Vec<u8>)>>,
    count: tokio::sync::watch::Sender<usize>,
}

impl ReceivedLog {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(HeaderMap, Vec<u8>)>> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits (at most 10 s) until `count` requests came; panics with `what` otherwise.
    pub(crate) async fn wait_for(&self, count: usize, what: &str) {
        let mut changes = self.count.subscribe();
        tokio::time::timeout(Duration::from_secs(10), changes.wait_for(|n| *n >= count))
            .await
            .unwrap_or_else(|_| panic!("{what}"))
            .expect("the receiver is alive");
    }
}

pub(crate) type Received = Arc<ReceivedLog>;

/// A receiver that answers with `statuses` in turn (then 200), recording every request.
pub(crate) async fn receiver(statuses: Vec<u16>) -> (url::Url, Received) {
    let received: Received = Arc::default();
    let statuses = Arc::new(Mutex::new(statuses));
    let app = Router::new()
        .route(
            "/hooks/calls",
            post(
                |State((received, statuses)): State<(Received, Arc<Mutex<Vec<u16>>>)>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    received.lock().push((headers, body.to_vec()));
                    received.count.send_modify(|n| *n += 1);
                    let mut statuses = statuses.lock().unwrap();
                    let status = if statuses.is_empty() {
                        200
                    } else {
                        statuses.remove(0)
                    };
                    axum::http::StatusCode::from_u16(status).unwrap()
                },
            ),
        )
        .with_state((received.clone(), statuses));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/calls", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url::Url::parse(&url).unwrap(), received)
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A finished call that booked an oil change.
fn booked(call_sid: &str) -> CallRecord {
    let result = json!({"ok": true, "appointment": {"id": 41, "service": "oil change", "start": "2026-12-01T14:00"}});
    CallRecord {
        call_sid: call_sid.into(),
        customer_id: None,
        caller_phone: "+14135550150".into(),
        direction: CallDirection::Inbound,
        call_type: Some("inbound_new".into()),
        started_at: at("2026-11-24T15:00:00Z"),
        ended_at: Some(at("2026-11-24T15:02:30Z")),
        status: "completed".into(),
        summary: Some(
            json!({"conversation": {"state": "closing", "intent": "schedule_appointment"}}),
        ),
        transcript: Some(json!([
            {"role": "user", "content": "I need an oil change"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "name": "book_appointment", "arguments": "{}"}]},
            {"role": "tool", "tool_call_id": "c1", "content": result.to_string()},
            {"role": "assistant", "content": "You're all set."}
        ])),
        escalated: false,
        escalation_reason: None,
        usage: crm::TokenUsage::default(),
    }
}

async fn crm_at(url: &str) -> crm::Crm {
    crm::connect_and_migrate(
        url,
        &crm::CrmConfig {
            queue_outcomes: true,
            ..crm::CrmConfig::default()
        },
        conversation::ShopConfig::default_shop(),
    )
    .await
    .unwrap()
}

const SECRET: &str = "webhook-secret-0123456789";

fn worker(crm: crm::Crm, url: url::Url, offset: Arc<AtomicI64>) -> OutcomeWebhook {
    let clock: Clock = Arc::new(move || {
        at("2026-11-24T15:03:00Z") + chrono::Duration::seconds(offset.load(Ordering::SeqCst))
    });
    OutcomeWebhook::new(
        crm,
        url,
        SECRET.to_owned(),
        clock,
        WebhookTiming {
            first_backoff: Duration::from_secs(10),
            ..WebhookTiming::default()
        },
    )
    .unwrap()
}

/// A 500 is retried after the backoff with the same idempotency key; each request is signed;
/// once delivered nothing is sent again; a call queued before a restart is delivered by the
/// next worker; a delivery that keeps failing is given up after `max_attempts`.
#[tokio::test]
async fn outcomes_are_signed_retried_and_delivered_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/crm.db?mode=rwc", dir.path().display());
    let (url, received) = receiver(vec![500]).await;
    let offset = Arc::new(AtomicI64::new(0));
    let crm = crm_at(&db).await;
    crm.record_call(&booked("CA1")).await.unwrap();
    let first = worker(crm.clone(), url.clone(), offset.clone());
    assert_eq!(first.deliver_due().await, 0, "the receiver answered 500");
    assert_eq!(
        first.deliver_due().await,
        0,
        "not due again before the backoff"
    );
    assert_eq!(received.lock().len(), 1);
    offset.store(10, Ordering::SeqCst);
    assert_eq!(first.deliver_due().await, 1);
    assert_eq!(first.deliver_due().await, 0, "delivered once");
    {
        let received = received.lock();
        assert_eq!(received.len(), 2);
        for (headers, body) in received.iter() {
            assert_eq!(headers["idempotency-key"], "CA1");
            assert_eq!(headers["content-type"], "application/json");
            let signed = headers["x-voice-gateway-signature"].to_str().unwrap();
            let t: i64 = signed
                .strip_prefix("t=")
                .and_then(|rest| rest.split(',').next())
                .unwrap()
                .parse()
                .unwrap();
            let sent_at = DateTime::from_timestamp(t, 0).unwrap();
            assert_eq!(
                signed,
                signature(SECRET, sent_at, body),
                "the receiver can verify it"
            );
        }
        let report: Value = serde_json::from_slice(&received[1].1).unwrap();
        assert_eq!(report["event"], "call.ended");
        assert_eq!(report["outcome"], "booked");
        assert_eq!(report["appointment"]["id"], 41);
        assert_eq!(report["duration_seconds"], 150);
        assert_eq!(report["caller_phone"], "+14135550150");
    }

    // A restart: the record of CA2 landed, the gateway stopped before sending it.
    crm.record_call(&booked("CA2")).await.unwrap();
    drop(first);
    crm.close().await.unwrap();
    let after_restart = worker(crm_at(&db).await, url.clone(), offset.clone());
    assert_eq!(after_restart.deliver_due().await, 1);
    assert_eq!(received.lock().len(), 3);
    assert_eq!(received.lock()[2].0["idempotency-key"], "CA2");

    // A receiver that is never there: retried with growing gaps, then given up.
    let gone = url::Url::parse("http://127.0.0.1:9/hooks").unwrap();
    let crm = crm_at(&db).await;
    crm.record_call(&booked("CA3")).await.unwrap();
    let mut failing = worker(crm.clone(), gone, offset.clone());
    failing.timing.max_attempts = 3;
    for _ in 0..3 {
        failing.deliver_due().await;
        offset.fetch_add(3600, Ordering::SeqCst);
    }
    let delivery = crm.outcome_delivery("CA3").await.unwrap().unwrap();
    assert_eq!(delivery.attempts, 3);
    assert!(delivery.failed_at.is_some(), "{delivery:?}");
    assert_eq!(delivery.last_error.as_deref(), Some("could not connect"));
}

#[test]
fn the_signature_covers_the_time_and_the_body() {
    let t = at("2026-11-24T15:03:00Z");
    let signed = signature("secret-secret-secret", t, b"{}");
    // As `printf '1795532580.{}' | openssl dgst -sha256 -hmac secret-secret-secret` computes it.
    assert_eq!(
        signed,
        "t=1795532580,v1=8456ffba6ef7814b09f2fcc1815aec87de5d0fb738710c7e94e795e5a6e8a568"
    );
    assert_ne!(signed, signature("secret-secret-secret", t, b"{ }"));
    assert_ne!(signed, signature("another-secret-value", t, b"{}"));
    assert_ne!(
        signed,
        signature(
            "secret-secret-secret",
            t + chrono::Duration::seconds(1),
            b"{}"
        )
    );
}
