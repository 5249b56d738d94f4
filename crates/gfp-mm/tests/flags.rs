//! One test (at least) per flag: each fails if the flag were ignored.

mod common;

use common::*;
use gfp::context::{ScopeChange, TaskContext};
use gfp::zone::{MigrateType, ZoneType};
use gfp::{Gfp, TaskFlags};
use gfp_mm::{
    AllocError, BadPageReason, CpusetId, Cx, Event, ExecContext, FrameKind, LogLevel, Machine,
    MachineSpec, NoProgress, NodeMask, Task, PAGE_SIZE,
};

fn cx<'a>(env: &'a gfp_mm::VirtualEnv, hooks: &'a dyn gfp_mm::SlowPathHooks, cpu: usize) -> Cx<'a> {
    Cx::new(cpu, task(), env, hooks)
}

/// A single-zone machine exhausted with GFP_KERNEL: free pages sit at the
/// min watermark.
fn at_min() -> Machine {
    let m = machine(single_zone(4096));
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    let pages = exhaust(&m, &c, Gfp::KERNEL);
    assert!(!pages.is_empty());
    // The handles are plain data: dropping them frees nothing.
    drop(pages);
    let z = &m.zones()[0];
    assert_eq!(
        z.free_pages() as u64,
        z.watermark(0),
        "GFP_KERNEL stops at the min watermark"
    );
    m
}

fn count_allocs(m: &Machine, c: &Cx<'_>, gfp: Gfp) -> usize {
    exhaust(m, c, gfp).len()
}

#[test]
fn zone_modifiers_pick_zones() {
    let m = machine(two_nodes());
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    let zt = |g: Gfp| m.page_zone_type(m.alloc_pages(&c, g, 0).unwrap()).unwrap();
    assert_eq!(zt(Gfp::KERNEL), ZoneType::Normal);
    assert_eq!(zt(Gfp::KERNEL | Gfp::DMA), ZoneType::Dma);
    assert_eq!(zt(Gfp::KERNEL | Gfp::DMA32), ZoneType::Dma32);
    assert_eq!(zt(Gfp::HIGHUSER_MOVABLE), ZoneType::Movable);
    // __GFP_MOVABLE alone does not reach ZONE_MOVABLE.
    assert_eq!(zt(Gfp::KERNEL | Gfp::MOVABLE), ZoneType::Normal);
    assert_eq!(
        zt(Gfp::HIGHUSER),
        ZoneType::Normal,
        "no HighMem zone on this machine"
    );
    let hm = machine(MachineSpec::highmem_32bit());
    let c = cx(&env, &NoProgress, 0);
    assert_eq!(
        hm.page_zone_type(hm.alloc_pages(&c, Gfp::HIGHUSER, 0).unwrap()),
        Some(ZoneType::HighMem)
    );
    assert_eq!(
        hm.page_zone_type(hm.alloc_pages(&c, Gfp::KERNEL, 0).unwrap()),
        Some(ZoneType::Normal)
    );
}

#[test]
fn invalid_requests_are_errors() {
    let m = machine(two_nodes());
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    assert!(matches!(
        m.alloc_pages(&c, Gfp::KERNEL | Gfp::DMA | Gfp::DMA32, 0),
        Err(AllocError::BadZone(_))
    ));
    assert!(matches!(
        m.alloc_pages(&c, Gfp::KERNEL | Gfp::MOVABLE | Gfp::RECLAIMABLE, 0),
        Err(AllocError::BadMigratetype(_))
    ));
    assert_eq!(
        m.alloc_pages(&c, Gfp::KERNEL, 11),
        Err(AllocError::OrderTooLarge { order: 11 })
    );
    assert!(env.log_text().contains("order > MAX_PAGE_ORDER"));
    assert_eq!(
        m.alloc_pages_node(&c, 7, Gfp::KERNEL, 0),
        Err(AllocError::NoSuchNode(7))
    );
    m.check_invariants().unwrap();
}

