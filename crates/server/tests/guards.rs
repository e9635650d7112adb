//! What the server refuses before a handler does any work of its own: static paths that decode
//! to a dot-file. Each: the status, and a body that names nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tessera_server::identity::AuthConfig;
use tessera_server::{AppState, Config, router};
use tower::ServiceExt as _;

use crate::support::{Scratch, config};

struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(state: &AppState, request: Request<Body>) -> Reply {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Reply { status, body }
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
