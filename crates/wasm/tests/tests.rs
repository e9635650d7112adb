//! The JavaScript-facing API, run in Node and in headless Chromium by
//! `wasm-bindgen-test-runner` (`cargo xtask test` runs both).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::Serialize;
use tessera_core::{Header, Org, SCHEMA_VERSION, Scope, SecretKey, Timestamp, sign};
use tessera_wasm::{PolicyEngine, UserView};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn key() -> SecretKey {
    SecretKey::from_bytes([7; 32])
}

fn signed(org: &Org, version: u64, now: Timestamp) -> Vec<u8> {
    let header = Header {
        schema: SCHEMA_VERSION,
        issuer: "wasm-test".to_owned(),
        version,
        issued_at: now,
        expires_at: now.plus_seconds(3600),
        scope: Scope::Org,
    };
    sign(org, &header, &[&key()]).unwrap()
}

fn js<T: Serialize>(value: &T) -> JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap()
}

fn options(now: Timestamp, extra: &[(&str, JsValue)]) -> JsValue {
    let options = Object::new();
    let keys = Array::of1(&JsValue::from_str(&key().public_key().to_text()));
    Reflect::set(&options, &"trustedKeys".into(), &keys).unwrap();
    #[expect(clippy::cast_precision_loss, reason = "test times are small")]
    Reflect::set(&options, &"now".into(), &JsValue::from_f64(now.unix() as f64 * 1000.0)).unwrap();
    for (name, value) in extra {
        Reflect::set(&options, &JsValue::from_str(name), value).unwrap();
    }
    options.into()
}

fn load(bytes: &[u8], options: &JsValue) -> Result<PolicyEngine, JsValue> {
    let input: JsValue = Uint8Array::from(bytes).into();
    PolicyEngine::load(input.unchecked_ref(), options.unchecked_ref())
}

fn get(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(name)).unwrap()
}

fn code_of(error: &JsValue) -> String {
    assert_eq!(get(error, "name").as_string().as_deref(), Some("TesseraError"), "{error:?}");
    get(error, "code").as_string().unwrap()
}

fn small_org() -> Org {
    let (_, case) = tessera_conformance::corpus().unwrap().into_iter().next().unwrap();
    case.org
}

fn now() -> Timestamp {
    Timestamp::parse("2026-06-01T00:00:00Z").unwrap()
}

#[wasm_bindgen_test]
fn the_conformance_corpus_decides_as_the_core() {
    let report = tessera_conformance::check(|_, case, expectation| {
        let engine = load(&signed(&case.org, 1, case.now), &options(case.now, &[]))
            .map_err(|e| format!("load failed: {e:?}"))?;
        let view: UserView = engine.for_user(expectation.user.clone());
        let query = js(&expectation.query);
        let decision = view.explain(query.unchecked_into()).map_err(|e| format!("explain threw: {e:?}"))?;
        let allowed = get(&decision, "allowed").as_bool().ok_or("no `allowed`")?;
        let code = get(&decision, "code").as_string().ok_or("no `code`")?;
        // The quick answers agree with the explained one.
        let quick = match &expectation.query {
            tessera_core::Query::View { kind, id, project } => {
                view.can_view(kind.as_str(), id.clone(), project.clone())
            }
            tessera_core::Query::Can { permission, target } => view
                .can(permission.clone(), Some(js(target).unchecked_into()))
                .map_err(|e| format!("{e:?}"))?,
        };
        if quick != allowed {
            return Err(format!("canView/can said {quick}, explain said {allowed}"));
        }
        Ok((allowed, code))
    })
    .unwrap();
    assert!(report.passed(), "{report}");
    assert!(report.queries >= 400, "{report}");
}

#[wasm_bindgen_test]
fn a_uint8array_is_read_as_the_language_defines_it_whatever_its_own_properties_say() {
    let good = signed(&small_org(), 5, now());
    // A view into a larger buffer, at an offset.
    let mut padded = vec![b'x'; 7];
    padded.extend_from_slice(&good);
    padded.extend_from_slice(b"trailing");
    let buffer = Uint8Array::from(padded.as_slice()).buffer();
    #[expect(clippy::cast_possible_truncation, reason = "a small test snapshot")]
    let view = Uint8Array::new_with_byte_offset_and_length(&buffer, 7, good.len() as u32);
    let engine =
        PolicyEngine::load(JsValue::from(view.clone()).unchecked_ref(), options(now(), &[]).unchecked_ref())
            .unwrap();
    assert_eq!(get(&engine.info().unwrap().into(), "version").as_f64(), Some(5.0));
    // Own properties that lie about its length and contents are never asked.
    let liar = Uint8Array::from(good.as_slice());
    let descriptor = Object::new();
    let three = js_sys::Function::new_no_args("return 3;");
    Reflect::set(&descriptor, &"get".into(), &three).unwrap();
    Object::define_property(&liar, &"length".into(), &descriptor);
    let empty = js_sys::Function::new_no_args("return new Uint8Array(0);");
    Reflect::set(&liar, &"subarray".into(), &empty).unwrap();
    assert_eq!(get(&liar, "length").as_f64(), Some(3.0));
    let engine =
        PolicyEngine::load(JsValue::from(liar).unchecked_ref(), options(now(), &[]).unchecked_ref()).unwrap();
    assert_eq!(get(&engine.info().unwrap().into(), "version").as_f64(), Some(5.0));
}

