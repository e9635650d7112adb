//! Impact analysis: the fast `diff` against asking every user every question on both sides.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tessera_core::{
    Access, AccessLevel, Agreement, DEFAULT_PROFILES, DirectMessage, Impact, KNOWN_PROFILE_PERMISSIONS, Org,
    PROJECT_PERMISSIONS, Policy, Project, Query, ResourceKind, Role, Target, Threshold, Timestamp, User,
    UserImpact, diff,
};

use crate::support::{all_queries, arb_org, now, small_org};

/// One random edit of an organisation: a selector and raw numbers that the edit folds into
/// range.
pub type Mutation = (u8, usize, usize, usize, bool);

pub fn arb_mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec((0..34u8, any::<usize>(), any::<usize>(), any::<usize>(), any::<bool>()), 1..6)
}

fn pick<T>(items: &[T], index: usize) -> Option<&T> {
    (!items.is_empty()).then(|| &items[index % items.len()])
}

fn pick_mut<T>(items: &mut [T], index: usize) -> Option<&mut T> {
    if items.is_empty() {
        return None;
    }
    let len = items.len();
    Some(&mut items[index % len])
}

fn office_network(org: &Org, office: &str) -> String {
    org.offices.iter().find(|o| o.id == office).map(|o| o.network.clone()).unwrap_or_default()
}

fn toggle(list: &mut Vec<String>, id: &str) {
    match list.iter().position(|x| x == id) {
        Some(position) => {
            list.remove(position);
        }
        None => list.push(id.to_owned()),
    }
}

/// One random edit of the admin API's vocabulary: a kind and raw numbers folded into the
/// organisation's ids.
pub type EditChoice = (u8, usize, usize, usize);

pub fn arb_edits() -> impl Strategy<Value = Vec<EditChoice>> {
    prop::collection::vec((0..24u8, any::<usize>(), any::<usize>(), any::<usize>()), 1..5)
}

/// The edit `choice` names in `org`, if it has what it names.
fn admin_edit(org: &Org, (kind, a, b, c): EditChoice) -> Option<tessera_core::Edit> {
    use tessera_core::Edit;
    let user = pick(&org.users, a)?.id.clone();
    let office = pick(&org.offices, b)?.id.clone();
    let network = pick(&org.networks, b)?.id.clone();
    let profile = DEFAULT_PROFILES[c % DEFAULT_PROFILES.len()].to_owned();
    let permission = KNOWN_PROFILE_PERMISSIONS[c % KNOWN_PROFILE_PERMISSIONS.len()].to_owned();
    let project = || pick(&org.projects, b).map(|p| p.id.clone());
    let group = || pick(&org.groups, b).map(|g| g.id.clone());
    let roles = [Role::User, Role::Manager, Role::Admin];
    let levels = [AccessLevel::AllInOffice, AccessLevel::InviteOnly, AccessLevel::NetworkAdmin];
    Some(match kind {
        0 => Edit::ActivateUser { user },
        1 => Edit::DeactivateUser { user },
        2 => Edit::AddToTeam { user, project: project()? },
        3 => Edit::RemoveFromTeam { user, project: project()? },
        4 => Edit::AddToGroup { user, group: group()? },
        5 => Edit::RemoveFromGroup { user, group: group()? },
        6 => Edit::AddAdditionalOffice { user, office },
        7 => Edit::RemoveAdditionalOffice { user, office },
        8 => {
            let guest = org.users.iter().find(|u| u.id == user)?.home_office.clone();
            Edit::ShareWithOffice {
                agreement: format!("a-new-{c}"),
                user,
                guest_office: guest,
                host_office: office,
                profile,
            }
        }
        9 => Edit::EndAgreement { agreement: pick(&org.agreements, b)?.id.clone() },
        10 => Edit::SetAccess { user, access: levels[c % 3] },
        11 => Edit::RaiseRole { user, role: roles[c % 3] },
        12 => Edit::LowerRole { user, role: roles[c % 3] },
        13 => Edit::OverrideOn { office, profile, permission },
        14 => Edit::OverrideOff { office, profile, permission },
        15 => Edit::ClearOverride { office, profile, permission },
        16 => Edit::AnnouncementsOn { network },
        17 => Edit::AnnouncementsOff { network },
        18 => Edit::DefaultOn { network, profile, permission },
        19 => Edit::DefaultOff { network, profile, permission },
        20 => Edit::MakeNetworkSuperuser { user },
        21 => Edit::RevokeNetworkSuperuser { user },
        22 => Edit::MakeSystemSuperuser { user },
        _ => Edit::RevokeSystemSuperuser { user },
    })
}

