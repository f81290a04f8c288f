//! Deepgram live speech-to-text imitation (`/v1/listen`, docs/protocols.md, section 5).
//!
//! Per connection, [`SpeechTracker`] finds the caller's speech segments by energy in the binary
//! μ-law frames. For the Nth segment it sends `SpeechStarted` at onset, interim `Results` from
//! `first_interim_after` after onset and then every `interim_interval`, and a final `Results`
//! (`is_final` and `speech_final` true) `endpointing_delay` after the last voiced frame arrived,
//! carrying the Nth script line (the script repeats). Outside speech, an empty final `Results`
//! goes out per `silence_result_every` of audio, as Deepgram keeps answering a silent stream (the
//! gateway takes a long quiet socket for a dead one). `KeepAlive` gets no answer; `Finalize`
//! finalizes `finalize_delay` later (`from_finalize`; at once by default); `CloseStream` (or an empty binary frame) sends what is pending,
//! `Metadata`, and closes with 1000. Nothing received for `idle_timeout` closes with 1011
//! `NET-0001`, as Deepgram does.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::ws::{CloseFrame, Message, WebSocket},
};
use tokio::time::{Instant, sleep_until};

use providers::sim::{Counters, SimState};

/// Settings of the STT simulator.
#[derive(Debug, Clone)]
pub struct SttSimConfig {
    /// From the last voiced frame's arrival to the final transcript (Deepgram's endpointing).
    pub endpointing_delay: Duration,
    /// From the first voiced frame's arrival to the first interim transcript.
    pub first_interim_after: Duration,
    /// From the first voiced frame's arrival to `SpeechStarted` (Deepgram's own voice activity
    /// detection needs some audio too; zero sends it with the first voiced frame).
    pub speech_started_after: Duration,
    /// Between later interims while the caller keeps talking.
    pub interim_interval: Duration,
    /// From `Finalize` to its answer (Deepgram documents no figure).
    pub finalize_delay: Duration,
    /// Outside speech, one empty final `Results` per this much audio.
    pub silence_result_every: Duration,
    /// A frame whose mean absolute amplitude reaches this is speech.
    pub energy_threshold: u32,
    /// Nothing received for this long closes the socket with 1011 (Deepgram: about 10 s).
    pub idle_timeout: Duration,
    /// Transcript of the Nth segment: the Nth line, repeating.
    pub script: Arc<[String]>,
}

/// Something the tracker wants sent.
#[derive(Debug, Clone, PartialEq)]
pub enum SttOut {
    /// Speech onset at `timestamp` seconds of stream audio.
    SpeechStarted {
        /// Seconds of stream audio.
        timestamp: f64,
    },
    /// A `Results` message.
    Results {
        /// What was heard.
        transcript: String,
        /// Where the audio it covers starts, seconds of stream audio.
        start: f64,
        /// How long that audio is, seconds.
        duration: f64,
        /// A final (not an interim) result.
        is_final: bool,
        /// Endpointing found the end of speech.
        speech_final: bool,
        /// The answer to a `Finalize`.
        from_finalize: bool,
    },
}

impl SttOut {
    fn to_json(&self) -> String {
        match self {
            Self::SpeechStarted { timestamp } => super::speech_started(*timestamp),
            Self::Results {
                transcript,
                start,
                duration,
                is_final,
                speech_final,
                from_finalize,
            } => super::Results {
                transcript,
                confidence: 0.99,
                start: *start,
                duration: *duration,
                is_final: *is_final,
                speech_final: *speech_final,
                from_finalize: *from_finalize,
            }
            .to_json(),
        }
    }
}

/// A speech segment being heard (or waiting for its final).
#[derive(Debug)]
struct Segment {
    index: usize,
    start_s: f64,
    end_s: f64,
    last_voiced_at: Instant,
    /// A silent frame came after the last voiced one: the final is due after endpointing.
    ended: bool,
    next_interim_at: Instant,
    interims_sent: usize,
    /// `SpeechStarted` is still to be sent, at this instant.
    speech_started_at: Option<Instant>,
}

/// Finds speech segments in μ-law frames and decides what to send when. Pure apart from the
/// instants it is handed, so tests drive it frame by frame.
#[derive(Debug)]
pub struct SpeechTracker {
    config: SttSimConfig,
    audio_bytes: u64,
    /// Stream position (bytes) of the last message sent outside speech, or of the last final.
    quiet_since_bytes: u64,
    segments_done: usize,
    segment: Option<Segment>,
    /// A `Finalize` is to be answered at this instant.
    finalize_due: Option<Instant>,
}

