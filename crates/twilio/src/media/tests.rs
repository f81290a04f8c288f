use expect_test::{Expect, expect};

use super::*;

#[track_caller]
fn check(frame: &str, expected: Expect) {
    expected.assert_eq(&format!("{:?}", decode(frame)));
}

fn sid() -> StreamSid {
    StreamSid::from_wire("MZ00000000000000000000000000000001")
}

#[test]
fn docs_media_example() {
    check(
        r#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"//////////8="},"streamSid":"MZ00000000000000000000000000000001"}"#,
        expect![
            "Ok(Media(Media { sequence_number: 2, track: Inbound, chunk: 1, timestamp_ms: 20, payload_len: 8 }))"
        ],
    );
}

#[test]
fn media_payload_bytes() {
    let Ok(Inbound::Media(media)) = decode(
        r#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"//////////8="}}"#,
    ) else {
        panic!("not a media frame");
    };
    assert_eq!(media.payload, vec![0xff; 8]);
}

#[test]
fn numbers_accepted_as_json_numbers() {
    check(
        r#"{"event":"media","sequenceNumber":2,"media":{"track":"inbound","chunk":1,"timestamp":20,"payload":"AAE="}}"#,
        expect![
            "Ok(Media(Media { sequence_number: 2, track: Inbound, chunk: 1, timestamp_ms: 20, payload_len: 2 }))"
        ],
    );
}

#[test]
fn escaped_slash_in_payload_still_decodes() {
    check(
        r#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"\/\/8="}}"#,
        expect![
            "Ok(Media(Media { sequence_number: 2, track: Inbound, chunk: 1, timestamp_ms: 20, payload_len: 2 }))"
        ],
    );
}

#[test]
fn unpadded_payload_is_tolerated() {
    check(
        r#"{"event":"media","sequenceNumber":"2","media":{"chunk":"1","timestamp":"20","payload":"AAE"}}"#,
        expect![
            "Ok(Media(Media { sequence_number: 2, track: Inbound, chunk: 1, timestamp_ms: 20, payload_len: 2 }))"
        ],
    );
}

