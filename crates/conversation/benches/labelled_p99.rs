//! Latency of one caller turn over every utterance of the labelled set, as a distribution:
//! `cargo bench -p conversation --bench labelled_p99`.
//!
//! First, each held-out utterance once, at first sight (after one pass over the tuning part):
//! every caller's words are new to the process, and text the patterns have not seen costs more
//! (`crates/conversation/src/phrases.rs` says why). Then the same on another thread, which has
//! not made that pass: a regex's lazy DFA keeps its states in a cache per thread, so this is
//! what a runtime worker that has not warmed up would see (`conversation::warm_up_this_thread`). Then each utterance is run 200 times in a
//! fresh conversation (created outside the timing); prints p50, p90, p99 and max of every
//! timing, then the same over each utterance's fastest run, which is the code's own cost on
//! text seen before with the shared machine's scheduling noise taken out. Between two runs of
//! one utterance every other one has run, so its words meet cold caches: the states they reach
//! in the patterns and the phrase automaton, and the model's weights, are no longer in the
//! CPU's caches. Last, each utterance is run 8 times in a row and its fastest run kept: the
//! code's cost with those in the caches. The difference between the two is cache misses.
//!
//! `LABELLED_P99_SLOWEST=N` instead prints the N tuning utterances slowest at their fastest
//! run, then runs only those, over and over, for a profiler to see what the p99 is made of
//! (`perf record --call-graph dwarf`). Held-out utterances are left out of it: their text is
//! not read while tuning.

use std::{hint::black_box, sync::Arc, time::Instant};

use chrono::{TimeZone, Utc};
use conversation::{ShopConfig, create_inbound_general_manager, score::parse_labelled};

const ROUNDS: usize = 200;

/// Runs of one utterance in a row for the in-cache timing.
const IN_A_ROW: usize = 8;

#[allow(clippy::print_stdout)]
fn main() {
    let text = include_str!("../../../fixtures/nlu/utterances.jsonl");
    let lines = parse_labelled(text).expect("the labelled set parses");
    let shop = Arc::new(ShopConfig::default_shop());
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    // Compile the process-wide patterns before timing.
    create_inbound_general_manager(None, shop.clone()).process_message("hello", now);
    if let Ok(count) = std::env::var("LABELLED_P99_SLOWEST") {
        let count = count
            .parse()
            .expect("LABELLED_P99_SLOWEST is a number of utterances");
        profile_slowest(&lines, &shop, now, count);
        return;
    }
    // First sight: after one pass over the tuning part, each held-out utterance once.
    for line in lines.iter().filter(|line| line.split != "heldout") {
        black_box(
            create_inbound_general_manager(None, shop.clone()).process_message(&line.text, now),
        );
    }
    // Each held-out utterance once, in a fresh conversation.
    let first_sight = || -> Vec<u128> {
        lines
            .iter()
            .filter(|line| line.split == "heldout")
            .map(|line| time_turn(&shop, &line.text, now))
            .collect()
    };
    report("held-out utterances at first sight", first_sight());
    // The same on a thread that has not run the tuning part: every pattern is compiled, but
    // this thread's regex caches start empty, as a runtime worker's would without
    // `conversation::warm_up_this_thread`.
    let cold = std::thread::scope(|scope| {
        scope
            .spawn(first_sight)
            .join()
            .expect("the cold thread's run finishes")
    });
    report(
        "held-out utterances at first sight, on a thread that has not warmed up",
        cold,
    );
    let mut nanos = Vec::with_capacity(lines.len() * ROUNDS);
    let mut fastest = vec![u128::MAX; lines.len()];
    for _ in 0..ROUNDS {
        for (line, fastest) in lines.iter().zip(&mut fastest) {
            let took = time_turn(&shop, &line.text, now);
            nanos.push(took);
            *fastest = (*fastest).min(took);
        }
    }
    report(
        &format!("process_message over {} utterances x {ROUNDS}", lines.len()),
        nanos,
    );
    report("each utterance's fastest run", fastest);
    let in_a_row = lines
        .iter()
        .map(|line| {
            (0..IN_A_ROW)
                .map(|_| time_turn(&shop, &line.text, now))
                .min()
                .unwrap_or(0)
        })
        .collect();
    report(
        &format!("each utterance's fastest of {IN_A_ROW} runs in a row (caches warm)"),
        in_a_row,
    );
}

/// Nanoseconds `text` takes as the first turn of a fresh conversation (created outside the
/// timing).
fn time_turn(shop: &Arc<ShopConfig>, text: &str, now: chrono::DateTime<Utc>) -> u128 {
    let mut manager = create_inbound_general_manager(None, shop.clone());
    let started = Instant::now();
    black_box(manager.process_message(black_box(text), now));
    started.elapsed().as_nanos()
}

/// Prints the `count` tuning utterances slowest at their fastest of 30 runs, then runs them
/// again and again, for a profiler.
#[allow(clippy::print_stdout)]
fn profile_slowest(
    lines: &[conversation::score::Labelled],
    shop: &Arc<ShopConfig>,
    now: chrono::DateTime<Utc>,
    count: usize,
) {
    let run = |text: &str| time_turn(shop, text, now);
    let mut slowest: Vec<(u128, &str)> = lines
        .iter()
        .filter(|line| line.split != "heldout")
        .map(|line| {
            let fastest = (0..30).map(|_| run(&line.text)).min().unwrap_or(0);
            (fastest, line.text.as_str())
        })
        .collect();
    slowest.sort_unstable_by(|a, b| b.cmp(a));
    slowest.truncate(count);
    for (nanos, text) in &slowest {
        println!("{:.1} us\t{text}", *nanos as f64 / 1000.0);
    }
    for _ in 0..3000 {
        for (_, text) in &slowest {
            run(text);
        }
    }
}

#[allow(clippy::print_stdout)]
fn report(what: &str, mut nanos: Vec<u128>) {
    nanos.sort_unstable();
    let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    // The mean moves less with the shared machine's noise than the tail does: it is what an
    // A/B comparison of two builds reads first.
    let mean = nanos.iter().sum::<u128>() as f64 / nanos.len().max(1) as f64 / 1000.0;
    println!(
        "{what}: mean {mean:.2} us, p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, max {:.1} us",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}
