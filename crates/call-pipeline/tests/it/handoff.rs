//! Handing the caller to a person: warm transfer with hold audio, message taking when nobody
//! answers or the shop is closed, and outbound calls that reach an answering machine.

use call_pipeline::{
    CallStatus,
    signals::{SignalKind, TRANSFER_CONNECTED, bridge_failed, transfer_unanswered},
};
use chrono::{TimeZone, Utc};
use providers::fake::{SttScript, SttScriptEvent as Ev, SttTrigger::AfterAudioFrames as Frames};
use twilio::media::Outbound;

use crate::harness::{CALL_SID, CALLER, CallerAction, SHOP_NUMBER, Scenario, john_smith, ms, run};

/// The marks sent after rounds of hold audio.
fn hold_marks(sent: &[(std::time::Duration, Outbound)]) -> Vec<String> {
    sent.iter()
        .filter_map(|(_, m)| match m {
            Outbound::Mark { name, .. } if name.starts_with("hold:") => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// The advisor hears who, what and why; the caller hears hold audio until the advisor takes the
/// call, which then leaves the stream.
#[tokio::test(start_paused = true)]
async fn a_warm_transfer_holds_the_caller_until_the_advisor_takes_the_call() {
    let report = run(Scenario {
        customer: Some(john_smith()),
        warm: true,
        stt: SttScript::new().step(
            Frames(250),
            Ev::speech_final("let me talk to a real person"),
        ),
        // The escalation line plays from about 5 s to 10 s; the advisor presses 1 at 25 s and
        // Twilio moves the caller off the stream at 26 s.
        signals: vec![(
            ms(25_000),
            SignalKind::Transfer,
            TRANSFER_CONNECTED.to_owned(),
        )],
        actions: vec![(ms(26_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let briefs = report.control.log().advisor_briefs;
    assert_eq!(briefs.len(), 1);
    assert!(
        briefs[0].starts_with("John Smith, an existing customer")
            && briefs[0].ends_with("Handed over because they asked for a person."),
        "{}",
        briefs[0]
    );
    assert!(
        report.spoken_text().contains("Please hold"),
        "{}",
        report.spoken_text()
    );
    // The clip is 6 s: about 15 s of hold is three rounds played, the next queued.
    let marks = hold_marks(&report.sent);
    assert!(marks.len() >= 3 && marks.len() <= 5, "{marks:?}");
    assert_eq!(report.outcome.status, CallStatus::Transferred);
    assert!(report.control.log().advisor_cancels.is_empty());
    assert!(
        report.control.log().transfers.is_empty(),
        "not a cold transfer"
    );
    // Hold audio is not something the agent said.
    assert!(
        report.assistant_lines().iter().all(|l| !l.is_empty()),
        "{:?}",
        report.assistant_lines()
    );
    assert_eq!(report.final_record().callback_reason, None);
}

/// Nobody answers: the hold audio stops, the agent says so and takes a message (name, number read
/// back and confirmed, what about), which the call record carries to the callback list.
#[tokio::test(start_paused = true)]
async fn an_unanswered_transfer_becomes_a_message() {
    let report = run(Scenario {
        warm: true,
        stt: SttScript::new()
            .step(
                Frames(250),
                Ev::speech_final("let me talk to a real person"),
            )
            .step(Frames(1_400), Ev::speech_final("yeah its maria lopez"))
            .step(Frames(1_600), Ev::speech_final("yes that's right"))
            .step(
                Frames(1_750),
                Ev::speech_final("please call me about the quote for my brakes"),
            ),
        signals: vec![(
            ms(19_000),
            SignalKind::Transfer,
            transfer_unanswered("no-answer"),
        )],
        max_duration: std::time::Duration::from_secs(90),
        ..Scenario::default()
    })
    .await;
    let spoken = report.spoken_text();
    assert!(
        spoken.contains("can't come to the phone right now. I can take a message"),
        "{spoken}"
    );
    assert!(
        spoken.contains("Is 5 5 5, 5 5 5, 0 1 2 3 the best number"),
        "{spoken}"
    );
    assert!(
        spoken.contains("Thank you, Maria. I've passed your message on"),
        "{spoken}"
    );
    // The hold audio was cleared when the news came.
    assert!(report.clears() >= 1);
    assert!(!hold_marks(&report.sent).is_empty());
    // The agent ended the call after its goodbye.
    assert!(report.socket_closed_by_gateway);
    let record = report.final_record();
    assert_eq!(record.callback_reason.as_deref(), Some("manager_request"));
    let message = record.message.expect("a message");
    assert_eq!(message.name.as_deref(), Some("Maria Lopez"));
    assert_eq!(message.phone.as_deref(), Some(CALLER));
    assert_eq!(
        message.message.as_deref(),
        Some("please call me about the quote for my brakes")
    );
    assert_eq!(report.session.unwrap()["callback_requested"], true);
}

/// No answer in time at all: the advisor's call is cancelled and the agent takes the message.
#[tokio::test(start_paused = true)]
async fn a_transfer_with_no_news_is_cancelled_after_the_wait() {
    let config = call_pipeline::PipelineConfig {
        advisor_max_wait: std::time::Duration::from_secs(20),
        ..Default::default()
    };
    let report = run(Scenario {
        warm: true,
        config,
        stt: SttScript::new().step(
            Frames(250),
            Ev::speech_final("let me talk to a real person"),
        ),
        actions: vec![(ms(45_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.control.log().advisor_cancels, [CALL_SID]);
    assert!(report.spoken_text().contains("I can take a message"));
    // The bound on hold rounds follows the wait: 20 s of a 6 s clip is at most 5 rounds.
    assert!(
        hold_marks(&report.sent).len() <= 5,
        "{:?}",
        hold_marks(&report.sent)
    );
}

/// The caller hangs up on hold: the advisor's phone stops ringing, and a person still calls back.
#[tokio::test(start_paused = true)]
async fn hanging_up_on_hold_cancels_the_advisor_call() {
    let report = run(Scenario {
        warm: true,
        stt: SttScript::new().step(
            Frames(250),
            Ev::speech_final("let me talk to a real person"),
        ),
        actions: vec![(ms(16_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.control.log().advisor_briefs.len(), 1);
    assert_eq!(report.control.log().advisor_cancels, [CALL_SID]);
    assert_eq!(
        report.final_record().callback_reason.as_deref(),
        Some("manager_request")
    );
}

/// Outside opening hours nobody is rung: the agent says the shop is closed and takes a message.
#[tokio::test(start_paused = true)]
async fn after_hours_the_agent_takes_a_message_instead_of_transferring() {
    let report = run(Scenario {
        warm: true,
        // Sunday 2026-11-29, 11:00 in New York: closed.
        clock: Some(Utc.with_ymd_and_hms(2026, 11, 29, 16, 0, 0).unwrap()),
        stt: SttScript::new().step(
            Frames(250),
            Ev::speech_final("let me talk to a real person"),
        ),
        actions: vec![(ms(20_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(report.control.log().advisor_briefs.is_empty());
    assert!(report.control.log().transfers.is_empty());
    let spoken = report.spoken_text();
    assert!(
        spoken.contains("The shop is closed right now") && spoken.contains("May I have your name?"),
        "{spoken}"
    );
    // Open hours with the same words ring the advisor (the clock, not the words, decided).
    let open = run(Scenario {
        warm: true,
        stt: SttScript::new().step(
            Frames(250),
            Ev::speech_final("let me talk to a real person"),
        ),
        actions: vec![(ms(20_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(open.control.log().advisor_briefs.len(), 1);
}

fn reminder_with_amd() -> Scenario {
    Scenario {
        customer: Some(john_smith()),
        caller: Some(SHOP_NUMBER),
        extra_params: vec![
            ("To", CALLER.into()),
            ("direction", "outbound-api".into()),
            ("call_type", "outbound_reminder".into()),
            ("appointment_id", "9".into()),
            (call_pipeline::AMD_PARAMETER, "1".into()),
        ],
        ..Scenario::default()
    }
}

/// An answering machine gets a short voicemail after its beep, then the call ends; nothing is
/// said before the verdict.
#[tokio::test(start_paused = true)]
async fn an_answering_machine_gets_a_voicemail() {
    let report = run(Scenario {
        stt: SttScript::new().step(
            Frames(100),
            Ev::speech_final("hi you've reached john leave a message after the tone"),
        ),
        signals: vec![(
            ms(6_000),
            SignalKind::AnsweredBy,
            "machine_end_beep".to_owned(),
        )],
        ..reminder_with_amd()
    })
    .await;
    let spoken = report.spoken_text();
    assert!(
        spoken.starts_with("Hi, this is the automated assistant at ")
            && spoken.contains("with a message for John: a reminder of your"),
        "{spoken}"
    );
    assert!(
        !spoken.contains("Will you still be able to make it"),
        "{spoken}"
    );
    assert!(
        report.llm.requests().is_empty(),
        "the greeting's words were not answered"
    );
    let first_audio = report
        .sent
        .iter()
        .find(|(_, m)| matches!(m, Outbound::Media { .. }))
        .map(|(at, _)| *at)
        .unwrap();
    assert!(
        first_audio >= ms(6_000),
        "spoke before the verdict: {first_audio:?}"
    );
    assert_eq!(report.outcome.status, CallStatus::Voicemail);
    assert!(report.socket_closed_by_gateway);
    assert_eq!(report.final_record().status, "voicemail");
}

/// A person (or no verdict in time) gets the normal greeting.
#[tokio::test(start_paused = true)]
async fn a_person_gets_the_greeting_after_the_verdict() {
    let human = run(Scenario {
        signals: vec![(ms(2_000), SignalKind::AnsweredBy, "human".to_owned())],
        actions: vec![(ms(12_000), CallerAction::HangUp)],
        ..reminder_with_amd()
    })
    .await;
    assert!(
        human.spoken_text().contains("remind you"),
        "{}",
        human.spoken_text()
    );
    let config = call_pipeline::PipelineConfig {
        amd_max_wait: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    let no_verdict = run(Scenario {
        config,
        actions: vec![(ms(15_000), CallerAction::HangUp)],
        ..reminder_with_amd()
    })
    .await;
    assert!(no_verdict.spoken_text().contains("remind you"));
    assert_eq!(no_verdict.outcome.status, CallStatus::Completed);
}

/// "Stop calling me" on a reminder: the number goes on the do-not-call list, the agent says so
/// (only once it is written) and ends the call, with no LLM turn.
#[tokio::test(start_paused = true)]
async fn a_callee_who_asks_not_to_be_called_is_taken_off_the_list() {
    let report = run(Scenario {
        stt: SttScript::new().step(Frames(500), Ev::speech_final("please stop calling me")),
        signals: vec![(ms(1_000), SignalKind::AnsweredBy, "human".to_owned())],
        ..reminder_with_amd()
    })
    .await;
    assert_eq!(report.crm.opt_outs(), [CALLER]);
    let spoken = report.spoken_text();
    assert!(
        spoken.ends_with("I've taken your number off our call list, so we won't call you again. Sorry for the trouble. Goodbye."),
        "{spoken}"
    );
    assert!(report.llm.requests().is_empty());
    assert!(report.socket_closed_by_gateway);
    // A database that cannot take it: the agent does not promise.
    let failed = run(Scenario {
        crm_fails: true,
        stt: SttScript::new().step(Frames(500), Ev::speech_final("take me off your list")),
        signals: vec![(ms(1_000), SignalKind::AnsweredBy, "human".to_owned())],
        ..reminder_with_amd()
    })
    .await;
    assert!(
        failed
            .spoken_text()
            .contains("I couldn't update our call list")
    );
}

/// The advisor accepted but Twilio could not move the caller: the caller is still on the stream,
/// so the agent apologises and takes the message; the advisor's leg is released.
#[tokio::test(start_paused = true)]
async fn an_accepted_transfer_that_cannot_be_bridged_becomes_a_message() {
    let report = run(Scenario {
        warm: true,
        stt: SttScript::new()
            .step(
                Frames(250),
                Ev::speech_final("let me talk to a real person"),
            )
            .step(Frames(1_500), Ev::speech_final("maria lopez")),
        signals: vec![
            (
                ms(20_000),
                SignalKind::Transfer,
                TRANSFER_CONNECTED.to_owned(),
            ),
            (
                ms(21_000),
                SignalKind::Bridge,
                bridge_failed("redirect failed"),
            ),
        ],
        actions: vec![(ms(40_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let spoken = report.spoken_text();
    assert!(
        spoken.contains("I couldn't put you through to our service advisor. I can take a message"),
        "{spoken}"
    );
    assert!(
        spoken.contains("Is 5 5 5, 5 5 5, 0 1 2 3 the best number"),
        "{spoken}"
    );
    assert_eq!(report.control.log().advisor_cancels, [CALL_SID]);
    assert_eq!(report.outcome.status, CallStatus::Completed);
    let record = report.final_record();
    assert_eq!(record.status, "completed");
    assert_eq!(record.callback_reason.as_deref(), Some("manager_request"));

    // No word of the move and no end of the stream within 15 s of the accept: the same.
    let silent = run(Scenario {
        warm: true,
        stt: SttScript::new().step(
            Frames(250),
            Ev::speech_final("let me talk to a real person"),
        ),
        signals: vec![(
            ms(20_000),
            SignalKind::Transfer,
            TRANSFER_CONNECTED.to_owned(),
        )],
        actions: vec![(ms(50_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(
        silent.spoken_text().contains("I couldn't put you through"),
        "{}",
        silent.spoken_text()
    );
    assert_eq!(silent.control.log().advisor_cancels, [CALL_SID]);
    assert_eq!(silent.outcome.status, CallStatus::Completed);
}

/// Speech recognition gone and nobody to transfer to: the agent does not ask questions it cannot
/// hear the answers to; it says a person will call back and ends the call.
#[tokio::test(start_paused = true)]
async fn a_caller_who_cannot_be_heard_is_not_asked_for_a_message() {
    let report = run(Scenario {
        can_transfer: false,
        stt: SttScript::new().step(Frames(250), Ev::Close),
        max_duration: std::time::Duration::from_secs(60),
        ..Scenario::default()
    })
    .await;
    let spoken = report.spoken_text();
    assert!(
        spoken.contains("I'm having trouble hearing you, so I've noted your call, and someone from the shop will call you back as soon as they can. Goodbye."),
        "{spoken}"
    );
    assert!(!spoken.contains("May I have your name?"), "{spoken}");
    assert!(report.socket_closed_by_gateway);
    assert_eq!(
        report.final_record().callback_reason.as_deref(),
        Some("speech_recognition_lost")
    );
}

/// The voice drops while the caller is on hold: hold audio needs no voice, so the caller keeps
/// holding for the advisor (no cold transfer behind the advisor's ringing phone).
#[tokio::test(start_paused = true)]
async fn losing_the_voice_on_hold_keeps_the_caller_holding() {
    let report = run(Scenario {
        warm: true,
        tts: providers::fake::FakeTtsConfig {
            audio_per_char: ms(40),
            // The line plays by about 11 s and the advisor is rung; the voice drops at 18 s.
            drop_after: Some("Please hold".to_owned()),
            drop_delay: ms(10_000),
            ..Default::default()
        },
        stt: SttScript::new().step(
            Frames(250),
            Ev::speech_final("let me talk to a real person"),
        ),
        signals: vec![(
            ms(30_000),
            SignalKind::Transfer,
            TRANSFER_CONNECTED.to_owned(),
        )],
        actions: vec![(ms(31_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(
        report.control.log().transfers.is_empty(),
        "not a cold transfer"
    );
    assert_eq!(report.control.log().advisor_briefs.len(), 1);
    assert!(
        hold_marks(&report.sent).len() >= 3,
        "{:?}",
        hold_marks(&report.sent)
    );
    assert_eq!(report.outcome.status, CallStatus::Transferred);
}

/// While a message is taken, "stop calling me" is part of the message, not a do-not-call request.
#[tokio::test(start_paused = true)]
async fn do_not_call_words_in_a_message_are_the_message() {
    let report = run(Scenario {
        can_transfer: false,
        customer: Some(john_smith()),
        stt: SttScript::new()
            .step(
                Frames(250),
                Ev::speech_final("let me talk to a real person"),
            )
            .step(Frames(700), Ev::speech_final("yes"))
            .step(
                Frames(950),
                Ev::speech_final("tell the warranty people to stop calling me"),
            ),
        max_duration: std::time::Duration::from_secs(60),
        ..Scenario::default()
    })
    .await;
    assert!(report.crm.opt_outs().is_empty());
    let message = report.final_record().message.expect("a message");
    assert_eq!(
        message.message.as_deref(),
        Some("tell the warranty people to stop calling me"),
        "{}",
        report.spoken_text()
    );
}

/// A key pressed while the answering-machine verdict is pending is a person: they are greeted.
#[tokio::test(start_paused = true)]
async fn a_key_press_before_the_verdict_is_a_person() {
    let report = run(Scenario {
        actions: vec![
            (ms(1_000), CallerAction::Dtmf("5")),
            (ms(12_000), CallerAction::HangUp),
        ],
        ..reminder_with_amd()
    })
    .await;
    let first_audio = report
        .sent
        .iter()
        .find(|(_, m)| matches!(m, Outbound::Media { .. }))
        .map(|(at, _)| *at)
        .unwrap();
    assert!(first_audio < ms(3_000), "{first_audio:?}");
    assert!(
        report.spoken_text().contains("remind you"),
        "{}",
        report.spoken_text()
    );
}
