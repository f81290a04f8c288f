//! One-time signals from Twilio's webhooks to the call they concern.
//!
//! A webhook (the advisor accepted, the advisor's phone was busy, an answering machine was
//! detected) may reach any gateway instance, while the call runs on one. The webhook leaves the
//! signal as a claim in the shared session store (`SessionStore::claim`: the first value wins,
//! it expires on its own), and the call polls it (`SessionStore::claim_holder`). Polling costs one
//! read every `POLL_EVERY`, only while a call waits for one, and needs no pub/sub.

use std::time::Duration;

use session_store::{SessionStore, SessionStoreError};
use tokio::time::Instant;
use tracing::warn;

/// How often a waiting call reads its signal.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// How long a signal is kept (a call waits for one for minutes at most).
const KEEP_FOR: Duration = Duration::from_secs(3600);

/// What a signal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// How the warm transfer ended: `connected`, or `unanswered:<why>`.
    Transfer,
    /// Twilio's answering-machine verdict (`AnsweredBy`: `human`, `machine_end_beep`, …).
    AnsweredBy,
    /// The advisor's call leg of a warm transfer (its SID), so it can be cancelled.
    AdvisorLeg,
    /// After the advisor accepted: whether Twilio took the caller's move to the advisor
    /// (`moved`), or it failed (`failed:<why>`; the call itself claims `failed:timeout` when no
    /// word and no end of stream came in time).
    Bridge,
}

impl SignalKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Transfer => "transfer",
            Self::AnsweredBy => "amd",
            Self::AdvisorLeg => "advisor",
            Self::Bridge => "bridge",
        }
    }

    /// The store key of this signal for `call_sid`.
    pub fn key(self, call_sid: &str) -> String {
        format!("{}-{call_sid}", self.prefix())
    }
}

/// The value of a transfer the advisor took.
pub const TRANSFER_CONNECTED: &str = "connected";

/// The value of a transfer nobody took, with why (`busy`, `no-answer`, `declined`, …).
pub fn transfer_unanswered(why: &str) -> String {
    format!("unanswered:{why}")
}

/// The value of a bridge Twilio accepted (the caller's stream ends next).
pub const BRIDGE_MOVED: &str = "moved";

/// The value of a bridge that did not happen, with why.
pub fn bridge_failed(why: &str) -> String {
    format!("failed:{why}")
}

/// Leaves `value` for the call; `false` when an earlier value stands (first one wins).
pub async fn send(
    store: &dyn SessionStore,
    kind: SignalKind,
    call_sid: &str,
    value: &str,
) -> Result<bool, SessionStoreError> {
    store.claim(&kind.key(call_sid), value, KEEP_FOR).await
}

/// Reads the signal now.
pub async fn read(
    store: &dyn SessionStore,
    kind: SignalKind,
    call_sid: &str,
) -> Result<Option<String>, SessionStoreError> {
    store.claim_holder(&kind.key(call_sid)).await
}

/// Waits up to `max_wait` for the signal; `None` when none came. A store error is logged and
/// the poll goes on (the wait is bounded either way).
pub async fn wait(
    store: &dyn SessionStore,
    kind: SignalKind,
    call_sid: &str,
    max_wait: Duration,
) -> Option<String> {
    let deadline = Instant::now() + max_wait;
    let mut logged = false;
    loop {
        match read(store, kind, call_sid).await {
            Ok(Some(value)) => return Some(value),
            Ok(None) => {}
            Err(err) if !logged => {
                logged = true;
                warn!(error = %err, signal = kind.prefix(), "cannot read the call's signal; still waiting");
            }
            Err(_) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_EVERY.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_store::{MemorySessionStore, SessionStoreConfig};

    #[tokio::test(start_paused = true)]
    async fn the_first_signal_wins_and_a_waiting_call_sees_it() {
        let store =
            std::sync::Arc::new(MemorySessionStore::new(&SessionStoreConfig::default()).unwrap());
        let waiter = {
            let store = store.clone();
            tokio::spawn(async move {
                wait(
                    &*store,
                    SignalKind::Transfer,
                    "CA1",
                    Duration::from_secs(30),
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            send(&*store, SignalKind::Transfer, "CA1", TRANSFER_CONNECTED)
                .await
                .unwrap()
        );
        assert!(
            !send(
                &*store,
                SignalKind::Transfer,
                "CA1",
                &transfer_unanswered("busy")
            )
            .await
            .unwrap()
        );
        assert_eq!(waiter.await.unwrap().as_deref(), Some(TRANSFER_CONNECTED));
        // Another call's signal, or another kind, is not this one.
        assert_eq!(
            read(&*store, SignalKind::AnsweredBy, "CA1").await.unwrap(),
            None
        );
        assert_eq!(
            wait(&*store, SignalKind::Transfer, "CA2", Duration::from_secs(2)).await,
            None
        );
    }
}
