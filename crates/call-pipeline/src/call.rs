//! `run_call`: one phone call from Twilio's `start` to the final record.
//!
//! A handful of named tasks under one cancellation token: the phone reader and writer, the STT and
//! TTS drivers, the session writer, and at most one bot turn at a time (a child token, so barge-in
//! stops the turn and not the call). The driver — this module's `Call` — is the only owner of the
//! `ConversationManager`, the history and the playback state, so none of them need a lock.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use audio_codec::VadEvent;
use chrono::{DateTime, Utc};
use conversation::{
    ConversationManager, CustomerProfile, EscalationReason, ShopConfig, State, ToolResult,
};
use std::pin::Pin;

use futures::{Sink, StreamExt};
use providers::{
    ChatMessage, ChatRequest, LanguageModel, SpeechToText, SttEvent, SttOptions, SttSession,
    TextToSpeech, TtsEvent, TtsHandle, TtsOptions, TtsSession, Usage, UtteranceAssembler,
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

use crate::{
    admission::{PendingSlot, StreamAdmission},
    barge_in::is_backchannel,
    capture::Capture,
    config::PipelineConfig,
    mask_phone,
    outbox::RecordOutbox,
    phone::{PhoneEvent, PhoneLink, read_from_phone, write_to_phone},
    playback::{MarkOutcome, Playback},
    ports::{CallControl, CallCrm, CallRecord, ToolCallContext, ToolOutcome},
    token::STREAM_TOKEN_PARAMETER,
    turn::{TurnEvent, TurnInput, run_bot_turn},
};

/// How long to drop TTS audio after a `Clear` while waiting for `Cleared`; a vendor that never
/// answers must not leave the agent mute.
const CLEARED_MAX_WAIT: Duration = Duration::from_secs(2);

/// Everything a call uses, shared by all calls.
#[derive(Clone)]
pub struct CallDeps {
    /// Speech-to-text.
    pub stt: Arc<dyn SpeechToText>,
    /// The language model.
    pub llm: Arc<dyn LanguageModel>,
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
    /// When set, each call is written there as a capture file (docs/captures.md).
    pub capture_dir: Option<PathBuf>,
    /// Cancelled when the server's drain time is over: each call still running is handed to the
    /// advisor (or told goodbye) instead of being cut off. `None`: never.
    pub handoff: Option<CancellationToken>,
}

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
}

impl CallStatus {
    /// The snake_case name stored in sessions and call records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Transferred => "transferred",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
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
    let outcome = run_admitted(start, inbound, outbound, deps, config, call, capture).await;
    if let Some(admitted) = admitted {
        admitted.release().await;
    }
    outcome
}

