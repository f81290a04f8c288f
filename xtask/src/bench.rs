//! `cargo xtask bench`: the gateway under load, against local vendor simulators.
//!
//! For each call count N it starts fresh simulators ([`sims`]), a fresh gateway process
//! ([`gateway`]) pointed at them, and N simulated Twilio calls ([`caller`]) started over a ramp.
//! While the calls run it samples the gateway's CPU time and memory from `/proc` and scrapes
//! `/metrics`; afterwards it writes `target/bench/bench.json`, `target/bench/bench.svg` and the
//! summary table in `docs/performance.md` ([`report`]). Everything listens on 127.0.0.1; every
//! call and every wait is bounded in time; the gateway process is killed when its guard drops.

mod audio;
pub(crate) mod caller;
pub(crate) mod gateway;
mod prom;
pub(crate) mod report;
pub(crate) mod sims;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Parser;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::{
    caller::{Active, BargeIn, CallPlan, CallTarget},
    gateway::{Gateway, ProcSample},
    report::{HopStats, Machine, RunReport, Stats},
    sims::{LlmSimConfig, SimConfig, Sims, SttSimConfig, TtsSimConfig},
};

/// What the simulated callers say, in order (the STT simulator's script).
const CALLER_LINES: [&str; 5] = [
    "Hi, I'd like to book an oil change for my car.",
    "It's a 2019 Toyota Camry.",
    "Thursday morning would be great.",
    "Can you also take a look at the brakes while it's there?",
    "My name is Alex Morgan.",
];

/// What the simulated LLM answers, in order.
const AGENT_REPLIES: [&str; 5] = [
    "Sure, I can help with that. What is the year, make and model of the car?",
    "Great, thanks for that. What day and time would work best for you?",
    "Thursday at nine works well. Can I have your name for the booking?",
    "Of course, we can check the brakes too. Is there anything else I can do?",
    "Thank you, Alex, you are all set. We will see you on Thursday at nine.",
];

/// `cargo xtask bench`: latency, CPU and memory per call of the gateway at scale.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask bench")]
pub(crate) struct BenchArgs {
    /// Concurrent call counts to sweep, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,100,500,1000,2000")]
    calls: Vec<usize>,
    /// Caller turns per call (a scripted barge-in comes on top).
    #[arg(long, default_value_t = 3)]
    turns: usize,
    /// Build and run the release binary (the default).
    #[arg(long, conflicts_with = "debug")]
    release: bool,
    /// Build and run the debug binary.
    #[arg(long)]
    debug: bool,
    /// CI smoke: debug build, 3 calls, 2 turns, results under target/bench/smoke, docs untouched;
    /// fails if any call fails.
    #[arg(long)]
    smoke: bool,
    /// Use this gateway binary instead of building one.
    #[arg(long)]
    binary: Option<PathBuf>,
    /// No barge-in turn.
    #[arg(long)]
    no_barge_in: bool,
    /// How far into the reply the barge-in starts (ms).
    #[arg(long, default_value_t = 500)]
    barge_in_after_ms: u64,
    /// Calls started per second (the ramp).
    #[arg(long, default_value_t = 200.0)]
    ramp_per_sec: f64,
    /// How long the caller talks per turn (ms).
    #[arg(long, default_value_t = 1200)]
    speech_ms: u64,
    /// STT: last voiced frame -> final transcript (ms).
    #[arg(long, default_value_t = 300)]
    endpointing_ms: u64,
    /// STT: `Finalize` -> its answer (ms); Deepgram documents no figure.
    #[arg(long, default_value_t = 0)]
    finalize_ms: u64,
    /// The gateway's EARLY_REPLIES (start the LLM request on words that probably end the turn).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    early_replies: bool,
    /// STT: first voiced frame -> first interim transcript (ms).
    #[arg(long, default_value_t = 250)]
    first_interim_ms: u64,
    /// STT: first voiced frame -> `SpeechStarted` (ms); the same as the first interim by
    /// default, so barge-in is measured on the gateway's own voice detection.
    #[arg(long, default_value_t = 250)]
    speech_started_ms: u64,
    /// LLM: request -> first token (ms).
    #[arg(long, default_value_t = 300)]
    ttft_ms: u64,
    /// LLM: words per second after the first sentence.
    #[arg(long, default_value_t = 50.0)]
    tokens_per_sec: f64,
    /// TTS: flush -> first audio (ms).
    #[arg(long, default_value_t = 150)]
    ttfa_ms: u64,
    /// TTS: audio per character of text (ms).
    #[arg(long, default_value_t = 65)]
    tts_ms_per_char: u32,
    /// TTS: pacing as a multiple of real time.
    #[arg(long, default_value_t = 2.0)]
    tts_speed: f64,
    /// TTS: audio per binary frame (ms).
    #[arg(long, default_value_t = 100)]
    tts_chunk_ms: u64,
    /// The gateway's RUST_LOG.
    #[arg(long, default_value = "warn")]
    rust_log: String,
    /// Text-to-speech vendor the gateway uses: `deepgram` (Aura) or `elevenlabs`; both are
    /// simulated with the TTS settings above.
    #[arg(long, default_value = "deepgram", value_parser = ["deepgram", "elevenlabs"])]
    tts: String,
    /// Do not write docs/performance.md.
    #[arg(long)]
    no_docs: bool,
}

