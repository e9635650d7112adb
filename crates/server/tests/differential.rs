//! The client and the server agree (issue 22): over the demo and generated organisations, random
//! users ask the server for random actions on random targets, and every answer is what the user's
//! own verified snapshot, the one the server issues them, decides through `tessera-core`: 2xx
//! when it allows, 403 with the same decision when it denies, 404 exactly when it cannot see the
//! target; and `POST /api/check` answers each query as that snapshot does. Between rounds,
//! administrators make random edits, and every client fetches the snapshot the server issues it
//! now (same `Tessera-Snapshot-Version`). No exceptions list: every comparison must hold.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tessera_core::{
    Org, Query, ResourceKind, SecretKey, Snapshot, Target, Timestamp, TrustedKeys, VerifyOptions,
};
use tessera_server::identity::AuthConfig;
use tessera_server::{AppState, Clock, Config, ContentItem, Source, Tuning, router};
use tower::ServiceExt as _;

use crate::support::{T0, demo_org};

/// splitmix64: a small, fixed generator, so that a failure is found again.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What a user's client holds: their verified snapshot and its version.
struct Client {
    user: String,
    snapshot: Snapshot,
    version: u64,
}

struct Harness {
    state: AppState,
    keys: TrustedKeys,
    compared: usize,
    /// Actions answered 2xx, 403 and 404: each must happen, or the test proves little.
    outcomes: [usize; 3],
}

struct Answer {
    status: StatusCode,
    body: Value,
    snapshot_version: Option<u64>,
}

impl Harness {
    fn new(org: Org, content: Vec<ContentItem>) -> Harness {
        let state = AppState::new(Config {
            org,
            key: SecretKey::from_bytes([5; 32]),
            issuer: "tessera".to_owned(),
            ttl_seconds: 7 * 24 * 3600,
            content,
            www: None,
            clock: Clock::from_fn(|| Timestamp::from_unix(T0)),
            tuning: Tuning::default(),
            request_timeout: Duration::from_secs(30),
            auth: AuthConfig::Demo,
            source: Source::Memory,
            connections: tessera_server::Connections::default(),
            quotas: crate::support::unlimited(),
        })
        .unwrap();
        let mut keys = TrustedKeys::new();
        keys.add(state.issuer().public_key().clone());
        Harness { state, keys, compared: 0, outcomes: [0; 3] }
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_unix(T0)
    }

