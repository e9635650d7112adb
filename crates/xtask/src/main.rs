//! Project automation, run as `cargo xtask <task>` (the alias lives in `.cargo/config.toml`).
//!
//! - `test`: everything CI checks: formatting, clippy, every test of the workspace (with a
//!   throwaway PostgreSQL server for the store's tests, `postgres.rs`), and the core built for
//!   `wasm32-unknown-unknown`. Installs what it lacks (the wasm target, PostgreSQL).
//! - `serve`: the web app built (`site`), served with the demo organisation by `tessera serve`
//!   on 127.0.0.1:8080: the README's main job.
//! - `demo`: a dev key under `target/demo/`, the demo organisation signed, and a table of what
//!   each of its users may do.
//! - `generate`: a generated organisation (`tessera-generate`) of a preset size, as JSON.
//! - `bench`: the benchmarks (criterion, and the Node harness against other libraries).
//! - `loadtest`: the issuer (`tessera serve`, release) under load from `wrk` on a generated
//!   organisation: first snapshots, 304s, cached snapshots, a trivial endpoint while cutting.
//! - `diff-time`: how long impact analysis takes on a generated organisation after one
//!   override changes, built in release. A measurement, not a test.
//! - `store-time`: how long the organisation store takes to import, load and commit a generated
//!   organisation, on SQLite and on a throwaway PostgreSQL server, built in release.
//!
//! Each task says what it runs before it runs it, and stops at the first failure.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

mod api_fuzz;
mod app_scale;
mod bench;
mod dist;
mod fuzz;
mod loadtest;
mod net;
mod phases;
mod postgres;
mod rust_tests;
mod site;
mod tidy;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test    formatting, clippy, every test, and the core built for wasm32
  serve [--addr HOST:PORT]
          build the app, sign the demo organisation and serve it (default 127.0.0.1:8080)
  site    build the app and its shell into target/site/
  fuzz [--seconds N]
          run every fuzz target for N seconds each (default 60)
  dist    build the npm package tessera-policy into target/npm/ and pack it
  demo    sign the demo organisation with a dev key and show what its users may do
  generate --scale small|medium|large [--seed N] --out FILE
          write a generated organisation (1k, 10k or 100k users) as JSON
  app-bench [ci|large]
          the app's large-organisation browser test at full size (default large; BENCHMARKS.md)
  app-org [ci|large]
          write the organisation of that test and print its path
  bench [small,medium,large]
          benchmarks: criterion and the Node harness against other libraries (BENCHMARKS.md)
  api-fuzz
          the API's description validated, and Schemathesis against a debug tessera serve
  loadtest [small|medium|large]
          the issuer under load with wrk, release build (default large; BENCHMARKS.md)
  diff-time [small|medium|large] [SEED]
          time `diff` on a generated organisation after one override changes (release build)
  store-time [small|medium|large]
          time the store's import, load and commit on SQLite and PostgreSQL (release build)";

