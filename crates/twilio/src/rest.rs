//! Client for Twilio's REST API (docs/protocols.md section 4): redirect a live call to new TwiML
//! (transfer), hang it up, create an outbound call, or send a text message (4.6).
//!
//! This is the only module of the crate that does IO. Requests are form-encoded with PascalCase
//! names, go to `.json` paths, and authenticate with HTTP Basic. Every request has a timeout from
//! [`CallsClientConfig::request_timeout`]. Both of Twilio's error body formats (classic and
//! RFC 9457 problem details) become [`RestError::Api`].

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::auth_token::AuthToken;
use crate::sid::{AccountSid, CallSid};
use crate::twiml::HttpMethod;

/// Twilio's limit on inline `Twiml` (error 32018 above it), in characters.
pub const MAX_INLINE_TWIML_CHARS: usize = 4000;

/// Settings for [`CallsClient`]. The binary fills it from `TWILIO_*` environment variables.
#[derive(Debug, Clone)]
pub struct CallsClientConfig {
    /// API root including the version, without a trailing slash needed
    /// (default [`CallsClientConfig::DEFAULT_BASE_URL`]; tests point it at a local server).
    pub base_url: String,
    /// Account that owns the calls; it is part of every path.
    pub account_sid: AccountSid,
    /// When set, basic auth uses this API key SID (`SK…`) as user name and `auth_token` must be
    /// the key's secret. When unset, the user name is the account SID.
    pub api_key_sid: Option<String>,
    /// Auth Token, or the API key secret.
    pub auth_token: AuthToken,
    /// Whole-request timeout: connect, send, and read the answer (default 10 s).
    pub request_timeout: Duration,
}

/// Calls API client. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct CallsClient {
    http: reqwest::Client,
    base_url: Url,
    account_sid: AccountSid,
    username: String,
    auth_token: AuthToken,
    request_timeout: Duration,
}

/// Parameters of an outbound call. `Debug` masks the phone numbers and hides inline TwiML.
#[derive(Clone, PartialEq, Eq)]
pub struct CreateCall {
    /// Number to call: E.164, SIP address, or `client:name`.
    pub to: String,
    /// A Twilio number or verified caller ID.
    pub from: String,
    /// What the call runs once answered.
    pub instructions: CallInstructions,
    /// URL for status callbacks.
    pub status_callback: Option<String>,
    /// Method for `status_callback` (Twilio's default is POST).
    pub status_callback_method: Option<HttpMethod>,
    /// Which status changes to report; empty means Twilio's default (`completed` only).
    pub status_callback_events: Vec<CallStatusEvent>,
    /// Seconds to ring before giving up (Twilio's default is 60, maximum 600).
    pub timeout_secs: Option<u32>,
    /// Maximum call length in seconds.
    pub time_limit_secs: Option<u32>,
    /// Answering-machine detection.
    pub machine_detection: Option<MachineDetection>,
    /// With `machine_detection`: run it in the background (`AsyncAmd=true`) and post its result
    /// (`AnsweredBy`) to this URL, while the call's TwiML runs from the moment of answer
    /// (docs/protocols.md 4.9).
    pub async_amd_callback: Option<String>,
}

/// What an outbound call runs: inline TwiML or a TwiML URL (mutually exclusive at Twilio).
#[derive(Clone, PartialEq, Eq)]
pub enum CallInstructions {
    /// Inline TwiML, at most [`MAX_INLINE_TWIML_CHARS`] characters.
    Twiml(String),
    /// Twilio fetches TwiML from this URL.
    Url {
        /// TwiML URL.
        url: String,
        /// Method for `url` (Twilio's default is POST).
        method: Option<HttpMethod>,
    },
}

/// A `StatusCallbackEvent` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatusEvent {
    /// `initiated`
    Initiated,
    /// `ringing`
    Ringing,
    /// `answered`
    Answered,
    /// `completed`
    Completed,
}

/// A `MachineDetection` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineDetection {
    /// `Enable`: decide human or machine as soon as possible.
    Enable,
    /// `DetectMessageEnd`: wait for the end of a voicemail greeting.
    DetectMessageEnd,
}

/// Longest SMS body Twilio accepts (it is sent in segments past 160 GSM-7 characters).
pub const MAX_MESSAGE_BODY_CHARS: usize = 1600;

/// A text message to send through the Messages API (docs/protocols.md 4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateMessage {
    /// The recipient, E.164.
    pub to: String,
    /// The sending number (E.164) of the account.
    pub from: String,
    /// The text, at most [`MAX_MESSAGE_BODY_CHARS`] characters.
    pub body: String,
}

