//! The organisation in a database: PostgreSQL for replicas that share one organisation, or an
//! embedded SQLite file.
//!
//! One code path over both, through sqlx's `Any` driver; what the two databases say differently
//! (time and JSON column types, how a transaction locks, `NOTIFY`) is in [`Backend`], and their
//! tables in `migrations/postgres` and `migrations/sqlite`. `docs/database.md` describes the
//! schema: one table per entity of the source format, one per list or map of an entity, and
//! `revisions`, the log of changes.
//!
//! - [`Store::import`] replaces the whole organisation (validated first; nothing is written when
//!   it is invalid) and appends a revision.
//! - [`Store::load`] reads the current revision and its organisation in one transaction.
//! - [`Store::commit`] writes the next organisation as the rows that differ from the one of the
//!   revision it was made on, under a lock, or refuses with [`StoreError::Stale`] when another
//!   revision came first; it appends a revision (one more than the last: numbers only grow,
//!   across restarts and replicas) and, on PostgreSQL, notifies `tessera_revisions`.
//! - [`listen`] (PostgreSQL) tells of each revision committed anywhere, and of every reconnect,
//!   after which notifications may have been missed ([`Notice::Resync`]).
//!
//! Every entity keeps its place: the tables hold a `position` wherever the source format has an
//! array, so that what is exported is exactly what was imported.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Row as _, Transaction};
use tessera_core::{Org, Policy, Timestamp, ValidationErrors};

pub use crate::issuer::SnapshotVersions;

mod content;
mod schema;
mod write;

pub use content::{ContentKind, ContentRow, REMEMBERED_FOR_SECONDS, Remembered};

/// The channel `commit` and `import` notify on PostgreSQL, with the new revision's number as the
/// payload.
pub const CHANNEL: &str = "tessera_revisions";

/// The key of the PostgreSQL advisory lock that every write of the organisation holds for its
/// transaction (`pg_advisory_xact_lock`): "tessera!" in ASCII.
pub const LOCK_KEY: i64 = 0x7465_7373_6572_6121;

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");

// ---- Errors ----------------------------------------------------------------------------------------

