//! Who is asking: the bearer token's user or service, an active member of the organisation,
//! their own verified snapshot ([`Sight`]), and the snapshot version their client holds (which a
//! replica catches up with before it answers).

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap};

use crate::AppState;
use crate::identity::{AuthError, Caller};
use crate::issuer::{IssueError, Revision, Sight};
use crate::refusal::ApiError;
use crate::source::quoted;

/// The user the bearer token names, or a 401 that says how to authenticate; a service is
/// refused (403): it may call `/api/check` only, which takes [`authenticate_any`].
pub(crate) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let caller = authenticate_any(state, headers).await?;
    if caller.service {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a service may call /api/check only: this route is for users",
        ));
    }
    Ok(caller)
}

/// The user or the service the bearer token names, or a 401 that says how to authenticate: for
/// `/api/check`, the one route a service may call.
pub(crate) async fn authenticate_any(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    state.0.identity.caller(headers).await.map_err(|error| {
        let (code, message, challenge) = match error {
            AuthError::Missing => {
                ("unauthenticated", "send `Authorization: Bearer <token>`".to_owned(), "Bearer")
            }
            AuthError::Invalid(why) => ("invalid_token", why, "Bearer error=\"invalid_token\""),
        };
        ApiError::new(StatusCode::UNAUTHORIZED, code, message).with_challenge(challenge)
    })
}

/// The signed-in user the bearer token names, an active member of the organisation: a 401
/// without a valid token, a 403 for anyone else.
pub(crate) async fn signed_in_user(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let caller = authenticate(state, headers).await?;
    member(&state.0.issuer.current(), &caller.user)?;
    caught_up_with(state, headers).await?;
    Ok(caller)
}

/// `user`'s own snapshot of the revision served ([`Sight`]): what the server decides for them
/// with.
pub(crate) async fn sight_of(state: &AppState, user: &str) -> Result<Arc<Sight>, ApiError> {
    state.0.issuer.sight(user).await.map_err(|error| match error {
        IssueError::UnknownUser => unknown_user(user),
        IssueError::Internal(message) => ApiError::internal(message),
    })
}

/// The revision that decided an answer.
pub const REVISION_HEADER: &str = "tessera-revision";
/// The version of a user's snapshot: in an answer, the one the server issues them now; in a
/// request, the one the client holds.
pub const SNAPSHOT_VERSION_HEADER: &str = "tessera-snapshot-version";

/// A 403 unless `user` is an active user of `revision`'s organisation.
pub(crate) fn member(revision: &Revision, user: &str) -> Result<(), ApiError> {
    match revision.policy().user_summary(user) {
        None => Err(unknown_user(user)),
        Some(summary) if !summary.active => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "inactive_user",
            format!("user `{}` is not active", quoted(user)),
        )),
        Some(_) => Ok(()),
    }
}

pub(crate) fn unknown_user(user: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "unknown_user",
        format!("the organisation holds no user `{}`", quoted(user)),
    )
}

/// The highest snapshot version the client says it holds: the `<version>-` that starts the
/// `ETag`s of its `If-None-Match`.
pub(crate) fn held_version(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|tag| {
            let tag = tag.trim();
            let opaque = tag.strip_prefix("W/").unwrap_or(tag).strip_prefix('"')?;
            opaque.split('-').next()?.parse::<u64>().ok()
        })
        .max()
}

/// How long a replica that is behind the client waits to catch up before it answers 503.
const CATCH_UP_WAIT: Duration = Duration::from_secs(3);

/// The snapshot version the client says it holds: the `<version>-` that starts the `ETag`s of
/// its `If-None-Match`, or its `Tessera-Snapshot-Version`, whichever is higher.
pub(crate) fn client_version(headers: &HeaderMap) -> Option<u64> {
    let stated = headers
        .get(SNAPSHOT_VERSION_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    held_version(headers).max(stated)
}

/// Over a database, a client may hold a snapshot of a revision this replica has not built yet
/// (another replica made it, and the client's event came from there): answering from the older
/// revision would hand it an older version, which it must refuse as a rollback. So the replica
/// catches up first (waking its follower), and answers 503 with `Retry-After` if it cannot in
/// time: the client keeps what it holds and asks again. A version beyond anything the
/// database's log has (no replica made it: a client that made it up) is answered at once, from
/// the revision served, without waiting or waking anything.
pub(crate) async fn caught_up_with(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let (Some(database), Some(held)) = (state.database(), client_version(headers)) else { return Ok(()) };
    let mut installed = state.0.issuer.subscribe();
    if installed.borrow().number() >= held {
        return Ok(());
    }
    match database.store().current_revision().await {
        Ok(logged) if logged < held => return Ok(()),
        Ok(_) => {}
        Err(error) => {
            database.note(&Err::<(), _>(error), state.0.issuer.now());
        }
    }
    database.wake();
    let caught_up =
        tokio::time::timeout(CATCH_UP_WAIT, installed.wait_for(|revision| revision.number() >= held))
            .await
            .is_ok_and(|waited| waited.is_ok());
    if caught_up {
        return Ok(());
    }
    let error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "behind",
        format!(
            "this server has not caught up with revision {held} yet (it serves {}): ask again",
            state.0.issuer.current().number()
        ),
    );
    Err(error.with_retry_after(1))
}