/// The parts of Twilio's Message resource we use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// The message's SID (`SM…`).
    pub sid: String,
    /// `queued`, `accepted`, `sent`, `failed`, … (Twilio adds values; kept as text).
    #[serde(default)]
    pub status: String,
}

/// The parts of Twilio's Recording resource we use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Recording {
    /// The recording's SID (`RE…`).
    pub sid: String,
    /// `in-progress`, `paused`, `stopped`, `processing`, `completed`, `absent`.
    #[serde(default)]
    pub status: String,
}

/// The parts of Twilio's Call resource we use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Call {
    /// The call's SID.
    pub sid: CallSid,
    /// Current status.
    #[serde(default)]
    pub status: CallStatus,
    /// `inbound`, `outbound-api` or `outbound-dial`.
    #[serde(default)]
    pub direction: Option<String>,
}

/// A call's `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    /// `queued`
    Queued,
    /// `initiated`
    Initiated,
    /// `ringing`
    Ringing,
    /// `in-progress`
    InProgress,
    /// `canceled`
    Canceled,
    /// `completed`
    Completed,
    /// `busy`
    Busy,
    /// `failed`
    Failed,
    /// `no-answer`
    NoAnswer,
    /// Absent or a value this crate does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// What went wrong talking to the Calls API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// Twilio answered with an error status.
    #[error("twilio api returned http {status}{}: {message}", code.map(|c| format!(" code {c}")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// Twilio error code (`https://www.twilio.com/docs/errors/<code>`), if the body had one.
        code: Option<u32>,
        /// Twilio's message (or RFC 9457 `detail`/`title`), with long digit runs masked.
        message: String,
        /// Link to Twilio's error page (`more_info`, or RFC 9457 `type`).
        more_info: Option<String>,
        /// From the `Retry-After` header (seconds form), typically on 429.
        retry_after: Option<Duration>,
    },
    /// No complete answer within the configured timeout.
    #[error("twilio api did not answer within {timeout:?}")]
    Timeout {
        /// The configured request timeout.
        timeout: Duration,
    },
    /// Connecting, sending, or reading failed.
    #[error("twilio api request failed")]
    Transport {
        /// The underlying failure.
        #[source]
        source: TransportError,
    },
    /// A success status with a body that is not a Call resource.
    #[error("twilio api answered http {status} with an unexpected body: {reason}")]
    InvalidResponse {
        /// HTTP status.
        status: u16,
        /// Why the body was refused.
        reason: String,
    },
    /// A message body is over Twilio's limit; checked before sending.
    #[error("the message has {chars} characters, twilio accepts at most {max}")]
    MessageTooLong {
        /// Length of the body in characters.
        chars: usize,
        /// [`MAX_MESSAGE_BODY_CHARS`].
        max: usize,
    },
    /// Inline TwiML is over Twilio's limit; checked before sending.
    #[error("inline twiml has {chars} characters, twilio accepts at most {max}")]
    TwimlTooLong {
        /// Length of the TwiML in characters.
        chars: usize,
        /// [`MAX_INLINE_TWIML_CHARS`].
        max: usize,
    },
    /// The client could not be built from its config.
    #[error("invalid twilio api client config: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
}

/// An HTTP-level failure, opaque so that the HTTP client is not part of our API.
pub struct TransportError(reqwest::Error);

impl CallsClientConfig {
    /// Twilio's production API root.
    pub const DEFAULT_BASE_URL: &'static str = "https://api.twilio.com/2010-04-01";
    /// Default whole-request timeout.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

