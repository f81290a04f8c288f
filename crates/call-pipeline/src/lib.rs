//! Runs one phone call: Twilio media in, speech-to-text, the conversation state machine, the LLM
//! with CRM tools, text-to-speech, Twilio media out; barge-in, escalation, silence handling,
//! sessions and the final call record.
//!
//! `run_call` takes a `PhoneLink` (text frames in and out, so tests and replay use channels),
//! `CallDeps` (providers as `Arc<dyn …>` trait objects, the CRM and call control as ports, the
//! session store) and a `PipelineConfig`. Every task of a call is tracked and ends with the call;
//! the driver task alone owns the `ConversationManager`, history and the turn-taking machine
//! (`floor.rs`: pure, events in and actions out, `now` passed in; barge-in pauses first and lets
//! the caller's words decide).
//! `StreamAdmission` decides which streams become calls (stream token, single use, one live
//! stream per call, capacity) before anything is opened. `RecordOutbox` spools call records to
//! disk and writes them to the CRM, retried until they land.
//!
//! `TextCall` runs the same call in text, with the audio left out (`voice-gateway chat`).
//!
//! Handing over: a warm transfer holds the caller on the stream (hold audio) while the advisor
//! is rung through `CallControl`; when nobody takes the call the agent takes a message
//! (`conversation::MessageTaker`). Outbound calls with answering-machine detection greet after
//! the verdict, or leave a voicemail. Webhook outcomes reach the call through `signals`.
//!
//! Losing the stream: a call that ends on purpose marks itself ended (`Admitted::mark_ended`)
//! before closing the socket; one whose socket breaks without `stop` ends as `lost`, unmarked,
//! and a stream carrying a resume token (`RESUME_PARAMETER`) later takes it up again from the
//! session (`conversation_snapshot`, history, start time), opening with the manager's
//! `resume_line`.
//!
//! The CRM is a port (`CallCrm`); its adapter over the `crm` crate is the binary's
//! (`voice_gateway::crm_port::CrmPort`). Cargo feature `fake` adds `fake`: a scripted CRM and a
//! recording call control, the ports' one set of fakes for tests, replay and the bench.
//!
//! Sessions are a port too: the `SessionStore` trait, taken from `session-store` without its
//! `redis` feature, so the pipeline builds with the in-memory store and never with `fred`.
//!
//! Must not depend on: axum or any HTTP server, vendor crates (`deepgram`, `openai`,
//! `elevenlabs`), `crm`, `sea-orm`, `fred`, or the process environment.

mod admission;
mod barge_in;
mod call;
mod capture;
mod config;
#[cfg(feature = "fake")]
pub mod fake;
mod floor;
mod outbound;
mod outbox;
mod phone;
mod playback;
mod ports;
mod sentences;
pub mod signals;
mod text_call;
mod token;
mod turn;

pub use admission::{
    AdmissionConfig, Admitted, MAX_RESUMES, PendingSlot, RESUME_PARAMETER, Refusal,
    StreamAdmission, ended_mark_key,
};
pub use call::{AMD_PARAMETER, CallDeps, CallOutcome, CallStatus, OfflineAgentFactory, run_call};
pub use capture::CAPTURE_FORMAT_VERSION;
pub use config::{CallerIdPolicy, HoldAudio, PipelineConfig};
pub use outbox::{OutboxWorker, RecordOutbox};
pub use phone::{PhoneError, PhoneLink};
pub use ports::{
    CallControl, CallCrm, CallEvent, CallObserver, CallRecord, NoCallControl, PortError, TextError,
    TextSender, ToolCallContext, ToolOutcome, ToolReply,
};
pub use text_call::{TextCall, TextCaller, TextEvent};
pub use token::{
    STREAM_TOKEN_PARAMETER, TokenClaims, TokenError, issue_stream_token, verify_stream_token,
};
