//! Watermarks, reserves and the reports, against the kernel's formulas.

mod common;

use common::*;
use gfp::zone::ZoneType;
use gfp::Gfp;
use gfp_mm::{default_min_free_kbytes, Cx, MachineSpec, NoProgress, ZoneEvent};

#[test]
fn watermarks_and_reserves_follow_the_kernel() {
    let m = machine(MachineSpec::default_machine());
    // Low memory: DMA 16 + DMA32 48 + Normal 32 + Normal 112 MiB.
    let lowmem_kb = (16 + 48 + 32 + 112) * 1024;
    assert_eq!(default_min_free_kbytes(lowmem_kb), 1846);
    assert_eq!(m.min_free_kbytes(), 1846);
    let pages_min = 1846 / 4;
    let lowmem_pages = lowmem_kb / 4;
    let n1 = m.zone(1, ZoneType::Normal).unwrap();
    let tmp = pages_min * n1.managed_pages() / lowmem_pages;
    let step = (tmp / 4).max(n1.managed_pages() * 10 / 10_000);
    assert_eq!(
        [n1.watermark(0), n1.watermark(1), n1.watermark(2)],
        [tmp, tmp + step, tmp + 2 * step]
    );
    // Movable zones get a small capped min, but the full steps.
    let mv = m.zone(1, ZoneType::Movable).unwrap();
    let tmp = pages_min * mv.managed_pages() / lowmem_pages;
    let step = (tmp / 4).max(mv.managed_pages() * 10 / 10_000);
    assert_eq!(mv.watermark(0), (mv.managed_pages() / 1024).clamp(32, 128));
    assert_eq!(mv.watermark(1), mv.watermark(0) + step);
    // lowmem_reserve: the pages of the zones above, divided by the ratio.
    let dma = m.zone(0, ZoneType::Dma).unwrap();
    let (dma32, normal, movable) = (12288, 8192, 4096);
    let r: Vec<u64> = (0..5).map(|i| dma.lowmem_reserve(i)).collect();
    assert_eq!(
        r,
        [
            0,
            dma32 / 256,
            (dma32 + normal) / 256,
            (dma32 + normal) / 256,
            (dma32 + normal + movable) / 256
        ]
    );
    let n0 = m.zone(0, ZoneType::Normal).unwrap();
    assert_eq!(n0.lowmem_reserve(ZoneType::Movable as usize), movable / 32);
    // Changing min_free_kbytes recomputes the marks.
    m.set_min_free_kbytes(4 * 1846);
    assert!(n1.watermark(0) >= 4 * (n1.watermark(0) / 4) && n1.watermark(0) > tmp);
    assert!(m.node_totalreserve_pages(1) >= n1.watermark(2));
}

#[test]
fn reports_show_the_state() {
    let m = machine(MachineSpec::default_machine());
    let env = env();
    let c = Cx::new(2, task(), &env, &NoProgress);
    let pages: Vec<_> = (0..100)
        .map(|_| m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap())
        .collect();
    let n0 = m.zone(0, ZoneType::Normal).unwrap();
    assert_eq!(m.zone_event(n0.id(), ZoneEvent::PgAlloc), 100);
    let vm = m.vmstat();
    let get = |k: &str| vm.iter().find(|(n, _)| n == k).map(|(_, v)| *v).unwrap();
    assert_eq!(get("pgalloc_normal"), 100);
    assert_eq!(get("numa_hit"), 100);
    assert_eq!(get("numa_local"), 100);
    let zi = m.zoneinfo_text();
    assert!(
        zi.contains("Node 0, zone      DMA\n  pages free     4096\n"),
        "{zi}"
    );
    assert!(
        zi.contains("        protection: (0, 48, 80, 80, 96)"),
        "{zi}"
    );
    let bi = m.buddyinfo_text();
    assert!(bi.starts_with("Node 0, zone      DMA      0"), "{bi}");
    assert_eq!(bi.lines().count(), 6);
    let info = m.zoneinfo();
    assert_eq!(info.iter().map(|z| z.free_pcp).sum::<u64>(), 63 - 100 % 63);
    for p in pages {
        m.free_pages(&c, p, 0).unwrap();
    }
    assert_eq!(get("pgfree"), 0, "vmstat is a snapshot");
    let vm = m.vmstat();
    assert_eq!(vm.iter().find(|(n, _)| n == "pgfree").unwrap().1, 100);
    let lines = m.show_mem_lines(None, ZoneType::Movable);
    assert_eq!(lines[0], "Mem-Info:");
    assert!(lines.iter().any(|l| l.starts_with("Node 1 Normal: ")));
}

#[test]
fn high_orders_need_a_free_block_not_just_free_pages() {
    let m = machine(single_zone(1024));
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let all = exhaust(&m, &c, Gfp::KERNEL | Gfp::MEMALLOC);
    // Free every other page: half the zone free, no two free buddies.
    for p in all.iter().step_by(2) {
        m.free_pages(&c, *p, 0).unwrap();
    }
    m.drain_all_pages();
    let z = &m.zones()[0];
    assert!(z.free_pages() as u64 > 4 * z.watermark(2));
    assert!(m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOWARN, 1).is_err());
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_ok());
    m.check_invariants().unwrap();
}
