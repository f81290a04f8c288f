//! Errors building a client. Errors of a completion are `providers::ProviderError`s.

/// What was wrong with an `OpenAiConfig`, found by `OpenAiClient::new`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// The configuration lists no endpoint.
    #[error("no endpoint configured")]
    NoEndpoints,
    /// An endpoint's base URL cannot have a path appended (`data:` or `mailto:` URLs, say).
    #[error("base url {url} cannot be used as an api base")]
    InvalidBaseUrl {
        /// The offending URL.
        url: String,
    },
    /// An API key contains characters that cannot go into an HTTP header.
    #[error("api key of endpoint {endpoint_idx} is not a valid header value")]
    InvalidApiKey {
        /// Position of the endpoint in `OpenAiConfig::endpoints`.
        endpoint_idx: usize,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("building the http client failed: {0}")]
    HttpClient(String),
}
