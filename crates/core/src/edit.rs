//! The edits of an organisation, and who may make them.
//!
//! An [`Edit`] is one concrete change of an [`Org`], written as JSON with its kind under
//! `edit`: `{"edit": "override_on", "office": "o-lon", "profile": "client", "permission":
//! "task.create"}`. [`Edit::apply`] makes it, leniently: an id the organisation lacks changes
//! nothing, and [`Policy::new`] on the result says whether it is valid. Every administrator's
//! edit has an inverse (`set_access` is its own). The planner ([`Policy::grants`]) suggests
//! edits that would allow a denied query, and never an inverse. A user's own actions that
//! change the organisation (a new Project, group or direct message) are edits too, made only by
//! the user they act for ([`Edit::actor`]) and decided by the action's own permission.
//!
//! Who may make an edit is a question of spec §2, asked of the evaluator: [`Edit::authority`]
//! names it (`overrides.edit` on the Office, for an override; `project.create` for a new
//! Project), after checking that every id the edit names is in the policy;
//! [`Policy::authorize`] decides it for a caller. The table is in `docs/decisions.md`, "Who may
//! make an edit".

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::decision::Decision;
use crate::ids::Idx;
use crate::model::{AccessLevel, Agreement, Org, Role};
use crate::permission::AdminPermission;
use crate::policy::{GroupEntry, OfficeEntry, Policy, UserEntry};
use crate::query::{Query, Target};

