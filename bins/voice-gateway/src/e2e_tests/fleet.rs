//! A fleet: two gateways behind a real HAProxy running the shipped `deploy/haproxy.cfg`
//! unchanged, sharing one Redis (a `redis-server` of the test's own) and one PostgreSQL
//! database (made fresh for the test). Calls come in through HAProxy as Twilio's would: a
//! signed webhook, then the media stream it announced, each balanced on its own, so the stream
//! often lands on the other gateway (shared `STREAM_TOKEN_SECRET`, single-use token marks in
//! Redis). Then a rolling restart: each gateway in turn drains (SIGTERM's path), leaves the
//! rotation through `/readyz`, finishes its calls and comes back, with new calls placed
//! meanwhile; no call may be cut. And a crash: the gateway holding a call dies mid-booking (its
//! runtime is dropped, as `kill -9` would: sockets close, nothing is drained or saved); the
//! simulated Twilio sees the stream close without `stop`, asks the `<Connect action>` URL what
//! next, as Twilio documents, and the surviving gateway resumes the booking from Redis.

use std::{process::Stdio, time::Duration};

use sea_orm::{ConnectionTrait, Database};
use session_store::SessionStore as _;

use providers::fake::{LlmReply, SttScript, SttScriptEvent, SttTrigger};

use super::{
    Gateway, OwnRedis, Setup, TWILIO_ACCOUNT, TwilioStream, parameters, start as start_gateway,
};

/// How often HAProxy asks each gateway's `/readyz`.
const CHECK_INTERVAL: &str = "100ms";
/// Callers on the line before the restart, callers arriving while each gateway drains, and
/// callers after it: 20 calls in all.
const CALLS_BEFORE: usize = 10;
const CALLS_PER_DRAIN: usize = 4;
const CALLS_AFTER: usize = 2;

/// An `haproxy` process running `deploy/haproxy.cfg`, killed on drop.
struct Haproxy {
    child: std::process::Child,
    /// Where Twilio's requests go: the gateways' `PUBLIC_URL`.
    frontend: String,
    stats: String,
}

