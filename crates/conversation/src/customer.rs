//! What the CRM knows about a caller, in the shape the conversation needs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the CRM knows about a caller: what the prompt needs. `crm::lookup_customer` returns this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerProfile {
    /// CRM primary key.
    pub id: i64,
    /// Used to greet the caller.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// E.164.
    pub phone: String,
    /// Contact email, when known.
    pub email: Option<String>,
    /// Vehicles on file.
    pub vehicles: Vec<VehicleInfo>,
    /// Appointments not yet happened, soonest first.
    pub upcoming_appointments: Vec<AppointmentInfo>,
}

/// A vehicle on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleInfo {
    /// CRM primary key.
    pub id: i64,
    /// Model year.
    pub year: i32,
    /// e.g. "Honda".
    pub make: String,
    /// e.g. "Civic".
    pub model: String,
    /// Last known odometer reading in miles.
    pub mileage: Option<i32>,
    /// The VIN on file (checked when it was stored).
    #[serde(default)]
    pub vin: Option<String>,
    /// The licence plate on file.
    #[serde(default)]
    pub plate: Option<String>,
}

/// A booked appointment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentInfo {
    /// CRM primary key.
    pub id: i64,
    /// Canonical service name.
    pub service: String,
    /// Stored in UTC; render in the shop timezone.
    pub starts_at: DateTime<Utc>,
    /// How long the bay is booked.
    pub duration_minutes: u32,
    /// e.g. "2019 Honda Civic".
    pub vehicle: Option<String>,
    /// scheduled / cancelled / completed / no_show.
    pub status: String,
}

impl VehicleInfo {
    /// "2019 Honda Civic".
    pub fn describe(&self) -> String {
        format!("{} {} {}", self.year, self.make, self.model)
    }
}
