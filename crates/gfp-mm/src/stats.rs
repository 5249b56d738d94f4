//! Event counters (the allocator's part of `/proc/vmstat`).

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
