//! How the app learns of a change: the issuer's event stream (`GET /api/events`), what each
//! event means, when to reconnect, and when to poll instead.
//!
//! Pure, tested natively; `listen.rs` drives it from the browser. A browser's `EventSource`
//! cannot send the bearer header, so the app first asks `POST /api/events/ticket` (bearer)
//! for a single-use ticket ([`read_ticket`]) and opens [`stream_url`]. The stream starts with
//! `event: snapshot` and the caller's snapshot version, and sends another each time it moves;
//! `revoked` and `expired` end it ([`parse`], [`meaning`]). A stream that fails or ends is
//! opened again with a new ticket after [`backoff`]; while it is not live the app polls as
//! before ([`poll_every`]).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// How often the app polls while the event stream is not live (it also asks on focus, when the
/// tab becomes visible and when the browser comes back online).
pub const POLL: Duration = Duration::from_secs(60);

/// How often the app polls while the event stream is live: only to renew the snapshot's
/// signature before it nears expiry (the issuer renews every half lifetime, an hour at least),
/// which no event announces.
pub const POLL_LIVE: Duration = Duration::from_secs(10 * 60);

/// The first reconnection's delay, before jitter.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);

/// The longest delay between two reconnections.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// What the issuer's event stream said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The caller's snapshot version now (the first event of every stream, and each change).
    Snapshot(u64),
    /// The organisation no longer holds the caller active; the stream has ended.
    Revoked,
    /// The caller's token has expired; the stream has ended.
    Expired,
}

/// What the app does about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Fetch the snapshot (with `If-None-Match`) and verify it.
    Fetch,
    /// Nothing: the snapshot held is the server's current one.
    UpToDate,
    /// The user is no longer active: stop listening, and let the server's answer to a fetch
    /// (403) say so.
    Revoked,
    /// The token has expired: the session ends, and the stream with it.
    Expired,
}

/// The stream's health, as the status bar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Link {
    /// Not listening: nobody signed in, offline, the tab hidden, or the user revoked.
    #[default]
    Off,
    /// Asking for a ticket, or waiting for the stream's first event.
    Connecting,
    /// The stream is open and has spoken: changes arrive as events.
    Live,
    /// The stream failed; it is tried again after a backoff, and the app polls meanwhile.
    Down,
}

impl Link {
    /// A short word for the status bar and tests (`data-link`).
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Off => "off",
            Link::Connecting => "connecting",
            Link::Live => "live",
            Link::Down => "down",
        }
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Deserialize)]
struct VersionData {
    version: u64,
}

/// Reads one event of the stream by its name and data; `None` for one this app does not know
/// (it ignores it, as a newer server may send more).
pub fn parse(name: &str, data: &str) -> Option<Event> {
    match name {
        "snapshot" => {
            serde_json::from_str::<VersionData>(data).ok().map(|data| Event::Snapshot(data.version))
        }
        "revoked" => Some(Event::Revoked),
        "expired" => Some(Event::Expired),
        _ => None,
    }
}

/// What `event` means for an app holding a good snapshot of version `held` (`None` when it
/// holds none, or a refusal stands: then any version is worth a fetch). A version other than
/// the one held, lower too, is fetched: the rules of trust, not the event, decide whether it
/// may be used.
pub fn meaning(event: Event, held: Option<u64>) -> Meaning {
    match event {
        Event::Snapshot(version) if held == Some(version) => Meaning::UpToDate,
        Event::Snapshot(_) => Meaning::Fetch,
        Event::Revoked => Meaning::Revoked,
        Event::Expired => Meaning::Expired,
    }
}

#[derive(Deserialize)]
struct TicketDocument {
    ticket: String,
}

/// The ticket of a `POST /api/events/ticket` answer (`{"ticket", "expires_in"}`); `None` if it
/// does not read as one.
pub fn read_ticket(body: &str) -> Option<String> {
    serde_json::from_str::<TicketDocument>(body)
        .ok()
        .map(|document| document.ticket)
        .filter(|t| !t.is_empty())
}

/// What an answer to `POST /api/events/ticket` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketAnswer {
    /// Open the stream with this ticket.
    Open(String),
    /// The user is unknown to the organisation or inactive (403): stop listening.
    Revoked,
    /// The token was refused (401): the session is over, and the stream with it.
    SignedOut,
    /// Anything else (a 5xx, a 429, an answer that does not read as a ticket): try again after
    /// the backoff, polling meanwhile.
    Retry,
}

/// What the answer `status` with `body` to a ticket request means.
pub fn ticket_answer(status: u16, body: &str) -> TicketAnswer {
    match status {
        200 => read_ticket(body).map_or(TicketAnswer::Retry, TicketAnswer::Open),
        401 => TicketAnswer::SignedOut,
        403 => TicketAnswer::Revoked,
        _ => TicketAnswer::Retry,
    }
}

