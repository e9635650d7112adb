//! The issuer's promises, by behaviour: a revalidation that matches cuts nothing, the cache
//! keeps to its bound, concurrent requests for one user share one cut, the previous revision
//! answers until the next is built and installed, and a build that fails leaves it serving
//! and says why.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tessera_core::Timestamp;
use tessera_server::identity::AuthConfig;
use tessera_server::issuer::{Answer, BuildError};
use tessera_server::{AppState, Config, OrgFile, Tuning, router};
use tower::ServiceExt as _;

use crate::support::{Scratch, T0, config, demo_org};

fn state(tuning: Tuning) -> AppState {
    AppState::new(Config { tuning, ..config(AuthConfig::Demo) }).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

struct Reply {
    status: StatusCode,
    etag: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// GET `uri` of the ops listener's routes.
async fn ops(state: &AppState, uri: &str) -> Reply {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = tessera_server::ops::router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Reply { status, etag: None, body }
}

/// GET as the user `?as=ID` names (Ada if none), with a demo token.
async fn get(state: &AppState, uri: &str, if_none_match: Option<&str>) -> Reply {
    let (uri, user) = match uri.split_once("?as=") {
        Some((uri, user)) => (uri, user),
        None => (uri, "u-ada"),
    };
    let token = state.identity().demo_token(user).unwrap().0;
    let mut request = Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(etag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let response = router(state.clone()).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let etag = response.headers().get(header::ETAG).map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Reply { status, etag, body }
}

fn no_cache() -> Tuning {
    Tuning { cache_bytes: 0, ..Tuning::default() }
}

#[test]
fn a_matching_revalidation_is_answered_without_a_cut() {
    let state = state(no_cache());
    runtime().block_on(async {
        let first = get(&state, "/api/snapshot?as=u-ada", None).await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(state.issuer().cuts_made(), 1);
        let etag = first.etag.unwrap();
        // Nothing is cached, so only the ETag, known without cutting, can answer this.
        for _ in 0..5 {
            let again = get(&state, "/api/snapshot?as=u-ada", Some(&etag)).await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED);
            assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
        }
        assert_eq!(state.issuer().cuts_made(), 1, "a 304 cuts nothing");
        // The tag the issuer computes is the one the cut was served with.
        let revision = state.issuer().current();
        assert_eq!(state.issuer().etag(&revision, "u-ada", Timestamp::from_unix(T0)), etag);
        // Without the tag, the snapshot is cut again (no cache here).
        assert_eq!(get(&state, "/api/snapshot?as=u-ada", None).await.status, StatusCode::OK);
        assert_eq!(state.issuer().cuts_made(), 2);
        // An unknown user is refused before any cut.
        assert_eq!(get(&state, "/api/snapshot?as=u-nobody", Some("*")).await.status, StatusCode::FORBIDDEN);
        assert_eq!(state.issuer().cuts_made(), 2);
    });
}

#[test]
fn cached_snapshots_are_served_again_and_the_cache_keeps_to_its_bound() {
    let users: Vec<String> =
        demo_org().users.iter().filter(|user| user.active).map(|user| user.id.clone()).collect();
    // One snapshot's size, to set a bound that holds only a few.
    let probe = state(no_cache());
    let size = runtime().block_on(async { get(&probe, "/api/snapshot?as=u-ada", None).await.body.len() });
    let bound = (size * 4) as u64;
    let state = state(Tuning { cache_bytes: bound, ..Tuning::default() });
    runtime().block_on(async {
        let first = get(&state, "/api/snapshot?as=u-ada", None).await;
        let second = get(&state, "/api/snapshot?as=u-ada", None).await;
        assert_eq!(first.body, second.body, "the same signed bytes, from the cache");
        assert_eq!(state.issuer().cuts_made(), 1);
        for user in &users {
            assert_eq!(get(&state, &format!("/api/snapshot?as={user}"), None).await.status, StatusCode::OK);
            assert!(state.issuer().cached_bytes().await <= bound);
        }
        assert!(state.issuer().cuts_made() >= users.len() as u64 - 1);
        let cached = state.issuer().cached_bytes().await;
        assert!(cached > 0 && cached <= bound, "{cached} of {bound}");
    });
}

#[test]
fn concurrent_requests_for_one_user_share_one_cut() {
    let state = state(Tuning::default());
    runtime().block_on(async {
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let state = state.clone();
                tokio::spawn(async move { state.issuer().snapshot("u-bob", |_| false).await })
            })
            .collect();
        let mut bodies = Vec::new();
        for task in tasks {
            match task.await.unwrap().unwrap() {
                Answer::Snapshot(signed) => bodies.push(signed),
                Answer::NotModified { .. } => panic!("nothing matched"),
            }
        }
        assert_eq!(state.issuer().cuts_made(), 1, "32 requests, one cut");
        assert!(bodies.iter().all(|signed| Arc::ptr_eq(signed, &bodies[0])));
    });
}

