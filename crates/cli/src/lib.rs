//! The `tessera` command: keys, signing, verification and decisions from the shell, and
//! `tessera serve`, the reference snapshot server ([`serve`]), and `tessera db`, the organisation
//! in a database.
//!
//! `main.rs` only parses the arguments ([`Cli`]) and hands them to [`run`], which writes what
//! the command prints to the writer it is given and answers with a [`Status`]. Errors come back
//! as [`anyhow::Error`]s; [`render_error`] turns one into what goes to stderr.
//!
//! Exit codes: 0 success or allowed, [`EXIT_DENIED`] (2) a denial, [`EXIT_CHANGED`] (3) a
//! `diff` that found changes, [`EXIT_ERROR`] (1) any failure, a usage error included. A denial
//! or a change is an answer, not a failure. `serve` runs until Ctrl-C or SIGTERM, then exits 0.
//!
//! [`serve`] is public so that tests can drive its HTTP [`serve::router`] in-process.

use std::io::{self, Write};

use anyhow::Context as _;
use tessera_core::Timestamp;

mod args;
mod check;
mod db;
mod diff;
mod keys;
pub mod serve;
mod sign;
mod snapshot;

pub use args::{
    CheckArgs, Cli, Command, DbArgs, DbCommand, DbExportArgs, DbImportArgs, DiffArgs, InspectArgs,
    KeygenArgs, ServeArgs, SignArgs, SnapshotArgs, VerifyArgs,
};
pub use sign::{InvalidOrg, parse_duration};

/// The exit code of a failure.
pub const EXIT_ERROR: u8 = 1;
/// The exit code of `check` when the decision is a denial.
pub const EXIT_DENIED: u8 = 2;
/// The exit code of `diff` when some user's access changes.
pub const EXIT_CHANGED: u8 = 3;

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done; for `check`, allowed.
    Success,
    /// `check` only: the decision is a denial.
    Denied,
    /// `diff` only: some user's access changes.
    Changed,
}

impl Status {
    /// The process exit code.
    pub const fn exit_code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Denied => EXIT_DENIED,
            Status::Changed => EXIT_CHANGED,
        }
    }
}

/// Runs one command, writing its output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<Status> {
    let status = match cli.command {
        Command::Keygen(args) => keys::keygen(&args, out)?,
        Command::Sign(args) => sign::sign(&args, out)?,
        Command::Verify(args) => snapshot::verify(&args, out)?,
        Command::Check(args) => check::check(&args, out)?,
        Command::Inspect(args) => snapshot::inspect(&args, out)?,
        Command::Diff(args) => diff::diff(&args, out)?,
        Command::Serve(args) => serve::serve(&args, out)?,
        Command::Db(command) => db::db(&command, out)?,
    };
    out.flush()?;
    Ok(status)
}

/// What to print on stderr for `error`: `error: ` and the chain on one line, then, for an
/// organisation refused at signing, one indented line per problem.
pub fn render_error(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error:#}");
    if let Some(invalid) = error.downcast_ref::<InvalidOrg>() {
        for problem in invalid.problems() {
            text.push_str("\n  ");
            text.push_str(&problem.to_string());
        }
    }
    text
}

/// Whether `error` is stdout closing under us (`tessera … | head`): not worth reporting.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|io_error| io_error.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `--now` if given, else the system clock.
fn now_or_clock(now: Option<&str>) -> anyhow::Result<Timestamp> {
    if let Some(text) = now {
        return Timestamp::parse(text).context("invalid value for --now");
    }
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970; pass --now")?;
    let seconds =
        i64::try_from(since_epoch.as_secs()).context("the system clock is out of range; pass --now")?;
    Ok(Timestamp::from_unix(seconds))
}

/// Reads a whole file, naming it in the error.
fn read_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Reads a whole text file, naming it in the error.
fn read_text(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}
