//! Sessions end to end: what the client sends, and the events it makes of the server's replies.

use std::time::Duration;

use elevenlabs::{ElevenLabsTts, TextBuffering};
use expect_test::expect;
use providers::{ProviderError, TextToSpeech as _, TtsOptions};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::mock::{Conn, MockServer, Mode, audio_message, b64};
use crate::{API_KEY, Client, test_config};

fn init(context_id: &str) -> Value {
    json!({
        "text": " ",
        "voice_settings": {"stability": 0.5, "similarity_boost": 0.75, "speed": 1.0},
        "context_id": context_id,
    })
}

fn text(context_id: &str, text: &str) -> Value {
    json!({"text": text, "context_id": context_id})
}

fn flush(context_id: &str) -> Vec<Value> {
    vec![
        json!({"text": "", "context_id": context_id, "flush": true}),
        json!({"context_id": context_id, "close_context": true}),
    ]
}

/// Connects a client with the test config and returns it with the server's side of the socket,
/// after checking the first context's init.
async fn open(server: &mut MockServer) -> (Client, Conn) {
    let client = Client::connect(test_config(&server.base_url), TtsOptions::default()).await;
    let mut conn = server.next_conn().await;
    conn.expect(&[init("ctx-1")]).await;
    (client, conn)
}

