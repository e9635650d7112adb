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
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tessera_core::Edit;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;

use std::sync::Arc;

use crate::AppState;
use crate::actions;
use crate::admin;
pub use crate::caller::{REVISION_HEADER, SNAPSHOT_VERSION_HEADER};
use crate::caller::{
    authenticate, authenticate_any, caught_up_with, member, sight_of, signed_in_user, unknown_user,
};
use crate::edits::{self, EditBatch, EditError, Idempotency, MAX_EDITS, Reply};
use crate::enforce::{self, Enforcer, MAX_CHECKS};
use crate::host::LoopbackOnly;
use crate::identity::Caller;
use crate::issuer::{Answer, IssueError, Revision, Sight};
use crate::limits::Costly;
pub use crate::refusal::ApiError;
use crate::refusal::{json_bytes, json_response};
use crate::source::quoted;

/// The largest request body accepted (an override's JSON is a few dozen bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How many search results come back when `limit` is not given.
pub const DEFAULT_SEARCH_LIMIT: usize = 1000;
/// The largest `limit` a search accepts.
pub const MAX_SEARCH_LIMIT: usize = 10_000;
/// How long a request may take by default before it is answered 408.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole server as an axum [`Router`]: the API under `/api/`, health and readiness, and the
/// static files of the web app (if the state has them) everywhere else. (Metrics and the
/// detailed readiness are the ops listener's: [`crate::ops::router`].)
pub fn router(state: AppState) -> Router {
    let timeout = state.0.request_timeout;
    let (routes, _) = api().split_for_parts();
    let routes = routes
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let routes = if state.0.identity.is_demo() { routes.layer(LoopbackOnly) } else { routes };
    routes
        .layer(axum::middleware::map_response(no_sniff))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .with_state(state)
}

/// Every route but the static files, each registered by its description (`#[utoipa::path]`):
/// what `GET /api/openapi.json` serves is what the router serves.
fn api() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa::OpenApi as _;
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .routes(routes!(snapshot))
        .routes(routes!(public_keys))
        .routes(routes!(users))
        .routes(routes!(search))
        .routes(routes!(set_override))
        .routes(routes!(edits))
        .routes(routes!(preview))
        .routes(routes!(denials))
        .routes(routes!(revisions))
        .routes(routes!(check))
        .routes(routes!(create_project))
        .routes(routes!(project_items))
        .routes(routes!(project_tasks, create_task))
        .routes(routes!(project_files, upload_file))
        .routes(routes!(project_wiki, edit_wiki))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(group_announcements, announce_to_group))
        .routes(routes!(start_dm))
        .routes(routes!(dm_messages, reply))
        .routes(routes!(network_announcements, announce))
        .routes(routes!(demo_sign_in))
        .routes(routes!(events))
        .routes(routes!(event_ticket))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi_json))
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    summary = "This description of the API (OpenAPI 3.1)",
    responses((status = 200, description = "The description", body = Object, content_type = "application/json"), crate::openapi::Refusals)
)]
async fn openapi_json() -> Response {
    static DESCRIPTION: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    let description = DESCRIPTION.get_or_init(|| {
        // Serialising what the derives made cannot fail; an empty object stands in if it did.
        Bytes::from(openapi().to_json().unwrap_or_else(|_| "{}".to_owned()))
    });
    json_bytes(StatusCode::OK, description.clone(), "no-cache")
}

/// The API's description, as `GET /api/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

// ---- Refusals --------------------------------------------------------------------------------------

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

