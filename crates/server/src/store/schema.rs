//! The tables, what each entity of the source format is in them, and reading them back.
//!
//! Each entity ([`Entity`]) has a main table (its id, its `position` among its kind, its own
//! columns) and a table per list or map it holds (its parts), each row led by the owner's id.
//! Lists keep a `position` (0, 1, 2, … per owner); maps are read back sorted by key, as the
//! source format keeps them.

use std::collections::{BTreeMap, HashMap};

use futures_util::TryStreamExt as _;
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};
use tessera_core::{
    AccessLevel, Agreement, DirectMessage, Features, Group, Network, Office, Org, Project, Role, Threshold,
    Timestamp, User,
};

use super::{Backend, StoreError};

/// A column's type, as written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Int,
    Bool,
    /// A time: `TIMESTAMPTZ` on PostgreSQL, Unix seconds on SQLite; Unix seconds here.
    Time,
}

/// A table: its name and its columns, in order.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [(&'static str, Kind)],
}

/// One value to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Val<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    Bool(bool),
    Time(Option<i64>),
}

use Kind::{Bool as B, Int as I, Text as T, Time as Ti};

pub(crate) const NETWORKS: Table =
    Table { name: "networks", columns: &[("id", T), ("position", I), ("name", T), ("announcements", B)] };
pub(crate) const NETWORK_PROFILES: Table =
    Table { name: "network_profiles", columns: &[("network_id", T), ("profile", T)] };
pub(crate) const NETWORK_DEFAULTS: Table = Table {
    name: "network_defaults",
    columns: &[("network_id", T), ("profile", T), ("position", I), ("permission", T)],
};
pub(crate) const NETWORK_MESSAGING: Table =
    Table { name: "network_messaging", columns: &[("network_id", T), ("permission", T), ("threshold", T)] };
pub(crate) const OFFICES: Table =
    Table { name: "offices", columns: &[("id", T), ("position", I), ("name", T), ("network_id", T)] };
pub(crate) const OFFICE_OVERRIDE_PROFILES: Table =
    Table { name: "office_override_profiles", columns: &[("office_id", T), ("profile", T)] };
pub(crate) const OFFICE_OVERRIDES: Table = Table {
    name: "office_overrides",
    columns: &[("office_id", T), ("profile", T), ("permission", T), ("allowed", B)],
};
pub(crate) const USERS: Table = Table {
    name: "users",
    columns: &[
        ("id", T),
        ("position", I),
        ("name", T),
        ("home_office", T),
        ("access", T),
        ("profile", T),
        ("role", T),
        ("system_superuser", B),
        ("network_superuser", B),
        ("active", B),
    ],
};
pub(crate) const USER_OFFICES: Table =
    Table { name: "user_offices", columns: &[("user_id", T), ("position", I), ("office_id", T)] };
pub(crate) const PROJECTS: Table = Table {
    name: "projects",
    columns: &[("id", T), ("position", I), ("name", T), ("office_id", T), ("created_by", T)],
};
pub(crate) const TEAM_MEMBERS: Table =
    Table { name: "team_members", columns: &[("project_id", T), ("position", I), ("user_id", T)] };
pub(crate) const AGREEMENTS: Table = Table {
    name: "agreements",
    columns: &[
        ("id", T),
        ("position", I),
        ("host_office", T),
        ("guest_office", T),
        ("profile", T),
        ("users_listed", B),
        ("expires_at", Ti),
    ],
};
pub(crate) const AGREEMENT_USERS: Table =
    Table { name: "agreement_users", columns: &[("agreement_id", T), ("position", I), ("user_id", T)] };
pub(crate) const GROUPS: Table =
    Table { name: "groups", columns: &[("id", T), ("position", I), ("network_id", T)] };
pub(crate) const GROUP_MEMBERS: Table =
    Table { name: "group_members", columns: &[("group_id", T), ("position", I), ("user_id", T)] };
pub(crate) const GROUP_OWNERS: Table =
    Table { name: "group_owners", columns: &[("group_id", T), ("position", I), ("user_id", T)] };
pub(crate) const DIRECT_MESSAGES: Table =
    Table { name: "direct_messages", columns: &[("id", T), ("position", I), ("started_by", T)] };
