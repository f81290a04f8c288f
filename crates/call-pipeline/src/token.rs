//! The per-call stream token: an HMAC of the call SID with a server secret.
//!
//! The voice webhook (signed by Twilio) puts it in a `<Parameter>`; the media stream must present it
//! in `start.customParameters` before any provider connection is opened. A stream URL alone is not
//! a secret, so this is what stops a stranger from opening streams on our bill.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `<Parameter>` name the token travels under.
pub const STREAM_TOKEN_PARAMETER: &str = "token";

/// Computes the token for `call_sid` (URL-safe base64 of HMAC-SHA256, no padding).
pub fn stream_token(secret: &[u8], call_sid: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(call_sid.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether `token` is the one issued for `call_sid` (constant-time comparison).
pub fn verify_stream_token(secret: &[u8], call_sid: &str, token: &str) -> bool {
    let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(call_sid.as_bytes());
    mac.verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_call_and_secret() {
        let token = stream_token(b"secret", "CA123");
        assert!(verify_stream_token(b"secret", "CA123", &token));
        assert!(!verify_stream_token(b"secret", "CA124", &token));
        assert!(!verify_stream_token(b"other", "CA123", &token));
        assert!(!verify_stream_token(b"secret", "CA123", "not base64 !!"));
        assert!(!verify_stream_token(b"secret", "CA123", ""));
    }
}
