//! The allocation path: `__alloc_pages()`, `get_page_from_freelist()`,
//! `rmqueue()` with the per-CPU lists, and `__alloc_pages_slowpath()` with
//! its pluggable steps, following Linux 6.12.

use gfp::zone::{self, MigrateType, ZoneType, MAX_PAGE_ORDER, PAGE_ALLOC_COSTLY_ORDER};
use gfp::{Gfp, TaskFlags};

use crate::alloc_flags::{gfp_to_alloc_flags, pfmemalloc_flags, AllocFlags};
use crate::env::{LogLevel, TICK_NS};
use crate::frame::{self, FrameKind, FrameState};
use crate::hooks::{CompactPriority, CompactResult, OomControl, ReclaimRequest};
use crate::machine::{Cx, Machine, WarnSite, FAST_REJECT_ALWAYS};
use crate::nodemask::{NodeId, NodeMask};
use crate::page::{AllocError, Page};
use crate::pcp::{pcp_allowed_order, CpuPages, CpuSlot, FastRoute, PCP_COLUMNS, ROUTE_BITS};
use crate::stats::{zone_event_index, Event, ZoneEvent};
use crate::sync::{AtomicU32, Ordering};
use crate::zone::{Zone, ZoneId, MIGRATE_PCPTYPES};

/// Retries without progress before the slow path gives up on reclaim
/// (`MAX_RECLAIM_RETRIES`).
pub const MAX_RECLAIM_RETRIES: u32 = 16;

/// `struct alloc_context`: what one allocation may use.
#[derive(Clone, Debug)]
pub struct AllocContext<'a> {
    /// The zonelist walked (the preferred node's, or its local-only list
    /// with `__GFP_THISNODE`).
    pub zonelist: &'a [ZoneId],
    /// The allowed nodes, if restricted.
    pub nodemask: Option<NodeMask>,
    /// The highest usable zone type (`gfp_zone()`).
    pub highest_zoneidx: usize,
    /// The migratetype (`gfp_migratetype()`).
    pub migratetype: MigrateType,
    /// Spread `__GFP_WRITE` pages by node dirty limits (fast path only).
    pub spread_dirty_pages: bool,
    /// The preferred node.
    pub preferred_nid: NodeId,
    /// The first usable zone (`preferred_zoneref`).
    pub preferred_zone: Option<ZoneId>,
}

/// What the slow path does after its first direct compaction
/// ([`Machine::initial_compaction`]).
enum InitialCompaction {
    /// Compaction produced the page.
    Page(u32),
    /// A costly `__GFP_NORETRY` request gives up (`goto nopage`).
    NoPage,
    /// On to the retry loop.
    Retry,
}

/// `__alloc_pages_slowpath()`'s retry bookkeeping, reset on every restart.
struct SlowPathRetries {
    /// Reclaim rounds without progress (`no_progress_loops`).
    no_progress_loops: u32,
    /// Compaction retries so far (`compaction_retries`).
    compaction_retries: u32,
    /// The next direct compaction's priority (`compact_priority`).
    compact_priority: CompactPriority,
    /// The last direct compaction's result (`compact_result`).
    compact_result: CompactResult,
}

impl SlowPathRetries {
    /// The state at `restart:`: no retries yet, the default compaction
    /// priority, and no compaction run.
    fn new() -> SlowPathRetries {
        SlowPathRetries {
            no_progress_loops: 0,
            compaction_retries: 0,
            compact_priority: CompactPriority::SyncLight,
            compact_result: CompactResult::Skipped,
        }
    }
}

/// The fast path's pop from a CPU's list of `zone`, `order` and
/// migratetype index `mt`, with its counters.
///
/// # Safety
///
/// `zone` is one of the machine's zones (a [`FastRoute`]'s), so that
/// `pcp.zones` (one entry per zone) has it.
#[inline(always)]
unsafe fn pcp_pop(pcp: &mut CpuPages, zone: ZoneId, order: u32, mt: usize) -> Option<u32> {
    debug_assert!(zone < pcp.zones.len());
    // SAFETY: the caller's promise.
    let zp = unsafe { pcp.zones.get_unchecked_mut(zone) };
    let pfn = zp.lists[order as usize][mt & (PCP_COLUMNS - 1)].pop()?;
    zp.count -= 1 << order;
    // The zone is the first of the CPU's own zonelist, so the request is a
    // NUMA hit, local when the zone is on the CPU's node: the counter
    // readers fold that in (`Machine::sum_event`).
    zp.fast_allocs[order as usize] += 1;
    Some(pfn)
}

/// The metadata word of a new head of `order` in `zone` for a request
/// with `gfp` and migratetype index `mt` (compound with `__GFP_COMP`
/// above order 0).
#[inline(always)]
pub(crate) fn new_head_state(zone: ZoneId, order: u32, gfp: Gfp, mt: u32) -> FrameState {
    FrameState::allocated(zone, order, order > 0 && gfp.contains(Gfp::COMP), mt)
}

impl Machine {
    #[inline(always)]
    fn eligible(&self, ac: &AllocContext<'_>, z: &Zone) -> bool {
        (z.ztype as usize) <= ac.highest_zoneidx && ac.nodemask.is_none_or(|m| m.contains(z.nid))
    }

    /// The zonelist walk's filter (`for_next_zone_zonelist_nodemask()` plus
    /// the cpuset check of `get_page_from_freelist()` and
    /// `should_reclaim_retry()`): eligible for the request, and inside the
    /// task's cpuset when `ALLOC_CPUSET` applies.
    pub(crate) fn zone_allowed(
        &self,
        cx: &Cx<'_>,
        ac: &AllocContext<'_>,
        af: AllocFlags,
        gfp: Gfp,
        z: &Zone,
    ) -> bool {
        self.eligible(ac, z)
            && !(af.contains(AllocFlags::CPUSET)
                && self.cpusets_enabled()
                && !self.cpuset_node_allowed(&cx.task, z.nid, gfp))
    }

    fn first_zone(&self, ac: &AllocContext<'_>) -> Option<ZoneId> {
        ac.zonelist
            .iter()
            .copied()
            .find(|&z| self.eligible(ac, &self.zones[z]))
    }

    /// `alloc_pages(gfp, order)`: from the calling CPU's node.
    #[inline]
    pub fn alloc_pages(&self, cx: &Cx<'_>, gfp: Gfp, order: u32) -> Result<Page, AllocError> {
        self.alloc_pages_nodemask(cx, gfp, order, None, None)
    }

