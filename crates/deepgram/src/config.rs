//! Typed configuration for the live STT and Aura TTS clients, with documented defaults.
//!
//! The gateway builds these with `from_lookup` (a thin shell over its environment) or fills the
//! fields itself; this crate never reads the environment.

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::Error;

/// Environment variable overriding the live STT endpoint.
pub const ENV_STT_URL: &str = "DEEPGRAM_STT_URL";
/// Environment variable overriding the STT model.
pub const ENV_STT_MODEL: &str = "DEEPGRAM_STT_MODEL";
/// Environment variable overriding the STT language (BCP-47).
pub const ENV_STT_LANGUAGE: &str = "DEEPGRAM_STT_LANGUAGE";
/// Environment variable overriding the Aura TTS endpoint.
pub const ENV_TTS_URL: &str = "DEEPGRAM_TTS_URL";
/// Environment variable overriding the Aura voice (model).
pub const ENV_TTS_MODEL: &str = "DEEPGRAM_TTS_MODEL";

/// Default live STT endpoint (docs/protocols.md 5.1).
pub const DEFAULT_STT_URL: &str = "wss://api.deepgram.com/v1/listen";
/// Default endpoint of Deepgram Flux, the turn-taking recogniser (`/v1/listen` does not run it;
/// docs/protocols.md, "Deepgram Flux").
pub const DEFAULT_FLUX_URL: &str = "wss://api.deepgram.com/v2/listen";
/// Environment variable: Flux's end-of-turn confidence threshold (0.5 to 0.9).
pub const ENV_FLUX_EOT_THRESHOLD: &str = "DEEPGRAM_FLUX_EOT_THRESHOLD";
/// Environment variable: Flux's eager end-of-turn threshold (0.3 to 0.9, at most the end-of-turn
/// threshold); `off` turns eager replies off.
pub const ENV_FLUX_EAGER_EOT_THRESHOLD: &str = "DEEPGRAM_FLUX_EAGER_EOT_THRESHOLD";
/// Environment variable: Flux ends a turn after this much silence whatever its confidence
/// (500 to 10000 ms).
pub const ENV_FLUX_EOT_TIMEOUT_MS: &str = "DEEPGRAM_FLUX_EOT_TIMEOUT_MS";
/// Default Aura TTS endpoint (docs/protocols.md 6.1).
pub const DEFAULT_TTS_URL: &str = "wss://api.deepgram.com/v1/speak";

/// A Deepgram API key. `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The `Authorization` header value: `Token <key>` (not `Bearer`, which is for temporary tokens).
    pub(crate) fn authorization(&self) -> String {
        format!("Token {}", self.0)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// How a dropped socket is reopened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// Wait before the first reconnect attempt; doubles per failed attempt. Default 100 ms.
    pub initial_backoff: Duration,
    /// Upper bound on the wait between attempts. Default 2 s.
    pub max_backoff: Duration,
    /// Consecutive failed attempts before the session gives up. Default 5. The count restarts when
    /// the server sends data, or when a socket stayed up for `stable_after`, so a server that
    /// accepts and then drops every socket cannot keep a session reconnecting forever.
    /// Non-retryable failures (401/403, other 4xx) stop at once.
    pub max_attempts: u32,
    /// A socket that lived this long counts as healthy, even if it carried no data. Default 10 s.
    pub stable_after: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_attempts: 5,
            stable_after: Duration::from_secs(10),
        }
    }
}

