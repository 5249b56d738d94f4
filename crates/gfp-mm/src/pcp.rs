//! Per-CPU page lists (`struct per_cpu_pages`): for each zone, a stack of
//! free blocks per order 0..=PAGE_ALLOC_COSTLY_ORDER and per-CPU
//! migratetype, refilled from and flushed to the buddy lists in batches.
//! Each CPU's lists sit behind their own `CpuLock`: a thread bound to the
//! CPU owns them and enters without an atomic read-modify-write (the
//! kernel's "only this CPU, preemption off"); other threads and drains take
//! the lock and wait the owner out.

use alloc::vec::Vec;

use gfp::zone::PAGE_ALLOC_COSTLY_ORDER;

use crate::frame::FrameState;
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

/// Columns of a zone's list table: the per-CPU migratetypes, padded to four
/// so that an index masked to two bits needs no bounds check. The fourth
/// column (high-atomic) stays empty: those pages go to the movable list.
pub(crate) const PCP_COLUMNS: usize = 4;

/// One zone's lists on one CPU.
pub(crate) struct ZonePcp {
    /// The free blocks by order and column. Every block on them lies in
    /// the machine's frame table (refills take them off the zone's buddy
    /// lists; frees push blocks they looked up in the table), which the
    /// fast path's allocation relies on to write their metadata without a
    /// bounds check.
    pub(crate) lists: [[Vec<u32>; PCP_COLUMNS]; NR_PCP_ORDERS],
    /// Pages held (blocks weighted by their size).
    pub(crate) count: u32,
    /// Round-robin start for flushing.
    pub(crate) flush_next: u8,
    /// The zone's `pcp_high` and `pcp_batch` (fixed when the machine is
    /// built), copied here so that a free touches no zone cache line.
    pub(crate) high: u32,
    pub(crate) batch: u32,
    /// Fast-path allocations per order: each is one `numa_hit`, one
    /// `numa_local` (or `numa_other`) and `1 << order` pages of `pgalloc`,
    /// folded in when the counters are read.
    pub(crate) fast_allocs: [u64; NR_PCP_ORDERS],
    /// Pages the refills put on these lists, and pages that left them
    /// other than by a fast-path allocation (general-path allocations,
    /// flushes, drains), wrapping. With `count` and `fast_allocs` they
    /// give the pages freed onto the lists ([`ZonePcp::freed_pages`]),
    /// which a free then need not count.
    pub(crate) refilled: u64,
    pub(crate) taken: u64,
}

impl ZonePcp {
    fn new() -> ZonePcp {
        ZonePcp {
            lists: Default::default(),
            count: 0,
            flush_next: 0,
            high: u32::MAX,
            batch: 1,
            fast_allocs: [0; NR_PCP_ORDERS],
            refilled: 0,
            taken: 0,
        }
    }

    /// Pages freed onto these lists (`pgfree`): what they hold, plus what
    /// left them, less what the refills brought.
    pub(crate) fn freed_pages(&self) -> u64 {
        let fast: u64 = (0..)
            .zip(self.fast_allocs)
            .map(|(o, n)| n.wrapping_shl(o))
            .fold(0, u64::wrapping_add);
        (self.count as u64)
            .wrapping_add(fast)
            .wrapping_add(self.taken)
            .wrapping_sub(self.refilled)
    }
}

/// One CPU's lists for every zone, and its event counters.
pub(crate) struct CpuPages {
    /// One per zone of the machine (fixed when it is built).
    pub(crate) zones: alloc::boxed::Box<[ZonePcp]>,
    pub(crate) events: Vec<u64>,
}

/// Where the fast path takes a block for a mask, by the mask's five low
/// bits (the zone modifiers and the migratetype bits): the first zone of
/// the CPU's node's zonelist for the mask's highest zone type, the zone's
/// fast watermark bit for that type, the per-CPU list's migratetype, and
/// the head's metadata word for an order-0 allocation. A bad zone
/// combination, `__GFP_MOVABLE | __GFP_RECLAIMABLE`, or no usable zone
/// routes to the general path ([`FastRoute::SLOW`]).
///
/// Packed in one word so that the fast path reads it with one load: the
/// low half is the metadata word of an allocated, clean, non-compound
/// order-0 head of the zone with the migratetype (so the zone id is in
/// bits 24..32 and the migratetype in 20..22, where [`FrameState`] keeps
/// them), the high half the shift of the zone's `fast_ok` bits.
///
/// # Invariants
///
/// The zone exists (it is below the machine's zone count, and so below
/// every CPU's count of per-CPU zone lists) and the migratetype is below
/// [`MIGRATE_PCPTYPES`]. Unless `SLOW`, the zone is the first of the
/// node's zonelist with a type at most the mask's highest zone type.
/// `SLOW` names zone 0 (a machine has memory, so a zone 0) and `fast_ok`
/// bits that are never set, so the watermark test sends it to the general
/// path without a test of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FastRoute(u64);

