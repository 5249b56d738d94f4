//! The memory manager above the page allocator: pages owned by tasks on
//! active/inactive LRU lists, a swap device, shrinkers, tasks for the OOM
//! killer, memory cgroups and lock tracking. [`Vm`] implements
//! [`SlowPathHooks`]: give it as the hooks of a [`Cx`] (its own entry
//! points do so) and the slow path reclaims, compacts and kills for real.
//!
//! Everything is deterministic and driven through the [`Cx`]: sleeping,
//! I/O and wake-ups go to its [`crate::Environment`].

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use gfp::zone::ZoneType;
use gfp::Gfp;

use crate::hooks::{CompactPriority, CompactResult, OomControl, ReclaimRequest, SlowPathHooks};
use crate::lockdep::Lockdep;
use crate::machine::{Cx, Machine};
use crate::memcg::{MemcgId, MemcgTree};
use crate::nodemask::NodeId;
use crate::page::{AllocError, Page};
use crate::shrinker::Shrinker;
use crate::sync::{AtomicBool, AtomicU64, Ordering, SpinLock};
use crate::task::Task;
use crate::zone::ZoneId;

/// A task id.
pub type Pid = u32;

/// Anonymous or file-backed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PageKind {
    /// Anonymous memory: reclaim swaps it out.
    Anon,
    /// Page cache: clean pages are dropped, dirty ones written back first.
    File,
}

/// The four evictable LRU lists (`enum lru_list`, without unevictable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LruList {
    /// `LRU_INACTIVE_ANON`.
    InactiveAnon = 0,
    /// `LRU_ACTIVE_ANON`.
    ActiveAnon = 1,
    /// `LRU_INACTIVE_FILE`.
    InactiveFile = 2,
    /// `LRU_ACTIVE_FILE`.
    ActiveFile = 3,
}

impl LruList {
    /// All four, in the kernel's order.
    pub const ALL: [LruList; 4] = [
        LruList::InactiveAnon,
        LruList::ActiveAnon,
        LruList::InactiveFile,
        LruList::ActiveFile,
    ];

    pub(crate) fn of(kind: PageKind, active: bool) -> LruList {
        match (kind, active) {
            (PageKind::Anon, false) => LruList::InactiveAnon,
            (PageKind::Anon, true) => LruList::ActiveAnon,
            (PageKind::File, false) => LruList::InactiveFile,
            (PageKind::File, true) => LruList::ActiveFile,
        }
    }
}

/// How a page to be put on the LRU looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSpec {
    /// Anonymous or file.
    pub kind: PageKind,
    /// Mapped into the owner's address space (counts in its RSS).
    pub mapped: bool,
    /// Dirty (file pages): must be written back before it can be dropped.
    pub dirty: bool,
    /// Carries filesystem-private data (buffer heads): releasing it needs
    /// `__GFP_FS`.
    pub private: bool,
}

impl PageSpec {
    /// A mapped anonymous page.
    pub const ANON: PageSpec = PageSpec {
        kind: PageKind::Anon,
        mapped: true,
        dirty: false,
        private: false,
    };
    /// A clean, unmapped page-cache page.
    pub const FILE_CLEAN: PageSpec = PageSpec {
        kind: PageKind::File,
        mapped: false,
        dirty: false,
        private: false,
    };
    /// A dirty, unmapped page-cache page.
    pub const FILE_DIRTY: PageSpec = PageSpec {
        kind: PageKind::File,
        mapped: false,
        dirty: true,
        private: false,
    };
    /// A clean page-cache page with filesystem-private data.
    pub const FILE_PRIVATE: PageSpec = PageSpec {
        kind: PageKind::File,
        mapped: false,
        dirty: false,
        private: true,
    };
    /// A clean page-cache page mapped by its owner.
    pub const FILE_MAPPED: PageSpec = PageSpec {
        kind: PageKind::File,
        mapped: true,
        dirty: false,
        private: false,
    };
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct PageInfo {
    pub(crate) spec: PageSpec,
    pub(crate) owner: Option<Pid>,
    pub(crate) memcg: MemcgId,
    pub(crate) referenced: bool,
    pub(crate) active: bool,
    pub(crate) gen: u32,
    pub(crate) zone: ZoneId,
    pub(crate) ztype: ZoneType,
    pub(crate) nid: NodeId,
}

/// A task as the OOM killer and memcg see it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProcInfo {
    /// Its id.
    pub pid: Pid,
    /// Its name.
    pub comm: String,
    /// `oom_score_adj`, -1000..=1000 (-1000: never killed).
    pub oom_score_adj: i16,
    /// Its memory cgroup.
    pub memcg: MemcgId,
    /// Resident anonymous pages (`MM_ANONPAGES`).
    pub rss_anon: u64,
    /// Resident mapped file pages (`MM_FILEPAGES`).
    pub rss_file: u64,
    /// Swapped-out pages (`MM_SWAPENTS`).
    pub swapents: u64,
    /// Page-table bytes (`mm_pgtables_bytes`).
    pub pgtables_bytes: u64,
    /// Selected and killed by the OOM killer (`tsk_is_oom_victim`).
    pub oom_victim: bool,
    /// Exited (or reaped): nothing left to kill.
    pub exited: bool,
}

