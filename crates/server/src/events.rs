//! Changes pushed to browsers: `GET /api/events`, a stream of server-sent events that tells a
//! caller when their own snapshot changed, and only then.
//!
//! A stream starts with `event: snapshot` carrying the caller's current snapshot version
//! (`{"version": N}`), then sends another each time a revision is installed that renews the
//! caller's snapshot: since a user's version only moves when an admin change alters their
//! decisions (`Revision::version_of`), a user an edit leaves untouched hears nothing. Comments
//! every 15 s keep proxies from closing an idle stream. It ends with `event: revoked` when the
//! organisation no longer holds the caller active, with `event: expired` when the caller's token
//! expires (reconnect with a fresh one), and when the server shuts down.
//!
//! Content written beside the organisation (a task, a file, a wiki text, a message, an
//! announcement; `content.rs`) makes no revision: a stream tells its caller of it with
//! `event: content` when they may see what it belongs to (`{"project": ID}`, `{"dm": ID}`,
//! `{"group": ID}`, `{"announcements": "network"}` or `{"announcements": GROUP}`), so that an open
//! page reads it again; `{"all": true}` when the stream fell behind and cannot say what.
//!
//! Who is asking: the bearer header, as for `/api/snapshot` (a `fetch`-based reader sends it),
//! or, since a browser's `EventSource` cannot send a header, `?ticket=T`: a ticket from
//! `POST /api/events/ticket` (bearer), random, single-use and valid [`TICKET_SECONDS`], so that
//! what a URL carries into logs is worth nothing once used: its time is checked when it is
//! redeemed.
//!
//! Caps, per user ([`crate::limits::Quotas`]): open streams (a person with a tab each) and
//! unspent tickets, 429 with `Retry-After` past either; and [`MAX_TICKETS`] unspent tickets for
//! everyone together, so that memory is bounded. No one's ticket is ever dropped to make room.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tessera_core::Timestamp;
use tokio::sync::watch;

use crate::content::{Audience, Written};
use crate::identity::Caller;
use crate::issuer::{Clock, Revision};
use crate::refusal::ApiError;

/// How long a ticket may wait to be used.
pub const TICKET_SECONDS: u64 = 30;
/// The most tickets outstanding at once, for everyone together.
const MAX_TICKETS: usize = 100_000;
/// How often an idle stream says it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// What `Retry-After` says to a user who holds as many streams as they may.
const STREAM_RETRY_SECONDS: u32 = 10;

/// Outstanding tickets: random, single-use, valid [`TICKET_SECONDS`] (checked when one is
/// redeemed), at most so many per user and [`MAX_TICKETS`] in all. A user past their cap is
/// refused rather than anyone's ticket dropped, so a flood of one user's tickets cannot push
/// out another's.
pub(crate) struct Tickets {
    waiting: Mutex<Waiting>,
    per_user: u32,
}

#[derive(Default)]
struct Waiting {
    by_ticket: HashMap<String, Pending>,
    /// Every outstanding ticket by when it was issued, oldest first: (issued, sequence).
    by_age: BTreeMap<(i64, u64), String>,
    /// Each user's outstanding tickets, oldest first: (issued, sequence).
    by_user: HashMap<String, VecDeque<(i64, u64)>>,
    issued: u64,
}

struct Pending {
    caller: Caller,
    issued: i64,
    sequence: u64,
}

/// Why no ticket was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TicketRefusal {
    /// The user holds as many unspent tickets as they may: 429, until the oldest expires.
    TooMany { retry_after: u32 },
    /// Everyone together holds [`MAX_TICKETS`]: 503.
    Full,
    /// No randomness could be had: 500.
    NoRandomness,
}

impl std::fmt::Debug for Tickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner).by_ticket.len();
        f.debug_struct("Tickets").field("waiting", &waiting).finish()
    }
}

impl Tickets {
    /// Tickets, at most `per_user` unspent per user.
    pub(crate) fn new(per_user: u32) -> Tickets {
        Tickets { waiting: Mutex::new(Waiting::default()), per_user }
    }

