//! Writing the organisation: all of it ([`replace_all`]), the elements an edit changed, by id
//! ([`write_changed`]), or the rows that differ between two organisations ([`Changes`], for
//! tools that hold two whole organisations).
//!
//! Rows go in batches: a multi-row `INSERT … VALUES`, a `DELETE … WHERE … IN (…)`, an
//! `UPDATE … FROM (VALUES …)`, each with as many rows as [`BATCH_PARAMETERS`] allows.
//!
//! An entity's `position` is a sort key, not its index: deleting one leaves a gap, and one
//! appended after the last takes the next number, so neither moves the others. Only an entity
//! put between two whose positions are adjacent, or a new order of the entities kept, numbers
//! the whole table again.

use std::collections::{HashMap, HashSet};

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments as _, Row as _, Transaction};
use tessera_core::Org;

use super::schema::{Entity, Kind, ORGANISATION_TABLES, Table, Val};
use super::{Backend, StoreError};

/// The bind parameters of one batched statement, at most.
const BATCH_PARAMETERS: usize = 16_384;

type Tx = Transaction<'static, Any>;

/// Rows to write, each its values in column order. Boxed: an iterator of closures held across
/// an `.await` would make the future `Send` for no lifetime the compiler can name.
type Rows<'a> = Box<dyn Iterator<Item = Vec<Val<'a>>> + Send + 'a>;

// ---- Batched statements ----------------------------------------------------------------------------

fn bind(arguments: &mut AnyArguments, value: Val<'_>) -> Result<(), StoreError> {
    match value {
        Val::Text(text) => arguments.add(text),
        Val::OptText(text) => arguments.add(text),
        Val::Int(n) => arguments.add(n),
        Val::Bool(flag) => arguments.add(flag),
        Val::Time(seconds) => arguments.add(seconds),
    }
    .map_err(|e| StoreError::Database(format!("cannot bind a value: {e}")))
}

/// `($1, $2, …), ($k, …), …`: `rows` tuples of `columns`, times converted from Unix seconds.
fn tuples(backend: Backend, columns: &[(&str, Kind)], rows: usize) -> String {
    let mut sql = String::with_capacity(rows * columns.len() * 8);
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for (column, (_, kind)) in columns.iter().enumerate() {
            n += 1;
            if column > 0 {
                sql.push_str(", ");
            }
            match kind {
                Kind::Time => sql.push_str(&backend.time_parameter(n)),
                _ => sql.push_str(&backend.parameter(n)),
            }
        }
        sql.push(')');
    }
    sql
}

/// How many rows of `width` values go in one statement.
fn rows_per_statement(backend: Backend, width: usize) -> usize {
    (BATCH_PARAMETERS.min(backend.max_parameters()) / width.max(1)).max(1)
}

/// Runs `sql(n)` over `rows`, `n` rows at a time, each row's values bound in order. Answers the
/// rows affected.
async fn batched<'a>(
    tx: &mut Tx,
    backend: Backend,
    width: usize,
    rows: Rows<'a>,
    sql: impl Fn(usize) -> String + Send,
) -> Result<u64, StoreError> {
    let per_statement = rows_per_statement(backend, width);
    let mut full: Option<String> = None;
    let mut affected = 0;
    let mut batch: Vec<Vec<Val<'a>>> = Vec::with_capacity(per_statement.min(4096));
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        batch.clear();
        batch.extend(rows.by_ref().take(per_statement));
        let mut arguments = AnyArguments::default();
        for row in &batch {
            for value in row {
                bind(&mut arguments, *value)?;
            }
        }
        let text = if batch.len() == per_statement {
            full.get_or_insert_with(|| sql(per_statement)).clone()
        } else {
            sql(batch.len())
        };
        affected +=
            sqlx::query_with(sqlx::AssertSqlSafe(text), arguments).execute(&mut **tx).await?.rows_affected();
    }
    Ok(affected)
}

/// Inserts `rows` (every column of `table`, in order).
async fn insert<'a>(tx: &mut Tx, backend: Backend, table: &Table, rows: Rows<'a>) -> Result<u64, StoreError> {
    let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    let head = format!("INSERT INTO {} ({}) VALUES ", table.name, names.join(", "));
    batched(tx, backend, table.columns.len(), rows, |n| {
        format!("{head}{}", tuples(backend, table.columns, n))
    })
    .await
}

