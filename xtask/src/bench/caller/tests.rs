use std::time::Duration;

use tokio::time::Instant;

use super::{Playback, StreamTwiml, parse_twiml, path_of};

#[test]
fn twiml_gives_the_stream_url_and_every_parameter() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://gw.example.com:8443/twilio/stream"><Parameter name="From" value="+15551234567"/><Parameter name="token" value="a&amp;b&lt;c"/><Parameter name='call_type' value='inbound'/></Stream></Connect></Response>"#;
    assert_eq!(
        parse_twiml(body),
        Some(StreamTwiml {
            url: "wss://gw.example.com:8443/twilio/stream".to_owned(),
            parameters: vec![
                ("From".to_owned(), "+15551234567".to_owned()),
                ("token".to_owned(), "a&b<c".to_owned()),
                ("call_type".to_owned(), "inbound".to_owned()),
            ],
        })
    );
    assert_eq!(
        parse_twiml("<Response><Say>We are busy.</Say><Hangup/></Response>"),
        None
    );
}

#[test]
fn stream_path_keeps_path_and_query() {
    assert_eq!(
        path_of("wss://gw.example.com/twilio/stream"),
        "/twilio/stream"
    );
    assert_eq!(path_of("ws://127.0.0.1:9/a?b=c"), "/a?b=c");
    assert_eq!(path_of("wss://gw.example.com"), "/");
}

/// Runs `steps` against a playback buffer (`a<bytes>` audio, `m<name>` mark, `t` tick, `c` clear)
/// and logs every mark echo with the step that caused it.
#[track_caller]
fn check_playback(steps: &str, expected: &[&str]) {
    let mut playback = Playback::default();
    let now = Instant::now();
    let mut log = Vec::new();
    for (i, step) in steps.split_whitespace().enumerate() {
        let echoed = match step.split_at(1) {
            ("a", n) => {
                playback.push_audio(n.parse().unwrap(), now);
                Vec::new()
            }
            ("m", name) => playback.push_mark(name.to_owned()).into_iter().collect(),
            ("t", _) => playback.tick(),
            ("c", _) => playback.clear(),
            _ => panic!("bad step {step}"),
        };
        log.extend(echoed.into_iter().map(|name| format!("{i}:{name}")));
    }
    assert_eq!(log, expected);
}

#[test]
fn marks_echo_after_the_audio_before_them_has_played() {
    // Nothing queued: at once. 400 bytes = 2.5 frames: the mark waits three ticks.
    check_playback("mA a400 mB t t t t", &["0:A", "5:B"]);
    // A mark behind a pending mark waits its turn even with nothing more queued.
    check_playback("a160 mA mB t", &["3:A", "3:B"]);
}

#[test]
fn clear_drops_audio_and_echoes_every_pending_mark() {
    check_playback("a1600 mA a1600 mB t c mC", &["5:A", "5:B", "6:C"]);
}

#[test]
fn played_out_needs_the_settle_time_after_the_last_audio() {
    let mut playback = Playback::default();
    let now = Instant::now();
    assert!(!playback.played_out(now, Duration::ZERO), "no audio yet");
    playback.push_audio(160, now);
    assert!(!playback.played_out(now, Duration::ZERO), "still queued");
    playback.tick();
    assert!(playback.played_out(now, Duration::ZERO));
    assert!(!playback.played_out(now + Duration::from_millis(100), Duration::from_millis(200)));
    assert!(playback.played_out(now + Duration::from_millis(200), Duration::from_millis(200)));
}
