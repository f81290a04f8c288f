//! The end-of-call webhook's side of the CRM: the delivery queue (`outcome_deliveries`, one row
//! per finished call, written with its final record when `CrmConfig::queue_outcomes` is on, so
//! a delivery is as durable as the record) and the report each delivery sends.
//!
//! Delivery is at least once: a worker takes due rows (`due_outcomes`), claims each for a lease
//! (`claim_outcome`, so two gateways never send the same row at the same time), POSTs it and
//! marks it delivered, or schedules the next attempt, or gives up (`outcome_attempt_failed`).

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use serde_json::Value;

use crate::appointments::db_id;
use crate::entity::{callback_request, customer, outcome_delivery};
use crate::{CallRecord, Crm, CrmError};

/// What a finished call came to, for the shop's own software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// An appointment was booked.
    Booked,
    /// An appointment was moved.
    Rescheduled,
    /// An appointment was cancelled.
    Cancelled,
    /// A question was answered (hours, prices, status, the shop).
    Answered,
    /// The call went to a person.
    Escalated,
    /// A person is to call back (a callback request was taken).
    MessageTaken,
    /// An outbound call reached an answering machine and left a voicemail.
    VoicemailLeft,
    /// The caller left before anything was done.
    Abandoned,
}

/// The customer a report is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportCustomer {
    /// CRM id.
    pub id: i64,
    /// First name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// E.164.
    pub phone: String,
}

/// The JSON body of one end-of-call webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeReport {
    /// Always `call.ended`.
    pub event: &'static str,
    /// The call, which is also the idempotency key: a receiver that sees it twice must treat
    /// the second as the same delivery.
    pub call_sid: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The conversation flow, snake_case.
    pub call_type: Option<String>,
    /// How the call ended for the gateway: `completed`, `transferred`, `failed`, `interrupted`.
    pub status: String,
    /// What the call came to.
    pub outcome: CallOutcome,
    /// The caller (E.164), when known.
    pub caller_phone: Option<String>,
    /// The CRM customer, when known.
    pub customer: Option<ReportCustomer>,
    /// The appointment booked, moved or cancelled, as the booking tool returned it
    /// (`id`, `service`, `start` in the shop's local time, `spoken`, `duration_minutes`,
    /// `vehicle`, `status`).
    pub appointment: Option<Value>,
    /// What the caller wanted, snake_case.
    pub intent: Option<String>,
    /// The conversation summary (state, intent, collected slots, escalation).
    pub summary: Value,
    /// Why it escalated, snake_case.
    pub escalation_reason: Option<String>,
    /// Start, RFC 3339.
    pub started_at: DateTime<Utc>,
    /// End, RFC 3339.
    pub ended_at: Option<DateTime<Utc>>,
    /// Whole seconds from start to end.
    pub duration_seconds: Option<i64>,
}

/// A delivery's state, for tests and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeDelivery {
    /// The call.
    pub call_sid: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was given up.
    pub failed_at: Option<DateTime<Utc>>,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// The outcome of a call from its record: the last appointment tool that succeeded wins, then
