//! What the tests share: the demo's files and scratch directories.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The demo organisation of the repository (45 users).
pub const DEMO_ORG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/org.json");

/// The demo content: tasks, documents, report and finance rows of the demo's Projects.
pub const DEMO_CONTENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/content.json");

/// A directory under the system's temporary directory, removed when dropped.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tessera-server-{}-{n}-{label}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
