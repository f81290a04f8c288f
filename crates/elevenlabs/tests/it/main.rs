//! Integration tests: `ElevenLabsTts` against a local server that speaks the `multi-stream-input`
//! protocol as docs/protocols.md section 7 describes. Real sockets on 127.0.0.1, real time, short
//! configured timeouts; waits are on messages, with `mock::GUARD` only as a hang guard.

mod mock;
mod session;
mod sim;

use std::fmt::Write as _;
use std::time::Duration;

use elevenlabs::{ApiKey, ElevenLabsConfig, ElevenLabsTts, ReconnectPolicy};
use providers::{TextToSpeech as _, TtsEvent, TtsHandle, TtsOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::mock::GUARD;

pub(crate) const API_KEY: &str = "sk-test-0123456789";

/// A config pointing at the mock server, with short timeouts and keep-alives far away (tests
/// about keep-alives shorten them).
pub(crate) fn test_config(base_url: &str) -> ElevenLabsConfig {
    let mut config = ElevenLabsConfig::new(ApiKey::new(API_KEY), "voice-1");
    config.base_url = base_url.parse().unwrap();
    config.connect_timeout = Duration::from_secs(2);
    config.close_timeout = Duration::from_secs(2);
    config.reconnect = ReconnectPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    };
    config
}

/// The client side of one session, with its driver running.
pub(crate) struct Client {
    pub(crate) handle: TtsHandle,
    events: mpsc::Receiver<TtsEvent>,
    driver: JoinHandle<()>,
}

impl Client {
    pub(crate) async fn connect(config: ElevenLabsConfig, options: TtsOptions) -> Client {
        let tts = ElevenLabsTts::new(config).unwrap();
        let session = timeout(GUARD, tts.connect(options)).await.unwrap().unwrap();
        Client {
            handle: session.handle,
            events: session.events,
            driver: tokio::spawn(session.driver),
        }
    }

    /// Drops the command handle (the driver then closes the session); events keep coming.
    pub(crate) fn drop_handle(self) -> Client {
        let (closed_tx, _) = mpsc::channel(1);
        Client {
            handle: TtsHandle::new(closed_tx),
            events: self.events,
            driver: self.driver,
        }
    }

    /// The next event.
    pub(crate) async fn next_event(&mut self) -> TtsEvent {
        self.events.recv().await.expect("event channel ended")
    }

    /// The next event, described on one line.
    pub(crate) async fn next(&mut self) -> String {
        let event = timeout(GUARD, self.events.recv())
            .await
            .expect("no event in time")
            .expect("event channel ended");
        describe(&event)
    }

    /// The next `n` events, one per line.
    pub(crate) async fn take(&mut self, n: usize) -> String {
        let mut res = String::new();
        for _ in 0..n {
            writeln!(res, "{}", self.next().await).unwrap();
        }
        res
    }

    /// Events up to and including `Closed`, then checks the driver ended and the channel closed.
    pub(crate) async fn until_closed(mut self) -> String {
        let mut res = String::new();
        loop {
            let line = self.next().await;
            writeln!(res, "{line}").unwrap();
            if line == "closed" {
                break;
            }
        }
        timeout(GUARD, self.driver)
            .await
            .expect("driver did not end")
            .unwrap();
        assert!(self.events.recv().await.is_none(), "events after closed");
        res
    }
}

pub(crate) fn describe(event: &TtsEvent) -> String {
    match event {
        TtsEvent::Audio { mulaw, .. } => format!("audio {:?}", String::from_utf8_lossy(mulaw)),
        TtsEvent::Flushed { .. } => "flushed".to_owned(),
        TtsEvent::Cleared { .. } => "cleared".to_owned(),
        TtsEvent::Reconnecting { reason, .. } => format!("reconnecting: {reason}"),
        TtsEvent::Error { error, .. } => format!("error: {error:?}"),
        TtsEvent::Closed { .. } => "closed".to_owned(),
    }
}
