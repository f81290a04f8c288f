//! What the agent has sent to the caller and what the caller has heard.
//!
//! A spoken reply (a "turn") is sent to TTS in flush groups: the text between two `Flush`es. TTS
//! audio for the current group is cut into 20 ms frames and sent to Twilio as `media`; a `mark`
//! follows every `mark_every_frames` frames and at the end of each group. Mark names carry
//! `turn:group:bytes`, so an echo says exactly how much audio of which group has played.
//! After a `clear`, Twilio echoes every pending mark at once: those echoes are counted (so we know
//! when the buffer is empty) but not believed as "heard".
//!
//! Owned by the driver task only; no locks.

use audio_codec::{FRAME_BYTES, MULAW_SILENCE};
use twilio::{StreamSid, media};

/// A typical speaking rate in μ-law bytes per character of text (about 65 ms a character).
const ESTIMATED_BYTES_PER_CHAR: usize = 520;

/// One group of text flushed to TTS together, and its audio.
#[derive(Debug, Clone, Default)]
struct Group {
    text: String,
    /// Every byte of TTS audio received for this group, kept until the turn ends so a pause can
    /// resume from the group's start without asking TTS again.
    audio: Vec<u8>,
    /// Bytes of `audio` framed and sent since the group was last (re)started.
    framed: usize,
    /// Bytes sent to Twilio for this group (whole frames, the last one padded).
    bytes_sent: usize,
    /// TTS said `Flushed` for this group.
    done: bool,
    /// The group's last frame and end mark were sent.
    ended: bool,
    /// A filler said while the reply is being written: heard, but never part of what the agent
    /// said (history, read-backs) or of the reply's latency.
    filler: bool,
}

/// Progress of the current turn's audio.
#[derive(Debug)]
pub(crate) struct Playback {
    stream_sid: StreamSid,
    mark_every_frames: usize,
    turn: u64,
    groups: Vec<Group>,
    /// Index of the group whose audio is arriving now.
    audio_group: usize,
    frames_since_mark: usize,
    /// Marks sent and not yet echoed (of any turn).
    pending_marks: usize,
    /// Echoes still to come for marks that were pending when a `clear` was sent: Twilio echoes
    /// them in order, so the next this many echoes say nothing about what was heard.
    stale_echoes: usize,
    /// The furthest point an echo (before any clear) confirmed: (group, bytes).
    heard: Option<(usize, usize)>,
    /// A `clear` ended this turn: later echoes of it are not "heard" and its audio is dropped.
    cleared: bool,
    /// A `clear` paused this turn: audio is kept, not sent, until `resume` or `clear`.
    paused: bool,
    /// The position of the last mark sent, so a group's end mark is not sent twice.
    last_mark: Option<(u64, usize, usize)>,
    /// Reusable JSON buffer: outbound media is encoded into it without a fresh allocation.
    scratch: String,
    first_audio_sent: bool,
}

/// What an echoed mark meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkOutcome {
    /// Progress inside the current turn.
    Progress,
    /// The last group of a complete turn has played: the agent finished speaking.
    TurnPlayed,
    /// An echo of an older turn or after a clear; only the pending count changed.
    Stale,
    /// Not one of our marks.
    Unknown,
}

impl Playback {
    /// A playback tracker for one stream.
    pub(crate) fn new(stream_sid: StreamSid, mark_every_frames: usize) -> Self {
        Self {
            stream_sid,
            mark_every_frames: mark_every_frames.max(1),
            turn: 0,
            groups: Vec::new(),
            audio_group: 0,
            frames_since_mark: 0,
            pending_marks: 0,
            stale_echoes: 0,
            heard: None,
            cleared: false,
            paused: false,
            last_mark: None,
            scratch: String::with_capacity(512),
            first_audio_sent: false,
        }
    }

