//! Generated organisations of any size, the same for the same seed.
//!
//! [`generate`] builds an [`Org`] from a [`Scale`]: Networks, Offices spread over them, users,
//! Projects with teams, Office overrides, a few Agreements, groups and direct messages. Every
//! organisation it makes passes [`tessera_core::Policy::new`]. The presets
//! [`Scale::small`], [`Scale::medium`] and [`Scale::large`] are the sizes tests, demos and
//! benchmarks share.
//!
//! The randomness is a small inline PRNG (splitmix64) over integers only, so an organisation
//! depends on nothing but its [`Scale`]: not on the platform, the Rust version or a crate's
//! release.
//!
//! ```
//! use tessera_generate::{Scale, generate};
//!
//! let scale = Scale { users: 50, projects: 100, networks: 2, offices: 6, seed: 7 };
//! let org = generate(&scale);
//! assert_eq!(org.users.len(), 50);
//! assert_eq!(org, generate(&scale));
//! assert!(tessera_core::Policy::new(&org).is_ok());
//! ```

#![deny(missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashSet};

use tessera_core::{
    AccessLevel, Agreement, DEFAULT_PROFILES, DirectMessage, Features, Group, KNOWN_PROFILE_PERMISSIONS,
    Network, Office, Org, Project, Role, Threshold, Timestamp, User,
};

mod rng;

use rng::Rng;

/// How big an organisation to make, and from which seed.
///
/// A zero is raised to the least that makes an organisation: one Network, and at least one
/// Office per Network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// How many users.
    pub users: usize,
    /// How many Projects.
    pub projects: usize,
    /// How many Networks.
    pub networks: usize,
    /// How many Offices, spread evenly over the Networks.
    pub offices: usize,
    /// The seed: the same scale and seed make the same organisation.
    pub seed: u64,
}

impl Scale {
    /// The seed of the presets.
    pub const DEFAULT_SEED: u64 = 1;

    /// 1k users, 5k Projects, 4 Networks, 40 Offices.
    pub fn small() -> Scale {
        Scale { users: 1_000, projects: 5_000, networks: 4, offices: 40, seed: Scale::DEFAULT_SEED }
    }

    /// 10k users, 50k Projects, 8 Networks, 200 Offices.
    pub fn medium() -> Scale {
        Scale { users: 10_000, projects: 50_000, networks: 8, offices: 200, seed: Scale::DEFAULT_SEED }
    }

    /// 100k users, 500k Projects, 16 Networks, 1000 Offices.
    pub fn large() -> Scale {
        Scale { users: 100_000, projects: 500_000, networks: 16, offices: 1_000, seed: Scale::DEFAULT_SEED }
    }

    /// The preset with this name: `small`, `medium` or `large`.
    pub fn preset(name: &str) -> Option<Scale> {
        match name {
            "small" => Some(Scale::small()),
            "medium" => Some(Scale::medium()),
            "large" => Some(Scale::large()),
            _ => None,
        }
    }
}

/// The share of Office × profile × permission cells that an Office overrides, in percent.
const OVERRIDE_PERCENT: u64 = 10;

/// What each default profile holds in every Network before that Network's own variation.
const BASE_DEFAULTS: [(&str, &[&str]); 6] = [
    (
        "operations_user",
        &["project.create", "task.create", "file.upload", "wiki.manage", "reports.view", "timesheet.log"],
    ),
    (
        "project_manager",
        &[
            "project.create",
            "task.create",
            "file.upload",
            "wiki.manage",
            "reports.view",
            "finance.view",
            "timesheet.log",
        ],
    ),
    ("account_manager", &["project.create", "reports.view", "finance.view", "timesheet.log"]),
    ("general_user", &["task.create", "file.upload", "timesheet.log"]),
    ("client", &["file.upload"]),
    ("vendor", &["file.upload", "timesheet.log"]),
];

