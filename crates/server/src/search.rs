//! Search, decided per caller: what `GET /api/search` answers is only what the caller may see.
//!
//! The candidates are taken from what the caller's own snapshot holds ([`Sight`]): the
//! Projects it holds (a cut holds only Projects its user may see), the people it holds, and the
//! items of those Projects ([`Content`]). Each candidate that matches every term is asked the
//! question the client would ask of it on that snapshot before `limit` is applied: the view of a
//! Project; the view of a task, document, report or finance row within its Project;
//! `people.search` of a person (inactive people are never results). So a search costs what the
//! caller may see, never the whole organisation, and `truncated` says only that visible matches
//! were left out.
//!
//! Results come by kind (in [`ResourceKind::ALL`]'s order), then by id. The text is bounded
//! ([`MAX_QUERY_BYTES`], [`MAX_TERMS`]) before anything is read, and the work runs on the
//! blocking pool (`http.rs`).

use serde::Serialize;
use tessera_core::{Query, ResourceKind, Target, Timestamp};

use crate::content::{Content, fold};
use crate::issuer::Sight;

/// The longest search text accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 256;
/// The most whitespace-separated terms a search may hold.
pub const MAX_TERMS: usize = 8;

/// One result, as `/api/search` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchResult {
    /// What it is.
    pub kind: ResourceKind,
    /// Its id.
    pub id: String,
    /// Its title: a Project's or person's name, an item's title.
    pub title: String,
    /// The Project it hangs off (a Project names itself), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// Why a search text is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TooBroad {
    /// Longer than [`MAX_QUERY_BYTES`].
    Bytes(usize),
    /// More than [`MAX_TERMS`] terms.
    Terms(usize),
}

/// The terms of `text`, case folded, or why it is refused.
pub fn terms(text: &str) -> Result<Vec<String>, TooBroad> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(TooBroad::Bytes(text.len()));
    }
    let terms: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    if terms.len() > MAX_TERMS {
        return Err(TooBroad::Terms(terms.len()));
    }
    Ok(terms)
}

/// The first `limit` results the caller may see that match every term, and whether visible
/// matches were left out. CPU work: call it off the async runtime.
pub fn search(
    sight: &Sight,
    content: &Content,
    terms: &[String],
    limit: usize,
    now: Timestamp,
) -> (Vec<SearchResult>, bool) {
    let matches = |folded: &str| terms.iter().all(|term| folded.contains(term.as_str()));
    let policy = sight.policy();
    let mut found: Vec<(usize, SearchResult)> = Vec::new();

    // Projects: those the snapshot holds, as the client sees them.
    let mut projects: Vec<&str> = Vec::new();
    for id in policy.project_ids() {
        if !sight.allows(&Query::view(ResourceKind::Project, id), now) {
            continue;
        }
        projects.push(id);
        let name = policy.project_name(id).unwrap_or_default();
        if matches(&fold(name, id)) {
            found.push((
                rank(ResourceKind::Project),
                SearchResult {
                    kind: ResourceKind::Project,
                    id: id.to_owned(),
                    title: name.to_owned(),
                    project: Some(id.to_owned()),
                },
            ));
        }
    }

    // Their items: each asked within its Project (a report or finance row needs its permission).
    content.each_item(projects.iter().copied(), |item| {
        if matches(&item.folded)
            && sight.allows(&Query::view_in(item.kind, item.id.clone(), item.project.clone()), now)
        {
            found.push((
                rank(item.kind),
                SearchResult {
                    kind: item.kind,
                    id: item.id.clone(),
                    title: item.title.clone(),
                    project: Some(item.project.clone()),
                },
            ));
        }
        true
    });

    // People: active, and found by `people.search`.
    for person in policy.users() {
        if !person.active || !matches(&fold(person.name, person.id)) {
            continue;
        }
        if sight.allows(&Query::can("people.search", Target::person(person.id)), now) {
            found.push((
                rank(ResourceKind::Person),
                SearchResult {
                    kind: ResourceKind::Person,
                    id: person.id.to_owned(),
                    title: person.name.to_owned(),
                    project: None,
                },
            ));
        }
    }

    let truncated = found.len() > limit;
    let order = |a: &(usize, SearchResult), b: &(usize, SearchResult)| (a.0, &a.1.id).cmp(&(b.0, &b.1.id));
    if truncated {
        // The first `limit` by kind and id, without sorting the rest.
        found.select_nth_unstable_by(limit, order);
        found.truncate(limit);
    }
    found.sort_unstable_by(order);
    (found.into_iter().map(|(_, result)| result).collect(), truncated)
}

fn rank(kind: ResourceKind) -> usize {
    ResourceKind::ALL.iter().position(|k| *k == kind).unwrap_or(usize::MAX)
}