#[test]
fn migratetype_flags_select_free_lists() {
    let m = machine(two_nodes());
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    let mt = |g: Gfp| {
        m.page_state(m.alloc_pages(&c, g, 0).unwrap())
            .unwrap()
            .alloc_migratetype()
    };
    assert_eq!(mt(Gfp::KERNEL), MigrateType::Unmovable);
    assert_eq!(mt(Gfp::KERNEL | Gfp::MOVABLE), MigrateType::Movable);
    assert_eq!(mt(Gfp::KERNEL | Gfp::RECLAIMABLE), MigrateType::Reclaimable);
    // Unmovable requests took pageblocks away from the boot-time Movable
    // type (fallback), Movable ones did not need to.
    assert!(m.event(Event::Fallback) >= 2);
}

#[test]
fn high_reaches_half_the_min_reserve() {
    let m = at_min();
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    assert_eq!(count_allocs(&m, &c, Gfp::KERNEL), 0);
    let min = m.zones()[0].watermark(0) as usize;
    assert_eq!(count_allocs(&m, &c, Gfp::KERNEL | Gfp::HIGH), min / 2);
}

#[test]
fn atomic_reaches_further_than_high_unless_nomemalloc() {
    let m = at_min();
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    assert_eq!(
        count_allocs(&m, &c, Gfp::NOWAIT),
        0,
        "GFP_NOWAIT gets no reserve"
    );
    let min = m.zones()[0].watermark(0) as usize;
    let m2 = at_min();
    assert_eq!(
        count_allocs(&m2, &c, Gfp::ATOMIC | Gfp::NOMEMALLOC),
        min / 2
    );
    // __GFP_HIGH halves min; not blocking takes a further quarter of that.
    let reach = min - (min / 2 - min / 2 / 4);
    assert_eq!(count_allocs(&m, &c, Gfp::ATOMIC), reach);
    assert!(reach > min / 2);
}

#[test]
fn oom_victims_get_half_the_min_reserve() {
    let m = at_min();
    let env = env();
    let victim = Task {
        oom_victim: true,
        ..task()
    };
    let c = Cx::new(0, victim, &env, &NoProgress);
    let min = m.zones()[0].watermark(0) as usize;
    assert_eq!(count_allocs(&m, &c, Gfp::KERNEL), min / 2);
}

#[test]
fn memalloc_ignores_watermarks_unless_nomemalloc() {
    let min;
    {
        let m = at_min();
        min = m.zones()[0].watermark(0) as usize;
        let env = env();
        let c = cx(&env, &NoProgress, 0);
        assert_eq!(
            count_allocs(&m, &c, Gfp::KERNEL | Gfp::MEMALLOC | Gfp::NOMEMALLOC),
            0
        );
        assert_eq!(
            count_allocs(&m, &c, Gfp::KERNEL | Gfp::MEMALLOC),
            min,
            "__GFP_MEMALLOC empties the zone"
        );
    }
    let m = at_min();
    let ctx = TaskContext::new();
    ctx.enter(ScopeChange::task(TaskFlags::MEMALLOC)).unwrap();
    let env = env();
    let memalloc = task().with_scope(ctx.state());
    let c = Cx::new(0, memalloc, &env, &NoProgress);
    assert_eq!(count_allocs(&m, &c, Gfp::KERNEL | Gfp::NOMEMALLOC), 0);
    let irq = Cx::new(
        0,
        Task {
            context: ExecContext::HardIrq,
            ..memalloc
        },
        &env,
        &NoProgress,
    );
    assert_eq!(
        count_allocs(&m, &irq, Gfp::KERNEL),
        0,
        "PF_MEMALLOC does not count in a hard interrupt"
    );
    assert_eq!(
        count_allocs(&m, &c, Gfp::KERNEL),
        min,
        "PF_MEMALLOC empties the zone"
    );
}

#[test]
fn kswapd_reclaim_wakes_kswapd() {
    let m = at_min();
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    let _ = m.alloc_pages(&c, Gfp::NOWAIT - Gfp::KSWAPD_RECLAIM, 0);
    assert_eq!(env.kswapd_wakeups(), 0);
    let _ = m.alloc_pages(&c, Gfp::NOWAIT, 0);
    // Once on entering the slow path, once more before the retry.
    assert_eq!(env.kswapd_wakeups(), 2);
}

