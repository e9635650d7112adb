//! Arbitrary bytes as a signed snapshot: a typed error or a snapshot, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::Snapshot;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let _ = Snapshot::verify(data, &common::keys(), &common::options());
});
