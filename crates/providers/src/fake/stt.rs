//! `FakeStt`: a scripted `SpeechToText`.
//!
//! # Script format
//!
//! An `SttScript` is a list of `SttStep`s, played in order by every session the fake opens. Each
//! step waits for its trigger, then emits its event:
//!
//! | trigger | fires when |
//! | --- | --- |
//! | `SttTrigger::At(offset)` | `offset` has passed since `connect` (tokio clock; for replaying recorded events at recorded offsets) |
//! | `SttTrigger::AfterAudioFrames(n)` | the session has received `n` audio frames in total (one `SttCommand::Audio` is one frame) |
//! | `SttTrigger::AfterFinalize(n)` | the session has received `n` `Finalize` commands in total |
//!
//! Steps never overtake each other: a step whose trigger is already met when the step before it
//! fires is emitted right after it. `SttScriptEvent` mirrors `SttEvent` without timestamps (the fake
//! stamps each event when it emits it), plus `SttScriptEvent::Close`, which makes the "vendor" end
//! the session: `Closed` is emitted and the driver returns.
//!
//! ```text
//! SttScript::new()
//!     .step(SttTrigger::At(ms(300)), SttScriptEvent::SpeechStarted { timestamp_s: 0.3 })
//!     .step(SttTrigger::AfterAudioFrames(25), SttScriptEvent::interim("my brakes"))
//!     .step(SttTrigger::AfterAudioFrames(50), SttScriptEvent::speech_final("my brakes squeak"))
//! ```
//!
//! # Other behaviour
//!
//! - When the script is exhausted the session stays open, recording audio, until `Close` or until
//!   every handle is dropped; both emit `Closed` and end the driver (steps not yet played are dropped).
//! - A zero-byte audio frame (which would close a real Deepgram stream) is recorded and answered with a
//!   non-fatal `SttEvent::Error` carrying `ProviderError::Protocol`, so pipeline bugs show up.
//! - `fail_next_connect` makes the next `connect` return an error.
//! - Every command of every session is recorded (`received_commands`, `received_audio`).
//! - Steps can also be appended while a session runs (`push_step`): they are played after the
//!   script, by whichever session reaches them first (meant for one session, such as a script
//!   written as a simulated caller speaks). `audio_frames` watches how many audio frames the
//!   latest session has received, and `with_command_queue` sets how many commands a session
//!   buffers (a replay that must never drop a frame makes it large).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use super::now;
use crate::{
    ProviderError, SpeechToText, SttCommand, SttEvent, SttHandle, SttOptions, SttSession,
    Transcript,
};

/// Capacity of a fake session's command channel: 250 frames = 5 s of 20 ms audio.
const COMMAND_QUEUE_LEN: usize = 250;
/// Capacity of a fake session's event channel.
const EVENT_QUEUE_LEN: usize = 256;

/// A scripted speech-to-text provider. Clones share the script and the recordings.
#[derive(Debug, Clone)]
pub struct FakeStt {
    script: SttScript,
    state: Arc<Mutex<SttRecord>>,
    ends_turns_by_meaning: bool,
    appended: Arc<Appended>,
    command_queue_len: usize,
}

impl Default for FakeStt {
    fn default() -> Self {
        Self::new(SttScript::default())
    }
}

/// Steps appended while sessions run, and the audio frame count of the latest session.
#[derive(Debug)]
struct Appended {
    steps: Mutex<VecDeque<SttStep>>,
    added: Notify,
    frames: watch::Sender<u64>,
}

/// What every session of a `FakeStt` plays (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SttScript {
    /// The steps, in the order they are emitted.
    pub steps: Vec<SttStep>,
}

/// One scripted event and what it waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct SttStep {
    /// When the event is emitted.
    pub when: SttTrigger,
    /// What is emitted.
    pub event: SttScriptEvent,
}

/// What a step waits for (all counts and offsets are per session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SttTrigger {
    /// This long after `connect`.
    At(Duration),
    /// Once this many audio frames have been received.
    AfterAudioFrames(u64),
    /// Once this many `Finalize` commands have been received.
    AfterFinalize(u64),
}