impl ProcInfo {
    /// `get_mm_rss()`.
    pub fn rss(&self) -> u64 {
        self.rss_anon + self.rss_file
    }
}

/// Swap device and reclaim tunables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmConfig {
    /// Swap capacity in pages (0: no swap).
    pub swap_pages: u64,
    /// Time to write one batch of pages to swap, in nanoseconds.
    pub swap_latency_ns: u64,
    /// Time to write back one batch of dirty file pages, in nanoseconds.
    pub writeback_latency_ns: u64,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            swap_pages: 0,
            swap_latency_ns: 100_000,
            writeback_latency_ns: 200_000,
        }
    }
}

#[derive(Default)]
pub(crate) struct NodeLru {
    pub(crate) lists: [VecDeque<(u32, u32)>; 4],
    pub(crate) counts: [u64; 4],
}

/// Records keyed by a small dense number (a page frame number, a pid): a
/// slot per key, so that the lookups on the allocation, reclaim and fault
/// paths are an index, and iteration is in key order.
pub(crate) struct SlotTable<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for SlotTable<T> {
    fn default() -> Self {
        SlotTable { slots: Vec::new() }
    }
}

impl<T> SlotTable<T> {
    pub(crate) fn insert(&mut self, key: u32, value: T) -> Option<T> {
        let i = key as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i].replace(value)
    }

    pub(crate) fn remove(&mut self, key: &u32) -> Option<T> {
        self.slots.get_mut(*key as usize)?.take()
    }

    pub(crate) fn get(&self, key: &u32) -> Option<&T> {
        self.slots.get(*key as usize)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, key: &u32) -> Option<&mut T> {
        self.slots.get_mut(*key as usize)?.as_mut()
    }

    pub(crate) fn contains_key(&self, key: &u32) -> bool {
        self.get(key).is_some()
    }

    /// The records with their keys, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k as u32, v)))
    }

    /// The records in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }
}

impl<T> core::ops::Index<&u32> for SlotTable<T> {
    type Output = T;
    fn index(&self, key: &u32) -> &T {
        self.get(key).expect("no record for this key")
    }
}

/// The LRU pages' records by page frame number.
pub(crate) type PageTable = SlotTable<PageInfo>;

/// The tasks by pid (pids are handed out in order from 1).
pub(crate) type ProcTable = SlotTable<ProcInfo>;

pub(crate) struct VmState {
    pub(crate) pages: PageTable,
    pub(crate) nodes: Vec<NodeLru>,
    /// Per zone: anon and file pages on the LRU.
    pub(crate) zone_counts: Vec<[u64; 2]>,
    pub(crate) procs: ProcTable,
    pub(crate) next_pid: Pid,
    pub(crate) swap_used: u64,
    pub(crate) next_gen: u32,
    pub(crate) memcg: MemcgTree,
    /// kswapd of each node: the pending order, when woken.
    pub(crate) kswapd_pending: Vec<Option<(u32, ZoneType)>>,
    /// The machine's node and zone page-state counters, kept here for the
    /// LRU lists and the mapped page cache (shared with
    /// [`Vm::page_state`]).
    pub(crate) page_state: Arc<crate::stats::PageState>,
}

impl VmState {
    pub(crate) fn lru_add(&mut self, pfn: u32, mut info: PageInfo) {
        self.next_gen = self.next_gen.wrapping_add(1);
        info.gen = self.next_gen;
        let l = LruList::of(info.spec.kind, info.active) as usize;
        let n = &mut self.nodes[info.nid];
        n.lists[l].push_front((pfn, info.gen));
        n.counts[l] += 1;
        self.account_page_state(&info, 1);
        self.pages.insert(pfn, info);
    }

    /// Takes `pfn` off its list (lazily: the list entry goes stale).
    pub(crate) fn lru_del(&mut self, pfn: u32) -> Option<PageInfo> {
        let info = self.pages.remove(&pfn)?;
        let l = LruList::of(info.spec.kind, info.active) as usize;
        self.nodes[info.nid].counts[l] -= 1;
        self.account_page_state(&info, -1);
        Some(info)
    }

