//! Handing over to a person: the advisor's summary, message taking, voicemail, opening hours.

use chrono::Duration;
use conversation::{
    EscalationReason, MessageStep, MessageTaker, create_inbound_existing_manager,
    create_inbound_new_manager, create_outbound_reminder_manager,
};

use super::*;

const CLOSING: &str = "someone will call you back as soon as they can";

#[test]
fn the_advisor_hears_who_what_and_why() {
    let mut manager = create_inbound_existing_manager("+15555550111", john(), shop());
    manager.process_message("I need my brakes looked at tomorrow", now());
    manager.escalate_for(EscalationReason::ManagerRequest);
    let brief = manager.transfer_brief();
    assert_eq!(
        brief,
        "John Smith, an existing customer, calling from 5 5 5, 5 5 5, 0 1 1 1. \
         Vehicle: 2019 Honda Civic. Wants to book: brake service, tomorrow. \
         Handed over because they asked for a person."
    );

    let mut manager = create_inbound_new_manager("+15555550142", shop());
    manager.process_message("this is ridiculous I want to talk to a real person", now());
    let brief = manager.transfer_brief();
    assert!(
        brief.starts_with("A caller, calling from 5 5 5, 5 5 5, 0 1 4 2."),
        "{brief}"
    );
    assert!(brief.contains("Handed over because"), "{brief}");
}

#[test]
fn a_message_is_name_confirmed_number_and_reason() {
    let mut taker = MessageTaker::new(None, Some("+15555550142".to_owned()), CLOSING);
    assert_eq!(
        taker.start("Our advisor couldn't pick up."),
        "Our advisor couldn't pick up. I can take a message and have someone call you back. May I have your name?"
    );
    let reply = taker.hear("yeah it's maria lopez");
    assert_eq!(
        reply.say,
        "Is 5 5 5, 5 5 5, 0 1 4 2 the best number to reach you?"
    );
    assert!(!reply.done);
    let reply = taker.hear("yes that's fine");
    assert_eq!(reply.say, "And what would you like me to tell them?");
    let reply = taker.hear("the quote for the transmission seems way too high and I want someone to walk me through it");
    assert!(reply.done);
    assert_eq!(
        reply.say,
        "Thank you, Maria. I've passed your message on, and someone will call you back as soon as they can. Goodbye."
    );
    let message = taker.message();
    assert_eq!(message.name.as_deref(), Some("Maria Lopez"));
    assert_eq!(message.phone.as_deref(), Some("+15555550142"));
    assert!(
        message
            .message
            .as_deref()
            .unwrap()
            .starts_with("the quote for the transmission")
    );
}

#[test]
fn a_different_number_is_read_back_and_a_known_customer_is_not_asked_their_name() {
    let mut taker = MessageTaker::new(
        Some("John Smith".to_owned()),
        Some("+15555550111".to_owned()),
        CLOSING,
    );
    assert_eq!(taker.step(), MessageStep::ConfirmNumber);
    let reply = taker.hear("no call my cell");
    assert_eq!(reply.say, "What's the best number to reach you?");
    let reply = taker.hear("five five five five five five zero one nine nine");
    assert_eq!(
        reply.say,
        "Thanks, I have 5 5 5, 5 5 5, 0 1 9 9. And what would you like me to tell them?"
    );
    taker.hear("call me about the pickup time");
    assert_eq!(taker.message().phone.as_deref(), Some("+15555550199"));
    assert_eq!(taker.step(), MessageStep::Done);
}

#[test]
fn each_question_is_asked_at_most_twice() {
    // A withheld number and a recogniser that cannot follow: the agent still finishes.
    let mut taker = MessageTaker::new(None, None, CLOSING);
    assert_eq!(taker.step(), MessageStep::Name);
    let reply = taker.hear("uh");
    assert_eq!(
        reply.say,
        "Sorry, I didn't catch that. May I have your name?"
    );
    let reply = taker.hear("it's about my car at the");
    assert_eq!(reply.say, "What's the best number to reach you?");
    assert_eq!(
        taker.message().name.as_deref(),
        Some("it's about my car at the")
    );
    let reply = taker.hear("the usual one");
    assert_eq!(
        reply.say,
        "Sorry, I didn't catch that. Could you say the number digit by digit?"
    );
    let reply = taker.hear("the one on file");
    assert_eq!(
        reply.say,
        "I couldn't catch the number, so I'll pass on your message as it is. And what would you like me to tell them?"
    );
    assert_eq!(taker.message().phone, None);
    assert!(taker.hear("call me").done);
}