/// Why the store could not do what it was asked.
#[derive(Debug)]
pub enum StoreError {
    /// The URL is neither `sqlite:PATH` nor `postgres://…`, or sqlx refused it.
    Url(String),
    /// The database cannot be reached, or the connection broke (I/O, a pool timeout, SQLite
    /// busy beyond its timeout). Worth retrying.
    Unavailable(String),
    /// The organisation does not validate; nothing was written.
    Invalid(ValidationErrors),
    /// The change was made on a revision that is no longer the current one; nothing was
    /// written.
    Stale {
        /// The revision the change was made on.
        expected: u64,
        /// The current revision.
        current: u64,
    },
    /// No organisation was ever imported.
    Empty,
    /// A stored value cannot be read back (an unknown access level, a child row of a missing
    /// entity, unreadable JSON).
    Corrupt(String),
    /// The migrations failed, or the database was migrated by a build that knows migrations
    /// this one does not.
    Migrate(String),
    /// Any other refusal of the database (a missing table: run the migrations).
    Database(String),
    /// The `Idempotency-Key` was used already (within a day): its answer, and nothing written.
    Replayed(Remembered),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Url(message) => write!(f, "invalid database URL: {message}"),
            StoreError::Unavailable(message) => write!(f, "the database is unavailable: {message}"),
            StoreError::Invalid(errors) => write!(f, "the organisation is invalid: {errors}"),
            StoreError::Stale { expected, current } => {
                write!(f, "the change was made on revision {expected}, but the current revision is {current}")
            }
            StoreError::Empty => f.write_str("the database holds no organisation yet: import one"),
            StoreError::Corrupt(message) => write!(f, "the stored organisation cannot be read: {message}"),
            StoreError::Migrate(message) => write!(f, "cannot migrate the database: {message}"),
            StoreError::Database(message) => write!(f, "the database refused: {message}"),
            StoreError::Replayed(_) => f.write_str("the request was made already"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        use sqlx::Error as E;
        match error {
            E::Configuration(e) => StoreError::Url(e.to_string()),
            E::Io(_) | E::Tls(_) | E::Protocol(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                StoreError::Unavailable(error.to_string())
            }
            E::Database(e) => database_error(&e.code().unwrap_or_default(), e.message()),
            E::ColumnDecode { .. }
            | E::Decode(_)
            | E::ColumnNotFound(_)
            | E::ColumnIndexOutOfBounds { .. }
            | E::TypeNotFound { .. } => StoreError::Corrupt(error.to_string()),
            E::Migrate(e) => StoreError::Migrate(e.to_string()),
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// A refusal of the database, told apart: gone or busy (worth retrying), a missing table, or
/// anything else.
fn database_error(code: &str, message: &str) -> StoreError {
    // SQLite's codes are numbers (SQLITE_BUSY 5 and SQLITE_LOCKED 6, with their extended codes);
    // PostgreSQL's are five-character SQLSTATEs (class 08: the connection; 57P0x: shutting down).
    let sqlite_busy = code.len() < 5 && code.parse::<u32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6));
    let postgres_gone =
        code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "55P03");
    if sqlite_busy || postgres_gone {
        StoreError::Unavailable(message.to_owned())
    } else if code == "42P01" || message.starts_with("no such table") {
        StoreError::Database(format!("{message} (has `tessera db migrate` run?)"))
    } else {
        StoreError::Database(message.to_owned())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> StoreError {
        match error {
            sqlx::migrate::MigrateError::Execute(e) => match StoreError::from(e) {
                StoreError::Unavailable(message) => StoreError::Unavailable(message),
                other => StoreError::Migrate(other.to_string()),
            },
            other => StoreError::Migrate(other.to_string()),
        }
    }
}

// ---- The two databases -----------------------------------------------------------------------------

/// Which database a [`Store`] talks to, and everything the two say differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend of `url`, and the URL sqlx is given: a SQLite file is created when missing.
    fn of(url: &str) -> Result<(Backend, String), StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok((Backend::Postgres, url.to_owned()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            if rest.trim_start_matches('/').is_empty() {
                return Err(StoreError::Url("`sqlite:` needs a file: sqlite:PATH".to_owned()));
            }
            if url.contains("mode=") || rest.contains(":memory:") {
                return Ok((Backend::Sqlite, url.to_owned()));
            }
            let separator = if url.contains('?') { '&' } else { '?' };
            return Ok((Backend::Sqlite, format!("{url}{separator}mode=rwc")));
        }
        Err(StoreError::Url("expected `sqlite:PATH` or `postgres://USER@HOST:PORT/DATABASE`".to_owned()))
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Postgres => &POSTGRES_MIGRATIONS,
            Backend::Sqlite => &SQLITE_MIGRATIONS,
        }
    }

    /// The most bind parameters one statement may carry.
    pub(crate) fn max_parameters(self) -> usize {
        match self {
            Backend::Postgres => 65_535,
            Backend::Sqlite => 32_766,
        }
    }

    /// The placeholder of parameter `n` (from 1), where parameters are bound in the order of
    /// their placeholders. SQLite's is anonymous: it finds a named one's number by a linear
    /// search, which made a batch of 16,384 parameters quadratic.
    pub(crate) fn parameter(self, n: usize) -> String {
        match self {
            Backend::Postgres => format!("${n}"),
            Backend::Sqlite => "?".to_owned(),
        }
    }

    /// The placeholder of parameter `n` for a time given as Unix seconds.
    pub(crate) fn time_parameter(self, n: usize) -> String {
        match self {
            Backend::Postgres => format!("to_timestamp(${n})"),
            Backend::Sqlite => "?".to_owned(),
        }
    }

    /// A time column, read as Unix seconds.
    pub(crate) fn time_column(self, column: &str) -> String {
        match self {
            Backend::Postgres => format!("CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT)"),
            Backend::Sqlite => column.to_owned(),
        }
    }

    /// An aggregate: the values of `item` of a group as a JSON array of text, in `order`.
    pub(crate) fn json_list(self, item: &str, order: &str) -> String {
        match self {
            Backend::Postgres => format!("CAST(json_agg({item} ORDER BY {order}) AS TEXT)"),
            Backend::Sqlite => format!("json_group_array({item} ORDER BY {order})"),
        }
    }

    /// The placeholder of parameter `n` for JSON given as text.
    fn json_parameter(self, n: usize) -> String {
        match self {
            Backend::Postgres => format!("CAST(${n} AS JSONB)"),
            Backend::Sqlite => format!("${n}"),
        }
    }

    /// A read-only transaction that sees one state of the database throughout.
    async fn begin_read(self, pool: &AnyPool) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self {
            // READ COMMITTED would take a new snapshot per statement.
            Backend::Postgres => pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?,
            // A read transaction sees the database as it was at its first read.
            Backend::Sqlite => pool.begin().await?,
        })
    }

    /// A transaction that holds the organisation's write lock until it ends: one writer at a
    /// time, whichever process or replica it runs in.
    async fn begin_write(self, pool: &AnyPool) -> Result<Transaction<'static, Any>, StoreError> {
        match self {
            Backend::Postgres => {
                let mut tx = pool.begin().await?;
                // A writer that holds the lock and is gone (its host died mid-transaction) must
                // not freeze every other writer until PostgreSQL notices: past this wait, the
                // database counts as unavailable (SQLSTATE 55P03).
                sqlx::query("SET LOCAL lock_timeout = '10s'").execute(&mut *tx).await?;
                sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
            Backend::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        }
    }

    /// After an import: SQLite moves what the import wrote from the write-ahead log into the
    /// database file, and empties the log, so that reads do not look each page up in a log the
    /// size of the database. Best effort: a reader in the way leaves it to SQLite's own
    /// checkpoints.
    async fn after_import(self, pool: &AnyPool) {
        if self == Backend::Sqlite
            && let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await
        {
            tracing::debug!(%error, "no checkpoint after the import");
        }
    }

    /// The database's clock, in whole Unix seconds.
    fn now_seconds(self) -> &'static str {
        match self {
            Backend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)",
            Backend::Sqlite => "SELECT CAST(unixepoch() AS BIGINT)",
        }
    }

    /// Tells listeners of content row `seq` when the transaction commits (PostgreSQL only), as
    /// `content:SEQ` on the revisions' channel.
    async fn notify_content(self, tx: &mut Transaction<'static, Any>, seq: i64) -> Result<(), StoreError> {
        if self == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(format!("content:{seq}"))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Tells listeners of revision `number` when the transaction commits (PostgreSQL only).
    async fn notify(self, tx: &mut Transaction<'static, Any>, number: u64) -> Result<(), StoreError> {
        if self == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(number.to_string())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

// ---- The store -------------------------------------------------------------------------------------

/// One revision of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionRow {
    /// Its number: one more than the revision before it.
    pub number: u64,
    /// When it was written, by the database's clock, to the second.
    pub at: Timestamp,
    /// Who wrote it.
    pub who: String,
    /// What the writer said it did: the edits of a commit, a summary of an import.
    pub edits: serde_json::Value,
    /// Whose snapshots it renewed: the users its edits changed, or `None` for everyone (an
    /// import, a row other tools wrote).
    #[serde(skip)]
    pub renewed: Option<Vec<String>>,
}

/// The organisation's database: a pool of connections, cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `sqlite:PATH` (the file is created when missing) or `postgres://…`. The
    /// schema is not touched: see [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, Duration::from_secs(30)).await
    }

    /// [`Store::connect`], where taking a connection from the pool (and making one) gives up
    /// after `acquire_timeout`: how long a request waits for a database that is gone.
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = Backend::of(url)?;
        let mut options = AnyPoolOptions::new().acquire_timeout(acquire_timeout);
        if backend == Backend::Sqlite && url.contains(":memory:") {
            // Every connection would open a database of its own: keep one, for ever.
            options = options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        }
        let pool = options.connect(&url).await?;
        Ok(Store { pool, backend })
    }

    /// Whether this is PostgreSQL (else SQLite).
    pub fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Brings the schema up to date, under the database's lock, so that replicas that start
    /// together are safe: a PostgreSQL advisory lock (sqlx's), a SQLite write transaction.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = self.backend.migrator();
        // `run_direct` is sqlx's own way around `Migrator::run`'s future not being `Send` (its
        // `Acquire` bound is "not general enough"); the issuer runs this on its runtime.
        match self.backend {
            Backend::Postgres => {
                let mut conn = self.pool.acquire().await?;
                migrator.run_direct(None, &mut *conn, false).await?;
            }
            Backend::Sqlite => {
                // Readers never wait for the writer, nor the writer for them. Set once, it stays.
                sqlx::query("PRAGMA journal_mode = WAL").execute(&self.pool).await?;
                let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                migrator.run_direct(None, &mut *tx, false).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Replaces the whole organisation with `org` in one transaction, and appends a revision;
    /// answers its number. `org` is validated first ([`Policy::new`]): when it is invalid,
    /// nothing is written.
    pub async fn import(&self, org: &Org, who: &str) -> Result<u64, StoreError> {
        off_the_runtime(|| Policy::new(org).map(drop)).map_err(StoreError::Invalid)?;
        let edits = serde_json::json!({ "import": {
            "networks": org.networks.len(),
            "offices": org.offices.len(),
            "users": org.users.len(),
            "projects": org.projects.len(),
            "agreements": org.agreements.len(),
            "groups": org.groups.len(),
            "direct_messages": org.direct_messages.len(),
        }});
        let mut tx = self.backend.begin_write(&self.pool).await?;
        let current = current_revision(&mut tx).await?;
        let now: i64 = sqlx::query_scalar(self.backend.now_seconds()).fetch_one(&mut *tx).await?;
        // An import renews every snapshot, and its number is at least the Unix time: snapshot
        // versions stay above those a server without a database gave (the Unix time at its
        // start), and above any a client holds from before the import.
        let number = next_number(current)?.max(u64::try_from(now).unwrap_or(0));
        let rows = write::replace_all(&mut tx, self.backend, org).await?;
        self.append(&mut tx, number, who, &edits, None).await?;
        tx.commit().await?;
        self.backend.after_import(&self.pool).await;
        tracing::info!(revision = number, rows, "imported the organisation");
        Ok(number)
    }

    /// The current revision, its organisation and its users' snapshot versions, read in one
    /// transaction. A user's version is the last revision that renewed them: the last that
    /// renewed everyone (an import, a row other tools wrote), or a later commit whose impact
    /// named them.
    pub async fn load_revision(&self) -> Result<Loaded, StoreError> {
        let mut tx = self.backend.begin_read(&self.pool).await?;
        let number = current_revision(&mut tx).await?;
        if number == 0 {
            return Err(StoreError::Empty);
        }
        let versions = read_versions(&mut tx).await?;
        let org = schema::read(&mut tx, self.backend).await?;
        tx.commit().await?;
        Ok(Loaded { number, org, versions })
    }

    /// The current revision and its organisation, read in one transaction.
    pub async fn load(&self) -> Result<(u64, Org), StoreError> {
        let mut tx = self.backend.begin_read(&self.pool).await?;
        let number = current_revision(&mut tx).await?;
        if number == 0 {
            return Err(StoreError::Empty);
        }
        let org = schema::read(&mut tx, self.backend).await?;
        tx.commit().await?;
        Ok((number, org))
    }

    /// The current revision's number; 0 when nothing was ever imported.
    pub async fn current_revision(&self) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        current_revision(&mut conn).await
    }

    /// Writes `next`, made on revision `base.0` whose organisation is `base.1`, as the next
    /// revision, in one transaction: under the write lock, the current revision is read, and
    /// unless it is `base.0` the change is refused ([`StoreError::Stale`]); then only the rows
    /// that differ between `base.1` and `next` are written (each table compared by id), the
    /// revision is appended (one more than the current), PostgreSQL's listeners are notified,
    /// and the transaction commits. Answers the new revision's number.
    ///
    /// `base.1` must be exactly the organisation of revision `base.0` (as [`Store::load`] or the
    /// commit that made it gave it), and the caller validates `next` first. A commit always
    /// makes a revision, even when nothing differs.
    pub async fn commit(
        &self,
        base: (u64, &Org),
        next: &Org,
        who: &str,
        edits: &serde_json::Value,
    ) -> Result<u64, StoreError> {
        self.commit_renewing(base, next, who, edits, None, None).await
    }

    /// [`Store::commit`], saying whose snapshots the revision renews: `Some(users)`, those whose
    /// decisions differ between `base` and `next` (`tessera_core::changed_users`), every other
    /// user keeping the snapshot version they had; `None`, everyone. With `remember`, the answer
    /// to keep for `who`'s `Idempotency-Key`, in the same transaction: a key remembered already
    /// answers [`StoreError::Replayed`], and nothing is written.
    pub async fn commit_renewing(
        &self,
        base: (u64, &Org),
        next: &Org,
        who: &str,
        edits: &serde_json::Value,
        renewed: Option<&[String]>,
        remember: Option<(&str, &Remembered)>,
    ) -> Result<u64, StoreError> {
        let (expected, base) = base;
        // The comparison is made before the lock is taken: it needs no database, and reads
        // every entity of both (some 0.1 s at 100,000 users and 500,000 Projects).
        let changes = off_the_runtime(|| write::Changes::between(base, next));
        let mut tx = self.backend.begin_write(&self.pool).await?;
        if let Some((key, _)) = remember
            && let Some(found) = content::remembered_in(&mut tx, self.backend, who, key).await?
        {
            return Err(StoreError::Replayed(found));
        }
        let current = current_revision(&mut tx).await?;
        if current != expected {
            return Err(StoreError::Stale { expected, current });
        }
        let rows = changes.write(&mut tx, self.backend).await?;
        let number = next_number(current)?;
        self.append(&mut tx, number, who, edits, renewed).await?;
        if let Some((key, answer)) = remember {
            content::remember_in(&mut tx, self.backend, who, key, answer).await?;
        }
        tx.commit().await?;
        tracing::debug!(revision = number, rows, "committed a revision");
        Ok(number)
    }

    /// Writes revision `base + 1`, made on revision `base` by the edits of a batch: only the
    /// elements `changes` names, as `next` (the revision the edits made) holds them, and the
    /// revision's row (`edits` as the caller gave them, whom it `renewed`), in one transaction
    /// under the write lock, refused as [`StoreError::Stale`] unless `base` is still the
    /// current revision. Nothing compares organisations: the batch knows what it changed. With
    /// `remember`, the answer kept for `who`'s `Idempotency-Key` (see [`Store::commit_renewing`]).
    #[expect(
        clippy::too_many_arguments,
        reason = "one commit: what it is made on, what it writes, who and why"
    )]
    pub async fn commit_changes(
        &self,
        base: u64,
        next: &tessera_core::Cutter,
        changes: &tessera_core::Changes,
        who: &str,
        edits: &serde_json::Value,
        renewed: &[String],
        remember: Option<(&str, &Remembered)>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.backend.begin_write(&self.pool).await?;
        if let Some((key, _)) = remember
            && let Some(found) = content::remembered_in(&mut tx, self.backend, who, key).await?
        {
            return Err(StoreError::Replayed(found));
        }
        let current = current_revision(&mut tx).await?;
        if current != base {
            return Err(StoreError::Stale { expected: base, current });
        }
        let rows = write::write_changed(&mut tx, self.backend, next, changes).await?;
        let number = next_number(current)?;
        self.append(&mut tx, number, who, edits, Some(renewed)).await?;
        if let Some((key, answer)) = remember {
            content::remember_in(&mut tx, self.backend, who, key, answer).await?;
        }
        tx.commit().await?;
        tracing::debug!(revision = number, rows, "committed a revision");
        Ok(number)
    }

    /// The revisions after `after`, oldest first, at most `limit` of them.
    pub async fn revisions(&self, after: u64, limit: u32) -> Result<Vec<RevisionRow>, StoreError> {
        let sql = format!(
            "SELECT number, {}, who, CAST(edits AS TEXT), CAST(renewed AS TEXT) FROM revisions WHERE number > $1 ORDER BY number LIMIT $2",
            self.backend.time_column("at")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let number: i64 = row.try_get(0)?;
                let at: i64 = row.try_get(1)?;
                let who: String = row.try_get(2)?;
                let edits: String = row.try_get(3)?;
                // JSON `null`, as other tools may write, means everyone, as SQL NULL does.
                let renewed = match row.try_get::<Option<String>, _>(4)?.filter(|text| text.trim() != "null")
                {
                    None => None,
                    Some(users) => Some(serde_json::from_str::<Vec<String>>(&users).map_err(|e| {
                        StoreError::Corrupt(format!(
                            "whom revision {number} renewed is not a list of ids: {e}"
                        ))
                    })?),
                };
                Ok(RevisionRow {
                    number: u64::try_from(number)
                        .map_err(|_| StoreError::Corrupt(format!("revision number {number}")))?,
                    at: Timestamp::from_unix(at),
                    who,
                    edits: serde_json::from_str(&edits).map_err(|e| {
                        StoreError::Corrupt(format!("the edits of revision {number} are not JSON: {e}"))
                    })?,
                    renewed,
                })
            })
            .collect()
    }

    /// Appends revision `number`, renewing `renewed` (everyone when `None`), and notifies of it.
    async fn append(
        &self,
        tx: &mut Transaction<'static, Any>,
        number: u64,
        who: &str,
        edits: &serde_json::Value,
        renewed: Option<&[String]>,
    ) -> Result<(), StoreError> {
        let stored =
            i64::try_from(number).map_err(|_| StoreError::Corrupt("revision overflow".to_owned()))?;
        let sql = format!(
            "INSERT INTO revisions (number, who, edits, renewed) VALUES ($1, $2, {}, {})",
            self.backend.json_parameter(3),
            self.backend.json_parameter(4)
        );
        let renewed = renewed.map(|users| serde_json::Value::from(users.to_vec()).to_string());
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(stored)
            .bind(who)
            .bind(edits.to_string())
            .bind(renewed)
            .execute(&mut **tx)
            .await?;
        self.backend.notify(tx, number).await?;
        Ok(())
    }
}