#[tokio::test]
async fn speaks_one_reply_and_closes() {
    let mut server = MockServer::start(Mode::Accept).await;
    let options = TtsOptions {
        call_id: "CA123".to_owned(),
        voice: None,
    };
    let mut client = Client::connect(test_config(&server.base_url), options).await;
    let mut conn = server.next_conn().await;
    assert_eq!(conn.path, "/v1/text-to-speech/voice-1/multi-stream-input");
    assert_eq!(
        format!("{:?}", conn.query),
        r#"{"auto_mode": "true", "inactivity_timeout": "60", "model_id": "eleven_flash_v2_5", "output_format": "ulaw_8000", "sync_alignment": "true"}"#
    );
    assert_eq!(conn.api_key.as_deref(), Some(API_KEY));
    conn.expect(&[init("ctx-1")]).await;

    client
        .handle
        .send_text("Your car will be ready at four.")
        .await
        .unwrap();
    client.handle.send_text("Anything else? ").await.unwrap();
    client.handle.flush().await.unwrap();
    conn.expect(&[
        text("ctx-1", "Your car will be ready at four. "),
        text("ctx-1", "Anything else? "),
    ])
    .await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2")]).await;

    conn.send_audio("ctx-1", b"your-car", "Your car ").await;
    conn.send_audio(
        "ctx-1",
        b"will-be-ready",
        "will be ready at four. Anything else? ",
    )
    .await;
    conn.send_final("ctx-1").await;
    expect![[r#"
        audio "your-car"
        audio "will-be-ready"
        flushed
    "#]]
    .assert_eq(&client.take(3).await);

    client.handle.close().await.unwrap();
    conn.expect(&[json!({"close_socket": true})]).await;
    conn.close(1000, "").await;
    expect![[r#"
        closed
    "#]]
    .assert_eq(&client.until_closed().await);
}

#[tokio::test]
async fn accepts_both_spellings_of_the_server_fields() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (mut client, mut conn) = open(&mut server).await;
    client.handle.send_text("Hey.").await.unwrap();
    client.handle.flush().await.unwrap();
    conn.expect(&[text("ctx-1", "Hey. ")]).await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2")]).await;

    // The spec's `charsDurationsMs`, a null `isFinal` and a null `normalizedAlignment`.
    conn.send(json!({
        "audio": b64(b"spec-spelling"),
        "isFinal": null,
        "normalizedAlignment": null,
        "alignment": {"chars": ["H", "e"], "charStartTimesMs": [0, 3], "charsDurationsMs": [3, 4]},
        "contextId": "ctx-1",
    }))
    .await;
    // Snake case context id, no alignment at all.
    conn.send(json!({"audio": b64(b"snake-context"), "context_id": "ctx-1"}))
        .await;
    // Everything null, as a re-implementation sends on non-audio frames: skipped.
    conn.send(json!({"audio": null, "isFinal": null, "alignment": null, "contextId": "ctx-1"}))
        .await;
    // Snake case `is_final` ends the context.
    conn.send(json!({"is_final": true, "contextId": "ctx-1"}))
        .await;
    expect![[r#"
        audio "spec-spelling"
        audio "snake-context"
        flushed
    "#]]
    .assert_eq(&client.take(3).await);
}

#[tokio::test]
async fn schedule_mode_voice_override_and_language() {
    let mut server = MockServer::start(Mode::Accept).await;
    let mut config = test_config(&server.base_url);
    config.buffering = TextBuffering::Schedule {
        chunk_length_schedule: vec![50, 120, 160],
        try_trigger_generation: true,
    };
    config.language_code = Some("en".to_owned());
    config.model_id = "eleven_turbo_v2_5".to_owned();
    let options = TtsOptions {
        call_id: "CA1".to_owned(),
        voice: Some("other voice".to_owned()),
    };
    let client = Client::connect(config, options).await;
    let mut conn = server.next_conn().await;
    assert_eq!(
        conn.path,
        "/v1/text-to-speech/other%20voice/multi-stream-input"
    );
    assert_eq!(
        format!("{:?}", conn.query),
        r#"{"inactivity_timeout": "60", "language_code": "en", "model_id": "eleven_turbo_v2_5", "output_format": "ulaw_8000", "sync_alignment": "true"}"#
    );
    conn.expect(&[json!({
        "text": " ",
        "voice_settings": {"stability": 0.5, "similarity_boost": 0.75, "speed": 1.0},
        "generation_config": {"chunk_length_schedule": [50, 120, 160]},
        "context_id": "ctx-1",
    })])
    .await;
    client.handle.send_text("Hello").await.unwrap();
    conn.expect(&[
        json!({"text": "Hello ", "try_trigger_generation": true, "context_id": "ctx-1"}),
    ])
    .await;
}

#[tokio::test]
async fn later_reply_audio_waits_for_the_earlier_reply() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (mut client, mut conn) = open(&mut server).await;
    client.handle.send_text("First.").await.unwrap();
    client.handle.flush().await.unwrap();
    client.handle.send_text("Second.").await.unwrap();
    client.handle.flush().await.unwrap();
    conn.expect(&[text("ctx-1", "First. ")]).await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2"), text("ctx-2", "Second. ")])
        .await;
    conn.expect(&flush("ctx-2")).await;
    conn.expect(&[init("ctx-3")]).await;

    conn.send_audio("ctx-2", b"second", "Second. ").await;
    conn.send_final("ctx-2").await;
    conn.send_audio("ctx-1", b"first", "First. ").await;
    conn.send_final("ctx-1").await;
    expect![[r#"
        audio "first"
        flushed
        audio "second"
        flushed
    "#]]
    .assert_eq(&client.take(4).await);
}

#[tokio::test]
async fn clear_drops_stale_audio() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (mut client, mut conn) = open(&mut server).await;
    client.handle.send_text("Your car is ready.").await.unwrap();
    client.handle.flush().await.unwrap();
    client.handle.send_text("We close at six.").await.unwrap();
    conn.expect(&[text("ctx-1", "Your car is ready. ")]).await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2"), text("ctx-2", "We close at six. ")])
        .await;
    conn.send_audio("ctx-1", b"your-car", "Your car ").await;
    assert_eq!(client.next().await, r#"audio "your-car""#);

    // Barge-in: the open context is closed, a new one starts.
    client.handle.clear().await.unwrap();
    conn.expect(&[
        json!({"context_id": "ctx-2", "close_context": true}),
        init("ctx-3"),
    ])
    .await;
    // Late audio for both forgotten contexts, then the next reply.
    conn.send_audio("ctx-1", b"stale-1", "is ready. ").await;
    conn.send_audio("ctx-2", b"stale-2", "We close ").await;
    conn.send_final("ctx-1").await;
    client.handle.send_text("Sure, go ahead.").await.unwrap();
    client.handle.flush().await.unwrap();
    conn.expect(&[text("ctx-3", "Sure, go ahead. ")]).await;
    conn.expect(&flush("ctx-3")).await;
    conn.expect(&[init("ctx-4")]).await;
    conn.send_audio("ctx-3", b"sure", "Sure, go ahead. ").await;
    conn.send_final("ctx-3").await;
    expect![[r#"
        cleared
        audio "sure"
        flushed
    "#]]
    .assert_eq(&client.take(3).await);
}

#[tokio::test]
async fn vendor_error_and_close_reconnects_and_replays_text() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (mut client, mut conn) = open(&mut server).await;
    client.handle.send_text("Hello there.").await.unwrap();
    conn.expect(&[text("ctx-1", "Hello there. ")]).await;
    conn.send(json!({
        "message": "Have not received a new text input within the timeout of 20.0 seconds. Streaming input terminated.",
        "error": "input_timeout_exceeded",
        "code": 1008,
    }))
    .await;
    conn.close(1008, "input_timeout_exceeded").await;

    let mut conn = server.next_conn().await;
    assert_eq!(conn.path, "/v1/text-to-speech/voice-1/multi-stream-input");
    assert_eq!(conn.api_key.as_deref(), Some(API_KEY));
    conn.expect(&[init("ctx-2"), text("ctx-2", "Hello there. ")])
        .await;
    client.handle.flush().await.unwrap();
    conn.expect(&flush("ctx-2")).await;
    conn.expect(&[init("ctx-3")]).await;
    conn.send_audio("ctx-2", b"hello", "Hello there. ").await;
    conn.send_final("ctx-2").await;
    expect![[r#"
        error: Vendor("input_timeout_exceeded (code 1008): Have not received a new text input within the timeout of 20.0 seconds. Streaming input terminated.")
        reconnecting: vendor error: input_timeout_exceeded (code 1008): Have not received a new text input within the timeout of 20.0 seconds. Streaming input terminated.; server closed the socket (1008 input_timeout_exceeded)
        audio "hello"
        flushed
    "#]]
    .assert_eq(&client.take(4).await);
}

#[tokio::test]
async fn socket_dropped_mid_utterance_resumes_the_unheard_text() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (mut client, mut conn) = open(&mut server).await;
    client
        .handle
        .send_text("Your car will be ready at four.")
        .await
        .unwrap();
    client.handle.flush().await.unwrap();
    client.handle.send_text("Anything else?").await.unwrap();
    client.handle.flush().await.unwrap();
    conn.expect(&[text("ctx-1", "Your car will be ready at four. ")])
        .await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2"), text("ctx-2", "Anything else? ")])
        .await;
    conn.expect(&flush("ctx-2")).await;
    conn.expect(&[init("ctx-3")]).await;
    // The caller heard "Your car wi", then the socket dies without a close frame.
    conn.send_audio("ctx-1", b"your-car-wi", "Your car wi")
        .await;
    assert_eq!(client.next().await, r#"audio "your-car-wi""#);
    conn.kill();

    let mut conn = server.next_conn().await;
    // The cut word is said again in full; the second reply is replayed whole; the open context
    // is re-created.
    conn.expect(&[init("ctx-4"), text("ctx-4", "will be ready at four. ")])
        .await;
    conn.expect(&flush("ctx-4")).await;
    conn.expect(&[init("ctx-5"), text("ctx-5", "Anything else? ")])
        .await;
    conn.expect(&flush("ctx-5")).await;
    conn.expect(&[init("ctx-6")]).await;
    conn.send_audio("ctx-4", b"will-be-ready", "will be ready at four. ")
        .await;
    conn.send_final("ctx-4").await;
    conn.send_audio("ctx-5", b"anything-else", "Anything else? ")
        .await;
    conn.send_final("ctx-5").await;
    let events = client.take(5).await;
    assert!(
        events.starts_with("reconnecting: connect failed: connection lost: "),
        "{events}"
    );
    expect![[r#"
        audio "will-be-ready"
        flushed
        audio "anything-else"
        flushed
    "#]]
    .assert_eq(events.split_once('\n').unwrap().1);
}

#[tokio::test]
async fn malformed_and_unknown_messages_are_skipped() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (mut client, mut conn) = open(&mut server).await;
    client.handle.send_text("Hi.").await.unwrap();
    client.handle.flush().await.unwrap();
    conn.expect(&[text("ctx-1", "Hi. ")]).await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2")]).await;

    conn.send_raw(Message::text("{not json")).await;
    conn.send(json!({"type": "SomethingNew", "contextId": "ctx-1"}))
        .await;
    conn.send(json!(["an", "array"])).await;
    conn.send(json!({"audio": "***", "contextId": "ctx-1"}))
        .await;
    conn.send_raw(Message::binary(b"binary".to_vec())).await;
    conn.send(audio_message("ctx-1", b"hi", "Hi. ")).await;
    conn.send_final("ctx-1").await;
    let events = client.take(5).await;
    let events: Vec<&str> = events.lines().collect();
    assert!(
        events[0].starts_with("error: Protocol(\"malformed server message: not JSON"),
        "{events:?}"
    );
    assert_eq!(
        events[1],
        "error: Protocol(\"malformed server message: not a JSON object\")"
    );
    assert!(
        events[2].starts_with("error: Protocol(\"malformed server message: audio is not base64"),
        "{events:?}"
    );
    assert_eq!(events[3..], [r#"audio "hi""#, "flushed"]);
}

#[tokio::test]
async fn keep_alive_before_the_inactivity_timeout() {
    let mut server = MockServer::start(Mode::Accept).await;
    let mut config = test_config(&server.base_url);
    config.inactivity_timeout = Duration::from_millis(400);
    config.keepalive_interval = Duration::from_millis(100);
    let client = Client::connect(config, TtsOptions::default()).await;
    let mut conn = server.next_conn().await;
    assert_eq!(conn.query["inactivity_timeout"], "1");
    conn.expect(&[init("ctx-1")]).await;
    let keep_alive = json!({"text": "", "context_id": "ctx-1"});
    conn.expect(&[keep_alive.clone(), keep_alive.clone()]).await;
    // Text goes to the same context, and keep-alives resume after it.
    client.handle.send_text("Still there?").await.unwrap();
    let mut next = conn.recv().await;
    while next == keep_alive {
        next = conn.recv().await; // one may have been due before the text arrived
    }
    assert_eq!(next, text("ctx-1", "Still there? "));
    conn.expect(&[keep_alive]).await;
}

#[tokio::test]
async fn empty_flush_is_answered_without_the_server() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (mut client, mut conn) = open(&mut server).await;
    client.handle.flush().await.unwrap();
    assert_eq!(client.next().await, "flushed");
    // The open context is still the one in use.
    client.handle.send_text("Okay.").await.unwrap();
    conn.expect(&[text("ctx-1", "Okay. ")]).await;
}

#[tokio::test]
async fn text_waits_when_the_context_cap_is_reached() {
    let mut server = MockServer::start(Mode::Accept).await;
    let mut config = test_config(&server.base_url);
    config.max_contexts = 2;
    let mut client = Client::connect(config, TtsOptions::default()).await;
    let mut conn = server.next_conn().await;
    conn.expect(&[init("ctx-1")]).await;
    for sentence in ["One.", "Two.", "Three."] {
        client.handle.send_text(sentence).await.unwrap();
        client.handle.flush().await.unwrap();
    }
    conn.expect(&[text("ctx-1", "One. ")]).await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2"), text("ctx-2", "Two. ")]).await;
    conn.expect(&flush("ctx-2")).await;
    // Two contexts are generating: "Three." waits until one of them is final.
    conn.send_audio("ctx-1", b"one", "One. ").await;
    conn.send_final("ctx-1").await;
    conn.expect(&[init("ctx-3"), text("ctx-3", "Three. ")])
        .await;
    conn.expect(&flush("ctx-3")).await;
    conn.send_final("ctx-2").await;
    conn.expect(&[init("ctx-4")]).await;
    conn.send_final("ctx-3").await;
    expect![[r#"
        audio "one"
        flushed
        flushed
        flushed
    "#]]
    .assert_eq(&client.take(4).await);
}

#[tokio::test]
async fn close_delivers_what_is_left() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (client, mut conn) = open(&mut server).await;
    client.handle.send_text("Goodbye.").await.unwrap();
    client.handle.flush().await.unwrap();
    client.handle.send_text("Take care.").await.unwrap();
    // Dropping the handle closes the session like `close` does.
    let client = client.drop_handle();
    conn.expect(&[text("ctx-1", "Goodbye. ")]).await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[
        init("ctx-2"),
        text("ctx-2", "Take care. "),
        json!({"close_socket": true}),
    ])
    .await;
    // `close_socket` flushes everything; the server closes without sending `isFinal`.
    conn.send_audio("ctx-2", b"take-care", "Take care. ").await;
    conn.send_audio("ctx-1", b"goodbye", "Goodbye. ").await;
    conn.close(1000, "").await;
    expect![[r#"
        audio "goodbye"
        flushed
        audio "take-care"
        closed
    "#]]
    .assert_eq(&client.until_closed().await);
}

#[tokio::test]
async fn gives_up_when_reconnects_keep_failing() {
    let mut server = MockServer::start(Mode::AcceptThenRefuse(1)).await;
    let (client, conn) = open(&mut server).await;
    conn.close(1011, "internal error").await;
    let events = client.until_closed().await;
    let events: Vec<&str> = events.lines().collect();
    assert_eq!(
        events[0],
        "reconnecting: connect failed: connection lost: server closed the socket (1011 internal error)"
    );
    assert!(events[1].starts_with("error: Connect("), "{events:?}");
    assert_eq!(events[2..], ["closed"]);
}

#[tokio::test]
async fn refused_handshakes_are_typed() {
    async fn check(status: u16, headers: Vec<(&'static str, &'static str)>) -> ProviderError {
        let server = MockServer::start(Mode::Reject(status, headers)).await;
        let tts = ElevenLabsTts::new(test_config(&server.base_url)).unwrap();
        match tts.connect(TtsOptions::default()).await {
            Ok(_) => panic!("connect succeeded against a refusing server"),
            Err(error) => error,
        }
    }
    assert_eq!(
        check(401, vec![]).await,
        ProviderError::Auth("handshake refused with 401: {\"detail\":\"refused\"}".to_owned())
    );
    assert_eq!(
        check(429, vec![("retry-after", "3")]).await,
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        }
    );
    assert_eq!(
        check(503, vec![]).await,
        ProviderError::Http {
            status: 503,
            message: "{\"detail\":\"refused\"}".to_owned()
        }
    );
}

#[tokio::test]
async fn waits_for_the_server_close_with_a_deadline() {
    let mut server = MockServer::start(Mode::Accept).await;
    let mut config = test_config(&server.base_url);
    config.close_timeout = Duration::from_millis(150);
    let client = Client::connect(config, TtsOptions::default()).await;
    let mut conn = server.next_conn().await;
    conn.expect(&[init("ctx-1")]).await;
    client.handle.close().await.unwrap();
    conn.expect(&[json!({"close_socket": true})]).await;
    // The server never closes: the driver gives up after `close_timeout` and closes itself.
    expect![[r#"
        error: Timeout("server did not close the socket after close_socket")
        closed
    "#]]
    .assert_eq(&client.until_closed().await);
    conn.wait_closed().await;
}

#[tokio::test]
async fn a_silent_socket_is_replaced() {
    let mut server = MockServer::start(Mode::Accept).await;
    let mut config = test_config(&server.base_url);
    config.response_timeout = Duration::from_millis(200);
    let mut client = Client::connect(config, TtsOptions::default()).await;
    let mut conn = server.next_conn().await;
    conn.expect(&[init("ctx-1")]).await;
    client.handle.send_text("Are you there?").await.unwrap();
    client.handle.flush().await.unwrap();
    conn.expect(&[text("ctx-1", "Are you there? ")]).await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2")]).await;
    // The old socket accepts everything and answers nothing; the client moves to a new one.
    let mut new_conn = server.next_conn().await;
    new_conn
        .expect(&[init("ctx-3"), text("ctx-3", "Are you there? ")])
        .await;
    new_conn.expect(&flush("ctx-3")).await;
    new_conn.expect(&[init("ctx-4")]).await;
    new_conn
        .send_audio("ctx-3", b"are-you-there", "Are you there? ")
        .await;
    new_conn.send_final("ctx-3").await;
    expect![[r#"
        reconnecting: timed out: no reply from the server for 200ms while audio was due
        audio "are-you-there"
        flushed
    "#]]
    .assert_eq(&client.take(3).await);
    drop(conn);
}

#[tokio::test]
async fn an_error_naming_a_context_ends_that_context() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (mut client, mut conn) = open(&mut server).await;
    client.handle.send_text("One.").await.unwrap();
    client.handle.flush().await.unwrap();
    conn.expect(&[text("ctx-1", "One. ")]).await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2")]).await;
    conn.send(json!({"error": "generation_failed", "message": "oops", "contextId": "ctx-1"}))
        .await;
    expect![[r#"
        error: Vendor("generation_failed: oops")
        flushed
    "#]]
    .assert_eq(&client.take(2).await);
    // The socket stays in use.
    client.handle.send_text("Two.").await.unwrap();
    conn.expect(&[text("ctx-2", "Two. ")]).await;
}

#[tokio::test]
async fn losing_the_socket_while_closing_owes_nothing() {
    let mut server = MockServer::start(Mode::Accept).await;
    let (client, mut conn) = open(&mut server).await;
    client.handle.send_text("Bye.").await.unwrap();
    client.handle.flush().await.unwrap();
    client.handle.close().await.unwrap();
    conn.expect(&[text("ctx-1", "Bye. ")]).await;
    conn.expect(&flush("ctx-1")).await;
    conn.expect(&[init("ctx-2"), json!({"close_socket": true})])
        .await;
    conn.send_audio("ctx-1", b"by", "By").await;
    conn.kill();
    let events = client.until_closed().await;
    let events: Vec<&str> = events.lines().collect();
    assert_eq!(events[0], r#"audio "by""#);
    assert!(
        events[1].starts_with("error: Connect(\"connection lost while closing: "),
        "{events:?}"
    );
    assert_eq!(events[2..], ["closed"]);
}

/// wss:// must not panic for want of a rustls crypto provider (docs/dependencies.md, section 3); a server
/// that cannot do TLS is a `Connect` error.
#[tokio::test]
async fn wss_to_a_plain_tcp_listener_is_a_connect_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tts = ElevenLabsTts::new(test_config(&format!("wss://127.0.0.1:{port}"))).unwrap();
    let refuse = async {
        let (mut stream, _) = listener.accept().await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stream, b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
    };
    let (result, ()) = tokio::time::timeout(crate::mock::GUARD, async {
        tokio::join!(tts.connect(TtsOptions::default()), refuse)
    })
    .await
    .unwrap();
    let Err(error) = result else {
        panic!("a plain TCP server cannot complete TLS")
    };
    assert!(matches!(error, ProviderError::Connect(_)), "{error:?}");
}