#[test]
fn the_previous_revision_answers_until_the_next_is_installed() {
    let state = state(Tuning::default());
    runtime().block_on(async {
        let before = state.version();
        let old = get(&state, "/api/snapshot?as=u-cleo", None).await;
        let mut org = demo_org();
        org.users.retain(|user| user.id != "u-cleo");
        for project in &mut org.projects {
            project.team.retain(|member| member != "u-cleo");
        }
        for group in &mut org.groups {
            group.members.retain(|member| member != "u-cleo");
        }
        org.direct_messages.retain(|dm| !dm.participants.iter().any(|p| p == "u-cleo"));
        let built = state.issuer().build(org).await.unwrap();
        assert!(built.number() > before);
        // Built, not installed: everything still answers from the previous revision.
        assert_eq!(state.version(), before);
        let during = get(&state, "/api/snapshot?as=u-cleo", Some(old.etag.as_deref().unwrap())).await;
        assert_eq!(during.status, StatusCode::NOT_MODIFIED);
        assert!(get(&state, "/api/users", None).await.text().contains("u-cleo"));
        let ready = ops(&state, "/readyz").await.json();
        assert_eq!(ready["revision"], before);

        let after = state.issuer().install(built);
        assert!(after > before);
        assert_eq!(ops(&state, "/readyz").await.json()["revision"], after);
        assert_eq!(get(&state, "/api/snapshot?as=u-cleo", None).await.status, StatusCode::FORBIDDEN);
        assert!(!get(&state, "/api/users", None).await.text().contains("u-cleo"));
    });
}

