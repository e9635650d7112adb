//! What the server refuses before a handler does any work of its own: rate limits per caller on
//! the costly routes, requests for another host than loopback to the demo, and static paths
//! that decode to a dot-file. Each: the status, a body that names nothing, nothing applied.

use std::num::NonZeroU32;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tessera_server::identity::AuthConfig;
use tessera_server::{AppState, Config, Quotas, router};
use tower::ServiceExt as _;

use crate::support::{Scratch, bearer, config};

struct Reply {
    status: StatusCode,
    retry_after: Option<u32>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(state: &AppState, request: Request<Body>) -> Reply {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after =
        response.headers().get(header::RETRY_AFTER).map(|value| value.to_str().unwrap().parse().unwrap());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Reply { status, retry_after, body }
}

fn per_second(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

// ---- Rate limits ---------------------------------------------------------------------------------

fn limited() -> AppState {
    let quotas =
        Quotas { search_per_second: per_second(3), admin_per_second: per_second(2), ..Quotas::default() };
    AppState::new(Config { quotas, ..config(AuthConfig::Demo) }).unwrap()
}

fn as_user(
    state: &AppState,
    user: &str,
    request: axum::http::request::Builder,
) -> axum::http::request::Builder {
    request.header(header::AUTHORIZATION, bearer(state, user))
}

/// Sends `make()` until the first 429, at most `n + 1` times: how many passed, and the 429.
async fn until_limited(state: &AppState, n: usize, make: impl Fn() -> Request<Body>) -> (usize, Reply) {
    for passed in 0..=n {
        let reply = send(state, make()).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return (passed, reply);
        }
    }
    panic!("no 429 in {} requests", n + 1);
}

fn assert_rate_limited(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "rate_limited");
    assert!(reply.retry_after.is_some_and(|seconds| seconds >= 1), "{:?}", reply.retry_after);
}