    async fn send(&self, method: &str, user: &str, uri: &str, body: Option<Value>) -> Answer {
        let token = self.state.identity().demo_token(user).unwrap().0;
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let request = match body {
            Some(body) => {
                request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string()))
            }
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let snapshot_version = response
            .headers()
            .get("tessera-snapshot-version")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Answer { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), snapshot_version }
    }

    /// The client of `user`, holding the snapshot the server issues them now, verified.
    async fn client(&self, user: &str) -> Client {
        let token = self.state.identity().demo_token(user).unwrap().0;
        let request = Request::get("/api/snapshot")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let snapshot = Snapshot::verify(&bytes, &self.keys, &VerifyOptions::new(self.now())).unwrap();
        let version = snapshot.header().version;
        Client { user: user.to_owned(), snapshot, version }
    }

    /// Compares one action's answer with what the client decides: `seen` is whether the client
    /// sees every target the action names, `query` the action's own question (`None`: nothing
    /// to decide, a conversation the two already have).
    fn compare(&mut self, client: &Client, what: &str, seen: bool, query: Option<&Query>, answer: &Answer) {
        self.compared += 1;
        // Every answer that depends on the policy says which snapshot version decided it: the
        // one the client holds, unless the answer itself changed the organisation.
        assert!(answer.snapshot_version.is_some(), "{what}: no Tessera-Snapshot-Version: {}", answer.body);
        if !answer.status.is_success() {
            assert_eq!(answer.snapshot_version, Some(client.version), "{what}");
        }
        match answer.status.as_u16() {
            200..=299 => self.outcomes[0] += 1,
            403 => self.outcomes[1] += 1,
            404 => self.outcomes[2] += 1,
            _ => {}
        }
        if !seen {
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{what} by {}: the client cannot see the target: {}",
                client.user,
                answer.body
            );
            assert_eq!(answer.body["error"]["code"], "not_found", "{what}");
            return;
        }
        let Some(query) = query else {
            assert!(answer.status.is_success(), "{what} by {}: {}", client.user, answer.body);
            return;
        };
        let decision = client.snapshot.decide(&client.user, query, self.now());
        if decision.allowed {
            assert!(
                answer.status.is_success(),
                "{what} by {}: the client allows ({:?}): {}",
                client.user,
                decision.code,
                answer.body
            );
        } else {
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{what} by {}: the client denies ({:?}): {}",
                client.user,
                decision.code,
                answer.body
            );
            assert_eq!(
                answer.body["error"]["decision"],
                serde_json::to_value(&decision).unwrap(),
                "{what} by {}",
                client.user
            );
        }
    }

    /// One random action of `client`'s user on a random target of `org`.
    async fn act(&mut self, client: &Client, org: &Org, rng: &mut Rng) -> bool {
        let user = client.user.as_str();
        let now = self.now();
        let sees = |kind: ResourceKind, id: &str| client.snapshot.allows(user, &Query::view(kind, id), now);
        let n = rng.next();
        let (what, seen, query, answer, changes_org) = match n % 9 {
            0 => {
                let project = &rng.pick(&org.projects).id;
                let answer = self
                    .send(
                        "POST",
                        user,
                        &format!("/api/projects/{project}/tasks"),
                        Some(json!({ "title": "A task" })),
                    )
                    .await;
                (
                    "create task",
                    sees(ResourceKind::Project, project),
                    Some(Query::can("task.create", Target::project(project))),
                    answer,
                    false,
                )
            }
            1 => {
                let project = &rng.pick(&org.projects).id;
                let answer = self
                    .send(
                        "POST",
                        user,
                        &format!("/api/projects/{project}/files"),
                        Some(json!({ "name": "f.txt", "text": "x" })),
                    )
                    .await;
                (
                    "upload file",
                    sees(ResourceKind::Project, project),
                    Some(Query::can("file.upload", Target::project(project))),
                    answer,
                    false,
                )
            }
            2 => {
                let project = &rng.pick(&org.projects).id;
                let answer = self
                    .send(
                        "PUT",
                        user,
                        &format!("/api/projects/{project}/wiki"),
                        Some(json!({ "text": "wiki" })),
                    )
                    .await;
                (
                    "edit wiki",
                    sees(ResourceKind::Project, project),
                    Some(Query::can("wiki.manage", Target::project(project))),
                    answer,
                    false,
                )
            }
            3 => {
                let answer = self.send("POST", user, "/api/projects", Some(json!({ "name": "New" }))).await;
                ("new project", true, Some(Query::can("project.create", Target::none())), answer, true)
            }
            4 => {
                let members: Vec<String> =
                    (0..1 + rng.below(3)).map(|_| rng.pick(&org.users).id.clone()).collect();
                let seen = members.iter().all(|member| sees(ResourceKind::Person, member));
                let answer = self
                    .send("POST", user, "/api/groups", Some(json!({ "name": "G", "members": members })))
                    .await;
                ("create group", seen, Some(Query::can("group.create", Target::none())), answer, true)
            }
            5 => {
                let with = rng.pick(&org.users).id.clone();
                let existing = client.snapshot.policy().dm_ids().any(|dm| {
                    client.snapshot.policy().dm_participants(dm).is_some_and(|pair| {
                        pair.contains(&user) && pair.contains(&with.as_str()) && with != user
                    })
                });
                let answer = self.send("POST", user, "/api/dms", Some(json!({ "with": with }))).await;
                let query = (!existing).then(|| Query::can("dm.start", Target::person(with.clone())));
                ("start dm", sees(ResourceKind::Person, &with), query, answer, true)
            }
            6 => {
                if org.direct_messages.is_empty() {
                    return false;
                }
                let dm = &rng.pick(&org.direct_messages).id;
                let seen =
                    client.snapshot.policy().dm_participants(dm).is_some_and(|pair| pair.contains(&user));
                let answer = self
                    .send("POST", user, &format!("/api/dms/{dm}/messages"), Some(json!({ "text": "hi" })))
                    .await;
                ("reply", seen, Some(Query::can("dm.reply", Target::dm(dm))), answer, false)
            }
            7 => {
                let answer =
                    self.send("POST", user, "/api/announcements", Some(json!({ "text": "hello" }))).await;
                ("announce", true, Some(Query::can("announcement.org", Target::none())), answer, false)
            }
            _ => {
                if org.groups.is_empty() {
                    return false;
                }
                let group = &rng.pick(&org.groups).id;
                let answer = self
                    .send(
                        "POST",
                        user,
                        &format!("/api/groups/{group}/announcements"),
                        Some(json!({ "text": "hello" })),
                    )
                    .await;
                (
                    "announce to group",
                    sees(ResourceKind::Group, group),
                    Some(Query::can("announcement.group", Target::group(group))),
                    answer,
                    false,
                )
            }
        };
        self.compare(client, what, seen, query.as_ref(), &answer);
        changes_org && answer.status.is_success()
    }

    /// `/api/check` of `queries` against what the client decides.
    async fn check(&mut self, client: &Client, queries: &[Query]) {
        let answer = self.send("POST", &client.user, "/api/check", Some(json!({ "checks": queries }))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.snapshot_version, Some(client.version), "the client holds the snapshot issued now");
        for (query, verdict) in queries.iter().zip(answer.body["decisions"].as_array().unwrap()) {
            let decision = client.snapshot.decide(&client.user, query, self.now());
            assert_eq!(verdict["allowed"], decision.allowed, "{} {query:?}", client.user);
            assert_eq!(verdict["code"], decision.code.as_str(), "{} {query:?}", client.user);
            assert_eq!(verdict["message"], decision.message.as_str(), "{} {query:?}", client.user);
            self.compared += 1;
        }
    }

    /// Random override switches by random users (most are refused; some land).
    async fn admin_edits(&mut self, org: &Org, rng: &mut Rng) {
        for _ in 0..6 {
            let user = rng.pick(&org.users).id.clone();
            let office = rng.pick(&org.offices).id.clone();
            let profile = rng.pick(&["client", "general_user", "project_manager", "vendor"]).to_string();
            let permission =
                rng.pick(&["task.create", "file.upload", "wiki.manage", "project.create"]).to_string();
            let edit = if rng.below(2) == 0 { "override_on" } else { "override_off" };
            let body = json!({ "edits": [{ "edit": edit, "office": office, "profile": profile, "permission": permission }] });
            let answer = self.send("POST", &user, "/api/admin/edits", Some(body)).await;
            assert!(matches!(answer.status.as_u16(), 200 | 403 | 422), "{}", answer.body);
        }
        let user = rng.pick(&org.users).id.clone();
        let role = rng.pick(&["user", "manager", "admin"]).to_string();
        let raise = json!({ "edits": [{ "edit": "raise_role", "user": user, "role": role }] });
        let admin = rng.pick(&org.users).id.clone();
        let answer = self.send("POST", &admin, "/api/admin/edits", Some(raise)).await;
        assert!(matches!(answer.status.as_u16(), 200 | 403 | 422), "{}", answer.body);
    }
}

