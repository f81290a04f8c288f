//! `Crm`: the connection pool, its configuration, migrations, timeouts and write transactions.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use conversation::ShopConfig;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, RuntimeErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use tracing::{debug, warn};

use crate::CrmError;
use crate::migration::Migrator;

/// Where the binary keeps its database when `DATABASE_URL` is unset: a SQLite file under
/// `./data/` (the directory is created on connect; `mode=rwc` creates the file).
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/voice-gateway.db?mode=rwc";

/// Tunables of the CRM store. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmConfig {
    /// Upper bound for one whole CRM operation (a lookup; a booking including its retries), so a
    /// slow database never stalls a call. Default 2 s.
    pub operation_timeout: Duration,
    /// Connection pool size. Default 8. An in-memory SQLite database always uses 1 (each
    /// connection would otherwise see its own database or fight over shared-cache table locks).
    pub max_connections: u32,
    /// SQLite only: how long a writer waits for the database write lock before failing with
    /// "database is locked". Default 1 s; keep it below `operation_timeout`.
    pub sqlite_busy_timeout: Duration,
    /// How many times a write transaction is retried after a serialization failure, deadlock or
    /// busy database before `CrmError::Contention`. Default 5.
    pub write_retries: u32,
    /// The longest date range `available_slots` accepts, in days. Default 31.
    pub max_slot_range_days: u32,
    /// Queue each finished call for the end-of-call webhook (`outcomes`), written with its
    /// final record. Default off.
    pub queue_outcomes: bool,
}

impl Default for CrmConfig {
    fn default() -> Self {
        Self {
            operation_timeout: Duration::from_secs(2),
            max_connections: 8,
            sqlite_busy_timeout: Duration::from_secs(1),
            write_retries: 5,
            max_slot_range_days: 31,
            queue_outcomes: false,
        }
    }
}

/// The CRM store over sea-orm, on SQLite or PostgreSQL. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct Crm {
    pub(crate) db: DatabaseConnection,
    pub(crate) config: CrmConfig,
    pub(crate) shop: ShopConfig,
}

/// Connects to `database_url` (`sqlite://…` or `postgres://…`) and runs pending migrations.
/// This is what the binary calls on start.
pub async fn connect_and_migrate(
    database_url: &str,
    config: &CrmConfig,
    shop: ShopConfig,
) -> Result<Crm, CrmError> {
    let crm = Crm::connect(database_url, config, shop).await?;
    crm.migrate().await?;
    Ok(crm)
}

/// Connects, runs pending migrations and closes the pool (`voice-gateway migrate`).
pub async fn migrate(database_url: &str, config: &CrmConfig) -> Result<(), CrmError> {
    let db = open_pool(database_url, config).await?;
    let res = run_migrations(&db).await;
    if let Err(err) = db.close().await {
        debug!(error = %err, "closing the pool after migrating failed");
    }
    res
}

impl Crm {
    /// Connects without migrating (use `connect_and_migrate` unless the schema is known current).
    /// For a SQLite file, the file's directory is created if missing.
    pub async fn connect(
        database_url: &str,
        config: &CrmConfig,
        shop: ShopConfig,
    ) -> Result<Crm, CrmError> {
        let db = open_pool(database_url, config).await?;
        Ok(Crm {
            db,
            config: config.clone(),
            shop,
        })
    }

    /// Runs pending migrations (idempotent).
    pub async fn migrate(&self) -> Result<(), CrmError> {
        run_migrations(&self.db).await
    }

    /// The shop this CRM books for.
    pub fn shop(&self) -> &ShopConfig {
        &self.shop
    }

