//! How an edit becomes a revision: the write path, in one place.
//!
//! Every change of the organisation made through the server, an administrator's batch
//! (`POST /api/admin/edits`) or a user's own action that changes it (a new Project, group or
//! direct message: `actions.rs`), is a batch of [`Edit`]s from a caller, and goes through
//! [`commit`], in this order:
//!
//! 1. **Shape.** A batch holds at least one edit and at most [`MAX_EDITS`]
//!    ([`EditError::Empty`], [`EditError::TooMany`]): an empty batch would pass every check
//!    below by checking nothing.
//! 2. **What the caller may name.** Every id an edit names must be held by the caller's own
//!    snapshot ([`Sight`]): one it does not hold is refused exactly as an id the organisation
//!    lacks ([`EditError::Unknown`]), naming nothing, so a batch is no way to learn what lies
//!    behind the firewall.
//! 3. **Authority.** The evaluator must allow the caller every edit ([`Policy::authorize`]), on
//!    their own snapshot and on the whole organisation alike; a refusal carries the decision of
//!    their own snapshot ([`EditError::Forbidden`]), as the client explains it.
//! 4. **The revision expected.** Only then `expect_revision`, if given, is compared with the
//!    revision served ([`EditError::Stale`]): a caller who may not make the batch causes no
//!    catch-up and learns nothing of the log.
//!    Steps 1 to 3 run before the global change lock is taken (a caller who may not make the
//!    batch never queues on it), and again under it; step 4 and the key only under it.
//! 5. **Once only.** With an `Idempotency-Key`, the same key and request from the same caller
//!    within a day answer the first result and apply nothing; the same key with another request
//!    is refused ([`EditError::KeyReused`]). The key is kept with the commit, in the same
//!    transaction, so it holds across replicas and restarts.
//! 6. **Build.** The next revision is built from the one served (`Cutter::edit`: only what the
//!    edits touch is new, the rest shared; validated as a full build would be:
//!    [`EditError::Invalid`]), with the users whose decisions it changes and the rows it
//!    changes, found from the edits, off the async runtime.
//! 7. **Commit and install.** Over a database, the rows the edits changed are written, on the
//!    exact revision they were made on; when another came first (this replica or another), the server catches up
//!    and starts again from step 2, for up to [`RETRY_FOR`] (with `expect_revision`, it answers
//!    409 instead). In memory it is kept as it is. From a file: [`EditError::ReadOnly`]. Then it
//!    is served.
//!
//! [`preview`] runs steps 1 to 4 and answers the impact of the batch instead of making it, at
//! most [`MAX_PREVIEWS`] at once.
//!
//! Who may make which edit is written in `docs/decisions.md` ("Who may make an edit").

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_core::{Changes, Decision, Edit, Impact, Timestamp, UnknownId, ValidationErrors};

use crate::Edits;
use crate::issuer::{BuildError, Issuer, Revision, Sight};
use crate::replica;
use crate::store::{Remembered, StoreError};

/// The most edits one batch may hold.
pub const MAX_EDITS: usize = 100;
/// How many previews may be computed at once (each compares two organisations).
pub const MAX_PREVIEWS: usize = 1;
/// How long a batch is tried again while other revisions come first (a replica catching up
/// loses to one that is current and busy, until that one's queue drains): below the default
/// request timeout.
pub const RETRY_FOR: Duration = Duration::from_secs(20);
/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_SECONDS: i64 = 24 * 3600;
/// The longest `Idempotency-Key` accepted.
pub const MAX_KEY_BYTES: usize = 255;

/// The body of `POST /api/admin/edits` and `POST /api/admin/preview`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditBatch {
    /// The edits, applied in order, all or none: `{"edit": KIND, …}` (`docs/decisions.md`, "Who
    /// may make an edit").
    #[schema(value_type = Vec<Object>, min_items = 1, max_items = 100)]
    pub edits: Vec<Edit>,
    /// The revision the caller saw; a batch made on another is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_revision: Option<u64>,
}

/// Why a batch was not made (or previewed).
#[derive(Debug)]
pub enum EditError {
    /// No edits.
    Empty,
    /// More than [`MAX_EDITS`] edits.
    TooMany(usize),
    /// Edit `index` names something the caller's snapshot does not hold (or the organisation
    /// lacks: the two answer alike).
    Unknown {
        /// Which edit.
        index: usize,
        /// What it names.
        id: UnknownId,
    },
    /// The caller may not make edit `index`.
    Forbidden {
        /// Which edit.
        index: usize,
        /// The decision of the caller's own snapshot on the question the edit needs.
        decision: Box<Decision>,
    },
    /// `expect_revision` is not the revision served.
    Stale {
        /// What the caller expected.
        expected: u64,
        /// What is served.
        current: u64,
    },
    /// The edited organisation does not validate: its problems, in words, each naming only
    /// what the caller's own snapshot holds ([`problems`]).
    Invalid(Vec<String>),
    /// The organisation comes from a file the server does not write.
    ReadOnly,
    /// The `Idempotency-Key` was used by this caller for another request within a day.
    KeyReused,
    /// The database cannot be reached (or other revisions kept coming first).
    Unavailable(String),
    /// Anything else: a bug, a database that refused, a revision that does not build.
    Internal(String),
}

