//! mempool: progress with the machine exhausted, without the reserves.

mod common;

use std::cell::RefCell;

use common::*;
use gfp::Gfp;
use gfp_mm::env::WaitEvent;
use gfp_mm::mempool::Mempool;
use gfp_mm::{Cx, Environment, LogLevel, NoProgress, Page, VirtualEnv};

/// An environment where waiting for a pool element runs `on_wait` (the
/// I/O that completes and returns an element).
struct Completing<'a> {
    inner: VirtualEnv,
    on_wait: RefCell<Option<Box<dyn FnMut() + 'a>>>,
    waited: RefCell<Vec<WaitEvent>>,
}

impl Environment for Completing<'_> {
    fn now_ns(&self) -> u64 {
        self.inner.now_ns()
    }
    fn sleep_ns(&self, ns: u64) {
        self.inner.sleep_ns(ns);
    }
    fn wait_for_event(&self, event: WaitEvent, timeout_ns: u64) -> bool {
        self.waited.borrow_mut().push(event);
        self.inner.sleep_ns(timeout_ns / 100);
        if let Some(f) = self.on_wait.borrow_mut().as_mut() {
            f();
        }
        true
    }
    fn wake_kswapd(&self, nid: usize, order: u32, z: gfp::zone::ZoneType) {
        self.inner.wake_kswapd(nid, order, z);
    }
    fn log(&self, level: LogLevel, line: &str) {
        self.inner.log(level, line);
    }
}

#[test]
fn mempool_makes_progress_with_the_whole_machine_exhausted() {
    let m = machine(single_zone(2048));
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let pool = Mempool::new_page_pool(&m, &c, 4, 0).unwrap();
    // Everything, reserves included, is taken.
    let all = exhaust(&m, &c, Gfp::KERNEL | Gfp::MEMALLOC);
    assert!(!all.is_empty());
    assert!(m.alloc_pages(&c, Gfp::ATOMIC | Gfp::NOWARN, 0).is_err());
    // The reserve serves four GFP_NOIO requests.
    let mut got: Vec<Page> = (0..4)
        .map(|_| pool.alloc(&m, &c, Gfp::NOIO).expect("from the reserve"))
        .collect();
    assert_eq!(pool.curr_nr(), 0);
    assert_eq!(pool.from_reserve(), 4);
    // Non-sleeping requests fail instead of waiting.
    assert!(pool.alloc(&m, &c, Gfp::NOWAIT).is_none());
    assert_eq!(pool.waits(), 0);
    // A sleeping request waits until an element comes back (I/O completes).
    let back = got.pop().unwrap();
    let returned = RefCell::new(Some(back));
    let cenv = Completing {
        inner: VirtualEnv::new(),
        on_wait: RefCell::new(None),
        waited: RefCell::new(Vec::new()),
    };
    *cenv.on_wait.borrow_mut() = Some(Box::new(|| {
        if let Some(p) = returned.borrow_mut().take() {
            pool.free(&m, &c, p);
        }
    }));
    let cc = Cx::new(0, task(), &cenv, &NoProgress);
    let p = pool
        .alloc(&m, &cc, Gfp::NOIO)
        .expect("never fails when it may sleep");
    assert_eq!(p, back, "the element that was freed");
    assert_eq!(pool.waits(), 1);
    assert_eq!(cenv.waited.borrow()[0], pool.wait_event());
    // It never dipped into the emergency reserves: __GFP_NOMEMALLOC.
    assert!(m
        .alloc_pages(&c, Gfp::KERNEL | Gfp::MEMALLOC | Gfp::NOWARN, 0)
        .is_err());
}

#[test]
fn mempool_prefers_the_allocator_and_refills_on_free() {
    let m = machine(single_zone(2048));
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let pool = Mempool::new_page_pool(&m, &c, 2, 1).unwrap();
    let p = pool.alloc(&m, &c, Gfp::KERNEL).unwrap();
    assert_eq!(
        pool.curr_nr(),
        2,
        "memory was there: the reserve is untouched"
    );
    assert_eq!(m.compound_order(p), 0);
    pool.free(&m, &c, p);
    assert_eq!(pool.curr_nr(), 2, "a full reserve frees to the allocator");
    pool.destroy(&m, &c);
}
