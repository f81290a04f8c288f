//! Finds dates and times in a normalised utterance and resolves them against "today".
//!
//! Rules (all in the shop's timezone):
//! - "today", "tonight", "this morning|afternoon|evening": today; "tomorrow": +1;
//!   "the day after tomorrow": +2.
//! - A bare weekday ("monday") is the next one strictly after today. "this saturday" is the
//!   one in the current Monday-to-Sunday week if not past (today counts), else the next one.
//!   "next monday" (or "the following monday") is the Monday of the following week. "friday
//!   week", "friday after next", "a week from friday" and "2 weeks from friday" count weeks
//!   from the coming friday; "not this friday the next one" is the friday a week after this
//!   one; "the monday after thanksgiving" is the first monday after the holiday
//!   (`find_weekday_after`).
//! - "3 days from now", "same time next week" (unless a weekday is named): counted from today.
//! - "the 28th": this month if not past, else the next month that has that day.
//! - "december 3rd", "the 3rd of december", "12/8": this year if not past, else next year;
//!   an explicit year ("12/8/2027") is kept.
//! - Times: "2pm", "2:30", "2 30", "noon", "half past 2", "10 in the morning", "at 3".
//!   Without am/pm, a part-of-day word in the same utterance decides; otherwise the hour
//!   that falls inside opening hours wins (so "2:30" is 14:30 and "9" is 09:00).
//! - A part of the day alone ("morning", "after lunch") is a `DayPeriod`, not a time.

use std::sync::LazyLock;

use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime, Weekday};
use regex::{Captures, Regex};

use crate::text::ascii_regex;

use crate::shop::OpeningHours;
use crate::types::DayPeriod;

/// A date the caller said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DateMention {
    /// The words as heard (normalised).
    pub(crate) heard: String,
    /// `None` when it names no real day ("february 30th").
    pub(crate) date: Option<NaiveDate>,
}

/// A time or a part of the day the caller said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeMention {
    /// The words as heard (normalised).
    pub(crate) heard: String,
    /// The clock time, when one was said.
    pub(crate) time: Option<NaiveTime>,
    /// The part of the day, when only that was said.
    pub(crate) period: Option<DayPeriod>,
}

const MONTHS: &str = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec";
const WEEKDAYS: &str = "monday|tuesday|wednesday|thursday|friday|saturday|sunday";

struct DatePatterns {
    numeric: Regex,
    month_day: Regex,
    day_of_month_named: Regex,
    day_of_month: Regex,
    relative: Regex,
    weekday: Regex,
    not_this: Regex,
    weekday_after: Regex,
}

