//! Cuts a streamed LLM reply into pieces worth sending to TTS on their own.
//!
//! TTS quality drops on tiny fragments and Deepgram allows 20 flushes a minute, but the caller's wait
//! is set by the first piece. So the first piece may end at a clause boundary once it is long enough,
//! later pieces end at sentence boundaries, and abbreviations or decimals ("Dr.", "3.5", "a.m.") do
//! not end a sentence.

/// Accumulates text deltas and hands back complete pieces.
#[derive(Debug, Default)]
pub(crate) struct SentenceSplitter {
    buffer: String,
    pieces_emitted: usize,
}

/// A first piece may end at `,`/`;`/`:` once it has at least this many characters.
const FIRST_CLAUSE_MIN_CHARS: usize = 40;
/// A sentence shorter than this is held back and joined to the next one ("Sure." "Okay.").
const SENTENCE_MIN_CHARS: usize = 12;
/// Without any boundary, a piece is cut at a space once it grows past this.
const MAX_PIECE_CHARS: usize = 220;

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "ave", "blvd", "rd", "jr", "sr", "vs", "etc", "approx", "no",
    "a.m", "p.m", "e.g", "i.e", "u.s", "mt", "ft",
];

impl SentenceSplitter {
    /// An empty splitter.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a delta; returns every piece it completed, in order.
    pub(crate) fn push(&mut self, delta: &str) -> Vec<String> {
        self.buffer.push_str(delta);
        let mut pieces = Vec::new();
        while let Some(end) = self.find_boundary() {
            let rest = self.buffer.split_off(end);
            let piece = std::mem::replace(&mut self.buffer, rest);
            let piece = piece.trim();
            if !piece.is_empty() {
                pieces.push(piece.to_owned());
                self.pieces_emitted += 1;
            }
        }
        pieces
    }

    /// The text still held back (the reply ended, or it is needed for history).
    pub(crate) fn finish(&mut self) -> Option<String> {
        let piece = std::mem::take(&mut self.buffer);
        let piece = piece.trim();
        if piece.is_empty() {
            None
        } else {
            self.pieces_emitted += 1;
            Some(piece.to_owned())
        }
    }

    /// Byte index just after a boundary in the buffer, if a complete piece is there.
    fn find_boundary(&self) -> Option<usize> {
        let text = &self.buffer;
        let bytes = text.as_bytes();
        for (idx, ch) in text.char_indices() {
            let after = idx + ch.len_utf8();
            // A boundary needs to see the next character, so the last one never counts yet.
            let Some(&next) = bytes.get(after) else { break };
            let next_is_space = next.is_ascii_whitespace();
            match ch {
                '\n' if after >= 2 => return Some(after),
                '.' | '!' | '?' if next_is_space => {
                    if after < SENTENCE_MIN_CHARS {
                        continue;
                    }
                    if ch == '.' && ends_with_abbreviation(&text[..idx]) {
                        continue;
                    }
                    return Some(after);
                }
                ',' | ';' | ':' | '—'
                    if next_is_space
                        && self.pieces_emitted == 0
                        && after >= FIRST_CLAUSE_MIN_CHARS =>
                {
                    return Some(after);
                }
                _ => {}
            }
        }
        if text.len() > MAX_PIECE_CHARS {
            return text[..MAX_PIECE_CHARS].rfind(' ').filter(|&i| i > 0);
        }
        None
    }
}

fn ends_with_abbreviation(before_dot: &str) -> bool {
    let word = before_dot
        .rsplit(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("");
    let word = word
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_lowercase();
    if word.len() == 1 && word.chars().all(|c| c.is_ascii_alphabetic()) {
        // A single letter: an initial ("J. Smith") or the "a" of "a.m.".
        return true;
    }
    ABBREVIATIONS.contains(&word.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(deltas: &[&str], expected: &[&str]) {
        let mut splitter = SentenceSplitter::new();
        let mut pieces = Vec::new();
        for delta in deltas {
            pieces.extend(splitter.push(delta));
        }
        pieces.extend(splitter.finish());
        assert_eq!(pieces, expected);
    }

    #[test]
    fn sentences_split_as_they_complete() {
        check(
            &[
                "Sure thing",
                "! We have an opening ",
                "tomorrow at 2pm. Would that",
                " work for you?",
            ],
            &[
                "Sure thing! We have an opening tomorrow at 2pm.",
                "Would that work for you?",
            ],
        );
    }

    #[test]
    fn short_sentences_join_the_next_one() {
        check(
            &["Okay. ", "Let me check that for you."],
            &["Okay. Let me check that for you."],
        );
    }

    #[test]
    fn decimals_abbreviations_and_times_do_not_split() {
        check(
            &[
                "An oil change takes about 0.5 hours at 12 Main St. and we open at 8 a.m. tomorrow. See you then.",
            ],
            &[
                "An oil change takes about 0.5 hours at 12 Main St. and we open at 8 a.m. tomorrow.",
                "See you then.",
            ],
        );
    }

    #[test]
    fn a_long_first_clause_goes_early() {
        check(
            &[
                "I can definitely get your brake service booked for you, and it usually takes about two hours",
            ],
            &[
                "I can definitely get your brake service booked for you,",
                "and it usually takes about two hours",
            ],
        );
    }

    #[test]
    fn later_clauses_wait_for_the_sentence() {
        check(
            &[
                "We are open today. On Saturday we open at nine, close at two, and Sunday we are closed.",
            ],
            &[
                "We are open today.",
                "On Saturday we open at nine, close at two, and Sunday we are closed.",
            ],
        );
    }

    #[test]
    fn run_on_text_is_cut_at_a_space() {
        let long = "word ".repeat(60);
        let mut splitter = SentenceSplitter::new();
        let pieces = splitter.push(&long);
        assert_eq!(pieces.len(), 1);
        assert!(pieces[0].len() <= MAX_PIECE_CHARS);
        assert!(pieces[0].ends_with("word"));
    }

    #[test]
    fn nothing_comes_out_of_whitespace() {
        check(&["  ", "\n", " "], &[]);
    }
}
