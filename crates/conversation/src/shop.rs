//! The shop's static facts: hours, holidays, capacity and the service catalog.

use chrono::{Datelike, NaiveDate, NaiveTime};
use serde::Deserialize;

/// The fixture embedded as the built-in default shop.
/// The starter shop configuration (`fixtures/shop.toml`), compiled in: what `default_shop`
/// parses and what `voice-gateway init-shop` writes for a shop to edit.
pub const DEFAULT_SHOP_TOML: &str = include_str!("../../../fixtures/shop.toml");

/// The shop's static facts, loaded from `fixtures/shop.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopConfig {
    /// The shop's name as the receptionist says it.
    pub name: String,
    /// The shop's public number, E.164.
    pub phone: Option<String>,
    /// Street address, read out when a caller asks where we are.
    pub address: Option<String>,
    /// The shop's timezone; every local date and time is in it.
    pub timezone: chrono_tz::Tz,
    /// Opening hours per weekday.
    pub hours: WeeklyHours,
    /// Closed days (e.g. 2026-11-26 Thanksgiving, 2026-12-25 Christmas).
    pub holidays: Vec<Holiday>,
    /// Appointments that can run at the same time.
    pub bay_capacity: u32,
    /// Booking granularity in minutes.
    pub slot_minutes: u32,
    /// Where escalations go, E.164.
    pub advisor_phone: Option<String>,
    /// The service catalog.
    pub services: Vec<Service>,
}

/// Local opening and closing time of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningHours {
    /// Local time the shop opens.
    pub open: NaiveTime,
    /// Local time the shop closes; always after `open`.
    pub close: NaiveTime,
}

/// Opening hours per weekday.
///
/// Index 0 = Monday … 6 = Sunday (`chrono::Weekday::num_days_from_monday`); `None` = closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyHours(pub [Option<OpeningHours>; 7]);

/// A day the shop is closed although its weekday is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// The local date.
    pub date: NaiveDate,
    /// What the receptionist calls it ("Thanksgiving").
    pub name: String,
}

/// One entry of the service catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Canonical name, e.g. "oil change"; what the CRM stores.
    pub name: String,
    /// Lowercase phrases callers use for it, e.g. "lube job", "change my oil".
    pub synonyms: Vec<String>,
    /// Lowest usual price in US dollars.
    pub price_min_usd: u32,
    /// Highest usual price in US dollars.
    pub price_max_usd: u32,
    /// How long the bay is busy.
    pub duration_minutes: u32,
}

/// Why a shop configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShopConfigError {
    /// The text is not TOML or does not have the expected fields.
    #[error("shop config is not valid TOML: {message}")]
    Toml {
        /// The parser's description, with line and column.
        message: String,
    },
    /// A field parsed but its value makes no sense.
    #[error("shop config field `{field}` is invalid: {reason}")]
    Invalid {
        /// Dotted path of the field, e.g. `hours.monday`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ShopConfig {
    /// Parses and validates a shop configuration in the `fixtures/shop.toml` format.
    pub fn from_toml_str(text: &str) -> Result<ShopConfig, ShopConfigError> {
        let raw: RawShop = toml::from_str(text).map_err(|err| ShopConfigError::Toml {
            message: err.to_string(),
        })?;
        raw.validate()
    }

    /// The built-in default shop (same content as `fixtures/shop.toml`), for tests and as fallback.
    pub fn default_shop() -> ShopConfig {
        // The fixture is compiled in and a unit test parses it, so failing here is a build bug.
        ShopConfig::from_toml_str(DEFAULT_SHOP_TOML).expect("fixtures/shop.toml is valid")
    }

    /// Opening hours on a local date; `None` when that weekday is closed or it is a holiday.
    pub fn opening_hours(&self, date: NaiveDate) -> Option<OpeningHours> {
        if self.holiday(date).is_some() {
            return None;
        }
        self.hours.0[date.weekday().num_days_from_monday() as usize]
    }

    /// The holiday on a local date, if any.
    pub fn holiday(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays.iter().find(|holiday| holiday.date == date)
    }

    /// Case-insensitive lookup by canonical name or synonym.
    pub fn service(&self, name_or_synonym: &str) -> Option<&Service> {
        let wanted = name_or_synonym.trim();
        self.services
            .iter()
            .find(|service| service.name.eq_ignore_ascii_case(wanted))
            .or_else(|| {
                self.services.iter().find(|service| {
                    service
                        .synonyms
                        .iter()
                        .any(|synonym| synonym.eq_ignore_ascii_case(wanted))
                })
            })
    }
}

