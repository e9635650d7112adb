//! Which snapshot the app may use, as the core's [`tessera_core::Trust`] decides it, and the
//! app's half of driving it: the keys, the device's storage (the last good snapshot per user,
//! with its ETag and confirmation; the rollback floors), and the refusals the banner shows.
//!
//! The rules themselves (verification, scope, rollback, expiry, what to keep) are the core's,
//! shared with the npm client and tested there; here is only the glue, pure and tested
//! natively against an in-memory [`Device`]. The app drives one [`Keeper`] per signed-in user:
//! the device keeps every user's last good snapshot for offline starts, so switching users
//! starts a new machine rather than clearing the previous user's copy.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tessera_core::{
    Effects, Failure, Origin, PublicKey, Snapshot, Status, Timestamp, Trust, TrustConfig, TrustedKeys,
};

/// In local storage: the rollback floors, per user and issuer (see [`Floors`]).
pub const FLOORS_KEY: &str = "tessera.floors";
/// In local storage, from before the floors were per issuer: the highest version per user. Read
/// as that user's floor for every issuer; never written.
pub const LEGACY_FLOORS_KEY: &str = "tessera.highest-versions";

/// In local storage: the last good snapshot of `user`, as the issuer sent it.
pub fn snapshot_key(user: &str) -> String {
    format!("tessera.snapshot.{user}")
}

/// In local storage: the ETag of `user`'s stored snapshot and when the issuer last confirmed it.
pub fn meta_key(user: &str) -> String {
    format!("tessera.snapshot-meta.{user}")
}

