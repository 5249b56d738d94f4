//! Criterion benchmarks of the layers above the page allocator: kmalloc /
//! kfree pairs of 64-byte objects beside the system allocator, and a round
//! of direct reclaim.

use criterion::Criterion;
use gfp::Gfp;
use gfp_mm::slab::{ObjExtMode, Slab};
use gfp_mm::{Cx, Machine, MachineSpec, NoProgress, PageSpec, Task, VirtualEnv, Vm, VmConfig};

fn kmalloc(c: &mut Criterion) {
    let m = Machine::new(MachineSpec::test_64mib()).unwrap();
    let env = VirtualEnv::new();
    let cx = Cx::new(0, Task::new(), &env, &NoProgress);
    let slab = Slab::new(&m, ObjExtMode::Off);
    let mut g = c.benchmark_group("kmalloc-64");
    g.bench_function("gfp-kmalloc", |b| {
        b.iter(|| {
            let o = slab.kmalloc(&m, &cx, 64, Gfp::KERNEL).unwrap();
            slab.kfree(&m, &cx, std::hint::black_box(o));
        })
    });
    let layout = std::alloc::Layout::from_size_align(64, 8).unwrap();
    g.bench_function("system-malloc", |b| {
        b.iter(|| {
            // SAFETY: a non-zero-size layout; the block is freed with it.
            unsafe {
                let p = std::alloc::alloc(layout);
                std::alloc::dealloc(std::hint::black_box(p), layout);
            }
        })
    });
    g.finish();
}

fn direct_reclaim(c: &mut Criterion) {
    c.bench_function("direct-reclaim-32-clean-file-pages", |b| {
        b.iter_batched(
            || {
                let mut s = MachineSpec::test_64mib();
                s.tunables.pcp_batch = Some(1);
                let m = Machine::new(s).unwrap();
                let vm = Vm::new(&m, VmConfig::default());
                (m, vm)
            },
            |(m, vm)| {
                let env = VirtualEnv::new();
                let cx = Cx::new(0, Task::new(), &env, &vm);
                let fill = (Gfp::HIGHUSER_MOVABLE - Gfp::DIRECT_RECLAIM - Gfp::KSWAPD_RECLAIM)
                    | Gfp::NOWARN;
                while vm
                    .add_page(&m, &cx, fill, None, PageSpec::FILE_CLEAN)
                    .is_ok()
                {}
                vm.alloc_pages(&m, &cx, Gfp::KERNEL, 0).unwrap();
            },
            criterion::BatchSize::PerIteration,
        )
    });
}

fn main() {
    let mut c = Criterion::default().sample_size(10).configure_from_args();
    kmalloc(&mut c);
    direct_reclaim(&mut c);
    c.final_summary();
}
