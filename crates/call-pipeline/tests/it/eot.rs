//! The end-of-turn corpus replayed against the real `run_call`, with and without deciding the end
//! of the turn from the caller's words (`PipelineConfig::turn_end_by_meaning`).
//!
//! `fixtures/corpus/end-of-turn` (made by `cargo xtask corpus end-of-turn`): 30 complete
//! utterances and 40 said in two parts with a 300 to 900 ms pause, espeak-ng in 8 voices. A
//! recogniser that behaves like Deepgram's live API with 300 ms endpointing answers from the
//! labelled frame ranges: interims every 240 ms with the words said so far (an even speaking
//! rate), a `speech_final` 300 ms after a part
//! when the silence after it lasts that long, and a `Finalize` answered with what was heard when it
//! was asked, at once or 160 ms later (Deepgram documents no figure, so both are run). The LLM's
//! first token takes 300 ms (the bench's default). A false
//! cut-off is agent audio sent before the caller's last part ended; dead air is the time from the
//! caller's last frame to the agent's first audio.
//!
//! Three modes: endpointing alone; the end of the turn by meaning (`turn_end_by_meaning`); and
//! that plus early replies (`early_replies`: the LLM request starts when `Finalize` is sent and is
//! used if the final words are the same).

// The table is this test's report (`cargo test -p call-pipeline --test it eot -- --nocapture`).
#![allow(clippy::print_stdout)]

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use futures::FutureExt;
use providers::{
    FinishReason, ProviderError, SpeechToText, SttCommand, SttEvent, SttHandle, SttOptions,
    SttSession, Transcript,
    fake::{LlmReply, LlmStep},
};
use serde::Deserialize;
use tokio::sync::mpsc;
use twilio::media::Outbound;

use crate::harness::{CallerAction, Scenario, ms, run};

/// The caller's clip starts here (the greeting has played).
const CLIP_AT_MS: u64 = 5_000;
/// Deepgram endpointing, in 20 ms frames.
const ENDPOINTING_FRAMES: u64 = 15;
const INTERIM_AFTER_FRAMES: u64 = 12;
/// The slower of the two `Finalize` answers, in 20 ms frames.
const SLOW_FINALIZE_FRAMES: u64 = 8;

#[derive(Debug, Deserialize)]
struct Corpus {
    events: Vec<Turn>,
}

#[derive(Debug, Deserialize)]
struct Turn {
    id: String,
    kind: String,
    /// For two-part turns: whether the first part's words read "complete" or "unfinished".
    #[serde(default)]
    first_part_reads: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Part {
    text: String,
    start_frame: u64,
    end_frame: u64,
}

#[derive(Debug, Deserialize)]
struct Ranges {
    segments: Vec<Part>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/corpus/end-of-turn")
}

/// A recogniser that knows which words are in which frames.
struct LabelledStt {
    parts: Arc<Vec<Part>>,
    /// 20 ms frames between a `Finalize` and its answer.
    finalize_frames: u64,
}

fn result(text: String, is_final: bool, speech_final: bool, from_finalize: bool) -> SttEvent {
    SttEvent::Transcript(Transcript {
        text,
        is_final,
        speech_final,
        from_finalize,
        confidence: 0.95,
        start_s: 0.0,
        duration_s: 0.0,
        at: tokio::time::Instant::now().into_std(),
    })
}

#[async_trait]
impl SpeechToText for LabelledStt {
    async fn connect(&self, _options: SttOptions) -> Result<SttSession, ProviderError> {
        let (commands_tx, mut commands) = mpsc::channel(512);
        let (events_tx, events) = mpsc::channel(256);
        let parts = self.parts.clone();
        let finalize_frames = self.finalize_frames;
        let driver = async move {
            let mut frame = 0_u64;
            let mut done = vec![false; parts.len()];
            // A `Finalize` asked at this frame, answered `finalize_frames` later.
            let mut finalize_asked: Option<u64> = None;
            let open_text = |done: &[bool], upto: usize| {
                parts[..=upto]
                    .iter()
                    .zip(done)
                    .filter(|(_, d)| !**d)
                    .map(|(p, _)| p.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            while let Some(command) = commands.recv().await {
                let mut out = Vec::new();
                match command {
                    SttCommand::Audio(_) => {
                        frame += 1;
                        for (idx, part) in parts.iter().enumerate() {
                            if done[idx] {
                                continue;
                            }
                            // Interims every 240 ms while the part is spoken, with the words
                            // said so far (an even speaking rate), and one at its end.
                            let into = frame.saturating_sub(part.start_frame);
                            if frame > part.start_frame
                                && frame <= part.end_frame
                                && (into % INTERIM_AFTER_FRAMES == 0 || frame == part.end_frame)
                            {
                                let words: Vec<&str> = part.text.split_whitespace().collect();
                                let length = (part.end_frame - part.start_frame).max(1);
                                let said = (words.len() as u64 * into).div_ceil(length) as usize;
                                let mut text = open_text(&done, idx.saturating_sub(1));
                                if idx == 0 || done[idx - 1] {
                                    text.clear();
                                }
                                if !text.is_empty() {
                                    text.push(' ');
                                }
                                text.push_str(&words[..said.min(words.len())].join(" "));
                                out.push(result(text, false, false, false));
                            }
                            let endpoint = part.end_frame + ENDPOINTING_FRAMES;
                            let next_starts_later = parts
                                .get(idx + 1)
                                .is_none_or(|next| next.start_frame > endpoint);
                            if frame == endpoint && next_starts_later {
                                out.push(result(open_text(&done, idx), true, true, false));
                                done[..=idx].fill(true);
                            }
                        }
                    }
                    SttCommand::Finalize => {
                        finalize_asked.get_or_insert(frame);
                    }
                    SttCommand::Close => break,
                }
                // `Finalize` is answered with the words heard when it was asked.
                if let Some(asked) = finalize_asked.filter(|asked| asked + finalize_frames <= frame)
                {
                    finalize_asked = None;
                    match parts.iter().rposition(|p| p.start_frame <= asked) {
                        Some(idx) if !done[idx] => {
                            out.push(result(open_text(&done, idx), true, false, true));
                            done[..=idx].fill(true);
                        }
                        _ => out.push(result(String::new(), true, false, true)),
                    }
                }
                for event in out {
                    if events_tx.send(event).await.is_err() {
                        return;
                    }
                }
            }
            let _ = events_tx
                .send(SttEvent::Closed {
                    at: tokio::time::Instant::now().into_std(),
                })
                .await;
        }
        .boxed();
        Ok(SttSession {
            handle: SttHandle::new(commands_tx),
            events,
            driver,
        })
    }

    fn name(&self) -> &'static str {
        "labelled"
    }
}

struct Outcome {
    kind: String,
    cut_off: bool,
    /// LLM requests made, and how many of them were cancelled or dropped.
    llm_requests: usize,
    llm_cancelled: usize,
    /// The first reply was an early one.
    early_used: bool,
    /// Caller's last frame -> the agent's first audio, when not cut off.
    dead_air_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Endpointing,
    ByMeaning,
    EarlyReplies,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Endpointing => "endpointing only",
            Mode::ByMeaning => "by meaning",
            Mode::EarlyReplies => "by meaning + early replies",
        }
    }
}

