//! `DeepgramStt` against a local server speaking `/v1/listen` as docs/protocols.md section 5 describes.

use std::time::Duration;

use bytes::Bytes;
use deepgram::{ApiKey, DeepgramStt, DeepgramSttConfig, ReconnectPolicy};
use providers::{ProviderError, SpeechToText, SttEvent, SttHandle, SttOptions, UtteranceAssembler};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::mock::{MockDeepgram, ServerConn, guard};

pub(crate) fn config(server: &MockDeepgram) -> DeepgramSttConfig {
    let mut config = DeepgramSttConfig::new(ApiKey::new("test-key"));
    config.url = server.url("/v1/listen");
    config.keepalive_interval = Duration::from_secs(5);
    config.half_dead_timeout = Duration::from_secs(5);
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

pub(crate) struct Session {
    pub(crate) handle: SttHandle,
    pub(crate) events: mpsc::Receiver<SttEvent>,
    driver: JoinHandle<()>,
}

impl Session {
    /// The next event, described without its `Instant`.
    pub(crate) async fn next(&mut self) -> String {
        let event = guard("an stt event", self.events.recv())
            .await
            .expect("events ended early");
        describe(&event)
    }

    /// The next `n` events, one line each.
    pub(crate) async fn next_n(&mut self, n: usize) -> Vec<String> {
        let mut res = Vec::new();
        for _ in 0..n {
            res.push(self.next().await);
        }
        res
    }

    pub(crate) fn audio(&self, bytes: &[u8]) {
        self.handle
            .send_audio(Bytes::copy_from_slice(bytes))
            .unwrap();
    }

    pub(crate) async fn finished(self) {
        guard("the driver to end", self.driver).await.unwrap();
    }
}

/// Connects (the server accepts concurrently) and spawns the driver, as the pipeline would.
pub(crate) async fn start(
    server: &MockDeepgram,
    config: DeepgramSttConfig,
) -> (Session, ServerConn) {
    let stt = DeepgramStt::new(config);
    let options = SttOptions {
        call_id: "CA-test".to_owned(),
        keyterms: Vec::new(),
    };
    let (session, conn) = tokio::join!(stt.connect(options), server.accept());
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

pub(crate) fn describe(event: &SttEvent) -> String {
    match event {
        SttEvent::Transcript(t) => format!(
            "transcript {:?} final={} speech_final={} from_finalize={} confidence={} start={} duration={}",
            t.text,
            t.is_final,
            t.speech_final,
            t.from_finalize,
            t.confidence,
            t.start_s,
            t.duration_s
        ),
        SttEvent::SpeechStarted { timestamp_s, .. } => format!("speech_started {timestamp_s}"),
        SttEvent::UtteranceEnd {
            last_word_end_s, ..
        } => format!("utterance_end {last_word_end_s}"),
        SttEvent::EagerEndOfTurn { text, .. } => format!("eager_end_of_turn {text:?}"),
        SttEvent::TurnResumed { .. } => "turn_resumed".to_owned(),
        SttEvent::Reconnecting { reason, .. } => format!("reconnecting ({})", kind(reason)),
        SttEvent::Reconnected { .. } => "reconnected".to_owned(),
        SttEvent::Error { error, .. } => format!("error {error}"),
        SttEvent::Closed { .. } => "closed".to_owned(),
    }
}

fn kind(error: &ProviderError) -> &'static str {
    match error {
        ProviderError::Connect(_) => "connect",
        ProviderError::Timeout(_) => "timeout",
        ProviderError::RateLimited { .. } => "rate limited",
        ProviderError::Http { .. } => "http",
        ProviderError::Auth(_) => "auth",
        ProviderError::Protocol(_) => "protocol",
        ProviderError::Vendor(_) => "vendor",
        ProviderError::Closed => "closed",
    }
}

/// A `Results` message shaped like docs/protocols.md 5.4.
fn results(text: &str, start: f64, duration: f64, is_final: bool, speech_final: bool) -> String {
    serde_json::json!({
        "type": "Results", "channel_index": [0, 1], "duration": duration, "start": start,
        "is_final": is_final, "speech_final": speech_final, "from_finalize": false,
        "channel": {"alternatives": [{"transcript": text, "confidence": 0.9,
            "words": [{"word": "x", "start": start, "end": start + duration, "confidence": 0.9}]}]},
        "metadata": {"request_id": "req-1", "model_info": {"name": "general-nova-3", "version": "v", "arch": "nova-3"}, "model_uuid": "u"}
    })
    .to_string()
}

/// 20 ms of μ-law, every byte `value`.
pub(crate) fn frame(value: u8) -> Vec<u8> {
    vec![value; 160]
}

#[tokio::test]
async fn connects_with_phone_parameters_token_header_and_forwards_audio_byte_for_byte() {
    let server = MockDeepgram::start().await;
    let (session, mut conn) = start(&server, config(&server)).await;
    assert_eq!(conn.upgrade.path, "/v1/listen");
    assert_eq!(
        conn.upgrade.query_string(),
        "model=nova-3&language=en-US&encoding=mulaw&sample_rate=8000&channels=1&interim_results=true&endpointing=300&utterance_end_ms=1000&vad_events=true&punctuate=true&smart_format=true"
    );
    assert_eq!(
        conn.upgrade.authorization.as_deref(),
        Some("Token test-key")
    );

    let first: Vec<u8> = (0..=255).collect();
    session.audio(&first);
    // A zero-length frame would close Deepgram's stream: it must never be sent.
    session.audio(&[]);
    session.audio(&frame(0x7f));
    assert_eq!(conn.expect_audio().await, first);
    assert_eq!(conn.expect_audio().await, frame(0x7f));
}

/// The call's vocabulary goes to Nova-3 as repeated `keyterm` parameters, within Deepgram's
/// limits (going over stalls the stream), repeats and blanks left out.
#[tokio::test]
async fn keyterms_go_in_the_query_within_the_limits() {
    let server = MockDeepgram::start().await;
    let stt = DeepgramStt::new(config(&server));
    let mut keyterms = vec![
        "Honda Civic".to_owned(),
        "honda civic".to_owned(),
        " ".to_owned(),
        "Main Street Auto Care".to_owned(),
    ];
    keyterms.extend((0..200).map(|n| format!("term number {n}")));
    let options = SttOptions {
        call_id: "CA-keyterms".to_owned(),
        keyterms,
    };
    let (session, conn) = tokio::join!(stt.connect(options), server.accept());
    let session = session.unwrap();
    let query = conn.upgrade.query_string();
    let terms: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == "keyterm")
        .map(|(_, value)| value.into_owned())
        .collect();
    assert_eq!(
        terms[..3],
        ["Honda Civic", "Main Street Auto Care", "term number 0"]
    );
    assert!(terms.len() < 100, "{} terms", terms.len());
    let estimated_tokens: usize = terms
        .iter()
        .map(|t| t.chars().count().div_ceil(3) + 1)
        .sum();
    assert!(estimated_tokens <= 450, "{estimated_tokens}");
    drop(session);
}

