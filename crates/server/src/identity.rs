//! Who is asking: the caller's identity from a bearer token, as an OpenID Connect resource
//! server takes it.
//!
//! A token is a JWT verified with `jsonwebtoken` against keys from a JWKS: a file (read at
//! start, and again by [`Identity::reload`], which `tessera serve` calls on `SIGHUP`), a URL
//! (fetched at start, again once its keys are as old as its `Cache-Control: max-age` says,
//! within [`JwksRefresh`]'s bounds, and when a token names a key id it does not hold, at most
//! once per [`REFETCH_INTERVAL`]; `http://` only on loopback), or, for `--auth demo`, one
//! Ed25519 key the server makes at start and signs its own short-lived tokens with. Keys marked
//! for another use than signatures (`"use": "enc"`, `key_ops` without `verify`) are skipped.
//! Every path verifies the same way:
//!
//! 1. `Authorization: Bearer <token>`, at most [`MAX_TOKEN_BYTES`]; anything else is refused.
//! 2. The header's `alg` is EdDSA, ES256 or RS256 (`none` and HMAC are refused outright), its
//!    `kid` names a key of the set (a set of one key may be used without a `kid`), and that key
//!    is of the algorithm's family (and of its `alg`, if the JWK says one).
//! 3. The signature, `iss`, `aud`, `exp` (required) and `nbf`, with [`LEEWAY_SECONDS`] of
//!    leeway.
//! 4. A token whose `scope` claim (space-separated, as OAuth writes it) holds the service scope
//!    (`--service-scope`; the demo's own) names a **service** by its `sub`, which need not be a
//!    user of the organisation; any other names a user by the configured claim (`sub` by
//!    default). Either is a string of 1 to 256 bytes.
//!
//! A token that verified is remembered (by its SHA-256) for at most [`VERIFIED_FOR`] and never
//! past its `exp`, so that a browser revalidating its snapshot every minute with the same token
//! costs a hash rather than a signature check; new keys forget every token remembered, so a
//! key removed from the JWKS stops being trusted as soon as its removal is read.
//!
//! Whether the organisation holds that user, and whether they may do what they ask, is not
//! this module's business: the routes ask the issuer and the evaluator.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header;
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::Value;
use sha2::Digest as _;

/// The longest `Authorization` header accepted.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// How far `exp` and `nbf` may be off, for clocks that disagree a little.
pub const LEEWAY_SECONDS: u64 = 30;
/// The least time between two fetches of a JWKS URL prompted by unknown key ids.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// How long a verified token is remembered at most.
pub const VERIFIED_FOR: Duration = Duration::from_secs(60);
/// How many verified tokens are remembered at most.
const VERIFIED_TOKENS: u64 = 100_000;
/// The largest JWKS accepted.
const MAX_JWKS_BYTES: u64 = 1024 * 1024;
/// The longest user id accepted: the core's limit on an id.
const MAX_USER_BYTES: usize = 256;
/// How long a demo token is valid.
pub const DEMO_TOKEN_SECONDS: u64 = 3600;
/// The `iss` and `aud` of demo tokens.
pub const DEMO_ISSUER: &str = "tessera-demo";
/// The scope of the demo's service tokens (`POST /api/demo/sign-in {"service"}`).
pub const DEMO_SERVICE_SCOPE: &str = "tessera:service";
/// How long a fetched JWKS is used at least before it is fetched again, whatever its
/// `Cache-Control` says: the default of [`JwksRefresh::least`].
pub const JWKS_REFRESH_LEAST: Duration = Duration::from_secs(60);
/// How long a fetched JWKS is used at most before it is fetched again, and how long when its
/// `Cache-Control` says nothing: the default of [`JwksRefresh::most`].
pub const JWKS_REFRESH_MOST: Duration = Duration::from_secs(15 * 60);

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS file, read at start and by [`Identity::reload`] (on `SIGHUP`).
    File(PathBuf),
    /// A JWKS URL (`https://`, or `http://` on loopback), fetched at start, when its keys are
    /// as old as its `Cache-Control` allows, and when an unknown `kid` comes.
    Url(String),
}

