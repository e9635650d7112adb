//! The resolved organisation: every id turned into a dense index once, every reference
//! checked, so that a decision is a handful of array reads and binary searches.

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::Timestamp;
use crate::ids::{IdHasher, IdMap, Idx};
use crate::model::{AccessLevel, DEFAULT_PROFILES, KNOWN_PROFILE_PERMISSIONS, Org, Role};
use crate::permission::{self, RolePermission};
use crate::rows::{Rows, Shared, share};
use crate::table::{GrowingIds, IdTable, ProjectRef, ProjectTable};
use crate::validate::{ValidationError, ValidationErrorKind, ValidationErrors};

/// A validated organisation with its ids resolved: what the evaluator decides over.
///
/// Build one with [`Policy::new`]; it refuses an inconsistent organisation with every problem
/// listed. A `Policy` only ever comes from a valid organisation.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) networks: Rows<NetworkEntry>,
    pub(crate) offices: Rows<OfficeEntry>,
    pub(crate) users: Rows<UserEntry>,
    /// By position, as columns; their ids are in [`Ids::projects`].
    pub(crate) projects: ProjectTable,
    pub(crate) agreements: Rows<AgreementEntry>,
    pub(crate) groups: Rows<GroupEntry>,
    pub(crate) dms: Rows<DmEntry>,
    pub(crate) profiles: Shared<Interner>,
    pub(crate) permissions: Shared<Interner>,
    pub(crate) ids: Ids,
    /// Each Office's Network, packed: what a [`crate::UserView`] reads per question (with
    /// each Project's Office, a column of [`ProjectTable`]), in a few cache lines.
    pub(crate) office_networks: Shared<Vec<Idx>>,
    /// Tells this policy from every other one built in this process (a clone keeps it: it
    /// decides the same), so that a [`crate::UserView`] only ever answers for its own.
    pub(crate) stamp: u64,
}

pub(crate) fn next_stamp() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Id → index maps, one per kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ids {
    pub(crate) networks: Shared<IdMap>,
    pub(crate) offices: Shared<IdMap>,
    pub(crate) users: Shared<IdMap>,
    /// Projects are the most numerous kind: their ids are held once, in the index itself.
    pub(crate) projects: GrowingIds,
    pub(crate) groups: Shared<IdMap>,
    pub(crate) dms: Shared<IdMap>,
}

#[derive(Debug, Clone)]
pub(crate) struct NetworkEntry {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Per profile the Network names, the permissions on by default.
    pub(crate) defaults: Defaults,
    /// Indexed by [`RolePermission::index`].
    pub(crate) thresholds: [Role; 5],
    pub(crate) announcements: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct OfficeEntry {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) network: Idx,
    /// Sorted by (profile, permission).
    pub(crate) overrides: Vec<(Idx, Idx, bool)>,
    /// Agreements whose host Office this is.
    pub(crate) hosted: Vec<Idx>,
}

#[derive(Debug, Clone)]
pub(crate) struct UserEntry {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) home_office: Idx,
    pub(crate) network: Idx,
    pub(crate) additional_offices: Vec<Idx>,
    pub(crate) access: AccessLevel,
    pub(crate) profile: Idx,
    pub(crate) role: Role,
    pub(crate) system_superuser: bool,
    pub(crate) network_superuser: bool,
    pub(crate) active: bool,
    /// Agreements that share this user, sorted.
    pub(crate) shared_by: Vec<Idx>,
    /// Groups this user is a member of, sorted.
    pub(crate) groups: Vec<Idx>,
    /// People this user shares a direct message with, sorted.
    pub(crate) dm_partners: Vec<Idx>,
    /// Projects whose team this user is on, sorted.
    pub(crate) projects: Vec<Idx>,
}

#[derive(Debug, Clone)]
pub(crate) struct AgreementEntry {
    pub(crate) id: String,
    pub(crate) host_office: Idx,
    pub(crate) guest_office: Idx,
    pub(crate) profile: Idx,
    pub(crate) expires_at: Option<Timestamp>,
}

impl AgreementEntry {
    pub(crate) fn active_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct GroupEntry {
    pub(crate) id: String,
    pub(crate) network: Idx,
    /// Sorted.
    pub(crate) members: Vec<Idx>,
}

#[derive(Debug, Clone)]
pub(crate) struct DmEntry {
    pub(crate) id: String,
    pub(crate) participants: [Idx; 2],
}

/// A Network's default permissions, for the profiles it names only: memory grows with what the
/// organisation says, never with the product of all profiles and all permission keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct Defaults {
    /// Sorted by profile; each set only as long as its highest permission needs.
    sets: Vec<(Idx, BitSet)>,
}

