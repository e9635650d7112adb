//! Search and its cache, per user: the piece of state the search and Project pages take.
//!
//! Each user's cache holds only what the server answered that user (their own searches, and
//! on their first visit the empty query), and lives in IndexedDB under that user's key
//! (`device::search_key`); switching user replaces the cache shown with the new user's, and
//! **Sign out** deletes it. Whatever the cache or the server holds, every result is filtered
//! again as it renders, with the signed-in user's newest verified snapshot
//! (`search::visible`): access lost after the cache was filled is gone offline too.
//!
//! Searches are numbered; an answer to anything but the latest search of the current user is
//! dropped.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::browser;
use crate::device;
use crate::search::{Cache, Item};
use crate::state::SessionState;

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
    /// Which search this was: each one has a new number.
    pub seq: u64,
}

/// The signed-in user's search cache and their last search's results.
#[derive(Debug, Clone, Copy)]
pub struct SearchState {
    session: SessionState,
    /// The user the cache is of; empty for none.
    owner: RwSignal<String>,
    /// The cache of `owner`.
    pub cache: RwSignal<Cache>,
    /// The last search's results.
    pub results: RwSignal<Option<Results>>,
    /// The number of the latest search; older answers are dropped.
    request: StoredValue<u64>,
    /// The number of the latest load of a user's cache; older loads stop.
    load: StoredValue<u64>,
}

impl SearchState {
    /// The piece for `session`: it follows the signed-in user, loading their cache (and, once
    /// per sign-in, the server's whole answer for them, so that search works offline from the
    /// first visit).
    pub fn new(session: SessionState) -> SearchState {
        let search = SearchState {
            session,
            owner: RwSignal::new(String::new()),
            cache: RwSignal::new(Cache::default()),
            results: RwSignal::new(None),
            request: StoredValue::new(0),
            load: StoredValue::new(0),
        };
        // The device's one shared cache of an earlier build held every user's results.
        spawn_local(async {
            let _ = browser::delete_cache(device::LEGACY_SEARCH_CACHE).await;
        });
        // Loading from IndexedDB and the network is syncing with the world outside.
        Effect::new(move |_| {
            let user = session.user.get();
            let signed_in = session.session.with(Option::is_some);
            search.follow(user, signed_in);
        });
        search
    }

    /// The signed-in user (and whether they hold a token) changed: their cache replaces the one
    /// shown, then is refreshed from the server if they are signed in.
    fn follow(self, user: String, signed_in: bool) {
        self.load.update_value(|n| *n += 1);
        let seq = self.load.get_value();
        // Any search under way was the previous user's.
        self.next();
        if self.owner.get_untracked() != user {
            self.owner.set(user.clone());
            self.cache.set(Cache::default());
            self.results.set(None);
        }
        if user.is_empty() {
            return;
        }
        spawn_local(async move {
            if let Ok(Some(json)) = browser::db_get(&device::search_key(&user)).await
                && self.loading(seq, &user)
            {
                let stored = Cache::from_json(&json);
                self.cache.update(|cache| cache.merge(stored.search("")));
            }
            if signed_in && self.loading(seq, &user) {
                self.warm(seq, &user).await;
            }
        });
    }

    fn next(&self) -> u64 {
        self.request.update_value(|n| *n += 1);
        self.request.get_value()
    }

    /// Whether the search `seq` for `user` is still the latest, for the user signed in.
    fn current(&self, seq: u64, user: &str) -> bool {
        self.request.get_value() == seq && self.session.user.with_untracked(|now| now == user)
    }

    /// Whether the load `seq` of `user`'s cache is still the latest, for the user signed in.
    fn loading(&self, seq: u64, user: &str) -> bool {
        self.load.get_value() == seq && self.session.user.with_untracked(|now| now == user)
    }

    /// Fetches every search result the server has for `user` into their cache. A complete
    /// answer replaces the cache (what the server no longer answers them is dropped).
    async fn warm(self, seq: u64, user: &str) {
        let Ok(answer) =
            self.session.call(|client| async move { client.search("", Some(10_000)).await }).await
        else {
            return;
        };
        if !self.loading(seq, user) {
            return;
        }
        if let Some(response) = api::search_results(&answer) {
            if !response.truncated {
                self.cache.set(Cache::default());
            }
            self.remember(user, response.results).await;
        }
    }

    /// Adds `items` (the server's answer to `user`) to `user`'s cache, and stores it.
    async fn remember(self, user: &str, items: Vec<Item>) {
        if self.owner.get_untracked() != user {
            return;
        }
        self.cache.update(|cache| cache.merge(items));
        let json = self.cache.with_untracked(Cache::to_json);
        if let Err(error) = browser::db_set(&device::search_key(user), &json).await {
            self.session.storage.0.set(Some(format!(
                "This device could not keep your search results for offline use ({}).",
                error.0
            )));
        }
    }

    /// Searches: online through `/api/search` (the results join the user's cache), offline over
    /// that cache. Either way the results are filtered when rendered.
    pub fn search(self, text: String) {
        let seq = self.next();
        let user = self.session.user.get_untracked();
        spawn_local(async move {
            let query = text.clone();
            let online = self
                .session
                .call(|client| async move { client.search(&query, None).await })
                .await
                .ok()
                .and_then(|answer| api::search_results(&answer));
            if !self.current(seq, &user) {
                return; // A later search, or another user, meanwhile.
            }
            let results = match online {
                Some(response) => {
                    self.remember(&user, response.results.clone()).await;
                    Results { query: text, items: response.results, from_cache: false, seq }
                }
                None => {
                    let items = self.cache.with_untracked(|cache| cache.search(&text));
                    Results { query: text, items, from_cache: true, seq }
                }
            };
            if self.current(seq, &user) {
                self.results.set(Some(results));
            }
        });
    }
}
