//! The load generator: simulated Twilio calls against the gateway.
//!
//! One call: the voice webhook (`POST /twilio/voice`), the TwiML's `<Stream>` and `<Parameter>`s,
//! then a WebSocket speaking Twilio Media Streams (docs/protocols.md section 1) with messages encoded
//! by the `twilio` crate: `connected`, `start` with every `<Parameter>` as `customParameters`, a
//! `media` frame of 160 μ-law bytes every 20 ms for the whole call (voice-like frames while the
//! caller talks, silence otherwise), `stop` at the end. The agent's audio goes into a simulated
//! playback buffer that plays 160 bytes per tick; a `mark` is echoed once the audio queued before
//! it has played, and `clear` drops the buffer and echoes every pending mark at once.
//!
//! The script: wait for the greeting to play out, then for each caller turn talk for `speech`,
//! fall silent, and wait until the reply has started (voice-to-voice is measured here: last voiced
//! frame sent -> first agent audio frame received) and played out (`settle` with nothing queued).
//! With a barge-in turn, the caller starts talking `after` into that reply and the time from its
//! first voiced frame to the gateway's `clear` is the barge-in reaction.
//!
//! A stream that closes before the script ends is treated as Twilio treats it: the caller asks
//! the TwiML's `<Connect action>` URL what next (signed, `CallStatus=in-progress`); a new
//! `<Connect><Stream>` is followed (at most `MAX_RESUMES` times) and the script goes on from the
//! utterance it was in, after the agent's first line on the new stream; anything else ends the
//! call as dropped.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::{
    task::JoinSet,
    time::{Instant, MissedTickBehavior, interval_at, sleep_until, timeout},
};
use tokio_tungstenite::tungstenite::Message;
use twilio::{
    AccountSid, AuthToken, CallSid, StreamSid,
    media::{self, Inbound, Outbound},
    signature::compute_signature,
    sim::{self, StreamTwiml},
};

use crate::bench::audio;

const TICK: Duration = Duration::from_millis(20);
/// How many new streams one call follows after losing one.
const MAX_RESUMES: usize = 2;

/// A barge-in scripted into one turn.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct BargeIn {
    /// Which caller turn's reply is interrupted (0-based).
    pub(crate) turn: usize,
    /// How far into the reply's audio the caller starts talking.
    #[serde(with = "ms")]
    pub(crate) after: Duration,
}

/// What every call does.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CallPlan {
    /// Caller turns (the barge-in utterance comes on top).
    pub(crate) turns: usize,
    /// How long the caller talks per turn.
    #[serde(with = "ms")]
    pub(crate) speech: Duration,
    /// An optional barge-in.
    pub(crate) barge_in: Option<BargeIn>,
    /// The agent is done when nothing is queued and no audio came for this long.
    #[serde(with = "ms")]
    pub(crate) settle: Duration,
    /// Longest wait from the end of caller speech (or the call's start) to agent audio.
    #[serde(with = "ms")]
    pub(crate) reply_timeout: Duration,
    /// Longest a whole call may take.
    #[serde(with = "ms")]
    pub(crate) max_call: Duration,
}

mod ms {
    use std::time::Duration;

    pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// Where the gateway is.
#[derive(Debug, Clone)]
pub(crate) struct CallTarget {
    /// `http://127.0.0.1:<port>`.
    pub(crate) http_base: String,
    /// `ws://127.0.0.1:<port>`: the TwiML's stream path is joined to it (the TwiML says `wss://`
    /// and the public host; the bench talks plain WebSocket on loopback).
    pub(crate) ws_base: String,
    /// Client for the webhooks (no proxy, loopback only).
    pub(crate) http: reqwest::Client,
    /// The gateway's `TWILIO_AUTH_TOKEN`: webhooks and stream upgrades are signed with it, as
    /// Twilio signs them (the gateway refuses unsigned ones).
    pub(crate) auth_token: String,
}

/// Why a call did not finish its script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Failure {
    /// The webhook failed or its TwiML had no `<Stream>` (e.g. turned away at capacity).
    Webhook,
    /// The WebSocket upgrade failed.
    Connect,
    /// No greeting audio in time.
    NoGreeting,
    /// No reply audio in time after a caller turn.
    NoReply,
    /// The gateway closed the stream before the script ended.
    Dropped,
    /// The call ran past `max_call`.
    TooLong,
}