impl Defaults {
    /// The permissions on by default for `profile`, if the Network names it.
    pub(crate) fn get(&self, profile: usize) -> Option<&BitSet> {
        let profile = Idx::try_from(profile).ok()?;
        let i = self.sets.binary_search_by_key(&profile, |(p, _)| *p).ok()?;
        self.sets.get(i).map(|(_, set)| set)
    }

    /// Whether the Network knows `profile`: one of the six defaults, or one it names.
    pub(crate) fn knows(&self, profile: Idx) -> bool {
        (profile as usize) < DEFAULT_PROFILES.len() || self.get(profile as usize).is_some()
    }
}

/// Strings interned to dense indices.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    pub(crate) names: Vec<String>,
    pub(crate) index: IdMap,
}

impl Interner {
    fn intern(&mut self, name: &str) -> Idx {
        if let Some(&idx) = self.index.get(name) {
            return idx;
        }
        let idx = to_idx(self.names.len());
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), idx);
        idx
    }

    pub(crate) fn get(&self, name: &str) -> Option<Idx> {
        self.index.get(name).copied()
    }

    pub(crate) fn name(&self, idx: Idx) -> &str {
        self.names.get(idx as usize).map_or("", String::as_str)
    }
}

/// A fixed-size set of small indices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub(crate) fn with_len(len: usize) -> BitSet {
        BitSet { words: vec![0; len.div_ceil(64)] }
    }

    pub(crate) fn insert(&mut self, idx: Idx) {
        if let Some(word) = self.words.get_mut(idx as usize / 64) {
            *word |= 1 << (idx % 64);
        }
    }

    /// Adds every member of `other`.
    pub(crate) fn union_with(&mut self, other: &BitSet) {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (word, other) in self.words.iter_mut().zip(&other.words) {
            *word |= other;
        }
    }

    pub(crate) fn contains(&self, idx: Idx) -> bool {
        self.words.get(idx as usize / 64).is_some_and(|word| word & (1 << (idx % 64)) != 0)
    }
}

// INVARIANT: tables are far smaller than u32::MAX entries: the size limit on snapshots caps
// them long before that. Saturating keeps this total anyway.
pub(crate) fn to_idx(len: usize) -> Idx {
    Idx::try_from(len).unwrap_or(Idx::MAX)
}

/// Collects problems while the organisation is read.
struct Problems(Vec<ValidationError>);

impl Problems {
    fn push(&mut self, entity: &'static str, id: &str, field: &str, kind: ValidationErrorKind) {
        self.0.push(ValidationError { entity, id: id.to_owned(), field: field.to_owned(), kind });
    }
}

/// Builds an id → index map for one kind, reporting empty and duplicate ids.
fn index_ids<'a>(entity: &'static str, ids: impl Iterator<Item = &'a str>, problems: &mut Problems) -> IdMap {
    // Sized once: 100k users would otherwise be rehashed some fifteen times over.
    let mut map = IdMap::with_capacity_and_hasher(ids.size_hint().0, BuildHasherDefault::default());
    for (position, id) in ids.enumerate() {
        if id.is_empty() {
            problems.push(entity, "", &format!("[{position}].id"), ValidationErrorKind::EmptyId);
        } else if map.contains_key(id) {
            // The first declaration stands, so that follow-on problems point at the second.
            problems.push(entity, id, "id", ValidationErrorKind::DuplicateId);
        } else {
            map.insert(id.to_owned(), to_idx(position));
        }
    }
    map
}

/// Resolves a list of ids, reporting unknown and repeated ones; the result is sorted.
fn resolve_list(
    list: &[String],
    map: &IdMap,
    expected: &'static str,
    at: (&'static str, &str, &str),
    problems: &mut Problems,
) -> Vec<Idx> {
    let (entity, id, field) = at;
    let mut resolved = Vec::with_capacity(list.len());
    for item in list {
        match map.get(item) {
            Some(&idx) => resolved.push(idx),
            None => {
                problems.push(entity, id, field, ValidationErrorKind::Dangling { expected, id: item.clone() })
            }
        }
    }
    resolved.sort_unstable();
    let before = resolved.len();
    resolved.dedup();
    if resolved.len() != before {
        let mut seen: std::collections::HashSet<&str, BuildHasherDefault<IdHasher>> =
            std::collections::HashSet::default();
        if let Some(repeated) = list.iter().find(|item| !seen.insert(item.as_str())) {
            problems.push(entity, id, field, ValidationErrorKind::Repeated { id: repeated.clone() });
        }
    }
    resolved
}

/// Builds the id index of the Projects, reporting empty and duplicate ids as [`index_ids`]
/// does.
fn index_project_ids<'a>(ids: impl Iterator<Item = &'a str>, problems: &mut Problems) -> IdTable {
    let mut table = IdTable::default();
    for (position, id) in ids.enumerate() {
        if id.is_empty() {
            problems.push("projects", "", &format!("[{position}].id"), ValidationErrorKind::EmptyId);
        }
        if table.insert(id).is_err() && !id.is_empty() {
            problems.push("projects", id, "id", ValidationErrorKind::DuplicateId);
        }
    }
    table
}

