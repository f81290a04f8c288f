use expect_test::{Expect, expect};

use super::*;

#[track_caller]
fn check(response: Response, expected: Expect) {
    expected.assert_eq(&response.to_xml());
}

fn media_stream() -> Stream {
    Stream::new("wss://gateway.example.com/twilio/media").unwrap()
}

#[test]
fn connect_stream_as_in_the_protocol_notes() {
    check(
        Response::new().connect(Connect::new(
            media_stream()
                .status_callback("https://gateway.example.com/twilio/stream-status")
                .status_callback_method(HttpMethod::Post)
                .parameter("shop_id", "42")
                .parameter("session_token", "opaque-per-call-token"),
        )),
        expect![[
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://gateway.example.com/twilio/media" statusCallback="https://gateway.example.com/twilio/stream-status" statusCallbackMethod="POST"><Parameter name="shop_id" value="42"/><Parameter name="session_token" value="opaque-per-call-token"/></Stream></Connect></Response>"#
        ]],
    );
}

#[test]
fn connect_with_action_name_and_no_parameters() {
    check(
        Response::new().connect(
            Connect::new(media_stream().name("call-1"))
                .action("https://gateway.example.com/twilio/connect-done")
                .method(HttpMethod::Get),
        ),
        expect![[
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="https://gateway.example.com/twilio/connect-done" method="GET"><Stream url="wss://gateway.example.com/twilio/media" name="call-1"/></Connect></Response>"#
        ]],
    );
}

#[test]
fn transfer_document_as_in_the_protocol_notes() {
    check(
        Response::new()
            .say(Say::new("Connecting you to a technician."))
            .dial(
                Dial::number("+15552223333")
                    .caller_id("+15550001111")
                    .timeout_secs(20)
                    .action("https://gateway.example.com/twilio/dial-done"),
            ),
        expect![[
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Connecting you to a technician.</Say><Dial callerId="+15550001111" timeout="20" action="https://gateway.example.com/twilio/dial-done"><Number>+15552223333</Number></Dial></Response>"#
        ]],
    );
}

#[test]
fn dial_with_every_attribute() {
    check(
        Response::new().dial(
            Dial::number("+15552223333")
                .caller_id("+15550001111")
                .timeout_secs(25)
                .time_limit_secs(600)
                .action("/twilio/dial-done")
                .method(HttpMethod::Post)
                .answer_on_bridge(true),
        ),
        expect![[
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial callerId="+15550001111" timeout="25" timeLimit="600" action="/twilio/dial-done" method="POST" answerOnBridge="true"><Number>+15552223333</Number></Dial></Response>"#
        ]],
    );
}

#[test]
fn say_with_voice_and_language_then_pause_and_hangup() {
    check(
        Response::new()
            .say(
                Say::new("Sorry, we are closed.")
                    .voice("Polly.Joanna")
                    .language("en-US"),
            )
            .pause(2)
            .hangup(),
        expect![[
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="Polly.Joanna" language="en-US">Sorry, we are closed.</Say><Pause length="2"/><Hangup/></Response>"#
        ]],
    );
}

#[test]
fn empty_response() {
    check(
        Response::new(),
        expect![[r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#]],
    );
}

#[test]
fn text_and_attributes_are_escaped() {
    check(
        Response::new()
            .say(Say::new("Tom & Jerry's <brakes> \"now\"\u{1}\n"))
            .connect(Connect::new(
                media_stream().parameter("q&a", "a\"b'c<d>e&f\tg\nh\u{0}"),
            )),
        expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?><Response><Say>Tom &amp; Jerry's &lt;brakes&gt; "now"
            </Say><Connect><Stream url="wss://gateway.example.com/twilio/media"><Parameter name="q&amp;a" value="a&quot;b&apos;c&lt;d&gt;e&amp;f&#9;g&#10;h"/></Stream></Connect></Response>"#]],
    );
}

#[test]
fn stream_urls_are_checked() {
    let cases: &[(&str, Result<(), TwimlError>)] = &[
        ("wss://gw.example.com/twilio/media", Ok(())),
        ("wss://gw.example.com:8443/media", Ok(())),
        (
            "wss://gw.example.com/media?token=abc",
            Err(TwimlError::StreamUrlQuery),
        ),
        (
            "wss://gw.example.com/media?",
            Err(TwimlError::StreamUrlQuery),
        ),
        (
            "wss://gw.example.com/media#x",
            Err(TwimlError::StreamUrlFragment),
        ),
        (
            "https://gw.example.com/media",
            Err(TwimlError::StreamUrlScheme {
                scheme: "https".to_owned(),
            }),
        ),
        (
            "/twilio/media",
            Err(TwimlError::StreamUrlInvalid {
                reason: "relative URL without a base".to_owned(),
            }),
        ),
    ];
    for (url, expected) in cases {
        assert_eq!(&Stream::new(url).map(|_| ()), expected, "url {url}");
    }
}

#[test]
fn warm_transfer_documents() {
    // The caller's leg joins the room the advisor starts; the advisor's leg hears the summary
    // and accepts with a key, or the document moves on to the redirect.
    check(
        Response::new().dial(
            Dial::conference(
                Conference::named("transfer-CA1")
                    .start_on_enter(true)
                    .end_on_exit(true)
                    .beep(false)
                    .wait_url(""),
            )
            .time_limit_secs(3600),
        ),
        expect![[
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeLimit="3600"><Conference startConferenceOnEnter="true" endConferenceOnExit="true" beep="false" waitUrl="">transfer-CA1</Conference></Dial></Response>"#
        ]],
    );
    check(
        Response::new()
            .gather(
                Gather::digits("https://gw.example.com/twilio/transfer/accept?call=CA1")
                    .num_digits(1)
                    .timeout_secs(6)
                    .say(Say::new("A caller about brakes & rotors."))
                    .say(Say::new("Press 1 to take the call.")),
            )
            .redirect("https://gw.example.com/twilio/transfer/declined?call=CA1&x=<1>"),
        expect![[
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" action="https://gw.example.com/twilio/transfer/accept?call=CA1" numDigits="1" timeout="6"><Say>A caller about brakes &amp; rotors.</Say><Say>Press 1 to take the call.</Say></Gather><Redirect>https://gw.example.com/twilio/transfer/declined?call=CA1&amp;x=&lt;1&gt;</Redirect></Response>"#
        ]],
    );
}
