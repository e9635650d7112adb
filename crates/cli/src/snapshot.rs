//! `tessera verify` and `tessera inspect`, and loading a verified snapshot for `check`.

use std::io::Write;

use tessera_core::{Query, Scope, Snapshot, Target, Timestamp, VerifyOptions};

use crate::args::{InspectArgs, SnapshotArgs, VerifyArgs};
use crate::keys::read_trusted_keys;
use crate::{Status, now_or_clock, read_file};

/// The permissions that `inspect --users` shows a yes/no column for.
const USER_COLUMNS: [&str; 4] = ["project.create", "group.create", "announcement.org", "network.manage"];

pub(crate) fn verify(args: &VerifyArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let (snapshot, _) = load(&args.snapshot, args.min_version)?;
    write_header(&snapshot, out)?;
    Ok(Status::Success)
}

pub(crate) fn inspect(args: &InspectArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let (snapshot, now) = load(&args.snapshot, 0)?;
    write_header(&snapshot, out)?;
    let counts = snapshot.policy().counts();
    writeln!(out)?;
    for (label, count) in [
        ("networks", counts.networks),
        ("offices", counts.offices),
        ("users", counts.users),
        ("projects", counts.projects),
        ("agreements", counts.agreements),
        ("groups", counts.groups),
        ("direct_messages", counts.direct_messages),
    ] {
        writeln!(out, "{:<16} {count}", format!("{label}:"))?;
    }
    if args.users {
        writeln!(out)?;
        write_users(&snapshot, now, out)?;
        if let Scope::User(id) = &snapshot.header().scope {
            // The cut resets other people's roles, flags and access levels (docs/decisions.md).
            writeln!(out, "\nscoped to `{id}`: only that row decides as the whole organisation would")?;
        }
    }
    Ok(Status::Success)
}

/// Reads the `--trust` keys and the snapshot and verifies it at `--now`. A refusal is the
/// core's [`tessera_core::LoadError`] as it is, so that it prints as `code: message`.
pub(crate) fn load(args: &SnapshotArgs, min_version: u64) -> anyhow::Result<(Snapshot, Timestamp)> {
    let now = now_or_clock(args.now.as_deref())?;
    let keys = read_trusted_keys(&args.trust)?;
    let bytes = read_file(&args.snapshot)?;
    let mut options = VerifyOptions::new(now);
    options.min_version = min_version;
    options.max_bytes = args.max_bytes;
    let snapshot = Snapshot::verify(&bytes, &keys, &options)?;
    Ok((snapshot, now))
}

fn write_header(snapshot: &Snapshot, out: &mut dyn Write) -> anyhow::Result<()> {
    let header = snapshot.header();
    let lines: [(&str, String); 7] = [
        ("schema", header.schema.to_string()),
        ("issuer", header.issuer.clone()),
        ("version", header.version.to_string()),
        ("issued_at", header.issued_at.to_string()),
        ("expires_at", header.expires_at.to_string()),
        ("scope", header.scope.to_string()),
        ("key_id", snapshot.key_id().to_string()),
    ];
    for (label, value) in lines {
        writeln!(out, "{:<16} {value}", format!("{label}:"))?;
    }
    Ok(())
}

/// One row per user, in fixed-width columns.
fn write_users(snapshot: &Snapshot, now: Timestamp, out: &mut dyn Write) -> anyhow::Result<()> {
    let policy = snapshot.policy();
    let total_projects = policy.counts().projects;
    let mut header: Vec<String> =
        ["user", "home office", "access", "profile", "role", "flags", "projects"].map(String::from).into();
    header.extend(USER_COLUMNS.map(String::from));
    let mut rows = vec![header];
    for user in policy.users() {
        let mut flags = Vec::new();
        if user.system_superuser {
            flags.push("sys");
        }
        if user.network_superuser {
            flags.push("net");
        }
        if !user.active {
            flags.push("inactive");
        }
        let visible = policy.visible_projects(user.id, now).len();
        let mut row = vec![
            user.id.to_owned(),
            user.home_office.to_owned(),
            user.access.as_str().to_owned(),
            user.profile.to_owned(),
            user.role.as_str().to_owned(),
            if flags.is_empty() { "-".to_owned() } else { flags.join(",") },
            format!("{visible}/{total_projects}"),
        ];
        for permission in USER_COLUMNS {
            let allowed = policy.allows(user.id, &Query::can(permission, Target::none()), now);
            row.push(if allowed { "yes" } else { "no" }.to_owned());
        }
        rows.push(row);
    }
    write_table(&rows, out)
}

/// Left-aligned columns two spaces apart, each as wide as its widest cell.
fn write_table(rows: &[Vec<String>], out: &mut dyn Write) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(column) {
                Some(widest) => *widest = (*widest).max(width),
                None => widths.push(width),
            }
        }
    }
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