pub(crate) const DIRECT_MESSAGE_PARTICIPANTS: Table = Table {
    name: "direct_message_participants",
    columns: &[("direct_message_id", T), ("position", I), ("user_id", T)],
};

/// Every table of the organisation (not `revisions`).
pub(crate) const ORGANISATION_TABLES: [&Table; 18] = [
    &NETWORKS,
    &NETWORK_PROFILES,
    &NETWORK_DEFAULTS,
    &NETWORK_MESSAGING,
    &OFFICES,
    &OFFICE_OVERRIDE_PROFILES,
    &OFFICE_OVERRIDES,
    &USERS,
    &USER_OFFICES,
    &PROJECTS,
    &TEAM_MEMBERS,
    &AGREEMENTS,
    &AGREEMENT_USERS,
    &GROUPS,
    &GROUP_MEMBERS,
    &GROUP_OWNERS,
    &DIRECT_MESSAGES,
    &DIRECT_MESSAGE_PARTICIPANTS,
];

// ---- Entities as rows ------------------------------------------------------------------------------

/// An entity of the source format, as rows.
pub(crate) trait Entity: PartialEq + Sync {
    /// The main table: `id`, `position`, then the entity's own columns.
    const MAIN: Table;
    /// The tables of its lists and maps, each led by the owner's id.
    const PARTS: &'static [Table];

    fn id(&self) -> &str;
    /// Its row of the main table without `position`: the id, then its own columns.
    fn own(&self) -> Vec<Val<'_>>;
    /// Its rows of part `k`, each led by its id.
    fn part(&self, k: usize) -> Vec<Vec<Val<'_>>>;
}

/// The rows of a list: (owner, position, item).
fn list<'a>(owner: &'a str, items: &'a [String]) -> Vec<Vec<Val<'a>>> {
    items.iter().zip(0_i64..).map(|(item, n)| vec![Val::Text(owner), Val::Int(n), Val::Text(item)]).collect()
}

fn threshold_name(threshold: Threshold) -> &'static str {
    match threshold {
        Threshold::User => "user",
        Threshold::Manager => "manager",
        Threshold::Admin => "admin",
        Threshold::None => "none",
    }
}

impl Entity for Network {
    const MAIN: Table = NETWORKS;
    const PARTS: &'static [Table] = &[NETWORK_PROFILES, NETWORK_DEFAULTS, NETWORK_MESSAGING];

    fn id(&self) -> &str {
        &self.id
    }

    fn own(&self) -> Vec<Val<'_>> {
        vec![Val::Text(&self.id), Val::Text(&self.name), Val::Bool(self.features.announcements)]
    }

    fn part(&self, k: usize) -> Vec<Vec<Val<'_>>> {
        let id = Val::Text(&self.id);
        match k {
            0 => self.defaults.keys().map(|profile| vec![id, Val::Text(profile)]).collect(),
            1 => self
                .defaults
                .iter()
                .flat_map(|(profile, permissions)| {
                    permissions.iter().zip(0_i64..).map(move |(permission, n)| {
                        vec![id, Val::Text(profile), Val::Int(n), Val::Text(permission)]
                    })
                })
                .collect(),
            _ => self
                .messaging
                .iter()
                .map(|(permission, threshold)| {
                    vec![id, Val::Text(permission), Val::Text(threshold_name(*threshold))]
                })
                .collect(),
        }
    }
}

impl Entity for Office {
    const MAIN: Table = OFFICES;
    const PARTS: &'static [Table] = &[OFFICE_OVERRIDE_PROFILES, OFFICE_OVERRIDES];

    fn id(&self) -> &str {
        &self.id
    }

    fn own(&self) -> Vec<Val<'_>> {
        vec![Val::Text(&self.id), Val::Text(&self.name), Val::Text(&self.network)]
    }

    fn part(&self, k: usize) -> Vec<Vec<Val<'_>>> {
        let id = Val::Text(&self.id);
        match k {
            0 => self.overrides.keys().map(|profile| vec![id, Val::Text(profile)]).collect(),
            _ => self
                .overrides
                .iter()
                .flat_map(|(profile, permissions)| {
                    permissions.iter().map(move |(permission, allowed)| {
                        vec![id, Val::Text(profile), Val::Text(permission), Val::Bool(*allowed)]
                    })
                })
                .collect(),
        }
    }
}

