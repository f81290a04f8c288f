//! What Deepgram sends, written the way it sends it: for simulators and tests (cargo feature
//! `sim`; the gateway's own build does not enable it), so nothing outside this crate writes
//! Deepgram's JSON. Each message reads back through this crate's own parsers (see the tests).
//! The shapes are in docs/protocols.md (Deepgram live STT and Aura).
//!
//! Two protocol servers speak them: [`listen`] (live STT: speech found by energy, answered from a
//! script with Deepgram's timing) and [`speak`] (Aura: audio in proportion to the text, paced,
//! then `Flushed`; `Cleared`). Each is an axum `Router` over a `providers::sim::SimState`; the
//! bench serves them, and this crate's tests drive them with its own client.

pub mod listen;
pub mod speak;

use std::sync::Arc;

use axum::{
    Router,
    extract::{State, WebSocketUpgrade, ws::WebSocket},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::get,
};
use providers::sim::{Counters, SimState};

/// A Deepgram WebSocket endpoint at `path`: the key checked as Deepgram checks it
/// (`Authorization: Token <key>`, else 401 with a `dg-error` header), the session counted, then
/// `session` runs on the socket.
fn endpoint<C, F, Fut>(path: &str, state: Arc<SimState<C>>, session: F) -> Router
where
    C: Send + Sync + 'static,
    F: Fn(WebSocket, Arc<SimState<C>>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let upgrade = move |State(state): State<Arc<SimState<C>>>,
                        headers: HeaderMap,
                        ws: WebSocketUpgrade| async move {
        if !state.authorized(&headers, "Token") {
            return (
                StatusCode::UNAUTHORIZED,
                [("dg-error", "Invalid credentials.")],
            )
                .into_response();
        }
        Counters::bump(&state.counters.sessions);
        ws.read_buffer_size(4 * 1024)
            .on_upgrade(move |socket| session(socket, state))
    };
    Router::new().route(path, get(upgrade)).with_state(state)
}

use serde_json::json;

/// A live-STT `SpeechStarted` message: speech began at `timestamp` seconds of stream audio.
pub fn speech_started(timestamp: f64) -> String {
    json!({"type": "SpeechStarted", "channel": [0, 1], "timestamp": timestamp}).to_string()
}

/// A live-STT `Results` message.
#[derive(Debug, Clone, PartialEq)]
pub struct Results<'a> {
    /// The best alternative's transcript.
    pub transcript: &'a str,
    /// Its confidence, 0 to 1.
    pub confidence: f64,
    /// Where the audio it covers starts, seconds of stream audio.
    pub start: f64,
    /// How long that audio is, seconds.
    pub duration: f64,
    /// A final (not an interim) result.
    pub is_final: bool,
    /// Endpointing found the end of speech.
    pub speech_final: bool,
    /// The answer to a `Finalize`.
    pub from_finalize: bool,
}

impl Results<'_> {
    /// The message as Deepgram writes it.
    pub fn to_json(&self) -> String {
        json!({
            "type": "Results",
            "channel_index": [0, 1],
            "start": self.start,
            "duration": self.duration,
            "is_final": self.is_final,
            "speech_final": self.speech_final,
            "from_finalize": self.from_finalize,
            "channel": {"alternatives": [{
                "transcript": self.transcript,
                "confidence": self.confidence,
                "words": [],
            }]},
            "metadata": {
                "request_id": "sim",
                "model_info": {"name": "sim", "version": "0", "arch": "sim"},
                "model_uuid": "sim",
            },
        })
        .to_string()
    }
}

/// Live STT's closing `Metadata` message, sent before the socket closes: `duration` seconds of
/// audio were received.
pub fn listen_metadata(duration: f64) -> String {
    json!({
        "type": "Metadata",
        "transaction_key": "deprecated",
        "request_id": "sim",
        "sha256": "",
        "created": "2026-01-01T00:00:00.000Z",
        "duration": duration,
        "channels": 1,
    })
    .to_string()
}

/// Aura's `Metadata` message, sent when a `/v1/speak` socket opens.
pub fn speak_metadata(model_name: &str) -> String {
    json!({
        "type": "Metadata",
        "request_id": "sim",
        "model_name": model_name,
        "model_version": "0",
        "model_uuid": "sim",
    })
    .to_string()
}

/// Aura's `Flushed`: the audio of everything before the `Flush` numbered `sequence_id` is sent.
pub fn flushed(sequence_id: u64) -> String {
    json!({"type": "Flushed", "sequence_id": sequence_id}).to_string()
}

/// Aura's `Cleared`: queued text and audio were dropped after a `Clear`.
pub fn cleared(sequence_id: u64) -> String {
    json!({"type": "Cleared", "sequence_id": sequence_id}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ListenMessage, SpeakMessage, parse_listen, parse_speak};

    #[test]
    fn listen_messages_read_back_through_the_client_parser() {
        assert_eq!(
            parse_listen(&speech_started(1.25)).unwrap(),
            ListenMessage::SpeechStarted { timestamp: 1.25 }
        );
        let results = Results {
            transcript: "an oil change please",
            confidence: 0.9,
            start: 1.0,
            duration: 2.5,
            is_final: true,
            speech_final: true,
            from_finalize: false,
        };
        let ListenMessage::Results(parsed) = parse_listen(&results.to_json()).unwrap() else {
            panic!("not results");
        };
        assert_eq!(parsed.best(), ("an oil change please".to_owned(), 0.9));
        assert!(parsed.is_final && parsed.speech_final && !parsed.from_finalize);
        assert_eq!((parsed.start, parsed.duration), (1.0, 2.5));
        assert_eq!(
            parse_listen(&listen_metadata(12.5)).unwrap(),
            ListenMessage::Metadata {
                request_id: Some("sim".to_owned()),
                duration: Some(12.5),
            }
        );
    }

    #[test]
    fn speak_messages_read_back_through_the_client_parser() {
        assert_eq!(
            parse_speak(&speak_metadata("aura-2-sim-en")).unwrap(),
            SpeakMessage::Metadata {
                request_id: Some("sim".to_owned()),
                model_name: Some("aura-2-sim-en".to_owned()),
            }
        );
        assert_eq!(
            parse_speak(&flushed(3)).unwrap(),
            SpeakMessage::Flushed {
                sequence_id: Some(3)
            }
        );
        assert_eq!(
            parse_speak(&cleared(4)).unwrap(),
            SpeakMessage::Cleared {
                sequence_id: Some(4)
            }
        );
    }
}
