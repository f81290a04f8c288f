//! The Flux dialect of the live STT driver (`/v2/listen`; docs/protocols.md, "Deepgram Flux").
//!
//! Flux is a recogniser that reports turns: `StartOfTurn`, `Update`s about every 0.25 s of audio,
//! `EagerEndOfTurn` when the turn has probably ended, `TurnResumed` when the caller went on after
//! that, and `EndOfTurn` when it is sure. They map onto the shared `SttEvent`s, so the pipeline
//! needs no Flux-specific code:
//!
//! | Flux | `SttEvent` |
//! |---|---|
//! | `StartOfTurn` | `SpeechStarted`, then an interim `Transcript` if it carries words |
//! | `Update`, `TurnResumed` | an interim `Transcript` (words only); `TurnResumed` also `TurnResumed` |
//! | `EagerEndOfTurn` | `EagerEndOfTurn` with the turn's words |
//! | `EndOfTurn` | a final `Transcript` with `speech_final` (`from_finalize` after `ForceEndTurn`) |
//! | `CloseStream` answered without `EndOfTurn` | the last `Update`'s words as the final `Transcript` |
//!
//! `SttCommand::Finalize` becomes `ForceEndTurn`. Audio goes out in 80 ms chunks (four Twilio
//! frames), as Deepgram recommends for Flux, and only after the socket's `Connected`.

use providers::{SttEvent, Transcript};
use url::Url;

use crate::DeepgramSttConfig;
use crate::wire::{FluxEvent, TurnInfo};

/// 80 ms of 8 kHz μ-law: the chunk size Deepgram recommends for Flux.
pub(crate) const CHUNK_BYTES: usize = 640;

/// The `/v2/listen` URL: the configured URL plus Flux's parameters for phone audio.
pub(crate) fn flux_url(config: &DeepgramSttConfig) -> Url {
    let mut url = config.url.clone();
    {
        let flux = &config.flux;
        let mut query = url.query_pairs_mut();
        query
            .append_pair("model", &config.model)
            .append_pair("encoding", "mulaw")
            .append_pair("sample_rate", "8000")
            .append_pair("eot_threshold", &flux.eot_threshold.to_string());
        if let Some(eager) = flux.eager_eot_threshold {
            query.append_pair("eager_eot_threshold", &eager.to_string());
        }
        query.append_pair("eot_timeout_ms", &flux.eot_timeout.as_millis().to_string());
    }
    url
}

/// What the driver remembers of the current Flux turn.
#[derive(Debug, Default)]
pub(crate) struct FluxTurn {
    /// The latest words of the turn (from `Update`, `StartOfTurn`, `TurnResumed`, `EagerEndOfTurn`);
    /// cleared by `EndOfTurn`. If the stream closes without `EndOfTurn`, these are the final words.
    pub(crate) words: String,
    /// Start of the turn's audio, socket seconds.
    pub(crate) start_s: f64,
    /// A `ForceEndTurn` went out and its `EndOfTurn` has not come back.
    pub(crate) forced: bool,
    /// The socket sent `Connected`: audio may flow.
    pub(crate) connected: bool,
}

impl FluxTurn {
    /// The events one `TurnInfo` means. `origin_s` shifts socket times onto the session clock.
    pub(crate) fn on_turn_info(
        &mut self,
        info: TurnInfo,
        origin_s: f64,
        at: std::time::Instant,
    ) -> Vec<SttEvent> {
        let mut events = Vec::with_capacity(2);
        let text = info.transcript.trim().to_owned();
        let interim = |text: String| {
            SttEvent::Transcript(Transcript {
                text,
                is_final: false,
                speech_final: false,
                from_finalize: false,
                confidence: 0.0,
                start_s: origin_s + info.audio_window_start,
                duration_s: (info.audio_window_end - info.audio_window_start).max(0.0),
                at,
            })
        };
        match info.event {
            FluxEvent::StartOfTurn => {
                self.start_s = info.audio_window_start;
                events.push(SttEvent::SpeechStarted {
                    timestamp_s: origin_s + info.audio_window_start,
                    at,
                });
                if !text.is_empty() {
                    self.words.clone_from(&text);
                    events.push(interim(text));
                }
            }
            FluxEvent::Update | FluxEvent::Other => {
                if !text.is_empty() && text != self.words {
                    self.words.clone_from(&text);
                    events.push(interim(text));
                }
            }
            FluxEvent::TurnResumed => {
                events.push(SttEvent::TurnResumed { at });
                if !text.is_empty() && text != self.words {
                    self.words.clone_from(&text);
                    events.push(interim(text));
                }
            }
            FluxEvent::EagerEndOfTurn => {
                if !text.is_empty() {
                    self.words.clone_from(&text);
                    events.push(SttEvent::EagerEndOfTurn { text, at });
                }
            }
            FluxEvent::EndOfTurn => {
                // An `EndOfTurn` with no words (a forced end over silence) still answers the force.
                let from_finalize = std::mem::take(&mut self.forced);
                self.words.clear();
                events.push(SttEvent::Transcript(Transcript {
                    text,
                    is_final: true,
                    speech_final: true,
                    from_finalize,
                    confidence: info.end_of_turn_confidence,
                    start_s: origin_s + info.audio_window_start,
                    duration_s: (info.audio_window_end - info.audio_window_start).max(0.0),
                    at,
                }));
            }
        }
        events
    }

    /// The stream closed without an `EndOfTurn`: the last words heard are final (Flux does not
    /// send `EndOfTurn` in answer to `CloseStream`).
    pub(crate) fn on_close(&mut self, origin_s: f64, at: std::time::Instant) -> Option<SttEvent> {
        let text = std::mem::take(&mut self.words);
        (!text.is_empty()).then_some({
            SttEvent::Transcript(Transcript {
                text,
                is_final: true,
                speech_final: true,
                from_finalize: false,
                confidence: 0.0,
                start_s: origin_s + self.start_s,
                duration_s: 0.0,
                at,
            })
        })
    }
}

#[cfg(test)]
mod tests;
