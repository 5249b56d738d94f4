//! `gfp sim`: runs a scenario (a file, or a built-in by name) in the
//! deterministic simulator and reports per-task outcomes, reclaim and
//! kswapd activity, and every detector finding; `--html FILE` also writes
//! a page with plots of the run. Exit status 1 when a detector fired, 0
//! when the run was clean, 2 on a usage, parse or write error.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use gfp_sim::builtin::BUILTIN;
use gfp_sim::html::{HtmlOptions, XAxis};
use gfp_sim::sim::DEFAULT_MAX_STEPS;

use crate::{print_json, CmdResult, UserError};

/// Arguments of `gfp sim`.
#[derive(Args)]
pub struct SimArgs {
    /// A scenario file, or the name of a built-in scenario (see --list).
    #[arg(required_unless_present = "list")]
    pub scenario: Option<std::path::PathBuf>,
    /// The scheduler's seed, 0 to 18446744073709551615: the same seed and
    /// scenario give the same report.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// List the built-in scenarios, each with the first sentence of its
    /// description (`--json`: `[{"name", "summary"}]`).
    #[arg(long)]
    pub list: bool,
    /// Also write one self-contained HTML page with plots of the run (free
    /// pages against the watermarks per zone, reclaim activity, a timeline
    /// of events) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// The x axis of the page's plots: virtual time, scheduler steps, or
    /// time when at least half of the steps end at a new instant (auto).
    #[arg(long, value_enum, default_value_t = AxisArg::Auto, requires = "html")]
    pub x_axis: AxisArg,
    /// Run the programs with their generic scopes (`scope set`, `scope
    /// clear`) removed; task-flag scopes (`nofs`, `noio`, `noreclaim`,
    /// `pin`) stay. A `gfp verify` witness runs clean this way.
    #[arg(long)]
    pub drop_scopes: bool,
    /// The scheduler's step limit: a run that reaches it with tasks
    /// unfinished is a `step-limit` finding (exit 1).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_STEPS,
          value_parser = clap::value_parser!(u64).range(1..=MAX_MAX_STEPS))]
    pub max_steps: u64,
}

/// The highest `--max-steps`: about a minute of simulation at the slowest.
pub const MAX_MAX_STEPS: u64 = 100_000_000;

/// `--x-axis`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AxisArg {
    /// Time when at least half of the steps end at a new virtual time, else steps.
    Auto,
    /// Virtual time.
    Time,
    /// Scheduler steps.
    Step,
}

/// The scenario's summary: the first sentence of its opening comment
/// (the comment lines after the header, up to `Expected:`), whole.
fn summary(text: &str) -> String {
    let mut para = Vec::new();
    for line in text.lines().skip(1) {
        let Some(c) = line.trim().strip_prefix('#') else {
            break;
        };
        let c = c.trim();
        if c.starts_with("Expected:") {
            break;
        }
        para.push(c);
    }
    let text = para.join(" ");
    let end = text
        .match_indices('.')
        .map(|(i, _)| i + 1)
        .find(|&i| text[i..].is_empty() || text[i..].starts_with(' '))
        .unwrap_or(text.len());
    text[..end].to_string()
}

/// One entry of `gfp sim --list --json`.
#[derive(serde::Serialize)]
struct Listed {
    name: &'static str,
    summary: String,
}

