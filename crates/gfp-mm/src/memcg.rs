//! Memory cgroups (mm/memcontrol.c): a hierarchy of groups with `max` and
//! `high` limits, charged for the LRU pages of their tasks and, with
//! `__GFP_ACCOUNT`, for kernel pages and slab objects. A charge over a
//! limit reclaims inside the group, then invokes the OOM killer inside the
//! group (`try_charge_memcg()`); unaccounted kernel allocations are not
//! limited.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use gfp::zone::PAGE_ALLOC_COSTLY_ORDER;
use gfp::Gfp;

use crate::machine::{Cx, Machine};
use crate::page::AllocError;
use crate::page_alloc::MAX_RECLAIM_RETRIES;
use crate::vm::{LruList, PageKind, Vm, VmState};

/// A memory cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct MemcgId(pub usize);

impl MemcgId {
    /// The root group (no limit).
    pub const ROOT: MemcgId = MemcgId(0);
}

/// How reclaim treats a group's pages in one pass (`shrink_node_memcgs()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protection {
    /// Reclaimed.
    None,
    /// Below its effective `memory.low`: left alone unless nothing else
    /// was reclaimable (`memcg_low_reclaim`).
    Low,
    /// Below its effective `memory.min` (or empty): never reclaimed.
    Min,
}

/// `effective_protection()` without `memory_recursive_prot`: a group's
/// protected usage, `min(usage, setting)`, or its share of the parent's
/// effective protection in proportion to it when the siblings' protected
/// usages (its own included) together claim more than the parent has.
fn effective_protection(usage: u64, setting: u64, parent_effective: u64, siblings: u64) -> u64 {
    let protected = usage.min(setting);
    if siblings > parent_effective {
        ((protected as u128 * parent_effective as u128) / siblings as u128) as u64
    } else {
        protected
    }
}

/// A group's state (`memory.current`, `memory.max`, `memory.high`,
/// `memory.min`, `memory.low`, `memory.oom.group`, `memory.events`,
/// `memory.events.local`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Memcg {
    /// Its name.
    pub name: String,
    /// Its parent (`None` for the root).
    pub parent: Option<MemcgId>,
    /// `memory.max` in pages.
    pub max: u64,
    /// `memory.high` in pages.
    pub high: u64,
    /// `memory.min` in pages: hard protection; reclaim never takes pages
    /// of a group whose usage is within its effective share of it, even
    /// when nothing else is left to reclaim.
    pub min: u64,
    /// `memory.low` in pages: best-effort protection from reclaim while
    /// the group's usage is within its effective share of it.
    pub low: u64,
    /// `memory.oom.group`: an OOM kill of one task of the group (or of a
    /// group below it) kills every task of the group.
    pub oom_group: bool,
    /// `memory.current` in pages (hierarchical).
    pub usage: u64,
    /// `memory.events` (hierarchical: an event in a group counts in its
    /// ancestors too, the root aside; `oom_kill` counts in the victim's
    /// group, `oom_group_kill` in the group whose `memory.oom.group` made
    /// the OOM killer kill all its tasks).
    pub events: MemcgEvents,
    /// `memory.events.local`: the same events, counted only in the group
    /// they happened in.
    pub events_local: MemcgEvents,
    /// The memory counter's `failcnt` (`memory.failcnt` in cgroup v1, the
    /// `failcnt` of the memcg OOM report): charges refused at this group's
    /// `max`. There is no per-CPU charge stock, so no batch attempt fails
    /// before the charge itself, as one can in the kernel.
    pub failcnt: u64,
    /// The group's own counters behind `memory.stat` that no page record
    /// holds (kernel memory, slab bytes, reclaim and fault events);
    /// `memory.stat` sums them over the subtree.
    pub stat: MemcgLocalStat,
}

impl Memcg {
    /// A group without limits, counts or events.
    fn new(name: &str, parent: Option<MemcgId>) -> Memcg {
        Memcg {
            name: name.into(),
            parent,
            max: u64::MAX,
            high: u64::MAX,
            min: 0,
            low: 0,
            oom_group: false,
            usage: 0,
            events: MemcgEvents::default(),
            events_local: MemcgEvents::default(),
            failcnt: 0,
            stat: MemcgLocalStat::default(),
        }
    }
}

