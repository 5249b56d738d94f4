//! Simulated allocations per second under memory pressure: the whole
//! simulator (scheduler, scopes, detectors, gfp-mm's `Vm`, the allocator's
//! fast and slow paths, kswapd, direct reclaim, compaction) on a machine
//! whose memory is full of page cache and anonymous memory with swap.
//!
//! `cargo run --release -p gfp-sim --example pressure [-- FILE [RUNS]]`
//!
//! Prints the median and best of 5 runs (or RUNS) (allocation calls completed per
//! second of wall time spent running the tasks; building the machine and
//! filling it is timed apart), and what "pressure" meant in the run: the
//! share of allocations that entered the allocator's slow path and that
//! entered direct reclaim, kswapd's runs, pages reclaimed, failures.

use std::time::Instant;

use gfp_mm::Event;
use gfp_sim::sim::Sim;
use gfp_sim::SimConfig;

/// The pressure scenario: see `crates/gfp-sim/README.md` ("Speed").
pub const PRESSURE: &str = include_str!("pressure.scenario");

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let text = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(&path).expect("reads the scenario file"),
        None => PRESSURE.to_string(),
    };
    let runs: usize = std::env::args()
        .nth(2)
        .map_or(5, |n| n.parse().expect("RUNS is a number"));
    let s = gfp_sim::parse(&text).expect("parses");
    let config = SimConfig {
        seed: 1,
        max_steps: u64::MAX,
        ..SimConfig::default()
    };
    let (mut setup, mut run) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let sim = Sim::new(&s, config).expect("machine");
        let t1 = Instant::now();
        let before: Vec<u64> = Event::ALL.iter().map(|&e| sim.machine().event(e)).collect();
        let (r, m) = sim.run_machine();
        let t2 = Instant::now();
        setup.push((t1 - t).as_secs_f64());
        run.push((t2 - t1).as_secs_f64());
        let after: Vec<u64> = Event::ALL.iter().map(|&e| m.event(e)).collect();
        let delta = |e: Event| after[e as usize] - before[e as usize];
        let events = (
            delta(Event::AllocSlowpath),
            delta(Event::AllocStall),
            delta(Event::CompactStall),
            delta(Event::AllocFail),
        );
        if let Some((ref r0, e0)) = last {
            assert!(*r0 == r && e0 == events, "runs differ");
        }
        last = Some((r, events));
    }
    let (r, (slow, stall, compact, fail)) = last.expect("at least one run");
    let allocs: u64 = r.tasks.iter().map(|t| t.allocations).sum();
    let failed: u64 = r.tasks.iter().map(|t| t.failures).sum();
    let pct = |n: u64| 100.0 * n as f64 / allocs as f64;
    let med = median(run.clone());
    let best = run.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "scenario {}: {} steps, {} allocations ({} failed, {:.2}%), virtual time {:.3} ms, findings {}",
        r.scenario,
        r.steps,
        allocs,
        failed,
        pct(failed),
        r.time_ns as f64 / 1e6,
        r.findings.len()
    );
    println!(
        "pressure: {slow} allocations entered the slow path ({:.1}%), {stall} direct reclaim ({:.1}%), {compact} direct compaction ({:.2}%), {fail} allocator failures; kswapd woken {} times, ran {} times; reclaimed {} pages by kswapd, {} by direct reclaim; OOM kills {}",
        pct(slow),
        pct(stall),
        pct(compact),
        r.kswapd_wakeups,
        r.kswapd_runs,
        r.pgsteal_kswapd,
        r.pgsteal_direct,
        r.oom_kills
    );
    println!(
        "{:.2} M simulated allocations/s (median of {}; best {:.2} M/s): run {:.1} ms median, setup (machine + fill) {:.1} ms median",
        allocs as f64 / med / 1e6,
        run.len(),
        allocs as f64 / best / 1e6,
        med * 1e3,
        median(setup) * 1e3
    );
}
