//! The live calls the console shows: a `CallObserver` that keeps each call in progress (who,
//! which flow, state, intent, slots, what was said) and tells the pages when anything changed.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use call_pipeline::{CallEvent, CallObserver};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// Lines of a live call's transcript kept (the page shows the latest).
const MAX_LINES: usize = 40;

/// One call in progress, as the console shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LiveCall {
    pub(crate) call_sid: String,
    pub(crate) started_at: Option<DateTime<Utc>>,
    /// Masked.
    pub(crate) caller: String,
    pub(crate) direction: String,
    pub(crate) call_type: String,
    pub(crate) state: String,
    pub(crate) intent: String,
    /// `name: value` pairs of the collected slots.
    pub(crate) slots: Vec<(String, String)>,
    /// `(speaker, words)`, oldest first.
    pub(crate) lines: Vec<(&'static str, String)>,
    pub(crate) escalation: Option<String>,
}

/// Every call in progress on this instance.
pub(crate) struct ConsoleHub {
    live: Mutex<BTreeMap<String, LiveCall>>,
    version: watch::Sender<u64>,
    clock: crate::app::Clock,
}

impl ConsoleHub {
    pub(crate) fn new(clock: crate::app::Clock) -> Arc<ConsoleHub> {
        Arc::new(ConsoleHub {
            live: Mutex::new(BTreeMap::new()),
            version: watch::Sender::new(0),
            clock,
        })
    }

    /// The calls in progress, oldest first.
    pub(crate) fn live_calls(&self) -> Vec<LiveCall> {
        let live = self
            .live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut calls: Vec<LiveCall> = live.values().cloned().collect();
        calls.sort_by_key(|call| call.started_at);
        calls
    }

    /// Changes whenever a live call does.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

impl CallObserver for ConsoleHub {
    fn on_event(&self, call_sid: &str, event: &CallEvent) {
        {
            let mut live = self
                .live
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let CallEvent::Ended { .. } = event {
                live.remove(call_sid);
            } else {
                let call = live.entry(call_sid.to_owned()).or_insert_with(|| LiveCall {
                    call_sid: call_sid.to_owned(),
                    started_at: Some((self.clock)()),
                    ..LiveCall::default()
                });
                match event {
                    CallEvent::Started {
                        caller,
                        direction,
                        call_type,
                    } => {
                        call.caller = caller.clone().unwrap_or_else(|| "withheld".to_owned());
                        direction.as_str().clone_into(&mut call.direction);
                        call.call_type.clone_from(call_type);
                    }
                    CallEvent::Caller { text } => push_line(call, "caller", text),
                    CallEvent::Agent { text } => push_line(call, "agent", text),
                    CallEvent::Conversation {
                        state,
                        intent,
                        slots,
                    } => {
                        call.state.clone_from(state);
                        call.intent = intent.clone().unwrap_or_default();
                        call.slots = slot_pairs(slots);
                    }
                    CallEvent::Escalated { reason } => call.escalation = Some(reason.clone()),
                    CallEvent::TurnOver { .. } | CallEvent::Ended { .. } => return,
                }
            }
        }
        self.version.send_modify(|version| *version += 1);
    }
}

fn push_line(call: &mut LiveCall, who: &'static str, text: &str) {
    call.lines.push((who, text.to_owned()));
    if call.lines.len() > MAX_LINES {
        call.lines.remove(0);
    }
}

/// The slots as `("service type", "oil change")` pairs, for the pages.
pub(crate) fn slot_pairs(slots: &serde_json::Value) -> Vec<(String, String)> {
    let Some(map) = slots.as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (name.replace('_', " "), value)
        })
        .collect()
}

/// Both observers see every event (a console "try it" call is shown live and on its page).
pub(crate) struct Both(
    pub(crate) Arc<dyn CallObserver>,
    pub(crate) Arc<dyn CallObserver>,
);

impl CallObserver for Both {
    fn on_event(&self, call_sid: &str, event: &CallEvent) {
        self.0.on_event(call_sid, event);
        self.1.on_event(call_sid, event);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_call_is_live_from_its_first_event_to_its_end() {
        let now: crate::app::Clock = Arc::new(|| "2026-12-07T14:00:00Z".parse().unwrap());
        let hub = ConsoleHub::new(now);
        let changes = hub.subscribe();
        hub.on_event(
            "CA1",
            &CallEvent::Started {
                caller: Some("***0100".into()),
                direction: conversation::CallDirection::Inbound,
                call_type: "inbound_existing".into(),
            },
        );
        hub.on_event("CA1", &CallEvent::Caller { text: "hi".into() });
        hub.on_event(
            "CA1",
            &CallEvent::Conversation {
                state: "slot_collection".into(),
                intent: Some("schedule_appointment".into()),
                slots: json!({"service_type": "oil change"}),
            },
        );
        hub.on_event(
            "CA1",
            &CallEvent::Escalated {
                reason: "anger".into(),
            },
        );
        let live = hub.live_calls();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].caller, "***0100");
        assert_eq!(
            live[0].slots,
            [("service type".into(), "oil change".into())]
        );
        assert_eq!(live[0].lines, [("caller", "hi".to_owned())]);
        assert_eq!(live[0].escalation.as_deref(), Some("anger"));
        assert_eq!(*changes.borrow(), 4);
        hub.on_event(
            "CA1",
            &CallEvent::Ended {
                status: "transferred".into(),
            },
        );
        assert!(hub.live_calls().is_empty());
    }
}
