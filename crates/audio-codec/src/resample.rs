//! Sample-rate conversion with a windowed-sinc anti-aliasing filter (rubato's `Async` sinc
//! resampler, fixed ratio).
//!
//! The filter is a 256-tap Blackman-Harris² sinc with rubato's automatic cutoff (about 0.95 of
//! the lower Nyquist frequency: 3.79 kHz when the output is 8 kHz), cubic interpolation
//! between 128 oversampled points. Its delay (about 128 input samples, 5.3 ms at 24 kHz) is
//! trimmed, so output sample `n` lines up with input time `n / to_hz` within half a sample.

#[cfg(test)]
mod tests;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Indexing, Resampler as _, SincInterpolationParameters, WindowFunction,
};

use crate::Error;

/// Length of the sinc filter in input samples: long enough that the automatic cutoff keeps a
/// 3.5 kHz tone when going to 8 kHz, short enough to be far below real time (see the README).
const SINC_LEN: usize = 256;

/// Input chunk processed at once: 20 ms, the framing of the rest of the system.
const CHUNKS_PER_SECOND: u32 = 50;

/// Full scale of 16-bit samples when converting to and from `f32` in [-1, 1).
const I16_SCALE: f32 = 32768.0;

/// A streaming resampler from `from_hz` to `to_hz` for mono audio, with its buffers reused.
///
/// Feed it pieces of any size with `process_*`; it filters whole 20 ms input chunks and
/// appends the output it can produce so far. `finish_*` flushes the filter's tail so the
/// total output is exactly `ceil(n_input * to_hz / from_hz)` samples, then resets for the next
/// stream. Output does not depend on how the input was split, and equals `resample_*` of the
/// concatenated input.
///
/// Creating one computes a filter table (about 128 KiB), so keep one per call and `reset` it between
/// utterances (or on barge-in) rather than creating one per chunk. It is `Send`, so it can
/// live in a per-call task.
pub struct Resampler {
    from_hz: u32,
    to_hz: u32,
    /// `None` when the rates are equal: audio passes through unchanged.
    sinc: Option<Async<f32>>,
    /// Input samples waiting for a full chunk.
    pending: Vec<f32>,
    /// Scratch for the `i16` methods: converted input, then `f32` output.
    scratch_in: Vec<f32>,
    scratch_out: Vec<f32>,
    /// Output samples still to drop at the start of the stream (the filter's delay).
    delay_left: usize,
    n_input: u64,
    n_output: u64,
}