    /// The machine's page-state counters for a page joining (`delta` 1) or
    /// leaving (-1) the LRU: its list, and `NR_FILE_MAPPED` for a mapped
    /// page-cache page.
    fn account_page_state(&self, info: &PageInfo, delta: i64) {
        let l = LruList::of(info.spec.kind, info.active);
        self.page_state.mod_lru(info.nid, info.zone, l, delta);
        if info.spec.kind == PageKind::File && info.spec.mapped {
            self.page_state
                .mod_node(info.nid, crate::stats::NodeStat::FileMapped, delta);
        }
    }

    /// Removes a page that leaves memory, with its accounting (RSS, zone
    /// counts, memcg charge).
    pub(crate) fn forget(&mut self, pfn: u32) -> Option<PageInfo> {
        let info = self.lru_del(pfn)?;
        self.unaccount(&info);
        Some(info)
    }

    /// The accounting of a page leaving memory, once it is off the LRU.
    pub(crate) fn unaccount(&mut self, info: &PageInfo) {
        self.zone_counts[info.zone][(info.spec.kind == PageKind::File) as usize] -= 1;
        if info.spec.mapped {
            if let Some(p) = info.owner.and_then(|o| self.procs.get_mut(&o)) {
                match info.spec.kind {
                    PageKind::Anon => p.rss_anon = p.rss_anon.saturating_sub(1),
                    PageKind::File => p.rss_file = p.rss_file.saturating_sub(1),
                }
            }
        }
        self.memcg.uncharge(info.memcg, 1);
    }

    /// Pops the oldest live entry of a list.
    pub(crate) fn pop_tail(&mut self, nid: NodeId, l: LruList) -> Option<(u32, PageInfo)> {
        let n = &mut self.nodes[nid];
        while let Some((pfn, gen)) = n.lists[l as usize].pop_back() {
            if let Some(info) = self.pages.get(&pfn) {
                if info.gen == gen && LruList::of(info.spec.kind, info.active) == l {
                    let info = *info;
                    self.lru_del(pfn);
                    return Some((pfn, info));
                }
            }
        }
        None
    }
}

/// Reclaim and OOM counters (`/proc/vmstat` names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VmStats {
    /// LRU pages reclaimed by kswapd (`pgsteal_kswapd`; the shrinkers'
    /// pages are in `slabs_scanned`, as in the kernel).
    pub pgsteal_kswapd: u64,
    /// LRU pages reclaimed by direct reclaim (`pgsteal_direct`).
    pub pgsteal_direct: u64,
    /// Pages scanned by kswapd (`pgscan_kswapd`).
    pub pgscan_kswapd: u64,
    /// Pages scanned by direct reclaim (`pgscan_direct`).
    pub pgscan_direct: u64,
    /// Pages written to swap (`pswpout`).
    pub pswpout: u64,
    /// Anonymous pages kept because the mask lacked `__GFP_IO`.
    pub anon_kept_noio: u64,
    /// File pages kept because releasing private data needs `__GFP_FS`.
    pub file_kept_nofs: u64,
    /// Dirty file pages direct reclaim skipped (left to flushers).
    pub dirty_skipped: u64,
    /// Dirty file pages written back by kswapd or the flusher.
    pub pgwriteback: u64,
    /// Pages freed by shrinkers.
    pub slabs_scanned: u64,
    /// OOM kills (`oom_kill`).
    pub oom_kill: u64,
    /// Calls of `out_of_memory()`.
    pub oom_calls: u64,
    /// Pages migrated by compaction (`pgmigrate_success`).
    pub pgmigrate_success: u64,
    /// Compaction runs that produced the page (`compact_success`).
    pub compact_success: u64,
    /// Compaction runs that failed (`compact_fail`).
    pub compact_fail: u64,
    /// kswapd wake-ups that found work.
    pub kswapd_wakeups: u64,
    /// kswapd runs (`pageoutrun`).
    pub pageoutrun: u64,
    /// Flusher wake-ups requested by direct reclaim.
    pub flusher_wakeups: u64,
    /// Swap-out writes the device failed: the pages stayed in memory.
    pub swap_write_errors: u64,
    /// Writeback writes the device failed: the pages were cleaned and the
    /// error left in the mapping.
    pub writeback_errors: u64,
    /// Pages the OOM killer freed from its victims (the reaper's work).
    pub oom_freed_pages: u64,
}

pub(crate) struct Counters {
    pub(crate) v: [AtomicU64; 21],
}

