//! `OpenAiClient`: requests, retries, fallbacks, and the event stream.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest_eventsource::{Event, EventSource, retry};
use tracing::{debug, info, warn};
use url::Url;

use providers::{ChatRequest, LanguageModel, LlmEvent, LlmStream, ProviderError};

use crate::Error;
use crate::config::{AuthStyle, OpenAiConfig};
use crate::stream::{ChunkDecoder, Decoded};
use crate::wire::{ErrorBody, WireRequest};

/// How long to wait, after `[DONE]`, for the response body to end. Reading it to its end returns
/// the connection to the pool; servers end the body right after `[DONE]`.
const DRAIN_AFTER_DONE: Duration = Duration::from_millis(100);

/// Error bodies longer than this are cut before they go into an error message.
const MAX_ERROR_MESSAGE_LEN: usize = 500;

/// Streams chat completions from OpenAI-compatible servers, with retries and fallbacks.
/// Cheap to share: hold it in an `Arc` for every call.
#[derive(Debug)]
pub struct OpenAiClient {
    config: OpenAiConfig,
    /// One pool for every call, so turns reuse warm connections.
    http: reqwest::Client,
    /// Per endpoint, in `config.endpoints` order.
    targets: Vec<Target>,
}

/// What each request to one endpoint needs, prepared once.
#[derive(Debug)]
struct Target {
    url: Url,
    /// The auth header, marked sensitive so it is redacted from `Debug` output.
    auth: Option<(HeaderName, HeaderValue)>,
    /// Scheme, host and port, for logs.
    log_name: String,
}

/// Why one attempt failed, and whether trying the same endpoint again may help.
#[derive(Debug)]
struct Failure {
    error: ProviderError,
    retryable: bool,
    /// How long the server asked us to wait (`retry-after-ms` / `retry-after`).
    retry_after: Option<Duration>,
}

/// One completion's SSE stream and what has been decoded from it but not yet yielded.
struct Reply {
    source: EventSource,
    decoder: ChunkDecoder,
    pending: VecDeque<LlmEvent>,
    /// The source is closed; only `pending` is left.
    done: bool,
}

impl OpenAiClient {
    /// Builds the client and its connection pool. Fails on a config that can never work.
    pub fn new(config: OpenAiConfig) -> Result<Self, Error> {
        if config.endpoints.is_empty() {
            return Err(Error::NoEndpoints);
        }
        let mut targets = Vec::with_capacity(config.endpoints.len());
        for (endpoint_idx, endpoint) in config.endpoints.iter().enumerate() {
            let url = endpoint
                .completions_url()
                .ok_or_else(|| Error::InvalidBaseUrl {
                    url: endpoint.log_name(),
                })?;
            let key = endpoint.api_key.expose();
            let auth = match endpoint.auth {
                AuthStyle::Bearer => Some((header::AUTHORIZATION, format!("Bearer {key}"))),
                AuthStyle::ApiKeyHeader => {
                    Some((HeaderName::from_static("api-key"), key.to_owned()))
                }
                AuthStyle::None => None,
            };
            let auth = match auth {
                Some((name, value)) => {
                    let mut value = HeaderValue::from_str(&value)
                        .map_err(|_| Error::InvalidApiKey { endpoint_idx })?;
                    value.set_sensitive(true);
                    Some((name, value))
                }
                None => None,
            };
            targets.push(Target {
                url,
                auth,
                log_name: endpoint.log_name(),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(30))
            .http2_keep_alive_interval(Duration::from_secs(20))
            .http2_keep_alive_while_idle(true)
            .build()
            .map_err(|e| Error::HttpClient(e.to_string()))?;
        Ok(Self {
            config,
            http,
            targets,
        })
    }

    /// Opens (or refreshes) a pooled connection to the primary endpoint, so the next turn does not
    /// pay for TCP and TLS setup: call it at call start, alongside the greeting. It sends
    /// `GET {base_url}/models` and ignores the answer (even an error status warms the connection);
    /// it never fails, and takes at most `first_token_timeout`.
    pub async fn warm_up(&self) {
        let Some(target) = self.targets.first() else {
            return;
        };
        let mut url = target.url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop().pop().push("models");
        }
        let mut builder = self.http.get(url).timeout(self.config.first_token_timeout);
        if let Some((name, value)) = &target.auth {
            builder = builder.header(name, value.clone());
        }
        match builder.send().await {
            // Reading the body to its end returns the connection to the pool.
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                debug!(endpoint = %target.log_name, status, "llm connection warmed up");
            }
            Err(e) => {
                debug!(endpoint = %target.log_name, error = %error_chain(&e.without_url()), "llm warm-up failed");
            }
        }
    }