/// Deletes the rows of `table` whose `column` is one of `ids`.
async fn delete(
    tx: &mut Tx,
    backend: Backend,
    table: &str,
    column: &str,
    ids: &[&str],
) -> Result<u64, StoreError> {
    let rows: Rows<'_> = Box::new(ids.iter().map(|id| vec![Val::Text(id)]));
    batched(tx, backend, 1, rows, |n| {
        let placeholders: Vec<String> = (1..=n).map(|k| backend.parameter(k)).collect();
        format!("DELETE FROM {table} WHERE {column} IN ({})", placeholders.join(", "))
    })
    .await
}

/// Sets `columns[1..]` of the rows of `table` whose `columns[0]` matches, one row of `rows`
/// each.
async fn update<'a>(
    tx: &mut Tx,
    backend: Backend,
    table: &str,
    columns: &[(&str, Kind)],
    rows: Rows<'a>,
) -> Result<u64, StoreError> {
    let Some(((key, _), set)) = columns.split_first() else { return Ok(0) };
    let assignments: Vec<String> =
        set.iter().zip(2..).map(|((column, _), n)| format!("{column} = v.column{n}")).collect();
    let assignments = assignments.join(", ");
    batched(tx, backend, columns.len(), rows, |n| {
        format!(
            "UPDATE {table} SET {assignments} FROM (VALUES {}) AS v WHERE {table}.{key} = v.column1",
            tuples(backend, columns, n)
        )
    })
    .await
}

/// The main table's columns without `position`: those of [`Entity::own`].
fn own_columns(table: &Table) -> Vec<(&'static str, Kind)> {
    table.columns.iter().filter(|(name, _)| *name != "position").copied().collect()
}

/// The row of the main table: [`Entity::own`] with `position` second.
fn main_row<E: Entity>(entity: &E, position: i64) -> Vec<Val<'_>> {
    let mut row = entity.own();
    row.insert(1.min(row.len()), Val::Int(position));
    row
}

/// Inserts `entities` at their positions, with all their parts.
async fn insert_entities<'a, E: Entity + 'a>(
    tx: &mut Tx,
    backend: Backend,
    entities: &'a [(i64, &'a E)],
) -> Result<u64, StoreError> {
    let main: Rows<'a> = Box::new(entities.iter().map(|(position, entity)| main_row(*entity, *position)));
    let mut rows = insert(tx, backend, &E::MAIN, main).await?;
    for (k, part) in E::PARTS.iter().enumerate() {
        let parts: Rows<'a> = Box::new(entities.iter().flat_map(move |(_, entity)| entity.part(k)));
        rows += insert(tx, backend, part, parts).await?;
    }
    Ok(rows)
}

// ---- The whole organisation ------------------------------------------------------------------------

/// Deletes every row of the organisation and writes `org`, positions 0, 1, 2, … Answers the rows
/// written.
pub(crate) async fn replace_all(tx: &mut Tx, backend: Backend, org: &Org) -> Result<u64, StoreError> {
    for table in ORGANISATION_TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", table.name))).execute(&mut **tx).await?;
    }
    let mut rows = 0;
    rows += insert_entities(tx, backend, &numbered(&org.networks)).await?;
    rows += insert_entities(tx, backend, &numbered(&org.offices)).await?;
    rows += insert_entities(tx, backend, &numbered(&org.users)).await?;
    rows += insert_entities(tx, backend, &numbered(&org.projects)).await?;
    rows += insert_entities(tx, backend, &numbered(&org.agreements)).await?;
    rows += insert_entities(tx, backend, &numbered(&org.groups)).await?;
    rows += insert_entities(tx, backend, &numbered(&org.direct_messages)).await?;
    Ok(rows)
}

fn numbered<E>(entities: &[E]) -> Vec<(i64, &E)> {
    (0_i64..).zip(entities).collect()
}

// ---- What an edit changed -------------------------------------------------------------------------