/// The counters of `memory.events` or `memory.events.local`
/// (`enum memcg_memory_event`, the swap events aside).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemcgEvents {
    /// `low`: reclaimed although below its effective `memory.low`.
    pub low: u64,
    /// `high`: reclaim because usage was above `memory.high`.
    pub high: u64,
    /// `max`: a charge met `memory.max`.
    pub max: u64,
    /// `oom`: the group's OOM killer was invoked.
    pub oom: u64,
    /// `oom_kill`: a task of the group was killed.
    pub oom_kill: u64,
    /// `oom_group_kill`: all the group's tasks were killed for
    /// `memory.oom.group`.
    pub oom_group_kill: u64,
}

impl MemcgEvents {
    /// The file's text, as `__memory_events_show()` prints it.
    pub fn text(&self) -> String {
        alloc::format!(
            "low {}\nhigh {}\nmax {}\noom {}\noom_kill {}\noom_group_kill {}\n",
            self.low,
            self.high,
            self.max,
            self.oom,
            self.oom_kill,
            self.oom_group_kill
        )
    }

    fn count(&mut self, event: MemcgEvent) {
        let c = match event {
            MemcgEvent::Low => &mut self.low,
            MemcgEvent::High => &mut self.high,
            MemcgEvent::Max => &mut self.max,
            MemcgEvent::Oom => &mut self.oom,
            MemcgEvent::OomKill => &mut self.oom_kill,
            MemcgEvent::OomGroupKill => &mut self.oom_group_kill,
        };
        *c += 1;
    }
}

/// A group's own `memory.stat` counters (the kernel keeps them per CPU
/// and sums the subtree with rstat; here each group keeps its own and
/// [`Vm::memcg_memory_stat`] sums). The page-state ones the LRU records
/// give (anon, file, the lists, mapped, dirty) are counted from the pages
/// themselves when read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemcgLocalStat {
    /// `MEMCG_KMEM`: pages charged as kernel memory (`__GFP_ACCOUNT`
    /// pages, and the pages accounted slab objects are charged as).
    pub kmem: u64,
    /// `NR_SLAB_RECLAIMABLE_B`: bytes of accounted objects of
    /// `SLAB_RECLAIM_ACCOUNT` caches.
    pub slab_reclaimable_b: u64,
    /// `NR_SLAB_UNRECLAIMABLE_B`: bytes of the other accounted objects.
    pub slab_unreclaimable_b: u64,
    /// `PGFAULT`: page faults of the group's tasks.
    pub pgfault: u64,
    /// `PGREFILL`: the group's pages scanned on an active list.
    pub pgrefill: u64,
    /// `PGACTIVATE`: the group's pages moved to an active list.
    pub pgactivate: u64,
    /// `PGDEACTIVATE`: the group's pages moved to an inactive list.
    pub pgdeactivate: u64,
    /// `PGSCAN_KSWAPD`: the group's pages scanned by kswapd.
    pub pgscan_kswapd: u64,
    /// `PGSCAN_DIRECT`: the group's pages scanned by direct or memcg
    /// reclaim.
    pub pgscan_direct: u64,
    /// `PGSTEAL_KSWAPD`: the group's pages kswapd reclaimed.
    pub pgsteal_kswapd: u64,
    /// `PGSTEAL_DIRECT`: the group's pages direct or memcg reclaim
    /// reclaimed.
    pub pgsteal_direct: u64,
}

/// An event of `memory.events` (`enum memcg_memory_event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemcgEvent {
    /// `low`: reclaim of a group below its effective `memory.low`.
    Low,
    /// `high`: reclaim because usage was above `memory.high`.
    High,
    /// `max`: a charge met `memory.max`.
    Max,
    /// `oom`: the group's OOM killer was invoked.
    Oom,
    /// `oom_kill`: a task of the group was killed.
    OomKill,
    /// `oom_group_kill`: the group's tasks were all killed.
    OomGroupKill,
}

/// The hierarchy.
#[derive(Clone, Debug)]
pub struct MemcgTree {
    groups: Vec<Memcg>,
    kmem: BTreeMap<u32, (MemcgId, u64)>,
}

impl Default for MemcgTree {
    fn default() -> Self {
        MemcgTree::new()
    }
}

impl MemcgTree {
    /// The root alone.
    pub fn new() -> MemcgTree {
        MemcgTree {
            groups: alloc::vec![Memcg::new("/", None)],
            kmem: BTreeMap::new(),
        }
    }

    /// A group's state.
    pub fn get(&self, id: MemcgId) -> Option<&Memcg> {
        self.groups.get(id.0)
    }

