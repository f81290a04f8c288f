//! The barge-in corpus replayed against the real `run_call`.
//!
//! `fixtures/corpus/barge-in/events.json` labels 151 overlap events: backchannels and real
//! interruptions spoken by espeak-ng in 18 voices, and noises made by sox (clicks, bursts, door
//! thumps, coughs, shop noise from -45 to -20 dBFS). `cargo xtask corpus barge-in` makes their
//! clips. Here each event is played by the simulated caller 3 s into a long reply, through the
//! real phone reader, energy VAD, floor and playback; the scripted recogniser answers with the
//! event's label as Deepgram would (an interim about 250 ms after the first loud frame, the final
//! 300 ms after the clip ends; nothing for a noise). The table is printed, and the targets of
//! docs/performance.md are asserted.

// The table is this test's report (`cargo test -p call-pipeline --test it corpus -- --nocapture`).
#![allow(clippy::print_stdout)]

use std::{path::PathBuf, sync::Arc};

use providers::fake::{
    LlmReply, SttScript, SttScriptEvent as Ev, SttTrigger::AfterAudioFrames as Frames,
};
use serde::Deserialize;
use twilio::media::Outbound;

use crate::harness::{CallerAction, Scenario, ms, run};

const REPLY: &str = "Our brake service starts with an inspection of the pads and rotors. Then we \
    replace what is worn, check the fluid and test drive the car. It usually takes about two hours, \
    and we will call you before we do anything that costs more than the quote.";
/// The first caller utterance ends the call's frame 250 (5 s); the reply then plays for ~10 s.
const EVENT_AT_MS: u64 = 250 * 20 + 3_000;

#[derive(Debug, Deserialize)]
struct Corpus {
    events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    kind: String,
    transcript: String,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/corpus/barge-in")
}

/// What happened to one event.
#[derive(Debug)]
struct Result {
    kind: String,
    id: String,
    interrupted: bool,
    reply_kept: bool,
    /// First loud frame -> `clear`, when both happened.
    onset_to_clear_ms: Option<u64>,
    /// `clear` -> the agent's audio again (a resumed pause).
    clear_to_resume_ms: Option<u64>,
}

async fn replay(event: &Event, clip: Arc<[u8]>) -> Result {
    let frames = (clip.len() / 160) as u64;
    let onset = clip
        .chunks(160)
        .position(|frame| audio_codec::dbfs_mulaw(frame) >= -35.0)
        .map(|f| f as u64);
    let event_frame = EVENT_AT_MS / 20;
    let mut stt =
        SttScript::new().step(Frames(250), Ev::speech_final("tell me about brake service"));
    if !event.transcript.is_empty() {
        let interim = (event_frame + onset.unwrap_or(0) + 13).min(event_frame + frames + 5);
        stt = stt
            .step(Frames(interim), Ev::interim(&event.transcript))
            .step(
                Frames(event_frame + frames + 15),
                Ev::speech_final(&event.transcript),
            );
    }
    let report = run(Scenario {
        stt,
        llm: vec![
            LlmReply::text(REPLY, ms(20)),
            LlmReply::text("Sure, go ahead.", ms(20)),
        ],
        actions: vec![
            (ms(EVENT_AT_MS), CallerAction::Play(clip)),
            (ms(EVENT_AT_MS + 14_000), CallerAction::HangUp),
        ],
        ..Scenario::default()
    })
    .await;
    let clear_at = report
        .sent
        .iter()
        .find(|(at, m)| *at >= ms(EVENT_AT_MS) && matches!(m, Outbound::Clear { .. }))
        .map(|(at, _)| *at);
    let onset_at = onset.map(|f| ms(EVENT_AT_MS + f * 20));
    let resume_at = clear_at.and_then(|clear| {
        report
            .sent
            .iter()
            .find(|(at, m)| *at > clear && matches!(m, Outbound::Media { .. }))
            .map(|(at, _)| *at)
    });
    Result {
        kind: event.kind.clone(),
        id: event.id.clone(),
        interrupted: report.outcome.barge_ins > 0,
        reply_kept: report.assistant_lines().iter().any(|line| line == REPLY),
        onset_to_clear_ms: clear_at
            .zip(onset_at)
            .map(|(clear, onset)| clear.saturating_sub(onset).as_millis() as u64),
        clear_to_resume_ms: clear_at
            .zip(resume_at)
            .filter(|_| report.outcome.barge_ins == 0)
            .map(|(clear, resume)| (resume - clear).as_millis() as u64),
    }
}

fn percentile(values: &[u64], p: f64) -> Option<u64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied()
}

fn cell(values: &[u64]) -> String {
    match (percentile(values, 0.5), percentile(values, 0.95)) {
        (Some(p50), Some(p95)) => format!("{p50} / {p95}"),
        _ => "-".to_owned(),
    }
}

#[tokio::test(start_paused = true)]
async fn the_barge_in_corpus_meets_its_targets() {
    let corpus: Corpus =
        serde_json::from_slice(&std::fs::read(dir().join("events.json")).unwrap()).unwrap();
    assert!(corpus.events.len() >= 100);
    let mut results = Vec::new();
    for event in &corpus.events {
        let clip: Arc<[u8]> = std::fs::read(dir().join("clips").join(format!("{}.ulaw", event.id)))
            .unwrap_or_else(|err| panic!("{}: {err} (cargo xtask corpus barge-in)", event.id))
            .into();
        results.push(replay(event, clip).await);
    }
    println!(
        "| kind | events | paused (clear) | interrupted | reply kept | onset → clear p50 / p95 ms | clear → resume p50 / p95 ms |"
    );
    println!("|---|---:|---:|---:|---:|---|---|");
    for kind in ["backchannel", "noise", "interruption"] {
        let of_kind: Vec<&Result> = results.iter().filter(|r| r.kind == kind).collect();
        let clears: Vec<u64> = of_kind.iter().filter_map(|r| r.onset_to_clear_ms).collect();
        let resumes: Vec<u64> = of_kind
            .iter()
            .filter_map(|r| r.clear_to_resume_ms)
            .collect();
        println!(
            "| {kind} | {} | {} | {} | {} | {} | {} |",
            of_kind.len(),
            clears.len(),
            of_kind.iter().filter(|r| r.interrupted).count(),
            of_kind.iter().filter(|r| r.reply_kept).count(),
            cell(&clears),
            cell(&resumes),
        );
    }
    let missed: Vec<&str> = results
        .iter()
        .filter(|r| r.kind == "interruption" && !r.interrupted)
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        missed.is_empty(),
        "interruptions that did not stop the agent: {missed:?}"
    );
    let listening: Vec<&Result> = results
        .iter()
        .filter(|r| r.kind != "interruption")
        .collect();
    let lost: Vec<&str> = listening
        .iter()
        .filter(|r| r.interrupted || !r.reply_kept)
        .map(|r| r.id.as_str())
        .collect();
    println!("backchannels and noises that cost the agent its reply: {lost:?}");
    assert!(
        lost.len() * 10 <= listening.len(),
        "more than 10 % of backchannels and noises cost the reply: {lost:?}"
    );
    let clears: Vec<u64> = results.iter().filter_map(|r| r.onset_to_clear_ms).collect();
    let p95 = percentile(&clears, 0.95).expect("some events paused the agent");
    assert!(p95 < 250, "onset to clear p95 {p95} ms");
}
