use super::*;

#[track_caller]
fn check_listen(frame: &str, expected: &str) {
    let actual = match parse_listen(frame) {
        Ok(message) => format!("{message:?}"),
        Err(err) => format!("error: {err}"),
    };
    assert_eq!(actual, expected, "frame: {frame}");
}

#[track_caller]
fn check_speak(frame: &str, expected: &str) {
    let actual = match parse_speak(frame) {
        Ok(message) => format!("{message:?}"),
        Err(err) => format!("error: {err}"),
    };
    assert_eq!(actual, expected, "frame: {frame}");
}

#[test]
fn results_sample_from_protocols_md() {
    check_listen(
        r#"{"type":"Results","channel_index":[0,1],"duration":1.52,"start":3.1,"is_final":true,"speech_final":true,"from_finalize":false,
 "channel":{"alternatives":[{"transcript":"my brakes are squeaking","confidence":0.98,
   "words":[{"word":"my","start":3.12,"end":3.3,"confidence":0.99,"punctuated_word":"My"}]}]},
 "metadata":{"request_id":"9a0f","model_info":{"name":"general-nova-3","version":"2024","arch":"nova-3"},"model_uuid":"u"}}"#,
        r#"Results(Results { start: 3.1, duration: 1.52, is_final: true, speech_final: true, from_finalize: false, channel: ResultsChannel { alternatives: [Alternative { transcript: "my brakes are squeaking", confidence: 0.98 }] } })"#,
    );
}

#[test]
fn results_without_the_optional_booleans_default_to_false() {
    check_listen(
        r#"{"type":"Results","channel_index":[0,1],"duration":0.5,"start":0.0,"channel":{"alternatives":[{"transcript":"","confidence":0.0}]},"metadata":{}}"#,
        r#"Results(Results { start: 0.0, duration: 0.5, is_final: false, speech_final: false, from_finalize: false, channel: ResultsChannel { alternatives: [Alternative { transcript: "", confidence: 0.0 }] } })"#,
    );
}

#[test]
fn speech_started_utterance_end_and_metadata() {
    check_listen(
        r#"{"type":"SpeechStarted","channel":[0,1],"timestamp":9.54}"#,
        "SpeechStarted { timestamp: 9.54 }",
    );
    check_listen(
        r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.395}"#,
        "UtteranceEnd { last_word_end: 2.395 }",
    );
    check_listen(
        r#"{"type":"Metadata","transaction_key":"deprecated","request_id":"r-1","sha256":"x","created":"2024-01-01T00:00:00Z","duration":12.5,"channels":1}"#,
        r#"Metadata { request_id: Some("r-1"), duration: Some(12.5) }"#,
    );
}

