//! Turns a transcript into the one canonical form every pattern is written against.
//!
//! Lowercase ASCII words separated by single spaces, no punctuation or apostrophes
//! ("what's" becomes "whats"), "a.m."/"p.m." as "am"/"pm", `:` and `/` kept only between
//! digits ("2:30", "12/8"), and number words as digits ("twenty eighth" becomes "28th",
//! "two thirty" becomes "2 30"), but for "no one" before a verb ("no one called"), which is
//! nobody. Catalog synonyms go through the same function, so they match.

use std::borrow::Cow;

/// Compiles a pattern over normalised text. ASCII-only classes and word boundaries
/// (normalised text is ASCII words) are several times faster than Unicode ones.
///
/// Panics on an invalid pattern: every call site passes a literal, covered by tests.
pub(crate) fn ascii_regex(pattern: &str) -> regex::Regex {
    regex::RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .unwrap_or_else(|err| panic!("invalid built-in pattern {pattern:?}: {err}"))
}

/// Normalises a transcript or a catalog phrase. See the module doc for the form.
///
/// This runs on every utterance, so it does no more than it must: text that is lowercase ASCII
/// already is not lowercased again, each character is cleaned in one pass, and number words are
/// written as digits without allocating.
pub(crate) fn normalize(text: &str) -> String {
    let mut lower = if text.is_ascii() {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        }
    } else {
        Cow::Owned(text.to_lowercase())
    };
    if lower.contains(".m.") {
        lower = Cow::Owned(lower.replace("a.m.", "am").replace("p.m.", "pm"));
    }
    // Letters and digits kept, apostrophes dropped, `:` and `/` kept between digits, anything
    // else a space.
    let mut cleaned = String::with_capacity(lower.len() + 2);
    let mut before = None;
    let mut chars = lower.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            'a'..='z' | '0'..='9' => cleaned.push(ch),
            '\'' | '’' | '‘' => {}
            ':' | '/'
                if before.is_some_and(|b: char| b.is_ascii_digit())
                    && chars.peek().is_some_and(char::is_ascii_digit) =>
            {
                cleaned.push(ch);
            }
            _ if !ch.is_ascii() && ch.is_alphanumeric() => cleaned.push(ch),
            _ => cleaned.push(' '),
        }
        before = Some(ch);
    }
    let mut res = String::with_capacity(cleaned.len());
    let mut words = cleaned.split_ascii_whitespace().peekable();
    while let Some(word) = words.next() {
        if !res.is_empty() {
            res.push(' ');
        }
        let after_no = || {
            res.strip_suffix(' ')
                .is_some_and(|before| before == "no" || before.ends_with(" no"))
        };
        if word == "one" && after_no() && words.peek().is_some_and(|next| said_by_nobody(next)) {
            // "no one called" is nobody, not a number ("no 1" would read as a corrected time);
            // "no, one oclock" and "at 2 no one" stay numbers.
            res.push_str(word);
        } else if let Some(tens) = tens_value(word) {
            // "twenty eight" -> 28, "twenty eighth" -> 28th; "twenty" alone -> 20.
            if let Some(next) = words.peek() {
                if let Some(unit) = unit_value(next) {
                    push_number(&mut res, tens + unit);
                    words.next();
                    continue;
                }
                if let Some(unit) = ordinal_value(next).filter(|n| *n < 10) {
                    push_ordinal(&mut res, tens + unit);
                    words.next();
                    continue;
                }
            }
            push_number(&mut res, tens);
        } else if let Some(value) = unit_value(word).or_else(|| teen_value(word)) {
            push_number(&mut res, value);
        } else if let Some(value) = ordinal_value(word) {
            push_ordinal(&mut res, value);
        } else if let Some(hour) = hour_heard_as_a_word(word, &res, words.clone()) {
            res.push_str(hour);
        } else if let Some(value) = word
            .strip_suffix("ish")
            .and_then(|stem| unit_value(stem).or_else(|| teen_value(stem)))
            .filter(|value| *value <= 12)
        {
            // "eightish" is "8 ish", as "8ish" and "eight ish" are.
            push_number(&mut res, value);
            res.push_str(" ish");
        } else {
            res.push_str(word);
        }
    }
    fix_misheard(res)
}

