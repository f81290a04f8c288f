use std::f64::consts::PI;

use proptest::prelude::*;

use super::*;

fn sine(freq_hz: f64, rate_hz: u32, len: usize, amplitude: f64) -> Vec<f32> {
    (0..len)
        .map(|idx| {
            (amplitude * (2.0 * PI * freq_hz * idx as f64 / f64::from(rate_hz)).sin()) as f32
        })
        .collect()
}

/// Amplitude of the `freq_hz` component of `samples` (a single-bin DFT over a window that
/// skips the first and last 10 % to keep start-up and tail transients out).
fn tone_amplitude(samples: &[f32], rate_hz: u32, freq_hz: f64) -> f64 {
    let skip = samples.len() / 10;
    let window = &samples[skip..samples.len() - skip];
    let omega = 2.0 * PI * freq_hz / f64::from(rate_hz);
    let (mut re, mut im) = (0.0, 0.0);
    for (idx, &sample) in window.iter().enumerate() {
        let phase = omega * (idx + skip) as f64;
        re += f64::from(sample) * phase.cos();
        im += f64::from(sample) * phase.sin();
    }
    2.0 * (re * re + im * im).sqrt() / window.len() as f64
}

/// Delay of the `freq_hz` component of `output` relative to `input`, in output samples
/// (positive: the output is late).
fn tone_delay(input: &[f32], from_hz: u32, output: &[f32], to_hz: u32, freq_hz: f64) -> f64 {
    fn phase(samples: &[f32], rate_hz: u32, freq_hz: f64) -> f64 {
        let omega = 2.0 * PI * freq_hz / f64::from(rate_hz);
        let skip = samples.len() / 10;
        let (mut re, mut im) = (0.0, 0.0);
        for (idx, &sample) in samples
            .iter()
            .enumerate()
            .take(samples.len() - skip)
            .skip(skip)
        {
            re += f64::from(sample) * (omega * idx as f64).cos();
            im += f64::from(sample) * (omega * idx as f64).sin();
        }
        im.atan2(re)
    }
    let phase_diff = phase(output, to_hz, freq_hz) - phase(input, from_hz, freq_hz);
    // Wrap to (-pi, pi]; the delays under test are far below half a period.
    let phase_diff = (phase_diff + PI).rem_euclid(2.0 * PI) - PI;
    phase_diff / (2.0 * PI * freq_hz) * f64::from(to_hz)
}

fn rms(samples: &[f32]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

#[track_caller]
fn check_one_second_length(from_hz: u32, to_hz: u32) {
    let input = sine(440.0, from_hz, from_hz as usize, 0.5);
    let output = resample_f32(&input, from_hz, to_hz).unwrap();
    assert_eq!(output.len(), to_hz as usize, "{from_hz} -> {to_hz}");
}

#[test]
fn one_second_clip_has_exact_length() {
    // Every conversion the gateway makes: to and from the 8 kHz phone rate, and 16k <-> 24k.
    let pairs = [
        (8000, 16000),
        (16000, 8000),
        (8000, 24000),
        (24000, 8000),
        (8000, 22050),
        (22050, 8000),
        (16000, 24000),
        (24000, 16000),
        (8000, 8000),
    ];
    for (from_hz, to_hz) in pairs {
        check_one_second_length(from_hz, to_hz);
    }
}

#[test]
fn odd_length_rounds_up() {
    // 101 samples at 24 kHz is 33.67 samples at 8 kHz.
    assert_eq!(resample_f32(&[0.1; 101], 24000, 8000).unwrap().len(), 34);
    assert_eq!(resample_i16(&[100; 7], 8000, 22050).unwrap().len(), 20);
    assert!(resample_i16(&[], 8000, 16000).unwrap().is_empty());
}

#[test]
fn one_khz_sine_survives_8k_to_16k_and_back() {
    let input = sine(1000.0, 8000, 8000, 0.5);
    let up = resample_f32(&input, 8000, 16000).unwrap();
    assert!((tone_amplitude(&up, 16000, 1000.0) - 0.5).abs() < 0.01);
    let back = resample_f32(&up, 16000, 8000).unwrap();
    assert_eq!(back.len(), input.len());
    assert!((tone_amplitude(&back, 8000, 1000.0) - 0.5).abs() < 0.01);
    // Sample by sample, away from the edges, the round trip stays within -40 dB of the signal.
    let skip = 800;
    let max_error = input[skip..8000 - skip]
        .iter()
        .zip(&back[skip..8000 - skip])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0_f32, f32::max);
    assert!(max_error < 0.005, "max error {max_error}");
}

