//! The app's actions, decided and made by the server: what the client offers is what the server
//! allows, with the same reason (issue 22).
//!
//! Every route decides on the caller's own snapshot ([`Enforcer`], `enforce.rs`), in this
//! order: the body is read and bounded (400/422, nothing written); what the path or body names
//! must be seen by the caller (a Project, person, group or conversation they may not see answers
//! 404 `not_found`, as an id that does not exist); the action's own question is asked (403 with
//! the decision the client's `explain` gives); then it is made.
//!
//! Two kinds:
//! - **Changes of the organisation** (New project, Create group, Start direct message) are
//!   edits ([`Edit::CreateProject`], [`Edit::CreateGroup`], [`Edit::StartDm`]) made through the
//!   write path (`edits.rs`) like an administrator's: a new revision, and the snapshots of the
//!   users they change renewed.
//! - **Content** (tasks, files, the wiki, messages, announcements) makes no revision: it is
//!   written to the database's content log (`store`) and held in memory (`content.rs`).
//!
//! Both need a source the server writes: with a read-only `--org` file they answer 409
//! `read_only_source`, as edits do. Each `POST` takes an `Idempotency-Key`.
//!
//! Reading back: a Project's items (`GET /api/projects/{p}/items`: every task, document, report
//! and finance row the caller may see), its tasks, files and wiki, a conversation's messages, a
//! group's and the Network's announcements, the groups the caller may see with their names;
//! each filtered by the same questions.

use serde::{Deserialize, Serialize};
use tessera_core::{Edit, Query, ResourceKind, Target, Timestamp};

use crate::content::{Audience, Item, Message};
use crate::edits::{self, Changed, EditBatch, Idempotency, Reply, Request};
use crate::enforce::{Enforcer, Seen};
use crate::refusal::ApiError;
use crate::store::{ContentKind, ContentRow, StoreError};
use crate::{AppState, Edits};

/// The longest name of a Project or group, or title of a task or file, in bytes.
pub const MAX_NAME_BYTES: usize = 200;
/// The longest text of a file or a wiki, in bytes.
pub const MAX_TEXT_BYTES: usize = 32 * 1024;
/// The longest message or announcement, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// The most members a new group may be given.
pub const MAX_GROUP_MEMBERS: usize = 100;

/// A name or title: trimmed, not empty, one line, at most [`MAX_NAME_BYTES`].
pub fn name(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid_body(format!("`{field}` is empty")));
    }
    if text.len() > MAX_NAME_BYTES {
        return Err(ApiError::invalid_body(format!("`{field}` is longer than {MAX_NAME_BYTES} bytes")));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::invalid_body(format!("`{field}` holds a control character")));
    }
    Ok(text.to_owned())
}

/// A text: not blank, at most `limit` bytes, no control characters but line breaks and tabs.
pub fn text(field: &str, text: &str, limit: usize) -> Result<String, ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid_body(format!("`{field}` is empty")));
    }
    if text.len() > limit {
        return Err(ApiError::invalid_body(format!("`{field}` is longer than {limit} bytes")));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::invalid_body(format!("`{field}` holds a control character")));
    }
    Ok(text.to_owned())
}

/// A new random id: `prefix` and 16 hexadecimal digits.
pub fn new_id(prefix: &str) -> Result<String, ApiError> {
    edits::new_id(prefix).map_err(ApiError::from)
}

// ---- Changes of the organisation ---------------------------------------------------------------

/// `POST /api/projects`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Its name.
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
}

/// `POST /api/groups`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// Its name.
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
    /// The other members.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub members: Vec<String>,
}

/// `POST /api/dms`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDm {
    /// The other person.
    pub with: String,
}

/// What a change of the organisation answers: the thing made, with the revision that made it.
fn made(status: u16, mut body: serde_json::Value, changed: Changed) -> Reply {
    if let Some(object) = body.as_object_mut() {
        object.insert("revision".to_owned(), changed.revision.into());
    }
    Reply { status, body }
}

