//! `run_call`: one phone call from Twilio's `start` to the final record.
//!
//! A handful of named tasks under one cancellation token: the phone reader and writer, the STT and
//! TTS drivers, the session writer, and at most one bot turn at a time (a child token, so barge-in
//! stops the turn and not the call). The driver — this module's `CallState` — is the thin async
//! shell around the pure turn-taking machine (`floor.rs`): it maps each source to a floor `Event`,
//! carries out the `Action`s that come back, and is the only owner of the `ConversationManager`
//! and the history, so none of them need a lock.

use std::{
    collections::{HashMap, VecDeque},
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use audio_codec::VadEvent;
use chrono::{DateTime, Utc};
use conversation::{
    CallDirection, ConversationManager, ConversationSnapshot, CustomerProfile, EscalationReason,
    MessageTaker, ShopConfig, State, ToolResult,
};
use std::pin::Pin;

use futures::{Sink, StreamExt};
use providers::{
    ChatMessage, ChatRequest, LanguageModel, ProviderError, SpeechToText, SttEvent, SttOptions,
    SttSession, TextToSpeech, TtsEvent, TtsHandle, TtsOptions, TtsSession, Usage,
    UtteranceAssembler,
};
use serde_json::{Value, json};
use session_store::SessionStore;
use tokio::sync::{mpsc, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{Instrument, Span, debug, error, info, info_span, warn};
use twilio::{
    CallSid, StreamSid,
    media::{self, Inbound, Start},
};

use conversation::caller_id::{is_withheld, mask_phone};

use crate::{
    admission::{Admitted, PendingSlot, StreamAdmission, resumes},
    capture::Capture,
    config::PipelineConfig,
    floor::{Action, Event as FloorEvent, Floor, FloorConfig, Then},
    outbox::RecordOutbox,
    phone::{PhoneEvent, PhoneLink, read_from_phone, write_to_phone},
    ports::{
        CallControl, CallCrm, CallEvent, CallObserver, CallRecord, ToolCallContext, ToolOutcome,
    },
    signals::{self, SignalKind},
    token::STREAM_TOKEN_PARAMETER,
    turn::{TurnEvent, TurnInput, run_bot_turn},
};

/// How long to drop TTS audio after a `Clear` while waiting for `Cleared`; a vendor that never
/// answers must not leave the agent mute.
const CLEARED_MAX_WAIT: Duration = Duration::from_secs(2);

/// How the call record names turns the offline agent answered (`answered_by` in their timings).
const OFFLINE_AGENT: &str = "offline_agent";

/// Everything a call uses, shared by all calls.
#[derive(Clone)]
pub struct CallDeps {
    /// Speech-to-text.
    pub stt: Arc<dyn SpeechToText>,
    /// The language model; `None`: the offline agent answers every turn.
    pub llm: Option<Arc<dyn LanguageModel>>,
    /// Answers a turn when the LLM fails or is slower than `llm_fallback_after`, and every turn
    /// without an LLM (the `offline-agent` crate, wired by the binary).
    pub offline_agent: Option<OfflineAgentFactory>,
    /// Text-to-speech.
    pub tts: Arc<dyn TextToSpeech>,
    /// Tried when `tts` cannot connect.
    pub tts_fallback: Option<Arc<dyn TextToSpeech>>,
    /// The CRM.
    pub crm: Arc<dyn CallCrm>,
    /// Session storage.
    pub sessions: Arc<dyn SessionStore>,
    /// Transfers and hang-ups.
    pub call_control: Arc<dyn CallControl>,
    /// The shop's facts.
    pub shop: Arc<ShopConfig>,
    /// Decides which streams become calls (token, single use, capacity); `None` admits every
    /// stream (tests and replay, which have no webhook).
    pub admission: Option<Arc<StreamAdmission>>,
    /// This socket's place among those still waiting for `start`; freed once `start` arrives.
    pub pending_slot: Option<Arc<PendingSlot>>,
    /// Where final call records go (retried until they land).
    pub records: RecordOutbox,
    /// The wall clock (replay and tests inject a fixed one).
    pub now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    /// Sees each call's turns, state and end as they happen (the console, a text call).
    pub observer: Option<Arc<dyn CallObserver>>,
    /// When set, each call is written there as a capture file (docs/captures.md).
    pub capture_dir: Option<PathBuf>,
    /// Cancelled when the server's drain time is over: each call still running is handed to the
    /// advisor (or told goodbye) instead of being cut off. `None`: never.
    pub handoff: Option<CancellationToken>,
}

/// Builds the offline agent for one turn from the conversation as it stands after the caller's
/// words, at `now`; it answers through the `LanguageModel` protocol like the LLM.
pub type OfflineAgentFactory =
    Arc<dyn Fn(&ConversationManager, DateTime<Utc>) -> Arc<dyn LanguageModel> + Send + Sync>;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// The caller or the agent ended the call normally.
    Completed,
    /// The call was handed to the advisor.
    Transferred,
    /// The stream was refused (bad token, no `start`) before anything was opened.
    Rejected,
    /// The gateway could not serve the call (no TTS, no STT) and handed it off or hung up.
    Failed,
    /// An outbound call reached an answering machine: the agent left a voicemail.
    Voicemail,
    /// The media stream broke without Twilio's `stop` and without the gateway ending the call
    /// (a network cut, or the other end of a gateway crash): Twilio asks the `<Connect action>`
    /// URL what next, and a gateway resumes the call from its session.
    Lost,
}

impl CallStatus {
    /// The snake_case name stored in sessions and call records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Transferred => "transferred",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Voicemail => "voicemail",
            Self::Lost => "lost",
        }
    }

    /// The status named `name` (`as_str`'s inverse), as an `ended_<sid>` mark holds it.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Completed,
            Self::Transferred,
            Self::Rejected,
            Self::Failed,
            Self::Voicemail,
            Self::Lost,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }
}

/// What `run_call` returns (the same facts go to the session and the call record).
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// The call, when `start` arrived.
    pub call_sid: Option<String>,
    /// How it ended.
    pub status: CallStatus,
    /// The manager's summary, when the conversation started.
    pub summary: Option<Value>,
    /// Why it escalated, if it did.
    pub escalation_reason: Option<EscalationReason>,
    /// The conversation history (no system prompt).
    pub history: Vec<ChatMessage>,
    /// LLM tokens used.
    pub total_tokens: u64,
    /// Number of barge-ins.
    pub barge_ins: u32,
}

impl CallOutcome {
    fn rejected(call_sid: Option<String>) -> Self {
        Self {
            call_sid,
            status: CallStatus::Rejected,
            summary: None,
            escalation_reason: None,
            history: Vec::new(),
            total_tokens: 0,
            barge_ins: 0,
        }
    }
}

/// Runs one call over `phone` until it ends, then saves its final state. Never panics on input.
pub async fn run_call(
    phone: PhoneLink,
    deps: CallDeps,
    config: Arc<PipelineConfig>,
    shutdown: &CancellationToken,
) -> CallOutcome {
    let span = info_span!(
        "call",
        call_sid = tracing::field::Empty,
        stream_sid = tracing::field::Empty
    );
    run_call_inner(phone, deps, config, shutdown.child_token())
        .instrument(span)
        .await
}

async fn run_call_inner(
    phone: PhoneLink,
    deps: CallDeps,
    config: Arc<PipelineConfig>,
    call: CancellationToken,
) -> CallOutcome {
    let PhoneLink {
        mut inbound,
        outbound,
    } = phone;
    let mut before_start = Vec::new();
    let start = wait_for_start(&mut inbound, config.start_timeout, &mut before_start).await;
    if let Some(slot) = &deps.pending_slot {
        slot.free();
    }
    let start = match start {
        Ok(start) => start,
        Err(reason) => {
            warn!(reason, "media stream refused before start");
            metrics::counter!("voice_streams_rejected_total", "reason" => "no_start").increment(1);
            return CallOutcome::rejected(None);
        }
    };
    let span = Span::current();
    span.record("call_sid", start.call_sid.as_str());
    span.record("stream_sid", start.stream_sid.as_str());
    // Nothing about the call is opened, read or written before the stream is admitted.
    let admitted = match &deps.admission {
        Some(admission) => match admission.admit(&start, (deps.now)()).await {
            Ok(admitted) => Some(admitted),
            Err(refusal) => {
                warn!(reason = refusal.label(), "media stream refused");
                metrics::counter!("voice_streams_rejected_total", "reason" => refusal.label())
                    .increment(1);
                if refusal.hands_off() {
                    // A real caller: hand them to a person rather than hang up.
                    if let Err(err) = deps.call_control.transfer_to_advisor(&start.call_sid).await {
                        warn!(error = %err, "could not hand the over-capacity call to a person");
                    }
                }
                return CallOutcome::rejected(Some(start.call_sid.as_str().to_owned()));
            }
        },
        None => None,
    };
    // Captures start only for admitted streams.
    let capture = deps
        .capture_dir
        .as_ref()
        .map(|dir| Capture::new(dir.clone(), start.call_sid.as_str()));
    if let Some(capture) = &capture {
        for frame in &before_start {
            capture.twilio_in(frame);
        }
    }
    let outcome = run_admitted(
        start,
        inbound,
        outbound,
        deps,
        config,
        call,
        capture,
        admitted.as_ref(),
    )
    .await;
    if let Some(admitted) = admitted {
        admitted.release().await;
    }
    outcome
}

