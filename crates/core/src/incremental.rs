//! Edits applied to a built organisation: [`Cutter::edit`] makes the next revision from this
//! one, with only what the edits touch new, says whose decisions differ ([`Edited::changed_users`])
//! and which rows changed ([`Edited::changes`]).
//!
//! Three steps:
//!
//! 1. **Apply.** Each edit is made by [`Edit::apply`] itself, on a small organisation holding
//!    copies of just the elements it reads (the user, the Project, the Office, …, and every
//!    Agreement for the edits of Agreements): so an edit means here exactly what it means on a
//!    whole organisation. What comes out differing from what went in is the draft.
//! 2. **Build.** The draft's elements are resolved as [`Policy::new`] resolves them (ids to
//!    indices, every check it makes of them), written into a clone of this revision (a pointer
//!    per chunk, `rows.rs`), and the lists that refer to them (a user's teams, groups and
//!    conversation partners; the cut's indices) updated. An element the edits left alone cannot
//!    become invalid except a conversation across the firewall when the Agreement it rests on
//!    ends, which is checked then; so when the draft's elements pass, the whole passes. When any
//!    check fails, or the draft changes a Network's defaults, or a permission key beyond the
//!    seven of the spec (either could intern a profile or key anew, and renumber those after
//!    it), the revision is built whole from the draft's organisation instead ([`Cutter::new`]):
//!    the same revision, or the same errors, as a build from scratch, at its cost.
//! 3. **Compare.** The impact analysis (`diff.rs`) compares only the touched elements, with the
//!    lists both revisions keep, at `now` and at each later Agreement expiry, and asks each user
//!    it finds until one answer differs: [`crate::changed_users`]'s answer, at a cost that grows
//!    with the change. A build made whole compares whole.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::clock::Timestamp;
use crate::diff::{Touched, changed_between};
use crate::edit::Edit;
use crate::ids::{IdMap, Idx};
use crate::model::{
    Agreement, DirectMessage, Group, KNOWN_PROFILE_PERMISSIONS, Network, Office, Org, Project, User,
};
use crate::policy::{DmEntry, GroupEntry, Policy, next_stamp};
use crate::rows::make_mut;
use crate::scope::{Cutter, Written, network_wide};
use crate::validate::ValidationErrors;

/// The next revision an edit makes ([`Cutter::edit`]), with what it changes.
#[derive(Debug, Clone)]
pub struct Edited {
    cutter: Cutter,
    changed_users: Vec<String>,
    changes: Changes,
    incremental: bool,
}

impl Edited {
    /// The next revision.
    pub fn cutter(&self) -> &Cutter {
        &self.cutter
    }

    /// The next revision, taken.
    pub fn into_cutter(self) -> Cutter {
        self.cutter
    }

    /// The users whose decisions differ between the two revisions at `now` or later, sorted:
    /// what [`crate::changed_users`] answers of their policies. Every other user decides every
    /// question alike in both, from `now` on.
    pub fn changed_users(&self) -> &[String] {
        &self.changed_users
    }

    /// The elements of the organisation the edits changed, added or removed, by id.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Whether the revision was built from the last one (`true`) or whole (`false`: an edit of
    /// a Network's defaults or of a custom permission key, or an invalid result); both hold the
    /// same.
    pub fn incremental(&self) -> bool {
        self.incremental
    }
}

/// The elements an edit changed, added or removed, by id, per kind, in the organisation's
/// order (those added last, and an Agreement removed where it was): the rows a store writes.
/// An id the new revision lacks (`Cutter::agreement` answers `None`) was removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Networks.
    pub networks: Vec<String>,
    /// Offices.
    pub offices: Vec<String>,
    /// Users (their own record: a team joined is the Project's change).
    pub users: Vec<String>,
    /// Projects.
    pub projects: Vec<String>,
    /// Agreements.
    pub agreements: Vec<String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Direct messages.
    pub direct_messages: Vec<String>,
}

impl Changes {
    /// Whether the edits changed nothing.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
            && self.offices.is_empty()
            && self.users.is_empty()
            && self.projects.is_empty()
            && self.agreements.is_empty()
            && self.groups.is_empty()
            && self.direct_messages.is_empty()
    }
}

