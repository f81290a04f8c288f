//! Customer lookup by phone, creation, vehicles, migrations.

use conversation::CustomerProfile;
use crm::{BookedVia, BookingRequest, CrmError, NewCustomer, NewVehicle};

use crate::harness::{TestDb, both_backends, local, now};

both_backends!(
    lookup_finds_the_customer_from_any_phone_format,
    find_or_create_is_idempotent,
    migrating_again_changes_nothing,
);

async fn lookup_finds_the_customer_from_any_phone_format(db: TestDb) {
    let crm = &db.crm;
    let id = crm
        .find_or_create_customer(&NewCustomer {
            first_name: "Dana".into(),
            last_name: "Reyes".into(),
            phone: "413.555.0142".into(),
            email: Some("dana@example.com".into()),
        })
        .await
        .unwrap();
    let civic = crm
        .add_vehicle(
            id,
            &NewVehicle {
                year: 2019,
                make: "Honda".into(),
                model: "Civic".into(),
                mileage: Some(42_000),
                vin: None,
                license_plate: None,
            },
        )
        .await
        .unwrap();
    crm.add_vehicle(
        id,
        &NewVehicle {
            year: 2012,
            make: "Ford".into(),
            model: "Ranger".into(),
            mileage: None,
            vin: Some("1FTKR1AD0CPA00001".into()),
            license_plate: None,
        },
    )
    .await
    .unwrap();
    let book = |starts_at, service: &str| BookingRequest {
        customer_id: id,
        vehicle_id: Some(civic.id),
        service: service.to_owned(),
        starts_at,
        notes: Some("rattle".into()),
        booked_via: BookedVia::Staff,
        daily_limit: None,
    };
    let later = crm
        .book_appointment(&book(local(2026, 12, 2, 14, 0), "brake service"), now())
        .await
        .unwrap();
    let sooner = crm
        .book_appointment(&book(local(2026, 11, 25, 8, 30), "oil change"), now())
        .await
        .unwrap();

    let mut profiles = Vec::new();
    for format in [
        "(413) 555-0142",
        "413.555.0142",
        "+1 413 555 0142",
        "14135550142",
        "4135550142",
    ] {
        profiles.push(crm.lookup_customer(format, now()).await.unwrap());
    }
    let profile: CustomerProfile = profiles[0].clone().unwrap();
    assert!(profiles.iter().all(|p| p.as_ref() == Some(&profile)));
    assert_eq!(
        (
            profile.id,
            profile.first_name.as_str(),
            profile.last_name.as_str(),
            profile.phone.as_str(),
            profile.email.as_deref()
        ),
        (
            id,
            "Dana",
            "Reyes",
            "+14135550142",
            Some("dana@example.com")
        )
    );
    let vehicles: Vec<String> = profile.vehicles.iter().map(|v| v.describe()).collect();
    assert_eq!(vehicles, ["2019 Honda Civic", "2012 Ford Ranger"]);
    assert_eq!(profile.vehicles[0].mileage, Some(42_000));
    // Upcoming appointments come soonest first, with the vehicle described.
    let upcoming: Vec<(i64, &str, Option<&str>)> = profile
        .upcoming_appointments
        .iter()
        .map(|a| (a.id, a.service.as_str(), a.vehicle.as_deref()))
        .collect();
    assert_eq!(
        upcoming,
        [
            (sooner.id, "oil change", Some("2019 Honda Civic")),
            (later.id, "brake service", Some("2019 Honda Civic"))
        ]
    );
    assert_eq!(
        profile.upcoming_appointments[0].starts_at,
        local(2026, 11, 25, 8, 30)
    );
    assert_eq!(profile.upcoming_appointments[0].status, "scheduled");
    // After the first appointment's start, only the second is upcoming.
    let next_day = local(2026, 11, 26, 12, 0);
    let profile = crm
        .lookup_customer("+14135550142", next_day)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(profile.upcoming_appointments.len(), 1);
    assert_eq!(profile.upcoming_appointments[0].id, later.id);

    assert_eq!(
        crm.lookup_customer("(413) 555-0199", now()).await.unwrap(),
        None
    );
    // Well formed but unassigned (the seed's new caller): a number, just not a customer.
    assert_eq!(
        crm.lookup_customer("(555) 123-4567", now()).await.unwrap(),
        None
    );
    assert!(matches!(
        crm.lookup_customer("anonymous", now()).await,
        Err(CrmError::InvalidPhone { .. })
    ));
}

async fn find_or_create_is_idempotent(db: TestDb) {
    let crm = &db.crm;
    let new = NewCustomer {
        first_name: "Sam".into(),
        last_name: "Lee".into(),
        phone: "+1 212 555 0177".into(),
        email: None,
    };
    let first = crm.find_or_create_customer(&new).await.unwrap();
    let renamed = NewCustomer {
        first_name: "Samuel".into(),
        phone: "(212) 555-0177".into(),
        ..new.clone()
    };
    assert_eq!(crm.find_or_create_customer(&renamed).await.unwrap(), first);
    let profile = crm
        .lookup_customer("2125550177", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(profile.first_name, "Sam");
    assert!(matches!(
        crm.find_or_create_customer(&NewCustomer {
            first_name: " ".into(),
            ..new.clone()
        })
        .await,
        Err(CrmError::InvalidArgument(_))
    ));
    assert!(matches!(
        crm.find_or_create_customer(&NewCustomer {
            phone: "12".into(),
            ..new
        })
        .await,
        Err(CrmError::InvalidPhone { .. })
    ));
    assert!(matches!(
        crm.add_vehicle(
            first + 1000,
            &NewVehicle {
                year: 2020,
                make: "Kia".into(),
                model: "Soul".into(),
                mileage: None,
                vin: None,
                license_plate: None,
            }
        )
        .await,
        Err(CrmError::CustomerNotFound)
    ));
}

async fn migrating_again_changes_nothing(db: TestDb) {
    db.crm.migrate().await.unwrap();
    crm::migrate(&db.url, &crate::harness::config())
        .await
        .unwrap();
    assert_eq!(
        db.crm
            .lookup_customer("(413) 555-0100", now())
            .await
            .unwrap(),
        None
    );
}
