//! Media Streams websocket messages (docs/protocols.md section 1).
//!
//! [`decode`] turns one text frame from Twilio into an [`Inbound`]; [`Outbound`] and the
//! `encode_*_into` functions produce the frames we send back. Audio stays μ-law bytes here.
//!
//! Decoding borrows every string from the input and base64-decodes the payload once, so a `media`
//! frame costs one allocation: the payload `Vec`. Numbers that Twilio sends as strings
//! (`sequenceNumber`, `chunk`, `timestamp`) are parsed to integers; JSON numbers are accepted too.
//! No input makes these functions panic.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::sid::{AccountSid, CallSid, StreamSid};

/// One message Twilio sends on the media websocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// First message on every socket.
    Connected {
        /// Protocol name; the docs show `"Call"`.
        protocol: String,
        /// Protocol version; the docs show `"1.0.0"`.
        version: String,
    },
    /// Stream metadata, once, right after `Connected`.
    Start(Start),
    /// 20 ms (normally) of caller audio.
    Media(Media),
    /// The caller pressed a key.
    Dtmf(Dtmf),
    /// Echo of a mark we sent: audio queued before it has played, or was cleared.
    Mark(Mark),
    /// Last message: the stream ended (hang-up *or* a REST redirect such as a transfer).
    Stop(Stop),
    /// An `event` this crate does not know; log at debug and skip it.
    Unknown {
        /// The `event` value as received.
        event: String,
    },
}

/// The `start` message: who the stream belongs to and what it carries.
///
/// `Debug` lists the custom parameter names but not their values, which may be per-call tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Start {
    /// Message counter (`"1"` in practice).
    pub sequence_number: u64,
    /// Must be copied into every outbound message.
    pub stream_sid: StreamSid,
    /// Account that created the stream.
    pub account_sid: AccountSid,
    /// Call the stream belongs to; use it for REST updates.
    pub call_sid: CallSid,
    /// Tracks that will follow; `[Inbound]` for `<Connect><Stream>`. Empty if Twilio omits the field.
    pub tracks: Vec<Track>,
    /// The `<Parameter name value>` pairs from the TwiML; empty if Twilio omits the field.
    pub custom_parameters: HashMap<String, String>,
    /// Audio format of `media` payloads.
    pub media_format: MediaFormat,
}

impl fmt::Debug for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parameter_names: Vec<&str> =
            self.custom_parameters.keys().map(String::as_str).collect();
        parameter_names.sort_unstable();
        f.debug_struct("Start")
            .field("sequence_number", &self.sequence_number)
            .field("stream_sid", &self.stream_sid)
            .field("account_sid", &self.account_sid)
            .field("call_sid", &self.call_sid)
            .field("tracks", &self.tracks)
            .field("custom_parameter_names", &parameter_names)
            .field("media_format", &self.media_format)
            .finish()
    }
}

/// `start.mediaFormat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFormat {
    /// Always `"audio/x-mulaw"` today.
    pub encoding: String,
    /// Always 8000 today.
    pub sample_rate_hz: u32,
    /// Always 1 today.
    pub channels: u16,
}

impl MediaFormat {
    /// The encoding Twilio documents for Media Streams.
    pub const MULAW: &'static str = "audio/x-mulaw";

    /// Whether this is the only format the rest of the system handles: μ-law, 8 kHz, mono.
    pub fn is_mulaw_8khz_mono(&self) -> bool {
        self.encoding == Self::MULAW && self.sample_rate_hz == 8000 && self.channels == 1
    }
}

/// A `media` message: caller audio.
#[derive(Clone, PartialEq, Eq)]
pub struct Media {
    /// Message counter.
    pub sequence_number: u64,
    /// `Inbound` (the caller) for `<Connect><Stream>`.
    pub track: Track,
    /// Chunk counter, from 1.
    pub chunk: u64,
    /// Presentation time of this chunk in ms since the stream started (not wall clock).
    pub timestamp_ms: u64,
    /// Raw μ-law bytes (8 kHz mono, no header), base64-decoded.
    pub payload: Vec<u8>,
}

