//! A simulated Twilio caller and scripted providers around the real `run_call`.
//!
//! The caller speaks the Media Streams protocol like Twilio: `connected`, `start`, then a 20 ms
//! `media` frame every 20 ms (silence, or a tone while the script says the caller is talking),
//! DTMF and `stop` at scripted offsets. It plays our audio in real time through Twilio's
//! playback buffer as `twilio::sim::Playback` models it (20 ms a tick): a `mark` is echoed when
//! the audio queued before it has played, and `clear` drops the queue and echoes every pending
//! mark at once. Everything runs on tokio's paused clock, so a minute of call takes milliseconds.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use call_pipeline::{
    CallDeps, CallOutcome, CallRecord, PhoneLink, PipelineConfig, RecordOutbox, StreamAdmission,
    ToolOutcome, ToolReply,
    fake::{RecordingControl, ScriptedCrm},
    issue_stream_token, run_call,
    signals::{self, SignalKind},
};
use chrono::{DateTime, TimeZone, Utc};
use conversation::{AppointmentInfo, CustomerProfile, ShopConfig, VehicleInfo};
use providers::{
    ToolSpec,
    fake::{FakeLlm, FakeStt, FakeTts, FakeTtsConfig, LlmReply, SttScript},
};
use serde_json::{Value, json};
use session_store::{MemorySessionStore, SessionStore, SessionStoreConfig};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use twilio::{
    AccountSid, CallSid, StreamSid,
    media::{Dtmf, Inbound, Media, Outbound, Stop, Track, decode_outbound},
};

pub(crate) const CALL_SID: &str = "CA00000000000000000000000000000001";
pub(crate) const STREAM_SID: &str = "MZ00000000000000000000000000000001";
pub(crate) const CALLER: &str = "+15555550123";
/// The shop's own number (`From` on calls the gateway places).
pub(crate) const SHOP_NUMBER: &str = "+15555550100";
pub(crate) const SECRET: &[u8] = b"test-secret-test-secret-test-secret";
pub(crate) const ACCOUNT: &str = "AC00000000000000000000000000000001";
/// The nonce of the token the simulated webhook issues.
pub(crate) const NONCE: &str = "0123456789abcdef0123456789abcdef";

