//! The command line, as clap reads it.
//!
//! Values with a grammar of their own (`--now`, `--expires-in`, `--scope`, `--view`) stay
//! strings here and are parsed by the commands, so that a bad value is reported like every
//! other error: one line, exit code 1.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

/// How long a served snapshot is valid when `--ttl-hours` is not given: a week, so that an
/// installed web app keeps working offline over a weekend and a holiday.
pub const DEFAULT_TTL_HOURS: u32 = 7 * 24;
/// The longest `--ttl-hours`: ten years.
pub const MAX_TTL_HOURS: u32 = 10 * 366 * 24;
/// The snapshot cache's bound when `--cache-mib` is not given.
pub const DEFAULT_CACHE_MIB: u64 = 256;

/// Keys, signing, verification and decisions for Tessera policy snapshots.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a new Ed25519 signing key: KEY (secret) and KEY.pub (public)
    Keygen(KeygenArgs),
    /// Validate an organisation, cut it to a scope and sign it as a snapshot
    Sign(SignArgs),
    /// Verify a snapshot and print its header
    Verify(VerifyArgs),
    /// Decide one question for one user on a verified snapshot (exit 0 allowed, 2 denied)
    Check(CheckArgs),
    /// Verify a snapshot and summarise what it holds
    Inspect(InspectArgs),
    /// What changes for each user from OLD to NEW (exit 0 nothing, 3 something)
    Diff(DiffArgs),
    /// Serve per-user signed snapshots, search and the web app over HTTP (a reference server)
    Serve(ServeArgs),
    /// The organisation in a database (PostgreSQL or SQLite): migrate, import, export
    #[command(subcommand)]
    Db(DbCommand),
}

/// `tessera db`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create or update the database's tables (safe to run from several replicas at once)
    Migrate(DbArgs),
    /// Validate an organisation and replace the database's with it, as a new revision
    Import(DbImportArgs),
    /// Write the database's current organisation in the source format (JSON)
    Export(DbExportArgs),
}

/// The database every `tessera db` command works on.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// `sqlite:PATH` (the file is created when missing) or `postgres://USER@HOST:PORT/DATABASE`
    #[arg(long, value_name = "URL", env = "TESSERA_DATABASE_URL", hide_env_values = true)]
    pub database: String,
}

/// `tessera db import`.
#[derive(Debug, Args)]
pub struct DbImportArgs {
    /// The organisation, in the source format (JSON)
    #[arg(value_name = "ORG.json")]
    pub org: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    /// Who imports it, as the revision records
    #[arg(long, value_name = "NAME", default_value = "tessera db import")]
    pub who: String,
}

/// `tessera db export`.
#[derive(Debug, Args)]
pub struct DbExportArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Where to write it (default: standard output)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `tessera keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the secret key; the public key goes to the same path plus `.pub`
    #[arg(long, value_name = "KEY")]
    pub out: PathBuf,
    /// Overwrite existing key files
    #[arg(long)]
    pub force: bool,
}

/// `tessera sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The organisation, in the source format (JSON)
    #[arg(value_name = "ORG.json")]
    pub org: PathBuf,
    /// The secret key to sign with
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// The snapshot version: a number that only grows
    #[arg(long, value_name = "N")]
    pub version: u64,
    /// Where to write the snapshot
    #[arg(long, value_name = "SNAP.json")]
    pub out: PathBuf,
    /// Who signs it
    #[arg(long, value_name = "NAME", default_value = "tessera")]
    pub issuer: String,
    /// How long the snapshot is valid: a number and s, m, h or d (30m, 24h, 7d)
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub expires_in: String,
    /// What to keep: org, user:ID or network:ID
    #[arg(long, value_name = "SCOPE", default_value = "org")]
    pub scope: String,
    /// The signing time, RFC 3339 (default: the system clock)
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
}

/// A snapshot and the keys it must be signed by; shared by `verify`, `check` and `inspect`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The signed snapshot
    #[arg(value_name = "SNAP.json")]
    pub snapshot: PathBuf,
    /// A trusted public key; repeat the flag to trust several
    #[arg(long = "trust", value_name = "KEY.pub", required = true)]
    pub trust: Vec<PathBuf>,
    /// The time to verify and decide at, RFC 3339 (default: the system clock)
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Refuse snapshots larger than this many bytes
    #[arg(long, value_name = "BYTES", default_value_t = tessera_core::DEFAULT_MAX_BYTES)]
    pub max_bytes: usize,
}

