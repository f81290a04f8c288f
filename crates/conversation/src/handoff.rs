//! What the agent says when a person has to take over: the summary the advisor hears before a
//! warm transfer, the message it takes when nobody can (`MessageTaker`), and the voicemail it
//! leaves on an outbound call that reaches a machine.
//!
//! Message taking is deterministic on purpose: it must work when the LLM is down, it always asks
//! the same three things (name, a number confirmed by reading it back, what it is about), and its
//! result is a row a person acts on.

use chrono::{DateTime, Datelike, Utc};

use crate::detect::{self, Answer, Heard};
use crate::manager::{CallSubject, ConversationManager};
use crate::shop::ShopConfig;
use crate::spelled::{phone_number, read_back_phone};
use crate::text::normalize;
use crate::types::{EscalationReason, Intent};

/// "stop calling me", "take me off your list", "don't call this number again".
static DO_NOT_CALL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(stop (calling|ringing)|(dont|do not|never) (call|ring|phone) (me|us|this number|here)( again| anymore| any more)?\b|do not call list|(take|remove|get) (me|my number|this number|us) off (of )?(your|the|this) (list|calling list|call list|phone list)|remove (me|my number|this number|us) from (your|the|this) (list|calling list|call list|phone list)|no more (calls|phone calls)|quit calling)",
    )
});

/// Whether the caller asks not to be called again (the shop's do-not-call list).
pub fn asks_not_to_be_called(text: &str) -> bool {
    DO_NOT_CALL.is_match(&normalize(text))
}

/// The longest message kept as said (a run-on is cut, never dropped).
const MAX_MESSAGE_CHARS: usize = 500;
/// The longest name kept when it had to be taken as said.
const MAX_NAME_CHARS: usize = 60;

impl ShopConfig {
    /// Whether the shop is open at `now` (its weekly hours in its timezone, closed on holidays).
    /// A shop that lists no weekly hours at all is taken as open except on its holidays: the
    /// agent cannot know better, and refusing every transfer would be the worse mistake.
    pub fn is_open_at(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.timezone);
        if self.hours.0.iter().all(Option::is_none) {
            return self.holiday(local.date_naive()).is_none();
        }
        self.opening_hours(local.date_naive())
            .is_some_and(|hours| hours.open <= local.time() && local.time() < hours.close)
    }
}

impl ConversationManager {
    /// What the advisor hears before taking a transferred call: who, the vehicle, what they
    /// want and why the agent handed over. Plain sentences for Twilio's `<Say>`.
    pub fn transfer_brief(&self) -> String {
        let slots = self.slots();
        let mut parts = Vec::new();
        let who = match (self.customer(), &slots.customer_name) {
            (Some(customer), _) => format!(
                "{} {}, an existing customer",
                customer.first_name, customer.last_name
            ),
            (None, Some(name)) => format!("{name}, a new caller"),
            (None, None) => "A caller".to_owned(),
        };
        parts.push(match self.caller_phone() {
            Some(phone) if phone.starts_with('+') => {
                format!("{who}, calling from {}", read_back_phone(phone))
            }
            _ => who,
        });
        let vehicle = slots.vehicle.clone().or_else(|| {
            self.customer()
                .and_then(|c| c.vehicles.first())
                .map(|v| v.describe())
        });
        if let Some(vehicle) = vehicle {
            parts.push(format!("Vehicle: {vehicle}"));
        }
        let mut want = match self.intent() {
            Some(Intent::ScheduleAppointment) => "Wants to book".to_owned(),
            Some(Intent::RescheduleAppointment) => "Wants to move an appointment".to_owned(),
            Some(Intent::CancelAppointment) => "Wants to cancel an appointment".to_owned(),
            Some(Intent::CheckStatus) => "Asking about their car's status".to_owned(),
            Some(Intent::PricingInquiry) => "Asking about prices".to_owned(),
            Some(Intent::CheckHours) => "Asking about opening hours".to_owned(),
            Some(Intent::GeneralInquiry) | None => String::new(),
        };
        if let Some(service) = &slots.service_type {
            if want.is_empty() {
                want = format!("About {service}");
            } else {
                want = format!("{want}: {service}");
            }
        }
        if let Some(date) = &slots.preferred_date {
            want = format!("{want}, {date}");
        }
        if !want.is_empty() {
            parts.push(want);
        }
        if let Some(reason) = self.escalation_reason() {
            parts.push(format!("Handed over because {}", reason_words(reason)));
        }
        let mut res = parts.join(". ");
        res.push('.');
        res
    }

