//! `DeepgramTts` against a local server speaking `/v1/speak` as docs/protocols.md section 6 describes.

use std::time::{Duration, Instant};

use deepgram::{ApiKey, DeepgramTts, DeepgramTtsConfig, ReconnectPolicy};
use providers::{ProviderError, TextToSpeech, TtsEvent, TtsHandle, TtsOptions};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::mock::{ClientFrame, MockDeepgram, ServerConn, guard};

fn config(server: &MockDeepgram) -> DeepgramTtsConfig {
    let mut config = DeepgramTtsConfig::new(ApiKey::new("tts-key"));
    config.url = server.url("/v1/speak");
    config.connect_timeout = Duration::from_secs(5);
    config.close_timeout = Duration::from_secs(5);
    config.reconnect = ReconnectPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_attempts: 3,
        stable_after: Duration::from_secs(10),
    };
    config
}

struct Session {
    handle: TtsHandle,
    events: mpsc::Receiver<TtsEvent>,
    driver: JoinHandle<()>,
}

impl Session {
    async fn next(&mut self) -> String {
        let event = guard("a tts event", self.events.recv())
            .await
            .expect("events ended early");
        describe(&event)
    }

    async fn next_n(&mut self, n: usize) -> Vec<String> {
        let mut res = Vec::new();
        for _ in 0..n {
            res.push(self.next().await);
        }
        res
    }

    async fn finished(self) {
        guard("the driver to end", self.driver).await.unwrap();
    }
}

async fn start(
    server: &MockDeepgram,
    config: DeepgramTtsConfig,
    voice: Option<&str>,
) -> (Session, ServerConn) {
    let tts = DeepgramTts::new(config);
    let options = TtsOptions {
        call_id: "CA-test".to_owned(),
        voice: voice.map(str::to_owned),
    };
    let (session, conn) = tokio::join!(tts.connect(options), server.accept());
    let session = session.unwrap();
    let driver = tokio::spawn(session.driver);
    (
        Session {
            handle: session.handle,
            events: session.events,
            driver,
        },
        conn,
    )
}

fn describe(event: &TtsEvent) -> String {
    match event {
        TtsEvent::Audio { mulaw, .. } => format!(
            "audio {}x{}",
            mulaw.first().copied().unwrap_or_default(),
            mulaw.len()
        ),
        TtsEvent::Flushed { .. } => "flushed".to_owned(),
        TtsEvent::Cleared { .. } => "cleared".to_owned(),
        TtsEvent::Reconnecting { reason, .. } => format!("reconnecting: {reason}"),
        TtsEvent::Error { error, .. } => format!("error {error}"),
        TtsEvent::Closed { .. } => "closed".to_owned(),
    }
}

fn speak(text: &str) -> ClientFrame {
    ClientFrame::Text(json!({ "type": "Speak", "text": text }))
}

fn control(kind: &str) -> ClientFrame {
    ClientFrame::Text(json!({ "type": kind }))
}

/// The next `n` frames the client sent.
async fn frames(conn: &mut ServerConn, n: usize) -> Vec<ClientFrame> {
    let mut res = Vec::new();
    for _ in 0..n {
        res.push(conn.recv().await);
    }
    res
}

fn audio(value: u8) -> Vec<u8> {
    vec![value; 160]
}

