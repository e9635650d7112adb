//! The `tessera` binary: parse the arguments, run the command, map the outcome to an exit code.
//! Everything else is in the library, where the tests reach it.

use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::Parser as _;
use tessera_cli::{Cli, EXIT_ERROR, is_broken_pipe, render_error, run};

/// mimalloc returns what it frees to the system (glibc's per-thread arenas kept it: a server
/// that built a revision or sent a large answer stayed at its peak).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap exits 2 on a usage error, but 2 is our "denied": a usage error is a failure.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    let mut stdout = io::stdout().lock();
    match run(cli, &mut stdout) {
        Ok(status) => ExitCode::from(status.exit_code()),
        // The reader went away (`tessera … | head`): nothing left to say, and no one to say it to.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "{}", render_error(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
