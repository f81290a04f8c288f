//! Deepgram's JSON messages for `/v1/listen` (docs/protocols.md 5.3-5.4) and `/v1/speak` (6.2-6.3).
//!
//! Inbound frames are parsed in two steps: read `type` from a `serde_json::Value`, then the typed
//! body, so an unknown `type` is reported by name instead of failing the parse.

use serde::{Deserialize, Serialize};

/// `{"type":"KeepAlive"}`: holds an idle listen socket open. Must be a text frame.
pub(crate) const KEEP_ALIVE: &str = r#"{"type":"KeepAlive"}"#;
/// `{"type":"Finalize"}`: transcribe buffered audio now.
pub(crate) const FINALIZE: &str = r#"{"type":"Finalize"}"#;
/// `{"type":"CloseStream"}`: finish, send the last results and `Metadata`, then close.
pub(crate) const CLOSE_STREAM: &str = r#"{"type":"CloseStream"}"#;
/// `{"type":"Flush"}`: synthesise everything buffered.
pub(crate) const FLUSH: &str = r#"{"type":"Flush"}"#;
/// `{"type":"Clear"}`: drop buffered text and audio (barge-in).
pub(crate) const CLEAR: &str = r#"{"type":"Clear"}"#;
/// `{"type":"Close"}`: flush, send the remaining audio, then close.
pub(crate) const CLOSE: &str = r#"{"type":"Close"}"#;

/// `{"type":"ForceEndTurn"}` (Flux): end the current turn now, with a normal `EndOfTurn`.
pub(crate) const FORCE_END_TURN: &str = r#"{"type":"ForceEndTurn"}"#;

/// `{"type":"Speak","text":…}`.
pub(crate) fn speak(text: &str) -> String {
    #[derive(Serialize)]
    struct Speak<'a> {
        r#type: &'static str,
        text: &'a str,
    }
    // Serialising a struct of two strings cannot fail.
    serde_json::to_string(&Speak {
        r#type: "Speak",
        text,
    })
    .unwrap_or_default()
}

/// A message from `/v1/listen`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ListenMessage {
    Results(Results),
    SpeechStarted {
        timestamp: f64,
    },
    UtteranceEnd {
        last_word_end: f64,
    },
    Metadata {
        request_id: Option<String>,
        duration: Option<f64>,
    },
    /// An in-band error frame (`{"type":"Error",…}`); not documented for v1 listen, handled anyway.
    Error {
        description: String,
    },
    /// Any other `type` (or none); logged and skipped.
    Unknown {
        kind: String,
    },
}

/// The parts of a `Results` message the gateway uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Results {
    pub(crate) start: f64,
    pub(crate) duration: f64,
    /// Optional on the wire (docs/protocols.md 5.7): missing means false.
    #[serde(default)]
    pub(crate) is_final: bool,
    #[serde(default)]
    pub(crate) speech_final: bool,
    #[serde(default)]
    pub(crate) from_finalize: bool,
    pub(crate) channel: ResultsChannel,
}

/// `Results.channel` (an object, unlike `channel` in `SpeechStarted`, which is an array).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ResultsChannel {
    #[serde(default)]
    pub(crate) alternatives: Vec<Alternative>,
}

/// One transcription hypothesis.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Alternative {
    #[serde(default)]
    pub(crate) transcript: String,
    #[serde(default)]
    pub(crate) confidence: f64,
}

impl Results {
    /// The best hypothesis's text and confidence (empty when there is none).
    pub(crate) fn best(&self) -> (String, f64) {
        self.channel
            .alternatives
            .first()
            .map(|alt| (alt.transcript.clone(), alt.confidence))
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct SpeechStartedBody {
    timestamp: f64,
}

#[derive(Deserialize)]
struct UtteranceEndBody {
    last_word_end: f64,
}

#[derive(Deserialize)]
struct ListenMetadataBody {
    request_id: Option<String>,
    duration: Option<f64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    description: Option<String>,
    message: Option<String>,
    variant: Option<String>,
}

/// Parses a text frame from `/v1/listen`.
pub(crate) fn parse_listen(text: &str) -> Result<ListenMessage, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let kind = message_type(&value);
    Ok(match kind.as_str() {
        "Results" => ListenMessage::Results(serde_json::from_value(value)?),
        "SpeechStarted" => {
            let body: SpeechStartedBody = serde_json::from_value(value)?;
            ListenMessage::SpeechStarted {
                timestamp: body.timestamp,
            }
        }
        "UtteranceEnd" => {
            let body: UtteranceEndBody = serde_json::from_value(value)?;
            ListenMessage::UtteranceEnd {
                last_word_end: body.last_word_end,
            }
        }
        "Metadata" => {
            let body: ListenMetadataBody = serde_json::from_value(value)?;
            ListenMessage::Metadata {
                request_id: body.request_id,
                duration: body.duration,
            }
        }
        "Error" => {
            let body: ErrorBody = serde_json::from_value(value)?;
            let description = [body.variant, body.description.or(body.message)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            ListenMessage::Error { description }
        }
        _ => ListenMessage::Unknown { kind },
    })
}

/// A message from Flux (`/v2/listen`; docs/protocols.md, "Deepgram Flux").
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FluxMessage {
    /// The socket is ready for audio.
    Connected {
        request_id: Option<String>,
    },
    TurnInfo(TurnInfo),
    ConfigureSuccess,
    ConfigureFailure {
        description: String,
    },
    Error {
        description: String,
    },
    Unknown {
        kind: String,
    },
}

/// Flux's `TurnInfo.event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FluxEvent {
    Update,
    StartOfTurn,
    EagerEndOfTurn,
    TurnResumed,
    EndOfTurn,
    /// A value this client does not know; treated like `Update`.
    Other,
}

/// The parts of a `TurnInfo` message the gateway uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct TurnInfo {
    #[serde(deserialize_with = "flux_event")]
    pub(crate) event: FluxEvent,
    #[serde(default)]
    pub(crate) turn_index: u64,
    /// Seconds from the start of this socket's audio.
    #[serde(default)]
    pub(crate) audio_window_start: f64,
    #[serde(default)]
    pub(crate) audio_window_end: f64,
    #[serde(default)]
    pub(crate) transcript: String,
    #[serde(default)]
    pub(crate) end_of_turn_confidence: f64,
}