    /// `"sqlite"` or `"postgres"`, for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgres",
            _ => "other",
        }
    }

    /// Readiness check: one trivial round trip to the database, under the operation timeout.
    pub async fn ping(&self) -> Result<(), CrmError> {
        self.timed("ping", async {
            self.db.ping().await.map_err(CrmError::db("ping"))
        })
        .await
    }

    /// Closes the pool; in-flight operations finish first.
    pub async fn close(self) -> Result<(), CrmError> {
        self.db.close().await.map_err(CrmError::db("close"))
    }

    /// Runs `fut` under the configured operation timeout.
    pub(crate) async fn timed<T>(
        &self,
        operation: &'static str,
        fut: impl Future<Output = Result<T, CrmError>>,
    ) -> Result<T, CrmError> {
        let after = self.config.operation_timeout;
        match tokio::time::timeout(after, fut).await {
            Ok(res) => res,
            Err(_) => Err(CrmError::Timeout { operation, after }),
        }
    }

    /// Starts a transaction that may write appointments, serialized against other such
    /// transactions so a capacity check and the insert that follows it are atomic:
    /// - SQLite: `BEGIN IMMEDIATE` takes the single write lock up front (waiting up to the busy
    ///   timeout), so two bookings can never both read "1 bay free";
    /// - PostgreSQL: a transaction-scoped advisory lock. The transaction stays READ COMMITTED, so
    ///   every statement after the lock sees all bookings committed before it.
    pub(crate) async fn begin_booking_txn(&self) -> Result<DatabaseTransaction, DbErr> {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => {
                self.db
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..TransactionOptions::default()
                    })
                    .await
            }
            DbBackend::Postgres => {
                let txn = self.db.begin().await?;
                txn.execute_unprepared(&format!(
                    "SELECT pg_advisory_xact_lock({BOOKING_LOCK_KEY})"
                ))
                .await?;
                Ok(txn)
            }
            _ => self.db.begin().await,
        }
    }

    /// Runs a write transaction, retrying it when the database reports a transient conflict
    /// (serialization failure, deadlock, busy or locked) up to `write_retries` times.
    pub(crate) async fn with_write_retries<T, F, Fut>(
        &self,
        operation: &'static str,
        mut attempt: F,
    ) -> Result<T, CrmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CrmError>>,
    {
        let max_attempts = self.config.write_retries.saturating_add(1);
        let mut n_attempts = 0;
        loop {
            n_attempts += 1;
            match attempt().await {
                Err(CrmError::Database { source, .. }) if is_transient(&source.0) => {
                    if n_attempts >= max_attempts {
                        warn!(
                            operation,
                            attempts = n_attempts,
                            "write kept conflicting, giving up"
                        );
                        return Err(CrmError::Contention {
                            attempts: n_attempts,
                        });
                    }
                    debug!(operation, attempt = n_attempts, error = %source, "transient write conflict, retrying");
                    // A short, growing pause lets the winner commit; bounded by the op timeout.
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(n_attempts))).await;
                }
                res => return res,
            }
        }
    }
}

/// Key of the PostgreSQL advisory lock that serializes bookings ("VGBOOK" in ASCII).
const BOOKING_LOCK_KEY: i64 = 0x5647_424F_4F4B;

async fn open_pool(database_url: &str, config: &CrmConfig) -> Result<DatabaseConnection, CrmError> {
    let mut options = ConnectOptions::new(database_url.to_owned());
    // Statement logging would put phone numbers into the logs.
    options
        .sqlx_logging(false)
        .connect_timeout(config.operation_timeout)
        .acquire_timeout(config.operation_timeout)
        .max_connections(config.max_connections.max(1));
    if database_url.starts_with("sqlite:") {
        let is_memory = is_sqlite_memory(database_url);
        if is_memory {
            // One connection, kept open: the database lives as long as the pool does.
            options.max_connections(1).min_connections(1);
        } else {
            create_sqlite_dir(database_url)?;
        }
        let busy_timeout = config.sqlite_busy_timeout;
        options.map_sqlx_sqlite_opts(move |opts| {
            let opts = opts.busy_timeout(busy_timeout).foreign_keys(true);
            if is_memory {
                opts
            } else {
                // WAL lets readers (lookups during a call) proceed while a booking writes.
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            }
        });
    }
    Database::connect(options)
        .await
        .map_err(CrmError::db("connect"))
}

/// Migrations are not bounded by the per-operation timeout: a first start on a slow disk may
/// legitimately take longer, and no caller is waiting on a phone line yet.
async fn run_migrations(db: &DatabaseConnection) -> Result<(), CrmError> {
    Migrator::up(db, None)
        .await
        .map_err(CrmError::db("migrate"))
}

fn is_sqlite_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Creates the directory of a SQLite file URL (`sqlite://data/x.db?mode=rwc` -> `data/`).
fn create_sqlite_dir(url: &str) -> Result<(), CrmError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    let Some(dir) = Path::new(path).parent() else {
        return Ok(());
    };
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|err| {
        CrmError::InvalidArgument(format!(
            "cannot create database directory {}: {err}",
            dir.display()
        ))
    })
}

