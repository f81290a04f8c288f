//! Phone number normalisation to E.164 (default region US). Withheld caller IDs and masking for
//! logs are `conversation::caller_id`'s (re-exported here).
//!
//! Parsing comes from libphonenumber's rules (the `phonenumber` crate), not from a regex. A
//! number is accepted when it is *syntactically* a phone number: E.164 length, and for North
//! America (+1) ten digits whose area code starts with 2-9. It is not refused for
//! being unassigned: Twilio only sends numbers that exist, and a caller from the fictional
//! `(555) 123-4567` of the seed scenarios is a new customer, not an unknown caller.

use phonenumber::{Mode, country};

pub use conversation::caller_id::{is_withheld, mask_phone};

use crate::CrmError;

/// Normalises a phone number in any common format ("(413) 555-0142", "413.555.0142",
/// "+1 413 555 0142", "14135550142", "tel:+14135550142") to E.164 ("+14135550142").
/// Numbers without a country code are read as US numbers. Extensions are dropped.
pub fn normalize_phone(input: &str) -> Result<String, CrmError> {
    let invalid = |reason: &str| CrmError::InvalidPhone {
        reason: reason.to_owned(),
    };
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty"));
    }
    let number = phonenumber::parse(Some(country::Id::US), trimmed).map_err(|err| {
        CrmError::InvalidPhone {
            reason: err.to_string(),
        }
    })?;
    let e164 = number.format().mode(Mode::E164).to_string();
    let digits = e164.trim_start_matches('+');
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("not a phone number's length"));
    }
    if number.code().value() == 1 {
        // North American numbering: ten digits, the area code starting with 2-9. (The exchange
        // is not checked: the seed's fictional 555-123-4567 has exchange 123.)
        let national = &digits.as_bytes()[1..];
        if national.len() != 10 || national[0] < b'2' {
            return Err(invalid("not a North American number"));
        }
    }
    Ok(e164)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Result<&str, ()>) {
        let got = normalize_phone(input).map_err(|err| {
            assert!(matches!(err, CrmError::InvalidPhone { .. }), "{err:?}");
        });
        assert_eq!(
            got.as_deref(),
            expected.as_ref().copied().map_err(|_| &()),
            "{input:?}"
        );
    }

    #[test]
    fn common_us_formats_normalise_to_e164() {
        check("(413) 555-0142", Ok("+14135550142"));
        check("413.555.0142", Ok("+14135550142"));
        check("413-555-0142", Ok("+14135550142"));
        check("+1 413 555 0142", Ok("+14135550142"));
        check("14135550142", Ok("+14135550142"));
        check("4135550142", Ok("+14135550142"));
        check("  +14135550142 ", Ok("+14135550142"));
        check("1 (413) 555-0142", Ok("+14135550142"));
        check("+1 212 555 0199 ext 12", Ok("+12125550199"));
        check("+1 800 555 0199", Ok("+18005550199"));
    }

    #[test]
    fn international_numbers_keep_their_country() {
        check("+44 20 7946 0958", Ok("+442079460958"));
    }

    #[test]
    fn unassigned_but_well_formed_numbers_are_numbers() {
        // The seed's new caller: area code 555 is not assigned, but the number is well formed.
        check("+15551234567", Ok("+15551234567"));
        check("(555) 123-4567", Ok("+15551234567"));
        check("555.123.4567", Ok("+15551234567"));
        check("15551234567", Ok("+15551234567"));
        check("(999) 123-4567", Ok("+19991234567"));
    }

    #[test]
    fn invalid_numbers_are_typed_errors() {
        check("", Err(()));
        check("   ", Err(()));
        check("abc", Err(()));
        check("12", Err(()));
        check("555-0142", Err(()));
        check("anonymous", Err(()));
        check("(113) 555-0142", Err(()));
        check("+1 413 555 01422", Err(()));
    }
}
