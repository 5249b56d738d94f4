//! The slow path's pluggable steps. The allocator runs the kernel's
//! skeleton (`__alloc_pages_slowpath()`); what each step achieves is up to
//! these hooks. The defaults make no progress, so that without reclaim,
//! compaction or an OOM killer, non-blocking requests fail when the
//! watermark is not met and blocking ones follow the retry rules to their
//! end. The next layer (reclaim, OOM, memcg) implements them.

use gfp::zone::ZoneType;
use gfp::Gfp;

use crate::machine::{Cx, Machine};
use crate::nodemask::{NodeId, NodeMask};
use crate::zone::ZoneId;

/// What a reclaim or compaction step is asked to serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReclaimRequest {
    /// The mask (scopes applied).
    pub gfp: Gfp,
    /// The order.
    pub order: u32,
    /// The node the allocation prefers.
    pub preferred_nid: NodeId,
    /// The allowed nodes, if restricted.
    pub nodemask: Option<NodeMask>,
    /// The highest usable zone.
    pub highest_zone: ZoneType,
}

/// Direct compaction's outcome (`enum compact_result`, the values the slow
/// path tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompactResult {
    /// Not attempted: no zone was suitable (the default).
    Skipped,
    /// Deferred after recent failures.
    Deferred,
    /// Ran to the end without producing the page.
    Complete,
    /// Stopped early (contention, signal).
    PartialSkipped,
    /// Produced a free page of the order.
    Success,
}

/// Compaction effort (`enum compact_priority`), highest effort first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompactPriority {
    /// Synchronous, full scan.
    SyncFull,
    /// Synchronous, light (`DEF_COMPACT_PRIORITY`).
    SyncLight,
    /// Asynchronous (`INIT_COMPACT_PRIORITY`).
    Async,
}

/// What the OOM killer is asked (`struct oom_control`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OomControl {
    /// The failing request's mask.
    pub gfp: Gfp,
    /// Its order.
    pub order: u32,
    /// The allowed nodes, if restricted.
    pub nodemask: Option<NodeMask>,
    /// The preferred node.
    pub preferred_nid: NodeId,
}

/// The slow path's steps. Every method has a "no progress" default.
pub trait SlowPathHooks {
    /// Wakes kswapd on `nid` (`wakeup_kswapd()`); the default only passes
    /// the wake-up to the environment.
    fn wake_kswapd(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        nid: NodeId,
        gfp: Gfp,
        order: u32,
        highest: ZoneType,
    ) {
        let _ = (m, gfp);
        cx.env.wake_kswapd(nid, order, highest);
    }

    /// Direct reclaim (`__perform_reclaim()`), run with PF_MEMALLOC set on
    /// `cx.task`. Returns the pages reclaimed (0: no progress).
    fn direct_reclaim(&self, m: &Machine, cx: &Cx<'_>, req: &ReclaimRequest) -> u64 {
        let _ = (m, cx, req);
        0
    }

    /// Direct compaction (`try_to_compact_pages()`), run with PF_MEMALLOC.
    fn direct_compact(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        req: &ReclaimRequest,
        prio: CompactPriority,
    ) -> CompactResult {
        let _ = (m, cx, req, prio);
        CompactResult::Skipped
    }

    /// `should_compact_retry()`: whether to loop for another compaction
    /// round; may raise the priority or count retries.
    fn should_compact_retry(
        &self,
        m: &Machine,
        req: &ReclaimRequest,
        result: CompactResult,
        prio: &mut CompactPriority,
        retries: &mut u32,
    ) -> bool {
        let _ = (m, req, result, prio, retries);
        false
    }

    /// Pages of `zone` that reclaim could free (`zone_reclaimable_pages()`),
    /// for the retry decision.
    fn zone_reclaimable_pages(&self, m: &Machine, zone: ZoneId) -> u64 {
        let _ = (m, zone);
        0
    }

    /// File pages on `nid`'s LRU lists (`NR_INACTIVE_FILE +
    /// NR_ACTIVE_FILE`), which count as dirtyable memory
    /// (`node_dirtyable_memory()`) for `__GFP_WRITE`'s node spreading.
    fn node_file_lru_pages(&self, m: &Machine, nid: NodeId) -> u64 {
        let _ = (m, nid);
        0
    }

    /// `out_of_memory()`: `true` when it made progress (killed a task, or
    /// decided the caller should retry).
    fn out_of_memory(&self, m: &Machine, cx: &Cx<'_>, oc: &OomControl) -> bool {
        let _ = (m, cx, oc);
        false
    }
}

/// The default hooks: no reclaim, no compaction, no OOM killer.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl SlowPathHooks for NoProgress {}
