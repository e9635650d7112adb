//! What people write beside the organisation, held in memory: the content file's items (tasks,
//! documents, report and finance rows) and what the app's actions wrote (tasks, files, wiki
//! texts, messages, announcements, group names), by what each belongs to.
//!
//! No decision reads content, and a write makes no revision of the organisation: who may see an
//! item is decided by the Project, conversation, group or Network it belongs to, on the reader's
//! own snapshot (`actions.rs`, `search.rs`). Over a database the rows are the database's
//! `content` log, numbered in the order of commit; every replica applies what it has not seen
//! (`seq` above its own) when it hears of it or on its timer, so that all of them hold the
//! same. Without one (a file or memory), what is written lasts until the process ends.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;
use tessera_core::{ResourceKind, Timestamp};

use crate::source::ContentItem;
use crate::store::{ContentKind, ContentRow};

/// An item of a Project: a task, a document (a file), a report or a finance row.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// What it is.
    pub kind: ResourceKind,
    /// Its id.
    pub id: String,
    /// Its title (a file's name).
    pub title: String,
    /// Its Project.
    pub project: String,
    /// Who wrote it (none for the content file's items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A file's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// When it was written (none for the content file's items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// `title` and `id`, case folded, for search.
    #[serde(skip)]
    pub(crate) folded: String,
}

/// A Project's wiki.
#[derive(Debug, Clone, Serialize)]
pub struct Wiki {
    /// Its text.
    pub text: String,
    /// Who wrote it last.
    pub author: String,
    /// When.
    pub at: Timestamp,
}

/// A message of a direct message, or an announcement.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// Its id.
    pub id: String,
    /// Who wrote it.
    pub author: String,
    /// What it says.
    pub text: String,
    /// When.
    pub at: Timestamp,
}

/// Where an announcement goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Everyone of a Network (`announcement.org`).
    Network(String),
    /// The members of a group (`announcement.group`).
    Group(String),
}

impl Audience {
    /// As the content log's `container` writes it.
    pub fn container(&self) -> String {
        match self {
            Audience::Network(id) => format!("network:{id}"),
            Audience::Group(id) => format!("group:{id}"),
        }
    }

    fn parse(container: &str) -> Option<Audience> {
        if let Some(id) = container.strip_prefix("network:") {
            return Some(Audience::Network(id.to_owned()));
        }
        container.strip_prefix("group:").map(|id| Audience::Group(id.to_owned()))
    }
}

/// What changed, for the event streams: a new item of a Project, a message of a conversation, an
/// announcement, a group's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Something of this Project (an item, its wiki).
    Project(String),
    /// A message of this conversation.
    Dm(String),
    /// An announcement to this audience.
    Announcement(Audience),
    /// A group's name.
    Group(String),
}

#[derive(Debug, Default)]
struct Held {
    /// The last row of the database's log applied (0 without a database).
    seq: u64,
    /// Per Project, its items, in the order written (the content file's first). Each list is
    /// shared (`Arc`) so that a reader takes it and lets the lock go before reading it; a write
    /// copies a list only while a reader still holds it.
    items: HashMap<String, Arc<Vec<Item>>>,
    wikis: HashMap<String, Wiki>,
    messages: HashMap<String, Arc<Vec<Message>>>,
    announcements: HashMap<Audience, Arc<Vec<Message>>>,
    group_names: HashMap<String, String>,
    /// Every item's Project, per kind and id.
    ids: HashMap<ResourceKind, HashMap<String, String>>,
}

/// The content of the organisation, shared by every request; see the module docs.
#[derive(Debug)]
pub struct Content {
    held: RwLock<Held>,
    written: tokio::sync::broadcast::Sender<Written>,
}

impl Content {
    /// The content file's `items`, and nothing written yet.
    pub fn new(items: &[ContentItem]) -> Content {
        let mut held = Held::default();
        for item in items {
            held.add_item(Item {
                kind: item.kind,
                id: item.id.clone(),
                title: item.title.clone(),
                project: item.project.clone(),
                author: None,
                text: None,
                at: None,
                folded: fold(&item.title, &item.id),
            });
        }
        Content { held: RwLock::new(held), written: tokio::sync::broadcast::Sender::new(1024) }
    }