    fn ancestors(&self, id: MemcgId) -> impl Iterator<Item = MemcgId> + '_ {
        let mut cur = Some(id);
        core::iter::from_fn(move || {
            let c = cur?;
            cur = self.groups.get(c.0).and_then(|g| g.parent);
            Some(c)
        })
    }

    /// Whether `id` is `ancestor` or below it.
    pub fn is_descendant(&self, id: MemcgId, ancestor: MemcgId) -> bool {
        self.ancestors(id).any(|a| a == ancestor)
    }

    /// The path of a group (`/a/b`).
    pub fn path(&self, id: MemcgId) -> String {
        let mut names: Vec<&str> = self
            .ancestors(id)
            .filter(|&a| a != MemcgId::ROOT)
            .map(|a| self.groups[a.0].name.as_str())
            .collect();
        if names.is_empty() {
            return "/".into();
        }
        names.reverse();
        let mut s = String::new();
        for n in names {
            s.push('/');
            s.push_str(n);
        }
        s
    }

    /// `memcg_memory_event()`: counts `event` in `id`'s
    /// `memory.events.local`, and in the `memory.events` of `id` and of
    /// each of its ancestors below the root (cgroup v2's `memory.events`
    /// counts the whole subtree); the root itself counts only its own
    /// events.
    pub(crate) fn memory_event(&mut self, id: MemcgId, event: MemcgEvent) {
        self.groups[id.0].events_local.count(event);
        let ids: Vec<MemcgId> = self.ancestors(id).collect();
        for (i, a) in ids.into_iter().enumerate() {
            if i > 0 && a == MemcgId::ROOT {
                break;
            }
            self.groups[a.0].events.count(event);
        }
    }

    /// `mem_cgroup_get_oom_group()`: for a victim in group `memcg`, the
    /// highest group with `memory.oom.group` set on the way up from it to
    /// the OOM's domain (`domain`: the group whose limit was hit, or the
    /// root); `None` for a victim in the root or outside the domain.
    pub(crate) fn get_oom_group(&self, memcg: MemcgId, domain: MemcgId) -> Option<MemcgId> {
        if memcg == MemcgId::ROOT || !self.is_descendant(memcg, domain) {
            return None;
        }
        let mut group = None;
        for a in self.ancestors(memcg) {
            if self.groups[a.0].oom_group {
                group = Some(a);
            }
            if a == domain {
                break;
            }
        }
        group
    }

    /// `id`'s subtree in pre-order (`mem_cgroup_iter()`'s walk: a group,
    /// then each child's subtree in creation order).
    pub(crate) fn subtree_preorder(&self, id: MemcgId) -> Vec<MemcgId> {
        let mut out = Vec::new();
        let mut stack = alloc::vec![id];
        while let Some(g) = stack.pop() {
            out.push(g);
            // Children have higher ids than their parent (a group is
            // created under an existing one); pushed in reverse so the
            // first created is walked first.
            let children = (g.0 + 1..self.groups.len())
                .rev()
                .filter(|&c| self.groups[c].parent == Some(g));
            stack.extend(children.map(MemcgId));
        }
        out
    }

    /// `mem_cgroup_below_min()` and `mem_cgroup_below_low()` of every
    /// group, for reclaim on behalf of `target` (the root for global
    /// reclaim and kswapd), after `mem_cgroup_calculate_protection()`
    /// without the `memory_recursive_prot` mount option: indexed by group
    /// id. The target, the root and groups outside the target's subtree
    /// are never protected (`mem_cgroup_unprotected()`).
    ///
    /// The effective min and low of a child of the target are its
    /// `memory.min` and `memory.low`; deeper, each is the group's
    /// protected usage (`min(usage, setting)`), scaled down when its
    /// siblings' protected usages together exceed their parent's
    /// effective value (`effective_protection()`). An empty group is below
    /// min: its effective values are not recomputed, and any value covers
    /// no usage.
    pub(crate) fn protection(&self, target: MemcgId) -> Vec<Protection> {
        let n = self.groups.len();
        let mut emin = alloc::vec![0u64; n];
        let mut elow = alloc::vec![0u64; n];
        let mut out = alloc::vec![Protection::None; n];
        // Parents come before their children in id order.
        for i in 0..n {
            let id = MemcgId(i);
            let g = &self.groups[i];
            let Some(parent) = g.parent else { continue };
            if id == target || !self.is_descendant(id, target) {
                continue;
            }
            if g.usage == 0 {
                out[i] = Protection::Min;
                continue;
            }
            if parent == target {
                emin[i] = g.min;
                elow[i] = g.low;
            } else {
                let siblings = |setting: fn(&Memcg) -> u64| -> u64 {
                    self.groups
                        .iter()
                        .filter(|s| s.parent == Some(parent))
                        .map(|s| s.usage.min(setting(s)))
                        .sum()
                };
                emin[i] = effective_protection(g.usage, g.min, emin[parent.0], siblings(|s| s.min));
                elow[i] = effective_protection(g.usage, g.low, elow[parent.0], siblings(|s| s.low));
            }
            out[i] = if emin[i] >= g.usage {
                Protection::Min
            } else if elow[i] >= g.usage {
                Protection::Low
            } else {
                Protection::None
            };
        }
        out
    }

    /// `page_counter_try_charge()`: charges `nr` to `id` and its ancestors
    /// unless one would pass its `max`; returns the group over its limit.
    fn try_charge(&mut self, id: MemcgId, nr: u64) -> Result<(), MemcgId> {
        let over = self
            .ancestors(id)
            .find(|a| self.groups[a.0].usage + nr > self.groups[a.0].max);
        if let Some(o) = over {
            return Err(o);
        }
        self.charge(id, nr);
        Ok(())
    }

    fn charge(&mut self, id: MemcgId, nr: u64) {
        let mut cur = Some(id);
        while let Some(c) = cur {
            let g = &mut self.groups[c.0];
            g.usage += nr;
            cur = g.parent;
        }
    }

    /// Uncharges `nr` pages from `id` and its ancestors.
    pub fn uncharge(&mut self, id: MemcgId, nr: u64) {
        let mut cur = Some(id);
        while let Some(c) = cur {
            let g = &mut self.groups[c.0];
            g.usage = g.usage.saturating_sub(nr);
            cur = g.parent;
        }
    }

    fn margin(&self, id: MemcgId) -> u64 {
        self.ancestors(id)
            .map(|a| self.groups[a.0].max.saturating_sub(self.groups[a.0].usage))
            .min()
            .unwrap_or(0)
    }

    pub(crate) fn record_kmem(&mut self, pfn: u32, id: MemcgId, nr: u64) {
        self.kmem.insert(pfn, (id, nr));
    }

    pub(crate) fn kmem_of(&self, pfn: u32) -> Option<MemcgId> {
        self.kmem.get(&pfn).map(|&(mc, _)| mc)
    }

    pub(crate) fn take_kmem(&mut self, pfn: u32) -> Option<(MemcgId, u64)> {
        self.kmem.remove(&pfn)
    }

    /// How many accounted kernel pages are recorded.
    pub(crate) fn kmem_records(&self) -> u64 {
        self.kmem.len() as u64
    }

    pub(crate) fn get_mut(&mut self, id: MemcgId) -> &mut Memcg {
        &mut self.groups[id.0]
    }

    /// `id`'s own counters, to count an event or a change in (the root
    /// for an unknown id, as pages of unknown tasks are charged there).
    pub(crate) fn stat_mut(&mut self, id: MemcgId) -> &mut MemcgLocalStat {
        let i = if id.0 < self.groups.len() { id.0 } else { 0 };
        &mut self.groups[i].stat
    }

    /// The sum of a counter over `id`'s subtree (rstat's hierarchical
    /// read).
    fn subtree_sum(&self, id: MemcgId, f: impl Fn(&MemcgLocalStat) -> u64) -> u64 {
        (0..self.groups.len())
            .map(MemcgId)
            .filter(|&g| self.is_descendant(g, id))
            .map(|g| f(&self.groups[g.0].stat))
            .sum()
    }
}

