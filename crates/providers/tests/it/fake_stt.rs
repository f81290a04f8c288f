use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use expect_test::{Expect, expect};
use providers::fake::{FakeStt, SttScript, SttScriptEvent, SttTrigger};
use providers::{
    ProviderError, SpeechToText, SttCommand, SttEvent, SttOptions, SttSession, UtteranceAssembler,
};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn frame() -> Bytes {
    Bytes::from_static(&[0x7F; 160])
}

/// One line per event: milliseconds since connect, then the event without its timestamp; and one
/// line per utterance the assembler builds from them.
fn describe(event: &SttEvent, started: Instant, log: &mut String) {
    let elapsed = started.elapsed().as_millis();
    let line = match event {
        SttEvent::Transcript(t) => format!(
            "transcript {:?} is_final={} speech_final={} from_finalize={}",
            t.text, t.is_final, t.speech_final, t.from_finalize
        ),
        SttEvent::SpeechStarted { timestamp_s, .. } => format!("speech_started {timestamp_s}"),
        SttEvent::UtteranceEnd {
            last_word_end_s, ..
        } => format!("utterance_end {last_word_end_s}"),
        SttEvent::EagerEndOfTurn { text, .. } => format!("eager_end_of_turn {text:?}"),
        SttEvent::TurnResumed { .. } => "turn_resumed".to_owned(),
        SttEvent::Reconnecting { reason, .. } => format!("reconnecting {reason}"),
        SttEvent::Reconnected { .. } => "reconnected".to_owned(),
        SttEvent::Error { error, .. } => format!("error {error}"),
        SttEvent::Closed { .. } => "closed".to_owned(),
    };
    writeln!(log, "{elapsed:>5} ms {line}").unwrap();
}

/// Connects, then sends `n_frames` 20 ms frames of audio in real time (stopping early if the session
/// closed), then `after_audio` commands, then drops the handle; logs every event and every utterance until the session closes.
#[track_caller]
fn check(script: SttScript, n_frames: u64, after_audio: &[SttCommand], expect: Expect) {
    let log = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(async {
            let fake = FakeStt::new(script);
            let started = Instant::now();
            let SttSession {
                handle,
                mut events,
                driver,
            } = fake
                .connect(SttOptions {
                    call_id: "CA1".into(),
                    keyterms: Vec::new(),
                })
                .await
                .unwrap();
            let driver = tokio::spawn(driver);
            let sender = async {
                let mut ticker = tokio::time::interval(ms(20));
                for _ in 0..n_frames {
                    ticker.tick().await;
                    // A session the script closed refuses audio: stop sending.
                    if handle.send_audio(frame()).is_err() {
                        break;
                    }
                }
                for command in after_audio {
                    match command {
                        SttCommand::Audio(bytes) => handle.send_audio(bytes.clone()).unwrap(),
                        SttCommand::Finalize => handle.finalize().await.unwrap(),
                        SttCommand::Close => handle.close().await.unwrap(),
                    }
                }
                drop(handle);
            };
            let receiver = async {
                let mut log = String::new();
                let mut assembler = UtteranceAssembler::new();
                while let Some(event) = events.recv().await {
                    describe(&event, started, &mut log);
                    if let Some(utterance) = assembler.push(&event) {
                        writeln!(log, "-> utterance {:?}", utterance.text).unwrap();
                    }
                }
                log
            };
            let ((), log) = tokio::join!(sender, receiver);
            driver.await.unwrap();
            let n_frames_received = fake
                .received_commands()
                .iter()
                .filter(|c| matches!(c, SttCommand::Audio(_)))
                .count();
            format!("{log}frames received: {n_frames_received}\n")
        });
    expect.assert_eq(&log);
}

