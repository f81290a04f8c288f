//! Whether a caller's words so far end their turn, from what they say, not only from silence.
//!
//! The call pipeline asks this of every interim and final transcript: a complete turn ("yes",
//! "tomorrow at 2pm", "what are your hours?") is answered after a short silence without waiting
//! for the recogniser's own endpointing; an unfinished one ("on, uh", "I need an oil change and")
//! is held a little longer than the recogniser's default before the agent answers.

use crate::{
    detect::{self, Heard},
    text::normalize,
    when,
};

/// What the words so far say about the end of the caller's turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEnd {
    /// The words are a whole turn: an answer, a request, a question, a date or time.
    Complete,
    /// The words stop mid-phrase: a joining word, an article, a preposition or a filler.
    Unfinished,
    /// Nothing either way: leave it to the recogniser's silence.
    Unsure,
}

/// Last words that leave a sentence hanging.
const HANGING: &[&str] = &[
    "and", "or", "but", "because", "cause", "if", "the", "a", "an", "my", "your", "our", "to",
    "of", "with", "from", "is", "are", "was", "be", "it's", "its", "i", "i'm", "im", "we", "uh",
    "um", "er", "erm", "uhm", "number", "name",
];

/// Reads `text` (an interim or final transcript) for the end of the caller's turn.
pub fn turn_end(text: &str) -> TurnEnd {
    let raw = text.trim();
    if raw.is_empty() {
        return TurnEnd::Unsure;
    }
    if raw.ends_with(',') || raw.ends_with("...") || raw.ends_with('-') {
        return TurnEnd::Unfinished;
    }
    let norm = normalize(raw);
    let Some(last) = norm.split_whitespace().last() else {
        return TurnEnd::Unsure;
    };
    if HANGING.contains(&last) {
        return TurnEnd::Unfinished;
    }
    // A model year: the make and model follow.
    if last.len() == 4
        && last
            .parse::<u32>()
            .is_ok_and(|y| (1950..=2040).contains(&y))
    {
        return TurnEnd::Unfinished;
    }
    // Digits still coming: a phone number or a VIN read out is long.
    let digits = norm.chars().filter(char::is_ascii_digit).count();
    if last.chars().all(|c| c.is_ascii_digit()) && (1..10).contains(&digits) && {
        norm.contains("number") || norm.contains("phone") || norm.contains("vin")
    } {
        return TurnEnd::Unfinished;
    }
    let heard = Heard::new(&norm);
    if raw.ends_with('?')
        || detect::answer(&heard).is_some()
        || detect::is_goodbye(&heard)
        || detect::is_thanks(&heard)
        || detect::intent(&heard).is_some()
        || detect::escalation(&heard).is_some()
        || when::is_calendar_word(last)
        || is_clock_time(last)
        || norm.split_whitespace().any(when::is_calendar_word)
        || detect::vehicle(&norm).is_some()
        || detect::introduced_name(&norm).is_some()
    {
        return TurnEnd::Complete;
    }
    TurnEnd::Unsure
}

/// "2pm", "2:30", "10am", "pm", "o'clock".
fn is_clock_time(word: &str) -> bool {
    let word = word.trim_end_matches('.');
    matches!(
        word,
        "am" | "pm" | "a.m" | "p.m" | "oclock" | "o'clock" | "noon"
    ) || (word.starts_with(|c: char| c.is_ascii_digit())
        && (word.ends_with("am") || word.ends_with("pm") || word.contains(':')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_unfinished_and_unsure_turns() {
        for text in [
            "yes",
            "No.",
            "tomorrow at 2pm",
            "Tuesday at 2",
            "at 10:30",
            "what are your hours?",
            "I'd like to book an oil change",
            "Thursday morning",
            "thanks, bye",
            "I want to speak to a manager",
            "It's a 2019 Toyota Camry.",
            "My name is Alex Morgan.",
            "Thursday morning would be great.",
            "Okay, see you then.",
        ] {
            assert_eq!(turn_end(text), TurnEnd::Complete, "{text:?}");
        }
        for text in [
            "on, uh",
            "I need an oil change and",
            "my number is 413 555",
            "It's a 2019",
            "can you also take a look at the",
            "the noise comes from the",
            "so,",
        ] {
            assert_eq!(turn_end(text), TurnEnd::Unfinished, "{text:?}");
        }
        // A sentence may end in a preposition: no verdict, the recogniser's silence decides.
        for text in ["", "Alex Morgan", "blue", "My check engine light is on."] {
            assert_eq!(turn_end(text), TurnEnd::Unsure, "{text:?}");
        }
    }
}
