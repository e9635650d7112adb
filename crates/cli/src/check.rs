//! `tessera check`: one question, one user, one decision.

use std::io::Write;

use anyhow::{Context as _, anyhow};
use tessera_core::{Decision, Fact, Query, ResourceKind, Target};

use crate::Status;
use crate::args::CheckArgs;
use crate::snapshot::load;

pub(crate) fn check(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let query = query_of(args)?;
    let (snapshot, now) = load(&args.snapshot, 0)?;
    let decision = if args.explain {
        snapshot.explain(&args.user, &query, now)
    } else {
        snapshot.decide(&args.user, &query, now)
    };
    if args.json {
        let line = serde_json::to_string(&decision).context("cannot write the decision as JSON")?;
        writeln!(out, "{line}")?;
    } else {
        write_decision(&decision, out)?;
    }
    Ok(if decision.allowed { Status::Success } else { Status::Denied })
}

/// The query the flags ask. Clap has already made sure of exactly one of `--view` and
/// `--can`, and that the targets other than `--project` come with `--can`. Everything else
/// (a missing target, a target where none is taken, several targets) is the core's to answer,
/// as a denial with its own code.
fn query_of(args: &CheckArgs) -> anyhow::Result<Query> {
    if let Some(view) = &args.view {
        let (kind, id) = parse_view(view).context("invalid value for --view")?;
        return Ok(Query::View { kind, id: id.to_owned(), project: args.project.clone() });
    }
    let Some(permission) = &args.can else {
        return Err(anyhow!("ask either --view KIND:ID or --can PERMISSION"));
    };
    let target = Target {
        project: args.project.clone(),
        group: args.group.clone(),
        person: args.person.clone(),
        dm: args.dm.clone(),
        office: args.office.clone(),
        network: args.network.clone(),
    };
    Ok(Query::can(permission.clone(), target))
}

/// Splits `KIND:ID` at the first colon.
fn parse_view(text: &str) -> anyhow::Result<(ResourceKind, &str)> {
    let Some((kind, id)) = text.split_once(':') else {
        return Err(anyhow!("`{text}` is not KIND:ID, such as `project:p-1`"));
    };
    let Some(kind) = ResourceKind::parse(kind) else {
        let kinds: Vec<&str> = ResourceKind::ALL.iter().map(|kind| kind.as_str()).collect();
        return Err(anyhow!("`{kind}` is not a kind of resource: use one of {}", kinds.join(", ")));
    };
    if id.is_empty() {
        return Err(anyhow!("`{text}` has no id after the colon"));
    }
    Ok((kind, id))
}

/// `allowed (code): message`, then the facts, one per line.
fn write_decision(decision: &Decision, out: &mut dyn Write) -> anyhow::Result<()> {
    let verdict = if decision.allowed { "allowed" } else { "denied" };
    writeln!(out, "{verdict} ({}): {}", decision.code, decision.message)?;
    for fact in &decision.facts {
        writeln!(out, "  {}", describe(fact))?;
    }
    if !decision.grants.is_empty() {
        writeln!(out, "would be allowed after any one of:")?;
        for (n, grant) in decision.grants.iter().enumerate() {
            writeln!(out, "  {}. {grant}", n + 1)?;
        }
    }
    Ok(())
}

/// One fact as a short line: what it is about, then what the rules read of it.
fn describe(fact: &Fact) -> String {
    fn yes_no(value: bool, yes: &str, no: &str) -> String {
        if value { yes } else { no }.to_owned()
    }
    match fact {
        Fact::User { user, network, home_office, access, profile, role } => format!(
            "user {user}: network {network}, home office {home_office}, access {access}, profile {profile}, role {role}"
        ),
        Fact::Project { project, office, network } => {
            format!("project {project}: office {office}, network {network}")
        }
        Fact::Team { project, member } => {
            format!("team of {project}: {}", yes_no(*member, "on it", "not on it"))
        }
        Fact::Agreement { agreement, host_office, guest_office, profile, expires_at, active } => format!(
            "agreement {agreement}: host office {host_office}, guest office {guest_office}, profile {profile}, {}, {}",
            expires_at.as_ref().map_or_else(|| "no expiry".to_owned(), |at| format!("expires {at}")),
            yes_no(*active, "active", "expired")
        ),
        Fact::Profile { profile, office, network, via } => format!(
            "profile {profile}: defaults of network {network}, overrides of office {office}, via {via}"
        ),
        Fact::Override { office, profile, permission, value } => format!(
            "override in office {office}: {permission} for {profile} is {}",
            yes_no(*value, "on", "off")
        ),
        Fact::NetworkDefault { network, profile, permission, value } => format!(
            "default in network {network}: {permission} for {profile} is {}",
            yes_no(*value, "on", "off")
        ),
        Fact::Threshold { network, permission, minimum, role } => {
            format!("threshold in network {network}: {permission} needs {minimum}, the role is {role}")
        }
        Fact::Feature { network, feature, on } => {
            format!("feature {feature} in network {network}: {}", yes_no(*on, "on", "off"))
        }
        Fact::GroupMember { group, member } => {
            format!("group {group}: {}", yes_no(*member, "a member", "not a member"))
        }
        Fact::Participant { dm, participant } => {
            format!("direct message {dm}: {}", yes_no(*participant, "a participant", "not a participant"))
        }
        Fact::Person { person, network, home_office, active } => format!(
            "person {person}: network {network}, home office {home_office}, {}",
            yes_no(*active, "active", "inactive")
        ),
        Fact::Connection { person, via } => match via {
            Some(via) => format!("connection {person}: through {via}"),
            None => format!("connection {person}: none"),
        },
        Fact::Office { office, network } => format!("office {office}: network {network}"),
        Fact::Superuser { kind, value } => format!("{kind} superuser: {}", yes_no(*value, "yes", "no")),
        Fact::SnapshotExpiry { expires_at } => format!("snapshot: expires {expires_at}"),
        Fact::SnapshotScope { scope } => format!("snapshot: scoped to {scope}"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_view;
    use tessera_core::ResourceKind;

    #[test]
    fn views() {
        assert_eq!(parse_view("project:p-1").unwrap(), (ResourceKind::Project, "p-1"));
        assert_eq!(parse_view("task:t:1").unwrap(), (ResourceKind::Task, "t:1"));
        for bad in ["project", "project:", "widget:w-1", ":p-1", "Project:p-1"] {
            assert!(parse_view(bad).is_err(), "{bad:?}");
        }
    }
}
