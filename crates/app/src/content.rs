//! What the app writes and reads beside the organisation, through the server that decides it
//! (issue 22): each action as the request that makes it ([`Act`]) with its `Idempotency-Key`
//! ([`Pending`]), what the server answers (what was made, or a refusal in words: [`said`]), the
//! lists a page reads back ([`Items`], [`Wiki`], [`Messages`], [`Groups`]) and what an
//! `event: content` of the issuer's stream concerns ([`Concerns`]).
//!
//! Pure, tested natively; `content_state.rs` sends and reads in the browser, and the pages
//! render. The server decides every action on the user's own snapshot, the same one the app
//! decides with: the app offers an action only where that snapshot allows it
//! (`crate::actions`), and every item read back is shown only where the snapshot lets the user
//! see it (the item's own question, [`Item::query`]), as search results are.

use serde::Deserialize;
use tessera_core::{Query, Target};

use crate::admin::Refused;
use crate::search;

/// The longest name of a Project or group, or title of a task or file, in bytes (the server's
/// cap).
pub const MAX_NAME_BYTES: usize = 200;
/// The longest text of a file or a wiki, in bytes (the server's cap).
pub const MAX_TEXT_BYTES: usize = 32 * 1024;
/// The longest message or announcement, in bytes (the server's cap).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// The most members a new group may be given (the server's cap).
pub const MAX_GROUP_MEMBERS: usize = 100;

/// One action of a user, as the request that makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// New project: `POST /api/projects {"name"}` (in the user's home Office, with them on
    /// its team).
    NewProject {
        /// Its name.
        name: String,
    },
    /// Create task: `POST /api/projects/{project}/tasks {"title"}`.
    CreateTask {
        /// The Project.
        project: String,
        /// Its title.
        title: String,
    },
    /// Upload file: `POST /api/projects/{project}/files {"name", "text"}` (a small text file,
    /// a `document`).
    UploadFile {
        /// The Project.
        project: String,
        /// The file's name.
        name: String,
        /// Its text.
        text: String,
    },
    /// Edit wiki: `PUT /api/projects/{project}/wiki {"text"}`.
    EditWiki {
        /// The Project.
        project: String,
        /// The wiki's new text.
        text: String,
    },
    /// Create group: `POST /api/groups {"name", "members"}` (the user its owner).
    CreateGroup {
        /// Its name.
        name: String,
        /// The other members.
        members: Vec<String>,
    },
    /// Start direct message: `POST /api/dms {"with"}`.
    StartDm {
        /// The other person.
        with: String,
    },
    /// Reply: `POST /api/dms/{dm}/messages {"text"}`.
    Reply {
        /// The conversation.
        dm: String,
        /// The message.
        text: String,
    },
    /// Send announcement: `POST /api/announcements {"text"}` (to the user's Network) or
    /// `POST /api/groups/{group}/announcements {"text"}`.
    Announce {
        /// The group, or `None` for the Network.
        group: Option<String>,
        /// The announcement.
        text: String,
    },
}

/// `POST` or `PUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Makes something new.
    Post,
    /// Replaces something (the wiki).
    Put,
}

