use std::collections::HashMap;
use std::time::Duration;

use expect_test::{Expect, expect};

use super::*;

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.get(name).cloned()
}

#[track_caller]
fn check(vars: &[(&str, &str)], expect: Expect) {
    let res = match ElevenLabsConfig::from_lookup(ApiKey::new("sk-1"), lookup(vars)) {
        Ok(config) => format!("ok {}", config.stream_url(&config.voice_id)),
        Err(e) => format!("err {e}"),
    };
    expect.assert_eq(&res);
}

#[test]
fn from_lookup_defaults() {
    check(
        &[("ELEVENLABS_VOICE_ID", "21m00Tcm4TlvDq8ikWAM")],
        expect![
            "ok wss://api.elevenlabs.io/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/multi-stream-input?model_id=eleven_flash_v2_5&output_format=ulaw_8000&inactivity_timeout=60&sync_alignment=true&auto_mode=true"
        ],
    );
}

#[test]
fn from_lookup_base_url_with_path_prefix_and_model() {
    check(
        &[
            ("ELEVENLABS_VOICE_ID", "v"),
            ("ELEVENLABS_BASE_URL", "ws://127.0.0.1:9000/proxy/"),
            ("ELEVENLABS_MODEL_ID", "eleven_turbo_v2_5"),
        ],
        expect![
            "ok ws://127.0.0.1:9000/proxy/v1/text-to-speech/v/multi-stream-input?model_id=eleven_turbo_v2_5&output_format=ulaw_8000&inactivity_timeout=60&sync_alignment=true&auto_mode=true"
        ],
    );
}

#[test]
fn from_lookup_takes_the_default_voice_when_none_is_set() {
    check(
        &[("ELEVENLABS_VOICE_ID", " ")],
        expect![
            "ok wss://api.elevenlabs.io/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/multi-stream-input?model_id=eleven_flash_v2_5&output_format=ulaw_8000&inactivity_timeout=60&sync_alignment=true&auto_mode=true"
        ],
    );
}

#[test]
fn from_lookup_rejects_http_base_url() {
    check(
        &[
            ("ELEVENLABS_VOICE_ID", "v"),
            ("ELEVENLABS_BASE_URL", "https://api.elevenlabs.io"),
        ],
        expect!["err invalid setting base_url: scheme must be ws or wss"],
    );
}

#[test]
fn validate_checks_protocol_limits() {
    #[track_caller]
    fn check_invalid(change: impl FnOnce(&mut ElevenLabsConfig), expect: Expect) {
        let mut config = ElevenLabsConfig::new(ApiKey::new("sk-1"), "v");
        change(&mut config);
        let res = match config.validate() {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        expect.assert_eq(&res);
    }
    check_invalid(|_| {}, expect!["ok"]);
    check_invalid(
        |c| c.inactivity_timeout = Duration::from_secs(181),
        expect!["invalid setting inactivity_timeout: must be 1..=180 s"],
    );
    check_invalid(
        |c| c.keepalive_interval = Duration::from_secs(60),
        expect![
            "invalid setting keepalive_interval: must be above zero and below inactivity_timeout"
        ],
    );
    check_invalid(
        |c| {
            c.buffering = TextBuffering::Schedule {
                chunk_length_schedule: vec![120, 40],
                try_trigger_generation: false,
            }
        },
        expect!["invalid setting chunk_length_schedule: needs at least one value, each 50..=500"],
    );
    check_invalid(
        |c| c.voice_settings.speed = Some(1.5),
        expect!["invalid setting voice_settings.speed: must be 0.7..=1.2"],
    );
    check_invalid(
        |c| c.max_contexts = 6,
        expect!["invalid setting max_contexts: must be 1..=5"],
    );
    check_invalid(
        |c| c.api_key = ApiKey::new(""),
        expect!["invalid setting api_key: is empty"],
    );
}

#[test]
fn api_key_never_shows() {
    let config = ElevenLabsConfig::new(ApiKey::new("sk-very-secret"), "v");
    let debug = format!("{config:?} {} {}", config.api_key, config.stream_url("v"));
    assert!(!debug.contains("sk-very-secret"), "{debug}");
    assert!(debug.contains("ApiKey(<redacted>)"), "{debug}");
}

#[test]
fn reconnect_backoff_doubles_up_to_the_cap() {
    let policy = ReconnectPolicy {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(500),
    };
    let waits: Vec<u128> = (0..6).map(|i| policy.backoff(i).as_millis()).collect();
    assert_eq!(waits, [0, 100, 200, 400, 500, 500]);
}

#[test]
fn inactivity_timeout_rounds_up_to_whole_seconds() {
    let mut config = ElevenLabsConfig::new(ApiKey::new("sk-1"), "v");
    config.inactivity_timeout = Duration::from_millis(1200);
    assert_eq!(
        config
            .stream_url("v")
            .query_pairs()
            .find(|(k, _)| k == "inactivity_timeout")
            .unwrap()
            .1,
        "2"
    );
}
