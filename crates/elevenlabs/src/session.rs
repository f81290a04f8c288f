//! One text-to-speech session over the `multi-stream-input` socket: the driver future and its state.
//!
//! Each reply is one ElevenLabs context. The driver keeps one open ("current") context, initialized
//! as soon as the socket opens and again right after every `Flush` or `Clear`, so text never waits
//! for an init and the keep-alive always has a context to name (docs/protocols.md 7.4 warns against
//! naming a context before its init).
//!
//! - `Text` → `{"text":"<text> ","context_id":cur}`.
//! - `Flush` → `{"text":"","context_id":cur,"flush":true}` then `{"context_id":cur,"close_context":true}`;
//!   the server ends the context with `isFinal`, which is when `TtsEvent::Flushed` is emitted. On
//!   this endpoint `isFinal` is per context (7.4), so it marks exactly the audio of that flush,
//!   whether the server sends it after the flush or after the close.
//! - `Clear` → `close_context` for the current context, forget every context, `Cleared`, new
//!   context. Audio naming a forgotten `contextId` is dropped, so nothing stale follows `Cleared`.
//! - `Close` → `{"close_socket":true}`, deliver what is left, `Closed` when the server closes.
//! - Audio is delivered in context order: audio for a later context that arrives while an earlier
//!   one is still producing is held until the earlier one's `isFinal`.
//! - A dropped socket is reopened per `ReconnectPolicy`; every unfinished context is re-created on
//!   the new socket with the text the caller has not heard yet (by the `alignment` character counts
//!   of the audio already delivered, rolled back to a word start). A socket that sends nothing for
//!   `response_timeout` while a flushed reply waits for audio is treated as dropped.
//! - An in-band error naming one of our contexts ends that context (its `Flushed` is not owed
//!   forever); other errors are reported and the close that follows triggers the reconnect.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt as _, StreamExt as _};
use providers::{ProviderError, TtsCommand, TtsEvent};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant as TokioInstant, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{debug, info, trace, warn};
use url::Url;

use crate::config::{ApiKey, ElevenLabsConfig, TextBuffering};
use crate::wire::{self, ClientMessage, Output, ServerMessage};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Commands held back while the context cap is reached; past this, the command channel is not
/// read (back-pressure on the caller) except that it fills up.
const MAX_DEFERRED_COMMANDS: usize = 256;

/// The driver's state. Only the driver touches the socket.
pub(crate) struct Session {
    config: Arc<ElevenLabsConfig>,
    url: Url,
    ws: Ws,
    commands_rx: mpsc::Receiver<TtsCommand>,
    events_tx: mpsc::Sender<TtsEvent>,
    /// Oldest first. Audio is delivered only for the front; the back may be the open context.
    contexts: VecDeque<Context>,
    /// Commands that arrived while the cap allowed no open context, replayed in order later.
    deferred: VecDeque<TtsCommand>,
    n_contexts_opened: u64,
    /// When we last wrote to the socket; the keep-alive fires `keepalive_interval` after it.
    last_sent: TokioInstant,
    /// Last sign of life from the server (any frame), or the last flush: while a flushed context
    /// waits for its audio, silence past `response_timeout` counts as a dead socket.
    progress_at: TokioInstant,
    /// Set once `close_socket` went out: the deadline for the server's close.
    closing: Option<TokioInstant>,
    /// Why the socket is unusable; the loop reconnects before doing anything else.
    broken: Option<ProviderError>,
    /// The last in-band error, used as the reason when the close that follows it arrives.
    last_vendor_error: Option<String>,
}