impl Act {
    /// The action's label, as its button says it.
    pub fn label(&self) -> &'static str {
        match self {
            Act::NewProject { .. } => "New project",
            Act::CreateTask { .. } => "Create task",
            Act::UploadFile { .. } => "Upload file",
            Act::EditWiki { .. } => "Edit wiki",
            Act::CreateGroup { .. } => "Create group",
            Act::StartDm { .. } => "Start direct message",
            Act::Reply { .. } => "Reply",
            Act::Announce { group: None, .. } => "Send announcement",
            Act::Announce { group: Some(_), .. } => "Send group announcement",
        }
    }

    /// The method of its request.
    pub fn verb(&self) -> Verb {
        match self {
            Act::EditWiki { .. } => Verb::Put,
            _ => Verb::Post,
        }
    }

    /// The path of its request, ids percent-encoded.
    pub fn path(&self) -> String {
        match self {
            Act::NewProject { .. } => "/api/projects".to_owned(),
            Act::CreateTask { project, .. } => format!("/api/projects/{}/tasks", encode(project)),
            Act::UploadFile { project, .. } => format!("/api/projects/{}/files", encode(project)),
            Act::EditWiki { project, .. } => format!("/api/projects/{}/wiki", encode(project)),
            Act::CreateGroup { .. } => "/api/groups".to_owned(),
            Act::StartDm { .. } => "/api/dms".to_owned(),
            Act::Reply { dm, .. } => format!("/api/dms/{}/messages", encode(dm)),
            Act::Announce { group: None, .. } => "/api/announcements".to_owned(),
            Act::Announce { group: Some(group), .. } => {
                format!("/api/groups/{}/announcements", encode(group))
            }
        }
    }

    /// The JSON body of its request, exactly as the server reads it.
    pub fn body(&self) -> String {
        let body = match self {
            Act::NewProject { name } => serde_json::json!({ "name": name }),
            Act::CreateTask { title, .. } => serde_json::json!({ "title": title }),
            Act::UploadFile { name, text, .. } => serde_json::json!({ "name": name, "text": text }),
            Act::CreateGroup { name, members } => serde_json::json!({ "name": name, "members": members }),
            Act::StartDm { with } => serde_json::json!({ "with": with }),
            Act::EditWiki { text, .. } | Act::Reply { text, .. } | Act::Announce { text, .. } => {
                serde_json::json!({ "text": text })
            }
        };
        body.to_string()
    }

    /// The question that decides it, on the user's own snapshot (the server asks the same).
    pub fn query(&self) -> Query {
        match self {
            Act::NewProject { .. } => Query::can("project.create", Target::none()),
            Act::CreateTask { project, .. } => Query::can("task.create", Target::project(project.clone())),
            Act::UploadFile { project, .. } => Query::can("file.upload", Target::project(project.clone())),
            Act::EditWiki { project, .. } => Query::can("wiki.manage", Target::project(project.clone())),
            Act::CreateGroup { .. } => Query::can("group.create", Target::none()),
            Act::StartDm { with } => Query::can("dm.start", Target::person(with.clone())),
            Act::Reply { dm, .. } => Query::can("dm.reply", Target::dm(dm.clone())),
            Act::Announce { group: None, .. } => Query::can("announcement.org", Target::none()),
            Act::Announce { group: Some(group), .. } => {
                Query::can("announcement.group", Target::group(group.clone()))
            }
        }
    }

    /// Whether it changes the organisation (and so the snapshots of those it concerns), rather
    /// than writing content beside it.
    pub fn changes_organisation(&self) -> bool {
        matches!(self, Act::NewProject { .. } | Act::CreateGroup { .. } | Act::StartDm { .. })
    }

    /// What the server would refuse for its shape, said before sending: an empty or over-long
    /// name, a text over its cap, too many members. (What else the server refuses, such as a
    /// control character, it says itself: 422.)
    pub fn check(&self) -> Result<(), String> {
        match self {
            Act::NewProject { name } | Act::CreateGroup { name, .. } => named("name", name)?,
            Act::CreateTask { title, .. } => named("title", title)?,
            Act::UploadFile { name, text, .. } => {
                named("name", name)?;
                sized("file", text, MAX_TEXT_BYTES)?;
            }
            Act::EditWiki { text, .. } => sized("text", text, MAX_TEXT_BYTES)?,
            Act::Reply { text, .. } | Act::Announce { text, .. } => {
                sized("message", text, MAX_MESSAGE_BYTES)?
            }
            Act::StartDm { with } => {
                if with.is_empty() {
                    return Err("Choose a person first.".to_owned());
                }
            }
        }
        if let Act::CreateGroup { members, .. } = self
            && members.len() > MAX_GROUP_MEMBERS
        {
            return Err(format!("A new group holds at most {MAX_GROUP_MEMBERS} members."));
        }
        Ok(())
    }
}

fn named(field: &str, text: &str) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("The {field} is empty."));
    }
    if text.len() > MAX_NAME_BYTES {
        return Err(format!("The {field} is longer than {MAX_NAME_BYTES} bytes."));
    }
    if text.contains(['\n', '\r']) {
        return Err(format!("The {field} must be one line."));
    }
    Ok(())
}

