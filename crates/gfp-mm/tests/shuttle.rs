//! Randomized concurrency test of the per-CPU lists and of concurrent
//! allocation and freeing, under shuttle's scheduler (every lock and atomic
//! of the core is a scheduling point). Run with
//! `cargo test -p gfp-mm --features shuttle --test shuttle`.
#![cfg(feature = "shuttle")]

use std::sync::Arc;

use gfp::Gfp;
use gfp_mm::{Arena, Cx, Machine, MachineSpec, NoProgress, NodeSpec, Page, Task, VirtualEnv};
use shuttle::sync::Mutex;

fn spec() -> MachineSpec {
    let mut s = MachineSpec::new("shuttle", vec![NodeSpec::new(0, 0, 64, 0, 0)], 2);
    s.tunables.pageblock_order = 4;
    s.tunables.pcp_batch = Some(2);
    s.tunables.pcp_high = Some(4);
    s.tunables.min_free_kbytes = Some(16);
    s
}

fn new_machine() -> Machine {
    let spec = spec();
    let pages = spec.total_pages() as usize;
    Machine::with_arena(spec, Arena::heap(pages).unwrap(), Some(1)).unwrap()
}

#[test]
fn concurrent_alloc_free_and_drain() {
    shuttle::check_random(
        || {
            let m = Arc::new(new_machine());
            let env = Arc::new(VirtualEnv::new());
            let shared: Arc<Mutex<Vec<(Page, u32)>>> = Arc::new(Mutex::new(Vec::new()));
            let handles: Vec<_> = (0..2)
                .map(|t| {
                    let (m, env, shared) = (Arc::clone(&m), Arc::clone(&env), Arc::clone(&shared));
                    shuttle::thread::spawn(move || {
                        let cx = Cx::new(t, Task::new(), &*env, &NoProgress);
                        let mut mine = Vec::new();
                        for i in 0..6u32 {
                            let order = i % 3 / 2;
                            if let Ok(p) = m.alloc_pages(&cx, Gfp::KERNEL | Gfp::NOWARN, order) {
                                mine.push((p, order));
                            }
                        }
                        // Hand half to the other thread, free the rest here.
                        let half = mine.split_off(mine.len() / 2);
                        shared.lock().unwrap().extend(half);
                        for (p, o) in mine {
                            m.free_pages(&cx, p, o).unwrap();
                        }
                        if t == 0 {
                            m.drain_all_pages();
                        }
                        let theirs: Vec<_> = shared.lock().unwrap().drain(..).collect();
                        for (p, o) in theirs {
                            m.free_pages(&cx, p, o).unwrap();
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            let counts = m.check_invariants().unwrap();
            assert_eq!(counts.allocated, 0);
            assert_eq!(counts.free_buddy + counts.free_pcp, counts.total);
        },
        300,
    );
}

#[test]
fn bulk_calls_race_single_calls_and_drains() {
    // CPU 0 allocates and frees in batches; CPU 1 frees some of CPU 0's
    // pages one by one onto its own lists, allocates singly and drains
    // every CPU's lists, racing the batches.
    shuttle::check_random(
        || {
            let m = Arc::new(new_machine());
            let env = Arc::new(VirtualEnv::new());
            let shared: Arc<Mutex<Vec<Page>>> = Arc::new(Mutex::new(Vec::new()));
            let bulk = {
                let (m, env, shared) = (Arc::clone(&m), Arc::clone(&env), Arc::clone(&shared));
                shuttle::thread::spawn(move || {
                    let cx = Cx::new(0, Task::new(), &*env, &NoProgress);
                    for _ in 0..2 {
                        let mut pages = vec![None; 6];
                        let got = m.alloc_pages_bulk(&cx, Gfp::KERNEL | Gfp::NOWARN, 0, &mut pages);
                        assert!(pages[..got].iter().all(Option::is_some));
                        let mut mine: Vec<Page> = pages.into_iter().flatten().collect();
                        let half = mine.split_off(mine.len() / 2);
                        shared.lock().unwrap().extend(half);
                        m.free_pages_bulk(&cx, mine, 0).unwrap();
                    }
                })
            };
            let single = {
                let (m, env, shared) = (Arc::clone(&m), Arc::clone(&env), Arc::clone(&shared));
                shuttle::thread::spawn(move || {
                    let cx = Cx::new(1, Task::new(), &*env, &NoProgress);
                    let p = m.alloc_pages(&cx, Gfp::KERNEL | Gfp::NOWARN, 0).ok();
                    m.drain_all_pages();
                    let theirs: Vec<Page> = shared.lock().unwrap().drain(..).collect();
                    for q in theirs {
                        m.free_pages(&cx, q, 0).unwrap();
                    }
                    if let Some(p) = p {
                        m.free_pages(&cx, p, 0).unwrap();
                    }
                })
            };
            bulk.join().unwrap();
            single.join().unwrap();
            let cx = Cx::new(0, Task::new(), &*env, &NoProgress);
            let left: Vec<Page> = shared.lock().unwrap().drain(..).collect();
            m.free_pages_bulk(&cx, left, 0).unwrap();
            let counts = m.check_invariants().unwrap();
            assert_eq!(counts.allocated, 0);
            assert_eq!(counts.free_buddy + counts.free_pcp, counts.total);
        },
        300,
    );
}

#[test]
fn racing_double_free_frees_once() {
    shuttle::check_pct(
        || {
            let m = Arc::new(new_machine());
            let env = Arc::new(VirtualEnv::new());
            let cx = Cx::new(0, Task::new(), &*env, &NoProgress);
            let p = m.alloc_pages(&cx, Gfp::KERNEL, 1).unwrap();
            let handles: Vec<_> = (0..2)
                .map(|t| {
                    let (m, env) = (Arc::clone(&m), Arc::clone(&env));
                    shuttle::thread::spawn(move || {
                        let cx = Cx::new(t, Task::new(), &*env, &NoProgress);
                        m.free_pages(&cx, p, 1).is_ok()
                    })
                })
                .collect();
            let wins: u32 = handles.into_iter().map(|h| h.join().unwrap() as u32).sum();
            assert_eq!(wins, 1);
            let counts = m.check_invariants().unwrap();
            assert_eq!(counts.allocated, 0);
        },
        1000,
        3,
    );
}

/// Racing double frees of one page, on both CPUs, while a third thread
/// frees, drains and allocates on the same CPUs' lists (the pattern of
/// `rt::tests::bound_owners_and_remote_access`): the page is freed once and
/// every other free of it is refused. A second free is refused only while
/// the page stays free, since a stale handle's free of a page allocated
/// again cannot be told from the new holder's; so the third thread's
/// allocations wait until the racers are done (`window`). Without that
/// wait, this test fails: the racers both win, or the third thread's free
/// of the page it was given is refused.
#[test]
fn racing_double_frees_beside_frees_drains_and_allocations() {
    shuttle::check_pct(
        || {
            let m = Arc::new(new_machine());
            let env = Arc::new(VirtualEnv::new());
            let cx = Cx::new(0, Task::new(), &*env, &NoProgress);
            let p = m.alloc_pages(&cx, Gfp::KERNEL, 0).unwrap();
            let q = m.alloc_pages(&cx, Gfp::KERNEL, 0).unwrap();
            let gate = Arc::new(Mutex::new(()));
            let window = gate.lock().unwrap();
            let racers: Vec<_> = (0..2)
                .map(|t| {
                    let (m, env) = (Arc::clone(&m), Arc::clone(&env));
                    shuttle::thread::spawn(move || {
                        let cx = Cx::new(t, Task::new(), &*env, &NoProgress);
                        let first = m.free_pages(&cx, p, 0).is_ok();
                        assert!(m.free_pages(&cx, p, 0).is_err());
                        first
                    })
                })
                .collect();
            let other = {
                let (m, env, gate) = (Arc::clone(&m), Arc::clone(&env), Arc::clone(&gate));
                shuttle::thread::spawn(move || {
                    let cx = |cpu| Cx::new(cpu, Task::new(), &*env, &NoProgress);
                    m.free_pages(&cx(1), q, 0).unwrap();
                    m.drain_all_pages();
                    for i in 0..2 {
                        let r = {
                            let _window = gate.lock().unwrap();
                            m.alloc_pages(&cx(i), Gfp::KERNEL, 0).unwrap()
                        };
                        m.free_pages(&cx(1 - i), r, 0).unwrap();
                    }
                })
            };
            let wins: u32 = racers.into_iter().map(|h| h.join().unwrap() as u32).sum();
            drop(window);
            other.join().unwrap();
            assert_eq!(wins, 1);
            let counts = m.check_invariants().unwrap();
            assert_eq!(counts.allocated, 0);
            assert_eq!(counts.free_buddy + counts.free_pcp, counts.total);
        },
        1000,
        3,
    );
}

/// One pageblock of 32 pages: an order-4 movable allocation splits it while
/// an unmovable order-0 allocation, finding no unmovable page, claims the
/// pageblock (`try_to_claim_block`) and walks its frames. The block the
/// first allocation took off the lists must not look free to that walk in
/// the window between the zone lock's release and `prep_new_page()`.
#[test]
fn claiming_a_pageblock_skips_a_block_being_allocated() {
    shuttle::check_pct(
        || {
            let mut spec = MachineSpec::new("claim", vec![NodeSpec::new(0, 0, 32, 0, 0)], 2);
            spec.tunables.pageblock_order = 5;
            spec.tunables.pcp_batch = Some(2);
            spec.tunables.pcp_high = Some(4);
            spec.tunables.min_free_kbytes = Some(16);
            let pages = spec.total_pages() as usize;
            let m =
                Arc::new(Machine::with_arena(spec, Arena::heap(pages).unwrap(), Some(1)).unwrap());
            let env = Arc::new(VirtualEnv::new());
            let handles: Vec<_> = [(Gfp::HIGHUSER_MOVABLE, 4u32), (Gfp::KERNEL, 0)]
                .into_iter()
                .enumerate()
                .map(|(t, (gfp, order))| {
                    let (m, env) = (Arc::clone(&m), Arc::clone(&env));
                    shuttle::thread::spawn(move || {
                        let cx = Cx::new(t, Task::new(), &*env, &NoProgress);
                        let p = m.alloc_pages(&cx, gfp | Gfp::NOWARN, order).ok();
                        p.map(|p| (p, order))
                    })
                })
                .collect();
            let got: Vec<(Page, u32)> = handles
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect();
            let env = VirtualEnv::new();
            let cx = Cx::new(0, Task::new(), &env, &NoProgress);
            m.check_invariants().unwrap();
            for (p, o) in got {
                m.free_pages(&cx, p, o).unwrap();
            }
            m.drain_all_pages();
            let counts = m.check_invariants().unwrap();
            assert_eq!(counts.free_buddy, counts.total);
        },
        2000,
        3,
    );
}
