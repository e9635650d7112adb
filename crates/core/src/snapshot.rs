//! Signed snapshots (spec §6): keys, the DSSE envelope, the header, verification, and the
//! [`Engine`] that only ever holds a verified snapshot.
//!
//! Loading checks, in order: size, envelope, payload type, signature (before the payload is
//! parsed at all), schema, expiry, not-yet-valid, rollback, limits, then the organisation itself.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha512};

use crate::clock::Timestamp;
use crate::decision::{Code, Decision, Fact};
use crate::limits::Limits;
use crate::load::{self, Source};
use crate::model::Org;
use crate::policy::Policy;
use crate::query::Query;
use crate::validate::ValidationErrors;

/// The DSSE payload type of a Tessera snapshot.
pub const PAYLOAD_TYPE: &str = "application/vnd.tessera.snapshot+json";
/// The payload schema this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;
/// The default limit on a snapshot's size in bytes.
pub const DEFAULT_MAX_BYTES: usize = 32 * 1024 * 1024;
/// The default tolerance for a signer's clock running ahead, in seconds.
pub const DEFAULT_CLOCK_SKEW_SECONDS: i64 = 60;
/// The most signatures an envelope may carry: enough for any key rotation, and a bound on the
/// work an untrusted envelope can ask for.
pub const MAX_SIGNATURES: usize = 8;

const SECRET_PREFIX: &str = "tessera-ed25519-secret:";
const PUBLIC_PREFIX: &str = "tessera-ed25519-public:";

// ---- Keys -------------------------------------------------------------------------------------

/// An Ed25519 signing key.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key with these 32 secret bytes (from a CSPRNG: the core has no randomness).
    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&bytes))
    }

    /// Reads the text form written by [`SecretKey::to_text`].
    pub fn from_text(text: &str) -> Result<SecretKey, KeyError> {
        let bytes = decode_key(text, SECRET_PREFIX, "secret")?;
        Ok(SecretKey::from_bytes(bytes))
    }

    /// One line: `tessera-ed25519-secret:` and the key in base64.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}\n", BASE64.encode(self.0.to_bytes()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public_key().key_id())
    }
}

/// An Ed25519 public key that snapshots can be verified with.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads the text form written by [`PublicKey::to_text`] (the contents of `KEY.pub`).
    pub fn from_text(text: &str) -> Result<PublicKey, KeyError> {
        let bytes = decode_key(text, PUBLIC_PREFIX, "public")?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| KeyError("not a valid Ed25519 public key".to_owned()))
    }

    /// One line: `tessera-ed25519-public:` and the key in base64.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_PREFIX}{}\n", BASE64.encode(self.0.to_bytes()))
    }

    #[cfg(feature = "stream")]
    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// The key id: the first 16 hex digits of the SHA-512 of the raw public key (SHA-512, the
    /// hash Ed25519 itself uses, so that no second hash is shipped for this alone).
    pub fn key_id(&self) -> KeyId {
        let digest = Sha512::digest(self.0.as_bytes());
        let hex: String = digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect();
        KeyId(hex)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

/// A key id, derived from the public key. Only a hint: it is not signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyId(String);

impl KeyId {
    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

fn decode_key(text: &str, prefix: &str, what: &str) -> Result<[u8; 32], KeyError> {
    let Some(encoded) = text.trim().strip_prefix(prefix) else {
        return Err(KeyError(format!("not a tessera {what} key: it should start with `{prefix}`")));
    };
    let bytes =
        BASE64.decode(encoded).map_err(|_| KeyError(format!("the {what} key is not valid base64")))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError(format!("the {what} key is not 32 bytes")))
}

/// The public keys a loader trusts. Several at once, so that keys can rotate.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<(KeyId, PublicKey)>,
}

impl TrustedKeys {
    /// No keys: nothing verifies.
    pub fn new() -> TrustedKeys {
        TrustedKeys::default()
    }

