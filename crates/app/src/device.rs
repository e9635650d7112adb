//! What the app keeps on the device, and where.
//!
//! - IndexedDB (`www/store.js`), for what may be large: each user's last good snapshot and its
//!   ETag and confirmation (a network administrator's is megabytes at 100,000 users, past local
//!   storage's quota), and each user's search cache.
//! - Local storage, for what is small and read synchronously: the rollback floors, the keys,
//!   the last user, standing refusals, the users who signed in here (the offline sign-in).
//!
//! The core's trust machine asks for storage synchronously ([`Device`]) and IndexedDB answers
//! later, so the stored copy of a user's snapshot is read first ([`preload`]) into a mirror
//! that the machine then reads; what it stores goes to the mirror at once and to IndexedDB
//! behind it (one transaction per write, in order). A snapshot small enough
//! ([`LOCAL_COPY_MAX`], most people's) is also copied to local storage, which is read without
//! waiting: IndexedDB is where snapshots are kept, the copy only spares a return visit its
//! wait for IndexedDB (both are verified the same way when read). Every failure to store is said on screen
//! ([`Problem`]): a device that cannot keep a snapshot is not offline-ready, and the person
//! should know.

use std::cell::RefCell;
use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser;
use crate::session::DemoUser;
use crate::trust::{Device, meta_key, snapshot_key};

/// In local storage: the users who signed in on this device, newest first, for the offline
/// sign-in.
const KNOWN_USERS_KEY: &str = "tessera.known-users";
/// How many users the offline sign-in remembers.
const KNOWN_USERS_MAX: usize = 50;
/// The Cache Storage cache that held one search cache for every user of the device, before
/// search caches were per user: deleted at start.
pub const LEGACY_SEARCH_CACHE: &str = "tessera-search-v1";

/// In IndexedDB: `user`'s search cache.
pub fn search_key(user: &str) -> String {
    format!("tessera.search.{user}")
}

/// The largest snapshot (in characters) copied to local storage as well as IndexedDB: a general
/// user's at the large organisation is under a million, an administrator's several million,
/// and local storage holds about five for everything.
pub const LOCAL_COPY_MAX: usize = 1_000_000;

/// Whether `key` is kept in IndexedDB rather than local storage.
fn in_db(key: &str) -> bool {
    key.starts_with("tessera.snapshot.") || key.starts_with("tessera.snapshot-meta.")
}

/// In local storage: that IndexedDB holds `key` (written when it answered the write), so that
/// a first visit, which holds nothing, need not wait for IndexedDB to say so before it fetches.
fn kept_key(key: &str) -> String {
    format!("tessera.kept.{key}")
}