    /// Config with the default base URL and timeout.
    pub fn new(account_sid: AccountSid, auth_token: AuthToken) -> Self {
        Self {
            base_url: Self::DEFAULT_BASE_URL.to_owned(),
            account_sid,
            api_key_sid: None,
            auth_token,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl CallsClient {
    /// Builds the client; fails on a base URL that is not absolute `http(s)`.
    pub fn new(config: CallsClientConfig) -> Result<Self, RestError> {
        let invalid = |reason: String| RestError::InvalidConfig { reason };
        let base_url =
            Url::parse(&config.base_url).map_err(|err| invalid(format!("base url: {err}")))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(invalid("base url must be an http or https url".to_owned()));
        }
        if base_url.query().is_some() || base_url.fragment().is_some() {
            return Err(invalid(
                "base url must not have a query or fragment".to_owned(),
            ));
        }
        if config.request_timeout.is_zero() {
            return Err(invalid("request timeout must be positive".to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .build()
            .map_err(|err| invalid(format!("http client: {err}")))?;
        Ok(Self {
            http,
            base_url,
            username: config
                .api_key_sid
                .unwrap_or_else(|| config.account_sid.as_str().to_owned()),
            account_sid: config.account_sid,
            auth_token: config.auth_token,
            request_timeout: config.request_timeout,
        })
    }

    /// Replaces what a live call is doing with `twiml` (e.g. `<Say>` + `<Dial>` for a transfer).
    /// The media stream then gets `stop` and closes; the call continues.
    pub async fn update_call_twiml(
        &self,
        call_sid: &CallSid,
        twiml: &str,
    ) -> Result<Call, RestError> {
        check_twiml_len(twiml)?;
        let form = vec![("Twiml", twiml.to_owned())];
        self.post(self.call_url(call_sid), &form, "update_call")
            .await
    }

    /// Hangs up a call in progress (`Status=completed`). A call that already ended gives an
    /// error for which [`RestError::is_call_gone`] is true.
    pub async fn complete_call(&self, call_sid: &CallSid) -> Result<Call, RestError> {
        let form = vec![("Status", "completed".to_owned())];
        self.post(self.call_url(call_sid), &form, "complete_call")
            .await
    }

    /// Cancels a call that is still queued or ringing (`Status=canceled`); one already answered
    /// gives an error, and is hung up with [`Self::complete_call`].
    pub async fn cancel_call(&self, call_sid: &CallSid) -> Result<Call, RestError> {
        let form = vec![("Status", "canceled".to_owned())];
        self.post(self.call_url(call_sid), &form, "cancel_call")
            .await
    }

    /// Places an outbound call. Twilio answers 201 with the new call (status `queued`).
    pub async fn create_call(&self, request: &CreateCall) -> Result<Call, RestError> {
        if let CallInstructions::Twiml(twiml) = &request.instructions {
            check_twiml_len(twiml)?;
        }
        let url = self.url_with_segments(&["Calls.json"]);
        self.post(url, &request.to_form(), "create_call").await
    }

    /// Sends a text message. Twilio answers 201 with the message (status `queued`). A recipient
    /// who texted STOP gives an error for which [`RestError::is_unsubscribed_recipient`] is true.
    pub async fn send_message(&self, message: &CreateMessage) -> Result<Message, RestError> {
        let chars = message.body.chars().count();
        if chars > MAX_MESSAGE_BODY_CHARS {
            return Err(RestError::MessageTooLong {
                chars,
                max: MAX_MESSAGE_BODY_CHARS,
            });
        }
        let url = self.url_with_segments(&["Messages.json"]);
        let form = vec![
            ("To", message.to.clone()),
            ("From", message.from.clone()),
            ("Body", message.body.clone()),
        ];
        self.post(url, &form, "send_message").await
    }

    /// Starts recording a live call, both parties on separate channels (`RecordingChannels=dual`:
    /// channel 1 the caller, channel 2 the agent), with Twilio POSTing the recording's status to
    /// `status_callback` when it is complete (docs/protocols.md 4.7). Twilio answers 201 with
    /// the recording.
    pub async fn start_recording(
        &self,
        call_sid: &CallSid,
        status_callback: &str,
    ) -> Result<Recording, RestError> {
        let url = self.url_with_segments(&["Calls", call_sid.as_str(), "Recordings.json"]);
        let form = vec![
            ("RecordingChannels", "dual".to_owned()),
            ("RecordingStatusCallback", status_callback.to_owned()),
            ("RecordingStatusCallbackMethod", "POST".to_owned()),
        ];
        self.post(url, &form, "start_recording").await
    }

    /// Deletes a recording (retention). One that is already gone gives an error for which
    /// [`RestError::is_not_found`] is true.
    pub async fn delete_recording(&self, recording_sid: &str) -> Result<(), RestError> {
        let url = self.url_with_segments(&["Recordings", &format!("{recording_sid}.json")]);
        let response = self
            .http
            .delete(url)
            .basic_auth(&self.username, Some(self.auth_token.expose()))
            .send()
            .await
            .map_err(|err| self.request_error(err))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| self.request_error(err))?;
        Err(api_error(status, None, &body))
    }

    fn call_url(&self, call_sid: &CallSid) -> Url {
        self.url_with_segments(&["Calls", &format!("{call_sid}.json")])
    }

    fn url_with_segments(&self, tail: &[&str]) -> Url {
        let mut res = self.base_url.clone();
        // `new` refused URLs that cannot be a base, so `path_segments_mut` succeeds; segments
        // are percent-encoded, so a SID can never change the path's shape.
        if let Ok(mut segments) = res.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["Accounts", self.account_sid.as_str()])
                .extend(tail);
        }
        res
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        form: &[(&'static str, String)],
        operation: &'static str,
    ) -> Result<T, RestError> {
        let response = self
            .http
            .post(url)
            .basic_auth(&self.username, Some(self.auth_token.expose()))
            .form(form)
            .send()
            .await
            .map_err(|err| self.request_error(err))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|err| self.request_error(err))?;
        tracing::debug!(operation, http_status = status, "twilio calls api answered");
        if (200..300).contains(&status) {
            serde_json::from_slice(&body).map_err(|err| RestError::InvalidResponse {
                status,
                reason: err.to_string(),
            })
        } else {
            Err(api_error(status, retry_after, &body))
        }
    }

    fn request_error(&self, err: reqwest::Error) -> RestError {
        if err.is_timeout() {
            RestError::Timeout {
                timeout: self.request_timeout,
            }
        } else {
            RestError::Transport {
                source: TransportError(err),
            }
        }
    }
}

impl RestError {
    /// HTTP status, when Twilio answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::InvalidResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Twilio's error code, when the body carried one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::Api { code, .. } => *code,
            _ => None,
        }
    }

    /// The recipient texted STOP to this sender (error 21610): never text them again until
    /// they opt back in.
    pub fn is_unsubscribed_recipient(&self) -> bool {
        self.code() == Some(21610)
    }

    /// The call no longer exists or is no longer in progress: 404 / 20404 (gone) or 21220
    /// (invalid call state). Hanging up such a call is already done.
    pub fn is_call_gone(&self) -> bool {
        matches!(self.code(), Some(20404 | 21220)) || self.status() == Some(404)
    }

    /// The resource does not exist (HTTP 404, Twilio code 20404): a recording already deleted.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(20404) || self.status() == Some(404)
    }

