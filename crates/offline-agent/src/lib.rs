//! The offline agent: a rule-based receptionist that answers from the conversation's state and
//! slots instead of a language model.
//!
//! It speaks the `LanguageModel` protocol, so the call pipeline runs it exactly like the LLM:
//! the same request (history, then this turn's tool results), the same tool calls through the
//! same executor, the same history. What it reads instead of the prompt is the
//! `ConversationManager` after the caller's words (state, intent, slots, what is missing, the
//! customer); one `OfflineAgent` answers one turn.
//!
//! What it does, by state:
//! - nothing asked yet: asks what the caller needs;
//! - slot collection: asks for the first missing slot; for a day or a time it first calls
//!   `check_availability` and offers real free times (within the part of the day asked for);
//! - confirmation: reads the booking, move or cancellation back;
//! - execution: calls `book_appointment`, `reschedule_appointment` or `cancel_appointment`, then
//!   says what happened (a taken time is checked again and other times are offered); answers
//!   hours, prices, the address and the services from the shop's configuration;
//! - closing: thanks and goodbye.
//!
//! Escalation is the pipeline's, as with the LLM: the manager's rules hand the call over.
//! Tool results are read in the shape `crm::tools` documents (`{"ok": …}`), as a model would.
//!
//! Must not depend on: vendor crates, `crm`, `call-pipeline`, `session-store`, sockets, files, the
//! wall clock or the environment. It starts no runtime and awaits no timer: tokio reaches it only
//! through the channel types of `providers`' traits.

mod speech;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use conversation::{
    CallType, ConversationManager, CustomerProfile, DayPeriod, Intent, SlotName, State,
};
use futures::StreamExt;
use providers::{
    ChatMessage, ChatRequest, FinishReason, LanguageModel, LlmEvent, LlmStream, ProviderError,
    ToolCall,
};
use serde_json::{Value, json};

use crate::speech::{clock, day, list_or, services_phrase};

/// The name the offline agent goes by in logs, metrics and call records.
pub const NAME: &str = "offline_agent";

/// How many free times are offered at once; a caller cannot keep more in mind.
const OFFERED: usize = 3;

/// The offline agent for one turn: the conversation as it stands after the caller's words.
#[derive(Debug, Clone)]
pub struct OfflineAgent {
    conversation: ConversationManager,
    now: DateTime<Utc>,
}

/// What the agent says and does in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Words for the caller, if any.
    pub text: Option<String>,
    /// Tools to run before it says more.
    pub tool_calls: Vec<ToolCall>,
}

impl Reply {
    fn say(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            tool_calls: Vec::new(),
        }
    }

    fn call(id: String, name: &str, arguments: Value) -> Self {
        Self {
            text: None,
            tool_calls: vec![ToolCall {
                id,
                name: name.to_owned(),
                arguments: arguments.to_string(),
            }],
        }
    }
}

/// A tool this turn ran, with its arguments and result as JSON.
#[derive(Debug, Clone)]
struct Exchange {
    name: String,
    arguments: Value,
    result: Value,
}

impl Exchange {
    fn ok(&self) -> bool {
        self.result["ok"].as_bool() == Some(true)
    }

    fn error_code(&self) -> &str {
        self.result["error"]["code"].as_str().unwrap_or("")
    }
}

impl OfflineAgent {
    /// The agent for the turn `conversation` has just processed, at `now`.
    pub fn new(conversation: &ConversationManager, now: DateTime<Utc>) -> Self {
        Self {
            conversation: conversation.clone(),
            now,
        }
    }

    /// The next round of this turn, given the request's messages (history, then the tool calls
    /// and results of the rounds before this one).
    pub fn reply(&self, messages: &[ChatMessage]) -> Reply {
        let exchanges = this_turn(messages);
        let next_id = format!(
            "offline-{}",
            messages
                .iter()
                .filter(|m| matches!(m, ChatMessage::Tool { .. }))
                .count()
                + 1
        );
        if let Some(last) = exchanges.last() {
            match last.name.as_str() {
                "check_availability" => return self.offer_times(last, &exchanges),
                "book_appointment" | "reschedule_appointment" | "cancel_appointment" => {
                    return self.after_change(last, next_id);
                }
                // Another tool (an LLM's round before it failed): carry on from the state.
                _ => {}
            }
        }
        match self.conversation.state() {
            State::Greeting | State::IntentDetection => Reply::say(self.ask_need()),
            State::SlotCollection => self.ask_missing(next_id),
            State::Confirmation => Reply::say(self.read_back()),
            State::Execution => self.execute(next_id, last_user(messages)),
            State::Closing => Reply::say(self.goodbye()),
            State::Escalation => {
                Reply::say("Let me get one of our service advisors to help you with that.")
            }
        }
    }

