//! Enforcing in a backend: the server's decisions for a user, made on that user's own snapshot.
//!
//! The client decides with the snapshot the issuer serves its user; the server must refuse
//! exactly what the client hides, with the same reason. So every decision here is made on the
//! [`Sight`]: that very snapshot, verified from its signed bytes as the client verifies it, and
//! asked the same question with the same core. Three ways in:
//!
//! - [`check`]: decisions for `POST /api/check` (any backend, any language), every check of a
//!   call decided on one revision;
//! - [`Enforcer`]: an axum extractor for routes of a Rust backend built on this crate, with the
//!   rule every route of the server keeps ([`Enforcer::require`]): a target the caller may not
//!   see answers as an id that does not exist (404, naming nothing), and a refusal is a 403
//!   carrying the decision the client's `explain` gives;
//! - [`Issuer::sight`](crate::issuer::Issuer::sight) itself, for anything else.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use tessera_core::{Code, Query, ResourceKind, Timestamp};

use crate::AppState;
use crate::issuer::Sight;
use crate::refusal::ApiError;

/// The most checks one `POST /api/check` may hold.
pub const MAX_CHECKS: usize = 1000;

/// One decision as `/api/check` answers it: what the client's `can`/`explain` say, without the
/// facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the user may.
    pub allowed: bool,
    /// Why, as a stable code.
    pub code: Code,
    /// Why, as a sentence.
    pub message: String,
}

/// The decisions of one call, on one revision.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// The revision that decided.
    pub revision: u64,
    /// The user's snapshot version it decided with.
    #[serde(skip)]
    pub version: u64,
    /// One per query, in order.
    pub decisions: Vec<Verdict>,
}

/// `queries` decided for the user of `sight` on their own snapshot at `now`, on the blocking
/// pool. A view of a task, document, report or finance row that names no Project is given the
/// Project of the item the server holds with that id, if the caller's own snapshot may view that
/// Project (the client, which knows the item, names it); otherwise it is left unnamed, and the
/// check answers exactly as for an id the server does not hold: the Project of an item behind
/// the firewall is never named.
pub async fn check(
    sight: Arc<Sight>,
    content: Arc<crate::content::Content>,
    mut queries: Vec<Query>,
    now: Timestamp,
) -> Result<Checked, ApiError> {
    tokio::task::spawn_blocking(move || {
        for query in &mut queries {
            if let Query::View { kind, id, project: project @ None } = query
                && kind.in_project()
            {
                *project = content
                    .project_of(*kind, id)
                    .filter(|p| sight.allows(&Query::view(ResourceKind::Project, p.as_str()), now));
            }
        }
        let decisions = queries
            .iter()
            .map(|query| {
                let decision = sight.decide(query, now);
                Verdict { allowed: decision.allowed, code: decision.code, message: decision.message }
            })
            .collect();
        Checked { revision: sight.revision, version: sight.version, decisions }
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))
}

/// The signed-in caller with their own snapshot: an axum extractor (state [`AppState`]) for the
/// routes of a backend built on `tessera-server`. It refuses a request without a valid token
/// (401), from a service (403: services may only call `/api/check`), or from someone the
/// organisation does not hold active (403).
#[derive(Debug, Clone)]
pub struct Enforcer {
    sight: Arc<Sight>,
    now: Timestamp,
}

impl FromRequestParts<AppState> for Enforcer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Enforcer, ApiError> {
        let caller = crate::caller::signed_in_user(state, &parts.headers).await?;
        let sight = crate::caller::sight_of(state, &caller.user).await?;
        Ok(Enforcer { sight, now: state.issuer().now() })
    }
}

impl Enforcer {
    /// An enforcer for `sight` at `now` (the extractor makes one per request).
    pub fn new(sight: Arc<Sight>, now: Timestamp) -> Enforcer {
        Enforcer { sight, now }
    }

    /// The caller's user id.
    pub fn user(&self) -> &str {
        &self.sight.user
    }

    /// The caller's own snapshot.
    pub fn sight(&self) -> &Arc<Sight> {
        &self.sight
    }

    /// The time decisions are made at.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Whether the caller may.
    pub fn allows(&self, query: &Query) -> bool {
        self.sight.allows(query, self.now)
    }

    /// A 404, as for an id that does not exist, unless the caller may see the `kind` `id`
    /// (a Project, person or group; a direct message is seen by its participants).
    pub fn see(&self, kind: Seen, id: &str) -> Result<(), ApiError> {
        let seen = match kind {
            Seen::Project => self.allows(&Query::view(ResourceKind::Project, id)),
            Seen::Person => self.allows(&Query::view(ResourceKind::Person, id)),
            Seen::Group => self.allows(&Query::view(ResourceKind::Group, id)),
            Seen::Dm => {
                self.sight.policy().dm_participants(id).is_some_and(|pair| pair.contains(&self.user()))
            }
        };
        if seen { Ok(()) } else { Err(ApiError::not_found(kind.name(), id)) }
    }

    /// A 403 carrying the decision (as the client's `explain` gives it, without suggestions)
    /// unless the caller may.
    pub fn require(&self, query: &Query) -> Result<(), ApiError> {
        let decision = self.sight.decide(query, self.now);
        if decision.allowed { Ok(()) } else { Err(ApiError::forbidden(&decision)) }
    }
}

/// What a route names in its path or body, to be seen before anything is decided of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A Project (`view`).
    Project,
    /// A person (`view`).
    Person,
    /// A group (`view`: a member).
    Group,
    /// A direct message (a participant).
    Dm,
}

impl Seen {
    /// As an error message names it.
    pub fn name(self) -> &'static str {
        match self {
            Seen::Project => "project",
            Seen::Person => "person",
            Seen::Group => "group",
            Seen::Dm => "direct message",
        }
    }
}
