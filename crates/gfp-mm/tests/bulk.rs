//! The batch interfaces: `alloc_pages_bulk()` and `free_pages_bulk()`.
//! Each test fails if the bulk path skipped a rule its single call keeps.

mod common;

use common::*;
use gfp::context::{ScopeChange, TaskContext};
use gfp::zone::{MigrateType, ZoneType};
use gfp::{Gfp, TaskFlags};
use gfp_mm::{
    BadPageReason, CpusetId, Cx, Event, FrameKind, Machine, MachineSpec, NoProgress, NodeMask,
    Page, ZoneEvent, PAGE_SIZE,
};

fn cx<'a>(env: &'a gfp_mm::VirtualEnv, cpu: usize) -> Cx<'a> {
    Cx::new(cpu, task(), env, &NoProgress)
}

/// The two-node test machine with per-CPU lists big enough for a batch.
fn roomy() -> MachineSpec {
    let mut s = MachineSpec::test_64mib();
    s.tunables.pcp_batch = Some(8);
    s.tunables.pcp_high = Some(256);
    s
}

fn counters(m: &Machine, zone: usize) -> [u64; 5] {
    [
        m.zone_event(zone, ZoneEvent::PgAlloc),
        m.zone_event(zone, ZoneEvent::NumaHit),
        m.zone_event(zone, ZoneEvent::NumaLocal),
        m.event(Event::PcpRefill),
        m.event(Event::PgFree),
    ]
}

#[test]
fn a_bulk_allocation_is_the_single_calls_in_one() {
    // Two identical machines: one serves 40 single calls, the other one
    // bulk call of 40. Same blocks, in the same order, same counters.
    let env = env();
    for (gfp, order) in [
        (Gfp::KERNEL, 0),
        (Gfp::HIGHUSER_MOVABLE, 0),
        (Gfp::KERNEL, 2),
    ] {
        let (single, bulk) = (machine(roomy()), machine(roomy()));
        let c = cx(&env, 0);
        let one: Vec<Page> = (0..40)
            .map(|_| single.alloc_pages(&c, gfp, order).unwrap())
            .collect();
        let mut many = vec![None; 40];
        assert_eq!(bulk.alloc_pages_bulk(&c, gfp, order, &mut many), 40);
        let many: Vec<Page> = many.into_iter().map(Option::unwrap).collect();
        let pfns = |v: &[Page]| v.iter().map(|p| p.pfn()).collect::<Vec<_>>();
        assert_eq!(pfns(&one), pfns(&many), "{gfp:?} order {order}");
        let zone = single.page_zone_id(one[0]).unwrap();
        assert_eq!(counters(&single, zone), counters(&bulk, zone));
        assert_eq!(
            bulk.zone_event(zone, ZoneEvent::PgAlloc),
            40 << order,
            "every block counted"
        );
        for p in &many {
            let s = bulk.page_state(*p).unwrap();
            assert_eq!((s.kind(), s.order()), (FrameKind::Allocated, order));
        }
        // And the bulk free matches the single frees.
        for p in &one {
            single.free_pages(&c, *p, order).unwrap();
        }
        bulk.free_pages_bulk(&c, many.iter().copied(), order)
            .unwrap();
        assert_eq!(counters(&single, zone), counters(&bulk, zone));
        assert_eq!(single.cpu_pcp_pages(0, zone), bulk.cpu_pcp_pages(0, zone));
        assert_eq!(single.buddyinfo(), bulk.buddyinfo());
        bulk.check_invariants().unwrap();
    }
}

#[test]
fn filled_entries_are_kept_and_the_count_is_the_index_reached() {
    let m = machine(roomy());
    let env = env();
    let c = cx(&env, 0);
    let a = m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    let b = m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    let mut pages = vec![Some(a), None, None, Some(b), None];
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 0, &mut pages), 5);
    assert_eq!((pages[0], pages[3]), (Some(a), Some(b)));
    let mut seen: Vec<u32> = pages.iter().map(|p| p.unwrap().pfn()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 5, "no block handed out twice");
    // A full array returns at once; one hole takes the single path.
    let before = m.zone_event(m.page_zone_id(a).unwrap(), ZoneEvent::PgAlloc);
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 0, &mut pages), 5);
    pages[4] = None;
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 0, &mut pages), 5);
    assert!(pages[4].is_some());
    assert_eq!(
        m.zone_event(m.page_zone_id(a).unwrap(), ZoneEvent::PgAlloc),
        before + 1
    );
}

