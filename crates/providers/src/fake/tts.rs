//! `FakeTts`: a scripted `TextToSpeech`.
//!
//! # Script format
//!
//! The fake's "script" is its `FakeTtsConfig`: every piece of text becomes μ-law audio whose length
//! is proportional to the text, `audio_per_char` per character (whitespace included). The audio
//! is `TONE_PATTERN` repeated (a 1 kHz square wave, far from μ-law silence `0xFF`), so energy-based
//! checks see speech. It is delivered as `TtsEvent::Audio` chunks of `chunk_len`, the first
//! `first_chunk_delay` after the text arrived (time to first byte), the rest every `chunk_interval`
//! (tokio clock).
//!
//! Commands:
//!
//! | command | effect |
//! | --- | --- |
//! | `Text(s)` | recorded; its audio is queued behind what is already queued |
//! | `Flush` | `Flushed` is queued: it is emitted once all audio queued before it was delivered |
//! | `Clear` | drops all undelivered audio and pending `Flushed` answers, then emits `Cleared` |
//! | `Close` | drops anything undelivered, emits `Closed`; the driver ends |
//!
//! With `recorded_lengths`, a text takes its length from a queue of `(text, bytes)` recorded from
//! a real call: the first queued entry with the same text, dropping the entries before it (a text
//! the recording does not have gets `audio_per_char`). `cargo xtask replay` uses this, so a
//! replayed turn plays exactly as long as the recorded one. `voice` replaces the tone with another
//! waveform (repeated, continuing across texts).
//!
//! With `drop_after` set, the session breaks the way a vendor's socket drops: `drop_delay` after
//! the audio of the first text containing that string was delivered, it emits `Closed` and ends.
//!
//! Dropping every handle ends the driver the same way. `fail_next_connect` makes the next `connect`
//! fail. Recorded: every command (`received_commands`) and the spoken text (`received_text`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::now;
use crate::{ProviderError, TextToSpeech, TtsCommand, TtsEvent, TtsHandle, TtsOptions, TtsSession};

/// The fake's audio: one period of a 1 kHz square wave at 8 kHz, ±7932 linear.
pub const TONE_PATTERN: [u8; 8] = [0xA0, 0xA0, 0xA0, 0xA0, 0x20, 0x20, 0x20, 0x20];

/// μ-law bytes per millisecond at 8 kHz.
const BYTES_PER_MS: u64 = 8;
/// Capacity of a fake session's command channel.
const COMMAND_QUEUE_LEN: usize = 64;
/// Capacity of a fake session's event channel.
const EVENT_QUEUE_LEN: usize = 256;

/// A scripted text-to-speech provider. Clones share the config and the recordings.
#[derive(Debug, Clone, Default)]
pub struct FakeTts {
    config: FakeTtsConfig,
    state: Arc<Mutex<TtsRecord>>,
}

/// How a `FakeTts` turns text into audio.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeTtsConfig {
    /// Audio length per character of text. Default 60 ms (about 16 characters per second).
    pub audio_per_char: Duration,
    /// Length of each audio chunk; the last chunk of a text may be shorter. Default 20 ms.
    pub chunk_len: Duration,
    /// Delay between the text and its first chunk. Default 100 ms.
    pub first_chunk_delay: Duration,
    /// Delay between chunks. Default 10 ms (twice real time, like a vendor that runs ahead).
    pub chunk_interval: Duration,
    /// The session drops after the audio of the first text containing this. Default none.
    pub drop_after: Option<String>,
    /// How long after that audio was delivered it drops. Default zero.
    pub drop_delay: Duration,
    /// Audio lengths recorded from a real call (see the module docs). Default none.
    pub recorded_lengths: Option<RecordedLengths>,
    /// The waveform, repeated and continuing across texts. Default none: `TONE_PATTERN`.
    pub voice: Option<Arc<[u8]>>,
}

/// `(text, μ-law bytes)` in the order a recorded call sent its texts to speech synthesis; shared
/// by clones, consumed as texts are spoken.
#[derive(Clone, Default)]
pub struct RecordedLengths(Arc<Mutex<VecDeque<(String, usize)>>>);

impl RecordedLengths {
    /// The recorded lengths, in recorded order.
    pub fn new(lengths: Vec<(String, usize)>) -> Self {
        Self(Arc::new(Mutex::new(lengths.into())))
    }

    /// The length recorded for `text`: the first queued entry with that text, dropping the
    /// entries before it; `None` when the recording does not have it.
    fn take(&self, text: &str) -> Option<usize> {
        let mut lengths = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let pos = lengths.iter().position(|(t, _)| t == text)?;
        lengths.drain(..=pos).next_back().map(|(_, bytes)| bytes)
    }
}

impl std::fmt::Debug for RecordedLengths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let left = self.0.lock().map(|l| l.len()).unwrap_or_default();
        write!(f, "RecordedLengths({left} left)")
    }
}

impl PartialEq for RecordedLengths {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug, Default)]
struct TtsRecord {
    commands: Vec<TtsCommand>,
    options: Vec<TtsOptions>,
    connect_failures: VecDeque<ProviderError>,
}

impl Default for FakeTtsConfig {
    fn default() -> Self {
        Self {
            audio_per_char: Duration::from_millis(60),
            chunk_len: Duration::from_millis(20),
            first_chunk_delay: Duration::from_millis(100),
            chunk_interval: Duration::from_millis(10),
            drop_after: None,
            drop_delay: Duration::ZERO,
            recorded_lengths: None,
            voice: None,
        }
    }
}

