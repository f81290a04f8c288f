//! Wiring: builds the providers, stores and call control from `Config`, and runs the server with
//! draining shutdown. Everything here is construction; call behaviour lives in `call-pipeline`.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use call_pipeline::{
    AdmissionConfig, CallControl, CallCrm, CallDeps, NoCallControl, OutboxWorker, PendingSlot,
    PipelineConfig, PortError, RecordOutbox, StreamAdmission,
};
use chrono::Utc;
use conversation::ShopConfig;
use metrics_exporter_prometheus::PrometheusHandle;
use providers::{LanguageModel, SpeechToText, TextToSpeech};
use session_store::{SessionStore, SessionStoreConfig};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};
use twilio::{
    AccountSid, AuthToken, CallSid,
    rest::{CallsClient, CallsClientConfig},
    signature::RequestValidator,
    twiml,
};

use crate::{
    config::{Config, TtsProvider},
    crm_port::CrmPort,
};

/// The speech and language providers; `None` in `AppState` when credentials are missing.
#[derive(Clone)]
pub struct Providers {
    pub(crate) stt: Arc<dyn SpeechToText>,
    /// `None` without `OPENAI_API_KEY`: the offline agent answers every turn.
    pub(crate) llm: Option<Arc<dyn LanguageModel>>,
    pub(crate) tts: Arc<dyn TextToSpeech>,
    pub(crate) tts_fallback: Option<Arc<dyn TextToSpeech>>,
}

/// The wall clock, injectable so tests run at a fixed time.
pub type Clock = Arc<dyn Fn() -> chrono::DateTime<Utc> + Send + Sync>;

/// Everything the routes use, built once.
pub(crate) struct AppState {
    /// The clock calls, tools and tokens read.
    pub(crate) clock: Clock,
    pub(crate) config: Config,
    pub(crate) shop: Arc<ShopConfig>,
    /// `None` means calls are handed straight to the advisor (missing credentials).
    pub(crate) providers: Option<Providers>,
    pub(crate) crm: Arc<dyn CallCrm>,
    /// The database for `/api/calls` (absent in tests that fake the CRM).
    pub(crate) crm_store: Option<crm::Crm>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) call_control: Arc<dyn CallControl>,
    pub(crate) rest: Option<CallsClient>,
    /// How Twilio's requests are authenticated.
    pub(crate) twilio_auth: TwilioAuth,
    /// Which media streams become calls (tokens, single use, capacity).
    pub(crate) admission: Arc<StreamAdmission>,
    /// `POST /api/calls` per minute.
    pub(crate) outbound_rate: crate::routes::RateLimit,
    /// `POST /api/calls` per number.
    pub(crate) outbound_cooldown: crate::routes::Cooldown,
    pub(crate) records: RecordOutbox,
    pub(crate) pipeline: Arc<PipelineConfig>,
    /// Every call in progress; shutdown waits on it.
    pub(crate) calls: TaskTracker,
    /// Cancelled on SIGTERM: new calls are turned away, calls in progress go on.
    pub(crate) draining: CancellationToken,
    /// Cancelled when the drain time is up: calls in progress are handed to the advisor.
    pub(crate) handoff: CancellationToken,
    /// Cancelled when the handoff time is up too: calls still running end and save.
    pub(crate) calls_shutdown: CancellationToken,
    pub(crate) metrics: Option<PrometheusHandle>,
    /// The operator console's live calls and try-it calls.
    pub(crate) console: crate::console::Console,
    /// How the end-of-call webhook paces itself.
    pub(crate) webhook_timing: crate::outcome_webhook::WebhookTiming,
}

