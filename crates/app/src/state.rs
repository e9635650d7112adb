//! The app's state and the work that changes it: signing in, fetching and verifying the
//! snapshot, refusing a bad one, keeping the highest version, the search cache, and the admin
//! API.
//!
//! Signing in asks `POST /api/demo/sign-in` for a bearer token ([`Session`]), kept in the
//! tab's session storage: it survives a reload of the tab and ends with it, and a token is
//! never shared between tabs. The signed-in user's id is also kept in local storage, for
//! offline starts: a tab opened with the network off shows the last good snapshot this device
//! holds for that user, and asks for a sign-in once it is back online. Every API call but the
//! public keys and the sign-in list carries the token; a 401 ends the session and brings back
//! the sign-in.
//!
//! The app learns of a change from the issuer's event stream (`listen.rs`, by the rules of
//! [`crate::live`]) and polls only as the fallback: every minute while the stream is not live,
//! every ten minutes while it is (to renew the signature before expiry), never while the tab is
//! hidden; and, as before, on focus, when the tab becomes visible and when the browser comes
//! back online.
//!
//! Everything rendered reads [`AppState::ready`]: a snapshot that passed [`crate::trust`] for
//! the signed-in user, with no refusal standing. Whenever that is `None` the page shows no data
//! and no actions. It is a memo that changes only when the snapshot, the user or a time-bound
//! decision (an Agreement's expiry) changes, so the clock ticking does not rebuild the page.
//!
//! Answers can arrive out of order (a focus and a poll at once, a search typed fast, a user
//! switched mid-request): each request is numbered, and only the latest one's answer is used.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use tessera_core::{Edit, Snapshot, Timestamp, TrustedKeys};

use crate::admin::{self, Applied, Denials, EditBatch, Preview, Refused};
use crate::browser;
use crate::live::{self, Link};
use crate::search::{self, Cache, Item};
use crate::session::{self, Session};
use crate::trust::{self, Refusal};

const USER_KEY: &str = "tessera.user";
/// In session storage: this tab's [`Session`].
const SESSION_KEY: &str = "tessera.session";
/// The snapshot of the user the bearer token names.
const SNAPSHOT_URL: &str = "/api/snapshot";
const USERS_KEY: &str = "tessera.users";
const KEYS_KEY: &str = "tessera.keys";
const HIGHEST_KEY: &str = "tessera.highest-versions";
const EXPLAIN_KEY: &str = "tessera.explain";

fn snapshot_key(user: &str) -> String {
    format!("tessera.snapshot.{user}")
}

fn refusal_key(user: &str) -> String {
    format!("tessera.refusal.{user}")
}

/// What the pages render from: a verified snapshot, the user it is for, and the time to decide
/// at. Two are equal when they would decide alike: the same snapshot and user, and no
/// time-bound decision changed between their clocks.
#[derive(Debug, Clone)]
pub struct Ready {
    snapshot: Arc<Snapshot>,
    user: String,
    now: Timestamp,
    /// When a decision could next change with time alone (an Agreement expiring).
    until: Option<Timestamp>,
}

impl PartialEq for Ready {
    fn eq(&self, other: &Ready) -> bool {
        Arc::ptr_eq(&self.snapshot, &other.snapshot) && self.user == other.user && self.until == other.until
    }
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
    /// Administration: a person's denials, and the edits that would allow them.
    Admin,
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
    /// Which search this was: each one has a new number.
    pub seq: u64,
}

/// Every signal of the app; `Copy`, so each component takes what it needs.
#[derive(Debug, Clone, Copy)]
pub struct AppState {
    /// The signed-in user's id; empty when nobody is signed in.
    pub user: RwSignal<String>,
    /// This tab's bearer token, when signed in online (none in a tab started offline).
    pub session: RwSignal<Option<Session>>,
    /// Why the user was signed out (a refused token, a refused sign-in), for the sign-in page.
    pub signed_out: RwSignal<Option<String>>,
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
    /// The event stream's health.
    pub link: RwSignal<Link>,
    /// When the snapshot was last asked for (milliseconds since the epoch), for the poll.
    fetched_at: StoredValue<f64>,
    /// What the pages render from (see [`Ready`]).
    ready: Memo<Option<Ready>>,
    /// The number of the latest snapshot request; older answers are dropped.
    snapshot_request: StoredValue<u64>,
    /// The number of the latest search; older answers are dropped.
    search_request: StoredValue<u64>,
}