/// One concrete edit of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    /// Make an inactive user active.
    ActivateUser {
        /// The user.
        user: String,
    },
    /// Add a user to a Project's team.
    AddToTeam {
        /// The user.
        user: String,
        /// The Project.
        project: String,
    },
    /// Make a user a member of a group.
    AddToGroup {
        /// The user.
        user: String,
        /// The group.
        group: String,
    },
    /// Give a user an additional Office (of their own Network).
    AddAdditionalOffice {
        /// The user.
        user: String,
        /// The Office.
        office: String,
    },
    /// A new Agreement sharing a user with an Office of another Network.
    ShareWithOffice {
        /// The new Agreement's id.
        agreement: String,
        /// The user shared.
        user: String,
        /// Their home Office, the Agreement's guest Office.
        guest_office: String,
        /// The Office they are shared with.
        host_office: String,
        /// The profile they take on there.
        profile: String,
    },
    /// Change a user's Project Access Level.
    SetAccess {
        /// The user.
        user: String,
        /// The new level.
        access: AccessLevel,
    },
    /// Raise a user's messaging role.
    RaiseRole {
        /// The user.
        user: String,
        /// The new role.
        role: Role,
    },
    /// Switch an Office's override of a permission on, for one profile.
    OverrideOn {
        /// The Office.
        office: String,
        /// The profile.
        profile: String,
        /// The permission.
        permission: String,
    },
    /// Switch a Network's announcements on.
    AnnouncementsOn {
        /// The Network.
        network: String,
    },
    /// Add a permission to a Network's defaults for one profile.
    DefaultOn {
        /// The Network.
        network: String,
        /// The profile.
        profile: String,
        /// The permission.
        permission: String,
    },
    /// Make a user a superuser of their Network.
    MakeNetworkSuperuser {
        /// The user.
        user: String,
    },
    /// Make a user a system superuser.
    MakeSystemSuperuser {
        /// The user.
        user: String,
    },

    // What a user does in the app that changes the organisation (issue 22): each is decided by
    // the permission of the action, asked of the user who acts, never by an administrator's
    // rights; see [`Edit::actor`]. They create; they have no inverse among the edits.
    /// A new Project in its creator's home Office, its creator its one team member.
    CreateProject {
        /// The new Project's id.
        project: String,
        /// Its name.
        name: String,
        /// Who creates it.
        creator: String,
    },
    /// A new group of the owner's Network, the owner its one owner and its first member.
    CreateGroup {
        /// The new group's id.
        group: String,
        /// Who creates it.
        owner: String,
        /// The other members, of the owner's Network.
        members: Vec<String>,
    },
    /// A new direct message between two people.
    StartDm {
        /// The new conversation's id.
        dm: String,
        /// Who starts it.
        from: String,
        /// The other participant.
        with: String,
    },

    // The inverses: every edit above has one here (`set_access` is its own). The planner never
    // suggests them.
    /// Make an active user inactive; the inverse of `activate_user`.
    DeactivateUser {
        /// The user.
        user: String,
    },
    /// Take a user off a Project's team; the inverse of `add_to_team`. Taking off its creator
    /// also drops the Project's `created_by` (a creator must be on the team).
    RemoveFromTeam {
        /// The user.
        user: String,
        /// The Project.
        project: String,
    },
    /// Take a user out of a group, as member and owner; the inverse of `add_to_group`.
    RemoveFromGroup {
        /// The user.
        user: String,
        /// The group.
        group: String,
    },
    /// Take an Office from a user's additional Offices; the inverse of
    /// `add_additional_office`.
    RemoveAdditionalOffice {
        /// The user.
        user: String,
        /// The Office.
        office: String,
    },
    /// Remove an Agreement from the organisation; the inverse of `share_with_office`.
    EndAgreement {
        /// The Agreement's id.
        agreement: String,
    },
    /// Lower a user's messaging role (a role already lower stays); the inverse of
    /// `raise_role`.
    LowerRole {
        /// The user.
        user: String,
        /// The new role.
        role: Role,
    },
    /// Switch an Office's override of a permission off, for one profile.
    OverrideOff {
        /// The Office.
        office: String,
        /// The profile.
        profile: String,
        /// The permission.
        permission: String,
    },
    /// Remove an Office's override of a permission for one profile, so that the Network's
    /// default decides again; the inverse of `override_on` where there was no override.
    ClearOverride {
        /// The Office.
        office: String,
        /// The profile.
        profile: String,
        /// The permission.
        permission: String,
    },
    /// Switch a Network's announcements off; the inverse of `announcements_on`.
    AnnouncementsOff {
        /// The Network.
        network: String,
    },
    /// Remove a permission from a Network's defaults for one profile; the inverse of
    /// `default_on`. The profile stays named there, with an empty list if that was its last
    /// permission (a custom profile is known to its Network by that entry).
    DefaultOff {
        /// The Network.
        network: String,
        /// The profile.
        profile: String,
        /// The permission.
        permission: String,
    },
    /// Make a network superuser an ordinary user of their Network; the inverse of
    /// `make_network_superuser`.
    RevokeNetworkSuperuser {
        /// The user.
        user: String,
    },
    /// Make a system superuser an ordinary user; the inverse of `make_system_superuser`.
    RevokeSystemSuperuser {
        /// The user.
        user: String,
    },
}

