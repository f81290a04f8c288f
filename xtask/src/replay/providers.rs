//! The replay's side of the ports: a speech recogniser that answers from the capture, and a CRM
//! that knows the demo data's customers and answers tools with the recorded results (the call
//! control is `call_pipeline::fake::RecordingControl`).
//!
//! `ReplayStt` script format: a queue of `(n, event)` where `event` is a capture `stt` line
//! (docs/captures.md) and `n` an audio frame count: the event is emitted once the session has
//! received `n` audio frames (events never overtake each other). Counting frames instead of time
//! makes the recognition points survive `--fast`. Steps can be appended while the call runs
//! (`make-fixture` does, as its caller starts each line). The command queue is large, so the
//! gateway's reader never drops a frame and the counts stay exact.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Instant,
};

use anyhow::Context as _;
use async_trait::async_trait;
use call_pipeline::{CallCrm, ToolReply, fake::ScriptedCrm};
use futures::FutureExt;
use providers::{
    ProviderError, SpeechToText, SttCommand, SttEvent, SttHandle, SttOptions, SttSession,
    Transcript,
};
use serde_json::Value;
use tokio::sync::{Notify, mpsc, watch};
use voice_gateway::crm_port::CrmPort;

use super::capture::RecordedTool;

/// Audio frames the recogniser may hold before the gateway would drop some (10 minutes).
const COMMAND_QUEUE_LEN: usize = 30_000;

/// A recogniser that plays capture `stt` events at audio frame counts (see the module docs).
#[derive(Clone)]
pub(crate) struct ReplayStt {
    shared: Arc<SttShared>,
}

struct SttShared {
    steps: Mutex<VecDeque<(u64, Value)>>,
    added: Notify,
    frames_tx: watch::Sender<u64>,
}

impl ReplayStt {
    /// A recogniser with these steps.
    pub(crate) fn new(steps: Vec<(u64, Value)>) -> Self {
        Self {
            shared: Arc::new(SttShared {
                steps: Mutex::new(steps.into()),
                added: Notify::new(),
                frames_tx: watch::channel(0).0,
            }),
        }
    }

    /// Appends a step.
    pub(crate) fn push(&self, after_frames: u64, event: Value) {
        lock(&self.shared.steps).push_back((after_frames, event));
        self.shared.added.notify_one();
    }

    /// Watches how many audio frames the session has received.
    pub(crate) fn frames(&self) -> watch::Receiver<u64> {
        self.shared.frames_tx.subscribe()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl SpeechToText for ReplayStt {
    async fn connect(&self, _options: SttOptions) -> Result<SttSession, ProviderError> {
        let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE_LEN);
        let (events_tx, events_rx) = mpsc::channel(256);
        Ok(SttSession {
            handle: SttHandle::new(commands_tx),
            events: events_rx,
            driver: play_stt(self.shared.clone(), commands_rx, events_tx).boxed(),
        })
    }

    fn name(&self) -> &'static str {
        "replay"
    }
}

async fn play_stt(
    shared: Arc<SttShared>,
    mut commands_rx: mpsc::Receiver<SttCommand>,
    events_tx: mpsc::Sender<SttEvent>,
) {
    let mut frames = 0u64;
    loop {
        loop {
            let step = {
                let mut steps = lock(&shared.steps);
                match steps.front() {
                    Some((n, _)) if *n <= frames => steps.pop_front(),
                    _ => None,
                }
            };
            let Some((_, event)) = step else { break };
            let Some(event) = stt_event(&event) else {
                let _ = events_tx
                    .send(SttEvent::Closed { at: Instant::now() })
                    .await;
                return;
            };
            if events_tx.send(event).await.is_err() {
                return;
            }
        }
        let command = tokio::select! {
            command = commands_rx.recv() => command,
            () = shared.added.notified() => continue,
        };
        match command {
            Some(SttCommand::Audio(_)) => {
                frames += 1;
                shared.frames_tx.send_replace(frames);
            }
            Some(SttCommand::Finalize) => {}
            Some(SttCommand::Close) | None => {
                let _ = events_tx
                    .send(SttEvent::Closed { at: Instant::now() })
                    .await;
                return;
            }
        }
    }
}

/// A capture `stt` line as an event stamped now; `None` for `closed` (the session ends).
pub(crate) fn stt_event(value: &Value) -> Option<SttEvent> {
    let at = Instant::now();
    let f = |field: &str| value.get(field).and_then(Value::as_f64).unwrap_or(0.0);
    let b = |field: &str| value.get(field).and_then(Value::as_bool).unwrap_or(false);
    let s = |field: &str| {
        value
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Some(
        match value.get("event").and_then(Value::as_str).unwrap_or("") {
            "transcript" => SttEvent::Transcript(Transcript {
                text: s("text"),
                is_final: b("is_final"),
                speech_final: b("speech_final"),
                from_finalize: b("from_finalize"),
                confidence: f("confidence"),
                start_s: f("start_s"),
                duration_s: f("duration_s"),
                at,
            }),
            "speech_started" => SttEvent::SpeechStarted {
                timestamp_s: f("timestamp_s"),
                at,
            },
            "utterance_end" => SttEvent::UtteranceEnd {
                last_word_end_s: f("last_word_end_s"),
                at,
            },
            "eager_end_of_turn" => SttEvent::EagerEndOfTurn {
                text: s("text"),
                at,
            },
            "turn_resumed" => SttEvent::TurnResumed { at },
            "reconnecting" => SttEvent::Reconnecting {
                reason: ProviderError::Connect(s("reason")),
                at,
            },
            "reconnected" => SttEvent::Reconnected { at },
            "closed" => return None,
            _ => SttEvent::Error {
                error: ProviderError::Vendor(s("error")),
                at,
            },
        },
    )
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