/// The call after its stream was admitted.
async fn run_admitted(
    start: Start,
    inbound: futures::stream::BoxStream<'static, Result<String, crate::phone::PhoneError>>,
    outbound: Pin<Box<dyn Sink<String, Error = crate::phone::PhoneError> + Send>>,
    deps: CallDeps,
    config: Arc<PipelineConfig>,
    call: CancellationToken,
    capture: Option<Capture>,
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
    let direction = if is_outbound { "outbound" } else { "inbound" };
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
        .filter(|p| !crm::is_withheld(p) && trusted)
        .cloned();
    let started_at = (deps.now)();
    if let Some(capture) = &capture {
        let mut params = start.custom_parameters.clone();
        params.remove(STREAM_TOKEN_PARAMETER);
        capture.meta(
            start.call_sid.as_str(),
            start.stream_sid.as_str(),
            &started_at.to_rfc3339(),
            json!(params),
        );
    }
    info!(caller = %caller_phone.as_deref().map(mask_phone).unwrap_or_else(|| "unknown".to_owned()), direction, "call started");
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
    let (session_res, (lookup, stt_res), tts_res) = tokio::join!(
        deps.sessions
            .set_session(&call_sid, as_object(session_fields)),
        lookup_then_stt,
        connect_tts(&deps, &call_sid, config.provider_connect_timeout),
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
    let manager = manager.manager;
    // The call's record exists from its start, on disk first (see `outbox.rs`): a crash mid-call
    // still leaves a record. It only inserts, so it never overwrites the final one.
    let start_record = CallRecord {
        call_sid: call_sid.clone(),
        stream_sid: start.stream_sid.as_str().to_owned(),
        caller_phone: caller_phone.clone(),
        customer_id,
        direction: direction.to_owned(),
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
    };

    let tracker = TaskTracker::new();
    // Written beside the greeting, not before it (the fsync must not add to the caller's wait).
    let records = deps.records.clone();
    tracker.spawn(async move { records.submit(start_record).await }.in_current_span());
    let (phone_tx, phone_rx) = mpsc::channel(config.event_queue_len);
    let (frames_tx, frames_rx) = mpsc::channel(config.outbound_queue_len);
    tracker.spawn(write_to_phone(outbound, frames_rx, call.clone()).in_current_span());

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
        history: Vec::new(),
        playback: Playback::new(start.stream_sid.clone(), config.mark_every_frames),
        frames_tx: Some(frames_tx),
        out: Vec::with_capacity(64),
        tts: None,
        next_turn: 1,
        bot_turn: None,
        speaking: None,
        assembler: UtteranceAssembler::new(),
        usage: Usage::default(),
        barge_ins: 0,
        transfer: TransferState::None,
        status: CallStatus::Completed,
        silence: SilenceState::default(),
        pending_interrupt: None,
        resume_after: None,
        end_after_playback: None,
        length_deadline: Some(tokio::time::Instant::now() + config.max_call_duration),
        user_turns: 0,
        shutting_down: false,
        bookings: Arc::default(),
        timings: Vec::new(),
        session_tx: None,
        tracker: tracker.clone(),
        call: call.clone(),
        turn_tx: None,
        capture: capture.clone(),
        tts_failed: false,
        tts_fallback_used: false,
        new_tts_events: None,
        awaiting_cleared: None,
    };

    let (stt_session, tts_session) = match (stt_res, tts_res) {
        (Ok(stt), Ok(tts)) => (Some(stt), Some(tts)),
        (stt, tts) => {
            if let Err(err) = &stt {
                error!(error = %err, "speech-to-text unavailable at call start");
            }
            if let Err(err) = &tts {
                error!(error = %err, "text-to-speech unavailable at call start");
            }
            (stt.ok(), tts.ok())
        }
    };

    // TTS: its events come to the driver; its driver future runs on the tracker.
    let mut tts_events = match tts_session {
        Some(TtsSession {
            handle,
            events,
            driver,
        }) => {
            tracker.spawn(driver.in_current_span());
            call_state.tts = Some(handle);
            Some(events)
        }
        None => None,
    };
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

    if call_state.tts.is_none() {
        // Nothing can be said: hand the call to a person right away, or end it.
        call_state.status = CallStatus::Failed;
        call_state.escalate_without_speaking().await;
    } else if stt_handle.is_none() {
        call_state.status = CallStatus::Failed;
        let line = call_state.config.stt_lost_line.clone();
        call_state
            .begin_escalation(EscalationReason::SpeechRecognitionLost, Some(line))
            .await;
    } else {
        let greeting = call_state.manager.greeting();
        call_state.speak_line(&greeting).await;
    }

    let (turn_tx, mut turn_rx) = mpsc::channel(64);
    call_state.turn_tx = Some(turn_tx);
    let mut phone_rx = phone_rx;
    let handoff = deps.handoff.clone();
    let mut handing_off = false;
    loop {
        let deadline = call_state.next_deadline();
        tokio::select! {
            _ = call.cancelled() => break,
            _ = cancelled_opt(handoff.as_ref()), if !handing_off => {
                handing_off = true;
                call_state.on_shutdown_handoff().await;
            }
            event = phone_rx.recv() => match event {
                Some(event) => if call_state.on_phone_event(event).await.is_break() { break },
                None => break,
            },
            event = recv_opt(&mut stt_events) => match event {
                Some(event) => call_state.on_stt_event(event).await,
                None => {
                    stt_events = None;
                    call_state.on_stt_lost().await;
                }
            },
            event = recv_opt(&mut tts_events) => match event {
                Some(event) => call_state.on_tts_event(event).await,
                None => {
                    tts_events = None;
                    call_state.tts_failed = true;
                }
            },
            Some(event) = turn_rx.recv() => call_state.on_turn_event(event).await,
            _ = sleep_until_opt(deadline) => if call_state.on_deadline().await.is_break() { break },
        }
        if call_state.tts_failed {
            call_state.recover_tts().await;
        }
        if let Some(events) = call_state.new_tts_events.take() {
            tts_events = Some(events);
        }
    }

    // End of call: stop every task, then save.
    call_state.cancel_bot_turn();
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

/// The driver's state: single owner of everything about this call.
struct CallState {
    config: Arc<PipelineConfig>,
    deps: CallDeps,
    call_sid: CallSid,
    stream_sid: StreamSid,
    caller_phone: Option<String>,
    /// `inbound` or `outbound`.
    direction: &'static str,
    customer_id: Option<i64>,
    started_at: DateTime<Utc>,
    manager: ConversationManager,
    history: Vec<ChatMessage>,
    playback: Playback,
    /// `None` once the call is ending: dropping it closes the socket after the queued frames.
    frames_tx: Option<mpsc::Sender<String>>,
    /// Scratch list of outbound frames built by `playback`.
    out: Vec<String>,
    tts: Option<TtsHandle>,
    next_turn: u64,
    /// The LLM turn in flight: its id and cancellation token.
    bot_turn: Option<(u64, CancellationToken)>,
    /// What the agent is saying now (turn id and latency bookkeeping).
    speaking: Option<SpokenTurn>,
    assembler: UtteranceAssembler,
    usage: Usage,
    barge_ins: u32,
    transfer: TransferState,
    status: CallStatus,
    silence: SilenceState,
    /// Speech without words started while the agent spoke: interrupt at this deadline.
    pending_interrupt: Option<tokio::time::Instant>,
    /// After a wordless interruption: resume the unheard text at this deadline unless words come.
    resume_after: Option<(tokio::time::Instant, String)>,
    /// End the call once the current line has played, or at this deadline.
    end_after_playback: Option<tokio::time::Instant>,
    /// When the call reaches `max_call_duration`; `None` once the closing line was said.
    length_deadline: Option<tokio::time::Instant>,
    /// Caller turns so far.
    user_turns: u32,
    /// The server is stopping: the call is being handed over.
    shutting_down: bool,
    /// Bookings made by this call's turns.
    bookings: Arc<std::sync::atomic::AtomicU32>,
    timings: Vec<Value>,
    session_tx: Option<watch::Sender<Option<serde_json::Map<String, Value>>>>,
    tracker: TaskTracker,
    call: CancellationToken,
    turn_tx: Option<mpsc::Sender<TurnEvent>>,
    /// The call's capture, when `CAPTURE_DIR` is set.
    capture: Option<Capture>,
    /// A TTS send failed: the loop calls `recover_tts` after the current event.
    tts_failed: bool,
    /// The fallback TTS was already tried.
    tts_fallback_used: bool,
    /// Events of a replacement TTS session, for the loop to pick up.
    new_tts_events: Option<mpsc::Receiver<TtsEvent>>,
    /// A TTS `Clear` was sent at this instant and its `Cleared` has not arrived: audio and
    /// `Flushed` events until then belong to the interrupted turn.
    awaiting_cleared: Option<Instant>,
}

/// Latency bookkeeping for the turn being spoken.
#[derive(Debug, Clone)]
struct SpokenTurn {
    turn: u64,
    /// Whether this turn comes from the LLM (else a fixed line).
    from_llm: bool,
    /// The LLM reply is complete (fixed lines are complete at once).
    text_complete: bool,
    /// Index in `history` of the assistant message for this turn, once added.
    history_idx: Option<usize>,
    utterance_at: Option<Instant>,
    llm_request_at: Option<Instant>,
    llm_first_token_at: Option<Instant>,
    first_tts_request_at: Option<Instant>,
    first_tts_audio_at: Option<Instant>,
    first_frame_sent_at: Option<Instant>,
    first_mark_at: Option<Instant>,
    pieces_sent: usize,
}

impl SpokenTurn {
    fn new(turn: u64, from_llm: bool, utterance_at: Option<Instant>) -> Self {
        Self {
            turn,
            from_llm,
            text_complete: !from_llm,
            history_idx: None,
            utterance_at,
            llm_request_at: None,
            llm_first_token_at: None,
            first_tts_request_at: None,
            first_tts_audio_at: None,
            first_frame_sent_at: None,
            first_mark_at: None,
            pieces_sent: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferState {
    None,
    /// The escalation line is playing; transfer when it has played or at the deadline.
    AfterLine {
        deadline: tokio::time::Instant,
    },
    /// The REST redirect succeeded: the `stop` that follows is expected.
    Transferred,
    /// No transfer possible: a callback was promised.
    CallbackOffered,
}

#[derive(Debug, Default, Clone, Copy)]
struct SilenceState {
    /// When the current silence started (nobody speaking, nothing playing).
    since: Option<tokio::time::Instant>,
    checked_in: bool,
    caller_speaking: bool,
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

impl CallState {
    // ---------- events ----------

    async fn on_phone_event(&mut self, event: PhoneEvent) -> Flow {
        match event {
            PhoneEvent::Voice(VadEvent::SpeechStart) => {
                self.silence.caller_speaking = true;
                self.silence.since = None;
                self.maybe_arm_interrupt();
            }
            PhoneEvent::Voice(VadEvent::SpeechEnd) => {
                self.silence.caller_speaking = false;
                self.pending_interrupt = None;
                self.restart_silence_if_idle();
            }
            PhoneEvent::Dtmf(digit) => {
                if self.config.log_transcripts {
                    info!(digit, "dtmf");
                } else {
                    info!("dtmf");
                }
                if digit == "0" && !self.manager.escalation_triggered() {
                    self.interrupt("dtmf").await;
                    warn!(reason = "keypad", "ESCALATION: keypad");
                    self.begin_escalation(EscalationReason::Keypad, None).await;
                }
            }
            PhoneEvent::Mark(name) => self.on_mark(&name).await,
            PhoneEvent::Stop => {
                if self.transfer == TransferState::Transferred {
                    info!("stream stopped after the transfer");
                    self.status = CallStatus::Transferred;
                } else {
                    info!("caller hung up");
                }
                return Flow::Break;
            }
            PhoneEvent::Closed(_) => return Flow::Break,
        }
        Flow::Continue
    }

    async fn on_mark(&mut self, name: &str) {
        let outcome = self.playback.on_mark(name);
        if let Some(speaking) = self.speaking.as_mut()
            && speaking.first_mark_at.is_none()
            && speaking.turn == self.playback.turn()
            && outcome != MarkOutcome::Unknown
            && outcome != MarkOutcome::Stale
        {
            speaking.first_mark_at = Some(Instant::now());
        }
        if outcome == MarkOutcome::TurnPlayed
            && self.speaking.as_ref().is_some_and(|s| s.text_complete)
        {
            self.on_turn_played().await;
        }
    }

    async fn on_stt_event(&mut self, event: SttEvent) {
        if let Some(capture) = &self.capture {
            capture.stt(&event);
        }
        match &event {
            SttEvent::Transcript(t) if !t.is_final => {
                if !t.text.trim().is_empty() {
                    self.silence.since = None;
                    // Words that are only "uh-huh" do not cancel a pending resume: the caller was
                    // listening, not taking the turn.
                    if !is_backchannel(&t.text) {
                        self.resume_after = None;
                        if self.agent_is_speaking() {
                            self.interrupt("interim transcript").await;
                        }
                    }
                }
                return;
            }
            SttEvent::SpeechStarted { .. } => {
                self.silence.since = None;
                self.maybe_arm_interrupt();
                return;
            }
            SttEvent::Reconnecting { reason, .. } => {
                warn!(error = %reason, "speech-to-text reconnecting");
                metrics::counter!("voice_provider_errors_total", "provider" => self.deps.stt.name(), "kind" => "stt").increment(1);
                return;
            }
            SttEvent::Reconnected { .. } => {
                info!("speech-to-text reconnected");
                return;
            }
            SttEvent::Error { error, .. } => {
                warn!(error = %error, "speech-to-text error");
                return;
            }
            SttEvent::Closed { .. } => {
                self.on_stt_lost().await;
                return;
            }
            _ => {}
        }
        let Some(utterance) = self.assembler.push(&event) else {
            return;
        };
        self.pending_interrupt = None;
        // A long "uh-huh" can stop the agent as sustained speech; once its words show it was only
        // a backchannel, the agent picks up where it was cut off instead of treating it as a turn.
        if let Some((_, unheard)) = self.resume_after.take()
            && is_backchannel(&utterance.text)
        {
            info!(
                text = utterance.text,
                "backchannel after an interruption; resuming"
            );
            self.speak_line(&unheard).await;
            return;
        }
        if self.agent_is_speaking() {
            if is_backchannel(&utterance.text) {
                debug!(
                    text = utterance.text,
                    "backchannel while the agent speaks; not a turn"
                );
                return;
            }
            self.interrupt("final transcript").await;
        } else if is_backchannel(&utterance.text) && self.bot_turn.is_some() {
            // "okay" while the reply is being generated: let the reply come.
            return;
        }
        self.on_utterance(utterance.text, utterance.at).await;
    }

    async fn on_utterance(&mut self, text: String, at: Instant) {
        self.log_speech("USER", &text);
        self.silence = SilenceState {
            since: None,
            checked_in: self.silence.checked_in,
            caller_speaking: false,
        };
        self.cancel_bot_turn();
        self.history.push(ChatMessage::User {
            content: text.clone(),
        });
        self.user_turns += 1;
        if self.user_turns > self.config.max_turns {
            self.close_for_length("turns").await;
            return;
        }
        if self.length_deadline.is_none() {
            // The closing line was said; the call ends when it has played.
            return;
        }
        if self.transfer != TransferState::None && self.transfer != TransferState::CallbackOffered {
            // The transfer is under way; nothing more to talk about.
            return;
        }
        let now = (self.deps.now)();
        let seen = self.manager.transitions().len();
        let state = self.manager.process_message(&text, now);
        self.log_transitions_since(seen);
        info!(state = %state, "Conversation state: {state}");
        if let Some(intent) = self.manager.intent() {
            metrics::counter!("voice_intents_total", "intent" => intent.as_str()).increment(1);
        }
        // `process_message` applies the escalation rules (words, anger, legal, repeated failure).
        if self.manager.state() == State::Escalation && self.follow_manager_escalation().await {
            return;
        }
        self.start_bot_turn(Some(at));
        self.push_session_update();
    }

    async fn on_tts_event(&mut self, event: TtsEvent) {
        if let Some(since) = self.awaiting_cleared {
            match &event {
                TtsEvent::Cleared { .. } => {
                    self.awaiting_cleared = None;
                    return;
                }
                TtsEvent::Audio { .. } | TtsEvent::Flushed { .. }
                    if since.elapsed() < CLEARED_MAX_WAIT =>
                {
                    return;
                }
                _ => self.awaiting_cleared = None,
            }
        }
        match event {
            TtsEvent::Audio { mulaw, at } => {
                if let Some(capture) = &self.capture {
                    capture.tts_audio(mulaw.len());
                }
                let Some(speaking) = self.speaking.as_mut() else {
                    return;
                };
                if speaking.first_tts_audio_at.is_none() {
                    speaking.first_tts_audio_at = Some(at);
                }
                let first = self.playback.push_audio(&mulaw, &mut self.out);
                self.flush_out().await;
                if first && let Some(speaking) = self.speaking.as_mut() {
                    let now = Instant::now();
                    speaking.first_frame_sent_at = Some(now);
                    metrics::histogram!("voice_tts_audio_to_twilio_seconds")
                        .record(now.duration_since(at).as_secs_f64());
                }
            }
            TtsEvent::Flushed { .. } => {
                if self.speaking.is_some() {
                    self.playback.group_flushed(&mut self.out);
                    self.flush_out().await;
                }
            }
            TtsEvent::Cleared { .. } => debug!("tts cleared"),
            TtsEvent::Reconnecting { reason, .. } => {
                warn!(error = %reason, "text-to-speech reconnecting");
                metrics::counter!("voice_provider_errors_total", "provider" => self.deps.tts.name(), "kind" => "tts").increment(1);
            }
            TtsEvent::Error { error, .. } => warn!(error = %error, "text-to-speech error"),
            TtsEvent::Closed { .. } => self.tts_failed = true,
        }
    }

    async fn on_turn_event(&mut self, event: TurnEvent) {
        let current = self.bot_turn.as_ref().map(|(turn, _)| *turn);
        let event_turn = match &event {
            TurnEvent::RequestSent { turn, .. }
            | TurnEvent::FirstToken { turn, .. }
            | TurnEvent::Piece { turn, .. }
            | TurnEvent::ToolExchange { turn, .. }
            | TurnEvent::Done { turn, .. }
            | TurnEvent::Failed { turn, .. } => *turn,
        };
        // Tool exchanges are kept even from a cancelled turn: the tool really ran.
        if let TurnEvent::ToolExchange {
            assistant,
            results,
            outcomes,
            ..
        } = event
        {
            self.history.push(assistant);
            self.history.extend(results);
            self.apply_tool_outcomes(&outcomes).await;
            return;
        }
        if current != Some(event_turn) {
            return;
        }
        match event {
            TurnEvent::RequestSent { at, .. } => {
                if let Some(speaking) = self.speaking.as_mut().filter(|s| s.turn == event_turn)
                    && speaking.llm_request_at.is_none()
                {
                    speaking.llm_request_at = Some(at);
                    if let Some(utterance_at) = speaking.utterance_at {
                        metrics::histogram!("voice_transcript_to_llm_request_seconds")
                            .record(at.duration_since(utterance_at).as_secs_f64());
                    }
                }
            }
            TurnEvent::FirstToken { at, .. } => {
                if let Some(speaking) = self.speaking.as_mut().filter(|s| s.turn == event_turn) {
                    speaking.llm_first_token_at = Some(at);
                }
            }
            TurnEvent::Piece { text, .. } => self.speak_piece(&text).await,
            TurnEvent::Done { usage, .. } => {
                self.add_usage(usage);
                self.bot_turn = None;
                self.finish_reply_text().await;
            }
            TurnEvent::Failed { error, usage, .. } => {
                self.add_usage(usage);
                self.bot_turn = None;
                warn!(error, "saying the fallback line");
                let line = self.config.fallback_line.clone();
                self.speak_line(&line).await;
            }
            TurnEvent::ToolExchange { .. } => {}
        }
    }

    async fn on_deadline(&mut self) -> Flow {
        let now = tokio::time::Instant::now();
        if self.pending_interrupt.is_some_and(|at| at <= now) {
            self.pending_interrupt = None;
            if self.agent_is_speaking() {
                let unheard = self.interrupt("sustained speech").await;
                if let Some(unheard) = unheard.filter(|t| !t.is_empty()) {
                    self.resume_after =
                        Some((now + self.config.false_interruption_window, unheard));
                }
            }
        }
        if let Some((at, _)) = &self.resume_after
            && *at <= now
        {
            let (_, unheard) = self.resume_after.take().expect("checked above");
            if !self.silence.caller_speaking && self.bot_turn.is_none() {
                info!("false interruption: resuming the unheard part");
                self.speak_line(&unheard).await;
            }
        }
        if let TransferState::AfterLine { deadline } = self.transfer
            && deadline <= now
        {
            self.do_transfer().await;
        }
        if self.end_after_playback.is_some_and(|at| at <= now) {
            info!("ending the call");
            return Flow::Break;
        }
        if self.length_deadline.is_some_and(|at| at <= now) {
            self.close_for_length("duration").await;
        }
        if let Some(since) = self.silence.since {
            let limit = if self.silence.checked_in {
                self.config.silence_hang_up
            } else {
                self.config.silence_check_in
            };
            if since + limit <= now && !self.agent_is_speaking() && self.bot_turn.is_none() {
                self.silence.since = None;
                // The manager decides what the silence means (its count resets when the caller
                // speaks): the first timeout is a check-in, the second closes the call.
                let seen = self.manager.transitions().len();
                let state = self.manager.on_silence_timeout();
                self.log_transitions_since(seen);
                match state {
                    State::Closing => {
                        info!("caller silent after the check-in; saying goodbye");
                        let line = self.config.silence_goodbye_line.clone();
                        self.speak_line(&line).await;
                        self.end_after_playback = Some(now + self.config.goodbye_max_wait);
                    }
                    // A transfer is under way; the advisor takes it from here.
                    State::Escalation => {}
                    _ => {
                        info!("caller silent; checking in");
                        self.silence.checked_in = true;
                        let line = self.config.check_in_line.clone();
                        self.speak_line(&line).await;
                    }
                }
            }
        }
        Flow::Continue
    }

    fn next_deadline(&self) -> Option<tokio::time::Instant> {
        let silence = self.silence.since.map(|since| {
            since
                + if self.silence.checked_in {
                    self.config.silence_hang_up
                } else {
                    self.config.silence_check_in
                }
        });
        let transfer = match self.transfer {
            TransferState::AfterLine { deadline } => Some(deadline),
            _ => None,
        };
        [
            self.pending_interrupt,
            self.resume_after.as_ref().map(|(at, _)| *at),
            transfer,
            self.end_after_playback,
            self.length_deadline,
            silence,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The call reached its length or turn limit: a polite close, then the call ends.
    async fn close_for_length(&mut self, limit: &'static str) {
        if self.length_deadline.take().is_none() {
            return;
        }
        warn!(
            limit,
            turns = self.user_turns,
            "call reached its limit; closing politely"
        );
        metrics::counter!("voice_calls_limited_total", "limit" => limit).increment(1);
        self.cancel_bot_turn();
        let line = self.config.max_length_line.clone();
        self.speak_line(&line).await;
        self.end_after_playback = Some(tokio::time::Instant::now() + self.config.goodbye_max_wait);
    }

    // ---------- speaking ----------

    fn agent_is_speaking(&self) -> bool {
        self.speaking.is_some() && (self.playback.is_speaking() || self.bot_turn.is_some())
    }

    fn maybe_arm_interrupt(&mut self) {
        if self.agent_is_speaking() && self.pending_interrupt.is_none() {
            self.pending_interrupt =
                Some(tokio::time::Instant::now() + self.config.barge_in_min_speech);
        }
    }

    /// Starts a new spoken turn (LLM reply or fixed line) and returns its id.
    fn begin_spoken_turn(&mut self, from_llm: bool, utterance_at: Option<Instant>) -> u64 {
        let turn = self.next_turn;
        self.next_turn += 1;
        self.playback.begin_turn(turn);
        self.speaking = Some(SpokenTurn::new(turn, from_llm, utterance_at));
        self.silence.since = None;
        turn
    }

    fn start_bot_turn(&mut self, utterance_at: Option<Instant>) {
        let Some(turn_tx) = self.turn_tx.clone() else {
            return;
        };
        let turn = self.begin_spoken_turn(true, utterance_at);
        let recent = recent_context(&self.history, self.config.max_context_messages);
        let mut messages = Vec::with_capacity(recent.len() + 1);
        messages.push(ChatMessage::System {
            content: self.manager.get_system_prompt(),
        });
        messages.extend(recent.iter().cloned());
        let request = ChatRequest {
            messages,
            tools: self.deps.crm.tools(),
            temperature: self.config.temperature,
            max_tokens: self.config.max_tokens,
        };
        let cancel = self.call.child_token();
        self.bot_turn = Some((turn, cancel.clone()));
        let input = TurnInput {
            turn,
            request,
            llm: self.deps.llm.clone(),
            crm: self.deps.crm.clone(),
            tool_context: ToolCallContext {
                call_sid: self.call_sid.as_str().to_owned(),
                caller_phone: self.caller_phone.clone(),
                customer_id: self.customer_id,
                now: (self.deps.now)(),
            },
            config: self.config.clone(),
            turn_tx,
            cancel,
            capture: self.capture.clone(),
            bookings: self.bookings.clone(),
        };
        self.tracker.spawn(run_bot_turn(input).in_current_span());
    }

    fn cancel_bot_turn(&mut self) {
        if let Some((_, cancel)) = self.bot_turn.take() {
            cancel.cancel();
        }
    }

    /// Logs what was said: the words only with `log_transcripts` (personal data), else its length.
    fn log_speech(&self, who: &'static str, text: &str) {
        if self.config.log_transcripts {
            info!(text, "{who}");
        } else {
            info!(chars = text.chars().count(), "{who}");
        }
    }

    /// Speaks a fixed line (greeting, fallback, escalation) as its own turn, no LLM.
    async fn speak_line(&mut self, text: &str) {
        self.log_speech("ASSISTANT", text);
        self.cancel_bot_turn();
        let turn = self.begin_spoken_turn(false, None);
        self.history.push(ChatMessage::Assistant {
            content: Some(text.to_owned()),
            tool_calls: Vec::new(),
        });
        if let Some(speaking) = self.speaking.as_mut().filter(|s| s.turn == turn) {
            speaking.history_idx = Some(self.history.len() - 1);
        }
        self.send_to_tts(text, true).await;
    }

    async fn speak_piece(&mut self, text: &str) {
        let Some(speaking) = self.speaking.as_ref() else {
            return;
        };
        let first = speaking.pieces_sent == 0;
        // The first piece goes out alone for latency; later ones are flushed together at the end
        // unless they pile up.
        let flush =
            first || self.playback.unflushed_len() + text.len() > self.config.max_unflushed_chars;
        self.send_to_tts(text, flush).await;
    }

    async fn send_to_tts(&mut self, text: &str, flush: bool) {
        let Some(tts) = self.tts.clone() else { return };
        if let Some(speaking) = self.speaking.as_mut() {
            if speaking.first_tts_request_at.is_none() {
                let now = Instant::now();
                speaking.first_tts_request_at = Some(now);
                if let Some(first_token) = speaking.llm_first_token_at {
                    metrics::histogram!("voice_llm_token_to_tts_request_seconds")
                        .record(now.duration_since(first_token).as_secs_f64());
                }
            }
            speaking.pieces_sent += 1;
        }
        self.playback.add_text(text);
        if let Some(capture) = &self.capture {
            capture.tts_text(self.playback.turn(), text);
        }
        if tts.send_text(text).await.is_err() {
            self.tts_failed = true;
            return;
        }
        if flush {
            self.playback.close_group();
            if tts.flush().await.is_err() {
                self.tts_failed = true;
            }
        }
    }

    /// The LLM reply is complete: flush the tail and put the reply in history.
    async fn finish_reply_text(&mut self) {
        if self.playback.has_unflushed_text() {
            self.playback.close_group();
            if let Some(tts) = self.tts.clone()
                && tts.flush().await.is_err()
            {
                self.tts_failed = true;
            }
        }
        let text = self.playback.full_text();
        let Some(speaking) = self.speaking.as_mut() else {
            return;
        };
        speaking.text_complete = true;
        if !text.is_empty() && speaking.history_idx.is_none() {
            if self.config.log_transcripts {
                info!(text, "ASSISTANT");
            } else {
                info!(chars = text.chars().count(), "ASSISTANT");
            }
            self.history.push(ChatMessage::Assistant {
                content: Some(text),
                tool_calls: Vec::new(),
            });
            speaking.history_idx = Some(self.history.len() - 1);
        }
        // Seed step 5: the prompt is rebuilt from the manager's state on every request.
        self.push_session_update();
        if self.playback.is_idle() {
            self.on_turn_played().await;
        }
    }

    /// Barge-in: stop speaking now. Returns the text the caller did not hear.
    async fn interrupt(&mut self, cause: &'static str) -> Option<String> {
        let speaking = self.speaking.take()?;
        self.cancel_bot_turn();
        self.pending_interrupt = None;
        self.barge_ins += 1;
        metrics::counter!("voice_barge_ins_total").increment(1);
        self.playback.clear(&mut self.out);
        self.flush_out().await;
        if let Some(tts) = self.tts.clone() {
            self.awaiting_cleared = Some(Instant::now());
            if tts.clear().await.is_err() {
                self.tts_failed = true;
            }
        }
        let heard = self.playback.heard_text();
        let full = self.playback.full_text();
        info!(
            cause,
            heard_chars = heard.len(),
            full_chars = full.len(),
            "barge-in: agent stopped"
        );
        if let Some(capture) = &self.capture {
            capture.barge_in(cause, &heard);
        }
        // History keeps only what the caller heard.
        match speaking.history_idx {
            Some(idx) if heard.is_empty() => {
                self.history.remove(idx);
            }
            Some(idx) => {
                self.history[idx] = ChatMessage::Assistant {
                    content: Some(heard.clone()),
                    tool_calls: Vec::new(),
                };
            }
            None if !heard.is_empty() => {
                self.history.push(ChatMessage::Assistant {
                    content: Some(heard.clone()),
                    tool_calls: Vec::new(),
                });
            }
            None => {}
        }
        // Resume from the start of the sentence the caller was cut off in: it sounds natural.
        let resume_from = sentence_start(&full, heard.len());
        let unheard = full.get(resume_from..).map(|rest| rest.trim().to_owned());
        self.record_turn_timings(&speaking, true);
        unheard
    }

    /// Everything of the current turn has played.
    async fn on_turn_played(&mut self) {
        let Some(speaking) = self.speaking.take() else {
            return;
        };
        self.record_turn_timings(&speaking, false);
        if let TransferState::AfterLine { .. } = self.transfer {
            self.do_transfer().await;
            return;
        }
        if self.end_after_playback.is_some() {
            self.end_after_playback = Some(tokio::time::Instant::now());
            return;
        }
        self.restart_silence_if_idle();
    }

    fn restart_silence_if_idle(&mut self) {
        if !self.silence.caller_speaking && !self.agent_is_speaking() && self.bot_turn.is_none() {
            self.silence.since = Some(tokio::time::Instant::now());
        }
    }

    async fn flush_out(&mut self) {
        let Some(frames_tx) = &self.frames_tx else {
            self.out.clear();
            return;
        };
        for frame in self.out.drain(..) {
            if let Some(capture) = &self.capture {
                capture_outbound(capture, &frame);
            }
            if frames_tx.send(frame).await.is_err() {
                break;
            }
        }
    }

    // ---------- escalation ----------

    async fn begin_escalation(&mut self, reason: EscalationReason, line: Option<String>) {
        metrics::counter!("voice_escalations_total", "reason" => reason.as_str()).increment(1);
        self.manager.escalate_for(reason);
        if self.deps.call_control.can_transfer() {
            let line = line.unwrap_or_else(|| self.config.escalation_line.clone());
            self.speak_line(&line).await;
            self.transfer = TransferState::AfterLine {
                deadline: tokio::time::Instant::now() + self.config.escalation_line_max_wait,
            };
        } else {
            info!("no transfer possible; offering a callback");
            self.transfer = TransferState::CallbackOffered;
            let line = self.config.callback_line.clone();
            self.speak_line(&line).await;
        }
    }

    async fn do_transfer(&mut self) {
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
                    self.end_after_playback = Some(tokio::time::Instant::now());
                }
            }
            Err(err) => {
                error!(error = %err, "transfer failed; offering a callback");
                self.transfer = TransferState::CallbackOffered;
                let line = self.config.callback_line.clone();
                self.speak_line(&line).await;
            }
        }
    }

    /// The server is stopping and this call outlived the drain: a short line, then the advisor
    /// (or, without a transfer, goodbye), so the caller is never just cut off.
    async fn on_shutdown_handoff(&mut self) {
        if !matches!(
            self.transfer,
            TransferState::None | TransferState::CallbackOffered
        ) {
            return;
        }
        warn!("gateway shutting down: handing the call over");
        self.shutting_down = true;
        metrics::counter!("voice_shutdown_handoffs_total").increment(1);
        self.cancel_bot_turn();
        self.interrupt("shutdown").await;
        let now = tokio::time::Instant::now();
        if self.deps.call_control.can_transfer() {
            let line = self.config.shutdown_transfer_line.clone();
            self.speak_line(&line).await;
            self.transfer = TransferState::AfterLine {
                deadline: now + self.config.shutdown_line_max_wait,
            };
        } else {
            let line = self.config.shutdown_goodbye_line.clone();
            self.speak_line(&line).await;
            self.end_after_playback = Some(now + self.config.shutdown_line_max_wait);
        }
    }

    async fn escalate_without_speaking(&mut self) {
        self.manager
            .escalate_for(EscalationReason::SpeechSynthesisLost);
        if self.deps.call_control.can_transfer() {
            self.do_transfer().await;
        } else {
            error!("cannot speak and cannot transfer; ending the call");
            self.end_after_playback = Some(tokio::time::Instant::now());
        }
    }

    async fn on_stt_lost(&mut self) {
        if self.manager.escalation_triggered() {
            return;
        }
        error!("speech-to-text lost for good");
        self.status = CallStatus::Failed;
        let line = self.config.stt_lost_line.clone();
        self.interrupt("stt lost").await;
        self.begin_escalation(EscalationReason::SpeechRecognitionLost, Some(line))
            .await;
    }

    /// The TTS session failed: switch to the fallback voice once, re-speak what was not heard; with
    /// no voice left, hand the call to a person.
    async fn recover_tts(&mut self) {
        self.tts_failed = false;
        if self.tts.take().is_none() {
            return;
        }
        metrics::counter!("voice_provider_errors_total", "provider" => self.deps.tts.name(), "kind" => "tts").increment(1);
        let unheard = self.interrupt("tts lost").await;
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
                    self.new_tts_events = Some(events);
                    if let Some(text) = unheard.filter(|t| !t.is_empty()) {
                        self.speak_line(&text).await;
                    }
                    return;
                }
                Ok(Err(err)) => error!(error = %err, "fallback text-to-speech failed too"),
                Err(_) => error!("fallback text-to-speech did not connect in time"),
            }
        }
        error!("no text-to-speech available");
        self.status = CallStatus::Failed;
        self.escalate_without_speaking().await;
    }

    /// Tells the manager how booking, rescheduling or cancelling went, so the flow moves on.
    /// The typed outcomes of a round's booking, reschedule and cancel calls move the conversation:
    /// done closes the flow, a taken slot asks for another time, a refusal or an unreachable CRM
    /// counts toward escalation.
    async fn apply_tool_outcomes(&mut self, outcomes: &[(String, ToolOutcome)]) {
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
            self.log_transitions_since(seen);
            // Repeated tool failures escalate: hand the caller to a person now.
            if state == State::Escalation && self.follow_manager_escalation().await {
                return;
            }
        }
    }

    /// The manager escalated: hand the caller to a person, unless a transfer is already under
    /// way. Returns whether it began one.
    async fn follow_manager_escalation(&mut self) -> bool {
        if self.transfer != TransferState::None {
            return false;
        }
        let reason = self
            .manager
            .escalation_reason()
            .unwrap_or(EscalationReason::ManagerRequest);
        warn!(reason = reason.as_str(), "ESCALATION: {}", reason.as_str());
        self.begin_escalation(reason, None).await;
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

    fn record_turn_timings(&mut self, speaking: &SpokenTurn, interrupted: bool) {
        let ms = |from: Option<Instant>, to: Option<Instant>| match (from, to) {
            (Some(from), Some(to)) => {
                Some(to.saturating_duration_since(from).as_secs_f64() * 1000.0)
            }
            _ => None,
        };
        let transcript_to_llm = ms(speaking.utterance_at, speaking.llm_request_at);
        let first_token = ms(speaking.llm_request_at, speaking.llm_first_token_at);
        let token_to_tts = ms(speaking.llm_first_token_at, speaking.first_tts_request_at);
        let tts_first_audio = ms(speaking.first_tts_request_at, speaking.first_tts_audio_at);
        let audio_to_twilio = ms(speaking.first_tts_audio_at, speaking.first_frame_sent_at);
        let caller_ear = ms(speaking.utterance_at, speaking.first_mark_at);
        let voice_to_voice = ms(speaking.utterance_at, speaking.first_frame_sent_at);
        if speaking.from_llm {
            info!(
                turn = speaking.turn,
                interrupted,
                transcript_to_llm_ms = transcript_to_llm,
                llm_first_token_ms = first_token,
                token_to_tts_ms = token_to_tts,
                tts_first_audio_ms = tts_first_audio,
                audio_to_twilio_ms = audio_to_twilio,
                voice_to_voice_ms = voice_to_voice,
                caller_ear_ms = caller_ear,
                "bot turn finished"
            );
            for (name, value) in [
                ("voice_llm_first_token_seconds", first_token),
                ("voice_tts_first_audio_seconds", tts_first_audio),
                ("voice_voice_to_voice_seconds", voice_to_voice),
                ("voice_caller_ear_seconds", caller_ear),
            ] {
                if let Some(value) = value {
                    metrics::histogram!(name).record(value / 1000.0);
                }
            }
        }
        self.timings.push(json!({
            "turn": speaking.turn,
            "from_llm": speaking.from_llm,
            "interrupted": interrupted,
            "transcript_to_llm_ms": transcript_to_llm,
            "llm_first_token_ms": first_token,
            "token_to_tts_ms": token_to_tts,
            "tts_first_audio_ms": tts_first_audio,
            "audio_to_twilio_ms": audio_to_twilio,
            "voice_to_voice_ms": voice_to_voice,
            "caller_ear_ms": caller_ear,
        }));
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
            "total_tokens": self.usage.total_tokens,
        });
        session_tx.send_replace(Some(as_object(fields)));
    }

    /// Seed step 7 and the call record; returns the outcome.
    async fn finish(mut self, stats: crate::phone::ReaderStats) -> CallOutcome {
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
            "escalation_triggered": self.manager.escalation_triggered(),
            "last_updated": ended_at.to_rfc3339(),
        });
        if let Some(reason) = escalation_reason {
            fields["escalation_reason"] = json!(reason.as_str());
        }
        if self.transfer == TransferState::CallbackOffered {
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
            direction: self.direction.to_owned(),
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
            callback_reason: (self.transfer == TransferState::CallbackOffered).then(|| {
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
            barge_ins = self.barge_ins,
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
            barge_ins: self.barge_ins,
        }
    }
}

