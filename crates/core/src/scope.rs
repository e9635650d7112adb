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
//!
//! [`Cutter`] validates an organisation once ([`Policy::new`]) and indexes what a cut looks
//! up (Offices, users, Projects and groups by Network; users by home Office and Projects by
//! Office; direct messages by participant; the users each Agreement shares), so that each cut
//! costs what it keeps, not what the organisation holds: a server builds one per revision and
//! cuts every user's snapshot from it. The Projects asked about are the user's teams and those
//! within their reach (their Network, or their home and additional Offices; across the
//! firewall, teams only), each answered by the user's [`crate::UserView`]. The cut is built
//! from the kept indices in order, and a policy's dense index `i` is element `i` of its
//! organisation, so elements keep the organisation's order. [`cut`] is a `Cutter` built for
//! one cut; a property test holds both to a reference copy of the first cut, which scanned the
//! whole organisation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::clock::Timestamp;
use crate::ids::Idx;
use crate::model::{
    AccessLevel, Agreement, DirectMessage, Features, Group, Network, Office, Org, Project, Role, User,
};
use crate::policy::{BitSet, Policy};
use crate::rows::{Lists, Rows};
use crate::snapshot::Scope;
use crate::validate::ValidationErrors;
use crate::view::{Reach, UserView};

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
///
/// This validates and indexes the whole organisation first: to cut many snapshots from one
/// organisation, build a [`Cutter`] once and cut from it.
pub fn cut(org: &Org, scope: &Scope, now: Timestamp) -> Result<Org, ScopeError> {
    Cutter::new(org.clone()).map_err(ScopeError::Invalid)?.cut(scope, now)
}

/// An organisation prepared for cutting many scoped snapshots: validated and resolved once,
/// with the indices a cut reads, so that one user's cut costs what it holds.
///
/// A cut reads only the lists it needs (the Projects, users and Offices of a Network or an
/// Office, a user's direct messages, the users an Agreement shares) and asks the evaluator only
/// about the Projects the user could see: their teams and the Projects within their reach
/// (their Network, or their Offices). It never scans the organisation.
///
/// The organisation, its policy and the indices are held in chunks shared between revisions
/// (`rows.rs`): [`Cutter::edit`] builds the next revision from this one with only what the edit
/// touches new, and a clone costs a pointer per chunk.
///
/// `Cutter` is `Send + Sync`: hold it in an `Arc` and cut from any thread.
#[derive(Clone)]
pub struct Cutter {
    pub(crate) org: OrgRows,
    pub(crate) policy: Policy,
    pub(crate) index: Index,
}

/// The organisation as it was written, element by element, in chunks shared between
/// revisions: what [`Cutter::to_org`] gives back, and what a cut copies its elements from.
/// A Project is the policy's columns (its id, name, Office and sorted team) and [`Written`]:
/// held as written, the Projects would be two thirds of a revision's memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrgRows {
    pub(crate) networks: Rows<Network>,
    pub(crate) offices: Rows<Office>,
    pub(crate) users: Rows<User>,
    pub(crate) projects: Rows<Written>,
    pub(crate) agreements: Rows<Agreement>,
    pub(crate) groups: Rows<Group>,
    pub(crate) direct_messages: Rows<DirectMessage>,
}

/// What a Project as written holds beyond the policy's columns: its creator, and its team in
/// the order written when that is not the sorted order the policy keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// `Idx::MAX` for none.
    pub(crate) created_by: Idx,
    /// Empty when the team was written sorted (by the users' order).
    pub(crate) order: Box<[Idx]>,
}

impl Written {
    /// Of `project`, valid in `policy`, whose sorted team is `team`.
    pub(crate) fn of(policy: &Policy, project: &Project, team: &[Idx]) -> Written {
        let users = &policy.ids.users;
        let order: Vec<Idx> =
            project.team.iter().map(|id| users.get(id).copied().unwrap_or(Idx::MAX)).collect();
        Written {
            created_by: project.created_by.as_ref().and_then(|id| users.get(id).copied()).unwrap_or(Idx::MAX),
            order: if order == team { Box::default() } else { order.into_boxed_slice() },
        }
    }
}

impl OrgRows {
    fn new(org: Org, policy: &Policy) -> OrgRows {
        let projects = org
            .projects
            .iter()
            .enumerate()
            .map(|(p, project)| Written::of(policy, project, policy.projects.team(p).unwrap_or_default()))
            .collect();
        OrgRows {
            networks: Rows::from_vec(org.networks),
            offices: Rows::from_vec(org.offices),
            users: Rows::from_vec(org.users),
            projects,
            agreements: Rows::from_vec(org.agreements),
            groups: Rows::from_vec(org.groups),
            direct_messages: Rows::from_vec(org.direct_messages),
        }
    }
}

