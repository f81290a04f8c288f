//! Warm transfers and answering-machine verdicts: Twilio's side (docs/protocols.md 4.8, 4.9).
//!
//! A warm transfer is a second call: the gateway rings the advisor with inline TwiML that says
//! the call's summary inside a one-key `<Gather>` ("press 1 to take the call"). The caller stays
//! on the media stream and hears hold audio from the agent meanwhile, so if nobody takes the
//! call the agent is still there to take a message, with the whole conversation in hand.
//! - The advisor presses 1 (`/twilio/transfer/accept`): the caller's call is moved into a
//!   conference named after it (its stream ends) and the advisor's call joins the same room.
//! - The advisor lets the prompt pass or presses another key (`/twilio/transfer/declined`), does
//!   not answer, is busy, or hangs up during the summary (`/twilio/transfer/status`): the call is
//!   signalled `unanswered`, and the agent takes a message.
//!
//! Why not `<Dial><Number url=whisper>` on the caller's leg: the caller would leave the stream
//! and hear ringing, not hold audio; an advisor's own voicemail would "answer" and take the
//! caller; and on no answer the agent would have to come back on a new stream.
//!
//! Every route here proves Twilio's signature, which covers the `call` query parameter. Each
//! outcome reaches the call as a first-wins signal in the shared store
//! (`call_pipeline::signals`), so the instance that serves the webhook need not be the one
//! running the call.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::post,
};
use call_pipeline::{
    PortError,
    signals::{self, SignalKind},
};
use serde::Deserialize;
use session_store::SessionStore;
use tracing::{info, warn};
use twilio::{
    CallSid,
    rest::{CallInstructions, CallStatusEvent, CallsClient, CreateCall},
    twiml::{Conference, Dial, Gather, Response as Twiml, Say},
};

use crate::app::AppState;
use crate::routes::{form_value, parse_form, prove_form, xml};

/// The longest a transferred call may last (Twilio's `timeLimit`), so a forgotten line ends.
const BRIDGED_CALL_LIMIT_SECS: u32 = 4 * 3600;

/// The routes Twilio calls during a warm transfer and after answering-machine detection.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/twilio/transfer/accept", post(accept))
        .route("/twilio/transfer/declined", post(declined))
        .route("/twilio/transfer/status", post(advisor_status))
        .route("/twilio/amd", post(answered_by))
}

/// Warm transfers through Twilio: rings the advisor, remembers that call, cancels it.
pub(crate) struct WarmTransfers {
    pub(crate) rest: CallsClient,
    pub(crate) sessions: Arc<dyn SessionStore>,
    /// `PUBLIC_URL` without a trailing slash.
    pub(crate) base: String,
    pub(crate) advisor_phone: String,
    /// The number the advisor's phone shows (the shop's Twilio number).
    pub(crate) from: String,
    pub(crate) ring_secs: u32,
}

impl WarmTransfers {
    /// The TwiML the advisor's phone runs: the summary, a one-key accept, else the decline.
    pub(crate) fn advisor_twiml(&self, call_sid: &CallSid, brief: &str) -> String {
        let query = format!("?call={}", call_sid.as_str());
        let document = |brief: &str| {
            Twiml::new()
                .gather(
                    Gather::digits(format!("{}/twilio/transfer/accept{query}", self.base))
                        .num_digits(1)
                        .timeout_secs(6)
                        .say(Say::new(format!(
                            "Transfer from the virtual assistant. {brief}"
                        )))
                        .say(Say::new(
                            "Press 1 to take the call. Otherwise the assistant takes a message.",
                        )),
                )
                .redirect(format!("{}/twilio/transfer/declined{query}", self.base))
                .to_xml()
        };
        let full = document(brief);
        if full.chars().count() <= twilio::rest::MAX_INLINE_TWIML_CHARS {
            return full;
        }
        // A summary too long for inline TwiML is cut (it is a few sentences in practice).
        let short: String = brief.chars().take(1500).collect();
        document(&short)
    }

    pub(crate) async fn call_advisor(
        &self,
        call_sid: &CallSid,
        brief: &str,
    ) -> Result<(), PortError> {
        let mut create = CreateCall::new(
            self.advisor_phone.clone(),
            self.from.clone(),
            CallInstructions::Twiml(self.advisor_twiml(call_sid, brief)),
        );
        create.timeout_secs = Some(self.ring_secs);
        create.status_callback = Some(format!(
            "{}/twilio/transfer/status?call={}",
            self.base,
            call_sid.as_str()
        ));
        create.status_callback_events = vec![CallStatusEvent::Completed];
        // One attempt: retrying a create that timed out could ring the advisor twice.
        let advisor_call = self
            .rest
            .create_call(&create)
            .await
            .map_err(|err| crate::app::rest_port_error(&err))?;
        info!(
            advisor_call = advisor_call.sid.as_str(),
            "ringing the advisor for a warm transfer"
        );
        if let Err(err) = signals::send(
            self.sessions.as_ref(),
            SignalKind::AdvisorLeg,
            call_sid.as_str(),
            advisor_call.sid.as_str(),
        )
        .await
        {
            warn!(error = %err, "could not remember the advisor's call; it cannot be cancelled");
        }
        Ok(())
    }

