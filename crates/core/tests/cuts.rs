//! Cuts against a reference: the cut as it was first written, a scan of the whole
//! organisation per cut, kept here (in terms of the public API) so that the faster cut is held
//! to it element for element, in the same order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use proptest::prelude::*;
use tessera_core::{
    AccessLevel, Agreement, Cutter, Features, Network, Office, Org, Policy, Project, Query, ResourceKind,
    Role, Scope, ScopeError, Timestamp, User, cut,
};

use crate::support::{arb_org, now};

/// The reference cut.
mod reference {
    use super::*;

    /// What the reference reads of an organisation, by position (the dense indices of a
    /// `Policy` are the positions in the `Org`).
    struct Resolved<'a> {
        org: &'a Org,
        policy: Policy,
        users: HashMap<&'a str, usize>,
        networks: HashMap<&'a str, usize>,
        office_network: Vec<usize>,
        user_network: Vec<usize>,
        user_home: Vec<usize>,
        project_office: Vec<usize>,
        group_network: Vec<usize>,
        /// Per user, the Agreements that share them, sorted.
        shared_by: Vec<Vec<usize>>,
        /// Per user, the groups they are a member of.
        groups_of: Vec<Vec<usize>>,
        /// Per Office, the Agreements it hosts.
        hosted: Vec<Vec<usize>>,
        dm_participants: Vec<Vec<usize>>,
    }

    impl<'a> Resolved<'a> {
        fn new(org: &'a Org) -> Option<Resolved<'a>> {
            let policy = Policy::new(org).ok()?;
            let users: HashMap<&str, usize> =
                org.users.iter().enumerate().map(|(u, user)| (user.id.as_str(), u)).collect();
            let offices: HashMap<&str, usize> =
                org.offices.iter().enumerate().map(|(o, office)| (office.id.as_str(), o)).collect();
            let networks: HashMap<&str, usize> =
                org.networks.iter().enumerate().map(|(n, network)| (network.id.as_str(), n)).collect();
            let office_network: Vec<usize> =
                org.offices.iter().map(|office| networks[office.network.as_str()]).collect();
            let user_home: Vec<usize> =
                org.users.iter().map(|user| offices[user.home_office.as_str()]).collect();
            let user_network = user_home.iter().map(|&o| office_network[o]).collect();
            let project_office =
                org.projects.iter().map(|project| offices[project.office.as_str()]).collect();
            let group_network = org.groups.iter().map(|group| networks[group.network.as_str()]).collect();
            let mut shared_by = vec![Vec::new(); org.users.len()];
            let mut hosted = vec![Vec::new(); org.offices.len()];
            for (a, agreement) in org.agreements.iter().enumerate() {
                let guest = offices[agreement.guest_office.as_str()];
                for (u, user) in org.users.iter().enumerate() {
                    let shared = match &agreement.users {
                        Some(list) => list.contains(&user.id),
                        None => user_home[u] == guest,
                    };
                    if shared {
                        shared_by[u].push(a);
                    }
                }
                hosted[offices[agreement.host_office.as_str()]].push(a);
            }
            let mut groups_of = vec![Vec::new(); org.users.len()];
            for (g, group) in org.groups.iter().enumerate() {
                for member in &group.members {
                    groups_of[users[member.as_str()]].push(g);
                }
            }
            let dm_participants = org
                .direct_messages
                .iter()
                .map(|dm| dm.participants.iter().map(|p| users[p.as_str()]).collect())
                .collect();
            Some(Resolved {
                org,
                policy,
                users,
                networks,
                office_network,
                user_network,
                user_home,
                project_office,
                group_network,
                shared_by,
                groups_of,
                hosted,
                dm_participants,
            })
        }

        fn active_at(&self, a: usize, now: Timestamp) -> bool {
            self.org.agreements[a].expires_at.is_none_or(|expires_at| now < expires_at)
        }

        fn host_office(&self, a: usize) -> usize {
            self.office_index(&self.org.agreements[a].host_office)
        }

        fn guest_office(&self, a: usize) -> usize {
            self.office_index(&self.org.agreements[a].guest_office)
        }

        fn office_index(&self, id: &str) -> usize {
            self.org.offices.iter().position(|office| office.id == id).unwrap()
        }
    }

    /// Cuts `org` down to `scope`, deciding Agreement expiry at `now`.
    pub fn cut(org: &Org, scope: &Scope, now: Timestamp) -> Option<Org> {
        let resolved = Resolved::new(org)?;
        let mut keep = Keep::default();
        match scope {
            Scope::Org => return Some(org.clone()),
            Scope::User(id) => {
                let &u = resolved.users.get(id.as_str())?;
                keep.user_needs(&resolved, u, now, false);
            }
            Scope::Network(id) => {
                let &n = resolved.networks.get(id.as_str())?;
                keep.network_whole(&resolved, n);
                for u in 0..org.users.len() {
                    if resolved.user_network[u] == n {
                        keep.user_needs(&resolved, u, now, true);
                    }
                }
            }
        }
        Some(keep.build(org))
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum NetworkKeep {
        Whole,
        Profiles(BTreeSet<String>),
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum UserKeep {
        Foreign,
        Redacted,
        Whole,
    }

    #[derive(Debug, Default)]
    struct Keep {
        networks: BTreeMap<usize, NetworkKeep>,
        offices: BTreeMap<usize, Option<BTreeSet<String>>>,
        users: BTreeMap<usize, UserKeep>,
        projects: BTreeSet<usize>,
        agreements: BTreeMap<usize, BTreeSet<usize>>,
        groups: BTreeSet<usize>,
        dms: BTreeSet<usize>,
    }

    impl Keep {
        fn network(&mut self, n: usize, keep: NetworkKeep) {
            let slot = self.networks.entry(n).or_insert_with(|| NetworkKeep::Profiles(BTreeSet::new()));
            match (slot, keep) {
                (slot @ NetworkKeep::Profiles(_), NetworkKeep::Whole) => *slot = NetworkKeep::Whole,
                (NetworkKeep::Profiles(have), NetworkKeep::Profiles(more)) => have.extend(more),
                (NetworkKeep::Whole, _) => {}
            }
        }

        fn office(&mut self, o: usize, overrides_for: Option<&str>) {
            let slot = self.offices.entry(o).or_insert_with(|| Some(BTreeSet::new()));
            if let (Some(profiles), Some(profile)) = (slot.as_mut(), overrides_for) {
                profiles.insert(profile.to_owned());
            }
        }

        fn office_whole(&mut self, o: usize) {
            self.offices.insert(o, None);
        }

        fn user(&mut self, u: usize, keep: UserKeep) {
            let slot = self.users.entry(u).or_insert(keep);
            *slot = (*slot).max(keep);
        }

        fn network_whole(&mut self, r: &Resolved<'_>, n: usize) {
            self.network(n, NetworkKeep::Whole);
            for o in 0..r.org.offices.len() {
                if r.office_network[o] == n {
                    self.office_whole(o);
                }
            }
            for u in 0..r.org.users.len() {
                if r.user_network[u] == n {
                    self.user(u, UserKeep::Whole);
                }
            }
            for p in 0..r.org.projects.len() {
                if r.office_network[r.project_office[p]] == n {
                    self.projects.insert(p);
                }
            }
            for g in 0..r.org.groups.len() {
                if r.group_network[g] == n {
                    self.groups.insert(g);
                }
            }
        }

        fn user_needs(&mut self, r: &Resolved<'_>, u: usize, now: Timestamp, network_done: bool) {
            let user = &r.org.users[u];
            let n = r.user_network[u];
            if !network_done {
                self.user(u, UserKeep::Whole);
                self.network(n, NetworkKeep::Whole);
                for o in 0..r.org.offices.len() {
                    if r.office_network[o] == n {
                        self.office(o, None);
                    }
                }
                self.office(r.user_home[u], Some(&user.profile));
                for v in 0..r.org.users.len() {
                    if r.user_network[v] == n {
                        self.user(v, UserKeep::Redacted);
                    }
                }
                for (p, project) in r.org.projects.iter().enumerate() {
                    if r.office_network[r.project_office[p]] == n
                        && r.policy.allows(
                            &user.id,
                            &Query::view(ResourceKind::Project, project.id.clone()),
                            now,
                        )
                    {
                        self.projects.insert(p);
                    }
                }
                for &g in &r.groups_of[u] {
                    self.groups.insert(g);
                }
            }
            for (d, participants) in r.dm_participants.iter().enumerate() {
                if !participants.contains(&u) {
                    continue;
                }
                self.dms.insert(d);
                for &v in participants {
                    if r.user_network[v] != n {
                        self.user(v, UserKeep::Foreign);
                        self.office(r.user_home[v], None);
                        self.network(r.user_network[v], NetworkKeep::Profiles(BTreeSet::new()));
                        for (guest, host) in [(u, v), (v, u)] {
                            self.linking_agreements(r, guest, host);
                        }
                    }
                }
            }
            if user.system_superuser {
                for n in 0..r.org.networks.len() {
                    self.network(n, NetworkKeep::Profiles(BTreeSet::new()));
                }
            }
            for &a in &r.shared_by[u] {
                if !r.active_at(a, now) {
                    continue;
                }
                let agreement = &r.org.agreements[a];
                let host = r.host_office(a);
                self.agreements.entry(a).or_default().insert(u);
                let profile = agreement.profile.as_str();
                self.network(
                    r.office_network[host],
                    NetworkKeep::Profiles(BTreeSet::from([profile.to_owned()])),
                );
                self.office(host, Some(profile));
                self.office(r.guest_office(a), None);
                for (p, project) in r.org.projects.iter().enumerate() {
                    if r.project_office[p] == host
                        && r.policy.allows(
                            &user.id,
                            &Query::view(ResourceKind::Project, project.id.clone()),
                            now,
                        )
                    {
                        self.projects.insert(p);
                    }
                }
                for v in 0..r.org.users.len() {
                    if r.user_home[v] == host {
                        self.user(v, UserKeep::Foreign);
                    }
                }
            }
            for &a in &r.hosted[r.user_home[u]] {
                if !r.active_at(a, now) {
                    continue;
                }
                let guest = r.guest_office(a);
                self.network(r.office_network[guest], NetworkKeep::Profiles(BTreeSet::new()));
                self.office(guest, None);
                self.office(r.host_office(a), None);
                for v in 0..r.org.users.len() {
                    if r.shared_by[v].binary_search(&a).is_ok() {
                        self.agreements.entry(a).or_default().insert(v);
                        self.user(v, UserKeep::Foreign);
                    }
                }
            }
        }

        fn linking_agreements(&mut self, r: &Resolved<'_>, guest: usize, host: usize) {
            for &a in &r.shared_by[guest] {
                if r.host_office(a) != r.user_home[host] {
                    continue;
                }
                self.agreements.entry(a).or_default().insert(guest);
                let profile = r.org.agreements[a].profile.clone();
                self.network(r.user_network[host], NetworkKeep::Profiles(BTreeSet::from([profile])));
                self.office(r.host_office(a), None);
                self.office(r.guest_office(a), None);
            }
        }

        fn build(&self, org: &Org) -> Org {
            let kept_ids: BTreeSet<&str> = org
                .users
                .iter()
                .enumerate()
                .filter(|(u, _)| self.users.contains_key(u))
                .map(|(_, user)| user.id.as_str())
                .collect();
            let whole_networks: BTreeSet<&str> = org
                .networks
                .iter()
                .enumerate()
                .filter(|(n, _)| self.networks.get(n) == Some(&NetworkKeep::Whole))
                .map(|(_, network)| network.id.as_str())
                .collect();
            let office_network: BTreeMap<&str, &str> =
                org.offices.iter().map(|office| (office.id.as_str(), office.network.as_str())).collect();

            let networks = org
                .networks
                .iter()
                .enumerate()
                .filter_map(|(n, network)| match self.networks.get(&n)? {
                    NetworkKeep::Whole => Some(network.clone()),
                    NetworkKeep::Profiles(profiles) => Some(Network {
                        id: network.id.clone(),
                        name: network.name.clone(),
                        defaults: network
                            .defaults
                            .iter()
                            .filter(|(profile, _)| profiles.contains(*profile))
                            .map(|(profile, keys)| (profile.clone(), keys.clone()))
                            .collect(),
                        messaging: BTreeMap::new(),
                        features: Features::default(),
                    }),
                })
                .collect();
            let offices = org
                .offices
                .iter()
                .enumerate()
                .filter_map(|(o, office)| {
                    let overrides = match self.offices.get(&o)? {
                        None => office.overrides.clone(),
                        Some(profiles) => office
                            .overrides
                            .iter()
                            .filter(|(profile, _)| profiles.contains(*profile))
                            .map(|(profile, switches)| (profile.clone(), switches.clone()))
                            .collect(),
                    };
                    Some(Office {
                        id: office.id.clone(),
                        name: office.name.clone(),
                        network: office.network.clone(),
                        overrides,
                    })
                })
                .collect();
            let users = org
                .users
                .iter()
                .enumerate()
                .filter_map(|(u, user)| {
                    let keep = *self.users.get(&u)?;
                    if keep == UserKeep::Whole {
                        return Some(user.clone());
                    }
                    let in_whole_network = office_network
                        .get(user.home_office.as_str())
                        .is_some_and(|network| whole_networks.contains(network));
                    Some(User {
                        id: user.id.clone(),
                        name: user.name.clone(),
                        home_office: user.home_office.clone(),
                        additional_offices: Vec::new(),
                        access: AccessLevel::default(),
                        profile: if keep == UserKeep::Redacted && in_whole_network {
                            user.profile.clone()
                        } else {
                            "general_user".to_owned()
                        },
                        role: Role::default(),
                        system_superuser: false,
                        network_superuser: false,
                        active: user.active,
                    })
                })
                .collect();
            let projects = org
                .projects
                .iter()
                .enumerate()
                .filter(|(p, _)| self.projects.contains(p))
                .map(|(_, project)| Project {
                    id: project.id.clone(),
                    name: project.name.clone(),
                    office: project.office.clone(),
                    team: project.team.iter().filter(|id| kept_ids.contains(id.as_str())).cloned().collect(),
                    created_by: project.created_by.clone().filter(|id| kept_ids.contains(id.as_str())),
                })
                .collect();
            let agreements = org
                .agreements
                .iter()
                .enumerate()
                .filter_map(|(a, agreement)| {
                    let shared = self.agreements.get(&a)?;
                    Some(Agreement {
                        users: Some(
                            org.users
                                .iter()
                                .enumerate()
                                .filter(|(u, _)| shared.contains(u))
                                .map(|(_, user)| user.id.clone())
                                .collect(),
                        ),
                        ..agreement.clone()
                    })
                })
                .collect();
            let groups = org
                .groups
                .iter()
                .enumerate()
                .filter(|(g, _)| self.groups.contains(g))
                .map(|(_, group)| group.clone())
                .collect();
            let direct_messages = org
                .direct_messages
                .iter()
                .enumerate()
                .filter(|(d, _)| self.dms.contains(d))
                .map(|(_, dm)| dm.clone())
                .collect();
            Org { networks, offices, users, projects, agreements, groups, direct_messages }
        }
    }
}

/// Times around every Agreement's expiry, and the usual clock.
fn times(org: &Org) -> Vec<Timestamp> {
    let mut times: BTreeSet<Timestamp> = BTreeSet::from([now()]);
    for agreement in &org.agreements {
        if let Some(t) = agreement.expires_at {
            times.extend([t.plus_seconds(-1), t, t.plus_seconds(1)]);
        }
    }
    times.into_iter().collect()
}

/// Every scope worth cutting to: each user, each Network, and ids that name nothing.
fn scopes(org: &Org) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = org.users.iter().map(|user| Scope::User(user.id.clone())).collect();
    scopes.extend(org.networks.iter().map(|network| Scope::Network(network.id.clone())));
    scopes.extend([Scope::User("nobody".to_owned()), Scope::Network("nowhere".to_owned()), Scope::Org]);
    scopes
}

/// One `Cutter`, built once, gives what the reference gives for every scope and time, and so
/// does `cut`; an unknown id is an error.
fn check_against_reference(org: &Org) -> Result<(), TestCaseError> {
    let cutter = Cutter::new(org.clone()).unwrap();
    prop_assert!(cutter.to_org() == *org);
    for now in times(org) {
        for scope in scopes(org) {
            let expected = reference::cut(org, &scope, now);
            let actual = cutter.cut(&scope, now).ok();
            prop_assert!(expected == actual, "{scope:?} at {now}:\nreference {expected:?}\ncut {actual:?}");
            prop_assert!(cut(org, &scope, now).ok() == actual, "{scope:?} at {now}: `cut` differs");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The cut keeps exactly what the reference keeps, in the same order, for every user and
    /// Network, at times around every Agreement's expiry.
    #[test]
    fn a_cut_is_the_reference_cut(org in arb_org()) {
        check_against_reference(&org)?;
    }
}

/// The same on a generated organisation of the kind the benchmarks use (teams, overrides,
/// Agreements with shared users on host teams, groups, direct messages across the firewall).
#[test]
fn a_cut_is_the_reference_cut_on_a_generated_organisation() {
    let org = tessera_generate::generate(&tessera_generate::Scale {
        users: 120,
        projects: 400,
        networks: 3,
        offices: 12,
        seed: 11,
    });
    check_against_reference(&org).unwrap();
}

/// A `Cutter` is shared between threads, each cutting its own users.
#[test]
fn a_cutter_cuts_from_many_threads() {
    fn shareable<T: Send + Sync + std::fmt::Debug>() {}
    shareable::<Cutter>();

    let org = tessera_generate::generate(&tessera_generate::Scale {
        users: 60,
        projects: 200,
        networks: 3,
        offices: 9,
        seed: 5,
    });
    let cutter = Arc::new(Cutter::new(org.clone()).unwrap());
    assert_eq!(cutter.policy().counts().users, 60);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let cutter = Arc::clone(&cutter);
            std::thread::spawn(move || {
                let users = cutter.users().skip(t).step_by(4);
                users
                    .map(|user| cutter.cut(&Scope::User(user.id.clone()), now()).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (t, thread) in threads.into_iter().enumerate() {
        let cuts = thread.join().unwrap();
        for (user, scoped) in org.users.iter().skip(t).step_by(4).zip(cuts) {
            assert_eq!(
                Some(scoped),
                reference::cut(&org, &Scope::User(user.id.clone()), now()),
                "{}",
                user.id
            );
        }
    }
    // Debug names what it holds, not all of it.
    let shown = format!("{cutter:?}");
    assert!(shown.starts_with("Cutter { counts: Counts { networks: 3,"), "{shown}");
    assert!(shown.len() < 200, "{shown}");
}

/// An unknown user or Network is an error, as is an organisation that does not validate.
#[test]
fn unknown_scopes_and_invalid_organisations_are_refused() {
    let org = crate::support::small_org();
    let cutter = Cutter::new(org.clone()).unwrap();
    assert!(matches!(
        cutter.cut(&Scope::User("u-nobody".to_owned()), now()),
        Err(ScopeError::UnknownUser(id)) if id == "u-nobody"
    ));
    assert!(matches!(
        cutter.cut(&Scope::Network("n-nowhere".to_owned()), now()),
        Err(ScopeError::UnknownNetwork(id)) if id == "n-nowhere"
    ));
    assert_eq!(cutter.cut(&Scope::Org, now()).unwrap(), org);

    let mut broken = org;
    broken.users[0].home_office = "o-nowhere".to_owned();
    assert!(Cutter::new(broken.clone()).is_err());
    assert!(matches!(cut(&broken, &Scope::Org, now()), Err(ScopeError::Invalid(_))));
}
