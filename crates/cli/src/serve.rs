//! `tessera serve`: the reference snapshot server, a stand-in for a real backend in demos and
//! tests.
//!
//! It holds one organisation in memory and serves, over HTTP:
//!
//! - `GET /api/snapshot?user=ID`: a snapshot cut to that user and signed afresh, with an `ETag`
//!   (`If-None-Match` answers 304 without signing);
//! - `GET /api/public-keys`: the key that signs them;
//! - `GET /api/users`: the demo sign-in list (active users, with Network, Office and profile);
//! - `GET /api/search?q=TEXT[&limit=N]`: unfiltered search over Projects, people (from the
//!   organisation) and tasks, documents, report and finance rows (from a content file): the
//!   client filters what its user may not see;
//! - `POST /api/admin/override`: switches one Office override, for a live demo of a policy
//!   change (no authentication: bind it to loopback);
//! - with `--www DIR`, the web app's static files, every path without an extension falling back
//!   to `index.html`.
//!
//! Versions only grow, across restarts too: a server starts at the Unix time in seconds, and
//! every change takes `max(previous + 1, now)` ([`next_version`]).
//! Every refusal is a 4xx with `{"error": {"code", "message"}}`. The choices behind all this are
//! in `docs/decisions.md`.
//!
//! Tests drive [`router`] in-process; `tessera serve` wraps it in a Tokio runtime and a listener.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::{Context as _, anyhow, bail};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tessera_core::{
    DEFAULT_PROFILES, Header, Org, Policy, PublicKey, ResourceKind, SCHEMA_VERSION, Scope, ScopeError,
    SecretKey, Timestamp, cut,
};
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use crate::args::ServeArgs;
use crate::keys::read_secret_key;
use crate::sign::{InvalidOrg, read_org};
use crate::{Status, read_file};

/// The largest request body accepted (the override's JSON is a few dozen bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest `user` parameter, or content id, accepted: the core's limit on an id.
pub const MAX_USER_BYTES: usize = 256;
/// The longest search text accepted.
pub const MAX_QUERY_BYTES: usize = 1024;
/// How many search results come back when `limit` is not given.
pub const DEFAULT_SEARCH_LIMIT: usize = 1000;
/// The largest `limit` a search accepts.
pub const MAX_SEARCH_LIMIT: usize = 10_000;
/// How long a served snapshot is valid when `--ttl-hours` is not given: a week, so that an
/// installed web app keeps working offline over a weekend and a holiday.
pub const DEFAULT_TTL_HOURS: u32 = 7 * 24;
/// The longest `--ttl-hours`: ten years.
pub const MAX_TTL_HOURS: u32 = 10 * 366 * 24;
/// The longest title in a content file.
const MAX_CONTENT_TEXT_BYTES: usize = 1024;

// ---- Configuration and state ------------------------------------------------------------------

/// Where the server reads the time. Tests pass one they move by hand.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system clock, in whole seconds. A clock before 1970 reads as 1970 (the server
    /// checks the clock once when it starts, and refuses to start with such a clock).
    pub fn system() -> Clock {
        Clock(Arc::new(|| system_now().unwrap_or(Timestamp::from_unix(0))))
    }

    /// A clock that reads `now()`.
    pub fn from_fn(now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

fn system_now() -> anyhow::Result<Timestamp> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    let seconds = i64::try_from(since_epoch.as_secs()).context("the system clock is out of range")?;
    Ok(Timestamp::from_unix(seconds))
}

/// Everything a server is made of.
#[derive(Debug)]
pub struct Config {
    /// The organisation; validated by [`AppState::new`].
    pub org: Org,
    /// The key that signs every snapshot.
    pub key: SecretKey,
    /// The snapshots' `issuer`.
    pub issuer: String,
    /// How long a snapshot is valid, in seconds (positive).
    pub ttl_seconds: i64,
    /// Tasks, documents, report and finance rows for search; checked against `org`.
    pub content: Vec<ContentItem>,
    /// The static files of the web app, if any.
    pub www: Option<PathBuf>,
    /// Where the time comes from.
    pub clock: Clock,
}