/// What one call measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CallResult {
    /// Index within the run.
    pub(crate) index: usize,
    /// `None` when the script completed.
    pub(crate) failure: Option<Failure>,
    /// Short detail for a failure.
    pub(crate) detail: Option<String>,
    /// Caller utterances that got a reply.
    pub(crate) replies: usize,
    /// Per reply: end of caller speech -> first agent audio frame, ms.
    pub(crate) voice_to_voice_ms: Vec<f64>,
    /// Per barge-in: first voiced frame -> `clear`, ms.
    pub(crate) barge_in_ms: Vec<f64>,
    /// `clear` messages the script did not provoke.
    pub(crate) unexpected_clears: usize,
    /// Frames from the gateway that did not decode.
    pub(crate) bad_frames: usize,
    /// From the webhook to the end of the socket, seconds.
    pub(crate) duration_s: f64,
    /// Streams the call went on with after losing one (`<Connect action>`).
    pub(crate) resumed: usize,
    /// Worst lateness of this call's 20 ms ticker, ms (the load generator's own health).
    pub(crate) max_tick_lag_ms: f64,
}

/// The path (and query) of a URL, `/` if it has none.
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find('/')
        .map_or("/", |i| &url[after_scheme + i..])
}

/// Twilio's playback buffer (`twilio::sim::Playback`), advanced by the caller's 20 ms ticker,
/// and when the gateway's audio last came.
#[derive(Default)]
pub(crate) struct Playback {
    buffer: sim::Playback,
    last_audio_at: Option<Instant>,
}

impl Playback {
    /// Takes in a message from the gateway; returns the marks echoed at once.
    pub(crate) fn on_frame(&mut self, frame: Outbound, now: Instant) -> Vec<String> {
        if matches!(frame, Outbound::Media { .. }) {
            self.last_audio_at = Some(now);
        }
        self.buffer.on_frame(frame)
    }

    /// Plays one 20 ms frame; returns the marks now reached.
    pub(crate) fn tick(&mut self) -> Vec<String> {
        self.buffer.play(audio::FRAME_BYTES as u64).marks
    }

    /// Some audio came, all of it played, no mark pending, and nothing new for `settle`.
    pub(crate) fn played_out(&self, now: Instant, settle: Duration) -> bool {
        self.buffer.queued() == 0
            && !self.buffer.marks_pending()
            && self.last_audio_at.is_some_and(|at| now >= at + settle)
    }

    fn has_audio(&self) -> bool {
        self.last_audio_at.is_some()
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The agent's first line; then the caller says utterance `next`.
    Greeting {
        next: usize,
    },
    Speaking {
        utterance: usize,
        frames_left: usize,
    },
    Awaiting {
        utterance: usize,
        speech_end: Instant,
        first_audio: Option<Instant>,
    },
    Done,
}

/// Counts calls with an open stream, and the most seen at once.
#[derive(Debug, Default)]
pub(crate) struct Active {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Active {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }

    /// Calls with an open stream now.
    pub(crate) fn current(&self) -> usize {
        self.now.load(Ordering::Relaxed)
    }

    /// The most at once so far.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

/// Places `n` calls, starting them evenly over `ramp`, and returns their results in index order.
pub(crate) async fn run_load(
    target: Arc<CallTarget>,
    plan: Arc<CallPlan>,
    n: usize,
    ramp: Duration,
    run_id: u32,
    active: Arc<Active>,
) -> Vec<CallResult> {
    let start = Instant::now();
    let mut calls = JoinSet::new();
    for index in 0..n {
        let offset = if n > 1 {
            ramp.mul_f64(index as f64 / (n - 1) as f64)
        } else {
            Duration::ZERO
        };
        let (target, plan, active) = (target.clone(), plan.clone(), active.clone());
        calls.spawn(async move {
            sleep_until(start + offset).await;
            place_call(&target, &plan, run_id, index, &active).await
        });
    }
    let mut results = Vec::with_capacity(n);
    while let Some(joined) = calls.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            // A panicking call task is a bench bug; the missing index shows up as a lost call.
            Err(err) => eprintln!("bench: a call task failed: {err}"),
        }
    }
    results.sort_by_key(|r| r.index);
    results
}