/// The call after its stream was admitted.
#[allow(clippy::too_many_arguments)]
async fn run_admitted(
    start: Start,
    inbound: futures::stream::BoxStream<'static, Result<String, crate::phone::PhoneError>>,
    outbound: Pin<Box<dyn Sink<String, Error = crate::phone::PhoneError> + Send>>,
    deps: CallDeps,
    config: Arc<PipelineConfig>,
    call: CancellationToken,
    capture: Option<Capture>,
    admitted: Option<&Admitted>,
) -> CallOutcome {
    if !start.media_format.is_mulaw_8khz_mono() {
        warn!(
            encoding = start.media_format.encoding,
            rate = start.media_format.sample_rate_hz,
            "unexpected media format; treating it as 8 kHz mu-law"
        );
    }
    // Twilio's `Direction`: `inbound`, or `outbound-api` / `outbound-dial` for calls we place.
    // The customer is the caller on inbound calls and the callee (`To`) on outbound ones; both
    // come from the webhook Twilio signed, bound to this stream by its token.
    let is_outbound = start
        .custom_parameters
        .get("direction")
        .is_some_and(|d| d.starts_with("outbound"));
    let direction = if is_outbound {
        CallDirection::Outbound
    } else {
        CallDirection::Inbound
    };
    // An inbound caller ID whose STIR/SHAKEN check failed (or, by policy, is not attested) does
    // not name a customer: the call is treated as withheld.
    let verstat = start
        .custom_parameters
        .get("StirVerstat")
        .map(String::as_str);
    let trusted = is_outbound || config.caller_id_policy.trusts(verstat);
    if !trusted {
        warn!(
            verstat,
            "caller ID not trusted; treating the caller as unknown"
        );
        metrics::counter!("voice_untrusted_caller_ids_total").increment(1);
    }
    let caller_phone = start
        .custom_parameters
        .get(if is_outbound { "To" } else { "From" })
        .filter(|p| !is_withheld(p) && trusted)
        .cloned();
    let mut started_at = (deps.now)();
    // A stream that resumes a call whose previous stream was lost (`admission.rs`): the
    // conversation goes on from the call's session.
    let resumed = resumes(&start);
    if let Some(capture) = &capture {
        let mut params = start.custom_parameters.clone();
        params.remove(STREAM_TOKEN_PARAMETER);
        capture.meta(
            start.call_sid.as_str(),
            start.stream_sid.as_str(),
            &started_at.to_rfc3339(),
            json!(params),
            config.early_replies,
        );
    }
    info!(caller = %caller_phone.as_deref().map(mask_phone).unwrap_or_else(|| "unknown".to_owned()), direction = direction.as_str(), "call started");
    metrics::gauge!("voice_active_calls").increment(1.0);

    // Session, STT, TTS and the CRM lookup all at once: the greeting waits for the slowest.
    let session_fields = json!({
        "stream_sid": start.stream_sid.as_str(),
        "caller_phone": caller_phone,
        "started_at": started_at.to_rfc3339(),
        "conversation_history": [],
        "status": "in_progress",
    });
    let call_sid = start.call_sid.as_str().to_owned();
    // A new call replaces any session under its SID; a resumed one reads the session the lost
    // stream left and keeps its history.
    let session_op = async {
        if !resumed {
            return (
                deps.sessions
                    .set_session(&call_sid, as_object(session_fields))
                    .await,
                None,
            );
        }
        let prior = match deps.sessions.get_session(&call_sid).await {
            Ok(prior) => prior,
            Err(err) => {
                warn!(error = %err, "could not read the session of the resumed call; starting over");
                None
            }
        };
        let fields = json!({
            "stream_sid": start.stream_sid.as_str(),
            "status": "in_progress",
        });
        (
            deps.sessions
                .update_session(&call_sid, as_object(fields))
                .await,
            prior,
        )
    };
    // The CRM lookup comes before the STT connection, so recognition is told the caller's
    // vehicles as keyterms; the lookup takes about a millisecond and the greeting waits for it
    // anyway (it depends on who is calling).
    let lookup_then_stt = async {
        let lookup = lookup_customer(
            deps.crm.as_ref(),
            caller_phone.as_deref(),
            config.crm_lookup_timeout,
        )
        .await;
        let profile = match &lookup {
            Lookup::Found(profile) => Some(profile),
            _ => None,
        };
        let keyterms = conversation::call_vocabulary(&deps.shop, profile);
        let stt = connect_stt(
            deps.stt.as_ref(),
            &call_sid,
            keyterms,
            config.provider_connect_timeout,
        )
        .await;
        (lookup, stt)
    };
    // A recorded call starts its recording with everything else, before the greeting (which
    // opens with the disclosure).
    let recording = async {
        // A resumed call's recording started with its first stream and goes on.
        if resumed || !deps.call_control.records_calls() {
            return false;
        }
        match deps.call_control.start_recording(&start.call_sid).await {
            Ok(()) => {
                info!("call recording started");
                true
            }
            Err(err) => {
                warn!(error = %err, "could not start the call recording; the call goes on");
                metrics::counter!("voice_recording_failures_total").increment(1);
                false
            }
        }
    };
    let ((session_res, prior_session), (lookup, stt_res), tts_res, recorded) = tokio::join!(
        session_op,
        lookup_then_stt,
        connect_tts(&deps, &call_sid, config.provider_connect_timeout),
        recording,
    );
    if let Err(err) = session_res {
        warn!(error = %err, "could not write the session at call start");
    }
    if let Some(capture) = &capture {
        match &lookup {
            Lookup::Found(profile) => {
                capture.crm_lookup("found", serde_json::to_value(profile).ok().as_ref())
            }
            Lookup::NotFound => capture.crm_lookup("not_found", None),
            Lookup::NoCallerId => capture.crm_lookup("no_caller_id", None),
            Lookup::Failed(_) => capture.crm_lookup("failed", None),
        }
    }
    let manager = build_manager(
        &deps,
        &start,
        caller_phone.as_deref(),
        lookup,
        started_at,
        config.log_transcripts,
    );
    let customer_id = manager.customer_id;
    let mut manager = manager.manager;
    let mut history = Vec::new();
    if resumed {
        let restored = prior_session
            .map(|prior| restore_from_session(prior, &mut manager, &mut history, &mut started_at));
        match restored {
            Some(Ok(())) => info!(
                turns = manager.turn_count(),
                state = manager.state().as_str(),
                "resumed the call from its session"
            ),
            Some(Err(err)) => {
                warn!(error = %err, "the session of the resumed call is unreadable; starting over")
            }
            None => warn!("no session for the resumed call; starting over"),
        }
        metrics::counter!("voice_calls_resumed_total").increment(1);
    }
    // The call's record exists from its start, on disk first (see `outbox.rs`): a crash mid-call
    // still leaves a record. It only inserts, so it never overwrites the final one.
    let start_record = CallRecord {
        call_sid: call_sid.clone(),
        stream_sid: start.stream_sid.as_str().to_owned(),
        caller_phone: caller_phone.clone(),
        customer_id,
        direction,
        call_type: manager.call_type().as_str().to_owned(),
        started_at,
        ended_at: None,
        status: "in_progress".to_owned(),
        summary: Value::Null,
        transcript: Value::Array(Vec::new()),
        escalation_triggered: false,
        escalation_reason: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        timings: Value::Array(Vec::new()),
        callback_reason: None,
        message: None,
        offline_turns: Vec::new(),
    };

    let tracker = TaskTracker::new();
    // Written beside the greeting, not before it (the fsync must not add to the caller's wait).
    let records = deps.records.clone();
    tracker.spawn(async move { records.submit(start_record).await }.in_current_span());
    let (phone_tx, phone_rx) = mpsc::channel(config.event_queue_len);
    let (frames_tx, frames_rx) = mpsc::channel(config.outbound_queue_len);
    tracker.spawn(write_to_phone(outbound, frames_rx, call.clone()).in_current_span());

    let floor_config = FloorConfig {
        mark_every_frames: config.mark_every_frames,
        max_unflushed_chars: config.max_unflushed_chars,
        silence_check_in: config.silence_check_in,
        silence_hang_up: config.silence_hang_up,
        pause_resume_after: config.pause_resume_after,
        pause_max: config.pause_max,
        cleared_max_wait: CLEARED_MAX_WAIT,
        unfinished_hold: config.unfinished_hold,
        max_hold: config.max_unfinished_hold,
        turn_end_by_meaning: config.turn_end_by_meaning,
        recogniser_ends_turns: deps.stt.ends_turns_by_meaning(),
        early_replies: config.early_replies,
        filler_after: config.filler_after,
        filler_line: config.filler_line.clone(),
    };
    let mut call_state = CallState {
        config: config.clone(),
        deps: deps.clone(),
        call_sid: start.call_sid.clone(),
        stream_sid: start.stream_sid.clone(),
        caller_phone: caller_phone.clone(),
        direction,
        customer_id,
        started_at,
        manager,
        history,
        floor: Floor::new(
            floor_config,
            start.stream_sid.clone(),
            now_std(),
            config.max_call_duration,
        ),
        pending: VecDeque::new(),
        assistant_turn: None,
        frames_tx: Some(frames_tx),
        tts: None,
        stt: None,
        tts_events: None,
        reply_cancel: None,
        assembler: UtteranceAssembler::new(),
        usage: Usage::default(),
        transfer: TransferState::None,
        status: CallStatus::Completed,
        user_turns: 0,
        early: None,
        early_counts: EarlyCounts::default(),
        closing: false,
        shutting_down: false,
        bookings: Arc::default(),
        llm_down: Arc::default(),
        offline_turns: Vec::new(),
        timings: Vec::new(),
        session_tx: None,
        tracker: tracker.clone(),
        call: call.clone(),
        turn_tx: None,
        capture: capture.clone(),
        tts_fallback_used: false,
        recorded: false,
        taker: None,
        message_silences: 0,
        hold_rounds: 0,
        awaiting_amd: false,
        stt_lost: false,
        signal_tx: None,
        resumed,
        stream_lost: false,
    };

    let (stt_session, tts_session) = match (stt_res, tts_res) {
        (Ok(stt), Ok(tts)) => (Some(stt), Some(tts)),
        (stt, tts) => {
            if let Err(err) = &stt {
                error!(error = %err, retryable = err.is_retryable(), "speech-to-text unavailable at call start");
            }
            if let Err(err) = &tts {
                error!(error = %err, retryable = err.is_retryable(), "text-to-speech unavailable at call start");
            }
            (stt.ok(), tts.ok())
        }
    };

    // TTS: its events come to the driver; its driver future runs on the tracker.
    if let Some(TtsSession {
        handle,
        events,
        driver,
    }) = tts_session
    {
        tracker.spawn(driver.in_current_span());
        call_state.tts = Some(handle);
        call_state.tts_events = Some(events);
    }
    let (stt_handle, mut stt_events) = match stt_session {
        Some(SttSession {
            handle,
            events,
            driver,
        }) => {
            tracker.spawn(driver.in_current_span());
            (Some(handle), Some(events))
        }
        None => (None, None),
    };
    call_state.stt = stt_handle.clone();
    // Without a handle the reader still runs (marks, stop, DTMF); audio goes nowhere.
    let reader_stt = stt_handle
        .clone()
        .unwrap_or_else(|| providers::SttHandle::new(mpsc::channel(1).0));
    let reader = tracker.spawn(
        read_from_phone(
            inbound,
            reader_stt,
            phone_tx,
            config.idle_media_timeout,
            call.clone(),
            capture.clone(),
        )
        .in_current_span(),
    );
    let (session_tx, session_rx) = watch::channel(None::<serde_json::Map<String, Value>>);
    tracker.spawn(
        write_sessions(
            deps.sessions.clone(),
            call_sid.clone(),
            session_rx,
            call.clone(),
        )
        .in_current_span(),
    );
    call_state.session_tx = Some(session_tx);
    let (turn_tx, mut turn_rx) = mpsc::channel(64);
    call_state.turn_tx = Some(turn_tx);
    let (signal_tx, mut signal_rx) = mpsc::channel(4);
    call_state.signal_tx = Some(signal_tx);
    // An outbound call placed with answering-machine detection (`amd` stream parameter) greets
    // only once Twilio says a person answered; a machine gets the voicemail instead.
    let awaits_amd = is_outbound
        && !resumed
        && start
            .custom_parameters
            .get(AMD_PARAMETER)
            .is_some_and(|v| v == "1");

    call_state.observe(CallEvent::Started {
        caller: call_state.caller_phone.as_deref().map(mask_phone),
        direction: call_state.direction,
        call_type: call_state.manager.call_type().as_str().to_owned(),
    });
    let opening = if call_state.tts.is_none() {
        // Nothing can be said: hand the call to a person right away, or end it.
        call_state.status = CallStatus::Failed;
        match call_state.escalate_without_speaking().await {
            Flow::Break => Flow::Break,
            Flow::Continue => call_state.run_pending().await,
        }
    } else if stt_handle.is_none() {
        call_state.status = CallStatus::Failed;
        call_state.stt_lost = true;
        let line = call_state.config.stt_lost_line.clone();
        call_state.begin_escalation(EscalationReason::SpeechRecognitionLost, Some(line));
        call_state.run_pending().await
    } else if awaits_amd {
        info!("waiting for answering-machine detection before greeting");
        call_state.awaiting_amd = true;
        call_state.recorded = recorded;
        call_state.wait_for_signal(SignalKind::AnsweredBy, config.amd_max_wait);
        Flow::Continue
    } else {
        call_state.recorded = recorded;
        call_state.greet().await
    };

    let mut phone_rx = phone_rx;
    let handoff = deps.handoff.clone();
    let mut handing_off = false;
    if !opening.is_break() {
        loop {
            let deadline = call_state
                .floor
                .next_deadline()
                .map(tokio::time::Instant::from_std);
            let flow = tokio::select! {
                _ = call.cancelled() => Flow::Break,
                _ = cancelled_opt(handoff.as_ref()), if !handing_off => {
                    handing_off = true;
                    call_state.on_shutdown_handoff().await
                }
                event = phone_rx.recv() => match event {
                    Some(event) => call_state.on_phone_event(event).await,
                    None => Flow::Break,
                },
                event = recv_opt(&mut stt_events) => match event {
                    Some(event) => call_state.on_stt_event(event).await,
                    None => {
                        stt_events = None;
                        call_state.on_stt_lost().await
                    }
                },
                event = recv_opt(&mut call_state.tts_events) => match event {
                    Some(event) => call_state.on_tts_event(event).await,
                    None => {
                        call_state.tts_events = None;
                        call_state.dispatch(FloorEvent::TtsLost).await
                    }
                },
                Some(event) = turn_rx.recv() => call_state.on_turn_event(event).await,
                Some((kind, value)) = signal_rx.recv() => call_state.on_signal(kind, value).await,
                _ = sleep_until_opt(deadline) => call_state.dispatch(FloorEvent::Tick).await,
            };
            if flow.is_break() {
                break;
            }
        }
    }

    // End of call: stop every task, then save. The reader's last word (a broken socket) can
    // lose the race against the cancellation its ending triggers: read it here.
    while let Ok(event) = phone_rx.try_recv() {
        if let PhoneEvent::Closed(reason) = event {
            call_state.note_closed(&reason);
        }
    }
    call_state.cancel_reply();
    if call_state.transfer == TransferState::Ringing {
        // Twilio ends the stream as it moves the caller to the advisor, which can come before
        // this call's next poll of the signal.
        let signal = signals::read(
            deps.sessions.as_ref(),
            SignalKind::Transfer,
            call_state.call_sid.as_str(),
        )
        .await;
        if matches!(&signal, Ok(Some(v)) if v == signals::TRANSFER_CONNECTED) {
            info!("the stream ended as the advisor took the call");
            call_state.transfer = TransferState::Transferred;
            call_state.status = CallStatus::Transferred;
        }
    }
    if call_state.transfer == TransferState::Bridging {
        info!("the stream ended as the caller was moved to the advisor");
        call_state.transfer = TransferState::Transferred;
        call_state.status = CallStatus::Transferred;
    }
    if call_state.transfer == TransferState::Ringing {
        // The caller hung up on hold: the advisor must not pick up into an empty line.
        info!("caller left while the advisor's phone rang; cancelling that call");
        call_state.cancel_advisor_leg().await;
    }
    if call_state.stream_lost {
        call_state.status = CallStatus::Lost;
    } else if let Some(admitted) = admitted {
        // Before the socket closes: Twilio's `<Connect action>` request, which the close
        // triggers, must find the call marked as ended on purpose.
        admitted.mark_ended(call_state.status.as_str()).await;
    }
    call_state.frames_tx = None;
    if let Some(stt) = &stt_handle {
        let _ = tokio::time::timeout(Duration::from_millis(200), stt.close()).await;
    }
    if let Some(tts) = &call_state.tts {
        let _ = tokio::time::timeout(Duration::from_millis(200), tts.close()).await;
    }
    call.cancel();
    tracker.close();
    tracker.wait().await;
    let stats = reader.await.unwrap_or_default();
    metrics::gauge!("voice_active_calls").decrement(1.0);
    call_state.finish(stats).await
}

