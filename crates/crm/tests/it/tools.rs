//! The LLM tool executor end to end: one `check` per tool call, asserting on the fields the
//! model relies on.

use std::sync::Arc;

use crm::tools::{ToolContext, ToolExecutor, ToolStatus};
use crm::{CrmStore, NewCustomer, NewVehicle};
use serde_json::{Value, json};

use crate::harness::{TestDb, both_backends, now};

both_backends!(
    tools_answer_every_call_with_json,
    tools_report_a_dead_database_as_unavailable,
    spelled_values_are_stored_for_the_caller_only
);

const JOHN: &str = "+14135550100";
const STRANGER: &str = "+14135550190";

fn ctx(caller: &str) -> ToolContext {
    ToolContext {
        caller_phone: Some(caller.to_owned()),
        customer_id: None,
        now: now(),
        call_sid: Some("CAtest".to_owned()),
    }
}

/// Runs one tool call and checks `expected`: every key in it must be present with that value
/// in the result (`"*"` matches anything). Returns the full result for follow-up calls.
#[track_caller]
fn check(result: &Value, expected: Value) {
    fn contains(actual: &Value, expected: &Value) -> bool {
        match (actual, expected) {
            (_, Value::String(s)) if s == "*" => true,
            (Value::Object(a), Value::Object(e)) => e
                .iter()
                .all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
            (Value::Array(a), Value::Array(e)) => {
                a.len() == e.len() && a.iter().zip(e).all(|(av, ev)| contains(av, ev))
            }
            (a, e) => a == e,
        }
    }
    assert!(
        contains(result, &expected),
        "got {result:#}\nexpected {expected:#}"
    );
}

fn error(code: &str) -> Value {
    json!({"ok": false, "error": {"code": code, "message": "*"}})
}