#[derive(Clone, Copy)]
pub(crate) enum Stat {
    PgstealKswapd = 0,
    PgstealDirect,
    PgscanKswapd,
    PgscanDirect,
    Pswpout,
    AnonKeptNoio,
    FileKeptNofs,
    DirtySkipped,
    Pgwriteback,
    SlabsScanned,
    OomKill,
    OomCalls,
    PgmigrateSuccess,
    CompactSuccess,
    CompactFail,
    KswapdWakeups,
    Pageoutrun,
    FlusherWakeups,
    SwapWriteErrors,
    WritebackErrors,
    OomFreed,
}

impl Counters {
    #[inline]
    pub(crate) fn add(&self, s: Stat, n: u64) {
        self.v[s as usize].fetch_add(n, Ordering::Relaxed);
    }
    #[inline]
    fn get(&self, s: Stat) -> u64 {
        self.v[s as usize].load(Ordering::Relaxed)
    }
}

/// The memory manager: LRU, swap, shrinkers, tasks, memcg, lock tracking.
/// One per [`Machine`].
pub struct Vm {
    pub(crate) machine_id: u32,
    pub(crate) config: VmConfig,
    pub(crate) state: SpinLock<VmState>,
    pub(crate) shrinkers: SpinLock<Vec<Arc<dyn Shrinker>>>,
    pub(crate) stats: Counters,
    pub(crate) lockdep: Lockdep,
    pub(crate) total_pages: u64,
    #[allow(clippy::type_complexity)]
    pub(crate) kswapd_waker: SpinLock<Option<alloc::boxed::Box<dyn Fn(NodeId) + Send + Sync>>>,
    /// Whether the OOM killer ever chose a victim (the flag never clears):
    /// until then, no task lookup needs the state's lock.
    pub(crate) any_oom_victim: AtomicBool,
    /// The machine's page-state counters (see `VmState::page_state`): the
    /// page allocator reads a node's file LRU pages from them without this
    /// manager's lock.
    pub(crate) page_state: Arc<crate::stats::PageState>,
    /// Accounted kernel pages recorded (`MemcgTree`'s kmem records),
    /// stored under the state's lock after each change: while 0, freeing a
    /// page needs no lookup.
    pub(crate) kmem_records: AtomicU64,
}

impl core::fmt::Debug for Vm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vm")
            .field("machine", &self.machine_id)
            .field("config", &self.config)
            .finish()
    }
}