/// Profiles by weight (out of 100): most people are general users.
const PROFILE_WEIGHTS: [(&str, u64); 6] = [
    ("general_user", 35),
    ("project_manager", 15),
    ("operations_user", 10),
    ("account_manager", 10),
    ("client", 20),
    ("vendor", 10),
];

const NETWORK_NAMES: [&str; 8] =
    ["EMEA", "Americas", "APAC", "Nordics", "LATAM", "Africa", "Oceania", "Gulf"];

const CITIES: [&str; 24] = [
    "London",
    "New York",
    "Singapore",
    "Paris",
    "Berlin",
    "Toronto",
    "Sydney",
    "Tokyo",
    "Madrid",
    "Chicago",
    "Mumbai",
    "Lagos",
    "Oslo",
    "Lima",
    "Dubai",
    "Seoul",
    "Milan",
    "Austin",
    "Nairobi",
    "Dublin",
    "Lisbon",
    "Denver",
    "Manila",
    "Warsaw",
];

const FIRST_NAMES: [&str; 24] = [
    "Ada", "Bob", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kit", "Lea", "Max", "Nia",
    "Oto", "Pia", "Quin", "Rae", "Sol", "Tam", "Uma", "Vik", "Wren", "Yara",
];

const LAST_NAMES: [&str; 16] = [
    "Lovelace", "Hopper", "Turing", "Noether", "Curie", "Knuth", "Liskov", "Ritchie", "Hamilton", "Shannon",
    "Dijkstra", "Allen", "Backus", "Perlis", "Wirth", "Kay",
];

const ADJECTIVES: [&str; 12] = [
    "Blue", "Quiet", "Rapid", "Bold", "Golden", "Bright", "Silent", "Northern", "Open", "Swift", "Green",
    "Iron",
];

const NOUNS: [&str; 12] = [
    "Rebrand",
    "Launch",
    "Audit",
    "Migration",
    "Campaign",
    "Portal",
    "Survey",
    "Refit",
    "Pilot",
    "Rollout",
    "Review",
    "Atlas",
];

/// Builds the organisation that `scale` describes.
pub fn generate(scale: &Scale) -> Org {
    let mut rng = Rng::new(scale.seed);
    let n_networks = scale.networks.max(1);
    let n_offices = scale.offices.max(n_networks);

    let networks: Vec<Network> = (0..n_networks).map(|n| network(n, &mut rng)).collect();

    // Office `o` belongs to Network `o % n_networks`, so every Network has Offices.
    let office_network: Vec<usize> = (0..n_offices).map(|o| o % n_networks).collect();
    let mut network_offices: Vec<Vec<usize>> = vec![Vec::new(); n_networks];
    for (o, &n) in office_network.iter().enumerate() {
        if let Some(list) = network_offices.get_mut(n) {
            list.push(o);
        }
    }
    let offices: Vec<Office> = (0..n_offices)
        .map(|o| {
            let n = office_network.get(o).copied().unwrap_or(0);
            Office {
                id: office_id(o, n_offices),
                name: office_name(o),
                network: network_id(n),
                overrides: overrides(networks.get(n), &mut rng),
            }
        })
        .collect();

    let (users, user_office) = users(scale.users, &office_network, &network_offices, n_offices, &mut rng);
    let mut office_users: Vec<Vec<usize>> = vec![Vec::new(); n_offices];
    let mut network_users: Vec<Vec<usize>> = vec![Vec::new(); n_networks];
    for (u, &o) in user_office.iter().enumerate() {
        if let Some(list) = office_users.get_mut(o) {
            list.push(u);
        }
        if let Some(list) = office_network.get(o).and_then(|&n| network_users.get_mut(n)) {
            list.push(u);
        }
    }
    let user_ids: Vec<String> = (0..users.len()).map(|u| user_id(u, users.len())).collect();

    // Teams as user indices first; ids at the end.
    let mut project_office = Vec::with_capacity(scale.projects);
    let mut teams: Vec<Vec<usize>> = Vec::with_capacity(scale.projects);
    for _ in 0..scale.projects {
        let o = rng.below(n_offices);
        let n = office_network.get(o).copied().unwrap_or(0);
        let empty = Vec::new();
        let of_office = office_users.get(o).unwrap_or(&empty);
        let of_network = network_users.get(n).unwrap_or(&empty);
        project_office.push(o);
        teams.push(team(of_office, of_network, &mut rng));
    }
    let mut office_projects: Vec<Vec<usize>> = vec![Vec::new(); n_offices];
    for (p, &o) in project_office.iter().enumerate() {
        if let Some(list) = office_projects.get_mut(o) {
            list.push(p);
        }
    }

    let agreements = agreements(
        n_offices,
        &office_network,
        &office_users,
        &office_projects,
        &user_ids,
        &mut teams,
        &mut rng,
    );

    let projects: Vec<Project> = teams
        .iter()
        .zip(&project_office)
        .enumerate()
        .map(|(p, (members, &o))| {
            let team: Vec<String> = members.iter().filter_map(|&u| user_ids.get(u).cloned()).collect();
            Project {
                id: project_id(p, scale.projects),
                name: project_name(p),
                office: office_id(o, n_offices),
                created_by: team.first().cloned(),
                team,
            }
        })
        .collect();

    let groups = groups(users.len(), n_networks, &network_users, &user_ids, &mut rng);
    let direct_messages =
        direct_messages(users.len(), &user_office, &office_network, &network_users, &user_ids, &mut rng);

    Org { networks, offices, users, projects, agreements, groups, direct_messages }
}

