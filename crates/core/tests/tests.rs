//! The core's integration tests, in one binary.

mod conformance;
mod properties;
mod snapshots;
mod support;
