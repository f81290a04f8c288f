//! The operator console in a real headless browser: Debian's Chromium driven through
//! chromedriver (WebDriver, `fantoccini`), against the real server with a simulated Twilio call.
//! Each page is screenshotted; with `UPDATE_SCREENSHOTS=1` the pictures are written to
//! `docs/console/` (the README shows them), otherwise to a temporary directory.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use fantoccini::{Client, ClientBuilder, Locator};

use super::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium under chromedriver, closed on drop.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The browser, or `None` (with the reason printed) when Chromium is not installed; under CI a
/// missing browser fails the test.
async fn browser() -> Option<Browser> {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        let why = "Chromium and chromedriver are not installed (Debian packages chromium and \
                   chromium-driver)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The browser keeps the real clock when the tests run under faketime (libfaketime is
    // preloaded into the test binary, and children would inherit it).
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .env_remove("LD_PRELOAD")
        .env_remove("FAKETIME")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut last_error = None;
    // chromedriver takes a moment to listen.
    for _ in 0..50 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    driver,
                    _profile: profile,
                });
            }
            Err(err) => last_error = Some(err.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not start a browser session: {last_error:?}");
}

/// Where screenshots go.
fn screenshot_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
        std::fs::create_dir_all(&dir).unwrap();
        (dir, None)
    } else {
        let dir = tempfile::tempdir().unwrap();
        (dir.path().to_owned(), Some(dir))
    }
}