    /// How long Twilio asked us to wait (`Retry-After`), typically with 429 / 20429.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Worth retrying later: timeouts, transport failures, 429 and 5xx. Note that a retried
    /// `create_call` after a timeout may place a second call.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Transport { .. } => true,
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

impl CreateCall {
    /// A call from `from` to `to` running `instructions`, with everything else left to Twilio.
    pub fn new(
        to: impl Into<String>,
        from: impl Into<String>,
        instructions: CallInstructions,
    ) -> Self {
        Self {
            to: to.into(),
            from: from.into(),
            instructions,
            status_callback: None,
            status_callback_method: None,
            status_callback_events: Vec::new(),
            timeout_secs: None,
            time_limit_secs: None,
            machine_detection: None,
            async_amd_callback: None,
        }
    }

    /// Form fields in Twilio's PascalCase; list values become repeated fields.
    fn to_form(&self) -> Vec<(&'static str, String)> {
        let mut res = vec![("To", self.to.clone()), ("From", self.from.clone())];
        match &self.instructions {
            CallInstructions::Twiml(twiml) => res.push(("Twiml", twiml.clone())),
            CallInstructions::Url { url, method } => {
                res.push(("Url", url.clone()));
                if let Some(method) = method {
                    res.push(("Method", method.as_str().to_owned()));
                }
            }
        }
        if let Some(url) = &self.status_callback {
            res.push(("StatusCallback", url.clone()));
        }
        if let Some(method) = self.status_callback_method {
            res.push(("StatusCallbackMethod", method.as_str().to_owned()));
        }
        for event in &self.status_callback_events {
            res.push(("StatusCallbackEvent", event.as_str().to_owned()));
        }
        if let Some(secs) = self.timeout_secs {
            res.push(("Timeout", secs.to_string()));
        }
        if let Some(secs) = self.time_limit_secs {
            res.push(("TimeLimit", secs.to_string()));
        }
        if let Some(detection) = self.machine_detection {
            res.push(("MachineDetection", detection.as_str().to_owned()));
            if let Some(url) = &self.async_amd_callback {
                res.push(("AsyncAmd", "true".to_owned()));
                res.push(("AsyncAmdStatusCallback", url.clone()));
                res.push(("AsyncAmdStatusCallbackMethod", "POST".to_owned()));
            }
        }
        res
    }
}

impl fmt::Debug for CreateCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateCall")
            .field("to", &mask_digits(&self.to))
            .field("from", &mask_digits(&self.from))
            .field("instructions", &self.instructions)
            .field("status_callback", &self.status_callback)
            .field("status_callback_method", &self.status_callback_method)
            .field("status_callback_events", &self.status_callback_events)
            .field("timeout_secs", &self.timeout_secs)
            .field("time_limit_secs", &self.time_limit_secs)
            .field("machine_detection", &self.machine_detection)
            .field("async_amd_callback", &self.async_amd_callback)
            .finish()
    }
}

