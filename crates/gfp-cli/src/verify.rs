//! `gfp verify`: derives a verdict for every cell of the scope policy
//! table by a bounded search through the simulator (`gfp_sim::verify`),
//! prints it beside the table's verdict, and exits 0 only when every cell
//! agrees.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::builder::RangedU64ValueParser;
use clap::{Args, ValueEnum};
use gfp::policy::Direction;
use gfp::Flag;
use gfp_sim::verify::{self, Bounds, CellResult, Selection};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::{CmdResult, UserError};

/// `set` or `clear`, on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum DirectionArg {
    /// Scopes that set the flag.
    Set,
    /// Scopes that clear the flag.
    Clear,
}

/// The most random programs per cell (128 times the default; they are
/// generated up front).
const MAX_RANDOM: u64 = 65_536;

/// Arguments of `gfp verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Print `{"cells": [...]}` as JSON (no progress bar).
    #[arg(long)]
    pub json: bool,
    /// Seed of the random part of the search, 0 to 18446744073709551615.
    #[arg(long, default_value_t = Bounds::default().seed)]
    pub seed: u64,
    /// Bodies of up to this many call sites, 1 to 3, are searched
    /// exhaustively (the exhaustive part grows as 26^N programs per environment).
    #[arg(long, default_value_t = Bounds::default().max_ops, value_parser = RangedU64ValueParser::<usize>::new().range(1..=3))]
    pub max_ops: usize,
    /// Random programs per cell after the exhaustive part, 0 to 65536.
    #[arg(long, default_value_t = Bounds::default().random, value_parser = RangedU64ValueParser::<usize>::new().range(0..=MAX_RANDOM))]
    pub random: usize,
    /// Only this flag (kernel name, e.g. __GFP_FS or FS).
    #[arg(long)]
    pub flag: Option<String>,
    /// Only this direction.
    #[arg(long, value_enum)]
    pub direction: Option<DirectionArg>,
}

#[derive(Serialize)]
struct Output<'a> {
    cells: &'a [CellResult],
}

/// Runs `gfp verify`.
pub fn run(args: VerifyArgs) -> CmdResult {
    let flag = match &args.flag {
        None => None,
        Some(name) => Some(parse_flag(name)?),
    };
    let sel = Selection {
        flag,
        direction: args.direction.map(|d| match d {
            DirectionArg::Set => Direction::Set,
            DirectionArg::Clear => Direction::Clear,
        }),
    };
    let bounds = Bounds {
        max_ops: args.max_ops,
        random: args.random,
        seed: args.seed,
    };
    let bar = if args.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::with_draw_target(
            Some(verify::total_work(&sel, &bounds)),
            ProgressDrawTarget::stderr(),
        );
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} verifying {pos}/{len} programs [{bar:40}] {percent}% {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    };
    let tick = |n: u64| bar.inc(n);
    let results = verify::verify(&sel, &bounds, &tick);
    bar.finish_and_clear();
    let agree = results.iter().all(|c| c.agrees);
    if args.json {
        let text = serde_json::to_string_pretty(&Output { cells: &results })
            .map_err(|e| UserError(e.to_string()))?;
        outln!("{text}");
    } else {
        out!("{}", table(&results, &bounds));
    }
    Ok(if agree {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A flag by kernel name, with or without the leading `__GFP_`.
fn parse_flag(name: &str) -> Result<Flag, UserError> {
    let full = if name.starts_with("__GFP_") {
        name.to_string()
    } else {
        format!("__GFP_{}", name.trim_start_matches("GFP_").to_uppercase())
    };
    Flag::from_kernel_name(&full).ok_or_else(|| {
        let names: Vec<&str> = Flag::ALL.iter().map(|f| f.kernel_name()).collect();
        UserError(format!(
            "--flag {name}: unknown flag (one of {})",
            names.join(", ")
        ))
    })
}

/// The text report: one row per cell, then the legend.
fn table(results: &[CellResult], bounds: &Bounds) -> String {
    let mut o = format!(
        "{:<21} {:<9} {:<27} {:<18} {:<6} {:>8} {:>9}  {}\n",
        "flag", "direction", "documented", "derived", "agrees", "explored", "simulated", "witness"
    );
    for c in results {
        let witness = match &c.witness_details {
            Some(w) => format!(
                "{} ({} call site{}, {})",
                w.detector,
                w.size,
                if w.size == 1 { "" } else { "s" },
                w.environment
            ),
            None => "-".into(),
        };
        o.push_str(&format!(
            "{:<21} {:<9} {:<27} {:<18} {:<6} {:>8} {:>9}  {}\n",
            c.flag,
            c.direction.name(),
            if c.documented_allowed {
                format!("allowed ({})", c.documented)
            } else {
                format!("refused ({})", c.documented)
            },
            c.derived,
            if c.agrees { "yes" } else { "NO" },
            c.explored,
            c.simulated,
            witness
        ));
    }
    let agree = results.iter().filter(|c| c.agrees).count();
    o.push_str(&format!(
        "\n{agree} of {} cells agree with the policy table.\n",
        results.len()
    ));
    o.push_str(&format!(
        "\nLegend: each cell was searched over programs that nest realistic call sites (one vocabulary for every flag) inside `scope set F` or `scope clear F`, in {} environments: bodies of up to {} call sites exhaustively, then {} random programs of {}-{} call sites (seed {}), the same programs for every cell.\n",
        verify::environments().len(),
        bounds.max_ops,
        bounds.random,
        bounds.max_ops + 1,
        bounds.max_ops + 2,
        bounds.seed
    ));
    o.push_str(
        "  derived `unsafe`: a witness program has a finding with the scope and runs clean (every task finished) with its scopes dropped; `no violation found`: none within the bounds; `not exercised`: no program evaluates a mask the scope changes, so nothing was simulated.\n\
         \x20 agrees: `unsafe` for a refused cell, `no violation found` for an allowed one; `not exercised` never agrees. Cells refused as mm-internal rest on who owns the flag, not on a failure mode: they are searched and reported, and agree either way once exercised.\n\
         \x20 explored: programs considered for the cell; simulated: those run with the scope (the others evaluate no mask it changes, so they run as without it); witness: the detector, the size of the smallest witness and its environment (`--json` gives the witness as a scenario file; replay it with `gfp sim FILE`).\n",
    );
    o
}
