//! A call in text, for `voice-gateway chat` and the console's "try it" panel: the real
//! `run_call` (conversation manager, CRM tools, prompt, session, call record, escalation) with
//! only the audio left out.
//!
//! - The caller's typed lines reach the pipeline as final transcripts from `TypedSpeech`, a
//!   `SpeechToText` that hears no audio.
//! - The agent's words are shown from the call's observer once each reply's text is complete
//!   (`CallEvent::Agent`, what history keeps); `TextVoice`, the `TextToSpeech` of a text call,
//!   answers each piece of text with one frame of silence so playback, marks and history work as
//!   on the phone.
//! - A text phone plays Twilio's part on a channel `PhoneLink`: `connected`, `start` with the
//!   caller's parameters (`From`, or `direction`/`To`/`call_type` for an outbound flow), every
//!   mark echoed at once (shown text counts as heard), and `stop` when the caller leaves or
//!   the agent transfers or hangs up (`TextControl`, the call control of a text call).
//!
//! Frames are Twilio's own (`twilio::media`), so nothing here writes Twilio's JSON by hand.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use providers::{
    ProviderError, SpeechToText, SttCommand, SttEvent, SttHandle, SttOptions, SttSession,
    TextToSpeech, Transcript, TtsCommand, TtsEvent, TtsHandle, TtsOptions, TtsSession,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use twilio::{
    AccountSid, CallSid, StreamSid,
    media::{self, Inbound, MediaFormat, Outbound, Track},
};

use crate::{
    CallDeps, CallOutcome, PhoneLink, PipelineConfig,
    ports::{CallControl, CallEvent, CallObserver, PortError},
    run_call,
};

/// The account SID a text call's frames carry (no Twilio account is involved).
const TEXT_ACCOUNT: &str = "AC00000000000000000000000000000000";

/// What the person at the keyboard sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextEvent {
    /// A reply or line of the agent, whole, once its text is complete.
    Agent(String),
    /// The agent's turn is over (played, or cut short): the caller has the floor.
    Listening,
    /// The conversation moved (after a caller turn or a tool result).
    Conversation {
        /// State, snake_case.
        state: String,
        /// Intent, snake_case.
        intent: Option<String>,
    },
    /// The agent handed the call to a service advisor; the text call ends.
    Transferred,
    /// The agent ended the call.
    HungUp,
}

/// The keyboard side of a text call.
pub struct TextCaller {
    /// Each line is one caller turn; dropping it hangs up.
    pub lines: mpsc::Sender<String>,
    /// What the agent says and does.
    pub events: mpsc::UnboundedReceiver<TextEvent>,
}

/// A text call before it runs: its speech providers and call control go into the `CallDeps`.
pub struct TextCall {
    call_sid: CallSid,
    stream_sid: StreamSid,
    parameters: HashMap<String, String>,
    speech: Arc<TypedSpeech>,
    voice: Arc<TextVoice>,
    control: Arc<TextControl>,
    observer: Arc<TextObserver>,
    lines: mpsc::Receiver<String>,
    hang_up: watch::Receiver<bool>,
}

impl TextCall {
    /// A text call `call_sid` (the record's key) with the stream's `<Parameter>`s as Twilio
    /// would send them: `From` for an inbound caller, or `direction=outbound-api`, `To`,
    /// `call_type` and what the call is about for an outbound one (see `outbound.rs`).
    pub fn new(call_sid: &str, parameters: HashMap<String, String>) -> (TextCall, TextCaller) {
        let (lines_tx, lines_rx) = mpsc::channel(16);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (hang_up_tx, hang_up_rx) = watch::channel(false);
        let (speech_tx, speech_rx) = mpsc::channel(16);
        let call = TextCall {
            call_sid: CallSid::from_wire(call_sid),
            stream_sid: StreamSid::from_wire(format!("MZ{}", &call_sid[2.min(call_sid.len())..])),
            parameters,
            speech: Arc::new(TypedSpeech {
                lines: Mutex::new(Some(speech_rx)),
                feed: speech_tx,
            }),
            voice: Arc::new(TextVoice),
            control: Arc::new(TextControl {
                events: events_tx.clone(),
                hang_up: hang_up_tx,
            }),
            observer: Arc::new(TextObserver { events: events_tx }),
            lines: lines_rx,
            hang_up: hang_up_rx,
        };
        (
            call,
            TextCaller {
                lines: lines_tx,
                events: events_rx,
            },
        )
    }

