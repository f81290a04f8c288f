//! The labelled utterance set (`fixtures/nlu/utterances.jsonl`): the held-out part, which is never
//! tuned against, and the tuning part, scored separately. Run with `--nocapture` to see the
//! tables. The floors are the scores measured when the set was written (before any tuning on it),
//! so a change that makes understanding worse fails here; raise them as tuning improves the
//! tuning part and the held-out part follows.

use conversation::score::{Score, parse_labelled, score};

use crate::{now, shop};

fn scored(split: &str) -> Score {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/nlu/utterances.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("the labelled set");
    let lines: Vec<_> = parse_labelled(&text)
        .expect("valid labels")
        .into_iter()
        .filter(|line| line.split == split)
        .collect();
    assert!(lines.len() >= 100, "{split}: {} lines", lines.len());
    let score = score(&lines, now(), &shop());
    eprintln!("== {split}: {} utterances\n{score}", lines.len());
    score
}

#[test]
fn held_out_scores_do_not_fall_below_the_measured_floor() {
    let score = scored("heldout");
    assert!(score.intent.correct >= 75, "intent {:?}", score.intent);
    assert!(
        score.services.correct >= 41,
        "services {:?}",
        score.services
    );
    assert!(score.date.correct >= 37, "date {:?}", score.date);
    assert!(score.time.correct >= 14, "time {:?}", score.time);
    assert_eq!(
        score.escalation_recall.correct, score.escalation_recall.total,
        "every held-out escalation is caught"
    );
    assert!(
        score.escalation_false_alarms <= 6,
        "false alarms {}",
        score.escalation_false_alarms
    );
}

#[test]
fn tuning_scores_do_not_fall_below_the_measured_floor() {
    let score = scored("tune");
    assert!(score.intent.correct >= 122, "intent {:?}", score.intent);
    assert!(
        score.services.correct >= 61,
        "services {:?}",
        score.services
    );
    assert!(score.date.correct >= 56, "date {:?}", score.date);
    assert!(score.time.correct >= 22, "time {:?}", score.time);
    assert!(score.escalation_recall.correct >= 23);
    assert!(score.escalation_false_alarms <= 8);
}
