use std::time::Duration;

use call_pipeline::{CallStatus, PipelineConfig};
use providers::{
    ChatMessage, ProviderError, ToolCall, TtsCommand,
    fake::{
        LlmReply, LlmStep, SttScript, SttScriptEvent as Ev, SttTrigger::AfterAudioFrames as Frames,
    },
};
use serde_json::json;
use twilio::media::Outbound;

use crate::harness::{CALL_SID, CALLER, CallerAction, SHOP_NUMBER, Scenario, john_smith, ms, run};

fn says(frames: u64, text: &str) -> SttScript {
    SttScript::new().step(Frames(frames), Ev::speech_final(text))
}

fn reply(text: &str) -> LlmReply {
    LlmReply::text(text, ms(20))
}

/// Seed Test 1: a new customer asks for an oil change; the flow reaches slot collection.
#[tokio::test(start_paused = true)]
async fn seed_1_new_customer_oil_change_reaches_slot_collection() {
    let report = run(Scenario {
        stt: says(250, "Hi, I need to schedule an oil change"),
        llm: vec![reply(
            "Sure, I can help with that. What day works best for you?",
        )],
        actions: vec![(ms(12_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let summary = report.summary();
    assert_eq!(summary["call_type"], "inbound_new");
    assert_eq!(summary["state"], "slot_collection");
    assert_eq!(summary["intent"], "schedule_appointment");
    assert_eq!(summary["collected_slots"]["service_type"], "oil change");
    assert_eq!(report.outcome.status, CallStatus::Completed);
    // The greeting needed no LLM; the one LLM request carried the manager's prompt and the history.
    let requests = report.llm.requests();
    assert_eq!(requests.len(), 1);
    let ChatMessage::System { content: prompt } = &requests[0].messages[0] else {
        panic!("system prompt first")
    };
    assert!(prompt.contains("oil change"), "{prompt}");
    assert!(
        matches!(&requests[0].messages[1], ChatMessage::Assistant { .. }),
        "greeting in history"
    );
    assert!(
        matches!(&requests[0].messages[2], ChatMessage::User { content } if content.contains("oil change"))
    );
    assert!(
        report.spoken_text().starts_with("Thanks for calling"),
        "{}",
        report.spoken_text()
    );
    assert!(report.spoken_text().contains("What day works best"));
    assert!(report.media_frames() > 100, "audio reached the caller");
    // Seed steps 6 and 7: the session holds the summary and the final state.
    let session = report.session.expect("session saved");
    assert_eq!(session["status"], "completed");
    assert_eq!(session["conversation_summary"]["state"], "slot_collection");
    assert_eq!(session["escalation_triggered"], false);
    assert_eq!(session["stream_sid"], crate::harness::STREAM_SID);
    assert!(session["ended_at"].is_string());
    // The record exists from the start of the call (in progress), then the final one replaces it.
    let records = report.crm.records();
    let states: Vec<_> = records
        .iter()
        .map(|r| (r.call_sid.as_str(), r.status.as_str(), r.ended_at.is_some()))
        .collect();
    assert_eq!(
        states,
        [
            (CALL_SID, "in_progress", false),
            (CALL_SID, "completed", true)
        ]
    );
    assert_eq!(records[1].call_type, "inbound_new");
}

/// Seed Test 2: an existing customer is greeted by first name.
#[tokio::test(start_paused = true)]
async fn seed_2_existing_customer_is_greeted_by_name() {
    let report = run(Scenario {
        customer: Some(john_smith()),
        stt: says(250, "Hi, I need brake service"),
        llm: vec![reply("Of course John. Is this for the Civic?")],
        actions: vec![(ms(10_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(
        report.spoken_text().starts_with("Hi John"),
        "{}",
        report.spoken_text()
    );
    let summary = report.summary();
    assert_eq!(summary["call_type"], "inbound_existing");
    assert_eq!(summary["intent"], "schedule_appointment");
    assert_eq!(report.final_record().customer_id, Some(1));
}

/// Seed Test 3: a manager request escalates and the live call is transferred.
#[tokio::test(start_paused = true)]
async fn seed_3_manager_request_transfers_the_call() {
    let report = run(Scenario {
        stt: says(250, "I want to speak to a manager"),
        actions: vec![(ms(20_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.summary()["state"], "escalation");
    assert_eq!(report.summary()["escalation_reason"], "manager_request");
    assert!(
        report
            .spoken_text()
            .contains("Let me connect you with our service advisor")
    );
    assert_eq!(report.control.log().transfers.as_slice(), [CALL_SID]);
    // The stop after a transfer is not a failure.
    assert_eq!(report.outcome.status, CallStatus::Transferred);
    assert!(
        report.llm.requests().is_empty(),
        "no LLM round trip for an escalation"
    );
    let session = report.session.unwrap();
    assert_eq!(session["escalation_triggered"], true);
    assert_eq!(session["escalation_reason"], "manager_request");
}

/// Seed Test 4: "What are your hours?" goes straight to execution.
#[tokio::test(start_paused = true)]
async fn seed_4_hours_question_skips_slot_collection() {
    let report = run(Scenario {
        stt: says(250, "What are your hours?"),
        llm: vec![reply(
            "We're open eight to six on weekdays and nine to two on Saturdays.",
        )],
        actions: vec![(ms(12_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.summary()["intent"], "check_hours");
    assert_eq!(report.summary()["state"], "execution");
}

/// A booking tool call runs against the CRM, its result goes back to the LLM in the same turn,
/// and the flow closes.
#[tokio::test(start_paused = true)]
async fn booking_tool_call_result_goes_back_to_the_llm() {
    let call = ToolCall {
        id: "call_1".into(),
        name: "book_appointment".into(),
        arguments: json!({"service": "oil change", "date": "2026-11-25", "time": "14:00"})
            .to_string(),
    };
    let report = run(Scenario {
        customer: Some(john_smith()),
        stt: SttScript::new()
            .step(
                Frames(250),
                Ev::speech_final("I need an oil change tomorrow at 2pm"),
            )
            .step(Frames(700), Ev::speech_final("yes that's right")),
        llm: vec![
            reply("Just to confirm, an oil change tomorrow at 2pm?"),
            LlmReply::tool_calls([call]),
            reply("You're all set for tomorrow at 2pm."),
        ],
        actions: vec![(ms(25_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.crm.tool_calls().len(), 1);
    let requests = report.llm.requests();
    assert_eq!(requests.len(), 3);
    let last = requests[2].messages.last().unwrap();
    assert!(
        matches!(last, ChatMessage::Tool { tool_call_id, content } if tool_call_id == "call_1" && content.contains("\"ok\":true"))
    );
    assert_eq!(report.summary()["state"], "closing");
    assert!(report.spoken_text().contains("You're all set"));
}

/// Barge-in: words over the agent's reply clear Twilio's buffer, cancel the LLM, and history keeps
/// only what the caller heard.
#[tokio::test(start_paused = true)]
async fn barge_in_clears_audio_and_truncates_history() {
    let long = "We have openings on Monday morning, Tuesday afternoon, Wednesday all day, \
        Thursday before noon and Friday after three, and on Saturday we have a couple of early slots \
        as well if that suits you better.";
    let report = run(Scenario {
        stt: SttScript::new()
            .step(Frames(250), Ev::speech_final("I need an oil change"))
            .step(Frames(600), Ev::interim("wait actually"))
            .step(
                Frames(640),
                Ev::speech_final("wait actually make it brakes"),
            ),
        llm: vec![reply(long), reply("Sure, brake service instead.")],
        actions: vec![(ms(20_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.clears(), 1, "one barge-in, one clear");
    assert_eq!(report.outcome.barge_ins, 1);
    let cut = report
        .assistant_lines()
        .into_iter()
        .find(|line| line.starts_with("We have openings"))
        .unwrap();
    assert!(
        cut.len() < long.len(),
        "history keeps only what was heard: {cut:?}"
    );
    assert!(long.starts_with(&cut));
    assert_eq!(
        report.summary()["collected_slots"]["service_type"],
        "brake service"
    );
}

/// "uh-huh" while the agent talks pauses it for a moment (its audio is cleared at the caller at
/// voice onset), then the agent resumes from the audio it kept: no TTS clear, no LLM turn, and
/// history keeps the whole reply.
#[tokio::test(start_paused = true)]
async fn backchannel_pauses_then_resumes_without_a_turn() {
    let long = "Our oil change includes up to five quarts of synthetic blend, a new filter, a tire \
        pressure check and a quick multi point inspection, and it usually takes about thirty minutes.";
    let report = run(Scenario {
        stt: SttScript::new()
            .step(Frames(250), Ev::speech_final("how much is an oil change"))
            .step(Frames(500), Ev::interim("uh-huh"))
            .step(Frames(520), Ev::speech_final("uh-huh")),
        llm: vec![reply(long)],
        actions: vec![
            (ms(500 * 20 + 200), CallerAction::Talk(ms(300))),
            (ms(25_000), CallerAction::HangUp),
        ],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.clears(), 1, "paused at the caller's voice onset");
    assert_eq!(report.outcome.barge_ins, 0, "not an interruption");
    assert!(
        !report.tts.received_commands().contains(&TtsCommand::Clear),
        "the reply's audio was kept"
    );
    assert!(report.media_after_last_clear() > 50, "the agent resumed");
    assert!(
        report.assistant_lines().iter().any(|line| line == long),
        "the whole reply stays in history"
    );
    assert_eq!(
        report.llm.requests().len(),
        1,
        "a backchannel is not a turn"
    );
}

/// A wordless sound (a cough) pauses the agent; when it ends with no words the agent resumes from
/// the start of the sentence the caller stopped hearing, from the audio it kept.
#[tokio::test(start_paused = true)]
async fn a_cough_pauses_the_agent_then_it_resumes_from_the_cut_sentence() {
    let long = "Our brake service starts with an inspection of the pads and rotors. Then we replace \
        what is worn and test drive the car. It usually takes about two hours in total.";
    let cough_at = 250 * 20 + 4_000;
    let report = run(Scenario {
        stt: says(250, "tell me about brake service"),
        llm: vec![reply(long)],
        actions: vec![
            (ms(cough_at), CallerAction::Talk(ms(400))),
            (ms(30_000), CallerAction::HangUp),
        ],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.clears(), 1);
    assert_eq!(report.outcome.barge_ins, 0);
    let commands = report.tts.received_commands();
    assert!(!commands.contains(&TtsCommand::Clear), "{commands:?}");
    assert_eq!(report.llm.requests().len(), 1, "resuming needs no LLM");
    assert!(report.assistant_lines().iter().any(|line| line == long));
    // The clear came at the cough's onset (3 loud frames), and audio followed within the pause:
    // the cough (400 ms), the VAD's 300 ms hangover and the 150 ms resume delay.
    let (clear_at, _) = report
        .sent
        .iter()
        .find(|(_, m)| matches!(m, Outbound::Clear { .. }))
        .unwrap();
    assert!(
        *clear_at >= ms(cough_at) && *clear_at <= ms(cough_at + 100),
        "clear at {clear_at:?}"
    );
    let resumed_at = report
        .sent
        .iter()
        .find(|(at, m)| at > clear_at && matches!(m, Outbound::Media { .. }))
        .map(|(at, _)| *at)
        .expect("resumed");
    assert!(
        resumed_at <= ms(cough_at + 400 + 300 + 150 + 60),
        "resumed at {resumed_at:?}"
    );
}

/// The LLM fails before the first token: the agent says the fallback line and keeps listening.
#[tokio::test(start_paused = true)]
async fn llm_failure_says_the_fallback_line_and_keeps_listening() {
    let report = run(Scenario {
        stt: SttScript::new()
            .step(Frames(250), Ev::speech_final("what are your hours"))
            .step(
                Frames(700),
                Ev::speech_final("what are your hours on saturday"),
            ),
        llm: vec![
            LlmReply::Fail(ProviderError::Http {
                status: 500,
                message: "upstream".into(),
            }),
            reply("On Saturday we're open nine to two."),
        ],
        actions: vec![(ms(25_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let spoken = report.spoken_text();
    assert!(
        spoken.contains(&PipelineConfig::default().fallback_line),
        "{spoken}"
    );
    assert!(spoken.contains("nine to two"), "the call went on: {spoken}");
    assert_eq!(report.outcome.status, CallStatus::Completed);
}

/// An LLM that never answers hits the round timeout and the fallback line.
#[tokio::test(start_paused = true)]
async fn llm_that_hangs_times_out_into_the_fallback_line() {
    let report = run(Scenario {
        stt: says(250, "what are your hours"),
        llm: vec![LlmReply::Stream(vec![LlmStep::Hang])],
        actions: vec![(ms(40_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(
        report
            .spoken_text()
            .contains(&PipelineConfig::default().fallback_line)
    );
}

/// The LLM fails before the first token and an offline agent is there: it answers the turn from
/// the conversation's state, the call record says so, and the next turn goes straight to it.
#[tokio::test(start_paused = true)]
async fn llm_failure_hands_the_turn_to_the_offline_agent() {
    let report = run(Scenario {
        stt: SttScript::new()
            .step(Frames(250), Ev::speech_final("what are your hours"))
            .step(Frames(700), Ev::speech_final("how much is an oil change")),
        llm: vec![
            LlmReply::Fail(ProviderError::Http {
                status: 500,
                message: "upstream".into(),
            }),
            reply("never asked: the call stays with the offline agent"),
        ],
        offline_agent: true,
        actions: vec![(ms(30_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let spoken = report.spoken_text();
    assert!(
        spoken.contains("We're open Monday to Friday from 8 AM to 6 PM"),
        "{spoken}"
    );
    assert!(
        spoken.contains("Oil change usually runs $45 to $95"),
        "{spoken}"
    );
    assert!(
        !spoken.contains(&PipelineConfig::default().fallback_line),
        "{spoken}"
    );
    assert_eq!(
        report.llm.requests().len(),
        1,
        "one LLM request, then offline"
    );
    let record = report.final_record();
    let answered: Vec<_> = record
        .timings
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["from_llm"] == json!(true))
        .map(|t| t["answered_by"].clone())
        .collect();
    assert_eq!(
        answered,
        [json!("offline_agent"), json!("offline_agent")],
        "{}",
        record.timings
    );
}

/// An LLM that has answered nothing after `llm_fallback_after` is given up for the offline
/// agent (the filler covers the wait), long before the round timeout.
#[tokio::test(start_paused = true)]
async fn a_silent_llm_is_given_up_for_the_offline_agent_within_the_budget() {
    let report = run(Scenario {
        stt: says(250, "what are your hours"),
        llm: vec![LlmReply::Stream(vec![LlmStep::Hang])],
        offline_agent: true,
        actions: vec![(ms(20_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let spoken = report.spoken_text();
    assert!(
        spoken.contains("One moment."),
        "the filler covered the wait: {spoken}"
    );
    assert!(spoken.contains("We're open Monday to Friday"), "{spoken}");
    let turn = &report.final_record().timings[1];
    assert_eq!(turn["answered_by"], json!("offline_agent"), "{turn}");
    // The words at 5 s (250 frames); the budget is 2.5 s; the filler is not the answer.
    let v2v = turn["voice_to_voice_ms"].as_f64().unwrap();
    assert!((2500.0..3000.0).contains(&v2v), "voice to voice {v2v} ms");
}

/// Without any LLM the offline agent answers every turn; an LLM that answers in time keeps
/// its turns (no `answered_by`).
#[tokio::test(start_paused = true)]
async fn without_an_llm_the_offline_agent_answers_and_a_working_llm_is_not_replaced() {
    let offline = run(Scenario {
        stt: says(250, "what are your hours"),
        offline_agent: true,
        no_llm: true,
        actions: vec![(ms(20_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(
        offline
            .spoken_text()
            .contains("We're open Monday to Friday")
    );
    let working = run(Scenario {
        stt: says(250, "what are your hours"),
        llm: vec![reply("We're open eight to six.")],
        offline_agent: true,
        actions: vec![(ms(20_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(working.spoken_text().contains("eight to six"));
    let record = working.final_record();
    assert!(
        record
            .timings
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("answered_by").is_none())
    );
}

/// A recorded call starts its recording before the greeting, which opens with the disclosure;
/// a recording that cannot start is not announced, and the call goes on.
#[tokio::test(start_paused = true)]
async fn a_recorded_call_says_so_first_and_an_unrecorded_one_does_not() {
    let disclosure = PipelineConfig::default().recording_disclosure;
    let recorded = run(Scenario {
        recording: Some(true),
        actions: vec![(ms(8_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(
        recorded.spoken_text().starts_with(&disclosure),
        "{}",
        recorded.spoken_text()
    );
    assert_eq!(recorded.control.log().recordings, [CALL_SID]);
    let refused = run(Scenario {
        recording: Some(false),
        actions: vec![(ms(8_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(refused.control.log().recordings.len(), 1);
    assert!(!refused.spoken_text().contains(&disclosure));
    assert!(refused.spoken_text().starts_with("Thanks for calling"));
    let plain = run(Scenario {
        actions: vec![(ms(8_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(plain.control.log().recordings.is_empty());
    assert!(!plain.spoken_text().contains(&disclosure));
}

/// DTMF 0 escalates to the advisor.
#[tokio::test(start_paused = true)]
async fn dtmf_zero_transfers_to_the_advisor() {
    let report = run(Scenario {
        actions: vec![
            (ms(3_000), CallerAction::Dtmf("0")),
            (ms(20_000), CallerAction::HangUp),
        ],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.control.log().transfers.len(), 1);
    assert_eq!(report.outcome.status, CallStatus::Transferred);
    assert_eq!(report.summary()["escalation_reason"], "keypad");
}

/// Without Twilio credentials, escalation offers a callback and records the request.
#[tokio::test(start_paused = true)]
async fn escalation_without_transfer_offers_a_callback() {
    let report = run(Scenario {
        can_transfer: false,
        stt: says(250, "let me talk to a real person"),
        actions: vec![(ms(15_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(report.control.log().transfers.is_empty());
    assert!(report.spoken_text().contains("call you back"));
    let session = report.session.clone().unwrap();
    assert_eq!(session["callback_requested"], true);
    assert_eq!(session["escalation_triggered"], true);
    // The request travels with the durable call record, not only the session.
    assert_eq!(
        report.final_record().callback_reason.as_deref(),
        Some("manager_request")
    );
}

/// Silence: one check-in, then a polite goodbye, then the gateway ends the call.
#[tokio::test(start_paused = true)]
async fn silence_checks_in_once_then_says_goodbye() {
    let report = run(Scenario {
        max_duration: Duration::from_secs(120),
        ..Scenario::default()
    })
    .await;
    let spoken = report.spoken_text();
    assert!(spoken.contains("Are you still there?"), "{spoken}");
    assert!(spoken.contains("Goodbye"), "{spoken}");
    assert!(
        report.socket_closed_by_gateway,
        "the gateway ended the call"
    );
    assert_eq!(spoken.matches("Are you still there?").count(), 1);
}

/// A forged stream token is refused before any provider session is opened.
#[tokio::test(start_paused = true)]
async fn forged_stream_is_refused_before_providers_open() {
    let report = run(Scenario {
        token: Some("forged".into()),
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.outcome.status, CallStatus::Rejected);
    assert!(report.stt.sessions().is_empty());
    assert!(report.tts.sessions().is_empty());
    assert!(report.sent.is_empty());
    assert!(report.session.is_none());
}

/// A CRM outage at call start falls back to the general flow.
#[tokio::test(start_paused = true)]
async fn crm_failure_falls_back_to_the_general_flow() {
    let report = run(Scenario {
        crm_fails: true,
        actions: vec![(ms(5_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.summary()["call_type"], "inbound_general");
    assert!(report.spoken_text().starts_with("Thanks for calling"));
}

/// Malformed frames, bad base64 and unknown events do not end the call.
#[tokio::test(start_paused = true)]
async fn bad_frames_are_skipped() {
    let report = run(Scenario {
        stt: says(250, "what are your hours"),
        llm: vec![reply("We open at eight.")],
        actions: vec![
            (ms(1_000), CallerAction::Garbage("{not json")),
            (ms(1_100), CallerAction::Garbage(r#"{"event":"media","sequenceNumber":"9","media":{"track":"inbound","chunk":"1","timestamp":"1","payload":"@@@"},"streamSid":"MZ1"}"#)),
            (ms(1_200), CallerAction::Garbage(r#"{"event":"brand_new_event","x":1}"#)),
            (ms(10_000), CallerAction::HangUp),
        ],
        ..Scenario::default()
    })
    .await;
    assert!(report.spoken_text().contains("We open at eight."));
    assert_eq!(report.outcome.status, CallStatus::Completed);
}

/// Speech recognition lost mid-call: the agent apologises and hands the call over.
#[tokio::test(start_paused = true)]
async fn stt_lost_for_good_hands_the_call_over() {
    let report = run(Scenario {
        stt: SttScript::new().step(Frames(100), Ev::Close),
        actions: vec![(ms(20_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(
        report.spoken_text().contains("trouble hearing you"),
        "{}",
        report.spoken_text()
    );
    assert_eq!(report.control.log().transfers.len(), 1);
    assert_eq!(
        report.summary()["escalation_reason"],
        "speech_recognition_lost"
    );
}

/// Outbound reminder, in Twilio's real outbound shape (`From` = the shop, `To` = the customer,
/// `Direction=outbound-api`): the customer is the callee and the agent states why it calls.
#[tokio::test(start_paused = true)]
async fn outbound_reminder_identifies_the_callee_and_says_why_it_calls() {
    let report = run(Scenario {
        customer: Some(john_smith()),
        caller: Some(SHOP_NUMBER),
        extra_params: vec![
            ("To", CALLER.into()),
            ("direction", "outbound-api".into()),
            ("call_type", "outbound_reminder".into()),
            ("appointment_id", "9".into()),
        ],
        actions: vec![(ms(8_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.summary()["call_type"], "outbound_reminder");
    assert!(
        report.spoken_text().contains("remind you"),
        "{}",
        report.spoken_text()
    );
    let record = report.final_record();
    assert_eq!(record.caller_phone.as_deref(), Some(CALLER));
    assert_eq!(record.customer_id, Some(1));
    assert_eq!(record.direction, conversation::CallDirection::Outbound);
}

/// An inbound call cannot turn itself into an outbound flow with a `call_type` parameter.
#[tokio::test(start_paused = true)]
async fn an_inbound_call_ignores_outbound_parameters() {
    let report = run(Scenario {
        customer: Some(john_smith()),
        extra_params: vec![
            ("direction", "inbound".into()),
            ("call_type", "outbound_reminder".into()),
            ("appointment_id", "9".into()),
        ],
        actions: vec![(ms(8_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.summary()["call_type"], "inbound_existing");
    assert_eq!(
        report.final_record().direction,
        conversation::CallDirection::Inbound
    );
}

/// With a capture directory, the call is written as JSON Lines for replay.
#[tokio::test(start_paused = true)]
async fn capture_records_the_call_for_replay() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(Scenario {
        stt: says(250, "What are your hours?"),
        llm: vec![reply("We're open eight to six on weekdays.")],
        actions: vec![(ms(10_000), CallerAction::HangUp)],
        capture_dir: Some(dir.path().to_path_buf()),
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.outcome.status, CallStatus::Completed);
    let text = std::fs::read_to_string(dir.path().join(format!("{CALL_SID}.jsonl"))).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "twilio_in", "connected comes first");
    assert!(kinds.contains(&"meta"));
    assert_eq!(*kinds.last().unwrap(), "outcome");
    for kind in [
        "stt",
        "llm_reply",
        "tts_text",
        "tts_audio",
        "twilio_out",
        "transition",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing");
    }
    let meta = lines.iter().find(|l| l["kind"] == "meta").unwrap();
    assert_eq!(meta["version"], call_pipeline::CAPTURE_FORMAT_VERSION);
    assert!(
        meta["parameters"].get("token").is_none(),
        "the stream token is not captured"
    );
    assert!(
        !text.contains(crate::harness::NONCE),
        "the stream token is not in the raw start frame either"
    );
    let lookup = lines
        .iter()
        .find(|l| l["kind"] == "crm_lookup")
        .expect("lookup captured");
    assert_eq!(lookup["result"], "not_found");
    let reply_line = lines.iter().find(|l| l["kind"] == "llm_reply").unwrap();
    assert_eq!(reply_line["text"], "We're open eight to six on weekdays.");
    let offsets: Vec<f64> = lines.iter().map(|l| l["t_ms"].as_f64().unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "offsets grow");
    assert_eq!(lines.last().unwrap()["summary"]["intent"], "check_hours");
}

/// Speech recognition drops and reconnects mid-call: the call goes on and the next utterance is served.
#[tokio::test(start_paused = true)]
async fn stt_reconnect_mid_call_keeps_the_conversation_going() {
    let report = run(Scenario {
        stt: SttScript::new()
            .step(
                Frames(200),
                Ev::Reconnecting {
                    reason: ProviderError::Connect("connection reset".into()),
                },
            )
            .step(Frames(210), Ev::Reconnected)
            .step(Frames(250), Ev::speech_final("what are your hours")),
        llm: vec![reply("We're open eight to six on weekdays.")],
        actions: vec![(ms(12_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert!(
        report.spoken_text().contains("eight to six"),
        "{}",
        report.spoken_text()
    );
    assert_eq!(report.outcome.status, CallStatus::Completed);
    assert!(
        report.control.log().transfers.is_empty(),
        "a reconnect is not an escalation"
    );
}

/// The primary voice cannot connect: the fallback TTS speaks instead.
#[tokio::test(start_paused = true)]
async fn tts_fallback_speaks_when_the_primary_voice_fails() {
    let report = run(Scenario {
        tts_primary_fails: true,
        stt: says(250, "what are your hours"),
        llm: vec![reply("We're open eight to six on weekdays.")],
        actions: vec![(ms(12_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    // `report.tts` is the fallback here.
    assert!(
        report.spoken_text().starts_with("Thanks for calling"),
        "{}",
        report.spoken_text()
    );
    assert!(report.spoken_text().contains("eight to six"));
    assert!(report.media_frames() > 50);
}

/// A long "uh-huh" pauses the agent; once its words show it was a backchannel, the agent resumes
/// the sentence it was cut off in, and no LLM turn is spent on it.
/// (Found by replaying fixtures/calls/known-issues/backchannel-uh-huh.)
#[tokio::test(start_paused = true)]
async fn long_backchannel_resumes_instead_of_taking_the_turn() {
    let long = "We move each tire to a new position so they wear evenly. Then we check the pressure \
        and look at the tread. It takes about thirty minutes in total.";
    let speech_at = 250 * 20 + 3_000;
    let report = run(Scenario {
        stt: SttScript::new()
            .step(
                Frames(250),
                Ev::speech_final("what does a tire rotation include"),
            )
            .step(Frames((speech_at + 1_000) / 20), Ev::speech_final("uh huh")),
        llm: vec![reply(long)],
        actions: vec![
            (ms(speech_at), CallerAction::Talk(ms(900))),
            (ms(30_000), CallerAction::HangUp),
        ],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.clears(), 1, "the voice paused the agent");
    assert_eq!(report.outcome.barge_ins, 0);
    assert_eq!(
        report.llm.requests().len(),
        1,
        "the backchannel did not become a turn"
    );
    assert!(report.media_after_last_clear() > 50, "the agent resumed");
    assert!(report.assistant_lines().iter().any(|line| line == long));
}

fn tool_call(id: &str, name: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: json!({"service": "oil change", "start": "2026-11-25T14:00"}).to_string(),
    }
}

/// The model cannot run more tools in one round, or book more in one call, than configured: the
/// extra calls are answered with an error and never reach the CRM.
#[tokio::test(start_paused = true)]
async fn tool_calls_per_round_and_bookings_per_call_are_bounded() {
    let report = run(Scenario {
        customer: Some(john_smith()),
        stt: SttScript::new()
            .step(Frames(250), Ev::speech_final("book me three oil changes"))
            .step(Frames(700), Ev::speech_final("and another one please")),
        llm: vec![
            // Round 1: three bookings and an unknown tool in one round (limit 3 per round, 2
            // bookings per call).
            LlmReply::tool_calls([
                tool_call("c1", "book_appointment"),
                tool_call("c2", "book_appointment"),
                tool_call("c3", "book_appointment"),
                tool_call("c4", "drop_table"),
            ]),
            reply("I booked two of them."),
            // The next turn tries again.
            LlmReply::tool_calls([tool_call("c5", "book_appointment")]),
            reply("Sorry, I can't book more on this call."),
        ],
        config: PipelineConfig {
            max_tool_calls_per_round: 3,
            max_bookings_per_call: 2,
            ..PipelineConfig::default()
        },
        actions: vec![(ms(25_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let ran: Vec<String> = report
        .crm
        .tool_calls()
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    assert_eq!(ran, ["book_appointment", "book_appointment"]);
    let results: Vec<String> = report
        .llm
        .requests()
        .iter()
        .flat_map(|request| request.messages.clone())
        .filter_map(|message| match message {
            ChatMessage::Tool {
                tool_call_id,
                content,
            } => {
                let value: serde_json::Value = serde_json::from_str(&content).unwrap();
                let code = value["error"]["code"].as_str().unwrap_or("ok").to_owned();
                Some(format!("{tool_call_id}: {code}"))
            }
            _ => None,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        results,
        [
            "c1: ok",
            "c2: ok",
            "c3: booking_limit",
            "c4: too_many_tool_calls",
            "c5: booking_limit"
        ]
    );
}

/// A call that reaches its turn limit hears the closing line and ends.
#[tokio::test(start_paused = true)]
async fn a_call_past_its_turn_limit_is_closed_politely() {
    let report = run(Scenario {
        stt: SttScript::new()
            .step(Frames(250), Ev::speech_final("what are your hours"))
            .step(Frames(600), Ev::speech_final("and on saturday"))
            .step(Frames(950), Ev::speech_final("and on sunday")),
        llm: vec![reply("Eight to six."), reply("Eight to one.")],
        config: PipelineConfig {
            max_turns: 2,
            ..PipelineConfig::default()
        },
        actions: vec![(ms(60_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.llm.requests().len(), 2, "no LLM turn past the limit");
    assert!(
        report
            .spoken_text()
            .ends_with(&PipelineConfig::default().max_length_line),
        "{}",
        report.spoken_text()
    );
    assert!(
        report.socket_closed_by_gateway,
        "the gateway ended the call"
    );
}

/// A call that reaches its length limit hears the closing line and ends, even mid-silence.
#[tokio::test(start_paused = true)]
async fn a_call_past_its_length_limit_is_closed_politely() {
    let report = run(Scenario {
        config: PipelineConfig {
            max_call_duration: Duration::from_secs(30),
            silence_check_in: Duration::from_secs(600),
            idle_media_timeout: Duration::from_secs(600),
            ..PipelineConfig::default()
        },
        actions: vec![(ms(120_000), CallerAction::HangUp)],
        max_duration: Duration::from_secs(130),
        ..Scenario::default()
    })
    .await;
    let closing = report
        .sent
        .iter()
        .find(|(_, frame)| matches!(frame, twilio::media::Outbound::Media { .. }))
        .map(|(at, _)| *at);
    assert!(closing.is_some());
    assert!(
        report
            .spoken_text()
            .ends_with(&PipelineConfig::default().max_length_line),
        "{}",
        report.spoken_text()
    );
    assert!(
        report.socket_closed_by_gateway,
        "the gateway ended the call"
    );
    let (last_at, _) = report.sent.last().unwrap();
    assert!(
        *last_at < Duration::from_secs(45),
        "closed soon after 30 s, not at the caller's hang-up: {last_at:?}"
    );
}

/// The LLM sees a bounded window of recent history (never starting with an orphaned tool
/// result), so a long call's cost per turn stays flat.
#[tokio::test(start_paused = true)]
async fn the_llm_context_is_bounded_on_long_calls() {
    let mut stt = SttScript::new();
    let mut llm = Vec::new();
    for turn in 0..8u64 {
        stt = stt.step(
            Frames(250 + turn * 300),
            Ev::speech_final(&format!("question {turn}")),
        );
        llm.push(reply(&format!("answer {turn}.")));
    }
    let report = run(Scenario {
        stt,
        llm,
        config: PipelineConfig {
            max_context_messages: 5,
            ..PipelineConfig::default()
        },
        actions: vec![(ms(60_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let requests = report.llm.requests();
    assert_eq!(requests.len(), 8);
    let last = requests.last().unwrap();
    assert_eq!(
        last.messages.len(),
        1 + 5,
        "system prompt plus 5 recent messages"
    );
    assert!(matches!(last.messages[0], ChatMessage::System { .. }));
    assert!(matches!(&last.messages[5], ChatMessage::User { content } if content == "question 7"));
    assert!(
        report
            .outcome
            .history
            .iter()
            .any(|m| matches!(m, ChatMessage::User { content } if content == "question 0")),
        "the record keeps the whole call"
    );
}

/// A caller ID whose STIR/SHAKEN verification failed does not name the customer: the call runs
/// as from an unknown number and no tool can act for anyone.
#[tokio::test(start_paused = true)]
async fn a_caller_id_that_failed_verification_is_treated_as_withheld() {
    let report = run(Scenario {
        customer: Some(john_smith()),
        extra_params: vec![("StirVerstat", "TN-Validation-Failed-A".into())],
        actions: vec![(ms(6_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.summary()["call_type"], "inbound_general");
    assert!(
        !report.spoken_text().contains("John"),
        "{}",
        report.spoken_text()
    );
    let record = report.final_record();
    assert_eq!((record.customer_id, record.caller_phone), (None, None));

    let attested = run(Scenario {
        customer: Some(john_smith()),
        extra_params: vec![("StirVerstat", "TN-Validation-Passed-A".into())],
        actions: vec![(ms(6_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(attested.summary()["call_type"], "inbound_existing");
}

fn booking_script(outcome: call_pipeline::ToolOutcome) -> Scenario {
    let call = ToolCall {
        id: "call_1".into(),
        name: "book_appointment".into(),
        arguments: json!({"service": "oil change", "start": "2026-11-25T14:00"}).to_string(),
    };
    Scenario {
        customer: Some(john_smith()),
        booking_outcome: outcome,
        stt: SttScript::new()
            .step(
                Frames(250),
                Ev::speech_final("I need an oil change tomorrow at 2pm"),
            )
            .step(Frames(700), Ev::speech_final("yes that's right"))
            .step(Frames(1100), Ev::speech_final("yes please try again")),
        llm: vec![
            reply("Just to confirm, an oil change tomorrow at 2pm?"),
            LlmReply::tool_calls([call.clone()]),
            reply("Sorry, something went wrong."),
            LlmReply::tool_calls([ToolCall {
                id: "call_2".into(),
                ..call
            }]),
            reply("Sorry, it failed again."),
        ],
        actions: vec![(ms(40_000), CallerAction::HangUp)],
        ..Scenario::default()
    }
}

/// The tool's typed outcome moves the conversation: a taken slot asks for another time, while a
/// CRM that is down (once "unavailable" was read as "slot full") counts as a failure and the
/// second one hands the caller to a person.
#[tokio::test(start_paused = true)]
async fn tool_outcomes_are_typed_and_an_unreachable_crm_escalates() {
    let taken = run(booking_script(call_pipeline::ToolOutcome::SlotTaken)).await;
    assert!(
        taken
            .summary()
            .get("escalation_reason")
            .is_none_or(serde_json::Value::is_null),
        "{}",
        taken.summary()
    );
    let down = run(booking_script(call_pipeline::ToolOutcome::Unavailable)).await;
    assert_eq!(down.summary()["escalation_reason"], "repeated_failure");
    assert_eq!(down.control.log().transfers.len(), 1);
}

/// Speech recognition is told the call's vocabulary: the caller's vehicles first, then the shop's
/// name and services.
#[tokio::test(start_paused = true)]
async fn recognition_gets_the_callers_vehicles_and_the_shops_vocabulary() {
    let report = run(Scenario {
        customer: Some(john_smith()),
        actions: vec![(ms(3_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let sessions = report.stt.sessions();
    let keyterms = &sessions[0].keyterms;
    let vehicle = &john_smith().vehicles[0];
    assert_eq!(keyterms[0], format!("{} {}", vehicle.make, vehicle.model));
    assert!(keyterms.iter().any(|t| t == "oil change"), "{keyterms:?}");
    assert!(
        keyterms.iter().any(|t| t == "Main Street Auto Care"),
        "{keyterms:?}"
    );
}

/// What the rules do not catch, the model can: a caller who wants a person in words no pattern
/// knows is handed over when the model calls `hand_to_person`, with its reason; the CRM never
/// sees that call, and the model is offered the tool with the CRM's.
#[tokio::test(start_paused = true)]
async fn the_model_can_hand_the_caller_to_a_person() {
    let report = run(Scenario {
        customer: Some(john_smith()),
        stt: SttScript::new().step(
            Frames(250),
            // No rule escalates on this line (`voice-gateway nlu` finds nothing in it).
            Ev::speech_final("honestly the whole thing has gone sideways on me"),
        ),
        llm: vec![LlmReply::tool_calls([ToolCall {
            id: "call_1".into(),
            name: "hand_to_person".into(),
            arguments: json!({"reason": "anger"}).to_string(),
        }])],
        actions: vec![(ms(20_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    assert_eq!(report.summary()["escalation_reason"], "anger");
    assert_eq!(report.control.log().transfers.len(), 1);
    assert!(report.crm.tool_calls().is_empty(), "the CRM never sees it");
    let offered: Vec<String> = report.llm.requests()[0]
        .tools
        .iter()
        .map(|spec| spec.name.clone())
        .collect();
    assert_eq!(offered, ["book_appointment", "hand_to_person"]);
}