    /// A new ticket for `caller`, issued `now`.
    pub(crate) fn issue(&self, caller: Caller, now: Timestamp) -> Result<String, TicketRefusal> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|_| TicketRefusal::NoRandomness)?;
        let ticket: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let now = now.unix();
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.expire(now);
        let held = waiting.by_user.get(&caller.user);
        if held.map_or(0, VecDeque::len) >= usize::try_from(self.per_user).unwrap_or(usize::MAX) {
            let oldest = held.and_then(VecDeque::front).map_or(now, |(issued, _)| *issued);
            let left = (oldest + TICKET_SECONDS as i64 + 1 - now).clamp(1, TICKET_SECONDS as i64 + 1);
            crate::metrics::limited("tickets");
            return Err(TicketRefusal::TooMany { retry_after: u32::try_from(left).unwrap_or(1) });
        }
        if waiting.by_ticket.len() >= MAX_TICKETS {
            crate::metrics::limited("tickets");
            return Err(TicketRefusal::Full);
        }
        waiting.issued += 1;
        let sequence = waiting.issued;
        waiting.by_age.insert((now, sequence), ticket.clone());
        waiting.by_user.entry(caller.user.clone()).or_default().push_back((now, sequence));
        waiting.by_ticket.insert(ticket.clone(), Pending { caller, issued: now, sequence });
        Ok(ticket)
    }

    /// The caller a ticket was issued to, once, and only within [`TICKET_SECONDS`] of its
    /// issue: the ticket is spent either way.
    pub(crate) fn redeem(&self, ticket: &str, now: Timestamp) -> Option<Caller> {
        let now = now.unix();
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = waiting.by_ticket.remove(ticket)?;
        waiting.forget(&pending.caller.user, pending.issued, pending.sequence);
        waiting.expire(now);
        // Checked here, not only by the expiry above: a ticket is worth nothing after its time.
        (now.saturating_sub(pending.issued) <= TICKET_SECONDS as i64).then_some(pending.caller)
    }
}

impl Waiting {
    /// Drops the tickets issued more than [`TICKET_SECONDS`] before `now`.
    fn expire(&mut self, now: i64) {
        while let Some(entry) = self.by_age.first_entry() {
            let (issued, sequence) = *entry.key();
            if now.saturating_sub(issued) <= TICKET_SECONDS as i64 {
                return;
            }
            let ticket = entry.remove();
            if let Some(pending) = self.by_ticket.remove(&ticket) {
                self.forget(&pending.caller.user, issued, sequence);
            }
        }
    }

    /// Removes a ticket from its user's list and from the list by age.
    fn forget(&mut self, user: &str, issued: i64, sequence: u64) {
        self.by_age.remove(&(issued, sequence));
        if let Some(held) = self.by_user.get_mut(user) {
            held.retain(|entry| *entry != (issued, sequence));
            if held.is_empty() {
                self.by_user.remove(user);
            }
        }
    }
}

impl From<TicketRefusal> for ApiError {
    fn from(refusal: TicketRefusal) -> ApiError {
        match refusal {
            TicketRefusal::TooMany { retry_after } => ApiError::too_many(
                "too_many_tickets",
                format!("too many unspent event tickets: spend one, or ask again in {retry_after} s"),
                retry_after,
            ),
            TicketRefusal::Full => ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many event tickets are outstanding: ask again shortly",
            )
            .with_retry_after(5),
            TicketRefusal::NoRandomness => ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "no randomness for a ticket",
            ),
        }
    }
}

/// The open event streams, counted per user, at most so many each.
#[derive(Debug)]
pub(crate) struct Streams {
    open: Arc<Mutex<HashMap<String, u32>>>,
    per_user: u32,
}

/// One open stream of a user: counted until it is dropped with its stream.
pub(crate) struct Slot {
    open: Arc<Mutex<HashMap<String, u32>>>,
    user: String,
}

/// A user already holds as many streams as they may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyStreams;

impl Streams {
    /// At most `per_user` open streams per user.
    pub(crate) fn new(per_user: u32) -> Streams {
        Streams { open: Arc::new(Mutex::new(HashMap::new())), per_user }
    }

    /// A slot for one more stream of `user`, if they hold fewer than they may.
    pub(crate) fn open(&self, user: &str) -> Result<Slot, TooManyStreams> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let held = open.get(user).copied().unwrap_or(0);
        if held >= self.per_user {
            crate::metrics::limited("streams");
            return Err(TooManyStreams);
        }
        open.insert(user.to_owned(), held + 1);
        metrics::gauge!("tessera_event_streams").increment(1.0);
        Ok(Slot { open: Arc::clone(&self.open), user: user.to_owned() })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        metrics::gauge!("tessera_event_streams").decrement(1.0);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        match open.get(&self.user).copied() {
            Some(held) if held > 1 => {
                open.insert(std::mem::take(&mut self.user), held - 1);
            }
            _ => {
                open.remove(&self.user);
            }
        }
    }
}

