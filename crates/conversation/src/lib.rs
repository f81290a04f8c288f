//! The pure conversation state machine of a phone call to the shop.
//!
//! `ShopConfig` holds the shop's facts (hours, holidays, service catalog) loaded from
//! `fixtures/shop.toml`; `CustomerProfile` is what the CRM knows about a caller.
//!
//! Must not depend on: tokio or any async runtime, IO, the system clock, or other workspace crates.

mod customer;
mod shop;

pub use customer::{AppointmentInfo, CustomerProfile, VehicleInfo};
pub use shop::{Holiday, OpeningHours, Service, ShopConfig, ShopConfigError, WeeklyHours};
