//! The offline agent against the real tool executor over a SQLite CRM with the demo data: each
//! test is a caller's side of a conversation, run the way the call pipeline runs a turn (the
//! manager hears the words, the agent answers round by round, tools run through
//! `crm::tools::ToolExecutor`, booking outcomes go back to the manager).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use conversation::{
    ConversationManager, ShopConfig, State, ToolResult, create_inbound_existing_manager,
    create_inbound_new_manager,
};
use crm::tools::{ToolContext, ToolExecutor, ToolStatus};
use offline_agent::OfflineAgent;
use providers::ChatMessage;

/// Monday 2026-12-07, 9:00 in New York: the shop is open.
fn now() -> DateTime<Utc> {
    "2026-12-07T14:00:00Z".parse().unwrap()
}

struct Session {
    manager: ConversationManager,
    history: Vec<ChatMessage>,
    tools: ToolExecutor,
    context: ToolContext,
    crm: crm::Crm,
    _dir: tempfile::TempDir,
}

impl Session {
    async fn new(caller: &str) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/crm.db?mode=rwc", dir.path().display());
        let shop = ShopConfig::default_shop();
        let crm = crm::connect_and_migrate(&url, &crm::CrmConfig::default(), shop.clone())
            .await
            .unwrap();
        crm.seed_demo(crm::DEMO_JSON, now()).await.unwrap();
        let profile = crm.lookup_customer(caller, now()).await.unwrap();
        let manager = match profile.clone() {
            Some(profile) => create_inbound_existing_manager(caller, profile, Arc::new(shop)),
            None => create_inbound_new_manager(caller, Arc::new(shop)),
        };
        Session {
            manager,
            history: Vec::new(),
            tools: ToolExecutor::new(Arc::new(crm.clone())),
            context: ToolContext {
                caller_phone: Some(caller.to_owned()),
                customer_id: profile.map(|p| p.id),
                now: now(),
                call_sid: None,
            },
            crm,
            _dir: dir,
        }
    }

    /// One caller turn: what the agent says back (`[escalation]` when the manager hands over).
    async fn say(&mut self, text: &str) -> String {
        self.history.push(ChatMessage::User {
            content: text.to_owned(),
        });
        self.manager.process_message(text, now());
        if self.manager.state() == State::Escalation {
            return "[escalation]".to_owned();
        }
        let agent = OfflineAgent::new(&self.manager, now());
        for _round in 0..4 {
            let reply = agent.reply(&self.history);
            if reply.tool_calls.is_empty() {
                let text = reply.text.expect("a round without tools says something");
                self.history.push(ChatMessage::Assistant {
                    content: Some(text.clone()),
                    tool_calls: Vec::new(),
                });
                return text;
            }
            self.history.push(ChatMessage::Assistant {
                content: reply.text.clone(),
                tool_calls: reply.tool_calls.clone(),
            });
            for call in reply.tool_calls {
                let answer = self
                    .tools
                    .run(&call.name, &call.arguments, &self.context)
                    .await;
                if matches!(
                    call.name.as_str(),
                    "book_appointment" | "reschedule_appointment" | "cancel_appointment"
                ) {
                    self.manager.record_tool_result(match answer.status {
                        ToolStatus::Ok => ToolResult::Succeeded,
                        ToolStatus::SlotFull => ToolResult::SlotUnavailable,
                        _ => ToolResult::Failed,
                    });
                }
                self.history.push(ChatMessage::Tool {
                    tool_call_id: call.id,
                    content: answer.json.to_string(),
                });
            }
        }
        panic!("the agent kept calling tools");
    }
}

#[tokio::test]
async fn a_new_caller_books_an_oil_change_that_is_a_real_row() {
    let mut call = Session::new("+14135550199").await;
    let offer = call.say("Hi, I need an oil change").await;
    assert!(offer.contains("openings are"), "{offer}");
    let ask = call.say("tomorrow at 10am").await;
    assert_eq!(ask, "May I have your first and last name?");
    let ask = call.say("my name is Dana Whitfield").await;
    assert_eq!(ask, "And what is the year, make and model of your car?");
    let read_back = call.say("it's a 2018 Toyota Camry").await;
    assert_eq!(
        read_back,
        "Let me read that back: an oil change tomorrow at 10 AM for your 2018 Toyota Camry, \
         under the name Dana Whitfield. Shall I book it?"
    );
    let done = call.say("yes please").await;
    assert_eq!(
        done,
        "You're all set: your oil change is booked for tomorrow at 10 AM. Is there anything else \
         I can help you with?"
    );
    assert_eq!(call.manager.state(), State::Closing);
    let customer = call
        .crm
        .lookup_customer("+14135550199", now())
        .await
        .unwrap()
        .expect("the booking created the customer");
    assert_eq!(customer.first_name, "Dana");
    assert_eq!(customer.vehicles[0].describe(), "2018 Toyota Camry");
    let booked = &customer.upcoming_appointments[0];
    assert_eq!(booked.service, "oil change");
    assert_eq!(booked.starts_at, now() + Duration::hours(25));
    let bye = call.say("no that's all, thanks").await;
    assert!(bye.starts_with("Thank you for calling"), "{bye}");
}

