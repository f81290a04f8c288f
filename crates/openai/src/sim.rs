//! What an OpenAI-compatible server sends, written the way it sends it: for simulators and tests
//! (cargo feature `sim`; the gateway's own build does not enable it), so nothing outside this
//! crate writes the chat-completions wire format. Each frame reads back through this crate's own
//! types (see the tests). The shapes are in docs/protocols.md (OpenAI streaming).
//!
//! [`server`] is the protocol server that speaks them: scripted replies at a token rate, an axum
//! `Router` over a `providers::sim::SimState`; the bench serves it.

pub mod server;

use serde_json::{Value, json};

/// The stream's last frame.
pub const DONE: &str = "data: [DONE]\n\n";

/// One `data:` frame of a streamed completion, with these `choices` and `usage` (`null` until the
/// usage chunk).
fn chunk(model: &str, choices: Value, usage: Value) -> String {
    let value = json!({
        "id": "chatcmpl-sim",
        "object": "chat.completion.chunk",
        "created": 1_764_000_000,
        "model": model,
        "choices": choices,
        "usage": usage,
    });
    format!("data: {value}\n\n")
}

/// The first frame: the assistant's role, no content yet.
pub fn role_chunk(model: &str) -> String {
    chunk(
        model,
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
        Value::Null,
    )
}

/// A frame carrying a piece of the reply.
pub fn content_chunk(model: &str, content: &str) -> String {
    chunk(
        model,
        json!([{"index": 0, "delta": {"content": content}, "finish_reason": null}]),
        Value::Null,
    )
}

/// The frame that ends the choice (`finish_reason: "stop"`).
pub fn stop_chunk(model: &str) -> String {
    chunk(
        model,
        json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        Value::Null,
    )
}

/// The usage frame (`stream_options.include_usage`): no choices, the token counts.
pub fn usage_chunk(model: &str, prompt_tokens: u32, completion_tokens: u32) -> String {
    chunk(
        model,
        json!([]),
        json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }),
    )
}

/// An error response body (`{"error": {...}}`).
pub fn error_body(message: &str, kind: &str, code: &str) -> String {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}}).to_string()
}

/// The `/v1/models` answer, listing `model`.
pub fn models_body(model: &str) -> String {
    json!({"object": "list", "data": [{"id": model, "object": "model", "owned_by": "sim"}]})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Chunk, ErrorBody};

    fn parsed(frame: &str) -> Chunk {
        let data = frame
            .strip_prefix("data: ")
            .and_then(|rest| rest.strip_suffix("\n\n"))
            .expect("an SSE data frame");
        serde_json::from_str(data).expect("a chunk")
    }

    #[test]
    fn frames_read_back_through_the_client_types() {
        let role = parsed(&role_chunk("m"));
        assert_eq!(
            role.choices[0].delta.as_ref().unwrap().content.as_deref(),
            Some("")
        );
        let content = parsed(&content_chunk("m", "Hello"));
        assert_eq!(
            content.choices[0]
                .delta
                .as_ref()
                .unwrap()
                .content
                .as_deref(),
            Some("Hello")
        );
        assert_eq!(
            parsed(&stop_chunk("m")).choices[0].finish_reason.as_deref(),
            Some("stop")
        );
        let usage = parsed(&usage_chunk("m", 100, 7)).usage.unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (100, 7, 107)
        );
        assert_eq!(DONE, "data: [DONE]\n\n");
        let error: ErrorBody =
            serde_json::from_str(&error_body("nope", "invalid_request_error", "x")).unwrap();
        assert_eq!(error.error.message.as_deref(), Some("nope"));
        let models: Value = serde_json::from_str(&models_body("m")).unwrap();
        assert_eq!(models["data"][0]["id"], "m");
    }
}
