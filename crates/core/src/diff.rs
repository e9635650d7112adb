//! Impact analysis: what a change of the organisation does to each user's access.
//!
//! [`diff`] takes two policies, OLD and NEW, and lists, for every user whose access changes,
//! what they gain and what they lose: Projects they see, report and finance rows, people,
//! groups, and permissions with their targets.
//!
//! **Exact.** Every answer comes from [`Policy::allows`] on both sides: the same evaluator that
//! decides decides the difference. Nothing here re-implements a rule.
//!
//! **Fast.** Asking every user every question is quadratic. Instead a structural comparison of
//! the two organisations finds, conservatively, the users whose decisions could change and,
//! for each, which questions: a whole family (all their Projects, all their people, ...) or a
//! few targets (one Project, one person). Only those are asked, on both sides. A superset of
//! the users and questions that change, decided exactly on both sides, is the exact result.
//! The property test `diff_matches_brute_force` holds the comparison to that promise.
//!
//! What each kind of change reaches is written next to the comparison that finds it.
//! Task and document rows are visible exactly when their Project is, so `projects` stands for
//! them; report and finance rows also need a permission, so they have lists of their own.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::Idx;
use crate::model::{AccessLevel, PROJECT_PERMISSIONS};
use crate::permission::{AdminPermission, DM_REPLY, PEOPLE_SEARCH, RolePermission};
use crate::policy::Policy;
use crate::query::{Query, ResourceKind, Target};
use crate::rows::Lists;
use crate::scope::{Index, network_wide};

/// What a change of the organisation does: one entry per user whose access changes, sorted by
/// user id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impact {
    /// The users whose access changes, by id.
    pub users: Vec<UserImpact>,
}

impl Impact {
    /// Whether nothing changes for anyone.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// What one user gains and loses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserImpact {
    /// The user's id.
    pub user: String,
    /// Allowed in NEW, denied in OLD.
    pub gained: Access,
    /// Allowed in OLD, denied in NEW.
    pub lost: Access,
}

/// A set of things a user may see or do. Each list is sorted; empty lists are left out of JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Projects seen (and with them their tasks and documents), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    /// Projects whose report rows are seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<String>,
    /// Projects whose finance rows are seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finance: Vec<String>,
    /// People seen, by user id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<String>,
    /// Groups seen, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Permissions, each with its target: `{"can": "task.create", "target": {"project": "p-1"}}`.
    /// Sorted by permission, then target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Query>,
}

impl Access {
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.projects.is_empty()
            && self.reports.is_empty()
            && self.finance.is_empty()
            && self.people.is_empty()
            && self.groups.is_empty()
            && self.permissions.is_empty()
    }

    /// Sorts each list and drops repeats: a Project may be asked about both as a target and as
    /// one the user could see.
    fn sort(&mut self) {
        for list in
            [&mut self.projects, &mut self.reports, &mut self.finance, &mut self.people, &mut self.groups]
        {
            list.sort_unstable();
            list.dedup();
        }
        self.permissions.sort_by(|a, b| permission_key(a).cmp(&permission_key(b)));
        self.permissions.dedup();
    }
}

/// Every user whose decisions differ between `old` and `new` at `now` or at any later time,
/// sorted: the users [`diff`] names at `now` and at each later instant at which an Agreement of
/// either side expires. Decisions change with time only at those instants, so a user it leaves
/// out decides every question alike on both sides from `now` on: a snapshot of theirs cut from
/// `old` still holds for `new` (what lets an issuer keep it). It costs one `diff` per distinct
/// later expiry, besides the one at `now`.
pub fn changed_users(old: &Policy, new: &Policy, now: Timestamp) -> Vec<String> {
    let (old_index, new_index) = (Index::new(old), Index::new(new));
    changed_between((old, &old_index), (new, &new_index), now, None)
}