/// One ElevenLabs context: the text of one reply (up to one `Flush`).
#[derive(Debug)]
struct Context {
    /// The server's context id; `None` for an empty flush that needed no server round trip.
    id: Option<String>,
    state: ContextState,
    /// A `Flushed` is owed when this context completes.
    flush_requested: bool,
    /// Everything sent to this context since its init, replayed (minus what was heard) after a
    /// reconnect.
    text: String,
    /// Audio has arrived for this context (on the current socket).
    audio_seen: bool,
    /// Characters of `text` voiced so far, by the alignment data; `None` once a chunk came
    /// without alignment.
    voiced_chars: Option<usize>,
    /// Audio that arrived while an earlier context was still producing.
    held: Vec<(Bytes, Instant)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContextState {
    /// Accepting text.
    Open,
    /// `flush` and `close_context` sent; waiting for `isFinal`.
    Closing,
    /// `isFinal` received (or nothing was left to say).
    Done,
}

/// Why the loop stopped.
enum Exit {
    /// `Close` finished: the server closed the socket.
    Finished,
    /// The session cannot go on.
    Failed(ProviderError),
    /// The event receiver was dropped: nobody is listening.
    CallerGone,
}

impl Session {
    pub(crate) fn new(
        config: Arc<ElevenLabsConfig>,
        url: Url,
        ws: Ws,
        commands_rx: mpsc::Receiver<TtsCommand>,
        events_tx: mpsc::Sender<TtsEvent>,
    ) -> Self {
        Self {
            config,
            url,
            ws,
            commands_rx,
            events_tx,
            contexts: VecDeque::new(),
            deferred: VecDeque::new(),
            n_contexts_opened: 0,
            last_sent: TokioInstant::now(),
            progress_at: TokioInstant::now(),
            closing: None,
            broken: None,
            last_vendor_error: None,
        }
    }

    /// Drives the session until it is closed, fails, or the caller goes away; ends with `Closed`.
    pub(crate) async fn run(mut self) {
        let exit = match self.run_loop().await {
            Ok(never) => match never {},
            Err(exit) => exit,
        };
        match exit {
            Exit::Finished => info!("tts session closed"),
            Exit::CallerGone => debug!("tts event receiver dropped, ending session"),
            Exit::Failed(error) => {
                warn!(%error, "tts session failed");
                let _ = self
                    .events_tx
                    .send(TtsEvent::Error {
                        error,
                        at: Instant::now(),
                    })
                    .await;
            }
        }
        // Best effort: the socket may already be gone.
        let _ = timeout(self.config.connect_timeout, self.ws.close(None)).await;
        let _ = self
            .events_tx
            .send(TtsEvent::Closed { at: Instant::now() })
            .await;
    }

    async fn run_loop(&mut self) -> Result<std::convert::Infallible, Exit> {
        self.ensure_open_context().await;
        loop {
            if let Some(reason) = self.broken.take() {
                self.reconnect(reason).await?;
                continue;
            }
            while self.closing.is_none() && self.open_context_id().is_some() {
                let Some(command) = self.deferred.pop_front() else {
                    break;
                };
                self.execute(command).await?;
            }
            let accept_commands =
                self.closing.is_none() && self.deferred.len() < MAX_DEFERRED_COMMANDS;
            let keepalive_at = self.last_sent + self.config.keepalive_interval;
            let close_deadline = self.closing.unwrap_or(keepalive_at);
            let silent_at = self.progress_at + self.config.response_timeout;
            let awaiting_audio = self.closing.is_none()
                && self
                    .contexts
                    .iter()
                    .any(|c| c.state == ContextState::Closing);
            tokio::select! {
                command = self.commands_rx.recv(), if accept_commands => {
                    // A dropped handle ends the session like `Close` does.
                    self.on_command(command.unwrap_or(TtsCommand::Close)).await?;
                }
                frame = self.ws.next() => {
                    let at = Instant::now();
                    self.on_frame(frame, at).await?;
                }
                () = sleep_until(keepalive_at), if self.closing.is_none() => self.keep_alive().await,
                () = sleep_until(silent_at), if awaiting_audio => {
                    self.broken = Some(ProviderError::Timeout(format!(
                        "no reply from the server for {:?} while audio was due",
                        self.config.response_timeout
                    )));
                }
                () = sleep_until(close_deadline), if self.closing.is_some() => {
                    return Err(Exit::Failed(ProviderError::Timeout(
                        "server did not close the socket after close_socket".to_owned(),
                    )));
                }
            }
        }
    }

    /// A command from the caller.
    async fn on_command(&mut self, command: TtsCommand) -> Result<(), Exit> {
        // Text, Flush and Close keep their order behind commands deferred at the cap; Clear
        // overtakes them because it drops them anyway.
        if !matches!(command, TtsCommand::Clear) && !self.deferred.is_empty() {
            self.deferred.push_back(command);
            return Ok(());
        }
        self.execute(command).await
    }

