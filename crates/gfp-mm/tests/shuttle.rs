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
fn racing_double_free_frees_once() {
    shuttle::check_random(
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
        300,
    );
}
