//! The readable timeline of a replayed call, from the capture the replay itself wrote.

use std::fmt::Write as _;

use serde_json::Value;

use super::capture::Line;

/// One line per event: who said what, state changes, tools, barge-ins, DTMF, and per turn the
/// latency from the caller's final transcript to the agent's first audio frame.
pub(crate) fn timeline(lines: &[Line]) -> String {
    let mut out = String::new();
    // A caller turn waiting for the agent's answer: its transcript time, and whether the answer
    // (a new agent turn) has started, so audio still playing from before does not count.
    let mut waiting_since: Option<f64> = None;
    let mut answer_started = false;
    let mut last_agent_turn = 0;
    for line in lines {
        let t = line.t_ms / 1000.0;
        let mut row = |who: &str, what: String| {
            let _ = writeln!(out, "{t:8.3}s  {who:<9} {what}");
        };
        match line.kind.as_str() {
            "meta" => {
                let params = line.value.get("parameters").cloned().unwrap_or(Value::Null);
                let from = params
                    .get("From")
                    .and_then(Value::as_str)
                    .map(conversation::caller_id::mask_phone)
                    .unwrap_or_else(|| "unknown".to_owned());
                let call_type = params
                    .get("call_type")
                    .and_then(Value::as_str)
                    .unwrap_or("inbound");
                row(
                    "call",
                    format!("{} from {from} ({call_type})", line.str("call_sid")),
                );
            }
            "stt" if line.str("event") == "transcript" => {
                let is_final = line.value.get("is_final").and_then(Value::as_bool) == Some(true);
                let speech_final =
                    line.value.get("speech_final").and_then(Value::as_bool) == Some(true);
                if is_final {
                    row("caller", format!("\"{}\"", line.str("text")));
                } else {
                    row("caller", format!("(interim) \"{}\"", line.str("text")));
                }
                if speech_final {
                    waiting_since = Some(line.t_ms);
                    answer_started = false;
                }
            }
            "stt" if line.str("event") == "utterance_end" && waiting_since.is_none() => {
                waiting_since = Some(line.t_ms);
                answer_started = false;
            }
            "transition" => {
                let intent = line
                    .value
                    .get("intent")
                    .and_then(Value::as_str)
                    .map(|i| format!("  intent={i}"))
                    .unwrap_or_default();
                row(
                    "state",
                    format!("{} -> {}{intent}", line.str("from"), line.str("to")),
                );
            }
            "llm_reply" => {
                if let Some(error) = line.value.get("error").and_then(Value::as_str) {
                    row("llm", format!("error: {error}"));
                }
            }
            "tool" => {
                let result = line
                    .value
                    .get("result")
                    .map(Value::to_string)
                    .unwrap_or_default();
                let result: String = result.chars().take(120).collect();
                row(
                    "tool",
                    format!(
                        "{}({}) -> {result}",
                        line.str("name"),
                        line.str("arguments")
                    ),
                );
            }
            "tts_text" => {
                let turn = line.value.get("turn").and_then(Value::as_u64).unwrap_or(0);
                if turn > last_agent_turn {
                    last_agent_turn = turn;
                    answer_started = waiting_since.is_some();
                }
                row("agent", format!("\"{}\"", line.str("text")));
            }
            "twilio_out" => match line.str("event") {
                "media" if answer_started => {
                    answer_started = false;
                    if let Some(since) = waiting_since.take() {
                        row(
                            "latency",
                            format!(
                                "{:.0} ms from the caller's last words to the agent's first audio",
                                line.t_ms - since
                            ),
                        );
                    }
                }
                "clear" => row("clear", "playback cleared".to_owned()),
                _ => {}
            },
            "barge_in" => row(
                "barge-in",
                format!(
                    "cause: {}; caller heard \"{}\"",
                    line.str("cause"),
                    line.str("heard")
                ),
            ),
            "twilio_in" => {
                let frame: Value = serde_json::from_str(line.str("frame")).unwrap_or(Value::Null);
                match frame.get("event").and_then(Value::as_str) {
                    Some("dtmf") => row(
                        "dtmf",
                        frame
                            .pointer("/dtmf/digit")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                            .to_owned(),
                    ),
                    Some("stop") => row("stop", "Twilio ended the stream".to_owned()),
                    _ => {}
                }
            }
            "outcome" => {
                let summary = line.value.get("summary").cloned().unwrap_or(Value::Null);
                let get = |k: &str| {
                    summary
                        .get(k)
                        .map_or_else(|| "none".to_owned(), Value::to_string)
                };
                row(
                    "end",
                    format!(
                        "status {}; state {}; intent {}; escalation {}",
                        line.str("status"),
                        get("state"),
                        get("intent"),
                        get("escalation_reason"),
                    ),
                );
            }
            _ => {}
        }
    }
    out
}