impl Edit {
    /// Applies the edit to `org`, the organisation it was suggested for. An id that `org` does
    /// not hold leaves it unchanged; a new Agreement whose id is taken gets a fresh one. It
    /// checks nothing else: [`crate::Policy::new`] on the result says whether it is valid.
    pub fn apply(&self, org: &mut Org) {
        match self {
            Edit::ActivateUser { user } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.active = true;
                }
            }
            Edit::AddToTeam { user, project } => {
                if let Some(project) = org.projects.iter_mut().find(|p| p.id == *project) {
                    if !project.team.contains(user) {
                        project.team.push(user.clone());
                    }
                }
            }
            Edit::AddToGroup { user, group } => {
                if let Some(group) = org.groups.iter_mut().find(|g| g.id == *group) {
                    if !group.members.contains(user) {
                        group.members.push(user.clone());
                    }
                }
            }
            Edit::AddAdditionalOffice { user, office } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    if user.home_office != *office && !user.additional_offices.contains(office) {
                        user.additional_offices.push(office.clone());
                    }
                }
            }
            Edit::ShareWithOffice { agreement, user, guest_office, host_office, profile } => {
                let mut id = agreement.clone();
                let mut n = 2;
                while org.agreements.iter().any(|a| a.id == id) {
                    id = format!("{agreement}-{n}");
                    n += 1;
                }
                org.agreements.push(Agreement {
                    id,
                    host_office: host_office.clone(),
                    guest_office: guest_office.clone(),
                    users: Some(vec![user.clone()]),
                    profile: profile.clone(),
                    expires_at: None,
                });
            }
            Edit::SetAccess { user, access } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.access = *access;
                }
            }
            Edit::RaiseRole { user, role } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.role = user.role.max(*role);
                }
            }
            Edit::OverrideOn { office, profile, permission } => {
                if let Some(office) = org.offices.iter_mut().find(|o| o.id == *office) {
                    office.overrides.entry(profile.clone()).or_default().insert(permission.clone(), true);
                }
            }
            Edit::AnnouncementsOn { network } => {
                if let Some(network) = org.networks.iter_mut().find(|n| n.id == *network) {
                    network.features.announcements = true;
                }
            }
            Edit::DefaultOn { network, profile, permission } => {
                if let Some(network) = org.networks.iter_mut().find(|n| n.id == *network) {
                    let keys = network.defaults.entry(profile.clone()).or_default();
                    if !keys.contains(permission) {
                        keys.push(permission.clone());
                    }
                }
            }
            Edit::MakeNetworkSuperuser { user } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.network_superuser = true;
                }
            }
            Edit::MakeSystemSuperuser { user } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.system_superuser = true;
                }
            }
            Edit::CreateProject { project, name, creator } => {
                let office = org.users.iter().find(|u| u.id == *creator).map(|u| u.home_office.clone());
                if let Some(office) = office
                    && !org.projects.iter().any(|p| p.id == *project)
                {
                    org.projects.push(crate::model::Project {
                        id: project.clone(),
                        name: name.clone(),
                        office,
                        team: vec![creator.clone()],
                        created_by: Some(creator.clone()),
                    });
                }
            }
            Edit::CreateGroup { group, owner, members } => {
                let network = org.users.iter().find(|u| u.id == *owner).and_then(|u| {
                    org.offices.iter().find(|o| o.id == u.home_office).map(|o| o.network.clone())
                });
                if let Some(network) = network
                    && !org.groups.iter().any(|g| g.id == *group)
                {
                    let mut everyone = vec![owner.clone()];
                    for member in members {
                        if !everyone.contains(member) {
                            everyone.push(member.clone());
                        }
                    }
                    org.groups.push(crate::model::Group {
                        id: group.clone(),
                        network,
                        members: everyone,
                        owners: vec![owner.clone()],
                    });
                }
            }
            Edit::StartDm { dm, from, with } => {
                let known = |id: &String| org.users.iter().any(|u| u.id == *id);
                if known(from) && known(with) && !org.direct_messages.iter().any(|d| d.id == *dm) {
                    org.direct_messages.push(crate::model::DirectMessage {
                        id: dm.clone(),
                        participants: vec![from.clone(), with.clone()],
                        started_by: from.clone(),
                    });
                }
            }
            Edit::DeactivateUser { user } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.active = false;
                }
            }
            Edit::RemoveFromTeam { user, project } => {
                if let Some(project) = org.projects.iter_mut().find(|p| p.id == *project) {
                    project.team.retain(|member| member != user);
                    if project.created_by.as_ref() == Some(user) {
                        project.created_by = None;
                    }
                }
            }
            Edit::RemoveFromGroup { user, group } => {
                if let Some(group) = org.groups.iter_mut().find(|g| g.id == *group) {
                    group.members.retain(|member| member != user);
                    group.owners.retain(|owner| owner != user);
                }
            }
            Edit::RemoveAdditionalOffice { user, office } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.additional_offices.retain(|o| o != office);
                }
            }
            Edit::EndAgreement { agreement } => org.agreements.retain(|a| a.id != *agreement),
            Edit::LowerRole { user, role } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.role = user.role.min(*role);
                }
            }
            Edit::OverrideOff { office, profile, permission } => {
                if let Some(office) = org.offices.iter_mut().find(|o| o.id == *office) {
                    office.overrides.entry(profile.clone()).or_default().insert(permission.clone(), false);
                }
            }
            Edit::ClearOverride { office, profile, permission } => {
                if let Some(office) = org.offices.iter_mut().find(|o| o.id == *office) {
                    if let Some(switches) = office.overrides.get_mut(profile) {
                        if switches.remove(permission).is_some() && switches.is_empty() {
                            office.overrides.remove(profile);
                        }
                    }
                }
            }
            Edit::AnnouncementsOff { network } => {
                if let Some(network) = org.networks.iter_mut().find(|n| n.id == *network) {
                    network.features.announcements = false;
                }
            }
            Edit::DefaultOff { network, profile, permission } => {
                if let Some(network) = org.networks.iter_mut().find(|n| n.id == *network) {
                    if let Some(keys) = network.defaults.get_mut(profile) {
                        keys.retain(|key| key != permission);
                    }
                }
            }
            Edit::RevokeNetworkSuperuser { user } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.network_superuser = false;
                }
            }
            Edit::RevokeSystemSuperuser { user } => {
                if let Some(user) = org.users.iter_mut().find(|u| u.id == *user) {
                    user.system_superuser = false;
                }
            }
        }
    }

    /// How far the edit reaches: one user and one thing (1) up to the whole organisation (8).
    /// Suggestions are ordered by their number of edits, then by this. An inverse reaches as
    /// far as the edit it undoes.
    pub(crate) fn reach(&self) -> u32 {
        match self {
            Edit::ActivateUser { .. }
            | Edit::AddToTeam { .. }
            | Edit::AddToGroup { .. }
            | Edit::DeactivateUser { .. }
            | Edit::RemoveFromTeam { .. }
            | Edit::RemoveFromGroup { .. }
            | Edit::CreateProject { .. }
            | Edit::CreateGroup { .. }
            | Edit::StartDm { .. } => 1,
            Edit::AddAdditionalOffice { .. }
            | Edit::ShareWithOffice { .. }
            | Edit::RemoveAdditionalOffice { .. }
            | Edit::EndAgreement { .. } => 2,
            Edit::SetAccess { access: AccessLevel::AllInOffice | AccessLevel::InviteOnly, .. }
            | Edit::RaiseRole { .. }
            | Edit::LowerRole { .. } => 3,
            Edit::OverrideOn { .. } | Edit::OverrideOff { .. } | Edit::ClearOverride { .. } => 4,
            Edit::AnnouncementsOn { .. } | Edit::AnnouncementsOff { .. } => 5,
            Edit::DefaultOn { .. }
            | Edit::DefaultOff { .. }
            | Edit::SetAccess { access: AccessLevel::NetworkAdmin, .. } => 6,
            Edit::MakeNetworkSuperuser { .. } | Edit::RevokeNetworkSuperuser { .. } => 7,
            Edit::MakeSystemSuperuser { .. } | Edit::RevokeSystemSuperuser { .. } => 8,
        }
    }
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edit::ActivateUser { user } => write!(f, "make `{user}` active"),
            Edit::AddToTeam { user, project } => write!(f, "add `{user}` to the team of `{project}`"),
            Edit::AddToGroup { user, group } => write!(f, "make `{user}` a member of group `{group}`"),
            Edit::AddAdditionalOffice { user, office } => {
                write!(f, "give `{user}` office `{office}` as an additional office")
            }
            Edit::ShareWithOffice { user, guest_office, host_office, profile, .. } => write!(
                f,
                "an agreement sharing `{user}` (of office `{guest_office}`) with office `{host_office}` as `{profile}`"
            ),
            Edit::SetAccess { user, access } => {
                write!(f, "set `{user}`'s access level to {}", access.as_str())
            }
            Edit::RaiseRole { user, role } => write!(f, "raise `{user}`'s role to {}", role.as_str()),
            Edit::OverrideOn { office, profile, permission } => {
                write!(f, "switch office `{office}`'s override of `{permission}` for `{profile}` on")
            }
            Edit::AnnouncementsOn { network } => write!(f, "switch announcements on in network `{network}`"),
            Edit::DefaultOn { network, profile, permission } => {
                write!(f, "add `{permission}` to network `{network}`'s defaults for `{profile}`")
            }
            Edit::MakeNetworkSuperuser { user } => write!(f, "make `{user}` a superuser of their network"),
            Edit::MakeSystemSuperuser { user } => write!(f, "make `{user}` a system superuser"),
            Edit::CreateProject { project, name, creator } => {
                write!(f, "`{creator}` creates project `{project}`, named `{name}`")
            }
            Edit::CreateGroup { group, owner, members } => {
                write!(f, "`{owner}` creates group `{group}` with {} other members", members.len())
            }
            Edit::StartDm { dm, from, with } => {
                write!(f, "`{from}` starts direct message `{dm}` with `{with}`")
            }
            Edit::DeactivateUser { user } => write!(f, "make `{user}` inactive"),
            Edit::RemoveFromTeam { user, project } => {
                write!(f, "remove `{user}` from the team of `{project}`")
            }
            Edit::RemoveFromGroup { user, group } => write!(f, "remove `{user}` from group `{group}`"),
            Edit::RemoveAdditionalOffice { user, office } => {
                write!(f, "take office `{office}` from `{user}`'s additional offices")
            }
            Edit::EndAgreement { agreement } => write!(f, "end agreement `{agreement}`"),
            Edit::LowerRole { user, role } => write!(f, "lower `{user}`'s role to {}", role.as_str()),
            Edit::OverrideOff { office, profile, permission } => {
                write!(f, "switch office `{office}`'s override of `{permission}` for `{profile}` off")
            }
            Edit::ClearOverride { office, profile, permission } => {
                write!(f, "remove office `{office}`'s override of `{permission}` for `{profile}`")
            }
            Edit::AnnouncementsOff { network } => {
                write!(f, "switch announcements off in network `{network}`")
            }
            Edit::DefaultOff { network, profile, permission } => {
                write!(f, "remove `{permission}` from network `{network}`'s defaults for `{profile}`")
            }
            Edit::RevokeNetworkSuperuser { user } => {
                write!(f, "make `{user}` no longer a superuser of their network")
            }
            Edit::RevokeSystemSuperuser { user } => write!(f, "make `{user}` no longer a system superuser"),
        }
    }
}