/// [`changed_users`] of two policies with their indices, comparing only what `touched` names
/// (everything, when `None`): a user is named once some question of theirs differs at some
/// time, and not asked again.
pub(crate) fn changed_between(
    old: (&Policy, &Index),
    new: (&Policy, &Index),
    now: Timestamp,
    touched: Option<&Touched>,
) -> Vec<String> {
    let mut times: Vec<Timestamp> = old
        .0
        .agreements
        .iter()
        .chain(new.0.agreements.iter())
        .filter_map(|agreement| agreement.expires_at)
        .filter(|at| *at > now)
        .collect();
    times.push(now);
    times.sort_unstable();
    times.dedup();
    let mut found: BTreeSet<&str> = BTreeSet::new();
    for at in times {
        let old = Side::new(old.0, old.1, at);
        let new = Side::new(new.0, new.1, at);
        let mut work = Work::default();
        compare(&old, &new, &mut work, touched);
        let mut users: Vec<(&str, Recheck<'_>)> =
            work.users.into_iter().filter(|(id, _)| !found.contains(id)).collect();
        users.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (id, recheck) in users {
            if evaluate(&old, &new, id, &recheck, true).is_some() {
                found.insert(id);
            }
        }
    }
    found.into_iter().map(str::to_owned).collect()
}

/// What changes between `old` and `new` at `now`, for every user, or for `user` alone.
///
/// Users are compared by id, and so are Projects, people and everything else: a user who is
/// only in NEW gains everything they may do there, one only in OLD loses everything.
pub fn diff(old: &Policy, new: &Policy, now: Timestamp, user: Option<&str>) -> Impact {
    let (old_index, new_index) = (Index::new(old), Index::new(new));
    let old = Side::new(old, &old_index, now);
    let new = Side::new(new, &new_index, now);
    let mut work = Work::default();
    match user {
        Some(id) => {
            // One user: ask them everything. Cheap, and needs no comparison at all.
            let id = old
                .user_idx(id)
                .and_then(|u| old.user_id(u))
                .or_else(|| new.user_idx(id).and_then(|u| new.user_id(u)));
            if let Some(id) = id {
                work.mark(id, ALL);
            }
        }
        None => compare(&old, &new, &mut work, None),
    }
    let mut users: Vec<(&str, Recheck<'_>)> = work.users.into_iter().collect();
    users.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let users =
        users.into_iter().filter_map(|(id, recheck)| evaluate(&old, &new, id, &recheck, false)).collect();
    Impact { users }
}

/// What an edit touched, by dense index on each side: the only entities whose comparison can
/// find anything (every other one is the same on both sides, and so are the lists the
/// comparison reads of it). Users and Offices keep their indices across an edit; Projects,
/// groups and direct messages are only ever added.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    pub(crate) users: BTreeSet<Idx>,
    pub(crate) networks: BTreeSet<Idx>,
    pub(crate) offices: BTreeSet<Idx>,
    pub(crate) projects: BTreeSet<Idx>,
    pub(crate) groups: BTreeSet<Idx>,
    pub(crate) dms: BTreeSet<Idx>,
    /// By id: an Agreement ended renumbers those after it.
    pub(crate) agreements: BTreeSet<String>,
}

// ---- What to ask whom -----------------------------------------------------------------------

/// Families of questions, as bits.
const PROJECTS: u8 = 1;
const PEOPLE: u8 = 1 << 1;
const GROUPS: u8 = 1 << 2;
const DMS: u8 = 1 << 3;
const ADMIN: u8 = 1 << 4;
const UNTARGETED: u8 = 1 << 5;
const ALL: u8 = PROJECTS | PEOPLE | GROUPS | DMS | ADMIN | UNTARGETED;

/// What to ask one user: whole families, and single targets beyond them.
#[derive(Debug, Default)]
struct Recheck<'a> {
    families: u8,
    /// Profile permissions whose holding may have changed, beyond the families: asked in
    /// every Project the user could see, and untargeted.
    keys: BTreeSet<&'a str>,
    projects: BTreeSet<&'a str>,
    people: BTreeSet<&'a str>,
    groups: BTreeSet<&'a str>,
    dms: BTreeSet<&'a str>,
    offices: BTreeSet<&'a str>,
    networks: BTreeSet<&'a str>,
}

impl Recheck<'_> {
    fn needs_projects(&self) -> bool {
        self.families & PROJECTS != 0 || !self.keys.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Project,
    Person,
    Group,
    Dm,
    Office,
    Network,
}

#[derive(Debug, Default)]
struct Work<'a> {
    users: HashMap<&'a str, Recheck<'a>>,
}

impl<'a> Work<'a> {
    fn mark(&mut self, user: &'a str, families: u8) {
        self.users.entry(user).or_default().families |= families;
    }

    /// Ask `user` about the profile permissions `keys`, wherever they act.
    fn keys(&mut self, user: &'a str, keys: &BTreeSet<&'a str>) {
        self.users.entry(user).or_default().keys.extend(keys);
    }

    /// Ask `user` the questions of `kind` about `id`. A Project or person already covered by a
    /// whole family needs no entry of its own.
    fn target(&mut self, user: &'a str, kind: Kind, id: &'a str) {
        let recheck = self.users.entry(user).or_default();
        let covered = |family: u8| recheck.families & family != 0;
        match kind {
            Kind::Project if !covered(PROJECTS) => recheck.projects.insert(id),
            Kind::Person if !covered(PEOPLE) => recheck.people.insert(id),
            Kind::Project | Kind::Person => false,
            Kind::Group => recheck.groups.insert(id),
            Kind::Dm => recheck.dms.insert(id),
            Kind::Office => recheck.offices.insert(id),
            Kind::Network => recheck.networks.insert(id),
        };
    }
}

// ---- One policy, with the reverse indices the comparison needs ------------------------------

struct Side<'a> {
    policy: &'a Policy,
    now: Timestamp,
    /// Who could see what: the lists a [`crate::Cutter`] keeps for its cuts and for this.
    index: &'a Index,
    /// Agreement id → index.
    agreement_ids: HashMap<&'a str, Idx>,
}

fn to_idx(i: usize) -> Idx {
    Idx::try_from(i).unwrap_or(Idx::MAX)
}

