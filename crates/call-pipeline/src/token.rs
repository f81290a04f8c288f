//! The per-call stream token: what proves that a media stream was announced by a webhook that
//! Twilio signed.
//!
//! The voice webhook (signature-checked) answers TwiML whose `<Stream>` carries the call's
//! parameters (`From`, `To`, `direction`, the outbound call's purpose) and this token, all as
//! `<Parameter>`s, because a stream URL cannot carry a query string. Twilio hands every parameter
//! back in `start.customParameters`. The token is
//!
//! ```text
//! v1.<issued_at unix seconds>.<nonce>.<HMAC-SHA256, URL-safe base64>
//! ```
//!
//! and the HMAC covers, length-prefixed: a domain tag, the call SID, the account SID, the issue
//! time, the nonce and every non-empty parameter sorted by name (the token itself excluded). So a
//! stream cannot change who is calling, the direction or what an outbound call is about, cannot
//! be replayed for another call or account, and expires (`verify_stream_token` takes `now` and
//! the lifetime). Single use is the admission's job (`admission.rs`): it claims the nonce.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `<Parameter>` name the token travels under.
pub const STREAM_TOKEN_PARAMETER: &str = "token";

const VERSION: &str = "v1";
const DOMAIN: &[u8] = b"voice-gateway stream token v1";
/// How far a token's issue time may be ahead of our clock (instances' clocks differ a little).
const MAX_CLOCK_SKEW_SECS: i64 = 30;

/// What a valid token says besides "Twilio announced this stream".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The nonce: unique per issued token, the key of its single-use claim.
    pub nonce: String,
    /// When the webhook issued it.
    pub issued_at: DateTime<Utc>,
}

/// Why a token was refused (each is a metric label and a log reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `token` parameter.
    #[error("missing stream token")]
    Missing,
    /// Not of the `v1.<time>.<nonce>.<mac>` form.
    #[error("malformed stream token")]
    Malformed,
    /// The HMAC does not match: forged, or a parameter, the call or the account differs.
    #[error("stream token does not match the call and its parameters")]
    Forged,
    /// Issued longer ago than the lifetime (or too far in the future).
    #[error("stream token expired")]
    Expired,
}

impl TokenError {
    /// A short snake_case label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing_token",
            Self::Malformed => "malformed_token",
            Self::Forged => "forged_token",
            Self::Expired => "expired_token",
        }
    }
}

/// Issues the token for a stream of `call_sid` on `account_sid` carrying `parameters` (the token
/// parameter itself and empty values are ignored). `nonce` must be unique per token (URL-safe
/// characters: the binary uses a random UUID).
pub fn issue_stream_token<'a>(
    secret: &[u8],
    call_sid: &str,
    account_sid: &str,
    parameters: impl IntoIterator<Item = (&'a str, &'a str)>,
    issued_at: DateTime<Utc>,
    nonce: &str,
) -> String {
    let issued = issued_at.timestamp();
    let tag = mac(secret, call_sid, account_sid, parameters, issued, nonce).finalize();
    format!(
        "{VERSION}.{issued}.{nonce}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.into_bytes())
    )
}

/// Checks the token in `parameters` against the stream's call, account and parameters, and its
/// age against `lifetime` at `now`. Constant-time comparison of the HMAC.
pub fn verify_stream_token(
    secret: &[u8],
    call_sid: &str,
    account_sid: &str,
    parameters: &HashMap<String, String>,
    now: DateTime<Utc>,
    lifetime: std::time::Duration,
) -> Result<TokenClaims, TokenError> {
    let token = parameters
        .get(STREAM_TOKEN_PARAMETER)
        .map(String::as_str)
        .filter(|token| !token.is_empty())
        .ok_or(TokenError::Missing)?;
    let mut parts = token.split('.');
    let (Some(VERSION), Some(issued), Some(nonce), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenError::Malformed);
    };
    let issued: i64 = issued.parse().map_err(|_| TokenError::Malformed)?;
    if nonce.is_empty() || nonce.len() > 64 {
        return Err(TokenError::Malformed);
    }
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| TokenError::Malformed)?;
    let pairs = parameters
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()));
    mac(secret, call_sid, account_sid, pairs, issued, nonce)
        .verify_slice(&tag)
        .map_err(|_| TokenError::Forged)?;
    let age = now.timestamp() - issued;
    let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    if age > lifetime || age < -MAX_CLOCK_SKEW_SECS {
        return Err(TokenError::Expired);
    }
    let issued_at = DateTime::from_timestamp(issued, 0).ok_or(TokenError::Malformed)?;
    Ok(TokenClaims {
        nonce: nonce.to_owned(),
        issued_at,
    })
}

