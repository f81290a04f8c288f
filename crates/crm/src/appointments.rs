//! Customers, vehicles and appointments: lookup, availability, booking, rescheduling, cancelling.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use conversation::{AppointmentInfo, CustomerProfile, VehicleInfo};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::entity::{appointment, customer, vehicle};
use crate::phone::{mask_phone, normalize_phone};
use crate::schedule::{self, Slot, Span};
use crate::{Crm, CrmError};

/// How many upcoming appointments a profile carries (the prompt needs the next few, not all).
const MAX_UPCOMING: u64 = 10;

/// An appointment's lifecycle state, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Booked and still to happen.
    Scheduled,
    /// Called off; frees its bay.
    Cancelled,
    /// Done.
    Completed,
    /// The customer did not come.
    NoShow,
}

impl AppointmentStatus {
    /// The stored text: `scheduled`, `cancelled`, `completed`, `no_show`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
            Self::NoShow => "no_show",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "scheduled" => Some(Self::Scheduled),
            "cancelled" => Some(Self::Cancelled),
            "completed" => Some(Self::Completed),
            "no_show" => Some(Self::NoShow),
            _ => None,
        }
    }
}

/// How an appointment was booked, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookedVia {
    /// By the voice agent during a call.
    PhoneAgent,
    /// By shop staff.
    Staff,
    /// By `seed-demo`.
    Seed,
}

impl BookedVia {
    /// The stored text: `phone_agent`, `staff`, `seed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PhoneAgent => "phone_agent",
            Self::Staff => "staff",
            Self::Seed => "seed",
        }
    }
}

/// A new customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Any common format; stored as E.164.
    pub phone: String,
    /// Email, if known.
    pub email: Option<String>,
}

/// A new vehicle for a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVehicle {
    /// Model year.
    pub year: i32,
    /// Manufacturer, e.g. "Honda".
    pub make: String,
    /// Model, e.g. "Civic".
    pub model: String,
    /// Odometer reading in miles, if known.
    pub mileage: Option<i32>,
    /// VIN, if known.
    pub vin: Option<String>,
    /// Licence plate, if known.
    pub license_plate: Option<String>,
}

/// What `update_vehicle` changes: the fields given, the rest as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VehicleUpdate {
    /// A new VIN (already checked).
    pub vin: Option<String>,
    /// A new licence plate (already checked).
    pub license_plate: Option<String>,
}

/// What `book_appointment` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRequest {
    /// The customer (`CustomerProfile::id`).
    pub customer_id: i64,
    /// One of the customer's vehicles, if known.
    pub vehicle_id: Option<i64>,
    /// Service name or synonym from the shop catalog.
    pub service: String,
    /// Start, UTC; must be on the slot grid within opening hours.
    pub starts_at: DateTime<Utc>,
    /// Free text for the technician.
    pub notes: Option<String>,
    /// Who booked it.
    pub booked_via: BookedVia,
    /// At most this many appointments booked by `booked_via` for this customer in the shop-local
    /// day of `now` (checked in the booking transaction); `None` for no limit.
    pub daily_limit: Option<u32>,
}

/// A stored appointment with its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct Appointment {
    /// The customer it belongs to.
    pub customer_id: i64,
    /// The vehicle, if one was given.
    pub vehicle_id: Option<i64>,
    /// Free text.
    pub notes: Option<String>,
    /// `BookedVia::as_str` of how it was booked.
    pub booked_via: String,
    /// Service, time, status, vehicle description.
    pub info: AppointmentInfo,
}