#[utoipa::path(
    get,
    path = "/api/snapshot",
    tag = "snapshots",
    summary = "The caller's own signed snapshot",
    responses((status = 200, description = "The snapshot, signed (a DSSE envelope)", body = Object, content_type = "application/json"), (status = 304, description = "The client holds it already (If-None-Match)"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
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
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    Ok(response)
}

// ---- Who is asking ---------------------------------------------------------------------------

/// The headers of an answer that depends on the policy: the revision that decided
/// (`Tessera-Revision`), and the version of the snapshot the server issues the caller now
/// (`Tessera-Snapshot-Version`; a client that holds an older one fetches it again). Per-user:
/// `private` and `Vary: Authorization`.
fn decided(mut response: Response, state: &AppState, user: &str, revision: u64) -> Response {
    let version = state.0.issuer.current().version_of(user);
    let headers = response.headers_mut();
    headers.insert(REVISION_HEADER, HeaderValue::from(revision));
    headers.insert(SNAPSHOT_VERSION_HEADER, HeaderValue::from(version));
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    if !response.status().is_client_error() && !response.status().is_server_error() {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    response
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

#[utoipa::path(
    get,
    path = "/api/public-keys",
    tag = "snapshots",
    summary = "The keys snapshots are signed with",
    responses((status = 200, description = "The keys", body = Object, content_type = "application/json"), crate::openapi::Refusals)
)]
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
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "demo",
    summary = "The demo sign-in list, or the users matching q (demo only)",
    params(("q" = Option<String>, Query, description = "A name or an id, typed"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 50, description = "At most this many (1 to 50)")),
    responses((status = 200, description = "Active users", body = Object, content_type = "application/json"), crate::openapi::Refusals)
)]
async fn users(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    demo_only(&state)?;
    let params = parameters(query, &["q", "limit"])?;
    let Some(text) = params.get("q") else {
        // Made the first time a revision is asked for it: on the blocking pool.
        let revision = state.0.issuer.current();
        let directory = tokio::task::spawn_blocking(move || revision.directory().clone())
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        return Ok(json_bytes(StatusCode::OK, directory, "no-cache"));
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

/// `{"user": ID}` or `{"service": NAME}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user: Option<String>,
    service: Option<String>,
}

/// The longest service name the demo signs in.
const MAX_SERVICE_NAME_BYTES: usize = 256;

/// A short-lived token for any active user, or for a service of any name: the demo's stand-in
/// for an identity provider.
#[utoipa::path(
    post,
    path = "/api/demo/sign-in",
    tag = "demo",
    summary = "A demo token for a user or a service (demo only)",
    request_body(content = SignIn, content_type = "application/json"),
    responses((status = 200, description = "A token and its expiry", body = Object, content_type = "application/json"), crate::openapi::Refusals)
)]
async fn demo_sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    demo_only(&state)?;
    let request: SignIn = json_body(&headers, body)?;
    let signed = match (&request.user, &request.service) {
        (Some(user), None) => {
            member(&state.0.issuer.current(), user)?;
            state.0.identity.demo_token(user)
        }
        (None, Some(service)) => {
            if service.is_empty()
                || service.len() > MAX_SERVICE_NAME_BYTES
                || service.chars().any(char::is_control)
            {
                return Err(ApiError::bad_parameter(format!(
                    "`service` is a name of 1 to {MAX_SERVICE_NAME_BYTES} bytes without control characters"
                )));
            }
            state.0.identity.demo_service_token(service)
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "send {\"user\": ID} or {\"service\": NAME}",
            ));
        }
    };
    let (token, expires) = signed.ok_or_else(|| ApiError::internal("the demo key cannot sign"))?;
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
    results: Vec<crate::search::SearchResult>,
    truncated: bool,
}

/// `GET /api/search?q=TEXT[&limit=N]`: what the caller may see that matches every term
/// (`search.rs`), decided on their own snapshot, on the blocking pool.
#[utoipa::path(
    get,
    path = "/api/search",
    tag = "search",
    summary = "What the caller may see that matches every term",
    params(("q" = Option<String>, Query, max_length = 64, description = "Terms (at most 8, 256 bytes)"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "At most this many results (1 to 10,000)")),
    responses((status = 200, description = "Results, by kind then id", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = signed_in_user(&state, &headers).await?;
    state.limits().check(&caller, Costly::Search)?;
    let params = parameters(query, &["q", "limit"])?;
    let text = params.get("q").map_or("", String::as_str);
    let terms = crate::search::terms(text).map_err(|too_broad| match too_broad {
        crate::search::TooBroad::Bytes(_) => {
            ApiError::bad_parameter(format!("`q` is longer than {} bytes", crate::search::MAX_QUERY_BYTES))
        }
        crate::search::TooBroad::Terms(_) => {
            ApiError::bad_parameter(format!("`q` has more than {} terms", crate::search::MAX_TERMS))
        }
    })?;
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
    let sight = sight_of(&state, &caller.user).await?;
    let _searching = state.0.searches.acquire().await.map_err(|e| ApiError::internal(e.to_string()))?;
    let now = state.0.issuer.now();
    let revision = sight.revision;
    let (results, truncated) = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            crate::search::search(&sight, state.content(), &terms, limit, now)
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
    };
    let response = json_response(StatusCode::OK, &SearchResults { query: text, results, truncated });
    Ok(decided(response, &state, &caller.user, revision))
}

// ---- Administration ----------------------------------------------------------------------------

/// A JSON body of a POST: `Content-Type: application/json` (415 otherwise), within the body
/// limit (413), parsed with unknown fields refused (400).
fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    parse_json(&json_bytes_body(headers, body)?)
}

/// The bytes of a JSON body: `Content-Type: application/json` (415 otherwise), within the body
/// limit (413).
fn json_bytes_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
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
    body.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "bad_request" };
        ApiError::new(status, code, e.body_text())
    })
}

/// A JSON body, parsed with unknown fields refused (400).
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("{e}")))
}

impl From<EditError> for ApiError {
    /// A batch refused, or not made, as its answer: the write path's one error, mapped once.
    fn from(error: EditError) -> ApiError {
        match error {
            EditError::Empty => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_batch",
                "a batch holds at least one edit",
            ),
            EditError::TooMany(count) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_many_edits",
                format!("{count} edits in one batch; at most {MAX_EDITS}"),
            ),
            EditError::Stale { expected, current } => ApiError::new(
                StatusCode::CONFLICT,
                "stale_revision",
                format!("the batch was made on revision {expected}, but revision {current} is served"),
            )
            .with("revision", current),
            EditError::Unknown { index, id } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_id", format!("edit {index}: {id}"))
                    .with("edit", index)
            }
            EditError::Forbidden { index, decision } => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("edit {index} is not yours to make: {}", decision.message),
            )
            .with("edit", index)
            .with("decision", &*decision),
            EditError::Invalid(problems) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_org",
                format!("the edits would make the organisation invalid: {}", problems.join("; ")),
            )
            .with("problems", problems),
            EditError::ReadOnly => ApiError::new(
                StatusCode::CONFLICT,
                "read_only_source",
                "the organisation is read from a file, which the server does not write: edit the file (and send SIGHUP), or serve from a database (--database)",
            ),
            EditError::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for another request: send a new key",
            ),
            EditError::Unavailable(message) => database_unavailable(message),
            EditError::Internal(message) => ApiError::internal(message),
        }
    }
}

