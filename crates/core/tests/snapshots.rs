//! Signed snapshots: each way loading fails, key rotation, atomic updates, and tampering.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use tessera_core::{
    Code, Engine, Header, LoadErrorKind, Org, Query, ResourceKind, SCHEMA_VERSION, Scope, SecretKey,
    Snapshot, Target, Timestamp, TrustedKeys, VerifyOptions, sign,
};

use crate::support::{all_queries, now, small_org};

fn key(seed: u8) -> SecretKey {
    SecretKey::from_bytes([seed; 32])
}

fn header(version: u64) -> Header {
    Header {
        schema: SCHEMA_VERSION,
        issuer: "test".to_owned(),
        version,
        issued_at: now(),
        expires_at: now().plus_seconds(3600),
        scope: Scope::Org,
    }
}

fn trust(keys: &[&SecretKey]) -> TrustedKeys {
    keys.iter().map(|k| k.public_key()).collect()
}

fn signed(version: u64, by: &SecretKey) -> Vec<u8> {
    sign(&small_org(), &header(version), &[by]).unwrap()
}

fn load(bytes: &[u8], keys: &TrustedKeys) -> Result<Snapshot, LoadErrorKind> {
    Snapshot::verify(bytes, keys, &VerifyOptions::new(now())).map_err(|e| e.kind())
}

/// An envelope around any payload, signed by `by` over `signed_type` but labelled `payload_type`.
fn envelope(
    payload: &[u8],
    payload_type: &str,
    signed_type: &str,
    by: &SecretKey,
    keyid: Option<&str>,
) -> Vec<u8> {
    let pae = [format!("DSSEv1 {} {signed_type} {} ", signed_type.len(), payload.len()).as_bytes(), payload]
        .concat();
    let sig = raw_signing_key(by).sign(&pae);
    let keyid = keyid.map_or_else(|| by.public_key().key_id().to_string(), str::to_owned);
    serde_json::to_vec(&json!({
        "payloadType": payload_type,
        "payload": BASE64.encode(payload),
        "signatures": [{ "keyid": keyid, "sig": BASE64.encode(sig.to_bytes()) }],
    }))
    .unwrap()
}

/// The dalek key behind a test key (the test keys are made from known seeds).
fn raw_signing_key(key: &SecretKey) -> SigningKey {
    let text = key.to_text();
    let encoded = text.trim().strip_prefix("tessera-ed25519-secret:").unwrap();
    let bytes: [u8; 32] = BASE64.decode(encoded).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&bytes)
}

fn payload(header: Value, org: &Org) -> Vec<u8> {
    serde_json::to_vec(&json!({ "header": header, "org": org })).unwrap()
}

const TYPE: &str = tessera_core::PAYLOAD_TYPE;

#[test]
fn a_signed_snapshot_verifies_and_decides() {
    let k = key(1);
    let snapshot = load(&signed(7, &k), &trust(&[&k])).unwrap();
    assert_eq!(snapshot.header(), &header(7));
    assert_eq!(snapshot.key_id(), &k.public_key().key_id());
    let query = Query::can("task.create", Target::project("p-rebrand"));
    assert!(snapshot.allows("u-ada", &query, now()));
    let expired = snapshot.decide("u-ada", &query, now().plus_seconds(3600));
    assert_eq!((expired.allowed, expired.code), (false, Code::SnapshotExpired));
    assert!(!snapshot.allows("u-ada", &query, now().plus_seconds(3600)));
}

#[test]
fn keys_round_trip_as_text() {
    let k = key(2);
    let public = tessera_core::PublicKey::from_text(&k.public_key().to_text()).unwrap();
    assert_eq!(public, k.public_key());
    assert_eq!(SecretKey::from_text(&k.to_text()).unwrap().public_key(), public);
    assert_eq!(public.key_id().as_str().len(), 16);
    assert!(tessera_core::PublicKey::from_text(&k.to_text()).is_err(), "a secret key is not a public key");
    assert!(tessera_core::PublicKey::from_text("tessera-ed25519-public:AAAA").is_err());
}