static DATE: LazyLock<DatePatterns> = LazyLock::new(|| DatePatterns {
    numeric: ascii_regex(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b"),
    month_day: ascii_regex(&format!(
        r"\b({MONTHS})\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\b"
    )),
    day_of_month_named: ascii_regex(&format!(
        r"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTHS})\b"
    )),
    day_of_month: ascii_regex(
        r"(?:\bthe\s+|^)(\d{1,2})(?:st|nd|rd|th)\b(\s+(?:time|one|ones|1|thing|things|step|place|guy|car|truck|van|slot|spot|opening|shop|garage|mechanic)\b)?",
    ),
    relative: ascii_regex(
        r"\b(?:the\s+)?((?:a|\d) weeks? from (?:today|now|tomorrow)|\d{1,2} days? from (?:today|now|tomorrow)|(?:same|this) time next week|day after tomorrow|tomorrows?|tmrw|today|tonight|this (?:morning|afternoon|evening))\b",
    ),
    weekday: ascii_regex(&format!(
        r"\b((?:a|\d) weeks? from\s+|(?:next|the following|following|this coming|this|coming)\s+)?({WEEKDAYS})(\s+next week|\s+week|\s+after next)?\b(\s+(?:mornings|afternoons|evenings|nights))?"
    )),
    // "not this friday the next one" (normalised "next 1"): the friday after the coming one.
    not_this: ascii_regex(&format!(
        r"\bnot (?:this|the coming|this coming) ({WEEKDAYS})\b[\w ]{{0,12}}?\b(?:the next 1|next 1|the 1 after|the following 1|the week after)\b"
    )),
    // "the monday after thanksgiving": a weekday counted from a holiday (`find_weekday_after`).
    weekday_after: ascii_regex(&format!(r"\b(?:the )?({WEEKDAYS}) (?:after|following) ")),
});

struct TimePatterns {
    noon: Regex,
    minutes_to_or_past: Regex,
    hundred_hours: Regex,
    half_quarter: Regex,
    hour_minute: Regex,
    hour_marker: Regex,
    hour_in_the: Regex,
    hour_after_word: Regex,
    period: Regex,
}

static TIME: LazyLock<TimePatterns> = LazyLock::new(|| TimePatterns {
    noon: ascii_regex(r"\b(noon|noonish|midday|lunchtime|lunch time)\b"),
    // "10 of 3", "10 til 6": minutes before the hour. "20 past 9", "10 after 9": minutes past
    // the hour; "minutes to" is never a range. A bare "to" is a range ("8 to 6", "10 to 11")
    // but where no range can be meant: "20 to 11", "25 to 3" (no hour 20 or 25) and "10 to
    // 10" (`find_time` checks the hours are the same).
    minutes_to_or_past: ascii_regex(
        r"\b(5|10|15|20|25)(?: minutes)? (of|til|till|before|past|after) (\d{1,2})\b|\b(5|10|15|20|25) minutes to (\d{1,2})\b|\b(5|10|20|25) (to) (\d{1,2})\b",
    ),
    // "14 hundred", "16 hundred hours", "at 15 hours", "oh 8 hundred": the 24-hour clock said aloud
    // ("oh 8 hundred" only opening the text or after a time word, a day or a date: "5 5 5 oh 1
    // hundred" is a phone number).
    hundred_hours: ascii_regex(
        r"\b(1[3-9]|2[0-3]) hundred\b|\b(\d{1,2}) hundred hours\b|\bat (1[3-9]|2[0-3]) hours\b|(?:^|\b(?:at|by|for|around|about|say|til|till|until|from|\d{1,2}(?:st|nd|rd|th)|monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|today) )(?:(?:uh|um) )?(?:oh|0) ([5-9]) hundred\b",
    ),
    // "half 8" is 8:30 (British).
    half_quarter: ascii_regex(
        r"\b(half past|quarter past|quarter after|quarter to|quarter till|quarter til|quarter of|half) (\d{1,2})\b",
    ),
    // "2 30", "2:30"; "11 oh 5" is 11:05 (`find_time` keeps a phone number's "5 oh 1" out).
    hour_minute: ascii_regex(
        r"\b(\d{1,2})(?:(?::| )([0-5]\d)| oh ([1-9]))\b(?:\s?(am|pm|a m|p m))?",
    ),
    hour_marker: ascii_regex(
        r"\b(\d{1,2})\s?(am|pm|a m|p m|oclock|o clock|ish|sharp|too late|too early)\b",
    ),
    hour_in_the: ascii_regex(r"\b(\d{1,2}) in the (morning|afternoon|evening)\b"),
    // An hour after a word that leads to one ("at 3", "around 10", "same time which was
    // 10": the time kept when only the day moves; "come tomorrow 9", "friday 10"), not a
    // count or an amount after it.
    hour_after_word: ascii_regex(
        r"\b(?:at|around|round|about|bout|by|after|before|till|until|til|say|like|maybe|for|from|make it|to|how about|do|try|be|past|between|than|at the|same time (?:which|that) (?:was|is)|(?:was|is) it(?: still)?|tomorrow|today|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday) (?:uh |um )?(\d{1,2})\b(?: (minutes?|hours?|days?|weeks?|months?|years?|miles?|thousand|hundred|grand|dollars|bucks|of|cars?|tires?|vans?|trucks?|vehicles?|new|used|more|people|times?|or so|quarts?|spots?|stars?|point|percent|gallons?|seconds?|shops?|company|front|rear|back|kids?|(?:cruisers|units|rigs|pickups|suvs|sedans|minivans|buses|all seasons|all terrains)\b))?",
    ),
    period: ascii_regex(
        r"\b(morning|afternoon|evening|tonight|1st thing|before lunch|after lunch|end of the day|after work)\b",
    ),
});

/// The most specific date in `text`, resolved against `today`.
pub(crate) fn find_date(text: &str, today: NaiveDate) -> Option<DateMention> {
    let p = &*DATE;
    let clues = Clues::of(text);
    if clues.slash
        && clues.digit
        && let Some(caps) = p.numeric.captures(text)
    {
        let month: u32 = caps[1].parse().ok()?;
        let day: u32 = caps[2].parse().ok()?;
        let year = caps.get(3).and_then(|m| m.as_str().parse::<i32>().ok());
        let year = year.map(|y| if y < 100 { 2000 + y } else { y });
        if (1..=12).contains(&month) {
            let date = match year {
                Some(year) => NaiveDate::from_ymd_opt(year, month, day),
                None => next_month_day(today, month, day),
            };
            return Some(mention(&caps, date));
        }
    }
    // A day said with "of" or as an ordinal ("3 of may", "7th december"), not a bare number.
    let said_as_a_day = |heard: &str| {
        heard.contains(" of ")
            || ["st ", "nd ", "rd ", "th "]
                .iter()
                .any(|suffix| heard.contains(suffix))
    };
    // "the front 1 may be leaking": without "of" or an ordinal, "may" after a number is the verb.
    let verb_may = |caps: &Captures<'_>| {
        let heard = &caps[0];
        heard.ends_with(" may") && heard.as_bytes()[0].is_ascii_digit() && !said_as_a_day(heard)
    };
    // "monday the 7th of december 9 in the morning": a day said as an ordinal or with "of"
    // before its month is read before a number after the month; "10 30 march 3rd" is march 3rd.
    let month_and_day = (clues.digit && clues.month)
        .then(|| {
            let after = p.month_day.captures_iter(text).find(|caps| !verb_may(caps));
            let before = p
                .day_of_month_named
                .captures_iter(text)
                .find(|caps| !verb_may(caps));
            let start = |caps: &Captures<'_>| caps.get(0).map_or(usize::MAX, |m| m.start());
            match (after, before) {
                (Some(after), Some(before))
                    if start(&before) < start(&after) && said_as_a_day(&before[0]) =>
                {
                    Some(before)
                }
                (Some(after), _) => Some(after),
                (None, before) => before,
            }
        })
        .flatten();
    if let Some(caps) = month_and_day {
        let (month_name, day) = if caps[1].starts_with(|c: char| c.is_ascii_digit()) {
            (&caps[2], &caps[1])
        } else {
            (&caps[1], &caps[2])
        };
        let date = month_number(month_name)
            .zip(day.parse::<u32>().ok())
            .and_then(|(month, day)| next_month_day(today, month, day));
        return Some(mention(&caps, date));
    }
    if clues.ordinal
        && let Some(caps) = p
            .day_of_month
            .captures_iter(text)
            // "the 1st available" is the first free slot; "is the 21st available" is a day.
            .find(|caps| {
                caps.get(2).is_none()
                    && !(&caps[1] == "1"
                        && text[caps.get(0).map_or(0, |m| m.end())..].starts_with(" available"))
            })
    {
        // "the third time" counts, it names no day. "monday the 28th" is the next 28th that is
        // a monday.
        let start = caps.get(0).map_or(0, |m| m.start());
        let weekday = text[..start]
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(weekday_number);
        let date = caps[1].parse::<u32>().ok().and_then(|day| match weekday {
            Some(weekday) => next_day_of_month_on(today, day, weekday),
            None => next_day_of_month(today, day),
        });
        return Some(mention(&caps, date));
    }
    if text.contains("not ")
        && let Some(caps) = p.not_this.captures(text)
    {
        // "this tuesday" said on a tuesday is today; the next one is a week on.
        let date = weekday_number(&caps[1])
            .and_then(|weekday| this_weekday(today, weekday))
            .and_then(|day| day.checked_add_days(Days::new(7)));
        return Some(mention(&caps, date));
    }
    // "can tomorrows oil change be thursday instead": the appointment is tomorrow's, the day
    // asked for is thursday.
    // "thursday same time next week": the weekday decides.
    // "this morning", said in a morning's call, is mostly what already happened ("the battery
    // died this morning", "i dropped it off this morning"): a day asked for only after words of
    // a request ("can you fit me in this morning"); otherwise a later day is read.
    let relative = clues
        .relative
        .then(|| {
            p.relative.captures_iter(text).find(|caps| {
                &caps[1] != "this morning"
                    || ASKED_BEFORE.is_match(&text[..caps.get(0).map_or(0, |m| m.start())])
            })
        })
        .flatten()
        .filter(|caps| match &caps[1] {
            "tomorrows" => !p
                .weekday
                .is_match(&text[caps.get(0).map_or(0, |m| m.end())..]),
            "same time next week" | "this time next week" => !p.weekday.is_match(text),
            _ => true,
        });
    if let Some(caps) = relative {
        let heard = &caps[1];
        let offset = if let Some((count, from)) = heard.split_once(" week") {
            // "a week from today", "2 weeks from now", "2 weeks from tomorrow".
            7 * count.parse::<u64>().unwrap_or(1) + u64::from(from.ends_with("tomorrow"))
        } else if let Some((count, from)) = heard.split_once(" day") {
            // "3 days from now", "10 days from tomorrow".
            count.parse::<u64>().unwrap_or(1) + u64::from(from.ends_with("tomorrow"))
        } else {
            match heard {
                "day after tomorrow" => 2,
                "tomorrow" | "tomorrows" | "tmrw" => 1,
                _ => 0,
            }
        };
        return Some(DateMention {
            heard: caps[1].to_owned(),
            date: today.checked_add_days(Days::new(offset)),
        });
    }
    // "saturday mornings" is every saturday, no one day.
    // "black friday deals" is a sale, not a day.
    let black_friday = |caps: &Captures<'_>| {
        caps.get(0).is_some_and(|m| {
            text[..m.start()].ends_with("black ")
                && ["deals", "specials", "sale", "sales"]
                    .iter()
                    .any(|word| text[m.end()..].starts_with(&format!(" {word}")))
        })
    };
    if clues.weekday
        && let Some(caps) = p
            .weekday
            .captures_iter(text)
            .find(|caps| caps.get(4).is_none() && !black_friday(caps) && !in_range(text, caps))
    {
        let weekday = weekday_number(&caps[2])?;
        // "wednesday next week" is "next wednesday"; "friday week" is a week after the coming friday.
        let which = caps
            .get(1)
            .map(|m| m.as_str().trim_end())
            .or(caps.get(3).map(|m| {
                // "monday week" (British), "monday after next": a week after the coming monday.
                if matches!(m.as_str().trim_start(), "week" | "after next") {
                    "a week from"
                } else {
                    "next"
                }
            }));
        let date = match which {
            None | Some("coming" | "this coming") => next_weekday_after(today, weekday),
            // "a week from thursday": the thursday after the coming one.
            // "2 weeks from friday": the coming friday and two weeks.
            Some(from) if from.ends_with("from") => {
                next_weekday_after(today, weekday).and_then(|day| {
                    day.checked_add_days(Days::new(7 * from[..1].parse().unwrap_or(1)))
                })
            }
            // "the following friday": the one of next week, as "next friday".
            Some("next" | "the following" | "following") => {
                let days_to_next_monday = 7 - u64::from(today.weekday().num_days_from_monday());
                today.checked_add_days(Days::new(
                    days_to_next_monday + u64::from(weekday.num_days_from_monday()),
                ))
            }
            Some(_) => this_weekday(today, weekday),
        };
        return Some(mention(&caps, date));
    }
    None
}