    /// `alloc_pages_node(nid, gfp, order)`: preferring node `nid`.
    pub fn alloc_pages_node(
        &self,
        cx: &Cx<'_>,
        nid: NodeId,
        gfp: Gfp,
        order: u32,
    ) -> Result<Page, AllocError> {
        self.alloc_pages_nodemask(cx, gfp, order, Some(nid), None)
    }

    /// `alloc_page(gfp)`.
    pub fn alloc_page(&self, cx: &Cx<'_>, gfp: Gfp) -> Result<Page, AllocError> {
        self.alloc_pages(cx, gfp, 0)
    }

    /// `get_zeroed_page(gfp)`: an order-0 page filled with zeroes.
    pub fn get_zeroed_page(&self, cx: &Cx<'_>, gfp: Gfp) -> Result<Page, AllocError> {
        self.alloc_pages(cx, gfp | Gfp::ZERO, 0)
    }

    /// `folio_alloc(gfp, order)`: a compound page.
    pub fn folio_alloc(&self, cx: &Cx<'_>, gfp: Gfp, order: u32) -> Result<Page, AllocError> {
        self.alloc_pages(cx, gfp | Gfp::COMP, order)
    }

    /// `__alloc_pages(gfp, order, preferred_nid, nodemask)`: the heart of
    /// the allocator. Applies the task's scopes (`current_gfp_context()`),
    /// tries the fast path with the low watermark, then the slow path.
    #[inline]
    pub fn alloc_pages_nodemask(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        preferred_nid: Option<NodeId>,
        nodemask: Option<NodeMask>,
    ) -> Result<Page, AllocError> {
        let in_force = cx.task.gfp_context(gfp);
        if let Some(p) = self.alloc_unconstrained_fast(cx, in_force, order, preferred_nid, nodemask)
        {
            return Ok(p);
        }
        self.alloc_pages_general(cx, gfp, order, preferred_nid, nodemask, true)
            .map(|pfn| Page::from_raw(self.id, pfn.expect("the slow path decides")))
    }

    /// The per-CPU fast path, for requests it may serve: small orders with
    /// no placement constraint (`in_force`: the mask with the scopes).
    #[inline(always)]
    fn alloc_unconstrained_fast(
        &self,
        cx: &Cx<'_>,
        in_force: Gfp,
        order: u32,
        preferred_nid: Option<NodeId>,
        nodemask: Option<NodeMask>,
    ) -> Option<Page> {
        if pcp_allowed_order(order) && preferred_nid.is_none() && nodemask.is_none() {
            let pfn = self.alloc_fast(cx.cpu, in_force, order)?;
            return Some(Page::from_raw(self.id, pfn));
        }
        None
    }

    /// The part of [`Machine::alloc_pages_nodemask`] that never blocks: the
    /// fast path, then `__alloc_pages()`'s first attempt at the low
    /// watermark. `Ok(None)`: the request would enter the slow path; the
    /// attempt changed nothing the full call would not do again first, so
    /// a driver may make the full call where blocking is possible (the
    /// simulator runs only those on a task's own stack).
    pub fn alloc_pages_first_attempt(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        preferred_nid: Option<NodeId>,
        nodemask: Option<NodeMask>,
    ) -> Result<Option<Page>, AllocError> {
        let in_force = cx.task.gfp_context(gfp);
        if let Some(p) = self.alloc_unconstrained_fast(cx, in_force, order, preferred_nid, nodemask)
        {
            return Ok(Some(p));
        }
        if in_force.contains(Gfp::WRITE) {
            // Its attempt counts the nodes it skips for their dirty limit:
            // it is left whole to the full call.
            return Ok(None);
        }
        let r = self.alloc_pages_general(cx, gfp, order, preferred_nid, nodemask, false);
        r.map(|pfn| pfn.map(|pfn| Page::from_raw(self.id, pfn)))
    }

    /// The common case in a few loads and one lock: a small order, no
    /// placement constraint, the preferred zone above its low watermark and
    /// a block on this CPU's list. Exactly what the general path would do
    /// in that case (first zone of the zonelist, `ALLOC_WMARK_LOW`, a pop
    /// from the per-CPU list); anything else returns `None` and the general
    /// path decides.
    #[inline(always)]
    pub(crate) fn alloc_fast(&self, cpu: usize, gfp: Gfp, order: u32) -> Option<u32> {
        let me = crate::sync::owner_word(crate::sync::thread_token(), cpu as u32);
        self.alloc_fast_on(self.cpus.get(cpu)?, me, gfp, order)
    }

    /// [`Machine::alloc_fast`] on a CPU already looked up (the runtime
    /// checks the thread's CPU number once, against this table), for the
    /// calling thread, whose owner word for the CPU is `me`
    /// ([`crate::sync::owner_word`]).
    #[inline(always)]
    pub(crate) fn alloc_fast_on(
        &self,
        slot: &CpuSlot,
        me: u64,
        gfp: Gfp,
        order: u32,
    ) -> Option<u32> {
        if (gfp.bits() | FAST_REJECT_ALWAYS) & self.fast_reject.load(Ordering::Relaxed) != 0 {
            return None;
        }
        let r = slot.route[(gfp.bits() & ((1 << ROUTE_BITS) - 1)) as usize];
        debug_assert!(r.zone() < self.zones.len());
        // SAFETY: a route's zone is one of the machine's (`FastRoute`'s
        // invariants), whose zones are fixed when it is built.
        let z = unsafe { self.zones.get_unchecked(r.zone()) };
        // `FastRoute::SLOW` fails here too: its bits are never set.
        if !z.fast_watermark_ok(order, r.ok_shift()) {
            return None;
        }
        let pfn = match slot.pcp.try_own_as(me) {
            Some(mut pcp) => self.fast_take(&mut pcp, r, order, gfp)?,
            None => self.fast_take(&mut *slot.pcp.try_lock()?, r, order, gfp)?,
        };
        // SAFETY: the block came off a per-CPU list, and those hold only
        // blocks that lie in the frame table (see `ZonePcp::lists`).
        let block = unsafe { self.fm.frames.block_unchecked(pfn, order) };
        self.prep_block(
            block,
            pfn,
            order,
            gfp,
            r.head(order, order > 0 && gfp.contains(Gfp::COMP)),
        );
        Some(pfn)
    }

