//! Single phone-style utterances through a fresh `inbound_general` conversation.

use std::fmt::Write as _;

use chrono::{DateTime, TimeZone, Utc};
use conversation::{ConversationManager, create_inbound_general_manager};
use expect_test::{Expect, expect};

use crate::{now, shop};

/// One line per utterance: what a fresh conversation made of it.
#[track_caller]
fn check_at(at: DateTime<Utc>, utterances: &[&str], expect: Expect) {
    let mut res = String::new();
    for utterance in utterances {
        let mut manager = create_inbound_general_manager(None, shop());
        manager.process_message(utterance, at);
        writeln!(res, "{utterance:?} => {}", describe(&manager)).unwrap();
    }
    expect.assert_eq(&res);
}

#[track_caller]
fn check(utterances: &[&str], expect: Expect) {
    check_at(now(), utterances, expect);
}

fn describe(manager: &ConversationManager) -> String {
    let mut parts = Vec::new();
    if let Some(intent) = manager.intent() {
        parts.push(format!("intent={intent}"));
    }
    if let Some(reason) = manager.escalation_reason() {
        parts.push(format!("escalation={reason}"));
    }
    let slots = manager.slots();
    if let Some(service) = &slots.service_type {
        parts.push(format!("service={service}"));
    }
    if let Some(heard) = &slots.preferred_date {
        let resolved = slots
            .resolved_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "?".into());
        parts.push(format!("date={resolved} ({heard})"));
    }
    if let Some(heard) = &slots.preferred_time {
        let resolved = match (slots.resolved_time, slots.time_period) {
            (Some(time), _) => time.format("%H:%M").to_string(),
            (None, Some(period)) => period.to_string(),
            (None, None) => "?".into(),
        };
        parts.push(format!("time={resolved} ({heard})"));
    }
    if let Some(name) = &slots.customer_name {
        parts.push(format!("name={name}"));
    }
    if let Some(vehicle) = &slots.vehicle {
        parts.push(format!("vehicle={vehicle}"));
    }
    if parts.is_empty() {
        parts.push("nothing".to_owned());
    }
    parts.join(" ")
}