/// Why an edit cannot be checked or made: it names something the organisation lacks.
///
/// Some names are looked up in the Network the edit acts in, and are unknown outside it: a
/// profile must be known to the Network of the Office (override edits), of the Network
/// (default edits) or of the host Office (`share_with_office`), a group and an additional
/// Office must be of the user's Network. A permission must be a profile permission the
/// organisation knows (not a role or administrative key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownId {
    /// What the edit names: `user`, `project`, `group`, `office`, `network`, `agreement`,
    /// `profile` or `permission`.
    pub kind: &'static str,
    /// The id, profile name or permission key, as the edit wrote it.
    pub id: String,
}

impl fmt::Display for UnknownId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} `{}`", self.kind, self.id)
    }
}

impl std::error::Error for UnknownId {}

impl Edit {
    /// The administrative question whose answer, for the caller, decides whether they may make
    /// this edit (spec §2): `overrides.edit` on the Office for an override, `project.manage`
    /// on the Project's Office for a team, `user.manage` on the user's home Office for what is
    /// the user's own (groups, Offices, access level, role, active, network superuser),
    /// `office.manage` on the host Office for an Agreement, `defaults.edit` on the Network for
    /// its defaults, and `network.manage` for announcements and system superusers.
    ///
    /// Checks first that every id the edit names is in `policy` (the first unknown, in the
    /// order the edit names them, is the error; see [`UnknownId`]), except the id of the new
    /// Agreement of `share_with_office`: [`Edit::apply`] gives it a fresh one if it is taken
    /// (a suggestion made on a scoped snapshot cannot know every Agreement). What validation
    /// checks between known things (an Agreement's guest Office is its user's home Office, its
    /// host another Network's; no conversation across the firewall without an Agreement) is
    /// left to [`Policy::new`] on the edited organisation.
    pub fn authority(&self, policy: &Policy) -> Result<Query, UnknownId> {
        let office_admin = |permission: AdminPermission, office: Idx| {
            Query::can(permission.key(), Target::office(policy.office_id(office)))
        };
        match self {
            Edit::OverrideOn { office, profile, permission }
            | Edit::OverrideOff { office, profile, permission }
            | Edit::ClearOverride { office, profile, permission } => {
                let (o, entry) = find_office(policy, office)?;
                known_profile(policy, entry.network, profile)?;
                known_permission(policy, permission)?;
                Ok(office_admin(AdminPermission::OverridesEdit, o))
            }
            Edit::AddToTeam { user, project } | Edit::RemoveFromTeam { user, project } => {
                find_user(policy, user)?;
                let p = policy.ids.projects.get(project).ok_or_else(|| unknown("project", project))?;
                let office = policy.project(p).ok_or_else(|| unknown("project", project))?.office;
                Ok(office_admin(AdminPermission::ProjectManage, office))
            }
            Edit::AddToGroup { user, group } | Edit::RemoveFromGroup { user, group } => {
                let member = find_user(policy, user)?;
                if find_group(policy, group)?.network != member.network {
                    return Err(unknown("group", group));
                }
                Ok(office_admin(AdminPermission::UserManage, member.home_office))
            }
            Edit::AddAdditionalOffice { user, office } | Edit::RemoveAdditionalOffice { user, office } => {
                let entry = find_user(policy, user)?;
                if find_office(policy, office)?.1.network != entry.network {
                    return Err(unknown("office", office));
                }
                Ok(office_admin(AdminPermission::UserManage, entry.home_office))
            }
            Edit::ActivateUser { user }
            | Edit::DeactivateUser { user }
            | Edit::SetAccess { user, .. }
            | Edit::RaiseRole { user, .. }
            | Edit::LowerRole { user, .. }
            | Edit::MakeNetworkSuperuser { user }
            | Edit::RevokeNetworkSuperuser { user } => {
                Ok(office_admin(AdminPermission::UserManage, find_user(policy, user)?.home_office))
            }
            Edit::ShareWithOffice { agreement: _, user, guest_office, host_office, profile } => {
                find_user(policy, user)?;
                find_office(policy, guest_office)?;
                let (host, entry) = find_office(policy, host_office)?;
                known_profile(policy, entry.network, profile)?;
                Ok(office_admin(AdminPermission::OfficeManage, host))
            }
            Edit::EndAgreement { agreement } => {
                let host = policy
                    .agreements
                    .iter()
                    .find(|a| a.id == *agreement)
                    .ok_or_else(|| unknown("agreement", agreement))?
                    .host_office;
                Ok(office_admin(AdminPermission::OfficeManage, host))
            }
            Edit::DefaultOn { network, profile, permission }
            | Edit::DefaultOff { network, profile, permission } => {
                let n = *policy.ids.networks.get(network).ok_or_else(|| unknown("network", network))?;
                known_profile(policy, n, profile)?;
                known_permission(policy, permission)?;
                Ok(Query::can(AdminPermission::DefaultsEdit.key(), Target::network(network.clone())))
            }
            Edit::AnnouncementsOn { network } | Edit::AnnouncementsOff { network } => {
                if !policy.ids.networks.contains_key(network) {
                    return Err(unknown("network", network));
                }
                Ok(Query::can(AdminPermission::NetworkManage.key(), Target::none()))
            }
            Edit::MakeSystemSuperuser { user } | Edit::RevokeSystemSuperuser { user } => {
                find_user(policy, user)?;
                Ok(Query::can(AdminPermission::NetworkManage.key(), Target::none()))
            }
            Edit::CreateProject { creator, .. } => {
                find_user(policy, creator)?;
                Ok(Query::can("project.create", Target::none()))
            }
            Edit::CreateGroup { owner, members, .. } => {
                let entry = find_user(policy, owner)?;
                for member in members {
                    if find_user(policy, member)?.network != entry.network {
                        return Err(unknown("user", member));
                    }
                }
                Ok(Query::can("group.create", Target::none()))
            }
            Edit::StartDm { from, with, .. } => {
                find_user(policy, from)?;
                find_user(policy, with)?;
                Ok(Query::can("dm.start", Target::person(with.clone())))
            }
        }
    }
}

