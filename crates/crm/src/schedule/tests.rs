use chrono::{NaiveTime, TimeZone};
use conversation::{Holiday, OpeningHours, Service, WeeklyHours};

use super::*;

/// Mon-Fri 08:00-12:00, Sat 09:00-10:00, Sun closed; 2 bays; 30-minute grid; New York.
fn shop() -> ShopConfig {
    let hours = |open: u32, close: u32| {
        Some(OpeningHours {
            open: NaiveTime::from_hms_opt(open, 0, 0).unwrap(),
            close: NaiveTime::from_hms_opt(close, 0, 0).unwrap(),
        })
    };
    let weekday = hours(8, 12);
    ShopConfig {
        name: "Test Garage".to_owned(),
        phone: None,
        address: None,
        timezone: chrono_tz::America::New_York,
        hours: WeeklyHours([
            weekday,
            weekday,
            weekday,
            weekday,
            weekday,
            hours(9, 10),
            None,
        ]),
        holidays: vec![Holiday {
            date: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            name: "Thanksgiving".to_owned(),
        }],
        bay_capacity: 2,
        slot_minutes: 30,
        advisor_phone: None,
        services: vec![
            Service {
                name: "oil change".to_owned(),
                synonyms: vec!["lube job".to_owned()],
                price_min_usd: 45,
                price_max_usd: 95,
                duration_minutes: 30,
            },
            Service {
                name: "brake service".to_owned(),
                synonyms: vec![],
                price_min_usd: 150,
                price_max_usd: 450,
                duration_minutes: 90,
            },
        ],
    }
}

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::America::New_York
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    local(2026, 11, 24, 7, 0)
}

#[track_caller]
fn check_booking(duration: u32, start: DateTime<Utc>, expected: &str) {
    let got = match check_bookable(&shop(), duration, start, now()) {
        Ok(end) => format!(
            "ok until {}",
            end.with_timezone(&chrono_tz::America::New_York)
                .format("%H:%M")
        ),
        Err(err) => err.to_string(),
    };
    assert_eq!(got, expected);
}

#[test]
fn bookable_times_follow_hours_holidays_grid_and_clock() {
    check_booking(30, local(2026, 11, 24, 8, 0), "ok until 08:30");
    check_booking(90, local(2026, 11, 24, 10, 30), "ok until 12:00");
    check_booking(
        90,
        local(2026, 11, 24, 11, 0),
        "on 2026-11-24 the shop is open 08:00-12:00 and this service takes 90 minutes",
    );
    check_booking(
        30,
        local(2026, 11, 24, 7, 30),
        "on 2026-11-24 the shop is open 08:00-12:00 and this service takes 30 minutes",
    );
    check_booking(
        30,
        local(2026, 11, 24, 8, 15),
        "appointments start every 30 minutes from 08:00",
    );
    check_booking(30, local(2026, 11, 24, 6, 0), "that time is in the past");
    check_booking(30, now(), "that time is in the past");
    check_booking(
        30,
        local(2026, 11, 26, 9, 0),
        "the shop is closed on 2026-11-26 (Thanksgiving)",
    );
    check_booking(
        30,
        local(2026, 11, 29, 9, 0),
        "the shop is closed on 2026-11-29",
    );
    check_booking(30, local(2026, 11, 28, 9, 30), "ok until 10:00");
}

#[test]
fn candidates_cover_the_day_on_the_grid_in_utc() {
    let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let starts = candidate_starts(&shop(), date, 90);
    let locals: Vec<String> = starts
        .iter()
        .map(|(_, l)| l.format("%H:%M").to_string())
        .collect();
    assert_eq!(
        locals,
        ["08:00", "08:30", "09:00", "09:30", "10:00", "10:30"]
    );
    // EST is UTC-5 in November.
    assert_eq!(
        starts[0].0,
        Utc.with_ymd_and_hms(2026, 11, 24, 13, 0, 0).unwrap()
    );
    assert!(
        candidate_starts(&shop(), NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(), 30).is_empty()
    );
}

#[test]
fn summer_time_shifts_the_utc_start() {
    let date = NaiveDate::from_ymd_opt(2026, 7, 6).unwrap();
    let starts = candidate_starts(&shop(), date, 30);
    assert_eq!(
        starts[0].0,
        Utc.with_ymd_and_hms(2026, 7, 6, 12, 0, 0).unwrap()
    );
}

#[test]
fn peak_overlap_counts_simultaneous_spans_not_all_touching_ones() {
    let span = |h1, m1, h2, m2| Span {
        starts_at: local(2026, 11, 24, h1, m1),
        ends_at: local(2026, 11, 24, h2, m2),
    };
    // Two back-to-back 30-minute jobs never run at the same time.
    let spans = [span(8, 0, 8, 30), span(8, 30, 9, 0)];
    assert_eq!(
        peak_overlap(&spans, local(2026, 11, 24, 8, 0), local(2026, 11, 24, 9, 0)),
        1
    );
    // A long job plus one inside it.
    let spans = [span(8, 0, 9, 30), span(9, 0, 9, 30), span(10, 0, 10, 30)];
    assert_eq!(
        peak_overlap(
            &spans,
            local(2026, 11, 24, 8, 0),
            local(2026, 11, 24, 9, 30)
        ),
        2
    );
    assert_eq!(
        peak_overlap(
            &spans,
            local(2026, 11, 24, 9, 30),
            local(2026, 11, 24, 10, 0)
        ),
        0
    );
    // Touching the end is not overlapping.
    assert_eq!(
        peak_overlap(
            &spans,
            local(2026, 11, 24, 10, 30),
            local(2026, 11, 24, 11, 0)
        ),
        0
    );
    assert_eq!(
        peak_overlap(&[], local(2026, 11, 24, 8, 0), local(2026, 11, 24, 9, 0)),
        0
    );
}

#[test]
fn free_slots_skip_full_and_past_times() {
    let span = |h1, m1, h2, m2| Span {
        starts_at: local(2026, 11, 24, h1, m1),
        ends_at: local(2026, 11, 24, h2, m2),
    };
    let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let existing = [span(8, 0, 9, 0), span(8, 30, 9, 0), span(11, 0, 11, 30)];
    let at_8_40 = local(2026, 11, 24, 8, 40);
    let slots = free_slots(&shop(), date, date, 60, &existing, at_8_40);
    let got: Vec<String> = slots
        .iter()
        .map(|slot| format!("{}x{}", slot.local_start.format("%H:%M"), slot.free_bays))
        .collect();
    assert_eq!(got, ["09:00x2", "09:30x2", "10:00x2", "10:30x1", "11:00x1"]);
}
