//! LLM tools over the CRM: their JSON-schema descriptions (`tool_specs`) and `ToolExecutor`,
//! which runs a tool call and always answers with a JSON value the model can read.
//!
//! Results are `{"ok": true, ...}` or `{"ok": false, "error": {"code": ..., "message": ...}}`.
//! Error codes: `unknown_tool`, `invalid_arguments`, `invalid_phone`, `unknown_service`,
//! `closed`, `outside_hours`, `in_past`, `slot_full`, `customer_unknown`, `vehicle_not_found`,
//! `appointment_not_found`, `appointment_not_scheduled`, `unavailable` (the database is down or
//! slow; the model should offer a call-back). Times go to the model in the shop's local time.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use conversation::{AppointmentInfo, CustomerProfile, ShopConfig};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tracing::{debug, warn};

use crate::{
    BookedVia, BookingRequest, CrmError, CrmStore, NewCustomer, NewVehicle, VehicleUpdate,
};

/// How many free slots `check_availability` lists; the caller cannot listen to more.
const MAX_SLOTS_LISTED: usize = 8;
/// The longest range `check_availability` searches, in days.
const MAX_AVAILABILITY_DAYS: u32 = 7;

/// Limits the executor enforces, whatever the model asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolLimits {
    /// Appointments the phone agent may book for one customer in one shop-local day.
    pub max_bookings_per_customer_per_day: u32,
}

impl Default for ToolLimits {
    fn default() -> Self {
        Self {
            max_bookings_per_customer_per_day: 3,
        }
    }
}

/// What the executor knows about the call a tool runs in.
///
/// Every tool acts for this caller and nobody else: the customer is `customer_id` (found from
/// the number Twilio verified) or, failing that, the customer with `caller_phone` (created by a
/// booking in this call). No tool argument can name another customer.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolContext {
    /// The caller's number as Twilio reported it, if any.
    pub caller_phone: Option<String>,
    /// The customer, if the pipeline already identified them.
    pub customer_id: Option<i64>,
    /// The current time (the pipeline's clock).
    pub now: DateTime<Utc>,
    /// The call, for logs.
    pub call_sid: Option<String>,
}

/// A tool the model may call: its name, what it does, and a JSON schema of its arguments (the
/// shape every OpenAI-compatible API takes; the gateway hands these to its LLM client as they are).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// Function name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON schema of the arguments object.
    pub parameters: Value,
}

