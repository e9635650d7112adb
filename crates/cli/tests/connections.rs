//! Hostile connections to the real `tessera serve`: a header sent a byte a second, a socket that
//! says nothing, one user's 2,000 event streams, more connections than the cap, and a shutdown
//! with requests in flight. Each with short timeouts given as flags, so that no test waits more
//! than a few seconds.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve::Running;
use crate::support::{DEMO_ORG, Scratch};

/// A demo server with these flags more.
fn demo(scratch: &Scratch, more: &[&str]) -> Running {
    scratch.ok(&["keygen", "--out", "k"]);
    let args = [&["--org", DEMO_ORG, "--key", "k", "--auth", "demo"], more].concat();
    Running::start(scratch, &args)
}

/// A demo token for `user`.
fn sign_in(server: &Running, user: &str) -> String {
    let (status, body) =
        server.request("POST", "/api/demo/sign-in", None, &format!(r#"{{"user":"{user}"}}"#));
    assert_eq!(status, "HTTP/1.1 200 OK");
    serde_json::from_slice::<Value>(&body).unwrap()["token"].as_str().unwrap().to_owned()
}

/// Reads until the server closes the connection or `within` passes: when it closed (from
/// `since`), if it did, and what it sent.
fn closed_within(stream: &mut TcpStream, since: Instant, within: Duration) -> (Option<Duration>, Vec<u8>) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while since.elapsed() < within {
        stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => return (Some(since.elapsed()), seen),
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
            // A signal to the test process (EINTR) is not the server closing.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return (Some(since.elapsed()), seen),
        }
    }
    (None, seen)
}

/// One GET of `/healthz` on a connection of its own: how long the answer took.
fn health(address: &str) -> Duration {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&answer));
    started.elapsed()
}

#[test]
fn a_header_sent_a_byte_a_second_is_cut_off_at_the_header_timeout() {
    let scratch = Scratch::new("slowloris");
    let server = demo(&scratch, &["--header-timeout-secs", "2", "--idle-timeout-secs", "30"]);
    // From before the connection exists: the server's clock starts after it.
    let started = Instant::now();
    let mut stream = TcpStream::connect(&server.address).unwrap();
    let header =
        format!("GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Slow: {}\r\n\r\n", server.address, "a".repeat(20));
    let mut closed = None;
    for byte in header.as_bytes() {
        if stream.write_all(&[*byte]).is_err() {
            closed = Some(started.elapsed());
            break;
        }
        let (at, seen) = closed_within(&mut stream, Instant::now(), Duration::from_secs(1));
        assert!(!seen.starts_with(b"HTTP/1.1 200"), "answered a header that never ended");
        if at.is_some() {
            closed = Some(started.elapsed());
            break;
        }
    }
    let closed = closed.expect("still open after the whole header was dripped");
    assert!(closed >= Duration::from_millis(1900) && closed < Duration::from_secs(5), "{closed:?}");
    // The server answers others as ever.
    health(&server.address);
}

#[test]
fn a_silent_connection_is_closed_after_the_idle_timeout_and_a_stream_is_not() {
    let scratch = Scratch::new("silent");
    let server = demo(&scratch, &["--header-timeout-secs", "30", "--idle-timeout-secs", "1"]);
    // A socket that says nothing.
    let started = Instant::now();
    let mut silent = TcpStream::connect(&server.address).unwrap();
    let (closed, seen) = closed_within(&mut silent, started, Duration::from_secs(5));
    let closed = closed.expect("a silent socket is closed");
    assert!(closed >= Duration::from_millis(900) && closed < Duration::from_secs(4), "{closed:?}");
    assert!(seen.is_empty());

    // A keep-alive connection that says nothing after its answer.
    let mut kept = TcpStream::connect(&server.address).unwrap();
    write!(kept, "GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.address).unwrap();
    let answered = Instant::now();
    let (closed, seen) = closed_within(&mut kept, answered, Duration::from_secs(5));
    assert!(seen.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&seen));
    assert!(closed.expect("an idle keep-alive connection is closed") < Duration::from_secs(4));

    // An event stream with nothing to say is not idle: it is answering.
    let token = sign_in(&server, "u-ada");
    let mut stream = TcpStream::connect(&server.address).unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
        server.address
    )
    .unwrap();
    let (closed, seen) = closed_within(&mut stream, Instant::now(), Duration::from_secs(3));
    assert!(closed.is_none(), "the stream was closed after {closed:?}");
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.starts_with("HTTP/1.1 200 OK") && seen.contains("event: snapshot"), "{seen}");
}

