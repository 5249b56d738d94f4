//! `gfp profile`: show a built-in profile, list versions, or derive a
//! profile from a kernel source tree.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use gfp::profile::{history, Profile};

use crate::profile_args::ProfileArgs as Selection;
use crate::{CmdResult, UserError};

/// Arguments of `gfp profile`.
#[derive(Args)]
pub struct ProfileCmdArgs {
    #[command(flatten)]
    selection: Selection,
    /// Derive the profile from a kernel source tree. Its .config is DIR/.config,
    /// or the file given with --config FILE (or --kconfig FILE).
    #[arg(long, value_name = "DIR")]
    from_source: Option<PathBuf>,
    /// The .config to use with --from-source (same as `--from-source DIR --config FILE`).
    #[arg(long, value_name = "FILE", requires = "from_source")]
    kconfig: Option<PathBuf>,
    /// Write the profile as JSON to FILE, for `--profile FILE` in every command.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// List the built-in kernel versions (`--json`: an array of strings).
    #[arg(long, conflicts_with = "from_source")]
    list: bool,
    /// Print the profile as JSON (the file format) instead of a summary.
    #[arg(long)]
    json: bool,
}

/// With `--from-source`, `--config` names the .config file (the issue
/// tracker's `gfp profile --from-source DIR --config FILE`); elsewhere it
/// takes `CONFIG_X=y|n` options.
fn source_config(args: &ProfileCmdArgs) -> Result<Option<PathBuf>, UserError> {
    if let Some(k) = &args.kconfig {
        if !args.selection.config.is_empty() {
            return Err(UserError(
                "give the .config once: --config FILE or --kconfig FILE".into(),
            ));
        }
        return Ok(Some(k.clone()));
    }
    match args.selection.config.as_slice() {
        [] => Ok(None),
        [one] if !one.to_string_lossy().contains('=') || Path::new(one).is_file() => {
            Ok(Some(PathBuf::from(one)))
        }
        _ => Err(UserError(
            "with --from-source, --config takes the tree's .config file (one FILE), not CONFIG_X=y options"
                .into(),
        )),
    }
}

/// Runs `gfp profile`.
pub fn run(args: ProfileCmdArgs) -> CmdResult {
    if args.list {
        let versions = history::supported_versions();
        if args.json {
            let names: Vec<String> = versions.iter().map(ToString::to_string).collect();
            return crate::print_json(&names);
        }
        for v in versions {
            outln!("{v}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let profile = match &args.from_source {
        Some(dir) => {
            if args.selection.kernel.is_some() || args.selection.profile.is_some() {
                return Err(UserError(
                    "--from-source reads the version and layout from the tree: drop --kernel/--profile".into(),
                ));
            }
            let config = source_config(&args)?;
            gfp::profile::source::derive_from_dir(dir, config.as_deref())?
        }
        None => args.selection.resolve()?,
    };
    let text = serde_json::to_string_pretty(&profile).map_err(|e| UserError(e.to_string()))?;
    if let Some(path) = &args.output {
        std::fs::write(path, text.clone() + "\n")
            .map_err(|e| UserError(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("gfp: wrote {} to {}", profile.label, path.display());
        if !args.json {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if args.json {
        outln!("{text}");
    } else {
        print_summary(&profile);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(p: &Profile) {
    outln!("{}", p.label);
    outln!("  __GFP_BITS_MASK {:#x}", p.bits_mask);
    for n in &p.notes {
        outln!("  note: {n}");
    }
    outln!("\nflags:");
    for f in &p.flags {
        if f.mask == 0 {
            outln!("  {:<28} 0 (configured out)", f.name);
        } else {
            outln!("  {:<28} {:#x}", f.name, f.mask);
        }
    }
    outln!("\ncomposites:");
    for c in &p.composites {
        outln!("  {:<28} {:#x}", c.name, c.mask);
    }
    match &p.pgg_names {
        Some(t) => outln!(
            "\n%pGg names, in order: {}",
            t.iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        None => outln!("\n%pGg: none (kernels before 4.6 printed masks in hex)"),
    }
    outln!(
        "tracepoint names, in order: {}",
        p.trace_names
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    outln!(
        "a zero mask traces as `{}`{}",
        p.trace_zero,
        if p.trace_userspace_hex {
            "; trace-cmd and perf script print hex on this kernel"
        } else {
            ""
        }
    );
}
