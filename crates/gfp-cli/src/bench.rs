//! `gfp bench`: alloc+free pairs on the default machine for this allocator
//! (one call per block, and its batch interfaces), a bare free stack and `buddy_system_allocator`; 64-byte kmalloc/kfree
//! pairs beside the system allocator; reclaim throughput of kswapd and
//! direct reclaim; allocation latency under memory pressure.

use std::process::ExitCode;

use clap::builder::RangedU64ValueParser;
use clap::Args;
use gfp_mm::bench::{run as run_bench, BenchConfig, BenchReport, MAX_BATCH};

use gfp_mm::slab::KmallocRow;
use gfp_mm::vmbench::{LatencyRow, ReclaimRow};
use serde::Serialize;

use crate::{print_json, CmdResult};

/// One row of `results`: a page-allocator row or a kmalloc row (they share
/// `allocator`, `threads` and `ns_per_pair`).
#[derive(Serialize)]
#[serde(untagged)]
enum Row<'a> {
    Pages(&'a gfp_mm::bench::BenchResult),
    Kmalloc(&'a KmallocRow),
}

/// Everything `gfp bench --json` prints.
#[derive(Serialize)]
struct FullReport<'a> {
    results: Vec<Row<'a>>,
    reclaim: &'a [ReclaimRow],
    latency: &'a [LatencyRow],
}

/// The most samples per configuration.
const MAX_SAMPLES: u64 = 100;
/// The most pairs per thread and sample (about a second each).
const MAX_PAIRS: u64 = 100_000_000;

/// Arguments of `gfp bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Print `{"results": [...]}` as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Samples per configuration, 1 to 100 (the median is reported).
    #[arg(long, default_value_t = 5, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_SAMPLES))]
    samples: usize,
    /// Alloc+free pairs per thread in each sample, 1 to 100000000.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=MAX_PAIRS))]
    pairs: u64,
    /// Blocks allocated before they are freed again, 1 to 1024 (each of two
    /// threads holds that many order-3 blocks of the default machine's 256 MiB).
    #[arg(long, default_value_t = 64, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_BATCH as u64))]
    batch: usize,
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn print_table(r: &BenchReport) {
    outln!(
        "{:<24} {:>5} {:>7} {:>12}",
        "allocator",
        "order",
        "threads",
        "ns/pair"
    );
    for x in &r.results {
        outln!(
            "{:<24} {:>5} {:>7} {:>12.2}",
            x.allocator,
            x.order,
            x.threads,
            x.ns_per_pair
        );
    }
    outln!();
    for order in [0, 3] {
        for name in ["gfp", "gfp-bulk"] {
            let g1 = r.get(name, order, 1);
            outln!(
                "order {order}: {name} / free-stack {}, buddy_system_allocator / {name} {}, 2-thread throughput / 1-thread {}",
                ratio(g1, r.get("free-stack", order, 1)),
                ratio(r.get("buddy_system_allocator", order, 1), g1),
                ratio(g1, r.get(name, order, 2)),
            );
        }
    }
}

/// Runs `gfp bench`.
pub fn run(args: BenchArgs) -> CmdResult {
    let cfg = BenchConfig {
        samples: args.samples,
        pairs_per_sample: args.pairs,
        batch: args.batch,
        ..BenchConfig::default()
    };
    let report = run_bench(&cfg);
    let kmalloc = gfp_mm::slab::bench_kmalloc(64, 200_000, args.samples);
    let reclaim = gfp_mm::vmbench::bench_reclaim(16_384);
    let latency = gfp_mm::vmbench::bench_latency(16_384, 20_000);
    if args.json {
        let mut results: Vec<Row<'_>> = report.results.iter().map(Row::Pages).collect();
        results.extend(kmalloc.iter().map(Row::Kmalloc));
        return print_json(&FullReport {
            results,
            reclaim: &reclaim,
            latency: &latency,
        });
    }
    print_table(&report);
    outln!();
    for k in &kmalloc {
        outln!(
            "{:<16} size {:>4}  {:>8.2} ns/pair",
            k.allocator,
            k.size,
            k.ns_per_pair
        );
    }
    let get = |a: &str| {
        kmalloc
            .iter()
            .find(|k| k.allocator == a)
            .map(|k| k.ns_per_pair)
    };
    outln!(
        "kmalloc(64): gfp-kmalloc / system-malloc {}",
        ratio(get("gfp-kmalloc"), get("system-malloc"))
    );
    outln!();
    for r in &reclaim {
        outln!(
            "{:<8} reclaimed {:>8} pages  {:>12.0} pages/s",
            r.reclaimer,
            r.pages,
            r.pages_per_sec
        );
    }
    for l in &latency {
        outln!(
            "{:<11} under pressure: {} of {} succeeded, p50 {} ns, p99 {} ns",
            l.gfp,
            l.succeeded,
            l.allocs,
            l.p50_ns,
            l.p99_ns
        );
    }
    Ok(ExitCode::SUCCESS)
}