impl FakeTtsConfig {
    /// How many μ-law bytes the fake produces for `text` from `audio_per_char` (recorded lengths
    /// aside).
    pub fn audio_len(&self, text: &str) -> usize {
        let per_char = self.audio_per_char.as_millis() as u64 * BYTES_PER_MS;
        (text.chars().count() as u64 * per_char) as usize
    }
}

impl FakeTts {
    /// A fake that synthesizes according to `config`.
    pub fn new(config: FakeTtsConfig) -> Self {
        Self {
            config,
            state: Arc::default(),
        }
    }

    /// Makes the next `connect` fail with `error` (queued: call it twice to fail twice).
    pub fn fail_next_connect(&self, error: ProviderError) {
        self.lock().connect_failures.push_back(error);
    }

    /// Every command received so far, in order (all sessions).
    pub fn received_commands(&self) -> Vec<TtsCommand> {
        self.lock().commands.clone()
    }

    /// All text received so far, concatenated (all sessions).
    pub fn received_text(&self) -> String {
        let state = self.lock();
        let mut res = String::new();
        for command in &state.commands {
            if let TtsCommand::Text(text) = command {
                res.push_str(text);
            }
        }
        res
    }

    /// The options of every successful `connect`, in order.
    pub fn sessions(&self) -> Vec<TtsOptions> {
        self.lock().options.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TtsRecord> {
        // A test that panicked while holding the lock already failed; keep reporting what we have.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl TextToSpeech for FakeTts {
    async fn connect(&self, options: TtsOptions) -> Result<TtsSession, ProviderError> {
        {
            let mut state = self.lock();
            if let Some(error) = state.connect_failures.pop_front() {
                return Err(error);
            }
            state.options.push(options);
        }
        let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE_LEN);
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE_LEN);
        let driver = synthesize(
            self.config.clone(),
            commands_rx,
            events_tx,
            Arc::clone(&self.state),
        );
        Ok(TtsSession {
            handle: TtsHandle::new(commands_tx),
            events: events_rx,
            driver: driver.boxed(),
        })
    }

    fn name(&self) -> &'static str {
        "fake"
    }
}

/// Something waiting to be delivered, in order.
enum Pending {
    Audio(Bytes),
    Flushed,
    /// The session breaks here (`FakeTtsConfig::drop_after`).
    Drop,
}

/// The driver of one fake session.
async fn synthesize(
    config: FakeTtsConfig,
    mut commands_rx: mpsc::Receiver<TtsCommand>,
    events_tx: mpsc::Sender<TtsEvent>,
    state: Arc<Mutex<TtsRecord>>,
) {
    let chunk_len_bytes = usize::try_from(config.chunk_len.as_millis() as u64 * BYTES_PER_MS)
        .unwrap_or(160)
        .max(1);
    let mut queue: VecDeque<Pending> = VecDeque::new();
    // When the front of the queue may be delivered, if it is audio.
    let mut next_audio_at = Instant::now();
    let mut drop_after = config.drop_after.clone();
    let mut drop_at: Option<Instant> = None;
    let voice: Arc<[u8]> = config
        .voice
        .clone()
        .filter(|voice| !voice.is_empty())
        .unwrap_or_else(|| Arc::from(TONE_PATTERN.as_slice()));
    let mut voice_at = 0usize;
    loop {
        // Deliver everything that is due.
        while let Some(front) = queue.front() {
            let event = match front {
                Pending::Drop => {
                    let at = *drop_at.get_or_insert_with(|| Instant::now() + config.drop_delay);
                    if Instant::now() < at {
                        next_audio_at = at;
                        break;
                    }
                    let _ = events_tx.send(TtsEvent::Closed { at: now() }).await;
                    return;
                }
                Pending::Flushed => TtsEvent::Flushed { at: now() },
                Pending::Audio(_) if Instant::now() < next_audio_at => break,
                Pending::Audio(chunk) => {
                    next_audio_at = Instant::now() + config.chunk_interval;
                    TtsEvent::Audio {
                        mulaw: chunk.clone(),
                        at: now(),
                    }
                }
            };
            queue.pop_front();
            if events_tx.send(event).await.is_err() {
                return;
            }
        }
        let command = tokio::select! {
            biased;
            command = commands_rx.recv() => command,
            () = tokio::time::sleep_until(next_audio_at), if !queue.is_empty() => continue,
        };
        let Some(command) = command else {
            let _ = events_tx.send(TtsEvent::Closed { at: now() }).await;
            return;
        };
        state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .commands
            .push(command.clone());
        match command {
            TtsCommand::Text(text) => {
                if queue.is_empty() {
                    next_audio_at = Instant::now() + config.first_chunk_delay;
                }
                let len = config
                    .recorded_lengths
                    .as_ref()
                    .and_then(|recorded| recorded.take(&text))
                    .unwrap_or_else(|| config.audio_len(&text));
                let audio: Vec<u8> = (0..len)
                    .map(|i| voice[(voice_at + i) % voice.len()])
                    .collect();
                voice_at = (voice_at + len) % voice.len();
                let audio = Bytes::from(audio);
                for start in (0..audio.len()).step_by(chunk_len_bytes) {
                    let end = (start + chunk_len_bytes).min(audio.len());
                    queue.push_back(Pending::Audio(audio.slice(start..end)));
                }
                if let Some(marker) = &drop_after
                    && text.contains(marker.as_str())
                {
                    queue.push_back(Pending::Drop);
                    drop_after = None;
                }
            }
            TtsCommand::Flush => queue.push_back(Pending::Flushed),
            TtsCommand::Clear => {
                queue.clear();
                if events_tx
                    .send(TtsEvent::Cleared { at: now() })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            TtsCommand::Close => {
                let _ = events_tx.send(TtsEvent::Closed { at: now() }).await;
                return;
            }
        }
    }
}