    /// Trusts `key` too.
    pub fn add(&mut self, key: PublicKey) {
        let key_id = key.key_id();
        if !self.keys.iter().any(|(id, _)| *id == key_id) {
            self.keys.push((key_id, key));
        }
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys a signature naming `key_id` is checked with: that key, or every key when the
    /// (unsigned, a hint) key id is empty.
    #[cfg(feature = "stream")]
    pub(crate) fn candidates(&self, key_id: &str) -> Vec<&(KeyId, PublicKey)> {
        if key_id.is_empty() { self.keys.iter().collect() } else { self.get(key_id).into_iter().collect() }
    }

    fn get(&self, key_id: &str) -> Option<&(KeyId, PublicKey)> {
        self.keys.iter().find(|(id, _)| id.as_str() == key_id)
    }
}

impl FromIterator<PublicKey> for TrustedKeys {
    fn from_iter<I: IntoIterator<Item = PublicKey>>(iter: I) -> TrustedKeys {
        let mut keys = TrustedKeys::new();
        for key in iter {
            keys.add(key);
        }
        keys
    }
}

// ---- The header and the envelope --------------------------------------------------------------

/// What a snapshot says about itself; signed with the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The payload schema; this build reads [`SCHEMA_VERSION`].
    pub schema: u32,
    /// Who signed it.
    pub issuer: String,
    /// A number that only grows from one snapshot to the next.
    pub version: u64,
    /// When it was signed.
    pub issued_at: Timestamp,
    /// When it stops being valid.
    pub expires_at: Timestamp,
    /// What part of the organisation it holds.
    pub scope: Scope,
}

/// What part of the organisation a snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The whole organisation.
    Org,
    /// One Network, and what its Agreements share.
    Network(String),
    /// What one user needs.
    User(String),
}

impl Scope {
    /// Reads `org`, `network:ID` or `user:ID`.
    pub fn parse(text: &str) -> Option<Scope> {
        if text == "org" {
            return Some(Scope::Org);
        }
        if let Some(id) = text.strip_prefix("network:").filter(|id| !id.is_empty()) {
            return Some(Scope::Network(id.to_owned()));
        }
        text.strip_prefix("user:").filter(|id| !id.is_empty()).map(|id| Scope::User(id.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Org => f.write_str("org"),
            Scope::Network(id) => write!(f, "network:{id}"),
            Scope::User(id) => write!(f, "user:{id}"),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Scope, D::Error> {
        let text = String::deserialize(deserializer)?;
        Scope::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a scope (org, network:ID, user:ID)"))
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Envelope<'a> {
    payload_type: String,
    /// Borrowed from the bytes where it can be: a snapshot's payload is most of its size.
    #[serde(borrow)]
    payload: Cow<'a, str>,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvelopeSignature {
    #[serde(default)]
    pub(crate) keyid: String,
    pub(crate) sig: String,
}

#[derive(Serialize)]
pub(crate) struct PayloadOut<'a> {
    pub(crate) header: &'a Header,
    pub(crate) org: &'a Org,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadIn<'a> {
    #[serde(borrow)]
    header: &'a RawValue,
    #[serde(borrow)]
    org: &'a RawValue,
}

/// Only the header's schema: read before anything else in it, since the schema says how to
/// read the rest.
#[derive(Deserialize)]
pub(crate) struct SchemaProbe {
    pub(crate) schema: Option<u64>,
}

/// The DSSE pre-authentication encoding: what is signed.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

// ---- Signing ----------------------------------------------------------------------------------

/// Why an organisation could not be signed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignError {
    /// The organisation is inconsistent.
    Invalid(ValidationErrors),
    /// No signing key was given.
    NoKey,
    /// The payload could not be written.
    Encode(String),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Invalid(errors) => write!(f, "refusing to sign: {errors}"),
            SignError::NoKey => f.write_str("no signing key"),
            SignError::Encode(message) => write!(f, "cannot encode the snapshot: {message}"),
        }
    }
}

impl std::error::Error for SignError {}

/// Validates `org` and signs it with `header` by every key in `keys`; returns the envelope.
pub fn sign(org: &Org, header: &Header, keys: &[&SecretKey]) -> Result<Vec<u8>, SignError> {
    if keys.is_empty() {
        return Err(SignError::NoKey);
    }
    Policy::new(org).map_err(SignError::Invalid)?;
    let payload =
        serde_json::to_vec(&PayloadOut { header, org }).map_err(|e| SignError::Encode(e.to_string()))?;
    let message = pae(PAYLOAD_TYPE, &payload);
    let signatures = keys
        .iter()
        .map(|key| EnvelopeSignature {
            keyid: key.public_key().key_id().0,
            sig: BASE64.encode(key.0.sign(&message).to_bytes()),
        })
        .collect();
    let envelope = Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload: Cow::Owned(BASE64.encode(&payload)),
        signatures,
    };
    serde_json::to_vec(&envelope).map_err(|e| SignError::Encode(e.to_string()))
}

// ---- Loading ----------------------------------------------------------------------------------

