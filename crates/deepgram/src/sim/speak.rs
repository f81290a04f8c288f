//! Deepgram Aura streaming TTS imitation (`/v1/speak`, docs/protocols.md, section 6).
//!
//! `Speak` appends text; `Flush` queues a job: `ms_per_char` of μ-law audio per character, its
//! first chunk `time_to_first_audio` after the flush (and never before the previous job is done),
//! then `chunk` sized binary frames paced at `speed` times real time, then
//! `{"type":"Flushed","sequence_id":n}` (n counts flushes from 0). `Clear` drops the text and every
//! queued job and answers `Cleared`. `Close` flushes what is left, sends it, and closes with 1000.
//! The audio is the voice-like pattern, so it is not silence to anyone listening.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::ws::{CloseFrame, Message, WebSocket},
};
use bytes::Bytes;
use tokio::time::{Instant, sleep_until};

use providers::sim::{Counters, SimState};

/// Settings of the TTS simulator: how it paces its audio.
pub type TtsSimConfig = providers::sim::TtsPacing;

/// Audio owed for one `Flush`.
#[derive(Debug)]
struct Job {
    sequence_id: u64,
    bytes_left: usize,
    not_before: Instant,
}

/// The `/v1/speak` WebSocket endpoint (the key goes in `Authorization: Token <key>`).
pub fn router(shared: Arc<SimState<TtsSimConfig>>) -> Router {
    super::endpoint("/v1/speak", shared, session)
}

async fn session(mut socket: WebSocket, shared: Arc<SimState<TtsSimConfig>>) {
    let config = &shared.config;
    let pattern = Bytes::from(audio_codec::voice_pattern());
    let chunk_bytes = config.chunk_bytes(pattern.len());
    let chunk_gap = config.chunk_gap();
    let metadata = super::speak_metadata("aura-2-bench-en");
    if socket.send(Message::Text(metadata.into())).await.is_err() {
        return;
    }
    let mut text = String::new();
    let mut jobs: VecDeque<Job> = VecDeque::new();
    let mut flushes = 0_u64;
    let mut closing = false;
    let mut offset = 0_usize;
    let mut next_send = Instant::now();
    loop {
        if closing && jobs.is_empty() {
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: 1000,
                    reason: "".into(),
                })))
                .await;
            return;
        }
        let due = jobs.front().map(|job| next_send.max(job.not_before));
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            () = shared.cancel.cancelled() => return,
            () = sleep_until(due.unwrap_or(far)), if due.is_some() => {
                let Some(job) = jobs.front_mut() else { continue };
                let now = Instant::now();
                if job.bytes_left > 0 {
                    let n = job.bytes_left.min(chunk_bytes);
                    if offset + n > pattern.len() {
                        offset = 0;
                    }
                    let frame: Bytes = pattern.slice(offset..offset + n);
                    offset += n;
                    job.bytes_left -= n;
                    next_send = now + chunk_gap;
                    if socket.send(Message::Binary(frame)).await.is_err() {
                        return;
                    }
                }
                if job.bytes_left == 0 {
                    let flushed = super::flushed(job.sequence_id);
                    jobs.pop_front();
                    if socket.send(Message::Text(flushed.into())).await.is_err() {
                        return;
                    }
                }
            }
            message = socket.recv() => {
                let text_message = match message {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                };
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&text_message) else {
                    continue;
                };
                match value.get("type").and_then(|t| t.as_str()) {
                    Some("Speak") => {
                        if let Some(more) = value.get("text").and_then(|t| t.as_str()) {
                            text.push_str(more);
                        }
                    }
                    Some("Flush") => {
                        Counters::bump(&shared.counters.flushes);
                        jobs.push_back(job_for(&mut text, &mut flushes, config));
                    }
                    Some("Clear") => {
                        Counters::bump(&shared.counters.clears);
                        text.clear();
                        jobs.clear();
                        let cleared = super::cleared(flushes);
                        if socket.send(Message::Text(cleared.into())).await.is_err() {
                            return;
                        }
                    }
                    Some("Close") => {
                        if !text.is_empty() {
                            jobs.push_back(job_for(&mut text, &mut flushes, config));
                        }
                        closing = true;
                    }
                    _ => {}
                }
            }
        }
    }
}

fn job_for(text: &mut String, flushes: &mut u64, config: &TtsSimConfig) -> Job {
    let job = Job {
        sequence_id: *flushes,
        bytes_left: config.audio_bytes_for(text),
        not_before: Instant::now() + config.time_to_first_audio,
    };
    *flushes += 1;
    text.clear();
    job
}