/// The driver's state: single owner of everything about this call. Turn-taking lives in `floor`
/// (pure); this struct connects it to the sockets, the LLM turn task and the conversation.
struct CallState {
    config: Arc<PipelineConfig>,
    deps: CallDeps,
    call_sid: CallSid,
    stream_sid: StreamSid,
    caller_phone: Option<String>,
    direction: CallDirection,
    customer_id: Option<i64>,
    started_at: DateTime<Utc>,
    manager: ConversationManager,
    history: Vec<ChatMessage>,
    /// Who has the floor (see `floor.rs`).
    floor: Floor,
    /// Events the conversation gave the floor while an action was carried out.
    pending: VecDeque<FloorEvent>,
    /// The agent turn whose text is in `history`, and where.
    assistant_turn: Option<(u64, usize)>,
    /// `None` once the call is ending: dropping it closes the socket after the queued frames.
    frames_tx: Option<mpsc::Sender<String>>,
    tts: Option<TtsHandle>,
    /// Speech-to-text commands (`Finalize`).
    stt: Option<providers::SttHandle>,
    tts_events: Option<mpsc::Receiver<TtsEvent>>,
    /// Cancels the LLM turn in flight.
    reply_cancel: Option<CancellationToken>,
    assembler: UtteranceAssembler,
    usage: Usage,
    transfer: TransferState,
    status: CallStatus,
    /// Caller turns so far.
    user_turns: u32,
    /// The reply started before the caller's turn was known to have ended.
    early: Option<EarlyReply>,
    early_counts: EarlyCounts,
    /// The closing line for the call's length was said; the call ends when it has played.
    closing: bool,
    /// The server is stopping: the call is being handed over.
    shutting_down: bool,
    /// Bookings made by this call's turns.
    bookings: Arc<std::sync::atomic::AtomicU32>,
    /// The LLM failed on this call: later turns go to the offline agent at once.
    llm_down: Arc<std::sync::atomic::AtomicBool>,
    /// Turns the offline agent answered (marked in their latency records).
    offline_turns: Vec<u64>,
    timings: Vec<Value>,
    session_tx: Option<watch::Sender<Option<serde_json::Map<String, Value>>>>,
    tracker: TaskTracker,
    call: CancellationToken,
    turn_tx: Option<mpsc::Sender<TurnEvent>>,
    /// The call's capture, when `CAPTURE_DIR` is set.
    capture: Option<Capture>,
    /// The fallback TTS was already tried.
    tts_fallback_used: bool,
    /// The call is being recorded (the greeting says so).
    recorded: bool,
    /// Takes the caller's message when no person can take the call.
    taker: Option<MessageTaker>,
    /// Silences while taking a message (the second ends the call with what was taken).
    message_silences: u8,
    /// Rounds of hold audio sent while the advisor's phone rings.
    hold_rounds: u64,
    /// Waiting for Twilio's answering-machine verdict before greeting.
    awaiting_amd: bool,
    /// Speech recognition is gone for good: nothing the caller says can be heard.
    stt_lost: bool,
    /// Where signal waiters report (`signals`).
    signal_tx: Option<mpsc::Sender<(SignalKind, Option<String>)>>,
    /// This stream resumes a call whose previous stream was lost.
    resumed: bool,
    /// The socket broke without `stop` while the call was going on: it is left resumable.
    stream_lost: bool,
}

/// The stream parameter an outbound call with answering-machine detection carries (`1`).
pub const AMD_PARAMETER: &str = "amd";

/// Marks after hold audio are named `hold:<round>`, apart from the floor's `turn:group:bytes`.
const HOLD_MARK_PREFIX: &str = "hold:";

/// At most this many rounds of hold audio per call, whatever `advisor_max_wait` says.
const MAX_HOLD_ROUNDS: u64 = 200;

/// After the advisor accepted, how long the caller may wait for Twilio to move their call before
/// the agent takes a message instead (a move normally ends the stream within a second or two).
const BRIDGE_MAX_WAIT: Duration = Duration::from_secs(15);

/// The longest the agent waits for the advisor's leg to be cancelled.
const CANCEL_ADVISOR_MAX_WAIT: Duration = Duration::from_secs(3);

/// A reply started on words that probably ended the caller's turn (`Action::StartEarlyReply`).
/// Its task holds back everything (pieces, tool calls) until `confirm` is sent; it is used only
/// if the final words are the same and the conversation arrives at the same prompt and history.
struct EarlyReply {
    turn: u64,
    prompt: String,
    history_len: usize,
    cancel: CancellationToken,
    confirm: tokio::sync::oneshot::Sender<()>,
}

