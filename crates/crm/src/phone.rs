//! Phone number normalisation to E.164 (default region US) and masking for logs.
//!
//! Validity comes from libphonenumber's metadata (the `phonenumber` crate), not from a regex.
//! Note that the metadata knows which area codes exist: the popular fictional `(555) 123-4567`
//! has area code 555, which is not assigned, so it is rejected as invalid. The fiction range
//! that is valid is a real area code with the exchange 555 and a line of 0100-0199, for example
//! `(413) 555-0142`; the demo data and the tests use those.

use phonenumber::{Mode, country};

use crate::CrmError;

/// Normalises a phone number in any common format ("(413) 555-0142", "413.555.0142",
/// "+1 413 555 0142", "14135550142", "tel:+14135550142") to E.164 ("+14135550142").
/// Numbers without a country code are read as US numbers. Extensions are dropped.
pub fn normalize_phone(input: &str) -> Result<String, CrmError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(CrmError::InvalidPhone {
            reason: "empty".to_owned(),
        });
    }
    let number = phonenumber::parse(Some(country::Id::US), trimmed).map_err(|err| {
        CrmError::InvalidPhone {
            reason: err.to_string(),
        }
    })?;
    if !number.is_valid() {
        return Err(CrmError::InvalidPhone {
            reason: "not an assigned number range".to_owned(),
        });
    }
    Ok(number.format().mode(Mode::E164).to_string())
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
    fn invalid_numbers_are_typed_errors() {
        check("", Err(()));
        check("   ", Err(()));
        check("abc", Err(()));
        check("12", Err(()));
        check("555-0142", Err(()));
        // Area code 555 is not assigned: the "(555) 123-4567" examples are rejected.
        check("(555) 123-4567", Err(()));
        check("555.123.4567", Err(()));
        check("+1 555 123 4567", Err(()));
        check("15551234567", Err(()));
        check("(999) 123-4567", Err(()));
        check("(413) 055-0142", Err(()));
    }

    #[test]
    fn masking_keeps_only_the_last_four_digits() {
        assert_eq!(mask_phone("+14135550142"), "***0142");
        assert_eq!(mask_phone("(413) 555-0142"), "***0142");
        assert_eq!(mask_phone("12"), "***12");
        assert_eq!(mask_phone(""), "***");
    }
}
