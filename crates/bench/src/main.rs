//! `tessera-bench fixtures SCALE DIR`: writes a generated organisation of a preset scale, its
//! snapshot signed with the benchmark key, and that key's public half, for the Node harness.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use tessera_core::Timestamp;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [command, scale, dir] = args.as_slice() else {
        bail!("usage: tessera-bench fixtures small|medium|large DIR");
    };
    if command != "fixtures" {
        bail!("unknown command `{command}`");
    }
    let scale =
        tessera_generate::Scale::preset(scale).with_context(|| format!("`{scale}` is not a scale"))?;
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let now = Timestamp::from_unix(i64::try_from(seconds).unwrap_or(0));
    tessera_bench::write_fixtures(&scale, &PathBuf::from(dir), now)
}
