//! The command line: `serve` (default), `migrate`, `seed-demo`, `nlu`, `init-shop`, `report`,
//! `chat`, `remind`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{app, chat, commands, config::Config, remind, server, telemetry};

/// The voice-AI phone receptionist for an automotive service shop.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The shop configuration (TOML); overrides `SHOP_CONFIG`. Default: the built-in starter shop.
    #[arg(long, global = true)]
    shop: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve Twilio webhooks and media streams (the default).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Write the commented starter shop configuration to PATH, for a shop to edit.
    InitShop {
        /// Where to write it (must not exist yet).
        path: PathBuf,
    },
    /// Load the demo customers, vehicles and appointments (idempotent).
    SeedDemo {
        /// A demo data file in the format of `fixtures/crm/demo.json`; default the built-in copy.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Talk to the receptionist in the terminal: a real call in text (bookings are real), with
    /// the LLM when OPENAI_API_KEY is set and the offline agent otherwise.
    Chat(chat::ChatArgs),
    /// Place tomorrow's reminder calls (each appointment at most once, inside CALLING_HOURS);
    /// run it from cron during the day.
    Remind {
        /// List the calls it would place, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Call analytics from the call records: flows completed, escalated and abandoned per call
    /// type, intent and day, bookings, escalation reasons and voice-to-voice latency.
    Report {
        /// First shop-local day (YYYY-MM-DD); default six days before `--to`.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last shop-local day (YYYY-MM-DD); default today.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// How to print it.
        #[arg(long, value_enum, default_value_t = commands::ReportFormat::Table)]
        format: commands::ReportFormat,
    },
    /// Read utterances from stdin (one per line, text or JSON) and print what the NLU makes of each.
    Nlu {
        /// The current time (RFC 3339); default now.
        #[arg(long)]
        now: Option<String>,
        /// Score a labelled JSON Lines file instead (format: `conversation::score`): accuracy,
        /// per-intent precision and recall, confusions and misses, per split.
        #[arg(long)]
        score: Option<PathBuf>,
        /// With `--score`: only this split (`heldout`, `tune`).
        #[arg(long)]
        split: Option<String>,
        /// With `--score`: also list the misses of the `heldout` split (hidden by default, so
        /// nobody tunes against the part that measures unseen phrasings).
        #[arg(long)]
        show_heldout_misses: bool,
        /// With `--score`: also cross-validate the learned intent model over the `tune` split
        /// in this many blocks of consecutive lines (the model learns from the other blocks;
        /// at least 2, at most the number of lines).
        #[arg(long, value_name = "FOLDS", value_parser = clap::value_parser!(u16).range(2..))]
        cross_validate: Option<u16>,
    },
}

/// Parses the command line and the environment, and runs the command.
pub fn main() -> anyhow::Result<()> {
    // A missing .env is normal; a malformed one is worth stopping for.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(err) if err.not_found() => {}
        Err(err) => return Err(err).context("reading .env"),
    }
    let cli = Cli::parse();
    let mut config = Config::from_env().context("loading configuration from the environment")?;
    if let Some(shop) = cli.shop.clone() {
        config.shop_config = Some(shop);
    }
    if matches!(cli.command, Some(Command::Chat(_))) {
        telemetry::init_quiet_tracing();
    } else {
        telemetry::init_tracing(config.log_format);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(server::serve(config)),
        Command::Migrate => runtime.block_on(commands::migrate(&config)),
        Command::SeedDemo { file } => runtime.block_on(commands::seed_demo(
            &config,
            file.as_deref(),
            chrono::Utc::now(),
        )),
        Command::InitShop { path } => commands::init_shop(&path),
        Command::Remind { dry_run } => runtime
            .block_on(remind::remind(
                config,
                dry_run,
                chrono::Utc::now(),
                app::Overrides::default(),
                std::io::stdout(),
            ))
            .map(|_| ()),
        Command::Chat(args) => runtime
            .block_on(chat::chat(
                config,
                args,
                None,
                tokio::io::BufReader::new(tokio::io::stdin()),
                std::io::stdout(),
            ))
            .map(|_| ()),
        Command::Report { from, to, format } => runtime.block_on(commands::report(
            &config,
            from,
            to,
            format,
            chrono::Utc::now(),
            std::io::stdout().lock(),
        )),
        Command::Nlu {
            now,
            score: Some(file),
            split,
            show_heldout_misses,
            cross_validate,
        } => commands::nlu_score(
            &config,
            now.as_deref(),
            None,
            &file,
            commands::ScoreOptions {
                split: split.as_deref(),
                show_heldout_misses,
                cross_validate: cross_validate.map(usize::from),
            },
            std::io::stdout().lock(),
        ),
        Command::Nlu {
            now, score: None, ..
        } => commands::nlu(
            &config,
            now.as_deref(),
            None,
            std::io::stdin().lock(),
            std::io::stdout().lock(),
        ),
    }
}