/// A Project as written, read from a revision ([`Cutter::projects`], [`Cutter::project`]):
/// its fields borrowed, or [`ProjectRow::to_project`] for a copy.
#[derive(Debug, Clone, Copy)]
pub struct ProjectRow<'a> {
    cutter: &'a Cutter,
    p: Idx,
    written: &'a Written,
    team: &'a [Idx],
}

impl<'a> ProjectRow<'a> {
    /// Its id.
    pub fn id(&self) -> &'a str {
        self.cutter.policy.ids.projects.id(self.p).unwrap_or_default()
    }

    /// Its name.
    pub fn name(&self) -> &'a str {
        self.cutter.policy.projects.name(self.p as usize).unwrap_or_default()
    }

    /// Its Office's id.
    pub fn office(&self) -> &'a str {
        let policy = &self.cutter.policy;
        let office = policy.projects.office(self.p as usize).unwrap_or(Idx::MAX);
        policy.office(office).map_or("", |office| office.id.as_str())
    }

    /// Its team's user ids, in the order written.
    pub fn team(&self) -> impl Iterator<Item = &'a str> + 'a {
        let users = &self.cutter.policy;
        self.team_indices().iter().filter_map(move |&u| users.user(u).map(|user| user.id.as_str()))
    }

    /// Its team, in the order written, by dense index.
    fn team_indices(&self) -> &'a [Idx] {
        if self.written.order.is_empty() { self.team } else { &self.written.order }
    }

    /// Who created it.
    pub fn created_by(&self) -> Option<&'a str> {
        self.cutter.policy.user(self.written.created_by).map(|user| user.id.as_str())
    }

    /// A copy, as written.
    pub fn to_project(&self) -> Project {
        Project {
            id: self.id().to_owned(),
            name: self.name().to_owned(),
            office: self.office().to_owned(),
            team: self.team().map(str::to_owned).collect(),
            created_by: self.created_by().map(str::to_owned),
        }
    }
}

impl fmt::Debug for Cutter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the organisation: it may be hundreds of megabytes.
        f.debug_struct("Cutter").field("counts", &self.policy.counts()).finish_non_exhaustive()
    }
}

impl Cutter {
    /// Validates `org` ([`Policy::new`]) and builds the indices a cut reads.
    pub fn new(org: Org) -> Result<Cutter, ValidationErrors> {
        let policy = Policy::new(&org)?;
        let index = Index::new(&policy);
        Ok(Cutter { org: OrgRows::new(org, &policy), policy, index })
    }

    /// The whole organisation, copied out (for an export, or to compare): it costs what the
    /// organisation weighs. To read it, iterate [`Cutter::users`], [`Cutter::projects`], … or
    /// look elements up by id ([`Cutter::user`], …).
    pub fn to_org(&self) -> Org {
        let org = &self.org;
        Org {
            networks: org.networks.iter().cloned().collect(),
            offices: org.offices.iter().cloned().collect(),
            users: org.users.iter().cloned().collect(),
            projects: self.projects().map(|project| project.to_project()).collect(),
            agreements: org.agreements.iter().cloned().collect(),
            groups: org.groups.iter().cloned().collect(),
            direct_messages: org.direct_messages.iter().cloned().collect(),
        }
    }

