//! `cargo xtask fuzz [--seconds N]`: every fuzz target in `fuzz/`, one after another, N seconds
//! each (default 60), starting from the committed seed corpus. Needs a nightly toolchain and
//! cargo-fuzz, which it installs when missing.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, root, run};

/// The targets, in the order they run.
pub const TARGETS: [&str; 4] = ["envelope", "payload", "load", "decide"];

pub fn fuzz(args: &[String]) -> Result<()> {
    let seconds = match args {
        [] => 60,
        [flag, value] if flag == "--seconds" => {
            value.parse::<u64>().with_context(|| format!("`{value}` is not a number of seconds"))?
        }
        _ => bail!("usage: cargo xtask fuzz [--seconds N]"),
    };
    let has_fuzz =
        Command::new(cargo()).args(["fuzz", "--version"]).output().is_ok_and(|out| out.status.success());
    if !has_fuzz {
        run(&cargo(), ["install", "cargo-fuzz"])?;
    }
    let dir = root().join("fuzz");
    for target in TARGETS {
        println!("$ cargo +nightly fuzz run {target} -- -max_total_time={seconds}");
        let status = Command::new("cargo")
            .args([
                "+nightly",
                "fuzz",
                "run",
                target,
                "--",
                &format!("-max_total_time={seconds}"),
                "-print_final_stats=1",
            ])
            .current_dir(&dir)
            .status()
            .context("cannot run `cargo +nightly fuzz`")?;
        if !status.success() {
            bail!(
                "fuzz target `{target}` found a crash ({status}); the input is under fuzz/artifacts/{target}/"
            );
        }
    }
    println!("xtask fuzz: {} targets, {seconds} s each, no crash", TARGETS.len());
    Ok(())
}