impl From<BuildError> for EditError {
    fn from(error: BuildError) -> EditError {
        match error {
            BuildError::Invalid(errors) => EditError::Invalid(problems(&errors, None, &[])),
            BuildError::Internal(message) => EditError::Internal(message),
        }
    }
}

/// What a caller's request is, for an `Idempotency-Key`: the key, and a fingerprint of the
/// request it came with (method, path and body).
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The key, as sent.
    pub key: String,
    /// SHA-256 of the request, hex.
    pub fingerprint: String,
}

/// The answer a change gets, kept with an `Idempotency-Key` so that the same request sent again
/// gets it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: serde_json::Value,
}

impl Reply {
    /// `self`, kept for the request `key` fingerprints.
    pub fn remembered(&self, key: &Idempotency) -> Remembered {
        Remembered { fingerprint: key.fingerprint.clone(), status: self.status, body: self.body.clone() }
    }
}

/// What a caller is told of what is wrong with the organisation their batch would make: each
/// problem in words when every id it names is held by their own snapshot (`sight`) or made by
/// their batch (`batch`: a new Agreement's id), and, for all
/// the others, one sentence that names nothing and counts nothing (a conversation of others that
/// an ended Agreement carried, say, is not theirs to learn of).
pub fn problems(errors: &ValidationErrors, sight: Option<&Sight>, batch: &[Edit]) -> Vec<String> {
    let made = |id: &str| {
        batch.iter().any(|edit| matches!(edit, Edit::ShareWithOffice { agreement, .. } if agreement == id))
    };
    let mut told: Vec<String> = Vec::new();
    let mut hidden = false;
    for error in errors.errors() {
        let known = sight
            .is_some_and(|sight| error.named_ids().iter().all(|id| sight.policy().knows_id(id) || made(id)));
        if known {
            told.push(error.to_string());
        } else {
            hidden = true;
        }
    }
    if hidden {
        told.push("the organisation would hold a problem with what you cannot see".to_owned());
    }
    told
}

/// A change made: the revision now served, and whether anything changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    /// The revision now served.
    pub revision: u64,
    /// Whether the organisation changed (a batch that changes nothing makes no revision).
    pub changed: bool,
}

/// Where a batch comes from: an administrator's route (`POST /api/admin/edits`,
/// `POST /api/admin/preview`), or one of the app's actions (`actions.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An administrator's route: it may not hold a user's own actions, and the server names
    /// every new Agreement.
    Admin,
    /// An action route, which picked the ids of what it makes.
    Action,
}

/// The route a user's own action is made through, for the edits that are one
/// ([`Edit::actor`]).
fn action_route(edit: &Edit) -> Option<&'static str> {
    match edit {
        Edit::CreateProject { .. } => Some("POST /api/projects"),
        Edit::CreateGroup { .. } => Some("POST /api/groups"),
        Edit::StartDm { .. } => Some("POST /api/dms"),
        _ => None,
    }
}

/// What the server decides of a batch from an administrator's route before anything is looked
/// up (step 1 of the module docs, continued): a user's own action (`create_project`,
/// `create_group`, `start_dm`) is refused, whoever sends it and whatever it names, as an edit the
/// caller may not make (403 `out_of_scope`): only its action route makes it, with an id of the
/// server's choosing, so that a chosen id is no way to learn whether one exists. And every new
/// Agreement (`share_with_office`) gets an id of the server's choosing: the one sent is not
/// kept, so that a taken id (renamed `-2` by `Edit::apply`) tells nothing either.
pub fn from_admin(batch: &mut EditBatch) -> Result<(), EditError> {
    for (index, edit) in batch.edits.iter_mut().enumerate() {
        if let Some(route) = action_route(edit) {
            return Err(EditError::Forbidden {
                index,
                decision: Box::new(Decision {
                    allowed: false,
                    code: tessera_core::Code::OutOfScope,
                    message: format!("a user's own action, made only through `{route}`, which picks its id"),
                    facts: Vec::new(),
                    grants: Vec::new(),
                }),
            });
        }
        if let Edit::ShareWithOffice { agreement, .. } = edit {
            *agreement = new_id("a-")?;
        }
    }
    Ok(())
}