impl Cutter {
    /// Applies `edits` in turn (as [`Edit::apply`] does to the organisation) and builds the
    /// next revision from this one, sharing what they leave alone; refuses exactly what
    /// [`Cutter::new`] of the edited organisation refuses, with the same errors. Its changed
    /// users are those whose decisions differ at `now` or later. See the module docs for which
    /// edits are built from this revision and which whole.
    ///
    /// It checks nothing of who may make the edits: ask [`Policy::authorize`] first.
    pub fn edit(&self, edits: &[Edit], now: Timestamp) -> Result<Edited, ValidationErrors> {
        let mut draft = Draft::new(self);
        for edit in edits {
            draft.apply(edit);
        }
        let changes = draft.changes();
        if changes.is_empty() {
            return Ok(Edited {
                cutter: self.clone(),
                changed_users: Vec::new(),
                changes,
                incremental: true,
            });
        }
        if let Some((cutter, touched)) = draft.build() {
            let changed_users = changed_between(
                (&self.policy, &self.index),
                (&cutter.policy, &cutter.index),
                now,
                Some(&touched),
            );
            return Ok(Edited { cutter, changed_users, changes, incremental: true });
        }
        let cutter = Cutter::new(draft.to_org())?;
        let changed_users =
            changed_between((&self.policy, &self.index), (&cutter.policy, &cutter.index), now, None);
        Ok(Edited { cutter, changed_users, changes, incremental: false })
    }
}

/// Copies of the elements the edits changed, and those they added, over a revision.
struct Draft<'a> {
    base: &'a Cutter,
    networks: BTreeMap<Idx, Network>,
    offices: BTreeMap<Idx, Office>,
    users: BTreeMap<Idx, User>,
    /// Changed and added, by the index each has (or takes).
    projects: BTreeMap<Idx, Project>,
    groups: BTreeMap<Idx, Group>,
    dms: BTreeMap<Idx, DirectMessage>,
    /// All of them, once an edit changed one.
    agreements: Option<Vec<Agreement>>,
    new_projects: HashMap<String, Idx>,
    new_groups: HashMap<String, Idx>,
    new_dms: HashMap<String, Idx>,
}

/// What one edit reads, by index (and every Agreement).
#[derive(Default)]
struct Reads {
    networks: Vec<Idx>,
    offices: Vec<Idx>,
    users: Vec<Idx>,
    projects: Vec<Idx>,
    groups: Vec<Idx>,
    dms: Vec<Idx>,
    agreements: bool,
}

fn to_idx(i: usize) -> Idx {
    Idx::try_from(i).unwrap_or(Idx::MAX)
}

