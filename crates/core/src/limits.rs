//! Limits on what a snapshot may hold, checked after the signature and before any indexing: a
//! trusted signer can still make a mistake, and a verifier must not be made to allocate without
//! bound by one.

use std::fmt;

use crate::model::Org;

/// How much a snapshot may hold. The defaults fit the largest organisations we measure (100k
/// users, 500k Projects) with room to spare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Entities of any one kind (Networks, Offices, users, Projects, Agreements, groups,
    /// direct messages).
    pub entities_per_kind: usize,
    /// Users on one Project's team.
    pub team_size: usize,
    /// Members (or owners) of one group, and users listed by one Agreement.
    pub group_size: usize,
    /// Bytes in one id, permission key or profile name.
    pub id_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { entities_per_kind: 2_000_000, team_size: 10_000, group_size: 100_000, id_bytes: 256 }
    }
}

/// A limit that an organisation goes over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    /// What went over, e.g. `projects`, `team of p-1`, `id`.
    pub what: String,
    /// How many (or how long) it is.
    pub actual: usize,
    /// The limit.
    pub limit: usize,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} has {}, over the limit of {}", self.what, self.actual, self.limit)
    }
}

impl std::error::Error for LimitError {}

impl Limits {
    /// The first limit `org` goes over, if any.
    pub fn check(&self, org: &Org) -> Result<(), LimitError> {
        let over = |what: &str, actual: usize, limit: usize| -> Result<(), LimitError> {
            if actual > limit { Err(LimitError { what: what.to_owned(), actual, limit }) } else { Ok(()) }
        };
        for (kind, count) in [
            ("networks", org.networks.len()),
            ("offices", org.offices.len()),
            ("users", org.users.len()),
            ("projects", org.projects.len()),
            ("agreements", org.agreements.len()),
            ("groups", org.groups.len()),
            ("direct_messages", org.direct_messages.len()),
        ] {
            over(kind, count, self.entities_per_kind)?;
        }
        for project in &org.projects {
            over(&format!("the team of `{}`", short(&project.id)), project.team.len(), self.team_size)?;
        }
        for group in &org.groups {
            over(
                &format!("group `{}`", short(&group.id)),
                group.members.len().max(group.owners.len()),
                self.group_size,
            )?;
        }
        for agreement in &org.agreements {
            let listed = agreement.users.as_ref().map_or(0, Vec::len);
            over(&format!("agreement `{}`", short(&agreement.id)), listed, self.group_size)?;
        }
        let id = |text: &str| over("an id", text.len(), self.id_bytes);
        for network in &org.networks {
            id(&network.id)?;
            for (profile, keys) in &network.defaults {
                id(profile)?;
                keys.iter().try_for_each(|key| id(key))?;
            }
        }
        for office in &org.offices {
            id(&office.id)?;
            id(&office.network)?;
            for (profile, switches) in &office.overrides {
                id(profile)?;
                switches.keys().try_for_each(|key| id(key))?;
            }
        }
        for user in &org.users {
            id(&user.id)?;
            id(&user.home_office)?;
            id(&user.profile)?;
            user.additional_offices.iter().try_for_each(|office| id(office))?;
        }
        for project in &org.projects {
            id(&project.id)?;
            id(&project.office)?;
            project.team.iter().try_for_each(|user| id(user))?;
        }
        for agreement in &org.agreements {
            for text in [&agreement.id, &agreement.host_office, &agreement.guest_office, &agreement.profile] {
                id(text)?;
            }
        }
        for group in &org.groups {
            id(&group.id)?;
            group.members.iter().chain(&group.owners).try_for_each(|user| id(user))?;
        }
        for dm in &org.direct_messages {
            id(&dm.id)?;
            dm.participants.iter().try_for_each(|user| id(user))?;
        }
        Ok(())
    }
}

/// An id cut short for an error message.
fn short(id: &str) -> String {
    let shown: String = id.chars().take(32).collect();
    if shown.len() < id.len() { format!("{shown}…") } else { shown }
}
