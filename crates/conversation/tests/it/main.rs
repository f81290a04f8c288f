//! Integration tests of the public API: utterance tables, whole dialogues, prompts, `nlu`.

mod dialogues;
mod handoff;
mod heldout;
mod nlu;
mod prompts;
mod resume;
mod robustness;
mod utterances;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use conversation::{AppointmentInfo, CustomerProfile, ShopConfig, VehicleInfo};

/// Tuesday 2026-11-24, 10:00 in New York: two days before Thanksgiving.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

fn shop() -> Arc<ShopConfig> {
    Arc::new(ShopConfig::default_shop())
}

fn civic() -> VehicleInfo {
    VehicleInfo {
        id: 7,
        year: 2019,
        make: "Honda".to_owned(),
        model: "Civic".to_owned(),
        mileage: Some(45_200),
        vin: None,
        plate: None,
    }
}

/// Oil change on Thursday 2026-12-03 at 2 PM New York time.
fn oil_change_appointment() -> AppointmentInfo {
    AppointmentInfo {
        id: 17,
        service: "oil change".to_owned(),
        starts_at: Utc.with_ymd_and_hms(2026, 12, 3, 19, 0, 0).unwrap(),
        duration_minutes: 30,
        vehicle: Some("2019 Honda Civic".to_owned()),
        status: "scheduled".to_owned(),
    }
}

/// The brake job done on Monday 2026-11-23 at 9 AM New York time.
fn past_brake_appointment() -> AppointmentInfo {
    AppointmentInfo {
        id: 12,
        service: "brake service".to_owned(),
        starts_at: Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap(),
        duration_minutes: 90,
        vehicle: Some("2019 Honda Civic".to_owned()),
        status: "completed".to_owned(),
    }
}

fn john() -> CustomerProfile {
    CustomerProfile {
        id: 3,
        first_name: "John".to_owned(),
        last_name: "Smith".to_owned(),
        phone: "+15555550111".to_owned(),
        email: Some("john@example.com".to_owned()),
        vehicles: vec![civic()],
        upcoming_appointments: vec![oil_change_appointment()],
    }
}
