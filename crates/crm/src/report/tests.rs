use chrono::NaiveDate;
use serde_json::json;

use super::*;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn facts(
    d: u32,
    call_type: &str,
    intent: &str,
    outcome: Outcome,
    bookings: u32,
    v2v: &[f64],
) -> CallFacts {
    CallFacts {
        day: day(d),
        call_type: call_type.to_owned(),
        intent: intent.to_owned(),
        outcome,
        escalation_reason: (outcome == Outcome::Escalated).then(|| "anger".to_owned()),
        bookings,
        voice_to_voice_ms: v2v.to_vec(),
    }
}

fn sample() -> Vec<CallFacts> {
    vec![
        facts(
            23,
            "inbound_existing",
            "schedule_appointment",
            Outcome::Completed,
            1,
            &[500.0, 600.0],
        ),
        facts(
            24,
            "inbound_new",
            "schedule_appointment",
            Outcome::Completed,
            1,
            &[550.0],
        ),
        facts(
            24,
            "inbound_new",
            "pricing_inquiry",
            Outcome::Abandoned,
            0,
            &[700.0],
        ),
        facts(24, "inbound_general", "none", Outcome::Escalated, 0, &[]),
        // Outside the range: left out.
        facts(
            20,
            "inbound_new",
            "schedule_appointment",
            Outcome::Completed,
            1,
            &[100.0],
        ),
    ]
}

#[test]
fn counts_flows_bookings_reasons_and_latency_per_group() {
    let report = Report::build(day(23), day(25), &sample());
    let t = &report.total;
    assert_eq!(
        (t.calls, t.completed, t.escalated, t.abandoned, t.bookings),
        (4, 2, 1, 1, 2)
    );
    assert_eq!(t.completion_rate_pct, 50.0);
    assert_eq!(t.voice_to_voice_p50_ms, Some(600.0));
    assert_eq!(t.voice_to_voice_p95_ms, Some(700.0));
    assert_eq!(report.by_call_type["inbound_new"].calls, 2);
    assert_eq!(report.by_intent["schedule_appointment"].bookings, 2);
    // Every day of the range is there, with or without calls.
    assert_eq!(
        report.by_day.keys().copied().collect::<Vec<_>>(),
        [day(23), day(24), day(25)]
    );
    assert_eq!(report.by_day[&day(25)].calls, 0);
    assert_eq!(report.by_day[&day(25)].voice_to_voice_p50_ms, None);
    assert_eq!(report.escalation_reasons["anger"], 1);
}

#[test]
fn csv_has_one_row_per_group_and_reason() {
    let csv = Report::build(day(24), day(24), &sample()).to_csv();
    assert_eq!(
        csv,
        "section,key,calls,completed,escalated,abandoned,bookings,completion_rate_pct,voice_to_voice_p50_ms,voice_to_voice_p95_ms\n\
         total,all,3,1,1,1,1,33.3,700,700\n\
         call_type,inbound_general,1,0,1,0,0,0.0,,\n\
         call_type,inbound_new,2,1,0,1,1,50.0,700,700\n\
         intent,none,1,0,1,0,0,0.0,,\n\
         intent,pricing_inquiry,1,0,0,1,0,0.0,700,700\n\
         intent,schedule_appointment,1,1,0,0,1,100.0,550,550\n\
         day,2026-11-24,3,1,1,1,1,33.3,700,700\n\
         escalation_reason,anger,1,,,,,,,\n"
    );
}

#[test]
fn the_table_reads_on_a_terminal() {
    let table = Report::build(day(23), day(24), &sample()).to_table();
    assert!(
        table.starts_with("Calls from 2026-11-23 to 2026-11-24"),
        "{table}"
    );
    assert!(table.contains("inbound_existing"), "{table}");
    assert!(table.contains("anger"), "{table}");
    // The busier day has the longer bar.
    let bars: Vec<usize> = table
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .map(|l| l.trim().len())
        .collect();
    assert_eq!(bars, [14, 40]);
}

#[test]
fn a_records_facts_come_from_its_summary_timings_and_history() {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-25T03:30:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let row = call::Model {
        id: 1,
        call_sid: "CA1".into(),
        customer_id: None,
        caller_phone: "+14135550100".into(),
        direction: "inbound".into(),
        call_type: Some("inbound_new".into()),
        started_at: at,
        ended_at: Some(at),
        status: "completed".into(),
        summary: Some(json!({
            "conversation": {"call_type": "inbound_new", "state": "closing", "intent": "schedule_appointment"},
            "timings": [{"voice_to_voice_ms": 512.0}, {"voice_to_voice_ms": null}, {"voice_to_voice_ms": 600.5}]
        })),
        transcript: Some(json!([
            {"role": "user", "content": "book me in"},
            {"role": "assistant", "tool_calls": [
                {"id": "a", "name": "book_appointment", "arguments": "{}"},
                {"id": "b", "name": "book_appointment", "arguments": "{}"},
                {"id": "c", "name": "check_availability", "arguments": "{}"}
            ]},
            {"role": "tool", "tool_call_id": "a", "content": "{\"ok\": false, \"error\": {\"code\": \"slot_full\"}}"},
            {"role": "tool", "tool_call_id": "b", "content": "{\"ok\": true, \"appointment\": {}}"},
            {"role": "tool", "tool_call_id": "c", "content": "{\"ok\": true}"},
            {"role": "tool", "tool_call_id": "zz", "content": "not json"}
        ])),
        escalated: false,
        escalation_reason: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        created_at: at,
        updated_at: at,
        recording_sid: None,
        recording_url: None,
        recording_deleted_at: None,
    };
    let facts = facts_of(&row, chrono_tz::America::New_York);
    // 03:30 UTC is 22:30 the evening before in New York.
    assert_eq!(facts.day, day(24));
    assert_eq!(facts.outcome, Outcome::Completed);
    assert_eq!(facts.bookings, 1);
    assert_eq!(facts.voice_to_voice_ms, [512.0, 600.5]);
    assert_eq!(facts.intent, "schedule_appointment");
    // A record without a summary or history still counts, as abandoned.
    let bare = call::Model {
        summary: None,
        transcript: Some(json!("garbage")),
        call_type: None,
        ..row
    };
    let facts = facts_of(&bare, chrono_tz::America::New_York);
    assert_eq!(
        (
            facts.outcome,
            facts.call_type.as_str(),
            facts.intent.as_str(),
            facts.bookings
        ),
        (Outcome::Abandoned, "unknown", "none", 0)
    );
}
