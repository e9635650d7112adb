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
        // Every id, in the order of the organisation's fields. Plain loops: this runs once per
        // load, so on a first load in a browser it runs before V8 has optimised it, where each
        // iterator adapter would cost a call.
        let id = |id: &String| over(id.len(), self.id_bytes, || "an id".to_owned());
        let all = |ids: &[String]| ids.iter().try_for_each(id);
        for network in &org.networks {
            id(&network.id)?;
            for (profile, keys) in &network.defaults {
                id(profile)?;
                all(keys)?;
            }
        }
        for office in &org.offices {
            id(&office.id)?;
            id(&office.network)?;
            for (profile, switches) in &office.overrides {
                id(profile)?;
                switches.keys().try_for_each(id)?;
            }
        }
        for user in &org.users {
            id(&user.id)?;
            id(&user.home_office)?;
            id(&user.profile)?;
            all(&user.additional_offices)?;
        }
        for project in &org.projects {
            id(&project.id)?;
            id(&project.office)?;
            all(&project.team)?;
        }
        for agreement in &org.agreements {
            id(&agreement.id)?;
            id(&agreement.host_office)?;
            id(&agreement.guest_office)?;
            id(&agreement.profile)?;
            all(agreement.users.as_deref().unwrap_or_default())?;
        }
        for group in &org.groups {
            id(&group.id)?;
            all(&group.members)?;
            all(&group.owners)?;
        }
        for direct_message in &org.direct_messages {
            id(&direct_message.id)?;
            all(&direct_message.participants)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An organisation with a distinct id at every place [`Limits::check`] reads one.
    const ORG: &str = r#"{
        "networks": [{"id": "N1", "name": "n", "defaults": {"N2": ["N3"]}}],
        "offices": [{"id": "O1", "name": "o", "network": "O2", "overrides": {"O3": {"O4": true}}}],
        "users": [{"id": "U1", "name": "u", "home_office": "U2", "profile": "U3",
                   "additional_offices": ["U4"]}],
        "projects": [{"id": "P1", "name": "p", "office": "P2", "team": ["P3"]}],
        "agreements": [{"id": "A1", "host_office": "A2", "guest_office": "A3", "profile": "A4",
                        "users": ["A5"]}],
        "groups": [{"id": "G1", "network": "n", "members": ["G2"], "owners": ["G3"]}],
        "direct_messages": [{"id": "D1", "participants": ["D2"], "started_by": "u"}]
    }"#;

    const IDS: [&str; 24] = [
        "N1", "N2", "N3", "O1", "O2", "O3", "O4", "U1", "U2", "U3", "U4", "P1", "P2", "P3", "A1", "A2", "A3",
        "A4", "A5", "G1", "G2", "G3", "D1", "D2",
    ];

    fn org(text: &str) -> Org {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_id_is_held_to_its_length() {
        let limits = Limits::default();
        assert_eq!(limits.check(&org(ORG)), Ok(()));
        let long = "x".repeat(limits.id_bytes + 1);
        for id in IDS {
            let text = ORG.replace(&format!("\"{id}\""), &format!("\"{long}\""));
            let error = limits.check(&org(&text));
            assert_eq!(
                error,
                Err(LimitError { what: "an id".to_owned(), actual: long.len(), limit: limits.id_bytes }),
                "{id}"
            );
        }
    }
}
