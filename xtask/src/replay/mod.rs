//! `cargo xtask replay <capture file or directory> [--fast] [--update] [--out DIR]`: runs the
//! current pipeline against captured calls (docs/captures.md) with no vendor and no API key.
//!
//! For each capture, the real gateway (`voice_gateway::server::run`: its router, accept loop,
//! signature and stream token checks and admission) serves on 127.0.0.1:0 with the replay's
//! providers and CRM; a simulated Twilio (`phone`) asks its voice webhook for the call, signed as
//! Twilio signs, opens the stream the TwiML names, sends the recorded frames over a real
//! WebSocket and plays the agent's audio like Twilio (`twilio::sim::Playback`), echoing marks and
//! honouring `clear`. The providers answer
//! from the capture (`providers`): recorded STT events at recorded audio frame counts, recorded LLM
//! rounds in order, TTS audio of the recorded length (`tts`), tool results in order; customers
//! are looked up in the demo CRM. The replay writes its own capture, from which
//! it prints the timeline (`timeline`) and builds the observation compared with
//! `<name>.expect.json` (`expect`), or, for a capture without one (a real call's, straight from
//! `CAPTURE_DIR`), with what the recording itself shows. Audio goes to `<out>/<name>.wav`.
//!
//! `--fast` keeps the order of the caller's frames relative to the agent's playback, but the
//! pipeline's own timers (sustained speech, false interruption, silence) still run on the wall
//! clock: a capture whose course depends on them replays faithfully only in real time.
//!
//! `cargo xtask make-fixture <script.json>…` (`fixture`) makes the captures in fixtures/calls.

mod capture;
mod expect;
mod fixture;
mod phone;
mod providers;
#[cfg(test)]
mod tests;
mod timeline;
mod tts;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use ::providers::fake::{FakeLlm, FakeStt};
use anyhow::{Context, bail};
use call_pipeline::fake::{RecordingControl, ScriptedCrm};
use chrono::{DateTime, Utc};
use clap::Parser;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use voice_gateway::{
    app::{Overrides, Providers},
    config::Config,
};

pub(crate) use self::capture::CallInfo;
use self::{
    capture::{ReplayScript, read_capture},
    phone::{Tracks, TwilioSide},
    providers::{replay_crm, replay_stt},
};

pub(crate) use fixture::main as make_fixture_main;

/// Longest a single replayed call may take before it is abandoned.
const CALL_LIMIT: Duration = Duration::from_secs(180);

/// `cargo xtask replay`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask replay",
    bin_name = "cargo xtask replay",
    about = "Replay captured calls against the current pipeline"
)]
struct Args {
    /// A capture (`.jsonl`) or a directory of captures.
    path: PathBuf,
    /// As fast as the pipeline allows, keeping caller events in order with the agent's playback.
    #[arg(long)]
    fast: bool,
    /// Rewrite `<name>.expect.json` with what this replay did.
    #[arg(long)]
    update: bool,
    /// Where the WAV and the replay's own capture go (default: target/replay).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// How to replay.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `--fast`.
    pub(crate) fast: bool,
    /// `--update`.
    pub(crate) update: bool,
    /// Output directory.
    pub(crate) out: PathBuf,
}

/// What one replay found.
#[derive(Debug)]
pub(crate) struct Report {
    /// The capture's name (file stem).
    pub(crate) name: String,
    /// The readable timeline.
    pub(crate) timeline: String,
    /// Differences from the expectations (empty: it matched).
    pub(crate) diff: Vec<String>,
    /// The two-sided audio.
    pub(crate) wav: PathBuf,
}

/// Entry point of `cargo xtask replay`.
pub(crate) fn main(args: Vec<String>) -> anyhow::Result<()> {
    let args = Args::parse_from(std::iter::once("replay".to_owned()).chain(args));
    let options = Options {
        fast: args.fast,
        update: args.update,
        out: args.out.unwrap_or_else(default_out_dir),
    };
    let captures = list_captures(&args.path)?;
    let runtime = tokio::runtime::Runtime::new().context("starting tokio")?;
    let mut failed = 0;
    for path in &captures {
        match runtime.block_on(replay_file(path, &options)) {
            Ok(report) => {
                println!("== {} ==\n{}", report.name, report.timeline);
                println!("audio: {}", report.wav.display());
                if report.diff.is_empty() {
                    println!("{}: as expected\n", report.name);
                } else {
                    failed += 1;
                    println!("{}: {} difference(s):", report.name, report.diff.len());
                    for line in &report.diff {
                        println!("  {line}");
                    }
                    println!();
                }
            }
            Err(err) => {
                failed += 1;
                println!("{}: replay failed: {err:#}\n", path.display());
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} capture(s) differ", captures.len());
    }
    Ok(())
}

/// `target/replay` of the workspace.
fn default_out_dir() -> PathBuf {
    workspace_root().join("target").join("replay")
}

/// The workspace root (xtask's parent).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The capture itself, or every `*.jsonl` in a directory (sorted).
pub(crate) fn list_captures(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut captures: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("listing {}", path.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            name.ends_with(".jsonl") && !name.ends_with(".replay.jsonl")
        })
        .collect();
    captures.sort();
    if captures.is_empty() {
        bail!("no .jsonl captures in {}", path.display());
    }
    Ok(captures)
}

