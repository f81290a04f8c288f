//! Call records: upsert by call SID.

use crm::TokenUsage as Usage;
use crm::{CallDirection, CallRecord, CallbackRequest, CrmError, NewCustomer};
use serde_json::json;

use crate::harness::{TestDb, both_backends, local};

both_backends!(
    record_call_upserts_by_call_sid,
    recent_calls_are_newest_first_and_ping_answers,
    callback_requests_are_one_per_call_and_can_be_marked_done,
    the_report_counts_finished_calls_per_shop_day,
    sms_opt_outs_are_kept_by_number_until_the_customer_opts_back_in,
    the_do_not_call_list_keeps_the_first_date_and_is_separate_from_texts
);

async fn record_call_upserts_by_call_sid(db: TestDb) {
    let crm = &db.crm;
    let customer_id = crm
        .find_or_create_customer(&NewCustomer {
            first_name: "Lee".into(),
            last_name: "Park".into(),
            phone: "(413) 555-0150".into(),
            email: None,
        })
        .await
        .unwrap();
    let started = CallRecord {
        call_sid: "CA0123456789abcdef0123456789abcdef".into(),
        customer_id: None,
        caller_phone: "(413) 555-0150".into(),
        direction: CallDirection::Inbound,
        call_type: None,
        started_at: local(2026, 11, 24, 9, 0),
        ended_at: None,
        status: "in_progress".into(),
        summary: None,
        transcript: None,
        escalated: false,
        escalation_reason: None,
        usage: Usage::default(),
    };
    crm.record_call(&started).await.unwrap();
    let stored = crm.get_call(&started.call_sid).await.unwrap().unwrap();
    assert_eq!(
        stored,
        CallRecord {
            caller_phone: "+14135550150".into(),
            ..started.clone()
        }
    );

    let finished = CallRecord {
        customer_id: Some(customer_id),
        call_type: Some("appointment_booking".into()),
        ended_at: Some(local(2026, 11, 24, 9, 4)),
        status: "escalated".into(),
        summary: Some(json!({"intent": "book", "service": "oil change", "booked": false})),
        transcript: Some(json!([{"role": "user", "content": "I need an oil change"}])),
        escalated: true,
        escalation_reason: Some("caller asked for a human".into()),
        usage: Usage {
            prompt_tokens: 1200,
            completion_tokens: 300,
            total_tokens: 1500,
        },
        ..started.clone()
    };
    // The final write is retried (e.g. after a timeout): both succeed, one row, latest wins.
    crm.record_call(&finished).await.unwrap();
    crm.record_call(&finished).await.unwrap();
    let stored = crm.get_call(&started.call_sid).await.unwrap().unwrap();
    assert_eq!(
        stored,
        CallRecord {
            caller_phone: "+14135550150".into(),
            ..finished.clone()
        }
    );

    // The start-of-call record arriving late (a retry, a spool reloaded after a crash) never
    // replaces the final one.
    crm.record_call(&started).await.unwrap();
    assert_eq!(
        crm.get_call(&started.call_sid)
            .await
            .unwrap()
            .unwrap()
            .status,
        "escalated"
    );

    // Twilio's "call ended" for a call with only its start record closes it; a closed record is
    // left alone.
    let open = CallRecord {
        call_sid: "CAopen".into(),
        ..started.clone()
    };
    crm.record_call(&open).await.unwrap();
    let at = local(2026, 11, 24, 9, 30);
    assert!(
        crm.close_open_call("CAopen", at, "interrupted")
            .await
            .unwrap()
    );
    let closed = crm.get_call("CAopen").await.unwrap().unwrap();
    assert_eq!(
        (closed.status.as_str(), closed.ended_at),
        ("interrupted", Some(at))
    );
    assert!(
        !crm.close_open_call("CAopen", at, "interrupted")
            .await
            .unwrap()
    );
    assert!(
        !crm.close_open_call(&started.call_sid, at, "interrupted")
            .await
            .unwrap()
    );
    assert!(
        !crm.close_open_call("CAmissing", at, "interrupted")
            .await
            .unwrap()
    );

    // A withheld number is stored as given.
    let anonymous = CallRecord {
        call_sid: "CAanon".into(),
        caller_phone: "anonymous".into(),
        ..started
    };
    crm.record_call(&anonymous).await.unwrap();
    assert_eq!(
        crm.get_call("CAanon").await.unwrap().unwrap().caller_phone,
        "anonymous"
    );
    assert_eq!(crm.get_call("CAnone").await.unwrap(), None);
    assert!(matches!(
        crm.record_call(&CallRecord {
            call_sid: " ".into(),
            ..anonymous
        })
        .await,
        Err(CrmError::InvalidArgument(_))
    ));
}

