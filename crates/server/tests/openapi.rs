//! The API's description (`GET /api/openapi.json`): OpenAPI 3.1, every operation the server
//! serves and nothing else, each one answering (not the fallback's "no API here"), and every
//! route the README documents described.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tessera_server::identity::AuthConfig;
use tessera_server::{AppState, router};
use tower::ServiceExt as _;

use crate::support::config;

async fn description(state: &AppState) -> Value {
    let response = router(state.clone())
        .oneshot(Request::get("/api/openapi.json").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Every (method, path) of the description.
fn operations(description: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in description["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_is_openapi_3_1_and_every_operation_answers() {
    let state = AppState::new(config(AuthConfig::Demo)).unwrap();
    let description = description(&state).await;
    assert_eq!(description["openapi"], "3.1.0");
    assert!(description["components"]["securitySchemes"]["bearer"].is_object());
    let operations = operations(&description);
    assert!(operations.len() >= 30, "{operations:?}");
    for (method, path) in &operations {
        let operation = &description["paths"][path][method.to_lowercase()];
        for status in ["400", "401", "403", "404", "422", "429", "500"] {
            assert!(operation["responses"][status].is_object(), "{method} {path} lists no {status}");
        }
        // Served: whatever it answers, it is not the fallback's "no API at".
        let uri = path
            .replace("{project}", "p-rebrand")
            .replace("{group}", "g-lon-design")
            .replace("{dm}", "d-ada-cleo");
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let response = router(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("no API at"), "{method} {path} is described but not served: {status} {text}");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
}

/// Every route the README's tables name (`GET /api/…`, `POST /api/…`, …) is described: a route
/// documented for people and missing from the description fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_the_readme_names_is_described() {
    let state = AppState::new(config(AuthConfig::Demo)).unwrap();
    let described = operations(&description(&state).await);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let mut named = BTreeSet::new();
    for line in readme.lines().filter(|line| line.starts_with('|')) {
        for part in line.split('`').skip(1).step_by(2) {
            let mut words = part.split_whitespace();
            let (Some(method), Some(path)) = (words.next(), words.next()) else { continue };
            if !["GET", "POST", "PUT", "DELETE"].contains(&method)
                || !(path.starts_with("/api/") || path.starts_with("/healthz") || path.starts_with("/readyz"))
            {
                continue;
            }
            let path = path.split('?').next().unwrap();
            // The table abbreviates a Project's paths: `…/files` after `POST /api/projects/{p}/tasks`.
            let path = path.replace("{p}", "{project}").replace("{g}", "{group}");
            named.insert((method.to_owned(), path));
        }
    }
    assert!(named.len() >= 15, "{named:?}");
    let missing: Vec<_> = named.difference(&described).collect();
    assert!(missing.is_empty(), "named in the README, not described: {missing:?}");
}
