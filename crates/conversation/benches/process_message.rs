//! How long one caller turn takes: `cargo bench -p conversation --bench process_message`.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use conversation::{ShopConfig, create_inbound_general_manager};
use divan::Bencher;

fn main() {
    divan::main();
}

const UTTERANCES: [&str; 3] = [
    "Hi, I need to schedule an oil change",
    "um yeah can i bring it in next friday around two thirty in the afternoon",
    "what are your hours on saturday",
];

/// One fresh conversation per iteration (created outside the timing), one turn timed.
#[divan::bench(args = UTTERANCES)]
fn first_turn(bencher: Bencher<'_, '_>, utterance: &str) {
    let shop = Arc::new(ShopConfig::default_shop());
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    // Compile the process-wide patterns before timing.
    create_inbound_general_manager(None, shop.clone()).process_message(utterance, now);
    bencher
        .with_inputs(|| create_inbound_general_manager(None, shop.clone()))
        .bench_local_refs(|manager| manager.process_message(divan::black_box(utterance), now));
}

/// The prompt is rebuilt after every bot turn.
#[divan::bench]
fn system_prompt(bencher: Bencher<'_, '_>) {
    let shop = Arc::new(ShopConfig::default_shop());
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    let mut manager = create_inbound_general_manager(None, shop);
    manager.process_message("i need an oil change tomorrow at 2pm", now);
    bencher.bench_local(|| manager.get_system_prompt());
}
