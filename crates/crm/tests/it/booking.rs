//! Booking rules, availability, the capacity race, reschedule and cancel.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use crm::{BookedVia, BookingRequest, Crm, CrmConfig, CrmError, NewCustomer, NewVehicle};
use sea_orm::{
    ConnectionTrait, Database, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::Barrier;

use crate::harness::{Backend, TestDb, both_backends, local, now, shop};

both_backends!(
    concurrent_bookings_fill_exactly_the_bays,
    booking_rules_are_enforced,
    available_slots_reflect_bookings,
    reschedule_and_cancel,
    a_held_write_lock_turns_into_a_timeout,
    the_daily_booking_limit_counts_the_shop_local_day,
);

pub(crate) async fn customer(crm: &Crm, last4: u32) -> i64 {
    crm.find_or_create_customer(&NewCustomer {
        first_name: format!("Test{last4}"),
        last_name: "Customer".to_owned(),
        phone: format!("(617) 555-{last4:04}"),
        email: None,
    })
    .await
    .unwrap()
}

pub(crate) fn request(
    customer_id: i64,
    service: &str,
    starts_at: chrono::DateTime<chrono::Utc>,
) -> BookingRequest {
    BookingRequest {
        customer_id,
        vehicle_id: None,
        service: service.to_owned(),
        starts_at,
        notes: None,
        booked_via: BookedVia::PhoneAgent,
        daily_limit: None,
    }
}

async fn concurrent_bookings_fill_exactly_the_bays(db: TestDb) {
    let n_callers = 20;
    let mut customers = Vec::new();
    for idx in 0..n_callers {
        customers.push(customer(&db.crm, 100 + idx).await);
    }
    let start = local(2026, 11, 25, 9, 0);
    let barrier = Arc::new(Barrier::new(customers.len()));
    let mut tasks = tokio::task::JoinSet::new();
    for &customer_id in &customers {
        let crm = db.crm.clone();
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            barrier.wait().await;
            crm.book_appointment(&request(customer_id, "oil change", start), now())
                .await
        });
    }
    let mut n_booked = 0;
    let mut n_full = 0;
    while let Some(res) = tasks.join_next().await {
        match res.unwrap() {
            Ok(_) => n_booked += 1,
            Err(CrmError::SlotFull) => n_full += 1,
            Err(other) => panic!("unexpected booking error: {other:?}"),
        }
    }
    assert_eq!((n_booked, n_full), (2, 18));
    // The slot is gone, and nothing extra was written.
    let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let slots = db
        .crm
        .available_slots(date, date, "oil change", now())
        .await
        .unwrap();
    assert!(slots.iter().all(|slot| slot.starts_at != start));
    let mut n_rows = 0;
    for customer_id in customers {
        n_rows += db
            .crm
            .find_upcoming_appointments(customer_id, now())
            .await
            .unwrap()
            .len();
    }
    assert_eq!(n_rows, 2);
}