/// Projects the snapshot loader read straight from a payload, without an [`Org`] in between:
/// ids indexed, Offices and teams resolved against the organisation's Offices and users (by
/// position), and every check [`Policy::new`] makes of Projects passed.
#[derive(Debug, Default)]
pub(crate) struct ReadProjects {
    pub(crate) ids: IdTable,
    pub(crate) table: ProjectTable,
}

/// Resolves the Projects of `org`, reporting what [`Policy::new`] reports of them.
fn read_projects(org: &Org, ids: &Ids, problems: &mut Problems) -> ProjectTable {
    let mut projects = ProjectTable::default();
    for project in &org.projects {
        let office = match ids.offices.get(&project.office) {
            Some(&idx) => idx,
            None => {
                problems.push(
                    "projects",
                    &project.id,
                    "office",
                    ValidationErrorKind::Dangling { expected: "office", id: project.office.clone() },
                );
                Idx::MAX
            }
        };
        let team =
            resolve_list(&project.team, &ids.users, "user", ("projects", &project.id, "team"), problems);
        if let Some(creator) = &project.created_by {
            match ids.users.get(creator) {
                None => problems.push(
                    "projects",
                    &project.id,
                    "created_by",
                    ValidationErrorKind::Dangling { expected: "user", id: creator.clone() },
                ),
                Some(idx) if team.binary_search(idx).is_err() => problems.push(
                    "projects",
                    &project.id,
                    "created_by",
                    ValidationErrorKind::CreatorNotOnTeam { user: creator.clone() },
                ),
                Some(_) => {}
            }
        }
        projects.push(&project.name, office, &team);
    }
    projects
}

/// Fills each user's list of the Projects whose team they are on, sorted, each list allocated
/// once at its size.
fn link_projects(users: &mut [UserEntry], projects: &ProjectTable) {
    let mut counts = vec![0_usize; users.len()];
    for (_, u) in projects.memberships() {
        if let Some(count) = counts.get_mut(u as usize) {
            *count += 1;
        }
    }
    for (user, count) in users.iter_mut().zip(counts) {
        user.projects = Vec::with_capacity(count);
    }
    for (p, u) in projects.memberships() {
        if let Some(user) = users.get_mut(u as usize) {
            user.projects.push(p);
        }
    }
}

impl Policy {
    /// Validates `org` and resolves its ids; refuses it with every problem found.
    pub fn new(org: &Org) -> Result<Policy, ValidationErrors> {
        Policy::assemble(org, None)
    }