impl ReconnectPolicy {
    /// The wait before attempt `attempt` (1-based): `initial * 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Flux's end-of-turn settings (sent as query parameters of `/v2/listen`).
#[derive(Debug, Clone, PartialEq)]
pub struct FluxTurnSettings {
    /// Confidence Flux needs to end a turn (`eot_threshold`, 0.5 to 0.9). Default 0.7 (Flux's).
    pub eot_threshold: f32,
    /// Confidence at which Flux reports that the turn has probably ended (`EagerEndOfTurn`), so a
    /// reply can be prepared before it is sure (`eager_eot_threshold`, 0.3 to 0.9, at most
    /// `eot_threshold`); `None` turns eager events off. Each eager event that the caller then
    /// continues past costs an LLM request that is thrown away. Default 0.5.
    pub eager_eot_threshold: Option<f32>,
    /// Silence after which Flux ends the turn whatever its confidence (`eot_timeout_ms`, 500 to
    /// 10000 ms). Default 5000 ms (Flux's).
    pub eot_timeout: Duration,
}

impl Default for FluxTurnSettings {
    fn default() -> Self {
        Self {
            eot_threshold: 0.7,
            eager_eot_threshold: Some(0.5),
            eot_timeout: Duration::from_millis(5000),
        }
    }
}

/// Settings for `DeepgramStt`: live `/v1/listen` (Nova models), or Flux on `/v2/listen` when the
/// model's name starts with `flux` (see `is_flux`).
///
/// `encoding=mulaw`, `sample_rate=8000`, `channels=1`, `interim_results=true` and
/// `vad_events=true` are fixed: the gateway forwards Twilio's μ-law untouched, and interim results
/// and VAD events are what barge-in and the utterance backstop need (docs/protocols.md 5.2).
#[derive(Debug, Clone)]
pub struct DeepgramSttConfig {
    /// Endpoint; query parameters already in it are kept (a place for `keyterm=`). Default
    /// `wss://api.deepgram.com/v1/listen`.
    pub url: Url,
    /// The API key.
    pub api_key: ApiKey,
    /// Model. Default `nova-3` (`nova-2-phonecall` is the Nova-2 option for phone audio);
    /// `flux-general-en` selects Flux.
    pub model: String,
    /// Flux's end-of-turn settings; unused by Nova models.
    pub flux: FluxTurnSettings,
    /// BCP-47 language. Default `en-US`.
    pub language: String,
    /// Pause that ends an utterance (`endpointing`); `None` sends `endpointing=false`. Default 300 ms.
    pub endpointing: Option<Duration>,
    /// Gap after the last word that produces `UtteranceEnd`; `None` leaves it off. Values under
    /// 1000 ms bring no benefit (Deepgram). Default 1000 ms.
    pub utterance_end: Option<Duration>,
    /// `smart_format`: nicer numbers, but may delay finals. Default true.
    pub smart_format: bool,
    /// `punctuate`. Default true.
    pub punctuate: bool,
    /// Send `KeepAlive` after this long without audio (Deepgram closes after 10 s). Default 4 s.
    pub keepalive_interval: Duration,
    /// A socket that returns nothing for this long while audio flows is treated as dropped.
    /// Deepgram answers streamed audio (even silence) with results within about a second or two.
    /// Default 6 s.
    pub half_dead_timeout: Duration,
    /// Bound on the TCP + TLS + WebSocket handshake. Default 5 s.
    pub connect_timeout: Duration,
    /// How long to wait after `CloseStream` for the last results and the server's close. Default 3 s.
    pub close_timeout: Duration,
    /// How dropped sockets are reopened.
    pub reconnect: ReconnectPolicy,
    /// Audio kept for replay after a drop: everything sent but not yet covered by a final result,
    /// plus audio received while reconnecting. Oldest audio is dropped beyond this. Default 15 s
    /// (120 000 bytes of 8 kHz μ-law).
    pub replay_buffer: Duration,
    /// Commands queued from the handle: 50 = 1 s of 20 ms frames. Default 100.
    pub command_queue_len: usize,
    /// Events queued for the pipeline. Default 64.
    pub event_queue_len: usize,
}

impl DeepgramSttConfig {
    /// Defaults for everything but the key.
    pub fn new(api_key: ApiKey) -> Self {
        Self {
            url: Url::parse(DEFAULT_STT_URL).expect("the default URL is valid"),
            api_key,
            model: "nova-3".to_owned(),
            flux: FluxTurnSettings::default(),
            language: "en-US".to_owned(),
            endpointing: Some(Duration::from_millis(300)),
            utterance_end: Some(Duration::from_millis(1000)),
            smart_format: true,
            punctuate: true,
            keepalive_interval: Duration::from_secs(4),
            half_dead_timeout: Duration::from_secs(6),
            connect_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(3),
            reconnect: ReconnectPolicy::default(),
            replay_buffer: Duration::from_secs(15),
            command_queue_len: 100,
            event_queue_len: 64,
        }
    }

