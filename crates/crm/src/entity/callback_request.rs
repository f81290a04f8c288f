use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "callback_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub call_sid: String,
    pub customer_id: Option<i32>,
    pub phone: String,
    pub reason: Option<String>,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub done_at: Option<DateTimeUtc>,
    pub caller_name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