/// The server's state, shared by every request: the organisation and its version behind one
/// lock (so that a writer is alone and a reader sees the two agree), and what never changes.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    live: RwLock<Live>,
    key: SecretKey,
    public_key: PublicKey,
    issuer: String,
    ttl_seconds: i64,
    /// Sorted by kind (in [`ResourceKind::ALL`] order), then id.
    index: Vec<SearchEntry>,
    www: Option<PathBuf>,
    clock: Clock,
}

/// What changes while the server runs.
#[derive(Debug)]
struct Live {
    org: Org,
    version: u64,
}

impl AppState {
    /// Checks the organisation and the content and starts at version "now" (Unix seconds).
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        let Config { org, key, issuer, ttl_seconds, content, www, clock } = config;
        if let Err(errors) = Policy::new(&org) {
            bail!("the organisation is invalid: {errors}");
        }
        if ttl_seconds <= 0 {
            bail!("the snapshot lifetime must be positive, not {ttl_seconds} s");
        }
        validate_content(&content, &org)?;
        let index = build_index(&org, content);
        let version = next_version(0, clock.now());
        let public_key = key.public_key();
        let live = RwLock::new(Live { org, version });
        Ok(AppState(Arc::new(Shared { live, key, public_key, issuer, ttl_seconds, index, www, clock })))
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        self.0.live.read().unwrap_or_else(PoisonError::into_inner).version
    }

    /// How many entries search looks through: Projects, people and content items.
    pub fn searchable(&self) -> usize {
        self.0.index.len()
    }
}

/// The version after a change at `now`: one more than `previous`, or the Unix time in seconds if
/// that is more. A server starts at `next_version(0, now)`, so that a restarted server is ahead
/// of the one before it, as long as that one did not change more than once a second on average
/// (it then runs ahead of the clock, by at most one version per change).
pub fn next_version(previous: u64, now: Timestamp) -> u64 {
    let clock = u64::try_from(now.unix()).unwrap_or(0);
    previous.saturating_add(1).max(clock)
}

// ---- Content ------------------------------------------------------------------------------------

/// One searchable item that hangs off a Project: a task, a document, a report row or a finance
/// row. The content file is `{"items": [ContentItem, ...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentItem {
    /// `task`, `document`, `report` or `finance`.
    pub kind: ResourceKind,
    /// Unique among the items of its kind.
    pub id: String,
    /// What search matches and shows.
    pub title: String,
    /// The Project it hangs off; must be in the organisation.
    pub project: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentFile {
    items: Vec<ContentItem>,
}

/// Reads a content file's JSON, `{"items": [...]}`; [`validate_content`] checks it against an
/// organisation.
pub fn parse_content(bytes: &[u8]) -> anyhow::Result<Vec<ContentItem>> {
    let file: ContentFile = serde_json::from_slice(bytes).map_err(|e| anyhow!("{e}"))?;
    Ok(file.items)
}

/// Checks every item: a kind that hangs off a Project, a non-empty id unique for its kind, a
/// non-empty title, a Project of `org`. The error names the first ten problems and counts the
/// rest.
pub fn validate_content(items: &[ContentItem], org: &Org) -> anyhow::Result<()> {
    let projects: BTreeSet<&str> = org.projects.iter().map(|project| project.id.as_str()).collect();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut problems: Vec<String> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let at = format!("item {n} (`{}`)", quoted(&item.id));
        if !item.kind.in_project() {
            problems.push(format!(
                "{at}: kind `{}` is not one of task, document, report, finance (projects and people come from the organisation)",
                item.kind
            ));
        }
        if item.id.is_empty() || item.id.len() > MAX_USER_BYTES {
            problems.push(format!("{at}: the id must be 1 to {MAX_USER_BYTES} bytes"));
        }
        if item.title.trim().is_empty() || item.title.len() > MAX_CONTENT_TEXT_BYTES {
            problems.push(format!("{at}: the title must be 1 to {MAX_CONTENT_TEXT_BYTES} bytes, not blank"));
        }
        if !projects.contains(item.project.as_str()) {
            problems.push(format!("{at}: unknown project `{}`", quoted(&item.project)));
        }
        if !seen.insert((item.kind.as_str(), item.id.as_str())) {
            problems.push(format!("{at}: {} id `{}` is used twice", item.kind, quoted(&item.id)));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let count = problems.len();
    let shown: Vec<&str> = problems.iter().take(10).map(String::as_str).collect();
    let more = if count > 10 { format!("; and {} more", count - 10) } else { String::new() };
    bail!("{count} problem{} in the content: {}{more}", if count == 1 { "" } else { "s" }, shown.join("; "))
}

/// `text` cut to 64 characters, for messages.
fn quoted(text: &str) -> String {
    if text.chars().count() <= 64 {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(64).collect::<String>())
    }
}

