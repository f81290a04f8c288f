//! What ElevenLabs' `multi-stream-input` endpoint sends, and a server that sends it (cargo
//! feature `sim`; the gateway's own build does not enable it): for the bench and tests, so
//! nothing outside this crate writes ElevenLabs' JSON. The shapes are in docs/protocols.md,
//! section 7; each message reads back through this crate's own parser (see the tests).
//!
//! The server ([`router`]) takes `xi-api-key` on the upgrade of
//! `/v1/text-to-speech/{voice_id}/multi-stream-input`. Per context: the init (`" "`) opens it (a
//! sixth open context gets `max_active_conversations` and close 1008), text is buffered, `flush`
//! turns the buffer into a job of `ms_per_char` of μ-law audio per character, sent
//! `time_to_first_audio` later in `chunk`-sized base64 frames paced at `speed` times real time,
//! and `close_context` sends that context's `isFinal` after its queued audio. `close_socket`
//! flushes every context, finishes and closes with 1000. Nothing received for the URL's
//! `inactivity_timeout` (default 20 s) sends `input_timeout_exceeded` and closes with 1008.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
    time::Duration,
};

use axum::{
    Router,
    extract::{
        Query, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine as _;
use providers::sim::{Counters, SimState};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep_until};

/// Contexts one socket may hold open at once.
const MAX_CONTEXTS: usize = 5;

/// An audio message of context `context_id`.
pub fn audio_output(context_id: &str, mulaw: &[u8]) -> String {
    json!({
        "audio": base64::engine::general_purpose::STANDARD.encode(mulaw),
        "contextId": context_id,
        "alignment": null,
    })
    .to_string()
}

/// The message that ends context `context_id`'s generation.
pub fn final_output(context_id: &str) -> String {
    json!({"isFinal": true, "contextId": context_id}).to_string()
}

/// An in-band error (ElevenLabs then closes with 1008).
pub fn error_message(error: &str, message: &str, context_id: Option<&str>) -> String {
    let mut value = json!({"error": error, "message": message, "code": 1008});
    if let Some(context_id) = context_id {
        value["contextId"] = json!(context_id);
    }
    value.to_string()
}

/// Settings of the simulated ElevenLabs: how it paces its audio.
pub type TtsSimConfig = providers::sim::TtsPacing;

/// The `multi-stream-input` WebSocket endpoint.
pub fn router(state: Arc<SimState<TtsSimConfig>>) -> Router {
    Router::new()
        .route(
            "/v1/text-to-speech/{voice_id}/multi-stream-input",
            get(upgrade),
        )
        .with_state(state)
}

async fn upgrade(
    State(state): State<Arc<SimState<TtsSimConfig>>>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !state.authorized_by(&headers, "xi-api-key", None) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"detail": {"status": "invalid_api_key"}})),
        )
            .into_response();
    }
    Counters::bump(&state.counters.sessions);
    let idle = query
        .get("inactivity_timeout")
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(20), Duration::from_secs);
    ws.on_upgrade(move |socket| session(socket, state, idle))
}

/// Audio owed to one context, or (with no bytes left and `last`) its `isFinal`.
#[derive(Debug)]
struct Job {
    context_id: String,
    bytes_left: usize,
    not_before: Instant,
    /// Sends `isFinal` once the bytes are out.
    last: bool,
}

/// What one socket holds: the open contexts' buffered text, and the jobs in order.
#[derive(Debug, Default)]
struct Socket {
    contexts: BTreeMap<String, String>,
    jobs: VecDeque<Job>,
    closing: bool,
}

impl Socket {
    /// Reads one client message; `Err` holds the error to send before closing with 1008.
    fn on_message(&mut self, value: &Value, config: &TtsSimConfig) -> Result<(), String> {
        let context_id = value
            .get("context_id")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned();
        if value.get("close_socket").and_then(Value::as_bool) == Some(true) {
            let open: Vec<String> = self.contexts.keys().cloned().collect();
            for context_id in open {
                self.flush(&context_id, config);
                self.close(&context_id, config);
            }
            self.closing = true;
            return Ok(());
        }
        if value.get("close_context").and_then(Value::as_bool) == Some(true) {
            self.close(&context_id, config);
            return Ok(());
        }
        let text = value.get("text").and_then(Value::as_str);
        if !self.contexts.contains_key(&context_id) {
            if self.contexts.len() >= MAX_CONTEXTS {
                return Err(error_message(
                    "max_active_conversations",
                    "Too many open contexts on this socket.",
                    Some(&context_id),
                ));
            }
            self.contexts.insert(context_id.clone(), String::new());
        }
        if let Some(text) = text.filter(|t| !t.trim().is_empty())
            && let Some(buffer) = self.contexts.get_mut(&context_id)
        {
            buffer.push_str(text);
        }
        if value.get("flush").and_then(Value::as_bool) == Some(true) {
            self.flush(&context_id, config);
        }
        Ok(())
    }

    fn flush(&mut self, context_id: &str, config: &TtsSimConfig) {
        let Some(buffer) = self.contexts.get_mut(context_id) else {
            return;
        };
        if buffer.trim().is_empty() {
            return;
        }
        let bytes = config.audio_bytes_for(buffer);
        buffer.clear();
        self.jobs.push_back(Job {
            context_id: context_id.to_owned(),
            bytes_left: bytes,
            not_before: Instant::now() + config.time_to_first_audio,
            last: false,
        });
    }