/// Runs `work`, CPU-bound, where it does not hold up other tasks: on a multi-threaded Tokio
/// runtime in place, its other tasks moved to other threads meanwhile (`block_in_place`), since
/// the store's methods take references that the blocking pool could not hold; anywhere else (a
/// current-thread runtime, as the CLI's) as it is.
fn off_the_runtime<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// The revision after `current`.
fn next_number(current: u64) -> Result<u64, StoreError> {
    current.checked_add(1).ok_or_else(|| StoreError::Corrupt("revision overflow".to_owned()))
}

/// What [`Store::load_revision`] reads.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The current revision.
    pub number: u64,
    /// Its organisation.
    pub org: Org,
    /// Its users' snapshot versions.
    pub versions: SnapshotVersions,
}

/// The users' snapshot versions from the log: from the last revision that renewed everyone on.
async fn read_versions(conn: &mut sqlx::AnyConnection) -> Result<SnapshotVersions, StoreError> {
    let rows = sqlx::query(
        "SELECT number, CAST(renewed AS TEXT) FROM revisions \
         WHERE number >= (SELECT COALESCE(MAX(number), 0) FROM revisions WHERE renewed IS NULL) \
         ORDER BY number",
    )
    .fetch_all(conn)
    .await?;
    let mut versions = SnapshotVersions::default();
    for row in rows {
        let number: i64 = row.try_get(0)?;
        let number =
            u64::try_from(number).map_err(|_| StoreError::Corrupt(format!("revision number {number}")))?;
        // JSON `null`, as other tools may write, means everyone, as SQL NULL does.
        let renewed: Option<String> =
            row.try_get::<Option<String>, _>(1)?.filter(|text| text.trim() != "null");
        match renewed {
            None => versions = SnapshotVersions::all_at(number),
            Some(users) => {
                let users: Vec<String> = serde_json::from_str(&users).map_err(|e| {
                    StoreError::Corrupt(format!("whom revision {number} renewed is not a list of ids: {e}"))
                })?;
                versions.renew(users, number);
            }
        }
    }
    Ok(versions)
}

