//! The rules of trust of a client that fetches, keeps and refreshes one user's snapshot: which
//! snapshot to accept, refuse, keep or activate, and when it goes stale or expires.
//!
//! A state machine without I/O and without a clock: its driver (the npm package's
//! `tessera-policy/client`, through `tessera-wasm`; natively, an app) does the fetching, the
//! storing and the timing, and feeds it what happened, with the time. Each input answers
//! [`Effects`]: what to write to the device's storage. What to decide with is
//! [`Trust::usable`], which is `None` whenever nothing verified and unexpired is held.
//!
//! The rules:
//! - every snapshot, from the network, the device's storage or a bootstrap, is verified
//!   ([`Snapshot::verify`]: signature, schema, expiry) and must be scoped to the user
//!   (`wrong_user` otherwise) and no older than the user's rollback floor for its issuer
//!   (`rollback`): the highest version the device accepted, kept by the driver in storage
//!   shared by every tab and read again before each input;
//! - a refused snapshot changes nothing held; the refusal is `last_error`, and from the network
//!   it makes the status `stale` (or `refused` when nothing usable is held);
//! - a snapshot is usable until its deadline: its own `expires_at`, or `max_age` seconds after
//!   the issuer last confirmed it (a 200 or a 304), whichever comes first; past it the status is
//!   `expired` and nothing decides;
//! - a newer snapshot replaces the active one at once, or waits as pending when
//!   `activate_on_load` is off (until [`Trust::activate`], or the active one's deadline);
//! - a different user, or signing out, drops everything held and clears the previous user's
//!   stored snapshot; a 403 `unknown_user` / `inactive_user` for the snapshot does the same.
//!
//! The machine's clock never goes back: a `now` earlier than one already seen counts as that one.

use std::sync::Arc;

use crate::clock::Timestamp;
use crate::snapshot::{LoadErrorKind, Scope, Snapshot, TrustedKeys, VerifyOptions};

/// Where a snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Given to the client when it started (server-rendered into the page, say).
    Bootstrap,
    /// The device's storage: a cold start, or another tab's fetch.
    Cache,
    /// An answer of the issuer to this client.
    Network,
}

impl Origin {
    /// `bootstrap`, `cache` or `network`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Origin::Bootstrap => "bootstrap",
            Origin::Cache => "cache",
            Origin::Network => "network",
        }
    }

    /// Reads [`Origin::as_str`]'s words.
    pub fn parse(text: &str) -> Option<Origin> {
        match text {
            "bootstrap" => Some(Origin::Bootstrap),
            "cache" => Some(Origin::Cache),
            "network" => Some(Origin::Network),
            _ => None,
        }
    }
}

/// What the client can say of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing usable yet, and nothing has failed.
    Loading,
    /// Deciding from a verified snapshot; the last refresh succeeded.
    Ready,
    /// Deciding from a verified snapshot, but the last refresh failed or was refused.
    Stale,
    /// The snapshot held is past its deadline (or the only copy was): everything is denied.
    Expired,
    /// Nothing usable is held and the last attempt failed: everything is denied.
    Refused,
    /// Signed out: nothing is held.
    SignedOut,
}

impl Status {
    /// The snake_case word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Loading => "loading",
            Status::Ready => "ready",
            Status::Stale => "stale",
            Status::Expired => "expired",
            Status::Refused => "refused",
            Status::SignedOut => "signed_out",
        }
    }
}

/// Why the last input failed: a stable reason (a load error's code such as `bad_signature`,
/// `rollback`, `expired`, `unknown_key`; `wrong_user`; `network`; `http`; or the issuer's
/// `unknown_user` / `inactive_user`), a sentence, and the HTTP status where there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The stable reason.
    pub reason: String,
    /// What happened, for a person.
    pub message: String,
    /// The HTTP status, for `http` and the issuer's refusals.
    pub status: Option<u16>,
}

impl Failure {
    /// A failure without an HTTP status.
    pub fn new(reason: impl Into<String>, message: impl Into<String>) -> Failure {
        Failure { reason: reason.into(), message: message.into(), status: None }
    }
}

