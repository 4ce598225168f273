//! The `ferret` command-line tool. Each subcommand lives in its own module;
//! this file only parses the command line and dispatches. Exit codes:
//! 0 success, 1 the run found errors (a rule that fails to parse, a skipped
//! event under `--strict`), 2 the run could not be carried out (bad
//! arguments, unreadable input).

mod check;
mod output;
mod query;
mod scan;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// Events are decoded on worker threads and dropped on others; glibc's
// allocator spent close to half of a scan in malloc/free under that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run Elastic Security detection rules (EQL) over event files, without
/// Elasticsearch or Kibana.
#[derive(Parser)]
#[command(
    name = "ferret",
    version,
    about = "Run Elastic Security detection rules (EQL) over event files, without Elasticsearch or Kibana",
    after_help = "\
Examples:
  ferret scan --rules examples/rules examples/telemetry.ndjson
  ferret check rules/
  ferret query 'process where process.name : \"python*\"' events.ndjson.gz

Exit status: 0 success; 1 the run found errors (a rule that does not load or \
compile, a skipped event under --strict); 2 the run could not be carried out \
(bad arguments, an invalid query, unreadable input)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and validate rule files; print diagnostics and lint warnings.
    Check(check::Args),
    /// Run one EQL query over event files and print the hits.
    Query(query::Args),
    /// Run whole rule sets over event files and emit alerts.
    Scan(scan::Args),
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Query(args) => query::run(args),
        Command::Scan(args) => scan::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader went away (`ferret query … | head`): it has what it
        // wanted, so stop quietly, as other command-line filters do.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Tells mimalloc to keep the memory a scan frees instead of handing it
/// back to the system after a delay (unless `MIMALLOC_PURGE_DELAY`, or its
/// older name `MIMALLOC_RESET_DELAY`, says otherwise). A scan frees and
/// allocates at a steady rate: purged pages came back as page faults and
/// zeroing, 50,000-75,000 faults for W2 at 1M events; kept, 600, and W2 5%
/// and W4 10% faster, for 20-30 MB more peak memory (which stays flat).
fn keep_freed_memory() {
    // `mi_option_purge_delay` in mimalloc.h (v2 and v3); the `mimalloc`
    // crate links the library but does not declare its options.
    const PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // mimalloc reads the option from either name, in any case.
    let set_by_user = std::env::vars_os().any(|(name, _)| {
        name.to_str().is_some_and(|n| {
            n.eq_ignore_ascii_case("MIMALLOC_PURGE_DELAY")
                || n.eq_ignore_ascii_case("MIMALLOC_RESET_DELAY")
        })
    });
    if !set_by_user {
        // SAFETY: a plain setter of the allocator linked into this binary;
        // -1 is the documented value for "never purge".
        unsafe { mi_option_set(PURGE_DELAY, -1) };
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().map(|e| e.kind()) == broken
            // Writing JSON: serde_json wraps the write's error in its own.
            || e.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == broken
    })
}