impl Haproxy {
    /// Starts HAProxy in front of `gateways` (two `host:port`s); `None` when it is not installed.
    fn start(frontend_port: u16, gateways: [&str; 2]) -> Option<Self> {
        let stats_port = free_port();
        // Without the test runner's libfaketime (.ci/run moves the clock ahead).
        let child = std::process::Command::new("haproxy")
            .env_remove("LD_PRELOAD")
            .env("VG_FRONTEND_BIND", format!("127.0.0.1:{frontend_port}"))
            .env("VG_STATS_BIND", format!("127.0.0.1:{stats_port}"))
            .env("VG_GATEWAY_1", gateways[0])
            .env("VG_GATEWAY_2", gateways[1])
            .env("VG_CHECK_INTERVAL", CHECK_INTERVAL)
            .args(["-db", "-f", "../../deploy/haproxy.cfg"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        Some(Self {
            child,
            frontend: format!("http://127.0.0.1:{frontend_port}"),
            stats: format!("http://127.0.0.1:{stats_port}/stats;csv"),
        })
    }

    /// HAProxy in front of the gateways on `ports`, once it has both in rotation.
    async fn in_front_of(frontend_port: u16, ports: [u16; 2]) -> Self {
        let gateways = ports.map(|p| format!("127.0.0.1:{p}"));
        let haproxy = Self::start(frontend_port, gateways.each_ref().map(String::as_str))
            .expect("haproxy was found before the fleet started");
        haproxy.wait_for("gw1", "UP").await;
        haproxy.wait_for("gw2", "UP").await;
        haproxy
    }

    /// The `status` column of server `name` in backend `gateways` ("UP", "DOWN", "UP 1/2", …);
    /// `None` while the stats page does not answer yet.
    async fn status(&self, name: &str) -> Option<String> {
        let csv = reqwest::get(&self.stats).await.ok()?.text().await.ok()?;
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
        let column = |wanted: &str| header.iter().position(|c| *c == wanted);
        let (proxy, server, status) = (column("pxname")?, column("svname")?, column("status")?);
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .find(|row| row.get(proxy) == Some(&"gateways") && row.get(server) == Some(&name))
            .and_then(|row| row.get(status).map(|s| (*s).to_owned()))
    }

    /// Waits until HAProxy reports server `name` exactly `wanted` ("UP" or "DOWN").
    async fn wait_for(&self, name: &str, wanted: &str) {
        let waited = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if self.status(name).await.as_deref() == Some(wanted) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        let last = self.status(name).await;
        waited.unwrap_or_else(|_| panic!("HAProxy never saw {name} {wanted}; last {last:?}"));
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `url` with its database (the path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut url = url::Url::parse(url).expect("VOICE_TEST_DATABASE_URL is a URL");
    url.set_path(name);
    url.to_string()
}

/// What Twilio posts about John's call `sid` (the voice webhook, `<Connect action>`).
fn johns_call<'a>(sid: &'a str, status: &'a str) -> [(&'a str, &'a str); 6] {
    [
        ("CallSid", sid),
        ("AccountSid", TWILIO_ACCOUNT),
        ("From", super::JOHN),
        ("To", "+14135550000"),
        ("CallStatus", status),
        ("Direction", "inbound"),
    ]
}

/// Everything the fleet shares, and what a gateway of it needs to start.
struct Fleet {
    redis_url: String,
    database_url: String,
    public_url: String,
}

impl Fleet {
    /// Starts a gateway on `port`; `seed` loads the demo CRM (once per fleet).
    async fn gateway(&self, port: u16, seed: bool) -> Gateway {
        self.scripted(port, seed, SttScript::new(), Vec::new())
            .await
    }

    /// A gateway whose callers say `stt` and whose model answers `llm`.
    async fn scripted(&self, port: u16, seed: bool, stt: SttScript, llm: Vec<LlmReply>) -> Gateway {
        start_gateway(Setup {
            stt,
            llm,
            seed,
            redis_url: Some(self.redis_url.clone()),
            listen_port: Some(port),
            drain_secs: 30,
            env: vec![
                ("INSTANCE_ID", format!("gw-{port}")),
                ("PUBLIC_URL", self.public_url.clone()),
                ("DATABASE_URL", self.database_url.clone()),
                (
                    "STREAM_TOKEN_SECRET",
                    "fleet-shared-stream-secret-0123456789".to_owned(),
                ),
            ],
            ..Setup::default()
        })
        .await
    }
}

/// One caller on the line.
struct Call {
    sid: String,
    stream: TwilioStream,
    /// Which gateway took its stream (index into the fleet, 0 or 1).
    gateway: usize,
}

/// Places a call through HAProxy as Twilio does (signed webhook to the public URL, then the
/// stream it names) and waits for the greeting; finds the gateway that took the stream by whose
/// speech recognizer gained a session.
async fn place_call(haproxy: &Haproxy, gateways: [&Gateway; 2], sid: String) -> Call {
    let sessions_before = gateways.map(|g| g.stt.sessions().len());
    let url = format!("{}/twilio/voice", haproxy.frontend);
    let twiml = twilio_posts(&url, &johns_call(&sid, "ringing")).await;
    assert!(twiml.contains("<Connect action="), "{sid}: {twiml}");
    let stream = TwilioStream::open_at(&haproxy.frontend, &sid, &parameters(&twiml), true).await;
    stream.wait_for_audio(500).await;
    let gained: Vec<usize> = (0..2)
        .filter(|&i| gateways[i].stt.sessions().len() > sessions_before[i])
        .collect();
    assert_eq!(
        gained.len(),
        1,
        "{sid}: exactly one gateway took the stream"
    );
    Call {
        sid,
        stream,
        gateway: gained[0],
    }
}

/// Posts a signed form as Twilio does and returns the TwiML answer.
async fn twilio_posts(url: &str, form: &[(&str, &str)]) -> String {
    super::post_signed_for(url, url, form).await
}

/// The `action` URL of a TwiML `<Connect>`, unescaped.
fn connect_action(twiml: &str) -> String {
    twiml
        .split("<Connect action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no <Connect action> in {twiml}"))
        .replace("&amp;", "&")
}

/// Waits until `/api/fleet`, asked through HAProxy, satisfies `condition`; returns that view.
async fn fleet_view_until(
    haproxy: &Haproxy,
    what: &str,
    condition: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let client = reqwest::Client::new();
    let mut last = serde_json::Value::Null;
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let response = client
                .get(format!("{}/api/fleet", haproxy.frontend))
                .bearer_auth(super::API_TOKEN)
                .send()
                .await;
            if let Ok(response) = response
                && let Ok(view) = response.json::<serde_json::Value>().await
            {
                if condition(&view) {
                    return view;
                }
                last = view;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("the fleet view never showed {what}; last {last}"))
}

/// The fleet view's entry for the gateway on `port`.
fn fleet_entry(view: &serde_json::Value, port: u16) -> Option<&serde_json::Value> {
    view["instances"]
        .as_array()?
        .iter()
        .find(|i| i["instance"] == format!("gw-{port}"))
}

/// Drains gateway `index` as SIGTERM does and waits until HAProxy has taken it out.
async fn drain(haproxy: &Haproxy, gateway: &mut Gateway, index: usize) {
    gateway.stop.take().unwrap().send(()).unwrap();
    gateway.draining.cancelled().await;
    haproxy.wait_for(&format!("gw{}", index + 1), "DOWN").await;
}

/// Runs `body` with a fleet's Redis and a fresh PostgreSQL database, then drops the database
/// (also when `body` panics); skips, saying why, when HAProxy, PostgreSQL or Redis is missing
/// (fails under CI).
async fn with_fleet<F, Fut>(body: F)
where
    F: FnOnce(Fleet) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if std::process::Command::new("haproxy")
        .arg("-v")
        .env_remove("LD_PRELOAD")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "haproxy is required under CI"
        );
        eprintln!("skipping: haproxy is not installed");
        return;
    }
    let admin_url = match std::env::var("VOICE_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "VOICE_TEST_DATABASE_URL is required under CI"
            );
            eprintln!("skipping: VOICE_TEST_DATABASE_URL is not set");
            return;
        }
    };
    let Some(redis) = OwnRedis::start(0).await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is required under CI"
        );
        eprintln!("skipping: redis-server is not installed");
        return;
    };
    let name = format!("vg_fleet_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let fleet = Fleet {
        redis_url: redis.url(),
        database_url: with_database(&admin_url, &name),
        public_url: String::new(),
    };
    let outcome = tokio::spawn(body(fleet)).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    drop(redis);
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_haproxy_drops_no_call() {
    with_fleet(rolling_restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_survives_the_crash_of_its_gateway() {
    with_fleet(crash_mid_booking).await;
}

async fn rolling_restart(mut fleet: Fleet) {
    let frontend_port = free_port();
    fleet.public_url = format!("http://127.0.0.1:{frontend_port}");
    let ports = [free_port(), free_port()];
    let mut gateways = [
        fleet.gateway(ports[0], true).await,
        fleet.gateway(ports[1], false).await,
    ];
    let haproxy = Haproxy::in_front_of(frontend_port, ports).await;

    let mut placed = 0;
    let mut next_sid = || {
        placed += 1;
        format!("CA{}", uuid::Uuid::new_v4().simple())
    };
    // HAProxy balances the first callers (least connections) over both gateways.
    let mut calls = Vec::new();
    for _ in 0..CALLS_BEFORE {
        let sid = next_sid();
        calls.push(place_call(&haproxy, [&gateways[0], &gateways[1]], sid).await);
    }
    for index in 0..2 {
        assert!(
            calls.iter().any(|c| c.gateway == index),
            "gateway {} took none of the first calls",
            index + 1
        );
    }
    // Either gateway answers for the whole fleet: both gateways with their calls, and every
    // call in progress from Redis.
    let per_gateway = [0, 1].map(|i| calls.iter().filter(|c| c.gateway == i).count() as u64);
    let view = fleet_view_until(&haproxy, "both gateways and their calls", |view| {
        view["active_calls"] == CALLS_BEFORE
            && (0..2).all(|i| {
                fleet_entry(view, ports[i]).is_some_and(|e| e["active_calls"] == per_gateway[i])
            })
    })
    .await;
    assert_eq!(view["instances"].as_array().unwrap().len(), 2, "{view}");
    assert_eq!(view["capacity"], 2000, "{view}");

    // A rolling restart, one gateway after the other.
    let mut done = Vec::new();
    for index in 0..2 {
        let other = 1 - index;
        drain(&haproxy, &mut gateways[index], index).await;
        fleet_view_until(&haproxy, "the draining gateway", |view| {
            fleet_entry(view, ports[index]).is_some_and(|e| e["draining"] == true)
        })
        .await;
        // While it drains, new callers reach the other gateway only.
        for _ in 0..CALLS_PER_DRAIN {
            let sid = next_sid();
            let call = place_call(&haproxy, [&gateways[0], &gateways[1]], sid).await;
            assert_eq!(
                call.gateway, other,
                "{}: a new call reached the draining gateway",
                call.sid
            );
            calls.push(call);
        }
        // Its callers are still on the line; they finish and hang up.
        let (leaving, staying): (Vec<_>, Vec<_>) =
            calls.into_iter().partition(|c| c.gateway == index);
        calls = staying;
        for mut call in leaving {
            assert!(
                call.stream.still_open(),
                "{}: dropped by the drain",
                call.sid
            );
            call.stream.hang_up(&call.sid).await;
            done.push(call.sid);
        }
        tokio::time::timeout(Duration::from_secs(10), &mut gateways[index].task)
            .await
            .expect("the drained gateway stops once its calls are over")
            .unwrap()
            .unwrap();
        // The new version comes up where HAProxy expects it.
        gateways[index] = fleet.gateway(ports[index], false).await;
        haproxy.wait_for(&format!("gw{}", index + 1), "UP").await;
    }
    // Both restarted gateways take calls again.
    for _ in 0..CALLS_AFTER {
        let sid = next_sid();
        calls.push(place_call(&haproxy, [&gateways[0], &gateways[1]], sid).await);
    }
    for index in 0..2 {
        assert!(
            calls.iter().any(|c| c.gateway == index),
            "restarted gateway {} took no call",
            index + 1
        );
    }
    for mut call in calls {
        assert!(call.stream.still_open(), "{}: dropped", call.sid);
        call.stream.hang_up(&call.sid).await;
        done.push(call.sid);
    }
    for gateway in gateways {
        gateway.shutdown().await;
    }

    // Every call ended as a completed call, none handed off or failed.
    assert_eq!(done.len(), placed);
    assert_eq!(placed, CALLS_BEFORE + 2 * CALLS_PER_DRAIN + CALLS_AFTER);
    let crm = super::open_crm(&fleet.database_url).await;
    for sid in &done {
        let record = crm.get_call(sid).await.unwrap();
        let status = record.map(|r| r.status);
        assert_eq!(status.as_deref(), Some("completed"), "{sid}");
    }
}

/// A gateway on a runtime of its own, which the test drops to kill it as `kill -9` would.
struct Crashable {
    runtime: tokio::runtime::Runtime,
    gateway: Gateway,
}

impl Crashable {
    async fn start(fleet: &Fleet, port: u16, stt: SttScript, llm: Vec<LlmReply>) -> Self {
        tokio::task::block_in_place(|| {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        let runtime = tokio::runtime::Builder::new_multi_thread()
                            .worker_threads(1)
                            .enable_all()
                            .build()
                            .unwrap();
                        let gateway = runtime.block_on(fleet.scripted(port, true, stt, llm));
                        Self { runtime, gateway }
                    })
                    .join()
                    .unwrap()
            })
        })
    }

    /// Every task of the gateway stops where it is; its sockets close; nothing is saved.
    /// Returns once its port refuses connections, as a killed process's does at once.
    async fn crash(self) -> Gateway {
        self.runtime.shutdown_background();
        let addr = self.gateway.base.trim_start_matches("http://").to_owned();
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            while tokio::net::TcpStream::connect(&addr).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        closed.expect("the crashed gateway's port closes");
        self.gateway
    }
}

