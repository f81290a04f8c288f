//! Call records go to the database through this outbox, retried until they land, and never lost.
//!
//! A call writes two records: one when it starts (`in_progress`, no `ended_at`) and the final one.
//! `RecordOutbox::submit` first writes the record to the spool directory (a temporary file,
//! `fsync`, rename, `fsync` of the directory), then queues it; it returns once the record is on
//! disk, so a crash (even `kill -9`) after `submit` cannot lose it. One worker per server writes
//! queued records in order, backing off while the database is down, and deletes a record's spool
//! file only after the database accepted it. At start the worker re-queues every spooled file,
//! oldest first. The CRM upserts by call SID and a start record never replaces a stored one
//! (`crm::Crm::record_call`), so a record written twice (crash between commit and delete) still
//! makes one row with the newest state.
//!
//! A record the database refuses while it is otherwise up (a constraint, a bad value) is renamed
//! `.rejected` and logged as an error, so it cannot hold up the queue behind it. Spool files
//! hold transcripts and phone numbers: the directory is created 0700 and the files 0600.
//!
//! File names are `<call_sid>.<seq>.json`, `seq` a per-process counter started from the clock in
//! microseconds, so files sort in the order they were written across restarts.

use std::{
    collections::VecDeque,
    io::Write as _,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::ports::{CallCrm, CallRecord};

/// How long the worker keeps writing at shutdown; the rest stays spooled for the next start.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(1);

/// A record waiting for the database, and its spool file (absent without a spool directory, or
/// when the file could not be written).
#[derive(Debug)]
struct Queued {
    record: CallRecord,
    file: Option<PathBuf>,
}

/// Queues call records for the worker. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RecordOutbox {
    records_tx: mpsc::UnboundedSender<Queued>,
    spool: Option<Arc<Spool>>,
}

#[derive(Debug)]
struct Spool {
    dir: PathBuf,
    next_seq: AtomicU64,
}

/// Writes queued records; run it once per server with `run`.
pub struct OutboxWorker {
    crm: Arc<dyn CallCrm>,
    records_rx: mpsc::UnboundedReceiver<Queued>,
    spool: Option<Arc<Spool>>,
    retry_initial: Duration,
    retry_max: Duration,
}