fn network(n: usize, rng: &mut Rng) -> Network {
    let mut defaults: BTreeMap<String, Vec<String>> = BASE_DEFAULTS
        .iter()
        .map(|(profile, keys)| ((*profile).to_owned(), keys.iter().map(|key| (*key).to_owned()).collect()))
        .collect();
    // Each Network varies one cell of the table, so that Networks differ.
    let profile = DEFAULT_PROFILES.get(rng.below(DEFAULT_PROFILES.len())).copied().unwrap_or("client");
    let key =
        KNOWN_PROFILE_PERMISSIONS.get(rng.below(KNOWN_PROFILE_PERMISSIONS.len())).copied().unwrap_or("");
    if let Some(keys) = defaults.get_mut(profile) {
        match keys.iter().position(|k| k == key) {
            Some(position) => {
                keys.remove(position);
            }
            None => keys.push(key.to_owned()),
        }
    }
    let mut messaging = BTreeMap::new();
    if n % 3 == 1 {
        messaging.insert("announcement.group".to_owned(), Threshold::User);
    }
    if n % 4 == 2 {
        messaging.insert("people.search_all".to_owned(), Threshold::Manager);
    }
    if n % 5 == 3 {
        messaging.insert("group.create".to_owned(), Threshold::Manager);
    }
    Network {
        id: network_id(n),
        name: match NETWORK_NAMES.get(n) {
            Some(name) => (*name).to_owned(),
            None => format!("Network {n}"),
        },
        defaults,
        messaging,
        features: Features { announcements: n % 2 == 0 },
    }
}

/// About [`OVERRIDE_PERCENT`] of the cells, most of them flipping the Network default.
fn overrides(network: Option<&Network>, rng: &mut Rng) -> BTreeMap<String, BTreeMap<String, bool>> {
    let mut overrides: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for profile in DEFAULT_PROFILES {
        for key in KNOWN_PROFILE_PERMISSIONS {
            if !rng.percent(OVERRIDE_PERCENT) {
                continue;
            }
            let default = network
                .and_then(|n| n.defaults.get(profile))
                .is_some_and(|keys| keys.iter().any(|k| k == key));
            let on = if rng.percent(80) { !default } else { default };
            overrides.entry(profile.to_owned()).or_default().insert(key.to_owned(), on);
        }
    }
    overrides
}

