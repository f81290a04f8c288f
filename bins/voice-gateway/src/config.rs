//! The gateway's one typed configuration, loaded once at startup from the environment.
//!
//! `Config::from_env` is a thin shell around `Config::from_lookup`, which tests call with a map so they
//! never touch the process environment. Raw strings come in; typed values come out. Every problem is
//! collected and reported together in one error. Secrets are wrapped in `Secret`, whose `Debug` and
//! `Display` never show the value.

use std::{fmt, net::SocketAddr, num::NonZeroUsize, path::PathBuf, time::Duration};

use url::Url;

/// The default SQLite database used when `DATABASE_URL` is unset (created on start).
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://data/voice-gateway.db?mode=rwc";

/// A secret string (API key, auth token) that never prints.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it to its vendor.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// Human-readable lines (the default).
    Human,
    /// One JSON object per line (`LOG_FORMAT=json`), for log shippers.
    Json,
}

/// Which text-to-speech vendor speaks to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TtsProvider {
    /// Deepgram Aura over WebSocket (the default).
    Deepgram,
    /// ElevenLabs stream-input WebSocket.
    ElevenLabs,
}

/// Everything the gateway reads from the environment. See the README's configuration table.
#[derive(Debug, Clone)]
pub struct Config {
    /// `BIND_ADDR`: where the HTTP/WebSocket server listens.
    pub(crate) bind_addr: SocketAddr,
    /// `PUBLIC_URL`: the public https origin Twilio reaches us at (TwiML stream URL, signatures).
    pub(crate) public_url: Option<Url>,
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…`; default a SQLite file under `./data/`.
    pub(crate) database_url: Secret,
    /// `REDIS_URL`: sessions in Redis; unset means in-memory sessions.
    pub(crate) redis_url: Option<Secret>,
    /// `TWILIO_ACCOUNT_SID`.
    pub(crate) twilio_account_sid: Option<String>,
    /// `TWILIO_AUTH_TOKEN`: validates webhook signatures and authenticates REST calls.
    pub(crate) twilio_auth_token: Option<Secret>,
    /// `TWILIO_API_BASE_URL`: the Calls API base.
    pub(crate) twilio_api_base_url: Url,
    /// `DEEPGRAM_API_KEY`.
    pub(crate) deepgram_api_key: Option<Secret>,
    /// `DEEPGRAM_STT_URL`, `DEEPGRAM_STT_MODEL` (`nova-3`, or a Flux model such as
    /// `flux-general-en`, which decides turn ends itself), `DEEPGRAM_STT_LANGUAGE` and
    /// `DEEPGRAM_FLUX_*`, read by `deepgram::DeepgramSttConfig::from_lookup` (its defaults); the
    /// key is `deepgram_api_key`'s, or a placeholder when that is unset.
    pub(crate) deepgram_stt: deepgram::DeepgramSttConfig,
    /// `DEEPGRAM_TTS_URL` and `DEEPGRAM_TTS_MODEL`, read by
    /// `deepgram::DeepgramTtsConfig::from_lookup`.
    pub(crate) deepgram_tts: deepgram::DeepgramTtsConfig,
    /// `OPENAI_API_KEY`.
    pub(crate) openai_api_key: Option<Secret>,
    /// `OPENAI_BASE_URL`: any OpenAI-compatible server.
    pub(crate) openai_base_url: Url,
    /// `OPENAI_MODEL`.
    pub(crate) openai_model: String,
    /// `ELEVENLABS_API_KEY`.
    pub(crate) elevenlabs_api_key: Option<Secret>,
    /// `ELEVENLABS_VOICE_ID`, `ELEVENLABS_BASE_URL` and `ELEVENLABS_MODEL_ID`, read by
    /// `elevenlabs::ElevenLabsConfig::from_lookup`; the key is `elevenlabs_api_key`'s.
    pub(crate) elevenlabs: elevenlabs::ElevenLabsConfig,
    /// `OPENAI_FALLBACK_MODEL`: tried on the same server when the primary model fails.
    pub(crate) openai_fallback_model: Option<String>,
    /// `TWILIO_FROM_NUMBER`: caller ID for outbound calls; default the shop's number.
    pub(crate) twilio_from_number: Option<String>,
    /// `SMS_CONFIRMATIONS`: text the caller after each booking, move or cancellation.
    pub(crate) sms_confirmations: bool,
    /// `CALLING_HOURS`: when outbound calls may be placed, in the shop's local time.
    pub(crate) calling_hours: CallingHours,
    /// `CALL_RECORDING`: record calls through Twilio (both parties, dual channel), said first in
    /// the greeting.
    pub(crate) call_recording: bool,
    /// `RECORDING_DISCLOSURE`: what the greeting opens with when the call is recorded.
    pub(crate) recording_disclosure: Option<String>,
    /// `RECORDING_RETENTION_DAYS`: recordings older than this are deleted from Twilio (0 keeps
    /// them; default 90).
    pub(crate) recording_retention_days: u64,
    /// `SMS_FROM`: the number texts come from; default `TWILIO_FROM_NUMBER`, else the shop's.
    pub(crate) sms_from: Option<String>,
    /// `WARM_TRANSFER`: ring the advisor first (they hear a summary and press 1) while the caller
    /// holds; on no answer the agent takes a message (default on; needs `PUBLIC_URL`).
    pub(crate) warm_transfer: bool,
    /// `ADVISOR_RING_SECS`: how long the advisor's phone rings in a warm transfer (default 20).
    pub(crate) advisor_ring_secs: u32,
    /// `TRANSFER_AFTER_HOURS`: ring the advisor outside opening hours too (default off: the
    /// agent says the shop is closed and takes a message).
    pub(crate) transfer_after_hours: bool,
    /// `HOLD_AUDIO`: a file of 8 kHz μ-law audio (no header) played while the advisor's phone
    /// rings; default the built-in clip.
    pub(crate) hold_audio: Option<PathBuf>,
    /// `OUTBOUND_AMD`: outbound calls use Twilio's answering-machine detection and leave a
    /// voicemail on a machine (default on).
    pub(crate) outbound_amd: bool,
    /// `STREAM_TOKEN_SECRET`: signs per-call stream tokens; random per process when unset (then
    /// every instance behind a load balancer must be the one that answered the webhook).
    pub(crate) stream_token_secret: Option<Secret>,
    /// `TTS_PROVIDER`: `deepgram` (default) or `elevenlabs`.
    pub(crate) tts_provider: TtsProvider,
    /// `SHOP_CONFIG`: path of the shop's TOML file; unset means the built-in starter shop.
    pub(crate) shop_config: Option<PathBuf>,
    /// `ADVISOR_PHONE`: E.164 number escalated calls are transferred to.
    pub(crate) advisor_phone: Option<String>,
    /// `API_TOKEN`: bearer token for the `/api/*` routes; unset disables them.
    pub(crate) api_token: Option<Secret>,
    /// `MAX_CONCURRENT_CALLS`: calls beyond this are turned away politely.
    pub(crate) max_concurrent_calls: NonZeroUsize,
    /// `INSTANCE_ID`: this gateway's name in the fleet view (`/api/fleet`), e.g. the pod name;
    /// letters, digits, `-` and `_` (others become `-`), at most 64. Default: `HOSTNAME` (a
    /// container's or pod's), else random.
    pub(crate) instance_id: String,
    /// `CAPTURE_DIR`: when set, every call is written there as a capture file for replay.
    pub(crate) capture_dir: Option<PathBuf>,
    /// `LOG_FORMAT`: `human` (default) or `json`.
    pub(crate) log_format: LogFormat,
    /// `SHUTDOWN_DRAIN_SECS`: how long calls in progress may run on after SIGTERM; the calls
    /// still running then are handed to the advisor (or told goodbye) within `HANDOFF_BUDGET`.
    pub(crate) drain_timeout: Duration,
    /// `ALLOW_UNSIGNED_TWILIO`: development only. Without `TWILIO_AUTH_TOKEN`, accept unsigned
    /// webhooks and streams (still with stream tokens); warned about at start and on every call.
    pub(crate) allow_unsigned_twilio: bool,
    /// `STREAM_TOKEN_TTL_SECS`: how long after the webhook a media stream may present its token.
    pub(crate) stream_token_ttl: Duration,
    /// `MAX_PENDING_STREAMS`: sockets at once that have not yet shown a valid `start`.
    pub(crate) max_pending_streams: NonZeroUsize,
    /// `MAX_CALL_SECS`: the longest call; the caller then hears a polite close.
    pub(crate) max_call_duration: Duration,
    /// `MAX_CALL_TURNS`: the most caller turns in one call.
    pub(crate) max_call_turns: u32,
    /// `FILLER_AFTER_MS`: a reply that has said nothing this long after it started says the
    /// filler first.
    pub(crate) filler_after: Duration,
    /// `FILLER_LINE`: the filler ("One moment."); `off` turns fillers off.
    pub(crate) filler_line: String,
    /// `MAX_TOOL_CALLS_PER_ROUND`: tool calls the model may make in one round.
    pub(crate) max_tool_calls_per_round: usize,
    /// `MAX_BOOKINGS_PER_CALL`: bookings (new appointments) one call may make.
    pub(crate) max_bookings_per_call: u32,
    /// `MAX_BOOKINGS_PER_CUSTOMER_PER_DAY`: bookings the agent may make for one customer in a
    /// shop-local day, across calls.
    pub(crate) max_bookings_per_customer_per_day: u32,
    /// `OUTBOUND_CALLS_PER_MINUTE`: `POST /api/calls` rate limit.
    pub(crate) outbound_calls_per_minute: NonZeroUsize,
    /// `OUTBOUND_TO_NON_CUSTOMERS`: allow `POST /api/calls` to numbers not in the CRM.
    pub(crate) outbound_to_non_customers: bool,
    /// `LOG_TRANSCRIPTS`: log what callers and the agent say, names and DTMF at `info`.
    pub(crate) log_transcripts: bool,
    /// `EARLY_REPLIES`: start the LLM request on words that probably end the caller's turn
    /// (default on; off saves the requests that are thrown away).
    pub(crate) early_replies: bool,
    /// `OUTCOME_WEBHOOK_URL`: each finished call is POSTed there (https, or http to loopback).
    pub(crate) outcome_webhook_url: Option<Url>,
    /// `OUTCOME_WEBHOOK_SECRET`: signs the webhook's requests; required with the URL.
    pub(crate) outcome_webhook_secret: Option<Secret>,
    /// `OFFLINE_AGENT`: the rule-based agent answers a turn when the LLM fails or has not
    /// answered within `LLM_FALLBACK_AFTER_MS`, and every turn without `OPENAI_API_KEY`
    /// (default on).
    pub(crate) offline_agent: bool,
    /// `CRM_LOOKUP_TIMEOUT_MS`: how long the caller lookup may take before the call goes on as an
    /// unknown caller (the greeting waits for it).
    pub(crate) crm_lookup_timeout: Duration,
    /// `LLM_FALLBACK_AFTER_MS`: how long an LLM round may stay silent before the offline agent
    /// answers instead (default 2500).
    pub(crate) llm_fallback_after: Duration,
    /// `HTTP_MAX_CONNECTIONS`: open HTTP/WebSocket connections at once; more wait to be accepted.
    pub(crate) http_max_connections: NonZeroUsize,
    /// `HTTP_HEADER_TIMEOUT_SECS`: how long a client has to send a request's headers.
    pub(crate) http_header_timeout: Duration,
    /// `RECORD_SPOOL_DIR`: where call records wait on disk until the database has them.
    pub(crate) record_spool_dir: PathBuf,
    /// `CALLER_ID_POLICY`: `reject-failed` (default), `attested-only` or `any`.
    pub(crate) caller_id_policy: call_pipeline::CallerIdPolicy,
}

/// The hours outbound calls may be placed, in the shop's local time (its customers are local).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallingHours {
    pub(crate) start: chrono::NaiveTime,
    pub(crate) end: chrono::NaiveTime,
}

impl Default for CallingHours {
    /// 9:00 to 20:00.
    fn default() -> Self {
        Self {
            start: chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"),
            end: chrono::NaiveTime::from_hms_opt(20, 0, 0).expect("a valid time"),
        }
    }
}

impl CallingHours {
    /// `HH:MM-HH:MM`, the start before the end.
    pub(crate) fn parse(text: &str) -> Option<CallingHours> {
        let (start, end) = text.trim().split_once('-')?;
        let time = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
        let (start, end) = (time(start)?, time(end)?);
        (start < end).then_some(CallingHours { start, end })
    }

    /// Whether `now` falls inside the hours in the shop's timezone.
    pub(crate) fn contains(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        shop: &conversation::ShopConfig,
    ) -> bool {
        let local = now.with_timezone(&shop.timezone).time();
        local >= self.start && local < self.end
    }
}

impl std::fmt::Display for CallingHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{} shop time",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// `INSTANCE_ID` made safe as a store key (see `Config::instance_id`), or a random one.
fn instance_id(given: Option<String>) -> String {
    let cleaned: String = given
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        format!("gw-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
    } else {
        cleaned
    }
}

/// The shortest `STREAM_TOKEN_SECRET` accepted, in bytes (an HMAC-SHA256 key).
pub(crate) const MIN_STREAM_SECRET_BYTES: usize = 32;
/// Time after the drain for handing the remaining calls to a person; with the default drain of
/// 18 s the whole shutdown (see `server.rs`) fits Kubernetes' default 30 s grace period.
pub(crate) const HANDOFF_BUDGET: Duration = Duration::from_secs(7);

/// Every problem found in the environment, reported together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration:\n  {}", .problems.join("\n  "))]
pub struct ConfigError {
    pub(crate) problems: Vec<String>,
}

impl Config {
    /// Reads the process environment (after `.env` was loaded by `main`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Builds the config from any key lookup; tests pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let secret = |key: &str| get(key).map(Secret::new);
        let mut url = |key: &str, default: &str| -> Url {
            let raw = get(key).unwrap_or_else(|| default.to_owned());
            Url::parse(&raw).unwrap_or_else(|err| {
                problems.push(format!("{key}: not a URL ({err})"));
                Url::parse(default).expect("defaults are valid URLs")
            })
        };
        let twilio_api_base_url = url(
            "TWILIO_API_BASE_URL",
            twilio::rest::CallsClientConfig::DEFAULT_BASE_URL,
        );
        let openai_base_url = url("OPENAI_BASE_URL", openai::DEFAULT_BASE_URL);
        // The vendors' own settings are read by the vendor crates, which hold their defaults;
        // the keys stay here, as secrets. Without a key the settings are still read and checked
        // (with a placeholder key nobody uses: `*_api_key` says whether the vendor is usable).
        let key = |name: &str| {
            secret(name).map_or_else(|| "unset".to_owned(), |key| key.expose().to_owned())
        };
        let deepgram_key = || deepgram::ApiKey::new(key("DEEPGRAM_API_KEY"));
        let deepgram_stt = deepgram::DeepgramSttConfig::from_lookup(deepgram_key(), get)
            .unwrap_or_else(|err| {
                problems.push(err.to_string());
                deepgram::DeepgramSttConfig::new(deepgram_key())
            });
        let deepgram_tts = deepgram::DeepgramTtsConfig::from_lookup(deepgram_key(), get)
            .unwrap_or_else(|err| {
                problems.push(err.to_string());
                deepgram::DeepgramTtsConfig::new(deepgram_key())
            });
        let elevenlabs_key = || elevenlabs::ApiKey::new(key("ELEVENLABS_API_KEY"));
        let elevenlabs = elevenlabs::ElevenLabsConfig::from_lookup(elevenlabs_key(), get)
            .unwrap_or_else(|err| {
                problems.push(err.to_string());
                elevenlabs::ElevenLabsConfig::new(elevenlabs_key(), elevenlabs::DEFAULT_VOICE_ID)
            });

        let bind_addr = match get("BIND_ADDR")
            .unwrap_or_else(|| "0.0.0.0:8080".to_owned())
            .parse()
        {
            Ok(addr) => addr,
            Err(err) => {
                problems.push(format!("BIND_ADDR: not a socket address ({err})"));
                SocketAddr::from(([0, 0, 0, 0], 8080))
            }
        };
        let public_url = get("PUBLIC_URL").and_then(|raw| match Url::parse(&raw) {
            // Twilio's signatures and our stream tokens travel in these requests: plain http
            // only for a gateway on this machine (tests, a local tunnel).
            Ok(url) if url.scheme() == "http" && !is_loopback(&url) => {
                problems.push(
                    "PUBLIC_URL: must be https:// (http:// only for localhost or 127.0.0.1)"
                        .to_owned(),
                );
                None
            }
            Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => {
                Some(url)
            }
            Ok(_) => {
                problems.push(
                    "PUBLIC_URL: must be an http(s) origin like https://gateway.example.com"
                        .to_owned(),
                );
                None
            }
            Err(err) => {
                problems.push(format!("PUBLIC_URL: not a URL ({err})"));
                None
            }
        });
        let tts_provider = match get("TTS_PROVIDER")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("deepgram") => TtsProvider::Deepgram,
            Some("elevenlabs") => TtsProvider::ElevenLabs,
            Some(other) => {
                problems.push(format!(
                    "TTS_PROVIDER: `{other}` is not `deepgram` or `elevenlabs`"
                ));
                TtsProvider::Deepgram
            }
        };
        let log_format = match get("LOG_FORMAT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("human") | Some("text") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                problems.push(format!("LOG_FORMAT: `{other}` is not `human` or `json`"));
                LogFormat::Human
            }
        };
        let max_concurrent_calls = match get("MAX_CONCURRENT_CALLS")
            .map(|raw| raw.parse::<NonZeroUsize>())
        {
            None => NonZeroUsize::new(1000).expect("non-zero"),
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                problems.push("MAX_CONCURRENT_CALLS: must be a whole number above 0".to_owned());
                NonZeroUsize::new(1000).expect("non-zero")
            }
        };
        let mut whole = |key: &str, default: u64| -> u64 {
            match get(key).map(|raw| raw.parse::<u64>()) {
                None => default,
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    problems.push(format!("{key}: must be a whole number"));
                    default
                }
            }
        };
        let drain_timeout = Duration::from_secs(whole("SHUTDOWN_DRAIN_SECS", 18));
        let stream_token_ttl = Duration::from_secs(whole("STREAM_TOKEN_TTL_SECS", 120).max(1));
        let max_call_duration = Duration::from_secs(whole("MAX_CALL_SECS", 30 * 60).max(60));
        let max_call_turns = u32::try_from(whole("MAX_CALL_TURNS", 100).max(1)).unwrap_or(u32::MAX);
        let filler_after = Duration::from_millis(whole("FILLER_AFTER_MS", 700));
        let llm_fallback_after = Duration::from_millis(whole("LLM_FALLBACK_AFTER_MS", 2500));
        let crm_lookup_timeout = Duration::from_millis(whole("CRM_LOOKUP_TIMEOUT_MS", 800));
        let recording_retention_days = whole("RECORDING_RETENTION_DAYS", 90);
        let advisor_ring_secs =
            u32::try_from(whole("ADVISOR_RING_SECS", 20).clamp(5, 60)).unwrap_or(20);
        let filler_line = match get("FILLER_LINE") {
            Some(line) if line.eq_ignore_ascii_case("off") => String::new(),
            Some(line) => line,
            None => "One moment.".to_owned(),
        };
        let max_tool_calls_per_round =
            usize::try_from(whole("MAX_TOOL_CALLS_PER_ROUND", 4).max(1)).unwrap_or(4);
        let max_bookings_per_call =
            u32::try_from(whole("MAX_BOOKINGS_PER_CALL", 2)).unwrap_or(u32::MAX);
        let max_bookings_per_customer_per_day =
            u32::try_from(whole("MAX_BOOKINGS_PER_CUSTOMER_PER_DAY", 3)).unwrap_or(u32::MAX);
        let http_header_timeout = Duration::from_secs(whole("HTTP_HEADER_TIMEOUT_SECS", 10).max(1));
        let non_zero = |n: u64| NonZeroUsize::new(usize::try_from(n).unwrap_or(1).max(1));
        let max_pending_streams =
            non_zero(whole("MAX_PENDING_STREAMS", 64)).unwrap_or(NonZeroUsize::MIN);
        let outbound_calls_per_minute =
            non_zero(whole("OUTBOUND_CALLS_PER_MINUTE", 10)).unwrap_or(NonZeroUsize::MIN);
        let http_max_connections =
            non_zero(whole("HTTP_MAX_CONNECTIONS", 4096)).unwrap_or(NonZeroUsize::MIN);
        let mut flag = |key: &str| match get(key).as_deref().map(str::to_ascii_lowercase).as_deref()
        {
            None | Some("false" | "0" | "no" | "off") => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some(other) => {
                problems.push(format!("{key}: `{other}` is not true or false"));
                false
            }
        };
        let allow_unsigned_twilio = flag("ALLOW_UNSIGNED_TWILIO");
        let outbound_to_non_customers = flag("OUTBOUND_TO_NON_CUSTOMERS");
        let log_transcripts = flag("LOG_TRANSCRIPTS");
        let early_replies = get("EARLY_REPLIES").is_none() || flag("EARLY_REPLIES");
        let offline_agent = get("OFFLINE_AGENT").is_none() || flag("OFFLINE_AGENT");
        let sms_confirmations = flag("SMS_CONFIRMATIONS");
        let call_recording = flag("CALL_RECORDING");
        let warm_transfer = get("WARM_TRANSFER").is_none() || flag("WARM_TRANSFER");
        let outbound_amd = get("OUTBOUND_AMD").is_none() || flag("OUTBOUND_AMD");
        let transfer_after_hours = flag("TRANSFER_AFTER_HOURS");
        let calling_hours = match get("CALLING_HOURS") {
            None => CallingHours::default(),
            Some(raw) => CallingHours::parse(&raw).unwrap_or_else(|| {
                problems.push(format!(
                    "CALLING_HOURS: `{raw}` is not HH:MM-HH:MM with the start before the end"
                ));
                CallingHours::default()
            }),
        };
        let caller_id_policy = match get("CALLER_ID_POLICY")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("reject-failed") => call_pipeline::CallerIdPolicy::RejectFailed,
            Some("attested-only") => call_pipeline::CallerIdPolicy::AttestedOnly,
            Some("any") => call_pipeline::CallerIdPolicy::Any,
            Some(other) => {
                problems.push(format!(
                    "CALLER_ID_POLICY: `{other}` is not reject-failed, attested-only or any"
                ));
                call_pipeline::CallerIdPolicy::RejectFailed
            }
        };
        let twilio_auth_token = secret("TWILIO_AUTH_TOKEN");
        if twilio_auth_token.is_some() && public_url.is_none() && get("PUBLIC_URL").is_none() {
            problems.push(
                "TWILIO_AUTH_TOKEN is set but PUBLIC_URL is not: every Twilio signature covers the \
                 public URL, so every webhook would be refused. Set PUBLIC_URL to the https origin \
                 Twilio reaches (with any path prefix)"
                    .to_owned(),
            );
        }
        let outcome_webhook_url =
            get("OUTCOME_WEBHOOK_URL").and_then(|raw| match Url::parse(&raw) {
                Ok(url) if url.scheme() == "https" => Some(url),
                Ok(url)
                    if url.scheme() == "http"
                        && matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) =>
                {
                    Some(url)
                }
                Ok(_) => {
                    problems.push(
                        "OUTCOME_WEBHOOK_URL: must be https (call outcomes carry customers' \
                         details); plain http only to 127.0.0.1 or localhost"
                            .to_owned(),
                    );
                    None
                }
                Err(err) => {
                    problems.push(format!("OUTCOME_WEBHOOK_URL: not a URL ({err})"));
                    None
                }
            });
        let outcome_webhook_secret = secret("OUTCOME_WEBHOOK_SECRET");
        if outcome_webhook_url.is_some()
            && outcome_webhook_secret
                .as_ref()
                .is_none_or(|secret| secret.expose().len() < 16)
        {
            problems.push(
                "OUTCOME_WEBHOOK_SECRET: needed with OUTCOME_WEBHOOK_URL, at least 16 bytes \
                 (the receiver checks each request's signature with it)"
                    .to_owned(),
            );
        }
        let stream_token_secret = secret("STREAM_TOKEN_SECRET");
        if let Some(secret) = &stream_token_secret
            && secret.expose().len() < MIN_STREAM_SECRET_BYTES
        {
            problems.push(format!(
                "STREAM_TOKEN_SECRET: must be at least {MIN_STREAM_SECRET_BYTES} bytes \
                 (for example `openssl rand -hex 32`)"
            ));
        }

        let config = Self {
            bind_addr,
            public_url,
            database_url: secret("DATABASE_URL")
                .unwrap_or_else(|| Secret::new(DEFAULT_DATABASE_URL)),
            redis_url: secret("REDIS_URL"),
            twilio_account_sid: get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token,
            twilio_api_base_url,
            deepgram_api_key: secret("DEEPGRAM_API_KEY"),
            deepgram_stt,
            deepgram_tts,
            openai_api_key: secret("OPENAI_API_KEY"),
            openai_base_url,
            openai_model: get("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o-mini".to_owned()),
            elevenlabs_api_key: secret("ELEVENLABS_API_KEY"),
            elevenlabs,
            openai_fallback_model: get("OPENAI_FALLBACK_MODEL"),
            twilio_from_number: get("TWILIO_FROM_NUMBER"),
            sms_confirmations,
            call_recording,
            calling_hours,
            warm_transfer,
            advisor_ring_secs,
            transfer_after_hours,
            hold_audio: get("HOLD_AUDIO").map(PathBuf::from),
            outbound_amd,
            recording_disclosure: get("RECORDING_DISCLOSURE")
                .filter(|line| !line.trim().is_empty()),
            recording_retention_days,
            sms_from: get("SMS_FROM"),
            stream_token_secret,
            outcome_webhook_url,
            outcome_webhook_secret,
            tts_provider,
            shop_config: get("SHOP_CONFIG").map(PathBuf::from),
            advisor_phone: get("ADVISOR_PHONE"),
            api_token: secret("API_TOKEN"),
            max_concurrent_calls,
            instance_id: instance_id(get("INSTANCE_ID").or_else(|| get("HOSTNAME"))),
            capture_dir: get("CAPTURE_DIR").map(PathBuf::from),
            log_format,
            drain_timeout,
            allow_unsigned_twilio,
            stream_token_ttl,
            max_pending_streams,
            max_call_duration,
            max_call_turns,
            filler_after,
            filler_line,
            max_tool_calls_per_round,
            max_bookings_per_call,
            max_bookings_per_customer_per_day,
            outbound_calls_per_minute,
            outbound_to_non_customers,
            log_transcripts,
            early_replies,
            offline_agent,
            llm_fallback_after,
            crm_lookup_timeout,
            http_max_connections,
            http_header_timeout,
            caller_id_policy,
            record_spool_dir: get("RECORD_SPOOL_DIR")
                .map_or_else(|| PathBuf::from("data/pending-call-records"), PathBuf::from),
        };
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// The providers a real call needs that have no credentials, in the order a caller meets them.
    /// Empty means calls can be answered by the agent; otherwise the webhook hands calls to a human.
    pub(crate) fn missing_providers(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.public_url.is_none() {
            missing.push("PUBLIC_URL (Twilio cannot reach the media stream)");
        }
        if self.deepgram_api_key.is_none() {
            missing.push("DEEPGRAM_API_KEY (speech-to-text)");
        }
        if self.openai_api_key.is_none() && !self.offline_agent {
            missing.push("OPENAI_API_KEY (language model; or OFFLINE_AGENT=true)");
        }
        match self.tts_provider {
            TtsProvider::Deepgram if self.deepgram_api_key.is_none() => {
                missing.push("DEEPGRAM_API_KEY (text-to-speech, TTS_PROVIDER=deepgram)");
            }
            TtsProvider::ElevenLabs if self.elevenlabs_api_key.is_none() => {
                missing.push("ELEVENLABS_API_KEY (text-to-speech, TTS_PROVIDER=elevenlabs)");
            }
            _ => {}
        }
        missing
    }

    /// The database URL with any password replaced, for the startup log line.
    pub(crate) fn database_url_redacted(&self) -> String {
        redact_url_password(self.database_url.expose())
    }

    /// The Redis URL with any password replaced, for the startup log line.
    pub(crate) fn redis_url_redacted(&self) -> Option<String> {
        self.redis_url
            .as_ref()
            .map(|url| redact_url_password(url.expose()))
    }
}

/// Whether a URL's host is this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A URL for logs: scheme, host, port and path only; user names, passwords, query strings and
/// fragments (where keys and tokens hide) are left out.
pub(crate) fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("");
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            let hidden = if url.query().is_some() || !url.username().is_empty() {
                " (credentials and query hidden)"
            } else {
                ""
            };
            format!("{}://{host}{port}{}{hidden}", url.scheme(), url.path())
        }
        Err(_) => "(unparseable url)".to_owned(),
    }
}

/// Replaces the password of a URL (`scheme://user:pass@host`) with `***`; leaves other text alone.
pub(crate) fn redact_url_password(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one, which this one had.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests;
