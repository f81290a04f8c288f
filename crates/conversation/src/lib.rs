//! The pure conversation state machine of a phone call to the shop.
//!
//! `ConversationManager` tracks one call: its `CallType` (six flows), `State`, `Intent`,
//! collected `Slots` (dates and times resolved in the shop's timezone from an injected "now"),
//! escalation (`EscalationReason`), the LLM system prompt and the spoken greeting.
//! `ShopConfig` holds the shop's facts (hours, holidays, service catalog) loaded from
//! `fixtures/shop.toml`; `CustomerProfile` is what the CRM knows about a caller.
//! `nlu::analyze_line` is the pure part of the `voice-gateway nlu` command.
//! Intents come from hand-written patterns (`detect`; `phrases` takes them apart into fixed
//! phrases found in one Aho-Corasick pass and small regexes run only when triggered), with a
//! small logistic-regression model (`learned`, trained at first use from the tuning part of
//! `fixtures/nlu/utterances.jsonl`, next to what the patterns make of each line) that has the
//! last word on a caller's first request unless the patterns find a cancel, a reschedule or a
//! status check;
//! `warm_up_intent_model` trains it, and compiles every pattern, before the first call.
//!
//! No IO, no async, no clock reads: the pipeline passes the time in and turns timers into
//! calls (`on_silence_timeout`). Regexes are compiled once per process.
//!
//! How the pipeline drives it:
//! - create one manager per call with a `create_*_manager` factory and speak `greeting()`;
//! - per final transcript call `process_message(text, now)`, log each of
//!   `last_turn_transitions()` ("State: …, Intent: …"), hand off when the state is
//!   `Escalation`, and give the LLM `get_system_prompt()`;
//! - after the booking, reschedule or cancel tool call the LLM makes in `Execution`, call
//!   `record_tool_result` so the call moves to `Closing` (or back to slot collection when
//!   the slot was taken);
//! - store `get_conversation_summary()` in the session, and `snapshot()` after every turn: a
//!   gateway that takes the call over after its stream was lost builds the manager as usual,
//!   applies the snapshot with `resume_from` and says `resume_line()` instead of the greeting.
//!
//! Must not depend on: tokio or any async runtime, IO, the system clock, or other workspace crates.

pub mod caller_id;
mod customer;
mod detect;
mod handoff;
mod learned;
mod manager;
pub mod nlu;
mod phrases;
mod prompt;
pub mod score;
mod second_look;
mod shop;
pub mod spelled;
mod text;
mod turn_end;
mod types;
mod vocabulary;
mod when;

pub use customer::{AppointmentInfo, CustomerProfile, VehicleInfo};
pub use handoff::{MessageReply, MessageStep, MessageTaker, TakenMessage, asks_not_to_be_called};
/// Trains the learned intent model and the second look at escalations (`second_look.rs`), and
/// compiles the patterns a sample turn reaches now (under
/// a second in a release build: the model reads every tuning line with the patterns first), so
/// neither happens inside the first caller's turn. Pure: a
/// sample utterance goes through a conversation at a fixed time.
pub fn warm_up_intent_model() {
    learned::warm_up();
    second_look::warm_up();
    let at = learned::training_now();
    let mut manager = create_inbound_general_manager(None, ShopConfig::default_shop());
    manager.process_message(
        "hi im sue i cant make my 10 oclock tomorrow can we do friday at 2 for brakes instead how much is it",
        at,
    );
}

/// Runs every utterance of the labelled set's tuning part (compiled in, 11032 lines) as the first
/// turn of a fresh conversation with the built-in shop, and through the do-not-call check, on
/// the calling thread at a fixed time: the patterns a caller's first turn reaches are compiled,
/// and this thread's regex caches have seen the shapes callers' words take. (Later turns'
/// patterns, such as yes and no, are compiled by their first use.)
///
/// A pattern compiled on first use costs a turn milliseconds, and a regex builds its lazy DFA's
/// states the first time text reaches them, in a cache kept apart from other threads' (the
/// `regex` crate keeps one for the first thread that used the regex and the others on stacks
/// picked by thread): a thread whose caches are cold takes two to four times as long over new
/// utterances at the 99th percentile (`cargo bench -p conversation --bench labelled_p99`
/// measures both). The server runs this on each runtime worker it can reach before it listens
/// (two workers took 148-217 ms in all in a release build). Pure; returns how many utterances it
/// ran.
pub fn warm_up_this_thread() -> usize {
    warm_up_intent_model();
    let at = learned::training_now();
    let shop = std::sync::Arc::new(ShopConfig::default_shop());
    learned::tuning()
        .iter()
        .map(|line| {
            create_inbound_general_manager(None, shop.clone()).process_message(&line.text, at);
            asks_not_to_be_called(&line.text);
        })
        .count()
}

pub use manager::{
    CallSubject, ConversationManager, ConversationSnapshot, create_inbound_existing_manager,
    create_inbound_general_manager, create_inbound_new_manager, create_outbound_follow_up_manager,
    create_outbound_reminder_manager, create_outbound_service_due_manager,
};
pub use shop::{
    DEFAULT_SHOP_TOML, Holiday, OpeningHours, Service, ShopConfig, ShopConfigError, WeeklyHours,
};
pub use turn_end::{TurnEnd, turn_end};
pub use types::{
    CallDirection, CallType, ConversationSummary, DayPeriod, EscalationReason, Intent, SlotName,
    Slots, State, ToolResult, Transition,
};
pub use vocabulary::call_vocabulary;