    /// The caller left or the wait is over: a late "press 1" must find nobody to connect, and
    /// the advisor's phone stops ringing.
    pub(crate) async fn cancel(&self, call_sid: &CallSid) -> Result<(), PortError> {
        let sessions = self.sessions.as_ref();
        let key = call_sid.as_str();
        let cancelled = signals::transfer_unanswered("cancelled");
        match signals::send(sessions, SignalKind::Transfer, key, &cancelled).await {
            // First: a later "press 1" finds nobody to connect.
            Ok(true) => {}
            Ok(false) => {
                let holder = signals::read(sessions, SignalKind::Transfer, key).await;
                if matches!(&holder, Ok(Some(v)) if v == signals::TRANSFER_CONNECTED) {
                    // The advisor took the call: their leg is the caller's line now, unless the
                    // move failed (then the advisor waits in an empty room).
                    let bridge = signals::read(sessions, SignalKind::Bridge, key).await;
                    match bridge {
                        Ok(Some(value)) if value.starts_with("failed") => {}
                        _ => {
                            info!(
                                call_sid = key,
                                "the advisor took the call; their leg is left alone"
                            );
                            return Ok(());
                        }
                    }
                }
            }
            // The store is down: accepts fail closed then, so nobody waits on the advisor's leg.
            Err(err) => {
                warn!(call_sid = key, error = %err, "could not mark the transfer cancelled")
            }
        }
        let leg = signals::read(sessions, SignalKind::AdvisorLeg, key)
            .await
            .map_err(|err| PortError::unavailable(err.to_string()))?;
        let Some(leg) = leg.and_then(|sid| CallSid::parse(&sid).ok()) else {
            return Ok(());
        };
        // `canceled` stops a call that still rings; `completed` hangs up one that was answered
        // (docs/protocols.md 4.8). Which one the leg is cannot be known without a race, so both:
        // each is a no-op error on a call in the other state or already over.
        let cancel = self.rest.cancel_call(&leg).await;
        if matches!(&cancel, Err(err) if err.is_not_found()) {
            return Ok(());
        }
        match self.rest.complete_call(&leg).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_call_gone() || err.is_not_found() => Ok(()),
            Err(err) if cancel.is_ok() => {
                warn!(call_sid = key, error = %err, "the advisor's call was cancelled but could not be hung up");
                Ok(())
            }
            Err(err) => Err(crate::app::rest_port_error(&err)),
        }
    }
}

/// The TwiML that puts one leg in the transfer's room; either leg leaving ends it.
pub(crate) fn conference_twiml(call_sid: &CallSid) -> String {
    Twiml::new()
        .dial(
            Dial::conference(
                Conference::named(format!("transfer-{}", call_sid.as_str()))
                    .start_on_enter(true)
                    .end_on_exit(true)
                    .beep(false)
                    .wait_url(""),
            )
            .time_limit_secs(BRIDGED_CALL_LIMIT_SECS),
        )
        .to_xml()
}

#[derive(Debug, Deserialize)]
struct TransferQuery {
    call: String,
}

/// Proves the request and reads the caller's call SID from the query.
fn caller_call(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    form: &[(String, String)],
    query: &TransferQuery,
    what: &'static str,
) -> Result<CallSid, Box<Response>> {
    prove_form(state, uri, headers, form).map_err(|refusal| Box::new(refusal.refuse(what)))?;
    CallSid::parse(&query.call)
        .map_err(|_| Box::new((StatusCode::BAD_REQUEST, "call is not a call SID").into_response()))
}

