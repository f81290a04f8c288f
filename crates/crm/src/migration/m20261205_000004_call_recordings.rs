//! calls.recording_sid, recording_url, recording_deleted_at: the call's Twilio recording (when
//! recording is on), and when retention deleted it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Calls {
    Table,
    RecordingSid,
    RecordingUrl,
    RecordingDeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            ColumnDef::new(Calls::RecordingSid)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(Calls::RecordingUrl)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(Calls::RecordingDeletedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Calls::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Calls::RecordingSid,
            Calls::RecordingUrl,
            Calls::RecordingDeletedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Calls::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
