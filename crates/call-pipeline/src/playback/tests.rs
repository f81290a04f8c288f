use twilio::media::{Outbound, decode_outbound};

use super::*;

fn sid() -> StreamSid {
    StreamSid::from_wire("MZ00000000000000000000000000000001")
}

fn decode_all(out: &mut Vec<String>) -> Vec<Outbound> {
    out.drain(..)
        .map(|frame| decode_outbound(&frame).unwrap())
        .collect()
}

fn marks(messages: &[Outbound]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            Outbound::Mark { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn audio_is_framed_and_marked_every_n_frames_and_at_the_end_of_a_group() {
    let mut playback = Playback::new(sid(), 2);
    let mut out = Vec::new();
    playback.begin_turn(3);
    playback.add_text("Hello there.");
    playback.close_group();
    assert!(
        playback.push_audio(&[0x20; 400], &mut out),
        "first audio of the turn"
    );
    assert!(!playback.push_audio(&[0x20; 100], &mut out));
    playback.group_flushed(&mut out);
    let messages = decode_all(&mut out);
    let n_media = messages
        .iter()
        .filter(|m| matches!(m, Outbound::Media { .. }))
        .count();
    assert_eq!(n_media, 4, "500 bytes = 3 full frames + 1 padded");
    assert_eq!(marks(&messages), ["3:0:320", "3:0:640"]);
    let Some(Outbound::Media { payload, .. }) = messages
        .iter()
        .rev()
        .find(|m| matches!(m, Outbound::Media { .. }))
    else {
        unreachable!()
    };
    assert_eq!(payload.len(), 160);
    assert_eq!(payload[19], 0x20);
    assert_eq!(payload[20], 0xFF, "padded with silence");
    assert!(playback.is_speaking());
    assert_eq!(playback.on_mark("3:0:320"), MarkOutcome::Progress);
    assert_eq!(playback.on_mark("3:0:640"), MarkOutcome::TurnPlayed);
    assert!(!playback.is_speaking());
    assert_eq!(playback.heard_text(), "Hello there.");
}

#[test]
fn heard_text_is_cut_at_a_word_boundary_of_the_played_fraction() {
    let mut playback = Playback::new(sid(), 5);
    let mut out = Vec::new();
    playback.begin_turn(1);
    playback.add_text("one two three four five six seven eight nine ten");
    playback.close_group();
    playback.push_audio(&[0x20; 1600], &mut out);
    playback.group_flushed(&mut out);
    // Marks at 800 and 1600 bytes: half played.
    assert_eq!(playback.on_mark("1:0:800"), MarkOutcome::Progress);
    assert_eq!(playback.heard_text(), "one two three four five");
    assert_eq!(
        playback.full_text(),
        "one two three four five six seven eight nine ten"
    );
}

#[test]
fn echoes_after_clear_are_not_heard() {
    let mut playback = Playback::new(sid(), 5);
    let mut out = Vec::new();
    playback.begin_turn(1);
    playback.add_text("first part.");
    playback.close_group();
    playback.push_audio(&[0x20; 800], &mut out);
    playback.group_flushed(&mut out);
    playback.add_text("second part.");
    playback.close_group();
    playback.push_audio(&[0x20; 800], &mut out);
    playback.group_flushed(&mut out);
    assert_eq!(playback.on_mark("1:0:800"), MarkOutcome::Progress);
    playback.clear(&mut out);
    assert!(matches!(
        decode_all(&mut out).last(),
        Some(Outbound::Clear { .. })
    ));
    // Twilio echoes every pending mark after the clear.
    assert_eq!(playback.on_mark("1:1:800"), MarkOutcome::Stale);
    assert_eq!(playback.heard_text(), "first part.");
    assert!(!playback.is_speaking());
    assert!(playback.is_idle());
    // Audio still arriving for the cleared turn is dropped.
    playback.push_audio(&[0x20; 800], &mut out);
    assert!(out.is_empty());
}

#[test]
fn marks_of_an_older_turn_only_count_down() {
    let mut playback = Playback::new(sid(), 1);
    let mut out = Vec::new();
    playback.begin_turn(1);
    playback.add_text("a");
    playback.close_group();
    playback.push_audio(&[0x20; 160], &mut out);
    playback.begin_turn(2);
    assert_eq!(playback.on_mark("1:0:160"), MarkOutcome::Stale);
    assert_eq!(
        playback.on_mark("someone else's mark"),
        MarkOutcome::Unknown
    );
    assert_eq!(playback.heard_text(), "");
}

#[test]
fn heard_text_of_a_group_still_arriving_is_estimated_from_the_text() {
    let mut playback = Playback::new(sid(), 5);
    let mut out = Vec::new();
    playback.begin_turn(1);
    // 39 characters: about 20 000 bytes of speech; only 1600 have arrived and 800 have played.
    playback.add_text("one two three four five six seven eight");
    playback.close_group();
    playback.push_audio(&[0x20; 1600], &mut out);
    assert_eq!(playback.on_mark("1:0:800"), MarkOutcome::Progress);
    assert_eq!(
        playback.heard_text(),
        "",
        "a few per cent of the sentence is not a word yet"
    );
}