    /// Each change as it is applied (a reader that falls behind misses some: it reads again).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Written> {
        self.written.subscribe()
    }

    /// The last row of the database's log applied.
    pub fn seq(&self) -> u64 {
        self.read().seq
    }

    /// Applies rows of the log (those at or below the last applied are skipped, so a row read
    /// twice, once as this server wrote it and once as the follower read it, counts once).
    pub fn apply(&self, rows: &[ContentRow]) {
        let mut told = Vec::new();
        {
            let mut held = self.held.write().unwrap_or_else(PoisonError::into_inner);
            for row in rows {
                if row.seq != 0 && row.seq <= held.seq {
                    continue;
                }
                if let Some(written) = held.apply(row) {
                    told.push(written);
                }
                held.seq = held.seq.max(row.seq);
            }
        }
        for written in told {
            // Nobody listening is fine.
            let _ = self.written.send(written);
        }
    }

    /// The Project of the item `id` of `kind`, if there is one.
    pub fn project_of(&self, kind: ResourceKind, id: &str) -> Option<String> {
        self.read().ids.get(&kind).and_then(|ids| ids.get(id)).cloned()
    }

    /// The items of `project`, in the order written (shared: no copy is made).
    pub fn items(&self, project: &str) -> Arc<Vec<Item>> {
        self.read().items.get(project).cloned().unwrap_or_default()
    }

    /// Calls `each` with every item of each of `projects`, until it answers false. The lock is
    /// held only to take the lists, never while `each` runs: a long scan keeps no writer (and
    /// so no reader queued behind one) waiting.
    pub fn each_item<'a>(
        &self,
        projects: impl IntoIterator<Item = &'a str>,
        mut each: impl FnMut(&Item) -> bool,
    ) {
        let lists: Vec<Arc<Vec<Item>>> = {
            let held = self.read();
            projects.into_iter().filter_map(|project| held.items.get(project).cloned()).collect()
        };
        for list in lists {
            for item in list.iter() {
                if !each(item) {
                    return;
                }
            }
        }
    }

    /// A Project's wiki, if written.
    pub fn wiki(&self, project: &str) -> Option<Wiki> {
        self.read().wikis.get(project).cloned()
    }

    /// The messages of a conversation, oldest first (shared: no copy is made).
    pub fn messages(&self, dm: &str) -> Arc<Vec<Message>> {
        self.read().messages.get(dm).cloned().unwrap_or_default()
    }

    /// The announcements to an audience, oldest first (shared: no copy is made).
    pub fn announcements(&self, audience: &Audience) -> Arc<Vec<Message>> {
        self.read().announcements.get(audience).cloned().unwrap_or_default()
    }

    /// A group's name, if it was given one.
    pub fn group_name(&self, group: &str) -> Option<String> {
        self.read().group_names.get(group).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Held {
    fn add_item(&mut self, item: Item) {
        self.ids.entry(item.kind).or_default().insert(item.id.clone(), item.project.clone());
        Arc::make_mut(self.items.entry(item.project.clone()).or_default()).push(item);
    }

    fn apply(&mut self, row: &ContentRow) -> Option<Written> {
        let message =
            || Message { id: row.id.clone(), author: row.author.clone(), text: row.body.clone(), at: row.at };
        match row.kind {
            ContentKind::Task | ContentKind::Document => {
                let (kind, text) = match row.kind {
                    ContentKind::Task => (ResourceKind::Task, None),
                    _ => (ResourceKind::Document, Some(row.body.clone())),
                };
                if self.ids.get(&kind).is_some_and(|ids| ids.contains_key(&row.id)) {
                    return None;
                }
                self.add_item(Item {
                    kind,
                    id: row.id.clone(),
                    title: row.title.clone(),
                    project: row.container.clone(),
                    author: Some(row.author.clone()),
                    text,
                    at: Some(row.at),
                    folded: fold(&row.title, &row.id),
                });
                Some(Written::Project(row.container.clone()))
            }
            ContentKind::Wiki => {
                self.wikis.insert(
                    row.container.clone(),
                    Wiki { text: row.body.clone(), author: row.author.clone(), at: row.at },
                );
                Some(Written::Project(row.container.clone()))
            }
            ContentKind::Message => {
                Arc::make_mut(self.messages.entry(row.container.clone()).or_default()).push(message());
                Some(Written::Dm(row.container.clone()))
            }
            ContentKind::Announcement => {
                let audience = Audience::parse(&row.container)?;
                Arc::make_mut(self.announcements.entry(audience.clone()).or_default()).push(message());
                Some(Written::Announcement(audience))
            }
            ContentKind::Group => {
                self.group_names.insert(row.container.clone(), row.title.clone());
                Some(Written::Group(row.container.clone()))
            }
        }
    }
}

/// `title` and `id`, case folded, as search matches them.
pub(crate) fn fold(title: &str, id: &str) -> String {
    let mut folded = title.to_lowercase();
    folded.push('\u{1f}');
    folded.push_str(&id.to_lowercase());
    folded
}
