//! End-to-end tests over real sockets on 127.0.0.1: the real server (routes, signatures, the
//! pipeline, the SQLite CRM, in-memory sessions) with scripted providers, and a simulated Twilio
//! that posts signed webhooks and speaks Media Streams over a real WebSocket.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine as _;
use call_pipeline::{CallControl, PipelineConfig, fake::RecordingControl};
use futures::{SinkExt, StreamExt};
use providers::fake::{
    FakeLlm, FakeStt, FakeTts, FakeTtsConfig, LlmReply, SttScript, SttScriptEvent, SttTrigger,
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use twilio::{
    AccountSid, AuthToken, CallSid, StreamSid, media::Inbound, signature::compute_signature,
};

mod console;
mod fleet;
mod security;
mod transfer;

use crate::{
    app::{Overrides, Providers},
    config::Config,
    server,
};

const AUTH_TOKEN: &str = "twilio-test-token";
const API_TOKEN: &str = "api-test-token";
const TWILIO_ACCOUNT: &str = "AC00000000000000000000000000000001";
/// John Smith in fixtures/crm/demo.json.
const JOHN: &str = "+14135550100";

/// The gateway's clock in these tests: Tuesday 2026-11-24, 10:00 in the shop (the demo data's
/// anchor), so "December first" is next Tuesday whatever the date the tests run.
fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-24T15:00:00Z")
        .unwrap()
        .to_utc()
}

/// A counter bumped whenever something happens that a test may be waiting for.
#[derive(Clone)]
struct Signal(Arc<tokio::sync::watch::Sender<u64>>);

impl Signal {
    fn new() -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(0)))
    }

    fn bump(&self) {
        self.0.send_modify(|n| *n += 1);
    }

    /// Waits until `condition` holds, re-checking after every bump; panics after 10 s.
    async fn wait_until(&self, what: &str, condition: impl Fn() -> bool) {
        let mut changes = self.0.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            while !condition() {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        });
        waited
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }
}

/// The server under test and its handles.
struct Gateway {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
    stt: FakeStt,
    llm: FakeLlm,
    tts: FakeTts,
    /// The call control the gateway uses (unless a Twilio REST mock is set up).
    control: Arc<RecordingControl>,
    draining: tokio_util::sync::CancellationToken,
    database_url: String,
    _dir: tempfile::TempDir,
}

struct Setup {
    stt: SttScript,
    llm: Vec<LlmReply>,
    with_providers: bool,
    drain_secs: u64,
    seed: bool,
    redis_url: Option<String>,
    /// Base URL of a local Twilio REST mock: the real `TwilioCallControl` is used then.
    twilio_api: Option<String>,
    /// Whether the recording call control can transfer (false: escalations offer a callback).
    can_transfer: bool,
    /// Appended to the gateway's address to make `PUBLIC_URL` (a proxy's path prefix).
    public_path: &'static str,
    /// More environment; a blank value unsets a key the harness sets.
    env: Vec<(&'static str, String)>,
    /// Seconds added to the fixed test clock (a test moves time by storing into it).
    clock_offset: Arc<std::sync::atomic::AtomicI64>,
    /// The port to listen on (a restarted gateway comes back where its load balancer expects it);
    /// `None`: any free port.
    listen_port: Option<u16>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            stt: SttScript::new(),
            llm: Vec::new(),
            with_providers: true,
            drain_secs: 10,
            seed: true,
            redis_url: None,
            twilio_api: None,
            can_transfer: true,
            public_path: "",
            env: Vec::new(),
            clock_offset: Arc::default(),
            listen_port: None,
        }
    }
}

