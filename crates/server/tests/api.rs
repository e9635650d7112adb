//! The router in-process: snapshots, ETags, search, overrides, static files, versions, and the
//! demo content file.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use tessera_core::{
    Org, PublicKey, Query, ResourceKind, Scope, SecretKey, Snapshot, Target, Timestamp, TrustedKeys,
    VerifyOptions,
};
use tessera_server::identity::AuthConfig;
use tessera_server::{AppState, Clock, Config, ContentItem, Tuning, parse_content, router, validate_content};
use tower::ServiceExt as _;

use crate::support::{DEMO_CONTENT, DEMO_ORG, Scratch};

/// 2026-06-01T09:00:00Z, the demo's clock.
const T0: i64 = 1_780_304_400;
const WEEK: i64 = 7 * 24 * 3600;

fn demo_org() -> Org {
    serde_json::from_str(&std::fs::read_to_string(DEMO_ORG).unwrap()).unwrap()
}

fn demo_content() -> Vec<ContentItem> {
    parse_content(&std::fs::read(DEMO_CONTENT).unwrap()).unwrap()
}

/// A server on the demo organisation and content, with a clock the test moves.
struct Server {
    state: AppState,
    router: Router,
    clock: Arc<AtomicI64>,
}

impl Server {
    fn new() -> Server {
        Server::with(None, T0)
    }

    fn with(www: Option<PathBuf>, now: i64) -> Server {
        let clock = Arc::new(AtomicI64::new(now));
        let reading = Arc::clone(&clock);
        let state = AppState::new(Config {
            org: demo_org(),
            key: SecretKey::from_bytes([7; 32]),
            issuer: "tessera".to_owned(),
            ttl_seconds: WEEK,
            content: demo_content(),
            www,
            clock: Clock::from_fn(move || Timestamp::from_unix(reading.load(Ordering::SeqCst))),
            tuning: Tuning::default(),
            request_timeout: Duration::from_secs(30),
            auth: AuthConfig::Demo,
            source: tessera_server::Source::Memory,
            connections: tessera_server::Connections::default(),
            quotas: crate::support::unlimited(),
        })
        .unwrap();
        Server { router: router(state.clone()), state, clock }
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.clock.load(Ordering::SeqCst))
    }

    fn set_now(&self, now: i64) {
        self.clock.store(now, Ordering::SeqCst);
    }

    fn send(&self, request: Request<Body>) -> Reply {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024).await.unwrap().to_vec();
            Reply { status, headers, body }
        })
    }

    /// A bearer header for `user`, signed by the demo key.
    fn bearer(&self, user: &str) -> String {
        format!("Bearer {}", self.state.identity().demo_token(user).unwrap().0)
    }

    /// GET as Ada (a Project Manager in London).
    fn get(&self, uri: &str) -> Reply {
        self.get_as("u-ada", uri)
    }

    /// GET with no token.
    fn get_anonymously(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
    }

    fn get_as(&self, user: &str, uri: &str) -> Reply {
        self.send(
            Request::get(uri).header(header::AUTHORIZATION, self.bearer(user)).body(Body::empty()).unwrap(),
        )
    }

    fn get_if_none_match_as(&self, user: &str, uri: &str, etag: &str) -> Reply {
        self.send(
            Request::get(uri)
                .header(header::AUTHORIZATION, self.bearer(user))
                .header(header::IF_NONE_MATCH, etag)
                .body(Body::empty())
                .unwrap(),
        )
    }

    /// POSTs an override as Ellen, a network admin of EMEA.
    fn post_override(&self, body: &str) -> Reply {
        self.send(
            Request::post("/api/admin/override")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, self.bearer("u-ellen"))
                .body(Body::from(body.to_owned()))
                .unwrap(),
        )
    }

    /// Switches an override and insists that it worked; the new version.
    fn set_override(&self, office: &str, profile: &str, permission: &str, allowed: Value) -> u64 {
        let body =
            json!({ "office": office, "profile": profile, "permission": permission, "allowed": allowed });
        let reply = self.post_override(&body.to_string());
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let version = reply.json()["revision"].as_u64().unwrap();
        assert_eq!(version, self.state.version());
        version
    }

    /// The public key the server says it signs with.
    fn public_key(&self) -> PublicKey {
        let reply = self.get("/api/public-keys");
        assert_eq!(reply.status, StatusCode::OK);
        let keys = reply.json();
        let keys = keys["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let key = PublicKey::from_text(keys[0]["public_key"].as_str().unwrap()).unwrap();
        assert_eq!(keys[0]["id"], key.key_id().as_str());
        key
    }

    /// A snapshot for `user`, verified with the served key at the server's clock.
    fn snapshot(&self, user: &str) -> Snapshot {
        let reply = self.get_as(user, "/api/snapshot");
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let keys: TrustedKeys = [self.public_key()].into_iter().collect();
        Snapshot::verify(&reply.body, &keys, &VerifyOptions::new(self.now())).unwrap()
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(&name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
    }

    /// Checks a refusal: its status, JSON content type and error code.
    fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.header(header::CONTENT_TYPE), "application/json");
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{body}");
    }
}

