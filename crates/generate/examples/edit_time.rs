//! What one edit costs at a preset scale: `Cutter::edit` (the next revision built from the last,
//! sharing what the edit leaves alone, with its changed users) against the path it replaces (the
//! organisation cloned, the edit applied, `Cutter::new`, `changed_users`), for six kinds of
//! edit, in one run; and what the organisation, its policy and the cut's indices take in memory,
//! alone and as two revisions.
//!
//! `cargo run --release -p tessera-generate --example edit_time -- [small|medium|large] [RUNS]`
//! (9 runs of each `Cutter::edit`, 1 of each whole build, by default). A measurement, not a test:
//! it asserts nothing about time. Memory is what a counting allocator (`cap`) sees allocated.

use std::alloc::System;
use std::time::{Duration, Instant};

use cap::Cap;
use tessera_core::{AccessLevel, Cutter, Edit, Org, Policy, Timestamp, changed_users};
use tessera_generate::{Scale, generate};

#[global_allocator]
static ALLOCATED: Cap<System> = Cap::new(System, usize::MAX);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "large".to_owned());
    let scale = Scale::preset(&name).ok_or_else(|| format!("`{name}` is not small, medium or large"))?;
    let runs: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(9).max(1);
    let now = Timestamp::parse("2026-06-01T00:00:00Z")?;

    // Memory, part by part.
    let start = ALLOCATED.allocated();
    let org = generate(&scale);
    let org_bytes = ALLOCATED.allocated() - start;
    let before = ALLOCATED.allocated();
    let started = Instant::now();
    let policy = Policy::new(&org)?;
    let resolved = started.elapsed();
    let policy_bytes = ALLOCATED.allocated() - before;
    drop(policy);
    let before = ALLOCATED.allocated();
    let started = Instant::now();
    let cutter = Cutter::new(org)?;
    let built = started.elapsed();
    // What the revision holds once the organisation it was built from is gone.
    let cutter_bytes = (ALLOCATED.allocated() + org_bytes).saturating_sub(before);
    println!(
        "{name}: {} users, {} projects; Policy::new {:.0} ms, Cutter::new {:.0} ms",
        cutter.policy().counts().users,
        cutter.policy().counts().projects,
        ms(resolved),
        ms(built)
    );
    println!(
        "  memory: the organisation as generated (an Org) {:.0} MB; its policy {:.0} MB; one revision {:.0} MB \
         (the policy, and {:.0} MB of indices and what the policy leaves out of the organisation as written)",
        mb(org_bytes),
        mb(policy_bytes),
        mb(cutter_bytes),
        mb(cutter_bytes.saturating_sub(policy_bytes))
    );

    let org = cutter.to_org();
    let edits = edits(&org).ok_or("the organisation lacks what the edits name")?;
    println!(
        "  {:<28} {:>12} {:>12} {:>8} {:>9} {:>14}",
        "edit", "Cutter::edit", "whole", "ratio", "changed", "second rev."
    );
    for (what, edit) in &edits {
        let batch = std::slice::from_ref(edit);
        let mut times = Vec::with_capacity(runs);
        let mut second = 0;
        let mut changed = 0;
        for _ in 0..runs {
            let before = ALLOCATED.allocated();
            let started = Instant::now();
            let edited = cutter.edit(batch, now)?;
            times.push(started.elapsed());
            second = ALLOCATED.allocated().saturating_sub(before);
            changed = edited.changed_users().len();
            if !edited.incremental() {
                println!("  ({what}: built whole)");
            }
        }
        times.sort();
        let incremental = times.get(times.len() / 2).copied().unwrap_or_default();

        // Today's path: a copy of the organisation, the edit, a build from scratch, the diff.
        let started = Instant::now();
        let mut next = org.clone();
        edit.apply(&mut next);
        let whole = Cutter::new(next)?;
        let renewed = changed_users(cutter.policy(), whole.policy(), now);
        let whole_time = started.elapsed();
        if renewed.len() != changed {
            return Err(
                format!("{what}: {} changed users, {} by the whole diff", changed, renewed.len()).into()
            );
        }
        println!(
            "  {:<28} {:>9.2} ms {:>9.0} ms {:>7.0}× {:>9} {:>11.1} MB",
            what,
            ms(incremental),
            ms(whole_time),
            ms(whole_time) / ms(incremental).max(1e-6),
            changed,
            mb(second)
        );
    }
    // Two revisions built whole hold two of everything.
    let before = ALLOCATED.allocated();
    let copy = Cutter::new(cutter.to_org())?;
    println!("  a second revision built whole: {:.0} MB", mb(ALLOCATED.allocated().saturating_sub(before)));
    drop(copy);
    Ok(())
}

/// One edit of each kind the issue names, on ids the generated organisation has.
fn edits(org: &Org) -> Option<Vec<(&'static str, Edit)>> {
    let office = org.offices.first()?;
    let network = org.networks.iter().find(|n| n.id == office.network)?;
    let default =
        network.defaults.get("general_user").is_some_and(|keys| keys.iter().any(|k| k == "task.create"));
    let on = !office
        .overrides
        .get("general_user")
        .and_then(|cells| cells.get("task.create"))
        .copied()
        .unwrap_or(default);
    let override_edit = Edit::OverrideOn {
        office: office.id.clone(),
        profile: "general_user".to_owned(),
        permission: "task.create".to_owned(),
    };
    let override_edit = match on {
        true => override_edit,
        false => Edit::OverrideOff {
            office: office.id.clone(),
            profile: "general_user".to_owned(),
            permission: "task.create".to_owned(),
        },
    };
    let project = org.projects.first()?;
    // Someone of the Project's Office who sees only their teams: joining one changes what they
    // see; and someone who sees their Offices' Projects, who will see only their teams.
    let ordinary = |u: &&tessera_core::User, access: AccessLevel| {
        u.active && u.access == access && !u.network_superuser && !u.system_superuser
    };
    let joiner = org.users.iter().find(|u| {
        ordinary(u, AccessLevel::InviteOnly)
            && u.home_office == project.office
            && !project.team.contains(&u.id)
    })?;
    let user = org.users.iter().find(|u| ordinary(u, AccessLevel::AllInOffice))?;
    let of_network: Vec<&str> = org
        .users
        .iter()
        .filter(|u| org.offices.iter().any(|o| o.id == u.home_office && o.network == office.network))
        .map(|u| u.id.as_str())
        .take(3)
        .collect();
    let (&first, &second, &third) = (of_network.first()?, of_network.get(1)?, of_network.get(2)?);
    Some(vec![
        ("one Office override", override_edit),
        ("one team membership", Edit::AddToTeam { user: joiner.id.clone(), project: project.id.clone() }),
        ("one user's access", Edit::SetAccess { user: user.id.clone(), access: AccessLevel::InviteOnly }),
        (
            "a new Project",
            Edit::CreateProject {
                project: "p-new".to_owned(),
                name: "New".to_owned(),
                creator: first.to_owned(),
            },
        ),
        (
            "a new group",
            Edit::CreateGroup {
                group: "g-new".to_owned(),
                owner: first.to_owned(),
                members: vec![second.to_owned(), third.to_owned()],
            },
        ),
        (
            "a new direct message",
            Edit::StartDm { dm: "d-new".to_owned(), from: first.to_owned(), with: third.to_owned() },
        ),
    ])
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}
