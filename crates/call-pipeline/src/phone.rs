//! The Twilio side of a call: the transport-agnostic `PhoneLink`, and the reader and writer tasks.
//!
//! Only the reader reads the socket and only the writer writes it. The reader forwards caller audio
//! straight to STT (never through the driver, never blocking: a full STT queue drops the frame and
//! counts it), runs the energy VAD, and sends everything else to the driver as `PhoneEvent`s.

use std::{pin::Pin, time::Duration};

use audio_codec::{EnergyVad, EnergyVadConfig, VadEvent};
use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt, stream::BoxStream};
use providers::SttHandle;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace, warn};
use twilio::media::{self, Inbound};

use crate::capture::Capture;

/// A transport error on the phone socket.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("phone transport: {0}")]
pub struct PhoneError(pub String);

/// Text frames from Twilio and a sink for text frames to Twilio. The gateway adapts its WebSocket
/// into one; tests and replay use channels.
pub struct PhoneLink {
    /// Inbound text frames, in order. Ends when the socket closes.
    pub inbound: BoxStream<'static, Result<String, PhoneError>>,
    /// Outbound text frames. Closing it closes the socket.
    pub outbound: Pin<Box<dyn Sink<String, Error = PhoneError> + Send>>,
}

impl PhoneLink {
    /// A link over two channels, for tests and replay: returns the link, the sender of inbound
    /// frames, and the receiver of outbound frames.
    pub fn channel(capacity: usize) -> (Self, mpsc::Sender<String>, mpsc::Receiver<String>) {
        let (inbound_tx, inbound_rx) = mpsc::channel::<String>(capacity);
        let (outbound_tx, outbound_rx) = mpsc::channel::<String>(capacity);
        let inbound = tokio_stream_from(inbound_rx).map(Ok).boxed();
        let outbound = futures::sink::unfold(outbound_tx, |tx, frame: String| async move {
            tx.send(frame)
                .await
                .map_err(|_| PhoneError("outbound receiver dropped".to_owned()))?;
            Ok::<_, PhoneError>(tx)
        });
        (
            Self {
                inbound,
                outbound: Box::pin(outbound),
            },
            inbound_tx,
            outbound_rx,
        )
    }
}

fn tokio_stream_from(mut rx: mpsc::Receiver<String>) -> impl Stream<Item = String> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// What the reader tells the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PhoneEvent {
    /// The energy VAD saw the caller start or stop speaking.
    Voice(VadEvent),
    /// The caller pressed a key.
    Dtmf(String),
    /// A mark echo.
    Mark(String),
    /// Twilio ended the stream (hang-up or transfer).
    Stop,
    /// The socket closed or failed, or went idle, without a `stop`.
    Closed(String),
}

/// Counters the reader keeps for the final log line.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReaderStats {
    pub(crate) frames: u64,
    pub(crate) audio_dropped: u64,
    pub(crate) bad_frames: u64,
}

/// Reads the socket until it ends, the call is cancelled, or no frame arrives for `idle_timeout`.
pub(crate) async fn read_from_phone(
    mut inbound: BoxStream<'static, Result<String, PhoneError>>,
    stt: SttHandle,
    events_tx: mpsc::Sender<PhoneEvent>,
    idle_timeout: Duration,
    call: CancellationToken,
    capture: Option<Capture>,
) -> ReaderStats {
    // The reader ending for any reason ends the call.
    let _guard = call.clone().drop_guard();
    let mut stats = ReaderStats::default();
    let mut vad = EnergyVad::new(EnergyVadConfig::default()).expect("default VAD config is valid");
    let mut warned_drop = false;
    let mut warned_stt_closed = false;
    let end = loop {
        let next = tokio::select! {
            _ = call.cancelled() => break None,
            next = tokio::time::timeout(idle_timeout, inbound.next()) => next,
        };
        let frame = match next {
            Err(_) => {
                break Some(PhoneEvent::Closed(format!(
                    "no frame from Twilio for {idle_timeout:?}"
                )));
            }
            Ok(None) => break Some(PhoneEvent::Closed("socket closed without stop".to_owned())),
            Ok(Some(Err(err))) => break Some(PhoneEvent::Closed(err.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        stats.frames += 1;
        if let Some(capture) = &capture {
            capture.twilio_in(&frame);
        }
        let message = match media::decode(&frame) {
            Ok(message) => message,
            Err(err) => {
                stats.bad_frames += 1;
                if stats.bad_frames <= 3 {
                    warn!(error = %err, "skipping malformed frame from Twilio");
                }
                continue;
            }
        };
        let event = match message {
            Inbound::Media(media) => {
                if let Some(change) = vad.push_mulaw(&media.payload) {
                    trace!(?change, "energy vad");
                    let _ = events_tx.try_send(PhoneEvent::Voice(change));
                }
                match stt.send_audio(Bytes::from(media.payload)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        stats.audio_dropped += 1;
                        metrics::counter!("voice_audio_frames_dropped_total").increment(1);
                        if !warned_drop {
                            warned_drop = true;
                            warn!("speech-to-text is falling behind: dropping caller audio");
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        if !warned_stt_closed {
                            warned_stt_closed = true;
                            debug!("speech-to-text session closed; caller audio not forwarded");
                        }
                    }
                }
                continue;
            }
            Inbound::Dtmf(dtmf) => PhoneEvent::Dtmf(dtmf.digit),
            Inbound::Mark(mark) => PhoneEvent::Mark(mark.name),
            Inbound::Stop(_) => break Some(PhoneEvent::Stop),
            Inbound::Connected { .. } | Inbound::Start(_) => {
                debug!("ignoring a repeated connected/start frame");
                continue;
            }
            Inbound::Unknown { event } => {
                debug!(event, "skipping unknown Twilio event");
                continue;
            }
        };
        if events_tx.send(event).await.is_err() {
            break None;
        }
    };
    if let Some(end) = end {
        if let PhoneEvent::Closed(reason) = &end {
            info!(reason, "phone stream ended");
        }
        let _ = events_tx.send(end).await;
    }
    stats
}

/// Writes frames to the socket until the channel closes or the call is cancelled, then closes it.
pub(crate) async fn write_to_phone(
    mut outbound: Pin<Box<dyn Sink<String, Error = PhoneError> + Send>>,
    mut frames_rx: mpsc::Receiver<String>,
    call: CancellationToken,
) {
    let _guard = call.clone().drop_guard();
    loop {
        let frame = tokio::select! {
            _ = call.cancelled() => break,
            frame = frames_rx.recv() => frame,
        };
        let Some(frame) = frame else { break };
        // Feed without flushing while more frames are already queued, then flush once.
        if let Err(err) = outbound.feed(frame).await {
            info!(error = %err, "phone socket write failed");
            return;
        }
        while let Ok(frame) = frames_rx.try_recv() {
            if let Err(err) = outbound.feed(frame).await {
                info!(error = %err, "phone socket write failed");
                return;
            }
        }
        if let Err(err) = outbound.flush().await {
            info!(error = %err, "phone socket flush failed");
            return;
        }
    }
    // Send what is already queued (a goodbye's tail), then close.
    while let Ok(frame) = frames_rx.try_recv() {
        if outbound.feed(frame).await.is_err() {
            return;
        }
    }
    let _ = outbound.close().await;
}
