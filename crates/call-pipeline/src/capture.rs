//! Call capture: with `CAPTURE_DIR` set, each admitted call is written as one JSON Lines file
//! that `cargo xtask replay` can play back (format: docs/captures.md).
//!
//! Lines stream to disk while the call runs, so a long call's capture costs no memory: recording
//! is a send on an unbounded channel under a short, uncontended lock (which keeps lines in order
//! and their offsets growing), and one writer task per call appends them through a buffered
//! `tokio::fs` file (`<call_sid>.jsonl.partial`), renamed to `<call_sid>.jsonl` when the call
//! ends.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use providers::{SttEvent, ToolCall, Usage};
use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, sync::mpsc, task::JoinHandle};
use tracing::{Instrument, info, warn};

/// Version of the capture format; bump it when a line's meaning changes.
pub const CAPTURE_FORMAT_VERSION: u32 = 1;

/// The lines of one call's capture. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub(crate) struct Capture {
    inner: Arc<CaptureInner>,
}

#[derive(Debug)]
struct CaptureInner {
    started: Instant,
    /// `None` once the capture is finished.
    lines: Mutex<Option<mpsc::UnboundedSender<String>>>,
    writer: Mutex<Option<JoinHandle<std::io::Result<PathBuf>>>>,
}

impl Capture {
    /// Starts the capture of `call_sid` in `dir` (its writer task runs until `finish`).
    pub(crate) fn new(dir: PathBuf, call_sid: &str) -> Self {
        let file_name: String = call_sid
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let (lines_tx, lines_rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_lines(dir, file_name, lines_rx).in_current_span());
        Self {
            inner: Arc::new(CaptureInner {
                started: Instant::now(),
                lines: Mutex::new(Some(lines_tx)),
                writer: Mutex::new(Some(writer)),
            }),
        }
    }

    fn push(&self, kind: &str, mut value: Value) {
        let lines = self
            .inner
            .lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(lines) = lines.as_ref() else {
            return;
        };
        // The offset is read under the lock so lines from the reader and the driver stay in order.
        let t_ms = self.inner.started.elapsed().as_secs_f64() * 1000.0;
        if let Value::Object(map) = &mut value {
            map.insert("t_ms".to_owned(), json!((t_ms * 10.0).round() / 10.0));
            map.insert("kind".to_owned(), json!(kind));
        }
        // A send only fails once the writer stopped on an IO error, which it logged.
        let _ = lines.send(value.to_string());
    }

    /// The call's identity and parameters (the stream token is left out), and the settings a
    /// replay must share to ask the LLM the same questions in the same order (`early_replies`).
    pub(crate) fn meta(
        &self,
        call_sid: &str,
        stream_sid: &str,
        started_at: &str,
        params: Value,
        early_replies: bool,
    ) {
        self.push(
            "meta",
            json!({"version": CAPTURE_FORMAT_VERSION, "call_sid": call_sid, "stream_sid": stream_sid, "started_at": started_at, "parameters": params, "early_replies": early_replies}),
        );
    }

    /// A frame exactly as Twilio sent it.
    pub(crate) fn twilio_in(&self, frame: &str) {
        self.push("twilio_in", json!({"frame": frame}));
    }

    /// What the CRM lookup at call start found: `found` (with the profile), `not_found`,
    /// `no_caller_id` or `failed`.
    pub(crate) fn crm_lookup(&self, result: &str, customer: Option<&Value>) {
        self.push(
            "crm_lookup",
            json!({"result": result, "customer": customer}),
        );
    }

    /// A frame we sent to Twilio, summarised (media by length: the audio is the TTS's).
    pub(crate) fn twilio_out(&self, event: &str, detail: Value) {
        self.push("twilio_out", json!({"event": event, "detail": detail}));
    }

