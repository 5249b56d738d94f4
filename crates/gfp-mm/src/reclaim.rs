//! Page reclaim (mm/vmscan.c): aging of the active and inactive lists,
//! `shrink_folio_list()`'s decisions for anonymous, clean, dirty, mapped
//! and private pages, shrinkers, and the entry points of direct reclaim
//! (`try_to_free_pages()`) and memcg reclaim.
//!
//! What a page needs to go: an anonymous page is written to swap, which
//! needs `__GFP_IO` and swap space; a clean file page is dropped, but
//! releasing filesystem-private data needs `__GFP_FS`; a dirty file page is
//! written back by kswapd or the flusher, never by direct reclaim (which
//! only wakes the flusher). A referenced mapped page is activated, a
//! referenced unmapped one gets a second trip round the inactive list.

use alloc::sync::Arc;
use alloc::vec::Vec;

use gfp::zone::ZoneType;
use gfp::Gfp;

use crate::env::IoRequest;
use crate::hooks::ReclaimRequest;
use crate::machine::{Cx, Machine};
use crate::memcg::{MemcgEvent, MemcgId, Protection};
use crate::nodemask::{NodeId, NodeMask};
use crate::page::Page;
use crate::shrinker::{ShrinkControl, Shrinker, SHRINK_STOP};
use crate::vm::{LruList, PageInfo, PageKind, Stat, Vm, VmState};

/// Pages one direct reclaim round aims for (`SWAP_CLUSTER_MAX`).
pub const SWAP_CLUSTER_MAX: u64 = 32;
/// The first (lowest effort) scan priority (`DEF_PRIORITY`): a list is
/// scanned `size >> priority` at a time.
pub const DEF_PRIORITY: u32 = 12;

/// `struct scan_control`: one reclaim invocation's constraints.
#[derive(Clone, Copy, Debug)]
pub struct ScanControl {
    /// The mask of the allocation reclaim serves.
    pub gfp: Gfp,
    /// Pages to reclaim before stopping.
    pub nr_to_reclaim: u64,
    /// The allocation's order.
    pub order: u32,
    /// The highest zone whose pages count (`reclaim_idx`).
    pub reclaim_idx: ZoneType,
    /// Nodes to reclaim from.
    pub nodemask: Option<NodeMask>,
    /// Reclaim on behalf of kswapd: may write back dirty file pages.
    pub kswapd: bool,
    /// Only pages of this memory cgroup (and its descendants).
    pub memcg: Option<MemcgId>,
    /// `memcg_low_reclaim`: reclaim groups below their `memory.low` too
    /// (raising their `low` event), as the retry after a pass that freed
    /// nothing but skipped protected groups does.
    pub memcg_low_reclaim: bool,
}

/// The lists of one node as one `shrink_node()` pass scans them: the
/// reclaim's constraints and the groups its `memory.min` and `memory.low`
/// tests protect.
pub(crate) struct NodeLists<'a> {
    pub(crate) nid: NodeId,
    pub(crate) sc: &'a ScanControl,
    /// Indexed by group id: pages left alone in this pass.
    pub(crate) protected: &'a [bool],
}

/// What one `shrink_node` pass did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ShrinkResult {
    pub(crate) reclaimed: u64,
    pub(crate) scanned: u64,
    pub(crate) swapped: u64,
    /// Swap writes the device failed (the pages stayed).
    pub(crate) swap_failed: u64,
    pub(crate) written: u64,
    pub(crate) dirty_skipped: u64,
}

impl Vm {
    /// `try_to_free_pages()`: direct reclaim for an allocation. The caller
    /// (the slow path) runs it with PF_MEMALLOC set on `cx.task`.
    pub fn try_to_free_pages(&self, m: &Machine, cx: &Cx<'_>, req: &ReclaimRequest) -> u64 {
        let sc = ScanControl {
            gfp: cx.task.gfp_context(req.gfp),
            nr_to_reclaim: SWAP_CLUSTER_MAX,
            order: req.order,
            reclaim_idx: req.highest_zone,
            nodemask: req.nodemask,
            kswapd: false,
            memcg: None,
            memcg_low_reclaim: false,
        };
        let cx = self.cx(cx);
        // Left on drop, so that a reclaimer unwound out of a blocking point
        // (a simulator's watchdog, a wait it models by restarting the
        // allocation) is not left inside fs_reclaim for lockdep.
        let _in_fs_reclaim = sc
            .gfp
            .contains(Gfp::FS)
            .then(|| FsReclaimSection::enter(&self.lockdep, cx.task.pid));
        let first = req.preferred_nid;
        let mut nodes: Vec<NodeId> = (0..m.nr_nodes()).collect();
        nodes.sort_by_key(|&n| (n != first, n));
        self.do_try_to_free_pages(m, &cx, &sc, &nodes)
    }