// ---- Search ----------------------------------------------------------------------------------

#[derive(Debug)]
struct SearchEntry {
    kind: ResourceKind,
    id: String,
    title: String,
    project: Option<String>,
    id_folded: String,
    title_folded: String,
}

impl SearchEntry {
    fn new(kind: ResourceKind, id: String, title: String, project: Option<String>) -> SearchEntry {
        let id_folded = id.to_lowercase();
        let title_folded = title.to_lowercase();
        SearchEntry { kind, id, title, project, id_folded, title_folded }
    }

    fn matches(&self, terms: &[String]) -> bool {
        terms.iter().all(|term| self.title_folded.contains(term) || self.id_folded.contains(term))
    }
}

fn kind_rank(kind: ResourceKind) -> usize {
    ResourceKind::ALL.iter().position(|k| *k == kind).unwrap_or(usize::MAX)
}

fn build_index(org: &Org, content: Vec<ContentItem>) -> Vec<SearchEntry> {
    let mut index: Vec<SearchEntry> =
        Vec::with_capacity(org.projects.len() + org.users.len() + content.len());
    for project in &org.projects {
        index.push(SearchEntry::new(
            ResourceKind::Project,
            project.id.clone(),
            project.name.clone(),
            Some(project.id.clone()),
        ));
    }
    for user in &org.users {
        index.push(SearchEntry::new(ResourceKind::Person, user.id.clone(), user.name.clone(), None));
    }
    for item in content {
        index.push(SearchEntry::new(item.kind, item.id, item.title, Some(item.project)));
    }
    index.sort_by(|a, b| (kind_rank(a.kind), &a.id).cmp(&(kind_rank(b.kind), &b.id)));
    index
}

// ---- The router --------------------------------------------------------------------------------

/// The whole server as an axum [`Router`]: the API under `/api/`, and the static files of
/// `www` (if the state has one) everywhere else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/snapshot", get(snapshot))
        .route("/api/public-keys", get(public_keys))
        .route("/api/users", get(users))
        .route("/api/search", get(search))
        .route("/api/admin/override", post(set_override))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(no_sniff))
        .with_state(state)
}

/// A refusal: its status, a stable code and a sentence, sent as
/// `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    fn bad_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }

    fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = json_response(self.status, &body);
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// `value` as a JSON response.
fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write JSON: {e}")).into_response(),
    }
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
    let params = parameters(query, &["user"])?;
    let Some(user) = params.get("user") else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "missing_parameter", "`user` is required"));
    };
    if user.is_empty() || user.len() > MAX_USER_BYTES {
        return Err(ApiError::bad_parameter(format!("`user` must be 1 to {MAX_USER_BYTES} bytes")));
    }
    let shared = &state.0;
    let now = shared.clock.now();
    let scope = Scope::User(user.clone());
    let (scoped, version) = {
        let live = shared.live.read().unwrap_or_else(PoisonError::into_inner);
        let scoped = cut(&live.org, &scope, now).map_err(|e| match e {
            ScopeError::UnknownUser(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_user", format!("no user `{}`", quoted(user)))
            }
            other => ApiError::internal(other.to_string()),
        })?;
        (scoped, live.version)
    };
    let cut_json = serde_json::to_vec(&scoped).map_err(|e| ApiError::internal(e.to_string()))?;
    let etag = snapshot_etag(version, &scope, renewal_period(now, shared.ttl_seconds), &cut_json);
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let snapshot_header = Header {
            schema: SCHEMA_VERSION,
            issuer: shared.issuer.clone(),
            version,
            issued_at: now,
            expires_at: now.plus_seconds(shared.ttl_seconds),
            scope,
        };
        let envelope = tessera_core::sign(&scoped, &snapshot_header, &[&shared.key])
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut response = (StatusCode::OK, envelope).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag_value);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    Ok(response)
}

