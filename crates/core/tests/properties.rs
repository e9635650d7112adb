//! Properties over generated organisations (see `support::arb_org`).

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use tessera_core::{AccessLevel, Org, Policy, Query, ResourceKind, Role, Scope, Target, cut};

use crate::support::{all_queries, arb_org, now};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, ..ProptestConfig::default() }
}

fn visible_projects(org: &Org, user: &str) -> BTreeSet<String> {
    let policy = Policy::new(org).unwrap();
    policy.visible_projects(user, now()).into_iter().map(str::to_owned).collect()
}

fn with_user(org: &Org, index: usize, change: impl Fn(&mut tessera_core::User)) -> Org {
    let mut org = org.clone();
    change(&mut org.users[index]);
    org
}

/// Networks of Offices and users, by id.
fn networks_of(org: &Org) -> (HashMap<&str, &str>, HashMap<&str, &str>) {
    let office_network: HashMap<&str, &str> =
        org.offices.iter().map(|o| (o.id.as_str(), o.network.as_str())).collect();
    let user_network = org
        .users
        .iter()
        .map(|u| (u.id.as_str(), office_network.get(u.home_office.as_str()).copied().unwrap_or("")))
        .collect();
    (office_network, user_network)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_organisations_are_valid(org in arb_org()) {
        prop_assert!(Policy::new(&org).is_ok(), "{:?}", Policy::new(&org).err());
    }

    /// invite_only ⊆ all_in_office ⊆ network_admin, for every user.
    #[test]
    fn visible_projects_grow_with_the_access_level(org in arb_org()) {
        for (index, user) in org.users.iter().enumerate() {
            let seen = |access| visible_projects(&with_user(&org, index, |u| u.access = access), &user.id);
            let invite_only = seen(AccessLevel::InviteOnly);
            let all_in_office = seen(AccessLevel::AllInOffice);
            let network_admin = seen(AccessLevel::NetworkAdmin);
            prop_assert!(invite_only.is_subset(&all_in_office), "{}: {invite_only:?} ⊄ {all_in_office:?}", user.id);
            prop_assert!(all_in_office.is_subset(&network_admin), "{}: {all_in_office:?} ⊄ {network_admin:?}", user.id);
        }
    }

    /// user ⊆ manager ⊆ admin, for every role permission and target.
    #[test]
    fn role_permissions_grow_with_the_role(org in arb_org()) {
        let role_queries: Vec<Query> = all_queries(&org)
            .into_iter()
            .filter(|q| matches!(q, Query::Can { permission, .. } if [
                "group.create", "people.search_all", "dm.start", "announcement.org", "announcement.group",
                "people.search", "dm.reply",
            ].contains(&permission.as_str())))
            .collect();
        for (index, user) in org.users.iter().enumerate() {
            let allowed = |role| {
                let policy = Policy::new(&with_user(&org, index, |u| u.role = role)).unwrap();
                role_queries.iter().filter(|q| policy.allows(&user.id, q, now())).cloned().collect::<Vec<_>>()
            };
            let (as_user, as_manager, as_admin) = (allowed(Role::User), allowed(Role::Manager), allowed(Role::Admin));
            prop_assert!(as_user.iter().all(|q| as_manager.contains(q)), "{}", user.id);
            prop_assert!(as_manager.iter().all(|q| as_admin.contains(q)), "{}", user.id);
        }
    }

    /// Nobody sees a Project or a person across the firewall without an active Agreement.
    #[test]
    fn nothing_crosses_the_firewall_without_an_active_agreement(org in arb_org()) {
        let policy = Policy::new(&org).unwrap();
        let (office_network, user_network) = networks_of(&org);
        let active: Vec<_> = org.agreements.iter().filter(|a| a.expires_at.is_none_or(|t| now() < t)).collect();
        let shares = |agreement: &tessera_core::Agreement, user: &tessera_core::User| match &agreement.users {
            Some(list) => list.contains(&user.id),
            None => user.home_office == agreement.guest_office,
        };
        for user in &org.users {
            let network = user_network[user.id.as_str()];
            for project in &org.projects {
                if office_network[project.office.as_str()] == network {
                    continue;
                }
                let query = Query::view(ResourceKind::Project, project.id.clone());
                if policy.allows(&user.id, &query, now()) {
                    let linked = active.iter().any(|a| a.host_office == project.office && shares(a, user));
                    prop_assert!(linked && project.team.contains(&user.id), "{} sees {}", user.id, project.id);
                }
            }
            for person in &org.users {
                if user_network[person.id.as_str()] == network {
                    continue;
                }
                let query = Query::view(ResourceKind::Person, person.id.clone());
                if policy.allows(&user.id, &query, now()) {
                    let linked = active.iter().any(|a| {
                        (shares(a, user) && person.home_office == a.host_office)
                            || (shares(a, person) && user.home_office == a.host_office)
                    });
                    prop_assert!(linked, "{} sees {}", user.id, person.id);
                }
            }
        }
    }

    /// What lets an issuer cache a cut and tag it without the clock: a user's cut made at one
    /// time decides, at every later time (until the organisation changes), exactly as the whole
    /// organisation decides then. An Agreement only ever expires, and the cut keeps each one's
    /// expiry, so nothing it allowed at the cut stays allowed past it.
    #[test]
    fn a_cut_decides_as_the_whole_at_every_later_time(org in arb_org()) {
        let whole = Policy::new(&org).unwrap();
        let queries = all_queries(&org);
        let mut times = vec![now()];
        for agreement in &org.agreements {
            if let Some(at) = agreement.expires_at {
                times.extend([at.plus_seconds(-1), at, at.plus_seconds(1)]);
            }
        }
        times.sort();
        times.dedup();
        for user in &org.users {
            for (i, &made) in times.iter().enumerate() {
                let scoped = Policy::new(&cut(&org, &Scope::User(user.id.clone()), made).unwrap()).unwrap();
                for &later in &times[i..] {
                    for query in &queries {
                        prop_assert_eq!(
                            whole.allows(&user.id, query, later),
                            scoped.allows(&user.id, query, later),
                            "{} {:?}, cut at {} and asked at {}", user.id, query, made, later
                        );
                    }
                }
            }
        }
    }

    /// Spec §6: on their scoped snapshot every decision for a user allows or denies exactly as
    /// on the whole organisation, and the cut holds no id from another Network that no active
    /// Agreement involving them shares.
    #[test]
    fn a_user_scoped_snapshot_decides_as_the_whole(org in arb_org()) {
        let whole = Policy::new(&org).unwrap();
        let queries = all_queries(&org);
        let (office_network, user_network) = networks_of(&org);
        for user in &org.users {
            let scoped_org = cut(&org, &Scope::User(user.id.clone()), now()).unwrap();
            let scoped = Policy::new(&scoped_org).unwrap();
            for query in &queries {
                prop_assert_eq!(
                    whole.allows(&user.id, query, now()),
                    scoped.allows(&user.id, query, now()),
                    "{} {:?}: whole {:?}, scoped {:?}",
                    user.id, query, whole.decide(&user.id, query, now()).code, scoped.decide(&user.id, query, now()).code
                );
            }
            // What lies behind the firewall must be shared with this user by an active Agreement.
            let network = user_network[user.id.as_str()];
            let active = |a: &&tessera_core::Agreement| a.expires_at.is_none_or(|t| now() < t);
            let shares = |a: &tessera_core::Agreement, id: &str| match &a.users {
                Some(list) => list.iter().any(|u| u == id),
                None => org.users.iter().any(|u| u.id == id && u.home_office == a.guest_office),
            };
            let as_guest: Vec<_> = org.agreements.iter().filter(active).filter(|a| shares(a, &user.id)).collect();
            let as_host: Vec<_> = org.agreements.iter().filter(active).filter(|a| a.host_office == user.home_office).collect();
            // A direct message may cross the firewall; its other participant is no secret to them.
            let dm_partners: Vec<&str> = org
                .direct_messages
                .iter()
                .filter(|d| d.participants.contains(&user.id))
                .flat_map(|d| d.participants.iter().map(String::as_str))
                .collect();
            let partner_home = |office: &str| {
                org.users.iter().any(|u| dm_partners.contains(&u.id.as_str()) && u.home_office == office)
            };
            let partner_network = |network: &str| {
                org.users.iter().any(|u| dm_partners.contains(&u.id.as_str()) && user_network[u.id.as_str()] == network)
            };
            for office in &scoped_org.offices {
                if office_network[office.id.as_str()] != network {
                    let ok = as_guest.iter().any(|a| a.host_office == office.id || a.guest_office == office.id)
                        || as_host.iter().any(|a| a.guest_office == office.id)
                        || partner_home(&office.id);
                    prop_assert!(ok, "{}'s snapshot holds office {}", user.id, office.id);
                }
            }
            for person in &scoped_org.users {
                if user_network[person.id.as_str()] != network {
                    let home = org.users.iter().find(|u| u.id == person.id).map(|u| u.home_office.clone()).unwrap();
                    let ok = as_guest.iter().any(|a| a.host_office == home)
                        || as_host.iter().any(|a| shares(a, &person.id))
                        || dm_partners.contains(&person.id.as_str());
                    prop_assert!(ok, "{}'s snapshot holds person {}", user.id, person.id);
                }
            }
            for project in &scoped_org.projects {
                if office_network[project.office.as_str()] != network {
                    let ok = as_guest.iter().any(|a| a.host_office == project.office);
                    prop_assert!(ok, "{}'s snapshot holds project {}", user.id, project.id);
                }
                // And within the firewall too, only what they may see.
                prop_assert!(whole.allows(&user.id, &Query::view(ResourceKind::Project, project.id.clone()), now()));
            }
            for network_entry in &scoped_org.networks {
                if network_entry.id != network && !user.system_superuser {
                    let ok = as_guest.iter().chain(&as_host).any(|a| {
                        office_network[a.host_office.as_str()] == network_entry.id
                            || office_network[a.guest_office.as_str()] == network_entry.id
                    }) || partner_network(&network_entry.id);
                    prop_assert!(ok, "{}'s snapshot holds network {}", user.id, network_entry.id);
                }
            }
        }
    }

    /// A Network-scoped snapshot decides as the whole for every user of that Network.
    #[test]
    fn a_network_scoped_snapshot_decides_as_the_whole(org in arb_org()) {
        let whole = Policy::new(&org).unwrap();
        let queries = all_queries(&org);
        let (_, user_network) = networks_of(&org);
        for network in &org.networks {
            let scoped = Policy::new(&cut(&org, &Scope::Network(network.id.clone()), now()).unwrap()).unwrap();
            for user in org.users.iter().filter(|u| user_network[u.id.as_str()] == network.id) {
                for query in &queries {
                    prop_assert_eq!(
                        whole.allows(&user.id, query, now()),
                        scoped.allows(&user.id, query, now()),
                        "{} {:?}", user.id, query
                    );
                }
            }
        }
    }

    /// The core agrees with the reference evaluator, written plainly from the spec, on every
    /// question by everyone (and by someone unknown).
    #[test]
    fn the_core_agrees_with_the_reference_evaluator(org in arb_org()) {
        let policy = Policy::new(&org).unwrap();
        for user in org.users.iter().map(|u| u.id.as_str()).chain(["nobody"]) {
            for query in all_queries(&org) {
                prop_assert_eq!(
                    policy.allows(user, &query, now()),
                    tessera_conformance::reference::allows(&org, user, &query, now()),
                    "{} {:?}: the core says {:?}", user, query, policy.decide(user, &query, now()).code
                );
            }
        }
    }

    /// The quick answer and the explained one are the same rules.
    #[test]
    fn allows_agrees_with_decide(org in arb_org()) {
        let policy = Policy::new(&org).unwrap();
        for user in org.users.iter().map(|u| u.id.as_str()).chain(["nobody"]) {
            for query in all_queries(&org) {
                let decision = policy.decide(user, &query, now());
                prop_assert_eq!(policy.allows(user, &query, now()), decision.allowed);
                prop_assert_eq!(decision.code.is_allowed(), decision.allowed);
                prop_assert!(!decision.message.is_empty(), "{user} {query:?} has no message");
            }
        }
    }
}

#[test]
fn untargeted_permissions_cover_the_spec_keys() {
    let org = crate::support::small_org();
    let policy = Policy::new(&org).unwrap();
    let keys: Vec<&str> =
        policy.permissions_without_target("u-ada", now()).into_iter().map(|(k, _)| k).collect();
    for key in ["project.create", "reports.view", "group.create", "announcement.org", "network.manage"] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert!(!keys.contains(&"task.create"), "task.create takes a project");
    assert!(policy.allows("u-ada", &Query::can("project.create", Target::none()), now()));
}
