//! `CallCrm` (the pipeline's CRM port) over the real CRM crate, here in the binary so
//! `call-pipeline` knows only the port: lookups, LLM tools and call records through `crm::CrmStore`,
//! and, when a `TextSender` is set, a text confirmation after each booking, move or cancellation.
//!
//! Confirmations are sent beside the call (a spawned task): they never delay or fail the tool
//! call. A number that opted out (texted STOP, or Twilio says it did) is never texted; each case
//! is logged with the call's id, never the number.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use conversation::CustomerProfile;
use crm::{
    CrmStore,
    tools::{ToolContext, ToolExecutor, ToolStatus},
};
use providers::ToolSpec;

use call_pipeline::{
    CallCrm, CallRecord, PortError, TextError, TextSender, ToolCallContext, ToolOutcome, ToolReply,
};

/// A CRM failure as a port error: the store being unwell may pass; an answer about the request
/// will not change.
fn crm_port_error(err: &crm::CrmError) -> PortError {
    if err.is_unavailable() {
        PortError::unavailable(err.to_string())
    } else {
        PortError::refused(err.to_string())
    }
}

/// The CRM as calls use it.
#[derive(Clone)]
pub struct CrmPort {
    store: Arc<dyn CrmStore>,
    tools: ToolExecutor,
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    texts: Option<Arc<dyn TextSender>>,
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
            texts: None,
        }
    }

    /// Texts the caller a confirmation after each booking, move or cancellation.
    pub fn with_text_confirmations(mut self, texts: Arc<dyn TextSender>) -> Self {
        self.texts = Some(texts);
        self
    }

    /// Sends the confirmation of a successful `tool` call, beside the call.
    fn confirm_by_text(&self, tool: &str, result: &serde_json::Value, context: &ToolContext) {
        let (Some(texts), Some(phone)) = (self.texts.clone(), context.caller_phone.clone()) else {
            return;
        };
        let Some(body) = confirmation_text(self.store.shop(), tool, result) else {
            return;
        };
        let store = self.store.clone();
        let now = context.now;
        let call_sid = context.call_sid.clone().unwrap_or_default();
        tokio::spawn(async move {
            match store.sms_opted_out(&phone).await {
                Ok(false) => {}
                Ok(true) => {
                    tracing::info!(call_sid, "caller opted out of texts; no confirmation");
                    return;
                }
                Err(error) => {
                    // Not knowing is not a yes: no text.
                    tracing::warn!(call_sid, %error, "could not read the text opt-out; no confirmation");
                    return;
                }
            }
            match texts.send_text(&phone, &body).await {
                Ok(()) => {
                    metrics::counter!("voice_texts_sent_total").increment(1);
                    tracing::info!(call_sid, "confirmation texted");
                }
                Err(TextError::Unsubscribed) => {
                    tracing::info!(call_sid, "the provider says the caller opted out; recorded");
                    if let Err(error) = store.set_sms_opt_out(&phone, true, now).await {
                        tracing::warn!(call_sid, %error, "could not record the text opt-out");
                    }
                }
                Err(error) => {
                    metrics::counter!("voice_text_failures_total").increment(1);
                    tracing::warn!(call_sid, %error, "confirmation text failed; the booking stands");
                }
            }
        });
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
            .map_err(|err| crm_port_error(&err))
    }

    fn tools(&self) -> Vec<ToolSpec> {
        // The CRM describes its tools in the shape the LLM client sends; only the type differs.
        self.tools
            .specs()
            .into_iter()
            .map(|spec| ToolSpec {
                name: spec.name,
                description: spec.description,
                parameters: spec.parameters,
            })
            .collect()
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
        if answer.status == ToolStatus::Ok {
            self.confirm_by_text(name, &answer.json, &context);
        }
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
        let record_message = record.message.clone();
        let record = crm::CallRecord {
            call_sid: record.call_sid.clone(),
            customer_id: record.customer_id,
            caller_phone: record
                .caller_phone
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
            direction: record.direction,
            call_type: Some(record.call_type.clone()),
            started_at: record.started_at,
            ended_at: record.ended_at,
            status: record.status.clone(),
            summary: Some(serde_json::json!({
                "conversation": record.summary,
                "timings": record.timings,
                "offline_turns": record.offline_turns,
                "stream_sid": record.stream_sid,
            })),
            transcript: Some(record.transcript.clone()),
            escalated: record.escalation_triggered,
            escalation_reason: record.escalation_reason.clone(),
            usage: crm::TokenUsage {
                prompt_tokens: record.prompt_tokens,
                completion_tokens: record.completion_tokens,
                total_tokens: record.total_tokens as u32,
            },
        };
        self.store
            .record_call(&record)
            .await
            .map_err(|err| crm_port_error(&err))?;
        let Some(reason) = &record_callback else {
            return Ok(());
        };
        let message = record_message.unwrap_or_default();
        // Idempotent by call SID, so a record written again after a crash adds nothing.
        self.store
            .request_callback(&crm::CallbackRequest {
                id: 0,
                call_sid: record.call_sid.clone(),
                customer_id: record.customer_id,
                // The number the caller confirmed, else the one they called from.
                phone: message.phone.unwrap_or_else(|| record.caller_phone.clone()),
                reason: Some(reason.clone()),
                status: "open".to_owned(),
                created_at: record.ended_at.unwrap_or(record.started_at),
                done_at: None,
                caller_name: message.name,
                message: message.message,
            })
            .await
            .map_err(|err| crm_port_error(&err))
    }

    async fn opt_out_of_calls(&self, phone: &str, now: DateTime<Utc>) -> Result<(), PortError> {
        self.store
            .set_call_opt_out(phone, true, "call", now)
            .await
            .map_err(|err| crm_port_error(&err))
    }

    async fn ping(&self) -> Result<(), PortError> {
        self.store.ping().await.map_err(|err| crm_port_error(&err))
    }
}

/// The text confirming a successful booking, move or cancellation, from the tool's result
/// (`appointment.service` and `appointment.spoken`); `None` for other tools.
pub(crate) fn confirmation_text(
    shop: &conversation::ShopConfig,
    tool: &str,
    result: &serde_json::Value,
) -> Option<String> {
    let what = match tool {
        "book_appointment" => "is booked for",
        "reschedule_appointment" => "is moved to",
        "cancel_appointment" => "is cancelled:",
        _ => return None,
    };
    let appointment = result.get("appointment")?;
    let service = appointment.get("service")?.as_str()?;
    let when = appointment.get("spoken")?.as_str()?;
    let mut text = format!("{}: your {service} {what} {when}.", shop.name);
    if tool != "cancel_appointment"
        && let Some(address) = &shop.address
    {
        text.push_str(&format!(" {address}."));
    }
    let next = if tool == "cancel_appointment" {
        "To book again"
    } else {
        "To change it"
    };
    match &shop.phone {
        Some(phone) => text.push_str(&format!(" {next}, call {phone}.")),
        None => text.push_str(&format!(" {next}, call us.")),
    }
    text.push_str(" Reply STOP to opt out.");
    Some(text)
}

#[cfg(test)]
mod tests;