/// How to verify a snapshot. `now` has no default: the core never reads a clock.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The time to check validity at.
    pub now: Timestamp,
    /// The lowest version accepted: the highest accepted before (rollback protection).
    pub min_version: u64,
    /// The largest snapshot accepted, in bytes.
    pub max_bytes: usize,
    /// How far a signer's clock may run ahead of ours, in seconds.
    pub clock_skew_seconds: i64,
    /// How much the organisation inside may hold.
    pub limits: Limits,
}

impl VerifyOptions {
    /// Checks at `now`, with no minimum version and the default limits.
    pub fn new(now: Timestamp) -> VerifyOptions {
        VerifyOptions {
            now,
            min_version: 0,
            max_bytes: DEFAULT_MAX_BYTES,
            clock_skew_seconds: DEFAULT_CLOCK_SKEW_SECONDS,
            limits: Limits::default(),
        }
    }
}

/// Why a snapshot was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    kind: LoadErrorKind,
    message: String,
    validation: Option<ValidationErrors>,
}

/// The kinds of [`LoadError`], each with a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// Not a DSSE envelope, or its base64 does not decode.
    MalformedEnvelope,
    /// The envelope carries something other than a Tessera snapshot.
    WrongPayloadType,
    /// No signature names a trusted key.
    UnknownKey,
    /// A signature names a trusted key but does not verify.
    BadSignature,
    /// Past `expires_at`.
    Expired,
    /// `issued_at` lies in the future.
    NotYetValid,
    /// Older than the last accepted version.
    Rollback,
    /// A payload schema this build does not read.
    UnsupportedSchema,
    /// Over the size limit.
    TooLarge,
    /// Signed, but the payload is not a consistent organisation.
    InvalidContent,
    /// An update whose scope is not the current snapshot's.
    ScopeMismatch,
    /// Signed, but holding more than the limits allow.
    OverLimit,
}

impl LoadErrorKind {
    /// The stable snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            LoadErrorKind::MalformedEnvelope => "malformed_envelope",
            LoadErrorKind::WrongPayloadType => "wrong_payload_type",
            LoadErrorKind::UnknownKey => "unknown_key",
            LoadErrorKind::BadSignature => "bad_signature",
            LoadErrorKind::Expired => "expired",
            LoadErrorKind::NotYetValid => "not_yet_valid",
            LoadErrorKind::Rollback => "rollback",
            LoadErrorKind::UnsupportedSchema => "unsupported_schema",
            LoadErrorKind::TooLarge => "too_large",
            LoadErrorKind::InvalidContent => "invalid_content",
            LoadErrorKind::ScopeMismatch => "scope_mismatch",
            LoadErrorKind::OverLimit => "over_limit",
        }
    }
}

impl LoadError {
    fn new(kind: LoadErrorKind, message: impl Into<String>) -> LoadError {
        LoadError { kind, message: message.into(), validation: None }
    }

    /// What kind of failure.
    pub fn kind(&self) -> LoadErrorKind {
        self.kind
    }