/// Parses a task's arguments (everything after its name); `None` after `--help`.
pub(crate) fn parse_task_args<T: Parser>(
    task: &str,
    args: Vec<String>,
) -> anyhow::Result<Option<T>> {
    match T::try_parse_from(std::iter::once(format!("cargo xtask {task}")).chain(args)) {
        Ok(args) => Ok(Some(args)),
        Err(err) => {
            let _ = err.print();
            if err.use_stderr() {
                Err(anyhow::anyhow!("bad arguments"))
            } else {
                Ok(None)
            }
        }
    }
}

/// Runs the bench with `args` (everything after `bench`).
pub(crate) fn main(args: Vec<String>) -> anyhow::Result<()> {
    let Some(mut args) = parse_task_args::<BenchArgs>("bench", args)? else {
        return Ok(());
    };
    if args.smoke {
        args.calls = vec![3];
        args.turns = 2;
        args.debug = true;
        args.no_docs = true;
    }
    if args.calls.is_empty() || args.calls.contains(&0) || args.turns == 0 {
        bail!("--calls needs positive counts and --turns at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(run(args))
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Everything a run needs that stays the same across runs.
struct Bench {
    args: BenchArgs,
    binary: PathBuf,
    workdir: PathBuf,
    out_dir: PathBuf,
    http: reqwest::Client,
    sim_config: SimConfig,
    plan: Arc<CallPlan>,
    ticks_per_s: f64,
}

impl BenchArgs {
    pub(crate) fn sim_config(&self) -> SimConfig {
        let lines = |l: &[&str]| -> Arc<[String]> { l.iter().map(|s| (*s).to_owned()).collect() };
        SimConfig {
            api_key: "bench-key".to_owned(),
            stt: SttSimConfig {
                endpointing_delay: Duration::from_millis(self.endpointing_ms),
                first_interim_after: Duration::from_millis(self.first_interim_ms),
                speech_started_after: Duration::from_millis(self.speech_started_ms),
                interim_interval: Duration::from_millis(300),
                finalize_delay: Duration::from_millis(self.finalize_ms),
                silence_result_every: Duration::from_secs(1),
                energy_threshold: 500,
                idle_timeout: Duration::from_secs(10),
                script: lines(&CALLER_LINES),
            },
            tts: TtsSimConfig {
                time_to_first_audio: Duration::from_millis(self.ttfa_ms),
                ms_per_char: self.tts_ms_per_char,
                speed: self.tts_speed,
                chunk: Duration::from_millis(self.tts_chunk_ms),
            },
            llm: LlmSimConfig {
                time_to_first_token: Duration::from_millis(self.ttft_ms),
                tokens_per_second: self.tokens_per_sec,
                replies: lines(&AGENT_REPLIES),
            },
        }
    }

    pub(crate) fn plan(&self) -> CallPlan {
        CallPlan {
            turns: self.turns,
            speech: Duration::from_millis(self.speech_ms),
            barge_in: (!self.no_barge_in).then(|| BargeIn {
                turn: 1.min(self.turns - 1),
                after: Duration::from_millis(self.barge_in_after_ms),
            }),
            settle: Duration::from_millis(600),
            reply_timeout: Duration::from_secs(15),
            max_call: Duration::from_secs(180),
        }
    }

    /// The simulators' share of voice-to-voice: endpointing, time to first token, time to first
    /// audio (the first sentence comes in the first delta, so the token rate adds nothing).
    fn sim_voice_to_voice_ms(&self) -> f64 {
        (self.endpointing_ms + self.ttft_ms + self.ttfa_ms) as f64
    }

    fn settings(&self) -> String {
        format!(
            "Simulators: endpointing {} ms, first interim {} ms, SpeechStarted {} ms, LLM first token {} ms then {} words/s, TTS first audio {} ms, {} ms of audio per character at {}× real time; {} caller turns of {} ms{}; calls started at {}/s; gateway `RUST_LOG={}`, {} build.",
            self.endpointing_ms,
            self.first_interim_ms,
            self.speech_started_ms,
            self.ttft_ms,
            self.tokens_per_sec,
            self.ttfa_ms,
            self.tts_ms_per_char,
            self.tts_speed,
            self.turns,
            self.speech_ms,
            if self.no_barge_in {
                String::new()
            } else {
                format!(
                    " plus a barge-in {} ms into reply 2",
                    self.barge_in_after_ms
                )
            },
            self.ramp_per_sec,
            self.rust_log,
            if self.debug { "debug" } else { "release" },
        )
    }
}

async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let binary = match &args.binary {
        Some(binary) => std::fs::canonicalize(binary)
            .with_context(|| format!("finding {}", binary.display()))?,
        None => tokio::task::block_in_place(|| gateway::build(&root, !args.debug))?,
    };
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let out_dir = if args.smoke {
        target.join("bench").join("smoke")
    } else {
        target.join("bench")
    };
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let workdir = std::env::temp_dir().join(format!("voice-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).with_context(|| format!("creating {}", workdir.display()))?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(256)
        .build()
        .context("building the HTTP client")?;
    let bench = Bench {
        sim_config: args.sim_config(),
        plan: Arc::new(args.plan()),
        args,
        binary,
        workdir: workdir.clone(),
        out_dir: out_dir.clone(),
        http,
        ticks_per_s: gateway::clock_ticks(),
    };
    let machine = Machine::detect();
    let mut runs = Vec::new();
    let mut result = Ok(());
    let mut counts = bench.args.calls.clone();
    counts.sort_unstable();
    counts.dedup();
    for (i, &n) in counts.iter().enumerate() {
        println!("bench: {n} calls ({} turns) ...", bench.args.turns);
        match run_one(&bench, n, i as u32).await {
            Ok(run) => {
                print_run(&run);
                runs.push(run);
            }
            Err(err) => {
                result = Err(err.context(format!("the run with {n} calls")));
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&workdir);
    if !runs.is_empty() {
        write_outputs(&bench, &machine, &runs, &root)?;
    }
    result?;
    if bench.args.smoke {
        let failed: usize = runs.iter().map(RunReport::failed).sum();
        if failed > 0 {
            bail!("{failed} smoke call(s) failed; see {}", out_dir.display());
        }
    }
    Ok(())
}

fn print_run(run: &RunReport) {
    let fmt = |s: Option<Stats>| {
        s.map_or_else(
            || "-".to_owned(),
            |s| format!("p50 {:.0} p99 {:.0} max {:.0}", s.p50, s.p99, s.max),
        )
    };
    println!(
        "  completed {}/{}, failed {:?}, peak streams {}, v2v raw {} ms, v2v gateway {} ms, barge-in {} ms",
        run.completed,
        run.calls,
        run.failures,
        run.peak_active_streams,
        fmt(run.voice_to_voice_ms),
        fmt(run.voice_to_voice_gateway_ms),
        fmt(run.barge_in_ms)
    );
    for (name, hop) in &run.hops_ms {
        println!(
            "  {name}: p50 {:.3} p99 {:.3} max {:.3} ms (n={})",
            hop.p50, hop.p99, hop.max, hop.count
        );
    }
    println!(
        "  cpu {:.1} s ({} s per call-minute, {}% of a core per call, peak {:.2} cores), rss peak {:.0} MiB ({} KiB per call), generator lag max {:.0} ms",
        run.cpu_s,
        run.cpu_s_per_call_minute
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.3}")),
        run.core_pct_per_call
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.3}")),
        run.peak_cores,
        run.peak_rss_mib,
        run.rss_kib_per_call
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}")),
        run.max_tick_lag_ms,
    );
}

/// What the sampler collected during a run.
#[derive(Debug, Default)]
struct Samples {
    proc: Vec<(Instant, ProcSample)>,
    scrapes: Vec<Vec<prom::Sample>>,
}

async fn scrape(http: &reqwest::Client, addr: std::net::SocketAddr) -> Option<Vec<prom::Sample>> {
    let response = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .ok()?;
    let text = response.text().await.ok()?;
    Some(prom::parse(&text))
}

/// Samples `/proc` every 250 ms and `/metrics` every 10 s until `stop`.
async fn sample_gateway(
    http: reqwest::Client,
    addr: std::net::SocketAddr,
    pid: u32,
    ticks_per_s: f64,
    active: Arc<Active>,
    stop: CancellationToken,
) -> Samples {
    let started = Instant::now();
    let mut samples = Samples::default();
    let mut proc_tick = tokio::time::interval(Duration::from_millis(250));
    let mut scrape_tick = tokio::time::interval(Duration::from_secs(10));
    scrape_tick.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = proc_tick.tick() => {
                if let Some(sample) = gateway::sample_proc(pid, ticks_per_s) {
                    samples.proc.push((Instant::now(), sample));
                }
            }
            _ = scrape_tick.tick() => {
                if let Some(scraped) = scrape(&http, addr).await {
                    let cpu = samples.proc.last().map_or(0.0, |(_, s)| s.cpu_s);
                    println!(
                        "  … {:.0} s: gateway active calls {}, cpu {cpu:.1} s, streams open at the callers {}",
                        started.elapsed().as_secs_f64(),
                        prom::total(&scraped, "voice_active_calls"),
                        active.current(),
                    );
                    samples.scrapes.push(scraped);
                }
            }
        }
    }
    samples
}

/// The auth token the benchmarked gateway checks signatures with.
/// The gateway's energy VAD reports speech on the third loud 20 ms frame: 40 ms after the first.
const VAD_ONSET_MS: f64 = 40.0;

pub(crate) const BENCH_AUTH_TOKEN: &str = "bench-twilio-auth-token";

fn gateway_env(
    bench: &Bench,
    addr: std::net::SocketAddr,
    sims: &Sims,
    db: &Path,
    n: usize,
) -> Vec<(String, String)> {
    gateway_env_for(&GatewayEnv {
        args: &bench.args,
        api_key: &bench.sim_config.api_key,
        sims,
        addr,
        public_url: format!("http://{addr}"),
        database_url: format!("sqlite://{}?mode=rwc", db.display()),
        spool: db.with_extension("spool"),
        max_calls: n + n / 10 + 10,
    })
}

/// What a benchmarked gateway's environment is made of.
pub(crate) struct GatewayEnv<'a> {
    pub(crate) args: &'a BenchArgs,
    pub(crate) api_key: &'a str,
    pub(crate) sims: &'a Sims,
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) public_url: String,
    pub(crate) database_url: String,
    pub(crate) spool: PathBuf,
    pub(crate) max_calls: usize,
}