/// "the monday after thanksgiving", "the saturday after christmas": the first such weekday
/// after one of `holidays` (the shop's, normalised short names with their next dates).
pub(crate) fn find_weekday_after(
    text: &str,
    holidays: &[(String, NaiveDate)],
    today: NaiveDate,
) -> Option<DateMention> {
    if !text.contains(" after ") && !text.contains(" following ") {
        return None;
    }
    DATE.weekday_after.captures_iter(text).find_map(|caps| {
        let rest = &text[caps.get(0)?.end()..];
        let (short, holiday) = holidays.iter().find(|(short, date)| {
            *date >= today
                && rest.starts_with(short.as_str())
                && matches!(rest.as_bytes().get(short.len()), None | Some(b' ' | b's'))
        })?;
        Some(DateMention {
            heard: format!("{} {short}", caps[0].trim_end()),
            date: next_weekday_after(*holiday, weekday_number(&caps[1])?),
        })
    })
}

/// "monday through friday": a span of the week (opening hours), not a day.
fn in_range(text: &str, caps: &Captures<'_>) -> bool {
    caps.get(0).is_some_and(|m| {
        let after = &text[m.end()..];
        let before = &text[..m.start()];
        [" through ", " thru ", " to "].iter().any(|word| {
            after.starts_with(word)
                && after[word.len()..]
                    .split(' ')
                    .next()
                    .and_then(weekday_number)
                    .is_some()
        }) || [" through ", " thru "].iter().any(|word| {
            before
                .strip_suffix(word)
                .is_some_and(|start| start.rsplit(' ').next().and_then(weekday_number).is_some())
        })
    })
}

/// What a range of numbers counts when it is no time ("2 or 3 days", "5 or 10 mins").
pub(crate) const RANGE_UNITS: &[&str] = &[
    "day", "days", "hour", "hours", "min", "mins", "minutes", "weeks", "months", "years", "tires",
    "cars", "bucks", "dollars", "hundred", "thousand", "grand", "miles", "times", "people",
    "quarts",
];

/// Words that make a line one about money.
const MONEY_WORDS: &[&str] = &[
    "price", "prices", "quote", "quoted", "cost", "costs", "bucks", "dollars", "estimate", "range",
    "ballpark",
];

/// Words right before a number that make it a time even in a line about money.
const TIME_LEADS: &[&str] = &[
    "at", "by", "for", "til", "till", "until", "before", "after", "from", "to", "say", "do",
    "make", "try", "around", "about", "like", "maybe",
];

/// Words that make the number after them a price ("quoted me like 3 50", "the bill says
/// 5 50"), and the small words skipped to find one; "at" is not skipped ("pay the bill at 5 30"
/// is a time).
const PRICE_WORDS: &[&str] = &[
    "quoted", "quote", "charged", "charge", "billed", "bill", "paid", "pay", "spent", "costs",
    "cost", "owe", "total",
];
const PRICE_FILLERS: &[&str] = &[
    "me", "us", "him", "her", "like", "about", "around", "only", "was", "says", "said",
];

