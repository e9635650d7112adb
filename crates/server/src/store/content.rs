//! What people write beside the organisation (tasks, files, wiki texts, messages,
//! announcements, group names: the `content` log), and the answers kept for an
//! `Idempotency-Key` (`idempotency`). Both written under the organisation's write lock, so that
//! `content.seq` follows the order of commit and a key is checked and kept in the same
//! transaction as what it guards.

use serde::{Deserialize, Serialize};
use sqlx::{Any, Row as _, Transaction};
use tessera_core::Timestamp;

use super::{Backend, Store, StoreError};

/// How long an `Idempotency-Key` is remembered, in seconds.
pub const REMEMBERED_FOR_SECONDS: i64 = 24 * 3600;

/// An answer kept with an `Idempotency-Key`: the fingerprint of the request that got it, and
/// what it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    /// The request's fingerprint (its method, path and body, hashed).
    pub fingerprint: String,
    /// The HTTP status it got.
    pub status: u16,
    /// The JSON body it got.
    pub body: serde_json::Value,
}

/// What a kind of content is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    /// A task of a Project (`container`: the Project; `title`).
    Task,
    /// A file of a Project, searched as a document (`container`: the Project; `title`: its
    /// name; `body`: its text).
    Document,
    /// A Project's wiki (`id` and `container`: the Project; `body`: the text). The newest row
    /// is the text.
    Wiki,
    /// A message of a direct message (`container`: the conversation; `body`).
    Message,
    /// An announcement (`container`: `network:ID` or `group:ID`; `body`).
    Announcement,
    /// A group's name (`id` and `container`: the group; `title`).
    Group,
}

impl ContentKind {
    fn as_str(self) -> &'static str {
        match self {
            ContentKind::Task => "task",
            ContentKind::Document => "document",
            ContentKind::Wiki => "wiki",
            ContentKind::Message => "message",
            ContentKind::Announcement => "announcement",
            ContentKind::Group => "group",
        }
    }

    fn parse(text: &str) -> Option<ContentKind> {
        Some(match text {
            "task" => ContentKind::Task,
            "document" => ContentKind::Document,
            "wiki" => ContentKind::Wiki,
            "message" => ContentKind::Message,
            "announcement" => ContentKind::Announcement,
            "group" => ContentKind::Group,
            _ => return None,
        })
    }
}

/// One row of the content log, to write ([`Store::write_content`]) or as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentRow {
    /// Its place in the log (0 until written).
    pub seq: u64,
    /// What it is.
    pub kind: ContentKind,
    /// Its id.
    pub id: String,
    /// What it belongs to (see [`ContentKind`]).
    pub container: String,
    /// Who wrote it.
    pub author: String,
    /// A task's title, a file's or a group's name.
    pub title: String,
    /// A file's, wiki's, message's or announcement's text.
    pub body: String,
    /// When it was written, by the database's clock (as given, until written).
    pub at: Timestamp,
}

impl Backend {
    /// A condition on a time column: within the last `seconds`.
    fn within(self, column: &str, seconds: i64) -> String {
        match self {
            Backend::Postgres => format!("{column} > now() - make_interval(secs => {seconds})"),
            Backend::Sqlite => format!("{column} > unixepoch() - {seconds}"),
        }
    }
}

