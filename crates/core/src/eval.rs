//! The evaluator: every rule of spec §2 to §4, written once.
//!
//! The rules run generic over a [`Trace`]: [`Policy::allows`] passes one that records nothing
//! (facts and sentences are closures that are never called), [`Policy::decide`] one that
//! records everything. So the explanation can never drift from the decision.
//! The order of the checks, and so which code a decision carries, is in `docs/decisions.md`.

use crate::clock::Timestamp;
use crate::decision::{Code, Decision, Fact};
use crate::ids::Idx;
use crate::model::{AccessLevel, PROJECT_PERMISSIONS, Role};
use crate::permission::{AdminPermission, DM_REPLY, PEOPLE_SEARCH, RolePermission};
use crate::policy::{Policy, UserEntry};
use crate::query::{Query, ResourceKind, Target, TargetKind};

impl Policy {
    /// Decides `query` for `user` at `now`, with the reason code, a sentence and the facts.
    pub fn decide(&self, user: &str, query: &Query, now: Timestamp) -> Decision {
        let mut trace = Explain::default();
        let code = Evaluator { policy: self, now, trace: &mut trace }.evaluate(user, query);
        trace.into_decision(code)
    }

    /// [`Policy::decide`], and for a denial the smallest edits that would allow it
    /// ([`Policy::grants`]).
    pub fn explain(&self, user: &str, query: &Query, now: Timestamp) -> Decision {
        let mut decision = self.decide(user, query, now);
        if !decision.allowed {
            decision.grants = self.grants(user, query, now);
        }
        decision
    }

    /// Whether `user` may, at `now`: the same rules as [`Policy::decide`], with no explanation
    /// built.
    pub fn allows(&self, user: &str, query: &Query, now: Timestamp) -> bool {
        self.code(user, query, now).is_allowed()
    }

    /// The reason code alone.
    pub fn code(&self, user: &str, query: &Query, now: Timestamp) -> Code {
        Evaluator { policy: self, now, trace: &mut Quiet }.evaluate(user, query)
    }
}

impl Policy {
    /// Whether `profile` holds permission `key` in `office` of `network`: the rule of
    /// [`Policy::decide`], for [`crate::UserView`] to precompute from.
    pub(crate) fn profile_holds_quietly(&self, profile: Idx, office: Idx, network: Idx, key: Idx) -> bool {
        let mut evaluator = Evaluator { policy: self, now: Timestamp::from_unix(0), trace: &mut Quiet };
        evaluator.profile_holds(profile, office, network, key, None).is_ok()
    }
}

/// Where the rules write what they found. Closures are only called by a trace that keeps them.
pub(crate) trait Trace {
    fn fact(&mut self, fact: impl FnOnce() -> Fact);
    fn say(&mut self, sentence: impl FnOnce() -> String);
}

/// Keeps nothing.
pub(crate) struct Quiet;

impl Trace for Quiet {
    #[inline(always)]
    fn fact(&mut self, _fact: impl FnOnce() -> Fact) {}
    #[inline(always)]
    fn say(&mut self, _sentence: impl FnOnce() -> String) {}
}

/// Keeps every fact and sentence.
#[derive(Default)]
pub(crate) struct Explain {
    facts: Vec<Fact>,
    sentences: Vec<String>,
}

impl Trace for Explain {
    fn fact(&mut self, fact: impl FnOnce() -> Fact) {
        self.facts.push(fact());
    }
    fn say(&mut self, sentence: impl FnOnce() -> String) {
        self.sentences.push(sentence());
    }
}

impl Explain {
    pub(crate) fn into_decision(self, code: Code) -> Decision {
        let allowed = code.is_allowed();
        // A denial reads best as its one reason; an allowance as the chain that allowed it.
        let message = if allowed {
            self.sentences.join("; ")
        } else {
            self.sentences.last().cloned().unwrap_or_default()
        };
        Decision { allowed, code, message, facts: self.facts, grants: Vec::new() }
    }
}

/// What makes a person a Connection.
#[derive(Clone, Copy)]
enum Via {
    Dm(Idx),
    Group(Idx),
}