/// A word that follows "no one" meaning nobody ("no one called", "no one else"); before any
/// other word, or at the end, "no one" stays a number ("no, one oclock", "at 2 no one").
fn said_by_nobody(word: &str) -> bool {
    matches!(
        word,
        "called"
            | "calls"
            | "call"
            | "ever"
            | "answers"
            | "answered"
            | "answer"
            | "knows"
            | "knew"
            | "can"
            | "could"
            | "cares"
            | "bothered"
            | "else"
            | "picks"
            | "picked"
            | "got"
            | "gets"
            | "returned"
            | "returns"
            | "told"
            | "tells"
            | "listens"
            | "has"
            | "had"
            | "even"
            | "will"
            | "would"
            | "here"
            | "there"
            | "over"
            | "seems"
            | "wants"
            | "bothers"
    )
}

/// An hour that speech recognition wrote as the word it sounds like: "at ate thirty", "ate a m",
/// "at for fifteen", "like to thirty". Only before minutes said as a word or a clock word, and
/// not before a unit ("by for fifteen minutes", "ate fifty bucks"); "for" and "to" only after a
/// time word. `written` is the text so far (ending in a space), `ahead` the words still to
/// come.
fn hour_heard_as_a_word<'w>(
    word: &str,
    written: &str,
    mut ahead: impl Iterator<Item = &'w str>,
) -> Option<&'static str> {
    let hour = match word {
        "ate" => "8",
        "for" => "4",
        "to" | "too" => "2",
        _ => return None,
    };
    let before = written.trim_end().rsplit(' ').next();
    let after_a_time_word = matches!(
        before,
        Some("at" | "around" | "about" | "by" | "like" | "til" | "till" | "until")
    );
    let next = ahead.next();
    let then = ahead.next();
    let marker = matches!(next, Some("a" | "p")) && then == Some("m");
    let unit = |word: Option<&str>| {
        matches!(
            word,
            Some("minutes" | "minute" | "mins" | "hours" | "hour" | "bucks" | "dollars" | "of")
        )
    };
    // "forty five minutes": the unit can come after a second number word.
    let minutes = matches!(
        next,
        Some("fifteen" | "thirty" | "forty" | "fifty" | "oclock" | "am" | "pm" | "sharp" | "ish")
    ) && !unit(then)
        && !(unit_value(then.unwrap_or("")).is_some() && unit(ahead.next()));
    let heard = (minutes || marker) && (hour == "8" || after_a_time_word);
    heard.then_some(hour)
}

/// Word pairs speech recognition writes for car-service words that sound the same, and what the
/// caller said. Only pairs that never mean anything else are here ("break pads", "oil chains"),
/// but for "to morrow": it could be a place named Morrow, and is far more often a split "tomorrow".
const MISHEARD: &[(&str, &str)] = &[
    ("break pads", "brake pads"),
    ("break pad", "brake pad"),
    ("break job", "brake job"),
    ("break service", "brake service"),
    ("break fluid", "brake fluid"),
    ("oil chains", "oil change"),
    ("oil chain", "oil change"),
    ("oil in filter", "oil and filter"),
    ("knew tires", "new tires"),
    ("knew tire", "new tire"),
    ("tired rotations", "tire rotations"),
    ("tired rotation", "tire rotation"),
    ("in spection", "inspection"),
    ("in spected", "inspected"),
    ("tired rotated", "tires rotated"),
    ("wensday", "wednesday"),
    ("wendsday", "wednesday"),
    ("to morrow", "tomorrow"),
    ("tues day", "tuesday"),
    ("wednes day", "wednesday"),
    ("thurs day", "thursday"),
    ("satur day", "saturday"),
];

/// A piece of every misheard phrase of `MISHEARD` (tested): text without any of them has none.
const MISHEARD_GATE: &[&str] = &[
    "break ",
    "oil ",
    "knew ",
    "tired ",
    "in spect",
    "wensday",
    "wendsday",
    "to morrow",
    "tues day",
    "wednes day",
    "thurs day",
    "satur day",
];

