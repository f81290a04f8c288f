//! vehicles.license_plate: the plate a caller spells, stored through the `update_vehicle` and
//! `book_appointment` tools.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Vehicles {
    Table,
    LicensePlate,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Vehicles::Table)
                    .add_column(string_null(Vehicles::LicensePlate))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Vehicles::Table)
                    .drop_column(Vehicles::LicensePlate)
                    .to_owned(),
            )
            .await
    }
}