impl AppState {
    /// The state as stored on this device, before any network.
    pub fn restore() -> AppState {
        let users = browser::load(USERS_KEY)
            .and_then(|json| serde_json::from_str::<UsersDocument>(&json).ok())
            .map(|document| document.users)
            .unwrap_or_default();
        let keys = browser::load(KEYS_KEY).and_then(|json| trust::parse_keys(&json).ok()).map(Arc::new);
        let session =
            browser::load_session(SESSION_KEY).and_then(|json| Session::restore(&json, browser::now()));
        // A tab with a session is that user's. Without one, the device's last user is shown
        // only offline, from what this device verified; online, the tab asks for a sign-in.
        let user = match &session {
            Some(session) => session.user.clone(),
            None if !browser::online() => browser::load(USER_KEY).unwrap_or_default(),
            None => String::new(),
        };
        let user = RwSignal::new(user);
        let snapshot: RwSignal<Option<Arc<Snapshot>>> = RwSignal::new(None);
        let refusal: RwSignal<Option<Refusal>> = RwSignal::new(None);
        let now = RwSignal::new(browser::now());
        let ready = Memo::new(move |_| {
            if refusal.with(Option::is_some) {
                return None;
            }
            let snapshot = snapshot.get()?;
            let now = now.get();
            trust::still_valid(&snapshot, now).ok()?;
            let until = snapshot.policy().next_change(now);
            Some(Ready { snapshot, user: user.get(), now, until })
        });
        let state = AppState {
            user,
            session: RwSignal::new(session),
            signed_out: RwSignal::new(None),
            users: RwSignal::new(users),
            keys: RwSignal::new(keys),
            snapshot,
            etag: RwSignal::new(None),
            refusal,
            now,
            online: RwSignal::new(browser::online()),
            explain: RwSignal::new(browser::load(EXPLAIN_KEY).as_deref() == Some("on")),
            page: RwSignal::new(Page::Projects),
            notice: RwSignal::new(None),
            cache: RwSignal::new(Cache::default()),
            results: RwSignal::new(None),
            link: RwSignal::new(Link::Off),
            fetched_at: StoredValue::new(js_sys::Date::now()),
            ready,
            snapshot_request: StoredValue::new(0),
            search_request: StoredValue::new(0),
        };
        state.load_stored_snapshot();
        state
    }

    /// The snapshot to render from, with the signed-in user and the time to decide at: `None`
    /// while there is none, or a refusal stands, or it has expired. Reactive.
    pub fn ready(&self) -> Option<(Arc<Snapshot>, String, Timestamp)> {
        self.ready.get().map(|ready| (ready.snapshot, ready.user, ready.now))
    }

    /// Whether there is anything to render. Reactive, and changes only when that does.
    pub fn shown(&self) -> bool {
        self.ready.with(Option::is_some)
    }

    /// Starts the app's background work: the first fetches, the event stream, the poll, focus,
    /// visibility and online events, and the clock.
    pub fn start(self) {
        spawn_local(async move {
            self.refresh_directory().await;
            self.refresh_snapshot().await;
            self.listen();
        });
        spawn_local(async move {
            if let Ok(Some(json)) = browser::load_search_index().await {
                let stored = Cache::from_json(&json);
                self.cache.update(|cache| cache.merge(stored.search("")));
            }
            self.warm_search_cache().await;
        });
        set_interval(move || self.tick(), Duration::from_secs(5));
        let on_focus = window_event_listener_untyped("focus", move |_| {
            spawn_local(async move { self.refresh_snapshot().await });
            self.listen();
        });
        // `visibilitychange` fires on the document and bubbles to the window.
        let on_visible = window_event_listener_untyped("visibilitychange", move |_| {
            if browser::hidden() {
                self.stop_listening();
            } else {
                spawn_local(async move { self.refresh_snapshot().await });
                self.listen();
            }
        });
        let on_online = window_event_listener_untyped("online", move |_| {
            self.online.set(true);
            spawn_local(async move {
                self.refresh_directory().await;
                self.refresh_snapshot().await;
                self.listen();
            });
        });
        let on_offline = window_event_listener_untyped("offline", move |_| {
            self.online.set(false);
            self.stop_listening();
        });
        // The listeners live as long as the page.
        std::mem::forget((on_focus, on_visible, on_online, on_offline));
    }

