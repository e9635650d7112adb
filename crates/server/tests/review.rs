//! The findings of an independent review of the server, each caused as a hostile caller would
//! cause it (H: what a caller learns of what they may not see; M: work for nothing; L: keys
//! kept and written). All in process, on the demo organisation, in memory unless the finding is
//! about a database.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{StatusCode, header};
use serde_json::json;
use tessera_server::identity::AuthConfig;
use tessera_server::{AppState, Config, Quotas, parse_content};

use crate::support::{
    DEMO_CONTENT, Database, call, config, demo_org, get_as as get, post_as as post, replica, unlimited,
};

/// The demo organisation and content, in memory (writable), with `quotas`.
fn server_with(quotas: Quotas) -> AppState {
    let content = parse_content(&std::fs::read(DEMO_CONTENT).unwrap()).unwrap();
    AppState::new(Config { content, quotas, ..config(AuthConfig::Demo) }).unwrap()
}

fn server() -> AppState {
    server_with(unlimited())
}

fn per_second(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// H1: a user's own actions are made only through their routes, which pick the id: on the
/// administrators' routes they are refused alike whether the id chosen is taken (behind the
/// firewall or not) or free, and nothing is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_actions_on_the_admin_routes_are_refused_whatever_id_they_name() {
    let state = server();
    let revision = state.version();
    let pairs = [
        ("create_project", "project", "p-syd-tender", json!({ "name": "X", "creator": "u-ada" })),
        ("create_group", "group", "g-apac-ops", json!({ "owner": "u-ada", "members": [] })),
        ("start_dm", "dm", "d-siti-wei", json!({ "from": "u-ada", "with": "u-cleo" })),
    ];
    for uri in ["/api/admin/edits", "/api/admin/preview"] {
        for (kind, field, taken, rest) in &pairs {
            let edit = |id: &str| {
                let mut edit = rest.clone();
                edit["edit"] = json!(kind);
                edit[*field] = json!(id);
                json!({ "edits": [edit] })
            };
            for user in ["u-ada", "u-ellen"] {
                let on_taken = post(&state, user, uri, edit(taken)).await;
                let on_free = post(&state, user, uri, edit("x-free-123")).await;
                assert_eq!(
                    (on_taken.status, on_taken.code()),
                    (StatusCode::FORBIDDEN, "forbidden"),
                    "{uri} {kind}: {}",
                    on_taken.body
                );
                assert_eq!(on_taken.body["error"]["decision"]["code"], "out_of_scope");
                assert_eq!(
                    on_taken.body["error"]["decision"], on_free.body["error"]["decision"],
                    "{uri} {kind}"
                );
                assert!(!on_taken.body.to_string().contains(taken), "{}", on_taken.body);
            }
        }
    }
    assert_eq!(state.version(), revision, "nothing applied");
    state.close();
}

/// H1: a new Agreement's id is the server's: one taken behind the firewall is not renamed
/// `-2` (which would say it exists), nor is the id sent kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_agreement_gets_an_id_of_the_servers_choosing() {
    let state = server();
    for sent in ["a-sin-sao", "a-fresh"] {
        let before = state.issuer().current().policy().counts().agreements;
        let share = json!({ "edits": [{ "edit": "share_with_office", "agreement": sent, "user": "u-bob",
            "guest_office": "o-nyc", "host_office": "o-lon", "profile": "client" }] });
        let made = post(&state, "u-ellen", "/api/admin/edits", share).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        assert_eq!(made.body["changed"], true);
        let current = state.issuer().current();
        let policy = current.policy();
        assert_eq!(policy.counts().agreements, before + 1);
        assert!(!policy.knows_id(&format!("{sent}-2")), "renamed from {sent}");
        if sent == "a-fresh" {
            assert!(!policy.knows_id(sent), "the id sent is not kept");
        }
    }
    state.close();
}