#[test]
fn each_failure_has_its_own_kind() {
    let k = key(1);
    let other = key(2);
    let keys = trust(&[&k]);
    let good = signed(3, &k);
    let org = small_org();
    let base_header = serde_json::to_value(header(3)).unwrap();
    let expired = serde_json::to_value(Header {
        issued_at: now().plus_seconds(-7200),
        expires_at: now().plus_seconds(-3600),
        ..header(3)
    })
    .unwrap();

    let cases: Vec<(&str, Vec<u8>, LoadErrorKind)> = vec![
        ("empty", Vec::new(), LoadErrorKind::MalformedEnvelope),
        ("truncated", good[..good.len() / 2].to_vec(), LoadErrorKind::MalformedEnvelope),
        ("not json", b"hello".to_vec(), LoadErrorKind::MalformedEnvelope),
        (
            "wrong payload type",
            envelope(b"{}", "application/json", "application/json", &k, None),
            LoadErrorKind::WrongPayloadType,
        ),
        (
            "signature over another payload type",
            envelope(&payload(base_header.clone(), &org), TYPE, "application/json", &k, None),
            LoadErrorKind::BadSignature,
        ),
        ("untrusted key", signed(3, &other), LoadErrorKind::UnknownKey),
        (
            "trusted key id, wrong signer",
            envelope(
                &payload(base_header.clone(), &org),
                TYPE,
                TYPE,
                &other,
                Some(k.public_key().key_id().as_str()),
            ),
            LoadErrorKind::BadSignature,
        ),
        (
            "schema from the future",
            envelope(&payload(json!({"schema": 2, "anything": true}), &org), TYPE, TYPE, &k, None),
            LoadErrorKind::UnsupportedSchema,
        ),
        (
            // The schema is what is refused first, whatever follows it.
            "schema from the future, with an organisation this version cannot read",
            envelope(
                &serde_json::to_vec(&json!({ "header": {"schema": 2}, "org": {"networks": "many"} }))
                    .unwrap(),
                TYPE,
                TYPE,
                &k,
                None,
            ),
            LoadErrorKind::UnsupportedSchema,
        ),
        (
            "an expired header before an organisation that cannot be read",
            envelope(
                &serde_json::to_vec(&json!({ "header": expired, "org": {"networks": "many"} })).unwrap(),
                TYPE,
                TYPE,
                &k,
                None,
            ),
            LoadErrorKind::Expired,
        ),
        (
            "payload not a snapshot",
            envelope(b"[1, 2, 3]", TYPE, TYPE, &k, None),
            LoadErrorKind::InvalidContent,
        ),
        (
            "a payload with a member besides the header and the organisation",
            envelope(
                &serde_json::to_vec(&json!({ "header": base_header, "org": &org, "more": 1 })).unwrap(),
                TYPE,
                TYPE,
                &k,
                None,
            ),
            LoadErrorKind::InvalidContent,
        ),
        (
            "inconsistent organisation",
            {
                let mut bad = serde_json::to_value(&org).unwrap();
                bad["projects"][0]["office"] = json!("o-nowhere");
                envelope(
                    &serde_json::to_vec(&json!({ "header": base_header, "org": bad })).unwrap(),
                    TYPE,
                    TYPE,
                    &k,
                    None,
                )
            },
            LoadErrorKind::InvalidContent,
        ),
    ];
    for (name, bytes, kind) in cases {
        assert_eq!(load(&bytes, &keys).err(), Some(kind), "{name}");
    }

    // Time and versions.
    let at = |now: Timestamp, min_version: u64| VerifyOptions { now, min_version, ..VerifyOptions::new(now) };
    let verify =
        |options: VerifyOptions| Snapshot::verify(&good, &keys, &options).map(|_| ()).map_err(|e| e.kind());
    assert_eq!(verify(at(now().plus_seconds(3600), 0)), Err(LoadErrorKind::Expired));
    assert_eq!(verify(at(now().plus_seconds(-3600), 0)), Err(LoadErrorKind::NotYetValid));
    assert_eq!(verify(at(now().plus_seconds(-30), 0)), Ok(()), "within the clock skew");
    assert_eq!(verify(at(now(), 4)), Err(LoadErrorKind::Rollback));
    assert_eq!(verify(at(now(), 3)), Ok(()), "the same version again is no rollback");
    let small = VerifyOptions { max_bytes: good.len() - 1, ..VerifyOptions::new(now()) };
    assert_eq!(
        Snapshot::verify(&good, &keys, &small).map(|_| ()).map_err(|e| e.kind()),
        Err(LoadErrorKind::TooLarge)
    );

    // Codes are stable strings.
    assert_eq!(LoadErrorKind::UnknownKey.code(), "unknown_key");
    assert_eq!(load(&signed(3, &other), &keys).err().map(|k| k.code()), Some("unknown_key"));
}

