//! `OpenAiClient` against a local server that speaks docs/protocols.md 8.2/8.3 byte for byte.

mod client;
mod parity;
mod server;
