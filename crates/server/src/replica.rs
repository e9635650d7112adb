//! A server over a database: the revision it serves kept the database's current one, and admin
//! edits committed through it, so that every replica over one database agrees.
//!
//! - **Following.** [`follow`] re-reads the database's current revision when PostgreSQL tells
//!   of a new one (`LISTEN`), when the listening connection breaks and comes back (a
//!   notification sent meanwhile is lost for good), and on a slow timer (SQLite tells nothing).
//!   A revision ahead of the one served is loaded, built off the runtime and swapped in; the one
//!   before keeps answering meanwhile.
//! - **Snapshot versions** come from the log ([`Store::load_revision`]): every replica gives
//!   every user the same version and `ETag`, whichever replica made the change.
//! - **Committing** ([`commit_batch`]): the batch is checked and applied to the revision served,
//!   built (validated as `Policy::new` does), and committed on that revision as its base. When
//!   another revision came first (`Stale`, from this replica or another), the replica catches
//!   up and tries again, unless the caller named the revision it expected: that is a 409.
//! - **Outages.** When the database cannot be reached, the replica keeps serving the revision it
//!   has, `/readyz` answers 503 and says since when, and edits answer 503; the next successful
//!   read (the timer, more often during an outage, or the listener coming back) ends the outage
//!   and catches up.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tessera_core::Timestamp;
use tokio::sync::mpsc;

use crate::admin::{self, EditBatch, Refusal};
use crate::issuer::{ChangeError, Changed, Issuer};
use crate::store::{Loaded, Notice, Store, StoreError};

/// How often a replica reads the current revision when nothing told it of one, by default.
pub const DEFAULT_RESYNC: Duration = Duration::from_secs(10);
/// How long a request waits for a connection to the database before it gives up.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a batch is tried again while other revisions come first (a replica catching up
/// loses to one that is current and busy, until that one's queue drains): below the default
/// request timeout.
const RETRY_FOR: Duration = Duration::from_secs(20);
/// How often a replica tries the database during an outage, at most.
const OUTAGE_RETRY: Duration = Duration::from_secs(1);

/// Since when, and why, the database cannot be reached.
#[derive(Debug, Clone, Serialize)]
pub struct Outage {
    /// Since when.
    pub since: Timestamp,
    /// The last error.
    pub error: String,
}

/// The database a server follows and commits to.
#[derive(Debug)]
pub struct Database {
    store: Store,
    /// PostgreSQL's notices, taken by [`follow`].
    notices: Mutex<Option<mpsc::Receiver<Notice>>>,
    resync: Duration,
    outage: Mutex<Option<Outage>>,
    /// Wakes [`follow`] at once (a client holds a revision this server has not built yet).
    wake: tokio::sync::Notify,
    /// The last revision of the database that failed to build: not read again until the
    /// database's current revision moves on.
    failed: Mutex<Option<u64>>,
}

impl Database {
    /// Connects to `url`, brings its schema up to date (unless `migrate` is false: views over
    /// another schema, `docs/database.md`), listens for revisions (PostgreSQL), and only then
    /// loads the current revision, so that no revision committed after the load goes unheard.
    pub async fn open(url: &str, resync: Duration, migrate: bool) -> Result<(Database, Loaded), StoreError> {
        let store = Store::connect_with(url, ACQUIRE_TIMEOUT).await?;
        if migrate {
            store.migrate().await?;
        }
        let notices = if store.is_postgres() { Some(crate::store::listen(url).await?) } else { None };
        let loaded = store.load_revision().await?;
        let database = Database {
            store,
            notices: Mutex::new(notices),
            resync,
            outage: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
            failed: Mutex::new(None),
        };
        Ok((database, loaded))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Asks [`follow`] to read the current revision now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The outage under way, if any.
    pub fn outage(&self) -> Option<Outage> {
        self.outage.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Notes what reaching the database gave: an outage begins (or goes on) on
    /// [`StoreError::Unavailable`], and ends on success.
    fn note<T>(&self, result: &Result<T, StoreError>, now: Timestamp) {
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Err(StoreError::Unavailable(error)) => {
                if outage.is_none() {
                    tracing::warn!(%error, "the database cannot be reached; serving the revision built last");
                    crate::metrics::database_reachable(false);
                }
                let since = outage.as_ref().map_or(now, |outage| outage.since);
                *outage = Some(Outage { since, error: error.clone() });
            }
            _ => {
                if outage.take().is_some() {
                    tracing::info!("the database is reachable again");
                    crate::metrics::database_reachable(true);
                }
            }
        }
    }
}

impl Database {
    /// Remembers that revision `number` of the database cannot be served; whether it is news.
    fn note_failed(&self, number: u64) -> bool {
        self.failed.lock().unwrap_or_else(PoisonError::into_inner).replace(number) != Some(number)
    }

