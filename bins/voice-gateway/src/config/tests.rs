use std::collections::HashMap;

use super::*;

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|key| map.get(key).cloned())
}

#[test]
fn empty_environment_gives_embedded_defaults() {
    let config = load(&[]).unwrap();
    assert_eq!(config.bind_addr.to_string(), "0.0.0.0:8080");
    assert_eq!(config.database_url.expose(), DEFAULT_DATABASE_URL);
    assert!(config.redis_url.is_none());
    assert_eq!(config.tts_provider, TtsProvider::Deepgram);
    assert_eq!(config.log_format, LogFormat::Human);
    assert_eq!(config.max_concurrent_calls.get(), 1000);
    assert_eq!(config.shop_config, None, "the built-in starter shop");
    assert!(config.early_replies);
    assert!(!load(&[("EARLY_REPLIES", "false")]).unwrap().early_replies);
    assert!(load(&[("EARLY_REPLIES", "maybe")]).is_err());
    assert_eq!(config.openai_base_url.as_str(), "https://api.openai.com/v1");
    assert_eq!(
        config.deepgram_stt.url.as_str(),
        "wss://api.deepgram.com/v1/listen"
    );
    assert_eq!(
        config.missing_providers(),
        vec![
            "PUBLIC_URL (Twilio cannot reach the media stream)",
            "DEEPGRAM_API_KEY (speech-to-text)",
            "DEEPGRAM_API_KEY (text-to-speech, TTS_PROVIDER=deepgram)",
        ],
        "without OPENAI_API_KEY the offline agent answers"
    );
    assert!(config.offline_agent);
    assert_eq!(
        config.llm_fallback_after,
        std::time::Duration::from_millis(2500)
    );
    let strict = load(&[("OFFLINE_AGENT", "false")]).unwrap();
    assert!(
        strict
            .missing_providers()
            .contains(&"OPENAI_API_KEY (language model; or OFFLINE_AGENT=true)")
    );
}

#[test]
fn a_flux_model_selects_flux_and_its_endpoint_and_bad_thresholds_are_reported() {
    let config = load(&[("DEEPGRAM_STT_MODEL", "flux-general-en")]).unwrap();
    assert_eq!(
        config.deepgram_stt.url.as_str(),
        "wss://api.deepgram.com/v2/listen"
    );
    assert_eq!(
        config.deepgram_stt.flux,
        deepgram::FluxTurnSettings::default()
    );
    let config = load(&[
        ("DEEPGRAM_STT_MODEL", "flux-general-en"),
        ("DEEPGRAM_FLUX_EAGER_EOT_THRESHOLD", "off"),
    ])
    .unwrap();
    assert_eq!(config.deepgram_stt.flux.eager_eot_threshold, None);
    let err = load(&[
        ("DEEPGRAM_STT_MODEL", "flux-general-en"),
        ("DEEPGRAM_FLUX_EOT_THRESHOLD", "2"),
    ])
    .unwrap_err();
    assert!(
        err.problems
            .iter()
            .any(|p| p.contains("DEEPGRAM_FLUX_EOT_THRESHOLD")),
        "{err}"
    );
}

#[test]
fn every_problem_is_reported_together() {
    let err = load(&[
        ("BIND_ADDR", "nope"),
        ("OPENAI_BASE_URL", "not a url"),
        ("TTS_PROVIDER", "polly"),
        ("MAX_CONCURRENT_CALLS", "0"),
        ("PUBLIC_URL", "ftp://x"),
    ])
    .unwrap_err();
    assert_eq!(err.problems.len(), 5, "{err}");
    assert!(err.to_string().contains("TTS_PROVIDER: `polly`"));
}

