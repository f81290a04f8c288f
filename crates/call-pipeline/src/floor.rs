//! Who has the floor: the call's turn-taking as one pure, synchronous state machine.
//!
//! `Floor::handle(event, now)` takes one `Event` (a phone frame's meaning, an STT or TTS event, a
//! bot-turn event, a command of the conversation, a deadline) and returns the `Action`s the
//! driver (`call.rs`) must carry out. There is no tokio, no IO and no clock in here: `now` is
//! passed in, and `next_deadline` tells the driver when to send `Event::Tick`. Everything about
//! who is speaking lives here and nowhere else: the turn being spoken and its playback at the
//! caller (marks), the LLM reply in flight, a barge-in pause and its decision, silence, what
//! happens after a line has played (listen, transfer, end) and the call's length deadline.
//!
//! Barge-in is *pause first, decide after*: the moment the caller's voice starts while the agent
//! speaks (the gateway's own energy VAD, or the recogniser's `SpeechStarted`), the agent's audio
//! at the caller is stopped with a Twilio `clear`, but the turn goes on: the LLM keeps writing
//! and TTS audio keeps arriving, held back. Then the words decide. Words that are not a
//! backchannel make it a real interruption: the reply is cancelled, TTS is cleared and history
//! keeps only what the caller heard. A backchannel ("uh-huh", "okay"), or sound that brings no
//! words at all (a cough, a door, line noise), resumes the agent from the start of the group of
//! text the caller stopped hearing, a sentence or clause boundary, from the audio already held:
//! no LLM or TTS round trip.
//!
//! Invariants (each has a test in `floor/tests.rs`):
//! - at most one spoken turn and at most one reply in flight; a reply's events for any other
//!   turn are ignored;
//! - nothing reaches the caller while a pause is undecided; a pause always ends, by resuming or
//!   by interrupting, at the latest `pause_max` after it began;
//! - after an interruption, history holds only the text the caller heard (`Action::Interrupted`);
//! - TTS audio and `Flushed` events that belong to a cleared TTS turn are dropped until TTS
//!   confirms the clear (or `cleared_max_wait` passes);
//! - silence is only timed while nobody speaks and no reply is being written.

use std::time::{Duration, Instant};

use conversation::TurnEnd;
use serde_json::{Value, json};
use tracing::{debug, info};
use twilio::StreamSid;

use crate::{
    barge_in::is_backchannel,
    playback::{MarkOutcome, Playback},
};

/// The machine's settings (taken from `PipelineConfig`).
#[derive(Debug, Clone)]
pub(crate) struct FloorConfig {
    /// A mark after this many 20 ms frames.
    pub(crate) mark_every_frames: usize,
    /// Unflushed reply text beyond this many characters is flushed mid-reply.
    pub(crate) max_unflushed_chars: usize,
    /// Silence before the first `SilenceTimeout`.
    pub(crate) silence_check_in: Duration,
    /// Silence before each later `SilenceTimeout` (after a check-in, until the caller speaks).
    pub(crate) silence_hang_up: Duration,
    /// A pause with no words resumes this long after the caller's sound ended.
    pub(crate) pause_resume_after: Duration,
    /// The longest a pause waits for words before the agent resumes anyway.
    pub(crate) pause_max: Duration,
    /// How long TTS audio is dropped after a TTS `Clear` while waiting for `Cleared`.
    pub(crate) cleared_max_wait: Duration,
    /// An utterance whose words stop mid-phrase waits this long after the caller's sound ends
    /// for more words before the agent answers it.
    pub(crate) unfinished_hold: Duration,
    /// The longest an unfinished utterance is held, however the caller pauses.
    pub(crate) max_hold: Duration,
    /// Finalize complete words early and hold unfinished ones; off: endpointing alone decides.
    pub(crate) turn_end_by_meaning: bool,
    /// The recogniser decides the end of a turn from the words itself (Flux): no early
    /// `Finalize` is asked for.
    pub(crate) recogniser_ends_turns: bool,
    /// Start the LLM request on words that probably end the turn (a complete interim at a pause,
    /// or the recogniser's eager end of turn), and speak it only if the final words are the same.
    pub(crate) early_replies: bool,
    /// A reply with nothing to say yet this long after it started (a slow model, a tool call)
    /// gets `filler_line` first.
    pub(crate) filler_after: Duration,
    /// What the caller hears while the reply is slow ("One moment."); empty: nothing.
    pub(crate) filler_line: String,
}

/// What follows a line once it has played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// Listen to the caller.
    Listen,
    /// Transfer to the advisor, at the latest `max_wait` after the line began.
    Transfer { max_wait: Duration },
    /// End the call, at the latest `max_wait` after the line began.
    End { max_wait: Duration },
}