/// An `SttEvent` without its timestamp, or the end of the session.
#[derive(Debug, Clone, PartialEq)]
pub enum SttScriptEvent {
    /// A transcript result.
    Transcript {
        /// The words (may be empty).
        text: String,
        /// The span is final.
        is_final: bool,
        /// Endpointing detected the end of the utterance.
        speech_final: bool,
        /// The result answers a `Finalize`.
        from_finalize: bool,
        /// 0.0 to 1.0.
        confidence: f64,
        /// Start of the span, seconds from the start of the audio.
        start_s: f64,
        /// Length of the span in seconds.
        duration_s: f64,
    },
    /// Voice activity began.
    SpeechStarted {
        /// Seconds from the start of the audio.
        timestamp_s: f64,
    },
    /// The backstop end of an utterance.
    UtteranceEnd {
        /// End of the last word, seconds from the start of the audio.
        last_word_end_s: f64,
    },
    /// The turn has probably ended (Flux `EagerEndOfTurn`).
    EagerEndOfTurn {
        /// The turn's transcript so far.
        text: String,
    },
    /// The caller went on after `EagerEndOfTurn` (Flux `TurnResumed`).
    TurnResumed,
    /// The "connection" dropped and is being re-established.
    Reconnecting {
        /// Why.
        reason: ProviderError,
    },
    /// The "connection" is back.
    Reconnected,
    /// A non-fatal error report.
    Error(ProviderError),
    /// The vendor ends the session: `Closed` is emitted and the driver ends.
    Close,
}

/// Everything a `FakeStt` was sent, over all its sessions.
#[derive(Debug, Default)]
struct SttRecord {
    commands: Vec<SttCommand>,
    options: Vec<SttOptions>,
    connect_failures: VecDeque<ProviderError>,
}

impl FakeStt {
    /// A fake whose every session plays `script`.
    pub fn new(script: SttScript) -> Self {
        Self {
            script,
            state: Arc::default(),
            ends_turns_by_meaning: false,
            appended: Arc::new(Appended {
                steps: Mutex::default(),
                added: Notify::new(),
                frames: watch::Sender::new(0),
            }),
            command_queue_len: COMMAND_QUEUE_LEN,
        }
    }

    /// Buffers up to `len` commands per session (default 250, 5 s of audio).
    pub fn with_command_queue(mut self, len: usize) -> Self {
        self.command_queue_len = len.max(1);
        self
    }

    /// Appends a step after the script (see the module docs).
    pub fn push_step(&self, step: SttStep) {
        self.appended
            .steps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(step);
        self.appended.added.notify_one();
    }

    /// Watches how many audio frames the latest session has received.
    pub fn audio_frames(&self) -> watch::Receiver<u64> {
        self.appended.frames.subscribe()
    }

    /// Reports `ends_turns_by_meaning() == true`, like Deepgram Flux.
    pub fn ending_turns_by_meaning(mut self) -> Self {
        self.ends_turns_by_meaning = true;
        self
    }

    /// Makes the next `connect` fail with `error` (queued: call it twice to fail twice).
    pub fn fail_next_connect(&self, error: ProviderError) {
        self.lock().connect_failures.push_back(error);
    }

    /// Every command received so far, audio included, in order (all sessions).
    pub fn received_commands(&self) -> Vec<SttCommand> {
        self.lock().commands.clone()
    }

    /// All audio received so far, concatenated (all sessions).
    pub fn received_audio(&self) -> Bytes {
        let state = self.lock();
        let mut res = BytesMut::new();
        for command in &state.commands {
            if let SttCommand::Audio(frame) = command {
                res.extend_from_slice(frame);
            }
        }
        res.freeze()
    }

    /// The options of every successful `connect`, in order.
    pub fn sessions(&self) -> Vec<SttOptions> {
        self.lock().options.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SttRecord> {
        // A test that panicked while holding the lock already failed; keep reporting what we have.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl SpeechToText for FakeStt {
    async fn connect(&self, options: SttOptions) -> Result<SttSession, ProviderError> {
        {
            let mut state = self.lock();
            if let Some(error) = state.connect_failures.pop_front() {
                return Err(error);
            }
            state.options.push(options);
        }
        let (commands_tx, commands_rx) = mpsc::channel(self.command_queue_len);
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE_LEN);
        self.appended.frames.send_replace(0);
        let driver = play_stt_script(
            self.script.steps.clone(),
            commands_rx,
            events_tx,
            Arc::clone(&self.state),
            Arc::clone(&self.appended),
        );
        Ok(SttSession {
            handle: SttHandle::new(commands_tx),
            events: events_rx,
            driver: driver.boxed(),
        })
    }

    fn name(&self) -> &'static str {
        "fake"
    }

    fn ends_turns_by_meaning(&self) -> bool {
        self.ends_turns_by_meaning
    }
}

impl SttScript {
    /// An empty script: the session only records what it receives.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a step.
    pub fn step(mut self, when: SttTrigger, event: SttScriptEvent) -> Self {
        self.steps.push(SttStep { when, event });
        self
    }
}

impl SttScriptEvent {
    /// An interim result (confidence 0.9).
    pub fn interim(text: &str) -> Self {
        Self::transcript(text, false, false, false)
    }

