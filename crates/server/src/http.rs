//! The HTTP face: routes, refusals and limits.
//!
//! Every refusal is a 4xx or 5xx with `{"error": {"code", "message"}}` and `Cache-Control:
//! no-store`. Handlers only read the revision being served and hand CPU work to the
//! [`Issuer`](crate::issuer::Issuer), which runs it on the blocking pool: nothing here cuts,
//! signs or builds on the async runtime's threads.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tessera_core::Edit;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;

use std::sync::Arc;

use crate::admin::{self, EditBatch, MAX_EDITS, Refusal};
use crate::identity::{AuthError, Caller};
use crate::issuer::{Answer, ChangeError, IssueError, Revision};
use crate::replica::{self, CommitError};
use crate::source::quoted;
use crate::{AppState, Edits};

/// The largest request body accepted (an override's JSON is a few dozen bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest search text accepted.
pub const MAX_QUERY_BYTES: usize = 1024;
/// How many search results come back when `limit` is not given.
pub const DEFAULT_SEARCH_LIMIT: usize = 1000;
/// The largest `limit` a search accepts.
pub const MAX_SEARCH_LIMIT: usize = 10_000;
/// How long a request may take by default before it is answered 408.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole server as an axum [`Router`]: the API under `/api/`, health and metrics, and the
/// static files of the web app (if the state has them) everywhere else.
pub fn router(state: AppState) -> Router {
    let timeout = state.0.request_timeout;
    Router::new()
        .route("/api/snapshot", get(snapshot))
        .route("/api/public-keys", get(public_keys))
        .route("/api/users", get(users))
        .route("/api/search", get(search))
        .route("/api/admin/override", post(set_override))
        .route("/api/admin/edits", post(edits))
        .route("/api/admin/preview", post(preview))
        .route("/api/admin/denials", get(denials))
        .route("/api/admin/revisions", get(revisions))
        .route("/api/demo/sign-in", post(demo_sign_in))
        .route("/api/events", get(events))
        .route("/api/events/ticket", post(event_ticket))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(no_sniff))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .with_state(state)
}

// ---- Refusals --------------------------------------------------------------------------------------

/// A refusal: its status, a stable code and a sentence, sent as
/// `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// More members of the error object (the evaluator's decision, validation problems).
    details: serde_json::Map<String, serde_json::Value>,
    /// `WWW-Authenticate`, for a 401.
    challenge: Option<&'static str>,
    /// `Retry-After`, in seconds, for a 503.
    retry_after: Option<u32>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: serde_json::Map::new(),
            challenge: None,
            retry_after: None,
        }
    }

    /// With `name: value` in the error object.
    fn with(mut self, name: &str, value: impl Serialize) -> ApiError {
        if let Ok(value) = serde_json::to_value(value) {
            self.details.insert(name.to_owned(), value);
        }
        self
    }

    fn bad_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }

    fn internal(message: impl Into<String>) -> ApiError {
        let message = message.into();
        tracing::error!(%message, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = self.details;
        error.insert("code".to_owned(), self.code.into());
        error.insert("message".to_owned(), self.message.into());
        let mut response = json_response(self.status, &serde_json::json!({ "error": error }));
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// `value` as a JSON response.
fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes(status, bytes.into(), "no-cache"),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write JSON: {e}")).into_response(),
    }
}

/// JSON bytes as a response, with a `Cache-Control`.
fn json_bytes(status: StatusCode, bytes: Bytes, cache_control: &'static str) -> Response {
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    response
}

async fn no_sniff(mut response: Response) -> Response {
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", quoted(uri.path())),
    )
}