impl AppState {
    /// The dependencies one call gets; `pending_slot` is its socket's place until `start`.
    pub(crate) fn call_deps(
        &self,
        providers: &Providers,
        pending_slot: Option<Arc<PendingSlot>>,
    ) -> CallDeps {
        CallDeps {
            stt: providers.stt.clone(),
            llm: providers.llm.clone(),
            offline_agent: self.config.offline_agent.then(offline_agent_factory),
            tts: providers.tts.clone(),
            tts_fallback: providers.tts_fallback.clone(),
            crm: self.crm.clone(),
            sessions: self.sessions.clone(),
            call_control: self.call_control.clone(),
            shop: self.shop.clone(),
            admission: Some(self.admission.clone()),
            pending_slot,
            handoff: Some(self.handoff.clone()),
            records: self.records.clone(),
            now: self.clock.clone(),
            observer: Some(self.console.hub.clone()),
            capture_dir: self.config.capture_dir.clone(),
        }
    }
}

impl AppState {
    /// The dependencies of a text call (`chat`): its own recogniser, voice, call control and
    /// observer; the LLM when `OPENAI_API_KEY` is set, the offline agent when it is not (or as
    /// the LLM's fallback, as on the phone).
    pub(crate) fn text_call_deps(
        &self,
        call: &call_pipeline::TextCall,
    ) -> anyhow::Result<CallDeps> {
        let llm = match &self.config.openai_api_key {
            Some(key) => Some(openai_client(&self.config, key)?),
            None => None,
        };
        let offline = llm.is_none() || self.config.offline_agent;
        Ok(CallDeps {
            stt: call.speech_to_text(),
            llm,
            offline_agent: offline.then(offline_agent_factory),
            tts: call.text_to_speech(),
            tts_fallback: None,
            crm: self.crm.clone(),
            sessions: self.sessions.clone(),
            call_control: call.call_control(),
            shop: self.shop.clone(),
            admission: None,
            pending_slot: None,
            handoff: None,
            records: self.records.clone(),
            now: self.clock.clone(),
            observer: Some(call.observer()),
            capture_dir: None,
        })
    }
}

/// The offline agent (`offline-agent`) for one turn of a conversation.
pub(crate) fn offline_agent_factory() -> call_pipeline::OfflineAgentFactory {
    Arc::new(|conversation, now| Arc::new(offline_agent::OfflineAgent::new(conversation, now)))
}

/// How webhooks and media streams prove they come from Twilio.
pub(crate) enum TwilioAuth {
    /// `X-Twilio-Signature` is checked on every webhook and on the stream upgrade.
    Signed(RequestValidator),
    /// `ALLOW_UNSIGNED_TWILIO=true` without an auth token: development only, warned on every call.
    Unsigned,
    /// No auth token: nothing from Twilio can reach a provider, a session or the CRM; the voice
    /// webhook answers with the spoken apology and the transfer to the advisor.
    Closed,
}

/// What `build` makes besides the state: the outbox worker to run.
pub(crate) struct Built {
    pub(crate) state: Arc<AppState>,
    pub(crate) outbox: OutboxWorker,
}

/// Parts a harness (the e2e tests, `cargo xtask replay`) supplies instead of the real ones.
#[derive(Default)]
pub struct Overrides {
    pub(crate) providers: Option<Providers>,
    pub(crate) call_control: Option<Arc<dyn CallControl>>,
    /// The CRM port calls use (replay answers tools from a capture); default the database's.
    pub(crate) crm: Option<Arc<dyn CallCrm>>,
    pub(crate) pipeline: Option<PipelineConfig>,
    /// The draining token, so a test can see when draining began.
    pub(crate) draining: Option<CancellationToken>,
    /// A fixed clock (tests); default the system clock.
    pub(crate) now: Option<Clock>,
    /// The end-of-call webhook's pacing (tests shorten it).
    pub(crate) webhook_timing: Option<crate::outcome_webhook::WebhookTiming>,
}

impl Providers {
    /// Speech to text, the language model (`None`: the offline agent answers), the voice and an
    /// optional second voice.
    pub fn new(
        stt: Arc<dyn SpeechToText>,
        llm: Option<Arc<dyn LanguageModel>>,
        tts: Arc<dyn TextToSpeech>,
        tts_fallback: Option<Arc<dyn TextToSpeech>>,
    ) -> Self {
        Self {
            stt,
            llm,
            tts,
            tts_fallback,
        }
    }
}