/// `<dir>/<name>.expect.json` for `<dir>/<name>.jsonl`.
pub(crate) fn expect_path(capture: &Path) -> PathBuf {
    capture.with_extension("expect.json")
}

fn capture_name(capture: &Path) -> String {
    capture
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "capture".to_owned())
}

/// Replays one capture and compares it with its expectations (or rewrites them).
pub(crate) async fn replay_file(path: &Path, options: &Options) -> anyhow::Result<Report> {
    let name = capture_name(path);
    let lines = read_capture(path)?;
    let script = ReplayScript::from_lines(&lines)?;
    let expect_file = expect_path(path);
    let expected: Option<Value> = match std::fs::read_to_string(&expect_file) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", expect_file.display()))?,
        ),
        Err(_) => None,
    };
    let tts_ms_per_char = expected
        .as_ref()
        .and_then(expect::tts_ms_per_char)
        .unwrap_or(script.tts_ms_per_char);

    let stt = replay_stt(&script.stt);
    let setup = CallSetup {
        stt: stt.clone(),
        llm: FakeLlm::with_replies(script.llm.clone()),
        crm: Arc::new(replay_crm(&script.tools, &script.call.numbers(), script.started_at).await?),
        tts_ms_per_char,
        tts_lengths: tts::lengths_from_capture(&lines),
        now: script.started_at,
        can_transfer: script.transferred,
        fast: options.fast,
        early_replies: script.early_replies,
        call: script.call.clone(),
    };
    let crm = setup.crm.clone();
    let frames = script.frames.clone();
    let fast = options.fast;
    let transferred = script.transferred;
    let run = run_call_with(setup, |twilio, transfers| async move {
        let transfers = transferred.then_some(transfers);
        phone::replay_caller(twilio, &frames, fast, stt.audio_frames(), transfers).await
    })
    .await?;

    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("creating {}", options.out.display()))?;
    let replayed_path = options.out.join(format!("{name}.replay.jsonl"));
    std::fs::write(&replayed_path, &run.capture_text)
        .with_context(|| format!("writing {}", replayed_path.display()))?;
    let wav = options.out.join(format!("{name}.wav"));
    write_wav(&wav, &run.tracks)?;

    let replayed = capture::parse_capture(&run.capture_text)?;
    let observed = expect::recorded(&replayed);
    let mut diff: Vec<String> = crm.mismatches();
    if options.update {
        let text = serde_json::to_string_pretty(&expect::with_settings(observed, tts_ms_per_char))?;
        std::fs::write(&expect_file, text + "\n")
            .with_context(|| format!("writing {}", expect_file.display()))?;
    } else {
        // Without an expectation file, the recording itself is the expectation.
        let expected = expected.unwrap_or_else(|| expect::recorded(&lines));
        diff.extend(expect::diff(&expected, &observed));
    }
    Ok(Report {
        name,
        timeline: timeline::timeline(&replayed),
        diff,
        wav,
    })
}

/// The providers and ports of one call.
pub(crate) struct CallSetup {
    pub(crate) stt: FakeStt,
    pub(crate) llm: FakeLlm,
    pub(crate) crm: Arc<ScriptedCrm>,
    pub(crate) tts_ms_per_char: u64,
    /// Recorded audio length per text, in recorded order (`tts` module docs).
    pub(crate) tts_lengths: Vec<(String, usize)>,
    pub(crate) now: DateTime<Utc>,
    pub(crate) can_transfer: bool,
    pub(crate) fast: bool,
    /// `PipelineConfig::early_replies` for the call.
    pub(crate) early_replies: bool,
    /// Who called whom.
    pub(crate) call: CallInfo,
}

/// A finished call.
pub(crate) struct CallRun {
    /// The capture the pipeline wrote for this call (its `outcome` line is how it ended).
    pub(crate) capture_text: String,
    pub(crate) tracks: Tracks,
}

/// The replay gateway's `TWILIO_AUTH_TOKEN`: its simulated Twilio signs with it.
const AUTH_TOKEN: &str = "replay-auth-token";

