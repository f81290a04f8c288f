//! The replay's side of the ports: a speech recogniser that answers from the capture, and a CRM
//! that knows the demo data's customers and answers tools with the recorded results (the call
//! control is `call_pipeline::fake::RecordingControl`).
//!
//! The recogniser is `providers::fake::FakeStt` with a script of `(n, event)` steps, where
//! `event` is a capture `stt` line (docs/captures.md) and `n` an audio frame count: the event is
//! emitted once the session has received `n` audio frames (events never overtake each other).
//! Counting frames instead of time makes the recognition points survive `--fast`. Steps can be
//! appended while the call runs (`make-fixture` does, as its caller starts each line). The
//! command queue is large, so the gateway's reader never drops a frame and the counts stay exact.

use std::sync::Arc;

use anyhow::Context as _;
use call_pipeline::{CallCrm, ToolReply, fake::ScriptedCrm};
use providers::{
    ProviderError,
    fake::{FakeStt, SttScript, SttScriptEvent, SttStep, SttTrigger},
};
use serde_json::Value;
use voice_gateway::crm_port::CrmPort;

use super::capture::RecordedTool;

/// Audio frames the recogniser may hold before the gateway would drop some (10 minutes).
pub(crate) const COMMAND_QUEUE_LEN: usize = 30_000;

/// The recogniser of a replay: `providers::fake::FakeStt` playing capture `stt` events at audio
/// frame counts (see the module docs), with a queue large enough that no frame is ever dropped.
pub(crate) fn replay_stt(steps: &[(u64, Value)]) -> FakeStt {
    let script = SttScript {
        steps: steps
            .iter()
            .map(|(after_frames, event)| SttStep {
                when: SttTrigger::AfterAudioFrames(*after_frames),
                event: stt_script_event(event),
            })
            .collect(),
    };
    FakeStt::new(script).with_command_queue(COMMAND_QUEUE_LEN)
}

/// A capture `stt` line (docs/captures.md) as the fake's script event; `closed` ends the session.
pub(crate) fn stt_script_event(value: &Value) -> SttScriptEvent {
    let f = |field: &str| value.get(field).and_then(Value::as_f64).unwrap_or(0.0);
    let b = |field: &str| value.get(field).and_then(Value::as_bool).unwrap_or(false);
    let s = |field: &str| {
        value
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match value.get("event").and_then(Value::as_str).unwrap_or("") {
        "transcript" => SttScriptEvent::Transcript {
            text: s("text"),
            is_final: b("is_final"),
            speech_final: b("speech_final"),
            from_finalize: b("from_finalize"),
            confidence: f("confidence"),
            start_s: f("start_s"),
            duration_s: f("duration_s"),
        },
        "speech_started" => SttScriptEvent::SpeechStarted {
            timestamp_s: f("timestamp_s"),
        },
        "utterance_end" => SttScriptEvent::UtteranceEnd {
            last_word_end_s: f("last_word_end_s"),
        },
        "eager_end_of_turn" => SttScriptEvent::EagerEndOfTurn { text: s("text") },
        "turn_resumed" => SttScriptEvent::TurnResumed,
        "reconnecting" => SttScriptEvent::Reconnecting {
            reason: ProviderError::Connect(s("reason")),
        },
        "reconnected" => SttScriptEvent::Reconnected,
        "closed" => SttScriptEvent::Close,
        _ => SttScriptEvent::Error(ProviderError::Vendor(s("error"))),
    }
}

/// The CRM of a replay: the demo data's customers (fixtures/crm/demo.json, compiled into `crm`)
/// that the call's numbers name, looked up once on an in-memory SQLite database at the capture's
/// clock, the CRM's tools, and the recorded tool results in order (`call_pipeline::fake`'s
/// scripted CRM, which notes any call the capture does not have).
pub(crate) async fn replay_crm(
    tools: &[RecordedTool],
    numbers: &[&str],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ScriptedCrm> {
    // Generous timeouts: replays may share a busy machine with builds and other tests.
    let config = crm::CrmConfig {
        operation_timeout: std::time::Duration::from_secs(30),
        ..crm::CrmConfig::default()
    };
    let crm = crm::connect_and_migrate(
        "sqlite::memory:",
        &config,
        conversation::ShopConfig::default_shop(),
    )
    .await
    .context("opening the in-memory CRM")?;
    crm.seed_demo(crm::DEMO_JSON, now)
        .await
        .context("seeding the demo CRM")?;
    let demo = CrmPort::new(Arc::new(crm), Arc::new(move || now));
    let mut scripted = ScriptedCrm::new().with_tools(demo.tools());
    for number in numbers.iter().filter(|number| !number.is_empty()) {
        if let Some(customer) = demo
            .lookup_customer(number)
            .await
            .map_err(|err| anyhow::anyhow!("looking up a demo customer: {err}"))?
        {
            scripted = scripted.with_customer(customer);
        }
    }
    for tool in tools {
        // The capture holds the CRM's JSON; its outcome is read back from the CRM's codes.
        scripted = scripted.reply_next(&tool.name, ToolReply::from_recorded(tool.result.clone()));
    }
    Ok(scripted)
}