    /// Flux defaults: model `flux-general-en` on `wss://api.deepgram.com/v2/listen`.
    pub fn flux(api_key: ApiKey) -> Self {
        Self {
            url: Url::parse(DEFAULT_FLUX_URL).expect("the default URL is valid"),
            model: "flux-general-en".to_owned(),
            ..Self::new(api_key)
        }
    }

    /// Whether this configuration runs Flux (`/v2/listen`, turn events) rather than a Nova model.
    pub fn is_flux(&self) -> bool {
        self.model.starts_with("flux")
    }

    /// With `api_key` (the caller keeps its secrets), reads `DEEPGRAM_STT_URL`,
    /// `DEEPGRAM_STT_MODEL`, `DEEPGRAM_STT_LANGUAGE` and, for a Flux model, the `DEEPGRAM_FLUX_*`
    /// thresholds through `lookup`; everything else keeps its default. A Flux model without
    /// `DEEPGRAM_STT_URL` connects to `wss://api.deepgram.com/v2/listen`. The gateway's
    /// configuration is read through this, so the defaults live here only.
    pub fn from_lookup(
        api_key: ApiKey,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let mut res = Self::new(api_key);
        if let Some(model) = lookup(ENV_STT_MODEL).filter(|m| !m.trim().is_empty()) {
            res.model = model.trim().to_owned();
        }
        if res.is_flux() {
            res.url = Url::parse(DEFAULT_FLUX_URL).expect("the default URL is valid");
            res.flux = FluxTurnSettings::from_lookup(&lookup)?;
        }
        if let Some(url) = lookup(ENV_STT_URL) {
            res.url = parse_ws_url(ENV_STT_URL, &url)?;
        }
        if let Some(language) = lookup(ENV_STT_LANGUAGE).filter(|l| !l.trim().is_empty()) {
            res.language = language;
        }
        Ok(res)
    }
}

/// Settings for `DeepgramTts` (Aura `/v1/speak`). `encoding=mulaw` and `sample_rate=8000` are
/// fixed: the audio goes to Twilio untouched.
#[derive(Debug, Clone)]
pub struct DeepgramTtsConfig {
    /// Endpoint. Default `wss://api.deepgram.com/v1/speak`.
    pub url: Url,
    /// The API key.
    pub api_key: ApiKey,
    /// Voice (model); `TtsOptions::voice` overrides it per call. Default `aura-2-thalia-en`.
    pub model: String,
    /// Bound on the handshake. Default 5 s.
    pub connect_timeout: Duration,
    /// How long to wait after `Close` for the remaining audio and the server's close. Default 5 s.
    pub close_timeout: Duration,
    /// How dropped sockets are reopened.
    pub reconnect: ReconnectPolicy,
    /// Most `Flush` messages per `flush_window` (Deepgram: 20 per 60 s; more are ignored).
    pub flush_limit: usize,
    /// The window for `flush_limit`. Default 60 s.
    pub flush_window: Duration,
    /// How long audio is held back waiting for `Cleared` after a `Clear`; past it the clear is
    /// taken as done, so a lost `Cleared` cannot mute the rest of the call. Default 2 s.
    pub clear_timeout: Duration,
    /// Longest `Speak` text; longer text is cut at whitespace into several messages. Deepgram
    /// documents no limit; third parties cap at 2000 characters. Default 2000.
    pub max_speak_chars: usize,
    /// Commands queued from the handle. Default 64.
    pub command_queue_len: usize,
    /// Events queued for the pipeline: 256 chunks is several seconds of audio. Default 256.
    pub event_queue_len: usize,
}

impl DeepgramTtsConfig {
    /// Defaults for everything but the key.
    pub fn new(api_key: ApiKey) -> Self {
        Self {
            url: Url::parse(DEFAULT_TTS_URL).expect("the default URL is valid"),
            api_key,
            model: "aura-2-thalia-en".to_owned(),
            connect_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(5),
            reconnect: ReconnectPolicy::default(),
            flush_limit: 20,
            flush_window: Duration::from_secs(60),
            clear_timeout: Duration::from_secs(2),
            max_speak_chars: 2000,
            command_queue_len: 64,
            event_queue_len: 256,
        }
    }

