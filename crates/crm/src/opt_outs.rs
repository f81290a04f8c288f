//! The do-not-call list: numbers the shop never places an outbound call to (the customer asked
//! on a call, or an operator added them). Separate from text opt-outs (`STOP`), which only stop
//! text messages.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::entity::call_opt_out;
use crate::phone::{mask_phone, normalize_phone};
use crate::{Crm, CrmError};

/// One number on the do-not-call list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOptOut {
    /// E.164.
    pub phone: String,
    /// When it was added.
    pub opted_out_at: DateTime<Utc>,
    /// How: `call` (asked on a call) or `api` (an operator).
    pub source: String,
}

impl Crm {
    /// Puts `phone` on the do-not-call list (`opted_out`), or takes it off. Adding a number
    /// already there keeps its first date.
    pub async fn set_call_opt_out(
        &self,
        phone: &str,
        opted_out: bool,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        let phone = normalize_phone(phone)?;
        let op = "set_call_opt_out";
        self.timed(op, async {
            if opted_out {
                let model = call_opt_out::ActiveModel {
                    phone: Set(phone.clone()),
                    opted_out_at: Set(now),
                    source: Set(source.to_owned()),
                };
                call_opt_out::Entity::insert(model)
                    .on_conflict(
                        OnConflict::column(call_opt_out::Column::Phone)
                            .do_nothing()
                            .to_owned(),
                    )
                    .exec_without_returning(&self.db)
                    .await
                    .map_err(CrmError::db(op))?;
            } else {
                call_opt_out::Entity::delete_by_id(phone.clone())
                    .exec(&self.db)
                    .await
                    .map_err(CrmError::db(op))?;
            }
            info!(phone = %mask_phone(&phone), opted_out, source, "do-not-call list changed");
            Ok(())
        })
        .await
    }

    /// Whether `phone` is on the do-not-call list.
    pub async fn call_opted_out(&self, phone: &str) -> Result<bool, CrmError> {
        let phone = normalize_phone(phone)?;
        self.timed("call_opted_out", async {
            Ok(call_opt_out::Entity::find_by_id(phone)
                .one(&self.db)
                .await
                .map_err(CrmError::db("call_opted_out"))?
                .is_some())
        })
        .await
    }

    /// The do-not-call list, newest first.
    pub async fn call_opt_outs(&self, limit: u64) -> Result<Vec<CallOptOut>, CrmError> {
        let rows = self
            .timed("call_opt_outs", async {
                call_opt_out::Entity::find()
                    .order_by_desc(call_opt_out::Column::OptedOutAt)
                    .limit(limit)
                    .all(&self.db)
                    .await
                    .map_err(CrmError::db("call_opt_outs"))
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| CallOptOut {
                phone: row.phone,
                opted_out_at: row.opted_out_at,
                source: row.source,
            })
            .collect())
    }
}
