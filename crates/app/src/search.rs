//! Global search: results as the search backend returns them (everything that matches,
//! unfiltered), the device's cache of them, and the filter every result passes before it is
//! shown.
//!
//! The filter is the evaluator: a result is shown only when its view query is allowed. A result
//! of a kind the app does not know, or a project-bound result without its project, is dropped:
//! when in doubt, nothing renders. People are found with `people.search` (the person must be
//! visible, and a Connection unless the user holds `people.search_all`), the same rule as the
//! person picker.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tessera_core::{PEOPLE_SEARCH, Query, ResourceKind, Snapshot, Target, Timestamp};

/// One search result, as `GET /api/search` returns it and as the device caches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// `project`, `task`, `document`, `report`, `finance` or `person`.
    pub kind: String,
    /// The resource's id.
    pub id: String,
    /// What to show.
    pub title: String,
    /// The Project a project-bound result hangs off (a project's own id for a project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// The body of `GET /api/search`.
#[derive(Debug, Deserialize)]
pub struct Response {
    /// What the backend found.
    pub results: Vec<Item>,
    /// Whether it found more than it returned.
    #[serde(default)]
    pub truncated: bool,
}

/// The question that decides whether `user` may see `item`; `None` for an item the app cannot
/// ask about (then it is not shown).
pub fn query_for(item: &Item) -> Option<Query> {
    query_of(&item.kind, &item.id, item.project.as_deref())
}

/// The question that decides whether the user may see the result or item `id` of `kind`,
/// hanging off `project`; `None` for one the app cannot ask about (a kind it does not know, a
/// group, a project-bound one without its Project).
pub fn query_of(kind: &str, id: &str, project: Option<&str>) -> Option<Query> {
    let kind = ResourceKind::parse(kind)?;
    match kind {
        ResourceKind::Person => Some(Query::can(PEOPLE_SEARCH, Target::person(id))),
        ResourceKind::Project => Some(Query::view(kind, id)),
        ResourceKind::Task | ResourceKind::Document | ResourceKind::Report | ResourceKind::Finance => {
            Some(Query::view_in(kind, id, project?))
        }
        ResourceKind::Group => None,
    }
}

/// The items `user` may see, in their order.
pub fn visible<'a>(snapshot: &Snapshot, user: &str, now: Timestamp, items: &'a [Item]) -> Vec<&'a Item> {
    items
        .iter()
        .filter(|item| query_for(item).is_some_and(|query| snapshot.allows(user, &query, now)))
        .collect()
}

/// Whether `item` matches `text`: every whitespace-separated term occurs in its title or id,
/// ignoring case. An empty text matches everything (the backend's rule, so offline search over
/// the cache finds what online search found).
pub fn matches(item: &Item, text: &str) -> bool {
    let title = item.title.to_lowercase();
    let id = item.id.to_lowercase();
    text.split_whitespace().map(str::to_lowercase).all(|term| title.contains(&term) || id.contains(&term))
}

/// The device's cache of search results: every result seen, one per kind and id, the newest
/// copy winning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    items: BTreeMap<String, Item>,
}

impl Cache {
    /// Reads a cache written by [`Cache::to_json`]; anything unreadable is an empty cache.
    pub fn from_json(json: &str) -> Cache {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// The cache as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Adds `items`, replacing older copies.
    pub fn merge(&mut self, items: impl IntoIterator<Item = Item>) {
        for item in items {
            self.items.insert(format!("{}\u{1f}{}", item.kind, item.id), item);
        }
    }

    /// How many results the cache holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The cached results matching `text`, unfiltered, in a stable order.
    pub fn search(&self, text: &str) -> Vec<Item> {
        self.items.values().filter(|item| matches(item, text)).cloned().collect()
    }

    /// The cached results hanging off `project`, unfiltered.
    pub fn in_project(&self, project: &str) -> Vec<Item> {
        self.items
            .values()
            .filter(|item| item.kind != "project" && item.project.as_deref() == Some(project))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: &str, id: &str, title: &str, project: Option<&str>) -> Item {
        Item { kind: kind.into(), id: id.into(), title: title.into(), project: project.map(Into::into) }
    }

    #[test]
    fn every_term_must_match_title_or_id() {
        let task = item("task", "t-lon-1", "Website budget review", Some("p-lon"));
        assert!(matches(&task, "budget"));
        assert!(matches(&task, "BUDGET website"));
        assert!(matches(&task, "t-lon"));
        assert!(matches(&task, ""));
        assert!(!matches(&task, "budget launch"));
    }

    #[test]
    fn unknown_kinds_and_orphans_have_no_question() {
        assert!(query_for(&item("task", "t", "x", None)).is_none());
        assert!(query_for(&item("salary", "s", "x", Some("p"))).is_none());
        assert!(query_for(&item("group", "g", "x", None)).is_none());
        assert!(query_for(&item("person", "u", "x", None)).is_some());
        assert!(query_for(&item("finance", "f", "x", Some("p"))).is_some());
    }

    #[test]
    fn the_cache_keeps_one_copy_per_result_and_survives_garbage() {
        let mut cache = Cache::default();
        cache.merge([item("task", "t1", "Old", Some("p")), item("document", "t1", "Doc", Some("p"))]);
        cache.merge([item("task", "t1", "New", Some("p"))]);
        assert_eq!(cache.len(), 2);
        let again = Cache::from_json(&cache.to_json());
        assert_eq!(again, cache);
        assert_eq!(again.search("new").len(), 1);
        assert_eq!(again.in_project("p").len(), 2);
        assert!(Cache::from_json("{not json").is_empty());
    }
}
