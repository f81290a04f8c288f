//! HTTP and WebSocket routes: Twilio webhooks, the media stream, the small operator API, health.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        Path, Query, State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use call_pipeline::{
    CallStatus, PhoneError, PhoneLink, RESUME_PARAMETER, STREAM_TOKEN_PARAMETER, ended_mark_key,
    issue_stream_token, run_call,
};
use conversation::caller_id::mask_phone;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{Instrument, debug, info, info_span, warn};
use twilio::{
    rest::{CallInstructions, CreateCall},
    twiml,
};

use crate::app::{AppState, TwilioAuth};

/// Largest WebSocket message accepted from Twilio; a media frame is about 300 bytes.
const MAX_WS_MESSAGE_BYTES: usize = 64 * 1024;
/// Read buffer of the media stream socket.
const WS_READ_BUFFER_BYTES: usize = 8 * 1024;
/// Largest webhook body accepted.
const MAX_WEBHOOK_BYTES: usize = 64 * 1024;

/// The route table.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/twilio/voice", post(voice_webhook))
        .route("/twilio/stream", get(media_stream))
        .route("/twilio/stream-ended", post(stream_ended))
        .route("/twilio/status", post(status_callback))
        .route("/twilio/sms", post(inbound_sms))
        .route("/twilio/recording", post(recording_callback))
        .route("/api/calls", post(create_outbound_call).get(list_calls))
        .route("/api/calls/{call_sid}", get(get_call))
        .route("/api/fleet", get(fleet_view))
        .route("/api/callbacks", get(list_callbacks))
        .route("/api/opt-outs", get(list_opt_outs).post(add_opt_out))
        .route(
            "/api/opt-outs/{phone}",
            axum::routing::delete(remove_opt_out),
        )
        .route("/api/callbacks/{id}/done", post(complete_callback))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .merge(crate::console::router())
        .merge(crate::transfer::router())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            crate::http::REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

pub(crate) fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// The full public URL Twilio used for `uri`: `PUBLIC_URL` (with any path prefix a proxy strips
/// before the request reaches us) followed by the path and query we see. Signatures cover it
/// byte for byte.
fn public_url(state: &AppState, uri: &Uri, scheme: Option<&str>) -> Option<String> {
    let base = state.config.public_url.as_ref()?;
    let mut origin = base.as_str().trim_end_matches('/').to_owned();
    if let Some(scheme) = scheme {
        origin = origin.replacen(base.scheme(), scheme, 1);
    }
    let path_and_query = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    Some(format!("{origin}{path_and_query}"))
}

/// Why a Twilio request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unproven {
    /// Signatures are checked and this one is missing or wrong.
    BadSignature,
    /// No auth token and no development switch: nothing unsigned is accepted.
    Closed,
}

impl Unproven {
    pub(crate) fn refuse(self, what: &'static str) -> Response {
        let reason = match self {
            Self::BadSignature => "signature",
            Self::Closed => "unsigned",
        };
        metrics::counter!("voice_webhooks_rejected_total", "reason" => reason).increment(1);
        match self {
            Self::BadSignature => warn!(
                what,
                "refused a Twilio request with a missing or bad signature"
            ),
            Self::Closed => warn!(
                what,
                "refused an unsigned Twilio request: TWILIO_AUTH_TOKEN is not set"
            ),
        }
        StatusCode::FORBIDDEN.into_response()
    }
}

