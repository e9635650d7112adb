//! What is built once per revision, and cut and signed once per user.
//!
//! A [`Revision`] is one state of the organisation: validated and resolved once
//! ([`Cutter::new`]), with what every request of that state reads already made (the sign-in
//! directory as JSON). The [`Issuer`] holds the revision being served and
//! swaps in the next one whole when it is built; a build runs off the async runtime, and the
//! previous revision keeps answering until then. A build that fails leaves the previous
//! revision serving and is remembered for `/readyz`.
//!
//! A user's snapshot is cut from the revision ([`Cutter::cut`], whose cost grows with what the
//! cut holds), signed, and cached by user, revision and renewal period, bounded in bytes;
//! concurrent requests for one user share one computation, and at most
//! [`Tuning::max_concurrent_cuts`] run at once, on the blocking pool. Its `ETag` is known
//! without cutting ([`Issuer::etag`]), so a revalidation that matches costs a hash.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tessera_core::{
    Cutter, Header, KeyId, Org, Policy, PublicKey, SCHEMA_VERSION, Scope, ScopeError, SecretKey, Snapshot,
    Timestamp, TrustedKeys, ValidationErrors, VerifyOptions,
};
use tokio::sync::Semaphore;

/// How long a served snapshot is valid by default: a week, so that an installed web app keeps
/// working offline over a weekend and a holiday.
pub const DEFAULT_TTL_SECONDS: i64 = 7 * 24 * 3600;
/// The default bound on the signed snapshots kept in memory: 256 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// The default bound on the verified snapshots the server decides with ([`Issuer::sight`]),
/// weighed as three times their signed bytes (they take 1.5 to 2.5 times): 128 MiB.
pub const DEFAULT_SIGHT_BYTES: u64 = 128 * 1024 * 1024;

// ---- The clock ------------------------------------------------------------------------------------

