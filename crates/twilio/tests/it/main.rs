//! Integration tests of the public API: fixtures round trips, a decoder property test, and the
//! REST client against a local HTTP server.

mod decode_never_panics;
mod fixtures;
mod rest;
