//! Deepgram over WebSocket: live speech-to-text (`/v1/listen` with Nova models, or Flux on
//! `/v2/listen`, whose recogniser reports turns) as `providers::SpeechToText` and Aura streaming
//! text-to-speech (`/v1/speak`) as `providers::TextToSpeech`.
//!
//! Main types: [`DeepgramStt`] with [`DeepgramSttConfig`], [`DeepgramTts`] with
//! [`DeepgramTtsConfig`], both sharing [`ApiKey`] and [`ReconnectPolicy`]. Audio is 8 kHz mono μ-law
//! both ways, passed through untouched. Each session's `driver` future owns its socket, handles
//! keep-alives, half-dead detection, reconnects with replay, and the TTS flush rate limit; it
//! spawns nothing. Deepgram's wire format (docs/protocols.md sections 5 and 6) lives only here;
//! with the cargo feature `sim` (simulators and tests only), `sim` writes what Deepgram sends.
//!
//! TLS uses tokio-tungstenite's rustls, which takes the process-default crypto provider. Before the
//! first `wss://` connect this crate installs ring as that default unless one is already installed,
//! so a binary that ends up with both ring and aws-lc-rs compiled in does not panic
//! (docs/dependencies.md, section 3). A binary that wants another provider installs it at start-up, before any call.
//!
//! Must not depend on: `call-pipeline`, `conversation`, `twilio`, other vendor crates, `axum` (but in
//! the `sim` feature's servers).

mod config;
mod error;
mod flux;
#[cfg(feature = "sim")]
pub mod sim;
mod socket;
mod stt;
mod tts;
mod wire;

pub use config::{
    ApiKey, DEFAULT_FLUX_URL, DEFAULT_STT_URL, DEFAULT_TTS_URL, DeepgramSttConfig,
    DeepgramTtsConfig, ENV_FLUX_EAGER_EOT_THRESHOLD, ENV_FLUX_EOT_THRESHOLD,
    ENV_FLUX_EOT_TIMEOUT_MS, ENV_STT_LANGUAGE, ENV_STT_MODEL, ENV_STT_URL, ENV_TTS_MODEL,
    ENV_TTS_URL, FluxTurnSettings, ReconnectPolicy,
};
pub use error::Error;
pub use stt::DeepgramStt;
pub use tts::DeepgramTts;
