//! The labelled utterance set (`fixtures/nlu/utterances.jsonl`): the held-out part, which is never
//! tuned against, and the tuning part, scored separately. Run with `--nocapture` to see the
//! tables (the held-out part's misses are left out). The floors are the scores measured after the last tuning (on the tuning part only), so
//! a change that makes understanding worse fails here; raise them with each round of tuning.

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
    let mut shown = score.clone();
    if split == "heldout" {
        // The held-out misses are not printed, so nobody tunes against them by accident.
        shown.misses.clear();
    }
    eprintln!("== {split}: {} utterances\n{shown}", lines.len());
    score
}

#[test]
fn held_out_scores_do_not_fall_below_the_measured_floor() {
    let score = scored("heldout");
    // Three parts, 446 lines: `h287`-`h436`, `h437`-`h586` and `h587`-`h737`
    // (fixtures/nlu/README.md). Measured on 2026-12-07 after the learned model learned where a
    // line starts and ends, and the time asked for "instead" was read from its own clause:
    // intent 433, services 238, dates 190 (of 200), times 91, escalations 62 of 64 with 6 false
    // alarms.
    //
    // After the ninth round: intent 422, 7 false alarms. The tenth round's new training lines
    // gave two intents back, the eleventh round two more and a false alarm, the twelfth lost one
    // intent, and nobody looked at which. The logistic regression that replaced the Naive Bayes
    // model gave two back; the thirteenth round's rules one more, and its fix of patterns
    // written with number words, which never matched, took one away; its review narrowed decoys
    // that hid real threats, and one false alarm came back. Letting the learned model read
    // escalated lines too, chosen by cross-validation, gave two intents back; letting it
    // overrule the patterns' general, price and hours questions, chosen the same way (50 more
    // of 7187 there), took two away; fewer passes with less decay (about 10 more there) took
    // one more away, and a line that had found no date now finds one. Round fourteen's lines,
    // which only the model learned from, gave five back; round fifteen's moved nothing, and
    // round sixteen's took two away. Round seventeen's (lines and a few escalation rules) gave
    // two back, round eighteen's (lines and a decoy) two away. The learned model's new
    // features (what each detector found, words' first letters, pairs one word apart, the
    // mean of its passes' weights), chosen by cross-validation on the tuning part (8457 to
    // 8513 of 9071 right), gave three back. Round nineteen's 407 lines (stop thirty-seven),
    // which the model learns from, took two away (433 to 431), and nobody looked at which; its
    // ten-fold cross-validation on the tuning part read 94.3 % (8936 of 9478) against 94.2 %
    // (8541 of 9071) before them. Round twenty's 383 lines (stop thirty-eight) gave one back
    // (432), with cross-validation at 94.4 % (9310 of 9861); its escalation rules found one
    // more held-out escalation (63) and no new false alarm. Round twenty-one's 397 lines, in
    // the same stop, took two away (430), and nobody looked at which; cross-validation 94.3 %
    // (9670 of 10258). Round twenty-two's 388 lines (stop thirty-nine) gave two back (432),
    // and the mean of eight training runs' weights, chosen by cross-validation on the tuning
    // part (10 030 to 10 087 of 10 646), two more: 434 (97.3 %). Round twenty-three's 386
    // lines, in the same stop, three more (437, 98.0 %), and nobody looked at which; its rule
    // for days told as the past took away a day found where none was said (dates 190 of 199).
    assert!(score.intent.correct >= 437, "intent {:?}", score.intent);
    assert!(
        score.services.correct >= 238,
        "services {:?}",
        score.services
    );
    assert!(score.date.correct >= 190, "date {:?}", score.date);
    // A wrong day found counts against dates as a day missed does.
    assert!(
        score.date.total - score.date.correct <= 9,
        "date {:?}",
        score.date
    );
    assert!(score.time.correct >= 91, "time {:?}", score.time);
    // A time found where none was said counts against times too (four now: a spoken price or
    // model read as a time was one more before stop thirty-eight).
    assert!(
        score.time.total - score.time.correct <= 4,
        "time {:?}",
        score.time
    );
    // The target is every escalation and no false alarm.
    assert!(
        score.escalation_recall.correct >= 63,
        "escalation recall {:?}",
        score.escalation_recall
    );
    // Six false alarms until stop forty, when the learned second look at escalations
    // (`second_look.rs`), its threshold chosen by cross-validation on the tuning part, took
    // four back and no escalation; nobody looked at which.
    assert!(
        score.escalation_false_alarms <= 2,
        "false alarms {}",
        score.escalation_false_alarms
    );
}

