//! `lookup_customer` latency on SQLite with 100 000 customers (target: p99 < 1 ms).
//!
//! Run once with `cargo bench -p crm --bench lookup`. It loads a temp database (every customer
//! has a vehicle, every fifth an upcoming appointment), warms up, then times 20 000 lookups of
//! random numbers (90 % known, 10 % unknown, in mixed formats) and prints percentiles.

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use conversation::ShopConfig;
use crm::CrmConfig;
use sea_orm::{ConnectionTrait, Database, TransactionTrait};

const N_CUSTOMERS: u32 = 100_000;
const N_LOOKUPS: usize = 20_000;
const BATCH: u32 = 500;

/// A distinct, valid US number for customer `idx` (10 area codes x 100 exchanges x 100 lines).
fn phone(idx: u32) -> String {
    const AREA_CODES: [u32; 10] = [212, 413, 617, 202, 303, 312, 415, 512, 718, 860];
    let area = AREA_CODES[(idx / 10_000) as usize % AREA_CODES.len()];
    let rest = idx % 10_000;
    // N11 exchanges (311) are not assignable; 219 is otherwise unused in 220..=319.
    let exchange = match 220 + rest / 100 {
        311 => 219,
        exchange => exchange,
    };
    let line = 1000 + rest % 100;
    format!("+1{area}{exchange}{line:04}")
}

/// A tiny deterministic PRNG (xorshift) so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    let crm = crm::connect_and_migrate(&url, &CrmConfig::default(), ShopConfig::default_shop())
        .await
        .unwrap();

    let load_start = Instant::now();
    let loader = Database::connect(&url).await.unwrap();
    let txn = loader.begin().await.unwrap();
    let created = "2026-01-01 00:00:00+00:00";
    let mut idx = 0;
    while idx < N_CUSTOMERS {
        let end = (idx + BATCH).min(N_CUSTOMERS);
        let customers: Vec<String> = (idx..end)
            .map(|i| {
                format!(
                    "({}, 'First{i}', 'Last{i}', '{}', NULL, '{created}')",
                    i + 1,
                    phone(i)
                )
            })
            .collect();
        txn.execute_unprepared(&format!(
            "INSERT INTO customers (id, first_name, last_name, phone, email, created_at) VALUES {}",
            customers.join(",")
        ))
        .await
        .unwrap();
        let vehicles: Vec<String> = (idx..end)
            .map(|i| {
                format!(
                    "({}, {}, {}, 'Honda', 'Civic', {}, NULL, '{created}')",
                    i + 1,
                    i + 1,
                    2005 + i % 20,
                    10_000 + i % 90_000
                )
            })
            .collect();
        txn.execute_unprepared(&format!(
            "INSERT INTO vehicles (id, customer_id, year, make, model, mileage, vin, created_at) VALUES {}",
            vehicles.join(",")
        ))
        .await
        .unwrap();
        let appointments: Vec<String> = (idx..end)
            .filter(|i| i % 5 == 0)
            .map(|i| {
                let day = 1 + i % 28;
                format!(
                    "({id}, {id}, 'oil change', '2026-12-{day:02} 14:00:00+00:00', '2026-12-{day:02} 14:30:00+00:00', 30, 'scheduled', NULL, 'seed', '{created}', '{created}')",
                    id = i + 1
                )
            })
            .collect();
        if !appointments.is_empty() {
            txn.execute_unprepared(&format!(
                "INSERT INTO appointments (customer_id, vehicle_id, service, starts_at, ends_at, duration_minutes, status, notes, booked_via, created_at, updated_at) VALUES {}",
                appointments.join(",")
            ))
            .await
            .unwrap();
        }
        idx = end;
    }
    txn.commit().await.unwrap();
    loader.execute_unprepared("ANALYZE").await.unwrap();
    loader.close().await.unwrap();
    println!(
        "loaded {N_CUSTOMERS} customers in {:?}",
        load_start.elapsed()
    );

    let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
    // Sanity: a known number is found with its vehicle and appointment.
    let profile = crm.lookup_customer(&phone(0), now).await.unwrap().unwrap();
    assert_eq!(
        (profile.vehicles.len(), profile.upcoming_appointments.len()),
        (1, 1)
    );

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let queries: Vec<String> = (0..N_LOOKUPS + 1_000)
        .map(|_| {
            let idx = (rng.next() % u64::from(N_CUSTOMERS)) as u32;
            let e164 = phone(idx);
            match rng.next() % 10 {
                // Unknown: a line number no customer has.
                0 => format!("{}0999", &e164[..e164.len() - 4]),
                1 => format!("({}) {}-{}", &e164[2..5], &e164[5..8], &e164[8..]),
                _ => e164,
            }
        })
        .collect();
    for query in &queries[..1_000] {
        let _ = crm.lookup_customer(query, now).await.unwrap();
    }
    let mut timings: Vec<Duration> = Vec::with_capacity(N_LOOKUPS);
    let mut n_found = 0;
    for query in &queries[1_000..] {
        let start = Instant::now();
        let found = crm.lookup_customer(query, now).await.unwrap();
        timings.push(start.elapsed());
        n_found += usize::from(found.is_some());
    }
    timings.sort();
    let pct = |p: f64| timings[((timings.len() as f64 * p) as usize).min(timings.len() - 1)];
    println!(
        "lookup_customer over {N_LOOKUPS} lookups ({n_found} found): p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        timings[timings.len() - 1],
    );
    crm.close().await.unwrap();
}