/// Applies each admin edit in turn; one that would make the organisation invalid is skipped, as
/// the server refuses it.
pub fn edit(org: &Org, choices: &[EditChoice]) -> Org {
    let mut org = org.clone();
    for &choice in choices {
        let Some(edit) = admin_edit(&org, choice) else { continue };
        let mut edited = org.clone();
        edit.apply(&mut edited);
        if Policy::new(&edited).is_ok() {
            org = edited;
        }
    }
    org
}

/// Applies each edit in turn; one that would make the organisation invalid is skipped.
pub fn mutate(org: &Org, mutations: &[Mutation]) -> Org {
    let mut org = org.clone();
    for &mutation in mutations {
        let mut edited = org.clone();
        apply(&mut edited, mutation);
        if Policy::new(&edited).is_ok() {
            org = edited;
        }
    }
    org
}

fn expiry(choice: usize) -> Option<Timestamp> {
    match choice % 3 {
        0 => None,
        1 => Some(Timestamp::parse("2030-01-01T00:00:00Z").unwrap()),
        _ => Some(Timestamp::parse("2025-01-01T00:00:00Z").unwrap()),
    }
}

fn apply(org: &mut Org, (kind, a, b, c, flag): Mutation) {
    let user_ids: Vec<String> = org.users.iter().map(|u| u.id.clone()).collect();
    let office_ids: Vec<String> = org.offices.iter().map(|o| o.id.clone()).collect();
    let network_ids: Vec<String> = org.networks.iter().map(|n| n.id.clone()).collect();
    let profile = DEFAULT_PROFILES[b % 6].to_owned();
    let key = KNOWN_PROFILE_PERMISSIONS[c % 7].to_owned();
    match kind {
        // Overrides and Network settings.
        0 => {
            let Some(office) = pick_mut(&mut org.offices, a) else { return };
            let cells = office.overrides.entry(profile).or_default();
            if cells.get(&key) == Some(&flag) {
                cells.remove(&key);
            } else {
                cells.insert(key, flag);
            }
        }
        1 => {
            let Some(network) = pick_mut(&mut org.networks, a) else { return };
            toggle(network.defaults.entry(profile).or_default(), &key);
        }
        2 => {
            let Some(network) = pick_mut(&mut org.networks, a) else { return };
            let keys =
                ["group.create", "people.search_all", "dm.start", "announcement.org", "announcement.group"];
            let threshold = [Threshold::User, Threshold::Manager, Threshold::Admin][c % 3];
            network.messaging.insert(keys[b % 5].to_owned(), threshold);
        }
        3 => {
            let Some(network) = pick_mut(&mut org.networks, a) else { return };
            network.features.announcements = !network.features.announcements;
        }
        // A user's own record.
        4..=11 => {
            let Some(user) = pick_mut(&mut org.users, a) else { return };
            match kind {
                4 => {
                    user.access =
                        [AccessLevel::AllInOffice, AccessLevel::InviteOnly, AccessLevel::NetworkAdmin][c % 3]
                }
                5 => user.role = [Role::User, Role::Manager, Role::Admin][c % 3],
                6 => user.profile = DEFAULT_PROFILES[c % 6].to_owned(),
                7 => user.active = !user.active,
                8 => user.system_superuser = !user.system_superuser,
                9 => user.network_superuser = !user.network_superuser,
                10 => {
                    if let Some(office) = pick(&office_ids, b) {
                        toggle(&mut user.additional_offices, office);
                    }
                }
                _ => {
                    // Move home, and leave whatever would no longer be valid.
                    let Some(office) = pick(&office_ids, b) else { return };
                    user.home_office = office.clone();
                    user.additional_offices.clear();
                    let id = user.id.clone();
                    let network = office_network(org, office);
                    for agreement in &mut org.agreements {
                        if agreement.guest_office != *office {
                            if let Some(users) = &mut agreement.users {
                                users.retain(|u| *u != id);
                            }
                        }
                    }
                    for group in &mut org.groups {
                        if group.network != network {
                            group.members.retain(|u| *u != id);
                            group.owners.retain(|u| *u != id);
                        }
                    }
                }
            }
        }
        // Projects.
        12 => {
            let Some(user) = pick(&user_ids, b).cloned() else { return };
            let Some(project) = pick_mut(&mut org.projects, a) else { return };
            toggle(&mut project.team, &user);
            if project.created_by.as_ref() == Some(&user) && !project.team.contains(&user) {
                project.created_by = None;
            }
        }
        13 => {
            let Some(office) = pick(&office_ids, b).cloned() else { return };
            if let Some(project) = pick_mut(&mut org.projects, a) {
                project.office = office;
            }
        }
        14 => {
            if !org.projects.is_empty() {
                let len = org.projects.len();
                org.projects.remove(a % len);
            }
        }
        15 => {
            let Some(office) = pick(&office_ids, a).cloned() else { return };
            let team: BTreeSet<String> = [b, c]
                .iter()
                .filter_map(|&i| pick(&user_ids, i).cloned())
                .take(if flag { 2 } else { 1 })
                .collect();
            org.projects.push(Project {
                id: format!("p-new-{}", org.projects.len()),
                name: "New".to_owned(),
                office,
                team: team.into_iter().collect(),
                created_by: None,
            });
        }
        // Agreements.
        16 => {
            if let Some(agreement) = pick_mut(&mut org.agreements, a) {
                agreement.expires_at = expiry(c);
            }
        }
        17 => {
            let Some(agreement) = pick_mut(&mut org.agreements, a) else { return };
            let of_guest: Vec<String> = org
                .users
                .iter()
                .filter(|u| u.home_office == agreement.guest_office)
                .map(|u| u.id.clone())
                .collect();
            let Some(user) = pick(&of_guest, b) else { return };
            let users = agreement.users.get_or_insert_with(|| of_guest.clone());
            toggle(users, user);
        }
        18 => {
            if let Some(agreement) = pick_mut(&mut org.agreements, a) {
                agreement.profile = DEFAULT_PROFILES[c % 6].to_owned();
            }
        }
        19 => {
            if !org.agreements.is_empty() {
                let len = org.agreements.len();
                org.agreements.remove(a % len);
            }
        }
        20 => {
            // Between Offices of different Networks, when there are any.
            let Some(host) = pick(&office_ids, a).cloned() else { return };
            let host_network = office_network(org, &host);
            let others: Vec<String> =
                office_ids.iter().filter(|o| office_network(org, o) != host_network).cloned().collect();
            let Some(guest) = pick(&others, b).cloned() else { return };
            let users: Option<Vec<String>> = flag.then(|| {
                org.users.iter().filter(|u| u.home_office == guest).take(1).map(|u| u.id.clone()).collect()
            });
            let shared: Vec<String> = match &users {
                Some(list) => list.clone(),
                None => org.users.iter().filter(|u| u.home_office == guest).map(|u| u.id.clone()).collect(),
            };
            org.agreements.push(Agreement {
                id: format!("a-new-{}", org.agreements.len()),
                host_office: host.clone(),
                guest_office: guest,
                users,
                profile: DEFAULT_PROFILES[c % 6].to_owned(),
                expires_at: expiry(c / 6),
            });
            // Put a guest on a team of the host Office, so that the Agreement shows.
            if let (Some(guest), Some(project)) =
                (pick(&shared, c).cloned(), org.projects.iter_mut().find(|p| p.office == host))
            {
                if !project.team.contains(&guest) {
                    project.team.push(guest);
                }
            }
        }
        21 => {
            let Some(agreement) = pick(&org.agreements, a) else { return };
            let guest_network = office_network(org, &agreement.guest_office);
            let others: Vec<String> =
                office_ids.iter().filter(|o| office_network(org, o) != guest_network).cloned().collect();
            let Some(office) = pick(&others, b).cloned() else { return };
            if let Some(agreement) = pick_mut(&mut org.agreements, a) {
                agreement.host_office = office;
            }
        }
        // Groups and direct messages.
        22 => {
            let Some(user) = pick(&user_ids, b).cloned() else { return };
            let Some(group) = pick_mut(&mut org.groups, a) else { return };
            toggle(&mut group.members, &user);
            if !group.members.contains(&user) {
                group.owners.retain(|u| *u != user);
            }
        }
        23 => {
            if !org.groups.is_empty() {
                let len = org.groups.len();
                org.groups.remove(a % len);
            }
        }
        24 => {
            if !org.direct_messages.is_empty() {
                let len = org.direct_messages.len();
                org.direct_messages.remove(a % len);
            }
        }
        25 => {
            let (Some(first), Some(second)) = (pick(&user_ids, a).cloned(), pick(&user_ids, b).cloned())
            else {
                return;
            };
            org.direct_messages.push(DirectMessage {
                id: format!("d-new-{}", org.direct_messages.len()),
                participants: vec![first.clone(), second],
                started_by: first,
            });
        }
        // Whole users, Offices and Networks.
        26 => {
            let Some(id) = pick(&user_ids, a).cloned() else { return };
            org.users.retain(|u| u.id != id);
            for project in &mut org.projects {
                project.team.retain(|u| *u != id);
                if project.created_by.as_ref() == Some(&id) {
                    project.created_by = None;
                }
            }
            for group in &mut org.groups {
                group.members.retain(|u| *u != id);
                group.owners.retain(|u| *u != id);
            }
            for agreement in &mut org.agreements {
                if let Some(users) = &mut agreement.users {
                    users.retain(|u| *u != id);
                }
            }
            org.direct_messages.retain(|d| !d.participants.contains(&id));
        }
        27 => {
            let Some(office) = pick(&office_ids, a).cloned() else { return };
            let id = format!("u-new-{}", org.users.len());
            org.users.push(User {
                id: id.clone(),
                name: "New".to_owned(),
                home_office: office,
                additional_offices: Vec::new(),
                access: [AccessLevel::AllInOffice, AccessLevel::InviteOnly, AccessLevel::NetworkAdmin][b % 3],
                profile: DEFAULT_PROFILES[c % 6].to_owned(),
                role: Role::User,
                system_superuser: false,
                network_superuser: flag,
                active: true,
            });
            if let Some(project) = pick_mut(&mut org.projects, b) {
                project.team.push(id);
            }
        }
        28 => {
            let Some(network) = pick(&network_ids, b).cloned() else { return };
            if let Some(office) = pick_mut(&mut org.offices, a) {
                office.network = network;
            }
        }
        29 => {
            let id = format!("n-new-{}", org.networks.len());
            org.networks.push(tessera_core::Network {
                id: id.clone(),
                name: "New".to_owned(),
                defaults: BTreeMap::new(),
                messaging: BTreeMap::new(),
                features: tessera_core::Features::default(),
            });
            if flag {
                if let Some(office) = pick_mut(&mut org.offices, a) {
                    office.network = id;
                }
            }
        }
        30 => {
            let Some(network) = pick(&network_ids, a).cloned() else { return };
            org.offices.push(tessera_core::Office {
                id: format!("o-new-{}", org.offices.len()),
                name: "New".to_owned(),
                network,
                overrides: BTreeMap::new(),
            });
        }
        31 => {
            // A permission no Network named before.
            let Some(network) = pick_mut(&mut org.networks, a) else { return };
            toggle(network.defaults.entry(profile).or_default(), "expense.approve");
        }
        32 => {
            if !org.networks.is_empty() {
                let len = org.networks.len();
                org.networks.remove(a % len);
            }
        }
        _ => {
            if !org.offices.is_empty() {
                let len = org.offices.len();
                org.offices.remove(a % len);
            }
        }
    }
}

