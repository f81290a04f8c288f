//! Scripted fakes of the three provider traits, for the pipeline's tests and `cargo xtask replay`.
//!
//! Each fake implements the real trait, plays a script written as plain Rust data, and records
//! what it was sent so tests can assert on it. Timed behaviour uses tokio's clock, so tests run
//! under `#[tokio::test(start_paused = true)]` in zero wall-clock time. The script format of each
//! fake is documented at the top of its module.
//!
//! Like the vendor clients, the fakes never spawn tasks: a session's `driver` does all the work and
//! the caller spawns it.

mod llm;
mod stt;
mod tts;

pub use llm::{FakeLlm, LlmReply, LlmStep};
pub use stt::{FakeStt, SttScript, SttScriptEvent, SttStep, SttTrigger};
pub use tts::{FakeTts, FakeTtsConfig, RecordedLengths, TONE_PATTERN};

/// `tokio`'s clock as a `std` `Instant`, so event timestamps follow the paused test clock.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}