impl<'a> Side<'a> {
    fn new(policy: &'a Policy, index: &'a Index, now: Timestamp) -> Side<'a> {
        Side {
            policy,
            now,
            index,
            agreement_ids: policy
                .agreements
                .iter()
                .enumerate()
                .map(|(a, agreement)| (agreement.id.as_str(), to_idx(a)))
                .collect(),
        }
    }

    fn user_idx(&self, id: &str) -> Option<Idx> {
        self.policy.ids.users.get(id).copied()
    }

    fn user_id(&self, u: Idx) -> Option<&'a str> {
        self.policy.users.get(u as usize).map(|user| user.id.as_str())
    }

    fn office_id(&self, o: Idx) -> Option<&'a str> {
        self.policy.offices.get(o as usize).map(|office| office.id.as_str())
    }

    fn network_id(&self, n: Idx) -> Option<&'a str> {
        self.policy.networks.get(n as usize).map(|network| network.id.as_str())
    }

    fn project_id(&self, p: Idx) -> Option<&'a str> {
        self.policy.ids.projects.id(p)
    }

    fn group_id(&self, g: Idx) -> Option<&'a str> {
        self.policy.groups.get(g as usize).map(|group| group.id.as_str())
    }

    fn dm_id(&self, d: Idx) -> Option<&'a str> {
        self.policy.dms.get(d as usize).map(|dm| dm.id.as_str())
    }

    fn agreement_active(&self, a: Idx) -> bool {
        self.policy.agreements.get(a as usize).is_some_and(|agreement| agreement.active_at(self.now))
    }

    fn profile_name(&self, profile: Idx) -> &'a str {
        self.policy.profiles.name(profile)
    }

    /// The ids of `items`, sorted.
    fn ids(&self, items: &[Idx], id: impl Fn(&Side<'a>, Idx) -> Option<&'a str>) -> Vec<&'a str> {
        let mut ids: Vec<&'a str> = items.iter().filter_map(|&i| id(self, i)).collect();
        ids.sort_unstable();
        ids
    }

    /// The ids of the active Agreements that share `u`, sorted.
    fn active_shares(&self, u: Idx) -> Vec<&'a str> {
        let Some(user) = self.policy.user(u) else { return Vec::new() };
        let mut ids: Vec<&'a str> = user
            .shared_by
            .iter()
            .filter(|&&a| self.agreement_active(a))
            .filter_map(|&a| self.policy.agreements.get(a as usize).map(|agreement| agreement.id.as_str()))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Profile → permission → on, for one Office's overrides, by name.
    fn overrides(&self, o: Idx) -> BTreeMap<(&'a str, &'a str), bool> {
        let policy = self.policy;
        policy
            .office(o)
            .map(|office| {
                office
                    .overrides
                    .iter()
                    .map(|&(profile, key, on)| {
                        ((policy.profiles.name(profile), policy.permissions.name(key)), on)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The permissions on by default for `profile` in Network `n`, by name.
    fn defaults(&self, n: Idx, profile: &str) -> BTreeSet<&'a str> {
        let policy = self.policy;
        let Some(set) =
            policy.profiles.get(profile).and_then(|p| policy.network(n)?.defaults.get(p as usize))
        else {
            return BTreeSet::new();
        };
        policy
            .permissions
            .names
            .iter()
            .enumerate()
            .filter(|(k, _)| set.contains(to_idx(*k)))
            .map(|(_, name)| name.as_str())
            .collect()
    }

    /// Users of `n` whose profile is `profile`.
    fn network_users_with_profile<'s>(
        &'s self,
        n: Idx,
        profile: &'s str,
    ) -> impl Iterator<Item = &'a str> + 's {
        self.index.network_users.get(n).iter().filter_map(move |&u| {
            let user = self.policy.user(u)?;
            (self.profile_name(user.profile) == profile).then_some(user.id.as_str())
        })
    }

    /// The users shared by active Agreements hosted in Offices that `hosted_in` accepts, under
    /// `profile`: they act with that profile there.
    fn aliens_with_profile(&self, hosted_in: impl Fn(Idx) -> bool, profile: &str) -> Vec<&'a str> {
        let mut aliens = Vec::new();
        for (a, agreement) in self.policy.agreements.iter().enumerate() {
            let a = to_idx(a);
            if self.agreement_active(a)
                && hosted_in(agreement.host_office)
                && self.profile_name(agreement.profile) == profile
            {
                aliens.extend(self.index.agreement_users.get(a).iter().filter_map(|&u| self.user_id(u)));
            }
        }
        aliens
    }

    /// Everyone who could see person `v` here: their Network, and whom Agreements link them to.
    fn person_viewers(&self, v: Idx) -> Vec<&'a str> {
        let Some(person) = self.policy.user(v) else { return Vec::new() };
        let mut viewers: Vec<Idx> = self.index.network_users.get(person.network).to_vec();
        for &a in &person.shared_by {
            if let Some(agreement) = self.policy.agreement(a).filter(|_| self.agreement_active(a)) {
                viewers.extend_from_slice(self.index.office_users.get(agreement.host_office));
            }
        }
        for &a in self.policy.office(person.home_office).map_or(&[][..], |office| office.hosted.as_slice()) {
            if self.agreement_active(a) {
                viewers.extend_from_slice(self.index.agreement_users.get(a));
            }
        }
        viewers.into_iter().filter_map(|u| self.user_id(u)).collect()
    }

    /// Everyone who could see Project `p` here: its team, its Network's admins and superusers,
    /// and the `all_in_office` users of its Office.
    fn project_viewers(&self, p: Idx) -> Vec<&'a str> {
        let Some(project) = self.policy.project(p) else { return Vec::new() };
        project
            .team
            .iter()
            .chain(self.index.network_wide_users.get(project.network))
            .chain(self.index.office_linked_users.get(project.office))
            .filter_map(|&u| self.user_id(u))
            .collect()
    }

    /// The ids of the users that `lists` holds for `n`.
    fn users_of<'s>(&'s self, lists: &'s Lists, n: Idx) -> impl Iterator<Item = &'a str> + 's {
        lists.get(n).iter().filter_map(|&u| self.user_id(u))
    }
}

