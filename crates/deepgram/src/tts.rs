//! `TextToSpeech` over Deepgram Aura `/v1/speak` (docs/protocols.md section 6).
//!
//! The driver owns the socket and runs one `select!` loop over the caller's commands, the socket,
//! and the flush rate limiter. Nothing is spawned.
//!
//! - **Flush rate limit** (6.4, 20 per 60 s): a `Flush` the window does not allow is deferred, and
//!   further flushes while one is deferred join it, so one `Flush` on the wire may answer several
//!   caller flushes; each caller flush still gets exactly one `TtsEvent::Flushed`.
//! - **Clear** (6.6, barge-in): audio is dropped from the moment `Clear` is sent until `Cleared`
//!   arrives, so nothing synthesised for the old text leaks out. Flushes cleared away get no
//!   `Flushed`: `Cleared` supersedes them.
//! - **Reconnect**: text not yet flushed is re-sent, and so is every flushed group whose audio had
//!   not started. A group whose audio had started is not re-sent (the caller would hear its start
//!   twice): it is answered with `Flushed` after `Reconnecting`, and the caller hears it cut short.
//! - **Close**: sends `Close`, delivers the remaining audio, and after a clean server close answers
//!   any flushes still open (Close flushes everything).

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use providers::{
    ProviderError, TextToSpeech, TtsCommand, TtsEvent, TtsHandle, TtsOptions, TtsSession,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tracing::{Instrument, debug, info, info_span, trace, warn};
use url::Url;

use crate::DeepgramTtsConfig;
use crate::socket::{self, Socket};
use crate::wire::{self, SpeakMessage};

/// Deepgram Aura streaming text-to-speech. One instance serves every call.
#[derive(Debug, Clone)]
pub struct DeepgramTts {
    config: Arc<DeepgramTtsConfig>,
}

impl DeepgramTts {
    /// A client with these settings.
    pub fn new(config: DeepgramTtsConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    /// The full `/v1/speak` URL for `voice` (the configured model when `None`).
    pub fn speak_url(&self, voice: Option<&str>) -> Url {
        let mut url = self.config.url.clone();
        url.query_pairs_mut()
            .append_pair("model", voice.unwrap_or(&self.config.model))
            .append_pair("encoding", "mulaw")
            .append_pair("sample_rate", "8000");
        url
    }
}

#[async_trait]
impl TextToSpeech for DeepgramTts {
    async fn connect(&self, options: TtsOptions) -> Result<TtsSession, ProviderError> {
        let span = info_span!("deepgram_tts", call_id = %options.call_id);
        let url = self.speak_url(options.voice.as_deref());
        let socket = socket::open(&url, &self.config.api_key, self.config.connect_timeout)
            .instrument(span.clone())
            .await?;
        let (commands_tx, commands_rx) = mpsc::channel(self.config.command_queue_len.max(1));
        let (events_tx, events_rx) = mpsc::channel(self.config.event_queue_len.max(1));
        let driver = Driver {
            config: Arc::clone(&self.config),
            url,
            commands_rx,
            events_tx,
            open_texts: Vec::new(),
            deferred_flushes: 0,
            in_flight: VecDeque::new(),
            flush_times: VecDeque::new(),
            awaiting_cleared: 0,
            cleared_deadline: None,
            n_dropped_audio_bytes: 0,
            n_failed_attempts: 0,
        };
        Ok(TtsSession {
            handle: TtsHandle::new(commands_tx),
            events: events_rx,
            driver: driver.run(socket).instrument(span).boxed(),
        })
    }

    fn name(&self) -> &'static str {
        "deepgram"
    }
}

/// Text covered by one `Flush` on the wire, waiting for its `Flushed`.
#[derive(Debug)]
struct FlushGroup {
    texts: Vec<String>,
    /// Caller flushes this wire flush answers.
    n_caller_flushes: u32,
    /// Audio arrived for this group (it is the oldest open one when audio arrives).
    audio_started: bool,
    /// A `Clear` was sent after this flush: its `Flushed`, if any, is not passed on.
    cleared: bool,
}

/// How one socket's life ended.
enum SocketEnd {
    /// `Close` was sent and the server closed (`clean`) or the wait timed out.
    Closed { clean: bool },
    /// The socket dropped; reconnect.
    Dropped(ProviderError),
    /// Reconnecting cannot help.
    Fatal(ProviderError),
}

struct Driver {
    config: Arc<DeepgramTtsConfig>,
    url: Url,
    commands_rx: mpsc::Receiver<TtsCommand>,
    events_tx: mpsc::Sender<TtsEvent>,
    /// Text sent with `Speak` (or waiting for a socket) that no `Flush` covers yet.
    open_texts: Vec<String>,
    /// Caller flushes the rate limiter held back; all of `open_texts` belongs to them.
    deferred_flushes: u32,
    /// Wire flushes awaiting `Flushed`, oldest first.
    in_flight: VecDeque<FlushGroup>,
    /// When recent `Flush` messages were sent, for the sliding-window limit.
    flush_times: VecDeque<Instant>,
    /// `Clear`s sent whose `Cleared` has not arrived; audio is dropped while this is non-zero.
    awaiting_cleared: u32,
    /// When to stop waiting for `Cleared` (set while `awaiting_cleared > 0`).
    cleared_deadline: Option<Instant>,
    n_dropped_audio_bytes: u64,
    /// Consecutive failed reconnects; reset by data from the server or by a socket that stayed up
    /// for `stable_after`.
    n_failed_attempts: u32,
}

impl Driver {
    async fn run(mut self, first: Socket) {
        let mut next = Some(first);
        let mut lost = ProviderError::Closed;
        let outcome = loop {
            let socket = match next.take() {
                Some(socket) => socket,
                None => match self.reconnect(lost.clone()).await {
                    Ok(Some(socket)) => socket,
                    Ok(None) => break Ok(()),
                    Err(err) => break Err(err),
                },
            };
            let opened_at = Instant::now();
            match self.serve(socket).await {
                SocketEnd::Closed { clean } => {
                    if clean {
                        self.answer_open_flushes().await;
                    }
                    break Ok(());
                }
                SocketEnd::Fatal(err) => break Err(err),
                SocketEnd::Dropped(reason) => {
                    if opened_at.elapsed() >= self.config.reconnect.stable_after {
                        self.n_failed_attempts = 0;
                    }
                    warn!(error = %reason, "deepgram tts socket lost, reconnecting");
                    lost = reason.clone();
                    self.emit(TtsEvent::Reconnecting { reason, at: now() })
                        .await;
                    self.prepare_resend().await;
                }
            }
        };
        if let Err(error) = outcome {
            warn!(%error, "deepgram tts session failed");
            self.emit(TtsEvent::Error { error, at: now() }).await;
        }
        if self.n_dropped_audio_bytes > 0 {
            debug!(
                dropped_bytes = self.n_dropped_audio_bytes,
                "stale tts audio dropped after clear"
            );
        }
        info!("deepgram tts session closed");
        self.emit(TtsEvent::Closed { at: now() }).await;
    }

    async fn serve(&mut self, mut socket: Socket) -> SocketEnd {
        let send_timeout = self.config.connect_timeout;
        // Re-send what a previous socket lost (nothing on the first socket).
        let mut frames: Vec<Message> = Vec::new();
        for group in &self.in_flight {
            frames.extend(
                group
                    .texts
                    .iter()
                    .map(|text| Message::text(wire::speak(text))),
            );
            frames.push(Message::text(wire::FLUSH));
        }
        frames.extend(
            self.open_texts
                .iter()
                .map(|text| Message::text(wire::speak(text))),
        );
        let n_resent_flushes = self.in_flight.len();
        for frame in frames {
            if let Err(err) = socket::send(&mut socket, frame, send_timeout).await {
                return SocketEnd::Dropped(err);
            }
        }
        // Re-sent flushes count against the window like any other.
        self.flush_times
            .extend(std::iter::repeat_n(Instant::now(), n_resent_flushes));
        if let Err(err) = self.try_flush(&mut socket).await {
            return SocketEnd::Dropped(err);
        }

        loop {
            let flush_ready_at = self.flush_ready_at();
            tokio::select! {
                biased;
                frame = socket.next() => {
                    let frame = match frame {
                        Some(Ok(frame)) => frame,
                        Some(Err(err)) => return SocketEnd::Dropped(ProviderError::Connect(format!("read failed: {err}"))),
                        None => return SocketEnd::Dropped(ProviderError::Connect("socket ended".to_owned())),
                    };
                    if matches!(frame, Message::Text(_) | Message::Binary(_)) {
                        self.n_failed_attempts = 0;
                    }
                    if let Some(end) = self.on_frame(frame).await {
                        return end;
                    }
                }
                command = self.commands_rx.recv() => {
                    let result = match command {
                        Some(TtsCommand::Text(text)) => {
                            let n_before = self.open_texts.len();
                            self.open_texts.extend(split_text(&text, self.config.max_speak_chars));
                            let mut result = Ok(());
                            for piece in &self.open_texts[n_before..] {
                                result = socket::send(&mut socket, Message::text(wire::speak(piece)), send_timeout).await;
                                if result.is_err() {
                                    break;
                                }
                            }
                            result
                        }
                        Some(TtsCommand::Flush) => {
                            self.deferred_flushes += 1;
                            self.try_flush(&mut socket).await
                        }
                        Some(TtsCommand::Clear) => {
                            debug!("sending clear");
                            self.forget_pending_text();
                            self.awaiting_cleared += 1;
                            self.cleared_deadline = Some(Instant::now() + self.config.clear_timeout);
                            socket::send(&mut socket, Message::text(wire::CLEAR), send_timeout).await
                        }
                        Some(TtsCommand::Close) | None => return self.close(socket).await,
                    };
                    if let Err(err) = result {
                        return SocketEnd::Dropped(err);
                    }
                }
                () = socket::sleep_until(self.cleared_deadline) => {
                    warn!(
                        clear_timeout_ms = self.config.clear_timeout.as_millis(),
                        "no cleared from deepgram tts in time, passing audio again"
                    );
                    self.settle_clears().await;
                }
                () = socket::sleep_until(flush_ready_at) => {
                    if let Err(err) = self.try_flush(&mut socket).await {
                        return SocketEnd::Dropped(err);
                    }
                }
            }
        }
    }

    /// Sends `Close` and passes on the remaining audio until the server closes (bounded).
    async fn close(&mut self, mut socket: Socket) -> SocketEnd {
        debug!("sending close");
        let send_timeout = self.config.connect_timeout;
        if let Err(error) =
            socket::send(&mut socket, Message::text(wire::CLOSE), send_timeout).await
        {
            warn!(%error, "could not send close to deepgram tts");
            return SocketEnd::Closed { clean: false };
        }
        let deadline = Instant::now() + self.config.close_timeout;
        loop {
            tokio::select! {
                frame = socket.next() => match frame {
                    Some(Ok(Message::Close(_))) | None => return SocketEnd::Closed { clean: true },
                    Some(Ok(frame)) => {
                        if let Some(SocketEnd::Fatal(err)) = self.on_frame(frame).await {
                            return SocketEnd::Fatal(err);
                        }
                    }
                    Some(Err(error)) => {
                        debug!(%error, "socket error while closing");
                        return SocketEnd::Closed { clean: false };
                    }
                },
                () = tokio::time::sleep_until(deadline) => {
                    warn!(close_timeout_ms = self.config.close_timeout.as_millis(), "deepgram tts did not close in time");
                    return SocketEnd::Closed { clean: false };
                }
            }
        }
    }

    /// Handles one server frame; `Some` ends this socket.
    async fn on_frame(&mut self, frame: Message) -> Option<SocketEnd> {
        let at = now();
        let text = match frame {
            Message::Binary(mulaw) => {
                if self.awaiting_cleared > 0 {
                    // In flight before the Clear took effect: the caller must not hear it.
                    self.n_dropped_audio_bytes += mulaw.len() as u64;
                    trace!(len = mulaw.len(), "dropping tts audio until cleared");
                } else if !mulaw.is_empty() {
                    if let Some(group) = self.in_flight.front_mut() {
                        group.audio_started = true;
                    }
                    self.emit(TtsEvent::Audio { mulaw, at }).await;
                }
                return None;
            }
            Message::Text(text) => text,
            Message::Close(close) => {
                let (reason, retry) = socket::close_reason(close.as_ref());
                return Some(if retry {
                    SocketEnd::Dropped(reason)
                } else {
                    SocketEnd::Fatal(reason)
                });
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return None,
        };
        let message = match wire::parse_speak(text.as_str()) {
            Ok(message) => message,
            Err(err) => {
                warn!(error = %err, "malformed message from deepgram tts, skipped");
                let error = ProviderError::Protocol(format!("malformed message: {err}"));
                self.emit(TtsEvent::Error { error, at }).await;
                return None;
            }
        };
        match message {
            SpeakMessage::Flushed { sequence_id } => match self.in_flight.pop_front() {
                Some(group) if !group.cleared => {
                    trace!(sequence_id, n = group.n_caller_flushes, "flushed");
                    for _ in 0..group.n_caller_flushes {
                        self.emit(TtsEvent::Flushed { at }).await;
                    }
                }
                Some(_) => trace!(sequence_id, "flushed for cleared text, skipped"),
                None => debug!(sequence_id, "flushed with no flush outstanding, skipped"),
            },
            SpeakMessage::Cleared { sequence_id } => {
                if self.awaiting_cleared == 0 {
                    debug!(sequence_id, "cleared after the clear timeout, skipped");
                    return None;
                }
                trace!(sequence_id, "cleared");
                self.awaiting_cleared -= 1;
                if self.awaiting_cleared == 0 {
                    self.cleared_deadline = None;
                    // A cleared flush that got no `Flushed` before `Cleared` never will.
                    self.in_flight.retain(|group| !group.cleared);
                }
                self.emit(TtsEvent::Cleared { at }).await;
            }
            SpeakMessage::Metadata {
                request_id,
                model_name,
            } => {
                debug!(request_id, model_name, "deepgram tts metadata");
            }
            SpeakMessage::Warning { code, description } => {
                warn!(%code, %description, "deepgram tts warning");
                let error = ProviderError::Vendor(format!("warning {code}: {description}"));
                self.emit(TtsEvent::Error { error, at }).await;
            }
            SpeakMessage::Unknown { kind } => {
                debug!(%kind, "unknown deepgram tts message, skipped")
            }
        }
        None
    }

    /// Sends one `Flush` for the deferred caller flushes, if the window allows it now.
    async fn try_flush(&mut self, socket: &mut Socket) -> Result<(), ProviderError> {
        if self.deferred_flushes == 0 {
            return Ok(());
        }
        let now = Instant::now();
        while self
            .flush_times
            .front()
            .is_some_and(|sent| now.duration_since(*sent) >= self.config.flush_window)
        {
            self.flush_times.pop_front();
        }
        if self.flush_times.len() >= self.config.flush_limit.max(1) {
            debug!(
                deferred = self.deferred_flushes,
                "flush rate limit reached, deferring flush"
            );
            return Ok(());
        }
        debug!(n_caller_flushes = self.deferred_flushes, "sending flush");
        self.flush_times.push_back(now);
        self.in_flight.push_back(FlushGroup {
            texts: std::mem::take(&mut self.open_texts),
            n_caller_flushes: std::mem::take(&mut self.deferred_flushes),
            audio_started: false,
            cleared: false,
        });
        socket::send(
            socket,
            Message::text(wire::FLUSH),
            self.config.connect_timeout,
        )
        .await
    }

    /// When the deferred flush may go out, if one is waiting.
    fn flush_ready_at(&self) -> Option<Instant> {
        if self.deferred_flushes == 0 {
            return None;
        }
        let limit = self.config.flush_limit.max(1);
        if self.flush_times.len() < limit {
            return Some(Instant::now());
        }
        let oldest_that_counts = self.flush_times.get(self.flush_times.len() - limit)?;
        Some(*oldest_that_counts + self.config.flush_window)
    }

    /// Drops text and flushes not yet spoken (on `Clear`).
    fn forget_pending_text(&mut self) {
        self.open_texts.clear();
        self.deferred_flushes = 0;
        for group in &mut self.in_flight {
            group.cleared = true;
        }
    }

    /// After a drop: settle what the dead socket owed, keep what the next one must re-send.
    async fn prepare_resend(&mut self) {
        let at = now();
        // Clears in progress took effect: the old socket's buffers are gone.
        self.settle_clears().await;
        if let Some(group) = self.in_flight.front()
            && group.audio_started
        {
            warn!("tts audio cut short by a dropped socket; not re-sending it");
            let n = group.n_caller_flushes;
            self.in_flight.pop_front();
            for _ in 0..n {
                self.emit(TtsEvent::Flushed { at }).await;
            }
        }
    }

    /// Treats every outstanding `Clear` as done: answers each with `Cleared` and lets audio through.
    async fn settle_clears(&mut self) {
        let at = now();
        self.cleared_deadline = None;
        for _ in 0..std::mem::take(&mut self.awaiting_cleared) {
            self.emit(TtsEvent::Cleared { at }).await;
        }
        self.in_flight.retain(|group| !group.cleared);
    }

    /// After `Close` was answered by a clean server close, all text has been spoken.
    async fn answer_open_flushes(&mut self) {
        let n_open: u32 = self
            .in_flight
            .drain(..)
            .filter(|group| !group.cleared)
            .map(|group| group.n_caller_flushes)
            .sum::<u32>()
            + std::mem::take(&mut self.deferred_flushes);
        let at = now();
        for _ in 0..n_open {
            self.emit(TtsEvent::Flushed { at }).await;
        }
    }

    /// Opens a new socket with backoff. Commands arriving meanwhile are queued for it; `Close` (or
    /// a dropped handle) ends the session without reconnecting (`Ok(None)`).
    async fn reconnect(&mut self, lost: ProviderError) -> Result<Option<Socket>, ProviderError> {
        let config = Arc::clone(&self.config);
        let url = self.url.clone();
        socket::reconnect(
            self,
            &url,
            &config.api_key,
            config.connect_timeout,
            &config.reconnect,
            lost,
        )
        .await
    }

    async fn emit(&self, event: TtsEvent) {
        // A dropped receiver means nobody listens any more; the driver still closes cleanly.
        let _ = self.events_tx.send(event).await;
    }
}

/// Cuts text into `Speak` messages of at most `max_chars` characters, at whitespace when there is
/// some. Empty text gives no message.
fn split_text(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut res = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max_chars {
        // Byte index just past the `max_chars`-th character.
        let limit = rest
            .char_indices()
            .nth(max_chars)
            .map_or(rest.len(), |(idx, _)| idx);
        let cut = rest[..limit]
            .rfind(char::is_whitespace)
            .filter(|&idx| idx > 0)
            .map_or(limit, |idx| {
                idx + rest[idx..].chars().next().map_or(0, char::len_utf8)
            });
        res.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        res.push(rest.to_owned());
    }
    res
}

fn now() -> std::time::Instant {
    std::time::Instant::now()
}

impl socket::Reconnecting for Driver {
    type Command = TtsCommand;
    const WHAT: &'static str = "deepgram tts";

    fn commands(&mut self) -> Option<&mut mpsc::Receiver<TtsCommand>> {
        Some(&mut self.commands_rx)
    }

    fn failed_attempts(&mut self) -> &mut u32 {
        &mut self.n_failed_attempts
    }

    /// Text and flushes wait for the new socket; a clear forgets them; close ends the session.
    async fn while_reconnecting(&mut self, command: Option<TtsCommand>) -> bool {
        match command {
            Some(TtsCommand::Text(text)) => {
                self.open_texts
                    .extend(split_text(&text, self.config.max_speak_chars));
            }
            Some(TtsCommand::Flush) => self.deferred_flushes += 1,
            Some(TtsCommand::Clear) => {
                self.forget_pending_text();
                self.in_flight.clear();
                self.emit(TtsEvent::Cleared { at: now() }).await;
            }
            Some(TtsCommand::Close) | None => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::split_text;

    #[test]
    fn long_text_is_cut_at_whitespace_within_the_limit() {
        let cases: [(&str, usize, &[&str]); 6] = [
            ("", 10, &[]),
            ("short", 10, &["short"]),
            ("exactly ten", 11, &["exactly ten"]),
            ("one two three four", 9, &["one two ", "three ", "four"]),
            ("abcdefghijkl", 5, &["abcde", "fghij", "kl"]),
            ("héllo wörld ünïcode", 7, &["héllo ", "wörld ", "ünïcode"]),
        ];
        for (text, max, expected) in cases {
            assert_eq!(split_text(text, max), expected, "{text:?} / {max}");
            assert_eq!(split_text(text, max).concat(), text);
        }
    }
}