/// The time in `text`. `hours` are the opening hours used to read an hour without am/pm.
pub(crate) fn find_time(text: &str, hours: OpeningHours) -> Option<TimeMention> {
    let p = &*TIME;
    let clues = Clues::of(text);
    let period_match = clues.period.then(|| find_period(text)).flatten();
    let period = period_match.map(|(_, period)| period);
    let clock = |hour: u32, minute: u32, marker: Option<&str>| -> Option<NaiveTime> {
        let hour = match marker {
            Some("am" | "a m") => hour % 12,
            Some("pm" | "p m") => hour % 12 + 12,
            _ if hour > 12 => hour,
            // A part of the day decides, unless its reading falls outside opening hours and the
            // other one inside ("brought it in this morning, can i come for it at 3" is 15:00;
            // "instead of the afternoon, at 8" is 08:00).
            _ => {
                let by_period = match period {
                    Some(DayPeriod::Morning) => Some(hour % 12),
                    Some(DayPeriod::Afternoon | DayPeriod::Evening) => Some(hour % 12 + 12),
                    None => None,
                };
                let inside = hour_inside(hour, minute, hours);
                match by_period {
                    Some(by_period)
                        if by_period == inside || is_open_at(by_period, minute, hours) =>
                    {
                        by_period
                    }
                    Some(_) if is_open_at(inside, minute, hours) => inside,
                    Some(by_period) => by_period,
                    None => inside,
                }
            }
        };
        NaiveTime::from_hms_opt(hour, minute, 0)
    };
    let timed = |heard: &str, time: Option<NaiveTime>| {
        Some(TimeMention {
            heard: heard.to_owned(),
            time,
            period: None,
        })
    };
    if clues.noon
        && let Some(caps) = p.noon.captures(text)
    {
        // "between 11 and noon": the range's start is the time asked for.
        let start = caps.get(0).map_or(0, |m| m.start());
        let before = &text[..start];
        let range_start = [" and ", " to ", " or ", " till ", " until "]
            .iter()
            .any(|word| before.ends_with(word))
            && before
                .rsplit(' ')
                .take(6)
                .any(|word| word == "between" || word == "from");
        if range_start && let Some(earlier) = find_time(before, hours).filter(|t| t.time.is_some())
        {
            return Some(earlier);
        }
        return timed(&caps[1], NaiveTime::from_hms_opt(12, 0, 0));
    }
    // Every clock pattern below needs a digit; most utterances have none.
    let digits = clues.digit;
    // "a ram fifteen hundred", "a sierra fifteen hundred": a model, not a time.
    let truck_model = |at: usize| {
        matches!(
            text[..at].trim_end().rsplit(' ').next(),
            Some("ram" | "silverado" | "sierra" | "chevy" | "gmc" | "dodge" | "f" | "ford")
        )
    };
    // "the dealer wanted like 15 hundred", "the shop said it was 15 hundred": a price, not a
    // time (a price word among the four words before it).
    let asked_as_a_price = |at: usize| {
        text[..at]
            .split(' ')
            .rev()
            .filter(|word| !word.is_empty())
            .take(4)
            .any(|word| PRICE_WORDS.contains(&word) || matches!(word, "wanted" | "said"))
    };
    // The first that is not a truck or a price ("a ram 15 hundred at 14 hundred" is 14:00).
    if digits
        && clues.hundred
        && let Some(caps) = p.hundred_hours.captures_iter(text).find(|caps| {
            let at = caps.get(0).map_or(0, |m| m.start());
            !truck_model(at) && !asked_as_a_price(at)
        })
    {
        let hour: u32 = (1..=4)
            .find_map(|i| caps.get(i))
            .and_then(|m| m.as_str().parse().ok())?;
        // "friday the 4th oh 8 hundred": the word before "oh 8 hundred" is matched only to
        // place it; the time heard starts at "oh" (or "0").
        let heard = match (caps.get(0), caps.get(4)) {
            (Some(whole), Some(hour)) => {
                let before = &text[whole.start()..hour.start()];
                let said = before.len() - if before.ends_with("oh ") { 3 } else { 2 };
                &text[whole.start() + said..whole.end()]
            }
            _ => &caps[0],
        };
        return timed(heard, NaiveTime::from_hms_opt(hour, 0, 0));
    }
    let minutes_to_or_past = (digits && clues.minutes)
        .then(|| p.minutes_to_or_past.captures_iter(text))
        .into_iter()
        .flatten()
        .find(|caps| {
            // A bare "to" reads minutes only between the same hours ("10 to 10"), from 20 and
            // 25, or as "10 to 9" opening the line or after "at", "by", "around" or "about"
            // ("free 10 to 8" is a range), and not before
            // minutes ("10 to 10 30" is a range) nor from a number.
            caps.get(6).is_none_or(|minutes| {
                let whole = caps.get(0).map_or(0..0, |m| m.range());
                let next = text[whole.end..]
                    .strip_prefix(' ')
                    .map_or("", |rest| rest.split(' ').next().unwrap_or(""));
                // "from 25 to 10 mpg" is a change of a number.
                (matches!(minutes.as_str(), "20" | "25")
                    || minutes.as_str() == &caps[8]
                    || (minutes.as_str() == "10"
                        && matches!(&caps[8], "7" | "8" | "9")
                        && (whole.start == 0
                            || ["at ", "by ", "around ", "about "]
                                .iter()
                                .any(|lead| text[..whole.start].ends_with(lead)))))
                    && !next.starts_with(|c: char| c.is_ascii_digit())
                    && !text[..whole.start].ends_with("from ")
                    && !text[..whole.start].ends_with("between ")
                    && !matches!(
                        next,
                        "mpg" | "miles" | "psi" | "degrees" | "percent" | "w" | "gallons" | "bucks"
                    )
            })
        });
    if let Some(caps) = minutes_to_or_past {
        let (minutes, word, hour) = match (caps.get(1), caps.get(4), caps.get(6)) {
            (Some(minutes), _, _) => (minutes.as_str(), &caps[2], &caps[3]),
            (None, Some(minutes), _) => (minutes.as_str(), "to", &caps[5]),
            (None, None, Some(minutes)) => (minutes.as_str(), "to", &caps[8]),
            (None, None, None) => return None,
        };
        let minutes: u32 = minutes.parse().ok()?;
        let hour: u32 = hour.parse().ok()?;
        if (1..=12).contains(&hour) {
            if matches!(word, "past" | "after") {
                return timed(&caps[0], clock(hour, minutes, None));
            }
            let before = if hour == 1 { 12 } else { hour - 1 };
            return timed(&caps[0], clock(before, 60 - minutes, None));
        }
    }
    if digits
        && clues.half_quarter
        && let Some(caps) = p.half_quarter.captures(text)
    {
        let hour: u32 = caps[2].parse().ok()?;
        let time = match &caps[1] {
            "half past" | "half" => clock(hour, 30, None),
            "quarter past" | "quarter after" => clock(hour, 15, None),
            // "quarter to 1" is 12:45.
            _ => clock(if hour <= 1 { hour + 11 } else { hour - 1 }, 45, None),
        };
        return timed(&caps[0], time);
    }
    // Whether the line is about money, asked once however many numbers it has.
    let about_money = std::cell::OnceCell::new();
    for caps in clues
        .clock
        .then(|| p.hour_minute.captures_iter(text))
        .into_iter()
        .flatten()
    {
        let hour: u32 = caps[1].parse().ok()?;
        let minute: u32 = caps
            .get(2)
            .or(caps.get(3))
            .map(|m| m.as_str())
            .unwrap_or("")
            .parse()
            .ok()?;
        let (start, end) = caps
            .get(0)
            .map_or((0, text.len()), |m| (m.start(), m.end()));
        // The words right before and right after the match, if spaces set it off.
        let word_before = text[..start]
            .strip_suffix(' ')
            .and_then(|before| before.rsplit(' ').next());
        let word_after = text[end..]
            .strip_prefix(' ')
            .map(|rest| rest.split(' ').next().unwrap_or(""));
        // "11 oh 5" is a time opening the line or after a word that leads to a time ("would 11
        // oh 5 work", "at 10 oh 5"), and not before a digit: "5 5 5 oh 1 2 3" is a phone number,
        // "units 2 oh 6 and 2 oh 9" are numbers.
        let oh_not_a_time = caps.get(3).is_some() && {
            // Opening the line, a word about when must follow ("8 oh 1" alone is an area code).
            let led = match word_before {
                Some(word) => word == "would" || TIME_LEADS.contains(&word),
                None => word_after.is_some_and(|word| {
                    matches!(
                        word,
                        "am" | "pm"
                            | "today"
                            | "tomorrow"
                            | "tonight"
                            | "works"
                            | "work"
                            | "ok"
                            | "okay"
                            | "please"
                            | "on"
                    ) || is_weekday(word)
                }),
            };
            let digit_after =
                word_after.is_some_and(|word| word.starts_with(|c: char| c.is_ascii_digit()));
            !led || digit_after
        };
        // "2 30" is two thirty; "20 19" is a model year, not a time. Spoken hours go to 12.
        let spoken = caps[0].as_bytes().get(caps[1].len()) == Some(&b' ');
        // "f 1 50" is a truck: a number after a lone letter is a model.
        // A letter alone that is no word ("a", "i").
        let lone_letter = |word: &str| {
            word.len() == 1
                && word.bytes().all(|b| b.is_ascii_alphabetic())
                && !matches!(word, "a" | "i")
        };
        let after_letter = word_before.is_some_and(lone_letter);
        // "14 30" is the 24-hour clock said aloud: afternoon hours on the quarter hours only
        // ("20 15" and "19 99" are years).
        // A line about money is read as money ("my bill came to 16 30").
        let spoken_24 = spoken
            && (13..=18).contains(&hour)
            && minute.is_multiple_of(15)
            && ![
                "bill", "quote", "price", "cost", "charge", "paid", "pay ", "fair", "dollars",
                "bucks", "owe",
            ]
            .iter()
            .any(|word| text.contains(word));
        // "quoted 3 25" is a price; "a 3 50 z" is a model.
        let mut before = text[..start].split(' ').rev().skip(1);
        let (last, second_last, third_last) = {
            let mut words = before.clone();
            (words.next(), words.next(), words.next())
        };
        let just_before = before.clone().find(|word| !matches!(*word, "uh" | "um"));
        // "you said like 3 50 something", "is it still like 1 29": minutes off the quarter hours
        // said with no word that leads to a clock time are a price or a model; a time said so
        // comes after "at", "by" or the like ("at like 5 40", "at 8 50").
        let odd_unled = spoken
            && caps.get(3).is_none()
            && !minute.is_multiple_of(15)
            && !before
                .clone()
                .find(|word| !matches!(*word, "uh" | "um" | "like" | "about" | "say"))
                .is_some_and(|word| {
                    matches!(
                        word,
                        "at" | "by" | "around" | "till" | "until" | "til" | "before" | "after"
                    )
                });
        let priced = before
            .find(|word| !PRICE_FILLERS.contains(word))
            .is_some_and(|word| PRICE_WORDS.contains(&word))
            // In a line about money, a number said right after no word that leads to a time is
            // a price too ("the other place said 4 50", "between 1 50 and 4 50 for brakes");
            // "at 2 30" and "around 4 30" stay times.
            || (*about_money
                .get_or_init(|| text.split(' ').any(|word| MONEY_WORDS.contains(&word)))
                && !just_before.is_some_and(|word| TIME_LEADS.contains(&word)));
        // "a quote for 2 50": a price, though "for" leads to times; "an estimate for 10 30
        // tomorrow" is a booking: only minutes off the quarter hours.
        let quoted_for = last == Some("for")
            && second_last.is_some_and(|word| matches!(word, "quote" | "estimate" | "price"))
            && !minute.is_multiple_of(15);
        // "unit 4 12", "room 2 14", "units 2 oh 6", "the plate ends in 10 30", "it just hit 1
        // 20": a number that labels or counts something, not a time.
        let labelled = matches!(
            last,
            Some(
                "unit"
                    | "units"
                    | "room"
                    | "rooms"
                    | "suite"
                    | "apartment"
                    | "number"
                    | "numbers"
                    | "hit"
            )
        ) || (last == Some("in") && matches!(second_last, Some("ends" | "ending")));
        // "a 3 28 i": a model too, when the minutes are off the fives a time is said in.
        let before_letter = word_after.is_some_and(|word| {
            (lone_letter(word) && word != "p") || (word == "i" && !minute.is_multiple_of(5))
        });
        // "the 2 15 60 5s": a tire size (a width of 1 95 to 3 25, then its profile).
        let tire_size = spoken
            && (1..=3).contains(&hour)
            && word_after.is_some_and(|word| {
                let profile = word.strip_suffix('s').unwrap_or(word);
                profile.len() == 2
                    && profile.bytes().all(|b| b.is_ascii_digit())
                    && ("30".."90").contains(&profile)
            });
        // "about 1 20 on it", "1 20 on the clock": miles in thousands, not a time; nor is a
        // house number.
        let mut ahead = text[end..].split(' ').filter(|word| !word.is_empty());
        let miles_or_address = spoken
            && match (ahead.next(), ahead.next()) {
                (Some("on"), Some("it" | "her" | "him" | "the")) => {
                    matches!(ahead.next(), None | Some("clock" | "odometer" | "dash"))
                }
                (Some("thousand" | "miles"), _) => true,
                // "3 12 elm street": an address.
                (Some(_), Some("street" | "road" | "avenue" | "lane" | "boulevard")) => true,
                // "mileage is about 1 20": thousands of miles, said right after the word.
                _ => [last, second_last, third_last]
                    .into_iter()
                    .flatten()
                    .any(|word| matches!(word, "mileage" | "odometer")),
            };
        if hour <= 23
            && (!spoken || hour <= 12 || spoken_24)
            && !after_letter
            && !priced
            && !quoted_for
            && !labelled
            && !before_letter
            && !tire_size
            && !odd_unled
            && !miles_or_address
            && !oh_not_a_time
        {
            return timed(
                &caps[0],
                clock(hour, minute, caps.get(4).map(|m| m.as_str())),
            );
        }
    }
    if digits && let Some(caps) = p.hour_marker.captures(text) {
        let hour: u32 = caps[1].parse().ok()?;
        let marker = matches!(&caps[2], "am" | "pm" | "a m" | "p m")
            .then(|| caps.get(2).map(|m| m.as_str()));
        return timed(&caps[0], clock(hour, 0, marker.flatten()));
    }
    if digits
        && clues.period
        && let Some(caps) = p.hour_in_the.captures(text)
    {
        let hour: u32 = caps[1].parse().ok()?;
        let marker = if &caps[2] == "morning" { "am" } else { "pm" };
        return timed(&caps[0], clock(hour, 0, Some(marker)));
    }
    for caps in digits
        .then(|| p.hour_after_word.captures_iter(text))
        .into_iter()
        .flatten()
    {
        // "about 3 weeks", "for 2 tires": a number, not a time; "at 5 5 5 0 1": a phone number,
        // "like 4 80": a price.
        let after = caps.get(0).map_or("", |m| &text[m.end()..]);
        // "like 2 or 3 days": a range of a unit, not a time.
        let range_of_units = after.strip_prefix(" or ").is_some_and(|rest| {
            let mut words = rest.split(' ');
            words
                .next()
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                && words.next().is_some_and(|unit| RANGE_UNITS.contains(&unit))
        });
        // A day right before the hour ("come tomorrow 9", "thursday 10 for the brakes") leads
        // to it only where the line ends or one of a few words follows that go on about when
        // or what for: "saturday 4 wheel alignment", "friday 2 slots open", "monday 8
        // december" and the 3 of "tuesday 3 at 10" count or date.
        let after_a_day = caps[0].split(' ').next().is_some_and(|lead| {
            is_weekday(lead) || matches!(lead, "today" | "tomorrow" | "tonight")
        });
        // "can you do one", "its there for one": "one" as a pronoun, the line's last word
        // ("book me for one" stays one o'clock); so is "one" after "the" and a day ("cancel the
        // friday one"; "thursday 1 for the brakes" is one o'clock).
        let start = caps.get(0).map_or(0, |m| m.start());
        let pronoun = &caps[1] == "1"
            && (caps[0].starts_with("at the ")
                || (after_a_day && text[..start].ends_with("the "))
                || (after.is_empty()
                    && (caps[0].starts_with("do ")
                        || (caps[0].starts_with("for ") && text[..start].ends_with("there ")))));
        // "round" for "around" reads an hour only at the line's end or before a day ("round
        // 11", "round 10 tomorrow"): "this is round 2 with the same leak" counts rounds.
        let rounds = caps[0].starts_with("round ")
            && !after.is_empty()
            && ![
                " tomorrow",
                " today",
                " tonight",
                " on ",
                " in the ",
                " this ",
                " next ",
            ]
            .iter()
            .any(|day| after.starts_with(day));
        // "at 9 hour is possible", "at 10 hour on friday": the hour as some callers say it, not
        // a span or a rate ("for an hour", "at 1 hour", "at the 2 hour mark", "at 3 hour for
        // labor", "were at 2 hour and still no call"): after "at" alone, from 2 on, ending the
        // line or before one of a few words that go on about when.
        let said_with_hour = caps.get(2).is_some_and(|unit| unit.as_str() == "hour")
            && caps[0].starts_with("at ")
            && !caps[0].starts_with("at the ")
            && &caps[1] != "1"
            && matches!(
                after.split(' ').find(|word| !word.is_empty()),
                None | Some("is" | "on" | "possible" | "please" | "if" | "ok" | "okay")
            );
        // "was it 5", "is it still 3": the hour of a booking asked about, where the line ends
        // or goes on about when ("is it 4 wheel drive", "is it 3 or 4" are no hour asked).
        // After "how many" or the like, the number answers that question ("how many quarts
        // does it take, is it 5").
        let asked_about = caps[0].starts_with("was it ") || caps[0].starts_with("is it ");
        let counted = asked_about
            && ["how many", "how much", "how long", "how old", "what size"]
                .iter()
                .any(|question| text[..start].contains(question));
        if ((after_a_day || asked_about) && !goes_on_about_when(after))
            || counted
            || (caps.get(2).is_some() && !said_with_hour)
            || pronoun
            || rounds
            || range_of_units
            || (caps[0].starts_with("from ") && !from_hour_to_hour(after))
            || after
                .strip_prefix(' ')
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        {
            continue;
        }
        let hour: u32 = caps[1].parse().ok()?;
        if (1..=12).contains(&hour) {
            return timed(&caps[1], clock(hour, 0, None));
        }
    }
    let (heard, period) = period_match?;
    Some(TimeMention {
        heard: heard.to_owned(),
        time: None,
        period: Some(period),
    })
}

