//! Reading a call capture (docs/captures.md) and turning it into what a replay plays: the
//! caller's frames with the agent playback each one waited for, the STT events keyed by audio
//! frame counts, the LLM replies and the tool results, in order.

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use providers::{
    FinishReason, ProviderError, ToolCall, Usage,
    fake::{LlmReply, LlmStep},
};
use serde_json::Value;

/// μ-law bytes per millisecond at 8 kHz.
pub(crate) const BYTES_PER_MS: f64 = 8.0;

/// One line of a capture.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// `kind` (`twilio_in`, `stt`, …).
    pub(crate) kind: String,
    /// Milliseconds since the media socket opened.
    pub(crate) t_ms: f64,
    /// The whole line.
    pub(crate) value: Value,
}

impl Line {
    /// A string field, or "".
    pub(crate) fn str(&self, field: &str) -> &str {
        self.value.get(field).and_then(Value::as_str).unwrap_or("")
    }
}

/// Reads a capture file; every line must be a JSON object with `kind` and `t_ms`.
pub(crate) fn read_capture(path: &Path) -> anyhow::Result<Vec<Line>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_capture(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Parses capture text (JSON Lines).
pub(crate) fn parse_capture(text: &str) -> anyhow::Result<Vec<Line>> {
    let mut lines = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(raw).with_context(|| format!("line {}: not JSON", n + 1))?;
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .with_context(|| format!("line {}: no `kind`", n + 1))?
            .to_owned();
        let t_ms = value
            .get("t_ms")
            .and_then(Value::as_f64)
            .with_context(|| format!("line {}: no `t_ms`", n + 1))?;
        lines.push(Line { kind, t_ms, value });
    }
    Ok(lines)
}

/// Where the agent's playback stood when the caller sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Gate {
    /// Bytes of agent audio played so far (all turns).
    pub(crate) played: u64,
    /// How many `clear`s the gateway had sent.
    pub(crate) clears: u32,
}

/// A frame the caller sends, with its recorded time and playback gate.
#[derive(Debug, Clone)]
pub(crate) struct CallerFrame {
    /// The frame exactly as recorded.
    pub(crate) text: String,
    /// Recorded offset.
    pub(crate) t_ms: f64,
    /// Its `event` (`media`, `dtmf`, `stop`, …; empty when the frame is not JSON).
    pub(crate) event: String,
    /// The recorded μ-law payload, for media frames.
    pub(crate) audio: Option<Vec<u8>>,
    /// The recorded playback state when it was sent.
    pub(crate) gate: Gate,
}

/// A recorded tool call and what the CRM answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordedTool {
    /// Tool name.
    pub(crate) name: String,
    /// The CRM's answer.
    pub(crate) result: Value,
}

/// Everything a replay plays back, derived from one capture.
#[derive(Debug, Clone)]
pub(crate) struct ReplayScript {
    /// `meta.started_at`: the clock the replay runs at (dates like "tomorrow" resolve the same).
    pub(crate) started_at: DateTime<Utc>,
    /// What the caller sends (mark echoes left out: their names depend on the run).
    pub(crate) frames: Vec<CallerFrame>,
    /// STT events (capture JSON), each after this many audio frames.
    pub(crate) stt: Vec<(u64, Value)>,
    /// LLM rounds in order.
    pub(crate) llm: Vec<LlmReply>,
    /// Tool results in order.
    pub(crate) tools: Vec<RecordedTool>,
    /// Recorded TTS audio per character of text, in milliseconds (rounded, at least 1).
    pub(crate) tts_ms_per_char: u64,
    /// The recorded call was transferred, so transfers are possible in the replay.
    pub(crate) transferred: bool,
    /// The call started LLM replies early (`meta.early_replies`; absent in captures made before
    /// early replies existed, which replay without them).
    pub(crate) early_replies: bool,
    /// Who called whom: what the replay's Twilio tells the voice webhook.
    pub(crate) call: CallInfo,
}