async fn booking_rules_are_enforced(db: TestDb) {
    let crm = &db.crm;
    let alice = customer(crm, 142).await;
    let bob = customer(crm, 143).await;
    let bobs_car = crm
        .add_vehicle(
            bob,
            &NewVehicle {
                year: 2018,
                make: "Ford".into(),
                model: "Focus".into(),
                mileage: None,
                vin: None,
                license_plate: None,
            },
        )
        .await
        .unwrap();

    #[track_caller]
    fn describe(res: Result<conversation::AppointmentInfo, CrmError>) -> String {
        match res {
            Ok(info) => format!("ok {} {}min", info.service, info.duration_minutes),
            Err(err) => format!("{err:?}"),
        }
    }
    let mut log = Vec::new();
    for (label, req) in [
        (
            "synonym",
            request(alice, "lube job", local(2026, 11, 25, 8, 0)),
        ),
        (
            "thanksgiving",
            request(alice, "oil change", local(2026, 11, 26, 9, 0)),
        ),
        (
            "sunday",
            request(alice, "oil change", local(2026, 11, 29, 9, 0)),
        ),
        (
            "past",
            request(alice, "oil change", local(2026, 11, 23, 9, 0)),
        ),
        (
            "too late",
            request(alice, "brake service", local(2026, 11, 25, 17, 0)),
        ),
        (
            "off grid",
            request(alice, "oil change", local(2026, 11, 25, 9, 10)),
        ),
        (
            "unknown service",
            request(alice, "teleportation", local(2026, 11, 25, 9, 0)),
        ),
        (
            "unknown customer",
            request(9999, "oil change", local(2026, 11, 25, 9, 0)),
        ),
        (
            "someone else's car",
            BookingRequest {
                vehicle_id: Some(bobs_car.id),
                ..request(alice, "oil change", local(2026, 11, 25, 9, 0))
            },
        ),
        (
            "own car",
            BookingRequest {
                vehicle_id: Some(bobs_car.id),
                ..request(bob, "brake service", local(2026, 11, 25, 9, 0))
            },
        ),
    ] {
        log.push(format!(
            "{label}: {}",
            describe(crm.book_appointment(&req, now()).await)
        ));
    }
    assert_eq!(
        log.join("\n"),
        "synonym: ok oil change 30min
thanksgiving: Closed { date: 2026-11-26, holiday: Some(\"Thanksgiving\") }
sunday: Closed { date: 2026-11-29, holiday: None }
past: InPast
too late: OutsideHours { reason: \"on 2026-11-25 the shop is open 08:00-18:00 and this service takes 90 minutes\" }
off grid: OutsideHours { reason: \"appointments start every 30 minutes from 08:00\" }
unknown service: UnknownService { name: \"teleportation\" }
unknown customer: CustomerNotFound
someone else's car: VehicleNotFound
own car: ok brake service 90min"
    );
    let bobs = crm.find_upcoming_appointments(bob, now()).await.unwrap();
    assert_eq!(bobs[0].vehicle.as_deref(), Some("2018 Ford Focus"));
}

async fn available_slots_reflect_bookings(db: TestDb) {
    let crm = &db.crm;
    let alice = customer(crm, 150).await;
    let bob = customer(crm, 151).await;
    let date = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let before = crm
        .available_slots(date, date, "brake service", now())
        .await
        .unwrap();
    // 08:00 .. 16:30 every 30 minutes: 18 starts for a 90-minute job.
    assert_eq!(before.len(), 18);
    assert!(before.iter().all(|slot| slot.free_bays == 2));
    // Two brake jobs at 10:00 fill both bays from 10:00 to 11:30.
    for who in [alice, bob] {
        crm.book_appointment(
            &request(who, "brake service", local(2026, 11, 27, 10, 0)),
            now(),
        )
        .await
        .unwrap();
    }
    let after = crm
        .available_slots(date, date, "oil change", now())
        .await
        .unwrap();
    let starts: Vec<String> = after
        .iter()
        .map(|slot| slot.local_start.format("%H:%M").to_string())
        .filter(|t| t.as_str() < "12:00")
        .collect();
    assert_eq!(starts, ["08:00", "08:30", "09:00", "09:30", "11:30"]);
    // A 90-minute job cannot start at 09:00 either: it would run into the full bays.
    let brakes = crm
        .available_slots(date, date, "brake service", now())
        .await
        .unwrap();
    let brake_starts: Vec<String> = brakes
        .iter()
        .map(|slot| slot.local_start.format("%H:%M").to_string())
        .filter(|t| t.as_str() < "12:00")
        .collect();
    assert_eq!(brake_starts, ["08:00", "08:30", "11:30"]);
    // Closed days and the holiday have no slots; the range spans them.
    let wed = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let sun = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let range = crm
        .available_slots(wed, sun, "oil change", now())
        .await
        .unwrap();
    let days: std::collections::BTreeSet<NaiveDate> =
        range.iter().map(|slot| slot.local_start.date()).collect();
    let expected: std::collections::BTreeSet<NaiveDate> = [25, 27, 28]
        .into_iter()
        .map(|d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap())
        .collect();
    assert_eq!(days, expected);
    // Bad ranges and services are typed errors.
    assert!(matches!(
        crm.available_slots(sun, wed, "oil change", now()).await,
        Err(CrmError::InvalidArgument(_))
    ));
    let far = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
    assert!(matches!(
        crm.available_slots(wed, far, "oil change", now()).await,
        Err(CrmError::InvalidArgument(_))
    ));
    assert!(matches!(
        crm.available_slots(wed, wed, "sandblasting", now()).await,
        Err(CrmError::UnknownService { .. })
    ));
}

async fn reschedule_and_cancel(db: TestDb) {
    let crm = &db.crm;
    let alice = customer(crm, 160).await;
    let bob = customer(crm, 161).await;
    let carol = customer(crm, 162).await;
    let nine = local(2026, 11, 30, 9, 0);
    let ten = local(2026, 11, 30, 10, 0);
    let booked = crm
        .book_appointment(&request(alice, "oil change", nine), now())
        .await
        .unwrap();
    crm.book_appointment(&request(bob, "oil change", ten), now())
        .await
        .unwrap();
    crm.book_appointment(&request(carol, "oil change", ten), now())
        .await
        .unwrap();

    // 10:00 is full.
    assert!(matches!(
        crm.reschedule_appointment(booked.id, ten, now()).await,
        Err(CrmError::SlotFull)
    ));
    // Moving within its own time does not count itself.
    let moved = crm
        .reschedule_appointment(booked.id, nine, now())
        .await
        .unwrap();
    assert_eq!(moved.starts_at, nine);
    let moved = crm
        .reschedule_appointment(booked.id, local(2026, 11, 30, 11, 0), now())
        .await
        .unwrap();
    assert_eq!(moved.starts_at, local(2026, 11, 30, 11, 0));
    assert!(matches!(
        crm.reschedule_appointment(booked.id, local(2026, 11, 26, 11, 0), now())
            .await,
        Err(CrmError::Closed { .. })
    ));

    let cancelled = crm.cancel_appointment(booked.id, now()).await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert!(matches!(
        crm.cancel_appointment(booked.id, now()).await,
        Err(CrmError::AppointmentNotScheduled { .. })
    ));
    assert!(matches!(
        crm.reschedule_appointment(booked.id, nine, now()).await,
        Err(CrmError::AppointmentNotScheduled { .. })
    ));
    assert!(matches!(
        crm.cancel_appointment(424_242, now()).await,
        Err(CrmError::AppointmentNotFound)
    ));
    assert!(
        crm.find_upcoming_appointments(alice, now())
            .await
            .unwrap()
            .is_empty()
    );
    let stored = crm.get_appointment(booked.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.customer_id, stored.info.status.as_str()),
        (alice, "cancelled")
    );

    // A cancelled appointment frees its bay: 10:00 is full, cancel one there and book again.
    let bobs = crm.find_upcoming_appointments(bob, now()).await.unwrap();
    crm.cancel_appointment(bobs[0].id, now()).await.unwrap();
    crm.book_appointment(&request(alice, "oil change", ten), now())
        .await
        .unwrap();
    // An appointment that already started cannot be changed.
    let later = local(2026, 11, 30, 10, 5);
    assert!(matches!(
        crm.cancel_appointment(bobs[0].id, later).await,
        Err(CrmError::AppointmentNotScheduled { .. })
    ));
    let carols = crm.find_upcoming_appointments(carol, now()).await.unwrap();
    assert!(matches!(
        crm.cancel_appointment(carols[0].id, later).await,
        Err(CrmError::InPast)
    ));
}

/// Another connection holds the write lock (SQLite) or an exclusive table lock (PostgreSQL);
/// a booking must give up at the operation timeout rather than hang the call.
async fn a_held_write_lock_turns_into_a_timeout(db: TestDb) {
    let alice = customer(&db.crm, 170).await;
    let impatient = crm::connect_and_migrate(
        &db.url,
        &CrmConfig {
            operation_timeout: Duration::from_millis(300),
            sqlite_busy_timeout: Duration::from_secs(10),
            ..CrmConfig::default()
        },
        shop(),
    )
    .await
    .unwrap();
    let blocker = Database::connect(&db.url).await.unwrap();
    let txn = match db.backend {
        Backend::Sqlite => blocker
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .unwrap(),
        Backend::Postgres => {
            let txn = blocker.begin().await.unwrap();
            txn.execute_unprepared("LOCK TABLE appointments IN ACCESS EXCLUSIVE MODE")
                .await
                .unwrap();
            txn
        }
    };
    let res = impatient
        .book_appointment(
            &request(alice, "oil change", local(2026, 11, 25, 9, 0)),
            now(),
        )
        .await;
    assert!(
        matches!(
            res,
            Err(CrmError::Timeout {
                operation: "book_appointment",
                ..
            })
        ),
        "{res:?}"
    );
    assert!(res.unwrap_err().is_unavailable());
    txn.rollback().await.unwrap();
    // Once the lock is gone the same store books fine.
    impatient
        .book_appointment(
            &request(alice, "oil change", local(2026, 11, 25, 9, 0)),
            now(),
        )
        .await
        .unwrap();
    impatient.close().await.unwrap();
    blocker.close().await.unwrap();
}

/// `daily_limit` counts this customer's bookings of the same channel made on the shop-local day
/// of `now`; other customers, other channels and the next day are not counted.
async fn the_daily_booking_limit_counts_the_shop_local_day(db: TestDb) {
    let crm = &db.crm;
    let alice = customer(crm, 301).await;
    let bob = customer(crm, 302).await;
    let limited = |customer_id, hour| BookingRequest {
        daily_limit: Some(2),
        ..request(customer_id, "oil change", local(2026, 11, 27, hour, 0))
    };
    // 23:30 local on the 24th is already the 25th in UTC: still the same local day.
    let late_evening = local(2026, 11, 24, 23, 30);
    let mut log = Vec::new();
    for (label, req, at) in [
        ("first", limited(alice, 9), now()),
        ("second", limited(alice, 10), late_evening),
        ("third, same day", limited(alice, 11), late_evening),
        ("bob is not alice", limited(bob, 11), now()),
        (
            "staff bookings are another channel",
            BookingRequest {
                booked_via: BookedVia::Staff,
                ..limited(alice, 12)
            },
            now(),
        ),
        ("next day", limited(alice, 13), local(2026, 11, 25, 8, 0)),
    ] {
        let res = crm.book_appointment(&req, at).await;
        log.push(format!(
            "{label}: {}",
            match res {
                Ok(_) => "booked".to_owned(),
                Err(err) => format!("{err:?}"),
            }
        ));
    }
    assert_eq!(
        log,
        [
            "first: booked",
            "second: booked",
            "third, same day: BookingLimit { limit: 2 }",
            "bob is not alice: booked",
            "staff bookings are another channel: booked",
            "next day: booked",
        ]
    );
}
