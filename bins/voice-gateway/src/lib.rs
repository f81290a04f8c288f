//! `voice-gateway` as a library: the deployed gateway's configuration, wiring, routes and server,
//! so the binary's `main` is one line and the tools that must run what ships (replay, the e2e
//! tests) mount the same server. [`server::run`] serves the real router ([`routes::router`]) with
//! the real accept loop, token check and capacity limit, built by [`app::build`] from a
//! [`config::Config`] and [`app::Overrides`] (parts a harness supplies instead of the real ones:
//! providers, CRM, call control, clock, pipeline settings). [`cli::main`] is the command line.
//!
//! It stays thin: anything with an `if` about calls belongs in a library crate.
//! Must not depend on: `xtask`, or any simulator in a release build.

pub mod app;
mod chat;
pub mod cli;
mod commands;
pub mod config;
mod console;
pub mod crm_port;
mod fleet;
mod http;
mod outcome_webhook;
mod recordings;
mod remind;
pub mod routes;
pub mod server;
mod telemetry;
mod transfer;

#[cfg(test)]
mod e2e_tests;
