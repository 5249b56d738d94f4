//! Simulated allocations per second: one task allocating and freeing an
//! order-0 page with `GFP_KERNEL` in a loop, through the whole simulator
//! (scheduler, scopes, detectors, gfp-mm's `Vm`).
//!
//! `cargo run --release -p gfp-sim --example throughput`

use std::time::Instant;

fn main() {
    let text = "gfp-scenario 1\nname throughput\nmachine pages=4096\n\
                task a\n  repeat 100000\n    alloc p GFP_KERNEL\n    free p\n  end\nend\n";
    let s = gfp_sim::parse(text).expect("parses");
    let config = gfp_sim::SimConfig {
        seed: 1,
        max_steps: u64::MAX,
        ..Default::default()
    };
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let r = gfp_sim::sim::Sim::new(&s, config).expect("machine").run();
        let secs = t.elapsed().as_secs_f64();
        assert!(r.clean() && r.tasks[0].allocations == 100_000);
        best = best.min(secs);
    }
    println!(
        "{:.2} M simulated allocations/s (alloc+free pairs, best of 5)",
        100_000.0 / best / 1e6
    );
}
