//! Streaming speech-to-text: trait, commands, events, and the utterance assembler.

use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{Driver, ProviderError};

/// Per-call options for a speech-to-text session.
#[derive(Debug, Clone, Default)]
pub struct SttOptions {
    /// The call's id, for logs only.
    pub call_id: String,
    /// Words and phrases this call is likely to contain (the shop's name and services, the
    /// caller's vehicles), most important first. Vendors that can bias recognition toward them
    /// (Deepgram keyterms) send as many as their limits allow; others ignore them.
    pub keyterms: Vec<String>,
}

/// Opens per-call streaming recognition sessions over 8 kHz mono μ-law audio.
#[async_trait]
pub trait SpeechToText: Send + Sync + 'static {
    /// Opens a session now (at call start, not at the first utterance). The returned `driver` must
    /// be spawned by the caller; it ends after `close`, or when the handle is dropped.
    async fn connect(&self, options: SttOptions) -> Result<SttSession, ProviderError>;

    /// A short name for logs and metrics (`"deepgram"`, `"fake"`).
    fn name(&self) -> &'static str;

    /// True when the recogniser itself decides that a turn has ended from what was said, not
    /// only from silence (Deepgram Flux): the pipeline then leaves the decision to it and does not
    /// ask for an early `Finalize`. Default false.
    fn ends_turns_by_meaning(&self) -> bool {
        false
    }
}

/// An open speech-to-text session.
pub struct SttSession {
    /// Sends audio and control commands.
    pub handle: SttHandle,
    /// Transcripts and other events, in order. Ends (returns `None`) after `SttEvent::Closed`.
    pub events: mpsc::Receiver<SttEvent>,
    /// Owns the connection; spawn it on the call's task tracker.
    pub driver: Driver,
}

/// What the caller sends into a session.
#[derive(Debug, Clone, PartialEq)]
pub enum SttCommand {
    /// Caller audio: raw μ-law bytes, 8 kHz mono, passed through with no transcoding.
    Audio(Bytes),
    /// Ask the recogniser to finish the current utterance now (Deepgram `Finalize`, Flux
    /// `ForceEndTurn`).
    Finalize,
    /// Flush and end the session (Deepgram `CloseStream`); the driver ends after `Closed`.
    Close,
}

/// The sending side of a session. Cloneable; audio uses `try_send` so it never blocks the socket reader.
#[derive(Debug, Clone)]
pub struct SttHandle {
    commands_tx: mpsc::Sender<SttCommand>,
}

impl SttHandle {
    /// Wraps the command channel a vendor driver reads from.
    pub fn new(commands_tx: mpsc::Sender<SttCommand>) -> Self {
        Self { commands_tx }
    }

    /// Queues caller audio without waiting. `Err(Full)` means the recogniser fell behind: the
    /// caller drops the frame and counts it.
    pub fn send_audio(&self, mulaw: Bytes) -> Result<(), mpsc::error::TrySendError<SttCommand>> {
        self.commands_tx.try_send(SttCommand::Audio(mulaw))
    }

    /// Asks the recogniser to finalize the current utterance.
    pub async fn finalize(&self) -> Result<(), ProviderError> {
        self.commands_tx
            .send(SttCommand::Finalize)
            .await
            .map_err(|_| ProviderError::Closed)
    }

    /// Ends the session gracefully.
    pub async fn close(&self) -> Result<(), ProviderError> {
        self.commands_tx
            .send(SttCommand::Close)
            .await
            .map_err(|_| ProviderError::Closed)
    }
}

/// One transcript result (interim or final) for a span of audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The words recognised (may be empty).
    pub text: String,
    /// This span's text will not change any more.
    pub is_final: bool,
    /// The recogniser detected the end of the caller's utterance (endpointing).
    pub speech_final: bool,
    /// This result answers a `Finalize` request.
    pub from_finalize: bool,
    /// Recogniser confidence, 0.0 to 1.0.
    pub confidence: f64,
    /// Start of the span, seconds from the start of the audio stream.
    pub start_s: f64,
    /// Length of the span in seconds.
    pub duration_s: f64,
    /// When this result arrived.
    pub at: Instant,
}

