//! `voice-gateway`: the deployed binary. It loads `Config`, installs tracing and metrics, builds the
//! providers and stores, mounts the HTTP/WebSocket routes, and serves with graceful shutdown.
//!
//! It stays thin: anything with an `if` about calls belongs in a library crate.

mod config;
mod server;
mod telemetry;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;

/// The voice-AI phone receptionist for an automotive service shop.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve Twilio webhooks and media streams (the default).
    Serve,
}

fn main() -> anyhow::Result<()> {
    // A missing .env is normal; a malformed one is worth stopping for.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(err) if err.not_found() => {}
        Err(err) => return Err(err).context("reading .env"),
    }
    let cli = Cli::parse();
    let config = Config::from_env().context("loading configuration from the environment")?;
    telemetry::init_tracing(config.log_format);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(server::serve(config)),
    }
}