    /// Memcg reclaim (`try_to_free_mem_cgroup_pages()`): pages charged to
    /// `memcg`'s subtree, from every node.
    pub fn try_to_free_mem_cgroup_pages(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        memcg: MemcgId,
        nr_pages: u64,
        gfp: Gfp,
    ) -> u64 {
        let sc = ScanControl {
            gfp: cx.task.gfp_context(gfp),
            nr_to_reclaim: nr_pages.max(SWAP_CLUSTER_MAX),
            order: 0,
            reclaim_idx: ZoneType::Movable,
            nodemask: None,
            kswapd: false,
            memcg: Some(memcg),
            memcg_low_reclaim: false,
        };
        let mut task = cx.task;
        task.scope.task_flags = task.scope.task_flags.union(gfp::TaskFlags::MEMALLOC);
        let cx = Cx {
            task,
            ..self.cx(cx)
        };
        let nodes: Vec<NodeId> = (0..m.nr_nodes()).collect();
        self.do_try_to_free_pages(m, &cx, &sc, &nodes)
    }

    /// `do_try_to_free_pages()`: priority from [`DEF_PRIORITY`] down to 0
    /// until enough is reclaimed. A pass that freed nothing but left
    /// groups alone for their `memory.low` is run again with
    /// `memcg_low_reclaim` ("untapped cgroup reserves? don't OOM, retry").
    pub(crate) fn do_try_to_free_pages(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        sc: &ScanControl,
        nodes: &[NodeId],
    ) -> u64 {
        let mut sc = *sc;
        loop {
            let mut total = 0;
            let mut low_skipped = false;
            for prio in (0..=DEF_PRIORITY).rev() {
                for &nid in nodes {
                    if sc.nodemask.is_some_and(|nm| !nm.contains(nid)) {
                        continue;
                    }
                    let want = sc.nr_to_reclaim - total;
                    let r = self.shrink_node(m, cx, &sc, nid, prio, want, &mut low_skipped);
                    total += r;
                    if total >= sc.nr_to_reclaim {
                        return total;
                    }
                }
                cx.env.cond_resched();
            }
            if total > 0 || !low_skipped || sc.memcg_low_reclaim {
                return total;
            }
            sc.memcg_low_reclaim = true;
        }
    }