async fn start(setup: Setup) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/gw.db?mode=rwc", dir.path().display());
    let listener = TcpListener::bind(("127.0.0.1", setup.listen_port.unwrap_or(0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let mut env: HashMap<&str, String> = HashMap::from([
        ("PUBLIC_URL", format!("{base}{}", setup.public_path)),
        ("DATABASE_URL", database_url.clone()),
        ("TWILIO_AUTH_TOKEN", AUTH_TOKEN.to_owned()),
        ("API_TOKEN", API_TOKEN.to_owned()),
        ("SHOP_CONFIG", "../../fixtures/shop.toml".to_owned()),
        ("SHUTDOWN_DRAIN_SECS", setup.drain_secs.to_string()),
        ("CAPTURE_DIR", dir.path().display().to_string()),
        (
            "RECORD_SPOOL_DIR",
            dir.path().join("spool").display().to_string(),
        ),
    ]);
    if let Some(url) = &setup.redis_url {
        env.insert("REDIS_URL", url.clone());
    }
    if let Some(api) = &setup.twilio_api {
        env.insert("TWILIO_API_BASE_URL", api.clone());
        env.insert("TWILIO_ACCOUNT_SID", TWILIO_ACCOUNT.to_owned());
        env.insert("ADVISOR_PHONE", "+14135550999".to_owned());
        env.insert("TWILIO_FROM_NUMBER", "+14135550000".to_owned());
    }
    for (key, value) in &setup.env {
        env.insert(key, value.clone());
    }
    let config = Config::from_lookup(|key| env.get(key).cloned()).unwrap();
    if setup.seed {
        crate::commands::seed_demo(
            &config,
            Some(std::path::Path::new("../../fixtures/crm/demo.json")),
            now(),
        )
        .await
        .unwrap();
    }
    let stt = FakeStt::new(setup.stt);
    let llm = FakeLlm::with_replies(setup.llm);
    let tts = FakeTts::new(FakeTtsConfig {
        audio_per_char: Duration::from_millis(2),
        first_chunk_delay: Duration::from_millis(5),
        chunk_interval: Duration::from_millis(1),
        ..FakeTtsConfig::default()
    });
    let control = Arc::new(RecordingControl::new().can_transfer(setup.can_transfer));
    let draining = tokio_util::sync::CancellationToken::new();
    let overrides = Overrides {
        providers: setup.with_providers.then(|| Providers {
            stt: Arc::new(stt.clone()),
            llm: Some(Arc::new(llm.clone())),
            tts: Arc::new(tts.clone()),
            tts_fallback: None,
        }),
        call_control: setup
            .twilio_api
            .is_none()
            .then(|| control.clone() as Arc<dyn CallControl>),
        pipeline: Some(PipelineConfig {
            silence_check_in: Duration::from_secs(30),
            ..PipelineConfig::default()
        }),
        crm: None,
        draining: Some(draining.clone()),
        webhook_timing: Some(crate::outcome_webhook::WebhookTiming {
            poll_every: Duration::from_millis(50),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_attempts: 5,
            request_timeout: Duration::from_secs(2),
        }),
        now: Some({
            let offset = setup.clock_offset.clone();
            Arc::new(move || {
                now() + chrono::Duration::seconds(offset.load(std::sync::atomic::Ordering::SeqCst))
            })
        }),
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(config, overrides, None, listener, async move {
        let _ = stop_rx.await;
    }));
    Gateway {
        base,
        stop: Some(stop_tx),
        task,
        stt,
        llm,
        tts,
        control: control.clone(),
        draining,
        database_url,
        _dir: dir,
    }
}

impl Gateway {
    /// Waits (10 s at most) until what the call control was asked satisfies `condition`.
    async fn wait_for_control(
        &self,
        what: &str,
        condition: impl Fn(&call_pipeline::fake::ControlLog) -> bool,
    ) {
        tokio::time::timeout(Duration::from_secs(10), self.control.wait_until(condition))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    async fn shutdown(mut self) -> Self {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
        self
    }

    async fn post_webhook(
        &self,
        path: &str,
        form: &[(&str, &str)],
        sign: bool,
    ) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        let signature = compute_signature(&AuthToken::new(AUTH_TOKEN), &url, form);
        let mut request = reqwest::Client::new().post(&url).form(form);
        if sign {
            request = request.header("X-Twilio-Signature", signature);
        }
        request.send().await.unwrap()
    }

    async fn voice_twiml(&self, call_sid: &str, from: &str) -> String {
        self.voice_twiml_with(
            "/twilio/voice",
            &[
                ("CallSid", call_sid),
                ("AccountSid", TWILIO_ACCOUNT),
                ("From", from),
                ("To", "+14135550000"),
                ("CallStatus", "ringing"),
                ("Direction", "inbound"),
            ],
        )
        .await
    }

    /// A call from `from` that hangs up once the agent's audio flows and it has said `words`.
    async fn call_until_said(&self, call_sid: &str, from: &str, words: &str) {
        let twiml = self.voice_twiml(call_sid, from).await;
        let call = TwilioStream::open(self, call_sid, &parameters(&twiml), true).await;
        call.wait_for_audio(1000).await;
        call.wait_until(words, || self.tts.received_text().contains(words))
            .await;
        call.hang_up(call_sid).await;
    }

    /// The TwiML answer to a signed voice webhook posted to `path` (which may carry a query).
    async fn voice_twiml_with(&self, path: &str, form: &[(&str, &str)]) -> String {
        let response = self.post_webhook(path, form, true).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }
}

/// Posts `form` to `sent_to`, signed as Twilio signs it for `signed_for` (the public URL it was
/// told; a gateway reached past its proxy or load balancer), and returns the answer's body.
async fn post_signed_for(signed_for: &str, sent_to: &str, form: &[(&str, &str)]) -> String {
    let signature = compute_signature(&AuthToken::new(AUTH_TOKEN), signed_for, form);
    reqwest::Client::new()
        .post(sent_to)
        .form(form)
        .header("X-Twilio-Signature", signature)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `GET` an operator API path with the bearer token; the JSON answer.
async fn api_json(gateway: &Gateway, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", gateway.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

/// The gateway's database, opened beside it (as an operator's tool would).
async fn open_crm(database_url: &str) -> crm::Crm {
    crm::connect_and_migrate(
        database_url,
        &crm::CrmConfig::default(),
        conversation::ShopConfig::default_shop(),
    )
    .await
    .unwrap()
}

/// `<Parameter name="x" value="y"/>` pairs of a TwiML document.
fn parameters(twiml: &str) -> Vec<(String, String)> {
    twilio::sim::parse_twiml(twiml)
        .map(|stream| stream.parameters)
        .unwrap_or_default()
}

/// A simulated Twilio media stream over a real WebSocket.
struct TwilioStream {
    /// Bumped on every frame the gateway sends.
    frames: Signal,
    media_tx: tokio::sync::mpsc::Sender<String>,
    received: Arc<Mutex<Vec<Value>>>,
    closed: oneshot::Receiver<()>,
    sender: JoinHandle<()>,
    reader: JoinHandle<()>,
}

impl TwilioStream {
    /// Opens the stream with the parameters from the TwiML and sends `connected` and `start`.
    async fn open(
        gateway: &Gateway,
        call_sid: &str,
        params: &[(String, String)],
        signed: bool,
    ) -> Self {
        Self::open_at(&gateway.base, call_sid, params, signed).await
    }

    /// `open` against any base URL (a load balancer in front of gateways).
    async fn open_at(
        base: &str,
        call_sid: &str,
        params: &[(String, String)],
        signed: bool,
    ) -> Self {
        Self::open_signed_for(base, signed.then_some(base), call_sid, params).await
    }

    /// Opens the stream at `base`, signed (when `signed_for` is given) for the URL Twilio was
    /// told, `signed_for`'s origin: a gateway reached past its load balancer.
    async fn open_signed_for(
        base: &str,
        signed_for: Option<&str>,
        call_sid: &str,
        params: &[(String, String)],
    ) -> Self {
        let ws_url = format!("{}/twilio/stream", base.replacen("http://", "ws://", 1));
        let mut request = ws_url.as_str().into_client_request().unwrap();
        if let Some(public) = signed_for {
            let signed_url = format!("{}/twilio/stream", public.replacen("http://", "wss://", 1));
            let signature =
                compute_signature::<&str, &str>(&AuthToken::new(AUTH_TOKEN), &signed_url, &[]);
            request
                .headers_mut()
                .insert("X-Twilio-Signature", signature.parse().unwrap());
        }
        // A socket that just closed frees its pending slot a moment after the client sees the
        // close: retry the few upgrades refused meanwhile (503) without waiting on a clock.
        let mut attempts = 0;
        let (socket, _) = loop {
            match tokio_tungstenite::connect_async(request.clone()).await {
                Ok(connected) => break connected,
                Err(err) if err.to_string().contains("503") && attempts < 100 => {
                    attempts += 1;
                    tokio::task::yield_now().await;
                }
                Err(err) => panic!("stream upgrade failed: {err}"),
            }
        };
        let (mut sink, mut stream) = socket.split();
        let sid = StreamSid::from_wire("MZ1");
        let connected = Inbound::Connected {
            protocol: "Call".to_owned(),
            version: "1.0.0".to_owned(),
        };
        sink.send(Message::text(connected.encode(&sid)))
            .await
            .unwrap();
        let start = twilio::sim::start_frame(TWILIO_ACCOUNT, call_sid, &sid, params);
        sink.send(Message::text(start)).await.unwrap();
        let (media_tx, mut media_rx) = tokio::sync::mpsc::channel::<String>(64);
        let (closed_tx, closed) = oneshot::channel();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (echo_tx, mut echo_rx) = tokio::sync::mpsc::channel::<String>(256);
        let received_in = received.clone();
        let frames = Signal::new();
        let frames_in = frames.clone();
        // Reader: records what the gateway sends and echoes marks (as if played at once).
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if let Some(name) = value["mark"]["name"].as_str() {
                        let echo = twilio::sim::mark_echo(&StreamSid::from_wire("MZ1"), 9, name);
                        let _ = echo_tx.send(echo).await;
                    }
                    received_in.lock().unwrap().push(value);
                    frames_in.bump();
                }
            }
            let _ = closed_tx.send(());
        });
        // Sender: 20 ms silence frames, plus whatever the test or the echoes queue.
        let sender = tokio::spawn(async move {
            let sid = StreamSid::from_wire("MZ1");
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut chunk = 0u64;
            loop {
                let frame = tokio::select! {
                    _ = tick.tick() => {
                        chunk += 1;
                        Inbound::Media(twilio::media::Media {
                            sequence_number: chunk + 1,
                            track: twilio::media::Track::Inbound,
                            chunk,
                            timestamp_ms: chunk * 20,
                            payload: vec![0xFF; 160],
                        })
                        .encode(&sid)
                    }
                    Some(echo) = echo_rx.recv() => echo,
                    frame = media_rx.recv() => match frame { Some(frame) => frame, None => break },
                };
                let stop = frame.contains(r#""event":"stop""#);
                if sink.send(Message::text(frame)).await.is_err() || stop {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        Self {
            frames,
            media_tx,
            received,
            closed,
            sender,
            reader,
        }
    }

    fn media_bytes(&self) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["event"] == "media")
            .map(|m| {
                base64::engine::general_purpose::STANDARD
                    .decode(m["media"]["payload"].as_str().unwrap())
                    .unwrap()
                    .len()
            })
            .sum()
    }

    /// The connection breaks: no `stop`, no closing handshake (a network cut between Twilio and
    /// the gateway).
    fn cut(self) {
        self.sender.abort();
        self.reader.abort();
    }

    /// Whether the gateway has not closed the socket.
    fn still_open(&mut self) -> bool {
        matches!(
            self.closed.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        )
    }

    async fn send(&self, frame: String) {
        let _ = self.media_tx.send(frame).await;
    }

    async fn hang_up(self, call_sid: &str) {
        let stop = Inbound::Stop(twilio::media::Stop {
            sequence_number: 999,
            account_sid: AccountSid::from_wire(TWILIO_ACCOUNT),
            call_sid: CallSid::from_wire(call_sid),
        });
        self.send(stop.encode(&StreamSid::from_wire("MZ1"))).await;
        let _ = self.sender.await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.closed).await;
    }

    /// Waits until the gateway has sent at least `bytes` of audio.
    async fn wait_for_audio(&self, bytes: usize) {
        self.frames
            .wait_until("audio", || self.media_bytes() >= bytes)
            .await;
    }

    /// Waits until `condition` holds, checked whenever the gateway sends a frame (spoken text
    /// becomes audio on this socket, so TTS conditions are checked at the right moments).
    async fn wait_until(&self, what: &str, condition: impl Fn() -> bool) {
        self.frames.wait_until(what, condition).await;
    }
}

#[tokio::test]
async fn webhook_signatures_are_enforced_and_twiml_connects_a_stream() {
    let gateway = start(Setup::default()).await;
    let form = [("CallSid", "CA100"), ("From", JOHN)];
    assert_eq!(
        gateway
            .post_webhook("/twilio/voice", &form, false)
            .await
            .status(),
        403,
        "unsigned"
    );
    let url = format!("{}/twilio/voice", gateway.base);
    let forged = reqwest::Client::new()
        .post(&url)
        .form(&form)
        .header(
            "X-Twilio-Signature",
            compute_signature(&AuthToken::new("wrong"), &url, &form),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "signed with another token");
    let twiml = gateway.voice_twiml("CA100", JOHN).await;
    // When the stream ends, Twilio asks the action URL what next (`stream_ended`).
    let head = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="{}/twilio/stream-ended"><Stream url="wss://127.0.0.1:"#,
        gateway.base
    );
    assert!(twiml.starts_with(&head), "{twiml}");
    let params: HashMap<_, _> = parameters(&twiml).into_iter().collect();
    assert_eq!(params["From"], JOHN);
    assert!(params["token"].starts_with("v1."), "{}", params["token"]);
    assert!(
        call_pipeline::verify_stream_token(
            b"",
            "CA100",
            TWILIO_ACCOUNT,
            &params,
            now(),
            Duration::from_secs(120)
        )
        .is_err(),
        "token is keyed by the server secret"
    );
    let status = gateway
        .post_webhook(
            "/twilio/status",
            &[
                ("CallSid", "CA100"),
                ("CallStatus", "completed"),
                ("CallDuration", "42"),
            ],
            true,
        )
        .await;
    assert_eq!(status.status(), 204);
    gateway.shutdown().await;
}

/// John asks for an oil change on December first at 2 pm, then says yes.
fn oil_change_then_yes() -> SttScript {
    SttScript::new()
        .step(
            SttTrigger::AfterAudioFrames(15),
            SttScriptEvent::speech_final("I need an oil change on December first at 2pm"),
        )
        .step(
            SttTrigger::AfterAudioFrames(60),
            SttScriptEvent::speech_final("yes please book it"),
        )
}

/// The model's read-back of that request.
fn read_back() -> LlmReply {
    LlmReply::text(
        "Just to confirm, an oil change on Tuesday, December first at 2pm?",
        Duration::ZERO,
    )
}

/// John's profile, once it holds the oil change on December first at 2 pm (New York).
async fn assert_oil_change_booked(crm: &crm::Crm) -> conversation::CustomerProfile {
    let profile = crm.lookup_customer(JOHN, now()).await.unwrap().unwrap();
    assert!(
        profile
            .upcoming_appointments
            .iter()
            .any(|a| a.service == "oil change"
                && a.starts_at.to_rfc3339().starts_with("2026-12-01T19:00")),
        "{:?}",
        profile.upcoming_appointments
    );
    profile
}

#[tokio::test]
async fn existing_customer_books_an_appointment_end_to_end() {
    let book = providers::ToolCall {
        id: "call_1".into(),
        name: "book_appointment".into(),
        arguments: json!({"service": "oil change", "start": "2026-12-01T14:00"}).to_string(),
    };
    let gateway = start(Setup {
        stt: oil_change_then_yes(),
        llm: vec![
            read_back(),
            LlmReply::tool_calls([book]),
            LlmReply::text("You're all set, John.", Duration::ZERO),
        ],
        ..Setup::default()
    })
    .await;
    gateway
        .call_until_said("CA200", JOHN, "You're all set")
        .await;
    let gateway = gateway.shutdown().await;
    assert!(
        gateway.tts.received_text().starts_with("Hi John"),
        "{}",
        gateway.tts.received_text()
    );
    let tool_result = gateway.llm.requests()[2].messages.last().cloned().unwrap();
    let providers::ChatMessage::Tool { content, .. } = tool_result else {
        panic!("tool result last")
    };
    assert!(content.contains("\"ok\":true"), "{content}");
    // The appointment row exists in the database.
    let crm = open_crm(&gateway.database_url).await;
    let profile = assert_oil_change_booked(&crm).await;
    // And the final call record, through the outbox.
    let record = crm
        .get_call("CA200")
        .await
        .unwrap()
        .expect("call record written");
    assert_eq!(record.customer_id, Some(profile.id));
    assert_eq!(record.status, "completed");
}

/// The LLM provider goes down in the middle of a call (its second request answers 500): the
/// offline agent takes the turn, books through the same tools and the real database, and the
/// call record says which turn it answered.
#[tokio::test]
async fn an_llm_outage_mid_call_still_ends_with_the_appointment_booked() {
    let gateway = start(Setup {
        stt: oil_change_then_yes(),
        llm: vec![
            read_back(),
            LlmReply::Fail(providers::ProviderError::Http {
                status: 500,
                message: "the provider is down".into(),
            }),
        ],
        ..Setup::default()
    })
    .await;
    gateway
        .call_until_said("CA201", JOHN, "You're all set")
        .await;
    let gateway = gateway.shutdown().await;
    assert_eq!(
        gateway.llm.requests().len(),
        2,
        "the LLM was asked twice, then not again"
    );
    let crm = open_crm(&gateway.database_url).await;
    assert_oil_change_booked(&crm).await;
    let record = crm
        .get_call("CA201")
        .await
        .unwrap()
        .expect("call record written");
    assert_eq!(record.status, "completed");
    let said = record.transcript.expect("the transcript").to_string();
    assert!(
        said.contains(
            "You're all set: your oil change is booked for Tuesday, December 1 at 2 PM. Is there \
             anything else I can help you with?"
        ),
        "{said}"
    );
    let summary = record.summary.expect("the record's summary");
    assert_eq!(summary["offline_turns"], json!([3]), "{summary}");
}

/// With `OUTCOME_WEBHOOK_URL` set, a booking call's outcome reaches the shop's endpoint once
/// the call ends: signed, keyed by the call, with the customer and the appointment.
#[tokio::test]
async fn a_finished_call_is_posted_to_the_outcome_webhook() {
    let (url, received) = crate::outcome_webhook::tests::receiver(vec![503]).await;
    let clock_offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let book = providers::ToolCall {
        id: "call_1".into(),
        name: "book_appointment".into(),
        arguments: json!({"service": "oil change", "start": "2026-12-01T14:00"}).to_string(),
    };
    let gateway = start(Setup {
        stt: SttScript::new().step(
            SttTrigger::AfterAudioFrames(15),
            SttScriptEvent::speech_final("book me an oil change on December first at 2pm"),
        ),
        llm: vec![
            LlmReply::tool_calls([book]),
            LlmReply::text("You're all set, John.", Duration::ZERO),
        ],
        env: vec![
            ("OUTCOME_WEBHOOK_URL", url.to_string()),
            (
                "OUTCOME_WEBHOOK_SECRET",
                "e2e-webhook-secret-123".to_owned(),
            ),
        ],
        clock_offset: clock_offset.clone(),
        ..Setup::default()
    })
    .await;
    gateway
        .call_until_said("CA202", JOHN, "You're all set")
        .await;
    received
        .wait_for(1, "the webhook was sent when the call ended")
        .await;
    // The test clock stands still: once the failed attempt is recorded (its retry is due at
    // the clock's time then plus the backoff), move it past the backoff.
    let crm = open_crm(&gateway.database_url).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while crm
        .outcome_delivery("CA202")
        .await
        .unwrap()
        .is_none_or(|delivery| delivery.attempts == 0)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the 503 was recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    clock_offset.store(5, std::sync::atomic::Ordering::SeqCst);
    received
        .wait_for(2, "the webhook was retried after its 503")
        .await;
    let (headers, body) = received.lock()[1].clone();
    assert_eq!(headers["idempotency-key"], "CA202");
    let report: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(report["outcome"], "booked", "{report}");
    assert_eq!(report["customer"]["first_name"], "John");
    assert_eq!(report["appointment"]["service"], "oil change");
    assert_eq!(report["call_type"], "inbound_existing");
    gateway.shutdown().await;
    assert!(
        crm.outcome_delivery("CA202")
            .await
            .unwrap()
            .unwrap()
            .delivered_at
            .is_some()
    );
}

#[tokio::test]
async fn forged_stream_token_is_closed_before_any_provider_opens() {
    let gateway = start(Setup::default()).await;
    let forged = vec![
        ("From".to_owned(), JOHN.to_owned()),
        ("token".to_owned(), "forged".to_owned()),
    ];
    let call = TwilioStream::open(&gateway, "CA300", &forged, true).await;
    tokio::time::timeout(Duration::from_secs(5), call.closed)
        .await
        .expect("socket closed")
        .ok();
    assert!(gateway.stt.sessions().is_empty());
    assert!(gateway.tts.sessions().is_empty());
    gateway.shutdown().await;
}

#[tokio::test]
async fn forged_upgrade_signature_is_refused() {
    let gateway = start(Setup::default()).await;
    let ws_url = format!(
        "{}/twilio/stream",
        gateway.base.replacen("http://", "ws://", 1)
    );
    let mut request = ws_url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "X-Twilio-Signature",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".parse().unwrap(),
    );
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    gateway.shutdown().await;
}