impl Side<'_> {
    /// Every Project `u` could see on this side: the teams they are on, and the Offices or
    /// Networks their access level opens.
    fn projects_of(&self, u: Idx) -> impl Iterator<Item = Idx> + '_ {
        let user = self.policy.user(u);
        let team: &[Idx] = user.map_or(&[], |user| user.projects.as_slice());
        let (network, offices): (&[Idx], Vec<&[Idx]>) = match user {
            Some(user) if network_wide(user) => (self.index.network_projects.get(user.network), Vec::new()),
            Some(user) if user.access == AccessLevel::AllInOffice => (
                &[],
                std::iter::once(&user.home_office)
                    .chain(&user.additional_offices)
                    .map(|&office| self.index.office_projects.get(office))
                    .collect(),
            ),
            _ => (&[], Vec::new()),
        };
        team.iter().chain(network).chain(offices.into_iter().flatten()).copied()
    }
}

// ---- The structural comparison ----------------------------------------------------------------

/// Compares everything, or only what `touched` names.
fn compare<'a>(old: &Side<'a>, new: &Side<'a>, work: &mut Work<'a>, touched: Option<&Touched>) {
    compare_users(old, new, work, touched.map(|t| &t.users));
    let ids = |of: Option<&BTreeSet<Idx>>, id: fn(&Side<'a>, Idx) -> Option<&'a str>| {
        of.map(|of| of.iter().filter_map(|&i| id(new, i).or_else(|| id(old, i))).collect::<BTreeSet<_>>())
    };
    compare_networks(old, new, work, ids(touched.map(|t| &t.networks), Side::network_id));
    compare_offices(old, new, work, ids(touched.map(|t| &t.offices), Side::office_id));
    compare_projects(old, new, work, touched.map(|t| &t.projects));
    compare_agreements(old, new, work, touched.map(|t| t.agreements.iter().map(String::as_str).collect()));
    compare_groups(old, new, work, ids(touched.map(|t| &t.groups), Side::group_id));
    compare_dms(old, new, work, ids(touched.map(|t| &t.dms), Side::dm_id));
}

/// A user's own record. What the rules read of a user decides which families change; what
/// others read of them as a person (active, Network, home Office, the Agreements that share
/// them) reaches everyone who could see them.
fn compare_users<'a>(old: &Side<'a>, new: &Side<'a>, work: &mut Work<'a>, only: Option<&BTreeSet<Idx>>) {
    let person_changed = |work: &mut Work<'a>, id: &'a str, o: Option<Idx>, n: Option<Idx>| {
        work.mark(id, ALL);
        for (side, u) in [(old, o), (new, n)] {
            let Some(u) = u else { continue };
            for viewer in side.person_viewers(u) {
                work.target(viewer, Kind::Person, id);
            }
        }
    };
    let all: Box<dyn Iterator<Item = (Idx, &'a crate::policy::UserEntry)>> = match only {
        None => Box::new(old.policy.users.iter().enumerate().map(|(o, user)| (to_idx(o), user))),
        Some(only) => Box::new(only.iter().filter_map(|&o| Some((o, old.policy.user(o)?)))),
    };
    for (o, before) in all {
        let id = before.id.as_str();
        let same_place = new.policy.user(o).is_some_and(|same| same.id == id);
        let Some(n) = (if same_place { Some(o) } else { new.user_idx(id) }) else {
            person_changed(work, id, Some(o), None);
            continue;
        };
        let Some(after) = new.policy.user(n) else { continue };
        let as_person = |side: &Side<'a>, u: Idx, user: &crate::policy::UserEntry| {
            (
                user.active,
                side.network_id(user.network),
                side.office_id(user.home_office),
                side.active_shares(u),
            )
        };
        if as_person(old, o, before) != as_person(new, n, after) {
            person_changed(work, id, Some(o), Some(n));
            continue;
        }
        let mut families = 0;
        if old.ids(&before.additional_offices, Side::office_id)
            != new.ids(&after.additional_offices, Side::office_id)
            || before.access != after.access
            || before.network_superuser != after.network_superuser
        {
            // Which Projects they see; and network admins and superusers administer Offices.
            families |= PROJECTS | ADMIN;
        }
        if old.profile_name(before.profile) != new.profile_name(after.profile) {
            families |= PROJECTS | UNTARGETED;
        }
        if before.role != after.role {
            families |= PEOPLE | GROUPS | UNTARGETED;
        }
        if before.system_superuser != after.system_superuser {
            families |= ADMIN;
        }
        if old.ids(&before.groups, Side::group_id) != new.ids(&after.groups, Side::group_id) {
            // Group views and announcements, and Connections for person search.
            families |= GROUPS | PEOPLE;
        }
        if old.ids(&before.dm_partners, Side::user_id) != new.ids(&after.dm_partners, Side::user_id) {
            families |= PEOPLE;
        }
        if families != 0 {
            work.mark(id, families);
        }
    }
    if only.is_some() {
        return;
    }
    for (n, after) in new.policy.users.iter().enumerate() {
        if old.user_idx(&after.id).is_none() {
            person_changed(work, after.id.as_str(), None, Some(to_idx(n)));
        }
    }
}

