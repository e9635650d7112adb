//! What the tests share: the demo's files and scratch directories.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tessera_core::{Org, SecretKey, Timestamp};
use tessera_server::identity::AuthConfig;
use tessera_server::{Clock, Config, Tuning};

/// The demo organisation of the repository (45 users).
pub const DEMO_ORG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/org.json");

/// The demo content: tasks, documents, report and finance rows of the demo's Projects.
pub const DEMO_CONTENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/content.json");

/// 2026-06-01T09:00:00Z, the demo's clock.
pub const T0: i64 = 1_780_304_400;

/// The demo organisation.
pub fn demo_org() -> Org {
    serde_json::from_str(&std::fs::read_to_string(DEMO_ORG).unwrap()).unwrap()
}

/// A server of the demo organisation, identifying callers by `auth`: a fixed key, no content,
/// no static files, the clock stopped at [`T0`], the default cache and limits.
pub fn config(auth: AuthConfig) -> Config {
    Config {
        org: demo_org(),
        key: SecretKey::from_bytes([9; 32]),
        issuer: "tessera".to_owned(),
        ttl_seconds: 7 * 24 * 3600,
        content: Vec::new(),
        www: None,
        clock: Clock::from_fn(|| Timestamp::from_unix(T0)),
        tuning: Tuning::default(),
        request_timeout: Duration::from_secs(30),
        auth,
    }
}

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
