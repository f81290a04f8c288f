//! Demo data (`voice-gateway seed-demo`, `fixtures/crm/demo.json`): idempotent inserts.
//!
//! The file is `{"customers": [...]}`; each customer has `first_name`, `last_name`, `phone` (any
//! format), optional `email`, `vehicles` (`year`, `make`, `model`, optional `mileage`, `vin`) and
//! `appointments` (`service`, `starts_at` as shop-local `YYYY-MM-DDTHH:MM:SS` or RFC 3339,
//! optional `vehicle` index into the customer's `vehicles`, `status`, optional `notes`).
//! Re-running finds customers by phone, vehicles by (customer, year, make, model) and
//! appointments by (customer, start, service), and only inserts what is missing.
//!
//! The file's dates are written around its `anchor_date` (a shop-local `YYYY-MM-DD`). Seeding at
//! `now` moves every appointment by the whole number of weeks between the anchor and `now`'s
//! local date, so the demo always has past and upcoming appointments, on the same weekdays and
//! times, whatever day it is seeded; a seed at the anchor week stores the dates as written.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::appointments::AppointmentStatus;
use crate::entity::{appointment, customer, vehicle};
use crate::phone::normalize_phone;
use crate::{BookedVia, Crm, CrmError};

/// The demo data shipped in `fixtures/crm/demo.json`, compiled in so `voice-gateway seed-demo`
/// works from any directory: 36 invented customers with (413) 555-01xx numbers, including John
/// Smith ((413) 555-0100, a 2019 Honda Civic, a brake service on the Monday six days after the
/// anchor, 10:00), with past and upcoming appointments around the anchor date (see the module docs).
pub const DEMO_JSON: &str = include_str!("../../../fixtures/crm/demo.json");