#[test]
fn direct_reclaim_runs_only_when_allowed_and_not_recursively() {
    let m = at_min();
    let env = env();
    let hooks = Counting::default();
    let c = cx(&env, &hooks, 0);
    let _ = m.alloc_pages(&c, Gfp::NOWAIT, 0);
    assert_eq!(hooks.reclaim_calls.get(), 0);
    let _ = m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOWARN, 0);
    assert!(hooks.reclaim_calls.get() >= 1);
    assert!(
        hooks.last_reclaim_memalloc.get(),
        "reclaim runs with PF_MEMALLOC"
    );
    let before = hooks.reclaim_calls.get();
    let ctx = TaskContext::new();
    ctx.enter(ScopeChange::task(TaskFlags::MEMALLOC)).unwrap();
    let rc = Cx::new(0, task().with_scope(ctx.state()), &env, &hooks);
    let _ = m.alloc_pages(&rc, Gfp::KERNEL | Gfp::NOMEMALLOC | Gfp::NOWARN, 0);
    assert_eq!(
        hooks.reclaim_calls.get(),
        before,
        "no direct reclaim from PF_MEMALLOC"
    );
}

#[test]
fn noretry_tries_reclaim_once() {
    let m = at_min();
    let env = env();
    let hooks = Counting::default();
    hooks.reclaim_progress_calls.set(3);
    hooks.reclaimable.set(1 << 20);
    let c = cx(&env, &hooks, 0);
    assert!(m
        .alloc_pages(&c, Gfp::KERNEL | Gfp::NORETRY | Gfp::NOWARN, 0)
        .is_err());
    assert_eq!(hooks.reclaim_calls.get(), 1);
    hooks.reclaim_calls.set(0);
    assert!(m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOWARN, 0).is_err());
    // Two more calls with progress, then MAX_RECLAIM_RETRIES + 1 without.
    assert_eq!(
        hooks.reclaim_calls.get(),
        2 + gfp_mm::MAX_RECLAIM_RETRIES + 1
    );
}

#[test]
fn retry_mayfail_retries_costly_orders_and_avoids_oom() {
    let m = at_min();
    let env = env();
    let hooks = Counting::default();
    hooks.reclaimable.set(1 << 20);
    let c = cx(&env, &hooks, 0);
    assert!(m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOWARN, 4).is_err());
    assert_eq!(
        hooks.reclaim_calls.get(),
        1,
        "costly orders do not retry by default"
    );
    hooks.reclaim_calls.set(0);
    assert!(m
        .alloc_pages(&c, Gfp::KERNEL | Gfp::RETRY_MAYFAIL | Gfp::NOWARN, 4)
        .is_err());
    assert!(
        hooks.reclaim_calls.get() > 1,
        "RETRY_MAYFAIL keeps reclaiming"
    );
    hooks.reclaimable.set(0);
    assert!(m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOWARN, 0).is_err());
    assert_eq!(hooks.oom_calls.get(), 1);
    assert!(m
        .alloc_pages(&c, Gfp::KERNEL | Gfp::RETRY_MAYFAIL | Gfp::NOWARN, 0)
        .is_err());
    assert_eq!(
        hooks.oom_calls.get(),
        1,
        "RETRY_MAYFAIL never invokes the OOM killer"
    );
    assert!(m
        .alloc_pages(&c, Gfp::KERNEL | Gfp::THISNODE | Gfp::NOWARN, 0)
        .is_err());
    assert_eq!(hooks.oom_calls.get(), 1, "neither does THISNODE");
}