/// Where the server reads the time. Tests pass one they move by hand.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system clock, in whole seconds. A clock before 1970 reads as 1970 (`tessera serve`
    /// checks the clock once when it starts, and refuses to start with such a clock).
    pub fn system() -> Clock {
        Clock(Arc::new(|| system_now().unwrap_or(Timestamp::from_unix(0))))
    }

    /// A clock that reads `now()`.
    pub fn from_fn(now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The system clock in whole seconds, or why it cannot be read.
pub fn system_now() -> anyhow::Result<Timestamp> {
    use anyhow::Context as _;
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    let seconds = i64::try_from(since_epoch.as_secs()).context("the system clock is out of range")?;
    Ok(Timestamp::from_unix(seconds))
}

/// The version after a change at `now`: one more than `previous`, or the Unix time in seconds if
/// that is more. A server starts at `next_version(0, now)`, so that a restarted server is ahead
/// of the one before it, as long as that one did not change more than once a second on average
/// (it then runs ahead of the clock, by at most one version per change).
pub fn next_version(previous: u64, now: Timestamp) -> u64 {
    let clock = u64::try_from(now.unix()).unwrap_or(0);
    previous.saturating_add(1).max(clock)
}

// ---- Revisions ------------------------------------------------------------------------------------

/// One state of the organisation, built once: what every request of that state reads.
#[derive(Debug)]
pub struct Revision {
    number: u64,
    /// Each user's snapshot version: the revision at which their decisions last changed.
    versions: Arc<SnapshotVersions>,
    /// Whose snapshots this revision renewed.
    renewed: Renewed,
    cutter: Cutter,
    /// The sign-in directory, made when first asked for (demo servers only ask).
    directory: std::sync::OnceLock<Bytes>,
    built_at: Timestamp,
    build_time: Duration,
    /// Whether it was built whole or from the revision before it.
    edited: bool,
}

impl Revision {
    /// Validates and resolves `org` as revision `number`, and makes what its requests read:
    /// a full build, every user renewed. CPU work: call it off the async runtime.
    pub fn build(number: u64, org: Org, now: Timestamp) -> Result<Revision, ValidationErrors> {
        let started = Instant::now();
        let cutter = Cutter::new(org)?;
        let build_time = started.elapsed();
        let versions = Arc::new(SnapshotVersions::all_at(number));
        Ok(Revision {
            number,
            versions,
            renewed: Renewed::All,
            cutter,
            directory: std::sync::OnceLock::new(),
            built_at: now,
            build_time,
            edited: false,
        })
    }

    /// Revision `number`, made from `previous` by an edit (`Cutter::edit`, sharing what it left
    /// alone): `previous`'s snapshot versions, with `renewed` (the users whose decisions the
    /// edit changed) moved to `number`.
    pub fn edited(
        number: u64,
        previous: &Revision,
        cutter: Cutter,
        renewed: &[String],
        now: Timestamp,
        build_time: Duration,
    ) -> Revision {
        let mut versions = (*previous.versions).clone();
        versions.renew(renewed.iter().cloned(), number);
        Revision {
            number,
            versions: Arc::new(versions),
            renewed: Renewed::Users(renewed.len()),
            cutter,
            directory: std::sync::OnceLock::new(),
            built_at: now,
            build_time,
            edited: true,
        }
    }

    /// Its number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The version of `user`'s snapshot in this revision: the revision at which their decisions
    /// last changed. It is this revision's number after a full renewal (the first revision, a
    /// source read again), and after an admin change for the users its impact names; every
    /// other user keeps the version, and so the `ETag` and the snapshot, they had.
    pub fn version_of(&self, user: &str) -> u64 {
        self.versions.of(user)
    }

    /// How many users' snapshots this revision renewed: all of them after a full renewal, the
    /// users the edit changed after an edit.
    pub fn renewed(&self) -> usize {
        match self.renewed {
            Renewed::All => self.policy().counts().users,
            Renewed::Users(count) => count,
        }
    }

    /// Gives this revision `versions`, as read from the log of a database.
    pub fn with_versions(mut self, versions: SnapshotVersions) -> Revision {
        self.renewed = if versions.base == self.number {
            Renewed::All
        } else {
            Renewed::Users(versions.changed.values().filter(|&&at| at == self.number).count())
        };
        self.versions = Arc::new(versions);
        self
    }

    /// Its users' snapshot versions.
    pub fn versions(&self) -> &SnapshotVersions {
        &self.versions
    }

    /// The organisation: validated, resolved, indexed for cuts, and its elements as written
    /// (`Cutter::to_org` for a copy of the whole).
    pub fn cutter(&self) -> &Cutter {
        &self.cutter
    }

    /// The organisation, resolved.
    pub fn policy(&self) -> &Policy {
        self.cutter.policy()
    }

    /// When it was built.
    pub fn built_at(&self) -> Timestamp {
        self.built_at
    }

    /// How long the build took.
    pub fn build_time(&self) -> Duration {
        self.build_time
    }

    /// Whether it was built from the revision before it by an edit ([`Revision::edited`]),
    /// rather than whole.
    pub fn is_edited(&self) -> bool {
        self.edited
    }

    /// The sign-in directory (`/api/users`) as JSON, made the first time it is asked for.
    /// CPU work the first time: call it off the async runtime.
    pub(crate) fn directory(&self) -> &Bytes {
        self.directory.get_or_init(|| directory_json(self.cutter.policy()))
    }
}

/// Per user, the version of their snapshot: the last revision that renewed them, which is
/// `base` (the last revision that renewed everyone) unless `changed` says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotVersions {
    /// The last revision that renewed everyone.
    pub base: u64,
    /// The users renewed since, with the revision that last did.
    pub changed: std::collections::HashMap<String, u64>,
}

impl SnapshotVersions {
    /// Everyone at `number`.
    pub fn all_at(number: u64) -> SnapshotVersions {
        SnapshotVersions { base: number, changed: std::collections::HashMap::new() }
    }

    /// `users` renewed at `number`.
    pub fn renew(&mut self, users: impl IntoIterator<Item = String>, number: u64) {
        for user in users {
            self.changed.insert(user, number);
        }
    }

    /// `user`'s version.
    pub fn of(&self, user: &str) -> u64 {
        self.changed.get(user).copied().unwrap_or(self.base)
    }
}

