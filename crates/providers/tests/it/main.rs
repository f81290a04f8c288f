//! Tests of the scripted fakes through the provider traits, under tokio's paused clock.

mod fake_llm;
mod fake_stt;
mod fake_tts;
