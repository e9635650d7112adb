//! The app's state and the work that changes it: signing in, fetching and verifying the
//! snapshot, refusing a bad one (through the core's trust machine), the search cache, and the admin
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
//! Which snapshot may be used is the core's [`tessera_core::Trust`] to decide, the same machine
//! the npm client drives: the app keeps one for the signed-in user ([`Keeper`]), feeds it every
//! snapshot it fetches or finds stored, every 304 and failure, and the clock, and stores what it
//! asks (the last good snapshot per user, its ETag, the rollback floors). The app is stricter
//! than the machine in one way: a refused answer, while the machine only calls itself stale,
//! puts up the banner and empties the page until a good snapshot or a 304 clears it; the
//! refusal is remembered for the user across reloads.
//!
//! Everything rendered reads [`AppState::ready`]: the snapshot the machine holds usable for
//! the signed-in user, with no refusal standing. Whenever that is `None` the page shows no data
//! and no actions. It is a memo that changes only when the snapshot, the user or a time-bound
//! decision (an Agreement's expiry) changes, so the clock ticking does not rebuild the page.
//!
//! Answers can arrive out of order (a focus and a poll at once, a search typed fast, a user
//! switched mid-request): each request is numbered, and only the latest one's answer is used.

use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use tessera_core::{Edit, Snapshot, Status, Timestamp, TrustedKeys};

use crate::admin::{self, Applied, Denials, EditBatch, Preview, Refused};
use crate::browser;
use crate::live::{self, Link};
use crate::search::{self, Cache, Item};
use crate::session::{self, Session};
use crate::trust::{self, Device, Keeper, Refusal};

const USER_KEY: &str = "tessera.user";
/// In session storage: this tab's [`Session`].
const SESSION_KEY: &str = "tessera.session";
/// The snapshot of the user the bearer token names.
const SNAPSHOT_URL: &str = "/api/snapshot";
const USERS_KEY: &str = "tessera.users";
const KEYS_KEY: &str = "tessera.keys";
const EXPLAIN_KEY: &str = "tessera.explain";

fn refusal_key(user: &str) -> String {
    format!("tessera.refusal.{user}")
}

/// The browser's local storage, where [`Keeper`] keeps what it must.
struct Local;

impl Device for Local {
    fn load(&self, key: &str) -> Option<String> {
        browser::load(key)
    }

    fn store(&self, key: &str, value: &str) {
        browser::store(key, value);
    }

    fn remove(&self, key: &str) {
        browser::remove(key);
    }
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
    /// The last good snapshot held for the signed-in user, usable or not (see `status`).
    pub snapshot: RwSignal<Option<Arc<Snapshot>>>,
    /// The trust machine's status: the snapshot is usable when `ready` or `stale`.
    pub status: RwSignal<Status>,
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
    /// The signed-in user's trust machine; `None` without a user or keys.
    keeper: StoredValue<Option<Keeper>>,
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
        let status = RwSignal::new(Status::Loading);
        let now = RwSignal::new(browser::now());
        let ready = Memo::new(move |_| {
            if refusal.with(Option::is_some) || !matches!(status.get(), Status::Ready | Status::Stale) {
                return None;
            }
            let snapshot = snapshot.get()?;
            let now = now.get();
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
            status,
            refusal,
            now,
            online: RwSignal::new(browser::online()),
            explain: RwSignal::new(browser::load(EXPLAIN_KEY).as_deref() == Some("on")),
            page: RwSignal::new(Page::Projects),
            notice: RwSignal::new(None),
            cache: RwSignal::new(Cache::default()),
            results: RwSignal::new(None),
            link: RwSignal::new(Link::Off),
            keeper: StoredValue::new(None),
            fetched_at: StoredValue::new(js_sys::Date::now()),
            ready,
            snapshot_request: StoredValue::new(0),
            search_request: StoredValue::new(0),
        };
        state.load_stored_snapshot();
        state
    }

