//! call_opt_outs: the shop's do-not-call list; no outbound call (reminder, follow-up, service
//! due) is ever placed to these numbers.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum CallOptOuts {
    Table,
    Phone,
    OptedOutAt,
    Source,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CallOptOuts::Table)
                    .if_not_exists()
                    .col(string(CallOptOuts::Phone).primary_key())
                    .col(timestamp_with_time_zone(CallOptOuts::OptedOutAt))
                    .col(string(CallOptOuts::Source))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CallOptOuts::Table).to_owned())
            .await
    }
}
