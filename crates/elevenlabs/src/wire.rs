//! ElevenLabs `multi-stream-input` JSON messages (docs/protocols.md 7.2-7.5): what we send and how we
//! read what the server sends back.
//!
//! Outbound messages always carry `context_id` (snake case, as the examples and pipecat send it).
//! Inbound messages are read field by field from a JSON object instead of through a derived
//! struct, so both spellings of a field (`isFinal`/`is_final`, `contextId`/`context_id`,
//! `charDurationsMs`/`charsDurationsMs`, ...) are accepted even if a server sends both, and
//! `null` reads as absent.

#[cfg(test)]
mod tests;

use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{TextBuffering, VoiceSettings};
use crate::error::Error;

/// One client → server text frame. `None` fields are left out of the JSON.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct ClientMessage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    voice_settings: Option<&'a VoiceSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    try_trigger_generation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flush: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_context: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_socket: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context_id: Option<&'a str>,
}

#[derive(Debug, Serialize, PartialEq)]
struct GenerationConfig<'a> {
    chunk_length_schedule: &'a [u16],
}

impl<'a> ClientMessage<'a> {
    const EMPTY: Self = Self {
        text: None,
        voice_settings: None,
        generation_config: None,
        try_trigger_generation: None,
        flush: None,
        close_context: None,
        close_socket: None,
        context_id: None,
    };

    /// The first message of a context: a single space, the voice settings, and (in schedule mode)
    /// the chunk schedule. Settings are accepted only here (7.2).
    pub(crate) fn init(
        context_id: &'a str,
        voice_settings: &'a VoiceSettings,
        buffering: &'a TextBuffering,
    ) -> Self {
        let generation_config = match buffering {
            TextBuffering::Auto => None,
            TextBuffering::Schedule {
                chunk_length_schedule,
                ..
            } => Some(GenerationConfig {
                chunk_length_schedule,
            }),
        };
        Self {
            text: Some(" "),
            voice_settings: Some(voice_settings),
            generation_config,
            context_id: Some(context_id),
            ..Self::EMPTY
        }
    }

    /// A text chunk; `text` must already end with a space.
    pub(crate) fn text(context_id: &'a str, text: &'a str, try_trigger_generation: bool) -> Self {
        Self {
            text: Some(text),
            try_trigger_generation: try_trigger_generation.then_some(true),
            context_id: Some(context_id),
            ..Self::EMPTY
        }
    }

    /// Generate everything buffered in the context now.
    pub(crate) fn flush(context_id: &'a str) -> Self {
        Self {
            text: Some(""),
            flush: Some(true),
            context_id: Some(context_id),
            ..Self::EMPTY
        }
    }

    /// End the context; the server finishes it with an `isFinal` message.
    pub(crate) fn close_context(context_id: &'a str) -> Self {
        Self {
            close_context: Some(true),
            context_id: Some(context_id),
            ..Self::EMPTY
        }
    }

    /// Resets the context's inactivity timer without adding text (7.4: on this endpoint `""` is a
    /// keep-alive, not an end of stream).
    pub(crate) fn keep_alive(context_id: &'a str) -> Self {
        Self {
            text: Some(""),
            context_id: Some(context_id),
            ..Self::EMPTY
        }
    }

    /// Flush every context and close the socket.
    pub(crate) fn close_socket() -> Self {
        Self {
            close_socket: Some(true),
            ..Self::EMPTY
        }
    }

    /// The JSON text of the frame.
    pub(crate) fn to_json(&self) -> String {
        // Serializing plain strings, bools, floats and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What one server frame means to the driver.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ServerMessage {
    /// Audio and/or the end of a context.
    Output(Output),
    /// An in-band error; a close usually follows (7.3).
    Error(VendorError),
    /// Valid JSON we do not understand (for example `{"audio":null,"isFinal":null}`); skipped.
    Unknown {
        /// The object's keys, for the debug log.
        keys: Vec<String>,
    },
}

/// Audio and/or `isFinal` for one context.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Output {
    /// `contextId` (or `context_id`); absent on the single-context endpoint.
    pub(crate) context_id: Option<String>,
    /// Decoded audio, when the frame carried a non-empty `audio`.
    pub(crate) audio: Option<Bytes>,
    /// Timing of the original text voiced by this chunk, when the frame carried `alignment`.
    pub(crate) alignment: Option<Alignment>,
    /// `isFinal: true` (or `is_final: true`): the context produces nothing more.
    pub(crate) is_final: bool,
}

/// Per-character timing of one chunk; times are relative to the chunk (7.3).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Alignment {
    /// One entry per character of the original text voiced in this chunk.
    pub(crate) chars: Vec<String>,
    /// Start of each character, in ms from the start of the chunk.
    pub(crate) char_start_times_ms: Vec<u64>,
    /// Duration of each character in ms (`charDurationsMs` or the spec's `charsDurationsMs`).
    pub(crate) char_durations_ms: Vec<u64>,
}

impl Alignment {
    /// How many characters (Unicode scalar values) of the original text this chunk voiced.
    pub(crate) fn n_chars(&self) -> usize {
        self.chars.iter().map(|c| c.chars().count()).sum()
    }

    /// Where the last voiced character ends, in ms from the start of the chunk.
    pub(crate) fn end_ms(&self) -> Option<u64> {
        let start = self.char_start_times_ms.last()?;
        let duration = self.char_durations_ms.last().copied().unwrap_or(0);
        Some(start + duration)
    }
}

