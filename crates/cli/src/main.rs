//! The `tessera` binary: parse the arguments, run the command, map the outcome to an exit code.
//! Everything else is in the library, where the tests reach it.

use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::Parser as _;
use tessera_cli::{Cli, EXIT_ERROR, is_broken_pipe, render_error, run};

/// jemalloc, with its background threads: memory a request or an edit freed goes back to the
/// system within seconds, whichever thread freed it, so that the server's resident memory follows
/// what it holds (glibc's arenas and mimalloc's per-thread heaps kept two to three times as much).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// What the allocator holds, for the ops listener's `/metrics`.
fn heap() -> Option<tessera_server::Heap> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().ok()?;
    let resident = tikv_jemalloc_ctl::stats::resident::read().ok()?;
    Some(tessera_server::Heap { allocated: allocated as u64, resident: resident as u64 })
}

fn main() -> ExitCode {
    tessera_server::set_heap_probe(heap);
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