    /// One attempt against one endpoint: send, then wait for the first token.
    async fn attempt(&self, endpoint_idx: usize, body: Bytes) -> Result<LlmStream, Failure> {
        let target = &self.targets[endpoint_idx];
        let mut builder = self
            .http
            .post(target.url.clone())
            .timeout(self.config.request_timeout)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some((name, value)) = &target.auth {
            builder = builder.header(name, value.clone());
        }
        let mut source = EventSource::new(builder).map_err(|e| Failure {
            error: ProviderError::Protocol(e.to_string()),
            retryable: false,
            retry_after: None,
        })?;
        // Retries are ours (only before the first token); the library must never re-send a POST.
        source.set_retry_policy(Box::new(retry::Never));
        let mut reply = Reply {
            source,
            decoder: ChunkDecoder::default(),
            pending: VecDeque::new(),
            done: false,
        };
        let first_token =
            tokio::time::timeout(self.config.first_token_timeout, reply.first_token());
        match first_token.await {
            Err(_elapsed) => Err(Failure {
                error: ProviderError::Timeout(format!(
                    "no first token within {} ms",
                    self.config.first_token_timeout.as_millis()
                )),
                retryable: true,
                retry_after: None,
            }),
            Ok(Err(failure)) => Err(failure),
            Ok(Ok(())) => Ok(futures::stream::unfold(Some(reply), next_event).boxed()),
        }
    }

    /// How long to wait before retry number `attempt_idx + 1`, or `None` to move on.
    fn retry_delay(&self, failure: &Failure, attempt_idx: u32) -> Option<Duration> {
        if !failure.retryable || attempt_idx >= self.config.max_retries {
            return None;
        }
        if let Some(retry_after) = failure.retry_after {
            // The caller is on the line: a long server-requested wait is worse than the fallback.
            return (retry_after <= self.config.max_retry_after).then_some(retry_after);
        }
        let exponential = self
            .config
            .backoff_base
            .saturating_mul(1 << attempt_idx.min(16));
        let capped = exponential.min(self.config.max_backoff);
        // Jitter in (0.75, 1] so that calls failing together do not retry together.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let factor = 1.0 - (random % 1000) as f64 / 4000.0;
        Some(capped.mul_f64(factor))
    }
}

#[async_trait]
impl LanguageModel for OpenAiClient {
    async fn stream(&self, request: ChatRequest) -> Result<LlmStream, ProviderError> {
        let mut last_error = ProviderError::Closed;
        for (endpoint_idx, endpoint) in self.config.endpoints.iter().enumerate() {
            let target = &self.targets[endpoint_idx];
            let body = WireRequest::new(
                &request,
                endpoint,
                self.config.temperature,
                self.config.max_tokens,
            );
            let body = match serde_json::to_vec(&body) {
                Ok(body) => Bytes::from(body),
                Err(e) => return Err(ProviderError::Protocol(format!("encoding request: {e}"))),
            };
            let mut attempt_idx = 0;
            loop {
                match self.attempt(endpoint_idx, body.clone()).await {
                    Ok(stream) => {
                        if endpoint_idx > 0 || attempt_idx > 0 {
                            info!(
                                endpoint = %target.log_name,
                                model = %endpoint.model,
                                endpoint_idx,
                                attempt_idx,
                                "llm request succeeded after failures"
                            );
                        }
                        return Ok(stream);
                    }
                    Err(failure) => {
                        let delay = self.retry_delay(&failure, attempt_idx);
                        warn!(
                            endpoint = %target.log_name,
                            model = %endpoint.model,
                            attempt_idx,
                            error = %failure.error,
                            retry_in_ms = delay.map(|d| d.as_millis() as u64),
                            "llm request failed before the first token"
                        );
                        last_error = failure.error;
                        let Some(delay) = delay else { break };
                        tokio::time::sleep(delay).await;
                        attempt_idx += 1;
                    }
                }
            }
        }
        Err(last_error)
    }

    fn name(&self) -> &'static str {
        "openai"
    }
}

impl Reply {
    /// Reads until the first token is decoded.
    async fn first_token(&mut self) -> Result<(), Failure> {
        while !self.decoder.has_started() && !self.done {
            self.read_one().await?;
        }
        if self.pending.is_empty() && self.done && !self.decoder.has_started() {
            // `[DONE]` with nothing before it.
            return Err(Failure {
                error: ProviderError::Protocol("empty reply".into()),
                retryable: true,
                retry_after: None,
            });
        }
        Ok(())
    }

    /// Reads until there is an event to yield or the stream is over.
    async fn fill(&mut self) -> Result<(), ProviderError> {
        while self.pending.is_empty() && !self.done {
            self.read_one().await.map_err(|failure| failure.error)?;
        }
        Ok(())
    }

