//! `tessera diff`: what changes for each user between two organisations.
//!
//! OLD and NEW are each an organisation source file or a signed snapshot, told apart by their
//! content (a DSSE envelope has `payloadType`). Snapshots are verified with `--trust` first.
//! The text groups changes by user for a person; `--json` prints the core's `Impact`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tessera_core::{Access, Impact, Policy, Query, Scope, Snapshot, Timestamp, VerifyOptions};

use crate::args::DiffArgs;
use crate::keys::read_trusted_keys;
use crate::sign::{InvalidOrg, parse_org};
use crate::{Status, now_or_clock, read_file};

/// How many ids a line of text names before it says how many more there are.
const SHOWN: usize = 8;

pub(crate) fn diff(args: &DiffArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let now = now_or_clock(args.now.as_deref())?;
    let old = Source::load(&args.old, &args.trust, now)?;
    let new = Source::load(&args.new, &args.trust, now)?;

    // A scoped snapshot decides only for its own user or Network: only they can be compared.
    let scope = match (old.scope(), new.scope()) {
        (Some(a), Some(b)) if a != b => bail!(
            "`{}` is scoped to `{a}` and `{}` to `{b}`: their decisions cannot be compared",
            args.old.display(),
            args.new.display()
        ),
        (Some(scope), _) | (_, Some(scope)) => Some(scope.clone()),
        (None, None) => None,
    };
    let user = match (&scope, &args.user) {
        (Some(Scope::User(id)), Some(user)) if id != user => {
            bail!("the snapshots are scoped to `user:{id}` and decide for no one else, not for `{user}`")
        }
        (Some(Scope::User(id)), _) => Some(id.clone()),
        (_, user) => user.clone(),
    };
    if let Some(user) = &user {
        if old.policy().user_summary(user).is_none() && new.policy().user_summary(user).is_none() {
            bail!("unknown user `{user}`: in neither `{}` nor `{}`", args.old.display(), args.new.display());
        }
    }

    let mut impact = tessera_core::diff(old.policy(), new.policy(), now, user.as_deref());
    if let Some(Scope::Network(network)) = &scope {
        let of_network = |policy: &Policy, user: &str| {
            policy.user_summary(user).is_some_and(|summary| summary.network == network)
        };
        impact
            .users
            .retain(|entry| of_network(old.policy(), &entry.user) || of_network(new.policy(), &entry.user));
    }

    if args.json {
        let line = serde_json::to_string(&impact).context("cannot write the impact as JSON")?;
        writeln!(out, "{line}")?;
    } else {
        write_impact(&impact, old.policy(), new.policy(), out)?;
    }
    Ok(if impact.is_empty() { Status::Success } else { Status::Changed })
}

/// One side of the comparison.
enum Source {
    /// An organisation source file, validated.
    Org(Policy),
    /// A verified snapshot.
    Snapshot(Snapshot),
}

/// Just enough of a document to tell an envelope from an organisation.
#[derive(Deserialize)]
struct Peek {
    #[serde(rename = "payloadType")]
    payload_type: Option<IgnoredAny>,
}

impl Source {
    fn load(path: &Path, trust: &[std::path::PathBuf], now: Timestamp) -> anyhow::Result<Source> {
        let bytes = read_file(path)?;
        let is_envelope =
            serde_json::from_slice::<Peek>(&bytes).is_ok_and(|peek| peek.payload_type.is_some());
        if is_envelope {
            if trust.is_empty() {
                bail!("`{}` is a signed snapshot: pass --trust KEY.pub to verify it", path.display());
            }
            let keys = read_trusted_keys(trust)?;
            let snapshot = Snapshot::verify(&bytes, &keys, &VerifyOptions::new(now))
                .with_context(|| format!("cannot verify `{}`", path.display()))?;
            return Ok(Source::Snapshot(snapshot));
        }
        let org = parse_org(path, &bytes)?;
        let policy = Policy::new(&org).map_err(|errors| InvalidOrg::new("cannot diff", path, errors))?;
        Ok(Source::Org(policy))
    }

    fn policy(&self) -> &Policy {
        match self {
            Source::Org(policy) => policy,
            Source::Snapshot(snapshot) => snapshot.policy(),
        }
    }

    /// The scope, unless it is the whole organisation.
    fn scope(&self) -> Option<&Scope> {
        match self {
            Source::Snapshot(snapshot) => {
                Some(&snapshot.header().scope).filter(|scope| **scope != Scope::Org)
            }
            Source::Org(_) => None,
        }
    }
}

