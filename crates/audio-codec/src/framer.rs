//! Re-chunking an arbitrary μ-law byte stream into 20 ms frames.

#[cfg(test)]
mod tests;

use crate::mulaw::{FRAME_BYTES, MULAW_SILENCE};

/// Cuts a μ-law byte stream that arrives in arbitrary pieces (TTS audio, captures) into
/// complete `FRAME_BYTES`-byte (20 ms) frames.
///
/// Each input byte is copied at most once: bytes that complete a frame begun by an earlier
/// `push` are copied into an internal frame buffer, whole frames inside the pushed slice are
/// lent out in place, and only a trailing partial frame is copied to wait for the next `push`.
///
/// ```ignore
/// let mut framer = Framer::new();
/// for chunk in tts_chunks {
///     for frame in framer.push(&chunk) {
///         send(frame); // &[u8; FRAME_BYTES]
///     }
/// }
/// if let Some(last) = framer.finish() {
///     send(&last); // padded with MULAW_SILENCE
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Framer {
    /// Two frame buffers so that a frame completed by this `push` can be lent out while the
    /// tail of the same `push` is stored in the other one: this is what keeps every byte to a
    /// single copy.
    buffers: [[u8; FRAME_BYTES]; 2],
    /// Index into `buffers` of the frame being filled.
    filling_idx: usize,
    /// Bytes already in `buffers[filling_idx]`; always less than `FRAME_BYTES` between calls.
    filled_len: usize,
}

/// The complete frames made available by one `Framer::push`, oldest first.
///
/// Dropping it early loses nothing the framer still owns: the leftover partial frame was
/// stored when `push` returned. Frames not iterated are simply not looked at.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    /// A frame begun by an earlier `push` and completed by this one.
    completed: Option<&'a [u8; FRAME_BYTES]>,
    /// Whole frames lying inside the pushed slice, lent without copying.
    in_place: std::slice::Iter<'a, [u8; FRAME_BYTES]>,
}

impl Framer {
    /// A framer with no pending bytes.
    pub fn new() -> Self {
        Self {
            buffers: [[MULAW_SILENCE; FRAME_BYTES]; 2],
            filling_idx: 0,
            filled_len: 0,
        }
    }

    /// Adds `bytes` to the stream and returns every frame that is now complete.
    ///
    /// The frames borrow from the framer and from `bytes`; copy them out (or send them on)
    /// before the next `push`.
    pub fn push<'a>(&'a mut self, bytes: &'a [u8]) -> Frames<'a> {
        let mut rest = bytes;
        let mut completed_idx = None;
        if self.filled_len > 0 {
            let n_taken = rest.len().min(FRAME_BYTES - self.filled_len);
            let (head, tail) = rest.split_at(n_taken);
            self.buffers[self.filling_idx][self.filled_len..self.filled_len + n_taken]
                .copy_from_slice(head);
            self.filled_len += n_taken;
            rest = tail;
            if self.filled_len == FRAME_BYTES {
                completed_idx = Some(self.filling_idx);
                self.filling_idx = 1 - self.filling_idx;
                self.filled_len = 0;
            }
        }
        let (whole_frames, tail) = rest.as_chunks::<FRAME_BYTES>();
        if !tail.is_empty() {
            // Only reachable with `filled_len == 0`: a non-empty tail means the pending frame,
            // if any, was completed above.
            self.buffers[self.filling_idx][..tail.len()].copy_from_slice(tail);
            self.filled_len = tail.len();
        }
        Frames {
            completed: completed_idx.map(|idx| &self.buffers[idx]),
            in_place: whole_frames.iter(),
        }
    }

    /// Ends the stream: returns the pending partial frame padded with `MULAW_SILENCE`,
    /// or `None` when the stream ended on a frame boundary. The framer is then empty and
    /// can take a new stream.
    pub fn finish(&mut self) -> Option<[u8; FRAME_BYTES]> {
        if self.filled_len == 0 {
            return None;
        }
        let mut res = self.buffers[self.filling_idx];
        res[self.filled_len..].fill(MULAW_SILENCE);
        self.filled_len = 0;
        Some(res)
    }

    /// Drops the pending partial frame without emitting it (for example on barge-in, when
    /// the rest of the utterance will never be played).
    pub fn clear(&mut self) {
        self.filled_len = 0;
    }

    /// Bytes waiting for the rest of their frame; always less than `FRAME_BYTES`.
    pub fn pending_len(&self) -> usize {
        self.filled_len
    }
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a [u8; FRAME_BYTES];

    fn next(&mut self) -> Option<Self::Item> {
        self.completed.take().or_else(|| self.in_place.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n_frames = usize::from(self.completed.is_some()) + self.in_place.len();
        (n_frames, Some(n_frames))
    }
}

impl ExactSizeIterator for Frames<'_> {}

impl std::iter::FusedIterator for Frames<'_> {}
