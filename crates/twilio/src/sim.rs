//! The Twilio side of a call, simulated: for tests, `cargo xtask replay` and `cargo xtask bench`
//! (cargo feature `sim`; the gateway's own build does not enable it). It knows what Twilio does
//! and the gateway relies on, so nothing outside this crate writes Twilio's part of the protocol:
//!
//! - [`answer`] asks the voice webhook for instructions the way Twilio does: a form post signed
//!   with `X-Twilio-Signature` (docs/protocols.md, "Webhook signatures"); [`parse_twiml`] reads the
//!   `<Connect><Stream url>` answer, its `<Parameter>`s (which come back in `start`'s
//!   `customParameters`) and the `<Connect action>`.
//! - [`start_frame`] and [`mark_echo`] write the messages Twilio sends on the stream.
//! - [`Playback`] is Twilio's playback buffer: audio plays in order, a `mark` is echoed once the
//!   audio queued before it has played, and `clear` drops the queue and echoes every pending mark
//!   at once.

use std::collections::VecDeque;

use crate::{
    AccountSid, AuthToken, CallSid, StreamSid,
    media::{Inbound, Mark, MediaFormat, Outbound, Start, Track},
    signature::compute_signature,
};

/// The `<Connect><Stream>` of a TwiML answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTwiml {
    /// `<Stream url>`: where Twilio opens the media WebSocket.
    pub url: String,
    /// The `<Parameter name value>` pairs, in document order.
    pub parameters: Vec<(String, String)>,
    /// `<Connect action>`: what Twilio requests when the stream ends with the call still up.
    pub action: Option<String>,
}

/// Reads the stream URL, parameters and action out of a TwiML document; `None` without a
/// `<Stream>` (a `<Say>` and `<Dial>` handoff, a `<Hangup/>`).
pub fn parse_twiml(body: &str) -> Option<StreamTwiml> {
    let stream_at = body.find("<Stream")?;
    let url = attribute(tag_at(body, stream_at), "url")?;
    let mut parameters = Vec::new();
    let mut rest = &body[stream_at..];
    while let Some(at) = rest.find("<Parameter") {
        let tag = tag_at(rest, at);
        if let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value")) {
            parameters.push((name, value));
        }
        rest = &rest[at + tag.len()..];
    }
    let action = body
        .find("<Connect")
        .and_then(|at| attribute(tag_at(body, at), "action"));
    Some(StreamTwiml {
        url,
        parameters,
        action,
    })
}

/// The tag starting at `at`, up to its `>`.
fn tag_at(text: &str, at: usize) -> &str {
    let end = text[at..].find('>').map_or(text.len(), |e| at + e + 1);
    &text[at..end]
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    for quote in ['"', '\''] {
        let key = format!(" {name}={quote}");
        if let Some(start) = tag.find(&key) {
            let value_start = start + key.len();
            let end = tag[value_start..].find(quote)? + value_start;
            return Some(unescape_xml(&tag[value_start..end]));
        }
    }
    None
}

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Why [`answer`] got no stream.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The request failed or was refused.
    #[error("the voice webhook failed: {0}")]
    Http(String),
    /// The answer has no `<Stream>` (the gateway handed the call to a person, or hung up).
    #[error("the answer has no <Stream>: {0}")]
    NoStream(String),
}

/// Posts `form` to `url` signed with `auth_token` as Twilio signs webhooks, and returns the
/// `<Stream>` of the TwiML answer. `url` is the public URL the signature covers (with any query
/// the gateway put on it, as for an outbound call's instructions).
pub async fn answer(
    http: &reqwest::Client,
    url: &str,
    auth_token: &AuthToken,
    form: &[(&str, &str)],
) -> Result<StreamTwiml, AnswerError> {
    let signature = compute_signature(auth_token, url, form);
    let response = http
        .post(url)
        .header("X-Twilio-Signature", signature)
        .form(form)
        .send()
        .await
        .map_err(|err| AnswerError::Http(err.to_string()))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|err| AnswerError::Http(err.to_string()))?;
    if !status.is_success() {
        return Err(AnswerError::Http(format!("status {status}")));
    }
    parse_twiml(&body).ok_or(AnswerError::NoStream(body))
}

/// The `start` message Twilio sends once the stream is open, with the `<Parameter>`s of the
/// TwiML as `customParameters` (8 kHz μ-law mono, the inbound track).
pub fn start_frame(
    account_sid: &str,
    call_sid: &str,
    stream_sid: &StreamSid,
    parameters: &[(String, String)],
) -> String {
    Inbound::Start(Start {
        sequence_number: 1,
        account_sid: AccountSid::from_wire(account_sid),
        call_sid: CallSid::from_wire(call_sid),
        stream_sid: stream_sid.clone(),
        tracks: vec![Track::Inbound],
        custom_parameters: parameters.iter().cloned().collect(),
        media_format: MediaFormat {
            encoding: MediaFormat::MULAW.to_owned(),
            sample_rate_hz: 8000,
            channels: 1,
        },
    })
    .encode(stream_sid)
}