/// The query string's parameters, or a 400. A known parameter given twice is refused, unknown
/// ones are ignored (cache-busting parameters are common).
fn parameters(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    known: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
    let Query(pairs) =
        query.map_err(|e| ApiError::bad_parameter(format!("cannot read the query string: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, value) in pairs {
        if !known.contains(&name.as_str()) {
            continue;
        }
        if out.contains_key(&name) {
            return Err(ApiError::bad_parameter(format!("`{name}` is given twice")));
        }
        out.insert(name, value);
    }
    Ok(out)
}

// ---- GET /api/snapshot -------------------------------------------------------------------------

async fn snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    if parameters(query, &["user"])?.contains_key("user") {
        return Err(ApiError::bad_parameter(
            "`user` is not taken: the snapshot is the one of the user the bearer token names",
        ));
    }
    member(&state.0.issuer.current(), &caller.user)?;
    caught_up_with(&state, &headers).await?;
    let answer = state.0.issuer.snapshot(&caller.user, |etag| if_none_match(&headers, etag)).await.map_err(
        |e| match e {
            IssueError::UnknownUser => unknown_user(&caller.user),
            IssueError::Internal(message) => ApiError::internal(message),
        },
    )?;
    let (mut response, etag) = match answer {
        Answer::NotModified { etag } => (StatusCode::NOT_MODIFIED.into_response(), etag),
        Answer::Snapshot(signed) => {
            (json_bytes(StatusCode::OK, signed.bytes.clone(), "private, no-cache"), signed.etag.clone())
        }
    };
    let headers = response.headers_mut();
    headers
        .insert(header::ETAG, HeaderValue::from_str(&etag).map_err(|e| ApiError::internal(e.to_string()))?);
    // Private: a snapshot is one person's slice of the organisation, never for a shared cache.
    // No-cache: the browser may keep it, but asks (a cheap 304) before each use.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    Ok(response)
}

// ---- Who is asking ---------------------------------------------------------------------------

/// The caller the bearer token names, or a 401 that says how to authenticate.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    state.0.identity.caller(headers).await.map_err(|error| {
        let (code, message, challenge) = match error {
            AuthError::Missing => {
                ("unauthenticated", "send `Authorization: Bearer <token>`".to_owned(), "Bearer")
            }
            AuthError::Invalid(why) => ("invalid_token", why, "Bearer error=\"invalid_token\""),
        };
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, code, message);
        error.challenge = Some(challenge);
        error
    })
}

/// A 403 unless `user` is an active user of `revision`'s organisation.
fn member(revision: &Revision, user: &str) -> Result<(), ApiError> {
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

fn unknown_user(user: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "unknown_user",
        format!("the organisation holds no user `{}`", quoted(user)),
    )
}

/// The highest snapshot version the client says it holds: the `<version>-` that starts the
/// `ETag`s of its `If-None-Match`.
fn held_version(headers: &HeaderMap) -> Option<u64> {
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

/// Over a database, a client may hold a snapshot of a revision this replica has not built yet
/// (another replica made it, and the client's event came from there): answering from the older
/// revision would hand it an older version, which it must refuse as a rollback. So the replica
/// catches up first (waking its follower), and answers 503 with `Retry-After` if it cannot in
/// time: the client keeps what it holds and asks again.
async fn caught_up_with(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let (Some(database), Some(held)) = (state.database(), held_version(headers)) else { return Ok(()) };
    let mut installed = state.0.issuer.subscribe();
    if installed.borrow().number() >= held {
        return Ok(());
    }
    database.wake();
    let caught_up =
        tokio::time::timeout(CATCH_UP_WAIT, installed.wait_for(|revision| revision.number() >= held))
            .await
            .is_ok_and(|waited| waited.is_ok());
    if caught_up {
        return Ok(());
    }
    let mut error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "behind",
        format!(
            "this server has not caught up with revision {held} yet (it serves {}): ask again",
            state.0.issuer.current().number()
        ),
    );
    error.retry_after = Some(1);
    Err(error)
}

/// Whether an `If-None-Match` header matches `etag`, by the weak comparison (RFC 9110 §13.1.2).
pub(crate) fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = etag.strip_prefix("W/").unwrap_or(etag);
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == opaque)
    })
}

// ---- GET /api/public-keys, /api/users ---------------------------------------------------------------

async fn public_keys(State(state): State<AppState>) -> Response {
    json_bytes(StatusCode::OK, state.0.public_keys.clone(), "no-cache")
}

/// How many people `GET /api/users?q=` answers when `limit` is not given.
pub const DEFAULT_USER_LIMIT: usize = 20;
/// The largest `limit` of `GET /api/users?q=`.
pub const MAX_USER_LIMIT: usize = 50;
/// The longest `q` of `GET /api/users?q=`: a name or an id, typed.
pub const MAX_USER_QUERY_BYTES: usize = 128;

