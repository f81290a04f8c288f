//! The pure part of `voice-gateway nlu`: one input line in, one JSON object out.
//!
//! A line is either plain text (a fresh `inbound_general` conversation with that single
//! caller turn) or a JSON object:
//!
//! ```json
//! {"turns": ["hi", "book an oil change tomorrow at 2"], "call_type": "inbound_existing",
//!  "customer": {...}, "appointment": {...}, "vehicle": {...}, "service": "oil change",
//!  "caller_phone": "+15555550111"}
//! ```
//!
//! `call_type` defaults to `inbound_general`. `inbound_existing` needs `customer`;
//! `outbound_reminder` and `outbound_follow_up` need `customer` and `appointment`;
//! `outbound_service_due` needs `customer`, `vehicle` and `service`. The output has `input`,
//! `call_type`, `intent`, `state`, `transitions`, `collected_slots`, `resolved` (`date`,
//! `time`, `period`) and `escalation` (the reason or null). A bad line gives
//! `{"input": ..., "error": ...}`; this function never panics on input.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::customer::{AppointmentInfo, CustomerProfile, VehicleInfo};
use crate::manager::{
    ConversationManager, create_inbound_existing_manager, create_inbound_general_manager,
    create_inbound_new_manager, create_outbound_follow_up_manager,
    create_outbound_reminder_manager, create_outbound_service_due_manager,
};
use crate::shop::ShopConfig;
use crate::types::CallType;

/// Runs one input line (plain text or a JSON script) through a fresh conversation.
pub fn analyze_line(line: &str, now: DateTime<Utc>, shop: &ShopConfig) -> Value {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return json!({ "input": line, "error": "empty input" });
    }
    if !trimmed.starts_with('{') {
        let mut manager = create_inbound_general_manager(None, shop.clone());
        manager.process_message(trimmed, now);
        return report(Value::String(trimmed.to_owned()), &manager);
    }
    let input: Value = match serde_json::from_str(trimmed) {
        Ok(value) => value,
        Err(err) => return json!({ "input": line, "error": format!("invalid JSON: {err}") }),
    };
    let script = match Script::deserialize(&input) {
        Ok(script) => script,
        Err(err) => return json!({ "input": input, "error": format!("invalid script: {err}") }),
    };
    let mut manager = match script.manager(shop) {
        Ok(manager) => manager,
        Err(error) => return json!({ "input": input, "error": error }),
    };
    for turn in &script.turns {
        manager.process_message(turn, now);
    }
    report(input, &manager)
}

/// A JSON input line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Script {
    turns: Vec<String>,
    #[serde(default)]
    call_type: Option<CallType>,
    #[serde(default)]
    caller_phone: Option<String>,
    #[serde(default)]
    customer: Option<CustomerProfile>,
    #[serde(default)]
    appointment: Option<AppointmentInfo>,
    #[serde(default)]
    vehicle: Option<VehicleInfo>,
    #[serde(default)]
    service: Option<String>,
}

impl Script {
    fn manager(&self, shop: &ShopConfig) -> Result<ConversationManager, String> {
        let call_type = self.call_type.unwrap_or(CallType::InboundGeneral);
        let need = |what: &str| format!("{call_type} needs `{what}`");
        let customer = || self.customer.clone().ok_or_else(|| need("customer"));
        let appointment = || self.appointment.clone().ok_or_else(|| need("appointment"));
        let phone = || self.caller_phone.clone().unwrap_or_default();
        Ok(match call_type {
            CallType::InboundGeneral => {
                create_inbound_general_manager(self.caller_phone.clone(), shop.clone())
            }
            CallType::InboundNew => create_inbound_new_manager(phone(), shop.clone()),
            CallType::InboundExisting => {
                let customer = customer()?;
                let phone = self
                    .caller_phone
                    .clone()
                    .unwrap_or_else(|| customer.phone.clone());
                create_inbound_existing_manager(phone, customer, shop.clone())
            }
            CallType::OutboundReminder => {
                create_outbound_reminder_manager(customer()?, appointment()?, shop.clone())
            }
            CallType::OutboundFollowUp => {
                create_outbound_follow_up_manager(customer()?, appointment()?, shop.clone())
            }
            CallType::OutboundServiceDue => {
                let vehicle = self.vehicle.clone().ok_or_else(|| need("vehicle"))?;
                let service = self.service.clone().ok_or_else(|| need("service"))?;
                create_outbound_service_due_manager(customer()?, vehicle, service, shop.clone())
            }
        })
    }
}

fn report(input: Value, manager: &ConversationManager) -> Value {
    let slots = manager.slots();
    json!({
        "input": input,
        "call_type": manager.call_type(),
        "intent": manager.intent(),
        "state": manager.state(),
        "transitions": manager.transitions(),
        "collected_slots": slots,
        "resolved": {
            "date": slots.resolved_date.map(|date| date.format("%Y-%m-%d").to_string()),
            "time": slots.resolved_time.map(|time| time.format("%H:%M").to_string()),
            "period": slots.time_period,
        },
        "escalation": manager.escalation_reason(),
    })
}
