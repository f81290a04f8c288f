//! Call analytics from the call records (the seed's next step 5, "track flow completion
//! rates"): how many flows completed, escalated or were abandoned per call type and per intent,
//! bookings made, escalation reasons and voice-to-voice latency, per shop-local day and over the
//! range. `voice-gateway report` prints it as a table, JSON or CSV.
//!
//! Each finished call counts once, on the shop-local day it started:
//! - `escalated`: the call went to a person (or a call-back was promised);
//! - `completed`: otherwise, the conversation reached `execution` or `closing` (the request was
//!   handled, the same rule as `voice_flow_completions_total`);
//! - `abandoned`: anything else (the caller hung up before the request was handled).
//!
//! Bookings are `book_appointment` tool calls whose result was `{"ok": true}`, read from the
//! call's history; voice-to-voice is each agent turn's `voice_to_voice_ms` from the record's
//! timings. Calls still in progress (no end) are left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use serde_json::Value;

use crate::entity::call;
use crate::{Crm, CrmError};

/// One finished call, as the report counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFacts {
    /// The shop-local day it started.
    pub day: NaiveDate,
    /// The conversation's call type (`inbound_new`, …; `unknown` when none was recorded).
    pub call_type: String,
    /// The caller's intent as the conversation last understood it (`none` when none).
    pub intent: String,
    /// How the flow ended.
    pub outcome: Outcome,
    /// Why it escalated, when it did.
    pub escalation_reason: Option<String>,
    /// Appointments booked in the call.
    pub bookings: u32,
    /// Voice-to-voice of each agent turn, ms.
    pub voice_to_voice_ms: Vec<f64>,
}

/// How a call's flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The request was handled.
    Completed,
    /// A person took over (or will call back).
    Escalated,
    /// The caller left first.
    Abandoned,
}

/// Counts over a group of calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Finished calls.
    pub calls: u32,
    /// Of those, completed.
    pub completed: u32,
    /// Escalated.
    pub escalated: u32,
    /// Abandoned.
    pub abandoned: u32,
    /// Appointments booked.
    pub bookings: u32,
    /// Completed calls as a share of all, percent (0 without calls).
    pub completion_rate_pct: f64,
    /// Voice-to-voice p50 over the group's agent turns, ms (`None` without turns).
    pub voice_to_voice_p50_ms: Option<f64>,
    /// Voice-to-voice p95, ms.
    pub voice_to_voice_p95_ms: Option<f64>,
    #[serde(skip)]
    latencies: Vec<f64>,
}

impl Tally {
    fn add(&mut self, facts: &CallFacts) {
        self.calls += 1;
        match facts.outcome {
            Outcome::Completed => self.completed += 1,
            Outcome::Escalated => self.escalated += 1,
            Outcome::Abandoned => self.abandoned += 1,
        }
        self.bookings += facts.bookings;
        self.latencies.extend(&facts.voice_to_voice_ms);
    }

    fn finish(&mut self) {
        self.completion_rate_pct = if self.calls == 0 {
            0.0
        } else {
            (f64::from(self.completed) * 1000.0 / f64::from(self.calls)).round() / 10.0
        };
        self.latencies.sort_by(f64::total_cmp);
        self.voice_to_voice_p50_ms = percentile(&self.latencies, 0.50);
        self.voice_to_voice_p95_ms = percentile(&self.latencies, 0.95);
    }
}

/// The report over shop-local days `from..=to`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First day, shop-local.
    pub from: NaiveDate,
    /// Last day, shop-local.
    pub to: NaiveDate,
    /// Every finished call in the range.
    pub total: Tally,
    /// Per call type.
    pub by_call_type: BTreeMap<String, Tally>,
    /// Per intent.
    pub by_intent: BTreeMap<String, Tally>,
    /// Per day (every day of the range, also days without calls).
    pub by_day: BTreeMap<NaiveDate, Tally>,
    /// Escalations per reason.
    pub escalation_reasons: BTreeMap<String, u32>,
}