#[test]
fn io_allows_compaction() {
    let m = at_min();
    let env = env();
    let hooks = Counting::default();
    let c = cx(&env, &hooks, 0);
    assert!(m.alloc_pages(&c, Gfp::NOIO | Gfp::NOWARN, 2).is_err());
    assert_eq!(hooks.compact_calls.get(), 0);
    assert!(m.alloc_pages(&c, Gfp::NOFS | Gfp::NOWARN, 2).is_err());
    assert!(hooks.compact_calls.get() >= 1);
    // The same through a scope: memalloc_noio_save() removes __GFP_IO.
    hooks.compact_calls.set(0);
    let ctx = TaskContext::new();
    ctx.enter(ScopeChange::task(TaskFlags::MEMALLOC_NOIO))
        .unwrap();
    let sc = Cx::new(0, task().with_scope(ctx.state()), &env, &hooks);
    assert!(m.alloc_pages(&sc, Gfp::KERNEL | Gfp::NOWARN, 2).is_err());
    assert_eq!(hooks.compact_calls.get(), 0);
}

#[test]
fn fs_reaches_the_oom_hook_as_scoped() {
    struct SeeFs(std::cell::Cell<Option<bool>>);
    impl gfp_mm::SlowPathHooks for SeeFs {
        fn out_of_memory(
            &self,
            _m: &Machine,
            _cx: &Cx<'_>,
            oc: &gfp_mm::hooks::OomControl,
        ) -> bool {
            self.0.set(Some(oc.gfp.contains(Gfp::FS)));
            false
        }
    }
    let m = at_min();
    let env = env();
    let hooks = SeeFs(std::cell::Cell::new(None));
    let ctx = TaskContext::new();
    ctx.enter(ScopeChange::task(TaskFlags::MEMALLOC_NOFS))
        .unwrap();
    let c = Cx::new(0, task().with_scope(ctx.state()), &env, &hooks);
    let _ = m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOWARN, 0);
    assert_eq!(hooks.0.get(), Some(false));
    let c = Cx::new(0, task(), &env, &hooks);
    let _ = m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOWARN, 0);
    assert_eq!(hooks.0.get(), Some(true));
}

#[test]
fn nofail_rules_of_6_12() {
    let m = at_min();
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    // Without __GFP_DIRECT_RECLAIM: warned about, and fails.
    assert!(m.alloc_pages(&c, Gfp::NOWAIT | Gfp::NOFAIL, 0).is_err());
    assert!(
        env.log_text()
            .contains("__GFP_NOFAIL without __GFP_DIRECT_RECLAIM"),
        "{}",
        env.log_text()
    );
    // A blocking NOFAIL request succeeds where GFP_KERNEL fails: after the
    // OOM step it may dip into the reserves.
    assert!(m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOWARN, 0).is_err());
    let p = m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOFAIL, 0).unwrap();
    m.free_pages(&c, p, 0).unwrap();
    assert!(env
        .log_text()
        .contains("__GFP_NOFAIL and the OOM killer made no progress"));
    // Order > 1 is warned about once.
    let p = m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOFAIL, 2).unwrap();
    assert!(env.log_text().contains("__GFP_NOFAIL with order > 1"));
    m.free_pages(&c, p, 2).unwrap();
    let warnings = env.log_text().matches("order > 1").count();
    let _ = m
        .alloc_pages(&c, Gfp::KERNEL | Gfp::NOFAIL, 2)
        .map(|p| m.free_pages(&c, p, 2));
    assert_eq!(
        env.log_text().matches("order > 1").count(),
        warnings,
        "WARN_ON_ONCE"
    );
}

#[test]
fn thisnode_stays_on_the_node() {
    let m = machine(two_nodes());
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    let on1 = exhaust(&m, &c, Gfp::KERNEL | Gfp::THISNODE | Gfp::MEMALLOC);
    // Zone order of node 1 for GFP_KERNEL: its Normal zone only.
    assert!(
        on1.iter().all(|&p| m.page_to_nid(p) == Some(0)),
        "cpu 0 is on node 0"
    );
    let m = machine(two_nodes());
    let node1: Vec<_> = std::iter::from_fn(|| {
        m.alloc_pages_node(&c, 1, Gfp::KERNEL | Gfp::THISNODE | Gfp::NOWARN, 0)
            .ok()
    })
    .collect();
    assert!(node1.iter().all(|&p| m.page_to_nid(p) == Some(1)));
    assert!(m
        .alloc_pages_node(&c, 1, Gfp::KERNEL | Gfp::THISNODE | Gfp::NOWARN, 0)
        .is_err());
    let p = m.alloc_pages_node(&c, 1, Gfp::KERNEL, 0).unwrap();
    assert_eq!(
        m.page_to_nid(p),
        Some(0),
        "without THISNODE the request falls back to node 0"
    );
    assert!(m.event(Event::AllocFail) >= 1);
}

