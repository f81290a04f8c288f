//! Test databases: a temp SQLite file or a throwaway PostgreSQL database per test.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use conversation::ShopConfig;
use crm::{Crm, CrmConfig};
use sea_orm::{ConnectionTrait, Database};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// What a test body gets.
#[derive(Debug, Clone)]
pub(crate) struct TestDb {
    pub(crate) crm: Crm,
    pub(crate) url: String,
    pub(crate) backend: Backend,
}

/// Runs every named `async fn name(db: TestDb)` on both backends as `name::sqlite` and
/// `name::postgres`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    crate::harness::run(crate::harness::Backend::Sqlite, super::$name).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    crate::harness::run(crate::harness::Backend::Postgres, super::$name).await;
                }
            }
        )*
    };
}
pub(crate) use both_backends;

/// The real shop (fixtures/shop.toml: Mon-Fri 08-18, Sat 09-14, Thanksgiving 2026-11-26
/// closed, America/New_York) with 2 bays, so capacity is easy to reach.
pub(crate) fn shop() -> ShopConfig {
    let mut shop = ShopConfig::default_shop();
    shop.bay_capacity = 2;
    shop
}

/// "Now" for every test: Tuesday 2026-11-24 07:00 in New York.
pub(crate) fn now() -> DateTime<Utc> {
    local(2026, 11, 24, 7, 0)
}

/// A shop-local wall-clock time as UTC.
pub(crate) fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::America::New_York
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn config() -> CrmConfig {
    CrmConfig {
        // Generous: 20 concurrent bookings on a loaded 2-core machine must not time out.
        operation_timeout: Duration::from_secs(20),
        sqlite_busy_timeout: Duration::from_secs(15),
        // No retries: the booking lock alone (BEGIN IMMEDIATE, advisory lock) must serialize
        // concurrent bookings; a design that needed retries to be correct fails the race test.
        write_retries: 0,
        ..CrmConfig::default()
    }
}

/// Creates the database, runs `body`, drops the database (also when `body` panics), then
/// re-raises the panic.
pub(crate) async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/crm.db?mode=rwc", dir.path().display());
            let crm = crm::connect_and_migrate(&url, &config(), shop())
                .await
                .unwrap();
            let res = tokio::spawn(body(TestDb {
                crm: crm.clone(),
                url,
                backend,
            }))
            .await;
            let _ = crm.close().await;
            drop(dir);
            if let Err(err) = res {
                std::panic::resume_unwind(err.into_panic());
            }
        }
        Backend::Postgres => {
            let Some(admin_url) = postgres_url() else {
                return;
            };
            let name = format!("vg_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let url = with_database(&admin_url, &name);
            let crm = crm::connect_and_migrate(&url, &config(), shop())
                .await
                .unwrap();
            let res = tokio::spawn(body(TestDb {
                crm: crm.clone(),
                url,
                backend,
            }))
            .await;
            let _ = crm.close().await;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .unwrap();
            let _ = admin.close().await;
            if let Err(err) = res {
                std::panic::resume_unwind(err.into_panic());
            }
        }
    }
}

fn postgres_url() -> Option<String> {
    match std::env::var("VOICE_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but VOICE_TEST_DATABASE_URL is not: PostgreSQL tests cannot run"
            );
            eprintln!("skipping: VOICE_TEST_DATABASE_URL is not set");
            None
        }
    }
}

/// `postgres://u@h:5432/test?x=y` with the database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[test]
fn database_name_is_replaced_in_the_url() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}