impl SpeechTracker {
    /// A tracker at the start of a stream.
    pub fn new(config: SttSimConfig) -> Self {
        Self {
            config,
            audio_bytes: 0,
            quiet_since_bytes: 0,
            segments_done: 0,
            segment: None,
            finalize_due: None,
        }
    }

    fn line(&self, index: usize) -> String {
        if self.config.script.is_empty() {
            return String::new();
        }
        self.config.script[index % self.config.script.len()].clone()
    }

    /// One binary audio frame arrived at `now`.
    pub fn on_frame(&mut self, frame: &[u8], now: Instant) -> Vec<SttOut> {
        let start_s = seconds_of(self.audio_bytes);
        self.audio_bytes += frame.len() as u64;
        let end_s = seconds_of(self.audio_bytes);
        let voiced = audio_codec::mean_abs_mulaw(frame) >= self.config.energy_threshold;
        let mut out = Vec::new();
        match (&mut self.segment, voiced) {
            (None, true) => {
                self.segment = Some(Segment {
                    index: self.segments_done,
                    start_s,
                    end_s,
                    last_voiced_at: now,
                    ended: false,
                    next_interim_at: now + self.config.first_interim_after,
                    interims_sent: 0,
                    speech_started_at: (!self.config.speech_started_after.is_zero())
                        .then(|| now + self.config.speech_started_after),
                });
                if self.config.speech_started_after.is_zero() {
                    out.push(SttOut::SpeechStarted { timestamp: start_s });
                }
            }
            (Some(segment), true) => {
                segment.ended = false;
                segment.last_voiced_at = now;
                segment.end_s = end_s;
            }
            (Some(segment), false) => segment.ended = true,
            (None, false) => {
                let every = (self.config.silence_result_every.as_millis() as u64)
                    * u64::from(audio_codec::SAMPLE_RATE_HZ)
                    / 1000;
                if every > 0 && self.audio_bytes - self.quiet_since_bytes >= every {
                    let start = seconds_of(self.quiet_since_bytes);
                    self.quiet_since_bytes = self.audio_bytes;
                    out.push(SttOut::Results {
                        transcript: String::new(),
                        start,
                        duration: end_s - start,
                        is_final: true,
                        speech_final: false,
                        from_finalize: false,
                    });
                }
            }
        }
        out
    }

    /// A `Finalize` arrived at `now`: answered at once, or `finalize_delay` later.
    pub fn ask_finalize(&mut self, now: Instant) -> Vec<SttOut> {
        if self.config.finalize_delay.is_zero() {
            return self.finalize(true).into_iter().collect();
        }
        self.finalize_due
            .get_or_insert(now + self.config.finalize_delay);
        Vec::new()
    }

    /// When [`Self::on_deadline`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        if let Some(due) = self.finalize_due {
            return Some(self.segment_deadline().map_or(due, |at| at.min(due)));
        }
        self.segment_deadline()
    }

    fn segment_deadline(&self) -> Option<Instant> {
        let segment = self.segment.as_ref()?;
        let next = if segment.ended {
            segment.last_voiced_at + self.config.endpointing_delay
        } else {
            segment.next_interim_at
        };
        Some(segment.speech_started_at.map_or(next, |at| at.min(next)))
    }

    /// Sends what is due at `now`: the final of an ended segment, or an interim.
    pub fn on_deadline(&mut self, now: Instant) -> Vec<SttOut> {
        if self.finalize_due.is_some_and(|due| due <= now) {
            self.finalize_due = None;
            return self.finalize(true).into_iter().collect();
        }
        let Some(segment) = self.segment.as_mut() else {
            return Vec::new();
        };
        if let Some(at) = segment.speech_started_at
            && at <= now
        {
            segment.speech_started_at = None;
            return vec![SttOut::SpeechStarted {
                timestamp: segment.start_s,
            }];
        }
        if segment.ended {
            if segment.last_voiced_at + self.config.endpointing_delay <= now {
                return vec![self.take_final(false)];
            }
            return Vec::new();
        }
        if segment.next_interim_at > now {
            return Vec::new();
        }
        segment.interims_sent += 1;
        segment.next_interim_at = now + self.config.interim_interval;
        let (index, words, start, duration) = (
            segment.index,
            segment.interims_sent * 2,
            segment.start_s,
            segment.end_s - segment.start_s,
        );
        let line = self.line(index);
        let transcript = line
            .split_whitespace()
            .take(words)
            .collect::<Vec<_>>()
            .join(" ");
        vec![SttOut::Results {
            transcript,
            start,
            duration,
            is_final: false,
            speech_final: false,
            from_finalize: false,
        }]
    }

    /// `Finalize` (or `CloseStream`): the segment in progress becomes final now; with none, an
    /// empty final answers a `Finalize`.
    pub fn finalize(&mut self, from_finalize: bool) -> Option<SttOut> {
        if self.segment.is_some() {
            return Some(self.take_final(from_finalize));
        }
        from_finalize.then(|| SttOut::Results {
            transcript: String::new(),
            start: seconds_of(self.audio_bytes),
            duration: 0.0,
            is_final: true,
            speech_final: false,
            from_finalize: true,
        })
    }

    fn take_final(&mut self, from_finalize: bool) -> SttOut {
        let segment = self.segment.take().expect("callers check for a segment");
        self.segments_done += 1;
        self.quiet_since_bytes = self.audio_bytes;
        SttOut::Results {
            transcript: self.line(segment.index),
            start: segment.start_s,
            duration: segment.end_s - segment.start_s,
            is_final: true,
            speech_final: true,
            from_finalize,
        }
    }
}