/// One simulated call, start to end.
pub(crate) async fn place_call(
    target: &CallTarget,
    plan: &CallPlan,
    run_id: u32,
    index: usize,
    active: &Active,
) -> CallResult {
    let started = Instant::now();
    let mut result = CallResult {
        index,
        failure: None,
        detail: None,
        replies: 0,
        voice_to_voice_ms: Vec::new(),
        barge_in_ms: Vec::new(),
        unexpected_clears: 0,
        bad_frames: 0,
        duration_s: 0.0,
        resumed: 0,
        max_tick_lag_ms: 0.0,
    };
    let id = (u128::from(run_id) << 64) | index as u128;
    let call_sid = CallSid::from_wire(format!("CA{id:032x}"));
    let account_sid = AccountSid::from_wire(format!("AC{:032x}", 1));
    // A valid North American number (the gateway checks), unique per call within a run.
    let from = format!("+1415{:07}", 2_000_000 + index % 8_000_000);
    let mut twiml = match webhook(target, &call_sid, &account_sid, &from).await {
        Ok(twiml) => twiml,
        Err(detail) => {
            result.failure = Some(Failure::Webhook);
            result.detail = Some(detail);
            result.duration_s = started.elapsed().as_secs_f64();
            return result;
        }
    };
    let mut next_utterance = 0;
    let mut stream_number = 0_u128;
    loop {
        let stream_sid = StreamSid::from_wire(format!("MZ{:032x}", id + (stream_number << 100)));
        let end = stream_once(
            target,
            plan,
            active,
            &mut result,
            Stream {
                twiml: &twiml,
                call_sid: &call_sid,
                stream_sid,
                account_sid: &account_sid,
                next_utterance,
                started,
            },
        )
        .await;
        let RunEnd::Lost { next, detail } = end else {
            break;
        };
        // As Twilio does when a stream ends under a live call: ask what next.
        let next_twiml = match &twiml.action {
            Some(action) if result.resumed < MAX_RESUMES => {
                follow_action(target, action, &call_sid, &account_sid, &from).await
            }
            Some(_) => Err("resumed too often".to_owned()),
            None => Err("no <Connect action>".to_owned()),
        };
        match next_twiml {
            Ok(resumed) => {
                result.resumed += 1;
                twiml = resumed;
                next_utterance = next;
                stream_number += 1;
            }
            Err(why) => {
                result.failure = Some(Failure::Dropped);
                result.detail = Some(format!("{detail}; then {why}"));
                break;
            }
        }
    }
    result.duration_s = started.elapsed().as_secs_f64();
    result
}

/// One stream of a call.
struct Stream<'a> {
    twiml: &'a StreamTwiml,
    call_sid: &'a CallSid,
    stream_sid: StreamSid,
    account_sid: &'a AccountSid,
    next_utterance: usize,
    started: Instant,
}

/// How a stream ended.
enum RunEnd {
    /// The script ended (done or failed, as `result` says).
    Finished,
    /// The stream closed under the call; the caller was about to say utterance `next`.
    Lost { next: usize, detail: String },
}

/// The `<Connect action>` request after a lost stream; the new stream's TwiML, if it gives one.
async fn follow_action(
    target: &CallTarget,
    action: &str,
    call_sid: &CallSid,
    account_sid: &AccountSid,
    from: &str,
) -> Result<StreamTwiml, String> {
    // The action URL is public (PUBLIC_URL); the bench reaches it at the same address.
    let form = call_form(call_sid, account_sid, from, "in-progress");
    ask_for_stream(target, action, &form, "the action").await
}