    /// `shrink_node()` at one priority: the LRU lists (aging, then
    /// eviction), then the shrinkers. Returns pages reclaimed; sets
    /// `low_skipped` when it left a group alone for its `memory.low`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn shrink_node(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        sc: &ScanControl,
        nid: NodeId,
        prio: u32,
        want: u64,
        low_skipped: &mut bool,
    ) -> u64 {
        let mut res = ShrinkResult::default();
        {
            let mut st = self.state.lock();
            let protected = self.memcg_protection(&mut st, sc, low_skipped);
            for kind in [PageKind::File, PageKind::Anon] {
                if kind == PageKind::Anon
                    && (self.config.swap_pages == 0 || st.swap_used >= self.config.swap_pages)
                {
                    // can_reclaim_anon_pages(): no swap space, nothing to do.
                    continue;
                }
                let inactive = LruList::of(kind, false);
                let active = LruList::of(kind, true);
                let n = &st.nodes[nid];
                let (ni, na) = (n.counts[inactive as usize], n.counts[active as usize]);
                // inactive_is_low(): keep the inactive list at least as big
                // as the active one (a ratio of 1 at these sizes).
                let lists = NodeLists {
                    nid,
                    sc,
                    protected: &protected,
                };
                if na > ni {
                    let nr = scan_count(na, prio).min(na - ni);
                    self.shrink_active_list(&mut st, &lists, active, nr);
                }
                let ni = st.nodes[nid].counts[inactive as usize];
                let nr = scan_count(ni, prio).max(want.min(ni));
                self.shrink_inactive_list(m, cx, &mut st, &lists, inactive, nr, &mut res);
                if res.reclaimed >= want {
                    break;
                }
            }
        }
        // pgsteal_*/pgscan_* count the LRU pages as shrink_inactive_list()
        // does, before the I/O waits and the shrinkers: a reclaimer that
        // blocks in either (a shrinker taking a lock its caller holds) has
        // already freed these pages.
        let (steal, scan) = if sc.kswapd {
            (Stat::PgstealKswapd, Stat::PgscanKswapd)
        } else {
            (Stat::PgstealDirect, Stat::PgscanDirect)
        };
        self.stats.add(steal, res.reclaimed);
        self.stats.add(scan, res.scanned);
        // Failed writes were submitted too: the device's latency is paid
        // for every page tried.
        let swap_io = res.swapped + res.swap_failed;
        if swap_io > 0 {
            cx.env.start_io(IoRequest {
                nid,
                pages: swap_io,
                write: true,
            });
            cx.env
                .sleep_ns(self.config.swap_latency_ns * swap_io.div_ceil(SWAP_CLUSTER_MAX));
        }
        if res.written > 0 {
            cx.env.start_io(IoRequest {
                nid,
                pages: res.written,
                write: true,
            });
            cx.env.sleep_ns(
                self.config.writeback_latency_ns * res.written.div_ceil(SWAP_CLUSTER_MAX),
            );
        }
        if res.dirty_skipped > 0 {
            // wakeup_flusher_threads(): the flusher, not direct reclaim,
            // writes these (the simulator runs it: Vm::flush_dirty).
            self.stats.add(Stat::FlusherWakeups, 1);
        }
        if sc.memcg.is_none() {
            // Pages the shrinkers free count towards the reclaim target
            // (flush_reclaim_state()) but not in pgsteal_*: they are in
            // slabs_scanned.
            res.reclaimed += self.shrink_slab(m, cx, sc, nid, prio);
        }
        res.reclaimed
    }

    /// `shrink_node_memcgs()`'s protection test for each group of the
    /// reclaim's subtree (`mem_cgroup_below_min()`, then
    /// `mem_cgroup_below_low()`): indexed by group id, whether its pages
    /// are left alone in this pass. A group below its effective min always
    /// is, without an event. Without `memcg_low_reclaim` the groups below
    /// their low are too, and `low_skipped` records it; with it they are
    /// reclaimed and each one raises its `low` event. Every group of the
    /// subtree is visited once per node and priority (6.12's direct
    /// reclaim may end a walk early once it has reclaimed enough).
    fn memcg_protection(
        &self,
        st: &mut VmState,
        sc: &ScanControl,
        low_skipped: &mut bool,
    ) -> Vec<bool> {
        let target = sc.memcg.unwrap_or(MemcgId::ROOT);
        let prot = st.memcg.protection(target);
        let mut skip = alloc::vec![false; prot.len()];
        for g in st.memcg.subtree_preorder(target) {
            match prot[g.0] {
                Protection::None => {}
                Protection::Min => skip[g.0] = true,
                Protection::Low if !sc.memcg_low_reclaim => {
                    skip[g.0] = true;
                    *low_skipped = true;
                }
                Protection::Low => st.memcg.memory_event(g, MemcgEvent::Low),
            }
        }
        skip
    }

    fn shrink_active_list(
        &self,
        st: &mut VmState,
        lists: &NodeLists<'_>,
        active: LruList,
        nr: u64,
    ) {
        let mut keep = Vec::new();
        for _ in 0..nr {
            let Some((pfn, info)) = st.pop_tail(lists.nid, active) else {
                break;
            };
            if !self.eligible(&info, lists, st) {
                keep.push((pfn, info));
                continue;
            }
            // The group's PGREFILL and PGDEACTIVATE (shrink_active_list()):
            // every page scanned here is deactivated.
            let stat = st.memcg.stat_mut(info.memcg);
            stat.pgrefill += 1;
            stat.pgdeactivate += 1;
            // Referenced mapped executable pages would stay active; every
            // other page is deactivated, its referenced bit cleared.
            st.lru_add(
                pfn,
                PageInfo {
                    active: false,
                    referenced: false,
                    ..info
                },
            );
        }
        for (pfn, info) in keep.into_iter().rev() {
            st.lru_add(pfn, info);
        }
    }

    fn eligible(&self, info: &PageInfo, lists: &NodeLists<'_>, st: &VmState) -> bool {
        let sc = lists.sc;
        let zt_ok = (info.zone_type() as usize) <= sc.reclaim_idx as usize;
        zt_ok
            && !lists.protected.get(info.memcg.0).copied().unwrap_or(false)
            && sc
                .memcg
                .is_none_or(|mc| st.memcg.is_descendant(info.memcg, mc))
    }

    /// `shrink_inactive_list()` + `shrink_folio_list()`.
    #[allow(clippy::too_many_arguments)]
    fn shrink_inactive_list(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        st: &mut VmState,
        lists: &NodeLists<'_>,
        inactive: LruList,
        nr: u64,
        res: &mut ShrinkResult,
    ) {
        let (nid, sc) = (lists.nid, lists.sc);
        let mut keep: Vec<(u32, PageInfo)> = Vec::new();
        let mut activate: Vec<(u32, PageInfo)> = Vec::new();
        let mut scanned = 0;
        while scanned < nr {
            let Some((pfn, info)) = st.pop_tail(nid, inactive) else {
                break;
            };
            if !self.eligible(&info, lists, st) {
                keep.push((pfn, info));
                continue;
            }
            scanned += 1;
            let stat = st.memcg.stat_mut(info.memcg);
            if sc.kswapd {
                stat.pgscan_kswapd += 1;
            } else {
                stat.pgscan_direct += 1;
            }
            // folio_check_references()
            if info.referenced {
                let next = PageInfo {
                    referenced: false,
                    ..info
                };
                if info.spec.mapped || info.spec.kind == PageKind::Anon {
                    st.memcg.stat_mut(info.memcg).pgactivate += 1;
                    activate.push((
                        pfn,
                        PageInfo {
                            active: true,
                            ..next
                        },
                    ));
                } else {
                    keep.push((pfn, next));
                }
                continue;
            }
            match info.spec.kind {
                PageKind::Anon => {
                    if !sc.gfp.contains(Gfp::IO) {
                        self.stats.add(Stat::AnonKeptNoio, 1);
                        keep.push((pfn, info));
                        continue;
                    }
                    if st.swap_used >= self.config.swap_pages {
                        st.memcg.stat_mut(info.memcg).pgactivate += 1;
                        activate.push((
                            pfn,
                            PageInfo {
                                active: true,
                                ..info
                            },
                        ));
                        continue;
                    }
                    if cx.env.swap_write_fails(nid) {
                        // end_swap_bio_write() with an error: the folio is
                        // redirtied and stays in memory; reclaim made no
                        // progress with it (the slot is given back here).
                        self.stats.add(Stat::SwapWriteErrors, 1);
                        res.swap_failed += 1;
                        keep.push((pfn, info));
                        continue;
                    }
                    st.swap_used += 1;
                    st.page_state.mod_swap(0, 1);
                    if let Some(p) = info.owner.and_then(|o| st.procs.get_mut(&o)) {
                        p.swapents += 1;
                    }
                    res.swapped += 1;
                    self.stats.add(Stat::Pswpout, 1);
                }
                PageKind::File => {
                    if info.spec.dirty {
                        if sc.kswapd && sc.gfp.contains(Gfp::IO) {
                            // pageout(): written, reclaimed on a later pass. A
                            // failed write cleans the page too: the error
                            // stays in the mapping (mapping_set_error()).
                            if cx.env.writeback_fails(nid) {
                                self.stats.add(Stat::WritebackErrors, 1);
                            }
                            let _ = m.clear_page_dirty(cx, Page::from_raw(self.machine_id, pfn));
                            res.written += 1;
                            self.stats.add(Stat::Pgwriteback, 1);
                            keep.push((
                                pfn,
                                PageInfo {
                                    spec: crate::vm::PageSpec {
                                        dirty: false,
                                        ..info.spec
                                    },
                                    ..info
                                },
                            ));
                        } else {
                            res.dirty_skipped += 1;
                            self.stats.add(Stat::DirtySkipped, 1);
                            keep.push((pfn, info));
                        }
                        continue;
                    }
                    if info.spec.private && !sc.gfp.contains(Gfp::FS) {
                        self.stats.add(Stat::FileKeptNofs, 1);
                        keep.push((pfn, info));
                        continue;
                    }
                }
            }
            // Reclaim: unmap, drop from the LRU, free.
            st.unaccount(&info);
            if m.free_pages(cx, Page::from_raw(self.machine_id, pfn), 0)
                .is_ok()
            {
                res.reclaimed += 1;
                let stat = st.memcg.stat_mut(info.memcg);
                if sc.kswapd {
                    stat.pgsteal_kswapd += 1;
                } else {
                    stat.pgsteal_direct += 1;
                }
            }
        }
        res.scanned += scanned;
        // Kept pages go back to the head of the inactive list (the tail
        // holds what was not scanned yet).
        for (pfn, info) in keep.into_iter().rev() {
            st.lru_add(pfn, info);
        }
        for (pfn, info) in activate {
            st.lru_add(pfn, info);
        }
    }

    /// `shrink_slab()`: each shrinker scans its share at this priority.
    fn shrink_slab(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        sc: &ScanControl,
        nid: NodeId,
        prio: u32,
    ) -> u64 {
        let shrinkers: Vec<Arc<dyn Shrinker>> = self.shrinkers.lock().clone();
        let mut freed = 0;
        for s in shrinkers {
            let mut ctl = ShrinkControl {
                gfp: sc.gfp,
                nid,
                nr_to_scan: 0,
            };
            let count = s.count(&ctl);
            if count == 0 {
                continue;
            }
            ctl.nr_to_scan = scan_count(count, prio).max(count.min(SWAP_CLUSTER_MAX));
            let r = s.scan(m, cx, &ctl);
            if r != SHRINK_STOP {
                freed += r;
            }
        }
        self.stats.add(Stat::SlabsScanned, freed);
        freed
    }

    /// The flusher (`wb_workfn()`): writes back up to `max` dirty file
    /// pages of `nid`, which later reclaim can then drop. Sleeps the
    /// writeback latency; a simulator or runtime thread calls it.
    pub fn flush_dirty(&self, m: &Machine, cx: &Cx<'_>, nid: NodeId, max: u64) -> u64 {
        let mut written = 0;
        {
            let mut st = self.state.lock();
            let dirty: Vec<u32> = st
                .pages
                .iter()
                .filter(|(_, i)| i.nid == nid && i.spec.dirty)
                .map(|(p, _)| p)
                .take(max as usize)
                .collect();
            for pfn in dirty {
                if let Some(i) = st.pages.get_mut(&pfn) {
                    i.spec.dirty = false;
                    written += 1;
                    if cx.env.writeback_fails(nid) {
                        self.stats.add(Stat::WritebackErrors, 1);
                    }
                }
                let _ = m.clear_page_dirty(cx, Page::from_raw(self.machine_id, pfn));
            }
        }
        if written > 0 {
            self.stats.add(Stat::Pgwriteback, written);
            cx.env.start_io(IoRequest {
                nid,
                pages: written,
                write: true,
            });
            cx.env
                .sleep_ns(self.config.writeback_latency_ns * written.div_ceil(SWAP_CLUSTER_MAX));
        }
        written
    }
}

/// lockdep's `fs_reclaim` section of one task: entered on creation, left
/// on drop (also when the reclaimer unwinds).
struct FsReclaimSection<'a> {
    lockdep: &'a crate::lockdep::Lockdep,
    pid: u32,
}

impl<'a> FsReclaimSection<'a> {
    fn enter(lockdep: &'a crate::lockdep::Lockdep, pid: u32) -> FsReclaimSection<'a> {
        lockdep.fs_reclaim_enter(pid);
        FsReclaimSection { lockdep, pid }
    }
}

impl Drop for FsReclaimSection<'_> {
    fn drop(&mut self) {
        self.lockdep.fs_reclaim_exit(self.pid);
    }
}

/// `get_scan_count()` in its simplest form: `size >> priority`, at least
/// one page of a non-empty list.
fn scan_count(size: u64, prio: u32) -> u64 {
    (size >> prio).max(size.min(1))
}

impl PageInfo {
    pub(crate) fn zone_type(&self) -> ZoneType {
        self.ztype
    }
}
