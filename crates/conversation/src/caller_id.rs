//! Caller IDs: whether one is withheld (Twilio and carriers send words such as "anonymous" for a
//! withheld number), and masking a number for logs. Pure string functions, shared by the CRM and
//! the call pipeline; parsing a number to E.164 is `crm`'s (it needs libphonenumber's rules).

/// Caller-ID values carriers and Twilio use for a withheld number, and their keypad spellings
/// (`+266696687` is ANONYMOUS on a phone keypad).
const WITHHELD: &[&str] = &[
    "anonymous",
    "restricted",
    "unknown",
    "unavailable",
    "private",
    "blocked",
    "+266696687",
    "+86282452253",
    "+8656696",
    "+2562533",
    "+7378742833",
];

/// Whether a caller ID says the number is withheld (or is missing).
pub fn is_withheld(caller_id: &str) -> bool {
    let caller_id = caller_id.trim();
    caller_id.is_empty()
        || WITHHELD
            .iter()
            .any(|withheld| caller_id.eq_ignore_ascii_case(withheld))
}

/// Masks a phone number for logs: everything but the last 4 digits becomes `*`
/// ("+14135550142" -> "***0142").
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let keep = digits.len().saturating_sub(4);
    let last4: String = digits[keep..].iter().collect();
    format!("***{last4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withheld_caller_ids_are_recognised() {
        for withheld in [
            "",
            "anonymous",
            "Anonymous",
            "RESTRICTED",
            "unknown",
            "+266696687",
        ] {
            assert!(is_withheld(withheld), "{withheld:?}");
        }
        for number in ["+14135550142", "+15551234567", "4135550142"] {
            assert!(!is_withheld(number), "{number:?}");
        }
    }

    #[test]
    fn masking_keeps_only_the_last_four_digits() {
        assert_eq!(mask_phone("+14135550142"), "***0142");
        assert_eq!(mask_phone("(413) 555-0142"), "***0142");
        assert_eq!(mask_phone("12"), "***12");
        assert_eq!(mask_phone(""), "***");
    }
}