    /// The last words: a reminder that was confirmed, an outbound call, or a caller.
    fn goodbye(&self) -> String {
        let conversation = &self.conversation;
        match conversation.call_type() {
            CallType::OutboundReminder
                if conversation.intent().is_none() && !conversation.completed_action() =>
            {
                match self.appointment() {
                    Some(a) => format!(
                        "Great, we'll see you {}. Have a great day!",
                        self.when(a.starts_at)
                    ),
                    None => "Great, we'll see you then. Have a great day!".to_owned(),
                }
            }
            CallType::OutboundReminder
            | CallType::OutboundFollowUp
            | CallType::OutboundServiceDue => {
                "Thank you for your time. Have a great day!".to_owned()
            }
            _ => format!(
                "Thank you for calling {}. Have a great day!",
                self.shop().name
            ),
        }
    }

    fn shop(&self) -> &conversation::ShopConfig {
        self.conversation.shop()
    }

    fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.shop().timezone).date_naive()
    }

    fn customer(&self) -> Option<&CustomerProfile> {
        self.conversation.customer()
    }

    fn ask_need(&self) -> String {
        let greeting = match self.customer() {
            Some(customer) if self.conversation.turn_count() <= 1 => {
                format!("Sure, {}. ", customer.first_name)
            }
            _ => String::new(),
        };
        format!(
            "{greeting}How can I help you today? I can book, move or cancel an appointment, or \
             tell you our hours and prices."
        )
    }

    /// The service the current request is about: the one named, or the appointment's.
    fn service(&self) -> Option<String> {
        let slots = self.conversation.slots();
        slots
            .service_type
            .clone()
            .or_else(|| self.appointment().map(|a| a.service.clone()))
    }

    fn appointment(&self) -> Option<&conversation::AppointmentInfo> {
        let id = self.conversation.slots().appointment_id?;
        self.customer()?
            .upcoming_appointments
            .iter()
            .find(|a| a.id == id)
            .or_else(|| match self.conversation.subject() {
                Some(conversation::CallSubject::Appointment(a)) if a.id == id => Some(a),
                _ => None,
            })
    }

    fn verb(&self) -> &'static str {
        match self.conversation.intent() {
            Some(Intent::CancelAppointment) => "cancel",
            Some(Intent::RescheduleAppointment) => "move",
            _ => "book",
        }
    }

    fn ask_missing(&self, next_id: String) -> Reply {
        let missing = self.conversation.missing_slots();
        let Some(first) = missing.first() else {
            return Reply::say(self.read_back());
        };
        match first {
            SlotName::ServiceType => {
                if self.conversation.intent() == Some(Intent::PricingInquiry) {
                    return Reply::say("Sure. Which service would you like a price for?");
                }
                let examples: Vec<String> = self
                    .shop()
                    .services
                    .iter()
                    .take(3)
                    .map(|s| s.name.clone())
                    .collect();
                Reply::say(format!(
                    "What can we do for your car? For example {}, or something else?",
                    list_or(&examples)
                ))
            }
            SlotName::Appointment => Reply::say(self.ask_which_appointment()),
            SlotName::CustomerName => Reply::say(
                if self.conversation.intent() == Some(Intent::ScheduleAppointment) {
                    "May I have your first and last name?"
                } else {
                    "May I have the name the appointment is under?"
                },
            ),
            SlotName::Vehicle => Reply::say("And what is the year, make and model of your car?"),
            SlotName::PreferredDate | SlotName::PreferredTime => {
                let Some(service) = self.service() else {
                    return Reply::say(format!(
                        "What day would you like to {} it for?",
                        self.verb()
                    ));
                };
                let slots = self.conversation.slots();
                let (date, days) = match (first, slots.resolved_date) {
                    (SlotName::PreferredTime, Some(date)) => (date, 1),
                    _ => (self.today(), 7),
                };
                Reply::call(
                    next_id,
                    "check_availability",
                    json!({"service": service, "date": date.to_string(), "days": days}),
                )
            }
        }
    }

    fn ask_which_appointment(&self) -> String {
        let upcoming: Vec<String> = self
            .customer()
            .map(|c| {
                c.upcoming_appointments
                    .iter()
                    .filter(|a| a.status == "scheduled")
                    .map(|a| format!("your {} on {}", a.service, self.when(a.starts_at)))
                    .collect()
            })
            .unwrap_or_default();
        if upcoming.is_empty() {
            return "I don't see an upcoming appointment for this number. Would you like to book \
                    a new one?"
                .to_owned();
        }
        format!(
            "Which appointment would you like to {}: {}?",
            self.verb(),
            list_or(&upcoming)
        )
    }

    fn when(&self, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&self.shop().timezone).naive_local();
        format!(
            "{} at {}",
            day(local.date(), self.today()),
            clock(local.time())
        )
    }

    /// The free times a `check_availability` answered with, offered to the caller.
    fn offer_times(&self, last: &Exchange, exchanges: &[Exchange]) -> Reply {
        let taken = exchanges
            .iter()
            .any(|e| e.name != "check_availability" && e.error_code() == "slot_full");
        let prefix = if taken {
            "I'm sorry, that time was just taken. ".to_owned()
        } else {
            self.request_note()
        };
        if !last.ok() {
            return Reply::say(format!("{prefix}{}", self.refusal(last)));
        }
        let period = self.conversation.slots().time_period;
        let starts: Vec<(NaiveDate, NaiveTime)> = last.result["slots"]
            .as_array()
            .map(|slots| {
                slots
                    .iter()
                    .filter_map(|s| s["start"].as_str())
                    .filter_map(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok())
                    .map(|at| (at.date(), at.time()))
                    .collect()
            })
            .unwrap_or_default();
        let in_period: Vec<(NaiveDate, NaiveTime)> = starts
            .iter()
            .copied()
            .filter(|(_, time)| period.is_none_or(|p| in_part_of_day(*time, p)))
            .collect();
        let asked_date = last.arguments["date"]
            .as_str()
            .and_then(|d| d.parse::<NaiveDate>().ok());
        let one_day = last.arguments["days"].as_u64().unwrap_or(1) == 1;
        let today = self.today();
        if starts.is_empty() {
            return Reply::say(match (one_day, asked_date) {
                (true, Some(date)) => format!(
                    "{prefix}I'm sorry, we're fully booked {}. What other day would work for you?",
                    on_day(date, today)
                ),
                _ => format!(
                    "{prefix}I'm sorry, we're fully booked for the next week. Would you like a \
                     service advisor to call you back to find a time?"
                ),
            });
        }
        let (offered, note) = if in_period.is_empty() {
            let period = period.map_or("then", |p| p.as_str());
            (starts, format!("Nothing is free in the {period}, but "))
        } else {
            (in_period, String::new())
        };
        if one_day {
            let date = offered[0].0;
            let times: Vec<String> = offered
                .iter()
                .take(OFFERED)
                .map(|(_, t)| clock(*t))
                .collect();
            let lead = if note.is_empty() {
                format!("{} I have", capitalise(&on_day(date, today)))
            } else {
                format!("{note}{} I have", on_day(date, today))
            };
            Reply::say(format!(
                "{prefix}{lead} {}. Which time works best for you?",
                list_or(&times)
            ))
        } else {
            // The first free time of each of the next days.
            let mut firsts: Vec<(NaiveDate, NaiveTime)> = Vec::new();
            for &(date, time) in &offered {
                if firsts.last().is_none_or(|(d, _)| *d != date) {
                    firsts.push((date, time));
                }
            }
            if let [(date, _)] = firsts.as_slice() {
                // Every listed time is on one day: offer its first few.
                let times: Vec<String> = offered
                    .iter()
                    .take(OFFERED)
                    .map(|(_, t)| clock(*t))
                    .collect();
                return Reply::say(format!(
                    "{prefix}{}",
                    capitalise(&format!(
                        "{note}the earliest openings are {} at {}. What day and time would work \
                         for you?",
                        day(*date, today),
                        list_or(&times)
                    ))
                ));
            }
            let options: Vec<String> = firsts
                .iter()
                .take(OFFERED)
                .map(|(d, t)| format!("{} at {}", day(*d, today), clock(*t)))
                .collect();
            Reply::say(format!(
                "{prefix}{}",
                capitalise(&format!(
                    "{note}the first openings are {}. What day works for you?",
                    list_or(&options)
                ))
            ))
        }
    }

    /// Why the day or time the caller asked for cannot be booked, when that is the reason
    /// times are offered: a closed day, or a time outside the day's hours.
    fn request_note(&self) -> String {
        let slots = self.conversation.slots();
        let shop = self.shop();
        let today = self.today();
        let Some(date) = slots.resolved_date else {
            return String::new();
        };
        match shop.opening_hours(date) {
            None => match shop.holiday(date) {
                Some(holiday) => format!(
                    "I'm sorry, we're closed {} for {}. ",
                    on_day(date, today),
                    holiday.name
                ),
                None => format!("I'm sorry, we're closed {}. ", on_day(date, today)),
            },
            Some(hours) => match slots.resolved_time {
                Some(time) if time < hours.open || time >= hours.close => format!(
                    "{} we're open from {} to {}. ",
                    capitalise(&on_day(date, today)),
                    clock(hours.open),
                    clock(hours.close)
                ),
                _ => String::new(),
            },
        }
    }

    fn after_change(&self, last: &Exchange, next_id: String) -> Reply {
        if last.ok() {
            let appointment = &last.result["appointment"];
            let service = appointment["service"].as_str().unwrap_or("appointment");
            let when = appointment["start"]
                .as_str()
                .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok())
                .map(|at| format!("{} at {}", day(at.date(), self.today()), clock(at.time())))
                .unwrap_or_default();
            let done = match last.name.as_str() {
                "book_appointment" => {
                    format!("You're all set: your {service} is booked for {when}.")
                }
                "reschedule_appointment" => format!("Done. Your {service} is now on {when}."),
                _ => format!("Your {service} on {when} is cancelled."),
            };
            return Reply::say(format!(
                "{done} Is there anything else I can help you with?"
            ));
        }
        match last.error_code() {
            "slot_full" => {
                let date = last.arguments["start"]
                    .as_str()
                    .or_else(|| last.arguments["new_start"].as_str())
                    .and_then(|s| s.get(..10))
                    .unwrap_or_default()
                    .to_owned();
                match self.service() {
                    Some(service) if !date.is_empty() => Reply::call(
                        next_id,
                        "check_availability",
                        json!({"service": service, "date": date, "days": 1}),
                    ),
                    _ => Reply::say(
                        "I'm sorry, that time was just taken. What other time would work for you?",
                    ),
                }
            }
            _ => Reply::say(self.refusal(last)),
        }
    }

    /// What to say when a tool refused, by its error code.
    fn refusal(&self, exchange: &Exchange) -> String {
        match exchange.error_code() {
            "closed" | "outside_hours" => format!(
                "I'm sorry, we're not open then. {} What other day or time would work for you?",
                self.hours_sentence()
            ),
            "in_past" => "That time has already passed. What day would you like?".to_owned(),
            "customer_unknown" => {
                "I'll need your first and last name to do that. What name should I use?".to_owned()
            }
            "booking_limit" => "This call has already booked the most appointments I can make \
                                at once; a service advisor can help with more."
                .to_owned(),
            "unknown_service" => format!(
                "I'm not sure we offer that. We do {}. Which would you like?",
                list_or(
                    &self
                        .shop()
                        .services
                        .iter()
                        .take(5)
                        .map(|s| s.name.clone())
                        .collect::<Vec<_>>()
                )
            ),
            "unavailable" => "I'm sorry, I can't reach our schedule right now. A service advisor \
                              will call you back to finish this."
                .to_owned(),
            _ => "I'm sorry, I couldn't do that. A service advisor will call you back to sort it \
                  out."
                .to_owned(),
        }
    }

    fn read_back(&self) -> String {
        let slots = self.conversation.slots();
        let today = self.today();
        let new_when = match (slots.resolved_date, slots.resolved_time) {
            (Some(date), Some(time)) => Some(format!("{} at {}", day(date, today), clock(time))),
            _ => None,
        };
        let on_when = match (slots.resolved_date, slots.resolved_time) {
            (Some(date), Some(time)) => Some(format!("{} at {}", on_day(date, today), clock(time))),
            _ => None,
        };
        match self.conversation.intent() {
            None => match self.appointment() {
                // The reminder's attendance question, asked again.
                Some(a) => format!(
                    "Will you still be able to make your {} on {}?",
                    a.service,
                    self.when(a.starts_at)
                ),
                None => self.ask_need(),
            },
            Some(Intent::CancelAppointment) => match self.appointment() {
                Some(a) => format!(
                    "Just to confirm: you'd like to cancel your {} on {}?",
                    a.service,
                    self.when(a.starts_at)
                ),
                None => "Just to confirm: you'd like to cancel your appointment?".to_owned(),
            },
            Some(Intent::RescheduleAppointment) => {
                let new_when = new_when.unwrap_or_else(|| "the new time".to_owned());
                match self.appointment() {
                    Some(a) => format!(
                        "Just to confirm: I'll move your {} from {} to {}. Is that right?",
                        a.service,
                        self.when(a.starts_at),
                        new_when
                    ),
                    None => format!(
                        "Just to confirm: I'll move your appointment to {new_when}. Is that right?"
                    ),
                }
            }
            Some(_) => {
                let mut names = Vec::new();
                names.extend(slots.service_type.clone());
                names.extend(slots.more_services.iter().cloned());
                let mut text = format!("Let me read that back: {}", services_phrase(&names));
                if let Some(when) = on_when {
                    text.push_str(&format!(" {when}"));
                }
                if let Some(vehicle) = self.vehicle_description() {
                    text.push_str(&format!(" for your {vehicle}"));
                }
                if self.customer().is_none()
                    && let Some(name) = slots.customer_name.as_ref().or(slots.spelled_name.as_ref())
                {
                    text.push_str(&format!(", under the name {name}"));
                }
                text.push_str(". Shall I book it?");
                text
            }
        }
    }

    /// The vehicle the caller named, else the only one on file.
    fn vehicle_description(&self) -> Option<String> {
        let slots = self.conversation.slots();
        if let Some(vehicle) = &slots.vehicle {
            return Some(vehicle.clone());
        }
        match self.customer().map(|c| c.vehicles.as_slice()) {
            Some([only]) => Some(only.describe()),
            _ => None,
        }
    }

    fn execute(&self, next_id: String, said: Option<&str>) -> Reply {
        let slots = self.conversation.slots();
        match self.conversation.intent() {
            Some(Intent::ScheduleAppointment) => {
                let (Some(service), Some(start)) = (slots.service_type.clone(), self.start())
                else {
                    return self.ask_missing(next_id);
                };
                let mut args = json!({"service": service, "start": start});
                if !slots.more_services.is_empty() {
                    args["notes"] = json!(format!(
                        "also asked for: {}",
                        slots.more_services.join(", ")
                    ));
                }
                self.add_vehicle(&mut args);
                if self.customer().is_none() {
                    let name = slots.customer_name.as_ref().or(slots.spelled_name.as_ref());
                    if let Some(name) = name {
                        let mut parts = name.split_whitespace();
                        let first = parts.next().unwrap_or_default();
                        let last: Vec<&str> = parts.collect();
                        args["first_name"] = json!(first);
                        args["last_name"] = json!(last.join(" "));
                    }
                }
                Reply::call(next_id, "book_appointment", args)
            }
            Some(Intent::RescheduleAppointment) => match (slots.appointment_id, self.start()) {
                (Some(id), Some(start)) => Reply::call(
                    next_id,
                    "reschedule_appointment",
                    json!({"appointment_id": id, "new_start": start}),
                ),
                (None, _) => Reply::say(self.no_appointment()),
                (Some(_), None) => self.ask_missing(next_id),
            },
            Some(Intent::CancelAppointment) => match slots.appointment_id {
                Some(id) => {
                    Reply::call(next_id, "cancel_appointment", json!({"appointment_id": id}))
                }
                None => Reply::say(self.no_appointment()),
            },
            Some(Intent::CheckHours) => {
                Reply::say(format!("{}{}", self.hours_answer(said), self.then_what()))
            }
            Some(Intent::PricingInquiry) => {
                Reply::say(format!("{}{}", self.price_answer(), self.then_what()))
            }
            Some(Intent::CheckStatus) => Reply::say(
                "I can't see the status of repairs from here, I'm sorry. If you'd like, ask for \
                 a service advisor and I'll put you through.",
            ),
            Some(Intent::GeneralInquiry) => {
                Reply::say(format!("{}{}", self.general_answer(), self.then_what()))
            }
            None => Reply::say(self.ask_need()),
        }
    }

    fn no_appointment(&self) -> String {
        "I'm sorry, I can't find that appointment from this number. A service advisor can help; \
         just ask for one."
            .to_owned()
    }

    /// What follows an answer: back to the booking a question interrupted, or anything else.
    fn then_what(&self) -> &'static str {
        if self.conversation.suspended_intent().is_some() {
            " Now, back to your appointment."
        } else {
            " Is there anything else I can help you with?"
        }
    }

    /// The requested start as the tools take it (`YYYY-MM-DDTHH:MM`, shop-local).
    fn start(&self) -> Option<String> {
        let slots = self.conversation.slots();
        Some(format!(
            "{}T{}",
            slots.resolved_date?,
            slots.resolved_time?.format("%H:%M")
        ))
    }

    /// The vehicle of a booking: one on file (the one named, or the only one), else what was said.
    fn add_vehicle(&self, args: &mut Value) {
        let slots = self.conversation.slots();
        let said = slots.vehicle.as_deref().map(str::to_lowercase);
        if let Some(customer) = self.customer() {
            let on_file = match (&said, customer.vehicles.as_slice()) {
                (None, [only]) => Some(only),
                (Some(said), vehicles) => vehicles.iter().find(|v| {
                    said.contains(&v.model.to_lowercase()) || said.contains(&v.make.to_lowercase())
                }),
                _ => None,
            };
            if let Some(vehicle) = on_file {
                args["vehicle_id"] = json!(vehicle.id);
                return;
            }
        }
        if let Some(said) = &slots.vehicle {
            let words: Vec<&str> = said.split_whitespace().collect();
            let year_at = words.iter().position(|w| {
                w.len() == 4 && w.parse::<i32>().is_ok_and(|y| (1950..=2100).contains(&y))
            });
            let rest: Vec<&str> = match year_at {
                Some(at) => {
                    args["vehicle_year"] = json!(words[at].parse::<i32>().unwrap_or_default());
                    words[at + 1..].to_vec()
                }
                None => words,
            };
            if let Some((make, model)) = rest.split_first() {
                args["vehicle_make"] = json!(capitalise(make));
                args["vehicle_model"] = json!(
                    model
                        .iter()
                        .map(|w| capitalise(w))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
        }
        if let Some(vin) = &slots.vin {
            args["vehicle_vin"] = json!(vin);
        }
        if let Some(plate) = &slots.plate {
            args["vehicle_plate"] = json!(plate);
        }
    }

    /// The hours of the day the caller named in these words, else the week's.
    fn hours_answer(&self, said: Option<&str>) -> String {
        let shop = self.shop();
        let today = self.today();
        // Only a day named now: the slots may still hold one from an earlier request.
        let named = said.and_then(|said| {
            let mut alone =
                conversation::create_inbound_general_manager(None, Arc::new(shop.clone()));
            alone.process_message(said, self.now);
            alone.slots().resolved_date
        });
        if let Some(date) = named {
            return match (shop.opening_hours(date), shop.holiday(date)) {
                (Some(hours), _) => format!(
                    "{} we're open from {} to {}.",
                    capitalise(&on_day(date, today)),
                    clock(hours.open),
                    clock(hours.close)
                ),
                (None, Some(holiday)) => {
                    format!("We're closed {} for {}.", on_day(date, today), holiday.name)
                }
                (None, None) => format!("We're closed {}.", on_day(date, today)),
            };
        }
        self.hours_sentence()
    }

    /// The weekly hours in one sentence, days with the same hours grouped.
    fn hours_sentence(&self) -> String {
        const DAYS: [&str; 7] = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ];
        let hours = &self.shop().hours.0;
        let mut parts = Vec::new();
        let mut start = 0;
        while start < 7 {
            let mut end = start;
            while end + 1 < 7 && hours[end + 1] == hours[start] {
                end += 1;
            }
            let days = if start == end {
                DAYS[start].to_owned()
            } else {
                format!("{} to {}", DAYS[start], DAYS[end])
            };
            parts.push(match hours[start] {
                Some(h) => format!("{days} from {} to {}", clock(h.open), clock(h.close)),
                None => format!("closed {days}"),
            });
            start = end + 1;
        }
        format!("We're open {}.", list_and(&parts))
    }

    fn price_answer(&self) -> String {
        let shop = self.shop();
        match self.service().and_then(|name| shop.service(&name)) {
            Some(service) => format!(
                "{} usually runs ${} to ${}, and takes about {} minutes.",
                capitalise(&service.name),
                service.price_min_usd,
                service.price_max_usd,
                service.duration_minutes
            ),
            None => {
                "Prices depend on the service. Which service would you like a price for?".to_owned()
            }
        }
    }

    fn general_answer(&self) -> String {
        let shop = self.shop();
        let services: Vec<String> = shop.services.iter().map(|s| s.name.clone()).collect();
        let place = match &shop.address {
            Some(address) => format!("We're {} at {address}.", shop.name),
            None => format!("This is {}.", shop.name),
        };
        format!("{place} We do {}.", list_and(&services))
    }
}

