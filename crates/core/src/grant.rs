//! "What would grant": for a denial, the smallest concrete edits of the organisation that
//! would allow it.
//!
//! [`Policy::grants`] walks the rules a query must pass, in the evaluator's order, and for each
//! one that fails lists the edits that would pass it: add the user to the team, switch an
//! Office's override on, raise their role, switch announcements on, make them a group member,
//! share them with an Office by a new Agreement, and a few broader ones. A suggestion is one way
//! through every rule at once; the narrowest come first, and there are at most
//! [`MAX_GRANTS`].
//!
//! Every [`Edit`] (`edit.rs`) is a value that applies to an [`Org`] ([`Edit::apply`]). The
//! property test `every_grant_grants` applies each suggestion to the organisation and asks the
//! evaluator again: the planner never decides anything itself that the evaluator does not
//! confirm.
//!
//! Suggestions are computed from what the policy holds. On a scoped snapshot that is less
//! than the whole organisation, so a suggestion may be broader than needed (an override where
//! another profile would already do), never wrong for the user in scope.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::edit::Edit;
use crate::ids::Idx;
use crate::model::{AccessLevel, Org, PROJECT_PERMISSIONS, Role};
use crate::permission::{AdminPermission, DM_REPLY, PEOPLE_SEARCH, RolePermission};
use crate::policy::{Policy, UserEntry};
use crate::query::{Query, ResourceKind, Target, TargetKind};

/// The most suggestions [`Policy::grants`] makes.
pub const MAX_GRANTS: usize = 5;

/// One way to allow a denied query: edits that, applied together, allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The edits, in the order the rules need them.
    pub edits: Vec<Edit>,
}

impl Grant {
    /// Applies every edit to `org`.
    pub fn apply(&self, org: &mut Org) {
        for edit in &self.edits {
            edit.apply(org);
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, edit) in self.edits.iter().enumerate() {
            if i > 0 {
                f.write_str(", and ")?;
            }
            write!(f, "{edit}")?;
        }
        Ok(())
    }
}

impl Policy {
    /// For a denial of `query` to `user` at `now`, the smallest edits of the organisation that
    /// would allow it: at most [`MAX_GRANTS`], fewest edits and narrowest reach first. Empty
    /// when it is allowed, or when no edit of the kinds in [`Edit`] would allow it (an unknown
    /// user or resource, a malformed query, a group or an Office behind the firewall).
    pub fn grants(&self, user: &str, query: &Query, now: Timestamp) -> Vec<Grant> {
        if self.allows(user, query, now) {
            return Vec::new();
        }
        let Some(&u) = self.ids.users.get(user) else { return Vec::new() };
        let Some(entry) = self.user(u) else { return Vec::new() };
        let planner = Planner { policy: self, now, u, user: entry };
        let Some(mut rules) = planner.rules(query) else { return Vec::new() };
        if !entry.active {
            rules.insert(0, vec![vec![Edit::ActivateUser { user: entry.id.clone() }]]);
        }
        suggestions(rules)
    }
}

/// One rule a query must pass: the ways to pass it. An empty way means it passes already.
type Rule = Vec<Vec<Edit>>;

/// The ways through every rule at once, fewest edits and narrowest reach first.
fn suggestions(rules: Vec<Rule>) -> Vec<Grant> {
    let mut ways: Vec<Vec<Edit>> = vec![Vec::new()];
    for rule in rules {
        if rule.iter().any(Vec::is_empty) {
            continue;
        }
        let mut next = Vec::with_capacity(ways.len() * rule.len());
        for way in &ways {
            for option in &rule {
                let mut combined = way.clone();
                for edit in option {
                    merge(&mut combined, edit);
                }
                next.push(combined);
            }
        }
        // Keep the search small: only the narrowest partial ways can end among the first few.
        next.sort_by_key(|way| cost(way));
        next.truncate(MAX_GRANTS * 8);
        ways = next;
    }
    let mut grants: Vec<Grant> = Vec::new();
    ways.sort_by_key(|way| cost(way));
    for edits in ways {
        if edits.is_empty() || grants.iter().any(|grant| grant.edits == edits) {
            continue;
        }
        grants.push(Grant { edits });
        if grants.len() == MAX_GRANTS {
            break;
        }
    }
    grants
}

