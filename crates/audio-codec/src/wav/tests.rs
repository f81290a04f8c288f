use std::io::Cursor;

use super::*;
use crate::mulaw::{decode_mulaw, encode_mulaw};

fn write_to_vec(write: impl FnOnce(&mut Cursor<Vec<u8>>) -> Result<(), Error>) -> Vec<u8> {
    let mut cursor = Cursor::new(Vec::new());
    write(&mut cursor).unwrap();
    cursor.into_inner()
}

fn wav_bytes(spec: hound::WavSpec, samples: &[i32]) -> Vec<u8> {
    let mut cursor = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for &sample in samples {
        if spec.sample_format == hound::SampleFormat::Float {
            writer.write_sample(sample as f32 / 32768.0).unwrap();
        } else {
            writer.write_sample(sample).unwrap();
        }
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

fn spec(channels: u16, bits_per_sample: u16, sample_format: hound::SampleFormat) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: 24000,
        bits_per_sample,
        sample_format,
    }
}

#[test]
fn pcm16_round_trips_with_its_rate() {
    let samples: Vec<i16> = vec![0, 1, -1, i16::MAX, i16::MIN, 1234, -4321];
    let bytes = write_to_vec(|out| write_wav_pcm16(out, &samples, 22050));
    // 44-byte canonical header plus two bytes per sample.
    assert_eq!(bytes.len(), 44 + 2 * samples.len());
    let audio = read_wav(Cursor::new(bytes)).unwrap();
    assert_eq!(
        audio,
        WavAudio {
            sample_rate_hz: 22050,
            samples
        }
    );
}

#[test]
fn mulaw_is_written_as_decoded_8k_pcm() {
    let mulaw: Vec<u8> = (0..=u8::MAX).collect();
    let bytes = write_to_vec(|out| write_wav_mulaw(out, &mulaw));
    let audio = read_wav(Cursor::new(bytes)).unwrap();
    assert_eq!(audio.sample_rate_hz, 8000);
    let mut expected = Vec::new();
    decode_mulaw(&mulaw, &mut expected);
    assert_eq!(audio.samples, expected);
    // And it encodes back to the same bytes (0x7F, negative zero, becomes 0xFF).
    let mut reencoded = Vec::new();
    encode_mulaw(&audio.samples, &mut reencoded);
    let expected_bytes: Vec<u8> = mulaw
        .iter()
        .map(|&b| if b == 0x7F { 0xFF } else { b })
        .collect();
    assert_eq!(reencoded, expected_bytes);
}

#[test]
fn stereo_is_averaged_to_mono() {
    let bytes = wav_bytes(
        spec(2, 16, hound::SampleFormat::Int),
        &[100, 300, -32768, -32768, 32767, -32768, 5, 6],
    );
    let audio = read_wav(Cursor::new(bytes)).unwrap();
    assert_eq!(audio.sample_rate_hz, 24000);
    assert_eq!(audio.samples, [200, -32768, 0, 5]);
}

#[test]
fn other_sample_formats_are_unsupported() {
    let cases = [
        (spec(1, 8, hound::SampleFormat::Int), "int", 8),
        (spec(1, 24, hound::SampleFormat::Int), "int", 24),
        (spec(2, 32, hound::SampleFormat::Float), "float", 32),
    ];
    for (spec, format, bits) in cases {
        let bytes = wav_bytes(spec, &[1, 2]);
        let err = read_wav(Cursor::new(bytes)).unwrap_err();
        assert!(
            matches!(err, Error::WavUnsupported { bits_per_sample, sample_format, channels }
                if bits_per_sample == bits && sample_format == format && channels == spec.channels),
            "{err:?}"
        );
    }
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let err = read_wav(Cursor::new(b"not a wav file at all".to_vec())).unwrap_err();
    assert!(
        matches!(err, Error::WavMalformed { .. } | Error::WavIo(_)),
        "{err:?}"
    );

    let mut bytes = write_to_vec(|out| write_wav_pcm16(out, &[1, 2, 3, 4], 8000));
    bytes.truncate(bytes.len() - 3);
    let err = read_wav(Cursor::new(bytes)).unwrap_err();
    assert!(
        matches!(err, Error::WavMalformed { .. } | Error::WavIo(_)),
        "{err:?}"
    );

    for len in 0..44 {
        let bytes = write_to_vec(|out| write_wav_pcm16(out, &[1, 2], 8000));
        assert!(
            read_wav(Cursor::new(&bytes[..len])).is_err(),
            "prefix of {len} bytes"
        );
    }
}

#[test]
fn writer_failures_are_io_errors() {
    struct FailingWriter;
    impl std::io::Write for FailingWriter {
        fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl std::io::Seek for FailingWriter {
        fn seek(&mut self, _pos: std::io::SeekFrom) -> std::io::Result<u64> {
            Ok(0)
        }
    }
    let err = write_wav_pcm16(FailingWriter, &[1, 2, 3], 8000).unwrap_err();
    assert!(matches!(err, Error::WavIo(_)), "{err:?}");
}
