//! Streaming chat completions: trait, request and message types, events.

use std::time::Instant;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::ProviderError;

/// A stream of events for one completion. Dropping it cancels the request.
pub type LlmStream = BoxStream<'static, Result<LlmEvent, ProviderError>>;

/// Streams chat completions (OpenAI-compatible or a fake).
#[async_trait]
pub trait LanguageModel: Send + Sync + 'static {
    /// Starts one completion. Retries and fallbacks that happen before the first event are the
    /// implementation's business; errors after that arrive as `Err` items in the stream.
    async fn stream(&self, request: ChatRequest) -> Result<LlmStream, ProviderError>;

    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;
}

/// One chat completion request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far, system prompt first.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Sampling temperature, if not the server default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Upper bound on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// One message of the conversation history, in the role-tagged shape OpenAI-style APIs use (and
/// that sessions store as `conversation_history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    /// Instructions for the model.
    System {
        /// The prompt text.
        content: String,
    },
    /// What the caller said.
    User {
        /// The caller's words.
        content: String,
    },
    /// What the agent said (cut to what the caller heard) and any tools it called.
    Assistant {
        /// Spoken text, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        /// Tool calls the model made in this message.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// The result of a tool call, sent back to the model.
    Tool {
        /// The `ToolCall::id` this answers.
        tool_call_id: String,
        /// The tool's result, usually JSON text.
        content: String,
    },
}

/// A function the model may call, described by a JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Function name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// A complete tool call, assembled from streamed fragments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id the tool result must quote.
    pub id: String,
    /// Function name.
    pub name: String,
    /// Arguments as the model wrote them (JSON text; may be invalid JSON).
    pub arguments: String,
}

/// Token counts for one completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the request.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Their sum, as the vendor reports it.
    pub total_tokens: u32,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end of the reply.
    Stop,
    /// Hit `max_tokens`.
    Length,
    /// The model wants tool results before it goes on.
    ToolCalls,
    /// The vendor filtered the content.
    ContentFilter,
    /// Anything else the vendor said.
    Other(String),
}

/// What a completion stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    /// A piece of reply text.
    TextDelta {
        /// The new text.
        text: String,
        /// When it arrived.
        at: Instant,
    },
    /// A complete tool call (emitted once all its fragments arrived).
    ToolCall {
        /// The call.
        call: ToolCall,
        /// When it was complete.
        at: Instant,
    },
    /// Token usage (usually the last chunk).
    Usage {
        /// The counts.
        usage: Usage,
        /// When it arrived.
        at: Instant,
    },
    /// The model finished; the stream ends soon after (a usage chunk may still follow).
    Finished {
        /// Why.
        reason: FinishReason,
        /// When it arrived.
        at: Instant,
    },
}
