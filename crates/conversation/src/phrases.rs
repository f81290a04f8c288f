//! The detectors' word patterns taken apart, so that unseen text costs what seen text costs.
//!
//! The detectors (`detect`) are written as `\b(phrase|phrase|…)\b` with hundreds of alternatives.
//! One regex over all of them runs a lazy DFA whose states are built the first time some text
//! reaches them: on utterances the process has seen before that is fast, but a new utterance
//! builds new states, and every state of a pattern this large is expensive to build. Every
//! caller's words are new, so `cargo bench -p conversation --bench labelled_p99` measures
//! utterances seen for the first time as well as seen again.
//!
//! A `PatternSet` takes each pattern apart with `regex-syntax`:
//! - an alternative between word boundaries whose language is a small finite set of strings
//!   ("lawyers?", "(take|get) me off") becomes phrases;
//! - an alternative that is a real pattern (`\w+`, `[\w ]{0,40}`, `\d`, anchors) keeps a small
//!   regex of its own, run only when one of the fixed strings every match of it starts with,
//!   or ends with, is in the text (its trigger: "move " for `move (me|my|the) \w+`);
//! - what has no such trigger stays one regex per pattern, run on every text.
//!
//! The phrases and triggers of all patterns are one Aho-Corasick automaton (a contiguous NFA:
//! 1.3 MB for the detectors, where a DFA of the same needles takes over 20 MB and is no
//! faster once its table no longer fits in the cache), built whole at start-up, so one pass
//! over the text (`scan`) costs the same whatever the process has seen. A pattern
//! matches where one of its phrases is found with a word boundary at both ends or where one
//! of its regexes matches: exactly the matches of the pattern as written (tested against the
//! regexes on every labelled utterance).

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::Regex;
use regex_syntax::hir::{
    Class, Hir, HirKind, Look,
    literal::{ExtractKind, Extractor},
};

use crate::text::ascii_regex;

/// At most this many strings from one alternative; beyond it the alternative stays a regex.
const MAX_STRINGS_PER_ALTERNATIVE: usize = 64;

/// A trigger shorter than this would fire on almost every text: its alternative is run always.
const MIN_TRIGGER_LEN: usize = 3;

/// No phrase of the pattern was found.
const NOT_FOUND: u32 = u32::MAX;

/// What a string found by the scan stands for.
#[derive(Clone, Copy)]
enum Needle {
    /// A phrase of this pattern: a match when bounded by word boundaries.
    Phrase(usize),
    /// A trigger of this alternative (an index into `PatternSet::triggered`).
    Trigger(usize),
}

/// Patterns over normalised text, taken apart as the module doc says; a pattern's id is its
/// index in the list it was built from.
pub(crate) struct PatternSet {
    needles: Option<AhoCorasick>,
    /// What each needle stands for.
    kinds: Vec<Needle>,
    /// Alternatives run only when triggered, with the pattern each belongs to.
    triggered: Vec<(usize, Regex)>,
    /// Per pattern, its alternatives without a trigger, run on every text.
    always: Vec<Option<Regex>>,
    /// Whether a text's scan can be told after blanking from the scan before (see
    /// `PatternSet::blank`): no needle has two non-word bytes in a row.
    derive_after_blanking: bool,
    /// The patterns as written, for the tests that hold the split to them.
    #[cfg(test)]
    pub(crate) sources: Vec<String>,
    /// The phrases, for the test that each can be heard.
    #[cfg(test)]
    phrase_texts: Vec<String>,
}

/// What one pass found in one text.
pub(crate) struct Scan {
    /// Per pattern, where its leftmost bounded phrase starts.
    starts: Vec<u32>,
    /// The triggered alternatives (indices into `PatternSet::triggered`), each once.
    triggered: Vec<usize>,
    /// Every bounded phrase found: its pattern, start and end.
    phrases: Vec<(u32, u32, u32)>,
}

/// A text with some matches blanked out by spaces of the same length, and its scan.
pub(crate) struct Blanked {
    pub(crate) text: String,
    pub(crate) scan: Scan,
    /// Whether the scan was told from the text's rather than found by another pass (for tests).
    #[cfg(test)]
    pub(crate) derived: bool,
}