fn sized(field: &str, text: &str, limit: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("The {field} is empty."));
    }
    if text.len() > limit {
        return Err(format!("The {field} is {} bytes, over the limit of {} KiB.", text.len(), limit / 1024));
    }
    Ok(())
}

/// `text` as a URL path segment: everything but unreserved characters percent-encoded.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An action's form: which action, and what it is about; the person fills in a [`Draft`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// New project: a name.
    NewProject,
    /// Create task in a Project: a title.
    CreateTask {
        /// The Project.
        project: String,
    },
    /// Upload file to a Project: a name and a text (typed, or read from a chosen file).
    UploadFile {
        /// The Project.
        project: String,
    },
    /// Edit wiki of a Project: its text.
    EditWiki {
        /// The Project.
        project: String,
    },
    /// Create group: a name and members.
    CreateGroup,
    /// Start direct message: a person.
    StartDm,
    /// Reply in a conversation: a message.
    Reply {
        /// The conversation.
        dm: String,
    },
    /// Send announcement to a group, or to the user's Network: a message.
    Announce {
        /// The group, or `None` for the Network.
        group: Option<String>,
    },
}

/// What the person typed or chose in a form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// A name or title.
    pub line: String,
    /// A text: a file's, the wiki's, a message.
    pub text: String,
    /// The members chosen (Create group).
    pub members: Vec<String>,
    /// The person chosen (Start direct message).
    pub person: String,
}

impl Form {
    /// A stable key, used in the page (`data-form`).
    pub fn key(&self) -> &'static str {
        match self {
            Form::NewProject => "new-project",
            Form::CreateTask { .. } => "create-task",
            Form::UploadFile { .. } => "upload-file",
            Form::EditWiki { .. } => "edit-wiki",
            Form::CreateGroup => "create-group",
            Form::StartDm => "start-dm",
            Form::Reply { .. } => "reply",
            Form::Announce { group: None } => "send-announcement",
            Form::Announce { group: Some(_) } => "send-group-announcement",
        }
    }

    /// What its submit button says.
    pub fn submit(&self) -> &'static str {
        match self {
            Form::NewProject | Form::CreateTask { .. } | Form::CreateGroup => "Create",
            Form::UploadFile { .. } => "Upload",
            Form::EditWiki { .. } => "Save",
            Form::StartDm => "Start",
            Form::Reply { .. } | Form::Announce { .. } => "Send",
        }
    }

    /// The action `draft` makes: a name trimmed, members as chosen.
    pub fn act(&self, draft: &Draft) -> Act {
        let line = draft.line.trim().to_owned();
        let text = draft.text.clone();
        match self {
            Form::NewProject => Act::NewProject { name: line },
            Form::CreateTask { project } => Act::CreateTask { project: project.clone(), title: line },
            Form::UploadFile { project } => Act::UploadFile { project: project.clone(), name: line, text },
            Form::EditWiki { project } => Act::EditWiki { project: project.clone(), text },
            Form::CreateGroup => Act::CreateGroup { name: line, members: draft.members.clone() },
            Form::StartDm => Act::StartDm { with: draft.person.clone() },
            Form::Reply { dm } => Act::Reply { dm: dm.clone(), text },
            Form::Announce { group } => Act::Announce { group: group.clone(), text },
        }
    }
}

/// An action on its way, with its `Idempotency-Key`: one key per action of the person, the
/// same key when the app sends that same action again because no answer came (so that the
/// server makes it once however often it arrives), a new one for anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// What is sent.
    pub act: Act,
    /// Its `Idempotency-Key`.
    pub key: String,
}

impl Pending {
    /// The attempt to send `act`: `unanswered`'s key when it is the same action (a retry),
    /// else a `fresh` one.
    pub fn next(unanswered: Option<&Pending>, act: Act, fresh: impl FnOnce() -> String) -> Pending {
        match unanswered {
            Some(last) if last.act == act => Pending { act, key: last.key.clone() },
            _ => Pending { act, key: fresh() },
        }
    }
}

