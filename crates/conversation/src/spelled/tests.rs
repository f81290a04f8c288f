use super::*;
use crate::text::normalize;

#[track_caller]
fn phone(said: &str) -> Option<String> {
    phone_number(&normalize(said))
}

#[test]
fn phone_numbers_said_in_digits_pairs_and_words() {
    for said in [
        "four one three, five five five, oh one hundred",
        "413 555 0100",
        "(413) 555-0100",
        "four thirteen five five five zero one zero zero",
        "my number is four one three five five five oh one oh oh",
        "area code four one three, five double five, oh one double oh",
        "one four one three five five five zero one zero zero",
        "4135550100",
        "i got 2 cars for 3 days and my number is 413 555 0100",
    ] {
        assert_eq!(phone(said).as_deref(), Some("+14135550100"), "{said:?}");
    }
    // Runs too short for 10 digits are skipped unread, counting what "double" and "triple"
    // repeat: this one has 8 number words.
    assert_eq!(
        phone("two oh two triple five one two one two").as_deref(),
        Some("+12025551212")
    );
    for said in [
        "four one three",
        "call me tomorrow",
        "zero one two three four five six seven eight nine",
    ] {
        assert_eq!(phone(said), None, "{said:?}");
    }
    assert_eq!(read_back_phone("+14135550100"), "4 1 3, 5 5 5, 0 1 0 0");
}

#[test]
fn vins_are_read_letter_by_letter_and_checked() {
    // John Smith's Civic in the demo data; its check digit (9th) is 9.
    for said in [
        "my vin is 2 h g f c 2 f 5 9 k h 5 0 0 1 4 2",
        "the vin is two h g f c two f five nine k h five zero zero one four two",
        "2 hotel golf foxtrot charlie 2 f 5 9 kilo hotel 5 oh oh 1 4 2",
        "vin 2hgfc2f59kh500142",
    ] {
        assert_eq!(
            vin(&normalize(said)).as_deref(),
            Ok("2HGFC2F59KH500142"),
            "{said:?}"
        );
    }
    // An X check digit.
    assert_eq!(
        vin(&normalize("vin 1 m 8 g d m 9 a x k p 0 4 2 7 8 8")).as_deref(),
        Ok("1M8GDM9AXKP042788")
    );
    // One character misheard: the check digit catches it.
    assert_eq!(
        vin(&normalize("vin 2 h g f c 2 f 5 9 k h 5 0 0 1 4 3")),
        Err(VinError::CheckDigit)
    );
    assert_eq!(
        vin(&normalize("vin 2 h g f c 2 f 5 9 k h 5 0 0 1 4")),
        Err(VinError::Length(16))
    );
    assert_eq!(
        vin(&normalize("vin 2 h g f c 2 f 5 9 k h 5 0 0 1 4 q")),
        Err(VinError::ForbiddenLetter('Q'))
    );
}

#[test]
fn plates_and_spelled_names() {
    assert_eq!(
        plate(&normalize("my plate is a b c one two three")).as_deref(),
        Some("ABC123")
    );
    assert_eq!(
        plate(&normalize("plate number 7 x as in xray k 4 4")).as_deref(),
        Some("7XK44")
    );
    assert_eq!(plate(&normalize("no plate yet")), None);
    for said in [
        "its s as in sam m i t h",
        "spelled s m i t h",
        "S, M, I, T, H",
        "sierra mike india tango hotel",
    ] {
        assert_eq!(
            spelled_name(&normalize(said)).as_deref(),
            Some("Smith"),
            "{said:?}"
        );
    }
    assert_eq!(
        spelled_name(&normalize("spelled double l o y d")).as_deref(),
        Some("Lloyd")
    );
    assert_eq!(spelled_name(&normalize("hello there")), None);
    assert_eq!(read_back_letters("Smith"), "S, M, I, T, H");
}