impl From<TooManyStreams> for ApiError {
    fn from(TooManyStreams: TooManyStreams) -> ApiError {
        ApiError::too_many(
            "too_many_streams",
            "too many event streams open for this user: close one, or ask again later",
            STREAM_RETRY_SECONDS,
        )
    }
}

/// What a stream tracks between two events.
struct Watch {
    caller: Caller,
    clock: Clock,
    revisions: watch::Receiver<Arc<Revision>>,
    written: tokio::sync::broadcast::Receiver<Written>,
    closing: watch::Receiver<bool>,
    /// The version last told; `None` before the first event.
    told: Option<u64>,
    done: bool,
    /// The user's count of open streams, held while the stream lives.
    _slot: Slot,
}

/// Why a waiting stream woke.
enum Wake {
    Revision,
    Written(Result<Written, tokio::sync::broadcast::error::RecvError>),
    Expired,
    End,
}

/// The `content` event that tells `user` of `written`, if they may see what it belongs to
/// (decided on the revision served, which decides as their snapshot does).
fn content_event(revision: &Revision, user: &str, written: &Written, now: Timestamp) -> Option<Event> {
    use tessera_core::{Query, ResourceKind};
    let policy = revision.policy();
    let (seen, data) = match written {
        Written::Project(project) => (
            policy.allows(user, &Query::view(ResourceKind::Project, project.clone()), now),
            serde_json::json!({ "project": project }),
        ),
        Written::Dm(dm) => (
            policy.dm_participants(dm).is_some_and(|pair| pair.contains(&user)),
            serde_json::json!({ "dm": dm }),
        ),
        Written::Group(group) => (
            policy.allows(user, &Query::view(ResourceKind::Group, group.clone()), now),
            serde_json::json!({ "group": group }),
        ),
        Written::Announcement(Audience::Group(group)) => (
            policy.allows(user, &Query::view(ResourceKind::Group, group.clone()), now),
            serde_json::json!({ "announcements": group }),
        ),
        Written::Announcement(Audience::Network(network)) => (
            policy.user_summary(user).is_some_and(|summary| summary.network == network.as_str()),
            serde_json::json!({ "announcements": "network" }),
        ),
    };
    seen.then(|| Event::default().event("content").data(data.to_string()))
}

fn event(name: &str, version: Option<u64>) -> Event {
    let data = match version {
        Some(version) => format!("{{\"version\":{version}}}"),
        None => "{}".to_owned(),
    };
    Event::default().event(name).data(data)
}

/// The event stream of `caller`; see the module docs.
pub(crate) fn stream(
    caller: Caller,
    slot: Slot,
    revisions: watch::Receiver<Arc<Revision>>,
    written: tokio::sync::broadcast::Receiver<Written>,
    clock: Clock,
    closing: watch::Receiver<bool>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let start = Watch { caller, clock, revisions, written, closing, told: None, done: false, _slot: slot };
    let events = futures_util::stream::unfold(start, |mut watch| async move {
        if watch.done {
            return None;
        }
        loop {
            let revision = Arc::clone(&watch.revisions.borrow_and_update());
            let active = revision.policy().user_summary(&watch.caller.user).is_some_and(|user| user.active);
            if !active {
                watch.done = true;
                return Some((Ok(event("revoked", None)), watch));
            }
            let version = revision.version_of(&watch.caller.user);
            if watch.told != Some(version) {
                watch.told = Some(version);
                return Some((Ok(event("snapshot", Some(version))), watch));
            }
            let now = jsonwebtoken::get_current_timestamp();
            let left = Duration::from_secs(watch.caller.expires.saturating_sub(now));
            let woke = tokio::select! {
                changed = watch.revisions.changed() => if changed.is_ok() { Wake::Revision } else { Wake::End },
                written = watch.written.recv() => Wake::Written(written),
                _ = watch.closing.wait_for(|closing| *closing) => Wake::End,
                () = tokio::time::sleep(left) => Wake::Expired,
            };
            match woke {
                Wake::Revision => {}
                Wake::Written(Ok(written)) => {
                    let now = watch.clock.now();
                    if let Some(event) = content_event(&revision, &watch.caller.user, &written, now) {
                        return Some((Ok(event), watch));
                    }
                }
                Wake::Written(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                    let event = Event::default().event("content").data("{\"all\":true}");
                    return Some((Ok(event), watch));
                }
                // No more content will be told: the server is going away.
                Wake::Written(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
                Wake::End => return None,
                Wake::Expired => {
                    watch.done = true;
                    return Some((Ok(event("expired", None)), watch));
                }
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
