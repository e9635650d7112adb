//! What a verified snapshot takes in memory against its signed bytes, for users spread over a
//! preset organisation: the figure the server's sight cache (`--sight-mib`) weighs its entries by.
//!
//! `cargo run --release -p tessera-generate --example sight_memory -- [small|medium|large] [USERS]`
//! (40 users by default). Memory is what a counting allocator (`cap`) sees allocated.

use std::alloc::System;

use cap::Cap;
use tessera_core::{
    Cutter, Header, SCHEMA_VERSION, Scope, SecretKey, Snapshot, Timestamp, TrustedKeys, VerifyOptions, sign,
};
use tessera_generate::{Scale, generate};

#[global_allocator]
static ALLOCATED: Cap<System> = Cap::new(System, usize::MAX);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "large".to_owned());
    let scale = Scale::preset(&name).ok_or_else(|| format!("`{name}` is not small, medium or large"))?;
    let count: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(40);
    let now = Timestamp::parse("2026-06-01T00:00:00Z")?;
    let key = SecretKey::from_bytes([7; 32]);
    let mut keys = TrustedKeys::new();
    keys.add(key.public_key());

    let cutter = Cutter::new(generate(&scale))?;
    let users = cutter.policy().counts().users;
    let step = (users / count.max(1)).max(1);
    let mut rows = Vec::new();
    for user in cutter.users().step_by(step).take(count) {
        let header = Header {
            schema: SCHEMA_VERSION,
            issuer: "memory".to_owned(),
            version: 1,
            issued_at: now,
            expires_at: now.plus_seconds(3600),
            scope: Scope::User(user.id.clone()),
        };
        let org = cutter.cut(&header.scope, now)?;
        let bytes = sign(&org, &header, &[&key])?;
        drop(org);
        let before = ALLOCATED.allocated();
        let snapshot = Snapshot::verify(&bytes, &keys, &VerifyOptions::new(now))?;
        let held = ALLOCATED.allocated() - before;
        rows.push((bytes.len(), held));
        drop(snapshot);
    }
    rows.sort_by(|a, b| (a.1 as f64 / a.0 as f64).total_cmp(&(b.1 as f64 / b.0 as f64)));
    let signed: usize = rows.iter().map(|r| r.0).sum();
    let held: usize = rows.iter().map(|r| r.1).sum();
    println!(
        "{name}: {} users' verified snapshots: {:.1} MB signed, {:.1} MB held ({:.2}×)",
        rows.len(),
        signed as f64 / 1e6,
        held as f64 / 1e6,
        held as f64 / signed as f64
    );
    for (bytes, held) in rows.iter().step_by((rows.len() / 8).max(1)).chain(rows.last()) {
        println!("  {:>9} bytes signed, {:>9} held: {:.2}×", bytes, held, *held as f64 / *bytes as f64);
    }
    Ok(())
}
