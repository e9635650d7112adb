//! What the real `tessera serve` shows, and to whom: the ops listener beside the public one,
//! the demo's answers only to a loopback `Host` (DNS rebinding) and only over a local database,
//! and the keys of a JWKS file read again on `SIGHUP`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::serve::Running;
use crate::support::{DEMO_ORG, Scratch};

/// One request to `address` with this `Host`: the status line and the body.
fn with_host(address: &str, host: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if !body.is_empty() {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn metrics_and_the_detailed_readiness_are_on_the_ops_listener_only() {
    let scratch = Scratch::new("ops");
    scratch.ok(&["keygen", "--out", "k"]);
    let server = Running::start(
        &scratch,
        &["--org", DEMO_ORG, "--key", "k", "--auth", "demo", "--ops-addr", "127.0.0.1:0"],
    );
    let (status, body) = server.get("/readyz");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!({ "ready": true }));
    let (status, _) = server.get("/metrics");
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    let (status, body) = server.get_ops("/readyz");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let ready: Value = serde_json::from_slice(&body).unwrap();
    assert!(ready["revision"].as_u64().unwrap() > 0 && ready["users"].as_u64().unwrap() > 0, "{ready}");
    let (status, body) = server.get_ops("/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let text = String::from_utf8(body).unwrap();
    for metric in ["tessera_connections_open", "tessera_http_requests_total", "tessera_revision "] {
        assert!(text.contains(metric), "no `{metric}` in\n{text}");
    }

    // Without --ops-addr there is none.
    drop(server);
    let server = Running::start(&scratch, &["--org", DEMO_ORG, "--key", "k", "--auth", "demo"]);
    assert!(server.ops.is_none());
}

#[test]
fn the_demo_answers_only_a_loopback_host() {
    let scratch = Scratch::new("rebind");
    scratch.ok(&["keygen", "--out", "k"]);
    let server = Running::start(&scratch, &["--org", DEMO_ORG, "--key", "k", "--auth", "demo"]);
    let sign_in = r#"{"user":"u-ellen"}"#;
    // A page of another site whose name now resolves to 127.0.0.1.
    for host in ["rebind.attacker.example", "rebind.attacker.example:8080"] {
        let (status, body) = with_host(&server.address, host, "POST", "/api/demo/sign-in", sign_in);
        assert_eq!(status, "HTTP/1.1 421 Misdirected Request", "{body}");
        assert!(!body.contains("token"), "{body}");
        let (status, _) = with_host(&server.address, host, "GET", "/api/users", "");
        assert_eq!(status, "HTTP/1.1 421 Misdirected Request");
    }
    let port = server.address.rsplit(':').next().unwrap();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let (status, body) = with_host(&server.address, &host, "POST", "/api/demo/sign-in", sign_in);
        assert_eq!(status, "HTTP/1.1 200 OK", "{host}");
        assert!(body.contains("token"));
    }
}

#[test]
fn the_demo_refuses_a_database_off_this_machine_and_jwt_refuses_keys_over_http() {
    let scratch = Scratch::new("remote");
    scratch.ok(&["keygen", "--out", "k"]);
    let started = Instant::now();
    let run = scratch.tessera(&[
        "serve",
        "--database",
        "postgres://tessera@db.example.com:5432/org",
        "--key",
        "k",
        "--auth",
        "demo",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("a database on this machine only"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(5), "refused before connecting");
    let run = scratch.tessera(&[
        "serve",
        "--org",
        DEMO_ORG,
        "--key",
        "k",
        "--auth",
        "jwt",
        "--jwks",
        "http://id.example.test/jwks.json",
        "--issuer",
        "https://id.example.test",
        "--audience",
        "tessera",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("http:// is for loopback only"), "{}", run.stderr);
}

/// An identity provider's Ed25519 key `seed` as a JWKS of one key `k{seed}`.
fn jwks(seed: u8) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": format!("k{seed}"), "alg": "EdDSA"}]})
        .to_string()
}

/// A token of key `seed` for `user`.
fn token(seed: u8, user: &str) -> String {
    let mut der =
        vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    der.extend_from_slice(&[seed; 32]);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(format!("k{seed}"));
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({"iss": "https://id.example.test", "aud": "tessera", "sub": user, "nbf": now, "exp": now + 600});
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ed_der(&der)).unwrap()
}

#[test]
fn a_jwks_file_is_read_again_on_sighup() {
    let scratch = Scratch::new("hangup");
    scratch.ok(&["keygen", "--out", "k"]);
    scratch.write("jwks.json", jwks(5));
    let server = Running::start(
        &scratch,
        &[
            "--org",
            DEMO_ORG,
            "--key",
            "k",
            "--auth",
            "jwt",
            "--jwks",
            "jwks.json",
            "--issuer",
            "https://id.example.test",
            "--audience",
            "tessera",
        ],
    );
    let snapshot = |seed: u8| server.request("GET", "/api/snapshot", Some(&token(seed, "u-ada")), "").0;
    assert_eq!(snapshot(5), "HTTP/1.1 200 OK");
    assert_eq!(snapshot(6), "HTTP/1.1 401 Unauthorized");
    // The provider rotates: key 6 in, key 5 out. Nothing changes until SIGHUP.
    scratch.write("jwks.json", jwks(6));
    assert_eq!(snapshot(5), "HTTP/1.1 200 OK");
    let status = Command::new("kill").args(["-HUP", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while snapshot(6) != "HTTP/1.1 200 OK" {
        assert!(Instant::now() < deadline, "key 6 not trusted after SIGHUP");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(snapshot(5), "HTTP/1.1 401 Unauthorized", "a removed key stops working");
}
