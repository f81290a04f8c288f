//! sms_opt_outs: numbers that texted STOP; no text message is ever sent to them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum SmsOptOuts {
    Table,
    Phone,
    OptedOutAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SmsOptOuts::Table)
                    .if_not_exists()
                    .col(string(SmsOptOuts::Phone).primary_key())
                    .col(timestamp_with_time_zone(SmsOptOuts::OptedOutAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SmsOptOuts::Table).to_owned())
            .await
    }
}