    /// A speech-to-text event.
    pub(crate) fn stt(&self, event: &SttEvent) {
        let value = match event {
            SttEvent::Transcript(t) => {
                json!({"event": "transcript", "text": t.text, "is_final": t.is_final,
                "speech_final": t.speech_final, "from_finalize": t.from_finalize, "confidence": t.confidence,
                "start_s": t.start_s, "duration_s": t.duration_s})
            }
            SttEvent::SpeechStarted { timestamp_s, .. } => {
                json!({"event": "speech_started", "timestamp_s": timestamp_s})
            }
            SttEvent::UtteranceEnd {
                last_word_end_s, ..
            } => {
                json!({"event": "utterance_end", "last_word_end_s": last_word_end_s})
            }
            SttEvent::EagerEndOfTurn { text, .. } => {
                json!({"event": "eager_end_of_turn", "text": text})
            }
            SttEvent::TurnResumed { .. } => json!({"event": "turn_resumed"}),
            SttEvent::Reconnecting { reason, .. } => {
                json!({"event": "reconnecting", "reason": reason.to_string()})
            }
            SttEvent::Reconnected { .. } => json!({"event": "reconnected"}),
            SttEvent::Error { error, .. } => json!({"event": "error", "error": error.to_string()}),
            SttEvent::Closed { .. } => json!({"event": "closed"}),
        };
        self.push("stt", value);
    }

    /// One LLM round's answer: the text, the tool calls and usage, or the error.
    pub(crate) fn llm_round(
        &self,
        turn: u64,
        text: &str,
        tool_calls: &[ToolCall],
        usage: Usage,
        error: Option<&str>,
    ) {
        self.push(
            "llm_reply",
            json!({"turn": turn, "text": text, "tool_calls": tool_calls, "usage": usage, "error": error}),
        );
    }

    /// A tool call and what the CRM answered.
    pub(crate) fn tool(&self, turn: u64, name: &str, arguments: &str, result: &Value) {
        self.push(
            "tool",
            json!({"turn": turn, "name": name, "arguments": arguments, "result": result}),
        );
    }

    /// Text sent to TTS.
    pub(crate) fn tts_text(&self, turn: u64, text: &str) {
        self.push("tts_text", json!({"turn": turn, "text": text}));
    }

    /// Audio TTS delivered.
    pub(crate) fn tts_audio(&self, bytes: usize) {
        self.push("tts_audio", json!({"bytes": bytes}));
    }

    /// A state or intent change of the conversation.
    pub(crate) fn transition(&self, from: &str, to: &str, intent: Option<&str>) {
        self.push(
            "transition",
            json!({"from": from, "to": to, "intent": intent}),
        );
    }

    /// A barge-in, with what the caller heard.
    pub(crate) fn barge_in(&self, cause: &str, heard: &str) {
        self.push("barge_in", json!({"cause": cause, "heard": heard}));
    }

    /// The end of the call: status and the manager's summary.
    pub(crate) fn outcome(&self, status: &str, summary: &Value, history: &Value) {
        self.push(
            "outcome",
            json!({"status": status, "summary": summary, "history": history}),
        );
    }

    /// Ends the capture: the writer drains what is queued and renames the file into place.
    pub(crate) async fn finish(self) {
        self.inner
            .lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(writer) = writer else {
            return;
        };
        match writer.await {
            Ok(Ok(path)) => info!(path = %path.display(), "call capture written"),
            Ok(Err(err)) => warn!(error = %err, "could not write the call capture"),
            Err(err) => warn!(error = %err, "capture writer task failed"),
        }
    }
}

/// Appends each line to `{dir}/{name}.jsonl.partial` as it comes; renames the file to
/// `{name}.jsonl` when the senders are gone.
async fn write_lines(
    dir: PathBuf,
    name: String,
    mut lines: mpsc::UnboundedReceiver<String>,
) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(&dir).await?;
    let partial = dir.join(format!("{name}.jsonl.partial"));
    let path = dir.join(format!("{name}.jsonl"));
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&partial).await?);
    while let Some(line) = lines.recv().await {
        file.write_all(line.as_bytes()).await?;
        file.write_all(b"\n").await?;
    }
    file.flush().await?;
    drop(file);
    tokio::fs::rename(&partial, &path).await?;
    Ok(path)
}

/// A `start` frame with the stream token taken out of its custom parameters (captures never hold
/// a token).
pub(crate) fn without_token(frame: &str, token_parameter: &str) -> String {
    match serde_json::from_str::<Value>(frame) {
        Ok(mut value) => {
            if let Some(params) = value
                .pointer_mut("/start/customParameters")
                .and_then(Value::as_object_mut)
            {
                params.remove(token_parameter);
            }
            value.to_string()
        }
        Err(_) => frame.to_owned(),
    }
}
