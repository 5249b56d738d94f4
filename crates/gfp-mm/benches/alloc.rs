//! Criterion suite: order-0 and order-3 alloc+free pairs in batches of 64,
//! single-threaded, for this allocator (through the runtime's entry points,
//! its batch interfaces, and the core with an explicit context), a bare free stack and
//! `buddy_system_allocator`. `gfp bench --json` covers the 2-thread runs.

use criterion::{BenchmarkId, Criterion, Throughput};
use gfp::Gfp;
use gfp_mm::bench::{BuddyContender, Contender, FreeStack, GfpBulkContender, GfpContender};
use gfp_mm::{Cx, Machine, MachineSpec, NoProgress, Task, VirtualEnv};

const BATCH: usize = 64;

fn pairs(c: &mut Criterion) {
    let gfp = GfpContender::new();
    let bulk = GfpBulkContender::on(MachineSpec::default_machine());
    let stack = FreeStack::new(BATCH * 4);
    let buddy = BuddyContender::new(MachineSpec::default_machine().total_pages() as usize);
    let core = Machine::new(MachineSpec::default_machine()).expect("machine");
    let env = VirtualEnv::new();
    let mut group = c.benchmark_group("alloc_free_pairs");
    group.throughput(Throughput::Elements(BATCH as u64));
    for order in [0u32, 3] {
        let contenders: [(&str, &dyn Contender); 4] = [
            ("gfp", &gfp),
            ("gfp-bulk", &bulk),
            ("free-stack", &stack),
            ("buddy_system_allocator", &buddy),
        ];
        for (name, contender) in contenders {
            group.bench_with_input(BenchmarkId::new(name, order), &order, |b, &order| {
                b.iter(|| contender.run(0, order, BATCH, 1));
            });
        }
        group.bench_with_input(BenchmarkId::new("gfp-core", order), &order, |b, &order| {
            let cx = Cx::new(0, Task::new(), &env, &NoProgress);
            let mut pages = Vec::with_capacity(BATCH);
            b.iter(|| {
                for _ in 0..BATCH {
                    pages.push(
                        core.alloc_pages(&cx, Gfp::KERNEL, order)
                            .expect("allocation"),
                    );
                }
                for p in pages.drain(..).rev() {
                    core.free_pages(&cx, p, order).expect("free");
                }
            });
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    pairs(&mut c);
    c.final_summary();
}