#[test]
fn the_watermark_must_leave_room_for_the_whole_array() {
    let m = machine(single_zone(4096));
    let env = env();
    let c = cx(&env, 0);
    let z = &m.zones()[0];
    let low = z.watermark(1) as i64;
    let mut held = Vec::new();
    while z.free_pages() > low + 40 {
        held.push(m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap());
    }
    // Above the low watermark, but not by 64 pages: one block, the
    // single way.
    let mut pages = vec![None; 64];
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 0, &mut pages), 1);
    assert!(pages[1..].iter().all(Option::is_none));
    // Room for 16: all of them.
    let mut pages = vec![None; 16];
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 0, &mut pages), 16);
    m.check_invariants().unwrap();
}

#[test]
fn remote_zones_are_left_to_the_single_call() {
    let m = machine(roomy());
    let env = env();
    let c = cx(&env, 0);
    assert_eq!(m.cpu_to_node(0), 0);
    // Node 0 down to its watermarks.
    while m
        .alloc_pages_node(&c, 0, Gfp::KERNEL | Gfp::THISNODE | Gfp::NOWARN, 0)
        .is_ok()
    {}
    let mut pages = vec![None; 32];
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 0, &mut pages), 1);
    assert_eq!(m.page_to_nid(pages[0].unwrap()), Some(1));
    // Asked for node 1, the bulk path serves it from there.
    let mut pages = vec![None; 32];
    assert_eq!(
        m.alloc_pages_bulk_nodemask(&c, Gfp::KERNEL, 0, Some(1), None, &mut pages),
        32
    );
    assert!(pages.iter().all(|p| m.page_to_nid(p.unwrap()) == Some(1)));
    m.check_invariants().unwrap();
}

#[test]
fn zero_comp_migratetype_and_init_on_alloc_hold_per_block() {
    let m = machine(roomy());
    let env = env();
    let c = cx(&env, 0);
    let dirty_up = |p: Page, order: u32| {
        let ptr = m.page_ptr(p).unwrap();
        // SAFETY: the block is allocated by this test and no one else uses it.
        unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0xaa, PAGE_SIZE << order) };
    };
    let is_zero = |p: Page, order: u32| {
        let ptr = m.page_ptr(p).unwrap();
        // SAFETY: as above.
        let s = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), PAGE_SIZE << order) };
        s.iter().all(|&b| b == 0)
    };
    // The blocks, sorted: the lists hand back the last freed first.
    let take = |gfp: Gfp, order: u32| {
        let mut v = vec![None; 8];
        assert_eq!(m.alloc_pages_bulk(&c, gfp, order, &mut v), 8);
        let mut v = v.into_iter().map(Option::unwrap).collect::<Vec<_>>();
        v.sort();
        v
    };
    for order in [0, 3] {
        let pages = take(Gfp::KERNEL, order);
        pages.iter().for_each(|&p| dirty_up(p, order));
        m.free_pages_bulk(&c, pages.iter().copied(), order).unwrap();
        let again = take(Gfp::KERNEL, order);
        assert_eq!(again, pages, "the lists hand back what was freed");
        assert!(
            again.iter().all(|&p| !is_zero(p, order)),
            "no zeroing asked"
        );
        m.free_pages_bulk(&c, again.iter().copied(), order).unwrap();
        let zeroed = take(Gfp::KERNEL | Gfp::ZERO, order);
        assert_eq!(zeroed, pages);
        assert!(zeroed.iter().all(|&p| is_zero(p, order)), "__GFP_ZERO");
        zeroed.iter().for_each(|&p| dirty_up(p, order));
        m.free_pages_bulk(&c, zeroed.iter().copied(), order)
            .unwrap();
        m.set_init_on_alloc(true);
        let init = take(Gfp::KERNEL, order);
        assert!(init.iter().all(|&p| is_zero(p, order)), "init_on_alloc");
        m.set_init_on_alloc(false);
        m.free_pages_bulk(&c, init.iter().copied(), order).unwrap();
    }
    let folios = take(Gfp::KERNEL | Gfp::COMP, 2);
    for &f in &folios {
        assert!(m.page_is_head(f));
        assert_eq!(m.compound_order(f), 2);
        assert!((1..4).all(|i| m.compound_head(f.nth(i)) == Some(f)));
    }
    let plain = take(Gfp::KERNEL, 2);
    assert!(plain.iter().all(|&p| !m.page_is_head(p)));
    let movable = take(Gfp::HIGHUSER_MOVABLE, 0);
    for &p in &movable {
        assert_eq!(m.page_zone_type(p), Some(ZoneType::Movable));
        assert_eq!(
            m.page_state(p).unwrap().alloc_migratetype(),
            MigrateType::Movable
        );
    }
    let reclaimable = take(Gfp::KERNEL | Gfp::RECLAIMABLE, 0);
    for &p in &reclaimable {
        assert_eq!(
            m.page_state(p).unwrap().alloc_migratetype(),
            MigrateType::Reclaimable
        );
    }
    m.check_invariants().unwrap();
}