/// The tools the model may call, with JSON-schema parameters.
pub fn tool_specs() -> Vec<ToolSpec> {
    let local_time = "Shop-local date and time as YYYY-MM-DDTHH:MM, e.g. 2026-11-30T09:00";
    vec![
        ToolSpec {
            name: "lookup_customer".to_owned(),
            description: "Look up the caller's own customer record: name, vehicles and upcoming \
                          appointments. Only the caller's record can be read."
                .to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {},
                "additionalProperties": false
            }),
        },
        ToolSpec {
            name: "check_availability".to_owned(),
            description: "List free appointment start times for a service on a date (and the \
                          following days if `days` > 1)."
                .to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "service": {"type": "string", "description": "Service name, e.g. oil change"},
                    "date": {"type": "string", "description": "Shop-local date as YYYY-MM-DD"},
                    "days": {"type": "integer", "minimum": 1, "maximum": MAX_AVAILABILITY_DAYS, "description": "How many days to search, default 1"}
                },
                "required": ["service", "date"],
                "additionalProperties": false
            }),
        },
        ToolSpec {
            name: "book_appointment".to_owned(),
            description: "Book an appointment for the caller. Check availability first. For a \
                          new caller, pass their first and last name; for a new vehicle, its \
                          year, make and model."
                .to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "service": {"type": "string", "description": "Service name, e.g. brake service"},
                    "start": {"type": "string", "description": local_time},
                    "vehicle_id": {"type": "integer", "description": "One of the customer's vehicle ids from lookup_customer"},
                    "vehicle_year": {"type": "integer"},
                    "vehicle_make": {"type": "string"},
                    "vehicle_model": {"type": "string"},
                    "vehicle_vin": {"type": "string", "description": "The 17-character VIN, only after reading it back to the caller; it is checked"},
                    "vehicle_plate": {"type": "string", "description": "The licence plate, only after reading it back to the caller"},
                    "first_name": {"type": "string", "description": "Only for a caller who is not a customer yet"},
                    "last_name": {"type": "string"},
                    "notes": {"type": "string", "description": "What the caller said about the problem"}
                },
                "required": ["service", "start"],
                "additionalProperties": false
            }),
        },
        ToolSpec {
            name: "reschedule_appointment".to_owned(),
            description: "Move one of the caller's scheduled appointments to a new start time."
                .to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "appointment_id": {"type": "integer"},
                    "new_start": {"type": "string", "description": local_time}
                },
                "required": ["appointment_id", "new_start"],
                "additionalProperties": false
            }),
        },
        ToolSpec {
            name: "cancel_appointment".to_owned(),
            description: "Cancel one of the caller's scheduled appointments.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "appointment_id": {"type": "integer"}
                },
                "required": ["appointment_id"],
                "additionalProperties": false
            }),
        },
        ToolSpec {
            name: "update_vehicle".to_owned(),
            description: "Store the VIN or licence plate of one of the caller's vehicles (ids \
                          from lookup_customer), after reading it back to the caller. The VIN is \
                          checked; a misheard one is refused."
                .to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "vehicle_id": {"type": "integer"},
                    "vin": {"type": "string", "description": "17 characters"},
                    "license_plate": {"type": "string", "description": "2 to 8 letters and digits"}
                },
                "required": ["vehicle_id"],
                "additionalProperties": false
            }),
        },
        ToolSpec {
            name: "update_customer_name".to_owned(),
            description: "Correct the caller's own name on their record, after they spelled it \
                          and you read it back."
                .to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"}
                },
                "required": ["first_name", "last_name"],
                "additionalProperties": false
            }),
        },
        ToolSpec {
            name: "get_business_hours".to_owned(),
            description: "The shop's weekly opening hours and upcoming holidays; with a date, \
                          whether the shop is open that day."
                .to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "date": {"type": "string", "description": "Shop-local date as YYYY-MM-DD"}
                },
                "additionalProperties": false
            }),
        },
        ToolSpec {
            name: "get_service_price".to_owned(),
            description: "Price range and duration of a service.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "service": {"type": "string"}
                },
                "required": ["service"],
                "additionalProperties": false
            }),
        },
    ]
}

/// How a tool call ended, for the code that acts on it (the JSON is for the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolStatus {
    /// Done.
    Ok,
    /// The requested time is taken (`slot_full`): ask for another time.
    SlotFull,
    /// The database is down or slow (`unavailable`): nothing was done; offer a call-back.
    Unavailable,
    /// Refused by a business rule or bad arguments: nothing was done.
    Refused,
}

/// A tool call's result: the JSON the model reads and its typed status.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolAnswer {
    /// `{"ok": true, ...}` or `{"ok": false, "error": {"code", "message"}}`.
    pub json: Value,
    /// The same outcome, typed.
    pub status: ToolStatus,
}

/// Runs LLM tool calls against a `CrmStore`.
#[derive(Clone)]
pub struct ToolExecutor {
    crm: Arc<dyn CrmStore>,
    limits: ToolLimits,
}

/// A failed tool call: a code from the module docs and a sentence for the model.
#[derive(Debug)]
struct ToolFailure {
    code: &'static str,
    message: String,
}

type ToolResult = Result<Value, ToolFailure>;

impl ToolFailure {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl ToolExecutor {
    /// An executor over `crm`.
    pub fn new(crm: Arc<dyn CrmStore>) -> Self {
        Self {
            crm,
            limits: ToolLimits::default(),
        }
    }