    /// The recogniser of typed lines.
    pub fn speech_to_text(&self) -> Arc<dyn SpeechToText> {
        self.speech.clone()
    }

    /// The voice that shows the agent's words.
    pub fn text_to_speech(&self) -> Arc<dyn TextToSpeech> {
        self.voice.clone()
    }

    /// Shows the agent's replies and the conversation's moves.
    pub fn observer(&self) -> Arc<dyn CallObserver> {
        self.observer.clone()
    }

    /// Transfers and hang-ups that end the text call.
    pub fn call_control(&self) -> Arc<dyn CallControl> {
        self.control.clone()
    }

    /// Runs the call to its end: `deps` should hold this call's `speech_to_text`,
    /// `text_to_speech`, `call_control` and `observer`, and no admission (there is no webhook).
    pub async fn run(
        self,
        deps: CallDeps,
        config: Arc<PipelineConfig>,
        shutdown: &CancellationToken,
    ) -> CallOutcome {
        let (link, inbound_tx, outbound_rx) = PhoneLink::channel(256);
        let start = Inbound::Start(media::Start {
            sequence_number: 1,
            stream_sid: self.stream_sid.clone(),
            account_sid: AccountSid::from_wire(TEXT_ACCOUNT),
            call_sid: self.call_sid.clone(),
            tracks: vec![Track::Inbound],
            custom_parameters: self.parameters.clone(),
            media_format: MediaFormat {
                encoding: MediaFormat::MULAW.to_owned(),
                sample_rate_hz: 8000,
                channels: 1,
            },
        });
        let phone = text_phone(
            self.stream_sid.clone(),
            self.call_sid.clone(),
            start,
            self.lines,
            self.speech.feed.clone(),
            self.hang_up,
            inbound_tx,
            outbound_rx,
        );
        let (outcome, ()) = tokio::join!(run_call(link, deps, config, shutdown), phone);
        outcome
    }
}

/// Twilio's part: `connected` and `start`, the caller's lines to the recogniser, marks echoed
/// at once, and `stop` when the caller leaves or the agent ends the call.
#[allow(clippy::too_many_arguments)]
async fn text_phone(
    stream_sid: StreamSid,
    call_sid: CallSid,
    start: Inbound,
    mut lines: mpsc::Receiver<String>,
    speech: mpsc::Sender<String>,
    mut hang_up: watch::Receiver<bool>,
    inbound: mpsc::Sender<String>,
    mut outbound: mpsc::Receiver<String>,
) {
    let connected = Inbound::Connected {
        protocol: "Call".to_owned(),
        version: "1.0.0".to_owned(),
    };
    let mut sequence = 2;
    if inbound.send(connected.encode(&stream_sid)).await.is_err()
        || inbound.send(start.encode(&stream_sid)).await.is_err()
    {
        return;
    }
    let mut stopped = false;
    loop {
        tokio::select! {
            frame = outbound.recv() => {
                // The gateway closed the stream: the call is over.
                let Some(frame) = frame else { return };
                if let Ok(Outbound::Mark { name, .. }) = media::decode_outbound(&frame) {
                    sequence += 1;
                    let echo = Inbound::Mark(media::Mark { sequence_number: sequence, name });
                    if inbound.send(echo.encode(&stream_sid)).await.is_err() {
                        return;
                    }
                }
            }
            line = lines.recv(), if !stopped => match line {
                Some(line) => {
                    let line = line.trim().to_owned();
                    if !line.is_empty() && speech.send(line).await.is_err() {
                        return;
                    }
                }
                None => stopped = send_stop(&inbound, &stream_sid, &call_sid, &mut sequence).await,
            },
            changed = hang_up.changed(), if !stopped => {
                if changed.is_err() || *hang_up.borrow() {
                    stopped = send_stop(&inbound, &stream_sid, &call_sid, &mut sequence).await;
                }
            }
        }
    }
}

async fn send_stop(
    inbound: &mpsc::Sender<String>,
    stream_sid: &StreamSid,
    call_sid: &CallSid,
    sequence: &mut u64,
) -> bool {
    *sequence += 1;
    let stop = Inbound::Stop(media::Stop {
        sequence_number: *sequence,
        account_sid: AccountSid::from_wire(TEXT_ACCOUNT),
        call_sid: call_sid.clone(),
    });
    let _ = inbound.send(stop.encode(stream_sid)).await;
    true
}

/// A recogniser of typed lines: each line is a final transcript that ends the caller's turn.
struct TypedSpeech {
    lines: Mutex<Option<mpsc::Receiver<String>>>,
    feed: mpsc::Sender<String>,
}

