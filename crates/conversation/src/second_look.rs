//! A learned second look at an escalation the patterns found: a caller's words that a keyword
//! reads as a complaint, a threat or a request for a person, in a line written by a calm caller
//! ("my uncle knows the owner", "the dealer is a total rip off, whats your price", "my brother in
//! law is a judge and swears by you"), do not hand the call to an advisor.
//!
//! The escalation detectors in `detect.rs` learn each new way a calm caller uses their words
//! only once it is written as a decoy, and on lines nobody tuned them for they raise false
//! alarms: the new writers' lines of rounds twenty-two and twenty-three, read by the patterns
//! as they were before each round, had 16 and 18. This is a logistic regression over the words
//! of the line (the learned intent model's features, `learned::features_of`, without what the
//! patterns found), trained the same way on the tuning part's escalation labels: the chance the
//! line escalates. An escalation the patterns found stands unless that chance is below
//! `CALM_BELOW`.
//!
//! It only ever takes an escalation away, and only one its words make very unlikely: it never
//! escalates a line the patterns leave calm, so the advisor is never called for a line nobody
//! wrote a pattern for, and a turn the patterns leave calm (most turns) never asks it.
//!
//! The threshold was chosen by ten-fold cross-validation on the tuning part
//! (`voice-gateway nlu --score … --split tune --cross-validate 10` prints it for each
//! threshold): see `CALM_BELOW`.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::{learned, score::Labelled, text::normalize};

/// An escalation the patterns found is taken back when the model gives it a chance below this.
///
/// Chosen by ten-fold cross-validation on the tuning part (11 032 lines, 2026-12-08), before
/// the held-out part was scored with it: of the 1932 escalations and 12 false alarms the
/// patterns find there, a model that never saw the line's block takes back
///
/// | below | escalations | false alarms |
/// |---|---|---|
/// | 0.001 | 4 | 6 |
/// | 0.002 | 4 | 6 |
/// | 0.005 | 6 | 6 |
/// | 0.01 | 10 | 7 |
/// | 0.02 | 13 | 8 |
/// | 0.05 | 27 | 8 |
/// | 0.1 | 43 | 10 |
///
/// A missed escalation costs more than a needless one (an angry caller kept from a person
/// against a calm one put through to an advisor), so the threshold is the lowest that takes
/// back the most false alarms. The escalations it takes back there are subtle ones of the
/// writer of round twenty-three who buried them in long lines ("is rick still there i only
/// want rick"), which the model learns only from that writer's own block. On the held-out
/// part, scored once afterwards, it took the false alarms from 6 to 2 of 382 and kept all 63
/// escalations found.
pub(crate) const CALM_BELOW: f32 = 0.002;

/// The thresholds cross-validation reports on.
pub(crate) const THRESHOLDS: [f32; 7] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1];

/// The chance a line escalates, from its words: a two-class softmax regression.
#[derive(Debug)]
pub(crate) struct EscalationModel {
    /// Per feature: its weight for "calm" and for "escalates".
    weights: FxHashMap<u64, [f32; 2]>,
}

impl EscalationModel {
    /// Trains on labelled lines: a line with an escalation label escalates.
    pub(crate) fn train<'l>(lines: impl IntoIterator<Item = &'l Labelled>) -> Self {
        let weights = learned::train_weights(lines.into_iter().map(|line| {
            let mut hashed = Vec::new();
            learned::word_features(&normalize(&line.text), &mut hashed);
            (hashed, usize::from(line.escalation.is_some()))
        }));
        Self { weights }
    }

    /// The chance normalised text escalates (1 from a model trained on nothing: no opinion,
    /// the patterns stand).
    pub(crate) fn chance(&self, normalized: &str) -> f32 {
        if self.weights.is_empty() {
            return 1.0;
        }
        let mut features = Vec::with_capacity(64);
        learned::word_features(normalized, &mut features);
        learned::softmax(learned::scores(&self.weights, &features))[1]
    }
}

/// The model trained on the project's tuning part (the held-out part is never read).
static PROJECT: LazyLock<EscalationModel> =
    LazyLock::new(|| EscalationModel::train(learned::tuning()));

/// Builds the project's model now rather than on the first escalation heard.
pub(crate) fn warm_up() {
    LazyLock::force(&PROJECT);
}

/// Which model takes the second look.
#[derive(Debug, Clone)]
pub(crate) enum Choice {
    /// The one trained on the project's tuning part.
    Project,
    /// None: the patterns have the last word (what cross-validation compares with).
    Off,
}

impl Choice {
    /// Whether an escalation the patterns found in normalised text is taken back.
    pub(crate) fn reads_calm(&self, normalized: &str) -> bool {
        let chance = match self {
            Choice::Project => PROJECT.chance(normalized),
            Choice::Off => return false,
        };
        chance < CALM_BELOW
    }
}

/// What `folds`-fold cross-validation over `lines` (blocks of consecutive lines, as for the
/// intent model) makes of each threshold in `THRESHOLDS`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidated {
    /// Escalation lines the patterns found.
    pub found: u32,
    /// Calm lines the patterns escalated.
    pub false_alarms: u32,
    /// Per threshold: the escalations found it would take back, and the false alarms.
    pub taken_back: Vec<(f32, u32, u32)>,
}