/// Whether a form webhook came from Twilio (see `TwilioAuth`).
pub(crate) fn prove_form(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<(), Unproven> {
    match &state.twilio_auth {
        TwilioAuth::Signed(validator) => {
            let signature = headers
                .get("x-twilio-signature")
                .and_then(|v| v.to_str().ok());
            // Config refuses a token without PUBLIC_URL, so the URL is always there.
            let url = public_url(state, uri, None).ok_or(Unproven::BadSignature)?;
            validator
                .validate_form(&url, form, signature)
                .map_err(|_| Unproven::BadSignature)
        }
        TwilioAuth::Unsigned => {
            warn!(
                path = uri.path(),
                "ALLOW_UNSIGNED_TWILIO: accepting an unsigned Twilio request (development only)"
            );
            Ok(())
        }
        TwilioAuth::Closed => Err(Unproven::Closed),
    }
}

/// A decoded form body: every field, in order, repeated names kept.
type Form = Vec<(String, String)>;

pub(crate) fn parse_form(body: &[u8]) -> Form {
    url::form_urlencoded::parse(body).into_owned().collect()
}

pub(crate) fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Outbound calls carry what they are about in the webhook URL's query (see `/api/calls`); the
/// URL is ours and Twilio's signature covers it.
const OUTBOUND_PARAMETERS: [&str; 7] = [
    "call_type",
    call_pipeline::AMD_PARAMETER,
    "appointment_id",
    "service",
    "starts_at",
    "vehicle",
    "vehicle_id",
];

/// `POST /twilio/voice`: answers TwiML that connects the media stream, or hands the call to a
/// person when the gateway cannot take it.
async fn voice_webhook(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    match prove_form(&state, &uri, &headers, &form) {
        Ok(()) => {}
        // The keyless first run: an apology and the advisor, nothing else is reached.
        Err(Unproven::Closed) => {
            info!("no TWILIO_AUTH_TOKEN: answering with the apology and the advisor");
            metrics::counter!("voice_calls_handed_off_total", "reason" => "unsigned").increment(1);
            return xml(handoff_twiml(&state));
        }
        Err(refusal) => return refusal.refuse("voice webhook"),
    }
    let call_sid = match call_of(&state, &form) {
        Ok(call) => call,
        Err(refused) => return refused.into_response(),
    };
    let from = form_value(&form, "From").unwrap_or_default();
    let to = form_value(&form, "To").unwrap_or_default();
    let direction = form_value(&form, "Direction").unwrap_or("inbound");
    let outbound = direction.starts_with("outbound");
    let span = info_span!("webhook", call_sid);
    let _enter = span.enter();
    // The customer: the caller on inbound calls, the callee on calls we place.
    let customer = if outbound { to } else { from };
    if let Some(reason) = cannot_take_calls(&state) {
        info!(reason, customer = %mask_phone(customer), "handing the call to a person");
        metrics::counter!("voice_calls_handed_off_total", "reason" => reason).increment(1);
        return xml(handoff_twiml(&state));
    }
    // What the stream is told beyond the call: STIR/SHAKEN's verdict on the caller ID (absent
    // for most calls) and what an outbound call is about. The `<Connect action>` URL carries
    // them too (our URL, signed by Twilio when it asks it), so a resumed stream gets the same.
    let mut carried: Vec<(&str, &str)> = Vec::new();
    if let Some(verstat) = form_value(&form, "StirVerstat") {
        carried.push(("StirVerstat", verstat));
    }
    if outbound {
        for key in OUTBOUND_PARAMETERS {
            if let Some(value) = query.get(key) {
                carried.push((key, value.as_str()));
            }
        }
    }
    info!(customer = %mask_phone(customer), direction, "answering with a media stream");
    stream_twiml(&state, &form, &carried, false)
}

/// Why this gateway cannot take a call now, if it cannot.
fn cannot_take_calls(state: &AppState) -> Option<&'static str> {
    if state.providers.is_none() {
        Some("providers not configured")
    } else if state.draining.is_cancelled() {
        Some("draining")
    } else if !state.admission.has_capacity() {
        Some("at capacity")
    } else if state.config.public_url.is_none() {
        Some("no public url")
    } else {
        None
    }
}

/// The call a Twilio webhook is about: its SID, refused when missing or when the account is
/// not ours.
fn call_of<'a>(state: &AppState, form: &'a [(String, String)]) -> Result<&'a str, StatusCode> {
    let Some(call_sid) = form_value(form, "CallSid") else {
        return Err(StatusCode::BAD_REQUEST);
    };
    let account_sid = form_value(form, "AccountSid").unwrap_or_default();
    if let Some(expected) = &state.config.twilio_account_sid
        && expected != account_sid
    {
        warn!(call_sid, "refused a webhook for another account");
        return Err(StatusCode::FORBIDDEN);
    }
    Ok(call_sid)
}

/// `<Connect action="…/twilio/stream-ended?carried"><Stream url="wss://…/twilio/stream">` for
/// the call Twilio's `form` is about, with its `From`, `To` and direction, the carried
/// parameters and a fresh token signing them all (with `resume=1` for a stream that resumes a
/// lost one).
fn stream_twiml(
    state: &AppState,
    form: &[(String, String)],
    carried: &[(&str, &str)],
    resume: bool,
) -> Response {
    let call_sid = form_value(form, "CallSid").unwrap_or_default();
    let account_sid = form_value(form, "AccountSid").unwrap_or_default();
    let call = [
        ("From", form_value(form, "From").unwrap_or_default()),
        ("To", form_value(form, "To").unwrap_or_default()),
        (
            "direction",
            form_value(form, "Direction").unwrap_or("inbound"),
        ),
    ];
    let Some(base) = state.config.public_url.as_ref() else {
        return xml(handoff_twiml(state));
    };
    let host = base.host_str().unwrap_or_default();
    let port = base.port().map(|p| format!(":{p}")).unwrap_or_default();
    let prefix = base.path().trim_end_matches('/');
    // Twilio only connects to wss://, whatever scheme the public origin was written with.
    let stream_url = format!("wss://{host}{port}{prefix}/twilio/stream");
    let Ok(mut stream) = twiml::Stream::new(&stream_url) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "bad stream url").into_response();
    };
    let mut action = format!(
        "{}/twilio/stream-ended",
        base.as_str().trim_end_matches('/')
    );
    if !carried.is_empty() {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(carried.iter().copied())
            .finish();
        action = format!("{action}?{query}");
    }
    let mut parameters: Vec<(&str, &str)> = call.to_vec();
    parameters.extend_from_slice(carried);
    if resume {
        parameters.push((RESUME_PARAMETER, "1"));
    }
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let token = issue_stream_token(
        state.admission.secret(),
        call_sid,
        account_sid,
        parameters.iter().copied(),
        (state.clock)(),
        &nonce,
    );
    for (name, value) in parameters
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
    {
        stream = stream.parameter(name, value);
    }
    stream = stream.parameter(STREAM_TOKEN_PARAMETER, token);
    xml(twiml::Response::new()
        .connect(twiml::Connect::new(stream).action(action))
        .to_xml())
}

