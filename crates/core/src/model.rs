//! The organisation source format (spec §7): what the signer reads and what a snapshot's
//! payload carries under `org`.
//!
//! These are plain serde types: they say what is written, not whether it is consistent.
//! [`crate::validate`] checks consistency and [`crate::policy::Policy`] resolves ids once.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// A whole organisation, or the part of one that a scoped snapshot carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    /// Top-level groupings of Offices; each one is a firewall.
    pub networks: Vec<Network>,
    /// Every Office belongs to exactly one Network.
    pub offices: Vec<Office>,
    /// The people of the organisation.
    pub users: Vec<User>,
    /// Projects, each owned by an Office.
    pub projects: Vec<Project>,
    /// Cross-network Agreements (the Alien User system).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agreements: Vec<Agreement>,
    /// Messaging groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Direct message conversations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub direct_messages: Vec<DirectMessage>,
}

/// A Network: profile defaults, messaging thresholds and feature switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Unique among Networks.
    pub id: String,
    /// Shown to people.
    pub name: String,
    /// Per Permission Profile, the profile permissions that are on. A profile named here that
    /// is not one of the six defaults is a custom profile of this Network.
    #[serde(default, deserialize_with = "unique::map", skip_serializing_if = "BTreeMap::is_empty")]
    pub defaults: BTreeMap<String, Vec<String>>,
    /// Minimum role per role permission; a key left out keeps its default threshold.
    #[serde(default, deserialize_with = "unique::map", skip_serializing_if = "BTreeMap::is_empty")]
    pub messaging: BTreeMap<String, Threshold>,
    /// Feature switches.
    #[serde(default, skip_serializing_if = "Features::is_default")]
    pub features: Features,
}

/// A Network's feature switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// Organisation and group announcements; off by default, and off for admins too.
    #[serde(default)]
    pub announcements: bool,
}

impl Features {
    fn is_default(&self) -> bool {
        *self == Features::default()
    }
}

/// An Office of one Network, with its permission overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Office {
    /// Unique among Offices.
    pub id: String,
    /// Shown to people.
    pub name: String,
    /// The one Network this Office belongs to.
    pub network: String,
    /// Profile → permission → on or off, replacing the Network default for users whose home
    /// Office this is.
    #[serde(default, deserialize_with = "unique::nested_map", skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, BTreeMap<String, bool>>,
}

/// A person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Unique among users.
    pub id: String,
    /// Shown to people.
    pub name: String,
    /// The Office whose Network the user belongs to, and whose overrides apply to them.
    pub home_office: String,
    /// Multi-Office: further Offices of the home Office's Network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_offices: Vec<String>,
    /// Project Access Level.
    #[serde(default, skip_serializing_if = "AccessLevel::is_default")]
    pub access: AccessLevel,
    /// Permission Profile.
    pub profile: String,
    /// Messaging role.
    #[serde(default, skip_serializing_if = "Role::is_default")]
    pub role: Role,
    /// May create and edit Networks and edit Network defaults.
    #[serde(default, skip_serializing_if = "is_false")]
    pub system_superuser: bool,
    /// Superuser of the home Office's Network.
    #[serde(default, skip_serializing_if = "is_false")]
    pub network_superuser: bool,
    /// An inactive user sees nothing and may do nothing.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
}

/// A Project, owned by an Office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Unique among Projects.
    pub id: String,
    /// Shown to people.
    pub name: String,
    /// The owning Office.
    pub office: String,
    /// User ids on the Project's team.
    pub team: Vec<String>,
    /// Who created it; on the team when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// An Agreement: shares users of a guest Office with a host Office in another Network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// Unique among Agreements.
    pub id: String,
    /// Where the shared users work.
    pub host_office: String,
    /// Where the shared users come from; in another Network than the host.
    pub guest_office: String,
    /// The shared users; left out, every user whose home Office is the guest Office.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    /// The Permission Profile the shared users take on inside the host Office.
    pub profile: String,
    /// When the Agreement stops; left out, never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// A messaging group of one Network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Unique among groups.
    pub id: String,
    /// The Network the group lives in; every member is of it.
    pub network: String,
    /// Member user ids.
    pub members: Vec<String>,
    /// Owner user ids; every owner is a member.
    pub owners: Vec<String>,
}

