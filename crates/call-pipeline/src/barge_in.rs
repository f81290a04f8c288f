//! Deciding whether the caller is interrupting the agent or only saying "uh-huh".
//!
//! The floor (`floor.rs`) pauses the agent at the first sign of the caller's voice (the codec's
//! energy VAD, or Deepgram's `SpeechStarted`) and then lets the words decide: words that are not
//! all backchannel words are a real interruption; a backchannel, or a sound that brings no words,
//! resumes the agent.

/// Words and short phrases callers use to show they are listening, not to take the turn.
const BACKCHANNELS: &[&str] = &[
    "ok",
    "okay",
    "k",
    "uh huh",
    "uh-huh",
    "uhhuh",
    "mhm",
    "mm hmm",
    "mm-hmm",
    "mmhmm",
    "mm",
    "hmm",
    "yeah",
    "yep",
    "yes",
    "yup",
    "right",
    "sure",
    "got it",
    "i see",
    "alright",
    "all right",
    "cool",
    "great",
    "perfect",
    "nice",
    "uh",
    "um",
    "ah",
    "oh",
    "ok ok",
    "okay okay",
    "yeah yeah",
    "right right",
    "thanks",
    "thank you",
];

/// Whether `text` is only a backchannel (or nothing at all).
pub(crate) fn is_backchannel(text: &str) -> bool {
    let normalized: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    let words: Vec<&str> = normalized.split_whitespace().collect();
    if words.is_empty() {
        return true;
    }
    // Short runs of backchannel words ("okay yeah", "uh huh right") are still backchannels.
    if words.len() > 4 {
        return false;
    }
    let joined = words.join(" ");
    if BACKCHANNELS.contains(&joined.as_str()) {
        return true;
    }
    let mut idx = 0;
    while idx < words.len() {
        let pair = words.get(idx..idx + 2).map(|pair| pair.join(" "));
        if pair.is_some_and(|pair| BACKCHANNELS.contains(&pair.as_str())) {
            idx += 2;
        } else if BACKCHANNELS.contains(&words[idx]) {
            idx += 1;
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backchannels_are_recognised() {
        for text in [
            "ok",
            "Okay.",
            "uh-huh",
            "Uh huh.",
            "mm-hmm",
            "Yeah.",
            "yeah yeah",
            "okay, got it",
            "right",
            "",
            "  ",
        ] {
            assert!(is_backchannel(text), "{text:?} should be a backchannel");
        }
    }

    #[test]
    fn real_interruptions_are_not_backchannels() {
        for text in [
            "wait",
            "no, Tuesday",
            "actually make it three",
            "yeah but I need it tomorrow",
            "okay so what about brakes",
            "hold on",
            "I want to speak to a manager",
        ] {
            assert!(!is_backchannel(text), "{text:?} should interrupt");
        }
    }
}