/// What became of this call's early replies.
#[derive(Debug, Default, Clone, Copy)]
struct EarlyCounts {
    started: u32,
    used: u32,
    dropped: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferState {
    None,
    /// The escalation line is playing; the floor says when to transfer.
    AfterLine,
    /// Warm transfer: the advisor's phone rings while the caller hears hold audio.
    Ringing,
    /// The advisor accepted: Twilio is moving the caller to them (hold audio goes on until the
    /// stream ends, or the move is known to have failed).
    Bridging,
    /// The REST redirect succeeded (or the advisor took the call): the `stop` that follows is
    /// expected.
    Transferred,
    /// Nobody can take the call: the agent takes a message for a callback.
    TakingMessage,
}

enum Flow {
    Continue,
    Break,
}

impl Flow {
    fn is_break(&self) -> bool {
        matches!(self, Flow::Break)
    }
}

/// The floor's clock: tokio's, so paused-time tests move it.
fn now_std() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl CallState {
    // ---------- the floor ----------

    /// Gives `event` to the floor and carries out what follows, including the events the
    /// conversation adds on the way.
    async fn dispatch(&mut self, event: FloorEvent) -> Flow {
        self.pending.push_back(event);
        self.run_pending().await
    }

    async fn run_pending(&mut self) -> Flow {
        while let Some(event) = self.pending.pop_front() {
            let actions = self.floor.handle(event, now_std());
            for action in actions {
                if self.execute(action).await.is_break() {
                    return Flow::Break;
                }
            }
        }
        Flow::Continue
    }

    async fn execute(&mut self, action: Action) -> Flow {
        match action {
            Action::Phone(frame) => self.send_frame(frame).await,
            Action::TtsText { text, flush } => {
                if let Some(capture) = &self.capture {
                    capture.tts_text(self.floor.speaking_turn().unwrap_or_default(), &text);
                }
                if let Some(tts) = self.tts.clone() {
                    let sent =
                        tts.send_text(&text).await.is_ok() && (!flush || tts.flush().await.is_ok());
                    if !sent {
                        self.pending.push_back(FloorEvent::TtsLost);
                    }
                }
            }
            Action::TtsFlush => {
                if let Some(tts) = self.tts.clone()
                    && tts.flush().await.is_err()
                {
                    self.pending.push_back(FloorEvent::TtsLost);
                }
            }
            Action::TtsClear => {
                if let Some(tts) = self.tts.clone()
                    && tts.clear().await.is_err()
                {
                    self.pending.push_back(FloorEvent::TtsLost);
                }
            }
            Action::FinalizeStt => {
                if let Some(stt) = &self.stt
                    && let Err(err) = stt.finalize().await
                {
                    debug!(error = %err, "could not ask speech-to-text to finalize");
                }
            }
            Action::StartReply { turn } => self.start_reply(turn),
            Action::StartEarlyReply { turn, text } => self.start_early_reply(turn, &text),
            Action::ConfirmReply { turn } => self.confirm_early_reply(turn),
            Action::DropEarlyReply { turn, cause } => {
                if let Some(early) = self.early.take_if(|early| early.turn == turn) {
                    self.drop_early_reply(early, cause);
                }
            }
            Action::CancelReply => self.cancel_reply(),
            Action::CallerTurn { text, at, early } => self.on_caller_turn(text, at, early),
            Action::Spoken { turn, text } => {
                self.log_speech("ASSISTANT", &text);
                self.observe(CallEvent::Agent { text: text.clone() });
                self.history.push(ChatMessage::Assistant {
                    content: Some(text),
                    tool_calls: Vec::new(),
                });
                self.assistant_turn = Some((turn, self.history.len() - 1));
            }
            Action::Interrupted { turn, heard, cause } => {
                if let Some(capture) = &self.capture {
                    capture.barge_in(cause, &heard);
                }
                // History keeps only what the caller heard.
                match self.assistant_turn.take() {
                    Some((t, idx)) if t == turn && idx < self.history.len() => {
                        if heard.is_empty() {
                            self.history.remove(idx);
                        } else {
                            self.history[idx] = ChatMessage::Assistant {
                                content: Some(heard),
                                tool_calls: Vec::new(),
                            };
                        }
                    }
                    _ if !heard.is_empty() => self.history.push(ChatMessage::Assistant {
                        content: Some(heard),
                        tool_calls: Vec::new(),
                    }),
                    _ => {}
                }
            }
            Action::ReplyFailed => {
                warn!("the reply failed; saying the fallback line");
                let line = self.config.fallback_line.clone();
                self.say(line, Then::Listen);
            }
            Action::Transfer => return self.do_transfer().await,
            Action::End => {
                info!("ending the call");
                return Flow::Break;
            }
            Action::SilenceTimeout => self.on_silence_timeout(),
            Action::LengthReached => self.close_for_length("duration"),
            Action::TurnTimings(mut timings) => {
                self.observe(CallEvent::TurnOver {
                    interrupted: timings["interrupted"] == json!(true),
                });
                let turn = timings["turn"].as_u64();
                if turn.is_some_and(|turn| self.offline_turns.contains(&turn)) {
                    timings["answered_by"] = json!(OFFLINE_AGENT);
                }
                self.timings.push(timings);
            }
            Action::SaveSession => self.push_session_update(),
            Action::ReconnectTts => return self.recover_tts().await,
        }
        Flow::Continue
    }

    fn say(&mut self, text: String, then: Then) {
        self.pending.push_back(FloorEvent::Say { text, then });
    }

    async fn send_frame(&mut self, frame: String) {
        let Some(frames_tx) = &self.frames_tx else {
            return;
        };
        if let Some(capture) = &self.capture {
            capture_outbound(capture, &frame);
        }
        let _ = frames_tx.send(frame).await;
    }

    // ---------- sources ----------

    async fn on_phone_event(&mut self, event: PhoneEvent) -> Flow {
        match event {
            PhoneEvent::Voice(VadEvent::SpeechStart) => self.dispatch(FloorEvent::VoiceStart).await,
            PhoneEvent::Voice(VadEvent::SpeechEnd) => self.dispatch(FloorEvent::VoiceEnd).await,
            PhoneEvent::Voice(VadEvent::Pause) => self.dispatch(FloorEvent::VoicePause).await,
            PhoneEvent::Dtmf(digit) => {
                if self.config.log_transcripts {
                    info!(digit, "dtmf");
                } else {
                    info!("dtmf");
                }
                if self.awaiting_amd {
                    // Only a person presses keys: greet them without waiting for the verdict.
                    info!("a key pressed before the machine-detection verdict; greeting");
                    self.awaiting_amd = false;
                    if digit != "0" {
                        return self.greet().await;
                    }
                }
                if digit == "0" && !self.manager.escalation_triggered() {
                    self.pending
                        .push_back(FloorEvent::StopSpeaking { cause: "dtmf" });
                    warn!(reason = "keypad", "ESCALATION: keypad");
                    self.begin_escalation(EscalationReason::Keypad, None);
                    return self.run_pending().await;
                }
                Flow::Continue
            }
            PhoneEvent::Mark(name) if name.starts_with(HOLD_MARK_PREFIX) => {
                // A round of hold audio has played: queue the next while the advisor's phone
                // still rings (one round stays queued ahead, so there is no gap).
                if matches!(
                    self.transfer,
                    TransferState::Ringing | TransferState::Bridging
                ) {
                    self.send_hold_round().await;
                }
                Flow::Continue
            }
            PhoneEvent::Mark(name) => self.dispatch(FloorEvent::Mark(name)).await,
            PhoneEvent::Stop => {
                if matches!(
                    self.transfer,
                    TransferState::Transferred | TransferState::Bridging
                ) {
                    self.transfer = TransferState::Transferred;
                    info!("stream stopped after the transfer");
                    self.status = CallStatus::Transferred;
                } else {
                    info!("caller hung up");
                }
                Flow::Break
            }
            PhoneEvent::Closed(reason) => {
                self.note_closed(&reason);
                Flow::Break
            }
        }
    }

    /// The socket broke without `stop`. Unless the call was already ending on our side (a
    /// goodbye, a transfer), the stream was lost and Twilio will ask what to do next.
    fn note_closed(&mut self, reason: &str) {
        if !self.stream_lost && !self.closing && self.transfer == TransferState::None {
            warn!(reason, "media stream lost; the call can be resumed");
            metrics::counter!("voice_streams_lost_total").increment(1);
            self.stream_lost = true;
        }
    }

    async fn on_stt_event(&mut self, event: SttEvent) -> Flow {
        if let Some(capture) = &self.capture {
            capture.stt(&event);
        }
        match &event {
            SttEvent::Transcript(t) if !t.is_final => {
                let end = conversation::turn_end(&t.text);
                return self
                    .dispatch(FloorEvent::Interim {
                        text: t.text.clone(),
                        end,
                    })
                    .await;
            }
            SttEvent::SpeechStarted { .. } => {
                return self.dispatch(FloorEvent::SpeechStarted).await;
            }
            SttEvent::EagerEndOfTurn { text, .. } => {
                return self
                    .dispatch(FloorEvent::EagerEnd { text: text.clone() })
                    .await;
            }
            SttEvent::TurnResumed { .. } => {
                return self.dispatch(FloorEvent::TurnResumed).await;
            }
            SttEvent::Reconnecting { reason, .. } => {
                warn!(error = %reason, "speech-to-text reconnecting");
                metrics::counter!("voice_provider_errors_total", "provider" => self.deps.stt.name(), "kind" => "stt").increment(1);
                return Flow::Continue;
            }
            SttEvent::Reconnected { .. } => {
                info!("speech-to-text reconnected");
                return Flow::Continue;
            }
            SttEvent::Error { error, .. } => {
                warn!(error = %error, "speech-to-text error");
                return Flow::Continue;
            }
            SttEvent::Closed { .. } => return self.on_stt_lost().await,
            _ => {}
        }
        let mut utterance = self.assembler.push(&event);
        // The answer to our `Finalize`: the words already said the turn was complete.
        if utterance.is_none()
            && let SttEvent::Transcript(t) = &event
            && t.from_finalize
        {
            utterance = self.assembler.take_pending(t.at);
        }
        match utterance {
            Some(utterance) => {
                let end = conversation::turn_end(&utterance.text);
                self.dispatch(FloorEvent::Utterance {
                    text: utterance.text,
                    at: utterance.at,
                    end,
                })
                .await
            }
            None => Flow::Continue,
        }
    }

    async fn on_tts_event(&mut self, event: TtsEvent) -> Flow {
        let event = match event {
            TtsEvent::Audio { mulaw, at } => {
                if let Some(capture) = &self.capture {
                    capture.tts_audio(mulaw.len());
                }
                FloorEvent::TtsAudio { mulaw, at }
            }
            TtsEvent::Flushed { .. } => FloorEvent::TtsFlushed,
            TtsEvent::Cleared { .. } => FloorEvent::TtsCleared,
            TtsEvent::Reconnecting { reason, .. } => {
                warn!(error = %reason, "text-to-speech reconnecting");
                metrics::counter!("voice_provider_errors_total", "provider" => self.deps.tts.name(), "kind" => "tts").increment(1);
                return Flow::Continue;
            }
            TtsEvent::Error { error, .. } => {
                warn!(error = %error, "text-to-speech error");
                return Flow::Continue;
            }
            TtsEvent::Closed { .. } => FloorEvent::TtsLost,
        };
        self.dispatch(event).await
    }

    async fn on_turn_event(&mut self, event: TurnEvent) -> Flow {
        let event = match event {
            // Tool exchanges are kept even from a cancelled turn: the tool really ran.
            TurnEvent::ToolExchange {
                assistant,
                results,
                outcomes,
                ..
            } => {
                self.history.push(assistant);
                self.history.extend(results);
                self.apply_tool_outcomes(&outcomes);
                return self.run_pending().await;
            }
            TurnEvent::RequestSent { turn, at } => FloorEvent::ReplyRequestSent { turn, at },
            TurnEvent::FirstToken { turn, at } => FloorEvent::ReplyFirstToken { turn, at },
            TurnEvent::Piece { turn, text } => FloorEvent::ReplyPiece { turn, text },
            TurnEvent::Done {
                turn,
                usage,
                offline,
            } => {
                self.add_usage(usage);
                if offline {
                    self.offline_turns.push(turn);
                }
                if self.floor_reply_is(turn) {
                    self.reply_cancel = None;
                }
                FloorEvent::ReplyDone { turn }
            }
            TurnEvent::HandOff { reason } => {
                if self.manager.escalation_triggered() || self.transfer != TransferState::None {
                    return Flow::Continue;
                }
                warn!(
                    reason = reason.as_str(),
                    "ESCALATION: the model handed the caller over"
                );
                self.begin_escalation(reason, None);
                self.push_session_update();
                return self.run_pending().await;
            }
            TurnEvent::DoNotCallWritten { ok } => {
                let line = if ok {
                    self.config.do_not_call_line.clone()
                } else {
                    self.config.do_not_call_failed_line.clone()
                };
                if self.direction == CallDirection::Outbound && !self.closing {
                    self.closing = true;
                    let max_wait = self.config.goodbye_max_wait;
                    self.say(format!("{line} Goodbye."), Then::End { max_wait });
                } else {
                    self.say(line, Then::Listen);
                }
                return self.run_pending().await;
            }
            TurnEvent::Failed { turn, error, usage } => {
                self.add_usage(usage);
                if self.floor_reply_is(turn) {
                    self.reply_cancel = None;
                    warn!(error, "the reply failed");
                }
                FloorEvent::ReplyFailed { turn }
            }
        };
        self.dispatch(event).await
    }

    fn floor_reply_is(&self, turn: u64) -> bool {
        self.floor.speaking_turn() == Some(turn)
    }

    // ---------- the conversation ----------

    /// The caller took the floor: the manager moves, then a reply, a line or nothing. An early
    /// reply on the same words is used if the conversation arrives at the prompt and history it
    /// was asked with.
    fn on_caller_turn(&mut self, text: String, at: Instant, early: Option<u64>) {
        let early = early.and_then(|turn| self.early.take_if(|e| e.turn == turn));
        if let Some(stale) = self.early.take() {
            self.drop_early_reply(stale, "another turn");
        }
        if !self.conversation_turn(text) {
            if let Some(early) = early {
                self.drop_early_reply(early, "no reply wanted");
            }
            return;
        }
        let early = match early {
            Some(early)
                if early.history_len + 1 == self.history.len()
                    && early.prompt == self.manager.get_system_prompt() =>
            {
                let turn = early.turn;
                self.early = Some(early);
                Some(turn)
            }
            Some(early) => {
                self.drop_early_reply(early, "the conversation moved differently");
                None
            }
            None => None,
        };
        self.pending.push_back(FloorEvent::Reply {
            utterance_at: Some(at),
            early,
        });
        self.push_session_update();
    }

    /// The conversation's side of a caller turn: history, limits, the manager. Returns whether an
    /// LLM reply is wanted.
    fn conversation_turn(&mut self, text: String) -> bool {
        if self.awaiting_amd {
            // Before the machine-detection verdict: a person's "hello?" or a greeting's words.
            debug!("words before the answering-machine verdict; not answered");
            return false;
        }
        self.log_speech("USER", &text);
        self.observe(CallEvent::Caller { text: text.clone() });
        self.history.push(ChatMessage::User {
            content: text.clone(),
        });
        self.user_turns += 1;
        if self.user_turns > self.config.max_turns {
            self.close_for_length("turns");
            return false;
        }
        if self.closing {
            // The closing line was said; the call ends when it has played.
            return false;
        }
        // While a message is taken the words are the message ("tell them to stop calling me
        // about the warranty"), not a request to the shop.
        if self.transfer != TransferState::TakingMessage
            && let Some(phone) = self.caller_phone.clone()
            && conversation::asks_not_to_be_called(&text)
        {
            self.opt_out_of_calls(&phone);
            return false;
        }
        if self.transfer == TransferState::TakingMessage {
            self.message_silences = 0;
            if let Some(taker) = self.taker.as_mut() {
                let reply = taker.hear(&text);
                let then = if reply.done {
                    self.closing = true;
                    Then::End {
                        max_wait: self.config.goodbye_max_wait,
                    }
                } else {
                    Then::Listen
                };
                self.say(reply.say, then);
            }
            return false;
        }
        if self.transfer != TransferState::None {
            // The transfer is under way; nothing more to talk about.
            return false;
        }
        let now = (self.deps.now)();
        let seen = self.manager.transitions().len();
        let state = self.manager.process_message(&text, now);
        self.log_transitions_since(seen);
        info!(state = %state, "Conversation state: {state}");
        if let Some(intent) = self.manager.intent() {
            metrics::counter!("voice_intents_total", "intent" => intent.as_str()).increment(1);
        }
        self.observe_conversation();
        // `process_message` applies the escalation rules (words, anger, legal, repeated failure).
        !(self.manager.state() == State::Escalation && self.follow_manager_escalation())
    }

    /// The manager decides what a silence means (its count resets when the caller speaks): the
    /// first timeout is a check-in, the second closes the call.
    fn on_silence_timeout(&mut self) {
        if self.awaiting_amd
            || matches!(
                self.transfer,
                TransferState::Ringing | TransferState::Bridging
            )
        {
            return;
        }
        if self.transfer == TransferState::TakingMessage && !self.closing {
            self.message_silences += 1;
            if self.message_silences == 1 {
                if let Some(reply) = self.taker.as_mut().map(|t| t.hear("")) {
                    self.say(reply.say, Then::Listen);
                }
            } else {
                info!("caller silent while leaving a message; ending with what was taken");
                self.closing = true;
                let line = format!(
                    "I'll pass on what I have, and {}. Goodbye.",
                    self.config.message_closing
                );
                let max_wait = self.config.goodbye_max_wait;
                self.say(line, Then::End { max_wait });
            }
            return;
        }
        let seen = self.manager.transitions().len();
        let state = self.manager.on_silence_timeout();
        self.log_transitions_since(seen);
        match state {
            State::Closing => {
                info!("caller silent after the check-in; saying goodbye");
                let line = self.config.silence_goodbye_line.clone();
                let max_wait = self.config.goodbye_max_wait;
                self.say(line, Then::End { max_wait });
            }
            // A transfer is under way; the advisor takes it from here.
            State::Escalation => {}
            _ => {
                info!("caller silent; checking in");
                let line = self.config.check_in_line.clone();
                self.say(line, Then::Listen);
            }
        }
    }

    /// The call reached its length or turn limit: a polite close, then the call ends.
    fn close_for_length(&mut self, limit: &'static str) {
        if self.closing {
            return;
        }
        self.closing = true;
        warn!(
            limit,
            turns = self.user_turns,
            "call reached its limit; closing politely"
        );
        metrics::counter!("voice_calls_limited_total", "limit" => limit).increment(1);
        let line = self.config.max_length_line.clone();
        let max_wait = self.config.goodbye_max_wait;
        self.say(line, Then::End { max_wait });
    }

    fn start_reply(&mut self, turn: u64) {
        let request = self.chat_request(self.manager.get_system_prompt(), None);
        let offline = self.offline_agent(&self.manager);
        if let Some(cancel) = self.spawn_turn(turn, request, offline, None) {
            self.reply_cancel = Some(cancel);
        }
    }

    /// Starts reply `turn` to `text` before the caller's turn is known to have ended, on a copy of
    /// the conversation that has heard `text`; it waits for `confirm_early_reply`.
    fn start_early_reply(&mut self, turn: u64, text: &str) {
        if let Some(stale) = self.early.take() {
            self.drop_early_reply(stale, "another early reply");
        }
        if self.closing
            || self.awaiting_amd
            || self.transfer != TransferState::None
            || self.user_turns >= self.config.max_turns
        {
            return;
        }
        let mut manager = self.manager.clone();
        manager.process_message(text, (self.deps.now)());
        if manager.state() == State::Escalation {
            // The real turn will escalate: nothing to prepare.
            return;
        }
        let prompt = manager.get_system_prompt();
        let request = self.chat_request(prompt.clone(), Some(text));
        let (confirm, gate) = tokio::sync::oneshot::channel();
        let offline = self.offline_agent(&manager);
        let Some(cancel) = self.spawn_turn(turn, request, offline, Some(gate)) else {
            return;
        };
        debug!(turn, "early reply started");
        metrics::counter!("voice_early_replies_total", "outcome" => "started").increment(1);
        self.early_counts.started += 1;
        self.early = Some(EarlyReply {
            turn,
            prompt,
            history_len: self.history.len(),
            cancel,
            confirm,
        });
    }

    /// The floor made the early reply `turn` the reply to the caller's turn: let it speak.
    fn confirm_early_reply(&mut self, turn: u64) {
        let Some(early) = self.early.take_if(|early| early.turn == turn) else {
            warn!(
                turn,
                "an early reply to confirm is missing; the turn stays silent"
            );
            return;
        };
        debug!(turn, "early reply used");
        metrics::counter!("voice_early_replies_total", "outcome" => "used").increment(1);
        self.early_counts.used += 1;
        // A task that has already ended (it failed) dropped its gate: its events are queued.
        let _ = early.confirm.send(());
        self.reply_cancel = Some(early.cancel);
    }

    fn drop_early_reply(&mut self, early: EarlyReply, cause: &'static str) {
        debug!(turn = early.turn, cause, "early reply dropped");
        metrics::counter!("voice_early_replies_total", "outcome" => "dropped").increment(1);
        self.early_counts.dropped += 1;
        early.cancel.cancel();
    }

    /// The offline agent for a turn of `manager` (the call's, or an early reply's copy).
    fn offline_agent(&self, manager: &ConversationManager) -> Option<Arc<dyn LanguageModel>> {
        let factory = self.deps.offline_agent.as_ref()?;
        Some(factory(manager, (self.deps.now)()))
    }

    /// The LLM request: the system prompt, then recent history (plus `user`, not yet in history).
    fn chat_request(&self, prompt: String, user: Option<&str>) -> ChatRequest {
        let max = self.config.max_context_messages;
        let recent = match user {
            Some(_) => recent_context(&self.history, max.saturating_sub(1).max(1)),
            None => recent_context(&self.history, max),
        };
        let mut messages = Vec::with_capacity(recent.len() + 2);
        messages.push(ChatMessage::System { content: prompt });
        messages.extend(recent.iter().cloned());
        if let Some(user) = user {
            messages.push(ChatMessage::User {
                content: user.to_owned(),
            });
        }
        ChatRequest {
            messages,
            tools: self
                .deps
                .crm
                .tools()
                .into_iter()
                .chain([crate::turn::hand_off_spec()])
                .collect(),
            temperature: self.config.temperature,
            max_tokens: self.config.max_tokens,
        }
    }

    /// Spawns the turn task; returns its cancel token. With `gate`, nothing of the turn reaches
    /// the driver, and no tool runs, until the gate opens.
    fn spawn_turn(
        &mut self,
        turn: u64,
        request: ChatRequest,
        offline: Option<Arc<dyn LanguageModel>>,
        gate: Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Option<CancellationToken> {
        let turn_tx = self.turn_tx.clone()?;
        let cancel = self.call.child_token();
        let input = TurnInput {
            turn,
            request,
            llm: self.deps.llm.clone(),
            offline,
            llm_down: self.llm_down.clone(),
            crm: self.deps.crm.clone(),
            tool_context: ToolCallContext {
                call_sid: self.call_sid.as_str().to_owned(),
                caller_phone: self.caller_phone.clone(),
                customer_id: self.customer_id,
                now: (self.deps.now)(),
            },
            config: self.config.clone(),
            turn_tx,
            cancel: cancel.clone(),
            capture: self.capture.clone(),
            bookings: self.bookings.clone(),
            gate,
        };
        self.tracker.spawn(run_bot_turn(input).in_current_span());
        Some(cancel)
    }

    fn cancel_reply(&mut self) {
        if let Some(cancel) = self.reply_cancel.take() {
            cancel.cancel();
        }
    }

    /// Tells the observer, if any.
    fn observe(&self, event: CallEvent) {
        if let Some(observer) = &self.deps.observer {
            observer.on_event(self.call_sid.as_str(), &event);
        }
    }

    fn observe_conversation(&self) {
        if self.deps.observer.is_none() {
            return;
        }
        let summary = self.manager.get_conversation_summary();
        self.observe(CallEvent::Conversation {
            state: summary.state.as_str().to_owned(),
            intent: summary.intent.map(|intent| intent.as_str().to_owned()),
            slots: serde_json::to_value(&summary.collected_slots).unwrap_or(Value::Null),
        });
    }

    /// Logs what was said: the words only with `log_transcripts` (personal data), else its length.
    fn log_speech(&self, who: &'static str, text: &str) {
        if self.config.log_transcripts {
            info!(text, "{who}");
        } else {
            info!(chars = text.chars().count(), "{who}");
        }
    }

    // ---------- escalation ----------

    fn begin_escalation(&mut self, reason: EscalationReason, line: Option<String>) {
        self.observe(CallEvent::Escalated {
            reason: reason.as_str().to_owned(),
        });
        metrics::counter!("voice_escalations_total", "reason" => reason.as_str()).increment(1);
        self.manager.escalate_for(reason);
        let now = (self.deps.now)();
        if !self.config.transfer_after_hours && !self.deps.shop.is_open_at(now) {
            info!("escalation outside opening hours; taking a message");
            let lead = self.config.after_hours_line.clone();
            self.take_message(&lead);
        } else if self.deps.call_control.can_transfer() {
            let line = line.unwrap_or_else(|| {
                if self.warm_transfer_possible() {
                    self.config.warm_transfer_line.clone()
                } else {
                    self.config.escalation_line.clone()
                }
            });
            let max_wait = self.config.escalation_line_max_wait;
            self.say(line, Then::Transfer { max_wait });
            self.transfer = TransferState::AfterLine;
        } else {
            info!("no transfer possible; taking a message");
            let lead = self.config.no_transfer_line.clone();
            self.take_message(&lead);
        }
    }

    /// A warm transfer needs the agent's voice afterwards (to take a message if nobody answers).
    fn warm_transfer_possible(&self) -> bool {
        self.deps.call_control.warm_transfers() && self.tts.is_some() && !self.shutting_down
    }

    /// The caller asked not to be called again: the number goes on the do-not-call list at once
    /// (in the background, bounded), and the agent says so. An outbound call then ends; an
    /// inbound caller may go on.
    fn opt_out_of_calls(&mut self, phone: &str) {
        info!("caller asked not to be called again");
        metrics::counter!("voice_do_not_call_requests_total").increment(1);
        let crm = self.deps.crm.clone();
        let now = (self.deps.now)();
        let phone = phone.to_owned();
        // The line waits for the write (`TurnEvent::DoNotCallWritten`), so it never promises
        // what did not happen.
        let turn_tx = self.turn_tx.clone();
        self.tracker.spawn(
            async move {
                let result =
                    tokio::time::timeout(Duration::from_secs(3), crm.opt_out_of_calls(&phone, now))
                        .await
                        .unwrap_or_else(|_| Err(crate::PortError::unavailable("timed out")));
                if let Err(err) = &result {
                    error!(error = %err, "could not put the caller on the do-not-call list");
                }
                if let Some(tx) = turn_tx {
                    let _ = tx
                        .send(TurnEvent::DoNotCallWritten { ok: result.is_ok() })
                        .await;
                }
            }
            .in_current_span(),
        );
    }

    /// Starts taking a message: `lead` says why nobody can take the call, then the first
    /// question. What the caller says next goes to the `MessageTaker`, not the LLM.
    fn take_message(&mut self, lead: &str) {
        if self.stt_lost {
            // Nothing the caller says can be heard: no questions, a callback on their number.
            info!("cannot hear the caller; ending with a callback request");
            self.transfer = TransferState::TakingMessage;
            self.closing = true;
            let line = match &self.caller_phone {
                Some(_) => format!(
                    "{lead} I'm having trouble hearing you, so I've noted your call, and {}. Goodbye.",
                    self.config.message_closing
                ),
                None => format!(
                    "{lead} I'm having trouble hearing you. Please call us back in a little while. Goodbye."
                ),
            };
            let max_wait = self.config.goodbye_max_wait;
            self.say(line, Then::End { max_wait });
            return;
        }
        let known_name = self
            .manager
            .customer()
            .map(|c| format!("{} {}", c.first_name, c.last_name))
            .or_else(|| self.manager.slots().customer_name.clone());
        let taker = MessageTaker::new(
            known_name,
            self.caller_phone.clone(),
            &self.config.message_closing,
        );
        let line = taker.start(lead);
        self.taker = Some(taker);
        self.transfer = TransferState::TakingMessage;
        metrics::counter!("voice_messages_taken_total").increment(1);
        self.say(line, Then::Listen);
    }

    async fn do_transfer(&mut self) -> Flow {
        if self.warm_transfer_possible() {
            return self.start_warm_transfer().await;
        }
        match self
            .deps
            .call_control
            .transfer_to_advisor(&self.call_sid)
            .await
        {
            Ok(()) => {
                info!("call transferred to the advisor");
                self.transfer = TransferState::Transferred;
                self.status = CallStatus::Transferred;
                if self.shutting_down {
                    // Twilio now plays the advisor's TwiML; nothing waits for its `stop`.
                    return Flow::Break;
                }
            }
            Err(err) => {
                error!(error = %err, "transfer failed; taking a message");
                let lead = self.config.no_transfer_line.clone();
                self.take_message(&lead);
            }
        }
        Flow::Continue
    }

    /// Rings the advisor (who hears the call's summary and accepts with a key) while the caller
    /// hears hold audio; `on_signal` carries on when the advisor's answer comes back.
    async fn start_warm_transfer(&mut self) -> Flow {
        let brief = self.manager.transfer_brief();
        match self
            .deps
            .call_control
            .call_advisor(&self.call_sid, &brief)
            .await
        {
            Ok(()) => {
                info!("ringing the advisor; the caller is on hold");
                metrics::counter!("voice_warm_transfers_total", "stage" => "ringing").increment(1);
                self.transfer = TransferState::Ringing;
                self.hold_rounds = 0;
                // Two rounds queued: each echoed mark queues another, so the audio never gaps.
                self.send_hold_round().await;
                self.send_hold_round().await;
                self.wait_for_signal(SignalKind::Transfer, self.config.advisor_max_wait);
            }
            Err(err) => {
                error!(error = %err, "could not ring the advisor; taking a message");
                let lead = self.config.no_transfer_line.clone();
                self.take_message(&lead);
            }
        }
        Flow::Continue
    }

    /// Sends one round of hold audio followed by its mark.
    async fn send_hold_round(&mut self) {
        let clip = self.config.hold_audio.0.clone();
        // Enough rounds to cover the whole wait, and one queued ahead; a phone that echoes marks
        // early cannot make one call send more.
        let clip_ms = (clip.len() / 8).max(1) as u128;
        let rounds = self.config.advisor_max_wait.as_millis() / clip_ms + 2;
        if clip.is_empty() || u128::from(self.hold_rounds) >= rounds.min(MAX_HOLD_ROUNDS.into()) {
            return;
        }
        self.hold_rounds += 1;
        let mut frame = String::new();
        for chunk in clip.chunks(audio_codec::FRAME_BYTES) {
            media::encode_media_into(&mut frame, &self.stream_sid, chunk);
            self.send_frame(frame.clone()).await;
        }
        let name = format!("{HOLD_MARK_PREFIX}{}", self.hold_rounds);
        media::encode_mark_into(&mut frame, &self.stream_sid, &name);
        self.send_frame(frame).await;
    }

    /// Spawns a bounded wait for the call's `kind` signal; the result arrives in `on_signal`.
    fn wait_for_signal(&self, kind: SignalKind, max_wait: Duration) {
        let Some(tx) = self.signal_tx.clone() else {
            return;
        };
        let sessions = self.deps.sessions.clone();
        let call_sid = self.call_sid.as_str().to_owned();
        let call = self.call.clone();
        self.tracker.spawn(
            async move {
                tokio::select! {
                    _ = call.cancelled() => {}
                    value = signals::wait(sessions.as_ref(), kind, &call_sid, max_wait) => {
                        let _ = tx.send((kind, value)).await;
                    }
                }
            }
            .in_current_span(),
        );
    }

    async fn on_signal(&mut self, kind: SignalKind, value: Option<String>) -> Flow {
        match kind {
            SignalKind::Transfer => self.on_transfer_signal(value).await,
            SignalKind::AnsweredBy => self.on_answered_by(value).await,
            SignalKind::Bridge => self.on_bridge_signal(value).await,
            SignalKind::AdvisorLeg => Flow::Continue,
        }
    }

    /// Leaves `value` as the call's `kind` signal unless one stands already; returns the one that
    /// stands (`value` when the store cannot say: the call's own view is all there is then).
    async fn claim_signal(&self, kind: SignalKind, value: &str) -> String {
        let sessions = self.deps.sessions.as_ref();
        let call_sid = self.call_sid.as_str();
        match signals::send(sessions, kind, call_sid, value).await {
            Ok(true) => value.to_owned(),
            Ok(false) => match signals::read(sessions, kind, call_sid).await {
                Ok(Some(holder)) => holder,
                _ => value.to_owned(),
            },
            Err(err) => {
                warn!(error = %err, "could not leave the call's own signal");
                value.to_owned()
            }
        }
    }

    /// Stops the advisor's leg of a warm transfer, bounded (the call must end on time).
    async fn cancel_advisor_leg(&self) {
        if let Err(err) = tokio::time::timeout(
            CANCEL_ADVISOR_MAX_WAIT,
            self.deps.call_control.cancel_advisor_call(&self.call_sid),
        )
        .await
        .unwrap_or_else(|_| Err(crate::PortError::unavailable("timed out")))
        {
            warn!(error = %err, "could not cancel the advisor's call");
        }
    }

    /// Stops the hold audio (its marks still come back and are ignored).
    async fn stop_hold_audio(&mut self) {
        let mut frame = String::new();
        media::encode_clear_into(&mut frame, &self.stream_sid);
        self.send_frame(frame).await;
    }

    /// Nobody will take the call after all: take a message, or, with no voice left, end the call
    /// with a callback request.
    async fn after_unanswered_transfer(&mut self, lead: String) -> Flow {
        self.stop_hold_audio().await;
        if self.tts.is_none() {
            error!("nobody took the call and nothing can be said; ending with a callback request");
            self.transfer = TransferState::TakingMessage;
            self.status = CallStatus::Failed;
            return Flow::Break;
        }
        self.take_message(&lead);
        self.run_pending().await
    }

    /// The advisor accepted and Twilio was asked to move the caller: `moved` means the stream
    /// ends any moment; a failure, or no end within `BRIDGE_MAX_WAIT`, means the caller is still
    /// here and the agent takes a message.
    async fn on_bridge_signal(&mut self, value: Option<String>) -> Flow {
        if self.transfer != TransferState::Bridging {
            return Flow::Continue;
        }
        let value = match value {
            Some(value) => value,
            // Claimed, so a move that comes through late is known to be given up.
            None => {
                self.claim_signal(SignalKind::Bridge, &signals::bridge_failed("timeout"))
                    .await
            }
        };
        if value == signals::BRIDGE_MOVED {
            // Twilio took the redirect: the stream's end finishes the transfer.
            info!("Twilio is moving the caller to the advisor");
            return Flow::Continue;
        }
        warn!(
            why = value.as_str(),
            "the advisor accepted but the caller could not be moved; taking a message"
        );
        metrics::counter!("voice_warm_transfers_total", "stage" => "bridge_failed").increment(1);
        self.status = CallStatus::Completed;
        self.cancel_advisor_leg().await;
        let lead = self.config.bridge_failed_line.clone();
        self.after_unanswered_transfer(lead).await
    }

    async fn on_transfer_signal(&mut self, value: Option<String>) -> Flow {
        if self.transfer != TransferState::Ringing {
            return Flow::Continue;
        }
        let value = match value {
            Some(value) => value,
            // The wait ran out: claim it, so an accept that comes now connects nobody (or, if
            // the accept won by a hair, go on with it).
            None => {
                self.claim_signal(
                    SignalKind::Transfer,
                    &signals::transfer_unanswered("timeout"),
                )
                .await
            }
        };
        if value == signals::TRANSFER_CONNECTED {
            info!("the advisor took the call; the caller is being connected");
            metrics::counter!("voice_warm_transfers_total", "stage" => "connected").increment(1);
            self.transfer = TransferState::Bridging;
            self.status = CallStatus::Transferred;
            self.wait_for_signal(SignalKind::Bridge, BRIDGE_MAX_WAIT);
            return Flow::Continue;
        }
        let why = value.strip_prefix("unanswered:").unwrap_or(&value);
        info!(why, "the advisor did not take the call");
        if why == "timeout" {
            // Still ringing, or answered and listening to the summary: stop it.
            self.cancel_advisor_leg().await;
        }
        metrics::counter!("voice_warm_transfers_total", "stage" => "unanswered").increment(1);
        if self.closing {
            // The call is already saying goodbye (its length limit): just stop the hold audio.
            self.stop_hold_audio().await;
            return Flow::Continue;
        }
        let lead = self.config.advisor_unavailable_line.clone();
        self.after_unanswered_transfer(lead).await
    }

    async fn on_answered_by(&mut self, value: Option<String>) -> Flow {
        if !self.awaiting_amd {
            return Flow::Continue;
        }
        self.awaiting_amd = false;
        let answered_by = value.as_deref().unwrap_or("unknown");
        info!(answered_by, "answering-machine detection");
        metrics::counter!("voice_amd_results_total", "answered_by" => answered_by.to_owned())
            .increment(1);
        if answered_by.starts_with("machine") {
            let Some(message) = self.manager.voicemail() else {
                info!("an answering machine and nothing to leave; ending the call");
                return Flow::Break;
            };
            info!("leaving a voicemail");
            self.status = CallStatus::Voicemail;
            self.closing = true;
            let max_wait = self.config.voicemail_max_wait;
            return self
                .dispatch(FloorEvent::Say {
                    text: message,
                    then: Then::End { max_wait },
                })
                .await;
        }
        if answered_by == "fax" {
            info!("a fax machine answered; ending the call");
            return Flow::Break;
        }
        self.greet().await
    }

    /// The greeting (after the recording disclosure when the call is recorded).
    async fn greet(&mut self) -> Flow {
        if self.resumed {
            let text = self.manager.resume_line();
            return self
                .dispatch(FloorEvent::Say {
                    text,
                    then: Then::Listen,
                })
                .await;
        }
        let mut greeting = self.manager.greeting();
        if self.recorded && !self.config.recording_disclosure.is_empty() {
            greeting = format!("{} {greeting}", self.config.recording_disclosure);
        }
        self.dispatch(FloorEvent::Say {
            text: greeting,
            then: Then::Listen,
        })
        .await
    }

    /// The server is stopping and this call outlived the drain: a short line, then the advisor
    /// (or, without a transfer, goodbye), so the caller is never just cut off.
    async fn on_shutdown_handoff(&mut self) -> Flow {
        if !matches!(
            self.transfer,
            TransferState::None | TransferState::TakingMessage
        ) {
            return Flow::Continue;
        }
        warn!("gateway shutting down: handing the call over");
        self.shutting_down = true;
        metrics::counter!("voice_shutdown_handoffs_total").increment(1);
        self.pending
            .push_back(FloorEvent::StopSpeaking { cause: "shutdown" });
        let max_wait = self.config.shutdown_line_max_wait;
        if self.deps.call_control.can_transfer() {
            let line = self.config.shutdown_transfer_line.clone();
            self.say(line, Then::Transfer { max_wait });
            self.transfer = TransferState::AfterLine;
        } else {
            let line = self.config.shutdown_goodbye_line.clone();
            self.say(line, Then::End { max_wait });
        }
        self.run_pending().await
    }

    async fn escalate_without_speaking(&mut self) -> Flow {
        self.manager
            .escalate_for(EscalationReason::SpeechSynthesisLost);
        if self.deps.call_control.can_transfer() {
            // A failed transfer queues the callback line; the caller of this runs the queue.
            self.do_transfer().await
        } else {
            error!("cannot speak and cannot transfer; ending the call");
            Flow::Break
        }
    }

    async fn on_stt_lost(&mut self) -> Flow {
        self.stt_lost = true;
        if self.manager.escalation_triggered() {
            return Flow::Continue;
        }
        error!("speech-to-text lost for good");
        self.status = CallStatus::Failed;
        let line = self.config.stt_lost_line.clone();
        self.pending
            .push_back(FloorEvent::StopSpeaking { cause: "stt lost" });
        self.begin_escalation(EscalationReason::SpeechRecognitionLost, Some(line));
        self.run_pending().await
    }

    /// The TTS session failed: switch to the fallback voice once (the floor then re-speaks what
    /// was not heard); with no voice left, hand the call to a person.
    async fn recover_tts(&mut self) -> Flow {
        self.tts = None;
        self.tts_events = None;
        metrics::counter!("voice_provider_errors_total", "provider" => self.deps.tts.name(), "kind" => "tts").increment(1);
        if !self.tts_fallback_used
            && let Some(fallback) = self.deps.tts_fallback.clone()
        {
            self.tts_fallback_used = true;
            warn!(
                fallback = fallback.name(),
                "text-to-speech lost; switching to the fallback voice"
            );
            let options = TtsOptions {
                call_id: self.call_sid.as_str().to_owned(),
                voice: None,
            };
            match tokio::time::timeout(
                self.config.provider_connect_timeout,
                fallback.connect(options),
            )
            .await
            {
                Ok(Ok(TtsSession {
                    handle,
                    events,
                    driver,
                })) => {
                    self.tracker.spawn(driver.in_current_span());
                    self.tts = Some(handle);
                    self.tts_events = Some(events);
                    self.pending.push_back(FloorEvent::TtsRestored);
                    return Flow::Continue;
                }
                Ok(Err(err)) => error!(error = %err, "fallback text-to-speech failed too"),
                Err(_) => error!("fallback text-to-speech did not connect in time"),
            }
        }
        error!("no text-to-speech available");
        if matches!(
            self.transfer,
            TransferState::Ringing | TransferState::Bridging
        ) {
            // Hold audio needs no voice: the advisor may still take the call.
            warn!("text-to-speech lost on hold; still waiting for the advisor");
            return Flow::Continue;
        }
        self.status = CallStatus::Failed;
        self.escalate_without_speaking().await
    }

    /// The typed outcomes of a round's booking, reschedule and cancel calls move the conversation:
    /// done closes the flow, a taken slot asks for another time, a refusal or an unreachable CRM
    /// counts toward escalation.
    fn apply_tool_outcomes(&mut self, outcomes: &[(String, ToolOutcome)]) {
        for (name, outcome) in outcomes {
            if !matches!(
                name.as_str(),
                "book_appointment" | "reschedule_appointment" | "cancel_appointment"
            ) {
                continue;
            }
            let result = match outcome {
                ToolOutcome::Succeeded => ToolResult::Succeeded,
                ToolOutcome::SlotTaken => ToolResult::SlotUnavailable,
                ToolOutcome::Refused | ToolOutcome::Unavailable => ToolResult::Failed,
            };
            let seen = self.manager.transitions().len();
            let state = self.manager.record_tool_result(result);
            info!(tool = name.as_str(), ?outcome, state = %state, "tool outcome applied");
            self.observe_conversation();
            self.log_transitions_since(seen);
            // Repeated tool failures escalate: hand the caller to a person now.
            if state == State::Escalation && self.follow_manager_escalation() {
                return;
            }
        }
    }

    /// The manager escalated: hand the caller to a person, unless a transfer is already under
    /// way. Returns whether it began one.
    fn follow_manager_escalation(&mut self) -> bool {
        if self.transfer != TransferState::None {
            return false;
        }
        let reason = self
            .manager
            .escalation_reason()
            .unwrap_or(EscalationReason::ManagerRequest);
        warn!(reason = reason.as_str(), "ESCALATION: {}", reason.as_str());
        self.begin_escalation(reason, None);
        self.push_session_update();
        true
    }

    /// Logs (and captures) every transition the manager recorded after the first `seen`.
    fn log_transitions_since(&self, seen: usize) {
        for transition in &self.manager.transitions()[seen..] {
            let intent = transition.intent.map_or("None", |i| i.as_str());
            if let Some(capture) = &self.capture {
                capture.transition(
                    transition.from.as_str(),
                    transition.to.as_str(),
                    transition.intent.map(|i| i.as_str()),
                );
            }
            info!(from = %transition.from, to = %transition.to, intent, "State: {}, Intent: {intent}", transition.to);
        }
    }

    // ---------- bookkeeping ----------

    fn add_usage(&mut self, usage: Usage) {
        self.usage.prompt_tokens += usage.prompt_tokens;
        self.usage.completion_tokens += usage.completion_tokens;
        self.usage.total_tokens += usage.total_tokens;
    }

    /// Seed step 6: the session after every turn (coalesced: the writer always writes the newest).
    fn push_session_update(&self) {
        let Some(session_tx) = &self.session_tx else {
            return;
        };
        let fields = json!({
            "conversation_history": self.history,
            "last_updated": (self.deps.now)().to_rfc3339(),
            "conversation_state": self.manager.get_conversation_summary(),
            "conversation_snapshot": self.manager.snapshot(),
            "total_tokens": self.usage.total_tokens,
        });
        session_tx.send_replace(Some(as_object(fields)));
    }

    /// Seed step 7 and the call record; returns the outcome.
    async fn finish(mut self, stats: crate::phone::ReaderStats) -> CallOutcome {
        self.observe(CallEvent::Ended {
            status: self.status.as_str().to_owned(),
        });
        let ended_at = (self.deps.now)();
        let summary =
            serde_json::to_value(self.manager.get_conversation_summary()).unwrap_or(Value::Null);
        let escalation_reason = self.manager.escalation_reason();
        let mut fields = json!({
            "ended_at": ended_at.to_rfc3339(),
            "conversation_history": self.history,
            "total_tokens": self.usage.total_tokens,
            "status": self.status.as_str(),
            "conversation_summary": summary,
            "conversation_snapshot": self.manager.snapshot(),
            "escalation_triggered": self.manager.escalation_triggered(),
            "last_updated": ended_at.to_rfc3339(),
        });
        if let Some(reason) = escalation_reason {
            fields["escalation_reason"] = json!(reason.as_str());
        }
        // A message taken, or a caller who hung up on hold: a person calls back.
        let callback = matches!(
            self.transfer,
            TransferState::TakingMessage | TransferState::Ringing
        );
        if callback {
            fields["callback_requested"] = json!(true);
        }
        match self
            .deps
            .sessions
            .update_session(self.call_sid.as_str(), as_object(fields))
            .await
        {
            Ok(()) => info!("Final session state saved for call"),
            Err(err) => warn!(error = %err, "final session write failed; the store retries it"),
        }
        let record = CallRecord {
            call_sid: self.call_sid.as_str().to_owned(),
            stream_sid: self.stream_sid.as_str().to_owned(),
            caller_phone: self.caller_phone.clone(),
            customer_id: self.customer_id,
            direction: self.direction,
            call_type: self.manager.call_type().as_str().to_owned(),
            started_at: self.started_at,
            ended_at: Some(ended_at),
            status: self.status.as_str().to_owned(),
            summary: summary.clone(),
            transcript: serde_json::to_value(&self.history).unwrap_or(Value::Null),
            escalation_triggered: self.manager.escalation_triggered(),
            escalation_reason: escalation_reason.map(|r| r.as_str().to_owned()),
            prompt_tokens: self.usage.prompt_tokens,
            completion_tokens: self.usage.completion_tokens,
            total_tokens: u64::from(self.usage.total_tokens),
            timings: Value::Array(std::mem::take(&mut self.timings)),
            offline_turns: self.offline_turns.clone(),
            message: self.taker.as_ref().map(|t| t.message().clone()),
            callback_reason: callback.then(|| {
                escalation_reason.map_or_else(
                    || "callback requested".to_owned(),
                    |reason| reason.as_str().to_owned(),
                )
            }),
        };
        self.deps.records.submit(record).await;
        if let Some(capture) = self.capture.take() {
            capture.outcome(
                self.status.as_str(),
                &summary,
                &serde_json::to_value(&self.history).unwrap_or(Value::Null),
            );
            capture.finish().await;
        }
        let outcome_label = self.status.as_str();
        metrics::counter!("voice_calls_total", "call_type" => self.manager.call_type().as_str(), "outcome" => outcome_label)
            .increment(1);
        if self.manager.state() == State::Closing || self.manager.state() == State::Execution {
            metrics::counter!("voice_flow_completions_total", "call_type" => self.manager.call_type().as_str()).increment(1);
        }
        info!(
            status = outcome_label,
            turns = self.manager.get_conversation_summary().turn_count,
            tokens = self.usage.total_tokens,
            barge_ins = self.floor.counts().interruptions,
            barge_in_pauses = self.floor.counts().pauses,
            barge_in_resumes = self.floor.counts().resumed,
            early_replies = self.early_counts.started,
            early_replies_used = self.early_counts.used,
            early_replies_dropped = self.early_counts.dropped,
            frames = stats.frames,
            audio_dropped = stats.audio_dropped,
            bad_frames = stats.bad_frames,
            "call ended"
        );
        CallOutcome {
            call_sid: Some(self.call_sid.as_str().to_owned()),
            status: self.status,
            summary: Some(summary),
            escalation_reason,
            history: self.history,
            total_tokens: u64::from(self.usage.total_tokens),
            barge_ins: self.floor.counts().interruptions,
        }
    }
}

/// The newest `max` messages of `history`, never starting with tool results whose assistant
/// message was cut off (OpenAI-compatible servers refuse those). The system prompt carries the
/// manager's state and slots, so what is left out is summarised there.
/// Applies what a lost stream left in the session (`conversation_snapshot`,
/// `conversation_history`, `started_at`) to the resumed call.
fn restore_from_session(
    mut prior: serde_json::Map<String, Value>,
    manager: &mut ConversationManager,
    history: &mut Vec<ChatMessage>,
    started_at: &mut DateTime<Utc>,
) -> Result<(), serde_json::Error> {
    if let Some(snapshot) = prior.remove(session_store::fields::CONVERSATION_SNAPSHOT) {
        let snapshot: ConversationSnapshot = serde_json::from_value(snapshot)?;
        manager.resume_from(snapshot);
    }
    if let Some(messages) = prior.remove(session_store::fields::CONVERSATION_HISTORY) {
        *history = serde_json::from_value(messages)?;
    }
    if let Some(at) = prior
        .get(session_store::fields::STARTED_AT)
        .and_then(Value::as_str)
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
    {
        *started_at = at.to_utc();
    }
    Ok(())
}

fn recent_context(history: &[ChatMessage], max: usize) -> &[ChatMessage] {
    let mut start = history.len().saturating_sub(max.max(1));
    while start < history.len() && matches!(history[start], ChatMessage::Tool { .. }) {
        start += 1;
    }
    &history[start..]
}

/// Writes session updates in order, always the newest, without blocking the driver.
async fn write_sessions(
    sessions: Arc<dyn SessionStore>,
    call_sid: String,
    mut updates: watch::Receiver<Option<serde_json::Map<String, Value>>>,
    call: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = call.cancelled() => return,
            changed = updates.changed() => if changed.is_err() { return },
        }
        let Some(fields) = updates.borrow_and_update().clone() else {
            continue;
        };
        if let Err(err) = sessions.update_session(&call_sid, fields).await {
            debug!(error = %err, "session update failed; the store keeps the newest state");
        }
    }
}