/// Every question worth asking of either organisation, once each.
fn queries(old: &Org, new: &Org) -> Vec<Query> {
    let mut seen = BTreeSet::new();
    let custom = [old, new]
        .into_iter()
        .flat_map(|org| {
            org.networks
                .iter()
                .flat_map(|n| n.defaults.values().flatten().cloned())
                .chain(org.offices.iter().flat_map(|o| o.overrides.values().flat_map(|m| m.keys().cloned())))
                .collect::<Vec<_>>()
        })
        .filter(|key| !PROJECT_PERMISSIONS.contains(&key.as_str()))
        .map(|key| Query::can(key, Target::none()));
    all_queries(old)
        .into_iter()
        .chain(all_queries(new))
        .chain(custom)
        .filter(|query| seen.insert(serde_json::to_string(query).unwrap()))
        .collect()
}

/// Asks every user every question on both sides.
fn brute_force(old: &Org, new: &Org, only: Option<&str>) -> Impact {
    let (old_policy, new_policy) = (Policy::new(old).unwrap(), Policy::new(new).unwrap());
    let queries = queries(old, new);
    let users: BTreeSet<&str> = old.users.iter().chain(&new.users).map(|u| u.id.as_str()).collect();
    let mut impact = Impact::default();
    for user in users.into_iter().filter(|u| only.is_none_or(|only| only == *u)) {
        let mut entry = UserImpact { user: user.to_owned(), ..UserImpact::default() };
        for query in &queries {
            let (before, after) =
                (old_policy.allows(user, query, now()), new_policy.allows(user, query, now()));
            let access = match (before, after) {
                (false, true) => &mut entry.gained,
                (true, false) => &mut entry.lost,
                _ => continue,
            };
            match query {
                Query::View { kind, id, project } => {
                    let (list, id) = match kind {
                        ResourceKind::Project => (&mut access.projects, id),
                        ResourceKind::Task | ResourceKind::Document => {
                            (&mut access.projects, project.as_ref().unwrap())
                        }
                        ResourceKind::Report => (&mut access.reports, project.as_ref().unwrap()),
                        ResourceKind::Finance => (&mut access.finance, project.as_ref().unwrap()),
                        ResourceKind::Person => (&mut access.people, id),
                        ResourceKind::Group => (&mut access.groups, id),
                    };
                    if !list.contains(id) {
                        list.push(id.clone());
                    }
                }
                Query::Can { .. } => access.permissions.push(query.clone()),
            }
        }
        if !(entry.gained.is_empty() && entry.lost.is_empty()) {
            impact.users.push(entry);
        }
    }
    normalised(impact)
}

