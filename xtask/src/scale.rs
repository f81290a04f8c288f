//! `cargo xtask scale`: a fleet under load, restarted and crashed on purpose.
//!
//! Starts the vendor simulators (`bench::sims`), a `redis-server` of its own, a fresh PostgreSQL
//! database, N gateway processes and HAProxy running `deploy/haproxy.cfg` (its two `server`
//! lines replaced by N), then places C simulated Twilio calls through HAProxy (`bench::caller`,
//! which follows `<Connect action>` after a lost stream as Twilio does). While the calls run it
//! restarts every gateway in turn (SIGTERM, wait for the drain, start again on the same port, wait
//! until HAProxy has it back), then kills one with SIGKILL and starts it again. It reports calls
//! completed, dropped, handed to a person and resumed after the crash, each gateway's CPU and
//! memory, voice-to-voice at the caller, and the Redis commands and connections the fleet used, as
//! `target/scale/scale.json` and a section of `docs/performance.md`.
//!
//! Everything listens on 127.0.0.1; every wait is bounded; every child is killed when its guard
//! drops; the database is dropped at the end.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Parser;
use serde::Serialize;
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

use crate::bench::{
    self, BENCH_AUTH_TOKEN, BenchArgs, GatewayEnv,
    caller::{self, Active, CallTarget, Failure},
    gateway::{self, Gateway, ProcSample},
    report::Stats,
    sims::Sims,
};

/// `cargo xtask scale`: calls through HAProxy to N gateways, a rolling restart and a crash.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask scale")]
pub(crate) struct ScaleArgs {
    /// Gateway processes.
    #[arg(long, default_value_t = 2)]
    instances: usize,
    /// Calls placed, spread over `--spread-secs`.
    #[arg(long, default_value_t = 20)]
    calls: usize,
    /// Seconds over which the calls start.
    #[arg(long, default_value_t = 60)]
    spread_secs: u64,
    /// Caller turns per call.
    #[arg(long, default_value_t = 3)]
    turns: usize,
    /// The gateways' SHUTDOWN_DRAIN_SECS.
    #[arg(long, default_value_t = 30)]
    drain_secs: u64,
    /// PostgreSQL to make the run's database in (its database part is replaced).
    #[arg(long, env = "VOICE_TEST_DATABASE_URL")]
    database_url: String,
    /// Build and run the debug binary (release by default).
    #[arg(long)]
    debug: bool,
    /// Use this gateway binary instead of building one.
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Do not write docs/performance.md.
    #[arg(long)]
    no_docs: bool,
}

/// Runs `cargo xtask scale` with `args` (everything after `scale`).
pub(crate) fn main(args: Vec<String>) -> anyhow::Result<()> {
    let Some(args) = bench::parse_task_args::<ScaleArgs>("scale", args)? else {
        return Ok(());
    };
    if args.instances < 2 || args.calls == 0 || args.turns == 0 {
        bail!("--instances needs at least 2, --calls and --turns at least 1");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(run(args))
}

/// A child process killed (SIGKILL) and reaped when dropped.
struct Guarded(Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(gateway::free_local_addr()?.port())
}

/// Starts `redis-server` on a free port and waits until it answers.
async fn start_redis() -> anyhow::Result<(Guarded, u16)> {
    let port = free_port()?;
    let child = Command::new("redis-server")
        .env_remove("LD_PRELOAD")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .context("starting redis-server (is it installed?)")?;
    let guard = Guarded(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis_info(port, "server").is_none() {
        if Instant::now() > deadline {
            bail!("redis-server did not answer on port {port}");
        }
        sleep(Duration::from_millis(50)).await;
    }
    Ok((guard, port))
}

/// `redis-cli INFO <section>`, if the server answers.
fn redis_info(port: u16, section: &str) -> Option<String> {
    let out = Command::new("redis-cli")
        .env_remove("LD_PRELOAD")
        .args(["-p", &port.to_string(), "info", section])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && text.contains(':')).then_some(text)
}

/// A number from `INFO` output (`name:value`).
fn info_number(info: &str, name: &str) -> Option<u64> {
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
}

/// `url` with its database (the path) replaced by `name`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = reqwest::Url::parse(url).context("--database-url is not a URL")?;
    url.set_path(name);
    Ok(url.to_string())
}