    /// Every few seconds: the clock, the online flag, the stream opened or closed as it should
    /// be, a poll when one is due, and the snapshot's expiry.
    fn tick(self) {
        let now = browser::now();
        self.now.set(now);
        let online = browser::online();
        if self.online.get_untracked() != online {
            self.online.set(online);
        }
        self.listen();
        let since =
            Duration::from_millis((js_sys::Date::now() - self.fetched_at.get_value()).max(0.0) as u64);
        if live::poll_due(self.link.get_untracked(), browser::hidden(), since) {
            spawn_local(async move { self.refresh_snapshot().await });
        }
        if let Some(snapshot) = self.snapshot.get_untracked()
            && let Err(refusal) = trust::still_valid(&snapshot, now)
            && self.refusal.with_untracked(Option::is_none)
        {
            self.refuse(refusal);
        }
    }

    /// Refuses: the banner, no data, and the refusal remembered for this user across reloads
    /// and sign-ins until a good snapshot (or a 304 for the one held) clears it.
    fn refuse(&self, refusal: Refusal) {
        let user = self.user.get_untracked();
        if let Ok(json) = serde_json::to_string(&refusal) {
            browser::store(&refusal_key(&user), &json);
        }
        self.refusal.set(Some(refusal));
    }

    fn clear_refusal(&self) {
        browser::remove(&refusal_key(&self.user.get_untracked()));
        if self.refusal.with_untracked(Option::is_some) {
            self.refusal.set(None);
        }
    }

    /// Signs in as `user` (the demo picker): a token from `POST /api/demo/sign-in`, then the
    /// snapshot stored for them, then a fresh one. A refusal (an unknown or inactive user)
    /// says why and signs nobody in. With the network down, signing in cannot happen; the
    /// device's last good snapshot of that user, if it holds one, is shown meanwhile (network
    /// failure is not refusal), without a token, until the user signs in online.
    pub fn sign_in(self, user: String) {
        spawn_local(async move {
            let body = serde_json::json!({ "user": user }).to_string();
            match browser::post_json("/api/demo/sign-in", &body, None).await {
                Ok(fetched) if fetched.status == 200 => match Session::from_sign_in(&user, &fetched.body) {
                    Some(session) => {
                        browser::store_session(
                            SESSION_KEY,
                            &serde_json::to_string(&session).unwrap_or_default(),
                        );
                        self.session.set(Some(session));
                        self.signed_out.set(None);
                        self.switch_to(user);
                        self.warm_search_cache().await;
                    }
                    None => self.notice.set(Some("The sign-in answer could not be read.".to_owned())),
                },
                Ok(fetched) => {
                    let (code, message) = session::error_code(fetched.status, &fetched.body);
                    self.notice.set(Some(format!("The server refused to sign you in: {message} ({code}).")));
                }
                Err(_) => {
                    self.online.set(browser::online());
                    if browser::load(&snapshot_key(&user)).is_some() {
                        self.end_session();
                        self.switch_to(user);
                        self.notice.set(Some(
                            "Offline: showing the last snapshot this device verified for you. Sign in again once \
                             online."
                                .to_owned(),
                        ));
                    } else {
                        self.notice.set(Some("Signing in needs the network.".to_owned()));
                    }
                }
            }
        });
    }

    /// Forgets this tab's token.
    fn end_session(&self) {
        browser::remove_session(SESSION_KEY);
        if self.session.with_untracked(Option::is_some) {
            self.session.set(None);
        }
    }

    /// Back to the sign-in: the server refused the token (or there is none, online). The
    /// stored snapshots stay, for an offline start; nothing renders until someone signs in.
    pub(crate) fn sign_out(self, why: &str) {
        self.reset_listening();
        self.end_session();
        browser::remove(USER_KEY);
        self.snapshot_request.update_value(|n| *n += 1);
        self.search_request.update_value(|n| *n += 1);
        self.signed_out.set(Some(why.to_owned()));
        self.user.set(String::new());
        self.snapshot.set(None);
        self.etag.set(None);
        self.refusal.set(None);
        self.results.set(None);
        self.page.set(Page::Projects);
    }