/// an escalation (a callback request makes it a message taken), then the state it ended in.
pub fn classify(record: &CallRecord, callback_requested: bool) -> (CallOutcome, Option<Value>) {
    let mut done: Option<(CallOutcome, Value)> = None;
    if let Some(messages) = record.transcript.as_ref().and_then(Value::as_array) {
        let calls: Vec<(&str, &str)> = messages
            .iter()
            .filter(|m| m["role"] == "assistant")
            .filter_map(|m| m["tool_calls"].as_array())
            .flatten()
            .filter_map(|call| Some((call["id"].as_str()?, call["name"].as_str()?)))
            .collect();
        for message in messages.iter().filter(|m| m["role"] == "tool") {
            let Some(name) = message["tool_call_id"]
                .as_str()
                .and_then(|id| calls.iter().find(|(call, _)| *call == id))
                .map(|(_, name)| *name)
            else {
                continue;
            };
            let outcome = match name {
                "book_appointment" => CallOutcome::Booked,
                "reschedule_appointment" => CallOutcome::Rescheduled,
                "cancel_appointment" => CallOutcome::Cancelled,
                _ => continue,
            };
            let Ok(result) =
                serde_json::from_str::<Value>(message["content"].as_str().unwrap_or(""))
            else {
                continue;
            };
            if result["ok"] == Value::Bool(true) {
                done = Some((outcome, result["appointment"].clone()));
            }
        }
    }
    if let Some((outcome, appointment)) = done {
        return (outcome, Some(appointment).filter(|a| !a.is_null()));
    }
    if callback_requested {
        return (CallOutcome::MessageTaken, None);
    }
    if record.status == "voicemail" {
        return (CallOutcome::VoicemailLeft, None);
    }
    if record.escalated || record.status == "transferred" {
        return (CallOutcome::Escalated, None);
    }
    let conversation = record
        .summary
        .as_ref()
        .map_or(&Value::Null, |summary| &summary["conversation"]);
    let answered_intent = matches!(
        conversation["intent"].as_str(),
        Some("check_hours" | "check_status" | "pricing_inquiry" | "general_inquiry")
    );
    let reached_an_answer = matches!(
        conversation["state"].as_str(),
        Some("execution" | "closing")
    );
    if answered_intent && reached_an_answer {
        (CallOutcome::Answered, None)
    } else {
        (CallOutcome::Abandoned, None)
    }
}