#[test]
fn a_number_turned_down_is_never_used_as_the_fallback() {
    let mut taker = MessageTaker::new(
        Some("John Smith".to_owned()),
        Some("+15555550111".to_owned()),
        CLOSING,
    );
    taker.hear("no that's my work line");
    taker.hear("hmm");
    let reply = taker.hear("the one on file");
    assert!(
        reply.say.starts_with("I couldn't catch the number"),
        "{}",
        reply.say
    );
    taker.hear("call me about the pickup");
    assert_eq!(taker.message().phone, None);
    assert_eq!(taker.step(), MessageStep::Done);

    // Not turned down, just not understood twice: the number they call from is kept.
    let mut taker = MessageTaker::new(
        Some("John Smith".to_owned()),
        Some("+15555550111".to_owned()),
        CLOSING,
    );
    taker.hear("hmm");
    taker.hear("what");
    assert_eq!(taker.message().phone.as_deref(), Some("+15555550111"));
}

#[test]
fn goodbye_ends_message_taking_politely() {
    let mut taker = MessageTaker::new(None, Some("+15555550142".to_owned()), CLOSING);
    let reply = taker.hear("never mind bye");
    assert!(reply.done);
    assert!(reply.say.starts_with("No problem."), "{}", reply.say);
}

#[test]
fn a_reminder_voicemail_says_who_why_and_how_to_call_back() {
    let manager = create_outbound_reminder_manager(john(), oil_change_appointment(), shop());
    assert_eq!(
        manager.voicemail().unwrap(),
        "Hi, this is the automated assistant at Main Street Auto Care with a message for John: \
         a reminder of your oil change appointment on Thursday, December 3rd at 2:00 PM. \
         To change it or ask us anything, please call us at 5 5 5, 5 5 5, 0 1 2 3. Thank you, goodbye."
    );
    assert_eq!(
        create_inbound_existing_manager("+15555550111", john(), shop()).voicemail(),
        None
    );
}

#[test]
fn open_hours_follow_the_weekly_hours_and_holidays() {
    let shop = shop();
    // Tuesday 10:00 New York.
    assert!(shop.is_open_at(now()));
    // 18:00 is closing time.
    assert!(!shop.is_open_at(now() + Duration::hours(8)));
    assert!(shop.is_open_at(now() + Duration::hours(8) - Duration::minutes(1)));
    // Before 08:00.
    assert!(!shop.is_open_at(now() - Duration::hours(3)));
    // Thanksgiving (Thursday), 10:00.
    assert!(!shop.is_open_at(now() + Duration::days(2)));
    // Sunday.
    assert!(!shop.is_open_at(now() + Duration::days(5)));

    // A shop that lists no hours is open but for its holidays.
    let mut unlisted = conversation::ShopConfig::default_shop();
    unlisted.hours = conversation::WeeklyHours([None; 7]);
    assert!(unlisted.is_open_at(now() + Duration::days(5)));
    assert!(unlisted.is_open_at(now() - Duration::hours(3)));
    assert!(!unlisted.is_open_at(now() + Duration::days(2)));
}

#[test]
fn asking_not_to_be_called_is_heard_and_other_words_are_not() {
    for said in [
        "please stop calling me",
        "Don't call me again.",
        "take me off your list",
        "can you remove my number from the list",
        "put me on your do not call list",
        "no more calls please",
        "never call this number again",
    ] {
        assert!(conversation::asks_not_to_be_called(said), "{said}");
    }
    for said in [
        "can you call me when the car is ready",
        "I'll call you back tomorrow",
        "don't call it a brake job yet",
        "stop the car from pulling left",
        "please call me back at this number",
    ] {
        assert!(!conversation::asks_not_to_be_called(said), "{said}");
    }
}