/// John Smith, the demo's known caller: a brake service a week after the seed's anchor day.
const JOHN: &str = "+14135550100";

#[tokio::test]
async fn a_known_caller_moves_his_appointment() {
    let mut call = Session::new(JOHN).await;
    let before = call
        .crm
        .lookup_customer(JOHN, now())
        .await
        .unwrap()
        .unwrap();
    let brake = before.upcoming_appointments[0].clone();
    let ask = call.say("I need to reschedule my appointment").await;
    assert!(ask.contains("openings are"), "{ask}");
    let ask = call.say("Thursday").await;
    assert!(
        ask.starts_with("On Thursday, December 10 I have 8 AM"),
        "{ask}"
    );
    let read_back = call.say("9am").await;
    assert!(
        read_back.starts_with("Just to confirm: I'll move your brake service from"),
        "{read_back}"
    );
    assert!(read_back.ends_with("to Thursday, December 10 at 9 AM. Is that right?"));
    let done = call.say("yes").await;
    assert!(done.starts_with("Done. Your brake service is now on Thursday, December 10 at 9 AM."));
    let after = call
        .crm
        .lookup_customer(JOHN, now())
        .await
        .unwrap()
        .unwrap();
    let moved = after
        .upcoming_appointments
        .iter()
        .find(|a| a.id == brake.id)
        .unwrap();
    assert_eq!(
        moved.starts_at,
        "2026-12-10T14:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
}

#[tokio::test]
async fn a_known_caller_cancels() {
    let mut call = Session::new(JOHN).await;
    let read_back = call.say("I want to cancel my appointment").await;
    assert!(
        read_back.starts_with("Just to confirm: you'd like to cancel your brake service on"),
        "{read_back}"
    );
    let done = call.say("yes").await;
    assert!(done.contains("is cancelled"), "{done}");
    let after = call
        .crm
        .lookup_customer(JOHN, now())
        .await
        .unwrap()
        .unwrap();
    assert!(
        after
            .upcoming_appointments
            .iter()
            .all(|a| a.status != "scheduled"),
        "{:?}",
        after.upcoming_appointments
    );
}

#[tokio::test]
async fn hours_prices_and_the_shop_are_answered_from_its_configuration() {
    let mut call = Session::new(JOHN).await;
    assert_eq!(
        call.say("what are your hours").await,
        "We're open Monday to Friday from 8 AM to 6 PM, Saturday from 9 AM to 2 PM and closed \
         Sunday. Is there anything else I can help you with?"
    );
    assert_eq!(
        call.say("how much is a tire rotation").await,
        "Tire rotation usually runs $25 to $50, and takes about 30 minutes. Is there anything \
         else I can help you with?"
    );
    assert_eq!(
        call.say("are you open on christmas").await,
        "We're closed on Friday, December 25 for Christmas. Is there anything else I can help \
         you with?"
    );
}

#[tokio::test]
async fn a_morning_request_offers_morning_times_and_a_question_mid_booking_returns_to_it() {
    let mut call = Session::new(JOHN).await;
    let offer = call
        .say("can I bring my car in for a tire rotation wednesday morning")
        .await;
    assert_eq!(
        offer,
        "On Wednesday, December 9 I have 8 AM, 8:30 AM or 9 AM. Which time works best for you?"
    );
    let answer = call.say("wait, how much is that").await;
    assert!(
        answer.ends_with("Now, back to your appointment."),
        "{answer}"
    );
    let offer = call.say("ok").await;
    assert!(
        offer.starts_with("On Wednesday, December 9 I have"),
        "{offer}"
    );
    let read_back = call.say("8:30").await;
    assert_eq!(
        read_back,
        "Let me read that back: a tire rotation on Wednesday, December 9 at 8:30 AM for your \
         2019 Honda Civic. Shall I book it?"
    );
    let done = call.say("yes").await;
    assert!(done.starts_with("You're all set"), "{done}");
}

#[tokio::test]
async fn asking_for_a_person_is_the_pipelines_escalation() {
    let mut call = Session::new(JOHN).await;
    assert_eq!(
        call.say("let me talk to a real person").await,
        "[escalation]"
    );
}