impl Entity for User {
    const MAIN: Table = USERS;
    const PARTS: &'static [Table] = &[USER_OFFICES];

    fn id(&self) -> &str {
        &self.id
    }

    fn own(&self) -> Vec<Val<'_>> {
        vec![
            Val::Text(&self.id),
            Val::Text(&self.name),
            Val::Text(&self.home_office),
            Val::Text(self.access.as_str()),
            Val::Text(&self.profile),
            Val::Text(self.role.as_str()),
            Val::Bool(self.system_superuser),
            Val::Bool(self.network_superuser),
            Val::Bool(self.active),
        ]
    }

    fn part(&self, _: usize) -> Vec<Vec<Val<'_>>> {
        list(&self.id, &self.additional_offices)
    }
}

impl Entity for Project {
    const MAIN: Table = PROJECTS;
    const PARTS: &'static [Table] = &[TEAM_MEMBERS];

    fn id(&self) -> &str {
        &self.id
    }

    fn own(&self) -> Vec<Val<'_>> {
        vec![
            Val::Text(&self.id),
            Val::Text(&self.name),
            Val::Text(&self.office),
            Val::OptText(self.created_by.as_deref()),
        ]
    }

    fn part(&self, _: usize) -> Vec<Vec<Val<'_>>> {
        list(&self.id, &self.team)
    }
}

impl Entity for Agreement {
    const MAIN: Table = AGREEMENTS;
    const PARTS: &'static [Table] = &[AGREEMENT_USERS];

    fn id(&self) -> &str {
        &self.id
    }

    fn own(&self) -> Vec<Val<'_>> {
        vec![
            Val::Text(&self.id),
            Val::Text(&self.host_office),
            Val::Text(&self.guest_office),
            Val::Text(&self.profile),
            Val::Bool(self.users.is_some()),
            Val::Time(self.expires_at.map(Timestamp::unix)),
        ]
    }

    fn part(&self, _: usize) -> Vec<Vec<Val<'_>>> {
        list(&self.id, self.users.as_deref().unwrap_or_default())
    }
}

impl Entity for Group {
    const MAIN: Table = GROUPS;
    const PARTS: &'static [Table] = &[GROUP_MEMBERS, GROUP_OWNERS];

    fn id(&self) -> &str {
        &self.id
    }

    fn own(&self) -> Vec<Val<'_>> {
        vec![Val::Text(&self.id), Val::Text(&self.network)]
    }

    fn part(&self, k: usize) -> Vec<Vec<Val<'_>>> {
        match k {
            0 => list(&self.id, &self.members),
            _ => list(&self.id, &self.owners),
        }
    }
}

impl Entity for DirectMessage {
    const MAIN: Table = DIRECT_MESSAGES;
    const PARTS: &'static [Table] = &[DIRECT_MESSAGE_PARTICIPANTS];

    fn id(&self) -> &str {
        &self.id
    }

    fn own(&self) -> Vec<Val<'_>> {
        vec![Val::Text(&self.id), Val::Text(&self.started_by)]
    }

    fn part(&self, _: usize) -> Vec<Vec<Val<'_>>> {
        list(&self.id, &self.participants)
    }
}

// ---- Reading ---------------------------------------------------------------------------------------

/// `SELECT` of every column of `table`, times as Unix seconds.
fn select(backend: Backend, table: &Table) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|(name, kind)| match kind {
            Kind::Time => backend.time_column(name),
            _ => (*name).to_owned(),
        })
        .collect();
    format!("SELECT {} FROM {}", columns.join(", "), table.name)
}

/// One row being read, with what to name in an error.
struct Cells<'r> {
    row: &'r AnyRow,
    table: &'static Table,
}

impl<'r> Cells<'r> {
    fn fail(&self, i: usize, what: impl std::fmt::Display) -> StoreError {
        let column = self.table.columns.get(i).map_or("?", |(name, _)| name);
        StoreError::Corrupt(format!("{}.{column}: {what}", self.table.name))
    }