#[tokio::test]
async fn missing_providers_hand_the_caller_to_the_advisor() {
    let gateway = start(Setup {
        with_providers: false,
        ..Setup::default()
    })
    .await;
    let twiml = gateway.voice_twiml("CA400", JOHN).await;
    assert!(
        twiml.contains("<Say>Thanks for calling Main Street Auto Care."),
        "{twiml}"
    );
    assert!(
        twiml.contains("<Dial timeout=\"25\"><Number>+15555550100</Number></Dial>"),
        "{twiml}"
    );
    assert!(!twiml.contains("<Stream"), "{twiml}");
    gateway.shutdown().await;
}

#[tokio::test]
async fn manager_request_transfers_through_call_control() {
    let gateway = start(Setup {
        stt: SttScript::new().step(
            SttTrigger::AfterAudioFrames(15),
            SttScriptEvent::speech_final("I want to speak to a manager"),
        ),
        ..Setup::default()
    })
    .await;
    let twiml = gateway.voice_twiml("CA500", "+14135550199").await;
    let call = TwilioStream::open(&gateway, "CA500", &parameters(&twiml), true).await;
    gateway
        .wait_for_control("the transfer", |log| !log.transfers.is_empty())
        .await;
    call.hang_up("CA500").await;
    let gateway = gateway.shutdown().await;
    assert_eq!(gateway.control.log().transfers, ["CA500"]);
    assert!(gateway.llm.requests().is_empty());
}