#[async_trait]
impl SpeechToText for TypedSpeech {
    async fn connect(&self, _options: SttOptions) -> Result<SttSession, ProviderError> {
        let lines = self.lines.lock().map_err(|_| ProviderError::Closed)?.take();
        let Some(mut lines) = lines else {
            return Err(ProviderError::Connect(
                "a text call has one recogniser".to_owned(),
            ));
        };
        let (commands_tx, mut commands) = mpsc::channel(64);
        let (events_tx, events) = mpsc::channel(64);
        let driver = async move {
            loop {
                tokio::select! {
                    command = commands.recv() => match command {
                        // There is no audio; a finalize has nothing pending.
                        Some(SttCommand::Audio(_) | SttCommand::Finalize) => {}
                        Some(SttCommand::Close) | None => break,
                    },
                    line = lines.recv() => {
                        let Some(text) = line else { break };
                        let transcript = Transcript {
                            text,
                            is_final: true,
                            speech_final: true,
                            from_finalize: false,
                            confidence: 1.0,
                            start_s: 0.0,
                            duration_s: 0.0,
                            at: Instant::now(),
                        };
                        if events_tx.send(SttEvent::Transcript(transcript)).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = events_tx
                .send(SttEvent::Closed { at: Instant::now() })
                .await;
        }
        .boxed();
        Ok(SttSession {
            handle: SttHandle::new(commands_tx),
            events,
            driver,
        })
    }

    fn name(&self) -> &'static str {
        "typed"
    }

    /// A typed line is a whole turn: the pipeline must not wait for more words.
    fn ends_turns_by_meaning(&self) -> bool {
        true
    }
}

/// A voice of silence: each piece of text is answered with one 20 ms frame of it.
struct TextVoice;

#[async_trait]
impl TextToSpeech for TextVoice {
    async fn connect(&self, _options: TtsOptions) -> Result<TtsSession, ProviderError> {
        let (commands_tx, mut commands) = mpsc::channel(64);
        let (events_tx, events) = mpsc::channel(64);
        let driver = async move {
            while let Some(command) = commands.recv().await {
                let event = match command {
                    TtsCommand::Text(_) => TtsEvent::Audio {
                        mulaw: Bytes::from_static(&[0xff; 160]),
                        at: Instant::now(),
                    },
                    TtsCommand::Flush => TtsEvent::Flushed { at: Instant::now() },
                    TtsCommand::Clear => TtsEvent::Cleared { at: Instant::now() },
                    TtsCommand::Close => break,
                };
                if events_tx.send(event).await.is_err() {
                    return;
                }
            }
            let _ = events_tx
                .send(TtsEvent::Closed { at: Instant::now() })
                .await;
        }
        .boxed();
        Ok(TtsSession {
            handle: TtsHandle::new(commands_tx),
            events,
            driver,
        })
    }

    fn name(&self) -> &'static str {
        "text"
    }
}

/// The call control of a text call: a transfer or a hang-up is shown and ends the call (Twilio
/// would send `stop` after either).
struct TextControl {
    events: mpsc::UnboundedSender<TextEvent>,
    hang_up: watch::Sender<bool>,
}

#[async_trait]
impl CallControl for TextControl {
    fn can_transfer(&self) -> bool {
        true
    }

    async fn transfer_to_advisor(&self, _call_sid: &CallSid) -> Result<(), PortError> {
        let _ = self.events.send(TextEvent::Transferred);
        let _ = self.hang_up.send(true);
        Ok(())
    }

    async fn hang_up(&self, _call_sid: &CallSid) -> Result<(), PortError> {
        let _ = self.events.send(TextEvent::HungUp);
        let _ = self.hang_up.send(true);
        Ok(())
    }
}

/// Passes the agent's replies and the conversation's moves to the keyboard side.
struct TextObserver {
    events: mpsc::UnboundedSender<TextEvent>,
}

impl CallObserver for TextObserver {
    fn on_event(&self, _call_sid: &str, event: &CallEvent) {
        let shown = match event {
            CallEvent::Agent { text } => TextEvent::Agent(text.clone()),
            CallEvent::TurnOver { .. } => TextEvent::Listening,
            CallEvent::Conversation { state, intent, .. } => TextEvent::Conversation {
                state: state.clone(),
                intent: intent.clone(),
            },
            _ => return,
        };
        let _ = self.events.send(shown);
    }
}