/// A task, a document, a report and a finance row for every Project.
fn content_of(org: &Org) -> Vec<ContentItem> {
    org.projects
        .iter()
        .flat_map(|project| {
            [ResourceKind::Task, ResourceKind::Document, ResourceKind::Report, ResourceKind::Finance]
                .into_iter()
                .map(move |kind| ContentItem {
                    kind,
                    id: format!("{}-{}", kind.as_str(), project.id),
                    title: format!("{} of {}", kind.as_str(), project.name),
                    project: project.id.clone(),
                })
        })
        .collect()
}

async fn agree_on(org: Org, seed: u64) -> usize {
    let mut harness = Harness::new(org.clone(), content_of(&org));
    let mut rng = Rng(seed);
    let content = content_of(&org);
    for round in 0..3 {
        let org = harness.state.issuer().current().cutter().to_org();
        let active: Vec<String> = org.users.iter().filter(|u| u.active).map(|u| u.id.clone()).collect();
        for _ in 0..10 {
            let user = rng.pick(&active).clone();
            let mut client = harness.client(&user).await;
            for _ in 0..12 {
                if harness.act(&client, &org, &mut rng).await {
                    // The organisation changed: the client fetches what the server issues now.
                    client = harness.client(&user).await;
                }
            }
            // Queries about everything, and about items without their Project.
            let mut queries: Vec<Query> = tessera_conformance::generated::all_queries(&org);
            queries.retain(|_| rng.below(8) == 0);
            queries.extend((0..10).map(|_| {
                let item = rng.pick(&content);
                Query::view_in(item.kind, item.id.clone(), item.project.clone())
            }));
            queries.truncate(1000);
            let client = harness.client(&user).await;
            harness.check(&client, &queries).await;
        }
        let _ = round;
        harness.admin_edits(&org, &mut rng).await;
    }
    println!(
        "{} comparisons; actions answered 2xx {}, 403 {}, 404 {}",
        harness.compared, harness.outcomes[0], harness.outcomes[1], harness.outcomes[2]
    );
    assert!(harness.outcomes.iter().all(|&n| n > 0), "{:?}", harness.outcomes);
    harness.compared
}

fn generated(seed: u64) -> Org {
    tessera_generate::generate(&tessera_generate::Scale {
        users: 80,
        projects: 160,
        networks: 3,
        offices: 9,
        seed,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_agree_on_the_demo_organisation() {
    let compared = agree_on(demo_org(), 22).await;
    assert!(compared > 500, "{compared}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_agree_on_generated_organisations() {
    let mut compared = 0;
    for seed in [3, 4] {
        compared += agree_on(generated(seed), seed).await;
    }
    assert!(compared > 1000, "{compared}");
}
