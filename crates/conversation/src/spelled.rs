//! Values callers spell out: phone numbers said in digits, pairs or words ("four one three, five
//! five five, oh one hundred"), 17-character VINs (with the check digit validated), licence
//! plates, and names spelled letter by letter ("S as in Sam, M, I, T, H"). Each parser takes a
//! normalised utterance (`text::normalize`: lowercase, no punctuation) and gives back the value
//! and how to read it back for the caller to confirm.

/// What a number word stands for as digits (`"twenty"` is a tens word, see `tens_word`).
/// A `match`, not a list walked word by word: this runs on every word of every utterance.
fn digit_word(word: &str) -> Option<&'static str> {
    Some(match word {
        "zero" | "oh" | "o" => "0",
        "one" => "1",
        "two" | "to" | "too" => "2",
        "three" => "3",
        "four" | "for" => "4",
        "five" => "5",
        "six" => "6",
        "seven" => "7",
        "eight" => "8",
        "nine" => "9",
        "ten" => "10",
        "eleven" => "11",
        "twelve" => "12",
        "thirteen" => "13",
        "fourteen" => "14",
        "fifteen" => "15",
        "sixteen" => "16",
        "seventeen" => "17",
        "eighteen" => "18",
        "nineteen" => "19",
        _ => return None,
    })
}

/// The tens digit of a tens word.
fn tens_word(word: &str) -> Option<u32> {
    Some(match word {
        "twenty" => 2,
        "thirty" => 3,
        "forty" => 4,
        "fifty" => 5,
        "sixty" => 6,
        "seventy" => 7,
        "eighty" => 8,
        "ninety" => 9,
        _ => return None,
    })
}

/// The digits a run of spoken words stands for, or `None` at the first word that is not part
/// of a number. "double five" is 55, "triple oh" 000, "twenty one" 21, "one hundred" 100,
/// "oh one hundred" 0100.
fn digits_of(words: &[&str]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let repeat = match word {
            "double" => 2,
            "triple" => 3,
            _ => 1,
        };
        if repeat > 1 {
            let next = digits_of(words.get(i + 1..i + 2)?)?;
            out.push_str(&next.repeat(repeat));
            i += 2;
            continue;
        }
        if word.bytes().all(|b| b.is_ascii_digit()) && !word.is_empty() {
            out.push_str(word);
        } else if let Some(digits) = digit_word(word) {
            out.push_str(digits);
        } else if let Some(tens) = tens_word(word) {
            // "twenty one" is 21; "twenty" alone is 20.
            match words
                .get(i + 1)
                .and_then(|next| digit_word(next))
                .filter(|d| d.len() == 1 && *d != "0")
            {
                Some(unit) => {
                    out.push_str(&format!("{tens}{unit}"));
                    i += 1;
                }
                None => out.push_str(&format!("{tens}0")),
            }
        } else if word == "hundred" && !out.is_empty() {
            out.push_str("00");
        } else if word == "thousand" && !out.is_empty() {
            out.push_str("000");
        } else if matches!(word, "and" | "dash" | "area" | "code") {
            // Fillers inside a number ("area code four one three").
        } else {
            return None;
        }
        i += 1;
    }
    Some(out)
}

/// A North American phone number said in the utterance (digits, pairs or words), as E.164.
/// `text` is normalised (`text::normalize`), as for every parser here: words are split on
/// ASCII spaces only.
pub fn phone_number(text: &str) -> Option<String> {
    // Any slice with a word outside the number vocabulary fails `digits_of`, so only runs of
    // such words are read, and only runs that could make 10 digits (`most_digits`, counting
    // what "double" and "triple" repeat): most utterances have none ("2 thousand 8", "at 9"),
    // and this runs on every utterance. The words are split on ASCII whitespace: normalised
    // text has no other.
    let mut run: Vec<&str> = Vec::new();
    let mut most = 0;
    let mut repeats = 0;
    // An empty word (`most_digits` is `None`) ends the last run.
    for word in text.split_ascii_whitespace().chain([""]) {
        match most_digits(word) {
            Some(digits) => {
                most += digits * (1 + repeats);
                repeats = match word {
                    "double" => 1,
                    "triple" => 2,
                    _ => 0,
                };
                run.push(word);
            }
            None => {
                if most >= 10
                    && let Some(phone) = phone_in_run(&run)
                {
                    return Some(phone);
                }
                run.clear();
                (most, repeats) = (0, 0);
            }
        }
    }
    None
}