#[test]
fn zonelists_follow_distance() {
    let mut spec = MachineSpec::new(
        "three",
        vec![
            gfp_mm::NodeSpec::new(0, 0, 1024, 0, 0),
            gfp_mm::NodeSpec::new(0, 0, 1024, 0, 0),
            gfp_mm::NodeSpec::new(0, 0, 1024, 0, 0),
        ],
        1,
    );
    spec.distance = vec![vec![10, 40, 20], vec![40, 10, 20], vec![20, 20, 10]];
    let m = machine(spec);
    let nids: Vec<_> = m.zonelist(0).iter().map(|&z| m.zones()[z].nid()).collect();
    assert_eq!(nids, [0, 2, 1]);
    let two = machine(two_nodes());
    let names: Vec<_> = two
        .zonelist(0)
        .iter()
        .map(|&z| (two.zones()[z].nid(), two.zones()[z].zone_type()))
        .collect();
    use ZoneType::*;
    assert_eq!(
        names,
        [
            (0, Movable),
            (0, Normal),
            (0, Dma32),
            (0, Dma),
            (1, Movable),
            (1, Normal)
        ]
    );
    assert_eq!(two.zonelist_nofallback(1).len(), 2);
}

#[test]
fn lowmem_reserve_protects_dma_from_normal_requests() {
    let m = machine(two_nodes());
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    let _kept = exhaust(&m, &c, Gfp::KERNEL | Gfp::THISNODE);
    let dma = m.zone(0, ZoneType::Dma).unwrap();
    let protect = dma.lowmem_reserve(ZoneType::Normal as usize);
    assert_eq!(protect, (3072 + 2048) / 256);
    assert!(dma.free_pages() as u64 > dma.watermark(0) + protect - 1);
    // A DMA request is not held back by the protection meant for Normal ones.
    let p = m.alloc_pages(&c, Gfp::KERNEL | Gfp::DMA, 0).unwrap();
    assert_eq!(m.page_zone_type(p), Some(ZoneType::Dma));
}

/// With cpusets in use the per-CPU fast path steps aside for every mask,
/// the empty one too: a task confined to node 1, running on a node-0 CPU,
/// gets node-1 pages whatever its mask (`prepare_alloc_pages()` sets
/// `__GFP_HARDWALL` and the task's `mems_allowed` for the first attempt).
#[test]
fn cpusets_hold_every_mask_to_mems_allowed() {
    let m = machine(two_nodes());
    let env = env();
    let tight = m
        .create_cpuset(CpusetId::ROOT, "tight", NodeMask::single(1), true, false)
        .unwrap();
    let mut t = task();
    m.attach_cpuset(&mut t, tight).unwrap();
    let c = Cx::new(0, t, &env, &NoProgress);
    assert_eq!(m.cpu_to_node(0), 0);
    for gfp in [Gfp::EMPTY, Gfp::KERNEL, Gfp::NOWAIT, Gfp::HIGHUSER_MOVABLE] {
        let pages: Vec<_> = (0..200)
            .map(|_| m.alloc_pages(&c, gfp, 0).unwrap())
            .collect();
        let off = pages
            .iter()
            .filter(|&&p| m.page_to_nid(p) != Some(1))
            .count();
        assert_eq!(off, 0, "{gfp:?}: pages outside mems_allowed");
        for p in pages {
            m.free_pages(&c, p, 0).unwrap();
        }
    }
}