impl fmt::Debug for CallInstructions {
    // TwiML may carry per-call tokens in `<Parameter>`s: print its size only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Twiml(twiml) => write!(f, "Twiml(<{} chars>)", twiml.chars().count()),
            Self::Url { url, method } => f
                .debug_struct("Url")
                .field("url", url)
                .field("method", method)
                .finish(),
        }
    }
}

impl CallStatusEvent {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Completed => "completed",
        }
    }
}

impl MachineDetection {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enable => "Enable",
            Self::DetectMessageEnd => "DetectMessageEnd",
        }
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Both error formats: classic (`code`, `message`, `more_info`, `status`) and RFC 9457
/// (`type`, `title`, `status`, `code`, `detail`, `instance`).
#[derive(Deserialize, Default)]
struct ErrorBody {
    code: Option<serde_json::Value>,
    message: Option<String>,
    more_info: Option<String>,
    detail: Option<String>,
    title: Option<String>,
    #[serde(rename = "type")]
    problem_type: Option<String>,
}

fn api_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> RestError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let body = parsed.unwrap_or_default();
    let code = body.code.as_ref().and_then(|code| match code {
        serde_json::Value::Number(number) => number.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        _ => None,
    });
    let message = body.message.or(body.detail).or(body.title).map_or_else(
        || "no error message in the body".to_owned(),
        |m| mask_digits(&m),
    );
    RestError::Api {
        status,
        code,
        message,
        more_info: body.more_info.or(body.problem_type),
        retry_after,
    }
}

fn check_twiml_len(twiml: &str) -> Result<(), RestError> {
    let chars = twiml.chars().count();
    if chars > MAX_INLINE_TWIML_CHARS {
        return Err(RestError::TwimlTooLong {
            chars,
            max: MAX_INLINE_TWIML_CHARS,
        });
    }
    Ok(())
}

/// Masks runs of 7 or more digits (phone numbers) down to their last 4: `+15551234567` → `+*******4567`.
fn mask_digits(text: &str) -> String {
    let mut res = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, res: &mut String| {
        let n_digits = run.len();
        if n_digits >= 7 {
            res.extend(std::iter::repeat_n('*', n_digits - 4));
            res.push_str(&run[n_digits - 4..]);
        } else {
            res.push_str(run);
        }
        run.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            run.push(ch);
        } else {
            flush(&mut run, &mut res);
            res.push(ch);
        }
    }
    flush(&mut run, &mut res);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_are_masked() {
        let cases = [
            (
                "The 'To' number 5551234567 is not valid.",
                "The 'To' number ******4567 is not valid.",
            ),
            ("+15551234567", "+*******4567"),
            ("code 21211 at 12:30", "code 21211 at 12:30"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_digits(input), expected);
        }
    }

    #[test]
    fn create_call_debug_masks_numbers_and_twiml() {
        let call = CreateCall::new(
            "+15552223333",
            "+15550001111",
            CallInstructions::Twiml(
                "<Response><Parameter value=\"secret\"/></Response>".to_owned(),
            ),
        );
        let debug = format!("{call:?}");
        assert!(debug.contains("to: \"+*******3333\""), "{debug}");
        assert!(
            !debug.contains("secret") && !debug.contains("5552223333"),
            "{debug}"
        );
    }

    #[test]
    fn config_debug_hides_the_token() {
        let config = CallsClientConfig::new(
            AccountSid::from_wire("AC00000000000000000000000000000001"),
            AuthToken::new("super-secret"),
        );
        let debug = format!("{config:?}");
        assert!(!debug.contains("super-secret"), "{debug}");
        let client = CallsClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("super-secret"));
    }

    #[test]
    fn bad_configs_are_refused() {
        let sid = AccountSid::from_wire("AC1");
        for base_url in ["not a url", "ftp://x/y", "mailto:a@b", "https://x/y?z=1"] {
            let mut config = CallsClientConfig::new(sid.clone(), AuthToken::new("t"));
            config.base_url = base_url.to_owned();
            assert!(
                matches!(
                    CallsClient::new(config),
                    Err(RestError::InvalidConfig { .. })
                ),
                "{base_url}"
            );
        }
        let mut config = CallsClientConfig::new(sid, AuthToken::new("t"));
        config.request_timeout = Duration::ZERO;
        assert!(matches!(
            CallsClient::new(config),
            Err(RestError::InvalidConfig { .. })
        ));
    }
}