    /// Starts tracking a new spoken turn.
    pub(crate) fn begin_turn(&mut self, turn: u64) {
        self.turn = turn;
        self.groups.clear();
        self.groups.push(Group::default());
        self.audio_group = 0;
        self.frames_since_mark = 0;
        self.heard = None;
        self.cleared = false;
        self.paused = false;
        self.first_audio_sent = false;
    }

    /// The turn being tracked.
    pub(crate) fn turn(&self) -> u64 {
        self.turn
    }

    /// Text was sent to TTS as part of the current group.
    pub(crate) fn add_text(&mut self, text: &str) {
        let group = self.groups.last_mut().expect("begin_turn pushes a group");
        if !group.text.is_empty() {
            group.text.push(' ');
        }
        group.text.push_str(text);
    }

    /// A filler line as a group of its own, before the reply's text (see `Group::filler`).
    pub(crate) fn add_filler(&mut self, text: &str) {
        let group = self.groups.last_mut().expect("begin_turn pushes a group");
        debug_assert!(
            group.text.is_empty(),
            "a filler comes before any reply text"
        );
        group.text.push_str(text);
        group.filler = true;
        self.groups.push(Group::default());
    }

    /// Whether the audio arriving now belongs to a filler.
    pub(crate) fn audio_is_filler(&self) -> bool {
        self.groups
            .get(self.audio_group)
            .is_some_and(|group| group.filler)
    }

    /// Whether the caller has heard (a mark confirmed) some of the reply itself, past any filler.
    pub(crate) fn heard_reply(&self) -> bool {
        self.heard.is_some_and(|(group, bytes)| {
            bytes > 0 && self.groups.get(group).is_some_and(|g| !g.filler)
        })
    }

    /// A `Flush` was sent: later text belongs to a new group.
    pub(crate) fn close_group(&mut self) {
        self.groups.push(Group::default());
    }

    /// Whether the current (last) group has text not yet flushed.
    pub(crate) fn has_unflushed_text(&self) -> bool {
        self.unflushed_len() > 0
    }

    /// Characters of text sent to TTS since the last flush.
    pub(crate) fn unflushed_len(&self) -> usize {
        self.groups.last().map_or(0, |g| g.text.len())
    }

    /// Nothing is on its way to the caller: all audio delivered and every mark echoed.
    pub(crate) fn is_idle(&self) -> bool {
        self.pending_marks == 0 && self.all_audio_delivered()
    }

    /// TTS audio arrived: frames it and appends Twilio messages to `out` (or keeps it while
    /// paused). Returns whether this was the first audio frame of the turn.
    pub(crate) fn push_audio(&mut self, mulaw: &[u8], out: &mut Vec<String>) -> bool {
        if self.cleared || self.groups.is_empty() {
            return false;
        }
        let group_idx = self.audio_group.min(self.groups.len() - 1);
        self.groups[group_idx].audio.extend_from_slice(mulaw);
        if self.paused {
            return false;
        }
        let first = !self.first_audio_sent;
        let sent = self.send_group_audio(group_idx, out);
        first && sent
    }

    /// TTS finished the audio of the oldest open group: pads and sends its last frame and a mark.
    pub(crate) fn group_flushed(&mut self, out: &mut Vec<String>) {
        if self.cleared || self.audio_group >= self.groups.len() {
            return;
        }
        self.groups[self.audio_group].done = true;
        if !self.paused {
            self.end_group(self.audio_group, out);
        }
        self.audio_group += 1;
    }

    /// Whether every group with text has had its audio delivered.
    pub(crate) fn all_audio_delivered(&self) -> bool {
        self.groups.iter().all(|g| g.ended || g.text.is_empty())
    }

    /// Barge-in: appends Twilio `clear` to `out` (unless a pause already sent it) and stops
    /// believing later echoes of this turn; audio still arriving for it is dropped.
    pub(crate) fn clear(&mut self, out: &mut Vec<String>) {
        if !self.paused {
            self.send_clear(out);
        }
        self.paused = false;
        self.cleared = true;
    }