    /// With `api_key`, reads `DEEPGRAM_TTS_URL` and `DEEPGRAM_TTS_MODEL` through `lookup`;
    /// everything else keeps its default.
    pub fn from_lookup(
        api_key: ApiKey,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let mut res = Self::new(api_key);
        if let Some(url) = lookup(ENV_TTS_URL) {
            res.url = parse_ws_url(ENV_TTS_URL, &url)?;
        }
        if let Some(model) = lookup(ENV_TTS_MODEL).filter(|m| !m.trim().is_empty()) {
            res.model = model;
        }
        Ok(res)
    }
}

impl FluxTurnSettings {
    /// Reads `DEEPGRAM_FLUX_EOT_THRESHOLD`, `DEEPGRAM_FLUX_EAGER_EOT_THRESHOLD` (a number or `off`)
    /// and `DEEPGRAM_FLUX_EOT_TIMEOUT_MS` through `lookup`, within Flux's documented ranges.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        flux_settings(&lookup)
    }
}

fn flux_settings(lookup: &impl Fn(&str) -> Option<String>) -> Result<FluxTurnSettings, Error> {
    let mut res = FluxTurnSettings::default();
    let number = |name: &'static str, raw: &str, low: f64, high: f64| {
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|value| (low..=high).contains(value))
            .ok_or_else(|| Error::InvalidSetting {
                name,
                reason: format!("expected a number from {low} to {high}"),
            })
    };
    if let Some(raw) = lookup(ENV_FLUX_EOT_THRESHOLD) {
        res.eot_threshold = number(ENV_FLUX_EOT_THRESHOLD, &raw, 0.5, 0.9)? as f32;
    }
    if let Some(raw) = lookup(ENV_FLUX_EAGER_EOT_THRESHOLD) {
        res.eager_eot_threshold = if raw.trim().eq_ignore_ascii_case("off") {
            None
        } else {
            Some(number(ENV_FLUX_EAGER_EOT_THRESHOLD, &raw, 0.3, 0.9)? as f32)
        };
    }
    if let Some(raw) = lookup(ENV_FLUX_EOT_TIMEOUT_MS) {
        let ms = number(ENV_FLUX_EOT_TIMEOUT_MS, &raw, 500.0, 10_000.0)?;
        res.eot_timeout = Duration::from_millis(ms as u64);
    }
    if res
        .eager_eot_threshold
        .is_some_and(|eager| eager > res.eot_threshold)
    {
        return Err(Error::InvalidSetting {
            name: ENV_FLUX_EAGER_EOT_THRESHOLD,
            reason: "must not be above the end-of-turn threshold".to_owned(),
        });
    }
    Ok(res)
}

