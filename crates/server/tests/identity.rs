//! Hostile requests: each with the status and error code it must get, nothing applied and
//! nothing leaked. Tokens come from a stand-in identity provider (Ed25519 keys made here, a
//! JWKS file or a JWKS URL served on loopback), and from the demo's own key.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tessera_server::identity::{AuthConfig, JwksRefresh, JwksSource};
use tessera_server::{AppState, router};
use tower::ServiceExt as _;

use crate::support::{Scratch, config, demo_org};

const ISSUER: &str = "https://id.example.test";
const AUDIENCE: &str = "tessera";

/// A stand-in identity provider: Ed25519 keys from fixed seeds.
struct Provider;

impl Provider {
    fn public(seed: u8) -> String {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes())
    }

    fn jwks(keys: &[(u8, &str)]) -> String {
        let keys: Vec<Value> = keys
            .iter()
            .map(|(seed, kid)| json!({"kty": "OKP", "crv": "Ed25519", "x": Provider::public(*seed), "kid": kid, "alg": "EdDSA", "use": "sig"}))
            .collect();
        json!({ "keys": keys }).to_string()
    }

    fn encoding(seed: u8) -> EncodingKey {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ];
        der.extend_from_slice(&[seed; 32]);
        EncodingKey::from_ed_der(&der)
    }

    /// A token signed with key `seed`, header `kid`, and these claims.
    fn token(seed: u8, kid: Option<&str>, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &Provider::encoding(seed)).unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    /// Good claims for `user`.
    fn claims(user: &str) -> Value {
        let now = Provider::now();
        json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": user, "iat": now, "nbf": now, "exp": now + 600 })
    }

    /// A good token for `user`, signed by key 1.
    fn good(user: &str) -> String {
        Provider::token(1, Some("k1"), &Provider::claims(user))
    }
}

fn state(auth: AuthConfig) -> AppState {
    AppState::new(config(auth)).unwrap()
}

/// A server that trusts key 1 (`k1`) from a JWKS file.
fn jwt_server(scratch: &Scratch) -> AppState {
    let path = scratch.path("jwks.json");
    std::fs::write(&path, Provider::jwks(&[(1, "k1")])).unwrap();
    state(AuthConfig::Jwt {
        jwks: JwksSource::File(path),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        user_claim: "sub".to_owned(),
        service_scope: None,
        refresh: JwksRefresh::default(),
    })
}

struct Reply {
    status: StatusCode,
    challenge: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Insists on this status and error code.
    fn is(&self, status: StatusCode, code: &str) -> &Reply {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.json()["error"]["code"], code, "{}", String::from_utf8_lossy(&self.body));
        self
    }
}

fn send(state: &AppState, request: Request<Body>) -> Reply {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response = router(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let challenge =
            response.headers().get(header::WWW_AUTHENTICATE).map(|value| value.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
        Reply { status, challenge, body }
    })
}

/// GET `uri` with this `Authorization` header (none for `None`).
fn get(state: &AppState, uri: &str, authorization: Option<&str>) -> Reply {
    let mut request = Request::get(uri);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    send(state, request.body(Body::empty()).unwrap())
}

fn snapshot_as(state: &AppState, token: &str) -> Reply {
    get(state, "/api/snapshot", Some(&format!("Bearer {token}")))
}

fn post(state: &AppState, uri: &str, token: Option<&str>, body: &str) -> Reply {
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    send(state, request.body(Body::from(body.to_owned())).unwrap())
}

/// A 401 with `WWW-Authenticate: Bearer…` and this code.
fn refused(reply: &Reply, code: &str) {
    reply.is(StatusCode::UNAUTHORIZED, code);
    assert!(reply.challenge.as_deref().is_some_and(|c| c.starts_with("Bearer")), "{:?}", reply.challenge);
}