#[test]
fn hardwall_and_cpuset_ancestors() {
    let m = machine(two_nodes());
    let env = env();
    let root = cx(&env, &NoProgress, 1);
    // Use up node 1 entirely.
    let _node1 = exhaust(&m, &root, Gfp::KERNEL | Gfp::THISNODE | Gfp::MEMALLOC);
    let wall = m
        .create_cpuset(CpusetId::ROOT, "wall", NodeMask::first(2), true, false)
        .unwrap();
    let leaf = m
        .create_cpuset(wall, "leaf", NodeMask::single(1), false, false)
        .unwrap();
    let tight = m
        .create_cpuset(CpusetId::ROOT, "tight", NodeMask::single(1), true, false)
        .unwrap();
    let tleaf = m
        .create_cpuset(tight, "tleaf", NodeMask::single(1), false, false)
        .unwrap();
    let mut t = task();
    m.attach_cpuset(&mut t, leaf).unwrap();
    let c = Cx::new(1, t, &env, &NoProgress);
    assert!(
        m.alloc_pages(&c, Gfp::USER | Gfp::NOWARN, 0).is_err(),
        "GFP_USER is held to mems_allowed"
    );
    let p = m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    assert_eq!(
        m.page_to_nid(p),
        Some(0),
        "non-hardwall requests may use the hardwall ancestor's nodes"
    );
    let mut t2 = task();
    m.attach_cpuset(&mut t2, tleaf).unwrap();
    let c2 = Cx::new(1, t2, &env, &NoProgress);
    assert!(m.alloc_pages(&c2, Gfp::KERNEL | Gfp::NOWARN, 0).is_err());
    let log = env.log_lines();
    assert!(log
        .iter()
        .all(|(_, l)| !l.contains("page allocation failure")));
    // GFP_ATOMIC ignores the cpuset rather than fail.
    let p = m.alloc_pages(&c2, Gfp::ATOMIC, 0).unwrap();
    assert_eq!(m.page_to_nid(p), Some(0));
    // The failure report names the cpuset.
    assert!(m.alloc_pages(&c2, Gfp::KERNEL, 0).is_err());
    let text = env.log_text();
    assert!(text.contains(",cpuset=tleaf,mems_allowed=1"), "{text}");
}

#[test]
fn write_spreads_dirty_pages() {
    let m = machine(two_nodes());
    let env = env();
    let c = cx(&env, &NoProgress, 1);
    let mut dirty = Vec::new();
    for _ in 0..2000 {
        let p = m.alloc_pages_node(&c, 1, Gfp::KERNEL, 0).unwrap();
        assert!(m.set_page_dirty(&c, p).unwrap());
        dirty.push(p);
    }
    assert_eq!(m.node_dirty_pages(1), 2000);
    assert!(!m.node_dirty_ok(1, &c.task));
    let plain = m.alloc_pages_node(&c, 1, Gfp::KERNEL, 0).unwrap();
    assert_eq!(m.page_to_nid(plain), Some(1));
    let w = m
        .alloc_pages_node(&c, 1, Gfp::KERNEL | Gfp::WRITE, 0)
        .unwrap();
    assert_eq!(
        m.page_to_nid(w),
        Some(0),
        "__GFP_WRITE avoids the node over its dirty limit"
    );
    assert!(m.event(Event::DirtySpread) >= 1);
    // Freeing a dirty page takes it off the count; clearing works too.
    m.free_pages(&c, dirty.pop().unwrap(), 0).unwrap();
    assert!(m.clear_page_dirty(&c, dirty[0]).unwrap());
    assert_eq!(m.node_dirty_pages(1), 1998);
    // With every node over its limit the slow path ignores the limits.
    m.set_dirty_ratio(0);
    let d0 = m.alloc_pages_node(&c, 0, Gfp::KERNEL, 0).unwrap();
    m.set_page_dirty(&c, d0).unwrap();
    let w = m
        .alloc_pages_node(&c, 1, Gfp::KERNEL | Gfp::WRITE, 0)
        .unwrap();
    assert_eq!(m.page_to_nid(w), Some(1));
}