/// Connects one stream and runs the script on it.
async fn stream_once(
    target: &CallTarget,
    plan: &CallPlan,
    active: &Active,
    result: &mut CallResult,
    stream: Stream<'_>,
) -> RunEnd {
    let Stream {
        twiml,
        call_sid,
        stream_sid,
        account_sid,
        next_utterance,
        started,
    } = stream;
    let path = path_of(&twiml.url);
    let url = format!("{}{path}", target.ws_base);
    // Twilio signs the upgrade over the TwiML's wss:// URL (PUBLIC_URL is the http base here).
    let signed_url = format!(
        "{}{path}",
        target.http_base.replacen("http://", "wss://", 1)
    );
    let signature = compute_signature::<&str, &str>(
        &AuthToken::new(target.auth_token.as_str()),
        &signed_url,
        &[],
    );
    let request = match signed_request(&url, &signature) {
        Ok(request) => request,
        Err(detail) => {
            result.failure = Some(Failure::Connect);
            result.detail = Some(detail);
            return RunEnd::Finished;
        }
    };
    let ws = match timeout(
        plan.reply_timeout,
        tokio_tungstenite::connect_async_with_config(request, Some(small_reads()), true),
    )
    .await
    {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(err)) => {
            result.failure = Some(Failure::Connect);
            result.detail = Some(err.to_string());
            return RunEnd::Finished;
        }
        Err(_) => {
            result.failure = Some(Failure::Connect);
            result.detail = Some("websocket upgrade timed out".to_owned());
            return RunEnd::Finished;
        }
    };
    active.enter();
    let start = media::Start {
        sequence_number: 1,
        stream_sid: stream_sid.clone(),
        account_sid: account_sid.clone(),
        call_sid: call_sid.clone(),
        tracks: vec![media::Track::Inbound],
        custom_parameters: twiml.parameters.iter().cloned().collect(),
        media_format: media::MediaFormat {
            encoding: media::MediaFormat::MULAW.to_owned(),
            sample_rate_hz: 8000,
            channels: 1,
        },
    };
    let mut session = Session {
        ws,
        stream_sid,
        account_sid: account_sid.clone(),
        call_sid: call_sid.clone(),
        sequence: 1,
        chunk: 0,
        plan,
        result,
    };
    let end = session.run(start, started, next_utterance).await;
    active.leave();
    end
}

async fn webhook(
    target: &CallTarget,
    call_sid: &CallSid,
    account_sid: &AccountSid,
    from: &str,
) -> Result<StreamTwiml, String> {
    let form = call_form(call_sid, account_sid, from, "ringing");
    let url = format!("{}/twilio/voice", target.http_base);
    ask_for_stream(target, &url, &form, "webhook").await
}

/// Posts `form` to `url` signed as Twilio signs it and reads the `<Stream>` out of the TwiML
/// answer; `what` names the request in the error.
async fn ask_for_stream(
    target: &CallTarget,
    url: &str,
    form: &[(&str, &str)],
    what: &str,
) -> Result<StreamTwiml, String> {
    sim::answer(
        &target.http,
        url,
        &AuthToken::new(target.auth_token.as_str()),
        form,
    )
    .await
    .map_err(|err| {
        let mut short: String = err.to_string().chars().take(200).collect();
        short.retain(|c| c != '\n');
        format!("{what}: {short}")
    })
}

/// The standard parameters Twilio posts about an inbound call (webhook, `<Connect action>`).
fn call_form<'a>(
    call_sid: &'a CallSid,
    account_sid: &'a AccountSid,
    from: &'a str,
    status: &'a str,
) -> [(&'a str, &'a str); 7] {
    [
        ("CallSid", call_sid.as_str()),
        ("AccountSid", account_sid.as_str()),
        ("From", from),
        ("To", "+15550000000"),
        ("CallStatus", status),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
    ]
}

/// A WebSocket upgrade request for `url` carrying Twilio's signature header.
fn signed_request(
    url: &str,
    signature: &str,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url
        .into_client_request()
        .map_err(|err| format!("stream url: {err}"))?;
    let value = signature
        .parse()
        .map_err(|err| format!("signature header: {err}"))?;
    request.headers_mut().insert("X-Twilio-Signature", value);
    Ok(request)
}

/// Base64 of every 20 ms frame of `pattern`, computed once per call.
pub(crate) fn frames_base64(pattern: &Bytes) -> Vec<String> {
    use base64::Engine as _;
    let frames = (pattern.len() / audio::FRAME_BYTES).max(1);
    (0..frames)
        .map(|i| base64::engine::general_purpose::STANDARD.encode(audio::frame_of(pattern, i)))
        .collect()
}

