//! Console sign-in: the session cookie is the API token's signature of an end time, and nothing
//! but the login form answers without it.

use axum::http::HeaderValue;

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[test]
fn a_session_is_valid_until_it_ends_and_only_for_its_token() {
    let now = at("2026-12-07T14:00:00Z");
    let value = session_value("token-1", now);
    assert!(session_is_valid("token-1", &value, now));
    assert!(session_is_valid(
        "token-1",
        &value,
        now + SESSION - chrono::Duration::seconds(1)
    ));
    assert!(!session_is_valid("token-1", &value, now + SESSION), "ended");
    assert!(!session_is_valid("token-2", &value, now), "another token");
    let (expires, signed) = value.split_once('.').unwrap();
    let longer = format!("{}.{signed}", expires.parse::<i64>().unwrap() + 3600);
    assert!(
        !session_is_valid("token-1", &longer, now),
        "a stretched end time"
    );
    for junk in ["", ".", "abc", "123.", "123.!!!", "x.y"] {
        assert!(!session_is_valid("token-1", junk, now), "{junk:?}");
    }
}

#[test]
fn the_cookie_is_found_among_others() {
    let mut headers = HeaderMap::new();
    headers.append(
        header::COOKIE,
        HeaderValue::from_static("a=1; vg_console=v.s"),
    );
    headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
    assert_eq!(cookie_value(&headers, COOKIE), Some("v.s"));
    assert_eq!(cookie_value(&headers, "c"), None);
}

/// A recorded call's page says where its recording is, and when retention deleted it.
#[test]
fn the_call_page_names_the_recording() {
    let shop = conversation::ShopConfig::default_shop();
    let record = crm::CallRecord {
        call_sid: "CA1".into(),
        customer_id: None,
        caller_phone: "+14135550150".into(),
        direction: crm::CallDirection::Inbound,
        call_type: Some("inbound_new".into()),
        started_at: at("2026-12-07T14:00:00Z"),
        ended_at: Some(at("2026-12-07T14:02:00Z")),
        status: "completed".into(),
        summary: None,
        transcript: None,
        escalated: false,
        escalation_reason: None,
        usage: crm::TokenUsage::default(),
    };
    let mut page = pages::CallPage::of(&shop.name, &record, &shop, false);
    let html = page.render().unwrap();
    assert!(!html.contains("Twilio recording"), "not recorded");
    let mut recording = crm::CallRecording {
        call_sid: "CA1".into(),
        recording_sid: "RE1".into(),
        url: "https://recordings.example/RE1".into(),
        deleted_at: None,
    };
    page.recording = Some(pages::RecordingRow::of(&recording, &shop));
    let html = page.render().unwrap();
    assert!(
        html.contains("Twilio recording RE1 (in the Twilio console)"),
        "{html}"
    );
    assert!(
        !html.contains("recordings.example"),
        "no link that needs the account's login"
    );
    recording.deleted_at = Some(at("2027-03-07T15:00:00Z"));
    page.recording = Some(pages::RecordingRow::of(&recording, &shop));
    let html = page.render().unwrap();
    assert!(
        html.contains("(deleted by retention on Sun Mar 7, 10:00 AM)"),
        "{html}"
    );
}
