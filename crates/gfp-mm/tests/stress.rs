//! Threaded tests of the std runtime: more threads than CPUs allocating,
//! freeing each other's pages and draining, with the invariants checked
//! throughout and at the end; racing double frees; a `__GFP_NOFAIL`
//! request that waits for memory; thread-local scopes.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use common::*;
use gfp::zone::ZoneType;
use gfp::Gfp;
use gfp_mm::rt::{MemorySink, Mm};
use gfp_mm::{Machine, NoProgress, Page};

fn mm() -> Mm {
    Mm::with(
        two_nodes(),
        Box::new(MemorySink::new()),
        Box::new(NoProgress),
    )
    .unwrap()
}

/// A tiny deterministic generator per thread.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn threads_allocate_and_free_across_cpus() {
    let mm = mm();
    let owned = Mutex::new(HashSet::<u32>::new());
    let exchange = Mutex::new(Vec::<(Page, u32)>::new());
    let threads = 4;
    let ops = 6000;
    std::thread::scope(|s| {
        for t in 0..threads {
            let (mm, owned, exchange) = (&mm, &owned, &exchange);
            s.spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
                let mut mine: Vec<(Page, u32)> = Vec::new();
                let masks = [
                    Gfp::KERNEL,
                    Gfp::ATOMIC,
                    Gfp::HIGHUSER_MOVABLE,
                    Gfp::KERNEL | Gfp::COMP,
                ];
                for i in 0..ops {
                    let r = rng.next();
                    if r % 3 != 0 || mine.is_empty() {
                        let order = [0, 0, 0, 1, 2, 3, 4][(r >> 8) as usize % 7];
                        let gfp = masks[(r >> 16) as usize % masks.len()] | Gfp::NOWARN;
                        if let Ok(p) = mm.alloc_pages(gfp, order) {
                            let mut o = owned.lock().unwrap();
                            for pfn in p.pfn()..p.pfn() + (1 << order) {
                                assert!(o.insert(pfn), "pfn {pfn:#x} handed out twice");
                            }
                            drop(o);
                            mine.push((p, order));
                        }
                    } else {
                        let (p, order) = mine.swap_remove((r >> 8) as usize % mine.len());
                        if r % 5 == 0 {
                            // Let another thread (another CPU) free it.
                            exchange.lock().unwrap().push((p, order));
                        } else {
                            let mut o = owned.lock().unwrap();
                            for pfn in p.pfn()..p.pfn() + (1 << order) {
                                assert!(o.remove(&pfn));
                            }
                            drop(o);
                            mm.free_pages(p, order).unwrap();
                        }
                    }
                    if i % 97 == 0 {
                        let theirs: Vec<_> = exchange.lock().unwrap().drain(..).collect();
                        for (p, order) in theirs {
                            let mut o = owned.lock().unwrap();
                            for pfn in p.pfn()..p.pfn() + (1 << order) {
                                assert!(o.remove(&pfn));
                            }
                            drop(o);
                            mm.free_pages(p, order).unwrap();
                        }
                    }
                    if i % 1000 == 0 && t == 0 {
                        mm.machine().drain_all_pages();
                        let _ = mm.machine().vmstat();
                        let _ = mm.machine().zoneinfo();
                    }
                }
                for (p, order) in mine {
                    let mut o = owned.lock().unwrap();
                    for pfn in p.pfn()..p.pfn() + (1 << order) {
                        assert!(o.remove(&pfn));
                    }
                    drop(o);
                    mm.free_pages(p, order).unwrap();
                }
            });
        }
    });
    for (p, order) in exchange.into_inner().unwrap() {
        mm.free_pages(p, order).unwrap();
    }
    let m = mm.machine();
    let c = m.check_invariants().unwrap();
    assert_eq!(c.allocated, 0);
    m.drain_all_pages();
    let c = m.check_invariants().unwrap();
    assert_eq!(c.free_buddy, c.total);
    let fresh = Machine::new(two_nodes()).unwrap();
    let blocks = |m: &Machine| {
        m.buddyinfo()
            .iter()
            .map(|b| b.free_blocks)
            .collect::<Vec<_>>()
    };
    assert_eq!(blocks(m), blocks(&fresh), "every buddy merged back");
}