#[test]
fn scopes_and_cpusets_apply() {
    let m = machine(roomy());
    let env = env();
    // memalloc_pin_save(): no ZONE_MOVABLE, even for a movable mask.
    let ctx = TaskContext::new();
    ctx.enter(ScopeChange::task(TaskFlags::MEMALLOC_PIN))
        .unwrap();
    let c = Cx::new(0, task().with_scope(ctx.state()), &env, &NoProgress);
    let mut pages = vec![None; 16];
    assert_eq!(
        m.alloc_pages_bulk(&c, Gfp::HIGHUSER_MOVABLE, 0, &mut pages),
        16
    );
    assert!(pages
        .iter()
        .all(|p| m.page_zone_type(p.unwrap()) == Some(ZoneType::Normal)));
    // A task in a cpuset of node 1 on a CPU of node 0.
    let tight = m
        .create_cpuset(CpusetId::ROOT, "tight", NodeMask::single(1), true, false)
        .unwrap();
    let mut t = task();
    m.attach_cpuset(&mut t, tight).unwrap();
    let c = Cx::new(0, t, &env, &NoProgress);
    for gfp in [Gfp::KERNEL, Gfp::NOWAIT, Gfp::HIGHUSER_MOVABLE] {
        let mut pages = vec![None; 24];
        let got = m.alloc_pages_bulk(&c, gfp, 0, &mut pages);
        assert!(got >= 1);
        assert!(
            pages[..got]
                .iter()
                .all(|p| m.page_to_nid(p.unwrap()) == Some(1)),
            "{gfp:?}: pages outside mems_allowed"
        );
    }
}

#[test]
fn bad_requests_get_the_single_calls_answer() {
    let m = machine(roomy());
    let env = env();
    let c = cx(&env, 0);
    let mut pages = vec![None; 8];
    // A bad zone combination, an order above MAX_PAGE_ORDER, no such node:
    // nothing allocated.
    let bad_zone = Gfp::KERNEL | Gfp::DMA | Gfp::HIGHMEM;
    assert_eq!(m.alloc_pages_bulk(&c, bad_zone, 0, &mut pages), 0);
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 11, &mut pages), 0);
    assert_eq!(
        m.alloc_pages_bulk_nodemask(&c, Gfp::KERNEL, 0, Some(9), None, &mut pages),
        0
    );
    assert!(pages.iter().all(Option::is_none));
    // Above the per-CPU orders: one block per call.
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 5, &mut pages), 1);
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 5, &mut pages), 2);
    let big: Vec<Page> = pages.iter().flatten().copied().collect();
    let free_before = m.nr_free_pages();
    m.free_pages_bulk(&c, big, 5).unwrap();
    assert_eq!(
        m.nr_free_pages(),
        free_before + 64,
        "straight to the buddy lists"
    );
    m.check_invariants().unwrap();
}