    /// The stable code of the kind.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The organisation's problems, for [`LoadErrorKind::InvalidContent`] after validation.
    pub fn validation(&self) -> Option<&ValidationErrors> {
        self.validation.as_ref()
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for LoadError {}

/// A verified snapshot: the only thing the evaluator is ever handed.
#[derive(Debug, Clone)]
pub struct Snapshot {
    header: Header,
    key_id: KeyId,
    policy: Policy,
}

impl Snapshot {
    /// Verifies `bytes` and, only then, reads the organisation inside.
    pub fn verify(bytes: &[u8], keys: &TrustedKeys, options: &VerifyOptions) -> Result<Snapshot, LoadError> {
        too_large(bytes.len(), options)?;
        match load::verify(&load::Slice(bytes), keys, options) {
            Ok(snapshot) => Ok(snapshot),
            Err(load::GiveUp) => Snapshot::verify_whole(bytes, keys, options),
        }
    }

    /// [`Snapshot::verify`], reading from `source` rather than from bytes in memory: a snapshot
    /// as the signer writes it is then never held whole (the npm package reads a `Uint8Array`
    /// this way). One laid out otherwise, or one that is refused, is read whole, and is
    /// accepted or refused exactly as by [`Snapshot::verify`].
    pub fn verify_from(
        source: &dyn Source,
        keys: &TrustedKeys,
        options: &VerifyOptions,
    ) -> Result<Snapshot, LoadError> {
        // The length is read once: a source whose length changed would only fail its reads.
        let len = source.len();
        too_large(len, options)?;
        if let Ok(snapshot) = load::verify(source, keys, options) {
            return Ok(snapshot);
        }
        let mut bytes = vec![0; len];
        if !source.read_at(0, &mut bytes) {
            return Err(LoadError::new(LoadErrorKind::MalformedEnvelope, "the snapshot could not be read"));
        }
        Snapshot::verify_whole(&bytes, keys, options)
    }

    #[cfg(feature = "stream")]
    pub(crate) fn from_parts(header: Header, key_id: KeyId, policy: Policy) -> Snapshot {
        Snapshot { header, key_id, policy }
    }

    /// The slow path, and the reference: everything in memory, read as one document.
    pub(crate) fn verify_whole(
        bytes: &[u8],
        keys: &TrustedKeys,
        options: &VerifyOptions,
    ) -> Result<Snapshot, LoadError> {
        // Read as text: one instantiation of serde_json's reader serves every document.
        let envelope: Envelope = json_text(bytes).and_then(serde_json::from_str).map_err(|e| {
            LoadError::new(LoadErrorKind::MalformedEnvelope, format!("not a signed envelope: {e}"))
        })?;
        if envelope.payload_type != PAYLOAD_TYPE {
            return Err(LoadError::new(
                LoadErrorKind::WrongPayloadType,
                format!("payload type {} is not `{PAYLOAD_TYPE}`", untrusted(&envelope.payload_type)),
            ));
        }
        let payload = BASE64.decode(envelope.payload.as_bytes()).map_err(|_| {
            LoadError::new(LoadErrorKind::MalformedEnvelope, "the payload is not valid base64")
        })?;
        let key_id = verify_signatures(&envelope, &payload, keys)?;
        // Reading and indexing the organisation take more than the payload again (module
        // memory after a load measured 3.4–3.6 times the snapshot); reserving twice the payload
        // was faster still (a large first load 2.7 s against 3.1 s) but left memory 17% larger.
        load::reserve(payload.len());

        let parsed: PayloadIn<'_> = json_text(&payload).and_then(serde_json::from_str).map_err(|e| {
            LoadError::new(LoadErrorKind::InvalidContent, format!("the payload is not a snapshot: {e}"))
        })?;
        // The schema decides how to read the rest, so it is read on its own first.
        let schema =
            serde_json::from_str::<SchemaProbe>(parsed.header.get()).ok().and_then(|probe| probe.schema);
        if schema != Some(u64::from(SCHEMA_VERSION)) {
            let shown = schema.map_or_else(|| "missing".to_owned(), |s| s.to_string());
            return Err(LoadError::new(
                LoadErrorKind::UnsupportedSchema,
                format!("schema {shown} is not the supported schema {SCHEMA_VERSION}"),
            ));
        }
        let header: Header = serde_json::from_str(parsed.header.get()).map_err(|e| {
            LoadError::new(LoadErrorKind::InvalidContent, format!("the header is not valid: {e}"))
        })?;
        check_header(&header, options)?;
        let org: Org = serde_json::from_str(parsed.org.get()).map_err(|e| {
            LoadError::new(LoadErrorKind::InvalidContent, format!("the organisation is not valid: {e}"))
        })?;
        // The organisation is read: its text need not stay while it is indexed (in WebAssembly,
        // memory that has once grown stays grown).
        drop(payload);
        options.limits.check(&org).map_err(|e| LoadError::new(LoadErrorKind::OverLimit, e.to_string()))?;
        let policy = Policy::new(&org).map_err(|errors| LoadError {
            kind: LoadErrorKind::InvalidContent,
            message: errors.to_string(),
            validation: Some(errors),
        })?;
        Ok(Snapshot { header, key_id, policy })
    }

    /// The verified header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The trusted key whose signature verified.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The organisation, resolved.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides `query` for `user` at `now`. Past the snapshot's expiry every decision is a
    /// denial (a stale policy must not keep allowing), and so is every decision for someone the
    /// snapshot is not scoped to: a cut keeps only what its own user's decisions need.
    pub fn decide(&self, user: &str, query: &Query, now: Timestamp) -> Decision {
        if let Some(code) = self.refusal(user, now) {
            let message = match code {
                Code::SnapshotExpired => {
                    format!("the policy snapshot expired at {}; fetch a new one", self.header.expires_at)
                }
                _ => {
                    format!("this snapshot is scoped to `{}` and decides for no one else", self.header.scope)
                }
            };
            let fact = match code {
                Code::SnapshotExpired => {
                    Fact::SnapshotExpiry { expires_at: self.header.expires_at.to_string() }
                }
                _ => Fact::SnapshotScope { scope: self.header.scope.to_string() },
            };
            return Decision { allowed: false, code, message, facts: vec![fact], grants: Vec::new() };
        }
        self.policy.decide(user, query, now)
    }

