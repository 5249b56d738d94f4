//! `gfp scan DIR`: the scope policy applied to kernel C source.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use gfp::KernelVersion;
use gfp_scan::{Allocators, Proposal, ScanOptions, Severity};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{CmdResult, UserError};

/// The severity at which `gfp scan` exits 1.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FailOn {
    /// Any finding.
    Note,
    /// Warnings and errors.
    Warning,
    /// Errors only.
    Error,
    /// Never: exit 0 whatever was found.
    Never,
}

/// Arguments of `gfp scan`.
#[derive(Args)]
pub struct ScanArgs {
    /// The kernel source tree (or one C file) to scan.
    #[arg(required_unless_present = "explain")]
    dir: Option<PathBuf>,
    /// Explain a rule (what it finds, why it matters, how to fix a finding, what it leaves out) and exit.
    #[arg(long, value_name = "RULE", conflicts_with_all = ["json", "sarif", "baseline", "around", "propose"])]
    explain: Option<String>,
    /// The kernel version whose GFP layout and PF_MEMALLOC_* flags apply (default: the tree's Makefile).
    #[arg(long, value_name = "X.Y[.Z]")]
    kernel: Option<String>,
    /// More allocators, one per line: `NAME GFP-ARG-POSITION|last [drops-xa-lock]`.
    #[arg(long, value_name = "FILE")]
    allocators: Option<PathBuf>,
    /// Rules to add or leave out, comma-separated: `+conversion` adds nofs-/noio-conversion-candidate; `-RULE` leaves RULE out (`-unpaired-scope,-redundant-gfp-nofs`).
    #[arg(long, value_name = "+conversion|-RULE,...", allow_hyphen_values = true)]
    rules: Option<String>,
    /// Follow calls through ops structures (`ops->member(...)`) to the functions their initialisers name.
    #[arg(long)]
    follow_ops: bool,
    /// With --follow-ops: follow a call through a member only when at most N functions are put in that member (1, the default, follows the unambiguous ones; more follows generic interfaces too, with many more false findings). 1 to 64.
    #[arg(long, value_name = "N", requires = "follow_ops", default_value_t = gfp_scan::DEFAULT_OPS_TARGETS as u32, value_parser = clap::value_parser!(u32).range(1..=gfp_scan::MAX_OPS_TARGETS as i64))]
    ops_targets: u32,
    /// The function a proposed scope would wrap (with --propose).
    #[arg(long, value_name = "FUNCTION", requires = "propose")]
    around: Option<String>,
    /// The proposed scope: `set FLAG`, `clear FLAG`, or noio, nofs, noreclaim, pin (with --around).
    #[arg(long, value_name = "SCOPE", requires = "around")]
    propose: Option<String>,
    /// Report only the findings FILE (the --json output of an earlier run) does not have: a finding is the same when its rule, context, allocation and chain of calls are, whatever lines moved.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value = "warning")]
    fail_on: FailOn,
    /// Print JSON.
    #[arg(long, conflicts_with = "sarif")]
    json: bool,
    /// Print SARIF 2.1.0 (for code-scanning UIs).
    #[arg(long)]
    sarif: bool,
    /// Parse every function with tree-sitter, also those the fast lexical pass reads (slower; for checking that pass).
    #[arg(long)]
    parse_all: bool,
    /// Do not follow a sleep through a function that this many distinct functions call inside atomic sections (the kernel's own belief that it is safe there); 0 follows every call. 0 to 1000000.
    #[arg(long, value_name = "N", default_value_t = gfp_scan::DEFAULT_TRUST_CALLERS as u32, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    trust_callers: u32,
    /// Report a sleep reached through calls only when its shortest chain has at most N calls (0: no bound); the search itself is not bounded. 0 to 1000000.
    #[arg(long, value_name = "N", default_value_t = gfp_scan::DEFAULT_MAX_CHAIN as u32, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    max_chain: u32,
    /// Which directory of arch/ to scan with the rest of a kernel tree (`all` for every one); the gfp profiles describe x86_64 builds.
    #[arg(long, value_name = "ARCH", default_value = "x86")]
    arch: String,
    /// Also scan the C files that Kconfig and the Makefiles say no build for ARCH compiles (drivers for other platforms; by default they are left out).
    #[arg(long)]
    all_configs: bool,
    /// Worker threads (default: one per core), 1 to 256.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: Option<u16>,
}