/// The users, and each one's home Office.
fn users(
    count: usize,
    office_network: &[usize],
    network_offices: &[Vec<usize>],
    n_offices: usize,
    rng: &mut Rng,
) -> (Vec<User>, Vec<usize>) {
    let mut users = Vec::with_capacity(count);
    let mut homes = Vec::with_capacity(count);
    for u in 0..count {
        let home = rng.below(n_offices);
        let n = office_network.get(home).copied().unwrap_or(0);
        let mut additional = BTreeSet::new();
        if rng.percent(10) {
            let siblings = network_offices.get(n).map(Vec::as_slice).unwrap_or_default();
            for _ in 0..1 + rng.below(2) {
                if let Some(&o) = rng.pick(siblings) {
                    if o != home {
                        additional.insert(o);
                    }
                }
            }
        }
        let access = match rng.below(100) {
            0..70 => AccessLevel::AllInOffice,
            70..95 => AccessLevel::InviteOnly,
            _ => AccessLevel::NetworkAdmin,
        };
        let role = match rng.below(100) {
            0..90 => Role::User,
            90..98 => Role::Manager,
            _ => Role::Admin,
        };
        let first = FIRST_NAMES.get(rng.below(FIRST_NAMES.len())).copied().unwrap_or("");
        let last = LAST_NAMES.get(rng.below(LAST_NAMES.len())).copied().unwrap_or("");
        users.push(User {
            id: user_id(u, count),
            name: format!("{first} {last}"),
            home_office: office_id(home, n_offices),
            additional_offices: additional.into_iter().map(|o| office_id(o, n_offices)).collect(),
            access,
            profile: weighted_profile(rng).to_owned(),
            role,
            // One system superuser, the first user; about one in two hundred runs a Network.
            system_superuser: u == 0,
            network_superuser: rng.below(200) == 0,
            active: rng.percent(97),
        });
        homes.push(home);
    }
    (users, homes)
}

fn weighted_profile(rng: &mut Rng) -> &'static str {
    let mut roll = rng.below(100) as u64;
    for (profile, weight) in PROFILE_WEIGHTS {
        if roll < weight {
            return profile;
        }
        roll -= weight;
    }
    "general_user"
}

/// Three to eight people, most from the Project's Office, the rest from its Network. Sorted.
fn team(of_office: &[usize], of_network: &[usize], rng: &mut Rng) -> Vec<usize> {
    let size = 3 + rng.below(6);
    let mut team = BTreeSet::new();
    // A bounded number of draws: a small Network may not have `size` people.
    for _ in 0..size * 3 {
        if team.len() == size {
            break;
        }
        let pool = if rng.percent(60) && !of_office.is_empty() { of_office } else { of_network };
        if let Some(&u) = rng.pick(pool) {
            team.insert(u);
        }
    }
    // The first member is the creator: shuffle who that is, not just the lowest index.
    let mut team: Vec<usize> = team.into_iter().collect();
    if !team.is_empty() {
        let first = rng.below(team.len());
        team.swap(0, first);
    }
    team
}

