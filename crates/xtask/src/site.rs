//! `cargo xtask site` and `cargo xtask serve`: the web app, built into `target/site/`, and the
//! reference server serving it with the demo organisation.
//!
//! The app (`crates/app`) is built for `wasm32-unknown-unknown` in the `wasm-app` profile,
//! linked with its relocations (`--emit-relocs`), split by `wasm-split-cli` at its `#[lazy]`
//! functions (Leptos 0.8's code splitting: what only the admin page and the impact preview use
//! becomes a second module, fetched when first needed), bound by `wasm-bindgen --target web`,
//! shrunk by `wasm-opt -Oz`, and put beside the static shell from `www/`. The service worker's
//! cache is named after a hash of the built files, so that a new build replaces the old shell
//! on the next visit, and it caches the split modules too, so that the admin page opens
//! offline.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, dist, root, run, target_dir, utf8};

const OUT_NAME: &str = "tessera_app";
/// The version of `wasm_split_cli_support` whose `wasm-split-cli` splits the app.
const WASM_SPLIT_VERSION: &str = "0.2.4";

/// Where the site is built.
pub fn site_dir() -> PathBuf {
    root().join(target_dir()).join("site")
}

/// Installs `wasm-split-cli` at its pinned version when it is missing.
pub(crate) fn ensure_wasm_split() -> Result<()> {
    // The tool has no `--version`: cargo's list of what it installed says which one it is.
    let installed = Command::new(cargo())
        .args(["install", "--list"])
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .contains(&format!("wasm_split_cli_support v{WASM_SPLIT_VERSION}:"))
        })
        .unwrap_or(false)
        && Command::new("wasm-split-cli").arg("--help").output().is_ok_and(|out| out.status.success());
    if installed {
        return Ok(());
    }
    run(
        &cargo(),
        [
            "install",
            "--locked",
            "wasm_split_cli_support",
            "--version",
            WASM_SPLIT_VERSION,
            "--features",
            "build-binary",
        ],
    )
}

/// Builds the app and its shell into `target/site/`; returns that directory.
pub fn site() -> Result<PathBuf> {
    crate::ensure_wasm_target()?;
    dist::ensure_wasm_bindgen()?;
    dist::ensure_npm()?;
    ensure_wasm_split()?;
    // The linker keeps its relocations for the split (only the final link needs them).
    run(
        &cargo(),
        [
            "rustc",
            "-p",
            "tessera-app",
            "--lib",
            "--crate-type",
            "cdylib",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-app",
            "--",
            "-C",
            "link-args=--emit-relocs",
        ],
    )?;
    let dir = site_dir();
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot clear `{}`", dir.display()))?;
    }
    let pkg = dir.join("pkg");
    let wasm = root().join(target_dir()).join("wasm32-unknown-unknown/wasm-app/tessera_app.wasm");
    let split = root().join(target_dir()).join("wasm-split");
    if split.exists() {
        fs::remove_dir_all(&split).with_context(|| format!("cannot clear `{}`", split.display()))?;
    }
    run("wasm-split-cli", [utf8(&wasm)?, utf8(&split)?, "--target", "web", "--out-name", OUT_NAME])?;
    let main = split.join(format!("{OUT_NAME}.wasm"));
    run(
        "wasm-bindgen",
        [
            "--target",
            "web",
            "--no-typescript",
            "--keep-lld-exports",
            "--no-demangle",
            "--out-dir",
            utf8(&pkg)?,
            "--out-name",
            OUT_NAME,
            utf8(&main)?,
        ],
    )?;
    // The split modules and their loader go beside the main one.
    let mut lazy = Vec::new();
    for entry in fs::read_dir(&split).with_context(|| format!("cannot read `{}`", split.display()))? {
        let path = entry?.path();
        if path == main || path.is_dir() {
            continue;
        }
        let name = path.file_name().and_then(|name| name.to_str()).context("a split file without a name")?;
        fs::copy(&path, pkg.join(name)).with_context(|| format!("cannot copy `{}`", path.display()))?;
        if name.ends_with(".wasm") {
            dist::wasm_opt(&pkg.join(name), dist::Shrink::Size)?;
        }
        lazy.push(format!("pkg/{name}"));
    }
    lazy.sort();
    let module = pkg.join(format!("{OUT_NAME}_bg.wasm"));
    dist::wasm_opt(&module, dist::Shrink::Size)?;
    let _ = fs::remove_file(pkg.join(".gitignore"));
    copy_tree(&root().join("www"), &dir)?;
    let _ = fs::remove_file(dir.join("README.md"));

    // The service worker's cache name: a hash of everything it caches.
    let mut hash = Fnv::new();
    let shell = ["index.html", "boot.js", "store.js", "app.css", "manifest.webmanifest"];
    let built = [format!("pkg/{OUT_NAME}.js"), format!("pkg/{OUT_NAME}_bg.wasm")];
    for file in shell.iter().map(|file| (*file).to_owned()).chain(built).chain(lazy.iter().cloned()) {
        let path = dir.join(&file);
        hash.write(&fs::read(&path).with_context(|| format!("cannot read `{}`", path.display()))?);
    }
    let worker = dir.join("sw.js");
    let text = fs::read_to_string(&worker).with_context(|| format!("cannot read `{}`", worker.display()))?;
    if !text.contains("__TESSERA_BUILD__") || !text.contains("\"__TESSERA_LAZY__\"") {
        bail!("`www/sw.js` lost its `__TESSERA_BUILD__` or `\"__TESSERA_LAZY__\"` placeholder");
    }
    let lazy_list = lazy.iter().map(|file| format!("\"/{file}\"")).collect::<Vec<_>>().join(", ");
    let text = text
        .replace("__TESSERA_BUILD__", &format!("{:016x}", hash.finish()))
        .replace("\"__TESSERA_LAZY__\"", &lazy_list);
    fs::write(&worker, text).with_context(|| format!("cannot write `{}`", worker.display()))?;

    let (raw, gzip) = dist::sizes(&module)?;
    println!(
        "xtask site: {} (app wasm {raw} bytes raw, {gzip} bytes gzip -9; split off: {})",
        dir.display(),
        lazy.join(", ")
    );
    for file in &lazy {
        let (raw, gzip) = dist::sizes(&dir.join(file))?;
        println!("  {file}: {raw} bytes raw, {gzip} bytes gzip -9");
    }
    Ok(dir)
}