/// The page-state counts of a subtree that the LRU records give.
#[derive(Default)]
struct SubtreePages {
    anon: u64,
    file: u64,
    file_mapped: u64,
    file_dirty: u64,
    /// In [`LruList::ALL`] order.
    lru: [u64; 4],
}

impl VmState {
    fn subtree_pages(&self, id: MemcgId) -> SubtreePages {
        let mut c = SubtreePages::default();
        for info in self.pages.values() {
            if !self.memcg.is_descendant(info.memcg, id) {
                continue;
            }
            match info.spec.kind {
                // NR_ANON_MAPPED: the mapped ones (a fault's pages are
                // mapped by their owner while they live).
                PageKind::Anon => c.anon += info.spec.mapped as u64,
                PageKind::File => {
                    c.file += 1;
                    c.file_mapped += info.spec.mapped as u64;
                    c.file_dirty += info.spec.dirty as u64;
                }
            }
            c.lru[LruList::of(info.spec.kind, info.active) as usize] += 1;
        }
        c
    }
}

/// `memory_stat_format()` on cgroup v2: the entries of a group's
/// `memory.stat`; what is modelled is listed at [`Vm::memcg_memory_stat`].
pub(crate) fn memory_stat_entries(st: &VmState, id: MemcgId) -> Vec<(&'static str, u64)> {
    let page = crate::PAGE_SIZE as u64;
    let p = st.subtree_pages(id);
    let sum = |f: fn(&MemcgLocalStat) -> u64| st.memcg.subtree_sum(id, f);
    let slab_r = sum(|s| s.slab_reclaimable_b);
    let slab_u = sum(|s| s.slab_unreclaimable_b);
    let (scan_k, scan_d) = (sum(|s| s.pgscan_kswapd), sum(|s| s.pgscan_direct));
    let (steal_k, steal_d) = (sum(|s| s.pgsteal_kswapd), sum(|s| s.pgsteal_direct));
    let mut v: Vec<(&'static str, u64)> = alloc::vec![
        ("anon", p.anon * page),
        ("file", p.file * page),
        ("kernel", sum(|s| s.kmem) * page),
    ];
    for name in [
        "kernel_stack",
        "pagetables",
        "sec_pagetables",
        "percpu",
        "sock",
        "vmalloc",
        "shmem",
        "zswap",
        "zswapped",
    ] {
        v.push((name, 0));
    }
    v.push(("file_mapped", p.file_mapped * page));
    v.push(("file_dirty", p.file_dirty * page));
    for name in [
        "file_writeback",
        "swapcached",
        "anon_thp",
        "file_thp",
        "shmem_thp",
    ] {
        v.push((name, 0));
    }
    for (name, l) in [
        ("inactive_anon", LruList::InactiveAnon),
        ("active_anon", LruList::ActiveAnon),
        ("inactive_file", LruList::InactiveFile),
        ("active_file", LruList::ActiveFile),
    ] {
        v.push((name, p.lru[l as usize] * page));
    }
    v.push(("unevictable", 0));
    v.push(("slab_reclaimable", slab_r));
    v.push(("slab_unreclaimable", slab_u));
    // memcg_stat_format() adds `slab` right after slab_unreclaimable.
    v.push(("slab", slab_r + slab_u));
    for name in [
        "workingset_refault_anon",
        "workingset_refault_file",
        "workingset_activate_anon",
        "workingset_activate_file",
        "workingset_restore_anon",
        "workingset_restore_file",
        "workingset_nodereclaim",
        "pgdemote_kswapd",
        "pgdemote_direct",
        "pgdemote_khugepaged",
        "pgpromote_success",
    ] {
        v.push((name, 0));
    }
    // The accumulated events: the totals first, then the vm events.
    v.push(("pgscan", scan_k + scan_d));
    v.push(("pgsteal", steal_k + steal_d));
    v.push(("pgscan_kswapd", scan_k));
    v.push(("pgscan_direct", scan_d));
    v.push(("pgscan_khugepaged", 0));
    v.push(("pgsteal_kswapd", steal_k));
    v.push(("pgsteal_direct", steal_d));
    v.push(("pgsteal_khugepaged", 0));
    v.push(("pgfault", sum(|s| s.pgfault)));
    v.push(("pgmajfault", 0));
    v.push(("pgrefill", sum(|s| s.pgrefill)));
    v.push(("pgactivate", sum(|s| s.pgactivate)));
    v.push(("pgdeactivate", sum(|s| s.pgdeactivate)));
    for name in [
        "pglazyfree",
        "pglazyfreed",
        "swpin_zero",
        "swpout_zero",
        "zswpin",
        "zswpout",
        "zswpwb",
        "thp_fault_alloc",
        "thp_collapse_alloc",
        "thp_swpout",
        "thp_swpout_fallback",
        "numa_pages_migrated",
        "numa_pte_updates",
        "numa_hint_faults",
    ] {
        v.push((name, 0));
    }
    v
}