    fn str(&self, i: usize) -> Result<&'r str, StoreError> {
        self.row.try_get::<&str, _>(i).map_err(|e| self.fail(i, e))
    }

    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.str(i).map(str::to_owned)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.row
            .try_get::<Option<&str>, _>(i)
            .map(|text| text.map(str::to_owned))
            .map_err(|e| self.fail(i, e))
    }

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.row.try_get::<i64, _>(i).map_err(|e| self.fail(i, e))
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.row.try_get::<Option<i64>, _>(i).map_err(|e| self.fail(i, e))
    }

    /// PostgreSQL answers a `BOOLEAN`; SQLite, which has none, the integer it holds.
    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        match self.row.try_get::<bool, _>(i) {
            Ok(flag) => Ok(flag),
            Err(_) => self.int(i).map(|n| n != 0),
        }
    }
}

/// Calls `each` on every row of `table`, as the rows arrive.
async fn each_row(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    table: &'static Table,
    mut each: impl FnMut(&Cells<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql = select(backend, table);
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut **tx);
    while let Some(row) = rows.try_next().await? {
        each(&Cells { row: &row, table })?;
    }
    Ok(())
}

/// Reads a main table: the entities in `position` order (ties by id).
async fn entities<E>(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    table: &'static Table,
    read: impl Fn(&Cells<'_>) -> Result<E, StoreError>,
    id: impl Fn(&E) -> &str,
) -> Result<Vec<E>, StoreError>
where
    E: Send,
{
    let mut rows: Vec<(i64, E)> = Vec::new();
    each_row(tx, backend, table, |cells| {
        rows.push((cells.int(1)?, read(cells)?));
        Ok(())
    })
    .await?;
    rows.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| id(x).cmp(id(y))));
    Ok(rows.into_iter().map(|(_, entity)| entity).collect())
}

/// Each entity's place in `entities`, by id.
fn index_of<E>(entities: &[E], id: impl Fn(&E) -> &str) -> HashMap<&str, usize> {
    entities.iter().enumerate().map(|(n, entity)| (id(entity), n)).collect()
}

/// Where the owner named in column 0 is, or why not.
fn owner(cells: &Cells<'_>, index: &HashMap<&str, usize>) -> Result<usize, StoreError> {
    let id = cells.str(0)?;
    index.get(id).copied().ok_or_else(|| cells.fail(0, format!("`{id}` is not in the main table")))
}

/// Reads a list table (owner, position, item): each owner's items in `position` order. The
/// database gathers each owner's list (a row per owner, not per item: on SQLite, every row
/// crosses from sqlx's worker thread on its own).
async fn lists(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    table: &'static Table,
    index: &HashMap<&str, usize>,
) -> Result<Vec<Vec<String>>, StoreError> {
    let (owner_column, item_column) = match table.columns {
        [(owner, _), (_, _), (item, _)] => (*owner, *item),
        _ => return Err(StoreError::Corrupt(format!("{} is not a list table", table.name))),
    };
    let sql = format!(
        "SELECT {owner_column}, {} FROM {} GROUP BY {owner_column}",
        backend.json_list(item_column, "position"),
        table.name
    );
    let mut lists: Vec<Vec<String>> = vec![Vec::new(); index.len()];
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut **tx);
    while let Some(row) = rows.try_next().await? {
        let cells = Cells { row: &row, table };
        let at = owner(&cells, index)?;
        let items: Vec<String> = serde_json::from_str(cells.str(1)?)
            .map_err(|e| cells.fail(2, format!("not a list of text: {e}")))?;
        *lists.get_mut(at).ok_or_else(|| cells.fail(0, "out of range"))? = items;
    }
    Ok(lists)
}

/// Gives each entity its list.
fn attach<E>(entities: &mut [E], lists: Vec<Vec<String>>, mut set: impl FnMut(&mut E, Vec<String>)) {
    for (entity, list) in entities.iter_mut().zip(lists) {
        set(entity, list);
    }
}

fn access(cells: &Cells<'_>, i: usize) -> Result<AccessLevel, StoreError> {
    match cells.str(i)? {
        "all_in_office" => Ok(AccessLevel::AllInOffice),
        "invite_only" => Ok(AccessLevel::InviteOnly),
        "network_admin" => Ok(AccessLevel::NetworkAdmin),
        other => Err(cells.fail(i, format!("`{other}` is not an access level"))),
    }
}

