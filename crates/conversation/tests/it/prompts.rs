//! System prompt and greeting snapshots.

use conversation::{
    ConversationManager, create_inbound_existing_manager, create_inbound_general_manager,
    create_inbound_new_manager, create_outbound_follow_up_manager,
    create_outbound_reminder_manager, create_outbound_service_due_manager,
};
use expect_test::{Expect, expect};

use crate::{civic, john, now, oil_change_appointment, past_brake_appointment, shop};

/// Plays the turns, then snapshots the prompt (and checks it is deterministic).
#[track_caller]
fn check(mut manager: ConversationManager, turns: &[&str], expect: Expect) {
    for turn in turns {
        manager.process_message(turn, now());
    }
    let prompt = manager.get_system_prompt();
    assert_eq!(prompt, manager.clone().get_system_prompt());
    expect.assert_eq(&prompt);
}

#[test]
fn inbound_new_at_greeting() {
    check(
        create_inbound_new_manager("+15555550142", shop()),
        &[],
        expect![[r#"
            You are the virtual receptionist of Main Street Auto Care, an auto repair shop, speaking with a caller on the phone.
            Your words are read aloud: answer in one or two short sentences, ask one question at a time, and use no lists, markdown, emoji or abbreviations.
            Say prices and times the way people say them. Use only the facts below; never invent prices, times, availability or repairs.
            If the caller asks for a person or threatens legal action, hand them to a service advisor with the hand_to_person tool; if they are upset or you cannot help, offer a service advisor and hand them over if they want one.

            Shop facts:
            - Address: 1200 Main Street, Springfield.
            - Phone: +15555550123.
            - Hours: Monday to Friday 8 AM to 6 PM; Saturday 9 AM to 2 PM; Sunday closed.
            - Closed on: Thanksgiving (Thursday, November 26, 2026); Christmas (Friday, December 25, 2026); New Year's Day (Friday, January 1, 2027).
            - Appointments start every 30 minutes; up to 3 can run at the same time.
            - Services, with usual price range and time:
              - oil change: $45 to $95, about 30 minutes
              - brake service: $150 to $450, about an hour and a half
              - tire rotation: $25 to $50, about 30 minutes
              - tire replacement: $120 to $900, about 1 hour
              - wheel alignment: $90 to $180, about 1 hour
              - battery replacement: $120 to $300, about 30 minutes
              - state inspection: $35 to $70, about 45 minutes
              - check engine light: $100 to $150, about 1 hour
              - ac service: $120 to $350, about 1 hour
              - transmission service: $180 to $400, about 2 hours
              - diagnostic: $90 to $150, about 1 hour

            This call:
            - The caller is not in our records yet. Before booking, ask for their name and their vehicle's year, make and model.

            What to do now:
            - Open the call with: "Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?"

            Collected so far:
            - nothing yet
        "#]],
    );
}

#[test]
fn inbound_existing_confirming_a_booking() {
    check(
        create_inbound_existing_manager("+15555550111", john(), shop()),
        &["i need an oil change tomorrow at 2pm"],
        expect![[r#"
            You are the virtual receptionist of Main Street Auto Care, an auto repair shop, speaking with a caller on the phone.
            Your words are read aloud: answer in one or two short sentences, ask one question at a time, and use no lists, markdown, emoji or abbreviations.
            Say prices and times the way people say them. Use only the facts below; never invent prices, times, availability or repairs.
            If the caller asks for a person or threatens legal action, hand them to a service advisor with the hand_to_person tool; if they are upset or you cannot help, offer a service advisor and hand them over if they want one.

            Shop facts:
            - Address: 1200 Main Street, Springfield.
            - Phone: +15555550123.
            - Hours: Monday to Friday 8 AM to 6 PM; Saturday 9 AM to 2 PM; Sunday closed.
            - Closed on: Thanksgiving (Thursday, November 26, 2026); Christmas (Friday, December 25, 2026); New Year's Day (Friday, January 1, 2027).
            - Appointments start every 30 minutes; up to 3 can run at the same time.
            - Services, with usual price range and time:
              - oil change: $45 to $95, about 30 minutes
              - brake service: $150 to $450, about an hour and a half
              - tire rotation: $25 to $50, about 30 minutes
              - tire replacement: $120 to $900, about 1 hour
              - wheel alignment: $90 to $180, about 1 hour
              - battery replacement: $120 to $300, about 30 minutes
              - state inspection: $35 to $70, about 45 minutes
              - check engine light: $100 to $150, about 1 hour
              - ac service: $120 to $350, about 1 hour
              - transmission service: $180 to $400, about 2 hours
              - diagnostic: $90 to $150, about 1 hour

            This call:
            - The caller is John Smith, an existing customer. Call them John.
            - Vehicle on file: 2019 Honda Civic, about 45,200 miles.
            - Upcoming appointment 17: an oil change on Thursday, December 3 at 2 PM for the 2019 Honda Civic.

            What to do now:
            - Read the details back and ask the caller to confirm: an oil change on Wednesday, November 25 at 2 PM.

            Collected so far:
            - service: oil change
            - date: Wednesday, November 25 (they said "tomorrow")
            - time: 2 PM (they said "2pm")
        "#]],
    );
}

#[test]
fn inbound_general_booking_on_a_holiday() {
    check(
        create_inbound_general_manager(None, shop()),
        &["can i get a state inspection on thanksgiving day thursday at 7 in the evening"],
        expect![[r#"
            You are the virtual receptionist of Main Street Auto Care, an auto repair shop, speaking with a caller on the phone.
            Your words are read aloud: answer in one or two short sentences, ask one question at a time, and use no lists, markdown, emoji or abbreviations.
            Say prices and times the way people say them. Use only the facts below; never invent prices, times, availability or repairs.
            If the caller asks for a person or threatens legal action, hand them to a service advisor with the hand_to_person tool; if they are upset or you cannot help, offer a service advisor and hand them over if they want one.

            Shop facts:
            - Address: 1200 Main Street, Springfield.
            - Phone: +15555550123.
            - Hours: Monday to Friday 8 AM to 6 PM; Saturday 9 AM to 2 PM; Sunday closed.
            - Closed on: Thanksgiving (Thursday, November 26, 2026); Christmas (Friday, December 25, 2026); New Year's Day (Friday, January 1, 2027).
            - Appointments start every 30 minutes; up to 3 can run at the same time.
            - Services, with usual price range and time:
              - oil change: $45 to $95, about 30 minutes
              - brake service: $150 to $450, about an hour and a half
              - tire rotation: $25 to $50, about 30 minutes
              - tire replacement: $120 to $900, about 1 hour
              - wheel alignment: $90 to $180, about 1 hour
              - battery replacement: $120 to $300, about 30 minutes
              - state inspection: $35 to $70, about 45 minutes
              - check engine light: $100 to $150, about 1 hour
              - ac service: $120 to $350, about 1 hour
              - transmission service: $180 to $400, about 2 hours
              - diagnostic: $90 to $150, about 1 hour

            This call:
            - The caller is not in our records yet. Before booking, ask for their name and their vehicle's year, make and model.

            What to do now:
            - Ask which day works for them.
            - We are closed on Thursday, November 26 (for Thanksgiving): tell the caller and offer another day. The next open day is Friday, November 27.

            Collected so far:
            - service: state inspection
            - date: Thursday, November 26 (they said "thursday")
            - time: 7 PM (they said "7 in the evening")
        "#]],
    );
}

#[test]
fn escalated() {
    check(
        create_inbound_general_manager(None, shop()),
        &["i want to talk to a real person"],
        expect![[r#"
            You are the virtual receptionist of Main Street Auto Care, an auto repair shop, speaking with a caller on the phone.
            Your words are read aloud: answer in one or two short sentences, ask one question at a time, and use no lists, markdown, emoji or abbreviations.
            Say prices and times the way people say them. Use only the facts below; never invent prices, times, availability or repairs.
            If the caller asks for a person or threatens legal action, hand them to a service advisor with the hand_to_person tool; if they are upset or you cannot help, offer a service advisor and hand them over if they want one.

            Shop facts:
            - Address: 1200 Main Street, Springfield.
            - Phone: +15555550123.
            - Hours: Monday to Friday 8 AM to 6 PM; Saturday 9 AM to 2 PM; Sunday closed.
            - Closed on: Thanksgiving (Thursday, November 26, 2026); Christmas (Friday, December 25, 2026); New Year's Day (Friday, January 1, 2027).
            - Appointments start every 30 minutes; up to 3 can run at the same time.
            - Services, with usual price range and time:
              - oil change: $45 to $95, about 30 minutes
              - brake service: $150 to $450, about an hour and a half
              - tire rotation: $25 to $50, about 30 minutes
              - tire replacement: $120 to $900, about 1 hour
              - wheel alignment: $90 to $180, about 1 hour
              - battery replacement: $120 to $300, about 30 minutes
              - state inspection: $35 to $70, about 45 minutes
              - check engine light: $100 to $150, about 1 hour
              - ac service: $120 to $350, about 1 hour
              - transmission service: $180 to $400, about 2 hours
              - diagnostic: $90 to $150, about 1 hour

            This call:
            - The caller is not in our records yet. Before booking, ask for their name and their vehicle's year, make and model.

            What to do now:
            - Escalation (manager_request): tell the caller you are connecting them with a service advisor now. Do not try to solve the issue yourself, and do not argue.

            Collected so far:
            - nothing yet
        "#]],
    );
}

#[test]
fn greetings() {
    let managers = [
        create_inbound_new_manager("+15555550142", shop()),
        create_inbound_existing_manager("+15555550111", john(), shop()),
        create_inbound_general_manager(None, shop()),
        create_outbound_reminder_manager(john(), oil_change_appointment(), shop()),
        create_outbound_follow_up_manager(john(), past_brake_appointment(), shop()),
        create_outbound_service_due_manager(john(), civic(), "oil change", shop()),
    ];
    let greetings: Vec<String> = managers
        .iter()
        .map(|m| format!("{}: {}", m.call_type(), m.greeting()))
        .collect();
    expect![[r#"
        inbound_new: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
        inbound_existing: Hi John, thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
        inbound_general: Thanks for calling Main Street Auto Care. This is the virtual assistant. How can I help you today?
        outbound_reminder: Hi John, this is the virtual assistant at Main Street Auto Care, calling to remind you of your oil change appointment on Thursday, December 3 at 2 PM. Will you still be able to make it?
        outbound_follow_up: Hi John, this is the virtual assistant at Main Street Auto Care, following up on the brake service we did on your 2019 Honda Civic on Monday, November 23. How is everything running?
        outbound_service_due: Hi John, this is the virtual assistant at Main Street Auto Care. Our records show your 2019 Honda Civic is due for an oil change. Would you like to schedule it?"#]].assert_eq(&greetings.join("\n"));
}

#[test]
fn outbound_reminder_call_part() {
    let manager = create_outbound_reminder_manager(john(), oil_change_appointment(), shop());
    let prompt = manager.get_system_prompt();
    let call_part: String = prompt
        .lines()
        .skip_while(|line| *line != "This call:")
        .collect::<Vec<_>>()
        .join("\n");
    expect![[r#"
        This call:
        - The caller is John Smith, an existing customer. Call them John.
        - Vehicle on file: 2019 Honda Civic, about 45,200 miles.
        - Upcoming appointment 17: an oil change on Thursday, December 3 at 2 PM for the 2019 Honda Civic.
        - We called to remind them of appointment 17: an oil change on Thursday, December 3 at 2 PM for the 2019 Honda Civic. If they cannot make it, offer to reschedule or cancel it.

        What to do now:
        - Open the call with: "Hi John, this is the virtual assistant at Main Street Auto Care, calling to remind you of your oil change appointment on Thursday, December 3 at 2 PM. Will you still be able to make it?"

        Collected so far:
        - service: oil change
        - appointment 17: an oil change on Thursday, December 3 at 2 PM for the 2019 Honda Civic"#]].assert_eq(&call_part);
}

/// Only the guidance and the slots, for the state-specific parts.
#[track_caller]
fn check_guidance(mut manager: ConversationManager, turns: &[&str], expect: Expect) {
    for turn in turns {
        manager.process_message(turn, now());
    }
    let prompt = manager.get_system_prompt();
    let guidance: Vec<&str> = prompt
        .lines()
        .skip_while(|line| *line != "What to do now:")
        .collect();
    expect.assert_eq(&guidance.join("\n"));
}

#[test]
fn guidance_reschedule_read_back() {
    check_guidance(
        create_inbound_existing_manager("+15555550111", john(), shop()),
        &["can i move my appointment to friday the 4th at 11:30"],
        expect![[r#"
            What to do now:
            - Read the details back and ask the caller to confirm: move an oil change on Thursday, December 3 at 2 PM for the 2019 Honda Civic to Friday, December 4 at 11:30 AM.

            Collected so far:
            - service: oil change
            - date: Friday, December 4 (they said "4th")
            - time: 11:30 AM (they said "11:30")
            - appointment 17: an oil change on Thursday, December 3 at 2 PM for the 2019 Honda Civic"#]],
    );
}

#[test]
fn guidance_new_caller_name_question() {
    check_guidance(
        create_inbound_new_manager("+15555550142", shop()),
        &["i need an alignment monday at 9"],
        expect![[r#"
            What to do now:
            - Ask for their first and last name.

            Collected so far:
            - service: wheel alignment
            - date: Monday, November 30 (they said "monday")
            - time: 9 AM (they said "9")"#]],
    );
}

#[test]
fn guidance_price_question_mid_booking() {
    check_guidance(
        create_inbound_new_manager("+15555550142", shop()),
        &["i need an alignment monday morning", "how much is that"],
        expect![[r#"
            What to do now:
            - Give the price range for wheel alignment from the shop facts, and say the exact price depends on the vehicle.
            - Then go back to booking their appointment, which the caller started earlier.
            - Then ask whether there is anything else.

            Collected so far:
            - service: wheel alignment
            - date: Monday, November 30 (they said "monday")
            - time: sometime in the morning"#]],
    );
}

#[test]
fn guidance_time_outside_hours_and_silence() {
    let mut manager = create_inbound_existing_manager("+15555550111", john(), shop());
    manager.process_message("battery replacement saturday at 4", now());
    manager.on_silence_timeout();
    check_guidance(
        manager,
        &[],
        expect![[r#"
        What to do now:
        - The caller has gone quiet. Ask whether they are still there.
        - Ask what time works for them.
        - 4 PM is outside our hours on Saturday, November 28 (9 AM to 2 PM): offer a time within them.

        Collected so far:
        - service: battery replacement
        - date: Saturday, November 28 (they said "saturday")
        - time: 4 PM (they said "4")"#]],
    );
}

#[test]
fn guidance_outbound_reminder_cancel() {
    check_guidance(
        create_outbound_reminder_manager(john(), oil_change_appointment(), shop()),
        &["no i need to cancel it"],
        expect![[r#"
            What to do now:
            - Read the details back and ask the caller to confirm: cancel an oil change on Thursday, December 3 at 2 PM for the 2019 Honda Civic.

            Collected so far:
            - service: oil change
            - appointment 17: an oil change on Thursday, December 3 at 2 PM for the 2019 Honda Civic"#]],
    );
}