/// A summary line, then per user their name and one line per kind of change.
fn write_impact(impact: &Impact, old: &Policy, new: &Policy, out: &mut dyn Write) -> anyhow::Result<()> {
    match impact.users.len() {
        0 => {
            writeln!(out, "no user gains or loses access")?;
            return Ok(());
        }
        1 => writeln!(out, "1 user gains or loses access")?,
        n => writeln!(out, "{n} users gain or lose access")?,
    }
    for entry in &impact.users {
        let name = new.user_summary(&entry.user).or_else(|| old.user_summary(&entry.user)).map(|u| u.name);
        writeln!(out)?;
        match name {
            Some(name) if !name.is_empty() => writeln!(out, "{} ({name})", entry.user)?,
            _ => writeln!(out, "{}", entry.user)?,
        }
        for (verb, access) in [("gains", &entry.gained), ("loses", &entry.lost)] {
            for line in lines(access) {
                writeln!(out, "  {verb}  {line}")?;
            }
        }
    }
    Ok(())
}

/// What one set holds, a line per kind: `projects p-1, p-2`, `task.create on project p-1`.
fn lines(access: &Access) -> Vec<String> {
    let mut lines = Vec::new();
    for (singular, plural, ids) in [
        ("project", "projects", &access.projects),
        ("report rows of project", "report rows of projects", &access.reports),
        ("finance rows of project", "finance rows of projects", &access.finance),
        ("person", "people", &access.people),
        ("group", "groups", &access.groups),
    ] {
        if !ids.is_empty() {
            lines.push(format!("{} {}", if ids.len() == 1 { singular } else { plural }, list(ids)));
        }
    }
    // Permissions by key and kind of target, in the order the impact sorted them.
    let mut grouped: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    let mut order: Vec<(&str, &str)> = Vec::new();
    for query in &access.permissions {
        let Query::Can { permission, target } = query else { continue };
        let (kind, id) = [
            ("project", &target.project),
            ("group", &target.group),
            ("person", &target.person),
            ("direct message", &target.dm),
            ("office", &target.office),
            ("network", &target.network),
        ]
        .into_iter()
        .find_map(|(kind, id)| id.as_ref().map(|id| (kind, id.clone())))
        .map_or(("", None), |(kind, id)| (kind, Some(id)));
        let key = (permission.as_str(), kind);
        let ids = grouped.entry(key).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        ids.extend(id);
    }
    for key @ (permission, kind) in order {
        let ids = grouped.get(&key).map(Vec::as_slice).unwrap_or_default();
        lines.push(match ids.len() {
            0 => permission.to_owned(),
            1 => format!("{permission} on {kind} {}", list(ids)),
            _ => format!("{permission} on {} {}", plural(kind), list(ids)),
        });
    }
    lines
}

fn plural(kind: &str) -> String {
    match kind {
        "person" => "people".to_owned(),
        other => format!("{other}s"),
    }
}

/// `a, b, c`, or the first few and how many more.
fn list(ids: &[String]) -> String {
    if ids.len() <= SHOWN {
        return ids.join(", ");
    }
    let shown: Vec<&str> = ids.iter().take(SHOWN).map(String::as_str).collect();
    format!("{} and {} more", shown.join(", "), ids.len() - SHOWN)
}

#[cfg(test)]
mod tests {
    use super::{lines, list};
    use tessera_core::{Access, Query, Target};

    #[test]
    fn long_lists_are_cut() {
        let ids: Vec<String> = (0..11).map(|i| format!("p-{i}")).collect();
        assert_eq!(list(&ids[..2]), "p-0, p-1");
        assert_eq!(list(&ids), "p-0, p-1, p-2, p-3, p-4, p-5, p-6, p-7 and 3 more");
    }

    #[test]
    fn permissions_group_by_key_and_target_kind() {
        let access = Access {
            projects: vec!["p-1".to_owned()],
            people: vec!["u-1".to_owned(), "u-2".to_owned()],
            permissions: vec![
                Query::can("dm.start", Target::person("u-1")),
                Query::can("project.create", Target::none()),
                Query::can("task.create", Target::project("p-1")),
                Query::can("task.create", Target::project("p-2")),
            ],
            ..Access::default()
        };
        assert_eq!(
            lines(&access),
            [
                "project p-1",
                "people u-1, u-2",
                "dm.start on person u-1",
                "project.create",
                "task.create on projects p-1, p-2",
            ]
        );
    }
}