impl JwksSource {
    /// A URL if `text` starts with `http://` or `https://`, else a file.
    pub fn parse(text: &str) -> JwksSource {
        if text.starts_with("https://") || text.starts_with("http://") {
            JwksSource::Url(text.to_owned())
        } else {
            JwksSource::File(PathBuf::from(text))
        }
    }
}

/// How callers are identified.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// Tokens of an identity provider.
    Jwt {
        /// Its keys.
        jwks: JwksSource,
        /// The `iss` tokens must carry.
        issuer: String,
        /// The `aud` tokens must carry.
        audience: String,
        /// The claim holding the user id.
        user_claim: String,
        /// A token whose `scope` claim holds this names a service by its `sub`; `None`: no
        /// token does.
        service_scope: Option<String>,
        /// How often a JWKS URL is fetched again.
        refresh: JwksRefresh,
    },
    /// The server signs its own tokens (`POST /api/demo/sign-in`); loopback only.
    Demo,
}

/// How often a JWKS URL is fetched again: when its keys are as old as its `Cache-Control:
/// max-age` says (`no-cache`, `no-store`: at once), but never sooner than `least` nor later than
/// `most` (`most` when it says nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksRefresh {
    /// The least time between two scheduled fetches.
    pub least: Duration,
    /// The most time between two scheduled fetches.
    pub most: Duration,
}

impl Default for JwksRefresh {
    fn default() -> JwksRefresh {
        JwksRefresh { least: JWKS_REFRESH_LEAST, most: JWKS_REFRESH_MOST }
    }
}

impl JwksRefresh {
    /// How long keys fetched with this `max-age` are used.
    fn after(self, max_age: Option<Duration>) -> Duration {
        max_age.unwrap_or(self.most).min(self.most).max(self.least)
    }
}

/// The caller, as a verified token names them: a user, or a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Their user id; a service's name when `service`.
    pub user: String,
    /// When their token expires, in Unix seconds.
    pub expires: u64,
    /// A service principal (its token holds the service scope): it names no user, and may call
    /// `/api/check` only.
    pub service: bool,
}

/// Why a request carries no identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header.
    Missing,
    /// A token that is not to be trusted; the sentence says why.
    Invalid(String),
}

/// One verification key.
struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The demo's own signing key.
struct DemoSigner {
    kid: String,
    key: EncodingKey,
}

/// The keys in use, and a digest of the JWKS they came from (to tell a changed set).
struct KeySet {
    keys: Vec<Key>,
    digest: [u8; 32],
}

/// Verifies bearer tokens; see the module docs.
pub struct Identity {
    keys: RwLock<KeySet>,
    source: Option<JwksSource>,
    issuer: String,
    audience: String,
    user_claim: String,
    service_scope: Option<String>,
    refresh: JwksRefresh,
    /// When this was made: the origin of the two times below.
    made: Instant,
    /// Milliseconds from `made` at which a JWKS URL is due to be fetched again.
    due: AtomicU64,
    /// Milliseconds from `made` of the last fetch since the one at start, if any.
    last_refetch: Mutex<Option<u64>>,
    /// Held while the JWKS is fetched, so that one fetch serves all who wait for it.
    fetching: Mutex<()>,
    demo: Option<DemoSigner>,
    /// Tokens that verified, by SHA-256: their caller and `exp`.
    verified: moka::sync::Cache<[u8; 32], (Caller, u64)>,
}

