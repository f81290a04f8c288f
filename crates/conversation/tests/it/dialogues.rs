//! Whole calls: every flow end to end, and the seed guide's four test scenarios.
//!
//! A script line is a caller turn, or an event: `!silence`, `!tool succeeded`,
//! `!tool slot_unavailable`, `!tool failed`.

use std::fmt::Write as _;

use conversation::{
    ConversationManager, State, ToolResult, create_inbound_existing_manager,
    create_inbound_general_manager, create_inbound_new_manager, create_outbound_follow_up_manager,
    create_outbound_reminder_manager, create_outbound_service_due_manager,
};
use expect_test::{Expect, expect};

use crate::{civic, john, now, oil_change_appointment, past_brake_appointment, shop};

/// Runs the script and snapshots the greeting, every transition as the pipeline would log
/// it, and the final summary.
#[track_caller]
fn check(mut manager: ConversationManager, script: &str, expect: Expect) {
    let mut log = String::new();
    writeln!(log, "bot: {}", manager.greeting()).unwrap();
    for line in script
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        let state = match line {
            "!silence" => manager.on_silence_timeout(),
            "!tool succeeded" => manager.record_tool_result(ToolResult::Succeeded),
            "!tool slot_unavailable" => manager.record_tool_result(ToolResult::SlotUnavailable),
            "!tool failed" => manager.record_tool_result(ToolResult::Failed),
            text => manager.process_message(text, now()),
        };
        writeln!(log, "{line}").unwrap();
        for transition in manager.last_turn_transitions() {
            let intent = transition.intent.map_or("None", |intent| intent.as_str());
            writeln!(log, "  State: {}, Intent: {intent}", transition.to).unwrap();
        }
        assert_eq!(state, manager.state());
    }
    let summary = serde_json::to_string_pretty(&manager.get_conversation_summary()).unwrap();
    writeln!(log, "summary: {summary}").unwrap();
    expect.assert_eq(&log);
}