/// Which half-lifetime `now` falls in. It is part of the `ETag`, so that a client that
/// revalidates gets a fresh signature before its snapshot is half-way to expiry, even when
/// nothing changed: a 304 never leaves it holding a snapshot about to expire.
fn renewal_period(now: Timestamp, ttl_seconds: i64) -> i64 {
    now.unix().div_euclid((ttl_seconds / 2).max(1))
}

/// A weak `ETag` (the bytes differ from one signature to the next; what they say does not):
/// the version, and a hash of the version, the scope, the renewal period and the cut
/// organisation.
fn snapshot_etag(version: u64, scope: &Scope, period: i64, cut_json: &[u8]) -> String {
    let scope = scope.to_string();
    let mut hasher = Sha256::new();
    hasher.update(version.to_be_bytes());
    hasher.update((scope.len() as u64).to_be_bytes());
    hasher.update(scope.as_bytes());
    hasher.update(period.to_be_bytes());
    hasher.update(cut_json);
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(32);
    for byte in digest.iter().take(16) {
        let _ = write!(hex, "{byte:02x}");
    }
    format!("W/\"{version}-{hex}\"")
}

/// Whether an `If-None-Match` header matches `etag`, by the weak comparison (RFC 9110 §13.1.2).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = etag.strip_prefix("W/").unwrap_or(etag);
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == opaque)
    })
}

// ---- GET /api/public-keys ----------------------------------------------------------------------

#[derive(Serialize)]
struct PublicKeys {
    keys: Vec<PublicKeyEntry>,
}

#[derive(Serialize)]
struct PublicKeyEntry {
    id: String,
    public_key: String,
}

async fn public_keys(State(state): State<AppState>) -> Response {
    let key = &state.0.public_key;
    let body = PublicKeys {
        keys: vec![PublicKeyEntry {
            id: key.key_id().to_string(),
            public_key: key.to_text().trim().to_owned(),
        }],
    };
    let mut response = json_response(StatusCode::OK, &body);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

// ---- GET /api/users -----------------------------------------------------------------------------

#[derive(Serialize)]
struct Directory {
    users: Vec<DirectoryEntry>,
}

#[derive(Serialize)]
struct DirectoryEntry {
    id: String,
    name: String,
    network: String,
    office: String,
    profile: String,
}

/// The demo sign-in list: every active user with their Network, home Office and profile. It
/// stands in for authentication; the snapshot a user then gets is what protects data.
async fn users(State(state): State<AppState>) -> Result<Response, ApiError> {
    let live = state.0.live.read().unwrap_or_else(PoisonError::into_inner);
    let policy = Policy::new(&live.org)
        .map_err(|errors| ApiError::internal(format!("the organisation is invalid: {errors}")))?;
    let mut users: Vec<DirectoryEntry> = policy
        .users()
        .filter(|user| user.active)
        .map(|user| DirectoryEntry {
            id: user.id.to_owned(),
            name: user.name.to_owned(),
            network: policy.network_name(user.network).unwrap_or(user.network).to_owned(),
            office: policy.office_name(user.home_office).unwrap_or(user.home_office).to_owned(),
            profile: user.profile.to_owned(),
        })
        .collect();
    drop(live);
    users.sort_by(|a, b| (&a.network, &a.office, &a.name).cmp(&(&b.network, &b.office, &b.name)));
    let mut response = json_response(StatusCode::OK, &Directory { users });
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

// ---- GET /api/search ----------------------------------------------------------------------------

#[derive(Serialize)]
struct SearchResults<'a> {
    query: &'a str,
    results: Vec<SearchResult<'a>>,
    truncated: bool,
}

#[derive(Serialize)]
struct SearchResult<'a> {
    kind: ResourceKind,
    id: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<&'a str>,
}