/// The demo sign-in list. Without `q`: every active user with their Network, home Office and
/// profile, made once per revision. With `q`: the active users whose name or id holds every
/// word of it (ignoring case), an exact id first, then names that begin with it, then by name,
/// at most `limit` (20 by default, 50 at most), so that a sign-in form at 100,000 users asks
/// for what is typed instead of the whole directory. It stands in for authentication; the
/// snapshot a user then gets is what protects data.
async fn users(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    demo_only(&state)?;
    let params = parameters(query, &["q", "limit"])?;
    let Some(text) = params.get("q") else {
        return Ok(json_bytes(StatusCode::OK, state.0.issuer.current().directory().clone(), "no-cache"));
    };
    if text.len() > MAX_USER_QUERY_BYTES {
        return Err(ApiError::bad_parameter(format!("`q` is longer than {MAX_USER_QUERY_BYTES} bytes")));
    }
    let limit = match params.get("limit") {
        None => DEFAULT_USER_LIMIT,
        Some(value) => {
            value.parse::<usize>().ok().filter(|limit| (1..=MAX_USER_LIMIT).contains(limit)).ok_or_else(
                || {
                    ApiError::bad_parameter(format!(
                        "`limit` must be a whole number from 1 to {MAX_USER_LIMIT}, not `{}`",
                        quoted(value)
                    ))
                },
            )?
        }
    };
    let revision = state.0.issuer.current();
    let text = text.to_lowercase();
    // A pass over every user: on the blocking pool, as all CPU work is.
    let bytes = tokio::task::spawn_blocking(move || find_users(revision.policy(), &text, limit))
        .await
        .map_err(|e| ApiError::internal(format!("the user lookup failed: {e}")))?;
    Ok(json_bytes(StatusCode::OK, bytes, "no-cache"))
}

/// `{"users": [{id, name, network, office, profile}], "truncated"}`: the active users matching
/// `text` (already lowercase), best first, at most `limit`.
fn find_users(policy: &tessera_core::Policy, text: &str, limit: usize) -> Bytes {
    #[derive(Serialize)]
    struct Entry<'a> {
        id: &'a str,
        name: &'a str,
        network: &'a str,
        office: &'a str,
        profile: &'a str,
    }
    #[derive(Serialize)]
    struct Found<'a> {
        users: Vec<Entry<'a>>,
        truncated: bool,
    }
    let terms: Vec<&str> = text.split_whitespace().collect();
    let whole = terms.join(" ");
    let mut found: Vec<(u8, String, tessera_core::UserSummary<'_>)> = policy
        .users()
        .filter(|user| user.active)
        .filter_map(|user| {
            let name = user.name.to_lowercase();
            let id = user.id.to_lowercase();
            if !terms.iter().all(|term| name.contains(term) || id.contains(term)) {
                return None;
            }
            let rank = if id == whole {
                0
            } else if name.starts_with(&whole) {
                1
            } else {
                2
            };
            Some((rank, name, user))
        })
        .collect();
    let truncated = found.len() > limit;
    if truncated {
        found.select_nth_unstable_by(limit, |a, b| (a.0, &a.1, a.2.id).cmp(&(b.0, &b.1, b.2.id)));
        found.truncate(limit);
    }
    found.sort_unstable_by(|a, b| (a.0, &a.1, a.2.id).cmp(&(b.0, &b.1, b.2.id)));
    let users = found
        .into_iter()
        .map(|(_, _, user)| Entry {
            id: user.id,
            name: user.name,
            network: policy.network_name(user.network).unwrap_or(user.network),
            office: policy.office_name(user.home_office).unwrap_or(user.home_office),
            profile: user.profile,
        })
        .collect();
    // Serialising plain strings cannot fail; an empty answer stands in if it somehow did.
    Bytes::from(
        serde_json::to_vec(&Found { users, truncated })
            .unwrap_or_else(|_| b"{\"users\":[],\"truncated\":false}".to_vec()),
    )
}

/// A 404 unless the server runs with `--auth demo`.
fn demo_only(state: &AppState) -> Result<(), ApiError> {
    if state.0.identity.is_demo() {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "only a server with `--auth demo` has this"))
    }
}

// ---- POST /api/demo/sign-in ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user: String,
}