/// An in-band vendor error, e.g. `{"message":"...","error":"input_timeout_exceeded","code":1008}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VendorError {
    /// The machine-readable `error` value.
    pub(crate) error: String,
    /// The human-readable `message`, when present.
    pub(crate) message: Option<String>,
    /// The `code`, when present (the close code that follows, in observed cases).
    pub(crate) code: Option<i64>,
    /// The context it names, when it names one.
    pub(crate) context_id: Option<String>,
}

impl std::fmt::Display for VendorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        if let Some(code) = self.code {
            write!(f, " (code {code})")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

/// Reads one server text frame.
pub(crate) fn parse_server_message(text: &str) -> Result<ServerMessage, Error> {
    let value: Value = serde_json::from_str(text).map_err(|e| Error::Malformed {
        reason: format!("not JSON: {e}"),
    })?;
    let Value::Object(object) = value else {
        return Err(Error::Malformed {
            reason: "not a JSON object".to_owned(),
        });
    };
    let context_id = string_field(&object, &["contextId", "context_id"]);

    if let Some(error) = object.get("error").filter(|v| !v.is_null()) {
        let error = match error {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Ok(ServerMessage::Error(VendorError {
            error,
            message: string_field(&object, &["message"]),
            code: object.get("code").and_then(code_value),
            context_id,
        }));
    }

    let audio = match object.get("audio") {
        None | Some(Value::Null) => None,
        Some(Value::String(b64)) if b64.is_empty() => None,
        Some(Value::String(b64)) => Some(Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| Error::Malformed {
                    reason: format!("audio is not base64: {e}"),
                })?,
        )),
        Some(_) => {
            return Err(Error::Malformed {
                reason: "audio is not a string".to_owned(),
            });
        }
    };
    let is_final = ["isFinal", "is_final"]
        .iter()
        .any(|key| object.get(*key).and_then(Value::as_bool) == Some(true));
    if audio.is_none() && !is_final {
        return Ok(ServerMessage::Unknown {
            keys: object.keys().cloned().collect(),
        });
    }
    // `alignment` is for the text as sent; `normalizedAlignment` (for the normalized text) cannot
    // be mapped back onto what we sent, so it is not read.
    let alignment = object
        .get("alignment")
        .map(parse_alignment)
        .transpose()?
        .flatten();
    Ok(ServerMessage::Output(Output {
        context_id,
        audio,
        alignment,
        is_final,
    }))
}

/// Strips a WAV header if a context's first chunk starts with one: `ulaw_8000` should be raw
/// headerless μ-law, but that is unverified for the WebSocket (docs/protocols.md 7.3, 11.9), and a
/// header played as audio is a loud click. Returns the audio unchanged when there is no header.
pub(crate) fn strip_wav_header(audio: Bytes) -> (Bytes, bool) {
    if audio.len() < 12 || &audio[0..4] != b"RIFF" || &audio[8..12] != b"WAVE" {
        return (audio, false);
    }
    // Walk the RIFF chunks to the `data` chunk; everything before its payload is header.
    let mut offset = 12;
    while offset + 8 <= audio.len() {
        let id = &audio[offset..offset + 4];
        if id == b"data" {
            return (audio.slice(offset + 8..), true);
        }
        let size_bytes = [
            audio[offset + 4],
            audio[offset + 5],
            audio[offset + 6],
            audio[offset + 7],
        ];
        let size = u32::from_le_bytes(size_bytes) as usize;
        // RIFF chunks are padded to an even length.
        offset = offset
            .saturating_add(8)
            .saturating_add(size)
            .saturating_add(size % 2);
    }
    // A header without a `data` chunk in this frame: nothing playable in it.
    (Bytes::new(), true)
}

fn string_field(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str).map(str::to_owned))
}

fn code_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `null` → `Ok(None)`; an object → its arrays, under either spelling of each name.
fn parse_alignment(value: &Value) -> Result<Option<Alignment>, Error> {
    let object = match value {
        Value::Null => return Ok(None),
        Value::Object(object) => object,
        _ => {
            return Err(Error::Malformed {
                reason: "alignment is not an object".to_owned(),
            });
        }
    };
    let chars = match object.get("chars") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::Malformed {
                reason: "alignment chars are not strings".to_owned(),
            })?,
        Some(_) => {
            return Err(Error::Malformed {
                reason: "alignment chars is not an array".to_owned(),
            });
        }
    };
    Ok(Some(Alignment {
        chars,
        char_start_times_ms: number_array(object, &["charStartTimesMs", "char_start_times_ms"])?,
        char_durations_ms: number_array(
            object,
            &[
                "charDurationsMs",
                "charsDurationsMs",
                "char_durations_ms",
                "chars_durations_ms",
            ],
        )?,
    }))
}

fn number_array(object: &Map<String, Value>, keys: &[&str]) -> Result<Vec<u64>, Error> {
    let Some(value) = keys
        .iter()
        .find_map(|key| object.get(*key).filter(|v| !v.is_null()))
    else {
        return Ok(Vec::new());
    };
    let malformed = || Error::Malformed {
        reason: format!("alignment {} is not numbers", keys[0]),
    };
    value
        .as_array()
        .ok_or_else(malformed)?
        .iter()
        // Times are whole milliseconds on the wire; tolerate floats by truncating.
        .map(|n| {
            n.as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(malformed)
}
