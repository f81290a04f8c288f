//! `DeepgramStt` in Flux mode against a local server speaking `/v2/listen` as
//! docs/protocols.md ("Deepgram Flux") describes.

use std::time::Duration;

use deepgram::{ApiKey, DeepgramStt, DeepgramSttConfig};
use providers::{SpeechToText, UtteranceAssembler};

use crate::mock::{MockDeepgram, ServerConn, guard};
use crate::stt::{self, describe, frame};

fn config(server: &MockDeepgram) -> DeepgramSttConfig {
    let mut config = stt::config(server);
    config.model = "flux-general-en".to_owned();
    config.url = server.url("/v2/listen");
    config
}

const CONNECTED: &str = r#"{"type":"Connected","request_id":"req-flux","sequence_id":0}"#;

fn turn_info(event: &str, transcript: &str, start: f64, end: f64) -> String {
    serde_json::json!({
        "type": "TurnInfo", "request_id": "req-flux", "sequence_id": 1, "event": event,
        "turn_index": 0, "audio_window_start": start, "audio_window_end": end,
        "transcript": transcript,
        "words": transcript.split_whitespace().map(|w| serde_json::json!({"word": w, "confidence": 0.9})).collect::<Vec<_>>(),
        "end_of_turn_confidence": if event == "EndOfTurn" { 0.85 } else { 0.2 }
    })
    .to_string()
}

/// Four 20 ms frames: one 80 ms chunk.
fn chunk(values: [u8; 4]) -> Vec<u8> {
    values.iter().flat_map(|v| frame(*v)).collect()
}

/// Nothing arrives from the client for a short while.
async fn nothing_for_a_while(conn: &mut ServerConn) {
    let waited = tokio::time::timeout(Duration::from_millis(150), conn.recv()).await;
    assert!(waited.is_err(), "the client sent {waited:?}");
}

#[tokio::test]
async fn flux_connects_to_v2_with_turn_settings_waits_for_connected_and_sends_80_ms_chunks() {
    let server = MockDeepgram::start().await;
    let stt = DeepgramStt::new(config(&server));
    assert!(stt.ends_turns_by_meaning());
    assert_eq!(stt.name(), "deepgram-flux");
    let (mut session, mut conn) = stt::start(&server, config(&server)).await;
    assert_eq!(conn.upgrade.path, "/v2/listen");
    assert_eq!(
        conn.upgrade.query_string(),
        "model=flux-general-en&encoding=mulaw&sample_rate=8000&eot_threshold=0.7&eager_eot_threshold=0.5&eot_timeout_ms=5000"
    );
    assert_eq!(
        conn.upgrade.authorization.as_deref(),
        Some("Token test-key")
    );

    for value in 1..=5 {
        session.audio(&frame(value));
    }
    // Before `Connected`, audio waits.
    nothing_for_a_while(&mut conn).await;
    conn.send_json(CONNECTED).await;
    assert_eq!(conn.expect_audio().await, chunk([1, 2, 3, 4]));
    for value in 6..=8 {
        session.audio(&frame(value));
    }
    assert_eq!(conn.expect_audio().await, chunk([5, 6, 7, 8]));
    // Half a chunk waits for the rest...
    session.audio(&frame(9));
    nothing_for_a_while(&mut conn).await;
    // ...unless the turn is forced to end: then it goes first, then `ForceEndTurn`.
    session.handle.finalize().await.unwrap();
    assert_eq!(conn.expect_audio().await, frame(9));
    conn.expect_control("ForceEndTurn").await;
    conn.send_json(&turn_info("EndOfTurn", "yes", 0.0, 0.18))
        .await;
    assert_eq!(
        session.next().await,
        "transcript \"yes\" final=true speech_final=true from_finalize=true confidence=0.85 start=0 duration=0.18"
    );
}

/// A whole turn as Flux reports it, with an eager end the caller talks past, through the same
/// assembler the pipeline uses: one utterance, at `EndOfTurn`.
#[tokio::test]
async fn turn_events_become_speech_started_interims_eager_ends_and_one_utterance() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = stt::start(&server, config(&server)).await;
    conn.send_json(CONNECTED).await;
    for message in [
        turn_info("StartOfTurn", "", 0.4, 0.4),
        turn_info("Update", "i need", 0.4, 0.8),
        turn_info("Update", "i need", 0.4, 1.04),
        turn_info("EagerEndOfTurn", "i need an oil change", 0.4, 1.6),
        turn_info("TurnResumed", "i need an oil change and", 0.4, 1.84),
        turn_info("Update", "i need an oil change and a rotation", 0.4, 2.4),
        turn_info(
            "EagerEndOfTurn",
            "i need an oil change and a rotation",
            0.4,
            2.6,
        ),
        turn_info("EndOfTurn", "i need an oil change and a rotation", 0.4, 2.8),
        r#"{"type":"Error","code":"SLOW","description":"falling behind"}"#.to_owned(),
        r#"{"type":"TurnInfo","event":"#.to_owned(),
        turn_info("StartOfTurn", "thanks", 3.5, 3.75),
    ] {
        conn.send_json(&message).await;
    }
    let mut assembler = UtteranceAssembler::new();
    let mut lines = Vec::new();
    for _ in 0..12 {
        let event = guard("an stt event", session.events.recv()).await.unwrap();
        lines.push(describe(&event));
        if let Some(utterance) = assembler.push(&event) {
            lines.push(format!("  utterance {:?}", utterance.text));
        }
    }
    assert_eq!(
        lines,
        [
            "speech_started 0.4",
            "transcript \"i need\" final=false speech_final=false from_finalize=false confidence=0 start=0.4 duration=0.4",
            "eager_end_of_turn \"i need an oil change\"",
            "turn_resumed",
            "transcript \"i need an oil change and\" final=false speech_final=false from_finalize=false confidence=0 start=0.4 duration=1.44",
            "transcript \"i need an oil change and a rotation\" final=false speech_final=false from_finalize=false confidence=0 start=0.4 duration=2",
            "eager_end_of_turn \"i need an oil change and a rotation\"",
            "transcript \"i need an oil change and a rotation\" final=true speech_final=true from_finalize=false confidence=0.85 start=0.4 duration=2.4",
            "  utterance \"i need an oil change and a rotation\"",
            "error vendor error: SLOW: falling behind",
            "error protocol error: malformed message: EOF while parsing a value at line 1 column 27",
            "speech_started 3.5",
            "transcript \"thanks\" final=false speech_final=false from_finalize=false confidence=0 start=3.5 duration=0.25",
        ]
    );
}