/// A short-lived token for any active user: the demo's stand-in for an identity provider.
async fn demo_sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    demo_only(&state)?;
    let request: SignIn = json_body(&headers, body)?;
    member(&state.0.issuer.current(), &request.user)?;
    let (token, expires) = state
        .0
        .identity
        .demo_token(&request.user)
        .ok_or_else(|| ApiError::internal("the demo key cannot sign"))?;
    let expires_at = tessera_core::Timestamp::from_unix(i64::try_from(expires).unwrap_or(i64::MAX));
    let mut response =
        json_response(StatusCode::OK, &serde_json::json!({ "token": token, "expires_at": expires_at }));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

// ---- GET /api/search ----------------------------------------------------------------------------

#[derive(Serialize)]
struct SearchResults<'a> {
    query: &'a str,
    results: Vec<crate::search::SearchResult<'a>>,
    truncated: bool,
}

async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    member(&state.0.issuer.current(), &caller.user)?;
    let params = parameters(query, &["q", "limit"])?;
    let text = params.get("q").map_or("", String::as_str);
    if text.len() > MAX_QUERY_BYTES {
        return Err(ApiError::bad_parameter(format!("`q` is longer than {MAX_QUERY_BYTES} bytes")));
    }
    let limit = match params.get("limit") {
        None => DEFAULT_SEARCH_LIMIT,
        Some(value) => {
            value.parse::<usize>().ok().filter(|limit| (1..=MAX_SEARCH_LIMIT).contains(limit)).ok_or_else(
                || {
                    ApiError::bad_parameter(format!(
                        "`limit` must be a whole number from 1 to {MAX_SEARCH_LIMIT}, not `{}`",
                        quoted(value)
                    ))
                },
            )?
        }
    };
    let revision = state.0.issuer.current();
    let (results, truncated) = revision.search().search(text, limit);
    Ok(json_response(StatusCode::OK, &SearchResults { query: text, results, truncated }))
}

// ---- Administration ----------------------------------------------------------------------------

/// A JSON body of a POST: `Content-Type: application/json` (415 otherwise), within the body
/// limit (413), parsed with unknown fields refused (400).
fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    // A cross-site form can POST text/plain without asking; application/json needs a CORS
    // preflight that this server never grants.
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as `Content-Type: application/json`",
        ));
    }
    let body = body.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "bad_request" };
        ApiError::new(status, code, e.body_text())
    })?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("{e}")))
}

/// A refused batch as its answer: 409, 422 or 403, with what the caller needs to know.
fn refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::TooMany(count) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_edits",
            format!("{count} edits in one batch; at most {MAX_EDITS}"),
        ),
        Refusal::Stale { expected, current } => ApiError::new(
            StatusCode::CONFLICT,
            "stale_revision",
            format!("the batch was made on revision {expected}, but revision {current} is served"),
        )
        .with("revision", current),
        Refusal::Unknown { index, id } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_id", format!("edit {index}: {id}"))
                .with("edit", index)
        }
        Refusal::Forbidden { index, decision } => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("edit {index} is not yours to make: {}", decision.message),
        )
        .with("edit", index)
        .with("decision", &*decision),
        Refusal::Invalid(errors) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_org",
            format!("the edits would make the organisation invalid: {errors}"),
        )
        .with("problems", errors.errors().iter().map(ToString::to_string).collect::<Vec<_>>()),
    }
}

#[derive(Serialize)]
struct Applied {
    revision: u64,
    changed: bool,
}

