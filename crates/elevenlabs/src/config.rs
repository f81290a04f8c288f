//! Settings for the ElevenLabs client: endpoint, credentials, voice, buffering, timeouts.

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::error::Error;

/// The production endpoint (the `ELEVENLABS_BASE_URL` default).
pub const DEFAULT_BASE_URL: &str = "wss://api.elevenlabs.io";
/// The default model: the low-latency one.
pub const DEFAULT_MODEL_ID: &str = "eleven_flash_v2_5";
/// The voice used when none is configured: "Rachel", one of ElevenLabs' premade voices.
pub const DEFAULT_VOICE_ID: &str = "21m00Tcm4TlvDq8ikWAM";
/// Environment-style name of the voice setting (required).
pub const ENV_VOICE_ID: &str = "ELEVENLABS_VOICE_ID";
/// Environment-style name of the endpoint setting (default [`DEFAULT_BASE_URL`]).
pub const ENV_BASE_URL: &str = "ELEVENLABS_BASE_URL";
/// Environment-style name of the model setting (default [`DEFAULT_MODEL_ID`]).
pub const ENV_MODEL_ID: &str = "ELEVENLABS_MODEL_ID";
/// The server's cap on simultaneous contexts per socket (docs/protocols.md 7.4).
pub const MAX_CONTEXTS_PER_SOCKET: usize = 5;

/// Everything the client needs. Build it with [`ElevenLabsConfig::new`] or
/// [`ElevenLabsConfig::from_lookup`], then adjust the tunables.
#[derive(Debug, Clone)]
pub struct ElevenLabsConfig {
    /// `ws://` or `wss://` origin (and optional path prefix) of the API; `ELEVENLABS_BASE_URL`.
    pub base_url: Url,
    /// Sent as the `xi-api-key` handshake header (docs/protocols.md 7.1), never in the URL or a message.
    pub api_key: ApiKey,
    /// The voice, unless a session's `TtsOptions::voice` overrides it; `ELEVENLABS_VOICE_ID`.
    pub voice_id: String,
    /// `model_id` query parameter; `ELEVENLABS_MODEL_ID`, default `eleven_flash_v2_5`.
    pub model_id: String,
    /// Sent in each context's init message.
    pub voice_settings: VoiceSettings,
    /// How the server buffers text before generating. Default: `Auto` (the pipeline sends whole
    /// sentences and clauses, which is what `auto_mode` is for).
    pub buffering: TextBuffering,
    /// `inactivity_timeout` query parameter: the server closes a context (and the socket) after
    /// this long without input. Whole seconds, 1..=180; default 60 s.
    pub inactivity_timeout: Duration,
    /// Send a keep-alive when nothing was sent for this long. Must be below
    /// `inactivity_timeout`; default 15 s.
    pub keepalive_interval: Duration,
    /// `sync_alignment` query parameter: timing data with every audio chunk. Default on: after a
    /// dropped socket the driver uses it to resume an utterance where the caller stopped hearing it.
    pub sync_alignment: bool,
    /// `language_code` query parameter (ISO 639-1), for models that accept it.
    pub language_code: Option<String>,
    /// While a flushed reply waits for its audio, this long without any frame from the server
    /// means a dead socket: reconnect and resend what was not heard. Default 5 s.
    pub response_timeout: Duration,
    /// Limit on one WebSocket handshake (TCP, TLS and HTTP upgrade). Default 5 s.
    pub connect_timeout: Duration,
    /// After `Close`, how long to wait for the remaining audio and the server's close. Default 5 s.
    pub close_timeout: Duration,
    /// What to do when the socket drops.
    pub reconnect: ReconnectPolicy,
    /// Contexts open at once on our side (the current one plus flushed ones still producing audio),
    /// 1..=5. Text sent while at the cap waits until an earlier reply finishes. Default 5.
    pub max_contexts: usize,
    /// Events buffered towards the caller: about one per audio chunk (ElevenLabs sends a few
    /// chunks per second of speech). Default 256.
    pub event_queue_len: usize,
    /// Commands buffered from the caller (text pieces and controls). Default 64.
    pub command_queue_len: usize,
}

/// The API key. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

/// `voice_settings` of the init message (docs/protocols.md 7.2). `None` fields are left out, so the
/// voice's own defaults apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoiceSettings {
    /// 0.0-1.0; default 0.5.
    pub stability: f32,
    /// 0.0-1.0; default 0.75.
    pub similarity_boost: f32,
    /// 0.0-1.0; the server's default is 0.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<f32>,
    /// The server's default is `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_speaker_boost: Option<bool>,
    /// 0.7-1.2; default 1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f32>,
}

/// How the server decides when to generate audio from buffered text.
#[derive(Debug, Clone, PartialEq)]
pub enum TextBuffering {
    /// `auto_mode=true`: no chunk schedule, generation starts per sentence or phrase. Lowest
    /// latency when the text arrives as whole clauses.
    Auto,
    /// A `chunk_length_schedule` in the init message.
    Schedule {
        /// Characters buffered before the 1st, 2nd, 3rd, 4th-and-later generations; each 50..=500.
        chunk_length_schedule: Vec<u16>,
        /// Add `try_trigger_generation: true` to every text chunk.
        try_trigger_generation: bool,
    },
}

/// Reconnect attempts after the socket drops: the first right away, then with doubling backoff.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// Attempts per drop before giving up (0: never reconnect). Default 4.
    pub max_attempts: u32,
    /// Wait before the second attempt. Default 200 ms.
    pub initial_backoff: Duration,
    /// Cap on the wait between attempts. Default 2 s.
    pub max_backoff: Duration,
}