    /// The snapshot to render from, with the signed-in user and the time to decide at: `None`
    /// while none is usable (none held, or it has expired), or a refusal stands. Reactive.
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
        let expired =
            self.keeper.try_update_value(|keeper| keeper.as_mut().and_then(|keeper| keeper.tick(now)));
        self.sync();
        if let Some(Some(refusal)) = expired
            && self.refusal.with_untracked(Option::is_none)
        {
            self.refuse(refusal);
        }
    }

    /// Runs `input` on the signed-in user's machine, if there is one, then shows what it holds.
    fn drive<R>(&self, input: impl FnOnce(&mut Keeper) -> R) -> Option<R> {
        let user = self.user.get_untracked();
        let answer = self
            .keeper
            .try_update_value(|keeper| keeper.as_mut().filter(|keeper| keeper.user() == user).map(input))
            .flatten();
        self.sync();
        answer
    }

    /// The signals from the machine: the snapshot held and the status, set only on a change.
    fn sync(&self) {
        let (held, status) = self.keeper.with_value(|keeper| match keeper {
            Some(keeper) => (keeper.held().cloned(), keeper.status()),
            None => (None, Status::Loading),
        });
        let same = self.snapshot.with_untracked(|snapshot| match (snapshot, &held) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        });
        if !same {
            self.snapshot.set(held);
        }
        if self.status.get_untracked() != status {
            self.status.set(status);
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
                    if browser::load(&trust::snapshot_key(&user)).is_some() {
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
        // The stored snapshots stay for offline starts: the machine is dropped, not signed out.
        self.keeper.set_value(None);
        self.sync();
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

    /// A new trust machine for the signed-in user, fed the snapshot this device stored for
    /// them (verified again: it may have expired, been tampered with in storage, or been signed
    /// by a key no longer trusted), and a refusal that still stands for them. One machine per
    /// user: switching users keeps the previous user's stored copy for offline starts.
    fn load_stored_snapshot(&self) {
        let user = self.user.get_untracked();
        let keeper = self
            .keys
            .get_untracked()
            .filter(|_| !user.is_empty())
            .map(|keys| Keeper::new(TrustedKeys::clone(&keys), &user));
        self.keeper.set_value(keeper);
        if user.is_empty() {
            self.sync();
            return;
        }
        if let Some(refusal) =
            browser::load(&refusal_key(&user)).and_then(|json| serde_json::from_str::<Refusal>(&json).ok())
        {
            self.refusal.set(Some(refusal));
        }
        if let Some(Some(refusal)) = self.drive(|keeper| keeper.load_stored(&Local, browser::now())) {
            self.refuse(refusal);
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

    /// Fetches the public keys. New keys are stored, and a new machine verifies the stored
    /// snapshot again under them (a key taken out of the list takes its snapshots with it).
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

    /// Asks the server for the signed-in user's snapshot, with the ETag of the one held, and
    /// gives the machine the answer: a new version, once accepted, replaces the current one,
    /// is stored and raises the floor; a refused one leaves the last good snapshot held and
    /// stored, and the page empty behind a banner. A network failure or an error status
    /// changes nothing shown (offline, the app runs on what it has). Only the latest request's
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
        let etag = self
            .keeper
            .with_value(|keeper| keeper.as_ref().and_then(|keeper| keeper.etag().map(str::to_owned)));
        let Some(fetched) = self.api_get(SNAPSHOT_URL, etag.as_deref()).await else {
            return; // Signed out.
        };
        if self.snapshot_request.get_value() != request || self.user.get_untracked() != user {
            return; // A later request, or someone else signed in meanwhile.
        }
        let now = browser::now();
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(error) => {
                self.online.set(browser::online());
                self.drive(|keeper| keeper.failed(&Local, None, "network", &error.0, now));
                return;
            }
        };
        match fetched.status {
            200 => {}
            304 => {
                // The server's current snapshot is the one held: a refusal of some other
                // answer no longer stands.
                if self.drive(|keeper| keeper.not_modified(&Local, now)) == Some(true) {
                    self.clear_refusal();
                }
                return;
            }
            status => {
                // A 403: the token is good, but its user is unknown to the organisation or
                // inactive; the machine drops what it held for them. Other statuses change
                // nothing shown.
                let (code, message) = session::error_code(status, &fetched.body);
                let refusal = self.drive(|keeper| keeper.failed(&Local, Some(status), &code, &message, now));
                match refusal {
                    Some(Some(refusal)) => self.refuse(refusal),
                    Some(None) => {}
                    None if status == 403 => self
                        .refuse(Refusal::new(code, format!("The server refused your snapshot: {message}."))),
                    None => {}
                }
                return;
            }
        }
        let body = fetched.body;
        let etag = fetched.etag;
        match self.drive(|keeper| keeper.fetched(&Local, &body, etag, now)) {
            None => self.refuse(Refusal::new(
                "no_keys",
                "No trusted public key is known yet, so the snapshot cannot be checked.",
            )),
            Some(Some(refusal)) => self.refuse(refusal),
            Some(None) => {
                self.now.set(now);
                self.clear_refusal();
            }
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
