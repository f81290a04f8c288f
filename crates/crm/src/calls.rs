//! Call records: one row per call SID, written (and rewritten) at the end of a call.

use chrono::{DateTime, Utc};
use conversation::CallDirection;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tracing::debug;

use crate::appointments::db_id;
use crate::entity::call;
use crate::phone::normalize_phone;
use crate::{Crm, CrmError};

/// LLM tokens a call used, as stored with its record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Tokens in the requests.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Their sum, as the vendor reported it.
    pub total_tokens: u32,
}

/// Everything stored about one call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// Twilio's call SID; unique, the upsert key.
    pub call_sid: String,
    /// The customer, if identified.
    pub customer_id: Option<i64>,
    /// The caller's number: stored as E.164 when it parses, otherwise as given (Twilio sends
    /// words like "anonymous" for withheld numbers).
    pub caller_phone: String,
    /// Inbound or outbound.
    pub direction: CallDirection,
    /// What the call was about (the conversation's call type), once known.
    pub call_type: Option<String>,
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// When it ended, if it has.
    pub ended_at: Option<DateTime<Utc>>,
    /// Free-form status, e.g. `in_progress`, `completed`, `escalated`, `failed`.
    pub status: String,
    /// The final conversation summary.
    pub summary: Option<serde_json::Value>,
    /// The transcript.
    pub transcript: Option<serde_json::Value>,
    /// Whether the call was handed to a human.
    pub escalated: bool,
    /// Why, when it was.
    pub escalation_reason: Option<String>,
    /// LLM token usage over the whole call.
    pub usage: TokenUsage,
}

impl Crm {
    /// Inserts or replaces the record for `record.call_sid`, so a retried final write does not
    /// create a second row. `created_at` stays from the first write. A record without `ended_at`
    /// (written when the call starts) only inserts: it never replaces a stored record.
    pub async fn record_call(&self, record: &CallRecord) -> Result<(), CrmError> {
        if record.call_sid.trim().is_empty() {
            return Err(CrmError::InvalidArgument("call SID is empty".to_owned()));
        }
        let caller_phone =
            normalize_phone(&record.caller_phone).unwrap_or_else(|_| record.caller_phone.clone());
        let stamp = Utc::now();
        let model = call::ActiveModel {
            call_sid: Set(record.call_sid.clone()),
            customer_id: Set(record.customer_id.and_then(db_id)),
            caller_phone: Set(caller_phone),
            direction: Set(record.direction.as_str().to_owned()),
            call_type: Set(record.call_type.clone()),
            started_at: Set(record.started_at),
            ended_at: Set(record.ended_at),
            status: Set(record.status.clone()),
            summary: Set(record.summary.clone()),
            transcript: Set(record.transcript.clone()),
            escalated: Set(record.escalated),
            escalation_reason: Set(record.escalation_reason.clone()),
            prompt_tokens: Set(saturating_i32(record.usage.prompt_tokens)),
            completion_tokens: Set(saturating_i32(record.usage.completion_tokens)),
            total_tokens: Set(saturating_i32(record.usage.total_tokens)),
            created_at: Set(stamp),
            updated_at: Set(stamp),
            ..Default::default()
        };
        // A record of a call still in progress (no `ended_at`) only ever creates the row: it
        // never replaces what is stored, so it cannot overwrite a final record that landed first.
        let on_conflict = if record.ended_at.is_none() {
            OnConflict::column(call::Column::CallSid)
                .do_nothing()
                .to_owned()
        } else {
            OnConflict::column(call::Column::CallSid)
                .update_columns([
                    call::Column::CustomerId,
                    call::Column::CallerPhone,
                    call::Column::Direction,
                    call::Column::CallType,
                    call::Column::StartedAt,
                    call::Column::EndedAt,
                    call::Column::Status,
                    call::Column::Summary,
                    call::Column::Transcript,
                    call::Column::Escalated,
                    call::Column::EscalationReason,
                    call::Column::PromptTokens,
                    call::Column::CompletionTokens,
                    call::Column::TotalTokens,
                    call::Column::UpdatedAt,
                ])
                .to_owned()
        };
        self.timed("record_call", async {
            call::Entity::insert(model)
                .on_conflict(on_conflict)
                .exec_without_returning(&self.db)
                .await
                .map_err(CrmError::db("record_call"))?;
            // The webhook's delivery is queued with the final record: if this fails, the whole
            // record is retried (the outbox keeps it until this returns Ok), so it is never lost.
            if let (true, Some(ended_at)) = (self.config.queue_outcomes, record.ended_at) {
                self.queue_outcome(&self.db, &record.call_sid, ended_at)
                    .await?;
            }
            debug!(status = %record.status, "call recorded");
            Ok(())
        })
        .await
    }

    /// Closes the record of a call that is still `in_progress` (no `ended_at`): Twilio says the
    /// call is over but no final record came, because the gateway handling it died. Returns
    /// whether a record was closed. A final record that lands later still replaces this.
    pub async fn close_open_call(
        &self,
        call_sid: &str,
        ended_at: DateTime<Utc>,
        status: &str,
    ) -> Result<bool, CrmError> {
        self.timed("close_open_call", async {
            let closed = call::Entity::update_many()
                .col_expr(call::Column::EndedAt, Expr::value(Some(ended_at)))
                .col_expr(call::Column::Status, Expr::value(status))
                .col_expr(call::Column::UpdatedAt, Expr::value(ended_at))
                .filter(call::Column::CallSid.eq(call_sid))
                .filter(call::Column::EndedAt.is_null())
                .exec(&self.db)
                .await
                .map_err(CrmError::db("close_open_call"))?;
            if closed.rows_affected > 0 && self.config.queue_outcomes {
                self.queue_outcome(&self.db, call_sid, ended_at).await?;
            }
            Ok(closed.rows_affected > 0)
        })
        .await
    }

    /// The stored record for a call SID.
    pub async fn get_call(&self, call_sid: &str) -> Result<Option<CallRecord>, CrmError> {
        let row = self
            .timed("get_call", async {
                call::Entity::find()
                    .filter(call::Column::CallSid.eq(call_sid))
                    .one(&self.db)
                    .await
                    .map_err(CrmError::db("get_call"))
            })
            .await?;
        Ok(row.map(record_from_row))
    }

    /// The most recent calls, newest first (by start time), at most `limit`.
    pub async fn recent_calls(&self, limit: u64) -> Result<Vec<CallRecord>, CrmError> {
        let rows = self
            .timed("recent_calls", async {
                call::Entity::find()
                    .order_by_desc(call::Column::StartedAt)
                    .limit(limit)
                    .all(&self.db)
                    .await
                    .map_err(CrmError::db("recent_calls"))
            })
            .await?;
        Ok(rows.into_iter().map(record_from_row).collect())
    }
}

fn record_from_row(row: call::Model) -> CallRecord {
    CallRecord {
        call_sid: row.call_sid,
        customer_id: row.customer_id.map(i64::from),
        caller_phone: row.caller_phone,
        direction: CallDirection::from_stored(&row.direction),
        call_type: row.call_type,
        started_at: row.started_at,
        ended_at: row.ended_at,
        status: row.status,
        summary: row.summary,
        transcript: row.transcript,
        escalated: row.escalated,
        escalation_reason: row.escalation_reason,
        usage: TokenUsage {
            prompt_tokens: u32::try_from(row.prompt_tokens).unwrap_or(0),
            completion_tokens: u32::try_from(row.completion_tokens).unwrap_or(0),
            total_tokens: u32::try_from(row.total_tokens).unwrap_or(0),
        },
    }
}

fn saturating_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