/// Whose snapshots a revision renewed.
#[derive(Debug, Clone, Copy)]
enum Renewed {
    All,
    Users(usize),
}

#[derive(Serialize)]
struct Directory<'a> {
    users: Vec<DirectoryEntry<'a>>,
}

#[derive(Serialize)]
struct DirectoryEntry<'a> {
    id: &'a str,
    name: &'a str,
    network: &'a str,
    office: &'a str,
    profile: &'a str,
}

/// The demo sign-in list: every active user with their Network, home Office and profile, by
/// Network, Office and name.
fn directory_json(policy: &Policy) -> Bytes {
    let mut users: Vec<DirectoryEntry<'_>> = policy
        .users()
        .filter(|user| user.active)
        .map(|user| DirectoryEntry {
            id: user.id,
            name: user.name,
            network: policy.network_name(user.network).unwrap_or(user.network),
            office: policy.office_name(user.home_office).unwrap_or(user.home_office),
            profile: user.profile,
        })
        .collect();
    users.sort_by(|a, b| (a.network, a.office, a.name).cmp(&(b.network, b.office, b.name)));
    // Serialising plain strings cannot fail; an empty list stands in if it somehow did.
    Bytes::from(serde_json::to_vec(&Directory { users }).unwrap_or_else(|_| b"{\"users\":[]}".to_vec()))
}

// ---- The issuer -----------------------------------------------------------------------------------

/// How much the issuer may hold and do at once.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// The bound on the signed snapshots kept, in bytes (0: none kept).
    pub cache_bytes: u64,
    /// The bound on the verified snapshots kept to decide with ([`Issuer::sight`]), in bytes
    /// (0: none kept, each verified again when asked).
    pub sight_bytes: u64,
    /// How many cuts may run at once (at least 1).
    pub max_concurrent_cuts: usize,
}

impl Default for Tuning {
    fn default() -> Tuning {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Tuning {
            cache_bytes: DEFAULT_CACHE_BYTES,
            sight_bytes: DEFAULT_SIGHT_BYTES,
            max_concurrent_cuts: cores,
        }
    }
}

/// What the issuer needs besides the organisation.
#[derive(Debug)]
pub struct IssuerConfig {
    /// The key that signs every snapshot.
    pub key: SecretKey,
    /// The snapshots' `issuer`.
    pub issuer: String,
    /// How long a snapshot is valid, in seconds (positive).
    pub ttl_seconds: i64,
    /// Where the time comes from.
    pub clock: Clock,
    /// Cache and concurrency bounds.
    pub tuning: Tuning,
}

/// A signed snapshot, as served.
#[derive(Debug)]
pub struct Signed {
    /// The envelope.
    pub bytes: Bytes,
    /// Its `ETag`.
    pub etag: String,
}

/// What a snapshot request gets.
#[derive(Debug)]
pub enum Answer {
    /// The client's copy is current: nothing was cut or signed.
    NotModified {
        /// The `ETag` it matched.
        etag: String,
    },
    /// A signed snapshot, from the cache or cut now.
    Snapshot(Arc<Signed>),
}

/// What one user may see and do, as the server decides it: the snapshot the issuer serves that
/// user now, verified from its signed bytes exactly as a client verifies it. Every decision the
/// server makes for a user (search, the actions, `/api/check`, what an administrator's batch may
/// name) is made on it, so that the server refuses exactly what the client hides, with the same
/// reason.
#[derive(Debug)]
pub struct Sight {
    /// The user.
    pub user: String,
    /// The revision it was issued from.
    pub revision: u64,
    /// The user's snapshot version: the `Tessera-Snapshot-Version` the server answers with.
    pub version: u64,
    /// The verified snapshot.
    pub snapshot: Snapshot,
    /// Its signed size, in bytes, for the cache's weigher.
    signed_bytes: usize,
}

impl Sight {
    /// Whether the user may, at `now`: the snapshot's own decision, as the client's.
    pub fn allows(&self, query: &tessera_core::Query, now: Timestamp) -> bool {
        self.snapshot.allows(&self.user, query, now)
    }

