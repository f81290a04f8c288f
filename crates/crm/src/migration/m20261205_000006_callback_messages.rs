//! callback_requests.caller_name, message: the message the agent took (the caller's name as
//! understood, and what it is about in their words); `phone` is the number they confirmed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum CallbackRequests {
    Table,
    CallerName,
    Message,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            ColumnDef::new(CallbackRequests::CallerName)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(CallbackRequests::Message)
                .text()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CallbackRequests::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [CallbackRequests::CallerName, CallbackRequests::Message] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CallbackRequests::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
