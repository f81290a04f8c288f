//! The CRM suite: every test runs on SQLite (a temp file) and, when `VOICE_TEST_DATABASE_URL`
//! is set, on PostgreSQL in a fresh database that is dropped afterwards. With `CI` set, a
//! missing PostgreSQL URL fails the PostgreSQL half instead of skipping it.

mod harness;

mod booking;
mod calls;
mod customers;
mod outcomes;
mod seed;
mod tools;