fn verified_cache() -> moka::sync::Cache<[u8; 32], (Caller, u64)> {
    moka::sync::Cache::builder().max_capacity(VERIFIED_TOKENS).time_to_live(VERIFIED_FOR).build()
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("source", &self.source)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("user_claim", &self.user_claim)
            .field("service_scope", &self.service_scope)
            .field("demo", &self.demo.is_some())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the keys `config` names (a URL is fetched: call it off the async runtime). An
    /// `http://` URL is refused unless its host is loopback.
    pub fn new(config: AuthConfig) -> anyhow::Result<Identity> {
        match config {
            AuthConfig::Jwt { jwks, issuer, audience, user_claim, service_scope, refresh } => {
                if let JwksSource::Url(url) = &jwks {
                    check_url(url)?;
                }
                let loaded = load(&jwks)?;
                let made = Instant::now();
                let due = millis(refresh.after(loaded.max_age));
                Ok(Identity {
                    keys: RwLock::new(loaded.set),
                    source: Some(jwks),
                    issuer,
                    audience,
                    user_claim,
                    service_scope: service_scope.filter(|scope| !scope.is_empty()),
                    refresh,
                    made,
                    due: AtomicU64::new(due),
                    last_refetch: Mutex::new(None),
                    fetching: Mutex::new(()),
                    demo: None,
                    verified: verified_cache(),
                })
            }
            AuthConfig::Demo => Identity::demo(),
        }
    }

    /// A fresh Ed25519 key, and the tokens it signs verified like any other.
    fn demo() -> anyhow::Result<Identity> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for the demo key: {e}"))?;
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        // PKCS#8 of an Ed25519 private key (RFC 8410): a fixed prefix, then the seed.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ];
        der.extend_from_slice(&seed);
        let public =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        let kid = format!("demo-{}", public.get(..12).unwrap_or(&public));
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": public, "kid": kid, "alg": "EdDSA", "use": "sig"
        }))?;
        let keys = keys_of(&JwkSet { keys: vec![jwk] })?;
        Ok(Identity {
            keys: RwLock::new(KeySet { keys, digest: [0; 32] }),
            source: None,
            issuer: DEMO_ISSUER.to_owned(),
            audience: DEMO_ISSUER.to_owned(),
            user_claim: "sub".to_owned(),
            service_scope: Some(DEMO_SERVICE_SCOPE.to_owned()),
            refresh: JwksRefresh::default(),
            made: Instant::now(),
            due: AtomicU64::new(u64::MAX),
            last_refetch: Mutex::new(None),
            fetching: Mutex::new(()),
            demo: Some(DemoSigner { kid, key: EncodingKey::from_ed_der(&der) }),
            verified: verified_cache(),
        })
    }

    /// Whether this is `--auth demo`.
    pub fn is_demo(&self) -> bool {
        self.demo.is_some()
    }

    /// A demo token for `user`, valid [`DEMO_TOKEN_SECONDS`], and when it expires (Unix
    /// seconds); `None` unless this is `--auth demo`.
    pub fn demo_token(&self, user: &str) -> Option<(String, u64)> {
        self.demo_sign(user, None)
    }

    /// A demo token for the service `name` (with [`DEMO_SERVICE_SCOPE`]), valid
    /// [`DEMO_TOKEN_SECONDS`], and when it expires; `None` unless this is `--auth demo`.
    pub fn demo_service_token(&self, name: &str) -> Option<(String, u64)> {
        self.demo_sign(name, Some(DEMO_SERVICE_SCOPE))
    }

    fn demo_sign(&self, subject: &str, scope: Option<&str>) -> Option<(String, u64)> {
        let demo = self.demo.as_ref()?;
        let now = jsonwebtoken::get_current_timestamp();
        let expires = now + DEMO_TOKEN_SECONDS;
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some(demo.kid.clone());
        let mut claims = serde_json::json!({
            "iss": DEMO_ISSUER, "aud": DEMO_ISSUER, "sub": subject, "iat": now, "nbf": now, "exp": expires
        });
        if let (Some(scope), Some(claims)) = (scope, claims.as_object_mut()) {
            claims.insert("scope".to_owned(), Value::from(scope));
        }
        jsonwebtoken::encode(&header, &claims, &demo.key).ok().map(|token| (token, expires))
    }

    /// The caller named by the request's bearer token. May fetch the JWKS again (blocking I/O,
    /// rarely): call it off the async runtime, or through [`Identity::caller`].
    pub fn verify(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        let token = bearer(headers)?;
        if self.refresh_due() {
            self.fetch(Fetch::Scheduled);
        }
        match self.remembered(token) {
            Some(caller) => Ok(caller),
            None => self.verify_token(token),
        }
    }

    /// The caller of `token` if it verified within [`VERIFIED_FOR`] and has not expired since.
    fn remembered(&self, token: &str) -> Option<Caller> {
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let (caller, expires) = self.verified.get(&digest)?;
        if jsonwebtoken::get_current_timestamp() < expires.saturating_add(LEEWAY_SECONDS) {
            return Some(caller);
        }
        self.verified.invalidate(&digest);
        None
    }

    /// The signature, header and claims of `token`, and the caller it names; remembered.
    fn verify_token(&self, token: &str) -> Result<Caller, AuthError> {
        let invalid = |why: &str| AuthError::Invalid(why.to_owned());
        let head =
            jsonwebtoken::decode_header(token).map_err(|_| invalid("the token's header cannot be read"))?;
        if !matches!(head.alg, Algorithm::EdDSA | Algorithm::ES256 | Algorithm::RS256) {
            return Err(invalid("the token's algorithm is not one of EdDSA, ES256, RS256"));
        }
        let claims = match self.check(token, &head) {
            Err(KeyMiss) => {
                self.fetch(Fetch::UnknownKey);
                self.check(token, &head)
                    .map_err(|KeyMiss| invalid("the token's key is not one of the trusted keys"))??
            }
            Ok(result) => result?,
        };
        let service = self.service_scope.as_deref().is_some_and(|wanted| {
            claims
                .get("scope")
                .and_then(Value::as_str)
                .is_some_and(|scopes| scopes.split_ascii_whitespace().any(|scope| scope == wanted))
        });
        let claim = if service { "sub" } else { self.user_claim.as_str() };
        let user = claims
            .get(claim)
            .and_then(Value::as_str)
            .filter(|user| !user.is_empty() && user.len() <= MAX_USER_BYTES)
            .ok_or_else(|| {
                let whom = if service { "a service" } else { "a user" };
                AuthError::Invalid(format!("the token has no `{claim}` claim naming {whom}"))
            })?;
        // `exp` is required and was checked, so it is a number here.
        let expires = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        let caller = Caller { user: user.to_owned(), expires, service };
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        self.verified.insert(digest, (caller.clone(), expires));
        Ok(caller)
    }

    /// The signature and claims, if a key of the set fits the header.
    #[allow(clippy::result_large_err, reason = "a private two-way signal, not an error type")]
    fn check(
        &self,
        token: &str,
        head: &jsonwebtoken::Header,
    ) -> Result<Result<serde_json::Map<String, Value>, AuthError>, KeyMiss> {
        let set = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let keys = &set.keys;
        let key = match &head.kid {
            Some(kid) => keys.iter().find(|key| key.kid.as_deref() == Some(kid.as_str())),
            None if keys.len() == 1 => keys.first(),
            None => None,
        };
        let Some(key) = key else { return Err(KeyMiss) };
        if key.algorithm != head.alg {
            return Ok(Err(AuthError::Invalid("the token's algorithm is not its key's".to_owned())));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        Ok(jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::Invalid(describe(&e))))
    }

    /// Whether a JWKS URL's keys are as old as they may be used.
    fn refresh_due(&self) -> bool {
        matches!(self.source, Some(JwksSource::Url(_)))
            && self.since_made() >= self.due.load(Ordering::Relaxed)
    }

    fn since_made(&self) -> u64 {
        millis(self.made.elapsed())
    }

    /// Fetches the JWKS URL again, if it is still `why` to: its keys are due (another caller
    /// may have fetched them while this one waited), or a key id is unknown and no fetch since
    /// the one at start was made within [`REFETCH_INTERVAL`]. A failed fetch keeps the keys
    /// held, and is tried again after [`REFETCH_INTERVAL`].
    fn fetch(&self, why: Fetch) {
        let Some(source @ JwksSource::Url(_)) = &self.source else { return };
        let _fetching = self.fetching.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.since_made();
        let mut last = self.last_refetch.lock().unwrap_or_else(PoisonError::into_inner);
        match why {
            Fetch::Scheduled if now < self.due.load(Ordering::Relaxed) => return,
            Fetch::Scheduled => {}
            Fetch::UnknownKey if last.is_some_and(|at| now.saturating_sub(at) < millis(REFETCH_INTERVAL)) => {
                return;
            }
            Fetch::UnknownKey => {}
        }
        *last = Some(now);
        drop(last);
        match load(source) {
            Ok(loaded) => {
                self.due
                    .store(now.saturating_add(millis(self.refresh.after(loaded.max_age))), Ordering::Relaxed);
                self.install(loaded.set);
            }
            Err(error) => {
                self.due.store(now.saturating_add(millis(REFETCH_INTERVAL)), Ordering::Relaxed);
                tracing::warn!(error = %format!("{error:#}"), "cannot fetch the JWKS again; keeping the keys held");
            }
        }
    }

    /// Uses `set` from now on; a set other than the one held forgets every token remembered,
    /// so that a key no longer in it verifies nothing more.
    fn install(&self, set: KeySet) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if keys.digest != set.digest {
            *keys = set;
            self.verified.invalidate_all();
        }
    }

    /// Reads a JWKS file again (`tessera serve` does on `SIGHUP`) and uses its keys from now
    /// on, or says why not and keeps those held; fetches a JWKS URL again. Blocking I/O: call
    /// it off the async runtime. Nothing for the demo.
    pub fn reload(&self) -> anyhow::Result<()> {
        match &self.source {
            Some(source @ JwksSource::File(_)) => {
                self.install(load(source)?.set);
                Ok(())
            }
            Some(JwksSource::Url(_)) => {
                self.due.store(0, Ordering::Relaxed);
                self.fetch(Fetch::Scheduled);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// [`Identity::verify`]: inline for a token verified lately (a hash), and on the blocking
    /// pool when a URL might be fetched.
    pub async fn caller(self: &std::sync::Arc<Self>, headers: &HeaderMap) -> Result<Caller, AuthError> {
        if !self.refresh_due()
            && let Some(caller) = bearer(headers).ok().and_then(|token| self.remembered(token))
        {
            return Ok(caller);
        }
        if matches!(self.source, Some(JwksSource::Url(_))) {
            let identity = std::sync::Arc::clone(self);
            let headers = headers.clone();
            tokio::task::spawn_blocking(move || identity.verify(&headers))
                .await
                .unwrap_or_else(|e| Err(AuthError::Invalid(format!("verification failed: {e}"))))
        } else {
            self.verify(headers)
        }
    }
}

/// No key of the set fits the token's header.
struct KeyMiss;

/// Why the JWKS URL would be fetched.
#[derive(Clone, Copy)]
enum Fetch {
    /// Its keys are as old as they may be used.
    Scheduled,
    /// A token names a key id the set does not hold.
    UnknownKey,
}

/// `duration` in whole milliseconds.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Refuses a JWKS URL over `http://` unless its host is loopback: the keys decide who anyone
/// is, and must not be open to whoever sits on the path.
fn check_url(url: &str) -> anyhow::Result<()> {
    let Some(rest) = url.strip_prefix("http://") else { return Ok(()) };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .parse::<axum::http::uri::Authority>()
        .map_err(|_| anyhow::anyhow!("cannot read the host of the JWKS URL `{url}`"))?;
    if crate::loopback_host(host.host()) {
        return Ok(());
    }
    anyhow::bail!(
        "refusing the JWKS URL `{url}`: http:// is for loopback only (the keys decide who anyone is); use https://"
    )
}

/// The `max-age` of a `Cache-Control` header: `no-cache` and `no-store` are 0.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').map(str::trim).find_map(|directive| {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "max-age" => value.trim().trim_matches('"').parse().ok().map(Duration::from_secs),
            "no-cache" | "no-store" => Some(Duration::ZERO),
            _ => None,
        }
    })
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Err(AuthError::Missing) };
    let invalid = |why: &str| AuthError::Invalid(why.to_owned());
    if values.next().is_some() {
        return Err(invalid("more than one Authorization header"));
    }
    if value.len() > MAX_TOKEN_BYTES {
        return Err(invalid("the token is too large"));
    }
    let value = value.to_str().map_err(|_| invalid("the Authorization header is not text"))?;
    let (scheme, token) =
        value.split_once(' ').ok_or_else(|| invalid("send `Authorization: Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid("send `Authorization: Bearer <token>`"));
    }
    let token = token.trim();
    if token.is_empty() || token.split('.').count() != 3 {
        return Err(invalid("the bearer token is not a JWT"));
    }
    Ok(token)
}

