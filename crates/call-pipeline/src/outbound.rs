//! Picks the conversation flow for an outbound call from the stream's `<Parameter>`s.
//!
//! `POST /api/calls` puts what the call is about into the TwiML as parameters (`call_type`,
//! `appointment_id`, `service`, `starts_at`, `vehicle`, `vehicle_id`), so the pipeline needs no
//! extra database read to know why it is calling.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use conversation::{
    AppointmentInfo, ConversationManager, CustomerProfile, ShopConfig, VehicleInfo,
    create_inbound_existing_manager, create_outbound_follow_up_manager,
    create_outbound_reminder_manager, create_outbound_service_due_manager,
};
use tracing::warn;

/// The manager for an outbound call of `kind` to `customer`; falls back to the existing-customer
/// flow when the parameters do not say enough.
pub(crate) fn outbound_manager(
    kind: &str,
    params: &HashMap<String, String>,
    customer: CustomerProfile,
    caller_phone: Option<&str>,
    shop: Arc<ShopConfig>,
    now: DateTime<Utc>,
) -> ConversationManager {
    match kind {
        "outbound_reminder" | "outbound_follow_up" => {
            match appointment_from(params, &customer, now) {
                Some(appointment) if kind == "outbound_reminder" => {
                    create_outbound_reminder_manager(customer, appointment, shop)
                }
                Some(appointment) => create_outbound_follow_up_manager(customer, appointment, shop),
                None => {
                    warn!(
                        kind,
                        "outbound call without its appointment; using the existing-customer flow"
                    );
                    create_inbound_existing_manager(
                        caller_phone.unwrap_or_default(),
                        customer,
                        shop,
                    )
                }
            }
        }
        "outbound_service_due" => {
            let service = params
                .get("service")
                .cloned()
                .unwrap_or_else(|| "oil change".to_owned());
            match vehicle_from(params, &customer) {
                Some(vehicle) => {
                    create_outbound_service_due_manager(customer, vehicle, service, shop)
                }
                None => {
                    warn!("service-due call without its vehicle; using the existing-customer flow");
                    create_inbound_existing_manager(
                        caller_phone.unwrap_or_default(),
                        customer,
                        shop,
                    )
                }
            }
        }
        other => {
            warn!(
                kind = other,
                "unknown outbound call type; using the existing-customer flow"
            );
            create_inbound_existing_manager(caller_phone.unwrap_or_default(), customer, shop)
        }
    }
}

fn appointment_from(
    params: &HashMap<String, String>,
    customer: &CustomerProfile,
    now: DateTime<Utc>,
) -> Option<AppointmentInfo> {
    let id = params
        .get("appointment_id")
        .and_then(|id| id.parse::<i64>().ok());
    if let Some(known) =
        id.and_then(|id| customer.upcoming_appointments.iter().find(|a| a.id == id))
    {
        return Some(known.clone());
    }
    let service = params.get("service")?.clone();
    let starts_at = params
        .get("starts_at")
        .and_then(|raw| DateTime::parse_from_rfc3339(raw).ok())
        .map_or(now, |at| at.with_timezone(&Utc));
    Some(AppointmentInfo {
        id: id.unwrap_or_default(),
        service,
        starts_at,
        duration_minutes: params
            .get("duration_minutes")
            .and_then(|d| d.parse().ok())
            .unwrap_or(60),
        vehicle: params.get("vehicle").cloned(),
        status: params
            .get("status")
            .cloned()
            .unwrap_or_else(|| "scheduled".to_owned()),
    })
}

fn vehicle_from(
    params: &HashMap<String, String>,
    customer: &CustomerProfile,
) -> Option<VehicleInfo> {
    let id = params
        .get("vehicle_id")
        .and_then(|id| id.parse::<i64>().ok());
    match id {
        Some(id) => customer.vehicles.iter().find(|v| v.id == id).cloned(),
        None => customer.vehicles.first().cloned(),
    }
}