/// Makes `edit` for the caller through the write path: the answer is `body` with the revision.
async fn change(
    state: &AppState,
    enforcer: &Enforcer,
    key: Option<&Idempotency>,
    edit: Edit,
    body: serde_json::Value,
) -> Result<Reply, ApiError> {
    if let Edits::ReadOnly(_) = state.edits() {
        return Err(edits::EditError::ReadOnly.into());
    }
    let reply = move |changed: Changed| made(201, body.clone(), changed);
    let request =
        Request { caller: enforcer.user(), idempotency: key, reply: &reply, origin: edits::Origin::Action };
    let batch = EditBatch { edits: vec![edit], expect_revision: None };
    edits::commit(state.issuer(), state.edits(), &request, batch).await.map_err(|error| match error {
        // What the action names was checked seen; an id unknown now was removed meanwhile.
        edits::EditError::Unknown { id, .. } => ApiError::not_found(id.kind, &id.id),
        other => other.into(),
    })
}

/// `POST /api/projects` `{"name"}`: a Project in the caller's home Office, the caller on its
/// team; decided by `project.create`.
pub async fn create_project(
    state: &AppState,
    enforcer: &Enforcer,
    key: Option<&Idempotency>,
    request: NewProject,
) -> Result<Reply, ApiError> {
    let name = name("name", &request.name)?;
    enforcer.require(&Query::can("project.create", Target::none()))?;
    let office = enforcer
        .sight()
        .policy()
        .user_summary(enforcer.user())
        .map(|user| user.home_office.to_owned())
        .unwrap_or_default();
    let id = new_id("p-")?;
    let body = serde_json::json!({
        "id": id, "name": name, "office": office, "team": [enforcer.user()], "created_by": enforcer.user(),
    });
    let edit = Edit::CreateProject { project: id, name, creator: enforcer.user().to_owned() };
    change(state, enforcer, key, edit, body).await
}

/// `POST /api/groups` `{"name", "members"}`: a group of the caller's Network, the caller its
/// owner; decided by `group.create`, every member seen first. Its name is content.
pub async fn create_group(
    state: &AppState,
    enforcer: &Enforcer,
    key: Option<&Idempotency>,
    request: NewGroup,
) -> Result<Reply, ApiError> {
    let name = name("name", &request.name)?;
    if request.members.len() > MAX_GROUP_MEMBERS {
        return Err(ApiError::invalid_body(format!("a new group holds at most {MAX_GROUP_MEMBERS} members")));
    }
    let mut members: Vec<String> = Vec::new();
    for member in request.members {
        enforcer.see(Seen::Person, &member)?;
        if member != enforcer.user() && !members.contains(&member) {
            members.push(member);
        }
    }
    enforcer.require(&Query::can("group.create", Target::none()))?;
    let id = new_id("g-")?;
    let mut everyone = vec![enforcer.user().to_owned()];
    everyone.extend(members.iter().cloned());
    let body = serde_json::json!({
        "id": id, "name": name, "members": everyone, "owners": [enforcer.user()],
    });
    let edit = Edit::CreateGroup { group: id.clone(), owner: enforcer.user().to_owned(), members };
    let reply = change(state, enforcer, key, edit, body).await?;
    // The name: content, written once the group exists, and only when it was made now (a
    // replayed key answers the group made the first time, named then).
    if reply.status == 201 && reply.body.get("id").and_then(serde_json::Value::as_str) == Some(id.as_str()) {
        let row =
            content_row(ContentKind::Group, id.clone(), id.clone(), enforcer.user(), name, String::new());
        if let Err(error) = write(state, &row, None).await {
            // The group was made: answer so, and say in the log why it has no name.
            tracing::warn!(group = %id, status = %error.status(), "a new group's name was not written");
        }
    }
    Ok(reply)
}