/// Lists sorted the one way, so that two impacts compare by content.
fn normalised(mut impact: Impact) -> Impact {
    let sort = |access: &mut Access| {
        for list in [
            &mut access.projects,
            &mut access.reports,
            &mut access.finance,
            &mut access.people,
            &mut access.groups,
        ] {
            list.sort();
        }
        access.permissions.sort_by_cached_key(|q| serde_json::to_string(q).unwrap());
    };
    for user in &mut impact.users {
        sort(&mut user.gained);
        sort(&mut user.lost);
    }
    impact.users.sort_by(|a, b| a.user.cmp(&b.user));
    impact
}

fn fast(old: &Org, new: &Org, only: Option<&str>) -> Impact {
    diff(&Policy::new(old).unwrap(), &Policy::new(new).unwrap(), now(), only)
}

/// Where the two differ, user by user, for a readable failure.
fn mismatch(fast: &Impact, slow: &Impact) -> String {
    let by_user = |impact: &Impact| -> BTreeMap<String, UserImpact> {
        impact.users.iter().map(|u| (u.user.clone(), u.clone())).collect()
    };
    let (fast, slow) = (by_user(fast), by_user(slow));
    let users: BTreeSet<&String> = fast.keys().chain(slow.keys()).collect();
    let mut out = String::new();
    for user in users {
        if fast.get(user) != slow.get(user) {
            out += &format!(
                "{user}:\n  fast {}\n  slow {}\n",
                serde_json::to_string(&fast.get(user)).unwrap(),
                serde_json::to_string(&slow.get(user)).unwrap()
            );
        }
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 1024, ..ProptestConfig::default() }
}

