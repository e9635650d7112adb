//! A little HTTP/1.1 for the tasks that talk to a `tessera serve` they started (the load test,
//! the API fuzzing): one request a connection, no dependency.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// An HTTP answer: status, headers (lower-cased names) and body.
pub(crate) type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 request, with a JSON body if `body` is not empty.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Reply> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).context("cannot set a timeout")?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(request, "{name}: {value}\r\n");
    }
    if !body.is_empty() {
        let _ = write!(request, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).context("cannot send")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).context("cannot read the answer")?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").context("no end of headers")?;
    let head = String::from_utf8_lossy(response.get(..split).unwrap_or_default()).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .context("no status")?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Ok((status, headers, response.get(split + 4..).unwrap_or_default().to_vec()))
}

/// Each user and a demo token of theirs (`POST /api/demo/sign-in`).
pub(crate) fn sign_in(addr: &str, users: &[String]) -> Result<Vec<(String, String)>> {
    users
        .iter()
        .map(|user| {
            let body = serde_json::json!({ "user": user }).to_string();
            let (status, _, answer) = http(addr, "POST", "/api/demo/sign-in", &[], &body)?;
            if status != 200 {
                bail!("signing in as {user} answered {status}");
            }
            let answer: Value = serde_json::from_slice(&answer).context("the sign-in answer is not JSON")?;
            let token = answer.get("token").and_then(Value::as_str).context("no token")?;
            Ok((user.clone(), token.to_owned()))
        })
        .collect()
}

pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub(crate) fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers.iter().find(|(n, _)| n == name).map(|(_, value)| value.clone())
}
