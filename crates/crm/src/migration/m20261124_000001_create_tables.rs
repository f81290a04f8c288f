//! customers, vehicles, appointments, calls.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, integer, integer_null, json_null, pk_auto, string, string_null, string_uniq,
    text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    FirstName,
    LastName,
    Phone,
    Email,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Vehicles {
    Table,
    Id,
    CustomerId,
    Year,
    Make,
    Model,
    Mileage,
    Vin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Appointments {
    Table,
    Id,
    CustomerId,
    VehicleId,
    Service,
    StartsAt,
    EndsAt,
    DurationMinutes,
    Status,
    Notes,
    BookedVia,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Calls {
    Table,
    Id,
    CallSid,
    CustomerId,
    CallerPhone,
    Direction,
    CallType,
    StartedAt,
    EndedAt,
    Status,
    Summary,
    Transcript,
    Escalated,
    EscalationReason,
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .if_not_exists()
                    .col(pk_auto(Customers::Id))
                    .col(string(Customers::FirstName))
                    .col(string(Customers::LastName))
                    // The unique constraint is also the lookup index for `lookup_customer`.
                    .col(string_uniq(Customers::Phone))
                    .col(string_null(Customers::Email))
                    .col(timestamp_with_time_zone(Customers::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Vehicles::Table)
                    .if_not_exists()
                    .col(pk_auto(Vehicles::Id))
                    .col(integer(Vehicles::CustomerId))
                    .col(integer(Vehicles::Year))
                    .col(string(Vehicles::Make))
                    .col(string(Vehicles::Model))
                    .col(integer_null(Vehicles::Mileage))
                    .col(string_null(Vehicles::Vin))
                    .col(timestamp_with_time_zone(Vehicles::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_vehicles_customer")
                            .from(Vehicles::Table, Vehicles::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_vehicles_customer")
                    .table(Vehicles::Table)
                    .col(Vehicles::CustomerId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Appointments::Table)
                    .if_not_exists()
                    .col(pk_auto(Appointments::Id))
                    .col(integer(Appointments::CustomerId))
                    .col(integer_null(Appointments::VehicleId))
                    .col(string(Appointments::Service))
                    .col(timestamp_with_time_zone(Appointments::StartsAt))
                    .col(timestamp_with_time_zone(Appointments::EndsAt))
                    .col(integer(Appointments::DurationMinutes))
                    .col(string(Appointments::Status))
                    .col(text_null(Appointments::Notes))
                    .col(string(Appointments::BookedVia))
                    .col(timestamp_with_time_zone(Appointments::CreatedAt))
                    .col(timestamp_with_time_zone(Appointments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_appointments_customer")
                            .from(Appointments::Table, Appointments::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_appointments_vehicle")
                            .from(Appointments::Table, Appointments::VehicleId)
                            .to(Vehicles::Table, Vehicles::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_appointments_customer_starts")
                    .table(Appointments::Table)
                    .col(Appointments::CustomerId)
                    .col(Appointments::StartsAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_appointments_starts")
                    .table(Appointments::Table)
                    .col(Appointments::StartsAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Calls::Table)
                    .if_not_exists()
                    .col(pk_auto(Calls::Id))
                    .col(string_uniq(Calls::CallSid))
                    .col(integer_null(Calls::CustomerId))
                    .col(string(Calls::CallerPhone))
                    .col(string(Calls::Direction))
                    .col(string_null(Calls::CallType))
                    .col(timestamp_with_time_zone(Calls::StartedAt))
                    .col(timestamp_with_time_zone_null(Calls::EndedAt))
                    .col(string(Calls::Status))
                    .col(json_null(Calls::Summary))
                    .col(json_null(Calls::Transcript))
                    .col(boolean(Calls::Escalated))
                    .col(text_null(Calls::EscalationReason))
                    .col(integer(Calls::PromptTokens))
                    .col(integer(Calls::CompletionTokens))
                    .col(integer(Calls::TotalTokens))
                    .col(timestamp_with_time_zone(Calls::CreatedAt))
                    .col(timestamp_with_time_zone(Calls::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_calls_customer")
                            .from(Calls::Table, Calls::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_calls_customer")
                    .table(Calls::Table)
                    .col(Calls::CustomerId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Calls::Table.into_iden(),
            Appointments::Table.into_iden(),
            Vehicles::Table.into_iden(),
            Customers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