impl Overrides {
    /// These providers instead of those built from the configuration's keys.
    #[must_use]
    pub fn with_providers(mut self, providers: Providers) -> Self {
        self.providers = Some(providers);
        self
    }

    /// This call control instead of Twilio's REST API.
    #[must_use]
    pub fn with_call_control(mut self, control: Arc<dyn CallControl>) -> Self {
        self.call_control = Some(control);
        self
    }

    /// This CRM port for calls instead of the database's (the database still serves `/api/*`).
    #[must_use]
    pub fn with_crm(mut self, crm: Arc<dyn CallCrm>) -> Self {
        self.crm = Some(crm);
        self
    }

    /// These pipeline settings instead of those derived from the configuration.
    #[must_use]
    pub fn with_pipeline(mut self, pipeline: PipelineConfig) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// This clock instead of the system's.
    #[must_use]
    pub fn with_clock(mut self, now: Clock) -> Self {
        self.now = Some(now);
        self
    }
}

/// Loads the shop, connects the database and session store, and builds providers from `config`.
pub(crate) async fn build(
    config: Config,
    overrides: Overrides,
    metrics: Option<PrometheusHandle>,
) -> anyhow::Result<Built> {
    let shop = Arc::new(load_shop(config.shop_config.as_deref())?);
    let clock: Clock = overrides.now.unwrap_or_else(|| Arc::new(Utc::now));
    let console_clock = clock.clone();

    let crm_store = crm::connect_and_migrate(
        config.database_url.expose(),
        &crm::CrmConfig {
            queue_outcomes: config.outcome_webhook_url.is_some(),
            ..crm::CrmConfig::default()
        },
        (*shop).clone(),
    )
    .await
    .with_context(|| {
        format!(
            "connecting to the database {}",
            config.database_url_redacted()
        )
    })?;
    info!(backend = crm_store.backend_name(), "database ready");
    let rest = match (&config.twilio_account_sid, &config.twilio_auth_token) {
        (Some(account), Some(token)) => {
            let mut rest_config = CallsClientConfig::new(
                AccountSid::from_wire(account.clone()),
                AuthToken::new(token.expose()),
            );
            rest_config.base_url = config
                .twilio_api_base_url
                .as_str()
                .trim_end_matches('/')
                .to_owned();
            Some(CallsClient::new(rest_config).context("building the Twilio REST client")?)
        }
        _ => None,
    };
    let mut crm_port = CrmPort::new(Arc::new(crm_store.clone()), clock.clone()).with_tool_limits(
        crm::tools::ToolLimits {
            max_bookings_per_customer_per_day: config.max_bookings_per_customer_per_day,
        },
    );
    if config.sms_confirmations {
        let from = config
            .sms_from
            .clone()
            .or_else(|| config.twilio_from_number.clone())
            .or_else(|| shop.phone.clone());
        match (&rest, from) {
            (Some(rest), Some(from)) => {
                info!("text confirmations on");
                crm_port = crm_port.with_text_confirmations(Arc::new(TwilioTexts {
                    rest: rest.clone(),
                    from,
                }));
            }
            _ => warn!(
                "SMS_CONFIRMATIONS is on but the Twilio account, token or a from-number is \
                 missing: no texts will be sent"
            ),
        }
    }
    let crm: Arc<dyn CallCrm> = match overrides.crm {
        Some(crm) => crm,
        None => Arc::new(crm_port),
    };

    let sessions = session_store::connect(
        config.redis_url.as_ref().map(|url| url.expose()),
        SessionStoreConfig::default(),
    )
    .await
    .context("connecting to the session store")?;

    let twilio_auth = match (&config.twilio_auth_token, config.allow_unsigned_twilio) {
        (Some(token), _) => {
            TwilioAuth::Signed(RequestValidator::new(AuthToken::new(token.expose())))
        }
        (None, true) => TwilioAuth::Unsigned,
        (None, false) => TwilioAuth::Closed,
    };
    let advisor = config
        .advisor_phone
        .clone()
        .or_else(|| shop.advisor_phone.clone());
    let call_control: Arc<dyn CallControl> = match (overrides.call_control, &rest, advisor) {
        (Some(control), _, _) => control,
        (None, Some(rest), Some(advisor)) => {
            let caller_id = config
                .twilio_from_number
                .clone()
                .or_else(|| shop.phone.clone());
            let warm = match (&config.public_url, &caller_id) {
                (Some(base), Some(from)) if config.warm_transfer => {
                    Some(crate::transfer::WarmTransfers {
                        rest: rest.clone(),
                        sessions: sessions.clone(),
                        base: base.as_str().trim_end_matches('/').to_owned(),
                        advisor_phone: advisor.clone(),
                        from: from.clone(),
                        ring_secs: config.advisor_ring_secs,
                    })
                }
                _ => {
                    if config.warm_transfer {
                        info!(
                            "warm transfers need PUBLIC_URL and a caller ID; transfers are direct"
                        );
                    }
                    None
                }
            };
            Arc::new(TwilioCallControl {
                rest: rest.clone(),
                recording_callback: recording_callback(&config),
                advisor_phone: advisor,
                caller_id,
                warm,
            })
        }
        _ => Arc::new(NoCallControl),
    };

    let providers = match overrides.providers {
        Some(providers) => Some(providers),
        None if config.missing_providers().is_empty() => Some(real_providers(&config)?),
        None => None,
    };
    let stream_secret: Arc<[u8]> = match &config.stream_token_secret {
        Some(secret) => Arc::from(secret.expose().as_bytes()),
        // 32 random bytes: two v4 UUIDs (122 random bits each).
        None => Arc::from(
            [
                *uuid::Uuid::new_v4().as_bytes(),
                *uuid::Uuid::new_v4().as_bytes(),
            ]
            .concat(),
        ),
    };
    let admission = Arc::new(StreamAdmission::new(
        stream_secret,
        AdmissionConfig {
            account_sid: config.twilio_account_sid.clone(),
            token_lifetime: config.stream_token_ttl,
            live_claim_ttl: config.max_call_duration + Duration::from_secs(300),
            max_calls: config.max_concurrent_calls.get(),
            max_pending: config.max_pending_streams.get(),
            instance: config.instance_id.clone(),
        },
        sessions.clone(),
    ));
    let (records, outbox) = RecordOutbox::new(crm.clone(), Some(config.record_spool_dir.clone()));
    let state = AppState {
        clock,
        shop,
        providers,
        crm,
        crm_store: Some(crm_store),
        sessions,
        call_control,
        rest,
        twilio_auth,
        admission,
        outbound_rate: crate::routes::RateLimit::new(
            config.outbound_calls_per_minute.get(),
            Duration::from_secs(60),
        ),
        outbound_cooldown: crate::routes::Cooldown::new(crate::routes::OUTBOUND_COOLDOWN),
        records,
        pipeline: Arc::new(pipeline_config(&config, overrides.pipeline)?),
        calls: TaskTracker::new(),
        draining: overrides.draining.unwrap_or_default(),
        handoff: CancellationToken::new(),
        calls_shutdown: CancellationToken::new(),
        metrics,
        console: crate::console::Console::new(console_clock),
        webhook_timing: overrides.webhook_timing.unwrap_or_default(),
        config,
    };
    Ok(Built {
        state: Arc::new(state),
        outbox,
    })
}