impl Report {
    /// Builds the report from the calls' facts; calls outside `from..=to` are left out.
    pub fn build(from: NaiveDate, to: NaiveDate, calls: &[CallFacts]) -> Report {
        let mut report = Report {
            from,
            to,
            total: Tally::default(),
            by_call_type: BTreeMap::new(),
            by_intent: BTreeMap::new(),
            by_day: from
                .iter_days()
                .take_while(|day| *day <= to)
                .map(|day| (day, Tally::default()))
                .collect(),
            escalation_reasons: BTreeMap::new(),
        };
        for facts in calls.iter().filter(|f| (from..=to).contains(&f.day)) {
            report.total.add(facts);
            report
                .by_call_type
                .entry(facts.call_type.clone())
                .or_default()
                .add(facts);
            report
                .by_intent
                .entry(facts.intent.clone())
                .or_default()
                .add(facts);
            report.by_day.entry(facts.day).or_default().add(facts);
            if facts.outcome == Outcome::Escalated {
                let reason = facts
                    .escalation_reason
                    .clone()
                    .unwrap_or_else(|| "unknown".to_owned());
                *report.escalation_reasons.entry(reason).or_default() += 1;
            }
        }
        report.total.finish();
        for tally in report
            .by_call_type
            .values_mut()
            .chain(report.by_intent.values_mut())
            .chain(report.by_day.values_mut())
        {
            tally.finish();
        }
        report
    }

    /// One row per group: `section,key,calls,completed,escalated,abandoned,bookings,
    /// completion_rate_pct,voice_to_voice_p50_ms,voice_to_voice_p95_ms`, then one
    /// `escalation_reason` row per reason (its count in `calls`).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "section,key,calls,completed,escalated,abandoned,bookings,completion_rate_pct,voice_to_voice_p50_ms,voice_to_voice_p95_ms\n",
        );
        let ms = |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_default();
        let mut row = |section: &str, key: &str, t: &Tally| {
            let _ = writeln!(
                out,
                "{section},{key},{},{},{},{},{},{:.1},{},{}",
                t.calls,
                t.completed,
                t.escalated,
                t.abandoned,
                t.bookings,
                t.completion_rate_pct,
                ms(t.voice_to_voice_p50_ms),
                ms(t.voice_to_voice_p95_ms)
            );
        };
        row("total", "all", &self.total);
        for (key, tally) in &self.by_call_type {
            row("call_type", key, tally);
        }
        for (key, tally) in &self.by_intent {
            row("intent", key, tally);
        }
        for (day, tally) in &self.by_day {
            row("day", &day.to_string(), tally);
        }
        for (reason, count) in &self.escalation_reasons {
            let _ = writeln!(out, "escalation_reason,{reason},{count},,,,,,,");
        }
        out
    }

    /// A plain-text table for a terminal, with a bar per day.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Calls from {} to {} (shop-local days)\n",
            self.from, self.to
        );
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
        let header = format!(
            "{:<24} {:>6} {:>10} {:>10} {:>10} {:>9} {:>7} {:>12}",
            "", "calls", "completed", "escalated", "abandoned", "bookings", "done %", "v2v p50/p95"
        );
        let line = |out: &mut String, key: &str, t: &Tally| {
            let _ = writeln!(
                out,
                "{:<24} {:>6} {:>10} {:>10} {:>10} {:>9} {:>7.1} {:>12}",
                key,
                t.calls,
                t.completed,
                t.escalated,
                t.abandoned,
                t.bookings,
                t.completion_rate_pct,
                format!(
                    "{}/{}",
                    ms(t.voice_to_voice_p50_ms),
                    ms(t.voice_to_voice_p95_ms)
                )
            );
        };
        for (title, rows) in [
            ("By call type", &self.by_call_type),
            ("By intent", &self.by_intent),
        ] {
            let _ = writeln!(out, "{title}\n{header}");
            for (key, tally) in rows {
                line(&mut out, key, tally);
            }
            line(&mut out, "all", &self.total);
            out.push('\n');
        }
        let _ = writeln!(out, "By day\n{header}");
        let widest = self
            .by_day
            .values()
            .map(|t| t.calls)
            .max()
            .unwrap_or(0)
            .max(1);
        for (day, tally) in &self.by_day {
            line(&mut out, &day.to_string(), tally);
            let bar = (tally.calls * 40).div_ceil(widest) as usize;
            if bar > 0 {
                let _ = writeln!(out, "{:<24} {}", "", "#".repeat(bar));
            }
        }
        out.push('\n');
        let _ = writeln!(out, "Escalation reasons");
        if self.escalation_reasons.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for (reason, count) in &self.escalation_reasons {
            let _ = writeln!(out, "  {reason:<28} {count}");
        }
        out
    }
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(idx).copied()
}

