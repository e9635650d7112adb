//! Hostile snapshots: the cases of `tests/hostile/`, generated here, deterministically, with the
//! test key of [`key`]. Each case is the bytes a loader is handed, the options it loads them
//! with, and the code it must answer: a load error's code, or `ok`.
//!
//! The files are what every face of the product runs; `cargo test -p tessera-conformance`
//! checks that they are what this generator writes (and rewrites them with
//! `UPDATE_HOSTILE=1`).
#![allow(clippy::indexing_slicing, reason = "test data: the JSON indexed is built a few lines above")]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_core::{PAYLOAD_TYPE, SecretKey};

/// The seed of the key the hostile cases trust (committed as `tests/hostile/trusted.key.pub`).
pub const KEY_SEED: [u8; 32] = [9; 32];
/// The clock every hostile case is loaded at.
pub const NOW: &str = "2026-06-01T00:00:00Z";

/// The key the hostile cases trust.
pub fn key() -> SecretKey {
    SecretKey::from_bytes(KEY_SEED)
}

/// How a case is loaded, and what it must answer: `tests/hostile/NNN_name.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// What the case is.
    pub description: String,
    /// The load error's code, or `ok`.
    pub expect: String,
    /// The clock to load at.
    pub now: String,
    /// The lowest version to accept.
    #[serde(default)]
    pub min_version: u64,
    /// A size limit other than the default, if the case needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<usize>,
}

/// One case: its file stem (`NNN_name`), expectation and bytes.
pub struct Case {
    /// `NNN_name`.
    pub name: String,
    /// The sidecar.
    pub expectation: Expectation,
    /// What the loader is handed.
    pub bytes: Vec<u8>,
}

fn org() -> Value {
    json!({
        "networks": [
            { "id": "n-emea", "name": "EMEA", "defaults": { "project_manager": ["task.create"] } },
            { "id": "n-amer", "name": "Americas" }
        ],
        "offices": [
            { "id": "o-lon", "name": "London", "network": "n-emea" },
            { "id": "o-nyc", "name": "New York", "network": "n-amer" }
        ],
        "users": [
            { "id": "u-ada", "name": "Ada", "home_office": "o-lon", "profile": "project_manager" },
            { "id": "u-bob", "name": "Bob", "home_office": "o-nyc", "profile": "general_user" }
        ],
        "projects": [
            { "id": "p-rebrand", "name": "Rebrand", "office": "o-lon", "team": ["u-ada"], "created_by": "u-ada" }
        ]
    })
}

fn header(version: u64) -> Value {
    json!({
        "schema": 1, "issuer": "hostile", "version": version,
        "issued_at": "2026-06-01T00:00:00Z", "expires_at": "2026-06-02T00:00:00Z", "scope": "org"
    })
}

fn payload(header: &Value, org: &Value) -> Vec<u8> {
    json!({ "header": header, "org": org }).to_string().into_bytes()
}

/// A DSSE envelope around `payload`, labelled `label`, signed over `signed_type` by `by`.
fn envelope(payload: &[u8], label: &str, signed_type: &str, by: &SecretKey, keyid: Option<&str>) -> Vec<u8> {
    json!({
        "payloadType": label,
        "payload": BASE64.encode(payload),
        "signatures": [signature(payload, signed_type, by, keyid)],
    })
    .to_string()
    .into_bytes()
}

fn signature(payload: &[u8], signed_type: &str, by: &SecretKey, keyid: Option<&str>) -> Value {
    let mut message = format!("DSSEv1 {} {signed_type} {} ", signed_type.len(), payload.len()).into_bytes();
    message.extend_from_slice(payload);
    let text = by.to_text();
    let seed = text.trim().strip_prefix("tessera-ed25519-secret:").and_then(|b| BASE64.decode(b).ok());
    let seed: [u8; 32] = seed.and_then(|s| s.try_into().ok()).unwrap_or([0; 32]);
    let sig = SigningKey::from_bytes(&seed).sign(&message);
    let keyid = keyid.map_or_else(|| by.public_key().key_id().to_string(), str::to_owned);
    json!({ "keyid": keyid, "sig": BASE64.encode(sig.to_bytes()) })
}

fn signed(header: &Value, org: &Value) -> Vec<u8> {
    envelope(&payload(header, org), PAYLOAD_TYPE, PAYLOAD_TYPE, &key(), None)
}

fn with(mut value: Value, change: impl FnOnce(&mut Value)) -> Value {
    change(&mut value);
    value
}

