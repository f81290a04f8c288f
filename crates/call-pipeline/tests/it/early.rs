//! Early replies over real sockets: the LLM request starts on words that probably end the
//! caller's turn (the recogniser's eager end of turn, here as Flux reports it) and is spoken only
//! if the final words are the same; otherwise it is dropped without a word said or a tool run.

use std::sync::Arc;

use providers::{
    ChatMessage, FinishReason, ToolCall,
    fake::{
        FakeStt, LlmReply, LlmStep, SttScript, SttScriptEvent as Ev,
        SttTrigger::AfterAudioFrames as Frames,
    },
};
use serde_json::Value;

use crate::harness::{CallerAction, Scenario, ms, run};

/// A Flux-like recogniser (it decides turn ends itself) playing `script`.
fn flux(script: SttScript) -> Option<Arc<dyn providers::SpeechToText>> {
    Some(Arc::new(FakeStt::new(script).ending_turns_by_meaning()))
}

fn last_user_message(messages: &[ChatMessage]) -> String {
    messages
        .iter()
        .rev()
        .find_map(|m| match m {
            ChatMessage::User { content } => Some(content.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn llm_timings(timings: &Value) -> Vec<Value> {
    timings
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["from_llm"] == true)
        .cloned()
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_eager_end_starts_the_reply_and_the_same_final_words_speak_it() {
    // The eager end comes 300 ms before the recogniser is sure; the LLM's first token takes 300 ms.
    let script = SttScript::new()
        .step(Frames(250), Ev::SpeechStarted { timestamp_s: 5.0 })
        .step(Frames(255), Ev::interim("do you do tire rotations"))
        .step(
            Frames(270),
            Ev::EagerEndOfTurn {
                text: "do you do tire rotations".into(),
            },
        )
        .step(Frames(285), Ev::speech_final("Do you do tire rotations?"));
    let report = run(Scenario {
        stt_override: flux(script),
        llm: vec![LlmReply::Stream(vec![
            LlmStep::Wait(ms(300)),
            LlmStep::Text("Yes we do.".into()),
            LlmStep::Finish(FinishReason::Stop),
        ])],
        actions: vec![(ms(12_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let requests = report.llm.requests();
    assert_eq!(requests.len(), 1, "one request, started early");
    assert_eq!(
        last_user_message(&requests[0].messages),
        "do you do tire rotations"
    );
    assert!(
        report.spoken_text().contains("Yes we do."),
        "{}",
        report.spoken_text()
    );
    // History keeps the final words.
    let record = report.final_record();
    let history = serde_json::to_string(&record.transcript).unwrap();
    assert!(history.contains("Do you do tire rotations?"), "{history}");
    let turns = llm_timings(&record.timings);
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(turns[0]["early"], true);
    // The first word was ready when the final came: the caller waits for TTS, not the LLM.
    let voice_to_voice = turns[0]["voice_to_voice_ms"].as_f64().unwrap();
    assert!(voice_to_voice < 300.0, "{voice_to_voice} ms");
}

#[tokio::test(start_paused = true)]
async fn an_early_reply_the_caller_talks_past_is_dropped_without_a_word_or_a_tool() {
    // The early words would book at ten; the caller goes on and says ten thirty.
    let booking = ToolCall {
        id: "call_1".into(),
        name: "book_appointment".into(),
        arguments: r#"{"service_type":"oil change","date":"2026-11-25","time":"10:00"}"#.into(),
    };
    let script = SttScript::new()
        .step(Frames(250), Ev::SpeechStarted { timestamp_s: 5.0 })
        .step(Frames(255), Ev::interim("tomorrow at ten"))
        .step(
            Frames(260),
            Ev::EagerEndOfTurn {
                text: "tomorrow at ten".into(),
            },
        )
        .step(Frames(290), Ev::TurnResumed)
        .step(Frames(292), Ev::interim("tomorrow at ten thirty"))
        .step(Frames(300), Ev::speech_final("Tomorrow at ten thirty."));
    let report = run(Scenario {
        stt_override: flux(script),
        llm: vec![
            LlmReply::tool_calls([booking]),
            LlmReply::text("Ten thirty tomorrow, got it.", ms(20)),
        ],
        actions: vec![(ms(12_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let requests = report.llm.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(last_user_message(&requests[0].messages), "tomorrow at ten");
    assert_eq!(
        last_user_message(&requests[1].messages),
        "Tomorrow at ten thirty."
    );
    assert!(
        report.crm.tool_calls().is_empty(),
        "the dropped reply ran no tool"
    );
    let spoken = report.spoken_text();
    assert!(spoken.contains("Ten thirty tomorrow, got it."), "{spoken}");
    let record = report.final_record();
    let turns = llm_timings(&record.timings);
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(turns[0]["early"], false);
}

/// A model that takes 1.5 s to answer: the caller hears "One moment." after 700 ms, the history
/// and the record keep only the reply, and voice-to-voice is measured to the reply.
#[tokio::test(start_paused = true)]
async fn a_slow_reply_is_preceded_by_a_filler_that_history_never_sees() {
    let report = run(Scenario {
        stt: SttScript::new().step(
            Frames(250),
            Ev::speech_final("Can you check Friday for me?"),
        ),
        llm: vec![LlmReply::Stream(vec![
            LlmStep::Wait(ms(1500)),
            LlmStep::Text("Friday at ten is open.".into()),
            LlmStep::Finish(FinishReason::Stop),
        ])],
        actions: vec![(ms(12_000), CallerAction::HangUp)],
        ..Scenario::default()
    })
    .await;
    let spoken = report.spoken_text();
    let filler_at = spoken.find("One moment.").expect("the filler was said");
    let reply_at = spoken
        .find("Friday at ten is open.")
        .expect("the reply was said");
    assert!(filler_at < reply_at, "{spoken}");
    let record = report.final_record();
    let history = serde_json::to_string(&record.transcript).unwrap();
    assert!(!history.contains("One moment"), "{history}");
    assert!(history.contains("Friday at ten is open."), "{history}");
    let turns = llm_timings(&record.timings);
    let voice_to_voice = turns[0]["voice_to_voice_ms"].as_f64().unwrap();
    assert!(
        voice_to_voice >= 1500.0,
        "measured to the reply: {voice_to_voice} ms"
    );
}