#[tokio::test]
async fn speak_flush_audio_flushed() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server), None).await;
    assert_eq!(conn.upgrade.path, "/v1/speak");
    assert_eq!(
        conn.upgrade.query_string(),
        "model=aura-2-thalia-en&encoding=mulaw&sample_rate=8000"
    );
    assert_eq!(conn.upgrade.authorization.as_deref(), Some("Token tts-key"));

    session
        .handle
        .send_text("Your car will be ready at four.")
        .await
        .unwrap();
    session.handle.send_text("").await.unwrap();
    session.handle.flush().await.unwrap();
    assert_eq!(
        frames(&mut conn, 2).await,
        [speak("Your car will be ready at four."), control("Flush")]
    );
    conn.send_json(r#"{"type":"Metadata","request_id":"r","model_name":"aura-2-thalia-en","model_version":"v","model_uuid":"u"}"#).await;
    conn.send_binary(&audio(1)).await;
    conn.send_binary(&audio(2)).await;
    conn.send_json(r#"{"type":"Flushed","sequence_id":0}"#)
        .await;
    assert_eq!(
        session.next_n(3).await,
        ["audio 1x160", "audio 2x160", "flushed"]
    );
}

#[tokio::test]
async fn the_voice_can_be_chosen_per_call() {
    let server = MockDeepgram::start().await;
    let (_session, conn) = start(&server, config(&server), Some("aura-2-andromeda-en")).await;
    assert_eq!(
        conn.upgrade.query_string(),
        "model=aura-2-andromeda-en&encoding=mulaw&sample_rate=8000"
    );
}

/// Barge-in: audio already in flight when `Clear` is sent never reaches the caller.
#[tokio::test]
async fn audio_after_clear_is_dropped_until_cleared() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server), None).await;
    session
        .handle
        .send_text("Let me check the schedule for Tuesday.")
        .await
        .unwrap();
    session.handle.flush().await.unwrap();
    assert_eq!(
        frames(&mut conn, 2).await,
        [
            speak("Let me check the schedule for Tuesday."),
            control("Flush")
        ]
    );
    conn.send_binary(&audio(1)).await;
    assert_eq!(session.next().await, "audio 1x160");

    session.handle.clear().await.unwrap();
    conn.expect_control("Clear").await;
    conn.send_binary(&audio(2)).await;
    conn.send_json(r#"{"type":"Flushed","sequence_id":0}"#)
        .await;
    conn.send_binary(&audio(3)).await;
    conn.send_json(r#"{"type":"Cleared","sequence_id":1}"#)
        .await;

    session.handle.send_text("Sure, go ahead.").await.unwrap();
    session.handle.flush().await.unwrap();
    assert_eq!(
        frames(&mut conn, 2).await,
        [speak("Sure, go ahead."), control("Flush")]
    );
    conn.send_binary(&audio(4)).await;
    conn.send_json(r#"{"type":"Flushed","sequence_id":2}"#)
        .await;
    assert_eq!(
        session.next_n(3).await,
        ["cleared", "audio 4x160", "flushed"]
    );
}

/// If the server answers `Clear` without a `Flushed` for the cleared text, the next `Flushed`
/// still belongs to the next flush.
#[tokio::test]
async fn a_cleared_flush_without_its_flushed_does_not_shift_later_flushes() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server), None).await;
    session.handle.send_text("one").await.unwrap();
    session.handle.flush().await.unwrap();
    session.handle.clear().await.unwrap();
    session.handle.send_text("two").await.unwrap();
    session.handle.flush().await.unwrap();
    assert_eq!(
        frames(&mut conn, 5).await,
        [
            speak("one"),
            control("Flush"),
            control("Clear"),
            speak("two"),
            control("Flush")
        ]
    );
    conn.send_json(r#"{"type":"Cleared","sequence_id":1}"#)
        .await;
    conn.send_binary(&audio(7)).await;
    conn.send_json(r#"{"type":"Flushed","sequence_id":2}"#)
        .await;
    assert_eq!(
        session.next_n(3).await,
        ["cleared", "audio 7x160", "flushed"]
    );
}

#[tokio::test]
async fn flushes_beyond_the_rate_limit_are_deferred_and_merged() {
    let server = MockDeepgram::start().await;
    let mut config = config(&server);
    config.flush_limit = 2;
    config.flush_window = Duration::from_millis(300);
    let (mut session, mut conn) = start(&server, config, None).await;
    // The first flush leaves after this instant, so the third may not arrive before it + window.
    let before_first_flush = Instant::now();
    for text in ["a", "b", "c", "d"] {
        session.handle.send_text(text).await.unwrap();
        session.handle.flush().await.unwrap();
    }
    let mut seen = Vec::new();
    let mut flush_times = Vec::new();
    while flush_times.len() < 3 {
        let frame = conn.recv().await;
        if frame == control("Flush") {
            flush_times.push(Instant::now());
        }
        seen.push(frame);
    }
    assert_eq!(
        seen,
        [
            speak("a"),
            control("Flush"),
            speak("b"),
            control("Flush"),
            speak("c"),
            speak("d"),
            control("Flush")
        ]
    );
    let gap = flush_times[2] - before_first_flush;
    assert!(
        gap >= Duration::from_millis(300),
        "third flush came {gap:?} after the first"
    );

    for sequence_id in 0..3 {
        conn.send_json(&format!(
            r#"{{"type":"Flushed","sequence_id":{sequence_id}}}"#
        ))
        .await;
    }
    // Four caller flushes, four answers: the merged wire flush answers two.
    assert_eq!(
        session.next_n(4).await,
        ["flushed", "flushed", "flushed", "flushed"]
    );
}

#[tokio::test]
async fn warnings_unknown_types_and_malformed_json_do_not_end_the_session() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server), None).await;
    conn.send_json(
        r#"{"type":"Warning","description":"Flush rate limit exceeded","code":"FLUSH_LIMIT"}"#,
    )
    .await;
    conn.send_json(r#"{"type":"Unheard","x":1}"#).await;
    conn.send_json("{oops").await;
    conn.send_binary(&audio(5)).await;
    assert_eq!(
        session.next_n(3).await,
        [
            "error vendor error: warning FLUSH_LIMIT: Flush rate limit exceeded",
            "error protocol error: malformed message: key must be a string at line 1 column 2",
            "audio 5x160",
        ]
    );
}