/// Whether a database error is a transient conflict worth retrying the whole transaction for.
fn is_transient(err: &DbErr) -> bool {
    let runtime = match err {
        DbErr::Exec(e) | DbErr::Query(e) | DbErr::Conn(e) => e,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(db_err) = &**sqlx_err else {
        return false;
    };
    let Some(code) = db_err.code() else {
        return false;
    };
    matches!(
        &*code,
        // PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
        "40001" | "40P01" | "55P03"
        // SQLite primary and extended codes: SQLITE_BUSY (5), SQLITE_LOCKED (6),
        // SQLITE_BUSY_RECOVERY (261), SQLITE_LOCKED_SHAREDCACHE (262), SQLITE_BUSY_SNAPSHOT (517).
        | "5" | "6" | "261" | "262" | "517"
    )
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use sea_orm::sqlx::error::{DatabaseError as SqlxDatabaseError, ErrorKind};

    use super::*;

    /// A driver error with a given SQLSTATE / SQLite result code.
    #[derive(Debug)]
    struct CodedError(&'static str);

    impl std::fmt::Display for CodedError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "code {}", self.0)
        }
    }

    impl std::error::Error for CodedError {}

    impl SqlxDatabaseError for CodedError {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn coded(code: &'static str) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(Arc::new(
            sea_orm::sqlx::Error::Database(Box::new(CodedError(code))),
        )))
    }

    #[test]
    fn only_conflicts_are_transient() {
        for code in ["40001", "40P01", "55P03", "5", "6", "261", "262", "517"] {
            assert!(is_transient(&coded(code)), "{code}");
        }
        for code in ["23505", "2067", "42P01", "1"] {
            assert!(!is_transient(&coded(code)), "{code}");
        }
        assert!(!is_transient(&DbErr::RecordNotFound("x".into())));
        assert!(!is_transient(&DbErr::Exec(RuntimeErr::Internal(
            "x".into()
        ))));
    }

    async fn memory_crm(write_retries: u32) -> Crm {
        let config = CrmConfig {
            write_retries,
            ..CrmConfig::default()
        };
        Crm::connect("sqlite::memory:", &config, ShopConfig::default_shop())
            .await
            .unwrap()
    }

    /// Runs `with_write_retries` with an attempt that fails with `code` the first `n_failures`
    /// times; returns the result and the number of attempts made.
    async fn attempts(
        crm: &Crm,
        n_failures: u32,
        code: &'static str,
    ) -> (Result<u32, CrmError>, u32) {
        let n_calls = AtomicU32::new(0);
        let res = crm
            .with_write_retries("test", || async {
                let call = n_calls.fetch_add(1, Ordering::SeqCst);
                if call < n_failures {
                    Err(CrmError::db("test")(coded(code)))
                } else {
                    Ok(call)
                }
            })
            .await;
        (res, n_calls.load(Ordering::SeqCst))
    }

    // Real time: the backoff sleeps are a few ms, and a paused clock would race the pool's
    // acquire timeout against SQLite's worker thread.
    #[tokio::test]
    async fn transient_conflicts_are_retried_a_bounded_number_of_times() {
        let crm = memory_crm(3).await;
        let (res, n) = attempts(&crm, 3, "40001").await;
        assert_eq!((res.unwrap(), n), (3, 4));
        let (res, n) = attempts(&crm, 10, "5").await;
        assert!(
            matches!(res, Err(CrmError::Contention { attempts: 4 })),
            "{res:?}"
        );
        assert_eq!(n, 4);
        // Other errors are returned at once.
        let (res, n) = attempts(&crm, 10, "23505").await;
        assert!(matches!(res, Err(CrmError::Database { .. })), "{res:?}");
        assert_eq!(n, 1);
        let (res, n) = attempts(&memory_crm(0).await, 10, "40001").await;
        assert!(
            matches!(res, Err(CrmError::Contention { attempts: 1 })),
            "{res:?}"
        );
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn in_memory_sqlite_migrates_and_answers() {
        let crm = memory_crm(0).await;
        crm.migrate().await.unwrap();
        crm.migrate().await.unwrap();
        assert_eq!(crm.backend_name(), "sqlite");
        let now = chrono::Utc::now();
        assert_eq!(
            crm.lookup_customer("+14135550100", now).await.unwrap(),
            None
        );
    }

    #[test]
    fn sqlite_dir_is_taken_from_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}/nested/db.sqlite?mode=rwc",
            dir.path().display()
        );
        create_sqlite_dir(&url).unwrap();
        assert!(dir.path().join("nested").is_dir());
        // A bare file name needs no directory.
        create_sqlite_dir("sqlite://db.sqlite?mode=rwc").unwrap();
    }

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_sqlite_memory("sqlite::memory:"));
        assert!(is_sqlite_memory("sqlite://file:x?mode=memory&cache=shared"));
        assert!(!is_sqlite_memory(DEFAULT_DATABASE_URL));
    }
}