impl Edit {
    /// The user an edit acts for, when it is one of a user's own actions (`create_project`,
    /// `create_group`, `start_dm`): only they may make it, by the permission of the action.
    /// `None` for an administrator's edit.
    pub fn actor(&self) -> Option<&str> {
        match self {
            Edit::CreateProject { creator, .. } => Some(creator),
            Edit::CreateGroup { owner, .. } => Some(owner),
            Edit::StartDm { from, .. } => Some(from),
            _ => None,
        }
    }
}

impl Policy {
    /// Whether `caller` may make `edit` at `now`: the evaluator's decision, with its code,
    /// sentence and facts, on [`Edit::authority`]. An unknown caller is a denial
    /// (`unknown_user`), as for any question; an edit naming what the policy lacks is an
    /// error.
    ///
    /// An edit that acts for a user ([`Edit::actor`]: a Project, group or conversation they
    /// start) is theirs alone to make: for anyone else it is a denial (`out_of_scope`), whatever
    /// their rights.
    pub fn authorize(&self, caller: &str, edit: &Edit, now: Timestamp) -> Result<Decision, UnknownId> {
        let query = edit.authority(self)?;
        if let Some(actor) = edit.actor()
            && actor != caller
        {
            return Ok(Decision {
                allowed: false,
                code: crate::decision::Code::OutOfScope,
                message: format!("only `{actor}` may make this edit: it acts for them"),
                facts: vec![crate::decision::Fact::SnapshotScope { scope: format!("user:{actor}") }],
                grants: Vec::new(),
            });
        }
        Ok(self.decide(caller, &query, now))
    }
}

