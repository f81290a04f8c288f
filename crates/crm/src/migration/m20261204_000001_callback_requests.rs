//! callback_requests: a person must call this caller back (escalation without a transfer).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer_null, pk_auto, string, string_uniq, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum CallbackRequests {
    Table,
    Id,
    CallSid,
    CustomerId,
    Phone,
    Reason,
    Status,
    CreatedAt,
    DoneAt,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CallbackRequests::Table)
                    .if_not_exists()
                    .col(pk_auto(CallbackRequests::Id))
                    .col(string_uniq(CallbackRequests::CallSid))
                    .col(integer_null(CallbackRequests::CustomerId))
                    .col(string(CallbackRequests::Phone))
                    .col(text_null(CallbackRequests::Reason))
                    .col(string(CallbackRequests::Status))
                    .col(timestamp_with_time_zone(CallbackRequests::CreatedAt))
                    .col(timestamp_with_time_zone_null(CallbackRequests::DoneAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_callback_requests_customer")
                            .from(CallbackRequests::Table, CallbackRequests::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_callback_requests_status")
                    .table(CallbackRequests::Table)
                    .col(CallbackRequests::Status)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(CallbackRequests::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
