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
