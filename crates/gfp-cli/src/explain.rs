//! `gfp explain`: what an allocation with a mask may do.

use std::process::ExitCode;

use clap::Args;
use gfp::explain::{explain_in, Fact};
use gfp::parse::parse_mask;
use gfp::policy::{self, Direction};
use serde::Serialize;

use crate::profile_args::ProfileArgs;
use crate::{print_json, CmdResult};

/// Arguments of `gfp explain`.
#[derive(Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    profile: ProfileArgs,
    /// The allocation order (2^order pages), 0 to 63; the kernel refuses
    /// any order above its MAX_PAGE_ORDER (10 on x86_64).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=63))]
    order: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// A mask: names (GFP_NOFS|__GFP_NOFAIL), hex or decimal.
    #[arg(value_name = "NAME|MASK")]
    mask: String,
}

#[derive(Serialize)]
struct FlagVerdicts {
    flag: &'static str,
    meaning: String,
    set: CellOut,
    clear: CellOut,
}

#[derive(Serialize)]
struct CellOut {
    allowed: bool,
    verdict: String,
    reason: &'static str,
}

#[derive(Serialize)]
struct Explained {
    mask: String,
    rendered: String,
    profile: String,
    order: u32,
    facts: Vec<Fact>,
    flags: Vec<FlagVerdicts>,
    unknown: Vec<String>,
}

/// Runs `gfp explain`.
pub fn run(args: ExplainArgs) -> CmdResult {
    let profile = args.profile.resolve()?;
    let mask = parse_mask(&profile, &args.mask)?;
    let translated = profile.to_native(mask);
    let gfp = translated.gfp;
    let cell = |c: &policy::Cell| CellOut {
        allowed: c.allowed(),
        verdict: c.verdict.describe(),
        reason: c.reason,
    };
    let out = Explained {
        mask: format!("{mask:#x}"),
        rendered: gfp::render::hex_and_pgg(&profile, mask),
        profile: profile.label.clone(),
        order: args.order,
        facts: explain_in(gfp, Some(args.order), profile.version),
        flags: gfp
            .flags()
            .map(|f| FlagVerdicts {
                flag: f.kernel_name(),
                meaning: f.meaning().split_whitespace().collect::<Vec<_>>().join(" "),
                set: cell(policy::cell(f, Direction::Set)),
                clear: cell(policy::cell(f, Direction::Clear)),
            })
            .collect(),
        unknown: translated
            .unmapped
            .iter()
            .map(|u| match &u.name {
                Some(n) => format!("{n} ({:#x}): no longer exists; no modern meaning", u.mask),
                None => format!("{:#x}: not a flag of {}", u.mask, profile.label),
            })
            .collect(),
    };
    if args.json {
        return print_json(&out);
    }
    outln!("{}  [{}, order {}]", out.rendered, out.profile, out.order);
    outln!();
    for f in &out.facts {
        outln!("  {:<13} {}", f.topic.label(), f.text);
    }
    for u in &out.unknown {
        outln!("  {:<13} {u}", "note");
    }
    if !out.flags.is_empty() {
        outln!();
        outln!("Flags, and whether a scope may set or clear them:");
        for f in &out.flags {
            outln!("  {}: {}", f.flag, f.meaning);
            for (dir, c) in [("set", &f.set), ("clear", &f.clear)] {
                outln!(
                    "      {dir:<5} {} ({}): {}",
                    if c.allowed { "allowed" } else { "REFUSED" },
                    c.verdict,
                    c.reason
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