/// Applies a batch of edits for the caller, as one new revision: committed to the database if
/// there is one, kept in memory if the organisation is held there, refused (409
/// `read_only_source`) if it comes from a file.
async fn apply_batch(state: &AppState, headers: &HeaderMap, batch: EditBatch) -> Result<Response, ApiError> {
    let caller = authenticate(state, headers).await?;
    member(&state.0.issuer.current(), &caller.user)?;
    let now = state.0.issuer.now();
    let changed = match &state.0.edits {
        Edits::ReadOnly(file) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "read_only_source",
                format!(
                    "the organisation is read from `{}`, which the server does not write: edit the file (and send SIGHUP), or serve from a database (--database)",
                    quoted(&file.path().display().to_string())
                ),
            ));
        }
        Edits::Memory => state
            .0
            .issuer
            .change(move |revision| admin::apply(revision, &caller.user, &batch, now))
            .await
            .map_err(|e| match e {
                ChangeError::Edit(refused) => refusal(refused),
                ChangeError::Invalid(errors) => refusal(Refusal::Invalid(errors)),
                ChangeError::Internal(message) => ApiError::internal(message),
            })?,
        Edits::Database(database) => {
            replica::commit_batch(&state.0.issuer, database, &caller.user, Arc::new(batch)).await.map_err(
                |e| match e {
                    CommitError::Refused(refused) => refusal(refused),
                    CommitError::Unavailable(message) => database_unavailable(message),
                    CommitError::Internal(message) => ApiError::internal(message),
                },
            )?
        }
    };
    let mut response =
        json_response(StatusCode::OK, &Applied { revision: changed.version, changed: changed.changed });
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /api/admin/edits`.
async fn edits(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let batch: EditBatch = json_body(&headers, body)?;
    apply_batch(&state, &headers, batch).await
}

/// `POST /api/admin/preview`: the impact of a batch, applying nothing.
async fn preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let batch: EditBatch = json_body(&headers, body)?;
    let caller = authenticate(&state, &headers).await?;
    let revision = state.0.issuer.current();
    member(&revision, &caller.user)?;
    let now = state.0.issuer.now();
    let number = revision.number();
    let impact = tokio::task::spawn_blocking(move || admin::preview(&revision, &caller.user, &batch, now))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(refusal)?;
    let mut response =
        json_response(StatusCode::OK, &serde_json::json!({ "revision": number, "impact": impact }));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /api/admin/denials?user=ID`: that user's denied actions, with suggestions and whether
/// the caller may make them; for callers with `user.manage` on the user's home Office.
async fn denials(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let params = parameters(query, &["user"])?;
    let Some(user) = params.get("user").cloned() else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "missing_parameter", "`user` is required"));
    };
    let revision = state.0.issuer.current();
    member(&revision, &caller.user)?;
    let Some(name) = revision.policy().user_summary(&user).map(|summary| summary.name.to_owned()) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_user",
            format!("no user `{}`", quoted(&user)),
        ));
    };
    let now = state.0.issuer.now();
    let number = revision.number();
    let found = {
        let user = user.clone();
        tokio::task::spawn_blocking(move || admin::denials(revision.policy(), &caller.user, &user, now))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
    };
    let denials = found.map_err(|decision| {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("not yours to see: {}", decision.message))
            .with("decision", &*decision)
    })?;
    let mut response = json_response(
        StatusCode::OK,
        &serde_json::json!({ "revision": number, "user": user, "name": name, "denials": denials }),
    );
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

// ---- POST /api/admin/override ------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideRequest {
    office: String,
    profile: String,
    permission: String,
    /// `true` or `false` to set the override, `null` to remove it; required.
    allowed: serde_json::Value,
}

/// The override switch of earlier versions, kept as a thin alias of one edit
/// (`override_on`, `override_off` or `clear_override`) through `POST /api/admin/edits`.
async fn set_override(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: OverrideRequest = json_body(&headers, body)?;
    let OverrideRequest { office, profile, permission, allowed } = request;
    let edit = match allowed {
        serde_json::Value::Bool(true) => Edit::OverrideOn { office, profile, permission },
        serde_json::Value::Bool(false) => Edit::OverrideOff { office, profile, permission },
        serde_json::Value::Null => Edit::ClearOverride { office, profile, permission },
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "`allowed` must be true, false or null (null removes the override)",
            ));
        }
    };
    apply_batch(&state, &headers, EditBatch { edits: vec![edit], expect_revision: None }).await
}

// ---- GET /api/admin/revisions -------------------------------------------------------------------

/// The most revisions one page lists.
pub const MAX_REVISIONS_PAGE: u32 = 1000;

/// A 503 for a database that cannot be reached, with a hint of when to try again.
fn database_unavailable(message: String) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
        format!("the database cannot be reached, so nothing can be changed now: {message}"),
    );
    error.retry_after = Some(5);
    error
}

