//! The "try it" panel's calls: text calls (`call_pipeline::TextCall`) started from the browser,
//! each with its transcript so far, shown live like a phone call.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use call_pipeline::TextEvent;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::app::AppState;

/// Try-it calls kept at once (ended ones are dropped first).
const MAX_TRIES: usize = 32;
/// A try-it caller silent this long is asked whether they are still there.
const PATIENCE: Duration = Duration::from_secs(120);
/// The longest a line waits for the agent's answer before the page is shown anyway (well
/// inside the request timeout).
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// The running and recently ended try-it calls.
#[derive(Default)]
pub(crate) struct TryCalls {
    calls: Mutex<HashMap<String, Arc<TryCall>>>,
}

impl TryCalls {
    pub(crate) fn get(&self, call_sid: &str) -> Option<Arc<TryCall>> {
        self.calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(call_sid)
            .cloned()
    }

    fn insert(&self, call_sid: String, call: Arc<TryCall>) -> anyhow::Result<()> {
        let mut calls = self
            .calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if calls.len() >= MAX_TRIES {
            calls.retain(|_, call| !call.ended());
        }
        anyhow::ensure!(
            calls.len() < MAX_TRIES,
            "too many try-it calls at once; finish one first"
        );
        calls.insert(call_sid, call);
        Ok(())
    }
}

/// One try-it call.
pub(crate) struct TryCall {
    lines_tx: mpsc::Sender<String>,
    lines: Mutex<Vec<(&'static str, String)>>,
    /// Counts the agent's finished turns (and the end of the call).
    turns: watch::Sender<u64>,
    ended: watch::Sender<bool>,
}

impl TryCall {
    /// What was said so far, `(speaker, words)`.
    pub(crate) fn lines(&self) -> Vec<(&'static str, String)> {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(crate) fn ended(&self) -> bool {
        *self.ended.borrow()
    }

    fn push(&self, who: &'static str, text: String) {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((who, text));
    }

    /// Says `line` and waits (a while) for the agent's answer.
    pub(crate) async fn say(&self, line: &str) {
        if line.is_empty() || self.ended() {
            return;
        }
        let mut turns = self.turns.subscribe();
        turns.borrow_and_update();
        self.push("caller", line.to_owned());
        if self.lines_tx.send(line.to_owned()).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(ANSWER_WAIT, turns.changed()).await;
    }
}

/// Starts a try-it call as `caller` (`new`, `withheld`, or a number) and waits for the greeting.
pub(crate) async fn start(state: &Arc<AppState>, caller: &str) -> anyhow::Result<String> {
    let from = match caller.trim() {
        "" | "new" => "+15555550199".to_owned(),
        "withheld" => "anonymous".to_owned(),
        number => number.to_owned(),
    };
    let started = crate::chat::start_text_call(
        state,
        HashMap::from([("From".to_owned(), from)]),
        Some(state.console.hub.clone()),
        PATIENCE,
        &CancellationToken::new(),
    )?;
    let (turns, _) = watch::channel(0u64);
    let (ended, _) = watch::channel(false);
    let call = Arc::new(TryCall {
        lines_tx: started.caller.lines,
        lines: Mutex::new(Vec::new()),
        turns,
        ended,
    });
    state
        .console
        .tries
        .insert(started.call_sid.clone(), call.clone())?;
    let mut greeted = call.turns.subscribe();
    tokio::spawn(collect(
        call.clone(),
        started.caller.events,
        started.running,
    ));
    let _ = tokio::time::timeout(ANSWER_WAIT, greeted.changed()).await;
    Ok(started.call_sid)
}

/// Keeps the transcript of `call` until it ends.
async fn collect(
    call: Arc<TryCall>,
    mut events: mpsc::UnboundedReceiver<TextEvent>,
    running: tokio::task::JoinHandle<call_pipeline::CallOutcome>,
) {
    while let Some(event) = events.recv().await {
        match event {
            TextEvent::Agent(text) => call.push("agent", text),
            TextEvent::Transferred => {
                call.push(
                    "note",
                    "The call is handed to a service advisor.".to_owned(),
                );
            }
            TextEvent::HungUp => call.push("note", "The agent hung up.".to_owned()),
            TextEvent::Listening => call.turns.send_modify(|turns| *turns += 1),
            TextEvent::Conversation { .. } => {}
        }
    }
    let status = running
        .await
        .map_or("failed", |outcome| outcome.status.as_str());
    call.push("note", format!("Call ended: {status}."));
    call.ended.send_replace(true);
    call.turns.send_modify(|turns| *turns += 1);
}
