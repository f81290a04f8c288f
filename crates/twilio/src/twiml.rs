//! TwiML documents (docs/protocols.md section 2): what we return to voice webhooks and send for transfers.
//!
//! [`Response`] collects verbs and renders a compact document with the XML prolog. Text and
//! attribute values are escaped, and characters XML 1.0 cannot carry are dropped.
//!
//! ```text
//! let stream = Stream::new("wss://gw.example.com/twilio/media")?.parameter("shop_id", "42");
//! let xml = Response::new().connect(Connect::new(stream)).to_xml();
//! ```

use std::fmt::Write as _;

/// A `<Response>` document under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    verbs: Vec<Verb>,
}

/// `<Connect>` holding one bidirectional `<Stream>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    stream: Stream,
    action: Option<String>,
    method: Option<HttpMethod>,
}

/// `<Stream url=…>` with its `<Parameter>` children (they become `start.customParameters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    url: String,
    name: Option<String>,
    status_callback: Option<String>,
    status_callback_method: Option<HttpMethod>,
    parameters: Vec<(String, String)>,
}

/// `<Say>`: text spoken by Twilio's own TTS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say {
    text: String,
    voice: Option<String>,
    language: Option<String>,
}

/// `<Dial>` with one `<Number>` (transfer the caller to a phone) or one `<Conference>` (join a
/// named room, docs/protocols.md 4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    target: DialTarget,
    caller_id: Option<String>,
    timeout_secs: Option<u32>,
    time_limit_secs: Option<u32>,
    action: Option<String>,
    method: Option<HttpMethod>,
    answer_on_bridge: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DialTarget {
    Number(String),
    Conference(Conference),
}

/// `<Conference>`: a named room; the first participant with `startConferenceOnEnter` starts it,
/// the others wait on `waitUrl` audio until then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conference {
    name: String,
    start_on_enter: Option<bool>,
    end_on_exit: Option<bool>,
    beep: Option<bool>,
    wait_url: Option<String>,
}

/// `<Gather input="dtmf">` around `<Say>`s: collects key presses and posts them (`Digits`) to
/// `action`; with no key press, the document goes on with the next verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gather {
    action: String,
    num_digits: Option<u32>,
    timeout_secs: Option<u32>,
    says: Vec<Say>,
}

/// HTTP method for `action` and `statusCallback` URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST` (Twilio's default).
    Post,
}

/// Why a `<Stream>` URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TwimlError {
    /// Twilio drops query strings from stream URLs; put per-call data in `<Parameter>`s instead.
    #[error("stream url has a query string, which twilio drops; use stream parameters")]
    StreamUrlQuery,
    /// A fragment would never reach the server.
    #[error("stream url has a fragment")]
    StreamUrlFragment,
    /// Twilio only connects to `wss://` (error 31922 otherwise).
    #[error("stream url scheme is {scheme:?}, twilio only accepts wss")]
    StreamUrlScheme {
        /// The scheme found.
        scheme: String,
    },
    /// Not an absolute URL.
    #[error("stream url is not a valid absolute url: {reason}")]
    StreamUrlInvalid {
        /// The URL parser's explanation.
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verb {
    Connect(Connect),
    Say(Say),
    Dial(Dial),
    Gather(Gather),
    Redirect(String),
    Pause { length_secs: u32 },
    Hangup,
}

impl Response {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `<Connect><Stream>`. Later verbs run only after the websocket closes.
    pub fn connect(mut self, connect: Connect) -> Self {
        self.verbs.push(Verb::Connect(connect));
        self
    }

    /// Appends `<Say>`.
    pub fn say(mut self, say: Say) -> Self {
        self.verbs.push(Verb::Say(say));
        self
    }

    /// Appends `<Dial>`.
    pub fn dial(mut self, dial: Dial) -> Self {
        self.verbs.push(Verb::Dial(dial));
        self
    }

    /// Appends `<Gather>`.
    pub fn gather(mut self, gather: Gather) -> Self {
        self.verbs.push(Verb::Gather(gather));
        self
    }

    /// Appends `<Redirect>`: Twilio fetches TwiML from `url` (POST) and runs it instead.
    pub fn redirect(mut self, url: impl Into<String>) -> Self {
        self.verbs.push(Verb::Redirect(url.into()));
        self
    }

    /// Appends `<Pause length="…"/>`.
    pub fn pause(mut self, length_secs: u32) -> Self {
        self.verbs.push(Verb::Pause { length_secs });
        self
    }

    /// Appends `<Hangup/>`.
    pub fn hangup(mut self) -> Self {
        self.verbs.push(Verb::Hangup);
        self
    }

    /// Renders the document: XML prolog, then `<Response>` with no whitespace between elements.
    pub fn to_xml(&self) -> String {
        let mut res = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        if self.verbs.is_empty() {
            res.push_str("<Response/>");
            return res;
        }
        res.push_str("<Response>");
        for verb in &self.verbs {
            verb.write(&mut res);
        }
        res.push_str("</Response>");
        res
    }
}

impl Connect {
    /// `<Connect>` around `stream`.
    pub fn new(stream: Stream) -> Self {
        Self {
            stream,
            action: None,
            method: None,
        }
    }

    /// URL Twilio requests when the stream ends (for example because we closed the socket).
    pub fn action(mut self, url: impl Into<String>) -> Self {
        self.action = Some(url.into());
        self
    }

    /// Method for `action`.
    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = Some(method);
        self
    }
}

