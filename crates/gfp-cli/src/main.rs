//! The `gfp` command: decode and explain Linux GFP masks, show the scope
//! policy and check scoped-flag proposals.
//!
//! Each subcommand lives in its own module; this file only parses arguments
//! and reports errors.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;

use clap::{Args, Parser, Subcommand};

/// `gfp scan` builds millions of small strings and vectors in parallel:
/// mimalloc's per-thread heaps serve them faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The first error writing to stdout (`gfp scopes > /dev/full`); output
/// stops there, and `main` reports it (exit status 2) instead of
/// panicking in `println!`.
static STDOUT_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes to stdout, remembering the first error instead of panicking.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut err = STDOUT_ERROR.lock().unwrap_or_else(|e| e.into_inner());
    if err.is_none() {
        if let Err(e) = std::io::stdout().lock().write_fmt(args) {
            *err = Some(e);
        }
    }
}

/// `print!` that does not panic when stdout fails ([`write_stdout`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` that does not panic when stdout fails ([`write_stdout`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod bench;
mod decode;
mod explain;
mod mm;
mod profile_args;
mod profiles;
mod scan;
mod scopes;
mod sim;
mod verify;

/// Decode, explain and reason about Linux GFP allocation masks.
#[derive(Parser)]
#[command(name = "gfp", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print masks as the kernel does (`%#x(%pGg)`), or annotate kernel logs and traces read from stdin.
    Decode(decode::DecodeArgs),
    /// Say what an allocation with a mask may do, and each flag's scope verdicts.
    Explain(explain::ExplainArgs),
    /// Print the scope policy table: which flags a scope may set or clear, and why.
    Scopes(JsonArg),
    /// Check a proposed scope: a verdict per flag; exit 1 when anything is refused.
    CheckScope(scopes::CheckArgs),
    /// Show built-in kernel profiles or derive one from a kernel source tree.
    Profile(profiles::ProfileCmdArgs),
    /// Show the default machine's zoneinfo, buddyinfo and vmstat after a small workload (or --idle).
    Mm(mm::MmArgs),
    /// Benchmark alloc+free pairs against a free stack and buddy_system_allocator.
    Bench(bench::BenchArgs),
    /// Run a scenario in the deterministic simulator; exit 1 when a detector fires.
    Sim(sim::SimArgs),
    /// Derive every scope cell's verdict by a bounded search through the simulator; exit 1 unless all agree with the policy table.
    Verify(verify::VerifyArgs),
    /// Apply the scope policy to kernel C source: allocations that may sleep in atomic context, NOFAIL without reclaim, redundant NOFS/NOIO, unpaired scopes, and what a proposed scope would break.
    Scan(scan::ScanArgs),
}

/// `--json` alone.
#[derive(Args)]
struct JsonArg {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// An error for the user: printed on stderr, exit status 2.
#[derive(Debug)]
pub struct UserError(pub String);

impl<E: std::error::Error> From<E> for UserError {
    fn from(e: E) -> Self {
        UserError(e.to_string())
    }
}

/// The result of a subcommand: the exit status to use.
pub type CmdResult = Result<ExitCode, UserError>;

fn main() -> ExitCode {
    // Like any Unix filter, end quietly when the reader goes away
    // (`gfp decode < log | head`) instead of panicking in `println!`.
    // SAFETY: called first thing in main, before any other thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(a) => decode::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Scopes(a) => scopes::run_table(a.json),
        Command::CheckScope(a) => scopes::run_check(a),
        Command::Profile(a) => profiles::run(a),
        Command::Mm(a) => mm::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Scan(a) => scan::run(a),
    };
    let flushed = std::io::stdout().flush();
    let written = STDOUT_ERROR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .map_or(flushed, Err);
    match (result, written) {
        (Err(UserError(msg)), _) => {
            eprintln!("gfp: error: {msg}");
            ExitCode::from(2)
        }
        (Ok(_), Err(e)) => {
            eprintln!("gfp: error: writing the output: {e}");
            ExitCode::from(2)
        }
        (Ok(code), Ok(())) => code,
    }
}

/// The largest input file read (a profile, a scenario, a `.config`).
pub const MAX_INPUT_FILE: u64 = 64 << 20;

/// Reads an input file: a regular file of at most [`MAX_INPUT_FILE`]
/// bytes. A directory, a device such as `/dev/zero` or a FIFO is an error
/// that says so, rather than a read that never ends. `what` names the file
/// in errors (`profile`, `scenario`).
pub fn read_input_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, UserError> {
    use std::io::Read;
    let fail = |why: String| UserError(format!("cannot read {what} {}: {why}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.is_dir() {
        return Err(fail("it is a directory".into()));
    }
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUT_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_INPUT_FILE {
        return Err(fail(format!("larger than {} MiB", MAX_INPUT_FILE >> 20)));
    }
    Ok(bytes)
}

/// [`read_input_file`] of a text file: invalid UTF-8 is an error.
pub fn read_input_text(path: &std::path::Path, what: &str) -> Result<String, UserError> {
    String::from_utf8(read_input_file(path, what)?).map_err(|e| {
        UserError(format!(
            "cannot read {what} {}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Writes `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> CmdResult {
    let text = serde_json::to_string_pretty(value).map_err(|e| UserError(e.to_string()))?;
    outln!("{text}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand.
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
