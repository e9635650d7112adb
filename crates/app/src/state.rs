//! The signed-in session and its verified snapshot: signing in and out, fetching and verifying
//! the snapshot, refusing a bad one (through the core's trust machine), and the clock. Pages
//! take it from the context as [`SessionState`]; search (`search_state.rs`) and administration
//! (`admin_state.rs`) are pieces of their own, and every request is built in `api.rs`.
//!
//! Signing in asks `POST /api/demo/sign-in` for a bearer token ([`Session`]), kept in the
//! tab's session storage: it survives a reload of the tab and ends with it, and a token is
//! never shared between tabs. The signed-in user's id is also kept in local storage, for
//! offline starts: a tab opened with the network off shows the last good snapshot this device
//! holds for that user, and asks for a sign-in once it is back online. Every API call but the
//! public keys and the sign-in lookup carries the token ([`SessionState::call`]); a 401 ends
//! the session and brings back the sign-in. **Sign out** also forgets what the device keeps of
//! the user (`device::forget`): their snapshot, their search cache, their place in the offline
//! sign-in.
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
//! asks (`device.rs`: the last good snapshot per user in IndexedDB, read before the machine
//! starts; the rollback floors in local storage). The app is stricter than the machine in one
//! way: a refused answer, while the machine only calls itself stale, puts up the banner and
//! empties the page until a good snapshot or a 304 clears it; the refusal is remembered for the
//! user across reloads.
//!
//! Everything rendered reads [`SessionState::ready`]: the snapshot the machine holds usable for
//! the signed-in user, with no refusal standing. Whenever that is `None` the page shows no data
//! and no actions. It is a memo that changes only when the snapshot, the user or a time-bound
//! decision (an Agreement's expiry) changes, so the clock ticking does not rebuild the page.
//!
//! Answers can arrive out of order (a focus and a poll at once, a user switched mid-request):
//! each snapshot request is numbered, and only the latest one's answer is used.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use tessera_core::{Query, Snapshot, Status, Timestamp, TrustedKeys};

use crate::admin::{self, Refused};
use crate::api::{self, Answer, Client};
use crate::browser::{self, BrowserError};
use crate::device::{self, Problem, Stored};
use crate::live::{self, Link};
use crate::session::{self, DemoUser, Session};
use crate::trust::{self, Keeper, Refusal};

const USER_KEY: &str = "tessera.user";
/// In session storage: this tab's [`Session`].
const SESSION_KEY: &str = "tessera.session";
const KEYS_KEY: &str = "tessera.keys";

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

/// The signed-in session and its snapshot; `Copy`, so each component takes it as it is.
#[derive(Debug, Clone, Copy)]
pub struct SessionState {
    /// The signed-in user's id; empty when nobody is signed in.
    pub user: RwSignal<String>,
    /// This tab's bearer token, when signed in online (none in a tab started offline).
    pub session: RwSignal<Option<Session>>,
    /// Why the user was signed out (a refused token, a refused sign-in), for the sign-in page.
    pub signed_out: RwSignal<Option<String>>,
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
    /// The event stream's health.
    pub link: RwSignal<Link>,
    /// Notified when the stream tells of content (`event: content`; [`SessionState::told`]).
    pub content: Trigger,
    /// Notified when the server refuses an action or the snapshot changes
    /// ([`SessionState::refused_reason`]).
    pub refused: Trigger,
    /// A passing message for the person ("Signing in needs the network.").
    pub notice: RwSignal<Option<String>>,
    /// What the device could not store, said on screen.
    pub storage: Problem,
    /// The signed-in user's trust machine; `None` without a user or keys.
    keeper: StoredValue<Option<Keeper>>,
    /// When the snapshot was last asked for (milliseconds since the epoch), for the poll.
    fetched_at: StoredValue<f64>,
    /// What the pages render from (see [`Ready`]).
    ready: Memo<Option<Ready>>,
    /// Whether `ready` holds anything: what the shell decides between "Loading" and the pages
    /// by, so that a new snapshot re-renders what reads it, not the page around it.
    shown: Memo<bool>,
    /// The number of the latest snapshot request; older answers are dropped.
    snapshot_request: StoredValue<u64>,
}

thread_local! {
    /// The last `event: content` the stream told, numbered, as its data (`{"project": ID}`,
    /// …; `{"all": true}` too when a stream becomes live, since one that was not may have
    /// missed some): an open page that shows what it concerns reads it again
    /// (`crate::content::Concerns`). Kept out of a signal of its own type, as is [`REFUSED`]:
    /// each signal type is a copy of the reactive code in the module every user loads.
    static TOLD: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    /// The actions the server refused (403) since the snapshot last changed: denied at once,
    /// whatever the snapshot held says, until another snapshot decides.
    static REFUSED: RefCell<Vec<Query>> = const { RefCell::new(Vec::new()) };
}