    /// Replaces the default limits.
    pub fn with_limits(mut self, limits: ToolLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The tool descriptions to send with each chat request (same as `tool_specs`).
    pub fn specs(&self) -> Vec<ToolSpec> {
        tool_specs()
    }

    /// Runs tool `name` with the model's `arguments_json`. Never fails: unknown tools, bad
    /// arguments, business-rule refusals and database trouble all come back as
    /// `{"ok": false, "error": {"code", "message"}}`.
    pub async fn execute(&self, name: &str, arguments_json: &str, ctx: &ToolContext) -> Value {
        self.run(name, arguments_json, ctx).await.json
    }

    /// `execute` with the outcome typed as well, for the pipeline (which must not re-parse the
    /// model's JSON to know whether a booking happened).
    pub async fn run(&self, name: &str, arguments_json: &str, ctx: &ToolContext) -> ToolAnswer {
        let res = match name {
            "lookup_customer" => self.lookup_customer(arguments_json, ctx).await,
            "check_availability" => self.check_availability(arguments_json, ctx).await,
            "book_appointment" => self.book_appointment(arguments_json, ctx).await,
            "reschedule_appointment" => self.reschedule_appointment(arguments_json, ctx).await,
            "cancel_appointment" => self.cancel_appointment(arguments_json, ctx).await,
            "update_vehicle" => self.update_vehicle(arguments_json, ctx).await,
            "update_customer_name" => self.update_customer_name(arguments_json, ctx).await,
            "get_business_hours" => self.get_business_hours(arguments_json, ctx),
            "get_service_price" => self.get_service_price(arguments_json),
            _ => Err(ToolFailure::new(
                "unknown_tool",
                format!(
                    "there is no tool named {name:?}; available: {}",
                    tool_names().join(", ")
                ),
            )),
        };
        match res {
            Ok(mut value) => {
                if let Value::Object(map) = &mut value {
                    map.insert("ok".to_owned(), Value::Bool(true));
                }
                ToolAnswer {
                    json: value,
                    status: ToolStatus::Ok,
                }
            }
            Err(failure) => {
                debug!(tool = name, code = failure.code, "tool call refused");
                let status = match failure.code {
                    "slot_full" => ToolStatus::SlotFull,
                    "unavailable" => ToolStatus::Unavailable,
                    _ => ToolStatus::Refused,
                };
                ToolAnswer {
                    json: json!({"ok": false, "error": {"code": failure.code, "message": failure.message}}),
                    status,
                }
            }
        }
    }

    fn shop(&self) -> &ShopConfig {
        self.crm.shop()
    }

    async fn lookup_customer(&self, arguments: &str, ctx: &ToolContext) -> ToolResult {
        #[derive(Deserialize)]
        struct Args {
            #[serde(default)]
            phone: Option<String>,
        }
        let args: Args = parse_args(arguments)?;
        // Only the caller's own record: a number the caller says (through the model) is refused
        // unless it is the number Twilio verified.
        if let Some(asked) = args.phone.filter(|phone| !phone.trim().is_empty())
            && !same_phone(&asked, ctx.caller_phone.as_deref())
        {
            warn!(
                call_sid = ctx.call_sid.as_deref().unwrap_or(""),
                "lookup of another number refused"
            );
            return Err(ToolFailure::new(
                "not_allowed",
                "for privacy, only the caller's own record can be looked up, by the number they \
                 are calling from; another person's details cannot be given out",
            ));
        }
        let Some(phone) = ctx.caller_phone.as_deref() else {
            return Ok(json!({"found": false, "note": "the caller's number is withheld"}));
        };
        let profile = match self.crm.lookup_customer(phone, ctx.now).await {
            Ok(profile) => profile,
            // A number that is not a phone number is nobody's record.
            Err(CrmError::InvalidPhone { .. }) => None,
            Err(err) => return Err(self.failure(err)),
        };
        // The verified customer id wins over the number (they agree unless the record changed).
        let profile = profile.filter(|profile| ctx.customer_id.is_none_or(|id| id == profile.id));
        Ok(match profile {
            Some(profile) => json!({"found": true, "customer": self.profile_json(&profile)}),
            None => json!({"found": false}),
        })
    }

    async fn update_vehicle(&self, arguments: &str, ctx: &ToolContext) -> ToolResult {
        #[derive(Deserialize)]
        struct Args {
            vehicle_id: i64,
            #[serde(default)]
            vin: Option<String>,
            #[serde(default)]
            license_plate: Option<String>,
        }
        let args: Args = parse_args(arguments)?;
        let vin = checked_vin(args.vin.as_deref())?;
        let license_plate = checked_plate(args.license_plate.as_deref())?;
        if vin.is_none() && license_plate.is_none() {
            return Err(ToolFailure::new(
                "invalid_arguments",
                "give the vin or the license_plate to store",
            ));
        }
        let Some(customer_id) = self.known_customer(ctx).await? else {
            return Err(ToolFailure::new(
                "customer_unknown",
                "the caller is not a customer yet: their vehicle is stored when they book",
            ));
        };
        let vehicle = self
            .crm
            .update_vehicle(
                customer_id,
                args.vehicle_id,
                &VehicleUpdate { vin, license_plate },
            )
            .await
            .map_err(|err| self.failure(err))?;
        Ok(json!({
            "vehicle": {
                "id": vehicle.id,
                "description": vehicle.describe(),
                "vin": vehicle.vin,
                "license_plate": vehicle.plate,
            }
        }))
    }

    async fn update_customer_name(&self, arguments: &str, ctx: &ToolContext) -> ToolResult {
        #[derive(Deserialize)]
        struct Args {
            first_name: String,
            last_name: String,
        }
        let args: Args = parse_args(arguments)?;
        let valid = |name: &str| {
            let name = name.trim();
            !name.is_empty()
                && name.chars().count() <= 50
                && name
                    .chars()
                    .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.'))
        };
        if !valid(&args.first_name) || !valid(&args.last_name) {
            return Err(ToolFailure::new(
                "invalid_arguments",
                "a name is letters, spaces, hyphens and apostrophes, up to 50 characters",
            ));
        }
        let Some(customer_id) = self.known_customer(ctx).await? else {
            return Err(ToolFailure::new(
                "customer_unknown",
                "the caller is not a customer yet: their name is stored when they book",
            ));
        };
        self.crm
            .update_customer_name(customer_id, &args.first_name, &args.last_name)
            .await
            .map_err(|err| self.failure(err))?;
        Ok(json!({"first_name": args.first_name.trim(), "last_name": args.last_name.trim()}))
    }

    async fn check_availability(&self, arguments: &str, ctx: &ToolContext) -> ToolResult {
        #[derive(Deserialize)]
        struct Args {
            service: String,
            date: String,
            #[serde(default)]
            days: Option<u32>,
        }
        let args: Args = parse_args(arguments)?;
        let from = parse_date(&args.date)?;
        let days = args.days.unwrap_or(1).clamp(1, MAX_AVAILABILITY_DAYS);
        let to = from + Duration::days(i64::from(days) - 1);
        let today = ctx.now.with_timezone(&self.shop().timezone).date_naive();
        if to < today {
            return Err(ToolFailure::new(
                "in_past",
                format!(
                    "{} is in the past; today is {}",
                    spoken_date(from),
                    spoken_date(today)
                ),
            ));
        }
        if days == 1
            && let Some(failure) = self.closed_failure(from)
        {
            return Err(failure);
        }
        let service = self
            .shop()
            .service(&args.service)
            .ok_or_else(|| self.unknown_service(&args.service))?
            .clone();
        let slots = self
            .crm
            .available_slots(from.max(today), to, &service.name, ctx.now)
            .await
            .map_err(|err| self.failure(err))?;
        let listed: Vec<Value> = slots
            .iter()
            .take(MAX_SLOTS_LISTED)
            .map(|slot| {
                json!({
                    "start": slot.local_start.format("%Y-%m-%dT%H:%M").to_string(),
                    "spoken": spoken_time(slot.local_start),
                })
            })
            .collect();
        let mut res = json!({
            "service": service.name,
            "duration_minutes": service.duration_minutes,
            "slots": listed,
            "more_slots": slots.len().saturating_sub(MAX_SLOTS_LISTED),
        });
        if slots.is_empty() {
            res["note"] = json!("fully booked in that range; offer another day");
        }
        Ok(res)
    }

    async fn book_appointment(&self, arguments: &str, ctx: &ToolContext) -> ToolResult {
        #[derive(Deserialize)]
        struct Args {
            service: String,
            start: String,
            #[serde(default)]
            vehicle_id: Option<i64>,
            #[serde(default)]
            vehicle_year: Option<i32>,
            #[serde(default)]
            vehicle_make: Option<String>,
            #[serde(default)]
            vehicle_model: Option<String>,
            #[serde(default)]
            vehicle_vin: Option<String>,
            #[serde(default)]
            vehicle_plate: Option<String>,
            #[serde(default)]
            first_name: Option<String>,
            #[serde(default)]
            last_name: Option<String>,
            #[serde(default)]
            notes: Option<String>,
        }
        let args: Args = parse_args(arguments)?;
        let starts_at = self.parse_local_time(&args.start)?;
        let vin = checked_vin(args.vehicle_vin.as_deref())?;
        let license_plate = checked_plate(args.vehicle_plate.as_deref())?;
        if self.shop().service(&args.service).is_none() {
            return Err(self.unknown_service(&args.service));
        }
        let customer_id = match self.known_customer(ctx).await? {
            Some(id) => id,
            None => {
                let (Some(first_name), Some(phone)) = (
                    args.first_name.filter(|name| !name.trim().is_empty()),
                    ctx.caller_phone.clone(),
                ) else {
                    return Err(ToolFailure::new(
                        "customer_unknown",
                        "the caller is not a customer yet: ask for their first and last name \
                         and pass them as first_name and last_name",
                    ));
                };
                self.crm
                    .find_or_create_customer(&NewCustomer {
                        first_name,
                        last_name: args.last_name.unwrap_or_default(),
                        phone,
                        email: None,
                    })
                    .await
                    .map_err(|err| self.failure(err))?
            }
        };
        let mut notes = args.notes;
        let vehicle_id = match (
            args.vehicle_id,
            args.vehicle_year,
            args.vehicle_make,
            args.vehicle_model,
        ) {
            (Some(id), ..) => Some(id),
            (None, Some(year), Some(make), Some(model))
                if !make.trim().is_empty() && !model.trim().is_empty() =>
            {
                let vehicle = self
                    .crm
                    .add_vehicle(
                        customer_id,
                        &NewVehicle {
                            year,
                            make,
                            model,
                            mileage: None,
                            vin,
                            license_plate,
                        },
                    )
                    .await
                    .map_err(|err| self.failure(err))?;
                Some(vehicle.id)
            }
            // Without the full year/make/model no vehicle row is made; keep what was said.
            (None, year, make, model) => {
                let said: Vec<String> = [year.map(|y| y.to_string()), make, model]
                    .into_iter()
                    .flatten()
                    .filter(|part| !part.trim().is_empty())
                    .collect();
                if !said.is_empty() {
                    let vehicle = format!("vehicle: {}", said.join(" "));
                    notes = Some(match notes {
                        Some(notes) => format!("{notes}; {vehicle}"),
                        None => vehicle,
                    });
                }
                None
            }
        };
        let booked = self
            .crm
            .book_appointment(
                &BookingRequest {
                    customer_id,
                    vehicle_id,
                    service: args.service,
                    starts_at,
                    notes,
                    booked_via: BookedVia::PhoneAgent,
                    daily_limit: Some(self.limits.max_bookings_per_customer_per_day),
                },
                ctx.now,
            )
            .await
            .map_err(|err| self.failure(err))?;
        Ok(json!({"appointment": self.appointment_json(&booked)}))
    }

    async fn reschedule_appointment(&self, arguments: &str, ctx: &ToolContext) -> ToolResult {
        #[derive(Deserialize)]
        struct Args {
            appointment_id: i64,
            new_start: String,
        }
        let args: Args = parse_args(arguments)?;
        let new_start = self.parse_local_time(&args.new_start)?;
        self.ensure_owned(args.appointment_id, ctx).await?;
        let moved = self
            .crm
            .reschedule_appointment(args.appointment_id, new_start, ctx.now)
            .await
            .map_err(|err| self.failure(err))?;
        Ok(json!({"appointment": self.appointment_json(&moved)}))
    }

    async fn cancel_appointment(&self, arguments: &str, ctx: &ToolContext) -> ToolResult {
        #[derive(Deserialize)]
        struct Args {
            appointment_id: i64,
        }
        let args: Args = parse_args(arguments)?;
        self.ensure_owned(args.appointment_id, ctx).await?;
        let cancelled = self
            .crm
            .cancel_appointment(args.appointment_id, ctx.now)
            .await
            .map_err(|err| self.failure(err))?;
        Ok(json!({"appointment": self.appointment_json(&cancelled)}))
    }

    fn get_business_hours(&self, arguments: &str, ctx: &ToolContext) -> ToolResult {
        #[derive(Deserialize)]
        struct Args {
            #[serde(default)]
            date: Option<String>,
        }
        let args: Args = parse_args(arguments)?;
        let shop = self.shop();
        let weekdays = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        let weekly: Vec<Value> = weekdays
            .iter()
            .zip(shop.hours.0.iter())
            .map(|(day, hours)| match hours {
                Some(hours) => json!({
                    "day": weekday_name(*day),
                    "open": hours.open.format("%H:%M").to_string(),
                    "close": hours.close.format("%H:%M").to_string(),
                }),
                None => json!({"day": weekday_name(*day), "closed": true}),
            })
            .collect();
        let today = ctx.now.with_timezone(&shop.timezone).date_naive();
        let mut holidays: Vec<_> = shop
            .holidays
            .iter()
            .filter(|holiday| holiday.date >= today)
            .collect();
        holidays.sort_by_key(|holiday| holiday.date);
        let upcoming: Vec<Value> = holidays
            .iter()
            .take(3)
            .map(|holiday| json!({"date": holiday.date.to_string(), "name": holiday.name}))
            .collect();
        let mut res = json!({
            "timezone": shop.timezone.name(),
            "today": today.to_string(),
            "weekly": weekly,
            "upcoming_holidays": upcoming,
        });
        if let Some(date) = args.date {
            let date = parse_date(&date)?;
            res["date"] = match shop.opening_hours(date) {
                Some(hours) => json!({
                    "date": date.to_string(),
                    "spoken": spoken_date(date),
                    "open": hours.open.format("%H:%M").to_string(),
                    "close": hours.close.format("%H:%M").to_string(),
                }),
                None => json!({
                    "date": date.to_string(),
                    "spoken": spoken_date(date),
                    "closed": true,
                    "holiday": shop.holiday(date).map(|holiday| holiday.name.clone()),
                }),
            };
        }
        Ok(res)
    }

    fn get_service_price(&self, arguments: &str) -> ToolResult {
        #[derive(Deserialize)]
        struct Args {
            service: String,
        }
        let args: Args = parse_args(arguments)?;
        let service = self
            .shop()
            .service(&args.service)
            .ok_or_else(|| self.unknown_service(&args.service))?;
        Ok(json!({
            "service": service.name,
            "price_min_usd": service.price_min_usd,
            "price_max_usd": service.price_max_usd,
            "duration_minutes": service.duration_minutes,
        }))
    }

    /// The customer the call is about: the pipeline's id, else the caller's number looked up.
    async fn known_customer(&self, ctx: &ToolContext) -> Result<Option<i64>, ToolFailure> {
        if let Some(id) = ctx.customer_id {
            return Ok(Some(id));
        }
        let Some(phone) = &ctx.caller_phone else {
            return Ok(None);
        };
        match self.crm.lookup_customer(phone, ctx.now).await {
            Ok(profile) => Ok(profile.map(|profile| profile.id)),
            // A withheld or foreign caller ID just means "not known".
            Err(CrmError::InvalidPhone { .. }) => Ok(None),
            Err(err) => Err(self.failure(err)),
        }
    }

    /// Changing an appointment is only allowed for the caller's own; others read as not found.
    async fn ensure_owned(
        &self,
        appointment_id: i64,
        ctx: &ToolContext,
    ) -> Result<(), ToolFailure> {
        let Some(customer_id) = self.known_customer(ctx).await? else {
            return Err(ToolFailure::new(
                "customer_unknown",
                "the caller is not a known customer, so they have no appointments to change",
            ));
        };
        let appointment = self
            .crm
            .get_appointment(appointment_id)
            .await
            .map_err(|err| self.failure(err))?;
        match appointment {
            Some(appointment) if appointment.customer_id == customer_id => Ok(()),
            _ => Err(self.failure(CrmError::AppointmentNotFound)),
        }
    }

    /// Parses a shop-local `YYYY-MM-DDTHH:MM` (or with a space, seconds, or an RFC 3339 offset).
    fn parse_local_time(&self, text: &str) -> Result<DateTime<Utc>, ToolFailure> {
        let text = text.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(at.with_timezone(&Utc));
        }
        let local = [
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
        ]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .ok_or_else(|| {
            ToolFailure::new(
                "invalid_arguments",
                format!("{text:?} is not a time like 2026-11-30T09:00"),
            )
        })?;
        self.shop()
            .timezone
            .from_local_datetime(&local)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
            .ok_or_else(|| {
                ToolFailure::new(
                    "outside_hours",
                    format!("{text} does not exist in local time (clock change)"),
                )
            })
    }

