//! Arbitrary payloads, signed with the trusted key, through the whole load: the header, the
//! organisation, validation. And an engine update with the same bytes either replaces the
//! snapshot whole or leaves it exactly as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::{Engine, Snapshot};

#[path = "common.rs"]
mod common;

/// A valid snapshot to update from.
fn base() -> Engine {
    let payload = br#"{"header":{"schema":1,"issuer":"fuzz","version":1,"issued_at":"2026-06-01T00:00:00Z","expires_at":"2026-06-02T00:00:00Z","scope":"org"},"org":{"networks":[],"offices":[],"users":[],"projects":[]}}"#;
    Engine::load(&common::sign_payload(payload), &common::keys(), &common::options()).expect("the base loads")
}

fuzz_target!(|data: &[u8]| {
    let envelope = common::sign_payload(data);
    let loaded = Snapshot::verify(&envelope, &common::keys(), &common::options());
    let mut engine = base();
    let before = engine.snapshot().header().clone();
    match engine.update(&envelope, &common::keys(), &common::options()) {
        Ok(header) => assert!(loaded.is_ok() && header.version >= before.version),
        Err(_) => assert_eq!(engine.snapshot().header(), &before, "a failed update changed the engine"),
    }
});
