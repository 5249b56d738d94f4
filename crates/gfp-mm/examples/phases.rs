//! Timing helper: TSC ticks per block for each phase of a round of 64
//! order-0 blocks, through the runtime's entry points: 64 `alloc_pages()`
//! calls, their 64 `free_pages()` calls, one `alloc_pages_bulk()` of 64
//! and one `free_pages_bulk()` of them. The minimum over 10 runs of 2,000
//! rounds each; x86-64 only.
//! `cargo run --release -p gfp-mm --example phases`.

#[cfg(target_arch = "x86_64")]
fn main() {
    use core::arch::x86_64::_rdtsc;
    use gfp::Gfp;
    use gfp_mm::{rt::Mm, MachineSpec, Page};

    const ROUNDS: u64 = 2000;
    let tsc = || {
        // SAFETY: RDTSC has no memory effects; every x86-64 CPU has it.
        unsafe { _rdtsc() }
    };
    let mm = Mm::new(MachineSpec::default_machine()).expect("machine");
    gfp_mm::rt::bind_current_thread(0);
    let mut pages: Vec<Page> = Vec::with_capacity(64);
    let mut array: Vec<Option<Page>> = vec![None; 64];
    let mut best = [u64::MAX; 4];
    for _ in 0..10 {
        let mut sum = [0u64; 4];
        for _ in 0..ROUNDS {
            let t0 = tsc();
            for _ in 0..64 {
                pages.push(mm.alloc_pages(Gfp::KERNEL, 0).expect("allocation"));
            }
            let t1 = tsc();
            for p in pages.drain(..).rev() {
                mm.free_pages(std::hint::black_box(p), 0).expect("free");
            }
            let t2 = tsc();
            assert_eq!(mm.alloc_pages_bulk(Gfp::KERNEL, 0, &mut array), 64);
            let t3 = tsc();
            let taken = std::hint::black_box(&mut array)
                .iter_mut()
                .filter_map(Option::take);
            mm.free_pages_bulk(taken, 0).expect("bulk free");
            let t4 = tsc();
            for (s, d) in sum.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3]) {
                *s += d;
            }
        }
        for (b, s) in best.iter_mut().zip(sum) {
            *b = (*b).min(s);
        }
    }
    let per = |t: u64| t as f64 / (ROUNDS * 64) as f64;
    println!(
        "ticks per block: alloc_pages {:.1}, free_pages {:.1}, alloc_pages_bulk {:.1}, free_pages_bulk {:.1}",
        per(best[0]),
        per(best[1]),
        per(best[2]),
        per(best[3])
    );
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    eprintln!("phases: x86-64 only (it reads the TSC)");
}