impl Stream {
    /// A stream to `url`, which must be an absolute `wss://` URL without query string or fragment.
    pub fn new(url: &str) -> Result<Self, TwimlError> {
        let parsed = url::Url::parse(url).map_err(|err| TwimlError::StreamUrlInvalid {
            reason: err.to_string(),
        })?;
        if parsed.scheme() != "wss" {
            return Err(TwimlError::StreamUrlScheme {
                scheme: parsed.scheme().to_owned(),
            });
        }
        // `Url` drops an empty `?`, so look at the text too.
        if parsed.query().is_some() || url.contains('?') {
            return Err(TwimlError::StreamUrlQuery);
        }
        if parsed.fragment().is_some() || url.contains('#') {
            return Err(TwimlError::StreamUrlFragment);
        }
        Ok(Self {
            url: url.to_owned(),
            name: None,
            status_callback: None,
            status_callback_method: None,
            parameters: Vec::new(),
        })
    }

    /// Unique name of the stream.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// URL that receives stream lifecycle events.
    pub fn status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }

    /// Method for `statusCallback`.
    pub fn status_callback_method(mut self, method: HttpMethod) -> Self {
        self.status_callback_method = Some(method);
        self
    }

    /// Adds `<Parameter name value/>`; it arrives in `start.customParameters`.
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.push((name.into(), value.into()));
        self
    }
}

impl Say {
    /// Speaks `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            voice: None,
            language: None,
        }
    }

    /// Twilio voice name, e.g. `Polly.Joanna`.
    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = Some(voice.into());
        self
    }

    /// Language tag, e.g. `en-US`.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }
}

impl Dial {
    /// Dials one phone number (E.164).
    pub fn number(number: impl Into<String>) -> Self {
        Self::to(DialTarget::Number(number.into()))
    }

    /// Joins a conference room.
    pub fn conference(conference: Conference) -> Self {
        Self::to(DialTarget::Conference(conference))
    }

    fn to(target: DialTarget) -> Self {
        Self {
            target,
            caller_id: None,
            timeout_secs: None,
            time_limit_secs: None,
            action: None,
            method: None,
            answer_on_bridge: None,
        }
    }

    /// Caller ID shown to the dialled party (a Twilio number or verified caller ID).
    pub fn caller_id(mut self, caller_id: impl Into<String>) -> Self {
        self.caller_id = Some(caller_id.into());
        self
    }

    /// Seconds to ring before giving up (Twilio's default is 30).
    pub fn timeout_secs(mut self, secs: u32) -> Self {
        self.timeout_secs = Some(secs);
        self
    }

    /// Maximum length of the bridged call in seconds.
    pub fn time_limit_secs(mut self, secs: u32) -> Self {
        self.time_limit_secs = Some(secs);
        self
    }

    /// URL Twilio requests when the dialled call ends (with `DialCallStatus`).
    pub fn action(mut self, url: impl Into<String>) -> Self {
        self.action = Some(url.into());
        self
    }

    /// Method for `action`.
    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Keep the caller hearing ringing until the other side answers.
    pub fn answer_on_bridge(mut self, answer_on_bridge: bool) -> Self {
        self.answer_on_bridge = Some(answer_on_bridge);
        self
    }
}

impl Conference {
    /// The room `name` (unique per account while it runs).
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            start_on_enter: None,
            end_on_exit: None,
            beep: None,
            wait_url: None,
        }
    }

    /// Whether this participant starts the conference (Twilio's default is true).
    pub fn start_on_enter(mut self, start: bool) -> Self {
        self.start_on_enter = Some(start);
        self
    }

    /// Whether the conference ends when this participant leaves (Twilio's default is false).
    pub fn end_on_exit(mut self, end: bool) -> Self {
        self.end_on_exit = Some(end);
        self
    }

    /// Whether entries and exits beep (Twilio's default is true).
    pub fn beep(mut self, beep: bool) -> Self {
        self.beep = Some(beep);
        self
    }

    /// What a waiting participant hears (an audio file or TwiML URL; `""` is silence).
    pub fn wait_url(mut self, url: impl Into<String>) -> Self {
        self.wait_url = Some(url.into());
        self
    }
}