    /// Its policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The Networks, in the organisation's order.
    pub fn networks(&self) -> impl DoubleEndedIterator<Item = &Network> + '_ {
        self.org.networks.iter()
    }

    /// The Offices, in the organisation's order.
    pub fn offices(&self) -> impl DoubleEndedIterator<Item = &Office> + '_ {
        self.org.offices.iter()
    }

    /// The users, in the organisation's order.
    pub fn users(&self) -> impl DoubleEndedIterator<Item = &User> + '_ {
        self.org.users.iter()
    }

    /// The Projects, in the organisation's order.
    pub fn projects(&self) -> impl Iterator<Item = ProjectRow<'_>> + '_ {
        (0..self.org.projects.len()).filter_map(|p| self.project_row(to_idx(p)))
    }

    pub(crate) fn project_row(&self, p: Idx) -> Option<ProjectRow<'_>> {
        Some(ProjectRow {
            cutter: self,
            p,
            written: self.org.projects.get(p as usize)?,
            team: self.policy.projects.team(p as usize)?,
        })
    }

    /// The Agreements, in the organisation's order.
    pub fn agreements(&self) -> impl DoubleEndedIterator<Item = &Agreement> + '_ {
        self.org.agreements.iter()
    }

    /// The groups, in the organisation's order.
    pub fn groups(&self) -> impl DoubleEndedIterator<Item = &Group> + '_ {
        self.org.groups.iter()
    }

    /// The direct messages, in the organisation's order.
    pub fn direct_messages(&self) -> impl DoubleEndedIterator<Item = &DirectMessage> + '_ {
        self.org.direct_messages.iter()
    }

    /// The Network with this id, as written.
    pub fn network(&self, id: &str) -> Option<&Network> {
        self.org.networks.get(*self.policy.ids.networks.get(id)? as usize)
    }

    /// The Office with this id, as written.
    pub fn office(&self, id: &str) -> Option<&Office> {
        self.org.offices.get(*self.policy.ids.offices.get(id)? as usize)
    }

    /// The user with this id, as written.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.org.users.get(*self.policy.ids.users.get(id)? as usize)
    }

    /// The Project with this id, as written.
    pub fn project(&self, id: &str) -> Option<ProjectRow<'_>> {
        self.project_row(self.policy.ids.projects.get(id)?)
    }

    /// The Agreement with this id, as written.
    pub fn agreement(&self, id: &str) -> Option<&Agreement> {
        self.org.agreements.iter().find(|agreement| agreement.id == id)
    }

    /// The group with this id, as written.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.org.groups.get(*self.policy.ids.groups.get(id)? as usize)
    }

    /// The direct message with this id, as written.
    pub fn direct_message(&self, id: &str) -> Option<&DirectMessage> {
        self.org.direct_messages.get(*self.policy.ids.dms.get(id)? as usize)
    }

    /// Cuts the organisation down to `scope`, deciding Agreement expiry at `now`: what [`cut`]
    /// gives.
    pub fn cut(&self, scope: &Scope, now: Timestamp) -> Result<Org, ScopeError> {
        let policy = &self.policy;
        let mut keep = Keep::default();
        match scope {
            Scope::Org => return Ok(self.to_org()),
            Scope::User(id) => {
                let &u = policy.ids.users.get(id).ok_or_else(|| ScopeError::UnknownUser(id.clone()))?;
                keep.user_needs(self, u, now, false);
            }
            Scope::Network(id) => {
                let &n = policy.ids.networks.get(id).ok_or_else(|| ScopeError::UnknownNetwork(id.clone()))?;
                keep.network_whole(self, n);
                for &u in self.index.network_users.get(n) {
                    keep.user_needs(self, u, now, true);
                }
            }
        }
        Ok(keep.build(self))
    }
}

/// What a cut looks up instead of scanning, and what the impact analysis reads of who could
/// see what (`diff.rs`), by dense index. Every list is sorted. Kept beside the policy, never in
/// it, and updated in place by an edit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    pub(crate) network_offices: Lists,
    pub(crate) network_users: Lists,
    pub(crate) network_projects: Lists,
    pub(crate) network_groups: Lists,
    /// By home Office.
    pub(crate) office_users: Lists,
    pub(crate) office_projects: Lists,
    /// By participant.
    pub(crate) user_dms: Lists,
    /// The users each Agreement shares.
    pub(crate) agreement_users: Lists,
    /// Per Network, its `network_admin` users and superusers: they see all its Projects.
    pub(crate) network_wide_users: Lists,
    /// Per Office, the `all_in_office` users whose home or additional Office it is.
    pub(crate) office_linked_users: Lists,
    /// The system superusers (under key 0).
    pub(crate) system_superusers: Lists,
}

