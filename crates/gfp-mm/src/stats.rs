//! Event counters (the allocator's part of `/proc/vmstat`).

use alloc::vec::Vec;

use crate::sync::{AtomicI64, Ordering};

/// Machine-wide events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Event {
    /// Pages freed (`pgfree`).
    PgFree,
    /// Allocations that failed (after the slow path).
    AllocFail,
    /// Allocations that entered the slow path.
    AllocSlowpath,
    /// Direct reclaim attempts (`allocstall`).
    AllocStall,
    /// Direct compaction attempts (`compact_stall`).
    CompactStall,
    /// Calls into the OOM killer hook.
    OomCall,
    /// kswapd wake-ups (one per node per request).
    KswapdWake,
    /// Per-CPU list refills from the buddy lists.
    PcpRefill,
    /// Per-CPU list flushes to the buddy lists.
    PcpFlush,
    /// `drain_all_pages()` calls.
    DrainAll,
    /// Blocks taken from another migratetype's lists (`mm_page_alloc_extfrag`).
    Fallback,
    /// Pageblocks turned into high-atomic reserves.
    HighatomicReserve,
    /// High-atomic reserves given back.
    HighatomicUnreserve,
    /// Rounds of the `__GFP_NOFAIL` retry loop.
    NofailRetry,
    /// Bad-page reports (misuse).
    BadPage,
    /// `__GFP_WRITE` allocations placed away from a node over its dirty limit.
    DirtySpread,
}

impl Event {
    /// Every event, in index order.
    pub const ALL: [Event; 16] = [
        Event::PgFree,
        Event::AllocFail,
        Event::AllocSlowpath,
        Event::AllocStall,
        Event::CompactStall,
        Event::OomCall,
        Event::KswapdWake,
        Event::PcpRefill,
        Event::PcpFlush,
        Event::DrainAll,
        Event::Fallback,
        Event::HighatomicReserve,
        Event::HighatomicUnreserve,
        Event::NofailRetry,
        Event::BadPage,
        Event::DirtySpread,
    ];

    /// The vmstat-style name.
    pub const fn name(self) -> &'static str {
        match self {
            Event::PgFree => "pgfree",
            Event::AllocFail => "pgalloc_fail",
            Event::AllocSlowpath => "pgalloc_slowpath",
            Event::AllocStall => "allocstall",
            Event::CompactStall => "compact_stall",
            Event::OomCall => "oom_call",
            Event::KswapdWake => "kswapd_wake",
            Event::PcpRefill => "pcp_refill",
            Event::PcpFlush => "pcp_flush",
            Event::DrainAll => "drain_all_pages",
            Event::Fallback => "pgalloc_fallback",
            Event::HighatomicReserve => "highatomic_reserve",
            Event::HighatomicUnreserve => "highatomic_unreserve",
            Event::NofailRetry => "nofail_retry",
            Event::BadPage => "bad_page",
            Event::DirtySpread => "pgalloc_dirty_spread",
        }
    }
}

/// Number of machine-wide events.
pub const NR_EVENTS: usize = Event::ALL.len();

/// Per-zone events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum ZoneEvent {
    /// Pages allocated from the zone (`pgalloc_<zone>`).
    PgAlloc,
    /// Allocations served on the preferred node (`numa_hit`).
    NumaHit,
    /// Allocations served here although another node was preferred (`numa_miss`).
    NumaMiss,
    /// Allocations that preferred this zone's node but were served elsewhere
    /// (`numa_foreign`).
    NumaForeign,
    /// Allocations served on the allocating CPU's node (`numa_local`).
    NumaLocal,
    /// Allocations served away from the allocating CPU's node (`numa_other`).
    NumaOther,
}

impl ZoneEvent {
    /// Every zone event.
    pub const ALL: [ZoneEvent; 6] = [
        ZoneEvent::PgAlloc,
        ZoneEvent::NumaHit,
        ZoneEvent::NumaMiss,
        ZoneEvent::NumaForeign,
        ZoneEvent::NumaLocal,
        ZoneEvent::NumaOther,
    ];

    /// The vmstat name (the zone's name is appended for `pgalloc`).
    pub const fn name(self) -> &'static str {
        match self {
            ZoneEvent::PgAlloc => "pgalloc",
            ZoneEvent::NumaHit => "numa_hit",
            ZoneEvent::NumaMiss => "numa_miss",
            ZoneEvent::NumaForeign => "numa_foreign",
            ZoneEvent::NumaLocal => "numa_local",
            ZoneEvent::NumaOther => "numa_other",
        }
    }
}

/// Number of per-zone events.
pub const NR_ZONE_EVENTS: usize = ZoneEvent::ALL.len();