/// Network defaults reach the users of the Network with that profile, and guests shared into
/// its Offices under that profile; thresholds reach the users whose role lies between the old
/// and the new minimum; the announcements switch reaches every user of the Network. A Network
/// that comes or goes changes `defaults.edit` for system superusers.
fn compare_networks<'a>(
    old: &Side<'a>,
    new: &Side<'a>,
    work: &mut Work<'a>,
    only: Option<BTreeSet<&'a str>>,
) {
    let profiles: BTreeSet<&'a str> =
        old.policy.profiles.names.iter().chain(&new.policy.profiles.names).map(String::as_str).collect();
    let ids: BTreeSet<&'a str> = only.unwrap_or_else(|| {
        old.policy.networks.iter().chain(&new.policy.networks).map(|network| network.id.as_str()).collect()
    });
    for id in ids {
        let o = old.policy.ids.networks.get(id).copied();
        let n = new.policy.ids.networks.get(id).copied();
        let (Some(o), Some(n)) = (o, n) else {
            for side in [old, new] {
                for &u in side.index.system_superusers.get(0) {
                    if let Some(user) = side.user_id(u) {
                        work.target(user, Kind::Network, id);
                    }
                }
            }
            continue;
        };
        let (Some(before), Some(after)) = (old.policy.network(o), new.policy.network(n)) else { continue };
        for &profile in &profiles {
            let (keys_before, keys_after) = (old.defaults(o, profile), new.defaults(n, profile));
            if keys_before == keys_after {
                continue;
            }
            let keys: BTreeSet<&'a str> = keys_before.symmetric_difference(&keys_after).copied().collect();
            for (side, network) in [(old, o), (new, n)] {
                for user in side.network_users_with_profile(network, profile) {
                    work.keys(user, &keys);
                }
                let in_network =
                    |office: Idx| side.policy.office(office).is_some_and(|o| o.network == network);
                for alien in side.aliens_with_profile(in_network, profile) {
                    work.keys(alien, &keys);
                }
            }
        }
        for (minimum_before, minimum_after) in before.thresholds.iter().zip(&after.thresholds) {
            if minimum_before == minimum_after {
                continue;
            }
            let band = (*minimum_before).min(*minimum_after)..(*minimum_before).max(*minimum_after);
            for (side, network) in [(old, o), (new, n)] {
                for &u in side.index.network_users.get(network) {
                    let Some(user) = side.policy.user(u) else { continue };
                    if band.contains(&user.role) {
                        work.mark(user.id.as_str(), PEOPLE | GROUPS | UNTARGETED);
                    }
                }
            }
        }
        if before.announcements != after.announcements {
            for (side, network) in [(old, o), (new, n)] {
                for user in side.users_of(&side.index.network_users, network) {
                    work.mark(user, GROUPS | UNTARGETED);
                }
            }
        }
    }
}

/// An override cell reaches the users whose home Office it is with that profile, and guests
/// shared into the Office under that profile. An Office that comes, goes or changes Network
/// changes the administrative permissions on it for the network admins and superusers of the
/// Networks involved. (Its users and Projects see the move in their own comparisons.)
fn compare_offices<'a>(old: &Side<'a>, new: &Side<'a>, work: &mut Work<'a>, only: Option<BTreeSet<&'a str>>) {
    let ids: BTreeSet<&'a str> = only.unwrap_or_else(|| {
        old.policy.offices.iter().chain(&new.policy.offices).map(|office| office.id.as_str()).collect()
    });
    for id in ids {
        let o = old.policy.ids.offices.get(id).copied();
        let n = new.policy.ids.offices.get(id).copied();
        let network = |side: &Side<'a>, office: Option<Idx>| {
            office.and_then(|office| side.policy.office(office)).map(|office| office.network)
        };
        let (network_before, network_after) = (network(old, o), network(new, n));
        if o.is_none()
            || n.is_none()
            || network_before.and_then(|x| old.network_id(x)) != network_after.and_then(|x| new.network_id(x))
        {
            for (side, network) in [(old, network_before), (new, network_after)] {
                let Some(network) = network else { continue };
                for user in side.users_of(&side.index.network_wide_users, network) {
                    work.target(user, Kind::Office, id);
                }
            }
        }
        let before = o.map(|o| old.overrides(o)).unwrap_or_default();
        let after = n.map(|n| new.overrides(n)).unwrap_or_default();
        if before == after {
            continue;
        }
        // Profile → the permissions whose cell differs.
        let mut changed: BTreeMap<&'a str, BTreeSet<&'a str>> = BTreeMap::new();
        for &(profile, key) in before.keys().chain(after.keys()) {
            if before.get(&(profile, key)) != after.get(&(profile, key)) {
                changed.entry(profile).or_default().insert(key);
            }
        }
        for (profile, keys) in changed {
            for (side, office) in [(old, o), (new, n)] {
                let Some(office) = office else { continue };
                for &u in side.index.office_users.get(office) {
                    let Some(user) = side.policy.user(u) else { continue };
                    if side.profile_name(user.profile) == profile {
                        work.keys(user.id.as_str(), &keys);
                    }
                }
                for alien in side.aliens_with_profile(|host| host == office, profile) {
                    work.keys(alien, &keys);
                }
            }
        }
    }
}