/// Runs one SQL statement with `psql`.
fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let status = Command::new("psql")
        .env_remove("LD_PRELOAD")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .context("running psql (is the PostgreSQL client installed?)")?;
    if !status.success() {
        bail!("psql failed: {sql}");
    }
    Ok(())
}

/// `deploy/haproxy.cfg` with one `server` line per gateway.
fn haproxy_config(root: &Path, gateways: &[SocketAddr]) -> anyhow::Result<String> {
    let shipped = std::fs::read_to_string(root.join("deploy").join("haproxy.cfg"))
        .context("reading deploy/haproxy.cfg")?;
    let servers: String = gateways
        .iter()
        .enumerate()
        .map(|(i, addr)| format!("    server gw{} {addr}\n", i + 1))
        .collect();
    let mut out = String::new();
    let mut replaced = false;
    for line in shipped.lines() {
        if line.trim_start().starts_with("server gw") {
            if !replaced {
                out.push_str(&servers);
                replaced = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !replaced {
        bail!("deploy/haproxy.cfg has no `server gw…` lines to replace");
    }
    Ok(out)
}

/// HAProxy's `status` column for server `gwN`, from its CSV stats.
async fn haproxy_status(http: &reqwest::Client, stats: &str, server: &str) -> Option<String> {
    let csv = http.get(stats).send().await.ok()?.text().await.ok()?;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name);
    let (proxy, name, status) = (column("pxname")?, column("svname")?, column("status")?);
    lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .find(|row| row.get(proxy) == Some(&"gateways") && row.get(name) == Some(&server))
        .and_then(|row| row.get(status).map(|s| (*s).to_owned()))
}

async fn wait_haproxy(
    http: &reqwest::Client,
    stats: &str,
    server: &str,
    wanted: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if haproxy_status(http, stats, server).await.as_deref() == Some(wanted) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("HAProxy never reported {server} {wanted}");
        }
        sleep(Duration::from_millis(100)).await;
    }
}

/// One gateway slot: its address, the process running in it now, and what its processes used.
struct Slot {
    addr: SocketAddr,
    env: Vec<(String, String)>,
    log: PathBuf,
    process: Option<Gateway>,
    /// CPU seconds of the processes that already ended in this slot.
    cpu_done_s: f64,
    /// The latest sample of the running process.
    last: Option<ProcSample>,
    peak_rss_kib: u64,
    starts: usize,
}

/// Everything the run shares.
struct Fleet {
    binary: PathBuf,
    workdir: PathBuf,
    http: reqwest::Client,
    stats: String,
    ticks_per_s: f64,
    slots: tokio::sync::Mutex<Vec<Slot>>,
}

impl Fleet {
    async fn start_slot(&self, index: usize) -> anyhow::Result<()> {
        let mut slots = self.slots.lock().await;
        let slot = &mut slots[index];
        let log = slot.log.with_extension(format!("{}.log", slot.starts));
        let mut process = Gateway::spawn(&self.binary, slot.addr, &slot.env, &self.workdir, &log)?;
        process
            .wait_ready(&self.http, Duration::from_secs(60))
            .await?;
        slot.starts += 1;
        slot.last = None;
        slot.process = Some(process);
        drop(slots);
        wait_haproxy(&self.http, &self.stats, &format!("gw{}", index + 1), "UP").await
    }

    /// Folds the running process's CPU into the slot's total (before it stops).
    fn retire(&self, slot: &mut Slot) {
        if let Some(last) = slot.last.take() {
            slot.cpu_done_s += last.cpu_s;
        }
    }

    /// SIGTERM, then waits for the drain and the exit.
    async fn restart_gracefully(&self, index: usize, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let pid = {
            let mut slots = self.slots.lock().await;
            let slot = &mut slots[index];
            slot.process
                .as_ref()
                .context("no gateway in the slot")?
                .pid()
        };
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .context("sending SIGTERM")?;
        if !status.success() {
            bail!("kill -TERM {pid} failed");
        }
        loop {
            {
                let mut slots = self.slots.lock().await;
                let slot = &mut slots[index];
                if let Some(process) = slot.process.as_mut()
                    && !process.is_running()
                {
                    self.retire(slot);
                    slot.process = None;
                    break;
                }
            }
            if started.elapsed() > limit {
                bail!("gateway {} did not stop within {limit:?}", index + 1);
            }
            sleep(Duration::from_millis(100)).await;
        }
        let drained = started.elapsed();
        self.start_slot(index).await?;
        Ok(drained)
    }

