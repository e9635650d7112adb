//! Scoped snapshots (spec §6): cut an organisation down to what one user, or one Network,
//! needs.
//!
//! **Invariant:** every decision for a user in scope allows or denies on the cut organisation
//! exactly as on the whole one, and the cut holds nothing from behind the firewall that an
//! active Agreement does not share. A property test holds us to both.
//!
//! What is kept is in `docs/decisions.md`. In short: the user's Network, with other people
//! reduced to what person decisions read (name, home Office, active); the Projects the user
//! sees; their groups and direct messages; and, per active Agreement, only the host Office,
//! the shared Projects and the people on the other side.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::clock::Timestamp;
use crate::model::{AccessLevel, Agreement, Features, Network, Office, Org, Project, Role, User};
use crate::policy::{Idx, Policy};
use crate::query::{Query, ResourceKind};
use crate::snapshot::Scope;
use crate::validate::ValidationErrors;

/// Why an organisation could not be scoped.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScopeError {
    /// The organisation is inconsistent.
    Invalid(ValidationErrors),
    /// No such user.
    UnknownUser(String),
    /// No such Network.
    UnknownNetwork(String),
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeError::Invalid(errors) => write!(f, "{errors}"),
            ScopeError::UnknownUser(id) => write!(f, "cannot scope to unknown user `{id}`"),
            ScopeError::UnknownNetwork(id) => write!(f, "cannot scope to unknown network `{id}`"),
        }
    }
}

impl std::error::Error for ScopeError {}

/// Cuts `org` down to `scope`, deciding Agreement expiry at `now`.
pub fn cut(org: &Org, scope: &Scope, now: Timestamp) -> Result<Org, ScopeError> {
    let policy = Policy::new(org).map_err(ScopeError::Invalid)?;
    let mut keep = Keep::default();
    match scope {
        Scope::Org => return Ok(org.clone()),
        Scope::User(id) => {
            let &u = policy.ids.users.get(id).ok_or_else(|| ScopeError::UnknownUser(id.clone()))?;
            keep.user_needs(&policy, u, now, false);
        }
        Scope::Network(id) => {
            let &n = policy.ids.networks.get(id).ok_or_else(|| ScopeError::UnknownNetwork(id.clone()))?;
            keep.network_whole(&policy, n);
            for (u, user) in policy.users.iter().enumerate() {
                if user.network == n {
                    keep.user_needs(&policy, to_idx(u), now, true);
                }
            }
        }
    }
    Ok(keep.build(org))
}

/// How much of a Network to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NetworkKeep {
    /// Everything.
    Whole,
    /// Name only, and the defaults of these profiles.
    Profiles(BTreeSet<String>),
}

/// How much of a user to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UserKeep {
    /// Seen from the other side of the firewall: name, home Office, active.
    Foreign,
    /// A person of a kept Network: also their profile.
    Redacted,
    /// Everything.
    Whole,
}

#[derive(Debug, Default)]
struct Keep {
    networks: BTreeMap<Idx, NetworkKeep>,
    /// Per Office, the profiles whose overrides are kept (`None`: all of them).
    offices: BTreeMap<Idx, Option<BTreeSet<String>>>,
    users: BTreeMap<Idx, UserKeep>,
    projects: BTreeSet<Idx>,
    /// Per Agreement, the shared users kept.
    agreements: BTreeMap<Idx, BTreeSet<Idx>>,
    groups: BTreeSet<Idx>,
    dms: BTreeSet<Idx>,
}

fn to_idx(i: usize) -> Idx {
    Idx::try_from(i).unwrap_or(Idx::MAX)
}

impl Keep {
    fn network(&mut self, n: Idx, keep: NetworkKeep) {
        let slot = self.networks.entry(n).or_insert_with(|| NetworkKeep::Profiles(BTreeSet::new()));
        match (slot, keep) {
            (slot @ NetworkKeep::Profiles(_), NetworkKeep::Whole) => *slot = NetworkKeep::Whole,
            (NetworkKeep::Profiles(have), NetworkKeep::Profiles(more)) => have.extend(more),
            (NetworkKeep::Whole, _) => {}
        }
    }