impl Vm {
    /// A group's `memory.stat` (cgroup v2): name and value in 6.12's order
    /// (`memory_stats[]`, then `memcg_vm_event_stat[]`), for a kernel with
    /// swap, zswap, transparent huge pages and NUMA balancing built in (the
    /// option-dependent entries present). Page-state entries are in bytes, as
    /// `memcg_page_state_output()` prints them; events are counts. `None` for
    /// an unknown group.
    ///
    /// Modelled: `anon`, `file`, `kernel`, `file_mapped`, `file_dirty`, the
    /// four LRU lists, the slab entries, `pgscan*`, `pgsteal*`, `pgfault`,
    /// `pgrefill`, `pgactivate` and `pgdeactivate`. The others print 0, which
    /// is what 6.12 shows for a system without what they count: no kernel
    /// stacks, page tables, per-CPU, socket or vmalloc memory is charged here,
    /// there is no shmem, no zswap in use, no swap cache (a page leaves memory
    /// as it is written to swap), no writeback outstanding between reclaim
    /// passes, no huge pages, no workingset shadow entries (nothing is read
    /// back from swap or disk), no demotion tiers, no major faults, no
    /// `MADV_FREE`, and no NUMA balancing scans. One difference: 6.12 counts a
    /// zero-filled page written to swap in `swpout_zero` and writes nothing;
    /// the model does not look at a page's contents and counts it in
    /// `pswpout`.
    pub fn memcg_memory_stat(&self, id: MemcgId) -> Option<Vec<(&'static str, u64)>> {
        let st = self.state.lock();
        st.memcg.get(id)?;
        Some(memory_stat_entries(&st, id))
    }

