//! `tessera serve`, the real binary listening on a port of its own. (The router itself is tested
//! in-process by `tessera-server`'s own tests.)

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tessera_core::{PublicKey, Scope, Snapshot, Timestamp, TrustedKeys, VerifyOptions};

use crate::support::{DEMO_CONTENT, DEMO_ORG, Scratch};

const WEEK: i64 = 7 * 24 * 3600;

// ---- The real binary ------------------------------------------------------------------------------

/// A `tessera serve` process, killed when dropped.
pub struct Running {
    pub child: Child,
    pub address: String,
    /// The ops listener's address, with `--ops-addr`.
    pub ops: Option<String>,
}

impl Running {
    /// Starts `tessera serve ARGS --addr 127.0.0.1:0` and waits for the line with its address.
    pub fn start(scratch: &Scratch, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .current_dir(scratch.path(""))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let mut running = Running { child, address: String::new(), ops: None };
        loop {
            let line = receive.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|e| {
                let mut stderr = String::new();
                if let Some(mut pipe) = running.child.stderr.take() {
                    let _ = running.child.kill();
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!("no address from tessera serve ({e}): {stderr}")
            });
            if let Some(ops) = line.strip_prefix("tessera serve: ops on http://") {
                running.ops = Some(ops.to_owned());
            }
            if let Some(address) = line.strip_prefix("tessera serve: listening on http://") {
                running.address = address.to_owned();
                return running;
            }
        }
    }

    /// One HTTP/1.1 GET; the status line and the body.
    pub fn get(&self, path: &str) -> (String, Vec<u8>) {
        self.request("GET", path, None, "")
    }

    /// One HTTP/1.1 GET of the ops listener; the status line and the body.
    pub fn get_ops(&self, path: &str) -> (String, Vec<u8>) {
        request_to(self.ops.as_deref().expect("started with --ops-addr"), "GET", path, None, "")
    }

    /// One HTTP/1.1 request, with a bearer token and a JSON body if given.
    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (String, Vec<u8>) {
        request_to(&self.address, method, path, token, body)
    }
}

/// One HTTP/1.1 request to `address`, with a bearer token and a JSON body if given.
fn request_to(address: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let status = head.lines().next().unwrap().to_owned();
    (status, response[split + 4..].to_vec())
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn the_binary_serves_on_the_port_it_prints() {
    let scratch = Scratch::new("serve-bin");
    scratch.ok(&["keygen", "--out", "k"]);
    let started = unix_now();
    let server = Running::start(
        &scratch,
        &[
            "--org",
            DEMO_ORG,
            "--key",
            "k",
            "--content",
            DEMO_CONTENT,
            "--auth",
            "demo",
            "--ops-addr",
            "127.0.0.1:0",
        ],
    );
    assert!(!server.address.ends_with(":0"), "{}", server.address);

    let (status, body) = server.request("POST", "/api/demo/sign-in", None, r#"{"user":"u-ada"}"#);
    assert_eq!(status, "HTTP/1.1 200 OK");
    let token = serde_json::from_slice::<Value>(&body).unwrap()["token"].as_str().unwrap().to_owned();
    let (status, body) = server.request("GET", "/api/snapshot", Some(&token), "");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let key = PublicKey::from_text(&scratch.read("k.pub")).unwrap();
    let keys: TrustedKeys = [key].into_iter().collect();
    let now = Timestamp::from_unix(i64::try_from(unix_now()).unwrap());
    let snapshot = Snapshot::verify(&body, &keys, &VerifyOptions::new(now)).unwrap();
    assert_eq!(snapshot.header().scope, Scope::User("u-ada".to_owned()));
    assert!(snapshot.header().version >= started, "a server starts at the Unix time");
    assert_eq!(snapshot.header().expires_at, snapshot.header().issued_at.plus_seconds(WEEK));

    let (status, body) = server.get("/api/snapshot");
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    let (status, _) = server.get("/healthz");
    assert_eq!(status, "HTTP/1.1 200 OK");
    // A file is read-only: edits are for a server over a database.
    let edit = r#"{"edits":[{"edit":"override_on","office":"o-lon","profile":"client","permission":"task.create"}]}"#;
    let (status, _) = server.request("POST", "/api/admin/edits", Some(&token), edit);
    assert_eq!(status, "HTTP/1.1 409 Conflict");
    let (status, body) = server.get_ops("/readyz");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["revision"], snapshot.header().version);
}

/// An identity provider of the test's own: one Ed25519 key, its JWKS, and tokens it signs.
mod provider {
    use base64::Engine as _;
    use serde_json::json;

    pub const ISSUER: &str = "https://id.example.test";
    pub const AUDIENCE: &str = "tessera";

    pub fn jwks() -> String {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA"}]}).to_string()
    }

    pub fn token(user: &str) -> String {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ];
        der.extend_from_slice(&[3; 32]);
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("k1".to_owned());
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": user, "nbf": now, "exp": now + 600});
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ed_der(&der)).unwrap()
    }
}

