//! The operator console at `/console`: live calls as they happen, recent calls with their
//! transcript and per-turn latency (and the caller's audio when `CAPTURE_DIR` is set), the
//! callback queue, the analytics of `voice-gateway report` as charts, and a "try it" panel that
//! runs a text call in the browser.
//!
//! Server-rendered HTML (askama templates under `templates/console/`, HTML-escaped), no
//! JavaScript build and no external resource; the live view is a few lines of script over
//! server-sent events. Behind `API_TOKEN`: a login form sets an HTTP-only, `Secure`,
//! `SameSite=Strict` cookie signed with the token (so any instance sharing the token accepts it,
//! and changing the token logs everyone out); the token never appears in a URL. Without
//! `API_TOKEN` the console is off.

pub(crate) mod hub;
mod pages;
mod tries;

use std::{convert::Infallible, sync::Arc, time::Duration};

use askama::Template;
use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{
        Html, IntoResponse, Redirect, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tracing::warn;

use crate::app::AppState;

pub(crate) use tries::TryCalls;

/// The session cookie.
const COOKIE: &str = "vg_console";
/// How long a login lasts.
const SESSION: chrono::Duration = chrono::Duration::hours(12);
/// The live view redraws at most this often, however busy the calls are.
const LIVE_EVERY: Duration = Duration::from_millis(250);

/// The console's routes, under `/console`.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console", get(dashboard))
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
        .route("/console/live", get(live_events))
        .route("/console/calls/{call_sid}", get(call_page))
        .route("/console/calls/{call_sid}/audio.wav", get(call_audio))
        .route("/console/callbacks", get(callbacks_page))
        .route("/console/callbacks/{id}/done", post(callback_done))
        .route("/console/analytics", get(analytics_page))
        .route("/console/try", get(try_page).post(try_start))
        .route("/console/try/{call_sid}", get(try_call_page).post(try_say))
}

/// Renders a template, or a plain 500 if it cannot be (it is checked at compile time).
fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            warn!(error = %err, "a console page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

// ---------- sign-in ----------

/// Why a console request is turned away.
enum Denied {
    /// No `API_TOKEN`: the console is off.
    Off,
    /// No valid session: sign in first.
    SignIn,
    /// The database is not there (503).
    NoDatabase,
    /// No such try-it call (it ended long ago): back to the panel.
    NoTryCall,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Off => (
                StatusCode::NOT_FOUND,
                Html(
                    "<!doctype html><title>Console off</title><p>The operator console is off: \
                     set <code>API_TOKEN</code> to turn it on.</p>",
                ),
            )
                .into_response(),
            Denied::SignIn => Redirect::to("/console/login").into_response(),
            Denied::NoDatabase => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            Denied::NoTryCall => Redirect::to("/console/try").into_response(),
        }
    }
}

/// The HMAC of a session that ends at `expires` (unix seconds), keyed by the API token.
fn session_mac(token: &str, expires: i64) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("voice-gateway console session until {expires}").as_bytes());
    mac
}

/// The cookie value of a session starting `now`.
fn session_value(token: &str, now: DateTime<Utc>) -> String {
    let expires = (now + SESSION).timestamp();
    format!(
        "{expires}.{}",
        URL_SAFE_NO_PAD.encode(session_mac(token, expires).finalize().into_bytes())
    )
}

