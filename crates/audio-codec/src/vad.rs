//! Frame energy (RMS, dBFS) and a small energy-based voice activity detector.
//!
//! dBFS here is relative to a full-scale square wave: a constant ±32768 signal is 0 dBFS and a
//! full-scale sine is about -3 dBFS. All-zero input reports `MIN_DBFS` instead of -∞.

#[cfg(test)]
mod tests;

use audio_codec_algorithms::decode_ulaw;

use crate::Error;

/// The level reported for digital silence, below anything 16-bit audio can reach
/// (one LSB of RMS is -90.3 dBFS).
pub const MIN_DBFS: f32 = -100.0;

/// Full scale of 16-bit samples.
const FULL_SCALE: f64 = 32768.0;

/// Root mean square of 16-bit samples, in sample units (0 for an empty slice).
pub fn rms_pcm16(samples: &[i16]) -> f32 {
    let sum_squares: f64 = samples
        .iter()
        .map(|&sample| f64::from(sample) * f64::from(sample))
        .sum();
    rms_from_sum(sum_squares, samples.len())
}

/// Root mean square of μ-law bytes after decoding, in 16-bit sample units.
pub fn rms_mulaw(mulaw: &[u8]) -> f32 {
    let sum_squares: f64 = mulaw
        .iter()
        .map(|&byte| {
            let sample = f64::from(decode_ulaw(byte));
            sample * sample
        })
        .sum();
    rms_from_sum(sum_squares, mulaw.len())
}

/// Converts an RMS in 16-bit sample units to dBFS, floored at `MIN_DBFS`.
pub fn dbfs_from_rms(rms: f32) -> f32 {
    let ratio = f64::from(rms) / FULL_SCALE;
    if ratio <= 0.0 || ratio.is_nan() {
        return MIN_DBFS;
    }
    (20.0 * ratio.log10()).max(f64::from(MIN_DBFS)) as f32
}

/// Level of 16-bit samples in dBFS.
pub fn dbfs_pcm16(samples: &[i16]) -> f32 {
    dbfs_from_rms(rms_pcm16(samples))
}

/// Level of μ-law bytes in dBFS.
pub fn dbfs_mulaw(mulaw: &[u8]) -> f32 {
    dbfs_from_rms(rms_mulaw(mulaw))
}

/// Settings of `EnergyVad`. Frame counts are in frames as pushed (normally 20 ms each).
///
/// The defaults suit 8 kHz phone audio: speech on a phone line usually sits between -35 and
/// -15 dBFS and line noise below -50 dBFS. Tune them against captured calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyVadConfig {
    /// A frame at or above this level counts as loud. Default -35 dBFS.
    pub start_threshold_dbfs: f32,
    /// While speaking, a frame below this level counts as quiet; frames between the two
    /// thresholds keep the current state (the hysteresis). Default -45 dBFS.
    pub stop_threshold_dbfs: f32,
    /// Consecutive loud frames needed before `SpeechStart`, so clicks and pops are ignored.
    /// Default 3 (60 ms).
    pub start_frames: u32,
    /// Consecutive quiet frames needed before `SpeechEnd` (the hangover), so pauses between
    /// words do not end speech. Default 15 (300 ms).
    pub hangover_frames: u32,
    /// Consecutive quiet frames inside speech that report a `Pause` (once per quiet run) before
    /// the hangover ends the speech; 0 never reports one. Default 6 (120 ms).
    pub pause_frames: u32,
}

/// A change reported by `EnergyVad`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began. Reported on the `start_frames`-th consecutive loud frame, so the first
    /// loud frame was `start_frames - 1` frames before the one that produced this event.
    SpeechStart,
    /// Speech ended. Reported on the `hangover_frames`-th consecutive quiet frame.
    SpeechEnd,
    /// A short silence inside speech: reported on the `pause_frames`-th consecutive quiet frame,
    /// when that comes before the hangover. Speech has not ended; the caller may go on.
    Pause,
}