impl PatternSet {
    /// Takes apart and compiles `patterns` (literals of the crate's, in `text::ascii_regex`
    /// syntax).
    ///
    /// Panics on an invalid pattern, as `ascii_regex` does.
    pub(crate) fn new(patterns: &[&str]) -> PatternSet {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        let mut kinds = Vec::new();
        let mut triggered = Vec::new();
        let mut always = Vec::new();
        for (id, pattern) in patterns.iter().enumerate() {
            let hir = regex_syntax::ParserBuilder::new()
                .unicode(false)
                .build()
                .parse(pattern)
                .unwrap_or_else(|err| panic!("invalid built-in pattern {pattern:?}: {err}"));
            let mut phrases = Vec::new();
            let mut rest = Vec::new();
            split(hir, &mut phrases, &mut rest);
            kinds.extend(phrases.iter().map(|_| Needle::Phrase(id)));
            needles.extend(phrases);
            let mut untriggered = Vec::new();
            for alternative in rest {
                match trigger(&alternative) {
                    Some(literals) => {
                        let index = triggered.len();
                        for literal in literals {
                            needles.push(literal);
                            kinds.push(Needle::Trigger(index));
                        }
                        triggered.push((id, ascii_regex(&alternative.to_string())));
                    }
                    None => untriggered.push(alternative),
                }
            }
            always.push(
                (!untriggered.is_empty())
                    .then(|| ascii_regex(&Hir::alternation(untriggered).to_string())),
            );
        }

        let derive_after_blanking = needles.iter().all(|needle| {
            !needle
                .windows(2)
                .any(|pair| !is_word_byte(&pair[0]) && !is_word_byte(&pair[1]))
        });
        #[cfg(test)]
        let phrase_texts = needles
            .iter()
            .zip(&kinds)
            .filter(|(_, kind)| matches!(kind, Needle::Phrase(_)))
            .map(|(needle, _)| String::from_utf8_lossy(needle).into_owned())
            .collect();
        let needles = (!needles.is_empty()).then(|| {
            AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .match_kind(MatchKind::Standard)
                .build(&needles)
                .unwrap_or_else(|err| panic!("the patterns' phrases: {err}"))
        });
        PatternSet {
            needles,
            kinds,
            triggered,
            always,
            derive_after_blanking,
            #[cfg(test)]
            phrase_texts,
            #[cfg(test)]
            sources: patterns
                .iter()
                .map(|pattern| (*pattern).to_owned())
                .collect(),
        }
    }

    /// Finds every pattern's phrases and triggers in `text` in one pass.
    pub(crate) fn scan(&self, text: &str) -> Scan {
        let mut scan = Scan {
            starts: vec![NOT_FOUND; self.always.len()],
            triggered: Vec::new(),
            phrases: Vec::new(),
        };
        let Some(needles) = &self.needles else {
            return scan;
        };
        let bytes = text.as_bytes();
        for found in needles.find_overlapping_iter(text) {
            match self.kinds[found.pattern().as_usize()] {
                Needle::Phrase(id) if bounded(bytes, found.start(), found.end()) => {
                    let (Ok(id), Ok(start), Ok(end)) = (
                        u32::try_from(id),
                        u32::try_from(found.start()),
                        u32::try_from(found.end()),
                    ) else {
                        continue;
                    };
                    scan.starts[id as usize] = scan.starts[id as usize].min(start);
                    scan.phrases.push((id, start, end));
                }
                Needle::Phrase(_) => {}
                Needle::Trigger(index) => {
                    if !scan.triggered.contains(&index) {
                        scan.triggered.push(index);
                    }
                }
            }
        }
        scan
    }

    /// The regexes pattern `id` has to run on a text with this scan.
    fn regexes<'s>(&'s self, id: usize, scan: &'s Scan) -> impl Iterator<Item = &'s Regex> {
        self.always[id].iter().chain(
            scan.triggered
                .iter()
                .map(|&index| &self.triggered[index])
                .filter(move |(owner, _)| *owner == id)
                .map(|(_, regex)| regex),
        )
    }

