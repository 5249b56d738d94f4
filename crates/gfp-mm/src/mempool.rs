//! Memory pools (mm/mempool.c): `min_nr` elements preallocated so that a
//! caller that may sleep always makes progress, even with the machine's
//! memory exhausted. Allocation tries the backing allocator with
//! `__GFP_NOMEMALLOC | __GFP_NORETRY | __GFP_NOWARN` (first without
//! direct reclaim and I/O), then the reserve, then sleeps until an element
//! is freed. It never touches the emergency reserves: the kernel's
//! recommended alternative to `__GFP_MEMALLOC`.

use alloc::vec::Vec;

use gfp::Gfp;

use crate::env::{WaitEvent, HZ, TICK_NS};
use crate::machine::{Cx, Machine};
use crate::page::{AllocError, Page};
use crate::sync::{AtomicU64, Ordering, SpinLock};

static NEXT_POOL: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// A pool of pages of one order (`mempool_create_page_pool()`).
pub struct Mempool {
    id: u64,
    order: u32,
    min_nr: usize,
    reserve: SpinLock<Vec<Page>>,
    waits: AtomicU64,
    from_reserve: AtomicU64,
}

impl core::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mempool")
            .field("order", &self.order)
            .field("min_nr", &self.min_nr)
            .field("curr_nr", &self.curr_nr())
            .finish()
    }
}

impl Mempool {
    /// `mempool_create_page_pool(min_nr, order)`: preallocates `min_nr`
    /// blocks of `order` with `GFP_KERNEL`.
    pub fn new_page_pool(
        m: &Machine,
        cx: &Cx<'_>,
        min_nr: usize,
        order: u32,
    ) -> Result<Mempool, AllocError> {
        let mut v = Vec::with_capacity(min_nr);
        for _ in 0..min_nr {
            match m.alloc_pages(cx, Gfp::KERNEL, order) {
                Ok(p) => v.push(p),
                Err(e) => {
                    for p in v {
                        let _ = m.free_pages(cx, p, order);
                    }
                    return Err(e);
                }
            }
        }
        Ok(Mempool {
            id: NEXT_POOL.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            order,
            min_nr,
            reserve: SpinLock::new(v),
            waits: AtomicU64::new(0),
            from_reserve: AtomicU64::new(0),
        })
    }

    /// The order of each element.
    pub fn order(&self) -> u32 {
        self.order
    }

    /// Elements in the reserve (`curr_nr`).
    pub fn curr_nr(&self) -> usize {
        self.reserve.lock().len()
    }

    /// The event a waiting allocation sleeps on.
    pub fn wait_event(&self) -> WaitEvent {
        WaitEvent::PoolElement(self.id)
    }

    /// How often an allocation slept for an element.
    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    /// Elements handed out from the reserve.
    pub fn from_reserve(&self) -> u64 {
        self.from_reserve.load(Ordering::Relaxed)
    }

    /// `mempool_alloc(pool, gfp)`. Returns `None` only when `gfp` may not
    /// sleep (no `__GFP_DIRECT_RECLAIM`).
    pub fn alloc(&self, m: &Machine, cx: &Cx<'_>, gfp: Gfp) -> Option<Page> {
        let gfp = gfp | Gfp::NOMEMALLOC | Gfp::NORETRY | Gfp::NOWARN;
        let mut temp = gfp - Gfp::DIRECT_RECLAIM - Gfp::IO;
        loop {
            if let Ok(p) = m.alloc_pages(cx, temp, self.order) {
                return Some(p);
            }
            if let Some(p) = self.reserve.lock().pop() {
                self.from_reserve.fetch_add(1, Ordering::Relaxed);
                return Some(p);
            }
            if temp != gfp {
                temp = gfp;
                continue;
            }
            if !gfp.contains(Gfp::DIRECT_RECLAIM) {
                return None;
            }
            self.waits.fetch_add(1, Ordering::Relaxed);
            cx.env.wait_for_event(self.wait_event(), 5 * HZ * TICK_NS);
        }
    }

    /// `mempool_free(element, pool)`: refills the reserve below `min_nr`
    /// (waking a waiter), frees to the allocator otherwise.
    pub fn free(&self, m: &Machine, cx: &Cx<'_>, page: Page) {
        let mut r = self.reserve.lock();
        if r.len() < self.min_nr {
            r.push(page);
            drop(r);
            cx.env.notify(self.wait_event());
            return;
        }
        drop(r);
        let _ = m.free_pages(cx, page, self.order);
    }

    /// `mempool_destroy()`: frees the reserve.
    pub fn destroy(self, m: &Machine, cx: &Cx<'_>) {
        for p in self.reserve.lock().drain(..) {
            let _ = m.free_pages(cx, p, self.order);
        }
    }
}
