//! `gfp profile`: show a built-in profile, list versions, or derive a
//! profile from a kernel source tree.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use gfp::profile::history;

use crate::profile_args::ProfileArgs as Selection;
use crate::{CmdResult, UserError};

/// Arguments of `gfp profile`.
#[derive(Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    selection: Selection,
    /// Derive the profile from a kernel source tree (uses DIR/.config unless --kconfig is given).
    #[arg(long, value_name = "DIR")]
    from_source: Option<PathBuf>,
    /// The .config to use with --from-source.
    #[arg(long, value_name = "FILE", requires = "from_source")]
    kconfig: Option<PathBuf>,
    /// Write the profile to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// List the built-in kernel versions.
    #[arg(long, conflicts_with = "from_source")]
    list: bool,
}

/// Runs `gfp profile`.
pub fn run(args: ProfileArgs) -> CmdResult {
    if args.list {
        for v in history::supported_versions() {
            println!("{v}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let profile = match &args.from_source {
        Some(dir) => gfp::profile::source::derive_from_dir(dir, args.kconfig.as_deref())?,
        None => args.selection.resolve()?,
    };
    let text = serde_json::to_string_pretty(&profile).map_err(|e| UserError(e.to_string()))?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text + "\n")
                .map_err(|e| UserError(format!("cannot write {}: {e}", path.display())))?;
            eprintln!("gfp: wrote {} to {}", profile.label, path.display());
        }
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
