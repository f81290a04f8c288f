//! The Twilio side of a replay: it asks the gateway's voice webhook for the call (signed, as
//! Twilio does), opens the stream the TwiML names with a tokio-tungstenite client, sends the
//! caller's frames and plays the gateway's audio with Twilio's playback model
//! (`twilio::sim::Playback`: a `mark` is echoed once the audio queued before it has played;
//! `clear` drops the queued audio and echoes every pending mark at once). It keeps both sides'
//! audio for the WAV.
//!
//! Pacing of a recorded call:
//! - real time: every frame at its recorded offset; the agent's audio plays in real time;
//! - `--fast`: no waiting on the clock. Each frame waits for the agent playback it waited for in
//!   the recording (`Gate`: as much agent audio played, and as many `clear`s sent), and playback
//!   never runs ahead of the next frame's gate, so caller events keep their order relative to the
//!   agent's speech. This needs the replay's audio to be as long as the recording's, turn by turn
//!   (see the `tts` module). The next frame also waits until the recogniser has taken the
//!   frames before it. If the pipeline no longer produces what a gate waits for, the gate is
//!   released after `STALL` of silence from the gateway (the diff then shows what changed).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{SinkExt, StreamExt, stream::SplitSink};
use serde_json::Value;
use tokio::{net::TcpStream, sync::mpsc, sync::watch};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest},
};
use twilio::sim::{self, Playback};

use super::capture::{BYTES_PER_MS, CallerFrame, Gate};

/// How long `--fast` waits on a gate while the gateway sends nothing before releasing it. A
/// replay that passes never waits this long (its gates open on the gateway's audio and marks),
/// so it only bounds how long a broken one takes; a shorter one turned a busy machine's pause
/// into a diff (1.5 s failed a local CI run once).
const STALL: Duration = Duration::from_millis(4000);
/// After the last frame, how long to wait for the gateway to end the call.
const END_WAIT: Duration = Duration::from_secs(20);
/// μ-law silence.
pub(crate) const SILENCE: u8 = 0xFF;
/// One 20 ms frame of μ-law audio.
pub(crate) const FRAME_BYTES: usize = 160;

type WsSink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// Both sides of the call as μ-law, aligned on the caller's frames (8 bytes per ms).
#[derive(Debug, Default, Clone)]
pub(crate) struct Tracks {
    /// What the caller sent.
    pub(crate) caller: Vec<u8>,
    /// What the gateway played, placed at the point of the caller's audio where it played.
    pub(crate) agent: Vec<u8>,
}

impl Tracks {
    fn agent_played(&mut self, audio: &[u8]) {
        if self.agent.len() < self.caller.len() {
            self.agent.resize(self.caller.len(), SILENCE);
        }
        self.agent.extend_from_slice(audio);
    }
}

/// A connected simulated Twilio.
pub(crate) struct TwilioSide {
    sink: WsSink,
    gateway_rx: mpsc::Receiver<String>,
    gateway_closed: bool,
    /// Twilio's playback buffer (`twilio::sim::Playback`).
    playback: Playback,
    pending_echoes: Vec<String>,
    /// The `<Parameter>`s of the gateway's TwiML: what `start` carries as `customParameters`.
    start_parameters: Vec<(String, String)>,
    pub(crate) tracks: Tracks,
    stream_sid: String,
    sequence: u64,
    /// Media frames sent so far.
    pub(crate) media_sent: u64,
    /// Total agent audio played (bytes).
    pub(crate) played_total: u64,
}