/// The `fast_ok` shift of [`FastRoute::SLOW`]: above every zone type's
/// bits, and low enough that the bit of order 3 still fits the word.
const SLOW_SHIFT: u32 = 24;
const _: () = assert!(
    crate::spec::MAX_NR_ZONES as u32 * crate::zone::FAST_OK_ORDERS <= SLOW_SHIFT
        && SLOW_SHIFT + crate::zone::FAST_OK_ORDERS <= 32
);

impl FastRoute {
    /// The general path decides.
    pub(crate) const SLOW: FastRoute = FastRoute::new(0, SLOW_SHIFT, 0);

    const fn new(zone: usize, ok_shift: u32, mt: u32) -> FastRoute {
        FastRoute(FrameState::allocated(zone, 0, false, mt).0 as u64 | (ok_shift as u64) << 32)
    }

    /// The zone.
    #[inline(always)]
    pub(crate) const fn zone(self) -> usize {
        FrameState(self.0 as u32).zone()
    }

    /// The shift of the zone's `fast_ok` bits for this highest zone type.
    #[inline(always)]
    pub(crate) const fn ok_shift(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The per-CPU list's migratetype index.
    #[inline(always)]
    pub(crate) const fn mt(self) -> usize {
        FrameState(self.0 as u32).alloc_mt_index()
    }

    /// The metadata word of the allocated head of a block of `order`.
    #[inline(always)]
    pub(crate) const fn head(self, order: u32, compound: bool) -> FrameState {
        FrameState(self.0 as u32).with_order(order, compound)
    }
}

/// Number of mask bits the fast route is indexed by.
pub(crate) const ROUTE_BITS: u32 = 5;

/// The routes of a node whose zonelist's first zone per highest zone type
/// is `first_zone` (`u32::MAX`: none).
pub(crate) fn fast_routes(
    first_zone: &[u32; crate::spec::MAX_NR_ZONES],
) -> [FastRoute; 1 << ROUTE_BITS] {
    let mut routes = [FastRoute::SLOW; 1 << ROUTE_BITS];
    for (bits, r) in routes.iter_mut().enumerate() {
        let gfp = gfp::Gfp::from_bits_retain(bits as u32);
        let (Ok(hz), Some(mt)) = (
            gfp::zone::highest_zone(gfp),
            crate::mutation::migratetype(gfp),
        ) else {
            continue;
        };
        let zid = first_zone[hz as usize];
        // A zone id past the metadata word's eight bits goes the general
        // way.
        if zid > 0xff || (mt as usize) >= MIGRATE_PCPTYPES {
            continue;
        }
        let shift = hz as u32 * crate::zone::FAST_OK_ORDERS;
        *r = FastRoute::new(zid as usize, shift, mt as u32);
    }
    routes
}

/// A CPU: its node, its fast routes and its locked lists. Aligned so that
/// two CPUs' locks never share a cache line, and to a power of two at
/// least its size (the routes alone take 256 bytes), so that a CPU's slot
/// is a shift of its number away from the first.
#[repr(align(512))]
pub(crate) struct CpuSlot {
    pub(crate) nid: NodeId,
    pub(crate) route: [FastRoute; 1 << ROUTE_BITS],
    pub(crate) pcp: CpuLock<CpuPages>,
}

impl CpuSlot {
    /// CPU `cpu` (an index below 2^32, as any machine's are) on node
    /// `nid`.
    pub(crate) fn new(
        cpu: usize,
        nid: NodeId,
        route: [FastRoute; 1 << ROUTE_BITS],
        nr_zones: usize,
        nr_events: usize,
    ) -> CpuSlot {
        CpuSlot {
            nid,
            route,
            pcp: CpuLock::for_cpu(
                CpuPages {
                    zones: (0..nr_zones).map(|_| ZonePcp::new()).collect(),
                    events: alloc::vec![0; nr_events],
                },
                u32::try_from(cpu).unwrap_or(u32::MAX),
            ),
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
