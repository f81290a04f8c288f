//! `SpeechToText` over Deepgram live `/v1/listen` (docs/protocols.md section 5), or over Flux
//! (`/v2/listen`) when the model is a Flux model: the same driver, with Flux's messages, audio
//! chunking and turn events in `flux.rs`.
//!
//! The driver owns the socket and runs one `select!` loop over the caller's commands, the socket,
//! the keep-alive timer and the half-dead timer. Nothing is spawned.
//!
//! Reconnecting without losing the caller's words: every audio chunk is kept in an `AudioLog`
//! until a final `Results` covers it (`start + duration`, mapped back to a session byte offset).
//! When the socket drops (or goes half-dead), the new socket is fed first the audio the old one
//! received but never finalized, then the audio that arrived while reconnecting, in order.
//! Trade-off: the replayed audio was possibly heard by the old socket too, so interim transcripts
//! for it repeat (harmless: interims are never appended to an utterance); a final transcript can
//! repeat only if the old socket finalized audio and died before that final reached us, which
//! cannot be told apart from "never finalized" and is the lesser evil compared with losing words.
//! Transcript timings stay on one session clock: each socket's times are shifted by the session
//! offset of the first byte it received, so `start_s` keeps increasing across reconnects.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::{FutureExt, StreamExt};
use providers::{
    ProviderError, SpeechToText, SttCommand, SttEvent, SttHandle, SttOptions, SttSession,
    Transcript,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tracing::{Instrument, debug, info, info_span, trace, warn};
use url::Url;

use crate::DeepgramSttConfig;
use crate::flux::{self, FluxTurn};
use crate::socket::{self, Socket};
use crate::wire::{self, FluxMessage, ListenMessage};

/// Bytes per second of 8 kHz mono μ-law.
const BYTES_PER_SECOND: f64 = 8000.0;

/// Deepgram live speech-to-text. Cheap to clone behind an `Arc`; one instance serves every call.
#[derive(Debug, Clone)]
pub struct DeepgramStt {
    config: Arc<DeepgramSttConfig>,
}

impl DeepgramStt {
    /// A client with these settings.
    pub fn new(config: DeepgramSttConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    /// The full `/v1/listen` URL with the phone-audio query parameters of docs/protocols.md 5.2.
    pub fn listen_url(&self) -> Url {
        listen_url(&self.config)
    }
}

#[async_trait]
impl SpeechToText for DeepgramStt {
    async fn connect(&self, options: SttOptions) -> Result<SttSession, ProviderError> {
        let span = info_span!("deepgram_stt", call_id = %options.call_id);
        let is_flux = self.config.is_flux();
        let mut url = if is_flux {
            flux::flux_url(&self.config)
        } else {
            listen_url(&self.config)
        };
        if self.config.model.starts_with("nova-3") || self.config.model.starts_with("flux") {
            let mut query = url.query_pairs_mut();
            for term in keyterms_within_limits(&options.keyterms) {
                query.append_pair("keyterm", term);
            }
        }
        let socket = socket::open(&url, &self.config.api_key, self.config.connect_timeout)
            .instrument(span.clone())
            .await?;
        let (commands_tx, commands_rx) = mpsc::channel(self.config.command_queue_len.max(1));
        let (events_tx, events_rx) = mpsc::channel(self.config.event_queue_len.max(1));
        let replay_bytes = (self.config.replay_buffer.as_secs_f64() * BYTES_PER_SECOND) as usize;
        let driver = Driver {
            config: Arc::clone(&self.config),
            url,
            commands_rx,
            commands_open: true,
            events_tx,
            audio: AudioLog::new(replay_bytes),
            origin_s: 0.0,
            finalize_pending: false,
            closing: false,
            n_failed_attempts: 0,
            flux: is_flux.then(FluxTurn::default),
            chunk: BytesMut::new(),
        };
        Ok(SttSession {
            handle: SttHandle::new(commands_tx),
            events: events_rx,
            driver: driver.run(socket).instrument(span).boxed(),
        })
    }

    fn name(&self) -> &'static str {
        if self.config.is_flux() {
            "deepgram-flux"
        } else {
            "deepgram"
        }
    }

    fn ends_turns_by_meaning(&self) -> bool {
        self.config.is_flux()
    }
}

/// Builds the listen URL: the configured URL plus the phone-audio parameters.
pub(crate) fn listen_url(config: &DeepgramSttConfig) -> Url {
    let mut url = config.url.clone();
    let endpointing = config
        .endpointing
        .map_or_else(|| "false".to_owned(), |pause| pause.as_millis().to_string());
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("model", &config.model)
            .append_pair("language", &config.language)
            .append_pair("encoding", "mulaw")
            .append_pair("sample_rate", "8000")
            .append_pair("channels", "1")
            .append_pair("interim_results", "true")
            .append_pair("endpointing", &endpointing);
        if let Some(gap) = config.utterance_end {
            query.append_pair("utterance_end_ms", &gap.as_millis().to_string());
        }
        query
            .append_pair("vad_events", "true")
            .append_pair("punctuate", bool_str(config.punctuate))
            .append_pair("smart_format", bool_str(config.smart_format));
    }
    url
}

