//! Administration, decided by the evaluator: a batch of [`Edit`]s is checked for its caller on
//! the revision it is made on, then applied to a copy of that revision's organisation.
//!
//! The checks, in order, each refusing the whole batch (nothing is applied):
//! 1. `expect_revision`, if given, is the revision served (else [`Refusal::Stale`]).
//! 2. For each edit in turn, every id it names is in the organisation ([`Refusal::Unknown`])
//!    and the caller may make it: the evaluator's decision on the administrative permission it
//!    needs ([`Policy::authorize`], [`Refusal::Forbidden`] with that decision).
//! 3. The edited organisation validates as [`Policy::new`] demands: the build of the next
//!    revision checks that (or, for a preview, `Policy::new` itself), with every problem.
//!
//! Who may make which edit is written down in `docs/decisions.md` ("Who may make an edit").

use serde::{Deserialize, Serialize};
use tessera_core::{Decision, Edit, Org, Policy, Query, Target, Timestamp, UnknownId, ValidationErrors};

use crate::issuer::Revision;

/// The most edits one batch may hold.
pub const MAX_EDITS: usize = 100;
/// The most Projects whose actions `/api/admin/denials` asks about.
pub const MAX_DENIAL_PROJECTS: usize = 50;

/// The body of `POST /api/admin/edits` and `POST /api/admin/preview`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBatch {
    /// The edits, applied in order, all or none.
    pub edits: Vec<Edit>,
    /// The revision the caller saw; a batch made on another is refused.
    #[serde(default)]
    pub expect_revision: Option<u64>,
}

/// Why a batch was refused.
#[derive(Debug)]
pub enum Refusal {
    /// More than [`MAX_EDITS`] edits.
    TooMany(usize),
    /// `expect_revision` is not the revision served.
    Stale {
        /// What the caller expected.
        expected: u64,
        /// What is served.
        current: u64,
    },
    /// Edit `index` names something the organisation lacks.
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
        /// The evaluator's decision on the permission it needs.
        decision: Box<Decision>,
    },
    /// The edited organisation does not validate.
    Invalid(ValidationErrors),
}

/// Checks `batch` for `caller` on `revision` (steps 1 and 2 of the module docs) and applies it
/// to a copy of its organisation.
pub fn apply(revision: &Revision, caller: &str, batch: &EditBatch, now: Timestamp) -> Result<Org, Refusal> {
    if batch.edits.len() > MAX_EDITS {
        return Err(Refusal::TooMany(batch.edits.len()));
    }
    if let Some(expected) = batch.expect_revision
        && expected != revision.number()
    {
        return Err(Refusal::Stale { expected, current: revision.number() });
    }
    let policy = revision.policy();
    for (index, edit) in batch.edits.iter().enumerate() {
        let decision = policy.authorize(caller, edit, now).map_err(|id| Refusal::Unknown { index, id })?;
        if !decision.allowed {
            return Err(Refusal::Forbidden { index, decision: Box::new(decision) });
        }
    }
    let mut org = revision.org().clone();
    for edit in &batch.edits {
        edit.apply(&mut org);
    }
    Ok(org)
}

/// What `POST /api/admin/preview` answers: who gains and loses what, were the batch applied to
/// `revision`.
pub fn preview(
    revision: &Revision,
    caller: &str,
    batch: &EditBatch,
    now: Timestamp,
) -> Result<tessera_core::Impact, Refusal> {
    let org = apply(revision, caller, batch, now)?;
    let next = Policy::new(&org).map_err(Refusal::Invalid)?;
    Ok(tessera_core::diff(revision.policy(), &next, now, None))
}

/// One denied action of a user, with the suggestions that would allow it and whether the
/// caller may make each.
#[derive(Debug, Serialize)]
pub struct Denial {
    /// The question.
    pub query: Query,
    /// The evaluator's explanation, with its suggestions (`grants`).
    pub decision: Decision,
    /// Per suggestion: whether the caller may make every edit of it.
    pub may_apply: Vec<bool>,
}

/// The standard actions of `user` that are denied, with suggestions: creating tasks, uploading
/// files and editing the wiki in each Project they see (the first [`MAX_DENIAL_PROJECTS`] by
/// id), creating a group and sending an announcement. The caller must hold `user.manage` on
/// `user`'s home Office; `Err` is the evaluator's refusal of that.
pub fn denials(
    policy: &Policy,
    caller: &str,
    user: &str,
    now: Timestamp,
) -> Result<Vec<Denial>, Box<Decision>> {
    let home = policy.user_summary(user).map(|summary| summary.home_office.to_owned()).unwrap_or_default();
    let authority = policy.decide(caller, &Query::can("user.manage", Target::office(home)), now);
    if !authority.allowed {
        return Err(Box::new(authority));
    }
    let mut projects = policy.visible_projects(user, now);
    projects.sort_unstable();
    projects.truncate(MAX_DENIAL_PROJECTS);
    let mut queries: Vec<Query> = projects
        .iter()
        .flat_map(|project| {
            ["task.create", "file.upload", "wiki.manage"]
                .into_iter()
                .map(move |permission| Query::can(permission, Target::project(*project)))
        })
        .collect();
    queries.push(Query::can("group.create", Target::none()));
    queries.push(Query::can("announcement.org", Target::none()));
    Ok(queries
        .into_iter()
        .filter(|query| !policy.allows(user, query, now))
        .map(|query| {
            let decision = policy.explain(user, &query, now);
            let may_apply = decision
                .grants
                .iter()
                .map(|grant| {
                    grant
                        .edits
                        .iter()
                        .all(|edit| policy.authorize(caller, edit, now).is_ok_and(|d| d.allowed))
                })
                .collect();
            Denial { query, decision, may_apply }
        })
        .collect())
}
