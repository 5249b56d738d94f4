//! Per-CPU page lists (`struct per_cpu_pages`): for each zone, a stack of
//! free blocks per order 0..=PAGE_ALLOC_COSTLY_ORDER and per-CPU
//! migratetype, refilled from and flushed to the buddy lists in batches.
//! Each CPU's lists sit behind their own [`CpuLock`]: a thread bound to the
//! CPU owns them and enters without an atomic read-modify-write (the
//! kernel's "only this CPU, preemption off"); other threads and drains take
//! the lock and wait the owner out.

use alloc::vec::Vec;

use gfp::zone::PAGE_ALLOC_COSTLY_ORDER;

use crate::nodemask::NodeId;
use crate::sync::CpuLock;
use crate::zone::MIGRATE_PCPTYPES;

/// Orders served from the per-CPU lists (0..=3).
pub const NR_PCP_ORDERS: usize = PAGE_ALLOC_COSTLY_ORDER as usize + 1;

/// `pcp_allowed_order()`.
#[inline(always)]
pub const fn pcp_allowed_order(order: u32) -> bool {
    order <= PAGE_ALLOC_COSTLY_ORDER
}

/// One zone's lists on one CPU.
pub(crate) struct ZonePcp {
    pub(crate) lists: [[Vec<u32>; MIGRATE_PCPTYPES]; NR_PCP_ORDERS],
    /// Pages held (blocks weighted by their size).
    pub(crate) count: u32,
    /// Round-robin start for flushing.
    pub(crate) flush_next: u8,
}

impl ZonePcp {
    fn new() -> ZonePcp {
        ZonePcp {
            lists: Default::default(),
            count: 0,
            flush_next: 0,
        }
    }
}

/// One CPU's lists for every zone, and its event counters.
pub(crate) struct CpuPages {
    pub(crate) zones: Vec<ZonePcp>,
    pub(crate) events: Vec<u64>,
    /// Fast-path allocations per zone and order (`zone * NR_PCP_ORDERS +
    /// order`): each is one `numa_hit`, one `numa_local` and `1 << order`
    /// pages of `pgalloc`, folded in when the counters are read.
    pub(crate) fast_allocs: Vec<u64>,
}

/// A CPU: its node and its locked lists. Aligned so that two CPUs' locks
/// never share a cache line.
#[repr(align(128))]
pub(crate) struct CpuSlot {
    pub(crate) nid: NodeId,
    pub(crate) pcp: CpuLock<CpuPages>,
}

impl CpuSlot {
    pub(crate) fn new(nid: NodeId, nr_zones: usize, nr_events: usize) -> CpuSlot {
        CpuSlot {
            nid,
            pcp: CpuLock::new(CpuPages {
                zones: (0..nr_zones).map(|_| ZonePcp::new()).collect(),
                events: alloc::vec![0; nr_events],
                fast_allocs: alloc::vec![0; nr_zones * NR_PCP_ORDERS],
            }),
        }
    }
}

/// `zone_batchsize()`: the refill batch for a zone of `managed` pages: about
/// a quarter of a thousandth of the zone, at most 1 MiB worth, rounded to
/// `2^n - 1` to spread cache colouring.
pub(crate) fn zone_batchsize(managed: u64) -> u32 {
    let mut batch = (managed >> 10).min((1 << 20) / crate::PAGE_SIZE as u64);
    batch /= 4;
    if batch < 1 {
        batch = 1;
    }
    let b = batch + batch / 2;
    let pow = 1u64 << (63 - b.leading_zeros());
    (pow - 1).max(1) as u32
}