/// `cargo xtask serve [ARGS…]`: builds the site and the CLI, makes a demo key once, imports
/// the demo organisation into the SQLite database `target/demo/tessera.db` on the first run
/// (so the demo's edits survive a restart; delete the file to start afresh), and runs
/// `tessera serve` over it (extra arguments go to it, e.g. `--addr`).
pub fn serve(args: &[String]) -> Result<()> {
    let site = site()?;
    run(&cargo(), ["build", "--release", "-p", "tessera-cli"])?;
    let tessera = root().join(target_dir()).join("release").join("tessera");
    let dir = root().join(target_dir()).join("demo");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let key = dir.join("serve.key");
    if !key.exists() {
        run(utf8(&tessera)?, ["keygen", "--out", utf8(&key)?])?;
    }
    let database = dir.join("tessera.db");
    let url = format!("sqlite:{}", utf8(&database)?);
    if !database.exists() {
        let org = root().join("tests/demo/org.json");
        run(utf8(&tessera)?, ["db", "import", utf8(&org)?, "--database", &url])?;
    }
    let mut command = Command::new(&tessera);
    command
        .args(["serve", "--database", &url, "--content", "tests/demo/content.json", "--key"])
        .arg(&key)
        .arg("--www")
        .arg(&site)
        .args(["--snapshot-issuer", "tessera-demo", "--auth", "demo"]);
    if !args.iter().any(|arg| arg == "--addr" || arg.starts_with("--addr=")) {
        command.args(["--addr", "127.0.0.1:8080"]);
    }
    command.args(args).current_dir(root());
    println!("$ tessera serve … (open the address below; Ctrl-C stops it)");
    let status = command.status().context("cannot run `tessera serve`")?;
    if !status.success() {
        bail!("`tessera serve` failed ({status})");
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create `{}`", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read `{}`", from.display()))? {
        let entry = entry?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            fs::copy(&path, &target).with_context(|| format!("cannot copy `{}`", path.display()))?;
        }
    }
    Ok(())
}

/// FNV-1a, 64 bits: a stable hash without a dependency.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
