//! Reminder calls: the appointments of a day to remind, and one claim per appointment so a
//! reminder is placed at most once, whichever gateway runs it and however often.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::appointments::db_id;
use crate::entity::{appointment, customer, reminder};
use crate::{Crm, CrmError};

/// An appointment to remind of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderDue {
    /// The appointment.
    pub appointment_id: i64,
    /// Its customer.
    pub customer_id: i64,
    /// The customer's number (E.164).
    pub phone: String,
    /// Canonical service name.
    pub service: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
}

impl Crm {
    /// Scheduled appointments starting in `from..to` that no reminder was placed for yet,
    /// soonest first.
    pub async fn reminders_due(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReminderDue>, CrmError> {
        self.timed("reminders_due", async {
            let op = "reminders_due";
            let appointments = appointment::Entity::find()
                .filter(appointment::Column::Status.eq("scheduled"))
                .filter(appointment::Column::StartsAt.gte(from))
                .filter(appointment::Column::StartsAt.lt(to))
                .order_by_asc(appointment::Column::StartsAt)
                .all(&self.db)
                .await
                .map_err(CrmError::db(op))?;
            let mut due = Vec::new();
            for appointment in appointments {
                let reminded = reminder::Entity::find_by_id(appointment.id)
                    .one(&self.db)
                    .await
                    .map_err(CrmError::db(op))?
                    .is_some();
                if reminded {
                    continue;
                }
                let Some(customer) = customer::Entity::find_by_id(appointment.customer_id)
                    .one(&self.db)
                    .await
                    .map_err(CrmError::db(op))?
                else {
                    continue;
                };
                due.push(ReminderDue {
                    appointment_id: i64::from(appointment.id),
                    customer_id: i64::from(customer.id),
                    phone: customer.phone,
                    service: appointment.service,
                    starts_at: appointment.starts_at,
                });
            }
            Ok(due)
        })
        .await
    }

    /// Claims the reminder of an appointment; false when it was already claimed (by this run,
    /// an earlier one, or another gateway).
    pub async fn claim_reminder(
        &self,
        appointment_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, CrmError> {
        let Some(id) = db_id(appointment_id) else {
            return Ok(false);
        };
        self.timed("claim_reminder", async {
            let inserted = reminder::Entity::insert(reminder::ActiveModel {
                appointment_id: Set(id),
                call_sid: Set(None),
                claimed_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(reminder::Column::AppointmentId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(CrmError::db("claim_reminder"))?;
            Ok(inserted == 1)
        })
        .await
    }

    /// The reminder call was placed: remember its SID.
    pub async fn reminder_placed(
        &self,
        appointment_id: i64,
        call_sid: &str,
    ) -> Result<(), CrmError> {
        let Some(id) = db_id(appointment_id) else {
            return Ok(());
        };
        self.timed("reminder_placed", async {
            reminder::Entity::update_many()
                .col_expr(reminder::Column::CallSid, Expr::value(Some(call_sid)))
                .filter(reminder::Column::AppointmentId.eq(id))
                .exec(&self.db)
                .await
                .map_err(CrmError::db("reminder_placed"))?;
            Ok(())
        })
        .await
    }

    /// The call could not be placed: give the claim back so a later run tries again.
    pub async fn release_reminder(&self, appointment_id: i64) -> Result<(), CrmError> {
        let Some(id) = db_id(appointment_id) else {
            return Ok(());
        };
        self.timed("release_reminder", async {
            reminder::Entity::delete_many()
                .filter(reminder::Column::AppointmentId.eq(id))
                .filter(reminder::Column::CallSid.is_null())
                .exec(&self.db)
                .await
                .map_err(CrmError::db("release_reminder"))?;
            Ok(())
        })
        .await
    }
}