#[test]
fn tone_inside_the_phone_band_survives_24k_to_8k() {
    let input = sine(3500.0, 24000, 24000, 0.5);
    let output = resample_f32(&input, 24000, 8000).unwrap();
    let amplitude = tone_amplitude(&output, 8000, 3500.0);
    // Within 1 dB of the input level (the filter's passband reaches about 3.79 kHz).
    assert!(
        amplitude > 0.5 * 0.89 && amplitude < 0.5 * 1.05,
        "amplitude {amplitude}"
    );
}

#[test]
fn tone_above_the_output_nyquist_is_filtered_not_aliased() {
    // 6 kHz at 24 kHz would fold to 8 - 6 = 2 kHz if the signal were only decimated.
    let input = sine(6000.0, 24000, 24000, 0.5);
    let naive_decimation: Vec<f32> = input.iter().step_by(3).copied().collect();
    assert!(tone_amplitude(&naive_decimation, 8000, 2000.0) > 0.4);

    let output = resample_f32(&input, 24000, 8000).unwrap();
    let alias = tone_amplitude(&output, 8000, 2000.0);
    let skip = output.len() / 10;
    let residual_rms = rms(&output[skip..output.len() - skip]);
    // At least 60 dB down from the 0.5 input amplitude.
    assert!(alias < 0.5e-3, "alias amplitude {alias}");
    assert!(residual_rms < 0.5e-3, "residual rms {residual_rms}");
}

#[test]
fn output_is_aligned_with_input_in_time() {
    let rates = [8000, 16000, 22050, 24000];
    for from_hz in rates {
        for to_hz in rates {
            // A quarter of a second is 75 periods: plenty for the phase estimate.
            let input = sine(300.0, from_hz, from_hz as usize / 4, 0.5);
            let output = resample_f32(&input, from_hz, to_hz).unwrap();
            let delay = tone_delay(&input, from_hz, &output, to_hz, 300.0);
            assert!(
                delay.abs() <= 0.5,
                "{from_hz} -> {to_hz}: delay {delay:.3} output samples"
            );
        }
    }
}

#[test]
fn i16_path_rounds_and_saturates() {
    assert_eq!(f32_to_i16(0.0), 0);
    assert_eq!(f32_to_i16(1.0), i16::MAX);
    assert_eq!(f32_to_i16(-1.5), i16::MIN);
    assert_eq!(f32_to_i16(100.4 / I16_SCALE), 100);
    assert_eq!(f32_to_i16(f32::NAN), 0);

    let input: Vec<i16> = sine(1000.0, 8000, 8000, 16000.0)
        .iter()
        .map(|&s| s as i16)
        .collect();
    let up = resample_i16(&input, 8000, 16000).unwrap();
    let up_f32: Vec<f32> = up.iter().map(|&s| f32::from(s)).collect();
    assert!((tone_amplitude(&up_f32, 16000, 1000.0) - 16000.0).abs() < 320.0);
}

#[test]
fn resampler_can_move_into_a_task() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Resampler>();
}

#[test]
fn equal_rates_pass_through() {
    let input = [0.25_f32, -0.5, 0.75];
    assert_eq!(resample_f32(&input, 16000, 16000).unwrap(), input);
}

#[test]
fn zero_rate_is_an_error() {
    let err = Resampler::new(0, 8000).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Resample {
                from_hz: 0,
                to_hz: 8000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(resample_i16(&[1, 2], 8000, 0).is_err());
}

#[test]
fn resampler_is_reusable_after_finish() {
    let input = sine(440.0, 24000, 4800, 0.3);
    let mut resampler = Resampler::new(24000, 8000).unwrap();
    let mut first = Vec::new();
    resampler.process_f32(&input, &mut first).unwrap();
    resampler.finish_f32(&mut first).unwrap();
    let mut second = Vec::new();
    resampler.process_f32(&input, &mut second).unwrap();
    resampler.finish_f32(&mut second).unwrap();
    assert_eq!(first, second);
    assert_eq!(first.len(), 1600);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Streaming in arbitrary pieces gives exactly the one-shot result.
    #[test]
    fn streaming_in_pieces_equals_one_shot(
        piece_lens in proptest::collection::vec(0_usize..700, 1..12),
        rates in prop::sample::select(vec![(24000_u32, 8000_u32), (8000, 16000), (22050, 8000), (8000, 24000)]),
    ) {
        let (from_hz, to_hz) = rates;
        let total: usize = piece_lens.iter().sum();
        let input: Vec<i16> = sine(700.0, from_hz, total, 12000.0).iter().map(|&s| s as i16).collect();
        let one_shot = resample_i16(&input, from_hz, to_hz).unwrap();

        let mut resampler = Resampler::new(from_hz, to_hz).unwrap();
        let mut streamed = Vec::new();
        let mut offset = 0;
        for len in piece_lens {
            resampler.process_i16(&input[offset..offset + len], &mut streamed).unwrap();
            offset += len;
        }
        resampler.finish_i16(&mut streamed).unwrap();
        prop_assert_eq!(streamed, one_shot);
    }
}