impl SessionState {
    /// The last `event: content` told and its number (tracked: a page re-runs when another is
    /// told).
    pub fn told(&self) -> (u64, String) {
        self.content.track();
        TOLD.with_borrow(Clone::clone)
    }

    /// The stream told of content: `data` is the event's.
    pub fn tell(&self, data: &str) {
        TOLD.with_borrow_mut(|(seq, told)| {
            *seq = seq.wrapping_add(1);
            data.clone_into(told);
        });
        self.content.notify();
    }

    /// Whether the server refused `query` since the snapshot last changed (tracked).
    pub fn was_refused(&self, query: &Query) -> bool {
        self.refused.track();
        REFUSED.with_borrow(|refused| refused.iter().any(|refused| refused == query))
    }

    /// The server refused `query`: denied at once, until the snapshot changes (its reason is
    /// said where the action was).
    pub fn refuse_action(&self, query: Query) {
        REFUSED.with_borrow_mut(|refused| refused.push(query));
        self.refused.notify();
    }

    /// The state as this tab knows it before any storage or network is read: the session of
    /// this tab, or (offline) the device's last user.
    pub fn restore(notice: RwSignal<Option<String>>) -> SessionState {
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
        SessionState {
            user,
            session: RwSignal::new(session),
            signed_out: RwSignal::new(None),
            keys: RwSignal::new(keys),
            snapshot,
            status,
            refusal,
            now,
            online: RwSignal::new(browser::online()),
            link: RwSignal::new(Link::Off),
            content: Trigger::new(),
            refused: Trigger::new(),
            notice,
            storage: Problem(RwSignal::new(None)),
            keeper: StoredValue::new(None),
            fetched_at: StoredValue::new(js_sys::Date::now()),
            ready,
            shown: Memo::new(move |_| ready.with(Option::is_some)),
            snapshot_request: StoredValue::new(0),
        }
    }

    /// The snapshot to render from, with the signed-in user and the time to decide at: `None`
    /// while none is usable (none held, or it has expired), or a refusal stands. Reactive.
    pub fn ready(&self) -> Option<(Arc<Snapshot>, String, Timestamp)> {
        self.ready.get().map(|ready| (ready.snapshot, ready.user, ready.now))
    }

    /// Whether there is anything to render. Reactive, and changes only when that does.
    pub fn shown(&self) -> bool {
        self.shown.get()
    }

