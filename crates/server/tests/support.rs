//! What the tests share: the demo's files and scratch directories.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::Connection as _;
use sqlx::Executor as _;
use tessera_core::{Org, SecretKey, Timestamp};
use tessera_server::identity::AuthConfig;
use tessera_server::replica;
use tessera_server::store::Loaded;
use tessera_server::store::Store;
use tessera_server::{AppState, Clock, Config, Connections, Quotas, Source, Tuning, router};
use tower::ServiceExt as _;

/// The demo organisation of the repository (45 users).
pub const DEMO_ORG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/org.json");

/// The demo content: tasks, documents, report and finance rows of the demo's Projects.
pub const DEMO_CONTENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/content.json");

/// 2026-06-01T09:00:00Z, the demo's clock.
pub const T0: i64 = 1_780_304_400;

/// The demo organisation.
pub fn demo_org() -> Org {
    serde_json::from_str(&std::fs::read_to_string(DEMO_ORG).unwrap()).unwrap()
}

/// A server of the demo organisation, identifying callers by `auth`: a fixed key, no content,
/// no static files, the clock stopped at [`T0`], the default cache and limits, no rate limits.
pub fn config(auth: AuthConfig) -> Config {
    Config {
        org: demo_org(),
        key: SecretKey::from_bytes([9; 32]),
        issuer: "tessera".to_owned(),
        ttl_seconds: 7 * 24 * 3600,
        content: Vec::new(),
        www: None,
        clock: Clock::from_fn(|| Timestamp::from_unix(T0)),
        tuning: Tuning::default(),
        request_timeout: Duration::from_secs(30),
        auth,
        source: Source::Memory,
        connections: Connections::default(),
        quotas: unlimited(),
    }
}

/// The default quotas with the rate limits lifted: tests ask as one user many times a second
/// (`guards.rs` tests the limits themselves).
pub fn unlimited() -> Quotas {
    let lifted = std::num::NonZeroU32::new(1_000_000).unwrap();
    Quotas {
        search_per_second: lifted,
        check_per_second: lifted,
        admin_per_second: lifted,
        service_per_second: lifted,
        action_per_second: lifted,
        ..Quotas::default()
    }
}

/// A directory under the system's temporary directory, removed when dropped.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tessera-server-{}-{n}-{label}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A database to test on: a SQLite file, or a fresh PostgreSQL database.
pub struct Database {
    pub url: String,
    /// PostgreSQL: the server's URL and the database to drop.
    pub postgres: Option<(String, String)>,
    _scratch: Option<Scratch>,
}

impl Database {
    pub fn sqlite(label: &str) -> Database {
        let scratch = Scratch::new(label);
        let url = format!("sqlite:{}", scratch.path("store.db").display());
        Database { url, postgres: None, _scratch: Some(scratch) }
    }

    /// `None` (and a note) when no PostgreSQL server is given.
    pub async fn postgres(label: &str) -> Option<Database> {
        let Ok(server) = std::env::var("TESSERA_TEST_DATABASE_URL") else {
            println!(
                "note: TESSERA_TEST_DATABASE_URL is not set: the PostgreSQL half of this test is skipped"
            );
            return None;
        };
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "tessera_test_{}_{}_{label}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
        admin.close().await.unwrap();
        Some(Database { url: with_database(&server, &name), postgres: Some((server, name)), _scratch: None })
    }

    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    pub async fn drop(self) {
        if let Some((server, name)) = &self.postgres {
            let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
            let _ = admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).await;
        }
    }
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let query = path.split_once('?').map(|(_, query)| format!("?{query}")).unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

// ---- What both databases must do -------------------------------------------------------------------

// ---- Servers over a database ----------------------------------------------------------------------

/// A server over the database at `url`, following it (every `resync` at least).
pub async fn replica(url: &str, resync: Duration) -> AppState {
    replica_of(url, resync, true).await
}

/// [`replica`], bringing the schema up to date or not.
pub async fn replica_of(url: &str, resync: Duration, migrate: bool) -> AppState {
    let (database, loaded) = replica::Database::open(url, resync, migrate).await.unwrap();
    let Loaded { number, org, versions } = loaded;
    let source = Source::Database { database, revision: number, versions };
    let state = AppState::new(Config { org, source, ..config(AuthConfig::Demo) }).unwrap();
    tokio::spawn(state.clone().follow());
    state
}

pub fn bearer(state: &AppState, user: &str) -> String {
    format!("Bearer {}", state.identity().demo_token(user).unwrap().0)
}

/// Sends `request`, answering its status, JSON body (`Null` when none) and `ETag`.
pub async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, Value, Option<String>) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let etag = response.headers().get(header::ETAG).map(|etag| etag.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null), etag)
}

/// `POST /api/admin/edits` of `edits` as `user`.
pub async fn edit(state: &AppState, user: &str, edits: Value) -> (StatusCode, Value) {
    let request = Request::post("/api/admin/edits")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, bearer(state, user))
        .body(Body::from(json!({ "edits": edits }).to_string()))
        .unwrap();
    let (status, body, _) = send(state, request).await;
    (status, body)
}

pub async fn get(
    state: &AppState,
    user: &str,
    uri: &str,
    etag: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = Request::get(uri).header(header::AUTHORIZATION, bearer(state, user));
    if let Some(etag) = etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    send(state, request.body(Body::empty()).unwrap()).await
}

/// Waits until `state` serves revision `number` or later, for at most `wait`.
pub async fn reaches(state: &AppState, number: u64, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while state.version() < number {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// An answer of the router: its status, headers and JSON body (`null` if it has none).
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// `method uri` as `user` (a demo token), with a JSON `body` and an `Idempotency-Key` if given.
pub async fn call(
    state: &AppState,
    method: &str,
    user: &str,
    uri: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> Answer {
    call_with(state, method, &bearer(state, user), uri, body, key).await
}

/// [`call`] with this `Authorization` header (a service's token, say).
pub async fn call_with(
    state: &AppState,
    method: &str,
    authorization: &str,
    uri: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, authorization);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    };
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

/// `POST uri` as `user` with a JSON body.
pub async fn post_as(state: &AppState, user: &str, uri: &str, body: Value) -> Answer {
    call(state, "POST", user, uri, Some(body), None).await
}

/// `GET uri` as `user`.
pub async fn get_as(state: &AppState, user: &str, uri: &str) -> Answer {
    call(state, "GET", user, uri, None, None).await
}
