//! `cargo xtask bench [small,medium,large]`: the benchmarks, measured, never a test.
//!
//! Builds the npm package, writes each scale's fixtures (a generated organisation, its signed
//! snapshot, the key) with `tessera-bench`, runs the Node harness in `tests/bench/` (every
//! library checked for identical decisions, then timed; then load time and memory, of the
//! default build and of `tessera-policy/full`, each in a fresh process), runs criterion natively, and has `tests/bench/report.mjs` write the tables and the
//! chart that `BENCHMARKS.md` quotes.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, dist, root, run, target_dir};

pub fn bench(args: &[String]) -> Result<()> {
    let scales = args.first().map_or("small,medium,large", String::as_str).to_owned();
    dist::dist()?;
    let out = root().join(target_dir()).join("bench");
    let package_dir = root().join(target_dir()).join("npm/tessera-policy");
    for scale in scales.split(',') {
        let fixtures = out.join(scale);
        let fixtures_arg = fixtures.display().to_string();
        run(
            &cargo(),
            ["run", "--quiet", "--release", "-p", "tessera-bench", "--", "fixtures", scale, &fixtures_arg],
        )?;
        // Decisions; then load time and memory, each build in three fresh processes (a first
        // load happens once per process, and these machines are noisy): a JSON array of runs.
        for (mode, entry, runs, file) in [
            ("bench", "node", 1, format!("{scale}.json")),
            ("load", "node", 3, format!("{scale}-load.json")),
            ("load", "full/node", 3, format!("{scale}-load-full.json")),
        ] {
            let mut outputs = Vec::new();
            for _ in 0..runs {
                println!("$ TESSERA_ENTRY={entry} node tests/bench/run.mjs {mode} {fixtures_arg}  # {scale}");
                let output = Command::new("node")
                    .env("TESSERA_ENTRY", entry)
                    .args(["--max-old-space-size=16384", "--expose-gc", "tests/bench/run.mjs", mode])
                    .arg(&fixtures)
                    .arg(&package_dir)
                    .arg(scale)
                    .current_dir(root())
                    .output()
                    .context("cannot run `node`")?;
                if !output.status.success() {
                    bail!("the Node harness failed on {scale}: {}", String::from_utf8_lossy(&output.stderr));
                }
                outputs.push(String::from_utf8_lossy(&output.stdout).trim().to_owned());
            }
            let text = if mode == "load" { format!("[{}]\n", outputs.join(",\n")) } else { outputs.concat() };
            fs::write(out.join(&file), text).with_context(|| format!("cannot write {file}"))?;
        }
    }
    let mut command = Command::new(cargo());
    command.args(["bench", "-p", "tessera-bench"]).env("TESSERA_BENCH_SCALES", &scales).current_dir(root());
    println!("$ TESSERA_BENCH_SCALES={scales} cargo bench -p tessera-bench");
    if !command.status().context("cannot run cargo bench")?.success() {
        bail!("criterion failed");
    }
    let out_arg = out.display().to_string();
    run("node", ["tests/bench/report.mjs", &out_arg, &scales, "docs/bench-decision-cost.svg"])
}

/// The harness's correctness check on the small organisation: every library decides as
/// tessera-policy. Part of `cargo xtask test`; the package must be built.
pub fn check() -> Result<()> {
    let fixtures = root().join(target_dir()).join("bench/check-small");
    let fixtures_arg = fixtures.display().to_string();
    // Written here: `tessera-bench fixtures` is this library function, and a build of that
    // binary alone would compile its dependencies again with its own features.
    let seconds =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let now = tessera_core::Timestamp::from_unix(i64::try_from(seconds).unwrap_or(0));
    tessera_bench::write_fixtures(&tessera_generate::Scale::small(), &fixtures, now)?;
    let package_dir = root().join(target_dir()).join("npm/tessera-policy").display().to_string();
    run("node", ["tests/bench/run.mjs", "check", &fixtures_arg, &package_dir])
}