impl Resampler {
    /// A resampler between two rates, for example 24 000 to 8 000 Hz.
    ///
    /// Fails with `Error::Resample` when a rate is zero.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, Error> {
        let resample_error = |reason: String| Error::Resample {
            from_hz,
            to_hz,
            reason,
        };
        if from_hz == 0 || to_hz == 0 {
            return Err(resample_error("sample rates must be positive".to_owned()));
        }
        let chunk_len = usize::try_from((from_hz / CHUNKS_PER_SECOND).max(1))
            .map_err(|_| resample_error("chunk does not fit in memory".to_owned()))?;
        let sinc = if from_hz == to_hz {
            None
        } else {
            let parameters =
                SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris2);
            let ratio = f64::from(to_hz) / f64::from(from_hz);
            let sinc =
                Async::<f32>::new_sinc(ratio, 1.0, &parameters, chunk_len, 1, FixedAsync::Input)
                    .map_err(|err| resample_error(err.to_string()))?;
            Some(sinc)
        };
        let mut res = Self {
            from_hz,
            to_hz,
            sinc,
            pending: Vec::with_capacity(chunk_len),
            scratch_in: Vec::new(),
            scratch_out: Vec::new(),
            delay_left: 0,
            n_input: 0,
            n_output: 0,
        };
        res.reset();
        Ok(res)
    }

    /// Input sample rate in hertz.
    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    /// Output sample rate in hertz.
    pub fn to_hz(&self) -> u32 {
        self.to_hz
    }

    /// Drops buffered input and filter state so a new stream can start.
    pub fn reset(&mut self) {
        self.pending.clear();
        self.n_input = 0;
        self.n_output = 0;
        self.delay_left = match &mut self.sinc {
            Some(sinc) => {
                sinc.reset();
                filter_delay(sinc.resample_ratio())
            }
            None => 0,
        };
    }

    /// Resamples `input` (samples in [-1, 1]), appending the output available so far to `out`.
    pub fn process_f32(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), Error> {
        self.n_input += input.len() as u64;
        let Some(chunk_len) = self.sinc.as_ref().map(|sinc| sinc.input_frames_next()) else {
            out.extend_from_slice(input);
            self.n_output += input.len() as u64;
            return Ok(());
        };
        let mut rest = input;
        if !self.pending.is_empty() {
            let n_taken = rest.len().min(chunk_len - self.pending.len());
            self.pending.extend_from_slice(&rest[..n_taken]);
            rest = &rest[n_taken..];
            if self.pending.len() < chunk_len {
                return Ok(());
            }
            let pending = std::mem::take(&mut self.pending);
            let processed = self.process_chunk(&pending, None, out);
            self.pending = pending;
            self.pending.clear();
            processed?;
        }
        let mut chunks = rest.chunks_exact(chunk_len);
        for chunk in chunks.by_ref() {
            self.process_chunk(chunk, None, out)?;
        }
        self.pending.extend_from_slice(chunks.remainder());
        Ok(())
    }

    /// Ends the stream: flushes buffered input and the filter's tail into `out`, so the whole
    /// stream produced exactly `ceil(n_input * to_hz / from_hz)` samples, then resets.
    pub fn finish_f32(&mut self, out: &mut Vec<f32>) -> Result<(), Error> {
        let expected =
            (u128::from(self.n_input) * u128::from(self.to_hz)).div_ceil(u128::from(self.from_hz));
        let expected = u64::try_from(expected).unwrap_or(u64::MAX);
        let flushed = self.flush(expected, out);
        self.reset();
        flushed
    }

    /// Like `process_f32`, for 16-bit samples (rounded and clamped on the way out).
    pub fn process_i16(&mut self, input: &[i16], out: &mut Vec<i16>) -> Result<(), Error> {
        let mut scratch_in = std::mem::take(&mut self.scratch_in);
        let mut scratch_out = std::mem::take(&mut self.scratch_out);
        scratch_in.clear();
        scratch_in.extend(input.iter().map(|&sample| f32::from(sample) / I16_SCALE));
        scratch_out.clear();
        let processed = self.process_f32(&scratch_in, &mut scratch_out);
        out.extend(scratch_out.iter().map(|&sample| f32_to_i16(sample)));
        self.scratch_in = scratch_in;
        self.scratch_out = scratch_out;
        processed
    }

    /// Like `finish_f32`, for 16-bit samples.
    pub fn finish_i16(&mut self, out: &mut Vec<i16>) -> Result<(), Error> {
        let mut scratch_out = std::mem::take(&mut self.scratch_out);
        scratch_out.clear();
        let finished = self.finish_f32(&mut scratch_out);
        out.extend(scratch_out.iter().map(|&sample| f32_to_i16(sample)));
        self.scratch_out = scratch_out;
        finished
    }

    fn flush(&mut self, expected: u64, out: &mut Vec<f32>) -> Result<(), Error> {
        if self.sinc.is_none() {
            return Ok(());
        }
        let start_len = out.len();
        let pending = std::mem::take(&mut self.pending);
        let processed = if pending.is_empty() {
            Ok(())
        } else {
            self.process_chunk(&pending, Some(pending.len()), out)
        };
        self.pending = pending;
        processed?;
        // Zeros pushed through the filter bring out the last input samples still inside it.
        while self.n_output < expected {
            let n_before = self.n_output;
            self.process_chunk(&[], Some(0), out)?;
            if self.n_output == n_before && self.delay_left == 0 {
                break;
            }
        }
        // The last chunk overshoots; only what this flush appended can be taken back.
        let n_extra = usize::try_from(self.n_output.saturating_sub(expected)).unwrap_or(usize::MAX);
        let n_removed = n_extra.min(out.len() - start_len);
        out.truncate(out.len() - n_removed);
        self.n_output -= n_removed as u64;
        Ok(())
    }

    /// Runs one chunk through the filter, appending its output (minus any delay still to
    /// trim) to `out`. `partial_len` marks a short last chunk, padded with zeros by rubato.
    fn process_chunk(
        &mut self,
        chunk: &[f32],
        partial_len: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<(), Error> {
        let (from_hz, to_hz) = (self.from_hz, self.to_hz);
        let resample_error = |reason: String| Error::Resample {
            from_hz,
            to_hz,
            reason,
        };
        let Some(sinc) = self.sinc.as_mut() else {
            return Ok(());
        };
        let n_out_max = sinc.output_frames_next();
        let start = out.len();
        out.resize(start + n_out_max, 0.0);
        let input = InterleavedSlice::new(chunk, 1, chunk.len())
            .map_err(|err| resample_error(err.to_string()))?;
        let mut output = InterleavedSlice::new_mut(&mut out[start..], 1, n_out_max)
            .map_err(|err| resample_error(err.to_string()))?;
        let indexing = partial_len.map(|len| Indexing::new().partial_len(len));
        let result = sinc.process_into_buffer(&input, &mut output, indexing.as_ref());
        let n_written = match result {
            Ok((_n_read, n_written)) => n_written,
            Err(err) => {
                out.truncate(start);
                return Err(resample_error(err.to_string()));
            }
        };
        out.truncate(start + n_written);
        let n_trimmed = self.delay_left.min(n_written);
        if n_trimmed > 0 {
            out.drain(start..start + n_trimmed);
            self.delay_left -= n_trimmed;
        }
        self.n_output += (n_written - n_trimmed) as u64;
        Ok(())
    }
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from_hz", &self.from_hz)
            .field("to_hz", &self.to_hz)
            .field("pending_len", &self.pending.len())
            .field("n_input", &self.n_input)
            .field("n_output", &self.n_output)
            .finish_non_exhaustive()
    }
}