/// The device's storage, as the glue needs it: local storage in the browser, a map in tests.
pub trait Device {
    /// The text stored under `key`.
    fn load(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key`.
    fn store(&self, key: &str, value: &str);
    /// Deletes `key`.
    fn remove(&self, key: &str);
}

/// Why the app refuses to show anything: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// A stable code: the core's reason (a load error's code such as `bad_signature`,
    /// `rollback`, `expired`, `unknown_key`; `wrong_user`; the issuer's `unknown_user` or
    /// `inactive_user`), or the app's own `no_keys`.
    pub code: String,
    /// What happened, for a person.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal { code: code.into(), message: message.into() }
    }

    /// The banner for a failure the core reports; `None` for a refresh that merely failed
    /// (`network`, `http`): offline or with the issuer down, the app runs on what it holds.
    pub fn of(failure: &Failure) -> Option<Refusal> {
        match failure.reason.as_str() {
            "network" | "http" => None,
            _ => Some(Refusal::new(failure.reason.clone(), failure.message.clone())),
        }
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

/// The rollback floors this device keeps: per user, the highest version accepted from each
/// issuer. Per user because each user's snapshot is cut and signed for them, so one user's
/// newer version says nothing of another's stored one (offline, it must not look like a
/// rollback); per issuer as the core asks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Floors(BTreeMap<String, BTreeMap<String, u64>>);

impl Floors {
    fn read(device: &dyn Device) -> Floors {
        device.load(FLOORS_KEY).and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default()
    }

    /// `user`'s floor for `issuer` as stored now (0 if none), the older per-user record
    /// included.
    pub fn floor(device: &dyn Device, user: &str, issuer: &str) -> u64 {
        let floors = Floors::read(device);
        let current = floors.0.get(user).and_then(|issuers| issuers.get(issuer)).copied().unwrap_or(0);
        let legacy = device
            .load(LEGACY_FLOORS_KEY)
            .and_then(|json| serde_json::from_str::<BTreeMap<String, u64>>(&json).ok())
            .and_then(|versions| versions.get(user).copied())
            .unwrap_or(0);
        current.max(legacy)
    }

    /// Raises `user`'s floor for `issuer` to `version`; never lowers it.
    pub fn raise(device: &dyn Device, user: &str, issuer: &str, version: u64) {
        let mut floors = Floors::read(device);
        let entry = floors.0.entry(user.to_owned()).or_default().entry(issuer.to_owned()).or_insert(0);
        if *entry >= version {
            return;
        }
        *entry = version;
        if let Ok(json) = serde_json::to_string(&floors) {
            device.store(FLOORS_KEY, &json);
        }
    }
}

/// Stored beside a user's snapshot: its ETag and when the issuer last confirmed it (Unix
/// seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    confirmed: Option<i64>,
}

/// How the app trusts snapshots: the issuer's keys; usable until the snapshot's own expiry
/// (the app renews on its poll and events, with no shorter bound of its own); a newer
/// snapshot replaces the one shown at once.
pub fn config(keys: TrustedKeys) -> TrustConfig {
    TrustConfig { keys, max_age: None, activate_on_load: true }
}

/// One signed-in user's trust on this device: the core's machine, fed what the app fetched
/// and stored, and its effects carried out on the [`Device`].
#[derive(Debug, Clone)]
pub struct Keeper {
    trust: Trust,
    user: String,
}

impl Keeper {
    /// A machine for `user`, holding nothing yet.
    pub fn new(keys: TrustedKeys, user: &str) -> Keeper {
        Keeper { trust: Trust::new(config(keys), Some(user.to_owned())), user: user.to_owned() }
    }

    /// The user it is for.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The snapshot held, the last good one, whether usable now or not.
    pub fn held(&self) -> Option<&Arc<Snapshot>> {
        self.trust.active()
    }

    /// The snapshot to decide with: held, verified and unexpired.
    pub fn usable(&self) -> Option<&Arc<Snapshot>> {
        self.trust.usable()
    }

    /// The machine's status.
    pub fn status(&self) -> Status {
        self.trust.status()
    }

    /// The ETag to send as `If-None-Match`.
    pub fn etag(&self) -> Option<&str> {
        self.trust.etag()
    }

    /// Loads the copy this device stored for the user, verified again (it may have expired,
    /// been tampered with in storage, or been signed by a key no longer trusted). The refusal,
    /// if it is refused; a refused copy stays stored, as the core leaves it.
    pub fn load_stored(&mut self, device: &dyn Device, now: Timestamp) -> Option<Refusal> {
        let bytes = device.load(&snapshot_key(&self.user))?;
        let meta: Meta = device
            .load(&meta_key(&self.user))
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        let confirmed = meta.confirmed.map(Timestamp::from_unix);
        self.load(device, &bytes, meta.etag, Origin::Cache, confirmed, now)
    }

    /// The issuer's 200: the snapshot it sent, with its ETag. The refusal, if it is refused
    /// (the last good snapshot is kept, and stays stored); `None` once accepted and stored.
    pub fn fetched(
        &mut self,
        device: &dyn Device,
        bytes: &str,
        etag: Option<String>,
        now: Timestamp,
    ) -> Option<Refusal> {
        self.load(device, bytes, etag, Origin::Network, None, now)
    }

    fn load(
        &mut self,
        device: &dyn Device,
        bytes: &str,
        etag: Option<String>,
        origin: Origin,
        confirmed: Option<Timestamp>,
        now: Timestamp,
    ) -> Option<Refusal> {
        let user = self.user.clone();
        let floor = |issuer: &str| Floors::floor(device, &user, issuer);
        let effects = self.trust.load(bytes.as_bytes(), etag, origin, confirmed, &floor, now);
        self.apply(device, Some(bytes), &effects);
        self.trust.last_error().and_then(Refusal::of)
    }

    /// The issuer's 304 for the ETag sent: whether the snapshot held is current and usable,
    /// so that a refusal of some other answer no longer stands.
    pub fn not_modified(&mut self, device: &dyn Device, now: Timestamp) -> bool {
        let effects = self.trust.not_modified(now);
        self.apply(device, None, &effects);
        self.trust.last_error().is_none() && self.trust.usable().is_some()
    }

    /// A refresh that failed: no answer (`status` `None`), or an error status with the issuer's
    /// code and message. The refusal to show, if it is one (a 403 for an unknown or inactive
    /// user, which also drops and clears the user's stored snapshot).
    pub fn failed(
        &mut self,
        device: &dyn Device,
        status: Option<u16>,
        code: &str,
        message: &str,
        now: Timestamp,
    ) -> Option<Refusal> {
        let failure = match status {
            None => Failure::new("network", message),
            Some(403) => Failure { reason: code.to_owned(), message: message.to_owned(), status },
            Some(_) => Failure { reason: "http".to_owned(), message: message.to_owned(), status },
        };
        let effects = self.trust.failed(failure, now);
        self.apply(device, None, &effects);
        // Whatever the issuer's reason, its 403 for the snapshot is a refusal to show.
        (status == Some(403))
            .then(|| Refusal::new(code, format!("The server refused your snapshot: {message}.")))
    }

    /// Time passed: the refusal to show once the snapshot held has expired.
    pub fn tick(&mut self, now: Timestamp) -> Option<Refusal> {
        self.trust.tick(now);
        if self.trust.status() != Status::Expired {
            return None;
        }
        let message = match self.trust.deadline() {
            Some(deadline) => {
                format!("The policy snapshot expired at {deadline}; connect to fetch a new one.")
            }
            None => "The policy snapshot on this device has expired; connect to fetch a new one.".to_owned(),
        };
        Some(Refusal::new("expired", message))
    }

    /// Carries out what the core asks of storage. Only bytes it accepted are stored.
    fn apply(&self, device: &dyn Device, bytes: Option<&str>, effects: &Effects) {
        if let Some(user) = &effects.clear {
            device.remove(&snapshot_key(user));
            device.remove(&meta_key(user));
        }
        if let Some((issuer, version)) = &effects.floor {
            Floors::raise(device, &self.user, issuer, *version);
        }
        let mut meta = None;
        if let (Some(etag), Some(bytes)) = (&effects.store, bytes) {
            device.store(&snapshot_key(&self.user), bytes);
            meta = Some(Meta { etag: etag.clone(), confirmed: None });
        }
        if let Some(confirmed) = effects.confirmed {
            let mut stored = meta.take().unwrap_or_else(|| {
                device
                    .load(&meta_key(&self.user))
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default()
            });
            stored.confirmed = Some(confirmed.unix());
            meta = Some(stored);
        }
        if let Some(meta) = meta
            && let Ok(json) = serde_json::to_string(&meta)
        {
            device.store(&meta_key(&self.user), &json);
        }
    }
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
    use std::cell::RefCell;

    use tessera_core::{Header, Org, Scope, SecretKey, sign};

    use super::*;

    /// Local storage, in memory.
    #[derive(Default)]
    struct Memory(RefCell<BTreeMap<String, String>>);

    impl Device for Memory {
        fn load(&self, key: &str) -> Option<String> {
            self.0.borrow().get(key).cloned()
        }
        fn store(&self, key: &str, value: &str) {
            self.0.borrow_mut().insert(key.to_owned(), value.to_owned());
        }
        fn remove(&self, key: &str) {
            self.0.borrow_mut().remove(key);
        }
    }

    fn org() -> Org {
        serde_json::from_str(
            r#"{
              "networks": [{ "id": "n", "name": "N" }],
              "offices": [{ "id": "o", "name": "O", "network": "n" }],
              "users": [
                { "id": "u-a", "name": "A", "home_office": "o", "profile": "client" },
                { "id": "u-b", "name": "B", "home_office": "o", "profile": "client" }
              ],
              "projects": []
            }"#,
        )
        .unwrap()
    }

    /// A snapshot as the issuer sends it: the signed envelope, as text.
    fn signed(key: &SecretKey, version: u64, scope: Scope, expires: i64) -> String {
        let header = Header {
            schema: tessera_core::SCHEMA_VERSION,
            issuer: "test".into(),
            version,
            issued_at: Timestamp::from_unix(1_000),
            expires_at: Timestamp::from_unix(expires),
            scope,
        };
        String::from_utf8(sign(&org(), &header, &[key]).unwrap()).unwrap()
    }

    fn keys_of(key: &SecretKey) -> TrustedKeys {
        let json = serde_json::json!({ "keys": [{ "id": "x", "public_key": key.public_key().to_text() }] });
        parse_keys(&json.to_string()).unwrap()
    }

    fn user(name: &str) -> Scope {
        Scope::User(name.into())
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix(seconds)
    }

    fn version(keeper: &Keeper) -> Option<u64> {
        keeper.usable().map(|snapshot| snapshot.header().version)
    }

    /// Flips one byte of the signed payload, as a tampering proxy would.
    fn spoil(text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        let at = bytes.len() / 2;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn an_accepted_snapshot_is_stored_with_its_etag_and_raises_the_floor() {
        let key = SecretKey::from_bytes([3; 32]);
        let device = Memory::default();
        let mut keeper = Keeper::new(keys_of(&key), "u-a");
        let good = signed(&key, 5, user("u-a"), 9_000);
        assert_eq!(keeper.fetched(&device, &good, Some("\"e5\"".into()), at(2_000)), None);
        assert_eq!(version(&keeper), Some(5));
        assert_eq!(keeper.status(), Status::Ready);
        assert_eq!(keeper.etag(), Some("\"e5\""));
        assert_eq!(device.load(&snapshot_key("u-a")).as_deref(), Some(good.as_str()));
        assert_eq!(Floors::floor(&device, "u-a", "test"), 5);
        assert_eq!(Floors::floor(&device, "u-b", "test"), 0, "floors are per user");

        // A 304 confirms it, beside the bytes.
        assert!(keeper.not_modified(&device, at(2_500)));
        let meta: Meta = serde_json::from_str(&device.load(&meta_key("u-a")).unwrap()).unwrap();
        assert_eq!(meta, Meta { etag: Some("\"e5\"".into()), confirmed: Some(2_500) });
    }

    #[test]
    fn refused_answers_keep_the_last_good_snapshot_held_and_stored() {
        let key = SecretKey::from_bytes([3; 32]);
        let device = Memory::default();
        let mut keeper = Keeper::new(keys_of(&key), "u-a");
        let good = signed(&key, 5, user("u-a"), 9_000);
        assert_eq!(keeper.fetched(&device, &good, None, at(2_000)), None);

        let refused = |keeper: &mut Keeper, bytes: &str| {
            let refusal = keeper.fetched(&device, bytes, Some("\"bad\"".into()), at(2_100)).unwrap();
            assert_eq!(version(keeper), Some(5), "{refusal}");
            assert_eq!(keeper.held().map(|snapshot| snapshot.header().version), Some(5));
            assert_eq!(device.load(&snapshot_key("u-a")).as_deref(), Some(good.as_str()));
            refusal.code
        };
        assert_eq!(refused(&mut keeper, &signed(&key, 4, user("u-a"), 9_000)), "rollback");
        assert_eq!(refused(&mut keeper, &signed(&key, 6, user("u-b"), 9_000)), "wrong_user");
        assert_eq!(refused(&mut keeper, &signed(&key, 6, Scope::Org, 9_000)), "wrong_user");
        assert_eq!(refused(&mut keeper, &signed(&key, 6, user("u-a"), 1_500)), "expired");
        assert_eq!(refused(&mut keeper, &spoil(&signed(&key, 6, user("u-a"), 9_000))), "bad_signature");
        let stranger = SecretKey::from_bytes([4; 32]);
        assert_eq!(refused(&mut keeper, &signed(&stranger, 6, user("u-a"), 9_000)), "unknown_key");
        assert_eq!(keeper.status(), Status::Stale);
        assert_eq!(Floors::floor(&device, "u-a", "test"), 5);
        assert_eq!(keeper.etag(), None, "the good one's ETag, which it had none of");

        // The same version again (the issuer re-signs it) is accepted.
        assert_eq!(keeper.fetched(&device, &signed(&key, 5, user("u-a"), 9_500), None, at(2_200)), None);
        assert_eq!(keeper.status(), Status::Ready);
    }

    #[test]
    fn an_offline_start_verifies_the_stored_copy_again() {
        let key = SecretKey::from_bytes([3; 32]);
        let device = Memory::default();
        let good = signed(&key, 5, user("u-a"), 9_000);
        Keeper::new(keys_of(&key), "u-a").fetched(&device, &good, Some("\"e5\"".into()), at(2_000));

        let mut keeper = Keeper::new(keys_of(&key), "u-a");
        assert_eq!(keeper.load_stored(&device, at(3_000)), None);
        assert_eq!(version(&keeper), Some(5));
        assert_eq!(keeper.etag(), Some("\"e5\""), "the next fetch asks If-None-Match");

        // Nothing stored for another user: nothing held, nothing refused.
        let mut other = Keeper::new(keys_of(&key), "u-b");
        assert_eq!(other.load_stored(&device, at(3_000)), None);
        assert!(other.usable().is_none());

        // Tampered with in storage, past its expiry, or under keys that no longer hold it.
        device.store(&snapshot_key("u-a"), &spoil(&good));
        let mut keeper = Keeper::new(keys_of(&key), "u-a");
        assert_eq!(keeper.load_stored(&device, at(3_000)).unwrap().code, "bad_signature");
        assert!(keeper.usable().is_none());
        device.store(&snapshot_key("u-a"), &good);
        let mut keeper = Keeper::new(keys_of(&key), "u-a");
        assert_eq!(keeper.load_stored(&device, at(9_000)).unwrap().code, "expired");
        let mut keeper = Keeper::new(keys_of(&SecretKey::from_bytes([4; 32])), "u-a");
        assert_eq!(keeper.load_stored(&device, at(3_000)).unwrap().code, "unknown_key");
    }

    #[test]
    fn the_older_per_user_floor_still_refuses_a_rollback() {
        let key = SecretKey::from_bytes([3; 32]);
        let device = Memory::default();
        device.store(LEGACY_FLOORS_KEY, r#"{"u-a":6}"#);
        device.store(&snapshot_key("u-a"), &signed(&key, 5, user("u-a"), 9_000));
        let mut keeper = Keeper::new(keys_of(&key), "u-a");
        assert_eq!(keeper.load_stored(&device, at(2_000)).unwrap().code, "rollback");
        let mut other = Keeper::new(keys_of(&key), "u-b");
        assert_eq!(other.fetched(&device, &signed(&key, 1, user("u-b"), 9_000), None, at(2_000)), None);
        // Raising a floor keeps the older record's reading for everyone else.
        assert_eq!(Floors::floor(&device, "u-a", "test"), 6);
        assert_eq!(Floors::floor(&device, "u-b", "test"), 1);
    }

    #[test]
    fn a_failed_refresh_keeps_what_is_held_and_the_issuers_refusal_clears_it() {
        let key = SecretKey::from_bytes([3; 32]);
        let device = Memory::default();
        let mut keeper = Keeper::new(keys_of(&key), "u-a");
        keeper.fetched(&device, &signed(&key, 5, user("u-a"), 9_000), Some("\"e5\"".into()), at(2_000));

        assert_eq!(keeper.failed(&device, None, "network", "offline", at(2_100)), None);
        assert_eq!(keeper.failed(&device, Some(503), "unavailable", "later", at(2_100)), None);
        assert_eq!(version(&keeper), Some(5));
        assert_eq!(keeper.status(), Status::Stale);

        let refusal =
            keeper.failed(&device, Some(403), "inactive_user", "you are inactive", at(2_200)).unwrap();
        assert_eq!(refusal.code, "inactive_user");
        assert_eq!(refusal.message, "The server refused your snapshot: you are inactive.");
        assert!(keeper.held().is_none());
        assert_eq!(device.load(&snapshot_key("u-a")), None);
        assert_eq!(device.load(&meta_key("u-a")), None);
        assert_eq!(Floors::floor(&device, "u-a", "test"), 5, "the floor stays");
        assert!(!keeper.not_modified(&device, at(2_300)));
    }

    #[test]
    fn a_snapshot_stops_at_its_expiry() {
        let key = SecretKey::from_bytes([3; 32]);
        let device = Memory::default();
        let mut keeper = Keeper::new(keys_of(&key), "u-a");
        keeper.fetched(&device, &signed(&key, 1, user("u-a"), 3_000), None, at(2_000));
        assert_eq!(keeper.tick(at(2_999)), None);
        assert_eq!(version(&keeper), Some(1));
        assert_eq!(keeper.tick(at(3_000)).unwrap().code, "expired");
        assert!(keeper.usable().is_none());
        assert_eq!(keeper.held().map(|snapshot| snapshot.header().version), Some(1));
        assert!(!keeper.not_modified(&device, at(3_001)), "a 304 does not revive it");
    }

    #[test]
    fn no_usable_key_trusts_nothing() {
        assert_eq!(parse_keys(r#"{"keys":[]}"#).unwrap_err().code, "no_keys");
        assert_eq!(parse_keys(r#"{"keys":[{"id":"x","public_key":"nope"}]}"#).unwrap_err().code, "no_keys");
        assert_eq!(parse_keys("<html>").unwrap_err().code, "no_keys");
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