/// `GET /api/admin/revisions?after=N[&limit=M]`: the log of revisions after `N`, oldest first,
/// for administrators. A caller with `network.manage` (a system superuser) sees every revision;
/// any other caller, those whose every edit they may make now (`Policy::authorize`): the
/// revisions of the Offices and people they administer. Imports and changes written by other
/// tools name no edits, and only the first see them. `next_after` pages on.
async fn revisions(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let revision = state.0.issuer.current();
    member(&revision, &caller.user)?;
    let params = parameters(query, &["after", "limit"])?;
    let number = |name: &str, default: u64| -> Result<u64, ApiError> {
        params.get(name).map_or(Ok(default), |value| {
            value.parse().map_err(|_| ApiError::bad_parameter(format!("`{name}` is not a whole number")))
        })
    };
    let after = number("after", 0)?;
    let limit = u32::try_from(number("limit", 100)?.clamp(1, u64::from(MAX_REVISIONS_PAGE)))
        .unwrap_or(MAX_REVISIONS_PAGE);
    let Some(database) = state.database() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_history",
            "revisions are kept only by a server over a database (--database)",
        ));
    };
    let rows = database.store().revisions(after, limit).await.map_err(|e| match e {
        crate::store::StoreError::Unavailable(message) => database_unavailable(message),
        other => ApiError::internal(other.to_string()),
    })?;
    let next_after = rows.last().map_or(after, |row| row.number);
    let now = state.0.issuer.now();
    let policy = revision.policy();
    let everything = policy
        .decide(&caller.user, &tessera_core::Query::can("network.manage", tessera_core::Target::none()), now)
        .allowed;
    let visible: Vec<_> = rows
        .into_iter()
        .filter(|row| {
            everything
                || serde_json::from_value::<Vec<Edit>>(row.edits.clone()).is_ok_and(|edits| {
                    !edits.is_empty()
                        && edits.iter().all(|edit| {
                            policy.authorize(&caller.user, edit, now).is_ok_and(|decision| decision.allowed)
                        })
                })
        })
        .collect();
    let mut response = json_response(
        StatusCode::OK,
        &serde_json::json!({ "revisions": visible, "next_after": next_after, "served": revision.number() }),
    );
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

// ---- GET /api/events ----------------------------------------------------------------------------

/// A ticket for `GET /api/events?ticket=`, for a browser's `EventSource`, which cannot send
/// the bearer header.
async fn event_ticket(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    member(&state.0.issuer.current(), &caller.user)?;
    let ticket =
        state.0.tickets.issue(caller).ok_or_else(|| ApiError::internal("no randomness for a ticket"))?;
    let mut response = json_response(
        StatusCode::OK,
        &serde_json::json!({ "ticket": ticket, "expires_in": crate::events::TICKET_SECONDS }),
    );
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Server-sent events when the caller's snapshot changes; see `events.rs`.
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = parameters(query, &["ticket"])?;
    let caller = match params.get("ticket") {
        Some(ticket) => state.0.tickets.redeem(ticket).ok_or_else(|| {
            let mut error = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_ticket",
                "the ticket is unknown, spent or expired",
            );
            error.challenge = Some("Bearer");
            error
        })?,
        None => authenticate(&state, &headers).await?,
    };
    member(&state.0.issuer.current(), &caller.user)?;
    let stream = crate::events::stream(caller, state.0.issuer.subscribe(), state.0.closing.subscribe());
    let mut response = stream.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

// ---- Health and metrics ------------------------------------------------------------------------

async fn healthz() -> Response {
    json_bytes(StatusCode::OK, Bytes::from_static(b"{\"alive\":true}"), "no-store")
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    revision: u64,
    built_at: tessera_core::Timestamp,
    build_ms: u64,
    users: usize,
    /// How many users' snapshots the revision renewed (all, or those its change affected).
    renewed: usize,
    /// The last build that failed since the revision served was built: that revision keeps
    /// serving, so the server stays ready.
    last_build_failure: Option<crate::issuer::BuildFailure>,
    /// With a database: whether it can be reached. During an outage the server still serves
    /// the revision it built last, but is not ready (503), since it cannot take edits nor hear
    /// of other replicas' revisions.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<DatabaseReadiness>,
}

#[derive(Serialize)]
struct DatabaseReadiness {
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    outage: Option<replica::Outage>,
}

