//! What a decision says: allowed or not, a stable reason code, a sentence, and the facts it
//! rested on. A denial is a value, never an error.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::grant::Grant;

/// One decision, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the user may.
    pub allowed: bool,
    /// Why, as a stable machine-readable code.
    pub code: Code,
    /// Why, as a sentence a person can read.
    pub message: String,
    /// The facts the decision rested on, in the order the rules were checked.
    pub facts: Vec<Fact>,
    /// For a denial from [`crate::Policy::explain`], the smallest edits of the organisation
    /// that would allow it. Empty otherwise, and then left out of JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
}

/// The reason for a decision. A denial's code names the first rule that failed; an allowed
/// decision's code names the last rule that passed (see `docs/decisions.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    // Allowed.
    /// On the Project's team.
    OnTeam,
    /// Through the `network_admin` access level.
    NetworkAdmin,
    /// As a superuser of the Network.
    NetworkSuperuser,
    /// The Project's Office is the user's home or an additional Office.
    OfficeLinked,
    /// The Network default for the profile includes the permission.
    ProfileGrants,
    /// An Office override switches the permission on.
    OfficeOverrideOn,
    /// The role is at or above the Network's minimum.
    RoleMeetsMinimum,
    /// A participant of the direct message.
    Participant,
    /// A member of the group.
    GroupMember,
    /// A person of the user's own Network.
    SameNetwork,
    /// A person across the firewall, through an active Agreement.
    SharedByAgreement,
    /// The user themself.
    #[serde(rename = "self")]
    Itself,
    /// A Connection: shares a group or a direct message.
    Connection,
    /// A system superuser.
    SystemSuperuser,
    // Denied.
    /// The acting user is not in the snapshot.
    UnknownUser,
    /// The acting user is inactive.
    InactiveUser,
    /// No such permission.
    UnknownPermission,
    /// The permission or view needs a target the query lacks.
    MissingTarget,
    /// A target of the wrong kind, or more than one.
    InvalidTarget,
    /// The target is not in the snapshot.
    UnknownResource,
    /// The target lies behind the firewall.
    Firewall,
    /// Only an expired Agreement would have linked the user to it.
    AgreementExpired,
    /// Not on the Project's team.
    NotOnTeam,
    /// The Project's Office is not one of the user's Offices.
    OfficeNotLinked,
    /// The profile does not include the permission.
    ProfileLacksPermission,
    /// An Office override switches the permission off.
    OfficeOverrideOff,
    /// The role is below the Network's minimum.
    RoleBelowMinimum,
    /// The feature is switched off.
    FeatureOff,
    /// Not a member of the group.
    NotGroupMember,
    /// Not a participant of the direct message.
    NotAParticipant,
    /// Not a Connection, and no `people.search_all`.
    NotAConnection,
    /// The person asked about is inactive.
    TargetInactive,
    /// Only system superusers may.
    NotSystemSuperuser,
    /// Only the Network's superusers and `network_admin` users may.
    NotNetworkAdmin,
    /// The signed snapshot has expired.
    SnapshotExpired,
    /// The snapshot is scoped to someone else (another user, or another Network).
    OutOfScope,
}

impl Code {
    /// Whether this code allows.
    pub const fn is_allowed(self) -> bool {
        matches!(
            self,
            Code::OnTeam
                | Code::NetworkAdmin
                | Code::NetworkSuperuser
                | Code::OfficeLinked
                | Code::ProfileGrants
                | Code::OfficeOverrideOn
                | Code::RoleMeetsMinimum
                | Code::Participant
                | Code::GroupMember
                | Code::SameNetwork
                | Code::SharedByAgreement
                | Code::Itself
                | Code::Connection
                | Code::SystemSuperuser
        )
    }

