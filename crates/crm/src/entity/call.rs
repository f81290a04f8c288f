use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "calls")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub call_sid: String,
    pub customer_id: Option<i32>,
    pub caller_phone: String,
    pub direction: String,
    pub call_type: Option<String>,
    pub started_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub status: String,
    pub summary: Option<Json>,
    pub transcript: Option<Json>,
    pub escalated: bool,
    pub escalation_reason: Option<String>,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub total_tokens: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub recording_sid: Option<String>,
    pub recording_url: Option<String>,
    pub recording_deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