    /// [`Snapshot::decide`], and for a denial the smallest edits of the organisation that would
    /// allow it. None past the snapshot's expiry or outside its scope: a new snapshot is what
    /// those need.
    pub fn explain(&self, user: &str, query: &Query, now: Timestamp) -> Decision {
        if self.refusal(user, now).is_some() {
            return self.decide(user, query, now);
        }
        self.policy.explain(user, query, now)
    }

    /// Whether `user` may, at `now`; denied past the snapshot's expiry and outside its scope.
    pub fn allows(&self, user: &str, query: &Query, now: Timestamp) -> bool {
        self.refusal(user, now).is_none() && self.policy.allows(user, query, now)
    }

    /// The Projects `user` may see at `now` (none past expiry or outside the scope).
    pub fn visible_projects(&self, user: &str, now: Timestamp) -> Vec<&str> {
        if self.refusal(user, now).is_some() {
            return Vec::new();
        }
        self.policy.visible_projects(user, now)
    }

    /// Every permission that takes no target, with whether `user` holds it at `now` (none past
    /// expiry or outside the scope).
    pub fn permissions_without_target(&self, user: &str, now: Timestamp) -> Vec<(&str, bool)> {
        let live = self.refusal(user, now).is_none();
        let mut permissions = self.policy.permissions_without_target(user, now);
        for (_, allowed) in &mut permissions {
            *allowed &= live;
        }
        permissions
    }

    /// Why no decision for `user` at `now` may rest on this snapshot, if so.
    fn refusal(&self, user: &str, now: Timestamp) -> Option<Code> {
        if now >= self.header.expires_at {
            return Some(Code::SnapshotExpired);
        }
        let in_scope = match &self.header.scope {
            Scope::Org => true,
            Scope::User(id) => id == user,
            // An unknown user is the policy's to deny, with its own code.
            Scope::Network(id) => self.policy.user_network_id(user).is_none_or(|network| network == id),
        };
        (!in_scope).then_some(Code::OutOfScope)
    }
}

fn too_large(len: usize, options: &VerifyOptions) -> Result<(), LoadError> {
    if len > options.max_bytes {
        return Err(LoadError::new(
            LoadErrorKind::TooLarge,
            format!("{len} bytes is over the limit of {}", options.max_bytes),
        ));
    }
    Ok(())
}

fn verify_signatures(
    envelope: &Envelope<'_>,
    payload: &[u8],
    keys: &TrustedKeys,
) -> Result<KeyId, LoadError> {
    if envelope.signatures.is_empty() {
        return Err(LoadError::new(LoadErrorKind::MalformedEnvelope, "the envelope has no signature"));
    }
    if envelope.signatures.len() > MAX_SIGNATURES {
        return Err(LoadError::new(
            LoadErrorKind::MalformedEnvelope,
            format!("{} signatures is more than the {MAX_SIGNATURES} allowed", envelope.signatures.len()),
        ));
    }
    let message = pae(&envelope.payload_type, payload);
    // At most MAX_SIGNATURES signatures times the trusted keys: bounded work.
    let mut tried = false;
    for signature in &envelope.signatures {
        // The key id is an unsigned hint: an empty one means "try every trusted key".
        let candidates: Vec<&(KeyId, PublicKey)> = if signature.keyid.is_empty() {
            keys.keys.iter().collect()
        } else {
            keys.get(&signature.keyid).into_iter().collect()
        };
        if candidates.is_empty() {
            continue;
        }
        tried = true;
        let Ok(bytes) = BASE64.decode(signature.sig.as_bytes()) else { continue };
        let Ok(sig) = Signature::from_slice(&bytes) else { continue };
        for (key_id, key) in candidates {
            if key.0.verify_strict(&message, &sig).is_ok() {
                return Ok(key_id.clone());
            }
        }
    }
    if !tried {
        let named: Vec<String> = envelope.signatures.iter().map(|s| untrusted(&s.keyid)).collect();
        Err(LoadError::new(
            LoadErrorKind::UnknownKey,
            format!("signed by untrusted key {}", named.join(", ")),
        ))
    } else {
        Err(LoadError::new(LoadErrorKind::BadSignature, "no signature verifies with a trusted key"))
    }
}