    fn closed_failure(&self, date: NaiveDate) -> Option<ToolFailure> {
        if self.shop().opening_hours(date).is_some() {
            return None;
        }
        Some(
            self.failure(CrmError::Closed {
                date,
                holiday: self
                    .shop()
                    .holiday(date)
                    .map(|holiday| holiday.name.clone()),
            }),
        )
    }

    fn unknown_service(&self, name: &str) -> ToolFailure {
        self.failure(CrmError::UnknownService {
            name: name.to_owned(),
        })
    }

    /// Maps a CRM error to a tool failure; store trouble is logged here, once.
    fn failure(&self, err: CrmError) -> ToolFailure {
        let code = match &err {
            CrmError::InvalidPhone { .. } => "invalid_phone",
            CrmError::UnknownService { .. } => "unknown_service",
            CrmError::Closed { .. } => "closed",
            CrmError::OutsideHours { .. } => "outside_hours",
            CrmError::InPast => "in_past",
            CrmError::SlotFull => "slot_full",
            CrmError::CustomerNotFound => "customer_unknown",
            CrmError::VehicleNotFound => "vehicle_not_found",
            CrmError::AppointmentNotFound => "appointment_not_found",
            CrmError::AppointmentNotScheduled { .. } => "appointment_not_scheduled",
            CrmError::InvalidArgument(_) => "invalid_arguments",
            CrmError::BookingLimit { .. } => "booking_limit",
            CrmError::Contention { .. } | CrmError::Timeout { .. } | CrmError::Database { .. } => {
                warn!(error = %err, "crm unavailable for a tool call");
                return ToolFailure::new(
                    "unavailable",
                    "the booking system is not responding right now; apologise and offer a \
                     call-back from the service advisor",
                );
            }
        };
        let message = match &err {
            CrmError::UnknownService { name } => format!(
                "we do not offer {name:?}; services: {}",
                self.shop()
                    .services
                    .iter()
                    .map(|service| service.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CrmError::Closed { date, holiday } => match holiday {
                Some(holiday) => {
                    format!("the shop is closed on {} ({holiday})", spoken_date(*date))
                }
                None => format!("the shop is closed on {}", spoken_date(*date)),
            },
            CrmError::SlotFull => {
                "that time is fully booked; check availability and offer another time".to_owned()
            }
            CrmError::InPast => "that time has already passed".to_owned(),
            CrmError::BookingLimit { limit } => format!(
                "this caller already booked {limit} appointments today, the most the assistant \
                 may book; offer to have the service advisor call them back"
            ),
            other => other.to_string(),
        };
        ToolFailure { code, message }
    }

    fn profile_json(&self, profile: &CustomerProfile) -> Value {
        json!({
            "id": profile.id,
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "vehicles": profile.vehicles.iter().map(|vehicle| json!({
                "id": vehicle.id,
                "description": vehicle.describe(),
                "mileage": vehicle.mileage,
                "vin": vehicle.vin,
                "license_plate": vehicle.plate,
            })).collect::<Vec<_>>(),
            "upcoming_appointments": profile
                .upcoming_appointments
                .iter()
                .map(|appointment| self.appointment_json(appointment))
                .collect::<Vec<_>>(),
        })
    }

    fn appointment_json(&self, appointment: &AppointmentInfo) -> Value {
        let local = appointment
            .starts_at
            .with_timezone(&self.shop().timezone)
            .naive_local();
        json!({
            "id": appointment.id,
            "service": appointment.service,
            "start": local.format("%Y-%m-%dT%H:%M").to_string(),
            "spoken": spoken_time(local),
            "duration_minutes": appointment.duration_minutes,
            "vehicle": appointment.vehicle,
            "status": appointment.status,
        })
    }
}

/// Whether `asked` is the caller's own number (both normalised; a withheld caller has none).
fn same_phone(asked: &str, caller: Option<&str>) -> bool {
    let Some(caller) = caller else {
        return false;
    };
    match (
        crate::phone::normalize_phone(asked),
        crate::phone::normalize_phone(caller),
    ) {
        (Ok(asked), Ok(caller)) => asked == caller,
        _ => false,
    }
}

fn tool_names() -> Vec<String> {
    tool_specs().into_iter().map(|spec| spec.name).collect()
}

/// Parses tool arguments; empty text counts as `{}` (some models send nothing for no args).
fn parse_args<T: DeserializeOwned>(arguments: &str) -> Result<T, ToolFailure> {
    let text = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    serde_json::from_str(text)
        .map_err(|err| ToolFailure::new("invalid_arguments", format!("bad arguments: {err}")))
}

fn parse_date(text: &str) -> Result<NaiveDate, ToolFailure> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        ToolFailure::new(
            "invalid_arguments",
            format!("{text:?} is not a date like 2026-11-30"),
        )
    })
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// "Monday, November 30".
fn spoken_date(date: NaiveDate) -> String {
    format!(
        "{}, {}",
        weekday_name(date.weekday()),
        date.format("%B %-d")
    )
}

/// "Monday, November 30 at 9:00 AM".
fn spoken_time(local: NaiveDateTime) -> String {
    format!(
        "{} at {}",
        spoken_date(local.date()),
        local.format("%-I:%M %p")
    )
}

/// A VIN from the model, check digit verified (`None` when none was given).
fn checked_vin(vin: Option<&str>) -> Result<Option<String>, ToolFailure> {
    match vin.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(vin) => conversation::spelled::check_vin(vin)
            .map(Some)
            .map_err(|err| {
                ToolFailure::new(
                    "invalid_arguments",
                    format!(
                        "the VIN does not check out ({err:?}); ask the caller to read it again"
                    ),
                )
            }),
    }
}