/// `tessera verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Refuse snapshots older than this version (rollback protection)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub min_version: u64,
}

/// `tessera check`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("question").required(true).args(["view", "can"])))]
pub struct CheckArgs {
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Who asks
    #[arg(long, value_name = "ID")]
    pub user: String,
    /// Print the decision as one line of JSON
    #[arg(long)]
    pub json: bool,
    /// For a denial, also list the smallest edits of the organisation that would allow it
    #[arg(long)]
    pub explain: bool,
    /// May the user view this resource? KIND is project, task, document, report, finance,
    /// person or group
    #[arg(long, value_name = "KIND:ID")]
    pub view: Option<String>,
    /// May the user do this?
    #[arg(long, value_name = "PERMISSION")]
    pub can: Option<String>,
    /// The Project: the one a viewed resource hangs off, or the target of --can
    #[arg(long, value_name = "ID")]
    pub project: Option<String>,
    /// The target group of --can
    #[arg(long, value_name = "ID", conflicts_with = "view")]
    pub group: Option<String>,
    /// The target person of --can
    #[arg(long, value_name = "ID", conflicts_with = "view")]
    pub person: Option<String>,
    /// The target direct message of --can
    #[arg(long, value_name = "ID", conflicts_with = "view")]
    pub dm: Option<String>,
    /// The target Office of --can
    #[arg(long, value_name = "ID", conflicts_with = "view")]
    pub office: Option<String>,
    /// The target Network of --can
    #[arg(long, value_name = "ID", conflicts_with = "view")]
    pub network: Option<String>,
}

/// `tessera inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Also print one row per user
    #[arg(long)]
    pub users: bool,
}

/// `tessera diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The organisation as it was: a source file (JSON) or a signed snapshot
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The organisation as it would be: a source file (JSON) or a signed snapshot
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Only this user
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// Print the impact as one line of JSON
    #[arg(long)]
    pub json: bool,
    /// A trusted public key, needed for signed snapshots; repeat the flag to trust several
    #[arg(long = "trust", value_name = "KEY.pub")]
    pub trust: Vec<PathBuf>,
    /// The time to verify and decide at, RFC 3339 (default: the system clock)
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
}