/// H2: `/api/check` fills in the Project of an item only when the caller may view it: an item
/// behind the firewall answers exactly as an id the server does not hold, naming no Project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_no_project_of_an_item_behind_the_firewall() {
    let state = server();
    let checks = json!({ "checks": [
        { "view": "task", "id": "t-syd-harbour-1" },
        { "view": "task", "id": "t-syd-harbour-9" },
        { "view": "task", "id": "t-lon-website-1" },
    ] });
    let answer = post(&state, "u-cleo", "/api/check", checks).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let decisions = answer.body["decisions"].as_array().unwrap();
    let hidden = decisions[0].to_string().replace("t-syd-harbour-1", "ID");
    let unknown = decisions[1].to_string().replace("t-syd-harbour-9", "ID");
    assert_eq!(hidden, unknown);
    assert!(!answer.body.to_string().contains("p-syd"), "{}", answer.body);
    // One she may see is still given its Project.
    assert_ne!(decisions[2]["code"], decisions[1]["code"], "{}", answer.body);
    state.close();
}

/// H3: a batch that would break the organisation names no conversation (nor its participants)
/// that the caller's own snapshot does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_batch_names_no_conversation_of_others() {
    let state = server();
    let started = post(&state, "u-ada", "/api/dms", json!({ "with": "u-bob" })).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let dm = started.body["id"].as_str().unwrap().to_owned();
    let revision = state.version();
    for uri in ["/api/admin/preview", "/api/admin/edits"] {
        let end = json!({ "edits": [{ "edit": "end_agreement", "agreement": "a-lon-nyc" }] });
        let refused = post(&state, "u-ellen", uri, end).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_org"),
            "{}",
            refused.body
        );
        let text = refused.body.to_string();
        assert!(!text.contains(&dm) && !text.contains("u-ada"), "{uri}: {text}");
        assert!(!refused.body["error"]["problems"].as_array().unwrap().is_empty());
    }
    assert_eq!(state.version(), revision);
    state.close();
}

/// M1: the app's actions count against a bucket of their own per user: 429 with
/// `Retry-After` past it, and nothing written; another user is not held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_are_rate_limited_per_user() {
    let state = server_with(Quotas { action_per_second: per_second(2), ..unlimited() });
    let task = || json!({ "title": "A task" });
    let uri = "/api/projects/p-lon-website/tasks";
    for _ in 0..2 {
        assert_eq!(post(&state, "u-ada", uri, task()).await.status, StatusCode::CREATED);
    }
    let seq = state.content().seq();
    let limited = post(&state, "u-ada", uri, task()).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(limited.headers.get(header::RETRY_AFTER).is_some());
    let project = post(&state, "u-ada", "/api/projects", json!({ "name": "More" })).await;
    assert_eq!(project.status, StatusCode::TOO_MANY_REQUESTS, "one bucket for every action");
    assert_eq!(state.content().seq(), seq, "nothing written");
    assert_ne!(post(&state, "u-cleo", uri, task()).await.status, StatusCode::TOO_MANY_REQUESTS);
    state.close();
}

/// M2: a caller who may not make a batch is refused without waiting on the global change lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_without_rights_never_waits_on_the_change_lock() {
    let state = server();
    let held = state.issuer().lock_changes().await;
    let batch = json!({ "edits": [{ "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create" }] });
    let refused =
        tokio::time::timeout(Duration::from_secs(5), post(&state, "u-cleo", "/api/admin/edits", batch))
            .await
            .expect("answered while the lock is held");
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "forbidden"));
    drop(held);
    state.close();
}