    /// Carries out the oldest pending command, or puts it back at the head of `deferred` when
    /// the context cap leaves no open context for it.
    async fn execute(&mut self, command: TtsCommand) -> Result<(), Exit> {
        if !matches!(command, TtsCommand::Clear) && !self.ensure_open_context().await {
            // Not `?command`: reply text can hold caller details (names, plates, numbers).
            let kind = match &command {
                TtsCommand::Text(_) => "text",
                TtsCommand::Flush => "flush",
                TtsCommand::Clear => "clear",
                TtsCommand::Close => "close",
            };
            trace!(kind, "context cap reached, deferring command");
            self.deferred.push_front(command);
            return Ok(());
        }
        match command {
            TtsCommand::Text(text) => self.send_text(text).await,
            TtsCommand::Flush => self.flush().await?,
            TtsCommand::Clear => self.clear().await?,
            TtsCommand::Close => {
                debug!("closing tts session");
                self.send(ClientMessage::close_socket()).await;
                self.closing = Some(TokioInstant::now() + self.config.close_timeout);
            }
        }
        Ok(())
    }

    async fn send_text(&mut self, text: String) {
        if text.is_empty() {
            // `""` would only be a keep-alive on this endpoint.
            return;
        }
        let Some(context_id) = self.open_context_id() else {
            return;
        };
        // Each chunk should end with a single space (7.2).
        let chunk = if text.ends_with(char::is_whitespace) {
            text
        } else {
            text + " "
        };
        let try_trigger = matches!(
            self.config.buffering,
            TextBuffering::Schedule {
                try_trigger_generation: true,
                ..
            }
        );
        trace!(context_id, n_chars = chunk.chars().count(), "sending text");
        self.send(ClientMessage::text(&context_id, &chunk, try_trigger))
            .await;
        if let Some(context) = self.contexts.back_mut() {
            context.text.push_str(&chunk);
        }
    }

    async fn flush(&mut self) -> Result<(), Exit> {
        let Some(context_id) = self.open_context_id() else {
            return Ok(());
        };
        if self
            .contexts
            .back()
            .is_none_or(|c| c.text.trim().is_empty())
        {
            // Nothing to speak: owe a `Flushed` right after the earlier contexts, keep the
            // (still empty) context open, and ask the server nothing.
            let marker = Context::empty_flush();
            let idx = self.contexts.len() - 1;
            self.contexts.insert(idx, marker);
            return self.advance().await;
        }
        if !self
            .contexts
            .iter()
            .any(|c| c.state == ContextState::Closing)
        {
            // The silence clock starts now, not at the last frame of an idle socket.
            self.progress_at = TokioInstant::now();
        }
        let Some(current) = self.contexts.back_mut() else {
            return Ok(());
        };
        current.state = ContextState::Closing;
        current.flush_requested = true;
        debug!(context_id, "flushing");
        self.send(ClientMessage::flush(&context_id)).await;
        self.send(ClientMessage::close_context(&context_id)).await;
        self.ensure_open_context().await;
        Ok(())
    }

    async fn clear(&mut self) -> Result<(), Exit> {
        let open_id = self.open_context_id();
        if let Some(context_id) = open_id {
            self.send(ClientMessage::close_context(&context_id)).await;
        }
        let n_dropped = self.contexts.len();
        self.contexts.clear();
        let close_was_queued = self.deferred.contains(&TtsCommand::Close);
        self.deferred.clear();
        debug!(n_dropped, "cleared");
        self.emit(TtsEvent::Cleared { at: Instant::now() }).await?;
        if close_was_queued {
            self.deferred.push_back(TtsCommand::Close);
        }
        self.ensure_open_context().await;
        Ok(())
    }

