//! The app's actions, decided by the server on the caller's own snapshot (issue 22): made when the
//! client shows them, refused with the client's own reason when it hides them, and what the
//! caller may not see answering as what does not exist. And what the write path refuses before
//! any work (issue 23): empty batches, authority before `expect_revision`, ids behind the
//! firewall, a key used twice.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_core::{Query, Target, TrustedKeys};
use tessera_server::identity::AuthConfig;
use tessera_server::{AppState, Config, OrgFile, Source};

use crate::support::{
    DEMO_ORG, Database, T0, call, call_with, config, demo_org, get_as as get, post_as as post, replica,
};

/// What a request got: its status, headers and JSON body.
/// The decision `user`'s own snapshot makes, as the client's `explain` makes it.
async fn clients_decision(state: &AppState, user: &str, query: &Query) -> Value {
    let answer = get(state, user, "/api/snapshot").await;
    assert_eq!(answer.status, StatusCode::OK);
    let sight = state.issuer().sight(user).await.unwrap();
    let mut keys = TrustedKeys::new();
    keys.add(state.issuer().public_key().clone());
    let decision = sight.snapshot.decide(user, query, tessera_core::Timestamp::from_unix(T0));
    serde_json::to_value(decision).unwrap()
}

async fn server() -> (AppState, Database) {
    let db = Database::sqlite("actions");
    db.store().await.import(&demo_org(), "test").await.unwrap();
    (replica(&db.url, Duration::from_secs(60)).await, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_is_made_and_read_back_by_whoever_may_see_it() {
    let (state, _db) = server().await;
    // Ada, a Project Manager in London.
    let project = post(&state, "u-ada", "/api/projects", json!({ "name": "  Launch plan " })).await;
    assert_eq!(project.status, StatusCode::CREATED, "{}", project.body);
    assert_eq!(project.body["name"], "Launch plan");
    assert_eq!(project.body["office"], "o-lon");
    assert_eq!(project.body["team"], json!(["u-ada"]));
    let p = project.body["id"].as_str().unwrap().to_owned();
    let revision = project.body["revision"].as_u64().unwrap();
    assert_eq!(project.header("tessera-revision"), Some(revision.to_string().as_str()));
    assert_eq!(
        project.header("tessera-snapshot-version"),
        Some(revision.to_string().as_str()),
        "Ada was renewed"
    );
    assert_eq!(state.version(), revision);
    // Her snapshot now holds it.
    let sight = state.issuer().sight("u-ada").await.unwrap();
    assert!(sight.policy().project_index(&p).is_some());

    let task =
        post(&state, "u-ada", &format!("/api/projects/{p}/tasks"), json!({ "title": "Book the venue" }))
            .await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);
    assert_eq!(task.body["kind"], "task");
    assert_eq!(
        task.header("tessera-revision"),
        Some(revision.to_string().as_str()),
        "content makes no revision"
    );
    assert_eq!(state.version(), revision);
    let file = post(
        &state,
        "u-ada",
        &format!("/api/projects/{p}/files"),
        json!({ "name": "notes.txt", "text": "hello" }),
    )
    .await;
    assert_eq!(file.status, StatusCode::CREATED, "{}", file.body);
    assert_eq!(file.body["kind"], "document");
    let wiki = call(
        &state,
        "PUT",
        "u-ada",
        &format!("/api/projects/{p}/wiki"),
        Some(json!({ "text": "# Plan" })),
        None,
    )
    .await;
    assert_eq!(wiki.status, StatusCode::OK, "{}", wiki.body);

    let items = get(&state, "u-ada", &format!("/api/projects/{p}/items")).await;
    assert_eq!(items.status, StatusCode::OK);
    let kinds: Vec<&str> =
        items.body["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["task", "document"]);
    assert_eq!(
        get(&state, "u-ada", &format!("/api/projects/{p}/tasks")).await.body["tasks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(get(&state, "u-ada", &format!("/api/projects/{p}/wiki")).await.body["text"], "# Plan");
    // Search finds the new task, for Ada.
    let found = get(&state, "u-ada", "/api/search?q=venue").await;
    assert_eq!(found.body["results"][0]["id"], task.body["id"]);

    // Cleo, a Client of the same Office, sees London's Projects (all_in_office) and so the task.
    assert_eq!(get(&state, "u-cleo", &format!("/api/projects/{p}/tasks")).await.status, StatusCode::OK);
    // Someone in APAC does not see the Project: as if it did not exist.
    let hidden = get(&state, "u-zoe", &format!("/api/projects/{p}/items")).await;
    let missing = get(&state, "u-zoe", "/api/projects/p-no-such-project/items").await;
    assert_eq!((hidden.status, hidden.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(
        hidden.body["error"]["message"].as_str().unwrap().replace(&p, "ID"),
        missing.body["error"]["message"].as_str().unwrap().replace("p-no-such-project", "ID")
    );
    assert!(get(&state, "u-zoe", "/api/search?q=venue").await.body["results"].as_array().unwrap().is_empty());

    // A group, with a name, and an announcement to it (Ellen is an admin: announcement.group).
    let group = post(
        &state,
        "u-ellen",
        "/api/groups",
        json!({ "name": "Launch crew", "members": ["u-ada", "u-cleo"] }),
    )
    .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let g = group.body["id"].as_str().unwrap().to_owned();
    let groups = get(&state, "u-ada", "/api/groups").await;
    assert!(
        groups.body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["id"] == g.as_str() && entry["name"] == "Launch crew")
    );
    let announced = post(
        &state,
        "u-ellen",
        &format!("/api/groups/{g}/announcements"),
        json!({ "text": "Kick-off at ten" }),
    )
    .await;
    assert_eq!(announced.status, StatusCode::CREATED, "{}", announced.body);
    let read = get(&state, "u-cleo", &format!("/api/groups/{g}/announcements")).await;
    assert_eq!(read.body["announcements"][0]["text"], "Kick-off at ten");
    assert_eq!(
        get(&state, "u-hugo", &format!("/api/groups/{g}/announcements")).await.status,
        StatusCode::NOT_FOUND,
        "not a member"
    );

    // A direct message, and a reply; starting it again answers the same conversation.
    let dm = post(&state, "u-ada", "/api/dms", json!({ "with": "u-hugo" })).await;
    assert_eq!(dm.status, StatusCode::CREATED, "{}", dm.body);
    let d = dm.body["id"].as_str().unwrap().to_owned();
    let again = post(&state, "u-hugo", "/api/dms", json!({ "with": "u-ada" })).await;
    assert_eq!((again.status, again.body["id"].as_str()), (StatusCode::OK, Some(d.as_str())));
    let message =
        post(&state, "u-hugo", &format!("/api/dms/{d}/messages"), json!({ "text": "Hi Ada" })).await;
    assert_eq!(message.status, StatusCode::CREATED, "{}", message.body);
    assert_eq!(
        get(&state, "u-ada", &format!("/api/dms/{d}/messages")).await.body["messages"][0]["text"],
        "Hi Ada"
    );
    assert_eq!(get(&state, "u-cleo", &format!("/api/dms/{d}/messages")).await.status, StatusCode::NOT_FOUND);

    // Everything written survives a restart of the server.
    state.close();
    let again = replica(&_db.url, Duration::from_secs(60)).await;
    assert_eq!(
        get(&again, "u-ada", &format!("/api/projects/{p}/items")).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        get(&again, "u-ada", &format!("/api/dms/{d}/messages")).await.body["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    again.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_carries_the_clients_own_decision_and_writes_nothing() {
    let (state, _db) = server().await;
    let revision = state.version();
    // Cleo, a Client: no task.create in her own Office's Project.
    let refused = post(&state, "u-cleo", "/api/projects/p-rebrand/tasks", json!({ "title": "x" })).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let expected =
        clients_decision(&state, "u-cleo", &Query::can("task.create", Target::project("p-rebrand"))).await;
    assert_eq!(refused.body["error"]["decision"], expected);
    assert_eq!(refused.body["error"]["decision"]["code"], "profile_lacks_permission");
    assert!(
        get(&state, "u-ada", "/api/projects/p-rebrand/tasks").await.body["tasks"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // No Project for her either, and no new revision.
    let project = post(&state, "u-cleo", "/api/projects", json!({ "name": "Mine" })).await;
    assert_eq!(project.status, StatusCode::FORBIDDEN);
    assert_eq!(
        project.body["error"]["decision"],
        clients_decision(&state, "u-cleo", &Query::can("project.create", Target::none())).await
    );
    assert_eq!(state.version(), revision);
    // What the firewall hides answers as an unknown id, in the path and in the body.
    for (uri, body) in [
        ("/api/projects/p-syd-harbour/tasks", json!({ "title": "x" })),
        ("/api/dms", json!({ "with": "u-zoe" })),
        ("/api/groups", json!({ "name": "x", "members": ["u-zoe"] })),
    ] {
        let hidden = post(&state, "u-cleo", uri, body).await;
        assert_eq!((hidden.status, hidden.code()), (StatusCode::NOT_FOUND, "not_found"), "{uri}");
        let text = hidden.body.to_string();
        assert!(!text.contains("n-apac") && !text.contains("o-syd"), "names nothing: {text}");
    }
    // Bad bodies: a reason, nothing written.
    for (uri, body, status) in [
        ("/api/projects", json!({ "name": "" }), StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/projects", json!({ "name": "x".repeat(201) }), StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/projects", json!({ "title": "x" }), StatusCode::BAD_REQUEST),
        (
            "/api/projects/p-rebrand/files",
            json!({ "name": "a", "text": "x".repeat(40_000) }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/api/dms/d-ada-cleo/messages", json!({ "text": "\u{7}" }), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let answer = post(&state, "u-ada", uri, body).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.body);
    }
    assert_eq!(state.version(), revision);
    assert!(state.content().items("p-rebrand").iter().all(|item| item.author.is_none()), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_source_refuses_every_change_and_names_no_path() {
    let state = AppState::new(Config {
        source: Source::File(OrgFile::new(std::path::Path::new(DEMO_ORG))),
        ..config(AuthConfig::Demo)
    })
    .unwrap();
    for (uri, body) in [
        ("/api/projects", json!({ "name": "x" })),
        ("/api/projects/p-rebrand/tasks", json!({ "title": "x" })),
        (
            "/api/admin/edits",
            json!({ "edits": [{ "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create" }] }),
        ),
    ] {
        let answer = post(&state, "u-ellen", uri, body).await;
        assert_eq!((answer.status, answer.code()), (StatusCode::CONFLICT, "read_only_source"), "{uri}");
        assert!(!answer.body.to_string().contains("org.json"), "{}", answer.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_applies_a_request_once() {
    let (state, db) = server().await;
    let edits = json!({ "edits": [{ "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create" }] });
    let first = call(&state, "POST", "u-ellen", "/api/admin/edits", Some(edits.clone()), Some("k-1")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let revision = state.version();
    // The answer was lost; the same request is sent again, to another replica too.
    let again = call(&state, "POST", "u-ellen", "/api/admin/edits", Some(edits.clone()), Some("k-1")).await;
    assert_eq!((again.status, &again.body), (first.status, &first.body));
    let other = replica(&db.url, Duration::from_secs(60)).await;
    let elsewhere =
        call(&other, "POST", "u-ellen", "/api/admin/edits", Some(edits.clone()), Some("k-1")).await;
    assert_eq!(elsewhere.body, first.body);
    assert_eq!(state.version(), revision, "applied once");
    // The same key with another body: refused, nothing applied.
    let off = json!({ "edits": [{ "edit": "override_off", "office": "o-lon", "profile": "client", "permission": "task.create" }] });
    let reused = call(&state, "POST", "u-ellen", "/api/admin/edits", Some(off), Some("k-1")).await;
    assert_eq!((reused.status, reused.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"));
    // Another caller's key is their own.
    let zoe = json!({ "edits": [{ "edit": "override_on", "office": "o-syd", "profile": "client", "permission": "task.create" }] });
    assert_eq!(
        call(&state, "POST", "u-zoe", "/api/admin/edits", Some(zoe), Some("k-1")).await.status,
        StatusCode::OK
    );
    // Content too: one task, however often it is sent.
    let task = json!({ "title": "Once" });
    let made =
        call(&state, "POST", "u-ada", "/api/projects/p-rebrand/tasks", Some(task.clone()), Some("t-1")).await;
    let again = call(&other, "POST", "u-ada", "/api/projects/p-rebrand/tasks", Some(task), Some("t-1")).await;
    assert_eq!((made.status, &made.body), (again.status, &again.body));
    let tasks = get(&state, "u-ada", "/api/projects/p-rebrand/tasks").await;
    assert_eq!(tasks.body["tasks"].as_array().unwrap().iter().filter(|t| t["title"] == "Once").count(), 1);
    // A key that is not one.
    let bad = call(
        &state,
        "POST",
        "u-ada",
        "/api/projects/p-rebrand/tasks",
        Some(json!({ "title": "x" })),
        Some(&"k".repeat(300)),
    )
    .await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_idempotency_key"));
    state.close();
    other.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_answers_users_about_themselves_as_their_snapshot_does() {
    let state = AppState::new(config(AuthConfig::Demo)).unwrap();
    let checks = json!([
        { "can": "task.create", "target": { "project": "p-rebrand" } },
        { "view": "project", "id": "p-rebrand" },
        { "view": "project", "id": "p-syd-harbour" },
        { "can": "dm.start", "target": { "person": "u-zoe" } },
        { "can": "no.such.permission" },
    ]);
    for user in ["u-ada", "u-cleo", "u-zoe"] {
        let answer = post(&state, user, "/api/check", json!({ "checks": checks })).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["revision"], state.version());
        for (check, verdict) in
            checks.as_array().unwrap().iter().zip(answer.body["decisions"].as_array().unwrap())
        {
            let query: Query = serde_json::from_value(check.clone()).unwrap();
            let decision = clients_decision(&state, user, &query).await;
            assert_eq!(verdict["allowed"], decision["allowed"], "{user} {check}");
            assert_eq!(verdict["code"], decision["code"], "{user} {check}");
            assert_eq!(verdict["message"], decision["message"], "{user} {check}");
        }
    }
    // Asking about oneself by name is the same; about anyone else, refused.
    assert_eq!(
        post(&state, "u-ada", "/api/check", json!({ "user": "u-ada", "checks": [] })).await.status,
        StatusCode::OK
    );
    let other = post(&state, "u-ada", "/api/check", json!({ "user": "u-cleo", "checks": checks })).await;
    assert_eq!((other.status, other.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let many: Vec<Value> = (0..1001).map(|_| json!({ "view": "project", "id": "p-rebrand" })).collect();
    let too_many = post(&state, "u-ada", "/api/check", json!({ "checks": many })).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_authorised_before_any_work_and_names_nothing_behind_the_firewall() {
    let (state, _db) = server().await;
    let revision = state.version();
    // An empty batch: 422, for anyone.
    for uri in ["/api/admin/edits", "/api/admin/preview"] {
        let empty = post(&state, "u-cleo", uri, json!({ "edits": [] })).await;
        assert_eq!((empty.status, empty.code()), (StatusCode::UNPROCESSABLE_ENTITY, "empty_batch"), "{uri}");
    }
    // A Client with a revision from the future: refused for who she is, not for the revision.
    let ahead = json!({ "edits": [{ "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create" }], "expect_revision": revision + 1_000_000 });
    let refused = post(&state, "u-cleo", "/api/admin/edits", ahead).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", refused.body);
    // An Office behind the firewall answers as an Office that does not exist, for edits, preview
    // and denials alike, and names nothing.
    for uri in ["/api/admin/edits", "/api/admin/preview"] {
        let behind = post(&state, "u-ellen", uri, json!({ "edits": [{ "edit": "override_on", "office": "o-syd", "profile": "client", "permission": "task.create" }] })).await;
        let unknown = post(&state, "u-ellen", uri, json!({ "edits": [{ "edit": "override_on", "office": "o-nowhere", "profile": "client", "permission": "task.create" }] })).await;
        assert_eq!(
            (behind.status, behind.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "unknown_id"),
            "{uri}: {}",
            behind.body
        );
        assert_eq!(
            behind.body.to_string().replace("o-syd", "ID"),
            unknown.body.to_string().replace("o-nowhere", "ID")
        );
    }
    let behind = get(&state, "u-ellen", "/api/admin/denials?user=u-zoe").await;
    let unknown = get(&state, "u-ellen", "/api/admin/denials?user=u-nobody").await;
    assert_eq!(behind.status, StatusCode::NOT_FOUND);
    assert_eq!(
        behind.body.to_string().replace("u-zoe", "ID"),
        unknown.body.to_string().replace("u-nobody", "ID")
    );
    // Someone she may see but not manage: 403, with her own snapshot's decision.
    let not_hers = get(&state, "u-cleo", "/api/admin/denials?user=u-ada").await;
    assert_eq!((not_hers.status, not_hers.code()), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(
        not_hers.body["error"]["decision"],
        clients_decision(&state, "u-cleo", &Query::can("user.manage", Target::office("o-lon"))).await
    );
    assert_eq!(state.version(), revision, "nothing applied");
    state.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_asks_about_anyone_and_may_call_nothing_else() {
    let state = AppState::new(config(AuthConfig::Demo)).unwrap();
    let token = format!("Bearer {}", state.identity().demo_service_token("billing").unwrap().0);
    let send = |method: &'static str, uri: &'static str, body: Option<Value>| {
        let (state, token) = (state.clone(), token.clone());
        async move {
            let answer = call_with(&state, method, &token, uri, body, None).await;
            (answer.status, answer.body)
        }
    };
    let checks = json!([{ "can": "task.create", "target": { "project": "p-rebrand" } }, { "view": "project", "id": "p-rebrand" }]);
    for user in ["u-ada", "u-cleo", "u-zoe"] {
        let (status, body) =
            send("POST", "/api/check", Some(json!({ "user": user, "checks": checks }))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for (check, verdict) in checks.as_array().unwrap().iter().zip(body["decisions"].as_array().unwrap()) {
            let query: Query = serde_json::from_value(check.clone()).unwrap();
            let decision = clients_decision(&state, user, &query).await;
            assert_eq!(
                (&verdict["allowed"], &verdict["code"]),
                (&decision["allowed"], &decision["code"]),
                "{user} {check}"
            );
        }
    }
    // About someone the organisation does not hold: the evaluator's own denial.
    let (status, body) =
        send("POST", "/api/check", Some(json!({ "user": "u-nobody", "checks": checks }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["decisions"][0]["code"], "unknown_user");
    // Nothing else: a service is no user.
    for (method, uri, body) in [
        ("GET", "/api/snapshot", None),
        ("GET", "/api/search?q=a", None),
        ("POST", "/api/projects", Some(json!({ "name": "x" }))),
        ("GET", "/api/admin/denials?user=u-ada", None),
    ] {
        let (status, body) = send(method, uri, body).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{uri}"
        );
    }
}