/// The per-call settings: a test's base (or the defaults) with the limits from `Config`.
fn pipeline_config(
    config: &Config,
    base: Option<PipelineConfig>,
) -> anyhow::Result<PipelineConfig> {
    let hold_audio = match &config.hold_audio {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading HOLD_AUDIO {}", path.display()))?;
            call_pipeline::HoldAudio(Arc::from(bytes))
        }
        None => base
            .as_ref()
            .map(|base| base.hold_audio.clone())
            .unwrap_or_default(),
    };
    Ok(PipelineConfig {
        log_transcripts: config.log_transcripts,
        early_replies: config.early_replies,
        filler_after: config.filler_after,
        filler_line: config.filler_line.clone(),
        caller_id_policy: config.caller_id_policy,
        max_call_duration: config.max_call_duration,
        max_turns: config.max_call_turns,
        max_tool_calls_per_round: config.max_tool_calls_per_round,
        max_bookings_per_call: config.max_bookings_per_call,
        llm_fallback_after: config.llm_fallback_after,
        crm_lookup_timeout: config.crm_lookup_timeout,
        recording_disclosure: config
            .recording_disclosure
            .clone()
            .unwrap_or_else(|| PipelineConfig::default().recording_disclosure),
        transfer_after_hours: config.transfer_after_hours,
        hold_audio,
        ..base.unwrap_or_default()
    })
}