#[test]
fn events_follow_time_offsets_and_audio_counts() {
    check(
        SttScript::new()
            .step(
                SttTrigger::At(ms(300)),
                SttScriptEvent::SpeechStarted { timestamp_s: 0.3 },
            )
            .step(
                SttTrigger::AfterAudioFrames(25),
                SttScriptEvent::interim("my brakes"),
            )
            .step(
                SttTrigger::AfterAudioFrames(40),
                SttScriptEvent::is_final("My brakes"),
            )
            .step(
                SttTrigger::AfterAudioFrames(50),
                SttScriptEvent::speech_final("are squeaking."),
            )
            .step(
                SttTrigger::At(ms(1_500)),
                SttScriptEvent::UtteranceEnd {
                    last_word_end_s: 0.9,
                },
            ),
        80,
        &[],
        expect![[r#"
              300 ms speech_started 0.3
              480 ms transcript "my brakes" is_final=false speech_final=false from_finalize=false
              780 ms transcript "My brakes" is_final=true speech_final=false from_finalize=false
              980 ms transcript "are squeaking." is_final=true speech_final=true from_finalize=false
            -> utterance "My brakes are squeaking."
             1500 ms utterance_end 0.9
             1580 ms closed
            frames received: 80
        "#]],
    );
}

#[test]
fn steps_never_overtake_each_other() {
    // The second step's offset passed long before the first step's audio count was reached.
    check(
        SttScript::new()
            .step(
                SttTrigger::AfterAudioFrames(10),
                SttScriptEvent::is_final("first"),
            )
            .step(
                SttTrigger::At(ms(10)),
                SttScriptEvent::speech_final("second"),
            ),
        10,
        &[SttCommand::Close],
        expect![[r#"
              180 ms transcript "first" is_final=true speech_final=false from_finalize=false
              180 ms transcript "second" is_final=true speech_final=true from_finalize=false
            -> utterance "first second"
              180 ms closed
            frames received: 10
        "#]],
    );
}

#[test]
fn finalize_triggers_from_finalize_results() {
    check(
        SttScript::new()
            .step(
                SttTrigger::AfterAudioFrames(5),
                SttScriptEvent::is_final("call me"),
            )
            .step(
                SttTrigger::AfterFinalize(1),
                SttScriptEvent::from_finalize("back"),
            )
            .step(
                SttTrigger::AfterFinalize(1),
                SttScriptEvent::UtteranceEnd {
                    last_word_end_s: 0.2,
                },
            ),
        5,
        &[SttCommand::Finalize, SttCommand::Close],
        expect![[r#"
               80 ms transcript "call me" is_final=true speech_final=false from_finalize=false
               80 ms transcript "back" is_final=true speech_final=false from_finalize=true
               80 ms utterance_end 0.2
            -> utterance "call me back"
               80 ms closed
            frames received: 5
        "#]],
    );
}

#[test]
fn vendor_close_ends_the_session_and_drops_later_steps() {
    check(
        SttScript::new()
            .step(
                SttTrigger::At(ms(100)),
                SttScriptEvent::Reconnecting {
                    reason: ProviderError::Connect("socket closed".into()),
                },
            )
            .step(SttTrigger::At(ms(200)), SttScriptEvent::Reconnected)
            .step(SttTrigger::At(ms(300)), SttScriptEvent::Close)
            .step(SttTrigger::At(ms(400)), SttScriptEvent::interim("never")),
        40,
        &[],
        expect![[r#"
              100 ms reconnecting connect failed: socket closed
              200 ms reconnected
              300 ms closed
            frames received: 16
        "#]],
    );
}

#[test]
fn zero_byte_frames_are_reported() {
    check(
        SttScript::new(),
        2,
        &[SttCommand::Audio(Bytes::new())],
        expect![[r#"
               20 ms error protocol error: zero-byte audio frame
               20 ms closed
            frames received: 3
        "#]],
    );
}

#[tokio::test(start_paused = true)]
async fn records_audio_and_commands_and_fails_connect_on_request() {
    let fake = FakeStt::new(SttScript::new());
    fake.fail_next_connect(ProviderError::Auth("bad token".into()));
    let err = fake.connect(SttOptions::default()).await.err();
    assert_eq!(err, Some(ProviderError::Auth("bad token".into())));

    let SttSession {
        handle,
        mut events,
        driver,
    } = fake
        .connect(SttOptions {
            call_id: "CA2".into(),
            keyterms: Vec::new(),
        })
        .await
        .unwrap();
    let driver = tokio::spawn(driver);
    handle.send_audio(Bytes::from_static(b"\x01\x02")).unwrap();
    handle.finalize().await.unwrap();
    handle.send_audio(Bytes::from_static(b"\x03")).unwrap();
    handle.close().await.unwrap();
    assert!(matches!(events.recv().await, Some(SttEvent::Closed { .. })));
    assert_eq!(events.recv().await, None);
    driver.await.unwrap();

    assert_eq!(fake.received_audio(), Bytes::from_static(b"\x01\x02\x03"));
    assert_eq!(
        fake.received_commands(),
        vec![
            SttCommand::Audio(Bytes::from_static(b"\x01\x02")),
            SttCommand::Finalize,
            SttCommand::Audio(Bytes::from_static(b"\x03")),
            SttCommand::Close,
        ]
    );
    let sessions: Vec<String> = fake.sessions().into_iter().map(|o| o.call_id).collect();
    assert_eq!(sessions, ["CA2"]);
    // The driver has gone: the handle reports it.
    assert_eq!(handle.finalize().await, Err(ProviderError::Closed));
}

/// Steps appended while the session runs play after the script once their trigger is met, the
/// frame count is watchable, and a large command queue takes a burst of audio without waiting.
#[tokio::test(start_paused = true)]
async fn steps_appended_while_the_session_runs_play_in_order() {
    let fake = FakeStt::new(SttScript::new().step(
        SttTrigger::AfterAudioFrames(1),
        SttScriptEvent::interim("my"),
    ))
    .with_command_queue(1000);
    let mut frames = fake.audio_frames();
    let SttSession {
        handle,
        mut events,
        driver,
    } = fake
        .connect(SttOptions {
            call_id: "CA1".into(),
            ..SttOptions::default()
        })
        .await
        .unwrap();
    let driver = tokio::spawn(driver);
    // A burst larger than the default queue goes in without the driver reading.
    for _ in 0..600 {
        handle.send_audio(frame()).unwrap();
    }
    fake.push_step(providers::fake::SttStep {
        when: SttTrigger::AfterAudioFrames(700),
        event: SttScriptEvent::speech_final("my brakes"),
    });
    let first = events.recv().await.unwrap();
    assert!(matches!(first, SttEvent::Transcript(ref t) if t.text == "my"));
    frames.wait_for(|n| *n == 600).await.unwrap();
    assert!(
        events.try_recv().is_err(),
        "the appended step waits for its frame"
    );
    for _ in 0..100 {
        handle.send_audio(frame()).unwrap();
    }
    let second = events.recv().await.unwrap();
    assert!(
        matches!(second, SttEvent::Transcript(ref t) if t.text == "my brakes" && t.speech_final)
    );
    drop(handle);
    assert!(matches!(events.recv().await, Some(SttEvent::Closed { .. })));
    driver.await.unwrap();
}