/// Deepgram's keyterm limits (developers.deepgram.com/docs/keyterm and the 2026-10-08
/// changelog): at most 100 terms and 500 tokens a request,
/// and going over stalls the stream without an error. Tokens are counted here conservatively
/// (a token per 3 characters, plus one per term) against a budget below the limit.
const MAX_KEYTERMS: usize = 100;
const KEYTERM_TOKEN_BUDGET: usize = 450;

/// The first terms of `terms` (most important first) that fit Deepgram's limits: blank and
/// repeated ones (ignoring case) are skipped.
pub(crate) fn keyterms_within_limits(terms: &[String]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    let mut tokens = 0;
    let mut kept = Vec::new();
    for term in terms.iter().map(|term| term.trim()) {
        if term.is_empty() || !seen.insert(term.to_lowercase()) {
            continue;
        }
        let cost = term.chars().count().div_ceil(3) + 1;
        if kept.len() == MAX_KEYTERMS || tokens + cost > KEYTERM_TOKEN_BUDGET {
            break;
        }
        tokens += cost;
        kept.push(term);
    }
    kept
}

fn bool_str(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// How one socket's life ended.
enum SocketEnd {
    /// `CloseStream` was answered (or timed out): the session is over.
    Closed,
    /// The socket dropped or went half-dead; reconnect.
    Dropped(ProviderError),
    /// Reconnecting cannot help (bad audio format, bad credentials).
    Fatal(ProviderError),
}

/// What handling one server frame asks the loop to do.
enum Flow {
    Continue,
    /// Flux's `Connected`: audio may flow now.
    Connected,
    End(SocketEnd),
}

struct Driver {
    config: Arc<DeepgramSttConfig>,
    url: Url,
    commands_rx: mpsc::Receiver<SttCommand>,
    /// False once the handle side is gone, so `select!` stops polling a finished channel.
    commands_open: bool,
    events_tx: mpsc::Sender<SttEvent>,
    audio: AudioLog,
    /// Session time (seconds) of the first byte the current socket received; added to its times.
    origin_s: f64,
    /// A `Finalize` asked for while no socket was up; sent after the replay.
    finalize_pending: bool,
    /// `Close` was asked for (or the handle dropped): send `CloseStream` on the next socket.
    closing: bool,
    /// Consecutive failed reconnects; reset by transcription traffic or by a socket that stayed up
    /// for `stable_after`, so a server that accepts and then drops every socket is given up on.
    n_failed_attempts: u32,
    /// Flux's turn state; `None` on `/v1/listen`.
    flux: Option<FluxTurn>,
    /// Flux: caller audio gathered into an 80 ms chunk.
    chunk: BytesMut,
}

impl Driver {
    async fn run(mut self, first: Socket) {
        let mut next = Some(first);
        let mut lost = ProviderError::Closed;
        let mut resumed = false;
        let outcome = loop {
            let socket = match next.take() {
                Some(socket) => socket,
                None => match self.reconnect(lost.clone()).await {
                    Ok(socket) => socket,
                    Err(err) => break Err(err),
                },
            };
            let opened_at = Instant::now();
            match self.serve(socket, resumed).await {
                SocketEnd::Closed => break Ok(()),
                SocketEnd::Fatal(err) => break Err(err),
                SocketEnd::Dropped(reason) => {
                    if self.closing && !self.commands_open && self.audio.is_empty() {
                        // Nothing left to transcribe and nobody to send more: do not reconnect.
                        break Ok(());
                    }
                    if opened_at.elapsed() >= self.config.reconnect.stable_after {
                        self.n_failed_attempts = 0;
                    }
                    warn!(error = %reason, "deepgram stt socket lost, reconnecting");
                    lost = reason.clone();
                    self.emit(SttEvent::Reconnecting { reason, at: now() })
                        .await;
                    resumed = true;
                }
            }
        };
        if let Some(turn) = &mut self.flux
            && let Some(last) = turn.on_close(self.origin_s, now())
        {
            debug!("flux closed without an end of turn; its last words are final");
            let _ = self.events_tx.send(last).await;
        }
        if let Err(error) = outcome {
            warn!(%error, "deepgram stt session failed");
            self.emit(SttEvent::Error { error, at: now() }).await;
        }
        if self.audio.n_dropped_unsent > 0 {
            warn!(
                dropped_bytes = self.audio.n_dropped_unsent,
                "caller audio dropped while deepgram was unreachable"
            );
        }
        info!("deepgram stt session closed");
        self.emit(SttEvent::Closed { at: now() }).await;
    }

    /// Runs one socket until it closes, drops or fails.
    async fn serve(&mut self, mut socket: Socket, resumed: bool) -> SocketEnd {
        let config = Arc::clone(&self.config);
        let send_timeout = config.half_dead_timeout;

        // Replay audio the previous socket never finalized plus what arrived meanwhile. Flux takes
        // audio only after its `Connected`.
        let origin = self.audio.rewind();
        self.origin_s = origin as f64 / BYTES_PER_SECOND;
        if let Some(turn) = &mut self.flux {
            turn.connected = false;
            turn.words.clear();
            // A forced end the old socket never answered is asked for again.
            if std::mem::take(&mut turn.forced) {
                self.finalize_pending = true;
            }
        }
        let mut ready = self.flux.is_none();
        let mut n_replayed = 0usize;
        if ready {
            match self.send_backlog(&mut socket).await {
                Ok(n) => n_replayed = n,
                Err(err) => return SocketEnd::Dropped(err),
            }
        }
        if resumed {
            info!(
                n_replayed,
                origin_s = self.origin_s,
                "deepgram stt reconnected"
            );
            self.emit(SttEvent::Reconnected { at: now() }).await;
        }
        if self.closing {
            return self.close_stream(socket).await;
        }

        let mut last_audio_at = (n_replayed > 0).then(Instant::now);
        // When the first audio nobody has answered yet was sent: the half-dead clock.
        let mut unanswered_since = last_audio_at;
        // Flux gets audio all the time on a phone call and documents no `KeepAlive`.
        let keepalive_interval = self.flux.is_none().then_some(config.keepalive_interval);
        let keepalive = move |from: Instant| keepalive_interval.map(|every| from + every);
        let mut keepalive_at = keepalive(Instant::now());
        loop {
            let half_dead_at = unanswered_since.map(|since| since + config.half_dead_timeout);
            tokio::select! {
                biased;
                frame = socket.next() => {
                    let frame = match frame {
                        Some(Ok(frame)) => frame,
                        Some(Err(err)) => return SocketEnd::Dropped(ProviderError::Connect(format!("read failed: {err}"))),
                        None => return SocketEnd::Dropped(ProviderError::Connect("socket ended".to_owned())),
                    };
                    if matches!(frame, Message::Text(_)) {
                        // Only transcription traffic proves the recogniser is alive.
                        unanswered_since = None;
                        self.n_failed_attempts = 0;
                    }
                    match self.on_frame(frame).await {
                        Flow::Continue => {}
                        Flow::End(end) => return end,
                        Flow::Connected => {
                            ready = true;
                            match self.send_backlog(&mut socket).await {
                                Ok(0) => {}
                                Ok(_) => {
                                    let sent_at = Instant::now();
                                    last_audio_at = Some(sent_at);
                                    unanswered_since.get_or_insert(sent_at);
                                }
                                Err(err) => return SocketEnd::Dropped(err),
                            }
                        }
                    }
                }
                command = self.commands_rx.recv(), if self.commands_open => match command {
                    Some(SttCommand::Audio(mulaw)) => {
                        if mulaw.is_empty() {
                            // A zero-length binary frame is Deepgram's legacy close signal.
                            continue;
                        }
                        if !self.push_audio(mulaw) || !ready {
                            continue;
                        }
                        while let Some(chunk) = self.audio.next_unsent() {
                            if let Err(err) = socket::send(&mut socket, Message::Binary(chunk), send_timeout).await {
                                return SocketEnd::Dropped(err);
                            }
                        }
                        let sent_at = Instant::now();
                        last_audio_at = Some(sent_at);
                        unanswered_since.get_or_insert(sent_at);
                        keepalive_at = keepalive(sent_at);
                    }
                    Some(SttCommand::Finalize) => {
                        self.flush_chunk();
                        self.finalize_pending = true;
                        if ready && let Err(err) = self.send_backlog(&mut socket).await {
                            return SocketEnd::Dropped(err);
                        }
                    }
                    Some(SttCommand::Close) | None => {
                        self.commands_open = command.is_some();
                        self.closing = true;
                        return self.close_stream(socket).await;
                    }
                },
                () = socket::sleep_until(keepalive_at) => {
                    trace!("sending keepalive");
                    if let Err(err) = socket::send(&mut socket, Message::text(wire::KEEP_ALIVE), send_timeout).await {
                        return SocketEnd::Dropped(err);
                    }
                    keepalive_at = keepalive(Instant::now());
                }
                () = socket::sleep_until(half_dead_at) => {
                    let audio_flowing = last_audio_at
                        .is_some_and(|at| at.elapsed() < config.keepalive_interval);
                    if audio_flowing {
                        return SocketEnd::Dropped(ProviderError::Timeout(format!(
                            "no message from deepgram for {} ms while audio was flowing",
                            config.half_dead_timeout.as_millis()
                        )));
                    }
                    // The caller went quiet (no audio): silence from the server proves nothing.
                    unanswered_since = None;
                }
            }
        }
    }

    /// Sends `CloseStream` and waits (bounded) for the last results, `Metadata` and the close.
    async fn close_stream(&mut self, mut socket: Socket) -> SocketEnd {
        let send_timeout = self.config.half_dead_timeout;
        self.flush_chunk();
        if self.flux.as_ref().is_none_or(|turn| turn.connected) {
            while let Some(chunk) = self.audio.next_unsent() {
                if let Err(error) =
                    socket::send(&mut socket, Message::Binary(chunk), send_timeout).await
                {
                    warn!(%error, "could not send the last audio; the last transcript may be lost");
                    return SocketEnd::Closed;
                }
            }
        }
        debug!("sending closestream");
        if let Err(error) =
            socket::send(&mut socket, Message::text(wire::CLOSE_STREAM), send_timeout).await
        {
            warn!(%error, "could not send closestream; the last transcript may be lost");
            return SocketEnd::Closed;
        }
        let deadline = Instant::now() + self.config.close_timeout;
        loop {
            tokio::select! {
                frame = socket.next() => match frame {
                    Some(Ok(Message::Close(_))) | None => return SocketEnd::Closed,
                    Some(Ok(frame)) => match self.on_frame(frame).await {
                        Flow::End(SocketEnd::Fatal(err)) => return SocketEnd::Fatal(err),
                        Flow::End(_) => return SocketEnd::Closed,
                        Flow::Continue | Flow::Connected => {}
                    },
                    Some(Err(error)) => {
                        debug!(%error, "socket error while closing");
                        return SocketEnd::Closed;
                    }
                },
                () = tokio::time::sleep_until(deadline) => {
                    warn!(
                        close_timeout_ms = self.config.close_timeout.as_millis(),
                        "deepgram did not close the stream in time"
                    );
                    return SocketEnd::Closed;
                }
            }
        }
    }

    async fn on_frame(&mut self, frame: Message) -> Flow {
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(close) => {
                let (reason, retry) = socket::close_reason(close.as_ref());
                return Flow::End(if retry {
                    SocketEnd::Dropped(reason)
                } else {
                    SocketEnd::Fatal(reason)
                });
            }
            Message::Binary(bytes) => {
                debug!(
                    len = bytes.len(),
                    "unexpected binary frame from deepgram stt, skipped"
                );
                return Flow::Continue;
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Flow::Continue,
        };
        let at = now();
        if self.flux.is_some() {
            return self.on_flux_text(text.as_str(), at).await;
        }
        let message = match wire::parse_listen(text.as_str()) {
            Ok(message) => message,
            Err(err) => {
                warn!(error = %err, "malformed message from deepgram stt, skipped");
                let error = ProviderError::Protocol(format!("malformed message: {err}"));
                self.emit(SttEvent::Error { error, at }).await;
                return Flow::Continue;
            }
        };
        match message {
            ListenMessage::Results(results) => {
                if results.is_final {
                    let end_s = results.start + results.duration;
                    self.audio.finalized_up_to(self.to_session_offset(end_s));
                }
                let (text, confidence) = results.best();
                trace!(
                    is_final = results.is_final,
                    speech_final = results.speech_final,
                    "results"
                );
                self.emit(SttEvent::Transcript(Transcript {
                    text,
                    is_final: results.is_final,
                    speech_final: results.speech_final,
                    from_finalize: results.from_finalize,
                    confidence,
                    start_s: self.origin_s + results.start,
                    duration_s: results.duration,
                    at,
                }))
                .await;
            }
            ListenMessage::SpeechStarted { timestamp } => {
                self.emit(SttEvent::SpeechStarted {
                    timestamp_s: self.origin_s + timestamp,
                    at,
                })
                .await;
            }
            ListenMessage::UtteranceEnd { last_word_end } => {
                let last_word_end_s = self.origin_s + last_word_end;
                self.emit(SttEvent::UtteranceEnd {
                    last_word_end_s,
                    at,
                })
                .await;
            }
            ListenMessage::Metadata {
                request_id,
                duration,
            } => {
                debug!(request_id, duration_s = duration, "deepgram stt metadata");
            }
            ListenMessage::Error { description } => {
                warn!(%description, "deepgram stt reported an error");
                self.emit(SttEvent::Error {
                    error: ProviderError::Vendor(description),
                    at,
                })
                .await;
            }
            ListenMessage::Unknown { kind } => {
                debug!(%kind, "unknown deepgram stt message, skipped");
            }
        }
        Flow::Continue
    }

    async fn on_flux_text(&mut self, text: &str, at: std::time::Instant) -> Flow {
        let message = match wire::parse_flux(text) {
            Ok(message) => message,
            Err(err) => {
                warn!(error = %err, "malformed message from deepgram flux, skipped");
                let error = ProviderError::Protocol(format!("malformed message: {err}"));
                self.emit(SttEvent::Error { error, at }).await;
                return Flow::Continue;
            }
        };
        let origin_s = self.origin_s;
        let Some(turn) = self.flux.as_mut() else {
            return Flow::Continue;
        };
        match message {
            FluxMessage::Connected { request_id } => {
                debug!(request_id, "deepgram flux connected");
                turn.connected = true;
                return Flow::Connected;
            }
            FluxMessage::TurnInfo(info) => {
                trace!(event = ?info.event, turn_index = info.turn_index, "turn info");
                let end_s =
                    (info.event == wire::FluxEvent::EndOfTurn).then_some(info.audio_window_end);
                let events = turn.on_turn_info(info, origin_s, at);
                if let Some(end_s) = end_s {
                    self.audio.finalized_up_to(self.to_session_offset(end_s));
                }
                for event in events {
                    self.emit(event).await;
                }
            }
            FluxMessage::ConfigureSuccess => debug!("deepgram flux configured"),
            FluxMessage::ConfigureFailure { description } => {
                warn!(%description, "deepgram flux refused a configuration");
            }
            FluxMessage::Error { description } => {
                warn!(%description, "deepgram flux reported an error");
                self.emit(SttEvent::Error {
                    error: ProviderError::Vendor(description),
                    at,
                })
                .await;
            }
            FluxMessage::Unknown { kind } => {
                debug!(%kind, "unknown deepgram flux message, skipped")
            }
        }
        Flow::Continue
    }

    /// Keeps caller audio for sending. Flux gathers it into 80 ms chunks: returns whether a chunk
    /// is ready to send.
    fn push_audio(&mut self, mulaw: Bytes) -> bool {
        if self.flux.is_none() {
            self.audio.push(mulaw);
            return true;
        }
        self.chunk.extend_from_slice(&mulaw);
        if self.chunk.len() < flux::CHUNK_BYTES {
            return false;
        }
        let chunk = self.chunk.split().freeze();
        self.audio.push(chunk);
        true
    }

    /// Flux: a part-filled chunk goes out now (before a forced end of turn or the close).
    fn flush_chunk(&mut self) {
        if !self.chunk.is_empty() {
            let chunk = self.chunk.split().freeze();
            self.audio.push(chunk);
        }
    }

    /// Sends the audio the socket has not received, then a `Finalize` (`ForceEndTurn` on Flux)
    /// asked for meanwhile. Returns how many chunks went out.
    async fn send_backlog(&mut self, socket: &mut Socket) -> Result<usize, ProviderError> {
        let send_timeout = self.config.half_dead_timeout;
        let mut n_sent = 0;
        while let Some(chunk) = self.audio.next_unsent() {
            socket::send(socket, Message::Binary(chunk), send_timeout).await?;
            n_sent += 1;
        }
        if self.finalize_pending {
            let (message, name) = match &self.flux {
                Some(_) => (wire::FORCE_END_TURN, "forceendturn"),
                None => (wire::FINALIZE, "finalize"),
            };
            debug!("sending {name}");
            socket::send(socket, Message::text(message), send_timeout).await?;
            self.finalize_pending = false;
            if let Some(turn) = &mut self.flux {
                turn.forced = true;
            }
        }
        Ok(n_sent)
    }

    /// Opens a new socket with backoff, buffering the caller's audio meanwhile.
    async fn reconnect(&mut self, lost: ProviderError) -> Result<Socket, ProviderError> {
        let config = Arc::clone(&self.config);
        let url = self.url.clone();
        let socket = socket::reconnect(
            self,
            &url,
            &config.api_key,
            config.connect_timeout,
            &config.reconnect,
            lost,
        )
        .await?;
        // Buffering never stops the attempts: the audio is replayed on the new socket.
        socket.ok_or(ProviderError::Closed)
    }

    /// Handles a command while no socket is up.
    fn buffer(&mut self, command: Option<SttCommand>) {
        match command {
            Some(SttCommand::Audio(mulaw)) if !mulaw.is_empty() => {
                self.push_audio(mulaw);
            }
            Some(SttCommand::Audio(_)) => {}
            Some(SttCommand::Finalize) => self.finalize_pending = true,
            Some(SttCommand::Close) => self.closing = true,
            None => {
                self.commands_open = false;
                self.closing = true;
            }
        }
    }

    fn to_session_offset(&self, socket_time_s: f64) -> u64 {
        ((self.origin_s + socket_time_s) * BYTES_PER_SECOND)
            .round()
            .max(0.0) as u64
    }

    async fn emit(&self, event: SttEvent) {
        // A dropped receiver means nobody listens any more; the driver still closes cleanly.
        let _ = self.events_tx.send(event).await;
    }
}

fn now() -> std::time::Instant {
    std::time::Instant::now()
}

impl socket::Reconnecting for Driver {
    type Command = SttCommand;
    const WHAT: &'static str = "deepgram stt";

    fn commands(&mut self) -> Option<&mut mpsc::Receiver<SttCommand>> {
        self.commands_open.then_some(&mut self.commands_rx)
    }

    fn failed_attempts(&mut self) -> &mut u32 {
        &mut self.n_failed_attempts
    }

    async fn while_reconnecting(&mut self, command: Option<SttCommand>) -> bool {
        self.buffer(command);
        true
    }
}

/// Caller audio not yet covered by a final transcript, kept for replay after a reconnect.
///
/// Offsets are byte positions in the session's audio (8000 bytes = 1 s), counted across sockets.
#[derive(Debug)]
pub(crate) struct AudioLog {
    /// Oldest first. `chunks[..n_sent]` went to the current socket; the rest wait for one.
    chunks: VecDeque<(u64, Bytes)>,
    n_sent: usize,
    n_bytes: usize,
    max_bytes: usize,
    /// Session offset just past the newest chunk.
    end_offset: u64,
    /// Bytes dropped before any socket got them (the bound was hit while reconnecting).
    pub(crate) n_dropped_unsent: u64,
}

impl AudioLog {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            chunks: VecDeque::new(),
            n_sent: 0,
            n_bytes: 0,
            max_bytes,
            end_offset: 0,
            n_dropped_unsent: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Appends audio, dropping the oldest beyond the bound. Dropping audio the current socket
    /// already has only narrows the replay window; dropping unsent audio loses it, so it is counted.
    pub(crate) fn push(&mut self, mulaw: Bytes) {
        let len = mulaw.len();
        self.chunks.push_back((self.end_offset, mulaw));
        self.end_offset += len as u64;
        self.n_bytes += len;
        while self.n_bytes > self.max_bytes && self.chunks.len() > 1 {
            let Some((_, oldest)) = self.chunks.pop_front() else {
                break;
            };
            self.n_bytes -= oldest.len();
            if self.n_sent > 0 {
                self.n_sent -= 1;
            } else {
                if self.n_dropped_unsent == 0 {
                    warn!(
                        max_bytes = self.max_bytes,
                        "stt replay buffer full, dropping the oldest caller audio"
                    );
                }
                self.n_dropped_unsent += oldest.len() as u64;
            }
        }
    }

    /// The next chunk the current socket has not received, marking it sent.
    pub(crate) fn next_unsent(&mut self) -> Option<Bytes> {
        let (_, chunk) = self.chunks.get(self.n_sent)?;
        self.n_sent += 1;
        Some(chunk.clone())
    }

    /// Forgets audio wholly before `offset` (a final result covered it).
    pub(crate) fn finalized_up_to(&mut self, offset: u64) {
        while let Some((start, chunk)) = self.chunks.front() {
            if start + chunk.len() as u64 > offset || self.n_sent == 0 {
                break;
            }
            self.n_bytes -= chunk.len();
            self.chunks.pop_front();
            self.n_sent -= 1;
        }
    }

    /// Starts a new socket: everything kept becomes unsent. Returns the session offset of the
    /// first byte the new socket will receive.
    pub(crate) fn rewind(&mut self) -> u64 {
        self.n_sent = 0;
        self.chunks
            .front()
            .map_or(self.end_offset, |(start, _)| *start)
    }
}

#[cfg(test)]
mod tests;