/// `POST /api/dms` `{"with"}`: a conversation with a person the caller may see; decided by
/// `dm.start` of that person. One the two have already is answered as it is (200).
pub async fn start_dm(
    state: &AppState,
    enforcer: &Enforcer,
    key: Option<&Idempotency>,
    request: NewDm,
) -> Result<Reply, ApiError> {
    enforcer.see(Seen::Person, &request.with)?;
    let policy = enforcer.sight().policy();
    let existing = policy.dm_ids().find(|dm| {
        policy.dm_participants(dm).is_some_and(|pair| {
            pair.contains(&enforcer.user())
                && pair.contains(&request.with.as_str())
                && request.with != enforcer.user()
        })
    });
    if let Some(dm) = existing {
        let [first, second] = policy.dm_participants(dm).unwrap_or_default();
        return Ok(Reply {
            status: 200,
            body: serde_json::json!({ "id": dm, "participants": [first, second], "revision": enforcer.sight().revision }),
        });
    }
    enforcer.require(&Query::can("dm.start", Target::person(request.with.clone())))?;
    let id = new_id("dm-")?;
    let body = serde_json::json!({
        "id": id, "participants": [enforcer.user(), request.with], "started_by": enforcer.user(),
    });
    let edit = Edit::StartDm { dm: id, from: enforcer.user().to_owned(), with: request.with };
    change(state, enforcer, key, edit, body).await
}

// ---- Content ---------------------------------------------------------------------------------------

/// `POST /api/projects/{p}/tasks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// Its title.
    #[schema(min_length = 1, max_length = 50)]
    pub title: String,
}

/// `POST /api/projects/{p}/files`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFile {
    /// Its name.
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
    /// Its text.
    #[schema(min_length = 1, max_length = 8192)]
    pub text: String,
}

/// `PUT /api/projects/{p}/wiki`, `POST /api/dms/{dm}/messages`, the announcements.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewText {
    /// The text.
    #[schema(min_length = 1, max_length = 1024)]
    pub text: String,
}

fn content_row(
    kind: ContentKind,
    id: String,
    container: String,
    author: &str,
    title: String,
    body: String,
) -> ContentRow {
    ContentRow {
        seq: 0,
        kind,
        id,
        container,
        author: author.to_owned(),
        title,
        body,
        at: Timestamp::from_unix(0),
    }
}

/// A key, and the reply to keep for it, made from the row as written.
type Remember<'a> = Option<(&'a Idempotency, &'a (dyn Fn(&ContentRow) -> Reply + Sync))>;

/// Writes `row` where the organisation's source keeps content (the database's log, or memory),
/// and holds it; answers it as written. `answer` is the reply to remember for the key.
async fn write(
    state: &AppState,
    row: &ContentRow,
    remember: Remember<'_>,
) -> Result<Result<ContentRow, Reply>, ApiError> {
    match state.edits() {
        Edits::ReadOnly(_) => Err(edits::EditError::ReadOnly.into()),
        Edits::Memory(remembered) => {
            let _writer = state.issuer().lock_changes().await;
            if let Some(reply) = edits::recall_memory(remembered, &row.author, remember.map(|(key, _)| key))?
            {
                return Ok(Err(reply));
            }
            let written = ContentRow {
                seq: state.content().seq().saturating_add(1),
                at: state.issuer().now(),
                ..row.clone()
            };
            state.content().apply(std::slice::from_ref(&written));
            if let Some((key, answer)) = remember {
                remembered.insert((row.author.clone(), key.key.clone()), answer(&written).remembered(key));
            }
            Ok(Ok(written))
        }
        Edits::Database(database) => {
            if let Some((key, _)) = remember
                && let Some(reply) = edits::recall(database, &row.author, key).await?
            {
                return Ok(Err(reply));
            }
            // Written at the server's time, so that the answer kept for the key is the answer.
            let row = ContentRow { at: state.issuer().now(), ..row.clone() };
            let kept = remember.map(|(key, answer)| (key.key.as_str(), answer(&row).remembered(key)));
            let written =
                database.store().write_content(&row, kept.as_ref().map(|(key, kept)| (*key, kept))).await;
            database.note(&written, state.issuer().now());
            match written {
                Ok(written) => {
                    state.content().apply(std::slice::from_ref(&written));
                    Ok(Ok(written))
                }
                Err(StoreError::Replayed(remembered)) => {
                    edits::replay(remembered, remember.map(|(key, _)| key)).map(Err).map_err(ApiError::from)
                }
                Err(StoreError::Unavailable(message)) => Err(edits::EditError::Unavailable(message).into()),
                Err(other) => Err(ApiError::internal(other.to_string())),
            }
        }
    }
}