fn role(cells: &Cells<'_>, i: usize) -> Result<Role, StoreError> {
    match cells.str(i)? {
        "user" => Ok(Role::User),
        "manager" => Ok(Role::Manager),
        "admin" => Ok(Role::Admin),
        other => Err(cells.fail(i, format!("`{other}` is not a role"))),
    }
}

fn threshold(cells: &Cells<'_>, i: usize) -> Result<Threshold, StoreError> {
    match cells.str(i)? {
        "user" => Ok(Threshold::User),
        "manager" => Ok(Threshold::Manager),
        "admin" => Ok(Threshold::Admin),
        "none" => Ok(Threshold::None),
        other => Err(cells.fail(i, format!("`{other}` is not a threshold"))),
    }
}

/// The whole organisation, read in `tx`.
pub(crate) async fn read(tx: &mut Transaction<'static, Any>, backend: Backend) -> Result<Org, StoreError> {
    let networks = read_networks(tx, backend).await?;
    let offices = read_offices(tx, backend).await?;

    let mut users = entities(
        tx,
        backend,
        &USERS,
        |c| {
            Ok(User {
                id: c.text(0)?,
                name: c.text(2)?,
                home_office: c.text(3)?,
                additional_offices: Vec::new(),
                access: access(c, 4)?,
                profile: c.text(5)?,
                role: role(c, 6)?,
                system_superuser: c.flag(7)?,
                network_superuser: c.flag(8)?,
                active: c.flag(9)?,
            })
        },
        |user: &User| &user.id,
    )
    .await?;
    let offices_of = lists(tx, backend, &USER_OFFICES, &index_of(&users, |user| &user.id)).await?;
    attach(&mut users, offices_of, |user, list| user.additional_offices = list);

    let mut projects = entities(
        tx,
        backend,
        &PROJECTS,
        |c| {
            Ok(Project {
                id: c.text(0)?,
                name: c.text(2)?,
                office: c.text(3)?,
                team: Vec::new(),
                created_by: c.opt_text(4)?,
            })
        },
        |project: &Project| &project.id,
    )
    .await?;
    let teams = lists(tx, backend, &TEAM_MEMBERS, &index_of(&projects, |project| &project.id)).await?;
    attach(&mut projects, teams, |project, team| project.team = team);

    let mut agreements = entities(
        tx,
        backend,
        &AGREEMENTS,
        |c| {
            Ok(Agreement {
                id: c.text(0)?,
                host_office: c.text(2)?,
                guest_office: c.text(3)?,
                users: c.flag(5)?.then(Vec::new),
                profile: c.text(4)?,
                expires_at: c.opt_int(6)?.map(Timestamp::from_unix),
            })
        },
        |agreement: &Agreement| &agreement.id,
    )
    .await?;
    let shared =
        lists(tx, backend, &AGREEMENT_USERS, &index_of(&agreements, |agreement| &agreement.id)).await?;
    for (agreement, list) in agreements.iter_mut().zip(shared) {
        match &mut agreement.users {
            Some(users) => *users = list,
            None if list.is_empty() => {}
            None => {
                return Err(StoreError::Corrupt(format!(
                    "agreement_users: agreement `{}` lists users but its users_listed is false",
                    agreement.id
                )));
            }
        }
    }

    let mut groups = entities(
        tx,
        backend,
        &GROUPS,
        |c| Ok(Group { id: c.text(0)?, network: c.text(2)?, members: Vec::new(), owners: Vec::new() }),
        |group: &Group| &group.id,
    )
    .await?;
    let members = lists(tx, backend, &GROUP_MEMBERS, &index_of(&groups, |group| &group.id)).await?;
    let owners = lists(tx, backend, &GROUP_OWNERS, &index_of(&groups, |group| &group.id)).await?;
    attach(&mut groups, members, |group, list| group.members = list);
    attach(&mut groups, owners, |group, list| group.owners = list);

    let mut direct_messages = entities(
        tx,
        backend,
        &DIRECT_MESSAGES,
        |c| Ok(DirectMessage { id: c.text(0)?, participants: Vec::new(), started_by: c.text(2)? }),
        |dm: &DirectMessage| &dm.id,
    )
    .await?;
    let participants =
        lists(tx, backend, &DIRECT_MESSAGE_PARTICIPANTS, &index_of(&direct_messages, |dm| &dm.id)).await?;
    attach(&mut direct_messages, participants, |dm, list| dm.participants = list);

    Ok(Org { networks, offices, users, projects, agreements, groups, direct_messages })
}