    fn failed(&self) -> Option<u64> {
        *self.failed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps `issuer` serving `database`'s current revision until `closing` turns true; see the
/// module docs.
pub async fn follow(issuer: &Issuer, database: &Database, mut closing: tokio::sync::watch::Receiver<bool>) {
    let mut notices = database.notices.lock().unwrap_or_else(PoisonError::into_inner).take();
    // The timer runs whatever else wakes the loop: notices of this server's own commits must
    // not keep putting it off.
    let mut next_read = tokio::time::Instant::now() + database.resync;
    loop {
        if database.outage().is_some() {
            next_read = next_read.min(tokio::time::Instant::now() + OUTAGE_RETRY);
        }
        let reason = tokio::select! {
            _ = closing.wait_for(|closing| *closing) => return,
            () = tokio::time::sleep_until(next_read) => {
                next_read = tokio::time::Instant::now() + database.resync;
                "timer"
            }
            () = database.wake.notified() => "a client is ahead",
            notice = recv(&mut notices) => match notice {
                Some(Notice::Revision(number)) if number <= issuer.current().number() => continue,
                Some(Notice::Revision(_)) => "notified",
                Some(Notice::Lost) => "listener lost",
                Some(Notice::Resync) => "listener back",
                None => {
                    // The listener stopped for good: the timer alone is left.
                    notices = None;
                    continue;
                }
            },
        };
        let _writer = issuer.lock_changes().await;
        if let Err(error) = catch_up(issuer, database).await {
            tracing::debug!(%error, reason, "cannot catch up with the database");
        }
    }
}

/// The next notice, or never when there is no listener.
async fn recv(notices: &mut Option<mpsc::Receiver<Notice>>) -> Option<Notice> {
    match notices {
        Some(notices) => notices.recv().await,
        None => std::future::pending().await,
    }
}

/// Reads the database's current revision and, when it is ahead of the one served, loads,
/// builds and installs it. Call it holding the issuer's change lock.
async fn catch_up(issuer: &Issuer, database: &Database) -> Result<(), StoreError> {
    let current = database.store.current_revision().await;
    database.note(&current, issuer.now());
    let current = current?;
    let served = issuer.current().number();
    if current < served {
        // A database restored from a backup, or imported by an older build: serving it would
        // hand clients older versions, which they refuse.
        let message = format!(
            "the database's current revision {current} is below the revision served, {served}: was it restored from an older copy? `tessera db import` the organisation again (an import is numbered at least by the time)"
        );
        if database.note_failed(current) {
            issuer.record_failure(message.clone());
        }
        return Err(StoreError::Corrupt(message));
    }
    if current == served {
        return Ok(());
    }
    if database.failed() == Some(current) {
        // It failed to build already; it will not build better now.
        return Err(StoreError::Corrupt(format!("revision {current} of the database does not build")));
    }
    let loaded = database.store.load_revision().await;
    database.note(&loaded, issuer.now());
    let Loaded { number, org, versions } = loaded?;
    match issuer.build_at(number, org, versions).await {
        Ok(revision) => {
            issuer.install(revision);
            Ok(())
        }
        Err(error) => {
            let message = match error {
                ChangeError::Invalid(errors) => {
                    format!("revision {number} of the database is an invalid organisation: {errors}")
                }
                ChangeError::Internal(message) => message,
                ChangeError::Edit(never) => match never {},
            };
            database.note_failed(number);
            issuer.record_failure(message.clone());
            Err(StoreError::Corrupt(message))
        }
    }
}

/// Why a batch was not committed.
#[derive(Debug)]
pub enum CommitError {
    /// The batch was refused (the caller, an id, validation, or a stale `expect_revision`).
    Refused(Refusal),
    /// The database cannot be reached.
    Unavailable(String),
    /// Anything else: a bug, a database that refused, a revision that does not build.
    Internal(String),
}

/// Checks `batch` for `caller`, applies it, and commits it as the database's next revision,
/// which is then served; see the module docs.
pub async fn commit_batch(
    issuer: &Issuer,
    database: &Database,
    caller: &str,
    batch: Arc<EditBatch>,
) -> Result<Changed, CommitError> {
    let edits = serde_json::to_value(&batch.edits).map_err(|e| CommitError::Internal(e.to_string()))?;
    let _writer = issuer.lock_changes().await;
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    while tokio::time::Instant::now() < deadline {
        let base = issuer.current();
        let now = issuer.now();
        let prepared = {
            let (caller, batch) = (caller.to_owned(), Arc::clone(&batch));
            issuer.prepare(Arc::clone(&base), base.number().saturating_add(1), move |revision| {
                admin::apply(revision, &caller, &batch, now)
            })
        };
        let prepared = match prepared.await {
            Ok(Some(prepared)) => prepared,
            Ok(None) => return Ok(Changed { version: base.number(), changed: false }),
            // Named a revision this replica has not heard of yet: catch up, and check again.
            Err(ChangeError::Edit(Refusal::Stale { expected, current })) if expected > current => {
                catch_up(issuer, database).await.map_err(unavailable)?;
                if issuer.current().number() == base.number() {
                    return Err(CommitError::Refused(Refusal::Stale { expected, current }));
                }
                continue;
            }
            Err(ChangeError::Edit(refusal)) => return Err(CommitError::Refused(refusal)),
            Err(ChangeError::Invalid(errors)) => return Err(CommitError::Refused(Refusal::Invalid(errors))),
            Err(ChangeError::Internal(message)) => return Err(CommitError::Internal(message)),
        };
        let committed = database
            .store
            .commit_renewing(
                (base.number(), base.org()),
                prepared.revision.org(),
                caller,
                &edits,
                Some(&prepared.renewed),
            )
            .await;
        database.note(&committed, now);
        match committed {
            Ok(number) if number == prepared.revision.number() => {
                return Ok(Changed { version: issuer.install(prepared.revision), changed: true });
            }
            Ok(number) => {
                // Cannot happen (a commit on base n makes n + 1); read it back rather than guess.
                catch_up(issuer, database).await.map_err(unavailable)?;
                return Ok(Changed { version: number, changed: true });
            }
            Err(StoreError::Stale { expected, current }) => {
                // Behind what is served (a database restored from an older copy): no retry
                // can help, and catching up says why.
                catch_up(issuer, database).await.map_err(unavailable)?;
                if current < expected {
                    return Err(CommitError::Internal(format!(
                        "the database's revision {current} is below the revision served, {expected}"
                    )));
                }
                if batch.expect_revision.is_some() {
                    return Err(CommitError::Refused(Refusal::Stale { expected, current }));
                }
            }
            Err(error) => return Err(unavailable(error)),
        }
    }
    Err(CommitError::Unavailable(format!(
        "other revisions kept coming first for {} s: try again",
        RETRY_FOR.as_secs()
    )))
}

fn unavailable(error: StoreError) -> CommitError {
    match error {
        StoreError::Unavailable(message) => CommitError::Unavailable(message),
        other => CommitError::Internal(other.to_string()),
    }
}