/// `CloseStream`: Flux sends its last `Update`s and closes without an `EndOfTurn`; the last words
/// are the final transcript, so the caller's goodbye is not lost.
#[tokio::test]
async fn close_stream_makes_the_last_update_final() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = stt::start(&server, config(&server)).await;
    conn.send_json(CONNECTED).await;
    for value in 1..=6 {
        session.audio(&frame(value));
    }
    assert_eq!(conn.expect_audio().await, chunk([1, 2, 3, 4]));
    session.handle.close().await.unwrap();
    // The part-filled chunk goes before `CloseStream`.
    assert_eq!(conn.expect_audio().await, [frame(5), frame(6)].concat());
    conn.expect_control("CloseStream").await;
    conn.send_json(&turn_info("StartOfTurn", "okay", 0.0, 0.1))
        .await;
    conn.send_json(&turn_info("Update", "okay bye", 0.0, 0.12))
        .await;
    conn.close(1000, "").await;
    assert_eq!(
        session.next_n(4).await,
        [
            "speech_started 0",
            "transcript \"okay\" final=false speech_final=false from_finalize=false confidence=0 start=0 duration=0.1",
            "transcript \"okay bye\" final=false speech_final=false from_finalize=false confidence=0 start=0 duration=0.12",
            "transcript \"okay bye\" final=true speech_final=true from_finalize=false confidence=0 start=0 duration=0",
        ]
    );
    assert_eq!(session.next().await, "closed");
    session.finished().await;
}

/// A dropped Flux socket: the new one waits for `Connected`, then gets the audio after the last
/// `EndOfTurn` and what arrived meanwhile, and a forced end that was never answered again.
#[tokio::test]
async fn a_dropped_socket_replays_the_unfinished_turn_after_connected() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = stt::start(&server, config(&server)).await;
    conn.send_json(CONNECTED).await;
    for value in 1..=8 {
        session.audio(&frame(value));
    }
    assert_eq!(conn.expect_audio().await, chunk([1, 2, 3, 4]));
    assert_eq!(conn.expect_audio().await, chunk([5, 6, 7, 8]));
    // The first 80 ms were a whole turn.
    conn.send_json(&turn_info("EndOfTurn", "hi", 0.0, 0.08))
        .await;
    assert!(
        session
            .next()
            .await
            .starts_with("transcript \"hi\" final=true")
    );
    session.handle.finalize().await.unwrap();
    conn.expect_control("ForceEndTurn").await;
    conn.drop_abruptly();
    assert_eq!(session.next().await, "reconnecting (connect)");
    for value in 9..=12 {
        session.audio(&frame(value));
    }
    let mut conn = server.accept().await;
    assert_eq!(conn.upgrade.path, "/v2/listen");
    nothing_for_a_while(&mut conn).await;
    conn.send_json(CONNECTED).await;
    assert_eq!(conn.expect_audio().await, chunk([5, 6, 7, 8]));
    assert_eq!(conn.expect_audio().await, chunk([9, 10, 11, 12]));
    conn.expect_control("ForceEndTurn").await;
    assert_eq!(session.next().await, "reconnected");
    // The new socket's clock starts 80 ms into the session.
    conn.send_json(&turn_info("EndOfTurn", "my brakes", 0.0, 0.16))
        .await;
    assert_eq!(
        session.next().await,
        "transcript \"my brakes\" final=true speech_final=true from_finalize=true confidence=0.85 start=0.08 duration=0.16"
    );
    session.handle.close().await.unwrap();
    conn.expect_control("CloseStream").await;
    conn.close(1000, "").await;
    assert_eq!(session.next().await, "closed");
}

#[tokio::test]
async fn flux_keeps_no_keepalive_timer() {
    let server = MockDeepgram::start().await;
    let mut config = config(&server);
    config.keepalive_interval = Duration::from_millis(50);
    let (_session, mut conn) = stt::start(&server, config).await;
    conn.send_json(CONNECTED).await;
    nothing_for_a_while(&mut conn).await;
}

#[tokio::test]
async fn keyterms_go_to_flux_too() {
    let server = MockDeepgram::start().await;
    let stt = DeepgramStt::new(DeepgramSttConfig {
        api_key: ApiKey::new("k"),
        ..config(&server)
    });
    let options = providers::SttOptions {
        call_id: "CA-flux".to_owned(),
        keyterms: vec!["Silverado".to_owned()],
    };
    let (session, conn) = tokio::join!(stt.connect(options), server.accept());
    assert!(conn.upgrade.query_string().ends_with("&keyterm=Silverado"));
    drop(session.unwrap());
}
