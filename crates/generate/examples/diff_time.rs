//! How long `tessera_core::diff` takes on a generated organisation after one override changes.
//!
//! `cargo run --release -p tessera-generate --example diff_time -- [small|medium|large] [SEED]`
//! (or `cargo xtask diff-time`). A measurement, not a test: it asserts nothing about time.

use std::time::Instant;

use tessera_core::{Policy, Timestamp, diff};
use tessera_generate::{Scale, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "large".to_owned());
    let mut scale = Scale::preset(&name).ok_or_else(|| format!("`{name}` is not small, medium or large"))?;
    if let Some(seed) = args.next() {
        scale.seed = seed.parse()?;
    }
    let now = Timestamp::parse("2026-06-01T00:00:00Z")?;

    let started = Instant::now();
    let old = generate(&scale);
    let generated = started.elapsed();

    // One override: the first Office's `task.create` for `general_user`, flipped from what it
    // is now (the Office's override, else its Network's default).
    let mut new = old.clone();
    let office = new.offices.first_mut().ok_or("no office")?;
    let default = old
        .networks
        .iter()
        .find(|network| network.id == office.network)
        .and_then(|network| network.defaults.get("general_user"))
        .is_some_and(|keys| keys.iter().any(|key| key == "task.create"));
    let cells = office.overrides.entry("general_user".to_owned()).or_default();
    let on = !cells.get("task.create").copied().unwrap_or(default);
    cells.insert("task.create".to_owned(), on);
    let office_id = office.id.clone();

    let started = Instant::now();
    let old_policy = Policy::new(&old)?;
    let new_policy = Policy::new(&new)?;
    let resolved = started.elapsed();

    let started = Instant::now();
    let impact = diff(&old_policy, &new_policy, now, None);
    let diffed = started.elapsed();

    let changes: usize = impact
        .users
        .iter()
        .map(|u| {
            u.gained.permissions.len()
                + u.lost.permissions.len()
                + u.gained.projects.len()
                + u.lost.projects.len()
        })
        .sum();
    println!(
        "{name} (seed {}): {} users, {} projects; override `task.create` for `general_user` in `{office_id}` switched {}",
        scale.seed,
        old.users.len(),
        old.projects.len(),
        if on { "on" } else { "off" },
    );
    println!("  generate:            {:>8.1} ms", generated.as_secs_f64() * 1e3);
    println!("  Policy::new, twice:  {:>8.1} ms", resolved.as_secs_f64() * 1e3);
    println!("  diff:                {:>8.1} ms", diffed.as_secs_f64() * 1e3);
    println!("  impact:              {} users, {changes} changes", impact.users.len());
    Ok(())
}