/// Whether what follows "from N" (`after`, with its leading space) makes it the start of a
/// range of hours ("from 9 to 10", "from 2 till 4"), not of a count ("from 2 to 3 days", "from
/// 4 to 6 hundred") nor of anything else ("quotes from 2 other shops").
fn from_hour_to_hour(after: &str) -> bool {
    let Some(rest) = [" to ", " till ", " until "]
        .iter()
        .find_map(|word| after.strip_prefix(word))
    else {
        return false;
    };
    let mut words = rest.split(' ');
    words
        .next()
        .is_some_and(|n| !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()))
        && !words
            .next()
            .is_some_and(|unit| RANGE_UNITS.contains(&unit) || unit == "k")
}

/// Whether the line ends after a bare hour (`after`, with its leading space) or its next word
/// is one of a few that go on about when or what for ("9 for the brakes", "9 is possible", "9
/// in the morning", "9 if thats ok", "9 thank you"). Only the next word is read: a word that
/// could start a count ("and", "at", "or") is not among them.
fn goes_on_about_when(after: &str) -> bool {
    matches!(
        after.split(' ').find(|word| !word.is_empty()),
        None | Some(
            "for"
                | "on"
                | "is"
                | "if"
                | "in"
                | "then"
                | "please"
                | "ok"
                | "okay"
                | "possible"
                | "works"
                | "would"
                | "sharp"
                | "thank"
                | "thanks"
        )
    )
}