impl Store {
    /// The answer remembered for `caller`'s `key`, if it is less than a day old.
    pub async fn remembered(&self, caller: &str, key: &str) -> Result<Option<Remembered>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        remembered(&mut conn, self.backend, caller, key).await
    }

    /// Keeps `answer` for `caller`'s `key` alone (a batch that changed nothing, and so committed
    /// nothing, keeps its key all the same). A key remembered already answers
    /// [`StoreError::Replayed`], and nothing is written.
    pub async fn remember(&self, caller: &str, key: &str, answer: &Remembered) -> Result<(), StoreError> {
        let mut tx = self.backend.begin_write(&self.pool).await?;
        if let Some(found) = remembered(&mut tx, self.backend, caller, key).await? {
            return Err(StoreError::Replayed(found));
        }
        remember_in(&mut tx, self.backend, caller, key, answer).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends `row` to the content log (its `seq` given by the database, `at` as given), with the
    /// answer to remember for `caller`'s key, if any, in the same transaction; answers the row as
    /// written. A key remembered already answers [`StoreError::Replayed`], and nothing is
    /// written.
    pub async fn write_content(
        &self,
        row: &ContentRow,
        remember: Option<(&str, &Remembered)>,
    ) -> Result<ContentRow, StoreError> {
        let mut tx = self.backend.begin_write(&self.pool).await?;
        if let Some((key, _)) = remember
            && let Some(found) = remembered(&mut tx, self.backend, &row.author, key).await?
        {
            return Err(StoreError::Replayed(found));
        }
        let last: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM content").fetch_one(&mut *tx).await?;
        let seq = last.checked_add(1).ok_or_else(|| StoreError::Corrupt("content overflow".to_owned()))?;
        let sql = format!(
            "INSERT INTO content (seq, kind, id, container, author, title, body, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, {})",
            self.backend.time_parameter(8)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seq)
            .bind(row.kind.as_str())
            .bind(&row.id)
            .bind(&row.container)
            .bind(&row.author)
            .bind(&row.title)
            .bind(&row.body)
            .bind(row.at.unix())
            .execute(&mut *tx)
            .await?;
        if let Some((key, answer)) = remember {
            remember_in(&mut tx, self.backend, &row.author, key, answer).await?;
        }
        self.backend.notify_content(&mut tx, seq).await?;
        tx.commit().await?;
        let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("content seq {seq}")))?;
        Ok(ContentRow { seq, ..row.clone() })
    }

    /// The content log after `after`, oldest first, at most `limit` rows.
    pub async fn content_since(&self, after: u64, limit: u32) -> Result<Vec<ContentRow>, StoreError> {
        let sql = format!(
            "SELECT seq, kind, id, container, author, title, body, {} FROM content \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
            self.backend.time_column("at")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get(0)?;
                let kind: String = row.try_get(1)?;
                let at: i64 = row.try_get(7)?;
                Ok(ContentRow {
                    seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("content seq {seq}")))?,
                    kind: ContentKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("content of an unknown kind `{kind}`")))?,
                    id: row.try_get(2)?,
                    container: row.try_get(3)?,
                    author: row.try_get(4)?,
                    title: row.try_get(5)?,
                    body: row.try_get(6)?,
                    at: Timestamp::from_unix(at),
                })
            })
            .collect()
    }
}

/// The answer remembered for `caller`'s `key` within a day, read through `conn`.
async fn remembered(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    caller: &str,
    key: &str,
) -> Result<Option<Remembered>, StoreError> {
    let sql = format!(
        "SELECT fingerprint, status, body FROM idempotency WHERE caller = $1 AND key = $2 AND {}",
        backend.within("at", REMEMBERED_FOR_SECONDS)
    );
    let Some(row) =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(caller).bind(key).fetch_optional(&mut *conn).await?
    else {
        return Ok(None);
    };
    let status: i32 = row.try_get(1)?;
    let body: String = row.try_get(2)?;
    Ok(Some(Remembered {
        fingerprint: row.try_get(0)?,
        status: u16::try_from(status)
            .map_err(|_| StoreError::Corrupt(format!("a remembered status {status}")))?,
        body: serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("a remembered answer is not JSON: {e}")))?,
    }))
}

/// Keeps `answer` for `caller`'s `key` (replacing one past its day), and forgets every key past
/// its day.
pub(crate) async fn remember_in(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    caller: &str,
    key: &str,
    answer: &Remembered,
) -> Result<(), StoreError> {
    let expired =
        format!("DELETE FROM idempotency WHERE NOT ({})", backend.within("at", REMEMBERED_FOR_SECONDS));
    sqlx::query(sqlx::AssertSqlSafe(expired)).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM idempotency WHERE caller = $1 AND key = $2")
        .bind(caller)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO idempotency (caller, key, fingerprint, status, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(caller)
    .bind(key)
    .bind(&answer.fingerprint)
    .bind(i32::from(answer.status))
    .bind(answer.body.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// [`remembered`] inside a write transaction.
pub(crate) async fn remembered_in(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    caller: &str,
    key: &str,
) -> Result<Option<Remembered>, StoreError> {
    remembered(tx, backend, caller, key).await
}