async fn search(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
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
    let terms: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    let mut matches = state.0.index.iter().filter(|entry| entry.matches(&terms));
    let results: Vec<SearchResult<'_>> = matches
        .by_ref()
        .take(limit)
        .map(|entry| SearchResult {
            kind: entry.kind,
            id: &entry.id,
            title: &entry.title,
            project: entry.project.as_deref(),
        })
        .collect();
    let truncated = matches.next().is_some();
    let mut response = json_response(StatusCode::OK, &SearchResults { query: text, results, truncated });
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
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

#[derive(Serialize)]
struct OverrideResponse {
    version: u64,
    changed: bool,
}

async fn set_override(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // A cross-site form can POST text/plain without asking; application/json needs a CORS
    // preflight that this server never grants. Not authentication, but no drive-by changes.
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the override as `Content-Type: application/json`",
        ));
    }
    let body = body.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "bad_request" };
        ApiError::new(status, code, e.body_text())
    })?;
    let request: OverrideRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("{e}")))?;
    let allowed = match request.allowed {
        serde_json::Value::Bool(value) => Some(value),
        serde_json::Value::Null => None,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "`allowed` must be true, false or null (null removes the override)",
            ));
        }
    };

    let shared = &state.0;
    let mut live = shared.live.write().unwrap_or_else(PoisonError::into_inner);
    let next = with_override(&live.org, &request.office, &request.profile, &request.permission, allowed)?;
    let changed = next != live.org;
    if changed {
        live.version = next_version(live.version, shared.clock.now());
        live.org = next;
    }
    let mut response = json_response(StatusCode::OK, &OverrideResponse { version: live.version, changed });
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `org` with the override of `permission` for `profile` in `office` set to `allowed` (`None`
/// removes it), checked by [`Policy::new`].
fn with_override(
    org: &Org,
    office: &str,
    profile: &str,
    permission: &str,
    allowed: Option<bool>,
) -> Result<Org, ApiError> {
    let unprocessable =
        |code, message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
    let Some(found) = org.offices.iter().find(|o| o.id == office) else {
        return Err(unprocessable("unknown_office", format!("no office `{}`", quoted(office))));
    };
    let network = org.networks.iter().find(|n| n.id == found.network);
    let profile_known =
        DEFAULT_PROFILES.contains(&profile) || network.is_some_and(|n| n.defaults.contains_key(profile));
    if !profile_known {
        return Err(unprocessable(
            "unknown_profile",
            format!("network `{}` has no permission profile `{}`", found.network, quoted(profile)),
        ));
    }
    let policy = Policy::new(org).map_err(|e| ApiError::internal(e.to_string()))?;
    if !policy.profile_permissions().any(|known| known == permission) {
        return Err(unprocessable(
            "unknown_permission",
            format!("`{}` is not a profile permission of this organisation", quoted(permission)),
        ));
    }

    let mut next = org.clone();
    let Some(target) = next.offices.iter_mut().find(|o| o.id == office) else {
        return Err(ApiError::internal("the office vanished"));
    };
    match allowed {
        Some(value) => {
            target.overrides.entry(profile.to_owned()).or_default().insert(permission.to_owned(), value);
        }
        None => {
            if let Some(switches) = target.overrides.get_mut(profile) {
                switches.remove(permission);
                if switches.is_empty() {
                    target.overrides.remove(profile);
                }
            }
        }
    }
    if let Err(errors) = Policy::new(&next) {
        return Err(unprocessable(
            "invalid_org",
            format!("the override would make the organisation invalid: {errors}"),
        ));
    }
    Ok(next)
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
    // The app's files keep their names from one build to the next: every one is revalidated
    // (cheap, with `Last-Modified`), so a new build is never mixed with an old one.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

// ---- The command -----------------------------------------------------------------------------------

/// `tessera serve`: reads everything, then serves until Ctrl-C (or SIGTERM).
pub(crate) fn serve(args: &ServeArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let addr: SocketAddr = args.addr.parse().map_err(|_| {
        anyhow!("invalid value for --addr: `{}` is not an address such as 127.0.0.1:8080", args.addr)
    })?;
    if !(1..=MAX_TTL_HOURS).contains(&args.ttl_hours) {
        bail!("invalid value for --ttl-hours: {} is not from 1 to {MAX_TTL_HOURS}", args.ttl_hours);
    }
    system_now().context("cannot serve snapshots")?;
    let key = read_secret_key(&args.key)?;
    let org = read_org(&args.org)?;
    if let Err(errors) = Policy::new(&org) {
        return Err(InvalidOrg::new("refusing to serve", &args.org, errors).into());
    }
    let content = match &args.content {
        Some(path) => {
            let items = parse_content(&read_file(path)?)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            validate_content(&items, &org)
                .with_context(|| format!("refusing to serve `{}`", path.display()))?;
            items
        }
        None => Vec::new(),
    };
    if let Some(www) = &args.www {
        check_www(www, &args.org)?;
    }
    let state = AppState::new(Config {
        org,
        key,
        issuer: args.issuer.clone(),
        ttl_seconds: i64::from(args.ttl_hours) * 3600,
        content,
        www: args.www.clone(),
        clock: Clock::system(),
    })?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr().context("cannot read the address listened on")?;
        if let Some(warning) = exposure_warning(addr) {
            let _ = writeln!(std::io::stderr(), "tessera serve: warning: {warning}");
        }
        writeln!(
            out,
            "tessera serve: version {}, key id {}, {} searchable items, snapshots valid {} h",
            state.version(),
            state.0.public_key.key_id(),
            state.searchable(),
            args.ttl_hours
        )?;
        writeln!(out, "tessera serve: listening on http://{local}")?;
        out.flush()?;
        axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")
    })?;
    Ok(Status::Success)
}

