//! Pure scheduling rules: which start times the shop offers, whether a requested time is
//! bookable, and how many bays a set of appointments occupies. No IO; the store feeds it rows.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use conversation::{Service, ShopConfig};
use serde::Serialize;

use crate::CrmError;

/// A start time with at least one free bay for the whole service duration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    /// Start, UTC.
    pub starts_at: DateTime<Utc>,
    /// Start in the shop's timezone (what the caller hears).
    pub local_start: NaiveDateTime,
    /// Bays still free for the whole duration (at least 1).
    pub free_bays: u32,
}

/// A stored appointment's time span, `[starts_at, ends_at)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) starts_at: DateTime<Utc>,
    pub(crate) ends_at: DateTime<Utc>,
}

/// Midnight (UTC instant) that starts the shop-local day of `at`; on the rare day that has no
/// local midnight (a DST jump at 00:00) the day's first valid instant.
pub(crate) fn local_day_start(shop: &ShopConfig, at: DateTime<Utc>) -> DateTime<Utc> {
    let date = at.with_timezone(&shop.timezone).date_naive();
    (0..24)
        .find_map(|hour| {
            shop.timezone
                .from_local_datetime(&date.and_hms_opt(hour, 0, 0)?)
                .earliest()
        })
        .map_or(at, |start| start.with_timezone(&Utc))
}

/// Resolves a service name or synonym to the catalog entry.
pub(crate) fn find_service<'a>(shop: &'a ShopConfig, name: &str) -> Result<&'a Service, CrmError> {
    shop.service(name).ok_or_else(|| CrmError::UnknownService {
        name: name.trim().to_owned(),
    })
}

/// Checks that `[starts_at, starts_at + duration)` is in the future, on an open day, within
/// opening hours and on the slot grid (every `slot_minutes` from opening). Returns the end.
pub(crate) fn check_bookable(
    shop: &ShopConfig,
    duration_minutes: u32,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, CrmError> {
    if starts_at <= now {
        return Err(CrmError::InPast);
    }
    let local = starts_at.with_timezone(&shop.timezone).naive_local();
    let date = local.date();
    let Some(hours) = shop.opening_hours(date) else {
        return Err(CrmError::Closed {
            date,
            holiday: shop.holiday(date).map(|holiday| holiday.name.clone()),
        });
    };
    let open = date.and_time(hours.open);
    let close = date.and_time(hours.close);
    let local_end = local + Duration::minutes(i64::from(duration_minutes));
    if local < open || local_end > close {
        return Err(CrmError::OutsideHours {
            reason: format!(
                "on {date} the shop is open {}-{} and this service takes {duration_minutes} minutes",
                hours.open.format("%H:%M"),
                hours.close.format("%H:%M"),
            ),
        });
    }
    let minutes_from_open = (local - open).num_minutes();
    let on_grid = local.second() == 0
        && local.nanosecond() == 0
        && minutes_from_open % i64::from(shop.slot_minutes.max(1)) == 0;
    if !on_grid {
        return Err(CrmError::OutsideHours {
            reason: format!(
                "appointments start every {} minutes from {}",
                shop.slot_minutes,
                hours.open.format("%H:%M")
            ),
        });
    }
    Ok(starts_at + Duration::minutes(i64::from(duration_minutes)))
}

/// Every start time the shop offers on `date` for a service of `duration_minutes` (ignoring
/// existing bookings), as (UTC, local). Local times that do not exist (DST gap) are skipped;
/// ambiguous ones (DST overlap) take the earlier instant.
pub(crate) fn candidate_starts(
    shop: &ShopConfig,
    date: NaiveDate,
    duration_minutes: u32,
) -> Vec<(DateTime<Utc>, NaiveDateTime)> {
    let Some(hours) = shop.opening_hours(date) else {
        return Vec::new();
    };
    let step = Duration::minutes(i64::from(shop.slot_minutes.max(1)));
    let duration = Duration::minutes(i64::from(duration_minutes));
    let close = date.and_time(hours.close);
    let mut res = Vec::new();
    let mut local = date.and_time(hours.open);
    while local + duration <= close {
        if let Some(start) = shop.timezone.from_local_datetime(&local).earliest() {
            res.push((start.with_timezone(&Utc), local));
        }
        local += step;
    }
    res
}

/// The most appointments of `existing` running at the same moment inside `[start, end)`.
pub(crate) fn peak_overlap(existing: &[Span], start: DateTime<Utc>, end: DateTime<Utc>) -> u32 {
    let overlapping: Vec<&Span> = existing
        .iter()
        .filter(|span| span.starts_at < end && span.ends_at > start)
        .collect();
    // The count only changes at a start, so the peak is at `start` or at some span's start.
    let mut moments: Vec<DateTime<Utc>> = vec![start];
    moments.extend(
        overlapping
            .iter()
            .map(|span| span.starts_at)
            .filter(|t| *t > start && *t < end),
    );
    moments
        .iter()
        .map(|moment| {
            let n = overlapping
                .iter()
                .filter(|span| span.starts_at <= *moment && span.ends_at > *moment)
                .count();
            u32::try_from(n).unwrap_or(u32::MAX)
        })
        .max()
        .unwrap_or(0)
}

/// Free slots between `from` and `to` (local dates, inclusive) given the scheduled spans.
pub(crate) fn free_slots(
    shop: &ShopConfig,
    from: NaiveDate,
    to: NaiveDate,
    duration_minutes: u32,
    existing: &[Span],
    now: DateTime<Utc>,
) -> Vec<Slot> {
    let duration = Duration::minutes(i64::from(duration_minutes));
    let mut res = Vec::new();
    for date in from.iter_days().take_while(|date| *date <= to) {
        for (starts_at, local_start) in candidate_starts(shop, date, duration_minutes) {
            if starts_at <= now {
                continue;
            }
            let taken = peak_overlap(existing, starts_at, starts_at + duration);
            if taken < shop.bay_capacity {
                res.push(Slot {
                    starts_at,
                    local_start,
                    free_bays: shop.bay_capacity - taken,
                });
            }
        }
    }
    res
}

#[cfg(test)]
mod tests;