fn to_idx(i: usize) -> Idx {
    Idx::try_from(i).unwrap_or(Idx::MAX)
}

/// How a user acts inside a visible Project: as themself, or under Agreements.
#[derive(Clone, Copy)]
enum Context {
    /// A user of the Project's own Network.
    Own,
    /// An alien user, under the active Agreements that share them into this Office.
    Alien { office: Idx },
}

struct Evaluator<'a, T> {
    policy: &'a Policy,
    now: Timestamp,
    trace: &'a mut T,
}

type Step<V = ()> = Result<V, Code>;

impl<T: Trace> Evaluator<'_, T> {
    fn evaluate(&mut self, user_id: &str, query: &Query) -> Code {
        let policy = self.policy;
        let Some(&user_idx) = self.policy.ids.users.get(user_id) else {
            self.trace.say(|| format!("there is no user `{user_id}` in this snapshot"));
            return Code::UnknownUser;
        };
        let Some(user) = self.policy.user(user_idx) else { return Code::UnknownUser };
        self.trace.fact(|| user_fact(policy, user));
        if !user.active {
            self.trace
                .say(|| format!("`{user_id}` is inactive: an inactive user sees nothing and may do nothing"));
            return Code::InactiveUser;
        }
        let result = match query {
            Query::View { kind, id, project } => self.view(user_idx, user, *kind, id, project.as_deref()),
            Query::Can { permission, target } => self.can(user_idx, user, permission, target),
        };
        match result {
            Ok(code) | Err(code) => code,
        }
    }

    // ---- Views ----------------------------------------------------------------------------

    fn view(
        &mut self,
        u: Idx,
        user: &UserEntry,
        kind: ResourceKind,
        id: &str,
        project: Option<&str>,
    ) -> Step<Code> {
        if kind.in_project() {
            let Some(project) = project else {
                self.trace.say(|| format!("a {kind} is viewed within its project, and the query names none"));
                return Err(Code::MissingTarget);
            };
            let p = self.project_idx(project)?;
            let (code, context) = self.project_visibility(u, user, p)?;
            let permission = match kind {
                ResourceKind::Report => "reports.view",
                ResourceKind::Finance => "finance.view",
                _ => {
                    self.trace.say(|| format!("{kind} `{id}` is visible because its project is"));
                    return Ok(code);
                }
            };
            let key = self.permission_idx(permission)?;
            return self.profile_permission(user, context, key);
        }
        if project.is_some() {
            self.trace.say(|| format!("a {kind} does not hang off a project"));
            return Err(Code::InvalidTarget);
        }
        match kind {
            ResourceKind::Project => {
                let p = self.project_idx(id)?;
                self.project_visibility(u, user, p).map(|(code, _)| code)
            }
            ResourceKind::Person => {
                let v = self.person_idx(id)?;
                self.person_visibility(u, user, v)
            }
            ResourceKind::Group => {
                let g = self.group_idx(id)?;
                self.group_firewall(user, g)?;
                self.group_membership(user, g)?;
                Ok(Code::GroupMember)
            }
            // Handled above; listed so that a new kind is a compile error here.
            ResourceKind::Task | ResourceKind::Document | ResourceKind::Report | ResourceKind::Finance => {
                Err(Code::MissingTarget)
            }
        }
    }

    /// Spec §3, the five rules for a Project, in order.
    fn project_visibility(&mut self, u: Idx, user: &UserEntry, p: Idx) -> Step<(Code, Context)> {
        let policy = self.policy;
        let Some(project) = policy.project(p) else { return Err(Code::UnknownResource) };
        self.trace.fact(|| Fact::Project {
            project: project.id.to_owned(),
            office: policy.office_id(project.office),
            network: policy.network_id(project.network),
        });
        let on_team = project.team.binary_search(&u).is_ok();
        self.trace.fact(|| Fact::Team { project: project.id.to_owned(), member: on_team });

        if user.network != project.network {
            // Rules 1 and 2: across the firewall only an Agreement with the Project's Office, and
            // then only the team's Projects.
            let (active, expired) = self.agreements_into(user, project.office);
            if active {
                if on_team {
                    self.trace.say(|| {
                        format!(
                            "`{}` is on the team of `{}`, shared into its office by an agreement",
                            user.id, project.id
                        )
                    });
                    return Ok((Code::OnTeam, Context::Alien { office: project.office }));
                }
                self.trace.say(|| {
                    format!(
                        "an agreement shares `{}` into office `{}`, but only for projects whose team they are on, and they are not on `{}`'s",
                        user.id,
                        policy.office_id(project.office),
                        project.id
                    )
                });
                return Err(Code::NotOnTeam);
            }
            if expired {
                self.trace.say(|| {
                    format!(
                        "the agreement that shared `{}` into office `{}` has expired",
                        user.id,
                        policy.office_id(project.office)
                    )
                });
                return Err(Code::AgreementExpired);
            }
            self.trace.say(|| {
                format!(
                    "project `{}` is in network `{}`, behind the firewall from `{}`'s network `{}`",
                    project.id,
                    policy.network_id(project.network),
                    user.id,
                    policy.network_id(user.network)
                )
            });
            return Err(Code::Firewall);
        }
        if on_team {
            self.trace.say(|| format!("`{}` is on the team of `{}`", user.id, project.id));
            return Ok((Code::OnTeam, Context::Own));
        }
        if user.access == AccessLevel::NetworkAdmin {
            self.trace.say(|| {
                format!(
                    "`{}` is a network admin and sees every project of network `{}`",
                    user.id,
                    policy.network_id(user.network)
                )
            });
            return Ok((Code::NetworkAdmin, Context::Own));
        }
        if user.network_superuser {
            self.trace.say(|| {
                format!(
                    "`{}` is a superuser of network `{}` and sees every project in it",
                    user.id,
                    policy.network_id(user.network)
                )
            });
            return Ok((Code::NetworkSuperuser, Context::Own));
        }
        match user.access {
            AccessLevel::AllInOffice => {
                if user.home_office == project.office
                    || user.additional_offices.binary_search(&project.office).is_ok()
                {
                    self.trace.say(|| {
                        format!(
                            "`{}` sees every project of office `{}`, one of their offices",
                            user.id,
                            policy.office_id(project.office)
                        )
                    });
                    Ok((Code::OfficeLinked, Context::Own))
                } else {
                    self.trace.say(|| {
                        format!(
                            "project `{}` is in office `{}`, which is neither `{}`'s home office nor one of their additional offices",
                            project.id,
                            policy.office_id(project.office),
                            user.id
                        )
                    });
                    Err(Code::OfficeNotLinked)
                }
            }
            AccessLevel::InviteOnly | AccessLevel::NetworkAdmin => {
                self.trace.say(|| {
                    format!("`{}` is invite-only and is not on the team of `{}`", user.id, project.id)
                });
                Err(Code::NotOnTeam)
            }
        }
    }

    /// Whether Agreements share `user` into `office`: (any active, any expired). Records each.
    fn agreements_into(&mut self, user: &UserEntry, office: Idx) -> (bool, bool) {
        let policy = self.policy;
        let (mut active, mut expired) = (false, false);
        for &a in &user.shared_by {
            let Some(agreement) = self.policy.agreement(a) else { continue };
            if agreement.host_office != office {
                continue;
            }
            let is_active = agreement.active_at(self.now);
            self.trace.fact(|| agreement_fact(policy, a, is_active));
            if is_active {
                active = true;
            } else {
                expired = true;
            }
        }
        (active, expired)
    }

    /// Person visibility (spec §3, People).
    fn person_visibility(&mut self, u: Idx, user: &UserEntry, v: Idx) -> Step<Code> {
        let policy = self.policy;
        let Some(person) = self.policy.user(v) else { return Err(Code::UnknownResource) };
        if u == v {
            self.trace.say(|| format!("`{}` is `{}` themself", person.id, user.id));
            return Ok(Code::Itself);
        }
        self.trace.fact(|| Fact::Person {
            person: person.id.clone(),
            network: policy.network_id(person.network),
            home_office: policy.office_id(person.home_office),
            active: person.active,
        });
        if !person.active {
            self.trace.say(|| format!("`{}` is inactive", person.id));
            return Err(Code::TargetInactive);
        }
        if person.network == user.network {
            self.trace.say(|| {
                format!(
                    "`{}` and `{}` are both of network `{}`",
                    user.id,
                    person.id,
                    policy.network_id(user.network)
                )
            });
            return Ok(Code::SameNetwork);
        }
        // An Agreement links a shared guest with the users whose home Office is its host.
        let (active_out, expired_out) = self.agreements_into(user, person.home_office);
        let (active_in, expired_in) = self.agreements_into(person, user.home_office);
        if active_out || active_in {
            self.trace
                .say(|| format!("an agreement links `{}` and `{}` across the firewall", user.id, person.id));
            return Ok(Code::SharedByAgreement);
        }
        if expired_out || expired_in {
            self.trace
                .say(|| format!("the agreement that linked `{}` and `{}` has expired", user.id, person.id));
            return Err(Code::AgreementExpired);
        }
        self.trace.say(|| {
            format!(
                "`{}` is of network `{}`, behind the firewall from `{}`'s network `{}`",
                person.id,
                policy.network_id(person.network),
                user.id,
                policy.network_id(user.network)
            )
        });
        Err(Code::Firewall)
    }

    fn group_firewall(&mut self, user: &UserEntry, g: Idx) -> Step {
        let policy = self.policy;
        let Some(group) = self.policy.group(g) else { return Err(Code::UnknownResource) };
        if group.network != user.network {
            self.trace.say(|| {
                format!(
                    "group `{}` is in network `{}`, behind the firewall",
                    group.id,
                    policy.network_id(group.network)
                )
            });
            return Err(Code::Firewall);
        }
        Ok(())
    }

    fn group_membership(&mut self, user: &UserEntry, g: Idx) -> Step {
        let Some(group) = self.policy.group(g) else { return Err(Code::UnknownResource) };
        let member = user.groups.binary_search(&g).is_ok();
        self.trace.fact(|| Fact::GroupMember { group: group.id.clone(), member });
        if member {
            self.trace.say(|| format!("`{}` is a member of group `{}`", user.id, group.id));
            Ok(())
        } else {
            self.trace.say(|| format!("`{}` is not a member of group `{}`", user.id, group.id));
            Err(Code::NotGroupMember)
        }
    }

    // ---- Permissions ----------------------------------------------------------------------

    fn can(&mut self, u: Idx, user: &UserEntry, permission: &str, target: &Target) -> Step<Code> {
        let known = RolePermission::from_key(permission).is_some()
            || permission == DM_REPLY
            || permission == PEOPLE_SEARCH
            || AdminPermission::from_key(permission).is_some()
            || self.policy.permissions.get(permission).is_some();
        if !known {
            self.trace.say(|| format!("`{permission}` is not a permission this snapshot knows"));
            return Err(Code::UnknownPermission);
        }
        let Ok(target) = target.single() else {
            self.trace.say(|| "a permission acts on one target at most".to_owned());
            return Err(Code::InvalidTarget);
        };
        if let Some(role_permission) = RolePermission::from_key(permission) {
            return self.role_permission(u, user, role_permission, target);
        }
        if permission == DM_REPLY {
            let d = self.expect_target(permission, TargetKind::Dm, target)?;
            return self.dm_reply(u, user, d);
        }
        if permission == PEOPLE_SEARCH {
            let person = self.expect_target(permission, TargetKind::Person, target)?;
            let v = self.person_idx(person)?;
            return self.people_search(u, user, v);
        }
        if let Some(admin_permission) = AdminPermission::from_key(permission) {
            return self.admin_permission(user, admin_permission, target);
        }
        let Some(key) = self.policy.permissions.get(permission) else {
            self.trace.say(|| format!("`{permission}` is not a permission this snapshot knows"));
            return Err(Code::UnknownPermission);
        };
        if PROJECT_PERMISSIONS.contains(&permission) {
            let project = self.expect_target(permission, TargetKind::Project, target)?;
            let p = self.project_idx(project)?;
            let (_, context) = self.project_visibility(u, user, p)?;
            return self.profile_permission(user, context, key);
        }
        self.expect_no_target(permission, target)?;
        self.profile_permission(user, Context::Own, key)
    }

    fn role_permission(
        &mut self,
        u: Idx,
        user: &UserEntry,
        permission: RolePermission,
        target: Option<(TargetKind, &str)>,
    ) -> Step<Code> {
        match permission {
            RolePermission::GroupCreate | RolePermission::PeopleSearchAll => {
                self.expect_no_target(permission.key(), target)?;
                self.role_check(user, user.network, permission)
            }
            RolePermission::AnnouncementOrg => {
                self.expect_no_target(permission.key(), target)?;
                self.feature_check(user.network)?;
                self.role_check(user, user.network, permission)
            }
            RolePermission::AnnouncementGroup => {
                let group = self.expect_target(permission.key(), TargetKind::Group, target)?;
                let g = self.group_idx(group)?;
                self.group_firewall(user, g)?;
                let network = self.policy.group(g).map_or(user.network, |group| group.network);
                self.feature_check(network)?;
                self.group_membership(user, g)?;
                self.role_check(user, network, permission)
            }
            RolePermission::DmStart => {
                let person = self.expect_target(permission.key(), TargetKind::Person, target)?;
                let v = self.person_idx(person)?;
                if v == u {
                    self.trace.say(|| "a direct message is started with someone else".to_owned());
                    return Err(Code::InvalidTarget);
                }
                self.person_visibility(u, user, v)?;
                self.role_check(user, user.network, permission)
            }
        }
    }

    fn role_check(&mut self, user: &UserEntry, network: Idx, permission: RolePermission) -> Step<Code> {
        let policy = self.policy;
        let minimum = self
            .policy
            .network(network)
            .and_then(|n| n.thresholds.get(permission.index()).copied())
            .unwrap_or(Role::Admin);
        self.trace.fact(|| Fact::Threshold {
            network: policy.network_id(network),
            permission: permission.key().to_owned(),
            minimum: minimum.as_str().to_owned(),
            role: user.role.as_str().to_owned(),
        });
        // Admin is the highest role and no threshold lies above it: admins always pass.
        if user.role >= minimum {
            self.trace.say(|| {
                format!(
                    "`{}` is {}, at or above the minimum role {} for `{}` in network `{}`",
                    user.id,
                    article(user.role),
                    minimum.as_str(),
                    permission.key(),
                    policy.network_id(network)
                )
            });
            Ok(Code::RoleMeetsMinimum)
        } else {
            self.trace.say(|| {
                format!(
                    "`{}` is {}, below the minimum role {} for `{}` in network `{}`",
                    user.id,
                    article(user.role),
                    minimum.as_str(),
                    permission.key(),
                    policy.network_id(network)
                )
            });
            Err(Code::RoleBelowMinimum)
        }
    }

    fn feature_check(&mut self, network: Idx) -> Step {
        let policy = self.policy;
        let on = self.policy.network(network).is_some_and(|n| n.announcements);
        self.trace.fact(|| Fact::Feature {
            network: policy.network_id(network),
            feature: "announcements".to_owned(),
            on,
        });
        if on {
            Ok(())
        } else {
            self.trace.say(|| {
                format!(
                    "announcements are switched off in network `{}`, for admins too",
                    policy.network_id(network)
                )
            });
            Err(Code::FeatureOff)
        }
    }

    fn dm_reply(&mut self, u: Idx, user: &UserEntry, dm: &str) -> Step<Code> {
        let Some(d) = self.policy.ids.dms.get(dm).and_then(|&d| self.policy.dms.get(d as usize)) else {
            return Err(self.unknown("direct message", dm));
        };
        let participant = d.participants.contains(&u);
        self.trace.fact(|| Fact::Participant { dm: d.id.clone(), participant });
        if participant {
            self.trace.say(|| {
                format!(
                    "`{}` takes part in direct message `{}`, and any participant may reply",
                    user.id, d.id
                )
            });
            Ok(Code::Participant)
        } else {
            self.trace.say(|| format!("`{}` does not take part in direct message `{}`", user.id, d.id));
            Err(Code::NotAParticipant)
        }
    }

    fn people_search(&mut self, u: Idx, user: &UserEntry, v: Idx) -> Step<Code> {
        let policy = self.policy;
        let code = self.person_visibility(u, user, v)?;
        if code == Code::Itself {
            return Ok(code);
        }
        if let Ok(code) = self.role_check(user, user.network, RolePermission::PeopleSearchAll) {
            return Ok(code);
        }
        let Some(person) = self.policy.user(v) else { return Err(Code::UnknownResource) };
        let via = self.connection(u, user, v);
        let describe = |via: Option<Via>| match via? {
            Via::Dm(d) => policy.dms.get(d as usize).map(|dm| format!("direct message `{}`", dm.id)),
            Via::Group(g) => policy.group(g).map(|group| format!("group `{}`", group.id)),
        };
        self.trace.fact(|| Fact::Connection { person: person.id.clone(), via: describe(via) });
        if via.is_some() {
            self.trace.say(|| {
                format!(
                    "`{}` shares {} with `{}`, so person search finds them",
                    user.id,
                    describe(via).unwrap_or_default(),
                    person.id
                )
            });
            Ok(Code::Connection)
        } else {
            self.trace.say(|| {
                format!(
                    "without `people.search_all`, `{}` finds only Connections, and `{}` shares no group or direct message with them",
                    user.id, person.id
                )
            });
            Err(Code::NotAConnection)
        }
    }

    /// What makes `v` a Connection of `user`: a shared direct message or group.
    fn connection(&self, u: Idx, user: &UserEntry, v: Idx) -> Option<Via> {
        if user.dm_partners.binary_search(&v).is_ok() {
            let dm = self
                .policy
                .dms
                .iter()
                .position(|dm| dm.participants.contains(&u) && dm.participants.contains(&v));
            return Some(Via::Dm(dm.map_or(Idx::MAX, to_idx)));
        }
        user.groups
            .iter()
            .copied()
            .find(|&g| self.policy.group(g).is_some_and(|group| group.members.binary_search(&v).is_ok()))
            .map(Via::Group)
    }

    fn admin_permission(
        &mut self,
        user: &UserEntry,
        permission: AdminPermission,
        target: Option<(TargetKind, &str)>,
    ) -> Step<Code> {
        let policy = self.policy;
        match permission {
            AdminPermission::NetworkManage => {
                self.expect_no_target(permission.key(), target)?;
                self.system_superuser(user, permission)
            }
            AdminPermission::DefaultsEdit => {
                let network = self.expect_target(permission.key(), TargetKind::Network, target)?;
                if !self.policy.ids.networks.contains_key(network) {
                    return Err(self.unknown("network", network));
                }
                self.system_superuser(user, permission)
            }
            AdminPermission::OfficeManage
            | AdminPermission::UserManage
            | AdminPermission::ProjectManage
            | AdminPermission::OverridesEdit => {
                let office = self.expect_target(permission.key(), TargetKind::Office, target)?;
                let Some(o) = self.policy.ids.offices.get(office).copied() else {
                    return Err(self.unknown("office", office));
                };
                let network = self.policy.office(o).map_or(Idx::MAX, |office| office.network);
                self.trace
                    .fact(|| Fact::Office { office: office.to_owned(), network: policy.network_id(network) });
                let own_network = network == user.network;
                if !own_network {
                    // An Agreement that shares the user into this very Office lets them see it,
                    // but makes them no administrator of its Network.
                    let (active, expired) = self.agreements_into(user, o);
                    if expired && !active {
                        self.trace.say(|| {
                            format!(
                                "the agreement that shared `{}` into office `{office}` has expired",
                                user.id
                            )
                        });
                        return Err(Code::AgreementExpired);
                    }
                    if !active {
                        self.trace.say(|| {
                            format!(
                                "office `{office}` is in network `{}`, behind the firewall",
                                policy.network_id(network)
                            )
                        });
                        return Err(Code::Firewall);
                    }
                }
                let network_superuser = own_network && user.network_superuser;
                self.trace.fact(|| Fact::Superuser { kind: "network".to_owned(), value: network_superuser });
                if own_network && user.access == AccessLevel::NetworkAdmin {
                    self.trace.say(|| {
                        format!(
                            "`{}` is a network admin of `{}` and may `{}`",
                            user.id,
                            policy.network_id(network),
                            permission.key()
                        )
                    });
                    return Ok(Code::NetworkAdmin);
                }
                if network_superuser {
                    self.trace.say(|| {
                        format!(
                            "`{}` is a superuser of network `{}` and may `{}`",
                            user.id,
                            policy.network_id(network),
                            permission.key()
                        )
                    });
                    return Ok(Code::NetworkSuperuser);
                }
                self.trace.say(|| {
                    format!(
                        "only superusers and network admins of network `{}` may `{}`",
                        policy.network_id(network),
                        permission.key()
                    )
                });
                Err(Code::NotNetworkAdmin)
            }
        }
    }

    fn system_superuser(&mut self, user: &UserEntry, permission: AdminPermission) -> Step<Code> {
        let value = user.system_superuser;
        self.trace.fact(|| Fact::Superuser { kind: "system".to_owned(), value });
        if value {
            self.trace.say(|| format!("`{}` is a system superuser and may `{}`", user.id, permission.key()));
            Ok(Code::SystemSuperuser)
        } else {
            self.trace.say(|| format!("only system superusers may `{}`", permission.key()));
            Err(Code::NotSystemSuperuser)
        }
    }

    /// A profile permission, held in `context` (spec §2 and §4).
    fn profile_permission(&mut self, user: &UserEntry, context: Context, key: Idx) -> Step<Code> {
        match context {
            Context::Own => self.profile_holds(user.profile, user.home_office, user.network, key, None),
            Context::Alien { office } => {
                // Each active Agreement into this Office grants on its own: any one suffices.
                let network = self.policy.office(office).map_or(Idx::MAX, |o| o.network);
                let mut result = Err(Code::ProfileLacksPermission);
                for &a in &user.shared_by {
                    let Some(agreement) = self.policy.agreement(a) else { continue };
                    if agreement.host_office != office || !agreement.active_at(self.now) {
                        continue;
                    }
                    result = self.profile_holds(agreement.profile, office, network, key, Some(a));
                    if result.is_ok() {
                        break;
                    }
                }
                result
            }
        }
    }

    fn profile_holds(
        &mut self,
        profile: Idx,
        office: Idx,
        network: Idx,
        key: Idx,
        via: Option<Idx>,
    ) -> Step<Code> {
        let policy = self.policy;
        self.trace.fact(|| Fact::Profile {
            profile: policy.profiles.name(profile).to_owned(),
            office: policy.office_id(office),
            network: policy.network_id(network),
            via: via.and_then(|a| policy.agreement(a)).map_or_else(|| "home".to_owned(), |a| a.id.clone()),
        });
        let profile_name = policy.profiles.name(profile);
        let permission = policy.permissions.name(key);
        let overridden = policy.office(office).and_then(|o| {
            o.overrides
                .binary_search_by_key(&(profile, key), |&(p, k, _)| (p, k))
                .ok()
                .and_then(|i| o.overrides.get(i))
                .map(|&(_, _, on)| on)
        });
        if let Some(on) = overridden {
            self.trace.fact(|| Fact::Override {
                office: policy.office_id(office),
                profile: profile_name.to_owned(),
                permission: permission.to_owned(),
                value: on,
            });
            self.trace.say(|| {
                format!(
                    "office `{}` switches `{permission}` {} for the `{profile_name}` profile",
                    policy.office_id(office),
                    if on { "on" } else { "off" }
                )
            });
            return if on { Ok(Code::OfficeOverrideOn) } else { Err(Code::OfficeOverrideOff) };
        }
        let on = policy
            .network(network)
            .and_then(|n| n.defaults.get(profile as usize))
            .is_some_and(|set| set.contains(key));
        self.trace.fact(|| Fact::NetworkDefault {
            network: policy.network_id(network),
            profile: profile_name.to_owned(),
            permission: permission.to_owned(),
            value: on,
        });
        if on {
            self.trace.say(|| {
                format!(
                    "the `{profile_name}` profile includes `{permission}` in network `{}`",
                    policy.network_id(network)
                )
            });
            Ok(Code::ProfileGrants)
        } else {
            self.trace.say(|| {
                format!(
                    "the `{profile_name}` profile does not include `{permission}` in network `{}`",
                    policy.network_id(network)
                )
            });
            Err(Code::ProfileLacksPermission)
        }
    }

    // ---- Targets and lookups --------------------------------------------------------------

    fn expect_target<'q>(
        &mut self,
        permission: &str,
        kind: TargetKind,
        target: Option<(TargetKind, &'q str)>,
    ) -> Step<&'q str> {
        match target {
            Some((given, id)) if given == kind => Ok(id),
            Some((given, _)) => {
                self.trace
                    .say(|| format!("`{permission}` acts on a {}, not a {}", kind.as_str(), given.as_str()));
                Err(Code::InvalidTarget)
            }
            None => {
                self.trace.say(|| format!("`{permission}` needs a {} to act on", kind.as_str()));
                Err(Code::MissingTarget)
            }
        }
    }

    fn expect_no_target(&mut self, permission: &str, target: Option<(TargetKind, &str)>) -> Step {
        match target {
            None => Ok(()),
            Some((given, _)) => {
                self.trace
                    .say(|| format!("`{permission}` takes no target, and was given a {}", given.as_str()));
                Err(Code::InvalidTarget)
            }
        }
    }

    fn unknown(&mut self, kind: &str, id: &str) -> Code {
        self.trace.say(|| format!("there is no {kind} `{id}` in this snapshot"));
        Code::UnknownResource
    }

    fn project_idx(&mut self, id: &str) -> Step<Idx> {
        self.policy.ids.projects.get(id).ok_or_else(|| self.unknown("project", id))
    }

    fn person_idx(&mut self, id: &str) -> Step<Idx> {
        self.policy.ids.users.get(id).copied().ok_or_else(|| self.unknown("person", id))
    }

    fn group_idx(&mut self, id: &str) -> Step<Idx> {
        self.policy.ids.groups.get(id).copied().ok_or_else(|| self.unknown("group", id))
    }

    fn permission_idx(&mut self, key: &str) -> Step<Idx> {
        self.policy.permissions.get(key).ok_or(Code::UnknownPermission)
    }
}

fn user_fact(policy: &Policy, user: &UserEntry) -> Fact {
    Fact::User {
        user: user.id.clone(),
        network: policy.network_id(user.network),
        home_office: policy.office_id(user.home_office),
        access: user.access.as_str().to_owned(),
        profile: policy.profiles.name(user.profile).to_owned(),
        role: user.role.as_str().to_owned(),
    }
}

fn agreement_fact(policy: &Policy, a: Idx, active: bool) -> Fact {
    let agreement = policy.agreement(a);
    Fact::Agreement {
        agreement: agreement.map(|a| a.id.clone()).unwrap_or_default(),
        host_office: agreement.map(|a| policy.office_id(a.host_office)).unwrap_or_default(),
        guest_office: agreement.map(|a| policy.office_id(a.guest_office)).unwrap_or_default(),
        profile: agreement.map(|a| policy.profiles.name(a.profile).to_owned()).unwrap_or_default(),
        expires_at: agreement.and_then(|a| a.expires_at).map(|t| t.to_string()),
        active,
    }
}

fn article(role: Role) -> &'static str {
    match role {
        Role::User => "a user",
        Role::Manager => "a manager",
        Role::Admin => "an admin",
    }
}
