//! Tests of the rules of trust: each input and status by example, and a property over random
//! sequences of inputs.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::*;
use crate::{Header, Org, SecretKey, sign};

const HOUR: i64 = 3_600;

fn org() -> Org {
    serde_json::from_str(
        r#"{
          "networks": [{ "id": "n", "name": "N" }],
          "offices": [{ "id": "o", "name": "O", "network": "n" }],
          "users": [
            { "id": "u-a", "name": "A", "home_office": "o", "profile": "project_manager" },
            { "id": "u-b", "name": "B", "home_office": "o", "profile": "client" }
          ],
          "projects": []
        }"#,
    )
    .unwrap()
}

fn key() -> SecretKey {
    SecretKey::from_bytes([7; 32])
}

fn signed(version: u64, user: &str, issued: i64, expires: i64) -> Vec<u8> {
    let header = Header {
        schema: crate::SCHEMA_VERSION,
        issuer: "tessera".into(),
        version,
        issued_at: Timestamp::from_unix(issued),
        expires_at: Timestamp::from_unix(expires),
        scope: Scope::User(user.into()),
    };
    sign(&org(), &header, &[&key()]).unwrap()
}

fn config(max_age: Option<i64>, activate_on_load: bool) -> TrustConfig {
    TrustConfig { keys: [key().public_key()].into_iter().collect(), max_age, activate_on_load }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix(seconds)
}

fn version(trust: &Trust) -> Option<u64> {
    trust.active().map(|snapshot| snapshot.header().version)
}

fn none() -> impl Fn(&str) -> u64 {
    |_| 0
}

fn floors(version: u64) -> impl Fn(&str) -> u64 {
    move |issuer| if issuer == "tessera" { version } else { 0 }
}

fn tampered(mut bytes: Vec<u8>) -> Vec<u8> {
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    bytes
}

#[test]
fn loads_from_the_network_and_says_what_to_store() {
    let mut trust = Trust::new(config(None, true), Some("u-a".into()));
    assert_eq!(trust.status(), Status::Loading);
    let effects = trust.load(
        &signed(3, "u-a", 0, 10 * HOUR),
        Some("e3".into()),
        Origin::Network,
        None,
        &none(),
        at(10),
    );
    assert_eq!(trust.status(), Status::Ready);
    assert_eq!(trust.origin(), Some(Origin::Network));
    assert_eq!(version(&trust), Some(3));
    assert_eq!(trust.etag(), Some("e3"));
    assert_eq!(effects.store, Some(Some("e3".into())));
    assert_eq!(effects.confirmed, Some(at(10)));
    assert_eq!(effects.floor, Some(("tessera".into(), 3)));
    assert!(trust.usable().is_some());
}

#[test]
fn a_cold_start_verifies_the_stored_copy_against_the_floor() {
    let bytes = signed(3, "u-a", 0, 10 * HOUR);
    let mut trust = Trust::new(config(None, true), Some("u-a".into()));
    let effects = trust.load(&bytes, Some("e3".into()), Origin::Cache, Some(at(50)), &floors(3), at(100));
    assert_eq!(trust.status(), Status::Ready);
    assert_eq!(trust.origin(), Some(Origin::Cache));
    assert_eq!(trust.confirmed(), Some(at(50)));
    assert_eq!(effects.store, None, "a stored copy is not stored again");

    let mut trust = Trust::new(config(None, true), Some("u-a".into()));
    trust.load(&bytes, Some("e3".into()), Origin::Cache, None, &floors(4), at(100));
    assert_eq!(trust.status(), Status::Loading, "a refused copy leaves the network to decide");
    assert_eq!(trust.last_error().unwrap().reason, "rollback");
    assert_eq!(trust.etag(), None, "a refused copy's ETag is never sent");

    let mut trust = Trust::new(config(None, true), Some("u-a".into()));
    trust.load(&tampered(bytes.clone()), None, Origin::Cache, None, &none(), at(100));
    assert!(trust.usable().is_none());
    trust.failed(Failure::new("network", "offline"), at(101));
    assert_eq!(trust.status(), Status::Refused);
    assert_eq!(trust.last_error().unwrap().reason, "network");
}

#[test]
fn an_expired_copy_and_no_network_is_expired() {
    let mut trust = Trust::new(config(None, true), Some("u-a".into()));
    trust.load(&signed(3, "u-a", 0, HOUR), None, Origin::Cache, None, &none(), at(2 * HOUR));
    assert_eq!(trust.status(), Status::Loading);
    assert_eq!(trust.last_error().unwrap().reason, "expired");
    trust.failed(Failure::new("network", "offline"), at(2 * HOUR));
    assert_eq!(trust.status(), Status::Expired);
}