#[test]
fn a_snapshot_is_only_for_the_one_who_asks() {
    let scratch = Scratch::new("own");
    let state = jwt_server(&scratch);
    let reply = snapshot_as(&state, &Provider::good("u-ada"));
    assert_eq!(reply.status, StatusCode::OK);
    let text = String::from_utf8(reply.body).unwrap();
    let envelope: Value = serde_json::from_str(&text).unwrap();
    let payload =
        base64::engine::general_purpose::STANDARD.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let payload: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(payload["header"]["scope"], "user:u-ada");
    // Asking for another's is refused, whoever asks.
    get(&state, "/api/snapshot?user=u-cleo", Some(&format!("Bearer {}", Provider::good("u-ada"))))
        .is(StatusCode::BAD_REQUEST, "invalid_parameter");
}

#[test]
fn tokens_that_are_not_to_be_trusted_are_refused() {
    let scratch = Scratch::new("tokens");
    let state = jwt_server(&scratch);
    let now = Provider::now();
    let with = |change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut claims = Provider::claims("u-ada");
        change(claims.as_object_mut().unwrap());
        Provider::token(1, Some("k1"), &claims)
    };
    // 1. No token.
    let none = get(&state, "/api/snapshot", None);
    refused(&none, "unauthenticated");
    assert_eq!(none.challenge.as_deref(), Some("Bearer"));
    // 2–4. A malformed header: another scheme, not a JWT, nothing after the scheme.
    refused(&get(&state, "/api/snapshot", Some("Basic dTpw")), "invalid_token");
    refused(&get(&state, "/api/snapshot", Some("Bearer not-a-jwt")), "invalid_token");
    refused(&get(&state, "/api/snapshot", Some("Bearer")), "invalid_token");
    // 5. `alg: none`, unsigned.
    let b64 = |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned =
        format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&Provider::claims("u-ada")));
    refused(&snapshot_as(&state, &unsigned), "invalid_token");
    // 6. HS256 signed with the public key's bytes (the classic key confusion).
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some("k1".to_owned());
    let public = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(Provider::public(1)).unwrap();
    let hmac = jsonwebtoken::encode(
        &header,
        &Provider::claims("u-ada"),
        &EncodingKey::from_secret(&public).unwrap(),
    )
    .unwrap();
    refused(&snapshot_as(&state, &hmac), "invalid_token");
    // 7. Signed by a key the server does not trust, under an unknown kid and under k1's.
    refused(
        &snapshot_as(&state, &Provider::token(2, Some("k2"), &Provider::claims("u-ada"))),
        "invalid_token",
    );
    refused(
        &snapshot_as(&state, &Provider::token(2, Some("k1"), &Provider::claims("u-ada"))),
        "invalid_token",
    );
    // 8. Expired (past the leeway), and 9. not yet valid.
    refused(
        &snapshot_as(&state, &with(&|c| drop(c.insert("exp".into(), json!(now - 120))))),
        "invalid_token",
    );
    refused(
        &snapshot_as(&state, &with(&|c| drop(c.insert("nbf".into(), json!(now + 600))))),
        "invalid_token",
    );
    // 10. Wrong issuer, 11. wrong audience, 12. no audience.
    refused(
        &snapshot_as(&state, &with(&|c| drop(c.insert("iss".into(), json!("https://evil.test"))))),
        "invalid_token",
    );
    refused(
        &snapshot_as(&state, &with(&|c| drop(c.insert("aud".into(), json!("someone-else"))))),
        "invalid_token",
    );
    refused(&snapshot_as(&state, &with(&|c| drop(c.remove("aud")))), "invalid_token");
    // 13. No user claim, 14. a user claim that is not a string, 15. no expiry.
    refused(&snapshot_as(&state, &with(&|c| drop(c.remove("sub")))), "invalid_token");
    refused(&snapshot_as(&state, &with(&|c| drop(c.insert("sub".into(), json!(42))))), "invalid_token");
    refused(&snapshot_as(&state, &with(&|c| drop(c.remove("exp")))), "invalid_token");
    // 16. An oversized token.
    let huge = with(&|c| drop(c.insert("padding".into(), json!("x".repeat(10_000)))));
    refused(&snapshot_as(&state, &huge), "invalid_token");
    // 17. A good token with its signature tampered.
    let good = Provider::good("u-ada");
    let mut tampered = good.clone();
    tampered.push('A');
    refused(&snapshot_as(&state, &tampered), "invalid_token");
    // 18–19. A user the organisation lacks, an inactive user: authenticated, not served.
    snapshot_as(&state, &Provider::good("u-nobody")).is(StatusCode::FORBIDDEN, "unknown_user");
    let inactive = demo_org().users.iter().find(|user| !user.active).unwrap().id.clone();
    snapshot_as(&state, &Provider::good(&inactive)).is(StatusCode::FORBIDDEN, "inactive_user");
    // 20. The demo's routes do not exist here, and search needs a token.
    get(&state, "/api/users", None).is(StatusCode::NOT_FOUND, "not_found");
    post(&state, "/api/demo/sign-in", None, r#"{"user":"u-ada"}"#).is(StatusCode::NOT_FOUND, "not_found");
    refused(&get(&state, "/api/search?q=a", None), "unauthenticated");
    // And the good token works.
    assert_eq!(snapshot_as(&state, &good).status, StatusCode::OK);
}