/// `POST /twilio/transfer/accept?call=…`: the advisor pressed a key during the summary.
async fn accept(
    State(state): State<Arc<AppState>>,
    Query(query): Query<TransferQuery>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let call_sid = match caller_call(&state, &uri, &headers, &form, &query, "transfer accept") {
        Ok(sid) => sid,
        Err(refusal) => return *refusal,
    };
    if form_value(&form, "Digits") != Some("1") {
        return decline(&state, &call_sid, "declined").await;
    }
    let Some(rest) = &state.rest else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let sessions = state.sessions.as_ref();
    let key = call_sid.as_str();
    // Claim the transfer before moving anyone: a caller who hung up, or a wait that ran out,
    // claimed it first, and then there is nobody to connect.
    match signals::send(
        sessions,
        SignalKind::Transfer,
        key,
        signals::TRANSFER_CONNECTED,
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            let holder = signals::read(sessions, SignalKind::Transfer, key).await;
            let moved = signals::read(sessions, SignalKind::Bridge, key).await;
            if matches!(&holder, Ok(Some(v)) if v == signals::TRANSFER_CONNECTED)
                && matches!(&moved, Ok(Some(v)) if v == signals::BRIDGE_MOVED)
            {
                // Twilio asked again for an accept that went through: the same answer.
                return xml(conference_twiml(&call_sid));
            }
            info!(
                call_sid = key,
                "the advisor accepted after the caller stopped waiting"
            );
            return xml(Twiml::new()
                .say(Say::new(
                    "Sorry, the caller is no longer waiting. The assistant took a message.",
                ))
                .hangup()
                .to_xml());
        }
        Err(err) => {
            // Without the shared store nothing tells the call it was taken; it takes a message
            // when its wait runs out, so the advisor must not be put through.
            warn!(call_sid = key, error = %err, "cannot claim the transfer; not connecting");
            return xml(Twiml::new()
                .say(Say::new("Sorry, the caller could not be connected."))
                .hangup()
                .to_xml());
        }
    }
    if let Err(err) = rest
        .update_call_twiml(&call_sid, &conference_twiml(&call_sid))
        .await
    {
        warn!(call_sid = key, error = %err, "could not move the caller to the advisor");
        if let Err(err) = signals::send(
            sessions,
            SignalKind::Bridge,
            key,
            &signals::bridge_failed("redirect failed"),
        )
        .await
        {
            // The call's own wait for the bridge is bounded: it takes a message then.
            warn!(call_sid = key, error = %err, "could not signal the failed move");
        }
        return xml(Twiml::new()
            .say(Say::new("Sorry, the caller could not be connected."))
            .hangup()
            .to_xml());
    }
    if let Err(err) = signals::send(sessions, SignalKind::Bridge, key, signals::BRIDGE_MOVED).await
    {
        // The caller's stream ends with the move anyway, which the call takes as the transfer.
        warn!(call_sid = key, error = %err, "could not signal the move");
    }
    info!(call_sid = key, "the advisor took the call");
    xml(conference_twiml(&call_sid))
}

/// `POST /twilio/transfer/declined?call=…`: the summary ended with no key pressed.
async fn declined(
    State(state): State<Arc<AppState>>,
    Query(query): Query<TransferQuery>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    match caller_call(&state, &uri, &headers, &form, &query, "transfer declined") {
        Ok(call_sid) => decline(&state, &call_sid, "declined").await,
        Err(refusal) => *refusal,
    }
}

async fn decline(state: &AppState, call_sid: &CallSid, why: &str) -> Response {
    info!(
        call_sid = call_sid.as_str(),
        why, "the advisor did not take the call"
    );
    signal_unanswered(state, call_sid, why).await;
    xml(Twiml::new()
        .say(Say::new("Okay. The assistant will take a message."))
        .hangup()
        .to_xml())
}

async fn signal_unanswered(state: &AppState, call_sid: &CallSid, why: &str) {
    if let Err(err) = signals::send(
        state.sessions.as_ref(),
        SignalKind::Transfer,
        call_sid.as_str(),
        &signals::transfer_unanswered(why),
    )
    .await
    {
        // The call's own wait is bounded: it takes a message when it runs out.
        warn!(call_sid = call_sid.as_str(), error = %err, "could not signal the unanswered transfer");
    }
}

/// `POST /twilio/transfer/status?call=…`: the advisor's call ended. Not answered, busy or
/// failed means nobody takes the caller; `completed` before any key press means the advisor hung
/// up during the summary (after an accept, the first signal stands and this changes nothing).
async fn advisor_status(
    State(state): State<Arc<AppState>>,
    Query(query): Query<TransferQuery>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let call_sid = match caller_call(&state, &uri, &headers, &form, &query, "transfer status") {
        Ok(sid) => sid,
        Err(refusal) => return *refusal,
    };
    let why = match form_value(&form, "CallStatus") {
        Some(status @ ("busy" | "no-answer" | "failed" | "canceled")) => status,
        Some("completed") => "hung up",
        _ => return StatusCode::NO_CONTENT.into_response(),
    };
    signal_unanswered(&state, &call_sid, why).await;
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /twilio/amd`: Twilio's asynchronous answering-machine verdict for an outbound call.
async fn answered_by(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    if let Err(refusal) = prove_form(&state, &uri, &headers, &form) {
        return refusal.refuse("answering-machine detection");
    }
    let (Some(call_sid), Some(answered_by)) = (
        form_value(&form, "CallSid").and_then(|sid| CallSid::parse(sid).ok()),
        form_value(&form, "AnsweredBy"),
    ) else {
        return (StatusCode::BAD_REQUEST, "CallSid and AnsweredBy are needed").into_response();
    };
    info!(
        call_sid = call_sid.as_str(),
        answered_by, "answering-machine detection result"
    );
    match signals::send(
        state.sessions.as_ref(),
        SignalKind::AnsweredBy,
        call_sid.as_str(),
        answered_by,
    )
    .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => {
            warn!(call_sid = call_sid.as_str(), error = %err, "could not pass on the machine-detection result");
            // Twilio does not retry it; the call greets when its own wait runs out.
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