/// 2026-11-24 10:00 in New York.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What the simulated caller does, at offsets from `start`.
#[derive(Debug, Clone)]
pub(crate) enum CallerAction {
    /// Send a tone instead of silence for this long (the energy VAD hears speech).
    Talk(Duration),
    /// Play this 8 kHz μ-law audio (whole 20 ms frames), then silence.
    Play(std::sync::Arc<[u8]>),
    /// Press a key.
    Dtmf(&'static str),
    /// Send garbage frames.
    Garbage(&'static str),
    /// Hang up: `stop`, then close the socket.
    HangUp,
}

pub(crate) struct Scenario {
    pub(crate) stt: SttScript,
    /// A recogniser to use instead of the scripted one (the script is then unused).
    pub(crate) stt_override: Option<Arc<dyn providers::SpeechToText>>,
    pub(crate) llm: Vec<LlmReply>,
    pub(crate) customer: Option<CustomerProfile>,
    pub(crate) caller: Option<&'static str>,
    /// The stream token to present; `None`: the one the webhook issues for these parameters.
    pub(crate) token: Option<String>,
    pub(crate) extra_params: Vec<(&'static str, String)>,
    pub(crate) actions: Vec<(Duration, CallerAction)>,
    pub(crate) can_transfer: bool,
    pub(crate) crm_fails: bool,
    /// What a booking tool call comes back with.
    pub(crate) booking_outcome: ToolOutcome,
    pub(crate) config: PipelineConfig,
    pub(crate) tts: FakeTtsConfig,
    /// The primary TTS refuses to connect, so the fallback voice must speak.
    pub(crate) tts_primary_fails: bool,
    /// Where to write the call capture, if anywhere.
    pub(crate) capture_dir: Option<std::path::PathBuf>,
    /// `Some(works)`: the call is recorded, and starting the recording works or fails.
    pub(crate) recording: Option<bool>,
    /// The offline agent answers when the LLM fails (`offline-agent`).
    pub(crate) offline_agent: bool,
    /// No LLM at all: only the offline agent (with `offline_agent`).
    pub(crate) no_llm: bool,
    /// Safety net: the caller hangs up at this offset if nothing else ended the call.
    pub(crate) max_duration: Duration,
    /// Transfers are warm (the advisor is rung first; `signals` says how that ends).
    pub(crate) warm: bool,
    /// Signals a webhook leaves for the call, at offsets from the start.
    pub(crate) signals: Vec<(Duration, SignalKind, String)>,
    /// The time the call happens at; default `now()`.
    pub(crate) clock: Option<DateTime<Utc>>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            stt: SttScript::new(),
            stt_override: None,
            llm: Vec::new(),
            customer: None,
            caller: Some(CALLER),
            token: None,
            extra_params: Vec::new(),
            actions: Vec::new(),
            can_transfer: true,
            crm_fails: false,
            booking_outcome: ToolOutcome::Succeeded,
            config: PipelineConfig::default(),
            // 40 ms a character: the greeting plays in about 4 s, before the first utterance at 5 s.
            tts: FakeTtsConfig {
                audio_per_char: ms(40),
                ..FakeTtsConfig::default()
            },
            max_duration: Duration::from_secs(60),
            capture_dir: None,
            tts_primary_fails: false,
            offline_agent: false,
            no_llm: false,
            recording: None,
            warm: false,
            signals: Vec::new(),
            clock: None,
        }
    }
}

/// What the test can look at after the call.
pub(crate) struct Report {
    pub(crate) outcome: CallOutcome,
    pub(crate) sent: Vec<(Duration, Outbound)>,
    pub(crate) llm: FakeLlm,
    pub(crate) tts: FakeTts,
    pub(crate) stt: FakeStt,
    pub(crate) crm: Arc<ScriptedCrm>,
    pub(crate) control: Arc<RecordingControl>,
    pub(crate) session: Option<serde_json::Map<String, Value>>,
    pub(crate) socket_closed_by_gateway: bool,
}

impl Report {
    /// The newest record the call wrote (the final one, after the one written at call start).
    pub(crate) fn final_record(&self) -> CallRecord {
        self.crm.records().pop().expect("the call wrote a record")
    }

    pub(crate) fn clears(&self) -> usize {
        self.sent
            .iter()
            .filter(|(_, m)| matches!(m, Outbound::Clear { .. }))
            .count()
    }

    pub(crate) fn media_frames(&self) -> usize {
        self.sent
            .iter()
            .filter(|(_, m)| matches!(m, Outbound::Media { .. }))
            .count()
    }

    /// Media frames sent after the last `clear` (a resumed agent's audio).
    pub(crate) fn media_after_last_clear(&self) -> usize {
        let from = self
            .sent
            .iter()
            .rposition(|(_, m)| matches!(m, Outbound::Clear { .. }))
            .map_or(0, |idx| idx + 1);
        self.sent[from..]
            .iter()
            .filter(|(_, m)| matches!(m, Outbound::Media { .. }))
            .count()
    }

    pub(crate) fn spoken_text(&self) -> String {
        self.tts.received_text()
    }

    pub(crate) fn summary(&self) -> Value {
        self.outcome.summary.clone().unwrap_or(Value::Null)
    }

