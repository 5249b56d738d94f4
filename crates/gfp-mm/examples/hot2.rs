//! Timing and instruction-count helper: order-0 alloc+free pairs in
//! batches of 64 through the core, single-threaded:
//! `cargo run --release -p gfp-mm --example hot2 [rounds]`.
use gfp::Gfp;
use gfp_mm::{Cx, Machine, MachineSpec, NoProgress, Task, VirtualEnv};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let m = Machine::new(MachineSpec::default_machine()).expect("machine");
    let env = VirtualEnv::new();
    let cx = Cx::new(0, Task::new(), &env, &NoProgress);
    let mut pages = Vec::with_capacity(64);
    let t = std::time::Instant::now();
    for _ in 0..n {
        for _ in 0..64 {
            pages.push(m.alloc_pages(&cx, Gfp::KERNEL, 0).expect("allocation"));
        }
        for p in pages.drain(..).rev() {
            m.free_pages(&cx, p, 0).expect("free");
        }
    }
    println!(
        "{:.2} ns/pair",
        t.elapsed().as_nanos() as f64 / (64 * n) as f64
    );
}
