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
use crate::vm::Vm;

/// A memory cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct MemcgId(pub usize);

impl MemcgId {
    /// The root group (no limit).
    pub const ROOT: MemcgId = MemcgId(0);
}

/// A group's state (`memory.current`, `memory.max`, `memory.high`,
/// `memory.events`).
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
    /// `memory.current` in pages (hierarchical).
    pub usage: u64,
    /// `memory.events: high` (hierarchical, as every `events_` counter:
    /// an event in a group counts in its ancestors too, the root aside).
    pub events_high: u64,
    /// `memory.events: max`.
    pub events_max: u64,
    /// `memory.events: oom`.
    pub events_oom: u64,
    /// `memory.events: oom_kill` (counted in the victim's group).
    pub events_oom_kill: u64,
    /// The memory counter's `failcnt` (`memory.failcnt` in cgroup v1, the
    /// `failcnt` of the memcg OOM report): charges refused at this group's
    /// `max`. There is no per-CPU charge stock, so no batch attempt fails
    /// before the charge itself, as one can in the kernel.
    pub failcnt: u64,
}

/// An event of `memory.events` (`enum memcg_memory_event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemcgEvent {
    /// `high`: reclaim because usage was above `memory.high`.
    High,
    /// `max`: a charge met `memory.max`.
    Max,
    /// `oom`: the group's OOM killer was invoked.
    Oom,
    /// `oom_kill`: a task of the group was killed.
    OomKill,
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
            groups: alloc::vec![Memcg {
                name: "/".into(),
                parent: None,
                max: u64::MAX,
                high: u64::MAX,
                usage: 0,
                events_high: 0,
                events_max: 0,
                events_oom: 0,
                events_oom_kill: 0,
                failcnt: 0,
            }],
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

    /// `memcg_memory_event()`: counts `event` in `id` and in each of its
    /// ancestors below the root (cgroup v2's `memory.events` counts the
    /// whole subtree); the root itself counts only its own events.
    pub(crate) fn memory_event(&mut self, id: MemcgId, event: MemcgEvent) {
        let ids: Vec<MemcgId> = self.ancestors(id).collect();
        for (i, a) in ids.into_iter().enumerate() {
            if i > 0 && a == MemcgId::ROOT {
                break;
            }
            let g = &mut self.groups[a.0];
            match event {
                MemcgEvent::High => g.events_high += 1,
                MemcgEvent::Max => g.events_max += 1,
                MemcgEvent::Oom => g.events_oom += 1,
                MemcgEvent::OomKill => g.events_oom_kill += 1,
            }
        }
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
}

impl Vm {
    /// Creates a group under `parent` with no limits.
    pub fn memcg_create(&self, parent: MemcgId, name: &str) -> MemcgId {
        let mut st = self.state.lock();
        let id = MemcgId(st.memcg.groups.len());
        st.memcg.groups.push(Memcg {
            name: name.into(),
            parent: Some(parent),
            max: u64::MAX,
            high: u64::MAX,
            usage: 0,
            events_high: 0,
            events_max: 0,
            events_oom: 0,
            events_oom_kill: 0,
            failcnt: 0,
        });
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