/// Nobody gets a snapshot but their own, and nobody edits what the evaluator would not let
/// them manage: through the real binary, with tokens of an identity provider.
#[test]
fn the_binary_serves_each_caller_their_own_and_lets_only_administrators_edit() {
    let scratch = Scratch::new("serve-jwt");
    scratch.ok(&["keygen", "--out", "k"]);
    scratch.write("jwks.json", provider::jwks());
    scratch.ok(&["db", "import", DEMO_ORG, "--database", "sqlite:org.db"]);
    let args = [
        "--database",
        "sqlite:org.db",
        "--key",
        "k",
        "--auth",
        "jwt",
        "--jwks",
        "jwks.json",
        "--issuer",
        provider::ISSUER,
        "--audience",
        provider::AUDIENCE,
    ];
    let server = Running::start(&scratch, &args);
    let key = PublicKey::from_text(&scratch.read("k.pub")).unwrap();
    let keys: TrustedKeys = [key].into_iter().collect();
    let now = Timestamp::from_unix(i64::try_from(unix_now()).unwrap());
    for user in ["u-ada", "u-cleo", "u-bob"] {
        let (status, body) = server.request("GET", "/api/snapshot", Some(&provider::token(user)), "");
        assert_eq!(status, "HTTP/1.1 200 OK");
        let snapshot = Snapshot::verify(&body, &keys, &VerifyOptions::new(now)).unwrap();
        assert_eq!(snapshot.header().scope, Scope::User(user.to_owned()));
    }
    let (status, _) = server.request("GET", "/api/snapshot?user=u-cleo", Some(&provider::token("u-ada")), "");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    let (status, _) = server.request("POST", "/api/demo/sign-in", None, r#"{"user":"u-ada"}"#);
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    let edit = r#"{"edits":[{"edit":"override_on","office":"o-lon","profile":"client","permission":"task.create"}]}"#;
    let (status, body) = server.request("POST", "/api/admin/edits", Some(&provider::token("u-cleo")), edit);
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["decision"]["code"],
        "not_network_admin"
    );
    let (status, body) = server.request("POST", "/api/admin/edits", Some(&provider::token("u-ellen")), edit);
    assert_eq!(status, "HTTP/1.1 200 OK", "{}", String::from_utf8_lossy(&body));
    let applied: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(applied["changed"], true);

    // Restarted, the server still has the edit: in its log, and in what it serves.
    drop(server);
    let args = [&args[..], &["--ops-addr", "127.0.0.1:0"]].concat();
    let server = Running::start(&scratch, &args);
    let (status, body) = server.get_ops("/readyz");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["revision"], applied["revision"]);
    let (status, body) =
        server.request("GET", "/api/admin/revisions?after=0", Some(&provider::token("u-ellen")), "");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let log: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(log["revisions"][0]["number"], applied["revision"]);
    assert_eq!(log["revisions"][0]["who"], "u-ellen");
}

#[test]
fn the_binary_refuses_bad_content_and_an_exposed_organisation() {
    let scratch = Scratch::new("serve-refuse");
    scratch.ok(&["keygen", "--out", "k"]);
    scratch.write(
        "content.json",
        r#"{"items": [{"kind": "task", "id": "t-1", "title": "Lost", "project": "p-nowhere"}]}"#,
    );
    let run = scratch.tessera(&[
        "serve",
        "--org",
        DEMO_ORG,
        "--key",
        "k",
        "--content",
        "content.json",
        "--auth",
        "demo",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.error_line(),
        "error: refusing to serve `content.json`: 1 problem in the content: item 0 (`t-1`): unknown project `p-nowhere`"
    );

    std::fs::create_dir_all(scratch.path("www")).unwrap();
    std::fs::copy(DEMO_ORG, scratch.path("www/org.json")).unwrap();
    let run =
        scratch.tessera(&["serve", "--org", "www/org.json", "--key", "k", "--www", "www", "--auth", "demo"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("lies inside it"), "{}", run.stderr);

    let run =
        scratch.tessera(&["serve", "--org", DEMO_ORG, "--key", "k", "--addr", "localhost", "--auth", "demo"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().starts_with("error: invalid value for --addr"), "{}", run.stderr);
    let run =
        scratch.tessera(&["serve", "--org", DEMO_ORG, "--key", "k", "--ttl-hours", "0", "--auth", "demo"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().starts_with("error: invalid value for --ttl-hours"), "{}", run.stderr);
    // The demo signs tokens for anyone: never off loopback. A JWT server needs its three flags.
    let run =
        scratch.tessera(&["serve", "--org", DEMO_ORG, "--key", "k", "--auth", "demo", "--addr", "0.0.0.0:0"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("loopback only"), "{}", run.stderr);
    let run =
        scratch.tessera(&["serve", "--org", DEMO_ORG, "--key", "k", "--auth", "jwt", "--jwks", "j.json"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("--auth jwt needs --issuer, --audience"), "{}", run.stderr);
    let run = scratch.tessera(&["serve", "--org", DEMO_ORG, "--key", "k", "--auth", "demo", "--issuer", "x"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("--snapshot-issuer"), "{}", run.stderr);
    let run = scratch.tessera(&["serve", "--org", DEMO_ORG, "--key", "k", "--auth", "none"]);
    assert_eq!(run.code, 1);
}