impl fmt::Debug for Media {
    // Audio never goes to logs: print its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("sequence_number", &self.sequence_number)
            .field("track", &self.track)
            .field("chunk", &self.chunk)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// A `dtmf` message: one key press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dtmf {
    /// Message counter.
    pub sequence_number: u64,
    /// `Inbound` (Twilio writes `"inbound_track"` here).
    pub track: Track,
    /// The key: `"0"`…`"9"`, `"*"`, `"#"`.
    pub digit: String,
}

/// A `mark` echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Message counter.
    pub sequence_number: u64,
    /// Exactly the name we sent.
    pub name: String,
}

/// A `stop` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// Message counter.
    pub sequence_number: u64,
    /// Account SID.
    pub account_sid: AccountSid,
    /// Call SID.
    pub call_sid: CallSid,
}

/// A media track. Twilio spells it `inbound` in `start`/`media` and `inbound_track` in `dtmf`;
/// both decode to [`Track::Inbound`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Track {
    /// The caller's audio.
    Inbound,
    /// Audio played to the caller.
    Outbound,
    /// Any other value, kept verbatim.
    Other(String),
}

/// A frame we send to Twilio (or, in a fake Twilio, receive from the gateway).
#[derive(Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Play μ-law audio to the caller (queued after earlier media).
    Media {
        /// SID from `start`.
        stream_sid: StreamSid,
        /// Raw μ-law bytes, 8 kHz mono, no header.
        payload: Vec<u8>,
    },
    /// Ask Twilio to echo `name` once everything queued before it has played.
    Mark {
        /// SID from `start`.
        stream_sid: StreamSid,
        /// Any string; it comes back verbatim.
        name: String,
    },
    /// Drop all queued audio (barge-in); pending marks are echoed.
    Clear {
        /// SID from `start`.
        stream_sid: StreamSid,
    },
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Media {
                stream_sid,
                payload,
            } => f
                .debug_struct("Media")
                .field("stream_sid", stream_sid)
                .field("payload_len", &payload.len())
                .finish(),
            Self::Mark { stream_sid, name } => f
                .debug_struct("Mark")
                .field("stream_sid", stream_sid)
                .field("name", name)
                .finish(),
            Self::Clear { stream_sid } => f
                .debug_struct("Clear")
                .field("stream_sid", stream_sid)
                .finish(),
        }
    }
}

/// Why a frame could not be decoded. Plain data, cheap to log; never contains audio.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not a JSON object, or a field has the wrong JSON type.
    #[error("invalid json frame: {reason}")]
    Json {
        /// serde_json's explanation, with line and column (shortened).
        reason: String,
    },
    /// A field the message type requires is absent or `null`.
    #[error("{event} message has no {field}")]
    MissingField {
        /// The `event` value (`"message"` when `event` itself is missing).
        event: &'static str,
        /// JSON path of the field, e.g. `media.payload`.
        field: &'static str,
    },
    /// A numeric field is not a non-negative integer that fits.
    #[error("{field} is not a valid integer: {value:?}")]
    BadNumber {
        /// JSON path of the field.
        field: &'static str,
        /// The value received (shortened).
        value: String,
    },
    /// `media.payload` is not base64.
    #[error("media payload is not valid base64: {reason}")]
    BadBase64 {
        /// The base64 decoder's explanation (position and symbol, no payload).
        reason: String,
    },
    /// An outbound frame names an event Twilio does not accept (only [`decode_outbound`]).
    #[error("unknown outbound event {event:?}")]
    UnknownEvent {
        /// The `event` value (shortened).
        event: String,
    },
}