/// Reads frames until `start`. Every frame read (the `start` with its token taken out) is kept
/// in `seen`, for the capture once the stream is admitted.
async fn wait_for_start(
    inbound: &mut futures::stream::BoxStream<'static, Result<String, crate::phone::PhoneError>>,
    timeout: Duration,
    seen: &mut Vec<String>,
) -> Result<Start, String> {
    /// Junk before `start` is not kept past this many frames.
    const MAX_KEPT: usize = 8;
    let read = async {
        while let Some(frame) = inbound.next().await {
            let frame = frame.map_err(|err| err.to_string())?;
            let decoded = media::decode(&frame);
            if seen.len() < MAX_KEPT {
                seen.push(if matches!(decoded, Ok(Inbound::Start(_))) {
                    crate::capture::without_token(&frame, STREAM_TOKEN_PARAMETER)
                } else {
                    frame.clone()
                });
            }
            match decoded {
                Ok(Inbound::Start(start)) => return Ok(start),
                Ok(Inbound::Connected { .. }) => continue,
                Ok(other) => debug!(?other, "frame before start ignored"),
                Err(err) => debug!(error = %err, "malformed frame before start ignored"),
            }
        }
        Err("socket closed before start".to_owned())
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| Err(format!("no start within {timeout:?}")))
}