/// The `mark` message Twilio sends when playback reaches the gateway's mark `name`.
pub fn mark_echo(stream_sid: &StreamSid, sequence_number: u64, name: &str) -> String {
    Inbound::Mark(Mark {
        sequence_number,
        name: name.to_owned(),
    })
    .encode(stream_sid)
}

/// A caller `media` message whose payload is already base64, written directly: the same JSON as
/// [`Inbound::encode`] (a test holds them equal) without building a `serde_json::Value` per frame,
/// for load generators that send 50 of these per call per second.
pub fn media_frame_base64(
    stream_sid: &StreamSid,
    sequence: u64,
    chunk: u64,
    timestamp_ms: u64,
    payload_base64: &str,
) -> String {
    format!(
        r#"{{"event":"media","sequenceNumber":"{sequence}","media":{{"track":"inbound","chunk":"{chunk}","timestamp":"{timestamp_ms}","payload":"{payload_base64}"}},"streamSid":"{}"}}"#,
        stream_sid.as_str()
    )
}

enum Item {
    Audio(Vec<u8>),
    Mark(String),
}

/// Twilio's playback buffer for the gateway's audio.
#[derive(Default)]
pub struct Playback {
    items: VecDeque<Item>,
    queued: u64,
    received: u64,
    clears: u32,
}

/// What one step of playback did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Played {
    /// The μ-law audio played, in order.
    pub audio: Vec<u8>,
    /// The marks to echo, in order.
    pub marks: Vec<String>,
}

impl Playback {
    /// Takes in one message from the gateway; returns the marks Twilio echoes at once: a mark
    /// with nothing queued before it, and every pending mark on `clear`.
    pub fn on_frame(&mut self, frame: Outbound) -> Vec<String> {
        match frame {
            Outbound::Media { payload, .. } => {
                self.queued += payload.len() as u64;
                self.received += payload.len() as u64;
                self.items.push_back(Item::Audio(payload));
                Vec::new()
            }
            Outbound::Mark { name, .. } => {
                self.items.push_back(Item::Mark(name));
                self.play(0).marks
            }
            Outbound::Clear { .. } => {
                self.queued = 0;
                self.clears += 1;
                self.items
                    .drain(..)
                    .filter_map(|item| match item {
                        Item::Mark(name) => Some(name),
                        Item::Audio(_) => None,
                    })
                    .collect()
            }
        }
    }

    /// Plays up to `max_bytes` of queued audio; every mark reached (including those with no
    /// audio before them) is returned to be echoed.
    pub fn play(&mut self, mut max_bytes: u64) -> Played {
        let mut played = Played::default();
        while let Some(item) = self.items.front_mut() {
            match item {
                Item::Mark(_) => {
                    if let Some(Item::Mark(name)) = self.items.pop_front() {
                        played.marks.push(name);
                    }
                }
                Item::Audio(audio) => {
                    if max_bytes == 0 {
                        break;
                    }
                    let n =
                        usize::try_from((audio.len() as u64).min(max_bytes)).unwrap_or(usize::MAX);
                    played.audio.extend(audio.drain(..n));
                    max_bytes -= n as u64;
                    self.queued -= n as u64;
                    if audio.is_empty() {
                        self.items.pop_front();
                    }
                }
            }
        }
        played
    }

    /// Audio queued and not yet played (bytes).
    pub fn queued(&self) -> u64 {
        self.queued
    }

    /// Whether marks are waiting for their audio to play.
    pub fn marks_pending(&self) -> bool {
        self.items.iter().any(|item| matches!(item, Item::Mark(_)))
    }