/// A licence plate from the model, checked (`None` when none was given).
fn checked_plate(plate: Option<&str>) -> Result<Option<String>, ToolFailure> {
    match plate.filter(|p| !p.trim().is_empty()) {
        None => Ok(None),
        Some(plate) => conversation::spelled::check_plate(plate)
            .map(Some)
            .ok_or_else(|| {
                ToolFailure::new(
                    "invalid_arguments",
                    "a licence plate is 2 to 8 letters and digits; ask the caller to spell it again",
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_is_an_object_schema_with_known_required_fields() {
        let specs = tool_specs();
        let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "lookup_customer",
                "check_availability",
                "book_appointment",
                "reschedule_appointment",
                "cancel_appointment",
                "update_vehicle",
                "update_customer_name",
                "get_business_hours",
                "get_service_price",
            ]
        );
        for spec in &specs {
            assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
            let properties = spec.parameters["properties"].as_object().unwrap();
            for required in spec.parameters["required"].as_array().into_iter().flatten() {
                let required = required.as_str().unwrap();
                assert!(
                    properties.contains_key(required),
                    "{}: {required}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn spoken_times_read_naturally() {
        let at = NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_opt(14, 30, 0)
            .unwrap();
        assert_eq!(spoken_time(at), "Monday, November 30 at 2:30 PM");
    }

    #[test]
    fn empty_arguments_are_an_empty_object() {
        #[derive(Debug, Deserialize)]
        struct Args {
            #[serde(default)]
            phone: Option<String>,
        }
        let args: Args = parse_args("  ").unwrap();
        assert_eq!(args.phone, None);
        let failure = parse_args::<Args>("{not json").unwrap_err();
        assert_eq!(failure.code, "invalid_arguments");
    }
}
