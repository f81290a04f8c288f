//! The demo data in fixtures/crm/demo.json.

use chrono::TimeZone as _;
use crm::{CrmError, DEMO_JSON as DEMO, SeedReport};

use crate::harness::{TestDb, both_backends, local, now};

both_backends!(seeding_the_demo_data_twice_adds_nothing_the_second_time);

async fn seeding_the_demo_data_twice_adds_nothing_the_second_time(db: TestDb) {
    let crm = &db.crm;
    let first = crm.seed_demo(DEMO, now()).await.unwrap();
    assert_eq!(first.customers_existing, 0);
    assert!(first.customers_added >= 30, "{first:?}");
    assert!(first.vehicles_added >= first.customers_added);
    assert!(first.appointments_added >= 40, "{first:?}");
    let second = crm.seed_demo(DEMO, now()).await.unwrap();
    assert_eq!(
        second,
        SeedReport {
            customers_added: 0,
            customers_existing: first.customers_added,
            vehicles_added: 0,
            appointments_added: 0,
        }
    );

    // John Smith, for the seed's Test 2: a Civic and a brake job on Monday.
    let john = crm
        .lookup_customer("(413) 555-0100", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (john.first_name.as_str(), john.last_name.as_str()),
        ("John", "Smith")
    );
    assert_eq!(john.vehicles.len(), 1);
    assert_eq!(john.vehicles[0].describe(), "2019 Honda Civic");
    assert_eq!(john.upcoming_appointments.len(), 1);
    let next = &john.upcoming_appointments[0];
    assert_eq!(
        (
            next.service.as_str(),
            next.starts_at,
            next.vehicle.as_deref()
        ),
        (
            "brake service",
            local(2026, 11, 30, 10, 0),
            Some("2019 Honda Civic")
        )
    );

    assert!(matches!(
        crm.seed_demo("{\"customers\": 3}", now()).await,
        Err(CrmError::InvalidArgument(_))
    ));
    let bad_phone =
        r#"{"customers": [{"first_name": "A", "last_name": "B", "phone": "555-0142"}]}"#;
    assert!(matches!(
        crm.seed_demo(bad_phone, now()).await,
        Err(CrmError::InvalidArgument(_))
    ));
}

both_backends!(demo_seeded_a_year_later_still_has_upcoming_appointments);

async fn demo_seeded_a_year_later_still_has_upcoming_appointments(db: TestDb) {
    let crm = &db.crm;
    // 400 days later: the dates move by 57 whole weeks, keeping weekdays and local times.
    let later = now() + chrono::Duration::days(400);
    crm.seed_demo(DEMO, later).await.unwrap();
    let john = crm
        .lookup_customer("+14135550100", later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(john.upcoming_appointments.len(), 1);
    let next = &john.upcoming_appointments[0];
    let expected = chrono_tz::America::New_York
        .from_local_datetime(
            &(local(2026, 11, 30, 10, 0)
                .with_timezone(&chrono_tz::America::New_York)
                .naive_local()
                + chrono::Duration::weeks(57)),
        )
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(next.starts_at, expected);
    assert!(next.starts_at > later);
    assert_eq!(
        next.starts_at
            .with_timezone(&chrono_tz::America::New_York)
            .format("%A %H:%M")
            .to_string(),
        "Monday 10:00"
    );
}