/// A sentence for a failed verification, without echoing the token.
fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
        ErrorKind::ImmatureSignature => "the token is not valid yet".to_owned(),
        ErrorKind::InvalidIssuer => "the token's issuer is not the one trusted".to_owned(),
        ErrorKind::InvalidAudience => "the token's audience is not this server".to_owned(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no `{claim}` claim"),
        ErrorKind::InvalidAlgorithm => "the token's algorithm is not its key's".to_owned(),
        _ => "the token cannot be verified".to_owned(),
    }
}

/// A JWKS read: its keys, and for a URL its `Cache-Control: max-age`.
struct Loaded {
    set: KeySet,
    max_age: Option<Duration>,
}

/// The keys of a JWKS file or URL.
fn load(source: &JwksSource) -> anyhow::Result<Loaded> {
    use anyhow::Context as _;
    let (bytes, max_age) = match source {
        JwksSource::File(path) => {
            (std::fs::read(path).with_context(|| format!("cannot read the JWKS `{}`", path.display()))?, None)
        }
        JwksSource::Url(url) => {
            // Redirects keep to https:// when the URL is https://.
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(10)))
                .https_only(url.starts_with("https://"))
                .build()
                .into();
            let mut response =
                agent.get(url).call().with_context(|| format!("cannot fetch the JWKS `{url}`"))?;
            let max_age = response
                .headers()
                .get_all(header::CACHE_CONTROL)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .find_map(max_age);
            let bytes = response
                .body_mut()
                .with_config()
                .limit(MAX_JWKS_BYTES)
                .read_to_vec()
                .with_context(|| format!("cannot read the JWKS `{url}`"))?;
            (bytes, max_age)
        }
    };
    let set: JwkSet = serde_json::from_slice(&bytes).context("the JWKS is not a JSON Web Key Set")?;
    let keys = keys_of(&set)?;
    Ok(Loaded { set: KeySet { keys, digest: sha2::Sha256::digest(&bytes).into() }, max_age })
}

