//! Streaming text-to-speech: trait, commands, events.

use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{Driver, ProviderError};

/// Per-call options for a text-to-speech session.
#[derive(Debug, Clone, Default)]
pub struct TtsOptions {
    /// The call's id, for logs only.
    pub call_id: String,
    /// Voice or model override; the vendor's configured default when `None`.
    pub voice: Option<String>,
}

/// Opens per-call streaming synthesis sessions that produce 8 kHz mono μ-law audio.
#[async_trait]
pub trait TextToSpeech: Send + Sync + 'static {
    /// Opens a session now. The returned `driver` must be spawned by the caller; it ends after
    /// `close`, or when the handle is dropped.
    async fn connect(&self, options: TtsOptions) -> Result<TtsSession, ProviderError>;

    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;
}

/// An open text-to-speech session.
pub struct TtsSession {
    /// Sends text and control commands.
    pub handle: TtsHandle,
    /// Audio and control events, in order.
    pub events: mpsc::Receiver<TtsEvent>,
    /// Owns the connection; spawn it on the call's task tracker.
    pub driver: Driver,
}

/// What the caller sends into a session.
#[derive(Debug, Clone, PartialEq)]
pub enum TtsCommand {
    /// Text to speak (a sentence or clause; the vendor may buffer until `Flush`).
    Text(String),
    /// Speak everything sent so far now; answered by one `TtsEvent::Flushed`.
    Flush,
    /// Drop everything not yet delivered (barge-in); answered by `TtsEvent::Cleared`. After a
    /// clear, the session delivers no audio for text sent before it.
    Clear,
    /// End the session; the driver ends after `Closed`.
    Close,
}

/// The sending side of a session.
#[derive(Debug, Clone)]
pub struct TtsHandle {
    commands_tx: mpsc::Sender<TtsCommand>,
}

impl TtsHandle {
    /// Wraps the command channel a vendor driver reads from.
    pub fn new(commands_tx: mpsc::Sender<TtsCommand>) -> Self {
        Self { commands_tx }
    }

    /// Queues text to speak.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), ProviderError> {
        self.send(TtsCommand::Text(text.into())).await
    }

    /// Asks for everything sent so far to be spoken now.
    pub async fn flush(&self) -> Result<(), ProviderError> {
        self.send(TtsCommand::Flush).await
    }

    /// Drops everything not yet delivered (barge-in).
    pub async fn clear(&self) -> Result<(), ProviderError> {
        self.send(TtsCommand::Clear).await
    }

    /// Ends the session.
    pub async fn close(&self) -> Result<(), ProviderError> {
        self.send(TtsCommand::Close).await
    }

    async fn send(&self, command: TtsCommand) -> Result<(), ProviderError> {
        self.commands_tx
            .send(command)
            .await
            .map_err(|_| ProviderError::Closed)
    }
}

/// What a text-to-speech session reports.
#[derive(Debug, Clone, PartialEq)]
pub enum TtsEvent {
    /// Synthesised audio: raw μ-law bytes, 8 kHz mono, any length.
    Audio {
        /// The audio.
        mulaw: Bytes,
        /// When it arrived.
        at: Instant,
    },
    /// All audio for the text before one `Flush` has been delivered.
    Flushed {
        /// When it arrived.
        at: Instant,
    },
    /// A `Clear` took effect; audio after this is for text sent after the clear.
    Cleared {
        /// When it arrived.
        at: Instant,
    },
    /// The connection dropped and the driver is reconnecting.
    Reconnecting {
        /// Why.
        reason: ProviderError,
        /// When.
        at: Instant,
    },
    /// A non-fatal problem (vendor warning) or a fatal one just before `Closed`.
    Error {
        /// What went wrong.
        error: ProviderError,
        /// When.
        at: Instant,
    },
    /// The session ended; nothing follows.
    Closed {
        /// When.
        at: Instant,
    },
}