#[tokio::test]
async fn sigterm_drains_calls_in_progress_and_turns_new_ones_away() {
    let gateway = start(Setup {
        stt: SttScript::new().step(
            SttTrigger::AfterAudioFrames(40),
            SttScriptEvent::speech_final("what are your hours"),
        ),
        llm: vec![LlmReply::text(
            "We're open eight to six on weekdays.",
            Duration::ZERO,
        )],
        drain_secs: 20,
        ..Setup::default()
    })
    .await;
    let twiml = gateway.voice_twiml("CA600", JOHN).await;
    let call = TwilioStream::open(&gateway, "CA600", &parameters(&twiml), true).await;
    call.wait_for_audio(500).await;
    let Gateway {
        base,
        stop,
        task,
        tts,
        database_url,
        draining,
        _dir,
        ..
    } = gateway;
    stop.unwrap().send(()).unwrap();
    draining.cancelled().await;
    // Draining: the call in progress goes on; a new caller is handed to a person.
    let webhook_url = format!("{base}/twilio/voice");
    let form = [("CallSid", "CA601"), ("From", JOHN)];
    let signature = compute_signature(&AuthToken::new(AUTH_TOKEN), &webhook_url, &form);
    let response = reqwest::Client::new()
        .post(&webhook_url)
        .form(&form)
        .header("X-Twilio-Signature", &signature)
        .send()
        .await
        .unwrap();
    let turned_away = response.text().await.unwrap();
    assert!(turned_away.contains("<Dial"), "{turned_away}");
    call.wait_until("the reply during the drain", || {
        tts.received_text().contains("open eight to six")
    })
    .await;
    assert!(!task.is_finished(), "the server waits for the call");
    call.hang_up("CA600").await;
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("server stopped after the call")
        .unwrap()
        .unwrap();
    let crm = open_crm(&database_url).await;
    let record = crm
        .get_call("CA600")
        .await
        .unwrap()
        .expect("final record saved");
    assert_eq!(record.status, "completed");
}