    /// Whether pattern `id` matches anywhere in `text` (`scan` is `text`'s).
    pub(crate) fn is_match(&self, id: usize, text: &str, scan: &Scan) -> bool {
        scan.starts[id] != NOT_FOUND || self.regexes(id, scan).any(|regex| regex.is_match(text))
    }

    /// `text` with every match of pattern `id` blanked out with spaces of the same length (so
    /// offsets stay comparable), and its scan, or `None` when it has none (`scan` is `text`'s).
    /// Every match of every alternative is blanked, also where two overlap.
    ///
    /// The blanked text's scan is told from `scan`, rather than found by another pass, when
    /// every blanked match has a word byte at both ends and a word boundary at both ends (both
    /// checked: an alternative written without a closing `\b` can end inside a word, and the
    /// rest of that word would get a boundary it did not have). The bytes just outside such a
    /// match are not word bytes, so spaces in its place change no boundary outside it, and a
    /// needle found across it would need two non-word bytes in a row, which no needle has (else
    /// `derive_after_blanking` is false). So the bounded phrases of the blanked text are those
    /// of `text` that do not overlap a blanked match, and its triggers are among those of
    /// `text` (a triggered alternative run on text without its trigger finds nothing).
    pub(crate) fn blank(&self, id: usize, text: &str, scan: &Scan) -> Option<Blanked> {
        if !self.is_match(id, text, scan) {
            return None;
        }
        let owner = u32::try_from(id).ok()?;
        let mut ranges: Vec<(usize, usize)> = scan
            .phrases
            .iter()
            .filter(|(found, _, _)| *found == owner)
            .map(|&(_, start, end)| (start as usize, end as usize))
            .collect();
        for regex in self.regexes(id, scan) {
            ranges.extend(
                regex
                    .find_iter(text)
                    .filter(|found| !found.is_empty())
                    .map(|found| (found.start(), found.end())),
            );
        }
        let mut blanked = text.as_bytes().to_vec();
        for &(start, end) in &ranges {
            blanked[start..end].fill(b' ');
        }
        // Only ASCII spaces replaced whole matches of a `&str`: still UTF-8 (were it not, the
        // text is left as it was and scanned again).
        let (blanked, utf8) = match String::from_utf8(blanked) {
            Ok(blanked) => (blanked, true),
            Err(_) => (text.to_owned(), false),
        };
        let bytes = text.as_bytes();
        let derived = utf8
            && self.derive_after_blanking
            && ranges.iter().all(|&(start, end)| {
                is_word_byte(&bytes[start])
                    && is_word_byte(&bytes[end - 1])
                    && bounded(bytes, start, end)
            });
        let scan = if derived {
            scan.without(&ranges)
        } else {
            self.scan(&blanked)
        };
        Some(Blanked {
            text: blanked,
            scan,
            #[cfg(test)]
            derived,
        })
    }

    /// Byte offset where pattern `id`'s leftmost match starts (where the regex as written would
    /// start it; `scan` is `text`'s).
    pub(crate) fn find_start(&self, id: usize, text: &str, scan: &Scan) -> Option<usize> {
        let phrase = (scan.starts[id] != NOT_FOUND).then(|| scan.starts[id] as usize);
        self.regexes(id, scan)
            .filter_map(|regex| regex.find(text).map(|found| found.start()))
            .chain(phrase)
            .min()
    }

    /// Every phrase of every pattern (for tests).
    #[cfg(test)]
    pub(crate) fn phrase_texts(&self) -> &[String] {
        &self.phrase_texts
    }

    /// Whether blanked texts' scans are told from their texts' (for tests).
    #[cfg(test)]
    pub(crate) fn derive_after_blanking(&self) -> bool {
        self.derive_after_blanking
    }

    /// How many phrases and triggered alternatives pattern `id` has, and the regex it always
    /// runs (for tests).
    #[cfg(test)]
    pub(crate) fn shape(&self, id: usize) -> (usize, usize, Option<&str>) {
        (
            self.kinds
                .iter()
                .filter(|kind| matches!(kind, Needle::Phrase(owner) if *owner == id))
                .count(),
            self.triggered
                .iter()
                .filter(|(owner, _)| *owner == id)
                .count(),
            self.always[id].as_ref().map(Regex::as_str),
        )
    }
}