    pub(crate) fn assistant_lines(&self) -> Vec<String> {
        self.outcome
            .history
            .iter()
            .filter_map(|m| match m {
                providers::ChatMessage::Assistant {
                    content: Some(text),
                    ..
                } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

pub(crate) async fn run(scenario: Scenario) -> Report {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let stt = FakeStt::new(scenario.stt.clone());
    let llm = FakeLlm::with_replies(scenario.llm.clone());
    let tts = FakeTts::new(scenario.tts.clone());
    let primary_tts = FakeTts::new(scenario.tts.clone());
    if scenario.tts_primary_fails {
        primary_tts.fail_next_connect(providers::ProviderError::Connect("refused".into()));
    }
    let crm = Arc::new(fake_crm(
        scenario.customer.clone(),
        scenario.crm_fails,
        scenario.booking_outcome,
    ));
    let control = Arc::new(
        RecordingControl::new()
            .can_transfer(scenario.can_transfer)
            .recording(scenario.recording)
            .warm(scenario.warm),
    );
    let sessions: Arc<MemorySessionStore> =
        Arc::new(MemorySessionStore::new(&SessionStoreConfig::default()).unwrap());
    let (records, worker) = RecordOutbox::new(crm.clone(), None);
    // Keeps the outbox worker alive until the leak check below, whatever the call does with its copy.
    let records_keepalive = records.clone();
    let shutdown = CancellationToken::new();
    let outbox = tokio::spawn(worker.with_backoff(ms(10), ms(100)).run(shutdown.clone()));

    let deps = CallDeps {
        stt: scenario
            .stt_override
            .clone()
            .unwrap_or_else(|| Arc::new(stt.clone())),
        llm: (!scenario.no_llm).then(|| Arc::new(llm.clone()) as Arc<dyn providers::LanguageModel>),
        offline_agent: scenario.offline_agent.then(|| {
            Arc::new(|conversation: &conversation::ConversationManager, now| {
                Arc::new(offline_agent::OfflineAgent::new(conversation, now))
                    as Arc<dyn providers::LanguageModel>
            }) as call_pipeline::OfflineAgentFactory
        }),
        tts: if scenario.tts_primary_fails {
            Arc::new(primary_tts)
        } else {
            Arc::new(tts.clone())
        },
        tts_fallback: scenario
            .tts_primary_fails
            .then(|| Arc::new(tts.clone()) as Arc<dyn providers::TextToSpeech>),
        crm: crm.clone(),
        sessions: sessions.clone(),
        call_control: control.clone(),
        shop: Arc::new(ShopConfig::default_shop()),
        admission: Some(Arc::new(StreamAdmission::new(
            Arc::from(SECRET),
            call_pipeline::AdmissionConfig {
                account_sid: Some(ACCOUNT.to_owned()),
                token_lifetime: Duration::from_secs(120),
                live_claim_ttl: Duration::from_secs(3600),
                max_calls: 10,
                max_pending: 10,
                instance: "test".to_owned(),
            },
            sessions.clone(),
        ))),
        pending_slot: None,
        handoff: None,
        records,
        now: {
            let at = scenario.clock.unwrap_or_else(now);
            Arc::new(move || at)
        },
        observer: None,
        capture_dir: scenario.capture_dir.clone(),
    };
    let (link, inbound_tx, outbound_rx) = PhoneLink::channel(1024);
    let tasks_before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let caller = tokio::spawn(simulate_caller(
        scenario_caller(&scenario),
        inbound_tx,
        outbound_rx,
    ));
    let webhooks: Vec<_> = scenario
        .signals
        .iter()
        .cloned()
        .map(|(at, kind, value)| {
            let sessions = sessions.clone();
            tokio::spawn(async move {
                tokio::time::sleep(at).await;
                signals::send(&*sessions, kind, CALL_SID, &value)
                    .await
                    .unwrap();
            })
        })
        .collect();
    let outcome = run_call(link, deps, Arc::new(scenario.config), &shutdown).await;
    let (sent, socket_closed_by_gateway) = caller.await.unwrap();
    for webhook in webhooks {
        webhook.abort();
        let _ = webhook.await;
    }
    // Every task of the call ended with it: nothing leaked.
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        tasks_before,
        "a call task outlived the call"
    );
    drop(records_keepalive);
    shutdown.cancel();
    outbox.await.unwrap();
    let session = sessions.get_session(CALL_SID).await.unwrap();
    Report {
        outcome,
        sent,
        llm,
        tts,
        stt,
        crm,
        control,
        session,
        socket_closed_by_gateway,
    }
}

struct CallerScript {
    start: String,
    actions: Vec<(Duration, CallerAction)>,
    max_duration: Duration,
}

fn scenario_caller(scenario: &Scenario) -> CallerScript {
    let mut params = serde_json::Map::new();
    if let Some(caller) = scenario.caller {
        params.insert("From".into(), json!(caller));
    }
    for (name, value) in &scenario.extra_params {
        params.insert((*name).into(), json!(value));
    }
    let token = scenario.token.clone().unwrap_or_else(|| {
        issue_stream_token(
            SECRET,
            CALL_SID,
            ACCOUNT,
            params
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str().unwrap_or_default())),
            scenario.clock.unwrap_or_else(now),
            NONCE,
        )
    });
    params.insert("token".into(), json!(token));
    let parameters: Vec<(String, String)> = params
        .into_iter()
        .map(|(name, value)| (name, value.as_str().unwrap_or_default().to_owned()))
        .collect();
    let start = twilio::sim::start_frame(ACCOUNT, CALL_SID, &stream_sid(), &parameters);
    let mut actions = scenario.actions.clone();
    actions.sort_by_key(|(at, _)| *at);
    CallerScript {
        start,
        actions,
        max_duration: scenario.max_duration,
    }
}

/// Plays Twilio's side until either side hangs up. Returns what the gateway sent, with offsets,
/// and whether the gateway closed the socket.
async fn simulate_caller(
    script: CallerScript,
    inbound_tx: tokio::sync::mpsc::Sender<String>,
    mut outbound_rx: tokio::sync::mpsc::Receiver<String>,
) -> (Vec<(Duration, Outbound)>, bool) {
    let t0 = Instant::now();
    let mut sent = Vec::new();
    let mut seq = 1u64;
    let connected = Inbound::Connected {
        protocol: "Call".to_owned(),
        version: "1.0.0".to_owned(),
    };
    if inbound_tx
        .send(connected.encode(&stream_sid()))
        .await
        .is_err()
    {
        return (sent, true);
    }
    if inbound_tx.send(script.start).await.is_err() {
        return (sent, true);
    }
    let mut actions: VecDeque<_> = script.actions.into();
    let mut tick = tokio::time::interval(ms(20));
    let mut chunk = 0u64;
    let mut talking_until: Option<Instant> = None;
    let mut playing: Option<(std::sync::Arc<[u8]>, usize)> = None;
    // Twilio's playback buffer (`twilio::sim::Playback`): 20 ms of our audio plays per tick.
    let mut playback = twilio::sim::Playback::default();
    loop {
        tokio::select! {
            frame = outbound_rx.recv() => {
                let Some(frame) = frame else { return (sent, true) };
                let message = decode_outbound(&frame).expect("the gateway sends valid Twilio messages");
                let now = Instant::now();
                if let Outbound::Media { stream_sid, .. } = &message {
                    assert_eq!(stream_sid.as_str(), STREAM_SID);
                }
                sent.push((now - t0, message.clone()));
                for name in playback.on_frame(message) {
                    seq += 1;
                    let echo = twilio::sim::mark_echo(&stream_sid(), seq, &name);
                    if inbound_tx.send(echo).await.is_err() { return (sent, true); }
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                for name in playback.play(160).marks {
                    seq += 1;
                    let echo = twilio::sim::mark_echo(&stream_sid(), seq, &name);
                    if inbound_tx.send(echo).await.is_err() { return (sent, true); }
                }
                let elapsed = now - t0;
                while actions.front().is_some_and(|(at, _)| *at <= elapsed) {
                    let (_, action) = actions.pop_front().unwrap();
                    seq += 1;
                    let frame = match action {
                        CallerAction::Talk(d) => { talking_until = Some(now + d); continue; }
                        CallerAction::Play(audio) => { playing = Some((audio, 0)); continue; }
                        CallerAction::Dtmf(digit) => Inbound::Dtmf(Dtmf {
                            sequence_number: seq,
                            track: Track::Inbound,
                            digit: digit.to_string(),
                        })
                        .encode(&stream_sid()),
                        CallerAction::Garbage(text) => text.to_owned(),
                        CallerAction::HangUp => {
                            let _ = inbound_tx.send(stop_frame(seq)).await;
                            return drain(sent, outbound_rx, t0).await;
                        }
                    };
                    if inbound_tx.send(frame).await.is_err() { return (sent, true); }
                }
                if elapsed >= script.max_duration {
                    let _ = inbound_tx.send(stop_frame(seq)).await;
                    return drain(sent, outbound_rx, t0).await;
                }
                chunk += 1;
                seq += 1;
                let talking = talking_until.is_some_and(|until| now < until);
                let payload = match &mut playing {
                    Some((audio, at)) if *at + 160 <= audio.len() => {
                        let frame = audio[*at..*at + 160].to_vec();
                        *at += 160;
                        frame
                    }
                    _ if talking => TONE.to_vec(),
                    _ => vec![0xFF; 160],
                };
                let media = Inbound::Media(Media {
                    sequence_number: seq,
                    track: Track::Inbound,
                    chunk,
                    timestamp_ms: chunk * 20,
                    payload,
                })
                .encode(&stream_sid());
                if inbound_tx.send(media).await.is_err() { return (sent, true); }
            }
        }
    }
}

async fn drain(
    mut sent: Vec<(Duration, Outbound)>,
    mut outbound_rx: tokio::sync::mpsc::Receiver<String>,
    t0: Instant,
) -> (Vec<(Duration, Outbound)>, bool) {
    while let Some(frame) = outbound_rx.recv().await {
        if let Ok(message) = decode_outbound(&frame) {
            sent.push((Instant::now() - t0, message));
        }
    }
    (sent, false)
}

/// The caller's "voice": a loud square-ish wave the energy detector hears as speech.
static TONE: std::sync::LazyLock<Vec<u8>> =
    std::sync::LazyLock::new(|| [0xA0, 0xA0, 0xA0, 0xA0, 0x20, 0x20, 0x20, 0x20].repeat(20));

fn stream_sid() -> StreamSid {
    StreamSid::from_wire(STREAM_SID)
}

/// Twilio's `stop` for the call.
fn stop_frame(seq: u64) -> String {
    Inbound::Stop(Stop {
        sequence_number: seq,
        account_sid: AccountSid::from_wire("AC00000000000000000000000000000001"),
        call_sid: CallSid::from_wire(CALL_SID),
    })
    .encode(&stream_sid())
}

/// The CRM of pipeline tests: one optional customer, a `book_appointment` tool that answers
/// with `outcome` every time, and lookups that fail when `fails`.
pub(crate) fn fake_crm(
    customer: Option<CustomerProfile>,
    fails: bool,
    outcome: ToolOutcome,
) -> ScriptedCrm {
    let booking = match outcome {
        ToolOutcome::Succeeded => ToolReply {
            result: json!({"ok": true, "appointment_id": 77}),
            outcome,
        },
        outcome => ToolReply {
            result: json!({"ok": false, "error": {"code": "scripted", "message": "scripted failure"}}),
            outcome,
        },
    };
    let mut crm = ScriptedCrm::new()
        .with_tools(vec![ToolSpec {
            name: "book_appointment".into(),
            description: "Books an appointment.".into(),
            parameters: json!({"type": "object", "properties": {"service": {"type": "string"}}}),
        }])
        .reply_always("book_appointment", booking);
    if let Some(customer) = customer {
        crm = crm.with_customer(customer);
    }
    if fails {
        crm = crm.unavailable();
    }
    crm
}

pub(crate) fn john_smith() -> CustomerProfile {
    CustomerProfile {
        id: 1,
        first_name: "John".into(),
        last_name: "Smith".into(),
        phone: CALLER.into(),
        email: None,
        vehicles: vec![VehicleInfo {
            id: 5,
            year: 2019,
            make: "Honda".into(),
            model: "Civic".into(),
            mileage: Some(42_000),
            vin: None,
            plate: None,
        }],
        upcoming_appointments: vec![AppointmentInfo {
            id: 9,
            service: "oil change".into(),
            starts_at: Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap(),
            duration_minutes: 30,
            vehicle: Some("2019 Honda Civic".into()),
            status: "scheduled".into(),
        }],
    }
}