/// Decodes one text frame from Twilio.
///
/// An unknown `event` is `Ok(Inbound::Unknown)`; malformed input is an `Err`, never a panic.
pub fn decode(text: &str) -> Result<Inbound, DecodeError> {
    let event = event_of(text)?;
    match event.as_ref() {
        "connected" => decode_connected(text),
        "start" => decode_start(text).map(Inbound::Start),
        "media" => decode_media(text).map(Inbound::Media),
        "dtmf" => decode_dtmf(text).map(Inbound::Dtmf),
        "mark" => decode_mark(text).map(Inbound::Mark),
        "stop" => decode_stop(text).map(Inbound::Stop),
        other => Ok(Inbound::Unknown {
            event: other.to_owned(),
        }),
    }
}

/// Encodes an outbound `media` frame into `buf` (cleared first), with the base64 written
/// straight into it: no allocation once `buf` has grown to the frame size.
pub fn encode_media_into(buf: &mut String, stream_sid: &StreamSid, mulaw: &[u8]) {
    buf.clear();
    // 55 bytes of JSON around the SID and the base64 text.
    buf.reserve(55 + stream_sid.as_str().len() + mulaw.len().div_ceil(3) * 4);
    buf.push_str(r#"{"event":"media","streamSid":"#);
    push_json_string(buf, stream_sid.as_str());
    buf.push_str(r#","media":{"payload":""#);
    STANDARD.encode_string(mulaw, buf);
    buf.push_str(r#""}}"#);
}

/// Encodes an outbound `mark` frame into `buf` (cleared first).
pub fn encode_mark_into(buf: &mut String, stream_sid: &StreamSid, name: &str) {
    buf.clear();
    buf.push_str(r#"{"event":"mark","streamSid":"#);
    push_json_string(buf, stream_sid.as_str());
    buf.push_str(r#","mark":{"name":"#);
    push_json_string(buf, name);
    buf.push_str("}}");
}

/// Encodes an outbound `clear` frame into `buf` (cleared first).
pub fn encode_clear_into(buf: &mut String, stream_sid: &StreamSid) {
    buf.clear();
    buf.push_str(r#"{"event":"clear","streamSid":"#);
    push_json_string(buf, stream_sid.as_str());
    buf.push('}');
}

impl Outbound {
    /// The JSON text frame, exactly as docs/protocols.md section 1.3 shows it.
    pub fn encode(&self) -> String {
        let mut res = String::new();
        self.encode_into(&mut res);
        res
    }

    /// Like [`Outbound::encode`], reusing `buf` (cleared first).
    pub fn encode_into(&self, buf: &mut String) {
        match self {
            Self::Media {
                stream_sid,
                payload,
            } => encode_media_into(buf, stream_sid, payload),
            Self::Mark { stream_sid, name } => encode_mark_into(buf, stream_sid, name),
            Self::Clear { stream_sid } => encode_clear_into(buf, stream_sid),
        }
    }

    /// The stream this frame is for.
    pub fn stream_sid(&self) -> &StreamSid {
        match self {
            Self::Media { stream_sid, .. }
            | Self::Mark { stream_sid, .. }
            | Self::Clear { stream_sid } => stream_sid,
        }
    }
}

/// Decodes a frame the gateway sends to Twilio. For fake Twilio servers and tests.
///
/// An event other than `media`, `mark` or `clear` is [`DecodeError::UnknownEvent`]: Twilio
/// would not understand it either.
pub fn decode_outbound(text: &str) -> Result<Outbound, DecodeError> {
    let event: &'static str = match event_of(text)?.as_ref() {
        "media" => "media",
        "mark" => "mark",
        "clear" => "clear",
        other => {
            return Err(DecodeError::UnknownEvent {
                event: shorten(other, 64),
            });
        }
    };
    let frame: OutboundFrame<'_> = parse_json(text)?;
    let stream_sid = StreamSid::from_wire(required(frame.stream_sid, event, "streamSid")?.0);
    match event {
        "media" => {
            let media = required(frame.media, event, "media")?;
            let payload = required(media.payload, event, "media.payload")?;
            Ok(Outbound::Media {
                stream_sid,
                payload: decode_base64(&payload.0)?,
            })
        }
        "mark" => {
            let mark = required(frame.mark, event, "mark")?;
            let name = required(mark.name, event, "mark.name")?;
            Ok(Outbound::Mark {
                stream_sid,
                name: name.0.into_owned(),
            })
        }
        _ => Ok(Outbound::Clear { stream_sid }),
    }
}

impl Inbound {
    /// The `event` name, for logs and metrics (`"media"`, `"start"`, or the unknown name).
    pub fn event(&self) -> &str {
        match self {
            Self::Connected { .. } => "connected",
            Self::Start(_) => "start",
            Self::Media(_) => "media",
            Self::Dtmf(_) => "dtmf",
            Self::Mark(_) => "mark",
            Self::Stop(_) => "stop",
            Self::Unknown { event } => event,
        }
    }

    /// Encodes this message the way Twilio sends it (numbers as strings). For fake Twilio
    /// servers, replays and tests; the gateway itself never sends inbound messages.
    ///
    /// `stream_sid` goes into every message that carries one, except `Start`, which has its own.
    pub fn encode(&self, stream_sid: &StreamSid) -> String {
        use serde_json::json;
        let sid = stream_sid.as_str();
        let value = match self {
            Self::Connected { protocol, version } => {
                json!({"event": "connected", "protocol": protocol, "version": version})
            }
            Self::Start(start) => json!({
                "event": "start",
                "sequenceNumber": start.sequence_number.to_string(),
                "start": {
                    "accountSid": start.account_sid,
                    "streamSid": start.stream_sid,
                    "callSid": start.call_sid,
                    "tracks": start.tracks.iter().map(|t| t.as_media_str()).collect::<Vec<_>>(),
                    "customParameters": start.custom_parameters,
                    "mediaFormat": {
                        "encoding": start.media_format.encoding,
                        "sampleRate": start.media_format.sample_rate_hz,
                        "channels": start.media_format.channels,
                    },
                },
                "streamSid": start.stream_sid,
            }),
            Self::Media(media) => json!({
                "event": "media",
                "sequenceNumber": media.sequence_number.to_string(),
                "media": {
                    "track": media.track.as_media_str(),
                    "chunk": media.chunk.to_string(),
                    "timestamp": media.timestamp_ms.to_string(),
                    "payload": STANDARD.encode(&media.payload),
                },
                "streamSid": sid,
            }),
            Self::Dtmf(dtmf) => json!({
                "event": "dtmf",
                "streamSid": sid,
                "sequenceNumber": dtmf.sequence_number.to_string(),
                "dtmf": {"track": dtmf.track.as_dtmf_str(), "digit": dtmf.digit},
            }),
            Self::Mark(mark) => json!({
                "event": "mark",
                "sequenceNumber": mark.sequence_number.to_string(),
                "streamSid": sid,
                "mark": {"name": mark.name},
            }),
            Self::Stop(stop) => json!({
                "event": "stop",
                "sequenceNumber": stop.sequence_number.to_string(),
                "stop": {"accountSid": stop.account_sid, "callSid": stop.call_sid},
                "streamSid": sid,
            }),
            Self::Unknown { event } => json!({"event": event}),
        };
        value.to_string()
    }
}

impl Track {
    fn from_wire(value: &str) -> Self {
        match value {
            "inbound" | "inbound_track" => Self::Inbound,
            "outbound" | "outbound_track" => Self::Outbound,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The spelling used in `start.tracks` and `media.track`.
    pub fn as_media_str(&self) -> &str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
            Self::Other(other) => other,
        }
    }

    /// The spelling used in `dtmf.track`.
    pub fn as_dtmf_str(&self) -> &str {
        match self {
            Self::Inbound => "inbound_track",
            Self::Outbound => "outbound_track",
            Self::Other(other) => other,
        }
    }
}

// ---- decoding internals ----

/// Lenient base64: Twilio pads, but a missing pad must not drop audio.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A string borrowed from the input when it has no escapes.
struct WireStr<'a>(Cow<'a, str>);

/// An integer Twilio may send as a JSON string or a JSON number.
enum WireNumber<'a> {
    Int(u64),
    Text(Cow<'a, str>),
    Invalid(String),
}

#[derive(Deserialize)]
struct EventTag<'a> {
    #[serde(borrow)]
    event: Option<WireStr<'a>>,
}

#[derive(Deserialize)]
struct ConnectedFrame<'a> {
    #[serde(borrow)]
    protocol: Option<WireStr<'a>>,
    #[serde(borrow)]
    version: Option<WireStr<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartFrame<'a> {
    #[serde(borrow)]
    sequence_number: Option<WireNumber<'a>>,
    #[serde(borrow)]
    stream_sid: Option<WireStr<'a>>,
    #[serde(borrow)]
    start: Option<StartBody<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartBody<'a> {
    #[serde(borrow)]
    account_sid: Option<WireStr<'a>>,
    #[serde(borrow)]
    stream_sid: Option<WireStr<'a>>,
    #[serde(borrow)]
    call_sid: Option<WireStr<'a>>,
    #[serde(borrow)]
    tracks: Option<Vec<WireStr<'a>>>,
    custom_parameters: Option<HashMap<String, String>>,
    #[serde(borrow)]
    media_format: Option<MediaFormatBody<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediaFormatBody<'a> {
    #[serde(borrow)]
    encoding: Option<WireStr<'a>>,
    #[serde(borrow)]
    sample_rate: Option<WireNumber<'a>>,
    #[serde(borrow)]
    channels: Option<WireNumber<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediaFrame<'a> {
    #[serde(borrow)]
    sequence_number: Option<WireNumber<'a>>,
    #[serde(borrow)]
    media: Option<MediaBody<'a>>,
}

#[derive(Deserialize)]
struct MediaBody<'a> {
    #[serde(borrow)]
    track: Option<WireStr<'a>>,
    #[serde(borrow)]
    chunk: Option<WireNumber<'a>>,
    #[serde(borrow)]
    timestamp: Option<WireNumber<'a>>,
    #[serde(borrow)]
    payload: Option<WireStr<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DtmfFrame<'a> {
    #[serde(borrow)]
    sequence_number: Option<WireNumber<'a>>,
    #[serde(borrow)]
    dtmf: Option<DtmfBody<'a>>,
}

#[derive(Deserialize)]
struct DtmfBody<'a> {
    #[serde(borrow)]
    track: Option<WireStr<'a>>,
    #[serde(borrow)]
    digit: Option<WireStr<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarkFrame<'a> {
    #[serde(borrow)]
    sequence_number: Option<WireNumber<'a>>,
    #[serde(borrow)]
    mark: Option<NameBody<'a>>,
}