fn flux_event<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<FluxEvent, D::Error> {
    let name = String::deserialize(deserializer)?;
    Ok(match name.as_str() {
        "Update" => FluxEvent::Update,
        "StartOfTurn" => FluxEvent::StartOfTurn,
        "EagerEndOfTurn" => FluxEvent::EagerEndOfTurn,
        "TurnResumed" => FluxEvent::TurnResumed,
        "EndOfTurn" => FluxEvent::EndOfTurn,
        _ => FluxEvent::Other,
    })
}

#[derive(Deserialize)]
struct ConnectedBody {
    request_id: Option<String>,
}

/// Flux's `Error` (and `ConfigureFailure`): `code`/`description`, also seen as
/// `error_code`/`error`.
#[derive(Deserialize)]
struct FluxErrorBody {
    code: Option<String>,
    error_code: Option<String>,
    description: Option<String>,
    error: Option<String>,
}

impl FluxErrorBody {
    fn describe(self) -> String {
        [
            self.code.or(self.error_code),
            self.description.or(self.error),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ")
    }
}

/// Parses a text frame from Flux.
pub(crate) fn parse_flux(text: &str) -> Result<FluxMessage, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let kind = message_type(&value);
    Ok(match kind.as_str() {
        "Connected" => {
            let body: ConnectedBody = serde_json::from_value(value)?;
            FluxMessage::Connected {
                request_id: body.request_id,
            }
        }
        "TurnInfo" => FluxMessage::TurnInfo(serde_json::from_value(value)?),
        "ConfigureSuccess" => FluxMessage::ConfigureSuccess,
        "ConfigureFailure" => {
            let body: FluxErrorBody = serde_json::from_value(value)?;
            FluxMessage::ConfigureFailure {
                description: body.describe(),
            }
        }
        "Error" => {
            let body: FluxErrorBody = serde_json::from_value(value)?;
            FluxMessage::Error {
                description: body.describe(),
            }
        }
        _ => FluxMessage::Unknown { kind },
    })
}

/// A JSON message from `/v1/speak`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SpeakMessage {
    Metadata {
        request_id: Option<String>,
        model_name: Option<String>,
    },
    Flushed {
        sequence_id: Option<u64>,
    },
    Cleared {
        sequence_id: Option<u64>,
    },
    Warning {
        code: String,
        description: String,
    },
    Unknown {
        kind: String,
    },
}

#[derive(Deserialize)]
struct SpeakMetadataBody {
    request_id: Option<String>,
    model_name: Option<String>,
}

#[derive(Deserialize)]
struct SequenceBody {
    sequence_id: Option<u64>,
}

#[derive(Deserialize)]
struct WarningBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    description: String,
}

/// Parses a text frame from `/v1/speak`.
pub(crate) fn parse_speak(text: &str) -> Result<SpeakMessage, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let kind = message_type(&value);
    Ok(match kind.as_str() {
        "Metadata" => {
            let body: SpeakMetadataBody = serde_json::from_value(value)?;
            SpeakMessage::Metadata {
                request_id: body.request_id,
                model_name: body.model_name,
            }
        }
        "Flushed" => {
            let body: SequenceBody = serde_json::from_value(value)?;
            SpeakMessage::Flushed {
                sequence_id: body.sequence_id,
            }
        }
        "Cleared" => {
            let body: SequenceBody = serde_json::from_value(value)?;
            SpeakMessage::Cleared {
                sequence_id: body.sequence_id,
            }
        }
        "Warning" => {
            let body: WarningBody = serde_json::from_value(value)?;
            SpeakMessage::Warning {
                code: body.code,
                description: body.description,
            }
        }
        _ => SpeakMessage::Unknown { kind },
    })
}

fn message_type(value: &serde_json::Value) -> String {
    value
        .get("type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests;