/// `POST /twilio/stream-ended`: Twilio's `<Connect action>` request, made when a call's media
/// stream ends while the call is still up. Ended on purpose (the `ended_<sid>` mark the call
/// wrote before closing its socket): hang up, or, after a handoff, hold the line for the
/// transfer that is moving it. Lost (a gateway crash or a network cut; no mark): answer with a
/// new stream that resumes the conversation from the call's session on whichever gateway takes
/// it. Anything unclear goes to a person rather than hanging up.
async fn stream_ended(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    match prove_form(&state, &uri, &headers, &form) {
        Ok(()) => {}
        Err(Unproven::Closed) => return xml(handoff_twiml(&state)),
        Err(refusal) => return refusal.refuse("stream ended"),
    }
    let call_sid = match call_of(&state, &form) {
        Ok(call) => call,
        Err(refused) => return refused.into_response(),
    };
    let span = info_span!("stream_ended", call_sid);
    let _enter = span.enter();
    let hang_up = || xml(twiml::Response::new().hangup().to_xml());
    let to_a_person = |why: &'static str| {
        info!(why, "handing the call to a person after its stream ended");
        metrics::counter!("voice_calls_handed_off_total", "reason" => why).increment(1);
        xml(handoff_twiml(&state))
    };
    if form_value(&form, "CallStatus").is_some_and(|status| status != "in-progress") {
        return hang_up();
    }
    match state.sessions.claim_holder(&ended_mark_key(call_sid)).await {
        Ok(Some(how)) => {
            let over = matches!(
                CallStatus::from_name(&how),
                Some(CallStatus::Completed | CallStatus::Voicemail | CallStatus::Rejected)
            );
            if over {
                debug!(how, "the call ended on purpose; hanging up");
                return hang_up();
            }
            // A transfer moves the call with a REST update that lands on its own time; hold
            // until it does, and reach the advisor if it never does.
            info!(
                how,
                "the stream ended with a handoff; holding for the transfer"
            );
            return xml(handoff_twiml_after(
                &state,
                twiml::Response::new().pause(10),
            ));
        }
        Ok(None) => {}
        Err(err) => {
            warn!(error = %err, "cannot tell how the stream ended");
            return to_a_person("stream state unknown");
        }
    }
    match state.sessions.get_session(call_sid).await {
        Ok(Some(_)) => {}
        Ok(None) => return to_a_person("no session to resume"),
        Err(err) => {
            warn!(error = %err, "cannot read the session to resume");
            return to_a_person("stream state unknown");
        }
    }
    // At most `MAX_RESUMES` new streams per call, counted fleet-wide.
    match state.admission.claim_resume(call_sid).await {
        Ok(true) => {}
        Ok(false) => return to_a_person("resumed too often"),
        Err(err) => {
            warn!(error = %err, "cannot count the call's resumes");
            return to_a_person("stream state unknown");
        }
    }
    if let Some(reason) = cannot_take_calls(&state) {
        return to_a_person(reason);
    }
    let carried: Vec<(&str, &str)> = query
        .iter()
        .filter(|(key, _)| key == "StirVerstat" || OUTBOUND_PARAMETERS.contains(&key.as_str()))
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    warn!("the call's media stream was lost; resuming it on a new stream");
    stream_twiml(&state, &form, &carried, true)
}

fn handoff_twiml(state: &AppState) -> String {
    handoff_twiml_after(state, twiml::Response::new())
}