/// "morning" as a greeting: followed by what a caller says after hello.
static GREETING_GOES_ON: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(
        r"^morning (could|can|i|im|ive|id|this|its|my|hi|hey|yeah|um|uh|so|just|we|how|do|got|yes|yep|there|sir|maam|folks|guys|yall|everyone|everybody)\b",
    )
});

/// The first part-of-day phrase, skipping greetings ("good morning").
/// The part of the day said last ("from the morning to the afternoon" is the afternoon).
fn find_period(text: &str) -> Option<(&str, DayPeriod)> {
    TIME.period
        .find_iter(text)
        .filter_map(|m| {
            // "good morning", and "morning" opening what the caller goes on to say ("morning
            // could i get in"), are greetings.
            // "the 1st thing i noticed" is no part of the day.
            if text[..m.start()].ends_with("good ")
                || (m.start() == 0 && m.as_str() == "morning" && GREETING_GOES_ON.is_match(text))
                || (m.as_str() == "1st thing" && text[..m.start()].ends_with("the "))
            {
                return None;
            }
            let period = match m.as_str() {
                "morning" | "1st thing" | "before lunch" => DayPeriod::Morning,
                "afternoon" | "after lunch" => DayPeriod::Afternoon,
                _ => DayPeriod::Evening,
            };
            Some((m.as_str(), period))
        })
        .last()
}

fn mention(caps: &Captures<'_>, date: Option<NaiveDate>) -> DateMention {
    DateMention {
        heard: caps[0].trim_start_matches("the ").to_owned(),
        date,
    }
}

/// Whether `hour:minute` is inside opening hours.
fn is_open_at(hour: u32, minute: u32, hours: OpeningHours) -> bool {
    NaiveTime::from_hms_opt(hour, minute, 0)
        .is_some_and(|time| time >= hours.open && time < hours.close)
}

/// Reads an hour without am/pm: the one inside opening hours, else afternoon for 1-6.
fn hour_inside(hour: u32, minute: u32, hours: OpeningHours) -> u32 {
    let inside = |h: u32| is_open_at(h, minute, hours);
    let hour = hour % 12;
    if inside(hour) {
        hour
    } else if inside(hour + 12) || (1..=6).contains(&hour) {
        hour + 12
    } else if hour == 0 {
        12
    } else {
        hour
    }
}

/// "this saturday": today or later in this week, else the next one.
fn this_weekday(today: NaiveDate, weekday: Weekday) -> Option<NaiveDate> {
    let delta = (7 + weekday.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
    today.checked_add_days(Days::new(u64::from(delta)))
}

/// The first such weekday strictly after `today`: "this" counted from tomorrow.
fn next_weekday_after(today: NaiveDate, weekday: Weekday) -> Option<NaiveDate> {
    this_weekday(today.succ_opt()?, weekday)
}

fn next_month_day(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    match NaiveDate::from_ymd_opt(today.year(), month, day) {
        Some(date) if date >= today => Some(date),
        _ => NaiveDate::from_ymd_opt(today.year() + 1, month, day),
    }
}

fn next_day_of_month(today: NaiveDate, day: u32) -> Option<NaiveDate> {
    let first = today.with_day(1)?;
    (0..12).find_map(|n| {
        let month_start = first.checked_add_months(Months::new(n))?;
        let date = month_start.with_day(day)?;
        (date >= today).then_some(date)
    })
}

/// The first `day` of a month, from today on, that falls on `weekday` (within a year); the
/// plain next `day` when none does.
fn next_day_of_month_on(today: NaiveDate, day: u32, weekday: Weekday) -> Option<NaiveDate> {
    let first = today.with_day(1)?;
    (0..12)
        .find_map(|n| {
            let date = first.checked_add_months(Months::new(n))?.with_day(day)?;
            (date >= today && date.weekday() == weekday).then_some(date)
        })
        .or_else(|| next_day_of_month(today, day))
}

fn month_number(name: &str) -> Option<u32> {
    let prefix = name.get(..3)?;
    let idx = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| *m == prefix)?;
    u32::try_from(idx + 1).ok()
}

fn weekday_number(name: &str) -> Option<Weekday> {
    name.parse::<Weekday>().ok()
}

/// Whether a word is about the calendar or the clock, so it is never a name or a model.
pub(crate) fn is_calendar_word(word: &str) -> bool {
    is_month_or_weekday(word)
        || matches!(
            word,
            "today"
                | "tomorrow"
                | "tomorrows"
                | "tonight"
                | "morning"
                | "afternoon"
                | "evening"
                | "noon"
                | "am"
                | "pm"
                | "week"
                | "weekend"
        )
}

/// A word of `MONTHS` or `WEEKDAYS`, as `match`es (a test holds them to those lists).
fn is_month_or_weekday(word: &str) -> bool {
    is_month(word) || is_weekday(word)
}

fn is_month(word: &str) -> bool {
    matches!(
        word,
        "january"
            | "february"
            | "march"
            | "april"
            | "may"
            | "june"
            | "july"
            | "august"
            | "september"
            | "october"
            | "november"
            | "december"
            | "jan"
            | "feb"
            | "mar"
            | "apr"
            | "jun"
            | "jul"
            | "aug"
            | "sept"
            | "sep"
            | "oct"
            | "nov"
            | "dec"
    )
}

fn is_weekday(word: &str) -> bool {
    matches!(
        word,
        "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday" | "sunday"
    )
}

/// What the date and time patterns need, found in two passes over a text (its bytes, then its
/// words): each pattern is tried
/// only when a word or shape every match of it contains is there. Most texts that name a day
/// or a time name one or two, and each pattern skipped is a regex search not run.
#[derive(Default, Clone, Copy)]
struct Clues {
    digit: bool,
    /// A `/` ("12/8").
    slash: bool,
    /// A digit and then "st", "nd", "rd" or "th" ("28th").
    ordinal: bool,
    /// A digit, a `:` or a space, and two digits ("2:30", "2 30"), or " oh " and a digit ("11 oh
    /// 5").
    clock: bool,
    month: bool,
    weekday: bool,
    /// A word `DatePatterns::relative` needs.
    relative: bool,
    /// A word `TimePatterns::period` needs (also `hour_in_the`'s).
    period: bool,
    noon: bool,
    /// "hundred" or "hours" (`hundred_hours`).
    hundred: bool,
    /// A word `minutes_to_or_past` needs, or a digit before " to ".
    minutes: bool,
    half_quarter: bool,
}

/// Words that are clues only together (`Clues::of`).
#[derive(Default)]
struct Words {
    this: bool,
    from: bool,
    next: bool,
    now: bool,
    time: bool,
    day: bool,
    thing: bool,
    first: bool,
    end: bool,
    work: bool,
    lunch: bool,
    part_of_day: bool,
    after_or_before: bool,
}

