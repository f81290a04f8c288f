//! `voice-gateway`: the deployed binary. It loads `Config`, installs tracing and metrics, builds the
//! providers and stores, mounts the HTTP/WebSocket routes, and serves with graceful shutdown.
//! Subcommands: `serve` (default), `migrate`, `seed-demo`, `nlu`, `init-shop`, `report`, `chat`,
//! `remind`. The default shop
//! configuration and the demo data are built in, so the binary runs from any directory.
//!
//! The whole program is the `voice_gateway` library (`src/lib.rs`); this file only runs its command
//! line (`src/cli.rs`).

fn main() -> anyhow::Result<()> {
    voice_gateway::cli::main()
}