    /// The decision, explained as the npm package's `explain` explains it in its default build
    /// (no suggestions).
    pub fn decide(&self, query: &tessera_core::Query, now: Timestamp) -> tessera_core::Decision {
        self.snapshot.decide(&self.user, query, now)
    }

    /// The organisation as the user's snapshot holds it.
    pub fn policy(&self) -> &Policy {
        self.snapshot.policy()
    }
}

/// Why a snapshot could not be issued.
#[derive(Debug, Clone)]
pub enum IssueError {
    /// The organisation holds no such user.
    UnknownUser,
    /// Cutting or signing failed (a bug, or the blocking pool went away).
    Internal(String),
}

/// Why a revision was not built.
#[derive(Debug)]
pub enum BuildError {
    /// The organisation does not validate.
    Invalid(ValidationErrors),
    /// The build could not run (the blocking pool went away).
    Internal(String),
}

/// An organisation that does not validate, refused at start with every problem.
#[derive(Debug)]
pub struct InvalidOrganisation(pub ValidationErrors);

impl std::fmt::Display for InvalidOrganisation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the organisation is invalid: {}", self.0)
    }
}

impl std::error::Error for InvalidOrganisation {}

/// The last build that failed, for `/readyz`.
#[derive(Debug, Clone, Serialize)]
pub struct BuildFailure {
    /// When.
    pub at: Timestamp,
    /// Why.
    pub message: String,
}

/// Snapshots are cached by user, their snapshot version and renewal period.
type CacheKey = (Arc<str>, u64, i64);

/// Builds revisions and issues snapshots; see the module docs.
pub struct Issuer {
    current: RwLock<Arc<Revision>>,
    /// Tells subscribers (the event streams) of each revision installed.
    installed: tokio::sync::watch::Sender<Arc<Revision>>,
    failure: Mutex<Option<BuildFailure>>,
    /// Serialises changes, so that each is made on the revision before it.
    writer: tokio::sync::Mutex<()>,
    key: Arc<SecretKey>,
    public_key: PublicKey,
    key_id: KeyId,
    issuer: String,
    ttl_seconds: i64,
    clock: Clock,
    cache: Option<moka::future::Cache<CacheKey, Arc<Signed>>>,
    sights: Option<moka::future::Cache<CacheKey, Arc<Sight>>>,
    cuts: Semaphore,
    cuts_made: AtomicU64,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("revision", &self.current().number)
            .field("key_id", &self.key_id)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// Builds the first revision of `org` (on this thread: call it before serving, or off the
    /// async runtime) at version "now" in Unix seconds.
    pub fn new(org: Org, config: IssuerConfig) -> anyhow::Result<Issuer> {
        Issuer::starting_at(org, config, None)
    }