#[derive(Deserialize)]
struct NameBody<'a> {
    #[serde(borrow)]
    name: Option<WireStr<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopFrame<'a> {
    #[serde(borrow)]
    sequence_number: Option<WireNumber<'a>>,
    #[serde(borrow)]
    stop: Option<StopBody<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopBody<'a> {
    #[serde(borrow)]
    account_sid: Option<WireStr<'a>>,
    #[serde(borrow)]
    call_sid: Option<WireStr<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutboundFrame<'a> {
    #[serde(borrow)]
    stream_sid: Option<WireStr<'a>>,
    #[serde(borrow)]
    media: Option<OutboundMediaBody<'a>>,
    #[serde(borrow)]
    mark: Option<NameBody<'a>>,
}

#[derive(Deserialize)]
struct OutboundMediaBody<'a> {
    #[serde(borrow)]
    payload: Option<WireStr<'a>>,
}

fn event_of(text: &str) -> Result<Cow<'_, str>, DecodeError> {
    // A derived struct also accepts a JSON array; Twilio frames are always objects.
    if !text.trim_start().starts_with('{') {
        return Err(DecodeError::Json {
            reason: "expected a json object".to_owned(),
        });
    }
    let tag: EventTag<'_> = parse_json(text)?;
    Ok(required(tag.event, "message", "event")?.0)
}

