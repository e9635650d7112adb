//! How long scoped snapshots take to cut from one `Cutter` on a generated organisation, and how
//! large they are.
//!
//! `cargo run --release -p tessera-generate --example cut_time -- [small|medium|large] [USERS] [SEED]`
//! (200 users, spread evenly over the organisation, by default). A measurement, not a test: it
//! asserts nothing about time.

use std::time::{Duration, Instant};

use tessera_core::{Cutter, Scope, Timestamp};
use tessera_generate::{Scale, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "large".to_owned());
    let mut scale = Scale::preset(&name).ok_or_else(|| format!("`{name}` is not small, medium or large"))?;
    let count: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(200);
    if let Some(seed) = args.next() {
        scale.seed = seed.parse()?;
    }
    let now = Timestamp::parse("2026-06-01T00:00:00Z")?;

    let started = Instant::now();
    let org = generate(&scale);
    let generated = started.elapsed();
    let whole_bytes = serde_json::to_vec(&org)?.len();

    let started = Instant::now();
    let cutter = Cutter::new(org)?;
    let built = started.elapsed();

    let users = cutter.policy().counts().users;
    let step = (users / count.max(1)).max(1);
    let mut times = Vec::new();
    let mut sizes = Vec::new();
    for user in cutter.users().step_by(step).take(count) {
        let scope = Scope::User(user.id.clone());
        let started = Instant::now();
        let scoped = cutter.cut(&scope, now)?;
        times.push(started.elapsed());
        sizes.push(serde_json::to_vec(&scoped)?.len());
    }
    let mut network_times = Vec::new();
    let mut network_sizes = Vec::new();
    for network in cutter.networks().take(4) {
        let started = Instant::now();
        let scoped = cutter.cut(&Scope::Network(network.id.clone()), now)?;
        network_times.push(started.elapsed());
        network_sizes.push(serde_json::to_vec(&scoped)?.len());
    }

    println!(
        "{name} (seed {}): {} users, {} projects, {:.1} MB of JSON",
        scale.seed,
        users,
        cutter.policy().counts().projects,
        mb(whole_bytes)
    );
    println!("  generate:         {:>9.1} ms", ms(generated));
    println!("  Cutter::new:      {:>9.1} ms", ms(built));
    println!("  {} user cuts:", times.len());
    summary("time", &mut times, |t| format!("{:.2} ms", ms(*t)));
    summary("JSON", &mut sizes, |b| format!("{:.1} kB", *b as f64 / 1e3));
    println!("  {} Network cuts:", network_times.len());
    summary("time", &mut network_times, |t| format!("{:.1} ms", ms(*t)));
    summary("JSON", &mut network_sizes, |b| format!("{:.1} MB", mb(*b)));
    Ok(())
}

/// Min, median and max of `values`.
fn summary<T: Ord>(what: &str, values: &mut [T], show: impl Fn(&T) -> String) {
    values.sort();
    let (Some(min), Some(median), Some(max)) = (values.first(), values.get(values.len() / 2), values.last())
    else {
        return;
    };
    println!("    {what}: min {}, median {}, max {}", show(min), show(median), show(max));
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}
