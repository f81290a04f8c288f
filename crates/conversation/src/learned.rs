//! A small learned intent model behind the hand-written patterns.
//!
//! The patterns in `detect.rs` are precise but cannot list every way a caller says a thing
//! ("what am i looking at for pads" is a price question without the word price). This module
//! is a multinomial Naive Bayes classifier over the words and word pairs of the normalised
//! utterance, trained once per process from the tuning part of the labelled set
//! (`fixtures/nlu/utterances.jsonl`, `split: "tune"` only; the held-out part is never read, so
//! it still measures phrasings nobody tuned for).
//!
//! It is consulted only where the patterns are weakest (see `ConversationManager::detect_intent`):
//! on a caller's first request, when the patterns found nothing or only a booking, and only
//! when the model is confident. On the lines of two new writers, before any tuning on them,
//! patterns alone got 61.8 % and 62.7 % of intents, patterns with this fallback (trained on
//! the other tuning lines) 76.8 % and 83.6 % (`fixtures/nlu/README.md`).
//!
//! Features are hashed (FNV-1a, 64 bits) into one table of per-class log-likelihoods, so a
//! classification is a few dozen hash lookups and additions: well under a microsecond.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::{
    score::{Labelled, parse_labelled},
    text::normalize,
    types::Intent,
};

/// The classes: the seven intents, then "no intent".
const CLASSES: [Option<Intent>; 8] = [
    Some(Intent::ScheduleAppointment),
    Some(Intent::RescheduleAppointment),
    Some(Intent::CancelAppointment),
    Some(Intent::CheckHours),
    Some(Intent::CheckStatus),
    Some(Intent::PricingInquiry),
    Some(Intent::GeneralInquiry),
    None,
];

/// Additive (Lidstone) smoothing of the feature counts.
const ALPHA: f64 = 0.5;

/// The project's labelled set, compiled in; only its tuning part is learned from.
const LABELLED: &str = include_str!("../../../fixtures/nlu/utterances.jsonl");

/// The labelled set's tuning part, parsed once: the model learns from it, and
/// `warm_up_this_thread` runs it.
static TUNING: LazyLock<Vec<Labelled>> = LazyLock::new(|| {
    let lines = parse_labelled(LABELLED).unwrap_or_else(|err| {
        // The set is checked by the crate's tests; a bad line can only come from an edit.
        panic!("fixtures/nlu/utterances.jsonl is not valid: {err}")
    });
    lines
        .into_iter()
        .filter(|line| line.split == "tune")
        .collect()
});

static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::train(
        tuning()
            .iter()
            .map(|line| (normalize(&line.text), line.intent)),
    )
});

/// The labelled set's tuning part.
pub(crate) fn tuning() -> &'static [Labelled] {
    &TUNING
}

/// What the model makes of an utterance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Guess {
    /// The most likely class (`None`: no intent).
    pub intent: Option<Intent>,
    /// Its posterior probability, 0 to 1.
    pub confidence: f64,
}

/// Classifies normalised text with the model trained on the project's tuning set.
pub(crate) fn classify(normalized: &str) -> Guess {
    MODEL.classify(normalized)
}

/// Builds the model now rather than on the first caller's first words (a few milliseconds).
pub(crate) fn warm_up() {
    LazyLock::force(&MODEL);
}

/// A trained multinomial Naive Bayes model over hashed binary features.
#[derive(Debug)]
pub(crate) struct Model {
    log_prior: [f64; CLASSES.len()],
    /// Per feature, per class: log P(feature | class).
    log_likelihood: FxHashMap<u64, [f32; CLASSES.len()]>,
}

impl Model {
    /// Trains on `(normalised text, intent)` pairs.
    pub(crate) fn train(examples: impl IntoIterator<Item = (String, Option<Intent>)>) -> Self {
        let mut docs = [0u32; CLASSES.len()];
        let mut counts = FxHashMap::<u64, [u32; CLASSES.len()]>::default();
        let mut features = Vec::new();
        for (text, intent) in examples {
            let class = class_index(intent);
            docs[class] += 1;
            features.clear();
            features_of(&text, &mut features);
            for &feature in &features {
                counts.entry(feature).or_default()[class] += 1;
            }
        }
        let total_docs: u32 = docs.iter().sum();
        let vocabulary = counts.len() as f64;
        let mut totals = [0f64; CLASSES.len()];
        for per_class in counts.values() {
            for (total, &count) in totals.iter_mut().zip(per_class) {
                *total += f64::from(count);
            }
        }
        let log_prior = std::array::from_fn(|class| {
            // A class with no examples is never predicted.
            if docs[class] == 0 {
                f64::NEG_INFINITY
            } else {
                (f64::from(docs[class]) / f64::from(total_docs)).ln()
            }
        });
        let log_likelihood = counts
            .into_iter()
            .map(|(feature, per_class)| {
                let row = std::array::from_fn(|class| {
                    let denominator = totals[class] + ALPHA * vocabulary;
                    ((f64::from(per_class[class]) + ALPHA) / denominator).ln() as f32
                });
                (feature, row)
            })
            .collect();
        Self {
            log_prior,
            log_likelihood,
        }
    }

