//! Servers over a database: edits that last, replicas that agree, the log of revisions, and a
//! file that is read-only. On SQLite always, and on PostgreSQL when `TESSERA_TEST_DATABASE_URL`
//! names a server.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::Connection as _;
use sqlx::Executor as _;
use tessera_core::{Edit, Org};
use tessera_server::identity::AuthConfig;
use tessera_server::replica;
use tessera_server::store::Loaded;
use tessera_server::{AppState, Config, OrgFile, Source, router};
use tower::ServiceExt as _;

use crate::events::Events;
use crate::support::{DEMO_ORG, Database, config, demo_org};

/// A server over the database at `url`, following it (every `resync` at least).
pub async fn replica(url: &str, resync: Duration) -> AppState {
    let (database, loaded) = replica::Database::open(url, resync).await.unwrap();
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
async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, Value, Option<String>) {
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

async fn get(
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

/// London's clients may create tasks: Cleo's decisions change.
fn london_clients_create_tasks() -> Value {
    json!([{ "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create" }])
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

async fn edits_survive_a_restart(db: &Database) {
    let store = db.store().await;
    let imported = store.import(&demo_org(), "test").await.unwrap();
    // An import's number is at least the Unix time: above the versions a server without a
    // database gave.
    assert!(imported > 1_700_000_000, "{imported}");
    let first = replica(&db.url, Duration::from_secs(1)).await;
    assert_eq!(first.version(), imported);
    let (status, body) = edit(&first, "u-ellen", london_clients_create_tasks()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revision"], imported + 1);
    let (status, _, etag) = get(&first, "u-cleo", "/api/snapshot", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, ada_etag) = get(&first, "u-ada", "/api/snapshot", None).await;
    let edited = first.issuer().current().org().clone();
    let versions = first.issuer().current().versions().clone();
    first.close();
    drop(first);

    let second = replica(&db.url, Duration::from_secs(1)).await;
    assert_eq!(second.version(), imported + 1);
    assert!(*second.issuer().current().org() == edited, "the edit is still there");
    assert_eq!(*second.issuer().current().versions(), versions);
    // Same snapshot versions, same ETags: a client's copy is still current after the restart.
    let (status, _, _) = get(&second, "u-cleo", "/api/snapshot", etag.as_deref()).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = get(&second, "u-ada", "/api/snapshot", ada_etag.as_deref()).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    second.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_edits_survive_a_restart() {
    let db = Database::sqlite("restart");
    edits_survive_a_restart(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_edits_survive_a_restart() {
    let Some(db) = Database::postgres("restart").await else { return };
    edits_survive_a_restart(&db).await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_read_only() {
    let state = AppState::new(Config {
        source: Source::File(OrgFile::new(std::path::Path::new(DEMO_ORG))),
        ..config(AuthConfig::Demo)
    })
    .unwrap();
    let (status, body) = edit(&state, "u-ellen", london_clients_create_tasks()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "read_only_source");
    let (status, body, _) = get(&state, "u-sam", "/api/admin/revisions", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "no_history");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_lists_what_each_administrator_may_see() {
    let db = Database::sqlite("log");
    let imported = db.store().await.import(&demo_org(), "importer").await.unwrap();
    let state = replica(&db.url, Duration::from_secs(1)).await;
    assert_eq!(edit(&state, "u-ellen", london_clients_create_tasks()).await.0, StatusCode::OK);
    let sydney = json!([{ "edit": "override_on", "office": "o-syd", "profile": "client", "permission": "task.create" }]);
    assert_eq!(edit(&state, "u-zoe", sydney).await.0, StatusCode::OK);

    let numbers = |body: &Value| -> Vec<u64> {
        body["revisions"].as_array().unwrap().iter().map(|row| row["number"].as_u64().unwrap()).collect()
    };
    // The system superuser sees everything; London's admin, London's edit; a client, nothing.
    let (status, body, _) = get(&state, "u-sam", "/api/admin/revisions?after=0", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(numbers(&body), [imported, imported + 1, imported + 2]);
    assert_eq!(body["revisions"][1]["who"], "u-ellen");
    assert_eq!(body["revisions"][1]["edits"], london_clients_create_tasks());
    let (_, body, _) = get(&state, "u-ellen", "/api/admin/revisions?after=0", None).await;
    assert_eq!(numbers(&body), [imported + 1]);
    let (_, body, _) = get(&state, "u-cleo", "/api/admin/revisions?after=0", None).await;
    assert!(numbers(&body).is_empty());
    // Paging.
    let (_, body, _) =
        get(&state, "u-sam", &format!("/api/admin/revisions?after={imported}&limit=1"), None).await;
    assert_eq!(numbers(&body), [imported + 1]);
    assert_eq!(body["next_after"], imported + 1);
    let (status, _, _) = get(&state, "u-sam", "/api/admin/revisions?after=x", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    state.close();
}

/// The server's URL and the test database's name.
fn postgres_names(db: &Database) -> (String, String) {
    db.postgres.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_agree_and_catch_up_after_a_lost_notification() {
    let Some(db) = Database::postgres("replicas").await else { return };
    db.store().await.import(&demo_org(), "test").await.unwrap();
    let resync = Duration::from_secs(1);
    let one = replica(&db.url, resync).await;
    let two = replica(&db.url, resync).await;

    // An edit through one reaches an event stream of the other within a second.
    let request = Request::get("/api/events")
        .header(header::AUTHORIZATION, bearer(&two, "u-cleo"))
        .body(Body::empty())
        .unwrap();
    let mut cleo = Events::open(&two, request).await.unwrap();
    assert_eq!(cleo.next(Duration::from_secs(5)).await.unwrap().0, "snapshot");
    let (status, body) = edit(&one, "u-ellen", london_clients_create_tasks()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revision = body["revision"].as_u64().unwrap();
    let (name, data) = cleo.next(Duration::from_secs(1)).await.expect("within a second");
    assert_eq!(name, "snapshot");
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["version"], revision);
    assert_eq!(two.version(), revision);

    // The listening connections die, and cannot come back at once: a revision committed
    // meanwhile is never told. The replica reads it within its resync interval.
    let (server, name) = postgres_names(&db);
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND query LIKE 'LISTEN%'"
        )))
        .await
        .unwrap();
    let sydney = json!([{ "edit": "override_on", "office": "o-syd", "profile": "client", "permission": "task.create" }]);
    let (status, body) = edit(&one, "u-zoe", sydney).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let missed = body["revision"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    admin
        .execute(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")))
        .await
        .unwrap();
    assert!(reaches(&two, missed, resync * 3).await, "caught up within the resync interval");
    assert!(*two.issuer().current().org() == *one.issuer().current().org());
    assert_eq!(*two.issuer().current().versions(), *one.issuer().current().versions());
    one.close();
    two.close();
    db.drop().await;
}

/// `count` batches that London's admin may make, each of two overrides in `network`, no two
/// alike, whose result depends on their order.
fn batches(org: &Org, network: &str, count: usize) -> Vec<Value> {
    let profiles =
        ["operations_user", "project_manager", "account_manager", "general_user", "client", "vendor"];
    let permissions = [
        "project.create",
        "task.create",
        "file.upload",
        "wiki.manage",
        "reports.view",
        "finance.view",
        "timesheet.log",
    ];
    let mut cells = Vec::new();
    for office in org.offices.iter().filter(|office| office.network == network) {
        for profile in profiles {
            for permission in permissions {
                cells.push((office.id.clone(), profile, permission));
            }
        }
    }
    let kinds = ["override_on", "override_off", "clear_override"];
    let edit = |cell: usize, kind: usize| {
        let (office, profile, permission) = &cells[cell % cells.len()];
        json!({ "edit": kinds[kind % 3], "office": office, "profile": profile, "permission": permission })
    };
    assert!(cells.len() * cells.len() >= count, "{} cells are too few", cells.len());
    (0..count).map(|i| json!([edit(i, i), edit(i / cells.len(), i / 3)])).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_thousand_batches_through_two_replicas_land_once_in_one_order() {
    let Some(db) = Database::postgres("thousand").await else { return };
    let org = demo_org();
    let store = db.store().await;
    let imported = store.import(&org, "test").await.unwrap();
    let replicas =
        [replica(&db.url, Duration::from_secs(1)).await, replica(&db.url, Duration::from_secs(1)).await];
    let batches = batches(&org, "n-emea", 1000);
    let mut sent = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let state = replicas[i % 2].clone();
        let batch = batch.clone();
        sent.push(tokio::spawn(async move { edit(&state, "u-ellen", batch).await }));
    }
    let mut changed = 0;
    for answer in sent {
        let (status, body) = answer.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["changed"] == true {
            changed += 1;
        }
    }

    // Every batch that changed something is in the log once, numbered without a gap.
    let log = store.revisions(imported, 5000).await.unwrap();
    assert_eq!(log.len(), changed);
    for (offset, row) in log.iter().enumerate() {
        assert_eq!(row.number, imported + 1 + offset as u64, "no gap");
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in &log {
        *seen.entry(row.edits.to_string()).or_default() += 1;
    }
    assert!(seen.values().all(|&count| count == 1), "no batch twice");
    let sent: std::collections::HashSet<String> = batches.iter().map(Value::to_string).collect();
    assert!(seen.keys().all(|edits| sent.contains(edits)));

    // The organisation is the first with the batches applied in the order of the log.
    let mut replayed = org.clone();
    for row in &log {
        for edit in serde_json::from_value::<Vec<Edit>>(row.edits.clone()).unwrap() {
            edit.apply(&mut replayed);
        }
    }
    let (last, stored) = store.load().await.unwrap();
    assert_eq!(last, imported + changed as u64);
    assert!(stored == replayed, "the stored organisation is the batches applied in revision order");
    for state in &replicas {
        assert!(reaches(state, last, Duration::from_secs(5)).await);
        assert!(*state.issuer().current().org() == replayed);
        state.close();
    }
    db.drop().await;
}