/// M4: the log of revisions is under the administrators' rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_of_revisions_is_rate_limited() {
    let state = server_with(Quotas { admin_per_second: per_second(2), ..unlimited() });
    for _ in 0..2 {
        assert_ne!(get(&state, "u-cleo", "/api/admin/revisions").await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let limited = get(&state, "u-cleo", "/api/admin/revisions").await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    state.close();
}

/// M5: a listing answers the newest `limit` entries (200 unless given, at most 1,000), in the
/// order written, and says when it left some out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_are_bounded_and_say_so() {
    let state = server();
    let dm = post(&state, "u-ada", "/api/dms", json!({ "with": "u-cleo" })).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for text in ["one", "two", "three"] {
        let sent = post(&state, "u-ada", &format!("/api/dms/{dm}/messages"), json!({ "text": text })).await;
        assert_eq!(sent.status, StatusCode::CREATED);
    }
    let two = get(&state, "u-cleo", &format!("/api/dms/{dm}/messages?limit=2")).await;
    let texts: Vec<&str> =
        two.body["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["two", "three"]);
    assert_eq!(two.body["truncated"], true);
    let all = get(&state, "u-cleo", &format!("/api/dms/{dm}/messages")).await;
    assert_eq!(all.body["messages"].as_array().unwrap().len(), 3);
    assert_eq!(all.body["truncated"], false);
    let items = get(&state, "u-ada", "/api/projects/p-lon-website/items?limit=1").await;
    assert_eq!(items.body["items"].as_array().unwrap().len(), 1, "{}", items.body);
    assert_eq!(items.body["truncated"], true);
    for uri in [
        "/api/groups",
        "/api/announcements",
        "/api/projects/p-lon-website/tasks",
        "/api/projects/p-lon-website/files",
    ] {
        let listed = get(&state, "u-ada", uri).await;
        assert_eq!(listed.status, StatusCode::OK, "{uri}");
        assert!(listed.body["truncated"].is_boolean(), "{uri}: {}", listed.body);
    }
    let bad = get(&state, "u-ada", "/api/groups?limit=many").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    state.close();
}

/// L1: a replayed `Idempotency-Key` on `POST /api/groups` answers the group made the first
/// time and writes nothing (no name for a group that does not exist).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_new_group_writes_no_name() {
    let state = server();
    let body = json!({ "name": "Reviewers", "members": ["u-cleo"] });
    let first = call(&state, "POST", "u-ada", "/api/groups", Some(body.clone()), Some("k-group")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let id = first.body["id"].as_str().unwrap().to_owned();
    assert_eq!(state.content().group_name(&id).as_deref(), Some("Reviewers"));
    let seq = state.content().seq();
    let again = call(&state, "POST", "u-ada", "/api/groups", Some(body), Some("k-group")).await;
    assert_eq!((again.status, &again.body), (StatusCode::CREATED, &first.body));
    assert_eq!(state.content().seq(), seq, "nothing written on replay");
    state.close();
}

/// L2: over a database, a batch that changes nothing keeps its key all the same: the key sent
/// again with another batch is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_changes_nothing_keeps_its_key() {
    let db = Database::sqlite("review-key");
    db.store().await.import(&demo_org(), "test").await.unwrap();
    let state = replica(&db.url, Duration::from_secs(60)).await;
    let on = json!({ "edits": [{ "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create" }] });
    let off = json!({ "edits": [{ "edit": "override_off", "office": "o-lon", "profile": "client", "permission": "task.create" }] });
    let made = call(&state, "POST", "u-ellen", "/api/admin/edits", Some(on.clone()), Some("k-1")).await;
    assert_eq!((made.status, &made.body["changed"]), (StatusCode::OK, &json!(true)));
    let same = call(&state, "POST", "u-ellen", "/api/admin/edits", Some(on.clone()), Some("k-2")).await;
    assert_eq!((same.status, &same.body["changed"]), (StatusCode::OK, &json!(false)));
    let revision = state.version();
    let reused = call(&state, "POST", "u-ellen", "/api/admin/edits", Some(off), Some("k-2")).await;
    assert_eq!((reused.status, reused.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"));
    let replayed = call(&state, "POST", "u-ellen", "/api/admin/edits", Some(on), Some("k-2")).await;
    assert_eq!(replayed.body, same.body);
    assert_eq!(state.version(), revision, "nothing applied");
    state.close();
}
