//! `LanguageModel` over OpenAI-compatible streaming chat completions (docs/protocols.md section 8).
//! With the cargo feature `sim` (simulators and tests only), `sim` writes what such a server sends.
//!
//! `OpenAiClient` sends `POST {base_url}/chat/completions` with `stream: true` and
//! `stream_options.include_usage`, decodes the SSE reply with `reqwest-eventsource`, assembles tool
//! calls from their fragments, and yields `providers::LlmEvent`s. Before the first token it retries
//! 429 (honouring `Retry-After`), 408/409, 5xx and connection failures with backoff, enforces a
//! time-to-first-token timeout, and then moves on to the next fallback `Endpoint`. One shared,
//! kept-alive `reqwest::Client` (HTTP/2 where the server offers it) serves every call, so a turn
//! does not pay a TLS handshake. Dropping the returned stream cancels the HTTP request.
//!
//! `OpenAiConfig` and `Endpoint` are the configuration; `ApiKey` keeps the key out of `Debug`
//! output and logs; `AuthStyle` and `MaxTokensField` cover compatible servers (Azure OpenAI, Groq,
//! vLLM, Ollama).
//!
//! Failure behaviour (docs/protocols.md 8.6):
//!
//! - Before the first token (text, a tool-call fragment, a finish reason or usage), a failure is
//!   retried on the same endpoint when it is retryable: connect errors, a body that ends before
//!   any token, timeouts (the time-to-first-token timeout too), 408, 409, 429 and 5xx, or
//!   whatever `x-should-retry` says. The wait is the server's `retry-after-ms` /
//!   `retry-after` when given (a longer wait than `max_retry_after` skips to the next endpoint),
//!   else exponential backoff with jitter.
//! - When an endpoint's retries are used up, or its failure is not retryable (400, 401, 403, 404,
//!   429 `insufficient_quota`, a malformed chunk, an `error` payload), the next endpoint is tried:
//!   another key, model or server may work. The last endpoint's error is returned.
//! - After the first token nothing is retried (the caller may have heard part of the reply):
//!   a mid-stream `error` payload is `Err(ProviderError::Vendor)`, a malformed chunk or a stream
//!   cut before its finish reason is `Err(ProviderError::Protocol)`, a transport failure is
//!   `Err(ProviderError::Connect | Timeout)`; the stream ends after the error. A stream that ends
//!   after its finish reason but without `[DONE]` ends normally (usage may be missing).
//!
//! Compatible servers (docs/protocols.md 8.7):
//!
//! All of these take the same request at `<base_url>/chat/completions` and stream the same SSE:
//!
//! - **Azure OpenAI**: set `base_url` to
//!   `https://{resource}.openai.azure.com/openai/deployments/{deployment}?api-version=...`
//!   (the query is kept when the path is appended), `auth: AuthStyle::ApiKeyHeader` (header
//!   `api-key`), and `model` to the deployment. Its first chunk can have empty `choices` and
//!   carries `prompt_filter_results`; both are handled.
//! - **Groq** (`https://api.groq.com/openai/v1`): usage may come in `x_groq.usage`; both places are
//!   read. Old deployments rejected `stream_options` with a 400: set `include_usage: false`.
//!   Relayed chunks may carry `"tool_calls": []`, which is not a tool call.
//! - **vLLM**: tool calls need server flags (`--enable-auto-tool-choice --tool-call-parser …`);
//!   without them calls can arrive as plain text, which this client passes on as text. Missing
//!   tool-call ids are replaced by `call_<n>`.
//! - **Ollama** (`http://localhost:11434/v1`, `auth: AuthStyle::None`): `stream_options` needs
//!   v0.5.2 or later; parallel calls may reuse `index: 0` with distinct ids, which the assembler
//!   handles (docs/protocols.md 8.4).
//! - Older compatible servers only know `max_tokens`: set `max_tokens_field`.
//!
//! Must not depend on: other vendor crates, `call-pipeline`, `conversation`, or any workspace crate
//! except `providers`; it never reads the environment (the binary passes `OPENAI_BASE_URL` in).

mod client;
mod config;
mod error;
#[cfg(feature = "sim")]
pub mod sim;
mod stream;
mod wire;

pub use client::OpenAiClient;
pub use config::{ApiKey, AuthStyle, DEFAULT_BASE_URL, Endpoint, MaxTokensField, OpenAiConfig};
pub use error::Error;
