//! Walks `fixtures/twilio/`: every `inbound-*.json` is decoded and compared with the
//! `.decoded.txt` file next to it, then re-encoded and decoded again; every `outbound-*.json`
//! is the exact frame our encoder must produce. Run with `UPDATE_EXPECT=1` to rewrite the
//! expected files, then read the diff.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use twilio::StreamSid;
use twilio::media::{self, Inbound, Outbound};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/twilio")
}

fn fixture_paths(prefix: &str) -> Vec<PathBuf> {
    let mut res: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            name.starts_with(prefix) && name.ends_with(".json")
        })
        .collect();
    res.sort();
    res
}

fn stream_sid() -> StreamSid {
    StreamSid::from_wire("MZ5c1e9a7d3b2f40618c7e5d4a3b2c1d0e")
}

/// `Debug`, except that custom parameters are sorted so the output is stable.
fn render(message: &Inbound) -> String {
    let mut res = String::new();
    match message {
        Inbound::Start(start) => {
            // `Debug` hides parameter values; the fixture checks them too.
            let sorted: BTreeMap<_, _> = start.custom_parameters.iter().collect();
            writeln!(res, "{message:#?}").unwrap();
            writeln!(res, "custom_parameters: {sorted:#?}").unwrap();
        }
        Inbound::Media(media) => {
            writeln!(res, "{media:#?}").unwrap();
            writeln!(res, "payload (hex): {}", hex(&media.payload)).unwrap();
        }
        other => writeln!(res, "{other:#?}").unwrap(),
    }
    res
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[track_caller]
fn assert_file(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{}: {err} (run with UPDATE_EXPECT=1)", path.display()));
    assert_eq!(
        expected,
        actual,
        "{} differs (UPDATE_EXPECT=1 rewrites it)",
        path.display()
    );
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn inbound_fixtures_decode_and_round_trip() {
    let paths = fixture_paths("inbound-");
    assert_eq!(paths.len(), 8, "one fixture per message shape");
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let message =
            media::decode(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        assert_file(&path.with_extension("decoded.txt"), &render(&message));

        let encoded = message.encode(&stream_sid());
        assert_eq!(
            media::decode(&encoded).as_ref(),
            Ok(&message),
            "{}",
            path.display()
        );
        let name = path.file_name().unwrap().to_str().unwrap();
        match name {
            // Unknown events keep only their name; a start without customParameters is
            // re-encoded with an empty object.
            "inbound-unknown-event.json" | "inbound-start-without-custom-parameters.json" => {}
            _ => assert_eq!(
                json(&encoded),
                json(&text),
                "{name}: re-encoded json differs"
            ),
        }
    }
}

#[test]
fn start_without_custom_parameters_has_an_empty_map() {
    let text = std::fs::read_to_string(
        fixtures_dir().join("inbound-start-without-custom-parameters.json"),
    )
    .unwrap();
    let Ok(Inbound::Start(start)) = media::decode(&text) else {
        panic!("not a start message");
    };
    assert!(start.custom_parameters.is_empty());
    assert!(start.media_format.is_mulaw_8khz_mono());
}

#[test]
fn inbound_media_fixture_is_one_20ms_frame() {
    let text = std::fs::read_to_string(fixtures_dir().join("inbound-media.json")).unwrap();
    let Ok(Inbound::Media(frame)) = media::decode(&text) else {
        panic!("not a media message");
    };
    assert_eq!(frame.payload.len(), 160);
}

#[test]
fn outbound_fixtures_are_what_we_encode() {
    let media_text = std::fs::read_to_string(fixtures_dir().join("inbound-media.json")).unwrap();
    let Ok(Inbound::Media(inbound_media)) = media::decode(&media_text) else {
        panic!("not a media message");
    };
    let cases = [
        (
            "outbound-media.json",
            Outbound::Media {
                stream_sid: stream_sid(),
                payload: inbound_media.payload.clone(),
            },
        ),
        (
            "outbound-mark.json",
            Outbound::Mark {
                stream_sid: stream_sid(),
                name: "turn-7-seg-3".to_owned(),
            },
        ),
        (
            "outbound-clear.json",
            Outbound::Clear {
                stream_sid: stream_sid(),
            },
        ),
    ];
    assert_eq!(fixture_paths("outbound-").len(), cases.len());
    let mut buf = String::new();
    for (name, message) in cases {
        let expected = std::fs::read_to_string(fixtures_dir().join(name)).unwrap();
        let expected = expected.trim_end();
        assert_eq!(message.encode(), expected, "{name}");
        message.encode_into(&mut buf);
        assert_eq!(buf, expected, "{name} via encode_into");
        assert_eq!(
            media::decode_outbound(expected),
            Ok(message),
            "{name} decoded back"
        );
    }
    media::encode_media_into(&mut buf, &stream_sid(), &inbound_media.payload);
    assert_eq!(
        buf,
        std::fs::read_to_string(fixtures_dir().join("outbound-media.json"))
            .unwrap()
            .trim_end()
    );
}