impl Vm {
    /// A memory manager for `m`. Its swap device counts in the machine's
    /// swap space from now on (`swapon()`), which `show_mem()` prints.
    pub fn new(m: &Machine, config: VmConfig) -> Vm {
        m.page_state
            .mod_swap(i64::try_from(config.swap_pages).unwrap_or(i64::MAX), 0);
        Vm {
            page_state: m.page_state.clone(),
            machine_id: m.id(),
            config,
            state: SpinLock::new(VmState {
                pages: PageTable::default(),
                nodes: (0..m.nr_nodes()).map(|_| NodeLru::default()).collect(),
                zone_counts: alloc::vec![[0; 2]; m.zones().len()],
                procs: ProcTable::default(),
                next_pid: 1,
                swap_used: 0,
                next_gen: 0,
                memcg: MemcgTree::new(),
                kswapd_pending: alloc::vec![None; m.nr_nodes()],
                page_state: m.page_state.clone(),
            }),
            shrinkers: SpinLock::new(Vec::new()),
            stats: Counters {
                v: core::array::from_fn(|_| AtomicU64::new(0)),
            },
            lockdep: Lockdep::new(),
            total_pages: m.total_pages(),
            kswapd_waker: SpinLock::new(None),
            any_oom_victim: AtomicBool::new(false),
            kmem_records: AtomicU64::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> VmConfig {
        self.config
    }

    /// `cx` with this manager as its hooks.
    pub fn cx<'a>(&'a self, cx: &Cx<'a>) -> Cx<'a> {
        Cx { hooks: self, ..*cx }
    }

    // ----- tasks -----

    /// Registers a task in the root memory cgroup; returns its pid.
    pub fn spawn(&self, comm: &str, oom_score_adj: i16) -> Pid {
        self.spawn_in(comm, oom_score_adj, MemcgId::ROOT)
    }

    /// Registers a task in memory cgroup `memcg`.
    pub fn spawn_in(&self, comm: &str, oom_score_adj: i16, memcg: MemcgId) -> Pid {
        let mut st = self.state.lock();
        let pid = st.next_pid;
        st.next_pid += 1;
        st.procs.insert(
            pid,
            ProcInfo {
                pid,
                comm: comm.into(),
                oom_score_adj: oom_score_adj.clamp(-1000, 1000),
                memcg,
                rss_anon: 0,
                rss_file: 0,
                swapents: 0,
                pgtables_bytes: 0,
                oom_victim: false,
                exited: false,
            },
        );
        pid
    }

    /// Sets a task's page-table footprint (counted by the OOM badness).
    pub fn set_pgtables_bytes(&self, pid: Pid, bytes: u64) {
        if let Some(p) = self.state.lock().procs.get_mut(&pid) {
            p.pgtables_bytes = bytes;
        }
    }

    /// A copy of a task's record.
    pub fn proc_info(&self, pid: Pid) -> Option<ProcInfo> {
        self.state.lock().procs.get(&pid).cloned()
    }

    /// All tasks.
    pub fn procs(&self) -> Vec<ProcInfo> {
        self.state.lock().procs.values().cloned().collect()
    }

    /// The allocator's view of task `pid`: its id, and whether the OOM
    /// killer chose it (then it may use part of the reserves).
    #[inline]
    pub fn task(&self, pid: Pid) -> Task<'static> {
        let mut t = Task::new().with_pid(pid);
        t.oom_victim = self.is_oom_victim(pid);
        t
    }

    /// Whether the OOM killer chose `pid` (`tsk_is_oom_victim`).
    #[inline]
    pub fn is_oom_victim(&self, pid: Pid) -> bool {
        self.any_oom_victim.load(Ordering::Acquire)
            && self
                .state
                .lock()
                .procs
                .get(&pid)
                .is_some_and(|p| p.oom_victim)
    }

    /// OOM kills so far (`VmStats::oom_kill`, one load).
    #[inline]
    pub fn oom_kills(&self) -> u64 {
        self.stats.get(Stat::OomKill)
    }

    /// The memory cgroup of `pid` (the root for unknown tasks).
    pub fn memcg_of(&self, pid: Pid) -> MemcgId {
        self.state
            .lock()
            .procs
            .get(&pid)
            .map_or(MemcgId::ROOT, |p| p.memcg)
    }

    /// A task exits: its pages are freed, its swap released.
    pub fn exit(&self, m: &Machine, cx: &Cx<'_>, pid: Pid) {
        let cx = self.cx(cx);
        let mut st = self.state.lock();
        self.release_task_memory(m, &cx, &mut st, pid);
        if let Some(p) = st.procs.get_mut(&pid) {
            p.exited = true;
        }
    }

    /// Frees what a task owns (its anonymous pages and swap entries) and
    /// unmaps its file pages, which stay in the page cache; returns pages
    /// freed.
    pub(crate) fn release_task_memory(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        st: &mut VmState,
        pid: Pid,
    ) -> u64 {
        let owned: Vec<(u32, PageKind, bool)> = st
            .pages
            .iter()
            .filter(|(_, i)| i.owner == Some(pid))
            .map(|(p, i)| (p, i.spec.kind, i.spec.mapped))
            .collect();
        let mut freed = 0;
        for (pfn, kind, mapped) in owned {
            match kind {
                PageKind::Anon => {
                    st.forget(pfn);
                    if m.free_pages(cx, Page::from_raw(self.machine_id, pfn), 0)
                        .is_ok()
                    {
                        freed += 1;
                    }
                }
                PageKind::File => {
                    if let Some(i) = st.pages.get_mut(&pfn) {
                        i.owner = None;
                        i.spec.mapped = false;
                        if mapped {
                            // Unmapped in place, still on its LRU list.
                            let nid = i.nid;
                            st.page_state
                                .mod_node(nid, crate::stats::NodeStat::FileMapped, -1);
                        }
                    }
                    if mapped {
                        if let Some(p) = st.procs.get_mut(&pid) {
                            p.rss_file = p.rss_file.saturating_sub(1);
                        }
                    }
                }
            }
        }
        if let Some(p) = st.procs.get_mut(&pid) {
            let swap = core::mem::take(&mut p.swapents);
            let swap = swap.min(st.swap_used);
            st.swap_used -= swap;
            st.page_state.mod_swap(0, -(swap as i64));
        }
        freed
    }

    // ----- LRU pages -----

    /// Allocates an order-0 page for `owner` (or for nobody: unowned page
    /// cache) and puts it on the inactive LRU list. Charged to the owner's
    /// memory cgroup, as user pages always are.
    pub fn add_page(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        gfp: Gfp,
        owner: Option<Pid>,
        spec: PageSpec,
    ) -> Result<Page, AllocError> {
        let cx = self.cx(cx);
        let memcg = owner.map_or(MemcgId::ROOT, |p| self.memcg_of(p));
        self.memcg_try_charge(m, &cx, memcg, gfp, 1)?;
        let page = match m.alloc_pages(&cx, gfp, 0) {
            Ok(p) => p,
            Err(e) => {
                self.state.lock().memcg.uncharge(memcg, 1);
                return Err(e);
            }
        };
        let zone = m.page_zone_id(page).unwrap_or(0);
        let nid = m.page_to_nid(page).unwrap_or(0);
        let mut st = self.state.lock();
        st.zone_counts[zone][(spec.kind == PageKind::File) as usize] += 1;
        if spec.mapped {
            if let Some(p) = owner.and_then(|o| st.procs.get_mut(&o)) {
                match spec.kind {
                    PageKind::Anon => p.rss_anon += 1,
                    PageKind::File => p.rss_file += 1,
                }
            }
        }
        st.lru_add(
            page.pfn(),
            PageInfo {
                spec,
                owner,
                memcg,
                referenced: false,
                active: false,
                gen: 0,
                zone,
                ztype: m.page_zone_type(page).unwrap_or(ZoneType::Normal),
                nid,
            },
        );
        drop(st);
        if spec.dirty {
            let _ = m.set_page_dirty(&cx, page);
        }
        Ok(page)
    }

    /// A page fault of `pid` on anonymous memory (`GFP_HIGHUSER_MOVABLE`).
    /// The fault counts in the task's group (`PGFAULT`) whether or not it
    /// gets its page, as `handle_mm_fault()` counts it first.
    pub fn fault_anon(&self, m: &Machine, cx: &Cx<'_>, pid: Pid) -> Result<Page, AllocError> {
        {
            let mut st = self.state.lock();
            let memcg = st.procs.get(&pid).map_or(MemcgId::ROOT, |p| p.memcg);
            st.memcg.stat_mut(memcg).pgfault += 1;
        }
        self.add_page(m, cx, Gfp::HIGHUSER_MOVABLE, Some(pid), PageSpec::ANON)
    }

    /// `folio_mark_accessed()`: the first touch sets the referenced bit,
    /// the second activates an inactive page.
    pub fn mark_accessed(&self, page: Page) {
        let mut st = self.state.lock();
        let Some(info) = st.pages.get(&page.pfn()).copied() else {
            return;
        };
        if info.referenced && !info.active {
            st.memcg.stat_mut(info.memcg).pgactivate += 1;
            st.lru_del(page.pfn());
            st.lru_add(
                page.pfn(),
                PageInfo {
                    referenced: false,
                    active: true,
                    ..info
                },
            );
        } else if let Some(i) = st.pages.get_mut(&page.pfn()) {
            i.referenced = true;
        }
    }

    /// Marks a file page dirty or clean.
    pub fn set_dirty(&self, m: &Machine, cx: &Cx<'_>, page: Page, dirty: bool) {
        let mut st = self.state.lock();
        if let Some(i) = st.pages.get_mut(&page.pfn()) {
            if i.spec.kind == PageKind::File && i.spec.dirty != dirty {
                i.spec.dirty = dirty;
                drop(st);
                if dirty {
                    let _ = m.set_page_dirty(cx, page);
                } else {
                    let _ = m.clear_page_dirty(cx, page);
                }
            }
        }
    }

    /// Frees an LRU page (truncation, `munmap`).
    pub fn remove_page(&self, m: &Machine, cx: &Cx<'_>, page: Page) -> bool {
        let mut st = self.state.lock();
        if st.forget(page.pfn()).is_none() {
            return false;
        }
        drop(st);
        m.free_pages(&self.cx(cx), page, 0).is_ok()
    }

    /// Whether `page` is on an LRU list.
    pub fn on_lru(&self, page: Page) -> bool {
        self.state.lock().pages.contains_key(&page.pfn())
    }

    /// Pages on each LRU list of `nid`, in [`LruList::ALL`] order.
    pub fn lru_sizes(&self, nid: NodeId) -> [u64; 4] {
        self.state.lock().nodes[nid].counts
    }

    /// Pages in swap.
    pub fn swap_used(&self) -> u64 {
        self.state.lock().swap_used
    }

    /// Registers a shrinker (`shrinker_register()`).
    pub fn register_shrinker(&self, s: Arc<dyn Shrinker>) {
        self.shrinkers.lock().push(s);
    }

    /// The counters.
    pub fn stats(&self) -> VmStats {
        let c = &self.stats;
        VmStats {
            pgsteal_kswapd: c.get(Stat::PgstealKswapd),
            pgsteal_direct: c.get(Stat::PgstealDirect),
            pgscan_kswapd: c.get(Stat::PgscanKswapd),
            pgscan_direct: c.get(Stat::PgscanDirect),
            pswpout: c.get(Stat::Pswpout),
            anon_kept_noio: c.get(Stat::AnonKeptNoio),
            file_kept_nofs: c.get(Stat::FileKeptNofs),
            dirty_skipped: c.get(Stat::DirtySkipped),
            pgwriteback: c.get(Stat::Pgwriteback),
            slabs_scanned: c.get(Stat::SlabsScanned),
            oom_kill: c.get(Stat::OomKill),
            oom_calls: c.get(Stat::OomCalls),
            pgmigrate_success: c.get(Stat::PgmigrateSuccess),
            compact_success: c.get(Stat::CompactSuccess),
            compact_fail: c.get(Stat::CompactFail),
            kswapd_wakeups: c.get(Stat::KswapdWakeups),
            pageoutrun: c.get(Stat::Pageoutrun),
            flusher_wakeups: c.get(Stat::FlusherWakeups),
            swap_write_errors: c.get(Stat::SwapWriteErrors),
            writeback_errors: c.get(Stat::WritebackErrors),
            oom_freed_pages: c.get(Stat::OomFreed),
        }
    }

    /// The lock tracker (the `fs_reclaim` lockdep map).
    pub fn lockdep(&self) -> &Lockdep {
        &self.lockdep
    }

    // ----- kernel allocations -----

    /// `alloc_pages()` for kernel memory, with what the kernel adds around
    /// the allocator: `might_alloc()` (the `fs_reclaim` recursion check)
    /// and, with `__GFP_ACCOUNT`, the charge to the task's memory cgroup.
    #[track_caller]
    pub fn alloc_pages(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
    ) -> Result<Page, AllocError> {
        let site = core::panic::Location::caller();
        self.alloc_kmem(m, cx, gfp, order, site, |cx| m.alloc_pages(cx, gfp, order))
    }

    /// [`Vm::alloc_pages`] on a preferred node (`alloc_pages_node()`).
    #[track_caller]
    pub fn alloc_pages_node(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        nid: NodeId,
        gfp: Gfp,
        order: u32,
    ) -> Result<Page, AllocError> {
        let site = core::panic::Location::caller();
        self.alloc_kmem(m, cx, gfp, order, site, |cx| {
            m.alloc_pages_node(cx, nid, gfp, order)
        })
    }

    /// The part of [`Vm::alloc_pages`] (or, with `nid`, of
    /// [`Vm::alloc_pages_node`]) that never blocks: `might_alloc()`, a
    /// charge that fits without reclaim, and
    /// [`Machine::alloc_pages_first_attempt`]. `None`: the call would
    /// reclaim, wait or enter the slow path; nothing was done that the full
    /// call would not do again first (a charge is given back), so the
    /// caller makes the full call where blocking is possible.
    #[track_caller]
    pub fn alloc_pages_first_attempt(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        nid: Option<NodeId>,
        gfp: Gfp,
        order: u32,
    ) -> Option<Result<Page, AllocError>> {
        let site = core::panic::Location::caller();
        let cx = self.cx(cx);
        self.lockdep.might_alloc(&cx, gfp, site);
        let charge = self
            .charge_kmem(&cx, gfp, order, |memcg, in_force, nr| {
                self.memcg_charge_nonblocking(&cx, memcg, in_force, nr)
                    .then_some(())
                    .ok_or(())
            })
            .ok()?;
        // An unused charge is given back by its guard.
        let r = m
            .alloc_pages_first_attempt(&cx, gfp, order, nid, None)
            .transpose()?;
        self.commit_kmem(charge, &r, order);
        Some(r)
    }

    /// What both entry points do around the allocator's call `alloc`:
    /// lockdep's `might_alloc()` for the call site, then the `__GFP_ACCOUNT`
    /// charge, committed to the page or given back.
    fn alloc_kmem(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        site: &'static core::panic::Location<'static>,
        alloc: impl FnOnce(&Cx<'_>) -> Result<Page, AllocError>,
    ) -> Result<Page, AllocError> {
        let cx = self.cx(cx);
        self.lockdep.might_alloc(&cx, gfp, site);
        let charge = self.charge_kmem(&cx, gfp, order, |memcg, in_force, nr| {
            self.memcg_try_charge(m, &cx, memcg, in_force, nr)
        })?;
        let r = alloc(&cx);
        self.commit_kmem(charge, &r, order);
        r
    }

    /// With `__GFP_ACCOUNT` in force, charges `2^order` pages to the
    /// task's memory cgroup with `charge` (memcg, mask in force, pages);
    /// the charge is given back when the returned guard is dropped
    /// uncommitted (a failed allocation, or one unwound out of a blocking
    /// point).
    fn charge_kmem<E>(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        charge: impl FnOnce(MemcgId, Gfp, u64) -> Result<(), E>,
    ) -> Result<Option<KmemCharge<'_>>, E> {
        // The charge follows the mask in force (scopes applied), as
        // `__alloc_pages()` tests it after `current_gfp_context()`.
        let gfp = cx.task.gfp_context(gfp);
        if !crate::mutation::accounted(gfp) {
            return Ok(None);
        }
        let memcg = self.memcg_of(cx.task.pid);
        charge(memcg, gfp, 1 << order)?;
        Ok(Some(KmemCharge {
            vm: self,
            memcg,
            nr: 1 << order,
        }))
    }

    /// Records a successful accounted allocation's charge against its page;
    /// a failed one's charge is given back (by the guard's drop).
    fn commit_kmem(
        &self,
        charge: Option<KmemCharge<'_>>,
        r: &Result<Page, AllocError>,
        order: u32,
    ) {
        if let (Some(c), Ok(p)) = (charge, r) {
            let c = core::mem::ManuallyDrop::new(c);
            self.record_kmem(*p, c.memcg, 1 << order);
        }
    }

    /// The memory cgroup an accounted kernel page from [`Vm::alloc_pages`]
    /// is charged to.
    pub fn kmem_memcg(&self, page: Page) -> Option<MemcgId> {
        if self.kmem_records.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.state.lock().memcg.kmem_of(page.pfn())
    }

    fn record_kmem(&self, page: Page, memcg: MemcgId, nr: u64) {
        let mut st = self.state.lock();
        st.memcg.record_kmem(page.pfn(), memcg, nr);
        st.memcg.stat_mut(memcg).kmem += nr;
        self.kmem_records
            .store(st.memcg.kmem_records(), Ordering::Relaxed);
    }

    /// `__free_pages()` for pages from [`Vm::alloc_pages`]: uncharges an
    /// accounted page.
    pub fn free_pages(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        page: Page,
        order: u32,
    ) -> Result<(), crate::page::BadPage> {
        m.free_pages(cx, page, order)?;
        // A record of this page, if any, was counted before the page was
        // handed out, and only this free removes it: 0 means none.
        if self.kmem_records.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let mut st = self.state.lock();
        if let Some((mc, n)) = st.memcg.take_kmem(page.pfn()) {
            st.memcg.uncharge(mc, n);
            let s = st.memcg.stat_mut(mc);
            s.kmem = s.kmem.saturating_sub(n);
            self.kmem_records
                .store(st.memcg.kmem_records(), Ordering::Relaxed);
        }
        Ok(())
    }
}

/// A charge of an accounted allocation not yet recorded against its page:
/// dropping it uncharges.
struct KmemCharge<'a> {
    vm: &'a Vm,
    memcg: MemcgId,
    nr: u64,
}