async fn crash_mid_booking(mut fleet: Fleet) {
    let frontend_port = free_port();
    fleet.public_url = format!("http://127.0.0.1:{frontend_port}");
    let ports = [free_port(), free_port()];
    // The caller asks for an oil change on the first gateway, which reads it back and dies
    // before the caller says yes; the yes goes to the second.
    let doomed = Crashable::start(
        &fleet,
        ports[0],
        SttScript::new().step(
            SttTrigger::AfterAudioFrames(15),
            SttScriptEvent::speech_final("I need an oil change on December first at 2pm"),
        ),
        vec![super::read_back()],
    )
    .await;
    let book = providers::ToolCall {
        id: "call_1".into(),
        name: "book_appointment".into(),
        arguments: serde_json::json!({"service": "oil change", "start": "2026-12-01T14:00"})
            .to_string(),
    };
    let survivor = fleet
        .scripted(
            ports[1],
            false,
            SttScript::new().step(
                SttTrigger::AfterAudioFrames(15),
                SttScriptEvent::speech_final("yes please book it"),
            ),
            vec![
                LlmReply::tool_calls([book]),
                LlmReply::text("You're all set, John.", Duration::ZERO),
            ],
        )
        .await;
    let haproxy = Haproxy::in_front_of(frontend_port, ports).await;

    // The balancer gave the call to the first gateway (the webhook and the stream go to it
    // directly; both are signed for the public URL, as Twilio signs them).
    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let twiml = super::post_signed_for(
        &format!("{}/twilio/voice", fleet.public_url),
        &format!("{}/twilio/voice", doomed.gateway.base),
        &johns_call(&sid, "ringing"),
    )
    .await;
    let action = connect_action(&twiml);
    assert_eq!(action, format!("{}/twilio/stream-ended", fleet.public_url));
    let mut stream = TwilioStream::open_signed_for(
        &doomed.gateway.base,
        Some(&fleet.public_url),
        &sid,
        &parameters(&twiml),
    )
    .await;
    let tts = doomed.gateway.tts.clone();
    stream
        .wait_until("the read-back", || {
            tts.received_text().contains("Just to confirm")
        })
        .await;
    // The turn and the read-back are in Redis. Each is its own session write, a moment after
    // it: the caller's turn when it is understood, the reply once its text is complete
    // (`crates/call-pipeline/src/floor.rs`, `Action::SaveSession`), which can be after the
    // text-to-speech server has its first words; the survivor must find both.
    let sessions = session_store::RedisSessionStore::connect(
        &fleet.redis_url,
        session_store::SessionStoreConfig::default(),
    )
    .await
    .unwrap();
    let saved = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let session = sessions
                .get_session(&sid)
                .await
                .unwrap()
                .unwrap_or_default();
            let read_back_saved = session
                .get("conversation_history")
                .is_some_and(|history| history.to_string().contains("Just to confirm"));
            if read_back_saved
                && session
                    .get("conversation_snapshot")
                    .is_some_and(|s| s["turn_count"] == 1 && s["state"] == "confirmation")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    saved.expect("the first turn reached the session");

    // The first gateway dies. Twilio sees the stream end without `stop` and asks what next.
    let dead = doomed.crash().await;
    tokio::time::timeout(Duration::from_secs(5), &mut stream.closed)
        .await
        .expect("the stream closes when its gateway dies")
        .unwrap();
    let in_progress = johns_call(&sid, "in-progress");
    let next = twilio_posts(&action, &in_progress).await;
    assert!(next.contains("<Connect action="), "{next}");
    let params = parameters(&next);
    assert!(
        params.iter().any(|(k, v)| k == "resume" && v == "1"),
        "{params:?}"
    );
    let resumed = TwilioStream::open_at(&haproxy.frontend, &sid, &params, true).await;
    let said = survivor.tts.clone();
    resumed
        .wait_until("the booking", || {
            said.received_text().contains("You're all set")
        })
        .await;
    let heard = survivor.tts.received_text();
    assert!(
        heard.starts_with(
            "Sorry about that, we got cut off. You were booking an oil change on Tuesday, December 1 at 2 PM"
        ),
        "{heard}"
    );
    // The model on the survivor saw the whole conversation, the first gateway's part included.
    let first_request = &survivor.llm.requests()[0];
    let history = serde_json::to_string(&first_request.messages).unwrap();
    assert!(
        history.contains("I need an oil change on December first at 2pm"),
        "{history}"
    );
    assert!(history.contains("Just to confirm"), "{history}");
    assert_eq!(dead.stt.sessions().len(), 1);
    assert_eq!(survivor.stt.sessions().len(), 1);

    // The caller hangs up. Had Twilio asked the action URL again, the answer is to hang up:
    // once the gateway has read the `stop` and marked the call ended (the test's socket can
    // close before it has, on a loaded machine).
    resumed.hang_up(&sid).await;
    let ended_mark = call_pipeline::ended_mark_key(&sid);
    tokio::time::timeout(Duration::from_secs(10), async {
        while sessions.claim_holder(&ended_mark).await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the gateway marks the call ended after the caller hangs up");
    let after = twilio_posts(&action, &in_progress).await;
    assert!(
        after.contains("<Hangup/>") && !after.contains("<Connect"),
        "{after}"
    );
    survivor.shutdown().await;

    let crm = super::open_crm(&fleet.database_url).await;
    let record = crm
        .get_call(&sid)
        .await
        .unwrap()
        .expect("the call's record");
    assert_eq!(record.status, "completed");
    super::assert_oil_change_booked(&crm).await;
    drop(dead);
}