impl Index {
    pub(crate) fn new(policy: &Policy) -> Index {
        let networks = policy.networks.len();
        let offices = policy.offices.len();
        let project_network = |office: Idx| policy.office_networks.get(office as usize).copied();
        let users = || policy.users.iter().enumerate().map(|(u, user)| (to_idx(u), user));
        Index {
            network_offices: Lists::new(
                networks,
                policy.offices.iter().enumerate().map(|(o, office)| (office.network, to_idx(o))),
            ),
            network_users: Lists::new(networks, users().map(|(u, user)| (user.network, u))),
            network_projects: Lists::new(
                networks,
                policy
                    .projects
                    .offices()
                    .enumerate()
                    .map(|(p, office)| (project_network(office).unwrap_or(Idx::MAX), to_idx(p))),
            ),
            network_groups: Lists::new(
                networks,
                policy.groups.iter().enumerate().map(|(g, group)| (group.network, to_idx(g))),
            ),
            office_users: Lists::new(offices, users().map(|(u, user)| (user.home_office, u))),
            office_projects: Lists::new(
                offices,
                policy.projects.offices().enumerate().map(|(p, office)| (office, to_idx(p))),
            ),
            user_dms: Lists::new(
                policy.users.len(),
                policy.dms.iter().enumerate().flat_map(|(d, dm)| dm.participants.map(|u| (u, to_idx(d)))),
            ),
            agreement_users: Lists::new(
                policy.agreements.len(),
                users().flat_map(|(u, user)| user.shared_by.iter().map(move |&a| (a, u))),
            ),
            network_wide_users: Lists::new(
                networks,
                users().filter(|(_, user)| network_wide(user)).map(|(u, user)| (user.network, u)),
            ),
            office_linked_users: Lists::new(
                offices,
                users().filter(|(_, user)| user.access == AccessLevel::AllInOffice).flat_map(|(u, user)| {
                    std::iter::once(user.home_office)
                        .chain(user.additional_offices.iter().copied())
                        .map(move |o| (o, u))
                }),
            ),
            system_superusers: Lists::new(
                1,
                users().filter(|(_, user)| user.system_superuser).map(|(u, _)| (0, u)),
            ),
        }
    }
}

