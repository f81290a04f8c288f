//! The system prompt and the opening line. Both are pure functions of the manager's state.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::customer::AppointmentInfo;
use crate::manager::{CallSubject, ConversationManager};
use crate::shop::{OpeningHours, ShopConfig};
use crate::types::{CallType, DayPeriod, Intent, SlotName, State};

const WEEKDAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl ConversationManager {
    /// The first line on a stream that resumes a call after the previous one was lost: an
    /// apology, what the caller was doing, and where to go on from. Spoken without an LLM round
    /// trip, like the greeting.
    pub fn resume_line(&self) -> String {
        let sorry = "Sorry about that, we got cut off.";
        if self.turn_count == 0 {
            return format!("{sorry} {}", self.greeting());
        }
        let doing = match self.intent {
            Some(Intent::ScheduleAppointment) => {
                Some(format!("You were booking {}.", self.read_back()))
            }
            Some(Intent::RescheduleAppointment | Intent::CancelAppointment) => {
                Some(format!("You were asking to {}.", self.read_back()))
            }
            Some(Intent::CheckStatus) => Some("You were asking about your vehicle.".to_owned()),
            Some(Intent::PricingInquiry) => Some(match &self.slots.service_type {
                Some(service) => format!("You were asking what {} costs.", with_article(service)),
                None => "You were asking about prices.".to_owned(),
            }),
            Some(Intent::CheckHours) => Some("You were asking about our hours.".to_owned()),
            Some(Intent::GeneralInquiry) | None => None,
        };
        let next = match self.state {
            State::Confirmation => "Shall I go ahead with that?",
            State::Closing => "Is there anything else I can help you with?",
            _ if doing.is_some() => "Let's pick up where we left off.",
            _ => "What can I help you with?",
        };
        match doing {
            Some(doing) => format!("{sorry} {doing} {next}"),
            None => format!("{sorry} {next}"),
        }
    }

    /// The opening line, spoken without an LLM round trip.
    ///
    /// Existing customers are greeted by first name; outbound calls say why we call.
    pub fn greeting(&self) -> String {
        let shop = &self.shop.name;
        let first_name = self.customer.as_ref().map(|c| c.first_name.as_str());
        match (self.call_type, &self.subject) {
            (CallType::OutboundReminder, Some(CallSubject::Appointment(appointment))) => format!(
                "Hi {}, this is the virtual assistant at {shop}, calling to remind you of your {} appointment on {}. Will you still be able to make it?",
                first_name.unwrap_or("there"),
                appointment.service,
                self.appointment_when(appointment),
            ),
            (CallType::OutboundFollowUp, Some(CallSubject::Appointment(appointment))) => {
                let vehicle = appointment
                    .vehicle
                    .as_deref()
                    .map(|v| format!(" on your {v}"))
                    .unwrap_or_default();
                format!(
                    "Hi {}, this is the virtual assistant at {shop}, following up on the {} we did{vehicle} on {}. How is everything running?",
                    first_name.unwrap_or("there"),
                    appointment.service,
                    say_date(self.local_date(appointment.starts_at)),
                )
            }
            (CallType::OutboundServiceDue, Some(CallSubject::ServiceDue { vehicle, service })) => {
                format!(
                    "Hi {}, this is the virtual assistant at {shop}. Our records show your {} is due for {}. Would you like to schedule it?",
                    first_name.unwrap_or("there"),
                    vehicle.describe(),
                    with_article(service),
                )
            }
            _ => match first_name {
                Some(name) => format!(
                    "Hi {name}, thanks for calling {shop}. This is the virtual assistant. How can I help you today?"
                ),
                None => format!(
                    "Thanks for calling {shop}. This is the virtual assistant. How can I help you today?"
                ),
            },
        }
    }

    /// The system prompt for the next LLM turn: persona, shop facts, the caller, what to do
    /// now, and what has been collected. Deterministic: same state, same text.
    pub fn get_system_prompt(&self) -> String {
        let mut res = String::with_capacity(4096);
        let shop = &*self.shop;
        let _ = writeln!(
            res,
            "You are the virtual receptionist of {}, an auto repair shop, speaking with a caller on the phone.",
            shop.name
        );
        res.push_str(
            "Your words are read aloud: answer in one or two short sentences, ask one question at a time, and use no lists, markdown, emoji or abbreviations.\n\
             Say prices and times the way people say them. Use only the facts below; never invent prices, times, availability or repairs.\n\
             If the caller asks for a person or threatens legal action, hand them to a service advisor with the hand_to_person tool; if they are upset or you cannot help, offer a service advisor and hand them over if they want one.\n",
        );
        res.push_str("\nShop facts:\n");
        write_shop_facts(&mut res, shop);
        res.push_str("\nThis call:\n");
        self.write_call_part(&mut res);
        res.push_str("\nWhat to do now:\n");
        self.write_guidance(&mut res);
        res.push_str("\nCollected so far:\n");
        self.write_slots(&mut res);
        res
    }

    fn write_call_part(&self, res: &mut String) {
        match &self.customer {
            Some(customer) => {
                let _ = writeln!(
                    res,
                    "- The caller is {} {}, an existing customer. Call them {}.",
                    customer.first_name, customer.last_name, customer.first_name
                );
                if customer.vehicles.is_empty() {
                    res.push_str("- No vehicles on file.\n");
                }
                for vehicle in &customer.vehicles {
                    let mileage = vehicle
                        .mileage
                        .map(|miles| format!(", about {} miles", group_thousands(miles)))
                        .unwrap_or_default();
                    let _ = writeln!(res, "- Vehicle on file: {}{mileage}.", vehicle.describe());
                }
                let upcoming: Vec<&AppointmentInfo> = customer
                    .upcoming_appointments
                    .iter()
                    .filter(|a| a.status == "scheduled")
                    .collect();
                if upcoming.is_empty() {
                    res.push_str("- No upcoming appointments.\n");
                }
                for appointment in upcoming {
                    let _ = writeln!(
                        res,
                        "- Upcoming appointment {}: {}.",
                        appointment.id,
                        self.describe_appointment(appointment)
                    );
                }
            }
            None => {
                res.push_str(
                    "- The caller is not in our records yet. Before booking, ask for their name and their vehicle's year, make and model.\n",
                );
            }
        }
        match (self.call_type, &self.subject) {
            (CallType::OutboundReminder, Some(CallSubject::Appointment(appointment))) => {
                let _ = writeln!(
                    res,
                    "- We called to remind them of appointment {}: {}. If they cannot make it, offer to reschedule or cancel it.",
                    appointment.id,
                    self.describe_appointment(appointment)
                );
            }
            (CallType::OutboundFollowUp, Some(CallSubject::Appointment(appointment))) => {
                let _ = writeln!(
                    res,
                    "- We called to follow up on their visit: {}. If something is still wrong, offer to book them back in.",
                    self.describe_appointment(appointment)
                );
            }
            (CallType::OutboundServiceDue, Some(CallSubject::ServiceDue { vehicle, service })) => {
                let _ = writeln!(
                    res,
                    "- We called because their {} is due for {}. Offer to book it; if they decline, thank them and end the call.",
                    vehicle.describe(),
                    with_article(service)
                );
            }
            _ => {}
        }
    }

    fn write_guidance(&self, res: &mut String) {
        if self.silence_timeouts > 0 && !matches!(self.state, State::Closing | State::Escalation) {
            res.push_str("- The caller has gone quiet. Ask whether they are still there.\n");
        }
        match self.state {
            State::Greeting => {
                let _ = writeln!(res, "- Open the call with: \"{}\"", self.greeting());
            }
            State::IntentDetection => res.push_str(
                "- Find out what the caller needs: booking, moving or cancelling an appointment, our hours, a price, or the status of their car.\n",
            ),
            State::SlotCollection => self.write_slot_guidance(res),
            State::Confirmation => match self.intent {
                None => res.push_str("- Ask whether they can still make the appointment.\n"),
                Some(_) => {
                    let _ = writeln!(
                        res,
                        "- Read the details back and ask the caller to confirm: {}.",
                        self.read_back()
                    );
                    self.write_date_warnings(res);
                }
            },
            State::Execution => {
                let line = match self.intent {
                    Some(Intent::ScheduleAppointment) => {
                        format!("- The caller confirmed. Book it now: {}. Then tell them it is booked.", self.read_back())
                    }
                    Some(Intent::RescheduleAppointment) => {
                        format!("- The caller confirmed. Move the appointment now: {}. Then tell them it is done.", self.read_back())
                    }
                    Some(Intent::CancelAppointment) => {
                        format!("- The caller confirmed. Cancel it now: {}. Then tell them it is cancelled.", self.read_back())
                    }
                    Some(Intent::CheckHours) => {
                        "- Tell the caller our opening hours from the shop facts, including any closed day they asked about.".to_owned()
                    }
                    Some(Intent::PricingInquiry) => {
                        let service = self.slots.service_type.as_deref().unwrap_or("the service");
                        format!("- Give the price range for {service} from the shop facts, and say the exact price depends on the vehicle.")
                    }
                    Some(Intent::CheckStatus) => {
                        "- Look up the status of the caller's car with the status tool and tell them; if you cannot find it, offer to have a service advisor call back.".to_owned()
                    }
                    Some(Intent::GeneralInquiry) | None => {
                        "- Answer the caller's question from the shop facts; if they are not there, offer to have a service advisor call back.".to_owned()
                    }
                };
                res.push_str(&line);
                res.push('\n');
                if self.completed_action && self.is_booking() {
                    res.push_str("- You already made a change on this call: update that appointment instead of booking a second one.\n");
                }
                if let Some(intent) = self.suspended_intent {
                    let _ = writeln!(
                        res,
                        "- Then go back to {}, which the caller started earlier.",
                        intent_words(intent)
                    );
                }
                res.push_str("- Then ask whether there is anything else.\n");
            }
            State::Closing => res.push_str("- Thank the caller and say goodbye.\n"),
            State::Escalation => {
                let reason = self.escalation_reason.map(|r| r.as_str()).unwrap_or("unknown");
                let _ = writeln!(
                    res,
                    "- Escalation ({reason}): tell the caller you are connecting them with a service advisor now. Do not try to solve the issue yourself, and do not argue."
                );
            }
        }
    }

    fn write_slot_guidance(&self, res: &mut String) {
        let missing = self.missing_slots();
        match missing.first() {
            Some(SlotName::ServiceType) => res.push_str(
                "- Ask which service they need. If they describe a problem rather than a service, it is a diagnostic.\n",
            ),
            Some(SlotName::Appointment) => {
                res.push_str("- Ask which of their upcoming appointments they mean.\n")
            }
            Some(SlotName::PreferredDate) => {
                res.push_str("- Ask which day works for them.\n");
            }
            Some(SlotName::PreferredTime) => {
                let line = match self.slots.time_period {
                    Some(DayPeriod::Morning) => "- They asked for the morning: offer a specific time before noon.",
                    Some(DayPeriod::Afternoon) => "- They asked for the afternoon: offer a specific time after noon.",
                    Some(DayPeriod::Evening) => "- They asked for the evening: offer the latest time we are open.",
                    None => "- Ask what time works for them.",
                };
                res.push_str(line);
                res.push('\n');
            }
            Some(SlotName::CustomerName) => res.push_str("- Ask for their first and last name.\n"),
            Some(SlotName::Vehicle) => {
                res.push_str("- Ask for the year, make and model of the vehicle.\n")
            }
            None => res.push_str("- The caller said the details are not right: ask what to change.\n"),
        }
        self.write_date_warnings(res);
    }

    /// Tells the model when the requested day is closed or the time is outside the hours.
    fn write_date_warnings(&self, res: &mut String) {
        let Some(date) = self.slots.resolved_date else {
            return;
        };
        match self.shop.opening_hours(date) {
            None => {
                let why = match self.shop.holiday(date) {
                    Some(holiday) => format!("for {}", holiday.name),
                    None => format!("on {}s", WEEKDAY_NAMES[weekday_idx(date)]),
                };
                let next = next_open_day(&self.shop, date)
                    .map(|day| format!(" The next open day is {}.", say_date(day)))
                    .unwrap_or_default();
                let _ = writeln!(
                    res,
                    "- We are closed on {} ({why}): tell the caller and offer another day.{next}",
                    say_date(date)
                );
            }
            Some(hours) => {
                if let Some(time) = self.slots.resolved_time
                    && (time < hours.open || time >= hours.close)
                {
                    let _ = writeln!(
                        res,
                        "- {} is outside our hours on {} ({} to {}): offer a time within them.",
                        say_time(time),
                        say_date(date),
                        say_time(hours.open),
                        say_time(hours.close)
                    );
                }
            }
        }
    }

    fn write_slots(&self, res: &mut String) {
        let slots = &self.slots;
        let before = res.len();
        if let Some(service) = &slots.service_type {
            if slots.more_services.is_empty() {
                let _ = writeln!(res, "- service: {service}");
            } else {
                let _ = writeln!(
                    res,
                    "- services: {service}, {}",
                    slots.more_services.join(", ")
                );
            }
        }
        if let Some(heard) = &slots.preferred_date {
            match slots.resolved_date {
                Some(date) => {
                    let _ = writeln!(res, "- date: {} (they said \"{heard}\")", say_date(date));
                }
                None => {
                    let _ = writeln!(
                        res,
                        "- date: they said \"{heard}\", which is not a real date; ask again"
                    );
                }
            }
        }
        if let Some(heard) = &slots.preferred_time {
            match (slots.resolved_time, slots.time_period) {
                (Some(time), _) => {
                    let _ = writeln!(res, "- time: {} (they said \"{heard}\")", say_time(time));
                }
                (None, Some(period)) => {
                    let _ = writeln!(res, "- time: sometime in the {period}");
                }
                (None, None) => {}
            }
        }
        if let Some(vin) = &slots.vin {
            let _ = writeln!(
                res,
                "- VIN: {vin} (checked; read it back to confirm: {}; once the caller confirms, store it with update_vehicle for a vehicle on file, or as vehicle_vin when booking a new one)",
                crate::spelled::read_back_letters(vin)
            );
        }
        if slots.vin_misheard {
            res.push_str(
                "- The VIN the caller read does not check out (a character was misheard): ask them to read it again slowly.\n",
            );
        }
        if let Some(plate) = &slots.plate {
            let _ = writeln!(
                res,
                "- licence plate: {plate} (read it back: {}; once confirmed, store it with update_vehicle, or as vehicle_plate when booking a new vehicle)",
                crate::spelled::read_back_letters(plate)
            );
        }
        if let Some(phone) = &slots.phone {
            let _ = writeln!(
                res,
                "- phone number said: {phone} (read it back: {})",
                crate::spelled::read_back_phone(phone)
            );
        }
        if let Some(name) = &slots.spelled_name {
            let _ = writeln!(
                res,
                "- name as spelled: {name} (read it back: {}; once confirmed, correct a customer's record with update_customer_name, or use it as the name when booking)",
                crate::spelled::read_back_letters(name)
            );
        }
        if let Some(name) = &slots.customer_name {
            let _ = writeln!(res, "- name: {name}");
        }
        if let Some(vehicle) = &slots.vehicle {
            let _ = writeln!(res, "- vehicle: {vehicle}");
        }
        if let Some(appointment) = self.target_appointment() {
            let _ = writeln!(
                res,
                "- appointment {}: {}",
                appointment.id,
                self.describe_appointment(appointment)
            );
        }
        if res.len() == before {
            res.push_str("- nothing yet\n");
        }
    }

    /// "an oil change on Wednesday, November 25 at 2 PM for the 2019 Honda Civic".
    pub(crate) fn read_back(&self) -> String {
        let slots = &self.slots;
        let when = match (slots.resolved_date, slots.resolved_time) {
            (Some(date), Some(time)) => format!(" on {} at {}", say_date(date), say_time(time)),
            (Some(date), None) => format!(" on {}", say_date(date)),
            _ => String::new(),
        };
        let target = self
            .target_appointment()
            .map(|appointment| self.describe_appointment(appointment));
        let mut res = match self.intent {
            Some(Intent::RescheduleAppointment) => format!(
                "move {} to{}",
                target.unwrap_or_else(|| "their appointment".to_owned()),
                when.strip_prefix(" on")
                    .map(|w| format!(" {}", w.trim_start()))
                    .unwrap_or_default()
            ),
            Some(Intent::CancelAppointment) => format!(
                "cancel {}",
                target.unwrap_or_else(|| "their appointment".to_owned())
            ),
            _ => format!(
                "{}{when}",
                slots
                    .service_type
                    .as_deref()
                    .map(with_article)
                    .unwrap_or_else(|| "a visit".to_owned())
            ),
        };
        if self.intent == Some(Intent::ScheduleAppointment) {
            if let Some(vehicle) = &slots.vehicle {
                let _ = write!(res, " for the {vehicle}");
            }
            if self.customer.is_none()
                && let Some(name) = &slots.customer_name
            {
                let _ = write!(res, " under the name {name}");
            }
        }
        if self.customer.is_none()
            && self.intent != Some(Intent::ScheduleAppointment)
            && let Some(name) = &slots.customer_name
        {
            let _ = write!(res, " for {name}");
        }
        res
    }

    fn describe_appointment(&self, appointment: &AppointmentInfo) -> String {
        let vehicle = appointment
            .vehicle
            .as_deref()
            .map(|v| format!(" for the {v}"))
            .unwrap_or_default();
        format!(
            "{} on {}{vehicle}",
            with_article(&appointment.service),
            self.appointment_when(appointment)
        )
    }

    fn appointment_when(&self, appointment: &AppointmentInfo) -> String {
        let local = appointment.starts_at.with_timezone(&self.shop.timezone);
        format!(
            "{} at {}",
            say_date(local.date_naive()),
            say_time(local.time())
        )
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.shop.timezone).date_naive()
    }
}