/// A call as Twilio presents it: its SIDs, and the stream parameters the gateway's TwiML gave
/// it (`From`, `To`, `direction`, `StirVerstat` and an outbound call's details; never the token).
#[derive(Debug, Clone, Default)]
pub(crate) struct CallInfo {
    pub(crate) call_sid: String,
    pub(crate) account_sid: String,
    pub(crate) parameters: std::collections::BTreeMap<String, String>,
}

/// Name and value pairs of a form or a query.
pub(crate) type Pairs<'a> = Vec<(&'a str, &'a str)>;

/// The account SID of recorded and scripted calls.
pub(crate) const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";

impl CallInfo {
    /// The call's two numbers (`From`, `To`), either of which may be a known customer.
    pub(crate) fn numbers(&self) -> Vec<&str> {
        ["From", "To"]
            .iter()
            .filter_map(|name| self.parameters.get(*name).map(String::as_str))
            .collect()
    }

    /// The voice webhook's form and query for this call: the call's own fields go in the form
    /// (as Twilio posts them), an outbound call's details in the query of the URL the gateway
    /// gave Twilio when it placed the call.
    pub(crate) fn webhook(&self) -> (Pairs<'_>, Pairs<'_>) {
        let param = |name: &str| self.parameters.get(name).map_or("", String::as_str);
        let direction = match param("direction") {
            "" => "inbound",
            other => other,
        };
        let mut form = vec![
            ("CallSid", self.call_sid.as_str()),
            ("AccountSid", self.account_sid.as_str()),
            ("From", param("From")),
            ("To", param("To")),
            ("CallStatus", "in-progress"),
            ("Direction", direction),
        ];
        if let Some(verstat) = self.parameters.get("StirVerstat") {
            form.push(("StirVerstat", verstat));
        }
        let query = self
            .parameters
            .iter()
            .filter(|(name, _)| {
                !["From", "To", "direction", "StirVerstat"].contains(&name.as_str())
            })
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        (form, query)
    }
}

impl ReplayScript {
    /// Derives the script from capture lines.
    pub(crate) fn from_lines(lines: &[Line]) -> anyhow::Result<Self> {
        let Some(meta) = lines.iter().find(|l| l.kind == "meta") else {
            bail!("no `meta` line: the call never started");
        };
        let started_at = DateTime::parse_from_rfc3339(meta.str("started_at"))
            .context("meta.started_at is not RFC 3339")?
            .with_timezone(&Utc);
        let early_replies = meta
            .value
            .get("early_replies")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut model = PlaybackModel::default();
        let mut frames = Vec::new();
        let mut stt = Vec::new();
        let mut llm = Vec::new();
        let mut tools = Vec::new();
        let mut n_media = 0u64;
        let mut text_chars = 0usize;
        let mut audio_bytes = 0u64;
        let mut transferred = false;
        for line in lines {
            model.advance(line.t_ms);
            match line.kind.as_str() {
                "twilio_in" => {
                    let text = line.str("frame").to_owned();
                    let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let event = frame.get("event").and_then(Value::as_str).unwrap_or("");
                    if event == "mark" {
                        continue;
                    }
                    let audio = if event == "media" {
                        n_media += 1;
                        Some(media_payload(&frame))
                    } else {
                        None
                    };
                    let event = event.to_owned();
                    frames.push(CallerFrame {
                        text,
                        t_ms: line.t_ms,
                        event,
                        audio,
                        gate: model.gate(),
                    });
                }
                "twilio_out" => match line.str("event") {
                    "media" => {
                        let bytes = line
                            .value
                            .pointer("/detail/bytes")
                            .and_then(Value::as_u64)
                            .unwrap_or(0);
                        model.push(bytes);
                    }
                    "clear" => model.clear(),
                    _ => {}
                },
                "stt" => stt.push((n_media, line.value.clone())),
                "llm_reply" => llm.push(llm_reply(&line.value)),
                "tool" => tools.push(RecordedTool {
                    name: line.str("name").to_owned(),
                    result: line.value.get("result").cloned().unwrap_or(Value::Null),
                }),
                "tts_text" => text_chars += line.str("text").chars().count(),
                "tts_audio" => {
                    audio_bytes += line.value.get("bytes").and_then(Value::as_u64).unwrap_or(0);
                }
                "outcome" => transferred = line.str("status") == "transferred",
                _ => {}
            }
        }
        let tts_ms_per_char = if text_chars == 0 {
            60
        } else {
            ((audio_bytes as f64 / BYTES_PER_MS / text_chars as f64).round() as u64).max(1)
        };
        let parameters = meta
            .value
            .get("parameters")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let account_sid = frames
            .iter()
            .find(|frame| frame.event == "start")
            .and_then(|frame| serde_json::from_str::<Value>(&frame.text).ok())
            .and_then(|frame| Some(frame["start"]["accountSid"].as_str()?.to_owned()))
            .unwrap_or_else(|| ACCOUNT_SID.to_owned());
        let call = CallInfo {
            call_sid: meta.str("call_sid").to_owned(),
            account_sid,
            parameters,
        };
        Ok(Self {
            call,
            started_at,
            frames,
            stt,
            llm,
            tools,
            tts_ms_per_char,
            transferred,
            early_replies,
        })
    }
}