    /// The fast path's pop; an empty list is first refilled from the
    /// buddy lists, as the general path would do at this point (its first
    /// zone passes the watermark: `rmqueue_bulk()` with its allocation
    /// flags), unless the refill finds nothing: then the general path
    /// decides, and counts the refill.
    #[inline(always)]
    fn fast_take(&self, pcp: &mut CpuPages, r: FastRoute, order: u32, gfp: Gfp) -> Option<u32> {
        // SAFETY: a route's zone is one of the machine's, and every CPU has
        // lists for each of them.
        if let Some(pfn) = unsafe { pcp_pop(pcp, r.zone(), order, r.mt()) } {
            return Some(pfn);
        }
        self.fast_refill(pcp, r, order, gfp)
    }

    #[cold]
    #[inline(never)]
    fn fast_refill(&self, pcp: &mut CpuPages, r: FastRoute, order: u32, gfp: Gfp) -> Option<u32> {
        let (zid, mt) = (r.zone(), r.mt());
        debug_assert!(mt < MIGRATE_PCPTYPES);
        let mt_type = match mt {
            0 => MigrateType::Unmovable,
            1 => MigrateType::Movable,
            _ => MigrateType::Reclaimable,
        };
        // `alloc_pages_general()`'s flags for this request: the low
        // watermark, and no cpuset (the fast path is off while cpusets are
        // in use).
        let af = AllocFlags::WMARK_LOW | self.alloc_flags_nofragment(Some(zid), gfp);
        if self.pcp_refill(pcp, &self.zones[zid], order, mt_type, af) == 0 {
            return None;
        }
        pcp.events[Event::PcpRefill as usize] += 1;
        // SAFETY: as in `fast_take`.
        unsafe { pcp_pop(pcp, zid, order, mt) }
    }

    /// `rmqueue_bulk()`: refills the CPU's empty list of `z`, `order` and
    /// `mt` with a batch from the buddy lists; the blocks it got. The
    /// caller counts the refill.
    pub(crate) fn pcp_refill(
        &self,
        pcp: &mut CpuPages,
        z: &Zone,
        order: u32,
        mt: MigrateType,
        af: AllocFlags,
    ) -> u32 {
        let zp = &mut pcp.zones[z.id];
        let list = &mut zp.lists[order as usize][mt as usize];
        let batch = z.pcp_batch.load(Ordering::Relaxed);
        let n = if order == 0 {
            batch
        } else {
            (batch >> order).max(2)
        };
        let mut area = z.free.lock();
        let mut fallbacks = 0;
        for _ in 0..n {
            let Some((p, fb)) = area.rmqueue(&self.fm, order, mt, af) else {
                break;
            };
            fallbacks += fb as u64;
            self.fm
                .frames
                .set(p, FrameState::make(FrameKind::PerCpu, z.id, order));
            list.push(p);
        }
        area.publish(z);
        drop(area);
        let got = list.len() as u32;
        zp.count += got << order;
        zp.refilled = zp.refilled.wrapping_add(u64::from(got) << order);
        pcp.events[Event::Fallback as usize] += fallbacks;
        got
    }

    /// `__alloc_pages()`; with `slow` false, `Ok(None)` where it would
    /// enter the slow path (`Some` otherwise).
    #[inline(never)]
    fn alloc_pages_general(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        preferred_nid: Option<NodeId>,
        nodemask: Option<NodeMask>,
        slow: bool,
    ) -> Result<Option<u32>, AllocError> {
        if order > MAX_PAGE_ORDER {
            if !gfp.contains(Gfp::NOWARN) {
                self.warn_once(
                    cx,
                    WarnSite::OrderTooLarge,
                    "__alloc_pages: order > MAX_PAGE_ORDER",
                );
            }
            return Err(AllocError::OrderTooLarge { order });
        }
        let gfp = crate::mutation::in_force(cx.task.gfp_context(gfp));
        let (mut ac, alloc_gfp, mut af) =
            self.prepare_alloc_pages(cx, gfp, preferred_nid, nodemask)?;
        af |= self.alloc_flags_nofragment(ac.preferred_zone, gfp);

        if let Some(pfn) = self.get_page_from_freelist(cx, alloc_gfp, order, af, &ac) {
            return Ok(Some(pfn));
        }
        if !slow {
            return Ok(None);
        }

        ac.spread_dirty_pages = false;
        ac.nodemask = nodemask;
        self.alloc_slowpath(cx, gfp, order, &mut ac).map(Some)
    }

    /// `prepare_alloc_pages()` for `gfp` (the scopes already applied): the
    /// allocation context, the mask the first attempt uses (with
    /// `__GFP_HARDWALL` while cpusets are in use) and the first attempt's
    /// flags (`ALLOC_WMARK_LOW`, and `ALLOC_CPUSET` where the task's
    /// cpuset is not already the nodemask).
    pub(crate) fn prepare_alloc_pages(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        preferred_nid: Option<NodeId>,
        nodemask: Option<NodeMask>,
    ) -> Result<(AllocContext<'_>, Gfp, AllocFlags), AllocError> {
        let highest = zone::highest_zone(gfp).map_err(AllocError::BadZone)? as usize;
        let mt = crate::mutation::migratetype(gfp).ok_or(AllocError::BadMigratetype(gfp))?;
        let nid = match preferred_nid {
            Some(n) if n >= self.nodes.len() => return Err(AllocError::NoSuchNode(n)),
            Some(n) => n,
            None => self.cpus[cx.cpu].nid,
        };
        let node = &self.nodes[nid];
        let mut ac = AllocContext {
            zonelist: if gfp.contains(Gfp::THISNODE) {
                &node.zonelist_nofallback
            } else {
                &node.zonelist
            },
            nodemask,
            highest_zoneidx: highest,
            migratetype: mt,
            spread_dirty_pages: gfp.contains(Gfp::WRITE),
            preferred_nid: nid,
            preferred_zone: None,
        };
        let mut alloc_gfp = gfp;
        let mut af = AllocFlags::WMARK_LOW;
        if self.cpusets_enabled() {
            alloc_gfp |= Gfp::HARDWALL;
            if !cx.task.in_interrupt() && ac.nodemask.is_none() {
                ac.nodemask = Some(cx.task.mems_allowed);
            } else {
                af |= AllocFlags::CPUSET;
            }
        }
        ac.preferred_zone = self.first_zone(&ac);
        Ok((ac, alloc_gfp, af))
    }

    /// `alloc_flags_nofragment()`: avoid fragmenting fallbacks when the
    /// preferred zone is Normal and DMA32 below it could take the pressure.
    pub(crate) fn alloc_flags_nofragment(&self, preferred: Option<ZoneId>, gfp: Gfp) -> AllocFlags {
        let mut af = if gfp.contains(Gfp::KSWAPD_RECLAIM) {
            AllocFlags::KSWAPD
        } else {
            AllocFlags::default()
        };
        let Some(z) = preferred else { return af };
        let z = &self.zones[z];
        if z.ztype != ZoneType::Normal {
            return af;
        }
        if self.nodes.len() > 1 && self.nodes[z.nid].zones[ZoneType::Dma32 as usize].is_none() {
            return af;
        }
        af |= AllocFlags::NOFRAGMENT;
        af
    }