/// Writes the elements `changes` names as `next` holds them: each one's rows replaced (its own
/// row at the position it had, and its parts), one `next` lacks deleted, one the database lacks
/// inserted after the last of its table. Answers the rows written.
pub(crate) async fn write_changed(
    tx: &mut Tx,
    backend: Backend,
    next: &tessera_core::Cutter,
    changes: &tessera_core::Changes,
) -> Result<u64, StoreError> {
    let mut rows = 0;
    rows += replace(tx, backend, &changes.networks, |id| next.network(id).cloned()).await?;
    rows += replace(tx, backend, &changes.offices, |id| next.office(id).cloned()).await?;
    rows += replace(tx, backend, &changes.users, |id| next.user(id).cloned()).await?;
    rows +=
        replace(tx, backend, &changes.projects, |id| next.project(id).map(|row| row.to_project())).await?;
    rows += replace(tx, backend, &changes.agreements, |id| next.agreement(id).cloned()).await?;
    rows += replace(tx, backend, &changes.groups, |id| next.group(id).cloned()).await?;
    rows += replace(tx, backend, &changes.direct_messages, |id| next.direct_message(id).cloned()).await?;
    Ok(rows)
}

/// Replaces the rows of the elements `ids` of one kind by what `element` answers of each (none:
/// deleted).
async fn replace<E: Entity + Send>(
    tx: &mut Tx,
    backend: Backend,
    ids: &[String],
    element: impl Fn(&str) -> Option<E>,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let stored = stored_positions::<E>(tx, backend, &ids).await?;
    let mut rows = 0;
    let present: Vec<&str> = ids.iter().copied().filter(|id| stored.contains_key(*id)).collect();
    if !present.is_empty() {
        for part in E::PARTS {
            rows += delete(tx, backend, part.name, owner_column(part), &present).await?;
        }
        rows += delete(tx, backend, E::MAIN.name, "id", &present).await?;
    }
    let mut last: Option<i64> = None;
    let mut written: Vec<(i64, E)> = Vec::new();
    for id in ids {
        let Some(entity) = element(id) else { continue };
        let position = match stored.get(id) {
            Some(position) => *position,
            None => {
                let next = match last {
                    Some(last) => last.saturating_add(1),
                    None => last_position(tx, E::MAIN.name).await?.saturating_add(1),
                };
                last = Some(next);
                next
            }
        };
        written.push((position, entity));
    }
    let written: Vec<(i64, &E)> = written.iter().map(|(position, entity)| (*position, entity)).collect();
    if !written.is_empty() {
        rows += insert_entities(tx, backend, &written).await?;
    }
    Ok(rows)
}

/// The largest `position` of `table`, -1 when it is empty.
async fn last_position(tx: &mut Tx, table: &str) -> Result<i64, StoreError> {
    let sql = format!("SELECT COALESCE(MAX(position), -1) FROM {table}");
    Ok(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut **tx).await?)
}

/// The stored positions of the elements `ids` of `E`'s table, by id.
async fn stored_positions<E: Entity>(
    tx: &mut Tx,
    backend: Backend,
    ids: &[&str],
) -> Result<HashMap<String, i64>, StoreError> {
    let mut known = HashMap::new();
    for chunk in ids.chunks(rows_per_statement(backend, 1)) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|k| backend.parameter(k)).collect();
        let sql =
            format!("SELECT id, position FROM {} WHERE id IN ({})", E::MAIN.name, placeholders.join(", "));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut **tx).await? {
            known.insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?);
        }
    }
    Ok(known)
}

// ---- Changes ---------------------------------------------------------------------------------------

/// What differs between two organisations, table by table, found without the database.
#[derive(Debug)]
pub(crate) struct Changes<'a> {
    networks: TableChanges<'a, tessera_core::Network>,
    offices: TableChanges<'a, tessera_core::Office>,
    users: TableChanges<'a, tessera_core::User>,
    projects: TableChanges<'a, tessera_core::Project>,
    agreements: TableChanges<'a, tessera_core::Agreement>,
    groups: TableChanges<'a, tessera_core::Group>,
    direct_messages: TableChanges<'a, tessera_core::DirectMessage>,
}