/// Text from an unverified envelope, fit to print: quoted, escaped and cut short, so that it
/// can neither forge lines nor flood a terminal.
/// `bytes` as the text JSON must be.
fn json_text(bytes: &[u8]) -> Result<&str, serde_json::Error> {
    std::str::from_utf8(bytes)
        .map_err(|e| serde::de::Error::custom(format_args!("not UTF-8 text (at byte {})", e.valid_up_to())))
}

fn untrusted(text: &str) -> String {
    const LIMIT: usize = 64;
    let shown: String = text.chars().take(LIMIT).collect();
    let more = if text.chars().nth(LIMIT).is_some() { "…" } else { "" };
    format!("{shown:?}{more}")
}

pub(crate) fn check_header(header: &Header, options: &VerifyOptions) -> Result<(), LoadError> {
    if options.now >= header.expires_at {
        return Err(LoadError::new(LoadErrorKind::Expired, format!("expired at {}", header.expires_at)));
    }
    if header.issued_at > options.now.plus_seconds(options.clock_skew_seconds) {
        return Err(LoadError::new(
            LoadErrorKind::NotYetValid,
            format!("issued in the future, at {}", header.issued_at),
        ));
    }
    if header.version < options.min_version {
        return Err(LoadError::new(
            LoadErrorKind::Rollback,
            format!(
                "version {} is older than version {} already accepted",
                header.version, options.min_version
            ),
        ));
    }
    Ok(())
}

/// Holds the current verified snapshot. An update either replaces it whole or leaves it as it
/// was: nothing is ever half-loaded.
#[derive(Debug, Clone)]
pub struct Engine {
    snapshot: Arc<Snapshot>,
}

impl From<Arc<Snapshot>> for Engine {
    /// An engine holding `snapshot`, verified already (a [`Snapshot`] exists only verified):
    /// the client's trust rules ([`crate::Trust`]) hand out the snapshot they accepted.
    fn from(snapshot: Arc<Snapshot>) -> Engine {
        Engine { snapshot }
    }
}

impl Engine {
    /// Verifies and loads a first snapshot.
    pub fn load(bytes: &[u8], keys: &TrustedKeys, options: &VerifyOptions) -> Result<Engine, LoadError> {
        Snapshot::verify(bytes, keys, options).map(|snapshot| Engine { snapshot: Arc::new(snapshot) })
    }

    /// [`Engine::load`] from a [`Source`] (see [`Snapshot::verify_from`]).
    pub fn load_from(
        source: &dyn Source,
        keys: &TrustedKeys,
        options: &VerifyOptions,
    ) -> Result<Engine, LoadError> {
        Snapshot::verify_from(source, keys, options).map(|snapshot| Engine { snapshot: Arc::new(snapshot) })
    }

    /// Replaces the snapshot with `bytes` if they verify and are no older than the current one;
    /// on any error the engine keeps the snapshot it had.
    pub fn update(
        &mut self,
        bytes: &[u8],
        keys: &TrustedKeys,
        options: &VerifyOptions,
    ) -> Result<&Header, LoadError> {
        self.replace(options, |options| Snapshot::verify(bytes, keys, options))
    }

    /// [`Engine::update`] from a [`Source`] (see [`Snapshot::verify_from`]).
    pub fn update_from(
        &mut self,
        source: &dyn Source,
        keys: &TrustedKeys,
        options: &VerifyOptions,
    ) -> Result<&Header, LoadError> {
        self.replace(options, |options| Snapshot::verify_from(source, keys, options))
    }

    fn replace(
        &mut self,
        options: &VerifyOptions,
        verify: impl FnOnce(&VerifyOptions) -> Result<Snapshot, LoadError>,
    ) -> Result<&Header, LoadError> {
        let mut options = options.clone();
        options.min_version = options.min_version.max(self.snapshot.header.version);
        let snapshot = verify(&options)?;
        // A snapshot cut for someone else must not slip in as an update.
        if snapshot.header.scope != self.snapshot.header.scope {
            return Err(LoadError::new(
                LoadErrorKind::ScopeMismatch,
                format!(
                    "scope `{}` is not the engine's scope `{}`",
                    snapshot.header.scope, self.snapshot.header.scope
                ),
            ));
        }
        self.snapshot = Arc::new(snapshot);
        Ok(&self.snapshot.header)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }
}
