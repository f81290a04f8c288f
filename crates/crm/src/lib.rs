//! The shop's CRM: customers, vehicles, appointments and call records on sea-orm, over SQLite
//! (the embedded default) or PostgreSQL, plus the LLM tools that read and book through it.
//!
//! `Crm` is the store (`connect_and_migrate`, `migrate`, `Crm::seed_demo`); `CrmStore` is the
//! trait the call pipeline holds (`Arc<dyn CrmStore>`), implemented by `Crm`. Bookings are
//! serialized write transactions (SQLite `BEGIN IMMEDIATE`, PostgreSQL advisory lock) so bay
//! capacity holds under concurrent calls. `tools::ToolExecutor` turns LLM tool calls into CRM
//! operations and always answers with JSON (`{"ok": false, "error": {...}}` on failure).
//! Phone numbers are normalised to E.164 by `normalize_phone` (default region US). Times are
//! stored in UTC and interpreted in the shop's timezone (`conversation::ShopConfig`).
//!
//! Its tool descriptions (`tools::ToolSpec`) and token counts (`TokenUsage`) are its own types, so
//! the store knows nothing of the LLM side; the binary's adapter maps them.
//!
//! Must not depend on: `call-pipeline`, `providers`, vendor crates (`deepgram`, `openai`,
//! `elevenlabs`), `twilio`, `session-store`, or the process environment.

mod appointments;
mod callbacks;
mod calls;
mod entity;
mod error;
mod migration;
mod opt_outs;
pub mod outcomes;
mod phone;
mod recordings;
mod reminders;
pub mod report;
mod schedule;
mod seed;
mod store;
pub mod tools;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use conversation::{AppointmentInfo, CustomerProfile, ShopConfig, VehicleInfo};

pub use appointments::{
    Appointment, AppointmentStatus, BookedVia, BookingRequest, NewCustomer, NewVehicle,
    VehicleUpdate,
};
pub use callbacks::CallbackRequest;
pub use calls::{CallRecord, TokenUsage};
pub use conversation::CallDirection;
pub use error::{CrmError, DatabaseError};
pub use opt_outs::CallOptOut;
pub use phone::{is_withheld, mask_phone, normalize_phone};
pub use recordings::CallRecording;
pub use reminders::ReminderDue;
pub use schedule::Slot;
pub use seed::{DEMO_JSON, SeedReport};
pub use store::{Crm, CrmConfig, DEFAULT_DATABASE_URL, connect_and_migrate, migrate};

