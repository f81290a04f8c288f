//! Scoring the fast path on labelled utterances: `voice-gateway nlu --score FILE`.
//!
//! Each labelled line is one caller utterance run through a fresh `inbound_general` conversation
//! at a fixed `now`. The report gives intent accuracy, per-intent precision and recall, the
//! confusion pairs, the service slot, the resolved date and time, escalation recall and false
//! alarms, and every miss, so a shop can measure the patterns on its own transcripts.
//!
//! The label format (JSON Lines, one object a line; `fixtures/nlu/utterances.jsonl` is the
//! project's own set):
//! `{"id", "split": "heldout"|"tune", "text", "intent": <intent or null>, "services": [canonical
//! names in order], "date": "YYYY-MM-DD" or null, "time": "HH:MM" or null, "escalation": <reason
//! or null>}`.

use std::{collections::BTreeMap, fmt};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::{
    manager::create_inbound_general_manager,
    shop::ShopConfig,
    types::{EscalationReason, Intent},
};

/// One labelled utterance.
#[derive(Debug, Clone, Deserialize)]
pub struct Labelled {
    /// A stable id (`h001` held-out, `t001` tuning).
    pub id: String,
    /// `heldout` (never tuned against) or `tune`.
    #[serde(default)]
    pub split: String,
    /// What the caller said, as speech recognition wrote it.
    pub text: String,
    /// The intent a careful receptionist would hear, or none.
    pub intent: Option<Intent>,
    /// Canonical service names, in the order said.
    #[serde(default)]
    pub services: Vec<String>,
    /// The shop-local date asked for.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// The clock time asked for, `HH:MM`.
    #[serde(default)]
    pub time: Option<String>,
    /// Whether (and why) the caller must go to a person.
    #[serde(default)]
    pub escalation: Option<EscalationReason>,
}

/// Reads a labelled JSON Lines text; blank lines are skipped, a bad line is an error naming it.
pub fn parse_labelled(text: &str) -> Result<Vec<Labelled>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| serde_json::from_str(line).map_err(|err| format!("line {}: {err}", n + 1)))
        .collect()
}

/// Counts of one yes/no measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Lines where the measure applies.
    pub total: u32,
    /// Of those, right.
    pub correct: u32,
}

impl Tally {
    fn add(&mut self, correct: bool) {
        self.total += 1;
        self.correct += u32::from(correct);
    }

    /// `correct / total` in percent (100 when nothing applied).
    pub fn percent(self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            f64::from(self.correct) * 100.0 / f64::from(self.total)
        }
    }
}

/// What scoring found.
#[derive(Debug, Clone, Default)]
pub struct Score {
    /// Intent, over every line (none counts as a label).
    pub intent: Tally,
    /// Per intent label (`none` for no intent): true positives, false positives, false negatives.
    pub per_intent: BTreeMap<String, (u32, u32, u32)>,
    /// (labelled, predicted) pairs that differ, with counts.
    pub confusion: BTreeMap<(String, String), u32>,
    /// The service list, over lines where a service was labelled or found.
    pub services: Tally,
    /// The resolved date, over lines where one was labelled or found.
    pub date: Tally,
    /// The resolved time, over lines where one was labelled or found.
    pub time: Tally,
    /// Escalation lines caught (any reason).
    pub escalation_recall: Tally,
    /// Non-escalation lines that escalated.
    pub escalation_false_alarms: u32,
    /// Lines without an escalation label.
    pub non_escalation_lines: u32,
    /// One line per miss: id, text, what differed.
    pub misses: Vec<String>,
}

fn intent_name(intent: Option<Intent>) -> String {
    intent.map_or_else(|| "none".to_owned(), |i| i.as_str().to_owned())
}