    /// `memcg_account_kmem()`: `nr` pages charged (positive) or uncharged
    /// (negative) as kernel memory of `id`.
    pub(crate) fn memcg_account_kmem(&self, id: MemcgId, nr: i64) {
        let mut st = self.state.lock();
        let s = st.memcg.stat_mut(id);
        s.kmem = s.kmem.saturating_add_signed(nr);
    }

    /// `mod_objcg_state()` for the slab items: `bytes` of accounted objects
    /// of a reclaimable or other cache charged (positive) or uncharged
    /// (negative) to `id`.
    pub(crate) fn memcg_account_slab(&self, id: MemcgId, reclaimable: bool, bytes: i64) {
        let mut st = self.state.lock();
        let s = st.memcg.stat_mut(id);
        let c = if reclaimable {
            &mut s.slab_reclaimable_b
        } else {
            &mut s.slab_unreclaimable_b
        };
        *c = c.saturating_add_signed(bytes);
    }

    /// Creates a group under `parent` with no limits.
    pub fn memcg_create(&self, parent: MemcgId, name: &str) -> MemcgId {
        let mut st = self.state.lock();
        let id = MemcgId(st.memcg.groups.len());
        st.memcg.groups.push(Memcg::new(name, Some(parent)));
        id
    }

    /// Sets `memory.max` (pages).
    pub fn memcg_set_max(&self, id: MemcgId, pages: u64) {
        self.state.lock().memcg.get_mut(id).max = pages;
    }

    /// Sets `memory.high` (pages).
    pub fn memcg_set_high(&self, id: MemcgId, pages: u64) {
        self.state.lock().memcg.get_mut(id).high = pages;
    }

    /// Sets `memory.min` (pages).
    pub fn memcg_set_min(&self, id: MemcgId, pages: u64) {
        self.state.lock().memcg.get_mut(id).min = pages;
    }

    /// Sets `memory.low` (pages).
    pub fn memcg_set_low(&self, id: MemcgId, pages: u64) {
        self.state.lock().memcg.get_mut(id).low = pages;
    }

    /// Sets `memory.oom.group`; the root has no such file and is left
    /// unchanged.
    pub fn memcg_set_oom_group(&self, id: MemcgId, on: bool) {
        if id != MemcgId::ROOT {
            self.state.lock().memcg.get_mut(id).oom_group = on;
        }
    }

    /// Uncharges `nr` pages from `memcg` and its ancestors.
    pub fn memcg_uncharge(&self, memcg: MemcgId, nr: u64) {
        self.state.lock().memcg.uncharge(memcg, nr);
    }

    /// A copy of a group's state.
    pub fn memcg(&self, id: MemcgId) -> Option<Memcg> {
        self.state.lock().memcg.get(id).cloned()
    }