/// A new random id: `prefix` and 16 hexadecimal digits.
pub fn new_id(prefix: &str) -> Result<String, EditError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| EditError::Internal(format!("no randomness for an id: {e}")))?;
    let mut id = String::with_capacity(prefix.len() + 16);
    id.push_str(prefix);
    for byte in bytes {
        use std::fmt::Write as _;
        let _ = write!(id, "{byte:02x}");
    }
    Ok(id)
}

/// Steps 1 to 4 of the module docs for the caller `sight` names, on `revision` (the revision
/// `sight` was issued from).
pub fn authorise(
    revision: &Revision,
    sight: &Sight,
    batch: &EditBatch,
    now: Timestamp,
) -> Result<(), EditError> {
    permitted(revision, sight, batch, now)?;
    if let Some(expected) = batch.expect_revision
        && expected != revision.number()
    {
        return Err(EditError::Stale { expected, current: revision.number() });
    }
    Ok(())
}

/// Steps 1 to 3 of the module docs: whether the caller may make the batch at all, whatever
/// revision it expects.
pub fn permitted(
    revision: &Revision,
    sight: &Sight,
    batch: &EditBatch,
    now: Timestamp,
) -> Result<(), EditError> {
    if batch.edits.is_empty() {
        return Err(EditError::Empty);
    }
    if batch.edits.len() > MAX_EDITS {
        return Err(EditError::TooMany(batch.edits.len()));
    }
    for (index, edit) in batch.edits.iter().enumerate() {
        // The caller's own snapshot first: what it does not hold is unknown to them.
        let seen = sight
            .policy()
            .authorize(&sight.user, edit, now)
            .map_err(|id| EditError::Unknown { index, id })?;
        if !seen.allowed {
            return Err(EditError::Forbidden { index, decision: Box::new(seen) });
        }
        // The whole organisation decides as the snapshot (a property test); should the two
        // ever disagree, the stricter answer stands.
        let whole = revision
            .policy()
            .authorize(&sight.user, edit, now)
            .map_err(|id| EditError::Unknown { index, id })?;
        if !whole.allowed {
            return Err(EditError::Internal(format!(
                "edit {index}: the caller's snapshot allows what the organisation does not ({})",
                whole.code.as_str()
            )));
        }
    }
    Ok(())
}

/// Steps 1 to 3 for the caller on the revision served now: before the global change lock
/// (so that a caller who may not make the batch never waits on it, nor makes others wait), and
/// again under it (the caller's snapshot is cached: cheap).
async fn may_make(issuer: &Issuer, caller: &str, batch: &EditBatch) -> Result<(), EditError> {
    let revision = issuer.current();
    let sight = sight(issuer, caller).await?;
    permitted(&revision, &sight, batch, issuer.now())
}

/// A revision built and not yet installed.
#[derive(Debug)]
pub struct Prepared {
    /// The next revision.
    pub revision: Revision,
    /// The users whose snapshots it renews.
    pub renewed: Vec<String>,
    /// The elements of the organisation it changed, by id: the rows the store writes.
    pub changes: Changes,
}

/// Step 6: `edits` applied to `base` and built as revision `number` from it (`Cutter::edit`:
/// what they leave alone is shared, the users whose decisions they change found from them),
/// off the async runtime; `None` when they change nothing.
pub(crate) fn prepare_now(
    base: &Revision,
    number: u64,
    edits: &[Edit],
    now: Timestamp,
) -> Result<Option<Prepared>, ValidationErrors> {
    let started = std::time::Instant::now();
    let edited = base.cutter().edit(edits, now)?;
    if edited.changes().is_empty() {
        return Ok(None);
    }
    let renewed = edited.changed_users().to_vec();
    let changes = edited.changes().clone();
    let revision = Revision::edited(number, base, edited.into_cutter(), &renewed, now, started.elapsed());
    Ok(Some(Prepared { revision, renewed, changes }))
}

/// [`prepare_now`] on the blocking pool.
async fn prepare(
    issuer: &Issuer,
    base: Arc<Revision>,
    number: u64,
    batch: Arc<EditBatch>,
    sight: &Sight,
) -> Result<Option<Prepared>, EditError> {
    let now = issuer.now();
    let edits = Arc::clone(&batch);
    tokio::task::spawn_blocking(move || prepare_now(&base, number, &edits.edits, now))
        .await
        .map_err(|e| EditError::Internal(e.to_string()))?
        .map_err(|errors| EditError::Invalid(problems(&errors, Some(sight), &batch.edits)))
}

