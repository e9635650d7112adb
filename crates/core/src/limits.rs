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
        for (kind, count) in [
            ("networks", org.networks.len()),
            ("offices", org.offices.len()),
            ("users", org.users.len()),
            ("projects", org.projects.len()),
            ("agreements", org.agreements.len()),
            ("groups", org.groups.len()),
            ("direct_messages", org.direct_messages.len()),
        ] {
            over(count, self.entities_per_kind, || kind.to_owned())?;
        }
        for project in &org.projects {
            over(project.team.len(), self.team_size, || format!("the team of `{}`", short(&project.id)))?;
        }
        for group in &org.groups {
            let size = group.members.len().max(group.owners.len());
            over(size, self.group_size, || format!("group `{}`", short(&group.id)))?;
        }
        for agreement in &org.agreements {
            let listed = agreement.users.as_ref().map_or(0, Vec::len);
            over(listed, self.group_size, || format!("agreement `{}`", short(&agreement.id)))?;
        }
        let ids = org
            .networks
            .iter()
            .flat_map(|n| {
                std::iter::once(&n.id)
                    .chain(n.defaults.iter().flat_map(|(p, keys)| std::iter::once(p).chain(keys)))
            })
            .chain(org.offices.iter().flat_map(|o| {
                [&o.id, &o.network].into_iter().chain(
                    o.overrides.iter().flat_map(|(p, switches)| std::iter::once(p).chain(switches.keys())),
                )
            }))
            .chain(
                org.users.iter().flat_map(|u| {
                    [&u.id, &u.home_office, &u.profile].into_iter().chain(&u.additional_offices)
                }),
            )
            .chain(org.projects.iter().flat_map(|p| [&p.id, &p.office].into_iter().chain(&p.team)))
            .chain(org.agreements.iter().flat_map(|a| {
                [&a.id, &a.host_office, &a.guest_office, &a.profile]
                    .into_iter()
                    .chain(a.users.iter().flatten())
            }))
            .chain(org.groups.iter().flat_map(|g| std::iter::once(&g.id).chain(&g.members).chain(&g.owners)))
            .chain(org.direct_messages.iter().flat_map(|d| std::iter::once(&d.id).chain(&d.participants)));
        for id in ids {
            over(id.len(), self.id_bytes, || "an id".to_owned())?;
        }
        Ok(())
    }
}

/// An error when `actual` is over `limit`; what went over is only written out then.
fn over(actual: usize, limit: usize, what: impl FnOnce() -> String) -> Result<(), LimitError> {
    if actual > limit { Err(LimitError { what: what(), actual, limit }) } else { Ok(()) }
}

/// An id cut short for an error message.
fn short(id: &str) -> String {
    let shown: String = id.chars().take(32).collect();
    if shown.len() < id.len() { format!("{shown}…") } else { shown }
}