/// The base64 audio of a media frame, decoded (empty when malformed: the gateway gets the frame
/// as recorded anyway, only the WAV loses it).
fn media_payload(frame: &Value) -> Vec<u8> {
    use base64::Engine as _;
    let payload = frame
        .pointer("/media/payload")
        .and_then(Value::as_str)
        .unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(payload)
        .unwrap_or_default()
}

/// One recorded LLM round as a scripted reply.
fn llm_reply(value: &Value) -> LlmReply {
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return LlmReply::Fail(ProviderError::Vendor(error.to_owned()));
    }
    let mut steps = Vec::new();
    let text = value.get("text").and_then(Value::as_str).unwrap_or("");
    for word in text.split_inclusive(' ') {
        steps.push(LlmStep::Text(word.to_owned()));
    }
    let calls: Vec<ToolCall> = value
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .map(|call| ToolCall {
                    id: call
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    name: call
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    arguments: call
                        .get("arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}")
                        .to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    let finish = if calls.is_empty() {
        FinishReason::Stop
    } else {
        FinishReason::ToolCalls
    };
    steps.extend(calls.into_iter().map(LlmStep::ToolCall));
    let usage: Usage = value
        .get("usage")
        .and_then(|u| serde_json::from_value(u.clone()).ok())
        .unwrap_or_default();
    // Like the real stream: the finish reason, then the usage chunk.
    steps.push(LlmStep::Finish(finish));
    steps.push(LlmStep::Usage(usage));
    LlmReply::Stream(steps)
}

/// Twilio's playback as the capture implies it: audio plays in real time from when it was sent;
/// `clear` drops what is queued.
#[derive(Debug, Default)]
struct PlaybackModel {
    queued: u64,
    played: u64,
    clears: u32,
    last_t: f64,
}

impl PlaybackModel {
    fn advance(&mut self, t_ms: f64) {
        if self.queued > 0 && t_ms > self.last_t {
            let playable = ((t_ms - self.last_t) * BYTES_PER_MS) as u64;
            let played = playable.min(self.queued);
            self.queued -= played;
            self.played += played;
        }
        self.last_t = self.last_t.max(t_ms);
    }

    fn push(&mut self, bytes: u64) {
        self.queued += bytes;
    }

    fn clear(&mut self) {
        self.queued = 0;
        self.clears += 1;
    }

    fn gate(&self) -> Gate {
        Gate {
            played: self.played,
            clears: self.clears,
        }
    }
}