/// Reads and parses the shop configuration file.
/// The shop at `path`, or the built-in starter shop (`voice-gateway init-shop` writes it out).
pub(crate) fn load_shop(path: Option<&std::path::Path>) -> anyhow::Result<ShopConfig> {
    let Some(path) = path else {
        return Ok(ShopConfig::default_shop());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the shop configuration {}", path.display()))?;
    ShopConfig::from_toml_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn real_providers(config: &Config) -> anyhow::Result<Providers> {
    config
        .deepgram_api_key
        .as_ref()
        .context("DEEPGRAM_API_KEY")?;
    let stt: Arc<dyn SpeechToText> =
        Arc::new(deepgram::DeepgramStt::new(config.deepgram_stt.clone()));

    let llm = match &config.openai_api_key {
        Some(key) => Some(openai_client(config, key)?),
        None => {
            info!("OPENAI_API_KEY is not set: the offline agent answers every call");
            None
        }
    };
    let deepgram_tts = config.deepgram_api_key.as_ref().map(|_| {
        Arc::new(deepgram::DeepgramTts::new(config.deepgram_tts.clone())) as Arc<dyn TextToSpeech>
    });
    let elevenlabs_tts = match &config.elevenlabs_api_key {
        Some(_) => Some(Arc::new(
            elevenlabs::ElevenLabsTts::new(config.elevenlabs.clone())
                .context("building the ElevenLabs client")?,
        ) as Arc<dyn TextToSpeech>),
        None => None,
    };
    let (tts, tts_fallback) = match config.tts_provider {
        TtsProvider::Deepgram => (deepgram_tts.context("DEEPGRAM_API_KEY")?, elevenlabs_tts),
        TtsProvider::ElevenLabs => (elevenlabs_tts.context("ELEVENLABS_API_KEY")?, deepgram_tts),
    };
    Ok(Providers {
        stt,
        llm,
        tts,
        tts_fallback,
    })
}

/// The OpenAI-compatible client, with the fallback model when one is set.
fn openai_client(
    config: &Config,
    openai_key: &crate::config::Secret,
) -> anyhow::Result<Arc<dyn LanguageModel>> {
    let mut endpoints = vec![openai::Endpoint::new(
        config.openai_base_url.clone(),
        openai::ApiKey::new(openai_key.expose()),
        config.openai_model.clone(),
    )];
    if let Some(model) = &config.openai_fallback_model {
        endpoints.push(openai::Endpoint::new(
            config.openai_base_url.clone(),
            openai::ApiKey::new(openai_key.expose()),
            model.clone(),
        ));
    }
    let llm = openai::OpenAiClient::new(openai::OpenAiConfig {
        endpoints,
        ..openai::OpenAiConfig::default()
    })
    .context("building the OpenAI client")?;
    Ok(Arc::new(llm))
}

/// Text messages through Twilio's Messages API.
struct TwilioTexts {
    rest: CallsClient,
    from: String,
}

#[async_trait::async_trait]
impl call_pipeline::TextSender for TwilioTexts {
    async fn send_text(&self, to: &str, body: &str) -> Result<(), call_pipeline::TextError> {
        let message = twilio::rest::CreateMessage {
            to: to.to_owned(),
            from: self.from.clone(),
            body: body.to_owned(),
        };
        match self.rest.send_message(&message).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_unsubscribed_recipient() => {
                Err(call_pipeline::TextError::Unsubscribed)
            }
            Err(err) => Err(call_pipeline::TextError::Failed(err.to_string())),
        }
    }
}

/// Where Twilio reports a finished recording, when calls are recorded (`CALL_RECORDING` with a
/// `PUBLIC_URL`).
fn recording_callback(config: &Config) -> Option<String> {
    if !config.call_recording {
        return None;
    }
    match &config.public_url {
        Some(base) => Some(format!(
            "{}/twilio/recording",
            base.as_str().trim_end_matches('/')
        )),
        None => {
            warn!("CALL_RECORDING is on but PUBLIC_URL is not set: calls are not recorded");
            None
        }
    }
}

/// Transfers, hang-ups and recordings through Twilio's Calls API.
struct TwilioCallControl {
    rest: CallsClient,
    /// `Some`: calls are recorded, reported to this URL.
    recording_callback: Option<String>,
    advisor_phone: String,
    caller_id: Option<String>,
    /// `Some`: transfers are warm (`WARM_TRANSFER` with `PUBLIC_URL`).
    warm: Option<crate::transfer::WarmTransfers>,
}

#[async_trait::async_trait]
impl CallControl for TwilioCallControl {
    fn can_transfer(&self) -> bool {
        true
    }

    async fn transfer_to_advisor(&self, call_sid: &CallSid) -> Result<(), PortError> {
        let mut dial = twiml::Dial::number(&self.advisor_phone).timeout_secs(25);
        if let Some(caller_id) = &self.caller_id {
            dial = dial.caller_id(caller_id);
        }
        let document = twiml::Response::new().dial(dial).to_xml();
        retry_rest(|| self.rest.update_call_twiml(call_sid, &document)).await
    }

    async fn hang_up(&self, call_sid: &CallSid) -> Result<(), PortError> {
        match self.rest.complete_call(call_sid).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_call_gone() => Ok(()),
            Err(err) => Err(rest_port_error(&err)),
        }
    }

    fn records_calls(&self) -> bool {
        self.recording_callback.is_some()
    }

    fn warm_transfers(&self) -> bool {
        self.warm.is_some()
    }

    async fn call_advisor(&self, call_sid: &CallSid, brief: &str) -> Result<(), PortError> {
        match &self.warm {
            Some(warm) => warm.call_advisor(call_sid, brief).await,
            None => Err(PortError::refused("warm transfers are off")),
        }
    }

    async fn cancel_advisor_call(&self, call_sid: &CallSid) -> Result<(), PortError> {
        match &self.warm {
            Some(warm) => warm.cancel(call_sid).await,
            None => Ok(()),
        }
    }

    async fn start_recording(&self, call_sid: &CallSid) -> Result<(), PortError> {
        let Some(callback) = &self.recording_callback else {
            return Err(PortError::refused("calls are not recorded"));
        };
        self.rest
            .start_recording(call_sid, callback)
            .await
            .map(|_| ())
            .map_err(|err| rest_port_error(&err))
    }
}

/// A REST call with a bounded retry for 429 and 5xx.
async fn retry_rest<F, Fut>(mut call: F) -> Result<(), PortError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<twilio::rest::Call, twilio::rest::RestError>>,
{
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=3 {
        match call().await {
            Ok(_) => return Ok(()),
            Err(err) if err.is_retryable() && attempt < 3 => {
                let wait = err
                    .retry_after()
                    .unwrap_or(delay)
                    .min(Duration::from_secs(2));
                warn!(attempt, error = %err, "twilio rest call failed; retrying");
                tokio::time::sleep(wait).await;
                delay *= 2;
            }
            Err(err) => return Err(rest_port_error(&err)),
        }
    }
    Err(PortError::unavailable("retries exhausted"))
}

/// A Twilio REST failure as a port error: 429 and 5xx (and the network) may succeed later.
pub(crate) fn rest_port_error(err: &twilio::rest::RestError) -> PortError {
    if err.is_retryable() {
        PortError::unavailable(err.to_string())
    } else {
        PortError::refused(err.to_string())
    }
}
