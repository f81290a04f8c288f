//! reminders: one row per appointment a reminder call was placed for, so a reminder run (on
//! any gateway, after any restart) calls each appointment at most once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string_null, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Reminders {
    Table,
    AppointmentId,
    CallSid,
    ClaimedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reminders::Table)
                    .if_not_exists()
                    .col(integer(Reminders::AppointmentId).primary_key())
                    .col(string_null(Reminders::CallSid))
                    .col(timestamp_with_time_zone(Reminders::ClaimedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Reminders::Table).to_owned())
            .await
    }
}
