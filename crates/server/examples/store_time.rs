//! How long the organisation store takes on a generated organisation: import, load, and commits
//! of one small edit each. A measurement, not a test: `cargo xtask store-time [SCALE]` runs it in
//! release on SQLite and on a throwaway PostgreSQL server.
//!
//! `cargo run --release -p tessera-server --example store_time -- SCALE URL`

use std::time::Instant;

use tessera_generate::{Scale, generate};
use tessera_server::store::Store;

/// An edit to time, and what it is.
type Edit = (&'static str, fn(&mut tessera_core::Org));

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(scale), Some(url)) = (args.next(), args.next()) else {
        return Err("usage: store_time small|medium|large URL".into());
    };
    let scale = Scale::preset(&scale).ok_or("the scale is small, medium or large")?;
    let org = generate(&scale);
    let backend = if url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" };
    println!(
        "{backend}: {} users, {} projects, {} team members",
        org.users.len(),
        org.projects.len(),
        org.projects.iter().map(|project| project.team.len()).sum::<usize>()
    );

    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let started = Instant::now();
    let revision = store.import(&org, "store_time").await?;
    println!("  import:  {:>8.2} s (revision {revision})", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let (loaded_revision, loaded) = store.load().await?;
    println!("  load:    {:>8.2} s", started.elapsed().as_secs_f64());
    if loaded != org || loaded_revision != revision {
        return Err("the organisation loaded is not the one imported".into());
    }

    let mut base = (revision, loaded);
    let edits: [Edit; 4] = [
        ("rename a user", |org| {
            if let Some(user) = org.users.get_mut(500) {
                user.name.push_str(" (renamed)");
            }
        }),
        ("add a team member", |org| {
            if let Some(project) = org.projects.get_mut(1000) {
                project.team.push("u-00001".to_owned());
            }
        }),
        ("append a user", |org| {
            if let Some(mut user) = org.users.first().cloned() {
                user.id = "u-appended".to_owned();
                org.users.push(user);
            }
        }),
        ("end an agreement", |org| {
            if org.agreements.len() > 1 {
                org.agreements.remove(1);
            }
        }),
    ];
    for (what, edit) in edits {
        let mut next = base.1.clone();
        edit(&mut next);
        let started = Instant::now();
        let number = store
            .commit((base.0, &base.1), &next, "store_time", &serde_json::json!({ "what": what }))
            .await?;
        println!("  commit:  {:>8.3} s ({what}; revision {number})", started.elapsed().as_secs_f64());
        base = (number, next);
    }
    let started = Instant::now();
    let (revision, loaded) = store.load().await?;
    println!("  load:    {:>8.2} s (after the commits)", started.elapsed().as_secs_f64());
    if loaded != base.1 || revision != base.0 {
        return Err("the organisation loaded is not the one committed".into());
    }
    Ok(())
}