impl Clues {
    fn of(text: &str) -> Clues {
        let mut clues = Clues::default();
        let bytes = text.as_bytes();
        for (at, byte) in bytes.iter().enumerate() {
            match byte {
                b'/' => clues.slash = true,
                b'0'..=b'9' => {
                    clues.digit = true;
                    let after = &bytes[at + 1..];
                    clues.ordinal |= matches!(
                        after,
                        [b's', b't', ..] | [b'n' | b'r', b'd', ..] | [b't', b'h', ..]
                    );
                    // "20 to 11": minutes before the hour with a bare "to".
                    clues.minutes |= after.starts_with(b" to ");
                    clues.clock |= matches!(
                        after,
                        [b':' | b' ', b'0'..=b'9', b'0'..=b'9', ..]
                            | [b' ', b'o', b'h', b' ', b'1'..=b'9', ..]
                    );
                }
                _ => {}
            }
        }
        // Words as `\b` reads them in ASCII mode: every pattern below has its word between
        // word boundaries. Common words ("this", "from", "next", "work", "end") are clues only
        // with the other word their phrases need ("this morning", "a week from now", "same
        // time next week", "after work", "end of the day", "1st thing", "after lunch").
        let mut seen = Words::default();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            match word {
                "tonight" => (clues.relative, clues.period) = (true, true),
                "lunch" => (clues.noon, seen.lunch) = (true, true),
                "tomorrow" | "tomorrows" | "tmrw" | "today" => clues.relative = true,
                "this" => seen.this = true,
                "from" => seen.from = true,
                "next" => seen.next = true,
                "now" => seen.now = true,
                "time" => seen.time = true,
                "day" => seen.day = true,
                "thing" => seen.thing = true,
                "1st" => seen.first = true,
                "end" => seen.end = true,
                "work" => seen.work = true,
                "morning" | "afternoon" | "evening" => {
                    (clues.period, seen.part_of_day) = (true, true);
                }
                "noon" | "noonish" | "midday" | "lunchtime" => clues.noon = true,
                "hundred" | "hours" => clues.hundred = true,
                "of" | "til" | "till" | "before" | "past" | "after" | "minutes" => {
                    clues.minutes = true;
                }
                "half" | "quarter" => clues.half_quarter = true,
                _ if is_weekday(word) => clues.weekday = true,
                _ if is_month(word) => clues.month = true,
                _ => {}
            }
            if matches!(word, "after" | "before") {
                seen.after_or_before = true;
            }
        }
        clues.relative |=
            (seen.from && seen.now) || (seen.next && seen.time) || (seen.this && seen.part_of_day);
        clues.period |= (seen.first && seen.thing)
            || (seen.end && seen.day)
            || (seen.after_or_before && (seen.work || seen.lunch));
        clues
    }
}

/// Whether `text` may name a day or a time at all: a digit, or a word one of the date and time
/// patterns above needs (a month, a weekday, "today", a part of the day, "noon", "lunch", "end of
/// the day", "after work"; "first thing" is "1st thing" by then). Without one, none of them can match, and reading
/// days and times (with the days moved from and the past ones around them) is skipped.
pub(crate) fn may_name_a_day_or_time(text: &str) -> bool {
    // Words are checked with `match`es, not by walking the month and weekday lists: this runs on
    // every utterance.
    text.bytes().any(|b| b.is_ascii_digit())
        || text.split(' ').any(|word| {
            is_calendar_word(word)
                || matches!(
                    word,
                    "tmrw" | "noonish" | "midday" | "lunchtime" | "lunch" | "end" | "work"
                )
        })
}

/// Where the last word starts that `find_date` or `find_weekday_after` needs to find a day: a
/// word with a digit, a weekday, or a word of `DatePatterns::relative` ("today", "tomorrow",
/// "tonight", "next", "from", "morning" of "this morning"). A text that starts after it (at a
/// word's end) has none of them, and neither function finds a day in it: every pattern of
/// `find_date` needs a digit, a weekday or one of those words. The manager reads the day after
/// each switch word ("no", "so", "to", "but": many in a long line); this skips the ones after
/// the last day named without reading what follows them again.
pub(crate) fn last_day_word(text: &str) -> Option<usize> {
    last_word_start(text, |word| {
        is_weekday(word)
            || matches!(
                word,
                "today"
                    | "tomorrow"
                    | "tomorrows"
                    | "tmrw"
                    | "tonight"
                    | "next"
                    | "from"
                    | "morning"
                    | "afternoon"
                    | "evening"
            )
    })
}

/// Where the last word starts that `find_time` needs to find a clock time (not a part of the
/// day alone): a word with a digit, or one of `TimePatterns::noon`'s. As `last_day_word`, for
/// the times said after each correction word ("no", "sorry", "actually").
pub(crate) fn last_clock_word(text: &str) -> Option<usize> {
    last_word_start(text, |word| {
        matches!(word, "noon" | "noonish" | "midday" | "lunchtime" | "lunch")
    })
}

/// The start of the last word of `text` (as `\b` reads words in ASCII mode, like `Clues::of`)
/// that has a digit or is one `wanted`.
fn last_word_start(text: &str, wanted: impl Fn(&str) -> bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    while end > 0 {
        let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        while end > 0 && !is_word(bytes[end - 1]) {
            end -= 1;
        }
        let mut start = end;
        while start > 0 && is_word(bytes[start - 1]) {
            start -= 1;
        }
        if start == end {
            return None;
        }
        let word = &text[start..end];
        if word.bytes().any(|b| b.is_ascii_digit()) || wanted(word) {
            return Some(start);
        }
        end = start;
    }
    None
}

/// Words of a request or of a correction among the eight words that end a text: what
/// `find_date` reads "this morning" after (the manager reads the text after a switch word with
/// the switch word).
static ASKED_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(
        r"\b(can|could|would|will|available|open|opening|openings|any|anything|room|squeeze|fit|no|actually|instead|instead of|rather|how about|what about|make it|lets do|lets say|i mean)\b(?: [\w:/]+){0,8} ?$",
    )
});

static BARE_DAY: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r"\b(\d{1,2})(?:st|nd|rd|th)\b"));
static BARE_HOUR: LazyLock<Regex> = LazyLock::new(|| ascii_regex(r"\b(\d{1,2})\b"));

/// A bare ordinal ("28th") as the answer to "which day?".
pub(crate) fn find_bare_day(text: &str, today: NaiveDate) -> Option<DateMention> {
    let caps = BARE_DAY.captures(text)?;
    let date = caps[1]
        .parse()
        .ok()
        .and_then(|day| next_day_of_month(today, day));
    Some(mention(&caps, date))
}