async fn replay(turn: &Turn, mode: Mode, finalize_frames: u64) -> Outcome {
    let clip: Arc<[u8]> = std::fs::read(dir().join("clips").join(format!("{}.ulaw", turn.id)))
        .unwrap_or_else(|err| panic!("{}: {err} (cargo xtask corpus end-of-turn)", turn.id))
        .into();
    let ranges: Ranges = serde_json::from_slice(
        &std::fs::read(dir().join("clips").join(format!("{}.json", turn.id))).unwrap(),
    )
    .unwrap();
    let offset = CLIP_AT_MS / 20;
    let parts: Vec<Part> = ranges
        .segments
        .iter()
        .map(|p| Part {
            text: p.text.clone(),
            start_frame: p.start_frame + offset,
            end_frame: p.end_frame + offset,
        })
        .collect();
    let last_end = ms(CLIP_AT_MS + ranges.segments.last().unwrap().end_frame * 20);
    let mut scenario = Scenario {
        stt_override: Some(Arc::new(LabelledStt {
            parts: Arc::new(parts),
            finalize_frames,
        })),
        llm: (0..4)
            .map(|_| {
                LlmReply::Stream(vec![
                    LlmStep::Wait(ms(300)),
                    LlmStep::Text("Sure, I can help with that.".into()),
                    LlmStep::Finish(FinishReason::Stop),
                ])
            })
            .collect(),
        actions: vec![
            (ms(CLIP_AT_MS), CallerAction::Play(clip)),
            (ms(CLIP_AT_MS + 12_000), CallerAction::HangUp),
        ],
        ..Scenario::default()
    };
    scenario.config.turn_end_by_meaning = mode != Mode::Endpointing;
    scenario.config.early_replies = mode == Mode::EarlyReplies;
    let report = run(scenario).await;
    let early_used = report
        .final_record()
        .timings
        .as_array()
        .and_then(|turns| turns.iter().find(|t| t["from_llm"] == true))
        .is_some_and(|t| t["early"] == true);
    let first_reply_audio = report
        .sent
        .iter()
        .find(|(at, m)| *at >= ms(CLIP_AT_MS) && matches!(m, Outbound::Media { .. }))
        .map(|(at, _)| *at)
        .expect("the agent answered");
    let cut_off = first_reply_audio < last_end;
    Outcome {
        kind: match &turn.first_part_reads {
            Some(reads) => format!("{}, first part {reads}", turn.kind),
            None => turn.kind.clone(),
        },
        cut_off,
        llm_requests: report.llm.requests().len(),
        llm_cancelled: report.llm.n_cancelled(),
        early_used,
        dead_air_ms: (!cut_off).then(|| (first_reply_audio - last_end).as_millis() as u64),
    }
}

