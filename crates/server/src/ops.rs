//! The ops listener (`tessera serve --ops-addr HOST:PORT`, off unless given): what operators and
//! their tools read, and nobody else should.
//!
//! - `GET /readyz`: readiness in detail: the revision served, when it was built and how long
//!   that took, its users and how many it renewed, the last build that failed since (its
//!   message may name ids and file paths), and, with a database, whether it can be reached and
//!   since when it cannot (with the driver's error). 200 when ready, 503 when not.
//! - `GET /metrics`: the Prometheus text format (`metrics.rs`).
//! - `GET /healthz`: 200 while the process answers.
//!
//! It has no authentication: bind it to loopback or a private network. With `--auth demo` it
//! answers only loopback `Host`s, as the public listener does. The public listener answers only
//! `{"ready": true|false}` at `/readyz`, and has no `/metrics`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::{AppState, replica};

/// How many connections the ops listener takes at once: a few scrapers and probes.
pub const MAX_CONNECTIONS: u32 = 64;

/// The ops listener's routes, for `state`.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz));
    let routes = if state.identity().is_demo() { routes.layer(crate::host::LoopbackOnly) } else { routes };
    routes.layer(axum::middleware::from_fn(crate::metrics::track)).with_state(state)
}

/// Ready once a revision is built and serving (which `tessera serve` makes sure of before it
/// listens) and, with a database, while it can be reached.
pub(crate) fn ready(state: &AppState) -> bool {
    state.database().is_none_or(|database| database.outage().is_none())
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

/// Ready or not, and why: which revision, the last build that failed since, the database.
async fn readyz(State(state): State<AppState>) -> Response {
    let issuer = state.issuer();
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
        users: revision.policy().counts().users,
        renewed: revision.renewed(),
        last_build_failure: issuer.failure(),
        database,
    };
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    match serde_json::to_vec(&readiness) {
        Ok(bytes) => with_headers((status, bytes).into_response(), "application/json"),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let issuer = state.issuer();
    let text = crate::metrics::render(issuer.cached_bytes().await, issuer.sights_held().await);
    with_headers((StatusCode::OK, text).into_response(), "text/plain; version=0.0.4; charset=utf-8")
}

async fn healthz() -> Response {
    with_headers((StatusCode::OK, "{\"alive\":true}").into_response(), "application/json")
}

fn with_headers(mut response: Response, content_type: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
