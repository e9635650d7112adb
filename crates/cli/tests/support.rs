//! Running the real `tessera` binary in a scratch directory of its own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The demo organisation of the repository (45 users).
pub const DEMO_ORG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/org.json");

/// The demo content: tasks, documents, report and finance rows of the demo's Projects, for search.
pub const DEMO_CONTENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/content.json");

/// A fixed clock for the demo organisation.
pub const NOW: &str = "2026-06-01T09:00:00Z";

/// A directory under the system's temporary directory, removed when dropped. Commands run
/// inside it, so paths in their messages are short and relative.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tessera-cli-{}-{n}-{label}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) {
        fs::write(self.path(name), contents).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap()
    }

    /// Runs `tessera ARGS` in this directory.
    pub fn tessera(&self, args: &[&str]) -> Run {
        run_in(&self.dir, args)
    }

    /// Runs `tessera ARGS` and insists that it succeeds.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.tessera(args);
        assert_eq!(run.code, 0, "tessera {args:?} failed:\n{}{}", run.stdout, run.stderr);
        run
    }

    /// A key pair `k`, `k.pub` and the demo organisation signed at [`NOW`] as `s.json`.
    pub fn signed_demo() -> Scratch {
        let scratch = Scratch::new("demo");
        scratch.ok(&["keygen", "--out", "k"]);
        scratch.ok(&["sign", DEMO_ORG, "--key", "k", "--version", "3", "--out", "s.json", "--now", NOW]);
        scratch
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The one line of stderr, checked to be one line, `error: `-prefixed, and no panic.
    pub fn error_line(&self) -> &str {
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let line = self.stderr.strip_suffix('\n').unwrap_or(&self.stderr);
        assert!(!line.contains('\n'), "more than one line on stderr:\n{}", self.stderr);
        assert!(line.starts_with("error: "), "{line}");
        line
    }
}

fn run_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).current_dir(dir).output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}