    async fn keep_alive(&mut self) {
        match self.open_context_id() {
            Some(context_id) => {
                trace!(context_id, "keep-alive");
                self.send(ClientMessage::keep_alive(&context_id)).await;
            }
            // At the cap every context is generating; just restart the timer.
            None => self.last_sent = TokioInstant::now(),
        }
    }

    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, tungstenite::Error>>,
        at: Instant,
    ) -> Result<(), Exit> {
        self.progress_at = TokioInstant::now();
        let reason = match frame {
            Some(Ok(Message::Text(text))) => return self.on_text_frame(text.as_str(), at).await,
            Some(Ok(Message::Binary(bytes))) => {
                debug!(n_bytes = bytes.len(), "unexpected binary frame skipped");
                return Ok(());
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return Ok(()),
            Some(Ok(Message::Close(frame))) => {
                if self.closing.is_some() {
                    return self.finish_close().await;
                }
                match frame {
                    Some(frame) => {
                        format!("server closed the socket ({} {})", frame.code, frame.reason)
                    }
                    None => "server closed the socket".to_owned(),
                }
            }
            Some(Err(e)) => format!("socket error: {e}"),
            None => "socket ended".to_owned(),
        };
        if self.closing.is_some() {
            // Without the server's close we cannot tell whether all audio came: owe nothing.
            return Err(Exit::Failed(ProviderError::Connect(format!(
                "connection lost while closing: {reason}"
            ))));
        }
        // `ProviderError` has no "connection lost" variant; `Connect` is the retryable one.
        let reason = match self.last_vendor_error.take() {
            Some(vendor) => ProviderError::Vendor(format!("{vendor}; {reason}")),
            None => ProviderError::Connect(format!("connection lost: {reason}")),
        };
        self.broken = Some(reason);
        Ok(())
    }

    async fn on_text_frame(&mut self, text: &str, at: Instant) -> Result<(), Exit> {
        match wire::parse_server_message(text) {
            Ok(ServerMessage::Output(output)) => self.on_output(output, at).await,
            Ok(ServerMessage::Error(vendor)) => {
                warn!(error = %vendor.error, code = ?vendor.code, context_id = ?vendor.context_id,
                      "elevenlabs reported an error");
                let error = ProviderError::Vendor(vendor.to_string());
                self.last_vendor_error = Some(vendor.to_string());
                self.emit(TtsEvent::Error { error, at }).await?;
                // An error naming one of our contexts ends that context: no `isFinal` will come,
                // and a reply cut short must not leave its `Flushed` owed forever.
                if let Some(context) = vendor.context_id.as_deref().and_then(|id| {
                    self.contexts
                        .iter_mut()
                        .find(|c| c.id.as_deref() == Some(id))
                }) {
                    context.state = ContextState::Done;
                    self.advance().await?;
                }
                Ok(())
            }
            Ok(ServerMessage::Unknown { keys }) => {
                debug!(?keys, "unknown server message skipped");
                Ok(())
            }
            Err(e) => {
                warn!(error = %e, "malformed server message skipped");
                self.emit(TtsEvent::Error {
                    error: ProviderError::Protocol(e.to_string()),
                    at,
                })
                .await
            }
        }
    }

    async fn on_output(&mut self, output: Output, at: Instant) -> Result<(), Exit> {
        let idx = match &output.context_id {
            Some(id) => self
                .contexts
                .iter()
                .position(|c| c.id.as_deref() == Some(id)),
            // No context named (single-context style): the oldest one still producing.
            None => self
                .contexts
                .iter()
                .position(|c| c.id.is_some() && c.state != ContextState::Done),
        };
        let Some(idx) = idx else {
            trace!(context_id = ?output.context_id, "output for a cleared or finished context dropped");
            return Ok(());
        };
        if let Some(audio) = output.audio {
            let context = &mut self.contexts[idx];
            let audio = if context.audio_seen {
                audio
            } else {
                let (audio, stripped) = wire::strip_wav_header(audio);
                if stripped {
                    warn!("audio arrived with a wav header; header stripped");
                }
                audio
            };
            context.audio_seen = true;
            context.voiced_chars = match (&output.alignment, context.voiced_chars) {
                (Some(alignment), Some(n)) => {
                    trace!(n_chars = alignment.n_chars(), end_ms = ?alignment.end_ms(), "alignment");
                    Some(n + alignment.n_chars())
                }
                _ => None,
            };
            if !audio.is_empty() {
                if idx == 0 {
                    self.emit(TtsEvent::Audio { mulaw: audio, at }).await?;
                } else {
                    context.held.push((audio, at));
                }
            }
        }
        if output.is_final {
            let context = &mut self.contexts[idx];
            debug!(context_id = ?context.id, "context final");
            context.state = ContextState::Done;
            self.advance().await?;
        }
        Ok(())
    }

    /// Delivers held audio of the front context and pops finished ones, emitting owed `Flushed`.
    async fn advance(&mut self) -> Result<(), Exit> {
        while let Some(front) = self.contexts.front_mut() {
            let held = std::mem::take(&mut front.held);
            let done = front.state == ContextState::Done;
            for (mulaw, at) in held {
                self.emit(TtsEvent::Audio { mulaw, at }).await?;
            }
            if !done {
                break;
            }
            if let Some(finished) = self.contexts.pop_front()
                && finished.flush_requested
            {
                self.emit(TtsEvent::Flushed { at: Instant::now() }).await?;
            }
        }
        self.ensure_open_context().await;
        Ok(())
    }

    /// After `close_socket`, the server closed: everything it had is delivered.
    async fn finish_close(&mut self) -> Result<(), Exit> {
        while let Some(context) = self.contexts.pop_front() {
            for (mulaw, at) in context.held {
                self.emit(TtsEvent::Audio { mulaw, at }).await?;
            }
            if context.flush_requested {
                self.emit(TtsEvent::Flushed { at: Instant::now() }).await?;
            }
        }
        Err(Exit::Finished)
    }

    async fn reconnect(&mut self, reason: ProviderError) -> Result<(), Exit> {
        warn!(%reason, "tts socket dropped, reconnecting");
        self.emit(TtsEvent::Reconnecting {
            reason: reason.clone(),
            at: Instant::now(),
        })
        .await?;
        let policy = self.config.reconnect.clone();
        let mut last_error = reason;
        for attempt_idx in 0..policy.max_attempts {
            sleep(policy.backoff(attempt_idx)).await;
            match open_socket(&self.url, &self.config.api_key, self.config.connect_timeout).await {
                Ok(ws) => {
                    info!(attempt = attempt_idx + 1, "tts socket reconnected");
                    self.ws = ws;
                    self.last_vendor_error = None;
                    self.progress_at = TokioInstant::now();
                    return self.resync().await;
                }
                Err(error) if !error.is_retryable() => return Err(Exit::Failed(error)),
                Err(error) => {
                    warn!(attempt = attempt_idx + 1, %error, "tts reconnect failed");
                    last_error = error;
                }
            }
        }
        Err(Exit::Failed(last_error))
    }

    /// Re-creates every unfinished context on the new socket with the text not heard yet.
    async fn resync(&mut self) -> Result<(), Exit> {
        let old = std::mem::take(&mut self.contexts);
        for mut context in old {
            if context.id.is_none() || context.state == ContextState::Done {
                self.contexts.push_back(context);
                continue;
            }
            let rest = match (context.audio_seen, context.voiced_chars) {
                (false, _) => context.text.clone(),
                (true, Some(n_voiced)) => unvoiced_rest(&context.text, n_voiced).to_owned(),
                (true, None) => {
                    // Without alignment we cannot tell what was heard; repeating the start would
                    // be worse than losing the end.
                    let error = ProviderError::Protocol(
                        "socket dropped mid-utterance without alignment data; rest of the utterance dropped"
                            .to_owned(),
                    );
                    warn!(%error, "utterance truncated");
                    self.emit(TtsEvent::Error {
                        error,
                        at: Instant::now(),
                    })
                    .await?;
                    String::new()
                }
            };
            if rest.trim().is_empty() && context.state == ContextState::Closing {
                context.state = ContextState::Done;
                self.contexts.push_back(context);
                continue;
            }
            let id = self.next_context_id();
            self.send_init(&id).await;
            if !rest.trim().is_empty() {
                self.send(ClientMessage::text(&id, &rest, false)).await;
            }
            if context.state == ContextState::Closing {
                self.send(ClientMessage::flush(&id)).await;
                self.send(ClientMessage::close_context(&id)).await;
            }
            debug!(
                context_id = id,
                n_chars = rest.chars().count(),
                "context re-created after reconnect"
            );
            context.id = Some(id);
            context.text = rest;
            context.audio_seen = false;
            context.voiced_chars = Some(0);
            self.contexts.push_back(context);
        }
        self.advance().await
    }

    /// Makes sure there is an open context, opening one if the cap allows; `false` at the cap.
    async fn ensure_open_context(&mut self) -> bool {
        if self.open_context_id().is_some() {
            return true;
        }
        if self.closing.is_some() {
            return false;
        }
        let n_active = self
            .contexts
            .iter()
            .filter(|c| c.id.is_some() && c.state != ContextState::Done)
            .count();
        if n_active >= self.config.max_contexts {
            return false;
        }
        let id = self.next_context_id();
        self.send_init(&id).await;
        self.contexts.push_back(Context::open(id));
        true
    }

    fn open_context_id(&self) -> Option<String> {
        self.contexts
            .back()
            .filter(|c| c.state == ContextState::Open)
            .and_then(|c| c.id.clone())
    }

    fn next_context_id(&mut self) -> String {
        self.n_contexts_opened += 1;
        format!("ctx-{}", self.n_contexts_opened)
    }

    async fn send_init(&mut self, context_id: &str) {
        let config = Arc::clone(&self.config);
        trace!(context_id, "initializing context");
        self.send(ClientMessage::init(
            context_id,
            &config.voice_settings,
            &config.buffering,
        ))
        .await;
    }

    /// Writes one frame. A failure marks the socket broken; the state already reflects the
    /// message, so the reconnect replays it.
    async fn send(&mut self, message: ClientMessage<'_>) {
        self.last_sent = TokioInstant::now();
        if self.broken.is_some() {
            return;
        }
        if let Err(e) = self.ws.send(Message::text(message.to_json())).await {
            self.broken = Some(ProviderError::Connect(format!(
                "connection lost: send failed: {e}"
            )));
        }
    }

    async fn emit(&self, event: TtsEvent) -> Result<(), Exit> {
        self.events_tx
            .send(event)
            .await
            .map_err(|_| Exit::CallerGone)
    }
}

impl Context {
    fn open(id: String) -> Self {
        Self {
            id: Some(id),
            state: ContextState::Open,
            flush_requested: false,
            text: String::new(),
            audio_seen: false,
            voiced_chars: Some(0),
            held: Vec::new(),
        }
    }

