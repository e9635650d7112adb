//! The snapshot issuer behind `tessera serve`: it holds an organisation, and serves each user
//! their own signed snapshot of it, fast enough for an organisation of 100,000 people.
//!
//! One module per concern:
//!
//! - [`source`]: where the organisation comes from (today a JSON file, read at start and again
//!   on `SIGHUP`), and the content file that search reads.
//! - [`issuer`]: what is built once per revision (the validated, resolved organisation; the
//!   sign-in directory; the search index) and cut and signed once per user (cached, bounded in
//!   bytes, one computation per user however many ask at once, on the blocking pool).
//! - [`identity`]: who is asking, from a bearer token (JWT against a JWKS, or the demo's own):
//!   a user, or a service.
//! - [`admin`]: edits checked for their caller by the evaluator, applied, or previewed.
//! - [`http`]: the routes, their refusals and limits (body size, request timeout, the demo's
//!   loopback `Host`).
//! - [`listener`]: connections: header and idle timeouts, the cap, graceful shutdown.
//! - [`limits`]: what one principal may ask for: rate limits on the costly routes, caps on
//!   event streams and tickets.
//! - [`ops`]: the ops listener's routes (`--ops-addr`): detailed readiness and metrics.
//! - [`store`]: the organisation in a database (PostgreSQL or SQLite) with its log of
//!   revisions.
//! - [`replica`]: a server over a database: following its current revision, committing edits
//!   to it, and outages.
//! - `search`: the unfiltered search index of a revision.
//! - `metrics`: what the ops listener's `GET /metrics` reports.
//!
//! The routes:
//!
//! - `GET /api/snapshot` (bearer token): the caller's own snapshot of the current revision,
//!   signed, with a weak `ETag` known without cutting (`If-None-Match` answers 304 without
//!   cutting or signing);
//! - `GET /api/public-keys`: the key that signs them;
//! - `GET /api/search?q=TEXT[&limit=N]` (bearer token): unfiltered search over Projects, people
//!   and content: the client filters what its user may not see;
//! - `POST /api/admin/edits`, `POST /api/admin/preview`, `GET /api/admin/denials?user=ID`,
//!   `POST /api/admin/override` (bearer token; [`admin`]): edits authorised by the evaluator,
//!   applied as one new revision (committed to the database, with one), or previewed as their
//!   impact; `GET /api/admin/revisions?after=N` (bearer token, with a database): the log;
//! - with `--auth demo` only: `POST /api/demo/sign-in` (a token for any active user) and
//!   `GET /api/users` (the sign-in list);
//! - `GET /api/events` (bearer token, or `?ticket=` from `POST /api/events/ticket`): server-sent
//!   events when the caller's snapshot changes (`events`);
//! - `GET /healthz` (alive), `GET /readyz` (`{"ready": true|false}`, nothing else);
//! - on the ops listener only ([`ops`]): `GET /readyz` in detail (the revision served, the last
//!   failed build, the database), `GET /metrics` (Prometheus text), `GET /healthz`;
//! - with `www`, the web app's static files, every path without an extension falling back to
//!   `index.html`.
//!
//! Where the organisation comes from is the [`Source`]: a database (edits committed there, every
//! replica following it), a file (read-only; `SIGHUP` reads it again), or memory (tests).
//!
//! Versions only grow, across restarts too. Over a database, a revision's number is the
//! snapshot version, and the database gives it (an import takes at least the Unix time, a
//! commit one more than the last). Otherwise a server starts at the Unix time in seconds, and
//! every change takes `max(previous + 1, now)` ([`issuer::next_version`]).
//!
//! Tests drive [`router`] (and [`ops::router`]) in-process; [`serve`] runs them on listeners
//! until a shutdown signal, finishing the requests in flight.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::body::Bytes;
use tessera_core::{Org, SecretKey};

pub mod actions;
pub mod admin;
mod caller;
pub mod content;
pub mod edits;
pub mod enforce;
mod events;
mod host;
pub mod http;
pub mod identity;
pub mod issuer;
pub mod limits;
pub mod listener;
mod metrics;
mod openapi;
pub mod ops;
mod refusal;
pub mod replica;
pub mod search;
pub mod source;
pub mod store;

pub use http::router;
pub use issuer::{Clock, Issuer, Tuning};
pub use limits::Quotas;
pub use listener::Connections;
pub use metrics::{Heap, set_heap_probe};
pub use source::{ContentItem, OrgFile, parse_content, validate_content};

