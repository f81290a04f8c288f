//! Schema migrations, run on start (`connect_and_migrate`) and by `voice-gateway migrate`.
//! Migrations are append-only: never edit one that has shipped, add a new one.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

mod m20261124_000001_create_tables;
mod m20261204_000001_callback_requests;
mod m20261205_000001_vehicle_plate;
mod m20261205_000002_sms_opt_outs;
mod m20261205_000003_outcome_deliveries;
mod m20261205_000004_call_recordings;
mod m20261205_000005_reminders;
mod m20261205_000006_callback_messages;
mod m20261205_000007_call_opt_outs;

/// The list of migrations, oldest first.
pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_tables::Migration),
            Box::new(m20261204_000001_callback_requests::Migration),
            Box::new(m20261205_000001_vehicle_plate::Migration),
            Box::new(m20261205_000002_sms_opt_outs::Migration),
            Box::new(m20261205_000003_outcome_deliveries::Migration),
            Box::new(m20261205_000004_call_recordings::Migration),
            Box::new(m20261205_000005_reminders::Migration),
            Box::new(m20261205_000006_callback_messages::Migration),
            Box::new(m20261205_000007_call_opt_outs::Migration),
        ]
    }
}
