use std::fmt::Write as _;
use std::time::{Duration, Instant};

use expect_test::{Expect, expect};

use super::*;

/// Runs a script through one assembler and logs every utterance it emits, then what is pending.
///
/// One event per line: `kind[:confidence] text`, where kind is `i` (interim), `f` (final),
/// `fs` (final + speech_final), `ff` (final from a `Finalize`), `ffs` (from finalize + speech_final),
/// `ue` (UtteranceEnd), `ss` (SpeechStarted), `take` (`take_pending`). Confidence defaults to 0.9.
/// Event `n` arrives at `base + n` ms, so the log shows which event ended an utterance.
#[track_caller]
fn check(script: &str, expect: Expect) {
    let base = Instant::now();
    let mut assembler = UtteranceAssembler::new();
    let mut log = String::new();
    for (line_idx, line) in script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let at = base + Duration::from_millis(line_idx as u64);
        let (head, text) = line.split_once(' ').unwrap_or((line, ""));
        let (kind, confidence) = match head.split_once(':') {
            Some((kind, confidence)) => (kind, confidence.parse().unwrap()),
            None => (head, 0.9),
        };
        let transcript = |is_final, speech_final, from_finalize| {
            SttEvent::Transcript(Transcript {
                text: text.to_owned(),
                is_final,
                speech_final,
                from_finalize,
                confidence,
                start_s: 0.0,
                duration_s: 0.5,
                at,
            })
        };
        let utterance = match kind {
            "take" => assembler.take_pending(at),
            _ => {
                let event = match kind {
                    "i" => transcript(false, false, false),
                    "f" => transcript(true, false, false),
                    "fs" => transcript(true, true, false),
                    "ff" => transcript(true, false, true),
                    "ffs" => transcript(true, true, true),
                    "ue" => SttEvent::UtteranceEnd {
                        last_word_end_s: 1.0,
                        at,
                    },
                    "ss" => SttEvent::SpeechStarted {
                        timestamp_s: 0.1,
                        at,
                    },
                    other => panic!("unknown script kind {other:?}"),
                };
                assembler.push(&event)
            }
        };
        if let Some(u) = utterance {
            let ended_by = u.at.duration_since(base).as_millis();
            writeln!(
                log,
                "utterance {:?} confidence={} by_utterance_end={} ended_by_line={ended_by}",
                u.text, u.confidence, u.by_utterance_end
            )
            .unwrap();
        }
    }
    writeln!(
        log,
        "pending={:?} interim={:?}",
        assembler.pending_text(),
        assembler.last_interim()
    )
    .unwrap();
    expect.assert_eq(&log);
}

#[test]
fn interim_results_are_never_appended() {
    check(
        "i my
         i my brakes
         i my brakes are",
        expect![[r#"
            pending="" interim="my brakes are"
        "#]],
    );
}

#[test]
fn single_final_with_speech_final_is_the_utterance() {
    check(
        "ss
         i my brakes
         fs my brakes are squeaking",
        expect![[r#"
            utterance "my brakes are squeaking" confidence=0.9 by_utterance_end=false ended_by_line=2
            pending="" interim=""
        "#]],
    );
}

#[test]
fn finals_are_joined_until_speech_final() {
    check(
        "i hi I
         f Hi, I need
         i an oil
         f:0.6 an oil change
         fs:0.8 for tomorrow.",
        expect![[r#"
            utterance "Hi, I need an oil change for tomorrow." confidence=0.6 by_utterance_end=false ended_by_line=4
            pending="" interim=""
        "#]],
    );
}

#[test]
fn empty_speech_final_ends_the_pending_finals() {
    check(
        "f I need a tow
         fs",
        expect![[r#"
            utterance "I need a tow" confidence=0.9 by_utterance_end=false ended_by_line=1
            pending="" interim=""
        "#]],
    );
}

#[test]
fn empty_finals_never_make_a_turn() {
    check(
        "f
         fs
         ue
         f   
         fs  ",
        expect![[r#"
            pending="" interim=""
        "#]],
    );
}

#[test]
fn utterance_end_is_the_backstop_when_speech_final_never_comes() {
    check(
        "f my car
         f won't start
         i won't start
         ue",
        expect![[r#"
            utterance "my car won't start" confidence=0.9 by_utterance_end=true ended_by_line=3
            pending="" interim="won't start"
        "#]],
    );
}

#[test]
fn utterance_end_after_speech_final_is_ignored() {
    check(
        "fs yes please
         ue",
        expect![[r#"
            utterance "yes please" confidence=0.9 by_utterance_end=false ended_by_line=0
            pending="" interim=""
        "#]],
    );
}

#[test]
fn speech_final_on_an_interim_does_not_end_the_utterance() {
    // Only final results carry endpointing (5.6 step 2); an interim marked speech_final is ignored.
    let base = Instant::now();
    let mut assembler = UtteranceAssembler::new();
    let final_segment = Transcript {
        text: "hello".into(),
        is_final: true,
        speech_final: false,
        from_finalize: false,
        confidence: 0.9,
        start_s: 0.0,
        duration_s: 0.5,
        at: base,
    };
    assert_eq!(
        assembler.push(&SttEvent::Transcript(final_segment.clone())),
        None
    );
    let odd_interim = Transcript {
        text: "there".into(),
        is_final: false,
        speech_final: true,
        ..final_segment
    };
    assert_eq!(assembler.push(&SttEvent::Transcript(odd_interim)), None);
    assert_eq!(assembler.pending_text(), "hello");
}

#[test]
fn from_finalize_results_are_treated_like_finals() {
    check(
        "f book me
         ff for Friday
         ue
         f and Monday
         ffs
         ff
         ue",
        expect![[r#"
            utterance "book me for Friday" confidence=0.9 by_utterance_end=true ended_by_line=2
            utterance "and Monday" confidence=0.9 by_utterance_end=false ended_by_line=4
            pending="" interim=""
        "#]],
    );
}

#[test]
fn take_pending_emits_what_is_left() {
    check(
        "f call me back
         take
         take",
        expect![[r#"
            utterance "call me back" confidence=0.9 by_utterance_end=true ended_by_line=1
            pending="" interim=""
        "#]],
    );
}

#[test]
fn consecutive_utterances_are_independent() {
    check(
        "f:0.5 first
         fs one
         i sec
         fs second one
         ue",
        expect![[r#"
            utterance "first one" confidence=0.5 by_utterance_end=false ended_by_line=1
            utterance "second one" confidence=0.9 by_utterance_end=false ended_by_line=3
            pending="" interim=""
        "#]],
    );
}