    fn close(&mut self, context_id: &str, config: &TtsSimConfig) {
        if self.contexts.remove(context_id).is_none() {
            return;
        }
        self.jobs.push_back(Job {
            context_id: context_id.to_owned(),
            bytes_left: 0,
            not_before: Instant::now() + config.time_to_first_audio,
            last: true,
        });
    }
}

async fn session(mut socket: WebSocket, state: Arc<SimState<TtsSimConfig>>, idle: Duration) {
    let config = &state.config;
    let pattern = audio_codec::voice_pattern();
    let chunk_bytes = config.chunk_bytes(pattern.len());
    let chunk_gap = config.chunk_gap();
    let mut held = Socket::default();
    let mut offset = 0_usize;
    let mut next_send = Instant::now();
    let mut last_heard = Instant::now();
    loop {
        if held.closing && held.jobs.is_empty() {
            let _ = socket.send(close(1000, "")).await;
            return;
        }
        let due = held.jobs.front().map(|job| next_send.max(job.not_before));
        let far = Instant::now() + Duration::from_secs(3600);
        let outgoing = tokio::select! {
            () = state.cancel.cancelled() => return,
            () = sleep_until(last_heard + idle), if !held.closing => {
                let error = error_message(
                    "input_timeout_exceeded",
                    &format!("Have not received a new text input within the timeout of {}.0 seconds.", idle.as_secs()),
                    None,
                );
                let _ = socket.send(Message::Text(error.into())).await;
                let _ = socket.send(close(1008, "input_timeout_exceeded")).await;
                return;
            }
            () = sleep_until(due.unwrap_or(far)), if due.is_some() => {
                let Some(job) = held.jobs.front_mut() else { continue };
                if job.bytes_left > 0 {
                    let n = job.bytes_left.min(chunk_bytes);
                    if offset + n > pattern.len() {
                        offset = 0;
                    }
                    let frame = audio_output(&job.context_id, &pattern[offset..offset + n]);
                    offset += n;
                    job.bytes_left -= n;
                    next_send = Instant::now() + chunk_gap;
                    if job.bytes_left == 0 && !job.last {
                        held.jobs.pop_front();
                        Counters::bump(&state.counters.flushes);
                    }
                    frame
                } else {
                    let job = held.jobs.pop_front().expect("front exists");
                    final_output(&job.context_id)
                }
            }
            message = socket.recv() => {
                last_heard = Instant::now();
                let text = match message {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    Counters::bump(&state.counters.rejected);
                    continue;
                };
                match held.on_message(&value, config) {
                    Ok(()) => continue,
                    Err(error) => {
                        let _ = socket.send(Message::Text(error.into())).await;
                        let _ = socket.send(close(1008, "max_active_conversations")).await;
                        return;
                    }
                }
            }
        };
        if socket.send(Message::Text(outgoing.into())).await.is_err() {
            return;
        }
    }
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ServerMessage, parse_server_message};

    #[test]
    fn messages_read_back_through_the_client_parser() {
        let ServerMessage::Output(audio) =
            parse_server_message(&audio_output("turn-1", b"\x01\x02")).unwrap()
        else {
            panic!("not output");
        };
        assert_eq!(audio.context_id.as_deref(), Some("turn-1"));
        assert_eq!(audio.audio.as_deref(), Some(&b"\x01\x02"[..]));
        assert!(!audio.is_final);
        let ServerMessage::Output(last) = parse_server_message(&final_output("turn-1")).unwrap()
        else {
            panic!("not output");
        };
        assert!(last.is_final && last.audio.is_none());
        let ServerMessage::Error(error) =
            parse_server_message(&error_message("input_timeout_exceeded", "idle", Some("t")))
                .unwrap()
        else {
            panic!("not an error");
        };
        assert_eq!(
            (
                error.error.as_str(),
                error.code,
                error.context_id.as_deref()
            ),
            ("input_timeout_exceeded", Some(1008), Some("t"))
        );
    }

    #[test]
    fn a_flush_becomes_audio_and_close_context_its_final_in_order() {
        let config = TtsSimConfig {
            time_to_first_audio: Duration::ZERO,
            ms_per_char: 10,
            speed: 0.0,
            chunk: Duration::from_millis(20),
        };
        let mut held = Socket::default();
        for message in [
            json!({"text": " ", "context_id": "a"}),
            json!({"text": "Hello. ", "context_id": "a"}),
            json!({"text": "", "context_id": "a", "flush": true}),
            json!({"context_id": "a", "close_context": true}),
        ] {
            held.on_message(&message, &config).unwrap();
        }
        let jobs: Vec<(String, usize, bool)> = held
            .jobs
            .iter()
            .map(|job| (job.context_id.clone(), job.bytes_left, job.last))
            .collect();
        assert_eq!(
            jobs,
            [("a".to_owned(), 560, false), ("a".to_owned(), 0, true)]
        );
        for n in 0..MAX_CONTEXTS {
            held.on_message(
                &json!({"text": " ", "context_id": format!("c{n}")}),
                &config,
            )
            .unwrap();
        }
        let refused = held
            .on_message(&json!({"text": " ", "context_id": "c9"}), &config)
            .unwrap_err();
        assert!(refused.contains("max_active_conversations"), "{refused}");
    }
}
