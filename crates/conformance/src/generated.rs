//! Random valid organisations, from raw indices folded into range and repaired, and every
//! question worth asking of one. Shared by the property tests (through proptest) and the fuzz
//! targets (through [`Raw::from_bytes`]).
//!
//! Test-data generation, not product code: every index is folded into range before use (`% len`)
//! and the few parsed constants are literals, so indexing and unwrapping cannot fail here.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "indices are folded into range; constants parse"
)]

use std::collections::{BTreeMap, BTreeSet};

use tessera_core::{
    AccessLevel, Agreement, DEFAULT_PROFILES, DirectMessage, Features, Group, KNOWN_PROFILE_PERMISSIONS,
    Network, Office, Org, Project, Query, ResourceKind, Role, Target, Threshold, Timestamp, User,
};

/// The raw material of a random organisation: indices that [`build`] folds into range and
/// repairs into a valid organisation.
#[derive(Debug, Clone)]
pub struct Raw {
    pub networks: usize,
    pub defaults: Vec<Vec<bool>>,
    pub thresholds: Vec<[u8; 5]>,
    pub announcements: Vec<bool>,
    pub offices: Vec<usize>,
    pub overrides: Vec<(usize, usize, usize, bool)>,
    pub users: Vec<RawUser>,
    pub projects: Vec<(usize, Vec<usize>)>,
    pub agreements: Vec<RawAgreement>,
    pub groups: Vec<(usize, Vec<usize>)>,
    pub dms: Vec<(usize, usize)>,
}

/// Host, guest, listed users (or all), profile, expiry (none, future, past).
pub type RawAgreement = (usize, usize, Option<Vec<usize>>, usize, u8);

#[derive(Debug, Clone)]
pub struct RawUser {
    pub office: usize,
    pub additional: Vec<usize>,
    pub access: u8,
    pub profile: usize,
    pub role: u8,
    pub system_superuser: bool,
    pub network_superuser: bool,
    pub active: bool,
}

impl Raw {
    /// Raw material read from arbitrary bytes (a fuzzer's input); short input reads as zeros.
    pub fn from_bytes(bytes: &[u8]) -> Raw {
        let mut at = 0usize;
        let mut next = move || -> usize {
            let byte = bytes.get(at).copied().unwrap_or(0);
            at += 1;
            usize::from(byte)
        };
        let n_perms = KNOWN_PROFILE_PERMISSIONS.len();
        let networks = 1 + next() % 3;
        let defaults = (0..3).map(|_| (0..6 * n_perms).map(|_| next() % 2 == 1).collect()).collect();
        let thresholds = (0..3).map(|_| [0; 5].map(|_: u8| (next() % 3) as u8)).collect();
        let announcements = (0..3).map(|_| next() % 2 == 1).collect();
        let offices = (0..1 + next() % 6).map(|_| next()).collect();
        let overrides =
            (0..next() % 6).map(|_| (next(), next() % 6, next() % n_perms, next() % 2 == 1)).collect();
        let users = (0..1 + next() % 12)
            .map(|_| RawUser {
                office: next(),
                additional: (0..next() % 2).map(|_| next()).collect(),
                access: (next() % 3) as u8,
                profile: next() % 6,
                role: (next() % 3) as u8,
                system_superuser: next() % 10 == 0,
                network_superuser: next() % 7 == 0,
                active: next() % 10 != 0,
            })
            .collect();
        let projects =
            (0..next() % 10).map(|_| (next(), (0..next() % 5).map(|_| next()).collect())).collect();
        let agreements = (0..next() % 4)
            .map(|_| {
                let listed = (next() % 2 == 1).then(|| (0..next() % 3).map(|_| next()).collect());
                (next(), next(), listed, next() % 6, (next() % 3) as u8)
            })
            .collect();
        let groups = (0..next() % 4).map(|_| (next(), (0..next() % 5).map(|_| next()).collect())).collect();
        let dms = (0..next() % 6).map(|_| (next(), next())).collect();
        Raw {
            networks,
            defaults,
            thresholds,
            announcements,
            offices,
            overrides,
            users,
            projects,
            agreements,
            groups,
            dms,
        }
    }
}

fn pick<T: Copy>(items: &[T], index: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[index % items.len()])
}