fn parse_json<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, DecodeError> {
    serde_json::from_str(text).map_err(|err| DecodeError::Json {
        reason: shorten(&err.to_string(), 160),
    })
}

fn required<T>(
    value: Option<T>,
    event: &'static str,
    field: &'static str,
) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::MissingField { event, field })
}

fn required_u64(
    value: Option<WireNumber<'_>>,
    event: &'static str,
    field: &'static str,
) -> Result<u64, DecodeError> {
    required(value, event, field)?.to_u64(field)
}

fn decode_connected(text: &str) -> Result<Inbound, DecodeError> {
    let frame: ConnectedFrame<'_> = parse_json(text)?;
    Ok(Inbound::Connected {
        protocol: required(frame.protocol, "connected", "protocol")?
            .0
            .into_owned(),
        version: required(frame.version, "connected", "version")?
            .0
            .into_owned(),
    })
}

fn decode_start(text: &str) -> Result<Start, DecodeError> {
    const EVENT: &str = "start";
    let frame: StartFrame<'_> = parse_json(text)?;
    let sequence_number = required_u64(frame.sequence_number, EVENT, "sequenceNumber")?;
    let body = required(frame.start, EVENT, "start")?;
    // Both places carry the same SID; prefer the one inside `start`.
    let stream_sid = required(
        body.stream_sid.or(frame.stream_sid),
        EVENT,
        "start.streamSid",
    )?;
    let format = required(body.media_format, EVENT, "start.mediaFormat")?;
    let sample_rate = required_u64(format.sample_rate, EVENT, "start.mediaFormat.sampleRate")?;
    let channels = required_u64(format.channels, EVENT, "start.mediaFormat.channels")?;
    Ok(Start {
        sequence_number,
        stream_sid: StreamSid::from_wire(stream_sid.0),
        account_sid: AccountSid::from_wire(
            required(body.account_sid, EVENT, "start.accountSid")?.0,
        ),
        call_sid: CallSid::from_wire(required(body.call_sid, EVENT, "start.callSid")?.0),
        tracks: body
            .tracks
            .unwrap_or_default()
            .iter()
            .map(|track| Track::from_wire(&track.0))
            .collect(),
        custom_parameters: body.custom_parameters.unwrap_or_default(),
        media_format: MediaFormat {
            encoding: required(format.encoding, EVENT, "start.mediaFormat.encoding")?
                .0
                .into_owned(),
            sample_rate_hz: narrow(sample_rate, "start.mediaFormat.sampleRate")?,
            channels: narrow(channels, "start.mediaFormat.channels")?,
        },
    })
}