/// Cross-validates the second look: each block's lines are read by the patterns alone, then
/// given the chance a model trained on the other blocks gives them.
pub(crate) fn cross_validate(
    lines: &[Labelled],
    folds: usize,
    patterns_escalate: impl Fn(&Labelled) -> bool,
) -> CrossValidated {
    let mut result = CrossValidated {
        found: 0,
        false_alarms: 0,
        taken_back: THRESHOLDS.iter().map(|&t| (t, 0, 0)).collect(),
    };
    if lines.len() < 2 {
        return result;
    }
    let folds = folds.clamp(2, lines.len());
    for fold in 0..folds {
        let (start, end) = (fold * lines.len() / folds, (fold + 1) * lines.len() / folds);
        let model = EscalationModel::train(lines[..start].iter().chain(&lines[end..]));
        for line in &lines[start..end] {
            if !patterns_escalate(line) {
                continue;
            }
            let right = line.escalation.is_some();
            if right {
                result.found += 1;
            } else {
                result.false_alarms += 1;
            }
            let chance = model.chance(&normalize(&line.text));
            for (threshold, escalations, alarms) in &mut result.taken_back {
                if chance < *threshold {
                    if right {
                        *escalations += 1;
                    } else {
                        *alarms += 1;
                    }
                }
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::EscalationReason;

    fn labelled(text: &str, escalation: Option<EscalationReason>) -> Labelled {
        Labelled {
            id: String::new(),
            split: "tune".to_owned(),
            text: text.to_owned(),
            intent: None,
            services: Vec::new(),
            date: None,
            time: None,
            escalation,
        }
    }

    fn lines() -> Vec<Labelled> {
        let mut lines = Vec::new();
        for _ in 0..20 {
            lines.push(labelled(
                "this is ridiculous get me your manager",
                Some(EscalationReason::ManagerRequest),
            ));
            lines.push(labelled(
                "my uncle knows the manager how much is an oil change",
                None,
            ));
            lines.push(labelled("how much is an oil change", None));
        }
        lines
    }

    #[test]
    fn words_of_a_calm_line_make_an_escalation_unlikely() {
        let model = EscalationModel::train(&lines());
        assert!(model.chance("this is ridiculous get me your manager") > 0.5);
        assert!(model.chance("my uncle knows the manager how much is an oil change") < 0.5);
    }

    #[test]
    fn a_model_trained_on_nothing_takes_nothing_back() {
        let model = EscalationModel::train(&[]);
        assert_eq!(model.chance("my uncle knows the manager"), 1.0);
        assert!(!Choice::Off.reads_calm("my uncle knows the manager"));
    }

    #[test]
    fn cross_validation_counts_what_each_threshold_takes_back() {
        let lines = lines();
        let result = cross_validate(&lines, 4, |line| line.text.contains("manager"));
        assert_eq!(result.found, 20);
        assert_eq!(result.false_alarms, 20);
        assert_eq!(result.taken_back.len(), THRESHOLDS.len());
        // The widest threshold takes back at least what the narrowest does.
        let first = result.taken_back[0];
        let last = result.taken_back[THRESHOLDS.len() - 1];
        assert!(last.1 >= first.1 && last.2 >= first.2);
        // Trained on the other blocks, which hold both kinds of line, the model tells them
        // apart: no escalation is taken back at the narrowest threshold.
        assert_eq!(first.1, 0);
        assert!(last.2 > 0, "{result:?}");
    }

    /// What a first turn of `text` escalates for, with the second look `choice`.
    fn escalation(text: &str, choice: Choice) -> Option<EscalationReason> {
        let mut manager =
            crate::create_inbound_general_manager(None, crate::ShopConfig::default_shop());
        manager.use_second_look(choice);
        manager.process_message(text, crate::learned::training_now());
        manager.escalation_reason()
    }

    #[test]
    fn calm_lines_the_patterns_escalate_are_taken_back() {
        // Lines of our own, written for this test: anger and a lawyer that are not about the
        // shop, which the patterns alone escalate.
        for text in [
            "ugh im so frustrated with my stupid phone anyway can i book brakes for friday",
            "my sister works for a lawyer downtown and she recommended you for the inspection",
            "i was so angry at the dealer i walked out so whats your price on a timing belt",
            "my boss is an idiot and wont let me leave early can i drop it off saturday",
        ] {
            assert!(escalation(text, Choice::Off).is_some(), "{text}");
            assert_eq!(escalation(text, Choice::Project), None, "{text}");
            let manager =
                crate::create_inbound_general_manager(None, crate::ShopConfig::default_shop());
            assert!(!manager.should_escalate(text), "{text}");
        }
    }

    #[test]
    fn escalations_stand() {
        for (text, reason) in [
            (
                "this is ridiculous i want to talk to your manager right now",
                EscalationReason::ManagerRequest,
            ),
            (
                "i am going to sue you for what you did to my car",
                EscalationReason::LegalThreat,
            ),
            (
                "you people are crooks and i want my money back",
                EscalationReason::Anger,
            ),
            (
                "put a manager on the phone",
                EscalationReason::ManagerRequest,
            ),
            (
                "im calling my lawyer about the scratch you put on my door",
                EscalationReason::LegalThreat,
            ),
        ] {
            assert_eq!(escalation(text, Choice::Off), Some(reason), "{text}");
            assert_eq!(escalation(text, Choice::Project), Some(reason), "{text}");
        }
    }
}