/// About one Agreement per twenty Offices, between Offices of different Networks. Some shared
/// users join the teams of a few Projects of the host Office.
fn agreements(
    n_offices: usize,
    office_network: &[usize],
    office_users: &[Vec<usize>],
    office_projects: &[Vec<usize>],
    user_ids: &[String],
    teams: &mut [Vec<usize>],
    rng: &mut Rng,
) -> Vec<Agreement> {
    let network_of = |o: usize| office_network.get(o).copied().unwrap_or(0);
    let mut agreements = Vec::new();
    if office_network.iter().all(|&n| n == network_of(0)) {
        return agreements;
    }
    let count = (n_offices / 20).max(1);
    for a in 0..count {
        let host = rng.below(n_offices);
        let mut guest = rng.below(n_offices);
        // Offices of another Network exist: walk to the next one.
        while network_of(guest) == network_of(host) {
            guest = (guest + 1) % n_offices;
        }
        let of_guest = office_users.get(guest).map(Vec::as_slice).unwrap_or_default();
        let listed: Option<Vec<usize>> = if of_guest.is_empty() || rng.percent(50) {
            None
        } else {
            let chosen: BTreeSet<usize> =
                (0..1 + rng.below(5)).filter_map(|_| rng.pick(of_guest).copied()).collect();
            Some(chosen.into_iter().collect())
        };
        let shared: &[usize] = listed.as_deref().unwrap_or(of_guest);
        let host_projects = office_projects.get(host).map(Vec::as_slice).unwrap_or_default();
        for _ in 0..3 {
            let (Some(&p), Some(&u)) = (rng.pick(host_projects), rng.pick(shared)) else { break };
            if let Some(members) = teams.get_mut(p) {
                if !members.contains(&u) {
                    members.push(u);
                }
            }
        }
        let expires_at = match rng.below(100) {
            0..60 => Some(timestamp("2030-01-01T00:00:00Z")),
            60..85 => None,
            _ => Some(timestamp("2025-01-01T00:00:00Z")),
        };
        agreements.push(Agreement {
            id: format!("a-{a:03}"),
            host_office: office_id(host, n_offices),
            guest_office: office_id(guest, n_offices),
            users: listed.map(|list| list.iter().filter_map(|&u| user_ids.get(u).cloned()).collect()),
            profile: ["vendor", "client", "general_user"]
                .get(rng.below(3))
                .copied()
                .unwrap_or("vendor")
                .to_owned(),
            expires_at: expires_at.flatten(),
        });
    }
    agreements
}

/// About one group per fifty users, each of 3 to 20 members of one Network.
fn groups(
    n_users: usize,
    n_networks: usize,
    network_users: &[Vec<usize>],
    user_ids: &[String],
    rng: &mut Rng,
) -> Vec<Group> {
    let count = (n_users / 50).max(1);
    let mut groups = Vec::with_capacity(count);
    for g in 0..count {
        let n = rng.below(n_networks);
        let pool = network_users.get(n).map(Vec::as_slice).unwrap_or_default();
        let size = 3 + rng.below(18);
        let members: BTreeSet<usize> = (0..size).filter_map(|_| rng.pick(pool).copied()).collect();
        let members: Vec<String> = members.iter().filter_map(|&u| user_ids.get(u).cloned()).collect();
        let owners = members.iter().take(1 + rng.below(2)).cloned().collect();
        groups.push(Group { id: padded("g", g, count), network: network_id(n), members, owners });
    }
    groups
}

/// About one direct message per ten users, between two people of one Network.
fn direct_messages(
    n_users: usize,
    user_office: &[usize],
    office_network: &[usize],
    network_users: &[Vec<usize>],
    user_ids: &[String],
    rng: &mut Rng,
) -> Vec<DirectMessage> {
    let mut pairs = HashSet::new();
    let mut direct_messages = Vec::new();
    if n_users < 2 {
        return direct_messages;
    }
    for _ in 0..n_users / 10 {
        let a = rng.below(n_users);
        let n = user_office.get(a).and_then(|&o| office_network.get(o)).copied().unwrap_or(0);
        let Some(&b) = rng.pick(network_users.get(n).map(Vec::as_slice).unwrap_or_default()) else {
            continue;
        };
        if a == b || !pairs.insert((a.min(b), a.max(b))) {
            continue;
        }
        let (Some(first), Some(second)) = (user_ids.get(a), user_ids.get(b)) else { continue };
        direct_messages.push(DirectMessage {
            id: padded("d", direct_messages.len(), n_users / 10),
            participants: vec![first.clone(), second.clone()],
            started_by: first.clone(),
        });
    }
    direct_messages
}

fn timestamp(text: &str) -> Option<Timestamp> {
    Timestamp::parse(text).ok()
}

/// Ids are zero-padded to the width of the largest, so that they sort as they were made.
fn padded(prefix: &str, index: usize, count: usize) -> String {
    let width = count.saturating_sub(1).max(1).to_string().len();
    format!("{prefix}-{index:0width$}")
}