    /// [`Issuer::new`], starting at revision `start.0` with the snapshot versions `start.1`
    /// (as a database's log gives them) rather than at "now" with everyone renewed.
    pub fn starting_at(
        org: Org,
        config: IssuerConfig,
        start: Option<(u64, SnapshotVersions)>,
    ) -> anyhow::Result<Issuer> {
        let IssuerConfig { key, issuer, ttl_seconds, clock, tuning } = config;
        if ttl_seconds <= 0 {
            anyhow::bail!("the snapshot lifetime must be positive, not {ttl_seconds} s");
        }
        let now = clock.now();
        let first = match start {
            None => Revision::build(next_version(0, now), org, now),
            Some((number, versions)) => {
                Revision::build(number, org, now).map(|revision| revision.with_versions(versions))
            }
        };
        let first = Arc::new(first.map_err(InvalidOrganisation)?);
        crate::metrics::revision_built(first.number(), first.build_time(), first.renewed());
        let public_key = key.public_key();
        let key_id = public_key.key_id();
        let cache = (tuning.cache_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(tuning.cache_bytes)
                .weigher(|_key: &CacheKey, signed: &Arc<Signed>| {
                    u32::try_from(signed.bytes.len().saturating_add(signed.etag.len()).saturating_add(64))
                        .unwrap_or(u32::MAX)
                })
                .build()
        });
        let sights = (tuning.sight_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(tuning.sight_bytes)
                .weigher(|_key: &CacheKey, sight: &Arc<Sight>| {
                    // A verified snapshot holds its organisation indexed: 1.5 to 2.5 times the
                    // JSON it was read from (the `sight_memory` example of tessera-generate);
                    // weighed at three, so that the bound holds with room to spare.
                    u32::try_from(sight.signed_bytes.saturating_mul(3)).unwrap_or(u32::MAX)
                })
                .build()
        });
        Ok(Issuer {
            installed: tokio::sync::watch::Sender::new(Arc::clone(&first)),
            current: RwLock::new(first),
            failure: Mutex::new(None),
            writer: tokio::sync::Mutex::new(()),
            key: Arc::new(key),
            public_key,
            key_id,
            issuer,
            ttl_seconds,
            clock,
            cache,
            sights,
            cuts: Semaphore::new(tuning.max_concurrent_cuts.max(1)),
            cuts_made: AtomicU64::new(0),
        })
    }

    /// The revision being served.
    pub fn current(&self) -> Arc<Revision> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Each revision as it is installed, starting with the one served now.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<Revision>> {
        self.installed.subscribe()
    }

    /// The public half of the signing key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The snapshots' lifetime in seconds.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// The time now, by the issuer's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The issuer's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The last build that failed since the last one that succeeded, if any.
    pub fn failure(&self) -> Option<BuildFailure> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many snapshots have been cut since start.
    pub fn cuts_made(&self) -> u64 {
        self.cuts_made.load(Ordering::Relaxed)
    }

    /// The bytes the snapshot cache holds now (after its pending evictions).
    pub async fn cached_bytes(&self) -> u64 {
        match &self.cache {
            Some(cache) => {
                cache.run_pending_tasks().await;
                cache.weighted_size()
            }
            None => 0,
        }
    }

    /// The verified snapshots kept to decide with ([`Issuer::sight`]), as their weigher
    /// counts them (after pending evictions): their number and weight in bytes.
    pub async fn sights_held(&self) -> (u64, u64) {
        match &self.sights {
            Some(sights) => {
                sights.run_pending_tasks().await;
                (sights.entry_count(), sights.weighted_size())
            }
            None => (0, 0),
        }
    }

    /// The `ETag` of `user`'s snapshot of `revision` at `now`, known without cutting: a hash of
    /// everything its decisions depend on (the user's snapshot version in that revision, the
    /// user, the issuer, the key, the lifetime and the renewal period, [`renewal_period`]).
    pub fn etag(&self, revision: &Revision, user: &str, now: Timestamp) -> String {
        let period = renewal_period(now, self.ttl_seconds);
        let mut hasher = Sha256::new();
        for part in [user.as_bytes(), self.issuer.as_bytes(), self.key_id.as_str().as_bytes()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let version = revision.version_of(user);
        hasher.update(version.to_be_bytes());
        hasher.update(self.ttl_seconds.to_be_bytes());
        hasher.update(period.to_be_bytes());
        let digest = hasher.finalize();
        let mut hex = String::with_capacity(32);
        for byte in digest.iter().take(16) {
            use std::fmt::Write as _;
            let _ = write!(hex, "{byte:02x}");
        }
        format!("W/\"{version}-{hex}\"")
    }

    /// `user`'s snapshot of the current revision, unless `matches` says the client already holds
    /// the one with this `ETag`.
    pub async fn snapshot(
        &self,
        user: &str,
        matches: impl FnOnce(&str) -> bool,
    ) -> Result<Answer, IssueError> {
        let revision = self.current();
        if revision.policy().user_summary(user).is_none() {
            return Err(IssueError::UnknownUser);
        }
        let now = self.clock.now();
        let etag = self.etag(&revision, user, now);
        if matches(&etag) {
            crate::metrics::snapshot_answer("not_modified");
            return Ok(Answer::NotModified { etag });
        }
        let Some(cache) = &self.cache else {
            crate::metrics::snapshot_answer("miss");
            return self.cut_and_sign(revision, user.to_owned(), etag, now).await.map(Answer::Snapshot);
        };
        let key: CacheKey =
            (Arc::from(user), revision.version_of(user), renewal_period(now, self.ttl_seconds));
        if let Some(signed) = cache.get(&key).await {
            crate::metrics::snapshot_answer("hit");
            return Ok(Answer::Snapshot(signed));
        }
        crate::metrics::snapshot_answer("miss");
        cache
            .try_get_with(key, self.cut_and_sign(revision, user.to_owned(), etag, now))
            .await
            .map(Answer::Snapshot)
            .map_err(|error| (*error).clone())
    }

    /// What `user` may see and do now, as their own snapshot of the current revision decides
    /// it ([`Sight`]): the snapshot issued to them (from the cache, or cut and signed), verified
    /// with the issuer's key on the blocking pool, and kept by user, snapshot version and
    /// renewal period, as the signed bytes are.
    pub async fn sight(&self, user: &str) -> Result<Arc<Sight>, IssueError> {
        let revision = self.current();
        if revision.policy().user_summary(user).is_none() {
            return Err(IssueError::UnknownUser);
        }
        let now = self.clock.now();
        let version = revision.version_of(user);
        let key: CacheKey = (Arc::from(user), version, renewal_period(now, self.ttl_seconds));
        let make = async {
            let signed = match self.snapshot(user, |_| false).await? {
                Answer::Snapshot(signed) => signed,
                Answer::NotModified { .. } => {
                    return Err(IssueError::Internal("a snapshot was asked for and not given".to_owned()));
                }
            };
            let mut keys = TrustedKeys::new();
            keys.add(self.public_key.clone());
            let (user, number) = (user.to_owned(), revision.number);
            tokio::task::spawn_blocking(move || {
                let snapshot =
                    Snapshot::verify(&signed.bytes, &keys, &VerifyOptions::new(now)).map_err(|e| {
                        IssueError::Internal(format!("the issuer's own snapshot does not verify: {e}"))
                    })?;
                let signed_bytes = signed.bytes.len();
                Ok(Arc::new(Sight { user, revision: number, version, snapshot, signed_bytes }))
            })
            .await
            .map_err(|e| IssueError::Internal(e.to_string()))?
        };
        match &self.sights {
            Some(sights) => sights.try_get_with(key, make).await.map_err(|error| (*error).clone()),
            None => make.await,
        }
    }

    /// Cuts and signs on the blocking pool, at most [`Tuning::max_concurrent_cuts`] at once.
    async fn cut_and_sign(
        &self,
        revision: Arc<Revision>,
        user: String,
        etag: String,
        now: Timestamp,
    ) -> Result<Arc<Signed>, IssueError> {
        let _permit = self.cuts.acquire().await.map_err(|e| IssueError::Internal(e.to_string()))?;
        let key = Arc::clone(&self.key);
        let header = Header {
            schema: SCHEMA_VERSION,
            issuer: self.issuer.clone(),
            version: revision.version_of(&user),
            issued_at: now,
            expires_at: now.plus_seconds(self.ttl_seconds),
            scope: Scope::User(user),
        };
        let signed = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let org = revision.cutter.cut(&header.scope, now).map_err(|e| match e {
                ScopeError::UnknownUser(_) => IssueError::UnknownUser,
                other => IssueError::Internal(other.to_string()),
            })?;
            let cut = started.elapsed();
            let mut bytes = tessera_core::sign(&org, &header, &[&key])
                .map_err(|e| IssueError::Internal(e.to_string()))?;
            // Written into a buffer grown by doubling: kept as long as it is, so that the cache
            // holds what its weigher counts (the spare capacity was up to as much again).
            bytes.shrink_to_fit();
            crate::metrics::cut_and_signed(cut, started.elapsed().saturating_sub(cut));
            Ok::<_, IssueError>(bytes)
        })
        .await
        .map_err(|e| IssueError::Internal(e.to_string()))??;
        self.cuts_made.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(Signed { bytes: Bytes::from(signed), etag }))
    }

    /// Builds `org` as the next revision, off the async runtime; the current one answers until
    /// it is built. Nothing is installed: see [`Issuer::install`].
    pub async fn build(&self, org: Org) -> Result<Revision, BuildError> {
        let number = next_version(self.current().number, self.clock.now());
        let now = self.clock.now();
        tokio::task::spawn_blocking(move || Revision::build(number, org, now))
            .await
            .map_err(|e| BuildError::Internal(e.to_string()))?
            .map_err(BuildError::Invalid)
    }

    /// Serves `revision` from now on, unless a later one is already served.
    pub fn install(&self, revision: Revision) -> u64 {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if revision.number > current.number {
            crate::metrics::revision_built(revision.number(), revision.build_time(), revision.renewed());
            tracing::info!(
                revision = revision.number,
                build_ms = revision.build_time.as_millis() as u64,
                renewed = revision.renewed(),
                "serving a new revision"
            );
            *current = Arc::new(revision);
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
            self.installed.send_replace(Arc::clone(&current));
        }
        current.number
    }

    /// Remembers a failure to bring in a new revision, for `/readyz`.
    pub fn record_failure(&self, message: String) {
        tracing::warn!(%message, "a new revision failed to build; the previous one keeps serving");
        crate::metrics::build_failed();
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(BuildFailure { at: self.clock.now(), message });
    }

    /// Replaces the organisation with `org` (a source read again): built off the runtime and
    /// installed; if it fails, the current revision keeps serving and `/readyz` says why.
    pub async fn replace(&self, org: Org) -> Result<u64, BuildError> {
        let _writer = self.writer.lock().await;
        match self.build(org).await {
            Ok(revision) => Ok(self.install(revision)),
            Err(error) => {
                let message = match &error {
                    BuildError::Invalid(errors) => format!("the organisation is invalid: {errors}"),
                    BuildError::Internal(message) => message.clone(),
                };
                self.record_failure(message);
                Err(error)
            }
        }
    }

    /// Holds off every other change until dropped: a change is made on the revision served
    /// when it starts, and installed before the next starts.
    pub async fn lock_changes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writer.lock().await
    }

    /// Builds revision `number` of `org` with `versions` (as a database's log gives them), off
    /// the async runtime. Nothing is installed.
    pub async fn build_at(
        &self,
        number: u64,
        org: Org,
        versions: SnapshotVersions,
    ) -> Result<Revision, BuildError> {
        let now = self.clock.now();
        tokio::task::spawn_blocking(move || {
            Revision::build(number, org, now).map(|revision| revision.with_versions(versions))
        })
        .await
        .map_err(|e| BuildError::Internal(e.to_string()))?
        .map_err(BuildError::Invalid)
    }
}

