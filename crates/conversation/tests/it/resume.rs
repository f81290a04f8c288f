//! A conversation taken up by another process after its stream was lost: the snapshot survives
//! JSON (the session store's format), the resumed manager goes on exactly as the first would
//! have, and the first line says what the caller was doing.

use conversation::{
    ConversationManager, ConversationSnapshot, Intent, State, create_inbound_new_manager,
};

use crate::{now, shop};

const CALLER: &str = "+15551234567";

/// Stores the snapshot as the pipeline does and builds a fresh manager from it.
fn resumed(first: &ConversationManager) -> ConversationManager {
    let stored = serde_json::to_string(&first.snapshot()).unwrap();
    let snapshot: ConversationSnapshot = serde_json::from_str(&stored).unwrap();
    let mut second = create_inbound_new_manager(CALLER, shop());
    second.resume_from(snapshot);
    second
}

#[test]
fn a_booking_resumes_where_it_stood_and_finishes_the_same_way() {
    let mut first = create_inbound_new_manager(CALLER, shop());
    first.process_message("hi i need an oil change on december first at 2pm", now());
    first.process_message("its a 2019 honda civic", now());
    let mut second = resumed(&first);
    assert_eq!(second.snapshot(), first.snapshot());
    assert_eq!(second.state(), first.state());
    assert_eq!(
        second.resume_line(),
        format!(
            "Sorry about that, we got cut off. You were booking {}. {}",
            "an oil change on Tuesday, December 1 at 2 PM for the 2019 Honda Civic",
            match first.state() {
                State::Confirmation => "Shall I go ahead with that?",
                _ => "Let's pick up where we left off.",
            }
        )
    );
    // Both go on identically from here.
    for text in ["my name is sam smith", "yes that's right"] {
        first.process_message(text, now());
        second.process_message(text, now());
        assert_eq!(
            second.get_conversation_summary(),
            first.get_conversation_summary()
        );
    }
}

#[test]
fn a_call_cut_before_the_caller_spoke_greets_again() {
    let first = create_inbound_new_manager(CALLER, shop());
    let second = resumed(&first);
    assert_eq!(
        second.resume_line(),
        format!("Sorry about that, we got cut off. {}", first.greeting())
    );
}

#[test]
fn a_question_resumes_with_its_subject() {
    let mut first = create_inbound_new_manager(CALLER, shop());
    first.process_message("how much is a brake job", now());
    let second = resumed(&first);
    assert_eq!(
        second.get_conversation_summary().intent,
        Some(Intent::PricingInquiry)
    );
    assert!(
        second.resume_line().starts_with(
            "Sorry about that, we got cut off. You were asking what a brake service costs."
        ),
        "{}",
        second.resume_line()
    );
}

#[test]
fn a_snapshot_from_an_older_gateway_with_fewer_fields_still_loads() {
    let snapshot: ConversationSnapshot = serde_json::from_str(
        r#"{"call_type":"inbound_new","state":"slot_collection","intent":"schedule_appointment",
            "slots":{"service_type":"oil change","resolved_time":"14:00"}}"#,
    )
    .unwrap();
    assert_eq!(
        snapshot.slots.resolved_time.map(|t| t.to_string()),
        Some("14:00:00".to_owned())
    );
    let mut manager = create_inbound_new_manager(CALLER, shop());
    manager.resume_from(snapshot);
    assert_eq!(manager.state(), State::SlotCollection);
}
