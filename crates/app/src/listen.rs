//! The issuer's event stream, driven by the rules of [`crate::live`]: a ticket with the bearer
//! token, an `EventSource` on it, a fetch when an event says the snapshot moved, and a new
//! ticket after a backoff when the stream fails. It listens only while someone is signed in
//! with a live token, the browser is online, the tab is visible and the user has not been
//! revoked; [`SessionState::listen`] (called on each tick, and at once on sign-in, focus and
//! coming online) opens or closes it to match.
//!
//! Every attempt has a number: an answer, an event or a timer of an older attempt (another
//! user's, a stream closed since) finds a newer number and does nothing.

use std::cell::RefCell;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::{self, EventStream};
use crate::live::{self, Event, Link, Meaning, TicketAnswer};
use crate::state::SessionState;

/// The events this app reads.
const EVENTS: [&str; 4] = ["snapshot", "revoked", "expired", "content"];

/// What is not a signal: the open stream, the attempt's number, failures in a row.
#[derive(Default)]
struct Listener {
    attempt: u64,
    failures: u32,
    stream: Option<EventStream>,
    /// The server said `revoked`: no stream until someone signs in again.
    revoked: bool,
}

thread_local! {
    static LISTENER: RefCell<Listener> = RefCell::new(Listener::default());
}

/// A new attempt's number; older ones' answers, events and timers are ignored from now.
fn next_attempt() -> u64 {
    LISTENER.with_borrow_mut(|listener| {
        listener.attempt = listener.attempt.wrapping_add(1);
        listener.attempt
    })
}

fn current(attempt: u64) -> bool {
    LISTENER.with_borrow(|listener| listener.attempt == attempt)
}

impl SessionState {
    /// Whether the stream should be open now.
    fn should_listen(&self) -> bool {
        !self.user.with_untracked(String::is_empty)
            && self.client().is_some()
            && browser::online()
            && !browser::hidden()
            && !LISTENER.with_borrow(|listener| listener.revoked)
    }

    /// Opens the stream if it should be open and nothing is under way (a stream, a ticket
    /// asked for, a retry waiting); closes it if it should not be open.
    pub fn listen(self) {
        if !self.should_listen() {
            if self.link.get_untracked() != Link::Off {
                self.stop_listening();
            }
            return;
        }
        if self.link.get_untracked() == Link::Off {
            self.connect();
        }
    }

    /// Closes the stream and forgets any attempt under way.
    pub fn stop_listening(self) {
        next_attempt();
        let stream = LISTENER.with_borrow_mut(|listener| listener.stream.take());
        drop(stream);
        self.link.set(Link::Off);
    }

    /// Stops listening for the user signed in until now: the next one starts afresh.
    pub fn reset_listening(self) {
        self.stop_listening();
        LISTENER.with_borrow_mut(|listener| {
            listener.failures = 0;
            listener.revoked = false;
        });
    }

    /// Asks for a ticket and opens the stream with it ([`open`], a module of its own).
    fn connect(self) {
        let attempt = next_attempt();
        LISTENER.with_borrow_mut(|listener| listener.stream = None);
        self.link.set(Link::Connecting);
        spawn_local(async move { open(self, attempt).await });
    }

    /// The stream of `attempt` failed, ended, or could not be opened: polls meanwhile, and
    /// tries again after the backoff.
    fn failed(self, attempt: u64) {
        if !current(attempt) {
            return;
        }
        let retry = next_attempt();
        let failures = LISTENER.with_borrow_mut(|listener| {
            listener.stream = None;
            listener.failures = listener.failures.saturating_add(1);
            listener.failures
        });
        self.link.set(Link::Down);
        set_timeout(
            move || {
                if current(retry) {
                    self.link.set(Link::Off);
                    self.listen();
                }
            },
            live::backoff(failures, browser::random()),
        );
    }

    /// The server no longer holds the user active: no stream until someone signs in, and the
    /// snapshot asked for again, so that the server's refusal shows.
    fn revoked(self) {
        self.stop_listening();
        LISTENER.with_borrow_mut(|listener| listener.revoked = true);
        spawn_local(async move { self.refresh_snapshot().await });
    }

    /// An event of the stream of `attempt`.
    async fn heard(self, attempt: u64, event: Event) {
        if !current(attempt) {
            return;
        }
        let held = if self.refusal.with_untracked(Option::is_some) {
            None
        } else {
            self.snapshot
                .with_untracked(|snapshot| snapshot.as_ref().map(|snapshot| snapshot.header().version))
        };
        let meaning = live::meaning(event, held);
        match meaning {
            Meaning::UpToDate | Meaning::Fetch => {
                LISTENER.with_borrow_mut(|listener| listener.failures = 0);
                if self.link.get_untracked() != Link::Live {
                    self.link.set(Link::Live);
                    // Content written while no stream was live was told to no one here.
                    self.tell(r#"{"all":true}"#);
                }
                if meaning == Meaning::Fetch {
                    self.refresh_snapshot().await;
                }
            }
            Meaning::Revoked => self.revoked(),
            Meaning::Expired => {
                self.stop_listening();
                self.sign_out("Your session has expired (the server said so): sign in again to continue.");
            }
        }
    }
}

/// Asks for a ticket and opens the stream of `attempt` with it: a split point (`#[lazy]`), so
/// that reading the stream (the ticket, the events and what each means, the backoff) loads
/// after the first screen, not before it; offline it never loads.
#[leptos::lazy]
fn open(state: SessionState, attempt: u64) {
    spawn_local(async move {
        // A 401 signs out inside `call`.
        let answer = state.call(|client| async move { client.events_ticket().await }).await;
        if !current(attempt) {
            return;
        }
        let answer = match answer {
            Ok(fetched) => live::ticket_answer(fetched.status, &fetched.body),
            Err(refused) if refused.code == "network" => TicketAnswer::Retry,
            Err(_) => TicketAnswer::SignedOut,
        };
        let ticket = match answer {
            TicketAnswer::Open(ticket) => ticket,
            TicketAnswer::Retry => return state.failed(attempt),
            // The user is unknown or inactive: the snapshot's own 403 says so.
            TicketAnswer::Revoked => return state.revoked(),
            TicketAnswer::SignedOut => return state.stop_listening(),
        };
        let opened = browser::open_events(
            &live::stream_url(&ticket),
            &EVENTS,
            move |name, data| {
                if name == "content" {
                    if current(attempt) {
                        state.tell(data);
                    }
                } else if let Some(event) = live::parse(name, data) {
                    spawn_local(async move { state.heard(attempt, event).await });
                }
            },
            move || spawn_local(async move { state.failed(attempt) }),
        );
        match opened {
            Ok(stream) => LISTENER.with_borrow_mut(|listener| listener.stream = Some(stream)),
            Err(_) => state.failed(attempt),
        }
    });
}
