//! `tessera-server`'s integration tests, in one binary.

// clippy's `allow-*-in-tests` (clippy.toml) covers `#[test]` functions only, not the helpers
// beside them; in this binary everything is test code, and a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod actions;
mod api;
mod differential;
mod events;
mod guards;
mod identity;
mod issuer;
mod openapi;
mod replicas;
mod review;
mod store;
mod support;