async fn read_networks(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
) -> Result<Vec<Network>, StoreError> {
    let mut networks = entities(
        tx,
        backend,
        &NETWORKS,
        |c| {
            Ok(Network {
                id: c.text(0)?,
                name: c.text(2)?,
                defaults: BTreeMap::new(),
                messaging: BTreeMap::new(),
                features: Features { announcements: c.flag(3)? },
            })
        },
        |network: &Network| &network.id,
    )
    .await?;
    let index = index_of(&networks, |network| &network.id);
    // Per Network: profile → (position, permission); profile → threshold.
    let mut defaults: Vec<BTreeMap<String, Vec<(i64, String)>>> = vec![BTreeMap::new(); index.len()];
    let mut messaging: Vec<BTreeMap<String, Threshold>> = vec![BTreeMap::new(); index.len()];
    each_row(tx, backend, &NETWORK_PROFILES, |c| {
        let at = owner(c, &index)?;
        defaults.get_mut(at).ok_or_else(|| c.fail(0, "out of range"))?.entry(c.text(1)?).or_default();
        Ok(())
    })
    .await?;
    each_row(tx, backend, &NETWORK_DEFAULTS, |c| {
        let at = owner(c, &index)?;
        let item = (c.int(2)?, c.text(3)?);
        defaults
            .get_mut(at)
            .ok_or_else(|| c.fail(0, "out of range"))?
            .entry(c.text(1)?)
            .or_default()
            .push(item);
        Ok(())
    })
    .await?;
    each_row(tx, backend, &NETWORK_MESSAGING, |c| {
        let at = owner(c, &index)?;
        messaging.get_mut(at).ok_or_else(|| c.fail(0, "out of range"))?.insert(c.text(1)?, threshold(c, 2)?);
        Ok(())
    })
    .await?;
    drop(index);
    for ((network, defaults), messaging) in networks.iter_mut().zip(defaults).zip(messaging) {
        network.defaults = defaults
            .into_iter()
            .map(|(profile, mut permissions)| {
                permissions.sort_by_key(|(position, _)| *position);
                (profile, permissions.into_iter().map(|(_, permission)| permission).collect())
            })
            .collect();
        network.messaging = messaging;
    }
    Ok(networks)
}

async fn read_offices(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
) -> Result<Vec<Office>, StoreError> {
    let mut offices = entities(
        tx,
        backend,
        &OFFICES,
        |c| Ok(Office { id: c.text(0)?, name: c.text(2)?, network: c.text(3)?, overrides: BTreeMap::new() }),
        |office: &Office| &office.id,
    )
    .await?;
    let index = index_of(&offices, |office| &office.id);
    let mut overrides: Vec<BTreeMap<String, BTreeMap<String, bool>>> = vec![BTreeMap::new(); index.len()];
    each_row(tx, backend, &OFFICE_OVERRIDE_PROFILES, |c| {
        let at = owner(c, &index)?;
        overrides.get_mut(at).ok_or_else(|| c.fail(0, "out of range"))?.entry(c.text(1)?).or_default();
        Ok(())
    })
    .await?;
    each_row(tx, backend, &OFFICE_OVERRIDES, |c| {
        let at = owner(c, &index)?;
        let (profile, permission, allowed) = (c.text(1)?, c.text(2)?, c.flag(3)?);
        overrides
            .get_mut(at)
            .ok_or_else(|| c.fail(0, "out of range"))?
            .entry(profile)
            .or_default()
            .insert(permission, allowed);
        Ok(())
    })
    .await?;
    drop(index);
    for (office, overrides) in offices.iter_mut().zip(overrides) {
        office.overrides = overrides;
    }
    Ok(offices)
}
