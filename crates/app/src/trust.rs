//! Which snapshot the app may use: the verification every snapshot passes before anything is
//! rendered from it, and the refusals shown when one does not.
//!
//! Pure logic, no browser: the same rules are tested natively. A snapshot is accepted only when
//! its signature checks against a trusted key, it is not expired, it is scoped to the signed-in
//! user, and its version is not below the highest this device has accepted from its issuer.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tessera_core::{PublicKey, Scope, Snapshot, Timestamp, TrustedKeys, VerifyOptions};

/// Why the app refuses to show anything: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// A stable code: one of the core's load error codes, or `no_keys`, `wrong_user`,
    /// `expired`, `rollback`, `fetch_failed`.
    pub code: String,
    /// What happened, for a person.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal { code: code.into(), message: message.into() }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// The JSON of `GET /api/public-keys`.
#[derive(Debug, Deserialize)]
struct KeysDocument {
    keys: Vec<KeyEntry>,
}

#[derive(Debug, Deserialize)]
struct KeyEntry {
    public_key: String,
}

/// Reads the keys document; keys that do not parse are skipped, and no key at all is an error
/// (the app then trusts nothing and shows nothing).
pub fn parse_keys(json: &str) -> Result<TrustedKeys, Refusal> {
    let document: KeysDocument = serde_json::from_str(json)
        .map_err(|error| Refusal::new("no_keys", format!("The public keys could not be read: {error}.")))?;
    let mut keys = TrustedKeys::new();
    for entry in document.keys {
        if let Ok(key) = PublicKey::from_text(&entry.public_key) {
            keys.add(key);
        }
    }
    if keys.is_empty() {
        return Err(Refusal::new(
            "no_keys",
            "No trusted public key is known, so no snapshot can be checked.",
        ));
    }
    Ok(keys)
}

/// Verifies `bytes` as the snapshot of `user`: signature, schema, expiry, scope, and no older
/// than `floor`, the highest version this device accepted for `user` (versions are per user:
/// each user's snapshot is cut and signed for them, so one user's newer version says nothing
/// of another's stored one).
pub fn accept(
    bytes: &[u8],
    keys: &TrustedKeys,
    user: &str,
    now: Timestamp,
    floor: u64,
) -> Result<Arc<Snapshot>, Refusal> {
    let snapshot = Snapshot::verify(bytes, keys, &VerifyOptions::new(now))
        .map_err(|error| Refusal::new(error.code(), format!("The policy snapshot was refused: {error}.")))?;
    let header = snapshot.header();
    if header.scope != Scope::User(user.to_owned()) {
        return Err(Refusal::new(
            "wrong_user",
            format!("The policy snapshot is for {}, not for the signed-in user.", header.scope),
        ));
    }
    if header.version < floor {
        return Err(Refusal::new(
            "rollback",
            format!(
                "The policy snapshot is version {}, older than version {floor} already accepted on this \
                 device: a rollback.",
                header.version
            ),
        ));
    }
    Ok(Arc::new(snapshot))
}

/// Whether the app may still decide from `snapshot` at `now`; a refusal once it has expired.
pub fn still_valid(snapshot: &Snapshot, now: Timestamp) -> Result<(), Refusal> {
    let expires = snapshot.header().expires_at;
    if now >= expires {
        return Err(Refusal::new(
            "expired",
            format!("The policy snapshot expired at {expires}; connect to fetch a new one."),
        ));
    }
    Ok(())
}

/// "3 min ago", "in 6 days": a duration in seconds, roughly, for the status bar.
pub fn rough_duration(seconds: i64) -> String {
    let magnitude = seconds.unsigned_abs();
    let (count, unit) = match magnitude {
        0..60 => (magnitude, "s"),
        60..3_600 => (magnitude / 60, "min"),
        3_600..86_400 => (magnitude / 3_600, "h"),
        _ => (magnitude / 86_400, if magnitude / 86_400 == 1 { "day" } else { "days" }),
    };
    if seconds < 0 { format!("in {count} {unit}") } else { format!("{count} {unit} ago") }
}

