//! Telephone audio as plain functions: G.711 μ-law, resampling, 20 ms framing, energy and WAV.
//!
//! Twilio Media Streams carry 8 kHz mono μ-law in 160-byte / 20 ms frames.
//! This crate converts that audio and nothing else:
//!
//! - `decode_mulaw` / `encode_mulaw` turn μ-law bytes into 16-bit linear samples and back
//!   (the ITU G.191 encoder, via `audio-codec-algorithms`).
//! - `Resampler` (streaming, buffers reused) and `resample_i16` / `resample_f32` (one clip)
//!   convert between 8, 16, 22.05 and 24 kHz with a windowed-sinc anti-aliasing filter (rubato).
//! - `Framer` re-chunks bytes arriving in arbitrary sizes into `FRAME_BYTES`-byte frames,
//!   padding the last one with `MULAW_SILENCE`.
//! - `rms_pcm16`, `dbfs_mulaw` and friends measure frame energy; `EnergyVad` turns it into
//!   `VadEvent::SpeechStart` / `VadEvent::SpeechEnd` with hysteresis, for fast barge-in and tests.
//! - `read_wav` / `write_wav_pcm16` / `write_wav_mulaw` handle WAV fixtures and replay output
//!   through readers and writers the caller opens.
//! - `voice_pattern` and `mean_abs_mulaw` are the voice-like test signal and the loudness test
//!   of simulated callers and simulated vendors (the bench, `deepgram::sim`).
//!
//! Everything is synchronous and allocation-conscious: the per-frame paths append into
//! caller-owned buffers and never allocate once those have grown.
//! Errors are one plain-data enum, `Error`.
//!
//! Must not depend on: tokio or any async runtime, network or file IO (WAV goes through caller's
//! `Read` / `Write` values), the clock, or other workspace crates.

mod error;
mod framer;
mod mulaw;
mod resample;
mod signal;
mod vad;
mod wav;

pub use error::Error;
pub use framer::{Framer, Frames};
pub use mulaw::{
    FRAME_BYTES, FRAME_DURATION, MULAW_SILENCE, SAMPLE_RATE_HZ, decode_mulaw, decode_mulaw_sample,
    encode_mulaw, encode_mulaw_sample,
};
pub use resample::{Resampler, resample_f32, resample_i16};
pub use signal::{mean_abs_mulaw, voice_pattern};
pub use vad::{
    EnergyVad, EnergyVadConfig, MIN_DBFS, VadEvent, dbfs_from_rms, dbfs_mulaw, dbfs_pcm16,
    rms_mulaw, rms_pcm16,
};
pub use wav::{WavAudio, read_wav, write_wav_mulaw, write_wav_pcm16};