/// Every hostile case, in order.
pub fn cases() -> Vec<Case> {
    let good = signed(&header(3), &org());
    let stranger = SecretKey::from_bytes([10; 32]);
    let mut cases: Vec<(&str, &str, &str, Vec<u8>)> = vec![
        ("valid", "a well-formed snapshot signed by the trusted key", "ok", good.clone()),
        ("empty", "no bytes at all", "malformed_envelope", Vec::new()),
        (
            "truncated",
            "the first half of a valid snapshot",
            "malformed_envelope",
            good.get(..good.len() / 2).unwrap_or_default().to_vec(),
        ),
        ("not_json", "plain text", "malformed_envelope", b"tessera snapshot, honest".to_vec()),
        (
            "non_utf8",
            "bytes that are not UTF-8",
            "malformed_envelope",
            [b"\xff\xfe\xfd{".as_slice(), &good].concat(),
        ),
        (
            "bom",
            "a valid snapshot behind a UTF-8 byte order mark",
            "malformed_envelope",
            [b"\xef\xbb\xbf".as_slice(), &good].concat(),
        ),
        (
            "megabyte_id",
            "a signed organisation whose user id is a megabyte long",
            "over_limit",
            signed(&header(3), &with(org(), |o| o["users"][1]["id"] = json!("u".repeat(1 << 20)))),
        ),
        (
            "deep_envelope",
            "an envelope nested 10,000 arrays deep",
            "malformed_envelope",
            "[".repeat(10_000).into_bytes(),
        ),
        (
            "deep_payload",
            "a signed payload whose organisation is nested 10,000 arrays deep",
            "invalid_content",
            envelope(
                format!("{{\"header\":{},\"org\":{}{}}}", header(3), "[".repeat(10_000), "]".repeat(10_000))
                    .as_bytes(),
                PAYLOAD_TYPE,
                PAYLOAD_TYPE,
                &key(),
                None,
            ),
        ),
        (
            "number_past_2_64",
            "a signed header whose version is 2^64",
            "invalid_content",
            envelope(
                format!(
                    "{{\"header\":{},\"org\":{}}}",
                    header(3).to_string().replace("\"version\":3", "\"version\":18446744073709551616"),
                    org()
                )
                .as_bytes(),
                PAYLOAD_TYPE,
                PAYLOAD_TYPE,
                &key(),
                None,
            ),
        ),
        ("duplicate_envelope_keys", "an envelope that says `payload` twice", "malformed_envelope", {
            let value: Value = serde_json::from_slice(&good).unwrap_or_default();
            let payload = value["payload"].to_string();
            String::from_utf8_lossy(&good)
                .replacen("\"payload\":", &format!("\"payload\":{payload},\"payload\":"), 1)
                .into_bytes()
        }),
        (
            "duplicate_org_keys",
            "a signed organisation whose defaults name a profile twice",
            "invalid_content",
            envelope(
                String::from_utf8_lossy(&payload(&header(3), &org()))
                    .replacen(
                        "\"defaults\":{",
                        "\"defaults\":{\"client\":[\"file.upload\"],\"client\":[],",
                        1,
                    )
                    .as_bytes(),
                PAYLOAD_TYPE,
                PAYLOAD_TYPE,
                &key(),
                None,
            ),
        ),
        (
            "duplicate_ids",
            "a signed organisation with two users of one id",
            "invalid_content",
            signed(&header(3), &with(org(), |o| o["users"][1]["id"] = json!("u-ada"))),
        ),
        (
            "dangling_reference",
            "a signed organisation whose project names an office that does not exist",
            "invalid_content",
            signed(&header(3), &with(org(), |o| o["projects"][0]["office"] = json!("o-atlantis"))),
        ),
        (
            "office_in_two_networks",
            "a signed organisation that declares London in two networks",
            "invalid_content",
            signed(
                &header(3),
                &with(org(), |o| {
                    if let Some(offices) = o["offices"].as_array_mut() {
                        offices.push(json!({ "id": "o-lon", "name": "London", "network": "n-amer" }));
                    }
                }),
            ),
        ),
        (
            "unknown_field",
            "a signed organisation with a field the format does not have",
            "invalid_content",
            signed(&header(3), &with(org(), |o| o["users"][0]["is_admin"] = json!(true))),
        ),
        (
            "wrong_payload_type",
            "a valid signature over another kind of payload",
            "wrong_payload_type",
            envelope(&payload(&header(3), &org()), "application/json", "application/json", &key(), None),
        ),
        (
            "signature_over_another_type",
            "labelled a snapshot, but signed as another payload type",
            "bad_signature",
            envelope(&payload(&header(3), &org()), PAYLOAD_TYPE, "application/json", &key(), None),
        ),
        (
            "untrusted_key",
            "a valid signature by a key that is not trusted",
            "unknown_key",
            envelope(&payload(&header(3), &org()), PAYLOAD_TYPE, PAYLOAD_TYPE, &stranger, None),
        ),
        (
            "no_key_id",
            "a valid signature with an empty key id: tried against every trusted key",
            "ok",
            envelope(&payload(&header(3), &org()), PAYLOAD_TYPE, PAYLOAD_TYPE, &key(), Some("")),
        ),
        ("one_good_signature_of_several", "a stranger's signature, a spoilt one, and a good one", "ok", {
            let body = payload(&header(3), &org());
            json!({
                "payloadType": PAYLOAD_TYPE,
                "payload": BASE64.encode(&body),
                "signatures": [
                    signature(&body, PAYLOAD_TYPE, &stranger, None),
                    { "keyid": key().public_key().key_id().as_str(), "sig": BASE64.encode([0u8; 64]) },
                    signature(&body, PAYLOAD_TYPE, &key(), None),
                ],
            })
            .to_string()
            .into_bytes()
        }),
        (
            "too_many_signatures",
            "nine signatures, the last one good: more than the eight allowed",
            "malformed_envelope",
            {
                let body = payload(&header(3), &org());
                let mut signatures = vec![signature(&body, PAYLOAD_TYPE, &stranger, None); 8];
                signatures.push(signature(&body, PAYLOAD_TYPE, &key(), None));
                json!({ "payloadType": PAYLOAD_TYPE, "payload": BASE64.encode(&body), "signatures": signatures })
                    .to_string()
                    .into_bytes()
            },
        ),
        (
            "expired",
            "expired an hour before the clock",
            "expired",
            signed(
                &with(header(3), |h| {
                    h["issued_at"] = json!("2026-05-30T00:00:00Z");
                    h["expires_at"] = json!("2026-05-31T23:00:00Z");
                }),
                &org(),
            ),
        ),
        (
            "not_yet_valid",
            "issued an hour after the clock",
            "not_yet_valid",
            signed(&with(header(3), |h| h["issued_at"] = json!("2026-06-01T01:00:00Z")), &org()),
        ),
        ("rollback", "version 3 where version 5 was accepted before", "rollback", good.clone()),
        (
            "schema_from_the_future",
            "schema 2, which this build does not read",
            "unsupported_schema",
            signed(&with(header(3), |h| h["schema"] = json!(2)), &org()),
        ),
        ("over_the_size_limit", "a valid snapshot over a 512-byte limit", "too_large", good.clone()),
        (
            "over_the_entity_limits",
            "a signed organisation whose project's team lists 10,001 users",
            "over_limit",
            signed(
                &header(3),
                &with(org(), |o| {
                    o["projects"][0]["team"] =
                        json!((0..=10_000).map(|i| format!("u-{i}")).collect::<Vec<_>>())
                }),
            ),
        ),
    ];
    cases
        .drain(..)
        .enumerate()
        .map(|(index, (name, description, expect, bytes))| Case {
            name: format!("{:03}_{name}", index + 1),
            expectation: Expectation {
                description: description.to_owned(),
                expect: expect.to_owned(),
                now: NOW.to_owned(),
                min_version: if name == "rollback" { 5 } else { 0 },
                max_bytes: (name == "over_the_size_limit").then_some(512),
            },
            bytes,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use super::{cases, key};

    /// The committed files are exactly what the generator writes; `UPDATE_HOSTILE=1` rewrites
    /// them.
    #[test]
    fn the_committed_cases_are_current() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile");
        let update = std::env::var_os("UPDATE_HOSTILE").is_some();
        let mut expected = vec![("trusted.key.pub".to_owned(), key().public_key().to_text().into_bytes())];
        for case in cases() {
            let json = serde_json::to_string_pretty(&case.expectation).unwrap() + "\n";
            expected.push((format!("{}.json", case.name), json.into_bytes()));
            expected.push((format!("{}.snapshot", case.name), case.bytes));
        }
        if update {
            fs::create_dir_all(&dir).unwrap();
            for entry in fs::read_dir(&dir).unwrap().flatten() {
                fs::remove_file(entry.path()).unwrap();
            }
        }
        let mut stale = Vec::new();
        for (name, bytes) in &expected {
            let path = dir.join(name);
            if update {
                fs::write(&path, bytes).unwrap();
            } else if fs::read(&path).ok().as_ref() != Some(bytes) {
                stale.push(name.clone());
            }
        }
        let on_disk = fs::read_dir(&dir).map(|entries| entries.count()).unwrap_or(0);
        assert!(
            stale.is_empty(),
            "stale hostile cases {stale:?}: run `UPDATE_HOSTILE=1 cargo test -p tessera-conformance` and commit"
        );
        assert_eq!(on_disk, expected.len(), "tests/hostile holds files the generator does not write");
    }
}
