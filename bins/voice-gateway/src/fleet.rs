//! The fleet-wide view: every gateway reports itself to the shared session store every
//! `REPORT_EVERY` (its name, calls, capacity, whether it drains, when it started); the reports
//! live `REPORT_TTL`, so a gateway that stopped or crashed leaves the view within seconds.
//! `/api/fleet` and the console read them, with the calls in progress fleet-wide from the
//! session store's active index. With in-memory sessions the fleet is this process alone.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::app::AppState;

/// How often a gateway reports itself.
const REPORT_EVERY: Duration = Duration::from_secs(2);
/// How long a report counts: three reports, so one slow write does not drop a gateway.
const REPORT_TTL: Duration = Duration::from_secs(6);

/// This gateway's report.
fn report(state: &AppState, started_at: &str) -> Value {
    json!({
        "active_calls": state.admission.active_calls(),
        "max_calls": state.config.max_concurrent_calls.get(),
        "draining": state.draining.is_cancelled(),
        "started_at": started_at,
    })
}

/// Reports this gateway until `stop`, then once more as draining with a short life.
pub(crate) async fn report_until(state: Arc<AppState>, stop: CancellationToken) {
    let started_at = (state.clock)().to_rfc3339();
    let instance = state.config.instance_id.clone();
    let mut tick = tokio::time::interval(REPORT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
            // Draining shows at once, not at the next tick.
            _ = state.draining.cancelled(), if !state.draining.is_cancelled() => {}
        }
        match state
            .sessions
            .publish_instance(&instance, report(&state, &started_at), REPORT_TTL)
            .await
        {
            Ok(()) => warned = false,
            Err(err) if !warned => {
                warned = true;
                warn!(error = %err, "could not report this gateway to the fleet view");
            }
            Err(err) => debug!(error = %err, "fleet report failed again"),
        }
    }
    let _ = state
        .sessions
        .publish_instance(&instance, report(&state, &started_at), REPORT_EVERY)
        .await;
}

/// One gateway as the fleet view shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Instance {
    pub(crate) instance: String,
    pub(crate) active_calls: u64,
    pub(crate) max_calls: u64,
    pub(crate) draining: bool,
    pub(crate) started_at: String,
    /// This gateway (the one answering).
    pub(crate) this: bool,
}

/// Every gateway and the calls in progress fleet-wide.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct View {
    pub(crate) instances: Vec<Instance>,
    /// Calls with a live session anywhere in the fleet; `None` when the store cannot say.
    pub(crate) active_calls: Option<usize>,
    /// The sum of the gateways' call limits.
    pub(crate) capacity: u64,
    /// The store could not be read: the view is this gateway alone.
    pub(crate) partial: bool,
}

/// The fleet as the session store knows it.
pub(crate) async fn view(state: &AppState) -> View {
    let this = &state.config.instance_id;
    let (mut instances, partial) = match state.sessions.list_instances().await {
        Ok(reports) => (
            reports
                .into_iter()
                .map(|(instance, report)| Instance {
                    this: &instance == this,
                    active_calls: report["active_calls"].as_u64().unwrap_or(0),
                    max_calls: report["max_calls"].as_u64().unwrap_or(0),
                    draining: report["draining"].as_bool().unwrap_or(false),
                    started_at: report["started_at"].as_str().unwrap_or_default().to_owned(),
                    instance,
                })
                .collect::<Vec<_>>(),
            false,
        ),
        Err(err) => {
            warn!(error = %err, "fleet view: instance reports unavailable");
            (Vec::new(), true)
        }
    };
    // Between its start and its first report, or when the store is down, this gateway still
    // shows, from its own numbers.
    if !instances.iter().any(|i| &i.instance == this) {
        instances.push(Instance {
            instance: this.clone(),
            active_calls: state.admission.active_calls() as u64,
            max_calls: state.config.max_concurrent_calls.get() as u64,
            draining: state.draining.is_cancelled(),
            started_at: String::new(),
            this: true,
        });
        instances.sort_by(|a, b| a.instance.cmp(&b.instance));
    }
    let active_calls = state
        .sessions
        .list_active()
        .await
        .ok()
        .map(|calls| calls.len());
    View {
        capacity: instances.iter().map(|i| i.max_calls).sum(),
        instances,
        active_calls,
        partial,
    }
}
