//! outcome_deliveries: finished calls waiting to be POSTed to the end-of-call webhook, with
//! their attempts; a row is written with the call's final record, so a delivery is as durable
//! as the record.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, string, string_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum OutcomeDeliveries {
    Table,
    CallSid,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    DeliveredAt,
    FailedAt,
    LastError,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutcomeDeliveries::Table)
                    .if_not_exists()
                    .col(string(OutcomeDeliveries::CallSid).primary_key())
                    .col(integer(OutcomeDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone(OutcomeDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(
                        OutcomeDeliveries::ClaimedUntil,
                    ))
                    .col(timestamp_with_time_zone_null(
                        OutcomeDeliveries::DeliveredAt,
                    ))
                    .col(timestamp_with_time_zone_null(OutcomeDeliveries::FailedAt))
                    .col(string_null(OutcomeDeliveries::LastError))
                    .col(timestamp_with_time_zone(OutcomeDeliveries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outcome_deliveries_due")
                    .table(OutcomeDeliveries::Table)
                    .col(OutcomeDeliveries::NextAttemptAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OutcomeDeliveries::Table).to_owned())
            .await
    }
}