#[wasm_bindgen_test]
fn load_failures_throw_their_codes() {
    let org = small_org();
    let good = signed(&org, 5, now());

    let mut tampered = good.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    assert!(matches!(
        code_of(&load(&tampered, &options(now(), &[])).err().unwrap()).as_str(),
        "bad_signature" | "malformed_envelope"
    ));

    let stranger = SecretKey::from_bytes([9; 32]).public_key().to_text();
    let keys: JsValue = Array::of1(&stranger.into()).into();
    assert_eq!(
        code_of(&load(&good, &options(now(), &[("trustedKeys", keys)])).err().unwrap()),
        "unknown_key"
    );
    assert_eq!(
        code_of(&load(&good, &options(now(), &[("minVersion", JsValue::from_f64(6.0))])).err().unwrap()),
        "rollback"
    );
    assert_eq!(code_of(&load(&good, &options(now().plus_seconds(7200), &[])).err().unwrap()), "expired");
    assert_eq!(code_of(&load(b"", &options(now(), &[])).err().unwrap()), "malformed_envelope");
    assert_eq!(
        code_of(&load(&good, &options(now(), &[("maxBytes", JsValue::from_f64(10.0))])).err().unwrap()),
        "too_large"
    );
    // Misuse is an error too, never a silent default.
    assert_eq!(
        code_of(&load(&good, &options(now(), &[("minversion", JsValue::from_f64(1.0))])).err().unwrap()),
        "invalid_options"
    );
    let bad_keys: JsValue = Array::of1(&"not a key".into()).into();
    assert_eq!(
        code_of(&load(&good, &options(now(), &[("trustedKeys", bad_keys)])).err().unwrap()),
        "invalid_key"
    );
    let wrong_input =
        PolicyEngine::load(JsValue::from_f64(1.0).unchecked_ref(), options(now(), &[]).unchecked_ref());
    assert_eq!(code_of(&wrong_input.err().unwrap()), "invalid_input");

    // A string works as well as bytes.
    let text: JsValue = String::from_utf8(good).unwrap().into();
    assert!(PolicyEngine::load(text.unchecked_ref(), options(now(), &[]).unchecked_ref()).is_ok());
}

#[wasm_bindgen_test]
fn an_update_is_atomic() {
    let org = small_org();
    let engine = load(&signed(&org, 5, now()), &options(now(), &[])).unwrap();
    let version = |engine: &PolicyEngine| get(&engine.info().unwrap(), "version").as_f64().unwrap();
    assert!((version(&engine) - 5.0).abs() < f64::EPSILON);

    let mut tampered = signed(&org, 6, now());
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    let input: JsValue = Uint8Array::from(tampered.as_slice()).into();
    assert!(engine.update(input.unchecked_ref(), None).is_err());
    assert!((version(&engine) - 5.0).abs() < f64::EPSILON, "a failed update keeps the old snapshot");

    let older: JsValue = Uint8Array::from(signed(&org, 4, now()).as_slice()).into();
    assert_eq!(code_of(&engine.update(older.unchecked_ref(), None).err().unwrap()), "rollback");

    let view = engine.for_user(org.users[0].id.clone());
    let newer: JsValue = Uint8Array::from(signed(&org, 6, now()).as_slice()).into();
    let info = engine.update(newer.unchecked_ref(), None).unwrap();
    assert!((get(&info, "version").as_f64().unwrap() - 6.0).abs() < f64::EPSILON);
    assert_eq!(get(&info, "issuer").as_string().as_deref(), Some("wasm-test"));
    assert_eq!(get(&info, "keyId").as_string(), Some(key().public_key().key_id().to_string()));
    // Views follow the engine.
    assert_eq!(view.user_id(), org.users[0].id);
}