    /// `try_charge_memcg()`: charges `nr` pages to `memcg`; over a limit,
    /// reclaims in the group over it, retries, then runs the group's OOM
    /// killer. Non-blocking requests fail at once; `__GFP_NOFAIL` and
    /// `__GFP_HIGH` charge over the limit when all else failed; PF_MEMALLOC
    /// always does.
    pub fn memcg_try_charge(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        memcg: MemcgId,
        gfp: Gfp,
        nr: u64,
    ) -> Result<(), AllocError> {
        let gfp = cx.task.gfp_context(gfp);
        let mut retries = MAX_RECLAIM_RETRIES;
        let mut passed_oom = false;
        let mut drained = false;
        // Whether this charge raised its `max` event before reclaiming; a
        // charge refused or forced without reclaim raises it at the end
        // (`try_charge_memcg()`).
        let mut raised_max_event = false;
        let order = nr.next_power_of_two().trailing_zeros();
        let (over, refused) = loop {
            let charged = self.state.lock().memcg.try_charge(memcg, nr);
            let over = match charged {
                Ok(()) => {
                    self.memcg_over_high(m, cx, memcg, gfp);
                    return Ok(());
                }
                Err(o) => o,
            };
            self.state.lock().memcg.get_mut(over).failcnt += 1;
            if cx.task.memalloc() {
                break (over, false);
            }
            if !gfp.contains(Gfp::DIRECT_RECLAIM) {
                break (over, true);
            }
            self.state.lock().memcg.memory_event(over, MemcgEvent::Max);
            raised_max_event = true;
            let reclaimed = self.try_to_free_mem_cgroup_pages(m, cx, over, nr, gfp);
            if self.state.lock().memcg.margin(over) >= nr {
                continue;
            }
            if !drained {
                drained = true;
                continue;
            }
            if gfp.contains(Gfp::NORETRY) {
                break (over, true);
            }
            if reclaimed > 0 && nr <= 1 << PAGE_ALLOC_COSTLY_ORDER {
                continue;
            }
            if retries > 0 {
                retries -= 1;
                continue;
            }
            if gfp.contains(Gfp::RETRY_MAYFAIL) {
                break (over, true);
            }
            if passed_oom && cx.task.oom_victim {
                break (over, true);
            }
            if order <= PAGE_ALLOC_COSTLY_ORDER && self.mem_cgroup_oom(m, cx, over, gfp, order) {
                passed_oom = true;
                retries = MAX_RECLAIM_RETRIES;
                continue;
            }
            break (over, true);
        };
        let mut st = self.state.lock();
        if !raised_max_event {
            st.memcg.memory_event(over, MemcgEvent::Max);
        }
        if refused && !gfp.intersects(Gfp::NOFAIL | Gfp::HIGH) {
            return Err(AllocError::NoMemory { gfp, order });
        }
        // force: over the limit.
        st.memcg.charge(memcg, nr);
        Ok(())
    }

    /// `mem_cgroup_handle_over_high()`, done at once for a blocking
    /// charge: reclaim what is above `memory.high`.
    /// [`Vm::memcg_try_charge`] where it cannot block: `true`, charged with
    /// the same outcome; `false`, nothing charged, because the charge would
    /// reclaim (over `max`, or over `high` with direct reclaim allowed),
    /// wait or fail. `gfp` is the mask in force.
    pub(crate) fn memcg_charge_nonblocking(
        &self,
        cx: &Cx<'_>,
        memcg: MemcgId,
        gfp: Gfp,
        nr: u64,
    ) -> bool {
        let mut st = self.state.lock();
        if st.memcg.try_charge(memcg, nr).is_err() {
            return false;
        }
        let reclaims_high = gfp.contains(Gfp::DIRECT_RECLAIM)
            && !cx.task.memalloc()
            && st
                .memcg
                .ancestors(memcg)
                .any(|a| st.memcg.get(a).is_some_and(|g| g.usage > g.high));
        if reclaims_high {
            st.memcg.uncharge(memcg, nr);
            return false;
        }
        true
    }