impl ElevenLabsConfig {
    /// A config with the given credentials and voice and defaults for everything else.
    pub fn new(api_key: ApiKey, voice_id: impl Into<String>) -> Self {
        Self {
            // A constant that parses.
            base_url: Url::parse(DEFAULT_BASE_URL).expect("default base url parses"),
            api_key,
            voice_id: voice_id.into(),
            model_id: DEFAULT_MODEL_ID.to_owned(),
            voice_settings: VoiceSettings::default(),
            buffering: TextBuffering::Auto,
            inactivity_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(15),
            sync_alignment: true,
            language_code: None,
            response_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(5),
            reconnect: ReconnectPolicy::default(),
            max_contexts: MAX_CONTEXTS_PER_SOCKET,
            event_queue_len: 256,
            command_queue_len: 64,
        }
    }

    /// With `api_key` (the caller keeps its secrets), reads `ELEVENLABS_VOICE_ID` (default
    /// `DEFAULT_VOICE_ID`), `ELEVENLABS_BASE_URL` and `ELEVENLABS_MODEL_ID` through `lookup`. The
    /// gateway's configuration is read through this, so the defaults live here only.
    pub fn from_lookup(
        api_key: ApiKey,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let voice_id = get(ENV_VOICE_ID).unwrap_or_else(|| DEFAULT_VOICE_ID.to_owned());
        let mut res = Self::new(api_key, voice_id);
        if let Some(base_url) = get(ENV_BASE_URL) {
            res.base_url = Url::parse(base_url.trim()).map_err(|e| Error::InvalidSetting {
                name: ENV_BASE_URL,
                reason: e.to_string(),
            })?;
        }
        if let Some(model_id) = get(ENV_MODEL_ID) {
            res.model_id = model_id;
        }
        res.validate()?;
        Ok(res)
    }

    /// Checks the values against the protocol's limits (docs/protocols.md 7.1, 7.2, 7.4).
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |name, reason: &str| {
            Err(Error::InvalidSetting {
                name,
                reason: reason.to_owned(),
            })
        };
        if !matches!(self.base_url.scheme(), "ws" | "wss") {
            return invalid("base_url", "scheme must be ws or wss");
        }
        if self.base_url.cannot_be_a_base() || self.base_url.host().is_none() {
            return invalid("base_url", "must be an absolute URL with a host");
        }
        if self.api_key.0.is_empty() {
            return invalid("api_key", "is empty");
        }
        if self.voice_id.is_empty() || self.model_id.is_empty() {
            return invalid("voice_id/model_id", "is empty");
        }
        let timeout_s = self.inactivity_timeout_secs();
        if !(1..=180).contains(&timeout_s) {
            return invalid("inactivity_timeout", "must be 1..=180 s");
        }
        if self.keepalive_interval.is_zero() || self.keepalive_interval >= self.inactivity_timeout {
            return invalid(
                "keepalive_interval",
                "must be above zero and below inactivity_timeout",
            );
        }
        if let TextBuffering::Schedule {
            chunk_length_schedule,
            ..
        } = &self.buffering
            && (chunk_length_schedule.is_empty()
                || chunk_length_schedule
                    .iter()
                    .any(|n| !(50..=500).contains(n)))
        {
            return invalid(
                "chunk_length_schedule",
                "needs at least one value, each 50..=500",
            );
        }
        if let Some(speed) = self.voice_settings.speed
            && !(0.7..=1.2).contains(&speed)
        {
            return invalid("voice_settings.speed", "must be 0.7..=1.2");
        }
        if !(1..=MAX_CONTEXTS_PER_SOCKET).contains(&self.max_contexts) {
            return invalid("max_contexts", "must be 1..=5");
        }
        if self.response_timeout.is_zero() || self.connect_timeout.is_zero() {
            return invalid("response_timeout/connect_timeout", "must be above zero");
        }
        if self.event_queue_len == 0 || self.command_queue_len == 0 {
            return invalid("event_queue_len/command_queue_len", "must be above zero");
        }
        Ok(())
    }

    /// The `multi-stream-input` URL for `voice_id`. It holds no secret, so it may be logged.
    pub fn stream_url(&self, voice_id: &str) -> Url {
        let mut res = self.base_url.clone();
        if let Ok(mut segments) = res.path_segments_mut() {
            segments.pop_if_empty().extend([
                "v1",
                "text-to-speech",
                voice_id,
                "multi-stream-input",
            ]);
        }
        {
            let mut query = res.query_pairs_mut();
            query
                .append_pair("model_id", &self.model_id)
                .append_pair("output_format", "ulaw_8000")
                .append_pair(
                    "inactivity_timeout",
                    &self.inactivity_timeout_secs().to_string(),
                )
                .append_pair("sync_alignment", bool_str(self.sync_alignment));
            if self.buffering == TextBuffering::Auto {
                query.append_pair("auto_mode", "true");
            }
            if let Some(language_code) = &self.language_code {
                query.append_pair("language_code", language_code);
            }
        }
        res
    }

    /// Whole seconds, rounded up so the server never times out before we expect it to.
    fn inactivity_timeout_secs(&self) -> u64 {
        self.inactivity_timeout.as_millis().div_ceil(1000) as u64
    }
}

impl ApiKey {
    /// Wraps the key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the handshake header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Default for VoiceSettings {
    fn default() -> Self {
        Self {
            stability: 0.5,
            similarity_boost: 0.75,
            style: None,
            use_speaker_boost: None,
            speed: Some(1.0),
        }
    }
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl ReconnectPolicy {
    /// The wait before attempt `attempt_idx` (0-based): none before the first.
    pub(crate) fn backoff(&self, attempt_idx: u32) -> Duration {
        if attempt_idx == 0 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(attempt_idx - 1);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

fn bool_str(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}
