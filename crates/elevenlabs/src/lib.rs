//! `providers::TextToSpeech` over ElevenLabs' streaming WebSocket, producing 8 kHz μ-law for Twilio.
//!
//! `ElevenLabsTts` (built from an `ElevenLabsConfig`) opens one `multi-stream-input` socket per
//! call with `output_format=ulaw_8000` and the key in the `xi-api-key` header (docs/protocols.md 7).
//! Each reply is one ElevenLabs context: `Flush` closes it and `TtsEvent::Flushed` follows its
//! `isFinal`; `Clear` (barge-in) closes the current context and drops every late frame naming a
//! forgotten context, so no stale audio follows `TtsEvent::Cleared`. We use the multi-context
//! endpoint rather than `stream-input` because on the single-context socket neither the end of a
//! flush nor stale audio after a barge-in can be told apart (only EOS yields `isFinal`, and audio
//! carries no context id), while a new socket per reply would pay a handshake per turn.
//! The driver also sends keep-alives before `inactivity_timeout`, reconnects on a dropped socket
//! (resuming unheard text), and accepts both spellings of the fields the docs and SDKs disagree on.
//!
//! TLS uses tokio-tungstenite's rustls, which takes the process-default crypto provider; before the
//! first `wss://` connect this crate installs ring as that default unless one is already installed.
//!
//! Cargo feature `sim` adds `sim`: ElevenLabs' messages as it writes them and a `multi-stream-input`
//! server for the bench and tests (the crate's own client is tested against it).
//!
//! Must not depend on: `call-pipeline`, `conversation`, `twilio`, other vendor crates, or the
//! process environment (configuration comes in through `ElevenLabsConfig::from_lookup`).

mod config;
mod error;
mod session;
#[cfg(feature = "sim")]
pub mod sim;
mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt as _;
use providers::{ProviderError, TextToSpeech, TtsHandle, TtsOptions, TtsSession};
use tokio::sync::mpsc;
use tracing::Instrument as _;

pub use config::{
    ApiKey, DEFAULT_BASE_URL, DEFAULT_MODEL_ID, DEFAULT_VOICE_ID, ENV_BASE_URL, ENV_MODEL_ID,
    ENV_VOICE_ID, ElevenLabsConfig, MAX_CONTEXTS_PER_SOCKET, ReconnectPolicy, TextBuffering,
    VoiceSettings,
};
pub use error::Error;

use crate::session::Session;

/// The ElevenLabs text-to-speech provider. Cheap to clone; one per process.
#[derive(Debug, Clone)]
pub struct ElevenLabsTts {
    config: Arc<ElevenLabsConfig>,
}

impl ElevenLabsTts {
    /// Checks the config and builds the provider. Opens no connection.
    pub fn new(config: ElevenLabsConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// The config in use.
    pub fn config(&self) -> &ElevenLabsConfig {
        &self.config
    }
}

#[async_trait]
impl TextToSpeech for ElevenLabsTts {
    /// Opens the socket now (so a bad key or an unreachable endpoint fails at call start) and
    /// returns the session; the first context is initialized once the driver runs.
    async fn connect(&self, options: TtsOptions) -> Result<TtsSession, ProviderError> {
        let voice_id = options.voice.as_deref().unwrap_or(&self.config.voice_id);
        let url = self.config.stream_url(voice_id);
        let span = tracing::info_span!("elevenlabs_tts", call_id = %options.call_id, voice_id);
        let ws = session::open_socket(&url, &self.config.api_key, self.config.connect_timeout)
            .instrument(span.clone())
            .await?;
        span.in_scope(|| tracing::debug!(%url, "tts socket open"));
        let (commands_tx, commands_rx) = mpsc::channel(self.config.command_queue_len);
        let (events_tx, events_rx) = mpsc::channel(self.config.event_queue_len);
        let session = Session::new(Arc::clone(&self.config), url, ws, commands_rx, events_tx);
        Ok(TtsSession {
            handle: TtsHandle::new(commands_tx),
            events: events_rx,
            driver: session.run().instrument(span).boxed(),
        })
    }

    fn name(&self) -> &'static str {
        "elevenlabs"
    }
}