/// The TOML shape, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShop {
    name: String,
    phone: Option<String>,
    address: Option<String>,
    timezone: Option<String>,
    #[serde(default)]
    hours: RawHours,
    #[serde(default)]
    holidays: Vec<RawHoliday>,
    bay_capacity: Option<u32>,
    slot_minutes: Option<u32>,
    advisor_phone: Option<String>,
    #[serde(default)]
    services: Vec<RawService>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHours {
    monday: Option<String>,
    tuesday: Option<String>,
    wednesday: Option<String>,
    thursday: Option<String>,
    friday: Option<String>,
    saturday: Option<String>,
    sunday: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    date: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    #[serde(default)]
    synonyms: Vec<String>,
    price_min_usd: u32,
    price_max_usd: u32,
    duration_minutes: u32,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ShopConfigError {
    ShopConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

impl RawShop {
    fn validate(self) -> Result<ShopConfig, ShopConfigError> {
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        for (field, phone) in [
            ("phone", &self.phone),
            ("advisor_phone", &self.advisor_phone),
        ] {
            if let Some(phone) = phone
                && !is_e164(phone)
            {
                return Err(invalid(field, format!("{phone:?} is not E.164")));
            }
        }
        let timezone = match &self.timezone {
            None => chrono_tz::America::New_York,
            Some(name) => name
                .parse::<chrono_tz::Tz>()
                .map_err(|_| invalid("timezone", format!("unknown timezone {name:?}")))?,
        };
        let hours = self.hours.validate()?;
        let mut holidays = Vec::with_capacity(self.holidays.len());
        for (idx, raw) in self.holidays.into_iter().enumerate() {
            let date = NaiveDate::parse_from_str(&raw.date, "%Y-%m-%d").map_err(|_| {
                invalid(
                    format!("holidays[{idx}].date"),
                    format!("{:?} is not YYYY-MM-DD", raw.date),
                )
            })?;
            holidays.push(Holiday {
                date,
                name: raw.name,
            });
        }
        let bay_capacity = self.bay_capacity.unwrap_or(1);
        if bay_capacity == 0 {
            return Err(invalid("bay_capacity", "must be at least 1"));
        }
        let slot_minutes = self.slot_minutes.unwrap_or(30);
        if slot_minutes == 0 || slot_minutes > 24 * 60 {
            return Err(invalid("slot_minutes", "must be between 1 and 1440"));
        }
        let mut services: Vec<Service> = Vec::with_capacity(self.services.len());
        for (idx, raw) in self.services.into_iter().enumerate() {
            let name = raw.name.trim().to_lowercase();
            if name.is_empty() {
                return Err(invalid(
                    format!("services[{idx}].name"),
                    "must not be empty",
                ));
            }
            if services.iter().any(|service| service.name == name) {
                return Err(invalid(
                    format!("services[{idx}].name"),
                    format!("duplicate service {name:?}"),
                ));
            }
            if raw.price_min_usd > raw.price_max_usd {
                return Err(invalid(
                    format!("services[{idx}].price_min_usd"),
                    "must not exceed price_max_usd",
                ));
            }
            if raw.duration_minutes == 0 {
                return Err(invalid(
                    format!("services[{idx}].duration_minutes"),
                    "must be at least 1",
                ));
            }
            let synonyms = raw
                .synonyms
                .iter()
                .map(|synonym| synonym.trim().to_lowercase())
                .filter(|synonym| !synonym.is_empty())
                .collect();
            services.push(Service {
                name,
                synonyms,
                price_min_usd: raw.price_min_usd,
                price_max_usd: raw.price_max_usd,
                duration_minutes: raw.duration_minutes,
            });
        }
        Ok(ShopConfig {
            name: self.name.trim().to_owned(),
            phone: self.phone,
            address: self.address,
            timezone,
            hours,
            holidays,
            bay_capacity,
            slot_minutes,
            advisor_phone: self.advisor_phone,
            services,
        })
    }
}

impl RawHours {
    fn validate(self) -> Result<WeeklyHours, ShopConfigError> {
        let days = [
            ("monday", self.monday),
            ("tuesday", self.tuesday),
            ("wednesday", self.wednesday),
            ("thursday", self.thursday),
            ("friday", self.friday),
            ("saturday", self.saturday),
            ("sunday", self.sunday),
        ];
        let mut res = [None; 7];
        for (idx, (day, text)) in days.into_iter().enumerate() {
            if let Some(text) = text {
                res[idx] = parse_day_hours(&text)
                    .map_err(|reason| invalid(format!("hours.{day}"), reason))?;
            }
        }
        Ok(WeeklyHours(res))
    }
}

/// Parses `"08:00-18:00"` or `"closed"`.
fn parse_day_hours(text: &str) -> Result<Option<OpeningHours>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("closed") {
        return Ok(None);
    }
    let bad = || format!("{text:?} is not \"HH:MM-HH:MM\" or \"closed\"");
    let (open, close) = text.split_once('-').ok_or_else(bad)?;
    let open = NaiveTime::parse_from_str(open.trim(), "%H:%M").map_err(|_| bad())?;
    let close = NaiveTime::parse_from_str(close.trim(), "%H:%M").map_err(|_| bad())?;
    if close <= open {
        return Err(format!("{text:?} closes before it opens"));
    }
    Ok(Some(OpeningHours { open, close }))
}

fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shop_is_the_fixture() {
        let parsed = ShopConfig::from_toml_str(DEFAULT_SHOP_TOML).unwrap();
        assert_eq!(ShopConfig::default_shop(), parsed);
        assert_eq!(parsed.name, "Main Street Auto Care");
        assert_eq!(parsed.timezone, chrono_tz::America::New_York);
        assert_eq!(parsed.bay_capacity, 3);
        assert_eq!(parsed.slot_minutes, 30);
        let names: Vec<&str> = parsed.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "oil change",
                "brake service",
                "tire rotation",
                "tire replacement",
                "wheel alignment",
                "battery replacement",
                "state inspection",
                "check engine light",
                "ac service",
                "transmission service",
                "diagnostic",
            ]
        );
    }

    #[test]
    fn opening_hours_respect_weekdays_and_holidays() {
        let shop = ShopConfig::default_shop();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        // Tuesday.
        assert_eq!(
            shop.opening_hours(day(2026, 11, 24)),
            Some(OpeningHours {
                open: hm(8, 0),
                close: hm(18, 0)
            })
        );
        // Thanksgiving is a Thursday.
        assert_eq!(shop.opening_hours(day(2026, 11, 26)), None);
        assert_eq!(
            shop.holiday(day(2026, 11, 26)).unwrap().name,
            "Thanksgiving"
        );
        assert_eq!(
            shop.opening_hours(day(2026, 11, 28)),
            Some(OpeningHours {
                open: hm(9, 0),
                close: hm(14, 0)
            })
        );
        assert_eq!(shop.opening_hours(day(2026, 11, 29)), None);
        assert_eq!(shop.opening_hours(day(2026, 12, 25)), None);
        assert_eq!(shop.opening_hours(day(2027, 1, 1)), None);
    }

    #[test]
    fn service_lookup_by_name_or_synonym() {
        let shop = ShopConfig::default_shop();
        assert_eq!(shop.service("Oil Change").unwrap().name, "oil change");
        assert_eq!(shop.service(" lube job ").unwrap().name, "oil change");
        assert_eq!(shop.service("FREON").unwrap().name, "ac service");
        assert_eq!(shop.service("making a noise").unwrap().name, "diagnostic");
        assert!(shop.service("car wash").is_none());
    }

    #[track_caller]
    fn check_error(text: &str, expected: &str) {
        let err = ShopConfig::from_toml_str(text).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn invalid_configs_are_reported() {
        check_error(
            "name = \"x\"\ntimezone = \"Mars/Base\"",
            "shop config field `timezone` is invalid: unknown timezone \"Mars/Base\"",
        );
        check_error(
            "name = \"x\"\n[hours]\nmonday = \"18:00-08:00\"",
            "shop config field `hours.monday` is invalid: \"18:00-08:00\" closes before it opens",
        );
        check_error(
            "name = \"x\"\n[hours]\nmonday = \"nine to five\"",
            "shop config field `hours.monday` is invalid: \"nine to five\" is not \"HH:MM-HH:MM\" or \"closed\"",
        );
        check_error(
            "name = \"x\"\nadvisor_phone = \"555-0100\"",
            "shop config field `advisor_phone` is invalid: \"555-0100\" is not E.164",
        );
        check_error(
            "name = \"x\"\n[[holidays]]\ndate = \"26/11/2026\"\nname = \"T\"",
            "shop config field `holidays[0].date` is invalid: \"26/11/2026\" is not YYYY-MM-DD",
        );
        check_error(
            "name = \"x\"\nbay_capacity = 0",
            "shop config field `bay_capacity` is invalid: must be at least 1",
        );
        check_error(
            "name = \"x\"\n[[services]]\nname = \"a\"\nprice_min_usd = 5\nprice_max_usd = 1\nduration_minutes = 1",
            "shop config field `services[0].price_min_usd` is invalid: must not exceed price_max_usd",
        );
        let err = ShopConfig::from_toml_str("name = ").unwrap_err();
        assert!(matches!(err, ShopConfigError::Toml { .. }), "{err:?}");
        let err = ShopConfig::from_toml_str("name = \"x\"\ncolour = \"red\"").unwrap_err();
        assert!(matches!(err, ShopConfigError::Toml { .. }), "{err:?}");
    }

    #[test]
    fn defaults_apply_when_fields_are_missing() {
        let shop = ShopConfig::from_toml_str("name = \"Tiny Garage\"").unwrap();
        assert_eq!(shop.timezone, chrono_tz::America::New_York);
        assert_eq!(shop.slot_minutes, 30);
        assert_eq!(shop.bay_capacity, 1);
        assert_eq!(shop.hours, WeeklyHours([None; 7]));
    }
}
