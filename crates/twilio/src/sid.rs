//! Twilio resource identifiers: `CallSid`, `StreamSid`, `AccountSid`.
//!
//! A SID is two uppercase letters naming the resource type followed by 32 hex digits
//! (34 characters in all). [`CallSid::parse`] and friends check the prefix and character set for values we
//! create or read from config. Values that arrive from Twilio are accepted as they are (serde is
//! transparent): a call must never be dropped because a SID looks unusual.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string was refused as a SID by a `parse` constructor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidError {
    /// The string does not start with the prefix of this resource type (`CA`, `MZ`, `AC`).
    #[error("{kind} must start with {expected_prefix:?}")]
    WrongPrefix {
        /// Type name, e.g. `CallSid`.
        kind: &'static str,
        /// The prefix that was expected.
        expected_prefix: &'static str,
    },
    /// Nothing follows the prefix, or something other than ASCII letters and digits does.
    #[error("{kind} must be the prefix followed by ASCII letters or digits")]
    BadCharacters {
        /// Type name, e.g. `CallSid`.
        kind: &'static str,
    },
}

macro_rules! sid_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The two-letter prefix Twilio documents for this resource type.
            pub const PREFIX: &'static str = $prefix;

            /// Checks the prefix and character set; the length is not checked.
            pub fn parse(value: &str) -> Result<Self, SidError> {
                validate(value, stringify!($name), $prefix)?;
                Ok(Self(value.to_owned()))
            }

            /// Wraps a value received from Twilio without any check.
            ///
            /// Decoders use this: an odd-looking SID must not end a call.
            pub fn from_wire(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The SID as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the value has the documented shape: prefix plus 32 hex digits.
            pub fn is_canonical(&self) -> bool {
                is_canonical(&self.0, $prefix)
            }

            /// Unwraps the string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = SidError;

            fn from_str(value: &str) -> Result<Self, SidError> {
                Self::parse(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

sid_type!(
    /// Identifies one phone call (`CA…`). Redirecting or hanging up a call uses it.
    CallSid,
    "CA"
);
sid_type!(
    /// Identifies one Media Streams websocket (`MZ…`); every outbound message must carry it.
    StreamSid,
    "MZ"
);
sid_type!(
    /// Identifies a Twilio account (`AC…`); the REST API puts it in every path.
    AccountSid,
    "AC"
);

fn validate(value: &str, kind: &'static str, prefix: &'static str) -> Result<(), SidError> {
    let Some(rest) = value.strip_prefix(prefix) else {
        return Err(SidError::WrongPrefix {
            kind,
            expected_prefix: prefix,
        });
    };
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SidError::BadCharacters { kind });
    }
    Ok(())
}

fn is_canonical(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_documented_prefixes_and_rejects_others() {
        let cases: &[(&str, Result<(), SidError>)] = &[
            ("CA00000000000000000000000000000001", Ok(())),
            ("CA1234567890ABCDE", Ok(())),
            (
                "MZ00000000000000000000000000000001",
                Err(SidError::WrongPrefix {
                    kind: "CallSid",
                    expected_prefix: "CA",
                }),
            ),
            (
                "ca00000000000000000000000000000001",
                Err(SidError::WrongPrefix {
                    kind: "CallSid",
                    expected_prefix: "CA",
                }),
            ),
            ("CA", Err(SidError::BadCharacters { kind: "CallSid" })),
            (
                "CA12/../34",
                Err(SidError::BadCharacters { kind: "CallSid" }),
            ),
            ("CA12 34", Err(SidError::BadCharacters { kind: "CallSid" })),
        ];
        for (input, expected) in cases {
            let got = CallSid::parse(input).map(|_| ());
            assert_eq!(&got, expected, "input {input:?}");
        }
        assert!(StreamSid::parse("MZ00000000000000000000000000000001").is_ok());
        assert!(AccountSid::parse("AC00000000000000000000000000000001").is_ok());
        assert!(AccountSid::parse("CA00000000000000000000000000000001").is_err());
    }

    #[test]
    fn wire_values_are_kept_verbatim_even_when_odd() {
        let sid: CallSid = serde_json::from_str("\"CAshort\"").unwrap();
        assert_eq!(sid.as_str(), "CAshort");
        assert!(!sid.is_canonical());
        assert_eq!(serde_json::to_string(&sid).unwrap(), "\"CAshort\"");
        let canonical = CallSid::from_wire("CA0123456789abcdef0123456789ABCDEF");
        assert!(canonical.is_canonical());
        assert_eq!(canonical.to_string(), "CA0123456789abcdef0123456789ABCDEF");
        assert_eq!(
            format!("{canonical:?}"),
            "CallSid(\"CA0123456789abcdef0123456789ABCDEF\")"
        );
    }
}
