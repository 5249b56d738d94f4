//! Timing helper: order-0 alloc+free pairs in batches of 64 through the
//! runtime's thread-local entry points:
//! `cargo run --release -p gfp-mm --example hot_rt [rounds]`.
use gfp::Gfp;
use gfp_mm::{rt::Mm, MachineSpec};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mm = Mm::new(MachineSpec::default_machine()).expect("machine");
    gfp_mm::rt::bind_current_thread(0);
    let mut pages = Vec::with_capacity(64);
    let t = std::time::Instant::now();
    for _ in 0..n {
        for _ in 0..64 {
            pages.push(mm.alloc_pages(Gfp::KERNEL, 0).expect("allocation"));
        }
        for p in pages.drain(..).rev() {
            mm.free_pages(p, 0).expect("free");
        }
    }
    println!(
        "{:.2} ns/pair",
        t.elapsed().as_nanos() as f64 / (64 * n) as f64
    );
}
