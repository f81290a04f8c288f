//! The crate's error type.

use std::time::Duration;

use chrono::NaiveDate;

/// Everything a CRM operation can fail with.
///
/// Business-rule variants (`UnknownService`, `Closed`, `OutsideHours`, `InPast`, `SlotFull`, the
/// `*NotFound` ones, `InvalidPhone`, `InvalidArgument`) are expected outcomes the caller turns into
/// words; `Database`, `Timeout` and `Contention` mean the store itself is unwell.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// The text is not a valid phone number (default region US).
    #[error("invalid phone number ({reason})")]
    InvalidPhone {
        /// Why it was rejected (never the number itself: it may be a full phone number).
        reason: String,
    },
    /// The service is not in the shop's catalog.
    #[error("unknown service {name:?}")]
    UnknownService {
        /// What was asked for.
        name: String,
    },
    /// The shop is closed on that local date (weekly closing day or holiday).
    #[error("the shop is closed on {date}{}", holiday.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Closed {
        /// The local date.
        date: NaiveDate,
        /// The holiday's name, when it is one.
        holiday: Option<String>,
    },
    /// The appointment would start before opening, end after closing, or start off the slot grid.
    #[error("{reason}")]
    OutsideHours {
        /// A sentence saying what is wrong.
        reason: String,
    },
    /// The requested time is not in the future.
    #[error("that time is in the past")]
    InPast,
    /// Every bay is taken for some part of the requested time.
    #[error("no bay is free for that time")]
    SlotFull,
    /// No customer with that id or phone.
    #[error("customer not found")]
    CustomerNotFound,
    /// No vehicle with that id for that customer.
    #[error("vehicle not found")]
    VehicleNotFound,
    /// No appointment with that id (or not one that can still be changed).
    #[error("appointment not found")]
    AppointmentNotFound,
    /// The appointment is not `scheduled` any more, so it cannot be changed.
    #[error("appointment is {status}, not scheduled")]
    AppointmentNotScheduled {
        /// Its current status.
        status: String,
    },
    /// The customer already has `limit` appointments booked this way today.
    #[error("already {limit} bookings today")]
    BookingLimit {
        /// The configured daily limit.
        limit: u32,
    },
    /// An argument is out of range or malformed (date range too long, bad seed file, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A write kept losing to concurrent writers after the configured number of retries.
    #[error("gave up after {attempts} attempts because of concurrent writes")]
    Contention {
        /// How many attempts were made.
        attempts: u32,
    },
    /// The operation did not finish within the configured time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// Which operation.
        operation: &'static str,
        /// The configured limit.
        after: Duration,
    },
    /// The database refused or failed.
    #[error("database error during {operation}")]
    Database {
        /// Which operation.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: DatabaseError,
    },
}

impl CrmError {
    /// Whether this is the store being unwell (retry later, say a fallback line) rather than an
    /// answer about the request.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Database { .. } | Self::Timeout { .. } | Self::Contention { .. }
        )
    }

    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sea_orm::DbErr) -> Self {
        move |err| Self::Database {
            operation,
            source: DatabaseError(err),
        }
    }
}

/// An opaque database driver error (keeps sea-orm out of our public signatures).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DatabaseError(pub(crate) sea_orm::DbErr);