/// Runs `gfp sim`.
pub fn run(args: SimArgs) -> CmdResult {
    if args.list {
        let listed: Vec<Listed> = BUILTIN
            .iter()
            .map(|(name, text)| Listed {
                name,
                summary: summary(text),
            })
            .collect();
        if args.json {
            return print_json(&listed);
        }
        for l in &listed {
            outln!("{:<26} {}", l.name, l.summary);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(what) = args.scenario else {
        return Err(UserError(
            "name a scenario file or built-in (see --list)".into(),
        ));
    };
    let path = what.as_path();
    let name = what.display().to_string();
    let builtin = what.to_str().and_then(gfp_sim::builtin::get);
    let (label, text) = if path.is_file() {
        (name, crate::read_input_text(path, "scenario")?)
    } else if let Some(t) = builtin {
        (name, t.to_string())
    } else if path.exists() {
        // A directory, a device, a FIFO: say so rather than "no such file".
        return Err(crate::read_input_text(path, "scenario")
            .err()
            .unwrap_or_else(|| UserError(format!("{name}: not a scenario file"))));
    } else {
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        return Err(UserError(format!(
            "{name}: no such file or built-in scenario (built-in: {})",
            names.join(", ")
        )));
    };
    let mut scenario = gfp_sim::parse(&text).map_err(|e| UserError(format!("{label}: {e}")))?;
    if args.drop_scopes {
        scenario = gfp_sim::format::drop_scopes(&scenario);
    }
    let setup = |e: gfp_sim::sim::SetupError| UserError(format!("{label}: {e}"));
    let config = gfp_sim::SimConfig {
        seed: args.seed,
        max_steps: args.max_steps,
        ..gfp_sim::SimConfig::default()
    };
    let report = match &args.html {
        None => gfp_sim::sim::run_with(&scenario, config).map_err(setup)?,
        Some(path) => {
            let (report, timeline) =
                gfp_sim::run_recorded_with(&scenario, config).map_err(setup)?;
            let opts = HtmlOptions {
                x_axis: match args.x_axis {
                    AxisArg::Auto => XAxis::Auto,
                    AxisArg::Time => XAxis::Time,
                    AxisArg::Step => XAxis::Step,
                },
            };
            let page = gfp_sim::html::render(&report, &timeline, &opts);
            // Written before the report is printed: a failed write is an
            // error (exit 2), not a report followed by one.
            std::fs::write(path, page)
                .map_err(|e| UserError(format!("writing {}: {e}", path.display())))?;
            report
        }
    };
    if args.json {
        print_json(&report)?;
    } else {
        out!("{}", report.text());
    }
    Ok(if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_have_summaries() {
        for (name, text) in BUILTIN {
            let s = summary(text);
            assert!(s.ends_with('.') && s.len() > 20, "{name}: {s}");
            assert!(
                s.chars().next().is_some_and(char::is_uppercase),
                "{name}: {s}"
            );
        }
    }

    #[test]
    fn exit_status_follows_findings() {
        let run_named = |n: &str| {
            run(SimArgs {
                scenario: Some(n.into()),
                seed: 1,
                json: false,
                list: false,
                html: None,
                x_axis: AxisArg::Auto,
                drop_scopes: false,
                max_steps: DEFAULT_MAX_STEPS,
            })
            .unwrap()
        };
        assert_eq!(run_named("bcachefs-scoped-nowait"), ExitCode::from(1));
        assert_eq!(run_named("bcachefs-explicit-nowait"), ExitCode::SUCCESS);
        assert!(run(SimArgs {
            scenario: Some("no-such-scenario".into()),
            seed: 1,
            json: false,
            list: false,
            html: None,
            x_axis: AxisArg::Auto,
            drop_scopes: false,
            max_steps: DEFAULT_MAX_STEPS,
        })
        .is_err());
    }

    #[test]
    fn step_limit_is_a_finding_and_can_be_raised() {
        let dir = std::env::temp_dir().join(format!("gfp-sim-steps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("long.scenario");
        let text = "gfp-scenario 1\ntask a\n  repeat 300\n    alloc p GFP_KERNEL\n    free p\n  end\nend\n";
        std::fs::write(&file, text).unwrap();
        let with = |max_steps| {
            run(SimArgs {
                scenario: Some(file.clone()),
                seed: 1,
                json: false,
                list: false,
                html: None,
                x_axis: AxisArg::Auto,
                drop_scopes: false,
                max_steps,
            })
            .unwrap()
        };
        assert_eq!(with(100), ExitCode::from(1));
        assert_eq!(with(DEFAULT_MAX_STEPS), ExitCode::SUCCESS);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
