//! The `tessera` binary's integration tests, in one binary: the conformance corpus through the
//! real executable, and each command's behaviour at the shell.

// clippy's `allow-*-in-tests` (clippy.toml) covers `#[test]` functions only, not the helpers
// beside them; in this binary everything is test code, and a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod commands;
mod conformance;
mod connections;
mod db;
mod diff;
mod explain;
mod exposure;
mod hostile;
mod serve;
mod support;