fn demo_org() -> Org {
    serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/org.json")))
        .unwrap()
}

proptest! {
    #![proptest_config(config())]

    /// The fast diff finds exactly what asking everyone everything finds.
    #[test]
    fn diff_matches_brute_force(org in arb_org(), mutations in arb_mutations()) {
        let new = mutate(&org, &mutations);
        let slow = brute_force(&org, &new, None);
        let quick = normalised(fast(&org, &new, None));
        prop_assert!(quick == slow, "{mutations:?}\n{}", mismatch(&quick, &slow));
        // The diff's own order is already sorted: normalising changes nothing.
        prop_assert_eq!(&fast(&org, &new, None), &quick);
        // Swapping the sides swaps gains and losses.
        let back = fast(&new, &org, None);
        let swapped: Vec<(String, Access, Access)> =
            quick.users.iter().map(|u| (u.user.clone(), u.lost.clone(), u.gained.clone())).collect();
        let back: Vec<(String, Access, Access)> =
            normalised(back).users.into_iter().map(|u| (u.user, u.gained, u.lost)).collect();
        prop_assert_eq!(back, swapped);
    }

    /// Asked for one user, the diff says what the whole diff says about them.
    #[test]
    fn diff_for_one_user_is_their_part_of_the_whole(org in arb_org(), mutations in arb_mutations()) {
        let new = mutate(&org, &mutations);
        let whole = fast(&org, &new, None);
        for user in org.users.iter().chain(&new.users).map(|u| u.id.as_str()).chain(["nobody"]) {
            let theirs = normalised(fast(&org, &new, Some(user)));
            let part: Vec<UserImpact> = whole.users.iter().filter(|u| u.user == user).cloned().collect();
            prop_assert_eq!(theirs.users, part, "{}", user);
        }
    }

    /// What lets an issuer keep a user's snapshot across an admin change: every user
    /// `changed_users` does not name decides every question on their cut of the old
    /// organisation exactly as on the new one, now and at every later time (until the next
    /// change). Over random batches of the admin API's edits.
    #[test]
    fn a_user_the_diff_leaves_out_keeps_a_snapshot_that_decides_as_the_new(org in arb_org(), edits in arb_edits()) {
        let new = edit(&org, &edits);
        let whole = Policy::new(&new).unwrap();
        let renewed = tessera_core::changed_users(&Policy::new(&org).unwrap(), &whole, now());
        let renewed: BTreeSet<&str> = renewed.iter().map(String::as_str).collect();
        let mut queries = all_queries(&org);
        queries.extend(all_queries(&new));
        let mut times = vec![now()];
        for agreement in org.agreements.iter().chain(&new.agreements) {
            if let Some(at) = agreement.expires_at.filter(|at| *at > now()) {
                times.extend([at.plus_seconds(-1), at, at.plus_seconds(1)]);
            }
        }
        for user in new.users.iter().filter(|u| !renewed.contains(u.id.as_str())) {
            let kept = tessera_core::cut(&org, &tessera_core::Scope::User(user.id.clone()), now()).unwrap();
            let kept = Policy::new(&kept).unwrap();
            for &at in &times {
                for query in &queries {
                    prop_assert_eq!(
                        kept.allows(&user.id, query, at),
                        whole.allows(&user.id, query, at),
                        "{} {:?} at {}, after {:?}", user.id, query, at, edits
                    );
                }
            }
        }
    }

    /// No change, no impact.
    #[test]
    fn an_unchanged_organisation_has_no_impact(org in arb_org()) {
        prop_assert!(fast(&org, &org, None).is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The demo organisation has Agreements with guests on host teams, custom thresholds and
    /// groups: random edits of it reach what small random organisations seldom do.
    #[test]
    fn diff_matches_brute_force_on_the_demo_organisation(mutations in arb_mutations()) {
        let org = demo_org();
        let new = mutate(&org, &mutations);
        let (quick, slow) = (normalised(fast(&org, &new, None)), brute_force(&org, &new, None));
        prop_assert!(quick == slow, "{mutations:?}\n{}", mismatch(&quick, &slow));
    }
}

#[test]
fn one_override_changes_exactly_its_office_and_profile() {
    let old = small_org();
    let mut new = old.clone();
    new.offices[0].overrides.insert("project_manager".to_owned(), [("task.create".to_owned(), false)].into());
    let impact = fast(&old, &new, None);
    let json = serde_json::to_value(&impact).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"users": [{
            "user": "u-ada",
            "gained": {},
            "lost": {"permissions": [{"can": "task.create", "target": {"project": "p-rebrand"}}]}
        }]})
    );
    assert_eq!(impact, brute_force(&old, &new, None));
}

