//! Callback requests: a person must call this caller back (the call escalated and could not be
//! transferred, or the caller asked for it). One per call, a durable row listed by the API.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::appointments::db_id;
use crate::entity::{callback_request, sms_opt_out};
use crate::phone::normalize_phone;
use crate::{Crm, CrmError};

/// A request for a person to call back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackRequest {
    /// The database id (0 before it is stored).
    pub id: i64,
    /// The call it came from (one request per call).
    pub call_sid: String,
    /// The customer, when known.
    pub customer_id: Option<i64>,
    /// The number to call back (E.164 when it parses).
    pub phone: String,
    /// Why (the escalation reason, or what the caller said they need).
    pub reason: Option<String>,
    /// `open` or `done`.
    pub status: String,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When a person marked it done.
    pub done_at: Option<DateTime<Utc>>,
    /// The caller's name, when the agent took a message.
    #[serde(default)]
    pub caller_name: Option<String>,
    /// What the message is about, in the caller's words.
    #[serde(default)]
    pub message: Option<String>,
}

impl Crm {
    /// Stores a callback request; a second one for the same call (a retried write) changes
    /// nothing.
    pub async fn request_callback(&self, request: &CallbackRequest) -> Result<(), CrmError> {
        if request.call_sid.trim().is_empty() {
            return Err(CrmError::InvalidArgument("call SID is empty".to_owned()));
        }
        let phone = normalize_phone(&request.phone).unwrap_or_else(|_| request.phone.clone());
        let model = callback_request::ActiveModel {
            call_sid: Set(request.call_sid.clone()),
            customer_id: Set(request.customer_id.and_then(db_id)),
            phone: Set(phone),
            reason: Set(request.reason.clone()),
            status: Set("open".to_owned()),
            created_at: Set(request.created_at),
            done_at: Set(None),
            caller_name: Set(request.caller_name.clone()),
            message: Set(request.message.clone()),
            ..Default::default()
        };
        self.timed("request_callback", async {
            callback_request::Entity::insert(model)
                .on_conflict(
                    OnConflict::column(callback_request::Column::CallSid)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await
                .map_err(CrmError::db("request_callback"))?;
            Ok(())
        })
        .await
    }

    /// Callback requests, oldest first; only open ones unless `include_done`.
    pub async fn callback_requests(
        &self,
        include_done: bool,
        limit: u64,
    ) -> Result<Vec<CallbackRequest>, CrmError> {
        let rows = self
            .timed("callback_requests", async {
                let mut query = callback_request::Entity::find();
                if !include_done {
                    query = query.filter(callback_request::Column::Status.eq("open"));
                }
                query
                    .order_by_asc(callback_request::Column::CreatedAt)
                    .limit(limit)
                    .all(&self.db)
                    .await
                    .map_err(CrmError::db("callback_requests"))
            })
            .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// Marks a callback request done; `false` when there is no open request with that id.
    pub async fn complete_callback(&self, id: i64, now: DateTime<Utc>) -> Result<bool, CrmError> {
        let Some(id) = db_id(id) else {
            return Ok(false);
        };
        self.timed("complete_callback", async {
            let op = "complete_callback";
            let Some(row) = callback_request::Entity::find_by_id(id)
                .one(&self.db)
                .await
                .map_err(CrmError::db(op))?
            else {
                return Ok(false);
            };
            if row.status != "open" {
                return Ok(false);
            }
            let mut active: callback_request::ActiveModel = row.into();
            active.status = Set("done".to_owned());
            active.done_at = Set(Some(now));
            active.update(&self.db).await.map_err(CrmError::db(op))?;
            info!(callback_id = id, "callback request done");
            Ok(true)
        })
        .await
    }
}

fn from_row(row: callback_request::Model) -> CallbackRequest {
    CallbackRequest {
        id: i64::from(row.id),
        call_sid: row.call_sid,
        customer_id: row.customer_id.map(i64::from),
        phone: row.phone,
        reason: row.reason,
        status: row.status,
        created_at: row.created_at,
        done_at: row.done_at,
        caller_name: row.caller_name,
        message: row.message,
    }
}

impl Crm {
    /// Records that `phone` texted STOP (`opted_out`), or START again (`!opted_out`).
    pub async fn set_sms_opt_out(
        &self,
        phone: &str,
        opted_out: bool,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        let phone = normalize_phone(phone)?;
        self.timed("set_sms_opt_out", async {
            if opted_out {
                let model = sms_opt_out::ActiveModel {
                    phone: Set(phone),
                    opted_out_at: Set(now),
                };
                sms_opt_out::Entity::insert(model)
                    .on_conflict(
                        OnConflict::column(sms_opt_out::Column::Phone)
                            .do_nothing()
                            .to_owned(),
                    )
                    .exec_without_returning(&self.db)
                    .await
                    .map_err(CrmError::db("set_sms_opt_out"))?;
            } else {
                sms_opt_out::Entity::delete_by_id(phone)
                    .exec(&self.db)
                    .await
                    .map_err(CrmError::db("set_sms_opt_out"))?;
            }
            Ok(())
        })
        .await
    }

    /// Whether `phone` has opted out of text messages.
    pub async fn sms_opted_out(&self, phone: &str) -> Result<bool, CrmError> {
        let phone = normalize_phone(phone)?;
        self.timed("sms_opted_out", async {
            Ok(sms_opt_out::Entity::find_by_id(phone)
                .one(&self.db)
                .await
                .map_err(CrmError::db("sms_opted_out"))?
                .is_some())
        })
        .await
    }
}