impl Gather {
    /// Collects key presses and posts them to `action`.
    pub fn digits(action: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            num_digits: None,
            timeout_secs: None,
            says: Vec::new(),
        }
    }

    /// Stops after this many digits.
    pub fn num_digits(mut self, digits: u32) -> Self {
        self.num_digits = Some(digits);
        self
    }

    /// Seconds to wait for a key after the prompt (Twilio's default is 5).
    pub fn timeout_secs(mut self, secs: u32) -> Self {
        self.timeout_secs = Some(secs);
        self
    }

    /// A prompt played while gathering.
    pub fn say(mut self, say: Say) -> Self {
        self.says.push(say);
        self
    }
}

impl HttpMethod {
    /// `"GET"` or `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

impl Verb {
    fn write(&self, out: &mut String) {
        match self {
            Self::Connect(connect) => {
                out.push_str("<Connect");
                attr(out, "action", connect.action.as_deref());
                attr(out, "method", connect.method.map(HttpMethod::as_str));
                out.push('>');
                connect.stream.write(out);
                out.push_str("</Connect>");
            }
            Self::Say(say) => {
                out.push_str("<Say");
                attr(out, "voice", say.voice.as_deref());
                attr(out, "language", say.language.as_deref());
                out.push('>');
                push_escaped(out, &say.text, false);
                out.push_str("</Say>");
            }
            Self::Dial(dial) => {
                out.push_str("<Dial");
                attr(out, "callerId", dial.caller_id.as_deref());
                attr(
                    out,
                    "timeout",
                    dial.timeout_secs.map(|s| s.to_string()).as_deref(),
                );
                attr(
                    out,
                    "timeLimit",
                    dial.time_limit_secs.map(|s| s.to_string()).as_deref(),
                );
                attr(out, "action", dial.action.as_deref());
                attr(out, "method", dial.method.map(HttpMethod::as_str));
                attr(
                    out,
                    "answerOnBridge",
                    dial.answer_on_bridge
                        .map(|b| if b { "true" } else { "false" }),
                );
                out.push('>');
                match &dial.target {
                    DialTarget::Number(number) => {
                        out.push_str("<Number>");
                        push_escaped(out, number, false);
                        out.push_str("</Number>");
                    }
                    DialTarget::Conference(room) => {
                        out.push_str("<Conference");
                        bool_attr(out, "startConferenceOnEnter", room.start_on_enter);
                        bool_attr(out, "endConferenceOnExit", room.end_on_exit);
                        bool_attr(out, "beep", room.beep);
                        attr(out, "waitUrl", room.wait_url.as_deref());
                        out.push('>');
                        push_escaped(out, &room.name, false);
                        out.push_str("</Conference>");
                    }
                }
                out.push_str("</Dial>");
            }
            Self::Gather(gather) => {
                out.push_str(r#"<Gather input="dtmf""#);
                attr(out, "action", Some(&gather.action));
                attr(
                    out,
                    "numDigits",
                    gather.num_digits.map(|n| n.to_string()).as_deref(),
                );
                attr(
                    out,
                    "timeout",
                    gather.timeout_secs.map(|s| s.to_string()).as_deref(),
                );
                out.push('>');
                for say in &gather.says {
                    Self::Say(say.clone()).write(out);
                }
                out.push_str("</Gather>");
            }
            Self::Redirect(url) => {
                out.push_str("<Redirect>");
                push_escaped(out, url, false);
                out.push_str("</Redirect>");
            }
            Self::Pause { length_secs } => {
                let _ = write!(out, r#"<Pause length="{length_secs}"/>"#);
            }
            Self::Hangup => out.push_str("<Hangup/>"),
        }
    }
}

impl Stream {
    fn write(&self, out: &mut String) {
        out.push_str("<Stream");
        attr(out, "url", Some(&self.url));
        attr(out, "name", self.name.as_deref());
        attr(out, "statusCallback", self.status_callback.as_deref());
        attr(
            out,
            "statusCallbackMethod",
            self.status_callback_method.map(HttpMethod::as_str),
        );
        if self.parameters.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for (name, value) in &self.parameters {
            out.push_str("<Parameter");
            attr(out, "name", Some(name));
            attr(out, "value", Some(value));
            out.push_str("/>");
        }
        out.push_str("</Stream>");
    }
}

fn bool_attr(out: &mut String, name: &str, value: Option<bool>) {
    attr(out, name, value.map(|b| if b { "true" } else { "false" }));
}

fn attr(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        push_escaped(out, value, true);
        out.push('"');
    }
}

/// Escapes markup characters. In attributes, whitespace other than space is written as a
/// character reference because XML parsers would otherwise normalise it to a space.
fn push_escaped(out: &mut String, text: &str, in_attribute: bool) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\'' if in_attribute => out.push_str("&apos;"),
            '\t' | '\n' | '\r' if in_attribute => {
                let _ = write!(out, "&#{};", u32::from(ch));
            }
            '\t' | '\n' | '\r' => out.push(ch),
            // Not allowed anywhere in an XML 1.0 document, not even as a reference.
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            _ => out.push(ch),
        }
    }
}

#[cfg(test)]
mod tests;