    /// [`Policy::new`], with the Projects already read (`org.projects` is then ignored).
    pub(crate) fn assemble(org: &Org, read: Option<ReadProjects>) -> Result<Policy, ValidationErrors> {
        let mut problems = Problems(Vec::new());
        let (project_ids, read_table) = match read {
            Some(read) => (Some(read.ids), Some(read.table)),
            None => (None, None),
        };
        let ids = Ids {
            networks: share(index_ids("networks", org.networks.iter().map(|n| n.id.as_str()), &mut problems)),
            offices: share(index_ids("offices", org.offices.iter().map(|o| o.id.as_str()), &mut problems)),
            users: share(index_ids("users", org.users.iter().map(|u| u.id.as_str()), &mut problems)),
            projects: GrowingIds::from(match project_ids {
                Some(ids) => ids,
                None => index_project_ids(org.projects.iter().map(|p| p.id.as_str()), &mut problems),
            }),
            groups: share(index_ids("groups", org.groups.iter().map(|g| g.id.as_str()), &mut problems)),
            dms: share(index_ids(
                "direct_messages",
                org.direct_messages.iter().map(|d| d.id.as_str()),
                &mut problems,
            )),
        };
        // Agreement ids are not queried, but must still be unique.
        index_ids("agreements", org.agreements.iter().map(|a| a.id.as_str()), &mut problems);

        // Intern profile names and permission keys first: bit sets are sized by them.
        let mut profiles = Interner::default();
        for name in DEFAULT_PROFILES {
            profiles.intern(name);
        }
        let mut permissions = Interner::default();
        for key in KNOWN_PROFILE_PERMISSIONS {
            permissions.intern(key);
        }
        for network in &org.networks {
            for (profile, keys) in &network.defaults {
                profiles.intern(profile);
                for key in keys {
                    match permission::key_problem(key) {
                        None => {
                            permissions.intern(key);
                        }
                        Some(reason) => problems.push(
                            "networks",
                            &network.id,
                            &format!("defaults.{profile}"),
                            ValidationErrorKind::BadPermissionKey { key: key.clone(), reason },
                        ),
                    }
                }
            }
        }
        for office in &org.offices {
            for (profile, switches) in &office.overrides {
                for key in switches.keys() {
                    match permission::key_problem(key) {
                        None => {
                            permissions.intern(key);
                        }
                        Some(reason) => problems.push(
                            "offices",
                            &office.id,
                            &format!("overrides.{profile}"),
                            ValidationErrorKind::BadPermissionKey { key: key.clone(), reason },
                        ),
                    }
                }
            }
        }

        let networks: Vec<NetworkEntry> = org
            .networks
            .iter()
            .map(|network| {
                let mut sets: Vec<(Idx, BitSet)> = network
                    .defaults
                    .iter()
                    .filter_map(|(profile, keys)| {
                        let profile = profiles.get(profile)?;
                        let keys: Vec<Idx> = keys.iter().filter_map(|key| permissions.get(key)).collect();
                        let mut set = BitSet::with_len(keys.iter().max().map_or(0, |&k| k as usize + 1));
                        for key in keys {
                            set.insert(key);
                        }
                        Some((profile, set))
                    })
                    .collect();
                sets.sort_by_key(|(profile, _)| *profile);
                let defaults = Defaults { sets };
                let mut thresholds = RolePermission::ALL.map(RolePermission::default_minimum);
                for (key, threshold) in &network.messaging {
                    let field = format!("messaging.{key}");
                    let Some(role_permission) = RolePermission::from_key(key) else {
                        problems.push(
                            "networks",
                            &network.id,
                            &field,
                            ValidationErrorKind::UnknownMessagingKey { key: key.clone() },
                        );
                        continue;
                    };
                    match threshold.role() {
                        Some(role) => {
                            if let Some(slot) = thresholds.get_mut(role_permission.index()) {
                                *slot = role;
                            }
                        }
                        None => problems.push(
                            "networks",
                            &network.id,
                            &field,
                            ValidationErrorKind::ThresholdAboveAdmin { key: key.clone() },
                        ),
                    }
                }
                NetworkEntry {
                    id: network.id.clone(),
                    name: network.name.clone(),
                    defaults,
                    thresholds,
                    announcements: network.features.announcements,
                }
            })
            .collect();

        let network_id = |idx: Idx| networks.get(idx as usize).map_or("", |n| n.id.as_str());
        let profile_known = |network: Idx, profile: Idx| {
            networks.get(network as usize).is_some_and(|n| n.defaults.knows(profile))
        };

        let mut offices: Vec<OfficeEntry> = Vec::with_capacity(org.offices.len());
        for office in &org.offices {
            let network = match ids.networks.get(&office.network) {
                Some(&idx) => idx,
                None => {
                    problems.push(
                        "offices",
                        &office.id,
                        "network",
                        ValidationErrorKind::Dangling { expected: "network", id: office.network.clone() },
                    );
                    Idx::MAX
                }
            };
            let mut overrides = Vec::new();
            for (profile, switches) in &office.overrides {
                let profile_idx =
                    profiles.get(profile).filter(|&p| network == Idx::MAX || profile_known(network, p));
                let Some(profile_idx) = profile_idx else {
                    if network != Idx::MAX {
                        problems.push(
                            "offices",
                            &office.id,
                            &format!("overrides.{profile}"),
                            ValidationErrorKind::UnknownProfile {
                                profile: profile.clone(),
                                network: office.network.clone(),
                            },
                        );
                    }
                    continue;
                };
                for (key, &on) in switches {
                    if let Some(key_idx) = permissions.get(key) {
                        overrides.push((profile_idx, key_idx, on));
                    }
                }
            }
            overrides.sort_unstable();
            offices.push(OfficeEntry {
                id: office.id.clone(),
                name: office.name.clone(),
                network,
                overrides,
                hosted: Vec::new(),
            });
        }
        let office_network = |idx: Idx| offices.get(idx as usize).map_or(Idx::MAX, |o| o.network);

        let mut users: Vec<UserEntry> = Vec::with_capacity(org.users.len());
        for user in &org.users {
            let home_office = match ids.offices.get(&user.home_office) {
                Some(&idx) => idx,
                None => {
                    problems.push(
                        "users",
                        &user.id,
                        "home_office",
                        ValidationErrorKind::Dangling { expected: "office", id: user.home_office.clone() },
                    );
                    Idx::MAX
                }
            };
            let network = office_network(home_office);
            let additional_offices = resolve_list(
                &user.additional_offices,
                &ids.offices,
                "office",
                ("users", &user.id, "additional_offices"),
                &mut problems,
            );
            if network != Idx::MAX {
                for (&office, name) in additional_offices.iter().zip(&user.additional_offices) {
                    let actual = office_network(office);
                    if actual != network {
                        problems.push(
                            "users",
                            &user.id,
                            "additional_offices",
                            ValidationErrorKind::WrongNetwork {
                                id: name.clone(),
                                actual: network_id(actual).to_owned(),
                                expected: network_id(network).to_owned(),
                            },
                        );
                    }
                }
            }
            let profile = profiles.get(&user.profile).filter(|&p| profile_known(network, p));
            if profile.is_none() && network != Idx::MAX {
                problems.push(
                    "users",
                    &user.id,
                    "profile",
                    ValidationErrorKind::UnknownProfile {
                        profile: user.profile.clone(),
                        network: network_id(network).to_owned(),
                    },
                );
            }
            users.push(UserEntry {
                id: user.id.clone(),
                name: user.name.clone(),
                home_office,
                network,
                additional_offices,
                access: user.access,
                profile: profile.unwrap_or(Idx::MAX),
                role: user.role,
                system_superuser: user.system_superuser,
                network_superuser: user.network_superuser,
                active: user.active,
                shared_by: Vec::new(),
                groups: Vec::new(),
                dm_partners: Vec::new(),
                projects: Vec::new(),
            });
        }

        let projects = match read_table {
            Some(table) => table,
            None => read_projects(org, &ids, &mut problems),
        };
        link_projects(&mut users, &projects);

        let mut agreements = Vec::with_capacity(org.agreements.len());
        let mut hosted = Vec::new();
        for (agreement_idx, agreement) in org.agreements.iter().enumerate() {
            let agreement_idx = to_idx(agreement_idx);
            let mut office_of = |field: &str, id: &String| match ids.offices.get(id) {
                Some(&idx) => idx,
                None => {
                    problems.push(
                        "agreements",
                        &agreement.id,
                        field,
                        ValidationErrorKind::Dangling { expected: "office", id: id.clone() },
                    );
                    Idx::MAX
                }
            };
            let host_office = office_of("host_office", &agreement.host_office);
            let guest_office = office_of("guest_office", &agreement.guest_office);
            let host_network = office_network(host_office);
            if host_office != Idx::MAX
                && guest_office != Idx::MAX
                && host_network == office_network(guest_office)
            {
                problems.push(
                    "agreements",
                    &agreement.id,
                    "guest_office",
                    ValidationErrorKind::SameNetwork { network: network_id(host_network).to_owned() },
                );
            }
            let profile = profiles.get(&agreement.profile).filter(|&p| profile_known(host_network, p));
            if profile.is_none() && host_network != Idx::MAX {
                problems.push(
                    "agreements",
                    &agreement.id,
                    "profile",
                    ValidationErrorKind::UnknownProfile {
                        profile: agreement.profile.clone(),
                        network: network_id(host_network).to_owned(),
                    },
                );
            }
            let shared: Vec<Idx> = match &agreement.users {
                Some(list) => {
                    let resolved = resolve_list(
                        list,
                        &ids.users,
                        "user",
                        ("agreements", &agreement.id, "users"),
                        &mut problems,
                    );
                    for &user_idx in &resolved {
                        let Some(user) = users.get(user_idx as usize) else { continue };
                        if user.home_office != guest_office && guest_office != Idx::MAX {
                            let home_office =
                                org.offices.get(user.home_office as usize).map_or("", |o| o.id.as_str());
                            problems.push(
                                "agreements",
                                &agreement.id,
                                "users",
                                ValidationErrorKind::NotOfGuestOffice {
                                    user: user.id.clone(),
                                    home_office: home_office.to_owned(),
                                },
                            );
                        }
                    }
                    resolved
                }
                None => users
                    .iter()
                    .enumerate()
                    .filter(|(_, user)| user.home_office == guest_office)
                    .map(|(idx, _)| to_idx(idx))
                    .collect(),
            };
            for user_idx in shared {
                if let Some(user) = users.get_mut(user_idx as usize) {
                    user.shared_by.push(agreement_idx);
                }
            }
            hosted.push((host_office, agreement_idx));
            agreements.push(AgreementEntry {
                id: agreement.id.clone(),
                host_office,
                guest_office,
                profile: profile.unwrap_or(Idx::MAX),
                expires_at: agreement.expires_at,
            });
        }

        for (office, agreement) in hosted {
            if let Some(office) = offices.get_mut(office as usize) {
                office.hosted.push(agreement);
            }
        }

        let mut groups = Vec::with_capacity(org.groups.len());
        for (group_idx, group) in org.groups.iter().enumerate() {
            let network = match ids.networks.get(&group.network) {
                Some(&idx) => idx,
                None => {
                    problems.push(
                        "groups",
                        &group.id,
                        "network",
                        ValidationErrorKind::Dangling { expected: "network", id: group.network.clone() },
                    );
                    Idx::MAX
                }
            };
            let members = resolve_list(
                &group.members,
                &ids.users,
                "user",
                ("groups", &group.id, "members"),
                &mut problems,
            );
            let owners = resolve_list(
                &group.owners,
                &ids.users,
                "user",
                ("groups", &group.id, "owners"),
                &mut problems,
            );
            for &member in &members {
                let Some(user) = users.get_mut(member as usize) else { continue };
                user.groups.push(to_idx(group_idx));
                if network != Idx::MAX && user.network != Idx::MAX && user.network != network {
                    problems.push(
                        "groups",
                        &group.id,
                        "members",
                        ValidationErrorKind::WrongNetwork {
                            id: user.id.clone(),
                            actual: network_id(user.network).to_owned(),
                            expected: group.network.clone(),
                        },
                    );
                }
            }
            for owner in owners {
                if members.binary_search(&owner).is_err() {
                    let id = users.get(owner as usize).map_or(String::new(), |u| u.id.clone());
                    problems.push(
                        "groups",
                        &group.id,
                        "owners",
                        ValidationErrorKind::OwnerNotMember { user: id },
                    );
                }
            }
            groups.push(GroupEntry { id: group.id.clone(), network, members });
        }

        let mut dms = Vec::with_capacity(org.direct_messages.len());
        for dm in &org.direct_messages {
            let participants = resolve_list(
                &dm.participants,
                &ids.users,
                "user",
                ("direct_messages", &dm.id, "participants"),
                &mut problems,
            );
            let pair = match participants.as_slice() {
                [first, second] => Some([*first, *second]),
                _ => {
                    if dm.participants.iter().all(|p| ids.users.contains_key(p)) {
                        problems.push(
                            "direct_messages",
                            &dm.id,
                            "participants",
                            ValidationErrorKind::Participants { count: participants.len() },
                        );
                    }
                    None
                }
            };
            if !dm.participants.contains(&dm.started_by) {
                problems.push(
                    "direct_messages",
                    &dm.id,
                    "started_by",
                    ValidationErrorKind::StarterNotParticipant { user: dm.started_by.clone() },
                );
            }
            if let Some([first, second]) = pair {
                // Across the firewall only where an Agreement (in force or not: the conversation
                // outlives it) linked the two.
                let linked = |guest: Idx, host: Idx| {
                    let (Some(guest), Some(host)) = (users.get(guest as usize), users.get(host as usize))
                    else {
                        return false;
                    };
                    guest.shared_by.iter().any(|&a| {
                        agreements
                            .get(a as usize)
                            .is_some_and(|a: &AgreementEntry| a.host_office == host.home_office)
                    })
                };
                let networks = (
                    users.get(first as usize).map(|u| u.network),
                    users.get(second as usize).map(|u| u.network),
                );
                if networks.0 != networks.1 && !linked(first, second) && !linked(second, first) {
                    problems.push(
                        "direct_messages",
                        &dm.id,
                        "participants",
                        ValidationErrorKind::AcrossTheFirewall {
                            first: dm.participants.first().cloned().unwrap_or_default(),
                            second: dm.participants.get(1).cloned().unwrap_or_default(),
                        },
                    );
                }
                if let Some(user) = users.get_mut(first as usize) {
                    user.dm_partners.push(second);
                }
                if let Some(user) = users.get_mut(second as usize) {
                    user.dm_partners.push(first);
                }
                dms.push(DmEntry { id: dm.id.clone(), participants: [first, second] });
            }
        }
        for user in &mut users {
            user.groups.sort_unstable();
            user.dm_partners.sort_unstable();
            user.dm_partners.dedup();
            user.shared_by.sort_unstable();
        }

        if !problems.0.is_empty() {
            return Err(ValidationErrors::new(problems.0));
        }
        let office_networks = share(offices.iter().map(|o| o.network).collect());
        Ok(Policy {
            networks: Rows::from_vec(networks),
            offices: Rows::from_vec(offices),
            users: Rows::from_vec(users),
            projects,
            agreements: Rows::from_vec(agreements),
            groups: Rows::from_vec(groups),
            dms: Rows::from_vec(dms),
            profiles: share(profiles),
            permissions: share(permissions),
            ids,
            office_networks,
            stamp: next_stamp(),
        })
    }

