//! Final call records go to the database through this outbox, retried until they land.
//!
//! A call never waits for the database: `RecordOutbox::submit` queues the record and returns.
//! One worker per server writes records in order, backing off while the database is down. On
//! shutdown, whatever could not be written is spooled as JSON files, and the next start writes
//! them first, so neither a database outage nor a restart loses a call record.

use std::{collections::VecDeque, path::PathBuf, sync::Arc, time::Duration};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::ports::{CallCrm, CallRecord};

/// Queues call records for the worker. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RecordOutbox {
    records_tx: mpsc::UnboundedSender<CallRecord>,
}

/// Writes queued records; run it once per server with `run`.
pub struct OutboxWorker {
    crm: Arc<dyn CallCrm>,
    records_rx: mpsc::UnboundedReceiver<CallRecord>,
    spool_dir: Option<PathBuf>,
    retry_initial: Duration,
    retry_max: Duration,
}

impl RecordOutbox {
    /// An outbox and its worker. `spool_dir` keeps unwritten records across restarts.
    pub fn new(crm: Arc<dyn CallCrm>, spool_dir: Option<PathBuf>) -> (Self, OutboxWorker) {
        let (records_tx, records_rx) = mpsc::unbounded_channel();
        let worker = OutboxWorker {
            crm,
            records_rx,
            spool_dir,
            retry_initial: Duration::from_millis(200),
            retry_max: Duration::from_secs(30),
        };
        (Self { records_tx }, worker)
    }

    /// Queues a record; never blocks. (Unbounded on purpose: a record is small, one per call, and
    /// dropping one is the failure this type exists to prevent.)
    pub fn submit(&self, record: CallRecord) {
        if let Err(err) = self.records_tx.send(record) {
            error!(
                call_sid = err.0.call_sid,
                "call record outbox is closed; record lost"
            );
        }
    }
}

impl OutboxWorker {
    /// Sets the retry backoff (tests use short ones).
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_initial = initial;
        self.retry_max = max;
        self
    }

    /// Writes records until `shutdown`, then drains what it can and spools the rest.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut pending: VecDeque<CallRecord> = self.load_spool().into();
        let mut backoff = self.retry_initial;
        let mut outage_logged = false;
        loop {
            while let Ok(record) = self.records_rx.try_recv() {
                pending.push_back(record);
            }
            let Some(record) = pending.front() else {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    record = self.records_rx.recv() => match record {
                        Some(record) => { pending.push_back(record); continue; }
                        None => break,
                    },
                }
            };
            match self.crm.record_call(record).await {
                Ok(()) => {
                    if outage_logged {
                        info!(
                            queued = pending.len() - 1,
                            "database back; writing queued call records"
                        );
                        outage_logged = false;
                    }
                    pending.pop_front();
                    backoff = self.retry_initial;
                }
                Err(err) => {
                    if !outage_logged {
                        warn!(call_sid = record.call_sid, error = %err, "cannot write call record; retrying with backoff");
                        outage_logged = true;
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.retry_max);
                }
            }
        }
        // Shutdown: take what is still queued, try each once, spool the rest.
        self.records_rx.close();
        while let Some(record) = self.records_rx.recv().await {
            pending.push_back(record);
        }
        let mut unwritten = Vec::new();
        for record in pending {
            match tokio::time::timeout(Duration::from_secs(2), self.crm.record_call(&record)).await
            {
                Ok(Ok(())) => {}
                _ => unwritten.push(record),
            }
        }
        self.spool(unwritten);
    }

    fn load_spool(&self) -> Vec<CallRecord> {
        let Some(dir) = &self.spool_dir else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            match std::fs::read(&path).map(|bytes| serde_json::from_slice::<CallRecord>(&bytes)) {
                Ok(Ok(record)) => {
                    records.push(record);
                    let _ = std::fs::remove_file(&path);
                }
                Ok(Err(err)) => {
                    warn!(path = %path.display(), error = %err, "unreadable spooled call record left in place")
                }
                Err(err) => {
                    warn!(path = %path.display(), error = %err, "cannot read spooled call record")
                }
            }
        }
        if !records.is_empty() {
            info!(count = records.len(), "re-queued spooled call records");
        }
        records
    }

    fn spool(&self, records: Vec<CallRecord>) {
        if records.is_empty() {
            return;
        }
        let Some(dir) = &self.spool_dir else {
            error!(
                count = records.len(),
                "database unreachable at shutdown and no spool directory: call records lost"
            );
            return;
        };
        if let Err(err) = std::fs::create_dir_all(dir) {
            error!(error = %err, count = records.len(), "cannot create the spool directory: call records lost");
            return;
        }
        for record in records {
            let path = dir.join(format!(
                "{}.json",
                record.call_sid.replace(['/', '\\', '.'], "_")
            ));
            match serde_json::to_vec(&record).map(|bytes| std::fs::write(&path, bytes)) {
                Ok(Ok(())) => {
                    warn!(call_sid = record.call_sid, path = %path.display(), "call record spooled to disk")
                }
                _ => error!(call_sid = record.call_sid, "cannot spool call record: lost"),
            }
        }
    }
}