    /// The message left on a voicemail greeting of an outbound call: who calls, why, and how to
    /// call back. `None` for calls that have nothing to leave.
    pub fn voicemail(&self) -> Option<String> {
        let shop = &self.shop().name;
        let first_name = self
            .customer()
            .map(|c| format!(" for {}", c.first_name))
            .unwrap_or_default();
        let call_back = match &self.shop().phone {
            Some(phone) => format!(
                " To change it or ask us anything, please call us at {}.",
                read_back_phone(phone)
            ),
            None => " To change it, please give us a call.".to_owned(),
        };
        let why = match self.subject()? {
            CallSubject::Appointment(appointment) => {
                let local = appointment.starts_at.with_timezone(&self.shop().timezone);
                let when = format!("{} {}", local.format("%A, %B"), ordinal(local.day()));
                format!(
                    "a reminder of your {} appointment on {when} at {}",
                    appointment.service,
                    local.format("%-I:%M %p")
                )
            }
            CallSubject::ServiceDue { vehicle, service } => {
                format!("your {} is due for {service}", vehicle.describe())
            }
        };
        Some(format!(
            "Hi, this is the automated assistant at {shop} with a message{first_name}: {why}.{call_back} Thank you, goodbye."
        ))
    }
}

fn ordinal(day: u32) -> String {
    let suffix = match (day % 10, day % 100) {
        (1, n) if n != 11 => "st",
        (2, n) if n != 12 => "nd",
        (3, n) if n != 13 => "rd",
        _ => "th",
    };
    format!("{day}{suffix}")
}

fn reason_words(reason: EscalationReason) -> &'static str {
    match reason {
        EscalationReason::ManagerRequest => "they asked for a person",
        EscalationReason::Anger => "they are upset",
        EscalationReason::LegalThreat => "they mentioned legal action",
        EscalationReason::RepeatedFailure => "the assistant could not help",
        EscalationReason::Keypad => "they pressed zero for a person",
        EscalationReason::SpeechRecognitionLost | EscalationReason::SpeechSynthesisLost => {
            "the assistant's speech service failed"
        }
    }
}

/// Where message taking is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStep {
    /// Asking for the caller's name.
    Name,
    /// Reading back the number they call from.
    ConfirmNumber,
    /// Asking for the number to call back.
    Number,
    /// Asking what the message is.
    Message,
    /// Done: the message is complete (or the caller said goodbye).
    Done,
}

/// What the agent says after a caller's words while taking a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageReply {
    /// The line to speak.
    pub say: String,
    /// The message is complete: speak `say`, then end the call.
    pub done: bool,
}

/// The message for a person to act on.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TakenMessage {
    /// The caller's name, as understood (or as said, when it could not be parsed).
    pub name: Option<String>,
    /// The number to call back, E.164 when it was read.
    pub phone: Option<String>,
    /// What it is about, in the caller's words.
    pub message: Option<String>,
}

/// Takes a message: name, a call-back number confirmed by reading it back, and what it is about.
///
/// Each question is asked at most twice; after that the agent keeps what it has and moves on, so
/// a caller the recogniser cannot follow is never stuck in a loop.
#[derive(Debug, Clone)]
pub struct MessageTaker {
    step: MessageStep,
    caller_phone: Option<String>,
    taken: TakenMessage,
    misses: u8,
    /// The caller said the number they call from is not the one to use.
    declined_caller_number: bool,
    closing: String,
}

impl MessageTaker {
    /// Starts with what is known: the customer's name, and the number they call from (E.164).
    /// `closing` ends the last line ("someone will call you back as soon as they can").
    pub fn new(known_name: Option<String>, caller_phone: Option<String>, closing: &str) -> Self {
        let caller_phone = caller_phone.filter(|p| p.starts_with('+') && p.len() >= 8);
        let mut res = Self {
            step: MessageStep::Name,
            caller_phone,
            taken: TakenMessage {
                name: known_name,
                ..TakenMessage::default()
            },
            misses: 0,
            declined_caller_number: false,
            closing: closing.to_owned(),
        };
        res.step = res.after_name();
        res
    }

    /// The first question, after `lead` ("Our advisor couldn't pick up.").
    pub fn start(&self, lead: &str) -> String {
        format!(
            "{lead} I can take a message and have someone call you back. {}",
            self.question()
        )
    }

    /// Where it is.
    pub fn step(&self) -> MessageStep {
        self.step
    }

    /// What has been taken so far.
    pub fn message(&self) -> &TakenMessage {
        &self.taken
    }