#[test]
fn a_refused_answer_keeps_the_last_good_snapshot_and_goes_stale() {
    let mut trust = Trust::new(config(None, true), Some("u-a".into()));
    trust.load(&signed(5, "u-a", 0, 10 * HOUR), Some("e5".into()), Origin::Network, None, &none(), at(10));
    for (bytes, reason) in [
        (tampered(signed(6, "u-a", 0, 10 * HOUR)), None),
        (signed(4, "u-a", 0, 10 * HOUR), Some("rollback")),
        (signed(6, "u-b", 0, 10 * HOUR), Some("wrong_user")),
        (signed(6, "u-a", 0, 5), Some("expired")),
    ] {
        let effects = trust.load(&bytes, Some("bad".into()), Origin::Network, None, &floors(5), at(20));
        assert_eq!(effects.store, None);
        assert_eq!(effects.floor, None);
        assert_eq!(trust.status(), Status::Stale);
        assert_eq!(version(&trust), Some(5));
        assert_eq!(trust.etag(), Some("e5"));
        if let Some(reason) = reason {
            assert_eq!(trust.last_error().unwrap().reason, reason);
        }
    }
    // A 304 for the snapshot held: ready again.
    let effects = trust.not_modified(at(30));
    assert_eq!(trust.status(), Status::Ready);
    assert_eq!(trust.last_error(), None);
    assert_eq!(effects.confirmed, Some(at(30)));
}

#[test]
fn the_floor_refuses_what_another_client_already_passed() {
    let mut first = Trust::new(config(None, true), Some("u-a".into()));
    let effects = first.load(&signed(7, "u-a", 0, HOUR), None, Origin::Network, None, &none(), at(10));
    let shared = floors(effects.floor.unwrap().1);
    let mut second = Trust::new(config(None, true), Some("u-a".into()));
    second.load(&signed(6, "u-a", 0, HOUR), None, Origin::Network, None, &shared, at(10));
    assert_eq!(second.status(), Status::Refused);
    assert_eq!(second.last_error().unwrap().reason, "rollback");
    // Equal versions are accepted: the issuer signs the same version again.
    second.load(&signed(7, "u-a", 5, HOUR), None, Origin::Network, None, &shared, at(10));
    assert_eq!(second.status(), Status::Ready);
}

#[test]
fn max_age_and_expiry_deny_and_a_304_revives_only_max_age() {
    let mut trust = Trust::new(config(Some(60), true), Some("u-a".into()));
    trust.load(&signed(1, "u-a", 0, 1_000), Some("e".into()), Origin::Network, None, &none(), at(100));
    assert_eq!(trust.deadline(), Some(at(160)));
    trust.tick(at(159));
    assert_eq!(trust.status(), Status::Ready);
    trust.tick(at(160));
    assert_eq!(trust.status(), Status::Expired);
    assert!(trust.usable().is_none());
    trust.not_modified(at(200));
    assert_eq!(trust.status(), Status::Ready, "confirmed again, within its own expiry");
    trust.tick(at(1_000));
    assert_eq!(trust.status(), Status::Expired);
    trust.not_modified(at(1_001));
    assert_eq!(trust.status(), Status::Expired, "past its own expiry, a 304 does not help");
    // The clock never goes back.
    trust.tick(at(10));
    assert_eq!(trust.status(), Status::Expired);
}

#[test]
fn a_stored_confirmation_is_believed_only_between_signature_and_now() {
    let bytes = signed(1, "u-a", 100, 10_000);
    for (stored, expected) in [(Some(500), 500), (Some(50), 100), (Some(5_000), 100), (None, 100)] {
        let mut trust = Trust::new(config(Some(600), true), Some("u-a".into()));
        trust.load(&bytes, None, Origin::Cache, stored.map(at), &none(), at(1_000));
        assert_eq!(trust.confirmed(), Some(at(expected)), "{stored:?}");
    }
}

