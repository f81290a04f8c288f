//! `CallCrm` over the real CRM crate: lookups, LLM tools and call records through `crm::CrmStore`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use conversation::CustomerProfile;
use crm::{
    CallDirection, CrmStore,
    tools::{ToolContext, ToolExecutor, ToolStatus},
};
use providers::{ToolSpec, Usage};

use crate::ports::{CallCrm, CallRecord, PortError, ToolCallContext, ToolOutcome, ToolReply};

/// The CRM as calls use it.
#[derive(Clone)]
pub struct CrmPort {
    store: Arc<dyn CrmStore>,
    tools: ToolExecutor,
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl CrmPort {
    /// Wraps `store`; `now` is the clock lookups use to decide which appointments are upcoming.
    pub fn new(
        store: Arc<dyn CrmStore>,
        now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    ) -> Self {
        Self {
            tools: ToolExecutor::new(store.clone()),
            store,
            now,
        }
    }

    /// Sets the limits the tools enforce (see `crm::tools::ToolLimits`).
    pub fn with_tool_limits(mut self, limits: crm::tools::ToolLimits) -> Self {
        self.tools = self.tools.with_limits(limits);
        self
    }
}

#[async_trait]
impl CallCrm for CrmPort {
    async fn lookup_customer(&self, phone: &str) -> Result<Option<CustomerProfile>, PortError> {
        self.store
            .lookup_customer(phone, (self.now)())
            .await
            .map_err(|err| PortError(err.to_string()))
    }

    fn tools(&self) -> Vec<ToolSpec> {
        self.tools.specs()
    }

    async fn execute_tool(
        &self,
        name: &str,
        arguments: &str,
        context: &ToolCallContext,
    ) -> ToolReply {
        let context = ToolContext {
            caller_phone: context.caller_phone.clone(),
            customer_id: context.customer_id,
            now: context.now,
            call_sid: Some(context.call_sid.clone()),
        };
        let answer = self.tools.run(name, arguments, &context).await;
        ToolReply {
            result: answer.json,
            outcome: match answer.status {
                ToolStatus::Ok => ToolOutcome::Succeeded,
                ToolStatus::SlotFull => ToolOutcome::SlotTaken,
                ToolStatus::Unavailable => ToolOutcome::Unavailable,
                ToolStatus::Refused => ToolOutcome::Refused,
            },
        }
    }

    async fn record_call(&self, record: &CallRecord) -> Result<(), PortError> {
        let record_callback = record.callback_reason.clone();
        let record = crm::CallRecord {
            call_sid: record.call_sid.clone(),
            customer_id: record.customer_id,
            caller_phone: record
                .caller_phone
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
            direction: if record.direction == "outbound" {
                CallDirection::Outbound
            } else {
                CallDirection::Inbound
            },
            call_type: Some(record.call_type.clone()),
            started_at: record.started_at,
            ended_at: record.ended_at,
            status: record.status.clone(),
            summary: Some(serde_json::json!({
                "conversation": record.summary,
                "timings": record.timings,
                "stream_sid": record.stream_sid,
            })),
            transcript: Some(record.transcript.clone()),
            escalated: record.escalation_triggered,
            escalation_reason: record.escalation_reason.clone(),
            usage: Usage {
                prompt_tokens: record.prompt_tokens,
                completion_tokens: record.completion_tokens,
                total_tokens: record.total_tokens as u32,
            },
        };
        self.store
            .record_call(&record)
            .await
            .map_err(|err| PortError(err.to_string()))?;
        let Some(reason) = &record_callback else {
            return Ok(());
        };
        // Idempotent by call SID, so a record written again after a crash adds nothing.
        self.store
            .request_callback(&crm::CallbackRequest {
                id: 0,
                call_sid: record.call_sid.clone(),
                customer_id: record.customer_id,
                phone: record.caller_phone.clone(),
                reason: Some(reason.clone()),
                status: "open".to_owned(),
                created_at: record.ended_at.unwrap_or(record.started_at),
                done_at: None,
            })
            .await
            .map_err(|err| PortError(err.to_string()))
    }

    async fn ping(&self) -> Result<(), PortError> {
        self.store
            .ping()
            .await
            .map_err(|err| PortError(err.to_string()))
    }
}