/// What became of an action, as the person is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// Made (2xx): what, in a sentence, and the id of what was made, if it has one.
    Made {
        /// The sentence.
        sentence: String,
        /// The new thing's id.
        id: Option<String>,
    },
    /// Refused: the reason in words, its code, and what the app does about it.
    Refused {
        /// The sentence.
        sentence: String,
        /// The server's code (`forbidden`, `not_found`, …, `network`).
        code: String,
        /// What follows.
        then: Then,
    },
}

/// What follows a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing reached the server, or it could not save: the same action may be sent again,
    /// with the same key.
    Retry,
    /// The server's decision denies it (403): the action is hidden at once, and the snapshot
    /// is fetched again (the answer names a newer one when the app's was out of date).
    Hide,
    /// Said, and left as it is (the form stays open: a 404, 409, 422…).
    Stay,
}

/// What the answer `status` with `body` to `act` means, in words. `context` names what the
/// action was about ("Rebrand", "Cleo Barnes"; empty for nothing), `reason` is the 403's
/// decision in words (from `crate::wording`, through the user's snapshot), if it could be read.
pub fn said(act: &Act, context: &str, status: u16, body: &str, reason: Option<String>) -> Said {
    if (200..300).contains(&status) {
        return made(act, context, status, body);
    }
    let refused = crate::admin::refused(status, body);
    refusal(act, &refused, reason)
}

/// The refusal of an action that reached nobody, or that the server refused.
pub fn refusal(act: &Act, refused: &Refused, reason: Option<String>) -> Said {
    let label = act.label();
    let message = crate::wording::sentence(&refused.message);
    let (sentence, then) = match refused.code.as_str() {
        "forbidden" => {
            let why = reason
                .or_else(|| refused.decision_message().map(crate::wording::sentence))
                .unwrap_or(message);
            (format!("The server refused “{label}”: {why}"), Then::Hide)
        }
        "not_found" => (
            format!("“{label}” was not made: {message} It may be gone, or no longer yours to see."),
            Then::Stay,
        ),
        "read_only_source" => (
            format!(
                "“{label}” was not made: this server serves a read-only organisation file, so nothing can be saved \
                 here."
            ),
            Then::Stay,
        ),
        "network" => {
            (format!("“{label}” was not sent: the server could not be reached. Try again."), Then::Retry)
        }
        "database_unavailable" | "behind" | "busy" | "internal" => (
            format!("“{label}” may not have been saved: the server could not save it just now. Try again."),
            Then::Retry,
        ),
        "rate_limited" => {
            (format!("“{label}” was not made: too many requests. Try again in a moment."), Then::Retry)
        }
        code if code.starts_with("http_5") => (
            format!("“{label}” may not have been saved: the server answered with an error. Try again."),
            Then::Retry,
        ),
        _ => (format!("“{label}” was not made: {message}"), Then::Stay),
    };
    Said::Refused { sentence, code: refused.code.clone(), then }
}

/// What a 2xx answer made, from the fields it carries.
fn made(act: &Act, context: &str, status: u16, body: &str) -> Said {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Made {
        id: Option<String>,
        name: Option<String>,
        title: Option<String>,
    }
    let made: Made = serde_json::from_str(body).unwrap_or_default();
    let named = |fallback: &str| {
        made.name.clone().or_else(|| made.title.clone()).unwrap_or_else(|| fallback.to_owned())
    };
    let sentence = match act {
        Act::NewProject { name } => format!("Project “{}” created, with you on its team.", named(name)),
        Act::CreateTask { title, .. } => format!("Task “{}” created in {context}.", named(title)),
        Act::UploadFile { name, .. } => format!("File “{}” uploaded to {context}.", named(name)),
        Act::EditWiki { .. } => format!("The wiki of {context} is saved."),
        Act::CreateGroup { name, .. } => format!("Group “{}” created.", named(name)),
        Act::StartDm { .. } if status == 200 => {
            format!("You already have a conversation with {context}: it is open below.")
        }
        Act::StartDm { .. } => format!("Direct message with {context} started."),
        Act::Reply { .. } => format!("Reply sent to {context}."),
        Act::Announce { group: None, .. } => "Announcement sent to your Network.".to_owned(),
        Act::Announce { group: Some(_), .. } => format!("Announcement sent to {context}."),
    };
    Said::Made { sentence, id: made.id }
}