impl<'a> Changes<'a> {
    /// Compares `base` and `next`, entity by id.
    pub(crate) fn between(base: &'a Org, next: &'a Org) -> Changes<'a> {
        Changes {
            networks: TableChanges::between(&base.networks, &next.networks),
            offices: TableChanges::between(&base.offices, &next.offices),
            users: TableChanges::between(&base.users, &next.users),
            projects: TableChanges::between(&base.projects, &next.projects),
            agreements: TableChanges::between(&base.agreements, &next.agreements),
            groups: TableChanges::between(&base.groups, &next.groups),
            direct_messages: TableChanges::between(&base.direct_messages, &next.direct_messages),
        }
    }

    /// Writes them in `tx`, which holds the write lock. Answers the rows written.
    pub(crate) async fn write(&self, tx: &mut Tx, backend: Backend) -> Result<u64, StoreError> {
        let mut rows = 0;
        rows += self.networks.write(tx, backend).await?;
        rows += self.offices.write(tx, backend).await?;
        rows += self.users.write(tx, backend).await?;
        rows += self.projects.write(tx, backend).await?;
        rows += self.agreements.write(tx, backend).await?;
        rows += self.groups.write(tx, backend).await?;
        rows += self.direct_messages.write(tx, backend).await?;
        Ok(rows)
    }
}

/// New entities between two kept ones (or an end): they take positions between theirs.
#[derive(Debug)]
struct Run<'a> {
    /// The kept entity before, if any.
    after: Option<&'a str>,
    /// The kept entity after, if any.
    before: Option<&'a str>,
    /// The new entities: `next[start..end]`.
    start: usize,
    end: usize,
}

/// The changes of one kind of entity.
#[derive(Debug)]
struct TableChanges<'a, E> {
    next: &'a [E],
    /// Ids of the entities gone.
    deleted: Vec<&'a str>,
    /// Kept entities whose own columns changed.
    changed: Vec<&'a E>,
    /// Per part: the kept entities whose rows of it changed.
    parts: Vec<Vec<&'a E>>,
    /// The new entities, in runs; all of `next` when `renumber`.
    runs: Vec<Run<'a>>,
    /// The kept entities are in another order: every position is written again.
    renumber: bool,
}

