//! The call-record outbox survives `kill -9`: records submitted while the database is down are
//! on disk before `submit` returns, and a restarted outbox lands each exactly once.
//!
//! The test runs this same test binary as a child process (`CHILD_SPOOL_VAR` set) that submits
//! records with the database down, then kills it with SIGKILL, then restarts the outbox in this
//! process against a real SQLite CRM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;
use call_pipeline::{CallCrm, CallRecord, PortError, RecordOutbox, ToolCallContext, ToolReply};
use chrono::{TimeZone, Utc};
use conversation::{CustomerProfile, ShopConfig};
use providers::ToolSpec;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use voice_gateway::crm_port::CrmPort;

const CHILD_SPOOL_VAR: &str = "VG_OUTBOX_CRASH_CHILD_SPOOL";
const READY: &str = "outbox-crash-child: records spooled";

/// A CRM whose database is down.
struct DatabaseDown;

#[async_trait]
impl CallCrm for DatabaseDown {
    async fn lookup_customer(&self, _: &str) -> Result<Option<CustomerProfile>, PortError> {
        Err(PortError::unavailable("database down"))
    }
    fn tools(&self) -> Vec<ToolSpec> {
        Vec::new()
    }
    async fn execute_tool(&self, _: &str, _: &str, _: &ToolCallContext) -> ToolReply {
        ToolReply::refused("unused", "no tools here")
    }
    async fn record_call(&self, _: &CallRecord) -> Result<(), PortError> {
        Err(PortError::unavailable("database down"))
    }
    async fn ping(&self) -> Result<(), PortError> {
        Err(PortError::unavailable("database down"))
    }
}

fn record(call_sid: &str, ended: bool) -> CallRecord {
    let started_at = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    CallRecord {
        call_sid: call_sid.into(),
        stream_sid: "MZ1".into(),
        caller_phone: Some("+14135550100".into()),
        customer_id: None,
        direction: conversation::CallDirection::Inbound,
        call_type: "inbound_new".into(),
        started_at,
        ended_at: ended.then(|| started_at + chrono::Duration::minutes(3)),
        status: if ended { "completed" } else { "in_progress" }.into(),
        summary: json!({}),
        transcript: json!([]),
        escalation_triggered: false,
        escalation_reason: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        timings: json!([]),
        callback_reason: None,
        offline_turns: Vec::new(),
        message: None,
    }
}

/// The child's side (does nothing unless the parent test started it): CA1 ended, CA2 still in
/// progress, the database down; then it waits to be killed.
#[tokio::test]
async fn crash_child_submits_records_with_the_database_down() {
    let Some(spool) = std::env::var_os(CHILD_SPOOL_VAR) else {
        return;
    };
    let (outbox, worker) = RecordOutbox::new(Arc::new(DatabaseDown), Some(spool.into()));
    let shutdown = CancellationToken::new();
    let _worker = tokio::spawn(
        worker
            .with_backoff(Duration::from_millis(5), Duration::from_millis(20))
            .run(shutdown),
    );
    outbox.submit(record("CA1", false)).await;
    outbox.submit(record("CA1", true)).await;
    outbox.submit(record("CA2", false)).await;
    // The parent reads this line from the child's stdout.
    #[allow(clippy::print_stdout)]
    {
        println!("{READY}");
    }
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn records_survive_kill_9_and_land_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child_submits_records_with_the_database_down",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_SPOOL_VAR, &spool)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains(READY))
    });
    let ready = tokio::time::timeout(Duration::from_secs(60), ready)
        .await
        .expect("the child spooled its records in time")
        .unwrap();
    assert!(ready, "the child reported its records spooled");
    // SIGKILL: no destructor, no shutdown path runs in the child.
    child.kill().unwrap();
    child.wait().unwrap();
    let spooled = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "json"))
        .count();
    assert_eq!(spooled, 3, "every submitted record was on disk");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir_mode = std::fs::metadata(&spool).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700, "the spool directory is private");
        for entry in std::fs::read_dir(&spool).unwrap().flatten() {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{:?} is private", entry.path());
        }
    }

    // Restart with the database back: every spooled record lands, once.
    let database = format!("sqlite://{}/crm.db?mode=rwc", dir.path().display());
    let crm = crm::connect_and_migrate(
        &database,
        &crm::CrmConfig::default(),
        ShopConfig::default_shop(),
    )
    .await
    .unwrap();
    let port = Arc::new(CrmPort::new(
        Arc::new(crm.clone()),
        Arc::new(|| Utc.with_ymd_and_hms(2026, 11, 24, 16, 0, 0).unwrap()),
    ));
    let (_outbox, worker) = RecordOutbox::new(port, Some(spool.clone()));
    // Already cancelled: the worker writes what the spool holds, then stops.
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    worker.run(shutdown).await;

    let stored = crm.recent_calls(10).await.unwrap();
    let mut rows: Vec<(String, String, bool)> = stored
        .iter()
        .map(|r| (r.call_sid.clone(), r.status.clone(), r.ended_at.is_some()))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("CA1".to_owned(), "completed".to_owned(), true),
            ("CA2".to_owned(), "in_progress".to_owned(), false),
        ]
    );
    let left = std::fs::read_dir(&spool).unwrap().flatten().count();
    assert_eq!(left, 0, "landed records are deleted from the spool");
}

/// A database that is up but refuses one record (say, a constraint).
struct RefusesOne {
    refused: &'static str,
    written: std::sync::Mutex<Vec<String>>,
    /// Whether the database answers a ping (a refusal is typed either way).
    ping_ok: bool,
}

#[async_trait]
impl CallCrm for RefusesOne {
    async fn lookup_customer(&self, _: &str) -> Result<Option<CustomerProfile>, PortError> {
        Ok(None)
    }
    fn tools(&self) -> Vec<ToolSpec> {
        Vec::new()
    }
    async fn execute_tool(&self, _: &str, _: &str, _: &ToolCallContext) -> ToolReply {
        ToolReply::refused("unused", "no tools here")
    }
    async fn record_call(&self, record: &CallRecord) -> Result<(), PortError> {
        if record.call_sid == self.refused {
            return Err(PortError::refused("value too long"));
        }
        self.written.lock().unwrap().push(record.call_sid.clone());
        Ok(())
    }
    async fn ping(&self) -> Result<(), PortError> {
        if self.ping_ok {
            Ok(())
        } else {
            Err(PortError::unavailable("no answer to the ping"))
        }
    }
}

#[tokio::test]
async fn a_record_the_database_refuses_is_set_aside_and_does_not_block_the_rest() {
    for ping_ok in [true, false] {
        a_refused_record_is_set_aside(ping_ok).await;
    }
}

/// With `ping_ok` false only the error's type says it is a refusal, not an outage.
async fn a_refused_record_is_set_aside(ping_ok: bool) {
    let dir = tempfile::tempdir().unwrap();
    let crm = Arc::new(RefusesOne {
        refused: "CA_BAD",
        written: std::sync::Mutex::default(),
        ping_ok,
    });
    let (outbox, worker) = RecordOutbox::new(crm.clone(), Some(dir.path().to_path_buf()));
    outbox.submit(record("CA_BAD", true)).await;
    outbox.submit(record("CA_GOOD", true)).await;
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    worker.run(shutdown).await;
    assert_eq!(*crm.written.lock().unwrap(), ["CA_GOOD"]);
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 1, "ping ok: {ping_ok}: {left:?}");
    assert!(
        left[0].starts_with("CA_BAD.") && left[0].ends_with(".rejected"),
        "ping ok: {ping_ok}: {left:?}"
    );
}
