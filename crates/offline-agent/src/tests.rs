//! Rounds after a tool answered, with the answers written by hand (the integration tests run
//! the real executor).

use std::sync::Arc;

use conversation::{ShopConfig, create_inbound_existing_manager};

use super::*;

fn now() -> DateTime<Utc> {
    "2026-12-07T14:00:00Z".parse().unwrap()
}

fn customer() -> CustomerProfile {
    CustomerProfile {
        id: 7,
        first_name: "John".to_owned(),
        last_name: "Smith".to_owned(),
        phone: "+14135550100".to_owned(),
        email: None,
        vehicles: Vec::new(),
        upcoming_appointments: Vec::new(),
    }
}

/// A known caller who has said yes to an oil change on Wednesday at 10.
fn confirmed_booking() -> (ConversationManager, Vec<ChatMessage>) {
    let mut manager = create_inbound_existing_manager(
        "+14135550100",
        customer(),
        Arc::new(ShopConfig::default_shop()),
    );
    let mut messages = Vec::new();
    for line in ["I need an oil change wednesday at 10am", "yes"] {
        manager.process_message(line, now());
        messages.push(ChatMessage::User {
            content: line.to_owned(),
        });
    }
    assert_eq!(manager.state(), State::Execution);
    (manager, messages)
}

fn answered(messages: &mut Vec<ChatMessage>, reply: &Reply, result: Value) {
    let call = reply.tool_calls[0].clone();
    messages.push(ChatMessage::Assistant {
        content: None,
        tool_calls: vec![call.clone()],
    });
    messages.push(ChatMessage::Tool {
        tool_call_id: call.id,
        content: result.to_string(),
    });
}

#[test]
fn a_taken_time_is_checked_again_and_other_times_are_offered() {
    let (manager, mut messages) = confirmed_booking();
    let agent = OfflineAgent::new(&manager, now());
    let book = agent.reply(&messages);
    assert_eq!(book.tool_calls[0].name, "book_appointment");
    assert_eq!(
        serde_json::from_str::<Value>(&book.tool_calls[0].arguments).unwrap(),
        json!({"service": "oil change", "start": "2026-12-09T10:00"})
    );
    answered(
        &mut messages,
        &book,
        json!({"ok": false, "error": {"code": "slot_full", "message": "taken"}}),
    );
    let check = agent.reply(&messages);
    assert_eq!(check.tool_calls[0].name, "check_availability");
    assert_eq!(check.tool_calls[0].id, "offline-2");
    answered(
        &mut messages,
        &check,
        json!({"ok": true, "slots": [
            {"start": "2026-12-09T11:00"}, {"start": "2026-12-09T13:30"}
        ]}),
    );
    assert_eq!(
        agent.reply(&messages).text.unwrap(),
        "I'm sorry, that time was just taken. On Wednesday, December 9 I have 11 AM or 1:30 PM. \
         Which time works best for you?"
    );
}

#[test]
fn a_schedule_that_cannot_be_reached_is_said_plainly() {
    let (manager, mut messages) = confirmed_booking();
    let agent = OfflineAgent::new(&manager, now());
    let book = agent.reply(&messages);
    answered(
        &mut messages,
        &book,
        json!({"ok": false, "error": {"code": "unavailable", "message": "database down"}}),
    );
    let reply = agent.reply(&messages);
    assert!(reply.tool_calls.is_empty());
    assert!(
        reply
            .text
            .unwrap()
            .starts_with("I'm sorry, I can't reach our schedule right now."),
    );
}

#[test]
fn an_earlier_models_lookup_does_not_derail_the_turn() {
    let (manager, mut messages) = confirmed_booking();
    let lookup = Reply::call("call_abc".to_owned(), "lookup_customer", json!({}));
    answered(&mut messages, &lookup, json!({"ok": true, "found": true}));
    let book = OfflineAgent::new(&manager, now()).reply(&messages);
    assert_eq!(book.tool_calls[0].name, "book_appointment");
}

#[tokio::test]
async fn as_a_language_model_it_streams_the_same_reply() {
    let (manager, messages) = confirmed_booking();
    let agent = OfflineAgent::new(&manager, now());
    let events: Vec<LlmEvent> = agent
        .stream(ChatRequest {
            messages,
            ..ChatRequest::default()
        })
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert!(
        matches!(&events[0], LlmEvent::ToolCall { call, .. } if call.name == "book_appointment")
    );
    assert!(matches!(
        &events[1],
        LlmEvent::Finished {
            reason: FinishReason::ToolCalls,
            ..
        }
    ));
    assert_eq!(agent.name(), "offline_agent");
}