    /// SIGKILL, then a new process.
    async fn crash(&self, index: usize) -> anyhow::Result<()> {
        {
            let mut slots = self.slots.lock().await;
            let slot = &mut slots[index];
            self.retire(slot);
            // Dropping the guard kills (SIGKILL) and reaps it.
            slot.process = None;
        }
        self.start_slot(index).await
    }

    /// Samples every running gateway's `/proc` until `stop`.
    async fn sample(&self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let mut slots = self.slots.lock().await;
            for slot in slots.iter_mut() {
                if let Some(process) = &slot.process
                    && let Some(sample) = gateway::sample_proc(process.pid(), self.ticks_per_s)
                {
                    slot.peak_rss_kib = slot.peak_rss_kib.max(sample.peak_rss_kib);
                    slot.last = Some(sample);
                }
            }
        }
    }
}

/// One gateway slot's figures.
#[derive(Debug, Serialize)]
struct SlotReport {
    gateway: String,
    processes: usize,
    cpu_s: f64,
    peak_rss_mib: f64,
}

/// What `scale` measured.
#[derive(Debug, Serialize)]
struct ScaleReport {
    instances: usize,
    calls: usize,
    completed: usize,
    /// The gateway closed the stream and no gateway took the call up again.
    dropped: usize,
    /// Turned to a person by a gateway that could not take the call (e.g. a webhook that reached
    /// a draining gateway before HAProxy noticed).
    handed_off: usize,
    other_failures: usize,
    /// Calls that went on over a new stream after losing theirs, and completed.
    resumed: usize,
    /// The calls in progress on the crashed gateway when it was killed.
    on_crashed_gateway: u64,
    drain_s: Vec<f64>,
    voice_to_voice_ms: Option<Stats>,
    gateways: Vec<SlotReport>,
    redis_commands: u64,
    redis_commands_per_call_second: f64,
    redis_peak_clients: u64,
    wall_s: f64,
    failure_examples: Vec<String>,
}