#[test]
fn another_claim_may_name_the_user() {
    let scratch = Scratch::new("claim");
    let path = scratch.path("jwks.json");
    std::fs::write(&path, Provider::jwks(&[(1, "k1")])).unwrap();
    let state = state(AuthConfig::Jwt {
        jwks: JwksSource::File(path),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        user_claim: "employee_id".to_owned(),
        service_scope: None,
        refresh: JwksRefresh::default(),
    });
    let mut claims = Provider::claims("someone@example.test");
    claims["employee_id"] = json!("u-cleo");
    assert_eq!(snapshot_as(&state, &Provider::token(1, Some("k1"), &claims)).status, StatusCode::OK);
    refused(&snapshot_as(&state, &Provider::good("u-cleo")), "invalid_token");
}

/// Serves `jwks` at `http://127.0.0.1:PORT/jwks.json` until the test ends; counts the fetches.
fn serve_jwks(jwks: Arc<Mutex<String>>, fetches: Arc<Mutex<u32>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            *fetches.lock().unwrap() += 1;
            let body = jwks.lock().unwrap().clone();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn a_jwks_url_is_fetched_again_for_a_new_key_at_a_bounded_rate() {
    let jwks = Arc::new(Mutex::new(Provider::jwks(&[(1, "k1")])));
    let fetches = Arc::new(Mutex::new(0));
    let url = serve_jwks(Arc::clone(&jwks), Arc::clone(&fetches));
    let state = state(AuthConfig::Jwt {
        jwks: JwksSource::Url(url),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        user_claim: "sub".to_owned(),
        service_scope: None,
        refresh: JwksRefresh::default(),
    });
    assert_eq!(*fetches.lock().unwrap(), 1, "fetched at start");
    assert_eq!(snapshot_as(&state, &Provider::good("u-ada")).status, StatusCode::OK);
    // The provider rotates in key 2: a token under its kid makes the server fetch again.
    *jwks.lock().unwrap() = Provider::jwks(&[(1, "k1"), (2, "k2")]);
    let rotated = Provider::token(2, Some("k2"), &Provider::claims("u-ada"));
    assert_eq!(snapshot_as(&state, &rotated).status, StatusCode::OK);
    assert_eq!(*fetches.lock().unwrap(), 2);
    // Unknown kids do not make it fetch again within the interval: no amplification.
    for seed in 3..8 {
        let kid = format!("k{seed}");
        refused(
            &snapshot_as(&state, &Provider::token(seed, Some(&kid), &Provider::claims("u-ada"))),
            "invalid_token",
        );
    }
    assert_eq!(*fetches.lock().unwrap(), 2);
}

#[test]
fn the_demo_signs_in_anyone_active_and_its_tokens_are_verified_like_any_other() {
    let state = state(AuthConfig::Demo);
    let reply = post(&state, "/api/demo/sign-in", None, r#"{"user":"u-cleo"}"#);
    assert_eq!(reply.status, StatusCode::OK);
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    assert!(reply.json()["expires_at"].is_string());
    assert_eq!(snapshot_as(&state, &token).status, StatusCode::OK);
    post(&state, "/api/demo/sign-in", None, r#"{"user":"u-nobody"}"#)
        .is(StatusCode::FORBIDDEN, "unknown_user");
    let inactive = demo_org().users.iter().find(|user| !user.active).unwrap().id.clone();
    post(&state, "/api/demo/sign-in", None, &json!({"user": inactive}).to_string())
        .is(StatusCode::FORBIDDEN, "inactive_user");
    post(&state, "/api/demo/sign-in", None, r#"{"user":"u-cleo","admin":true}"#)
        .is(StatusCode::BAD_REQUEST, "invalid_json");
    // A token of another provider means nothing to the demo.
    refused(&snapshot_as(&state, &Provider::good("u-cleo")), "invalid_token");
    assert_eq!(get(&state, "/api/users", None).status, StatusCode::OK);
}

// ---- Administration ------------------------------------------------------------------------

const CLIENTS_CREATE_TASKS: &str =
    r#"{"edit":"override_on","office":"o-lon","profile":"client","permission":"task.create"}"#;

fn batch(edits: &[&str]) -> String {
    format!(r#"{{"edits":[{}]}}"#, edits.join(","))
}

#[test]
fn only_those_the_evaluator_lets_manage_may_edit() {
    let scratch = Scratch::new("admin");
    let state = jwt_server(&scratch);
    let version = state.version();
    let as_ = |user: &str| Provider::good(user);
    // 21. No token.
    refused(&post(&state, "/api/admin/edits", None, &batch(&[CLIENTS_CREATE_TASKS])), "unauthenticated");
    // 22. A non-administrator (Cleo, a Client in London): 403 with the evaluator's decision.
    let reply = post(&state, "/api/admin/edits", Some(&as_("u-cleo")), &batch(&[CLIENTS_CREATE_TASKS]));
    reply.is(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(reply.json()["error"]["edit"], 0);
    assert_eq!(reply.json()["error"]["decision"]["allowed"], false);
    assert_eq!(reply.json()["error"]["decision"]["code"], "not_network_admin");
    // 23. An administrator of another Network (Iris, network admin of the Americas): London is
    // behind her firewall, and answers as an Office that does not exist, naming nothing.
    let reply = post(&state, "/api/admin/edits", Some(&as_("u-iris")), &batch(&[CLIENTS_CREATE_TASKS]));
    reply.is(StatusCode::UNPROCESSABLE_ENTITY, "unknown_id");
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    assert!(!text.contains("n-emea") && !text.contains("firewall"), "{text}");
    // 24. One unauthorised edit among good ones: Ellen administers EMEA, not New York.
    let nyc = r#"{"edit":"override_on","office":"o-nyc","profile":"client","permission":"task.create"}"#;
    let reply = post(&state, "/api/admin/edits", Some(&as_("u-ellen")), &batch(&[CLIENTS_CREATE_TASKS, nyc]));
    reply.is(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(reply.json()["error"]["edit"], 1);
    // 25. Unknown ids.
    let unknown =
        r#"{"edit":"override_on","office":"o-nowhere","profile":"client","permission":"task.create"}"#;
    post(&state, "/api/admin/edits", Some(&as_("u-ellen")), &batch(&[unknown]))
        .is(StatusCode::UNPROCESSABLE_ENTITY, "unknown_id");
    let unknown_user = r#"{"edit":"add_to_team","user":"u-nobody","project":"p-rebrand"}"#;
    post(&state, "/api/admin/edits", Some(&as_("u-ellen")), &batch(&[unknown_user]))
        .is(StatusCode::UNPROCESSABLE_ENTITY, "unknown_id");
    // 26. A stale `expect_revision`.
    let stale = format!(r#"{{"edits":[{CLIENTS_CREATE_TASKS}],"expect_revision":{}}}"#, version - 1);
    let reply = post(&state, "/api/admin/edits", Some(&as_("u-ellen")), &stale);
    reply.is(StatusCode::CONFLICT, "stale_revision");
    assert_eq!(reply.json()["error"]["revision"], version);
    // 27. Unknown fields, in the batch and in an edit; a kind of edit that does not exist.
    for body in [
        format!(r#"{{"edits":[{CLIENTS_CREATE_TASKS}],"force":true}}"#),
        batch(&[
            r#"{"edit":"override_on","office":"o-lon","profile":"client","permission":"task.create","x":1}"#,
        ]),
        batch(&[r#"{"edit":"make_me_admin"}"#]),
        "{}".to_owned(),
    ] {
        post(&state, "/api/admin/edits", Some(&as_("u-ellen")), &body)
            .is(StatusCode::BAD_REQUEST, "invalid_json");
    }
    // 28. An oversized body, 29. not JSON by its type, 30. too many edits.
    let huge = batch(&vec![CLIENTS_CREATE_TASKS; 1000]);
    post(&state, "/api/admin/edits", Some(&as_("u-ellen")), &huge)
        .is(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let plain = Request::post("/api/admin/edits")
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::AUTHORIZATION, format!("Bearer {}", as_("u-ellen")))
        .body(Body::from(batch(&[CLIENTS_CREATE_TASKS])))
        .unwrap();
    send(&state, plain).is(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let many = batch(&vec![CLIENTS_CREATE_TASKS; 101]);
    post(&state, "/api/admin/edits", Some(&as_("u-ellen")), &many)
        .is(StatusCode::UNPROCESSABLE_ENTITY, "too_many_edits");
    // 31. Previews and another's denials are administration too.
    post(&state, "/api/admin/preview", Some(&as_("u-cleo")), &batch(&[CLIENTS_CREATE_TASKS]))
        .is(StatusCode::FORBIDDEN, "forbidden");
    get(&state, "/api/admin/denials?user=u-ada", Some(&format!("Bearer {}", as_("u-cleo"))))
        .is(StatusCode::FORBIDDEN, "forbidden");
    // Someone behind the firewall answers as someone who does not exist.
    get(&state, "/api/admin/denials?user=u-cleo", Some(&format!("Bearer {}", as_("u-iris"))))
        .is(StatusCode::NOT_FOUND, "unknown_user");
    // 32. The old override switch is the same edit, held to the same rule.
    post(
        &state,
        "/api/admin/override",
        Some(&as_("u-cleo")),
        r#"{"office":"o-lon","profile":"client","permission":"task.create","allowed":true}"#,
    )
    .is(StatusCode::FORBIDDEN, "forbidden");

    // Nothing was applied by any of them.
    assert_eq!(state.version(), version);

    // The administrator of London's Network may: previewed, then applied, as one revision.
    let reply = post(&state, "/api/admin/preview", Some(&as_("u-ellen")), &batch(&[CLIENTS_CREATE_TASKS]));
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let impact = reply.json()["impact"]["users"].clone();
    assert!(impact.as_array().unwrap().iter().any(|user| user["user"] == "u-cleo"), "{impact}");
    assert_eq!(state.version(), version, "a preview applies nothing");
    let current = format!(r#"{{"edits":[{CLIENTS_CREATE_TASKS}],"expect_revision":{version}}}"#);
    let reply = post(&state, "/api/admin/edits", Some(&as_("u-ellen")), &current);
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["changed"], true);
    assert!(state.version() > version);
    assert_eq!(reply.json()["revision"], state.version());
    // Her view of Cleo's denials: creating tasks in London is no longer one of them.
    let reply = get(&state, "/api/admin/denials?user=u-cleo", Some(&format!("Bearer {}", as_("u-ellen"))));
    assert_eq!(reply.status, StatusCode::OK);
    let denials = reply.json()["denials"].clone();
    assert!(
        !denials
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["query"]["can"] == "task.create" && d["query"]["target"]["project"] == "p-rebrand"),
        "{denials}"
    );
}

#[test]
fn an_edit_that_breaks_the_organisation_is_refused_with_every_problem() {
    let scratch = Scratch::new("invalid");
    let state = jwt_server(&scratch);
    let version = state.version();
    // Ellen manages London, but an Agreement joins Offices of two Networks, not Paris and London.
    let across = r#"{"edit":"share_with_office","agreement":"a-new","user":"u-nina","guest_office":"o-par","host_office":"o-lon","profile":"client"}"#;
    let reply = post(&state, "/api/admin/edits", Some(&Provider::good("u-ellen")), &batch(&[across]));
    reply.is(StatusCode::UNPROCESSABLE_ENTITY, "invalid_org");
    assert!(!reply.json()["error"]["problems"].as_array().unwrap().is_empty());
    assert_eq!(state.version(), version);
}

// ---- Keys that change -------------------------------------------------------------------------

/// A JWKS served on loopback whose body and `Cache-Control` the test changes; counts fetches.
struct JwksServer {
    url: String,
    served: Arc<Mutex<(String, Option<String>)>>,
    fetches: Arc<Mutex<u32>>,
}

impl JwksServer {
    fn start(jwks: String, cache_control: Option<&str>) -> JwksServer {
        let served = Arc::new(Mutex::new((jwks, cache_control.map(str::to_owned))));
        let fetches = Arc::new(Mutex::new(0));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let (serving, counting) = (Arc::clone(&served), Arc::clone(&fetches));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                *counting.lock().unwrap() += 1;
                let (body, cache_control) = serving.lock().unwrap().clone();
                let cache_control =
                    cache_control.map(|value| format!("Cache-Control: {value}\r\n")).unwrap_or_default();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{cache_control}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        JwksServer { url, served, fetches }
    }

    fn serve(&self, jwks: String, cache_control: Option<&str>) {
        *self.served.lock().unwrap() = (jwks, cache_control.map(str::to_owned));
    }

    fn fetches(&self) -> u32 {
        *self.fetches.lock().unwrap()
    }
}

fn jwt(jwks: JwksSource, refresh: JwksRefresh, service_scope: Option<&str>) -> AuthConfig {
    AuthConfig::Jwt {
        jwks,
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        user_claim: "sub".to_owned(),
        service_scope: service_scope.map(str::to_owned),
        refresh,
    }
}

#[test]
fn a_jwks_url_is_fetched_again_as_its_max_age_says_and_a_removed_key_stops_working() {
    use std::time::{Duration, Instant};
    let provider = JwksServer::start(Provider::jwks(&[(1, "k1"), (2, "k2")]), Some("public, max-age=1"));
    let refresh = JwksRefresh { least: Duration::from_millis(300), most: Duration::from_secs(2) };
    let started = Instant::now();
    let state = state(jwt(JwksSource::Url(provider.url.clone()), refresh, None));
    let until = |seconds: f64| {
        let at = started + Duration::from_secs_f64(seconds);
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
    };
    let old = Provider::good("u-ada");
    let new = Provider::token(2, Some("k2"), &Provider::claims("u-ada"));
    assert_eq!(snapshot_as(&state, &old).status, StatusCode::OK);
    assert_eq!(provider.fetches(), 1);

    // The provider removes key 1. Within the max-age (1 s), the keys held are used.
    provider.serve(Provider::jwks(&[(2, "k2")]), Some("max-age=3600"));
    assert_eq!(snapshot_as(&state, &old).status, StatusCode::OK);
    assert_eq!(provider.fetches(), 1);
    // Past it, the JWKS is fetched before any token is believed, remembered ones too.
    until(1.2);
    refused(&snapshot_as(&state, &old), "invalid_token");
    assert_eq!(provider.fetches(), 2);
    assert_eq!(snapshot_as(&state, &new).status, StatusCode::OK);
    // Its new max-age (an hour) is honoured, held to the bound of 2 s.
    until(1.8);
    assert_eq!(snapshot_as(&state, &new).status, StatusCode::OK);
    assert_eq!(provider.fetches(), 2, "not before its max-age");
    until(3.4);
    assert_eq!(snapshot_as(&state, &new).status, StatusCode::OK);
    assert_eq!(provider.fetches(), 3, "not after the bound");
}

#[test]
fn a_jwks_file_is_read_again_when_asked_and_a_removed_key_stops_working() {
    let scratch = Scratch::new("reread");
    let path = scratch.path("jwks.json");
    std::fs::write(&path, Provider::jwks(&[(1, "k1")])).unwrap();
    let state = state(jwt(JwksSource::File(path.clone()), JwksRefresh::default(), None));
    let old = Provider::good("u-ada");
    let new = Provider::token(2, Some("k2"), &Provider::claims("u-ada"));
    assert_eq!(snapshot_as(&state, &old).status, StatusCode::OK);
    refused(&snapshot_as(&state, &new), "invalid_token");

    // Rotated in the file: nothing changes until the file is read again (SIGHUP).
    std::fs::write(&path, Provider::jwks(&[(2, "k2")])).unwrap();
    assert_eq!(snapshot_as(&state, &old).status, StatusCode::OK);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(tessera_server::reload_keys(&state));
    refused(&snapshot_as(&state, &old), "invalid_token");
    assert_eq!(snapshot_as(&state, &new).status, StatusCode::OK);

    // A file that does not read as a JWKS keeps the keys held.
    std::fs::write(&path, "{ not json").unwrap();
    runtime.block_on(tessera_server::reload_keys(&state));
    assert_eq!(snapshot_as(&state, &new).status, StatusCode::OK);
}

#[test]
fn keys_for_encryption_do_not_verify_tokens() {
    let scratch = Scratch::new("enc");
    let key = |seed: u8, kid: &str, extra: Value| {
        let mut key =
            json!({"kty": "OKP", "crv": "Ed25519", "x": Provider::public(seed), "kid": kid, "alg": "EdDSA"});
        key.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        key
    };
    let path = scratch.path("jwks.json");
    let jwks = json!({"keys": [
        key(1, "k1", json!({"use": "enc"})),
        key(2, "k2", json!({"use": "sig"})),
        key(3, "k3", json!({"key_ops": ["encrypt"]})),
        key(4, "k4", json!({"key_ops": ["verify"]})),
    ]});
    std::fs::write(&path, jwks.to_string()).unwrap();
    let state = state(jwt(JwksSource::File(path.clone()), JwksRefresh::default(), None));
    let token = |seed: u8| Provider::token(seed, Some(&format!("k{seed}")), &Provider::claims("u-ada"));
    refused(&snapshot_as(&state, &token(1)), "invalid_token");
    assert_eq!(snapshot_as(&state, &token(2)).status, StatusCode::OK);
    refused(&snapshot_as(&state, &token(3)), "invalid_token");
    assert_eq!(snapshot_as(&state, &token(4)).status, StatusCode::OK);
    // A set of encryption keys only has nothing to verify with: the server does not start.
    std::fs::write(&path, json!({"keys": [key(1, "k1", json!({"use": "enc"}))]}).to_string()).unwrap();
    let error = AppState::new(config(jwt(JwksSource::File(path), JwksRefresh::default(), None))).unwrap_err();
    assert!(format!("{error:#}").contains("holds no"), "{error:#}");
}

#[test]
fn a_jwks_url_over_http_is_refused_off_loopback() {
    for url in
        ["http://id.example.test/jwks.json", "http://10.0.0.1:8080/keys", "http://127.0.0.1.nip.io/keys"]
    {
        let error = AppState::new(config(jwt(JwksSource::Url(url.to_owned()), JwksRefresh::default(), None)))
            .unwrap_err();
        assert!(format!("{error:#}").contains("http:// is for loopback only"), "{url}: {error:#}");
    }
    // On loopback it is tried (and here, with nothing listening, fails to fetch).
    let error = AppState::new(config(jwt(
        JwksSource::Url("http://127.0.0.1:1/jwks.json".to_owned()),
        JwksRefresh::default(),
        None,
    )))
    .unwrap_err();
    assert!(format!("{error:#}").contains("cannot fetch the JWKS"), "{error:#}");
}

// ---- Services ----------------------------------------------------------------------------------

/// A token of key 1 for `sub` with this `scope`.
fn scoped(sub: &str, scope: &str) -> String {
    let mut claims = Provider::claims(sub);
    claims["scope"] = json!(scope);
    Provider::token(1, Some("k1"), &claims)
}

#[test]
fn a_service_is_refused_on_every_route_of_users() {
    let scratch = Scratch::new("service");
    let path = scratch.path("jwks.json");
    std::fs::write(&path, Provider::jwks(&[(1, "k1")])).unwrap();
    let state = state(jwt(JwksSource::File(path), JwksRefresh::default(), Some("tessera:check")));
    let version = state.version();
    let service = scoped("billing", "openid tessera:check profile");
    let caller = state
        .identity()
        .verify(
            &[(header::AUTHORIZATION, format!("Bearer {service}").parse().unwrap())].into_iter().collect(),
        )
        .unwrap();
    assert_eq!((caller.user.as_str(), caller.service), ("billing", true));

    let bearer = format!("Bearer {service}");
    for uri in [
        "/api/snapshot",
        "/api/search?q=a",
        "/api/admin/denials?user=u-cleo",
        "/api/admin/revisions",
        "/api/events",
    ] {
        let reply = get(&state, uri, Some(&bearer));
        reply.is(StatusCode::FORBIDDEN, "forbidden");
        assert!(!String::from_utf8_lossy(&reply.body).contains("billing"), "{uri}");
    }
    for uri in ["/api/admin/edits", "/api/admin/preview", "/api/events/ticket"] {
        post(&state, uri, Some(&service), &batch(&[CLIENTS_CREATE_TASKS]))
            .is(StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(state.version(), version, "nothing applied");

    // The scope is matched whole: a user's token that merely contains the text is a user's.
    assert_eq!(
        snapshot_as(&state, &scoped("u-ada", "tessera:checker xtessera:check")).status,
        StatusCode::OK
    );
    // Without --service-scope no token is a service's.
    let scratch = Scratch::new("no-service");
    let path = scratch.path("jwks.json");
    std::fs::write(&path, Provider::jwks(&[(1, "k1")])).unwrap();
    let plain = self::state(jwt(JwksSource::File(path), JwksRefresh::default(), None));
    assert_eq!(snapshot_as(&plain, &scoped("u-ada", "tessera:check")).status, StatusCode::OK);
}

#[test]
fn the_demo_signs_in_a_service_by_name_and_nothing_else() {
    let state = state(AuthConfig::Demo);
    let reply = post(&state, "/api/demo/sign-in", None, r#"{"service":"billing"}"#);
    assert_eq!(reply.status, StatusCode::OK);
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    snapshot_as(&state, &token).is(StatusCode::FORBIDDEN, "forbidden");
    for body in [r#"{"user":"u-ada","service":"billing"}"#, "{}", r#"{"service":"billing","admin":true}"#] {
        let reply = post(&state, "/api/demo/sign-in", None, body);
        reply.is(StatusCode::BAD_REQUEST, "invalid_json");
        assert!(reply.json().get("token").is_none());
    }
    for name in [String::new(), "x".repeat(300), "a\nb".to_owned()] {
        post(&state, "/api/demo/sign-in", None, &json!({ "service": name }).to_string())
            .is(StatusCode::BAD_REQUEST, "invalid_parameter");
    }
}
