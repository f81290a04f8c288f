//! End-to-end tests of `run_call` with a simulated Twilio caller and scripted providers.

mod calls;
mod corpus;
mod early;
mod eot;
mod handoff;
mod harness;
mod text;