/// What `seed_demo` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    /// Customers inserted.
    pub customers_added: u32,
    /// Customers already present (matched by phone).
    pub customers_existing: u32,
    /// Vehicles inserted.
    pub vehicles_added: u32,
    /// Appointments inserted.
    pub appointments_added: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    /// The local date the file's appointment dates are written around; absent: no shift.
    #[serde(default)]
    anchor_date: Option<NaiveDate>,
    customers: Vec<SeedCustomer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedCustomer {
    first_name: String,
    last_name: String,
    phone: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    vehicles: Vec<SeedVehicle>,
    #[serde(default)]
    appointments: Vec<SeedAppointment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedVehicle {
    year: i32,
    make: String,
    model: String,
    #[serde(default)]
    mileage: Option<i32>,
    #[serde(default)]
    vin: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedAppointment {
    service: String,
    starts_at: String,
    #[serde(default)]
    vehicle: Option<usize>,
    status: AppointmentStatus,
    #[serde(default)]
    notes: Option<String>,
}

impl Crm {
    /// Loads demo data from JSON text (see the module docs for the format) in one transaction,
    /// with its dates moved to the weeks around `now`. Running it again in the same week inserts
    /// nothing new.
    pub async fn seed_demo(
        &self,
        json_text: &str,
        now: DateTime<Utc>,
    ) -> Result<SeedReport, CrmError> {
        let file: SeedFile = serde_json::from_str(json_text)
            .map_err(|err| CrmError::InvalidArgument(format!("demo data: {err}")))?;
        let shift = file.anchor_date.map_or(Duration::zero(), |anchor| {
            week_shift(anchor, now.with_timezone(&self.shop.timezone).date_naive())
        });
        let op = "seed_demo";
        // Seeding is a batch job, not a call: it gets ten operation timeouts.
        let after = self.config.operation_timeout * 10;
        let report = match tokio::time::timeout(
            after,
            self.with_write_retries(op, || async {
                let txn = self.begin_booking_txn().await.map_err(CrmError::db(op))?;
                let mut report = SeedReport::default();
                for seed_customer in &file.customers {
                    self.seed_customer(&txn, seed_customer, shift, now, &mut report)
                        .await?;
                }
                txn.commit().await.map_err(CrmError::db(op))?;
                Ok(report)
            }),
        )
        .await
        {
            Ok(res) => res?,
            Err(_) => {
                return Err(CrmError::Timeout {
                    operation: op,
                    after,
                });
            }
        };
        info!(
            customers_added = report.customers_added,
            customers_existing = report.customers_existing,
            vehicles_added = report.vehicles_added,
            appointments_added = report.appointments_added,
            "demo data seeded"
        );
        Ok(report)
    }

    async fn seed_customer(
        &self,
        txn: &DatabaseTransaction,
        seed: &SeedCustomer,
        shift: Duration,
        now: DateTime<Utc>,
        report: &mut SeedReport,
    ) -> Result<(), CrmError> {
        let op = "seed_demo";
        let phone = normalize_phone(&seed.phone).map_err(|err| {
            CrmError::InvalidArgument(format!(
                "demo data: {} {}: {err}",
                seed.first_name, seed.last_name
            ))
        })?;
        let existing = customer::Entity::find()
            .filter(customer::Column::Phone.eq(phone.as_str()))
            .one(txn)
            .await
            .map_err(CrmError::db(op))?;
        let customer_id = match existing {
            Some(existing) => {
                report.customers_existing += 1;
                existing.id
            }
            None => {
                report.customers_added += 1;
                customer::ActiveModel {
                    first_name: Set(seed.first_name.clone()),
                    last_name: Set(seed.last_name.clone()),
                    phone: Set(phone),
                    email: Set(seed.email.clone()),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await
                .map_err(CrmError::db(op))?
                .id
            }
        };

        let mut vehicle_ids = Vec::with_capacity(seed.vehicles.len());
        for seed_vehicle in &seed.vehicles {
            let existing = vehicle::Entity::find()
                .filter(vehicle::Column::CustomerId.eq(customer_id))
                .filter(vehicle::Column::Year.eq(seed_vehicle.year))
                .filter(vehicle::Column::Make.eq(seed_vehicle.make.as_str()))
                .filter(vehicle::Column::Model.eq(seed_vehicle.model.as_str()))
                .one(txn)
                .await
                .map_err(CrmError::db(op))?;
            let id = match existing {
                Some(existing) => existing.id,
                None => {
                    report.vehicles_added += 1;
                    vehicle::ActiveModel {
                        customer_id: Set(customer_id),
                        year: Set(seed_vehicle.year),
                        make: Set(seed_vehicle.make.clone()),
                        model: Set(seed_vehicle.model.clone()),
                        mileage: Set(seed_vehicle.mileage),
                        vin: Set(seed_vehicle.vin.clone()),
                        created_at: Set(now),
                        ..Default::default()
                    }
                    .insert(txn)
                    .await
                    .map_err(CrmError::db(op))?
                    .id
                }
            };
            vehicle_ids.push(id);
        }

        for seed_appointment in &seed.appointments {
            let service = self
                .shop
                .service(&seed_appointment.service)
                .ok_or_else(|| CrmError::UnknownService {
                    name: seed_appointment.service.clone(),
                })?;
            let starts_at = self.parse_seed_time(&seed_appointment.starts_at, shift)?;
            let vehicle_id = match seed_appointment.vehicle {
                Some(idx) => Some(*vehicle_ids.get(idx).ok_or_else(|| {
                    CrmError::InvalidArgument(format!(
                        "demo data: {} {}: no vehicle #{idx}",
                        seed.first_name, seed.last_name
                    ))
                })?),
                None => None,
            };
            let exists = appointment::Entity::find()
                .filter(appointment::Column::CustomerId.eq(customer_id))
                .filter(appointment::Column::StartsAt.eq(starts_at))
                .filter(appointment::Column::Service.eq(service.name.as_str()))
                .one(txn)
                .await
                .map_err(CrmError::db(op))?
                .is_some();
            if exists {
                continue;
            }
            report.appointments_added += 1;
            let duration = i32::try_from(service.duration_minutes).unwrap_or(i32::MAX);
            appointment::ActiveModel {
                customer_id: Set(customer_id),
                vehicle_id: Set(vehicle_id),
                service: Set(service.name.clone()),
                starts_at: Set(starts_at),
                ends_at: Set(starts_at + Duration::minutes(i64::from(duration))),
                duration_minutes: Set(duration),
                status: Set(seed_appointment.status.as_str().to_owned()),
                notes: Set(seed_appointment.notes.clone()),
                booked_via: Set(BookedVia::Seed.as_str().to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(CrmError::db(op))?;
        }
        Ok(())
    }

    /// RFC 3339, or a shop-local `YYYY-MM-DDTHH:MM[:SS]`; moved by `shift` (whole weeks) in
    /// local time, so the wall-clock time stays the same across a daylight-saving change.
    fn parse_seed_time(&self, text: &str, shift: Duration) -> Result<DateTime<Utc>, CrmError> {
        let local = match DateTime::parse_from_rfc3339(text) {
            Ok(at) => at.with_timezone(&self.shop.timezone).naive_local(),
            Err(_) => NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
                .map_err(|err| {
                    CrmError::InvalidArgument(format!("demo data: time {text:?}: {err}"))
                })?,
        } + shift;
        self.shop
            .timezone
            .from_local_datetime(&local)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
            .ok_or_else(|| {
                CrmError::InvalidArgument(format!("demo data: {text:?} does not exist locally"))
            })
    }
}

/// The whole weeks from `anchor` to the week of `today` (negative before the anchor).
fn week_shift(anchor: NaiveDate, today: NaiveDate) -> Duration {
    Duration::weeks((today - anchor).num_days().div_euclid(7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_move_by_whole_weeks_toward_today() {
        let anchor = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(week_shift(anchor, anchor), Duration::zero());
        assert_eq!(week_shift(anchor, day(2026, 11, 30)), Duration::zero());
        assert_eq!(week_shift(anchor, day(2026, 12, 1)), Duration::weeks(1));
        assert_eq!(week_shift(anchor, day(2027, 12, 29)), Duration::weeks(57));
        assert_eq!(week_shift(anchor, day(2026, 11, 23)), Duration::weeks(-1));
    }
}