fn decode_media(text: &str) -> Result<Media, DecodeError> {
    const EVENT: &str = "media";
    let frame: MediaFrame<'_> = parse_json(text)?;
    let sequence_number = required_u64(frame.sequence_number, EVENT, "sequenceNumber")?;
    let body = required(frame.media, EVENT, "media")?;
    let payload = required(body.payload, EVENT, "media.payload")?;
    Ok(Media {
        sequence_number,
        track: body
            .track
            .map_or(Track::Inbound, |track| Track::from_wire(&track.0)),
        chunk: required_u64(body.chunk, EVENT, "media.chunk")?,
        timestamp_ms: required_u64(body.timestamp, EVENT, "media.timestamp")?,
        payload: decode_base64(&payload.0)?,
    })
}

fn decode_dtmf(text: &str) -> Result<Dtmf, DecodeError> {
    const EVENT: &str = "dtmf";
    let frame: DtmfFrame<'_> = parse_json(text)?;
    let sequence_number = required_u64(frame.sequence_number, EVENT, "sequenceNumber")?;
    let body = required(frame.dtmf, EVENT, "dtmf")?;
    Ok(Dtmf {
        sequence_number,
        track: body
            .track
            .map_or(Track::Inbound, |track| Track::from_wire(&track.0)),
        digit: required(body.digit, EVENT, "dtmf.digit")?.0.into_owned(),
    })
}