/// Everything a server is made of.
#[derive(Debug)]
pub struct Config {
    /// The organisation; validated when the first revision is built.
    pub org: Org,
    /// The key that signs every snapshot.
    pub key: SecretKey,
    /// The snapshots' `issuer`.
    pub issuer: String,
    /// How long a snapshot is valid, in seconds (positive).
    pub ttl_seconds: i64,
    /// Tasks, documents, report and finance rows for search; checked against `org`.
    pub content: Vec<ContentItem>,
    /// The static files of the web app, if any.
    pub www: Option<PathBuf>,
    /// Where the time comes from.
    pub clock: Clock,
    /// The snapshot cache's bound and the bound on concurrent cuts.
    pub tuning: Tuning,
    /// How long a request may take before it is answered 408.
    pub request_timeout: Duration,
    /// How callers are identified.
    pub auth: identity::AuthConfig,
    /// Where `org` came from, and so where edits go.
    pub source: Source,
    /// Timeouts and the cap of the connections [`serve`] accepts.
    pub connections: Connections,
    /// What one principal may ask for: rate limits, event streams and tickets.
    pub quotas: Quotas,
}

/// Where the organisation comes from, and where edits go.
#[derive(Debug)]
#[expect(clippy::large_enum_variant, reason = "one a server, made once at start")]
pub enum Source {
    /// Held in memory: edits last until the process ends (tests, embedding).
    Memory,
    /// A file, read-only: edits answer 409 `read_only_source`; `SIGHUP` reads it again.
    File(OrgFile),
    /// A database ([`replica::Database::open`]), at the revision it was loaded at: edits are
    /// committed to it, and its current revision is followed.
    Database {
        /// The database.
        database: replica::Database,
        /// The revision `org` is.
        revision: u64,
        /// Its users' snapshot versions.
        versions: issuer::SnapshotVersions,
    },
}

/// What a server's edits go to.
#[derive(Debug)]
pub(crate) enum Edits {
    /// Kept in memory, with the answers remembered for `Idempotency-Key`s.
    Memory(Remembering),
    ReadOnly(OrgFile),
    Database(replica::Database),
}

/// The answers kept for `Idempotency-Key`s when there is no database, by caller and key, for a
/// day.
pub(crate) type Remembering = moka::sync::Cache<(String, String), store::Remembered>;

fn remembering() -> Remembering {
    moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(std::time::Duration::from_secs(edits::IDEMPOTENCY_SECONDS.unsigned_abs()))
        .build()
}

/// The server's state, shared by every request.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    issuer: Issuer,
    identity: Arc<identity::Identity>,
    /// Tickets for `GET /api/events?ticket=`.
    tickets: events::Tickets,
    /// Open event streams, per user.
    streams: events::Streams,
    limits: limits::Limits,
    connections: Connections,
    /// Set when the server shuts down, so that event streams end and in-flight requests finish.
    closing: tokio::sync::watch::Sender<bool>,
    /// `/api/public-keys`, made once.
    public_keys: Bytes,
    www: Option<PathBuf>,
    request_timeout: Duration,
    edits: Edits,
    /// Tasks, files, wiki texts, messages, announcements and group names.
    content: Arc<content::Content>,
    /// At most [`edits::MAX_PREVIEWS`] previews at once.
    previews: tokio::sync::Semaphore,
    /// Searches run on the blocking pool, at most one per core at once.
    searches: tokio::sync::Semaphore,
}

