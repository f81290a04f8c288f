//! The demo data in fixtures/crm/demo.json.

use crm::{CrmError, DEMO_JSON as DEMO, SeedReport};

use crate::harness::{TestDb, both_backends, local, now};

both_backends!(seeding_the_demo_data_twice_adds_nothing_the_second_time);

async fn seeding_the_demo_data_twice_adds_nothing_the_second_time(db: TestDb) {
    let crm = &db.crm;
    let first = crm.seed_demo(DEMO).await.unwrap();
    assert_eq!(first.customers_existing, 0);
    assert!(first.customers_added >= 30, "{first:?}");
    assert!(first.vehicles_added >= first.customers_added);
    assert!(first.appointments_added >= 40, "{first:?}");
    let second = crm.seed_demo(DEMO).await.unwrap();
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
        crm.seed_demo("{\"customers\": 3}").await,
        Err(CrmError::InvalidArgument(_))
    ));
    let bad_phone =
        r#"{"customers": [{"first_name": "A", "last_name": "B", "phone": "(555) 123-4567"}]}"#;
    assert!(matches!(
        crm.seed_demo(bad_phone).await,
        Err(CrmError::InvalidArgument(_))
    ));
}