    /// Reads and decodes one SSE event. Closes the source when the stream is over, so the library
    /// never reconnects (docs/dependencies.md, section 2).
    async fn read_one(&mut self) -> Result<(), Failure> {
        let Some(item) = self.source.next().await else {
            self.done = true;
            return Ok(());
        };
        let res = match item {
            Ok(Event::Open) => return Ok(()),
            Ok(Event::Message(message)) => {
                match self.decoder.decode(&message.data, now(), &mut self.pending) {
                    Ok(Decoded::More) => return Ok(()),
                    Ok(Decoded::Done) => {
                        self.drain().await;
                        Ok(())
                    }
                    Err(error) => Err(Failure {
                        error,
                        retryable: false,
                        retry_after: None,
                    }),
                }
            }
            Err(reqwest_eventsource::Error::StreamEnded) if self.decoder.is_finished() => {
                // The reply was complete; only `[DONE]` (and maybe usage) went missing.
                debug!("llm stream ended after finish_reason without [DONE]");
                self.decoder.flush_calls(now(), &mut self.pending);
                Ok(())
            }
            Err(reqwest_eventsource::Error::StreamEnded) => Err(Failure {
                error: ProviderError::Protocol("stream ended before the reply finished".into()),
                retryable: !self.decoder.has_started(),
                retry_after: None,
            }),
            Err(e) => Err(classify(e).await),
        };
        self.source.close();
        self.done = true;
        res
    }
}

impl Reply {
    /// Reads what follows `[DONE]` (normally just the end of the body), so the connection can be
    /// reused instead of being closed with the unread body.
    async fn drain(&mut self) {
        let to_end = async {
            while let Some(item) = self.source.next().await {
                if item.is_err() {
                    break;
                }
            }
        };
        if tokio::time::timeout(DRAIN_AFTER_DONE, to_end)
            .await
            .is_err()
        {
            debug!("llm response body went on after [DONE]; dropping the connection");
        }
    }
}

/// The unfold step of the returned stream. `None` state: an error was yielded, nothing follows.
async fn next_event(
    reply: Option<Reply>,
) -> Option<(Result<LlmEvent, ProviderError>, Option<Reply>)> {
    let mut reply = reply?;
    if let Err(error) = reply.fill().await {
        return Some((Err(error), None));
    }
    let event = reply.pending.pop_front()?;
    Some((Ok(event), Some(reply)))
}

/// Maps a transport or HTTP failure to our vocabulary and decides whether to retry (8.6).
async fn classify(error: reqwest_eventsource::Error) -> Failure {
    use reqwest_eventsource::Error as E;
    let plain = |error, retryable| Failure {
        error,
        retryable,
        retry_after: None,
    };
    match error {
        E::Transport(e) if e.is_timeout() => {
            plain(ProviderError::Timeout(error_chain(&e.without_url())), true)
        }
        E::Transport(e) if e.is_connect() => {
            plain(ProviderError::Connect(error_chain(&e.without_url())), true)
        }
        E::Transport(e) => plain(ProviderError::Connect(error_chain(&e.without_url())), true),
        E::InvalidStatusCode(status, response) => {
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap_or_default();
            http_failure(status.as_u16(), &headers, &body)
        }
        E::InvalidContentType(content_type, response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            plain(
                ProviderError::Protocol(format!(
                    "expected text/event-stream, got {content_type:?} (status {status}): {}",
                    error_message(&body)
                )),
                false,
            )
        }
        E::Utf8(e) => plain(
            ProviderError::Protocol(format!("stream is not utf-8: {e}")),
            false,
        ),
        E::Parser(e) => plain(
            ProviderError::Protocol(format!("malformed event stream: {e}")),
            false,
        ),
        E::InvalidLastEventId(_) | E::StreamEnded => plain(
            ProviderError::Protocol("stream ended unexpectedly".into()),
            false,
        ),
    }
}

/// The failure for an HTTP error status, following openai-python's retry rules (8.6).
fn http_failure(status: u16, headers: &HeaderMap, body: &[u8]) -> Failure {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let code = parsed.as_ref().and_then(|b| b.error.code_text());
    let message = error_message(body);
    if let Some(request_id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        debug!(status, request_id, "llm error response");
    }
    let retry_after = retry_after(headers);
    // `insufficient_quota` is a 429 that no amount of waiting fixes.
    let out_of_quota = code.as_deref() == Some("insufficient_quota");
    let mut retryable = matches!(status, 408 | 409 | 429) && !out_of_quota || status >= 500;
    match headers.get("x-should-retry").and_then(|v| v.to_str().ok()) {
        Some("true") => retryable = true,
        Some("false") => retryable = false,
        _ => {}
    }
    let error = match status {
        429 if !out_of_quota => ProviderError::RateLimited { retry_after },
        401 | 403 => ProviderError::Auth(message),
        _ => ProviderError::Http { status, message },
    };
    Failure {
        error,
        retryable,
        retry_after,
    }
}