/// Writes `row` with the reply `answer` makes of it, remembered for `key`.
async fn write_content(
    state: &AppState,
    key: Option<&Idempotency>,
    row: ContentRow,
    answer: impl Fn(&ContentRow) -> Reply + Sync,
) -> Result<Reply, ApiError> {
    let answer: &(dyn Fn(&ContentRow) -> Reply + Sync) = &answer;
    match write(state, &row, key.map(|key| (key, answer))).await? {
        Ok(written) => Ok(answer(&written)),
        Err(replayed) => Ok(replayed),
    }
}

fn item_json(row: &ContentRow) -> serde_json::Value {
    let kind = match row.kind {
        ContentKind::Task => "task",
        _ => "document",
    };
    let mut item = serde_json::json!({
        "kind": kind, "id": row.id, "title": row.title, "project": row.container, "author": row.author, "at": row.at,
    });
    if row.kind == ContentKind::Document
        && let Some(object) = item.as_object_mut()
    {
        object.insert("text".to_owned(), row.body.clone().into());
    }
    item
}

fn message_json(row: &ContentRow) -> serde_json::Value {
    serde_json::json!({ "id": row.id, "author": row.author, "text": row.body, "at": row.at })
}

/// `POST /api/projects/{p}/tasks` `{"title"}`: decided by `task.create` on the Project.
pub async fn create_task(
    state: &AppState,
    enforcer: &Enforcer,
    key: Option<&Idempotency>,
    project: &str,
    request: NewTask,
) -> Result<Reply, ApiError> {
    let title = name("title", &request.title)?;
    enforcer.see(Seen::Project, project)?;
    enforcer.require(&Query::can("task.create", Target::project(project)))?;
    let row = content_row(
        ContentKind::Task,
        new_id("t-")?,
        project.to_owned(),
        enforcer.user(),
        title,
        String::new(),
    );
    write_content(state, key, row, |row| Reply { status: 201, body: item_json(row) }).await
}

/// `POST /api/projects/{p}/files` `{"name", "text"}`: a small text file, a `document`; decided
/// by `file.upload` on the Project.
pub async fn upload_file(
    state: &AppState,
    enforcer: &Enforcer,
    key: Option<&Idempotency>,
    project: &str,
    request: NewFile,
) -> Result<Reply, ApiError> {
    let title = name("name", &request.name)?;
    let body = text("text", &request.text, MAX_TEXT_BYTES)?;
    enforcer.see(Seen::Project, project)?;
    enforcer.require(&Query::can("file.upload", Target::project(project)))?;
    let row =
        content_row(ContentKind::Document, new_id("f-")?, project.to_owned(), enforcer.user(), title, body);
    write_content(state, key, row, |row| Reply { status: 201, body: item_json(row) }).await
}

