//! The JSON of docs/protocols.md 8.1 (request), 8.3 (chunks), 8.5 (tool results) and 8.6 (errors).
//! Only this module knows OpenAI's field names.

use serde::{Deserialize, Serialize};

use providers::{ChatMessage, ChatRequest, ToolCall, ToolSpec};

use crate::config::{Endpoint, MaxTokensField};

/// The request body.
#[derive(Debug, Serialize)]
pub(crate) struct WireRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Debug, Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
enum WireMessage<'a> {
    System {
        content: &'a str,
    },
    User {
        content: &'a str,
    },
    Assistant {
        /// `null` when the message only calls tools (8.5).
        content: Option<&'a str>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<WireToolCall<'a>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: &'a str,
    },
}

#[derive(Debug, Serialize)]
struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunctionCall<'a>,
}

#[derive(Debug, Serialize)]
struct WireFunctionCall<'a> {
    name: &'a str,
    /// A string of JSON, exactly as streamed (8.5).
    arguments: &'a str,
}

#[derive(Debug, Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Debug, Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a serde_json::Value,
}

impl<'a> WireRequest<'a> {
    /// The body for `request` at `endpoint`; `temperature` and `max_tokens` fill in what the
    /// request leaves unset.
    pub(crate) fn new(
        request: &'a ChatRequest,
        endpoint: &'a Endpoint,
        temperature: Option<f32>,
        max_tokens: Option<u32>,
    ) -> Self {
        let max_tokens = request.max_tokens.or(max_tokens);
        let (max_completion_tokens, max_tokens) = match endpoint.max_tokens_field {
            MaxTokensField::MaxCompletionTokens => (max_tokens, None),
            MaxTokensField::MaxTokens => (None, max_tokens),
        };
        Self {
            model: &endpoint.model,
            messages: request.messages.iter().map(WireMessage::from).collect(),
            tools: request.tools.iter().map(WireTool::from).collect(),
            tool_choice: (!request.tools.is_empty()).then_some("auto"),
            temperature: request.temperature.or(temperature),
            max_completion_tokens,
            max_tokens,
            stream: true,
            stream_options: endpoint.include_usage.then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

impl<'a> From<&'a ChatMessage> for WireMessage<'a> {
    fn from(message: &'a ChatMessage) -> Self {
        match message {
            ChatMessage::System { content } => Self::System { content },
            ChatMessage::User { content } => Self::User { content },
            ChatMessage::Assistant {
                content,
                tool_calls,
            } => Self::Assistant {
                // A message with neither text nor calls still needs a content string.
                content: match content.as_deref() {
                    None if tool_calls.is_empty() => Some(""),
                    other => other,
                },
                tool_calls: tool_calls.iter().map(WireToolCall::from).collect(),
            },
            ChatMessage::Tool {
                tool_call_id,
                content,
            } => Self::Tool {
                tool_call_id,
                content,
            },
        }
    }
}

impl<'a> From<&'a ToolCall> for WireToolCall<'a> {
    fn from(call: &'a ToolCall) -> Self {
        Self {
            id: &call.id,
            kind: "function",
            function: WireFunctionCall {
                name: &call.name,
                arguments: &call.arguments,
            },
        }
    }
}

impl<'a> From<&'a ToolSpec> for WireTool<'a> {
    fn from(tool: &'a ToolSpec) -> Self {
        Self {
            kind: "function",
            function: WireFunction {
                name: &tool.name,
                description: &tool.description,
                parameters: &tool.parameters,
            },
        }
    }
}

/// One `data:` payload of the stream. Every field is optional and unknown fields are ignored, so
/// Azure's filter chunks, `obfuscation` and vendor extras pass through.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Chunk {
    #[serde(default)]
    pub(crate) choices: Vec<Choice>,
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
    /// Groq's historical place for usage (8.7).
    #[serde(default)]
    pub(crate) x_groq: Option<XGroq>,
    /// A mid-stream error (8.2): an object at OpenAI, a bare string at some compatible servers.
    #[serde(default)]
    pub(crate) error: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub(crate) index: u32,
    #[serde(default)]
    pub(crate) delta: Option<Delta>,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Delta {
    #[serde(default)]
    pub(crate) content: Option<String>,
    #[serde(default)]
    pub(crate) refusal: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<ToolCallFragment>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolCallFragment {
    #[serde(default)]
    pub(crate) index: u32,
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) function: Option<FunctionFragment>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionFragment {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) arguments: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) prompt_tokens: u32,
    #[serde(default)]
    pub(crate) completion_tokens: u32,
    #[serde(default)]
    pub(crate) total_tokens: u32,
}

#[derive(Debug, Deserialize)]
pub(crate) struct XGroq {
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
}

/// `{"error": {...}}`, in an error response body or as a stream event (8.6).
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: WireError,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    /// A string at OpenAI; some servers send a number.
    #[serde(default)]
    pub(crate) code: Option<serde_json::Value>,
}

impl WireError {
    /// Reads an `error` value: the usual object, or a bare message string.
    pub(crate) fn from_value(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::String(message) => Self {
                message: Some(message),
                ..Self::default()
            },
            other => serde_json::from_value(other).unwrap_or_default(),
        }
    }

    /// `code` as text, whatever its JSON type.
    pub(crate) fn code_text(&self) -> Option<String> {
        match self.code.as_ref()? {
            serde_json::Value::String(code) => Some(code.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A one-line description for an error value.
    pub(crate) fn describe(&self) -> String {
        let message = self.message.as_deref().unwrap_or("(no message)");
        match (self.code_text(), self.kind.as_deref()) {
            (Some(code), _) => format!("{message} ({code})"),
            (None, Some(kind)) => format!("{message} ({kind})"),
            (None, None) => message.to_owned(),
        }
    }
}
