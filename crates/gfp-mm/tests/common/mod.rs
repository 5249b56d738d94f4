//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::cell::Cell;

use gfp::Gfp;
use gfp_mm::hooks::{CompactPriority, CompactResult, OomControl, ReclaimRequest};
use gfp_mm::{Cx, Machine, MachineSpec, NodeSpec, SlowPathHooks, Task, VirtualEnv, ZoneId};

/// A one-node machine with a single Normal zone of `pages` pages, small
/// per-CPU lists (batch 1, high 4) and one CPU: predictable watermarks.
pub fn single_zone(pages: u32) -> MachineSpec {
    let mut s = MachineSpec::new("single", vec![NodeSpec::new(0, 0, pages, 0, 0)], 1);
    s.tunables.pcp_batch = Some(1);
    s.tunables.pcp_high = Some(4);
    s.tunables.pageblock_order = 5;
    s
}

/// The 64 MiB two-node test machine with tiny per-CPU lists.
pub fn two_nodes() -> MachineSpec {
    let mut s = MachineSpec::test_64mib();
    s.tunables.pcp_batch = Some(1);
    s.tunables.pcp_high = Some(4);
    s
}

pub fn machine(spec: MachineSpec) -> Machine {
    Machine::new(spec).expect("machine")
}

/// Hooks that count how often each step ran and can pretend progress.
#[derive(Default)]
pub struct Counting {
    pub reclaim_calls: Cell<u32>,
    pub compact_calls: Cell<u32>,
    pub oom_calls: Cell<u32>,
    pub kswapd_calls: Cell<u32>,
    /// Direct reclaim reports progress for this many calls.
    pub reclaim_progress_calls: Cell<u32>,
    /// What `zone_reclaimable_pages` answers.
    pub reclaimable: Cell<u64>,
    /// What the OOM hook answers.
    pub oom_progress: Cell<bool>,
    pub last_reclaim_memalloc: Cell<bool>,
}

impl SlowPathHooks for Counting {
    fn wake_kswapd(
        &self,
        _m: &Machine,
        cx: &Cx<'_>,
        nid: usize,
        _gfp: Gfp,
        order: u32,
        highest: gfp::zone::ZoneType,
    ) {
        self.kswapd_calls.set(self.kswapd_calls.get() + 1);
        cx.env.wake_kswapd(nid, order, highest);
    }
    fn direct_reclaim(&self, _m: &Machine, cx: &Cx<'_>, _req: &ReclaimRequest) -> u64 {
        self.reclaim_calls.set(self.reclaim_calls.get() + 1);
        self.last_reclaim_memalloc.set(cx.task.memalloc());
        let left = self.reclaim_progress_calls.get();
        if left > 0 {
            self.reclaim_progress_calls.set(left - 1);
            1
        } else {
            0
        }
    }
    fn direct_compact(
        &self,
        _m: &Machine,
        _cx: &Cx<'_>,
        _req: &ReclaimRequest,
        _prio: CompactPriority,
    ) -> CompactResult {
        self.compact_calls.set(self.compact_calls.get() + 1);
        CompactResult::Complete
    }
    fn zone_reclaimable_pages(&self, _m: &Machine, _zone: ZoneId) -> u64 {
        self.reclaimable.get()
    }
    fn out_of_memory(&self, _m: &Machine, _cx: &Cx<'_>, _oc: &OomControl) -> bool {
        self.oom_calls.set(self.oom_calls.get() + 1);
        self.oom_progress.get()
    }
}

/// Allocates order-0 pages with `gfp` until the allocator refuses; returns them.
pub fn exhaust(m: &Machine, cx: &Cx<'_>, gfp: Gfp) -> Vec<gfp_mm::Page> {
    let mut v = Vec::new();
    while let Ok(p) = m.alloc_pages(cx, gfp | Gfp::NOWARN, 0) {
        v.push(p);
        assert!(
            v.len() <= m.total_pages() as usize,
            "allocated more pages than exist"
        );
    }
    v
}

pub fn task() -> Task<'static> {
    Task::new().named("test")
}

pub fn env() -> VirtualEnv {
    VirtualEnv::new()
}