#[test]
fn tuning_scores_do_not_fall_below_the_measured_floor() {
    let score = scored("tune");
    // The learned model has seen these lines, so intent here is mostly memory (99.5 %); how
    // it does on lines it never saw is `nlu --score --cross-validate 10`.
    assert!(score.intent.correct >= 10985, "intent {:?}", score.intent);
    assert!(
        score.services.correct >= 5609,
        "services {:?}",
        score.services
    );
    assert!(score.date.correct >= 4161, "date {:?}", score.date);
    assert!(score.time.correct >= 2187, "time {:?}", score.time);
    assert!(score.escalation_recall.correct >= 1932);
    // Two polite follow-ups of the eleventh round still read as anger (t4606, t4745), a friend
    // called useless (t6433) and a caller "very disappointed" with a price (t6685); round
    // fourteen's "ridiculous" aimed elsewhere (a parking ticket, a dealer's price, a tow truck
    // driver: t7035, t7272, t7291) and round fifteen's (a lawyer who said to keep receipts,
    // three more "ridiculous" and "idiots" aimed at other shops: t7425, t7491, t7580, t7662)
    // and one of round sixteen's (t7729), not tuned for. Round seventeen's rules took round
    // fifteen's other managers and front desks (t7386, t7404, t7455) and its own three, round
    // eighteen's the two of its own (parts the caller brings, "put them on"). Stop thirty-four's
    // decoys took three (t7272, t7491, t7580); those for t7291, t7425 and t7662 were narrowed
    // again in review, as they hid anger at the shop and a lawyer's veiled threat. Stop
    // thirty-five's took t7662 ("its ridiculous the dealer wants", without "what"). Stop
    // thirty-six's decoys for t7035 (a parking ticket), t7291 (a tow truck's driver) and t7729
    // ("its not like i need it now") were dropped in review: they hid anger at the shop's own
    // ticket and tow driver, and sarcasm ("take your time its not like i need it today").
    // Round nineteen (stop thirty-seven) brought fourteen false alarms; its decoys took eleven,
    // and three are left: a lawyer's advice before traffic court (t8949), "im so mad" at a
    // crash (t8993) and a ticket called dumb (t9150), each close to how an angry caller
    // speaks of the shop. Round twenty (stop thirty-eight) brought eleven; its decoys took
    // ten, and one is left: "whos the owner over there" asked about the owner seen on the
    // news (t9539), worded as callers ask for the owner. Round twenty-one brought twenty, and
    // its decoys took them all. Round twenty-two (stop thirty-nine) brought sixteen; its
    // decoys took fifteen, and one is left: "frustrated is an understatement" about a car
    // bought from another lot (t10156), worded as a caller angry at the shop would begin.
    // Round twenty-three (the same stop) brought eighteen; its decoys, narrowed in review,
    // took them all, and t6433 (a buddy called useless) as well.
    // Stop forty's second look at escalations (`second_look.rs`), which learned from these
    // lines, takes back all but two: t6685 ("very disappointed" with a price) and t7729 ("its
    // not like i need it now"). How it does on lines it never saw is what
    // `nlu --score --cross-validate 10` reports (six of the twelve, and four escalations).
    assert!(score.escalation_false_alarms <= 2);
}

/// The server's warm-up runs every tuning utterance once (and none of the held-out part).
#[test]
fn warming_up_runs_every_tuning_utterance() {
    let lines = conversation::score::parse_labelled(include_str!(
        "../../../../fixtures/nlu/utterances.jsonl"
    ))
    .expect("the labelled set parses");
    let tuning = lines.iter().filter(|line| line.split == "tune").count();
    assert!(tuning > 4000, "{tuning}");
    assert_eq!(conversation::warm_up_this_thread(), tuning);
}