#[test]
fn one_users_streams_past_the_cap_are_refused_and_health_answers_meanwhile() {
    const STREAMS: usize = 2000;
    let scratch = Scratch::new("streams");
    let server = demo(&scratch, &[]);
    let token = sign_in(&server, "u-ada");
    let address = server.address.clone();
    let probing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let probe = {
        let (address, probing) = (address.clone(), std::sync::Arc::clone(&probing));
        std::thread::spawn(move || {
            let mut times = Vec::new();
            while probing.load(std::sync::atomic::Ordering::Relaxed) {
                times.push(health(&address));
                std::thread::sleep(Duration::from_millis(5));
            }
            times
        })
    };
    let request =
        format!("GET /api/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n");
    // A flood at some 2,000 a second: a hundred at a time.
    let mut streams: Vec<TcpStream> = (0..STREAMS)
        .map(|n| {
            if n % 100 == 99 {
                std::thread::sleep(Duration::from_millis(50));
            }
            let mut stream = TcpStream::connect(&address).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            stream
        })
        .collect();
    let (mut open, mut refused, mut a_refused) = (0, 0, 0);
    for (index, stream) in streams.iter_mut().enumerate() {
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => panic!("closed before an answer: {other:?}"),
            }
        }
        let head = String::from_utf8(head).unwrap();
        if head.starts_with("HTTP/1.1 200 OK") {
            open += 1;
        } else {
            assert!(head.starts_with("HTTP/1.1 429 Too Many Requests"), "{head}");
            assert!(head.to_ascii_lowercase().contains("retry-after: "), "{head}");
            refused += 1;
            a_refused = index;
        }
    }
    probing.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut times = probe.join().unwrap();
    assert_eq!((open, refused), (16, STREAMS - 16));
    times.sort();
    let (median, p95, slowest) =
        (times[times.len() / 2], times[times.len() * 95 / 100], *times.last().unwrap());
    println!(
        "/healthz answered {} times meanwhile: median {median:?}, p95 {p95:?}, slowest {slowest:?}",
        times.len()
    );
    assert!(times.len() >= 20, "{times:?}");
    // Every probe was answered, and in under 100 ms: the 95th percentile, since this binary's
    // other tests and other builds share the machine's two cores (a probe descheduled behind
    // them is not the server's doing; alone, the slowest is some 30 ms).
    assert!(p95 < Duration::from_millis(100), "{times:?}");
    // The 16 streams are alive, and a refused connection is still answered on (keep-alive).
    let refused = &mut streams[a_refused];
    refused.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut rest = [0u8; 4096];
    let _ = refused.read(&mut rest);
    write!(refused, "GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
    let (_, seen) = closed_within(refused, Instant::now(), Duration::from_secs(2));
    assert!(String::from_utf8_lossy(&seen).contains("HTTP/1.1 200 OK"));
}

#[test]
fn past_the_connection_cap_a_new_connection_waits_for_one_to_close() {
    let scratch = Scratch::new("cap");
    let server = demo(
        &scratch,
        &["--max-connections", "4", "--header-timeout-secs", "30", "--idle-timeout-secs", "30"],
    );
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&server.address).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    // The fifth is taken by the kernel's backlog, but not answered.
    let mut fifth = TcpStream::connect(&server.address).unwrap();
    write!(fifth, "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.address).unwrap();
    let (_, seen) = closed_within(&mut fifth, Instant::now(), Duration::from_secs(1));
    assert!(seen.is_empty(), "answered past the cap: {}", String::from_utf8_lossy(&seen));
    // One closes: the fifth is answered.
    drop(held);
    let (_, seen) = closed_within(&mut fifth, Instant::now(), Duration::from_secs(5));
    assert!(seen.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&seen));
}

#[test]
fn a_shutdown_finishes_the_requests_in_flight_and_ends_the_streams() {
    let scratch = Scratch::new("shutdown");
    let mut server = demo(&scratch, &[]);
    let token = sign_in(&server, "u-ada");
    let mut stream = TcpStream::connect(&server.address).unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
        server.address
    )
    .unwrap();
    let (_, seen) = closed_within(&mut stream, Instant::now(), Duration::from_millis(500));
    assert!(String::from_utf8_lossy(&seen).contains("event: snapshot"));
    // A request in flight: its header sent, half its body.
    let body = r#"{"user":"u-cleo"}"#;
    let mut in_flight = TcpStream::connect(&server.address).unwrap();
    write!(
        in_flight,
        "POST /api/demo/sign-in HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        server.address,
        body.len(),
        &body[..8]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let status = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let (ended, _) = closed_within(&mut stream, Instant::now(), Duration::from_secs(5));
    assert!(ended.is_some(), "the stream ended");
    // The request in flight is answered in full.
    in_flight.write_all(&body.as_bytes()[8..]).unwrap();
    let (_, seen) = closed_within(&mut in_flight, Instant::now(), Duration::from_secs(5));
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.starts_with("HTTP/1.1 200 OK") && seen.contains("\"token\""), "{seen}");
    // And the process ends by itself, with success.
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "still running after its connections ended");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}