/// A bare hour ("9 works") as the answer to "what time?".
pub(crate) fn find_bare_hour(text: &str, hours: OpeningHours) -> Option<TimeMention> {
    let m = BARE_HOUR.find_iter(text).find(|m| {
        !text[m.end()..].starts_with(['/', ':']) && !text[..m.start()].ends_with(['/', ':'])
    })?;
    let hour: u32 = m.as_str().parse().ok()?;
    if !(1..=12).contains(&hour) {
        return None;
    }
    let time = NaiveTime::from_hms_opt(hour_inside(hour, 0, hours), 0, 0);
    Some(TimeMention {
        heard: m.as_str().to_owned(),
        time,
        period: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labelled set, the day its labels assume and the shop's weekday hours.
    fn labelled_day_and_hours() -> (Vec<crate::score::Labelled>, NaiveDate, OpeningHours) {
        let labelled =
            crate::score::parse_labelled(include_str!("../../../fixtures/nlu/utterances.jsonl"))
                .expect("the labelled set parses");
        let today = NaiveDate::from_ymd_opt(2026, 11, 24).expect("a real day");
        let hours = OpeningHours {
            open: NaiveTime::from_hms_opt(8, 0, 0).expect("a real time"),
            close: NaiveTime::from_hms_opt(18, 0, 0).expect("a real time"),
        };
        (labelled, today, hours)
    }

    /// No labelled utterance the gate turns away names a day or a time, and the gate does turn
    /// most of those that name none away.
    #[test]
    fn texts_without_a_day_or_time_word_name_no_day_or_time() {
        let (labelled, today, hours) = labelled_day_and_hours();
        let mut skipped = 0;
        for line in &labelled {
            let text = crate::text::normalize(&line.text);
            if may_name_a_day_or_time(&text) {
                continue;
            }
            skipped += 1;
            assert_eq!(find_date(&text, today), None, "{text:?}");
            assert_eq!(find_time(&text, hours), None, "{text:?}");
            assert_eq!(find_bare_day(&text, today), None, "{text:?}");
            assert_eq!(find_bare_hour(&text, hours), None, "{text:?}");
        }
        assert!(skipped > 1000, "{skipped} of {} skipped", labelled.len());
    }

    /// After the last day word (`last_day_word`) of a labelled utterance, no rest of it that
    /// starts at a word's end names a day; after the last clock word, none names a clock time.
    /// And the words themselves are found where they are.
    #[test]
    fn no_day_or_clock_time_follows_the_last_word_one_needs() {
        let (labelled, today, hours) = labelled_day_and_hours();
        let holidays = [(
            "thanksgiving".to_owned(),
            NaiveDate::from_ymd_opt(2026, 11, 26).expect("a real day"),
        )];
        let (mut rests, mut days_found, mut times_found) = (0, 0, 0);
        for line in &labelled {
            let text = crate::text::normalize(&line.text);
            let day_word = last_day_word(&text).unwrap_or(0);
            let clock_word = last_clock_word(&text).unwrap_or(0);
            for (end, _) in text.match_indices(' ').chain([(text.len(), "")]) {
                let rest = &text[end..];
                if end > day_word || last_day_word(&text).is_none() {
                    rests += 1;
                    assert_eq!(find_date(rest, today), None, "{text:?} after {end}");
                    assert_eq!(find_weekday_after(rest, &holidays, today), None, "{text:?}");
                } else if find_date(rest, today).is_some() {
                    days_found += 1;
                }
                if end > clock_word || last_clock_word(&text).is_none() {
                    let time = find_time(rest, hours).and_then(|found| found.time);
                    assert_eq!(time, None, "{text:?} after {end}");
                } else if find_time(rest, hours).is_some_and(|found| found.time.is_some()) {
                    times_found += 1;
                }
            }
        }
        // The check covers many rests, and the words are not so rare that it is empty.
        assert!(rests > 50_000, "{rests}");
        assert!(
            days_found > 10_000 && times_found > 5_000,
            "{days_found} {times_found}"
        );
        assert_eq!(last_day_word("see you monday then"), Some(8));
        assert_eq!(last_day_word("at 10 on the dot"), Some(3));
        assert_eq!(last_day_word("this morning works"), Some(5));
        assert_eq!(last_day_word("an oil change please"), None);
        assert_eq!(last_clock_word("around lunch on friday"), Some(7));
        assert_eq!(last_clock_word("friday at 9, ok"), Some(10));
        assert_eq!(last_clock_word("friday afternoon"), None);
    }

    #[test]
    fn the_gate_lets_through_every_kind_of_day_and_time() {
        for text in [
            "monday",
            "dec 3rd",
            "tmrw",
            "around noonish",
            "1st thing",
            "after work",
            "at 3",
            "end of the day",
            "lunch time",
        ] {
            assert!(may_name_a_day_or_time(text), "{text}");
        }
        assert!(!may_name_a_day_or_time("i need an oil change"));
        for word in MONTHS.split('|') {
            assert!(is_month(word) && !is_weekday(word), "{word}");
        }
        for word in WEEKDAYS.split('|') {
            assert!(is_weekday(word) && !is_month(word), "{word}");
        }
        assert!(!is_month_or_weekday("mayday"));
    }

    /// Every pattern `Clues` gates matches only where its clue is there: on every labelled
    /// utterance, on each part of it after a space (the texts `find_date` and `find_time` are
    /// given after a switch word), and on texts made to hit each alternative. A gate that is too
    /// strict also shows in `find_date` and `find_time` themselves, whose results on the
    /// labelled set the scoring tests hold.
    #[test]
    fn a_pattern_matches_only_where_its_clue_is() {
        let labelled =
            crate::score::parse_labelled(include_str!("../../../fixtures/nlu/utterances.jsonl"))
                .expect("the labelled set parses");
        let made = [
            "12/8",
            "on 12/8/27 please",
            "december 3rd",
            "the 3rd of dec",
            "jan 5",
            "the 28th",
            "28th",
            "a week from today",
            "this morning",
            "tomorrows oil change",
            "3 days from now",
            "after lunch",
            "quarter to 5",
            "10 after 9",
            "16 hundred hours",
            "2 days from tomorrow",
            "same time next week",
            "day after tomorrow",
            "tmrw",
            "this afternoon",
            "tonight",
            "2 weeks from friday",
            "saturday week",
            "friday after next",
            "not this friday the next 1",
            "1st thing",
            "before lunch",
            "end of the day",
            "after work",
            "lunch time",
            "noonish",
            "midday",
            "14 hundred",
            "8 hundred hours",
            "at 15 hours",
            "tomorrow oh 8 hundred",
            "10 of 3",
            "20 past 9",
            "5 minutes to 4",
            "half past 2",
            "quarter til 5",
            "half 8",
            "2:30",
            "2 30 pm",
            "10 in the morning",
            "3pm",
            "at 3",
        ];
        let texts = labelled
            .iter()
            .map(|line| crate::text::normalize(&line.text))
            .chain(made.iter().map(|text| (*text).to_owned()));
        let (date, time) = (&*DATE, &*TIME);
        let mut checked = 0;
        for text in texts {
            let starts = std::iter::once(0).chain(text.match_indices(' ').map(|(at, _)| at + 1));
            for start in starts {
                let part = &text[start..];
                let clues = Clues::of(part);
                let holds = [
                    (&date.numeric, clues.digit && clues.slash),
                    (&date.month_day, clues.digit && clues.month),
                    (&date.day_of_month_named, clues.digit && clues.month),
                    (&date.day_of_month, clues.ordinal),
                    (&date.relative, clues.relative),
                    (&date.weekday, clues.weekday),
                    (&time.period, clues.period),
                    (&time.noon, clues.noon),
                    (&time.hundred_hours, clues.digit && clues.hundred),
                    (&time.minutes_to_or_past, clues.digit && clues.minutes),
                    (&time.half_quarter, clues.digit && clues.half_quarter),
                    (&time.hour_minute, clues.clock),
                    (&time.hour_in_the, clues.digit && clues.period),
                ];
                for (regex, clue) in holds {
                    if regex.is_match(part) {
                        assert!(
                            clue,
                            "{:?} matches {part:?} without its clue",
                            regex.as_str()
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000, "only {checked} matches checked");
    }

    #[test]
    fn clues_need_whole_words() {
        let clues = Clues::of("mayday the weekdays dont matter monday1 2nd");
        assert!(!clues.month && !clues.weekday && !clues.relative);
        assert!(clues.digit && clues.ordinal && !clues.clock && !clues.slash);
        let clues = Clues::of("may 5 at 2:30 this monday");
        assert!(clues.month && clues.weekday && !clues.relative && clues.clock);
        // Common words are clues only with the other word of their phrase.
        for (text, relative, period) in [
            ("this morning", true, true),
            ("a week from now", true, false),
            ("same time next week", true, false),
            ("from the shop next week this time", true, false),
            ("i work at the end of the block", false, false),
            ("after work", false, true),
            ("by the end of the day", false, true),
            ("1st thing", false, true),
            ("the 1st time", false, false),
            ("before lunch", false, true),
            ("the tuesday after next", false, false),
        ] {
            let clues = Clues::of(text);
            assert_eq!((clues.relative, clues.period), (relative, period), "{text}");
        }
    }
}
