//! `FakeTts` through the `TextToSpeech` trait.

use std::fmt::Write as _;
use std::time::Duration;

use expect_test::{Expect, expect};
use providers::fake::{FakeTts, FakeTtsConfig, RecordedLengths, TONE_PATTERN};
use providers::{ProviderError, TextToSpeech, TtsCommand, TtsEvent, TtsOptions, TtsSession};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A config with round numbers: 10 ms of audio per character, 20 ms chunks (160 bytes), first chunk
/// 100 ms after the text, then one chunk every 10 ms.
fn config() -> FakeTtsConfig {
    FakeTtsConfig {
        audio_per_char: ms(10),
        chunk_len: ms(20),
        first_chunk_delay: ms(100),
        chunk_interval: ms(10),
        drop_after: None,
        drop_delay: Duration::ZERO,
        recorded_lengths: None,
        voice: None,
    }
}

/// Sends each `(at_ms, command)` at its time, then drops the handle, and logs every event with its
/// time (audio as its length) until the session closes.
#[track_caller]
fn check(commands: &[(u64, TtsCommand)], expect: Expect) {
    check_with(config(), commands, expect);
}

#[track_caller]
fn check_with(config: FakeTtsConfig, commands: &[(u64, TtsCommand)], expect: Expect) {
    let log = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(async {
            let tts = FakeTts::new(config);
            let started = Instant::now();
            let TtsSession {
                handle,
                mut events,
                driver,
            } = tts.connect(TtsOptions::default()).await.unwrap();
            let driver = tokio::spawn(driver);
            let sender = async {
                for (at_ms, command) in commands {
                    tokio::time::sleep_until(started + ms(*at_ms)).await;
                    match command {
                        TtsCommand::Text(text) => handle.send_text(text.clone()).await.unwrap(),
                        TtsCommand::Flush => handle.flush().await.unwrap(),
                        TtsCommand::Clear => handle.clear().await.unwrap(),
                        TtsCommand::Close => handle.close().await.unwrap(),
                    }
                }
                drop(handle);
            };
            let receiver = async {
                let mut log = String::new();
                while let Some(event) = events.recv().await {
                    let elapsed = started.elapsed().as_millis();
                    let line = match event {
                        TtsEvent::Audio { mulaw, .. } => {
                            assert!(mulaw.iter().all(|b| TONE_PATTERN.contains(b)));
                            format!("audio {} bytes", mulaw.len())
                        }
                        TtsEvent::Flushed { .. } => "flushed".to_owned(),
                        TtsEvent::Cleared { .. } => "cleared".to_owned(),
                        TtsEvent::Reconnecting { reason, .. } => format!("reconnecting {reason}"),
                        TtsEvent::Error { error, .. } => format!("error {error}"),
                        TtsEvent::Closed { .. } => "closed".to_owned(),
                    };
                    writeln!(log, "{elapsed:>4} ms {line}").unwrap();
                }
                log
            };
            let ((), log) = tokio::join!(sender, receiver);
            driver.await.unwrap();
            format!("{log}text: {:?}\n", tts.received_text())
        });
    expect.assert_eq(&log);
}