fn parse_ws_url(name: &'static str, raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw.trim()).map_err(|err| Error::InvalidSetting {
        name,
        reason: err.to_string(),
    })?;
    match url.scheme() {
        "ws" | "wss" => Ok(url),
        other => Err(Error::InvalidSetting {
            name,
            reason: format!("scheme must be ws or wss, not {other}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn stt_from_lookup_reads_overrides_and_keeps_defaults() {
        let config = DeepgramSttConfig::from_lookup(
            ApiKey::new("k"),
            lookup(&[
                ("DEEPGRAM_STT_URL", "ws://127.0.0.1:9/v1/listen"),
                ("DEEPGRAM_STT_MODEL", "nova-2-phonecall"),
            ]),
        )
        .unwrap();
        assert_eq!(config.url.as_str(), "ws://127.0.0.1:9/v1/listen");
        assert_eq!(config.model, "nova-2-phonecall");
        assert_eq!(config.language, "en-US");
        assert_eq!(format!("{:?}", config.api_key), "ApiKey(<redacted>)");
    }

    #[test]
    fn a_flux_model_selects_flux_its_endpoint_and_thresholds() {
        let config = DeepgramSttConfig::from_lookup(
            ApiKey::new("k"),
            lookup(&[("DEEPGRAM_STT_MODEL", "flux-general-en")]),
        )
        .unwrap();
        assert!(config.is_flux());
        assert_eq!(config.url.as_str(), DEFAULT_FLUX_URL);
        assert_eq!(config.flux, FluxTurnSettings::default());
        let config = DeepgramSttConfig::from_lookup(
            ApiKey::new("k"),
            lookup(&[
                ("DEEPGRAM_STT_MODEL", "flux-general-en"),
                ("DEEPGRAM_STT_URL", "ws://127.0.0.1:9/v2/listen"),
                ("DEEPGRAM_FLUX_EOT_THRESHOLD", "0.8"),
                ("DEEPGRAM_FLUX_EAGER_EOT_THRESHOLD", "off"),
                ("DEEPGRAM_FLUX_EOT_TIMEOUT_MS", "3000"),
            ]),
        )
        .unwrap();
        assert_eq!(config.url.as_str(), "ws://127.0.0.1:9/v2/listen");
        assert_eq!(
            config.flux,
            FluxTurnSettings {
                eot_threshold: 0.8,
                eager_eot_threshold: None,
                eot_timeout: Duration::from_secs(3),
            }
        );
        for (name, value) in [
            ("DEEPGRAM_FLUX_EOT_THRESHOLD", "0.95"),
            ("DEEPGRAM_FLUX_EAGER_EOT_THRESHOLD", "high"),
            // Above the default end-of-turn threshold of 0.7.
            ("DEEPGRAM_FLUX_EAGER_EOT_THRESHOLD", "0.8"),
            ("DEEPGRAM_FLUX_EOT_TIMEOUT_MS", "100"),
        ] {
            let err = DeepgramSttConfig::from_lookup(
                ApiKey::new("k"),
                lookup(&[("DEEPGRAM_STT_MODEL", "flux-general-en"), (name, value)]),
            )
            .unwrap_err();
            assert!(
                matches!(&err, Error::InvalidSetting { name: n, .. } if *n == name),
                "{name}={value}: {err:?}"
            );
        }
        // Nova ignores the Flux settings.
        let nova = DeepgramSttConfig::from_lookup(
            ApiKey::new("k"),
            lookup(&[("DEEPGRAM_FLUX_EOT_THRESHOLD", "0.95")]),
        )
        .unwrap();
        assert!(!nova.is_flux());
        assert_eq!(nova.url.as_str(), DEFAULT_STT_URL);
    }

    #[test]
    fn a_bad_url_is_reported() {
        let err = DeepgramTtsConfig::from_lookup(
            ApiKey::new("k"),
            lookup(&[("DEEPGRAM_TTS_URL", "https://api.deepgram.com/v1/speak")]),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidSetting {
                    name: "DEEPGRAM_TTS_URL",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = ReconnectPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            max_attempts: 9,
            stable_after: Duration::from_secs(10),
        };
        let waits: Vec<u128> = (1..=4).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }
}