/// Whether `value` is a session this token signed that has not ended.
fn session_is_valid(token: &str, value: &str, now: DateTime<Utc>) -> bool {
    let Some((expires, signed)) = value.split_once('.') else {
        return false;
    };
    let (Ok(expires), Ok(signed)) = (expires.parse::<i64>(), URL_SAFE_NO_PAD.decode(signed)) else {
        return false;
    };
    if expires <= now.timestamp() {
        return false;
    }
    // Constant time.
    session_mac(token, expires).verify_slice(&signed).is_ok()
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// The database for a signed-in operator.
fn operator_crm<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a crm::Crm, Denied> {
    signed_in(state, headers)?;
    state.crm_store.as_ref().ok_or(Denied::NoDatabase)
}

/// A try-it call, for a signed-in operator.
fn operator_try(
    state: &AppState,
    headers: &HeaderMap,
    call_sid: &str,
) -> Result<Arc<tries::TryCall>, Denied> {
    signed_in(state, headers)?;
    state.console.tries.get(call_sid).ok_or(Denied::NoTryCall)
}

/// The database failed a console request: logged, and 503.
fn unavailable(what: &str, err: &crm::CrmError) -> Response {
    warn!(error = %err, "console: {what}");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

/// Passes a signed-in operator.
fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<(), Denied> {
    let Some(token) = &state.config.api_token else {
        return Err(Denied::Off);
    };
    match cookie_value(headers, COOKIE) {
        Some(value) if session_is_valid(token.expose(), value, (state.clock)()) => Ok(()),
        _ => Err(Denied::SignIn),
    }
}

async fn login_form(State(state): State<Arc<AppState>>) -> Response {
    if state.config.api_token.is_none() {
        return Denied::Off.into_response();
    }
    render(&pages::Login {
        shop: state.shop.name.clone(),
        failed: false,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<Arc<AppState>>, Form(form): Form<LoginForm>) -> Response {
    let Some(token) = &state.config.api_token else {
        return Denied::Off.into_response();
    };
    if !crate::routes::same_secret(form.token.trim(), token.expose()) {
        warn!("console sign-in with a wrong token");
        // A wrong guess costs the guesser time.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let page = render(&pages::Login {
            shop: state.shop.name.clone(),
            failed: true,
        });
        return (StatusCode::UNAUTHORIZED, page).into_response();
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/console; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        session_value(token.expose(), (state.clock)()),
        SESSION.num_seconds()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/console")).into_response()
}

async fn logout() -> Response {
    let cookie = format!("{COOKIE}=; Path=/console; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/console/login"),
    )
        .into_response()
}

// ---------- pages ----------

async fn dashboard(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(denied) = signed_in(&state, &headers) {
        return denied.into_response();
    }
    let recent = match &state.crm_store {
        Some(crm) => crm.recent_calls(25).await.unwrap_or_else(|err| {
            warn!(error = %err, "console: recent calls unavailable");
            Vec::new()
        }),
        None => Vec::new(),
    };
    let open_callbacks = match &state.crm_store {
        Some(crm) => crm
            .callback_requests(false, 500)
            .await
            .map(|requests| requests.len())
            .unwrap_or_default(),
        None => 0,
    };
    render(&pages::Dashboard {
        shop: state.shop.name.clone(),
        live: pages::Live::of(&state.console.hub),
        recent: recent
            .iter()
            .map(|record| pages::CallRow::of(record, &state.shop))
            .collect(),
        open_callbacks,
        fleet: crate::fleet::view(&state).await,
    })
}

/// Server-sent events: the live calls table, re-rendered whenever a call changes.
async fn live_events(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(denied) = signed_in(&state, &headers) {
        return match denied {
            Denied::SignIn => StatusCode::UNAUTHORIZED.into_response(),
            off => off.into_response(),
        };
    }
    let changes = state.console.hub.subscribe();
    let hub = state.console.hub.clone();
    let stream = futures::stream::unfold((changes, hub), |(mut changes, hub)| async move {
        changes.changed().await.ok()?;
        // Let a burst of changes settle into one redraw.
        tokio::time::sleep(LIVE_EVERY).await;
        changes.borrow_and_update();
        let html = pages::Live::of(&hub).render().unwrap_or_default();
        Some((
            Ok::<_, Infallible>(Event::default().event("live").data(html)),
            (changes, hub),
        ))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn call_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(call_sid): Path<String>,
) -> Response {
    let crm = match operator_crm(&state, &headers) {
        Ok(crm) => crm,
        Err(refused) => return refused.into_response(),
    };
    match crm.get_call(&call_sid).await {
        Ok(Some(record)) => {
            let audio = capture_path(&state, &call_sid).is_some_and(|path| path.exists());
            let recording = crm.call_recording(&call_sid).await.unwrap_or_else(|err| {
                warn!(error = %err, "console: the call's recording is unknown");
                None
            });
            let mut page = pages::CallPage::of(&state.shop.name, &record, &state.shop, audio);
            page.recording = recording.map(|r| pages::RecordingRow::of(&r, &state.shop));
            render(&page)
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => unavailable("reading a call failed", &err),
    }
}

/// The capture file of a call, if captures are on and the SID is a SID (no path tricks).
fn capture_path(state: &AppState, call_sid: &str) -> Option<std::path::PathBuf> {
    let dir = state.config.capture_dir.as_ref()?;
    let well_formed = call_sid.len() == 34
        && (call_sid.starts_with("CA") || call_sid.starts_with("CH"))
        && call_sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| dir.join(format!("{call_sid}.jsonl")))
}

/// The caller's side of a captured call as a WAV file.
async fn call_audio(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(call_sid): Path<String>,
) -> Response {
    if let Err(denied) = signed_in(&state, &headers) {
        return denied.into_response();
    }
    let Some(path) = capture_path(&state, &call_sid) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(text) = tokio::fs::read_to_string(&path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let wav = tokio::task::spawn_blocking(move || pages::caller_audio_wav(&text)).await;
    match wav {
        Ok(Ok(wav)) => ([(header::CONTENT_TYPE, "audio/wav")], wav).into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn callbacks_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let crm = match operator_crm(&state, &headers) {
        Ok(crm) => crm,
        Err(refused) => return refused.into_response(),
    };
    match crm.callback_requests(true, 200).await {
        Ok(requests) => render(&pages::Callbacks::of(&state.shop, &requests)),
        Err(err) => unavailable("callback requests unavailable", &err),
    }
}

async fn callback_done(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let crm = match operator_crm(&state, &headers) {
        Ok(crm) => crm,
        Err(refused) => return refused.into_response(),
    };
    match crm.complete_callback(id, (state.clock)()).await {
        Ok(true) => Redirect::to("/console/callbacks").into_response(),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => unavailable("marking a callback done failed", &err),
    }
}

#[derive(Deserialize)]
struct Range {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
}

async fn analytics_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> Response {
    let crm = match operator_crm(&state, &headers) {
        Ok(crm) => crm,
        Err(refused) => return refused.into_response(),
    };
    let today = (state.clock)()
        .with_timezone(&state.shop.timezone)
        .date_naive();
    let to = range.to.unwrap_or(today);
    let from = range
        .from
        .unwrap_or_else(|| to - chrono::Days::new(13))
        .min(to);
    match crm.report(from, to).await {
        Ok(report) => render(&pages::Analytics::of(&state.shop.name, &report)),
        Err(err) => unavailable("report unavailable", &err),
    }
}

async fn try_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(denied) = signed_in(&state, &headers) {
        return denied.into_response();
    }
    render(&pages::TryIt {
        shop: state.shop.name.clone(),
        call_sid: None,
        lines: Vec::new(),
        ended: false,
    })
}

#[derive(Deserialize)]
struct TryStart {
    /// `new`, `withheld`, or a number.
    caller: String,
}

async fn try_start(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<TryStart>,
) -> Response {
    if let Err(denied) = signed_in(&state, &headers) {
        return denied.into_response();
    }
    match tries::start(&state, &form.caller).await {
        Ok(call_sid) => Redirect::to(&format!("/console/try/{call_sid}")).into_response(),
        Err(err) => {
            warn!(error = %err, "console: could not start a try-it call");
            (StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response()
        }
    }
}

async fn try_call_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(call_sid): Path<String>,
) -> Response {
    let call = match operator_try(&state, &headers, &call_sid) {
        Ok(call) => call,
        Err(refused) => return refused.into_response(),
    };
    render(&pages::TryIt {
        shop: state.shop.name.clone(),
        call_sid: Some(call_sid),
        lines: call.lines(),
        ended: call.ended(),
    })
}

#[derive(Deserialize)]
struct TrySay {
    line: String,
}

async fn try_say(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(call_sid): Path<String>,
    Form(form): Form<TrySay>,
) -> Response {
    let call = match operator_try(&state, &headers, &call_sid) {
        Ok(call) => call,
        Err(refused) => return refused.into_response(),
    };
    call.say(form.line.trim()).await;
    Redirect::to(&format!("/console/try/{call_sid}")).into_response()
}

/// The console's state in `AppState`.
pub(crate) struct Console {
    pub(crate) hub: Arc<hub::ConsoleHub>,
    pub(crate) tries: TryCalls,
}

impl Console {
    pub(crate) fn new(clock: crate::app::Clock) -> Console {
        Console {
            hub: hub::ConsoleHub::new(clock),
            tries: TryCalls::default(),
        }
    }
}

#[cfg(test)]
mod tests;
