//! `cargo xtask corpus barge-in|end-of-turn`: makes a corpus's audio from its labels.
//!
//! `fixtures/corpus/barge-in/events.json` lists overlap events (what a caller does while the agent
//! speaks): backchannels and real interruptions spoken by espeak-ng in several voices, rates and
//! pitches, and non-speech noises synthesised by sox (clicks, bursts, door thumps, coughs, shop
//! noise at several levels). Each becomes `clips/<id>.ulaw`: 8 kHz μ-law, whole 20 ms frames.
//! sox runs with a fixed seed (`-R`), so the files come out the same each time. The clips are
//! committed; `crates/call-pipeline/tests/it/corpus.rs` replays them against the real pipeline.
//!
//! `fixtures/corpus/end-of-turn/events.json` lists caller turns: complete utterances, and
//! utterances said in two parts with a pause of 300 to 900 ms between them. Each becomes
//! `clips/<id>.ulaw` (the parts and the silence between them) plus `clips/<id>.json`, the frame
//! range of each part, which the replay's recogniser uses to know which words it is hearing.

use std::{path::Path, process::Command};

use anyhow::{Context, bail};
use audio_codec::FRAME_BYTES;
use serde::Deserialize;

const DIR: &str = "fixtures/corpus/barge-in";
const EOT_DIR: &str = "fixtures/corpus/end-of-turn";
const SILENCE: u8 = 0xFF;

#[derive(Debug, Deserialize)]
struct Corpus {
    events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    voice: Option<String>,
    #[serde(default)]
    rate: Option<u32>,
    #[serde(default)]
    pitch: Option<u32>,
    #[serde(default)]
    sox: Option<Vec<String>>,
}

pub(crate) fn main(args: Vec<String>) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("barge-in") => make(Path::new(DIR)),
        Some("end-of-turn") => make_end_of_turn(Path::new(EOT_DIR)),
        _ => bail!("usage: cargo xtask corpus barge-in|end-of-turn   (needs espeak-ng and sox)"),
    }
}

fn make(dir: &Path) -> anyhow::Result<()> {
    let corpus: Corpus = serde_json::from_slice(
        &std::fs::read(dir.join("events.json")).context("reading events.json")?,
    )
    .context("parsing events.json")?;
    let clips = dir.join("clips");
    std::fs::create_dir_all(&clips)?;
    let tmp = tempfile::tempdir()?;
    for event in &corpus.events {
        let wav = tmp.path().join(format!("{}.wav", event.id));
        let status = match (event.kind.as_str(), &event.sox, &event.text) {
            ("noise", Some(args), _) => Command::new("sox")
                .args([
                    "-R", "-n", "-r", "8000", "-c", "1", "-e", "signed", "-b", "16",
                ])
                .arg(&wav)
                .args(args)
                .status()
                .context("running sox (apt-get install sox)")?,
            (_, _, Some(text)) => Command::new("espeak-ng")
                .args(["-v", event.voice.as_deref().unwrap_or("en-us")])
                .args(["-s", &event.rate.unwrap_or(170).to_string()])
                .args(["-p", &event.pitch.unwrap_or(50).to_string()])
                .arg("-w")
                .arg(&wav)
                .arg(text)
                .status()
                .context("running espeak-ng (apt-get install espeak-ng)")?,
            _ => bail!("{}: neither sox arguments nor text", event.id),
        };
        if !status.success() {
            bail!("{}: making the audio failed ({status})", event.id);
        }
        let mulaw = to_mulaw(&wav).with_context(|| event.id.clone())?;
        std::fs::write(clips.join(format!("{}.ulaw", event.id)), mulaw)?;
    }
    println!("wrote {} clips to {}", corpus.events.len(), clips.display());
    Ok(())
}

#[derive(Debug, Deserialize)]
struct TurnCorpus {
    events: Vec<Turn>,
}

#[derive(Debug, Deserialize)]
struct Turn {
    id: String,
    segments: Vec<String>,
    pauses_ms: Vec<u32>,
    voice: String,
    rate: u32,
}

fn make_end_of_turn(dir: &Path) -> anyhow::Result<()> {
    let corpus: TurnCorpus = serde_json::from_slice(
        &std::fs::read(dir.join("events.json")).context("reading events.json")?,
    )
    .context("parsing events.json")?;
    let clips = dir.join("clips");
    std::fs::create_dir_all(&clips)?;
    let tmp = tempfile::tempdir()?;
    for turn in &corpus.events {
        let mut audio = Vec::new();
        let mut ranges = Vec::new();
        for (idx, text) in turn.segments.iter().enumerate() {
            if idx > 0 {
                let pause = turn.pauses_ms.get(idx - 1).copied().unwrap_or(500) as usize;
                audio.resize(audio.len() + pause / 20 * FRAME_BYTES, SILENCE);
            }
            let wav = tmp.path().join(format!("{}-{idx}.wav", turn.id));
            let status = Command::new("espeak-ng")
                .args(["-v", &turn.voice, "-s", &turn.rate.to_string(), "-w"])
                .arg(&wav)
                .arg(text)
                .status()
                .context("running espeak-ng (apt-get install espeak-ng)")?;
            if !status.success() {
                bail!("{}: espeak-ng failed ({status})", turn.id);
            }
            let part = trim_silence(to_mulaw(&wav).with_context(|| turn.id.clone())?);
            let start = audio.len() / FRAME_BYTES;
            audio.extend_from_slice(&part);
            ranges.push(serde_json::json!({
                "text": text,
                "start_frame": start,
                "end_frame": audio.len() / FRAME_BYTES,
            }));
        }
        std::fs::write(clips.join(format!("{}.ulaw", turn.id)), &audio)?;
        std::fs::write(
            clips.join(format!("{}.json", turn.id)),
            serde_json::to_string_pretty(&serde_json::json!({ "segments": ranges }))?,
        )?;
    }
    println!("wrote {} turns to {}", corpus.events.len(), clips.display());
    Ok(())
}

/// Drops espeak-ng's leading and trailing quiet frames, so the pauses are what the labels say.
fn trim_silence(audio: Vec<u8>) -> Vec<u8> {
    let loud = |frame: &[u8]| audio_codec::dbfs_mulaw(frame) >= -50.0;
    let frames: Vec<&[u8]> = audio.chunks(FRAME_BYTES).collect();
    let first = frames.iter().position(|f| loud(f)).unwrap_or(0);
    let last = frames.iter().rposition(|f| loud(f)).map_or(0, |l| l + 1);
    frames[first..last.max(first)].concat()
}

/// A WAV file as 8 kHz μ-law padded to whole 20 ms frames.
fn to_mulaw(wav: &Path) -> anyhow::Result<Vec<u8>> {
    wav_to_mulaw_frames(std::fs::read(wav)?)
}

/// WAV bytes (any rate) as 8 kHz μ-law in whole 20 ms frames, the last padded with silence.
pub(crate) fn wav_to_mulaw_frames(bytes: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let wav = audio_codec::read_wav(std::io::Cursor::new(bytes))
        .map_err(|err| anyhow::anyhow!("reading the WAV: {err}"))?;
    let samples = audio_codec::resample_i16(&wav.samples, wav.sample_rate_hz, 8000)
        .map_err(|err| anyhow::anyhow!("resampling: {err}"))?;
    let mut mulaw = Vec::new();
    audio_codec::encode_mulaw(&samples, &mut mulaw);
    let frames = mulaw.len().div_ceil(FRAME_BYTES);
    mulaw.resize(frames * FRAME_BYTES, SILENCE);
    Ok(mulaw)
}