/// Twilio's `<Connect action>` request after a stream ended: signed, and answered by how it
/// ended (a lost stream resumes, at most twice; the rest goes to a person or hangs up).
#[tokio::test]
async fn a_lost_stream_is_resumed_at_most_twice_and_an_unclear_one_goes_to_a_person() {
    let gateway = start(Setup::default()).await;
    let form = |sid, status| {
        [
            ("CallSid", sid),
            ("AccountSid", TWILIO_ACCOUNT),
            ("From", JOHN),
            ("To", "+14135550000"),
            ("CallStatus", status),
            ("Direction", "inbound"),
        ]
    };
    let ended = "/twilio/stream-ended";
    let unsigned = gateway
        .post_webhook(ended, &form("CA910", "in-progress"), false)
        .await;
    assert_eq!(unsigned.status(), 403);
    let gw = &gateway;
    let answer = |sid, status| async move {
        let response = gw.post_webhook(ended, &form(sid, status), true).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    };
    // Twilio says the call is over: nothing to do.
    let over = answer("CA910", "completed").await;
    assert!(
        over.contains("<Hangup/>") && !over.contains("<Dial"),
        "{over}"
    );
    // No session: nothing to resume, so a person takes the call.
    let unknown = answer("CA910", "in-progress").await;
    assert!(unknown.contains("<Dial"), "{unknown}");
    // A call whose connection breaks without `stop`.
    let twiml = gateway.voice_twiml("CA911", JOHN).await;
    let call = TwilioStream::open(&gateway, "CA911", &parameters(&twiml), true).await;
    call.wait_for_audio(500).await;
    call.cut();
    let mut resumes = 0;
    for _ in 0..3 {
        // The gateway notices the cut on its own time; until then the call looks live.
        let next = answer("CA911", "in-progress").await;
        if next.contains("<Connect action=") {
            let params: HashMap<_, _> = parameters(&next).into_iter().collect();
            assert_eq!(params["resume"], "1", "{next}");
            assert_eq!(params["From"], JOHN);
            resumes += 1;
        } else {
            assert!(next.contains("<Dial"), "{next}");
        }
    }
    assert_eq!(resumes, 2, "two resumes, then a person");
    // Nobody opened those streams (the caller hung up meanwhile): once Twilio says the call is
    // over, it leaves the active calls.
    // The final session state is written before the record is handed to the outbox, which
    // stores it a moment later: wait for both.
    let call_json = || api_json(&gateway, "/api/calls/CA911");
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let call = call_json().await;
            if call["session"]["status"] == "lost" && call["record"]["status"] == "lost" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    waited
        .await
        .expect("the call ends as lost, in its session and its record");
    let active = || async { api_json(&gateway, "/api/calls").await["active"].clone() };
    assert_eq!(
        active().await,
        json!(["CA911"]),
        "a lost call may still be resumed"
    );
    let status = gateway
        .post_webhook(
            "/twilio/status",
            &[("CallSid", "CA911"), ("CallStatus", "completed")],
            true,
        )
        .await;
    assert_eq!(status.status(), 204);
    assert_eq!(active().await, json!([]));
    gateway.shutdown().await;
}