    fn empty_flush() -> Self {
        Self {
            id: None,
            state: ContextState::Done,
            flush_requested: true,
            ..Self::open(String::new())
        }
    }
}

/// Opens the socket: `xi-api-key` header (marked sensitive), bounded by `connect_timeout`.
pub(crate) async fn open_socket(
    url: &Url,
    api_key: &ApiKey,
    connect_timeout: Duration,
) -> Result<Ws, ProviderError> {
    if url.scheme() == "wss" {
        ensure_crypto_provider();
    }
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ProviderError::Connect(format!("bad url: {e}")))?;
    let mut key = HeaderValue::from_str(api_key.expose())
        .map_err(|_| ProviderError::Auth("api key is not a valid header value".to_owned()))?;
    key.set_sensitive(true);
    request.headers_mut().insert("xi-api-key", key);
    // Nagle off (small JSON writes must not wait for delayed ACKs) and an 8 KiB read buffer
    // (tungstenite zero-fills its whole read buffer, 128 KiB by default, on every read attempt).
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024);
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match timeout(connect_timeout, connect).await {
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(e)) => Err(handshake_error(e)),
        Err(_) => Err(ProviderError::Timeout(format!(
            "connect took over {connect_timeout:?}"
        ))),
    }
}

/// tokio-tungstenite builds its rustls config from the process-default crypto provider and panics
/// when there is none, or when rustls cannot pick one because both ring and aws-lc-rs are compiled
/// in (docs/dependencies.md, section 3). Install ring unless the binary already chose a provider.
fn ensure_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // An `Err` means another thread installed one first, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

fn handshake_error(error: tungstenite::Error) -> ProviderError {
    let tungstenite::Error::Http(response) = error else {
        return ProviderError::Connect(error.to_string());
    };
    let status = response.status().as_u16();
    let message: String = response
        .body()
        .as_deref()
        .map(|body| String::from_utf8_lossy(body).chars().take(300).collect())
        .unwrap_or_default();
    match status {
        401 | 403 => ProviderError::Auth(format!("handshake refused with {status}: {message}")),
        429 => ProviderError::RateLimited {
            retry_after: response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        _ => ProviderError::Http { status, message },
    }
}

/// The part of `text` after its first `n_voiced` characters, rolled back to the start of a word
/// the cut falls into (better to repeat half a word than to skip one).
fn unvoiced_rest(text: &str, n_voiced: usize) -> &str {
    let Some((cut, _)) = text.char_indices().nth(n_voiced) else {
        return "";
    };
    let before = &text[..cut];
    let starts_mid_word = !text[cut..].starts_with(char::is_whitespace)
        && before
            .chars()
            .next_back()
            .is_some_and(|c| !c.is_whitespace());
    let start = if starts_mid_word {
        before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        })
    } else {
        cut
    };
    text[start..].trim_start()
}