impl<'a> Draft<'a> {
    fn new(base: &'a Cutter) -> Draft<'a> {
        Draft {
            base,
            networks: BTreeMap::new(),
            offices: BTreeMap::new(),
            users: BTreeMap::new(),
            projects: BTreeMap::new(),
            groups: BTreeMap::new(),
            dms: BTreeMap::new(),
            agreements: None,
            new_projects: HashMap::new(),
            new_groups: HashMap::new(),
            new_dms: HashMap::new(),
        }
    }

    fn ids(&self) -> &crate::policy::Ids {
        &self.base.policy.ids
    }

    fn user(&self, u: Idx) -> Option<User> {
        self.users.get(&u).or_else(|| self.base.org.users.get(u as usize)).cloned()
    }

    fn office(&self, o: Idx) -> Option<Office> {
        self.offices.get(&o).or_else(|| self.base.org.offices.get(o as usize)).cloned()
    }

    fn network(&self, n: Idx) -> Option<Network> {
        self.networks.get(&n).or_else(|| self.base.org.networks.get(n as usize)).cloned()
    }

    fn project(&self, p: Idx) -> Option<Project> {
        match self.projects.get(&p) {
            Some(project) => Some(project.clone()),
            None => self.base.project_row(p).map(|row| row.to_project()),
        }
    }

    fn group(&self, g: Idx) -> Option<Group> {
        self.groups.get(&g).or_else(|| self.base.org.groups.get(g as usize)).cloned()
    }

    fn dm(&self, d: Idx) -> Option<DirectMessage> {
        self.dms.get(&d).or_else(|| self.base.org.direct_messages.get(d as usize)).cloned()
    }

    fn agreements(&self) -> Vec<Agreement> {
        match &self.agreements {
            Some(agreements) => agreements.clone(),
            None => self.base.org.agreements.iter().cloned().collect(),
        }
    }

    fn project_idx(&self, id: &str) -> Option<Idx> {
        self.ids().projects.get(id).or_else(|| self.new_projects.get(id).copied())
    }

    fn group_idx(&self, id: &str) -> Option<Idx> {
        self.ids().groups.get(id).copied().or_else(|| self.new_groups.get(id).copied())
    }

    fn dm_idx(&self, id: &str) -> Option<Idx> {
        self.ids().dms.get(id).copied().or_else(|| self.new_dms.get(id).copied())
    }

    /// What `edit` reads: the elements [`Edit::apply`] looks up by the ids it names.
    fn reads(&self, edit: &Edit) -> Reads {
        let ids = self.ids();
        let user = |id: &str| ids.users.get(id).copied();
        let mut reads = Reads::default();
        match edit {
            Edit::ActivateUser { user: id }
            | Edit::DeactivateUser { user: id }
            | Edit::SetAccess { user: id, .. }
            | Edit::RaiseRole { user: id, .. }
            | Edit::LowerRole { user: id, .. }
            | Edit::MakeNetworkSuperuser { user: id }
            | Edit::RevokeNetworkSuperuser { user: id }
            | Edit::MakeSystemSuperuser { user: id }
            | Edit::RevokeSystemSuperuser { user: id }
            | Edit::AddAdditionalOffice { user: id, .. }
            | Edit::RemoveAdditionalOffice { user: id, .. } => reads.users.extend(user(id)),
            Edit::AddToTeam { project, .. } | Edit::RemoveFromTeam { project, .. } => {
                reads.projects.extend(self.project_idx(project));
            }
            Edit::AddToGroup { group, .. } | Edit::RemoveFromGroup { group, .. } => {
                reads.groups.extend(self.group_idx(group));
            }
            Edit::ShareWithOffice { .. } | Edit::EndAgreement { .. } => reads.agreements = true,
            Edit::OverrideOn { office, .. }
            | Edit::OverrideOff { office, .. }
            | Edit::ClearOverride { office, .. } => {
                reads.offices.extend(ids.offices.get(office).copied());
            }
            Edit::AnnouncementsOn { network }
            | Edit::AnnouncementsOff { network }
            | Edit::DefaultOn { network, .. }
            | Edit::DefaultOff { network, .. } => reads.networks.extend(ids.networks.get(network).copied()),
            Edit::CreateProject { project, creator, .. } => {
                reads.users.extend(user(creator));
                reads.projects.extend(self.project_idx(project));
            }
            Edit::CreateGroup { group, owner, .. } => {
                let owner = user(owner);
                reads.users.extend(owner);
                let home =
                    owner.and_then(|u| self.user(u)).and_then(|u| ids.offices.get(&u.home_office).copied());
                reads.offices.extend(home);
                reads.groups.extend(self.group_idx(group));
            }
            Edit::StartDm { dm, from, with } => {
                reads.users.extend(user(from));
                if with != from {
                    reads.users.extend(user(with));
                }
                reads.dms.extend(self.dm_idx(dm));
            }
        }
        reads
    }

    /// Makes `edit` with [`Edit::apply`] on a small organisation of what it reads, and keeps
    /// what comes out different.
    fn apply(&mut self, edit: &Edit) {
        let reads = self.reads(edit);
        let mut org = Org {
            networks: reads.networks.iter().filter_map(|&n| self.network(n)).collect(),
            offices: reads.offices.iter().filter_map(|&o| self.office(o)).collect(),
            users: reads.users.iter().filter_map(|&u| self.user(u)).collect(),
            projects: reads.projects.iter().filter_map(|&p| self.project(p)).collect(),
            agreements: if reads.agreements { self.agreements() } else { Vec::new() },
            groups: reads.groups.iter().filter_map(|&g| self.group(g)).collect(),
            direct_messages: reads.dms.iter().filter_map(|&d| self.dm(d)).collect(),
        };
        let before = org.clone();
        edit.apply(&mut org);
        if org == before {
            return;
        }
        write_back(&reads.networks, before.networks, org.networks, &mut self.networks);
        write_back(&reads.offices, before.offices, org.offices, &mut self.offices);
        write_back(&reads.users, before.users, org.users, &mut self.users);
        let (projects, groups, dms) = (self.next_projects(), self.next_groups(), self.next_dms());
        let added = write_back(&reads.projects, before.projects, org.projects, &mut self.projects);
        for (k, project) in added.into_iter().enumerate() {
            let p = to_idx(projects + k);
            self.new_projects.insert(project.id.clone(), p);
            self.projects.insert(p, project);
        }
        let added = write_back(&reads.groups, before.groups, org.groups, &mut self.groups);
        for (k, group) in added.into_iter().enumerate() {
            let g = to_idx(groups + k);
            self.new_groups.insert(group.id.clone(), g);
            self.groups.insert(g, group);
        }
        let added = write_back(&reads.dms, before.direct_messages, org.direct_messages, &mut self.dms);
        for (k, dm) in added.into_iter().enumerate() {
            let d = to_idx(dms + k);
            self.new_dms.insert(dm.id.clone(), d);
            self.dms.insert(d, dm);
        }
        if reads.agreements && org.agreements != before.agreements {
            self.agreements = Some(org.agreements);
        }
    }

    fn next_projects(&self) -> usize {
        self.base.org.projects.len() + self.new_projects.len()
    }

    fn next_groups(&self) -> usize {
        self.base.org.groups.len() + self.new_groups.len()
    }

    fn next_dms(&self) -> usize {
        self.base.org.direct_messages.len() + self.new_dms.len()
    }

    /// What changed, by id, in the organisation's order; an element changed back to what it was
    /// is no change.
    fn changes(&self) -> Changes {
        let base = &self.base.org;
        fn changed<T: PartialEq>(
            draft: &BTreeMap<Idx, T>,
            base: &crate::rows::Rows<T>,
            id: impl Fn(&T) -> &str,
        ) -> Vec<String> {
            draft
                .iter()
                .filter(|(i, element)| base.get(**i as usize) != Some(*element))
                .map(|(_, element)| id(element).to_owned())
                .collect()
        }
        let agreements = match &self.agreements {
            None => Vec::new(),
            Some(next) => {
                let before: Vec<&Agreement> = base.agreements.iter().collect();
                let mut ids: Vec<String> = before
                    .iter()
                    .filter(|a| !next.contains(a))
                    .map(|a| a.id.clone())
                    .chain(next.iter().filter(|a| !before.contains(a)).map(|a| a.id.clone()))
                    .collect();
                ids.dedup();
                ids
            }
        };
        Changes {
            networks: changed(&self.networks, &base.networks, |n| &n.id),
            offices: changed(&self.offices, &base.offices, |o| &o.id),
            users: changed(&self.users, &base.users, |u| &u.id),
            projects: self
                .projects
                .iter()
                .filter(|(p, project)| {
                    self.base.project_row(**p).map(|row| row.to_project()).as_ref() != Some(*project)
                })
                .map(|(_, project)| project.id.clone())
                .collect(),
            agreements,
            groups: changed(&self.groups, &base.groups, |g| &g.id),
            direct_messages: changed(&self.dms, &base.direct_messages, |d| &d.id),
        }
    }

    /// The whole edited organisation.
    fn to_org(&self) -> Org {
        let base = &self.base.org;
        fn merged<T: Clone>(base: &crate::rows::Rows<T>, draft: &BTreeMap<Idx, T>) -> Vec<T> {
            overlaid(base.iter().cloned().collect(), draft)
        }
        fn overlaid<T: Clone>(mut all: Vec<T>, draft: &BTreeMap<Idx, T>) -> Vec<T> {
            for (&i, element) in draft {
                match all.get_mut(i as usize) {
                    Some(slot) => *slot = element.clone(),
                    None => all.push(element.clone()),
                }
            }
            all
        }
        Org {
            networks: merged(&base.networks, &self.networks),
            offices: merged(&base.offices, &self.offices),
            users: merged(&base.users, &self.users),
            projects: overlaid(self.base.projects().map(|row| row.to_project()).collect(), &self.projects),
            agreements: self.agreements(),
            groups: merged(&base.groups, &self.groups),
            direct_messages: merged(&base.direct_messages, &self.dms),
        }
    }

    /// The next revision built from this one, with what it touched; `None` when it must be
    /// built whole (see the module docs).
    fn build(&self) -> Option<(Cutter, Touched)> {
        let base = self.base;
        let mut next = base.clone();
        next.policy.stamp = next_stamp();
        let mut touched = Touched::default();
        let Cutter { org, policy, index } = &mut next;
        if let Some(agreements) = &self.agreements {
            build_agreements(base, agreements, org, policy, index, &mut touched)?;
        }

        for (&n, network) in &self.networks {
            let before = base.org.networks.get(n as usize)?;
            if before.defaults != network.defaults || before.messaging != network.messaging {
                return None;
            }
            policy.networks.get_mut(n as usize)?.announcements = network.features.announcements;
            *org.networks.get_mut(n as usize)? = network.clone();
            touched.networks.insert(n);
        }

        for (&o, office) in &self.offices {
            let before = base.org.offices.get(o as usize)?;
            if before.network != office.network || before.name != office.name || before.id != office.id {
                return None;
            }
            let overrides = resolve_overrides(policy, office, before)?;
            policy.offices.get_mut(o as usize)?.overrides = overrides;
            *org.offices.get_mut(o as usize)? = office.clone();
            touched.offices.insert(o);
        }

        for (&u, user) in &self.users {
            let before = base.org.users.get(u as usize)?;
            if before.id != user.id
                || before.name != user.name
                || before.home_office != user.home_office
                || before.profile != user.profile
            {
                return None;
            }
            let entry = policy.users.get(u as usize)?;
            let additional = resolve(&user.additional_offices, &policy.ids.offices)?;
            if additional.iter().any(|&o| policy.office_networks.get(o as usize) != Some(&entry.network)) {
                return None;
            }
            let was = entry.clone();
            let entry = policy.users.get_mut(u as usize)?;
            entry.additional_offices = additional;
            entry.access = user.access;
            entry.role = user.role;
            entry.system_superuser = user.system_superuser;
            entry.network_superuser = user.network_superuser;
            entry.active = user.active;
            let now = entry.clone();
            if network_wide(&was) != network_wide(&now) {
                match network_wide(&now) {
                    true => index.network_wide_users.insert(now.network, u),
                    false => index.network_wide_users.remove(now.network, u),
                }
            }
            let linked = |entry: &crate::policy::UserEntry| -> Vec<Idx> {
                if entry.access != crate::model::AccessLevel::AllInOffice {
                    return Vec::new();
                }
                std::iter::once(entry.home_office).chain(entry.additional_offices.iter().copied()).collect()
            };
            for o in linked(&was) {
                index.office_linked_users.remove(o, u);
            }
            for o in linked(&now) {
                index.office_linked_users.insert(o, u);
            }
            match now.system_superuser {
                true => index.system_superusers.insert(0, u),
                false => index.system_superusers.remove(0, u),
            }
            *org.users.get_mut(u as usize)? = user.clone();
            touched.users.insert(u);
        }

        for (&p, project) in &self.projects {
            if project.id.is_empty() {
                return None;
            }
            let office = *policy.ids.offices.get(&project.office)?;
            let team = resolve(&project.team, &policy.ids.users)?;
            if let Some(creator) = &project.created_by {
                let creator = policy.ids.users.get(creator)?;
                team.binary_search(creator).ok()?;
            }
            let (old_team, new) = match base.project_row(p) {
                Some(before) => {
                    if before.office() != project.office
                        || before.name() != project.name
                        || before.id() != project.id
                    {
                        return None;
                    }
                    let old_team = policy.projects.team(p as usize)?.to_vec();
                    policy.projects.set_team(p as usize, &team);
                    *org.projects.get_mut(p as usize)? = Written::of(policy, project, &team);
                    (old_team, false)
                }
                None => {
                    if policy.ids.projects.push(&project.id)? != p || policy.projects.len() != p as usize {
                        return None;
                    }
                    policy.projects.push(&project.name, office, &team);
                    org.projects.push(Written::of(policy, project, &team));
                    (Vec::new(), true)
                }
            };
            if new {
                let network = *policy.office_networks.get(office as usize)?;
                index.office_projects.insert(office, p);
                index.network_projects.insert(network, p);
            }
            for &u in old_team.iter().filter(|u| team.binary_search(u).is_err()) {
                let list = &mut policy.users.get_mut(u as usize)?.projects;
                if let Ok(at) = list.binary_search(&p) {
                    list.remove(at);
                }
            }
            for &u in team.iter().filter(|u| old_team.binary_search(u).is_err()) {
                let list = &mut policy.users.get_mut(u as usize)?.projects;
                if let Err(at) = list.binary_search(&p) {
                    list.insert(at, p);
                }
            }
            touched.projects.insert(p);
        }

        for (&g, group) in &self.groups {
            if group.id.is_empty() {
                return None;
            }
            let network = *policy.ids.networks.get(&group.network)?;
            let members = resolve(&group.members, &policy.ids.users)?;
            let owners = resolve(&group.owners, &policy.ids.users)?;
            if owners.iter().any(|owner| members.binary_search(owner).is_err()) {
                return None;
            }
            for &member in &members {
                if policy.users.get(member as usize)?.network != network {
                    return None;
                }
            }
            let old_members = match base.org.groups.get(g as usize) {
                Some(before) => {
                    if before.network != group.network || before.id != group.id {
                        return None;
                    }
                    let entry = policy.groups.get_mut(g as usize)?;
                    let old_members = std::mem::replace(&mut entry.members, members.clone());
                    *org.groups.get_mut(g as usize)? = group.clone();
                    old_members
                }
                None => {
                    if policy.groups.len() != g as usize || policy.ids.groups.contains_key(&group.id) {
                        return None;
                    }
                    make_mut(&mut policy.ids.groups).insert(group.id.clone(), g);
                    policy.groups.push(GroupEntry {
                        id: group.id.clone(),
                        network,
                        members: members.clone(),
                    });
                    org.groups.push(group.clone());
                    index.network_groups.insert(network, g);
                    Vec::new()
                }
            };
            for &u in old_members.iter().filter(|u| members.binary_search(u).is_err()) {
                let list = &mut policy.users.get_mut(u as usize)?.groups;
                if let Ok(at) = list.binary_search(&g) {
                    list.remove(at);
                }
                touched.users.insert(u);
            }
            for &u in members.iter().filter(|u| old_members.binary_search(u).is_err()) {
                let list = &mut policy.users.get_mut(u as usize)?.groups;
                if let Err(at) = list.binary_search(&g) {
                    list.insert(at, g);
                }
                touched.users.insert(u);
            }
            touched.groups.insert(g);
        }

        for (&d, dm) in &self.dms {
            // No edit changes a conversation: only new ones come here.
            if base.org.direct_messages.get(d as usize).is_some()
                || dm.id.is_empty()
                || policy.dms.len() != d as usize
                || policy.ids.dms.contains_key(&dm.id)
            {
                return None;
            }
            let participants = resolve(&dm.participants, &policy.ids.users)?;
            let [first, second] = <[Idx; 2]>::try_from(participants.as_slice()).ok()?;
            if !dm.participants.contains(&dm.started_by) {
                return None;
            }
            let (a, b) = (policy.users.get(first as usize)?, policy.users.get(second as usize)?);
            if a.network != b.network && !linked(policy, a, b) && !linked(policy, b, a) {
                return None;
            }
            make_mut(&mut policy.ids.dms).insert(dm.id.clone(), d);
            policy.dms.push(DmEntry { id: dm.id.clone(), participants: [first, second] });
            org.direct_messages.push(dm.clone());
            for (u, partner) in [(first, second), (second, first)] {
                let list = &mut policy.users.get_mut(u as usize)?.dm_partners;
                if let Err(at) = list.binary_search(&partner) {
                    list.insert(at, partner);
                }
                index.user_dms.insert(u, d);
                touched.users.insert(u);
            }
            touched.dms.insert(d);
        }
        Some((next, touched))
    }
}

/// The Agreements `agreements` (those of `base` less the ended, then the new ones) written into
/// the next revision: the ones after an ended one renumbered wherever they are named (a user's
/// `shared_by`, an Office's `hosted`, the users each shares), the new ones resolved and checked
/// as [`Policy::new`] does; `None` where it would refuse the result (a new Agreement amiss, or
/// a conversation across the firewall that rested on an ended one).
fn build_agreements(
    base: &Cutter,
    agreements: &[Agreement],
    org: &mut crate::scope::OrgRows,
    policy: &mut Policy,
    index: &mut crate::scope::Index,
    touched: &mut Touched,
) -> Option<()> {
    let before: Vec<&Agreement> = base.org.agreements.iter().collect();
    // Old index → new index, `None` for an ended one; kept ones unchanged and in order.
    let mut map: Vec<Option<Idx>> = Vec::with_capacity(before.len());
    let mut kept = 0_usize;
    for agreement in &before {
        match agreements.get(kept) {
            Some(next) if next.id == agreement.id => {
                if next != *agreement {
                    return None;
                }
                map.push(Some(to_idx(kept)));
                kept += 1;
            }
            _ => {
                if agreements.iter().any(|next| next.id == agreement.id) {
                    return None;
                }
                map.push(None);
            }
        }
    }
    let added = agreements.get(kept..)?;
    let renumber = |a: Idx| map.get(a as usize).copied().flatten();
    let first_moved = map.iter().enumerate().find(|(a, to)| **to != Some(to_idx(*a))).map(|(a, _)| a);

    // Who and what name the Agreements that end or move.
    let mut entries: Vec<crate::policy::AgreementEntry> = policy
        .agreements
        .iter()
        .zip(&map)
        .filter(|(_, to)| to.is_some())
        .map(|(entry, _)| entry.clone())
        .collect();
    let mut shared: Vec<Vec<Idx>> = (0..before.len())
        .filter(|&a| renumber(to_idx(a)).is_some())
        .map(|a| index.agreement_users.get(to_idx(a)).to_vec())
        .collect();
    let mut ended_users: BTreeSet<Idx> = BTreeSet::new();
    if let Some(first) = first_moved {
        let mut users: BTreeSet<Idx> = BTreeSet::new();
        let mut offices: BTreeSet<Idx> = BTreeSet::new();
        for a in first..before.len() {
            let a = to_idx(a);
            users.extend(index.agreement_users.get(a));
            offices.extend(policy.agreement(a).map(|entry| entry.host_office));
            if renumber(a).is_none() {
                ended_users.extend(index.agreement_users.get(a));
                touched.agreements.insert(before.get(a as usize)?.id.clone());
            }
        }
        for u in users {
            let entry = policy.users.get_mut(u as usize)?;
            entry.shared_by = entry.shared_by.iter().filter_map(|&a| renumber(a)).collect();
            touched.users.insert(u);
        }
        for o in offices {
            let entry = policy.offices.get_mut(o as usize)?;
            entry.hosted = entry.hosted.iter().filter_map(|&a| renumber(a)).collect();
        }
    }

    // The new ones.
    for agreement in added {
        let a = to_idx(entries.len());
        if agreement.id.is_empty() || entries.iter().any(|entry| entry.id == agreement.id) {
            return None;
        }
        let host_office = *policy.ids.offices.get(&agreement.host_office)?;
        let guest_office = *policy.ids.offices.get(&agreement.guest_office)?;
        let host_network = *policy.office_networks.get(host_office as usize)?;
        if host_network == *policy.office_networks.get(guest_office as usize)? {
            return None;
        }
        let profile = policy.profiles.get(&agreement.profile)?;
        if !policy.network(host_network)?.defaults.knows(profile) {
            return None;
        }
        let users = match &agreement.users {
            Some(list) => resolve(list, &policy.ids.users)?,
            None => index.office_users.get(guest_office).to_vec(),
        };
        for &u in &users {
            let entry = policy.users.get_mut(u as usize)?;
            if entry.home_office != guest_office {
                return None;
            }
            entry.shared_by.push(a);
            touched.users.insert(u);
        }
        policy.offices.get_mut(host_office as usize)?.hosted.push(a);
        entries.push(crate::policy::AgreementEntry {
            id: agreement.id.clone(),
            host_office,
            guest_office,
            profile,
            expires_at: agreement.expires_at,
        });
        shared.push(users);
        touched.agreements.insert(agreement.id.clone());
    }

    policy.agreements = entries.into_iter().collect();
    index.agreement_users = crate::rows::Lists::new(
        shared.len(),
        shared.iter().enumerate().flat_map(|(a, users)| users.iter().map(move |&u| (to_idx(a), u))),
    );
    org.agreements = agreements.iter().cloned().collect();

    // A conversation across the firewall must still rest on an Agreement (in force or not).
    for &u in &ended_users {
        for &d in index.user_dms.get(u) {
            let [first, second] = policy.dms.get(d as usize)?.participants;
            let (a, b) = (policy.users.get(first as usize)?, policy.users.get(second as usize)?);
            if a.network != b.network && !linked(policy, a, b) && !linked(policy, b, a) {
                return None;
            }
        }
    }
    Some(())
}

/// Writes the elements of `after` that differ from `before` (the copies of `indices`) into
/// `into`, and answers those beyond them: the ones the edit added.
fn write_back<T: PartialEq>(
    indices: &[Idx],
    before: Vec<T>,
    after: Vec<T>,
    into: &mut BTreeMap<Idx, T>,
) -> Vec<T> {
    let mut after = after.into_iter();
    for (&i, before) in indices.iter().zip(before) {
        let Some(element) = after.next() else { break };
        if element != before {
            into.insert(i, element);
        }
    }
    after.collect()
}

/// A list of ids as [`Policy::new`] resolves it, sorted; `None` where it would refuse it (an
/// id unknown or repeated).
fn resolve(list: &[String], map: &IdMap) -> Option<Vec<Idx>> {
    let mut resolved = list.iter().map(|id| map.get(id).copied()).collect::<Option<Vec<Idx>>>()?;
    resolved.sort_unstable();
    let before = resolved.len();
    resolved.dedup();
    (resolved.len() == before).then_some(resolved)
}

/// An Office's overrides as [`Policy::new`] resolves them; `None` where it would refuse them, or
/// where a cell that changed names a key beyond the seven of the spec (whose interning could
/// renumber the others: built whole).
fn resolve_overrides(policy: &Policy, office: &Office, before: &Office) -> Option<Vec<(Idx, Idx, bool)>> {
    let cells = |office: &Office| -> BTreeSet<(String, String, bool)> {
        office
            .overrides
            .iter()
            .flat_map(|(profile, switches)| {
                switches.iter().map(move |(key, &on)| (profile.clone(), key.clone(), on))
            })
            .collect()
    };
    let (old, new) = (cells(before), cells(office));
    if old.symmetric_difference(&new).any(|(_, key, _)| !KNOWN_PROFILE_PERMISSIONS.contains(&key.as_str())) {
        return None;
    }
    let network = policy.ids.networks.get(&office.network).copied()?;
    let knows = |profile: Idx| policy.network(network).is_some_and(|n| n.defaults.knows(profile));
    let mut overrides = Vec::new();
    for (profile, switches) in &office.overrides {
        let profile = policy.profiles.get(profile).filter(|&p| knows(p))?;
        for (key, &on) in switches {
            overrides.push((profile, policy.permissions.get(key)?, on));
        }
    }
    overrides.sort_unstable();
    Some(overrides)
}

/// Whether an Agreement (in force or not) shares `guest` into `host`'s home Office: what lets a
/// conversation cross the firewall.
fn linked(policy: &Policy, guest: &crate::policy::UserEntry, host: &crate::policy::UserEntry) -> bool {
    guest.shared_by.iter().any(|&a| policy.agreement(a).is_some_and(|a| a.host_office == host.home_office))
}