#[test]
fn deferred_activation_waits_until_asked_or_the_deadline() {
    let mut trust = Trust::new(config(None, false), Some("u-a".into()));
    trust.load(&signed(1, "u-a", 0, 100), None, Origin::Network, None, &none(), at(10));
    assert_eq!(version(&trust), Some(1), "the first snapshot is active at once");
    trust.load(&signed(2, "u-a", 0, 1_000), Some("e2".into()), Origin::Network, None, &none(), at(20));
    assert!(trust.pending());
    assert_eq!(version(&trust), Some(1));
    assert_eq!(trust.etag(), Some("e2"), "the newest held is what the issuer is asked about");
    trust.activate(at(30));
    assert!(!trust.pending());
    assert_eq!(version(&trust), Some(2));

    trust.load(&signed(3, "u-a", 0, 2_000), None, Origin::Network, None, &none(), at(40));
    assert!(trust.pending());
    trust.tick(at(1_000));
    assert_eq!(version(&trust), Some(3), "an expired active snapshot gives way to the pending one");
    assert_eq!(trust.status(), Status::Ready);
}

#[test]
fn an_older_copy_from_storage_is_ignored_quietly() {
    let mut trust = Trust::new(config(None, true), Some("u-a".into()));
    trust.load(&signed(5, "u-a", 0, HOUR), None, Origin::Network, None, &none(), at(10));
    let effects = trust.load(&signed(4, "u-a", 0, HOUR), None, Origin::Cache, None, &none(), at(10));
    assert_eq!(effects, Effects::default());
    assert_eq!(trust.last_error(), None);
    assert_eq!(version(&trust), Some(5));
}

#[test]
fn users_switching_and_signing_out_clear_what_was_theirs() {
    let mut trust = Trust::new(config(None, true), None);
    trust.load(&signed(1, "u-a", 0, HOUR), None, Origin::Network, None, &none(), at(10));
    assert_eq!(trust.user(), Some("u-a"), "learned from the scope");
    let effects = trust.set_user(Some("u-a".into()));
    assert_eq!(effects, Effects::default());
    let effects = trust.set_user(Some("u-b".into()));
    assert_eq!(effects.clear.as_deref(), Some("u-a"));
    assert_eq!(trust.status(), Status::Loading);
    assert!(trust.active().is_none());
    trust.load(&signed(1, "u-a", 0, HOUR), None, Origin::Network, None, &none(), at(10));
    assert_eq!(trust.last_error().unwrap().reason, "wrong_user");

    trust.load(&signed(2, "u-b", 0, HOUR), None, Origin::Network, None, &none(), at(10));
    let effects = trust.sign_out();
    assert_eq!(effects.clear.as_deref(), Some("u-b"));
    assert_eq!(trust.status(), Status::SignedOut);
    trust.load(&signed(3, "u-b", 0, HOUR), None, Origin::Network, None, &none(), at(10));
    assert!(trust.active().is_none(), "nothing is taken while signed out");
    trust.set_user(Some("u-b".into()));
    assert_eq!(trust.status(), Status::Loading);
}

#[test]
fn the_issuer_refusing_the_user_drops_everything() {
    let mut trust = Trust::new(config(None, true), Some("u-a".into()));
    trust.load(&signed(1, "u-a", 0, HOUR), None, Origin::Network, None, &none(), at(10));
    let mut unauthorised = Failure::new("http", "401");
    unauthorised.status = Some(401);
    trust.failed(unauthorised, at(11));
    assert_eq!(trust.status(), Status::Stale, "a 401 keeps the snapshot: the token may be renewed");
    let mut revoked = Failure::new("inactive_user", "inactive");
    revoked.status = Some(403);
    let effects = trust.failed(revoked, at(12));
    assert_eq!(effects.clear.as_deref(), Some("u-a"));
    assert_eq!(trust.status(), Status::Refused);
}

#[test]
fn a_304_with_nothing_held_is_a_failure() {
    let mut trust = Trust::new(config(None, true), Some("u-a".into()));
    trust.not_modified(at(1));
    assert_eq!(trust.status(), Status::Refused);
    assert_eq!(trust.last_error().unwrap().status, Some(304));
}

// ---- A property: whatever happens, the rules hold -------------------------------------------

#[derive(Debug, Clone)]
enum Input {
    Load { snapshot: usize, tamper: bool, origin: usize },
    NotModified,
    Failed { revoke: bool },
    Tick(i64),
    Activate,
    User(bool),
    SignOut,
}

