//! The app's state and the work that changes it: signing in, fetching and verifying the
//! snapshot, refusing a bad one, keeping the highest version, and the search cache.
//!
//! Everything rendered reads [`AppState::ready`]: a snapshot that passed [`crate::trust`] for
//! the signed-in user, with no refusal standing. Whenever that is `None` the page shows no data
//! and no actions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use tessera_core::{Snapshot, Timestamp, TrustedKeys};

use crate::browser;
use crate::search::{self, Cache, Item};
use crate::trust::{self, Refusal};

/// How often the app asks for a new snapshot while open (it also asks on focus and when the
/// browser comes back online).
pub const POLL: Duration = Duration::from_secs(60);

const USER_KEY: &str = "tessera.user";
const USERS_KEY: &str = "tessera.users";
const KEYS_KEY: &str = "tessera.keys";
const HIGHEST_KEY: &str = "tessera.highest-versions";
const EXPLAIN_KEY: &str = "tessera.explain";

fn snapshot_key(user: &str) -> String {
    format!("tessera.snapshot.{user}")
}

/// A demo user of the sign-in picker (`GET /api/users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoUser {
    /// The user's id.
    pub id: String,
    /// Their name.
    pub name: String,
    /// Their Network's name.
    #[serde(default)]
    pub network: String,
    /// Their home Office's name.
    #[serde(default)]
    pub office: String,
    /// Their Permission Profile.
    #[serde(default)]
    pub profile: String,
}

#[derive(Debug, Deserialize)]
struct UsersDocument {
    users: Vec<DemoUser>,
}

/// The pages of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// The Projects the user sees.
    Projects,
    /// One Project.
    Project(String),
    /// Groups, direct messages, announcements.
    Messaging,
    /// Global search.
    Search,
}

/// Search results as the backend (or the cache) gave them, unfiltered: they are filtered when
/// rendered, with whatever snapshot is current then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Results {
    /// What was searched for.
    pub query: String,
    /// What was found, unfiltered.
    pub items: Vec<Item>,
    /// Whether they came from the device's cache (offline).
    pub from_cache: bool,
}

/// Every signal of the app; `Copy`, so each component takes what it needs.
#[derive(Debug, Clone, Copy)]
pub struct AppState {
    /// The signed-in user's id; empty when nobody is signed in.
    pub user: RwSignal<String>,
    /// The sign-in picker's users.
    pub users: RwSignal<Vec<DemoUser>>,
    /// The trusted public keys.
    pub keys: RwSignal<Option<Arc<TrustedKeys>>>,
    /// The last snapshot accepted for the signed-in user.
    pub snapshot: RwSignal<Option<Arc<Snapshot>>>,
    /// The `ETag` of that snapshot's response.
    pub etag: RwSignal<Option<String>>,
    /// Why the app shows nothing, when it refuses.
    pub refusal: RwSignal<Option<Refusal>>,
    /// The clock, ticking.
    pub now: RwSignal<Timestamp>,
    /// Whether the browser is online.
    pub online: RwSignal<bool>,
    /// The "Why can't I?" view.
    pub explain: RwSignal<bool>,
    /// The page shown.
    pub page: RwSignal<Page>,
    /// A passing message ("Task created").
    pub notice: RwSignal<Option<String>>,
    /// The device's search cache.
    pub cache: RwSignal<Cache>,
    /// The last search's results.
    pub results: RwSignal<Option<Results>>,
}

impl AppState {
    /// The state as stored on this device, before any network.
    pub fn restore() -> AppState {
        let users = browser::load(USERS_KEY)
            .and_then(|json| serde_json::from_str::<UsersDocument>(&json).ok())
            .map(|document| document.users)
            .unwrap_or_default();
        let keys = browser::load(KEYS_KEY).and_then(|json| trust::parse_keys(&json).ok()).map(Arc::new);
        let state = AppState {
            user: RwSignal::new(browser::load(USER_KEY).unwrap_or_default()),
            users: RwSignal::new(users),
            keys: RwSignal::new(keys),
            snapshot: RwSignal::new(None),
            etag: RwSignal::new(None),
            refusal: RwSignal::new(None),
            now: RwSignal::new(browser::now()),
            online: RwSignal::new(browser::online()),
            explain: RwSignal::new(browser::load(EXPLAIN_KEY).as_deref() == Some("on")),
            page: RwSignal::new(Page::Projects),
            notice: RwSignal::new(None),
            cache: RwSignal::new(Cache::default()),
            results: RwSignal::new(None),
        };
        state.load_stored_snapshot();
        state
    }

