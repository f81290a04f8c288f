//! sea-orm entities for the tables. Relations are kept in the migration's foreign keys;
//! queries here join by id explicitly, which keeps the generated code small.
//!
//! The derive macros generate many public items (Column, ActiveModel, …) that have no docs and
//! are not reachable from outside the crate; the module is crate-private, hence the allows.
#![allow(missing_docs, unreachable_pub)]

pub mod appointment;
pub mod call;
pub mod call_opt_out;
pub mod callback_request;
pub mod customer;
pub mod outcome_delivery;
pub mod reminder;
pub mod sms_opt_out;
pub mod vehicle;
