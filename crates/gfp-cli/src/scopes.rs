//! `gfp scopes` and `gfp check-scope`: the policy table, and verdicts on a
//! proposed scope.

use std::process::ExitCode;

use clap::Args;
use gfp::policy::{self, Cell, Direction, TABLE};
use gfp::Flag;
use serde::Serialize;

use crate::{print_json, CmdResult, UserError};

#[derive(Serialize)]
struct CellJson {
    allowed: bool,
    verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_flag: Option<&'static str>,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    breaks: Option<&'static str>,
}

impl From<&Cell> for CellJson {
    fn from(c: &Cell) -> Self {
        CellJson {
            allowed: c.allowed(),
            verdict: c.verdict.name(),
            task_flag: match c.verdict {
                policy::Verdict::TaskFlag(pf) => Some(pf),
                _ => None,
            },
            reason: c.reason,
            breaks: c.breaks,
        }
    }
}

#[derive(Serialize)]
struct RowJson {
    flag: &'static str,
    group: &'static str,
    set: CellJson,
    clear: CellJson,
}

/// Runs `gfp scopes`.
pub fn run_table(json: bool) -> CmdResult {
    if json {
        let rows: Vec<RowJson> = TABLE
            .iter()
            .map(|r| RowJson {
                flag: r.flag.kernel_name(),
                group: r.flag.group().describe(),
                set: (&r.set).into(),
                clear: (&r.clear).into(),
            })
            .collect();
        return print_json(&rows);
    }
    outln!("{:<22} {:<28} clear in a scope", "flag", "set in a scope");
    for r in TABLE {
        outln!(
            "{:<22} {:<28} {}",
            r.flag.kernel_name(),
            short(&r.set),
            short(&r.clear)
        );
    }
    outln!();
    outln!("Reasons (refused cells marked with !):");
    for r in TABLE {
        for c in [&r.set, &r.clear] {
            outln!(
                "{} {:<5} {}: {}",
                if c.allowed() { " " } else { "!" },
                c.direction.name(),
                r.flag.kernel_name(),
                c.reason
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn short(c: &Cell) -> String {
    let mark = if c.allowed() { "yes" } else { "NO " };
    match c.verdict {
        policy::Verdict::TaskFlag(pf) => format!("{mark} exists: {pf}"),
        v => format!("{mark} {}", v.name()),
    }
}

/// Arguments of `gfp check-scope`.
#[derive(Args)]
pub struct CheckArgs {
    /// A flag the scope would set (e.g. __GFP_NOWARN, NOWARN); repeatable.
    #[arg(long = "set", value_name = "FLAG")]
    set: Vec<String>,
    /// A flag the scope would clear; repeatable.
    #[arg(long = "clear", value_name = "FLAG")]
    clear: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct CheckJson {
    allowed: bool,
    cells: Vec<CheckCell>,
}

#[derive(Serialize)]
struct CheckCell {
    flag: &'static str,
    direction: Direction,
    #[serde(flatten)]
    cell: CellJson,
}

fn parse_flags(names: &[String]) -> Result<Vec<Flag>, UserError> {
    let mut out = Vec::new();
    for arg in names {
        let parts: Vec<&str> = arg.split(['|', ',']).map(str::trim).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(UserError(format!(
                "`{arg}`: an empty flag name; give one flag per --set/--clear, or join them as A|B"
            )));
        }
        for name in parts {
            let flag = Flag::from_kernel_name(&name.to_ascii_uppercase()).ok_or_else(|| {
                UserError(format!(
                    "`{name}` is not a single GFP flag (composites such as GFP_KERNEL cannot be scoped); flags: {}",
                    Flag::ALL.iter().map(|f| f.kernel_name()).collect::<Vec<_>>().join(", ")
                ))
            })?;
            out.push(flag);
        }
    }
    Ok(out)
}

/// Runs `gfp check-scope`.
pub fn run_check(args: CheckArgs) -> CmdResult {
    let set = parse_flags(&args.set)?;
    let clear = parse_flags(&args.clear)?;
    if set.is_empty() && clear.is_empty() {
        return Err(UserError(
            "nothing to check: give --set FLAG and/or --clear FLAG".into(),
        ));
    }
    let mut cells = Vec::new();
    let mut conflict = Vec::new();
    for (flags, dir) in [(&set, Direction::Set), (&clear, Direction::Clear)] {
        for &f in flags.iter() {
            if dir == Direction::Clear && set.contains(&f) {
                conflict.push(f);
            }
            cells.push(CheckCell {
                flag: f.kernel_name(),
                direction: dir,
                cell: policy::cell(f, dir).into(),
            });
        }
    }
    if let Some(f) = conflict.first() {
        return Err(UserError(format!(
            "{f} is both set and cleared: a scope does one or the other"
        )));
    }
    let allowed = cells.iter().all(|c| c.cell.allowed);
    if args.json {
        print_json(&CheckJson { allowed, cells })?;
    } else {
        for c in &cells {
            outln!(
                "{} {} {}: {} ({})",
                if c.cell.allowed { "allowed" } else { "REFUSED" },
                c.direction.name(),
                c.flag,
                c.cell.reason,
                c.cell.verdict
            );
            if let Some(b) = c.cell.breaks {
                outln!("        {b}");
            }
        }
        outln!(
            "{}",
            if allowed {
                "verdict: the scope is allowed"
            } else {
                "verdict: the scope is refused"
            }
        );
    }
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