/// The `/v1/listen` WebSocket endpoint (the key goes in `Authorization: Token <key>`).
pub fn router(shared: Arc<SimState<SttSimConfig>>) -> Router {
    super::endpoint("/v1/listen", shared, session)
}

async fn session(mut socket: WebSocket, shared: Arc<SimState<SttSimConfig>>) {
    let config = &shared.config;
    let mut tracker = SpeechTracker::new(config.clone());
    let mut last_heard = Instant::now();
    loop {
        let due = tracker.next_deadline();
        let far = Instant::now() + Duration::from_secs(3600);
        let mut out = Vec::new();
        tokio::select! {
            () = shared.cancel.cancelled() => return,
            () = sleep_until(last_heard + config.idle_timeout) => {
                let reason = "NET-0001 Deepgram did not receive audio data or a text message within the timeout window.";
                let _ = socket.send(close(1011, reason)).await;
                return;
            }
            () = sleep_until(due.unwrap_or(far)), if due.is_some() => {
                out = tracker.on_deadline(Instant::now());
            }
            message = socket.recv() => {
                last_heard = Instant::now();
                match message {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Binary(frame))) if frame.is_empty() => {
                        // The legacy close signal: treat it as CloseStream.
                        close_stream(&mut socket, &mut tracker, &shared).await;
                        return;
                    }
                    Some(Ok(Message::Binary(frame))) => out = tracker.on_frame(&frame, last_heard),
                    Some(Ok(Message::Text(text))) => {
                        let kind = serde_json::from_str::<serde_json::Value>(&text)
                            .ok()
                            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned));
                        match kind.as_deref() {
                            Some("Finalize") => out = tracker.ask_finalize(last_heard),
                            Some("CloseStream") => {
                                close_stream(&mut socket, &mut tracker, &shared).await;
                                return;
                            }
                            // KeepAlive has no answer; unknown messages are ignored.
                            _ => {}
                        }
                    }
                    Some(Ok(_)) => {}
                }
            }
        }
        for message in out {
            if is_final(&message) {
                Counters::bump(&shared.counters.finals);
            }
            if socket
                .send(Message::Text(message.to_json().into()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

fn is_final(message: &SttOut) -> bool {
    matches!(message, SttOut::Results { is_final: true, transcript, .. } if !transcript.is_empty())
}

async fn close_stream(
    socket: &mut WebSocket,
    tracker: &mut SpeechTracker,
    shared: &SimState<SttSimConfig>,
) {
    if let Some(last) = tracker.finalize(false) {
        if is_final(&last) {
            Counters::bump(&shared.counters.finals);
        }
        let _ = socket.send(Message::Text(last.to_json().into())).await;
    }
    let metadata = super::listen_metadata(seconds_of(tracker.audio_bytes));
    let _ = socket.send(Message::Text(metadata.into())).await;
    let _ = socket.send(close(1000, "")).await;
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

/// The duration of `bytes` of 8 kHz μ-law audio, in seconds.
fn seconds_of(bytes: u64) -> f64 {
    bytes as f64 / f64::from(audio_codec::SAMPLE_RATE_HZ)
}