/// `PUT /api/projects/{p}/wiki` `{"text"}`: the wiki's new text; decided by `wiki.manage`.
pub async fn edit_wiki(
    state: &AppState,
    enforcer: &Enforcer,
    key: Option<&Idempotency>,
    project: &str,
    request: NewText,
) -> Result<Reply, ApiError> {
    let body = text("text", &request.text, MAX_TEXT_BYTES)?;
    enforcer.see(Seen::Project, project)?;
    enforcer.require(&Query::can("wiki.manage", Target::project(project)))?;
    let row = content_row(
        ContentKind::Wiki,
        project.to_owned(),
        project.to_owned(),
        enforcer.user(),
        String::new(),
        body,
    );
    write_content(state, key, row, |row| {
        Reply {
            status: 200,
            body: serde_json::json!({ "project": row.container, "text": row.body, "author": row.author, "at": row.at }),
        }
    })
    .await
}

/// `POST /api/dms/{dm}/messages` `{"text"}`: decided by `dm.reply` on the conversation.
pub async fn reply(
    state: &AppState,
    enforcer: &Enforcer,
    key: Option<&Idempotency>,
    dm: &str,
    request: NewText,
) -> Result<Reply, ApiError> {
    let body = text("text", &request.text, MAX_MESSAGE_BYTES)?;
    enforcer.see(Seen::Dm, dm)?;
    enforcer.require(&Query::can("dm.reply", Target::dm(dm)))?;
    let row =
        content_row(ContentKind::Message, new_id("m-")?, dm.to_owned(), enforcer.user(), String::new(), body);
    write_content(state, key, row, |row| {
        let mut message = message_json(row);
        if let Some(object) = message.as_object_mut() {
            object.insert("dm".to_owned(), row.container.clone().into());
        }
        Reply { status: 201, body: message }
    })
    .await
}

/// `POST /api/announcements` `{"text"}` (to the caller's Network, decided by
/// `announcement.org`) and `POST /api/groups/{g}/announcements` (to a group the caller may see,
/// decided by `announcement.group`).
pub async fn announce(
    state: &AppState,
    enforcer: &Enforcer,
    key: Option<&Idempotency>,
    group: Option<&str>,
    request: NewText,
) -> Result<Reply, ApiError> {
    let body = text("text", &request.text, MAX_MESSAGE_BYTES)?;
    let audience = match group {
        Some(group) => {
            enforcer.see(Seen::Group, group)?;
            enforcer.require(&Query::can("announcement.group", Target::group(group)))?;
            Audience::Group(group.to_owned())
        }
        None => {
            enforcer.require(&Query::can("announcement.org", Target::none()))?;
            Audience::Network(network_of(enforcer))
        }
    };
    let row = content_row(
        ContentKind::Announcement,
        new_id("an-")?,
        audience.container(),
        enforcer.user(),
        String::new(),
        body,
    );
    write_content(state, key, row, |row| Reply { status: 201, body: message_json(row) }).await
}

fn network_of(enforcer: &Enforcer) -> String {
    enforcer
        .sight()
        .policy()
        .user_summary(enforcer.user())
        .map(|user| user.network.to_owned())
        .unwrap_or_default()
}

// ---- Reading back ------------------------------------------------------------------------------------

/// An item's question: its view within its Project.
fn item_query(item: &Item) -> Query {
    Query::view_in(item.kind, item.id.clone(), item.project.clone())
}

/// How many entries a listing answers unless its `limit` says otherwise.
pub const DEFAULT_LISTING: usize = 200;
/// The most entries a listing answers, whatever its `limit`.
pub const MAX_LISTING: usize = 1000;

/// What a listing answers: the newest `limit` entries the caller may see, in the order written
/// (oldest first), and whether entries they may see were left out.
#[derive(Debug)]
pub struct Listed<T> {
    /// The entries.
    pub entries: Vec<T>,
    /// Whether entries the caller may see were left out.
    pub truncated: bool,
}

