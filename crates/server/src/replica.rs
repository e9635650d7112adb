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
//! - **Committing** is the write path's (`edits.rs`): it commits a batch on the revision it was
//!   made on, and catches up here ([`catch_up`]) when another revision came first.
//! - **Outages.** When the database cannot be reached, the replica keeps serving the revision it
//!   has, `/readyz` answers 503 and says since when, and edits answer 503; the next successful
//!   read (the timer, more often during an outage, or the listener coming back) ends the outage
//!   and catches up.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tessera_core::Timestamp;
use tokio::sync::mpsc;

use crate::content::Content;
use crate::issuer::{BuildError, Issuer};
use crate::store::{ContentRow, Loaded, Notice, Store, StoreError};

/// How often a replica reads the current revision when nothing told it of one, by default.
pub const DEFAULT_RESYNC: Duration = Duration::from_secs(10);
/// How long a request waits for a connection to the database before it gives up.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
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
    /// The content log as read at open, until the server holds it ([`Database::opening_content`]).
    opening_content: Mutex<Vec<ContentRow>>,
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
        let content = read_content(&store, 0).await?;
        let database = Database {
            store,
            notices: Mutex::new(notices),
            resync,
            outage: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
            failed: Mutex::new(None),
            opening_content: Mutex::new(content),
        };
        Ok((database, loaded))
    }

    /// The content log as read when the database was opened (once: later calls answer nothing).
    pub fn opening_content(&self) -> Vec<ContentRow> {
        std::mem::take(&mut *self.opening_content.lock().unwrap_or_else(PoisonError::into_inner))
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
    pub(crate) fn note<T>(&self, result: &Result<T, StoreError>, now: Timestamp) {
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

/// Keeps `issuer` serving `database`'s current revision, and `content` holding its content log,
/// until `closing` turns true; see the module docs.
pub async fn follow(
    issuer: &Issuer,
    database: &Database,
    content: &Content,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
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
                Some(Notice::Content(seq)) if seq <= content.seq() => continue,
                Some(Notice::Content(_)) => "content",
                Some(Notice::Lost) => "listener lost",
                Some(Notice::Resync) => "listener back",
                None => {
                    // The listener stopped for good: the timer alone is left.
                    notices = None;
                    continue;
                }
            },
        };
        if reason != "content" {
            let _writer = issuer.lock_changes().await;
            if let Err(error) = catch_up(issuer, database).await {
                tracing::debug!(%error, reason, "cannot catch up with the database");
            }
        }
        if let Err(error) = catch_up_content(database, content).await {
            tracing::debug!(%error, reason, "cannot read the content log");
        }
    }
}

/// How many rows of the content log one read takes.
const CONTENT_PAGE: u32 = 10_000;

/// The content log after `after`, every page of it.
async fn read_content(store: &Store, after: u64) -> Result<Vec<ContentRow>, StoreError> {
    let mut rows = Vec::new();
    let mut cursor = after;
    loop {
        let page = store.content_since(cursor, CONTENT_PAGE).await?;
        let full = page.len() == CONTENT_PAGE as usize;
        cursor = page.last().map_or(cursor, |row| row.seq);
        rows.extend(page);
        if !full {
            return Ok(rows);
        }
    }
}

/// Applies to `content` what the database's content log holds beyond it.
pub(crate) async fn catch_up_content(database: &Database, content: &Content) -> Result<(), StoreError> {
    let rows = read_content(&database.store, content.seq()).await;
    database.note(&rows, Timestamp::from_unix(0));
    content.apply(&rows?);
    Ok(())
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
pub(crate) async fn catch_up(issuer: &Issuer, database: &Database) -> Result<(), StoreError> {
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
    if current - served <= MAX_EDITS_FOLLOWED {
        match follow_edits(issuer, database, served, current).await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) => return Err(error),
        }
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
                BuildError::Invalid(errors) => {
                    format!("revision {number} of the database is an invalid organisation: {errors}")
                }
                BuildError::Internal(message) => message,
            };
            database.note_failed(number);
            issuer.record_failure(message.clone());
            Err(StoreError::Corrupt(message))
        }
    }
}

/// How many revisions behind a replica builds each from the one before by its edits rather than
/// loading the current one whole.
const MAX_EDITS_FOLLOWED: u64 = 100;

/// One revision of the log to build from the one before: its number, its edits, and whom it
/// renewed.
type Step = (u64, Vec<tessera_core::Edit>, Vec<String>);

/// Builds the revisions after `served` up to `current` from the one served, each by the edits
/// its log row names (`Cutter::edit`, as the replica that committed it built it), with the
/// snapshot versions the log gives, and installs the last: a commit elsewhere costs what it
/// changed here too. `false` when the log holds something else in between (an import, a row
/// other tools wrote) or the edits do not rebuild it, and the revision must be loaded whole.
async fn follow_edits(
    issuer: &Issuer,
    database: &Database,
    served: u64,
    current: u64,
) -> Result<bool, StoreError> {
    let count = u32::try_from(current - served).unwrap_or(u32::MAX);
    let rows = database.store.revisions(served, count).await;
    database.note(&rows, issuer.now());
    let rows = rows?;
    let contiguous = rows.len() == count as usize
        && rows.iter().zip(served.saturating_add(1)..).all(|(row, number)| row.number == number);
    let steps: Option<Vec<Step>> = contiguous
        .then(|| {
            rows.into_iter()
                .map(|row| {
                    let edits = serde_json::from_value::<Vec<tessera_core::Edit>>(row.edits).ok()?;
                    Some((row.number, edits, row.renewed?))
                })
                .collect()
        })
        .flatten();
    let Some(steps) = steps else { return Ok(false) };
    let base = issuer.current();
    let now = issuer.now();
    let built = tokio::task::spawn_blocking(move || {
        let mut revision = base;
        for (number, edits, renewed) in steps {
            let started = std::time::Instant::now();
            let Ok(edited) = revision.cutter().edit(&edits, now) else { return None };
            // The versions are the log's: whom the committing replica renewed.
            let next = crate::issuer::Revision::edited(
                number,
                &revision,
                edited.into_cutter(),
                &renewed,
                now,
                started.elapsed(),
            );
            revision = std::sync::Arc::new(next);
        }
        Some(revision)
    })
    .await
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    match built.and_then(|revision| std::sync::Arc::try_unwrap(revision).ok()) {
        Some(revision) => {
            issuer.install(revision);
            Ok(true)
        }
        None => Ok(false),
    }
}