#[test]
fn the_validation_problems_travel_with_the_error() {
    let k = key(1);
    let mut bad = serde_json::to_value(small_org()).unwrap();
    bad["projects"][0]["office"] = json!("o-nowhere");
    bad["users"][0]["profile"] = json!("wizard");
    let header = serde_json::to_value(header(1)).unwrap();
    let bytes = envelope(
        &serde_json::to_vec(&json!({ "header": header, "org": bad })).unwrap(),
        TYPE,
        TYPE,
        &k,
        None,
    );
    let error = Snapshot::verify(&bytes, &trust(&[&k]), &VerifyOptions::new(now())).unwrap_err();
    assert_eq!(error.kind(), LoadErrorKind::InvalidContent);
    assert_eq!(error.validation().map(|v| v.errors().len()), Some(2), "{error}");
}

#[test]
fn keys_rotate() {
    let (old, new) = (key(1), key(2));
    let both = trust(&[&old, &new]);
    assert!(load(&signed(1, &old), &both).is_ok());
    assert!(load(&signed(1, &new), &both).is_ok());
    // Signed by both during the rotation: either key alone verifies it.
    let dual = sign(&small_org(), &header(1), &[&old, &new]).unwrap();
    assert_eq!(load(&dual, &trust(&[&new])).unwrap().key_id(), &new.public_key().key_id());
    assert_eq!(load(&dual, &trust(&[&old])).unwrap().key_id(), &old.public_key().key_id());
}

#[test]
fn several_signatures_of_which_one_is_good() {
    let (k, stranger) = (key(1), key(3));
    let mut value: Value =
        serde_json::from_slice(&sign(&small_org(), &header(1), &[&stranger, &k]).unwrap()).unwrap();
    // Spoil the stranger's signature; the good one still carries the snapshot.
    value["signatures"][0]["sig"] = json!(BASE64.encode([0u8; 64]));
    let bytes = serde_json::to_vec(&value).unwrap();
    assert!(load(&bytes, &trust(&[&k])).is_ok());
}

#[test]
fn a_signature_with_no_key_id_is_tried_against_every_trusted_key() {
    let k = key(1);
    let mut value: Value = serde_json::from_slice(&signed(1, &k)).unwrap();
    value["signatures"][0]["keyid"] = json!("");
    let bytes = serde_json::to_vec(&value).unwrap();
    assert!(load(&bytes, &trust(&[&key(2), &k])).is_ok());
    assert_eq!(load(&bytes, &trust(&[&key(2)])).err(), Some(LoadErrorKind::BadSignature));
}

#[test]
fn an_update_replaces_the_snapshot_whole_or_not_at_all() {
    let k = key(1);
    let keys = trust(&[&k]);
    let options = VerifyOptions::new(now());
    let mut engine = Engine::load(&signed(5, &k), &keys, &options).unwrap();

    let mut tampered = signed(6, &k);
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    assert!(engine.update(&tampered, &keys, &options).is_err());
    assert_eq!(engine.snapshot().header().version, 5, "a failed update keeps the old snapshot");

    let rollback = engine.update(&signed(4, &k), &keys, &options).unwrap_err();
    assert_eq!(rollback.kind(), LoadErrorKind::Rollback, "older than the current snapshot");
    assert_eq!(engine.snapshot().header().version, 5);

    assert_eq!(engine.update(&signed(6, &k), &keys, &options).unwrap().version, 6);
    assert_eq!(engine.snapshot().header().version, 6);
    let view = Query::view(ResourceKind::Project, "p-rebrand");
    assert!(engine.snapshot().allows("u-bob", &view, now()), "the alien user on the team sees the project");
}

/// Every single-byte change to a signed snapshot is refused, or verifies to the very same
/// content (only the key id hint is unsigned, and a changed hint names no trusted key).
#[test]
fn every_single_byte_change_is_rejected() {
    let k = key(1);
    let keys = trust(&[&k]);
    let original = signed(1, &k);
    let reference = load(&original, &keys).unwrap();
    let mut rejected = 0usize;
    let mut same = 0usize;
    let mut bytes = original.clone();
    for position in 0..original.len() {
        for value in 0..=u8::MAX {
            if value == original[position] {
                continue;
            }
            bytes[position] = value;
            match load(&bytes, &keys) {
                Err(_) => rejected += 1,
                Ok(snapshot) => {
                    assert_eq!(snapshot.header(), reference.header(), "byte {position} = {value}");
                    let org = small_org();
                    for user in org.users.iter().map(|u| u.id.as_str()) {
                        for query in all_queries(&org) {
                            assert_eq!(
                                snapshot.decide(user, &query, now()),
                                reference.decide(user, &query, now()),
                                "byte {position} = {value} changed a decision"
                            );
                        }
                    }
                    same += 1;
                }
            }
        }
        bytes[position] = original[position];
    }
    println!(
        "{} mutations of {} bytes: {rejected} rejected, {same} verified to the same content",
        rejected + same,
        original.len()
    );
    assert_eq!(rejected + same, original.len() * 255);
}

