//! `cargo xtask corpus barge-in`: makes the barge-in corpus's audio from its labels.
//!
//! `fixtures/corpus/barge-in/events.json` lists overlap events (what a caller does while the agent
//! speaks): backchannels and real interruptions spoken by espeak-ng in several voices, rates and
//! pitches, and non-speech noises synthesised by sox (clicks, bursts, door thumps, coughs, shop
//! noise at several levels). Each becomes `clips/<id>.ulaw`: 8 kHz μ-law, whole 20 ms frames.
//! sox runs with a fixed seed (`-R`), so the files come out the same each time. The clips are
//! committed; `crates/call-pipeline/tests/it/corpus.rs` replays them against the real pipeline.

use std::{path::Path, process::Command};

use anyhow::{Context, bail};
use audio_codec::FRAME_BYTES;
use serde::Deserialize;

const DIR: &str = "fixtures/corpus/barge-in";
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
        _ => bail!("usage: cargo xtask corpus barge-in   (needs espeak-ng and sox)"),
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

/// A WAV file as 8 kHz μ-law padded to whole 20 ms frames.
fn to_mulaw(wav: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(wav)?;
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