/// How well the learned intent model generalises to writers it never saw: `folds`-fold
/// cross-validation over `lines` in blocks of consecutive lines (in the project's set, mostly
/// one writer's lines against the other writers'). Each block's lines are read as a caller's
/// first turn, at `now`, by a conversation whose model learned only from the other blocks
/// (`learned.rs`); the patterns stay as they are. `folds` is brought between 2 and the number
/// of lines. Returns the intents right over all lines and the folds used (none for fewer than
/// two lines).
pub fn cross_validate(
    lines: &[Labelled],
    folds: usize,
    now: DateTime<Utc>,
    shop: &ShopConfig,
) -> (Tally, usize) {
    let shop = std::sync::Arc::new(shop.clone());
    let (right, total, folds) = crate::learned::cross_validate(lines, folds, &shop, now);
    let tally = Tally {
        total: u32::try_from(total).unwrap_or(u32::MAX),
        correct: u32::try_from(right).unwrap_or(u32::MAX),
    };
    (tally, folds)
}

pub use crate::second_look::CrossValidated as SecondLookCrossValidated;

/// How well the learned second look at an escalation (`second_look.rs`) generalises:
/// `folds`-fold cross-validation over `lines` in blocks of consecutive lines. Each line is read
/// by the patterns alone as a caller's first turn at `now`; of those they escalate, it counts
/// the ones a model trained on the other blocks would take back at each threshold it reports.
pub fn cross_validate_second_look(
    lines: &[Labelled],
    folds: usize,
    now: DateTime<Utc>,
    shop: &ShopConfig,
) -> SecondLookCrossValidated {
    let shop = std::sync::Arc::new(shop.clone());
    crate::second_look::cross_validate(lines, folds, |line| {
        let mut manager = create_inbound_general_manager(None, shop.clone());
        manager.use_learned_model(crate::learned::Choice::Off);
        manager.use_second_look(crate::second_look::Choice::Off);
        manager.process_message(&line.text, now);
        manager.escalation_reason().is_some()
    })
}

