//! What a call needs from the world besides the providers, as traits the binary implements
//! (and tests fake): the CRM, control of the live call, and the per-call stream token.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use conversation::CustomerProfile;
use providers::ToolSpec;
use serde::{Deserialize, Serialize};
use twilio::CallSid;

/// A failure of a port: whether trying again can help, and what happened, as text for logs.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PortError {
    /// The far side could not be reached or did not answer in time (the database is down, a
    /// timeout, Twilio's 429 or 5xx): the same request may succeed later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The far side answered and refused, or the port is not set up for it: the same request
    /// fails the same way again.
    #[error("refused: {0}")]
    Refused(String),
}

impl PortError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// An `Unavailable` error.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::Unavailable(detail.into())
    }

    /// A `Refused` error.
    pub fn refused(detail: impl Into<String>) -> Self {
        Self::Refused(detail.into())
    }
}

/// Why a text message was not sent.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TextError {
    /// The recipient texted STOP: never text them again until they opt back in.
    #[error("the recipient has opted out of text messages")]
    Unsubscribed,
    /// Anything else (the provider is down, refused the number, …).
    #[error("{0}")]
    Failed(String),
}

/// Sends text messages (Twilio's Messages API in the binary).
#[async_trait]
pub trait TextSender: Send + Sync + 'static {
    /// Sends `body` to `to` (E.164).
    async fn send_text(&self, to: &str, body: &str) -> Result<(), TextError>;
}

/// The CRM as one call uses it.
#[async_trait]
pub trait CallCrm: Send + Sync + 'static {
    /// The customer with this phone number, if any.
    async fn lookup_customer(&self, phone: &str) -> Result<Option<CustomerProfile>, PortError>;
    /// JSON-schema descriptions of the tools the LLM may call.
    fn tools(&self) -> Vec<ToolSpec>;
    /// Runs one tool call: the result the LLM reads (failures as a JSON error object) and the
    /// outcome the conversation acts on.
    async fn execute_tool(
        &self,
        name: &str,
        arguments: &str,
        context: &ToolCallContext,
    ) -> ToolReply;
    /// Writes (upserts by call SID) the final record of a call.
    async fn record_call(&self, record: &CallRecord) -> Result<(), PortError>;
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), PortError>;
    /// Puts `phone` on the shop's do-not-call list (the caller asked on this call).
    async fn opt_out_of_calls(&self, _phone: &str, _now: DateTime<Utc>) -> Result<(), PortError> {
        Err(PortError::refused("this CRM keeps no do-not-call list"))
    }
}

/// A tool call's result for the LLM and its typed outcome for the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolReply {
    /// What the model reads.
    pub result: serde_json::Value,
    /// What happened.
    pub outcome: ToolOutcome,
}

/// What a tool call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolOutcome {
    /// Done.
    Succeeded,
    /// The requested time is taken: the caller is asked for another.
    SlotTaken,
    /// Refused (business rule, bad arguments, a limit): nothing was done.
    Refused,
    /// The CRM is down or slow: nothing was done; counts toward escalation.
    Unavailable,
}

impl ToolReply {
    /// A reply read back from a capture, where only the JSON was recorded: the outcome comes
    /// from the CRM's error codes (`crates/crm/src/tools.rs` documents them).
    pub fn from_recorded(result: serde_json::Value) -> Self {
        let outcome = if result.get("ok").and_then(serde_json::Value::as_bool) == Some(true) {
            ToolOutcome::Succeeded
        } else {
            match result
                .pointer("/error/code")
                .and_then(serde_json::Value::as_str)
            {
                Some("slot_full") => ToolOutcome::SlotTaken,
                Some("unavailable") => ToolOutcome::Unavailable,
                _ => ToolOutcome::Refused,
            }
        };
        Self { result, outcome }
    }

    /// A refusal the pipeline makes itself (a limit), with a code and a sentence for the model.
    pub fn refused(code: &str, message: &str) -> Self {
        Self {
            result: serde_json::json!({"ok": false, "error": {"code": code, "message": message}}),
            outcome: ToolOutcome::Refused,
        }
    }

    /// Whether the tool did what it was asked.
    pub fn succeeded(&self) -> bool {
        self.outcome == ToolOutcome::Succeeded
    }
}

/// Who is calling, for tools that act on "my" appointments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallContext {
    /// The call.
    pub call_sid: String,
    /// The caller's number as Twilio gave it.
    pub caller_phone: Option<String>,
    /// The CRM id of the caller, when known.
    pub customer_id: Option<i64>,
    /// The current time.
    pub now: DateTime<Utc>,
}