/// Which half-lifetime `now` falls in. It is part of the `ETag`, so that a client that
/// revalidates gets a fresh signature before its snapshot is half-way to expiry, even when
/// nothing changed: a 304 never leaves it holding a snapshot about to expire.
pub fn renewal_period(now: Timestamp, ttl_seconds: i64) -> i64 {
    now.unix().div_euclid((ttl_seconds / 2).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_only_grow() {
        let at = Timestamp::from_unix;
        assert_eq!(next_version(0, at(1_700_000_000)), 1_700_000_000);
        assert_eq!(next_version(1_700_000_000, at(1_700_000_000)), 1_700_000_001);
        assert_eq!(next_version(1_700_000_005, at(1_700_000_002)), 1_700_000_006);
        assert_eq!(next_version(5, at(1_700_000_000)), 1_700_000_000);
        assert_eq!(next_version(u64::MAX, at(0)), u64::MAX);
        assert_eq!(next_version(0, at(-5)), 1);
    }

    #[test]
    fn renewal_periods_are_half_a_lifetime() {
        let week = 7 * 24 * 3600;
        let start = Timestamp::from_unix(1_700_000_000);
        assert_eq!(renewal_period(start, week), renewal_period(start.plus_seconds(1), week));
        assert_ne!(renewal_period(start, week), renewal_period(start.plus_seconds(week / 2), week));
        assert_eq!(renewal_period(start, 1), 1_700_000_000);
    }
}