impl AppState {
    /// Checks the content and builds the first revision, on this thread (call it before serving
    /// or off the async runtime).
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        let Config {
            org,
            key,
            issuer,
            ttl_seconds,
            content,
            www,
            clock,
            tuning,
            request_timeout,
            auth,
            source,
            connections,
            quotas,
        } = config;
        let identity = Arc::new(identity::Identity::new(auth)?);
        // The recorder first, so that the first revision's figures are recorded.
        metrics::handle();
        validate_content(&content, &org)?;
        let cores = tuning.max_concurrent_cuts.max(1);
        let config = issuer::IssuerConfig { key, issuer, ttl_seconds, clock, tuning };
        let (issuer, edits) = match source {
            Source::Memory => (Issuer::new(org, config)?, Edits::Memory(remembering())),
            Source::File(file) => (Issuer::new(org, config)?, Edits::ReadOnly(file)),
            Source::Database { database, revision, versions } => {
                (Issuer::starting_at(org, config, Some((revision, versions)))?, Edits::Database(database))
            }
        };
        let key = issuer.public_key();
        let public_keys = serde_json::json!({
            "keys": [{ "id": key.key_id().to_string(), "public_key": key.to_text().trim() }]
        });
        let public_keys =
            Bytes::from(serde_json::to_vec(&public_keys).context("cannot write the public keys")?);
        let content = Arc::new(content::Content::new(&content));
        if let Edits::Database(database) = &edits {
            content.apply(&database.opening_content());
        }
        Ok(AppState(Arc::new(Shared {
            issuer,
            identity,
            tickets: events::Tickets::new(quotas.tickets_per_user),
            streams: events::Streams::new(quotas.streams_per_user),
            limits: limits::Limits::new(&quotas),
            connections,
            closing: tokio::sync::watch::Sender::new(false),
            public_keys,
            www,
            request_timeout,
            edits,
            content,
            previews: tokio::sync::Semaphore::new(edits::MAX_PREVIEWS),
            searches: tokio::sync::Semaphore::new(cores),
        })))
    }

    /// Over a database, follows its current revision until [`AppState::close`] ([`serve`] runs
    /// this); otherwise returns at once.
    pub async fn follow(self) {
        if let Edits::Database(database) = &self.0.edits {
            replica::follow(&self.0.issuer, database, &self.0.content, self.0.closing.subscribe()).await;
        }
    }

    /// Ends the event streams and [`AppState::follow`], as a shutdown does.
    pub fn close(&self) {
        self.0.closing.send_replace(true);
    }

    /// The database, when the organisation comes from one.
    pub fn database(&self) -> Option<&replica::Database> {
        match &self.0.edits {
            Edits::Database(database) => Some(database),
            _ => None,
        }
    }

    /// The issuer: the revision served, snapshots, changes.
    pub fn issuer(&self) -> &Issuer {
        &self.0.issuer
    }

    /// Who is asking: the verifier of bearer tokens.
    pub fn identity(&self) -> &identity::Identity {
        &self.0.identity
    }

    /// The rate limits per principal, which a handler asks right after authenticating.
    pub fn limits(&self) -> &limits::Limits {
        &self.0.limits
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        self.0.issuer.current().number()
    }

    /// Where edits and content go.
    pub(crate) fn edits(&self) -> &Edits {
        &self.0.edits
    }

    /// What people wrote beside the organisation (and the content file's items).
    pub fn content(&self) -> &content::Content {
        &self.0.content
    }

    /// [`AppState::content`], to hold beyond a borrow (on the blocking pool).
    pub fn content_handle(&self) -> Arc<content::Content> {
        Arc::clone(&self.0.content)
    }
}

/// Serves `state` on `listener` (and its ops routes on `ops`, if given) until `shutdown`
/// completes, then finishes the requests in flight and ends the event streams; connections are
/// held to `Config::connections` ([`listener`]). `SIGHUP` reads a JWKS file again and, over a
/// file, the organisation, and serves it as a new revision (a file that fails to read or
/// validate leaves the current revision serving, and the ops `/readyz` says why); over a
/// database, the server follows its current revision ([`replica::follow`]).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    ops: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let following = matches!(state.0.edits, Edits::Database(_)).then(|| tokio::spawn(state.clone().follow()));
    // Registered before anything is served: a SIGHUP that came first would end the process.
    let hangups = tokio::spawn(on_hangup(state.clone(), hangup_signal()));
    let closing = state.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Event streams never end by themselves: end them, so that shutdown can finish; the
        // listeners stop accepting and finish their connections.
        closing.close();
    });
    let connections = state.0.connections;
    let public = listener::serve(listener, router(state.clone()), connections, state.0.closing.subscribe());
    match ops {
        Some(ops) => {
            let ops_connections = Connections { max_connections: ops::MAX_CONNECTIONS, ..connections };
            let ops = listener::serve(
                ops,
                ops::router(state.clone()),
                ops_connections,
                state.0.closing.subscribe(),
            );
            tokio::join!(public, ops);
        }
        None => public.await,
    }
    hangups.abort();
    if let Some(following) = following {
        following.abort();
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

/// The stream of `SIGHUP`s.
#[cfg(unix)]
fn hangup_signal() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

/// No `SIGHUP` here.
#[cfg(not(unix))]
fn hangup_signal() -> Hangups {}

/// On every `SIGHUP`: the JWKS file read again, and the organisation file over a file.
async fn on_hangup(state: AppState, hangups: Hangups) {
    #[cfg(unix)]
    {
        let Some(mut hangups) = hangups else { return };
        while hangups.recv().await.is_some() {
            reload_keys(&state).await;
            if let Edits::ReadOnly(source) = &state.0.edits {
                reload(&state, source).await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (state, hangups);
    }
}

/// Reads the JWKS file again ([`identity::Identity::reload`]), off the runtime; a file that
/// cannot be read keeps the keys held, and the log says why.
pub async fn reload_keys(state: &AppState) {
    let identity = Arc::clone(&state.0.identity);
    match tokio::task::spawn_blocking(move || identity.reload()).await {
        Ok(Ok(())) => tracing::info!("keys read again"),
        Ok(Err(error)) => {
            tracing::warn!(error = %format!("{error:#}"), "cannot read the JWKS again; keeping the keys held")
        }
        Err(error) => tracing::warn!(%error, "cannot read the JWKS again; keeping the keys held"),
    }
}

/// Reads `source` and serves it as a new revision, or says why not.
pub async fn reload(state: &AppState, source: &OrgFile) {
    let read = {
        let source = source.clone();
        tokio::task::spawn_blocking(move || source.read()).await
    };
    match read {
        Ok(Ok(org)) => {
            // A failed build is logged and kept for /readyz by the issuer.
            let _ = state.issuer().replace(org).await;
        }
        Ok(Err(error)) => state.issuer().record_failure(format!("{error:#}")),
        Err(error) => state.issuer().record_failure(error.to_string()),
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What to warn about when `addr` is reachable from other machines.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "{addr} is not a loopback address: serve it behind TLS (tokens and snapshots travel in the clear otherwise)"
        )
    })
}

/// Whether `host` (of a URL or a `Host` header, without its port) names this machine:
/// `localhost`, an address of 127.0.0.0/8, or `[::1]`. Names are not resolved: a name that
/// resolves to loopback is not one (it could resolve elsewhere tomorrow).
pub fn loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let address = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host);
    address.parse::<IpAddr>().is_ok_and(|address| address.is_loopback())
}