/// An item of a Project as `GET /api/projects/{p}/items` lists it: a task, a document (a
/// file), a report or a finance row.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Item {
    /// `task`, `document`, `report` or `finance`.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its title (a file's name).
    pub title: String,
    /// Its Project.
    #[serde(default)]
    pub project: Option<String>,
    /// Who wrote it (none for items the server was started with).
    #[serde(default)]
    pub author: Option<String>,
    /// A file's text.
    #[serde(default)]
    pub text: Option<String>,
    /// When it was written (RFC 3339).
    #[serde(default)]
    pub at: Option<String>,
}

impl Item {
    /// The question that decides whether the user may see it; `None` for one the app cannot
    /// ask about (then it is not shown).
    pub fn query(&self) -> Option<Query> {
        search::query_of(&self.kind, &self.id, self.project.as_deref())
    }
}

impl From<search::Item> for Item {
    fn from(item: search::Item) -> Item {
        Item {
            kind: item.kind,
            id: item.id,
            title: item.title,
            project: item.project,
            author: None,
            text: None,
            at: None,
        }
    }
}

/// `GET /api/projects/{p}/items`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Items {
    /// The Project.
    pub project: String,
    /// Its items the caller may see, in the order written.
    pub items: Vec<Item>,
}

/// `GET /api/projects/{p}/wiki` and what `PUT` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Wiki {
    /// The Project.
    pub project: String,
    /// The text; `None` before one is written.
    #[serde(default)]
    pub text: Option<String>,
    /// Who wrote it last.
    #[serde(default)]
    pub author: Option<String>,
    /// When (RFC 3339).
    #[serde(default)]
    pub at: Option<String>,
}

/// A message of a direct message, or an announcement.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// Its id.
    pub id: String,
    /// Who wrote it.
    pub author: String,
    /// What it says.
    pub text: String,
    /// When (RFC 3339).
    pub at: String,
}

/// `GET /api/dms/{dm}/messages` (`messages`), `GET /api/announcements` and
/// `GET /api/groups/{g}/announcements` (`announcements`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Messages {
    /// Oldest first.
    #[serde(alias = "announcements")]
    pub messages: Vec<Message>,
}

/// A group as `GET /api/groups` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Group {
    /// Its id.
    pub id: String,
    /// Its name, if it was given one.
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /api/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Groups {
    /// The groups the caller may see.
    pub groups: Vec<Group>,
}

/// The path of `GET /api/projects/{p}/items`.
pub fn items_path(project: &str) -> String {
    format!("/api/projects/{}/items", encode(project))
}

/// The path of `GET /api/projects/{p}/wiki`.
pub fn wiki_path(project: &str) -> String {
    format!("/api/projects/{}/wiki", encode(project))
}

/// The path of `GET /api/dms/{dm}/messages`.
pub fn messages_path(dm: &str) -> String {
    format!("/api/dms/{}/messages", encode(dm))
}

/// The path of the announcements of a group, or of the user's Network (`None`).
pub fn announcements_path(group: Option<&str>) -> String {
    match group {
        Some(group) => format!("/api/groups/{}/announcements", encode(group)),
        None => "/api/announcements".to_owned(),
    }
}

/// What an `event: content` of the issuer's stream concerns: an open page that shows it reads
/// it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concerns {
    /// Something of a Project (an item, its wiki): `{"project": ID}`.
    Project(String),
    /// A message of a conversation: `{"dm": ID}`.
    Dm(String),
    /// A group's name: `{"group": ID}`.
    Group(String),
    /// An announcement to a group (`Some`), or to the user's Network (`None`):
    /// `{"announcements": GROUP | "network"}`.
    Announcements(Option<String>),
    /// Anything: the stream fell behind, or was not listening (`{"all": true}`).
    All,
}

