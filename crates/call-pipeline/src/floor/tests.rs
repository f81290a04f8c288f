//! The floor as tables: a script of (time, event) in, the actions out, rendered as short words.
//! No clock, no sockets, no tokio.

use super::*;
use twilio::media::{Outbound, decode_outbound};

const T0_MS: u64 = 0;

fn cfg() -> FloorConfig {
    FloorConfig {
        mark_every_frames: 2,
        max_unflushed_chars: 200,
        silence_check_in: Duration::from_secs(10),
        silence_hang_up: Duration::from_secs(5),
        pause_resume_after: Duration::from_millis(150),
        pause_max: Duration::from_millis(2000),
        cleared_max_wait: Duration::from_secs(2),
        unfinished_hold: Duration::from_millis(700),
        max_hold: Duration::from_millis(2500),
        turn_end_by_meaning: true,
        recogniser_ends_turns: false,
        early_replies: false,
        filler_after: Duration::from_millis(700),
        filler_line: String::new(),
    }
}

/// Runs a script against a fresh floor; returns one line per step: the actions it produced.
struct Script {
    floor: Floor,
    t0: Instant,
    lines: Vec<String>,
}

impl Script {
    fn new() -> Self {
        Self::with(cfg())
    }

    fn with(cfg: FloorConfig) -> Self {
        let t0 = Instant::now();
        Self {
            floor: Floor::new(
                cfg,
                StreamSid::from_wire("MZ00000000000000000000000000000001"),
                t0,
                Duration::from_secs(600),
            ),
            t0,
            lines: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(T0_MS + ms)
    }

    /// Feeds `event` at `ms` and returns the rendered actions.
    fn ev(&mut self, ms: u64, event: Event) -> String {
        let now = self.at(ms);
        let actions = self.floor.handle(event, now);
        let line = render(&actions);
        self.lines.push(line.clone());
        line
    }

    fn audio(&mut self, ms: u64, bytes: usize) -> String {
        let at = self.at(ms);
        self.ev(
            ms,
            Event::TtsAudio {
                mulaw: bytes::Bytes::from(vec![0x20; bytes]),
                at,
            },
        )
    }

    fn utterance(&mut self, ms: u64, text: &str) -> String {
        let at = self.at(ms);
        self.ev(
            ms,
            Event::Utterance {
                text: text.into(),
                at,
                end: conversation::turn_end(text),
            },
        )
    }

    /// A reply turn with one piece of text whose audio (`bytes`) has all arrived.
    fn reply_playing(&mut self, text: &str, bytes: usize) -> u64 {
        self.utterance(0, "what does it cost");
        let start = self.ev(
            0,
            Event::Reply {
                utterance_at: None,
                early: None,
            },
        );
        let turn = start
            .strip_prefix("start-reply:")
            .and_then(|t| t.parse().ok())
            .expect("a reply starts");
        self.ev(
            10,
            Event::ReplyPiece {
                turn,
                text: text.into(),
            },
        );
        self.ev(20, Event::ReplyDone { turn });
        self.audio(30, bytes);
        self.ev(40, Event::TtsFlushed);
        turn
    }
}

fn interim(text: &str) -> Event {
    Event::Interim {
        text: text.into(),
        end: conversation::turn_end(text),
    }
}

/// Renders actions as words: consecutive media frames collapse into `media*N`.
fn render(actions: &[Action]) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut media = 0;
    let flush_media = |words: &mut Vec<String>, media: &mut usize| {
        if *media > 0 {
            words.push(format!("media*{media}"));
            *media = 0;
        }
    };
    for action in actions {
        if let Action::Phone(frame) = action {
            match decode_outbound(frame).expect("our own frames decode") {
                Outbound::Media { .. } => {
                    media += 1;
                    continue;
                }
                Outbound::Mark { name, .. } => {
                    flush_media(&mut words, &mut media);
                    words.push(format!("mark:{name}"));
                }
                Outbound::Clear { .. } => {
                    flush_media(&mut words, &mut media);
                    words.push("clear".into());
                }
            }
            continue;
        }
        flush_media(&mut words, &mut media);
        words.push(match action {
            Action::Phone(_) => unreachable!(),
            Action::TtsText { text, flush } => {
                format!("tts:{text:?}{}", if *flush { "+flush" } else { "" })
            }
            Action::TtsFlush => "tts-flush".into(),
            Action::TtsClear => "tts-clear".into(),
            Action::FinalizeStt => "finalize".into(),
            Action::StartReply { turn } => format!("start-reply:{turn}"),
            Action::CancelReply => "cancel-reply".into(),
            Action::CallerTurn {
                text, early: None, ..
            } => format!("caller:{text:?}"),
            Action::CallerTurn {
                text,
                early: Some(turn),
                ..
            } => format!("caller:{text:?}:early:{turn}"),
            Action::StartEarlyReply { turn, text } => format!("early-reply:{turn}:{text:?}"),
            Action::ConfirmReply { turn } => format!("confirm-reply:{turn}"),
            Action::DropEarlyReply { turn, cause } => format!("drop-early:{turn}:{cause}"),
            Action::Spoken { turn, text } => format!("spoken:{turn}:{text:?}"),
            Action::Interrupted { turn, heard, cause } => {
                format!("interrupted:{turn}:{heard:?}:{cause}")
            }
            Action::ReplyFailed => "reply-failed".into(),
            Action::Transfer => "transfer".into(),
            Action::End => "end".into(),
            Action::SilenceTimeout => "silence".into(),
            Action::LengthReached => "length".into(),
            Action::TurnTimings(t) => format!(
                "timings:{}{}",
                t["turn"],
                if t["interrupted"] == true { ":cut" } else { "" }
            ),
            Action::SaveSession => "save".into(),
            Action::ReconnectTts => "reconnect-tts".into(),
        });
    }
    flush_media(&mut words, &mut media);
    words.join(" ")
}

