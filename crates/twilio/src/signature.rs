//! `X-Twilio-Signature` validation (docs/protocols.md section 3).
//!
//! The signature is base64(HMAC-SHA1(auth token, URL + sorted `name` `value` pairs)). Like the
//! official SDKs, validation also accepts the URL with its port removed or with the scheme's
//! default port added, because Twilio is inconsistent about signing the port.
//!
//! Give the URL exactly as Twilio requested it (scheme, host, port, path and query byte for byte),
//! rebuilt from the configured public origin, not from the `Host` header behind a proxy. For the
//! media websocket that is the `wss://` URL from the TwiML.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::auth_token::AuthToken;

/// Why a request's signature was refused. Reject the request with 403 on any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The header is absent or empty.
    #[error("request has no X-Twilio-Signature")]
    Missing,
    /// The header is not base64 of a 20-byte HMAC-SHA1.
    #[error("X-Twilio-Signature is not a base64 HMAC-SHA1")]
    Malformed,
    /// The signature does not match the URL and parameters under any port variant.
    #[error("X-Twilio-Signature does not match")]
    Mismatch,
    /// A JSON-bodied request whose URL has no `bodySHA256` query parameter.
    #[error("json request url has no bodySHA256 parameter")]
    MissingBodyHash,
    /// The body's SHA-256 differs from the URL's `bodySHA256`.
    #[error("request body does not match bodySHA256")]
    BodyHashMismatch,
}

/// Checks Twilio's request signatures with the account's primary Auth Token.
#[derive(Debug, Clone)]
pub struct RequestValidator {
    auth_token: AuthToken,
}

impl RequestValidator {
    /// A validator for `auth_token` (the primary one: a secondary token does not validate).
    pub fn new(auth_token: AuthToken) -> Self {
        Self { auth_token }
    }

    /// A form-encoded webhook (voice webhook, status callbacks): `params` are every decoded form
    /// field, in any order, repeated names allowed.
    pub fn validate_form<K, V>(
        &self,
        url: &str,
        params: &[(K, V)],
        signature: Option<&str>,
    ) -> Result<(), SignatureError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let expected = decode_header(signature)?;
        let params = sorted_params(params);
        let matches = url_variants(url).iter().any(|variant| {
            mac_for(&self.auth_token, variant, &params)
                .verify_slice(&expected)
                .is_ok()
        });
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// A request whose signature covers the URL alone: GET webhooks and the Media Streams
    /// websocket upgrade (pass the `wss://` URL).
    pub fn validate_url(&self, url: &str, signature: Option<&str>) -> Result<(), SignatureError> {
        self.validate_form::<&str, &str>(url, &[], signature)
    }

    /// A JSON-bodied request: the URL carries `bodySHA256`, the signature covers the URL alone,
    /// and the raw `body` bytes must hash to `bodySHA256`.
    pub fn validate_json(
        &self,
        url: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<(), SignatureError> {
        self.validate_url(url, signature)?;
        let expected_hash =
            query_param(url, "bodySHA256").ok_or(SignatureError::MissingBodyHash)?;
        if body_sha256_hex(body).eq_ignore_ascii_case(expected_hash) {
            Ok(())
        } else {
            Err(SignatureError::BodyHashMismatch)
        }
    }
}

/// The signature Twilio would send for `url` and `params`: for tests and fake Twilio clients.
pub fn compute_signature<K, V>(auth_token: &AuthToken, url: &str, params: &[(K, V)]) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let params = sorted_params(params);
    STANDARD.encode(mac_for(auth_token, url, &params).finalize().into_bytes())
}

/// Lowercase hex SHA-256 of a raw body, as used in `bodySHA256`.
pub fn body_sha256_hex(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(body);
    let mut res = String::with_capacity(64);
    for byte in digest {
        res.push(char::from(HEX[usize::from(byte >> 4)]));
        res.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    res
}

fn decode_header(signature: Option<&str>) -> Result<Vec<u8>, SignatureError> {
    let signature = signature.map(str::trim).filter(|s| !s.is_empty());
    let signature = signature.ok_or(SignatureError::Missing)?;
    let decoded = STANDARD
        .decode(signature)
        .map_err(|_| SignatureError::Malformed)?;
    if decoded.len() != 20 {
        return Err(SignatureError::Malformed);
    }
    Ok(decoded)
}

/// Sorted by name, then value, with exact duplicates removed, as twilio-python and twilio-node do.
fn sorted_params<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Vec<(&str, &str)> {
    let mut res: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_ref(), value.as_ref()))
        .collect();
    res.sort_unstable();
    res.dedup();
    res
}

fn mac_for(auth_token: &AuthToken, url: &str, sorted_params: &[(&str, &str)]) -> Hmac<Sha1> {
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted_params {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The URL as given, without its port, and with the scheme's default port added when it has none.
fn url_variants(url: &str) -> Vec<String> {
    let mut res = vec![url.to_owned()];
    if let Some(parts) = split_port(url) {
        let mut push = |candidate: String| {
            if !res.contains(&candidate) {
                res.push(candidate);
            }
        };
        push(format!("{}{}", parts.before_port, parts.after_port));
        if parts.port.is_none()
            && let Some(port) = default_port(parts.scheme)
        {
            push(format!("{}:{port}{}", parts.before_port, parts.after_port));
        }
    }
    res
}

struct UrlParts<'a> {
    scheme: &'a str,
    /// `scheme://userinfo@host`
    before_port: &'a str,
    port: Option<&'a str>,
    /// Path, query and fragment, untouched.
    after_port: &'a str,
}

fn split_port(url: &str) -> Option<UrlParts<'_>> {
    let scheme_end = url.find("://")?;
    let authority_start = scheme_end + 3;
    let authority_len = url[authority_start..]
        .find(['/', '?', '#'])
        .unwrap_or(url.len() - authority_start);
    let authority_end = authority_start + authority_len;
    let authority = &url[authority_start..authority_end];
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    // The port follows the last ':' unless that ':' is inside an IPv6 literal.
    let port_colon = authority
        .rfind(':')
        .filter(|&colon| colon >= host_start && !authority[colon..].contains(']'));
    let (before_port, port) = match port_colon {
        Some(colon) => {
            let port = &authority[colon + 1..];
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&url[..authority_start + colon], Some(port))
        }
        None => (&url[..authority_end], None),
    };
    Some(UrlParts {
        scheme: &url[..scheme_end],
        before_port,
        port,
        after_port: &url[authority_end..],
    })
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => Some(443),
        "http" | "ws" => Some(80),
        _ => None,
    }
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

#[cfg(test)]
mod tests;