    /// Pause-first barge-in: appends Twilio `clear` to `out` and keeps every later byte of this
    /// turn's audio until `resume` (the caller only said "uh-huh") or `clear` (a real interruption).
    /// What was heard stays what the echoes before the pause confirmed.
    pub(crate) fn pause(&mut self, out: &mut Vec<String>) {
        if self.paused || self.cleared {
            return;
        }
        self.send_clear(out);
        self.paused = true;
    }

    /// Ends a pause: sends the turn's audio again from the start of the group the caller stopped
    /// hearing (a sentence or clause boundary), then carries on live. Returns how many bytes of
    /// audio were sent again.
    pub(crate) fn resume(&mut self, out: &mut Vec<String>) -> usize {
        if !self.paused {
            return 0;
        }
        self.paused = false;
        let from = self.resume_group();
        let mut resent = 0;
        self.frames_since_mark = 0;
        self.last_mark = None;
        for idx in from..self.groups.len() {
            let group = &mut self.groups[idx];
            group.framed = 0;
            group.bytes_sent = 0;
            group.ended = false;
        }
        for idx in from..self.groups.len().min(self.audio_group + 1) {
            self.send_group_audio(idx, out);
            if self.groups[idx].done {
                self.end_group(idx, out);
            }
            resent += self.groups[idx].bytes_sent;
        }
        resent
    }

    /// The first group the caller has not heard to its end.
    fn resume_group(&self) -> usize {
        match self.heard {
            None => 0,
            Some((group, bytes)) => {
                let g = &self.groups[group];
                if g.ended && bytes >= g.bytes_sent {
                    group + 1
                } else {
                    group
                }
            }
        }
    }

    /// Whether the agent is mid-turn: text sent to TTS whose audio has not finished playing.
    pub(crate) fn is_speaking(&self) -> bool {
        !self.cleared && (self.pending_marks > 0 || !self.all_audio_delivered())
    }

    /// A mark echo from Twilio.
    pub(crate) fn on_mark(&mut self, name: &str) -> MarkOutcome {
        let Some((turn, group, bytes)) = parse_mark(name) else {
            return MarkOutcome::Unknown;
        };
        self.pending_marks = self.pending_marks.saturating_sub(1);
        if self.stale_echoes > 0 {
            self.stale_echoes -= 1;
            return MarkOutcome::Stale;
        }
        if turn != self.turn || self.cleared || self.paused {
            return MarkOutcome::Stale;
        }
        if self.heard.is_none_or(|h| (group, bytes) > h) {
            self.heard = Some((group, bytes));
        }
        let last_group_with_text = self.groups.iter().rposition(|g| !g.text.is_empty());
        let played_all = self.pending_marks == 0
            && self.all_audio_delivered()
            && last_group_with_text.is_none_or(|last| group >= last && self.groups[last].ended);
        if played_all {
            MarkOutcome::TurnPlayed
        } else {
            MarkOutcome::Progress
        }
    }

    /// The text of this turn the caller has heard, cut at a word boundary inside a partly played group.
    pub(crate) fn heard_text(&self) -> String {
        let Some((heard_group, heard_bytes)) = self.heard else {
            return String::new();
        };
        let mut res = String::new();
        for (idx, group) in self.groups.iter().enumerate() {
            if idx > heard_group || group.text.is_empty() {
                break;
            }
            if group.filler {
                continue;
            }
            // While a group's audio is still arriving its length is not known: estimate it from
            // the text, so early marks do not claim most of the sentence was heard.
            let total_bytes = if group.done {
                group.audio.len().next_multiple_of(FRAME_BYTES)
            } else {
                group
                    .audio
                    .len()
                    .max(group.text.chars().count() * ESTIMATED_BYTES_PER_CHAR)
            };
            let text = if idx < heard_group || heard_bytes >= total_bytes {
                group.text.as_str()
            } else {
                prefix_by_fraction(&group.text, heard_bytes, total_bytes)
            };
            if !text.is_empty() {
                if !res.is_empty() {
                    res.push(' ');
                }
                res.push_str(text);
            }
        }
        res
    }