    /// The most likely class of normalised text and its posterior probability.
    pub(crate) fn classify(&self, normalized: &str) -> Guess {
        let mut scores = self.log_prior;
        let mut features = Vec::with_capacity(48);
        features_of(normalized, &mut features);
        for feature in &features {
            // Features never seen in training say nothing about the class.
            if let Some(row) = self.log_likelihood.get(feature) {
                for (score, &ll) in scores.iter_mut().zip(row) {
                    *score += f64::from(ll);
                }
            }
        }
        let (best, &top) = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((CLASSES.len() - 1, &0.0));
        let sum: f64 = scores.iter().map(|score| (score - top).exp()).sum();
        Guess {
            intent: CLASSES[best],
            confidence: if sum > 0.0 { 1.0 / sum } else { 0.0 },
        }
    }
}

fn class_index(intent: Option<Intent>) -> usize {
    CLASSES
        .iter()
        .position(|class| *class == intent)
        .unwrap_or(CLASSES.len() - 1)
}

/// The distinct words and adjacent word pairs of normalised text, hashed. Each counts once
/// (binary features), so a caller repeating a word does not outvote the rest of the sentence.
fn features_of(normalized: &str, out: &mut Vec<u64>) {
    let mut previous: Option<&str> = None;
    for word in normalized.split(' ').filter(|word| !word.is_empty()) {
        out.push(fnv1a(FNV_OFFSET, word.as_bytes()));
        if let Some(before) = previous {
            let hash = fnv1a(FNV_OFFSET, before.as_bytes());
            let hash = fnv1a(hash, b" ");
            out.push(fnv1a(hash, word.as_bytes()));
        }
        previous = Some(word);
    }
    out.sort_unstable();
    out.dedup();
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model::train(
            [
                ("what would brakes run me", Some(Intent::PricingInquiry)),
                ("how much for an oil change", Some(Intent::PricingInquiry)),
                (
                    "what do you charge for brakes",
                    Some(Intent::PricingInquiry),
                ),
                ("is my truck done yet", Some(Intent::CheckStatus)),
                ("is the car ready yet", Some(Intent::CheckStatus)),
                ("book me for brakes", Some(Intent::ScheduleAppointment)),
                ("thanks bye", None),
            ]
            .map(|(text, intent)| (normalize(text), intent)),
        )
    }

    #[test]
    fn the_words_a_class_was_trained_on_pick_it() {
        let model = model();
        let guess = model.classify(&normalize("what would an oil change run me"));
        assert_eq!(guess.intent, Some(Intent::PricingInquiry));
        assert!(guess.confidence > 0.5, "{guess:?}");
        let guess = model.classify(&normalize("is my car done"));
        assert_eq!(guess.intent, Some(Intent::CheckStatus));
    }

    #[test]
    fn unseen_words_leave_the_prior_and_low_confidence() {
        let model = model();
        let guess = model.classify("zzz qqq");
        // Pricing has the most examples, so the prior alone picks it, without confidence.
        assert_eq!(guess.intent, Some(Intent::PricingInquiry));
        assert!(guess.confidence < 0.5, "{guess:?}");
        let empty = model.classify("");
        assert!((0.0..=1.0).contains(&empty.confidence));
    }

    #[test]
    fn repeated_words_count_once() {
        let mut once = Vec::new();
        features_of("brakes brakes brakes", &mut once);
        // "brakes" and "brakes brakes".
        assert_eq!(once.len(), 2);
    }

    #[test]
    fn the_project_model_learns_only_from_the_tuning_part() {
        let lines = parse_labelled(LABELLED).expect("valid labelled set");
        let tune = lines.iter().filter(|line| line.split == "tune").count();
        let docs: usize = CLASSES
            .iter()
            .map(|class| MODEL.log_prior[class_index(*class)])
            .filter(|prior| prior.is_finite())
            .count();
        assert_eq!(docs, CLASSES.len(), "every class has tuning examples");
        // The priors are the tuning part's class frequencies, not the whole file's.
        let schedule = lines
            .iter()
            .filter(|line| line.split == "tune" && line.intent == Some(Intent::ScheduleAppointment))
            .count();
        let expected = (schedule as f64 / tune as f64).ln();
        assert!((MODEL.log_prior[0] - expected).abs() < 1e-9);
    }
}