#[test]
fn a_bulk_free_frees_every_good_page_and_reports_every_bad_one() {
    let m = machine(roomy());
    let other = machine(roomy());
    let env = env();
    let c = cx(&env, 0);
    let mut pages = vec![None; 10];
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 0, &mut pages), 10);
    let p: Vec<Page> = pages.iter().map(|x| x.unwrap()).collect();
    let folio = m.folio_alloc(&c, Gfp::KERNEL, 1).unwrap();
    let foreign = other.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    m.free_pages(&c, p[9], 0).unwrap();
    m.set_page_dirty(&c, p[2]).unwrap();
    let batch = vec![
        p[0],
        p[1],
        p[9],    // freed already
        p[2],    // dirty: its own call, freed
        foreign, // another allocator's
        p[3],
        folio.nth(1), // a tail
        p[3],         // freed twice in one batch
        p[4],
        Page::from_raw(m.id(), u32::MAX), // outside the machine
        p[5],
    ];
    let bad_before = m.event(Event::BadPage);
    let dirty_before = m.node_dirty_pages(0);
    let first = m.free_pages_bulk(&c, batch, 0).unwrap_err();
    assert_eq!(first.reason, BadPageReason::NotAllocated);
    assert_eq!(first.pfn, p[9].pfn());
    assert_eq!(
        m.event(Event::BadPage) - bad_before,
        5,
        "each bad page reported"
    );
    assert_eq!(
        m.node_dirty_pages(0),
        dirty_before - 1,
        "the dirty page was undirtied"
    );
    for &good in &[p[0], p[1], p[2], p[3], p[4], p[5]] {
        assert_ne!(m.page_state(good).unwrap().kind(), FrameKind::Allocated);
    }
    for &kept in &[p[6], p[7], p[8]] {
        assert_eq!(m.page_state(kept).unwrap().kind(), FrameKind::Allocated);
    }
    assert!(
        m.page_is_head(folio),
        "a tail's free leaves the folio alone"
    );
    let counts = m.check_invariants().unwrap();
    assert_eq!(counts.allocated, 3 + 2, "p6..p8 and the folio");
    assert_eq!(other.check_invariants().unwrap().allocated, 1);
}

#[test]
fn a_bulk_free_trims_the_lists_at_their_high_mark() {
    // Batch 1, high 4: a bulk free of 16 pages flushes as the single
    // frees would.
    let m = machine(single_zone(1024));
    let env = env();
    let c = cx(&env, 0);
    let mut pages = vec![None; 16];
    assert_eq!(m.alloc_pages_bulk(&c, Gfp::KERNEL, 0, &mut pages), 16);
    let flushes = m.event(Event::PcpFlush);
    m.free_pages_bulk(&c, pages.iter().flatten().copied(), 0)
        .unwrap();
    assert!(m.cpu_pcp_pages(0, 0) < 4);
    assert!(m.event(Event::PcpFlush) > flushes);
    m.check_invariants().unwrap();
}

#[test]
fn the_runtime_entry_points_round_trip_on_bound_threads() {
    let mm = gfp_mm::rt::Mm::new(roomy()).unwrap();
    std::thread::scope(|s| {
        for cpu in 0..2 {
            let mm = &mm;
            s.spawn(move || {
                gfp_mm::rt::bind_current_thread(cpu);
                let mut pages = vec![None; 64];
                for _ in 0..200 {
                    assert_eq!(mm.alloc_pages_bulk(Gfp::KERNEL, 0, &mut pages), 64);
                    mm.free_pages_bulk(pages.iter_mut().filter_map(Option::take), 0)
                        .unwrap();
                }
            });
        }
    });
    let counts = mm.machine().check_invariants().unwrap();
    assert_eq!(counts.allocated, 0);
    assert_eq!(
        mm.machine().event(Event::PgFree),
        2 * 200 * 64,
        "every page freed counted once"
    );
}