/// A drop before any audio came back: flushed and unflushed text is re-sent, in order.
#[tokio::test]
async fn reconnect_resends_text_whose_audio_had_not_started() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server), None).await;
    session
        .handle
        .send_text("Your appointment is at nine.")
        .await
        .unwrap();
    session.handle.flush().await.unwrap();
    session.handle.send_text("Anything else?").await.unwrap();
    assert_eq!(
        frames(&mut conn, 3).await,
        [
            speak("Your appointment is at nine."),
            control("Flush"),
            speak("Anything else?")
        ]
    );
    conn.drop_abruptly();
    assert!(session.next().await.starts_with("reconnecting: "));
    session.handle.send_text("Goodbye.").await.unwrap();
    let mut conn = server.accept().await;
    assert_eq!(conn.upgrade.authorization.as_deref(), Some("Token tts-key"));
    assert_eq!(
        frames(&mut conn, 4).await,
        [
            speak("Your appointment is at nine."),
            control("Flush"),
            speak("Anything else?"),
            speak("Goodbye.")
        ]
    );
    session.handle.flush().await.unwrap();
    conn.expect_control("Flush").await;
    conn.send_binary(&audio(1)).await;
    conn.send_json(r#"{"type":"Flushed","sequence_id":0}"#)
        .await;
    conn.send_binary(&audio(2)).await;
    conn.send_json(r#"{"type":"Flushed","sequence_id":1}"#)
        .await;
    assert_eq!(
        session.next_n(4).await,
        ["audio 1x160", "flushed", "audio 2x160", "flushed"]
    );
}

/// A drop after audio started: that reply is not repeated; it is answered as flushed.
#[tokio::test]
async fn reconnect_does_not_repeat_a_reply_whose_audio_had_started() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server), None).await;
    session.handle.send_text("We open at eight.").await.unwrap();
    session.handle.flush().await.unwrap();
    assert_eq!(
        frames(&mut conn, 2).await,
        [speak("We open at eight."), control("Flush")]
    );
    conn.send_binary(&audio(1)).await;
    assert_eq!(session.next().await, "audio 1x160");
    conn.close(1011, "internal error").await;
    assert_eq!(
        session.next_n(2).await,
        [
            "reconnecting: vendor error: closed by the server (code 1011: internal error)",
            "flushed"
        ]
    );
    let mut conn = server.accept().await;
    session.handle.send_text("Bye.").await.unwrap();
    session.handle.flush().await.unwrap();
    assert_eq!(
        frames(&mut conn, 2).await,
        [speak("Bye."), control("Flush")]
    );
}