impl Crm {
    /// Queues the webhook delivery of a finished call (once; a second queueing changes nothing).
    pub(crate) async fn queue_outcome(
        &self,
        db: &impl ConnectionTrait,
        call_sid: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        let row = outcome_delivery::ActiveModel {
            call_sid: Set(call_sid.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            claimed_until: Set(None),
            delivered_at: Set(None),
            failed_at: Set(None),
            last_error: Set(None),
            created_at: Set(now),
        };
        outcome_delivery::Entity::insert(row)
            .on_conflict(
                OnConflict::column(outcome_delivery::Column::CallSid)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await
            .map_err(CrmError::db("queue_outcome"))?;
        Ok(())
    }

    /// Calls whose delivery is due at `now` and not claimed by another worker, oldest first.
    pub async fn due_outcomes(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<String>, CrmError> {
        self.timed("due_outcomes", async {
            let rows = outcome_delivery::Entity::find()
                .filter(outcome_delivery::Column::DeliveredAt.is_null())
                .filter(outcome_delivery::Column::FailedAt.is_null())
                .filter(outcome_delivery::Column::NextAttemptAt.lte(now))
                .filter(
                    outcome_delivery::Column::ClaimedUntil
                        .is_null()
                        .or(outcome_delivery::Column::ClaimedUntil.lt(now)),
                )
                .order_by_asc(outcome_delivery::Column::NextAttemptAt)
                .limit(limit)
                .all(&self.db)
                .await
                .map_err(CrmError::db("due_outcomes"))?;
            Ok(rows.into_iter().map(|row| row.call_sid).collect())
        })
        .await
    }

    /// Claims a due delivery until `now + lease`; false when another worker has it (or it is
    /// no longer due).
    pub async fn claim_outcome(
        &self,
        call_sid: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, CrmError> {
        self.timed("claim_outcome", async {
            let claimed = outcome_delivery::Entity::update_many()
                .col_expr(
                    outcome_delivery::Column::ClaimedUntil,
                    Expr::value(Some(now + lease)),
                )
                .filter(outcome_delivery::Column::CallSid.eq(call_sid))
                .filter(outcome_delivery::Column::DeliveredAt.is_null())
                .filter(outcome_delivery::Column::FailedAt.is_null())
                .filter(
                    outcome_delivery::Column::ClaimedUntil
                        .is_null()
                        .or(outcome_delivery::Column::ClaimedUntil.lt(now)),
                )
                .exec(&self.db)
                .await
                .map_err(CrmError::db("claim_outcome"))?;
            Ok(claimed.rows_affected == 1)
        })
        .await
    }

    /// The receiver took it.
    pub async fn outcome_delivered(
        &self,
        call_sid: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        self.timed("outcome_delivered", async {
            outcome_delivery::Entity::update_many()
                .col_expr(
                    outcome_delivery::Column::Attempts,
                    Expr::col(outcome_delivery::Column::Attempts).add(1),
                )
                .col_expr(
                    outcome_delivery::Column::DeliveredAt,
                    Expr::value(Some(now)),
                )
                .col_expr(
                    outcome_delivery::Column::ClaimedUntil,
                    Expr::value(None::<DateTime<Utc>>),
                )
                .filter(outcome_delivery::Column::CallSid.eq(call_sid))
                .exec(&self.db)
                .await
                .map_err(CrmError::db("outcome_delivered"))?;
            Ok(())
        })
        .await
    }

    /// An attempt failed with `error`: try again at `retry_at`, or (`None`) give up.
    pub async fn outcome_attempt_failed(
        &self,
        call_sid: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        let error: String = error.chars().take(500).collect();
        self.timed("outcome_attempt_failed", async {
            let mut update = outcome_delivery::Entity::update_many()
                .col_expr(
                    outcome_delivery::Column::Attempts,
                    Expr::col(outcome_delivery::Column::Attempts).add(1),
                )
                .col_expr(
                    outcome_delivery::Column::LastError,
                    Expr::value(Some(error)),
                )
                .col_expr(
                    outcome_delivery::Column::ClaimedUntil,
                    Expr::value(None::<DateTime<Utc>>),
                );
            update = match retry_at {
                Some(at) => {
                    update.col_expr(outcome_delivery::Column::NextAttemptAt, Expr::value(at))
                }
                None => update.col_expr(outcome_delivery::Column::FailedAt, Expr::value(Some(now))),
            };
            update
                .filter(outcome_delivery::Column::CallSid.eq(call_sid))
                .exec(&self.db)
                .await
                .map_err(CrmError::db("outcome_attempt_failed"))?;
            Ok(())
        })
        .await
    }

    /// A delivery's state.
    pub async fn outcome_delivery(
        &self,
        call_sid: &str,
    ) -> Result<Option<OutcomeDelivery>, CrmError> {
        self.timed("outcome_delivery", async {
            let row = outcome_delivery::Entity::find_by_id(call_sid.to_owned())
                .one(&self.db)
                .await
                .map_err(CrmError::db("outcome_delivery"))?;
            Ok(row.map(|row| OutcomeDelivery {
                call_sid: row.call_sid,
                attempts: u32::try_from(row.attempts).unwrap_or_default(),
                next_attempt_at: row.next_attempt_at,
                delivered_at: row.delivered_at,
                failed_at: row.failed_at,
                last_error: row.last_error,
            }))
        })
        .await
    }

    /// The report a delivery sends, from the call's record; `None` when there is no record.
    pub async fn outcome_report(&self, call_sid: &str) -> Result<Option<OutcomeReport>, CrmError> {
        let Some(record) = self.get_call(call_sid).await? else {
            return Ok(None);
        };
        let (customer, callback_requested) = self
            .timed("outcome_report", async {
                let customer = match record.customer_id.and_then(db_id) {
                    Some(id) => customer::Entity::find_by_id(id)
                        .one(&self.db)
                        .await
                        .map_err(CrmError::db("outcome_report"))?,
                    None => None,
                };
                let callback = callback_request::Entity::find()
                    .filter(callback_request::Column::CallSid.eq(call_sid))
                    .one(&self.db)
                    .await
                    .map_err(CrmError::db("outcome_report"))?;
                Ok((customer, callback.is_some()))
            })
            .await?;
        let (outcome, appointment) = classify(&record, callback_requested);
        let conversation = record
            .summary
            .as_ref()
            .map_or(Value::Null, |summary| summary["conversation"].clone());
        Ok(Some(OutcomeReport {
            event: "call.ended",
            call_sid: record.call_sid.clone(),
            direction: record.direction.as_str().to_owned(),
            call_type: record.call_type.clone(),
            status: record.status.clone(),
            outcome,
            caller_phone: (!record.caller_phone.is_empty() && record.caller_phone != "unknown")
                .then(|| record.caller_phone.clone()),
            customer: customer.map(|c| ReportCustomer {
                id: i64::from(c.id),
                first_name: c.first_name,
                last_name: c.last_name,
                phone: c.phone,
            }),
            appointment,
            intent: conversation["intent"].as_str().map(str::to_owned),
            summary: conversation,
            escalation_reason: record.escalation_reason.clone(),
            started_at: record.started_at,
            ended_at: record.ended_at,
            duration_seconds: record
                .ended_at
                .map(|end| (end - record.started_at).num_seconds()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::CallDirection;

    fn record(transcript: Value, state: &str, intent: &str, escalated: bool) -> CallRecord {
        CallRecord {
            call_sid: "CA1".into(),
            customer_id: None,
            caller_phone: "+14135550150".into(),
            direction: CallDirection::Inbound,
            call_type: None,
            started_at: "2026-11-24T15:00:00Z".parse().unwrap(),
            ended_at: None,
            status: if escalated {
                "transferred"
            } else {
                "completed"
            }
            .into(),
            summary: Some(json!({"conversation": {"state": state, "intent": intent}})),
            transcript: Some(transcript),
            escalated,
            escalation_reason: None,
            usage: crate::TokenUsage::default(),
        }
    }

    fn tool_exchange(name: &str, result: Value) -> Value {
        json!([
            {"role": "assistant", "tool_calls": [{"id": "c1", "name": name, "arguments": "{}"}]},
            {"role": "tool", "tool_call_id": "c1", "content": result.to_string()}
        ])
    }

    #[test]
    fn a_calls_outcome_comes_from_its_tools_then_its_escalation_then_its_state() {
        let booked = tool_exchange(
            "book_appointment",
            json!({"ok": true, "appointment": {"id": 7, "service": "oil change"}}),
        );
        let (outcome, appointment) = classify(
            &record(booked, "closing", "schedule_appointment", false),
            false,
        );
        assert_eq!(outcome, CallOutcome::Booked);
        assert_eq!(appointment.unwrap()["id"], 7);
        let refused = tool_exchange(
            "book_appointment",
            json!({"ok": false, "error": {"code": "slot_full"}}),
        );
        assert_eq!(
            classify(
                &record(refused, "slot_collection", "schedule_appointment", false),
                false
            )
            .0,
            CallOutcome::Abandoned
        );
        for (name, expected) in [
            ("reschedule_appointment", CallOutcome::Rescheduled),
            ("cancel_appointment", CallOutcome::Cancelled),
        ] {
            let done = tool_exchange(name, json!({"ok": true, "appointment": {"id": 1}}));
            assert_eq!(
                classify(&record(done, "closing", "x", false), false).0,
                expected
            );
        }
        let nothing = json!([]);
        assert_eq!(
            classify(
                &record(nothing.clone(), "execution", "check_hours", false),
                false
            )
            .0,
            CallOutcome::Answered
        );
        assert_eq!(
            classify(
                &record(nothing.clone(), "escalation", "check_hours", true),
                false
            )
            .0,
            CallOutcome::Escalated
        );
        assert_eq!(
            classify(
                &record(nothing.clone(), "escalation", "check_hours", true),
                true
            )
            .0,
            CallOutcome::MessageTaken
        );
        assert_eq!(
            classify(&record(nothing, "greeting", "", false), false).0,
            CallOutcome::Abandoned
        );
    }
}