    fn office(&mut self, o: Idx, overrides_for: Option<&str>) {
        let slot = self.offices.entry(o).or_insert_with(|| Some(BTreeSet::new()));
        if let (Some(profiles), Some(profile)) = (slot.as_mut(), overrides_for) {
            profiles.insert(profile.to_owned());
        }
    }

    fn office_whole(&mut self, o: Idx) {
        self.offices.insert(o, None);
    }

    fn user(&mut self, u: Idx, keep: UserKeep) {
        let slot = self.users.entry(u).or_insert(keep);
        *slot = (*slot).max(keep);
    }

    /// A whole Network: every Office, user, Project and group of it. (Direct messages come with
    /// each user's needs.)
    fn network_whole(&mut self, policy: &Policy, n: Idx) {
        self.network(n, NetworkKeep::Whole);
        for (o, office) in policy.offices.iter().enumerate() {
            if office.network == n {
                self.office_whole(to_idx(o));
            }
        }
        for (u, user) in policy.users.iter().enumerate() {
            if user.network == n {
                self.user(to_idx(u), UserKeep::Whole);
            }
        }
        for (p, project) in policy.project_refs().enumerate() {
            if project.network == n {
                self.projects.insert(to_idx(p));
            }
        }
        for (g, group) in policy.groups.iter().enumerate() {
            if group.network == n {
                self.groups.insert(to_idx(g));
            }
        }
    }

    /// What user `u`'s decisions read. With `network_done`, their own Network is already kept
    /// whole and only what crosses the firewall is added.
    fn user_needs(&mut self, policy: &Policy, u: Idx, now: Timestamp, network_done: bool) {
        let Some(user) = policy.user(u) else { return };
        let n = user.network;
        if !network_done {
            self.user(u, UserKeep::Whole);
            // Their Network's policy, its Offices (overrides only where they apply to the user)
            // and its people.
            self.network(n, NetworkKeep::Whole);
            for (o, office) in policy.offices.iter().enumerate() {
                if office.network == n {
                    self.office(to_idx(o), None);
                }
            }
            self.office(user.home_office, Some(policy.profiles.name(user.profile)));
            for (v, person) in policy.users.iter().enumerate() {
                if person.network == n {
                    self.user(to_idx(v), UserKeep::Redacted);
                }
            }
            // The Projects they see: only the ones in their Network need a check here, the
            // ones across the firewall come with the Agreements below.
            for (p, project) in policy.project_refs().enumerate() {
                let p = to_idx(p);
                if project.network == n
                    && policy.allows(&user.id, &Query::view(ResourceKind::Project, project.id), now)
                {
                    self.projects.insert(p);
                }
            }
            for &g in &user.groups {
                self.groups.insert(g);
            }
        }
        // Their direct messages. One may cross the firewall (started while an Agreement linked
        // the two, and replying needs nothing): the other participant is kept as a person, since
        // the user already converses with them.
        for (d, dm) in policy.dms.iter().enumerate() {
            if !dm.participants.contains(&u) {
                continue;
            }
            self.dms.insert(to_idx(d));
            for &v in &dm.participants {
                let Some(person) = policy.user(v) else { continue };
                if person.network != n {
                    self.user(v, UserKeep::Foreign);
                    self.office(person.home_office, None);
                    self.network(person.network, NetworkKeep::Profiles(BTreeSet::new()));
                    // And the Agreement that linked the two (in force or not), which is what
                    // lets such a conversation exist.
                    for (guest, host) in [(u, v), (v, u)] {
                        self.linking_agreements(policy, guest, host);
                    }
                }
            }
        }
        // A system superuser may edit the defaults of any Network: they must all be known.
        if user.system_superuser {
            for n in 0..policy.networks.len() {
                self.network(to_idx(n), NetworkKeep::Profiles(BTreeSet::new()));
            }
        }
        // As a guest: the host Office, its Projects whose team the user is on, and the users
        // whose home Office it is.
        for &a in &user.shared_by {
            let Some(agreement) = policy.agreement(a).filter(|a| a.active_at(now)) else { continue };
            let Some(host) = policy.office(agreement.host_office) else { continue };
            self.agreements.entry(a).or_default().insert(u);
            let profile = policy.profiles.name(agreement.profile);
            self.network(host.network, NetworkKeep::Profiles(BTreeSet::from([profile.to_owned()])));
            self.office(agreement.host_office, Some(profile));
            self.office(agreement.guest_office, None);
            for (p, project) in policy.project_refs().enumerate() {
                if project.office == agreement.host_office
                    && policy.allows(&user.id, &Query::view(ResourceKind::Project, project.id), now)
                {
                    self.projects.insert(to_idx(p));
                }
            }
            for (v, person) in policy.users.iter().enumerate() {
                if person.home_office == agreement.host_office {
                    self.user(to_idx(v), UserKeep::Foreign);
                }
            }
        }
        // As a user of a host Office: the guests shared into it, and where they come from.
        let hosted =
            policy.office(user.home_office).map(|office| office.hosted.as_slice()).unwrap_or_default();
        for &a in hosted {
            let Some(agreement) = policy.agreement(a).filter(|a| a.active_at(now)) else { continue };
            let Some(guest) = policy.office(agreement.guest_office) else { continue };
            self.network(guest.network, NetworkKeep::Profiles(BTreeSet::new()));
            self.office(agreement.guest_office, None);
            self.office(agreement.host_office, None);
            for (v, person) in policy.users.iter().enumerate() {
                let v = to_idx(v);
                if person.shared_by.binary_search(&a).is_ok() {
                    self.agreements.entry(a).or_default().insert(v);
                    self.user(v, UserKeep::Foreign);
                }
            }
        }
    }