/// `lead`, then the apology and the advisor (or goodbye without one).
fn handoff_twiml_after(state: &AppState, lead: twiml::Response) -> String {
    let advisor = state
        .config
        .advisor_phone
        .clone()
        .or_else(|| state.shop.advisor_phone.clone());
    let shop = &state.shop.name;
    match advisor {
        Some(advisor) => lead
            .say(twiml::Say::new(format!(
                "Thanks for calling {shop}. Please hold while I connect you with a service advisor."
            )))
            .dial(twiml::Dial::number(advisor).timeout_secs(25))
            .say(twiml::Say::new("Sorry, nobody is available right now. Please call again later. Goodbye."))
            .hangup()
            .to_xml(),
        None => lead
            .say(twiml::Say::new(format!(
                "Thanks for calling {shop}. We can't take your call right now. Please call again later. Goodbye."
            )))
            .hangup()
            .to_xml(),
    }
}

/// `GET /twilio/stream`: the Media Streams WebSocket.
async fn media_stream(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    match &state.twilio_auth {
        TwilioAuth::Signed(validator) => {
            // Twilio signs the wss:// URL written in the TwiML; the upgrade must carry it.
            let url = public_url(&state, &uri, Some("wss")).unwrap_or_default();
            let signature = headers
                .get("x-twilio-signature")
                .and_then(|v| v.to_str().ok());
            if validator.validate_url(&url, signature).is_err() {
                metrics::counter!("voice_streams_rejected_total", "reason" => "signature")
                    .increment(1);
                warn!("refused a media stream upgrade with a missing or bad signature");
                return StatusCode::FORBIDDEN.into_response();
            }
        }
        TwilioAuth::Unsigned => {
            warn!("ALLOW_UNSIGNED_TWILIO: accepting an unsigned media stream (development only)");
        }
        TwilioAuth::Closed => return Unproven::Closed.refuse("media stream"),
    }
    let Some(providers) = state.providers.clone() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    if state.draining.is_cancelled() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    // Sockets that have not shown a valid `start` yet have their own small cap.
    let Some(pending) = state.admission.try_begin() else {
        metrics::counter!("voice_streams_rejected_total", "reason" => "too_many_pending")
            .increment(1);
        warn!("refused a media stream: too many sockets waiting for start");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let tracker = state.calls.clone();
    // A small read buffer: tungstenite zero-fills the whole buffer (128 KiB by default) on every
    // read attempt, and Twilio's frames are about 300 bytes.
    ws.read_buffer_size(WS_READ_BUFFER_BYTES)
        .max_message_size(MAX_WS_MESSAGE_BYTES)
        .max_frame_size(MAX_WS_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let deps = state.call_deps(&providers, Some(pending));
            let pipeline = state.pipeline.clone();
            let shutdown = state.calls_shutdown.clone();
            tracker.spawn(
                async move {
                    let outcome = run_call(phone_link(socket), deps, pipeline, &shutdown).await;
                    debug!(status = outcome.status.as_str(), "call task finished");
                }
                .in_current_span(),
            );
        })
}

/// Adapts axum's WebSocket into the pipeline's transport-agnostic `PhoneLink`.
fn phone_link(socket: WebSocket) -> PhoneLink {
    let (sink, stream) = socket.split();
    let inbound = stream
        .filter_map(|message| async move {
            match message {
                Ok(Message::Text(text)) => Some(Ok(text.to_string())),
                Ok(Message::Close(_)) => Some(Err(PhoneError("closed by Twilio".to_owned()))),
                Ok(Message::Binary(_)) => {
                    debug!("ignoring a binary frame from Twilio");
                    None
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => None,
                Err(err) => Some(Err(PhoneError(err.to_string()))),
            }
        })
        .boxed();
    let outbound = sink
        .sink_map_err(|err| PhoneError(err.to_string()))
        .with(|frame: String| {
            futures::future::ready(Ok::<_, PhoneError>(Message::Text(frame.into())))
        });
    PhoneLink {
        inbound,
        outbound: Box::pin(outbound),
    }
}

/// Twilio's inbound SMS webhook (signed like the others): a whole-message `STOP` keyword opts the
/// number out of texts, `START` opts it back in (Twilio itself blocks and answers; docs/protocols.md
/// 4.6). Anything else is ignored. The answer is an empty TwiML document: no reply text.
async fn inbound_sms(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    if let Err(refusal) = prove_form(&state, &uri, &headers, &form) {
        return refusal.refuse("inbound sms");
    }
    let keyword = form_value(&form, "Body")
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    let opted_out = match keyword.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(true),
        "START" | "YES" | "UNSTOP" => Some(false),
        _ => None,
    };
    let message_sid = form_value(&form, "MessageSid").unwrap_or_default();
    if let (Some(opted_out), Some(from), Some(crm)) =
        (opted_out, form_value(&form, "From"), &state.crm_store)
    {
        match crm.set_sms_opt_out(from, opted_out, (state.clock)()).await {
            Ok(()) => info!(message_sid, opted_out, "text opt-out recorded"),
            Err(err) => warn!(message_sid, error = %err, "could not record the text opt-out"),
        }
    }
    xml(twiml::Response::new().to_xml())
}