#[cfg(test)]
mod tests {
    use tessera_core::{Header, Org, SecretKey, sign};

    use super::*;

    fn org() -> Org {
        serde_json::from_str(
            r#"{
              "networks": [{ "id": "n", "name": "N" }],
              "offices": [{ "id": "o", "name": "O", "network": "n" }],
              "users": [{ "id": "u-a", "name": "A", "home_office": "o", "profile": "client" }],
              "projects": []
            }"#,
        )
        .unwrap()
    }

    fn signed(key: &SecretKey, version: u64, scope: Scope, expires: i64) -> Vec<u8> {
        let header = Header {
            schema: tessera_core::SCHEMA_VERSION,
            issuer: "test".into(),
            version,
            issued_at: Timestamp::from_unix(1_000),
            expires_at: Timestamp::from_unix(expires),
            scope,
        };
        sign(&org(), &header, &[key]).unwrap()
    }

    fn keys_of(key: &SecretKey) -> TrustedKeys {
        let json = serde_json::json!({ "keys": [{ "id": "x", "public_key": key.public_key().to_text() }] });
        parse_keys(&json.to_string()).unwrap()
    }

    #[test]
    fn accepts_a_good_snapshot_and_refuses_rollback_wrong_user_and_tampering() {
        let key = SecretKey::from_bytes([3; 32]);
        let keys = keys_of(&key);
        let now = Timestamp::from_unix(2_000);
        let floor = 5;

        let good = signed(&key, 5, Scope::User("u-a".into()), 9_000);
        assert_eq!(accept(&good, &keys, "u-a", now, floor).unwrap().header().version, 5);

        let old = signed(&key, 4, Scope::User("u-a".into()), 9_000);
        assert_eq!(accept(&old, &keys, "u-a", now, floor).unwrap_err().code, "rollback");

        assert_eq!(accept(&good, &keys, "u-b", now, floor).unwrap_err().code, "wrong_user");
        let whole = signed(&key, 6, Scope::Org, 9_000);
        assert_eq!(accept(&whole, &keys, "u-a", now, floor).unwrap_err().code, "wrong_user");

        let expired = signed(&key, 6, Scope::User("u-a".into()), 1_500);
        assert_eq!(accept(&expired, &keys, "u-a", now, floor).unwrap_err().code, "expired");

        let mut tampered = good.clone();
        let at = tampered.len() / 2;
        tampered[at] ^= 1;
        assert!(accept(&tampered, &keys, "u-a", now, floor).is_err());

        let stranger = keys_of(&SecretKey::from_bytes([4; 32]));
        assert_eq!(accept(&good, &stranger, "u-a", now, floor).unwrap_err().code, "unknown_key");
    }

    #[test]
    fn no_usable_key_trusts_nothing() {
        assert_eq!(parse_keys(r#"{"keys":[]}"#).unwrap_err().code, "no_keys");
        assert_eq!(parse_keys(r#"{"keys":[{"id":"x","public_key":"nope"}]}"#).unwrap_err().code, "no_keys");
        assert_eq!(parse_keys("<html>").unwrap_err().code, "no_keys");
    }

    #[test]
    fn a_snapshot_stops_at_its_expiry() {
        let key = SecretKey::from_bytes([3; 32]);
        let bytes = signed(&key, 1, Scope::User("u-a".into()), 3_000);
        let snapshot = accept(&bytes, &keys_of(&key), "u-a", Timestamp::from_unix(2_000), 0).unwrap();
        assert!(still_valid(&snapshot, Timestamp::from_unix(2_999)).is_ok());
        assert_eq!(still_valid(&snapshot, Timestamp::from_unix(3_000)).unwrap_err().code, "expired");
    }

    #[test]
    fn durations_read_roughly() {
        assert_eq!(rough_duration(5), "5 s ago");
        assert_eq!(rough_duration(125), "2 min ago");
        assert_eq!(rough_duration(-7_200), "in 2 h");
        assert_eq!(rough_duration(-86_400), "in 1 day");
        assert_eq!(rough_duration(-6 * 86_400 - 5), "in 6 days");
    }
}
