//! Who is asking: the caller's identity from a bearer token, as an OpenID Connect resource
//! server takes it.
//!
//! A token is a JWT verified with `jsonwebtoken` against keys from a JWKS: a file, a URL
//! (fetched at start, and again when a token names a key id it does not hold, at most once per
//! [`REFETCH_INTERVAL`]), or, for `--auth demo`, one Ed25519 key the server makes at start and
//! signs its own short-lived tokens with. Every path verifies the same way:
//!
//! 1. `Authorization: Bearer <token>`, at most [`MAX_TOKEN_BYTES`]; anything else is refused.
//! 2. The header's `alg` is EdDSA, ES256 or RS256 (`none` and HMAC are refused outright), its
//!    `kid` names a key of the set (a set of one key may be used without a `kid`), and that key
//!    is of the algorithm's family (and of its `alg`, if the JWK says one).
//! 3. The signature, `iss`, `aud`, `exp` (required) and `nbf`, with [`LEEWAY_SECONDS`] of
//!    leeway.
//! 4. The user id from the configured claim (`sub` by default): a string of 1 to 256 bytes.
//!
//! A token that verified is remembered (by its SHA-256) for at most [`VERIFIED_FOR`] and never
//! past its `exp`, so that a browser revalidating its snapshot every minute with the same token
//! costs a hash rather than a signature check; a key removed from the JWKS stops being
//! trusted within that time.
//!
//! Whether the organisation holds that user, and whether they may do what they ask, is not
//! this module's business: the routes ask the issuer and the evaluator.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header;
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
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

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS file, read once at start.
    File(PathBuf),
    /// A JWKS URL (`http://` or `https://`), fetched at start and when an unknown `kid` comes.
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
    },
    /// The server signs its own tokens (`POST /api/demo/sign-in`); loopback only.
    Demo,
}

/// The caller, as a verified token names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Their user id.
    pub user: String,
    /// When their token expires, in Unix seconds.
    pub expires: u64,
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

/// Verifies bearer tokens; see the module docs.
pub struct Identity {
    keys: RwLock<Vec<Key>>,
    source: Option<JwksSource>,
    issuer: String,
    audience: String,
    user_claim: String,
    /// When a key id last made us fetch the JWKS URL again.
    last_refetch: Mutex<Option<Instant>>,
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
            .field("demo", &self.demo.is_some())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the keys `config` names (a URL is fetched: call it off the async runtime).
    pub fn new(config: AuthConfig) -> anyhow::Result<Identity> {
        match config {
            AuthConfig::Jwt { jwks, issuer, audience, user_claim } => {
                let keys = load(&jwks)?;
                Ok(Identity {
                    keys: RwLock::new(keys),
                    source: Some(jwks),
                    issuer,
                    audience,
                    user_claim,
                    last_refetch: Mutex::new(None),
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
            keys: RwLock::new(keys),
            source: None,
            issuer: DEMO_ISSUER.to_owned(),
            audience: DEMO_ISSUER.to_owned(),
            user_claim: "sub".to_owned(),
            last_refetch: Mutex::new(None),
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
        let demo = self.demo.as_ref()?;
        let now = jsonwebtoken::get_current_timestamp();
        let expires = now + DEMO_TOKEN_SECONDS;
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some(demo.kid.clone());
        let claims = serde_json::json!({
            "iss": DEMO_ISSUER, "aud": DEMO_ISSUER, "sub": user, "iat": now, "nbf": now, "exp": expires
        });
        jsonwebtoken::encode(&header, &claims, &demo.key).ok().map(|token| (token, expires))
    }

    /// The caller named by the request's bearer token. May fetch the JWKS again (blocking I/O,
    /// rarely): call it off the async runtime, or through [`Identity::caller`].
    pub fn verify(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        let token = bearer(headers)?;
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
                self.refetch();
                self.check(token, &head)
                    .map_err(|KeyMiss| invalid("the token's key is not one of the trusted keys"))??
            }
            Ok(result) => result?,
        };
        let user = claims
            .get(&self.user_claim)
            .and_then(Value::as_str)
            .filter(|user| !user.is_empty() && user.len() <= MAX_USER_BYTES)
            .ok_or_else(|| {
                AuthError::Invalid(format!("the token has no `{}` claim naming a user", self.user_claim))
            })?;
        // `exp` is required and was checked, so it is a number here.
        let expires = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        let caller = Caller { user: user.to_owned(), expires };
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
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
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

    /// Fetches the JWKS URL again, unless it was fetched within [`REFETCH_INTERVAL`].
    fn refetch(&self) {
        let Some(source @ JwksSource::Url(_)) = &self.source else { return };
        {
            let mut last = self.last_refetch.lock().unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        match load(source) {
            Ok(keys) => *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot fetch the JWKS again; keeping the keys held")
            }
        }
    }

    /// [`Identity::verify`]: inline for a token verified lately (a hash), and on the blocking
    /// pool when a URL might be fetched.
    pub async fn caller(self: &std::sync::Arc<Self>, headers: &HeaderMap) -> Result<Caller, AuthError> {
        if let Some(caller) = bearer(headers).ok().and_then(|token| self.remembered(token)) {
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

/// The keys of a JWKS file or URL.
fn load(source: &JwksSource) -> anyhow::Result<Vec<Key>> {
    use anyhow::Context as _;
    let bytes = match source {
        JwksSource::File(path) => {
            std::fs::read(path).with_context(|| format!("cannot read the JWKS `{}`", path.display()))?
        }
        JwksSource::Url(url) => {
            let agent: ureq::Agent =
                ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
            let mut response =
                agent.get(url).call().with_context(|| format!("cannot fetch the JWKS `{url}`"))?;
            response
                .body_mut()
                .with_config()
                .limit(MAX_JWKS_BYTES)
                .read_to_vec()
                .with_context(|| format!("cannot read the JWKS `{url}`"))?
        }
    };
    let set: JwkSet = serde_json::from_slice(&bytes).context("the JWKS is not a JSON Web Key Set")?;
    keys_of(&set)
}

/// The set's keys for EdDSA (Ed25519), ES256 (P-256) and RS256; others are skipped. A set with
/// no usable key is refused.
fn keys_of(set: &JwkSet) -> anyhow::Result<Vec<Key>> {
    let mut keys = Vec::new();
    let mut kids = HashSet::new();
    for jwk in &set.keys {
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