#[test]
fn a_line_plays_then_silence_is_timed() {
    let mut s = Script::new();
    assert_eq!(
        s.ev(
            0,
            Event::Say {
                text: "Hello.".into(),
                then: Then::Listen
            }
        ),
        r#"spoken:1:"Hello." tts:"Hello."+flush"#
    );
    // 3 frames of audio: a mark after every 2 frames, then the group's last frame and its mark.
    assert_eq!(s.audio(100, 500), "media*2 mark:1:0:320 media*1");
    assert_eq!(s.ev(120, Event::TtsFlushed), "media*1 mark:1:0:640");
    assert!(s.floor.agent_is_speaking());
    assert_eq!(s.ev(500, Event::Mark("1:0:320".into())), "");
    assert_eq!(s.ev(900, Event::Mark("1:0:640".into())), "timings:1");
    assert!(!s.floor.agent_is_speaking());
    assert_eq!(s.floor.next_deadline(), Some(s.at(10_900)));
    assert_eq!(s.ev(10_900, Event::Tick), "silence");
    // Silence is timed again only after the next turn; the call's length limit remains.
    assert_eq!(s.floor.next_deadline(), Some(s.at(600_000)));
}

#[test]
fn words_during_a_pause_are_a_real_interruption() {
    let mut s = Script::new();
    let turn = s.reply_playing(
        "It costs forty nine dollars. It takes thirty minutes.",
        1600,
    );
    assert_eq!(turn, 1);
    // The first two frames played.
    s.ev(100, Event::Mark("1:0:320".into()));
    // Voice onset: the caller's audio is cleared at once, the turn goes on.
    assert_eq!(s.ev(200, Event::VoiceStart), "clear");
    assert!(s.floor.agent_is_speaking());
    // Twilio echoes the pending marks after the clear: they are not "heard".
    for _ in 0..4 {
        assert_eq!(s.ev(210, Event::Mark("1:0:1600".into())), "");
    }
    // Then the words: a real interruption. History keeps what the echo before the pause
    // confirmed (2 of 10 frames: a fifth of the text).
    assert_eq!(
        s.ev(450, interim("wait, no")),
        r#"tts-clear interrupted:1:"It costs":interim transcript timings:1:cut"#
    );
    assert!(!s.floor.agent_is_speaking());
    assert_eq!(s.floor.counts().interruptions, 1);
    assert_eq!(
        s.utterance(900, "wait, no, Tuesday"),
        r#"caller:"wait, no, Tuesday""#
    );
}