    fn memcg_over_high(&self, m: &Machine, cx: &Cx<'_>, memcg: MemcgId, gfp: Gfp) {
        if !gfp.contains(Gfp::DIRECT_RECLAIM) || cx.task.memalloc() {
            return;
        }
        let over: Vec<(crate::memcg::MemcgId, u64)> = {
            let mut st = self.state.lock();
            let ids: Vec<MemcgId> = st.memcg.ancestors(memcg).collect();
            let mut v = Vec::new();
            for a in ids {
                let g = st.memcg.get_mut(a);
                if g.usage > g.high {
                    let excess = g.usage - g.high;
                    st.memcg.memory_event(a, MemcgEvent::High);
                    v.push((a, excess));
                }
            }
            v
        };
        for (a, excess) in over {
            self.try_to_free_mem_cgroup_pages(m, cx, a, excess, gfp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mem_cgroup_below_low()` alone: below low and not below min.
    fn below_low(t: &MemcgTree, target: MemcgId) -> Vec<bool> {
        t.protection(target)
            .into_iter()
            .map(|p| p == Protection::Low)
            .collect()
    }

    /// A tree with `p` under the root and `a`, `b` under `p`, charged
    /// `usage_a` and `usage_b` pages, with the given lows.
    fn tree(lows: [u64; 3], usage_a: u64, usage_b: u64) -> (MemcgTree, [MemcgId; 3]) {
        let mut t = MemcgTree::new();
        let p = MemcgId(1);
        t.groups.push(Memcg::new("p", Some(MemcgId::ROOT)));
        t.groups.push(Memcg::new("a", Some(p)));
        t.groups.push(Memcg::new("b", Some(p)));
        let ids = [p, MemcgId(2), MemcgId(3)];
        for (id, low) in ids.iter().zip(lows) {
            t.get_mut(*id).low = low;
        }
        t.charge(ids[1], usage_a);
        t.charge(ids[2], usage_b);
        (t, ids)
    }

    #[test]
    fn effective_low_is_shared_when_siblings_claim_more_than_their_parent_affords() {
        // effective_protection() (mm/page_counter.c): when the children's
        // protected usages add up to more than the parent's effective low,
        // each gets its share in proportion: 10 * 10 / 20 = 5 < 10.
        let (t, [p, a, b]) = tree([10, 10, 10], 10, 10);
        let below = below_low(&t, MemcgId::ROOT);
        assert!(!below[a.0] && !below[b.0]);
        assert!(!below[p.0], "p's low 10 is under its usage 20");
        // Within the parent's allowance each child keeps its own.
        let (t, [p, a, b]) = tree([30, 10, 10], 10, 10);
        let below = below_low(&t, MemcgId::ROOT);
        assert!(below[p.0] && below[a.0] && below[b.0]);
        // Protection claimed but unused by one child is not given to its
        // sibling without memory_recursive_prot.
        let (t, [_, a, b]) = tree([10, 10, 0], 4, 10);
        let below = below_low(&t, MemcgId::ROOT);
        assert!(below[a.0] && !below[b.0]);
    }

    #[test]
    fn the_targets_children_get_their_own_low_and_the_target_none() {
        // page_counter_calculate_protection(): a child of the reclaim's
        // target has its memory.low as its effective low, whatever the
        // target's; mem_cgroup_unprotected() exempts the target itself.
        let (t, [p, a, b]) = tree([10, 10, 10], 10, 10);
        let below = below_low(&t, p);
        assert!(!below[p.0]);
        assert!(below[a.0] && below[b.0]);
        assert!(!below[MemcgId::ROOT.0]);
    }

    #[test]
    fn an_empty_group_is_below_min_not_low() {
        // shrink_node_memcgs() tests mem_cgroup_below_min() first: it holds
        // for a group with no usage (page_counter_calculate_protection()
        // leaves its effective values alone, and any covers no usage),
        // which is skipped without setting memcg_low_skipped.
        let (t, [_, a, b]) = tree([0, 10, 10], 0, 5);
        let below = below_low(&t, MemcgId::ROOT);
        assert!(!below[a.0], "empty");
        assert!(!below[b.0], "p has no low to share");
        assert_eq!(t.protection(MemcgId::ROOT)[a.0], Protection::Min);
    }

    #[test]
    fn effective_min_is_shared_like_low_and_comes_first() {
        // page_counter_calculate_protection() computes emin with the same
        // effective_protection() as elow, from memory.min and the
        // siblings' protected min usages (children_min_usage);
        // shrink_node_memcgs() tests mem_cgroup_below_min() before
        // mem_cgroup_below_low().
        let (mut t, [p, a, b]) = tree([0, 0, 0], 10, 10);
        for (id, min) in [(p, 30), (a, 10), (b, 10)] {
            t.get_mut(id).min = min;
        }
        let prot = t.protection(MemcgId::ROOT);
        assert_eq!([prot[p.0], prot[a.0], prot[b.0]], [Protection::Min; 3]);
        // p's min 10 covers half of what a and b claim: 5 each, under
        // their usage.
        t.get_mut(p).min = 10;
        let prot = t.protection(MemcgId::ROOT);
        assert_eq!([prot[a.0], prot[b.0]], [Protection::None; 2]);
        // A low that covers the usage where the min does not: below low.
        t.get_mut(p).low = 20;
        t.get_mut(a).low = 10;
        let prot = t.protection(MemcgId::ROOT);
        assert_eq!(prot[a.0], Protection::Low);
        assert_eq!(prot[b.0], Protection::None);
        // The target's own min is ignored (mem_cgroup_unprotected()).
        assert_eq!(t.protection(p)[p.0], Protection::None);
        assert_eq!(t.protection(p)[a.0], Protection::Min, "its own min 10");
    }
}
