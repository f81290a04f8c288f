//! Provider traits for speech-to-text, language models and text-to-speech, their shared event
//! types, the utterance assembler, and scripted fakes for tests and replay.
//!
//! `SpeechToText`, `LanguageModel` and `TextToSpeech` are what `call-pipeline` holds (as
//! `Arc<dyn …>`); each vendor crate (`deepgram`, `openai`, `elevenlabs`) implements one or more.
//! A streaming session is split in three parts so that no vendor crate spawns a detached task:
//! a command handle (`SttHandle`, `TtsHandle`), an event receiver, and a `driver` future that owns
//! the socket and that the caller spawns on its own per-call task tracker.
//! `fake` holds scripted `FakeStt`, `FakeLlm` and `FakeTts` behind the same traits.
//! Every event carries a monotonic `Instant` so the pipeline can report per-hop latency.
//!
//! Cargo feature `sim` adds `sim`: the state and key check every simulated vendor server shares
//! (the servers live in the vendor crates, behind their own `sim` features).
//!
//! Must not depend on: any vendor crate, any other workspace crate, sockets, files or the environment
//! (outside the `sim` feature).

pub mod error;
pub mod fake;
pub mod llm;
#[cfg(feature = "sim")]
pub mod sim;
pub mod stt;
pub mod tts;

pub use error::ProviderError;
pub use llm::{
    ChatMessage, ChatRequest, FinishReason, LanguageModel, LlmEvent, LlmStream, ToolCall, ToolSpec,
    Usage,
};
pub use stt::{
    SpeechToText, SttCommand, SttEvent, SttHandle, SttOptions, SttSession, Transcript, Utterance,
    UtteranceAssembler,
};
pub use tts::{TextToSpeech, TtsCommand, TtsEvent, TtsHandle, TtsOptions, TtsSession};

/// A future that drives one streaming session (owns its socket, reconnects, ends when the handle is
/// dropped or closed). The caller spawns it on the call's task tracker.
pub type Driver = futures::future::BoxFuture<'static, ()>;