async fn connect_stt(
    stt: &dyn SpeechToText,
    call_sid: &str,
    keyterms: Vec<String>,
    timeout: Duration,
) -> Result<SttSession, ProviderError> {
    let options = SttOptions {
        call_id: call_sid.to_owned(),
        keyterms,
    };
    connect_within(timeout, stt.connect(options)).await
}

/// A provider's `connect`, bounded by `timeout` (then `ProviderError::Timeout`).
async fn connect_within<S>(
    timeout: Duration,
    connect: impl Future<Output = Result<S, ProviderError>>,
) -> Result<S, ProviderError> {
    tokio::time::timeout(timeout, connect)
        .await
        .unwrap_or_else(|_| {
            Err(ProviderError::Timeout(format!(
                "connect took over {timeout:?}"
            )))
        })
}

async fn connect_tts(
    deps: &CallDeps,
    call_sid: &str,
    timeout: Duration,
) -> Result<TtsSession, ProviderError> {
    let options = TtsOptions {
        call_id: call_sid.to_owned(),
        voice: None,
    };
    let primary = match connect_within(timeout, deps.tts.connect(options.clone())).await {
        Ok(session) => return Ok(session),
        Err(err) => err,
    };
    let Some(fallback) = &deps.tts_fallback else {
        return Err(primary);
    };
    warn!(
        error = %primary,
        retryable = primary.is_retryable(),
        provider = deps.tts.name(),
        fallback = fallback.name(),
        "primary tts unavailable; using the fallback"
    );
    // When both fail, the fallback's error is the one returned (the primary's is logged above).
    connect_within(timeout, fallback.connect(options)).await
}

