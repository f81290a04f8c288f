//! Throughput of the per-call audio paths: `cargo bench -p audio-codec`.
//!
//! Item counters are samples (or bytes for the framer), so divan prints samples per second.
//! One minute of 8 kHz audio is 480 000 samples; the resampler benches process one second of
//! input, so "1 s / median time" is the realtime factor.

use std::hint::black_box;

use audio_codec::{
    EnergyVad, EnergyVadConfig, FRAME_BYTES, Framer, Resampler, decode_mulaw, encode_mulaw,
};
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};

fn main() {
    divan::main();
}

/// One minute of telephone audio.
const N_SAMPLES: usize = 8000 * 60;

/// A deterministic speech-like test signal: two tones plus noise, about -12 dBFS.
fn pcm(rate_hz: u32, n_samples: usize) -> Vec<i16> {
    let mut noise_state = 0x1234_5678_u32;
    (0..n_samples)
        .map(|idx| {
            noise_state = noise_state
                .wrapping_mul(1_664_525)
                .wrapping_add(1_013_904_223);
            let noise = f64::from((noise_state >> 16) as i16 >> 4);
            let t = idx as f64 / f64::from(rate_hz);
            let tones = 5000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                + 3000.0 * (2.0 * std::f64::consts::PI * 1900.0 * t).sin();
            (tones + noise) as i16
        })
        .collect()
}

fn mulaw(n_samples: usize) -> Vec<u8> {
    let mut res = Vec::new();
    encode_mulaw(&pcm(8000, n_samples), &mut res);
    res
}

#[divan::bench]
fn decode(bencher: Bencher) {
    let input = mulaw(N_SAMPLES);
    let mut out = Vec::with_capacity(N_SAMPLES);
    bencher.counter(ItemsCount::new(N_SAMPLES)).bench_local(|| {
        out.clear();
        decode_mulaw(black_box(&input), &mut out);
        black_box(&out);
    });
}

/// The same decode through a table of our own, to see whether one would help:
/// `audio-codec-algorithms` already decodes through a static 256-entry table.
#[divan::bench]
fn decode_own_table(bencher: Bencher) {
    let table: [i16; 256] = std::array::from_fn(|idx| audio_codec::decode_mulaw_sample(idx as u8));
    let input = mulaw(N_SAMPLES);
    let mut out = Vec::with_capacity(N_SAMPLES);
    bencher.counter(ItemsCount::new(N_SAMPLES)).bench_local(|| {
        out.clear();
        out.extend(
            black_box(&input)
                .iter()
                .map(|&byte| table[usize::from(byte)]),
        );
        black_box(&out);
    });
}

#[divan::bench]
fn encode(bencher: Bencher) {
    let input = pcm(8000, N_SAMPLES);
    let mut out = Vec::with_capacity(N_SAMPLES);
    bencher.counter(ItemsCount::new(N_SAMPLES)).bench_local(|| {
        out.clear();
        encode_mulaw(black_box(&input), &mut out);
        black_box(&out);
    });
}

/// TTS audio arriving in odd-sized chunks, re-cut into 160-byte frames.
#[divan::bench(args = [37, 777, 4096])]
fn framer(bencher: Bencher, chunk_len: usize) {
    let input = mulaw(N_SAMPLES);
    bencher.counter(BytesCount::new(N_SAMPLES)).bench_local(|| {
        let mut framer = Framer::new();
        let mut checksum = 0_u32;
        for chunk in black_box(&input).chunks(chunk_len) {
            for frame in framer.push(chunk) {
                checksum = checksum.wrapping_add(u32::from(frame[FRAME_BYTES - 1]));
            }
        }
        if let Some(last) = framer.finish() {
            checksum = checksum.wrapping_add(u32::from(last[0]));
        }
        checksum
    });
}

#[divan::bench]
fn vad_mulaw_frames(bencher: Bencher) {
    let input = mulaw(N_SAMPLES);
    bencher.counter(ItemsCount::new(N_SAMPLES)).bench_local(|| {
        let mut vad = EnergyVad::new(EnergyVadConfig::default()).unwrap();
        let mut n_events = 0_u32;
        for frame in black_box(&input).chunks_exact(FRAME_BYTES) {
            n_events += u32::from(vad.push_mulaw(frame).is_some());
        }
        n_events
    });
}

/// One second of input, fed in 20 ms pieces through a reused streaming `Resampler`.
#[divan::bench(args = [(24000, 8000), (16000, 8000), (22050, 8000), (8000, 16000), (8000, 24000)])]
fn resample_one_second(bencher: Bencher, (from_hz, to_hz): (u32, u32)) {
    let input = pcm(from_hz, from_hz as usize);
    let mut resampler = Resampler::new(from_hz, to_hz).unwrap();
    let mut out = Vec::with_capacity(to_hz as usize + 1024);
    bencher
        .counter(ItemsCount::new(input.len()))
        .bench_local(|| {
            out.clear();
            for piece in black_box(&input).chunks(from_hz as usize / 50) {
                resampler.process_i16(piece, &mut out).unwrap();
            }
            resampler.finish_i16(&mut out).unwrap();
            black_box(&out);
        });
}