/// The set's keys for EdDSA (Ed25519), ES256 (P-256) and RS256; others are skipped, and so are
/// keys for another use than verifying signatures (`"use"` other than `"sig"`, `key_ops`
/// without `"verify"`). A set with no usable key is refused.
fn keys_of(set: &JwkSet) -> anyhow::Result<Vec<Key>> {
    let mut keys = Vec::new();
    let mut kids = HashSet::new();
    for jwk in &set.keys {
        if !matches!(jwk.common.public_key_use, None | Some(PublicKeyUse::Signature)) {
            continue;
        }
        if jwk.common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify)) {
            continue;
        }
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => Algorithm::EdDSA,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            _ => continue,
        };
        let declared = jwk.common.key_algorithm;
        let fits = match declared {
            None => true,
            Some(KeyAlgorithm::EdDSA) => algorithm == Algorithm::EdDSA,
            Some(KeyAlgorithm::ES256) => algorithm == Algorithm::ES256,
            Some(KeyAlgorithm::RS256) => algorithm == Algorithm::RS256,
            Some(_) => false,
        };
        if !fits {
            continue;
        }
        let kid = jwk.common.key_id.clone();
        if let Some(kid) = &kid
            && !kids.insert(kid.clone())
        {
            anyhow::bail!("the JWKS names key id `{kid}` twice");
        }
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| anyhow::anyhow!("a key of the JWKS cannot be used: {e}"))?;
        keys.push(Key { kid, algorithm, key });
    }
    if keys.is_empty() {
        anyhow::bail!("the JWKS holds no EdDSA (Ed25519), ES256 (P-256) or RS256 key");
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwks_is_kept_as_long_as_its_cache_control_says_within_bounds() {
        assert_eq!(max_age("public, max-age=300"), Some(Duration::from_secs(300)));
        assert_eq!(max_age("Max-Age = \"60\", must-revalidate"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("private"), None);
        assert_eq!(max_age("max-age=soon"), None);
        let refresh = JwksRefresh::default();
        assert_eq!(refresh.after(Some(Duration::from_secs(300))), Duration::from_secs(300));
        assert_eq!(refresh.after(Some(Duration::ZERO)), JWKS_REFRESH_LEAST);
        assert_eq!(refresh.after(Some(Duration::from_secs(86_400))), JWKS_REFRESH_MOST);
        assert_eq!(refresh.after(None), JWKS_REFRESH_MOST);
    }
}