#[tokio::test]
async fn interim_final_speech_final_and_utterance_end_become_events_and_utterances() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server)).await;
    conn.send_json(r#"{"type":"SpeechStarted","channel":[0,1],"timestamp":0.54}"#)
        .await;
    conn.send_json(&results("my brakes", 0.5, 0.6, false, false))
        .await;
    conn.send_json(&results("my brakes are", 0.5, 1.0, true, false))
        .await;
    conn.send_json(&results("squeaking", 1.5, 0.5, true, true))
        .await;
    conn.send_json(r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.0}"#)
        .await;
    // A noisy line: finals without speech_final, ended by the UtteranceEnd backstop.
    conn.send_json(&results("also the", 3.0, 0.5, true, false))
        .await;
    // Optional booleans missing: an interim.
    conn.send_json(
        r#"{"type":"Results","channel_index":[0,1],"duration":0.3,"start":3.5,"channel":{"alternatives":[{"transcript":"also the oil","confidence":0.5}]},"metadata":{}}"#,
    )
    .await;
    conn.send_json(&results("oil light", 3.5, 0.6, true, false))
        .await;
    conn.send_json(r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":4.1}"#)
        .await;

    let mut assembler = UtteranceAssembler::new();
    let mut lines = Vec::new();
    for _ in 0..9 {
        let event = guard("an stt event", session.events.recv()).await.unwrap();
        lines.push(describe(&event));
        if let Some(utterance) = assembler.push(&event) {
            lines.push(format!(
                "  utterance {:?} by_utterance_end={}",
                utterance.text, utterance.by_utterance_end
            ));
        }
    }
    assert_eq!(
        lines,
        [
            "speech_started 0.54",
            "transcript \"my brakes\" final=false speech_final=false from_finalize=false confidence=0.9 start=0.5 duration=0.6",
            "transcript \"my brakes are\" final=true speech_final=false from_finalize=false confidence=0.9 start=0.5 duration=1",
            "transcript \"squeaking\" final=true speech_final=true from_finalize=false confidence=0.9 start=1.5 duration=0.5",
            "  utterance \"my brakes are squeaking\" by_utterance_end=false",
            "utterance_end 2",
            "transcript \"also the\" final=true speech_final=false from_finalize=false confidence=0.9 start=3 duration=0.5",
            "transcript \"also the oil\" final=false speech_final=false from_finalize=false confidence=0.5 start=3.5 duration=0.3",
            "transcript \"oil light\" final=true speech_final=false from_finalize=false confidence=0.9 start=3.5 duration=0.6",
            "utterance_end 4.1",
            "  utterance \"also the oil light\" by_utterance_end=true",
        ]
    );
}

#[tokio::test]
async fn malformed_json_unknown_types_and_error_frames_do_not_end_the_session() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server)).await;
    conn.send_json(r#"{"type":"Results","start":"#).await;
    conn.send_json(r#"{"type":"SomethingNew","x":1}"#).await;
    conn.send_json(r#"{"type":"UtteranceEnd","channel":[0,1]}"#)
        .await;
    conn.send_json(r#"{"type":"Error","variant":"INTERNAL","description":"hiccup"}"#)
        .await;
    conn.send_binary(&[1, 2, 3]).await;
    conn.send_json(&results("still here", 0.0, 1.0, true, true))
        .await;
    assert_eq!(
        session.next_n(4).await,
        [
            "error protocol error: malformed message: EOF while parsing a value at line 1 column 26",
            "error protocol error: malformed message: missing field `last_word_end`",
            "error vendor error: INTERNAL: hiccup",
            "transcript \"still here\" final=true speech_final=true from_finalize=false confidence=0.9 start=0 duration=1",
        ]
    );
}

#[tokio::test]
async fn keepalive_is_sent_after_an_interval_without_audio() {
    let server = MockDeepgram::start().await;
    let mut config = config(&server);
    config.keepalive_interval = Duration::from_millis(100);
    let (session, mut conn) = start(&server, config).await;
    conn.expect_control("KeepAlive").await;
    session.audio(&frame(1));
    assert_eq!(conn.expect_audio().await, frame(1));
    conn.expect_control("KeepAlive").await;
    conn.expect_control("KeepAlive").await;
}

#[tokio::test]
async fn finalize_then_close_stream_delivers_the_last_results_and_ends() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server)).await;
    session.audio(&frame(9));
    assert_eq!(conn.expect_audio().await, frame(9));
    session.handle.finalize().await.unwrap();
    conn.expect_control("Finalize").await;
    conn.send_json(
        r#"{"type":"Results","channel_index":[0,1],"duration":0.02,"start":0.0,"is_final":true,"speech_final":false,"from_finalize":true,"channel":{"alternatives":[{"transcript":"hi","confidence":0.8}]},"metadata":{}}"#,
    )
    .await;
    assert_eq!(
        session.next().await,
        "transcript \"hi\" final=true speech_final=false from_finalize=true confidence=0.8 start=0 duration=0.02"
    );

    session.handle.close().await.unwrap();
    conn.expect_control("CloseStream").await;
    conn.send_json(&results("bye", 0.02, 0.5, true, true)).await;
    conn.send_json(r#"{"type":"Metadata","transaction_key":"deprecated","request_id":"req-1","sha256":"x","created":"2026-11-24T13:00:00Z","duration":0.52,"channels":1}"#).await;
    conn.close(1000, "").await;
    assert_eq!(
        session.next_n(2).await,
        [
            "transcript \"bye\" final=true speech_final=true from_finalize=false confidence=0.9 start=0.02 duration=0.5",
            "closed",
        ]
    );
    session.finished().await;
}

#[tokio::test]
async fn close_stream_gives_up_waiting_after_the_close_timeout() {
    let server = MockDeepgram::start().await;
    let mut config = config(&server);
    config.close_timeout = Duration::from_millis(150);
    let (mut session, mut conn) = start(&server, config).await;
    session.handle.close().await.unwrap();
    conn.expect_control("CloseStream").await;
    // The server never answers or closes.
    assert_eq!(session.next().await, "closed");
    session.finished().await;
}

/// A socket closed mid-utterance: the audio after the last final and the audio sent while
/// reconnecting are replayed in order on the new socket, and the utterance comes out whole.
#[tokio::test]
async fn socket_closed_mid_utterance_replays_unfinalized_audio_and_keeps_the_utterance() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server)).await;
    let mut assembler = UtteranceAssembler::new();
    for value in [1, 2, 3] {
        session.audio(&frame(value));
    }
    for value in [1, 2, 3] {
        assert_eq!(conn.expect_audio().await, frame(value));
    }
    // The first 20 ms are final; the rest is still being worked on when the socket dies.
    conn.send_json(&results("my brakes", 0.0, 0.02, true, false))
        .await;
    let event = guard("a transcript", session.events.recv()).await.unwrap();
    assert_eq!(assembler.push(&event), None);
    conn.close(
        1011,
        "NET-0000 Deepgram did not provide a response message within the timeout window",
    )
    .await;
    assert_eq!(session.next().await, "reconnecting (timeout)");

    // The new handshake is held until the test accepts it: this audio arrives while reconnecting.
    session.audio(&frame(4));
    session.audio(&frame(5));
    let mut conn = server.accept().await;
    assert_eq!(
        conn.upgrade.authorization.as_deref(),
        Some("Token test-key")
    );
    for value in [2, 3, 4, 5] {
        assert_eq!(
            conn.expect_audio().await,
            frame(value),
            "replayed frame {value}"
        );
    }
    assert_eq!(session.next().await, "reconnected");

    // The new socket's clock starts at the first replayed byte: 0.02 s into the session.
    conn.send_json(&results("are squeaking", 0.0, 0.08, true, true))
        .await;
    let event = guard("a transcript", session.events.recv()).await.unwrap();
    assert_eq!(
        describe(&event),
        "transcript \"are squeaking\" final=true speech_final=true from_finalize=false confidence=0.9 start=0.02 duration=0.08"
    );
    assert_eq!(
        assembler.push(&event).map(|u| u.text),
        Some("my brakes are squeaking".to_owned())
    );

    // Everything is final now: a further drop replays only new audio.
    conn.drop_abruptly();
    assert_eq!(session.next().await, "reconnecting (connect)");
    session.audio(&frame(6));
    let mut conn = server.accept().await;
    assert_eq!(conn.expect_audio().await, frame(6));
    assert_eq!(session.next().await, "reconnected");
}