/// How the client trusts snapshots.
#[derive(Debug, Clone)]
pub struct TrustConfig {
    /// The issuer's public keys.
    pub keys: TrustedKeys,
    /// Seconds a snapshot stays usable after the issuer last confirmed it; `None`: until its
    /// own expiry.
    pub max_age: Option<i64>,
    /// Whether a newer snapshot replaces the active one at once (`true`) or waits as pending.
    pub activate_on_load: bool,
}

/// What the driver must write to its storage after an input. (Whether what it shows changed,
/// the driver tells by comparing the state before and after: `status`, `origin`, the active
/// snapshot's header, `pending`, `user`, `last_error`.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Store the bytes just given, for the current user, with this ETag (replacing any).
    pub store: Option<Option<String>>,
    /// The issuer confirmed the stored snapshot at this time: store it beside the bytes.
    pub confirmed: Option<Timestamp>,
    /// Delete what is stored for this user (snapshot, ETag, confirmation).
    pub clear: Option<String>,
    /// Raise the current user's floor for this issuer to this version (never lower it).
    pub floor: Option<(String, u64)>,
}

/// A snapshot held, and when the issuer last confirmed it.
#[derive(Debug, Clone)]
struct Held {
    snapshot: Arc<Snapshot>,
    origin: Origin,
    confirmed: Timestamp,
}

/// The client's trust state; see the module's documentation.
#[derive(Debug, Clone)]
pub struct Trust {
    config: TrustConfig,
    user: Option<String>,
    signed_out: bool,
    active: Option<Held>,
    pending: Option<Held>,
    /// The ETag of the newest snapshot held (pending, else active).
    etag: Option<String>,
    /// Whether the last attempt to refresh failed or was refused.
    failed: bool,
    /// A stored or bootstrap copy was refused as expired (so, with nothing else, `expired`).
    expired_copy: bool,
    last_error: Option<Failure>,
    now: Timestamp,
}

impl Trust {
    /// A client for `user` (`None`: the first snapshot's scope names them), loading.
    pub fn new(config: TrustConfig, user: Option<String>) -> Trust {
        Trust {
            config,
            user,
            signed_out: false,
            active: None,
            pending: None,
            etag: None,
            failed: false,
            expired_copy: false,
            last_error: None,
            now: Timestamp::from_unix(i64::MIN),
        }
    }

    // ---- What the client shows ----------------------------------------------------------------

    /// The status at the last time the machine was given.
    pub fn status(&self) -> Status {
        if self.signed_out {
            return Status::SignedOut;
        }
        match &self.active {
            Some(held) if self.now >= self.deadline_of(held) => Status::Expired,
            Some(_) if self.failed => Status::Stale,
            Some(_) => Status::Ready,
            None if self.failed && self.expired_copy => Status::Expired,
            None if self.failed => Status::Refused,
            None => Status::Loading,
        }
    }

    /// The snapshot to decide with: the active one while it is within its deadline.
    pub fn usable(&self) -> Option<&Arc<Snapshot>> {
        match self.status() {
            Status::Ready | Status::Stale => self.active.as_ref().map(|held| &held.snapshot),
            _ => None,
        }
    }

    /// The active snapshot, usable or not.
    pub fn active(&self) -> Option<&Arc<Snapshot>> {
        self.active.as_ref().map(|held| &held.snapshot)
    }

    /// Where the active snapshot came from.
    pub fn origin(&self) -> Option<Origin> {
        self.active.as_ref().map(|held| held.origin)
    }