#[test]
fn racing_double_frees_free_once() {
    let mm = mm();
    let rounds = 300;
    let barrier = Barrier::new(2);
    let wins = Mutex::new(0u32);
    let page = Mutex::new(None::<Page>);
    std::thread::scope(|s| {
        for t in 0..2 {
            let (mm, barrier, wins, page) = (&mm, &barrier, &wins, &page);
            s.spawn(move || {
                for _ in 0..rounds {
                    if t == 0 {
                        *page.lock().unwrap() = Some(mm.alloc_pages(Gfp::KERNEL, 0).unwrap());
                    }
                    barrier.wait();
                    let p = page.lock().unwrap().unwrap();
                    if mm.free_pages(p, 0).is_ok() {
                        *wins.lock().unwrap() += 1;
                    }
                    barrier.wait();
                }
            });
        }
    });
    assert_eq!(wins.into_inner().unwrap(), rounds);
    let c = mm.machine().check_invariants().unwrap();
    assert_eq!(c.allocated, 0);
}

#[test]
fn nofail_waits_for_memory() {
    let mm = Arc::new(mm());
    let mut held = Vec::new();
    while let Ok(p) = mm.alloc_pages(Gfp::KERNEL | Gfp::MEMALLOC | Gfp::NOWARN, 0) {
        held.push(p);
    }
    mm.machine().drain_all_pages();
    assert!(mm
        .alloc_pages(Gfp::KERNEL | Gfp::MEMALLOC | Gfp::NOWARN, 0)
        .is_err());
    let waiter = {
        let mm = Arc::clone(&mm);
        std::thread::spawn(move || mm.alloc_pages(Gfp::KERNEL | Gfp::NOFAIL, 0))
    };
    std::thread::sleep(Duration::from_millis(50));
    assert!(!waiter.is_finished(), "__GFP_NOFAIL does not fail");
    mm.free_pages(held.pop().unwrap(), 0).unwrap();
    let p = waiter.join().unwrap().expect("NOFAIL allocation");
    // It looped through the OOM step (which pretends progress for NOFAIL).
    assert!(mm.machine().event(gfp_mm::Event::OomCall) > 1);
    held.push(p);
    for p in held {
        mm.free_pages(p, 0).unwrap();
    }
    mm.machine().check_invariants().unwrap();
}

#[test]
fn thread_local_scopes_apply() {
    let mm = mm();
    {
        let _pin = gfp::scope::pin();
        let p = mm.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0).unwrap();
        assert_eq!(mm.machine().page_zone_type(p), Some(ZoneType::Normal));
        mm.free_pages(p, 0).unwrap();
    }
    let p = mm.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0).unwrap();
    assert_eq!(mm.machine().page_zone_type(p), Some(ZoneType::Movable));
    mm.free_pages(p, 0).unwrap();
    // PF_MEMALLOC from memalloc_noreclaim_save() reaches below min.
    let mut held = Vec::new();
    while let Ok(p) = mm.alloc_pages(Gfp::KERNEL | Gfp::NOWARN, 0) {
        held.push(p);
    }
    {
        let _r = gfp::scope::noreclaim();
        held.push(mm.alloc_pages(Gfp::KERNEL, 0).unwrap());
    }
    assert!(mm.alloc_pages(Gfp::KERNEL | Gfp::NOWARN, 0).is_err());
    // A generic scope: __GFP_NOWARN set for everything inside.
    let sink = Arc::new(MemorySink::new());
    let quiet = Mm::with(
        single_zone(512),
        Box::new(sink.clone()),
        Box::new(NoProgress),
    )
    .unwrap();
    let _kept: Vec<_> =
        std::iter::from_fn(|| quiet.alloc_pages(Gfp::KERNEL | Gfp::NOWARN, 0).ok()).collect();
    {
        let _nowarn = gfp::scope::set::<gfp::flag::Nowarn>();
        assert!(quiet.alloc_pages(Gfp::KERNEL, 0).is_err());
    }
    assert!(sink.lines().is_empty());
    assert!(quiet.alloc_pages(Gfp::KERNEL, 0).is_err());
    assert!(sink
        .text()
        .contains("page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)"));
}