fn write_shop_facts(res: &mut String, shop: &ShopConfig) {
    if let Some(address) = &shop.address {
        let _ = writeln!(res, "- Address: {address}.");
    }
    if let Some(phone) = &shop.phone {
        let _ = writeln!(res, "- Phone: {phone}.");
    }
    let _ = writeln!(res, "- Hours: {}.", describe_hours(shop));
    if !shop.holidays.is_empty() {
        let holidays: Vec<String> = shop
            .holidays
            .iter()
            .map(|holiday| {
                format!(
                    "{} ({}, {})",
                    holiday.name,
                    say_date(holiday.date),
                    holiday.date.format("%Y")
                )
            })
            .collect();
        let _ = writeln!(res, "- Closed on: {}.", holidays.join("; "));
    }
    let _ = writeln!(
        res,
        "- Appointments start every {} minutes; up to {} can run at the same time.",
        shop.slot_minutes, shop.bay_capacity
    );
    res.push_str("- Services, with usual price range and time:\n");
    for service in &shop.services {
        let _ = writeln!(
            res,
            "  - {}: ${} to ${}, about {}",
            service.name,
            service.price_min_usd,
            service.price_max_usd,
            say_duration(service.duration_minutes)
        );
    }
}

/// "Monday to Friday 8 AM to 6 PM; Saturday 9 AM to 2 PM; Sunday closed".
fn describe_hours(shop: &ShopConfig) -> String {
    // (first weekday, last weekday, hours) runs of days with the same hours.
    let mut groups: Vec<(usize, usize, Option<OpeningHours>)> = Vec::new();
    for (idx, hours) in shop.hours.0.iter().enumerate() {
        let key = *hours;
        match groups.last_mut() {
            Some((_, end, last)) if *last == key => *end = idx,
            _ => groups.push((idx, idx, key)),
        }
    }
    groups
        .iter()
        .map(|(start, end, hours)| {
            let days = if start == end {
                WEEKDAY_NAMES[*start].to_owned()
            } else {
                format!("{} to {}", WEEKDAY_NAMES[*start], WEEKDAY_NAMES[*end])
            };
            match hours {
                Some(hours) => format!(
                    "{days} {} to {}",
                    say_time(hours.open),
                    say_time(hours.close)
                ),
                None => format!("{days} closed"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn next_open_day(shop: &ShopConfig, after: NaiveDate) -> Option<NaiveDate> {
    after
        .iter_days()
        .skip(1)
        .take(14)
        .find(|day| shop.opening_hours(*day).is_some())
}

fn weekday_idx(date: NaiveDate) -> usize {
    use chrono::Datelike;
    date.weekday().num_days_from_monday() as usize
}

/// "Wednesday, November 25".
pub(crate) fn say_date(date: NaiveDate) -> String {
    format!(
        "{}, {}",
        WEEKDAY_NAMES[weekday_idx(date)],
        date.format("%B %-d")
    )
}

/// "2 PM", "2:30 PM", "noon".
pub(crate) fn say_time(time: NaiveTime) -> String {
    use chrono::Timelike;
    if time.hour() == 12 && time.minute() == 0 {
        return "noon".to_owned();
    }
    let suffix = if time.hour() < 12 { "AM" } else { "PM" };
    let hour = match time.hour() % 12 {
        0 => 12,
        hour => hour,
    };
    if time.minute() == 0 {
        format!("{hour} {suffix}")
    } else {
        format!("{hour}:{:02} {suffix}", time.minute())
    }
}

fn say_duration(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} minutes"),
        (1, 0) => "1 hour".to_owned(),
        (h, 0) => format!("{h} hours"),
        (1, 30) => "an hour and a half".to_owned(),
        (h, m) => format!("{h} hours {m} minutes"),
    }
}

fn group_thousands(value: i32) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut res = String::new();
    for (idx, ch) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            res.push(',');
        }
        res.push(ch);
    }
    if value < 0 {
        res.insert(0, '-');
    }
    res
}

/// "an oil change", "a diagnostic".
fn with_article(service: &str) -> String {
    let article = if service.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {service}")
}

fn intent_words(intent: Intent) -> &'static str {
    match intent {
        Intent::ScheduleAppointment => "booking their appointment",
        Intent::RescheduleAppointment => "moving their appointment",
        Intent::CancelAppointment => "cancelling their appointment",
        Intent::CheckHours => "their question about our hours",
        Intent::CheckStatus => "their question about their car",
        Intent::PricingInquiry => "their price question",
        Intent::GeneralInquiry => "their question",
    }
}