/// Whether a `--database` URL names a database on this machine: SQLite, or PostgreSQL on a
/// loopback host or a Unix socket (as sqlx reads the URL, with `PGHOST` and the other
/// variables it honours). `--auth demo` serves no other: its tokens are for anyone.
pub fn database_is_local(url: &str) -> anyhow::Result<bool> {
    if url.starts_with("sqlite:") {
        return Ok(true);
    }
    let options: sqlx::postgres::PgConnectOptions =
        url.parse().map_err(|_| anyhow::anyhow!("cannot read the database URL"))?;
    let host = options.get_host();
    Ok(host.starts_with('/') || loopback_host(host))
}

/// Refuses a `--www` that is not a directory, or that holds the organisation file: only
/// per-user snapshots may reach a browser.
pub fn check_www(www: &Path, org: Option<&Path>) -> anyhow::Result<()> {
    let www = www.canonicalize().with_context(|| format!("cannot read --www `{}`", www.display()))?;
    if !www.is_dir() {
        bail!("--www `{}` is not a directory", www.display());
    }
    let Some(org) = org else { return Ok(()) };
    let org = org.canonicalize().with_context(|| format!("cannot read `{}`", org.display()))?;
    if org.starts_with(&www) {
        bail!(
            "refusing to serve `{}`: the organisation `{}` lies inside it, and only per-user snapshots may reach a browser",
            www.display(),
            org.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_named_or_written_as_addresses() {
        for host in ["localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "[::1]", "::1"] {
            assert!(loopback_host(host), "{host}");
        }
        for host in
            ["localhost.", "rebind.attacker.example", "10.0.0.1", "[::2]", "0.0.0.0", "", "127.0.0.1.nip.io"]
        {
            assert!(!loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_database_is_local_on_loopback_or_a_socket() {
        for url in [
            "sqlite:org.db",
            "postgres://tessera@localhost:5432/org",
            "postgres://tessera@127.0.0.1/org",
            "postgres://tessera@[::1]:5432/org",
            "postgres:///org?host=/var/run/postgresql",
        ] {
            assert!(database_is_local(url).unwrap(), "{url}");
        }
        for url in ["postgres://tessera@db.example.com/org", "postgres://tessera@10.1.2.3:5432/org"] {
            assert!(!database_is_local(url).unwrap(), "{url}");
        }
    }

    #[test]
    fn only_loopback_is_quiet() {
        assert!(exposure_warning("127.0.0.1:8080".parse().unwrap()).is_none());
        assert!(exposure_warning("[::1]:0".parse().unwrap()).is_none());
        assert!(exposure_warning("0.0.0.0:8080".parse().unwrap()).unwrap().contains("TLS"));
    }
}