fn create_task_in_rebrand() -> Query {
    Query::can("task.create", Target::project("p-rebrand"))
}

// ---- GET /api/snapshot ------------------------------------------------------------------------

#[test]
fn a_snapshot_is_signed_fresh_and_scoped_to_its_user() {
    let server = Server::new();
    let reply = server.get_as("u-ada", "/api/snapshot");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), "application/json");
    assert_eq!(reply.header(header::CACHE_CONTROL), "private, no-cache");

    let ada = server.snapshot("u-ada");
    let header = ada.header();
    assert_eq!(header.issuer, "tessera");
    assert_eq!(header.version, server.state.version());
    assert_eq!(header.version, T0 as u64);
    assert_eq!(header.issued_at, server.now());
    assert_eq!(header.expires_at, server.now().plus_seconds(WEEK));
    assert_eq!(header.scope, Scope::User("u-ada".to_owned()));

    let now = server.now();
    assert!(ada.decide("u-ada", &create_task_in_rebrand(), now).allowed);
    let other = ada.decide("u-cleo", &create_task_in_rebrand(), now);
    assert!(!other.allowed);
    assert_eq!(other.code.as_str(), "out_of_scope");
    // Cut to Ada: no Project from behind the firewall.
    assert!(ada.policy().project_ids().all(|id| !id.starts_with("p-nyc") && !id.starts_with("p-syd")));
}

#[test]
fn etags_answer_304_until_something_changes() {
    let server = Server::new();
    let first = server.get_as("u-ada", "/api/snapshot");
    let etag = first.header(header::ETAG).to_owned();
    assert!(etag.starts_with(&format!("W/\"{}-", server.state.version())), "{etag}");

    let again = server.get_as("u-ada", "/api/snapshot");
    assert_eq!(again.header(header::ETAG), etag, "same version, same content: same ETag");

    let not_modified = server.get_if_none_match_as("u-ada", "/api/snapshot", &etag);
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header(header::ETAG), etag);
    assert_eq!(not_modified.header(header::CACHE_CONTROL), "private, no-cache");
    // A list, a strong spelling of the same tag, `*`: the weak comparison.
    let strong = etag.strip_prefix("W/").unwrap();
    for value in [format!("\"nope\", {etag}"), strong.to_owned(), "*".to_owned()] {
        assert_eq!(
            server.get_if_none_match_as("u-ada", "/api/snapshot", &value).status,
            StatusCode::NOT_MODIFIED
        );
    }
    assert_eq!(server.get_if_none_match_as("u-ada", "/api/snapshot", "W/\"1-00\"").status, StatusCode::OK);

    // Another user's snapshot has another tag, even where it may be revalidated.
    let cleo = server.get_as("u-cleo", "/api/snapshot");
    assert_ne!(cleo.header(header::ETAG), etag);
    assert_eq!(server.get_if_none_match_as("u-cleo", "/api/snapshot", &etag).status, StatusCode::OK);

    // A change renews the tags of those whose decisions it changes (London's clients, Cleo),
    // and only theirs: Ada, a Project Manager, keeps her snapshot.
    let cleo_etag = cleo.header(header::ETAG).to_owned();
    server.set_override("o-lon", "client", "task.create", json!(true));
    assert_eq!(server.get_if_none_match_as("u-ada", "/api/snapshot", &etag).status, StatusCode::NOT_MODIFIED);
    let changed = server.get_if_none_match_as("u-cleo", "/api/snapshot", &cleo_etag);
    assert_eq!(changed.status, StatusCode::OK);
    let cleo_etag = changed.header(header::ETAG).to_owned();
    assert_eq!(
        server.get_if_none_match_as("u-cleo", "/api/snapshot", &cleo_etag).status,
        StatusCode::NOT_MODIFIED
    );

    // Nothing changes, but half a lifetime later a revalidating client gets a fresh signature
    // rather than keep one that is getting old.
    server.set_now(T0 + WEEK / 2 + 1);
    let renewed = server.get_if_none_match_as("u-ada", "/api/snapshot", &etag);
    assert_eq!(renewed.status, StatusCode::OK);
    assert_ne!(renewed.header(header::ETAG), etag);
    assert_eq!(server.snapshot("u-ada").header().expires_at, server.now().plus_seconds(WEEK));
}