/// Replaces the misheard words of `MISHEARD`, whole words only, in one pass over the words.
fn fix_misheard(text: String) -> String {
    // Most utterances have none of the first words: one scan of the text decides.
    if !MISHEARD_GATE.iter().any(|first| text.contains(first)) {
        return text;
    }
    let mut fixed = String::with_capacity(text.len() + 8);
    // `text` is normalised: words split by single spaces, none at either end.
    let mut rest = text.as_str();
    loop {
        let first = rest.as_bytes().first().copied();
        let found = MISHEARD.iter().find(|(heard, _)| {
            heard.as_bytes().first().copied() == first
                && rest.starts_with(heard)
                && matches!(rest.as_bytes().get(heard.len()), None | Some(b' '))
        });
        let kept = match found {
            Some((heard, meant)) => {
                fixed.push_str(meant);
                heard.len()
            }
            None => {
                let end = rest.find(' ').unwrap_or(rest.len());
                fixed.push_str(&rest[..end]);
                end
            }
        };
        match rest[kept..].strip_prefix(' ') {
            Some(after) => {
                fixed.push(' ');
                rest = after;
            }
            None => return fixed,
        }
    }
}

fn push_ordinal(res: &mut String, value: u32) {
    let suffix = match (value % 10, value % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    push_number(res, value);
    res.push_str(suffix);
}

/// Writes a number word's value (below 100) as digits.
fn push_number(res: &mut String, value: u32) {
    if value >= 10 {
        res.push(char::from(b'0' + (value / 10 % 10) as u8));
    }
    res.push(char::from(b'0' + (value % 10) as u8));
}

fn unit_value(word: &str) -> Option<u32> {
    Some(match word {
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        _ => return None,
    })
}

fn teen_value(word: &str) -> Option<u32> {
    Some(match word {
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

fn tens_value(word: &str) -> Option<u32> {
    Some(match word {
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        _ => return None,
    })
}

fn ordinal_value(word: &str) -> Option<u32> {
    Some(match word {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        "thirteenth" => 13,
        "fourteenth" => 14,
        "fifteenth" => 15,
        "sixteenth" => 16,
        "seventeenth" => 17,
        "eighteenth" => 18,
        "nineteenth" => 19,
        "twentieth" => 20,
        "thirtieth" => 30,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::{MISHEARD, MISHEARD_GATE, normalize};

    #[test]
    fn every_misheard_phrase_passes_the_gate() {
        for (heard, meant) in MISHEARD {
            assert!(
                MISHEARD_GATE.iter().any(|piece| heard.contains(piece)),
                "{heard:?} has no piece in MISHEARD_GATE, so it is never put right"
            );
            // And the gate lets it through to be fixed, inside a sentence.
            let said = format!("so {heard} please");
            assert_eq!(normalize(&said), format!("so {meant} please"), "{said:?}");
        }
    }

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(normalize(input), expected, "input: {input:?}");
    }

    #[test]
    fn no_one_is_nobody_not_a_number() {
        check("No one called me back", "no one called me back");
        check(
            "no one here can do their job",
            "no one here can do their job",
        );
        check("at two no one", "at 2 no 1");
        check("no, one works", "no 1 works");
        check("no, one o'clock is fine", "no 1 oclock is fine");
        check("no one thirty", "no 1 30");
        check("one more thing", "1 more thing");
        check("the next one", "the next 1");
    }

    #[test]
    fn misheard_car_words_are_put_right_and_nothing_else_is_touched() {
        check(
            "Can you do the break pads? And the oil chains.",
            "can you do the brake pads and the oil change",
        );
        check("need four knew tires", "need 4 new tires");
        check("take a break from work", "take a break from work");
        check("im tired", "im tired");
        // Side by side, each is put right (a replacement's spaces are not shared).
        check("wensday wensday", "wednesday wednesday");
        check("break pads break pads", "brake pads brake pads");
        check("oil in filter", "oil and filter");
        check(
            "can she come to morrow after school",
            "can she come tomorrow after school",
        );
    }

    #[test]
    fn normal_form() {
        check(
            "Hi, I need to schedule an Oil Change!",
            "hi i need to schedule an oil change",
        );
        check("What's   the price?", "whats the price");
        check("at 2:30 P.M. on 12/8.", "at 2:30 pm on 12/8");
        check("ten in the morning", "10 in the morning");
        check("the twenty-eighth", "the 28th");
        check("two thirty", "2 30");
        check("thirty first of december", "31st of december");
        check("twenty five", "25");
        check("It’s a car that won't start", "its a car that wont start");
        check("the 3rd: maybe", "the 3rd maybe");
        check("eleventh or the twelfth", "11th or the 12th");
        check("", "");
    }
}