/// Everything the machine reacts to.
#[derive(Debug)]
pub(crate) enum Event {
    /// The gateway's energy VAD heard the caller start to speak.
    VoiceStart,
    /// The gateway's energy VAD heard the caller stop (after its hangover).
    VoiceEnd,
    /// The gateway's energy VAD heard a short silence inside the caller's speech (before its
    /// hangover ends the speech).
    VoicePause,
    /// Twilio echoed a mark.
    Mark(String),
    /// The recogniser heard voice begin.
    SpeechStarted,
    /// An interim transcript, and what its words say about the end of the turn.
    Interim { text: String, end: TurnEnd },
    /// The recogniser thinks the turn has probably ended with these words (Flux
    /// `EagerEndOfTurn`).
    EagerEnd { text: String },
    /// The caller went on after the recogniser's eager end (Flux `TurnResumed`).
    TurnResumed,
    /// A complete caller utterance (finals assembled), when its last final arrived, and what
    /// its words say about the end of the turn.
    Utterance {
        text: String,
        at: Instant,
        end: TurnEnd,
    },
    /// TTS audio for the turn being spoken, and when it arrived.
    TtsAudio { mulaw: bytes::Bytes, at: Instant },
    /// TTS delivered all audio of the oldest open flush group.
    TtsFlushed,
    /// TTS confirmed a clear.
    TtsCleared,
    /// The TTS session failed.
    TtsLost,
    /// A new TTS session is ready.
    TtsRestored,
    /// The LLM request of reply `turn` went out.
    ReplyRequestSent { turn: u64, at: Instant },
    /// Reply `turn`'s first token arrived.
    ReplyFirstToken { turn: u64, at: Instant },
    /// Reply text ready for TTS.
    ReplyPiece { turn: u64, text: String },
    /// The reply is complete.
    ReplyDone { turn: u64 },
    /// The reply failed before saying anything.
    ReplyFailed { turn: u64 },
    /// The conversation wants this line said as its own turn, then `then`.
    Say { text: String, then: Then },
    /// The conversation wants an LLM reply to the caller's last utterance (at `utterance_at`);
    /// `early` is the early reply (from `CallerTurn`) that already answers it.
    Reply {
        utterance_at: Option<Instant>,
        early: Option<u64>,
    },
    /// Stop speaking now (keypad, lost speech recognition, shutdown).
    StopSpeaking { cause: &'static str },
    /// A deadline from `next_deadline` was reached.
    Tick,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Send this frame (`media`, `mark` or `clear`) to Twilio.
    Phone(String),
    /// Send text to TTS, followed by a `Flush` when `flush`.
    TtsText { text: String, flush: bool },
    /// Send a `Flush` to TTS.
    TtsFlush,
    /// Send a `Clear` to TTS.
    TtsClear,
    /// Ask the recogniser to finalize what it has heard now (Deepgram `Finalize`): the words say
    /// the turn is complete and the caller has paused.
    FinalizeStt,
    /// Start the LLM reply with this id.
    StartReply { turn: u64 },
    /// Start reply `turn` to `text` now, before the turn is known to have ended; nothing of it
    /// may reach the caller (or run a tool) until `ConfirmReply`.
    StartEarlyReply { turn: u64, text: String },
    /// The early reply `turn` answers the caller's turn: let it speak.
    ConfirmReply { turn: u64 },
    /// Throw the early reply `turn` away.
    DropEarlyReply { turn: u64, cause: &'static str },
    /// Cancel the LLM reply in flight.
    CancelReply,
    /// The caller took the floor with these words: the conversation decides what follows.
    /// `early` is an early reply started on the same words, for `Event::Reply`.
    CallerTurn {
        text: String,
        at: Instant,
        early: Option<u64>,
    },
    /// The complete text of the agent's turn `turn`: it goes into history.
    Spoken { turn: u64, text: String },
    /// Turn `turn` was cut off: history keeps only `heard` of it.
    Interrupted {
        turn: u64,
        heard: String,
        cause: &'static str,
    },
    /// The reply failed: the conversation says its fallback line.
    ReplyFailed,
    /// The line has played (or its wait ran out): transfer to the advisor.
    Transfer,
    /// The line has played (or its wait ran out): end the call.
    End,
    /// Nobody has spoken for the silence limit.
    SilenceTimeout,
    /// The call reached its longest duration.
    LengthReached,
    /// The turn's latency record, for the call record.
    TurnTimings(Value),
    /// The conversation moved on: write the session.
    SaveSession,
    /// TTS is gone: connect the fallback voice (then `TtsRestored`) or give up.
    ReconnectTts,
}

/// The turn being spoken, with its latency bookkeeping.
#[derive(Debug, Clone)]
struct Spoken {
    turn: u64,
    from_llm: bool,
    /// Started as an early reply.
    early: bool,
    /// The reply text is complete (fixed lines are complete at once).
    text_complete: bool,
    pieces_sent: usize,
    utterance_at: Option<Instant>,
    llm_request_at: Option<Instant>,
    llm_first_token_at: Option<Instant>,
    first_tts_request_at: Option<Instant>,
    first_tts_audio_at: Option<Instant>,
    first_frame_sent_at: Option<Instant>,
    first_mark_at: Option<Instant>,
}

/// An undecided barge-in.
#[derive(Debug, Clone, Copy)]
struct Pause {
    /// Resume at this instant unless words come first (set when the caller's sound ends).
    resume_at: Option<Instant>,
    /// Resume at this instant whatever happens.
    give_up_at: Instant,
}

/// An utterance that stopped mid-phrase, waiting for the rest.
#[derive(Debug, Clone)]
struct Held {
    text: String,
    at: Instant,
    /// Answer it at this instant unless the caller goes on (none while the caller speaks).
    deadline: Option<Instant>,
    /// Answer it at this instant whatever happens.
    give_up_at: Instant,
}

/// Counts of what barge-in decided, for the call's log line and record.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BargeInCounts {
    /// Pauses (caller voice while the agent spoke).
    pub(crate) pauses: u32,
    /// Pauses that resumed the agent (backchannel or noise).
    pub(crate) resumed: u32,
    /// Real interruptions (the agent's turn was cut).
    pub(crate) interruptions: u32,
}

/// The turn-taking machine of one call.
#[derive(Debug)]
pub(crate) struct Floor {
    cfg: FloorConfig,
    playback: Playback,
    next_turn: u64,
    speaking: Option<Spoken>,
    /// The LLM reply in flight.
    reply: Option<u64>,
    caller_speaking: bool,
    /// When the current silence began (nobody speaking, nothing playing, no reply pending).
    silence_since: Option<Instant>,
    /// A silence timeout fired since the caller last took a turn.
    checked_in: bool,
    pause: Option<Pause>,
    /// After the current line: transfer or end, at the latest at this instant.
    after_line: Option<(Then, Instant)>,
    length_deadline: Option<Instant>,
    /// A TTS `Clear` went out at this instant and its `Cleared` has not come back.
    awaiting_cleared: Option<Instant>,
    tts_down: bool,
    /// What the caller had not heard when TTS was lost, to say again in the new voice.
    unheard_for_new_voice: Option<String>,
    counts: BargeInCounts,
    /// What the latest interim's words said about the end of the turn.
    interim_end: TurnEnd,
    /// The latest interim's words.
    interim_text: String,
    /// The early reply in flight and the words it answers (`speech_key`).
    early: Option<(u64, String)>,
    /// The reply has said nothing yet: the filler plays at this instant.
    filler_at: Option<Instant>,
    /// A `Finalize` was asked for in this caller turn.
    finalize_sent: bool,
    held: Option<Held>,
    out: Vec<Action>,
    frames: Vec<String>,
}

impl Floor {
    /// A machine for a call that started at `now` and may last `max_duration`.
    pub(crate) fn new(
        cfg: FloorConfig,
        stream_sid: StreamSid,
        now: Instant,
        max_duration: Duration,
    ) -> Self {
        Self {
            playback: Playback::new(stream_sid, cfg.mark_every_frames),
            cfg,
            next_turn: 1,
            speaking: None,
            reply: None,
            caller_speaking: false,
            silence_since: None,
            checked_in: false,
            pause: None,
            after_line: None,
            length_deadline: now.checked_add(max_duration),
            awaiting_cleared: None,
            tts_down: false,
            unheard_for_new_voice: None,
            counts: BargeInCounts::default(),
            interim_end: TurnEnd::Unsure,
            interim_text: String::new(),
            early: None,
            filler_at: None,
            finalize_sent: false,
            held: None,
            out: Vec::with_capacity(64),
            frames: Vec::with_capacity(64),
        }
    }