/// A Project that comes, goes or moves reaches everyone who could see it on either side; a
/// changed team reaches the members who joined or left.
fn compare_projects<'a>(old: &Side<'a>, new: &Side<'a>, work: &mut Work<'a>, only: Option<&BTreeSet<Idx>>) {
    // Old index → new index of users, Offices and Networks, once, so that teams compare without
    // hashing. An edit keeps every one of them where it was: then they map to themselves.
    let maps = only.is_none().then(|| {
        let users: Vec<Idx> = old
            .policy
            .users
            .iter()
            .enumerate()
            .map(|(u, user)| match new.policy.user(to_idx(u)) {
                Some(same) if same.id == user.id => to_idx(u),
                _ => new.user_idx(&user.id).unwrap_or(Idx::MAX),
            })
            .collect();
        let offices: Vec<Idx> = old
            .policy
            .offices
            .iter()
            .map(|office| new.policy.ids.offices.get(&office.id).copied().unwrap_or(Idx::MAX))
            .collect();
        let networks: Vec<Idx> = old
            .policy
            .networks
            .iter()
            .map(|network| new.policy.ids.networks.get(&network.id).copied().unwrap_or(Idx::MAX))
            .collect();
        [users, offices, networks]
    });
    let mapped = |which: usize, idx: Idx| match &maps {
        Some(maps) => maps.get(which).and_then(|map| map.get(idx as usize)).copied().unwrap_or(Idx::MAX),
        None => idx,
    };
    let (users, offices, networks) = (0, 1, 2);
    let olds: Box<dyn Iterator<Item = Idx>> = match only {
        None => Box::new((0..old.policy.projects.len()).map(to_idx)),
        Some(only) => Box::new(only.iter().copied().filter(|&p| (p as usize) < old.policy.projects.len())),
    };
    let mut team = Vec::new();
    for o in olds {
        let Some(before) = old.policy.project(o) else { continue };
        let id = before.id;
        // Organisations are mostly written in the same order: try the same place first.
        let after = match new.policy.project(o) {
            Some(after) if after.id == id => Some((o, after)),
            _ => new.policy.ids.projects.get(id).and_then(|n| Some((n, new.policy.project(n)?))),
        };
        let Some((n, after)) = after else {
            for viewer in old.project_viewers(o) {
                work.target(viewer, Kind::Project, id);
            }
            continue;
        };
        if mapped(offices, before.office) != after.office || mapped(networks, before.network) != after.network
        {
            for viewer in old.project_viewers(o).into_iter().chain(new.project_viewers(n)) {
                work.target(viewer, Kind::Project, id);
            }
            continue;
        }
        team.clear();
        team.extend(before.team.iter().map(|&u| mapped(users, u)));
        team.sort_unstable();
        if team == after.team {
            continue;
        }
        for &u in before.team {
            if after.team.binary_search(&mapped(users, u)).is_err() {
                if let Some(user) = old.user_id(u) {
                    work.target(user, Kind::Project, id);
                }
            }
        }
        for &u in after.team {
            if team.binary_search(&u).is_err() {
                if let Some(user) = new.user_id(u) {
                    work.target(user, Kind::Project, id);
                }
            }
        }
    }
    let news: Box<dyn Iterator<Item = Idx>> = match only {
        None => Box::new((0..new.policy.projects.len()).map(to_idx)),
        Some(only) => Box::new(only.iter().copied()),
    };
    for n in news {
        let Some(after) = new.policy.project(n) else { continue };
        if !old.policy.ids.projects.contains_key(after.id) {
            for viewer in new.project_viewers(n) {
                work.target(viewer, Kind::Project, after.id);
            }
        }
    }
}

/// What an Agreement does while it is active: who it shares, into which Office (and so
/// Network), under which profile. An expired one does nothing that allows. A change reaches
/// everyone it shares, on either side, and the people of the host Offices, who see them.
fn compare_agreements<'a>(old: &Side<'a>, new: &Side<'a>, work: &mut Work<'a>, only: Option<BTreeSet<&str>>) {
    type Effect<'a> = Option<(Option<&'a str>, Option<&'a str>, &'a str, Vec<&'a str>)>;
    let effect = |side: &Side<'a>, a: Option<Idx>| -> Effect<'a> {
        let a = a?;
        let agreement = side.policy.agreement(a).filter(|_| side.agreement_active(a))?;
        let host_network = side.policy.office(agreement.host_office).and_then(|o| side.network_id(o.network));
        Some((
            side.office_id(agreement.host_office),
            host_network,
            side.profile_name(agreement.profile),
            side.ids(side.index.agreement_users.get(a), Side::user_id),
        ))
    };
    let ids: BTreeSet<&'a str> = old
        .agreement_ids
        .keys()
        .chain(new.agreement_ids.keys())
        .copied()
        .filter(|id| only.as_ref().is_none_or(|only| only.contains(id)))
        .collect();
    for id in ids {
        let o = old.agreement_ids.get(id).copied();
        let n = new.agreement_ids.get(id).copied();
        if effect(old, o) == effect(new, n) {
            continue;
        }
        let mut shared: Vec<&'a str> = Vec::new();
        let mut hosts: Vec<&'a str> = Vec::new();
        for (side, a) in [(old, o), (new, n)] {
            let Some(a) = a else { continue };
            shared.extend(side.index.agreement_users.get(a).iter().filter_map(|&u| side.user_id(u)));
            if let Some(agreement) = side.policy.agreement(a) {
                hosts.extend(side.users_of(&side.index.office_users, agreement.host_office));
            }
        }
        for &guest in &shared {
            work.mark(guest, ALL);
        }
        for &host in &hosts {
            for &guest in &shared {
                work.target(host, Kind::Person, guest);
            }
        }
    }
}

/// A group's Network and members decide its views and announcements, for its members, and
/// Connections between its members.
fn compare_groups<'a>(old: &Side<'a>, new: &Side<'a>, work: &mut Work<'a>, only: Option<BTreeSet<&'a str>>) {
    let effect = |side: &Side<'a>, g: Option<Idx>| {
        let group = side.policy.group(g?)?;
        Some((side.network_id(group.network), side.ids(&group.members, Side::user_id)))
    };
    let ids: BTreeSet<&'a str> = only.unwrap_or_else(|| {
        old.policy.groups.iter().chain(&new.policy.groups).map(|group| group.id.as_str()).collect()
    });
    for id in ids {
        let before = effect(old, old.policy.ids.groups.get(id).copied());
        let after = effect(new, new.policy.ids.groups.get(id).copied());
        if before == after {
            continue;
        }
        let members: BTreeSet<&'a str> =
            before.into_iter().chain(after).flat_map(|(_, members)| members).collect();
        for &member in &members {
            work.target(member, Kind::Group, id);
            for &other in &members {
                work.target(member, Kind::Person, other);
            }
        }
    }
}