/// Folds raw indices into a valid organisation.
pub fn build(raw: &Raw) -> Org {
    let network_id = |n: usize| format!("n-{n}");
    let office_id = |o: usize| format!("o-{o}");
    let user_id = |u: usize| format!("u-{u}");
    let perms = KNOWN_PROFILE_PERMISSIONS;
    let roles = [Role::User, Role::Manager, Role::Admin];
    let thresholds = [Threshold::User, Threshold::Manager, Threshold::Admin];
    let role_keys =
        ["group.create", "people.search_all", "dm.start", "announcement.org", "announcement.group"];

    let networks: Vec<Network> = (0..raw.networks)
        .map(|n| Network {
            id: network_id(n),
            name: format!("Network {n}"),
            defaults: DEFAULT_PROFILES
                .iter()
                .enumerate()
                .map(|(p, profile)| {
                    let on = perms
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| raw.defaults[n][p * perms.len() + k])
                        .map(|(_, key)| (*key).to_owned())
                        .collect();
                    ((*profile).to_owned(), on)
                })
                .collect(),
            messaging: role_keys
                .iter()
                .zip(raw.thresholds[n])
                .map(|(key, t)| ((*key).to_owned(), thresholds[t as usize]))
                .collect(),
            features: Features { announcements: raw.announcements[n] },
        })
        .collect();
    let office_network: Vec<usize> = raw.offices.iter().map(|n| n % raw.networks).collect();
    let mut offices: Vec<Office> = office_network
        .iter()
        .enumerate()
        .map(|(o, n)| Office {
            id: office_id(o),
            name: format!("Office {o}"),
            network: network_id(*n),
            overrides: BTreeMap::new(),
        })
        .collect();
    for &(o, p, k, on) in &raw.overrides {
        let o = o % offices.len();
        offices[o]
            .overrides
            .entry(DEFAULT_PROFILES[p].to_owned())
            .or_default()
            .insert(perms[k].to_owned(), on);
    }
    let user_office: Vec<usize> = raw.users.iter().map(|u| u.office % offices.len()).collect();
    let users: Vec<User> = raw
        .users
        .iter()
        .enumerate()
        .map(|(u, raw_user)| {
            let home = user_office[u];
            let additional: BTreeSet<usize> = raw_user
                .additional
                .iter()
                .map(|o| o % offices.len())
                .filter(|&o| o != home && office_network[o] == office_network[home])
                .collect();
            User {
                id: user_id(u),
                name: format!("User {u}"),
                home_office: office_id(home),
                additional_offices: additional.into_iter().map(office_id).collect(),
                access: [AccessLevel::AllInOffice, AccessLevel::InviteOnly, AccessLevel::NetworkAdmin]
                    [raw_user.access as usize],
                profile: DEFAULT_PROFILES[raw_user.profile].to_owned(),
                role: roles[raw_user.role as usize],
                system_superuser: raw_user.system_superuser,
                network_superuser: raw_user.network_superuser,
                active: raw_user.active,
            }
        })
        .collect();
    let n_users = users.len();
    let projects: Vec<Project> = raw
        .projects
        .iter()
        .enumerate()
        .map(|(p, (office, team))| {
            let team: BTreeSet<usize> = team.iter().map(|u| u % n_users).collect();
            let team: Vec<String> = team.into_iter().map(user_id).collect();
            Project {
                id: format!("p-{p}"),
                name: format!("Project {p}"),
                office: office_id(office % offices.len()),
                created_by: team.first().cloned(),
                team,
            }
        })
        .collect();
    let agreements: Vec<Agreement> = raw
        .agreements
        .iter()
        .enumerate()
        .filter_map(|(a, (host, guest, listed, profile, expiry))| {
            let host = host % offices.len();
            let guest = guest % offices.len();
            if office_network[host] == office_network[guest] {
                return None;
            }
            let users = listed.as_ref().map(|listed| {
                let of_guest: Vec<usize> = (0..n_users).filter(|&u| user_office[u] == guest).collect();
                let chosen: BTreeSet<usize> = listed.iter().filter_map(|&i| pick(&of_guest, i)).collect();
                chosen.into_iter().map(user_id).collect()
            });
            let expires_at = match expiry {
                0 => None,
                1 => Some(Timestamp::parse("2030-01-01T00:00:00Z").unwrap()),
                _ => Some(Timestamp::parse("2025-01-01T00:00:00Z").unwrap()),
            };
            Some(Agreement {
                id: format!("a-{a}"),
                host_office: office_id(host),
                guest_office: office_id(guest),
                users,
                profile: DEFAULT_PROFILES[*profile].to_owned(),
                expires_at,
            })
        })
        .collect();
    let groups: Vec<Group> = raw
        .groups
        .iter()
        .enumerate()
        .map(|(g, (network, members))| {
            let network = network % raw.networks;
            let of_network: Vec<usize> =
                (0..n_users).filter(|&u| office_network[user_office[u]] == network).collect();
            let members: BTreeSet<usize> = members.iter().filter_map(|&i| pick(&of_network, i)).collect();
            let members: Vec<String> = members.into_iter().map(user_id).collect();
            Group {
                id: format!("g-{g}"),
                network: network_id(network),
                owners: members.first().cloned().into_iter().collect(),
                members,
            }
        })
        .collect();
    // A direct message crosses the firewall only where an Agreement (any) linked the two.
    let shared = |agreement: &Agreement, u: usize| match &agreement.users {
        Some(list) => list.contains(&user_id(u)),
        None => office_id(user_office[u]) == agreement.guest_office,
    };
    let linked = |guest: usize, host: usize| {
        agreements.iter().any(|a| shared(a, guest) && a.host_office == office_id(user_office[host]))
    };
    let mut pairs = BTreeSet::new();
    let direct_messages: Vec<DirectMessage> = raw
        .dms
        .iter()
        .filter_map(|(a, b)| {
            let (a, b) = (a % n_users, b % n_users);
            let same_network = office_network[user_office[a]] == office_network[user_office[b]];
            let allowed = same_network || linked(a, b) || linked(b, a);
            (a != b && allowed && pairs.insert((a.min(b), a.max(b)))).then_some((a, b))
        })
        .enumerate()
        .map(|(d, (a, b))| DirectMessage {
            id: format!("d-{d}"),
            participants: vec![user_id(a), user_id(b)],
            started_by: user_id(a),
        })
        .collect();
    Org { networks, offices, users, projects, agreements, groups, direct_messages }
}