#[tokio::test]
async fn a_socket_that_goes_silent_while_audio_flows_is_replaced() {
    let server = MockDeepgram::start().await;
    let mut config = config(&server);
    config.half_dead_timeout = Duration::from_millis(200);
    config.keepalive_interval = Duration::from_secs(2);
    let (mut session, mut conn) = start(&server, config).await;
    for value in [1, 2, 3] {
        session.audio(&frame(value));
    }
    for value in [1, 2, 3] {
        assert_eq!(conn.expect_audio().await, frame(value));
    }
    // The server reads the audio and says nothing.
    assert_eq!(session.next().await, "reconnecting (timeout)");
    let mut conn2 = server.accept().await;
    for value in [1, 2, 3] {
        assert_eq!(conn2.expect_audio().await, frame(value));
    }
    assert_eq!(session.next().await, "reconnected");
    conn2
        .send_json(&results("hello", 0.0, 0.06, true, true))
        .await;
    assert_eq!(
        session.next().await,
        "transcript \"hello\" final=true speech_final=true from_finalize=false confidence=0.9 start=0 duration=0.06"
    );
    drop(conn);
}

#[tokio::test]
async fn server_silence_while_the_caller_is_quiet_is_not_half_dead() {
    let server = MockDeepgram::start().await;
    let mut config = config(&server);
    config.half_dead_timeout = Duration::from_millis(150);
    config.keepalive_interval = Duration::from_millis(100);
    let (session, mut conn) = start(&server, config).await;
    session.audio(&frame(1));
    assert_eq!(conn.expect_audio().await, frame(1));
    // The audio stopped: keep-alives follow, past the half-dead deadline, on the same socket.
    for _ in 0..4 {
        conn.expect_control("KeepAlive").await;
    }
}