/// The first phone number in a run of number words: the longest slice from the earliest start
/// that makes 10 or 11 (leading 1) digits.
fn phone_in_run(words: &[&str]) -> Option<String> {
    for start in 0..words.len() {
        for end in (start + 1..=words.len()).rev() {
            let Some(digits) = digits_of(&words[start..end]) else {
                continue;
            };
            let national = match digits.len() {
                10 => digits.as_str(),
                11 if digits.starts_with('1') => &digits[1..],
                _ => continue,
            };
            if national.as_bytes()[0] >= b'2' {
                return Some(format!("+1{national}"));
            }
        }
    }
    None
}

/// Whether `word` can be part of a number `digits_of` reads, and if so at most how many digits
/// it adds ("twenty" counts 2, for "twenty one"; a "double" adds its next word again, counted
/// by `phone_number`).
fn most_digits(word: &str) -> Option<usize> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        return Some(word.len());
    }
    if let Some(digits) = digit_word(word) {
        return Some(digits.len());
    }
    match word {
        _ if tens_word(word).is_some() => Some(2),
        "hundred" => Some(2),
        "thousand" => Some(3),
        "double" | "triple" | "and" | "dash" | "area" | "code" => Some(0),
        _ => None,
    }
}

/// How to read a number back: "4 1 3, 5 5 5, 0 1 0 0".
pub fn read_back_phone(e164: &str) -> String {
    let digits: Vec<char> = e164.chars().filter(char::is_ascii_digit).collect();
    let national: &[char] = if digits.len() == 11 {
        &digits[1..]
    } else {
        &digits
    };
    let group = |part: &[char]| {
        part.iter()
            .map(char::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    if national.len() == 10 {
        format!(
            "{}, {}, {}",
            group(&national[..3]),
            group(&national[3..6]),
            group(&national[6..])
        )
    } else {
        group(national)
    }
}

/// The NATO alphabet and common "as in" words callers use.
const SPELLING_WORDS: &[(&str, char)] = &[
    ("alpha", 'A'),
    ("bravo", 'B'),
    ("charlie", 'C'),
    ("delta", 'D'),
    ("echo", 'E'),
    ("foxtrot", 'F'),
    ("golf", 'G'),
    ("hotel", 'H'),
    ("india", 'I'),
    ("juliet", 'J'),
    ("kilo", 'K'),
    ("lima", 'L'),
    ("mike", 'M'),
    ("november", 'N'),
    ("oscar", 'O'),
    ("papa", 'P'),
    ("quebec", 'Q'),
    ("romeo", 'R'),
    ("sierra", 'S'),
    ("tango", 'T'),
    ("uniform", 'U'),
    ("victor", 'V'),
    ("whiskey", 'W'),
    ("xray", 'X'),
    ("yankee", 'Y'),
    ("zulu", 'Z'),
];

/// Letters and digits spelled out: single letters ("s", "m"), "s as in sam", NATO words,
/// "double l", digits and digit words. Other words end the run.
fn spelled_chars(words: &[&str]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        // "s as in sam": the letter, then skip the example.
        if words.get(i + 1) == Some(&"as") && words.get(i + 2) == Some(&"in") {
            if let Some(letter) = word.chars().next().filter(|_| word.len() == 1) {
                out.push(letter.to_ascii_uppercase());
            }
            i += 4;
            continue;
        }
        let repeat = match word {
            "double" => 2,
            "triple" => 3,
            _ => 1,
        };
        let word = if repeat > 1 {
            i += 1;
            match words.get(i) {
                Some(next) => *next,
                None => break,
            }
        } else {
            word
        };
        let piece = if word.len() == 1 && word.bytes().all(|b| b.is_ascii_alphanumeric()) {
            word.to_ascii_uppercase()
        } else if word.bytes().all(|b| b.is_ascii_digit()) {
            word.to_owned()
        } else if let Some((_, letter)) = SPELLING_WORDS.iter().find(|(w, _)| *w == word) {
            letter.to_string()
        } else if let Some(digits) =
            digit_word(word).filter(|d| d.len() == 1 && !matches!(word, "o" | "to" | "too" | "for"))
        {
            digits.to_owned()
        } else {
            i += 1;
            continue;
        };
        out.push_str(&piece.repeat(repeat));
        i += 1;
    }
    out
}

/// Why a VIN was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VinError {
    /// Not 17 letters and digits.
    Length(usize),
    /// I, O and Q are never used in VINs (they look like 1 and 0).
    ForbiddenLetter(char),
    /// The check digit (position 9) does not match: a character was misheard.
    CheckDigit,
}