/// Replying in a direct message needs only being one of its participants.
fn compare_dms<'a>(old: &Side<'a>, new: &Side<'a>, work: &mut Work<'a>, only: Option<BTreeSet<&'a str>>) {
    let participants = |side: &Side<'a>, d: Option<Idx>| {
        let dm = side.policy.dms.get(d? as usize)?;
        Some(side.ids(&dm.participants, Side::user_id))
    };
    let ids: BTreeSet<&'a str> = only
        .unwrap_or_else(|| old.policy.dms.iter().chain(&new.policy.dms).map(|dm| dm.id.as_str()).collect());
    for id in ids {
        let before = participants(old, old.policy.ids.dms.get(id).copied());
        let after = participants(new, new.policy.ids.dms.get(id).copied());
        if before == after {
            continue;
        }
        for user in before.into_iter().chain(after).flatten() {
            work.target(user, Kind::Dm, id);
        }
    }
}

// ---- Asking ---------------------------------------------------------------------------------

/// Asks `user` what `recheck` says, on both sides, and keeps what differs.
///
/// With `first`, it stops at the first answer that differs (the impact then names that one
/// only): enough to know that the user changes.
fn evaluate<'a>(
    old: &Side<'a>,
    new: &Side<'a>,
    user: &'a str,
    recheck: &Recheck<'a>,
    first: bool,
) -> Option<UserImpact> {
    let sides = [(old, old.user_idx(user)), (new, new.user_idx(user))];
    // Inactive or unknown on both sides: denied everything on both.
    let active =
        |side: &Side<'a>, u: Option<Idx>| u.and_then(|u| side.policy.user(u)).is_some_and(|u| u.active);
    if !sides.iter().any(|&(side, u)| active(side, u)) {
        return None;
    }
    let families = recheck.families;
    if first {
        // The few questions the comparison named by target, before the families are gathered
        // (every person of a Network, every Project of an Office): often enough to tell.
        let mut probe = Probe::new(old.policy, new.policy, old.now, user, true);
        for group in &recheck.groups {
            probe.view(ResourceKind::Group, group);
            probe.can(RolePermission::AnnouncementGroup.key(), Target::group(*group));
        }
        for dm in &recheck.dms {
            probe.can(DM_REPLY, Target::dm(*dm));
        }
        if probe.found {
            return Some(UserImpact { user: user.to_owned(), gained: probe.gained, lost: probe.lost });
        }
        // Then the Projects they could see, one at a time rather than gathered first (a network
        // admin could see tens of thousands): an override or an access level changes the first
        // of them already.
        if recheck.needs_projects() {
            for &(side, u) in &sides {
                let Some(u) = u else { continue };
                for p in side.projects_of(u) {
                    let Some(project) = side.project_id(p) else { continue };
                    probe.project(project, families & PROJECTS != 0, &recheck.keys);
                    if probe.found {
                        return Some(UserImpact {
                            user: user.to_owned(),
                            gained: probe.gained,
                            lost: probe.lost,
                        });
                    }
                }
            }
        }
    }
    // Projects asked everything, and Projects asked only about `recheck.keys`.
    let mut projects = recheck.projects.clone();
    let mut seen: BTreeSet<&'a str> = BTreeSet::new();
    let mut people = recheck.people.clone();
    let mut groups = recheck.groups.clone();
    let mut dms = recheck.dms.clone();
    let mut offices = recheck.offices.clone();
    let mut networks = recheck.networks.clone();
    for (side, u) in sides {
        let Some(u) = u else { continue };
        let Some(entry) = side.policy.user(u) else { continue };
        // (Asked above already, when only whether something differs is asked.)
        if recheck.needs_projects() && !first {
            let ids = side.projects_of(u).filter_map(|p| side.project_id(p));
            if families & PROJECTS != 0 {
                projects.extend(ids);
            } else {
                seen.extend(ids);
            }
        }
        if families & PEOPLE != 0 {
            people.insert(entry.id.as_str());
            people.extend(side.users_of(&side.index.network_users, entry.network));
            for &a in &entry.shared_by {
                if let Some(agreement) = side.policy.agreement(a).filter(|_| side.agreement_active(a)) {
                    people.extend(side.users_of(&side.index.office_users, agreement.host_office));
                }
            }
            for &a in side.policy.office(entry.home_office).map_or(&[][..], |office| office.hosted.as_slice())
            {
                if side.agreement_active(a) {
                    people.extend(side.index.agreement_users.get(a).iter().filter_map(|&v| side.user_id(v)));
                }
            }
        }
        if families & GROUPS != 0 {
            groups.extend(entry.groups.iter().filter_map(|&g| side.group_id(g)));
        }
        if families & DMS != 0 {
            dms.extend(side.index.user_dms.get(u).iter().filter_map(|&d| side.dm_id(d)));
        }
        if families & ADMIN != 0 {
            offices.extend(
                side.index.network_offices.get(entry.network).iter().filter_map(|&o| side.office_id(o)),
            );
            if entry.system_superuser {
                networks.extend(side.policy.networks.iter().map(|network| network.id.as_str()));
            }
        }
    }

    let (old_policy, new_policy) = (old.policy, new.policy);
    let mut probe = Probe::new(old_policy, new_policy, old.now, user, first);
    for group in groups {
        probe.view(ResourceKind::Group, group);
        probe.can(RolePermission::AnnouncementGroup.key(), Target::group(group));
    }
    for dm in dms {
        probe.can(DM_REPLY, Target::dm(dm));
    }
    for office in offices {
        for permission in [
            AdminPermission::OfficeManage,
            AdminPermission::UserManage,
            AdminPermission::ProjectManage,
            AdminPermission::OverridesEdit,
        ] {
            probe.can(permission.key(), Target::office(office));
        }
    }
    for network in networks {
        probe.can(AdminPermission::DefaultsEdit.key(), Target::network(network));
    }
    if families & ADMIN != 0 {
        probe.can(AdminPermission::NetworkManage.key(), Target::none());
    }
    let untargeted: BTreeSet<&str> = if families & UNTARGETED != 0 {
        old_policy
            .permissions
            .names
            .iter()
            .chain(&new_policy.permissions.names)
            .map(String::as_str)
            .chain([
                RolePermission::GroupCreate.key(),
                RolePermission::PeopleSearchAll.key(),
                RolePermission::AnnouncementOrg.key(),
            ])
            .collect()
    } else {
        recheck.keys.clone()
    };
    for key in untargeted {
        if !PROJECT_PERMISSIONS.contains(&key) {
            probe.can(key, Target::none());
        }
    }
    // The many questions last: asked until the first difference, the few find it sooner.
    for &project in &projects {
        probe.project(project, true, &recheck.keys);
    }
    for project in seen.difference(&projects) {
        probe.project(project, false, &recheck.keys);
    }
    for person in people {
        probe.view(ResourceKind::Person, person);
        probe.can(RolePermission::DmStart.key(), Target::person(person));
        probe.can(PEOPLE_SEARCH, Target::person(person));
    }
    let Probe { mut gained, mut lost, .. } = probe;
    if gained.is_empty() && lost.is_empty() {
        return None;
    }
    gained.sort();
    lost.sort();
    Some(UserImpact { user: user.to_owned(), gained, lost })
}