    /// Keeps the Agreements that share `guest` into `host`'s home Office, for `guest` only.
    fn linking_agreements(&mut self, policy: &Policy, guest: Idx, host: Idx) {
        let (Some(guest_user), Some(host_user)) = (policy.user(guest), policy.user(host)) else { return };
        for &a in &guest_user.shared_by {
            let Some(agreement) = policy.agreement(a) else { continue };
            if agreement.host_office != host_user.home_office {
                continue;
            }
            self.agreements.entry(a).or_default().insert(guest);
            let profile = policy.profiles.name(agreement.profile).to_owned();
            self.network(host_user.network, NetworkKeep::Profiles(BTreeSet::from([profile])));
            self.office(agreement.host_office, None);
            self.office(agreement.guest_office, None);
        }
    }

    fn build(&self, org: &Org) -> Org {
        // One lookup table instead of a scan per team member.
        let kept_ids: BTreeSet<&str> = org
            .users
            .iter()
            .enumerate()
            .filter(|(u, _)| self.users.contains_key(&to_idx(*u)))
            .map(|(_, user)| user.id.as_str())
            .collect();
        let whole_networks: BTreeSet<&str> = org
            .networks
            .iter()
            .enumerate()
            .filter(|(n, _)| self.networks.get(&to_idx(*n)) == Some(&NetworkKeep::Whole))
            .map(|(_, network)| network.id.as_str())
            .collect();
        let office_network: BTreeMap<&str, &str> =
            org.offices.iter().map(|office| (office.id.as_str(), office.network.as_str())).collect();

        let networks = org
            .networks
            .iter()
            .enumerate()
            .filter_map(|(n, network)| match self.networks.get(&to_idx(n))? {
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
                let overrides = match self.offices.get(&to_idx(o))? {
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
                let keep = *self.users.get(&to_idx(u))?;
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
                    // Every Network knows `general_user`; a foreign person's profile is none of
                    // the reader's business.
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
            .filter(|(p, _)| self.projects.contains(&to_idx(*p)))
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
                let shared = self.agreements.get(&to_idx(a))?;
                Some(Agreement {
                    users: Some(
                        org.users
                            .iter()
                            .enumerate()
                            .filter(|(u, _)| shared.contains(&to_idx(*u)))
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
            .filter(|(g, _)| self.groups.contains(&to_idx(*g)))
            .map(|(_, group)| group.clone())
            .collect();
        let direct_messages = org
            .direct_messages
            .iter()
            .enumerate()
            .filter(|(d, _)| self.dms.contains(&to_idx(*d)))
            .map(|(_, dm)| dm.clone())
            .collect();
        Org { networks, offices, users, projects, agreements, groups, direct_messages }
    }
}
