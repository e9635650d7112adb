//! The edits of an organisation.
//!
//! An [`Edit`] is one concrete change of an [`Org`], written as JSON with its kind under
//! `edit`: `{"edit": "override_on", "office": "o-lon", "profile": "client", "permission":
//! "task.create"}`. [`Edit::apply`] makes it, leniently: an id the organisation lacks changes
//! nothing, and [`crate::Policy::new`] on the result says whether it is valid. Every edit has
//! an inverse (`set_access` is its own). The planner ([`crate::Policy::grants`]) suggests
//! edits that would allow a denied query, and never an inverse.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{AccessLevel, Agreement, Org, Role};

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
            | Edit::RemoveFromGroup { .. } => 1,
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