/// Adds `edit` to `way` unless it is there; two raises of one user's role keep the higher.
fn merge(way: &mut Vec<Edit>, edit: &Edit) {
    if let Edit::RaiseRole { user, role } = edit {
        for existing in way.iter_mut() {
            if let Edit::RaiseRole { user: other, role: existing_role } = existing {
                if other == user {
                    *existing_role = (*existing_role).max(*role);
                    return;
                }
            }
        }
    }
    if !way.contains(edit) {
        way.push(edit.clone());
    }
}

fn cost(way: &[Edit]) -> (usize, u32) {
    (way.len(), way.iter().map(Edit::reach).sum())
}

/// How the user would act in a Project once they see it.
enum Context {
    /// As themself.
    Own,
    /// Under the active Agreements that share them into the Project's Office.
    Alien(Vec<Idx>),
    /// Under an Agreement yet to be made, into this Office.
    NewAgreement(Idx),
}

struct Planner<'a> {
    policy: &'a Policy,
    now: Timestamp,
    u: Idx,
    user: &'a UserEntry,
}

impl Planner<'_> {
    /// The rules `query` must pass, with the ways to pass each; `None` when no edit would do.
    fn rules(&self, query: &Query) -> Option<Vec<Rule>> {
        match query {
            Query::View { kind, id, project } => self.view(*kind, id, project.as_deref()),
            Query::Can { permission, target } => self.can(permission, target),
        }
    }

    fn view(&self, kind: ResourceKind, id: &str, project: Option<&str>) -> Option<Vec<Rule>> {
        let policy = self.policy;
        if kind.in_project() {
            let p = policy.ids.projects.get(project?)?;
            let key = match kind {
                ResourceKind::Report => Some(policy.permissions.get("reports.view")?),
                ResourceKind::Finance => Some(policy.permissions.get("finance.view")?),
                _ => None,
            };
            return Some(vec![self.project_ways(p, key)]);
        }
        if project.is_some() {
            return None;
        }
        match kind {
            ResourceKind::Project => {
                let p = policy.ids.projects.get(id)?;
                Some(vec![self.project_ways(p, None)])
            }
            ResourceKind::Person => {
                let v = *policy.ids.users.get(id)?;
                Some(self.person_rules(v))
            }
            ResourceKind::Group => {
                let g = *policy.ids.groups.get(id)?;
                if policy.group(g)?.network != self.user.network {
                    return None;
                }
                Some(vec![self.membership(g)?])
            }
            ResourceKind::Task | ResourceKind::Document | ResourceKind::Report | ResourceKind::Finance => {
                None
            }
        }
    }

    fn can(&self, permission: &str, target: &Target) -> Option<Vec<Rule>> {
        let policy = self.policy;
        let target = target.single().ok()?;
        let expect = |kind: TargetKind| match target {
            Some((given, id)) if given == kind => Some(id),
            _ => None,
        };
        if let Some(role_permission) = RolePermission::from_key(permission) {
            return match role_permission {
                RolePermission::GroupCreate | RolePermission::PeopleSearchAll => {
                    target.is_none().then(|| vec![self.role(self.user.network, role_permission)])
                }
                RolePermission::AnnouncementOrg => target.is_none().then(|| {
                    vec![self.feature(self.user.network), self.role(self.user.network, role_permission)]
                }),
                RolePermission::AnnouncementGroup => {
                    let g = *policy.ids.groups.get(expect(TargetKind::Group)?)?;
                    let group = policy.group(g)?;
                    if group.network != self.user.network {
                        return None;
                    }
                    Some(vec![
                        self.feature(group.network),
                        self.membership(g)?,
                        self.role(group.network, role_permission),
                    ])
                }
                RolePermission::DmStart => {
                    let v = *policy.ids.users.get(expect(TargetKind::Person)?)?;
                    if v == self.u {
                        return None;
                    }
                    let mut rules = self.person_rules(v);
                    rules.push(self.role(self.user.network, role_permission));
                    Some(rules)
                }
            };
        }
        if permission == DM_REPLY {
            // Only a participant may reply, and no edit of ours makes one.
            let d = *policy.ids.dms.get(expect(TargetKind::Dm)?)?;
            let dm = policy.dms.get(d as usize)?;
            return dm.participants.contains(&self.u).then(Vec::new);
        }
        if permission == PEOPLE_SEARCH {
            let v = *policy.ids.users.get(expect(TargetKind::Person)?)?;
            let mut rules = self.person_rules(v);
            if v != self.u {
                rules.push(self.search(v));
            }
            return Some(rules);
        }
        if let Some(admin_permission) = AdminPermission::from_key(permission) {
            let system = if self.user.system_superuser {
                vec![vec![Vec::new()]]
            } else {
                vec![vec![vec![Edit::MakeSystemSuperuser { user: self.user.id.clone() }]]]
            };
            return match admin_permission {
                AdminPermission::NetworkManage => target.is_none().then_some(system),
                AdminPermission::DefaultsEdit => {
                    policy.ids.networks.get(expect(TargetKind::Network)?)?;
                    Some(system)
                }
                AdminPermission::OfficeManage
                | AdminPermission::UserManage
                | AdminPermission::ProjectManage
                | AdminPermission::OverridesEdit => {
                    let o = *policy.ids.offices.get(expect(TargetKind::Office)?)?;
                    if policy.office(o)?.network != self.user.network {
                        return None;
                    }
                    if self.user.access == AccessLevel::NetworkAdmin || self.user.network_superuser {
                        return Some(vec![vec![Vec::new()]]);
                    }
                    Some(vec![vec![
                        vec![Edit::SetAccess {
                            user: self.user.id.clone(),
                            access: AccessLevel::NetworkAdmin,
                        }],
                        vec![Edit::MakeNetworkSuperuser { user: self.user.id.clone() }],
                    ]])
                }
            };
        }
        let key = policy.permissions.get(permission)?;
        if PROJECT_PERMISSIONS.contains(&permission) {
            let p = policy.ids.projects.get(expect(TargetKind::Project)?)?;
            return Some(vec![self.project_ways(p, Some(key))]);
        }
        if target.is_some() {
            return None;
        }
        Some(vec![self.profile_ways(&Context::Own, key)])
    }

    // ---- Projects -------------------------------------------------------------------------

    /// The ways to see Project `p` and, with `key`, to hold that profile permission there.
    fn project_ways(&self, p: Idx, key: Option<Idx>) -> Rule {
        let mut ways = Rule::new();
        for (edits, context) in self.visibility_ways(p) {
            let permission_ways = match (&context, key) {
                (Context::NewAgreement(office), _) => self.new_agreement_ways(*office, key),
                (_, None) => vec![Vec::new()],
                (context, Some(key)) => self.profile_ways(context, key),
            };
            for more in permission_ways {
                let mut way = edits.clone();
                for edit in &more {
                    merge(&mut way, edit);
                }
                ways.push(way);
            }
        }
        ways
    }

    /// Spec §3's rules for a Project, and the ways to pass them, each with the context the
    /// user would then act in.
    fn visibility_ways(&self, p: Idx) -> Vec<(Vec<Edit>, Context)> {
        let (policy, user) = (self.policy, self.user);
        let Some(project) = policy.project(p) else { return Vec::new() };
        let on_team = project.team.binary_search(&self.u).is_ok();
        let add_to_team = || Edit::AddToTeam { user: user.id.clone(), project: project.id.to_owned() };
        if user.network != project.network {
            // Across the firewall: an active Agreement into the Project's Office, and the team.
            let team = if on_team { Vec::new() } else { vec![add_to_team()] };
            let active: Vec<Idx> = user
                .shared_by
                .iter()
                .copied()
                .filter(|&a| {
                    policy
                        .agreement(a)
                        .is_some_and(|a| a.host_office == project.office && a.active_at(self.now))
                })
                .collect();
            let context = if active.is_empty() {
                Context::NewAgreement(project.office)
            } else {
                Context::Alien(active)
            };
            return vec![(team, context)];
        }
        let linked = user.home_office == project.office
            || user.additional_offices.binary_search(&project.office).is_ok();
        let visible = on_team
            || user.access == AccessLevel::NetworkAdmin
            || user.network_superuser
            || (user.access == AccessLevel::AllInOffice && linked);
        if visible {
            return vec![(Vec::new(), Context::Own)];
        }
        let mut ways = vec![(vec![add_to_team()], Context::Own)];
        match user.access {
            AccessLevel::AllInOffice => ways.push((
                vec![Edit::AddAdditionalOffice {
                    user: user.id.clone(),
                    office: policy.office_id(project.office),
                }],
                Context::Own,
            )),
            AccessLevel::InviteOnly if linked => ways.push((
                vec![Edit::SetAccess { user: user.id.clone(), access: AccessLevel::AllInOffice }],
                Context::Own,
            )),
            AccessLevel::InviteOnly | AccessLevel::NetworkAdmin => {}
        }
        ways.push((
            vec![Edit::SetAccess { user: user.id.clone(), access: AccessLevel::NetworkAdmin }],
            Context::Own,
        ));
        ways
    }

    /// The ways to hold profile permission `key` in `context` (spec §2: an override replaces
    /// the default).
    fn profile_ways(&self, context: &Context, key: Idx) -> Rule {
        let policy = self.policy;
        let switch_on = |profile: Idx, office: Idx| {
            let mut ways = vec![vec![Edit::OverrideOn {
                office: policy.office_id(office),
                profile: policy.profiles.name(profile).to_owned(),
                permission: policy.permissions.name(key).to_owned(),
            }]];
            // Without an override, the Network's default decides: adding to it works too.
            if self.overridden(profile, office, key).is_none() {
                let network = policy.office(office).map_or(Idx::MAX, |o| o.network);
                ways.push(vec![Edit::DefaultOn {
                    network: policy.network_id(network),
                    profile: policy.profiles.name(profile).to_owned(),
                    permission: policy.permissions.name(key).to_owned(),
                }]);
            }
            ways
        };
        match context {
            Context::Own => {
                if self.holds(self.user.profile, self.user.home_office, key) {
                    return vec![Vec::new()];
                }
                switch_on(self.user.profile, self.user.home_office)
            }
            Context::Alien(agreements) => {
                let agreements: Vec<_> = agreements.iter().filter_map(|&a| policy.agreement(a)).collect();
                if agreements.iter().any(|a| self.holds(a.profile, a.host_office, key)) {
                    return vec![Vec::new()];
                }
                let mut ways = Rule::new();
                for agreement in agreements {
                    for way in switch_on(agreement.profile, agreement.host_office) {
                        if !ways.contains(&way) {
                            ways.push(way);
                        }
                    }
                }
                ways
            }
            Context::NewAgreement(office) => self.new_agreement_ways(*office, Some(key)),
        }
    }

    /// The ways to share the user with `office` by a new Agreement, holding `key` there if
    /// given: under a profile that holds it already, or under their own profile with the
    /// Office's override switched on.
    fn new_agreement_ways(&self, office: Idx, key: Option<Idx>) -> Rule {
        let policy = self.policy;
        let user = self.user;
        let Some(host) = policy.office(office) else { return Rule::new() };
        let known = |profile: Idx| policy.network(host.network).is_some_and(|n| n.defaults.knows(profile));
        // Their own profile if the host Network knows it; else the plainest default one.
        let preferred = if known(user.profile) {
            user.profile
        } else {
            policy.profiles.get("general_user").unwrap_or(user.profile)
        };
        let share = |profile: Idx| Edit::ShareWithOffice {
            agreement: self.agreement_id(user, office),
            user: user.id.clone(),
            guest_office: policy.office_id(user.home_office),
            host_office: host.id.clone(),
            profile: policy.profiles.name(profile).to_owned(),
        };
        let Some(key) = key else { return vec![vec![share(preferred)]] };
        if self.holds(preferred, office, key) {
            return vec![vec![share(preferred)]];
        }
        let mut ways = Rule::new();
        let n_profiles = Idx::try_from(policy.profiles.names.len()).unwrap_or(0);
        if let Some(holding) =
            (0..n_profiles).find(|&profile| known(profile) && self.holds(profile, office, key))
        {
            ways.push(vec![share(holding)]);
        }
        ways.push(vec![
            share(preferred),
            Edit::OverrideOn {
                office: host.id.clone(),
                profile: policy.profiles.name(preferred).to_owned(),
                permission: policy.permissions.name(key).to_owned(),
            },
        ]);
        ways
    }

    /// An id no Agreement has, for one sharing `guest` with `office`.
    fn agreement_id(&self, guest: &UserEntry, office: Idx) -> String {
        let base = format!("a-{}-{}", guest.id, self.policy.office_id(office));
        let taken = |id: &str| self.policy.agreements.iter().any(|a| a.id == id);
        if !taken(&base) {
            return base;
        }
        (2..).map(|n| format!("{base}-{n}")).find(|id| !taken(id)).unwrap_or(base)
    }

    fn overridden(&self, profile: Idx, office: Idx, key: Idx) -> Option<bool> {
        let overrides = &self.policy.office(office)?.overrides;
        let i = overrides.binary_search_by_key(&(profile, key), |&(p, k, _)| (p, k)).ok()?;
        overrides.get(i).map(|&(_, _, on)| on)
    }

    /// Whether `profile` holds `key` in `office`: its override, else its Network's default.
    fn holds(&self, profile: Idx, office: Idx, key: Idx) -> bool {
        if let Some(on) = self.overridden(profile, office, key) {
            return on;
        }
        let network = self.policy.office(office).map_or(Idx::MAX, |o| o.network);
        self.policy
            .network(network)
            .and_then(|n| n.defaults.get(profile as usize))
            .is_some_and(|set| set.contains(key))
    }

    // ---- People, groups, roles ------------------------------------------------------------

    /// Person visibility (spec §3, People): active, and of one Network or linked by an active
    /// Agreement.
    fn person_rules(&self, v: Idx) -> Vec<Rule> {
        let policy = self.policy;
        let mut rules = Vec::new();
        let Some(person) = policy.user(v) else { return rules };
        if v == self.u {
            return rules;
        }
        if !person.active {
            rules.push(vec![vec![Edit::ActivateUser { user: person.id.clone() }]]);
        }
        if person.network == self.user.network {
            return rules;
        }
        let linked = |guest: &UserEntry, host: &UserEntry| {
            guest.shared_by.iter().any(|&a| {
                policy
                    .agreement(a)
                    .is_some_and(|a| a.host_office == host.home_office && a.active_at(self.now))
            })
        };
        if linked(self.user, person) || linked(person, self.user) {
            return rules;
        }
        let share = |guest: &UserEntry, host: &UserEntry| {
            let known = policy.network(host.network).is_some_and(|n| n.defaults.knows(guest.profile));
            let profile = if known { policy.profiles.name(guest.profile) } else { "general_user" };
            Edit::ShareWithOffice {
                agreement: self.agreement_id(guest, host.home_office),
                user: guest.id.clone(),
                guest_office: policy.office_id(guest.home_office),
                host_office: policy.office_id(host.home_office),
                profile: profile.to_owned(),
            }
        };
        rules.push(vec![vec![share(self.user, person)], vec![share(person, self.user)]]);
        rules
    }

    /// Person search beyond Connections needs `people.search_all`; else a shared group.
    fn search(&self, v: Idx) -> Rule {
        let policy = self.policy;
        let user = self.user;
        let minimum = self.minimum(user.network, RolePermission::PeopleSearchAll);
        let Some(person) = policy.user(v) else { return Rule::new() };
        let connected = user.dm_partners.binary_search(&v).is_ok()
            || user
                .groups
                .iter()
                .any(|&g| policy.group(g).is_some_and(|g| g.members.binary_search(&v).is_ok()));
        if user.role >= minimum || connected {
            return vec![Vec::new()];
        }
        let mut ways = vec![vec![Edit::RaiseRole { user: user.id.clone(), role: minimum }]];
        // Joining one of their groups, or bringing them into one of ours, makes a Connection.
        if person.network == user.network {
            let theirs = person.groups.iter().map(|&g| (user.id.as_str(), g));
            let ours = user.groups.iter().map(|&g| (person.id.as_str(), g));
            for (member, g) in theirs.chain(ours).take(2) {
                if let Some(group) = policy.group(g) {
                    ways.push(vec![Edit::AddToGroup { user: member.to_owned(), group: group.id.clone() }]);
                }
            }
        }
        ways
    }

    fn membership(&self, g: Idx) -> Option<Rule> {
        let group = self.policy.group(g)?;
        if self.user.groups.binary_search(&g).is_ok() {
            return Some(vec![Vec::new()]);
        }
        Some(vec![vec![Edit::AddToGroup { user: self.user.id.clone(), group: group.id.clone() }]])
    }

    fn minimum(&self, network: Idx, permission: RolePermission) -> Role {
        self.policy
            .network(network)
            .and_then(|n| n.thresholds.get(permission.index()).copied())
            .unwrap_or(Role::Admin)
    }

    fn role(&self, network: Idx, permission: RolePermission) -> Rule {
        let minimum = self.minimum(network, permission);
        if self.user.role >= minimum {
            return vec![Vec::new()];
        }
        vec![vec![Edit::RaiseRole { user: self.user.id.clone(), role: minimum }]]
    }

    fn feature(&self, network: Idx) -> Rule {
        if self.policy.network(network).is_some_and(|n| n.announcements) {
            return vec![Vec::new()];
        }
        vec![vec![Edit::AnnouncementsOn { network: self.policy.network_id(network) }]]
    }
}
