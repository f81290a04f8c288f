//! Every vector from docs/protocols.md section 3.5.

use super::*;

type Params = Vec<(&'static str, &'static str)>;

const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const JSON_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
const JSON_BODY: &str = r#"{"property": "value", "boolean": true}"#;

fn token() -> AuthToken {
    AuthToken::new("12345")
}

fn validator() -> RequestValidator {
    RequestValidator::new(token())
}

fn sdk_params() -> Params {
    vec![
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
}

fn multi_valued_params() -> Params {
    vec![
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
}

fn docs_params() -> Params {
    vec![
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
}

#[test]
fn computed_signatures_match_every_vector() {
    let cases: &[(&str, Params, &str)] = &[
        (URL, sdk_params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        (
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            sdk_params(),
            "kvajT1Ptam85bY51eRf/AJRuM3w=",
        ),
        (
            "http://mycompany.com:80/myapp.php?foo=1&bar=2",
            sdk_params(),
            "0ZXoZLH/DfblKGATFgpif+LLRf4=",
        ),
        (
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            sdk_params(),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
        ),
        (
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            sdk_params(),
            "OyGYPqTF6ztdbRNCvuQO/oPvqQ4=",
        ),
        (URL, multi_valued_params(), "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
        (JSON_URL, vec![], "a9nBmqA0ju/hNViExpshrM61xv4="),
        (URL, docs_params(), "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        (
            "wss://example.com/media",
            vec![],
            "7PR3qMkpDyEJtMrVOY/LDyNq8J8=",
        ),
        (URL, vec![], "zYQTYrRWXE7LtzbG4PfP7/bkkGo="),
    ];
    for (url, params, expected) in cases {
        assert_eq!(
            &compute_signature(&token(), url, params),
            expected,
            "{url} {params:?}"
        );
    }
}

#[test]
fn params_order_does_not_matter() {
    let mut reversed = sdk_params();
    reversed.reverse();
    assert_eq!(
        compute_signature(&token(), URL, &reversed),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
}

#[track_caller]
fn check_form(
    url: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
    expected: Result<(), SignatureError>,
) {
    assert_eq!(
        validator().validate_form(url, params, signature),
        expected,
        "{url} {signature:?}"
    );
}

#[test]
fn form_webhooks_validate_with_sdk_port_tolerance() {
    let ok = Ok(());
    let params = sdk_params();
    // Row 1: as signed.
    check_form(URL, &params, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="), ok);
    // Row 2: Twilio signed the URL with :443; we see it without a port, and the other way round.
    check_form(URL, &params, Some("kvajT1Ptam85bY51eRf/AJRuM3w="), ok);
    check_form(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        &params,
        Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        ok,
    );
    check_form(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        &params,
        Some("kvajT1Ptam85bY51eRf/AJRuM3w="),
        ok,
    );
    // Row 3: http with :80.
    check_form(
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &params,
        Some("0ZXoZLH/DfblKGATFgpif+LLRf4="),
        ok,
    );
    check_form(
        "http://mycompany.com:80/myapp.php?foo=1&bar=2",
        &params,
        Some("0ZXoZLH/DfblKGATFgpif+LLRf4="),
        ok,
    );
    // Row 4: a non-default port, signed with it; also accepted as if signed without it.
    check_form(
        "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
        &params,
        Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        ok,
    );
    check_form(
        "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
        &params,
        Some("OyGYPqTF6ztdbRNCvuQO/oPvqQ4="),
        ok,
    );
    // A non-default port is never invented.
    check_form(
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &params,
        Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        Err(SignatureError::Mismatch),
    );
    // Row 5: multi-valued parameters.
    check_form(
        URL,
        &multi_valued_params(),
        Some("IK+Dwps556ElfBT0I3Rgjkr1wJU="),
        ok,
    );
    // Twilio's docs example.
    check_form(
        URL,
        &docs_params(),
        Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        ok,
    );
}

#[test]
fn form_webhooks_reject_tampering_and_bad_headers() {
    let params = sdk_params();
    let mut changed = sdk_params();
    changed[2] = ("Digits", "1235");
    let mut extra = sdk_params();
    extra.push(("CallStatus", "ringing"));
    let good = Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    check_form(URL, &changed, good, Err(SignatureError::Mismatch));
    check_form(URL, &extra, good, Err(SignatureError::Mismatch));
    check_form(
        &format!("{URL}&baz=3"),
        &params,
        good,
        Err(SignatureError::Mismatch),
    );
    check_form(
        "https://evil.example/myapp.php?foo=1&bar=2",
        &params,
        good,
        Err(SignatureError::Mismatch),
    );
    check_form(
        URL,
        &params,
        Some("RSOYDt4T1cUTdK1PDd93/VVr8B8"),
        Err(SignatureError::Malformed),
    );
    check_form(
        URL,
        &params,
        Some("not base64!"),
        Err(SignatureError::Malformed),
    );
    check_form(URL, &params, Some("AAAA"), Err(SignatureError::Malformed));
    check_form(URL, &params, Some("  "), Err(SignatureError::Missing));
    check_form(URL, &params, None, Err(SignatureError::Missing));
    assert_eq!(
        RequestValidator::new(AuthToken::new("54321")).validate_form(URL, &params, good),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn get_webhook_and_websocket_upgrade() {
    let validator = validator();
    assert_eq!(
        validator.validate_url(URL, Some("zYQTYrRWXE7LtzbG4PfP7/bkkGo=")),
        Ok(())
    );
    let wss = Some("7PR3qMkpDyEJtMrVOY/LDyNq8J8=");
    assert_eq!(
        validator.validate_url("wss://example.com/media", wss),
        Ok(())
    );
    // Unverified whether Twilio ever signs a port on wss URLs; accept both like the SDKs.
    assert_eq!(
        validator.validate_url("wss://example.com:443/media", wss),
        Ok(())
    );
    // What a server behind a TLS terminator sees is not what Twilio signed.
    assert_eq!(
        validator.validate_url("https://example.com/media", wss),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        validator.validate_form("wss://example.com/media", &[("a", "b")], wss),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn json_bodies() {
    let validator = validator();
    let signature = Some("a9nBmqA0ju/hNViExpshrM61xv4=");
    assert_eq!(
        body_sha256_hex(JSON_BODY.as_bytes()),
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    );
    assert_eq!(
        validator.validate_json(JSON_URL, JSON_BODY.as_bytes(), signature),
        Ok(())
    );
    // Re-serialised JSON is a different body.
    assert_eq!(
        validator.validate_json(
            JSON_URL,
            br#"{"property":"value","boolean":true}"#,
            signature
        ),
        Err(SignatureError::BodyHashMismatch)
    );
    assert_eq!(
        validator.validate_json(
            URL,
            JSON_BODY.as_bytes(),
            Some("zYQTYrRWXE7LtzbG4PfP7/bkkGo=")
        ),
        Err(SignatureError::MissingBodyHash)
    );
    assert_eq!(
        validator.validate_json(
            JSON_URL,
            JSON_BODY.as_bytes(),
            Some("zYQTYrRWXE7LtzbG4PfP7/bkkGo=")
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn url_variants_cover_port_forms() {
    let cases: &[(&str, &[&str])] = &[
        (
            "https://a.com/p?q=1",
            &["https://a.com/p?q=1", "https://a.com:443/p?q=1"],
        ),
        (
            "https://a.com:443/p",
            &["https://a.com:443/p", "https://a.com/p"],
        ),
        ("http://a.com:8080", &["http://a.com:8080", "http://a.com"]),
        (
            "wss://u:pw@a.com/m",
            &["wss://u:pw@a.com/m", "wss://u:pw@a.com:443/m"],
        ),
        (
            "https://[::1]:8443/x",
            &["https://[::1]:8443/x", "https://[::1]/x"],
        ),
        (
            "https://[::1]/x",
            &["https://[::1]/x", "https://[::1]:443/x"],
        ),
        ("ftp://a.com/x", &["ftp://a.com/x"]),
        ("https://a.com:x/p", &["https://a.com:x/p"]),
        ("no scheme", &["no scheme"]),
        ("", &[""]),
    ];
    for (url, expected) in cases {
        assert_eq!(&url_variants(url), expected, "{url}");
    }
}
