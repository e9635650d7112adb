//! The permission keys of spec §2 that are fixed by the product: role permissions (messaging)
//! and administrative permissions. Profile permissions are open-ended and interned per
//! snapshot by [`crate::Policy`].

use crate::model::Role;

/// A messaging permission gated by a per-Network minimum role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RolePermission {
    /// `group.create`.
    GroupCreate,
    /// `people.search_all`: person search over the whole Network, not only Connections.
    PeopleSearchAll,
    /// `dm.start`, with the other person as target.
    DmStart,
    /// `announcement.org`.
    AnnouncementOrg,
    /// `announcement.group`, with the group as target.
    AnnouncementGroup,
}

impl RolePermission {
    /// Every role permission with a threshold, in a fixed order (the index of a threshold).
    pub const ALL: [RolePermission; 5] = [
        RolePermission::GroupCreate,
        RolePermission::PeopleSearchAll,
        RolePermission::DmStart,
        RolePermission::AnnouncementOrg,
        RolePermission::AnnouncementGroup,
    ];

    /// The stable key.
    pub const fn key(self) -> &'static str {
        match self {
            RolePermission::GroupCreate => "group.create",
            RolePermission::PeopleSearchAll => "people.search_all",
            RolePermission::DmStart => "dm.start",
            RolePermission::AnnouncementOrg => "announcement.org",
            RolePermission::AnnouncementGroup => "announcement.group",
        }
    }

    /// The minimum role when the Network does not say.
    pub const fn default_minimum(self) -> Role {
        match self {
            RolePermission::GroupCreate | RolePermission::PeopleSearchAll | RolePermission::DmStart => {
                Role::User
            }
            RolePermission::AnnouncementOrg => Role::Admin,
            RolePermission::AnnouncementGroup => Role::Manager,
        }
    }

    /// The position of this permission in [`RolePermission::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The role permission with this key.
    pub fn from_key(key: &str) -> Option<RolePermission> {
        RolePermission::ALL.into_iter().find(|permission| permission.key() == key)
    }
}

/// An administrative permission (spec §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminPermission {
    /// `network.manage`: create or edit Networks; system superusers only; no target.
    NetworkManage,
    /// `defaults.edit`: a Network's default permissions; system superusers only.
    DefaultsEdit,
    /// `office.manage`, inside an Office's Network.
    OfficeManage,
    /// `user.manage`, inside an Office's Network.
    UserManage,
    /// `project.manage`, inside an Office's Network.
    ProjectManage,
    /// `overrides.edit`, inside an Office's Network.
    OverridesEdit,
}

impl AdminPermission {
    /// Every administrative permission.
    pub const ALL: [AdminPermission; 6] = [
        AdminPermission::NetworkManage,
        AdminPermission::DefaultsEdit,
        AdminPermission::OfficeManage,
        AdminPermission::UserManage,
        AdminPermission::ProjectManage,
        AdminPermission::OverridesEdit,
    ];

    /// The stable key.
    pub const fn key(self) -> &'static str {
        match self {
            AdminPermission::NetworkManage => "network.manage",
            AdminPermission::DefaultsEdit => "defaults.edit",
            AdminPermission::OfficeManage => "office.manage",
            AdminPermission::UserManage => "user.manage",
            AdminPermission::ProjectManage => "project.manage",
            AdminPermission::OverridesEdit => "overrides.edit",
        }
    }

    /// The administrative permission with this key.
    pub fn from_key(key: &str) -> Option<AdminPermission> {
        AdminPermission::ALL.into_iter().find(|permission| permission.key() == key)
    }
}

/// `dm.reply`: needs nothing but being a participant.
pub const DM_REPLY: &str = "dm.reply";
/// `people.search`: find one person in person search.
pub const PEOPLE_SEARCH: &str = "people.search";

/// Whether `key` belongs to the product (role, messaging or administrative), and so may not be
/// used as a profile permission.
pub fn is_reserved(key: &str) -> bool {
    key == DM_REPLY
        || key == PEOPLE_SEARCH
        || RolePermission::from_key(key).is_some()
        || AdminPermission::from_key(key).is_some()
}

/// Why a profile permission key is malformed, if it is.
pub fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        return Some("is empty");
    }
    if !key.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte)) {
        return Some("may hold only `a-z`, `0-9`, `.`, `_` and `-`");
    }
    if is_reserved(key) {
        return Some("is a role or administrative permission, not a profile permission");
    }
    None
}