#[test]
fn zero_and_init_on_alloc_zero_the_memory() {
    let m = machine(single_zone(1024));
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    let fill = |p| {
        let ptr = m.page_ptr(p).unwrap();
        // SAFETY: the page is allocated by this test and no one else uses it.
        unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0xaa, PAGE_SIZE) };
    };
    let is_zero = |p| {
        let ptr = m.page_ptr(p).unwrap();
        // SAFETY: as above.
        let s = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), PAGE_SIZE) };
        s.iter().all(|&b| b == 0)
    };
    let p = m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    fill(p);
    m.free_pages(&c, p, 0).unwrap();
    let q = m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    assert_eq!(q, p, "the per-CPU list hands back the page just freed");
    assert!(!is_zero(q), "no zeroing without __GFP_ZERO");
    m.free_pages(&c, q, 0).unwrap();
    let q = m.alloc_pages(&c, Gfp::KERNEL | Gfp::ZERO, 0).unwrap();
    assert_eq!(q, p);
    assert!(is_zero(q));
    fill(q);
    m.free_pages(&c, q, 0).unwrap();
    // Without memory tags, SKIP_ZERO does not skip; ZEROTAGS and
    // SKIP_KASAN change nothing.
    let q = m
        .alloc_pages(
            &c,
            Gfp::KERNEL | Gfp::ZERO | Gfp::SKIP_ZERO | Gfp::ZEROTAGS | Gfp::SKIP_KASAN,
            0,
        )
        .unwrap();
    assert!(is_zero(q));
    fill(q);
    m.free_pages(&c, q, 0).unwrap();
    m.set_init_on_alloc(true);
    let q = m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    assert_eq!(q, p);
    assert!(is_zero(q), "init_on_alloc zeroes every allocation");
    // Whole high-order blocks are zeroed.
    m.set_init_on_alloc(false);
    let big = m.alloc_pages(&c, Gfp::KERNEL, 3).unwrap();
    for i in 0..8 {
        fill(big.nth(i));
    }
    m.free_pages(&c, big, 3).unwrap();
    let big2 = m.get_zeroed_page(&c, Gfp::KERNEL).unwrap();
    assert!(is_zero(big2));
    let big3 = m.alloc_pages(&c, Gfp::KERNEL | Gfp::ZERO, 3).unwrap();
    assert!((0..8).all(|i| is_zero(big3.nth(i))));
}

#[test]
fn comp_builds_compound_pages() {
    let m = machine(single_zone(1024));
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    let head = m.folio_alloc(&c, Gfp::KERNEL, 2).unwrap();
    assert!(m.page_is_head(head));
    assert_eq!(m.compound_order(head), 2);
    for i in 1..4 {
        let t = head.nth(i);
        assert!(m.page_is_tail(t));
        assert_eq!(m.compound_head(t), Some(head));
        let e = m.free_pages(&c, t, 0).unwrap_err();
        assert_eq!(e.reason, BadPageReason::TailPage { head: head.pfn() });
    }
    m.folio_put(&c, head).unwrap();
    // Without __GFP_COMP: no head, no compound tails, and folio_put refuses.
    let plain = m.alloc_pages(&c, Gfp::KERNEL, 2).unwrap();
    assert!(!m.page_is_head(plain));
    assert_eq!(m.compound_order(plain), 0);
    assert!(!m.page_is_tail(plain.nth(1)));
    assert_eq!(m.compound_head(plain.nth(1)), Some(plain.nth(1)));
    assert_eq!(m.page_state(plain.nth(1)).unwrap().kind(), FrameKind::Tail);
    assert_eq!(
        m.folio_put(&c, plain).unwrap_err().reason,
        BadPageReason::NotCompound { order: 2 }
    );
    m.free_pages(&c, plain, 2).unwrap();
    m.check_invariants().unwrap();
}

