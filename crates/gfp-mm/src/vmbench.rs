//! Benchmarks of the reclaim layer (rows for `gfp bench --json`): pages
//! reclaimed per second by kswapd and by direct reclaim, and allocation
//! latency percentiles under memory pressure for `GFP_KERNEL` and
//! `GFP_NOWAIT`. Wall-clock time of the core with a virtual environment
//! (swap and writeback latencies are virtual, so they cost nothing here).

use alloc::vec::Vec;
use std::time::Instant;

use gfp::Gfp;

use crate::machine::{Cx, Machine};
use crate::vm::{PageSpec, Vm, VmConfig};
use crate::{MachineSpec, NodeSpec, Task, VirtualEnv};

/// Reclaim throughput.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReclaimRow {
    /// `kswapd` or `direct`.
    pub reclaimer: &'static str,
    /// Pages reclaimed in the run.
    pub pages: u64,
    /// Pages per second of wall time.
    pub pages_per_sec: f64,
}

/// Allocation latency under pressure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LatencyRow {
    /// `GFP_KERNEL` or `GFP_NOWAIT`.
    pub gfp: &'static str,
    /// Allocations measured.
    pub allocs: usize,
    /// Of which succeeded.
    pub succeeded: usize,
    /// Median latency, nanoseconds.
    pub p50_ns: u64,
    /// 99th percentile, nanoseconds.
    pub p99_ns: u64,
}

fn pressured(pages: u32) -> (Machine, Vm) {
    let mut s = MachineSpec::new("bench", alloc::vec![NodeSpec::new(0, 0, pages, 0, 0)], 1);
    s.tunables.pageblock_order = 5;
    let m = Machine::new(s).expect("machine");
    let vm = Vm::new(
        &m,
        VmConfig {
            swap_pages: pages as u64,
            ..VmConfig::default()
        },
    );
    (m, vm)
}

const FILL: Gfp = Gfp::HIGHUSER_MOVABLE
    .difference(Gfp::DIRECT_RECLAIM)
    .difference(Gfp::KSWAPD_RECLAIM)
    .union(Gfp::NOWARN);

fn fill(m: &Machine, vm: &Vm, cx: &Cx<'_>, pid: u32) {
    let mut i = 0u32;
    loop {
        let spec = if i % 2 == 0 {
            PageSpec::FILE_CLEAN
        } else {
            PageSpec::ANON
        };
        if vm.add_page(m, cx, FILL, Some(pid), spec).is_err() {
            break;
        }
        i += 1;
    }
}

/// Reclaim throughput of kswapd and of direct reclaim on a `pages`-page
/// machine filled with clean file and anonymous pages (with swap).
pub fn bench_reclaim(pages: u32) -> Vec<ReclaimRow> {
    let env = VirtualEnv::new();
    let mut rows = Vec::new();
    // kswapd: repeatedly woken below the low watermark.
    {
        let (m, vm) = pressured(pages);
        let pid = vm.spawn("bench", 0);
        let cx = Cx::new(0, Task::new().with_pid(pid), &env, &vm);
        fill(&m, &vm, &cx, pid);
        let k = Cx::new(0, Task::new().named("kswapd0"), &env, &vm);
        let t = Instant::now();
        let mut total = 0;
        for _ in 0..50 {
            let _ = vm.alloc_pages(&m, &cx, Gfp::NOWAIT | Gfp::NOWARN, 0);
            total += vm.kswapd_run(&m, &k, 0);
            fill(&m, &vm, &cx, pid);
        }
        let dt = t.elapsed().as_secs_f64();
        rows.push(ReclaimRow {
            reclaimer: "kswapd",
            pages: total,
            pages_per_sec: total as f64 / dt.max(1e-9),
        });
    }
    // Direct reclaim: GFP_KERNEL allocations past a full machine.
    {
        let (m, vm) = pressured(pages);
        let pid = vm.spawn("bench", 0);
        let cx = Cx::new(0, Task::new().with_pid(pid), &env, &vm);
        fill(&m, &vm, &cx, pid);
        let t = Instant::now();
        let mut held = Vec::new();
        for _ in 0..pages / 2 {
            match vm.alloc_pages(&m, &cx, Gfp::KERNEL | Gfp::NORETRY | Gfp::NOWARN, 0) {
                Ok(p) => held.push(p),
                Err(_) => break,
            }
        }
        let dt = t.elapsed().as_secs_f64();
        let total = vm.stats().pgsteal_direct;
        rows.push(ReclaimRow {
            reclaimer: "direct",
            pages: total,
            pages_per_sec: total as f64 / dt.max(1e-9),
        });
    }
    rows
}

/// Latency percentiles of `allocs` order-0 allocations (each freed again
/// while the machine stays full of reclaimable pages).
pub fn bench_latency(pages: u32, allocs: usize) -> Vec<LatencyRow> {
    let env = VirtualEnv::new();
    let mut rows = Vec::new();
    for (name, gfp) in [("GFP_KERNEL", Gfp::KERNEL), ("GFP_NOWAIT", Gfp::NOWAIT)] {
        let (m, vm) = pressured(pages);
        let pid = vm.spawn("bench", 0);
        let cx = Cx::new(0, Task::new().with_pid(pid), &env, &vm);
        fill(&m, &vm, &cx, pid);
        let mut lat = Vec::with_capacity(allocs);
        let mut ok = 0;
        let mut held = Vec::new();
        for i in 0..allocs {
            let t = Instant::now();
            let r = vm.alloc_pages(&m, &cx, gfp | Gfp::NOWARN, 0);
            lat.push(t.elapsed().as_nanos() as u64);
            if let Ok(p) = r {
                ok += 1;
                held.push(p);
            }
            if i % 64 == 63 {
                fill(&m, &vm, &cx, pid);
            }
        }
        lat.sort_unstable();
        let pct = |q: usize| lat[(lat.len() * q / 100).min(lat.len() - 1)];
        rows.push(LatencyRow {
            gfp: name,
            allocs,
            succeeded: ok,
            p50_ns: pct(50),
            p99_ns: pct(99),
        });
    }
    rows
}