/// Snapshots by index: versions 1 to 4 for u-a with various expiries, and one for u-b.
fn pool() -> &'static Vec<(u64, &'static str, Vec<u8>)> {
    static POOL: OnceLock<Vec<(u64, &'static str, Vec<u8>)>> = OnceLock::new();
    POOL.get_or_init(|| {
        [
            (1, "u-a", 400),
            (2, "u-a", 2_000),
            (2, "u-a", 900),
            (3, "u-a", 600),
            (4, "u-a", 3_000),
            (2, "u-b", 3_000),
        ]
        .into_iter()
        .map(|(version, user, expires)| (version, user, signed(version, user, 0, expires)))
        .collect()
    })
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => (0..6usize, proptest::bool::weighted(0.2), 0..3usize)
            .prop_map(|(snapshot, tamper, origin)| Input::Load { snapshot, tamper, origin }),
        2 => Just(Input::NotModified),
        1 => any::<bool>().prop_map(|revoke| Input::Failed { revoke }),
        2 => (0..300i64).prop_map(Input::Tick),
        1 => Just(Input::Activate),
        1 => any::<bool>().prop_map(Input::User),
        1 => Just(Input::SignOut),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn the_rules_hold_whatever_happens(
        inputs in proptest::collection::vec(input(), 1..30),
        max_age in proptest::option::of(50..500i64),
        activate_on_load in any::<bool>(),
    ) {
        let mut trust = Trust::new(config(max_age, activate_on_load), Some("u-a".into()));
        // The device's storage, as a driver would keep it.
        let mut stored_floors: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut now = 0i64;
        let mut active_version = 0u64;
        for input in inputs {
            let before = trust.active().cloned();
            let user = trust.user().map(str::to_owned);
            let floors = user.as_ref().and_then(|user| stored_floors.get(user)).cloned().unwrap_or_default();
            let mut refused_input = false;
            let effects = match input {
                Input::Load { snapshot, tamper, origin } => {
                    let (_, _, bytes) = &pool()[snapshot];
                    let bytes = if tamper { tampered(bytes.clone()) } else { bytes.clone() };
                    let origin = [Origin::Network, Origin::Cache, Origin::Bootstrap][origin];
                    let effects = trust.load(&bytes, Some(format!("e{snapshot}")), origin, None, &|issuer| floors.get(issuer).copied().unwrap_or(0), at(now));
                    refused_input = effects.floor.is_none();
                    if tamper {
                        prop_assert!(effects.floor.is_none(), "a tampered snapshot is never accepted");
                    }
                    if let Some((_, version)) = &effects.floor {
                        let floor = floors.get("tessera").copied().unwrap_or(0);
                        prop_assert!(*version >= floor, "nothing below the floor is accepted");
                    }
                    effects
                }
                Input::NotModified => trust.not_modified(at(now)),
                Input::Failed { revoke } => {
                    let mut failure = Failure::new(if revoke { "inactive_user" } else { "network" }, "x");
                    failure.status = revoke.then_some(403);
                    trust.failed(failure, at(now))
                }
                Input::Tick(seconds) => {
                    now += seconds;
                    trust.tick(at(now))
                }
                Input::Activate => trust.activate(at(now)),
                Input::User(other) => trust.set_user(Some(if other { "u-b" } else { "u-a" }.into())),
                Input::SignOut => trust.sign_out(),
            };
            if let (Some(user), Some((issuer, version))) = (trust.user(), &effects.floor) {
                let floor = stored_floors.entry(user.to_owned()).or_default().entry(issuer.clone()).or_default();
                *floor = (*floor).max(*version);
            }
            if refused_input {
                prop_assert!(
                    before.as_ref().map(Arc::as_ptr) == trust.active().map(Arc::as_ptr),
                    "a refused or ignored snapshot changes nothing held"
                );
            }
            // What decides is verified, for the user, and within its deadline.
            if let Some(snapshot) = trust.usable() {
                prop_assert!(trust.deadline().unwrap() > at(now));
                prop_assert!(at(now) < snapshot.header().expires_at);
                prop_assert_eq!(&snapshot.header().scope, &Scope::User(trust.user().unwrap().to_owned()));
                prop_assert!(matches!(trust.status(), Status::Ready | Status::Stale));
            } else {
                prop_assert!(!matches!(trust.status(), Status::Ready | Status::Stale));
            }
            // The active version never goes back while the user stays.
            match (trust.active(), before.is_some() && trust.user() == user.as_deref()) {
                (Some(snapshot), true) => {
                    prop_assert!(snapshot.header().version >= active_version);
                    active_version = snapshot.header().version;
                }
                (Some(snapshot), false) => active_version = snapshot.header().version,
                (None, _) => active_version = 0,
            }
            if trust.status() == Status::SignedOut {
                prop_assert!(trust.active().is_none() && !trust.pending());
            }
        }
    }
}
