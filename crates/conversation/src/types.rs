//! The vocabulary of a conversation: call types, states, intents, slots, transitions.

use std::fmt;

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize, Serializer};

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// A customer called the shop.
    Inbound,
    /// The shop called out.
    Outbound,
}

impl CallDirection {
    /// The stored and serialized text: `inbound` or `outbound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }

    /// Reads a stored direction; anything but `outbound` is `Inbound`.
    pub fn from_stored(text: &str) -> Self {
        if text == "outbound" {
            Self::Outbound
        } else {
            Self::Inbound
        }
    }
}

/// Which of the six call flows this conversation follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallType {
    /// A caller whose number is not in the CRM.
    InboundNew,
    /// A caller the CRM knows (a `CustomerProfile` was found).
    InboundExisting,
    /// A caller without caller ID, or when the CRM could not be asked.
    InboundGeneral,
    /// We call to remind a customer of an upcoming appointment.
    OutboundReminder,
    /// We call after a visit to ask how the car is running.
    OutboundFollowUp,
    /// We call because a vehicle is due for a service.
    OutboundServiceDue,
}

/// Where the conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Nothing said by the caller yet; the greeting is being spoken.
    Greeting,
    /// Finding out what the caller wants.
    IntentDetection,
    /// Asking for the details the intent needs.
    SlotCollection,
    /// Reading the details back and waiting for a yes, a no or a correction.
    Confirmation,
    /// Doing it: booking, cancelling, or answering a question.
    Execution,
    /// Wrapping up the call.
    Closing,
    /// Handing the call to a person. Terminal.
    Escalation,
}

/// What the caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Book a new appointment.
    ScheduleAppointment,
    /// Move an existing appointment.
    RescheduleAppointment,
    /// Cancel an existing appointment.
    CancelAppointment,
    /// Opening hours.
    CheckHours,
    /// Whether their car is ready.
    CheckStatus,
    /// What something costs.
    PricingInquiry,
    /// Anything else the receptionist can answer (services offered, address, loaners).
    GeneralInquiry,
}

/// Why the call is handed to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// The caller asked for a manager, a person, the front desk.
    ManagerRequest,
    /// Frustration, insults or profanity.
    Anger,
    /// Lawyer, lawsuit, Better Business Bureau.
    LegalThreat,
    /// Three caller turns in a row without progress.
    RepeatedFailure,
    /// The caller pressed 0 for a person.
    Keypad,
    /// Speech recognition was lost for good: the agent cannot hear the caller.
    SpeechRecognitionLost,
    /// Speech synthesis was lost (both voices): the agent cannot speak.
    SpeechSynthesisLost,
}

/// A part of the day the caller asked for instead of a clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayPeriod {
    /// Before noon.
    Morning,
    /// Noon to five.
    Afternoon,
    /// After five.
    Evening,
}

/// What the pipeline's tool call (book, reschedule, cancel) came back with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolResult {
    /// Done: the conversation moves on to closing.
    Succeeded,
    /// The requested time is taken: the time is cleared and asked for again.
    SlotUnavailable,
    /// Failed for another reason: stay in execution; the second failure escalates.
    Failed,
}

/// One change of state or intent, in the order they happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// The caller turn (1-based) that caused it; 0 for events before the first turn.
    pub turn: u32,
    /// State before.
    pub from: State,
    /// State after (may equal `from` when only the intent changed).
    pub to: State,
    /// The intent after the change.
    pub intent: Option<Intent>,
}

