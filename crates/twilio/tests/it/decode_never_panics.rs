//! Arbitrary input into the decoders returns a value, never a panic.

use proptest::prelude::*;
use serde_json::{Map, Value};
use twilio::media;

const EVENTS: &[&str] = &[
    "connected",
    "start",
    "media",
    "dtmf",
    "mark",
    "stop",
    "clear",
    "other",
];
const FIELDS: &[&str] = &[
    "sequenceNumber",
    "streamSid",
    "start",
    "media",
    "dtmf",
    "mark",
    "stop",
    "protocol",
    "version",
    "accountSid",
    "callSid",
    "tracks",
    "customParameters",
    "mediaFormat",
    "sampleRate",
    "channels",
    "encoding",
    "track",
    "chunk",
    "timestamp",
    "payload",
    "digit",
    "name",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[0-9]{0,22}".prop_map(Value::String),
        "[A-Za-z0-9+/=_-]{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// An object with a known `event` and arbitrary values under the fields decoders read.
fn message_like() -> impl Strategy<Value = String> {
    (
        prop::sample::select(EVENTS),
        prop::collection::vec((prop::sample::select(FIELDS), any_json()), 0..8),
    )
        .prop_map(|(event, fields)| {
            let mut object: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            object.insert("event".to_owned(), Value::from(event));
            Value::Object(object).to_string()
        })
}

fn check(text: &str) {
    // The assertion is that these return at all; their results are checked elsewhere.
    let _ = media::decode(text);
    let _ = media::decode_outbound(text);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn arbitrary_bytes_as_lossy_text(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_json(value in any_json()) {
        check(&value.to_string());
    }

    #[test]
    fn known_event_with_garbage_fields(text in message_like()) {
        check(&text);
    }

    #[test]
    fn truncated_real_frames(cut in 0usize..400, event_idx in 0usize..3) {
        let frames = [
            r#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"//////////8="},"streamSid":"MZ00000000000000000000000000000001"}"#,
            r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"a":"b"}},"streamSid":"MZ1"}"#,
            r#"{"event":"mark","sequenceNumber":"311","streamSid":"MZ1","mark":{"name":"turn-7-seg-3"}}"#,
        ];
        let frame = frames[event_idx];
        let cut = cut.min(frame.len());
        check(&frame[..cut]);
    }

    #[test]
    fn mark_names_round_trip(name in any::<String>()) {
        let sid = twilio::StreamSid::from_wire("MZ1");
        let mut buf = String::new();
        media::encode_mark_into(&mut buf, &sid, &name);
        let decoded = media::decode_outbound(&buf);
        prop_assert_eq!(decoded, Ok(media::Outbound::Mark { stream_sid: sid, name }));
    }

    #[test]
    fn media_payloads_round_trip(payload in prop::collection::vec(any::<u8>(), 0..400)) {
        let sid = twilio::StreamSid::from_wire("MZ1");
        let mut buf = String::new();
        media::encode_media_into(&mut buf, &sid, &payload);
        let decoded = media::decode_outbound(&buf);
        prop_assert_eq!(decoded, Ok(media::Outbound::Media { stream_sid: sid, payload }));
    }
}
