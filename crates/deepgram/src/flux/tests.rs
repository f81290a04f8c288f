use std::time::{Duration, Instant};

use providers::SttEvent;

use super::*;
use crate::ApiKey;
use crate::wire::parse_flux;

fn info(json: &str) -> TurnInfo {
    match parse_flux(json).unwrap() {
        crate::wire::FluxMessage::TurnInfo(info) => info,
        other => panic!("not a TurnInfo: {other:?}"),
    }
}

fn turn_info(event: &str, transcript: &str, start: f64, end: f64) -> TurnInfo {
    info(&format!(
        r#"{{"type":"TurnInfo","event":"{event}","turn_index":0,"audio_window_start":{start},
            "audio_window_end":{end},"transcript":"{transcript}","end_of_turn_confidence":0.8}}"#
    ))
}

/// One line per event: the kind and what matters of it.
fn describe(events: &[SttEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| match event {
            SttEvent::Transcript(t) => format!(
                "{} {:?} at {:.2}+{:.2}{}",
                if t.is_final { "final" } else { "interim" },
                t.text,
                t.start_s,
                t.duration_s,
                if t.from_finalize { " (forced)" } else { "" }
            ),
            SttEvent::SpeechStarted { timestamp_s, .. } => {
                format!("speech started {timestamp_s:.2}")
            }
            SttEvent::EagerEndOfTurn { text, .. } => format!("eager end {text:?}"),
            SttEvent::TurnResumed { .. } => "turn resumed".to_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_turn_with_an_eager_end_that_the_caller_goes_on_from() {
    let mut turn = FluxTurn::default();
    let at = Instant::now();
    let origin = 10.0;
    let mut seen = Vec::new();
    for (event, words, start, end) in [
        ("StartOfTurn", "", 0.5, 0.5),
        ("Update", "tomorrow", 0.5, 1.0),
        ("Update", "tomorrow", 0.5, 1.25),
        ("Update", "tomorrow at two", 0.5, 1.5),
        ("EagerEndOfTurn", "tomorrow at two", 0.5, 1.75),
        ("TurnResumed", "tomorrow at two thirty", 0.5, 2.0),
        ("EagerEndOfTurn", "tomorrow at two thirty", 0.5, 2.5),
        ("EndOfTurn", "tomorrow at two thirty", 0.5, 2.75),
    ] {
        seen.extend(describe(&turn.on_turn_info(
            turn_info(event, words, start, end),
            origin,
            at,
        )));
    }
    assert_eq!(
        seen,
        [
            "speech started 10.50",
            "interim \"tomorrow\" at 10.50+0.50",
            // The same words again are not a new interim.
            "interim \"tomorrow at two\" at 10.50+1.00",
            "eager end \"tomorrow at two\"",
            "turn resumed",
            "interim \"tomorrow at two thirty\" at 10.50+1.50",
            "eager end \"tomorrow at two thirty\"",
            "final \"tomorrow at two thirty\" at 10.50+2.25",
        ]
    );
    assert!(turn.words.is_empty(), "the end of turn clears the words");
}

#[test]
fn a_forced_end_is_marked_and_a_close_without_end_keeps_the_last_words() {
    let mut turn = FluxTurn::default();
    let at = Instant::now();
    turn.on_turn_info(turn_info("Update", "yes", 0.0, 0.5), 0.0, at);
    turn.forced = true;
    let events = turn.on_turn_info(turn_info("EndOfTurn", "yes", 0.0, 0.6), 0.0, at);
    assert_eq!(describe(&events), ["final \"yes\" at 0.00+0.60 (forced)"]);
    assert!(!turn.forced);
    // The next turn: the stream closes after an update and no end of turn.
    turn.on_turn_info(turn_info("StartOfTurn", "thanks", 1.0, 1.2), 0.0, at);
    let last = turn.on_close(0.0, at).expect("the last words");
    assert_eq!(describe(&[last]), ["final \"thanks\" at 1.00+0.00"]);
    assert!(turn.on_close(0.0, at).is_none(), "nothing is said twice");
}

#[test]
fn flux_url_carries_the_turn_settings_and_phone_audio() {
    let mut config = DeepgramSttConfig::flux(ApiKey::new("k"));
    assert_eq!(
        flux_url(&config).as_str(),
        "wss://api.deepgram.com/v2/listen?model=flux-general-en&encoding=mulaw&sample_rate=8000\
         &eot_threshold=0.7&eager_eot_threshold=0.5&eot_timeout_ms=5000"
    );
    config.flux.eager_eot_threshold = None;
    config.flux.eot_timeout = Duration::from_millis(1500);
    assert_eq!(
        flux_url(&config).query(),
        Some(
            "model=flux-general-en&encoding=mulaw&sample_rate=8000&eot_threshold=0.7&eot_timeout_ms=1500"
        )
    );
}