/// `retry-after-ms` (milliseconds), else `retry-after` (seconds, possibly fractional). An HTTP
/// date is not honoured (we would need the server's clock); the backoff applies instead.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let value: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    number("retry-after").map(Duration::from_secs_f64)
}

/// The `error.message` of an error body, else the body itself, cut to a readable length.
fn error_message(body: &[u8]) -> String {
    let res = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.error.describe(),
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    };
    match res.char_indices().nth(MAX_ERROR_MESSAGE_LEN) {
        Some((cut, _)) => format!("{}…", &res[..cut]),
        None => res,
    }
}

/// An error and its sources on one line (reqwest's own message is often just "error sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut res = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        res.push_str(": ");
        res.push_str(&cause.to_string());
        source = cause.source();
    }
    res
}

/// tokio's clock as a `std` `Instant`, like the fakes, so timestamps follow a paused test clock.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_failures_are_classified_like_openai_python() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut res = HeaderMap::new();
            for (name, value) in pairs {
                res.insert(*name, HeaderValue::from_static(value));
            }
            res
        };
        let rate_limited = br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let no_quota = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let cases: &[(u16, HeaderMap, &[u8], &str)] = &[
            (429, headers(&[("retry-after", "1")]), rate_limited, "RateLimited { retry_after: Some(1s) } retryable=true wait=Some(1s)"),
            (429, headers(&[("retry-after", "0.25")]), rate_limited, "RateLimited { retry_after: Some(250ms) } retryable=true wait=Some(250ms)"),
            (429, headers(&[("retry-after-ms", "40"), ("retry-after", "9")]), rate_limited, "RateLimited { retry_after: Some(40ms) } retryable=true wait=Some(40ms)"),
            (429, headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]), rate_limited, "RateLimited { retry_after: None } retryable=true wait=None"),
            (429, headers(&[]), no_quota, "Http { status: 429, message: \"You exceeded your current quota (insufficient_quota)\" } retryable=false wait=None"),
            (500, headers(&[]), b"oops", "Http { status: 500, message: \"oops\" } retryable=true wait=None"),
            (503, headers(&[("x-should-retry", "false")]), b"", "Http { status: 503, message: \"\" } retryable=false wait=None"),
            (400, headers(&[("x-should-retry", "true")]), b"{}", "Http { status: 400, message: \"{}\" } retryable=true wait=None"),
            (400, headers(&[]), br#"{"error":{"message":"bad tool message","code":null}}"#, "Http { status: 400, message: \"bad tool message\" } retryable=false wait=None"),
            (401, headers(&[]), br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#, "Auth(\"Incorrect API key provided (invalid_api_key)\") retryable=false wait=None"),
            (408, headers(&[]), b"", "Http { status: 408, message: \"\" } retryable=true wait=None"),
        ];
        for (status, headers, body, expected) in cases {
            let failure = http_failure(*status, headers, body);
            let got = format!(
                "{:?} retryable={} wait={:?}",
                failure.error, failure.retryable, failure.retry_after
            );
            assert_eq!(&got, expected, "status {status}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let endpoint = crate::Endpoint::new(
            "http://127.0.0.1:9/v1".parse().unwrap(),
            crate::ApiKey::new("k"),
            "m",
        );
        let client = OpenAiClient::new(OpenAiConfig {
            endpoints: vec![endpoint],
            max_retries: 10,
            backoff_base: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(2),
            ..OpenAiConfig::default()
        })
        .unwrap();
        let failure = |retryable, retry_after| Failure {
            error: ProviderError::Closed,
            retryable,
            retry_after,
        };
        for (attempt_idx, full_ms) in [(0, 100), (1, 200), (2, 400), (3, 500), (9, 500)] {
            for _ in 0..20 {
                let delay = client
                    .retry_delay(&failure(true, None), attempt_idx)
                    .unwrap();
                let full = Duration::from_millis(full_ms);
                assert!(
                    delay <= full && delay >= full.mul_f64(0.75),
                    "{attempt_idx}: {delay:?}"
                );
            }
        }
        assert_eq!(
            client.retry_delay(&failure(true, None), 10),
            None,
            "retries used up"
        );
        assert_eq!(
            client.retry_delay(&failure(false, None), 0),
            None,
            "not retryable"
        );
        let asked = Some(Duration::from_millis(1_500));
        assert_eq!(
            client.retry_delay(&failure(true, asked), 0),
            asked,
            "server knows best"
        );
        let too_long = Some(Duration::from_secs(3));
        assert_eq!(
            client.retry_delay(&failure(true, too_long), 0),
            None,
            "beyond the cap"
        );
    }

    #[test]
    fn long_error_bodies_are_cut() {
        let body = "é".repeat(2 * MAX_ERROR_MESSAGE_LEN);
        let message = error_message(body.as_bytes());
        assert_eq!(message.chars().count(), MAX_ERROR_MESSAGE_LEN + 1);
    }
}