impl TwilioSide {
    /// Answers `call` as Twilio does: asks the gateway's voice webhook at `base` (signed with
    /// `auth_token`) for instructions, and opens the media stream its TwiML names, the upgrade
    /// signed for the `wss://` URL it wrote. The recorded `start` is sent with the TwiML's
    /// parameters (the stream token among them) as its `customParameters`.
    pub(crate) async fn answer(
        base: &str,
        auth_token: &str,
        call: &super::CallInfo,
    ) -> anyhow::Result<Self> {
        let (form, query) = call.webhook();
        let mut webhook = url::Url::parse(&format!("{base}/twilio/voice"))?;
        if !query.is_empty() {
            webhook.query_pairs_mut().extend_pairs(query);
        }
        let token = twilio::AuthToken::new(auth_token);
        let twiml = sim::answer(&reqwest::Client::new(), webhook.as_str(), &token, &form)
            .await
            .context("asking the gateway's voice webhook for the call")?;
        // The stream URL is public (wss://); the gateway listens on plain loopback.
        let path = twiml
            .url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
            .unwrap_or("/twilio/stream");
        let ws_url = format!("{}{path}", base.replacen("http://", "ws://", 1));
        let mut request = ws_url
            .as_str()
            .into_client_request()
            .context("the stream URL")?;
        let signature = twilio::signature::compute_signature::<&str, &str>(&token, &twiml.url, &[]);
        request
            .headers_mut()
            .insert("X-Twilio-Signature", signature.parse()?);
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .with_context(|| format!("connecting to {ws_url}"))?;
        let (sink, mut stream) = socket.split();
        let (gateway_tx, gateway_rx) = mpsc::channel(4096);
        tokio::spawn(async move {
            while let Some(message) = stream.next().await {
                match message {
                    Ok(Message::Text(text)) => {
                        if gateway_tx.send(text.to_string()).await.is_err() {
                            break;
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        });
        Ok(Self {
            sink,
            gateway_rx,
            gateway_closed: false,
            playback: Playback::default(),
            pending_echoes: Vec::new(),
            start_parameters: twiml.parameters,
            tracks: Tracks::default(),
            stream_sid: String::new(),
            sequence: 0,
            media_sent: 0,
            played_total: 0,
        })
    }

    /// Whether the gateway closed the socket.
    pub(crate) fn closed(&self) -> bool {
        self.gateway_closed
    }

    /// Sends a frame as it is (a `start` with the TwiML's parameters, as Twilio sends it);
    /// remembers the stream SID from `start` and the audio of `media`.
    pub(crate) async fn send_frame(&mut self, text: &str, audio: Option<&[u8]>) {
        if let Ok(twilio::media::Inbound::Start(mut start)) = twilio::media::decode(text) {
            start.custom_parameters = self.start_parameters.iter().cloned().collect();
            let stream_sid = start.stream_sid.clone();
            let text = twilio::media::Inbound::Start(start).encode(&stream_sid);
            stream_sid.as_str().clone_into(&mut self.stream_sid);
            self.sequence = self.sequence.max(1);
            self.send_text(text).await;
            return;
        }
        if let Ok(frame) = serde_json::from_str::<Value>(text) {
            if let Some(sid) = frame.get("streamSid").and_then(Value::as_str) {
                sid.clone_into(&mut self.stream_sid);
            }
            if let Some(seq) = frame
                .get("sequenceNumber")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
            {
                self.sequence = self.sequence.max(seq);
            }
        }
        if let Some(audio) = audio {
            self.media_sent += 1;
            self.tracks.caller.extend_from_slice(audio);
        }
        self.send_text(text.to_owned()).await;
    }

    /// The next sequence number for a frame we make up.
    pub(crate) fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    async fn send_text(&mut self, text: String) {
        if self.gateway_closed {
            return;
        }
        if self.sink.send(Message::Text(text.into())).await.is_err() {
            self.gateway_closed = true;
        }
    }

    /// Sends the mark echoes that are due.
    async fn flush_echoes(&mut self) {
        let stream_sid = twilio::StreamSid::from_wire(self.stream_sid.as_str());
        for name in std::mem::take(&mut self.pending_echoes) {
            let seq = self.next_sequence();
            self.send_text(sim::mark_echo(&stream_sid, seq, &name))
                .await;
        }
    }

    /// Takes in one frame from the gateway.
    fn on_gateway(&mut self, text: &str) {
        if let Ok(frame) = twilio::media::decode_outbound(text) {
            let echoed = self.playback.on_frame(frame);
            self.pending_echoes.extend(echoed);
        }
    }

    /// Takes in every frame the gateway already sent.
    fn drain_gateway(&mut self) {
        loop {
            match self.gateway_rx.try_recv() {
                Ok(text) => self.on_gateway(&text),
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.gateway_closed = true;
                    return;
                }
            }
        }
    }

    /// Waits for the next gateway frame (or `wait`); false when nothing came.
    async fn wait_gateway(&mut self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.gateway_rx.recv()).await {
            Ok(Some(text)) => {
                self.on_gateway(&text);
                true
            }
            Ok(None) => {
                self.gateway_closed = true;
                true
            }
            Err(_) => false,
        }
    }

    /// Plays up to `max_bytes` of queued audio (and every mark reached), echoing marks.
    async fn play(&mut self, max_bytes: u64) {
        let played = self.playback.play(max_bytes);
        self.tracks.agent_played(&played.audio);
        self.played_total += played.audio.len() as u64;
        self.pending_echoes.extend(played.marks);
        self.flush_echoes().await;
    }

    /// Whether the agent has audio left to play.
    pub(crate) fn agent_playing(&self) -> bool {
        self.playback.queued() > 0
    }

    /// Plays in real time for `elapsed` (Twilio plays as it receives).
    pub(crate) async fn play_for(&mut self, elapsed: Duration) {
        self.drain_gateway();
        let bytes = (elapsed.as_secs_f64() * 1000.0 * BYTES_PER_MS) as u64;
        self.play(bytes).await;
    }

    /// After the last frame: plays on in real time (or at once) until the gateway closes.
    pub(crate) async fn finish(mut self, fast: bool) -> Tracks {
        let deadline = Instant::now() + END_WAIT;
        let mut last = Instant::now();
        while !self.gateway_closed && Instant::now() < deadline {
            let got = self.wait_gateway(Duration::from_millis(20)).await;
            if fast {
                if !got {
                    self.play(u64::MAX).await;
                }
            } else {
                let now = Instant::now();
                self.play_for(now - last).await;
                last = now;
            }
        }
        let _ = self.sink.close().await;
        self.tracks
    }
}

/// Plays a recorded caller against the gateway; returns both sides' audio. With `transfers`
/// (the recorded call was transferred), the recorded `stop` waits for the replay's transfer, as
/// Twilio's does for the REST redirect.
pub(crate) async fn replay_caller(
    mut twilio: TwilioSide,
    frames: &[CallerFrame],
    fast: bool,
    mut stt_frames: watch::Receiver<u64>,
    mut transfers: Option<mpsc::UnboundedReceiver<()>>,
) -> Tracks {
    if fast {
        replay_fast(&mut twilio, frames, &mut stt_frames, &mut transfers).await;
    } else {
        replay_realtime(&mut twilio, frames, &mut transfers).await;
    }
    twilio.finish(fast).await
}

/// Before a `stop` of a transferred call: waits (playing on) for the transfer.
async fn await_transfer(
    twilio: &mut TwilioSide,
    frame: &CallerFrame,
    transfers: &mut Option<mpsc::UnboundedReceiver<()>>,
    fast: bool,
) {
    let Some(rx) = transfers.as_mut() else { return };
    if frame.event != "stop" {
        return;
    }
    let deadline = Instant::now() + STALL * 4;
    let mut last = Instant::now();
    while !twilio.closed() && Instant::now() < deadline {
        if rx.try_recv().is_ok() {
            return;
        }
        let got = twilio.wait_gateway(Duration::from_millis(10)).await;
        if fast {
            if !got {
                twilio.play(u64::MAX).await;
            }
        } else {
            let now = Instant::now();
            twilio.play_for(now - last).await;
            last = now;
        }
    }
}

async fn replay_realtime(
    twilio: &mut TwilioSide,
    frames: &[CallerFrame],
    transfers: &mut Option<mpsc::UnboundedReceiver<()>>,
) {
    let start = Instant::now();
    let mut last = start;
    for frame in frames {
        let due = start + Duration::from_secs_f64(frame.t_ms / 1000.0);
        loop {
            let now = Instant::now();
            twilio.play_for(now - last).await;
            last = now;
            if now >= due || twilio.closed() {
                break;
            }
            let wait = (due - now).min(Duration::from_millis(10));
            twilio.wait_gateway(wait).await;
        }
        if twilio.closed() {
            return;
        }
        await_transfer(twilio, frame, transfers, false).await;
        twilio.send_frame(&frame.text, frame.audio.as_deref()).await;
    }
}

/// Shifts that line the replay's playback up with the recording's after a released gate.
#[derive(Default)]
struct Alignment {
    played_shift: i64,
    clear_shift: i64,
}

impl Alignment {
    fn played(&self, twilio: &TwilioSide) -> i64 {
        twilio.played_total as i64 + self.played_shift
    }

    fn is_met(&self, gate: Gate, twilio: &TwilioSide) -> bool {
        i64::from(twilio.playback.clears()) + self.clear_shift >= i64::from(gate.clears)
            && self.played(twilio) >= gate.played as i64
    }

    /// How much may play before the caller's next frame.
    fn cap(&self, gate: Gate, twilio: &TwilioSide) -> u64 {
        (gate.played as i64 - self.played(twilio)).max(0) as u64
    }

    /// The replay no longer does what the recording waited for: go on from here.
    fn release(&mut self, gate: Gate, twilio: &TwilioSide) {
        let clears = i64::from(twilio.playback.clears()) + self.clear_shift;
        if clears < i64::from(gate.clears) {
            self.clear_shift += i64::from(gate.clears) - clears;
        }
        let played = self.played(twilio);
        if played < gate.played as i64 {
            self.played_shift += gate.played as i64 - played;
        }
    }
}

async fn replay_fast(
    twilio: &mut TwilioSide,
    frames: &[CallerFrame],
    stt_frames: &mut watch::Receiver<u64>,
    transfers: &mut Option<mpsc::UnboundedReceiver<()>>,
) {
    let mut align = Alignment::default();
    let mut stt_stalled = false;
    let mut next = 0;
    while next < frames.len() && !twilio.closed() {
        twilio.drain_gateway();
        let gate = frames[next].gate;
        let cap = align.cap(gate, twilio);
        twilio.play(cap).await;
        // The recogniser must have every earlier frame, so its events fire where they did.
        let stt_ready = stt_stalled || *stt_frames.borrow() >= twilio.media_sent;
        if stt_ready && align.is_met(gate, twilio) {
            let frame = &frames[next];
            await_transfer(twilio, frame, transfers, true).await;
            twilio.send_frame(&frame.text, frame.audio.as_deref()).await;
            next += 1;
            continue;
        }
        if !stt_ready {
            let progressed = tokio::select! {
                changed = stt_frames.changed() => changed.is_ok(),
                got = twilio.wait_gateway(STALL) => got,
            };
            // A recogniser that stopped taking audio (its session ended) no longer paces us.
            stt_stalled = !progressed;
            continue;
        }
        if !twilio.wait_gateway(STALL).await && !twilio.agent_playing() {
            align.release(gate, twilio);
        }
    }
}
