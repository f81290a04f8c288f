//! OpenAI chat completions imitation (`POST /v1/chat/completions`, docs/protocols.md section 8).
//!
//! The reply to a request is `replies[k]`, where k is the number of `user` messages in it minus
//! one (the list repeats), so every call gets the same conversation without the simulator keeping
//! state. After `time_to_first_token`: the role chunk, then the reply's first sentence in one
//! delta (so the gateway's "first token -> first TTS request" hop measures the gateway, not the
//! token rate), then one word per delta at `tokens_per_second`, then the `finish_reason` chunk,
//! the usage chunk and `data: [DONE]`. `GET /v1/models` answers the gateway's warm-up.

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use super::{SimCounters, SimShared};

/// Settings of the LLM simulator.
#[derive(Debug, Clone)]
pub(crate) struct LlmSimConfig {
    /// From the request to the role chunk and the first content delta.
    pub(crate) time_to_first_token: Duration,
    /// Words per second after the first sentence.
    pub(crate) tokens_per_second: f64,
    /// The replies, in conversation order (repeating).
    pub(crate) replies: Arc<[String]>,
}

pub(super) fn router(shared: Arc<SimShared<LlmSimConfig>>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .with_state(shared)
}

fn error(status: StatusCode, message: &str, code: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}});
    (status, Json(body)).into_response()
}

async fn models(
    State(shared): State<Arc<SimShared<LlmSimConfig>>>,
    headers: HeaderMap,
) -> Response {
    if !shared.authorized(&headers, "Bearer") {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_api_key",
        );
    }
    Json(json!({"object": "list", "data": [{"id": "bench-sim", "object": "model", "owned_by": "bench"}]}))
        .into_response()
}

/// Splits a reply into the deltas the simulator streams: the first sentence (with its trailing
/// space, so a sentence splitter sees the boundary at once), then one word per delta.
pub(crate) fn deltas(reply: &str) -> Vec<String> {
    let first_end = reply
        .char_indices()
        .find(|&(i, c)| matches!(c, '.' | '!' | '?') && reply[i + 1..].starts_with(' '))
        .map(|(i, _)| i + 2);
    let (first, rest) = match first_end {
        Some(end) => reply.split_at(end),
        None => ("", reply),
    };
    let mut out = Vec::new();
    if !first.is_empty() {
        out.push(first.to_owned());
    }
    for (i, word) in rest.split_whitespace().enumerate() {
        out.push(if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        });
    }
    out
}

async fn completions(
    State(shared): State<Arc<SimShared<LlmSimConfig>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !shared.authorized(&headers, "Bearer") {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_api_key",
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        SimCounters::bump(&shared.counters.rejected);
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_json",
        );
    };
    if request.get("stream") != Some(&Value::Bool(true)) {
        SimCounters::bump(&shared.counters.rejected);
        return error(
            StatusCode::BAD_REQUEST,
            "The simulator only streams.",
            "stream_required",
        );
    }
    let user_turns = request
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, |m| {
            m.iter()
                .filter(|m| m.get("role") == Some(&json!("user")))
                .count()
        });
    let config = &shared.config;
    let reply = if config.replies.is_empty() {
        String::new()
    } else {
        config.replies[user_turns.saturating_sub(1) % config.replies.len()].clone()
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("bench-sim")
        .to_owned();
    SimCounters::bump(&shared.counters.llm_requests);

    let chunk = {
        let model = model.clone();
        move |choices: Value, usage: Value| -> Bytes {
            let value = json!({
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1_764_000_000,
                "model": model,
                "choices": choices,
                "usage": usage,
            });
            Bytes::from(format!("data: {value}\n\n"))
        }
    };
    let deltas: Arc<[String]> = deltas(&reply).into();
    let completion_tokens = deltas.len();
    let gap = if config.tokens_per_second > 0.0 {
        Duration::from_secs_f64(1.0 / config.tokens_per_second)
    } else {
        Duration::ZERO
    };
    let first_wait = config.time_to_first_token;
    // Steps: 0 = role chunk (after TTFT), 1..=n = deltas, then finish, usage, [DONE].
    let stream = futures::stream::unfold(0_usize, move |step| {
        let chunk = chunk.clone();
        let deltas = deltas.clone();
        async move {
            let n = deltas.len();
            let bytes = match step {
                0 => {
                    tokio::time::sleep(first_wait).await;
                    chunk(
                        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
                        Value::Null,
                    )
                }
                s if s <= n => {
                    if s > 1 {
                        tokio::time::sleep(gap).await;
                    }
                    chunk(
                        json!([{"index": 0, "delta": {"content": deltas[s - 1]}, "finish_reason": null}]),
                        Value::Null,
                    )
                }
                s if s == n + 1 => chunk(
                    json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
                    Value::Null,
                ),
                s if s == n + 2 => chunk(
                    json!([]),
                    json!({"prompt_tokens": 100, "completion_tokens": completion_tokens, "total_tokens": 100 + completion_tokens}),
                ),
                s if s == n + 3 => Bytes::from_static(b"data: [DONE]\n\n"),
                _ => return None,
            };
            Some((Ok::<_, std::convert::Infallible>(bytes), step + 1))
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