#[test]
fn a_scoped_snapshot_decides_for_its_own_user_only() {
    let k = key(1);
    let keys = trust(&[&k]);
    let scoped = |scope: Scope, version| {
        let org = tessera_core::cut(&small_org(), &scope, now()).unwrap();
        sign(&org, &Header { scope, ..header(version) }, &[&k]).unwrap()
    };
    let ada = load(&scoped(Scope::User("u-ada".into()), 1), &keys).unwrap();
    let create = Query::can("project.create", Target::none());
    assert!(ada.allows("u-ada", &create, now()));
    // Anyone else is refused outright: the cut reset what their decisions would read.
    let other = ada.decide("u-bob", &create, now());
    assert_eq!((other.allowed, other.code), (false, Code::OutOfScope));
    assert!(!ada.allows("u-bob", &Query::view(ResourceKind::Project, "p-rebrand"), now()));
    assert!(ada.visible_projects("u-bob", now()).is_empty());
    assert!(ada.permissions_without_target("u-bob", now()).iter().all(|(_, allowed)| !allowed));

    // A Network scope decides for the users of that Network.
    let emea = load(&scoped(Scope::Network("n-emea".into()), 1), &keys).unwrap();
    assert!(emea.allows("u-ada", &create, now()));
    assert_eq!(emea.decide("u-bob", &create, now()).code, Code::OutOfScope);

    // And an engine never swaps one user's snapshot for another's.
    let options = VerifyOptions::new(now());
    let mut engine = Engine::load(&scoped(Scope::User("u-ada".into()), 1), &keys, &options).unwrap();
    let error = engine.update(&scoped(Scope::User("u-bob".into()), 2), &keys, &options).unwrap_err();
    assert_eq!(error.kind(), LoadErrorKind::ScopeMismatch);
    assert_eq!(engine.snapshot().header().scope, Scope::User("u-ada".into()));
    assert!(engine.update(&scoped(Scope::User("u-ada".into()), 2), &keys, &options).is_ok());
}

#[test]
fn an_envelope_cannot_ask_for_unbounded_work() {
    let k = key(1);
    let mut value: Value = serde_json::from_slice(&signed(1, &k)).unwrap();
    let good = value["signatures"][0].clone();
    let spoilt = json!({ "keyid": "", "sig": BASE64.encode([0u8; 64]) });
    // Eight is the most an envelope may carry; a ninth, even a good one, is refused unread.
    value["signatures"] = json!(vec![spoilt; 8]);
    value["signatures"].as_array_mut().unwrap().push(good);
    let bytes = serde_json::to_vec(&value).unwrap();
    assert_eq!(load(&bytes, &trust(&[&k])).err(), Some(LoadErrorKind::MalformedEnvelope));
}

#[test]
fn unverified_text_is_quoted_in_errors() {
    let k = key(1);
    let bytes = envelope(b"{}", "x\nok: snapshot verified\u{1b}[2K", "x", &k, None);
    let error = Snapshot::verify(&bytes, &trust(&[&k]), &VerifyOptions::new(now())).unwrap_err().to_string();
    assert!(!error.contains('\n') && !error.contains('\u{1b}'), "{error}");
    let mut value: Value = serde_json::from_slice(&signed(1, &k)).unwrap();
    value["signatures"][0]["keyid"] = json!("zz\nissuer: trusted");
    let error =
        Snapshot::verify(&serde_json::to_vec(&value).unwrap(), &trust(&[&k]), &VerifyOptions::new(now()))
            .unwrap_err()
            .to_string();
    assert!(error.starts_with("unknown_key") && !error.contains('\n'), "{error}");
}

#[test]
fn what_cannot_be_read_back_is_not_signed() {
    let far = Header { expires_at: Timestamp::from_unix(i64::MAX), ..header(1) };
    assert!(matches!(sign(&small_org(), &far, &[&key(1)]), Err(tessera_core::SignError::Encode(_))));
}