impl RecordOutbox {
    /// An outbox and its worker. `spool_dir` keeps every record on disk until it lands.
    pub fn new(crm: Arc<dyn CallCrm>, spool_dir: Option<PathBuf>) -> (Self, OutboxWorker) {
        let (records_tx, records_rx) = mpsc::unbounded_channel();
        let spool = spool_dir.map(|dir| {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| {
                    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
                });
            Arc::new(Spool {
                dir,
                next_seq: AtomicU64::new(micros),
            })
        });
        let worker = OutboxWorker {
            crm,
            records_rx,
            spool: spool.clone(),
            retry_initial: Duration::from_millis(200),
            retry_max: Duration::from_secs(30),
        };
        (Self { records_tx, spool }, worker)
    }

    /// Writes `record` to the spool (on the blocking pool), then queues it for the database.
    /// Returns once the record is durable. (Unbounded on purpose: a record is small, at most two
    /// per call, and dropping one is the failure this type exists to prevent.)
    pub async fn submit(&self, record: CallRecord) {
        let file = match &self.spool {
            Some(spool) => {
                let seq = spool.next_seq.fetch_add(1, Ordering::Relaxed);
                let path = spool
                    .dir
                    .join(format!("{}.{seq:020}.json", file_stem(&record.call_sid)));
                let bytes = serde_json::to_vec(&record);
                let target = path.clone();
                let written = match bytes {
                    Ok(bytes) => {
                        tokio::task::spawn_blocking(move || write_durably(&target, &bytes))
                            .await
                            .map_err(std::io::Error::other)
                            .and_then(|res| res)
                    }
                    Err(err) => Err(std::io::Error::other(err)),
                };
                match written {
                    Ok(()) => Some(path),
                    Err(err) => {
                        error!(call_sid = record.call_sid, error = %err, "cannot spool the call record; it is only in memory until the database takes it");
                        None
                    }
                }
            }
            None => None,
        };
        if let Err(err) = self.records_tx.send(Queued { record, file }) {
            // The worker is gone (shutdown): the spool file, if any, is picked up at next start.
            warn!(
                call_sid = err.0.record.call_sid,
                spooled = err.0.file.is_some(),
                "call record outbox is closed; left in the spool"
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

    /// Writes records until `shutdown`, then tries what is still queued once. Whatever does not
    /// land stays in the spool for the next start.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut pending: VecDeque<Queued> = self.load_spool().await.into();
        // A record submitted before the worker started is both in the spool and in the channel.
        let loaded: std::collections::HashSet<PathBuf> = pending
            .iter()
            .filter_map(|queued| queued.file.clone())
            .collect();
        let is_new = |queued: &Queued| queued.file.as_ref().is_none_or(|f| !loaded.contains(f));
        let mut backoff = self.retry_initial;
        let mut outage_logged = false;
        loop {
            while let Ok(queued) = self.records_rx.try_recv() {
                if is_new(&queued) {
                    pending.push_back(queued);
                }
            }
            let Some(queued) = pending.front() else {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    queued = self.records_rx.recv() => match queued {
                        Some(queued) => {
                            if is_new(&queued) {
                                pending.push_back(queued);
                            }
                            continue;
                        }
                        None => break,
                    },
                }
            };
            match self.crm.record_call(&queued.record).await {
                Ok(()) => {
                    if outage_logged {
                        info!(
                            queued = pending.len() - 1,
                            "database back; writing queued call records"
                        );
                        outage_logged = false;
                    }
                    if let Some(done) = pending.pop_front() {
                        remove_spooled(done.file).await;
                    }
                    backoff = self.retry_initial;
                }
                Err(err) => {
                    // The database refused this record (the port says so, or it answers a ping
                    // while failing this write): retrying cannot help, and it must not hold up
                    // every record behind it. Set it aside for a person.
                    if !err.is_retryable() || self.crm.ping().await.is_ok() {
                        error!(call_sid = queued.record.call_sid, error = %err, "the database refused a call record; set aside in the spool as .rejected");
                        metrics::counter!("voice_call_records_rejected_total").increment(1);
                        if let Some(refused) = pending.pop_front() {
                            set_aside(refused.file).await;
                        }
                        continue;
                    }
                    if !outage_logged {
                        warn!(call_sid = queued.record.call_sid, error = %err, "cannot write call record; retrying with backoff");
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
        // Shutdown: take what is still queued and try each once; the rest stays spooled.
        self.records_rx.close();
        while let Some(queued) = self.records_rx.recv().await {
            if is_new(&queued) {
                pending.push_back(queued);
            }
        }
        // The whole attempt is bounded: what does not land by then is already on disk.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_FLUSH;
        let mut left = 0usize;
        for queued in pending {
            match tokio::time::timeout_at(deadline, self.crm.record_call(&queued.record)).await {
                Ok(Ok(())) => remove_spooled(queued.file).await,
                _ if queued.file.is_some() => left += 1,
                _ => error!(
                    call_sid = queued.record.call_sid,
                    "database unreachable at shutdown and the record is not spooled: lost"
                ),
            }
        }
        if left > 0 {
            warn!(
                count = left,
                "database unreachable at shutdown; call records stay spooled for the next start"
            );
        }
    }

    /// Every spooled record, oldest first.
    async fn load_spool(&self) -> Vec<Queued> {
        let Some(spool) = &self.spool else {
            return Vec::new();
        };
        let dir = spool.dir.clone();
        let loaded = tokio::task::spawn_blocking(move || read_spool(&dir)).await;
        let records = match loaded {
            Ok(records) => records,
            Err(err) => {
                error!(error = %err, "reading the call record spool failed");
                Vec::new()
            }
        };
        if !records.is_empty() {
            info!(count = records.len(), "re-queued spooled call records");
        }
        records
    }
}

/// The spool files of `dir` sorted by sequence (old `<call_sid>.json` files first).
fn read_spool(dir: &Path) -> Vec<Queued> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, PathBuf)> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let seq = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .and_then(|stem| stem.rsplit_once('.'))
                .and_then(|(_, seq)| seq.parse().ok())
                .unwrap_or(0);
            (seq, path)
        })
        .collect();
    found.sort();
    let mut records = Vec::with_capacity(found.len());
    for (_, path) in found {
        match std::fs::read(&path).map(|bytes| serde_json::from_slice::<CallRecord>(&bytes)) {
            Ok(Ok(record)) => records.push(Queued {
                record,
                file: Some(path),
            }),
            Ok(Err(err)) => {
                warn!(path = %path.display(), error = %err, "unreadable spooled call record left in place");
            }
            Err(err) => {
                warn!(path = %path.display(), error = %err, "cannot read spooled call record")
            }
        }
    }
    records
}

/// Write to a temporary file, `fsync` it, rename it into place and `fsync` the directory, so the
/// file is either absent or whole after a crash.
/// Records hold transcripts and phone numbers: the directory is 0700 and files 0600 (Unix).
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
    dirs.create(dir)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Renames a refused record's spool file to `.rejected`, where the loader does not pick it up.
async fn set_aside(file: Option<PathBuf>) {
    let Some(file) = file else {
        return;
    };
    let target = file.with_extension("rejected");
    let renamed = tokio::task::spawn_blocking(move || std::fs::rename(&file, &target)).await;
    if let Ok(Err(err)) = renamed {
        warn!(error = %err, "cannot set a refused call record aside");
    }
}

async fn remove_spooled(file: Option<PathBuf>) {
    let Some(file) = file else {
        return;
    };
    let removed =
        tokio::task::spawn_blocking(move || std::fs::remove_file(&file).map(|()| file)).await;
    if let Ok(Err(err)) = removed
        && err.kind() != std::io::ErrorKind::NotFound
    {
        warn!(error = %err, "cannot delete a landed call record's spool file; it will be written again (idempotent)");
    }
}

/// A call SID as a file name part (Twilio's are letters and digits; anything else is replaced).
fn file_stem(call_sid: &str) -> String {
    call_sid
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