/// The report's facts of one call record row.
pub(crate) fn facts_of(row: &call::Model, tz: chrono_tz::Tz) -> CallFacts {
    let conversation = row.summary.as_ref().and_then(|s| s.get("conversation"));
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let state = text(conversation.and_then(|c| c.get("state")));
    let outcome = if row.escalated {
        Outcome::Escalated
    } else if matches!(state.as_deref(), Some("execution" | "closing")) {
        Outcome::Completed
    } else {
        Outcome::Abandoned
    };
    let voice_to_voice_ms = row
        .summary
        .as_ref()
        .and_then(|s| s.get("timings"))
        .and_then(Value::as_array)
        .map(|turns| {
            turns
                .iter()
                .filter_map(|turn| turn.get("voice_to_voice_ms").and_then(Value::as_f64))
                .collect()
        })
        .unwrap_or_default();
    CallFacts {
        day: row.started_at.with_timezone(&tz).date_naive(),
        call_type: row
            .call_type
            .clone()
            .or_else(|| text(conversation.and_then(|c| c.get("call_type"))))
            .unwrap_or_else(|| "unknown".to_owned()),
        intent: text(conversation.and_then(|c| c.get("intent")))
            .unwrap_or_else(|| "none".to_owned()),
        outcome,
        escalation_reason: row.escalation_reason.clone(),
        bookings: bookings_in(row.transcript.as_ref()),
        voice_to_voice_ms,
    }
}

/// `book_appointment` calls in a history whose result says `"ok": true`.
pub fn bookings_in(history: Option<&Value>) -> u32 {
    let Some(messages) = history.and_then(Value::as_array) else {
        return 0;
    };
    let booking_ids: Vec<&str> = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .filter_map(|m| m.get("tool_calls").and_then(Value::as_array))
        .flatten()
        .filter(|call| call.get("name").and_then(Value::as_str) == Some("book_appointment"))
        .filter_map(|call| call.get("id").and_then(Value::as_str))
        .collect();
    let booked = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("tool"))
        .filter(|m| {
            m.get("tool_call_id")
                .and_then(Value::as_str)
                .is_some_and(|id| booking_ids.contains(&id))
        })
        .filter(|m| {
            m.get("content")
                .and_then(Value::as_str)
                .and_then(|content| serde_json::from_str::<Value>(content).ok())
                .is_some_and(|result| result.get("ok") == Some(&Value::Bool(true)))
        })
        .count();
    u32::try_from(booked).unwrap_or(u32::MAX)
}

impl Crm {
    /// The report over shop-local days `from..=to` from the finished calls' records.
    pub async fn report(&self, from: NaiveDate, to: NaiveDate) -> Result<Report, CrmError> {
        if to < from {
            return Err(CrmError::InvalidArgument(format!(
                "the range ends ({to}) before it starts ({from})"
            )));
        }
        let tz = self.shop().timezone;
        let start = local_midnight(tz, from);
        let end = local_midnight(tz, to.checked_add_days(Days::new(1)).unwrap_or(to));
        let rows = self
            .timed("report", async {
                call::Entity::find()
                    .filter(call::Column::StartedAt.gte(start))
                    .filter(call::Column::StartedAt.lt(end))
                    .filter(call::Column::EndedAt.is_not_null())
                    .order_by_asc(call::Column::StartedAt)
                    .all(&self.db)
                    .await
                    .map_err(CrmError::db("report"))
            })
            .await?;
        let facts: Vec<CallFacts> = rows.iter().map(|row| facts_of(row, tz)).collect();
        Ok(Report::build(from, to, &facts))
    }
}

/// The first instant of a shop-local day (the earlier one if the clocks fall back at midnight).
fn local_midnight(tz: chrono_tz::Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight).earliest().map_or_else(
        || Utc.from_utc_datetime(&midnight),
        |t| t.with_timezone(&Utc),
    )
}

#[cfg(test)]
mod tests;