/// `tessera serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The organisation, in the source format (JSON), read-only: edits are refused (409), and
    /// SIGHUP reads the file again
    #[arg(long, value_name = "ORG.json", required_unless_present = "database", conflicts_with = "database")]
    pub org: Option<PathBuf>,
    /// The organisation in a database, `sqlite:PATH` or `postgres://…` (filled by `tessera db
    /// import`): edits are committed there, and every server over it follows its revisions
    #[arg(long, value_name = "URL", env = "TESSERA_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// With --database: how often to read the current revision when nothing told of one, in
    /// seconds (PostgreSQL tells of each at once; SQLite tells nothing)
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub resync_secs: u64,
    /// With --database: leave the schema as it is (views over tables of your own; see
    /// docs/database.md) rather than create or update Tessera's tables
    #[arg(long, requires = "database")]
    pub no_migrate: bool,
    /// The secret key that signs every snapshot
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Where to listen; port 0 picks a free port (the line printed at start names it)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// The built web app, served as static files (without it, only /api/)
    #[arg(long, value_name = "DIR")]
    pub www: Option<PathBuf>,
    /// Tasks, documents, report and finance rows for /api/search: {"items": [...]}
    #[arg(long, value_name = "CONTENT.json")]
    pub content: Option<PathBuf>,
    /// How long a served snapshot is valid, in hours (default a week, for offline use)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TTL_HOURS)]
    pub ttl_hours: u32,
    /// Who signs the snapshots (their `issuer`)
    #[arg(long, value_name = "NAME", default_value = "tessera")]
    pub snapshot_issuer: String,
    /// How callers are identified: `jwt` (bearer tokens of an identity provider) or `demo` (the
    /// server signs its own, for any user; loopback only)
    #[arg(long, value_name = "jwt|demo")]
    pub auth: String,
    /// With `--auth jwt`: the identity provider's keys, a JWKS file or an http(s) URL
    #[arg(long, value_name = "FILE|URL")]
    pub jwks: Option<String>,
    /// With `--auth jwt`: the `iss` tokens must carry
    #[arg(long, value_name = "ISS")]
    pub issuer: Option<String>,
    /// With `--auth jwt`: the `aud` tokens must carry
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
    /// With `--auth jwt`: the claim that holds the user id
    #[arg(long, value_name = "NAME", default_value = "sub")]
    pub user_claim: String,
    /// The bound on signed snapshots kept in memory, in MiB (0 keeps none)
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_CACHE_MIB)]
    pub cache_mib: u64,
    /// The bound on verified snapshots kept to decide with (search, actions, checks), in MiB
    /// (0 keeps none: each is verified again when asked)
    #[arg(long, value_name = "MIB", default_value_t = 128)]
    pub sight_mib: u64,
    /// How many snapshots may be cut at once (default: one per core)
    #[arg(long, value_name = "N")]
    pub max_concurrent_cuts: Option<usize>,
    /// How long a request may take before it is answered 408, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// With `--auth jwt`: a token whose `scope` claim holds this names a service by its `sub`,
    /// which may call /api/check only (default: no token does)
    #[arg(long, value_name = "SCOPE")]
    pub service_scope: Option<String>,
    /// Where to serve /metrics and the detailed /readyz (off unless given): loopback or a
    /// private network only, since it has no authentication
    #[arg(long, value_name = "ADDR")]
    pub ops_addr: Option<String>,
    /// How long a request's header may take to arrive, from when its connection is ready for
    /// it (opened, or its last answer sent), in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = secs(tessera_server::listener::DEFAULT_HEADER_TIMEOUT))]
    pub header_timeout_secs: u64,
    /// How long a connection may move no byte while it waits on its client (no request in
    /// flight, or an answer it does not take), in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = secs(tessera_server::listener::DEFAULT_IDLE_TIMEOUT))]
    pub idle_timeout_secs: u64,
    /// How many connections may be open at once (more wait to be accepted)
    #[arg(long, value_name = "N", default_value_t = tessera_server::listener::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: u32,
    /// How many event streams one user may hold open at once
    #[arg(long, value_name = "N", default_value_t = tessera_server::limits::DEFAULT_STREAMS_PER_USER)]
    pub max_streams_per_user: u32,
    /// How many unspent event tickets one user may hold at once
    #[arg(long, value_name = "N", default_value_t = tessera_server::limits::DEFAULT_TICKETS_PER_USER)]
    pub max_tickets_per_user: u32,
    /// Searches per user per second (and bursts of as many)
    #[arg(long, value_name = "N", default_value_t = tessera_server::limits::DEFAULT_SEARCH_PER_SECOND.get())]
    pub search_rate: u32,
    /// Calls of /api/check per user per second (and bursts of as many)
    #[arg(long, value_name = "N", default_value_t = tessera_server::limits::DEFAULT_CHECK_PER_SECOND.get())]
    pub check_rate: u32,
    /// Edits, previews and denials per user per second, each (and bursts of as many)
    #[arg(long, value_name = "N", default_value_t = tessera_server::limits::DEFAULT_ADMIN_PER_SECOND.get())]
    pub admin_rate: u32,
    /// Requests per service per second on the routes above (and bursts of as many)
    #[arg(long, value_name = "N", default_value_t = tessera_server::limits::DEFAULT_SERVICE_PER_SECOND.get())]
    pub service_rate: u32,
    /// The app's actions (new Projects, groups, conversations, tasks, files, wiki texts,
    /// messages, announcements) per user per second, all together (and bursts of as many)
    #[arg(long, value_name = "N", default_value_t = tessera_server::limits::DEFAULT_ACTION_PER_SECOND.get())]
    pub action_rate: u32,
}

/// A duration in whole seconds, for a default.
const fn secs(duration: std::time::Duration) -> u64 {
    duration.as_secs()
}