    /// `get_page_from_freelist()`: walks the zonelist for a zone that meets
    /// the watermark and takes a block from it.
    pub(crate) fn get_page_from_freelist(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        mut af: AllocFlags,
        ac: &AllocContext<'_>,
    ) -> Option<u32> {
        let preferred = ac.preferred_zone?;
        'retry: loop {
            let no_fallback = af.contains(AllocFlags::NOFRAGMENT);
            let mut last_nid = usize::MAX;
            let mut last_dirty_ok = false;
            for &zid in ac.zonelist {
                let z = &self.zones[zid];
                if !self.zone_allowed(cx, ac, af, gfp, z) {
                    continue;
                }
                if ac.spread_dirty_pages {
                    if last_nid != z.nid {
                        last_nid = z.nid;
                        let file_lru = cx.hooks.node_file_lru_pages(self, z.nid);
                        last_dirty_ok = self.node_dirty_ok_with(z.nid, &cx.task, file_lru);
                        if !last_dirty_ok {
                            self.count(Event::DirtySpread, 1);
                        }
                    }
                    if !last_dirty_ok {
                        continue;
                    }
                }
                if no_fallback
                    && self.nodes.len() > 1
                    && zid != preferred
                    && z.nid != self.zones[preferred].nid
                {
                    af -= AllocFlags::NOFRAGMENT;
                    continue 'retry;
                }
                let mark = z.watermark(af.wmark());
                if !z.watermark_fast(order, mark, ac.highest_zoneidx, af)
                    && !af.contains(AllocFlags::NO_WATERMARKS)
                {
                    continue;
                }
                if let Some(pfn) = self.rmqueue(cx, preferred, z, order, gfp, af, ac.migratetype) {
                    if af.contains(AllocFlags::HIGHATOMIC) {
                        self.reserve_highatomic_pageblock(pfn, order, z);
                    }
                    return Some(pfn);
                }
            }
            if no_fallback {
                af -= AllocFlags::NOFRAGMENT;
                continue 'retry;
            }
            return None;
        }
    }

    /// `rmqueue()`: the per-CPU lists for small orders, the buddy lists
    /// otherwise or when the per-CPU lists cannot help.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn rmqueue(
        &self,
        cx: &Cx<'_>,
        preferred: ZoneId,
        z: &Zone,
        order: u32,
        gfp: Gfp,
        af: AllocFlags,
        mt: MigrateType,
    ) -> Option<u32> {
        let pfn = 'got: {
            if pcp_allowed_order(order) {
                if let Some(p) = self.rmqueue_pcplist(cx, preferred, z, order, mt, af) {
                    break 'got p;
                }
            }
            let p = self.rmqueue_buddy(z, order, af, mt)?;
            self.zone_statistics(cx, preferred, z, order);
            p
        };
        self.prep_new_page(pfn, z.id, order, gfp, mt as u32);
        Some(pfn)
    }

    /// Takes a block from this CPU's list, refilling it with a batch from
    /// the buddy lists when empty (`rmqueue_pcplist()`, `rmqueue_bulk()`).
    #[inline]
    fn rmqueue_pcplist(
        &self,
        cx: &Cx<'_>,
        preferred: ZoneId,
        z: &Zone,
        order: u32,
        mt: MigrateType,
        af: AllocFlags,
    ) -> Option<u32> {
        let slot = &self.cpus[cx.cpu];
        let mut pcp = slot.pcp.try_lock()?;
        let pcp = &mut *pcp;
        let zp = &mut pcp.zones[z.id];
        let list = &mut zp.lists[order as usize][mt as usize];
        let pfn = match list.pop() {
            Some(p) => p,
            None => {
                self.pcp_refill(pcp, z, order, mt, af);
                pcp.events[Event::PcpRefill as usize] += 1;
                let zp = &mut pcp.zones[z.id];
                zp.lists[order as usize][mt as usize].pop()?
            }
        };
        let zp = &mut pcp.zones[z.id];
        zp.count -= 1 << order;
        zp.taken = zp.taken.wrapping_add(1 << order);
        let ev = &mut pcp.events;
        ev[zone_event_index(z.id, ZoneEvent::PgAlloc)] += 1 << order;
        let pz = &self.zones[preferred];
        if z.nid == pz.nid {
            ev[zone_event_index(z.id, ZoneEvent::NumaHit)] += 1;
        } else {
            ev[zone_event_index(z.id, ZoneEvent::NumaMiss)] += 1;
            ev[zone_event_index(preferred, ZoneEvent::NumaForeign)] += 1;
        }
        if z.nid == slot.nid {
            ev[zone_event_index(z.id, ZoneEvent::NumaLocal)] += 1;
        } else {
            ev[zone_event_index(z.id, ZoneEvent::NumaOther)] += 1;
        }
        Some(pfn)
    }

    /// `zone_statistics()` for allocations outside the per-CPU path.
    fn zone_statistics(&self, cx: &Cx<'_>, preferred: ZoneId, z: &Zone, order: u32) {
        self.count_zone(z.id, ZoneEvent::PgAlloc, 1 << order);
        let pz = &self.zones[preferred];
        if z.nid == pz.nid {
            self.count_zone(z.id, ZoneEvent::NumaHit, 1);
        } else {
            self.count_zone(z.id, ZoneEvent::NumaMiss, 1);
            self.count_zone(preferred, ZoneEvent::NumaForeign, 1);
        }
        if z.nid == self.cpus[cx.cpu].nid {
            self.count_zone(z.id, ZoneEvent::NumaLocal, 1);
        } else {
            self.count_zone(z.id, ZoneEvent::NumaOther, 1);
        }
    }

    /// `rmqueue_buddy()`: high-atomic reserves first for
    /// `ALLOC_HIGHATOMIC`, then the normal lists and fallbacks, then the
    /// reserves for OOM victims and non-blocking requests.
    fn rmqueue_buddy(&self, z: &Zone, order: u32, af: AllocFlags, mt: MigrateType) -> Option<u32> {
        let mut area = z.free.lock();
        let mut page = None;
        if af.contains(AllocFlags::HIGHATOMIC) {
            page = area.rmqueue_smallest(&self.fm, order, MigrateType::HighAtomic);
        }
        if page.is_none() {
            if let Some((p, fb)) = area.rmqueue(&self.fm, order, mt, af) {
                if fb {
                    self.count(Event::Fallback, 1);
                }
                page = Some(p);
            } else if af.intersects(AllocFlags::OOM | AllocFlags::NON_BLOCK) {
                page = area.rmqueue_smallest(&self.fm, order, MigrateType::HighAtomic);
            }
        }
        if let Some(p) = page {
            // Off the lists but still marked `Buddy` until `prep_new_page`
            // runs after the lock is dropped: another CPU's pageblock walk
            // (claiming, high-atomic reserves) would take it for a listed
            // block. Mark it claimed while the lock is held.
            self.fm
                .frames
                .set(p, FrameState::make(FrameKind::Claimed, z.id, order));
        }
        area.publish(z);
        page
    }

    /// `prep_new_page()`: zeroes the block if asked (`__GFP_ZERO` or
    /// `init_on_alloc`), then writes the head and tail metadata (compound
    /// with `__GFP_COMP`). Zeroing comes first: until the head says
    /// "allocated", no free of a stale handle can take the block away.
    ///
    /// `__GFP_SKIP_ZERO`, `__GFP_ZEROTAGS` and `__GFP_SKIP_KASAN` only
    /// matter with hardware memory tags (KASAN HW tags, arm64 MTE), which
    /// this memory has not: as in a kernel without them, `SKIP_ZERO` does
    /// not skip zeroing, and the other two change nothing.
    #[inline(always)]
    fn prep_new_page(&self, pfn: u32, zone: ZoneId, order: u32, gfp: Gfp, mt: u32) {
        // A block taken off a list lies inside the table (the lists hold
        // only blocks of the zone); one bounds check covers all its frames.
        let block = self
            .fm
            .frames
            .block(pfn, order)
            .expect("a free list held a block outside the frame table");
        self.prep_block(block, pfn, order, gfp, new_head_state(zone, order, gfp, mt));
    }

    /// [`Machine::prep_new_page`] with the block's frame words (`block`,
    /// head first) looked up and the head's metadata word made.
    #[inline(always)]
    fn prep_block(
        &self,
        block: &[AtomicU32],
        pfn: u32,
        order: u32,
        gfp: Gfp,
        head_state: FrameState,
    ) {
        let zero = self.zeroes(gfp);
        if zero {
            // SAFETY: the block was just taken off a free list by this call
            // and its head is not yet marked allocated, so no one else may
            // access its memory.
            unsafe { self.arena.zero(pfn, 1 << order) };
        }
        Self::mark_allocated(block, head_state.with_zeroed(zero));
    }

    /// Whether a new block for `gfp` is zeroed (`__GFP_ZERO`, or the
    /// `init_on_alloc` switch).
    #[inline(always)]
    pub(crate) fn zeroes(&self, gfp: Gfp) -> bool {
        gfp.contains(Gfp::ZERO) || self.init_on_alloc.load(Ordering::Relaxed)
    }

    /// Writes a new block's metadata (`block`: its frames' words, head
    /// first): its tails, then its head, `head_state`. The head comes last:
    /// until it says "allocated", no free of a stale handle can take the
    /// block.
    #[inline(always)]
    pub(crate) fn mark_allocated(block: &[AtomicU32], head_state: FrameState) {
        let (zone, compound) = (head_state.zone(), head_state.compound());
        let (head, tails) = block.split_first().expect("a block has a head");
        for (i, t) in (1u32..).zip(tails) {
            frame::store(t, FrameState::tail(zone, i, compound));
        }
        frame::store(head, head_state);
    }

    /// `reserve_highatomic_pageblock()`: after a high-order atomic
    /// allocation, turns its pageblock into a high-atomic reserve, up to
    /// about 1% of the zone.
    fn reserve_highatomic_pageblock(&self, pfn: u32, order: u32, z: &Zone) {
        let pb = self.fm.pb_pages() as u64;
        let managed = z.managed_pages();
        if managed / 100 < pb {
            return;
        }
        let max_managed = (managed / 100).div_ceil(pb) * pb;
        if z.reserved_highatomic() >= max_managed {
            return;
        }
        let mut area = z.free.lock();
        if z.reserved_highatomic() >= max_managed {
            return;
        }
        let mt = self.fm.pb_mt(pfn);
        if mt == MigrateType::HighAtomic {
            return;
        }
        if order < self.fm.pb_order {
            let start = pfn & !(self.fm.pb_pages() - 1);
            area.move_freepages_block(&self.fm, start, mt, MigrateType::HighAtomic);
            z.nr_reserved_highatomic.fetch_add(pb, Ordering::Relaxed);
        } else {
            self.fm.change_pb_range(pfn, order, MigrateType::HighAtomic);
            z.nr_reserved_highatomic
                .fetch_add(1 << order, Ordering::Relaxed);
        }
        area.publish(z);
        self.count(Event::HighatomicReserve, 1);
    }

    /// `unreserve_highatomic_pageblock()`: gives a high-atomic pageblock
    /// back to the request's migratetype. Keeps one pageblock unless
    /// `force`.
    pub(crate) fn unreserve_highatomic_pageblock(
        &self,
        ac: &AllocContext<'_>,
        force: bool,
    ) -> bool {
        let pb = self.fm.pb_pages() as u64;
        for &zid in ac.zonelist {
            let z = &self.zones[zid];
            if !self.eligible(ac, z) {
                continue;
            }
            if !force && z.reserved_highatomic() <= pb {
                continue;
            }
            let mut area = z.free.lock();
            for order in 0..=MAX_PAGE_ORDER {
                let Some(pfn) = area.first(order as usize, MigrateType::HighAtomic) else {
                    continue;
                };
                let mt = self.fm.pb_mt(pfn);
                if mt == MigrateType::HighAtomic {
                    let size = pb.max(1 << order).min(z.reserved_highatomic());
                    z.nr_reserved_highatomic.fetch_sub(size, Ordering::Relaxed);
                }
                let moved = if order < self.fm.pb_order {
                    let start = pfn & !(self.fm.pb_pages() - 1);
                    area.move_freepages_block(&self.fm, start, mt, ac.migratetype)
                } else {
                    area.remove(pfn, order, mt);
                    area.push(&self.fm, pfn, order, ac.migratetype);
                    self.fm.change_pb_range(pfn, order, ac.migratetype);
                    1
                };
                area.publish(z);
                if moved > 0 {
                    self.count(Event::HighatomicUnreserve, 1);
                    return true;
                }
            }
        }
        false
    }

    // ----- the slow path -----

    fn wake_all_kswapds(&self, cx: &Cx<'_>, order: u32, gfp: Gfp, ac: &AllocContext<'_>) {
        let mut last = usize::MAX;
        for &zid in ac.zonelist {
            let z = &self.zones[zid];
            if !self.eligible(ac, z) || z.nid == last {
                continue;
            }
            last = z.nid;
            self.count(Event::KswapdWake, 1);
            cx.hooks.wake_kswapd(
                self,
                cx,
                z.nid,
                gfp,
                order,
                ZoneType::ALL[ac.highest_zoneidx],
            );
        }
    }

    fn reclaim_request(&self, gfp: Gfp, order: u32, ac: &AllocContext<'_>) -> ReclaimRequest {
        ReclaimRequest {
            gfp,
            order,
            preferred_nid: ac.preferred_nid,
            nodemask: ac.nodemask,
            highest_zone: ZoneType::ALL[ac.highest_zoneidx],
        }
    }

    /// The context a reclaim or compaction hook runs in: the caller's, with
    /// PF_MEMALLOC (`memalloc_noreclaim_save()`).
    fn noreclaim_cx<'a>(&self, cx: &Cx<'a>) -> Cx<'a> {
        let mut task = cx.task;
        task.scope.task_flags = task.scope.task_flags.union(TaskFlags::MEMALLOC);
        Cx { task, ..*cx }
    }

    /// `__alloc_pages_direct_reclaim()`.
    fn direct_reclaim(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        af: AllocFlags,
        ac: &AllocContext<'_>,
    ) -> (Option<u32>, u64) {
        self.count(Event::AllocStall, 1);
        // do_try_to_free_pages(): ALLOCSTALL counted for the reclaim index.
        self.allocstall[ac.highest_zoneidx].fetch_add(1, Ordering::Relaxed);
        let req = self.reclaim_request(gfp, order, ac);
        // `__perform_reclaim()`: a reschedule point before synchronous
        // reclaim starts.
        cx.env.cond_resched();
        let progress = cx.hooks.direct_reclaim(self, &self.noreclaim_cx(cx), &req);
        if progress == 0 {
            // The kernel drains the per-CPU lists only after reclaim made
            // progress, counting on reclaim to have freed something. With
            // no reclaimer (the default hooks) the lists are the only
            // memory left to find, so they are drained here too.
            self.drain_all_pages();
            return (self.get_page_from_freelist(cx, gfp, order, af, ac), 0);
        }
        let mut drained = false;
        loop {
            if let Some(p) = self.get_page_from_freelist(cx, gfp, order, af, ac) {
                return (Some(p), progress);
            }
            if drained {
                return (None, progress);
            }
            self.unreserve_highatomic_pageblock(ac, false);
            self.drain_all_pages();
            drained = true;
        }
    }

    /// `__alloc_pages_direct_compact()`.
    fn direct_compact(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        af: AllocFlags,
        ac: &AllocContext<'_>,
        prio: CompactPriority,
    ) -> (Option<u32>, CompactResult) {
        if order == 0 || !zone::compaction_allowed(gfp) {
            return (None, CompactResult::Skipped);
        }
        let req = self.reclaim_request(gfp, order, ac);
        let r = cx
            .hooks
            .direct_compact(self, &self.noreclaim_cx(cx), &req, prio);
        if r == CompactResult::Skipped {
            return (None, r);
        }
        self.count(Event::CompactStall, 1);
        (self.get_page_from_freelist(cx, gfp, order, af, ac), r)
    }

    /// `should_reclaim_retry()`.
    #[allow(clippy::too_many_arguments)]
    fn should_reclaim_retry(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        ac: &AllocContext<'_>,
        af: AllocFlags,
        progress: bool,
        no_progress_loops: &mut u32,
    ) -> bool {
        if progress && order <= PAGE_ALLOC_COSTLY_ORDER {
            *no_progress_loops = 0;
        } else {
            *no_progress_loops += 1;
        }
        let mut ret = false;
        if *no_progress_loops <= MAX_RECLAIM_RETRIES {
            for &zid in ac.zonelist {
                let z = &self.zones[zid];
                if !self.zone_allowed(cx, ac, af, gfp, z) {
                    continue;
                }
                let available = cx.hooks.zone_reclaimable_pages(self, zid) as i64 + z.free_pages();
                if z.watermark_ok_with(order, z.watermark(0), ac.highest_zoneidx, af, available) {
                    ret = true;
                    break;
                }
            }
            if cx.task.wq_worker {
                cx.env.sleep_ns(TICK_NS);
            } else {
                cx.env.cond_resched();
            }
        }
        if !ret {
            return self.unreserve_highatomic_pageblock(ac, true);
        }
        ret
    }

    /// `should_compact_retry()`, asked only once reclaim made progress
    /// (`progress` pages) and compaction is allowed: compaction depends on
    /// enough free memory, so retrying it makes no sense while order-0
    /// reclaim makes none.
    fn should_compact_retry(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        ac: &AllocContext<'_>,
        progress: u64,
        retries: &mut SlowPathRetries,
    ) -> bool {
        progress > 0
            && zone::compaction_allowed(gfp)
            && cx.hooks.should_compact_retry(
                self,
                &self.reclaim_request(gfp, order, ac),
                retries.compact_result,
                &mut retries.compact_priority,
                &mut retries.compaction_retries,
            )
    }

    /// `__alloc_pages_cpuset_fallback()`.
    fn cpuset_fallback(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        af: AllocFlags,
        ac: &AllocContext<'_>,
    ) -> Option<u32> {
        self.get_page_from_freelist(cx, gfp, order, af | AllocFlags::CPUSET, ac)
            .or_else(|| self.get_page_from_freelist(cx, gfp, order, af, ac))
    }

    /// `__alloc_pages_may_oom()`: one more try at the high watermark, then
    /// the OOM hook where the kernel would call the OOM killer.
    fn may_oom(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        ac: &AllocContext<'_>,
    ) -> (Option<u32>, bool) {
        if self.oom_lock.swap(true, Ordering::Acquire) {
            cx.env.sleep_ns(TICK_NS);
            return (None, true);
        }
        let mut progress = false;
        let mut page = self.get_page_from_freelist(
            cx,
            (gfp | Gfp::HARDWALL) - Gfp::DIRECT_RECLAIM,
            order,
            AllocFlags::WMARK_HIGH | AllocFlags::CPUSET,
            ac,
        );
        if page.is_none()
            && order <= PAGE_ALLOC_COSTLY_ORDER
            && !gfp.intersects(Gfp::RETRY_MAYFAIL | Gfp::THISNODE)
            && ac.highest_zoneidx >= ZoneType::Normal as usize
        {
            self.count(Event::OomCall, 1);
            let oc = OomControl {
                gfp,
                order,
                nodemask: ac.nodemask,
                preferred_nid: ac.preferred_nid,
            };
            let killed = cx.hooks.out_of_memory(self, cx, &oc);
            let nofail = gfp.contains(Gfp::NOFAIL);
            // WARN_ON_ONCE_GFP(): silent under __GFP_NOWARN, and reached
            // only when the OOM killer made no progress.
            if !killed && nofail && !gfp.contains(Gfp::NOWARN) {
                self.warn_once(
                    cx,
                    WarnSite::NofailOom,
                    "__alloc_pages_may_oom: __GFP_NOFAIL and the OOM killer made no progress",
                );
            }
            if killed || nofail {
                progress = true;
                if nofail {
                    page = self.cpuset_fallback(cx, gfp, order, AllocFlags::NO_WATERMARKS, ac);
                }
            }
        }
        self.oom_lock.store(false, Ordering::Release);
        cx.env.notify(crate::env::WaitEvent::OomLock);
        (page, progress)
    }

    /// `check_retry_cpuset()`: restart when the cpuset changed under us, or
    /// when the nodemask no longer meets the task's nodes.
    fn check_retry_cpuset(&self, cx: &Cx<'_>, cookie: u64, ac: &mut AllocContext<'_>) -> bool {
        if self.cpusets_enabled() {
            if let Some(m) = ac.nodemask {
                if !m.intersects(cx.task.mems_allowed) {
                    ac.nodemask = None;
                    return true;
                }
            }
        }
        self.cpuset_seq.load(Ordering::Relaxed) != cookie
    }

    /// The `__GFP_NOFAIL` misuses `__alloc_pages_slowpath()` warns about
    /// once: an order above 1, no direct reclaim, or a `PF_MEMALLOC` task.
    fn warn_nofail_misuse(&self, cx: &Cx<'_>, order: u32, can_direct_reclaim: bool) {
        if order > 1 {
            self.warn_once(
                cx,
                WarnSite::NofailOrder,
                "__alloc_pages_slowpath: __GFP_NOFAIL with order > 1",
            );
        }
        if !can_direct_reclaim {
            self.warn_once(
                cx,
                WarnSite::NofailNoReclaim,
                "__alloc_pages_slowpath: __GFP_NOFAIL without __GFP_DIRECT_RECLAIM",
            );
        }
        if cx.task.memalloc() {
            self.warn_once(
                cx,
                WarnSite::NofailMemalloc,
                "__alloc_pages_slowpath: __GFP_NOFAIL from PF_MEMALLOC",
            );
        }
    }

    /// The slow path's first direct compaction, asynchronous, before any
    /// reclaim: for costly orders (there are likely base pages enough) and
    /// non-movable high orders (compaction fights fragmentation), not for
    /// requests that may use the reserves (their attempt without
    /// watermarks comes first). A costly `__GFP_NORETRY` request keeps the
    /// asynchronous priority, and gives up when compaction was skipped or
    /// deferred or the request is `__GFP_THISNODE`.
    fn initial_compaction(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        af: AllocFlags,
        ac: &AllocContext<'_>,
        retries: &mut SlowPathRetries,
    ) -> InitialCompaction {
        let costly = order > PAGE_ALLOC_COSTLY_ORDER;
        if !(gfp.contains(Gfp::DIRECT_RECLAIM)
            && zone::compaction_allowed(gfp)
            && (costly || (order > 0 && ac.migratetype != MigrateType::Movable))
            && pfmemalloc_flags(gfp, &cx.task) == AllocFlags::default())
        {
            return InitialCompaction::Retry;
        }
        let (p, r) = self.direct_compact(cx, gfp, order, af, ac, CompactPriority::Async);
        if let Some(p) = p {
            return InitialCompaction::Page(p);
        }
        let mut next = InitialCompaction::Retry;
        if costly && gfp.contains(Gfp::NORETRY) {
            if matches!(r, CompactResult::Skipped | CompactResult::Deferred)
                || gfp.contains(Gfp::THISNODE)
            {
                next = InitialCompaction::NoPage;
            }
            retries.compact_priority = CompactPriority::Async;
        }
        next
    }

    /// The retry loop's reserve step: a request that may use the reserves
    /// (`__gfp_pfmemalloc_flags()`) takes their flags, keeping
    /// `ALLOC_KSWAPD`; one that ignores cpusets, or uses the reserves,
    /// drops the nodemask and starts again from the first zone.
    fn apply_reserve_flags(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        af: &mut AllocFlags,
        ac: &mut AllocContext<'_>,
    ) {
        let reserve = pfmemalloc_flags(gfp, &cx.task);
        if reserve != AllocFlags::default() {
            *af = reserve | (*af & AllocFlags::KSWAPD);
        }
        if !af.contains(AllocFlags::CPUSET) || reserve != AllocFlags::default() {
            ac.nodemask = None;
            ac.preferred_zone = self.first_zone(ac);
        }
    }

    /// A `__GFP_NOFAIL` request that may reclaim, at `nopage`: one try
    /// with the minimum reserve, ignoring cpusets if it must; when that
    /// fails too, a reschedule point before the caller retries.
    fn nofail_last_resort(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        ac: &AllocContext<'_>,
    ) -> Option<u32> {
        let page = self.cpuset_fallback(cx, gfp, order, AllocFlags::MIN_RESERVE, ac);
        if page.is_none() {
            self.count(Event::NofailRetry, 1);
            cx.env.cond_resched();
        }
        page
    }

    /// `__alloc_pages_slowpath()`.
    fn alloc_slowpath(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        ac: &mut AllocContext<'_>,
    ) -> Result<u32, AllocError> {
        let can_direct_reclaim = gfp.contains(Gfp::DIRECT_RECLAIM);
        let can_compact = zone::compaction_allowed(gfp);
        let nofail = gfp.contains(Gfp::NOFAIL);
        let costly = order > PAGE_ALLOC_COSTLY_ORDER;
        self.count(Event::AllocSlowpath, 1);

        if nofail {
            self.warn_nofail_misuse(cx, order, can_direct_reclaim);
        }

        'restart: loop {
            let mut retries = SlowPathRetries::new();
            let cookie = self.cpuset_seq.load(Ordering::Relaxed);
            let mut af = gfp_to_alloc_flags(gfp, order, &cx.task);
            ac.preferred_zone = self.first_zone(ac);
            let mut skip_to_nopage = ac.preferred_zone.is_none();

            if !skip_to_nopage {
                if af.contains(AllocFlags::KSWAPD) {
                    self.wake_all_kswapds(cx, order, gfp, ac);
                }
                if let Some(p) = self.get_page_from_freelist(cx, gfp, order, af, ac) {
                    return Ok(p);
                }
                match self.initial_compaction(cx, gfp, order, af, ac, &mut retries) {
                    InitialCompaction::Page(p) => return Ok(p),
                    InitialCompaction::NoPage => skip_to_nopage = true,
                    InitialCompaction::Retry => {}
                }
            }

            'retry: loop {
                let nopage = skip_to_nopage
                    || 'body: {
                        if self.check_retry_cpuset(cx, cookie, ac) {
                            continue 'restart;
                        }
                        if af.contains(AllocFlags::KSWAPD) {
                            self.wake_all_kswapds(cx, order, gfp, ac);
                        }
                        self.apply_reserve_flags(cx, gfp, &mut af, ac);
                        if let Some(p) = self.get_page_from_freelist(cx, gfp, order, af, ac) {
                            return Ok(p);
                        }
                        if !can_direct_reclaim || cx.task.memalloc() {
                            break 'body true;
                        }
                        let (p, progress) = self.direct_reclaim(cx, gfp, order, af, ac);
                        if let Some(p) = p {
                            return Ok(p);
                        }
                        let (p, r) =
                            self.direct_compact(cx, gfp, order, af, ac, retries.compact_priority);
                        retries.compact_result = r;
                        if let Some(p) = p {
                            return Ok(p);
                        }
                        if gfp.contains(Gfp::NORETRY) {
                            break 'body true;
                        }
                        if costly && (!can_compact || !gfp.contains(Gfp::RETRY_MAYFAIL)) {
                            break 'body true;
                        }
                        if self.should_reclaim_retry(
                            cx,
                            gfp,
                            order,
                            ac,
                            af,
                            progress > 0,
                            &mut retries.no_progress_loops,
                        ) {
                            continue 'retry;
                        }
                        if self.should_compact_retry(cx, gfp, order, ac, progress, &mut retries) {
                            continue 'retry;
                        }
                        if self.check_retry_cpuset(cx, cookie, ac) {
                            continue 'restart;
                        }
                        let (p, oom_progress) = self.may_oom(cx, gfp, order, ac);
                        if let Some(p) = p {
                            return Ok(p);
                        }
                        if cx.task.oom_victim
                            && (af.contains(AllocFlags::OOM) || gfp.contains(Gfp::NOMEMALLOC))
                        {
                            break 'body true;
                        }
                        if oom_progress {
                            retries.no_progress_loops = 0;
                            continue 'retry;
                        }
                        true
                    };
                debug_assert!(nopage);
                skip_to_nopage = false;
                if self.check_retry_cpuset(cx, cookie, ac) {
                    continue 'restart;
                }
                if nofail && can_direct_reclaim {
                    if let Some(p) = self.nofail_last_resort(cx, gfp, order, ac) {
                        return Ok(p);
                    }
                    continue 'retry;
                }
                break 'restart;
            }
        }
        self.count(Event::AllocFail, 1);
        self.warn_alloc(cx, gfp, order, ac.nodemask);
        Err(AllocError::NoMemory { gfp, order })
    }

    /// `warn_alloc()`: the failure report, unless `__GFP_NOWARN`, rate
    /// limited to one per 10 seconds of the environment's clock.
    ///
    /// As in 6.12, the rate limit is consulted before the test for a DMA
    /// request on a machine without a DMA zone, so such a request uses up
    /// the interval's report without printing one; the mask is rendered by
    /// 6.12's `%pGg` name table ([`crate::report::pgg`]); the cpuset part
    /// (`cpuset_print_current_mems_allowed()`) is always printed, since the
    /// modelled kernel has cpusets, with `/` for the root cpuset.
    fn warn_alloc(&self, cx: &Cx<'_>, gfp: Gfp, order: u32, nodemask: Option<NodeMask>) {
        if gfp.contains(Gfp::NOWARN) || !self.ratelimit_ok(cx) {
            return;
        }
        if gfp.contains(Gfp::DMA) && !self.has_managed_dma() {
            return;
        }
        let mut line = alloc::format!(
            "{}: page allocation failure: order:{order}, mode:{:#x}({}), nodemask=",
            cx.comm(),
            gfp.bits(),
            crate::report::pgg(gfp)
        );
        match nodemask {
            Some(m) => line.push_str(&alloc::format!("{m}")),
            None => line.push_str("(null)"),
        }
        let name = self.cpuset_name(cx.task.cpuset);
        line.push_str(&alloc::format!(
            ",cpuset={name},mems_allowed={}",
            self.mems_allowed_of(&cx.task)
        ));
        cx.env.log(LogLevel::Warning, &line);
        let filter = if !gfp.contains(Gfp::NOMEMALLOC)
            && (cx.task.oom_victim || cx.task.memalloc() || cx.task.exiting)
            || cx.task.in_interrupt()
            || !gfp.contains(Gfp::DIRECT_RECLAIM)
        {
            None
        } else {
            Some(nodemask.unwrap_or(cx.task.mems_allowed))
        };
        for l in self.show_mem_lines(filter, zone::highest_zone(gfp).unwrap_or(ZoneType::Movable)) {
            // __show_mem() prints without a level: the default, KERN_WARNING.
            cx.env.log(LogLevel::Warning, &l);
        }
    }

    /// `__ratelimit()` with a 10 s interval and a burst of 1.
    fn ratelimit_ok(&self, cx: &Cx<'_>) -> bool {
        let now = cx.env.now_ns();
        let mut rl = self.ratelimit.lock();
        let interval = 10 * 1_000_000_000u64;
        // `time_is_before_jiffies(begin + interval)`: a new interval starts
        // only once the old one has passed, not at its last instant.
        match rl.begin_ns {
            Some(b) if now.saturating_sub(b) <= interval => {}
            _ => {
                if rl.missed > 0 {
                    let missed = rl.missed;
                    rl.missed = 0;
                    cx.env.log(
                        LogLevel::Warning,
                        &alloc::format!("warn_alloc: {missed} callbacks suppressed"),
                    );
                }
                rl.begin_ns = Some(now);
                rl.printed = 0;
            }
        }
        if rl.printed < 1 {
            rl.printed += 1;
            true
        } else {
            rl.missed += 1;
            false
        }
    }
}
