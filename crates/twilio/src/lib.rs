//! Twilio's wire formats: Media Streams messages, TwiML, webhook signatures, and the Calls REST API.
//!
//! - [`media`]: [`media::Inbound`] is what Twilio sends on the media websocket ([`media::decode`]),
//!   [`media::Outbound`] and `media::encode_*_into` are what we send back. Audio stays μ-law bytes;
//!   converting it is `call-pipeline`'s job.
//! - [`twiml`]: [`twiml::Response`] builds the documents we return to voice webhooks and use for transfers.
//! - [`signature`]: [`signature::RequestValidator`] checks `X-Twilio-Signature` on webhooks and on
//!   the websocket upgrade.
//! - [`rest`]: [`rest::CallsClient`] redirects, hangs up and creates calls, and sends text
//!   messages.
//! - `sim` (cargo feature `sim`, for tests, replay and the bench only): the Twilio side of a call,
//!   simulated: the signed voice webhook, the TwiML answer read back, the `start` and `mark`
//!   messages, and the playback buffer that echoes marks and honours `clear`.
//! - [`sid`]: the [`CallSid`], [`StreamSid`] and [`AccountSid`] newtypes; [`AuthToken`] keeps the
//!   secret out of logs.
//!
//! The `media`, `twiml`, `signature` and `sid` modules are pure: no IO, no clock, no runtime.
//! Only `rest` does IO (reqwest).
//!
//! Must not depend on: a tokio runtime in the pure modules, axum, or other workspace crates.

mod auth_token;
pub mod media;
pub mod rest;
pub mod sid;
pub mod signature;
#[cfg(feature = "sim")]
pub mod sim;
pub mod twiml;

pub use auth_token::AuthToken;
pub use sid::{AccountSid, CallSid, StreamSid};