/// Control of the live call through Twilio's REST API.
#[async_trait]
pub trait CallControl: Send + Sync + 'static {
    /// Whether transfers can be made (credentials and an advisor number are configured).
    fn can_transfer(&self) -> bool;
    /// Redirects the live call to TwiML that dials the advisor. Twilio then sends `stop`.
    async fn transfer_to_advisor(&self, call_sid: &CallSid) -> Result<(), PortError>;
    /// Ends the live call.
    async fn hang_up(&self, call_sid: &CallSid) -> Result<(), PortError>;
    /// Whether calls are recorded: the call starts a recording and the greeting says so first.
    fn records_calls(&self) -> bool {
        false
    }
    /// Starts recording the live call (both parties, each on a channel).
    async fn start_recording(&self, _call_sid: &CallSid) -> Result<(), PortError> {
        Err(PortError::refused("calls are not recorded"))
    }
    /// Whether transfers are warm: the advisor is called first, hears `brief`, and takes the
    /// call with a key, while the caller hears hold audio on the stream. When `false`,
    /// `transfer_to_advisor` redirects the caller straight to the advisor's phone.
    fn warm_transfers(&self) -> bool {
        false
    }
    /// Rings the advisor for a warm transfer of `call_sid`. How it ends comes back as a signal
    /// (`signals::SignalKind::Transfer`): on `connected` the caller is already being moved to
    /// the advisor; otherwise the agent takes a message.
    async fn call_advisor(&self, _call_sid: &CallSid, _brief: &str) -> Result<(), PortError> {
        Err(PortError::refused("warm transfers are not configured"))
    }
    /// Stops ringing the advisor for `call_sid` (the caller hung up, or the wait is over).
    async fn cancel_advisor_call(&self, _call_sid: &CallSid) -> Result<(), PortError> {
        Ok(())
    }
}

/// A `CallControl` for deployments without Twilio credentials: it can do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCallControl;

#[async_trait]
impl CallControl for NoCallControl {
    fn can_transfer(&self) -> bool {
        false
    }

    async fn transfer_to_advisor(&self, _call_sid: &CallSid) -> Result<(), PortError> {
        Err(PortError::refused(
            "no Twilio credentials or advisor number configured",
        ))
    }

    async fn hang_up(&self, _call_sid: &CallSid) -> Result<(), PortError> {
        Err(PortError::refused("no Twilio credentials configured"))
    }
}

/// The final record of one call, written to the CRM database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Twilio's call SID (the upsert key).
    pub call_sid: String,
    /// The media stream.
    pub stream_sid: String,
    /// The caller (E.164 as Twilio sent it), if known.
    pub caller_phone: Option<String>,
    /// The CRM customer, if known.
    pub customer_id: Option<i64>,
    /// Which way the call went (`inbound` or `outbound` in JSON).
    pub direction: conversation::CallDirection,
    /// The conversation flow, snake_case.
    pub call_type: String,
    /// When the stream started.
    pub started_at: DateTime<Utc>,
    /// When the call ended for us; `None` in the record written when the call starts.
    pub ended_at: Option<DateTime<Utc>>,
    /// `in_progress` (at start), then `completed`, `transferred`, `failed`, …
    pub status: String,
    /// The manager's summary (the seed's shape).
    pub summary: serde_json::Value,
    /// The conversation history.
    pub transcript: serde_json::Value,
    /// Whether the call escalated.
    pub escalation_triggered: bool,
    /// Why, snake_case.
    pub escalation_reason: Option<String>,
    /// LLM prompt tokens used.
    pub prompt_tokens: u32,
    /// LLM completion tokens used.
    pub completion_tokens: u32,
    /// LLM tokens used in all.
    pub total_tokens: u64,
    /// Per-turn latency figures.
    pub timings: serde_json::Value,
    /// A person must call the caller back, for this reason (escalation without a transfer).
    /// Written with the record, so it is as durable as the record.
    #[serde(default)]
    pub callback_reason: Option<String>,
    /// The message the agent took for the person who calls back (name, number, what about).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<conversation::TakenMessage>,
    /// The turns the offline agent answered instead of the LLM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offline_turns: Vec<u64>,
}

/// Watches calls as they happen: the operator console's live view, the text call's screen.
///
/// Called on the call's driver task, so an implementation must not block: queue and return.
/// Events carry what was said (personal data): observers are in-process and behind the
/// operator's authentication.
pub trait CallObserver: Send + Sync + 'static {
    /// One event of call `call_sid`.
    fn on_event(&self, call_sid: &str, event: &CallEvent);
}

/// What an observer sees of a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallEvent {
    /// The call began: who (masked), which way, which flow.
    Started {
        /// The caller's number, masked (`mask_phone`), if known.
        caller: Option<String>,
        /// Which way the call goes.
        direction: conversation::CallDirection,
        /// The conversation flow, snake_case.
        call_type: String,
    },
    /// The caller's turn, as recognised.
    Caller {
        /// The words.
        text: String,
    },
    /// The agent's reply or line, once its text is complete.
    Agent {
        /// The words.
        text: String,
    },
    /// The agent's turn is over: everything of it played (or the caller interrupted it), and the
    /// caller has the floor.
    TurnOver {
        /// The caller cut it short.
        interrupted: bool,
    },
    /// Where the conversation is after a caller turn or a tool result.
    Conversation {
        /// State, snake_case.
        state: String,
        /// Intent, snake_case.
        intent: Option<String>,
        /// The collected slots (the summary's `collected_slots`).
        slots: serde_json::Value,
    },
    /// The call is being handed to a person.
    Escalated {
        /// Why, snake_case.
        reason: String,
    },
    /// The call ended.
    Ended {
        /// `completed`, `transferred`, `failed`.
        status: String,
    },
}