#[test]
fn error_frames_unknown_types_and_malformed_json() {
    check_listen(
        r#"{"type":"Error","variant":"DATA-0000","description":"bad audio","message":"m"}"#,
        r#"Error { description: "DATA-0000: bad audio" }"#,
    );
    check_listen(r#"{"type":"Shiny","x":1}"#, r#"Unknown { kind: "Shiny" }"#);
    check_listen(r#"{"no_type":true}"#, r#"Unknown { kind: "" }"#);
    check_listen(
        r#"{"type":"Results","start":"#,
        "error: EOF while parsing a value at line 1 column 26",
    );
    check_listen(
        r#"{"type":"UtteranceEnd","channel":[0,1]}"#,
        "error: missing field `last_word_end`",
    );
}

#[test]
fn speak_server_messages() {
    check_speak(
        r#"{"type":"Metadata","request_id":"r","model_name":"aura-2-thalia-en","model_version":"v","model_uuid":"u"}"#,
        r#"Metadata { request_id: Some("r"), model_name: Some("aura-2-thalia-en") }"#,
    );
    check_speak(
        r#"{"type":"Flushed","sequence_id":0}"#,
        "Flushed { sequence_id: Some(0) }",
    );
    check_speak(
        r#"{"type":"Cleared","sequence_id":1}"#,
        "Cleared { sequence_id: Some(1) }",
    );
    check_speak(
        r#"{"type":"Warning","description":"Flush rate exceeded","code":"W1"}"#,
        r#"Warning { code: "W1", description: "Flush rate exceeded" }"#,
    );
    check_speak(r#"{"type":"Later"}"#, r#"Unknown { kind: "Later" }"#);
    check_speak("not json", "error: expected ident at line 1 column 2");
}

#[test]
fn client_frames_match_protocols_md() {
    assert_eq!(
        speak("Your car will be ready at four."),
        r#"{"type":"Speak","text":"Your car will be ready at four."}"#
    );
    assert_eq!(
        speak(r#"say "hi""#),
        r#"{"type":"Speak","text":"say \"hi\""}"#
    );
    for (frame, kind) in [
        (KEEP_ALIVE, "KeepAlive"),
        (FINALIZE, "Finalize"),
        (CLOSE_STREAM, "CloseStream"),
        (FLUSH, "Flush"),
        (CLEAR, "Clear"),
        (CLOSE, "Close"),
        (FORCE_END_TURN, "ForceEndTurn"),
    ] {
        let value: serde_json::Value = serde_json::from_str(frame).unwrap();
        assert_eq!(value, serde_json::json!({ "type": kind }));
    }
}

fn check_flux(frame: &str, expected: &str) {
    let actual = match parse_flux(frame) {
        Ok(message) => format!("{message:?}"),
        Err(err) => format!("error: {err}"),
    };
    assert_eq!(actual, expected, "frame: {frame}");
}

#[test]
fn flux_messages_as_documented() {
    check_flux(
        r#"{"type":"Connected","request_id":"r-1","sequence_id":0}"#,
        r#"Connected { request_id: Some("r-1") }"#,
    );
    check_flux(
        r#"{"type":"TurnInfo","request_id":"r-1","sequence_id":7,"event":"EagerEndOfTurn","turn_index":2,
            "audio_window_start":1.2,"audio_window_end":2.96,"transcript":"tomorrow at two",
            "words":[{"word":"tomorrow","confidence":0.91}],"end_of_turn_confidence":0.62}"#,
        "TurnInfo(TurnInfo { event: EagerEndOfTurn, turn_index: 2, audio_window_start: 1.2, \
         audio_window_end: 2.96, transcript: \"tomorrow at two\", end_of_turn_confidence: 0.62 })",
    );
    for (name, event) in [
        ("Update", "Update"),
        ("StartOfTurn", "StartOfTurn"),
        ("TurnResumed", "TurnResumed"),
        ("EndOfTurn", "EndOfTurn"),
        ("SomethingNew", "Other"),
    ] {
        let frame = format!(r#"{{"type":"TurnInfo","event":"{name}"}}"#);
        let parsed = parse_flux(&frame).unwrap();
        assert!(
            format!("{parsed:?}").contains(&format!("event: {event},")),
            "{name}"
        );
    }
    check_flux(
        r#"{"type":"Error","sequence_id":3,"code":"INVALID_AUDIO","description":"bad chunk"}"#,
        r#"Error { description: "INVALID_AUDIO: bad chunk" }"#,
    );
    check_flux(
        r#"{"type":"Error","error_code":"E1","error":"other spelling"}"#,
        r#"Error { description: "E1: other spelling" }"#,
    );
    check_flux(
        r#"{"type":"ConfigureFailure","description":"too many keyterms"}"#,
        r#"ConfigureFailure { description: "too many keyterms" }"#,
    );
    check_flux(
        r#"{"type":"ConfigureSuccess","thresholds":{}}"#,
        "ConfigureSuccess",
    );
    check_flux(r#"{"type":"Later"}"#, r#"Unknown { kind: "Later" }"#);
    check_flux(
        r#"{"type":"TurnInfo","event":7}"#,
        "error: invalid type: integer `7`, expected a string",
    );
}
