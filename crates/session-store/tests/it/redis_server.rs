//! A private `redis-server` child process for the outage tests: no persistence, loopback only,
//! killed when the guard drops (also when the test panics).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::in_ci;

/// How long a fresh server may take to say it is ready (a hang guard: it is usually instant).
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A port on 127.0.0.1 that nothing listened on a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A running `redis-server`; dropping it kills the process.
pub(crate) struct RedisServer {
    child: Child,
    /// Drains the server's log so it never blocks on a full pipe; ends when the process exits.
    log_reader: Option<JoinHandle<()>>,
    port: u16,
}

impl RedisServer {
    /// Starts a server on `port` and waits until it accepts connections. `None` (with a notice)
    /// when `redis-server` is not installed; fails instead when `CI` is set.
    pub(crate) fn start(port: u16) -> Option<Self> {
        Self::start_with(port, &[])
    }

    /// `start` with more `redis-server` arguments.
    pub(crate) fn start_with(port: u16, extra: &[&str]) -> Option<Self> {
        // Without the test runner's libfaketime (.ci/run moves the clock ahead): redis-server
        // aborts under it.
        let spawned = Command::new("redis-server")
            .env_remove("LD_PRELOAD")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--logfile", ""])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                assert!(!in_ci(), "redis-server must be installed when CI is set");
                eprintln!("skipping outage test: redis-server is not installed");
                return None;
            }
            Err(err) => panic!("spawning redis-server: {err}"),
        };
        let stdout = child.stdout.take().unwrap();
        // The guard exists before waiting, so a server that never gets ready is still killed.
        let mut server = Self {
            child,
            log_reader: None,
            port,
        };
        let (ready_tx, ready_rx) = mpsc::channel();
        server.log_reader = Some(std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Ready to accept connections") {
                    let _ = ready_tx.send(());
                }
            }
        }));
        ready_rx
            .recv_timeout(READY_TIMEOUT)
            .unwrap_or_else(|err| panic!("redis-server on port {port} not ready: {err}"));
        Some(server)
    }

    /// The server's port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `redis://` URL of the server.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit.
    pub(crate) fn kill(mut self) {
        self.stop();
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the server: connections stay open but nothing
    /// answers, like a Redis stuck in a long command or a network black hole.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} failed: {status}");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(log_reader) = self.log_reader.take() {
            let _ = log_reader.join();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