/// `POST /twilio/recording`: a recording's status; a completed one is stored on the call's record.
async fn recording_callback(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    if let Err(refusal) = prove_form(&state, &uri, &headers, &form) {
        return refusal.refuse("recording callback");
    }
    let (Some(call_sid), Some(recording_sid)) = (
        form_value(&form, "CallSid"),
        form_value(&form, "RecordingSid"),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            "CallSid and RecordingSid are needed",
        )
            .into_response();
    };
    let status = form_value(&form, "RecordingStatus").unwrap_or("");
    info!(call_sid, recording_sid, status, "twilio recording callback");
    if status != "completed" {
        return StatusCode::NO_CONTENT.into_response();
    }
    let Some(crm) = &state.crm_store else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let url = form_value(&form, "RecordingUrl").unwrap_or("");
    match crm
        .set_call_recording(call_sid, recording_sid, url, (state.clock)())
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => {
            // The failure shows in Twilio's debugger for the account.
            warn!(call_sid, error = %err, "could not store the call's recording");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// `POST /twilio/status`: call and stream status callbacks, recorded on the call's session.
async fn status_callback(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    if let Err(refusal) = prove_form(&state, &uri, &headers, &form) {
        return refusal.refuse("status callback");
    }
    let Some(call_sid) = form_value(&form, "CallSid") else {
        return (StatusCode::BAD_REQUEST, "CallSid missing").into_response();
    };
    let mut fields = serde_json::Map::new();
    for (form_key, session_key) in [
        ("CallStatus", "twilio_call_status"),
        ("CallDuration", "twilio_call_duration"),
        ("StreamEvent", "twilio_stream_event"),
        ("StreamError", "twilio_stream_error"),
        ("Timestamp", "twilio_status_at"),
    ] {
        if let Some(value) = form_value(&form, form_key) {
            fields.insert(session_key.to_owned(), json!(value));
        }
    }
    info!(call_sid, status = ?fields.get("twilio_call_status"), stream_event = ?fields.get("twilio_stream_event"), "twilio status callback");
    if !fields.is_empty()
        && let Err(err) = state.sessions.update_session(call_sid, fields).await
    {
        warn!(call_sid, error = %err, "could not record the status callback");
    }
    // The call is over for Twilio: a record still open means the gateway that ran it died
    // before writing the final one (a final record arriving later still wins).
    let over = matches!(
        form_value(&form, "CallStatus"),
        Some("completed" | "busy" | "failed" | "no-answer" | "canceled")
    );
    if over {
        // A call whose stream was lost and never resumed (the caller hung up meanwhile), or
        // whose gateway died, is not active any more.
        let status = session_store::fields::STATUS;
        if let Ok(Some(session)) = state.sessions.get_session(call_sid).await
            && matches!(
                session.get(status).and_then(Value::as_str),
                Some("in_progress" | "lost")
            )
        {
            let ended = serde_json::Map::from_iter([(status.to_owned(), json!("ended"))]);
            if let Err(err) = state.sessions.update_session(call_sid, ended).await {
                warn!(call_sid, error = %err, "could not end the session of a finished call");
            }
        }
    }
    if over && let Some(crm) = &state.crm_store {
        match crm
            .close_open_call(call_sid, (state.clock)(), "interrupted")
            .await
        {
            Ok(true) => warn!(
                call_sid,
                "call ended without its final record; marked interrupted"
            ),
            Ok(false) => {}
            Err(err) => warn!(call_sid, error = %err, "could not close an open call record"),
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Whether `given` is the secret `expected`, compared without an early exit on the first
/// differing byte.
pub(crate) fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The operator API needs `API_TOKEN`; without it the routes answer 404 (the API is off).
fn check_bearer(state: &AppState, headers: &HeaderMap) -> Result<(), StatusCode> {
    let Some(expected) = &state.config.api_token else {
        return Err(StatusCode::NOT_FOUND);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if same_secret(given, expected.expose()) {
        Ok(())
    } else {
        Err(StatusCode::UNAUTHORIZED)
    }
}

/// Body of `POST /api/calls`.
#[derive(Debug, Deserialize)]
struct OutboundCallRequest {
    to: String,
    call_type: String,
    appointment_id: Option<i64>,
    service: Option<String>,
    starts_at: Option<String>,
    vehicle: Option<String>,
    vehicle_id: Option<i64>,
}

/// `POST /api/calls`: starts an outbound reminder, follow-up or service-due call.
async fn create_outbound_call(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(rejection) = check_bearer(&state, &headers) {
        return rejection.into_response();
    }
    let request: OutboundCallRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return (StatusCode::BAD_REQUEST, format!("bad request body: {err}")).into_response();
        }
    };
    if !matches!(
        request.call_type.as_str(),
        "outbound_reminder" | "outbound_follow_up" | "outbound_service_due"
    ) {
        return (
            StatusCode::BAD_REQUEST,
            "call_type must be outbound_reminder, outbound_follow_up or outbound_service_due",
        )
            .into_response();
    }
    // The number must be a real phone number, and (unless configured otherwise) a customer's:
    // the operator API is not a way to make the shop's number call strangers.
    let Ok(to) = crm::normalize_phone(&request.to) else {
        return (StatusCode::BAD_REQUEST, "to must be a phone number (E.164)").into_response();
    };
    if !state
        .config
        .calling_hours
        .contains((state.clock)(), &state.shop)
    {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "outside the calling hours ({}); try again then",
                state.config.calling_hours
            ),
        )
            .into_response();
    }
    // Rate limits first, so the customer check below cannot be used to probe numbers at will:
    // a global per-minute limit and one call per number per `OUTBOUND_COOLDOWN`.
    let now = tokio::time::Instant::now();
    if !state.outbound_rate.try_acquire(now) {
        metrics::counter!("voice_outbound_rate_limited_total").increment(1);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "60")],
            "outbound call rate limit reached",
        )
            .into_response();
    }
    if !state.outbound_cooldown.try_acquire(&to, now) {
        metrics::counter!("voice_outbound_rate_limited_total").increment(1);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "600")],
            "this number was called recently",
        )
            .into_response();
    }
    if !state.config.outbound_to_non_customers {
        let known = match &state.crm_store {
            Some(crm) => crm.lookup_customer(&to, (state.clock)()).await,
            None => Ok(None),
        };
        match known {
            Ok(Some(_)) => {}
            Ok(None) => {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "to is not a customer (set OUTBOUND_TO_NON_CUSTOMERS=true to allow it)",
                )
                    .into_response();
            }
            Err(err) => {
                warn!(error = %err, "customer lookup for an outbound call failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    let mut params: Vec<(&str, String)> = Vec::new();
    if let Some(id) = request.appointment_id {
        params.push(("appointment_id", id.to_string()));
    }
    for (key, value) in [
        ("service", &request.service),
        ("starts_at", &request.starts_at),
        ("vehicle", &request.vehicle),
    ] {
        if let Some(value) = value {
            params.push((key, value.clone()));
        }
    }
    if let Some(id) = request.vehicle_id {
        params.push(("vehicle_id", id.to_string()));
    }
    match place_outbound_call(&state, &to, &request.call_type, &params).await {
        Ok(call) => (
            StatusCode::CREATED,
            Json(json!({"call_sid": call.sid.as_str(), "status": format!("{:?}", call.status).to_lowercase()})),
        )
            .into_response(),
        Err(PlaceError::NotConfigured(why)) => {
            (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
        }
        Err(PlaceError::OptedOut) => (
            StatusCode::CONFLICT,
            "the number is on the do-not-call list",
        )
            .into_response(),
        Err(PlaceError::ListUnavailable(err)) => {
            warn!(error = %err, "do-not-call list unavailable; no call placed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(PlaceError::Rest(err)) => {
            warn!(error = %err, "outbound call failed");
            (
                StatusCode::BAD_GATEWAY,
                Json(json!({"error": err.to_string()})),
            )
                .into_response()
        }
    }
}

/// Why an outbound call was not placed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlaceError {
    /// Twilio credentials, `PUBLIC_URL` or a from-number are missing.
    #[error("{0}")]
    NotConfigured(&'static str),
    /// Twilio refused or could not be reached.
    #[error("{0}")]
    Rest(twilio::rest::RestError),
    /// The number is on the do-not-call list.
    #[error("the number is on the do-not-call list")]
    OptedOut,
    /// The do-not-call list could not be read: no call is placed without checking it.
    #[error("the do-not-call list could not be checked: {0}")]
    ListUnavailable(crm::CrmError),
}

/// Places an outbound call of `call_type` to `to` (E.164) whose stream carries `params` (what
/// the call is about, see `call_pipeline::outbound`): Twilio fetches the voice webhook with
/// them, and reports the call's status. The caller checks who may be called and when.
pub(crate) async fn place_outbound_call(
    state: &AppState,
    to: &str,
    call_type: &str,
    params: &[(&str, String)],
) -> Result<twilio::rest::Call, PlaceError> {
    let (Some(rest), Some(base)) = (&state.rest, &state.config.public_url) else {
        return Err(PlaceError::NotConfigured(
            "Twilio credentials and PUBLIC_URL are needed for outbound calls",
        ));
    };
    // Fail closed: nobody on the do-not-call list is called, and nobody while it cannot be read.
    if let Some(crm) = &state.crm_store {
        match crm.call_opted_out(to).await {
            Ok(false) => {}
            Ok(true) => return Err(PlaceError::OptedOut),
            Err(err) => return Err(PlaceError::ListUnavailable(err)),
        }
    }
    let Some(from) = state
        .config
        .twilio_from_number
        .clone()
        .or_else(|| state.shop.phone.clone())
    else {
        return Err(PlaceError::NotConfigured(
            "set TWILIO_FROM_NUMBER or the shop's phone",
        ));
    };
    let mut webhook = base
        .join(&format!(
            "{}/twilio/voice",
            base.path().trim_end_matches('/')
        ))
        .expect("a path joins any http(s) origin");
    let amd_callback = state
        .config
        .outbound_amd
        .then(|| format!("{}/twilio/amd", base.as_str().trim_end_matches('/')));
    {
        let mut query = webhook.query_pairs_mut();
        query.append_pair("call_type", call_type);
        for (key, value) in params {
            query.append_pair(key, value);
        }
        if amd_callback.is_some() {
            // The call waits for the verdict before greeting (`call_pipeline::AMD_PARAMETER`).
            query.append_pair(call_pipeline::AMD_PARAMETER, "1");
        }
    }
    let mut create = CreateCall::new(
        to.to_owned(),
        from,
        CallInstructions::Url {
            url: webhook.to_string(),
            method: None,
        },
    );
    if let Some(url) = amd_callback {
        // In the background, so the call is answered at once and a person is greeted as soon as
        // the verdict says so; a machine is reported at the end of its greeting (the beep).
        create.machine_detection = Some(twilio::rest::MachineDetection::DetectMessageEnd);
        create.async_amd_callback = Some(url);
    }
    create.status_callback = base
        .join(&format!(
            "{}/twilio/status",
            base.path().trim_end_matches('/')
        ))
        .ok()
        .map(|u| u.to_string());
    let call = rest.create_call(&create).await.map_err(PlaceError::Rest)?;
    info!(call_sid = call.sid.as_str(), to = %mask_phone(to), call_type, "outbound call created");
    Ok(call)
}

/// `GET /api/calls/{call_sid}`: the live session and the stored record.
async fn get_call(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(call_sid): Path<String>,
) -> Response {
    if let Err(rejection) = check_bearer(&state, &headers) {
        return rejection.into_response();
    }
    let session = match state.sessions.get_session(&call_sid).await {
        Ok(session) => session.map(|mut fields| {
            // Masked like the record's number beside it.
            if let Some(Value::String(phone)) = fields.get_mut("caller_phone") {
                *phone = mask_phone(phone);
            }
            Value::Object(fields)
        }),
        Err(err) => {
            warn!(call_sid, error = %err, "session lookup failed");
            None
        }
    };
    let record = match &state.crm_store {
        Some(crm) => match crm.get_call(&call_sid).await {
            Ok(record) => record.map(|r| call_record_json(&r)),
            Err(err) => {
                warn!(call_sid, error = %err, "call record lookup failed");
                None
            }
        },
        None => None,
    };
    if session.is_none() && record.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let recording = match &state.crm_store {
        Some(crm) => crm.call_recording(&call_sid).await.unwrap_or_else(|err| {
            warn!(call_sid, error = %err, "call recording lookup failed");
            None
        }),
        None => None,
    };
    Json(
        json!({"call_sid": call_sid, "session": session, "record": record, "recording": recording}),
    )
    .into_response()
}

/// `GET /api/fleet`: every gateway sharing this one's session store (its calls, limit, whether
/// it drains) and the calls in progress fleet-wide (`fleet.rs`).
async fn fleet_view(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(rejection) = check_bearer(&state, &headers) {
        return rejection.into_response();
    }
    Json(crate::fleet::view(&state).await).into_response()
}

/// `GET /api/calls`: calls in progress (from sessions) and the most recent records.
async fn list_calls(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(rejection) = check_bearer(&state, &headers) {
        return rejection.into_response();
    }
    let active = state.sessions.list_active().await.unwrap_or_default();
    let recent = match &state.crm_store {
        Some(crm) => crm
            .recent_calls(50)
            .await
            .map(|records| records.iter().map(call_record_json).collect::<Vec<_>>()),
        None => Ok(Vec::new()),
    };
    match recent {
        Ok(recent) => Json(json!({"active": active, "recent": recent})).into_response(),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"active": active, "error": err.to_string()})),
        )
            .into_response(),
    }
}