    /// The caller's words for the current question.
    pub fn hear(&mut self, text: &str) -> MessageReply {
        let normalized = normalize(text);
        let heard = Heard::new(&normalized);
        if self.step != MessageStep::Message
            && detect::is_goodbye(&heard)
            && detect::answer(&heard).is_none()
        {
            self.step = MessageStep::Done;
            return MessageReply {
                say: format!(
                    "No problem. I've noted your call, and {}. Goodbye.",
                    self.closing
                ),
                done: true,
            };
        }
        let before = self.step;
        let mut lead = String::new();
        match self.step {
            MessageStep::Name => {
                let name = detect::introduced_name(&normalized)
                    .or_else(|| detect::bare_name(&normalized))
                    .or_else(|| (self.misses > 0).then(|| as_said(text, MAX_NAME_CHARS)))
                    .filter(|name| !name.is_empty());
                if let Some(name) = name {
                    self.taken.name = Some(name);
                    if let Some(phone) = phone_number(&normalized) {
                        self.taken.phone = Some(phone);
                    }
                    self.step = self.after_name();
                }
            }
            MessageStep::ConfirmNumber => {
                match (phone_number(&normalized), detect::answer(&heard)) {
                    (Some(phone), _) => {
                        lead = format!("Thanks, I have {}.", read_back_phone(&phone));
                        self.taken.phone = Some(phone);
                        self.step = MessageStep::Message;
                    }
                    (None, Some(Answer::Yes)) => {
                        self.taken.phone = self.caller_phone.clone();
                        self.step = MessageStep::Message;
                    }
                    (None, Some(Answer::No)) => {
                        self.declined_caller_number = true;
                        self.step = MessageStep::Number;
                    }
                    (None, None) if self.misses > 0 => {
                        // Asked twice: keep the number they call from.
                        self.taken.phone = self.caller_phone.clone();
                        self.step = MessageStep::Message;
                    }
                    (None, None) => {}
                }
            }
            MessageStep::Number => {
                if let Some(phone) = phone_number(&normalized) {
                    lead = format!("Thanks, I have {}.", read_back_phone(&phone));
                    self.taken.phone = Some(phone);
                    self.step = MessageStep::Message;
                } else if self.misses > 0 {
                    // Asked twice. The number they call from only when they did not turn it down.
                    let fallback = self
                        .caller_phone
                        .clone()
                        .filter(|_| !self.declined_caller_number);
                    lead = match &fallback {
                        Some(_) => "I'll pass on the number you're calling from.".to_owned(),
                        None => {
                            "I couldn't catch the number, so I'll pass on your message as it is."
                                .to_owned()
                        }
                    };
                    self.taken.phone = fallback;
                    self.step = MessageStep::Message;
                }
            }
            MessageStep::Message => {
                let message = as_said(text, MAX_MESSAGE_CHARS);
                if !message.is_empty() {
                    self.taken.message = Some(message);
                    self.step = MessageStep::Done;
                }
            }
            MessageStep::Done => {}
        }
        if self.step == MessageStep::Done {
            let thanks = match self.taken.name.as_deref().and_then(|n| n.split(' ').next()) {
                Some(first) => format!("Thank you, {first}."),
                None => "Thank you.".to_owned(),
            };
            return MessageReply {
                say: format!(
                    "{thanks} I've passed your message on, and {}. Goodbye.",
                    self.closing
                ),
                done: true,
            };
        }
        if self.step == before {
            self.misses += 1;
            let question = match self.step {
                MessageStep::Number => {
                    "Sorry, I didn't catch that. Could you say the number digit by digit?"
                        .to_owned()
                }
                _ => format!("Sorry, I didn't catch that. {}", self.question()),
            };
            return MessageReply {
                say: question,
                done: false,
            };
        }
        self.misses = 0;
        let say = if lead.is_empty() {
            self.question()
        } else {
            format!("{lead} {}", self.question())
        };
        MessageReply { say, done: false }
    }

    fn after_name(&self) -> MessageStep {
        if self.taken.name.is_none() {
            MessageStep::Name
        } else if self.taken.phone.is_some() {
            MessageStep::Message
        } else if self.caller_phone.is_some() {
            MessageStep::ConfirmNumber
        } else {
            MessageStep::Number
        }
    }

    fn question(&self) -> String {
        match self.step {
            MessageStep::Name => "May I have your name?".to_owned(),
            MessageStep::ConfirmNumber => format!(
                "Is {} the best number to reach you?",
                read_back_phone(self.caller_phone.as_deref().unwrap_or_default())
            ),
            MessageStep::Number => "What's the best number to reach you?".to_owned(),
            MessageStep::Message => "And what would you like me to tell them?".to_owned(),
            MessageStep::Done => String::new(),
        }
    }
}

/// The caller's words as said, trimmed and cut at a word boundary.
fn as_said(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    match cut.rfind(' ') {
        Some(at) if at > max_chars / 2 => cut[..at].to_owned(),
        _ => cut,
    }
}
