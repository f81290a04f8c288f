//! The gateway under test as a child process: building it, starting it with its environment
//! pointed at the simulators, waiting until it answers, reading its CPU time and memory from
//! `/proc`, and killing it when the guard drops (also on errors and panics).

use std::{
    fs::File,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::time::{Instant, sleep};

/// Builds `voice-gateway` and returns the binary's path.
pub(crate) fn build(workspace: &Path, release: bool) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.current_dir(workspace).args([
        "build",
        "--package",
        "voice-gateway",
        "--bin",
        "voice-gateway",
    ]);
    if release {
        command.arg("--release");
    }
    let status = command.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of voice-gateway failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    let target = if target.is_relative() {
        workspace.join(target)
    } else {
        target
    };
    let binary = target
        .join(if release { "release" } else { "debug" })
        .join("voice-gateway");
    if !binary.exists() {
        bail!("built, but {} is not there", binary.display());
    }
    Ok(binary)
}

/// A free port on 127.0.0.1 (bound, read, released; the gateway binds it right after).
pub(crate) fn free_local_addr() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    listener.local_addr().context("reading the free port")
}

/// The running gateway. Dropping it kills the process and reaps it.
#[derive(Debug)]
pub(crate) struct Gateway {
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
}

impl Gateway {
    /// Starts `binary serve` in `workdir` (so no stray `.env` is read) with exactly `env` plus
    /// `PATH`, output appended to `log`.
    pub(crate) fn spawn(
        binary: &Path,
        addr: SocketAddr,
        env: &[(String, String)],
        workdir: &Path,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("sharing the log file")?;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .current_dir(workdir)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self { child, addr })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) until `GET /healthz` answers 200.
    pub(crate) async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        limit: Duration,
    ) -> anyhow::Result<()> {
        let url = format!("http://{}/healthz", self.addr);
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().context("checking the gateway")? {
                bail!("the gateway exited during start-up ({status}); see its log");
            }
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the gateway did not answer {url} within {limit:?}");
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time and memory of a process at one moment, from `/proc`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProcSample {
    /// User plus system CPU time so far, seconds.
    pub(crate) cpu_s: f64,
    /// Resident set size now, KiB (`VmRSS`).
    pub(crate) rss_kib: u64,
    /// Peak resident set size since start, KiB (`VmHWM`).
    pub(crate) peak_rss_kib: u64,
}

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 if that fails).
pub(crate) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`; `None` once the process is gone.
pub(crate) fn sample_proc(pid: u32, ticks_per_s: f64) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        cpu_s: cpu_ticks(&stat)? as f64 / ticks_per_s,
        rss_kib: status_kib(&status, "VmRSS:")?,
        peak_rss_kib: status_kib(&status, "VmHWM:")?,
    })
}

/// `utime + stime` from a `/proc/<pid>/stat` line. The command name may contain spaces and
/// parentheses, so fields are counted after the last `)`.
pub(crate) fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: state(3) ppid(4) … utime(14) stime(15), counting from pid = 1.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   1234 kB` value from `/proc/<pid>/status`.
pub(crate) fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_after_a_name_with_spaces_and_parens() {
        let stat = "4242 (voice (gw) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 350 125 0 0 20 0 9 0 1000 100000 2000";
        assert_eq!(cpu_ticks(stat), Some(475));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn reads_rss_lines() {
        let status = "Name:\tvoice-gateway\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(40_960));
        assert_eq!(status_kib(status, "VmHWM:"), Some(51_200));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn samples_this_process() {
        let sample = sample_proc(std::process::id(), clock_ticks()).unwrap();
        assert!(sample.rss_kib > 0 && sample.peak_rss_kib >= sample.rss_kib);
    }
}
