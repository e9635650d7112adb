//! The database stopped while two replicas serve, and started again. A test binary of its own,
//! since it stops the one PostgreSQL server every other test of the database uses: Cargo runs
//! test binaries one after another.
//!
//! Needs `TESSERA_TEST_DATABASE_URL` and `TESSERA_TEST_POSTGRES_CTL`, a script that takes
//! `stop` or `start` (`cargo xtask test` gives both).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

#[allow(dead_code, reason = "shared with the other test binary, which uses all of it")]
#[path = "support.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use tessera_server::AppState;
use tower::ServiceExt as _;

use support::{Database, demo_org, edit, get, reaches, replica};

fn postgres(action: &str) {
    let ctl = std::env::var("TESSERA_TEST_POSTGRES_CTL").unwrap();
    let status = Command::new("sh").arg(&ctl).arg(action).status().unwrap();
    assert!(status.success(), "{ctl} {action}: {status}");
}

/// `/readyz` of the ops listener's routes: its status and body.
async fn readiness(state: &AppState) -> (StatusCode, serde_json::Value) {
    let request = axum::http::Request::get("/readyz").body(axum::body::Body::empty()).unwrap();
    let response = tessera_server::ops::router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

/// Waits until `/readyz` of `state` answers `status`, in public and to ops, for at most `wait`.
async fn readiness_becomes(state: &AppState, status: StatusCode, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if get(state, "u-cleo", "/readyz", None).await.0 == status && readiness(state).await.0 == status {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_keep_serving_through_an_outage_and_recover_by_themselves() {
    if std::env::var("TESSERA_TEST_POSTGRES_CTL").is_err() {
        println!("note: TESSERA_TEST_POSTGRES_CTL is not set: the outage test is skipped");
        return;
    }
    let Some(db) = Database::postgres("outage").await else { return };
    db.store().await.import(&demo_org(), "test").await.unwrap();
    let resync = Duration::from_secs(1);
    let replicas = [replica(&db.url, resync).await, replica(&db.url, resync).await];
    for state in &replicas {
        assert_eq!(get(state, "u-cleo", "/readyz", None).await.0, StatusCode::OK);
    }
    let served = replicas[0].version();

    postgres("stop");
    for state in &replicas {
        assert!(readiness_becomes(state, StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(20)).await);
        let (_, body, _) = get(state, "u-cleo", "/readyz", None).await;
        assert_eq!(body, json!({ "ready": false }), "the public readiness names nothing");
        let (_, body) = readiness(state).await;
        assert_eq!(body["database"]["reachable"], false, "{body}");
        assert_eq!(body["revision"], served);
        // Snapshots keep flowing, from the revision built last.
        let (status, _, _) = get(state, "u-ada", "/api/snapshot", None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = edit(state, "u-ellen", london_clients_create_tasks()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "database_unavailable");
    }

    postgres("start");
    for state in &replicas {
        assert!(readiness_becomes(state, StatusCode::OK, Duration::from_secs(20)).await, "recovered");
    }
    let (status, body) = edit(&replicas[0], "u-ellen", london_clients_create_tasks()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revision = body["revision"].as_u64().unwrap();
    assert!(reaches(&replicas[1], revision, Duration::from_secs(5)).await, "the other replica hears of it");
    for state in &replicas {
        state.close();
    }
    db.drop().await;
}

fn london_clients_create_tasks() -> serde_json::Value {
    json!([{ "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create" }])
}