    /// Starts the background work: the stored snapshot read and verified, the first fetch, the
    /// event stream, the poll, focus, visibility and online events, and the clock.
    pub fn start(self) {
        spawn_local(async move {
            self.load_stored_snapshot().await;
            self.refresh_snapshot().await;
            self.listen();
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
                self.refresh_keys().await;
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

    fn device(&self) -> Stored {
        Stored(self.storage)
    }

    /// Runs `input` on the signed-in user's machine, if there is one, then shows what it holds.
    fn drive<R>(&self, input: impl FnOnce(&mut Keeper, &Stored) -> R) -> Option<R> {
        let user = self.user.get_untracked();
        let device = self.device();
        let answer = self
            .keeper
            .try_update_value(|keeper| {
                keeper.as_mut().filter(|keeper| keeper.user() == user).map(|keeper| input(keeper, &device))
            })
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
            // Another snapshot decides what the server refused on the last one.
            if !REFUSED.with_borrow_mut(std::mem::take).is_empty() {
                self.refused.notify();
            }
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

    /// Signs in as `user` (the demo's form: an id, or a person it offered): a token from `POST
    /// /api/demo/sign-in`, then the snapshot stored for them, then a fresh one. A refusal (an
    /// unknown or inactive user) says why and signs nobody in. With the network down, signing
    /// in cannot happen; the device's last good snapshot of that user, if it holds one, is
    /// shown meanwhile (network failure is not refusal), without a token, until the user signs
    /// in online. `known` is what the form knew of them, remembered for the offline sign-in.
    pub fn sign_in(self, user: String, known: Option<DemoUser>) {
        spawn_local(async move {
            match api::sign_in(&user).await {
                Ok(answer) if answer.status == 200 => match Session::from_sign_in(&user, &answer.body) {
                    Some(session) => {
                        browser::store_session(
                            SESSION_KEY,
                            &serde_json::to_string(&session).unwrap_or_default(),
                        );
                        self.session.set(Some(session));
                        self.signed_out.set(None);
                        device::remember_user(known.unwrap_or_else(|| DemoUser {
                            id: user.clone(),
                            name: user.clone(),
                            network: String::new(),
                            office: String::new(),
                            profile: String::new(),
                        }));
                        self.switch_to(user);
                    }
                    None => self.notice.set(Some("The sign-in answer could not be read.".to_owned())),
                },
                Ok(answer) => {
                    let (code, message) = session::error_code(answer.status, &answer.body);
                    self.notice.set(Some(format!("The server refused to sign you in: {message} ({code}).")));
                }
                Err(_) => {
                    self.online.set(browser::online());
                    if device::holds_snapshot(&user).await {
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
        self.signed_out.set(Some(why.to_owned()));
        self.user.set(String::new());
        // The stored snapshots stay for offline starts: the machine is dropped, not signed out.
        self.keeper.set_value(None);
        self.sync();
        self.refusal.set(None);
    }

    /// The person's own **Sign out**: the session ends, and the device forgets the user's
    /// token, stored snapshot, standing refusal and search cache (the rollback floors stay).
    pub fn sign_out_and_forget(self) {
        let user = self.user.get_untracked();
        self.sign_out("You have signed out; this device no longer holds your snapshot or search results.");
        browser::remove(&refusal_key(&user));
        spawn_local(async move { device::forget(&user).await });
    }

    /// The client of this tab's live token for the signed-in user, with the version of the
    /// snapshot held.
    pub(crate) fn client(&self) -> Option<Client> {
        let user = self.user.get_untracked();
        let authorization = self.session.with_untracked(|session| {
            session
                .as_ref()
                .filter(|session| session.user == user && session.live(browser::now()))
                .map(Session::authorization)
        })?;
        let snapshot_version = self
            .snapshot
            .with_untracked(|snapshot| snapshot.as_ref().map(|snapshot| snapshot.header().version));
        Some(Client { authorization, snapshot_version })
    }

    /// Makes a call with this tab's token: "unauthenticated" without one, "network" when
    /// nobody answered. A 401 ends the session (unless another sign-in replaced it meanwhile);
    /// an answer naming a newer snapshot version than the one held fetches the snapshot.
    pub(crate) async fn call<F, R>(self, call: F) -> Result<Answer, Refused>
    where
        F: FnOnce(Client) -> R,
        R: Future<Output = Result<Answer, BrowserError>>,
    {
        let (client, authorization, held) = self.caller()?;
        self.answered(&authorization, held, call(client).await, true).map(|(answer, _)| answer)
    }

    /// As [`SessionState::call`], but fetching a newer snapshot is left to the caller (who
    /// awaits it before going on): the answer, and whether it names a snapshot version newer
    /// than the one held.
    pub(crate) async fn call_only<F, R>(self, call: F) -> Result<(Answer, bool), Refused>
    where
        F: FnOnce(Client) -> R,
        R: Future<Output = Result<Answer, BrowserError>>,
    {
        let (client, authorization, held) = self.caller()?;
        self.answered(&authorization, held, call(client).await, false)
    }

    /// The client of a call, its authorization and the snapshot version it sends. (What
    /// [`SessionState::call`] does apart from the call is here and in
    /// [`SessionState::answered`], not in each of its copies.)
    fn caller(self) -> Result<(Client, String, Option<u64>), Refused> {
        let Some(client) = self.client() else {
            return Err(Refused {
                code: "unauthenticated".into(),
                message: "Sign in first.".into(),
                decision_message: None,
            });
        };
        let (authorization, held) = (client.authorization.clone(), client.snapshot_version);
        Ok((client, authorization, held))
    }

    /// What a call with `authorization`, sent with the snapshot version `held`, was answered:
    /// a 401 ends the session; the answer, and whether it names a newer snapshot (fetched now
    /// if `follow`).
    fn answered(
        self,
        authorization: &str,
        held: Option<u64>,
        answer: Result<Answer, BrowserError>,
        follow: bool,
    ) -> Result<(Answer, bool), Refused> {
        let answer = answer.map_err(api::unreachable)?;
        if answer.status == 401 {
            if self.client().is_some_and(|now| now.authorization == authorization) {
                let (code, _) = session::error_code(401, &answer.body);
                self.sign_out(&format!(
                    "Your session has ended (the server answered {code}): sign in again to continue."
                ));
            }
            return Err(admin::refused(401, &answer.body));
        }
        let newer = matches!((answer.snapshot_version, held), (Some(newer), Some(held)) if newer > held);
        if newer && follow {
            spawn_local(async move { self.refresh_snapshot().await });
        }
        Ok((answer, newer))
    }

    /// Shows `user`'s stored snapshot, then asks for a fresh one.
    fn switch_to(self, user: String) {
        self.reset_listening();
        browser::store(USER_KEY, &user);
        self.snapshot_request.update_value(|n| *n += 1);
        self.keeper.set_value(None);
        self.sync();
        self.user.set(user);
        self.refusal.set(None);
        spawn_local(async move {
            self.load_stored_snapshot().await;
            self.refresh_snapshot().await;
            self.listen();
        });
    }

    /// A new trust machine for the signed-in user, fed the snapshot this device stored for
    /// them (read from IndexedDB first, then verified again: it may have expired, been
    /// tampered with in storage, or been signed by a key no longer trusted), and a refusal that
    /// still stands for them. One machine per user: switching users keeps the previous user's
    /// stored copy for offline starts.
    async fn load_stored_snapshot(self) {
        let user = self.user.get_untracked();
        if user.is_empty() {
            self.keeper.set_value(None);
            self.sync();
            return;
        }
        device::preload(&user, self.storage).await;
        browser::mark("tessera:stored-read");
        if self.user.get_untracked() != user {
            return; // Someone else signed in meanwhile.
        }
        let keeper = self.keys.get_untracked().map(|keys| Keeper::new(TrustedKeys::clone(&keys), &user));
        self.keeper.set_value(keeper);
        if let Some(refusal) =
            browser::load(&refusal_key(&user)).and_then(|json| serde_json::from_str::<Refusal>(&json).ok())
        {
            self.refusal.set(Some(refusal));
        }
        if let Some(Some(refusal)) = self.drive(|keeper, device| keeper.load_stored(device, browser::now())) {
            self.refuse(refusal);
        }
        browser::mark("tessera:stored-verified");
    }

    /// Fetches the public keys. New keys are stored, and a new machine verifies the stored
    /// snapshot again under them (a key taken out of the list takes its snapshots with it).
    async fn refresh_keys(self) {
        let Ok(answer) = api::public_keys().await else {
            return;
        };
        if answer.status != 200 {
            return;
        }
        match trust::parse_keys(&answer.body) {
            Ok(keys) => {
                if browser::load(KEYS_KEY).as_deref() == Some(answer.body.as_str())
                    && self.keys.with_untracked(Option::is_some)
                {
                    return;
                }
                browser::store(KEYS_KEY, &answer.body);
                self.keys.set(Some(Arc::new(keys)));
                if self
                    .refusal
                    .with_untracked(|refusal| refusal.as_ref().is_some_and(|r| r.code == "no_keys"))
                {
                    self.clear_refusal();
                }
                self.load_stored_snapshot().await;
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
        self.snapshot_request.update_value(|n| *n += 1);
        let request = self.snapshot_request.get_value();
        if self.client().is_none() {
            if self.keys.with_untracked(Option::is_none) {
                self.refresh_keys().await;
            }
            // A tab started offline, now online: the server needs a sign-in.
            if browser::online() {
                self.sign_out("Sign in to fetch your policy snapshot.");
            }
            return;
        }
        let etag = self
            .keeper
            .with_value(|keeper| keeper.as_ref().and_then(|keeper| keeper.etag().map(str::to_owned)));
        let fetch = self.call(|client| async move { client.snapshot(etag.as_deref()).await });
        // Without keys (a first visit), the keys and the snapshot are asked for at once; the
        // snapshot is given to the machine once the keys have made one.
        let answer = if self.keys.with_untracked(Option::is_none) {
            futures::future::join(self.refresh_keys(), fetch).await.1
        } else {
            fetch.await
        };
        if self.snapshot_request.get_value() != request || self.user.get_untracked() != user {
            return; // A later request, or someone else signed in meanwhile.
        }
        let now = browser::now();
        let answer = match answer {
            Ok(answer) => answer,
            Err(refused) if refused.code == "network" => {
                self.online.set(browser::online());
                self.drive(|keeper, device| keeper.failed(device, None, "network", &refused.message, now));
                return;
            }
            Err(_) => return, // Signed out.
        };
        match answer.status {
            200 => {}
            304 => {
                // The server's current snapshot is the one held: a refusal of some other
                // answer no longer stands.
                if self.drive(|keeper, device| keeper.not_modified(device, now)) == Some(true) {
                    self.clear_refusal();
                }
                return;
            }
            status => {
                // A 403: the token is good, but its user is unknown to the organisation or
                // inactive; the machine drops what it held for them. Other statuses change
                // nothing shown.
                let (code, message) = session::error_code(status, &answer.body);
                let refusal =
                    self.drive(|keeper, device| keeper.failed(device, Some(status), &code, &message, now));
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
        let Answer { body, etag, .. } = answer;
        match self.drive(|keeper, device| keeper.fetched(device, &body, etag, now)) {
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
}