/// Asks one user's questions on both sides and sorts the answers that differ.
struct Probe<'a> {
    old: &'a Policy,
    new: &'a Policy,
    now: Timestamp,
    user: &'a str,
    gained: Access,
    lost: Access,
    /// Stop at the first difference.
    first: bool,
    found: bool,
}

impl<'a> Probe<'a> {
    fn new(old: &'a Policy, new: &'a Policy, now: Timestamp, user: &'a str, first: bool) -> Probe<'a> {
        Probe { old, new, now, user, gained: Access::default(), lost: Access::default(), first, found: false }
    }

    /// Asks about `project` every question (`all`), or those of `keys` that act in a Project.
    fn project(&mut self, project: &str, all: bool, keys: &BTreeSet<&str>) {
        if all {
            self.view(ResourceKind::Project, project);
            self.view(ResourceKind::Report, project);
            self.view(ResourceKind::Finance, project);
            for key in PROJECT_PERMISSIONS {
                self.can(key, Target::project(project));
            }
            return;
        }
        for &key in keys {
            match key {
                "reports.view" => self.view(ResourceKind::Report, project),
                "finance.view" => self.view(ResourceKind::Finance, project),
                _ if PROJECT_PERMISSIONS.contains(&key) => self.can(key, Target::project(project)),
                _ => {}
            }
        }
    }

    /// Whether the answer differs, and if so, the set it goes into.
    fn ask(&mut self, query: &Query) -> Option<&mut Access> {
        if self.first && self.found {
            return None;
        }
        let before = self.old.allows(self.user, query, self.now);
        let after = self.new.allows(self.user, query, self.now);
        match (before, after) {
            (false, true) => {
                self.found = true;
                Some(&mut self.gained)
            }
            (true, false) => {
                self.found = true;
                Some(&mut self.lost)
            }
            _ => None,
        }
    }

    fn view(&mut self, kind: ResourceKind, id: &str) {
        let query = match kind {
            // A report or finance row is asked about by its Project; any row id will do.
            ResourceKind::Report | ResourceKind::Finance => Query::view_in(kind, id, id),
            _ => Query::view(kind, id),
        };
        let Some(access) = self.ask(&query) else { return };
        let list = match kind {
            ResourceKind::Project | ResourceKind::Task | ResourceKind::Document => &mut access.projects,
            ResourceKind::Report => &mut access.reports,
            ResourceKind::Finance => &mut access.finance,
            ResourceKind::Person => &mut access.people,
            ResourceKind::Group => &mut access.groups,
        };
        list.push(id.to_owned());
    }

    fn can(&mut self, permission: &str, target: Target) {
        let query = Query::can(permission, target);
        if let Some(access) = self.ask(&query) {
            access.permissions.push(query);
        }
    }
}

/// Sorts permissions by key, then by the kind and id of their target.
fn permission_key(query: &Query) -> (&str, &str, &str) {
    match query {
        Query::Can { permission, target } => {
            let (kind, id) = match target.single() {
                Ok(Some((kind, id))) => (kind.as_str(), id),
                _ => ("", ""),
            };
            (permission.as_str(), kind, id)
        }
        Query::View { id, .. } => ("", "", id.as_str()),
    }
}
