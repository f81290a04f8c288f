//! The account's Auth Token, kept out of `Debug` output and logs.

use std::fmt;

/// Twilio Auth Token (or API key secret): signs webhooks and authenticates REST calls.
///
/// `Debug` prints `AuthToken(<redacted>)` and there is no `Display`, so the value cannot reach a log
/// line by accident. Read it with [`AuthToken::expose`] only where it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(String);

impl AuthToken {
    /// Wraps the secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: pass it to HMAC or basic auth, never to a formatter.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl From<String> for AuthToken {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for AuthToken {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let token = AuthToken::new("s3cr3t-token");
        assert_eq!(format!("{token:?}"), "AuthToken(<redacted>)");
        assert_eq!(format!("{token:#?}"), "AuthToken(<redacted>)");
        assert_eq!(token.expose(), "s3cr3t-token");
    }
}
