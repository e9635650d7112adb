//! Shared by the benchmarks: the fixtures the Node harness reads (a generated organisation, its
//! signed snapshot and the public key) and a deterministic random workload.
//!
//! The criterion benchmarks are in `benches/decisions.rs`; `cargo xtask bench` runs them, writes
//! the fixtures with this crate's binary, and runs the Node harness in `tests/bench/`.

use std::path::Path;

use anyhow::{Context, Result};
use tessera_core::{Header, Org, SCHEMA_VERSION, Scope, SecretKey, Timestamp, sign};
use tessera_generate::Scale;

/// The signing key of benchmark snapshots: fixed, since nothing it signs is trusted anywhere
/// else.
pub fn bench_key() -> SecretKey {
    SecretKey::from_bytes([42; 32])
}

/// Signs `org` for a benchmark: scope `org`, version 1, valid for thirty days from `now`.
pub fn signed(org: &Org, now: Timestamp) -> Result<Vec<u8>> {
    let header = Header {
        schema: SCHEMA_VERSION,
        issuer: "tessera-bench".to_owned(),
        version: 1,
        issued_at: now,
        expires_at: now.plus_seconds(30 * 24 * 3600),
        scope: Scope::Org,
    };
    sign(org, &header, &[&bench_key()]).context("cannot sign the generated organisation")
}

/// Writes `org.json`, `snapshot.json` and `key.pub` for `scale` into `dir`.
pub fn write_fixtures(scale: &Scale, dir: &Path, now: Timestamp) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let org = tessera_generate::generate(scale);
    let json = serde_json::to_vec(&org).context("cannot write the organisation as JSON")?;
    write(&dir.join("org.json"), &json)?;
    write(&dir.join("snapshot.json"), &signed(&org, now)?)?;
    write(&dir.join("key.pub"), bench_key().public_key().to_text().as_bytes())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write `{}`", path.display()))
}

/// splitmix64: the same numbers on every platform, for a workload that is the same each run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        usize::try_from(z.checked_rem(n).unwrap_or(0)).unwrap_or(0)
    }
}