/// The newest `limit` entries of `all` that `keep` keeps, in the order of `all`.
fn newest<T: Clone>(all: &[T], limit: usize, mut keep: impl FnMut(&T) -> bool) -> Listed<T> {
    let mut entries = Vec::new();
    let mut truncated = false;
    for entry in all.iter().rev() {
        if keep(entry) {
            if entries.len() >= limit {
                truncated = true;
                break;
            }
            entries.push(entry.clone());
        }
    }
    entries.reverse();
    Listed { entries, truncated }
}

/// `work` on the blocking pool: a listing's decisions and copies never run on the runtime's
/// threads.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::internal(e.to_string()))
}

/// `GET /api/projects/{p}/items` (every kind) and `…/tasks`, `…/files` (one kind): the newest
/// `limit` items of a Project the caller may see that they may see, in the order written.
pub async fn items(
    state: &AppState,
    enforcer: &Enforcer,
    project: &str,
    kind: Option<ResourceKind>,
    limit: usize,
) -> Result<Listed<Item>, ApiError> {
    enforcer.see(Seen::Project, project)?;
    let all = state.content().items(project);
    let enforcer = enforcer.clone();
    off_runtime(move || {
        newest(&all, limit, |item| {
            kind.is_none_or(|kind| item.kind == kind) && enforcer.allows(&item_query(item))
        })
    })
    .await
}

/// `GET /api/projects/{p}/wiki`: the text, or `null` before one is written.
pub fn wiki(state: &AppState, enforcer: &Enforcer, project: &str) -> Result<serde_json::Value, ApiError> {
    enforcer.see(Seen::Project, project)?;
    Ok(match state.content().wiki(project) {
        Some(wiki) => {
            serde_json::json!({ "project": project, "text": wiki.text, "author": wiki.author, "at": wiki.at })
        }
        None => serde_json::json!({ "project": project, "text": serde_json::Value::Null }),
    })
}

/// `GET /api/dms/{dm}/messages`: the newest `limit` messages of a conversation of the
/// caller's, oldest first.
pub async fn messages(
    state: &AppState,
    enforcer: &Enforcer,
    dm: &str,
    limit: usize,
) -> Result<Listed<Message>, ApiError> {
    enforcer.see(Seen::Dm, dm)?;
    let all = state.content().messages(dm);
    off_runtime(move || newest(&all, limit, |_| true)).await
}

/// `GET /api/announcements` (the caller's Network's) and `GET /api/groups/{g}/announcements`
/// (a group the caller may see): the newest `limit`, oldest first.
pub async fn announcements(
    state: &AppState,
    enforcer: &Enforcer,
    group: Option<&str>,
    limit: usize,
) -> Result<Listed<Message>, ApiError> {
    let audience = match group {
        Some(group) => {
            enforcer.see(Seen::Group, group)?;
            Audience::Group(group.to_owned())
        }
        None => Audience::Network(network_of(enforcer)),
    };
    let all = state.content().announcements(&audience);
    off_runtime(move || newest(&all, limit, |_| true)).await
}

/// A group as `GET /api/groups` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupEntry {
    /// Its id.
    pub id: String,
    /// Its name, if it was given one.
    pub name: Option<String>,
}

/// `GET /api/groups`: the groups the caller may see, with their names: the newest `limit` (the
/// last made), in the organisation's order.
pub async fn groups(
    state: &AppState,
    enforcer: &Enforcer,
    limit: usize,
) -> Result<Listed<GroupEntry>, ApiError> {
    let enforcer = enforcer.clone();
    let content = state.content_handle();
    off_runtime(move || {
        let seen: Vec<&str> = enforcer
            .sight()
            .policy()
            .group_ids()
            .filter(|group| enforcer.allows(&Query::view(ResourceKind::Group, *group)))
            .collect();
        let kept = newest(&seen, limit, |_| true);
        Listed {
            entries: kept
                .entries
                .into_iter()
                .map(|group| GroupEntry { id: group.to_owned(), name: content.group_name(group) })
                .collect(),
            truncated: kept.truncated,
        }
    })
    .await
}