    /// When the active snapshot stops being usable: its expiry, or `max_age` after the issuer
    /// last confirmed it.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.active.as_ref().map(|held| self.deadline_of(held))
    }

    /// When the issuer last confirmed the active snapshot.
    pub fn confirmed(&self) -> Option<Timestamp> {
        self.active.as_ref().map(|held| held.confirmed)
    }

    /// Whether a newer snapshot waits for [`Trust::activate`].
    pub fn pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The user, once known.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Why the last input failed, until one succeeds.
    pub fn last_error(&self) -> Option<&Failure> {
        self.last_error.as_ref()
    }

    /// The ETag to send as `If-None-Match`: the newest snapshot held's, if it had one.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    fn deadline_of(&self, held: &Held) -> Timestamp {
        let expires = held.snapshot.header().expires_at;
        match self.config.max_age {
            Some(age) => expires.min(held.confirmed.plus_seconds(age.max(0))),
            None => expires,
        }
    }

    /// Runs `input` at `now`. Not generic, so that the module carries its bookkeeping once.
    fn run(&mut self, now: Option<Timestamp>, input: &mut dyn FnMut(&mut Trust, &mut Effects)) -> Effects {
        if let Some(now) = now {
            self.now = self.now.max(now);
        }
        let mut effects = Effects::default();
        input(self, &mut effects);
        self.promote();
        effects
    }

    /// A pending snapshot replaces an active one past its deadline.
    fn promote(&mut self) {
        let expired = self.active.as_ref().is_none_or(|held| self.now >= self.deadline_of(held));
        if expired && self.pending.as_ref().is_some_and(|held| self.now < self.deadline_of(held)) {
            self.active = self.pending.take();
        }
    }

    // ---- Inputs -------------------------------------------------------------------------------

    /// Snapshot bytes, with their ETag: from the network (a 200), the device's storage (with the
    /// time the issuer last confirmed them, if stored) or a bootstrap. `floor` gives the user's
    /// rollback floor for an issuer as stored now (0 if none): the highest version accepted.
    pub fn load(
        &mut self,
        bytes: &[u8],
        etag: Option<String>,
        origin: Origin,
        confirmed: Option<Timestamp>,
        floor: &dyn Fn(&str) -> u64,
        now: Timestamp,
    ) -> Effects {
        let mut etag = etag;
        self.run(Some(now), &mut |trust, effects| {
            trust.accept(bytes, etag.take(), origin, confirmed, floor, effects)
        })
    }

    fn accept(
        &mut self,
        bytes: &[u8],
        etag: Option<String>,
        origin: Origin,
        confirmed: Option<Timestamp>,
        floor: &dyn Fn(&str) -> u64,
        effects: &mut Effects,
    ) {
        if self.signed_out {
            return;
        }
        let network = origin == Origin::Network;
        let refuse = |trust: &mut Trust, failure: Failure| {
            if network {
                trust.failed = true;
            }
            trust.last_error = Some(failure);
        };
        let snapshot = match Snapshot::verify(bytes, &self.config.keys, &VerifyOptions::new(self.now)) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                if error.kind() == LoadErrorKind::Expired && !network {
                    self.expired_copy = true;
                }
                let failure =
                    Failure::new(error.code(), format!("The policy snapshot was refused: {error}."));
                return refuse(self, failure);
            }
        };
        let header = snapshot.header();
        let user = match (&header.scope, &self.user) {
            (Scope::User(scoped), Some(user)) if scoped == user => user.clone(),
            (Scope::User(scoped), None) => scoped.clone(),
            _ => {
                return refuse(self, Failure::new("wrong_user", "The policy snapshot is for another user."));
            }
        };
        let floor = floor(&header.issuer);
        let newest = self.pending.as_ref().or(self.active.as_ref()).map(|held| held.snapshot.header());
        let held = newest.filter(|newest| newest.issuer == header.issuer).map_or(0, |newest| newest.version);
        if header.version < held && !network {
            // Another tab's older copy, or a bootstrap older than the device's: nothing new.
            return;
        }
        if header.version < floor.max(held) {
            let message = format!(
                "version {} is older than version {} already accepted",
                header.version,
                floor.max(held)
            );
            return refuse(self, Failure::new(LoadErrorKind::Rollback.code(), message));
        }
        // When the issuer last vouched for it: now for the network; for a stored copy the time
        // stored with it if that lies between its signature and now; else when it was signed.
        let issued = header.issued_at;
        let confirmed = match origin {
            Origin::Network => self.now,
            _ => confirmed.filter(|at| issued <= *at && *at <= self.now).unwrap_or(issued),
        };
        effects.floor = Some((header.issuer.clone(), header.version));
        if network {
            effects.store = Some(etag.clone());
            effects.confirmed = Some(confirmed);
        }
        let same =
            newest.is_some_and(|newest| newest.issuer == header.issuer && newest.version == header.version);
        let new = Held { snapshot: Arc::new(snapshot), origin, confirmed };
        self.user = Some(user);
        self.etag = etag;
        self.failed = false;
        self.expired_copy = false;
        self.last_error = None;
        let wait =
            !self.config.activate_on_load && self.usable().is_some() && !(same && self.pending.is_none());
        if wait {
            self.pending = Some(new);
        } else {
            self.active = Some(new);
            self.pending = None;
        }
    }

    /// The issuer answered 304 to the ETag of the newest snapshot held: it is current.
    pub fn not_modified(&mut self, now: Timestamp) -> Effects {
        self.run(Some(now), &mut |trust, effects| {
            let now = trust.now;
            match trust.pending.as_mut().or(trust.active.as_mut()) {
                Some(held) if trust.etag.is_some() => {
                    held.confirmed = now;
                    trust.failed = false;
                    trust.last_error = None;
                    effects.confirmed = Some(now);
                }
                _ => {
                    trust.failed = true;
                    trust.last_error = Some(Failure {
                        reason: "http".to_owned(),
                        message:
                            "The issuer answered 304 Not Modified, but no snapshot with an ETag is held."
                                .to_owned(),
                        status: Some(304),
                    });
                }
            }
        })
    }

    /// A refresh failed: `network` (no answer) or `http` (an error status), or the issuer's
    /// refusal of the user (a 403 `unknown_user` or `inactive_user`), which drops and clears
    /// everything held for them.
    pub fn failed(&mut self, failure: Failure, now: Timestamp) -> Effects {
        self.run(Some(now), &mut |trust, effects| {
            if trust.signed_out {
                return;
            }
            let revoked = failure.status == Some(403)
                && (failure.reason == "unknown_user" || failure.reason == "inactive_user");
            if revoked {
                trust.drop_held(effects);
            }
            trust.failed = true;
            trust.last_error = Some(failure.clone());
        })
    }

    /// Time passed: a snapshot may have reached its deadline.
    pub fn tick(&mut self, now: Timestamp) -> Effects {
        self.run(Some(now), &mut |_, _| {})
    }

    /// Swaps in the pending snapshot, if any.
    pub fn activate(&mut self, now: Timestamp) -> Effects {
        self.run(Some(now), &mut |trust, _| {
            if let Some(pending) = trust.pending.take() {
                trust.active = Some(pending);
            }
        })
    }

    /// Signs out: drops everything held and clears the user's stored snapshot. The rollback
    /// floors stay, so that signing in again cannot be rolled back.
    pub fn sign_out(&mut self) -> Effects {
        self.run(None, &mut |trust, effects| {
            trust.drop_held(effects);
            trust.user = None;
            trust.signed_out = true;
            trust.failed = false;
            trust.last_error = None;
        })
    }

    /// The signed-in user, as the driver learned it (from a new token, say). Another user than
    /// the one held drops everything and clears what was stored for the previous one.
    pub fn set_user(&mut self, user: Option<String>) -> Effects {
        self.run(None, &mut |trust, effects| {
            if trust.signed_out || user.is_some() && trust.user.is_some() && trust.user != user {
                trust.drop_held(effects);
                trust.failed = false;
                trust.last_error = None;
            }
            trust.signed_out = false;
            if user.is_some() {
                trust.user.clone_from(&user);
            }
        })
    }

    fn drop_held(&mut self, effects: &mut Effects) {
        effects.clear = self.user.clone();
        self.active = None;
        self.pending = None;
        self.etag = None;
        self.expired_copy = false;
    }
}

#[cfg(test)]
mod tests;
