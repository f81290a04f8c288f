use bytes::Bytes;
use expect_test::{Expect, expect};
use serde_json::json;

use super::*;
use crate::config::{TextBuffering, VoiceSettings};

#[track_caller]
fn check(frame: &str, expect: Expect) {
    let res = match parse_server_message(frame) {
        Ok(message) => format!("{message:?}"),
        Err(e) => format!("error: {e}"),
    };
    expect.assert_eq(&res);
}

#[test]
fn audio_with_camel_case_alignment() {
    check(
        r#"{"audio":"AAEC","normalizedAlignment":{"charStartTimesMs":[0,3,7],"charDurationsMs":[3,4,2],"chars":["H","e","y"]},"alignment":{"charStartTimesMs":[0,3,7],"charDurationsMs":[3,4,2],"chars":["H","e","y"]},"contextId":"ctx-1"}"#,
        expect![[
            r#"Output(Output { context_id: Some("ctx-1"), audio: Some(b"\0\x01\x02"), alignment: Some(Alignment { chars: ["H", "e", "y"], char_start_times_ms: [0, 3, 7], char_durations_ms: [3, 4, 2] }), is_final: false })"#
        ]],
    );
}

#[test]
fn audio_with_spec_spelling_of_durations() {
    check(
        r#"{"audio":"AAEC","alignment":{"charStartTimesMs":[0],"charsDurationsMs":[5],"chars":["é"]},"context_id":"c"}"#,
        expect![[
            r#"Output(Output { context_id: Some("c"), audio: Some(b"\0\x01\x02"), alignment: Some(Alignment { chars: ["é"], char_start_times_ms: [0], char_durations_ms: [5] }), is_final: false })"#
        ]],
    );
}

#[test]
fn audio_with_null_final_and_null_alignment() {
    check(
        r#"{"audio":"AAEC","isFinal":null,"normalizedAlignment":null,"alignment":null}"#,
        expect![[
            r#"Output(Output { context_id: None, audio: Some(b"\0\x01\x02"), alignment: None, is_final: false })"#
        ]],
    );
}

#[test]
fn final_camel_case() {
    check(
        r#"{"isFinal":true,"contextId":"ctx-2"}"#,
        expect![[
            r#"Output(Output { context_id: Some("ctx-2"), audio: None, alignment: None, is_final: true })"#
        ]],
    );
}

#[test]
fn final_snake_case_with_null_audio() {
    check(
        r#"{"is_final":true,"audio":null,"contextId":"ctx-2"}"#,
        expect![[
            r#"Output(Output { context_id: Some("ctx-2"), audio: None, alignment: None, is_final: true })"#
        ]],
    );
}

#[test]
fn final_under_both_spellings_at_once() {
    check(
        r#"{"isFinal":true,"is_final":true,"contextId":"x"}"#,
        expect![[
            r#"Output(Output { context_id: Some("x"), audio: None, alignment: None, is_final: true })"#
        ]],
    );
}

