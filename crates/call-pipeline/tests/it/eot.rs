//! The end-of-turn corpus replayed against the real `run_call`, with and without deciding the end
//! of the turn from the caller's words (`PipelineConfig::turn_end_by_meaning`).
//!
//! `fixtures/corpus/end-of-turn` (made by `cargo xtask corpus end-of-turn`): 30 complete
//! utterances and 40 said in two parts with a 300 to 900 ms pause, espeak-ng in 8 voices. A
//! recogniser that behaves like Deepgram's live API with 300 ms endpointing answers from the
//! labelled frame ranges: interims every 240 ms with the words said so far (an even speaking
//! rate), a `speech_final` 300 ms after a part
//! when the silence after it lasts that long, and a `Finalize` answered at once with what was
//! heard. A false cut-off is agent audio sent before the caller's last part ended; dead air is the
//! time from the caller's last frame to the agent's first audio.

// The table is this test's report (`cargo test -p call-pipeline --test it eot -- --nocapture`).
#![allow(clippy::print_stdout)]

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use futures::FutureExt;
use providers::{
    ProviderError, SpeechToText, SttCommand, SttEvent, SttHandle, SttOptions, SttSession,
    Transcript, fake::LlmReply,
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
        let driver = async move {
            let mut frame = 0_u64;
            let mut done = vec![false; parts.len()];
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
                        let heard = parts.iter().rposition(|p| p.start_frame <= frame);
                        match heard {
                            Some(idx) if !done[idx] => {
                                out.push(result(open_text(&done, idx), true, false, true));
                                done[..=idx].fill(true);
                            }
                            _ => out.push(result(String::new(), true, false, true)),
                        }
                    }
                    SttCommand::Close => break,
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
    /// Caller's last frame -> the agent's first audio, when not cut off.
    dead_air_ms: Option<u64>,
}

async fn replay(turn: &Turn, by_meaning: bool) -> Outcome {
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
        })),
        llm: (0..3)
            .map(|_| LlmReply::text("Sure, I can help with that.", ms(20)))
            .collect(),
        actions: vec![
            (ms(CLIP_AT_MS), CallerAction::Play(clip)),
            (ms(CLIP_AT_MS + 12_000), CallerAction::HangUp),
        ],
        ..Scenario::default()
    };
    scenario.config.turn_end_by_meaning = by_meaning;
    let report = run(scenario).await;
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
    println!("| mode | kind | turns | false cut-offs | dead air p50 / p95 ms |");
    println!("|---|---|---:|---:|---|");
    let mut table = Vec::new();
    for by_meaning in [false, true] {
        let mut outcomes = Vec::new();
        for turn in &corpus.events {
            outcomes.push(replay(turn, by_meaning).await);
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
            println!(
                "| {} | {kind} | {} | {cut} | {p50} / {p95} |",
                if by_meaning {
                    "by meaning"
                } else {
                    "endpointing only"
                },
                of_kind.len()
            );
            table.push((by_meaning, kind, cut, p50));
        }
    }
    let get = |by_meaning: bool, kind: &str| {
        table
            .iter()
            .find(|(m, k, _, _)| *m == by_meaning && *k == kind)
            .map(|(_, _, cut, p50)| (*cut, *p50))
            .unwrap()
    };
    let cuts = |by_meaning: bool| {
        table
            .iter()
            .filter(|t| t.0 == by_meaning)
            .map(|t| t.2)
            .sum::<usize>()
    };
    let (cut_before, cut_after) = (cuts(false), cuts(true));
    assert!(
        cut_after <= cut_before,
        "more false cut-offs: {cut_after} > {cut_before}"
    );
    let (_, dead_before) = get(false, "complete");
    let (_, dead_after) = get(true, "complete");
    assert!(
        dead_after + 150 <= dead_before,
        "dead air after complete turns p50 {dead_before} -> {dead_after} ms"
    );
}