#[test]
fn audio_length_is_proportional_to_text_and_flush_answers_after_it() {
    // "Hello." is 6 characters = 60 ms = 480 bytes: three chunks of 160.
    check(
        &[
            (0, TtsCommand::Text("Hello.".into())),
            (0, TtsCommand::Flush),
            (500, TtsCommand::Close),
        ],
        expect![[r#"
             100 ms audio 160 bytes
             110 ms audio 160 bytes
             120 ms audio 160 bytes
             120 ms flushed
             500 ms closed
            text: "Hello."
        "#]],
    );
}

#[test]
fn last_chunk_may_be_short_and_texts_queue_in_order() {
    // "Hi" = 160 bytes, "Yes." = 320 bytes, "o" = 80 bytes (a short chunk): delivered in order.
    check(
        &[
            (0, TtsCommand::Text("Hi".into())),
            (5, TtsCommand::Text("Yes.".into())),
            (5, TtsCommand::Text("o".into())),
            (5, TtsCommand::Flush),
            (400, TtsCommand::Close),
        ],
        expect![[r#"
             100 ms audio 160 bytes
             110 ms audio 160 bytes
             120 ms audio 160 bytes
             130 ms audio 80 bytes
             130 ms flushed
             400 ms closed
            text: "HiYes.o"
        "#]],
    );
}

#[test]
fn clear_drops_undelivered_audio_and_pending_flushes() {
    // 40 characters = 400 ms = 20 chunks; the clear at 150 ms comes after 5 of them.
    check(
        &[
            (
                0,
                TtsCommand::Text("I can book you in tomorrow at nine sharp".into()),
            ),
            (0, TtsCommand::Flush),
            (150, TtsCommand::Clear),
            (200, TtsCommand::Text("Yes?".into())),
            (200, TtsCommand::Flush),
            (600, TtsCommand::Close),
        ],
        expect![[r#"
             100 ms audio 160 bytes
             110 ms audio 160 bytes
             120 ms audio 160 bytes
             130 ms audio 160 bytes
             140 ms audio 160 bytes
             150 ms cleared
             300 ms audio 160 bytes
             310 ms audio 160 bytes
             310 ms flushed
             600 ms closed
            text: "I can book you in tomorrow at nine sharpYes?"
        "#]],
    );
}

#[tokio::test(start_paused = true)]
async fn records_commands_and_fails_connect_on_request() {
    let tts = FakeTts::new(config());
    tts.fail_next_connect(ProviderError::Connect("refused".into()));
    assert_eq!(
        tts.connect(TtsOptions::default()).await.err(),
        Some(ProviderError::Connect("refused".into()))
    );
    let TtsSession {
        handle,
        mut events,
        driver,
    } = tts
        .connect(TtsOptions {
            call_id: "CA3".into(),
            voice: Some("aura-2".into()),
        })
        .await
        .unwrap();
    let driver = tokio::spawn(driver);
    handle.send_text("One. ").await.unwrap();
    handle.send_text("Two.").await.unwrap();
    handle.flush().await.unwrap();
    let mut n_audio_bytes = 0;
    loop {
        match events.recv().await {
            Some(TtsEvent::Audio { mulaw, .. }) => n_audio_bytes += mulaw.len(),
            Some(TtsEvent::Flushed { .. }) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        n_audio_bytes,
        config().audio_len("One. ") + config().audio_len("Two.")
    );
    drop(handle);
    assert!(matches!(events.recv().await, Some(TtsEvent::Closed { .. })));
    driver.await.unwrap();
    assert_eq!(
        tts.received_commands(),
        vec![
            TtsCommand::Text("One. ".into()),
            TtsCommand::Text("Two.".into()),
            TtsCommand::Flush,
        ]
    );
    assert_eq!(tts.sessions()[0].voice.as_deref(), Some("aura-2"));
}

/// Recorded lengths: each text plays as long as the recording says (skipping entries the
/// replayed call no longer sends), and a text the recording lacks falls back to its length.
#[test]
fn recorded_lengths_give_each_text_its_recorded_audio() {
    let recorded = RecordedLengths::new(vec![
        ("Hi.".to_owned(), 320),
        ("Skipped.".to_owned(), 999),
        ("Bye.".to_owned(), 480),
    ]);
    check_with(
        FakeTtsConfig {
            recorded_lengths: Some(recorded),
            ..config()
        },
        &[
            (0, TtsCommand::Text("Hi.".into())),
            (0, TtsCommand::Text("Bye.".into())),
            (0, TtsCommand::Text("New".into())),
            (0, TtsCommand::Flush),
            (500, TtsCommand::Close),
        ],
        expect![[r#"
             100 ms audio 160 bytes
             110 ms audio 160 bytes
             120 ms audio 160 bytes
             130 ms audio 160 bytes
             140 ms audio 160 bytes
             150 ms audio 160 bytes
             160 ms audio 80 bytes
             160 ms flushed
             500 ms closed
            text: "Hi.Bye.New"
        "#]],
    );
}