    /// This tab's `Authorization` header value, if it holds a live token for the signed-in
    /// user.
    pub(crate) fn authorization(&self) -> Option<String> {
        let user = self.user.get_untracked();
        self.session.with_untracked(|session| {
            session
                .as_ref()
                .filter(|session| session.user == user && session.live(browser::now()))
                .map(Session::authorization)
        })
    }

    /// A 401 for a request made with `authorization`: the session ends, unless another
    /// sign-in replaced it meanwhile.
    fn unauthorized(&self, authorization: &str, body: &str) {
        if self.authorization().as_deref() == Some(authorization) {
            let (code, _) = session::error_code(401, body);
            self.sign_out(&format!(
                "Your session has ended (the server answered {code}): sign in again to continue."
            ));
        }
    }

    /// GETs an API `url` with the token; `None` without one, or on a 401 (which signs out).
    async fn api_get(
        self,
        url: &str,
        etag: Option<&str>,
    ) -> Option<Result<browser::Fetched, browser::BrowserError>> {
        let authorization = self.authorization()?;
        let fetched = browser::get(url, etag, Some(&authorization)).await;
        if let Ok(answer) = &fetched
            && answer.status == 401
        {
            self.unauthorized(&authorization, &answer.body);
            return None;
        }
        Some(fetched)
    }

    /// POSTs JSON to an API `url` with the token, as [`AppState::api_get`].
    pub(crate) async fn api_post(self, url: &str, body: &str) -> Result<browser::Fetched, Refused> {
        let Some(authorization) = self.authorization() else {
            return Err(Refused {
                code: "unauthenticated".into(),
                message: "Sign in first.".into(),
                decision: None,
            });
        };
        let fetched = browser::post_json(url, body, Some(&authorization)).await.map_err(|error| Refused {
            code: "network".into(),
            message: format!("The server could not be reached ({}).", error.0),
            decision: None,
        })?;
        if fetched.status == 401 {
            self.unauthorized(&authorization, &fetched.body);
            return Err(admin::refused(401, &fetched.body));
        }
        Ok(fetched)
    }

    /// Shows `user`'s stored snapshot, then asks for a fresh one.
    fn switch_to(self, user: String) {
        self.reset_listening();
        browser::store(USER_KEY, &user);
        self.snapshot_request.update_value(|n| *n += 1);
        self.search_request.update_value(|n| *n += 1);
        self.user.set(user);
        self.snapshot.set(None);
        self.etag.set(None);
        self.refusal.set(None);
        self.results.set(None);
        self.page.set(Page::Projects);
        self.load_stored_snapshot();
        spawn_local(async move { self.refresh_snapshot().await });
        self.listen();
    }

    /// Turns the "Why can't I?" view on or off, remembered on the device.
    pub fn set_explain(&self, on: bool) {
        browser::store(EXPLAIN_KEY, if on { "on" } else { "off" });
        self.explain.set(on);
    }

    /// The highest version this device accepted for `user`.
    fn highest(user: &str) -> u64 {
        browser::load(HIGHEST_KEY)
            .and_then(|json| serde_json::from_str::<BTreeMap<String, u64>>(&json).ok())
            .and_then(|versions| versions.get(user).copied())
            .unwrap_or(0)
    }

    fn raise_highest(user: &str, version: u64) {
        let mut versions = browser::load(HIGHEST_KEY)
            .and_then(|json| serde_json::from_str::<BTreeMap<String, u64>>(&json).ok())
            .unwrap_or_default();
        let entry = versions.entry(user.to_owned()).or_insert(0);
        *entry = (*entry).max(version);
        if let Ok(json) = serde_json::to_string(&versions) {
            browser::store(HIGHEST_KEY, &json);
        }
    }