    /// A final result without endpointing (confidence 0.9).
    pub fn is_final(text: &str) -> Self {
        Self::transcript(text, true, false, false)
    }

    /// A final result that ends the utterance (confidence 0.9).
    pub fn speech_final(text: &str) -> Self {
        Self::transcript(text, true, true, false)
    }

    /// A final result answering a `Finalize` (confidence 0.9).
    pub fn from_finalize(text: &str) -> Self {
        Self::transcript(text, true, false, true)
    }

    fn transcript(text: &str, is_final: bool, speech_final: bool, from_finalize: bool) -> Self {
        Self::Transcript {
            text: text.to_owned(),
            is_final,
            speech_final,
            from_finalize,
            confidence: 0.9,
            start_s: 0.0,
            duration_s: 0.0,
        }
    }

    /// The event to emit now, or `None` for `Close`.
    fn into_event(self, at: std::time::Instant) -> Option<SttEvent> {
        Some(match self {
            Self::Transcript {
                text,
                is_final,
                speech_final,
                from_finalize,
                confidence,
                start_s,
                duration_s,
            } => SttEvent::Transcript(Transcript {
                text,
                is_final,
                speech_final,
                from_finalize,
                confidence,
                start_s,
                duration_s,
                at,
            }),
            Self::SpeechStarted { timestamp_s } => SttEvent::SpeechStarted { timestamp_s, at },
            Self::UtteranceEnd { last_word_end_s } => SttEvent::UtteranceEnd {
                last_word_end_s,
                at,
            },
            Self::EagerEndOfTurn { text } => SttEvent::EagerEndOfTurn { text, at },
            Self::TurnResumed => SttEvent::TurnResumed { at },
            Self::Reconnecting { reason } => SttEvent::Reconnecting { reason, at },
            Self::Reconnected => SttEvent::Reconnected { at },
            Self::Error(error) => SttEvent::Error { error, at },
            Self::Close => return None,
        })
    }
}

/// Per-session progress, against which triggers are checked.
struct SttProgress {
    started: Instant,
    n_audio_frames: u64,
    n_finalize: u64,
}

impl SttProgress {
    fn is_met(&self, trigger: SttTrigger) -> bool {
        match trigger {
            SttTrigger::At(offset) => Instant::now() >= self.started + offset,
            SttTrigger::AfterAudioFrames(n) => self.n_audio_frames >= n,
            SttTrigger::AfterFinalize(n) => self.n_finalize >= n,
        }
    }
}

/// The driver of one fake session.
async fn play_stt_script(
    steps: Vec<SttStep>,
    mut commands_rx: mpsc::Receiver<SttCommand>,
    events_tx: mpsc::Sender<SttEvent>,
    state: Arc<Mutex<SttRecord>>,
    appended: Arc<Appended>,
) {
    let mut progress = SttProgress {
        started: Instant::now(),
        n_audio_frames: 0,
        n_finalize: 0,
    };
    let mut steps = VecDeque::from(steps);
    loop {
        loop {
            // The script's own steps first, then those appended while the session runs.
            let step = if let Some(step) = steps.front() {
                if !progress.is_met(step.when) {
                    break;
                }
                steps.pop_front()
            } else {
                let mut more = appended.steps.lock().unwrap_or_else(|p| p.into_inner());
                match more.front() {
                    Some(step) if progress.is_met(step.when) => more.pop_front(),
                    _ => break,
                }
            };
            let Some(step) = step else { break };
            let Some(event) = step.event.into_event(now()) else {
                let _ = events_tx.send(SttEvent::Closed { at: now() }).await;
                return;
            };
            if events_tx.send(event).await.is_err() {
                return;
            }
        }
        let deadline = match steps.front().map(|step| step.when) {
            Some(SttTrigger::At(offset)) => Some(progress.started + offset),
            _ => None,
        };
        let command = tokio::select! {
            biased;
            command = commands_rx.recv() => command,
            () = sleep_until_some(deadline) => continue,
            () = appended.added.notified(), if steps.is_empty() => continue,
        };
        let Some(command) = command else {
            let _ = events_tx.send(SttEvent::Closed { at: now() }).await;
            return;
        };
        state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .commands
            .push(command.clone());
        match command {
            SttCommand::Audio(frame) => {
                progress.n_audio_frames += 1;
                appended.frames.send_replace(progress.n_audio_frames);
                if frame.is_empty() {
                    let error = ProviderError::Protocol("zero-byte audio frame".into());
                    if events_tx
                        .send(SttEvent::Error { error, at: now() })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            SttCommand::Finalize => progress.n_finalize += 1,
            SttCommand::Close => {
                let _ = events_tx.send(SttEvent::Closed { at: now() }).await;
                return;
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