/// Starts the real gateway (`voice_gateway::server::run`: its router, accept loop, signature and
/// stream token checks, admission) with `setup`'s providers and CRM, asks its voice webhook for
/// the call as Twilio does, connects a simulated Twilio to the stream it names and lets `caller`
/// drive it; returns the call's own capture and the audio.
pub(crate) async fn run_call_with<F, Fut>(setup: CallSetup, caller: F) -> anyhow::Result<CallRun>
where
    F: FnOnce(TwilioSide, mpsc::UnboundedReceiver<()>) -> Fut,
    Fut: Future<Output = Tracks>,
{
    let dir = tempfile::tempdir().context("making a directory for the gateway")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the replay gateway on 127.0.0.1")?;
    let base = format!(
        "http://{}",
        listener.local_addr().context("reading the bound address")?
    );
    let env: HashMap<&str, String> = HashMap::from([
        ("PUBLIC_URL", base.clone()),
        (
            "DATABASE_URL",
            format!("sqlite://{}/replay.db?mode=rwc", dir.path().display()),
        ),
        ("TWILIO_AUTH_TOKEN", AUTH_TOKEN.to_owned()),
        ("CAPTURE_DIR", dir.path().display().to_string()),
        (
            "RECORD_SPOOL_DIR",
            dir.path().join("spool").display().to_string(),
        ),
        ("EARLY_REPLIES", setup.early_replies.to_string()),
        // Every round answers from the capture; the offline agent would answer the rounds the
        // recording's model answered.
        ("OFFLINE_AGENT", "false".to_owned()),
        // Shutdown waits for the call to end on its own.
        ("SHUTDOWN_DRAIN_SECS", CALL_LIMIT.as_secs().to_string()),
    ]);
    let config = Config::from_lookup(|key| env.get(key).cloned())
        .map_err(|err| anyhow::anyhow!("replay configuration: {err}"))?;
    // Twilio sends `stop` after a transfer's redirect: the simulated Twilio hears of it.
    let control = Arc::new(RecordingControl::new().can_transfer(setup.can_transfer));
    let (transfers_tx, transfers_rx) = mpsc::unbounded_channel();
    let transfer_watch = tokio::spawn({
        let control = control.clone();
        async move {
            control.wait_until(|log| !log.transfers.is_empty()).await;
            let _ = transfers_tx.send(());
        }
    });
    let tts = tts::replay_tts(setup.tts_lengths, setup.tts_ms_per_char, setup.fast);
    let now = setup.now;
    let overrides = Overrides::default()
        .with_providers(Providers::new(
            Arc::new(setup.stt),
            Some(Arc::new(setup.llm)),
            Arc::new(tts),
            None,
        ))
        .with_crm(setup.crm.clone())
        .with_call_control(control.clone())
        .with_clock(Arc::new(move || now));
    // As `serve` does before it listens: the learned model trained and the patterns a sample
    // turn reaches compiled (once per process), not inside the first call's first turn, where
    // a debug build takes long enough for `--fast`'s gates to time out.
    tokio::task::spawn_blocking(conversation::warm_up_intent_model)
        .await
        .context("warming up the intent model")?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(voice_gateway::server::run(
        config,
        overrides,
        None,
        listener,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let call = async {
        let twilio = TwilioSide::answer(&base, AUTH_TOKEN, &setup.call).await?;
        anyhow::Ok(caller(twilio, transfers_rx).await)
    };
    let result = tokio::time::timeout(CALL_LIMIT, call).await;
    transfer_watch.abort();
    // The gateway drains: it stops once the call has ended and saved.
    let _ = stop_tx.send(());
    server
        .await
        .context("the replay gateway panicked")?
        .context("the replay gateway failed")?;
    let tracks =
        result.map_err(|_| anyhow::anyhow!("the call did not end within {CALL_LIMIT:?}"))??;
    let capture_path = dir.path().join(format!("{}.jsonl", setup.call.call_sid));
    let capture_text = std::fs::read_to_string(&capture_path).with_context(|| {
        format!(
            "reading the replay's capture {} (did the gateway refuse the stream?)",
            capture_path.display()
        )
    })?;
    Ok(CallRun {
        capture_text,
        tracks,
    })
}

/// Writes the call as mono 8 kHz WAV: the caller's audio mixed with the agent's at half volume.
fn write_wav(path: &Path, tracks: &Tracks) -> anyhow::Result<()> {
    let mut caller = Vec::new();
    audio_codec::decode_mulaw(&tracks.caller, &mut caller);
    let mut agent = Vec::new();
    audio_codec::decode_mulaw(&tracks.agent, &mut agent);
    let len = caller.len().max(agent.len());
    let mixed: Vec<i16> = (0..len)
        .map(|i| {
            let c = i32::from(caller.get(i).copied().unwrap_or(0));
            let a = i32::from(agent.get(i).copied().unwrap_or(0)) / 2;
            (c + a).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
        })
        .collect();
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    audio_codec::write_wav_pcm16(std::io::BufWriter::new(file), &mixed, 8000)
        .map_err(|err| anyhow::anyhow!("writing {}: {err}", path.display()))
}