/// An energy voice activity detector with hysteresis, one frame at a time.
///
/// Silence becomes speech after `start_frames` consecutive frames at or above the start
/// threshold; speech becomes silence after `hangover_frames` consecutive frames below the
/// stop threshold. It knows nothing about noise or echo: it is meant for fast barge-in
/// (well before a speech-to-text vendor reports anything) and for tests, not as the
/// authority on whether someone said something.
#[derive(Debug, Clone)]
pub struct EnergyVad {
    config: EnergyVadConfig,
    speaking: bool,
    /// Loud frames in a row while silent, or quiet frames in a row while speaking.
    run_len: u32,
}

impl Default for EnergyVadConfig {
    fn default() -> Self {
        Self {
            start_threshold_dbfs: -35.0,
            stop_threshold_dbfs: -45.0,
            start_frames: 3,
            hangover_frames: 15,
            pause_frames: 6,
        }
    }
}

impl EnergyVad {
    /// A detector in the silent state.
    ///
    /// Fails with `Error::InvalidVadConfig` when a threshold is NaN, the stop threshold is
    /// above the start threshold, or a frame count is zero.
    pub fn new(config: EnergyVadConfig) -> Result<Self, Error> {
        let invalid = |reason| Err(Error::InvalidVadConfig { reason });
        if config.start_threshold_dbfs.is_nan() || config.stop_threshold_dbfs.is_nan() {
            return invalid("thresholds must be numbers");
        }
        if config.stop_threshold_dbfs > config.start_threshold_dbfs {
            return invalid("stop threshold must not be above the start threshold");
        }
        if config.start_frames == 0 {
            return invalid("start_frames must be at least 1");
        }
        if config.hangover_frames == 0 {
            return invalid("hangover_frames must be at least 1");
        }
        Ok(Self {
            config,
            speaking: false,
            run_len: 0,
        })
    }

    /// Feeds the level of the next frame; returns an event when the state changes.
    pub fn push_dbfs(&mut self, level_dbfs: f32) -> Option<VadEvent> {
        if self.speaking {
            if level_dbfs < self.config.stop_threshold_dbfs {
                self.run_len += 1;
                if self.run_len >= self.config.hangover_frames {
                    self.speaking = false;
                    self.run_len = 0;
                    return Some(VadEvent::SpeechEnd);
                }
                if self.run_len == self.config.pause_frames {
                    return Some(VadEvent::Pause);
                }
            } else {
                self.run_len = 0;
            }
        } else if level_dbfs >= self.config.start_threshold_dbfs {
            self.run_len += 1;
            if self.run_len >= self.config.start_frames {
                self.speaking = true;
                self.run_len = 0;
                return Some(VadEvent::SpeechStart);
            }
        } else {
            self.run_len = 0;
        }
        None
    }

    /// Feeds the next μ-law frame (normally `FRAME_BYTES` bytes).
    pub fn push_mulaw(&mut self, frame: &[u8]) -> Option<VadEvent> {
        self.push_dbfs(dbfs_mulaw(frame))
    }

    /// Feeds the next 16-bit PCM frame.
    pub fn push_pcm16(&mut self, frame: &[i16]) -> Option<VadEvent> {
        self.push_dbfs(dbfs_pcm16(frame))
    }

    /// Whether the detector is in the speech state.
    pub fn is_speech(&self) -> bool {
        self.speaking
    }

    /// Returns to the silent state, forgetting any partial run of frames.
    pub fn reset(&mut self) {
        self.speaking = false;
        self.run_len = 0;
    }

    /// The settings this detector runs with.
    pub fn config(&self) -> &EnergyVadConfig {
        &self.config
    }
}

fn rms_from_sum(sum_squares: f64, n_samples: usize) -> f32 {
    if n_samples == 0 {
        return 0.0;
    }
    (sum_squares / n_samples as f64).sqrt() as f32
}
