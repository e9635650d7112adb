//! `GET /api/events`: the caller hears of their own snapshot's changes, and only of those.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt as _;
use serde_json::Value;
use tessera_server::identity::AuthConfig;
use tessera_server::{AppState, router};
use tower::ServiceExt as _;

use crate::support::config;

fn state() -> AppState {
    AppState::new(config(AuthConfig::Demo)).unwrap()
}

fn bearer(state: &AppState, user: &str) -> String {
    format!("Bearer {}", state.identity().demo_token(user).unwrap().0)
}

/// An open event stream: its events as (name, data).
pub struct Events {
    body: axum::body::BodyDataStream,
    buffer: String,
}

impl Events {
    pub async fn open(state: &AppState, request: Request<Body>) -> Result<Events, (StatusCode, Value)> {
        let response = router(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        if status != StatusCode::OK {
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            return Err((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
        }
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
        Ok(Events { body: response.into_body().into_data_stream(), buffer: String::new() })
    }

    /// The next event within `wait`, skipping keep-alive comments.
    pub async fn next(&mut self, wait: Duration) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event: ") {
                        name = value.to_owned();
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data = value.to_owned();
                    }
                }
                if !name.is_empty() {
                    return Some((name, data));
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next()).await.ok()??.ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn edit(state: &AppState, as_user: &str, edit: &str) -> StatusCode {
    let request = Request::post("/api/admin/edits")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, bearer(state, as_user))
        .body(Body::from(format!(r#"{{"edits":[{edit}]}}"#)))
        .unwrap();
    router(state.clone()).oneshot(request).await.unwrap().status()
}

fn with_bearer(state: &AppState, user: &str) -> Request<Body> {
    Request::get("/api/events")
        .header(header::AUTHORIZATION, bearer(state, user))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reaches_the_streams_of_those_it_changes_and_no_other() {
    let state = state();
    let mut cleo = Events::open(&state, with_bearer(&state, "u-cleo")).await.unwrap();
    let mut ada = Events::open(&state, with_bearer(&state, "u-ada")).await.unwrap();
    let first = state.version();
    for stream in [&mut cleo, &mut ada] {
        let (name, data) = stream.next(Duration::from_secs(5)).await.unwrap();
        assert_eq!(name, "snapshot");
        assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["version"], first);
    }
    // London's clients may create tasks: Cleo's decisions change, Ada's do not.
    let on = r#"{"edit":"override_on","office":"o-lon","profile":"client","permission":"task.create"}"#;
    assert_eq!(edit(&state, "u-ellen", on).await, StatusCode::OK);
    let (name, data) = cleo.next(Duration::from_secs(1)).await.expect("within a second");
    assert_eq!(name, "snapshot");
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["version"], state.version());
    assert!(ada.next(Duration::from_millis(300)).await.is_none(), "Ada's snapshot did not change");

    // Cleo deactivated: her stream says so and ends.
    let off = r#"{"edit":"deactivate_user","user":"u-cleo"}"#;
    assert_eq!(edit(&state, "u-ellen", off).await, StatusCode::OK);
    assert_eq!(cleo.next(Duration::from_secs(1)).await.unwrap().0, "revoked");
    assert!(cleo.next(Duration::from_millis(200)).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_source_comes_with_a_single_use_ticket() {
    let state = state();
    // No token, no stream.
    let anonymous = Request::get("/api/events").body(Body::empty()).unwrap();
    let (status, body) = Events::open(&state, anonymous).await.err().unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    // A ticket, for a browser's EventSource: it works once.
    let request = Request::post("/api/events/ticket")
        .header(header::AUTHORIZATION, bearer(&state, "u-ada"))
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap())
            .unwrap();
    let ticket = body["ticket"].as_str().unwrap().to_owned();
    let uri = format!("/api/events?ticket={ticket}");
    let mut events = Events::open(&state, Request::get(&uri).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(events.next(Duration::from_secs(5)).await.unwrap().0, "snapshot");
    let (status, body) =
        Events::open(&state, Request::get(&uri).body(Body::empty()).unwrap()).await.err().unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_ticket");
    let forged = Request::get("/api/events?ticket=00ff").body(Body::empty()).unwrap();
    assert_eq!(Events::open(&state, forged).await.err().unwrap().0, StatusCode::UNAUTHORIZED);
}

// ---- Caps and tickets' time ---------------------------------------------------------------------

/// A server whose users may hold `streams` streams and `tickets` tickets, on a clock the test
/// moves (it starts at `T0`).
fn capped(streams: u32, tickets: u32) -> (AppState, std::sync::Arc<std::sync::atomic::AtomicI64>) {
    use std::sync::atomic::{AtomicI64, Ordering};
    let clock = std::sync::Arc::new(AtomicI64::new(crate::support::T0));
    let reading = std::sync::Arc::clone(&clock);
    let quotas = tessera_server::Quotas {
        streams_per_user: streams,
        tickets_per_user: tickets,
        ..tessera_server::Quotas::default()
    };
    let state = AppState::new(tessera_server::Config {
        clock: tessera_server::Clock::from_fn(move || {
            tessera_core::Timestamp::from_unix(reading.load(Ordering::SeqCst))
        }),
        quotas,
        ..config(AuthConfig::Demo)
    })
    .unwrap();
    (state, clock)
}

/// `POST /api/events/ticket` as `user`: the status, the `Retry-After` and the body.
async fn ticket(state: &AppState, user: &str) -> (StatusCode, Option<String>, Value) {
    let request = Request::post("/api/events/ticket")
        .header(header::AUTHORIZATION, bearer(state, user))
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let retry = response.headers().get(header::RETRY_AFTER).map(|value| value.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, retry, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn with_ticket(ticket: &Value) -> Request<Body> {
    Request::get(format!("/api/events?ticket={}", ticket["ticket"].as_str().unwrap()))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_holds_at_most_so_many_streams_and_others_are_not_held_back() {
    let (state, _) = capped(2, 16);
    let first = Events::open(&state, with_bearer(&state, "u-ada")).await.unwrap();
    let _second = Events::open(&state, with_bearer(&state, "u-ada")).await.unwrap();
    let request = with_bearer(&state, "u-ada");
    let response = router(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers()[header::RETRY_AFTER].to_str().unwrap().parse::<u32>().unwrap() >= 1);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams");
    // Another user still may; a stream closed frees its place.
    let _cleo = Events::open(&state, with_bearer(&state, "u-cleo")).await.unwrap();
    drop(first);
    let mut third = Events::open(&state, with_bearer(&state, "u-ada")).await.unwrap();
    assert_eq!(third.next(Duration::from_secs(5)).await.unwrap().0, "snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_one_users_tickets_is_refused_and_pushes_out_no_one_elses() {
    let (state, _) = capped(16, 3);
    let (status, _, cleos) = ticket(&state, "u-cleo").await;
    assert_eq!(status, StatusCode::OK);
    let mut granted = Vec::new();
    for _ in 0..200 {
        let (status, retry, body) = ticket(&state, "u-ada").await;
        match status {
            StatusCode::OK => granted.push(body),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(body["error"]["code"], "too_many_tickets");
                let retry: u32 = retry.unwrap().parse().unwrap();
                assert!((1..=31).contains(&retry), "{retry}");
                assert!(body.get("ticket").is_none() && !body.to_string().contains("u-cleo"));
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(granted.len(), 3);
    // Cleo's ticket is still there, and spending one of Ada's gives her room for another.
    let mut events = Events::open(&state, with_ticket(&cleos)).await.unwrap();
    assert_eq!(events.next(Duration::from_secs(5)).await.unwrap().0, "snapshot");
    let _ada = Events::open(&state, with_ticket(&granted[0])).await.unwrap();
    assert_eq!(ticket(&state, "u-ada").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_is_worth_nothing_after_its_30_seconds() {
    use std::sync::atomic::Ordering;
    let (state, clock) = capped(16, 16);
    let (_, _, late) = ticket(&state, "u-ada").await;
    let (_, _, in_time) = ticket(&state, "u-ada").await;
    clock.fetch_add(30, Ordering::SeqCst);
    let _ = Events::open(&state, with_ticket(&in_time)).await.unwrap();
    clock.fetch_add(1, Ordering::SeqCst);
    let (status, body) = Events::open(&state, with_ticket(&late)).await.err().unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_ticket");
    // Expired tickets count no more against their user.
    for _ in 0..16 {
        assert_eq!(ticket(&state, "u-ada").await.0, StatusCode::OK);
    }
}

/// Content makes no revision: a stream tells its caller of a task written in a Project they may
/// see (`event: content`), and nothing of one in a Project they may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_is_told_to_those_who_may_see_it_and_to_nobody_else() {
    let state = state();
    let mut ada = Events::open(&state, with_bearer(&state, "u-ada")).await.unwrap();
    let mut zoe = Events::open(&state, with_bearer(&state, "u-zoe")).await.unwrap();
    assert_eq!(ada.next(Duration::from_secs(2)).await.unwrap().0, "snapshot");
    assert_eq!(zoe.next(Duration::from_secs(2)).await.unwrap().0, "snapshot");
    let version = state.version();
    let request = Request::post("/api/projects/p-rebrand/tasks")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, bearer(&state, "u-ada"))
        .body(Body::from(r#"{"title":"Heard of"}"#))
        .unwrap();
    assert_eq!(router(state.clone()).oneshot(request).await.unwrap().status(), StatusCode::CREATED);
    let (name, data) = ada.next(Duration::from_secs(2)).await.unwrap();
    assert_eq!((name.as_str(), data.as_str()), ("content", r#"{"project":"p-rebrand"}"#));
    assert!(zoe.next(Duration::from_millis(300)).await.is_none(), "Zoe may not see Rebrand");
    assert_eq!(state.version(), version, "content makes no revision");
}