/// Who asks for a change, and how the answer is written: what [`commit`] needs besides the
/// batch.
pub struct Request<'a> {
    /// The caller's user id.
    pub caller: &'a str,
    /// Their `Idempotency-Key`, if they sent one.
    pub idempotency: Option<&'a Idempotency>,
    /// The answer of a change made, from the revision served after it: kept with the key.
    pub reply: &'a (dyn Fn(Changed) -> Reply + Send + Sync),
    /// Where the batch comes from.
    pub origin: Origin,
}

/// Makes `batch` for the caller as one new revision, by the steps of the module docs; answers
/// the reply (`request.reply` of the change, or the one remembered for the key).
pub(crate) async fn commit(
    issuer: &Issuer,
    target: &Edits,
    request: &Request<'_>,
    mut batch: EditBatch,
) -> Result<Reply, EditError> {
    if request.origin == Origin::Admin {
        from_admin(&mut batch)?;
    }
    let batch = Arc::new(batch);
    match target {
        Edits::ReadOnly(_) => Err(EditError::ReadOnly),
        Edits::Memory(remembered) => {
            may_make(issuer, request.caller, &batch).await?;
            let _writer = issuer.lock_changes().await;
            may_make(issuer, request.caller, &batch).await?;
            if let Some(reply) = recall_memory(remembered, request.caller, request.idempotency)? {
                return Ok(reply);
            }
            let base = issuer.current();
            let sight = sight(issuer, request.caller).await?;
            authorise(&base, &sight, &batch, issuer.now())?;
            let number = crate::issuer::next_version(base.number(), issuer.now());
            let changed = match prepare(issuer, Arc::clone(&base), number, batch, &sight).await? {
                Some(prepared) => Changed { revision: issuer.install(prepared.revision), changed: true },
                None => Changed { revision: base.number(), changed: false },
            };
            let reply = (request.reply)(changed);
            if let Some(key) = request.idempotency {
                remembered.insert((request.caller.to_owned(), key.key.clone()), reply.remembered(key));
            }
            Ok(reply)
        }
        Edits::Database(database) => commit_to_database(issuer, database, request, batch).await,
    }
}

/// [`commit`] over a database.
async fn commit_to_database(
    issuer: &Issuer,
    database: &replica::Database,
    request: &Request<'_>,
    batch: Arc<EditBatch>,
) -> Result<Reply, EditError> {
    let edits = serde_json::to_value(&batch.edits).map_err(|e| EditError::Internal(e.to_string()))?;
    may_make(issuer, request.caller, &batch).await?;
    let _writer = issuer.lock_changes().await;
    may_make(issuer, request.caller, &batch).await?;
    if let Some(key) = request.idempotency
        && let Some(reply) = recall(database, request.caller, key).await?
    {
        return Ok(reply);
    }
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    while tokio::time::Instant::now() < deadline {
        let base = issuer.current();
        let now = issuer.now();
        let sight = sight(issuer, request.caller).await?;
        match authorise(&base, &sight, &batch, now) {
            Ok(()) => {}
            // Named a revision this replica has not heard of yet: catch up, and check again.
            Err(EditError::Stale { expected, current }) if expected > current => {
                replica::catch_up(issuer, database).await.map_err(unavailable)?;
                if issuer.current().number() == base.number() {
                    return Err(EditError::Stale { expected, current });
                }
                continue;
            }
            Err(error) => return Err(error),
        }
        let number = base.number().saturating_add(1);
        let Some(prepared) = prepare(issuer, Arc::clone(&base), number, Arc::clone(&batch), &sight).await?
        else {
            // Nothing to commit; the key is kept all the same, so that it cannot be used again
            // with another request.
            let reply = (request.reply)(Changed { revision: base.number(), changed: false });
            if let Some(key) = request.idempotency {
                let kept = database.store().remember(request.caller, &key.key, &reply.remembered(key)).await;
                database.note(&kept, now);
                match kept {
                    Ok(()) => {}
                    Err(StoreError::Replayed(remembered)) => return replay(remembered, Some(key)),
                    Err(error) => return Err(unavailable(error)),
                }
            }
            return Ok(reply);
        };
        let reply = (request.reply)(Changed { revision: number, changed: true });
        let remember = request.idempotency.map(|key| (key, reply.remembered(key)));
        let committed = database
            .store()
            .commit_changes(
                base.number(),
                prepared.revision.cutter(),
                &prepared.changes,
                request.caller,
                &edits,
                &prepared.renewed,
                remember.as_ref().map(|(key, remembered)| (key.key.as_str(), remembered)),
            )
            .await;
        database.note(&committed, now);
        match committed {
            Ok(committed) if committed == prepared.revision.number() => {
                issuer.install(prepared.revision);
                return Ok(reply);
            }
            Ok(_) => {
                // Cannot happen (a commit on base n makes n + 1); read it back rather than guess.
                replica::catch_up(issuer, database).await.map_err(unavailable)?;
                return Err(EditError::Internal("the database numbered the revision otherwise".to_owned()));
            }
            Err(StoreError::Replayed(remembered)) => {
                // The same key came through another replica meanwhile.
                return replay(remembered, request.idempotency);
            }
            Err(StoreError::Stale { expected, current }) => {
                // Behind what is served (a database restored from an older copy): no retry
                // can help, and catching up says why.
                replica::catch_up(issuer, database).await.map_err(unavailable)?;
                if current < expected {
                    return Err(EditError::Internal(format!(
                        "the database's revision {current} is below the revision served, {expected}"
                    )));
                }
                if batch.expect_revision.is_some() {
                    return Err(EditError::Stale { expected, current });
                }
            }
            Err(error) => return Err(unavailable(error)),
        }
    }
    Err(EditError::Unavailable(format!(
        "other revisions kept coming first for {} s: try again",
        RETRY_FOR.as_secs()
    )))
}