fn network_id(n: usize) -> String {
    format!("n-{n:02}")
}

fn office_id(o: usize, count: usize) -> String {
    padded("o", o, count)
}

fn user_id(u: usize, count: usize) -> String {
    padded("u", u, count)
}

fn project_id(p: usize, count: usize) -> String {
    padded("p", p, count)
}

fn office_name(o: usize) -> String {
    let city = CITIES.get(o % CITIES.len()).copied().unwrap_or("Office");
    match o / CITIES.len() {
        0 => city.to_owned(),
        round => format!("{city} {}", round + 1),
    }
}

fn project_name(p: usize) -> String {
    let adjective = ADJECTIVES.get(p % ADJECTIVES.len()).copied().unwrap_or("");
    let noun = NOUNS.get((p / ADJECTIVES.len()) % NOUNS.len()).copied().unwrap_or("");
    format!("{adjective} {noun} {}", p + 1)
}

#[cfg(test)]
mod tests {
    use super::{Scale, generate};
    use tessera_core::{AccessLevel, Policy};

    fn tiny(seed: u64) -> Scale {
        Scale { users: 300, projects: 900, networks: 3, offices: 12, seed }
    }

    #[test]
    fn the_same_seed_makes_the_same_organisation() {
        assert_eq!(generate(&tiny(5)), generate(&tiny(5)));
        assert_ne!(generate(&tiny(5)), generate(&tiny(6)));
    }

    #[test]
    fn generated_organisations_are_valid() {
        for seed in 0..20 {
            let org = generate(&tiny(seed));
            if let Err(errors) = Policy::new(&org) {
                panic!("seed {seed}: {errors}");
            }
        }
    }

    #[test]
    fn degenerate_scales_are_still_valid() {
        for (users, projects, networks, offices) in
            [(0, 0, 0, 0), (1, 5, 1, 1), (2, 3, 5, 2), (10, 0, 2, 2), (0, 10, 1, 3), (5, 20, 4, 40)]
        {
            let org = generate(&Scale { users, projects, networks, offices, seed: 3 });
            assert_eq!(org.users.len(), users);
            assert_eq!(org.projects.len(), projects);
            if let Err(errors) = Policy::new(&org) {
                panic!("{users}/{projects}/{networks}/{offices}: {errors}");
            }
        }
    }

    #[test]
    fn the_shape_follows_the_brief() {
        let org = generate(&Scale::small());
        assert_eq!(
            (org.users.len(), org.projects.len(), org.networks.len(), org.offices.len()),
            (1_000, 5_000, 4, 40)
        );
        let share = |access| org.users.iter().filter(|u| u.access == access).count() * 100 / org.users.len();
        assert!((65..=75).contains(&share(AccessLevel::AllInOffice)), "{}", share(AccessLevel::AllInOffice));
        assert!((20..=30).contains(&share(AccessLevel::InviteOnly)), "{}", share(AccessLevel::InviteOnly));
        assert!((2..=8).contains(&share(AccessLevel::NetworkAdmin)), "{}", share(AccessLevel::NetworkAdmin));
        // Teams of three to eight from the Project's Network, plus a few guests under Agreements.
        let sizes_ok = org.projects.iter().filter(|p| (3..=8).contains(&p.team.len())).count();
        assert!(sizes_ok * 100 / org.projects.len() >= 99, "{sizes_ok}");
        let cells = org.offices.len() * 6 * 7;
        let overridden: usize = org.offices.iter().flat_map(|o| o.overrides.values()).map(|m| m.len()).sum();
        assert!((6..=14).contains(&(overridden * 100 / cells)), "{overridden} of {cells}");
        let profiles: std::collections::BTreeSet<&str> =
            org.users.iter().map(|u| u.profile.as_str()).collect();
        assert_eq!(profiles.len(), 6);
        assert!(!org.agreements.is_empty() && !org.groups.is_empty() && !org.direct_messages.is_empty());
    }
}