#[tokio::test]
async fn refused_handshake_is_an_auth_error_at_connect() {
    let server = MockDeepgram::start().await;
    let stt = DeepgramStt::new(config(&server));
    let (result, upgrade) = tokio::join!(
        stt.connect(SttOptions::default()),
        server.refuse(401, "Invalid credentials.")
    );
    assert_eq!(upgrade.authorization.as_deref(), Some("Token test-key"));
    let Err(err) = result else {
        panic!("connect should fail")
    };
    assert_eq!(
        err,
        ProviderError::Auth(
            "status 401: Invalid credentials. (dg-request-id req-refused)".to_owned()
        )
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_refused_reconnect_ends_the_session_without_retrying() {
    let server = MockDeepgram::start().await;
    let (mut session, conn) = start(&server, config(&server)).await;
    conn.drop_abruptly();
    assert_eq!(session.next().await, "reconnecting (connect)");
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
async fn reconnect_gives_up_after_max_attempts() {
    let server = MockDeepgram::start().await;
    let (mut session, conn) = start(&server, config(&server)).await;
    conn.drop_abruptly();
    assert_eq!(session.next().await, "reconnecting (connect)");
    for _ in 0..3 {
        server.refuse(503, "overloaded").await;
    }
    assert_eq!(
        session.next_n(2).await,
        [
            "error http status 503: overloaded (dg-request-id req-refused)",
            "closed"
        ]
    );
    session.finished().await;
}

#[tokio::test]
async fn undecodable_audio_close_is_fatal() {
    let server = MockDeepgram::start().await;
    let (mut session, conn) = start(&server, config(&server)).await;
    conn.close(1008, "DATA-0000 The payload cannot be decoded as audio.")
        .await;
    assert_eq!(
        session.next_n(2).await,
        [
            "error protocol error: closed by the server (code 1008: DATA-0000 The payload cannot be decoded as audio.)",
            "closed",
        ]
    );
    session.finished().await;
}

#[tokio::test]
async fn a_handshake_that_never_completes_times_out() {
    let server = MockDeepgram::start().await;
    let mut config = config(&server);
    config.connect_timeout = Duration::from_millis(150);
    // The listener exists but never answers the upgrade.
    let result = DeepgramStt::new(config)
        .connect(SttOptions::default())
        .await;
    let Err(err) = result else {
        panic!("connect should time out")
    };
    assert!(matches!(err, ProviderError::Timeout(_)), "{err:?}");
    assert!(err.is_retryable());
    drop(server);
}

#[tokio::test]
async fn dropping_the_handle_closes_the_stream() {
    let server = MockDeepgram::start().await;
    let (session, mut conn) = start(&server, config(&server)).await;
    let Session {
        handle,
        mut events,
        driver,
    } = session;
    drop(handle);
    conn.expect_control("CloseStream").await;
    conn.close(1000, "").await;
    let event = guard("closed", events.recv()).await.unwrap();
    assert_eq!(describe(&event), "closed");
    guard("the driver", driver).await.unwrap();
}

#[tokio::test]
async fn a_server_that_drops_every_new_socket_is_given_up_on() {
    let server = MockDeepgram::start().await;
    let (mut session, conn) = start(&server, config(&server)).await;
    conn.drop_abruptly();
    assert_eq!(session.next().await, "reconnecting (connect)");
    // max_attempts = 3: each new socket opens, carries nothing, and dies.
    for _ in 0..3 {
        let conn = server.accept().await;
        assert_eq!(session.next().await, "reconnected");
        conn.drop_abruptly();
        assert_eq!(session.next().await, "reconnecting (connect)");
    }
    let error = session.next().await;
    assert!(error.starts_with("error connect failed: "), "{error}");
    assert_eq!(session.next().await, "closed");
    session.finished().await;
}

/// A TLS failure is a `Connect` error; wss:// must not panic for want of a rustls crypto provider
/// (docs/dependencies.md, section 3).
#[tokio::test]
async fn wss_to_a_plain_tcp_listener_is_a_connect_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = DeepgramSttConfig::new(ApiKey::new("k"));
    config.url = url::Url::parse(&format!("wss://127.0.0.1:{port}/v1/listen")).unwrap();
    let stt = DeepgramStt::new(config);
    let refuse = async {
        let (mut stream, _) = listener.accept().await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stream, b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
    };
    let (result, ()) = guard("a tls failure", async {
        tokio::join!(stt.connect(SttOptions::default()), refuse)
    })
    .await;
    let Err(err) = result else {
        panic!("a plain TCP server cannot complete TLS")
    };
    assert!(matches!(err, ProviderError::Connect(_)), "{err:?}");
}

/// Hang-up during a reconnect: the unfinalized audio is replayed, `Finalize` and `CloseStream`
/// follow on the new socket, and the last words still come out.
#[tokio::test]
async fn finalize_and_close_asked_for_while_reconnecting_happen_on_the_new_socket() {
    let server = MockDeepgram::start().await;
    let (mut session, mut conn) = start(&server, config(&server)).await;
    session.audio(&frame(1));
    assert_eq!(conn.expect_audio().await, frame(1));
    conn.drop_abruptly();
    assert_eq!(session.next().await, "reconnecting (connect)");
    session.audio(&frame(2));
    session.handle.finalize().await.unwrap();
    session.handle.close().await.unwrap();
    let mut conn = server.accept().await;
    assert_eq!(conn.expect_audio().await, frame(1));
    assert_eq!(conn.expect_audio().await, frame(2));
    conn.expect_control("Finalize").await;
    conn.expect_control("CloseStream").await;
    conn.send_json(&results("thanks bye", 0.0, 0.04, true, true))
        .await;
    conn.close(1000, "").await;
    assert_eq!(
        session.next_n(3).await,
        [
            "reconnected",
            "transcript \"thanks bye\" final=true speech_final=true from_finalize=false confidence=0.9 start=0 duration=0.04",
            "closed",
        ]
    );
    session.finished().await;
}

#[tokio::test]
async fn a_429_handshake_is_rate_limited_with_retry_after() {
    let server = MockDeepgram::start().await;
    let stt = DeepgramStt::new(config(&server));
    let (result, _) = tokio::join!(
        stt.connect(SttOptions::default()),
        server.refuse_with(429, "Too many requests", &[("retry-after", "7")])
    );
    let Err(err) = result else {
        panic!("connect should fail")
    };
    assert_eq!(
        err,
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert!(err.is_retryable());
}