/// The current revision's number, 0 if there is none.
async fn current_revision(conn: &mut sqlx::AnyConnection) -> Result<u64, StoreError> {
    let number: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) FROM revisions").fetch_one(conn).await?;
    u64::try_from(number).map_err(|_| StoreError::Corrupt(format!("revision number {number}")))
}

// ---- Listening -------------------------------------------------------------------------------------

/// What [`listen`] tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Revision `n` was committed.
    Revision(u64),
    /// Content row `seq` was written.
    Content(u64),
    /// The listening connection broke; it is being made again, and a [`Notice::Resync`] follows
    /// when it is. Revisions committed meanwhile are not told.
    Lost,
    /// The connection was lost and made again: revisions committed meanwhile were not told.
    /// Read [`Store::current_revision`] again.
    Resync,
}

/// How long [`listen`] waits before it tries to connect again, at most.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// PostgreSQL only: the revisions committed to the database at `url`, by any process, as they
/// are committed. The connection is made (and `LISTEN` issued) before this returns, so a caller
/// that listens first and then reads [`Store::current_revision`] misses nothing. When the
/// connection breaks, a [`Notice::Lost`] says so, it is made again (retried with a growing
/// delay, up to [`MAX_RECONNECT_DELAY`]) and a [`Notice::Resync`] follows. Drop the receiver to stop.
pub async fn listen(url: &str) -> Result<tokio::sync::mpsc::Receiver<Notice>, StoreError> {
    if Backend::of(url)?.0 != Backend::Postgres {
        return Err(StoreError::Url("only PostgreSQL tells of revisions: `postgres://…`".to_owned()));
    }
    let mut listener = subscribe(url).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel(1024);
    let url = url.to_owned();
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                () = sender.closed() => return,
                received = listener.try_recv() => received,
            };
            let notice = match received {
                Ok(Some(notification)) => match notification.payload().parse::<u64>() {
                    Ok(number) => Notice::Revision(number),
                    Err(_)
                        if let Some(Ok(seq)) =
                            notification.payload().strip_prefix("content:").map(str::parse::<u64>) =>
                    {
                        Notice::Content(seq)
                    }
                    Err(_) => {
                        tracing::warn!(
                            payload = notification.payload(),
                            "a notification that is not a revision"
                        );
                        Notice::Resync
                    }
                },
                Ok(None) | Err(_) => {
                    tracing::warn!("lost the connection that listens for revisions; connecting again");
                    if sender.send(Notice::Lost).await.is_err() {
                        return;
                    }
                    let mut delay = Duration::from_millis(100);
                    listener = loop {
                        tokio::select! {
                            () = sender.closed() => return,
                            subscribed = subscribe(&url) => match subscribed {
                                Ok(listener) => break listener,
                                Err(error) => tracing::warn!(%error, "cannot listen for revisions yet"),
                            },
                        }
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(MAX_RECONNECT_DELAY);
                    };
                    Notice::Resync
                }
            };
            if sender.send(notice).await.is_err() {
                return;
            }
        }
    });
    Ok(receiver)
}

async fn subscribe(url: &str) -> Result<sqlx::postgres::PgListener, StoreError> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    // We reconnect ourselves, so as to say so.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