#[test]
fn full_configuration_parses_and_secrets_never_print() {
    let config = load(&[
        ("BIND_ADDR", "127.0.0.1:9000"),
        ("PUBLIC_URL", "https://gw.example.com"),
        ("DATABASE_URL", "postgres://voice:hunter2@db:5432/voice"),
        ("REDIS_URL", "redis://:s3cret@cache:6379/0"),
        ("TWILIO_AUTH_TOKEN", "tok-abc"),
        ("DEEPGRAM_API_KEY", "dg-key"),
        ("OPENAI_API_KEY", "sk-key"),
        ("ELEVENLABS_API_KEY", "el-key"),
        ("TTS_PROVIDER", "ElevenLabs"),
        ("LOG_FORMAT", "json"),
        ("SHUTDOWN_DRAIN_SECS", "5"),
    ])
    .unwrap();
    assert!(config.missing_providers().is_empty());
    assert_eq!(config.tts_provider, TtsProvider::ElevenLabs);
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.drain_timeout, Duration::from_secs(5));
    let printed = format!("{config:?}");
    for secret in ["hunter2", "s3cret", "tok-abc", "dg-key", "sk-key", "el-key"] {
        assert!(!printed.contains(secret), "{secret} leaked in {printed}");
    }
    assert_eq!(
        config.database_url_redacted(),
        "postgres://voice:***@db:5432/voice"
    );
    assert_eq!(
        config.redis_url_redacted().unwrap(),
        "redis://:***@cache:6379/0"
    );
}

#[test]
fn blank_values_count_as_unset() {
    let config = load(&[("OPENAI_API_KEY", "  "), ("REDIS_URL", "")]).unwrap();
    assert!(config.openai_api_key.is_none());
    assert!(config.redis_url.is_none());
}

#[test]
fn a_twilio_token_without_a_public_url_is_a_startup_error() {
    let err = load(&[("TWILIO_AUTH_TOKEN", "tok")]).unwrap_err();
    assert!(
        err.to_string()
            .contains("TWILIO_AUTH_TOKEN is set but PUBLIC_URL is not"),
        "{err}"
    );
    assert!(
        load(&[
            ("TWILIO_AUTH_TOKEN", "tok"),
            ("PUBLIC_URL", "https://gw.example.com/voice")
        ])
        .is_ok()
    );
}

#[test]
fn a_short_stream_token_secret_is_refused() {
    let err = load(&[("STREAM_TOKEN_SECRET", "too-short")]).unwrap_err();
    assert!(
        err.to_string()
            .contains("STREAM_TOKEN_SECRET: must be at least 32 bytes"),
        "{err}"
    );
    let ok = load(&[("STREAM_TOKEN_SECRET", &"k".repeat(32))]).unwrap();
    assert!(
        !format!("{ok:?}").contains(&"k".repeat(32)),
        "the secret never prints"
    );
}

#[test]
fn security_switches_are_off_unless_said_and_typos_are_errors() {
    let config = load(&[]).unwrap();
    assert!(!config.allow_unsigned_twilio);
    assert!(!config.log_transcripts);
    assert!(!config.outbound_to_non_customers);
    assert_eq!(config.stream_token_ttl, Duration::from_secs(120));
    assert_eq!(config.drain_timeout, Duration::from_secs(18));
    assert!(
        load(&[("ALLOW_UNSIGNED_TWILIO", "true"), ("LOG_TRANSCRIPTS", "1")])
            .unwrap()
            .allow_unsigned_twilio
    );
    let err = load(&[("ALLOW_UNSIGNED_TWILIO", "yess"), ("MAX_CALL_SECS", "long")]).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
}

#[test]
fn the_public_url_must_be_https_unless_it_is_this_machine() {
    let err = load(&[("PUBLIC_URL", "http://gw.example.com")]).unwrap_err();
    assert!(err.to_string().contains("must be https://"), "{err}");
    for ok in [
        "https://gw.example.com/prefix",
        "http://127.0.0.1:8080",
        "http://localhost:8080",
    ] {
        assert!(load(&[("PUBLIC_URL", ok)]).is_ok(), "{ok}");
    }
}