impl Concerns {
    /// What the event's `data` concerns; `None` for data this app does not read (a newer
    /// server's), which concerns nothing.
    pub fn parse(data: &str) -> Option<Concerns> {
        #[derive(Deserialize)]
        struct Data {
            project: Option<String>,
            dm: Option<String>,
            group: Option<String>,
            announcements: Option<String>,
            #[serde(default)]
            all: bool,
        }
        let data: Data = serde_json::from_str(data).ok()?;
        if data.all {
            return Some(Concerns::All);
        }
        if let Some(project) = data.project {
            return Some(Concerns::Project(project));
        }
        if let Some(dm) = data.dm {
            return Some(Concerns::Dm(dm));
        }
        if let Some(group) = data.group {
            return Some(Concerns::Group(group));
        }
        data.announcements
            .map(|audience| Concerns::Announcements((audience != "network").then_some(audience)))
    }

    /// Whether an event with `data` concerns what `shown` is: `All` concerns everything.
    pub fn touches(data: &str, shown: &Concerns) -> bool {
        match Concerns::parse(data) {
            Some(Concerns::All) => true,
            Some(concerns) => &concerns == shown,
            None => false,
        }
    }
}

/// A time as the server writes it (RFC 3339), shortened for people: `2026-06-01 10:00`.
pub fn short_time(at: &str) -> String {
    let mut short: String = at.chars().take(16).collect();
    if short.len() == 16 {
        short = short.replacen('T', " ", 1);
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        "k-1".to_owned()
    }

    #[test]
    fn each_action_is_the_request_the_server_reads() {
        let task = Act::CreateTask { project: "p-rebrand".into(), title: "Brief".into() };
        assert_eq!((task.verb(), task.path().as_str()), (Verb::Post, "/api/projects/p-rebrand/tasks"));
        assert_eq!(task.body(), r#"{"title":"Brief"}"#);
        assert_eq!(task.query(), Query::can("task.create", Target::project("p-rebrand")));
        assert!(!task.changes_organisation());

        let wiki = Act::EditWiki { project: "p 1/x".into(), text: "Hello\nworld".into() };
        assert_eq!((wiki.verb(), wiki.path().as_str()), (Verb::Put, "/api/projects/p%201%2Fx/wiki"));
        assert_eq!(wiki.body(), r#"{"text":"Hello\nworld"}"#);

        let file =
            Act::UploadFile { project: "p".into(), name: "notes.txt".into(), text: "“quoted”".into() };
        assert_eq!(file.body(), r#"{"name":"notes.txt","text":"“quoted”"}"#);
        let group = Act::CreateGroup { name: "Design".into(), members: vec!["u-ada".into(), "u-bob".into()] };
        assert_eq!(group.path(), "/api/groups");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&group.body()).unwrap(),
            serde_json::json!({ "name": "Design", "members": ["u-ada", "u-bob"] })
        );
        assert!(group.changes_organisation());
        assert_eq!(Act::StartDm { with: "u-bob".into() }.body(), r#"{"with":"u-bob"}"#);
        assert_eq!(Act::Reply { dm: "dm-1".into(), text: "hi".into() }.path(), "/api/dms/dm-1/messages");
        assert_eq!(Act::Announce { group: None, text: "x".into() }.path(), "/api/announcements");
        let to_group = Act::Announce { group: Some("g-1".into()), text: "x".into() };
        assert_eq!(to_group.path(), "/api/groups/g-1/announcements");
        assert_eq!(to_group.query(), Query::can("announcement.group", Target::group("g-1")));
        assert_eq!(
            Act::NewProject { name: "X".into() }.query(),
            Query::can("project.create", Target::none())
        );
    }

    #[test]
    fn the_servers_caps_are_said_before_sending() {
        assert!(Act::NewProject { name: "  ".into() }.check().is_err());
        assert!(Act::NewProject { name: "x".repeat(MAX_NAME_BYTES) }.check().is_ok());
        assert!(Act::NewProject { name: "x".repeat(MAX_NAME_BYTES + 1) }.check().is_err());
        assert!(Act::CreateTask { project: "p".into(), title: "two\nlines".into() }.check().is_err());
        let file =
            |bytes: usize| Act::UploadFile { project: "p".into(), name: "f".into(), text: "x".repeat(bytes) };
        assert!(file(MAX_TEXT_BYTES).check().is_ok());
        let over = file(MAX_TEXT_BYTES + 1).check().unwrap_err();
        assert!(over.contains("32 KiB"), "{over}");
        assert!(Act::Reply { dm: "d".into(), text: "x".repeat(MAX_MESSAGE_BYTES + 1) }.check().is_err());
        let crowd = (0..=MAX_GROUP_MEMBERS).map(|n| format!("u-{n}")).collect();
        assert!(Act::CreateGroup { name: "G".into(), members: crowd }.check().is_err());
        assert!(Act::StartDm { with: String::new() }.check().is_err());
    }

    #[test]
    fn a_form_makes_its_action_from_what_was_typed() {
        let draft = Draft {
            line: "  Brief  ".into(),
            text: "Body".into(),
            members: vec!["u-bob".into()],
            person: "u-cleo".into(),
        };
        let project = || "p".to_owned();
        assert_eq!(
            Form::CreateTask { project: project() }.act(&draft),
            Act::CreateTask { project: project(), title: "Brief".into() }
        );
        assert_eq!(
            Form::UploadFile { project: project() }.act(&draft),
            Act::UploadFile { project: project(), name: "Brief".into(), text: "Body".into() }
        );
        assert_eq!(
            Form::CreateGroup.act(&draft),
            Act::CreateGroup { name: "Brief".into(), members: vec!["u-bob".into()] }
        );
        assert_eq!(Form::StartDm.act(&draft), Act::StartDm { with: "u-cleo".into() });
        assert_eq!(Form::Announce { group: None }.act(&draft).label(), "Send announcement");
        assert_eq!(Form::Announce { group: Some("g".into()) }.key(), "send-group-announcement");
        for form in [Form::NewProject, Form::EditWiki { project: project() }, Form::Reply { dm: "d".into() }]
        {
            assert_eq!(form.act(&draft).label().to_lowercase().replace(' ', "-"), form.key(), "{form:?}");
        }
    }

    #[test]
    fn a_retry_of_the_same_action_keeps_its_key() {
        let act = Act::CreateTask { project: "p".into(), title: "A".into() };
        let first = Pending::next(None, act.clone(), key);
        assert_eq!(first.key, "k-1");
        let again = Pending::next(Some(&first), act.clone(), || "k-2".to_owned());
        assert_eq!(again.key, "k-1", "the same action, sent again");
        let other = Act::CreateTask { project: "p".into(), title: "B".into() };
        assert_eq!(Pending::next(Some(&first), other, || "k-2".to_owned()).key, "k-2");
    }

    #[test]
    fn answers_are_said_in_words() {
        let task = Act::CreateTask { project: "p-rebrand".into(), title: "Brief".into() };
        let made = said(
            &task,
            "Rebrand",
            201,
            r#"{"kind":"task","id":"t-1","title":"Brief","project":"p-rebrand"}"#,
            None,
        );
        assert_eq!(
            made,
            Said::Made { sentence: "Task “Brief” created in Rebrand.".into(), id: Some("t-1".into()) }
        );

        let forbidden = r#"{"error":{"code":"forbidden","message":"not allowed: …","decision":{"allowed":false,"code":"office_override_off","message":"an override of office `o-lon` switches `task.create` off","facts":[]}}}"#;
        let Said::Refused { sentence, code, then } = said(&task, "Rebrand", 403, forbidden, None) else {
            panic!("refused")
        };
        assert_eq!((code.as_str(), then), ("forbidden", Then::Hide));
        assert!(
            sentence.starts_with("The server refused “Create task”: An override of office"),
            "{sentence}"
        );
        let Said::Refused { sentence, .. } =
            said(&task, "Rebrand", 403, forbidden, Some("London switches it off.".into()))
        else {
            panic!("refused")
        };
        assert_eq!(sentence, "The server refused “Create task”: London switches it off.");

        let missing = r#"{"error":{"code":"not_found","message":"no project `p-x`"}}"#;
        assert!(matches!(said(&task, "", 404, missing, None), Said::Refused { then: Then::Stay, .. }));
        let read_only = r#"{"error":{"code":"read_only_source","message":"…"}}"#;
        let Said::Refused { sentence, .. } = said(&task, "", 409, read_only, None) else { panic!() };
        assert!(sentence.contains("read-only"), "{sentence}");
        let invalid = r#"{"error":{"code":"invalid_body","message":"`text` holds a control character"}}"#;
        let Said::Refused { sentence, code, then } = said(&task, "", 422, invalid, None) else { panic!() };
        assert_eq!((code.as_str(), then), ("invalid_body", Then::Stay));
        assert!(sentence.ends_with("`text` holds a control character."), "{sentence}");
        for (status, body) in
            [(503, r#"{"error":{"code":"database_unavailable","message":"x"}}"#), (502, "<html>")]
        {
            assert!(
                matches!(said(&task, "", status, body, None), Said::Refused { then: Then::Retry, .. }),
                "{status}"
            );
        }
        let unreachable = Refused { code: "network".into(), message: "x".into(), decision_message: None };
        assert!(matches!(refusal(&task, &unreachable, None), Said::Refused { then: Then::Retry, .. }));

        let dm = Act::StartDm { with: "u-bob".into() };
        let Said::Made { sentence, .. } = said(&dm, "Bob Turner", 200, r#"{"id":"dm-1"}"#, None) else {
            panic!()
        };
        assert!(sentence.starts_with("You already have a conversation with Bob Turner"));
    }

    #[test]
    fn lists_read_as_the_server_writes_them() {
        let items: Items = serde_json::from_str(
            r#"{"project":"p","items":[{"kind":"task","id":"t-1","title":"A","project":"p","author":"u-ada","at":"2026-06-01T10:00:00Z"},
                {"kind":"report","id":"r-1","title":"Q1","project":"p"}]}"#,
        )
        .unwrap();
        assert_eq!(items.items.len(), 2);
        assert_eq!(
            items.items[0].query(),
            Some(Query::view_in(tessera_core::ResourceKind::Task, "t-1", "p"))
        );
        let wiki: Wiki = serde_json::from_str(r#"{"project":"p","text":null}"#).unwrap();
        assert_eq!(wiki.text, None);
        let messages: Messages = serde_json::from_str(
            r#"{"announcements":[{"id":"an-1","author":"u","text":"hi","at":"2026-06-01T10:00:00Z"}]}"#,
        )
        .unwrap();
        assert_eq!(messages.messages[0].text, "hi");
        let messages: Messages = serde_json::from_str(r#"{"dm":"dm-1","messages":[]}"#).unwrap();
        assert!(messages.messages.is_empty());
        let groups: Groups =
            serde_json::from_str(r#"{"groups":[{"id":"g-1","name":"Design"},{"id":"g-2","name":null}]}"#)
                .unwrap();
        assert_eq!(groups.groups[1].name, None);
        assert_eq!(short_time("2026-06-01T10:00:00Z"), "2026-06-01 10:00");
    }

    #[test]
    fn content_events_concern_what_they_name() {
        assert_eq!(Concerns::parse(r#"{"project":"p-1"}"#), Some(Concerns::Project("p-1".into())));
        assert_eq!(Concerns::parse(r#"{"dm":"dm-1"}"#), Some(Concerns::Dm("dm-1".into())));
        assert_eq!(Concerns::parse(r#"{"group":"g-1"}"#), Some(Concerns::Group("g-1".into())));
        assert_eq!(Concerns::parse(r#"{"announcements":"network"}"#), Some(Concerns::Announcements(None)));
        assert_eq!(
            Concerns::parse(r#"{"announcements":"g-1"}"#),
            Some(Concerns::Announcements(Some("g-1".into())))
        );
        assert_eq!(Concerns::parse(r#"{"all":true}"#), Some(Concerns::All));
        assert_eq!(Concerns::parse(r#"{"other":1}"#), None);
        assert_eq!(Concerns::parse("not json"), None);
        let rebrand = Concerns::Project("p-rebrand".into());
        assert!(Concerns::touches(r#"{"project":"p-rebrand"}"#, &rebrand));
        assert!(!Concerns::touches(r#"{"project":"p-other"}"#, &rebrand));
        assert!(Concerns::touches(r#"{"all":true}"#, &rebrand));
        assert!(!Concerns::touches("", &rebrand));
    }
}