fn decode_mark(text: &str) -> Result<Mark, DecodeError> {
    const EVENT: &str = "mark";
    let frame: MarkFrame<'_> = parse_json(text)?;
    let sequence_number = required_u64(frame.sequence_number, EVENT, "sequenceNumber")?;
    let body = required(frame.mark, EVENT, "mark")?;
    Ok(Mark {
        sequence_number,
        name: required(body.name, EVENT, "mark.name")?.0.into_owned(),
    })
}

fn decode_stop(text: &str) -> Result<Stop, DecodeError> {
    const EVENT: &str = "stop";
    let frame: StopFrame<'_> = parse_json(text)?;
    let sequence_number = required_u64(frame.sequence_number, EVENT, "sequenceNumber")?;
    let body = required(frame.stop, EVENT, "stop")?;
    Ok(Stop {
        sequence_number,
        account_sid: AccountSid::from_wire(required(body.account_sid, EVENT, "stop.accountSid")?.0),
        call_sid: CallSid::from_wire(required(body.call_sid, EVENT, "stop.callSid")?.0),
    })
}

fn decode_base64(text: &str) -> Result<Vec<u8>, DecodeError> {
    // decode_vec sizes the Vec once from the input length: the frame's only allocation.
    let mut res = Vec::new();
    LENIENT_BASE64
        .decode_vec(text, &mut res)
        .map_err(|err| DecodeError::BadBase64 {
            reason: err.to_string(),
        })?;
    Ok(res)
}

fn narrow<T: TryFrom<u64>>(value: u64, field: &'static str) -> Result<T, DecodeError> {
    T::try_from(value).map_err(|_| DecodeError::BadNumber {
        field,
        value: value.to_string(),
    })
}

/// At most `max_chars` characters of `text`, marked with `…` when cut.
fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn push_json_string(buf: &mut String, value: &str) {
    buf.push('"');
    let mut start = 0;
    for (idx, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        buf.push_str(&value[start..idx]);
        if escape.is_empty() {
            buf.push_str(&format!("\\u{byte:04x}"));
        } else {
            buf.push_str(escape);
        }
        start = idx + 1;
    }
    buf.push_str(&value[start..]);
    buf.push('"');
}

impl WireNumber<'_> {
    fn to_u64(&self, field: &'static str) -> Result<u64, DecodeError> {
        let bad = |value: &str| DecodeError::BadNumber {
            field,
            value: shorten(value, 32),
        };
        match self {
            Self::Int(value) => Ok(*value),
            Self::Text(text) => text.parse().map_err(|_| bad(text)),
            Self::Invalid(text) => Err(bad(text)),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for WireStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = WireStr<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(WireStr(Cow::Borrowed(value)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(WireStr(Cow::Owned(value.to_owned())))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
                Ok(WireStr(Cow::Owned(value)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for WireNumber<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl<'de> Visitor<'de> for NumberVisitor {
            type Value = WireNumber<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string holding one")
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(WireNumber::Int(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(u64::try_from(value)
                    .map_or_else(|_| WireNumber::Invalid(value.to_string()), WireNumber::Int))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(WireNumber::Invalid(value.to_string()))
            }

            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(WireNumber::Text(Cow::Borrowed(value)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(WireNumber::Text(Cow::Owned(value.to_owned())))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
                Ok(WireNumber::Text(Cow::Owned(value)))
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}

#[cfg(test)]
mod tests;
