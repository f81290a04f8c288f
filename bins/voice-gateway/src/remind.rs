//! `voice-gateway remind`: places tomorrow's reminder calls (the shop's local tomorrow), each
//! appointment at most once whatever runs it and however often (a claim in the database), and
//! only inside the calling window. Run it from cron during the day; `--dry-run` lists the calls
//! it would place and changes nothing.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tracing::warn;

use crate::{
    app::{self, Overrides},
    config::Config,
    routes::place_outbound_call,
};

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RemindReport {
    pub(crate) placed: usize,
    pub(crate) would_place: usize,
    pub(crate) failed: usize,
    pub(crate) already_claimed: usize,
    /// On the do-not-call list: not called.
    pub(crate) opted_out: usize,
}

/// One reminder run at `now`.
pub(crate) async fn remind(
    config: Config,
    dry_run: bool,
    now: DateTime<Utc>,
    overrides: Overrides,
    mut output: impl Write,
) -> anyhow::Result<RemindReport> {
    let built = app::build(config, overrides, None).await?;
    let state = built.state;
    let crm = state
        .crm_store
        .clone()
        .context("reminders need the database")?;
    let mut report = RemindReport::default();
    if !state.config.calling_hours.contains(now, &state.shop) {
        writeln!(
            output,
            "outside the calling hours ({}); no reminder calls now",
            state.config.calling_hours
        )?;
        return Ok(report);
    }
    let tz = state.shop.timezone;
    let tomorrow = now.with_timezone(&tz).date_naive() + chrono::Days::new(1);
    let day_start = |date: chrono::NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .and_then(|midnight| midnight.and_local_timezone(tz).earliest())
            .map(|at| at.with_timezone(&Utc))
    };
    let (Some(from), Some(to)) = (
        day_start(tomorrow),
        day_start(tomorrow + chrono::Days::new(1)),
    ) else {
        anyhow::bail!("tomorrow has no local midnight in {tz}");
    };
    let due = crm
        .reminders_due(from, to)
        .await
        .context("listing tomorrow's appointments")?;
    for reminder in due {
        let when = reminder
            .starts_at
            .with_timezone(&tz)
            .format("%a %b %-d, %-I:%M %p");
        let who = crm::mask_phone(&reminder.phone);
        if crm
            .call_opted_out(&reminder.phone)
            .await
            .context("checking the do-not-call list")?
        {
            writeln!(
                output,
                "not calling {who} about appointment {}: on the do-not-call list",
                reminder.appointment_id
            )?;
            report.opted_out += 1;
            continue;
        }
        if dry_run {
            writeln!(
                output,
                "would call {who} about appointment {} ({} on {when})",
                reminder.appointment_id, reminder.service
            )?;
            report.would_place += 1;
            continue;
        }
        if !crm.claim_reminder(reminder.appointment_id, now).await? {
            report.already_claimed += 1;
            continue;
        }
        let params = [("appointment_id", reminder.appointment_id.to_string())];
        match place_outbound_call(&state, &reminder.phone, "outbound_reminder", &params).await {
            Ok(call) => {
                let call_sid = call.sid;
                crm.reminder_placed(reminder.appointment_id, call_sid.as_str())
                    .await?;
                writeln!(
                    output,
                    "called {who} about appointment {} ({} on {when}): {}",
                    reminder.appointment_id,
                    reminder.service,
                    call_sid.as_str()
                )?;
                report.placed += 1;
            }
            Err(err) => {
                warn!(appointment_id = reminder.appointment_id, error = %err, "reminder call not placed; a later run retries");
                crm.release_reminder(reminder.appointment_id).await?;
                writeln!(
                    output,
                    "could not call about appointment {}: {err}",
                    reminder.appointment_id
                )?;
                report.failed += 1;
            }
        }
    }
    writeln!(
        output,
        "{} placed, {} would be placed, {} failed, {} already placed, {} on the do-not-call list",
        report.placed, report.would_place, report.failed, report.already_claimed, report.opted_out
    )?;
    Ok(report)
}
