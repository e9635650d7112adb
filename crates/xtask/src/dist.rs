//! `cargo xtask dist`: the npm package `tessera-policy`, built into `target/npm/tessera-policy/`
//! and packed into `target/npm/tessera-policy-VERSION.tgz`.
//!
//! One wasm build, bound three ways by `wasm-bindgen` (`web`, `bundler`, `nodejs`), each
//! shrunk by `wasm-opt -Oz` from the npm package `binaryen` (Debian's binaryen is too old and
//! silently breaks modules), with `crates/wasm/js/fast.js` (questions about Projects answered
//! from sets each view keeps) appended to the JavaScript that declares the classes. A
//! `package.json` whose `exports` put `types` first, the package README and the licence are
//! written next to them, with the client (`tessera-policy/client`: `crates/wasm/js/client.js`
//! and its hand-written types `client.d.ts`) and the React, Vue and Svelte bindings
//! (`crates/wasm/js/`, each its own entry, its framework an optional peer dependency).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, root, run, target_dir};

/// The wasm-bindgen CLI must match the `wasm-bindgen` crate exactly.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

const PACKAGE: &str = "tessera-policy";
const OUT_NAME: &str = "tessera_policy";

/// The three bindings: wasm-bindgen's target name, and the folder it goes to.
const BINDINGS: [(&str, &str); 3] = [("web", "web"), ("bundler", "bundler"), ("nodejs", "node")];

/// The React, Vue and Svelte bindings (`tessera-policy/react`, `/vue`, `/svelte`) and the store
/// contract their types share, copied from `crates/wasm/js/` as they are.
const BINDING_FILES: [&str; 7] =
    ["react.js", "react.d.ts", "vue.js", "vue.d.ts", "svelte.js", "svelte.d.ts", "store.d.ts"];

/// What `dist` built.
pub struct Dist {
    /// The `npm pack` tarball.
    pub tarball: PathBuf,
}