#[test]
fn urls_in_logs_keep_no_credentials_or_query() {
    assert_eq!(
        redact_url("wss://user:pw@stt.example.com/v1/listen?token=abc&x=1"),
        "wss://stt.example.com/v1/listen (credentials and query hidden)"
    );
    assert_eq!(
        redact_url("https://llm.example.com/v1"),
        "https://llm.example.com/v1"
    );
    assert_eq!(
        redact_url("http://127.0.0.1:9000/x"),
        "http://127.0.0.1:9000/x"
    );
    assert_eq!(redact_url("not a url"), "(unparseable url)");
}

#[test]
fn the_outcome_webhook_needs_https_and_a_secret() {
    let config = load(&[
        ("OUTCOME_WEBHOOK_URL", "https://shop.example/hooks/calls"),
        ("OUTCOME_WEBHOOK_SECRET", "0123456789abcdef"),
    ])
    .unwrap();
    assert_eq!(
        config.outcome_webhook_url.unwrap().as_str(),
        "https://shop.example/hooks/calls"
    );
    assert!(
        load(&[
            ("OUTCOME_WEBHOOK_URL", "http://127.0.0.1:9000/hooks"),
            ("OUTCOME_WEBHOOK_SECRET", "0123456789abcdef")
        ])
        .is_ok()
    );
    for bad in [
        vec![("OUTCOME_WEBHOOK_URL", "http://shop.example/hooks")],
        vec![("OUTCOME_WEBHOOK_URL", "https://shop.example/hooks")],
        vec![
            ("OUTCOME_WEBHOOK_URL", "https://shop.example/hooks"),
            ("OUTCOME_WEBHOOK_SECRET", "short"),
        ],
        vec![
            ("OUTCOME_WEBHOOK_URL", "not a url"),
            ("OUTCOME_WEBHOOK_SECRET", "0123456789abcdef"),
        ],
    ] {
        assert!(load(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn calling_hours_are_a_daytime_range_in_the_shops_time() {
    let config = load(&[]).unwrap();
    assert_eq!(config.calling_hours.to_string(), "09:00-20:00 shop time");
    let shop = conversation::ShopConfig::default_shop();
    let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    // New York: 14:00 UTC is 9:00, 00:59 UTC the next day is 19:59, 01:00 is 20:00.
    assert!(
        config
            .calling_hours
            .contains(at("2026-12-07T14:00:00Z"), &shop)
    );
    assert!(
        config
            .calling_hours
            .contains(at("2026-12-08T00:59:00Z"), &shop)
    );
    assert!(
        !config
            .calling_hours
            .contains(at("2026-12-08T01:00:00Z"), &shop)
    );
    assert!(
        !config
            .calling_hours
            .contains(at("2026-12-07T13:59:00Z"), &shop)
    );
    let custom = load(&[("CALLING_HOURS", "10:30-18:00")]).unwrap();
    assert_eq!(custom.calling_hours.to_string(), "10:30-18:00 shop time");
    for bad in ["18:00-10:00", "9-5", "10:00", "25:00-26:00"] {
        assert!(load(&[("CALLING_HOURS", bad)]).is_err(), "{bad}");
    }
}

#[test]
fn the_instance_name_comes_from_instance_id_then_hostname_and_is_made_a_safe_key() {
    assert_eq!(
        load(&[
            ("INSTANCE_ID", "voice-gateway-7d9f/pod 1"),
            ("HOSTNAME", "h")
        ])
        .unwrap()
        .instance_id,
        "voice-gateway-7d9f-pod-1"
    );
    assert_eq!(
        load(&[("HOSTNAME", "voice-gateway-5c8b7-x2x9q")])
            .unwrap()
            .instance_id,
        "voice-gateway-5c8b7-x2x9q"
    );
    let random = load(&[]).unwrap().instance_id;
    assert!(random.starts_with("gw-") && random.len() == 15, "{random}");
    assert_ne!(random, load(&[]).unwrap().instance_id);
    assert_eq!(
        load(&[("INSTANCE_ID", &"x".repeat(100))])
            .unwrap()
            .instance_id
            .len(),
        64
    );
}