/// What a speech-to-text session reports.
#[derive(Debug, Clone, PartialEq)]
pub enum SttEvent {
    /// An interim or final transcript.
    Transcript(Transcript),
    /// Voice activity began (Deepgram `SpeechStarted`): the fastest barge-in signal.
    SpeechStarted {
        /// Seconds from the start of the audio stream.
        timestamp_s: f64,
        /// When this event arrived.
        at: Instant,
    },
    /// The recogniser saw a gap after the last word (Deepgram `UtteranceEnd`): the backstop that
    /// ends an utterance when `speech_final` never came.
    UtteranceEnd {
        /// End of the last word, seconds from the start of the audio stream.
        last_word_end_s: f64,
        /// When this event arrived.
        at: Instant,
    },
    /// The recogniser thinks the turn has probably ended (Flux `EagerEndOfTurn`): `text` is the
    /// turn's transcript so far. A final transcript with the same words follows when it is sure,
    /// or `TurnResumed` when the caller went on. A reply may be prepared from it, but must not be
    /// spoken before the final transcript confirms the words.
    EagerEndOfTurn {
        /// The transcript of the turn so far.
        text: String,
        /// When this event arrived.
        at: Instant,
    },
    /// The caller went on after `EagerEndOfTurn` (Flux `TurnResumed`): a reply prepared from it
    /// is stale.
    TurnResumed {
        /// When this event arrived.
        at: Instant,
    },
    /// The connection dropped and the driver is reconnecting; audio is buffered meanwhile.
    Reconnecting {
        /// Why the connection was lost.
        reason: ProviderError,
        /// When the drop was noticed.
        at: Instant,
    },
    /// A reconnect succeeded and buffered audio was replayed.
    Reconnected {
        /// When the new connection was ready.
        at: Instant,
    },
    /// A non-fatal problem (vendor warning, unknown message) or a fatal one just before `Closed`.
    Error {
        /// What went wrong.
        error: ProviderError,
        /// When it happened.
        at: Instant,
    },
    /// The session ended; nothing follows.
    Closed {
        /// When it ended.
        at: Instant,
    },
}

/// A complete caller turn assembled from final transcript segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// The joined text of the final segments.
    pub text: String,
    /// Lowest confidence among the joined segments.
    pub confidence: f64,
    /// When the event that ended the utterance arrived (the start of the gateway's latency budget).
    pub at: Instant,
    /// True when `UtteranceEnd` (not `speech_final`) ended it.
    pub by_utterance_end: bool,
}

/// Joins `is_final` segments until `speech_final`, with `UtteranceEnd` as the backstop
/// (docs/protocols.md 5.6). Feed it every event; it returns an utterance when one is complete.
///
/// - Interim results are never appended; the latest one is kept for barge-in decisions
///   (`last_interim`).
/// - A final result appends its text (when non-empty) and clears the interim; if it also has
///   `speech_final`, the joined finals are the utterance.
/// - `UtteranceEnd` emits the finals when `speech_final` never came, and is ignored when they were
///   already emitted.
/// - A `from_finalize` result is treated like any final result; it may be empty.
/// - Empty turns are never emitted.
#[derive(Debug, Default)]
pub struct UtteranceAssembler {
    segments: Vec<String>,
    min_confidence: Option<f64>,
    last_interim: String,
}

impl UtteranceAssembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one event. Returns the completed utterance, if this event completed one.
    pub fn push(&mut self, event: &SttEvent) -> Option<Utterance> {
        match event {
            SttEvent::Transcript(t) if !t.is_final => {
                // 5.6 step 1: interims may still change, so they are only remembered.
                t.text.trim().clone_into(&mut self.last_interim);
                None
            }
            SttEvent::Transcript(t) => {
                let text = t.text.trim();
                if !text.is_empty() {
                    self.segments.push(text.to_owned());
                    self.min_confidence = Some(
                        self.min_confidence
                            .map_or(t.confidence, |c| c.min(t.confidence)),
                    );
                    self.last_interim.clear();
                }
                if t.speech_final {
                    self.take(t.at, false)
                } else {
                    None
                }
            }
            SttEvent::UtteranceEnd { at, .. } => self.take(*at, true),
            _ => None,
        }
    }

    /// Text collected so far that has not been emitted (for logs and barge-in decisions).
    pub fn pending_text(&self) -> String {
        self.segments.join(" ")
    }

    /// The latest interim transcript since the last non-empty final (empty if none): a fast
    /// barge-in signal that is never part of an utterance.
    pub fn last_interim(&self) -> &str {
        &self.last_interim
    }

    /// Emits the pending finals now, if any, as if `UtteranceEnd` had arrived at `at`. For when the
    /// session ends, or the pipeline's own end-of-speech decision should not wait for the recogniser.
    pub fn take_pending(&mut self, at: Instant) -> Option<Utterance> {
        self.take(at, true)
    }

    fn take(&mut self, at: Instant, by_utterance_end: bool) -> Option<Utterance> {
        if self.segments.is_empty() {
            return None;
        }
        let text = std::mem::take(&mut self.segments).join(" ");
        let confidence = self.min_confidence.take().unwrap_or(0.0);
        Some(Utterance {
            text,
            confidence,
            at,
            by_utterance_end,
        })
    }
}

#[cfg(test)]
mod tests;
