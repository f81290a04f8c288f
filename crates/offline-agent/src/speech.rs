//! How dates, times and lists are said.

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};

/// "today", "tomorrow", or "Tuesday, December 8".
pub(crate) fn day(date: NaiveDate, today: NaiveDate) -> String {
    if date == today {
        return "today".to_owned();
    }
    if Some(date) == today.succ_opt() {
        return "tomorrow".to_owned();
    }
    format!("{}, {}", weekday(date), date.format("%B %-d"))
}

fn weekday(date: NaiveDate) -> &'static str {
    match date.weekday() {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

/// "9 AM", "10:30 AM", "noon", "2 PM".
pub(crate) fn clock(time: NaiveTime) -> String {
    match (time.hour(), time.minute()) {
        (12, 0) => "noon".to_owned(),
        (_, 0) => time.format("%-I %p").to_string(),
        _ => time.format("%-I:%M %p").to_string(),
    }
}

/// "a", "a or b", "a, b or c".
pub(crate) fn list_or(items: &[String]) -> String {
    list(items, "or")
}

/// Items joined with commas and `last` before the final one.
pub(crate) fn list(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., final_item] => format!("{} {last} {final_item}", init.join(", ")),
    }
}

/// The services of a booking, "an oil change and a tire rotation".
pub(crate) fn services_phrase(names: &[String]) -> String {
    if names.is_empty() {
        return "your appointment".to_owned();
    }
    let with_article: Vec<String> = names
        .iter()
        .map(|name| {
            let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {name}")
        })
        .collect();
    list(&with_article, "and")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn days_are_said_relative_to_today_when_close() {
        let today = date(2026, 12, 7);
        assert_eq!(day(today, today), "today");
        assert_eq!(day(date(2026, 12, 8), today), "tomorrow");
        assert_eq!(day(date(2026, 12, 9), today), "Wednesday, December 9");
    }

    #[test]
    fn times_drop_zero_minutes() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(clock(t(9, 0)), "9 AM");
        assert_eq!(clock(t(10, 30)), "10:30 AM");
        assert_eq!(clock(t(12, 0)), "noon");
        assert_eq!(clock(t(14, 0)), "2 PM");
    }

    #[test]
    fn lists_read_naturally() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(list_or(&items(&["a"])), "a");
        assert_eq!(list_or(&items(&["a", "b"])), "a or b");
        assert_eq!(list_or(&items(&["a", "b", "c"])), "a, b or c");
        assert_eq!(
            services_phrase(&items(&["oil change", "tire rotation"])),
            "an oil change and a tire rotation"
        );
    }
}
