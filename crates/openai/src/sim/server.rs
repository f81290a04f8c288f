//! OpenAI chat completions imitation (`POST /v1/chat/completions`, docs/protocols.md, section 8).
//!
//! The reply to a request is `replies[k]`, where k is the number of `user` messages in it minus
//! one (the list repeats), so every call gets the same conversation without the simulator keeping
//! state. After `time_to_first_token`: the role chunk, then the reply's first sentence in one
//! delta (so the gateway's "first token -> first TTS request" hop measures the gateway, not the
//! token rate), then one word per delta at `tokens_per_second`, then the `finish_reason` chunk,
//! the usage chunk and `data: [DONE]`. `GET /v1/models` answers the gateway's warm-up.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use providers::sim::{Counters, SimState};

/// Settings of the LLM simulator.
#[derive(Debug, Clone)]
pub struct LlmSimConfig {
    /// From the request to the role chunk and the first content delta.
    pub time_to_first_token: Duration,
    /// Words per second after the first sentence.
    pub tokens_per_second: f64,
    /// The replies, in conversation order (repeating).
    pub replies: Arc<[String]>,
}

/// `POST /v1/chat/completions` and `GET /v1/models` (the key goes in `Authorization: Bearer`).
pub fn router(shared: Arc<SimState<LlmSimConfig>>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .with_state(shared)
}

fn error(status: StatusCode, message: &str, code: &str) -> Response {
    let body = super::error_body(message, "invalid_request_error", code);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn models(State(shared): State<Arc<SimState<LlmSimConfig>>>, headers: HeaderMap) -> Response {
    if !shared.authorized(&headers, "Bearer") {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_api_key",
        );
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::models_body("bench-sim"),
    )
        .into_response()
}

/// Splits a reply into the deltas the simulator streams: the first sentence (with its trailing
/// space, so a sentence splitter sees the boundary at once), then one word per delta.
pub fn deltas(reply: &str) -> Vec<String> {
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
    State(shared): State<Arc<SimState<LlmSimConfig>>>,
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
        Counters::bump(&shared.counters.rejected);
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_json",
        );
    };
    if request.get("stream") != Some(&Value::Bool(true)) {
        Counters::bump(&shared.counters.rejected);
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
    Counters::bump(&shared.counters.sessions);

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
        let model = model.clone();
        let deltas = deltas.clone();
        async move {
            let n = deltas.len();
            let bytes = match step {
                0 => {
                    tokio::time::sleep(first_wait).await;
                    Bytes::from(super::role_chunk(&model))
                }
                s if s <= n => {
                    if s > 1 {
                        tokio::time::sleep(gap).await;
                    }
                    Bytes::from(super::content_chunk(&model, &deltas[s - 1]))
                }
                s if s == n + 1 => Bytes::from(super::stop_chunk(&model)),
                s if s == n + 2 => Bytes::from(super::usage_chunk(
                    &model,
                    100,
                    u32::try_from(completion_tokens).unwrap_or(u32::MAX),
                )),
                s if s == n + 3 => Bytes::from_static(super::DONE.as_bytes()),
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