    /// Barge-in counts so far.
    pub(crate) fn counts(&self) -> BargeInCounts {
        self.counts
    }

    /// Whether the agent holds the floor: a turn is playing, paused or being written.
    pub(crate) fn agent_is_speaking(&self) -> bool {
        self.speaking.is_some()
            && (self.playback.is_speaking() || self.reply.is_some() || self.pause.is_some())
    }

    /// The turn being spoken, if any.
    pub(crate) fn speaking_turn(&self) -> Option<u64> {
        self.speaking.as_ref().map(|s| s.turn)
    }

    /// When the driver must send `Event::Tick` next.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let silence = self.silence_since.map(|since| since + self.silence_limit());
        [
            self.pause.and_then(|p| p.resume_at),
            self.pause.map(|p| p.give_up_at),
            self.held.as_ref().and_then(|h| h.deadline),
            self.held.as_ref().map(|h| h.give_up_at),
            self.filler_at,
            self.after_line.map(|(_, at)| at),
            self.length_deadline,
            silence,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Takes one event; returns what to do.
    pub(crate) fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        match event {
            Event::VoiceStart => {
                self.caller_speaking = true;
                self.silence_since = None;
                if let Some(held) = &mut self.held {
                    held.deadline = None;
                }
                match &mut self.pause {
                    Some(pause) => pause.resume_at = None,
                    None => self.maybe_pause(now),
                }
            }
            Event::VoiceEnd => {
                self.caller_speaking = false;
                if let Some(held) = &mut self.held {
                    held.deadline = Some(now + self.cfg.unfinished_hold);
                }
                match &mut self.pause {
                    Some(pause) => pause.resume_at = Some(now + self.cfg.pause_resume_after),
                    None => self.restart_silence_if_idle(now),
                }
            }
            Event::VoicePause => {
                if self.cfg.turn_end_by_meaning
                    && !self.cfg.recogniser_ends_turns
                    && self.interim_end == TurnEnd::Complete
                    && !self.finalize_sent
                    && !self.agent_is_speaking()
                {
                    self.finalize_sent = true;
                    metrics::counter!("voice_early_finalize_total").increment(1);
                    self.out.push(Action::FinalizeStt);
                    // The words are complete and the caller paused: the final will most likely
                    // say the same, so the reply can start while it comes.
                    self.start_early_reply(self.interim_text.clone());
                }
            }
            Event::SpeechStarted => {
                self.silence_since = None;
                self.maybe_pause(now);
            }
            Event::EagerEnd { text } => self.start_early_reply(text),
            Event::TurnResumed => self.drop_early_reply("caller went on"),
            Event::Interim { text, end } => {
                if !text.trim().is_empty() {
                    if self
                        .early
                        .as_ref()
                        .is_some_and(|(_, key)| *key != speech_key(&text))
                    {
                        self.drop_early_reply("words changed");
                    }
                    self.interim_end = end;
                    text.trim().clone_into(&mut self.interim_text);
                    self.silence_since = None;
                    if let Some(held) = &mut self.held {
                        held.deadline = None;
                    }
                    // "uh-huh" while the agent speaks is the caller listening, not taking the turn:
                    // a pause it caused ends at once (more words after it still interrupt).
                    if !is_backchannel(&text) && self.agent_is_speaking() {
                        self.interrupt(now, "interim transcript");
                    } else if self.pause.is_some() && is_backchannel(&text) {
                        info!("backchannel during a pause; the agent resumes");
                        self.resume(now);
                    }
                }
            }
            Event::Utterance { text, at, end } => self.on_utterance(text, at, end, now),
            Event::Mark(name) => self.on_mark(&name, now),
            Event::TtsAudio { mulaw, at } => {
                if self.drop_until_cleared(now) {
                    return self.take_out();
                }
                if let Some(speaking) = self.speaking.as_mut() {
                    // A filler's audio is heard, but the reply's latency is to its own audio.
                    let filler = self.playback.audio_is_filler();
                    if !filler {
                        speaking.first_tts_audio_at.get_or_insert(at);
                    }
                    self.playback.push_audio(&mulaw, &mut self.frames);
                    let sent = !self.frames.is_empty();
                    if !filler && sent && speaking.first_frame_sent_at.is_none() {
                        speaking.first_frame_sent_at = Some(now);
                        metrics::histogram!("voice_tts_audio_to_twilio_seconds")
                            .record(now.saturating_duration_since(at).as_secs_f64());
                    }
                    self.emit_frames();
                }
            }
            Event::TtsFlushed => {
                if self.drop_until_cleared(now) {
                    return self.take_out();
                }
                if self.speaking.is_some() {
                    self.playback.group_flushed(&mut self.frames);
                    self.emit_frames();
                    self.check_played(now);
                }
            }
            Event::TtsCleared => self.awaiting_cleared = None,
            Event::TtsLost => {
                if !self.tts_down {
                    self.tts_down = true;
                    self.interrupt(now, "tts lost");
                    self.out.push(Action::ReconnectTts);
                }
            }
            Event::TtsRestored => {
                self.tts_down = false;
                self.awaiting_cleared = None;
                if let Some(text) = self.unheard_for_new_voice.take() {
                    self.say(text, Then::Listen, now);
                }
            }
            Event::ReplyRequestSent { turn, at } => {
                if let Some(speaking) = self.reply_turn(turn) {
                    speaking.llm_request_at.get_or_insert(at);
                    if let Some(utterance_at) = speaking.utterance_at {
                        metrics::histogram!("voice_transcript_to_llm_request_seconds")
                            .record(at.saturating_duration_since(utterance_at).as_secs_f64());
                    }
                }
            }
            Event::ReplyFirstToken { turn, at } => {
                if let Some(speaking) = self.reply_turn(turn) {
                    speaking.llm_first_token_at.get_or_insert(at);
                }
            }
            Event::ReplyPiece { turn, text } => {
                if self.reply == Some(turn) {
                    self.filler_at = None;
                    self.speak_piece(text, now);
                }
            }
            Event::ReplyDone { turn } => {
                if self.reply == Some(turn) {
                    self.reply = None;
                    self.finish_reply_text(now);
                }
            }
            Event::ReplyFailed { turn } => {
                if self.reply == Some(turn) {
                    self.reply = None;
                    self.out.push(Action::ReplyFailed);
                }
            }
            Event::Say { text, then } => self.say(text, then, now),
            Event::Reply {
                utterance_at,
                early,
            } => {
                self.cancel_reply();
                self.drop_early_reply("another reply");
                if self.pause.is_some() {
                    self.interrupt(now, "new reply");
                }
                if !self.cfg.filler_line.is_empty() {
                    self.filler_at = Some(now + self.cfg.filler_after);
                }
                match early {
                    Some(turn) => {
                        self.begin_turn_as(turn, true, utterance_at);
                        if let Some(speaking) = self.speaking.as_mut() {
                            speaking.early = true;
                        }
                        self.reply = Some(turn);
                        self.out.push(Action::ConfirmReply { turn });
                    }
                    None => {
                        let turn = self.begin_turn(true, utterance_at);
                        self.reply = Some(turn);
                        self.out.push(Action::StartReply { turn });
                    }
                }
            }
            Event::StopSpeaking { cause } => {
                self.cancel_reply();
                self.drop_early_reply(cause);
                self.interrupt(now, cause);
            }
            Event::Tick => self.on_tick(now),
        }
        self.take_out()
    }