/// The caller's last words.
fn last_user(messages: &[ChatMessage]) -> Option<&str> {
    messages.iter().rev().find_map(|m| match m {
        ChatMessage::User { content } => Some(content.as_str()),
        _ => None,
    })
}

/// The tools this turn ran: the assistant tool calls after the last caller message, each with
/// the result that answers it.
fn this_turn(messages: &[ChatMessage]) -> Vec<Exchange> {
    let start = messages
        .iter()
        .rposition(|m| matches!(m, ChatMessage::User { .. }))
        .map_or(0, |at| at + 1);
    let mut calls: Vec<&ToolCall> = Vec::new();
    let mut res = Vec::new();
    for message in &messages[start..] {
        match message {
            ChatMessage::Assistant { tool_calls, .. } => calls.extend(tool_calls.iter()),
            ChatMessage::Tool {
                tool_call_id,
                content,
            } => {
                if let Some(call) = calls.iter().find(|c| &c.id == tool_call_id) {
                    res.push(Exchange {
                        name: call.name.clone(),
                        arguments: serde_json::from_str(&call.arguments).unwrap_or(Value::Null),
                        result: serde_json::from_str(content).unwrap_or(Value::Null),
                    });
                }
            }
            _ => {}
        }
    }
    res
}

fn in_part_of_day(time: NaiveTime, period: DayPeriod) -> bool {
    let hour = chrono::Timelike::hour(&time);
    match period {
        DayPeriod::Morning => hour < 12,
        DayPeriod::Afternoon => (12..17).contains(&hour),
        DayPeriod::Evening => hour >= 17,
    }
}

/// "on Tuesday, December 8", "today", "tomorrow".
fn on_day(date: NaiveDate, today: NaiveDate) -> String {
    let spoken = day(date, today);
    if spoken == "today" || spoken == "tomorrow" {
        spoken
    } else {
        format!("on {spoken}")
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn list_and(items: &[String]) -> String {
    speech::list(items, "and")
}

#[async_trait]
impl LanguageModel for OfflineAgent {
    async fn stream(&self, request: ChatRequest) -> Result<LlmStream, ProviderError> {
        let reply = self.reply(&request.messages);
        let now = std::time::Instant::now();
        let mut events = Vec::new();
        if let Some(text) = reply.text {
            events.push(Ok(LlmEvent::TextDelta { text, at: now }));
        }
        let reason = if reply.tool_calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        };
        for call in reply.tool_calls {
            events.push(Ok(LlmEvent::ToolCall { call, at: now }));
        }
        events.push(Ok(LlmEvent::Finished { reason, at: now }));
        Ok(futures::stream::iter(events).boxed())
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

#[cfg(test)]
mod tests;
