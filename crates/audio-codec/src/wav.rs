//! WAV read and write (via hound) for fixtures and replay output.
//!
//! The caller opens the file (or passes a `Cursor`); this module never touches the filesystem.

#[cfg(test)]
mod tests;

use std::io::{Read, Seek, Write};

use audio_codec_algorithms::decode_ulaw;

use crate::Error;
use crate::mulaw::SAMPLE_RATE_HZ;

/// Mono 16-bit audio read from a WAV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    /// The file's sample rate.
    pub sample_rate_hz: u32,
    /// The samples; files with several channels are averaged down to one.
    pub samples: Vec<i16>,
}

/// Reads a 16-bit integer PCM WAV file of any rate and channel count, mixing it down to mono.
///
/// Other sample formats (8/24/32-bit, float) are `Error::WavUnsupported`; damaged files are
/// `Error::WavMalformed` and reader failures `Error::WavIo`.
pub fn read_wav<R: Read>(reader: R) -> Result<WavAudio, Error> {
    let mut wav = hound::WavReader::new(reader).map_err(wav_error)?;
    let spec = wav.spec();
    if spec.sample_format != hound::SampleFormat::Int
        || spec.bits_per_sample != 16
        || spec.channels == 0
    {
        return Err(Error::WavUnsupported {
            bits_per_sample: spec.bits_per_sample,
            sample_format: match spec.sample_format {
                hound::SampleFormat::Int => "int",
                hound::SampleFormat::Float => "float",
            },
            channels: spec.channels,
        });
    }
    let n_channels = usize::from(spec.channels);
    let mut samples = Vec::with_capacity(wav.len() as usize / n_channels);
    if n_channels == 1 {
        for sample in wav.samples::<i16>() {
            samples.push(sample.map_err(wav_error)?);
        }
    } else {
        let mut frame_sum = 0_i32;
        for (sample_idx, sample) in wav.samples::<i16>().enumerate() {
            frame_sum += i32::from(sample.map_err(wav_error)?);
            if sample_idx % n_channels == n_channels - 1 {
                // The mean of i16 values always fits in an i16.
                samples.push((frame_sum / spec.channels as i32) as i16);
                frame_sum = 0;
            }
        }
    }
    Ok(WavAudio {
        sample_rate_hz: spec.sample_rate,
        samples,
    })
}

/// Writes mono 16-bit PCM samples as a WAV file.
pub fn write_wav_pcm16<W: Write + Seek>(
    writer: W,
    samples: &[i16],
    sample_rate_hz: u32,
) -> Result<(), Error> {
    write_mono(writer, sample_rate_hz, samples.iter().copied())
}

/// Decodes 8 kHz μ-law bytes (a call's audio) and writes them as a 16-bit PCM WAV file,
/// which any player opens.
pub fn write_wav_mulaw<W: Write + Seek>(writer: W, mulaw: &[u8]) -> Result<(), Error> {
    write_mono(
        writer,
        SAMPLE_RATE_HZ,
        mulaw.iter().map(|&byte| decode_ulaw(byte)),
    )
}

fn write_mono<W: Write + Seek>(
    writer: W,
    sample_rate_hz: u32,
    samples: impl Iterator<Item = i16>,
) -> Result<(), Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sample_rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::new(writer, spec).map_err(wav_error)?;
    for sample in samples {
        wav.write_sample(sample).map_err(wav_error)?;
    }
    wav.finalize().map_err(wav_error)
}

/// Keeps hound's error type out of our API.
fn wav_error(err: hound::Error) -> Error {
    match err {
        hound::Error::IoError(io) => Error::WavIo(io),
        other => Error::WavMalformed {
            reason: other.to_string(),
        },
    }
}
