//! Integration tests: the Deepgram clients against local WebSocket servers on 127.0.0.1 that
//! speak the protocols of docs/protocols.md: sections 5 and 6, and Deepgram Flux.

mod flux;
mod mock;
mod stt;
mod tts;