impl Scan {
    /// This scan less the phrases that overlap one of `blanked` (byte ranges), for the text
    /// with those ranges blanked out (`PatternSet::blank` says when that is the blanked
    /// text's scan).
    fn without(&self, blanked: &[(usize, usize)]) -> Scan {
        let mut scan = Scan {
            starts: vec![NOT_FOUND; self.starts.len()],
            triggered: self.triggered.clone(),
            phrases: Vec::with_capacity(self.phrases.len()),
        };
        for &(id, start, end) in &self.phrases {
            let overlaps = blanked
                .iter()
                .any(|&(from, to)| (start as usize) < to && from < end as usize);
            if !overlaps {
                scan.starts[id as usize] = scan.starts[id as usize].min(start);
                scan.phrases.push((id, start, end));
            }
        }
        scan
    }
}

/// Whether `[start, end)` has a word boundary at both ends, as `\b` in ASCII mode reads it.
fn bounded(bytes: &[u8], start: usize, end: usize) -> bool {
    boundary(bytes, start) && boundary(bytes, end)
}

fn boundary(bytes: &[u8], at: usize) -> bool {
    let word = |idx: Option<usize>| idx.and_then(|idx| bytes.get(idx)).is_some_and(is_word_byte);
    word(at.checked_sub(1)) != word(Some(at))
}

/// A byte `\w` matches in ASCII mode.
fn is_word_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || *b == b'_'
}

