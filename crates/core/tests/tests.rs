//! The core's integration tests, in one binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod conformance;
mod cuts;
mod diff;
mod edits;
mod grants;
mod hostile;
mod incremental;
mod properties;
mod snapshots;
mod support;
mod validation;
mod views;