/// The CRM operations the call pipeline and the LLM tools use. `Crm` is the implementation;
/// each method is documented on the inherent method of the same name.
#[async_trait]
pub trait CrmStore: Send + Sync + 'static {
    /// The shop this CRM books for.
    fn shop(&self) -> &ShopConfig;
    /// See `Crm::lookup_customer`.
    async fn lookup_customer(
        &self,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CustomerProfile>, CrmError>;
    /// See `Crm::find_or_create_customer`.
    async fn find_or_create_customer(&self, new: &NewCustomer) -> Result<i64, CrmError>;
    /// See `Crm::add_vehicle`.
    async fn add_vehicle(
        &self,
        customer_id: i64,
        new: &NewVehicle,
    ) -> Result<VehicleInfo, CrmError>;
    /// See `Crm::update_vehicle`.
    async fn update_vehicle(
        &self,
        customer_id: i64,
        vehicle_id: i64,
        update: &VehicleUpdate,
    ) -> Result<VehicleInfo, CrmError>;
    /// See `Crm::update_customer_name`.
    async fn update_customer_name(
        &self,
        customer_id: i64,
        first_name: &str,
        last_name: &str,
    ) -> Result<(), CrmError>;
    /// See `Crm::available_slots`.
    async fn available_slots(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        service: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Slot>, CrmError>;
    /// See `Crm::book_appointment`.
    async fn book_appointment(
        &self,
        request: &BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<AppointmentInfo, CrmError>;
    /// See `Crm::reschedule_appointment`.
    async fn reschedule_appointment(
        &self,
        appointment_id: i64,
        new_starts_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<AppointmentInfo, CrmError>;
    /// See `Crm::cancel_appointment`.
    async fn cancel_appointment(
        &self,
        appointment_id: i64,
        now: DateTime<Utc>,
    ) -> Result<AppointmentInfo, CrmError>;
    /// See `Crm::find_upcoming_appointments`.
    async fn find_upcoming_appointments(
        &self,
        customer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<AppointmentInfo>, CrmError>;
    /// See `Crm::get_appointment`.
    async fn get_appointment(&self, appointment_id: i64) -> Result<Option<Appointment>, CrmError>;
    /// See `Crm::record_call`.
    async fn record_call(&self, record: &CallRecord) -> Result<(), CrmError>;
    /// See `Crm::request_callback`.
    async fn request_callback(&self, request: &CallbackRequest) -> Result<(), CrmError>;
    /// See `Crm::set_sms_opt_out`.
    async fn set_sms_opt_out(
        &self,
        phone: &str,
        opted_out: bool,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError>;
    /// See `Crm::sms_opted_out`.
    async fn sms_opted_out(&self, phone: &str) -> Result<bool, CrmError>;
    /// See `Crm::set_call_opt_out`.
    async fn set_call_opt_out(
        &self,
        phone: &str,
        opted_out: bool,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError>;
    /// See `Crm::ping`.
    async fn ping(&self) -> Result<(), CrmError>;
}

#[async_trait]
impl CrmStore for Crm {
    fn shop(&self) -> &ShopConfig {
        Crm::shop(self)
    }
    async fn lookup_customer(
        &self,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CustomerProfile>, CrmError> {
        Crm::lookup_customer(self, phone, now).await
    }
    async fn find_or_create_customer(&self, new: &NewCustomer) -> Result<i64, CrmError> {
        Crm::find_or_create_customer(self, new).await
    }
    async fn add_vehicle(
        &self,
        customer_id: i64,
        new: &NewVehicle,
    ) -> Result<VehicleInfo, CrmError> {
        Crm::add_vehicle(self, customer_id, new).await
    }
    async fn update_vehicle(
        &self,
        customer_id: i64,
        vehicle_id: i64,
        update: &VehicleUpdate,
    ) -> Result<VehicleInfo, CrmError> {
        Crm::update_vehicle(self, customer_id, vehicle_id, update).await
    }
    async fn update_customer_name(
        &self,
        customer_id: i64,
        first_name: &str,
        last_name: &str,
    ) -> Result<(), CrmError> {
        Crm::update_customer_name(self, customer_id, first_name, last_name).await
    }
    async fn available_slots(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        service: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Slot>, CrmError> {
        Crm::available_slots(self, from, to, service, now).await
    }
    async fn book_appointment(
        &self,
        request: &BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<AppointmentInfo, CrmError> {
        Crm::book_appointment(self, request, now).await
    }
    async fn reschedule_appointment(
        &self,
        appointment_id: i64,
        new_starts_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<AppointmentInfo, CrmError> {
        Crm::reschedule_appointment(self, appointment_id, new_starts_at, now).await
    }
    async fn cancel_appointment(
        &self,
        appointment_id: i64,
        now: DateTime<Utc>,
    ) -> Result<AppointmentInfo, CrmError> {
        Crm::cancel_appointment(self, appointment_id, now).await
    }
    async fn find_upcoming_appointments(
        &self,
        customer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<AppointmentInfo>, CrmError> {
        Crm::find_upcoming_appointments(self, customer_id, now).await
    }
    async fn get_appointment(&self, appointment_id: i64) -> Result<Option<Appointment>, CrmError> {
        Crm::get_appointment(self, appointment_id).await
    }
    async fn record_call(&self, record: &CallRecord) -> Result<(), CrmError> {
        Crm::record_call(self, record).await
    }
    async fn request_callback(&self, request: &CallbackRequest) -> Result<(), CrmError> {
        Crm::request_callback(self, request).await
    }
    async fn set_sms_opt_out(
        &self,
        phone: &str,
        opted_out: bool,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        Crm::set_sms_opt_out(self, phone, opted_out, now).await
    }
    async fn sms_opted_out(&self, phone: &str) -> Result<bool, CrmError> {
        Crm::sms_opted_out(self, phone).await
    }
    async fn set_call_opt_out(
        &self,
        phone: &str,
        opted_out: bool,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        Crm::set_call_opt_out(self, phone, opted_out, source, now).await
    }
    async fn ping(&self) -> Result<(), CrmError> {
        Crm::ping(self).await
    }
}