/// Resamples one whole clip of samples in [-1, 1]; the result has exactly
/// `ceil(input.len() * to_hz / from_hz)` samples.
pub fn resample_f32(input: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, Error> {
    let mut resampler = Resampler::new(from_hz, to_hz)?;
    let mut res = Vec::with_capacity(expected_len(input.len(), from_hz, to_hz));
    resampler.process_f32(input, &mut res)?;
    resampler.finish_f32(&mut res)?;
    Ok(res)
}

/// Resamples one whole clip of 16-bit samples; the result has exactly
/// `ceil(input.len() * to_hz / from_hz)` samples.
pub fn resample_i16(input: &[i16], from_hz: u32, to_hz: u32) -> Result<Vec<i16>, Error> {
    let mut resampler = Resampler::new(from_hz, to_hz)?;
    let mut res = Vec::with_capacity(expected_len(input.len(), from_hz, to_hz));
    resampler.process_i16(input, &mut res)?;
    resampler.finish_i16(&mut res)?;
    Ok(res)
}

/// The filter's delay in output samples, rounded to the nearest sample.
///
/// rubato 5.1's `output_delay()` reports `floor(SINC_LEN * ratio / 2)`, but measuring the phase
/// of a tone through the sinc resampler shows the output is one output sample earlier than
/// that for every ratio we use (8k<->16k, 8k<->24k, 22.05k->8k). Trimming `output_delay()`
/// would put the output one sample ahead of the input; the test
/// `output_is_aligned_with_input_in_time` pins this down, so a rubato change that fixes the
/// off-by-one will show up there.
fn filter_delay(ratio: f64) -> usize {
    let delay = SINC_LEN as f64 * ratio / 2.0 - 1.0;
    // Non-negative and far below usize::MAX for any ratio rubato accepts.
    delay.round().max(0.0) as usize
}

fn expected_len(input_len: usize, from_hz: u32, to_hz: u32) -> usize {
    let expected = (input_len as u128 * u128::from(to_hz)).div_ceil(u128::from(from_hz.max(1)));
    usize::try_from(expected).unwrap_or(0)
}

/// Converts a sample in [-1, 1] to 16 bits, rounding and clamping (filter overshoot near full
/// scale must saturate, not wrap).
fn f32_to_i16(sample: f32) -> i16 {
    // The clamp makes the cast exact; NaN becomes 0.
    (sample * I16_SCALE)
        .round()
        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}