    /// The stable snake_case spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::OnTeam => "on_team",
            Code::NetworkAdmin => "network_admin",
            Code::NetworkSuperuser => "network_superuser",
            Code::OfficeLinked => "office_linked",
            Code::ProfileGrants => "profile_grants",
            Code::OfficeOverrideOn => "office_override_on",
            Code::RoleMeetsMinimum => "role_meets_minimum",
            Code::Participant => "participant",
            Code::GroupMember => "group_member",
            Code::SameNetwork => "same_network",
            Code::SharedByAgreement => "shared_by_agreement",
            Code::Itself => "self",
            Code::Connection => "connection",
            Code::SystemSuperuser => "system_superuser",
            Code::UnknownUser => "unknown_user",
            Code::InactiveUser => "inactive_user",
            Code::UnknownPermission => "unknown_permission",
            Code::MissingTarget => "missing_target",
            Code::InvalidTarget => "invalid_target",
            Code::UnknownResource => "unknown_resource",
            Code::Firewall => "firewall",
            Code::AgreementExpired => "agreement_expired",
            Code::NotOnTeam => "not_on_team",
            Code::OfficeNotLinked => "office_not_linked",
            Code::ProfileLacksPermission => "profile_lacks_permission",
            Code::OfficeOverrideOff => "office_override_off",
            Code::RoleBelowMinimum => "role_below_minimum",
            Code::FeatureOff => "feature_off",
            Code::NotGroupMember => "not_group_member",
            Code::NotAParticipant => "not_a_participant",
            Code::NotAConnection => "not_a_connection",
            Code::TargetInactive => "target_inactive",
            Code::NotSystemSuperuser => "not_system_superuser",
            Code::NotNetworkAdmin => "not_network_admin",
            Code::SnapshotExpired => "snapshot_expired",
            Code::OutOfScope => "out_of_scope",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fact a decision rested on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// The acting user and what the rules read of them.
    User {
        /// The user.
        user: String,
        /// Their Network.
        network: String,
        /// Their home Office.
        home_office: String,
        /// Their Project Access Level.
        access: String,
        /// Their Permission Profile.
        profile: String,
        /// Their messaging role.
        role: String,
    },
    /// A Project and where it lies.
    Project {
        /// The Project.
        project: String,
        /// Its Office.
        office: String,
        /// Its Network.
        network: String,
    },
    /// Whether the user is on the Project's team.
    Team {
        /// The Project.
        project: String,
        /// On the team or not.
        member: bool,
    },
    /// An Agreement that links the user across the firewall.
    Agreement {
        /// The Agreement.
        agreement: String,
        /// Its host Office.
        host_office: String,
        /// Its guest Office.
        guest_office: String,
        /// The profile shared users take on in the host Office.
        profile: String,
        /// When it expires, if ever.
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<String>,
        /// Whether it is in force now.
        active: bool,
    },
    /// The profile, Office and Network a profile permission was read from.
    Profile {
        /// The profile.
        profile: String,
        /// The Office whose overrides apply.
        office: String,
        /// The Network whose defaults apply.
        network: String,
        /// `home` for the user's own profile, or the Agreement's id.
        via: String,
    },
    /// An Office override that decided a permission.
    Override {
        /// The Office.
        office: String,
        /// The profile.
        profile: String,
        /// The permission.
        permission: String,
        /// On or off.
        value: bool,
    },
    /// A Network default that decided a permission.
    NetworkDefault {
        /// The Network.
        network: String,
        /// The profile.
        profile: String,
        /// The permission.
        permission: String,
        /// Whether the default includes it.
        value: bool,
    },
    /// A role threshold.
    Threshold {
        /// The Network whose threshold applies.
        network: String,
        /// The role permission.
        permission: String,
        /// The minimum role.
        minimum: String,
        /// The user's role.
        role: String,
    },
    /// A feature switch.
    Feature {
        /// The Network.
        network: String,
        /// The feature.
        feature: String,
        /// On or off.
        on: bool,
    },
    /// Group membership.
    GroupMember {
        /// The group.
        group: String,
        /// A member or not.
        member: bool,
    },
    /// Direct message participation.
    Participant {
        /// The direct message.
        dm: String,
        /// A participant or not.
        participant: bool,
    },
    /// Another person and where they are.
    Person {
        /// The person.
        person: String,
        /// Their Network.
        network: String,
        /// Their home Office.
        home_office: String,
        /// Whether they are active.
        active: bool,
    },
    /// Whether another person is a Connection of the user, and through what.
    Connection {
        /// The person.
        person: String,
        /// The shared group or direct message, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    /// An Office and its Network, for administrative permissions.
    Office {
        /// The Office.
        office: String,
        /// Its Network.
        network: String,
    },
    /// A superuser flag.
    Superuser {
        /// `system` or `network`.
        kind: String,
        /// Whether the user holds it.
        value: bool,
    },
    /// The snapshot's validity.
    SnapshotExpiry {
        /// When the snapshot expires.
        expires_at: String,
    },
    /// The snapshot's scope.
    SnapshotScope {
        /// `user:ID` or `network:ID`.
        scope: String,
    },
}
