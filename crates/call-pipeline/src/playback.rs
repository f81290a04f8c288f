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

use audio_codec::{FRAME_BYTES, Framer};
use twilio::{StreamSid, media};

/// A typical speaking rate in μ-law bytes per character of text (about 65 ms a character).
const ESTIMATED_BYTES_PER_CHAR: usize = 520;

/// One group of text flushed to TTS together, and the audio sent for it.
#[derive(Debug, Clone, Default)]
struct Group {
    text: String,
    bytes_sent: usize,
    /// TTS said `Flushed` for this group and the final mark was sent.
    done: bool,
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
    framer: Framer,
    frames_since_mark: usize,
    /// Marks sent and not yet echoed (of any turn).
    pending_marks: usize,
    /// The furthest point an echo (before any clear) confirmed: (group, bytes).
    heard: Option<(usize, usize)>,
    /// A `clear` was sent for this turn: later echoes of it are not "heard".
    cleared: bool,
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
            framer: Framer::new(),
            frames_since_mark: 0,
            pending_marks: 0,
            heard: None,
            cleared: false,
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
        self.framer.clear();
        self.frames_since_mark = 0;
        self.heard = None;
        self.cleared = false;
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

    /// TTS audio arrived: frames it and appends Twilio messages to `out`. Returns whether this was
    /// the first audio frame of the turn.
    pub(crate) fn push_audio(&mut self, mulaw: &[u8], out: &mut Vec<String>) -> bool {
        if self.cleared || self.groups.is_empty() {
            return false;
        }
        let group_idx = self.audio_group.min(self.groups.len() - 1);
        let first = !self.first_audio_sent;
        let mut n_frames = 0;
        for frame in self.framer.push(mulaw) {
            media::encode_media_into(&mut self.scratch, &self.stream_sid, frame);
            out.push(self.scratch.clone());
            n_frames += 1;
            self.groups[group_idx].bytes_sent += FRAME_BYTES;
            self.frames_since_mark += 1;
            if self.frames_since_mark >= self.mark_every_frames {
                // Inline `push_mark`: the framer is still borrowed by the loop.
                self.frames_since_mark = 0;
                let position = (self.turn, group_idx, self.groups[group_idx].bytes_sent);
                self.last_mark = Some(position);
                let name = format!("{}:{}:{}", position.0, position.1, position.2);
                media::encode_mark_into(&mut self.scratch, &self.stream_sid, &name);
                out.push(self.scratch.clone());
                self.pending_marks += 1;
            }
        }
        self.first_audio_sent |= n_frames > 0;
        first && n_frames > 0
    }

    /// TTS finished the audio of the oldest open group: pads and sends its last frame and a mark.
    pub(crate) fn group_flushed(&mut self, out: &mut Vec<String>) {
        if self.cleared || self.audio_group >= self.groups.len() {
            return;
        }
        if let Some(last) = self.framer.finish() {
            media::encode_media_into(&mut self.scratch, &self.stream_sid, &last);
            out.push(self.scratch.clone());
            self.groups[self.audio_group].bytes_sent += FRAME_BYTES;
            self.first_audio_sent = true;
        }
        self.push_mark(out);
        self.groups[self.audio_group].done = true;
        self.audio_group += 1;
    }

    /// Whether every group with text has had its audio delivered.
    pub(crate) fn all_audio_delivered(&self) -> bool {
        self.groups.iter().all(|g| g.done || g.text.is_empty())
    }

    /// Barge-in: appends Twilio `clear` to `out` and stops believing later echoes of this turn.
    pub(crate) fn clear(&mut self, out: &mut Vec<String>) {
        self.cleared = true;
        self.framer.clear();
        media::encode_clear_into(&mut self.scratch, &self.stream_sid);
        out.push(self.scratch.clone());
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
        if turn != self.turn || self.cleared {
            return MarkOutcome::Stale;
        }
        if self.heard.is_none_or(|h| (group, bytes) > h) {
            self.heard = Some((group, bytes));
        }
        let last_group_with_text = self.groups.iter().rposition(|g| !g.text.is_empty());
        let played_all = self.pending_marks == 0
            && self.all_audio_delivered()
            && last_group_with_text.is_none_or(|last| group >= last && self.groups[last].done);
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
            // While a group's audio is still arriving its length is not known: estimate it from
            // the text, so early marks do not claim most of the sentence was heard.
            let total_bytes = if group.done {
                group.bytes_sent
            } else {
                group
                    .bytes_sent
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
            .map(|g| g.text.as_str())
            .filter(|t| !t.is_empty())
            .collect();
        parts.join(" ")
    }

    fn push_mark(&mut self, out: &mut Vec<String>) {
        let group = self.audio_group.min(self.groups.len().saturating_sub(1));
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
