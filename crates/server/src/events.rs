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
//! Who is asking: the bearer header, as for `/api/snapshot` (a `fetch`-based reader sends it),
//! or, since a browser's `EventSource` cannot send a header, `?ticket=T`: a ticket from
//! `POST /api/events/ticket` (bearer), random, single-use and valid [`TICKET_SECONDS`], so that
//! what a URL carries into logs is worth nothing once used.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::watch;

use crate::identity::Caller;
use crate::issuer::Revision;

/// How long a ticket may wait to be used.
pub const TICKET_SECONDS: u64 = 30;
/// The most tickets outstanding at once.
const MAX_TICKETS: u64 = 100_000;
/// How often an idle stream says it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Outstanding tickets: random, single-use, short-lived.
pub(crate) struct Tickets {
    waiting: moka::sync::Cache<String, Caller>,
}

impl std::fmt::Debug for Tickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tickets").field("waiting", &self.waiting.entry_count()).finish()
    }
}

impl Tickets {
    pub(crate) fn new() -> Tickets {
        Tickets {
            waiting: moka::sync::Cache::builder()
                .max_capacity(MAX_TICKETS)
                .time_to_live(Duration::from_secs(TICKET_SECONDS))
                .build(),
        }
    }

    /// A new ticket for `caller`, or `None` if no randomness could be had.
    pub(crate) fn issue(&self, caller: Caller) -> Option<String> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).ok()?;
        let ticket: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        self.waiting.insert(ticket.clone(), caller);
        Some(ticket)
    }

    /// The caller a ticket was issued to, once: the ticket is spent.
    pub(crate) fn redeem(&self, ticket: &str) -> Option<Caller> {
        self.waiting.remove(ticket)
    }
}

/// What a stream tracks between two events.
struct Watch {
    caller: Caller,
    revisions: watch::Receiver<Arc<Revision>>,
    closing: watch::Receiver<bool>,
    /// The version last told; `None` before the first event.
    told: Option<u64>,
    done: bool,
    _open: OpenStream,
}

/// Counts open streams for `/metrics` while it lives.
struct OpenStream;

impl OpenStream {
    fn new() -> OpenStream {
        metrics::gauge!("tessera_event_streams").increment(1.0);
        OpenStream
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics::gauge!("tessera_event_streams").decrement(1.0);
    }
}

/// Why a waiting stream woke.
enum Wake {
    Revision,
    Expired,
    End,
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
    revisions: watch::Receiver<Arc<Revision>>,
    closing: watch::Receiver<bool>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let start = Watch { caller, revisions, closing, told: None, done: false, _open: OpenStream::new() };
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
                _ = watch.closing.wait_for(|closing| *closing) => Wake::End,
                () = tokio::time::sleep(left) => Wake::Expired,
            };
            match woke {
                Wake::Revision => {}
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