/// The caller's own snapshot of the revision served.
async fn sight(issuer: &Issuer, caller: &str) -> Result<Arc<Sight>, EditError> {
    issuer.sight(caller).await.map_err(|error| match error {
        // The caller was checked a member before; they may have just been removed.
        crate::issuer::IssueError::UnknownUser => {
            EditError::Unknown { index: 0, id: UnknownId { kind: "user", id: caller.to_owned() } }
        }
        crate::issuer::IssueError::Internal(message) => EditError::Internal(message),
    })
}

/// The reply remembered for the caller's key in the database, if any: the same request gets it
/// again, another is refused.
pub(crate) async fn recall(
    database: &replica::Database,
    caller: &str,
    key: &Idempotency,
) -> Result<Option<Reply>, EditError> {
    let remembered = database.store().remembered(caller, &key.key).await;
    database.note(&remembered, Timestamp::from_unix(0));
    match remembered.map_err(unavailable)? {
        Some(remembered) => replay(remembered, Some(key)).map(Some),
        None => Ok(None),
    }
}

/// The reply remembered in memory for `caller`'s key, if any.
pub(crate) fn recall_memory(
    memory: &crate::Remembering,
    caller: &str,
    key: Option<&Idempotency>,
) -> Result<Option<Reply>, EditError> {
    let Some(key) = key else { return Ok(None) };
    match memory.get(&(caller.to_owned(), key.key.clone())) {
        Some(remembered) => replay(remembered, Some(key)).map(Some),
        None => Ok(None),
    }
}

/// A remembered reply, if `key` is the same request.
pub(crate) fn replay(remembered: Remembered, key: Option<&Idempotency>) -> Result<Reply, EditError> {
    match key {
        Some(key) if key.fingerprint == remembered.fingerprint => {
            Ok(Reply { status: remembered.status, body: remembered.body })
        }
        _ => Err(EditError::KeyReused),
    }
}

fn unavailable(error: StoreError) -> EditError {
    match error {
        StoreError::Unavailable(message) => EditError::Unavailable(message),
        other => EditError::Internal(other.to_string()),
    }
}

/// What `POST /api/admin/preview` answers: who gains and loses what, were the batch applied to
/// `revision`. Steps 1 to 4 of the module docs, then the comparison, on the blocking pool, at
/// most [`MAX_PREVIEWS`] at once (a caller who may not make the batch never gets that far).
pub(crate) async fn preview(
    issuer: &Issuer,
    previews: &tokio::sync::Semaphore,
    caller: &str,
    mut batch: EditBatch,
) -> Result<(u64, Impact), EditError> {
    from_admin(&mut batch)?;
    let revision = issuer.current();
    let now = issuer.now();
    let sight = sight(issuer, caller).await?;
    authorise(&revision, &sight, &batch, now)?;
    let _permit = previews.acquire().await.map_err(|e| EditError::Internal(e.to_string()))?;
    let number = revision.number();
    tokio::task::spawn_blocking(move || {
        let next = revision
            .cutter()
            .edit(&batch.edits, now)
            .map_err(|errors| EditError::Invalid(problems(&errors, Some(sight.as_ref()), &batch.edits)))?;
        Ok((number, tessera_core::diff(revision.policy(), next.cutter().policy(), now, None)))
    })
    .await
    .map_err(|e| EditError::Internal(e.to_string()))?
}