#[test]
fn schedule_requests() {
    check(
        &[
            "Hi, I need to schedule an oil change",
            "yeah hi um i was wondering if i could book an appointment",
            "i need to bring my car in",
            "can you guys fit me in sometime this week",
            "do you have any openings on friday",
            "id like to make an appointment for my wife's car",
            "hey so my check engine light came on and i want to get it in",
            "i need brake service",
            "uh yeah my car is making a weird noise when i turn",
            "can i drop my truck off tomorrow morning",
            "is there any availability saturday",
            "i wanna set up a time for a state inspection",
        ],
        expect![[r#"
            "Hi, I need to schedule an oil change" => intent=schedule_appointment service=oil change
            "yeah hi um i was wondering if i could book an appointment" => intent=schedule_appointment
            "i need to bring my car in" => intent=schedule_appointment
            "can you guys fit me in sometime this week" => intent=schedule_appointment
            "do you have any openings on friday" => intent=schedule_appointment date=2026-11-27 (friday)
            "id like to make an appointment for my wife's car" => intent=schedule_appointment
            "hey so my check engine light came on and i want to get it in" => intent=schedule_appointment service=check engine light
            "i need brake service" => intent=schedule_appointment service=brake service
            "uh yeah my car is making a weird noise when i turn" => intent=schedule_appointment service=diagnostic
            "can i drop my truck off tomorrow morning" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=morning (morning)
            "is there any availability saturday" => intent=schedule_appointment date=2026-11-28 (saturday)
            "i wanna set up a time for a state inspection" => intent=schedule_appointment service=state inspection
        "#]],
    );
}

#[test]
fn reschedule_and_cancel_requests() {
    check(
        &[
            "i need to reschedule my appointment",
            "can we move my appointment to next monday",
            "hi yeah i cant make it tomorrow can we do a different day",
            "something came up and i wont be able to make it thursday",
            "could you push it back to the afternoon",
            "is it possible to change my appointment time",
            "i need to cancel my appointment",
            "yeah go ahead and cancel the oil change",
            "please cancel it we sold the car",
            "i dont want to cancel i just want to reschedule",
            "can i call off the brake job for friday",
            // A cancellation reported or asked about is no cancel.
            "did my appointment get cancelled",
            "i think you guys cancelled my appointment is it still on",
            "i got a text that my appointment was cancelled whats going on",
            "go ahead and cancel my appointment for thursday",
            "i was wondering if you could cancel my appointment",
            "can you have someone cancel my appointment",
            "i wanted to see if my appointment could get cancelled",
        ],
        expect![[r#"
            "i need to reschedule my appointment" => intent=reschedule_appointment
            "can we move my appointment to next monday" => intent=reschedule_appointment date=2026-11-30 (next monday)
            "hi yeah i cant make it tomorrow can we do a different day" => intent=reschedule_appointment date=2026-11-25 (tomorrow)
            "something came up and i wont be able to make it thursday" => intent=reschedule_appointment date=2026-11-26 (thursday)
            "could you push it back to the afternoon" => intent=reschedule_appointment time=afternoon (afternoon)
            "is it possible to change my appointment time" => intent=reschedule_appointment
            "i need to cancel my appointment" => intent=cancel_appointment
            "yeah go ahead and cancel the oil change" => intent=cancel_appointment service=oil change
            "please cancel it we sold the car" => intent=cancel_appointment
            "i dont want to cancel i just want to reschedule" => intent=reschedule_appointment
            "can i call off the brake job for friday" => intent=cancel_appointment service=brake service date=2026-11-27 (friday)
            "did my appointment get cancelled" => intent=check_status
            "i think you guys cancelled my appointment is it still on" => intent=check_status
            "i got a text that my appointment was cancelled whats going on" => intent=check_status
            "go ahead and cancel my appointment for thursday" => intent=cancel_appointment date=2026-11-26 (thursday)
            "i was wondering if you could cancel my appointment" => intent=cancel_appointment
            "can you have someone cancel my appointment" => intent=cancel_appointment
            "i wanted to see if my appointment could get cancelled" => intent=cancel_appointment
        "#]],
    );
}

#[test]
fn information_requests() {
    check(
        &[
            "What are your hours?",
            "hey are you guys open on saturday",
            "what time do you close today",
            "how late are you open tonight",
            "are you open thanksgiving",
            "when do you open tomorrow morning",
            "how much is an oil change",
            "what do you charge for a brake job",
            "can i get a quote on four new tires",
            "ballpark how much for an alignment",
            "um how much does a diagnostic cost",
            "is my car ready yet",
            "hi im calling to check on the status of my truck",
            "when can i pick up my car",
            "are you guys done with my car",
            "any update on the civic",
            "do you guys work on diesels",
            "where are you located",
            "do you have loaner cars",
            "how long does an oil change take",
            "do you take credit cards",
            "i had a question about my bill",
        ],
        expect![[r#"
            "What are your hours?" => intent=check_hours
            "hey are you guys open on saturday" => intent=check_hours date=2026-11-28 (saturday)
            "what time do you close today" => intent=check_hours date=2026-11-24 (today)
            "how late are you open tonight" => intent=check_hours date=2026-11-24 (tonight) time=evening (tonight)
            "are you open thanksgiving" => intent=check_hours date=2026-11-26 (thanksgiving)
            "when do you open tomorrow morning" => intent=check_hours date=2026-11-25 (tomorrow) time=morning (morning)
            "how much is an oil change" => intent=pricing_inquiry service=oil change
            "what do you charge for a brake job" => intent=pricing_inquiry service=brake service
            "can i get a quote on four new tires" => intent=pricing_inquiry service=tire replacement
            "ballpark how much for an alignment" => intent=pricing_inquiry service=wheel alignment
            "um how much does a diagnostic cost" => intent=pricing_inquiry service=diagnostic
            "is my car ready yet" => intent=check_status
            "hi im calling to check on the status of my truck" => intent=check_status
            "when can i pick up my car" => intent=check_status
            "are you guys done with my car" => intent=check_status
            "any update on the civic" => intent=check_status
            "do you guys work on diesels" => intent=general_inquiry
            "where are you located" => intent=general_inquiry
            "do you have loaner cars" => intent=general_inquiry
            "how long does an oil change take" => intent=general_inquiry service=oil change
            "do you take credit cards" => intent=general_inquiry
            "i had a question about my bill" => nothing
        "#]],
    );
}

#[test]
fn no_intent() {
    check(
        &[
            "hello",
            "um yeah hi",
            "sorry can you repeat that",
            "hold on a second",
            "uh what",
        ],
        expect![[r#"
            "hello" => nothing
            "um yeah hi" => nothing
            "sorry can you repeat that" => nothing
            "hold on a second" => nothing
            "uh what" => nothing
        "#]],
    );
}

#[test]
fn service_phrases_in_speech() {
    check(
        &[
            "my brakes are squeaking pretty bad",
            "i think i need new tires before winter",
            "can you rotate my tires",
            "the car pulls to the right on the highway",
            "my car wont start i think its the battery",
            "i need my inspection sticker done",
            "the check engine light is on",
            "the a c is blowing warm air",
            "i need my ac recharged its just blowing warm air",
            "the transmission is slipping gears",
            "its overheating on the highway",
            "not sure whats wrong with it honestly",
            "i need a lube job and also rotate the tires",
            "got a flat tire",
            "can you do a synthetic oil change on a 2018 toyota camry",
            "i need an emissions test",
        ],
        expect![[r#"
            "my brakes are squeaking pretty bad" => intent=schedule_appointment service=brake service
            "i think i need new tires before winter" => intent=schedule_appointment service=tire replacement
            "can you rotate my tires" => intent=schedule_appointment service=tire rotation
            "the car pulls to the right on the highway" => intent=schedule_appointment service=wheel alignment
            "my car wont start i think its the battery" => intent=schedule_appointment service=battery replacement
            "i need my inspection sticker done" => intent=schedule_appointment service=state inspection
            "the check engine light is on" => service=check engine light
            "the a c is blowing warm air" => intent=schedule_appointment service=ac service
            "i need my ac recharged its just blowing warm air" => intent=schedule_appointment service=ac service
            "the transmission is slipping gears" => intent=schedule_appointment service=transmission service
            "its overheating on the highway" => intent=schedule_appointment service=diagnostic
            "not sure whats wrong with it honestly" => intent=check_status service=diagnostic
            "i need a lube job and also rotate the tires" => intent=schedule_appointment service=oil change
            "got a flat tire" => intent=schedule_appointment service=tire replacement
            "can you do a synthetic oil change on a 2018 toyota camry" => intent=schedule_appointment service=oil change vehicle=2018 Toyota Camry
            "i need an emissions test" => intent=schedule_appointment service=state inspection
        "#]],
    );
}

#[test]
fn every_catalog_synonym_maps_to_its_service() {
    let shop = shop();
    let mut n_checked = 0;
    for service in &shop.services {
        for phrase in std::iter::once(&service.name).chain(&service.synonyms) {
            for template in ["um yeah i need {} please", "so {} and thats it", "{}"] {
                let utterance = template.replace("{}", phrase);
                let mut manager = create_inbound_general_manager(None, shop.clone());
                manager.process_message(&utterance, now());
                assert_eq!(
                    manager.slots().service_type.as_deref(),
                    Some(service.name.as_str()),
                    "{utterance:?}"
                );
                n_checked += 1;
            }
        }
    }
    assert!(n_checked > 200, "{n_checked}");
}

#[test]
fn dates() {
    check(
        &[
            "can i come in today",
            "tomorrow works",
            "how about the day after tomorrow",
            "i can do wednesday",
            "uh thursday",
            "friday if you have it",
            "saturday morning",
            "sunday",
            "monday",
            "next monday",
            "next friday please",
            "this saturday",
            "this coming tuesday",
            "on the twenty eighth",
            "the 30th",
            "the first",
            "the third",
            "december third",
            "december 3rd at 2",
            "the 8th of december",
            "january fifth",
            "12/8",
            "1/4",
            "11/2",
            "12/08/2027",
            "february thirtieth",
            "this afternoon",
            "tonight",
        ],
        expect![[r#"
            "can i come in today" => intent=schedule_appointment date=2026-11-24 (today)
            "tomorrow works" => date=2026-11-25 (tomorrow)
            "how about the day after tomorrow" => intent=check_hours date=2026-11-26 (day after tomorrow)
            "i can do wednesday" => intent=schedule_appointment date=2026-11-25 (wednesday)
            "uh thursday" => date=2026-11-26 (thursday)
            "friday if you have it" => date=2026-11-27 (friday)
            "saturday morning" => intent=schedule_appointment date=2026-11-28 (saturday) time=morning (morning)
            "sunday" => intent=check_hours date=2026-11-29 (sunday)
            "monday" => date=2026-11-30 (monday)
            "next monday" => intent=schedule_appointment date=2026-11-30 (next monday)
            "next friday please" => date=2026-12-04 (next friday)
            "this saturday" => intent=schedule_appointment date=2026-11-28 (this saturday)
            "this coming tuesday" => date=2026-12-01 (this coming tuesday)
            "on the twenty eighth" => intent=check_hours date=2026-11-28 (28th)
            "the 30th" => date=2026-11-30 (30th)
            "the first" => date=2026-12-01 (1st)
            "the third" => date=2026-12-03 (3rd)
            "december third" => intent=schedule_appointment date=2026-12-03 (december 3rd)
            "december 3rd at 2" => intent=schedule_appointment date=2026-12-03 (december 3rd) time=14:00 (2)
            "the 8th of december" => date=2026-12-08 (8th of december)
            "january fifth" => date=2027-01-05 (january 5th)
            "12/8" => date=2026-12-08 (12/8)
            "1/4" => date=2027-01-04 (1/4)
            "11/2" => date=2027-11-02 (11/2)
            "12/08/2027" => date=2027-12-08 (12/08/2027)
            "february thirtieth" => date=? (february 30th)
            "this afternoon" => intent=schedule_appointment date=2026-11-24 (this afternoon) time=afternoon (afternoon)
            "tonight" => date=2026-11-24 (tonight) time=evening (tonight)
        "#]],
    );
}

/// The day and time asked for, not the ones being moved away from or only mentioned.
#[test]
fn days_and_times_moved_away_from_or_only_mentioned() {
    check(
        &[
            "instead of tomorrow at eight can you put me down for monday",
            "rather than tomorrow at eight could you do tomorrow at eleven",
            "cant make my ten oclock is there anything later that day like three",
            "wednesday at nine isnt gonna work anymore is there anything saturday",
            "my appointments at ten tomorrow can it be two instead same day",
            "hey can we do ten instead of eight tomorrow",
            "id rather do it saturday if thats open instead of the wednesday slot",
            "cancel my appointment for tomorrow",
            "is the shop open the day after thanksgiving",
            "do you close early the day before new years",
            "anything open two weeks from tomorrow",
            "yall open monday through friday",
            "before our trip on the sixth can i come in friday",
            "the first one needs an oil change can i drop it at seven tomorrow",
            "morning could i get in tomorrow at half past three",
            "i brought it in first thing this morning can i come by for it at three",
            "whats it gonna run me for four new tires",
        ],
        expect![[r#"
            "instead of tomorrow at eight can you put me down for monday" => intent=reschedule_appointment date=2026-11-30 (monday)
            "rather than tomorrow at eight could you do tomorrow at eleven" => intent=reschedule_appointment date=2026-11-25 (tomorrow) time=11:00 (11)
            "cant make my ten oclock is there anything later that day like three" => intent=reschedule_appointment time=15:00 (3)
            "wednesday at nine isnt gonna work anymore is there anything saturday" => intent=reschedule_appointment date=2026-11-28 (saturday)
            "my appointments at ten tomorrow can it be two instead same day" => intent=reschedule_appointment date=2026-11-25 (tomorrow) time=14:00 (2)
            "hey can we do ten instead of eight tomorrow" => intent=reschedule_appointment date=2026-11-25 (tomorrow) time=10:00 (10)
            "id rather do it saturday if thats open instead of the wednesday slot" => intent=reschedule_appointment date=2026-11-28 (saturday)
            "cancel my appointment for tomorrow" => intent=cancel_appointment date=2026-11-25 (tomorrow)
            "is the shop open the day after thanksgiving" => intent=check_hours date=2026-11-27 (the day after thanksgiving)
            "do you close early the day before new years" => intent=check_hours date=2026-12-31 (the day before new years)
            "anything open two weeks from tomorrow" => intent=schedule_appointment date=2026-12-09 (2 weeks from tomorrow)
            "yall open monday through friday" => intent=check_hours
            "before our trip on the sixth can i come in friday" => intent=schedule_appointment date=2026-11-27 (friday)
            "the first one needs an oil change can i drop it at seven tomorrow" => intent=schedule_appointment service=oil change date=2026-11-25 (tomorrow) time=07:00 (7)
            "morning could i get in tomorrow at half past three" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=15:30 (half past 3)
            "i brought it in first thing this morning can i come by for it at three" => intent=check_status time=15:00 (3)
            "whats it gonna run me for four new tires" => intent=pricing_inquiry service=tire replacement
        "#]],
    );
}

#[test]
fn dates_across_a_month_boundary() {
    // Monday 2026-11-30, 9:00 in New York.
    let at = Utc.with_ymd_and_hms(2026, 11, 30, 14, 0, 0).unwrap();
    check_at(
        at,
        &[
            "tomorrow",
            "the day after tomorrow",
            "wednesday",
            "next monday",
            "this monday",
            "the 28th",
            "the 2nd",
            "november 29th",
            "12/1",
        ],
        expect![[r#"
            "tomorrow" => intent=schedule_appointment date=2026-12-01 (tomorrow)
            "the day after tomorrow" => intent=check_hours date=2026-12-02 (day after tomorrow)
            "wednesday" => intent=schedule_appointment date=2026-12-02 (wednesday)
            "next monday" => intent=schedule_appointment date=2026-12-07 (next monday)
            "this monday" => date=2026-11-30 (this monday)
            "the 28th" => date=2026-12-28 (28th)
            "the 2nd" => date=2026-12-02 (2nd)
            "november 29th" => date=2027-11-29 (november 29th)
            "12/1" => date=2026-12-01 (12/1)
        "#]],
    );
}

#[test]
fn dates_around_thanksgiving_and_new_year() {
    // Wednesday 2026-11-25, 23:30 in New York is already Thursday in UTC.
    let late_evening = Utc.with_ymd_and_hms(2026, 11, 26, 4, 30, 0).unwrap();
    check_at(
        late_evening,
        &["today", "tomorrow", "thursday"],
        expect![[r#"
            "today" => date=2026-11-25 (today)
            "tomorrow" => intent=schedule_appointment date=2026-11-26 (tomorrow)
            "thursday" => date=2026-11-26 (thursday)
        "#]],
    );
    // Thursday 2026-12-31, 11:00 in New York.
    let new_years_eve = Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap();
    check_at(
        new_years_eve,
        &[
            "tomorrow",
            "friday",
            "the 2nd",
            "january 4th",
            "12/31",
            "12/30",
        ],
        expect![[r#"
            "tomorrow" => intent=schedule_appointment date=2027-01-01 (tomorrow)
            "friday" => date=2027-01-01 (friday)
            "the 2nd" => date=2027-01-02 (2nd)
            "january 4th" => date=2027-01-04 (january 4th)
            "12/31" => date=2026-12-31 (12/31)
            "12/30" => date=2027-12-30 (12/30)
        "#]],
    );
}

#[test]
fn times() {
    check(
        &[
            "2pm",
            "at 2 p.m.",
            "two pm works",
            "2:30",
            "two thirty",
            "eleven thirty",
            "around 9",
            "at three",
            "noon",
            "lunchtime",
            "10 in the morning",
            "ten in the morning",
            "7:30 tomorrow morning",
            "seven thirty tomorrow morning",
            "4 oclock",
            "half past two",
            "quarter to five",
            "quarter past 8",
            "quarter to one",
            "morning",
            "sometime in the afternoon",
            "first thing in the morning",
            "after lunch",
            "12 pm",
            "9 am",
            "14:30",
            "good morning i need to come in at 2",
            "its been about 3 weeks since my oil change",
            "tomorrow at 6",
            "oh wait make it 11 instead",
            "can we do 3",
            "i need to replace 2 tires",
        ],
        expect![[r#"
            "2pm" => time=14:00 (2pm)
            "at 2 p.m." => intent=schedule_appointment time=14:00 (2 pm)
            "two pm works" => time=14:00 (2 pm)
            "2:30" => time=14:30 (2:30)
            "two thirty" => time=14:30 (2 30)
            "eleven thirty" => time=11:30 (11 30)
            "around 9" => time=09:00 (9)
            "at three" => intent=schedule_appointment time=15:00 (3)
            "noon" => time=12:00 (noon)
            "lunchtime" => time=12:00 (lunchtime)
            "10 in the morning" => time=10:00 (10 in the morning)
            "ten in the morning" => time=10:00 (10 in the morning)
            "7:30 tomorrow morning" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=07:30 (7:30)
            "seven thirty tomorrow morning" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=07:30 (7 30)
            "4 oclock" => time=16:00 (4 oclock)
            "half past two" => intent=schedule_appointment time=14:30 (half past 2)
            "quarter to five" => time=16:45 (quarter to 5)
            "quarter past 8" => time=08:15 (quarter past 8)
            "quarter to one" => time=12:45 (quarter to 1)
            "morning" => time=morning (morning)
            "sometime in the afternoon" => intent=schedule_appointment time=afternoon (afternoon)
            "first thing in the morning" => intent=schedule_appointment time=morning (morning)
            "after lunch" => time=afternoon (after lunch)
            "12 pm" => time=12:00 (12 pm)
            "9 am" => time=09:00 (9 am)
            "14:30" => time=14:30 (14:30)
            "good morning i need to come in at 2" => intent=schedule_appointment time=14:00 (2)
            "its been about 3 weeks since my oil change" => intent=schedule_appointment service=oil change
            "tomorrow at 6" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=18:00 (6)
            "oh wait make it 11 instead" => intent=reschedule_appointment time=11:00 (11)
            "can we do 3" => intent=reschedule_appointment time=15:00 (3)
            "i need to replace 2 tires" => intent=schedule_appointment service=tire replacement
        "#]],
    );
}

#[test]
fn names_and_vehicles() {
    check(
        &[
            "hi my name is maria garcia",
            "this is john smith calling about my car",
            "this is ridiculous",
            "its a 2019 honda civic",
            "i drive a twenty nineteen toyota camry",
            "my chevy silverado needs brakes",
            "the ford is making a noise",
            "call me dave",
        ],
        expect![[r#"
            "hi my name is maria garcia" => name=Maria Garcia
            "this is john smith calling about my car" => intent=check_status name=John Smith
            "this is ridiculous" => escalation=anger
            "its a 2019 honda civic" => vehicle=2019 Honda Civic
            "i drive a twenty nineteen toyota camry" => vehicle=2019 Toyota Camry
            "my chevy silverado needs brakes" => intent=schedule_appointment service=brake service vehicle=Chevrolet Silverado
            "the ford is making a noise" => service=diagnostic vehicle=Ford
            "call me dave" => name=Dave
        "#]],
    );
}

#[test]
fn escalation_requests() {
    check(
        &[
            "I want to speak to a manager",
            "can i talk to a real person please",
            "let me talk to a human",
            "are you a robot i want a human not a robot",
            "get me the owner",
            "can you transfer me to the front desk",
            "i need to speak with a service advisor",
            "operator",
            "is there a supervisor i can talk to",
            "i want to talk to someone",
            "put somebody on who can actually book me",
            "you charged me for work i never got and im taking you to court over it",
            "im gonna sue you guys",
        ],
        expect![[r#"
            "I want to speak to a manager" => escalation=manager_request
            "can i talk to a real person please" => escalation=manager_request
            "let me talk to a human" => escalation=manager_request
            "are you a robot i want a human not a robot" => escalation=manager_request
            "get me the owner" => escalation=manager_request
            "can you transfer me to the front desk" => escalation=manager_request
            "i need to speak with a service advisor" => escalation=manager_request
            "operator" => escalation=manager_request
            "is there a supervisor i can talk to" => escalation=manager_request
            "i want to talk to someone" => escalation=manager_request
            "put somebody on who can actually book me" => intent=schedule_appointment escalation=manager_request
            "you charged me for work i never got and im taking you to court over it" => escalation=legal_threat
            "im gonna sue you guys" => escalation=legal_threat
        "#]],
    );
}

#[test]
fn anger() {
    check(
        &[
            "this is ridiculous",
            "you people are useless",
            "what the hell is going on with my car",
            "im so frustrated right now",
            "this is the worst service ive ever had",
            "damn it you charged me twice",
            "are you kidding me",
            "youre not listening to me",
            "im sick and tired of waiting",
            "this is unacceptable",
        ],
        expect![[r#"
            "this is ridiculous" => escalation=anger
            "you people are useless" => escalation=anger
            "what the hell is going on with my car" => intent=check_status escalation=anger
            "im so frustrated right now" => escalation=anger
            "this is the worst service ive ever had" => escalation=anger
            "damn it you charged me twice" => escalation=anger
            "are you kidding me" => escalation=anger
            "youre not listening to me" => escalation=anger
            "im sick and tired of waiting" => escalation=anger
            "this is unacceptable" => escalation=anger
        "#]],
    );
}

#[test]
fn legal_threats() {
    check(
        &[
            "i am going to sue you",
            "my lawyer will be calling you",
            "ill report you to the better business bureau",
            "im filing a complaint with the bbb",
            "see you in small claims court",
            "my attorney says you owe me",
        ],
        expect![[r#"
            "i am going to sue you" => escalation=legal_threat
            "my lawyer will be calling you" => escalation=legal_threat
            "ill report you to the better business bureau" => escalation=legal_threat
            "im filing a complaint with the bbb" => escalation=legal_threat
            "see you in small claims court" => escalation=legal_threat
            "my attorney says you owe me" => escalation=legal_threat
        "#]],
    );
}

/// What these hold is that none escalates. Their intents are recorded as they are: three moved
/// when the learned model (`learned.rs`) was retrained with round nine's lines, and are wrong
/// now ("my manager said i could leave early for my appointment" is no booking, "someone from
/// management ... sorted it out" no status check, "i was quoted like three fifty for brakes"
/// a price, not a booking); the model's confidence on short lines is the next thing to fix.
#[test]
fn escalation_false_alarms() {
    check(
        &[
            "no need for a manager i just need an oil change",
            "i dont need to talk to a manager just want to know your hours",
            "the human resources department called about my car",
            "the owners manual says i need a tire rotation",
            "the previous owner never changed the oil",
            "my manager said i could leave early for my appointment",
            "this is probably a stupid question but do you do alignments",
            "im not upset at all just want to reschedule",
            "my wife sue dropped the car off",
            "this is sue",
            "it makes a terrible noise when i brake",
            "no worries",
            "that was a hell of a drive",
            "i left the keys at the front desk yesterday",
            "my name is sue sue patterson",
            "sorry some idiot just cut me off ok go ahead",
            "damn this traffic sorry not you",
            "im the fleet manager over at riverside electric",
            "the manager at the tire place across the street told me you do alignments",
            "i talked to my lawyer about the accident its handled i just need the car looked at",
            "this is gonna sound dumb but the wheel is crooked",
            "she sounded really mad in that review",
        ],
        expect![[r#"
            "no need for a manager i just need an oil change" => intent=schedule_appointment service=oil change
            "i dont need to talk to a manager just want to know your hours" => intent=check_hours
            "the human resources department called about my car" => nothing
            "the owners manual says i need a tire rotation" => intent=schedule_appointment service=tire rotation
            "the previous owner never changed the oil" => nothing
            "my manager said i could leave early for my appointment" => intent=check_status
            "this is probably a stupid question but do you do alignments" => intent=general_inquiry service=wheel alignment
            "im not upset at all just want to reschedule" => intent=reschedule_appointment
            "my wife sue dropped the car off" => nothing
            "this is sue" => name=Sue
            "it makes a terrible noise when i brake" => intent=schedule_appointment service=diagnostic
            "no worries" => nothing
            "that was a hell of a drive" => nothing
            "i left the keys at the front desk yesterday" => nothing
            "my name is sue sue patterson" => name=Sue Sue
            "sorry some idiot just cut me off ok go ahead" => nothing
            "damn this traffic sorry not you" => nothing
            "im the fleet manager over at riverside electric" => nothing
            "the manager at the tire place across the street told me you do alignments" => intent=general_inquiry service=wheel alignment
            "i talked to my lawyer about the accident its handled i just need the car looked at" => intent=schedule_appointment
            "this is gonna sound dumb but the wheel is crooked" => nothing
            "she sounded really mad in that review" => intent=general_inquiry
        "#]],
    );
}

#[test]
fn run_ons_and_fillers() {
    check(
        &[
            "yeah so um basically i was driving home and the the check engine light came on and now its kind of shaking so i wanted to see if i could bring it in tomorrow like around two",
            "hi there uh this is maria garcia i have a 2015 subaru outback and i need an oil change sometime next week maybe monday at 10 in the morning",
            "okay so how much would it be to get the brakes done and also are you open saturday",
            "hey i dropped my car off this morning and i was wondering when i can pick it up",
            "so i have an appointment on thursday but i need to cancel it",
            "yes hi i need to move my oil change to friday at three thirty if thats possible",
        ],
        expect![[r#"
            "yeah so um basically i was driving home and the the check engine light came on and now its kind of shaking so i wanted to see if i could bring it in tomorrow like around two" => intent=schedule_appointment service=check engine light date=2026-11-25 (tomorrow) time=14:00 (2)
            "hi there uh this is maria garcia i have a 2015 subaru outback and i need an oil change sometime next week maybe monday at 10 in the morning" => intent=schedule_appointment service=oil change date=2026-11-30 (monday) time=10:00 (10 in the morning) name=Maria Garcia vehicle=2015 Subaru Outback
            "okay so how much would it be to get the brakes done and also are you open saturday" => intent=pricing_inquiry service=brake service date=2026-11-28 (saturday)
            "hey i dropped my car off this morning and i was wondering when i can pick it up" => intent=check_status
            "so i have an appointment on thursday but i need to cancel it" => intent=cancel_appointment date=2026-11-26 (thursday)
            "yes hi i need to move my oil change to friday at three thirty if thats possible" => intent=reschedule_appointment service=oil change date=2026-11-27 (friday) time=15:30 (3 30)
        "#]],
    );
}

/// Clock times said the ways callers say them: minutes before the hour, the 24-hour clock,
/// "half 8", "ish", a range's start, corrections made mid-sentence, a time being moved away
/// from, and numbers that are not times (a phone number, a price).
#[test]
fn spoken_clock_times() {
    check(
        &[
            "can you do twenty of four thursday for the brakes",
            "we need the truck in at thirteen hundred on friday",
            "half nine saturday for an oil change please",
            "tomorrow ten ish for a tire rotation",
            "any time between ten and noon on friday works",
            "i was supposed to come at eight tomorrow but can i come at noon instead",
            "book me friday at nine no wait eleven",
            "can i switch it from three oclock to five oclock on monday",
            "i have a one oclock on friday can i come at four instead",
            "is the car done you can call me back at five five five two one two three",
        ],
        expect![[r#"
            "can you do twenty of four thursday for the brakes" => intent=schedule_appointment service=brake service date=2026-11-26 (thursday) time=15:40 (20 of 4)
            "we need the truck in at thirteen hundred on friday" => intent=schedule_appointment date=2026-11-27 (friday) time=13:00 (13 hundred)
            "half nine saturday for an oil change please" => intent=schedule_appointment service=oil change date=2026-11-28 (saturday) time=09:30 (half 9)
            "tomorrow ten ish for a tire rotation" => intent=schedule_appointment service=tire rotation date=2026-11-25 (tomorrow) time=10:00 (10 ish)
            "any time between ten and noon on friday works" => intent=schedule_appointment date=2026-11-27 (friday) time=10:00 (10)
            "i was supposed to come at eight tomorrow but can i come at noon instead" => intent=reschedule_appointment date=2026-11-25 (tomorrow) time=12:00 (noon)
            "book me friday at nine no wait eleven" => intent=schedule_appointment date=2026-11-27 (friday) time=11:00 (11)
            "can i switch it from three oclock to five oclock on monday" => intent=reschedule_appointment date=2026-11-30 (monday) time=17:00 (5)
            "i have a one oclock on friday can i come at four instead" => intent=reschedule_appointment date=2026-11-27 (friday) time=16:00 (4)
            "is the car done you can call me back at five five five two one two three" => intent=check_status
        "#]],
    );
}

/// Escalations said indirectly, and the lines that only look like them.
#[test]
fn indirect_escalations() {
    check(
        &[
            "can you just put your supervisor on",
            "is there anyone above you",
            "i am going to be pursuing damages for this",
            "im filing a complaint with the attorney general",
            "dont you dare hang up on me",
            "this is the third time calling and nobody can do their job",
            "my brother is furious at me for wrecking his car can you fix the bumper",
            "i have to be in court on thursday so can we do friday",
            "im the manager of the bakery next door and our van needs brakes",
            "id like to speak with the tech who did my alignment",
            "fine well sort it out in front of a judge then",
            "oh thats just perfect another week without my car",
            "ninety bucks is a lot but fine book me for friday for the brakes",
            "the kids wont calm down so bear with me i need an oil change",
        ],
        expect![[r#"
            "can you just put your supervisor on" => escalation=manager_request
            "is there anyone above you" => escalation=manager_request
            "i am going to be pursuing damages for this" => escalation=legal_threat
            "im filing a complaint with the attorney general" => escalation=legal_threat
            "dont you dare hang up on me" => escalation=anger
            "this is the third time calling and nobody can do their job" => escalation=anger
            "my brother is furious at me for wrecking his car can you fix the bumper" => intent=schedule_appointment
            "i have to be in court on thursday so can we do friday" => intent=schedule_appointment date=2026-11-27 (friday)
            "im the manager of the bakery next door and our van needs brakes" => intent=schedule_appointment service=brake service
            "id like to speak with the tech who did my alignment" => escalation=manager_request service=wheel alignment
            "fine well sort it out in front of a judge then" => escalation=legal_threat
            "oh thats just perfect another week without my car" => escalation=anger
            "ninety bucks is a lot but fine book me for friday for the brakes" => intent=schedule_appointment service=brake service date=2026-11-27 (friday)
            "the kids wont calm down so bear with me i need an oil change" => intent=schedule_appointment service=oil change
        "#]],
    );
}

/// Days and times said the ways a twelfth and thirteenth writer found: a weekday a week on
/// ("friday week"), days from now, a day before its month without "of", a weekday with its date
/// and a time after it, "tomorrows", the 24-hour clock said aloud, and numbers that are prices
/// or models; days counted from holidays or other days ("the monday after thanksgiving", "two
/// weeks from friday", "not this saturday the next one"), days and times given up ("scratch
/// wednesday", "bump it up to eleven", "i was supposed to come at two"), hours written as the
/// words they sound like ("at ate thirty", "at for fifteen"); and a complaint's day, which is no
/// day to book.
#[test]
fn days_and_times_round_seven() {
    check(
        &[
            "can we do thursday week for the alignment",
            "i could come in four days from now",
            "fourteen thirty on the second of december for an oil change",
            "i come on fifth december at ten",
            "saturday the fifth ten a m for the oil change",
            "move tomorrows appointment to three",
            "oh nine hundred friday for the inspection",
            "is five too late to grab it",
            "they quoted me two fifty for brakes is that fair",
            "how much for an oil change on a three fifty z",
            "its a twenty fifteen accord",
            "wensday at two for the brakes",
            "im reporting this shop to the state board today",
            "monday week for the brakes",
            "ten days from tomorrow for the inspection",
            "can tomorrows oil change be thursday instead",
            "i think the front one may be leaking can i bring it tomorrow",
            "my number is four one three five five five oh one hundred",
            "my bill came to sixteen thirty for the brakes",
            "i was quoted like three fifty for brakes",
            "the warning light for the oil pressure keeps coming on",
            "can i come the monday after thanksgiving",
            "the saturday after christmas for an oil change",
            "two weeks from friday for the alignment",
            "not this saturday the next one",
            "same time next week for the brakes",
            "scratch wednesday put me down friday instead",
            "you got me at one p m tomorrow can you bump it up to eleven",
            "i was supposed to come at two can we do thursday instead",
            "my wife dropped it off at like seven fifteen is it ready",
            "can i come at ate thirty tomorrow",
            "monday ate a m sharp for the oil change",
            "i ate a sandwich in the waiting room last time",
            "i can be there at for fifteen for the brakes",
            "you people wasted my whole saturday",
            "move it from the friday after thanksgiving to monday",
            "can i bring it wednesday i know youre closed thursday",
            "can we do thursday no wait youre closed thursday friday then at one",
            "happy thanksgiving are you open the day after thanksgiving",
            "no it was for friday not thursday",
            "thursday same time next week",
            "not this tuesday the next one",
            "can i swing by for fifteen minutes",
            "this thing ate fifty bucks of gas in two days",
            "i think a rat like ate through my wiring",
            "ill pick it up and pay the bill at five thirty",
            "could i come by at three yesterday someone told me the part came in",
            "last time i asked for eight and nobody touched it till eleven so book me nine am",
            "this is round two with the same leak",
        ],
        expect![[r#"
            "can we do thursday week for the alignment" => intent=schedule_appointment service=wheel alignment date=2026-12-03 (thursday week)
            "i could come in four days from now" => intent=schedule_appointment date=2026-11-28 (4 days from now)
            "fourteen thirty on the second of december for an oil change" => intent=schedule_appointment service=oil change date=2026-12-02 (2nd of december) time=14:30 (14 30)
            "i come on fifth december at ten" => intent=schedule_appointment date=2026-12-05 (5th december) time=10:00 (10)
            "saturday the fifth ten a m for the oil change" => intent=schedule_appointment service=oil change date=2026-12-05 (5th) time=10:00 (10 a m)
            "move tomorrows appointment to three" => intent=reschedule_appointment date=2026-11-25 (tomorrows) time=15:00 (3)
            "oh nine hundred friday for the inspection" => intent=schedule_appointment service=state inspection date=2026-11-27 (friday) time=09:00 (oh 9 hundred)
            "is five too late to grab it" => intent=check_hours time=17:00 (5 too late)
            "they quoted me two fifty for brakes is that fair" => intent=pricing_inquiry service=brake service
            "how much for an oil change on a three fifty z" => intent=pricing_inquiry service=oil change
            "its a twenty fifteen accord" => nothing
            "wensday at two for the brakes" => intent=schedule_appointment service=brake service date=2026-11-25 (wednesday) time=14:00 (2)
            "im reporting this shop to the state board today" => escalation=legal_threat
            "monday week for the brakes" => intent=schedule_appointment service=brake service date=2026-12-07 (monday week)
            "ten days from tomorrow for the inspection" => intent=schedule_appointment service=state inspection date=2026-12-05 (10 days from tomorrow)
            "can tomorrows oil change be thursday instead" => intent=reschedule_appointment service=oil change date=2026-11-26 (thursday)
            "i think the front one may be leaking can i bring it tomorrow" => intent=schedule_appointment service=diagnostic date=2026-11-25 (tomorrow)
            "my number is four one three five five five oh one hundred" => nothing
            "my bill came to sixteen thirty for the brakes" => intent=schedule_appointment service=brake service
            "i was quoted like three fifty for brakes" => intent=pricing_inquiry service=brake service
            "the warning light for the oil pressure keeps coming on" => intent=check_status service=diagnostic
            "can i come the monday after thanksgiving" => intent=schedule_appointment date=2026-11-30 (the monday after thanksgiving)
            "the saturday after christmas for an oil change" => intent=schedule_appointment service=oil change date=2026-12-26 (the saturday after christmas)
            "two weeks from friday for the alignment" => intent=schedule_appointment service=wheel alignment date=2026-12-11 (2 weeks from friday)
            "not this saturday the next one" => date=2026-12-05 (not this saturday the next 1)
            "same time next week for the brakes" => intent=schedule_appointment service=brake service date=2026-12-01 (same time next week)
            "scratch wednesday put me down friday instead" => intent=reschedule_appointment date=2026-11-27 (friday)
            "you got me at one p m tomorrow can you bump it up to eleven" => intent=reschedule_appointment date=2026-11-25 (tomorrow) time=11:00 (11)
            "i was supposed to come at two can we do thursday instead" => intent=reschedule_appointment date=2026-11-26 (thursday)
            "my wife dropped it off at like seven fifteen is it ready" => intent=check_status
            "can i come at ate thirty tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=08:30 (8 30)
            "monday ate a m sharp for the oil change" => intent=schedule_appointment service=oil change date=2026-11-30 (monday) time=08:00 (8 a m)
            "i ate a sandwich in the waiting room last time" => intent=general_inquiry
            "i can be there at for fifteen for the brakes" => intent=schedule_appointment service=brake service time=16:15 (4 15)
            "you people wasted my whole saturday" => escalation=anger
            "move it from the friday after thanksgiving to monday" => intent=reschedule_appointment date=2026-11-30 (monday)
            "can i bring it wednesday i know youre closed thursday" => intent=schedule_appointment date=2026-11-25 (wednesday)
            "can we do thursday no wait youre closed thursday friday then at one" => intent=reschedule_appointment date=2026-11-27 (friday) time=13:00 (1)
            "happy thanksgiving are you open the day after thanksgiving" => intent=check_hours date=2026-11-27 (the day after thanksgiving)
            "no it was for friday not thursday" => date=2026-11-27 (friday)
            "thursday same time next week" => intent=schedule_appointment date=2026-11-26 (thursday)
            "not this tuesday the next one" => date=2026-12-01 (not this tuesday the next 1)
            "can i swing by for fifteen minutes" => nothing
            "this thing ate fifty bucks of gas in two days" => nothing
            "i think a rat like ate through my wiring" => nothing
            "ill pick it up and pay the bill at five thirty" => time=17:30 (5 30)
            "could i come by at three yesterday someone told me the part came in" => intent=check_status time=15:00 (3)
            "last time i asked for eight and nobody touched it till eleven so book me nine am" => intent=schedule_appointment time=09:00 (9 am)
            "this is round two with the same leak" => service=diagnostic
        "#]],
    );
}

/// Escalations of the twelfth and thirteenth writers' kinds, and the lines that only look
/// like them.
#[test]
fn escalations_round_seven() {
    check(
        &[
            "do i have to get the courts involved to get my car back",
            "my cousin does litigation and he says you owe me",
            "ill have my solicitor write to you",
            "get me whoever can actually do something",
            "put dave on the phone please",
            "zero zero zero",
            "god dam it the light is on again",
            "this is bull ship",
            "im so tired of this",
            "my wife is furious at me for forgetting the oil change",
            "the service manager at the dealer told me i need rotors",
            "my brother tried to sue me once lol anyway how much for tires",
            "i know somebody who does tows but can you fix the bumper",
            "the rattle is coming from higher up behind the dash",
            "four one three five five five one zero zero zero",
            "looks like a person keyed my door",
            "i have a spare can you put it on real quick",
            "honestly im tired of this car how much for a transmission",
            "i lost my business card with the appointment on it",
            "im the son of a longtime customer",
            "i swear if its not one thing its another",
            "sorry ill stop talking now",
            "i handle the cars for our law firm three need oil changes",
            "i work at the d a's office and need an inspection",
            "im gonna run a little late",
            "its been sitting for two years can you get it running",
            "your boss did a great job on my brakes last time",
            "ill be filing an insurance claim for the accident can you do an estimate",
            "the estimate says four eighty what am i paying for exactly",
            "are you serious its already done thats awesome",
            "my boss was livid i was late because the car died",
            "im not trying to escalate this i just want to know when its ready",
            "i talked with an advisor last week about the timing belt can i book it for friday",
            "someone from management called me back yesterday and sorted it out",
            "it gets louder the higher up the rpm goes",
            "please dont put me on hold im driving",
            "i left my wallet in the suit jacket when i dropped off the car",
            "my lawyer told me to call you and demand a refund",
            "the ridiculous thing is you charged me twice for the same part",
            "whats your address where is it",
            "i can feel the shake move up the steering column",
            "get me your boss this is absurd",
        ],
        expect![[r#"
            "do i have to get the courts involved to get my car back" => intent=check_status escalation=legal_threat
            "my cousin does litigation and he says you owe me" => escalation=legal_threat
            "ill have my solicitor write to you" => escalation=legal_threat
            "get me whoever can actually do something" => escalation=manager_request
            "put dave on the phone please" => escalation=manager_request
            "zero zero zero" => escalation=manager_request
            "god dam it the light is on again" => escalation=anger
            "this is bull ship" => escalation=anger
            "im so tired of this" => escalation=anger
            "my wife is furious at me for forgetting the oil change" => intent=schedule_appointment service=oil change
            "the service manager at the dealer told me i need rotors" => intent=schedule_appointment service=brake service
            "my brother tried to sue me once lol anyway how much for tires" => intent=pricing_inquiry
            "i know somebody who does tows but can you fix the bumper" => nothing
            "the rattle is coming from higher up behind the dash" => service=diagnostic
            "four one three five five five one zero zero zero" => nothing
            "looks like a person keyed my door" => nothing
            "i have a spare can you put it on real quick" => nothing
            "honestly im tired of this car how much for a transmission" => intent=pricing_inquiry service=transmission service
            "i lost my business card with the appointment on it" => intent=check_status
            "im the son of a longtime customer" => nothing
            "i swear if its not one thing its another" => nothing
            "sorry ill stop talking now" => nothing
            "i handle the cars for our law firm three need oil changes" => intent=schedule_appointment service=oil change
            "i work at the d a's office and need an inspection" => intent=schedule_appointment service=state inspection
            "im gonna run a little late" => nothing
            "its been sitting for two years can you get it running" => intent=check_status
            "your boss did a great job on my brakes last time" => service=brake service
            "ill be filing an insurance claim for the accident can you do an estimate" => intent=pricing_inquiry
            "the estimate says four eighty what am i paying for exactly" => intent=pricing_inquiry
            "are you serious its already done thats awesome" => nothing
            "my boss was livid i was late because the car died" => nothing
            "im not trying to escalate this i just want to know when its ready" => intent=check_status
            "i talked with an advisor last week about the timing belt can i book it for friday" => intent=schedule_appointment date=2026-11-27 (friday)
            "someone from management called me back yesterday and sorted it out" => nothing
            "it gets louder the higher up the rpm goes" => nothing
            "please dont put me on hold im driving" => nothing
            "i left my wallet in the suit jacket when i dropped off the car" => nothing
            "my lawyer told me to call you and demand a refund" => escalation=legal_threat
            "the ridiculous thing is you charged me twice for the same part" => escalation=anger
            "whats your address where is it" => intent=general_inquiry
            "i can feel the shake move up the steering column" => nothing
            "get me your boss this is absurd" => escalation=manager_request
        "#]],
    );
}

/// Status checks said without "status" or "ready", as the later writers said them.
#[test]
fn status_checks_round_eight() {
    check(
        &[
            "did my inspection pass",
            "were the new brakes put on yet",
            "just tell me if its done",
            "just confirming im down for friday at nine",
            "am i still on the books for saturday",
            "is anybody even working on my truck",
            "i just want my car back",
            "the guy said its done where is it",
        ],
        expect![[r#"
            "did my inspection pass" => intent=check_status service=state inspection
            "were the new brakes put on yet" => intent=check_status service=brake service
            "just tell me if its done" => intent=check_status
            "just confirming im down for friday at nine" => intent=check_status date=2026-11-27 (friday) time=09:00 (9)
            "am i still on the books for saturday" => intent=check_status date=2026-11-28 (saturday)
            "is anybody even working on my truck" => intent=check_status
            "i just want my car back" => intent=check_status
            "the guy said its done where is it" => intent=check_status
        "#]],
    );
}

/// Escalations worded the way the ninth round's writers worded them, and the decoys beside them.
#[test]
fn escalations_round_nine() {
    check(
        &[
            "put whoever owns the shop on the phone",
            "have the boss call me tonight",
            "im calling my bank to dispute the charge",
            "my cousin is a lawyer and shes very interested in how you botched my engine",
            "you cant hold my truck hostage",
            "i waited in your lobby three hours for nothing",
            "you told me friday and now youre telling me next week",
            "congratulations you guys broke it again",
            "i have a lawyer appointment thursday can we do friday instead",
            "my neighbor sued the old shop he went to",
            "my dad always wants to talk to the manager its embarrassing",
            "i was mad at that last garage so im coming to you for brakes",
            "im frustrated with this stupid truck it wont start",
            "can you explain to me why it needs a timing belt",
            "oh great thanks ill call again monday",
            "my son wants to be a mechanic and hes really interested in how you do alignments",
            "i dont want to dispute it i just want to understand the bill",
            "hang on my husband wants to talk to the manager",
        ],
        expect![[r#"
            "put whoever owns the shop on the phone" => escalation=manager_request
            "have the boss call me tonight" => escalation=manager_request
            "im calling my bank to dispute the charge" => escalation=legal_threat
            "my cousin is a lawyer and shes very interested in how you botched my engine" => escalation=legal_threat
            "you cant hold my truck hostage" => escalation=legal_threat
            "i waited in your lobby three hours for nothing" => escalation=anger
            "you told me friday and now youre telling me next week" => escalation=anger date=2026-11-27 (friday)
            "congratulations you guys broke it again" => escalation=anger
            "i have a lawyer appointment thursday can we do friday instead" => intent=reschedule_appointment date=2026-11-27 (friday)
            "my neighbor sued the old shop he went to" => nothing
            "my dad always wants to talk to the manager its embarrassing" => nothing
            "i was mad at that last garage so im coming to you for brakes" => intent=schedule_appointment service=brake service
            "im frustrated with this stupid truck it wont start" => nothing
            "can you explain to me why it needs a timing belt" => nothing
            "oh great thanks ill call again monday" => date=2026-11-30 (monday)
            "my son wants to be a mechanic and hes really interested in how you do alignments" => intent=general_inquiry service=wheel alignment
            "i dont want to dispute it i just want to understand the bill" => nothing
            "hang on my husband wants to talk to the manager" => escalation=manager_request
        "#]],
    );
}

/// Days left open between two, past weekdays, a cancel's own time, models that look like the
/// 24-hour clock, and days before a holiday.
#[test]
fn days_and_times_round_nine() {
    check(
        &[
            "thursday or friday whichever you have for the brakes",
            "friday or saturday actually saturday is better",
            "is my rotation on the second or the third",
            "i came in last thursday and the light is back on",
            "cancel my alignment on monday i had it at ten thirty",
            "i had booked thursday no friday at two and i need to cancel it",
            "instead of friday at half past nine can i do eleven",
            "whats pads run on a silverado fifteen hundred",
            "put the van in friday the fourth oh eight hundred",
            "my ram fifteen hundred needs brakes at fourteen hundred tomorrow",
            "can i bring it in tomorrow at oh seven hundred",
            "will it be ready before christmas",
            "can you change my nine to eleven",
            "monday or tuesday are no good how about wednesday",
            "i work monday thru friday could we do the same time next week",
        ],
        expect![[r#"
            "thursday or friday whichever you have for the brakes" => intent=schedule_appointment service=brake service
            "friday or saturday actually saturday is better" => date=2026-11-28 (saturday)
            "is my rotation on the second or the third" => intent=check_status service=tire rotation
            "i came in last thursday and the light is back on" => nothing
            "cancel my alignment on monday i had it at ten thirty" => intent=cancel_appointment service=wheel alignment date=2026-11-30 (monday) time=10:30 (10 30)
            "i had booked thursday no friday at two and i need to cancel it" => intent=cancel_appointment date=2026-11-27 (friday) time=14:00 (2)
            "instead of friday at half past nine can i do eleven" => intent=reschedule_appointment date=2026-11-27 (friday) time=11:00 (11)
            "whats pads run on a silverado fifteen hundred" => intent=pricing_inquiry service=brake service
            "put the van in friday the fourth oh eight hundred" => intent=schedule_appointment date=2026-12-04 (4th) time=08:00 (oh 8 hundred)
            "my ram fifteen hundred needs brakes at fourteen hundred tomorrow" => intent=schedule_appointment service=brake service date=2026-11-25 (tomorrow) time=14:00 (14 hundred) vehicle=Ram 15
            "can i bring it in tomorrow at oh seven hundred" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=07:00 (oh 7 hundred)
            "will it be ready before christmas" => intent=check_status
            "can you change my nine to eleven" => intent=reschedule_appointment time=11:00 (11)
            "monday or tuesday are no good how about wednesday" => intent=schedule_appointment date=2026-11-25 (wednesday)
            "i work monday thru friday could we do the same time next week" => intent=reschedule_appointment date=2026-12-01 (same time next week)
        "#]],
    );
}

/// Services told as a story, catalog words that name something else, and status checks the
/// ninth round's writers said.
#[test]
fn stories_and_status_round_nine() {
    check(
        &[
            "last time i was in you guys did my alignment and it drives great",
            "my brothers truck had a transmission problem last month",
            "hold on my phone battery is dying",
            "sorry about the noise im at a job site",
            "last time you guys did my brakes can you do them again friday",
            "the truck keeps drifting to the left",
            "can i bring the jeep in to get the codes read",
            "did the parts show up for my civic",
            "i was supposed to hear back about the estimate",
            "kinda pricey but thats fine",
            "you guys did my brakes in march and theyre grinding again",
        ],
        expect![[r#"
            "last time i was in you guys did my alignment and it drives great" => nothing
            "my brothers truck had a transmission problem last month" => nothing
            "hold on my phone battery is dying" => nothing
            "sorry about the noise im at a job site" => nothing
            "last time you guys did my brakes can you do them again friday" => intent=schedule_appointment service=brake service date=2026-11-27 (friday)
            "the truck keeps drifting to the left" => intent=schedule_appointment service=wheel alignment
            "can i bring the jeep in to get the codes read" => intent=schedule_appointment service=check engine light vehicle=Jeep
            "did the parts show up for my civic" => intent=check_status
            "i was supposed to hear back about the estimate" => intent=check_status
            "kinda pricey but thats fine" => nothing
            "you guys did my brakes in march and theyre grinding again" => service=brake service
        "#]],
    );
}

/// Rounds ten and eleven: days, times, escalations and their decoys, with the cases the diff's
/// reviews raised.
#[test]
fn round_eleven() {
    check(
        &[
            "can i come ten thirty march third",
            "monday the seventh of december nine in the morning",
            "give me the first available",
            "is the twenty first available",
            "i can drop it off at seven thirty and drive to work",
            "its a twenty sixteen silverado with about one twenty on it",
            "three twelve elm street apartment b",
            "no not the third but the fifth",
            "i can do any day except the first so whatever you got for the rotation",
            "the two trucks you got wednesday need to go to the following wednesday",
            "take me off the books for wednes day",
            "who do i talk to thats above you",
            "lemme speak to the big cheese",
            "talk to the person in charge of your shop",
            "i used to be a service manager myself so i know the drill",
            "i used to be a service manager and i want your boss on the phone",
            "my daughters a lawyer and she says always get it in writing",
            "my brother is an attorney and he says youre liable",
            "my neighbor sued the dealership over his transmission",
            "i called visa to reverse it",
            "my card got stolen so i called the bank to cancel it",
            "im going to dispute the entire bill",
            "the dealer is a bunch of clowns thats why im calling you",
            "its a little above you know what i wanted to spend",
        ],
        expect![[r#"
            "can i come ten thirty march third" => intent=schedule_appointment date=2027-03-03 (march 3rd) time=10:30 (10 30)
            "monday the seventh of december nine in the morning" => intent=schedule_appointment date=2026-12-07 (7th of december) time=09:00 (9 in the morning)
            "give me the first available" => nothing
            "is the twenty first available" => date=2026-12-21 (21st)
            "i can drop it off at seven thirty and drive to work" => intent=schedule_appointment time=07:30 (7 30)
            "its a twenty sixteen silverado with about one twenty on it" => nothing
            "three twelve elm street apartment b" => nothing
            "no not the third but the fifth" => date=2026-12-05 (5th)
            "i can do any day except the first so whatever you got for the rotation" => intent=schedule_appointment service=tire rotation
            "the two trucks you got wednesday need to go to the following wednesday" => intent=reschedule_appointment date=2026-12-02 (following wednesday)
            "take me off the books for wednes day" => intent=cancel_appointment date=2026-11-25 (wednesday)
            "who do i talk to thats above you" => escalation=manager_request
            "lemme speak to the big cheese" => escalation=manager_request
            "talk to the person in charge of your shop" => escalation=manager_request
            "i used to be a service manager myself so i know the drill" => nothing
            "i used to be a service manager and i want your boss on the phone" => escalation=manager_request
            "my daughters a lawyer and she says always get it in writing" => nothing
            "my brother is an attorney and he says youre liable" => escalation=legal_threat
            "my neighbor sued the dealership over his transmission" => intent=general_inquiry service=transmission service
            "i called visa to reverse it" => escalation=legal_threat
            "my card got stolen so i called the bank to cancel it" => intent=cancel_appointment
            "im going to dispute the entire bill" => escalation=legal_threat
            "the dealer is a bunch of clowns thats why im calling you" => nothing
            "its a little above you know what i wanted to spend" => nothing
        "#]],
    );
}

/// Round twelve's escalation cues and decoys, with the sentences its review raised: each cue
/// must fire where the caller means it and not where the words are about someone else.
#[test]
fn round_twelve() {
    check(
        &[
            "i called amex and im disputing the whole eight hundred dollar charge",
            "im not disputing that the charge was fair",
            "my wife is disputing the hotel charge",
            "im stopping payment on that check you charged me for a transmission service you never even did",
            "no we are not stopping payment",
            "i had to stop payment on a check to my contractor so i wanna pay cash is that cool",
            "i stopped payment on a check to the shop",
            "this is the worst run outfit ive ever dealt with and ive been driving fifty years",
            "the worst place ive ever had my car serviced was the dealer",
            "i am madder than a wet hen yall cancelled on me twice now",
            "my wife is gonna be madder than a hornet if the car isnt ready",
            "my lawyer is gonna grab the car for me since im stuck in court all day is it ready to go",
            "my lawyer is gonna get in touch with you",
            "i know its ridiculous to ask but could you squeeze me in today for a battery",
            "its ridiculous to ask me to pay twice",
            "my buddy threatened to sue the dealership over his transmission lol anyway do yall do trans mission flushes",
            "i hear a squeak when i brake",
            "not to whine but can i come earlier",
            "do you guys do hybrids my prius has a weird whine",
            "my new tire pressure light is on",
            "sorry my english not so good i need new tire for the car",
        ],
        expect![[r#"
            "i called amex and im disputing the whole eight hundred dollar charge" => escalation=legal_threat
            "im not disputing that the charge was fair" => nothing
            "my wife is disputing the hotel charge" => nothing
            "im stopping payment on that check you charged me for a transmission service you never even did" => escalation=legal_threat service=transmission service
            "no we are not stopping payment" => nothing
            "i had to stop payment on a check to my contractor so i wanna pay cash is that cool" => intent=general_inquiry
            "i stopped payment on a check to the shop" => escalation=legal_threat
            "this is the worst run outfit ive ever dealt with and ive been driving fifty years" => escalation=anger
            "the worst place ive ever had my car serviced was the dealer" => nothing
            "i am madder than a wet hen yall cancelled on me twice now" => escalation=anger
            "my wife is gonna be madder than a hornet if the car isnt ready" => intent=check_status
            "my lawyer is gonna grab the car for me since im stuck in court all day is it ready to go" => intent=check_status
            "my lawyer is gonna get in touch with you" => escalation=legal_threat
            "i know its ridiculous to ask but could you squeeze me in today for a battery" => intent=schedule_appointment service=battery replacement date=2026-11-24 (today)
            "its ridiculous to ask me to pay twice" => escalation=anger
            "my buddy threatened to sue the dealership over his transmission lol anyway do yall do trans mission flushes" => intent=general_inquiry service=transmission service
            "i hear a squeak when i brake" => intent=schedule_appointment service=brake service
            "not to whine but can i come earlier" => intent=reschedule_appointment
            "do you guys do hybrids my prius has a weird whine" => intent=general_inquiry service=diagnostic
            "my new tire pressure light is on" => nothing
            "sorry my english not so good i need new tire for the car" => intent=schedule_appointment service=tire replacement
        "#]],
    );
}

/// Round thirteen: the rules added on four new writers' lines, with the decoys beside them, and
/// the alternatives that were written with number words ("no one", "first thing") and so never
/// matched normalised text.
#[test]
fn round_thirteen() {
    check(
        &[
            "you guys have been a nightmare and im done",
            "this place is a freaking circus",
            "this is a freaking joke",
            "why do i keep coming back to this dump",
            "thanks so much for scratching my door",
            "my a tourney will be calling you",
            "i dont want to sue anybody i just have a question",
            "my coworker is furious at me",
            "my husband will be furious if i miss it again",
            "the other shop totally screwed up my brakes",
            "you totally screwed up my brakes",
            "the guy at the other shop was so rude i was furious",
            "i talked to the manager last week about the part",
            "i want to talk to the manager",
            "would the manager mind if i left my car overnight",
            "thank your manager for me",
            "the car belongs to the owner of the bakery",
            "is the owner in",
            "my daughter says shes gonna take me to court haha",
            "im gonna take you to court",
            "can i speak to the one over there who actually knows what theyre doing",
            "nobody ever calls me back",
            "no one ever calls me back",
            "can i come first thing tomorrow",
            "yeah i need my tires rotated monday eightish",
            "did i book the oil change for 10 or 10 30 tomorrow",
            "could yall do it at 2 30 or 3 30 uh 2 30",
            "it takes like 2 or 3 days",
            "it takes like 5 quarts of oil",
            "the dealer wanted like fifteen hundred for it",
            "ive called three times this morning i need an oil change tomorrow at 9",
            "the light has been on since like saturday can i come the 30th",
            // The review's sentences: real threats and complaints the decoys must not hide,
            // and calm lines the new cues must not flag.
            "my husband is calling his attorney right now",
            "i dont want to sue you but i will if you dont pay for the damage",
            "im not paying this you can take me to court",
            "tell your boss im going to sue them",
            "this is the law office of smith and jones about the vehicle you damaged",
            "hi i wanted to ask for the manager please",
            "i want to speak to the owner of the company",
            "im more than a little frustrated",
            "my wife is gonna be furious that you guys broke the mirror",
            "your mechanics broke my mirror and im furious at them",
            "ive never had this at my last shop and im so angry",
            "i talked to your service guy and he was being ridiculous",
            "no one ever called me back",
            "no one has even touched my car",
            "theres a rattle in this dump truck",
            "thanks so much for scratching my itch",
            "sorry its loud this is a circus over here with the kids",
            "finding your shop is a nightmare with the construction",
            "made it home in one piece thanks",
            "the first thing i noticed was a squeal can i come friday",
            "my son has a tourney this weekend",
            "my a tourney will be in touch",
            "at two no one",
            "no one works",
            "at 10 or 11 either one is fine",
            "i have it at 9 but im like 5 or 10 mins late",
            "the dealer said it was fifteen hundred",
            "i called yesterday can i come in this morning",
            "my wife dropped off the accord at like seven fifteen is it ready",
            "uh what time is my thing tomorrow was it nine or nine thirty",
            // The round's last two writers.
            "im gonna dispute the deposit with my credit card company if its not fixed today",
            "i already called my bank and told them not to honor that charge",
            "i work at the law office down the block so i can walk over",
            "i saw you got an a plus rating with the better business bureau",
            "honestly you guys have the worst communication ive ever dealt with",
            "im losing my mind here you guys said 2 days its been a week",
            "the guy at the quick lube place was so ridiculous so can i come to you",
            "last time i sat there 3 hours i was ready to throw a chair",
            "im about ready to throw in the towel on this old truck",
            // Numbers in a line about money.
            "the other place said four fifty for a brake job ballpark",
            "my quote says between one fifty and four fifty why such a big range",
            "how much is the quote and can i come at 2 30",
            "could i come today around three thirty my car wont hold a charge",
            "put me down december fourteenth eleven thirty for the a c recharge",
        ],
        expect![[r#"
            "you guys have been a nightmare and im done" => escalation=anger
            "this place is a freaking circus" => escalation=anger
            "this is a freaking joke" => escalation=anger
            "why do i keep coming back to this dump" => escalation=anger
            "thanks so much for scratching my door" => escalation=anger
            "my a tourney will be calling you" => escalation=legal_threat
            "i dont want to sue anybody i just have a question" => intent=general_inquiry
            "my coworker is furious at me" => nothing
            "my husband will be furious if i miss it again" => nothing
            "the other shop totally screwed up my brakes" => intent=schedule_appointment service=brake service
            "you totally screwed up my brakes" => escalation=anger service=brake service
            "the guy at the other shop was so rude i was furious" => nothing
            "i talked to the manager last week about the part" => escalation=manager_request
            "i want to talk to the manager" => escalation=manager_request
            "would the manager mind if i left my car overnight" => intent=general_inquiry
            "thank your manager for me" => nothing
            "the car belongs to the owner of the bakery" => nothing
            "is the owner in" => escalation=manager_request
            "my daughter says shes gonna take me to court haha" => nothing
            "im gonna take you to court" => escalation=legal_threat
            "can i speak to the one over there who actually knows what theyre doing" => escalation=manager_request
            "nobody ever calls me back" => escalation=anger
            "no one ever calls me back" => escalation=anger
            "can i come first thing tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=morning (1st thing)
            "yeah i need my tires rotated monday eightish" => intent=schedule_appointment service=tire rotation date=2026-11-30 (monday) time=08:00 (8 ish)
            "did i book the oil change for 10 or 10 30 tomorrow" => intent=check_status service=oil change date=2026-11-25 (tomorrow)
            "could yall do it at 2 30 or 3 30 uh 2 30" => intent=schedule_appointment time=14:30 (2 30)
            "it takes like 2 or 3 days" => nothing
            "it takes like 5 quarts of oil" => nothing
            "the dealer wanted like fifteen hundred for it" => intent=pricing_inquiry
            "ive called three times this morning i need an oil change tomorrow at 9" => intent=schedule_appointment service=oil change date=2026-11-25 (tomorrow) time=09:00 (9)
            "the light has been on since like saturday can i come the 30th" => intent=schedule_appointment date=2026-11-30 (30th)
            "my husband is calling his attorney right now" => escalation=legal_threat
            "i dont want to sue you but i will if you dont pay for the damage" => escalation=legal_threat
            "im not paying this you can take me to court" => escalation=legal_threat
            "tell your boss im going to sue them" => escalation=legal_threat
            "this is the law office of smith and jones about the vehicle you damaged" => escalation=legal_threat
            "hi i wanted to ask for the manager please" => escalation=manager_request
            "i want to speak to the owner of the company" => escalation=manager_request
            "im more than a little frustrated" => escalation=anger
            "my wife is gonna be furious that you guys broke the mirror" => escalation=anger
            "your mechanics broke my mirror and im furious at them" => escalation=anger
            "ive never had this at my last shop and im so angry" => escalation=anger
            "i talked to your service guy and he was being ridiculous" => escalation=anger
            "no one ever called me back" => escalation=anger
            "no one has even touched my car" => escalation=anger
            "theres a rattle in this dump truck" => intent=schedule_appointment service=diagnostic
            "thanks so much for scratching my itch" => nothing
            "sorry its loud this is a circus over here with the kids" => nothing
            "finding your shop is a nightmare with the construction" => nothing
            "made it home in one piece thanks" => nothing
            "the first thing i noticed was a squeal can i come friday" => intent=schedule_appointment date=2026-11-27 (friday)
            "my son has a tourney this weekend" => nothing
            "my a tourney will be in touch" => escalation=legal_threat
            "at two no one" => intent=schedule_appointment time=13:00 (1)
            "no one works" => time=13:00 (1)
            "at 10 or 11 either one is fine" => nothing
            "i have it at 9 but im like 5 or 10 mins late" => intent=schedule_appointment time=09:00 (9)
            "the dealer said it was fifteen hundred" => nothing
            "i called yesterday can i come in this morning" => intent=schedule_appointment date=2026-11-24 (this morning) time=morning (morning)
            "my wife dropped off the accord at like seven fifteen is it ready" => intent=check_status
            "uh what time is my thing tomorrow was it nine or nine thirty" => intent=check_status date=2026-11-25 (tomorrow)
            "im gonna dispute the deposit with my credit card company if its not fixed today" => intent=check_status escalation=legal_threat date=2026-11-24 (today)
            "i already called my bank and told them not to honor that charge" => escalation=legal_threat
            "i work at the law office down the block so i can walk over" => intent=schedule_appointment
            "i saw you got an a plus rating with the better business bureau" => intent=schedule_appointment
            "honestly you guys have the worst communication ive ever dealt with" => escalation=anger
            "im losing my mind here you guys said 2 days its been a week" => intent=check_status escalation=anger
            "the guy at the quick lube place was so ridiculous so can i come to you" => intent=schedule_appointment
            "last time i sat there 3 hours i was ready to throw a chair" => escalation=anger
            "im about ready to throw in the towel on this old truck" => nothing
            "the other place said four fifty for a brake job ballpark" => intent=pricing_inquiry service=brake service
            "my quote says between one fifty and four fifty why such a big range" => intent=pricing_inquiry
            "how much is the quote and can i come at 2 30" => intent=pricing_inquiry time=14:30 (2 30)
            "could i come today around three thirty my car wont hold a charge" => intent=schedule_appointment date=2026-11-24 (today) time=15:30 (3 30)
            "put me down december fourteenth eleven thirty for the a c recharge" => intent=schedule_appointment service=ac service date=2026-12-14 (december 14th) time=11:30 (11 30)
        "#]],
    );
}

/// Round seventeen's rules: a charge disputed with the bank or card company in other words is a
/// legal threat; a caller who is the manager or the front desk of another business, or asks
/// when the front desk opens, asks for no manager. Real requests stay escalations.
#[test]
fn round_seventeen() {
    check(
        &[
            "i already disputed it with my bank so dont bother billing me",
            "were disputing the repair with our credit card",
            "im disputing this whole thing with visa",
            "hey its the manager at the hardware store our van is with you any word",
            "this is the front desk at the motel on route nine one of our guests left her car with you",
            "what time does the front desk open on saturday",
            "can i talk to the manager at your shop",
            "put the front desk on please",
            "the ice out here has been ridiculous and i need snow tires",
            "this wait is ridiculous",
            "im a proud jeep owner and i need an oil change",
            "i want the owner on the phone",
            "my sons a lawyer and he says get a written estimate",
            "my sons a lawyer and hes gonna sue you",
            "i got the pads online can you guys put them on",
            "i have my own wipers could you put them on tomorrow",
            "is the owner there put them on",
        ],
        expect![[r#"
            "i already disputed it with my bank so dont bother billing me" => escalation=legal_threat
            "were disputing the repair with our credit card" => escalation=legal_threat
            "im disputing this whole thing with visa" => escalation=legal_threat
            "hey its the manager at the hardware store our van is with you any word" => intent=check_status
            "this is the front desk at the motel on route nine one of our guests left her car with you" => nothing
            "what time does the front desk open on saturday" => intent=check_hours date=2026-11-28 (saturday)
            "can i talk to the manager at your shop" => escalation=manager_request
            "put the front desk on please" => escalation=manager_request
            "the ice out here has been ridiculous and i need snow tires" => intent=schedule_appointment service=tire replacement
            "this wait is ridiculous" => escalation=anger
            "im a proud jeep owner and i need an oil change" => intent=schedule_appointment service=oil change vehicle=Jeep
            "i want the owner on the phone" => escalation=manager_request
            "my sons a lawyer and he says get a written estimate" => intent=pricing_inquiry
            "my sons a lawyer and hes gonna sue you" => escalation=legal_threat
            "i got the pads online can you guys put them on" => intent=general_inquiry service=brake service
            "i have my own wipers could you put them on tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow)
            "is the owner there put them on" => escalation=manager_request
        "#]],
    );
}

/// "this morning", in a call at ten in the morning, is what already happened unless a request
/// comes just before it; a later day is read instead. A choice of days or times left open
/// ("thursday or was it friday", "at 10 or 10 30") stays open also when it is the appointment's.
#[test]
fn this_morning_and_choices_left_open() {
    check(
        &[
            "my alternator light came on this morning can i bring it in",
            "i dropped the van off this morning can i pick it up tomorrow",
            "could you squeeze me in this morning for an oil change",
            "any openings this morning",
            "is my appointment monday or was it tuesday",
            "is my appointment monday or was it tuesday actually i think tuesday",
            "is my appointment at 9 or 9 30 on friday",
            "sorry one second the dog is barking",
            "what would you charge for two front tires",
            "we run one company van and need a shop for it",
            "how fast can you do one",
            "can you do one tomorrow",
            "can you do one oclock tomorrow",
            "book me for one",
            "my truck is in there for one",
            // The review's: a choice of days moved from, then the day asked for; a correction
            // to this morning; a time with a colon.
            "i cant make it monday or tuesday could we do friday",
            "can you fit me in tomorrow no actually this morning",
            "can i come in at 9:30 this morning",
            "i brought my own tires get me a manager to put them on",
            "im a regular i want the owner",
        ],
        expect![[r#"
            "my alternator light came on this morning can i bring it in" => intent=schedule_appointment
            "i dropped the van off this morning can i pick it up tomorrow" => intent=check_status date=2026-11-25 (tomorrow)
            "could you squeeze me in this morning for an oil change" => intent=schedule_appointment service=oil change date=2026-11-24 (this morning) time=morning (morning)
            "any openings this morning" => intent=schedule_appointment date=2026-11-24 (this morning) time=morning (morning)
            "is my appointment monday or was it tuesday" => intent=check_status
            "is my appointment monday or was it tuesday actually i think tuesday" => intent=check_status date=2026-12-01 (tuesday)
            "is my appointment at 9 or 9 30 on friday" => intent=check_status date=2026-11-27 (friday)
            "sorry one second the dog is barking" => nothing
            "what would you charge for two front tires" => intent=pricing_inquiry service=tire replacement
            "we run one company van and need a shop for it" => nothing
            "how fast can you do one" => nothing
            "can you do one tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=13:00 (1)
            "can you do one oclock tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=13:00 (1 oclock)
            "book me for one" => intent=schedule_appointment time=13:00 (1)
            "my truck is in there for one" => nothing
            "i cant make it monday or tuesday could we do friday" => intent=reschedule_appointment date=2026-11-27 (friday)
            "can you fit me in tomorrow no actually this morning" => intent=schedule_appointment date=2026-11-24 (this morning) time=morning (morning)
            "can i come in at 9:30 this morning" => intent=schedule_appointment date=2026-11-24 (this morning) time=09:30 (9:30)
            "i brought my own tires get me a manager to put them on" => escalation=manager_request service=tire replacement
            "im a regular i want the owner" => escalation=manager_request
        "#]],
    );
}

#[test]
fn times_of_the_callers_day_or_in_the_past() {
    check(
        &[
            "i work till six most days can you do saturday",
            "we work until 5 30 so could i come at 6 on friday",
            "my shift ends at seven and then i have to get the kids",
            "i got class at ten so can you take it first thing",
            "the bank closes at three so ill come after",
            "somebody called me yesterday at four about the brakes",
            "i left a voicemail around nine last night",
            "i got court at 9 in the morning can you take it after",
            // A time asked for after them is still read.
            "i work till 4 30 can i come at 5",
            "i missed my appointment yesterday so today at 3",
            // What the shop keeps or said stays the time asked about.
            "are you open at seven on saturday",
            "you said itd be ready by two is it",
            "the work starts at 8 right",
            // "round" for "around", and "at the" before an hour, as callers say them.
            "can i come round ten tomorrow",
            "i need the brakes tomorrow at the nine",
            // "the one": a place, no time.
            "i usually get it done at the one on main street but can you do brakes",
        ],
        expect![[r#"
            "i work till six most days can you do saturday" => intent=schedule_appointment date=2026-11-28 (saturday)
            "we work until 5 30 so could i come at 6 on friday" => intent=schedule_appointment date=2026-11-27 (friday) time=18:00 (6)
            "my shift ends at seven and then i have to get the kids" => nothing
            "i got class at ten so can you take it first thing" => intent=schedule_appointment time=morning (1st thing)
            "the bank closes at three so ill come after" => nothing
            "somebody called me yesterday at four about the brakes" => intent=check_status service=brake service
            "i left a voicemail around nine last night" => nothing
            "i got court at 9 in the morning can you take it after" => intent=schedule_appointment
            "i work till 4 30 can i come at 5" => intent=schedule_appointment time=17:00 (5)
            "i missed my appointment yesterday so today at 3" => intent=check_status date=2026-11-24 (today) time=15:00 (3)
            "are you open at seven on saturday" => intent=check_hours date=2026-11-28 (saturday) time=07:00 (7)
            "you said itd be ready by two is it" => intent=check_status time=14:00 (2)
            "the work starts at 8 right" => intent=check_status time=08:00 (8)
            "can i come round ten tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=10:00 (10)
            "i need the brakes tomorrow at the nine" => intent=schedule_appointment service=brake service date=2026-11-25 (tomorrow) time=09:00 (9)
            "i usually get it done at the one on main street but can you do brakes" => intent=general_inquiry service=brake service
        "#]],
    );
}

#[test]
fn escalation_wording_of_stop_thirty_four() {
    check(
        &[
            "honestly im pretty upset nobody called me",
            "i am done being polite where is my car",
            "the paint is scratched and thats a disgrace",
            "nobody here knows what theyre doing",
            "nobody tells me anything and its been a week",
            "please stop transferring me i just want an answer",
            "ive been bounced around by three people now",
            "im disputing the brake charge",
            "my lawyer told me to keep the receipts and he will be in touch",
            "the dealer quoted 900 and you idiots want 1200",
            "your tow truck guy was rude and this whole thing is ridiculous",
            "its ridiculous what the dealership charged me and now youre charging more",
            // Calm: a symptom, a question, another business, a lawyer asking for paperwork.
            "my car bounced around on the highway i think its the shocks",
            "nobody here knows how to change a cabin filter so can you",
            "its ridiculous what the dealership wants for a key fob can you do it",
            "im disputing the tow charge with the towing company",
            // More than 20 characters between the tow truck and "ridiculous": still anger, a
            // false alarm the decoy's window leaves (a wider one hides anger at the shop's own
            // tow truck).
            "the tow truck driver showed up two hours late and honestly it was ridiculous",
            "this is ridiculous my last mechanic never told me about the leak",
            "the other shop botched my alignment those morons",
            "my attorney told me to get a copy of the invoice for the insurance",
        ],
        expect![[r#"
            "honestly im pretty upset nobody called me" => escalation=anger
            "i am done being polite where is my car" => intent=check_status escalation=anger
            "the paint is scratched and thats a disgrace" => escalation=anger
            "nobody here knows what theyre doing" => escalation=anger
            "nobody tells me anything and its been a week" => intent=check_status escalation=anger
            "please stop transferring me i just want an answer" => escalation=anger
            "ive been bounced around by three people now" => escalation=anger
            "im disputing the brake charge" => escalation=legal_threat service=brake service
            "my lawyer told me to keep the receipts and he will be in touch" => escalation=legal_threat
            "the dealer quoted 900 and you idiots want 1200" => escalation=anger
            "your tow truck guy was rude and this whole thing is ridiculous" => escalation=anger
            "its ridiculous what the dealership charged me and now youre charging more" => intent=pricing_inquiry escalation=anger
            "my car bounced around on the highway i think its the shocks" => nothing
            "nobody here knows how to change a cabin filter so can you" => nothing
            "its ridiculous what the dealership wants for a key fob can you do it" => intent=general_inquiry
            "im disputing the tow charge with the towing company" => intent=general_inquiry
            "the tow truck driver showed up two hours late and honestly it was ridiculous" => escalation=anger
            "this is ridiculous my last mechanic never told me about the leak" => intent=check_status service=diagnostic
            "the other shop botched my alignment those morons" => intent=schedule_appointment service=wheel alignment
            "my attorney told me to get a copy of the invoice for the insurance" => intent=general_inquiry
        "#]],
    );
}

#[test]
fn times_asked_instead_or_moved_by_a_span_and_what_a_service_includes() {
    check(
        &[
            // The time in the clause that asks for something instead is the one wanted; the
            // time said before it is given up, however it was said.
            "i had eleven tomorrow but can we do one instead",
            "im down for nine on friday but could i come at three instead",
            "my slot is at ten can you fit me in at noon instead",
            "i was gonna drop it at eight but can i bring it at five instead",
            "can i come at 4 instead i work till 6",
            // A correction before the clause does not hide it; one after it wins.
            "no i was gonna come at 2 but could i come at 4 instead",
            "could i come at 4 instead no wait 5",
            // The clause ends at "instead" when it has a time of its own.
            "could you do 2 instead my ride comes at noon",
            // A call asked for instead names no time to come.
            "book me at 10 tomorrow could you call me back at 2 instead",
            // An "off" after "instead" is no "instead of".
            "im down for 9 but can i come at 11 instead off the books",
            // "instead of" names the time given up, as before.
            "can we do four instead of two",
            // No clock time in the clause: the rest of the rules decide.
            "i have nine on friday can we do monday instead at the same time",
            // A time moved by a span is the time said moved by it, unless the new time is
            // named.
            "can you push my appointment back an hour it was at two",
            "i got the oil change at 10 15 tomorrow can we move it up half an hour",
            "my appointment is at 3 can you bump it back 30 minutes",
            "can we do an hour later than my 9 oclock",
            "push it back an hour to eleven thirty",
            "push it back an hour",
            // Only the day moves: the time it was is kept.
            "can we do thursday instead same time which was nine",
            "same time that was 2 but on friday",
            // What a service includes, asked without a price, is a general question; with a
            // price or another number said, the model decides.
            "what does a tire rotation include",
            "does the ac service include a leak check",
            // "come with" only in a question of what: here a caller coming with the car.
            "quick question do you want me to come with the car monday or tuesday",
            "whats included in the eighty nine dollar brake special",
            "how much is the inspection and what does it include",
        ],
        expect![[r#"
            "i had eleven tomorrow but can we do one instead" => intent=reschedule_appointment date=2026-11-25 (tomorrow) time=13:00 (1)
            "im down for nine on friday but could i come at three instead" => intent=reschedule_appointment date=2026-11-27 (friday) time=15:00 (3)
            "my slot is at ten can you fit me in at noon instead" => intent=reschedule_appointment time=12:00 (noon)
            "i was gonna drop it at eight but can i bring it at five instead" => intent=reschedule_appointment time=17:00 (5)
            "can i come at 4 instead i work till 6" => intent=reschedule_appointment time=16:00 (4)
            "no i was gonna come at 2 but could i come at 4 instead" => intent=reschedule_appointment time=16:00 (4)
            "could i come at 4 instead no wait 5" => intent=reschedule_appointment time=17:00 (5)
            "could you do 2 instead my ride comes at noon" => intent=reschedule_appointment time=14:00 (2)
            "book me at 10 tomorrow could you call me back at 2 instead" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=10:00 (10)
            "im down for 9 but can i come at 11 instead off the books" => intent=reschedule_appointment time=11:00 (11)
            "can we do four instead of two" => intent=reschedule_appointment time=16:00 (4)
            "i have nine on friday can we do monday instead at the same time" => intent=reschedule_appointment date=2026-11-30 (monday)
            "can you push my appointment back an hour it was at two" => intent=reschedule_appointment time=15:00 (an hour after 2)
            "i got the oil change at 10 15 tomorrow can we move it up half an hour" => intent=reschedule_appointment service=oil change date=2026-11-25 (tomorrow) time=09:45 (half an hour before 10 15)
            "my appointment is at 3 can you bump it back 30 minutes" => intent=reschedule_appointment time=15:30 (30 minutes after 3)
            "can we do an hour later than my 9 oclock" => intent=reschedule_appointment time=10:00 (an hour after 9 oclock)
            "push it back an hour to eleven thirty" => intent=reschedule_appointment time=11:30 (11 30)
            "push it back an hour" => intent=reschedule_appointment
            "can we do thursday instead same time which was nine" => intent=reschedule_appointment date=2026-11-26 (thursday) time=09:00 (9)
            "same time that was 2 but on friday" => intent=reschedule_appointment date=2026-11-27 (friday) time=14:00 (2)
            "what does a tire rotation include" => intent=general_inquiry service=tire rotation
            "does the ac service include a leak check" => intent=general_inquiry service=ac service
            "quick question do you want me to come with the car monday or tuesday" => intent=general_inquiry
            "whats included in the eighty nine dollar brake special" => intent=pricing_inquiry service=brake service
            "how much is the inspection and what does it include" => intent=pricing_inquiry service=state inspection
        "#]],
    );
}

#[test]
fn ridiculous_aimed_at_the_dealer_without_what() {
    check(
        &[
            // "ridiculous" aimed at what a dealer asks is no anger at the shop, with or without
            // "what".
            "my mechanic friend said its ridiculous the dealer wants to charge me for a software update",
            "its ridiculous the dealership charges that much can you do it cheaper",
            // Aimed at the shop, it still is.
            "its ridiculous you guys want six hundred for that",
            "its ridiculous what the dealership charged me and now youre charging more",
        ],
        expect![[r#"
            "my mechanic friend said its ridiculous the dealer wants to charge me for a software update" => intent=general_inquiry
            "its ridiculous the dealership charges that much can you do it cheaper" => intent=general_inquiry
            "its ridiculous you guys want six hundred for that" => intent=pricing_inquiry escalation=anger
            "its ridiculous what the dealership charged me and now youre charging more" => intent=pricing_inquiry escalation=anger
        "#]],
    );
}

#[test]
fn an_hour_said_right_after_a_day() {
    check(
        &[
            // An hour right after the day is the time asked for.
            "could i bring the truck in thursday ten for the brakes",
            "i want come tomorrow eight for oil change",
            "what about saturday uh nine",
            // A count or a date after a day is no time.
            "can you do tomorrow 2 oil changes",
            "do you have friday 2 slots open",
            "can i come monday 8 december at 10",
            // "at 9 hour", as some callers say it; a span or a rate is not a time.
            "i come at ten hour on friday for brakes",
            "they said it be done at 1 hour",
            "can it be done in about 2 hours",
            "they told me at the 2 hour mark it would be done",
            "you billed me at 3 hour labor for a 20 minute job",
            "the quote had it at 3 hour for labor",
            "were at 2 hour and still no call",
            // "one" after a day is the pronoun ("the friday one"), and a count is no time.
            "just cancel the monday one",
            "i need tomorrow 2 tires put on",
            "can you do tuesday 3 at 10",
            // "one" after a day without "the" is one o'clock.
            "can i come thursday 1 for the brakes",
        ],
        expect![[r#"
            "could i bring the truck in thursday ten for the brakes" => intent=schedule_appointment service=brake service date=2026-11-26 (thursday) time=10:00 (10)
            "i want come tomorrow eight for oil change" => intent=schedule_appointment service=oil change date=2026-11-25 (tomorrow) time=08:00 (8)
            "what about saturday uh nine" => intent=check_status date=2026-11-28 (saturday) time=09:00 (9)
            "can you do tomorrow 2 oil changes" => intent=schedule_appointment service=oil change date=2026-11-25 (tomorrow)
            "do you have friday 2 slots open" => intent=schedule_appointment date=2026-11-27 (friday)
            "can i come monday 8 december at 10" => intent=schedule_appointment date=2026-12-08 (8 december) time=10:00 (10)
            "i come at ten hour on friday for brakes" => intent=schedule_appointment service=brake service date=2026-11-27 (friday) time=10:00 (10)
            "they said it be done at 1 hour" => intent=check_status
            "can it be done in about 2 hours" => intent=check_status
            "they told me at the 2 hour mark it would be done" => intent=check_status
            "you billed me at 3 hour labor for a 20 minute job" => nothing
            "the quote had it at 3 hour for labor" => intent=pricing_inquiry
            "were at 2 hour and still no call" => intent=check_status
            "just cancel the monday one" => intent=cancel_appointment date=2026-11-30 (monday)
            "i need tomorrow 2 tires put on" => intent=schedule_appointment date=2026-11-25 (tomorrow)
            "can you do tuesday 3 at 10" => intent=schedule_appointment date=2026-12-01 (tuesday) time=10:00 (10)
            "can i come thursday 1 for the brakes" => intent=schedule_appointment service=brake service date=2026-11-26 (thursday) time=13:00 (1)
        "#]],
    );
}

#[test]
fn complaints_of_how_the_caller_was_treated_and_asking_for_someone_by_a_word_with_them() {
    check(
        &[
            // Not liking how the caller was treated, no call at all, a trip down to find the car,
            // the shop's website or phones called junk.
            "i did not like the way i was treated at your counter",
            "four days and not a single phone call about my van",
            "three days and no call do i have to come down there and find it",
            "your phone system is a piece of junk",
            // Calm: treated well (also after "after" or "about"), a car treated for rust, a trip
            // down asked about, parts the shop called junk, the caller's own car called junk.
            "i really appreciated the way i was treated last time",
            "after the way we were treated last time we will definitely be back",
            "i told all my friends about how i was treated",
            "can you tell me how my truck was treated for rust",
            "do i need to come down there or can i pay over the phone",
            "do i need to come down there and get it or can you drop it off",
            "your guy said the rotors are junk so how much for new ones",
            "my old truck is a piece of junk so i want a quote on the new one",
            // A word with the shop's manager or mechanic, someone asked for by name, the owner's
            // number, ask for a person; a word with the caller's own people or with the agent,
            // the car owner's name and the owner's manual do not.
            "i would like to have a word with the manager about my bill",
            "is mr patel there i need to speak to him",
            "give me the owners number please",
            "i need to have a word with my wife about the price and call you back",
            "my son drove it with the oil light on i need to have a word with him",
            "id like to have a word with you about my estimate",
            "its my dads truck do you need the owners name",
            "do i need the owners name and address for the paperwork",
            "it says in the owners manual the oil is 5w30",
        ],
        expect![[r#"
            "i did not like the way i was treated at your counter" => escalation=anger
            "four days and not a single phone call about my van" => intent=check_status escalation=anger
            "three days and no call do i have to come down there and find it" => intent=check_status escalation=anger
            "your phone system is a piece of junk" => escalation=anger
            "i really appreciated the way i was treated last time" => nothing
            "after the way we were treated last time we will definitely be back" => nothing
            "i told all my friends about how i was treated" => nothing
            "can you tell me how my truck was treated for rust" => intent=check_status
            "do i need to come down there or can i pay over the phone" => intent=general_inquiry
            "do i need to come down there and get it or can you drop it off" => intent=general_inquiry
            "your guy said the rotors are junk so how much for new ones" => intent=pricing_inquiry service=brake service
            "my old truck is a piece of junk so i want a quote on the new one" => intent=pricing_inquiry
            "i would like to have a word with the manager about my bill" => escalation=manager_request
            "is mr patel there i need to speak to him" => escalation=manager_request
            "give me the owners number please" => escalation=manager_request
            "i need to have a word with my wife about the price and call you back" => nothing
            "my son drove it with the oil light on i need to have a word with him" => nothing
            "id like to have a word with you about my estimate" => intent=pricing_inquiry
            "its my dads truck do you need the owners name" => intent=general_inquiry
            "do i need the owners name and address for the paperwork" => intent=general_inquiry
            "it says in the owners manual the oil is 5w30" => nothing
        "#]],
    );
}

#[test]
fn times_of_the_callers_own_day_in_the_past_and_on_labels_are_not_the_time_asked_for() {
    check(
        &[
            // The caller's own day: work, school runs, the bus, court, a meeting; what follows
            // it is still read.
            "i start work at nine so can i drop it off friday before that",
            "my shift is seven to three thirty so any day after that works",
            "i pick my son up from school at three fifteen so can i come monday",
            "she catches the bus at eight so can you take the car monday at ten",
            "i got a meeting at eleven how long does an oil change take",
            "im in court at nine tomorrow so could you take it at eight",
            "my son gets out of practice at four so can we do friday",
            "i need the car to pick up the kids at three is it gonna be done by then",
            // Past times, and times someone else gave.
            "i was there last friday at ten and nobody helped me",
            "they promised it by five yesterday is it done now",
            "we were in at four yesterday and the line was long can i come friday",
            "can i get the same slot i was in at nine yesterday",
            "the last shop took till six to do my brakes can you do them tomorrow at nine",
            "i keep getting told call back at two can i just book tuesday at eleven",
            // Numbers that label or count, and a quote.
            "fleet unit four twelve needs an oil change monday",
            "im at the inn on route nine room two fourteen do you tow",
            "my plate ends in ten thirty is my car done",
            "she just hit one twenty thousand and needs a transmission service",
            "i got a quote for two fifty on brakes is that fair",
            "are units two oh six and two oh nine done",
            // Kept: someone's time off asked about, a past time asked for again, a booking
            // for an estimate; no time: a count after "how many", a count opening the line.
            "my wife is off at four will you still be open",
            "can i get the same time as last week at ten",
            "can i book an estimate for ten thirty tomorrow",
            "how many quarts does it take is it five",
            "two or three of them are leaking",
        ],
        expect![[r#"
            "i start work at nine so can i drop it off friday before that" => intent=schedule_appointment date=2026-11-27 (friday)
            "my shift is seven to three thirty so any day after that works" => nothing
            "i pick my son up from school at three fifteen so can i come monday" => intent=schedule_appointment date=2026-11-30 (monday)
            "she catches the bus at eight so can you take the car monday at ten" => intent=schedule_appointment date=2026-11-30 (monday) time=10:00 (10)
            "i got a meeting at eleven how long does an oil change take" => intent=general_inquiry service=oil change
            "im in court at nine tomorrow so could you take it at eight" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=08:00 (8)
            "my son gets out of practice at four so can we do friday" => intent=schedule_appointment date=2026-11-27 (friday)
            "i need the car to pick up the kids at three is it gonna be done by then" => intent=check_status time=15:00 (3)
            "i was there last friday at ten and nobody helped me" => nothing
            "they promised it by five yesterday is it done now" => intent=check_status
            "we were in at four yesterday and the line was long can i come friday" => intent=schedule_appointment date=2026-11-27 (friday)
            "can i get the same slot i was in at nine yesterday" => intent=schedule_appointment time=09:00 (9)
            "the last shop took till six to do my brakes can you do them tomorrow at nine" => intent=schedule_appointment service=brake service date=2026-11-25 (tomorrow) time=09:00 (9)
            "i keep getting told call back at two can i just book tuesday at eleven" => intent=schedule_appointment date=2026-12-01 (tuesday) time=11:00 (11)
            "fleet unit four twelve needs an oil change monday" => intent=schedule_appointment service=oil change date=2026-11-30 (monday)
            "im at the inn on route nine room two fourteen do you tow" => intent=general_inquiry
            "my plate ends in ten thirty is my car done" => intent=check_status
            "she just hit one twenty thousand and needs a transmission service" => intent=schedule_appointment service=transmission service
            "i got a quote for two fifty on brakes is that fair" => intent=pricing_inquiry service=brake service
            "are units two oh six and two oh nine done" => intent=check_status
            "my wife is off at four will you still be open" => intent=check_hours time=16:00 (4)
            "can i get the same time as last week at ten" => intent=schedule_appointment time=10:00 (10)
            "can i book an estimate for ten thirty tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=10:30 (10 30)
            "how many quarts does it take is it five" => intent=general_inquiry
            "two or three of them are leaking" => intent=schedule_appointment service=diagnostic
        "#]],
    );
}

#[test]
fn minutes_to_the_hour_an_hour_said_with_oh_and_an_hour_asked_about() {
    check(
        &[
            // Minutes to the hour where no range can be meant; a range is its start.
            "can i come friday at ten to ten",
            "cancel my appointment on the fourth at twenty to eleven",
            "book me at twenty five to three on monday",
            "can i come tomorrow between ten to eleven",
            // "oh" for a zero after an hour; a phone number is not a time.
            "would eleven oh five on friday work for the inspection",
            "can i come at ten oh five tomorrow",
            "my number is five five five oh one two three four",
            "eight oh one",
            "four oh nine maple drive",
            // The hour of a booking asked about; not a count or a choice.
            "when was i supposed to pick it up was it five",
            "my pickup is today right is it still three",
            "is it four wheel drive that you need to know",
            "was it three or four",
            // A choice left open at the start of the line.
            "nine or nine thirty either one is fine monday",
        ],
        expect![[r#"
            "can i come friday at ten to ten" => intent=schedule_appointment date=2026-11-27 (friday) time=09:50 (10 to 10)
            "cancel my appointment on the fourth at twenty to eleven" => intent=cancel_appointment date=2026-12-04 (4th) time=10:40 (20 to 11)
            "book me at twenty five to three on monday" => intent=schedule_appointment date=2026-11-30 (monday) time=14:35 (25 to 3)
            "can i come tomorrow between ten to eleven" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=10:00 (10)
            "would eleven oh five on friday work for the inspection" => intent=schedule_appointment service=state inspection date=2026-11-27 (friday) time=11:05 (11 oh 5)
            "can i come at ten oh five tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=10:05 (10 oh 5)
            "my number is five five five oh one two three four" => nothing
            "eight oh one" => nothing
            "four oh nine maple drive" => nothing
            "when was i supposed to pick it up was it five" => intent=check_status time=17:00 (5)
            "my pickup is today right is it still three" => intent=check_status date=2026-11-24 (today) time=15:00 (3)
            "is it four wheel drive that you need to know" => intent=general_inquiry
            "was it three or four" => intent=check_status
            "nine or nine thirty either one is fine monday" => intent=schedule_appointment date=2026-11-30 (monday)
        "#]],
    );
}

#[test]
fn escalations_without_the_usual_words_and_calm_lines_that_share_them() {
    check(
        &[
            // A person asked for by name or as whoever does the work.
            "can i get maria on the line she did my paperwork",
            "can you put tony on hes the one who knows my truck",
            "is dave there i need to talk to dave he did my brakes",
            "let me talk to whoever is working on my car",
            "i want speak with people not machine",
            "i need whoever can set up a fleet account",
            // Anger without a curse or the usual words.
            "are you guys even real mechanics",
            "is anybody able to tell me if its done or is that too much to ask",
            "you charged me twice thats a scam",
            "three times i brought it in three times same problem this is not acceptable",
            "its the guy you keep forgetting about is my truck done",
            "do i have to drive down there myself",
            "every time its tomorrow tomorrow tomorrow",
            "whoever did my brakes clearly had no idea what they were doing",
            "so consider this my last visit",
            "this is definitely my last visit",
            "i called this morning and the last guy was useless",
            "you people are so good at making excuses",
            "i heard the owner is in today can i talk to him",
            "my lawyer wants to meet with you guys about the damage",
            // Legal threats without a lawyer: a stopped check, a card dispute, an agency.
            "i told my bank to stop the check so dont try to cash it",
            "my card company already has a dispute open for that repair",
            "get me the owner or this goes to my bank as a disputed charge",
            "the federal trade commission is hearing about this",
            "im reporting your shop to the state",
            "youll be hearing from my attorney in writing",
            // Calm lines with the same words.
            "everybody loves ana at the front desk do you take walk ins",
            "the lady at the front desk was a sweetheart last time",
            "i heard the owner is a real nice guy do you do alignments",
            "my neighbor says you people are honest how much is a diagnostic",
            "the guy at the other shop was useless so how much for a diagnostic",
            "my last visit was quick can i book another oil change",
            "if my car could sue me it would ha when can you fit me in",
            "we had a small claims thing with our landlord anyway i need tires",
            "my lawyer wants to meet at eleven so can i drop the car at eight",
            "i have to go to court over a speeding ticket can i get an inspection first",
            "im in court all day tomorrow so friday for the oil change",
            "um can i do tomorrow tomorrow at ten",
            "can you put it on please",
            "do i need to come down there myself or can my son drop it off",
            "the last shop had no idea what they were doing so im bringing it to you",
            "could i get booked on the phone",
            "is friday available i need to talk to my wife first",
            "i got a text saying my warranty expired i think thats a scam",
            "can you stop the check engine light from coming on",
            "i got paperwork from the county saying my emissions is due",
            "the federal trade commission says i dont need the dealer to keep my warranty right",
            "my bank has a dispute open on some fraud charges can i pay cash",
            "the adjuster said ill be hearing from them in writing can you hold the car",
            "i paid with my card at pickup so i told my bank to stop the check i mailed you",
            "the tow company charged me twice so thats going to my card company as a disputed charge",
        ],
        expect![[r#"
            "can i get maria on the line she did my paperwork" => escalation=manager_request
            "can you put tony on hes the one who knows my truck" => escalation=manager_request
            "is dave there i need to talk to dave he did my brakes" => escalation=manager_request service=brake service
            "let me talk to whoever is working on my car" => escalation=manager_request
            "i want speak with people not machine" => escalation=manager_request
            "i need whoever can set up a fleet account" => intent=schedule_appointment escalation=manager_request
            "are you guys even real mechanics" => escalation=anger
            "is anybody able to tell me if its done or is that too much to ask" => intent=check_status escalation=anger
            "you charged me twice thats a scam" => escalation=anger
            "three times i brought it in three times same problem this is not acceptable" => escalation=anger
            "its the guy you keep forgetting about is my truck done" => intent=check_status escalation=anger
            "do i have to drive down there myself" => intent=general_inquiry escalation=anger
            "every time its tomorrow tomorrow tomorrow" => escalation=anger date=2026-11-25 (tomorrow)
            "whoever did my brakes clearly had no idea what they were doing" => escalation=anger service=brake service
            "so consider this my last visit" => escalation=anger
            "this is definitely my last visit" => escalation=anger
            "i called this morning and the last guy was useless" => escalation=anger
            "you people are so good at making excuses" => escalation=anger
            "i heard the owner is in today can i talk to him" => escalation=manager_request
            "my lawyer wants to meet with you guys about the damage" => escalation=legal_threat
            "i told my bank to stop the check so dont try to cash it" => escalation=legal_threat
            "my card company already has a dispute open for that repair" => escalation=legal_threat
            "get me the owner or this goes to my bank as a disputed charge" => escalation=legal_threat
            "the federal trade commission is hearing about this" => escalation=legal_threat
            "im reporting your shop to the state" => escalation=legal_threat
            "youll be hearing from my attorney in writing" => escalation=legal_threat
            "everybody loves ana at the front desk do you take walk ins" => intent=general_inquiry
            "the lady at the front desk was a sweetheart last time" => nothing
            "i heard the owner is a real nice guy do you do alignments" => intent=general_inquiry service=wheel alignment
            "my neighbor says you people are honest how much is a diagnostic" => intent=pricing_inquiry service=diagnostic
            "the guy at the other shop was useless so how much for a diagnostic" => intent=pricing_inquiry service=diagnostic
            "my last visit was quick can i book another oil change" => intent=schedule_appointment service=oil change
            "if my car could sue me it would ha when can you fit me in" => intent=schedule_appointment
            "we had a small claims thing with our landlord anyway i need tires" => intent=schedule_appointment
            "my lawyer wants to meet at eleven so can i drop the car at eight" => intent=schedule_appointment time=08:00 (8)
            "i have to go to court over a speeding ticket can i get an inspection first" => intent=schedule_appointment service=state inspection
            "im in court all day tomorrow so friday for the oil change" => intent=schedule_appointment service=oil change date=2026-11-27 (friday)
            "um can i do tomorrow tomorrow at ten" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=10:00 (10)
            "can you put it on please" => nothing
            "do i need to come down there myself or can my son drop it off" => intent=general_inquiry
            "the last shop had no idea what they were doing so im bringing it to you" => nothing
            "could i get booked on the phone" => nothing
            "is friday available i need to talk to my wife first" => date=2026-11-27 (friday)
            "i got a text saying my warranty expired i think thats a scam" => intent=general_inquiry
            "can you stop the check engine light from coming on" => intent=general_inquiry service=check engine light
            "i got paperwork from the county saying my emissions is due" => service=state inspection
            "the federal trade commission says i dont need the dealer to keep my warranty right" => intent=cancel_appointment
            "my bank has a dispute open on some fraud charges can i pay cash" => intent=general_inquiry
            "the adjuster said ill be hearing from them in writing can you hold the car" => nothing
            "i paid with my card at pickup so i told my bank to stop the check i mailed you" => nothing
            "the tow company charged me twice so thats going to my card company as a disputed charge" => nothing
        "#]],
    );
}

#[test]
fn let_down_callers_people_asked_for_in_passing_and_ranges_said_from_one_hour_to_another() {
    check(
        &[
            // Anger told as a story of being let down, or as sarcasm.
            "thats the third time you guys bumped me",
            "you already moved my appointment twice now",
            "nobody answered the last few times i called so is the van done",
            "you people never pick up do you",
            "the dealer at least answers the phone",
            "im never bringing my truck back there after this",
            "im not paying a penny for that",
            "the girl at the desk hung up on me",
            "let me guess its not ready",
            "wow real professional guys",
            "you said wednesday and then friday and still nothing",
            // A person asked for by name, by job or as the one who can help.
            "is tom there he fixed my ac last month",
            "could you get mike the mechanic on the phone",
            "i need to talk to rosa about my car she said it would be ready",
            "is there someone who can pull up my invoice",
            "who do i speak to about a refund",
            // Legal threats without a lawyer.
            "the b b b is going to hear about this",
            "ive reported your shop to the attorney general",
            "my bank is looking into the charge right now",
            "i disputed the charge with my credit card company",
            "my nephew is drawing up a letter to send you",
            "you dont have a leg to stand on",
            // Calm lines with the same words.
            "the other shop kept it three weeks and i was so mad so i want you to do the brakes",
            "my husband keeps saying thats ridiculous to pay for a rotation is it worth it",
            "im so done with this old car can you look at the transmission",
            "the other guy hung up on me so i called you",
            "my sister in law is a lawyer and she recommended you",
            "we have a small claims case against our landlord so i need my car back friday",
            "i did a chargeback on the rental company not you guys",
            "i went to the better business bureau about a roofer once and the contractor was useless",
            "someone said they called the better business bureau on you is that true",
            "my attorney is picking up the car at four",
            "my boss says i should ask for a manager to get a discount",
            // Times: a range from one hour to another, a move, a model, a tire size, the
            // caller's own day, a choice left open, a time said after a filler.
            "can you take me friday from nine to ten",
            "can you move me friday from nine to ten",
            "my bmw is a 5 28 i and the light is on",
            "four tires the 2 25 65 17s how much",
            "how late are you open i dont get off work till five",
            "i get off at five thirty what time do you close",
            "i could do ten or ten thirty on monday",
            "saturday uh oh nine hundred for an inspection",
            "i have to make the 4 10 train so is it done",
            "i dropped it off this morning at seven forty five is it ready",
            "i came by last week like three oclock can i do monday at ten",
            "i came by at four thirty yesterday and you were closed",
            "your website says you open at seven is that right",
            "the mileage is around one forty",
            // The review's probes: look-alikes the rules above must leave alone, and real
            // escalations their decoys must not hide.
            "can i get an oil change tomorrow anytime from 9 to 11",
            "my bumper is hanging off can you take me tomorrow from 2 to 4",
            "can you try moving me from 10 to 2",
            "im changing my appointment from 10 to 2",
            "can i get a high mileage oil change tomorrow at 8 30",
            "so its anywhere from 2 to 3 days right",
            "the price went from 4 to 6 hundred",
            "how late are you open tomorrow could i come at 5 30 i get off at 5",
            "the website says 2 30 is open tomorrow can i grab that",
            "my left headlight is out can i come this morning at 10",
            "i work from 9 to 5 can you do 6",
            "hi i wanted to talk to you about my car she said its making a grinding noise",
            "hey is it in he said it would be here tuesday",
            "if i do the repair with you im not paying a dime for the diagnostic right",
            "my buddy said you guys do real professional work",
            "i dont know the mileage let me guess its around 80000",
            "i called the dealer and the guy hung up on me so im calling you",
            "i tried the dealer but nobody picked up the last few times so can you fit me in",
            "i never take my truck there because the dealer is so expensive",
            "i said tuesday and then thursday now im thinking wednesday is better",
            "can you look up my truck the plate is b b b 7 7 3",
            "im not reporting you guys to anyone i just want it fixed",
            "i know i dont have a leg to stand on since the warranty ran out",
            "my husband keeps saying you guys are crooks and honestly its ridiculous",
            "my attorney is coming by the shop tomorrow to take pictures of the damage",
            "my brother in law is a judge so good luck with that",
            "my friend said i should ask for the manager so can i talk to him",
            "is donna in let me talk to her about my tahoe",
        ],
        expect![[r#"
            "thats the third time you guys bumped me" => escalation=anger
            "you already moved my appointment twice now" => intent=reschedule_appointment escalation=anger
            "nobody answered the last few times i called so is the van done" => intent=check_status escalation=anger
            "you people never pick up do you" => escalation=anger
            "the dealer at least answers the phone" => nothing
            "im never bringing my truck back there after this" => escalation=anger
            "im not paying a penny for that" => escalation=anger
            "the girl at the desk hung up on me" => nothing
            "let me guess its not ready" => escalation=anger
            "wow real professional guys" => escalation=anger
            "you said wednesday and then friday and still nothing" => intent=check_status escalation=anger date=2026-11-25 (wednesday)
            "is tom there he fixed my ac last month" => escalation=manager_request service=ac service
            "could you get mike the mechanic on the phone" => escalation=manager_request
            "i need to talk to rosa about my car she said it would be ready" => intent=check_status escalation=manager_request
            "is there someone who can pull up my invoice" => intent=general_inquiry escalation=manager_request
            "who do i speak to about a refund" => escalation=manager_request
            "the b b b is going to hear about this" => escalation=legal_threat
            "ive reported your shop to the attorney general" => escalation=legal_threat
            "my bank is looking into the charge right now" => escalation=legal_threat
            "i disputed the charge with my credit card company" => escalation=legal_threat
            "my nephew is drawing up a letter to send you" => escalation=legal_threat
            "you dont have a leg to stand on" => escalation=legal_threat
            "the other shop kept it three weeks and i was so mad so i want you to do the brakes" => intent=schedule_appointment service=brake service
            "my husband keeps saying thats ridiculous to pay for a rotation is it worth it" => intent=pricing_inquiry service=tire rotation
            "im so done with this old car can you look at the transmission" => intent=schedule_appointment service=transmission service
            "the other guy hung up on me so i called you" => nothing
            "my sister in law is a lawyer and she recommended you" => nothing
            "we have a small claims case against our landlord so i need my car back friday" => intent=schedule_appointment date=2026-11-27 (friday)
            "i did a chargeback on the rental company not you guys" => nothing
            "i went to the better business bureau about a roofer once and the contractor was useless" => nothing
            "someone said they called the better business bureau on you is that true" => intent=general_inquiry
            "my attorney is picking up the car at four" => time=16:00 (4)
            "my boss says i should ask for a manager to get a discount" => intent=pricing_inquiry
            "can you take me friday from nine to ten" => intent=schedule_appointment date=2026-11-27 (friday) time=09:00 (9)
            "can you move me friday from nine to ten" => intent=reschedule_appointment date=2026-11-27 (friday) time=10:00 (10)
            "my bmw is a 5 28 i and the light is on" => vehicle=BMW
            "four tires the 2 25 65 17s how much" => intent=pricing_inquiry service=tire replacement
            "how late are you open i dont get off work till five" => intent=check_hours
            "i get off at five thirty what time do you close" => intent=check_hours
            "i could do ten or ten thirty on monday" => intent=check_status date=2026-11-30 (monday)
            "saturday uh oh nine hundred for an inspection" => intent=schedule_appointment service=state inspection date=2026-11-28 (saturday) time=09:00 (oh 9 hundred)
            "i have to make the 4 10 train so is it done" => intent=check_status
            "i dropped it off this morning at seven forty five is it ready" => intent=check_status
            "i came by last week like three oclock can i do monday at ten" => intent=schedule_appointment date=2026-11-30 (monday) time=10:00 (10)
            "i came by at four thirty yesterday and you were closed" => nothing
            "your website says you open at seven is that right" => intent=check_hours
            "the mileage is around one forty" => nothing
            "can i get an oil change tomorrow anytime from 9 to 11" => intent=schedule_appointment service=oil change date=2026-11-25 (tomorrow) time=09:00 (9)
            "my bumper is hanging off can you take me tomorrow from 2 to 4" => intent=reschedule_appointment date=2026-11-25 (tomorrow) time=14:00 (2)
            "can you try moving me from 10 to 2" => intent=reschedule_appointment time=14:00 (2)
            "im changing my appointment from 10 to 2" => intent=reschedule_appointment time=14:00 (2)
            "can i get a high mileage oil change tomorrow at 8 30" => intent=schedule_appointment service=oil change date=2026-11-25 (tomorrow) time=08:30 (8 30)
            "so its anywhere from 2 to 3 days right" => nothing
            "the price went from 4 to 6 hundred" => intent=pricing_inquiry
            "how late are you open tomorrow could i come at 5 30 i get off at 5" => intent=check_hours date=2026-11-25 (tomorrow) time=17:30 (5 30)
            "the website says 2 30 is open tomorrow can i grab that" => intent=check_hours date=2026-11-25 (tomorrow) time=14:30 (2 30)
            "my left headlight is out can i come this morning at 10" => intent=schedule_appointment time=10:00 (10)
            "i work from 9 to 5 can you do 6" => intent=schedule_appointment time=18:00 (6)
            "hi i wanted to talk to you about my car she said its making a grinding noise" => service=diagnostic
            "hey is it in he said it would be here tuesday" => intent=check_status date=2026-12-01 (tuesday)
            "if i do the repair with you im not paying a dime for the diagnostic right" => intent=pricing_inquiry service=diagnostic
            "my buddy said you guys do real professional work" => nothing
            "i dont know the mileage let me guess its around 80000" => nothing
            "i called the dealer and the guy hung up on me so im calling you" => nothing
            "i tried the dealer but nobody picked up the last few times so can you fit me in" => intent=schedule_appointment
            "i never take my truck there because the dealer is so expensive" => intent=pricing_inquiry
            "i said tuesday and then thursday now im thinking wednesday is better" => date=2026-12-01 (tuesday)
            "can you look up my truck the plate is b b b 7 7 3" => nothing
            "im not reporting you guys to anyone i just want it fixed" => nothing
            "i know i dont have a leg to stand on since the warranty ran out" => nothing
            "my husband keeps saying you guys are crooks and honestly its ridiculous" => escalation=anger
            "my attorney is coming by the shop tomorrow to take pictures of the damage" => escalation=legal_threat date=2026-11-25 (tomorrow)
            "my brother in law is a judge so good luck with that" => escalation=legal_threat
            "my friend said i should ask for the manager so can i talk to him" => escalation=manager_request
            "is donna in let me talk to her about my tahoe" => escalation=manager_request
        "#]],
    );
}

#[test]
fn times_of_the_callers_own_day_said_with_a_clock_and_threats_said_to_an_agency() {
    check(
        &[
            // The caller's own day, and the past, said with a clock time.
            "my flight is at six so can i drop it off at nine tomorrow",
            "i have a recital at four on saturday can you do ten that morning",
            "i gotta get my daughter at two forty five is the car done",
            "my son gets out at three so can i come at one",
            "i need to be back at the office by one how long is an oil change",
            "i got a two thirty meeting so is it ready by noon",
            "the guy called me at eleven yesterday about the alternator",
            "you left me a voicemail at nine fifteen about the quote",
            "the light came on at like seven this morning on the highway",
            "i can do either nine or nine thirty on friday doesnt matter",
            "ten to nine tomorrow for the oil change",
            "can i come ten to eleven tomorrow",
            "four tires 2 25 65s how much",
            // Threats and anger at the shop without the usual words.
            "ill be calling my credit card company about this charge",
            "i have a case number from visa about your charge",
            "i contacted the attorney general about you",
            "i sat three hours in your lobby",
            "i dont have anything nice to say to you people",
            "the light is still on and you still charged me",
            "i was told monday then wednesday and its still not done",
            "im going to a shop that actually answers the phone",
            "every time i call i get a different answer",
            "book me monday and this time actually order the part",
            "apparently you guys cant do anything right",
            "do you guys even know how to change oil",
            "can i talk to the lady i spoke with yesterday",
            "can i speak to rick hes the guy who did my alignment",
            // The same words aimed elsewhere.
            "my lawyer needs a copy of the invoice for the accident claim",
            "i disputed the charge with the other shop can you redo the brakes",
            "the last place did a terrible job can you look at the alignment",
            "the other shop charged me for brakes i never got",
            "i complained to the bbb about the dealership not you",
            "the judge was really nice about my sticker i just need the inspection",
            "i have a meeting with my divorce lawyer at two so can i come at ten",
            "that tow company is a joke anyway can you run a diagnostic",
            "unbelievable weather today can i get snow tires on",
            "i put regular in the diesel like an idiot can you drain it",
            "the guys at jiffy lube were useless can you do my oil change",
            "my girlfriend is furious the car died on our date",
            "my own stupid fault i ignored the light what does a diagnostic cost",
            "sorry my phone is useless can you hear me",
            "hell be home saturday can he bring it at ten",
            "how much to put these on i bought my own tires",
            "i knew the old owner back in the day",
            // The review's probes.
            "my lawyer wants the invoice for my case against your shop",
            "you guys treat me like an idiot every time i call",
            "what the hell come on its been 3 days",
            "i drove through this weather and your shop is a joke",
            "my cousin is a divorce lawyer and she says you cant keep my car",
            "im looking for a mechanic that actually knows subarus",
            "apparently you guys dont work on diesels is that right",
            "no thanks not this time actually",
            "i dont have anything nice to say about the dealership so im giving you guys a try",
            "the coupon said free inspection but you still charged me is that normal",
            "its my sons car you might want to talk to him hes the 1 who drives it",
            "let me get the guy i talked to at the insurance company to call you",
            "my card got declined so im calling my bank about the charge can you run it again",
            "i called the state about your emissions test it never uploaded",
            "my card was stolen last week i have a case number from the bank",
            "can i set up a meeting with the mechanic tomorrow at 10 to go over the estimate",
            "i called to ask if i can come in at 10 this morning",
            "i need to pick up my kids at 3 will it be done by then",
            "you called me about 2 30 tomorrow yeah that works",
            "just checking our bus is tomorrow at 9 right",
            "i think either 1 or 2 of my tires has a slow leak",
            "im free anytime 10 to 8 tomorrow",
            "are you guys open 10 to 7 on saturdays",
            // Minutes off the quarter hours with no word that leads to a time: a price or a
            // model; with one, a time.
            "the quote was like four twenty for the brakes can i come friday at ten",
            "is the alignment still like one ten",
            "can i come at like five forty",
            "will someone be there at five fifty five",
        ],
        expect![[r#"
            "my flight is at six so can i drop it off at nine tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=09:00 (9)
            "i have a recital at four on saturday can you do ten that morning" => intent=schedule_appointment date=2026-11-28 (saturday) time=10:00 (10)
            "i gotta get my daughter at two forty five is the car done" => intent=check_status
            "my son gets out at three so can i come at one" => intent=schedule_appointment time=13:00 (1)
            "i need to be back at the office by one how long is an oil change" => intent=general_inquiry service=oil change
            "i got a two thirty meeting so is it ready by noon" => intent=check_status time=12:00 (noon)
            "the guy called me at eleven yesterday about the alternator" => intent=check_status
            "you left me a voicemail at nine fifteen about the quote" => intent=check_status
            "the light came on at like seven this morning on the highway" => nothing
            "i can do either nine or nine thirty on friday doesnt matter" => intent=schedule_appointment date=2026-11-27 (friday)
            "ten to nine tomorrow for the oil change" => intent=schedule_appointment service=oil change date=2026-11-25 (tomorrow) time=08:50 (10 to 9)
            "can i come ten to eleven tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=11:00 (11)
            "four tires 2 25 65s how much" => intent=pricing_inquiry service=tire replacement
            "ill be calling my credit card company about this charge" => escalation=legal_threat
            "i have a case number from visa about your charge" => escalation=legal_threat
            "i contacted the attorney general about you" => escalation=legal_threat
            "i sat three hours in your lobby" => escalation=anger
            "i dont have anything nice to say to you people" => escalation=anger
            "the light is still on and you still charged me" => escalation=anger
            "i was told monday then wednesday and its still not done" => intent=check_status escalation=anger date=2026-11-30 (monday)
            "im going to a shop that actually answers the phone" => escalation=anger
            "every time i call i get a different answer" => escalation=anger
            "book me monday and this time actually order the part" => intent=schedule_appointment escalation=anger date=2026-11-30 (monday)
            "apparently you guys cant do anything right" => escalation=anger
            "do you guys even know how to change oil" => intent=general_inquiry escalation=anger service=oil change
            "can i talk to the lady i spoke with yesterday" => escalation=manager_request
            "can i speak to rick hes the guy who did my alignment" => escalation=manager_request service=wheel alignment
            "my lawyer needs a copy of the invoice for the accident claim" => intent=general_inquiry
            "i disputed the charge with the other shop can you redo the brakes" => intent=schedule_appointment service=brake service
            "the last place did a terrible job can you look at the alignment" => intent=schedule_appointment service=wheel alignment
            "the other shop charged me for brakes i never got" => intent=schedule_appointment service=brake service
            "i complained to the bbb about the dealership not you" => nothing
            "the judge was really nice about my sticker i just need the inspection" => intent=schedule_appointment service=state inspection
            "i have a meeting with my divorce lawyer at two so can i come at ten" => intent=schedule_appointment time=10:00 (10)
            "that tow company is a joke anyway can you run a diagnostic" => intent=schedule_appointment service=diagnostic
            "unbelievable weather today can i get snow tires on" => intent=schedule_appointment service=tire replacement date=2026-11-24 (today)
            "i put regular in the diesel like an idiot can you drain it" => intent=general_inquiry
            "the guys at jiffy lube were useless can you do my oil change" => intent=schedule_appointment service=oil change
            "my girlfriend is furious the car died on our date" => nothing
            "my own stupid fault i ignored the light what does a diagnostic cost" => intent=pricing_inquiry service=diagnostic
            "sorry my phone is useless can you hear me" => nothing
            "hell be home saturday can he bring it at ten" => intent=schedule_appointment date=2026-11-28 (saturday) time=10:00 (10)
            "how much to put these on i bought my own tires" => intent=pricing_inquiry service=tire replacement
            "i knew the old owner back in the day" => nothing
            "my lawyer wants the invoice for my case against your shop" => escalation=legal_threat
            "you guys treat me like an idiot every time i call" => escalation=anger
            "what the hell come on its been 3 days" => intent=check_status escalation=anger
            "i drove through this weather and your shop is a joke" => escalation=anger
            "my cousin is a divorce lawyer and she says you cant keep my car" => escalation=legal_threat
            "im looking for a mechanic that actually knows subarus" => nothing
            "apparently you guys dont work on diesels is that right" => intent=general_inquiry
            "no thanks not this time actually" => nothing
            "i dont have anything nice to say about the dealership so im giving you guys a try" => nothing
            "the coupon said free inspection but you still charged me is that normal" => intent=pricing_inquiry service=state inspection
            "its my sons car you might want to talk to him hes the 1 who drives it" => nothing
            "let me get the guy i talked to at the insurance company to call you" => nothing
            "my card got declined so im calling my bank about the charge can you run it again" => intent=general_inquiry
            "i called the state about your emissions test it never uploaded" => service=state inspection
            "my card was stolen last week i have a case number from the bank" => nothing
            "can i set up a meeting with the mechanic tomorrow at 10 to go over the estimate" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=10:00 (10)
            "i called to ask if i can come in at 10 this morning" => intent=schedule_appointment date=2026-11-24 (this morning) time=10:00 (10)
            "i need to pick up my kids at 3 will it be done by then" => intent=check_status time=15:00 (3)
            "you called me about 2 30 tomorrow yeah that works" => date=2026-11-25 (tomorrow) time=14:30 (2 30)
            "just checking our bus is tomorrow at 9 right" => intent=check_status date=2026-11-25 (tomorrow) time=09:00 (9)
            "i think either 1 or 2 of my tires has a slow leak" => intent=check_status service=diagnostic
            "im free anytime 10 to 8 tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=08:00 (8)
            "are you guys open 10 to 7 on saturdays" => intent=check_hours time=07:00 (7)
            "the quote was like four twenty for the brakes can i come friday at ten" => intent=schedule_appointment service=brake service date=2026-11-27 (friday) time=10:00 (10)
            "is the alignment still like one ten" => intent=pricing_inquiry service=wheel alignment
            "can i come at like five forty" => intent=schedule_appointment time=17:40 (5 40)
            "will someone be there at five fifty five" => intent=check_hours time=17:55 (5 55)
        "#]],
    );
}

#[test]
fn card_claims_people_asked_for_by_a_callback_and_calm_lines_about_managers_and_owners() {
    check(
        &[
            // Threats and anger at the shop without the usual words.
            "i filed a dispute against you guys with my card company",
            "my bank is reversing the payment so dont bother calling",
            "i called discover and flagged your charge for the brakes",
            "i sent a complaint with the better business folks",
            "oh sure take your time its only been a month",
            "you charged me fifty bucks just to tell me i need tires",
            "you guys have some nerve",
            "and you left the door dented again real professional",
            "oh wonderful real helpful thanks a lot",
            // A person asked for in passing.
            "is maria around i need to talk to her about the invoice",
            "can you put whoever handles the fleet accounts on the phone",
            "i spoke with a tall guy at the counter can i talk to him again",
            "id like a call back from one of your mechanics",
            "transfer me to her please",
            // The same words, calm.
            "who owns the shop these days is it still the same guy",
            "the advisor was really nice tell her i said thanks",
            "im the office manager at a dental practice and we need two cars inspected",
            "my brother went to school with the owner can you squeeze me in friday",
            "my truck is so mad at me today it wont even crank",
            "frustrated dad of two here my sons car makes a sound like a whistle",
            "im mad at my insurance not you guys can i get a quote on the bumper",
            "the dealer wants nine hundred for brakes which is highway robbery what do you charge",
            "my boss made me work saturday which is ridiculous can i come monday",
            "i was going to sue the driver who rear ended me but anyway can you look at the bumper",
            "honestly unbelievable service last time so fast",
            "my bank flagged your charge by mistake can you run it again",
            "should i wait for the rotation or just drop it off and come back",
            "you scratched the bumper a little but no big deal can i book an oil change",
            // Times that are no time asked for, and counts.
            "my supervisor wont let me leave before five thirty is the car done",
            "can you do oil changes for five pickups on monday",
            "i got there at seven and your doors were locked can i come at nine tomorrow",
            // Services said without their names, and brake lights.
            "its running really rough when its cold",
            "it makes a sound like a squeal when i turn",
            "my brake lights are out can you swap the bulbs",
            // The review's probes.
            "i got a call back from your tech and he said its done so what time can i pick it up",
            "my bank called me and flagged the charge as fraud but it was me so can you run my card again",
            "you guys charged me 100 for the diagnostic to tell me its the alternator does that go toward the repair",
            "no rush take your time its only been a day",
            "the lady on the phone yesterday was great real helpful",
            "thanks again you guys did a great job real professional",
            "can you have the mechanic call me when its done",
            "my son just got his license i dont know what they teach you in drivers ed these days but he curbed a rim can you check the alignment",
            "i know the owner let me talk to him",
            "who owns this place now i want to talk to them",
            "the dealer was cheaper than you guys what a rip off",
            "unbelievable service so quick to take my money but nobody can fix the car",
            "you know what just drop it off the schedule we sold the car",
            "im pissed at the car you guys supposedly fixed its doing the same thing",
            "frustrated dad here you had my truck 2 weeks and nobody has called",
            "one of your techs backed into my truck in your lot im gonna sue the guy who backed into it",
            "can i drop it off tomorrow at 8 pickup at 5",
            "my abs and brake lights came on and the pedal feels soft",
            "what if i get there at 6 and the doors locked is there a drop box",
        ],
        expect![[r#"
            "i filed a dispute against you guys with my card company" => escalation=legal_threat
            "my bank is reversing the payment so dont bother calling" => escalation=legal_threat
            "i called discover and flagged your charge for the brakes" => intent=pricing_inquiry escalation=legal_threat service=brake service
            "i sent a complaint with the better business folks" => escalation=legal_threat
            "oh sure take your time its only been a month" => escalation=anger
            "you charged me fifty bucks just to tell me i need tires" => escalation=anger
            "you guys have some nerve" => escalation=anger
            "and you left the door dented again real professional" => escalation=anger
            "oh wonderful real helpful thanks a lot" => escalation=anger
            "is maria around i need to talk to her about the invoice" => escalation=manager_request
            "can you put whoever handles the fleet accounts on the phone" => escalation=manager_request
            "i spoke with a tall guy at the counter can i talk to him again" => escalation=manager_request
            "id like a call back from one of your mechanics" => escalation=manager_request
            "transfer me to her please" => escalation=manager_request
            "who owns the shop these days is it still the same guy" => intent=general_inquiry
            "the advisor was really nice tell her i said thanks" => nothing
            "im the office manager at a dental practice and we need two cars inspected" => intent=schedule_appointment service=state inspection
            "my brother went to school with the owner can you squeeze me in friday" => intent=schedule_appointment date=2026-11-27 (friday)
            "my truck is so mad at me today it wont even crank" => date=2026-11-24 (today)
            "frustrated dad of two here my sons car makes a sound like a whistle" => service=diagnostic
            "im mad at my insurance not you guys can i get a quote on the bumper" => intent=pricing_inquiry
            "the dealer wants nine hundred for brakes which is highway robbery what do you charge" => intent=pricing_inquiry service=brake service
            "my boss made me work saturday which is ridiculous can i come monday" => intent=schedule_appointment date=2026-11-28 (saturday)
            "i was going to sue the driver who rear ended me but anyway can you look at the bumper" => intent=schedule_appointment
            "honestly unbelievable service last time so fast" => nothing
            "my bank flagged your charge by mistake can you run it again" => intent=general_inquiry
            "should i wait for the rotation or just drop it off and come back" => intent=general_inquiry service=tire rotation
            "you scratched the bumper a little but no big deal can i book an oil change" => intent=schedule_appointment service=oil change
            "my supervisor wont let me leave before five thirty is the car done" => intent=check_status
            "can you do oil changes for five pickups on monday" => intent=schedule_appointment service=oil change date=2026-11-30 (monday)
            "i got there at seven and your doors were locked can i come at nine tomorrow" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=09:00 (9)
            "its running really rough when its cold" => intent=schedule_appointment service=diagnostic
            "it makes a sound like a squeal when i turn" => intent=schedule_appointment service=diagnostic
            "my brake lights are out can you swap the bulbs" => intent=general_inquiry
            "i got a call back from your tech and he said its done so what time can i pick it up" => intent=check_status
            "my bank called me and flagged the charge as fraud but it was me so can you run my card again" => intent=general_inquiry
            "you guys charged me 100 for the diagnostic to tell me its the alternator does that go toward the repair" => intent=pricing_inquiry service=diagnostic
            "no rush take your time its only been a day" => nothing
            "the lady on the phone yesterday was great real helpful" => nothing
            "thanks again you guys did a great job real professional" => nothing
            "can you have the mechanic call me when its done" => intent=check_status
            "my son just got his license i dont know what they teach you in drivers ed these days but he curbed a rim can you check the alignment" => service=wheel alignment
            "i know the owner let me talk to him" => escalation=manager_request
            "who owns this place now i want to talk to them" => escalation=manager_request
            "the dealer was cheaper than you guys what a rip off" => intent=pricing_inquiry escalation=anger
            "unbelievable service so quick to take my money but nobody can fix the car" => escalation=anger
            "you know what just drop it off the schedule we sold the car" => intent=cancel_appointment
            "im pissed at the car you guys supposedly fixed its doing the same thing" => escalation=anger
            "frustrated dad here you had my truck 2 weeks and nobody has called" => escalation=anger
            "one of your techs backed into my truck in your lot im gonna sue the guy who backed into it" => escalation=legal_threat
            "can i drop it off tomorrow at 8 pickup at 5" => intent=schedule_appointment date=2026-11-25 (tomorrow) time=08:00 (8)
            "my abs and brake lights came on and the pedal feels soft" => intent=schedule_appointment service=brake service
            "what if i get there at 6 and the doors locked is there a drop box" => intent=general_inquiry time=18:00 (6)
        "#]],
    );
}

#[test]
fn escalations_buried_in_long_lines_past_days_said_as_stories_and_anger_aimed_elsewhere() {
    check(
        &[
            // Escalations buried in an ordinary line.
            "i called chase and opened a dispute on your charge",
            "im not paying for that ill be calling my card company",
            "you overcharged me so i disputed it with capital one",
            "id like somebody from management to call me",
            "is dave still there i only want him working on my truck",
            "is lisa around the lady who did my paperwork",
            "had the brakes done and they still squeal so thats money well spent huh",
            "what a racket you guys are running",
            "you forgot my oil change again which is just great",
            "cancel it im done with you people",
            "thanks for wasting my whole day",
            "you guys are thieves",
            "oh another recording how real helpful",
            "with service like that good riddance",
            "i reported the last shop to the bbb and im reporting you too",
            "the attitude your service advisor gave me was awful i want to talk to his boss",
            // Anger, a judge, a manager or an owner aimed elsewhere.
            "ugh this stupid truck wont start again can you send a tow",
            "its snowing which is just perfect since i have bald tires can i come at 2",
            "my uncle is a judge and he swears by you guys",
            "the judge gave me until friday to get the sticker",
            "the last shop overcharged me so i reported them to the bbb how much is your inspection",
            "the owner of the tire shop down the street sent me over for an alignment",
            "the girl at the front desk was so friendly last time",
            "i put the wrong gas in like a total moron can you drain it",
            "my dad says its the alternator but hes clueless can you check it",
            "the damn deer got my bumper again",
            "the dealer quoted me two grand i was so mad i walked right out can you look at it",
            "my buddy swears you guys are thieves but i figured id give you a shot",
            "i need to get to work once im done with you guys",
            // Days said of the past, and days asked for.
            "i dropped the van off monday is it ready",
            "the car came in friday for brakes whats the status",
            "if i came in wednesday how much would brakes be",
            "if i brought it in saturday could you do the rotation",
            "how are you doing today i need an oil change friday",
            "my sticker expires the thirtieth can i come tomorrow",
            "its tuesday and nobody called me about my car",
            "so that was monday at ten right",
            // Counts and the caller's own busy day.
            "how much for four all seasons",
            "im working all day thursday from nine to five can i come friday at ten",
            // Services said without their names.
            "can you fix a squeaky belt",
            "are my new tiers in yet",
            "the light with the engine on it is blinking",
            // The review's probes.
            "can i have it towed in monday for the transmission",
            "i called yesterday and friday works better for me now",
            "my insurance wont pay for the rental so i gotta call my bank first",
            "my card got stolen so i called my bank and opened a claim can i pay cash",
            "the last shop overcharged me and i disputed it with chase so i want a written estimate first",
            "the last place did a bad job but you guys are worse i reported them to the bbb",
            "can i talk to the owner of the repair shop please",
            "i spoke with the owner last week his name is dave can i talk to him again",
            "you guys had a used rim for me is it still there i only want the 1 rim",
            "i come in there and get treated like a total moron",
            "your mechanics charged me nine hundred for brakes those guys are crooks",
            "your mechanics always think im stupid because im a woman",
            "you guys had my truck for two weeks i was losing my mind",
            "the stupid battery you sold me died after a week",
            "its raining which is just perfect and you still have my car three days later",
            "the last place overcharged me and so did you",
            "sold my old truck it was in the shop for service every month good riddance",
            "can you rotate the front two tires to the back",
            "its a 2015 f150 with the ecoboost engine on it can you do an oil change",
            "im free all day friday from ten to four",
        ],
        expect![[r#"
            "i called chase and opened a dispute on your charge" => escalation=legal_threat
            "im not paying for that ill be calling my card company" => escalation=legal_threat
            "you overcharged me so i disputed it with capital one" => escalation=legal_threat
            "id like somebody from management to call me" => escalation=manager_request
            "is dave still there i only want him working on my truck" => intent=check_status escalation=manager_request
            "is lisa around the lady who did my paperwork" => escalation=manager_request
            "had the brakes done and they still squeal so thats money well spent huh" => escalation=anger service=brake service
            "what a racket you guys are running" => escalation=anger
            "you forgot my oil change again which is just great" => escalation=anger service=oil change
            "cancel it im done with you people" => intent=cancel_appointment escalation=anger
            "thanks for wasting my whole day" => escalation=anger
            "you guys are thieves" => escalation=anger
            "oh another recording how real helpful" => escalation=anger
            "with service like that good riddance" => escalation=anger
            "i reported the last shop to the bbb and im reporting you too" => escalation=legal_threat
            "the attitude your service advisor gave me was awful i want to talk to his boss" => nothing
            "ugh this stupid truck wont start again can you send a tow" => intent=general_inquiry
            "its snowing which is just perfect since i have bald tires can i come at 2" => intent=schedule_appointment service=tire replacement time=14:00 (2)
            "my uncle is a judge and he swears by you guys" => nothing
            "the judge gave me until friday to get the sticker" => intent=schedule_appointment service=state inspection date=2026-11-27 (friday)
            "the last shop overcharged me so i reported them to the bbb how much is your inspection" => intent=pricing_inquiry service=state inspection
            "the owner of the tire shop down the street sent me over for an alignment" => intent=schedule_appointment service=wheel alignment
            "the girl at the front desk was so friendly last time" => nothing
            "i put the wrong gas in like a total moron can you drain it" => nothing
            "my dad says its the alternator but hes clueless can you check it" => intent=schedule_appointment
            "the damn deer got my bumper again" => nothing
            "the dealer quoted me two grand i was so mad i walked right out can you look at it" => intent=schedule_appointment
            "my buddy swears you guys are thieves but i figured id give you a shot" => intent=general_inquiry
            "i need to get to work once im done with you guys" => nothing
            "i dropped the van off monday is it ready" => intent=check_status
            "the car came in friday for brakes whats the status" => intent=check_status service=brake service
            "if i came in wednesday how much would brakes be" => intent=pricing_inquiry service=brake service date=2026-11-25 (wednesday)
            "if i brought it in saturday could you do the rotation" => intent=schedule_appointment service=tire rotation date=2026-11-28 (saturday)
            "how are you doing today i need an oil change friday" => intent=schedule_appointment service=oil change date=2026-11-27 (friday)
            "my sticker expires the thirtieth can i come tomorrow" => intent=schedule_appointment service=state inspection date=2026-11-25 (tomorrow)
            "its tuesday and nobody called me about my car" => intent=check_status
            "so that was monday at ten right" => date=2026-11-30 (monday) time=10:00 (10)
            "how much for four all seasons" => intent=pricing_inquiry
            "im working all day thursday from nine to five can i come friday at ten" => intent=reschedule_appointment date=2026-11-27 (friday) time=10:00 (10)
            "can you fix a squeaky belt" => intent=schedule_appointment service=diagnostic
            "are my new tiers in yet" => intent=check_status service=tire replacement
            "the light with the engine on it is blinking" => intent=schedule_appointment service=check engine light
            "can i have it towed in monday for the transmission" => intent=schedule_appointment service=transmission service date=2026-11-30 (monday)
            "i called yesterday and friday works better for me now" => date=2026-11-27 (friday)
            "my insurance wont pay for the rental so i gotta call my bank first" => nothing
            "my card got stolen so i called my bank and opened a claim can i pay cash" => intent=general_inquiry
            "the last shop overcharged me and i disputed it with chase so i want a written estimate first" => nothing
            "the last place did a bad job but you guys are worse i reported them to the bbb" => escalation=legal_threat
            "can i talk to the owner of the repair shop please" => escalation=manager_request
            "i spoke with the owner last week his name is dave can i talk to him again" => escalation=manager_request name=Dave
            "you guys had a used rim for me is it still there i only want the 1 rim" => intent=general_inquiry
            "i come in there and get treated like a total moron" => escalation=anger
            "your mechanics charged me nine hundred for brakes those guys are crooks" => intent=pricing_inquiry escalation=anger service=brake service
            "your mechanics always think im stupid because im a woman" => escalation=anger
            "you guys had my truck for two weeks i was losing my mind" => intent=check_status escalation=anger
            "the stupid battery you sold me died after a week" => escalation=anger service=battery replacement
            "its raining which is just perfect and you still have my car three days later" => intent=check_status escalation=anger
            "the last place overcharged me and so did you" => escalation=anger
            "sold my old truck it was in the shop for service every month good riddance" => nothing
            "can you rotate the front two tires to the back" => intent=schedule_appointment service=tire rotation
            "its a 2015 f150 with the ecoboost engine on it can you do an oil change" => intent=schedule_appointment service=oil change
            "im free all day friday from ten to four" => intent=reschedule_appointment date=2026-11-27 (friday) time=10:00 (10)
        "#]],
    );
}