#[tokio::test]
async fn search_is_limited_per_user() {
    let state = limited();
    let search = |user: &'static str| {
        let state = state.clone();
        move || as_user(&state, user, Request::get("/api/search?q=a")).body(Body::empty()).unwrap()
    };
    let (passed, reply) = until_limited(&state, 10, search("u-ada")).await;
    assert_eq!(passed, 3, "a burst of the rate, then 429");
    assert_rate_limited(&reply);
    assert!(reply.json()["error"].get("results").is_none());
    // Another user is not held back by Ada.
    assert_eq!(send(&state, search("u-cleo")()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn edits_previews_and_denials_are_limited_and_nothing_is_applied_past_the_limit() {
    let state = limited();
    let version = state.version();
    let edit = r#"{"edits":[{"edit":"override_on","office":"o-lon","profile":"client","permission":"task.create"}]}"#;
    let post = |uri: &'static str| {
        let state = state.clone();
        move || {
            as_user(&state, "u-cleo", Request::post(uri))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(edit))
                .unwrap()
        }
    };
    // Cleo may not edit: her refusals count too, and once limited she is not even told that.
    let (passed, reply) = until_limited(&state, 10, post("/api/admin/edits")).await;
    assert_eq!(passed, 2);
    assert_rate_limited(&reply);
    assert!(reply.json()["error"].get("decision").is_none(), "{}", reply.text());
    let (passed, reply) = until_limited(&state, 10, post("/api/admin/preview")).await;
    assert_eq!(passed, 2);
    assert_rate_limited(&reply);
    let denials = || {
        as_user(&state, "u-cleo", Request::get("/api/admin/denials?user=u-ada")).body(Body::empty()).unwrap()
    };
    let (passed, reply) = until_limited(&state, 10, denials).await;
    assert_eq!(passed, 2);
    assert_rate_limited(&reply);
    assert!(!reply.text().contains("u-ada"), "{}", reply.text());
    assert_eq!(state.version(), version, "nothing applied");

    // An administrator has buckets of her own: Ellen's edit goes through.
    let ellen = as_user(&state, "u-ellen", Request::post("/api/admin/edits"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(edit))
        .unwrap();
    assert_eq!(send(&state, ellen).await.status, StatusCode::OK);
}

// ---- The demo answers loopback only ------------------------------------------------------------------

#[tokio::test]
async fn the_demo_answers_only_requests_for_a_loopback_host() {
    let state = AppState::new(config(AuthConfig::Demo)).unwrap();
    let sign_in = |host: &str| {
        Request::post("/api/demo/sign-in")
            .header(header::HOST, host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"user":"u-ada"}"#))
            .unwrap()
    };
    for host in [
        "rebind.attacker.example",
        "rebind.attacker.example:8080",
        "10.0.0.7:8080",
        "localhost.",
        "[::2]:80",
        "a b",
    ] {
        let reply = send(&state, sign_in(host)).await;
        assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST, "{host}: {}", reply.text());
        assert_eq!(reply.json()["error"]["code"], "misdirected_request");
        assert!(reply.json().get("token").is_none());
        let users = Request::get("/api/users").header(header::HOST, host).body(Body::empty()).unwrap();
        assert_eq!(send(&state, users).await.status, StatusCode::MISDIRECTED_REQUEST, "{host}");
        let ops = tessera_server::ops::router(state.clone())
            .oneshot(Request::get("/readyz").header(header::HOST, host).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(ops.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    for host in ["localhost", "localhost:8080", "127.0.0.1:41234", "127.0.0.1", "[::1]:8080", "LOCALHOST:1"] {
        let reply = send(&state, sign_in(host)).await;
        assert_eq!(reply.status, StatusCode::OK, "{host}: {}", reply.text());
        assert!(reply.json()["token"].is_string());
    }
    // A server with an identity provider answers any host (it sits behind a proxy's name).
    let scratch = Scratch::new("hosts");
    let path = scratch.path("jwks.json");
    let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    std::fs::write(
        &path,
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k"}]}).to_string(),
    )
    .unwrap();
    let jwt = AppState::new(config(AuthConfig::Jwt {
        jwks: tessera_server::identity::JwksSource::File(path),
        issuer: "https://id.example.test".to_owned(),
        audience: "tessera".to_owned(),
        user_claim: "sub".to_owned(),
        service_scope: None,
        refresh: tessera_server::identity::JwksRefresh::default(),
    }))
    .unwrap();
    let health =
        Request::get("/healthz").header(header::HOST, "tessera.example.com").body(Body::empty()).unwrap();
    assert_eq!(send(&jwt, health).await.status, StatusCode::OK);
}

// ---- Static files, decoded before they are judged ---------------------------------------------------

#[tokio::test]
async fn a_dot_file_is_not_served_however_its_path_is_written() {
    let scratch = Scratch::new("dots");
    let www = scratch.path("www");
    std::fs::create_dir_all(www.join(".well-known")).unwrap();
    std::fs::create_dir_all(www.join("assets")).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>Tessera</title>").unwrap();
    std::fs::write(www.join(".secret"), "not for browsers").unwrap();
    std::fs::write(www.join("assets/.env"), "KEY=not for browsers").unwrap();
    std::fs::write(www.join(".well-known/security.txt"), "Contact: security@tessera.invalid").unwrap();
    std::fs::write(www.join("assets/app.css"), "body { margin: 0 }").unwrap();
    let state = AppState::new(Config { www: Some(www), ..config(AuthConfig::Demo) }).unwrap();
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    for path in [
        "/.secret",
        "/%2Esecret",
        "/%2esecret",
        "/%2E%73ecret",
        "/assets/%2Eenv",
        "/assets%2F.env",
        "/assets%2f%2eenv",
        "/assets%5C.env",
        "/x/%2E%2E/.secret",
        "/%2E%2E/Cargo.toml",
        "/%00.secret",
        "/%FF",
    ] {
        let reply = send(&state, get(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!reply.text().contains("not for browsers"), "{path}");
    }
    let reply = send(&state, get("/.well-known/security.txt")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = send(&state, get("/assets/%61pp.css")).await;
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "body { margin: 0 }"));
}