    /// The snapshot to render from, with the signed-in user: `None` while there is none, or a
    /// refusal stands, or it has expired. Reactive.
    pub fn ready(&self) -> Option<(Arc<Snapshot>, String, Timestamp)> {
        if self.refusal.with(Option::is_some) {
            return None;
        }
        let snapshot = self.snapshot.get()?;
        let now = self.now.get();
        trust::still_valid(&snapshot, now).ok()?;
        Some((snapshot, self.user.get(), now))
    }

    /// Starts the app's background work: the first fetches, the poll, focus and online events,
    /// and the clock.
    pub fn start(self) {
        spawn_local(async move {
            self.refresh_directory().await;
            self.refresh_snapshot().await;
            self.warm_search_cache().await;
        });
        set_interval(
            move || {
                spawn_local(async move { self.refresh_snapshot().await });
            },
            POLL,
        );
        set_interval(move || self.tick(), Duration::from_secs(5));
        let on_focus = window_event_listener_untyped("focus", move |_| {
            spawn_local(async move { self.refresh_snapshot().await });
        });
        let on_visible = window_event_listener_untyped("visibilitychange", move |_| {
            spawn_local(async move { self.refresh_snapshot().await });
        });
        let on_online = window_event_listener_untyped("online", move |_| {
            self.online.set(true);
            spawn_local(async move {
                self.refresh_directory().await;
                self.refresh_snapshot().await;
            });
        });
        let on_offline = window_event_listener_untyped("offline", move |_| self.online.set(false));
        // The listeners live as long as the page.
        std::mem::forget((on_focus, on_visible, on_online, on_offline));
        spawn_local(async move {
            if let Ok(Some(json)) = browser::load_search_index().await {
                let stored = Cache::from_json(&json);
                self.cache.update(|cache| cache.merge(stored.search("")));
            }
        });
    }

    fn tick(&self) {
        let now = browser::now();
        self.now.set(now);
        self.online.set(browser::online());
        if let Some(snapshot) = self.snapshot.get_untracked()
            && let Err(refusal) = trust::still_valid(&snapshot, now)
            && self.refusal.with_untracked(Option::is_none)
        {
            self.refusal.set(Some(refusal));
        }
    }

    /// Signs in as `user` (the demo picker): the snapshot stored for them, then a fresh one.
    pub fn sign_in(self, user: String) {
        browser::store(USER_KEY, &user);
        self.user.set(user);
        self.snapshot.set(None);
        self.etag.set(None);
        self.refusal.set(None);
        self.results.set(None);
        self.page.set(Page::Projects);
        self.load_stored_snapshot();
        spawn_local(async move { self.refresh_snapshot().await });
    }

    /// Turns the "Why can't I?" view on or off, remembered on the device.
    pub fn set_explain(&self, on: bool) {
        browser::store(EXPLAIN_KEY, if on { "on" } else { "off" });
        self.explain.set(on);
    }

    fn highest(issuer: &str) -> u64 {
        browser::load(HIGHEST_KEY)
            .and_then(|json| serde_json::from_str::<BTreeMap<String, u64>>(&json).ok())
            .and_then(|versions| versions.get(issuer).copied())
            .unwrap_or(0)
    }

    fn raise_highest(issuer: &str, version: u64) {
        let mut versions = browser::load(HIGHEST_KEY)
            .and_then(|json| serde_json::from_str::<BTreeMap<String, u64>>(&json).ok())
            .unwrap_or_default();
        let entry = versions.entry(issuer.to_owned()).or_insert(0);
        *entry = (*entry).max(version);
        if let Ok(json) = serde_json::to_string(&versions) {
            browser::store(HIGHEST_KEY, &json);
        }
    }

    /// The snapshot this device stored for the signed-in user, verified again (it may have
    /// expired, or been tampered with in storage).
    fn load_stored_snapshot(&self) {
        let user = self.user.get_untracked();
        if user.is_empty() {
            return;
        }
        let (Some(keys), Some(text)) = (self.keys.get_untracked(), browser::load(&snapshot_key(&user)))
        else {
            return;
        };
        match trust::accept(text.as_bytes(), &keys, &user, browser::now(), AppState::highest) {
            Ok(snapshot) => self.snapshot.set(Some(snapshot)),
            Err(refusal) => self.refusal.set(Some(refusal)),
        }
    }