#[test]
fn snapshot_requests_are_checked() {
    let server = Server::new();
    // The snapshot is the token's user's: no token, no snapshot; no `user` parameter either.
    let anonymous = server.get_anonymously("/api/snapshot");
    anonymous.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(anonymous.header(header::WWW_AUTHENTICATE), "Bearer");
    server
        .get_as("u-ada", "/api/snapshot?user=u-cleo")
        .assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    server.get_as("u-nobody", "/api/snapshot").assert_error(StatusCode::FORBIDDEN, "unknown_user");
    // An unknown parameter (a cache buster) is ignored.
    assert_eq!(server.get_as("u-ada", "/api/snapshot?_=123").status, StatusCode::OK);

    let post = Request::post("/api/snapshot").body(Body::empty()).unwrap();
    server.send(post).assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    server.get("/api/snapshots").assert_error(StatusCode::NOT_FOUND, "not_found");
    server.get("/api").assert_error(StatusCode::NOT_FOUND, "not_found");
    // Without --www, nothing but the API.
    server.get("/").assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[test]
fn the_sign_in_directory_lists_active_users_only() {
    let server = Server::new();
    let reply = server.get_anonymously("/api/users");
    assert_eq!(reply.status, StatusCode::OK);
    let org = demo_org();
    let users = reply.json()["users"].as_array().unwrap().clone();
    let active: Vec<&str> =
        org.users.iter().filter(|user| user.active).map(|user| user.id.as_str()).collect();
    assert_eq!(users.len(), active.len());
    assert!(active.len() < org.users.len(), "the demo organisation has an inactive user to leave out");
    let ada = users.iter().find(|user| user["id"] == "u-ada").unwrap();
    assert_eq!(ada["name"], org.users.iter().find(|user| user.id == "u-ada").unwrap().name.as_str());
    assert_eq!(ada["profile"], "project_manager");
    assert_eq!(ada["office"], "London");
    assert_eq!(ada["network"], "EMEA");
}

#[test]
fn the_sign_in_lookup_finds_active_users_by_name_or_id_within_its_bounds() {
    let server = Server::new();
    let org = demo_org();
    let ids = |path: &str| -> Vec<String> {
        let reply = server.get_anonymously(path);
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let body = reply.json();
        body["users"].as_array().unwrap().iter().map(|user| user["id"].as_str().unwrap().to_owned()).collect()
    };
    // By name, any case, every word; the entry's shape is the directory's.
    let reply = server.get_anonymously("/api/users?q=CLEO");
    let body = reply.json();
    assert_eq!(
        body["users"][0],
        json!({"id": "u-cleo", "name": "Cleo Barnes", "network": "EMEA", "office": "London", "profile": "client"})
    );
    assert_eq!(body["truncated"], false);
    assert_eq!(ids("/api/users?q=cleo%20barnes"), ["u-cleo"]);
    assert!(ids("/api/users?q=cleo%20smith").is_empty());
    // By id, an exact id first.
    assert_eq!(ids("/api/users?q=u-ada").first().map(String::as_str), Some("u-ada"));
    // Inactive users are never offered.
    let inactive = org.users.iter().find(|user| !user.active).unwrap();
    assert!(ids(&format!("/api/users?q={}", inactive.id)).is_empty());
    // Bounded: 20 by default, `limit` up to 50, and `truncated` says more matched.
    let everyone = ids("/api/users?q=u-");
    assert_eq!(everyone.len(), 20);
    assert_eq!(server.get_anonymously("/api/users?q=u-").json()["truncated"], true);
    let active = org.users.iter().filter(|user| user.active).count();
    assert_eq!(ids("/api/users?q=u-&limit=50").len(), active.min(50));
    assert_eq!(ids("/api/users?q=u-&limit=3"), {
        let mut names: Vec<(&str, &str)> = org
            .users
            .iter()
            .filter(|user| user.active)
            .map(|user| (user.name.as_str(), user.id.as_str()))
            .collect();
        names.sort_by_key(|(name, id)| (name.to_lowercase(), *id));
        names.into_iter().take(3).map(|(_, id)| id.to_owned()).collect::<Vec<_>>()
    });
    for bad in ["/api/users?q=a&limit=0", "/api/users?q=a&limit=51", "/api/users?q=a&limit=x"] {
        server.get_anonymously(bad).assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    }
    let long = "a".repeat(tessera_server::http::MAX_USER_QUERY_BYTES + 1);
    server
        .get_anonymously(&format!("/api/users?q={long}"))
        .assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    // Without `q`, the whole directory, as before.
    assert_eq!(ids("/api/users").len(), active);
}

// ---- GET /api/search ----------------------------------------------------------------------------

/// The Network of each Project of the demo organisation.
fn network_of_project(org: &Org, project: &str) -> String {
    let office = &org.projects.iter().find(|p| p.id == project).unwrap().office;
    org.offices.iter().find(|o| o.id == *office).unwrap().network.clone()
}

fn results(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["results"].as_array().unwrap().clone()
}

/// What `user`'s search of everything must answer: every Project, item and person their own
/// snapshot lets them see, by the question the client would ask of each, and nothing else.
fn visible_to(server: &Server, user: &str) -> BTreeSet<(String, String)> {
    let snapshot = server.snapshot(user);
    let now = server.now();
    let mut expected = BTreeSet::new();
    for project in &demo_org().projects {
        if snapshot.allows(user, &Query::view(ResourceKind::Project, project.id.clone()), now) {
            expected.insert(("project".to_owned(), project.id.clone()));
        }
    }
    for item in demo_content() {
        let query = Query::view_in(item.kind, item.id.clone(), item.project.clone());
        if snapshot.policy().project_index(&item.project).is_some() && snapshot.allows(user, &query, now) {
            expected.insert((item.kind.as_str().to_owned(), item.id.clone()));
        }
    }
    for person in &demo_org().users {
        let held = snapshot.policy().user_summary(&person.id).is_some_and(|summary| summary.active);
        if held && snapshot.allows(user, &Query::can("people.search", Target::person(person.id.clone())), now)
        {
            expected.insert(("person".to_owned(), person.id.clone()));
        }
    }
    expected
}

fn kinds_and_ids(found: &[Value]) -> BTreeSet<(String, String)> {
    found
        .iter()
        .map(|r| (r["kind"].as_str().unwrap().to_owned(), r["id"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn search_answers_only_what_the_caller_may_see_and_all_of_it() {
    let server = Server::new();
    let org = demo_org();
    for user in ["u-cleo", "u-ada", "u-ellen", "u-sam", "u-hugo", "u-nina"] {
        let reply = server.get_as(user, "/api/search?q=&limit=10000");
        assert_eq!(reply.header(header::CACHE_CONTROL), "private, no-store");
        assert_eq!(reply.header(header::VARY), "Authorization");
        assert_eq!(reply.json()["truncated"], false);
        assert_eq!(
            reply.header(header::HeaderName::from_static("tessera-snapshot-version")),
            server.state.issuer().current().version_of(user).to_string()
        );
        let found = results(&reply);
        assert_eq!(kinds_and_ids(&found), visible_to(&server, user), "{user}");
        assert!(found.iter().all(|r| r["id"] != "u-tom"), "inactive people are never results");
    }
    // Cleo, a Client in London: nothing of APAC, which the firewall hides from her.
    let cleo = results(&server.get_as("u-cleo", "/api/search?q=&limit=10000"));
    for result in &cleo {
        if let Some(project) = result["project"].as_str() {
            assert_ne!(network_of_project(&org, project), "n-apac", "{result}");
        }
    }
    let apac_budget = results(&server.get_as("u-cleo", "/api/search?q=budget"));
    assert!(apac_budget.iter().all(|r| network_of_project(&org, r["project"].as_str().unwrap()) != "n-apac"));
}

#[test]
fn search_has_the_documented_shape_and_order() {
    let server = Server::new();
    let reply = server.get_as("u-ellen", "/api/search?q=budget");
    assert_eq!(reply.header(header::CONTENT_TYPE), "application/json");
    let body = reply.json();
    assert_eq!(body["query"], "budget");
    let found = results(&reply);
    assert!(!found.is_empty());
    for result in &found {
        let object = result.as_object().unwrap();
        let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["kind", "id", "title", "project"]), "{result}");
        assert!(result["title"].as_str().unwrap().to_lowercase().contains("budget"), "{result}");
    }
    // Case does not matter; every term must match, in the title or the id.
    assert_eq!(results(&server.get_as("u-ellen", "/api/search?q=BuDgEt")), found);
    assert!(results(&server.get_as("u-ellen", "/api/search?q=budget%20zebra")).is_empty());
    let by_id = results(&server.get_as("u-ada", "/api/search?q=t-lon-website-1"));
    assert_eq!(by_id[0]["id"], "t-lon-website-1");
    assert_eq!(by_id[0]["title"], "Draft homepage copy");
    // People carry no project; a Project names itself.
    let ada = results(&server.get("/api/search?q=lovelace"));
    assert_eq!(ada, vec![json!({ "kind": "person", "id": "u-ada", "title": "Ada Lovelace" })]);
    let website = results(&server.get("/api/search?q=website%20relaunch"));
    assert_eq!(
        website,
        vec![
            json!({ "kind": "project", "id": "p-lon-website", "title": "Website Relaunch", "project": "p-lon-website" })
        ]
    );

    // Kind (project, task, document, report, finance, person), then id; `truncated` only when
    // visible matches were left out.
    let everything = results(&server.get_as("u-ellen", "/api/search?q=&limit=10000"));
    let order: Vec<(usize, String)> = everything
        .iter()
        .map(|result| {
            let kind = ResourceKind::parse(result["kind"].as_str().unwrap()).unwrap();
            (
                ResourceKind::ALL.iter().position(|k| *k == kind).unwrap(),
                result["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    let first = server.get_as("u-ellen", &format!("/api/search?limit={}", everything.len()));
    assert_eq!(first.json()["truncated"], false, "exactly all of them: nothing left out");
    let five = server.get_as("u-ellen", "/api/search?limit=5");
    assert_eq!(results(&five), everything[..5]);
    assert_eq!(five.json()["truncated"], true);
}

#[test]
fn search_parameters_are_checked() {
    let server = Server::new();
    for bad in ["0", "-1", "abc", "10001", "1.5", ""] {
        server
            .get(&format!("/api/search?q=x&limit={bad}"))
            .assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    }
    assert_eq!(server.get("/api/search?limit=10000").status, StatusCode::OK);
    let long = "a".repeat(257);
    server.get(&format!("/api/search?q={long}")).assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    let many = ["a"; 9].join("%20");
    server.get(&format!("/api/search?q={many}")).assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    assert_eq!(server.get(&format!("/api/search?q={}", ["a"; 8].join("%20"))).status, StatusCode::OK);
    server.get("/api/search?q=a&q=b").assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
}

// ---- POST /api/admin/override -------------------------------------------------------------------

#[test]
fn an_override_changes_decisions_and_the_version() {
    let server = Server::new();
    let now = server.now();
    let before = server.state.version();
    let cleo = server.snapshot("u-cleo");
    assert_eq!(
        cleo.decide("u-cleo", &create_task_in_rebrand(), now).code.as_str(),
        "profile_lacks_permission"
    );

    let on = server.set_override("o-lon", "client", "task.create", json!(true));
    assert!(on > before, "{on} > {before}");
    let cleo = server.snapshot("u-cleo");
    assert_eq!(cleo.header().version, on);
    let decision = cleo.decide("u-cleo", &create_task_in_rebrand(), now);
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(decision.code.as_str(), "office_override_on");

    // The same switch again changes nothing, and the version stays.
    let reply = server
        .post_override(r#"{"office":"o-lon","profile":"client","permission":"task.create","allowed":true}"#);
    assert_eq!(reply.json(), json!({ "revision": on, "changed": false }));
    assert_eq!(reply.header(header::CACHE_CONTROL), "no-store");

    // Off, then removed: each a change, each a higher version, within the same second.
    let off = server.set_override("o-lon", "client", "task.create", json!(false));
    assert!(off > on);
    assert_eq!(
        server.snapshot("u-cleo").decide("u-cleo", &create_task_in_rebrand(), now).code.as_str(),
        "office_override_off"
    );
    let removed = server.set_override("o-lon", "client", "task.create", Value::Null);
    assert!(removed > off);
    // Removed, London's clients are denied as when it was off: the impact analysis finds no
    // decision of Cleo's that changed, so she keeps that snapshot, its version and its tag.
    let cleo = server.snapshot("u-cleo");
    assert_eq!(cleo.header().version, off);
    assert!(!cleo.decide("u-cleo", &create_task_in_rebrand(), now).allowed);

    // An existing override of the demo, removed: Berlin's account managers may create Projects again.
    let anna_like = demo_org()
        .users
        .iter()
        .find(|u| u.home_office == "o-ber" && u.profile == "account_manager" && u.active)
        .map(|u| u.id.clone())
        .unwrap();
    let create_project = Query::can("project.create", Target::none());
    let before = server.snapshot(&anna_like).decide(&anna_like, &create_project, now);
    assert_eq!(before.code.as_str(), "office_override_off");
    server.set_override("o-ber", "account_manager", "project.create", Value::Null);
    let after = server.snapshot(&anna_like).decide(&anna_like, &create_project, now);
    assert_ne!(after.code.as_str(), "office_override_off");
}

#[test]
fn a_refused_override_changes_nothing() {
    let server = Server::new();
    let version = server.state.version();
    let snapshot_etag = server.get_as("u-cleo", "/api/snapshot").header(header::ETAG).to_owned();
    let unprocessable = [
        (
            r#"{"office":"o-nowhere","profile":"client","permission":"task.create","allowed":true}"#,
            "unknown_id",
        ),
        (r#"{"office":"o-lon","profile":"wizard","permission":"task.create","allowed":true}"#, "unknown_id"),
        // `auditor` is a profile of n-amer only.
        (r#"{"office":"o-lon","profile":"auditor","permission":"task.create","allowed":true}"#, "unknown_id"),
        (r#"{"office":"o-lon","profile":"client","permission":"coffee.make","allowed":true}"#, "unknown_id"),
        (
            r#"{"office":"o-lon","profile":"client","permission":"network.manage","allowed":true}"#,
            "unknown_id",
        ),
        (
            r#"{"office":"o-lon","profile":"client","permission":"group.create","allowed":false}"#,
            "unknown_id",
        ),
    ];
    for (body, code) in unprocessable {
        server.post_override(body).assert_error(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let bad_json = [
        "",
        "{",
        "[]",
        r#"{"office":"o-lon","profile":"client","permission":"task.create"}"#,
        r#"{"office":"o-lon","profile":"client","permission":"task.create","allowed":"yes"}"#,
        r#"{"office":"o-lon","profile":"client","permission":"task.create","allowed":1}"#,
        r#"{"office":"o-lon","profile":"client","permission":"task.create","allowed":true,"also":1}"#,
        r#"{"office":7,"profile":"client","permission":"task.create","allowed":true}"#,
    ];
    for body in bad_json {
        server.post_override(body).assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    }
    let good = r#"{"office":"o-lon","profile":"client","permission":"task.create","allowed":true}"#;
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut request = Request::post("/api/admin/override");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request = request.header(header::AUTHORIZATION, server.bearer("u-ellen"));
        server
            .send(request.body(Body::from(good)).unwrap())
            .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    let huge = format!(
        r#"{{"office":"{}","profile":"client","permission":"task.create","allowed":true}}"#,
        "o".repeat(70_000)
    );
    server.post_override(&huge).assert_error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    server.get("/api/admin/override").assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");

    assert_eq!(server.state.version(), version);
    let again = server.get_if_none_match_as("u-cleo", "/api/snapshot", &snapshot_etag);
    assert_eq!(again.status, StatusCode::NOT_MODIFIED, "the organisation changed");

    // `application/json; charset=utf-8` is JSON too.
    let reply = server.send(
        Request::post("/api/admin/override")
            .header(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")
            .header(header::AUTHORIZATION, server.bearer("u-ellen"))
            .body(Body::from(good))
            .unwrap(),
    );
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

// ---- Versions -----------------------------------------------------------------------------------

#[test]
fn versions_grow_within_a_run_and_across_restarts() {
    let first = Server::with(None, T0);
    assert_eq!(first.state.version(), T0 as u64, "a server starts at the Unix time");
    // Three changes in one second run ahead of the clock, one version each.
    let mut last = first.state.version();
    for allowed in [json!(true), json!(false), json!(true)] {
        let version = first.set_override("o-lon", "client", "task.create", allowed);
        assert_eq!(version, last + 1);
        last = version;
    }
    assert_eq!(last, T0 as u64 + 3);
    // A change later on jumps to the clock.
    first.set_now(T0 + 100);
    assert_eq!(first.set_override("o-lon", "client", "task.create", Value::Null), T0 as u64 + 100);

    // A restart, later, starts above every version the old server signed: clients that stored
    // the highest version they accepted take the new server's snapshots.
    let restarted = Server::with(None, T0 + 101);
    assert!(restarted.state.version() > T0 as u64 + 100);
    let snapshot = restarted.snapshot("u-ada");
    let keys: TrustedKeys = [restarted.public_key()].into_iter().collect();
    let mut options = VerifyOptions::new(restarted.now());
    options.min_version = T0 as u64 + 100;
    let bytes = restarted.get_as("u-ada", "/api/snapshot").body;
    assert!(Snapshot::verify(&bytes, &keys, &options).is_ok());
    assert!(snapshot.header().version > T0 as u64 + 100);
}

// ---- Static files -------------------------------------------------------------------------------

fn www(scratch: &Scratch) -> PathBuf {
    let files: [(&str, &[u8]); 6] = [
        ("index.html", b"<!doctype html><title>Tessera</title>"),
        ("app.wasm", b"\0asm\x01\0\0\0"),
        ("manifest.webmanifest", b"{\"name\":\"Tessera\"}"),
        ("sw.js", b"self.addEventListener('fetch', () => {});"),
        ("style.css", b"body { margin: 0 }"),
        (".secret", b"not for browsers"),
    ];
    let dir = scratch.path("www");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.join(name), contents).unwrap();
    }
    std::fs::write(dir.join("assets/logo.svg"), "<svg/>").unwrap();
    dir
}

#[test]
fn static_files_with_the_right_types_and_an_index_fallback() {
    let scratch = Scratch::new("serve-www");
    let server = Server::with(Some(www(&scratch)), T0);

    let index = server.get("/");
    assert_eq!(index.status, StatusCode::OK);
    assert_eq!(index.text(), "<!doctype html><title>Tessera</title>");
    assert!(index.header(header::CONTENT_TYPE).starts_with("text/html"));
    assert_eq!(index.header(header::CACHE_CONTROL), "no-cache");
    // The app runs under a Content-Security-Policy: no inline script, no frames.
    let csp = index.header(header::CONTENT_SECURITY_POLICY);
    assert_eq!(csp, tessera_server::http::APP_CSP);
    for directive in ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "frame-ancestors 'none'"]
    {
        assert!(csp.split("; ").any(|d| d == directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"), "{csp}");

    // Client-side routes reload: no file, no extension, not /api/.
    for route in ["/projects", "/projects/p-rebrand", "/search/budget"] {
        let reply = server.get(route);
        assert_eq!(reply.status, StatusCode::OK, "{route}");
        assert_eq!(reply.body, index.body, "{route}");
        assert_eq!(reply.header(header::CACHE_CONTROL), "no-cache", "{route}");
        assert_eq!(reply.header(header::CONTENT_SECURITY_POLICY), csp, "{route}");
    }
    // A missing file with an extension is missing; so is an unknown API.
    assert_eq!(server.get("/missing.js").status, StatusCode::NOT_FOUND);
    assert_eq!(server.get("/assets/missing.png").status, StatusCode::NOT_FOUND);
    server.get("/api/unknown").assert_error(StatusCode::NOT_FOUND, "not_found");

    let wasm = server.get("/app.wasm");
    assert_eq!(wasm.status, StatusCode::OK);
    assert_eq!(wasm.header(header::CONTENT_TYPE), "application/wasm");
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0");
    assert_eq!(server.get("/manifest.webmanifest").header(header::CONTENT_TYPE), "application/manifest+json");
    let worker = server.get("/sw.js");
    assert!(worker.header(header::CONTENT_TYPE).contains("javascript"));
    assert_eq!(worker.header(header::CACHE_CONTROL), "no-cache");
    let css = server.get("/style.css");
    assert!(css.header(header::CONTENT_TYPE).starts_with("text/css"));
    // Every file is revalidated, so a new build never mixes with an old one.
    assert_eq!(css.header(header::CACHE_CONTROL), "no-cache");
    assert_eq!(wasm.header(header::CACHE_CONTROL), "no-cache");
    assert_eq!(server.get("/assets/logo.svg").header(header::CONTENT_TYPE), "image/svg+xml");
    assert_eq!(css.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");

    // Nothing outside the directory, and no dot-files.
    assert_eq!(server.get("/.secret").status, StatusCode::NOT_FOUND);
    assert_eq!(server.get("/../Cargo.toml").status, StatusCode::NOT_FOUND);
    assert_eq!(server.get("/%2e%2e/Cargo.toml").status, StatusCode::NOT_FOUND);
    let post = Request::post("/index.html").body(Body::empty()).unwrap();
    server.send(post).assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");

    // The API is still there.
    assert_eq!(server.get_as("u-ada", "/api/snapshot").status, StatusCode::OK);
}

// ---- The demo content -----------------------------------------------------------------------------

#[test]
fn the_demo_content_fits_the_demo_organisation() {
    let org = demo_org();
    let items = demo_content();
    validate_content(&items, &org).unwrap();
    assert!((300..=400).contains(&items.len()), "{} items", items.len());
    for project in &org.projects {
        for kind in [ResourceKind::Task, ResourceKind::Document] {
            assert!(
                items.iter().any(|item| item.project == project.id && item.kind == kind),
                "{} has no {kind}",
                project.id
            );
        }
    }
    for kind in [ResourceKind::Report, ResourceKind::Finance] {
        let projects: BTreeSet<&str> =
            items.iter().filter(|item| item.kind == kind).map(|item| item.project.as_str()).collect();
        assert!(projects.len() >= 10, "{kind}: {projects:?}");
    }
    // Words that cross Networks, for the client-side filtering demo.
    for word in ["budget", "website", "launch", "review"] {
        let networks: BTreeSet<String> = items
            .iter()
            .filter(|item| item.title.to_lowercase().contains(word))
            .map(|item| network_of_project(&org, &item.project))
            .collect();
        assert_eq!(networks.len(), 3, "{word}: {networks:?}");
    }
}

#[test]
fn bad_content_is_refused_with_every_problem_named() {
    let org = demo_org();
    let items = parse_content(
        br#"{"items": [
            {"kind": "task", "id": "t-1", "title": "Fine", "project": "p-rebrand"},
            {"kind": "task", "id": "t-1", "title": "Twice", "project": "p-rebrand"},
            {"kind": "document", "id": "d-1", "title": "Lost", "project": "p-nowhere"},
            {"kind": "project", "id": "p-x", "title": "Not here", "project": "p-rebrand"},
            {"kind": "report", "id": "", "title": " ", "project": "p-rebrand"}
        ]}"#,
    )
    .unwrap();
    let error = validate_content(&items, &org).unwrap_err().to_string();
    assert!(error.starts_with("5 problems in the content: "), "{error}");
    for part in [
        "item 1 (`t-1`): task id `t-1` is used twice",
        "item 2 (`d-1`): unknown project `p-nowhere`",
        "item 3 (`p-x`): kind `project` is not one of task, document, report, finance",
        "item 4 (``): the id must be",
        "item 4 (``): the title must be",
    ] {
        assert!(error.contains(part), "{part}\n{error}");
    }
    for bad in [
        r#"{"items": [{"kind": "widget", "id": "w", "title": "W", "project": "p-rebrand"}]}"#,
        r#"{"items": [{"kind": "task", "id": "t", "title": "T", "project": "p-rebrand", "x": 1}]}"#,
        r#"[{"kind": "task", "id": "t", "title": "T", "project": "p-rebrand"}]"#,
    ] {
        assert!(parse_content(bad.as_bytes()).is_err(), "{bad}");
    }
}