#[tokio::test]
async fn health_readiness_and_api_auth() {
    let gateway = start(Setup::default()).await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{}/healthz", gateway.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = client
        .get(format!("{}/readyz", gateway.base))
        .send()
        .await
        .unwrap();
    let status = ready.status();
    let body: Value = ready.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["sessions"], "ok");
    let unauthorized = client
        .get(format!("{}/api/calls", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let listed = client
        .get(format!("{}/api/calls", gateway.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let missing = client
        .get(format!("{}/api/calls/CA999", gateway.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad = client
        .post(format!("{}/api/calls", gateway.base))
        .bearer_auth(API_TOKEN)
        .json(&json!({"to": JOHN, "call_type": "telemarketing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    gateway.shutdown().await;
}

/// A `redis-server` of the test's own, killed on drop.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
}

impl OwnRedis {
    /// Starts one on `port` (0 = a free port) and waits for its "Ready to accept connections" log
    /// line; `None` when redis-server is not installed.
    async fn start(port: u16) -> Option<Self> {
        use std::io::BufRead;
        let port = if port == 0 {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        } else {
            port
        };
        // Without the test runner's libfaketime (.ci/run moves the clock ahead): redis-server
        // aborts under it.
        let mut child = std::process::Command::new("redis-server")
            .env_remove("LD_PRELOAD")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (ready_tx, ready_rx) = oneshot::channel();
        // A plain thread reads the log, so the pipe never fills up while the server runs.
        std::thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("Ready to accept connections")
                    && let Some(tx) = ready_tx.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        let redis = Self { child, port };
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .unwrap_or_else(|_| panic!("redis-server did not start on port {port}"))
            .expect("redis-server exited before it was ready");
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Redis dies mid-call: the call goes on, and the final state reaches Redis once it is back.
#[tokio::test]
async fn redis_killed_mid_call_still_gets_the_final_state() {
    let Some(mut redis) = OwnRedis::start(0).await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is required under CI"
        );
        eprintln!("skipping: redis-server is not installed");
        return;
    };
    let gateway = start(Setup {
        stt: SttScript::new().step(
            SttTrigger::AfterAudioFrames(40),
            SttScriptEvent::speech_final("what are your hours"),
        ),
        llm: vec![LlmReply::text(
            "We're open eight to six on weekdays.",
            Duration::ZERO,
        )],
        redis_url: Some(redis.url()),
        ..Setup::default()
    })
    .await;
    let twiml = gateway.voice_twiml("CA700", JOHN).await;
    let call = TwilioStream::open(&gateway, "CA700", &parameters(&twiml), true).await;
    call.wait_for_audio(500).await;
    redis.kill();
    call.wait_until("the reply with Redis down", || {
        gateway.tts.received_text().contains("open eight to six")
    })
    .await;
    call.hang_up("CA700").await;
    let port = redis.port;
    let _restarted = OwnRedis::start(port).await.expect("redis-server restarts");
    let url = format!("redis://127.0.0.1:{port}");
    let sessions = session_store::RedisSessionStore::connect(
        &url,
        session_store::SessionStoreConfig::default(),
    )
    .await
    .unwrap();
    // The store's flusher retries on its own 500 ms timer and nothing outside the process says when
    // it has written, so this reads Redis until the state is there (bounded at 6 s).
    let mut saved = None;
    for _ in 0..300 {
        saved = session_store::SessionStore::get_session(&sessions, "CA700")
            .await
            .ok()
            .flatten();
        if saved
            .as_ref()
            .is_some_and(|s| s.get("status") == Some(&json!("completed")))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let saved = saved.expect("the session reached Redis after the outage");
    assert_eq!(saved["status"], "completed");
    assert_eq!(saved["conversation_summary"]["intent"], "check_hours");
    gateway.shutdown().await;
}

/// What the Twilio REST mock received: method, path, authorization header, form fields.
type RestLog = Arc<Mutex<Vec<(String, String, String, Vec<(String, String)>)>>>;

/// A local stand-in for api.twilio.com: records each request and answers like the Calls API.
async fn twilio_rest_mock() -> (String, RestLog, Signal) {
    use axum::{extract::Request, routing::any};
    let log: RestLog = Arc::default();
    let log_in = log.clone();
    let requested = Signal::new();
    let requested_in = requested.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        any(move |request: Request| {
            let log = log_in.clone();
            let requested = requested_in.clone();
            async move {
                let method = request.method().to_string();
                let path = request.uri().path().to_owned();
                let auth = request
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap();
                let form: Vec<(String, String)> =
                    url::form_urlencoded::parse(&body).into_owned().collect();
                log.lock().unwrap().push((method, path.clone(), auth, form));
                requested.bump();
                let (status, sid) = if path.ends_with("/Calls.json") {
                    (axum::http::StatusCode::CREATED, "CA900".to_owned())
                } else {
                    (
                        axum::http::StatusCode::OK,
                        path.rsplit('/')
                            .next()
                            .unwrap()
                            .trim_end_matches(".json")
                            .to_owned(),
                    )
                };
                (
                    status,
                    axum::Json(
                        json!({"sid": sid, "status": "queued", "direction": "outbound-api"}),
                    ),
                )
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/2010-04-01", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, log, requested)
}

/// The value of `name` in a recorded form (empty when absent).
fn form_field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Seed Test 3 through the real Twilio client: the live call is redirected to `<Dial>` the advisor.
#[tokio::test]
async fn manager_request_redirects_the_live_call_through_the_twilio_rest_api() {
    let (api, log, requested) = twilio_rest_mock().await;
    let gateway = start(Setup {
        stt: SttScript::new().step(
            SttTrigger::AfterAudioFrames(15),
            SttScriptEvent::speech_final("I want to speak to a manager"),
        ),
        twilio_api: Some(api),
        // The direct transfer (warm transfers are in `e2e_tests/transfer.rs`).
        env: vec![("WARM_TRANSFER", "false".to_owned())],
        ..Setup::default()
    })
    .await;
    let twiml = gateway.voice_twiml("CA800", JOHN).await;
    let call = TwilioStream::open(&gateway, "CA800", &parameters(&twiml), true).await;
    requested
        .wait_until("the transfer request", || !log.lock().unwrap().is_empty())
        .await;
    call.hang_up("CA800").await;
    gateway.shutdown().await;
    let requests = log.lock().unwrap().clone();
    let (method, path, auth, form) = &requests[0];
    assert_eq!(method, "POST");
    assert_eq!(
        path,
        &format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Calls/CA800.json")
    );
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_ACCOUNT}:{AUTH_TOKEN}"))
    );
    assert_eq!(auth, &expected_auth);
    let twiml = &form
        .iter()
        .find(|(k, _)| k == "Twiml")
        .expect("inline TwiML")
        .1;
    assert!(
        twiml.contains("<Dial") && twiml.contains("<Number>+14135550999</Number>"),
        "{twiml}"
    );
}

/// `POST /api/calls` creates an outbound reminder whose webhook URL says what the call is about.
/// `CALL_RECORDING`: the call's recording is started through the REST API (both parties on
/// their own channels) before the greeting, which opens with the disclosure; Twilio's signed
/// report stores its SID and URL on the call's record; retention deletes it through the API
/// once it is older than `RECORDING_RETENTION_DAYS`.
#[tokio::test]
async fn a_recorded_call_is_announced_stored_and_deleted_after_its_retention() {
    let (api, log, requested) = twilio_rest_mock().await;
    let gateway = start(Setup {
        twilio_api: Some(api.clone()),
        env: vec![
            ("CALL_RECORDING", "true".to_owned()),
            ("RECORDING_RETENTION_DAYS", "30".to_owned()),
        ],
        ..Setup::default()
    })
    .await;
    let twiml = gateway.voice_twiml("CA203", JOHN).await;
    let call = TwilioStream::open(&gateway, "CA203", &parameters(&twiml), true).await;
    requested
        .wait_until("the recording request", || !log.lock().unwrap().is_empty())
        .await;
    call.wait_for_audio(1000).await;
    call.hang_up("CA203").await;
    let (method, path, _, form) = log.lock().unwrap()[0].clone();
    assert_eq!(method, "POST");
    assert_eq!(
        path,
        format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Calls/CA203/Recordings.json")
    );
    assert_eq!(form_field(&form, "RecordingChannels"), "dual");
    assert_eq!(
        form_field(&form, "RecordingStatusCallback"),
        format!("{}/twilio/recording", gateway.base)
    );
    let spoken = gateway.tts.received_text();
    assert!(
        spoken.starts_with("This call is recorded for quality. Hi John"),
        "{spoken}"
    );

    let report = [
        ("AccountSid", TWILIO_ACCOUNT),
        ("CallSid", "CA203"),
        ("RecordingSid", "RE0123456789abcdef0123456789abcdef"),
        (
            "RecordingUrl",
            "https://recordings.example/2010-04-01/Accounts/AC1/Recordings/RE0123456789abcdef0123456789abcdef",
        ),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "12"),
        ("RecordingChannels", "2"),
    ];
    let forged = gateway
        .post_webhook("/twilio/recording", &report, false)
        .await;
    assert_eq!(forged.status(), 403, "an unsigned report is refused");
    let stored = gateway
        .post_webhook("/twilio/recording", &report, true)
        .await;
    assert_eq!(stored.status(), 204);
    let call: Value = reqwest::Client::new()
        .get(format!("{}/api/calls/CA203", gateway.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        call["recording"]["recording_sid"], "RE0123456789abcdef0123456789abcdef",
        "{call}"
    );
    let gateway = gateway.shutdown().await;
    let crm = open_crm(&gateway.database_url).await;
    let recording = crm.call_recording("CA203").await.unwrap().unwrap();
    assert_eq!(
        recording.recording_sid,
        "RE0123456789abcdef0123456789abcdef"
    );
    assert!(
        recording
            .url
            .ends_with("/Recordings/RE0123456789abcdef0123456789abcdef")
    );

    let mut rest_config = twilio::rest::CallsClientConfig::new(
        twilio::AccountSid::from_wire(TWILIO_ACCOUNT),
        AuthToken::new(AUTH_TOKEN),
    );
    rest_config.base_url = api;
    let retention_at = |days: i64| crate::recordings::Retention {
        crm: crm.clone(),
        rest: twilio::rest::CallsClient::new(rest_config.clone()).unwrap(),
        keep: chrono::Duration::days(30),
        clock: Arc::new(move || now() + chrono::Duration::days(days)),
    };
    assert_eq!(retention_at(29).delete_expired().await, 0, "still kept");
    assert_eq!(retention_at(31).delete_expired().await, 1);
    let (method, path, _, _) = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(method, "DELETE");
    assert_eq!(
        path,
        format!(
            "/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Recordings/RE0123456789abcdef0123456789abcdef.json"
        )
    );
    assert!(
        crm.call_recording("CA203")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
    assert_eq!(retention_at(32).delete_expired().await, 0, "deleted once");
}

/// `voice-gateway remind`: tomorrow's scheduled appointments get one reminder call each,
/// through Twilio's Calls API, however many runs there are and even when two run at once;
/// `--dry-run` places and claims nothing; outside the calling hours nothing is placed.
#[tokio::test]
async fn reminder_runs_call_each_of_tomorrows_appointments_once() {
    let (api, log, _requested) = twilio_rest_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/gw.db?mode=rwc", dir.path().display());
    let env = HashMap::from([
        ("DATABASE_URL", database_url.clone()),
        ("PUBLIC_URL", "https://gw.example".to_owned()),
        ("TWILIO_AUTH_TOKEN", AUTH_TOKEN.to_owned()),
        ("TWILIO_ACCOUNT_SID", TWILIO_ACCOUNT.to_owned()),
        ("TWILIO_API_BASE_URL", api.clone()),
        ("TWILIO_FROM_NUMBER", "+14135550000".to_owned()),
        ("SHOP_CONFIG", "../../fixtures/shop.toml".to_owned()),
        (
            "RECORD_SPOOL_DIR",
            dir.path().join("spool").display().to_string(),
        ),
    ]);
    let config = || Config::from_lookup(|key| env.get(key).cloned()).unwrap();
    crate::commands::seed_demo(&config(), None, now())
        .await
        .unwrap();
    let run = async |at: chrono::DateTime<chrono::Utc>, dry_run: bool| {
        let mut out = Vec::new();
        let report = crate::remind::remind(
            config(),
            dry_run,
            at,
            Overrides {
                now: Some(Arc::new(move || at)),
                ..Overrides::default()
            },
            &mut out,
        )
        .await
        .unwrap();
        (report, String::from_utf8(out).unwrap())
    };
    // 10:00 in New York; the demo data has five scheduled appointments tomorrow.
    let (report, text) = run(now(), true).await;
    assert_eq!(report.would_place, 5, "{text}");
    assert!(text.contains("would call ***"), "{text}");
    assert!(log.lock().unwrap().is_empty(), "a dry run calls nobody");
    let evening = now() + chrono::Duration::hours(11);
    let (report, text) = run(evening, false).await;
    assert_eq!(report, crate::remind::RemindReport::default(), "{text}");
    assert!(text.starts_with("outside the calling hours (09:00-20:00 shop time)"));

    // One customer asked not to be called: their reminder is skipped, the others go out.
    let crm = open_crm(&database_url).await;
    // Tomorrow in New York, in UTC.
    let tomorrow = crm
        .reminders_due(
            now() + chrono::Duration::hours(14),
            now() + chrono::Duration::hours(38),
        )
        .await
        .unwrap();
    assert_eq!(tomorrow.len(), 5);
    crm.set_call_opt_out(&tomorrow[0].phone, true, "api", now())
        .await
        .unwrap();
    let opted_out_calls = tomorrow
        .iter()
        .filter(|r| r.phone == tomorrow[0].phone)
        .count();

    // Two runs at once (two gateways, or cron twice): each other appointment called once.
    let ((first, _), (second, text)) = tokio::join!(run(now(), false), run(now(), false));
    assert_eq!(
        first.placed + second.placed,
        5 - opted_out_calls,
        "{first:?} {second:?}"
    );
    assert_eq!(second.opted_out, opted_out_calls, "{text}");
    assert!(text.contains("on the do-not-call list"), "{text}");
    let (again, _) = run(now() + chrono::Duration::hours(1), false).await;
    assert_eq!(again.placed, 0, "each appointment once");
    let calls = log.lock().unwrap().clone();
    assert_eq!(calls.len(), 5 - opted_out_calls);
    let mut appointments = Vec::new();
    for (method, path, _, form) in &calls {
        assert_eq!(method, "POST");
        assert!(path.ends_with("/Calls.json"), "{path}");
        let url = url::Url::parse(&form_field(form, "Url")).unwrap();
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["call_type"], "outbound_reminder");
        appointments.push(query["appointment_id"].clone());
    }
    appointments.sort();
    appointments.dedup();
    assert_eq!(
        appointments.len(),
        5 - opted_out_calls,
        "different appointments"
    );
    assert!(
        calls
            .iter()
            .all(|(_, _, _, form)| form_field(form, "To") != tomorrow[0].phone),
        "nobody on the list is called"
    );
}

#[tokio::test]
async fn api_creates_an_outbound_reminder_call() {
    let (api, log, _requested) = twilio_rest_mock().await;
    let gateway = start(Setup {
        twilio_api: Some(api),
        ..Setup::default()
    })
    .await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/calls", gateway.base))
        .bearer_auth(API_TOKEN)
        .json(&json!({"to": JOHN, "call_type": "outbound_reminder", "appointment_id": 7, "service": "brake service"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["call_sid"], "CA900");
    gateway.shutdown().await;
    let requests = log.lock().unwrap().clone();
    let (_, path, _, form) = &requests[0];
    assert_eq!(
        path,
        &format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Calls.json")
    );
    let field = |name: &str| form_field(form, name);
    assert_eq!(field("To"), JOHN);
    assert_eq!(field("From"), "+14135550000");
    let url = field("Url");
    assert!(
        url.contains(
            "/twilio/voice?call_type=outbound_reminder&appointment_id=7&service=brake+service"
        ),
        "{url}"
    );
}

/// Seed Test 1 exactly: a caller from +15551234567 (well formed, unassigned, not in the CRM) is
/// a new customer; withheld caller IDs run the general flow.
#[tokio::test]
async fn seed_1_an_unknown_number_is_a_new_customer_and_withheld_ids_are_general() {
    let gateway = start(Setup::default()).await;
    let mut call_types = Vec::new();
    for (n, from) in ["+15551234567", "anonymous", "Restricted", ""]
        .iter()
        .enumerate()
    {
        let call_sid = format!("CA{:032}", 700 + n);
        let twiml = gateway.voice_twiml(&call_sid, from).await;
        let call = TwilioStream::open(&gateway, &call_sid, &parameters(&twiml), true).await;
        call.wait_for_audio(500).await;
        call.hang_up(&call_sid).await;
        let record: Value = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let response = reqwest::Client::new()
                    .get(format!("{}/api/calls/{call_sid}", gateway.base))
                    .bearer_auth(API_TOKEN)
                    .send()
                    .await
                    .unwrap();
                if response.status() == 200 {
                    let body: Value = response.json().await.unwrap();
                    if body["session"]["status"] == "completed" {
                        return body;
                    }
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the call's final session");
        call_types.push(
            record["session"]["conversation_summary"]["call_type"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(
        call_types,
        [
            "inbound_new",
            "inbound_general",
            "inbound_general",
            "inbound_general"
        ]
    );
    gateway.shutdown().await;
}

/// A log sink for the seed scenarios: everything the gateway logs at `info` on this thread (a
/// `#[tokio::test]` runs every task of the gateway on it).
#[derive(Clone, Default)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LogSink;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

thread_local! {
    /// Where this thread's log lines go while a test captures them.
    static THREAD_SINK: std::cell::RefCell<Option<LogSink>> = const { std::cell::RefCell::new(None) };
}

/// Captures the log lines of the current thread (a `#[tokio::test]` runs the gateway's tasks
/// on its own thread) through one process-wide subscriber. A scoped subscriber per test would
/// miss lines whose callsite another test's thread, with no subscriber, registered first: the
/// callsite cache is global, and tests run in parallel.
struct ThreadLogs;

impl ThreadLogs {
    fn capture(sink: LogSink) -> ThreadLogs {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(|| ThreadSinkWriter)
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the tests");
        });
        THREAD_SINK.with(|slot| *slot.borrow_mut() = Some(sink));
        ThreadLogs
    }
}

impl Drop for ThreadLogs {
    fn drop(&mut self) {
        THREAD_SINK.with(|slot| *slot.borrow_mut() = None);
    }
}

/// Writes to the current thread's sink, if it has one.
struct ThreadSinkWriter;

impl std::io::Write for ThreadSinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        THREAD_SINK.with(|slot| {
            if let Some(sink) = slot.borrow_mut().as_mut() {
                sink.write_all(buf)?;
            }
            Ok(buf.len())
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One of the seed's test scenarios: a caller says one thing; returns the logs and what the
/// agent said.
async fn seed_scenario(from: &str, says: &str, reply: &str) -> (String, String) {
    seed_scenario_logged(from, says, reply, true).await
}

async fn seed_scenario_logged(
    from: &str,
    says: &str,
    reply: &str,
    log_transcripts: bool,
) -> (String, String) {
    let sink = LogSink::default();
    let _capture = ThreadLogs::capture(sink.clone());
    let gateway = start(Setup {
        stt: SttScript::new().step(
            SttTrigger::AfterAudioFrames(15),
            SttScriptEvent::speech_final(says),
        ),
        llm: vec![LlmReply::text(reply, Duration::ZERO)],
        env: vec![("LOG_TRANSCRIPTS", log_transcripts.to_string())],
        ..Setup::default()
    })
    .await;
    let twiml = gateway.voice_twiml("CA310", from).await;
    let call = TwilioStream::open(&gateway, "CA310", &parameters(&twiml), true).await;
    call.wait_until("the agent's answer", || {
        let said = gateway.tts.received_text();
        said.contains(reply) || said.contains("service advisor")
    })
    .await;
    call.hang_up("CA310").await;
    let gateway = gateway.shutdown().await;
    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    (logs, gateway.tts.received_text())
}

/// The seed's four test scenarios, with the log lines exactly as the seed writes them (with
/// `LOG_TRANSCRIPTS=true`, which lets the number and the name into the logs).
#[tokio::test]
async fn the_seeds_four_test_scenarios_log_what_the_seed_expects() {
    let (logs, _) = seed_scenario(
        "+15551234567",
        "Hi, I need to schedule an oil change",
        "Sure, what day works?",
    )
    .await;
    for line in [
        "New customer calling: +15551234567",
        "Manager initialized: inbound_new",
        "State: intent_detection, Intent: schedule_appointment",
        "State: slot_collection",
    ] {
        assert!(logs.contains(line), "test 1: {line:?} missing from\n{logs}");
    }

    let (logs, said) = seed_scenario(JOHN, "Hi, I need brake service", "Of course.").await;
    for line in [
        "Existing customer: John Smith",
        "Manager initialized: inbound_existing",
        "State: intent_detection, Intent: schedule_appointment",
    ] {
        assert!(logs.contains(line), "test 2: {line:?} missing from\n{logs}");
    }
    assert!(said.starts_with("Hi John"), "test 2: {said}");

    let (logs, said) = seed_scenario(JOHN, "I want to speak to a manager", "unused").await;
    for line in ["ESCALATION: manager_request", "State: escalation"] {
        assert!(logs.contains(line), "test 3: {line:?} missing from\n{logs}");
    }
    assert!(
        said.contains("Let me connect you with our service advisor"),
        "test 3: {said}"
    );

    let (logs, said) = seed_scenario(
        "+15551234567",
        "What are your hours?",
        "We're open 8 to 6 on weekdays and 8 to 1 on Saturdays.",
    )
    .await;
    for line in [
        "State: intent_detection, Intent: check_hours",
        "State: execution",
    ] {
        assert!(logs.contains(line), "test 4: {line:?} missing from\n{logs}");
    }
    assert!(
        !logs.contains("State: slot_collection"),
        "test 4 skips slot collection"
    );
    assert!(said.contains("We're open 8 to 6"), "test 4: {said}");
}

/// By default the logs keep no number, name or words of the caller's.
#[tokio::test]
async fn by_default_the_logs_hold_no_number_name_or_words_of_the_caller() {
    let (logs, _) = seed_scenario_logged(
        JOHN,
        "Hi, I need brake service on my Civic",
        "Of course.",
        false,
    )
    .await;
    assert!(logs.contains("Existing customer: (name hidden)"), "{logs}");
    for private in ["5550100", "John", "Smith", "Civic", "brake service on my"] {
        assert!(!logs.contains(private), "{private:?} in the logs:\n{logs}");
    }
    let (logs, _) =
        seed_scenario_logged("+15551234567", "Hi, I need an oil change", "Sure.", false).await;
    assert!(logs.contains("New customer calling: ***4567"), "{logs}");
    assert!(!logs.contains("5551234567"), "{logs}");
}

/// `SMS_CONFIRMATIONS=true`: a booking made on a call is confirmed by a text through Twilio's
/// Messages API (the REST mock checks path, auth and form), and a signed inbound `STOP` records
/// the opt-out; an unsigned one is refused.
#[tokio::test]
async fn a_booking_is_texted_and_stop_opts_the_number_out() {
    let (api, log, requested) = twilio_rest_mock().await;
    let book = providers::ToolCall {
        id: "call_1".into(),
        name: "book_appointment".into(),
        arguments: json!({"service": "oil change", "start": "2026-12-01T14:00"}).to_string(),
    };
    let gateway = start(Setup {
        stt: SttScript::new().step(
            SttTrigger::AfterAudioFrames(15),
            SttScriptEvent::speech_final("Book me an oil change on December first at 2pm"),
        ),
        llm: vec![
            LlmReply::tool_calls([book]),
            LlmReply::text("You're all set, John.", Duration::ZERO),
        ],
        twilio_api: Some(api),
        env: vec![
            ("SMS_CONFIRMATIONS", "true".to_owned()),
            ("SMS_FROM", "+14135550111".to_owned()),
        ],
        ..Setup::default()
    })
    .await;
    let twiml = gateway.voice_twiml("CA210", JOHN).await;
    let call = TwilioStream::open(&gateway, "CA210", &parameters(&twiml), true).await;
    requested
        .wait_until("the text", || {
            log.lock()
                .unwrap()
                .iter()
                .any(|(_, path, _, _)| path.ends_with("/Messages.json"))
        })
        .await;
    call.hang_up("CA210").await;
    let requests = log.lock().unwrap().clone();
    let (method, path, auth, form) = requests
        .iter()
        .find(|(_, path, _, _)| path.ends_with("/Messages.json"))
        .unwrap();
    assert_eq!(method, "POST");
    assert_eq!(
        path,
        &format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages.json")
    );
    assert!(auth.starts_with("Basic "), "{auth}");
    let field = |name: &str| form_field(form, name);
    assert_eq!(field("To"), JOHN);
    assert_eq!(field("From"), "+14135550111");
    assert!(
        field("Body").contains("your oil change is booked for"),
        "{}",
        field("Body")
    );
    assert!(
        field("Body").ends_with("Reply STOP to opt out."),
        "{}",
        field("Body")
    );

    let stop = [("MessageSid", "SM1"), ("From", JOHN), ("Body", "Stop ")];
    assert_eq!(
        gateway
            .post_webhook("/twilio/sms", &stop, false)
            .await
            .status(),
        403,
        "unsigned"
    );
    let crm = open_crm(&gateway.database_url).await;
    assert!(!crm.sms_opted_out(JOHN).await.unwrap());
    let answer = gateway.post_webhook("/twilio/sms", &stop, true).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("<Response"));
    assert!(crm.sms_opted_out(JOHN).await.unwrap());
    let start_again = [("MessageSid", "SM2"), ("From", JOHN), ("Body", "start")];
    gateway
        .post_webhook("/twilio/sms", &start_again, true)
        .await;
    assert!(!crm.sms_opted_out(JOHN).await.unwrap());
    gateway.shutdown().await;
}