#[test]
fn an_override_in_a_host_office_reaches_its_guests() {
    // Bob, of New York, is shared into London as a vendor and is on Rebrand's team there.
    let old = small_org();
    let mut new = old.clone();
    new.offices[0].overrides.insert("vendor".to_owned(), [("file.upload".to_owned(), false)].into());
    let impact = fast(&old, &new, None);
    assert_eq!(impact, brute_force(&old, &new, None));
    assert_eq!(impact.users.len(), 1);
    assert_eq!(impact.users[0].user, "u-bob");
    assert_eq!(impact.users[0].lost.permissions, [Query::can("file.upload", Target::project("p-rebrand"))]);

    // The same through the host Network's defaults.
    let mut new = old.clone();
    new.networks[0].defaults.insert("vendor".to_owned(), Vec::new());
    let impact = fast(&old, &new, None);
    assert_eq!(impact, brute_force(&old, &new, None));
    assert_eq!(impact.users[0].user, "u-bob");
}

#[test]
fn a_new_user_gains_and_a_removed_one_loses_everything() {
    let old = small_org();
    let mut new = old.clone();
    new.users.push(User {
        id: "u-cy".to_owned(),
        name: "Cy".to_owned(),
        home_office: "o-lon".to_owned(),
        additional_offices: Vec::new(),
        access: AccessLevel::AllInOffice,
        profile: "client".to_owned(),
        role: Role::User,
        system_superuser: false,
        network_superuser: false,
        active: true,
    });
    let impact = fast(&old, &new, None);
    assert_eq!(impact, brute_force(&old, &new, None));
    let cy = impact.users.iter().find(|u| u.user == "u-cy").unwrap();
    assert_eq!(cy.gained.projects, ["p-rebrand"]);
    assert!(cy.lost.is_empty());
    // Ada now sees Cy; Bob, across the firewall under an Agreement into London, does too.
    for viewer in ["u-ada", "u-bob"] {
        let entry = impact.users.iter().find(|u| u.user == viewer).unwrap();
        assert_eq!(entry.gained.people, ["u-cy"], "{viewer}");
    }
    let back = fast(&new, &old, None);
    assert_eq!(back.users.iter().find(|u| u.user == "u-cy").unwrap().lost.projects, ["p-rebrand"]);
}

#[test]
fn generated_organisations_diff_exactly() {
    use tessera_generate::{Scale, generate};
    let mut runner =
        proptest::test_runner::TestRunner::new(ProptestConfig { cases: 64, ..ProptestConfig::default() });
    runner
        .run(&(0..1000u64, arb_mutations()), |(seed, mutations)| {
            let org = generate(&Scale { users: 40, projects: 90, networks: 3, offices: 8, seed });
            let new = mutate(&org, &mutations);
            let (quick, slow) = (fast(&org, &new, None), brute_force(&org, &new, None));
            prop_assert!(normalised(quick.clone()) == slow, "{mutations:?}\n{}", mismatch(&quick, &slow));
            Ok(())
        })
        .unwrap();
}