#[wasm_bindgen_test]
fn unknown_and_inactive_users_are_denied_everything() {
    let org: Org = serde_json::from_str(
        r#"{
          "networks": [{ "id": "n", "name": "N", "defaults": { "client": ["project.create", "file.upload"] } }],
          "offices": [{ "id": "o", "name": "O", "network": "n" }],
          "users": [{ "id": "u-on", "name": "On", "home_office": "o", "profile": "client" },
                    { "id": "u-off", "name": "Off", "home_office": "o", "profile": "client", "active": false }],
          "projects": [{ "id": "p", "name": "P", "office": "o", "team": ["u-on", "u-off"] }]
        }"#,
    )
    .unwrap();
    let engine = load(&signed(&org, 1, now()), &options(now(), &[])).unwrap();

    let active = engine.for_user("u-on".to_owned());
    assert!(active.can_view("project", "p".to_owned(), None));
    assert_eq!(active.visible_projects(), vec!["p".to_owned()]);
    assert_eq!(
        active.filter_ids("project", vec!["p".to_owned(), "q".to_owned()], None),
        vec!["p".to_owned()]
    );
    let permissions = active.permissions().unwrap();
    assert_eq!(get(&permissions, "project.create").as_bool(), Some(true));
    assert_eq!(get(&permissions, "announcement.org").as_bool(), Some(false));

    for user in ["u-off", "u-nobody"] {
        let view = engine.for_user(user.to_owned());
        assert!(!view.can_view("project", "p".to_owned(), None), "{user}");
        assert!(!view.can("project.create".to_owned(), None).unwrap(), "{user}");
        assert!(view.visible_projects().is_empty(), "{user}");
        let permissions: JsValue = view.permissions().unwrap().into();
        assert_eq!(get(&permissions, "project.create").as_bool(), Some(false), "{user}");
        let query = js(&tessera_core::Query::can("project.create", tessera_core::Target::none()));
        let decision = view.explain(query.unchecked_into()).unwrap();
        let expected = if user == "u-off" { "inactive_user" } else { "unknown_user" };
        assert_eq!(get(&decision, "code").as_string().as_deref(), Some(expected));
    }

    // filter keeps what may be seen and drops unknown kinds and malformed items.
    let item = |kind: &str, id: &str, project: Option<&str>| {
        let object = Object::new();
        Reflect::set(&object, &"kind".into(), &kind.into()).unwrap();
        Reflect::set(&object, &"id".into(), &id.into()).unwrap();
        if let Some(project) = project {
            Reflect::set(&object, &"project".into(), &project.into()).unwrap();
        }
        JsValue::from(object)
    };
    let items = Array::new();
    for value in [
        item("project", "p", None),
        item("task", "t-1", Some("p")),
        item("task", "t-2", None),
        item("widget", "w", None),
        item("project", "q", None),
        JsValue::from_f64(3.0),
    ] {
        items.push(&value);
    }
    let kept = active.filter(items);
    assert_eq!(kept.length(), 2);
    assert_eq!(get(&kept.get(1), "id").as_string().as_deref(), Some("t-1"));

    // A malformed query is misuse: it throws, with its own code.
    let bad = JsValue::from_str("not a query");
    assert_eq!(code_of(&active.explain(bad.unchecked_into()).err().unwrap()), "invalid_query");
}

#[wasm_bindgen_test]
fn a_version_store_refuses_rollback_across_reloads() {
    let org = small_org();
    // A storage look-alike, as a page's localStorage would be.
    let storage: JsValue = js_sys::Function::new_no_args(
        "const data = new Map(); return { getItem: k => data.has(k) ? data.get(k) : null, setItem: (k, v) => data.set(k, String(v)) };",
    )
    .call0(&JsValue::NULL)
    .unwrap();
    let bytes = |version| -> JsValue { Uint8Array::from(signed(&org, version, now()).as_slice()).into() };
    let store = tessera_wasm::VersionStore::new(Some(storage.clone().unchecked_into()), None);
    let engine = store.load(bytes(5).unchecked_ref(), options(now(), &[]).unchecked_ref()).unwrap();
    assert!((store.min_version("wasm-test") - 5.0).abs() < f64::EPSILON);

    // "Reload": a new store over the same storage, and an older snapshot is refused.
    let reloaded = tessera_wasm::VersionStore::new(Some(storage.unchecked_into()), None);
    let refused = reloaded.load(bytes(4).unchecked_ref(), options(now(), &[]).unchecked_ref()).err().unwrap();
    assert_eq!(code_of(&refused), "rollback");
    assert!(tessera_wasm::is_tessera_error(&refused));
    assert!(!tessera_wasm::is_tessera_error(&js_sys::Error::new("other").into()));

    // Updates go through the store too, and raise its floor.
    let info = reloaded.update(&engine, bytes(7).unchecked_ref(), None).unwrap();
    assert!((get(&info, "version").as_f64().unwrap() - 7.0).abs() < f64::EPSILON);
    assert!((reloaded.min_version("wasm-test") - 7.0).abs() < f64::EPSILON);
    assert_eq!(code_of(&reloaded.update(&engine, bytes(6).unchecked_ref(), None).err().unwrap()), "rollback");

    // Without a storage (Node has no localStorage) it keeps versions in memory.
    let in_memory = tessera_wasm::VersionStore::new(None, Some("test".to_owned()));
    assert!(in_memory.load(bytes(3).unchecked_ref(), options(now(), &[]).unchecked_ref()).is_ok());
    assert!((in_memory.min_version("wasm-test") - 3.0).abs() < f64::EPSILON);
}