#[inline(always)]
pub(crate) const fn zone_event_index(zone: usize, ev: ZoneEvent) -> usize {
    NR_EVENTS + zone * NR_ZONE_EVENTS + ev as usize
}

/// The page-state items of a node (`enum node_stat_item`) that the layers
/// above the allocator keep: the LRU lists, mapped page cache and slab.
/// The allocator itself keeps the dirty and writeback counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum NodeStat {
    /// `NR_INACTIVE_ANON`.
    InactiveAnon = 0,
    /// `NR_ACTIVE_ANON`.
    ActiveAnon,
    /// `NR_INACTIVE_FILE`.
    InactiveFile,
    /// `NR_ACTIVE_FILE`.
    ActiveFile,
    /// `NR_FILE_MAPPED`: page-cache pages mapped by a task.
    FileMapped,
    /// `NR_SLAB_RECLAIMABLE_B`, in pages here (the kernel counts bytes and
    /// `show_mem()` prints them as pages).
    SlabReclaimable,
    /// `NR_SLAB_UNRECLAIMABLE_B`, in pages here.
    SlabUnreclaimable,
}

/// Number of [`NodeStat`] items.
pub const NR_NODE_STATS: usize = 7;

/// The node and zone page-state counters (the kernel's `vm_node_stat` and
/// `vm_zone_stat` items above the allocator). The machine owns them; the
/// layers that own the pages (the LRU of [`crate::Vm`], the slab
/// allocator) update them through a shared handle, so that the machine's
/// reports read them without knowing those layers.
pub(crate) struct PageState {
    node: Vec<[AtomicI64; NR_NODE_STATS]>,
    /// Per zone, the four LRU lists (`NR_ZONE_INACTIVE_ANON` ...), in
    /// [`crate::vm::LruList`] order.
    zone_lru: Vec<[AtomicI64; 4]>,
    /// `total_swap_pages`: the swap space of the swap devices enabled.
    swap_total: AtomicI64,
    /// Swap pages in use (`total_swap_pages - get_nr_swap_pages()`).
    swap_used: AtomicI64,
}

impl PageState {
    pub(crate) fn new(nr_nodes: usize, nr_zones: usize) -> PageState {
        PageState {
            node: (0..nr_nodes)
                .map(|_| core::array::from_fn(|_| AtomicI64::new(0)))
                .collect(),
            zone_lru: (0..nr_zones)
                .map(|_| core::array::from_fn(|_| AtomicI64::new(0)))
                .collect(),
            swap_total: AtomicI64::new(0),
            swap_used: AtomicI64::new(0),
        }
    }

    /// `swapon()` (positive `total`) and swap slots taken or given back
    /// (`used`), in pages.
    pub(crate) fn mod_swap(&self, total: i64, used: i64) {
        self.swap_total.fetch_add(total, Ordering::Relaxed);
        self.swap_used.fetch_add(used, Ordering::Relaxed);
    }

    /// Swap space and the part of it in use, in pages.
    pub(crate) fn swap(&self) -> (u64, u64) {
        let total = self.swap_total.load(Ordering::Relaxed).max(0) as u64;
        let used = self.swap_used.load(Ordering::Relaxed).max(0) as u64;
        (total, used.min(total))
    }

    /// `mod_node_page_state()` (the LRU items move with
    /// [`PageState::mod_lru`]).
    pub(crate) fn mod_node(&self, nid: usize, item: NodeStat, delta: i64) {
        if let Some(n) = self.node.get(nid) {
            n[item as usize].fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// `node_page_state()`: never negative, as the kernel clamps its
    /// per-CPU-folded reads.
    pub(crate) fn node(&self, nid: usize, item: NodeStat) -> u64 {
        self.node.get(nid).map_or(0, |n| {
            n[item as usize].load(Ordering::Relaxed).max(0) as u64
        })
    }

    /// `update_lru_size()`: a page joins (`delta` 1) or leaves (-1) LRU
    /// list `lru` of `zone` on node `nid`; the node's and the zone's counts
    /// move together, as `__update_lru_size()` moves both.
    pub(crate) fn mod_lru(&self, nid: usize, zone: usize, lru: crate::vm::LruList, delta: i64) {
        if let Some(n) = self.node.get(nid) {
            n[lru as usize].fetch_add(delta, Ordering::Relaxed);
        }
        if let Some(z) = self.zone_lru.get(zone) {
            z[lru as usize].fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// `zone_page_state()` for one LRU list.
    pub(crate) fn zone_lru(&self, zone: usize, lru: usize) -> u64 {
        self.zone_lru
            .get(zone)
            .map_or(0, |z| z[lru].load(Ordering::Relaxed).max(0) as u64)
    }
}