/// Runs every line at `now` through a fresh general conversation and compares it with its labels.
pub fn score(lines: &[Labelled], now: DateTime<Utc>, shop: &ShopConfig) -> Score {
    let mut score = Score::default();
    for line in lines {
        let mut manager = create_inbound_general_manager(None, shop.clone());
        manager.process_message(&line.text, now);
        let slots = manager.slots();
        let mut wrong = Vec::new();

        let (expected, got) = (intent_name(line.intent), intent_name(manager.intent()));
        score.intent.add(expected == got);
        if expected == got {
            score.per_intent.entry(expected).or_default().0 += 1;
        } else {
            score.per_intent.entry(got.clone()).or_default().1 += 1;
            score.per_intent.entry(expected.clone()).or_default().2 += 1;
            *score
                .confusion
                .entry((expected.clone(), got.clone()))
                .or_default() += 1;
            wrong.push(format!("intent {expected} -> {got}"));
        }

        let found: Vec<String> = slots
            .service_type
            .iter()
            .chain(&slots.more_services)
            .cloned()
            .collect();
        if !line.services.is_empty() || !found.is_empty() {
            let right = found == line.services;
            score.services.add(right);
            if !right {
                wrong.push(format!("services {:?} -> {found:?}", line.services));
            }
        }
        if line.date.is_some() || slots.resolved_date.is_some() {
            let right = line.date == slots.resolved_date;
            score.date.add(right);
            if !right {
                wrong.push(format!("date {:?} -> {:?}", line.date, slots.resolved_date));
            }
        }
        let found_time = slots
            .resolved_time
            .map(|time| time.format("%H:%M").to_string());
        if line.time.is_some() || found_time.is_some() {
            let right = line.time == found_time;
            score.time.add(right);
            if !right {
                wrong.push(format!("time {:?} -> {found_time:?}", line.time));
            }
        }
        let escalated = manager.escalation_reason();
        match line.escalation {
            Some(reason) => {
                score.escalation_recall.add(escalated.is_some());
                if escalated != Some(reason) {
                    wrong.push(format!(
                        "escalation {} -> {}",
                        reason.as_str(),
                        escalated.map_or("none", EscalationReason::as_str)
                    ));
                }
            }
            None => {
                score.non_escalation_lines += 1;
                if let Some(reason) = escalated {
                    score.escalation_false_alarms += 1;
                    wrong.push(format!("escalation none -> {}", reason.as_str()));
                }
            }
        }
        if !wrong.is_empty() {
            score
                .misses
                .push(format!("{} {:?}: {}", line.id, line.text, wrong.join("; ")));
        }
    }
    score
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tally = |t: Tally| format!("{:5.1} % ({}/{})", t.percent(), t.correct, t.total);
        writeln!(f, "intent            {}", tally(self.intent))?;
        writeln!(f, "service slot      {}", tally(self.services))?;
        writeln!(f, "date              {}", tally(self.date))?;
        writeln!(f, "time              {}", tally(self.time))?;
        writeln!(
            f,
            "escalation recall {}; false alarms {}/{}",
            tally(self.escalation_recall),
            self.escalation_false_alarms,
            self.non_escalation_lines
        )?;
        writeln!(f)?;
        writeln!(f, "{:24} {:>9} {:>7}", "intent", "precision", "recall")?;
        for (intent, (tp, fp, fn_)) in &self.per_intent {
            let ratio = |a: u32, b: u32| {
                if a + b == 0 {
                    100.0
                } else {
                    f64::from(a) * 100.0 / f64::from(a + b)
                }
            };
            writeln!(
                f,
                "{intent:24} {:>8.1}% {:>6.1}%",
                ratio(*tp, *fp),
                ratio(*tp, *fn_)
            )?;
        }
        if !self.confusion.is_empty() {
            writeln!(f)?;
            writeln!(f, "confusions (labelled -> predicted)")?;
            for ((expected, got), n) in &self.confusion {
                writeln!(f, "  {expected} -> {got}: {n}")?;
            }
        }
        if !self.misses.is_empty() {
            writeln!(f)?;
            writeln!(f, "misses")?;
            for miss in &self.misses {
                writeln!(f, "  {miss}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_small_labelled_set_scores_what_it_should() {
        let lines = parse_labelled(concat!(
            r#"{"id":"a","text":"i need an oil change tomorrow at 2pm","intent":"schedule_appointment","services":["oil change"],"date":"2026-11-25","time":"14:00","escalation":null}"#,
            "\n\n",
            r#"{"id":"b","text":"what are your hours","intent":"check_hours","services":[],"date":null,"time":null,"escalation":null}"#,
            "\n",
            r#"{"id":"c","text":"let me talk to a manager","intent":null,"services":[],"escalation":"manager_request"}"#,
            "\n",
            r#"{"id":"d","text":"what are your hours","intent":"pricing_inquiry","services":["brake service"]}"#,
        ))
        .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        let score = score(&lines, now, &ShopConfig::default_shop());
        assert_eq!(
            score.intent,
            Tally {
                total: 4,
                correct: 3
            }
        );
        assert_eq!(
            score.services,
            Tally {
                total: 2,
                correct: 1
            }
        );
        assert_eq!(
            score.date,
            Tally {
                total: 1,
                correct: 1
            }
        );
        assert_eq!(
            score.escalation_recall,
            Tally {
                total: 1,
                correct: 1
            }
        );
        assert_eq!(score.escalation_false_alarms, 0);
        assert_eq!(score.misses.len(), 1);
        assert!(score.misses[0].starts_with("d "), "{:?}", score.misses);
        let table = score.to_string();
        assert!(table.contains("intent             75.0 % (3/4)"), "{table}");
        assert!(
            table.contains("pricing_inquiry -> check_hours: 1"),
            "{table}"
        );
        assert!(
            parse_labelled("{not json")
                .unwrap_err()
                .starts_with("line 1:")
        );
    }
}