#[test]
fn seed_test_1_new_customer_schedules_an_oil_change() {
    check(
        create_inbound_new_manager("+15555550142", shop()),
        "Hi, I need to schedule an oil change",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            Hi, I need to schedule an oil change
              State: intent_detection, Intent: schedule_appointment
              State: slot_collection, Intent: schedule_appointment
            summary: {
              "call_type": "inbound_new",
              "state": "slot_collection",
              "intent": "schedule_appointment",
              "turn_count": 1,
              "collected_slots": {
                "service_type": "oil change"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn seed_test_2_existing_customer_needs_brake_service() {
    check(
        create_inbound_existing_manager("+15555550111", john(), shop()),
        "Hi, I need brake service",
        expect![[r#"
            bot: Hi John, thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            Hi, I need brake service
              State: intent_detection, Intent: schedule_appointment
              State: slot_collection, Intent: schedule_appointment
            summary: {
              "call_type": "inbound_existing",
              "state": "slot_collection",
              "intent": "schedule_appointment",
              "turn_count": 1,
              "collected_slots": {
                "service_type": "brake service"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn seed_test_3_manager_request_escalates() {
    check(
        create_inbound_new_manager("+15555550142", shop()),
        "I want to speak to a manager
         hello?",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            I want to speak to a manager
              State: escalation, Intent: None
            hello?
            summary: {
              "call_type": "inbound_new",
              "state": "escalation",
              "intent": null,
              "turn_count": 2,
              "collected_slots": {},
              "escalation_triggered": true,
              "escalation_reason": "manager_request"
            }
        "#]],
    );
}

#[test]
fn seed_test_4_hours_skip_slot_collection() {
    check(
        create_inbound_general_manager(None, shop()),
        "What are your hours?",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            What are your hours?
              State: intent_detection, Intent: check_hours
              State: execution, Intent: check_hours
            summary: {
              "call_type": "inbound_general",
              "state": "execution",
              "intent": "check_hours",
              "turn_count": 1,
              "collected_slots": {},
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn inbound_existing_books_an_oil_change_like_the_seed_summary() {
    check(
        create_inbound_existing_manager("+15555550111", john(), shop()),
        "hi yeah its john
         i need an oil change
         tomorrow
         2pm
         yes that works
         !tool succeeded
         thanks
         bye",
        expect![[r#"
            bot: Hi John, thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            hi yeah its john
              State: intent_detection, Intent: None
            i need an oil change
              State: slot_collection, Intent: schedule_appointment
            tomorrow
            2pm
              State: confirmation, Intent: schedule_appointment
            yes that works
              State: execution, Intent: schedule_appointment
            !tool succeeded
              State: closing, Intent: schedule_appointment
            thanks
            bye
            summary: {
              "call_type": "inbound_existing",
              "state": "closing",
              "intent": "schedule_appointment",
              "turn_count": 7,
              "collected_slots": {
                "service_type": "oil change",
                "preferred_date": "tomorrow",
                "preferred_time": "2pm",
                "resolved_date": "2026-11-25",
                "resolved_time": "14:00"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn inbound_new_collects_name_and_vehicle_and_takes_a_correction() {
    check(
        create_inbound_new_manager("+15555550142", shop()),
        "hi i need my tires rotated
         um next friday around ten
         maria garcia
         its a twenty fifteen subaru outback
         actually make it 3pm
         yeah thats right
         !tool slot_unavailable
         how about 4
         yes
         !tool succeeded
         thats all thanks bye",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            hi i need my tires rotated
              State: intent_detection, Intent: schedule_appointment
              State: slot_collection, Intent: schedule_appointment
            um next friday around ten
            maria garcia
            its a twenty fifteen subaru outback
              State: confirmation, Intent: schedule_appointment
            actually make it 3pm
            yeah thats right
              State: execution, Intent: schedule_appointment
            !tool slot_unavailable
              State: slot_collection, Intent: schedule_appointment
            how about 4
              State: confirmation, Intent: schedule_appointment
            yes
              State: execution, Intent: schedule_appointment
            !tool succeeded
              State: closing, Intent: schedule_appointment
            thats all thanks bye
            summary: {
              "call_type": "inbound_new",
              "state": "closing",
              "intent": "schedule_appointment",
              "turn_count": 9,
              "collected_slots": {
                "service_type": "tire rotation",
                "preferred_date": "next friday",
                "preferred_time": "4",
                "resolved_date": "2026-12-04",
                "resolved_time": "16:00",
                "customer_name": "Maria Garcia",
                "vehicle": "2015 Subaru Outback"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn inbound_new_vehicle_without_a_known_make() {
    check(
        create_inbound_new_manager("+15555550142", shop()),
        "my brakes are grinding can i come in tomorrow at 9
         sam jones
         hold on
         its an old f150",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            my brakes are grinding can i come in tomorrow at 9
              State: intent_detection, Intent: schedule_appointment
              State: slot_collection, Intent: schedule_appointment
            sam jones
            hold on
            its an old f150
              State: confirmation, Intent: schedule_appointment
            summary: {
              "call_type": "inbound_new",
              "state": "confirmation",
              "intent": "schedule_appointment",
              "turn_count": 4,
              "collected_slots": {
                "service_type": "brake service",
                "preferred_date": "tomorrow",
                "preferred_time": "9",
                "resolved_date": "2026-11-25",
                "resolved_time": "09:00",
                "customer_name": "Sam Jones",
                "vehicle": "F150"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn inbound_general_asks_a_price_mid_booking_and_resumes() {
    check(
        create_inbound_general_manager(None, shop()),
        "i want to book a wheel alignment for saturday at 10
         wait how much is that
         ok
         my name is dave lee and its a 2020 ford f150
         yes
         !tool succeeded
         thank you",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            i want to book a wheel alignment for saturday at 10
              State: intent_detection, Intent: schedule_appointment
              State: slot_collection, Intent: schedule_appointment
            wait how much is that
              State: execution, Intent: pricing_inquiry
            ok
              State: slot_collection, Intent: schedule_appointment
            my name is dave lee and its a 2020 ford f150
              State: confirmation, Intent: schedule_appointment
            yes
              State: execution, Intent: schedule_appointment
            !tool succeeded
              State: closing, Intent: schedule_appointment
            thank you
            summary: {
              "call_type": "inbound_general",
              "state": "closing",
              "intent": "schedule_appointment",
              "turn_count": 6,
              "collected_slots": {
                "service_type": "wheel alignment",
                "preferred_date": "saturday",
                "preferred_time": "10",
                "resolved_date": "2026-11-28",
                "resolved_time": "10:00",
                "customer_name": "Dave Lee",
                "vehicle": "2020 Ford F150"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn inbound_existing_reschedules_then_cancels_nothing() {
    check(
        create_inbound_existing_manager("+15555550111", john(), shop()),
        "hey i need to move my oil change
         can we do the 4th
         at 9
         no
         make it 11:30
         yes
         !tool succeeded
         great thanks bye",
        expect![[r#"
            bot: Hi John, thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            hey i need to move my oil change
              State: intent_detection, Intent: reschedule_appointment
              State: slot_collection, Intent: reschedule_appointment
            can we do the 4th
            at 9
              State: confirmation, Intent: reschedule_appointment
            no
              State: slot_collection, Intent: reschedule_appointment
            make it 11:30
              State: confirmation, Intent: reschedule_appointment
            yes
              State: execution, Intent: reschedule_appointment
            !tool succeeded
              State: closing, Intent: reschedule_appointment
            great thanks bye
            summary: {
              "call_type": "inbound_existing",
              "state": "closing",
              "intent": "reschedule_appointment",
              "turn_count": 7,
              "collected_slots": {
                "service_type": "oil change",
                "preferred_date": "4th",
                "preferred_time": "11:30",
                "resolved_date": "2026-12-04",
                "resolved_time": "11:30",
                "appointment_id": 17
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn inbound_existing_cancels() {
    check(
        create_inbound_existing_manager("+15555550111", john(), shop()),
        "i need to cancel my appointment
         yes please
         !tool succeeded
         bye",
        expect![[r#"
            bot: Hi John, thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            i need to cancel my appointment
              State: intent_detection, Intent: cancel_appointment
              State: confirmation, Intent: cancel_appointment
            yes please
              State: execution, Intent: cancel_appointment
            !tool succeeded
              State: closing, Intent: cancel_appointment
            bye
            summary: {
              "call_type": "inbound_existing",
              "state": "closing",
              "intent": "cancel_appointment",
              "turn_count": 3,
              "collected_slots": {
                "service_type": "oil change",
                "appointment_id": 17
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn booking_on_thanksgiving_is_flagged_and_moved() {
    check(
        create_inbound_existing_manager("+15555550111", john(), shop()),
        "can i bring the civic in thursday at 10 for a state inspection
         oh right friday then
         yes",
        expect![[r#"
            bot: Hi John, thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            can i bring the civic in thursday at 10 for a state inspection
              State: intent_detection, Intent: schedule_appointment
              State: slot_collection, Intent: schedule_appointment
            oh right friday then
              State: confirmation, Intent: schedule_appointment
            yes
              State: execution, Intent: schedule_appointment
            summary: {
              "call_type": "inbound_existing",
              "state": "execution",
              "intent": "schedule_appointment",
              "turn_count": 3,
              "collected_slots": {
                "service_type": "state inspection",
                "preferred_date": "friday",
                "preferred_time": "10",
                "resolved_date": "2026-11-27",
                "resolved_time": "10:00"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn three_turns_without_progress_escalate() {
    check(
        create_inbound_general_manager(None, shop()),
        "hello
         um
         what
         hmm",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            hello
              State: intent_detection, Intent: None
            um
            what
            hmm
              State: escalation, Intent: None
            summary: {
              "call_type": "inbound_general",
              "state": "escalation",
              "intent": null,
              "turn_count": 4,
              "collected_slots": {},
              "escalation_triggered": true,
              "escalation_reason": "repeated_failure"
            }
        "#]],
    );
}

#[test]
fn anger_mid_booking_escalates_and_stays_escalated() {
    check(
        create_inbound_new_manager("+15555550142", shop()),
        "i need an oil change
         are you kidding me this is ridiculous
         book it for tomorrow",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            i need an oil change
              State: intent_detection, Intent: schedule_appointment
              State: slot_collection, Intent: schedule_appointment
            are you kidding me this is ridiculous
              State: escalation, Intent: schedule_appointment
            book it for tomorrow
            summary: {
              "call_type": "inbound_new",
              "state": "escalation",
              "intent": "schedule_appointment",
              "turn_count": 3,
              "collected_slots": {
                "service_type": "oil change"
              },
              "escalation_triggered": true,
              "escalation_reason": "anger"
            }
        "#]],
    );
}

#[test]
fn silence_twice_closes_and_speech_resets_the_count() {
    check(
        create_inbound_general_manager(None, shop()),
        "!silence
         hi i need an oil change
         !silence
         !silence",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            !silence
            hi i need an oil change
              State: intent_detection, Intent: schedule_appointment
              State: slot_collection, Intent: schedule_appointment
            !silence
            !silence
              State: closing, Intent: schedule_appointment
            summary: {
              "call_type": "inbound_general",
              "state": "closing",
              "intent": "schedule_appointment",
              "turn_count": 1,
              "collected_slots": {
                "service_type": "oil change"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn failed_tool_twice_escalates() {
    check(
        create_inbound_existing_manager("+15555550111", john(), shop()),
        "book a tire rotation tomorrow at 11
         yes
         !tool failed
         !tool failed",
        expect![[r#"
            bot: Hi John, thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            book a tire rotation tomorrow at 11
              State: intent_detection, Intent: schedule_appointment
              State: confirmation, Intent: schedule_appointment
            yes
              State: execution, Intent: schedule_appointment
            !tool failed
            !tool failed
              State: escalation, Intent: schedule_appointment
            summary: {
              "call_type": "inbound_existing",
              "state": "escalation",
              "intent": "schedule_appointment",
              "turn_count": 2,
              "collected_slots": {
                "service_type": "tire rotation",
                "preferred_date": "tomorrow",
                "preferred_time": "11",
                "resolved_date": "2026-11-25",
                "resolved_time": "11:00"
              },
              "escalation_triggered": true,
              "escalation_reason": "repeated_failure"
            }
        "#]],
    );
}

#[test]
fn outbound_reminder_confirmed() {
    check(
        create_outbound_reminder_manager(john(), oil_change_appointment(), shop()),
        "yep ill be there
         thanks bye",
        expect![[r#"
            bot: Hi John, this is the virtual assistant at Main Street Auto Care, calling to remind you of your oil change appointment on Thursday, December 3 at 2 PM. Will you still be able to make it?
            yep ill be there
              State: confirmation, Intent: None
              State: closing, Intent: None
            thanks bye
            summary: {
              "call_type": "outbound_reminder",
              "state": "closing",
              "intent": null,
              "turn_count": 2,
              "collected_slots": {
                "service_type": "oil change",
                "appointment_id": 17
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn outbound_reminder_rescheduled() {
    check(
        create_outbound_reminder_manager(john(), oil_change_appointment(), shop()),
        "oh no i cant make it that day
         how about friday the 4th in the morning
         9:30
         yes
         !tool succeeded
         bye",
        expect![[r#"
            bot: Hi John, this is the virtual assistant at Main Street Auto Care, calling to remind you of your oil change appointment on Thursday, December 3 at 2 PM. Will you still be able to make it?
            oh no i cant make it that day
              State: confirmation, Intent: None
              State: slot_collection, Intent: reschedule_appointment
            how about friday the 4th in the morning
            9:30
              State: confirmation, Intent: reschedule_appointment
            yes
              State: execution, Intent: reschedule_appointment
            !tool succeeded
              State: closing, Intent: reschedule_appointment
            bye
            summary: {
              "call_type": "outbound_reminder",
              "state": "closing",
              "intent": "reschedule_appointment",
              "turn_count": 5,
              "collected_slots": {
                "service_type": "oil change",
                "preferred_date": "4th",
                "preferred_time": "9:30",
                "resolved_date": "2026-12-04",
                "resolved_time": "09:30",
                "appointment_id": 17
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn outbound_reminder_cancelled() {
    check(
        create_outbound_reminder_manager(john(), oil_change_appointment(), shop()),
        "actually please cancel it i sold the car
         yes
         !tool succeeded",
        expect![[r#"
            bot: Hi John, this is the virtual assistant at Main Street Auto Care, calling to remind you of your oil change appointment on Thursday, December 3 at 2 PM. Will you still be able to make it?
            actually please cancel it i sold the car
              State: confirmation, Intent: None
              State: confirmation, Intent: cancel_appointment
            yes
              State: execution, Intent: cancel_appointment
            !tool succeeded
              State: closing, Intent: cancel_appointment
            summary: {
              "call_type": "outbound_reminder",
              "state": "closing",
              "intent": "cancel_appointment",
              "turn_count": 2,
              "collected_slots": {
                "service_type": "oil change",
                "appointment_id": 17
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn outbound_follow_up_happy() {
    check(
        create_outbound_follow_up_manager(john(), past_brake_appointment(), shop()),
        "its running great thanks
         bye",
        expect![[r#"
            bot: Hi John, this is the virtual assistant at Main Street Auto Care, following up on the brake service we did on your 2019 Honda Civic on Monday, November 23. How is everything running?
            its running great thanks
              State: closing, Intent: None
            bye
            summary: {
              "call_type": "outbound_follow_up",
              "state": "closing",
              "intent": null,
              "turn_count": 2,
              "collected_slots": {},
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn outbound_follow_up_books_the_car_back_in() {
    check(
        create_outbound_follow_up_manager(john(), past_brake_appointment(), shop()),
        "honestly its still squeaking when i stop
         tomorrow at 8
         yes
         !tool succeeded",
        expect![[r#"
            bot: Hi John, this is the virtual assistant at Main Street Auto Care, following up on the brake service we did on your 2019 Honda Civic on Monday, November 23. How is everything running?
            honestly its still squeaking when i stop
              State: slot_collection, Intent: schedule_appointment
            tomorrow at 8
              State: confirmation, Intent: schedule_appointment
            yes
              State: execution, Intent: schedule_appointment
            !tool succeeded
              State: closing, Intent: schedule_appointment
            summary: {
              "call_type": "outbound_follow_up",
              "state": "closing",
              "intent": "schedule_appointment",
              "turn_count": 3,
              "collected_slots": {
                "service_type": "brake service",
                "preferred_date": "tomorrow",
                "preferred_time": "8",
                "resolved_date": "2026-11-25",
                "resolved_time": "08:00"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn outbound_service_due_booked() {
    check(
        create_outbound_service_due_manager(john(), civic(), "oil change", shop()),
        "sure
         wednesday afternoon
         3
         yes
         !tool succeeded
         thanks",
        expect![[r#"
            bot: Hi John, this is the virtual assistant at Main Street Auto Care. Our records show your 2019 Honda Civic is due for an oil change. Would you like to schedule it?
            sure
              State: slot_collection, Intent: schedule_appointment
            wednesday afternoon
            3
              State: confirmation, Intent: schedule_appointment
            yes
              State: execution, Intent: schedule_appointment
            !tool succeeded
              State: closing, Intent: schedule_appointment
            thanks
            summary: {
              "call_type": "outbound_service_due",
              "state": "closing",
              "intent": "schedule_appointment",
              "turn_count": 5,
              "collected_slots": {
                "service_type": "oil change",
                "preferred_date": "wednesday",
                "preferred_time": "3",
                "resolved_date": "2026-11-25",
                "resolved_time": "15:00",
                "vehicle": "2019 Honda Civic"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn outbound_service_due_declined() {
    check(
        create_outbound_service_due_manager(john(), civic(), "tire rotation", shop()),
        "no thanks not right now",
        expect![[r#"
            bot: Hi John, this is the virtual assistant at Main Street Auto Care. Our records show your 2019 Honda Civic is due for a tire rotation. Would you like to schedule it?
            no thanks not right now
              State: closing, Intent: schedule_appointment
            summary: {
              "call_type": "outbound_service_due",
              "state": "closing",
              "intent": "schedule_appointment",
              "turn_count": 1,
              "collected_slots": {
                "service_type": "tire rotation",
                "vehicle": "2019 Honda Civic"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn new_intent_after_closing_starts_again() {
    check(
        create_inbound_general_manager(None, shop()),
        "what are your hours
         thanks
         oh also how much is a battery replacement",
        expect![[r#"
            bot: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            what are your hours
              State: intent_detection, Intent: check_hours
              State: execution, Intent: check_hours
            thanks
              State: closing, Intent: check_hours
            oh also how much is a battery replacement
              State: execution, Intent: pricing_inquiry
            summary: {
              "call_type": "inbound_general",
              "state": "execution",
              "intent": "pricing_inquiry",
              "turn_count": 3,
              "collected_slots": {
                "service_type": "battery replacement"
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

#[test]
fn thanks_after_booking_does_not_reopen_it_but_a_change_does() {
    let mut manager = create_inbound_existing_manager("+15555550111", john(), shop());
    for turn in ["oil change friday at 10", "yes"] {
        manager.process_message(turn, now());
    }
    manager.record_tool_result(ToolResult::Succeeded);
    assert_eq!(
        manager.process_message("great thanks for booking that", now()),
        State::Closing
    );
    assert_eq!(
        manager.process_message("oh wait make it 11 instead", now()),
        State::Confirmation
    );
    assert_eq!(manager.process_message("yes", now()), State::Execution);
    let prompt = manager.get_system_prompt();
    assert!(
        prompt.contains("update that appointment instead of booking a second one"),
        "{prompt}"
    );
}

#[test]
fn escalated_state_is_terminal() {
    let mut manager = create_inbound_general_manager(None, shop());
    assert!(manager.should_escalate("get me a supervisor"));
    assert!(!manager.should_escalate("no need for a supervisor"));
    manager.process_message("get me a supervisor", now());
    assert_eq!(manager.state(), State::Escalation);
    assert_eq!(
        manager.record_tool_result(ToolResult::Succeeded),
        State::Escalation
    );
    assert_eq!(manager.on_silence_timeout(), State::Escalation);
    assert_eq!(
        manager.process_message("book an oil change", now()),
        State::Escalation
    );
    assert_eq!(manager.turn_count(), 2);
}

/// The LLM cancels as soon as it knows which appointment, before any read-back: the success
/// still closes the flow (found by replaying fixtures/calls/cancel).
#[test]
fn cancel_done_by_the_tool_during_slot_collection_closes_the_flow() {
    check(
        create_inbound_existing_manager("+14135550100", john(), shop()),
        "
        I need to cancel my appointment
        !tool succeeded
        ",
        expect![[r#"
            bot: Hi John, thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
            I need to cancel my appointment
              State: intent_detection, Intent: cancel_appointment
              State: confirmation, Intent: cancel_appointment
            !tool succeeded
              State: closing, Intent: cancel_appointment
            summary: {
              "call_type": "inbound_existing",
              "state": "closing",
              "intent": "cancel_appointment",
              "turn_count": 1,
              "collected_slots": {
                "service_type": "oil change",
                "appointment_id": 17
              },
              "escalation_triggered": false
            }
        "#]],
    );
}

/// Spelled values land in the slots, checked, and the prompt asks the agent to read them back.
#[test]
fn spelled_values_are_parsed_checked_and_read_back() {
    let mut manager = conversation::create_inbound_new_manager("+15551234567", crate::shop());
    manager.process_message("hi i need an oil change", crate::now());
    manager.process_message("my last name is spelled s as in sam m i t h", crate::now());
    manager.process_message(
        "and the vin is 2 h g f c 2 f 5 9 k h 5 0 0 1 4 2",
        crate::now(),
    );
    manager.process_message(
        "you can reach me at four one three, five five five, oh one hundred",
        crate::now(),
    );
    let slots = manager.slots();
    assert_eq!(slots.spelled_name.as_deref(), Some("Smith"));
    assert_eq!(slots.vin.as_deref(), Some("2HGFC2F59KH500142"));
    assert_eq!(slots.phone.as_deref(), Some("+14135550100"));
    let prompt = manager.get_system_prompt();
    assert!(prompt.contains("read it back: S, M, I, T, H"), "{prompt}");
    assert!(
        prompt.contains("read it back: 4 1 3, 5 5 5, 0 1 0 0"),
        "{prompt}"
    );
    assert!(prompt.contains("VIN: 2HGFC2F59KH500142"), "{prompt}");

    // A misheard character: the check digit fails and the agent asks again.
    manager.process_message(
        "sorry the vin is 2 h g f c 2 f 5 9 k h 5 0 0 1 4 3",
        crate::now(),
    );
    assert!(manager.slots().vin_misheard);
    assert!(
        manager.get_system_prompt().contains("does not check out"),
        "{}",
        manager.get_system_prompt()
    );
}

/// Relative days: "a week from today", "<weekday> next week".
#[test]
fn a_week_from_today_and_a_weekday_next_week() {
    for (said, date) in [
        ("can i come in a week from today", "2026-12-01"),
        ("lets do wednesday next week", "2026-12-02"),
        ("next wednesday works", "2026-12-02"),
        ("wednesday works", "2026-11-25"),
    ] {
        let mut manager = conversation::create_inbound_general_manager(None, crate::shop());
        manager.process_message(said, crate::now());
        assert_eq!(
            manager
                .slots()
                .resolved_date
                .map(|d| d.to_string())
                .as_deref(),
            Some(date),
            "{said:?}"
        );
    }
}