    /// All the audio the gateway sent (bytes), played or not.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// How many `clear`s the gateway sent.
    pub fn clears(&self) -> u32 {
        self.clears
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(bytes: usize) -> Outbound {
        Outbound::Media {
            stream_sid: StreamSid::from_wire("MZ1"),
            payload: vec![0xFF; bytes],
        }
    }

    /// Runs `steps` against a playback buffer (`a<bytes>` audio, `m<name>` mark, `t` one 20 ms
    /// frame played, `c` clear) and logs every mark echo with the step that caused it.
    #[track_caller]
    fn check_playback(steps: &str, expected: &[&str]) {
        let sid = || StreamSid::from_wire("MZ1");
        let mut playback = Playback::default();
        let mut log = Vec::new();
        for (i, step) in steps.split_whitespace().enumerate() {
            let echoed = match step.split_at(1) {
                ("a", n) => playback.on_frame(Outbound::Media {
                    stream_sid: sid(),
                    payload: vec![0xFF; n.parse().unwrap()],
                }),
                ("m", name) => playback.on_frame(Outbound::Mark {
                    stream_sid: sid(),
                    name: name.to_owned(),
                }),
                ("t", _) => playback.play(160).marks,
                ("c", _) => playback.on_frame(Outbound::Clear { stream_sid: sid() }),
                _ => panic!("bad step {step}"),
            };
            log.extend(echoed.into_iter().map(|name| format!("{i}:{name}")));
        }
        assert_eq!(log, expected);
    }

    #[test]
    fn marks_echo_after_the_audio_before_them_has_played() {
        // Nothing queued: at once. 400 bytes = 2.5 frames: the mark waits three frames.
        check_playback("mA a400 mB t t t t", &["0:A", "5:B"]);
        // A mark behind a pending mark waits its turn even with nothing more queued.
        check_playback("a160 mA mB t", &["3:A", "3:B"]);
    }

    #[test]
    fn clear_drops_audio_and_echoes_every_pending_mark() {
        check_playback("a1600 mA a1600 mB t c mC", &["5:A", "5:B", "6:C"]);
        let mut playback = Playback::default();
        playback.on_frame(media(320));
        playback.on_frame(Outbound::Clear {
            stream_sid: StreamSid::from_wire("MZ1"),
        });
        assert_eq!(
            (playback.queued(), playback.received(), playback.clears()),
            (0, 320, 1)
        );
        assert_eq!(playback.play(u64::MAX), Played::default());
    }

    #[test]
    fn played_audio_comes_out_in_order() {
        let mut playback = Playback::default();
        playback.on_frame(Outbound::Media {
            stream_sid: StreamSid::from_wire("MZ1"),
            payload: vec![1, 2, 3],
        });
        playback.on_frame(media(2));
        assert_eq!(playback.play(4).audio, [1, 2, 3, 0xFF]);
        assert_eq!(playback.queued(), 1);
    }

    #[test]
    fn twiml_stream_parameters_and_action_are_read_with_entities() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="https://gw.example.com/twilio/stream-ended?call_type=x&amp;amd=1"><Stream url="wss://gw.example.com:8443/twilio/stream"><Parameter name="From" value="+15551234567"/><Parameter name="token" value="a&amp;b&lt;c"/><Parameter name='call_type' value='inbound'/></Stream></Connect></Response>"#;
        let twiml = parse_twiml(body).unwrap();
        assert_eq!(twiml.url, "wss://gw.example.com:8443/twilio/stream");
        assert_eq!(
            twiml.parameters,
            [
                ("From".to_owned(), "+15551234567".to_owned()),
                ("token".to_owned(), "a&b<c".to_owned()),
                ("call_type".to_owned(), "inbound".to_owned()),
            ]
        );
        assert_eq!(
            twiml.action.as_deref(),
            Some("https://gw.example.com/twilio/stream-ended?call_type=x&amd=1")
        );
        assert_eq!(parse_twiml("<Response><Hangup/></Response>"), None);
    }

    #[test]
    fn the_fast_media_frame_is_what_inbound_encode_writes() {
        use base64::Engine as _;

        use crate::media::{Media, decode};

        let sid = StreamSid::from_wire("MZ00000000000000000000000000000042");
        for chunk in 1..4_u64 {
            let payload: Vec<u8> = (0..160)
                .map(|i| (i as u8).wrapping_mul(chunk as u8))
                .collect();
            let encoded = base64::engine::general_purpose::STANDARD.encode(&payload);
            let fast = media_frame_base64(&sid, chunk + 1, chunk, (chunk - 1) * 20, &encoded);
            let reference = Inbound::Media(Media {
                sequence_number: chunk + 1,
                track: Track::Inbound,
                chunk,
                timestamp_ms: (chunk - 1) * 20,
                payload,
            });
            let as_json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
            assert_eq!(as_json(&fast), as_json(&reference.encode(&sid)));
            assert_eq!(decode(&fast).unwrap(), reference);
        }
    }

    #[test]
    fn the_start_frame_decodes_as_twilio_sends_it() {
        let sid = StreamSid::from_wire("MZ9");
        let text = start_frame("AC1", "CA1", &sid, &[("token".to_owned(), "t".to_owned())]);
        let Ok(Inbound::Start(start)) = crate::media::decode(&text) else {
            panic!("not a start: {text}");
        };
        assert_eq!(start.call_sid.as_str(), "CA1");
        assert_eq!(start.custom_parameters["token"], "t");
        assert!(start.media_format.is_mulaw_8khz_mono());
        let Ok(Inbound::Mark(mark)) = crate::media::decode(&mark_echo(&sid, 7, "m")) else {
            panic!("not a mark");
        };
        assert_eq!((mark.sequence_number, mark.name.as_str()), (7, "m"));
    }
}