/// What has been collected from the caller. `None` fields are left out when serialised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Slots {
    /// Canonical catalog name, e.g. "oil change" (the first service the caller named).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// Further services named with it, in order ("brakes and an oil change": oil change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_services: Vec<String>,
    /// The date as heard, e.g. "tomorrow", "next monday", "12/8".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_date: Option<String>,
    /// The time as heard, e.g. "2pm", "noon", "morning".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_time: Option<String>,
    /// `preferred_date` resolved in the shop's timezone; serialised as `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_date: Option<NaiveDate>,
    /// `preferred_time` resolved to a clock time; serialised as `HH:MM`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_hhmm",
        deserialize_with = "deserialize_hhmm"
    )]
    pub resolved_time: Option<NaiveTime>,
    /// Set instead of `resolved_time` when the caller named only a part of the day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_period: Option<DayPeriod>,
    /// A VIN the caller read out, checked (`spelled::vin`); read it back to confirm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vin: Option<String>,
    /// The caller read out a VIN whose check digit does not match: ask again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vin_misheard: bool,
    /// A licence plate the caller spelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plate: Option<String>,
    /// A phone number the caller said (E.164), e.g. for a call-back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// A name the caller spelled letter by letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spelled_name: Option<String>,
    /// Caller's name, for callers the CRM does not know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// Vehicle as said, e.g. "2019 Honda Civic".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<String>,
    /// The appointment a reschedule or cancel is about (CRM id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_id: Option<i64>,
}

/// A slot the current intent still needs, in the order they are asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotName {
    /// Which service.
    ServiceType,
    /// Which existing appointment (reschedule, cancel).
    Appointment,
    /// Which day.
    PreferredDate,
    /// Which time (a clock time or a part of the day).
    PreferredTime,
    /// The caller's name.
    CustomerName,
    /// The caller's vehicle.
    Vehicle,
}

/// The session-store shape of a conversation (the seed's `conversation_summary`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationSummary {
    /// The flow.
    pub call_type: CallType,
    /// Current state.
    pub state: State,
    /// Current intent, `null` when none.
    pub intent: Option<Intent>,
    /// Caller turns processed.
    pub turn_count: u32,
    /// Slots collected so far.
    pub collected_slots: Slots,
    /// Whether the call was handed to a person.
    pub escalation_triggered: bool,
    /// Why; only present when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation_reason: Option<EscalationReason>,
}

fn serialize_hhmm<S: Serializer>(
    time: &Option<NaiveTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.collect_str(&time.format("%H:%M")),
        None => serializer.serialize_none(),
    }
}

fn deserialize_hhmm<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NaiveTime>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    text.map(|text| NaiveTime::parse_from_str(&text, "%H:%M").map_err(serde::de::Error::custom))
        .transpose()
}

macro_rules! snake_case_names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The snake_case name, as serialised.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),*
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

snake_case_names!(CallType {
    InboundNew => "inbound_new",
    InboundExisting => "inbound_existing",
    InboundGeneral => "inbound_general",
    OutboundReminder => "outbound_reminder",
    OutboundFollowUp => "outbound_follow_up",
    OutboundServiceDue => "outbound_service_due",
});

snake_case_names!(State {
    Greeting => "greeting",
    IntentDetection => "intent_detection",
    SlotCollection => "slot_collection",
    Confirmation => "confirmation",
    Execution => "execution",
    Closing => "closing",
    Escalation => "escalation",
});

snake_case_names!(Intent {
    ScheduleAppointment => "schedule_appointment",
    RescheduleAppointment => "reschedule_appointment",
    CancelAppointment => "cancel_appointment",
    CheckHours => "check_hours",
    CheckStatus => "check_status",
    PricingInquiry => "pricing_inquiry",
    GeneralInquiry => "general_inquiry",
});

snake_case_names!(EscalationReason {
    ManagerRequest => "manager_request",
    Anger => "anger",
    LegalThreat => "legal_threat",
    RepeatedFailure => "repeated_failure",
    Keypad => "keypad",
    SpeechRecognitionLost => "speech_recognition_lost",
    SpeechSynthesisLost => "speech_synthesis_lost",
});

snake_case_names!(DayPeriod {
    Morning => "morning",
    Afternoon => "afternoon",
    Evening => "evening",
});

impl std::str::FromStr for CallType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            CallType::InboundNew,
            CallType::InboundExisting,
            CallType::InboundGeneral,
            CallType::OutboundReminder,
            CallType::OutboundFollowUp,
            CallType::OutboundServiceDue,
        ]
        .into_iter()
        .find(|call_type| call_type.as_str() == text)
        .ok_or_else(|| format!("unknown call type {text:?}"))
    }
}
