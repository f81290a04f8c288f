use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "appointments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub customer_id: i32,
    pub vehicle_id: Option<i32>,
    /// Canonical service name from the shop catalog.
    pub service: String,
    /// UTC.
    pub starts_at: DateTimeUtc,
    /// `starts_at + duration_minutes`, stored so overlap queries are plain comparisons.
    pub ends_at: DateTimeUtc,
    pub duration_minutes: i32,
    /// `AppointmentStatus::as_str`.
    pub status: String,
    pub notes: Option<String>,
    /// `BookedVia::as_str`.
    pub booked_via: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
