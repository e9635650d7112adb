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
use tessera_server::{AppState, Config, OrgFile, Source};

use crate::events::Events;
use crate::support::{DEMO_ORG, Database, bearer, config, demo_org, edit, get, reaches, replica};

/// London's clients may create tasks: Cleo's decisions change.
fn london_clients_create_tasks() -> Value {
    json!([{ "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create" }])
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
    let edited = first.issuer().current().cutter().to_org();
    let versions = first.issuer().current().versions().clone();
    first.close();
    drop(first);

    let second = replica(&db.url, Duration::from_secs(1)).await;
    assert_eq!(second.version(), imported + 1);
    assert!(second.issuer().current().cutter().to_org() == edited, "the edit is still there");
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
    // meanwhile (by a writer whose connection is already open) is never told. The replica reads
    // it within its resync interval.
    let writer = tessera_server::store::Store::connect(&db.url).await.unwrap();
    let base = one.issuer().current();
    assert_eq!(writer.current_revision().await.unwrap(), base.number());
    let mut next = base.cutter().to_org();
    next.users.iter_mut().find(|user| user.id == "u-ada").unwrap().name = "Ada Missed".to_owned();
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
    let missed = writer
        .commit((base.number(), &base.cutter().to_org()), &next, "elsewhere", &json!([]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    admin
        .execute(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")))
        .await
        .unwrap();
    assert!(reaches(&one, missed, resync * 3).await, "caught up within the resync interval");
    assert!(reaches(&two, missed, resync * 3).await, "caught up within the resync interval");
    assert!(two.issuer().current().cutter().to_org() == one.issuer().current().cutter().to_org());
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
        assert!(state.issuer().current().cutter().to_org() == replayed);
        state.close();
    }
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_organisation_of_other_tables_behind_views_and_a_trigger() {
    let Some(db) = Database::postgres("views").await else { return };
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    admin.execute("CREATE SCHEMA hr; CREATE SCHEMA tessera").await.unwrap();
    // The organisation's own tables, in schema `hr` (here Tessera's columns, filled by an import).
    let in_schema = |schema: &str| format!("{}?options=-c%20search_path%3D{schema}", db.url);
    let hr = tessera_server::store::Store::connect(&in_schema("hr")).await.unwrap();
    hr.migrate().await.unwrap();
    let org = demo_org();
    hr.import(&org, "hr").await.unwrap();
    // docs/database.md, "Over a schema you already have": a view per table, `revisions` a real
    // table, and a trigger that appends a revision and notifies.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'hr' \
         AND table_name NOT IN ('revisions', '_sqlx_migrations')",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(tables.len() >= 14, "{tables:?}");
    for table in &tables {
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE VIEW tessera.{table} AS SELECT * FROM hr.{table}")))
            .await
            .unwrap();
    }
    admin
        .execute(
            "CREATE TABLE tessera.revisions (
               number BIGINT PRIMARY KEY CHECK (number > 0),
               at TIMESTAMPTZ NOT NULL DEFAULT date_trunc('second', now()),
               who TEXT NOT NULL, edits JSONB NOT NULL, renewed JSONB);
             INSERT INTO tessera.revisions (number, who, edits)
               VALUES (CAST(EXTRACT(EPOCH FROM now()) AS BIGINT), current_user, '{}');
             CREATE FUNCTION tessera.changed() RETURNS trigger LANGUAGE plpgsql AS $$
             DECLARE next BIGINT;
             BEGIN
               PERFORM pg_advisory_xact_lock(8387236820507844897);
               SELECT COALESCE(MAX(number), 0) + 1 INTO next FROM tessera.revisions;
               INSERT INTO tessera.revisions (number, who, edits)
                 VALUES (next, current_user, jsonb_build_object('table', TG_TABLE_NAME));
               PERFORM pg_notify('tessera_revisions', next::text);
               RETURN NULL;
             END $$;
             CREATE TRIGGER tessera_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hr.users
               FOR EACH STATEMENT EXECUTE FUNCTION tessera.changed();",
        )
        .await
        .unwrap();

    let state = crate::support::replica_of(&in_schema("tessera"), Duration::from_secs(30), false).await;
    assert!(state.issuer().current().cutter().to_org() == org, "the views read back the organisation");
    let first = state.version();
    // A change made where the organisation lives reaches the server at once, and renews everyone.
    admin.execute("UPDATE hr.users SET name = 'Ada Renamed' WHERE id = 'u-ada'").await.unwrap();
    assert!(reaches(&state, first + 1, Duration::from_secs(2)).await, "heard of the change");
    let current = state.issuer().current();
    assert_eq!(current.cutter().user("u-ada").unwrap().name, "Ada Renamed");
    assert_eq!(current.versions().base, first + 1);
    state.close();
    drop(hr);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_edit_reaches_the_streams_of_the_server_that_made_it() {
    let db = Database::sqlite("own-events");
    db.store().await.import(&demo_org(), "test").await.unwrap();
    let state = replica(&db.url, Duration::from_secs(30)).await;
    let request = Request::get("/api/events")
        .header(header::AUTHORIZATION, bearer(&state, "u-cleo"))
        .body(Body::empty())
        .unwrap();
    let mut cleo = Events::open(&state, request).await.unwrap();
    assert_eq!(cleo.next(Duration::from_secs(5)).await.unwrap().0, "snapshot");
    let (status, body) = edit(&state, "u-ellen", london_clients_create_tasks()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (name, data) = cleo.next(Duration::from_secs(1)).await.expect("within a second");
    assert_eq!(name, "snapshot");
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["version"], body["revision"]);
    state.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_behind_its_client_catches_up_before_it_answers() {
    let db = Database::sqlite("behind");
    db.store().await.import(&demo_org(), "test").await.unwrap();
    // SQLite tells nothing, and the timer is slow: only the client's ETag can wake the second.
    let resync = Duration::from_secs(300);
    let one = replica(&db.url, resync).await;
    let two = replica(&db.url, resync).await;
    let (status, body) = edit(&one, "u-ellen", london_clients_create_tasks()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, etag) = get(&one, "u-cleo", "/api/snapshot", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(two.version() < one.version());
    // Cleo's copy is of the new revision: the second replica catches up and finds it current,
    // rather than handing her the older version, which she would refuse as a rollback.
    let (status, _, _) = get(&two, "u-cleo", "/api/snapshot", etag.as_deref()).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(two.version(), one.version());
    // A version beyond anything the log has (no replica made it): answered at once, from the
    // revision served, with no wait and nothing woken.
    let ahead = format!("W/\"{}-0\"", one.version() + 10);
    let started = std::time::Instant::now();
    let (status, body, _) = get(&two, "u-cleo", "/api/snapshot", Some(&ahead)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    one.close();
    two.close();
}

/// Edits of every kind through one replica; another follows them edit by edit (building each
/// revision from the last by the edits the log names), and a third, started afterwards, loads
/// the last whole: all three hold the same organisation, the same snapshot versions, and so the
/// same `ETag`s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_follows_edit_by_edit_agrees_with_one_that_loads_whole() {
    let db = Database::sqlite("follow-edits");
    db.store().await.import(&demo_org(), "test").await.unwrap();
    let one = replica(&db.url, Duration::from_millis(200)).await;
    let two = replica(&db.url, Duration::from_millis(200)).await;
    let batches = [
        json!([{ "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create" }]),
        json!([{ "edit": "add_to_team", "user": "u-cleo", "project": "p-lon-website" }]),
        json!([{ "edit": "set_access", "user": "u-hugo", "access": "invite_only" }]),
        json!([{ "edit": "raise_role", "user": "u-cleo", "role": "manager" }]),
        json!([{ "edit": "add_to_group", "user": "u-sam", "group": "g-lon-design" }]),
        json!([{ "edit": "deactivate_user", "user": "u-maya" }]),
    ];
    for batch in batches {
        let (status, body) = edit(&one, "u-ellen", batch).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // A user's own action too: a new Project.
    let request = axum::http::Request::post("/api/projects")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, bearer(&one, "u-ada"))
        .body(Body::from(json!({ "name": "Followed" }).to_string()))
        .unwrap();
    let (status, body, _) = crate::support::send(&one, request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let last = one.version();
    assert!(reaches(&two, last, Duration::from_secs(10)).await, "the follower caught up");
    assert!(
        two.issuer().current().is_edited(),
        "the follower built it from the revision before, by its edits"
    );
    let three = replica(&db.url, Duration::from_secs(60)).await;
    assert_eq!(three.version(), last);
    let whole = three.issuer().current();
    for state in [&one, &two] {
        let revision = state.issuer().current();
        assert!(revision.cutter().to_org() == whole.cutter().to_org(), "the same organisation");
        assert_eq!(revision.versions(), whole.versions(), "the same snapshot versions");
    }
    for user in ["u-ada", "u-cleo", "u-hugo", "u-sam", "u-ellen", "u-zoe"] {
        let tags: Vec<Option<String>> = futures_of(&[&one, &two, &three], user).await;
        assert!(tags.iter().all(|tag| tag.is_some() && *tag == tags[0]), "{user}: {tags:?}");
    }
    one.close();
    two.close();
    three.close();
}

/// The `ETag` each server gives `user`'s snapshot.
async fn futures_of(states: &[&AppState], user: &str) -> Vec<Option<String>> {
    let mut tags = Vec::new();
    for state in states {
        tags.push(get(state, user, "/api/snapshot", None).await.2);
    }
    tags
}