fn main() -> ExitCode {
    let task = env::args().nth(1);
    let result = match task.as_deref() {
        Some("test") => test(),
        Some("demo") => demo(),
        Some("serve") => site::serve(&env::args().skip(2).collect::<Vec<_>>()),
        Some("site") => site::site().map(|_| ()),
        Some("dist") => dist::dist().map(|_| ()),
        Some("fuzz") => fuzz::fuzz(&env::args().skip(2).collect::<Vec<_>>()),
        Some("generate") => generate(env::args().skip(2).collect()),
        Some("diff-time") => diff_time(env::args().skip(2).collect()),
        Some("store-time") => store_time(env::args().skip(2).collect()),
        Some("bench") => bench::bench(&env::args().skip(2).collect::<Vec<_>>()),
        Some("app-bench") => app_scale::bench(&env::args().skip(2).collect::<Vec<_>>()),
        Some("app-org") => app_scale::org(&env::args().skip(2).collect::<Vec<_>>()),
        Some("loadtest") => loadtest::loadtest(&env::args().skip(2).collect::<Vec<_>>()),
        Some("api-fuzz") => api_fuzz_now(),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown task `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.ancestors().nth(2).unwrap_or(manifest_dir).to_path_buf()
}

/// Runs `program` with `args` in the workspace root, echoing the command; fails on a non-zero
/// exit.
pub(crate) fn run<I, S>(program: &str, args: I) -> Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with_env(program, args, &[])
}

/// [`run`], with `env` added to the command's environment (and named in the echo).
pub(crate) fn run_with_env<I, S>(program: &str, args: I, env: &[(&str, &str)]) -> Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<S> = args.into_iter().collect();
    let shown: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
    let assignments: String = env.iter().map(|(name, value)| format!("{name}={value} ")).collect();
    let echo = format!("$ {assignments}{program} {}", shown.join(" "));
    let quiet = QUIET_OUTPUT.with(|output| {
        output.borrow_mut().as_mut().map(|file| {
            use std::io::Write as _;
            let _ = writeln!(file, "{echo}");
        })
    });
    if quiet.is_none() {
        println!("{echo}");
    }
    let mut command = Command::new(program);
    command.args(&args).envs(env.iter().copied()).current_dir(root());
    with_output(&mut command);
    let status = command.status().with_context(|| format!("cannot run `{program}`"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", shown.join(" "));
    }
    Ok(())
}

pub(crate) fn cargo() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Makes sure the wasm target is installed: `rustup` is quick when it already is.
pub(crate) fn ensure_wasm_target() -> Result<()> {
    if Command::new("rustup").arg("--version").output().is_err() {
        println!("rustup not found; assuming the wasm32-unknown-unknown target is installed");
        return Ok(());
    }
    run("rustup", ["target", "add", "wasm32-unknown-unknown"])
}

fn test() -> Result<()> {
    let mut phases = phases::Phases::new();
    let result = test_phases(&mut phases);
    println!("{}", phases.report());
    result
}

fn test_phases(phases: &mut phases::Phases) -> Result<()> {
    // What waits on the network (npm, apt) and the wasm-bindgen CLI install go on beside the
    // first builds; they are awaited where they are first needed.
    ensure_wasm_target()?;
    let installs = Installs::start();
    let cargo = cargo();
    phases.run("fmt", || {
        run(&cargo, ["fmt", "--all", "--", "--check"]).context("run `cargo fmt --all` and commit")
    })?;
    phases.run("clippy", || {
        run(&cargo, ["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
        // The wasm crate on its own target, in its default and its full build.
        for features in [&[][..], &["--features", "impact,stream"][..]] {
            let mut args =
                vec!["clippy", "-p", "tessera-wasm", "--all-targets", "--target", "wasm32-unknown-unknown"];
            args.extend(features);
            args.extend(["--", "-D", "warnings"]);
            run(&cargo, args)?;
        }
        // The app's browser half (state, pages, browser APIs) exists only on wasm32.
        run(
            &cargo,
            ["clippy", "-p", "tessera-app", "--target", "wasm32-unknown-unknown", "--", "-D", "warnings"],
        )
    })?;
    phases.run("install", || installs.wait())?;
    let binaries = phases.run("rust build", || rust_tests::build(&cargo))?;
    let ran = phases.run("rust tests", || {
        // The store's PostgreSQL tests run against a cluster of their own, gone when they end.
        let cluster = postgres::start_cluster()?;
        let url = cluster.url();
        let ctl = cluster.ctl().display().to_string();
        rust_tests::run(
            &cargo,
            binaries,
            &[("TESSERA_TEST_DATABASE_URL", &url), ("TESSERA_TEST_POSTGRES_CTL", &ctl)],
        )
    })?;
    println!("{}", ran.report(15));
    // The core must compile for the browser as it is (no I/O, no clock, no JS): the wasm tests'
    // full build compiles it for wasm32 with its default features, so it needs no build of its own.
    phases.run("wasm tests", wasm_tests)?;
    let package = phases.run("dist", dist::dist)?;
    // The binary the CLI's tests built and ran (`cargo test --workspace` builds it with the
    // workspace's features; a `cargo build -p tessera-cli` would resolve them anew and rebuild).
    let tessera = root().join(target_dir()).join("debug").join("tessera");
    if !tessera.exists() {
        run(&cargo, ["build", "--quiet", "--workspace", "--bins"])?;
    }
    phases.run("npm", || {
        println!("$ node --test tests/npm/");
        let status = Command::new("node")
            .args(["--test", "tests/npm/"])
            .env("TESSERA_TARBALL", &package.tarball)
            .env("TESSERA_BIN", &tessera)
            .current_dir(root())
            .status()
            .context("cannot run `node`")?;
        if !status.success() {
            bail!("the npm package tests failed ({status})");
        }
        Ok(())
    })?;
    phases.run("bench check", bench::check)?;
    // The app end to end: built as `cargo xtask serve` builds it, served by the same binary.
    let site = phases.run("site", site::site)?;
    phases.run("e2e", || {
        let large_org = app_scale::write_org("ci", &app_scale::ci_scale())?;
        println!("$ node --test tests/e2e/");
        let status = Command::new("node")
            .args(["--test", "tests/e2e/"])
            .env("TESSERA_BIN", &tessera)
            .env("TESSERA_SITE", &site)
            .env("TESSERA_LARGE_ORG", &large_org)
            .current_dir(root())
            .status()
            .context("cannot run `node`")?;
        if !status.success() {
            bail!("the end-to-end tests failed ({status}); screenshots are in target/e2e/");
        }
        Ok(())
    })?;
    // The API's description validated, and attacked through it by Schemathesis.
    phases.run("api fuzz", || api_fuzz::check(&tessera))?;
    println!("xtask test: all checks passed");
    Ok(())
}

/// The installs `cargo xtask test` runs in the background: the pinned JavaScript tools, Debian's
/// Chromium and PostgreSQL, the wasm-bindgen CLI, `wasm-split-cli`, and Schemathesis with
/// `openapi-spec-validator` (PyPI, in `target/venv`), their output kept in a log that is shown if
/// they fail.
struct Installs {
    handle: std::thread::JoinHandle<Result<()>>,
    log: PathBuf,
}

impl Installs {
    fn start() -> Installs {
        let log = root().join(target_dir()).join("xtask-install.log");
        let path = log.clone();
        let handle = std::thread::spawn(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
            }
            let file =
                std::fs::File::create(&path).with_context(|| format!("cannot write `{}`", path.display()))?;
            let quiet = Quiet(file);
            quiet.run(dist::ensure_npm)?;
            let mut missing = Vec::new();
            if !(Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists()) {
                missing.extend(["chromium", "chromium-driver"]);
            }
            if !postgres::is_installed() {
                missing.push("postgresql");
            }
            if !missing.is_empty() {
                quiet.run(|| apt_install(&missing))?;
            }
            quiet.run(dist::ensure_wasm_bindgen)?;
            quiet.run(site::ensure_wasm_split)?;
            quiet.run(api_fuzz::ensure_tools)
        });
        println!("xtask test: installing what is missing in the background (log: {})", log.display());
        Installs { handle, log }
    }

    fn wait(self) -> Result<()> {
        let result = self.handle.join().map_err(|_| anyhow::anyhow!("the installs panicked"))?;
        if result.is_err() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("{text}");
        }
        result
    }
}

/// Runs install steps with their commands' output going to a file.
struct Quiet(std::fs::File);

impl Quiet {
    fn run(&self, step: impl FnOnce() -> Result<()>) -> Result<()> {
        QUIET_OUTPUT.with(|output| *output.borrow_mut() = self.0.try_clone().ok());
        let result = step();
        QUIET_OUTPUT.with(|output| *output.borrow_mut() = None);
        result
    }
}

thread_local! {
    /// Where this thread's commands write their output, if not to the terminal.
    static QUIET_OUTPUT: std::cell::RefCell<Option<std::fs::File>> = const { std::cell::RefCell::new(None) };
}

/// `command` with its output sent where this thread's commands go.
fn with_output(command: &mut Command) {
    QUIET_OUTPUT.with(|output| {
        if let Some(file) = output.borrow().as_ref()
            && let (Ok(out), Ok(err)) = (file.try_clone(), file.try_clone())
        {
            command.stdout(out).stderr(err);
        }
    });
}

/// `cargo xtask api-fuzz`: the last phase of `cargo xtask test` on its own.
fn api_fuzz_now() -> Result<()> {
    run(&cargo(), ["build", "--quiet", "-p", "tessera-cli"])?;
    api_fuzz::check(&root().join(target_dir()).join("debug").join("tessera"))
}

/// The wasm build's tests, through the JavaScript-facing API: in Node, then in headless
/// Chromium driven by chromedriver.
fn wasm_tests() -> Result<()> {
    let webdriver = root().join("crates/wasm/webdriver.json");
    for (browser, features) in
        [(false, None), (true, None), (false, Some("impact,stream")), (true, Some("impact,stream"))]
    {
        let mut command = Command::new(cargo());
        command.args(["test", "-p", "tessera-wasm", "--target", "wasm32-unknown-unknown"]);
        if let Some(features) = features {
            command.args(["--features", features]);
        }
        command
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
            .current_dir(root());
        if browser {
            command
                .env("WASM_BINDGEN_USE_BROWSER", "1")
                .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &webdriver)
                .env("CHROMEDRIVER", "/usr/bin/chromedriver");
        }
        let place = if browser { "headless Chromium" } else { "Node" };
        let build = features.map_or("default build", |_| "full build");
        println!("$ cargo test -p tessera-wasm --target wasm32-unknown-unknown  # {build}, in {place}");
        let status = command.status().context("cannot run cargo")?;
        if !status.success() {
            bail!("the wasm tests ({build}) failed in {place} ({status})");
        }
    }
    Ok(())
}

/// Installs Debian's `packages` with `apt-get`, as root; otherwise says what to install.
pub(crate) fn apt_install(packages: &[&str]) -> Result<()> {
    let is_root =
        Command::new("id").arg("-u").output().map(|out| out.stdout.starts_with(b"0")).unwrap_or(false);
    if !is_root {
        bail!(
            "this needs Debian's {}: run `sudo apt-get install -y {}`",
            packages.join(", "),
            packages.join(" ")
        );
    }
    run("apt-get", ["update", "-qq"])?;
    let mut command = Command::new("apt-get");
    command.args(["install", "-y", "-qq"]).args(packages).env("DEBIAN_FRONTEND", "noninteractive");
    with_output(&mut command);
    let status = command.status().context("cannot run apt-get")?;
    if !status.success() {
        bail!("`apt-get install {}` failed ({status})", packages.join(" "));
    }
    Ok(())
}

/// The target directory, relative to the workspace root where it can be.
pub(crate) fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from("target"),
    }
}

fn demo() -> Result<()> {
    let cargo = cargo();
    run(&cargo, ["build", "--quiet", "-p", "tessera-cli"])?;
    // Commands run in the workspace root, so the paths below are relative to it, except the
    // binary itself, which must be found before the command changes directory.
    let tessera = root().join(target_dir()).join("debug").join("tessera");
    let tessera = utf8(&tessera)?;
    let dir = target_dir().join("demo");
    std::fs::create_dir_all(root().join(&dir))
        .with_context(|| format!("cannot create `{}`", dir.display()))?;
    let key = dir.join("dev.key");
    let public = dir.join("dev.key.pub");
    let snapshot = dir.join("org.snapshot.json");
    if !root().join(&key).exists() {
        run(tessera, ["keygen", "--out", utf8(&key)?])?;
    }
    // Versions only grow: the clock in seconds does that across runs.
    let version = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1).to_string();
    run(
        tessera,
        [
            "sign",
            "tests/demo/org.json",
            "--key",
            utf8(&key)?,
            "--version",
            &version,
            "--issuer",
            "tessera-demo",
            "--out",
            utf8(&snapshot)?,
        ],
    )?;
    run(tessera, ["inspect", utf8(&snapshot)?, "--trust", utf8(&public)?, "--users"])?;
    println!();
    println!("Try a decision yourself, for example:");
    println!(
        "  {tessera} check {} --trust {} --user u-cleo --can task.create --project p-rebrand",
        snapshot.display(),
        public.display()
    );
    Ok(())
}

/// `cargo xtask generate --scale small|medium|large [--seed N] --out FILE`.
fn generate(args: Vec<String>) -> Result<()> {
    let mut scale = None;
    let mut seed = None;
    let mut out = None;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--scale" => {
                let name = value()?;
                scale = Some(
                    tessera_generate::Scale::preset(&name)
                        .with_context(|| format!("`{name}` is not a scale: use small, medium or large"))?,
                );
            }
            "--seed" => {
                let text = value()?;
                seed = Some(text.parse::<u64>().with_context(|| format!("`{text}` is not a seed"))?);
            }
            "--out" => out = Some(PathBuf::from(value()?)),
            other => bail!("unknown flag `{other}`\n\n{USAGE}"),
        }
    }
    let (Some(mut scale), Some(out)) = (scale, out) else {
        bail!("generate needs --scale and --out\n\n{USAGE}");
    };
    if let Some(seed) = seed {
        scale.seed = seed;
    }
    let started = std::time::Instant::now();
    let org = tessera_generate::generate(&scale);
    let generated = started.elapsed();
    let json = serde_json::to_vec(&org).context("cannot write the organisation as JSON")?;
    std::fs::write(&out, &json).with_context(|| format!("cannot write `{}`", out.display()))?;
    println!(
        "wrote `{}`: {} networks, {} offices, {} users, {} projects, {} agreements, {} groups, {} direct messages; {} bytes; generated in {:.2} s (seed {})",
        out.display(),
        org.networks.len(),
        org.offices.len(),
        org.users.len(),
        org.projects.len(),
        org.agreements.len(),
        org.groups.len(),
        org.direct_messages.len(),
        json.len(),
        generated.as_secs_f64(),
        scale.seed,
    );
    Ok(())
}

/// `cargo xtask diff-time [small|medium|large] [SEED]`: the `diff_time` example of
/// `tessera-generate`, in release. Timing is only meaningful optimised, so it is not a test.
fn diff_time(args: Vec<String>) -> Result<()> {
    let mut command =
        vec!["run", "--release", "--quiet", "-p", "tessera-generate", "--example", "diff_time", "--"];
    command.extend(args.iter().map(String::as_str));
    run(&cargo(), command)
}

/// `cargo xtask store-time [small|medium|large]`: the `store_time` example of `tessera-server`,
/// in release, on a SQLite file and on a throwaway PostgreSQL cluster.
fn store_time(args: Vec<String>) -> Result<()> {
    let scale = args.first().map_or("large", String::as_str);
    let dir = std::env::temp_dir().join(format!("tessera-store-time-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let sqlite = format!("sqlite:{}", dir.join("store.db").display());
    let cluster = postgres::start_cluster()?;
    let example = ["run", "--release", "--quiet", "-p", "tessera-server", "--example", "store_time", "--"];
    let result = [sqlite, cluster.url()].iter().try_for_each(|url| {
        let mut command = example.to_vec();
        command.extend([scale, url.as_str()]);
        run(&cargo(), command)
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("`{}` is not valid UTF-8", path.display()))
}
