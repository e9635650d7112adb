//! The workspace's Rust tests, built once and then run binary by binary as `cargo test` runs
//! them, so that `cargo xtask test` can say how long the build took apart from the tests, how
//! many tests ran, and which tests were the slowest.
//!
//! Each test binary runs with libtest's `--report-time` (an unstable flag of the test harness,
//! let through by `RUSTC_BOOTSTRAP=1` in the binary's environment only: nothing is compiled
//! differently), from its package's directory, as `cargo test` runs it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::root;

/// One test binary, as cargo built it.
pub struct Binary {
    /// Its source and file: `crates/core/tests/edits.rs (edits-…)`.
    name: String,
    executable: PathBuf,
    package_dir: PathBuf,
}

/// What the tests left to report: how many passed, and each one's time.
#[derive(Default)]
pub struct Ran {
    passed: usize,
    times: Vec<(Duration, String)>,
}

impl Ran {
    /// The count, and the `count` slowest tests with their times.
    pub fn report(&self, count: usize) -> String {
        let mut times: Vec<&(Duration, String)> = self.times.iter().collect();
        times.sort_by_key(|(time, _)| std::cmp::Reverse(*time));
        let mut out = format!("rust tests: {} passed; the slowest:\n", self.passed);
        for (time, name) in times.into_iter().take(count) {
            out.push_str(&format!("  {:>7.2} s  {name}\n", time.as_secs_f64()));
        }
        out
    }
}

/// Runs every test binary of the workspace (from [`build`]), then the doctests; all of them,
/// failed or not, then fails if any failed.
pub fn run(cargo: &str, binaries: Vec<Binary>, env: &[(&str, &str)]) -> Result<Ran> {
    let mut ran = Ran::default();
    let mut failed = Vec::new();
    for binary in binaries {
        println!("     Running {}", binary.name);
        if !run_binary(&binary, env, &mut ran)? {
            failed.push(binary.name);
        }
    }
    println!("$ cargo test --workspace --doc");
    let status = Command::new(cargo)
        .args(["test", "--workspace", "--doc", "--quiet"])
        .current_dir(root())
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        failed.push("doctests".to_owned());
    }
    if !failed.is_empty() {
        bail!("tests failed in {}", failed.join(", "));
    }
    Ok(ran)
}

/// Builds every test binary `cargo test --workspace` runs (`--no-run`), and names them.
pub fn build(cargo: &str) -> Result<Vec<Binary>> {
    println!("$ cargo test --workspace --no-run");
    let mut child = Command::new(cargo)
        .args(["test", "--workspace", "--no-run", "--message-format=json-render-diagnostics"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run cargo")?;
    let stdout = child.stdout.take().context("cargo's output")?;
    let mut found = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let message: Value = match serde_json::from_str(&line?) {
            Ok(message) => message,
            Err(_) => continue,
        };
        let field = |pointer: &str| message.pointer(pointer);
        if field("/reason").and_then(Value::as_str) != Some("compiler-artifact")
            || field("/profile/test").and_then(Value::as_bool) != Some(true)
        {
            continue;
        }
        let (Some(executable), Some(manifest)) =
            (field("/executable").and_then(Value::as_str), field("/manifest_path").and_then(Value::as_str))
        else {
            continue;
        };
        let executable = PathBuf::from(executable);
        let package_dir = PathBuf::from(manifest).parent().map(PathBuf::from).unwrap_or_else(root);
        let source = field("/target/src_path").and_then(Value::as_str).unwrap_or_default();
        let source = PathBuf::from(source);
        let source = source.strip_prefix(root()).unwrap_or(&source).display().to_string();
        let file = executable.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        found.push(Binary { name: format!("{source} ({file})"), executable, package_dir });
    }
    if !child.wait().context("cargo")?.success() {
        bail!("the tests did not build");
    }
    // Cargo's order is the build's; `cargo test` runs them by package and name.
    found.sort_by(|a, b| (&a.package_dir, &a.name).cmp(&(&b.package_dir, &b.name)));
    Ok(found)
}

/// Runs one test binary, echoing what it prints; whether every test in it passed.
fn run_binary(binary: &Binary, env: &[(&str, &str)], ran: &mut Ran) -> Result<bool> {
    let mut child = Command::new(&binary.executable)
        .args(["-Z", "unstable-options", "--report-time"])
        .envs(env.iter().copied())
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(&binary.package_dir)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", binary.executable.display()))?;
    let stdout = child.stdout.take().context("the test's output")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some((test, time)) = passed(&line) {
            ran.passed += 1;
            if let Some(time) = time {
                let source = binary.name.split(' ').next().unwrap_or_default();
                ran.times.push((time, format!("{source} {test}")));
            }
        }
    }
    Ok(child.wait().context("the test binary")?.success())
}

/// `test NAME ... ok <1.234s>`: the name of a test that passed, and its time if told.
fn passed(line: &str) -> Option<(&str, Option<Duration>)> {
    let (test, outcome) = line.strip_prefix("test ")?.split_once(" ... ok")?;
    let seconds = outcome.trim().strip_prefix('<').and_then(|time| time.strip_suffix("s>"));
    let time = seconds.and_then(|seconds| seconds.parse().ok()).map(Duration::from_secs_f64);
    Some((test, time))
}
