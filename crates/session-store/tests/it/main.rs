//! Integration tests: one behaviour suite (`behaviour`) run against both backends (`memory`,
//! `redis`), and outage tests that run their own `redis-server` (`outage`).

mod behaviour;
mod cluster;
mod memory;
mod outage;
mod redis;
mod redis_server;

use serde_json::Value;
use session_store::SessionFields;

/// The JSON object `value` as session fields.
#[track_caller]
fn obj(value: Value) -> SessionFields {
    match value {
        Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}

/// Whether tests needing a service should fail rather than skip when it is missing.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}