    /// How many entities of each kind the policy holds.
    pub fn counts(&self) -> Counts {
        Counts {
            networks: self.networks.len(),
            offices: self.offices.len(),
            users: self.users.len(),
            projects: self.projects.len(),
            agreements: self.agreements.len(),
            groups: self.groups.len(),
            direct_messages: self.dms.len(),
        }
    }

    /// The profile permission keys this policy knows: the seven of the spec and every key a
    /// Network or Office names.
    pub fn profile_permissions(&self) -> impl Iterator<Item = &str> {
        self.permissions.names.iter().map(String::as_str)
    }

    /// Whether this policy holds an entity of any kind (Network, Office, user, Project, group,
    /// direct message, Agreement) with this id: for a snapshot's, whether its user may know of
    /// it at all.
    pub fn knows_id(&self, id: &str) -> bool {
        self.ids.users.contains_key(id)
            || self.ids.offices.contains_key(id)
            || self.ids.networks.contains_key(id)
            || self.ids.projects.contains_key(id)
            || self.ids.groups.contains_key(id)
            || self.ids.dms.contains_key(id)
            || self.agreements.iter().any(|agreement| agreement.id == id)
    }

    /// User ids, in source order.
    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|user| user.id.as_str())
    }

    /// Project ids, in source order.
    pub fn project_ids(&self) -> impl Iterator<Item = &str> {
        self.ids.projects.iter()
    }

    /// Group ids, in source order.
    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|group| group.id.as_str())
    }

    /// Direct message ids, in source order.
    pub fn dm_ids(&self) -> impl Iterator<Item = &str> {
        self.dms.iter().map(|dm| dm.id.as_str())
    }

    /// Office ids, in source order.
    pub fn office_ids(&self) -> impl Iterator<Item = &str> {
        self.offices.iter().map(|office| office.id.as_str())
    }

    /// Network ids, in source order.
    pub fn network_ids(&self) -> impl Iterator<Item = &str> {
        self.networks.iter().map(|network| network.id.as_str())
    }

    /// Every user, in source order, with what the rules read of them.
    pub fn users(&self) -> impl Iterator<Item = UserSummary<'_>> {
        self.users.iter().map(|user| UserSummary {
            id: &user.id,
            name: &user.name,
            network: self.network(user.network).map_or("", |n| n.id.as_str()),
            home_office: self.office(user.home_office).map_or("", |o| o.id.as_str()),
            access: user.access,
            profile: self.profiles.name(user.profile),
            role: user.role,
            system_superuser: user.system_superuser,
            network_superuser: user.network_superuser,
            active: user.active,
        })
    }

    /// One user's summary.
    pub fn user_summary(&self, id: &str) -> Option<UserSummary<'_>> {
        let idx = *self.ids.users.get(id)?;
        self.users().nth(idx as usize)
    }

    /// A Project's name.
    pub fn project_name(&self, id: &str) -> Option<&str> {
        let idx = self.ids.projects.get(id)?;
        self.project(idx).map(|project| project.name)
    }

    /// An Office's name.
    pub fn office_name(&self, id: &str) -> Option<&str> {
        let idx = *self.ids.offices.get(id)?;
        self.office(idx).map(|office| office.name.as_str())
    }

    /// A Network's name.
    pub fn network_name(&self, id: &str) -> Option<&str> {
        let idx = *self.ids.networks.get(id)?;
        self.network(idx).map(|network| network.name.as_str())
    }

    /// The id of the Office a Project belongs to.
    pub fn project_office(&self, id: &str) -> Option<&str> {
        let idx = self.ids.projects.get(id)?;
        let office = self.project(idx)?.office;
        self.office(office).map(|office| office.id.as_str())
    }

    /// The first instant after `now` at which a decision could change with time alone: the
    /// earliest Agreement expiry after `now`, if any. Decisions made at `now` hold until then
    /// (a snapshot's own expiry aside), so a caller may cache them that long.
    pub fn next_change(&self, now: crate::Timestamp) -> Option<crate::Timestamp> {
        self.agreements.iter().filter_map(|agreement| agreement.expires_at).filter(|at| *at > now).min()
    }

    /// The two participants of a direct message.
    pub fn dm_participants(&self, id: &str) -> Option<[&str; 2]> {
        let idx = *self.ids.dms.get(id)?;
        let [a, b] = self.dms.get(idx as usize)?.participants;
        Some([self.user(a)?.id.as_str(), self.user(b)?.id.as_str()])
    }

    /// The ids of the Projects `user` may see at `now`, in source order.
    pub fn visible_projects<'a>(&'a self, user: &str, now: crate::Timestamp) -> Vec<&'a str> {
        self.project_refs()
            .filter(|project| {
                self.allows(
                    user,
                    &crate::Query::view(crate::ResourceKind::Project, project.id.to_owned()),
                    now,
                )
            })
            .map(|project| project.id)
            .collect()
    }

    /// Every permission that takes no target, with whether `user` holds it at `now`: profile
    /// permissions outside a Project, role permissions and `network.manage`.
    pub fn permissions_without_target<'a>(
        &'a self,
        user: &str,
        now: crate::Timestamp,
    ) -> Vec<(&'a str, bool)> {
        let mut keys: Vec<&'a str> = self
            .permissions
            .names
            .iter()
            .map(String::as_str)
            .filter(|key| !crate::model::PROJECT_PERMISSIONS.contains(key))
            .collect();
        keys.extend([
            RolePermission::GroupCreate.key(),
            RolePermission::PeopleSearchAll.key(),
            RolePermission::AnnouncementOrg.key(),
            crate::AdminPermission::NetworkManage.key(),
        ]);
        keys.into_iter()
            .map(|key| (key, self.allows(user, &crate::Query::can(key, crate::Target::none()), now)))
            .collect()
    }

    /// The id of the Network of `user`'s home Office.
    pub(crate) fn user_network_id(&self, user: &str) -> Option<&str> {
        let user = self.user(*self.ids.users.get(user)?)?;
        self.network(user.network).map(|network| network.id.as_str())
    }

    pub(crate) fn office_id(&self, idx: Idx) -> String {
        self.office(idx).map(|o| o.id.clone()).unwrap_or_default()
    }

    pub(crate) fn network_id(&self, idx: Idx) -> String {
        self.network(idx).map(|n| n.id.clone()).unwrap_or_default()
    }

    pub(crate) fn user(&self, idx: Idx) -> Option<&UserEntry> {
        self.users.get(idx as usize)
    }

    pub(crate) fn office(&self, idx: Idx) -> Option<&OfficeEntry> {
        self.offices.get(idx as usize)
    }

    pub(crate) fn network(&self, idx: Idx) -> Option<&NetworkEntry> {
        self.networks.get(idx as usize)
    }

    pub(crate) fn project(&self, idx: Idx) -> Option<ProjectRef<'_>> {
        let p = idx as usize;
        let office = self.projects.office(p)?;
        Some(ProjectRef {
            id: self.ids.projects.id(idx)?,
            name: self.projects.name(p)?,
            office,
            network: self.office_networks.get(office as usize).copied().unwrap_or(Idx::MAX),
            team: self.projects.team(p)?,
        })
    }

    /// Every Project, in source order.
    pub(crate) fn project_refs(&self) -> impl Iterator<Item = ProjectRef<'_>> {
        (0..self.projects.len()).filter_map(|p| self.project(to_idx(p)))
    }

    pub(crate) fn group(&self, idx: Idx) -> Option<&GroupEntry> {
        self.groups.get(idx as usize)
    }

    pub(crate) fn agreement(&self, idx: Idx) -> Option<&AgreementEntry> {
        self.agreements.get(idx as usize)
    }
}