#[wasm_bindgen_test]
fn every_hostile_case_gets_its_code() {
    let key = JsValue::from_str(&tessera_conformance::hostile::key().public_key().to_text());
    let cases = tessera_conformance::hostile_cases().unwrap();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for case in &cases {
        let expectation = &case.expectation;
        let now = Timestamp::parse(&expectation.now).unwrap();
        let mut extra = vec![
            ("trustedKeys", JsValue::from(Array::of1(&key))),
            ("minVersion", JsValue::from_f64(expectation.min_version as f64)),
        ];
        if let Some(max_bytes) = expectation.max_bytes {
            extra.push(("maxBytes", JsValue::from_f64(max_bytes as f64)));
        }
        let got = match load(case.bytes, &options(now, &extra)) {
            Ok(_) => "ok".to_owned(),
            Err(error) => code_of(&error),
        };
        if got != expectation.expect {
            failures.push(format!("{}: expected {}, got {got}", case.name, expectation.expect));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The full build: impact analysis between two snapshots.
#[cfg(feature = "impact")]
#[wasm_bindgen_test]
fn the_full_build_diffs_two_snapshots() {
    let old = small_org();
    // Everyone of the first office loses sight of every project once its projects move away.
    let mut new = old.clone();
    let first = new.users[0].clone();
    new.projects.retain(|project| !project.team.contains(&first.id));
    let before = load(&signed(&old, 1, now()), &options(now(), &[])).unwrap();
    let after = load(&signed(&new, 2, now()), &options(now(), &[])).unwrap();
    let impact = before.diff(&after).unwrap();
    let users = Array::from(&get(&impact, "users"));
    assert!(users.length() > 0, "removing projects changes someone's access");
    let first_impact = users.iter().find(|u| get(u, "user").as_string() == Some(first.id.clone())).unwrap();
    assert!(Array::from(&get(&get(&first_impact, "lost"), "projects")).length() > 0);
    // Nothing changes between a snapshot and itself.
    assert_eq!(Array::from(&get(&before.diff(&before).unwrap(), "users")).length(), 0);
}

/// The full build: a denial says what would allow it, and the default build does not.
#[wasm_bindgen_test]
fn explain_lists_grants_in_the_full_build_only() {
    let org: Org = serde_json::from_str(
        r#"{
          "networks": [{ "id": "n", "name": "N", "defaults": { "project_manager": ["task.create"] } }],
          "offices": [{ "id": "o", "name": "O", "network": "n" }],
          "users": [{ "id": "u-cleo", "name": "Cleo", "home_office": "o", "profile": "client" }],
          "projects": [{ "id": "p", "name": "P", "office": "o", "team": ["u-cleo"] }]
        }"#,
    )
    .unwrap();
    let engine = load(&signed(&org, 1, now()), &options(now(), &[])).unwrap();
    let query = js(&tessera_core::Query::can("task.create", tessera_core::Target::project("p")));
    let decision = engine.for_user("u-cleo".to_owned()).explain(query.unchecked_into()).unwrap();
    assert_eq!(get(&decision, "allowed").as_bool(), Some(false));
    let grants = get(&decision, "grants");
    if cfg!(feature = "impact") {
        let grants = Array::from(&grants);
        assert!(grants.length() > 0, "a denial that an override would lift lists it");
        let edits = Array::from(&get(&grants.get(0), "edits"));
        assert!(get(&edits.get(0), "edit").is_string());
    } else {
        assert!(grants.is_undefined(), "the default build keeps explain small");
    }
}