fn percentile(values: &[u64], p: f64) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(start_paused = true)]
async fn the_end_of_turn_corpus_cuts_off_no_more_and_answers_sooner() {
    let corpus: Corpus =
        serde_json::from_slice(&std::fs::read(dir().join("events.json")).unwrap()).unwrap();
    println!(
        "| mode | `Finalize` answered after | kind | turns | false cut-offs | dead air p50 / p95 ms |"
    );
    println!("|---|---|---|---:|---:|---|");
    // (mode, finalize ms, kind, cut-offs, dead air p50)
    let mut table = Vec::new();
    let mut early_lines = Vec::new();
    for (mode, finalize_frames) in [
        (Mode::Endpointing, 0),
        (Mode::ByMeaning, 0),
        (Mode::EarlyReplies, 0),
        (Mode::ByMeaning, SLOW_FINALIZE_FRAMES),
        (Mode::EarlyReplies, SLOW_FINALIZE_FRAMES),
    ] {
        let finalize_ms = finalize_frames * 20;
        let mut outcomes = Vec::new();
        for turn in &corpus.events {
            outcomes.push(replay(turn, mode, finalize_frames).await);
        }
        for kind in [
            "complete",
            "paused, first part unfinished",
            "paused, first part complete",
        ] {
            let of_kind: Vec<&Outcome> = outcomes.iter().filter(|o| o.kind == kind).collect();
            let cut = of_kind.iter().filter(|o| o.cut_off).count();
            let dead: Vec<u64> = of_kind.iter().filter_map(|o| o.dead_air_ms).collect();
            let (p50, p95) = (percentile(&dead, 0.5), percentile(&dead, 0.95));
            let when = if mode == Mode::Endpointing {
                "-".to_owned()
            } else {
                format!("{finalize_ms} ms")
            };
            println!(
                "| {} | {when} | {kind} | {} | {cut} | {p50} / {p95} |",
                mode.name(),
                of_kind.len()
            );
            table.push((mode, finalize_ms, kind, cut, p50));
        }
        if mode == Mode::EarlyReplies {
            let requests: usize = outcomes.iter().map(|o| o.llm_requests).sum();
            let cancelled: usize = outcomes.iter().map(|o| o.llm_cancelled).sum();
            let used = outcomes.iter().filter(|o| o.early_used).count();
            early_lines.push(format!(
                "early replies, `Finalize` after {finalize_ms} ms: {used} of {} first replies \
                 were early; {requests} LLM requests, {cancelled} of them cancelled or dropped",
                corpus.events.len()
            ));
            assert!(used > 0, "no early reply was ever used");
        }
    }
    for line in early_lines {
        println!("{line}");
    }
    let row = |mode: Mode, finalize_ms: u64| {
        table
            .iter()
            .filter(|t| t.0 == mode && (mode == Mode::Endpointing || t.1 == finalize_ms))
            .collect::<Vec<_>>()
    };
    let cuts =
        |mode: Mode, finalize_ms: u64| row(mode, finalize_ms).iter().map(|t| t.3).sum::<usize>();
    let dead = |mode: Mode, finalize_ms: u64| {
        row(mode, finalize_ms)
            .iter()
            .find(|t| t.2 == "complete")
            .map(|t| t.4)
            .unwrap()
    };
    let slow = SLOW_FINALIZE_FRAMES * 20;
    for (mode, finalize_ms) in [
        (Mode::ByMeaning, 0),
        (Mode::EarlyReplies, 0),
        (Mode::ByMeaning, slow),
        (Mode::EarlyReplies, slow),
    ] {
        assert!(
            cuts(mode, finalize_ms) <= cuts(Mode::Endpointing, 0),
            "{} with Finalize after {finalize_ms} ms: more false cut-offs: {} > {}",
            mode.name(),
            cuts(mode, finalize_ms),
            cuts(Mode::Endpointing, 0)
        );
    }
    let before = dead(Mode::Endpointing, 0);
    // With a prompt `Finalize`, deciding by meaning alone saves the endpointing wait...
    assert!(
        dead(Mode::ByMeaning, 0) + 150 <= before,
        "dead air after complete turns p50 {before} -> {} ms",
        dead(Mode::ByMeaning, 0)
    );
    // ...and with a slow one, early replies win the wait back.
    assert!(
        dead(Mode::EarlyReplies, slow) + 150 <= before,
        "early replies, slow Finalize: dead air p50 {before} -> {} ms",
        dead(Mode::EarlyReplies, slow)
    );
    assert!(dead(Mode::EarlyReplies, slow) < dead(Mode::ByMeaning, slow));
}