async fn run(args: ScaleArgs) -> anyhow::Result<()> {
    let root = bench::workspace_root();
    let binary = match &args.binary {
        Some(binary) => std::fs::canonicalize(binary)
            .with_context(|| format!("finding {}", binary.display()))?,
        None => tokio::task::block_in_place(|| gateway::build(&root, !args.debug))?,
    };
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let out_dir = target_dir.join("scale");
    std::fs::create_dir_all(&out_dir)?;
    let workdir = std::env::temp_dir().join(format!("voice-gateway-scale-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;
    let database = format!("vg_scale_{}", std::process::id());
    psql(&args.database_url, &format!("CREATE DATABASE {database}"))?;
    let result = run_fleet(&args, &root, binary, &workdir, &out_dir, &database).await;
    let dropped = psql(
        &args.database_url,
        &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
    );
    let _ = std::fs::remove_dir_all(&workdir);
    let report = result?;
    dropped?;
    print_report(&report);
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(out_dir.join("scale.json"), &json)?;
    println!("scale: wrote {}", out_dir.join("scale.json").display());
    if !args.no_docs {
        write_docs(&root, &args, &report)?;
    }
    Ok(())
}

async fn run_fleet(
    args: &ScaleArgs,
    root: &Path,
    binary: PathBuf,
    workdir: &Path,
    out_dir: &Path,
    database: &str,
) -> anyhow::Result<ScaleReport> {
    let bench_args = BenchArgs::try_parse_from([
        "cargo xtask bench".to_owned(),
        "--turns".to_owned(),
        args.turns.to_string(),
    ])
    .context("the bench's call settings")?;
    let sim_config = bench_args.sim_config();
    let sims = Sims::start(sim_config.clone()).await?;
    let (_redis, redis_port) = start_redis().await?;
    let frontend = free_port()?;
    let stats_port = free_port()?;
    let public_url = format!("http://127.0.0.1:{frontend}");
    let addrs: Vec<SocketAddr> = (0..args.instances)
        .map(|_| gateway::free_local_addr())
        .collect::<anyhow::Result<_>>()?;
    let database_url = with_database(&args.database_url, database)?;
    let per_gateway = args.calls + 10;
    let slots = addrs
        .iter()
        .enumerate()
        .map(|(i, &addr)| {
            let mut env = bench::gateway_env_for(&GatewayEnv {
                args: &bench_args,
                api_key: &sim_config.api_key,
                sims: &sims,
                addr,
                public_url: public_url.clone(),
                database_url: database_url.clone(),
                spool: workdir.join(format!("spool-{i}")),
                max_calls: per_gateway,
            });
            env.extend(
                [
                    ("REDIS_URL", format!("redis://127.0.0.1:{redis_port}")),
                    ("INSTANCE_ID", format!("gw{}", i + 1)),
                    ("SHUTDOWN_DRAIN_SECS", args.drain_secs.to_string()),
                    ("API_TOKEN", "scale-api-token".to_owned()),
                ]
                .map(|(k, v)| (k.to_owned(), v)),
            );
            Slot {
                addr,
                env,
                log: out_dir.join(format!("gw{}", i + 1)),
                process: None,
                cpu_done_s: 0.0,
                last: None,
                peak_rss_kib: 0,
                starts: 0,
            }
        })
        .collect();
    let config = workdir.join("haproxy.cfg");
    std::fs::write(&config, haproxy_config(root, &addrs)?)?;
    let haproxy = Command::new("haproxy")
        .env_remove("LD_PRELOAD")
        .env("VG_FRONTEND_BIND", format!("127.0.0.1:{frontend}"))
        .env("VG_STATS_BIND", format!("127.0.0.1:{stats_port}"))
        .env("VG_CHECK_INTERVAL", "500ms")
        .args(["-db", "-f"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(out_dir.join("haproxy.log"))?)
        .spawn()
        .context("starting haproxy (is it installed?)")?;
    let _haproxy = Guarded(haproxy);
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()?;
    let fleet = Arc::new(Fleet {
        binary,
        workdir: workdir.to_path_buf(),
        http: http.clone(),
        stats: format!("http://127.0.0.1:{stats_port}/stats;csv"),
        ticks_per_s: gateway::clock_ticks(),
        slots: tokio::sync::Mutex::new(slots),
    });
    for index in 0..args.instances {
        fleet.start_slot(index).await?;
    }
    println!(
        "scale: {} gateways behind HAProxy on {public_url}; {} calls over {} s",
        args.instances, args.calls, args.spread_secs
    );
    let stop = CancellationToken::new();
    let sampler = tokio::spawn({
        let (fleet, stop) = (fleet.clone(), stop.clone());
        async move { fleet.sample(stop).await }
    });
    let redis_before = redis_info(redis_port, "stats")
        .and_then(|info| info_number(&info, "total_commands_processed"))
        .unwrap_or(0);

    let target = Arc::new(CallTarget {
        http_base: public_url.clone(),
        ws_base: public_url.replacen("http://", "ws://", 1),
        http: http.clone(),
        auth_token: BENCH_AUTH_TOKEN.to_owned(),
    });
    let active = Arc::new(Active::default());
    let started = Instant::now();
    let load = tokio::spawn(caller::run_load(
        target,
        Arc::new(bench_args.plan()),
        args.calls,
        Duration::from_secs(args.spread_secs),
        7,
        active.clone(),
    ));

    // The chaos: a rolling restart once calls are up, then a crash of the busiest gateway.
    let peak_clients = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let clients_watch = tokio::spawn({
        let (peak, stop) = (peak_clients.clone(), stop.clone());
        async move {
            while !stop.is_cancelled() {
                if let Some(n) = redis_info(redis_port, "clients")
                    .and_then(|info| info_number(&info, "connected_clients"))
                {
                    peak.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
                }
                sleep(Duration::from_millis(500)).await;
            }
        }
    });
    sleep(Duration::from_secs(args.spread_secs / 6)).await;
    let limit = Duration::from_secs(args.drain_secs + 15);
    let mut drain_s = Vec::new();
    for index in 0..args.instances {
        println!(
            "scale: {:.0} s: restarting gw{} (SIGTERM; {} streams open at the callers)",
            started.elapsed().as_secs_f64(),
            index + 1,
            active.current()
        );
        drain_s.push(fleet.restart_gracefully(index, limit).await?.as_secs_f64());
    }
    let busiest = busiest_gateway(&http, &public_url).await;
    let (crashed, on_crashed) = busiest.unwrap_or((0, 0));
    println!(
        "scale: {:.0} s: killing gw{} (SIGKILL) with {on_crashed} calls",
        started.elapsed().as_secs_f64(),
        crashed + 1
    );
    fleet.crash(crashed).await?;
    let calls = load.await.context("the load task")?;
    let wall_s = started.elapsed().as_secs_f64();
    stop.cancel();
    let _ = sampler.await;
    let _ = clients_watch.await;
    let redis_after = redis_info(redis_port, "stats")
        .and_then(|info| info_number(&info, "total_commands_processed"))
        .unwrap_or(0);
    let mut slots = fleet.slots.lock().await;
    let gateways = slots
        .iter_mut()
        .enumerate()
        .map(|(i, slot)| {
            let running = slot.last.map_or(0.0, |s| s.cpu_s);
            SlotReport {
                gateway: format!("gw{}", i + 1),
                processes: slot.starts,
                cpu_s: slot.cpu_done_s + running,
                peak_rss_mib: slot.peak_rss_kib as f64 / 1024.0,
            }
        })
        .collect();
    for slot in slots.iter_mut() {
        slot.process = None;
    }
    drop(slots);
    sims.shutdown().await;

    let count = |f: Failure| calls.iter().filter(|c| c.failure == Some(f)).count();
    let completed = calls.iter().filter(|c| c.failure.is_none()).count();
    let dropped = count(Failure::Dropped) + args.calls.saturating_sub(calls.len());
    let handed_off = count(Failure::Webhook);
    let call_seconds: f64 = calls.iter().map(|c| c.duration_s).sum();
    let v2v: Vec<f64> = calls
        .iter()
        .flat_map(|c| c.voice_to_voice_ms.iter().copied())
        .collect();
    let redis_commands = redis_after.saturating_sub(redis_before);
    Ok(ScaleReport {
        instances: args.instances,
        calls: args.calls,
        completed,
        dropped,
        handed_off,
        other_failures: calls.len() - completed - count(Failure::Dropped) - handed_off,
        resumed: calls
            .iter()
            .filter(|c| c.resumed > 0 && c.failure.is_none())
            .count(),
        on_crashed_gateway: on_crashed,
        drain_s,
        voice_to_voice_ms: Stats::of(&v2v),
        gateways,
        redis_commands,
        redis_commands_per_call_second: if call_seconds > 0.0 {
            redis_commands as f64 / call_seconds
        } else {
            0.0
        },
        redis_peak_clients: peak_clients.load(std::sync::atomic::Ordering::Relaxed),
        wall_s,
        failure_examples: calls
            .iter()
            .filter_map(|c| {
                c.failure.map(|f| {
                    format!(
                        "call {}: {f:?}: {}",
                        c.index,
                        c.detail.clone().unwrap_or_default()
                    )
                })
            })
            .take(5)
            .collect(),
    })
}

/// The gateway holding the most calls now (index and calls), from `/api/fleet`.
async fn busiest_gateway(http: &reqwest::Client, public_url: &str) -> Option<(usize, u64)> {
    let view: serde_json::Value = http
        .get(format!("{public_url}/api/fleet"))
        .bearer_auth("scale-api-token")
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    view["instances"]
        .as_array()?
        .iter()
        .filter_map(|i| {
            let index: usize = i["instance"].as_str()?.strip_prefix("gw")?.parse().ok()?;
            Some((index.checked_sub(1)?, i["active_calls"].as_u64()?))
        })
        .max_by_key(|&(_, calls)| calls)
}

fn print_report(report: &ScaleReport) {
    println!(
        "scale: {} calls on {} gateways: {} completed, {} dropped, {} handed to a person, {} other failures; {} resumed after the crash ({} calls were on the killed gateway)",
        report.calls,
        report.instances,
        report.completed,
        report.dropped,
        report.handed_off,
        report.other_failures,
        report.resumed,
        report.on_crashed_gateway
    );
    for gateway in &report.gateways {
        println!(
            "  {}: {} process(es), cpu {:.1} s, peak rss {:.0} MiB",
            gateway.gateway, gateway.processes, gateway.cpu_s, gateway.peak_rss_mib
        );
    }
    if let Some(v2v) = report.voice_to_voice_ms {
        println!(
            "  voice-to-voice at the caller: p50 {:.0} p99 {:.0} max {:.0} ms",
            v2v.p50, v2v.p99, v2v.max
        );
    }
    println!(
        "  redis: {} commands ({:.1} per call-second), peak {} clients; drains {:?} s",
        report.redis_commands,
        report.redis_commands_per_call_second,
        report.redis_peak_clients,
        report.drain_s
    );
    for example in &report.failure_examples {
        println!("  {example}");
    }
}

const DOCS_BEGIN: &str = "<!-- scale:begin -->";
const DOCS_END: &str = "<!-- scale:end -->";

/// Replaces the fleet section of docs/performance.md (between its markers) with this run.
fn write_docs(root: &Path, args: &ScaleArgs, report: &ScaleReport) -> anyhow::Result<()> {
    let path = root.join("docs/performance.md");
    let text = std::fs::read_to_string(&path)?;
    let (Some(begin), Some(end)) = (text.find(DOCS_BEGIN), text.find(DOCS_END)) else {
        bail!("docs/performance.md has no {DOCS_BEGIN} … {DOCS_END} section");
    };
    let v2v = report.voice_to_voice_ms.map_or_else(
        || "-".to_owned(),
        |s| format!("{:.0} / {:.0}", s.p50, s.p99),
    );
    let mut table = format!(
        "{DOCS_BEGIN}\n`cargo xtask scale --instances {} --calls {} --spread-secs {} --turns {}{}` (gateways `SHUTDOWN_DRAIN_SECS={}`):\n\n",
        args.instances,
        args.calls,
        args.spread_secs,
        args.turns,
        if args.debug { " --debug" } else { "" },
        args.drain_secs,
    );
    table.push_str("| calls | completed | dropped | handed to a person | resumed after the crash (of calls on the killed gateway) | voice-to-voice p50 / p99 ms | Redis commands per call-second | Redis peak clients |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    table.push_str(&format!(
        "| {} | {} | {} | {} | {} ({}) | {v2v} | {:.1} | {} |\n\n",
        report.calls,
        report.completed,
        report.dropped,
        report.handed_off,
        report.resumed,
        report.on_crashed_gateway,
        report.redis_commands_per_call_second,
        report.redis_peak_clients,
    ));
    table.push_str("| gateway | processes | CPU s | peak RSS MiB |\n| --- | --- | --- | --- |\n");
    for gateway in &report.gateways {
        table.push_str(&format!(
            "| {} | {} | {:.1} | {:.0} |\n",
            gateway.gateway, gateway.processes, gateway.cpu_s, gateway.peak_rss_mib
        ));
    }
    table.push_str(DOCS_END);
    let updated = format!("{}{table}{}", &text[..begin], &text[end + DOCS_END.len()..]);
    std::fs::write(&path, updated)?;
    println!("scale: updated {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_haproxy_config_gets_one_server_line_per_gateway() {
        let root = bench::workspace_root();
        let addrs: Vec<SocketAddr> = ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let config = haproxy_config(&root, &addrs).unwrap();
        let servers: Vec<&str> = config
            .lines()
            .filter(|l| l.trim_start().starts_with("server "))
            .collect();
        assert_eq!(
            servers,
            [
                "    server gw1 127.0.0.1:7001",
                "    server gw2 127.0.0.1:7002",
                "    server gw3 127.0.0.1:7003"
            ]
        );
        // Everything else is the shipped file.
        assert!(config.contains("option httpchk GET /readyz"));
        assert!(config.contains("option redispatch"));
        assert!(config.contains("default-server check"));
    }

    #[test]
    fn info_numbers_and_database_urls() {
        let info = "# Stats\r\ntotal_commands_processed:1234\r\nother:5\r\n";
        assert_eq!(info_number(info, "total_commands_processed"), Some(1234));
        assert_eq!(info_number(info, "missing"), None);
        assert_eq!(
            with_database("postgres://u:p@h:5432/test?sslmode=disable", "vg_scale_1").unwrap(),
            "postgres://u:p@h:5432/vg_scale_1?sslmode=disable"
        );
    }
}