    fn take_out(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    fn emit_frames(&mut self) {
        self.out.extend(self.frames.drain(..).map(Action::Phone));
    }

    fn silence_limit(&self) -> Duration {
        if self.checked_in {
            self.cfg.silence_hang_up
        } else {
            self.cfg.silence_check_in
        }
    }

    fn reply_turn(&mut self, turn: u64) -> Option<&mut Spoken> {
        if self.reply != Some(turn) {
            return None;
        }
        self.speaking.as_mut().filter(|s| s.turn == turn)
    }

    /// Audio and `Flushed` of a turn whose TTS was cleared are dropped until `Cleared` arrives.
    fn drop_until_cleared(&mut self, now: Instant) -> bool {
        match self.awaiting_cleared {
            Some(since) if now.saturating_duration_since(since) < self.cfg.cleared_max_wait => true,
            Some(_) => {
                self.awaiting_cleared = None;
                false
            }
            None => false,
        }
    }

    fn on_utterance(&mut self, text: String, at: Instant, end: TurnEnd, now: Instant) {
        self.interim_end = TurnEnd::Unsure;
        self.interim_text.clear();
        self.finalize_sent = false;
        // "yes" or "okay" over the end of the agent's question answers it: a turn, not a
        // backchannel.
        let backchannel = is_backchannel(&text) && !self.answers_the_question();
        if self.pause.is_some() {
            if backchannel {
                info!("backchannel during a pause; the agent resumes");
                self.resume(now);
                return;
            }
            self.interrupt(now, "final transcript");
        } else if self.agent_is_speaking() {
            if backchannel {
                debug!("backchannel while the agent speaks; not a turn");
                return;
            }
            self.interrupt(now, "final transcript");
        } else if backchannel && self.reply.is_some() {
            // "okay" while the reply is being written: let the reply come.
            return;
        }
        // Words that stop mid-phrase ("I need an oil change and") wait for the rest.
        let (text, give_up_at) = match self.held.take() {
            Some(held) => (format!("{} {text}", held.text), held.give_up_at),
            None => (text, now + self.cfg.max_hold),
        };
        if self.cfg.turn_end_by_meaning
            && end == TurnEnd::Unfinished
            && give_up_at > now
            && self.reply.is_none()
        {
            debug!("unfinished words; waiting for the rest");
            metrics::counter!("voice_unfinished_holds_total").increment(1);
            self.drop_early_reply("unfinished words");
            self.held = Some(Held {
                text,
                at,
                deadline: (!self.caller_speaking).then(|| now + self.cfg.unfinished_hold),
                give_up_at,
            });
            return;
        }
        self.caller_turn(text, at);
    }

    fn caller_turn(&mut self, text: String, at: Instant) {
        self.silence_since = None;
        self.checked_in = false;
        self.cancel_reply();
        let early = match self.early.take() {
            Some((turn, key)) if key == speech_key(&text) => Some(turn),
            Some((turn, _)) => {
                self.out.push(Action::DropEarlyReply {
                    turn,
                    cause: "final words differ",
                });
                None
            }
            None => None,
        };
        self.out.push(Action::CallerTurn { text, at, early });
    }

    /// Starts a reply to words that probably end the caller's turn, if nobody else holds the
    /// floor and no other reply is being written.
    fn start_early_reply(&mut self, text: String) {
        let key = speech_key(&text);
        if !self.cfg.early_replies
            || key.is_empty()
            || self.agent_is_speaking()
            || self.reply.is_some()
            || self.held.is_some()
        {
            return;
        }
        if let Some((_, current)) = &self.early {
            if *current == key {
                return;
            }
            self.drop_early_reply("words changed");
        }
        let turn = self.next_turn;
        self.next_turn += 1;
        self.early = Some((turn, key));
        self.out.push(Action::StartEarlyReply { turn, text });
    }

    fn drop_early_reply(&mut self, cause: &'static str) {
        if let Some((turn, _)) = self.early.take() {
            self.out.push(Action::DropEarlyReply { turn, cause });
        }
    }

    /// The agent's complete turn ends in a question and the caller has heard everything before
    /// that last sentence.
    fn answers_the_question(&self) -> bool {
        if !self.speaking.as_ref().is_some_and(|s| s.text_complete) {
            return false;
        }
        let full = self.playback.full_text();
        let full = full.trim_end();
        let Some(before_mark) = full.strip_suffix('?') else {
            return false;
        };
        self.playback.heard_text().len() >= sentence_start(before_mark, before_mark.len())
    }

    fn on_mark(&mut self, name: &str, now: Instant) {
        let outcome = self.playback.on_mark(name);
        if let Some(speaking) = self.speaking.as_mut()
            && speaking.first_mark_at.is_none()
            && speaking.turn == self.playback.turn()
            && matches!(outcome, MarkOutcome::Progress | MarkOutcome::TurnPlayed)
            && self.playback.heard_reply()
        {
            speaking.first_mark_at = Some(now);
        }
        self.check_played(now);
    }

    /// The current turn is over once its text is complete and every byte and mark has played.
    fn check_played(&mut self, now: Instant) {
        if self.pause.is_none()
            && self.playback.is_idle()
            && self.speaking.as_ref().is_some_and(|s| s.text_complete)
        {
            self.turn_played(now);
        }
    }

    fn on_tick(&mut self, now: Instant) {
        if self.filler_at.is_some_and(|at| at <= now) {
            self.filler_at = None;
            self.say_filler();
        }
        if let Some(held) = &self.held
            && (held.deadline.is_some_and(|at| at <= now) || held.give_up_at <= now)
        {
            let held = self.held.take().expect("checked above");
            self.caller_turn(held.text, held.at);
        }
        if let Some(pause) = self.pause
            && (pause.resume_at.is_some_and(|at| at <= now) || pause.give_up_at <= now)
        {
            info!(
                caller_speaking = self.caller_speaking,
                "no words after the pause; the agent resumes"
            );
            self.resume(now);
        }
        if let Some((then, at)) = self.after_line
            && at <= now
        {
            self.after_line = None;
            self.do_then(then);
        }
        if self.length_deadline.is_some_and(|at| at <= now) {
            self.length_deadline = None;
            self.out.push(Action::LengthReached);
        }
        if let Some(since) = self.silence_since
            && since + self.silence_limit() <= now
            && !self.agent_is_speaking()
            && self.reply.is_none()
        {
            self.silence_since = None;
            self.out.push(Action::SilenceTimeout);
            self.checked_in = true;
        }
    }

    fn do_then(&mut self, then: Then) {
        match then {
            Then::Listen => {}
            Then::Transfer { .. } => self.out.push(Action::Transfer),
            Then::End { .. } => self.out.push(Action::End),
        }
    }

    /// Voice began while the agent holds the floor: stop its audio at the caller, keep the turn.
    fn maybe_pause(&mut self, now: Instant) {
        if self.pause.is_some() || !self.agent_is_speaking() {
            return;
        }
        self.playback.pause(&mut self.frames);
        self.emit_frames();
        // Paused by the recogniser while the gateway's own VAD hears nothing (speech too quiet
        // for it, or the recogniser's onset came late): no `VoiceEnd` will follow, so the resume
        // is timed from now; words still interrupt, and a `VoiceStart` cancels the timer.
        let resume_at = (!self.caller_speaking).then(|| now + self.cfg.pause_resume_after);
        self.pause = Some(Pause {
            resume_at,
            give_up_at: now + self.cfg.pause_max,
        });
        self.counts.pauses += 1;
        metrics::counter!("voice_barge_in_pauses_total").increment(1);
        debug!("caller voice while the agent speaks: paused");
    }

    /// The pause was a backchannel or noise: the agent picks up where the caller stopped hearing.
    fn resume(&mut self, now: Instant) {
        if self.pause.take().is_none() {
            return;
        }
        let resent = self.playback.resume(&mut self.frames);
        self.emit_frames();
        self.counts.resumed += 1;
        metrics::counter!("voice_barge_in_resumes_total").increment(1);
        debug!(resent_bytes = resent, "pause resumed");
        self.check_played(now);
    }

    /// The reply is slow and has said nothing: the caller hears the filler line, which goes into
    /// no history and no latency figure.
    fn say_filler(&mut self) {
        let quiet = self.reply.is_some()
            && self.pause.is_none()
            && !self.tts_down
            && self
                .speaking
                .as_ref()
                .is_some_and(|s| s.from_llm && s.pieces_sent == 0);
        if !quiet {
            return;
        }
        debug!("the reply is slow; saying the filler");
        metrics::counter!("voice_fillers_total").increment(1);
        let line = self.cfg.filler_line.clone();
        self.playback.add_filler(&line);
        self.out.push(Action::TtsText {
            text: line,
            flush: true,
        });
    }

    fn cancel_reply(&mut self) {
        self.filler_at = None;
        if self.reply.take().is_some() {
            self.out.push(Action::CancelReply);
        }
    }

    /// A real interruption: the turn ends where the caller stopped hearing it.
    fn interrupt(&mut self, now: Instant, cause: &'static str) {
        self.cancel_reply();
        self.pause = None;
        let Some(speaking) = self.speaking.take() else {
            return;
        };
        self.playback.clear(&mut self.frames);
        self.emit_frames();
        if !self.tts_down {
            self.out.push(Action::TtsClear);
            self.awaiting_cleared = Some(now);
        }
        self.counts.interruptions += 1;
        metrics::counter!("voice_barge_ins_total").increment(1);
        let heard = self.playback.heard_text();
        let full = self.playback.full_text();
        info!(
            cause,
            heard_chars = heard.len(),
            full_chars = full.len(),
            "barge-in: agent stopped"
        );
        // Resume from the start of the sentence the caller was cut off in: it sounds natural.
        let unheard = full
            .get(sentence_start(&full, heard.len())..)
            .map(|rest| rest.trim().to_owned())
            .filter(|rest| !rest.is_empty());
        if cause == "tts lost" {
            self.unheard_for_new_voice = unheard;
        }
        self.out.push(Action::Interrupted {
            turn: speaking.turn,
            heard,
            cause,
        });
        self.record_timings(&speaking, true);
        self.restart_silence_if_idle(now);
    }

    fn begin_turn(&mut self, from_llm: bool, utterance_at: Option<Instant>) -> u64 {
        let turn = self.next_turn;
        self.next_turn += 1;
        self.begin_turn_as(turn, from_llm, utterance_at);
        turn
    }

    fn begin_turn_as(&mut self, turn: u64, from_llm: bool, utterance_at: Option<Instant>) {
        self.playback.begin_turn(turn);
        self.speaking = Some(Spoken {
            turn,
            from_llm,
            early: false,
            text_complete: !from_llm,
            pieces_sent: 0,
            utterance_at,
            llm_request_at: None,
            llm_first_token_at: None,
            first_tts_request_at: None,
            first_tts_audio_at: None,
            first_frame_sent_at: None,
            first_mark_at: None,
        });
        self.silence_since = None;
    }

    fn say(&mut self, text: String, then: Then, now: Instant) {
        self.cancel_reply();
        self.drop_early_reply("the agent speaks");
        if self.pause.is_some() {
            self.interrupt(now, "new line");
        }
        let turn = self.begin_turn(false, None);
        self.after_line = match then {
            Then::Listen => None,
            Then::Transfer { max_wait } | Then::End { max_wait } => Some((then, now + max_wait)),
        };
        self.out.push(Action::Spoken {
            turn,
            text: text.clone(),
        });
        self.send_to_tts(text, true, now);
    }

    fn speak_piece(&mut self, text: String, now: Instant) {
        let Some(speaking) = self.speaking.as_ref() else {
            return;
        };
        // The first piece goes out alone for latency; later ones are flushed together at the end
        // unless they pile up.
        let flush = speaking.pieces_sent == 0
            || self.playback.unflushed_len() + text.len() > self.cfg.max_unflushed_chars;
        self.send_to_tts(text, flush, now);
    }

    fn send_to_tts(&mut self, text: String, flush: bool, now: Instant) {
        if let Some(speaking) = self.speaking.as_mut() {
            if speaking.first_tts_request_at.is_none() {
                speaking.first_tts_request_at = Some(now);
                if let Some(first_token) = speaking.llm_first_token_at {
                    metrics::histogram!("voice_llm_token_to_tts_request_seconds")
                        .record(now.saturating_duration_since(first_token).as_secs_f64());
                }
            }
            speaking.pieces_sent += 1;
        }
        self.playback.add_text(&text);
        if flush {
            self.playback.close_group();
        }
        if !self.tts_down {
            self.out.push(Action::TtsText { text, flush });
        }
    }

    /// The reply is complete: flush its tail and give its text to history.
    fn finish_reply_text(&mut self, now: Instant) {
        if self.playback.has_unflushed_text() {
            self.playback.close_group();
            if !self.tts_down {
                self.out.push(Action::TtsFlush);
            }
        }
        let text = self.playback.full_text();
        let Some(speaking) = self.speaking.as_mut() else {
            return;
        };
        speaking.text_complete = true;
        if !text.is_empty() {
            self.out.push(Action::Spoken {
                turn: speaking.turn,
                text,
            });
        }
        self.out.push(Action::SaveSession);
        self.check_played(now);
    }

    /// Everything of the current turn has played.
    fn turn_played(&mut self, now: Instant) {
        let Some(speaking) = self.speaking.take() else {
            return;
        };
        self.record_timings(&speaking, false);
        if let Some((then, _)) = self.after_line.take() {
            self.do_then(then);
            if then != Then::Listen {
                return;
            }
        }
        self.restart_silence_if_idle(now);
    }

    fn restart_silence_if_idle(&mut self, now: Instant) {
        if !self.caller_speaking && !self.agent_is_speaking() && self.reply.is_none() {
            self.silence_since = Some(now);
        }
    }

    fn record_timings(&mut self, spoken: &Spoken, interrupted: bool) {
        let ms = |from: Option<Instant>, to: Option<Instant>| match (from, to) {
            (Some(from), Some(to)) => {
                Some(to.saturating_duration_since(from).as_secs_f64() * 1000.0)
            }
            _ => None,
        };
        let transcript_to_llm = ms(spoken.utterance_at, spoken.llm_request_at);
        let first_token = ms(spoken.llm_request_at, spoken.llm_first_token_at);
        let token_to_tts = ms(spoken.llm_first_token_at, spoken.first_tts_request_at);
        let tts_first_audio = ms(spoken.first_tts_request_at, spoken.first_tts_audio_at);
        let audio_to_twilio = ms(spoken.first_tts_audio_at, spoken.first_frame_sent_at);
        let caller_ear = ms(spoken.utterance_at, spoken.first_mark_at);
        let voice_to_voice = ms(spoken.utterance_at, spoken.first_frame_sent_at);
        if spoken.from_llm {
            info!(
                turn = spoken.turn,
                interrupted,
                early = spoken.early,
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
        self.out.push(Action::TurnTimings(json!({
            "turn": spoken.turn,
            "from_llm": spoken.from_llm,
            "early": spoken.early,
            "interrupted": interrupted,
            "transcript_to_llm_ms": transcript_to_llm,
            "llm_first_token_ms": first_token,
            "token_to_tts_ms": token_to_tts,
            "tts_first_audio_ms": tts_first_audio,
            "audio_to_twilio_ms": audio_to_twilio,
            "voice_to_voice_ms": voice_to_voice,
            "caller_ear_ms": caller_ear,
        })));
    }
}

/// The words of `text` for comparing an early reply's words with the final ones: lower case,
/// letters, digits and apostrophes only, single spaces ("Tomorrow at 2." and "tomorrow at 2"
/// are the same words).
pub(crate) fn speech_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        let word: String = word
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '\'')
            .flat_map(char::to_lowercase)
            .collect();
        if word.is_empty() {
            continue;
        }
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(&word);
    }
    key
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

#[cfg(test)]
mod tests;