/// The environment of a gateway pointed at the simulators (the bench's and `scale`'s).
pub(crate) fn gateway_env_for(env: &GatewayEnv<'_>) -> Vec<(String, String)> {
    let shop = workspace_root().join("fixtures").join("shop.toml");
    let (sims, n) = (env.sims, env.max_calls);
    [
        ("BIND_ADDR", env.addr.to_string()),
        ("PUBLIC_URL", env.public_url.clone()),
        ("DATABASE_URL", env.database_url.clone()),
        ("DEEPGRAM_API_KEY", env.api_key.to_owned()),
        ("DEEPGRAM_STT_URL", sims.stt_url.clone()),
        ("DEEPGRAM_TTS_URL", sims.tts_url.clone()),
        ("OPENAI_API_KEY", env.api_key.to_owned()),
        ("OPENAI_BASE_URL", sims.llm_base_url.clone()),
        ("OPENAI_MODEL", "bench-sim".to_owned()),
        ("TTS_PROVIDER", env.args.tts.clone()),
        ("ELEVENLABS_API_KEY", env.api_key.to_owned()),
        ("ELEVENLABS_BASE_URL", sims.elevenlabs_url.clone()),
        ("ELEVENLABS_VOICE_ID", "bench-voice".to_owned()),
        ("EARLY_REPLIES", env.args.early_replies.to_string()),
        ("MAX_CONCURRENT_CALLS", n.to_string()),
        // Every call of a sweep step may be between its upgrade and its `start` at once.
        ("MAX_PENDING_STREAMS", n.to_string()),
        // Signed like Twilio: the bench measures the signature and token checks that ship.
        ("TWILIO_AUTH_TOKEN", BENCH_AUTH_TOKEN.to_owned()),
        ("TWILIO_ACCOUNT_SID", format!("AC{:032x}", 1)),
        // Twilio's REST API is never reached: no transfer happens in the bench script.
        (
            "TWILIO_API_BASE_URL",
            "http://127.0.0.1:9/2010-04-01".to_owned(),
        ),
        (
            "STREAM_TOKEN_SECRET",
            format!("bench-secret-{:032}", std::process::id()),
        ),
        ("RECORD_SPOOL_DIR", env.spool.display().to_string()),
        ("SHOP_CONFIG", shop.display().to_string()),
        ("RUST_LOG", env.args.rust_log.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn run_one(bench: &Bench, n: usize, run_id: u32) -> anyhow::Result<RunReport> {
    let sims = Sims::start(bench.sim_config.clone()).await?;
    let run_dir = bench.workdir.join(format!("run-{n}"));
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let addr = gateway::free_local_addr()?;
    let env = gateway_env(bench, addr, &sims, &run_dir.join("bench.db"), n);
    let log = bench.out_dir.join(format!("gateway-{n}.log"));
    let mut gw = Gateway::spawn(&bench.binary, addr, &env, &run_dir, &log)?;
    gw.wait_ready(&bench.http, Duration::from_secs(60)).await?;
    let pid = gw.pid();
    let before =
        gateway::sample_proc(pid, bench.ticks_per_s).context("reading the gateway's /proc")?;
    let me_before = gateway::sample_proc(std::process::id(), bench.ticks_per_s);

    let stop = CancellationToken::new();
    let active = Arc::new(Active::default());
    let sampler = tokio::spawn(sample_gateway(
        bench.http.clone(),
        addr,
        pid,
        bench.ticks_per_s,
        active.clone(),
        stop.clone(),
    ));
    let target = Arc::new(CallTarget {
        http_base: format!("http://{addr}"),
        ws_base: format!("ws://{addr}"),
        http: bench.http.clone(),
        auth_token: BENCH_AUTH_TOKEN.to_owned(),
    });
    let ramp = Duration::from_secs_f64(n as f64 / bench.args.ramp_per_sec.max(1.0));
    let started = Instant::now();
    let calls = caller::run_load(target, bench.plan.clone(), n, ramp, run_id, active.clone()).await;
    let wall = started.elapsed();
    let last_scrape = scrape(&bench.http, addr).await;
    stop.cancel();
    let mut samples = sampler.await.context("the sampler task")?;
    samples.scrapes.extend(last_scrape);
    let after = gateway::sample_proc(pid, bench.ticks_per_s);
    let me_after = gateway::sample_proc(std::process::id(), bench.ticks_per_s);
    let still_running = gw.is_running();
    drop(gw);
    let sim_counts = sims.counts();
    sims.shutdown().await;
    if !still_running {
        bail!("the gateway exited during the run; see {}", log.display());
    }
    let after = after.context("the gateway's /proc vanished")?;

    let mut failures = BTreeMap::new();
    let mut examples = Vec::new();
    for call in &calls {
        if let Some(failure) = call.failure {
            *failures.entry(failure).or_insert(0) += 1;
            if examples.len() < 5 {
                examples.push(format!(
                    "call {}: {:?}: {}",
                    call.index,
                    failure,
                    call.detail.clone().unwrap_or_default()
                ));
            }
        }
    }
    let lost = n.saturating_sub(calls.len());
    if lost > 0 {
        *failures.entry(caller::Failure::Dropped).or_insert(0) += lost;
    }
    let v2v: Vec<f64> = calls
        .iter()
        .flat_map(|c| c.voice_to_voice_ms.iter().copied())
        .collect();
    let barge: Vec<f64> = calls
        .iter()
        .flat_map(|c| c.barge_in_ms.iter().copied())
        .collect();
    let call_seconds: f64 = calls
        .iter()
        .filter(|c| c.failure != Some(caller::Failure::Webhook))
        .map(|c| c.duration_s)
        .sum();
    let cpu_s = after.cpu_s - before.cpu_s;
    let peak_cores = peak_cores(&samples.proc);
    let hops = hop_stats(&samples.scrapes);
    let last = samples.scrapes.last().cloned().unwrap_or_default();
    let peak_active = active.peak();
    Ok(RunReport {
        calls: n,
        completed: calls.iter().filter(|c| c.failure.is_none()).count(),
        failures,
        failure_examples: examples,
        peak_active_streams: peak_active,
        gateway_peak_active_calls: samples
            .scrapes
            .iter()
            .map(|s| prom::total(s, "voice_active_calls"))
            .fold(0.0, f64::max),
        wall_s: wall.as_secs_f64(),
        hops_ms: hops,
        voice_to_voice_ms: Stats::of(&v2v),
        voice_to_voice_gateway_ms: Stats::of(&v2v)
            .map(|s| s.minus(bench.args.sim_voice_to_voice_ms())),
        barge_in_ms: Stats::of(&barge),
        // The gateway's energy VAD needs 3 loud frames: 40 ms after the first one is sent.
        barge_in_gateway_ms: Stats::of(&barge).map(|s| s.minus(VAD_ONSET_MS)),
        unexpected_clears: calls.iter().map(|c| c.unexpected_clears).sum(),
        bad_frames: calls.iter().map(|c| c.bad_frames).sum(),
        cpu_s,
        call_minutes: call_seconds / 60.0,
        cpu_s_per_call_minute: (call_seconds > 0.0).then(|| cpu_s / (call_seconds / 60.0)),
        core_pct_per_call: (call_seconds > 0.0).then(|| cpu_s / call_seconds * 100.0),
        peak_cores,
        baseline_rss_mib: before.rss_kib as f64 / 1024.0,
        peak_rss_mib: after.peak_rss_kib as f64 / 1024.0,
        rss_kib_per_call: (peak_active > 0)
            .then(|| after.peak_rss_kib.saturating_sub(before.rss_kib) as f64 / peak_active as f64),
        max_tick_lag_ms: calls.iter().map(|c| c.max_tick_lag_ms).fold(0.0, f64::max),
        load_generator_cpu_s: match (me_before, me_after) {
            (Some(b), Some(a)) => a.cpu_s - b.cpu_s,
            _ => 0.0,
        },
        gateway_calls_by_outcome: prom::by_label(&last, "voice_calls_total", "outcome"),
        sims: sim_counts,
    })
}

/// The busiest 5 s of gateway CPU, in cores.
fn peak_cores(samples: &[(Instant, ProcSample)]) -> f64 {
    let mut best = 0.0_f64;
    for (i, (t0, s0)) in samples.iter().enumerate() {
        if let Some((t1, s1)) = samples[i..]
            .iter()
            .find(|(t, _)| t.duration_since(*t0) >= Duration::from_secs(5))
        {
            best = best.max((s1.cpu_s - s0.cpu_s) / t1.duration_since(*t0).as_secs_f64());
        }
    }
    if best == 0.0
        && let (Some((t0, s0)), Some((t1, s1))) = (samples.first(), samples.last())
        && t1 > t0
    {
        best = (s1.cpu_s - s0.cpu_s) / t1.duration_since(*t0).as_secs_f64();
    }
    best
}

/// Per histogram: the worst of each quantile over all scrapes (ms), count and mean from the last.
fn hop_stats(scrapes: &[Vec<prom::Sample>]) -> BTreeMap<String, HopStats> {
    const NAMES: [&str; 7] = [
        "voice_transcript_to_llm_request_seconds",
        "voice_llm_token_to_tts_request_seconds",
        "voice_tts_audio_to_twilio_seconds",
        "voice_voice_to_voice_seconds",
        "voice_caller_ear_seconds",
        "voice_llm_first_token_seconds",
        "voice_tts_first_audio_seconds",
    ];
    let mut out = BTreeMap::new();
    for name in NAMES {
        let summaries: Vec<prom::Summary> = scrapes
            .iter()
            .filter_map(|s| prom::summary(s, name))
            .collect();
        let Some(last) = summaries.last() else {
            continue;
        };
        let worst = |q: &str| {
            summaries
                .iter()
                .filter_map(|s| s.quantiles.get(q).copied())
                .filter(|v| v.is_finite())
                .fold(f64::NAN, f64::max)
                * 1000.0
        };
        out.insert(
            name.to_owned(),
            HopStats {
                count: last.count,
                mean: if last.count > 0.0 {
                    last.sum / last.count * 1000.0
                } else {
                    0.0
                },
                p50: worst("0.5"),
                p95: worst("0.95"),
                p99: worst("0.99"),
                max: worst("1"),
            },
        );
    }
    out
}

fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "(unknown date)".to_owned(), |s| s.trim().to_owned())
}

/// A run the load generator kept up with: its 20 ms tickers were never late by 100 ms or more.
fn generator_kept_up(run: &RunReport) -> bool {
    run.max_tick_lag_ms < 100.0
}

/// Checks the per-call targets: latency at (or nearest below) 1000 calls, cost at the
/// largest run without failures that the load generator kept up with (an overloaded run stretches
/// calls and makes the cost per call-minute look smaller than it is).
fn target_notes(runs: &[RunReport]) -> Vec<String> {
    let mut notes = Vec::new();
    let verdict = |ok: bool| if ok { "met" } else { "**missed**" };
    if let Some(run) = runs
        .iter()
        .filter(|r| r.calls <= 1000)
        .max_by_key(|r| r.calls)
    {
        let worst_hop = report::HOPS
            .iter()
            .filter_map(|(name, label)| run.hops_ms.get(*name).map(|h| (h.p99, *label)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((p99, label)) = worst_hop {
            notes.push(format!(
                "Target at {} calls, gateway-added p99 under 2 ms per hop: {} (worst hop: {label}, p99 {p99:.2} ms{}).",
                run.calls,
                verdict(p99 < 2.0),
                if generator_kept_up(run) { "" } else { "; the load generator did not keep up in this run" },
            ));
        }
    }
    let valid = runs
        .iter()
        .filter(|r| r.failed() == 0 && generator_kept_up(r))
        .max_by_key(|r| r.calls);
    match valid {
        Some(run) => {
            if let Some(pct) = run.core_pct_per_call {
                notes.push(format!(
                    "Target under 0.2 % of a core per call (at {} calls, the largest clean run): {} ({pct:.3} %).",
                    run.calls,
                    verdict(pct < 0.2)
                ));
            }
            if let Some(kib) = run.rss_kib_per_call {
                notes.push(format!(
                    "Target under 1 MB of RSS per call (at {} calls): {} ({kib:.0} KiB).",
                    run.calls,
                    verdict(kib < 1000.0)
                ));
            }
        }
        None => notes.push(
            "No run was clean (no failures, load generator on time); cost targets not judged."
                .to_owned(),
        ),
    }
    notes
}

fn write_outputs(
    bench: &Bench,
    machine: &Machine,
    runs: &[RunReport],
    root: &Path,
) -> anyhow::Result<()> {
    let json = serde_json::json!({
        "machine": machine,
        "settings": bench.args.settings(),
        "plan": &*bench.plan,
        "degrades_at_calls": report::degradation_point(runs),
        "runs": runs,
    });
    let json_path = bench.out_dir.join("bench.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let svg_path = bench.out_dir.join("bench.svg");
    std::fs::write(&svg_path, report::svg(runs))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    println!(
        "bench: wrote {} and {}",
        json_path.display(),
        svg_path.display()
    );
    if !bench.args.no_docs {
        let doc_path = root.join("docs/performance.md");
        let doc =
            std::fs::read_to_string(&doc_path).unwrap_or_else(|_| "# Performance\n".to_owned());
        let section = report::markdown(
            machine,
            &bench.args.settings(),
            runs,
            &today(),
            &target_notes(runs),
        );
        std::fs::write(&doc_path, report::splice_section(&doc, &section))
            .with_context(|| format!("writing {}", doc_path.display()))?;
        println!("bench: updated {}", doc_path.display());
    }
    Ok(())
}