#[test]
fn a_backchannel_during_a_pause_resumes_from_the_start_of_the_group() {
    let mut s = Script::new();
    s.reply_playing("It costs forty nine dollars.", 640);
    assert_eq!(s.ev(100, Event::VoiceStart), "clear");
    // "uh-huh" as an interim resumes the held audio at once; its final is not a turn.
    assert_eq!(
        s.ev(300, interim("uh-huh")),
        "media*2 mark:1:0:320 media*2 mark:1:0:640"
    );
    assert_eq!(s.utterance(600, "uh-huh"), "");
    assert_eq!(s.floor.counts().resumed, 1);
    assert_eq!(s.floor.counts().interruptions, 0);
    // Two echoes were pending at the clear: stale. Then the resumed ones play to the end.
    assert_eq!(s.ev(610, Event::Mark("1:0:320".into())), "");
    assert_eq!(s.ev(620, Event::Mark("1:0:640".into())), "");
    assert_eq!(s.ev(900, Event::Mark("1:0:320".into())), "");
    assert_eq!(s.ev(1300, Event::Mark("1:0:640".into())), "timings:1");
    assert!(!s.floor.agent_is_speaking());
}

#[test]
fn sound_without_words_resumes_after_it_ends() {
    let mut s = Script::new();
    s.reply_playing("First sentence. Second sentence.", 640);
    assert_eq!(s.ev(100, Event::VoiceStart), "clear");
    assert_eq!(s.ev(500, Event::VoiceEnd), "");
    assert_eq!(s.floor.next_deadline(), Some(s.at(650)));
    assert_eq!(
        s.ev(650, Event::Tick),
        "media*2 mark:1:0:320 media*2 mark:1:0:640"
    );
}

#[test]
fn a_pause_ends_at_the_latest_after_pause_max() {
    let mut s = Script::new();
    s.reply_playing("Over the noise.", 320);
    assert_eq!(s.ev(100, Event::VoiceStart), "clear");
    // Continuous shop noise: the VAD never ends and no words come.
    assert_eq!(s.floor.next_deadline(), Some(s.at(2100)));
    assert_eq!(s.ev(2100, Event::Tick), "media*2 mark:1:0:320");
}

#[test]
fn a_voice_start_again_cancels_a_pending_resume() {
    let mut s = Script::new();
    s.reply_playing("One. Two.", 320);
    s.ev(100, Event::VoiceStart);
    s.ev(400, Event::VoiceEnd);
    assert_eq!(s.ev(500, Event::VoiceStart), "");
    assert_eq!(
        s.floor.next_deadline(),
        Some(s.at(2100)),
        "only the cap remains"
    );
}