fn mac<'a>(
    secret: &[u8],
    call_sid: &str,
    account_sid: &str,
    parameters: impl IntoIterator<Item = (&'a str, &'a str)>,
    issued: i64,
    nonce: &str,
) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    let mut field = |bytes: &[u8]| {
        mac.update(&u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_be_bytes());
        mac.update(bytes);
    };
    field(DOMAIN);
    field(call_sid.as_bytes());
    field(account_sid.as_bytes());
    field(issued.to_string().as_bytes());
    field(nonce.as_bytes());
    let mut pairs: Vec<(&str, &str)> = parameters
        .into_iter()
        .filter(|(name, value)| *name != STREAM_TOKEN_PARAMETER && !value.is_empty())
        .collect();
    pairs.sort_unstable();
    for (name, value) in pairs {
        field(name.as_bytes());
        field(value.as_bytes());
    }
    mac
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + secs, 0).unwrap()
    }

    fn issued(params: &[(&str, &str)]) -> HashMap<String, String> {
        let token = issue_stream_token(
            SECRET,
            "CA1",
            ACCOUNT,
            params.iter().copied(),
            at(0),
            "nonce-1",
        );
        let mut map: HashMap<String, String> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        map.insert(STREAM_TOKEN_PARAMETER.to_owned(), token);
        map
    }

    fn check(params: &HashMap<String, String>, call: &str, account: &str, now: i64) -> String {
        match verify_stream_token(
            SECRET,
            call,
            account,
            params,
            at(now),
            Duration::from_secs(300),
        ) {
            Ok(claims) => format!(
                "ok {} {}",
                claims.nonce,
                claims.issued_at.timestamp() - at(0).timestamp()
            ),
            Err(err) => err.label().to_owned(),
        }
    }

    #[test]
    fn a_token_verifies_only_for_its_call_account_parameters_and_lifetime() {
        let params = issued(&[
            ("From", "+14135550100"),
            ("To", "+14135550000"),
            ("direction", "inbound"),
            ("empty", ""),
        ]);
        assert_eq!(check(&params, "CA1", ACCOUNT, 10), "ok nonce-1 0");
        assert_eq!(check(&params, "CA1", ACCOUNT, 300), "ok nonce-1 0");
        assert_eq!(check(&params, "CA1", ACCOUNT, 301), "expired_token");
        assert_eq!(check(&params, "CA1", ACCOUNT, -31), "expired_token");
        assert_eq!(check(&params, "CA2", ACCOUNT, 10), "forged_token");
        assert_eq!(check(&params, "CA1", "AC_other", 10), "forged_token");

        // Any parameter changed, added or removed breaks it.
        for (name, value) in [
            ("From", "+14135550101"),
            ("direction", "outbound-api"),
            ("call_type", "outbound_reminder"),
        ] {
            let mut changed = params.clone();
            changed.insert(name.to_owned(), value.to_owned());
            assert_eq!(
                check(&changed, "CA1", ACCOUNT, 10),
                "forged_token",
                "{name}"
            );
        }
        let mut removed = params.clone();
        removed.remove("To");
        assert_eq!(check(&removed, "CA1", ACCOUNT, 10), "forged_token");
        // Empty values are the same as absent ones (whether Twilio passes them on or not).
        let mut emptied = params.clone();
        emptied.remove("empty");
        assert_eq!(check(&emptied, "CA1", ACCOUNT, 10), "ok nonce-1 0");
    }

    #[test]
    fn malformed_and_missing_tokens_are_refused() {
        let mut params = issued(&[("From", "+14135550100")]);
        let good = params[STREAM_TOKEN_PARAMETER].clone();
        for (bad, expect) in [
            ("", "missing_token"),
            ("v1", "malformed_token"),
            ("v2.1.n.AAAA", "malformed_token"),
            ("v1.x.n.AAAA", "malformed_token"),
            ("v1.1..AAAA", "malformed_token"),
            ("v1.1.n.not base64!", "malformed_token"),
            ("v1.1.n.AAAA.extra", "malformed_token"),
            ("v1.1795000000.nonce-1.AAAA", "forged_token"),
        ] {
            params.insert(STREAM_TOKEN_PARAMETER.to_owned(), bad.to_owned());
            assert_eq!(check(&params, "CA1", ACCOUNT, 0), expect, "{bad:?}");
        }
        // Re-signing with the issue time moved forward needs the secret.
        let moved = good.replacen(".1795000000.", ".1795000200.", 1);
        params.insert(STREAM_TOKEN_PARAMETER.to_owned(), moved);
        assert_eq!(check(&params, "CA1", ACCOUNT, 400), "forged_token");
        params.remove(STREAM_TOKEN_PARAMETER);
        assert_eq!(check(&params, "CA1", ACCOUNT, 0), "missing_token");
    }
}
