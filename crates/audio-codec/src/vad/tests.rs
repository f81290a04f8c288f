use std::f64::consts::PI;
use std::fmt::Write as _;

use expect_test::{Expect, expect};

use super::*;
use crate::mulaw::{FRAME_BYTES, MULAW_SILENCE, SAMPLE_RATE_HZ, encode_mulaw};

/// One 20 ms frame of a 1 kHz sine whose RMS is `level_dbfs`, starting at sample `offset`.
fn tone_frame(level_dbfs: f64, offset: usize) -> Vec<i16> {
    let amplitude = FULL_SCALE * 2.0_f64.sqrt() * 10.0_f64.powf(level_dbfs / 20.0);
    (offset..offset + FRAME_BYTES)
        .map(|idx| {
            let phase = 2.0 * PI * 1000.0 * idx as f64 / f64::from(SAMPLE_RATE_HZ);
            (amplitude * phase.sin()).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// Runs a script of μ-law frames through a default `EnergyVad` and logs its events.
///
/// The script is whitespace-separated `<frame>*<count>` items (`*<count>` optional), where a
/// frame is `quiet` (μ-law silence), `click` (one full-scale sample, rest silence) or a 1 kHz
/// tone at a level in dBFS such as `-20`.
#[track_caller]
fn check(script: &str, expect: Expect) {
    let mut vad = EnergyVad::new(EnergyVadConfig::default()).unwrap();
    let mut log = String::new();
    let mut frame_idx = 0;
    for item in script.split_whitespace() {
        let (frame, n_frames) = match item.split_once('*') {
            Some((frame, count)) => (frame, count.parse::<usize>().unwrap()),
            None => (item, 1),
        };
        for _ in 0..n_frames {
            let mulaw = match frame {
                "quiet" => vec![MULAW_SILENCE; FRAME_BYTES],
                "click" => {
                    let mut bytes = vec![MULAW_SILENCE; FRAME_BYTES];
                    bytes[0] = 0x80;
                    bytes
                }
                level => {
                    let mut bytes = Vec::new();
                    let pcm = tone_frame(level.parse().unwrap(), frame_idx * FRAME_BYTES);
                    encode_mulaw(&pcm, &mut bytes);
                    bytes
                }
            };
            if let Some(event) = vad.push_mulaw(&mulaw) {
                writeln!(log, "{frame_idx}: {event:?}").unwrap();
            }
            frame_idx += 1;
        }
    }
    expect.assert_eq(&log);
}

#[test]
fn silence_never_triggers() {
    check("quiet*200", expect![[""]]);
}

#[test]
fn speech_starts_on_the_third_loud_frame() {
    check(
        "quiet*5 -20*10",
        expect![[r#"
            7: SpeechStart
        "#]],
    );
}

#[test]
fn speech_ends_after_the_hangover() {
    check(
        "-20*3 quiet*20",
        expect![[r#"
            2: SpeechStart
            8: Pause
            17: SpeechEnd
        "#]],
    );
}

#[test]
fn short_clicks_do_not_trigger() {
    check(
        "quiet*3 click quiet*3 click*2 quiet -10*2 quiet*10",
        expect![[""]],
    );
}

#[test]
fn loud_run_must_be_consecutive() {
    check(
        "-20*2 quiet -20*2 quiet -20*3",
        expect![[r#"
            8: SpeechStart
        "#]],
    );
}

#[test]
fn levels_between_the_thresholds_keep_the_current_state() {
    // -40 dBFS is below the start threshold (-35) and above the stop threshold (-45):
    // it neither starts speech from silence nor ends it once started.
    check(
        "-40*30 -25*3 -40*30 quiet*15",
        expect![[r#"
            32: SpeechStart
            68: Pause
            77: SpeechEnd
        "#]],
    );
}

#[test]
fn a_short_pause_inside_speech_does_not_end_it() {
    check(
        "-20*3 quiet*14 -20 quiet*15",
        expect![[r#"
            2: SpeechStart
            8: Pause
            23: Pause
            32: SpeechEnd
        "#]],
    );
}

#[test]
fn pcm_and_mulaw_levels_agree() {
    for level_dbfs in [-50.0, -35.0, -20.0, -6.0] {
        let pcm = tone_frame(level_dbfs, 0);
        let mut mulaw = Vec::new();
        encode_mulaw(&pcm, &mut mulaw);
        let from_pcm = f64::from(dbfs_pcm16(&pcm));
        let from_mulaw = f64::from(dbfs_mulaw(&mulaw));
        assert!(
            (from_pcm - level_dbfs).abs() < 0.1,
            "{level_dbfs}: pcm {from_pcm}"
        );
        assert!(
            (from_mulaw - level_dbfs).abs() < 0.3,
            "{level_dbfs}: mulaw {from_mulaw}"
        );
    }
}

#[test]
fn energy_of_known_signals() {
    assert_eq!(rms_pcm16(&[]), 0.0);
    assert_eq!(rms_pcm16(&[3, -4, 3, -4]), 12.5_f32.sqrt());
    assert_eq!(dbfs_pcm16(&[0; 160]), MIN_DBFS);
    assert_eq!(dbfs_mulaw(&[MULAW_SILENCE; 160]), MIN_DBFS);
    assert_eq!(dbfs_mulaw(&[0x7F; 160]), MIN_DBFS);
    assert_eq!(dbfs_from_rms(32768.0), 0.0);
    assert!((dbfs_from_rms(1.0) - -90.309).abs() < 0.001);
    assert_eq!(rms_mulaw(&[0x80, 0x00]), 32124.0);
}

#[test]
fn pcm_frames_drive_the_vad_too() {
    let mut vad = EnergyVad::new(EnergyVadConfig {
        start_frames: 1,
        hangover_frames: 1,
        ..EnergyVadConfig::default()
    })
    .unwrap();
    assert_eq!(
        vad.push_pcm16(&tone_frame(-20.0, 0)),
        Some(VadEvent::SpeechStart)
    );
    assert!(vad.is_speech());
    assert_eq!(vad.push_pcm16(&[0; 160]), Some(VadEvent::SpeechEnd));
    assert!(!vad.is_speech());
}

#[test]
fn a_short_silence_inside_speech_is_a_pause_then_the_hangover_ends_it() {
    let mut vad = EnergyVad::new(EnergyVadConfig::default()).unwrap();
    let events: Vec<_> = [-10.0; 3]
        .into_iter()
        .chain([-80.0; 6])
        .chain([-10.0; 2])
        .chain([-80.0; 15])
        .map(|level| vad.push_dbfs(level))
        .enumerate()
        .filter_map(|(idx, event)| event.map(|event| (idx, event)))
        .collect();
    assert_eq!(
        events,
        [
            (2, VadEvent::SpeechStart),
            (8, VadEvent::Pause),
            (16, VadEvent::Pause),
            (25, VadEvent::SpeechEnd)
        ]
    );
}

#[test]
fn reset_forgets_a_partial_run() {
    let mut vad = EnergyVad::new(EnergyVadConfig::default()).unwrap();
    assert_eq!(vad.push_dbfs(-10.0), None);
    assert_eq!(vad.push_dbfs(-10.0), None);
    vad.reset();
    assert_eq!(vad.push_dbfs(-10.0), None);
    assert_eq!(vad.push_dbfs(-10.0), None);
    assert_eq!(vad.push_dbfs(-10.0), Some(VadEvent::SpeechStart));
}

#[test]
fn invalid_configs_are_rejected() {
    let cases = [
        (
            "stop above start",
            EnergyVadConfig {
                stop_threshold_dbfs: -30.0,
                ..EnergyVadConfig::default()
            },
        ),
        (
            "nan",
            EnergyVadConfig {
                start_threshold_dbfs: f32::NAN,
                ..EnergyVadConfig::default()
            },
        ),
        (
            "zero start",
            EnergyVadConfig {
                start_frames: 0,
                ..EnergyVadConfig::default()
            },
        ),
        (
            "zero hangover",
            EnergyVadConfig {
                hangover_frames: 0,
                ..EnergyVadConfig::default()
            },
        ),
    ];
    for (name, config) in cases {
        let err = EnergyVad::new(config).unwrap_err();
        assert!(
            matches!(err, Error::InvalidVadConfig { .. }),
            "{name}: {err:?}"
        );
    }
}