#[test]
fn bad_base64() {
    check(
        r#"{"event":"media","sequenceNumber":"2","media":{"chunk":"1","timestamp":"20","payload":"AA*="}}"#,
        expect![[r#"Err(BadBase64 { reason: "Invalid symbol 42, offset 2." })"#]],
    );
}

#[test]
fn bad_numbers() {
    check(
        r#"{"event":"media","sequenceNumber":"two","media":{"chunk":"1","timestamp":"20","payload":""}}"#,
        expect![[r#"Err(BadNumber { field: "sequenceNumber", value: "two" })"#]],
    );
    check(
        r#"{"event":"media","sequenceNumber":"2","media":{"chunk":"1","timestamp":-20,"payload":""}}"#,
        expect![[r#"Err(BadNumber { field: "media.timestamp", value: "-20" })"#]],
    );
    check(
        r#"{"event":"media","sequenceNumber":"2","media":{"chunk":1.5,"timestamp":"20","payload":""}}"#,
        expect![[r#"Err(BadNumber { field: "media.chunk", value: "1.5" })"#]],
    );
    check(
        r#"{"event":"mark","sequenceNumber":"99999999999999999999","mark":{"name":"x"}}"#,
        expect![[r#"Err(BadNumber { field: "sequenceNumber", value: "99999999999999999999" })"#]],
    );
}

#[test]
fn missing_fields() {
    check(
        r#"{"sequenceNumber":"2"}"#,
        expect![[r#"Err(MissingField { event: "message", field: "event" })"#]],
    );
    check(
        r#"{"event":null}"#,
        expect![[r#"Err(MissingField { event: "message", field: "event" })"#]],
    );
    check(
        r#"{"event":"media","sequenceNumber":"2"}"#,
        expect![[r#"Err(MissingField { event: "media", field: "media" })"#]],
    );
    check(
        r#"{"event":"media","sequenceNumber":"2","media":{"chunk":"1","timestamp":"20"}}"#,
        expect![[r#"Err(MissingField { event: "media", field: "media.payload" })"#]],
    );
    check(
        r#"{"event":"mark","sequenceNumber":"3","mark":{}}"#,
        expect![[r#"Err(MissingField { event: "mark", field: "mark.name" })"#]],
    );
    check(
        r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","callSid":"CA1","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#,
        expect![[r#"Err(MissingField { event: "start", field: "start.streamSid" })"#]],
    );
    check(
        r#"{"event":"connected","protocol":"Call"}"#,
        expect![[r#"Err(MissingField { event: "connected", field: "version" })"#]],
    );
}

#[test]
fn not_json_or_wrong_shape() {
    check(
        "",
        expect![[r#"Err(Json { reason: "expected a json object" })"#]],
    );
    check(
        "not json",
        expect![[r#"Err(Json { reason: "expected a json object" })"#]],
    );
    check(
        r#"["media"]"#,
        expect![[r#"Err(Json { reason: "expected a json object" })"#]],
    );
    check(
        r#"{"event":"media""#,
        expect![[r#"Err(Json { reason: "EOF while parsing an object at line 1 column 16" })"#]],
    );
    check(
        r#"{"event":5}"#,
        expect![[
            r#"Err(Json { reason: "invalid type: integer `5`, expected a string at line 1 column 10" })"#
        ]],
    );
    check(
        r#"{"event":"dtmf","sequenceNumber":"5","dtmf":"5"}"#,
        expect![[
            r#"Err(Json { reason: "invalid type: string \"5\", expected struct DtmfBody at line 1 column 47" })"#
        ]],
    );
    check(
        r#"{"event":"connected","protocol":"Call","version":"1.0.0"} x"#,
        expect![[r#"Err(Json { reason: "trailing characters at line 1 column 59" })"#]],
    );
}

#[test]
fn unknown_event_ignores_its_fields() {
    check(
        r#"{"event":"transcription","media":42,"start":[1,2],"sequenceNumber":{}}"#,
        expect![[r#"Ok(Unknown { event: "transcription" })"#]],
    );
}

#[test]
fn start_stream_sid_falls_back_to_top_level_and_sample_rate_may_be_a_string() {
    check(
        r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","callSid":"CAx","tracks":["inbound","outbound","both"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":"8000","channels":1}},"streamSid":"MZ1"}"#,
        expect![[
            r#"Ok(Start(Start { sequence_number: 1, stream_sid: StreamSid("MZ1"), account_sid: AccountSid("AC1"), call_sid: CallSid("CAx"), tracks: [Inbound, Outbound, Other("both")], custom_parameter_names: [], media_format: MediaFormat { encoding: "audio/x-mulaw", sample_rate_hz: 8000, channels: 1 } }))"#
        ]],
    );
}

#[test]
fn channels_out_of_range() {
    check(
        r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":70000}}}"#,
        expect![[r#"Err(BadNumber { field: "start.mediaFormat.channels", value: "70000" })"#]],
    );
}

#[test]
fn outbound_frames_are_exact() {
    let mut buf = String::from("left over from the previous frame");
    encode_media_into(&mut buf, &sid(), &[0xff; 8]);
    assert_eq!(
        buf,
        r#"{"event":"media","streamSid":"MZ00000000000000000000000000000001","media":{"payload":"//////////8="}}"#
    );
    encode_mark_into(&mut buf, &sid(), "turn-7-seg-3");
    assert_eq!(
        buf,
        r#"{"event":"mark","streamSid":"MZ00000000000000000000000000000001","mark":{"name":"turn-7-seg-3"}}"#
    );
    encode_clear_into(&mut buf, &sid());
    assert_eq!(
        buf,
        r#"{"event":"clear","streamSid":"MZ00000000000000000000000000000001"}"#
    );
}

#[test]
fn media_buffer_is_reused_without_growing() {
    let mut buf = String::new();
    encode_media_into(&mut buf, &sid(), &[0x7f; 160]);
    let capacity = buf.capacity();
    let len = buf.len();
    for _ in 0..10 {
        encode_media_into(&mut buf, &sid(), &[0x7f; 160]);
    }
    assert_eq!((buf.len(), buf.capacity()), (len, capacity));
    // 55 bytes of JSON, a 34-character SID, and 216 base64 characters for 160 bytes of audio.
    assert_eq!(len, 55 + 34 + 216);
    assert_eq!(capacity, len, "one exact reservation");
}

#[test]
fn mark_names_are_json_escaped() {
    let name = "quote\" back\\slash \n tab\t nul\u{0} bell\u{7} é 😀";
    let mut buf = String::new();
    encode_mark_into(&mut buf, &sid(), name);
    let value: serde_json::Value = serde_json::from_str(&buf).unwrap();
    assert_eq!(value["mark"]["name"], name);
    assert_eq!(
        decode_outbound(&buf),
        Ok(Outbound::Mark {
            stream_sid: sid(),
            name: name.to_owned()
        })
    );
}

#[test]
fn decode_outbound_rejects_unknown_and_incomplete() {
    let cases = [
        (r#"{"event":"stop","streamSid":"MZ1"}"#, "UnknownEvent"),
        (r#"{"event":"mark","streamSid":"MZ1"}"#, "MissingField"),
        (r#"{"event":"clear"}"#, "MissingField"),
        (
            r#"{"event":"media","streamSid":"MZ1","media":{}}"#,
            "MissingField",
        ),
    ];
    for (frame, expected) in cases {
        let got = format!("{:?}", decode_outbound(frame));
        assert!(
            got.starts_with(&format!("Err({expected}")),
            "{frame}: {got}"
        );
    }
}

#[test]
fn debug_output_never_contains_audio() {
    let media = Outbound::Media {
        stream_sid: sid(),
        payload: vec![1, 2, 3],
    };
    assert_eq!(
        format!("{media:?}"),
        r#"Media { stream_sid: StreamSid("MZ00000000000000000000000000000001"), payload_len: 3 }"#
    );
}

#[test]
fn error_messages_are_readable() {
    let err = decode(r#"{"event":"media","sequenceNumber":"2"}"#).unwrap_err();
    assert_eq!(err.to_string(), "media message has no media");
    let err = decode(r#"{"event":"mark","sequenceNumber":"x","mark":{"name":"a"}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"sequenceNumber is not a valid integer: "x""#
    );
}

#[test]
fn start_debug_hides_parameter_values() {
    let frame = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"session_token":"s3cret","shop_id":"42"}},"streamSid":"MZ1"}"#;
    let Ok(Inbound::Start(start)) = decode(frame) else {
        panic!("not a start message");
    };
    assert_eq!(start.custom_parameters["session_token"], "s3cret");
    let debug = format!("{start:?}");
    assert!(
        debug.contains(r#"custom_parameter_names: ["session_token", "shop_id"]"#),
        "{debug}"
    );
    assert!(!debug.contains("s3cret"), "{debug}");
}

/// What a simulated Twilio writes decodes to what it meant, for every inbound event, and the
/// `start` frame has the shape of the one Twilio's documentation shows.
#[test]
fn inbound_frames_encode_as_twilio_writes_them_and_decode_back() {
    let start = Start {
        sequence_number: 1,
        stream_sid: sid(),
        account_sid: AccountSid::from_wire("AC00000000000000000000000000000001"),
        call_sid: CallSid::from_wire("CA00000000000000000000000000000001"),
        tracks: vec![Track::Inbound],
        custom_parameters: HashMap::from([("From".to_owned(), "+14135550100".to_owned())]),
        media_format: MediaFormat {
            encoding: MediaFormat::MULAW.to_owned(),
            sample_rate_hz: 8000,
            channels: 1,
        },
    };
    let frames = [
        Inbound::Connected {
            protocol: "Call".to_owned(),
            version: "1.0.0".to_owned(),
        },
        Inbound::Start(start.clone()),
        Inbound::Media(Media {
            sequence_number: 2,
            track: Track::Inbound,
            chunk: 1,
            timestamp_ms: 20,
            payload: vec![0xff; 160],
        }),
        Inbound::Dtmf(Dtmf {
            sequence_number: 3,
            track: Track::Inbound,
            digit: "0".to_owned(),
        }),
        Inbound::Mark(Mark {
            sequence_number: 4,
            name: "1:0:320".to_owned(),
        }),
        Inbound::Stop(Stop {
            sequence_number: 5,
            account_sid: start.account_sid.clone(),
            call_sid: start.call_sid.clone(),
        }),
        Inbound::Unknown {
            event: "future".to_owned(),
        },
    ];
    for frame in frames {
        assert_eq!(
            decode(&frame.encode(&sid())),
            Ok(frame.clone()),
            "{frame:?}"
        );
    }
    let wire: serde_json::Value =
        serde_json::from_str(&Inbound::Start(start).encode(&sid())).unwrap();
    expect![[r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC00000000000000000000000000000001","callSid":"CA00000000000000000000000000000001","customParameters":{"From":"+14135550100"},"mediaFormat":{"channels":1,"encoding":"audio/x-mulaw","sampleRate":8000},"streamSid":"MZ00000000000000000000000000000001","tracks":["inbound"]},"streamSid":"MZ00000000000000000000000000000001"}"#]].assert_eq(&wire.to_string());
}