/// Installs the wasm-bindgen CLI when the one on PATH is missing or another version.
pub fn ensure_wasm_bindgen() -> Result<()> {
    let installed = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains(WASM_BINDGEN_VERSION))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    // No --locked: with it, the install fails here on a missing webpki-roots version.
    run(&cargo(), ["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN_VERSION])
}

/// Installs the pinned JavaScript tools (`npm ci`) when `node_modules` is missing or stale.
pub fn ensure_npm() -> Result<()> {
    let lock = root().join("package-lock.json");
    let installed = root().join("node_modules/.package-lock.json");
    let fresh = match (
        fs::metadata(&lock).and_then(|m| m.modified()),
        fs::metadata(&installed).and_then(|m| m.modified()),
    ) {
        (Ok(lock), Ok(installed)) => installed >= lock,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    run("npm", ["ci", "--no-audit", "--no-fund"])
}

/// A tool from the pinned JavaScript tooling.
pub fn node_bin(name: &str) -> String {
    root().join("node_modules/.bin").join(name).display().to_string()
}

pub fn dist() -> Result<Dist> {
    crate::ensure_wasm_target()?;
    ensure_wasm_bindgen()?;
    ensure_npm()?;
    let npm_dir = root().join(target_dir()).join("npm");
    let dir = npm_dir.join(PACKAGE);
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot clear `{}`", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let version = package_version()?;

    // The default build, small (within its size budget), and the full one, fast (impact
    // analysis, what would grant, and snapshots read as a stream, for apps that want them),
    // each bound three ways.
    let builds = [
        (None, "wasm-release", Shrink::Size, dir.clone()),
        (Some("impact,stream"), "wasm-fast", Shrink::Speed, dir.join("full")),
    ];
    for (features, profile, shrink, folder) in builds {
        let mut args =
            vec!["build", "-p", "tessera-wasm", "--target", "wasm32-unknown-unknown", "--profile", profile];
        if let Some(features) = features {
            args.extend(["--features", features]);
        }
        run(&cargo(), args)?;
        let wasm =
            root().join(target_dir()).join(format!("wasm32-unknown-unknown/{profile}/tessera_wasm.wasm"));
        bind(&wasm, &folder, shrink)?;
    }
    // TypeScript's node10 resolver finds `tessera-policy/full` through this.
    write(
        &dir.join("full/package.json"),
        &format!("{{\n  \"main\": \"./node/{OUT_NAME}.js\",\n  \"types\": \"./node/{OUT_NAME}.d.ts\"\n}}\n"),
    )?;

    // The framework bindings, hand-written ESM with their types, at the package's root (where
    // TypeScript's node10 resolver finds `tessera-policy/react` without a folder of its own).
    for file in BINDING_FILES {
        copy(&root().join("crates/wasm/js").join(file), &dir.join(file))?;
    }

    // The client (`tessera-policy/client`): hand-written JavaScript and types over the main
    // entry's `PolicyTrust`, which holds the rules of trust.
    let client = dir.join("client");
    fs::create_dir_all(&client).with_context(|| format!("cannot create `{}`", client.display()))?;
    copy(&root().join("crates/wasm/js/client.js"), &client.join("index.js"))?;
    copy(&root().join("crates/wasm/js/client.d.ts"), &client.join("index.d.ts"))?;
    write(
        &client.join("package.json"),
        "{\n  \"type\": \"module\",\n  \"main\": \"./index.js\",\n  \"types\": \"./index.d.ts\"\n}\n",
    )?;

    write(&dir.join("package.json"), &package_json(&version))?;
    copy(&root().join("crates/wasm/README.md"), &dir.join("README.md"))?;
    copy(&root().join("LICENSE"), &dir.join("LICENSE"))?;

    let tarball = npm_dir.join(format!("{PACKAGE}-{version}.tgz"));
    let _ = fs::remove_file(&tarball);
    let status = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(&npm_dir)
        .current_dir(&dir)
        .status()
        .context("cannot run `npm pack`")?;
    if !status.success() || !tarball.exists() {
        bail!("`npm pack` did not write `{}`", tarball.display());
    }
    report_sizes(&dir, "tessera-policy")?;
    report_sizes(&dir.join("full"), "tessera-policy/full")?;
    let (raw, gzip) = sizes(&client.join("index.js"))?;
    println!("tessera-policy/client: {raw} bytes raw, {gzip} bytes gzip -9 (unminified, without idb-keyval)");
    println!("xtask dist: {}", tarball.display());
    Ok(Dist { tarball })
}

/// What `wasm-opt` optimises a module for.
#[derive(Clone, Copy)]
pub enum Shrink {
    /// `-Oz`.
    Size,
    /// `-O3`.
    Speed,
}

/// Binds `wasm` three ways into `dir` (`web`, `bundler`, `node`), each optimised by `wasm-opt`
/// (the three at once: binaryen's `wasm-opt` from npm runs on one core, for tens of seconds).
fn bind(wasm: &Path, dir: &Path, shrink: Shrink) -> Result<()> {
    let modules: Vec<PathBuf> = BINDINGS
        .iter()
        .map(|(target, folder)| {
            let out = dir.join(folder);
            run(
                "wasm-bindgen",
                [
                    "--target",
                    target,
                    "--out-dir",
                    &out.display().to_string(),
                    "--out-name",
                    OUT_NAME,
                    &wasm.display().to_string(),
                ],
            )?;
            Ok(out.join(format!("{OUT_NAME}_bg.wasm")))
        })
        .collect::<Result<_>>()?;
    std::thread::scope(|scope| {
        let optimising: Vec<_> =
            modules.iter().map(|module| scope.spawn(move || wasm_opt(module, shrink))).collect();
        optimising.into_iter().try_for_each(|handle| {
            handle.join().map_err(|_| anyhow::anyhow!("wasm-opt's thread panicked"))?
        })
    })?;
    for (target, folder) in BINDINGS {
        let out = dir.join(folder);
        // Each folder says how Node reads its `.js` files, and where an old resolver (TypeScript's
        // node10) finds the subpath's entry.
        let kind = if target == "nodejs" { "commonjs" } else { "module" };
        write(
            &out.join("package.json"),
            &format!(
                "{{\n  \"type\": \"{kind}\",\n  \"main\": \"./{OUT_NAME}.js\",\n  \"types\": \"./{OUT_NAME}.d.ts\"\n}}\n"
            ),
        )?;
        // wasm-bindgen's types name `Symbol.dispose`: say which lib declares it, so that a
        // consumer's `lib` setting does not have to.
        let types = out.join(format!("{OUT_NAME}.d.ts"));
        let text =
            fs::read_to_string(&types).with_context(|| format!("cannot read `{}`", types.display()))?;
        write(&types, &format!("/// <reference lib=\"esnext.disposable\" />\n{text}"))?;
        // The fast path for questions about Projects goes where the classes are declared.
        let glue = out.join(if target == "bundler" {
            format!("{OUT_NAME}_bg.js")
        } else {
            format!("{OUT_NAME}.js")
        });
        let text = fs::read_to_string(&glue).with_context(|| format!("cannot read `{}`", glue.display()))?;
        // It uses the glue's `wasm` (the module's exports) and its classes: a wasm-bindgen that
        // named them otherwise must fail here, not in an app.
        for declared in ["let wasm", "class PolicyEngine", "class UserView"] {
            if !text.contains(declared) {
                bail!("`{}` has no `{declared}`: crates/wasm/js/fast.js needs it", glue.display());
            }
        }
        let fast = fs::read_to_string(root().join("crates/wasm/js/fast.js"))
            .context("cannot read crates/wasm/js/fast.js")?;
        write(&glue, &format!("{text}{fast}"))?;
        // wasm-bindgen writes a .gitignore meant for publishing from git; npm pack would read it.
        let _ = fs::remove_file(out.join(".gitignore"));
    }
    Ok(())
}

/// Optimises `module` in place with `wasm-opt` from the pinned npm package `binaryen`. The
/// result is kept under `target/wasm-opt/`, named by a hash of the module and the flags, so that
/// a build that did not change is not optimised again (binaryen's `wasm-opt` from npm takes tens
/// of seconds a module).
pub fn wasm_opt(module: &Path, shrink: Shrink) -> Result<()> {
    use sha2::Digest as _;
    let input = fs::read(module).with_context(|| format!("cannot read `{}`", module.display()))?;
    let mut hasher = sha2::Sha256::new();
    hasher.update(match shrink {
        Shrink::Size => b"size".as_slice(),
        Shrink::Speed => b"speed".as_slice(),
    });
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(&input);
    let digest: String = hasher.finalize().iter().take(16).map(|byte| format!("{byte:02x}")).collect();
    let cache = root().join(target_dir()).join("wasm-opt");
    let kept = cache.join(format!("{digest}.wasm"));
    if kept.exists() {
        println!("$ wasm-opt {}  # unchanged: the last result, from {}", module.display(), kept.display());
        fs::copy(&kept, module).with_context(|| format!("cannot copy `{}`", kept.display()))?;
        return Ok(());
    }
    optimise(module, shrink)?;
    fs::create_dir_all(&cache).with_context(|| format!("cannot create `{}`", cache.display()))?;
    // Written under another name first, so that a run stopped midway leaves no half a module.
    let partial = cache.join(format!("{digest}.partial"));
    fs::copy(module, &partial).with_context(|| format!("cannot write `{}`", partial.display()))?;
    fs::rename(&partial, &kept).with_context(|| format!("cannot write `{}`", kept.display()))?;
    Ok(())
}

/// [`wasm_opt`] itself.
fn optimise(module: &Path, shrink: Shrink) -> Result<()> {
    let module = module.display().to_string();
    // The features rustc enables by default for wasm32-unknown-unknown: binaryen must be told,
    // since the target-features section does not survive stripping.
    let level = match shrink {
        Shrink::Size => ["-Oz", "-ocimfs", "-1"],
        // Functions with one caller are left where rustc put them (binaryen would fold any of
        // them into its caller): V8 optimises a function's code in the background and swaps it
        // in only at its next call, so a function the loader calls once per Project or per user
        // must not be folded into the one call that loops over them all, which would then run
        // unoptimised for the whole of a first load, and be compiled again, all of it, for the
        // next. (`-ocimfs 500` still folded the per-user reader; a first medium load spent
        // 208 ms of compiler threads' time against 89 ms without.)
        Shrink::Speed => ["-O3", "-ocimfs", "0"],
    };
    run(
        &node_bin("wasm-opt"),
        [
            level[0],
            level[1],
            level[2],
            "--enable-bulk-memory",
            "--enable-bulk-memory-opt",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-reference-types",
            "--enable-multivalue",
            "--strip-debug",
            "--strip-producers",
            &module,
            "-o",
            &module,
        ],
    )
}

/// The size of a file, raw and compressed by `gzip -9`.
pub fn sizes(path: &Path) -> Result<(u64, usize)> {
    let raw = fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?.len();
    let gzip =
        Command::new("gzip").args(["-9", "-c"]).arg(path).output().map(|out| out.stdout.len()).unwrap_or(0);
    Ok((raw, gzip))
}

/// The version of the wasm crate, which is the package's.
fn package_version() -> Result<String> {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).context("cannot read Cargo.toml")?;
    let in_package = manifest.split("[workspace.package]").nth(1).context("no [workspace.package]")?;
    let line = in_package
        .lines()
        .find(|line| line.trim_start().starts_with("version"))
        .context("no workspace version")?;
    let version = line.split('"').nth(1).context("the workspace version is not a string")?;
    Ok(version.to_owned())
}

fn package_json(version: &str) -> String {
    format!(
        r#"{{
  "name": "{PACKAGE}",
  "version": "{version}",
  "description": "Verified, offline permission decisions for browser apps: the Tessera policy evaluator, compiled to WebAssembly.",
  "license": "MIT",
  "keywords": ["authorization", "permissions", "policy", "offline", "webassembly", "wasm"],
  "type": "module",
  "main": "./node/{OUT_NAME}.js",
  "types": "./node/{OUT_NAME}.d.ts",
  "module": "./bundler/{OUT_NAME}.js",
  "exports": {{
    ".": {{
      "node": {{
        "types": "./node/{OUT_NAME}.d.ts",
        "default": "./node/{OUT_NAME}.js"
      }},
      "types": "./bundler/{OUT_NAME}.d.ts",
      "default": "./bundler/{OUT_NAME}.js"
    }},
    "./web": {{
      "types": "./web/{OUT_NAME}.d.ts",
      "default": "./web/{OUT_NAME}.js"
    }},
    "./bundler": {{
      "types": "./bundler/{OUT_NAME}.d.ts",
      "default": "./bundler/{OUT_NAME}.js"
    }},
    "./node": {{
      "types": "./node/{OUT_NAME}.d.ts",
      "default": "./node/{OUT_NAME}.js"
    }},
    "./full": {{
      "node": {{
        "types": "./full/node/{OUT_NAME}.d.ts",
        "default": "./full/node/{OUT_NAME}.js"
      }},
      "types": "./full/bundler/{OUT_NAME}.d.ts",
      "default": "./full/bundler/{OUT_NAME}.js"
    }},
    "./full/web": {{
      "types": "./full/web/{OUT_NAME}.d.ts",
      "default": "./full/web/{OUT_NAME}.js"
    }},
    "./react": {{
      "types": "./react.d.ts",
      "default": "./react.js"
    }},
    "./vue": {{
      "types": "./vue.d.ts",
      "default": "./vue.js"
    }},
    "./svelte": {{
      "types": "./svelte.d.ts",
      "default": "./svelte.js"
    }},
    "./client": {{
      "types": "./client/index.d.ts",
      "default": "./client/index.js"
    }},
    "./package.json": "./package.json"
  }},
  "files": [
    "web/",
    "bundler/",
    "node/",
    "full/",
    "react.js",
    "react.d.ts",
    "vue.js",
    "vue.d.ts",
    "svelte.js",
    "svelte.d.ts",
    "store.d.ts",
    "client/",
    "README.md",
    "LICENSE"
  ],
  "sideEffects": [
    "./bundler/{OUT_NAME}.js",
    "./bundler/{OUT_NAME}_bg.js",
    "./full/bundler/{OUT_NAME}.js",
    "./full/bundler/{OUT_NAME}_bg.js"
  ],
  "dependencies": {{
    "idb-keyval": "^6.2.1"
  }},
  "peerDependencies": {{
    "react": "^18.0.0 || ^19.0.0",
    "svelte": "^4.0.0 || ^5.0.0",
    "vue": "^3.3.0"
  }},
  "peerDependenciesMeta": {{
    "react": {{ "optional": true }},
    "svelte": {{ "optional": true }},
    "vue": {{ "optional": true }}
  }},
  "engines": {{
    "node": ">=18"
  }}
}}
"#
    )
}

/// Prints the size of the WebAssembly module, raw and gzipped.
fn report_sizes(dir: &Path, entry: &str) -> Result<()> {
    let (raw, gzip) = sizes(&dir.join("web").join(format!("{OUT_NAME}_bg.wasm")))?;
    println!("{entry}: {raw} bytes raw, {gzip} bytes gzip -9");
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).map(|_| ()).with_context(|| format!("cannot copy `{}`", from.display()))
}