#[tokio::test]
async fn close_delivers_the_remaining_audio_then_ends() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server), None).await;
    session
        .handle
        .send_text("Thanks for calling.")
        .await
        .unwrap();
    session.handle.flush().await.unwrap();
    session.handle.close().await.unwrap();
    assert_eq!(
        frames(&mut conn, 3).await,
        [
            speak("Thanks for calling."),
            control("Flush"),
            control("Close")
        ]
    );
    conn.send_binary(&audio(3)).await;
    conn.close(1000, "").await;
    assert_eq!(
        session.next_n(3).await,
        ["audio 3x160", "flushed", "closed"]
    );
    session.finished().await;
}

#[tokio::test]
async fn refused_handshake_is_an_auth_error() {
    let server = MockDeepgram::start().await;
    let tts = DeepgramTts::new(config(&server));
    let (result, _) = tokio::join!(
        tts.connect(TtsOptions::default()),
        server.refuse(403, "Insufficient permissions.")
    );
    let Err(err) = result else {
        panic!("connect should fail")
    };
    assert_eq!(
        err,
        ProviderError::Auth(
            "status 403: Insufficient permissions. (dg-request-id req-refused)".to_owned()
        )
    );
}

#[tokio::test]
async fn a_refused_reconnect_ends_the_session() {
    let server = MockDeepgram::start().await;
    let (mut session, conn) = start(&server, config(&server), None).await;
    conn.drop_abruptly();
    assert!(session.next().await.starts_with("reconnecting: "));
    server.refuse(401, "Invalid credentials.").await;
    assert_eq!(
        session.next_n(2).await,
        [
            "error authentication refused: status 401: Invalid credentials. (dg-request-id req-refused)",
            "closed"
        ]
    );
    session.finished().await;
}

#[tokio::test]
async fn a_clear_while_reconnecting_drops_the_pending_text() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server), None).await;
    session.handle.send_text("Old reply.").await.unwrap();
    session.handle.flush().await.unwrap();
    assert_eq!(
        frames(&mut conn, 2).await,
        [speak("Old reply."), control("Flush")]
    );
    conn.drop_abruptly();
    assert!(session.next().await.starts_with("reconnecting: "));
    session.handle.clear().await.unwrap();
    assert_eq!(session.next().await, "cleared");
    session.handle.send_text("New reply.").await.unwrap();
    let mut conn = server.accept().await;
    assert_eq!(conn.recv().await, speak("New reply."));
}

#[tokio::test]
async fn long_text_is_sent_as_several_speak_messages() {
    let server = MockDeepgram::start().await;
    let mut config = config(&server);
    config.max_speak_chars = 12;
    let (session, mut conn) = start(&server, config, None).await;
    session
        .handle
        .send_text("Your brake pads are worn.")
        .await
        .unwrap();
    session.handle.flush().await.unwrap();
    assert_eq!(
        frames(&mut conn, 4).await,
        [
            speak("Your brake "),
            speak("pads are "),
            speak("worn."),
            control("Flush")
        ]
    );
}

/// A `Cleared` that never comes must not mute the rest of the call.
#[tokio::test]
async fn a_missing_cleared_stops_holding_audio_back_after_the_clear_timeout() {
    let server = MockDeepgram::start().await;
    let mut config = config(&server);
    config.clear_timeout = Duration::from_millis(150);
    let (mut session, mut conn) = start(&server, config, None).await;
    session.handle.clear().await.unwrap();
    conn.expect_control("Clear").await;
    // The server never answers the Clear in time.
    assert_eq!(session.next().await, "cleared");
    // Its late answer is not passed on twice, and audio flows.
    conn.send_json(r#"{"type":"Cleared","sequence_id":0}"#)
        .await;
    conn.send_binary(&audio(2)).await;
    assert_eq!(session.next().await, "audio 2x160");
}