/// The `Idempotency-Key` of a request, with its fingerprint (the method, the path and the
/// body), or a 400 for a key that is empty, too long or not visible ASCII.
fn idempotency(
    headers: &HeaderMap,
    method: &Method,
    uri: &axum::http::Uri,
    body: &[u8],
) -> Result<Option<Idempotency>, ApiError> {
    let mut keys = headers.get_all("idempotency-key").iter();
    let Some(key) = keys.next() else { return Ok(None) };
    if keys.next().is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "one Idempotency-Key at most",
        ));
    }
    let key = key
        .to_str()
        .ok()
        .filter(|key| {
            !key.is_empty() && key.len() <= edits::MAX_KEY_BYTES && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!("an Idempotency-Key is 1 to {} visible ASCII characters", edits::MAX_KEY_BYTES),
            )
        })?;
    let mut hasher = sha2::Sha256::new();
    for part in [method.as_str().as_bytes(), uri.path().as_bytes(), body] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let fingerprint = hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(Some(Idempotency { key: key.to_owned(), fingerprint }))
}

/// A change's reply as a response, decided for `user`.
fn replied(state: &AppState, user: &str, reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let revision = reply.body.get("revision").and_then(serde_json::Value::as_u64);
    let response = json_response(status, &reply.body);
    decided(response, state, user, revision.unwrap_or_else(|| state.0.issuer.current().number()))
}

/// Makes a batch of edits for the caller (`edits.rs`), as one new revision.
async fn apply_batch(
    state: &AppState,
    caller: &Caller,
    key: Option<Idempotency>,
    batch: EditBatch,
) -> Result<Response, ApiError> {
    let reply = |changed: edits::Changed| Reply {
        status: 200,
        body: serde_json::json!({ "revision": changed.revision, "changed": changed.changed }),
    };
    let request = edits::Request {
        caller: &caller.user,
        idempotency: key.as_ref(),
        reply: &reply,
        origin: edits::Origin::Admin,
    };
    let reply = edits::commit(&state.0.issuer, &state.0.edits, &request, batch).await?;
    let mut response = replied(state, &caller.user, reply);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /api/admin/edits`.
#[utoipa::path(
    post,
    path = "/api/admin/edits",
    tag = "administration",
    summary = "A batch of edits made as one revision",
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::edits::EditBatch, content_type = "application/json"),
    responses((status = 200, description = "The revision served after it, and whether anything changed", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn edits(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = signed_in_user(&state, &headers).await?;
    state.limits().check(&caller, Costly::Edits)?;
    let body = json_bytes_body(&headers, body)?;
    let key = idempotency(&headers, &method, &uri, &body)?;
    let batch: EditBatch = parse_json(&body)?;
    apply_batch(&state, &caller, key, batch).await
}

/// `POST /api/admin/preview`: the impact of a batch, applying nothing.
#[utoipa::path(
    post,
    path = "/api/admin/preview",
    tag = "administration",
    summary = "The impact of a batch of edits, applying nothing",
    request_body(content = crate::edits::EditBatch, content_type = "application/json"),
    responses((status = 200, description = "Who gains and loses what", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = signed_in_user(&state, &headers).await?;
    let batch: EditBatch = json_body(&headers, body)?;
    state.limits().check(&caller, Costly::Preview)?;
    let (number, impact) = edits::preview(&state.0.issuer, &state.0.previews, &caller.user, batch).await?;
    let response =
        json_response(StatusCode::OK, &serde_json::json!({ "revision": number, "impact": impact }));
    let mut response = decided(response, &state, &caller.user, number);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /api/admin/denials?user=ID`: that user's denied actions, with suggestions and whether
/// the caller may make them; for callers with `user.manage` on the user's home Office. A user
/// the caller's own snapshot does not hold answers 404, as one that does not exist.
#[utoipa::path(
    get,
    path = "/api/admin/denials",
    tag = "administration",
    summary = "A user's denied actions, with the edits that would allow them",
    params(("user" = String, Query, description = "The user")),
    responses((status = 200, description = "Denials", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn denials(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = signed_in_user(&state, &headers).await?;
    state.limits().check(&caller, Costly::Denials)?;
    let params = parameters(query, &["user"])?;
    let Some(user) = params.get("user").cloned() else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "missing_parameter", "`user` is required"));
    };
    let sight = sight_of(&state, &caller.user).await?;
    let unknown =
        || ApiError::new(StatusCode::NOT_FOUND, "unknown_user", format!("no user `{}`", quoted(&user)));
    let authority = admin::authority(&sight, &user).ok_or_else(unknown)?;
    let now = state.0.issuer.now();
    let decision = sight.decide(&authority, now);
    if !decision.allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("not yours to see: {}", decision.message),
        )
        .with("decision", &decision));
    }
    let revision = state.0.issuer.current();
    let Some(name) = revision.policy().user_summary(&user).map(|summary| summary.name.to_owned()) else {
        return Err(unknown());
    };
    let number = revision.number();
    let found = {
        let (user, sight) = (user.clone(), Arc::clone(&sight));
        tokio::task::spawn_blocking(move || admin::denials(revision.policy(), &sight, &user, now))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
    };
    let response = json_response(
        StatusCode::OK,
        &serde_json::json!({ "revision": number, "user": user, "name": name, "denials": found }),
    );
    let mut response = decided(response, &state, &caller.user, number);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