/// Ready once a revision is built and serving, which `tessera serve` makes sure of before it
/// listens, and, with a database, while it can be reached (503 otherwise); says which
/// revision, and the last build that failed since.
async fn readyz(State(state): State<AppState>) -> Response {
    let issuer = &state.0.issuer;
    let revision = issuer.current();
    let database = state.database().map(|database| {
        let outage = database.outage();
        DatabaseReadiness { reachable: outage.is_none(), outage }
    });
    let ready = database.as_ref().is_none_or(|database| database.reachable);
    let readiness = Readiness {
        ready,
        revision: revision.number(),
        built_at: revision.built_at(),
        build_ms: u64::try_from(revision.build_time().as_millis()).unwrap_or(u64::MAX),
        users: revision.org().users.len(),
        renewed: revision.renewed(),
        last_build_failure: issuer.failure(),
        database,
    };
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut response = json_response(status, &readiness);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = crate::metrics::render(state.0.issuer.cached_bytes().await);
    let mut response = (StatusCode::OK, text).into_response();
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// ---- Static files --------------------------------------------------------------------------------

/// Everything that is not a route: an unknown API path is a JSON 404; anything else is a
/// static file of `www`, or `index.html` for a path without an extension (a client-side route).
async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no API at {}", quoted(&path)))
            .into_response();
    }
    let Some(www) = state.0.www.clone() else {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "this server serves only /api/")
            .into_response();
    };
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed(method, request.uri().clone()).await.into_response();
    }
    // No dot-files (`.git`, `.env`), except `.well-known`.
    if path.split('/').any(|segment| segment.starts_with('.') && segment != ".well-known") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    let (name, response) = match serve_file(&www, request).await {
        response if response.status() == StatusCode::NOT_FOUND && !last.contains('.') => {
            let index = Request::builder().method(method).uri("/index.html").body(Body::empty());
            match index {
                Ok(index) => ("index.html", serve_file(&www, index).await),
                Err(_) => (last, response),
            }
        }
        response => (if last.is_empty() { "index.html" } else { last }, response),
    };
    with_file_headers(name, response)
}

async fn serve_file(www: &Path, request: Request) -> Response {
    match ServeDir::new(www).oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

/// MIME types that must be exact whatever the platform's table says, and no caching for the
/// two files that decide which version of the app runs.
fn with_file_headers(name: &str, mut response: Response) -> Response {
    if !response.status().is_success() && response.status() != StatusCode::NOT_MODIFIED {
        return response;
    }
    let headers = response.headers_mut();
    let extension = name.rsplit_once('.').map(|(_, extension)| extension.to_ascii_lowercase());
    match extension.as_deref() {
        Some("wasm") => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/wasm"));
        }
        Some("webmanifest") => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/manifest+json"));
        }
        _ => {}
    }
    if extension.as_deref() == Some("html") {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(APP_CSP));
    }
    // The app's files keep their names from one build to the next: every one is revalidated
    // (cheap, with `Last-Modified`), so a new build is never mixed with an old one.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The Content-Security-Policy of the app's HTML: its own scripts, styles, images, fetches and
/// worker only, WebAssembly compiled from what it fetched (`'wasm-unsafe-eval'`, not `eval`),
/// no inline script or style, no plugins, no `<base>`, forms only to itself, and never in a
/// frame (clickjacking). The app's boot script is a file (`www/boot.js`) for this reason.
pub const APP_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_held_version_is_read_from_the_etags() {
        let mut headers = HeaderMap::new();
        assert_eq!(held_version(&headers), None);
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"7-abc\", \"12-def\", *"));
        assert_eq!(held_version(&headers), Some(12));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"not-a-version\""));
        assert_eq!(held_version(&headers), None);
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let etag = "W/\"7-abc\"";
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(if_none_match(&with("W/\"7-abc\""), etag));
        assert!(if_none_match(&with("\"7-abc\""), etag));
        assert!(if_none_match(&with("\"x\", W/\"7-abc\""), etag));
        assert!(if_none_match(&with("*"), etag));
        assert!(!if_none_match(&with("W/\"8-abc\""), etag));
        assert!(!if_none_match(&HeaderMap::new(), etag));
    }
}