/// The VIN in an utterance ("my vin is 2 h g f c 2 f 5 9 k h 5 0 0 1 4 2"), validated with its
/// check digit (ISO 3779 / 49 CFR 565: transliterate, weight, sum mod 11, 10 is X).
pub fn vin(text: &str) -> Result<String, VinError> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let start = words
        .iter()
        .position(|w| matches!(*w, "vin" | "v" | "number" | "is"))
        .map_or(0, |p| p + 1);
    let mut chars = spelled_chars(&words[start..]);
    if chars.len() != 17 {
        // A VIN said in one or a few pieces ("2hgfc2f59kh500142").
        let joined: String = words[start..]
            .iter()
            .filter(|w| w.bytes().all(|b| b.is_ascii_alphanumeric()) && w.len() > 1)
            .flat_map(|w| w.chars())
            .collect();
        if joined.len() == 17 {
            chars = joined.to_ascii_uppercase();
        }
    }
    check_vin(&chars)
}

/// Checks a written VIN (any case, no spaces): 17 characters, no I, O or Q, and the check digit.
pub fn check_vin(vin: &str) -> Result<String, VinError> {
    let chars = vin.trim().to_ascii_uppercase();
    if chars.len() != 17 || !chars.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(VinError::Length(chars.len()));
    }
    if let Some(bad) = chars.chars().find(|c| matches!(c, 'I' | 'O' | 'Q')) {
        return Err(VinError::ForbiddenLetter(bad));
    }
    if vin_check_digit(&chars) != chars.as_bytes()[8] as char {
        return Err(VinError::CheckDigit);
    }
    Ok(chars)
}

/// The check digit a VIN's other 16 characters give.
fn vin_check_digit(vin: &str) -> char {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let value = |c: char| -> u32 {
        match c {
            '0'..='9' => c.to_digit(10).unwrap_or(0),
            'A' | 'J' => 1,
            'B' | 'K' | 'S' => 2,
            'C' | 'L' | 'T' => 3,
            'D' | 'M' | 'U' => 4,
            'E' | 'N' | 'V' => 5,
            'F' | 'W' => 6,
            'G' | 'P' | 'X' => 7,
            'H' | 'Y' => 8,
            'R' | 'Z' => 9,
            _ => 0,
        }
    };
    let sum: u32 = vin
        .chars()
        .zip(WEIGHTS)
        .map(|(c, weight)| value(c) * weight)
        .sum();
    match sum % 11 {
        10 => 'X',
        n => char::from_digit(n, 10).unwrap_or('0'),
    }
}

/// A licence plate spelled after "plate" ("my plate is a b c one two three"): 2 to 8 letters
/// and digits.
pub fn plate(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let start = words.iter().position(|w| w.starts_with("plate"))? + 1;
    let start = start + usize::from(matches!(words.get(start), Some(&"is" | &"number")));
    let chars = spelled_chars(&words[start..]);
    (2..=8).contains(&chars.len()).then_some(chars)
}

/// A licence plate as a tool received it: letters and digits, spaces and dashes dropped,
/// upper case, 2 to 8 characters; `None` when it cannot be a plate.
pub fn check_plate(plate: &str) -> Option<String> {
    let chars: String = plate
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    ((2..=8).contains(&chars.len()) && chars.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(chars)
}

/// A name spelled letter by letter ("s as in sam m i t h"), capitalised ("Smith").
pub fn spelled_name(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let start = words
        .iter()
        .position(|w| matches!(*w, "spelled" | "spell" | "spelt" | "its"))
        .map_or(0, |p| p + 1);
    let letters = spelled_chars(&words[start..]);
    if letters.len() < 2 || !letters.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut name = letters.to_ascii_lowercase();
    name[..1].make_ascii_uppercase();
    Some(name)
}

/// How to read a spelled value back, letter by letter: "S, M, I, T, H".
pub fn read_back_letters(value: &str) -> String {
    value
        .chars()
        .map(|c| c.to_ascii_uppercase().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
