//! The API described and attacked through its description: `cargo xtask test`'s last phase.
//!
//! The `tessera` binary the tests built serves the demo organisation from a SQLite file of its
//! own (`--auth demo`, rate limits lifted so that the fuzzer measures the server rather than its
//! limits); its `GET /api/openapi.json` is checked by `openapi-spec-validator`, then Schemathesis
//! (both from PyPI, in `target/venv`) sends every operation generated requests, signed in as a
//! Client with few rights and as a network administrator, and checks every answer against the
//! description: no 5xx, no status, content type, header or body outside it, no request left
//! unanswered past the timeout.
//!
//! Two of Schemathesis's checks are left out, and why: `positive_data_acceptance` and
//! `negative_data_rejection` hold the description to every rule the server validates by, and
//! some of ours are not JSON Schema's to say (ids that must exist, edits and queries described as
//! open objects whose kinds `docs/decisions.md` lists, lengths counted in bytes where JSON
//! Schema counts characters).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::net::{http, sign_in};
use crate::{root, run, target_dir, utf8};

/// Schemathesis and the validator, pinned.
const PACKAGES: [&str; 2] = ["schemathesis==4.32.5", "openapi-spec-validator==0.9.0"];
/// Examples per operation and user: about a thousand requests a run, some 20 s each.
const EXAMPLES: &str = "10";

fn venv() -> PathBuf {
    root().join(target_dir()).join("venv")
}

/// The Python tools in `target/venv`, installed when missing.
pub fn ensure_tools() -> Result<()> {
    let bin = venv().join("bin");
    let installed = PACKAGES.iter().all(|package| {
        let (name, version) = package.split_once("==").unwrap_or((package, ""));
        Command::new(bin.join("pip"))
            .args(["show", name])
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(&format!("Version: {version}")))
    });
    if installed {
        return Ok(());
    }
    run("python3", ["-m", "venv", utf8(&venv())?])?;
    let pip = bin.join("pip");
    let mut args = vec!["install", "--quiet", "--disable-pip-version-check"];
    args.extend(PACKAGES);
    run(utf8(&pip)?, args)
}

/// A `tessera serve` of the demo organisation on a port of its own, killed when dropped.
struct Served {
    child: Child,
    address: String,
    dir: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(tessera: &Path) -> Result<Served> {
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("tessera-api-fuzz-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let key = dir.join("fuzz.key");
    let database = format!("sqlite:{}", utf8(&dir.join("fuzz.db"))?);
    let tessera_text = utf8(tessera)?;
    run(tessera_text, ["keygen", "--out", utf8(&key)?])?;
    run(tessera_text, ["db", "import", "tests/demo/org.json", "--database", &database])?;
    let mut child = Command::new(tessera)
        .args(["serve", "--auth", "demo", "--addr", "127.0.0.1:0", "--database", &database])
        .args(["--content", "tests/demo/content.json", "--key"])
        .arg(&key)
        .args([
            "--search-rate",
            "100000",
            "--check-rate",
            "100000",
            "--admin-rate",
            "100000",
            "--action-rate",
            "100000",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start tessera serve")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some(line) = lines.next() else { break };
        let line = line.context("cannot read tessera serve's output")?;
        if let Some(address) = line.strip_prefix("tessera serve: listening on http://") {
            // Keep draining its output so that it never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(Served { child, address: address.to_owned(), dir });
        }
    }
    let _ = child.kill();
    bail!("tessera serve did not listen")
}

/// The phase: see the module docs.
pub fn check(tessera: &Path) -> Result<()> {
    ensure_tools()?;
    let served = serve(tessera)?;
    let base = format!("http://{}", served.address);
    let (status, _, description) = http(&served.address, "GET", "/api/openapi.json", &[], "")?;
    if status != 200 {
        bail!("GET /api/openapi.json answered {status}");
    }
    let path = served.dir.join("openapi.json");
    std::fs::write(&path, &description).with_context(|| format!("cannot write `{}`", path.display()))?;
    let bin = venv().join("bin");
    run(utf8(&bin.join("openapi-spec-validator"))?, [utf8(&path)?])?;
    let seed =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() % 100_000).unwrap_or(1).to_string();
    let signed_in = sign_in(&served.address, &["u-cleo".to_owned(), "u-ellen".to_owned()])?;
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or(seed);
    // One Schemathesis per user, side by side, each on one thread: with `--workers 2`, its
    // threads parse Python source at once and CPython 3.11 fails now and then ("AST constructor
    // recursion depth mismatch"), a failure of the tool rather than of the server. Each writes
    // to a log of its own, printed whole when it ends.
    let runs = signed_in
        .iter()
        .map(|(user, token)| {
            println!("xtask: Schemathesis as {user}, seed {seed} (repeat with SCHEMATHESIS_SEED={seed})");
            let report = served.dir.join(format!("schemathesis-{user}"));
            let log = served.dir.join(format!("schemathesis-{user}.log"));
            let output =
                std::fs::File::create(&log).with_context(|| format!("cannot write `{}`", log.display()))?;
            let child = Command::new(bin.join("schemathesis"))
                .args(["run", &format!("{base}/api/openapi.json"), "--header"])
                .arg(format!("Authorization: Bearer {token}"))
                .args([
                    "--checks",
                    "all",
                    "--exclude-checks",
                    "positive_data_acceptance,negative_data_rejection",
                ])
                .args([
                    "--max-examples",
                    EXAMPLES,
                    "--seed",
                    &seed,
                    "--request-timeout",
                    "10",
                    "--workers",
                    "1",
                ])
                .args(["--no-color", "--generation-database", "none", "--report-dir"])
                .arg(&report)
                .stdout(output.try_clone().context("the log")?)
                .stderr(output)
                // Its cache (`.schemathesis/`) in the run's own directory, not the checkout.
                .current_dir(&served.dir)
                .spawn()
                .context("cannot run schemathesis")?;
            Ok((user.clone(), log, child))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut failed = Vec::new();
    for (user, log, mut child) in runs {
        let status = child.wait().context("schemathesis")?;
        println!("$ schemathesis run … (as {user})");
        print!("{}", std::fs::read_to_string(&log).unwrap_or_default());
        if !status.success() {
            failed.push(user);
        }
    }
    if !failed.is_empty() {
        bail!("Schemathesis found failures as {}", failed.join(" and "));
    }
    Ok(())
}
