//! Configuration: endpoints (primary first, then fallbacks), timeouts and retry policy.
//!
//! The compatible servers this supports are described in the crate docs.

use std::fmt;
use std::time::Duration;

use url::Url;

/// OpenAI's API base, the default for `OPENAI_BASE_URL`.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// Everything `OpenAiClient` needs.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Where to send requests: the primary first, then the fallbacks in order. Each is tried (with
    /// its retries) only when the ones before it failed before the first token.
    pub endpoints: Vec<Endpoint>,
    /// TCP + TLS connect timeout per attempt. Default 3 s.
    pub connect_timeout: Duration,
    /// Total time of one HTTP request, streaming included. Default 30 s.
    pub request_timeout: Duration,
    /// From sending the request to the first token (text, tool-call fragment or finish reason).
    /// Default 5 s.
    pub first_token_timeout: Duration,
    /// Retries per endpoint after the first attempt, for retryable failures before the first token.
    /// Default 1: on a phone call, one quick retry, then the fallback.
    pub max_retries: u32,
    /// First backoff delay; it doubles on each retry (with jitter) up to `max_backoff`. Default 250 ms.
    pub backoff_base: Duration,
    /// Upper bound of the computed backoff. Default 2 s.
    pub max_backoff: Duration,
    /// The longest server-requested `Retry-After` we wait for; a longer one moves on to the next
    /// endpoint at once (the caller is waiting). Default 2 s.
    pub max_retry_after: Duration,
    /// Sampling temperature when the request does not set one. Default 0.3.
    pub temperature: Option<f32>,
    /// Token limit when the request does not set one. Default 300.
    pub max_tokens: Option<u32>,
    /// Idle keep-alive connections are closed after this long. Default 90 s.
    pub pool_idle_timeout: Duration,
}

/// One OpenAI-compatible server and model.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// API base, without `/chat/completions` (`OPENAI_BASE_URL`, default `DEFAULT_BASE_URL`).
    /// A query string (Azure's `api-version`) is kept.
    pub base_url: Url,
    /// The key; never logged or printed.
    pub api_key: ApiKey,
    /// Model name (Azure: ignored by the server, the deployment is in `base_url`).
    pub model: String,
    /// How the key is sent.
    pub auth: AuthStyle,
    /// Which JSON field carries the token limit.
    pub max_tokens_field: MaxTokensField,
    /// Send `stream_options: {"include_usage": true}`. Default true; turn off for servers that
    /// reject it (old Groq, Ollama before v0.5.2).
    pub include_usage: bool,
}

/// How an endpoint expects the API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>` (OpenAI, Groq, vLLM, most servers).
    #[default]
    Bearer,
    /// `api-key: <key>` (Azure OpenAI).
    ApiKeyHeader,
    /// No auth header (a local Ollama or vLLM).
    None,
}

/// The JSON field for the token limit (docs/protocols.md 8.1, 8.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxTokensField {
    /// `max_completion_tokens`: current OpenAI, required by reasoning models.
    #[default]
    MaxCompletionTokens,
    /// `max_tokens`: deprecated at OpenAI, the only one some compatible servers know.
    MaxTokens,
}

/// An API key. `Debug` and `Display` print `***`, so it cannot leak into logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(30),
            first_token_timeout: Duration::from_secs(5),
            max_retries: 1,
            backoff_base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(2),
            temperature: Some(0.3),
            max_tokens: Some(300),
            pool_idle_timeout: Duration::from_secs(90),
        }
    }
}

impl Endpoint {
    /// An OpenAI-style endpoint (Bearer auth, `max_completion_tokens`, usage requested).
    pub fn new(base_url: Url, api_key: ApiKey, model: impl Into<String>) -> Self {
        Self {
            base_url,
            api_key,
            model: model.into(),
            auth: AuthStyle::Bearer,
            max_tokens_field: MaxTokensField::MaxCompletionTokens,
            include_usage: true,
        }
    }

    /// `{base_url}/chat/completions`, keeping the base's query. `None` if the URL cannot take a path.
    pub(crate) fn completions_url(&self) -> Option<Url> {
        let mut res = self.base_url.clone();
        res.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .extend(["chat", "completions"]);
        Some(res)
    }

    /// Scheme, host and port only, for logs (no path, query or credentials).
    pub(crate) fn log_name(&self) -> String {
        let host = self.base_url.host_str().unwrap_or("");
        match self.base_url.port() {
            Some(port) => format!("{}://{host}:{port}", self.base_url.scheme()),
            None => format!("{}://{host}", self.base_url.scheme()),
        }
    }
}

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for building the auth header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