    /// Fetches the demo users and the public keys, and stores them for offline starts.
    pub async fn refresh_directory(self) {
        if let Ok(fetched) = browser::get("/api/users", None).await
            && fetched.status == 200
            && let Ok(document) = serde_json::from_str::<UsersDocument>(&fetched.body)
        {
            browser::store(USERS_KEY, &fetched.body);
            self.users.set(document.users);
        }
        if let Ok(fetched) = browser::get("/api/public-keys", None).await
            && fetched.status == 200
        {
            match trust::parse_keys(&fetched.body) {
                Ok(keys) => {
                    browser::store(KEYS_KEY, &fetched.body);
                    self.keys.set(Some(Arc::new(keys)));
                    if self.snapshot.with_untracked(Option::is_none) {
                        self.refusal.set(None);
                        self.load_stored_snapshot();
                    }
                }
                Err(refusal) => self.refusal.set(Some(refusal)),
            }
        }
    }

    /// Asks the server for the signed-in user's snapshot; a new version is verified and, once
    /// accepted, replaces the current one and raises the highest version. A refused one leaves
    /// the last good snapshot stored, and the page empty behind a banner. A network failure
    /// changes nothing (offline, the app runs on what it has).
    pub async fn refresh_snapshot(self) {
        let user = self.user.get_untracked();
        if user.is_empty() {
            return;
        }
        let url = format!("/api/snapshot?user={}", String::from(js_sys::encode_uri_component(&user)));
        let etag = self.etag.get_untracked();
        let Ok(fetched) = browser::get(&url, etag.as_deref()).await else {
            self.online.set(browser::online());
            return;
        };
        if self.user.get_untracked() != user {
            return; // Signed in as someone else meanwhile.
        }
        match fetched.status {
            200 => {}
            304 => {
                // The server's current snapshot is the one we hold: a refusal of some other
                // response no longer stands.
                if let Some(snapshot) = self.snapshot.get_untracked()
                    && trust::still_valid(&snapshot, browser::now()).is_ok()
                {
                    self.refusal.set(None);
                }
                return;
            }
            404 => {
                self.refusal.set(Some(Refusal::new(
                    "unknown_user",
                    "The server does not know this user; pick another.",
                )));
                return;
            }
            _ => return,
        }
        let Some(keys) = self.keys.get_untracked() else {
            self.refusal.set(Some(Refusal::new(
                "no_keys",
                "No trusted public key is known yet, so the snapshot cannot be checked.",
            )));
            return;
        };
        match trust::accept(fetched.body.as_bytes(), &keys, &user, browser::now(), AppState::highest) {
            Ok(snapshot) => {
                AppState::raise_highest(&snapshot.header().issuer, snapshot.header().version);
                browser::store(&snapshot_key(&user), &fetched.body);
                self.etag.set(fetched.etag);
                self.now.set(browser::now());
                self.refusal.set(None);
                self.snapshot.set(Some(snapshot));
            }
            Err(refusal) => self.refusal.set(Some(refusal)),
        }
    }

    /// Fetches every search result the backend has into the device's cache, so that search
    /// works offline from the first visit.
    async fn warm_search_cache(self) {
        if let Ok(fetched) = browser::get("/api/search?q=&limit=10000", None).await
            && fetched.status == 200
            && let Ok(response) = serde_json::from_str::<search::Response>(&fetched.body)
        {
            self.remember(response.results).await;
        }
    }

    async fn remember(self, items: Vec<Item>) {
        self.cache.update(|cache| cache.merge(items));
        let json = self.cache.with_untracked(Cache::to_json);
        let _ = browser::store_search_index(&json).await;
    }

    /// Searches: online through `/api/search` (the results join the cache), offline over the
    /// cache. Either way the results are filtered when rendered.
    pub fn search(self, text: String) {
        spawn_local(async move {
            let url = format!("/api/search?q={}", String::from(js_sys::encode_uri_component(&text)));
            let online = browser::get(&url, None).await.ok().filter(|fetched| fetched.status == 200);
            let parsed =
                online.and_then(|fetched| serde_json::from_str::<search::Response>(&fetched.body).ok());
            let results = match parsed {
                Some(response) => {
                    self.remember(response.results.clone()).await;
                    Results { query: text, items: response.results, from_cache: false }
                }
                None => {
                    let items = self.cache.with_untracked(|cache| cache.search(&text));
                    Results { query: text, items, from_cache: true }
                }
            };
            self.results.set(Some(results));
        });
    }
}