/// A `network_admin` user or a superuser of their Network: they see every Project of it.
pub(crate) fn network_wide(user: &crate::policy::UserEntry) -> bool {
    user.access == AccessLevel::NetworkAdmin || user.network_superuser
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
    fn network_whole(&mut self, cutter: &Cutter, n: Idx) {
        let index = &cutter.index;
        self.network(n, NetworkKeep::Whole);
        for &o in index.network_offices.get(n) {
            self.office_whole(o);
        }
        for &u in index.network_users.get(n) {
            self.user(u, UserKeep::Whole);
        }
        self.projects.extend(index.network_projects.get(n));
        self.groups.extend(index.network_groups.get(n));
    }

    /// What user `u`'s decisions read. With `network_done`, their own Network is already kept
    /// whole and only what crosses the firewall is added.
    fn user_needs(&mut self, cutter: &Cutter, u: Idx, now: Timestamp, network_done: bool) {
        let (policy, index) = (&cutter.policy, &cutter.index);
        let Some(user) = policy.user(u) else { return };
        let n = user.network;
        // The evaluator's answers about Projects, precomputed for this user: the same answers
        // as `Policy::allows`, a few array reads each.
        let view = policy.view_of(u, now);
        let project_network = |p: Idx| {
            let office = policy.projects.office(p as usize).unwrap_or(Idx::MAX);
            (office, policy.office_networks.get(office as usize).copied().unwrap_or(Idx::MAX))
        };
        if !network_done {
            self.user(u, UserKeep::Whole);
            // Their Network's policy, its Offices (overrides only where they apply to the user)
            // and its people.
            self.network(n, NetworkKeep::Whole);
            for &o in index.network_offices.get(n) {
                self.office(o, None);
            }
            self.office(user.home_office, Some(policy.profiles.name(user.profile)));
            for &v in index.network_users.get(n) {
                self.user(v, UserKeep::Redacted);
            }
            // The Projects they see: only the ones in their Network need a check here, the
            // ones across the firewall come with the Agreements below. A Project of their
            // Network is seen only if it is on their teams or within their reach (spec §3), so
            // only those are asked about.
            let own = |p: Idx| project_network(p).1 == n;
            if let Some(reach) = view.reach() {
                match reach {
                    Reach::Network => self.seen(cutter, &view, index.network_projects.get(n), own, now),
                    Reach::Offices => {
                        self.seen(cutter, &view, index.office_projects.get(user.home_office), own, now);
                        for &o in &user.additional_offices {
                            self.seen(cutter, &view, index.office_projects.get(o), own, now);
                        }
                    }
                    Reach::Team => {}
                }
                if reach != Reach::Network {
                    self.seen(cutter, &view, &user.projects, own, now);
                }
            }
            for &g in &user.groups {
                self.groups.insert(g);
            }
        }
        // Their direct messages. One may cross the firewall (started while an Agreement linked
        // the two, and replying needs nothing): the other participant is kept as a person, since
        // the user already converses with them.
        for &d in index.user_dms.get(u) {
            let Some(dm) = policy.dms.get(d as usize) else { continue };
            self.dms.insert(d);
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
        // As a guest: the host Office, its Projects whose team the user is on (across the
        // firewall no other is seen), and the users whose home Office it is.
        for &a in &user.shared_by {
            let Some(agreement) = policy.agreement(a).filter(|a| a.active_at(now)) else { continue };
            let Some(host) = policy.office(agreement.host_office) else { continue };
            self.agreements.entry(a).or_default().insert(u);
            let profile = policy.profiles.name(agreement.profile);
            self.network(host.network, NetworkKeep::Profiles(BTreeSet::from([profile.to_owned()])));
            self.office(agreement.host_office, Some(profile));
            self.office(agreement.guest_office, None);
            let in_host = |p: Idx| project_network(p).0 == agreement.host_office;
            self.seen(cutter, &view, &user.projects, in_host, now);
            for &v in index.office_users.get(agreement.host_office) {
                self.user(v, UserKeep::Foreign);
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
            for &v in index.agreement_users.get(a) {
                self.agreements.entry(a).or_default().insert(v);
                self.user(v, UserKeep::Foreign);
            }
        }
    }

    /// Keeps those of `candidates` that pass `within` and that `view`'s user sees at `now`.
    fn seen(
        &mut self,
        cutter: &Cutter,
        view: &UserView,
        candidates: &[Idx],
        within: impl Fn(Idx) -> bool,
        now: Timestamp,
    ) {
        for &p in candidates {
            if within(p) && view.sees(&cutter.policy, p, now) {
                self.projects.insert(p);
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

    /// The kept elements, in the organisation's order: a policy's dense index `i` is element
    /// `i` of its `Org` (validation refuses a repeated id, so every element has its own), and the
    /// sets are ordered by index.
    fn build(&self, cutter: &Cutter) -> Org {
        let (org, policy) = (&cutter.org, &cutter.policy);
        // The kept users as bits (a word per 64 users of the organisation, built from the kept
        // ones): team lists are filtered through it.
        let mut kept_users = BitSet::with_len(policy.users.len());
        for &u in self.users.keys() {
            kept_users.insert(u);
        }

        let networks = self
            .networks
            .iter()
            .filter_map(|(&n, keep)| {
                let network = org.networks.get(n as usize)?;
                Some(match keep {
                    NetworkKeep::Whole => network.clone(),
                    NetworkKeep::Profiles(profiles) => Network {
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
                    },
                })
            })
            .collect();
        let offices = self
            .offices
            .iter()
            .filter_map(|(&o, profiles)| {
                let office = org.offices.get(o as usize)?;
                let overrides = match profiles {
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
        let users = self
            .users
            .iter()
            .filter_map(|(&u, &keep)| {
                let user = org.users.get(u as usize)?;
                if keep == UserKeep::Whole {
                    return Some(user.clone());
                }
                let in_whole_network = policy
                    .user(u)
                    .is_some_and(|entry| self.networks.get(&entry.network) == Some(&NetworkKeep::Whole));
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
        let projects = self
            .projects
            .iter()
            .filter_map(|&p| {
                let project = cutter.project_row(p)?;
                let id =
                    |u: Idx| policy.user(u).filter(|_| kept_users.contains(u)).map(|user| user.id.clone());
                Some(Project {
                    id: project.id().to_owned(),
                    name: project.name().to_owned(),
                    office: project.office().to_owned(),
                    team: project.team_indices().iter().filter_map(|&u| id(u)).collect(),
                    created_by: id(project.written.created_by),
                })
            })
            .collect();
        let agreements = self
            .agreements
            .iter()
            .filter_map(|(&a, shared)| {
                let agreement = org.agreements.get(a as usize)?;
                Some(Agreement {
                    id: agreement.id.clone(),
                    host_office: agreement.host_office.clone(),
                    guest_office: agreement.guest_office.clone(),
                    users: Some(
                        shared
                            .iter()
                            .filter_map(|&v| org.users.get(v as usize))
                            .map(|u| u.id.clone())
                            .collect(),
                    ),
                    profile: agreement.profile.clone(),
                    expires_at: agreement.expires_at,
                })
            })
            .collect();
        let groups = self.groups.iter().filter_map(|&g| org.groups.get(g as usize)).cloned().collect();
        let direct_messages =
            self.dms.iter().filter_map(|&d| org.direct_messages.get(d as usize)).cloned().collect();
        Org { networks, offices, users, projects, agreements, groups, direct_messages }
    }
}