impl Drop for KmemCharge<'_> {
    fn drop(&mut self) {
        self.vm.state.lock().memcg.uncharge(self.memcg, self.nr);
    }
}

impl SlowPathHooks for Vm {
    fn wake_kswapd(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        nid: NodeId,
        gfp: Gfp,
        order: u32,
        highest: ZoneType,
    ) {
        if self.wakeup_kswapd(m, nid, gfp, order, highest) {
            cx.env.wake_kswapd(nid, order, highest);
        }
    }

    fn direct_reclaim(&self, m: &Machine, cx: &Cx<'_>, req: &ReclaimRequest) -> u64 {
        self.try_to_free_pages(m, cx, req)
    }

    fn direct_compact(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        req: &ReclaimRequest,
        prio: CompactPriority,
    ) -> CompactResult {
        self.try_to_compact_pages(m, cx, req, prio)
    }

    fn should_compact_retry(
        &self,
        _m: &Machine,
        req: &ReclaimRequest,
        result: CompactResult,
        prio: &mut CompactPriority,
        retries: &mut u32,
    ) -> bool {
        crate::compaction::should_compact_retry(req.order, result, prio, retries)
    }

    fn zone_reclaimable_pages(&self, _m: &Machine, zone: ZoneId) -> u64 {
        let st = self.state.lock();
        let [anon, file] = st.zone_counts[zone];
        let swap_free = self.config.swap_pages > st.swap_used;
        file + if swap_free { anon } else { 0 }
    }

    fn out_of_memory(&self, m: &Machine, cx: &Cx<'_>, oc: &OomControl) -> bool {
        self.out_of_memory_global(m, cx, oc)
    }

    fn node_file_lru_pages(&self, _m: &Machine, nid: NodeId) -> u64 {
        use crate::stats::NodeStat;
        self.page_state.node(nid, NodeStat::InactiveFile)
            + self.page_state.node(nid, NodeStat::ActiveFile)
    }
}