#[test]
fn empty_audio_and_no_final_is_unknown() {
    check(
        r#"{"audio":"","isFinal":false,"contextId":"x"}"#,
        expect![[r#"Unknown { keys: ["audio", "contextId", "isFinal"] }"#]],
    );
}

#[test]
fn unknown_message_type() {
    check(
        r#"{"type":"Metadata","request_id":"r1"}"#,
        expect![[r#"Unknown { keys: ["request_id", "type"] }"#]],
    );
}

#[test]
fn vendor_error() {
    check(
        r#"{"message":"Have not received a new text input within the timeout of 20.0 seconds.","error":"input_timeout_exceeded","code":1008}"#,
        expect![[
            r#"Error(VendorError { error: "input_timeout_exceeded", message: Some("Have not received a new text input within the timeout of 20.0 seconds."), code: Some(1008), context_id: None })"#
        ]],
    );
}

#[test]
fn vendor_error_with_string_code_and_context() {
    check(
        r#"{"error":"max_active_conversations","code":"1008","contextId":"ctx-6"}"#,
        expect![[
            r#"Error(VendorError { error: "max_active_conversations", message: None, code: Some(1008), context_id: Some("ctx-6") })"#
        ]],
    );
}

#[test]
fn malformed_frames() {
    check(
        "{not json",
        expect![
            "error: malformed server message: not JSON: key must be a string at line 1 column 2"
        ],
    );
    check(
        "[1,2]",
        expect!["error: malformed server message: not a JSON object"],
    );
    check(
        r#"{"audio":"***"}"#,
        expect![
            "error: malformed server message: audio is not base64: Invalid symbol 42, offset 0."
        ],
    );
    check(
        r#"{"audio":12}"#,
        expect!["error: malformed server message: audio is not a string"],
    );
    check(
        r#"{"audio":"AAEC","alignment":{"chars":[1]}}"#,
        expect!["error: malformed server message: alignment chars are not strings"],
    );
    check(
        r#"{"audio":"AAEC","alignment":{"chars":["a"],"charStartTimesMs":"0"}}"#,
        expect!["error: malformed server message: alignment charStartTimesMs is not numbers"],
    );
}

#[test]
fn client_messages() {
    let settings = VoiceSettings::default();
    let schedule = TextBuffering::Schedule {
        chunk_length_schedule: vec![120, 160, 250, 290],
        try_trigger_generation: false,
    };
    let messages = [
        ClientMessage::init("ctx-1", &settings, &TextBuffering::Auto),
        ClientMessage::init("ctx-1", &settings, &schedule),
        ClientMessage::text("ctx-1", "Hello. ", false),
        ClientMessage::text("ctx-1", "Hello. ", true),
        ClientMessage::flush("ctx-1"),
        ClientMessage::close_context("ctx-1"),
        ClientMessage::keep_alive("ctx-1"),
        ClientMessage::close_socket(),
    ];
    let res: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| serde_json::from_str(&m.to_json()).unwrap())
        .collect();
    assert_eq!(
        res,
        [
            json!({"text":" ","voice_settings":{"stability":0.5,"similarity_boost":0.75,"speed":1.0},"context_id":"ctx-1"}),
            json!({"text":" ","voice_settings":{"stability":0.5,"similarity_boost":0.75,"speed":1.0},"generation_config":{"chunk_length_schedule":[120,160,250,290]},"context_id":"ctx-1"}),
            json!({"text":"Hello. ","context_id":"ctx-1"}),
            json!({"text":"Hello. ","try_trigger_generation":true,"context_id":"ctx-1"}),
            json!({"text":"","flush":true,"context_id":"ctx-1"}),
            json!({"close_context":true,"context_id":"ctx-1"}),
            json!({"text":"","context_id":"ctx-1"}),
            json!({"close_socket":true}),
        ]
    );
}

#[test]
fn alignment_counts_and_end() {
    let alignment = Alignment {
        chars: vec!["H".into(), "é".into(), " ".into()],
        char_start_times_ms: vec![0, 40, 90],
        char_durations_ms: vec![40, 50, 20],
    };
    assert_eq!((alignment.n_chars(), alignment.end_ms()), (3, Some(110)));
    assert_eq!(Alignment::default().end_ms(), None);
}

#[test]
fn wav_header_is_stripped() {
    #[track_caller]
    fn check_strip(audio: &[u8], expect: Expect) {
        let (rest, stripped) = strip_wav_header(Bytes::copy_from_slice(audio));
        expect.assert_eq(&format!("{stripped} {:?}", rest.as_ref()));
    }
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF\x2a\0\0\0WAVE");
    wav.extend_from_slice(b"fmt \x03\0\0\0abc\0"); // odd size: one pad byte
    wav.extend_from_slice(b"data\x02\0\0\0\x7f\xff");
    check_strip(&wav, expect!["true [127, 255]"]);
    check_strip(
        b"\x7f\xff\x00RIFF",
        expect!["false [127, 255, 0, 82, 73, 70, 70]"],
    );
    check_strip(b"RIFF\x04\0\0\0WAVEfmt \x10\0\0\0", expect!["true []"]);
    check_strip(b"RIFF", expect!["false [82, 73, 70, 70]"]);
}