#[test]
fn nowarn_silences_the_failure_report_which_is_rate_limited() {
    let m = at_min();
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    assert!(m.alloc_pages(&c, Gfp::NOWAIT, 0).is_err());
    assert!(
        env.log_lines().is_empty(),
        "GFP_NOWAIT includes __GFP_NOWARN"
    );
    assert!(m.alloc_pages(&c, Gfp::ATOMIC - Gfp::HIGH, 0).is_err());
    let lines = env.log_lines();
    assert_eq!(lines[0].0, LogLevel::Warning);
    assert_eq!(
        lines[0].1,
        "test: page allocation failure: order:0, mode:0x800(__GFP_KSWAPD_RECLAIM), nodemask=(null),cpuset=/,mems_allowed=0"
    );
    let text = env.log_text();
    assert!(text.contains("\nMem-Info:\n"), "{text}");
    assert!(
        text.contains("Node 0 Normal free:512kB boost:0kB min:512kB"),
        "{text}"
    );
    assert!(text.contains("lowmem_reserve[]: 0 0 0 0 0"), "{text}");
    assert!(text.contains("pages RAM"));
    // A second failure within 10 s is suppressed, and counted.
    env.clear_log();
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_err());
    assert!(env.log_lines().is_empty());
    env.advance(10_000_000_000);
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_err());
    let text = env.log_text();
    assert!(
        text.contains("warn_alloc: 1 callbacks suppressed"),
        "{text}"
    );
    assert!(text.contains("mode:0xcc0(GFP_KERNEL)"));
}

#[test]
fn highatomic_reserve_is_made_kept_and_given_back() {
    let m = machine(single_zone(4096));
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    let z = &m.zones()[0];
    // Only the slow path reserves: bring the zone down to its min mark.
    let _nowait = exhaust(&m, &c, Gfp::NOWAIT);
    assert_eq!(z.reserved_highatomic(), 0);
    let a = m.alloc_pages(&c, Gfp::ATOMIC, 1).unwrap();
    assert_eq!(z.reserved_highatomic(), 32, "one pageblock of 32 pages");
    assert_eq!(m.event(Event::HighatomicReserve), 1);
    // Order-0 atomic-less requests cannot use it...
    assert!(m.alloc_pages(&c, Gfp::NOWAIT, 1).is_err());
    assert_eq!(z.reserved_highatomic(), 32);
    // ...high-order atomic ones can.
    let b = m.alloc_pages(&c, Gfp::ATOMIC, 1).unwrap();
    // GFP_KERNEL's retry loop gives the reserve back before failing.
    let _rest = exhaust(&m, &c, Gfp::KERNEL);
    assert!(m.event(Event::HighatomicUnreserve) >= 1);
    assert_eq!(z.reserved_highatomic(), 0);
    m.free_pages(&c, a, 1).unwrap();
    m.free_pages(&c, b, 1).unwrap();
    m.check_invariants().unwrap();
}

#[test]
fn pin_scope_keeps_pages_out_of_zone_movable() {
    let m = machine(two_nodes());
    let env = env();
    let ctx = TaskContext::new();
    ctx.enter(ScopeChange::task(TaskFlags::MEMALLOC_PIN))
        .unwrap();
    let c = Cx::new(0, task().with_scope(ctx.state()), &env, &NoProgress);
    let p = m.alloc_pages(&c, Gfp::HIGHUSER_MOVABLE, 0).unwrap();
    assert_eq!(m.page_zone_type(p), Some(ZoneType::Normal));
}

#[test]
fn accepted_flags_without_effect_here() {
    // __GFP_ACCOUNT (memcg: next layer), __GFP_NOLOCKDEP, __GFP_NO_OBJ_EXT
    // and __GFP_HARDWALL without cpusets are accepted and change nothing.
    let m = machine(two_nodes());
    let env = env();
    let c = cx(&env, &NoProgress, 0);
    for g in [Gfp::ACCOUNT, Gfp::NOLOCKDEP, Gfp::NO_OBJ_EXT, Gfp::HARDWALL] {
        let p = m.alloc_pages(&c, Gfp::KERNEL | g, 0).unwrap();
        assert_eq!(m.page_zone_type(p), Some(ZoneType::Normal));
        m.free_pages(&c, p, 0).unwrap();
    }
}
