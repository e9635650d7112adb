//! Unfiltered search over one revision: Projects and people from the organisation, tasks,
//! documents, report and finance rows from the content file. The client filters what its user
//! may not see; the server never decides for it.

use serde::Serialize;
use tessera_core::{Org, ResourceKind};

use crate::source::ContentItem;

/// Every searchable entry of a revision, sorted by kind (in [`ResourceKind::ALL`] order), then
/// id.
#[derive(Debug, Default)]
pub(crate) struct SearchIndex {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    kind: ResourceKind,
    id: String,
    title: String,
    project: Option<String>,
    id_folded: String,
    title_folded: String,
}

impl Entry {
    fn new(kind: ResourceKind, id: String, title: String, project: Option<String>) -> Entry {
        let id_folded = id.to_lowercase();
        let title_folded = title.to_lowercase();
        Entry { kind, id, title, project, id_folded, title_folded }
    }

    fn matches(&self, terms: &[String]) -> bool {
        terms.iter().all(|term| self.title_folded.contains(term) || self.id_folded.contains(term))
    }
}

/// One result, as `/api/search` sends it.
#[derive(Debug, Serialize)]
pub(crate) struct SearchResult<'a> {
    kind: ResourceKind,
    id: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<&'a str>,
}

fn kind_rank(kind: ResourceKind) -> usize {
    ResourceKind::ALL.iter().position(|k| *k == kind).unwrap_or(usize::MAX)
}

impl SearchIndex {
    /// The index of `org` and the content items whose Project it holds (an item whose Project
    /// an edit removed is left out).
    pub(crate) fn new(org: &Org, content: &[ContentItem]) -> SearchIndex {
        let mut entries: Vec<Entry> =
            Vec::with_capacity(org.projects.len() + org.users.len() + content.len());
        for project in &org.projects {
            entries.push(Entry::new(
                ResourceKind::Project,
                project.id.clone(),
                project.name.clone(),
                Some(project.id.clone()),
            ));
        }
        for user in &org.users {
            entries.push(Entry::new(ResourceKind::Person, user.id.clone(), user.name.clone(), None));
        }
        let projects: std::collections::HashSet<&str> =
            org.projects.iter().map(|project| project.id.as_str()).collect();
        for item in content.iter().filter(|item| projects.contains(item.project.as_str())) {
            entries.push(Entry::new(
                item.kind,
                item.id.clone(),
                item.title.clone(),
                Some(item.project.clone()),
            ));
        }
        entries.sort_by(|a, b| (kind_rank(a.kind), &a.id).cmp(&(kind_rank(b.kind), &b.id)));
        SearchIndex { entries }
    }

    /// How many entries there are.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The first `limit` entries that match every whitespace-separated term of `text` (case
    /// folded, in the title or the id), and whether more matched.
    pub(crate) fn search(&self, text: &str, limit: usize) -> (Vec<SearchResult<'_>>, bool) {
        let terms: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        let mut matches = self.entries.iter().filter(|entry| entry.matches(&terms));
        let results = matches
            .by_ref()
            .take(limit)
            .map(|entry| SearchResult {
                kind: entry.kind,
                id: &entry.id,
                title: &entry.title,
                project: entry.project.as_deref(),
            })
            .collect();
        (results, matches.next().is_some())
    }
}