#[test]
fn a_failed_build_leaves_the_previous_revision_serving_and_says_why() {
    let state = state(Tuning::default());
    runtime().block_on(async {
        let before = state.version();
        let mut broken = demo_org();
        broken.users[0].home_office = "o-nowhere".to_owned();
        match state.issuer().replace(broken).await {
            Err(BuildError::Invalid(errors)) => {
                assert!(errors.to_string().contains("o-nowhere"), "{errors}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(state.version(), before);
        let ready = ops(&state, "/readyz").await;
        assert_eq!(ready.status, StatusCode::OK, "the previous revision still serves");
        let ready = ready.json();
        assert_eq!(ready["ready"], true);
        assert_eq!(ready["revision"], before);
        assert!(ready["last_build_failure"]["message"].as_str().unwrap().contains("o-nowhere"), "{ready}");
        assert_eq!(get(&state, "/api/snapshot?as=u-ada", None).await.status, StatusCode::OK);

        // The source read again: a file that does not parse is a failure too; a good one clears it.
        let scratch = Scratch::new("reload");
        let file = scratch.path("org.json");
        std::fs::write(&file, "{ not json").unwrap();
        tessera_server::reload(&state, &OrgFile::new(&file)).await;
        assert_eq!(state.version(), before);
        let failure = ops(&state, "/readyz").await.json()["last_build_failure"]["message"].clone();
        assert!(failure.as_str().unwrap().contains("org.json:1:"), "{failure}");
        let public = get(&state, "/readyz", None).await;
        assert_eq!(
            public.json(),
            serde_json::json!({ "ready": true }),
            "in public, no file: {}",
            public.text()
        );
        let mut org = demo_org();
        org.users[0].name = "Ada Renamed".to_owned();
        std::fs::write(&file, serde_json::to_vec(&org).unwrap()).unwrap();
        tessera_server::reload(&state, &OrgFile::new(&file)).await;
        assert!(state.version() > before);
        let ready = ops(&state, "/readyz").await.json();
        assert!(ready["last_build_failure"].is_null(), "{ready}");
        assert!(get(&state, "/api/users", None).await.text().contains("Ada Renamed"));
    });
}

#[test]
fn health_readiness_and_metrics_answer() {
    let state = state(Tuning::default());
    runtime().block_on(async {
        let health = get(&state, "/healthz", None).await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.json()["alive"], true);
        // In public: ready or not, and nothing else; no metrics.
        let public = get(&state, "/readyz", None).await;
        assert_eq!(public.status, StatusCode::OK);
        assert_eq!(public.json(), serde_json::json!({ "ready": true }));
        assert_eq!(get(&state, "/metrics", None).await.status, StatusCode::NOT_FOUND);
        let ready = ops(&state, "/readyz").await.json();
        assert_eq!(ready["ready"], true);
        assert_eq!(ready["revision"], state.version());
        assert_eq!(ready["users"], demo_org().users.len());
        assert_eq!(ready["renewed"], demo_org().users.len(), "the first revision renews everyone");

        // The program that chose the allocator tells its figures (the binary: jemalloc's).
        fn heap() -> Option<tessera_server::Heap> {
            Some(tessera_server::Heap { allocated: 1_234_567, resident: 2_345_678 })
        }
        tessera_server::set_heap_probe(heap);
        let etag = get(&state, "/api/snapshot?as=u-ada", None).await.etag.unwrap();
        get(&state, "/api/snapshot?as=u-ada", None).await;
        get(&state, "/api/snapshot?as=u-ada", Some(&etag)).await;
        let metrics = ops(&state, "/metrics").await;
        assert_eq!(metrics.status, StatusCode::OK);
        let text = metrics.text();
        for expected in [
            "tessera_http_requests_total{route=\"/api/snapshot\",method=\"GET\",status=\"200\"}",
            "tessera_http_requests_total{route=\"/api/snapshot\",method=\"GET\",status=\"304\"}",
            "tessera_http_request_duration_seconds_bucket{route=\"/api/snapshot\",status=\"200\"",
            "tessera_snapshot_requests_total{answer=\"hit\"}",
            "tessera_snapshot_requests_total{answer=\"miss\"}",
            "tessera_snapshot_requests_total{answer=\"not_modified\"}",
            "tessera_snapshot_cut_seconds_bucket",
            "tessera_snapshot_sign_seconds_bucket",
            "tessera_revision ",
            "tessera_revision_build_seconds ",
            "tessera_snapshot_cache_bytes ",
            "tessera_sight_cache_entries ",
            "tessera_sight_cache_bytes ",
            "tessera_heap_allocated_bytes 1234567",
            "tessera_heap_resident_bytes 2345678",
        ] {
            assert!(text.contains(expected), "no `{expected}` in\n{text}");
        }
    });
}

#[test]
fn an_edit_renews_only_the_snapshots_whose_decisions_it_changes() {
    let state = state(Tuning::default());
    let users: Vec<String> =
        demo_org().users.iter().filter(|user| user.active).map(|user| user.id.clone()).collect();
    runtime().block_on(async {
        let mut tags = Vec::new();
        for user in &users {
            let reply = get(&state, &format!("/api/snapshot?as={user}"), None).await;
            tags.push(reply.etag.unwrap());
        }
        let before = state.issuer().current();
        // London's clients may create tasks: an admin edit, as Ellen (network admin of EMEA).
        let token = state.identity().demo_token("u-ellen").unwrap().0;
        let edit = r#"{"edits":[{"edit":"override_on","office":"o-lon","profile":"client","permission":"task.create"}]}"#;
        let request = Request::post("/api/admin/edits")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(edit))
            .unwrap();
        let response = router(state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let after = state.issuer().current();
        let changed = tessera_core::changed_users(before.policy(), after.policy(), Timestamp::from_unix(T0));
        assert!(!changed.is_empty() && changed.len() < users.len() / 2, "{changed:?}");
        assert!(changed.contains(&"u-cleo".to_owned()));
        assert_eq!(after.renewed(), changed.len());

        let cuts = state.issuer().cuts_made();
        for (user, tag) in users.iter().zip(&tags) {
            let reply = get(&state, &format!("/api/snapshot?as={user}"), Some(tag)).await;
            if changed.contains(user) {
                assert_eq!(reply.status, StatusCode::OK, "{user} is renewed");
                assert_eq!(after.version_of(user), after.number());
            } else {
                assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{user} keeps their snapshot");
                assert_eq!(after.version_of(user), before.version_of(user));
            }
        }
        assert_eq!(state.issuer().cuts_made() - cuts, changed.len() as u64, "only the renewed are cut");
    });
}