    /// The snapshot this device stored for the signed-in user, verified again (it may have
    /// expired, or been tampered with in storage), and a refusal that still stands for them.
    fn load_stored_snapshot(&self) {
        let user = self.user.get_untracked();
        if user.is_empty() {
            return;
        }
        if let Some(refusal) =
            browser::load(&refusal_key(&user)).and_then(|json| serde_json::from_str::<Refusal>(&json).ok())
        {
            self.refusal.set(Some(refusal));
        }
        let (Some(keys), Some(text)) = (self.keys.get_untracked(), browser::load(&snapshot_key(&user)))
        else {
            return;
        };
        match trust::accept(text.as_bytes(), &keys, &user, browser::now(), AppState::highest(&user)) {
            Ok(snapshot) => self.snapshot.set(Some(snapshot)),
            Err(refusal) => {
                self.snapshot.set(None);
                self.refuse(refusal);
            }
        }
    }

    /// Fetches the demo users and the public keys, and stores them for offline starts.
    pub async fn refresh_directory(self) {
        if let Ok(fetched) = browser::get("/api/users", None, None).await
            && fetched.status == 200
            && let Ok(document) = serde_json::from_str::<UsersDocument>(&fetched.body)
        {
            browser::store(USERS_KEY, &fetched.body);
            self.users.set(document.users);
        }
        self.refresh_keys().await;
    }

    /// Fetches the public keys. New keys are stored, and the snapshot held is verified again
    /// under them (a key taken out of the list takes its snapshots with it).
    async fn refresh_keys(self) {
        let Ok(fetched) = browser::get("/api/public-keys", None, None).await else {
            return;
        };
        if fetched.status != 200 {
            return;
        }
        match trust::parse_keys(&fetched.body) {
            Ok(keys) => {
                if browser::load(KEYS_KEY).as_deref() == Some(fetched.body.as_str())
                    && self.keys.with_untracked(Option::is_some)
                {
                    return;
                }
                browser::store(KEYS_KEY, &fetched.body);
                self.keys.set(Some(Arc::new(keys)));
                self.etag.set(None);
                if self
                    .refusal
                    .with_untracked(|refusal| refusal.as_ref().is_some_and(|r| r.code == "no_keys"))
                {
                    self.clear_refusal();
                }
                self.load_stored_snapshot();
            }
            Err(refusal) => self.refuse(refusal),
        }
    }

    /// Asks the server for the signed-in user's snapshot; a new version is verified and, once
    /// accepted, replaces the current one and raises the highest version. A refused one leaves
    /// the last good snapshot stored, and the page empty behind a banner. A network failure
    /// changes nothing (offline, the app runs on what it has). Only the latest request's
    /// answer counts.
    pub async fn refresh_snapshot(self) {
        self.fetched_at.set_value(js_sys::Date::now());
        let user = self.user.get_untracked();
        if user.is_empty() {
            return;
        }
        if self.keys.with_untracked(Option::is_none) {
            self.refresh_keys().await;
        }
        self.snapshot_request.update_value(|n| *n += 1);
        let request = self.snapshot_request.get_value();
        if self.authorization().is_none() {
            // A tab started offline, now online: the server needs a sign-in.
            if browser::online() {
                self.sign_out("Sign in to fetch your policy snapshot.");
            }
            return;
        }
        let etag = self.etag.get_untracked();
        let Some(fetched) = self.api_get(SNAPSHOT_URL, etag.as_deref()).await else {
            return; // Signed out.
        };
        if self.snapshot_request.get_value() != request || self.user.get_untracked() != user {
            return; // A later request, or someone else signed in meanwhile.
        }
        let Ok(fetched) = fetched else {
            self.online.set(browser::online());
            return;
        };
        match fetched.status {
            200 => {}
            304 => {
                // The server's current snapshot is the one we hold: a refusal of some other
                // answer no longer stands.
                if let Some(snapshot) = self.snapshot.get_untracked()
                    && trust::still_valid(&snapshot, browser::now()).is_ok()
                {
                    self.clear_refusal();
                }
                return;
            }
            403 => {
                // The token is good, but its user is unknown to the organisation or inactive.
                let (code, message) = session::error_code(fetched.status, &fetched.body);
                browser::remove(&snapshot_key(&user));
                self.snapshot.set(None);
                self.refuse(Refusal::new(code, format!("The server refused your snapshot: {message}.")));
                return;
            }
            _ => return,
        }
        let Some(keys) = self.keys.get_untracked() else {
            self.refuse(Refusal::new(
                "no_keys",
                "No trusted public key is known yet, so the snapshot cannot be checked.",
            ));
            return;
        };
        match trust::accept(fetched.body.as_bytes(), &keys, &user, browser::now(), AppState::highest(&user)) {
            Ok(snapshot) => {
                AppState::raise_highest(&user, snapshot.header().version);
                // The copy offline starts use: only verified bytes go in.
                browser::store(&snapshot_key(&user), &fetched.body);
                self.etag.set(fetched.etag);
                self.now.set(browser::now());
                self.clear_refusal();
                self.snapshot.set(Some(snapshot));
            }
            Err(refusal) => self.refuse(refusal),
        }
    }

