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
struct Running {
    child: Child,
    address: String,
}

impl Running {
    /// Starts `tessera serve ARGS --addr 127.0.0.1:0` and waits for the line with its address.
    fn start(scratch: &Scratch, args: &[&str]) -> Running {
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
        let mut running = Running { child, address: String::new() };
        loop {
            let line = receive.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|e| {
                let mut stderr = String::new();
                if let Some(mut pipe) = running.child.stderr.take() {
                    let _ = running.child.kill();
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!("no address from tessera serve ({e}): {stderr}")
            });
            if let Some(address) = line.strip_prefix("tessera serve: listening on http://") {
                running.address = address.to_owned();
                return running;
            }
        }
    }

    /// One HTTP/1.1 GET; the status line and the body.
    fn get(&self, path: &str) -> (String, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.address).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(response[..split].to_vec()).unwrap();
        let status = head.lines().next().unwrap().to_owned();
        (status, response[split + 4..].to_vec())
    }
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
    let server = Running::start(&scratch, &["--org", DEMO_ORG, "--key", "k", "--content", DEMO_CONTENT]);
    assert!(!server.address.ends_with(":0"), "{}", server.address);

    let (status, body) = server.get("/api/snapshot?user=u-ada");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let key = PublicKey::from_text(&scratch.read("k.pub")).unwrap();
    let keys: TrustedKeys = [key].into_iter().collect();
    let now = Timestamp::from_unix(i64::try_from(unix_now()).unwrap());
    let snapshot = Snapshot::verify(&body, &keys, &VerifyOptions::new(now)).unwrap();
    assert_eq!(snapshot.header().scope, Scope::User("u-ada".to_owned()));
    assert!(snapshot.header().version >= started, "a server starts at the Unix time");
    assert_eq!(snapshot.header().expires_at, snapshot.header().issued_at.plus_seconds(WEEK));

    let (status, body) = server.get("/api/snapshot?user=u-nobody");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "unknown_user");
}

#[test]
fn the_binary_refuses_bad_content_and_an_exposed_organisation() {
    let scratch = Scratch::new("serve-refuse");
    scratch.ok(&["keygen", "--out", "k"]);
    scratch.write(
        "content.json",
        r#"{"items": [{"kind": "task", "id": "t-1", "title": "Lost", "project": "p-nowhere"}]}"#,
    );
    let run = scratch.tessera(&["serve", "--org", DEMO_ORG, "--key", "k", "--content", "content.json"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.error_line(),
        "error: refusing to serve `content.json`: 1 problem in the content: item 0 (`t-1`): unknown project `p-nowhere`"
    );

    std::fs::create_dir_all(scratch.path("www")).unwrap();
    std::fs::copy(DEMO_ORG, scratch.path("www/org.json")).unwrap();
    let run = scratch.tessera(&["serve", "--org", "www/org.json", "--key", "k", "--www", "www"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("lies inside it"), "{}", run.stderr);

    let run = scratch.tessera(&["serve", "--org", DEMO_ORG, "--key", "k", "--addr", "localhost"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().starts_with("error: invalid value for --addr"), "{}", run.stderr);
    let run = scratch.tessera(&["serve", "--org", DEMO_ORG, "--key", "k", "--ttl-hours", "0"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().starts_with("error: invalid value for --ttl-hours"), "{}", run.stderr);
}
