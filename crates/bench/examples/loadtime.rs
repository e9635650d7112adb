//! Where loading a snapshot spends its time, natively: `cargo run --release -p tessera-bench
//! --example loadtime -- target/bench/medium` (after `cargo xtask bench` wrote the fixtures).
//! A measurement, not a test.

#![allow(clippy::unwrap_used, reason = "a measurement on fixtures it was pointed at")]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tessera_core::{Org, Policy, PublicKey, Snapshot, Timestamp, TrustedKeys, VerifyOptions};

fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let bytes = std::fs::read(format!("{dir}/snapshot.json")).unwrap();
    let org_json = std::fs::read(format!("{dir}/org.json")).unwrap();
    let key = PublicKey::from_text(&std::fs::read_to_string(format!("{dir}/key.pub")).unwrap()).unwrap();
    let keys: TrustedKeys = [key].into_iter().collect();
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let now = Timestamp::from_unix(i64::try_from(seconds).unwrap());
    for _ in 0..3 {
        let started = Instant::now();
        let options = VerifyOptions { max_bytes: usize::MAX, ..VerifyOptions::new(now) };
        let snapshot = Snapshot::verify(&bytes, &keys, &options).unwrap();
        let verify = started.elapsed();
        let started = Instant::now();
        let org: Org = serde_json::from_slice(&org_json).unwrap();
        let parse = started.elapsed();
        let started = Instant::now();
        let policy = Policy::new(&org).unwrap();
        let index = started.elapsed();
        println!(
            "Snapshot::verify {verify:?}: the organisation parsed in {parse:?}, indexed (Policy::new) in {index:?}, the rest (envelope, base64, signature, limits) {:?}; {} users",
            verify.saturating_sub(parse + index),
            policy.counts().users.min(snapshot.policy().counts().users)
        );
    }
}