/// `GET /api/callbacks[?all=true]`: callers a person must call back (open ones by default).
async fn list_callbacks(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(rejection) = check_bearer(&state, &headers) {
        return rejection.into_response();
    }
    let Some(crm) = &state.crm_store else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let include_done = query.get("all").is_some_and(|v| v == "true");
    match crm.callback_requests(include_done, 500).await {
        // The staff calling back need the whole number; the API is behind `API_TOKEN`.
        Ok(requests) => Json(json!({"callbacks": requests})).into_response(),
        Err(err) => {
            warn!(error = %err, "listing callback requests failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// `POST /api/callbacks/{id}/done`: a person called back.
async fn complete_callback(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(rejection) = check_bearer(&state, &headers) {
        return rejection.into_response();
    }
    let Some(crm) = &state.crm_store else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    match crm.complete_callback(id, (state.clock)()).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            warn!(error = %err, "completing a callback request failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn call_record_json(record: &crm::CallRecord) -> Value {
    json!({
        "call_sid": record.call_sid,
        "customer_id": record.customer_id,
        "caller": mask_phone(&record.caller_phone),
        "direction": record.direction.as_str(),
        "call_type": record.call_type,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "status": record.status,
        "summary": record.summary,
        "transcript": record.transcript,
        "escalated": record.escalated,
        "escalation_reason": record.escalation_reason,
        "total_tokens": record.usage.total_tokens,
    })
}

async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database and the session store answer.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let (database, sessions) = tokio::join!(state.crm.ping(), state.sessions.ping());
    let ok = database.is_ok() && sessions.is_ok() && !state.draining.is_cancelled();
    let body = json!({
        "database": database.as_ref().map(|_| "ok".to_owned()).unwrap_or_else(|e| e.to_string()),
        "sessions": sessions.as_ref().map(|_| "ok".to_owned()).unwrap_or_else(|e| e.to_string()),
        "draining": state.draining.is_cancelled(),
        "providers": state.providers.is_some(),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> Response {
    match &state.metrics {
        Some(handle) => handle.render().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A sliding-window rate limit: at most `limit` events in any `window`.
#[derive(Debug)]
pub(crate) struct RateLimit {
    limit: usize,
    window: std::time::Duration,
    recent: std::sync::Mutex<std::collections::VecDeque<tokio::time::Instant>>,
}

impl RateLimit {
    pub(crate) fn new(limit: usize, window: std::time::Duration) -> Self {
        Self {
            limit,
            window,
            recent: std::sync::Mutex::default(),
        }
    }

    /// Counts an event at `now` if the window has room.
    pub(crate) fn try_acquire(&self, now: tokio::time::Instant) -> bool {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while recent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= self.window)
        {
            recent.pop_front();
        }
        if recent.len() >= self.limit {
            return false;
        }
        recent.push_back(now);
        true
    }
}

/// How long after an outbound call the same number may not be called again through the API.
pub(crate) const OUTBOUND_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(600);

/// One event per key per `period` (outbound calls per number).
#[derive(Debug)]
pub(crate) struct Cooldown {
    period: std::time::Duration,
    last: std::sync::Mutex<HashMap<String, tokio::time::Instant>>,
}

impl Cooldown {
    pub(crate) fn new(period: std::time::Duration) -> Self {
        Self {
            period,
            last: std::sync::Mutex::default(),
        }
    }

    /// Counts an event for `key` at `now` unless the previous one is within the period.
    pub(crate) fn try_acquire(&self, key: &str, now: tokio::time::Instant) -> bool {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        last.retain(|_, at| now.duration_since(*at) < self.period);
        if last.contains_key(key) {
            return false;
        }
        last.insert(key.to_owned(), now);
        true
    }
}

/// `GET /api/opt-outs`: the do-not-call list, newest first.
async fn list_opt_outs(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(rejection) = check_bearer(&state, &headers) {
        return rejection.into_response();
    }
    let Some(crm) = &state.crm_store else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    match crm.call_opt_outs(1000).await {
        Ok(list) => Json(json!({"opt_outs": list})).into_response(),
        Err(err) => {
            warn!(error = %err, "listing the do-not-call list failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct OptOutRequest {
    phone: String,
}

/// `POST /api/opt-outs` `{"phone": …}`: puts a number on the do-not-call list.
async fn add_opt_out(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(request): Json<OptOutRequest>,
) -> Response {
    set_opt_out(&state, &headers, &request.phone, true).await
}

/// `DELETE /api/opt-outs/{phone}`: takes a number off the do-not-call list.
async fn remove_opt_out(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(phone): Path<String>,
) -> Response {
    set_opt_out(&state, &headers, &phone, false).await
}

async fn set_opt_out(state: &AppState, headers: &HeaderMap, phone: &str, on: bool) -> Response {
    if let Err(rejection) = check_bearer(state, headers) {
        return rejection.into_response();
    }
    let Some(crm) = &state.crm_store else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    match crm
        .set_call_opt_out(phone, on, "api", (state.clock)())
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(crm::CrmError::InvalidArgument(_)) => {
            (StatusCode::BAD_REQUEST, "phone must be a phone number").into_response()
        }
        Err(err) => {
            warn!(error = %err, "changing the do-not-call list failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
