//! `tessera serve`: the arguments read and checked, then the issuer of `tessera-server` run on a
//! Tokio runtime until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use tessera_server::identity::{AuthConfig, JwksRefresh, JwksSource};
use tessera_server::issuer::{InvalidOrganisation, system_now};
use tessera_server::replica::Database;
use tessera_server::store::Loaded;
use tessera_server::{
    AppState, Clock, Config, Connections, OrgFile, Quotas, Source, Tuning, check_www, database_is_local,
    exposure_warning, parse_content, validate_content,
};

use crate::args::ServeArgs;
use crate::keys::read_secret_key;
use crate::sign::InvalidOrg;
use crate::{Status, read_file};

use crate::args::MAX_TTL_HOURS;

/// `tessera serve`: reads everything, builds the first revision, then serves until Ctrl-C (or
/// SIGTERM), finishing the requests in flight.
pub(crate) fn serve(args: &ServeArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let started = std::time::Instant::now();
    let addr: SocketAddr = args.addr.parse().map_err(|_| {
        anyhow!("invalid value for --addr: `{}` is not an address such as 127.0.0.1:8080", args.addr)
    })?;
    if !(1..=MAX_TTL_HOURS).contains(&args.ttl_hours) {
        bail!("invalid value for --ttl-hours: {} is not from 1 to {MAX_TTL_HOURS}", args.ttl_hours);
    }
    if args.max_concurrent_cuts == Some(0) {
        bail!("invalid value for --max-concurrent-cuts: at least 1");
    }
    if args.request_timeout_secs == 0 {
        bail!("invalid value for --request-timeout-secs: at least 1");
    }
    if args.resync_secs == 0 {
        bail!("invalid value for --resync-secs: at least 1");
    }
    let ops_addr = args
        .ops_addr
        .as_deref()
        .map(|ops| {
            ops.parse::<SocketAddr>().map_err(|_| {
                anyhow!("invalid value for --ops-addr: `{ops}` is not an address such as 127.0.0.1:9090")
            })
        })
        .transpose()?;
    let connections = connections(args)?;
    let quotas = quotas(args)?;
    let auth = auth_config(args, addr)?;
    system_now().context("cannot serve snapshots")?;
    let key = read_secret_key(&args.key)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).try_init();
    let (org, source, origin) = match (&args.org, &args.database) {
        (Some(path), _) => {
            let file = OrgFile::new(path);
            (file.read()?, Source::File(file), path.display().to_string())
        }
        (None, Some(url)) => {
            let resync = Duration::from_secs(args.resync_secs);
            let (database, loaded) = runtime
                .block_on(Database::open(url, resync, !args.no_migrate))
                .context("cannot serve the organisation of the database")?;
            let Loaded { number, org, versions } = loaded;
            let origin = format!("the database's revision {number}");
            (org, Source::Database { database, revision: number, versions }, origin)
        }
        (None, None) => bail!("give --org ORG.json or --database URL"),
    };
    let content = match &args.content {
        Some(path) => {
            let items = parse_content(&read_file(path)?)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            validate_content(&items, &org)
                .with_context(|| format!("refusing to serve `{}`", path.display()))?;
            items
        }
        None => Vec::new(),
    };
    if let Some(www) = &args.www {
        check_www(www, args.org.as_deref())?;
    }
    let mut tuning = Tuning {
        cache_bytes: args.cache_mib.saturating_mul(1024 * 1024),
        sight_bytes: args.sight_mib.saturating_mul(1024 * 1024),
        ..Tuning::default()
    };
    if let Some(cuts) = args.max_concurrent_cuts {
        tuning.max_concurrent_cuts = cuts;
    }
    let state = AppState::new(Config {
        org,
        key,
        issuer: args.snapshot_issuer.clone(),
        ttl_seconds: i64::from(args.ttl_hours) * 3600,
        content,
        www: args.www.clone(),
        clock: Clock::system(),
        tuning,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        auth,
        source,
        connections,
        quotas,
    })
    .map_err(|e| match e.downcast::<InvalidOrganisation>() {
        Ok(InvalidOrganisation(errors)) => {
            InvalidOrg::new("refusing to serve", std::path::Path::new(&origin), errors).into()
        }
        Err(e) => e,
    })?;
    runtime.block_on(async {
        let listener = bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr().context("cannot read the address listened on")?;
        if let Some(warning) = exposure_warning(addr) {
            let _ = writeln!(std::io::stderr(), "tessera serve: warning: {warning}");
        }
        if let Some(files) = open_files_limit()
            && files < u64::from(connections.max_connections) + 64
        {
            let _ = writeln!(
                std::io::stderr(),
                "tessera serve: warning: the process may open {files} files, fewer than --max-connections ({}) needs: raise it (ulimit -n) or lower --max-connections; past it, connections wait",
                connections.max_connections
            );
        }
        let ops = match ops_addr {
            Some(ops_addr) => {
                let ops = bind(ops_addr).with_context(|| format!("cannot listen on {ops_addr} (--ops-addr)"))?;
                if !ops_addr.ip().is_loopback() {
                    let _ = writeln!(
                        std::io::stderr(),
                        "tessera serve: warning: the ops listener {ops_addr} is not on loopback: keep it on a private network (it has no authentication)"
                    );
                }
                Some(ops)
            }
            None => None,
        };
        let revision = state.issuer().current();
        writeln!(
            out,
            "tessera serve: version {}, key id {}, {} users and {} projects, snapshots valid {} h; built in {} ms, ready in {} ms",
            revision.number(),
            state.issuer().public_key().key_id(),
            revision.policy().counts().users,
            revision.policy().counts().projects,
            args.ttl_hours,
            revision.build_time().as_millis(),
            started.elapsed().as_millis(),
        )?;
        if let Some(ops) = &ops {
            let ops = ops.local_addr().context("cannot read the address the ops listener is on")?;
            writeln!(out, "tessera serve: ops on http://{ops}")?;
        }
        writeln!(out, "tessera serve: listening on http://{local}")?;
        out.flush()?;
        tessera_server::serve(state, listener, ops, tessera_server::shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    Ok(Status::Success)
}

/// The soft limit on open files, where `/proc` says it (Linux).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// How many connections the kernel may hold for the server to accept: std's and mio's 128
/// overflowed when a thousand clients connected at once (the server accepts in turns with its
/// other work), and a dropped SYN costs its client a second. Linux holds it to `somaxconn`.
const BACKLOG: u32 = 1024;

/// A listener on `addr` with [`BACKLOG`] (and `SO_REUSEADDR`, as `TcpListener::bind` sets).
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The connections' timeouts and cap.
fn connections(args: &ServeArgs) -> anyhow::Result<Connections> {
    for (flag, value) in [
        ("--header-timeout-secs", args.header_timeout_secs),
        ("--idle-timeout-secs", args.idle_timeout_secs),
        ("--max-connections", u64::from(args.max_connections)),
    ] {
        if value == 0 {
            bail!("invalid value for {flag}: at least 1");
        }
    }
    Ok(Connections {
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        max_connections: args.max_connections,
    })
}

/// What one principal may ask for.
fn quotas(args: &ServeArgs) -> anyhow::Result<Quotas> {
    let rate = |flag: &str, value: u32| {
        NonZeroU32::new(value).ok_or_else(|| anyhow!("invalid value for {flag}: at least 1"))
    };
    for (flag, value) in [
        ("--max-streams-per-user", args.max_streams_per_user),
        ("--max-tickets-per-user", args.max_tickets_per_user),
    ] {
        if value == 0 {
            bail!("invalid value for {flag}: at least 1");
        }
    }
    Ok(Quotas {
        streams_per_user: args.max_streams_per_user,
        tickets_per_user: args.max_tickets_per_user,
        search_per_second: rate("--search-rate", args.search_rate)?,
        check_per_second: rate("--check-rate", args.check_rate)?,
        admin_per_second: rate("--admin-rate", args.admin_rate)?,
        service_per_second: rate("--service-rate", args.service_rate)?,
        action_per_second: rate("--action-rate", args.action_rate)?,
    })
}

/// `--auth` and the flags that go with it, checked together.
fn auth_config(args: &ServeArgs, addr: SocketAddr) -> anyhow::Result<AuthConfig> {
    let jwt_flags = [
        ("--jwks", args.jwks.is_some()),
        ("--issuer", args.issuer.is_some()),
        ("--audience", args.audience.is_some()),
    ];
    match args.auth.as_str() {
        "jwt" => {
            let (Some(jwks), Some(issuer), Some(audience)) = (&args.jwks, &args.issuer, &args.audience)
            else {
                let missing: Vec<&str> =
                    jwt_flags.iter().filter(|(_, given)| !given).map(|(flag, _)| *flag).collect();
                bail!("--auth jwt needs {}", missing.join(", "));
            };
            if args.user_claim.is_empty() {
                bail!("invalid value for --user-claim: it names a claim");
            }
            if args.service_scope.as_deref().is_some_and(|scope| scope.trim().is_empty()) {
                bail!("invalid value for --service-scope: it names a scope");
            }
            Ok(AuthConfig::Jwt {
                jwks: JwksSource::parse(jwks),
                issuer: issuer.clone(),
                audience: audience.clone(),
                user_claim: args.user_claim.clone(),
                service_scope: args.service_scope.clone(),
                refresh: JwksRefresh::default(),
            })
        }
        "demo" => {
            if let Some((flag, _)) = jwt_flags.iter().find(|(_, given)| *given) {
                bail!(
                    "{flag} goes with --auth jwt, not --auth demo (the snapshots' issuer is --snapshot-issuer)"
                );
            }
            if args.service_scope.is_some() {
                bail!("--service-scope goes with --auth jwt (the demo signs services in itself)");
            }
            if !addr.ip().is_loopback() {
                bail!(
                    "--auth demo signs a token for anyone who asks: it listens on loopback only, not on {addr}"
                );
            }
            // Whoever can reach the database's host could otherwise be edited by anyone who
            // signs in to the demo as a superuser.
            if let Some(url) = &args.database
                && !database_is_local(url)?
            {
                bail!(
                    "--auth demo signs a token for anyone who asks: it serves a database on this machine only (sqlite:, or PostgreSQL on localhost, a loopback address or a socket)"
                );
            }
            Ok(AuthConfig::Demo)
        }
        other => bail!("invalid value for --auth: `{other}` is not `jwt` or `demo`"),
    }
}