/// The stream's URL for `ticket`, percent-encoding anything but unreserved characters (the
/// issuer's tickets are hex, but the app does not rely on it).
pub fn stream_url(ticket: &str) -> String {
    let mut url = String::from("/api/events?ticket=");
    for byte in ticket.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// How long to wait before the reconnection that follows `failures` failures in a row (1 for
/// the first): exponential from [`BACKOFF_FIRST`], at most [`BACKOFF_MAX`], with half of it
/// left to `random` (from 0 to 1), so that many tabs that lost the same server do not all
/// come back in the same instant.
pub fn backoff(failures: u32, random: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    let full = BACKOFF_FIRST.saturating_mul(1u32 << exponent).min(BACKOFF_MAX);
    let random = if random.is_finite() { random.clamp(0.0, 1.0) } else { 0.5 };
    let half = full / 2;
    let jitter = Duration::from_millis((half.as_millis() as f64 * random) as u64);
    half.saturating_add(jitter)
}

/// How often to poll, given the stream's health and whether the tab is hidden: `None` (not at
/// all) while hidden, [`POLL_LIVE`] while the stream is live, [`POLL`] otherwise.
pub fn poll_every(link: Link, hidden: bool) -> Option<Duration> {
    match (hidden, link) {
        (true, _) => None,
        (false, Link::Live) => Some(POLL_LIVE),
        (false, _) => Some(POLL),
    }
}

/// Whether a poll is due, `since` the last request for the snapshot (of any cause).
pub fn poll_due(link: Link, hidden: bool, since: Duration) -> bool {
    poll_every(link, hidden).is_some_and(|every| since >= every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_by_name() {
        assert_eq!(parse("snapshot", r#"{"version":1796424288}"#), Some(Event::Snapshot(1_796_424_288)));
        assert_eq!(parse("revoked", "{}"), Some(Event::Revoked));
        assert_eq!(parse("expired", "{}"), Some(Event::Expired));
        assert_eq!(parse("snapshot", "{}"), None, "a snapshot event without its version");
        assert_eq!(parse("snapshot", "not json"), None);
        assert_eq!(parse("message", "{}"), None, "an event this app does not know is ignored");
    }

    #[test]
    fn a_version_other_than_the_one_held_is_fetched() {
        assert_eq!(meaning(Event::Snapshot(7), Some(7)), Meaning::UpToDate);
        assert_eq!(meaning(Event::Snapshot(8), Some(7)), Meaning::Fetch);
        assert_eq!(meaning(Event::Snapshot(6), Some(7)), Meaning::Fetch, "trust decides, not the event");
        assert_eq!(meaning(Event::Snapshot(7), None), Meaning::Fetch);
        assert_eq!(meaning(Event::Revoked, Some(7)), Meaning::Revoked);
        assert_eq!(meaning(Event::Expired, None), Meaning::Expired);
    }

    #[test]
    fn tickets_and_their_url() {
        assert_eq!(read_ticket(r#"{"ticket":"0a1b","expires_in":30}"#).as_deref(), Some("0a1b"));
        assert_eq!(read_ticket(r#"{"ticket":""}"#), None);
        assert_eq!(read_ticket("<html>"), None);
        assert_eq!(stream_url("0a1b"), "/api/events?ticket=0a1b");
        let answer = |status, body| ticket_answer(status, body);
        assert_eq!(
            answer(200, r#"{"ticket":"0a1b","expires_in":30}"#),
            TicketAnswer::Open("0a1b".to_owned())
        );
        assert_eq!(answer(200, "<html>"), TicketAnswer::Retry, "a proxy's page is not a ticket");
        assert_eq!(answer(401, ""), TicketAnswer::SignedOut);
        assert_eq!(answer(403, r#"{"error":{"code":"inactive_user"}}"#), TicketAnswer::Revoked);
        for status in [429, 500, 502, 503, 404] {
            assert_eq!(answer(status, ""), TicketAnswer::Retry, "{status}");
        }
        assert_eq!(stream_url("a&b=c d"), "/api/events?ticket=a%26b%3Dc%20d");
    }

    #[test]
    fn backoff_doubles_up_to_a_minute_with_half_of_it_jittered() {
        assert_eq!(backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(7, 1.0), BACKOFF_MAX);
        assert_eq!(backoff(1000, 1.0), BACKOFF_MAX);
        assert_eq!(backoff(0, 1.0), BACKOFF_FIRST, "no failure yet counts as the first");
        assert_eq!(backoff(3, f64::NAN), Duration::from_secs(3));
        assert_eq!(backoff(3, 7.0), Duration::from_secs(4), "random is clamped");
        let mut last = Duration::ZERO;
        for failures in 1..40 {
            let low = backoff(failures, 0.0);
            let high = backoff(failures, 1.0);
            assert!(low <= high && high <= BACKOFF_MAX && low >= BACKOFF_FIRST / 2);
            assert!(high >= last, "never shorter after another failure");
            last = high;
        }
    }

    #[test]
    fn polling_is_the_fallback() {
        assert_eq!(poll_every(Link::Live, false), Some(POLL_LIVE));
        for link in [Link::Off, Link::Connecting, Link::Down] {
            assert_eq!(poll_every(link, false), Some(POLL), "{link}");
            assert_eq!(poll_every(link, true), None, "{link} hidden");
        }
        assert_eq!(poll_every(Link::Live, true), None);
        assert!(poll_due(Link::Down, false, POLL));
        assert!(!poll_due(Link::Live, false, POLL));
        assert!(poll_due(Link::Live, false, POLL_LIVE));
        assert!(!poll_due(Link::Live, true, POLL_LIVE * 10));
        assert!(POLL_LIVE < Duration::from_secs(30 * 60), "well inside the shortest renewal period");
    }
}
