//! What can be wrong with an organisation, each problem naming the offending id and field.
//!
//! The checks themselves run while [`crate::Policy::new`] resolves ids, so that an
//! organisation is read once; this module holds the error types.

use std::fmt;

/// Every problem found in an organisation, in the order found. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors {
    errors: Vec<ValidationError>,
}

impl ValidationErrors {
    pub(crate) fn new(errors: Vec<ValidationError>) -> ValidationErrors {
        ValidationErrors { errors }
    }

    /// The problems, in the order found.
    pub fn errors(&self) -> &[ValidationError] {
        &self.errors
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, of a readable length: the first few problems, then how many more.
        const SHOWN: usize = 10;
        let count = self.errors.len();
        write!(f, "{count} problem{} in the organisation", if count == 1 { "" } else { "s" })?;
        for error in self.errors.iter().take(SHOWN) {
            write!(f, "; {error}")?;
        }
        if count > SHOWN {
            write!(f, "; and {} more", count - SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// One problem: where it is (`users` `u-ada` `home_office`) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The kind of entity: `networks`, `offices`, `users`, ….
    pub entity: &'static str,
    /// The offending entity's id (empty when the id itself is missing).
    pub id: String,
    /// The field at fault.
    pub field: String,
    /// What is wrong.
    pub kind: ValidationErrorKind,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationErrorKind {
    /// Ids are non-empty.
    EmptyId,
    /// Ids are unique per kind.
    DuplicateId,
    /// A reference to an entity that does not exist.
    Dangling {
        /// What kind of entity was expected.
        expected: &'static str,
        /// The id that was not found.
        id: String,
    },
    /// The same id twice in one list.
    Repeated {
        /// The repeated id.
        id: String,
    },
    /// An additional Office, group member or Agreement end in the wrong Network.
    WrongNetwork {
        /// The id in the wrong Network.
        id: String,
        /// The Network it is in.
        actual: String,
        /// The Network it had to be in.
        expected: String,
    },
    /// An Agreement whose host and guest Offices are in one Network.
    SameNetwork {
        /// The one Network.
        network: String,
    },
    /// A profile name that the Network neither defaults nor defines.
    UnknownProfile {
        /// The profile name.
        profile: String,
        /// The Network asked.
        network: String,
    },
    /// A messaging key that is not a role permission with a threshold.
    UnknownMessagingKey {
        /// The key.
        key: String,
    },
    /// A threshold that would take a role permission from admins.
    ThresholdAboveAdmin {
        /// The role permission.
        key: String,
    },
    /// A profile permission key that is malformed, or is a role or administrative key.
    BadPermissionKey {
        /// The key.
        key: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The creator of a Project is not on its team.
    CreatorNotOnTeam {
        /// The creator.
        user: String,
    },
    /// A group owner who is not a member.
    OwnerNotMember {
        /// The owner.
        user: String,
    },
    /// A listed Agreement user whose home Office is not the guest Office.
    NotOfGuestOffice {
        /// The user.
        user: String,
        /// The user's home Office.
        home_office: String,
    },
    /// A direct message without exactly two distinct participants.
    Participants {
        /// How many distinct participants there were.
        count: usize,
    },
    /// A direct message started by someone who is not a participant.
    StarterNotParticipant {
        /// The starter.
        user: String,
    },
    /// A direct message between two Networks that no Agreement links.
    AcrossTheFirewall {
        /// One participant.
        first: String,
        /// The other.
        second: String,
    },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.id.is_empty() {
            write!(f, "{}: {}: ", self.entity, self.field)?;
        } else {
            write!(f, "{} `{}`: {}: ", self.entity, self.id, self.field)?;
        }
        match &self.kind {
            ValidationErrorKind::EmptyId => write!(f, "ids must not be empty"),
            ValidationErrorKind::DuplicateId => write!(f, "id `{}` is used twice", self.id),
            ValidationErrorKind::Dangling { expected, id } => write!(f, "unknown {expected} `{id}`"),
            ValidationErrorKind::Repeated { id } => write!(f, "`{id}` is listed twice"),
            ValidationErrorKind::WrongNetwork { id, actual, expected } => {
                write!(f, "`{id}` is in network `{actual}`, not `{expected}`")
            }
            ValidationErrorKind::SameNetwork { network } => write!(
                f,
                "host and guest offices are both in network `{network}`; an agreement crosses the firewall"
            ),
            ValidationErrorKind::UnknownProfile { profile, network } => {
                write!(f, "unknown permission profile `{profile}` in network `{network}`")
            }
            ValidationErrorKind::UnknownMessagingKey { key } => {
                write!(f, "`{key}` is not a role permission with a threshold")
            }
            ValidationErrorKind::ThresholdAboveAdmin { key } => write!(
                f,
                "threshold for `{key}` would take it from admins, who always hold every role permission"
            ),
            ValidationErrorKind::BadPermissionKey { key, reason } => {
                write!(f, "permission key `{key}` {reason}")
            }
            ValidationErrorKind::CreatorNotOnTeam { user } => {
                write!(f, "creator `{user}` is not on the team")
            }
            ValidationErrorKind::OwnerNotMember { user } => {
                write!(f, "owner `{user}` is not a member")
            }
            ValidationErrorKind::NotOfGuestOffice { user, home_office } => {
                write!(f, "`{user}` has home office `{home_office}`, not the agreement's guest office")
            }
            ValidationErrorKind::Participants { count } => {
                write!(f, "a direct message has two distinct participants, not {count}")
            }
            ValidationErrorKind::StarterNotParticipant { user } => {
                write!(f, "`{user}` started it but is not a participant")
            }
            ValidationErrorKind::AcrossTheFirewall { first, second } => {
                write!(f, "`{first}` and `{second}` are of different networks and no agreement links them")
            }
        }
    }
}

impl ValidationError {
    /// Every id the problem names (the entity's, and those of what it refers to), so that one
    /// who may not know of all of them can be told less.
    pub fn named_ids(&self) -> Vec<&str> {
        let mut ids = vec![self.id.as_str()];
        match &self.kind {
            ValidationErrorKind::Dangling { id, .. } | ValidationErrorKind::Repeated { id } => ids.push(id),
            ValidationErrorKind::WrongNetwork { id, actual, expected } => {
                ids.extend([id.as_str(), actual.as_str(), expected.as_str()]);
            }
            ValidationErrorKind::SameNetwork { network }
            | ValidationErrorKind::UnknownProfile { network, .. } => {
                ids.push(network);
            }
            ValidationErrorKind::CreatorNotOnTeam { user }
            | ValidationErrorKind::OwnerNotMember { user }
            | ValidationErrorKind::StarterNotParticipant { user } => ids.push(user),
            ValidationErrorKind::NotOfGuestOffice { user, home_office } => {
                ids.extend([user.as_str(), home_office.as_str()]);
            }
            ValidationErrorKind::AcrossTheFirewall { first, second } => {
                ids.extend([first.as_str(), second.as_str()])
            }
            ValidationErrorKind::EmptyId
            | ValidationErrorKind::DuplicateId
            | ValidationErrorKind::Participants { .. }
            | ValidationErrorKind::UnknownMessagingKey { .. }
            | ValidationErrorKind::ThresholdAboveAdmin { .. }
            | ValidationErrorKind::BadPermissionKey { .. } => {}
        }
        ids.retain(|id| !id.is_empty());
        ids
    }
}

impl std::error::Error for ValidationError {}