/// A direct message conversation between two people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectMessage {
    /// Unique among direct messages.
    pub id: String,
    /// The two participants.
    pub participants: Vec<String>,
    /// Which participant started it.
    pub started_by: String,
}

/// Project Access Level: which Projects a user sees beyond their teams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// Projects of the home and additional Offices (the default).
    #[default]
    AllInOffice,
    /// Only Projects whose team the user is on.
    InviteOnly,
    /// Every Project of the user's Network.
    NetworkAdmin,
}

impl AccessLevel {
    fn is_default(&self) -> bool {
        *self == AccessLevel::default()
    }

    /// The name used in the source format.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::AllInOffice => "all_in_office",
            AccessLevel::InviteOnly => "invite_only",
            AccessLevel::NetworkAdmin => "network_admin",
        }
    }
}

/// Messaging role, ordered `user` < `manager` < `admin`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The default role.
    #[default]
    User,
    /// Has everything a user has.
    Manager,
    /// Has every role permission, always.
    Admin,
}

impl Role {
    fn is_default(&self) -> bool {
        *self == Role::default()
    }

    /// The name used in the source format.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
}

/// A Network's minimum role for a role permission.
///
/// `none` is parsed only so that validation can refuse it with a precise reason: a threshold
/// above `admin` would take the permission from admins, which no setting may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// Everyone.
    User,
    /// Managers and admins.
    Manager,
    /// Admins only.
    Admin,
    /// Nobody: always refused by validation.
    None,
}

impl Threshold {
    /// The role this threshold requires, or `None` for the refused `none`.
    pub fn role(self) -> Option<Role> {
        match self {
            Threshold::User => Some(Role::User),
            Threshold::Manager => Some(Role::Manager),
            Threshold::Admin => Some(Role::Admin),
            Threshold::None => None,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Threshold::User => "user",
            Threshold::Manager => "manager",
            Threshold::Admin => "admin",
            Threshold::None => "none",
        })
    }
}

/// The six Permission Profiles every Network knows.
pub const DEFAULT_PROFILES: [&str; 6] =
    ["operations_user", "project_manager", "account_manager", "general_user", "client", "vendor"];

/// Profile permissions known to every Network; a Network may name more.
pub const KNOWN_PROFILE_PERMISSIONS: [&str; 7] = [
    "project.create",
    "task.create",
    "file.upload",
    "wiki.manage",
    "reports.view",
    "finance.view",
    "timesheet.log",
];

/// Profile permissions that act inside a Project, and so need one as their target.
pub const PROJECT_PERMISSIONS: [&str; 3] = ["task.create", "file.upload", "wiki.manage"];

/// Maps read from JSON with duplicate keys refused: `{"client": [...], "client": []}` would
/// otherwise keep the last silently, and a policy must say one thing once.
mod unique {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};

    pub(super) fn map<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
    where
        D: Deserializer<'de>,
        V: Deserialize<'de>,
    {
        deserializer.deserialize_map(UniqueMap::<V, V>(PhantomData))
    }

    /// Read straight into the outer map (each inner map read by [`Inner`]), with no second map
    /// built from the first.
    pub(super) fn nested_map<'de, D>(
        deserializer: D,
    ) -> Result<BTreeMap<String, BTreeMap<String, bool>>, D::Error>
    where
        D: Deserializer<'de>,
    {
        deserializer.deserialize_map(UniqueMap::<Inner, BTreeMap<String, bool>>(PhantomData))
    }

    struct Inner(BTreeMap<String, bool>);

    impl<'de> Deserialize<'de> for Inner {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Inner, D::Error> {
            map(deserializer).map(Inner)
        }
    }

    impl From<Inner> for BTreeMap<String, bool> {
        fn from(Inner(inner): Inner) -> BTreeMap<String, bool> {
            inner
        }
    }

    /// Reads values as `V`, keeps them as `T`.
    struct UniqueMap<V, T>(PhantomData<(V, T)>);

    impl<'de, V: Deserialize<'de> + Into<T>, T> Visitor<'de> for UniqueMap<V, T> {
        type Value = BTreeMap<String, T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map with unique keys")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut map = BTreeMap::new();
            while let Some((key, value)) = access.next_entry::<String, V>()? {
                if map.contains_key(&key) {
                    return Err(A::Error::custom(format!("duplicate key `{key}`")));
                }
                map.insert(key, value.into());
            }
            Ok(map)
        }
    }
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

fn is_false(value: &bool) -> bool {
    !*value
}