async fn tools_answer_every_call_with_json(db: TestDb) {
    let crm = &db.crm;
    let john = crm
        .find_or_create_customer(&NewCustomer {
            first_name: "John".into(),
            last_name: "Smith".into(),
            phone: JOHN.into(),
            email: None,
        })
        .await
        .unwrap();
    let civic = crm
        .add_vehicle(
            john,
            &NewVehicle {
                year: 2019,
                make: "Honda".into(),
                model: "Civic".into(),
                mileage: Some(42_150),
                vin: None,
                license_plate: None,
            },
        )
        .await
        .unwrap();
    let tools = ToolExecutor::new(Arc::new(crm.clone()) as Arc<dyn CrmStore>);
    let as_john = ctx(JOHN);
    let as_stranger = ctx(STRANGER);
    let run = async |name: &str, args: Value, ctx: &ToolContext| {
        tools.execute(name, &args.to_string(), ctx).await
    };

    // Malformed calls.
    check(
        &tools.execute("launch_rocket", "{}", &as_john).await,
        error("unknown_tool"),
    );
    check(
        &tools
            .execute("get_service_price", "{not json", &as_john)
            .await,
        error("invalid_arguments"),
    );
    check(
        &run("get_service_price", json!({}), &as_john).await,
        error("invalid_arguments"),
    );
    check(
        &run(
            "check_availability",
            json!({"service": "oil change", "date": "next tuesday"}),
            &as_john,
        )
        .await,
        error("invalid_arguments"),
    );
    check(
        &run(
            "book_appointment",
            json!({"service": "oil change", "start": "9am"}),
            &as_john,
        )
        .await,
        error("invalid_arguments"),
    );
    check(
        &run(
            "cancel_appointment",
            json!({"appointment_id": "seven"}),
            &as_john,
        )
        .await,
        error("invalid_arguments"),
    );

    // Catalog and hours.
    check(
        &run(
            "get_service_price",
            json!({"service": "Lube Job"}),
            &as_john,
        )
        .await,
        json!({"ok": true, "service": "oil change", "price_min_usd": 45, "price_max_usd": 95, "duration_minutes": 30}),
    );
    check(
        &run(
            "get_service_price",
            json!({"service": "teleportation"}),
            &as_john,
        )
        .await,
        error("unknown_service"),
    );
    check(
        &run(
            "get_business_hours",
            json!({"date": "2026-11-26"}),
            &as_john,
        )
        .await,
        json!({"ok": true, "timezone": "America/New_York", "today": "2026-11-24",
               "date": {"date": "2026-11-26", "closed": true, "holiday": "Thanksgiving"},
               "upcoming_holidays": [{"date": "2026-11-26", "name": "Thanksgiving"}, "*", "*"]}),
    );
    check(
        &tools.execute("get_business_hours", "", &as_john).await,
        json!({"ok": true, "weekly": [
            {"day": "Monday", "open": "08:00", "close": "18:00"}, "*", "*", "*", "*",
            {"day": "Saturday", "open": "09:00", "close": "14:00"},
            {"day": "Sunday", "closed": true}]}),
    );

    // Availability.
    check(
        &run(
            "check_availability",
            json!({"service": "oil change", "date": "2026-11-26"}),
            &as_john,
        )
        .await,
        error("closed"),
    );
    check(
        &run(
            "check_availability",
            json!({"service": "oil change", "date": "2026-11-20"}),
            &as_john,
        )
        .await,
        error("in_past"),
    );
    check(
        &run(
            "check_availability",
            json!({"service": "hovercraft", "date": "2026-11-25"}),
            &as_john,
        )
        .await,
        error("unknown_service"),
    );
    check(
        &run(
            "check_availability",
            json!({"service": "oil change", "date": "2026-11-25"}),
            &as_john,
        )
        .await,
        json!({"ok": true, "service": "oil change", "duration_minutes": 30, "more_slots": 12,
               "slots": [{"start": "2026-11-25T08:00", "spoken": "Wednesday, November 25 at 8:00 AM"}, "*", "*", "*", "*", "*", "*", "*"]}),
    );

    // Lookup.
    check(
        &tools.execute("lookup_customer", "{}", &as_john).await,
        json!({"ok": true, "found": true, "customer": {"id": john, "first_name": "John", "last_name": "Smith",
               "vehicles": [{"id": civic.id, "description": "2019 Honda Civic", "mileage": 42_150}],
               "upcoming_appointments": []}}),
    );
    check(
        &tools.execute("lookup_customer", "{}", &as_stranger).await,
        json!({"ok": true, "found": false}),
    );
    // Only the caller's own record: another number (or garbage) is refused, the caller's own
    // number in another format is fine.
    for other in ["(555) 123-4567", STRANGER, "413 555 0190", "not a number"] {
        check(
            &run("lookup_customer", json!({"phone": other}), &as_john).await,
            error("not_allowed"),
        );
    }
    check(
        &run(
            "lookup_customer",
            json!({"phone": "(413) 555-0100"}),
            &as_john,
        )
        .await,
        json!({"ok": true, "found": true, "customer": {"id": john}}),
    );
    // A withheld caller has no record to read.
    check(
        &run(
            "lookup_customer",
            json!({"phone": JOHN}),
            &ToolContext {
                caller_phone: None,
                ..ctx(JOHN)
            },
        )
        .await,
        error("not_allowed"),
    );

    // Booking: both bays at 08:00, then the slot is full.
    let booked = run("book_appointment", json!({"service": "oil change", "start": "2026-11-25T08:00", "vehicle_id": civic.id, "notes": "synthetic"}), &as_john).await;
    check(
        &booked,
        json!({"ok": true, "appointment": {"service": "oil change", "start": "2026-11-25T08:00",
               "spoken": "Wednesday, November 25 at 8:00 AM", "vehicle": "2019 Honda Civic", "status": "scheduled"}}),
    );
    let johns_appointment = booked["appointment"]["id"].as_i64().unwrap();
    // A stranger without a name cannot book; with one, they become a customer.
    check(
        &run(
            "book_appointment",
            json!({"service": "oil change", "start": "2026-11-25T08:00"}),
            &as_stranger,
        )
        .await,
        error("customer_unknown"),
    );
    // A VIN with a misheard character is refused before anything is written.
    check(
        &run(
            "book_appointment",
            json!({"service": "oil change", "start": "2026-11-25T08:00", "first_name": "Ann", "last_name": "Lee",
                   "vehicle_year": 2015, "vehicle_make": "Subaru", "vehicle_model": "Outback",
                   "vehicle_vin": "1M8GDM9AXKP042789"}),
            &as_stranger,
        )
        .await,
        error("invalid_arguments"),
    );
    assert_eq!(crm.lookup_customer(STRANGER, now()).await.unwrap(), None);
    let strangers = run(
        "book_appointment",
        json!({"service": "oil change", "start": "2026-11-25T08:00", "first_name": "Ann", "last_name": "Lee",
               "vehicle_year": 2015, "vehicle_make": "Subaru", "vehicle_model": "Outback",
               "vehicle_vin": "1m8gdm9axkp042788"}),
        &as_stranger,
    )
    .await;
    check(
        &strangers,
        json!({"ok": true, "appointment": {"vehicle": "2015 Subaru Outback"}}),
    );
    let ann = crm.lookup_customer(STRANGER, now()).await.unwrap().unwrap();
    assert_eq!((ann.first_name.as_str(), ann.vehicles.len()), ("Ann", 1));
    check(
        &run(
            "book_appointment",
            json!({"service": "oil change", "start": "2026-11-25T08:00"}),
            &as_john,
        )
        .await,
        error("slot_full"),
    );
    check(
        &run(
            "book_appointment",
            json!({"service": "oil change", "start": "2026-11-26T09:00"}),
            &as_john,
        )
        .await,
        error("closed"),
    );
    check(
        &run(
            "book_appointment",
            json!({"service": "oil change", "start": "2026-11-23T09:00"}),
            &as_john,
        )
        .await,
        error("in_past"),
    );
    check(
        &run(
            "book_appointment",
            json!({"service": "brake service", "start": "2026-11-25 17:00"}),
            &as_john,
        )
        .await,
        error("outside_hours"),
    );
    check(
        &run(
            "book_appointment",
            json!({"service": "jetpack", "start": "2026-11-25T09:00"}),
            &as_john,
        )
        .await,
        error("unknown_service"),
    );
    check(
        &run(
            "book_appointment",
            json!({"service": "oil change", "start": "2026-11-25T09:00", "vehicle_id": 99_999}),
            &as_john,
        )
        .await,
        error("vehicle_not_found"),
    );
    // A half-described vehicle makes no vehicle row; what was said goes into the notes.
    let partial = run(
        "book_appointment",
        json!({"service": "tire rotation", "start": "2026-11-25T09:00", "vehicle_make": "Toyota",
               "vehicle_model": "Corolla", "notes": "wobble at speed"}),
        &as_john,
    )
    .await;
    check(
        &partial,
        json!({"ok": true, "appointment": {"vehicle": null}}),
    );
    let stored = crm
        .get_appointment(partial["appointment"]["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.notes.as_deref(),
        Some("wobble at speed; vehicle: Toyota Corolla")
    );
    assert_eq!(
        (stored.customer_id, stored.booked_via.as_str()),
        (john, "phone_agent")
    );

    // Reschedule and cancel only the caller's own appointments.
    let anns_appointment = strangers["appointment"]["id"].as_i64().unwrap();
    check(
        &run(
            "reschedule_appointment",
            json!({"appointment_id": anns_appointment, "new_start": "2026-11-25T10:00"}),
            &as_john,
        )
        .await,
        error("appointment_not_found"),
    );
    check(
        &run(
            "reschedule_appointment",
            json!({"appointment_id": johns_appointment, "new_start": "2026-11-27T10:00"}),
            &as_john,
        )
        .await,
        json!({"ok": true, "appointment": {"id": johns_appointment, "start": "2026-11-27T10:00", "spoken": "Friday, November 27 at 10:00 AM"}}),
    );
    check(
        &run(
            "reschedule_appointment",
            json!({"appointment_id": johns_appointment, "new_start": "2026-11-28T15:00"}),
            &as_john,
        )
        .await,
        error("outside_hours"),
    );
    let anonymous = ToolContext {
        caller_phone: None,
        ..ctx(JOHN)
    };
    check(
        &run(
            "cancel_appointment",
            json!({"appointment_id": johns_appointment}),
            &anonymous,
        )
        .await,
        error("customer_unknown"),
    );
    // The pipeline's customer id works without a caller number.
    let known = ToolContext {
        customer_id: Some(john),
        ..anonymous
    };
    check(
        &run(
            "cancel_appointment",
            json!({"appointment_id": johns_appointment}),
            &known,
        )
        .await,
        json!({"ok": true, "appointment": {"id": johns_appointment, "status": "cancelled"}}),
    );
    check(
        &run(
            "cancel_appointment",
            json!({"appointment_id": johns_appointment}),
            &known,
        )
        .await,
        error("appointment_not_scheduled"),
    );
}

async fn tools_report_a_dead_database_as_unavailable(db: TestDb) {
    let tools = ToolExecutor::new(Arc::new(db.crm.clone()) as Arc<dyn CrmStore>);
    db.crm.clone().close().await.unwrap();
    check(
        &tools.execute("lookup_customer", "{}", &ctx(JOHN)).await,
        error("unavailable"),
    );
    check(
        &tools
            .execute(
                "check_availability",
                r#"{"service": "oil change", "date": "2026-11-25"}"#,
                &ctx(JOHN),
            )
            .await,
        error("unavailable"),
    );
    // The pipeline gets the outcome typed: down, not "slot full".
    let booking = tools
        .run(
            "book_appointment",
            r#"{"service": "oil change", "start": "2026-11-25T09:00"}"#,
            &ctx(JOHN),
        )
        .await;
    assert_eq!(booking.status, ToolStatus::Unavailable, "{}", booking.json);
    // Tools that need no database still answer.
    check(
        &tools
            .execute(
                "get_service_price",
                r#"{"service": "oil change"}"#,
                &ctx(JOHN),
            )
            .await,
        json!({"ok": true, "service": "oil change"}),
    );
}

/// A VIN, a licence plate and a spelled name reach the caller's own record through the tools,
/// checked first; another customer's vehicle and a caller who is not a customer get nothing.
async fn spelled_values_are_stored_for_the_caller_only(db: TestDb) {
    let crm = &db.crm;
    let customer = |first: &str, phone: &str| NewCustomer {
        first_name: first.into(),
        last_name: "Smith".into(),
        phone: phone.into(),
        email: None,
    };
    let john = crm
        .find_or_create_customer(&customer("Jon", JOHN))
        .await
        .unwrap();
    let other = crm
        .find_or_create_customer(&customer("Mary", "+14135550101"))
        .await
        .unwrap();
    let vehicle = |model: &str| NewVehicle {
        year: 2019,
        make: "Honda".into(),
        model: model.into(),
        mileage: None,
        vin: None,
        license_plate: None,
    };
    let civic = crm.add_vehicle(john, &vehicle("Civic")).await.unwrap();
    let marys = crm.add_vehicle(other, &vehicle("Fit")).await.unwrap();
    let tools = ToolExecutor::new(Arc::new(crm.clone()) as Arc<dyn CrmStore>);
    let run = async |name: &str, args: Value, ctx: &ToolContext| {
        tools.execute(name, &args.to_string(), ctx).await
    };
    let as_john = ctx(JOHN);

    // Checked before anything is written: a misheard VIN, a plate that cannot be one, nothing.
    for args in [
        json!({"vehicle_id": civic.id, "vin": "1M8GDM9AXKP042789"}),
        json!({"vehicle_id": civic.id, "license_plate": "A"}),
        json!({"vehicle_id": civic.id, "license_plate": "ABCD-12345"}),
        json!({"vehicle_id": civic.id}),
    ] {
        check(
            &run("update_vehicle", args, &as_john).await,
            error("invalid_arguments"),
        );
    }
    check(
        &run(
            "update_vehicle",
            json!({"vehicle_id": civic.id, "vin": "1m8gdm9axkp042788", "license_plate": "abc 1234"}),
            &as_john,
        )
        .await,
        json!({"ok": true, "vehicle": {"id": civic.id, "vin": "1M8GDM9AXKP042788", "license_plate": "ABC1234"}}),
    );
    // Another customer's vehicle reads as not found, and stays as it was.
    check(
        &run(
            "update_vehicle",
            json!({"vehicle_id": marys.id, "license_plate": "XYZ999"}),
            &as_john,
        )
        .await,
        error("vehicle_not_found"),
    );
    // Not a customer yet: nothing to update.
    check(
        &run(
            "update_vehicle",
            json!({"vehicle_id": marys.id, "license_plate": "XYZ999"}),
            &ctx(STRANGER),
        )
        .await,
        error("customer_unknown"),
    );
    check(
        &run(
            "update_customer_name",
            json!({"first_name": "John", "last_name": "Smyth"}),
            &as_john,
        )
        .await,
        json!({"ok": true, "first_name": "John", "last_name": "Smyth"}),
    );
    check(
        &run(
            "update_customer_name",
            json!({"first_name": "Robert'); DROP TABLE customers;--", "last_name": "x"}),
            &as_john,
        )
        .await,
        error("invalid_arguments"),
    );
    check(
        &run(
            "update_customer_name",
            json!({"first_name": "Ann", "last_name": "Lee"}),
            &ctx(STRANGER),
        )
        .await,
        error("customer_unknown"),
    );
    let profile = crm.lookup_customer(JOHN, now()).await.unwrap().unwrap();
    assert_eq!(
        (profile.first_name.as_str(), profile.last_name.as_str()),
        ("John", "Smyth")
    );
    assert_eq!(
        profile.vehicles[0].vin.as_deref(),
        Some("1M8GDM9AXKP042788")
    );
    assert_eq!(profile.vehicles[0].plate.as_deref(), Some("ABC1234"));
    let mary = crm
        .lookup_customer("+14135550101", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mary.vehicles[0].plate, None);
    // The model reads them back from lookup_customer.
    check(
        &run("lookup_customer", json!({}), &as_john).await,
        json!({"ok": true, "found": true, "customer": {"last_name": "Smyth", "vehicles": [{"license_plate": "ABC1234", "vin": "1M8GDM9AXKP042788", "id": "*", "description": "*", "mileage": "*"}]}}),
    );
    // A booking for a new vehicle stores its plate.
    let booked = run(
        "book_appointment",
        json!({"service": "oil change", "start": "2026-11-25T09:00", "vehicle_year": 2021,
               "vehicle_make": "Ford", "vehicle_model": "Escape", "vehicle_plate": "7ab-c12"}),
        &as_john,
    )
    .await;
    check(&booked, json!({"ok": true}));
    let profile = crm.lookup_customer(JOHN, now()).await.unwrap().unwrap();
    let escape = profile
        .vehicles
        .iter()
        .find(|v| v.model == "Escape")
        .expect("the new vehicle");
    assert_eq!(escape.plate.as_deref(), Some("7ABC12"));
}