/// The CRM lookup result for manager selection.
enum Lookup {
    Found(CustomerProfile),
    NotFound,
    NoCallerId,
    Failed(String),
}

async fn lookup_customer(crm: &dyn CallCrm, phone: Option<&str>, timeout: Duration) -> Lookup {
    let Some(phone) = phone else {
        return Lookup::NoCallerId;
    };
    match tokio::time::timeout(timeout, crm.lookup_customer(phone)).await {
        Ok(Ok(Some(profile))) => Lookup::Found(profile),
        Ok(Ok(None)) => Lookup::NotFound,
        Ok(Err(err)) => Lookup::Failed(err.to_string()),
        Err(_) => Lookup::Failed(format!("lookup took over {timeout:?}")),
    }
}

struct BuiltManager {
    manager: ConversationManager,
    customer_id: Option<i64>,
}

fn build_manager(
    deps: &CallDeps,
    start: &Start,
    caller_phone: Option<&str>,
    lookup: Lookup,
    now: DateTime<Utc>,
    deps_log_transcripts: bool,
) -> BuiltManager {
    let shop = deps.shop.clone();
    let params: &HashMap<String, String> = &start.custom_parameters;
    let outbound_type = params
        .get("direction")
        .filter(|d| d.starts_with("outbound"))
        .and(params.get("call_type"))
        .map(String::as_str);
    let (manager, customer_id) = match lookup {
        Lookup::Found(customer) => {
            // The seed's log line; the name only with `LOG_TRANSCRIPTS` (personal data).
            if deps_log_transcripts {
                info!(
                    customer_id = customer.id,
                    "Existing customer: {} {}", customer.first_name, customer.last_name
                );
            } else {
                info!(
                    customer_id = customer.id,
                    "Existing customer: (name hidden)"
                );
            }
            let id = customer.id;
            let manager = match outbound_type {
                Some(kind) if kind.starts_with("outbound") => crate::outbound::outbound_manager(
                    kind,
                    params,
                    customer,
                    caller_phone,
                    shop,
                    now,
                ),
                _ => conversation::create_inbound_existing_manager(
                    caller_phone.unwrap_or_default(),
                    customer,
                    shop,
                ),
            };
            (manager, Some(id))
        }
        Lookup::NotFound => {
            // The seed's log line; the whole number only with `LOG_TRANSCRIPTS`.
            let number = caller_phone.unwrap_or_default();
            if deps_log_transcripts {
                info!("New customer calling: {number}");
            } else {
                info!("New customer calling: {}", mask_phone(number));
            }
            (
                conversation::create_inbound_new_manager(caller_phone.unwrap_or_default(), shop),
                None,
            )
        }
        Lookup::NoCallerId => {
            info!("No caller phone available, using general prompt");
            (
                conversation::create_inbound_general_manager(None, shop),
                None,
            )
        }
        Lookup::Failed(err) => {
            warn!(
                error = err,
                "Could not initialize conversation manager: falling back to the general prompt"
            );
            (
                conversation::create_inbound_general_manager(caller_phone.map(str::to_owned), shop),
                None,
            )
        }
    };
    info!(
        call_type = manager.call_type().as_str(),
        "Manager initialized: {}",
        manager.call_type().as_str()
    );
    BuiltManager {
        manager,
        customer_id,
    }
}

/// Records an outbound frame in the capture: its event and, for media, the audio length.
fn capture_outbound(capture: &Capture, frame: &str) {
    match media::decode_outbound(frame) {
        Ok(media::Outbound::Media { payload, .. }) => {
            capture.twilio_out("media", json!({"bytes": payload.len()}))
        }
        Ok(media::Outbound::Mark { name, .. }) => capture.twilio_out("mark", json!({"name": name})),
        Ok(media::Outbound::Clear { .. }) => capture.twilio_out("clear", Value::Null),
        Err(_) => capture.twilio_out("unknown", Value::Null),
    }
}

/// A JSON object's map (empty for anything else).
fn as_object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Completes when `token` is cancelled; never without a token.
async fn cancelled_opt(token: Option<&CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