async fn recent_calls_are_newest_first_and_ping_answers(db: TestDb) {
    let crm = &db.crm;
    crm.ping().await.unwrap();
    for (sid, hour) in [("CAb", 10), ("CAa", 9), ("CAc", 11)] {
        let record = CallRecord {
            call_sid: sid.into(),
            customer_id: None,
            caller_phone: "+14135550160".into(),
            direction: CallDirection::Inbound,
            call_type: None,
            started_at: local(2026, 11, 24, hour, 0),
            ended_at: None,
            status: "completed".into(),
            summary: None,
            transcript: None,
            escalated: false,
            escalation_reason: None,
            usage: Usage::default(),
        };
        crm.record_call(&record).await.unwrap();
    }
    let sids = |calls: Vec<CallRecord>| calls.into_iter().map(|c| c.call_sid).collect::<Vec<_>>();
    assert_eq!(sids(crm.recent_calls(2).await.unwrap()), ["CAc", "CAb"]);
    assert_eq!(
        sids(crm.recent_calls(10).await.unwrap()),
        ["CAc", "CAb", "CAa"]
    );
    crm.clone().close().await.unwrap();
    let err = crm.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

async fn callback_requests_are_one_per_call_and_can_be_marked_done(db: TestDb) {
    let crm = &db.crm;
    let request = |call_sid: &str, minute: u32| CallbackRequest {
        id: 0,
        call_sid: call_sid.into(),
        customer_id: None,
        phone: "(413) 555-0150".into(),
        reason: Some("manager_request".into()),
        status: "open".into(),
        created_at: local(2026, 11, 24, 9, minute),
        done_at: None,
        caller_name: None,
        message: None,
    };
    crm.request_callback(&request("CA1", 0)).await.unwrap();
    // Written again (the outbox retried after a crash): still one.
    crm.request_callback(&request("CA1", 0)).await.unwrap();
    crm.request_callback(&request("CA2", 5)).await.unwrap();
    let open = crm.callback_requests(false, 10).await.unwrap();
    let listed: Vec<(&str, &str, &str)> = open
        .iter()
        .map(|r| (r.call_sid.as_str(), r.phone.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("CA1", "+14135550150", "open"),
            ("CA2", "+14135550150", "open")
        ]
    );
    let done_at = local(2026, 11, 24, 10, 0);
    assert!(crm.complete_callback(open[0].id, done_at).await.unwrap());
    assert!(
        !crm.complete_callback(open[0].id, done_at).await.unwrap(),
        "already done"
    );
    assert!(!crm.complete_callback(9999, done_at).await.unwrap());
    let still_open = crm.callback_requests(false, 10).await.unwrap();
    assert_eq!(still_open.len(), 1);
    assert_eq!(still_open[0].call_sid, "CA2");
    let all = crm.callback_requests(true, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].done_at, Some(done_at));
    assert!(matches!(
        crm.request_callback(&request(" ", 0)).await,
        Err(CrmError::InvalidArgument(_))
    ));
}