async fn shoot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot of {name}");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The text of the first element matching `css`, once there is one. The live view is redrawn
/// whenever a call changes, so an element found may be replaced before it is read: read again.
async fn text_of(client: &Client, css: &str) -> String {
    let mut last_error = None;
    for _ in 0..50 {
        let element = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no {css}: {err}"));
        match element.text().await {
            Ok(text) => return text,
            Err(err) => last_error = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} kept changing: {last_error:?}");
}

/// The text of `css` once it contains `needle` (a submitted form's page may not be loaded yet).
async fn text_containing(client: &Client, css: &str, needle: &str) -> String {
    let mut text = String::new();
    for _ in 0..100 {
        text = text_of(client, css).await;
        if text.contains(needle) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never showed {needle:?}: {text}");
}

/// Sign-in, the live view of a call in progress (pushed over server-sent events), the call's
/// page afterwards with its transcript, turns and audio, the callback queue's "done", the
/// analytics chart, and a "try it" conversation, each in Chromium.
#[tokio::test]
async fn the_console_works_in_a_real_browser() {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let (shots, _keep) = screenshot_dir();
    let call_sid = "CA0123456789abcdef0123456789abcdef";
    let gateway = start(Setup {
        stt: SttScript::new().step(
            SttTrigger::AfterAudioFrames(15),
            SttScriptEvent::speech_final("I need an oil change on December first at 2pm"),
        ),
        llm: vec![LlmReply::text(
            "Just to confirm, an oil change on Tuesday, December first at 2 PM?",
            Duration::ZERO,
        )],
        ..Setup::default()
    })
    .await;
    let crm = open_crm(&gateway.database_url).await;
    crm.request_callback(&crm::CallbackRequest {
        id: 0,
        call_sid: "CA00000000000000000000000000000077".to_owned(),
        customer_id: None,
        phone: "+14135550188".to_owned(),
        reason: Some("anger".to_owned()),
        status: "open".to_owned(),
        created_at: now(),
        done_at: None,
        caller_name: None,
        message: None,
    })
    .await
    .unwrap();
    let base = &gateway.base;

    // Signing in: a wrong token is refused, the right one lands on the calls page.
    client.goto(&format!("{base}/console")).await.unwrap();
    let form = client.form(Locator::Css("form")).await.unwrap();
    form.set_by_name("token", "not-the-token").await.unwrap();
    form.submit().await.unwrap();
    text_containing(client, "#login-error", "That token is not right.").await;
    shoot(client, &shots, "login").await;
    let form = client.form(Locator::Css("form")).await.unwrap();
    form.set_by_name("token", API_TOKEN).await.unwrap();
    form.submit().await.unwrap();
    text_containing(client, "h1", "Calls").await;
    assert_eq!(
        text_of(client, "#no-live-calls").await,
        "No calls in progress."
    );

    // A call comes in: the page shows it without a reload.
    let twiml = gateway.voice_twiml(call_sid, JOHN).await;
    let call = TwilioStream::open(&gateway, call_sid, &parameters(&twiml), true).await;
    call.wait_until("the read-back", || {
        gateway.tts.received_text().contains("Just to confirm")
    })
    .await;
    let live = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            ".live-call .line.agent + .line.caller + .line.agent",
        ))
        .await
        .expect("the live call with its transcript, pushed to the page");
    drop(live);
    let card = text_of(client, ".live-call").await;
    assert!(card.contains("***0100"), "{card}");
    assert!(card.contains("intent: schedule_appointment"), "{card}");
    assert!(card.contains("service type: oil change"), "{card}");
    assert!(!card.contains("4135550100"), "the number is masked: {card}");
    shoot(client, &shots, "live").await;
    call.hang_up(call_sid).await;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("no-live-calls"))
        .await
        .expect("the ended call leaves the live view");

    // The call's page: transcript, turns, and the caller's audio from the capture.
    let mut page = None;
    for _ in 0..50 {
        client.goto(&format!("{base}/console")).await.unwrap();
        if let Ok(link) = client
            .find(Locator::Css(&format!(
                "a[href='/console/calls/{call_sid}']"
            )))
            .await
        {
            page = Some(link);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shoot(client, &shots, "calls").await;
    // The fleet: this gateway alone (in-memory sessions), serving, no call left in progress.
    let fleet = text_of(client, "#fleet").await;
    assert!(
        fleet.starts_with("1 gateway(s), 0 call(s) in progress across the fleet, room for"),
        "{fleet}"
    );
    let gateways = text_of(client, "#fleet-instances").await;
    assert!(
        gateways.contains("(this one)") && gateways.contains("serving"),
        "{gateways}"
    );
    page.expect("the call is in the recent calls")
        .click()
        .await
        .unwrap();
    text_containing(
        client,
        "#transcript",
        "caller I need an oil change on December first at 2pm",
    )
    .await;
    let turns = text_of(client, "#turns").await;
    assert!(turns.contains("model"), "{turns}");
    let audio = client
        .find(Locator::Css("audio"))
        .await
        .unwrap()
        .attr("src")
        .await
        .unwrap()
        .unwrap();
    shoot(client, &shots, "call").await;
    let wav = client
        .execute(
            "return fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => \
             [...new Uint8Array(b.slice(0, 4))].map(c => String.fromCharCode(c)).join(''));",
            vec![json!(audio)],
        )
        .await
        .unwrap();
    assert_eq!(wav, json!("RIFF"), "the caller's audio plays as a WAV file");

    // The callback queue: "done" moves the request to the called-back list.
    client
        .goto(&format!("{base}/console/callbacks"))
        .await
        .unwrap();
    assert!(
        text_of(client, "#open-callbacks")
            .await
            .contains("+14135550188")
    );
    shoot(client, &shots, "callbacks").await;
    client
        .find(Locator::Css("#open-callbacks button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_containing(client, "#no-callbacks", "Nobody is waiting.").await;
    assert!(
        text_of(client, "#done-callbacks")
            .await
            .contains("+14135550188")
    );

    // Analytics: the day's call drawn in the chart, the totals.
    client
        .goto(&format!("{base}/console/analytics"))
        .await
        .unwrap();
    let totals = text_of(client, "#totals").await;
    assert!(totals.starts_with("1 calls"), "{totals}");
    let bars = client
        .find_all(Locator::Css("#per-day rect"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 1, "one day with calls");
    shoot(client, &shots, "analytics").await;

    // Try it: a text conversation with the receptionist in the page.
    client.goto(&format!("{base}/console/try")).await.unwrap();
    client
        .form(Locator::Css("form.card"))
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    text_containing(
        client,
        "#try-transcript",
        "agent Thanks for calling Main Street Auto Care",
    )
    .await;
    let say = client.find(Locator::Id("line")).await.unwrap();
    say.send_keys("how much is a tire rotation").await.unwrap();
    client
        .form(Locator::Id("say"))
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    text_containing(
        client,
        "#try-transcript",
        "agent Tire rotation usually runs $25 to $50",
    )
    .await;
    shoot(client, &shots, "try").await;

    // Signing out ends the session.
    client
        .find(Locator::Css("header form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.goto(&format!("{base}/console")).await.unwrap();
    assert!(
        client.find(Locator::Id("token")).await.is_ok(),
        "back at sign-in"
    );
    drop(browser);
    gateway.shutdown().await;
}