/// Runs `gfp scan`.
pub fn run(args: ScanArgs) -> CmdResult {
    if let Some(rule) = &args.explain {
        let text = gfp_scan::rule_docs::explain(rule).ok_or_else(|| {
            let known: Vec<&str> = gfp_scan::rules::id::ALL.iter().map(|r| r.0).collect();
            UserError(format!(
                "--explain {rule}: no such rule (rules: {})",
                known.join(", ")
            ))
        })?;
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(dir) = args.dir.clone() else {
        return Err(UserError("give the kernel tree (or C file) to scan".into()));
    };
    let mut opts = ScanOptions::default();
    if let Some(k) = &args.kernel {
        // The same range as every other command: refused before the first
        // profile, the newest layout (with a warning) after the last.
        k.parse::<KernelVersion>()
            .map_err(|e: gfp::profile::BadVersion| UserError(format!("--kernel: {e}")))?;
        let v: KernelVersion = crate::profile_args::parse_kernel(k)?;
        warn_if_newer(v);
        opts.kernel = Some(v);
    }
    if let Some(path) = &args.allocators {
        let text = crate::read_input_text(path, "--allocators table")?;
        let mut table = Allocators::builtin();
        table.extend_from_text(&path.display().to_string(), &text)?;
        opts.allocators = table;
    }
    if let Some(r) = &args.rules {
        opts.apply_rules(r)
            .map_err(|e| UserError(format!("--rules: {e}")))?;
    }
    opts.follow_ops = args.follow_ops;
    opts.ops_targets = args.ops_targets as usize;
    opts.parse_all = args.parse_all;
    opts.trust_callers = args.trust_callers as usize;
    opts.max_chain = args.max_chain as usize;
    if args.arch.is_empty()
        || !args
            .arch
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(UserError(format!(
            "--arch {:?}: give a directory name of arch/ (x86, arm64, ...) or `all`",
            args.arch
        )));
    }
    opts.arch = (args.arch != "all").then(|| args.arch.clone());
    opts.buildable_only = !args.all_configs;
    opts.jobs = args.jobs.map(usize::from);
    if let (Some(around), Some(p)) = (&args.around, &args.propose) {
        opts.around = Some(around.clone());
        opts.proposal = Some(Proposal::parse(p).map_err(UserError)?);
    }
    let baseline = match &args.baseline {
        Some(path) => {
            let text = crate::read_input_text(path, "baseline")?;
            Some(
                gfp_scan::Baseline::from_json(&text)
                    .map_err(|e| UserError(format!("--baseline {}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    if !dir.exists() {
        return Err(UserError(format!(
            "{}: no such file or directory",
            dir.display()
        )));
    }
    let quiet = args.json || args.sarif || !std::io::stderr().is_terminal();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} scanning {pos}/{len} files [{bar:40}] {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    };
    let tick = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let mut report = gfp_scan::scan(&dir, &opts, Some(&tick))?;
    if let Some(b) = &baseline {
        b.drop_known(&mut report);
    }
    bar.finish_and_clear();
    if args.kernel.is_none() {
        // The tree's own version: say when no built-in layout is its own.
        if let Ok(v) = report.kernel.parse::<KernelVersion>() {
            let oldest = gfp::profile::history::OLDEST_KNOWN;
            if v.release() < oldest {
                eprintln!(
                    "gfp: warning: the tree is Linux {v}, older than the built-in profiles (from {oldest}); its masks are read with the {oldest} layout (--kernel chooses another)"
                );
            }
            warn_if_newer(v);
        }
    }
    if args.json {
        crate::outln!("{}", report.to_json());
    } else if args.sarif {
        crate::outln!("{}", report.to_sarif());
    } else {
        crate::out!("{}", report.to_text());
    }
    let threshold = match args.fail_on {
        FailOn::Note => Some(Severity::Note),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Error => Some(Severity::Error),
        FailOn::Never => None,
    };
    let fail = threshold.is_some_and(|t| report.findings.iter().any(|f| f.severity >= t));
    Ok(if fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Says on stderr that a version after the newest known release is read
/// with that release's layout.
fn warn_if_newer(v: KernelVersion) {
    let newest = gfp::profile::history::NEWEST_KNOWN;
    if v.release() > newest {
        eprintln!(
            "gfp: warning: Linux {v} is newer than the newest known release {newest}; using the {newest} layout"
        );
    }
}