thread_local! {
    /// What IndexedDB holds for the current user's snapshot, as read by [`preload`] and
    /// written since.
    static MIRROR: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

/// A storage failure, for the status line: what could not be kept, and why.
#[derive(Debug, Clone, Copy)]
pub struct Problem(pub RwSignal<Option<String>>);

impl Problem {
    fn report(self, what: &str, error: &browser::BrowserError) {
        self.0.set(Some(format!(
            "This device could not keep {what} ({}): the app works while online, but may not start offline.",
            error.0
        )));
    }

    /// IndexedDB answered a write: a problem said before is over.
    fn cleared(self) {
        if self.0.with_untracked(Option::is_some) {
            self.0.set(None);
        }
    }
}

/// The device as the trust machine sees it: the mirror of IndexedDB for snapshots, local
/// storage for the rest.
#[derive(Debug, Clone, Copy)]
pub struct Stored(pub Problem);

impl Device for Stored {
    fn load(&self, key: &str) -> Option<String> {
        if in_db(key) {
            return MIRROR.with_borrow(|mirror| mirror.get(key).cloned());
        }
        browser::load(key)
    }

    fn store(&self, key: &str, value: &str) {
        if in_db(key) {
            MIRROR.with_borrow_mut(|mirror| mirror.insert(key.to_owned(), value.to_owned()));
            // The quick copy: kept while small, and never left behind an older value.
            if value.len() > LOCAL_COPY_MAX || !browser::store(key, value) {
                browser::remove(key);
            }
            let (key, value, problem) = (key.to_owned(), value.to_owned(), self.0);
            spawn_local(async move {
                match browser::db_set(&key, &value).await {
                    Ok(()) => {
                        browser::store(&kept_key(&key), "1");
                        problem.cleared();
                    }
                    Err(error) => problem.report("your policy snapshot for offline use", &error),
                }
            });
            return;
        }
        if !browser::store(key, value) {
            self.0.report(
                "what it needs to check snapshots",
                &browser::BrowserError("local storage refused it".into()),
            );
        }
    }

    fn remove(&self, key: &str) {
        if in_db(key) {
            MIRROR.with_borrow_mut(|mirror| mirror.remove(key));
            browser::remove(key);
            browser::remove(&kept_key(key));
            let key = key.to_owned();
            spawn_local(async move {
                let _ = browser::db_delete(&key).await;
            });
            return;
        }
        browser::remove(key);
    }
}

/// Reads `user`'s stored snapshot and its meta into the mirror (forgetting any other user's),
/// so that the trust machine finds them: from the quick copy in local storage when there is
/// one, else from IndexedDB. Online, a user this device never kept a snapshot of (a first
/// visit) is not waited for: IndexedDB's answer, nothing, would only delay the first fetch.
/// Offline, IndexedDB is always asked. A read that fails is reported, and leaves nothing stored
/// for the machine.
pub async fn preload(user: &str, problem: Problem) {
    MIRROR.with_borrow_mut(HashMap::clear);
    let keys = [snapshot_key(user), meta_key(user)];
    // The quick copy is read once: it is most of a general user's start (0.8 M characters at
    // 100,000 people, converted as they are read).
    let quick = browser::load(&keys[0]);
    let never_kept = quick.is_none() && browser::load(&kept_key(&keys[0])).is_none();
    if never_kept && browser::online() {
        for key in keys {
            // The boot script's read is taken all the same, so that it is not kept in memory;
            // a snapshot stored before these marks were written gets its mark for next time.
            spawn_local(async move {
                if let Ok(Some(_)) = browser::db_take(&key).await {
                    browser::store(&kept_key(&key), "1");
                }
            });
        }
        return;
    }
    if let Some(snapshot) = quick {
        let meta = browser::load(&keys[1]);
        for (key, value) in keys.into_iter().zip([Some(snapshot), meta]) {
            if let Some(value) = value {
                MIRROR.with_borrow_mut(|mirror| mirror.insert(key.clone(), value));
            }
            // The boot script's read is taken all the same, so that it is not kept in memory.
            spawn_local(async move {
                let _ = browser::db_take(&key).await;
            });
        }
        return;
    }
    for key in keys {
        match browser::db_take(&key).await {
            Ok(Some(value)) => {
                MIRROR.with_borrow_mut(|mirror| mirror.insert(key, value));
            }
            Ok(None) => {}
            Err(error) => problem.report("your policy snapshot for offline use", &error),
        }
    }
}

/// Whether this device holds a snapshot of `user` (the offline sign-in offers them).
pub async fn holds_snapshot(user: &str) -> bool {
    let key = snapshot_key(user);
    matches!(browser::db_get(&key).await, Ok(Some(_))) || browser::load(&key).is_some()
}

/// Forgets what this device keeps of `user` (their sign-out): their snapshot and its meta,
/// their search cache, and their place in the offline sign-in. The rollback floors stay, so
/// that signing in again cannot be rolled back.
pub async fn forget(user: &str) {
    MIRROR.with_borrow_mut(HashMap::clear);
    for key in [snapshot_key(user), meta_key(user)] {
        browser::remove(&key);
        browser::remove(&kept_key(&key));
        let _ = browser::db_delete(&key).await;
    }
    let _ = browser::db_delete(&search_key(user)).await;
    let known: Vec<DemoUser> = known_users().into_iter().filter(|known| known.id != user).collect();
    if let Ok(json) = serde_json::to_string(&known) {
        browser::store(KNOWN_USERS_KEY, &json);
    }
}

/// The users who signed in on this device, newest first.
pub fn known_users() -> Vec<DemoUser> {
    browser::load(KNOWN_USERS_KEY).and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default()
}

/// Remembers that `user` signed in on this device.
pub fn remember_user(user: DemoUser) {
    let mut known = known_users();
    known.retain(|known| known.id != user.id);
    known.insert(0, user);
    known.truncate(KNOWN_USERS_MAX);
    if let Ok(json) = serde_json::to_string(&known) {
        browser::store(KNOWN_USERS_KEY, &json);
    }
}