impl Crm {
    /// The profile of the customer with this phone number (any common format), with vehicles and
    /// the next scheduled appointments starting after `now`; `None` for an unknown number.
    pub async fn lookup_customer(
        &self,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CustomerProfile>, CrmError> {
        let phone = normalize_phone(phone)?;
        self.timed("lookup_customer", async {
            let found = customer::Entity::find()
                .filter(customer::Column::Phone.eq(phone.as_str()))
                .one(&self.db)
                .await
                .map_err(CrmError::db("lookup_customer"))?;
            let Some(found) = found else {
                return Ok(None);
            };
            let vehicles = load_vehicles(&self.db, found.id).await?;
            let upcoming = load_upcoming(&self.db, found.id, &vehicles, now).await?;
            Ok(Some(CustomerProfile {
                id: i64::from(found.id),
                first_name: found.first_name,
                last_name: found.last_name,
                phone: found.phone,
                email: found.email,
                vehicles,
                upcoming_appointments: upcoming,
            }))
        })
        .await
    }

    /// Returns the id of the customer with this phone number, creating the customer first when
    /// there is none (an existing customer's name is left as stored).
    pub async fn find_or_create_customer(&self, new: &NewCustomer) -> Result<i64, CrmError> {
        let phone = normalize_phone(&new.phone)?;
        if new.first_name.trim().is_empty() {
            return Err(CrmError::InvalidArgument("first name is empty".to_owned()));
        }
        self.timed("find_or_create_customer", async {
            let op = "find_or_create_customer";
            let existing = customer::Entity::find()
                .filter(customer::Column::Phone.eq(phone.as_str()))
                .one(&self.db)
                .await
                .map_err(CrmError::db(op))?;
            if let Some(existing) = existing {
                return Ok(i64::from(existing.id));
            }
            let inserted = customer::ActiveModel {
                first_name: Set(new.first_name.trim().to_owned()),
                last_name: Set(new.last_name.trim().to_owned()),
                phone: Set(phone.clone()),
                email: Set(new.email.clone()),
                created_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&self.db)
            .await;
            match inserted {
                Ok(model) => {
                    info!(customer_id = model.id, phone = %mask_phone(&phone), "customer created");
                    Ok(i64::from(model.id))
                }
                // Lost a race with a concurrent insert of the same phone: read the winner.
                Err(err) if err.sql_err().is_some() => customer::Entity::find()
                    .filter(customer::Column::Phone.eq(phone.as_str()))
                    .one(&self.db)
                    .await
                    .map_err(CrmError::db(op))?
                    .map(|model| i64::from(model.id))
                    .ok_or(CrmError::CustomerNotFound),
                Err(err) => Err(CrmError::db(op)(err)),
            }
        })
        .await
    }

    /// Adds a vehicle to a customer.
    pub async fn add_vehicle(
        &self,
        customer_id: i64,
        new: &NewVehicle,
    ) -> Result<VehicleInfo, CrmError> {
        let customer_id = db_id(customer_id).ok_or(CrmError::CustomerNotFound)?;
        self.timed("add_vehicle", async {
            let op = "add_vehicle";
            customer::Entity::find_by_id(customer_id)
                .one(&self.db)
                .await
                .map_err(CrmError::db(op))?
                .ok_or(CrmError::CustomerNotFound)?;
            let model = vehicle::ActiveModel {
                customer_id: Set(customer_id),
                year: Set(new.year),
                make: Set(new.make.trim().to_owned()),
                model: Set(new.model.trim().to_owned()),
                mileage: Set(new.mileage),
                vin: Set(new.vin.clone()),
                license_plate: Set(new.license_plate.clone()),
                created_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&self.db)
            .await
            .map_err(CrmError::db(op))?;
            Ok(vehicle_info(&model))
        })
        .await
    }

    /// Changes the VIN or plate of vehicle `vehicle_id`, which must belong to `customer_id`
    /// (another customer's vehicle is `VehicleNotFound`).
    pub async fn update_vehicle(
        &self,
        customer_id: i64,
        vehicle_id: i64,
        update: &VehicleUpdate,
    ) -> Result<VehicleInfo, CrmError> {
        let (Some(customer_id), Some(vehicle_id)) = (db_id(customer_id), db_id(vehicle_id)) else {
            return Err(CrmError::VehicleNotFound);
        };
        self.timed("update_vehicle", async {
            let op = "update_vehicle";
            let found = vehicle::Entity::find_by_id(vehicle_id)
                .one(&self.db)
                .await
                .map_err(CrmError::db(op))?
                .filter(|vehicle| vehicle.customer_id == customer_id)
                .ok_or(CrmError::VehicleNotFound)?;
            let mut model: vehicle::ActiveModel = found.into();
            if let Some(vin) = &update.vin {
                model.vin = Set(Some(vin.clone()));
            }
            if let Some(plate) = &update.license_plate {
                model.license_plate = Set(Some(plate.clone()));
            }
            let model = model.update(&self.db).await.map_err(CrmError::db(op))?;
            Ok(vehicle_info(&model))
        })
        .await
    }

    /// Corrects the name on customer `customer_id`'s record (a caller who spelled it).
    pub async fn update_customer_name(
        &self,
        customer_id: i64,
        first_name: &str,
        last_name: &str,
    ) -> Result<(), CrmError> {
        let customer_id = db_id(customer_id).ok_or(CrmError::CustomerNotFound)?;
        self.timed("update_customer_name", async {
            let op = "update_customer_name";
            let found = customer::Entity::find_by_id(customer_id)
                .one(&self.db)
                .await
                .map_err(CrmError::db(op))?
                .ok_or(CrmError::CustomerNotFound)?;
            let mut model: customer::ActiveModel = found.into();
            model.first_name = Set(first_name.trim().to_owned());
            model.last_name = Set(last_name.trim().to_owned());
            model.update(&self.db).await.map_err(CrmError::db(op))?;
            Ok(())
        })
        .await
    }

    /// Start times with a free bay for the whole duration of `service`, on the local dates
    /// `from..=to` in the shop's timezone, after `now`, in time order.
    pub async fn available_slots(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        service: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Slot>, CrmError> {
        let service = schedule::find_service(&self.shop, service)?;
        if to < from {
            return Err(CrmError::InvalidArgument(format!(
                "the range ends ({to}) before it starts ({from})"
            )));
        }
        let n_days = (to - from).num_days() + 1;
        if n_days > i64::from(self.config.max_slot_range_days) {
            return Err(CrmError::InvalidArgument(format!(
                "at most {} days at a time",
                self.config.max_slot_range_days
            )));
        }
        // A day either side covers any timezone offset; extra rows only cost a comparison.
        let window_start =
            from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - Duration::days(1);
        let window_end = to.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + Duration::days(2);
        let duration = service.duration_minutes;
        self.timed("available_slots", async {
            let spans = scheduled_spans(&self.db, window_start, window_end, None).await?;
            Ok(schedule::free_slots(
                &self.shop, from, to, duration, &spans, now,
            ))
        })
        .await
    }

    /// Books an appointment if a bay is free for the whole service duration. The capacity check
    /// and the insert run in one serialized write transaction, so concurrent bookings of the
    /// last bay cannot both succeed.
    pub async fn book_appointment(
        &self,
        request: &BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<AppointmentInfo, CrmError> {
        let service = schedule::find_service(&self.shop, &request.service)?;
        let ends_at =
            schedule::check_bookable(&self.shop, service.duration_minutes, request.starts_at, now)?;
        let customer_id = db_id(request.customer_id).ok_or(CrmError::CustomerNotFound)?;
        let vehicle_id = match request.vehicle_id {
            Some(id) => Some(db_id(id).ok_or(CrmError::VehicleNotFound)?),
            None => None,
        };
        let service_name = service.name.clone();
        let duration = service.duration_minutes;
        let op = "book_appointment";
        let model = self
            .timed(
                op,
                self.with_write_retries(op, || async {
                    let txn = self.begin_booking_txn().await.map_err(CrmError::db(op))?;
                    customer::Entity::find_by_id(customer_id)
                        .one(&txn)
                        .await
                        .map_err(CrmError::db(op))?
                        .ok_or(CrmError::CustomerNotFound)?;
                    if let Some(vehicle_id) = vehicle_id {
                        let owned = vehicle::Entity::find_by_id(vehicle_id)
                            .one(&txn)
                            .await
                            .map_err(CrmError::db(op))?
                            .is_some_and(|v| v.customer_id == customer_id);
                        if !owned {
                            return Err(CrmError::VehicleNotFound);
                        }
                    }
                    let spans = scheduled_spans(&txn, request.starts_at, ends_at, None).await?;
                    if schedule::peak_overlap(&spans, request.starts_at, ends_at)
                        >= self.shop.bay_capacity
                    {
                        return Err(CrmError::SlotFull);
                    }
                    if let Some(limit) = request.daily_limit {
                        let day_start = schedule::local_day_start(&self.shop, now);
                        let booked_today = appointment::Entity::find()
                            .filter(appointment::Column::CustomerId.eq(customer_id))
                            .filter(appointment::Column::BookedVia.eq(request.booked_via.as_str()))
                            .filter(appointment::Column::CreatedAt.gte(day_start))
                            .filter(
                                appointment::Column::CreatedAt
                                    .lt(day_start + chrono::Duration::days(1)),
                            )
                            .count(&txn)
                            .await
                            .map_err(CrmError::db(op))?;
                        if booked_today >= u64::from(limit) {
                            return Err(CrmError::BookingLimit { limit });
                        }
                    }
                    let stamp = now;
                    let model = appointment::ActiveModel {
                        customer_id: Set(customer_id),
                        vehicle_id: Set(vehicle_id),
                        service: Set(service_name.clone()),
                        starts_at: Set(request.starts_at),
                        ends_at: Set(ends_at),
                        duration_minutes: Set(i32::try_from(duration).unwrap_or(i32::MAX)),
                        status: Set(AppointmentStatus::Scheduled.as_str().to_owned()),
                        notes: Set(request.notes.clone()),
                        booked_via: Set(request.booked_via.as_str().to_owned()),
                        created_at: Set(stamp),
                        updated_at: Set(stamp),
                        ..Default::default()
                    }
                    .insert(&txn)
                    .await
                    .map_err(CrmError::db(op))?;
                    txn.commit().await.map_err(CrmError::db(op))?;
                    Ok(model)
                }),
            )
            .await?;
        info!(appointment_id = model.id, customer_id, service = %model.service, starts_at = %model.starts_at, "appointment booked");
        self.appointment_info(model).await
    }

    /// Moves a scheduled appointment to `new_starts_at` (same service), if a bay is free then
    /// (the appointment's own old time does not count against it).
    pub async fn reschedule_appointment(
        &self,
        appointment_id: i64,
        new_starts_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<AppointmentInfo, CrmError> {
        let id = db_id(appointment_id).ok_or(CrmError::AppointmentNotFound)?;
        let op = "reschedule_appointment";
        let model = self
            .timed(
                op,
                self.with_write_retries(op, || async {
                    let txn = self.begin_booking_txn().await.map_err(CrmError::db(op))?;
                    let current = appointment::Entity::find_by_id(id)
                        .one(&txn)
                        .await
                        .map_err(CrmError::db(op))?
                        .ok_or(CrmError::AppointmentNotFound)?;
                    ensure_changeable(&current, now)?;
                    let duration = u32::try_from(current.duration_minutes).unwrap_or(0);
                    let ends_at =
                        schedule::check_bookable(&self.shop, duration, new_starts_at, now)?;
                    let spans = scheduled_spans(&txn, new_starts_at, ends_at, Some(id)).await?;
                    if schedule::peak_overlap(&spans, new_starts_at, ends_at)
                        >= self.shop.bay_capacity
                    {
                        return Err(CrmError::SlotFull);
                    }
                    let mut active: appointment::ActiveModel = current.into();
                    active.starts_at = Set(new_starts_at);
                    active.ends_at = Set(ends_at);
                    active.updated_at = Set(Utc::now());
                    let model = active.update(&txn).await.map_err(CrmError::db(op))?;
                    txn.commit().await.map_err(CrmError::db(op))?;
                    Ok(model)
                }),
            )
            .await?;
        info!(appointment_id = model.id, starts_at = %model.starts_at, "appointment rescheduled");
        self.appointment_info(model).await
    }

    /// Cancels a scheduled appointment that has not started yet, freeing its bay.
    pub async fn cancel_appointment(
        &self,
        appointment_id: i64,
        now: DateTime<Utc>,
    ) -> Result<AppointmentInfo, CrmError> {
        let id = db_id(appointment_id).ok_or(CrmError::AppointmentNotFound)?;
        let op = "cancel_appointment";
        let model = self
            .timed(
                op,
                self.with_write_retries(op, || async {
                    let txn = self.begin_booking_txn().await.map_err(CrmError::db(op))?;
                    let current = appointment::Entity::find_by_id(id)
                        .one(&txn)
                        .await
                        .map_err(CrmError::db(op))?
                        .ok_or(CrmError::AppointmentNotFound)?;
                    ensure_changeable(&current, now)?;
                    let mut active: appointment::ActiveModel = current.into();
                    active.status = Set(AppointmentStatus::Cancelled.as_str().to_owned());
                    active.updated_at = Set(Utc::now());
                    let model = active.update(&txn).await.map_err(CrmError::db(op))?;
                    txn.commit().await.map_err(CrmError::db(op))?;
                    Ok(model)
                }),
            )
            .await?;
        info!(appointment_id = model.id, "appointment cancelled");
        self.appointment_info(model).await
    }

    /// The customer's scheduled appointments starting after `now`, soonest first.
    pub async fn find_upcoming_appointments(
        &self,
        customer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<AppointmentInfo>, CrmError> {
        let Some(customer_id) = db_id(customer_id) else {
            return Ok(Vec::new());
        };
        self.timed("find_upcoming_appointments", async {
            let vehicles = load_vehicles(&self.db, customer_id).await?;
            load_upcoming(&self.db, customer_id, &vehicles, now).await
        })
        .await
    }

    /// One appointment with its owner, in any status.
    pub async fn get_appointment(
        &self,
        appointment_id: i64,
    ) -> Result<Option<Appointment>, CrmError> {
        let Some(id) = db_id(appointment_id) else {
            return Ok(None);
        };
        let model = self
            .timed("get_appointment", async {
                appointment::Entity::find_by_id(id)
                    .one(&self.db)
                    .await
                    .map_err(CrmError::db("get_appointment"))
            })
            .await?;
        let Some(model) = model else {
            return Ok(None);
        };
        let customer_id = i64::from(model.customer_id);
        let vehicle_id = model.vehicle_id.map(i64::from);
        let notes = model.notes.clone();
        let booked_via = model.booked_via.clone();
        let info = self.appointment_info(model).await?;
        Ok(Some(Appointment {
            customer_id,
            vehicle_id,
            notes,
            booked_via,
            info,
        }))
    }

    async fn appointment_info(
        &self,
        model: appointment::Model,
    ) -> Result<AppointmentInfo, CrmError> {
        let vehicle = match model.vehicle_id {
            Some(vehicle_id) => self
                .timed("appointment_info", async {
                    vehicle::Entity::find_by_id(vehicle_id)
                        .one(&self.db)
                        .await
                        .map_err(CrmError::db("appointment_info"))
                })
                .await?
                .map(|v| vehicle_info(&v).describe()),
            None => None,
        };
        Ok(to_info(&model, vehicle))
    }
}

/// Converts an id from the outside (i64) to the stored integer; out of range means "no such row".
pub(crate) fn db_id(id: i64) -> Option<i32> {
    i32::try_from(id).ok().filter(|id| *id > 0)
}

pub(crate) fn vehicle_info(model: &vehicle::Model) -> VehicleInfo {
    VehicleInfo {
        id: i64::from(model.id),
        year: model.year,
        make: model.make.clone(),
        model: model.model.clone(),
        mileage: model.mileage,
        vin: model.vin.clone(),
        plate: model.license_plate.clone(),
    }
}

fn to_info(model: &appointment::Model, vehicle: Option<String>) -> AppointmentInfo {
    AppointmentInfo {
        id: i64::from(model.id),
        service: model.service.clone(),
        starts_at: model.starts_at,
        duration_minutes: u32::try_from(model.duration_minutes).unwrap_or(0),
        vehicle,
        status: model.status.clone(),
    }
}

fn ensure_changeable(model: &appointment::Model, now: DateTime<Utc>) -> Result<(), CrmError> {
    if model.status != AppointmentStatus::Scheduled.as_str() {
        return Err(CrmError::AppointmentNotScheduled {
            status: model.status.clone(),
        });
    }
    if model.starts_at <= now {
        return Err(CrmError::InPast);
    }
    Ok(())
}

async fn load_vehicles(
    db: &impl ConnectionTrait,
    customer_id: i32,
) -> Result<Vec<VehicleInfo>, CrmError> {
    let rows = vehicle::Entity::find()
        .filter(vehicle::Column::CustomerId.eq(customer_id))
        .order_by_asc(vehicle::Column::Id)
        .all(db)
        .await
        .map_err(CrmError::db("load_vehicles"))?;
    Ok(rows.iter().map(vehicle_info).collect())
}

async fn load_upcoming(
    db: &impl ConnectionTrait,
    customer_id: i32,
    vehicles: &[VehicleInfo],
    now: DateTime<Utc>,
) -> Result<Vec<AppointmentInfo>, CrmError> {
    let rows = appointment::Entity::find()
        .filter(appointment::Column::CustomerId.eq(customer_id))
        .filter(appointment::Column::StartsAt.gt(now))
        .filter(appointment::Column::Status.eq(AppointmentStatus::Scheduled.as_str()))
        .order_by_asc(appointment::Column::StartsAt)
        .limit(MAX_UPCOMING)
        .all(db)
        .await
        .map_err(CrmError::db("load_upcoming"))?;
    let names: HashMap<i64, String> = vehicles.iter().map(|v| (v.id, v.describe())).collect();
    Ok(rows
        .iter()
        .map(|row| {
            let vehicle = row
                .vehicle_id
                .and_then(|id| names.get(&i64::from(id)).cloned());
            to_info(row, vehicle)
        })
        .collect())
}

/// Scheduled appointments overlapping `[start, end)`, except `exclude`.
async fn scheduled_spans(
    db: &impl ConnectionTrait,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    exclude: Option<i32>,
) -> Result<Vec<Span>, CrmError> {
    let mut query = appointment::Entity::find()
        .filter(appointment::Column::Status.eq(AppointmentStatus::Scheduled.as_str()))
        .filter(appointment::Column::StartsAt.lt(end))
        .filter(appointment::Column::EndsAt.gt(start));
    if let Some(exclude) = exclude {
        query = query.filter(appointment::Column::Id.ne(exclude));
    }
    let rows = query
        .all(db)
        .await
        .map_err(CrmError::db("scheduled_spans"))?;
    Ok(rows
        .iter()
        .map(|row| Span {
            starts_at: row.starts_at,
            ends_at: row.ends_at,
        })
        .collect())
}