/// `report` over the stored records: finished calls only, on the shop-local day they started
/// (a call at 23:30 in New York is that day, though it is the next day in UTC).
async fn the_report_counts_finished_calls_per_shop_day(db: TestDb) {
    let crm = &db.crm;
    let record = |sid: &str, started: chrono::DateTime<chrono::Utc>, ended: bool| CallRecord {
        call_sid: sid.into(),
        customer_id: None,
        caller_phone: "+14135550150".into(),
        direction: CallDirection::Inbound,
        call_type: Some("inbound_new".into()),
        started_at: started,
        ended_at: ended.then_some(started + chrono::Duration::minutes(3)),
        status: "completed".into(),
        summary: Some(json!({
            "conversation": {"call_type": "inbound_new", "state": "closing", "intent": "schedule_appointment"},
            "timings": [{"voice_to_voice_ms": 480.0}]
        })),
        transcript: Some(json!([
            {"role": "assistant", "tool_calls": [{"id": "t1", "name": "book_appointment", "arguments": "{}"}]},
            {"role": "tool", "tool_call_id": "t1", "content": "{\"ok\":true}"}
        ])),
        escalated: false,
        escalation_reason: None,
        usage: Usage::default(),
    };
    crm.record_call(&record("CA1", local(2026, 11, 24, 9, 0), true))
        .await
        .unwrap();
    crm.record_call(&record("CA2", local(2026, 11, 24, 23, 30), true))
        .await
        .unwrap();
    crm.record_call(&CallRecord {
        escalated: true,
        escalation_reason: Some("legal_threat".into()),
        transcript: None,
        ..record("CA3", local(2026, 11, 25, 10, 0), true)
    })
    .await
    .unwrap();
    // Still in progress, and a day outside the range: not counted.
    crm.record_call(&record("CA4", local(2026, 11, 25, 11, 0), false))
        .await
        .unwrap();
    crm.record_call(&record("CA5", local(2026, 11, 26, 9, 0), true))
        .await
        .unwrap();
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let report = crm.report(day(24), day(25)).await.unwrap();
    let t = &report.total;
    assert_eq!(
        (t.calls, t.completed, t.escalated, t.bookings),
        (3, 2, 1, 2)
    );
    assert_eq!(report.by_day[&day(24)].calls, 2);
    assert_eq!(report.by_day[&day(25)].calls, 1);
    assert_eq!(report.escalation_reasons["legal_threat"], 1);
    assert_eq!(t.voice_to_voice_p50_ms, Some(480.0));
    assert!(matches!(
        crm.report(day(25), day(24)).await,
        Err(CrmError::InvalidArgument(_))
    ));
}

async fn sms_opt_outs_are_kept_by_number_until_the_customer_opts_back_in(db: TestDb) {
    let crm = &db.crm;
    let at = local(2026, 11, 24, 9, 0);
    assert!(!crm.sms_opted_out("+14135550150").await.unwrap());
    crm.set_sms_opt_out("(413) 555-0150", true, at)
        .await
        .unwrap();
    // Any format of the same number; a second STOP changes nothing.
    crm.set_sms_opt_out("+14135550150", true, at).await.unwrap();
    assert!(crm.sms_opted_out("413-555-0150").await.unwrap());
    assert!(!crm.sms_opted_out("+14135550151").await.unwrap());
    crm.set_sms_opt_out("+14135550150", false, at)
        .await
        .unwrap();
    assert!(!crm.sms_opted_out("+14135550150").await.unwrap());
    assert!(matches!(
        crm.set_sms_opt_out("not a number", true, at).await,
        Err(CrmError::InvalidPhone { .. })
    ));
}

async fn the_do_not_call_list_keeps_the_first_date_and_is_separate_from_texts(db: TestDb) {
    let crm = &db.crm;
    let first = local(2026, 11, 24, 9, 0);
    let later = local(2026, 11, 25, 9, 0);
    assert!(!crm.call_opted_out("+14135550150").await.unwrap());
    crm.set_call_opt_out("(413) 555-0150", true, "call", first)
        .await
        .unwrap();
    crm.set_call_opt_out("+14135550150", true, "api", later)
        .await
        .unwrap();
    assert!(crm.call_opted_out("413-555-0150").await.unwrap());
    assert!(
        !crm.sms_opted_out("+14135550150").await.unwrap(),
        "texts are another list"
    );
    let list = crm.call_opt_outs(10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].phone, "+14135550150");
    assert_eq!(list[0].opted_out_at, first);
    assert_eq!(list[0].source, "call");
    crm.set_call_opt_out("+14135550150", false, "api", later)
        .await
        .unwrap();
    assert!(!crm.call_opted_out("+14135550150").await.unwrap());
    assert!(
        crm.set_call_opt_out("not a number", true, "api", later)
            .await
            .is_err()
    );
}