    /// The whole text of this turn that was sent to TTS.
    pub(crate) fn full_text(&self) -> String {
        let parts: Vec<&str> = self
            .groups
            .iter()
            .filter(|g| !g.filler)
            .map(|g| g.text.as_str())
            .filter(|t| !t.is_empty())
            .collect();
        parts.join(" ")
    }

    fn send_clear(&mut self, out: &mut Vec<String>) {
        self.stale_echoes = self.pending_marks;
        media::encode_clear_into(&mut self.scratch, &self.stream_sid);
        out.push(self.scratch.clone());
    }

    /// Sends the whole frames of group `idx`'s audio not sent yet, with a mark every
    /// `mark_every_frames` frames. Returns whether any frame was sent.
    fn send_group_audio(&mut self, idx: usize, out: &mut Vec<String>) -> bool {
        let mut sent = false;
        loop {
            let group = &mut self.groups[idx];
            let Some(frame) = group.audio.get(group.framed..group.framed + FRAME_BYTES) else {
                break;
            };
            media::encode_media_into(&mut self.scratch, &self.stream_sid, frame);
            out.push(self.scratch.clone());
            group.framed += FRAME_BYTES;
            group.bytes_sent += FRAME_BYTES;
            sent = true;
            self.frames_since_mark += 1;
            if self.frames_since_mark >= self.mark_every_frames {
                self.push_mark(idx, out);
            }
        }
        self.first_audio_sent |= sent;
        sent
    }

    /// Sends group `idx`'s last partial frame (padded with silence) and its end mark.
    fn end_group(&mut self, idx: usize, out: &mut Vec<String>) {
        self.send_group_audio(idx, out);
        let group = &mut self.groups[idx];
        if group.framed < group.audio.len() {
            let mut last = [MULAW_SILENCE; FRAME_BYTES];
            let rest = &group.audio[group.framed..];
            last[..rest.len()].copy_from_slice(rest);
            group.framed = group.audio.len();
            group.bytes_sent += FRAME_BYTES;
            media::encode_media_into(&mut self.scratch, &self.stream_sid, &last);
            out.push(self.scratch.clone());
            self.first_audio_sent = true;
        }
        self.push_mark(idx, out);
        self.groups[idx].ended = true;
    }

    fn push_mark(&mut self, group: usize, out: &mut Vec<String>) {
        let bytes = self.groups.get(group).map_or(0, |g| g.bytes_sent);
        self.frames_since_mark = 0;
        if self.last_mark == Some((self.turn, group, bytes)) {
            return;
        }
        self.last_mark = Some((self.turn, group, bytes));
        let name = format!("{}:{}:{}", self.turn, group, bytes);
        media::encode_mark_into(&mut self.scratch, &self.stream_sid, &name);
        out.push(self.scratch.clone());
        self.pending_marks += 1;
    }
}

fn parse_mark(name: &str) -> Option<(u64, usize, usize)> {
    let mut parts = name.split(':');
    let turn = parts.next()?.parse().ok()?;
    let group = parts.next()?.parse().ok()?;
    let bytes = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((turn, group, bytes))
}

/// The words of `text` spoken in the first `played` of `total` bytes, assuming an even speaking rate.
fn prefix_by_fraction(text: &str, played: usize, total: usize) -> &str {
    if total == 0 {
        return "";
    }
    let target = text.len() * played / total;
    // Only count words whose end has been played.
    let mut end = 0;
    for (idx, ch) in text.char_indices() {
        if idx > target {
            break;
        }
        if ch.is_whitespace() {
            end = idx;
        }
    }
    if target >= text.len() {
        text
    } else {
        text[..end].trim_end()
    }
}

#[cfg(test)]
mod tests;
