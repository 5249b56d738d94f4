//! Simulated allocations per second (`cargo bench -p gfp-sim`): whole runs
//! of the pressure scenario (`examples/pressure.scenario`, see the README's
//! "Speed") and of a plain alloc/free loop. Building the machine and
//! filling it is setup, outside the timing; the throughput is allocation
//! calls completed per second.

use criterion::{BatchSize, Criterion, Throughput};
use gfp_sim::sim::Sim;
use gfp_sim::SimConfig;

const PRESSURE: &str = include_str!("../examples/pressure.scenario");

const LOOP: &str = "gfp-scenario 1\nname loop\nmachine pages=4096\n\
                    task a\n  repeat 100000\n    alloc p GFP_KERNEL\n    free p\n  end\nend\n";

fn allocs_per_sec(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocs_per_sec");
    g.sample_size(10);
    let config = SimConfig {
        seed: 1,
        max_steps: u64::MAX,
        ..SimConfig::default()
    };
    for (name, text) in [("pressure", PRESSURE), ("alloc-free-loop", LOOP)] {
        let s = gfp_sim::parse(text).expect("parses");
        let report = Sim::new(&s, config).expect("machine").run();
        let allocs: u64 = report.tasks.iter().map(|t| t.allocations).sum();
        assert!(allocs > 0 && report.clean(), "{name}: {}", report.text());
        g.throughput(Throughput::Elements(allocs));
        g.bench_function(name, |b| {
            b.iter_batched(
                || Sim::new(&s, config).expect("machine"),
                Sim::run,
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    allocs_per_sec(&mut c);
    c.final_summary();
}
