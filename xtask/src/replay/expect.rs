//! Expectations stored with a capture (`<name>.expect.json`) and the diff against a replay.
//! A capture without the file is compared with what its own recording shows (`recorded`).
//!
//! The expectation file is pretty JSON:
//!
//! | key | what the replay must reproduce |
//! | --- | --- |
//! | `status` | how the call ended (`completed`, `transferred`, …) |
//! | `transitions` | every state change, `"from -> to [intent]"` |
//! | `summary` | the manager's final summary: call type, state, intent, turn count, slots, escalation |
//! | `tool_calls` | CRM tools called, in order, with their arguments |
//! | `caller_said` | the caller's turns as the pipeline took them |
//! | `agent_said` | every piece of text sent to TTS |
//! | `barge_ins` | the cause of each interruption (what the caller heard is in the timeline only: it depends on how far TTS ran ahead of playback, which differs between `--fast` and real time) |
//! | `replay` | how to replay: `tts_ms_per_char`, audio per character for text the recording does not have (estimated from the capture when missing; recorded texts get their recorded length) |

use serde_json::{Map, Value, json};

use super::capture::Line;

/// What a call did, from its own capture, in the expectation file's shape (without `replay`):
/// what a replay observed, or, for a recording, the default expectations of a capture that has
/// no `<name>.expect.json` yet (a capture from a real call replays against itself).
pub(crate) fn recorded(lines: &[Line]) -> Value {
    let outcome = lines.iter().rev().find(|l| l.kind == "outcome");
    let status = outcome.map_or("unknown", |l| l.str("status"));
    let summary = outcome
        .and_then(|l| l.value.get("summary").cloned())
        .unwrap_or(Value::Null);
    let caller_said: Vec<Value> = outcome
        .and_then(|l| l.value.get("history"))
        .and_then(Value::as_array)
        .map(|history| {
            history
                .iter()
                .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
                .filter_map(|m| m.get("content").cloned())
                .collect()
        })
        .unwrap_or_default();
    observation(lines, status, summary, caller_said)
}

fn observation(lines: &[Line], status: &str, summary: Value, caller_said: Vec<Value>) -> Value {
    let mut transitions = Vec::new();
    let mut tool_calls = Vec::new();
    let mut agent_said = Vec::new();
    let mut barge_ins = Vec::new();
    for line in lines {
        match line.kind.as_str() {
            "transition" => {
                let mut text = format!("{} -> {}", line.str("from"), line.str("to"));
                if let Some(intent) = line.value.get("intent").and_then(Value::as_str) {
                    text.push_str(&format!(" [{intent}]"));
                }
                transitions.push(json!(text));
            }
            "tool" => {
                let arguments = line.str("arguments");
                let arguments =
                    serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!(arguments));
                tool_calls.push(json!({"name": line.str("name"), "arguments": arguments}));
            }
            "tts_text" => agent_said.push(json!(line.str("text"))),
            "barge_in" => {
                barge_ins.push(json!(line.str("cause")));
            }
            _ => {}
        }
    }
    json!({
        "status": status,
        "transitions": transitions,
        "summary": summary,
        "tool_calls": tool_calls,
        "caller_said": caller_said,
        "agent_said": agent_said,
        "barge_ins": barge_ins,
    })
}

/// Adds the replay settings to an observation, for `--update`.
pub(crate) fn with_settings(mut observed: Value, tts_ms_per_char: u64) -> Value {
    if let Value::Object(map) = &mut observed {
        let mut ordered = Map::new();
        ordered.insert(
            "replay".to_owned(),
            json!({"tts_ms_per_char": tts_ms_per_char}),
        );
        ordered.extend(std::mem::take(map));
        *map = ordered;
    }
    observed
}

/// `replay.tts_ms_per_char` of an expectation file, if set.
pub(crate) fn tts_ms_per_char(expected: &Value) -> Option<u64> {
    expected
        .pointer("/replay/tts_ms_per_char")
        .and_then(Value::as_u64)
        .filter(|&ms| ms > 0)
}

/// Differences between the expectations and what the replay did, one readable line each
/// (`path: expected …, got …`). Empty when they agree. `replay` settings are not compared.
pub(crate) fn diff(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(expected), Some(actual)) = (expected.as_object(), actual.as_object()) else {
        out.push("expectations are not a JSON object".to_owned());
        return out;
    };
    for (key, want) in expected {
        if key == "replay" {
            continue;
        }
        let got = actual.get(key).unwrap_or(&Value::Null);
        diff_value(key, want, got, &mut out);
    }
    for (key, got) in actual {
        if !expected.contains_key(key) {
            out.push(format!(
                "{key}: not in the expectations, got {}",
                short(got)
            ));
        }
    }
    out
}

fn diff_value(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    if want == got {
        return;
    }
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, wv) in w {
                diff_value(
                    &format!("{path}.{key}"),
                    wv,
                    g.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
            for (key, gv) in g {
                if !w.contains_key(key) {
                    diff_value(&format!("{path}.{key}"), &Value::Null, gv, out);
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            for i in 0..w.len().max(g.len()) {
                let item = format!("{path}[{i}]");
                match (w.get(i), g.get(i)) {
                    (Some(wv), Some(gv)) => diff_value(&item, wv, gv, out),
                    (Some(wv), None) => {
                        out.push(format!("{item}: expected {}, missing", short(wv)))
                    }
                    (None, Some(gv)) => out.push(format!("{item}: unexpected {}", short(gv))),
                    (None, None) => {}
                }
            }
        }
        _ => out.push(format!(
            "{path}: expected {}, got {}",
            short(want),
            short(got)
        )),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 160 {
        let cut: String = text.chars().take(157).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(expected: Value, actual: Value, want: &[&str]) {
        assert_eq!(diff(&expected, &actual), want);
    }

    #[test]
    fn equal_values_have_no_diff_and_settings_are_not_compared() {
        check(
            json!({"replay": {"tts_ms_per_char": 40}, "status": "completed", "agent_said": ["Hi."]}),
            json!({"status": "completed", "agent_said": ["Hi."]}),
            &[],
        );
    }

    #[test]
    fn differences_name_their_path() {
        check(
            json!({"status": "completed", "summary": {"intent": "oil_change", "collected_slots": {"service_type": "oil_change"}}, "agent_said": ["a", "b"]}),
            json!({"status": "transferred", "summary": {"intent": null, "collected_slots": {}}, "agent_said": ["a"], "barge_ins": []}),
            // Keys in JSON object order (sorted).
            &[
                r#"agent_said[1]: expected "b", missing"#,
                r#"status: expected "completed", got "transferred""#,
                r#"summary.collected_slots.service_type: expected "oil_change", got null"#,
                r#"summary.intent: expected "oil_change", got null"#,
                "barge_ins: not in the expectations, got []",
            ],
        );
    }
}