/// The strings one of which every match of `alternative` starts with, or ends with, whichever
/// set is the rarer to find (its shortest string the longer), when one is at least
/// `MIN_TRIGGER_LEN` long: "move " for `move (me|my) \w+`, " done" or " ready" for
/// `(the|my) \w+ (done|ready)` (whose "the " and "my " are in nearly every text).
fn trigger(alternative: &Hir) -> Option<Vec<Vec<u8>>> {
    [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .filter_map(|kind| {
            let mut extractor = Extractor::new();
            extractor.kind(kind);
            let found = extractor.extract(alternative);
            let literals = found.literals()?;
            let shortest = literals.iter().map(|l| l.as_bytes().len()).min()?;
            (shortest >= MIN_TRIGGER_LEN).then(|| {
                let strings = literals.iter().map(|l| l.as_bytes().to_vec()).collect();
                (shortest, strings)
            })
        })
        .max_by_key(|(shortest, _)| *shortest)
        .map(|(_, strings)| strings)
}

/// Sorts `hir` into phrases (alternatives between word boundaries with a small finite language)
/// and the rest (kept as regex syntax, boundaries included).
fn split(hir: Hir, phrases: &mut Vec<Vec<u8>>, rest: &mut Vec<Hir>) {
    match hir.kind() {
        HirKind::Alternation(_) => {
            let HirKind::Alternation(subs) = hir.into_kind() else {
                unreachable!("matched above")
            };
            for sub in subs {
                split(sub, phrases, rest);
            }
        }
        HirKind::Concat(parts)
            if parts.len() == 3 && is_word_boundary(&parts[0]) && is_word_boundary(&parts[2]) =>
        {
            let inner = unwrap_capture(&parts[1]);
            let alternatives: Vec<&Hir> = match inner.kind() {
                HirKind::Alternation(alts) => alts.iter().collect(),
                _ => vec![inner],
            };
            for alternative in alternatives {
                match strings(alternative) {
                    Some(found) if found.iter().all(|s| is_phrase(s)) => phrases.extend(found),
                    _ => rest.push(Hir::concat(vec![
                        Hir::look(Look::WordAscii),
                        alternative.clone(),
                        Hir::look(Look::WordAscii),
                    ])),
                }
            }
        }
        _ => rest.push(hir),
    }
}

/// A phrase needs a word character at both ends: then "a boundary at each end" is exactly `\b`
/// of the pattern, and an empty string never matches.
fn is_phrase(s: &[u8]) -> bool {
    s.first().is_some_and(is_word_byte) && s.last().is_some_and(is_word_byte)
}

fn is_word_boundary(hir: &Hir) -> bool {
    matches!(hir.kind(), HirKind::Look(Look::WordAscii))
}

fn unwrap_capture(hir: &Hir) -> &Hir {
    match hir.kind() {
        HirKind::Capture(capture) => unwrap_capture(&capture.sub),
        _ => hir,
    }
}

/// Every string `hir` matches, when that is a small finite set; `None` otherwise.
fn strings(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let found = match hir.kind() {
        HirKind::Empty => vec![Vec::new()],
        HirKind::Literal(literal) => vec![literal.0.to_vec()],
        HirKind::Class(Class::Bytes(class)) => class_strings(
            class
                .ranges()
                .iter()
                .map(|range| (u32::from(range.start()), u32::from(range.end()))),
        )?,
        HirKind::Class(Class::Unicode(class)) => class_strings(
            class
                .ranges()
                .iter()
                .map(|range| (u32::from(range.start()), u32::from(range.end()))),
        )?,
        HirKind::Capture(capture) => strings(&capture.sub)?,
        HirKind::Repetition(repetition) => {
            let max = repetition.max?;
            if max > 2 {
                return None;
            }
            let once = strings(&repetition.sub)?;
            let mut found = Vec::new();
            let mut power = vec![Vec::new()];
            for count in 0..=max {
                if count >= repetition.min {
                    found.extend(power.iter().cloned());
                }
                power = product(&power, &once)?;
            }
            found
        }
        HirKind::Concat(parts) => {
            let mut found = vec![Vec::new()];
            for part in parts {
                found = product(&found, &strings(part)?)?;
            }
            found
        }
        HirKind::Alternation(alternatives) => {
            let mut found = Vec::new();
            for alternative in alternatives {
                found.extend(strings(alternative)?);
                if found.len() > MAX_STRINGS_PER_ALTERNATIVE {
                    return None;
                }
            }
            found
        }
        HirKind::Look(_) => return None,
    };
    (found.len() <= MAX_STRINGS_PER_ALTERNATIVE).then_some(found)
}

/// The characters of a small ASCII class, as one-byte strings.
fn class_strings(ranges: impl Iterator<Item = (u32, u32)>) -> Option<Vec<Vec<u8>>> {
    let mut found = Vec::new();
    for (start, end) in ranges {
        if end > 0x7f || end - start >= 4 {
            return None;
        }
        for code in start..=end {
            found.push(vec![u8::try_from(code).ok()?]);
        }
    }
    (found.len() <= 4).then_some(found)
}

fn product(left: &[Vec<u8>], right: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if left.len() * right.len() > MAX_STRINGS_PER_ALTERNATIVE {
        return None;
    }
    Some(
        left.iter()
            .flat_map(|l| right.iter().map(move |r| [l.as_slice(), r].concat()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(pattern: &str) -> PatternSet {
        PatternSet::new(&[pattern])
    }

    fn is_match(set: &PatternSet, text: &str) -> bool {
        set.is_match(0, text, &set.scan(text))
    }

    fn find_start(set: &PatternSet, text: &str) -> Option<usize> {
        set.find_start(0, text, &set.scan(text))
    }

    #[test]
    fn fixed_alternatives_become_phrases_and_the_rest_stays_a_regex() {
        let set = one(r"\b(lawyers?|(take|get) me off|sue \w+|^agent\b|\w+ attorney|\w+ at \w+)\b");
        let (phrases, triggered, always) = set.shape(0);
        assert_eq!(phrases, 4, "lawyer, lawyers, take me off, get me off");
        assert_eq!(triggered, 3, "sue and agent start, attorney ends, a match");
        let always = always.expect("what starts and ends with a word class runs always");
        assert!(
            always.contains(" at ") && !always.contains("attorney"),
            "{always}"
        );
        assert!(is_match(&set, "i will sue you"));
        assert!(!is_match(&set, "i will sue"));
        assert!(is_match(&set, "agent please"));
        assert!(!is_match(&set, "an agent please"));
        assert!(is_match(&set, "my attorney"));
        assert!(is_match(&set, "see you at noon"));
        assert!(!is_match(&set, "attorney"));
    }

    #[test]
    fn a_phrase_needs_a_word_boundary_at_both_ends() {
        let set = one(r"\b(lawyers?|call off)\b");
        assert!(is_match(&set, "i will call my lawyers"));
        assert!(is_match(&set, "lawyer"));
        assert!(!is_match(&set, "lawyered up"));
        assert!(!is_match(&set, "a lawyerly tone"));
        assert!(!is_match(&set, "recall off"));
        assert_eq!(find_start(&set, "just call off the lawyers"), Some(5));
        assert_eq!(find_start(&set, "no"), None);
    }

    #[test]
    fn the_leftmost_start_is_the_regexs_whether_a_phrase_or_the_rest_matches() {
        let set = one(r"\b(status|is (my|the) \w+ ready)\b");
        assert_eq!(
            find_start(&set, "is my truck ready whats the status"),
            Some(0)
        );
        assert_eq!(find_start(&set, "status is my truck ready"), Some(0));
        assert_eq!(find_start(&set, "so whats the status"), Some(13));
    }

    #[test]
    fn patterns_that_are_not_between_word_boundaries_stay_whole() {
        let set = one(r"no (rush|worries)|\bok\b");
        let (phrases, triggered, _) = set.shape(0);
        assert_eq!((phrases, triggered), (1, 1), "ok; no rush or no worries");
        assert!(is_match(&set, "no rush"));
        assert!(is_match(&set, "ok then"));
        assert!(!is_match(&set, "okay then"));
    }

    #[test]
    fn a_blanked_texts_scan_is_the_one_another_pass_finds() {
        let set = PatternSet::new(&[
            r"\b(manager|owner|real person)\b",
            r"\b(no need for (a|the) manager|the owner \w+)\b",
            r"owner (said|says) ",
            r"\b(person)\b",
        ]);
        assert!(set.derive_after_blanking);
        for text in [
            "no need for a manager but get me a real person",
            "no need for the manager the owner knows me",
            "the owner said  the manager",
            "owner says ok",
            "no need for a manager",
        ] {
            let scan = set.scan(text);
            for blanked_id in 0..4 {
                let Some(blanked) = set.blank(blanked_id, text, &scan) else {
                    continue;
                };
                let fresh = set.scan(&blanked.text);
                for id in 0..4 {
                    assert_eq!(
                        set.find_start(id, &blanked.text, &blanked.scan),
                        set.find_start(id, &blanked.text, &fresh),
                        "{id} after blanking {blanked_id} in {text:?}"
                    );
                }
            }
        }
        let text = "no need for a manager but get me a real person";
        let blanked = set.blank(1, text, &set.scan(text)).expect("a match");
        assert_eq!(
            blanked.text,
            format!("{} but get me a real person", " ".repeat(21))
        );
        assert_eq!(set.find_start(0, &blanked.text, &blanked.scan), Some(35));
        // A match that ends inside a word ("good" of "goodness") would give the rest of the word
        // a boundary: the blanked text is scanned again, and "ness" is found.
        let set = PatternSet::new(&[r"\b(ness)\b", r"\bgood"]);
        let blanked = set
            .blank(1, "goodness", &set.scan("goodness"))
            .expect("a match");
        assert!(!blanked.derived);
        assert_eq!(set.find_start(0, &blanked.text, &blanked.scan), Some(4));
        let blanked = set
            .blank(1, "good ness", &set.scan("good ness"))
            .expect("a match");
        assert!(blanked.derived);
        assert_eq!(set.find_start(0, &blanked.text, &blanked.scan), Some(5));
        // A needle with two non-word bytes in a row could be found across a blanked match:
        // such a set scans the blanked text again.
        assert!(!PatternSet::new(&[r"\b(get (me )? the owner)\b"]).derive_after_blanking);
    }

    #[test]
    fn one_scan_finds_each_patterns_phrases_even_when_they_share_one() {
        let set = PatternSet::new(&[r"\b(manager|owner)\b", r"\b(owner|boss)\b", r"\b(refund)\b"]);
        let text = "put the owner on";
        let scan = set.scan(text);
        assert_eq!(set.find_start(0, text, &scan), Some(8));
        assert_eq!(set.find_start(1, text, &scan), Some(8));
        assert!(!set.is_match(2, text, &scan));
    }
}