/// WebSocket settings for the callers (the simulators set the same on their upgrades). tungstenite zeroes `read_buffer_size`
/// bytes (128 KiB by default) on every read attempt, including the many that find no data when a
/// `select!` loop re-polls a quiet socket; 4 KiB keeps that cost small. No message here is larger
/// than a few KiB, and a larger one is simply read in several steps.
pub(crate) fn small_reads() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4 * 1024)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Session<'a> {
    ws: Ws,
    stream_sid: StreamSid,
    account_sid: AccountSid,
    call_sid: CallSid,
    sequence: u64,
    chunk: u64,
    plan: &'a CallPlan,
    result: &'a mut CallResult,
}

impl Session<'_> {
    async fn send(&mut self, message: Inbound) -> bool {
        let text = message.encode(&self.stream_sid);
        self.ws.send(Message::Text(text.into())).await.is_ok()
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// Sends one `media` frame whose payload is already base64 (`twilio::sim::media_frame_base64`).
    async fn send_media(&mut self, payload_base64: &str) -> bool {
        self.chunk += 1;
        let sequence = self.next_sequence();
        let timestamp_ms = (self.chunk - 1) * TICK.as_millis() as u64;
        let text = sim::media_frame_base64(
            &self.stream_sid,
            sequence,
            self.chunk,
            timestamp_ms,
            payload_base64,
        );
        self.ws.send(Message::Text(text.into())).await.is_ok()
    }

    async fn echo_marks(&mut self, names: Vec<String>) -> bool {
        for name in names {
            let mark = media::Mark {
                sequence_number: self.next_sequence(),
                name,
            };
            if !self.send(Inbound::Mark(mark)).await {
                return false;
            }
        }
        true
    }

    fn fail(&mut self, failure: Failure, detail: String) {
        self.result.failure = Some(failure);
        self.result.detail = Some(detail);
    }

    /// Runs the script from utterance `first` (after the agent's first line) until it ends or
    /// the stream is lost.
    async fn run(&mut self, start: media::Start, started: Instant, first: usize) -> RunEnd {
        let connected = Inbound::Connected {
            protocol: "Call".to_owned(),
            version: "1.0.0".to_owned(),
        };
        if !self.send(connected).await || !self.send(Inbound::Start(start)).await {
            return RunEnd::Lost {
                next: first,
                detail: "could not send connected/start".to_owned(),
            };
        }
        let plan = self.plan;
        let utterances =
            plan.turns + usize::from(plan.barge_in.is_some_and(|b| b.turn < plan.turns));
        let speech_frames = (plan.speech.as_millis() / TICK.as_millis()).max(1) as usize;
        let voice = frames_base64(&audio::voice_pattern());
        let silence = frames_base64(&audio::silence_frame()).swap_remove(0);
        let mut playback = Playback::default();
        let mut phase = Phase::Greeting { next: first };
        let mut waiting_since = Instant::now();
        let mut barge_started: Option<Instant> = None;
        let mut barged = false;
        let mut voice_frame = 0_usize;
        let mut ticker = interval_at(Instant::now() + TICK, TICK);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let deadline = started + plan.max_call;
        loop {
            tokio::select! {
                scheduled = ticker.tick() => {
                    let now = Instant::now();
                    let lag = now.duration_since(scheduled).as_secs_f64() * 1000.0;
                    self.result.max_tick_lag_ms = self.result.max_tick_lag_ms.max(lag);
                    if now > deadline {
                        self.fail(Failure::TooLong, format!("still running after {:?}", plan.max_call));
                        break;
                    }
                    let due = playback.tick();
                    if !self.echo_marks(due).await {
                        return lost(&phase, "socket closed");
                    }
                    // Advance the script.
                    match phase {
                        Phase::Greeting { next } => {
                            if playback.played_out(now, plan.settle) {
                                phase = if next >= utterances {
                                    Phase::Done
                                } else {
                                    Phase::Speaking { utterance: next, frames_left: speech_frames }
                                };
                            } else if !playback.has_audio() && now > waiting_since + plan.reply_timeout {
                                self.fail(Failure::NoGreeting, format!("no audio within {:?}", plan.reply_timeout));
                                break;
                            }
                        }
                        Phase::Awaiting { utterance, speech_end, first_audio } => {
                            let barge_here = plan.barge_in.filter(|b| b.turn == utterance && !barged);
                            match first_audio {
                                None if now > speech_end + plan.reply_timeout => {
                                    self.fail(Failure::NoReply, format!("no reply to utterance {utterance} within {:?}", plan.reply_timeout));
                                    break;
                                }
                                Some(first) if barge_here.is_some_and(|b| now >= first + b.after) => {
                                    barged = true;
                                    phase = Phase::Speaking { utterance: utterance + 1, frames_left: speech_frames };
                                    barge_started = Some(now);
                                }
                                Some(_) if playback.played_out(now, plan.settle) => {
                                    if utterance + 1 >= utterances {
                                        phase = Phase::Done;
                                    } else {
                                        phase = Phase::Speaking { utterance: utterance + 1, frames_left: speech_frames };
                                    }
                                }
                                _ => {}
                            }
                        }
                        Phase::Speaking { .. } | Phase::Done => {}
                    }
                    if matches!(phase, Phase::Done) {
                        break;
                    }
                    // One frame of caller audio, every tick.
                    let frame = match &mut phase {
                        Phase::Speaking { utterance, frames_left } => {
                            *frames_left -= 1;
                            voice_frame += 1;
                            let frame = voice[voice_frame % voice.len()].as_str();
                            if *frames_left == 0 {
                                phase = Phase::Awaiting { utterance: *utterance, speech_end: now, first_audio: None };
                                waiting_since = now;
                            }
                            frame
                        }
                        _ => silence.as_str(),
                    };
                    if !self.send_media(frame).await {
                        return lost(&phase, "socket closed");
                    }
                }
                message = self.ws.next() => {
                    let now = Instant::now();
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            self.result.bad_frames += 1;
                            continue;
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                            let at = match phase {
                                Phase::Greeting { .. } => "greeting".to_owned(),
                                Phase::Speaking { utterance, .. } | Phase::Awaiting { utterance, .. } => format!("utterance {utterance}"),
                                Phase::Done => "the end".to_owned(),
                            };
                            return lost(&phase, &format!("gateway closed the stream during {at}"));
                        }
                        Some(Ok(_)) => continue,
                    };
                    let Ok(frame) = media::decode_outbound(&text) else {
                        self.result.bad_frames += 1;
                        continue;
                    };
                    match &frame {
                        Outbound::Media { .. } => {
                            if let Phase::Awaiting { speech_end, first_audio: first @ None, .. } = &mut phase {
                                *first = Some(now);
                                self.result.replies += 1;
                                self.result.voice_to_voice_ms.push(ms_between(*speech_end, now));
                            }
                        }
                        Outbound::Mark { .. } => {}
                        Outbound::Clear { .. } => match barge_started.take() {
                            Some(at) => self.result.barge_in_ms.push(ms_between(at, now)),
                            None => self.result.unexpected_clears += 1,
                        },
                    }
                    let echoes = playback.on_frame(frame, now);
                    if !echoes.is_empty() && !self.echo_marks(echoes).await {
                        return lost(&phase, "socket closed");
                    }
                }
            }
        }
        self.hang_up().await;
        RunEnd::Finished
    }

    /// `stop`, then a close handshake bounded in time.
    async fn hang_up(&mut self) {
        let stop = media::Stop {
            sequence_number: self.next_sequence(),
            account_sid: self.account_sid.clone(),
            call_sid: self.call_sid.clone(),
        };
        let _ = self.send(Inbound::Stop(stop)).await;
        let _ = self.ws.close(None).await;
        let drain = async { while let Some(Ok(_)) = self.ws.next().await {} };
        let _ = timeout(Duration::from_secs(2), drain).await;
    }
}

/// The stream was lost in `phase`: the caller goes on with the utterance it was in.
fn lost(phase: &Phase, detail: &str) -> RunEnd {
    let next = match *phase {
        Phase::Greeting { next } => next,
        Phase::Speaking { utterance, .. } | Phase::Awaiting { utterance, .. } => utterance,
        Phase::Done => usize::MAX,
    };
    RunEnd::Lost {
        next,
        detail: detail.to_owned(),
    }
}

fn ms_between(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests;