/// The newest `max` messages of `history`, never starting with tool results whose assistant
/// message was cut off (OpenAI-compatible servers refuse those). The system prompt carries the
/// manager's state and slots, so what is left out is summarised there.
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
) -> Result<SttSession, String> {
    match tokio::time::timeout(
        timeout,
        stt.connect(SttOptions {
            call_id: call_sid.to_owned(),
            keyterms,
        }),
    )
    .await
    {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("connect took over {timeout:?}")),
    }
}

async fn connect_tts(
    deps: &CallDeps,
    call_sid: &str,
    timeout: Duration,
) -> Result<TtsSession, String> {
    let options = TtsOptions {
        call_id: call_sid.to_owned(),
        voice: None,
    };
    let primary = match tokio::time::timeout(timeout, deps.tts.connect(options.clone())).await {
        Ok(Ok(session)) => return Ok(session),
        Ok(Err(err)) => err.to_string(),
        Err(_) => format!("connect took over {timeout:?}"),
    };
    let Some(fallback) = &deps.tts_fallback else {
        return Err(primary);
    };
    warn!(
        error = primary,
        provider = deps.tts.name(),
        fallback = fallback.name(),
        "primary tts unavailable; using the fallback"
    );
    match tokio::time::timeout(timeout, fallback.connect(options)).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(err)) => Err(format!("{primary}; fallback: {err}")),
        Err(_) => Err(format!(
            "{primary}; fallback: connect took over {timeout:?}"
        )),
    }
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

/// Byte index where the sentence containing byte `at` of `text` starts.
fn sentence_start(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    let mut idx = at;
    while !text.is_char_boundary(idx) {
        idx -= 1;
    }
    text[..idx].rfind(['.', '?', '!']).map_or(0, |end| end + 1)
}

/// Reads the CRM executor's `{"ok": …, "error": {"code": …}}` result.
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