impl<'a, E: Entity> TableChanges<'a, E> {
    fn between(base: &'a [E], next: &'a [E]) -> TableChanges<'a, E> {
        let mut changes = TableChanges {
            next,
            deleted: Vec::new(),
            changed: Vec::new(),
            parts: E::PARTS.iter().map(|_| Vec::new()).collect(),
            runs: Vec::new(),
            renumber: false,
        };
        // The usual case, an edit in place: the same ids in the same order, compared in one pass.
        if base.len() == next.len() {
            let mut lockstep = true;
            for (b, n) in base.iter().zip(next) {
                if b.id() != n.id() {
                    lockstep = false;
                    break;
                }
                changes.compare(b, n);
            }
            if lockstep {
                return changes;
            }
            changes.changed.clear();
            changes.parts.iter_mut().for_each(Vec::clear);
        }
        let before: HashMap<&str, &E> = base.iter().map(|entity| (entity.id(), entity)).collect();
        let after: HashSet<&str> = next.iter().map(Entity::id).collect();
        changes.deleted = base.iter().map(Entity::id).filter(|id| !after.contains(id)).collect();
        let kept_before = base.iter().map(Entity::id).filter(|id| after.contains(id));
        let kept_after = next.iter().map(Entity::id).filter(|id| before.contains_key(id));
        changes.renumber = !kept_before.eq(kept_after);
        let mut last_kept: Option<&str> = None;
        let mut open: Option<usize> = None;
        for (n, entity) in next.iter().enumerate() {
            match before.get(entity.id()) {
                Some(old) => {
                    changes.compare(old, entity);
                    if let Some(start) = open.take() {
                        changes.runs.push(Run { after: last_kept, before: Some(entity.id()), start, end: n });
                    }
                    last_kept = Some(entity.id());
                }
                None => {
                    open.get_or_insert(n);
                }
            }
        }
        if let Some(start) = open {
            changes.runs.push(Run { after: last_kept, before: None, start, end: next.len() });
        }
        changes
    }

    fn compare(&mut self, old: &'a E, new: &'a E) {
        if old == new {
            return;
        }
        if old.own() != new.own() {
            self.changed.push(new);
        }
        for (k, changed) in self.parts.iter_mut().enumerate() {
            if old.part(k) != new.part(k) {
                changed.push(new);
            }
        }
    }

    fn new_entities(&self) -> impl Iterator<Item = (usize, &'a E)> + '_ {
        self.runs.iter().flat_map(|run| (run.start..run.end).filter_map(|n| self.next.get(n).map(|e| (n, e))))
    }

    async fn write(&self, tx: &mut Tx, backend: Backend) -> Result<u64, StoreError> {
        let mut rows = 0;
        if !self.deleted.is_empty() {
            for part in E::PARTS {
                rows += delete(tx, backend, part.name, owner_column(part), &self.deleted).await?;
            }
            rows += delete(tx, backend, E::MAIN.name, "id", &self.deleted).await?;
        }
        if !self.changed.is_empty() {
            let columns = own_columns(&E::MAIN);
            let changed: Rows<'_> = Box::new(self.changed.iter().map(|entity| entity.own()));
            rows += update(tx, backend, E::MAIN.name, &columns, changed).await?;
        }
        for ((k, part), owners) in E::PARTS.iter().enumerate().zip(&self.parts) {
            if owners.is_empty() {
                continue;
            }
            let ids: Vec<&str> = owners.iter().map(|entity| entity.id()).collect();
            rows += delete(tx, backend, part.name, owner_column(part), &ids).await?;
            let parts: Rows<'_> = Box::new(owners.iter().flat_map(move |entity| entity.part(k)));
            rows += insert(tx, backend, part, parts).await?;
        }
        let positions = match self.renumber {
            false => self.positions_between(tx, backend).await?,
            true => None,
        };
        let new: Vec<(i64, &E)> = match positions {
            Some(positions) => {
                positions.into_iter().zip(self.new_entities().map(|(_, entity)| entity)).collect()
            }
            None => {
                rows += self.renumber_kept(tx, backend).await?;
                self.new_entities().map(|(n, entity)| (index(n), entity)).collect()
            }
        };
        if !new.is_empty() {
            rows += insert_entities(tx, backend, &new).await?;
        }
        Ok(rows)
    }

    /// Positions for the new entities between the kept ones around them, or `None` if some run
    /// does not fit between its neighbours.
    async fn positions_between(&self, tx: &mut Tx, backend: Backend) -> Result<Option<Vec<i64>>, StoreError> {
        if self.runs.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let neighbours: Vec<&str> = self
            .runs
            .iter()
            .flat_map(|run| [run.after, run.before])
            .flatten()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let known = stored_positions::<E>(tx, backend, &neighbours).await?;
        let at = |id: &str| {
            known.get(id).copied().ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{} `{id}` is in the organisation the change was made on, but not in the database",
                    E::MAIN.name
                ))
            })
        };
        let mut positions = Vec::new();
        for run in &self.runs {
            let count = i64::try_from(run.end - run.start).unwrap_or(i64::MAX);
            let first = match (run.after, run.before) {
                (None, None) => Some(0),
                (Some(after), None) => at(after)?.checked_add(1),
                (None, Some(before)) => at(before)?.checked_sub(count),
                (Some(after), Some(before)) => {
                    let (low, high) = (at(after)?, at(before)?);
                    high.checked_sub(low).filter(|gap| *gap > count).and_then(|_| low.checked_add(1))
                }
            };
            let Some(first) = first else { return Ok(None) };
            for k in 0..count {
                match first.checked_add(k) {
                    Some(position) => positions.push(position),
                    None => return Ok(None),
                }
            }
        }
        Ok(Some(positions))
    }

    /// Gives every kept entity its index in `next` as its position.
    async fn renumber_kept(&self, tx: &mut Tx, backend: Backend) -> Result<u64, StoreError> {
        let new: HashSet<usize> = self.new_entities().map(|(n, _)| n).collect();
        let rows: Rows<'_> = Box::new(
            self.next
                .iter()
                .enumerate()
                .filter(move |(n, _)| !new.contains(n))
                .map(|(n, entity)| vec![Val::Text(entity.id()), Val::Int(index(n))]),
        );
        update(tx, backend, E::MAIN.name, &[("id", Kind::Text), ("position", Kind::Int)], rows).await
    }
}

fn index(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The column of a part's table that names its owner: its first.
fn owner_column(part: &Table) -> &'static str {
    part.columns.first().map_or("id", |(name, _)| name)
}
