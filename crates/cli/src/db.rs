//! `tessera db`: the organisation in a database (`tessera_server::store`), on a Tokio runtime
//! for the length of one command.
//!
//! - `migrate`: the tables made or brought up to date, under the database's lock.
//! - `import ORG.json`: validated first (every problem listed, nothing written), then the
//!   database's organisation replaced with it as a new revision, whose number is printed.
//! - `export [--out FILE]`: the current organisation in the source format, as `tessera sign`
//!   reads it.

use std::io::Write;
use std::time::Instant;

use anyhow::Context as _;
use tessera_server::store::{Store, StoreError};

use crate::Status;
use crate::args::{DbArgs, DbCommand, DbExportArgs, DbImportArgs};
use crate::sign::{InvalidOrg, read_org};

pub(crate) fn db(command: &DbCommand, out: &mut dyn Write) -> anyhow::Result<Status> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            DbCommand::Migrate(args) => migrate(args, out).await,
            DbCommand::Import(args) => import(args, out).await,
            DbCommand::Export(args) => export(args, out).await,
        }
    })?;
    Ok(Status::Success)
}

async fn connect(args: &DbArgs) -> anyhow::Result<Store> {
    Store::connect(&args.database).await.context("cannot connect to the database")
}

async fn migrate(args: &DbArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = connect(args).await?;
    store.migrate().await?;
    let revision = store.current_revision().await?;
    writeln!(
        out,
        "tessera db migrate: the schema is up to date; {}",
        match revision {
            0 => "no organisation imported yet".to_owned(),
            n => format!("current revision {n}"),
        }
    )?;
    Ok(())
}

async fn import(args: &DbImportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let started = Instant::now();
    let org = read_org(&args.org)?;
    let store = connect(&args.db).await?;
    // A new database is made ready first: importing is the first thing one does with it.
    store.migrate().await?;
    let revision = match store.import(&org, &args.who).await {
        Ok(revision) => revision,
        Err(StoreError::Invalid(errors)) => {
            return Err(InvalidOrg::new("refusing to import", &args.org, errors).into());
        }
        Err(error) => return Err(error).with_context(|| format!("cannot import `{}`", args.org.display())),
    };
    writeln!(
        out,
        "imported `{}` as revision {revision}: {} networks, {} offices, {} users, {} projects, {} agreements, {} groups, {} direct messages in {} ms",
        args.org.display(),
        org.networks.len(),
        org.offices.len(),
        org.users.len(),
        org.projects.len(),
        org.agreements.len(),
        org.groups.len(),
        org.direct_messages.len(),
        started.elapsed().as_millis(),
    )?;
    Ok(())
}

async fn export(args: &DbExportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = connect(&args.db).await?;
    let (revision, org) = store.load().await.context("cannot export the organisation")?;
    let mut json = serde_json::to_vec_pretty(&org).context("cannot write the organisation as JSON")?;
    json.push(b'\n');
    match &args.out {
        Some(path) => {
            std::fs::write(path, &json).with_context(|| format!("cannot write `{}`", path.display()))?;
            writeln!(out, "exported revision {revision} to `{}`: {} bytes", path.display(), json.len())?;
        }
        None => out.write_all(&json)?,
    }
    Ok(())
}