/// What to warn about when `addr` is reachable from other machines.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "{addr} is not a loopback address: anyone who can reach it may change the policy through \
             POST /api/admin/override, which has no authentication"
        )
    })
}

/// Refuses a `--www` that is not a directory, or that holds the organisation file: only
/// per-user snapshots may reach a browser.
fn check_www(www: &Path, org: &Path) -> anyhow::Result<()> {
    let www = www.canonicalize().with_context(|| format!("cannot read --www `{}`", www.display()))?;
    if !www.is_dir() {
        bail!("--www `{}` is not a directory", www.display());
    }
    let org = org.canonicalize().with_context(|| format!("cannot read `{}`", org.display()))?;
    if org.starts_with(&www) {
        bail!(
            "refusing to serve `{}`: the organisation `{}` lies inside it, and only per-user snapshots may reach a browser",
            www.display(),
            org.display()
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_only_grow() {
        let at = Timestamp::from_unix;
        assert_eq!(next_version(0, at(1_700_000_000)), 1_700_000_000);
        assert_eq!(next_version(1_700_000_000, at(1_700_000_000)), 1_700_000_001);
        assert_eq!(next_version(1_700_000_005, at(1_700_000_002)), 1_700_000_006);
        assert_eq!(next_version(5, at(1_700_000_000)), 1_700_000_000);
        assert_eq!(next_version(u64::MAX, at(0)), u64::MAX);
        assert_eq!(next_version(0, at(-5)), 1);
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

    #[test]
    fn renewal_periods_are_half_a_lifetime() {
        let week = 7 * 24 * 3600;
        let start = Timestamp::from_unix(1_700_000_000);
        assert_eq!(renewal_period(start, week), renewal_period(start.plus_seconds(1), week));
        assert_ne!(renewal_period(start, week), renewal_period(start.plus_seconds(week / 2), week));
        assert_eq!(renewal_period(start, 1), 1_700_000_000);
    }

    #[test]
    fn only_loopback_is_quiet() {
        assert!(exposure_warning("127.0.0.1:8080".parse().unwrap()).is_none());
        assert!(exposure_warning("[::1]:0".parse().unwrap()).is_none());
        assert!(exposure_warning("0.0.0.0:8080".parse().unwrap()).unwrap().contains("no authentication"));
    }
}
