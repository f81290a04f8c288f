//! Call recordings (Twilio's, when `CALL_RECORDING` is on): the recording's SID and URL are
//! stored on the call's record when Twilio reports it complete, and retention deletes old ones.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use crate::entity::call;
use crate::{Crm, CrmError};

/// A call's recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecording {
    /// The call.
    pub call_sid: String,
    /// Twilio's recording SID (`RE…`).
    pub recording_sid: String,
    /// Where Twilio serves it (behind the account's credentials).
    pub url: String,
    /// When retention deleted it.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Crm {
    /// Stores a call's recording on its record. A call whose record has not landed yet gets a
    /// placeholder row (its start record then adds nothing; its final record fills it in).
    pub async fn set_call_recording(
        &self,
        call_sid: &str,
        recording_sid: &str,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        if call_sid.trim().is_empty() || recording_sid.trim().is_empty() {
            return Err(CrmError::InvalidArgument(
                "call and recording SIDs are needed".to_owned(),
            ));
        }
        self.timed("set_call_recording", async {
            let op = "set_call_recording";
            let update = |db| {
                call::Entity::update_many()
                    .col_expr(call::Column::RecordingSid, Expr::value(Some(recording_sid)))
                    .col_expr(call::Column::RecordingUrl, Expr::value(Some(url)))
                    .filter(call::Column::CallSid.eq(call_sid))
                    .exec(db)
            };
            if update(&self.db)
                .await
                .map_err(CrmError::db(op))?
                .rows_affected
                > 0
            {
                return Ok(());
            }
            let placeholder = call::ActiveModel {
                call_sid: sea_orm::ActiveValue::Set(call_sid.to_owned()),
                caller_phone: sea_orm::ActiveValue::Set("unknown".to_owned()),
                direction: sea_orm::ActiveValue::Set("inbound".to_owned()),
                started_at: sea_orm::ActiveValue::Set(now),
                status: sea_orm::ActiveValue::Set("in_progress".to_owned()),
                escalated: sea_orm::ActiveValue::Set(false),
                prompt_tokens: sea_orm::ActiveValue::Set(0),
                completion_tokens: sea_orm::ActiveValue::Set(0),
                total_tokens: sea_orm::ActiveValue::Set(0),
                created_at: sea_orm::ActiveValue::Set(now),
                updated_at: sea_orm::ActiveValue::Set(now),
                recording_sid: sea_orm::ActiveValue::Set(Some(recording_sid.to_owned())),
                recording_url: sea_orm::ActiveValue::Set(Some(url.to_owned())),
                ..Default::default()
            };
            call::Entity::insert(placeholder)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::column(call::Column::CallSid)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await
                .map_err(CrmError::db(op))?;
            // Lost a race with the start record: set it on that row.
            update(&self.db).await.map_err(CrmError::db(op))?;
            Ok(())
        })
        .await
    }

    /// A call's recording, if it has one.
    pub async fn call_recording(&self, call_sid: &str) -> Result<Option<CallRecording>, CrmError> {
        self.timed("call_recording", async {
            let row = call::Entity::find()
                .filter(call::Column::CallSid.eq(call_sid))
                .one(&self.db)
                .await
                .map_err(CrmError::db("call_recording"))?;
            Ok(row.and_then(recording_of))
        })
        .await
    }

    /// Recordings of calls that started before `cutoff` and are not deleted yet, oldest first.
    pub async fn recordings_to_delete(
        &self,
        cutoff: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<CallRecording>, CrmError> {
        self.timed("recordings_to_delete", async {
            let rows = call::Entity::find()
                .filter(call::Column::RecordingSid.is_not_null())
                .filter(call::Column::RecordingDeletedAt.is_null())
                .filter(call::Column::StartedAt.lt(cutoff))
                .order_by_asc(call::Column::StartedAt)
                .limit(limit)
                .all(&self.db)
                .await
                .map_err(CrmError::db("recordings_to_delete"))?;
            Ok(rows.into_iter().filter_map(recording_of).collect())
        })
        .await
    }

    /// Retention deleted the recording of `call_sid`.
    pub async fn recording_deleted(
        &self,
        call_sid: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        self.timed("recording_deleted", async {
            call::Entity::update_many()
                .col_expr(call::Column::RecordingDeletedAt, Expr::value(Some(now)))
                .filter(call::Column::CallSid.eq(call_sid))
                .exec(&self.db)
                .await
                .map_err(CrmError::db("recording_deleted"))?;
            Ok(())
        })
        .await
    }
}

fn recording_of(row: call::Model) -> Option<CallRecording> {
    Some(CallRecording {
        recording_sid: row.recording_sid?,
        url: row.recording_url.unwrap_or_default(),
        call_sid: row.call_sid,
        deleted_at: row.recording_deleted_at,
    })
}