// ---- POST /api/admin/override ------------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OverrideRequest {
    office: String,
    profile: String,
    permission: String,
    /// `true` or `false` to set the override, `null` to remove it; required.
    #[schema(value_type = Option<bool>)]
    allowed: serde_json::Value,
}

/// The override switch of earlier versions, kept as a thin alias of one edit
/// (`override_on`, `override_off` or `clear_override`) through `POST /api/admin/edits`.
#[utoipa::path(
    post,
    path = "/api/admin/override",
    tag = "administration",
    summary = "One Office override switched (an alias of one edit)",
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = OverrideRequest, content_type = "application/json"),
    responses((status = 200, description = "The revision served after it", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn set_override(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = signed_in_user(&state, &headers).await?;
    state.limits().check(&caller, Costly::Edits)?;
    let body = json_bytes_body(&headers, body)?;
    let key = idempotency(&headers, &method, &uri, &body)?;
    let request: OverrideRequest = parse_json(&body)?;
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
    apply_batch(&state, &caller, key, EditBatch { edits: vec![edit], expect_revision: None }).await
}

// ---- GET /api/admin/revisions -------------------------------------------------------------------

/// The most revisions one page lists.
pub const MAX_REVISIONS_PAGE: u32 = 1000;

/// A 503 for a database that cannot be reached, with a hint of when to try again.
fn database_unavailable(cause: String) -> ApiError {
    let id = crate::refusal::request_id();
    tracing::warn!(request_id = %id, %cause, "the database cannot be reached");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
        format!("the database cannot be reached, so nothing can be changed now (request {id})"),
    )
    .with("request_id", &id)
    .with_retry_after(5)
}

/// `GET /api/admin/revisions?after=N[&limit=M]`: the log of revisions after `N`, oldest first,
/// for administrators. A caller with `network.manage` (a system superuser) sees every revision;
/// any other caller, those whose every edit they may make now (`Policy::authorize`): the
/// revisions of the Offices and people they administer. Imports and changes written by other
/// tools name no edits, and only the first see them. `next_after` pages on.
#[utoipa::path(
    get,
    path = "/api/admin/revisions",
    tag = "administration",
    summary = "The log of revisions the caller may read",
    params(("after" = Option<u64>, Query, description = "After this revision"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (1 to 1,000)")),
    responses((status = 200, description = "Revisions, oldest first", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn revisions(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = signed_in_user(&state, &headers).await?;
    state.limits().check(&caller, Costly::Revisions)?;
    let params = parameters(query, &["after", "limit"])?;
    let number = |name: &str, default: u64| -> Result<u64, ApiError> {
        params.get(name).map_or(Ok(default), |value| {
            value.parse().map_err(|_| ApiError::bad_parameter(format!("`{name}` is not a whole number")))
        })
    };
    let after = number("after", 0)?;
    let limit =
        usize::try_from(number("limit", 100)?.clamp(1, u64::from(MAX_REVISIONS_PAGE))).unwrap_or(usize::MAX);
    let Some(database) = state.database() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_history",
            "revisions are kept only by a server over a database (--database)",
        ));
    };
    let sight = sight_of(&state, &caller.user).await?;
    let revision = state.0.issuer.current();
    let now = state.0.issuer.now();
    let everything =
        sight.allows(&tessera_core::Query::can("network.manage", tessera_core::Target::none()), now);
    // Rows the caller may not read are skipped, and never counted: `next_after` is the last row
    // answered, so the paging tells nothing of what others did, nor when. Each page is read from
    // the database here and filtered on the blocking pool (JSON read and two decisions per edit).
    let mut visible = Vec::new();
    let mut cursor = after;
    for _ in 0..MAX_REVISION_PAGES_READ {
        let rows = database.store().revisions(cursor, MAX_REVISIONS_PAGE).await.map_err(|e| match e {
            crate::store::StoreError::Unavailable(message) => database_unavailable(message),
            other => ApiError::internal(other.to_string()),
        })?;
        let read = rows.len();
        cursor = rows.last().map_or(cursor, |row| row.number);
        let (sight, revision, user) = (Arc::clone(&sight), Arc::clone(&revision), caller.user.clone());
        let kept = tokio::task::spawn_blocking(move || {
            rows.into_iter()
                .filter(|row| everything || readable(&sight, &revision, &user, row, now))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
        visible.extend(kept);
        if visible.len() >= limit || read < MAX_REVISIONS_PAGE as usize {
            break;
        }
    }
    visible.truncate(limit);
    let next_after = visible.last().map_or(after, |row| row.number);
    let response = json_response(
        StatusCode::OK,
        &serde_json::json!({ "revisions": visible, "next_after": next_after, "served": revision.number() }),
    );
    let mut response = decided(response, &state, &caller.user, revision.number());
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Whether `user` may read a row of the log: it names edits, and they may make every one of
/// them now, on their own snapshot and on the whole organisation.
fn readable(
    sight: &Sight,
    revision: &Revision,
    user: &str,
    row: &crate::store::RevisionRow,
    now: tessera_core::Timestamp,
) -> bool {
    serde_json::from_value::<Vec<Edit>>(row.edits.clone()).is_ok_and(|edits| {
        !edits.is_empty()
            && edits.iter().all(|edit| {
                [sight.policy(), revision.policy()]
                    .iter()
                    .all(|policy| policy.authorize(user, edit, now).is_ok_and(|decision| decision.allowed))
            })
    })
}

/// How many pages of [`MAX_REVISIONS_PAGE`] rows one request of the log reads at most, looking
/// for rows the caller may read.
const MAX_REVISION_PAGES_READ: usize = 20;

// ---- POST /api/check ----------------------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    /// Whom the checks are about; the caller when left out.
    #[serde(default)]
    user: Option<String>,
    /// The npm package's queries: `{"can": KEY, "target": {…}}` or `{"view": KIND, "id", "project"?}`.
    #[schema(value_type = Vec<Object>, max_items = 1000)]
    checks: Vec<tessera_core::Query>,
}

/// `POST /api/check` `{"user"?, "checks": [query, …]}`: each check decided on the user's own
/// snapshot (`enforce.rs`), all on one revision. A user asks about themselves; asking about
/// anyone else takes a service principal.
#[utoipa::path(
    post,
    path = "/api/check",
    tag = "enforcement",
    summary = "Queries decided on a user's own snapshot, for any backend",
    request_body(content = CheckRequest, content_type = "application/json"),
    responses((status = 200, description = "One decision per query, on one revision", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = authenticate_any(&state, &headers).await?;
    state.limits().check(&caller, Costly::Check)?;
    let request: CheckRequest = json_body(&headers, body)?;
    if request.checks.len() > MAX_CHECKS {
        return Err(ApiError::invalid_body(format!(
            "{} checks in one call; at most {MAX_CHECKS}",
            request.checks.len()
        )));
    }
    let user = match request.user {
        Some(user) if user != caller.user => {
            if !is_service(&caller) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "only a service may ask about another user",
                ));
            }
            user
        }
        _ => {
            if !is_service(&caller) {
                member(&state.0.issuer.current(), &caller.user)?;
            }
            caller.user.clone()
        }
    };
    // About a user the organisation does not hold (or holds inactive), every check is the
    // evaluator's own denial, as the client's would be: there is no snapshot to ask.
    let now = state.0.issuer.now();
    let checked = match state.0.issuer.sight(&user).await {
        Ok(sight) => enforce::check(sight, state.content_handle(), request.checks, now).await?,
        Err(IssueError::UnknownUser) => {
            let revision = state.0.issuer.current();
            let decisions = request
                .checks
                .iter()
                .map(|query| {
                    let decision = revision.policy().decide(&user, query, now);
                    enforce::Verdict { allowed: false, code: decision.code, message: decision.message }
                })
                .collect();
            enforce::Checked { revision: revision.number(), version: revision.version_of(&user), decisions }
        }
        Err(IssueError::Internal(message)) => return Err(ApiError::internal(message)),
    };
    let response = json_response(StatusCode::OK, &checked);
    Ok(decided(response, &state, &user, checked.revision))
}

/// Whether the caller is a service principal (which may only call `/api/check`).
fn is_service(caller: &Caller) -> bool {
    caller.service
}

// ---- The app's actions (`actions.rs`) -----------------------------------------------------------

/// The caller of an action: signed in, with their own snapshot, and their request's
/// `Idempotency-Key`.
async fn actor(state: &AppState, headers: &HeaderMap) -> Result<Enforcer, ApiError> {
    let caller = signed_in_user(state, headers).await?;
    let sight = sight_of(state, &caller.user).await?;
    Ok(Enforcer::new(sight, state.0.issuer.now()))
}

/// A `POST`/`PUT` of an action: its caller, its key and its body.
async fn action_request<T: serde::de::DeserializeOwned>(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Enforcer, Option<Idempotency>, T), ApiError> {
    let caller = signed_in_user(state, headers).await?;
    state.limits().check(&caller, Costly::Action)?;
    let sight = sight_of(state, &caller.user).await?;
    let enforcer = Enforcer::new(sight, state.0.issuer.now());
    let body = json_bytes_body(headers, body)?;
    let key = idempotency(headers, method, uri, &body)?;
    let request = parse_json(&body)?;
    Ok((enforcer, key, request))
}

/// An action's reply as a response; a refusal too carries the revision and the snapshot
/// version that decided it.
fn acted(
    state: &AppState,
    enforcer: &Enforcer,
    reply: Result<Reply, ApiError>,
) -> Result<Response, ApiError> {
    match reply {
        Ok(reply) => {
            let mut response = replied(state, enforcer.user(), reply);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(error) => Ok(decided(error.into_response(), state, enforcer.user(), enforcer.sight().revision)),
    }
}

/// A listing decided for the caller, as JSON (or its refusal, with the same headers).
fn listed<T: Serialize>(state: &AppState, enforcer: &Enforcer, value: Result<T, ApiError>) -> Response {
    let response = match value {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(error) => error.into_response(),
    };
    decided(response, state, enforcer.user(), enforcer.sight().revision)
}

type JsonBody = Result<Bytes, BytesRejection>;
type PathId = axum::extract::Path<String>;
type Uri = axum::http::Uri;

#[utoipa::path(
    post,
    path = "/api/projects",
    tag = "actions",
    summary = "A new Project in the caller's home Office (project.create)",
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::actions::NewProject, content_type = "application/json"),
    responses((status = 201, description = "Made", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn create_project(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (enforcer, key, request) = action_request(&state, &method, &uri, &headers, body).await?;
    acted(&state, &enforcer, actions::create_project(&state, &enforcer, key.as_ref(), request).await)
}

#[utoipa::path(
    post,
    path = "/api/groups",
    tag = "actions",
    summary = "A new group (group.create)",
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::actions::NewGroup, content_type = "application/json"),
    responses((status = 201, description = "Made", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn create_group(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (enforcer, key, request) = action_request(&state, &method, &uri, &headers, body).await?;
    acted(&state, &enforcer, actions::create_group(&state, &enforcer, key.as_ref(), request).await)
}

#[utoipa::path(
    post,
    path = "/api/dms",
    tag = "actions",
    summary = "A direct message with a person (dm.start); one the two have already is answered as it is",
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::actions::NewDm, content_type = "application/json"),
    responses((status = 201, description = "Made", body = Object, content_type = "application/json"), (status = 200, description = "The conversation the two have already", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn start_dm(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (enforcer, key, request) = action_request(&state, &method, &uri, &headers, body).await?;
    acted(&state, &enforcer, actions::start_dm(&state, &enforcer, key.as_ref(), request).await)
}

#[utoipa::path(
    post,
    path = "/api/projects/{project}/tasks",
    tag = "actions",
    summary = "A task of a Project (task.create)",
    params(("project" = String, Path, description = "Its id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::actions::NewTask, content_type = "application/json"),
    responses((status = 201, description = "Made", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn create_task(
    State(state): State<AppState>,
    axum::extract::Path(project): PathId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (enforcer, key, request) = action_request(&state, &method, &uri, &headers, body).await?;
    acted(&state, &enforcer, actions::create_task(&state, &enforcer, key.as_ref(), &project, request).await)
}

#[utoipa::path(
    post,
    path = "/api/projects/{project}/files",
    tag = "actions",
    summary = "A small text file of a Project (file.upload)",
    params(("project" = String, Path, description = "Its id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::actions::NewFile, content_type = "application/json"),
    responses((status = 201, description = "Made", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn upload_file(
    State(state): State<AppState>,
    axum::extract::Path(project): PathId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (enforcer, key, request) = action_request(&state, &method, &uri, &headers, body).await?;
    acted(&state, &enforcer, actions::upload_file(&state, &enforcer, key.as_ref(), &project, request).await)
}

#[utoipa::path(
    put,
    path = "/api/projects/{project}/wiki",
    tag = "actions",
    summary = "A Project's wiki, written again (wiki.manage)",
    params(("project" = String, Path, description = "Its id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::actions::NewText, content_type = "application/json"),
    responses((status = 200, description = "Written", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn edit_wiki(
    State(state): State<AppState>,
    axum::extract::Path(project): PathId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (enforcer, key, request) = action_request(&state, &method, &uri, &headers, body).await?;
    acted(&state, &enforcer, actions::edit_wiki(&state, &enforcer, key.as_ref(), &project, request).await)
}

#[utoipa::path(
    post,
    path = "/api/dms/{dm}/messages",
    tag = "actions",
    summary = "A message of a direct message (dm.reply)",
    params(("dm" = String, Path, description = "Its id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::actions::NewText, content_type = "application/json"),
    responses((status = 201, description = "Made", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn reply(
    State(state): State<AppState>,
    axum::extract::Path(dm): PathId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (enforcer, key, request) = action_request(&state, &method, &uri, &headers, body).await?;
    acted(&state, &enforcer, actions::reply(&state, &enforcer, key.as_ref(), &dm, request).await)
}

#[utoipa::path(
    post,
    path = "/api/announcements",
    tag = "actions",
    summary = "An announcement to the caller's Network (announcement.org)",
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::actions::NewText, content_type = "application/json"),
    responses((status = 201, description = "Made", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn announce(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (enforcer, key, request) = action_request(&state, &method, &uri, &headers, body).await?;
    acted(&state, &enforcer, actions::announce(&state, &enforcer, key.as_ref(), None, request).await)
}

#[utoipa::path(
    post,
    path = "/api/groups/{group}/announcements",
    tag = "actions",
    summary = "An announcement to a group (announcement.group)",
    params(("group" = String, Path, description = "Its id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and request within a day answer the first result")),
    request_body(content = crate::actions::NewText, content_type = "application/json"),
    responses((status = 201, description = "Made", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn announce_to_group(
    State(state): State<AppState>,
    axum::extract::Path(group): PathId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (enforcer, key, request) = action_request(&state, &method, &uri, &headers, body).await?;
    acted(&state, &enforcer, actions::announce(&state, &enforcer, key.as_ref(), Some(&group), request).await)
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/items",
    tag = "actions",
    summary = "Every task, document, report and finance row of a Project the caller may see",
    params(("project" = String, Path, description = "Its id"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many, the newest (default 200, at most 1,000)")),
    responses((status = 200, description = "Items", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn project_items(
    State(state): State<AppState>,
    axum::extract::Path(project): PathId,
    headers: HeaderMap,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let limit = listing_limit(query)?;
    let enforcer = actor(&state, &headers).await?;
    let items = actions::items(&state, &enforcer, &project, None, limit).await;
    Ok(listed(
        &state,
        &enforcer,
        items.map(|items| {
            serde_json::json!({ "project": project, "items": items.entries, "truncated": items.truncated })
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/tasks",
    tag = "actions",
    summary = "A Project's tasks the caller may see",
    params(("project" = String, Path, description = "Its id"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many, the newest (default 200, at most 1,000)")),
    responses((status = 200, description = "Tasks", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn project_tasks(
    State(state): State<AppState>,
    axum::extract::Path(project): PathId,
    headers: HeaderMap,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let limit = listing_limit(query)?;
    let enforcer = actor(&state, &headers).await?;
    let items =
        actions::items(&state, &enforcer, &project, Some(tessera_core::ResourceKind::Task), limit).await;
    Ok(listed(
        &state,
        &enforcer,
        items.map(|items| {
            serde_json::json!({ "project": project, "tasks": items.entries, "truncated": items.truncated })
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/files",
    tag = "actions",
    summary = "A Project's files the caller may see",
    params(("project" = String, Path, description = "Its id"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many, the newest (default 200, at most 1,000)")),
    responses((status = 200, description = "Files", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn project_files(
    State(state): State<AppState>,
    axum::extract::Path(project): PathId,
    headers: HeaderMap,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let limit = listing_limit(query)?;
    let enforcer = actor(&state, &headers).await?;
    let items =
        actions::items(&state, &enforcer, &project, Some(tessera_core::ResourceKind::Document), limit).await;
    Ok(listed(
        &state,
        &enforcer,
        items.map(|items| {
            serde_json::json!({ "project": project, "files": items.entries, "truncated": items.truncated })
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/wiki",
    tag = "actions",
    summary = "A Project's wiki",
    params(("project" = String, Path, description = "Its id")),
    responses((status = 200, description = "The wiki, or a null text", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn project_wiki(
    State(state): State<AppState>,
    axum::extract::Path(project): PathId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let enforcer = actor(&state, &headers).await?;
    Ok(listed(&state, &enforcer, actions::wiki(&state, &enforcer, &project)))
}

#[utoipa::path(
    get,
    path = "/api/dms/{dm}/messages",
    tag = "actions",
    summary = "A conversation's messages, oldest first",
    params(("dm" = String, Path, description = "Its id"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many, the newest (default 200, at most 1,000)")),
    responses((status = 200, description = "Messages", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn dm_messages(
    State(state): State<AppState>,
    axum::extract::Path(dm): PathId,
    headers: HeaderMap,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let limit = listing_limit(query)?;
    let enforcer = actor(&state, &headers).await?;
    let messages = actions::messages(&state, &enforcer, &dm, limit).await;
    Ok(listed(
        &state,
        &enforcer,
        messages.map(|messages| {
            serde_json::json!({ "dm": dm, "messages": messages.entries, "truncated": messages.truncated })
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/announcements",
    tag = "actions",
    summary = "The announcements of the caller's Network",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many, the newest (default 200, at most 1,000)")),
    responses((status = 200, description = "Announcements", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn network_announcements(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let limit = listing_limit(query)?;
    let enforcer = actor(&state, &headers).await?;
    let announcements = actions::announcements(&state, &enforcer, None, limit).await;
    Ok(listed(
        &state,
        &enforcer,
        announcements.map(|announcements| {
            serde_json::json!({ "announcements": announcements.entries, "truncated": announcements.truncated })
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/groups/{group}/announcements",
    tag = "actions",
    summary = "A group's announcements",
    params(("group" = String, Path, description = "Its id"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many, the newest (default 200, at most 1,000)")),
    responses((status = 200, description = "Announcements", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn group_announcements(
    State(state): State<AppState>,
    axum::extract::Path(group): PathId,
    headers: HeaderMap,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let limit = listing_limit(query)?;
    let enforcer = actor(&state, &headers).await?;
    let announcements = actions::announcements(&state, &enforcer, Some(&group), limit).await;
    let listing = announcements.map(|announcements| {
        serde_json::json!({ "group": group, "announcements": announcements.entries, "truncated": announcements.truncated })
    });
    Ok(listed(&state, &enforcer, listing))
}

#[utoipa::path(
    get,
    path = "/api/groups",
    tag = "actions",
    summary = "The groups the caller may see, with their names",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many, the newest (default 200, at most 1,000)")),
    responses((status = 200, description = "Groups", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn list_groups(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let limit = listing_limit(query)?;
    let enforcer = actor(&state, &headers).await?;
    let groups = actions::groups(&state, &enforcer, limit).await;
    Ok(listed(
        &state,
        &enforcer,
        groups.map(|groups| serde_json::json!({ "groups": groups.entries, "truncated": groups.truncated })),
    ))
}

/// A listing's query string (`limit`).
type ListQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// A listing's `limit`: [`actions::DEFAULT_LISTING`] unless given, at most
/// [`actions::MAX_LISTING`] (a larger one is taken as the maximum), at least 1.
fn listing_limit(query: ListQuery) -> Result<usize, ApiError> {
    let params = parameters(query, &["limit"])?;
    match params.get("limit") {
        None => Ok(actions::DEFAULT_LISTING),
        Some(value) => value
            .parse::<u64>()
            .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX).clamp(1, actions::MAX_LISTING))
            .map_err(|_| ApiError::bad_parameter("`limit` is not a whole number")),
    }
}

// ---- GET /api/events ----------------------------------------------------------------------------

/// A ticket for `GET /api/events?ticket=`, for a browser's `EventSource`, which cannot send
/// the bearer header.
#[utoipa::path(
    post,
    path = "/api/events/ticket",
    tag = "events",
    summary = "A single-use ticket for /api/events (an EventSource sends no header)",
    responses((status = 200, description = "The ticket", body = Object, content_type = "application/json"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn event_ticket(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let caller = signed_in_user(&state, &headers).await?;
    let ticket = state.0.tickets.issue(caller, state.0.issuer.now())?;
    let mut response = json_response(
        StatusCode::OK,
        &serde_json::json!({ "ticket": ticket, "expires_in": crate::events::TICKET_SECONDS }),
    );
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Server-sent events when the caller's snapshot changes; see `events.rs`.
#[utoipa::path(
    get,
    path = "/api/events",
    tag = "events",
    summary = "Server-sent events: the caller's snapshot version, content they may see",
    params(("ticket" = Option<String>, Query, description = "A ticket from /api/events/ticket, instead of the header")),
    responses((status = 200, description = "An event stream", body = crate::openapi::ServerSentEvent, content_type = "text/event-stream"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = parameters(query, &["ticket"])?;
    let caller = match params.get("ticket") {
        Some(ticket) => state.0.tickets.redeem(ticket, state.0.issuer.now()).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_ticket",
                "the ticket is unknown, spent or expired",
            )
            .with_challenge("Bearer")
        })?,
        None => authenticate(&state, &headers).await?,
    };
    member(&state.0.issuer.current(), &caller.user)?;
    let slot = state.0.streams.open(&caller.user)?;
    let stream = crate::events::stream(
        caller,
        slot,
        state.0.issuer.subscribe(),
        state.0.content.subscribe(),
        state.0.issuer.clock().clone(),
        state.0.closing.subscribe(),
    );
    let mut response = stream.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

// ---- Health and metrics ------------------------------------------------------------------------

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Alive",
    responses((status = 200, description = "Alive", body = Object, content_type = "application/json"), crate::openapi::Refusals)
)]
async fn healthz() -> Response {
    json_bytes(StatusCode::OK, Bytes::from_static(b"{\"alive\":true}"), "no-store")
}

/// Ready or not, and nothing else: `{"ready": true}` (200) or `{"ready": false}` (503). Why,
/// and what is served, is for the ops listener ([`crate::ops`]).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Ready (a database reachable)",
    responses((status = 200, description = "Ready", body = Object, content_type = "application/json"), crate::openapi::Refusals)
)]
async fn readyz(State(state): State<AppState>) -> Response {
    let ready = crate::ops::ready(&state);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut response = json_response(status, &serde_json::json!({ "ready": ready }));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// ---- The demo's Host -----------------------------------------------------------------------------

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
    // Decoded first, as the file system will see it: `/%2Esecret` is `/.secret`. No dot-files
    // (`.git`, `.env`), except `.well-known`; no `..`; no encoded slash or backslash, which
    // would make one segment two; no control characters.
    let Ok(decoded) = percent_encoding::percent_decode_str(&path).decode_utf8() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let raw = path.to_ascii_lowercase();
    if raw.contains("%2f")
        || raw.contains("%5c")
        || decoded.contains('\\')
        || decoded.chars().any(char::is_control)
        || decoded.split('/').any(|segment| segment.starts_with('.') && segment != ".well-known")
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let last = decoded.rsplit('/').next().unwrap_or_default().to_owned();
    let last = last.as_str();
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
    use crate::caller::held_version;

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