#[cfg(test)]
impl Policy {
    /// Panics unless `other` holds what this policy holds (its stamp aside).
    pub(crate) fn assert_same(&self, other: &Policy) {
        let shown = |policy: &Policy| {
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                policy.networks,
                policy.offices,
                policy.users,
                policy.agreements,
                policy.groups,
                policy.dms,
                policy.profiles.names,
                policy.permissions.names,
                policy.office_networks,
            )
        };
        assert_eq!(shown(self), shown(other));
        assert_eq!(self.projects.len(), other.projects.len());
        for (a, b) in self.project_refs().zip(other.project_refs()) {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            assert_eq!(self.ids.projects.get(a.id), other.ids.projects.get(b.id));
        }
        for user in &self.users {
            assert_eq!(self.ids.users.get(&user.id), other.ids.users.get(&user.id));
        }
        assert_eq!(self.ids.users.len(), other.ids.users.len());
        assert_eq!(self.ids.offices, other.ids.offices);
        assert_eq!(self.ids.networks, other.ids.networks);
        assert_eq!(self.ids.groups, other.ids.groups);
        assert_eq!(self.ids.dms, other.ids.dms);
    }
}

/// What the rules read of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct UserSummary<'a> {
    /// The user's id.
    pub id: &'a str,
    /// Their name.
    pub name: &'a str,
    /// Their Network.
    pub network: &'a str,
    /// Their home Office.
    pub home_office: &'a str,
    /// Their Project Access Level.
    pub access: AccessLevel,
    /// Their Permission Profile.
    pub profile: &'a str,
    /// Their messaging role.
    pub role: Role,
    /// System superuser.
    pub system_superuser: bool,
    /// Superuser of their Network.
    pub network_superuser: bool,
    /// Active.
    pub active: bool,
}

/// How many entities of each kind a policy holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Networks.
    pub networks: usize,
    /// Offices.
    pub offices: usize,
    /// Users.
    pub users: usize,
    /// Projects.
    pub projects: usize,
    /// Agreements.
    pub agreements: usize,
    /// Groups.
    pub groups: usize,
    /// Direct messages.
    pub direct_messages: usize,
}