    /// Fetches every search result the backend has into the device's cache, so that search
    /// works offline from the first visit. A complete answer replaces the cache (what the
    /// backend no longer has is dropped).
    async fn warm_search_cache(self) {
        if let Some(Ok(fetched)) = self.api_get("/api/search?q=&limit=10000", None).await
            && fetched.status == 200
            && let Ok(response) = serde_json::from_str::<search::Response>(&fetched.body)
        {
            if !response.truncated {
                self.cache.set(Cache::default());
            }
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
        self.search_request.update_value(|n| *n += 1);
        let seq = self.search_request.get_value();
        spawn_local(async move {
            let url = format!("/api/search?q={}", String::from(js_sys::encode_uri_component(&text)));
            let online =
                self.api_get(&url, None).await.and_then(Result::ok).filter(|fetched| fetched.status == 200);
            if self.search_request.get_value() != seq {
                return; // A later search, or another user, meanwhile.
            }
            let parsed =
                online.and_then(|fetched| serde_json::from_str::<search::Response>(&fetched.body).ok());
            let results = match parsed {
                Some(response) => {
                    self.remember(response.results.clone()).await;
                    Results { query: text, items: response.results, from_cache: false, seq }
                }
                None => {
                    let items = self.cache.with_untracked(|cache| cache.search(&text));
                    Results { query: text, items, from_cache: true, seq }
                }
            };
            if self.search_request.get_value() == seq {
                self.results.set(Some(results));
            }
        });
    }

    /// The impact of `edits` (`POST /api/admin/preview`), applying nothing.
    pub async fn preview(self, edits: Vec<Edit>) -> Result<Preview, Refused> {
        let body =
            serde_json::to_string(&EditBatch { edits: &edits, expect_revision: None }).unwrap_or_default();
        let fetched = self.api_post("/api/admin/preview", &body).await?;
        if fetched.status != 200 {
            return Err(admin::refused(fetched.status, &fetched.body));
        }
        serde_json::from_str(&fetched.body).map_err(|_| admin::refused(fetched.status, ""))
    }

    /// Makes `edits` (`POST /api/admin/edits`), on `expect_revision` when they were previewed
    /// there; then asks for this user's snapshot again.
    pub async fn apply(self, edits: Vec<Edit>, expect_revision: Option<u64>) -> Result<Applied, Refused> {
        let body = serde_json::to_string(&EditBatch { edits: &edits, expect_revision }).unwrap_or_default();
        let fetched = self.api_post("/api/admin/edits", &body).await?;
        if fetched.status != 200 {
            return Err(admin::refused(fetched.status, &fetched.body));
        }
        let applied: Applied =
            serde_json::from_str(&fetched.body).map_err(|_| admin::refused(fetched.status, ""))?;
        self.refresh_snapshot().await;
        Ok(applied)
    }

    /// `user`'s denied actions with suggestions (`GET /api/admin/denials`).
    pub async fn denials(self, user: String) -> Result<Denials, Refused> {
        let url = format!("/api/admin/denials?user={}", String::from(js_sys::encode_uri_component(&user)));
        let fetched = match self.api_get(&url, None).await {
            Some(Ok(fetched)) => fetched,
            Some(Err(error)) => {
                return Err(Refused {
                    code: "network".into(),
                    message: format!("The server could not be reached ({}).", error.0),
                    decision: None,
                });
            }
            None => {
                return Err(Refused {
                    code: "unauthenticated".into(),
                    message: "Sign in first.".into(),
                    decision: None,
                });
            }
        };
        if fetched.status != 200 {
            return Err(admin::refused(fetched.status, &fetched.body));
        }
        serde_json::from_str(&fetched.body).map_err(|_| admin::refused(fetched.status, ""))
    }
}