/// Every question worth asking of `org`, by anyone: each resource, each permission with each
/// target it takes, and a few unknown ids and malformed shapes.
pub fn all_queries(org: &Org) -> Vec<Query> {
    let mut queries = Vec::new();
    let missing = "does-not-exist";
    for project in org.projects.iter().map(|p| p.id.as_str()).chain([missing]) {
        queries.push(Query::view(ResourceKind::Project, project));
        for kind in [ResourceKind::Task, ResourceKind::Document, ResourceKind::Report, ResourceKind::Finance]
        {
            queries.push(Query::view_in(kind, format!("{}-{project}", kind.as_str()), project));
        }
        for key in ["task.create", "file.upload", "wiki.manage"] {
            queries.push(Query::can(key, Target::project(project)));
        }
    }
    for user in org.users.iter().map(|u| u.id.as_str()).chain([missing]) {
        queries.push(Query::view(ResourceKind::Person, user));
        queries.push(Query::can("dm.start", Target::person(user)));
        queries.push(Query::can("people.search", Target::person(user)));
    }
    for group in org.groups.iter().map(|g| g.id.as_str()).chain([missing]) {
        queries.push(Query::view(ResourceKind::Group, group));
        queries.push(Query::can("announcement.group", Target::group(group)));
    }
    for dm in org.direct_messages.iter().map(|d| d.id.as_str()).chain([missing]) {
        queries.push(Query::can("dm.reply", Target::dm(dm)));
    }
    for office in org.offices.iter().map(|o| o.id.as_str()).chain([missing]) {
        for key in ["office.manage", "user.manage", "project.manage", "overrides.edit"] {
            queries.push(Query::can(key, Target::office(office)));
        }
    }
    for network in org.networks.iter().map(|n| n.id.as_str()).chain([missing]) {
        queries.push(Query::can("defaults.edit", Target::network(network)));
    }
    for key in KNOWN_PROFILE_PERMISSIONS.iter().copied().chain([
        "group.create",
        "people.search_all",
        "announcement.org",
        "network.manage",
        "no.such",
    ]) {
        queries.push(Query::can(key, Target::none()));
    }
    queries.push(Query::view(ResourceKind::Task, "task-without-project"));
    queries.push(Query::can("project.create", Target::project("p-0")));
    queries
}
