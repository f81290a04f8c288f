//! `LanguageModel` over OpenAI-compatible streaming chat completions (protocols.md section 8).
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
//! vLLM, Ollama; see `config`).
//!
//! Must not depend on: other vendor crates, `call-pipeline`, `conversation`, or any workspace crate
//! except `providers`; it never reads the environment (the binary passes `OPENAI_BASE_URL` in).

mod client;
mod config;
mod error;
mod stream;
mod wire;

pub use client::OpenAiClient;
pub use config::{ApiKey, AuthStyle, DEFAULT_BASE_URL, Endpoint, MaxTokensField, OpenAiConfig};
pub use error::Error;