#[test]
fn audio_arriving_during_a_pause_is_held_then_sent_on_resume() {
    let mut s = Script::new();
    s.utterance(0, "hours?");
    s.ev(
        0,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    // Voice while the reply is still being written: paused before any audio.
    assert_eq!(s.ev(50, Event::VoiceStart), "clear");
    s.ev(
        60,
        Event::ReplyPiece {
            turn: 1,
            text: "We open at eight.".into(),
        },
    );
    assert_eq!(s.audio(200, 320), "", "held, not sent");
    assert_eq!(s.ev(210, Event::TtsFlushed), "");
    s.ev(220, Event::ReplyDone { turn: 1 });
    assert_eq!(s.utterance(400, "okay"), "media*2 mark:1:0:320");
}

#[test]
fn a_real_interruption_keeps_only_what_was_heard_and_drops_stale_tts_audio() {
    let mut s = Script::new();
    s.reply_playing("one two three four five six seven eight", 3200);
    // 10 of 20 frames played: half the words.
    s.ev(100, Event::Mark("1:0:1600".into()));
    assert_eq!(
        s.utterance(300, "actually make it Friday"),
        r#"clear tts-clear interrupted:1:"one two three four":final transcript timings:1:cut caller:"actually make it Friday""#
    );
    // The next reply: audio of the cleared TTS turn is dropped until TTS confirms the clear.
    s.ev(
        310,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    s.ev(
        320,
        Event::ReplyPiece {
            turn: 2,
            text: "Friday it is.".into(),
        },
    );
    assert_eq!(s.audio(330, 320), "");
    assert_eq!(s.ev(340, Event::TtsCleared), "");
    assert_eq!(s.audio(350, 320), "media*2 mark:2:0:320");
}

#[test]
fn a_backchannel_while_the_reply_is_written_is_not_a_turn() {
    let mut s = Script::new();
    s.utterance(0, "can I book for Monday");
    s.ev(
        0,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    assert_eq!(s.utterance(100, "okay"), "");
    assert_eq!(
        s.utterance(200, "and Tuesday"),
        r#"cancel-reply clear tts-clear interrupted:1:"":final transcript timings:1:cut caller:"and Tuesday""#
    );
}

#[test]
fn events_of_an_older_reply_are_ignored() {
    let mut s = Script::new();
    s.utterance(0, "a");
    s.ev(
        0,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    s.utterance(10, "b");
    s.ev(
        10,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    assert_eq!(
        s.ev(
            20,
            Event::ReplyPiece {
                turn: 1,
                text: "stale".into()
            }
        ),
        ""
    );
    assert_eq!(s.ev(30, Event::ReplyDone { turn: 1 }), "");
    assert_eq!(
        s.ev(
            40,
            Event::ReplyPiece {
                turn: 2,
                text: "Fresh.".into()
            }
        ),
        r#"tts:"Fresh."+flush"#
    );
}

#[test]
fn a_transfer_line_transfers_when_played_or_at_its_deadline() {
    let mut s = Script::new();
    s.ev(
        0,
        Event::Say {
            text: "Connecting you.".into(),
            then: Then::Transfer {
                max_wait: Duration::from_secs(8),
            },
        },
    );
    s.audio(100, 320);
    s.ev(110, Event::TtsFlushed);
    assert_eq!(
        s.ev(600, Event::Mark("1:0:320".into())),
        "timings:1 transfer"
    );
    // A line whose audio never plays still transfers at its deadline.
    let mut s = Script::new();
    s.ev(
        0,
        Event::Say {
            text: "Goodbye.".into(),
            then: Then::End {
                max_wait: Duration::from_secs(6),
            },
        },
    );
    assert_eq!(s.floor.next_deadline(), Some(s.at(6000)));
    assert_eq!(s.ev(6000, Event::Tick), "end");
}

#[test]
fn a_lost_voice_is_replaced_and_the_unheard_sentence_said_again() {
    let mut s = Script::new();
    s.reply_playing("First part. Second part.", 3200);
    s.ev(100, Event::Mark("1:0:1600".into()));
    assert_eq!(
        s.ev(200, Event::TtsLost),
        r#"clear interrupted:1:"First part.":tts lost timings:1:cut reconnect-tts"#
    );
    assert_eq!(s.ev(210, Event::TtsLost), "", "once");
    assert_eq!(
        s.ev(300, Event::TtsRestored),
        r#"spoken:2:"Second part." tts:"Second part."+flush"#
    );
}

#[test]
fn the_length_deadline_fires_once() {
    let t0 = Instant::now();
    let mut floor = Floor::new(
        cfg(),
        StreamSid::from_wire("MZ00000000000000000000000000000001"),
        t0,
        Duration::from_secs(60),
    );
    assert_eq!(floor.next_deadline(), Some(t0 + Duration::from_secs(60)));
    assert_eq!(
        render(&floor.handle(Event::Tick, t0 + Duration::from_secs(60))),
        "length"
    );
    assert_eq!(floor.next_deadline(), None);
}

#[test]
fn a_failed_reply_asks_for_the_fallback_line() {
    let mut s = Script::new();
    s.utterance(0, "hello");
    s.ev(
        0,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    assert_eq!(s.ev(100, Event::ReplyFailed { turn: 1 }), "reply-failed");
}

#[test]
fn yes_over_the_end_of_a_question_answers_it() {
    let mut s = Script::new();
    s.utterance(0, "book me for Tuesday");
    s.ev(
        0,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    s.ev(
        10,
        Event::ReplyPiece {
            turn: 1,
            text: "Tuesday at nine is free.".into(),
        },
    );
    s.ev(
        20,
        Event::ReplyPiece {
            turn: 1,
            text: "Shall I book it?".into(),
        },
    );
    s.ev(30, Event::ReplyDone { turn: 1 });
    s.audio(40, 320);
    s.ev(50, Event::TtsFlushed);
    s.audio(60, 320);
    // The first group was heard to its end; the question is playing.
    s.ev(400, Event::Mark("1:0:320".into()));
    assert_eq!(s.ev(500, Event::VoiceStart), "clear");
    assert_eq!(
        s.utterance(800, "yes"),
        r#"tts-clear interrupted:1:"Tuesday at nine is free.":final transcript timings:1:cut caller:"yes""#
    );
}

#[test]
fn yes_in_the_middle_of_an_explanation_is_a_backchannel() {
    let mut s = Script::new();
    s.reply_playing("It takes an hour. Is that okay?", 640);
    assert_eq!(s.ev(100, Event::VoiceStart), "clear");
    assert_eq!(
        s.utterance(400, "yeah"),
        "media*2 mark:1:0:320 media*2 mark:1:0:640",
        "nothing was heard yet: the caller was listening"
    );
}

#[test]
fn complete_words_and_a_short_pause_finalize_early() {
    let mut s = Script::new();
    s.ev(0, Event::VoiceStart);
    assert_eq!(s.ev(300, interim("tomorrow at 2pm")), "");
    assert_eq!(s.ev(500, Event::VoicePause), "finalize");
    assert_eq!(s.ev(520, Event::VoicePause), "", "once per turn");
    assert_eq!(
        s.utterance(540, "tomorrow at 2pm"),
        r#"caller:"tomorrow at 2pm""#
    );
    // Unfinished words do not.
    s.ev(2000, Event::VoiceStart);
    s.ev(2300, interim("I need an oil change and"));
    assert_eq!(s.ev(2500, Event::VoicePause), "");
}

#[test]
fn unfinished_words_wait_for_the_rest() {
    let mut s = Script::new();
    s.ev(0, Event::VoiceStart);
    s.ev(1000, Event::VoiceEnd);
    // The recogniser's endpointing fired in a mid-sentence pause.
    assert_eq!(s.utterance(1100, "I need an oil change and"), "");
    assert_eq!(s.floor.next_deadline(), Some(s.at(1800)));
    // The caller goes on: the words are joined into one turn.
    s.ev(1500, Event::VoiceStart);
    assert_eq!(s.floor.next_deadline(), Some(s.at(3600)), "only the cap");
    s.ev(2200, Event::VoiceEnd);
    assert_eq!(
        s.utterance(2500, "a tire rotation"),
        r#"caller:"I need an oil change and a tire rotation""#
    );
    // An unfinished turn with nothing after it is answered after the hold.
    s.ev(4000, Event::VoiceStart);
    s.ev(4600, Event::VoiceEnd);
    assert_eq!(s.utterance(4900, "my car is a"), "");
    assert_eq!(s.ev(5600, Event::Tick), r#"caller:"my car is a""#);
}

fn early_cfg() -> FloorConfig {
    FloorConfig {
        early_replies: true,
        ..cfg()
    }
}

/// Complete words and a pause: `Finalize` and an early reply on the interim's words; the final
/// says the same (other case and punctuation), so the early reply is the answer.
#[test]
fn an_early_reply_on_complete_words_is_confirmed_by_the_same_final_words() {
    let mut s = Script::with(early_cfg());
    assert_eq!(s.ev(0, Event::VoiceStart), "");
    assert_eq!(s.ev(300, interim("tomorrow at two")), "");
    assert_eq!(
        s.ev(420, Event::VoicePause),
        r#"finalize early-reply:1:"tomorrow at two""#
    );
    // The same words again start nothing new.
    assert_eq!(s.ev(430, interim("tomorrow at two")), "");
    assert_eq!(
        s.utterance(480, "Tomorrow at two."),
        r#"caller:"Tomorrow at two.":early:1"#
    );
    assert_eq!(
        s.ev(
            480,
            Event::Reply {
                utterance_at: None,
                early: Some(1)
            }
        ),
        "confirm-reply:1"
    );
    assert!(s.floor.agent_is_speaking());
    // Its pieces are the turn's.
    assert_eq!(
        s.ev(
            490,
            Event::ReplyPiece {
                turn: 1,
                text: "Two works.".into()
            }
        ),
        r#"tts:"Two works."+flush"#
    );
}

/// The caller goes on after the pause: new words drop the early reply; a different final drops
/// it too (here it was already dropped) and the turn starts a fresh reply.
#[test]
fn an_early_reply_is_dropped_when_the_words_change() {
    let mut s = Script::with(early_cfg());
    s.ev(0, Event::VoiceStart);
    s.ev(300, interim("i need an oil change tomorrow"));
    assert_eq!(
        s.ev(420, Event::VoicePause),
        r#"finalize early-reply:1:"i need an oil change tomorrow""#
    );
    assert_eq!(
        s.ev(600, interim("i need an oil change tomorrow and new wipers")),
        "drop-early:1:words changed"
    );
    assert_eq!(
        s.utterance(900, "I need an oil change tomorrow and new wipers"),
        r#"caller:"I need an oil change tomorrow and new wipers""#
    );
    // Flux: an eager end, then the caller resumes; then the final differs from the eager words.
    let mut s = Script::with(FloorConfig {
        recogniser_ends_turns: true,
        ..early_cfg()
    });
    s.ev(0, Event::VoiceStart);
    s.ev(300, interim("tomorrow"));
    // The recogniser decides the end of the turn: no `Finalize` of our own.
    assert_eq!(s.ev(420, Event::VoicePause), "");
    assert_eq!(
        s.ev(
            500,
            Event::EagerEnd {
                text: "tomorrow".into()
            }
        ),
        r#"early-reply:1:"tomorrow""#
    );
    assert_eq!(s.ev(700, Event::TurnResumed), "drop-early:1:caller went on");
    assert_eq!(
        s.ev(
            900,
            Event::EagerEnd {
                text: "tomorrow at ten".into()
            }
        ),
        r#"early-reply:2:"tomorrow at ten""#
    );
    assert_eq!(
        s.utterance(1000, "tomorrow at ten thirty"),
        r#"drop-early:2:final words differ caller:"tomorrow at ten thirty""#
    );
}

/// No early reply while the agent holds the floor, while another reply is written, or for
/// unfinished words that are held; a line the agent must say drops one.
#[test]
fn early_replies_only_when_the_floor_is_free() {
    let mut s = Script::with(early_cfg());
    s.reply_playing("Our hours are eight to five.", 800);
    assert_eq!(
        s.ev(
            100,
            Event::EagerEnd {
                text: "okay".into()
            }
        ),
        ""
    );
    let mut s = Script::with(early_cfg());
    s.utterance(0, "I need an oil change and");
    assert_eq!(
        s.ev(
            100,
            Event::EagerEnd {
                text: "I need an oil change and a".into()
            }
        ),
        "",
        "held words wait for the rest"
    );
    let mut s = Script::with(early_cfg());
    s.ev(0, Event::EagerEnd { text: "yes".into() });
    assert_eq!(
        s.ev(
            10,
            Event::Say {
                text: "Are you still there?".into(),
                then: Then::Listen
            }
        ),
        r#"drop-early:1:the agent speaks spoken:2:"Are you still there?" tts:"Are you still there?"+flush"#
    );
}

#[test]
fn speech_keys_ignore_case_and_punctuation_only() {
    assert_eq!(speech_key("  Tomorrow, at 2 P.M.! "), "tomorrow at 2 pm");
    assert_eq!(speech_key("I'm here."), "i'm here");
    assert_ne!(speech_key("at two"), speech_key("at ten"));
    assert_eq!(speech_key("..."), "");
}

fn filler_cfg() -> FloorConfig {
    FloorConfig {
        filler_line: "One moment.".into(),
        ..cfg()
    }
}

/// A reply that says nothing for 700 ms gets the filler, as a group of its own; it is not part
/// of what the agent said, and the reply's latency is measured to the reply's own audio.
#[test]
fn a_slow_reply_says_the_filler_first_and_keeps_it_out_of_history() {
    let mut s = Script::with(filler_cfg());
    s.utterance(0, "can you check the schedule for friday");
    let start = s.ev(
        0,
        Event::Reply {
            utterance_at: Some(s.at(0)),
            early: None,
        },
    );
    assert_eq!(start, "start-reply:1");
    assert_eq!(s.floor.next_deadline(), Some(s.at(700)));
    assert_eq!(s.ev(700, Event::Tick), r#"tts:"One moment."+flush"#);
    // The filler's audio plays; its marks say nothing about the reply.
    assert_eq!(s.audio(850, 320), "media*2 mark:1:0:320");
    assert_eq!(s.ev(860, Event::TtsFlushed), "");
    assert_eq!(s.ev(1000, Event::Mark("1:0:320".into())), "");
    assert_eq!(
        s.ev(
            1200,
            Event::ReplyPiece {
                turn: 1,
                text: "Friday at ten is open.".into()
            }
        ),
        r#"tts:"Friday at ten is open."+flush"#
    );
    assert_eq!(
        s.ev(1210, Event::ReplyDone { turn: 1 }),
        r#"spoken:1:"Friday at ten is open." save"#
    );
    assert_eq!(s.audio(1400, 320), "media*2 mark:1:1:320");
    assert_eq!(s.ev(1410, Event::TtsFlushed), "");
    let actions = s.floor.handle(Event::Mark("1:1:320".into()), s.at(1600));
    s.floor.handle(Event::Mark("1:1:320".into()), s.at(1650));
    let timings = actions
        .iter()
        .chain(s.floor.handle(Event::Tick, s.at(1700)).iter())
        .find_map(|a| match a {
            Action::TurnTimings(t) => Some(t.clone()),
            _ => None,
        });
    let timings = timings.expect("the turn finished");
    assert_eq!(timings["voice_to_voice_ms"], 1400.0);
    assert_eq!(timings["caller_ear_ms"], 1600.0);
}

/// A reply that speaks in time, fails, or is cut off gets no filler.
#[test]
fn no_filler_for_a_prompt_failed_or_cancelled_reply() {
    let mut s = Script::with(filler_cfg());
    s.utterance(0, "what time do you close");
    s.ev(
        0,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    s.ev(
        300,
        Event::ReplyPiece {
            turn: 1,
            text: "We close at six.".into(),
        },
    );
    assert_eq!(s.ev(700, Event::Tick), "");
    let mut s = Script::with(filler_cfg());
    s.ev(
        0,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    assert_eq!(s.ev(400, Event::ReplyFailed { turn: 1 }), "reply-failed");
    assert_eq!(s.ev(700, Event::Tick), "");
    let mut s = Script::with(filler_cfg());
    s.ev(
        0,
        Event::Reply {
            utterance_at: None,
            early: None,
        },
    );
    assert!(
        s.ev(300, Event::StopSpeaking { cause: "dtmf" })
            .starts_with("cancel-reply")
    );
    assert_eq!(s.ev(700, Event::Tick), "");
}
