//! A throwaway PostgreSQL server for the tests: Debian's `postgresql` (installed when missing),
//! a cluster made in a fresh temporary directory, listening on 127.0.0.1 on a free port, stopped
//! and removed when the [`Cluster`] is dropped.
//!
//! PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user and
//! its commands run through `runuser`. Durability is off (`fsync`, `synchronous_commit`,
//! `full_page_writes`): the cluster lives for one test run.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A running cluster; stopped and removed on drop.
pub(crate) struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
    port: u16,
}

impl Cluster {
    /// A script that stops (`ctl stop`) or starts (`ctl start`) the cluster.
    pub(crate) fn ctl(&self) -> PathBuf {
        self.dir.join("ctl")
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

/// Installs PostgreSQL if it is missing, then makes and starts a cluster.
pub(crate) fn start_cluster() -> Result<Cluster> {
    let bin = match installed() {
        Some(bin) => bin,
        None => {
            crate::apt_install(&["postgresql"])?;
            installed().context("PostgreSQL is still missing after `apt-get install postgresql`")?
        }
    };
    let as_postgres = is_root();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("tessera-postgres-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    if as_postgres {
        let status =
            Command::new("chown").arg("postgres:postgres").arg(&dir).status().context("cannot run chown")?;
        if !status.success() {
            bail!("cannot give `{}` to the postgres user ({status})", dir.display());
        }
    }
    let port = free_port()?;
    // From here on, dropping the cluster cleans up whatever was made.
    let cluster = Cluster { bin, dir, as_postgres, port };
    let dir = utf8(&cluster.dir)?;
    cluster.run("initdb", &["-D", dir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])?;
    let options = format!(
        "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    );
    let log = format!("{dir}/server.log");
    cluster.run("pg_ctl", &["-D", dir, "-l", &log, "-o", &options, "-w", "start"])?;
    // The outage test stops and starts the cluster with this.
    let pg_ctl = cluster.bin.join("pg_ctl");
    let pg_ctl = utf8(&pg_ctl)?;
    let prefix = if cluster.as_postgres { "runuser -u postgres -- " } else { "" };
    let script = format!(
        "#!/bin/sh\n# Stops or starts the tests' PostgreSQL cluster: ctl stop | ctl start\ncase \"$1\" in\n  stop) exec {prefix}{pg_ctl} -D '{dir}' -m fast -w stop ;;\n  start) exec {prefix}{pg_ctl} -D '{dir}' -l '{log}' -o '{options}' -w start ;;\n  *) echo \"usage: $0 stop|start\" >&2; exit 2 ;;\nesac\n"
    );
    std::fs::write(cluster.ctl(), script).context("cannot write the cluster's control script")?;
    println!("xtask: PostgreSQL on {}", cluster.url());
    Ok(cluster)
}

impl Cluster {
    /// Runs one of PostgreSQL's programs, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output =
            command.args(args).output().with_context(|| format!("cannot run `{}`", program.display()))?;
        if !output.status.success() {
            bail!(
                "`{} {}` failed ({}):\n{}{}",
                program.display(),
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(dir) = utf8(&self.dir) {
            if self.dir.join("postmaster.pid").exists() {
                if let Err(error) = self.run("pg_ctl", &["-D", dir, "-m", "immediate", "-w", "stop"]) {
                    eprintln!("xtask: cannot stop PostgreSQL: {error:#}");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory of the newest PostgreSQL installed by Debian's packages, if any.
/// Whether Debian's PostgreSQL is installed.
pub(crate) fn is_installed() -> bool {
    installed().is_some()
}

fn installed() -> Option<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            Some((entry.file_name().to_str()?.parse::<u32>().ok()?, entry.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|out| out.stdout.trim_ascii() == b"0").unwrap_or(false)
}

/// A port nobody listens on now (the cluster takes it a moment later).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr().context("cannot read the port")?.port())
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("`{}` is not valid UTF-8", path.display()))
}