fn unknown(kind: &'static str, id: &str) -> UnknownId {
    UnknownId { kind, id: id.to_owned() }
}

fn find_user<'a>(policy: &'a Policy, id: &str) -> Result<&'a UserEntry, UnknownId> {
    policy.ids.users.get(id).and_then(|&u| policy.user(u)).ok_or_else(|| unknown("user", id))
}

fn find_office<'a>(policy: &'a Policy, id: &str) -> Result<(Idx, &'a OfficeEntry), UnknownId> {
    let o = *policy.ids.offices.get(id).ok_or_else(|| unknown("office", id))?;
    Ok((o, policy.office(o).ok_or_else(|| unknown("office", id))?))
}

fn find_group<'a>(policy: &'a Policy, id: &str) -> Result<&'a GroupEntry, UnknownId> {
    policy.ids.groups.get(id).and_then(|&g| policy.group(g)).ok_or_else(|| unknown("group", id))
}

/// A profile Network `network` knows: one of the six defaults, or one its defaults name.
fn known_profile(policy: &Policy, network: Idx, profile: &str) -> Result<(), UnknownId> {
    match (policy.profiles.get(profile), policy.network(network)) {
        (Some(p), Some(network)) if network.defaults.knows(p) => Ok(()),
        _ => Err(unknown("profile", profile)),
    }
}

/// A profile permission the organisation knows: the seven of the spec and those a Network or
/// Office names (never a role or administrative key).
fn known_permission(policy: &Policy, permission: &str) -> Result<(), UnknownId> {
    policy.permissions.get(permission).map(|_| ()).ok_or_else(|| unknown("permission", permission))
}
