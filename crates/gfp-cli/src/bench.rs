//! `gfp bench`: alloc+free pairs on the default machine for this allocator,
//! a bare free stack and `buddy_system_allocator`.

use std::process::ExitCode;

use clap::Args;
use gfp_mm::bench::{run as run_bench, BenchConfig, BenchReport};

use crate::{print_json, CmdResult, UserError};

/// Arguments of `gfp bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Print `{"results": [...]}` as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Samples per configuration (the median is reported).
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Alloc+free pairs per thread in each sample.
    #[arg(long, default_value_t = 1_000_000)]
    pairs: u64,
    /// Blocks allocated before they are freed again.
    #[arg(long, default_value_t = 64)]
    batch: usize,
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn print_table(r: &BenchReport) {
    println!(
        "{:<24} {:>5} {:>7} {:>12}",
        "allocator", "order", "threads", "ns/pair"
    );
    for x in &r.results {
        println!(
            "{:<24} {:>5} {:>7} {:>12.2}",
            x.allocator, x.order, x.threads, x.ns_per_pair
        );
    }
    println!();
    for order in [0, 3] {
        let g1 = r.get("gfp", order, 1);
        println!(
            "order {order}: gfp / free-stack {}, buddy_system_allocator / gfp {}, 2-thread throughput / 1-thread {}",
            ratio(g1, r.get("free-stack", order, 1)),
            ratio(r.get("buddy_system_allocator", order, 1), g1),
            ratio(g1, r.get("gfp", order, 2)),
        );
    }
}

/// Runs `gfp bench`.
pub fn run(args: BenchArgs) -> CmdResult {
    if args.samples == 0 || args.pairs == 0 || args.batch == 0 {
        return Err(UserError(
            "--samples, --pairs and --batch must be positive".into(),
        ));
    }
    let cfg = BenchConfig {
        samples: args.samples,
        pairs_per_sample: args.pairs,
        batch: args.batch,
        ..BenchConfig::default()
    };
    let report = run_bench(&cfg);
    if args.json {
        return print_json(&report);
    }
    print_table(&report);
    Ok(ExitCode::SUCCESS)
}
