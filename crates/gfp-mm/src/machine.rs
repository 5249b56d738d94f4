//! The machine: nodes, zones, frames, CPUs, cpusets and tunables, built from
//! a [`MachineSpec`]; watermarks, lowmem reserves and zonelists computed as
//! Linux 6.12 computes them.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use gfp::zone::{MigrateType, ZoneType, MAX_PAGE_ORDER};

use crate::arena::{Arena, ArenaError};
use crate::cpuset::{CpusetError, CpusetId, CpusetTree};
use crate::env::Environment;
use crate::frame::{FrameKind, FrameState, FrameTable};
use crate::hooks::SlowPathHooks;
use crate::nodemask::{NodeId, NodeMask};
use crate::pcp::{fast_routes, zone_batchsize, CpuSlot, ZonePcp};
use crate::spec::{MachineSpec, SpecError, MAX_NR_ZONES};
use crate::stats::{zone_event_index, Event, ZoneEvent, NR_EVENTS, NR_ZONE_EVENTS};
use crate::sync::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering, SpinLock};
use crate::task::Task;
use crate::zone::{FrameMaps, Zone, ZoneId};
use crate::PAGE_SIZE;

/// Why a machine could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MachineError {
    /// The description is inconsistent.
    Spec(SpecError),
    /// The memory could not be set up.
    Arena(ArenaError),
}

impl fmt::Display for MachineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MachineError::Spec(e) => e.fmt(f),
            MachineError::Arena(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for MachineError {}

impl From<SpecError> for MachineError {
    fn from(e: SpecError) -> Self {
        MachineError::Spec(e)
    }
}

impl From<ArenaError> for MachineError {
    fn from(e: ArenaError) -> Self {
        MachineError::Arena(e)
    }
}

/// The context of one call into the allocator: which CPU runs it, which
/// task, and the environment and hooks to use. The core reads nothing
/// else: no thread-local, no clock of its own.
#[derive(Clone, Copy)]
pub struct Cx<'a> {
    /// The CPU (index into the machine's CPUs) whose per-CPU lists are used.
    pub cpu: usize,
    /// The allocating task.
    pub task: Task<'a>,
    /// Blocking points, clock and log.
    pub env: &'a dyn Environment,
    /// The slow path's steps.
    pub hooks: &'a dyn SlowPathHooks,
}

impl fmt::Debug for Cx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cx")
            .field("cpu", &self.cpu)
            .field("task", &self.task)
            .finish()
    }
}

impl<'a> Cx<'a> {
    /// A context for `cpu` running `task`.
    pub fn new(
        cpu: usize,
        task: Task<'a>,
        env: &'a dyn Environment,
        hooks: &'a dyn SlowPathHooks,
    ) -> Cx<'a> {
        Cx {
            cpu,
            task,
            env,
            hooks,
        }
    }

    /// The task's name.
    pub fn comm(&self) -> String {
        match self.task.comm {
            Some(c) => c.into(),
            None => self.env.current_comm(),
        }
    }
}

pub(crate) struct NodeData {
    pub(crate) zones: [Option<ZoneId>; MAX_NR_ZONES],
    pub(crate) zonelist: Vec<ZoneId>,
    pub(crate) zonelist_nofallback: Vec<ZoneId>,
    pub(crate) nr_dirty: AtomicI64,
    pub(crate) nr_writeback: AtomicI64,
    pub(crate) totalreserve: AtomicU64,
    pub(crate) cpus: u32,
    /// The first zone of the zonelist usable for each highest zone type
    /// (`u32::MAX`: none).
    pub(crate) first_zone: [u32; MAX_NR_ZONES],
}

/// Rate limiting of the allocation-failure report (10 s, burst 1).
pub(crate) struct RateLimit {
    pub(crate) begin_ns: Option<u64>,
    pub(crate) printed: u32,
    pub(crate) missed: u32,
}

/// The sites of `WARN_ON_ONCE` in the allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum WarnSite {
    OrderTooLarge = 0,
    NofailOrder,
    NofailNoReclaim,
    NofailMemalloc,
    NofailOom,
}

impl WarnSite {
    /// Where 6.12 has this warning: the line of mm/page_alloc.c and the
    /// function.
    pub(crate) const fn location(self) -> (u32, &'static str) {
        match self {
            WarnSite::OrderTooLarge => (4835, "__alloc_pages_noprof"),
            WarnSite::NofailOrder => (4312, "__alloc_pages_slowpath"),
            WarnSite::NofailNoReclaim => (4317, "__alloc_pages_slowpath"),
            WarnSite::NofailMemalloc => (4323, "__alloc_pages_slowpath"),
            WarnSite::NofailOom => (3728, "__alloc_pages_may_oom"),
        }
    }
}

/// The mask bits the fast path never serves (see `Machine::fast_reject`).
const FAST_REJECT: u32 = gfp::Gfp::THISNODE.bits() | gfp::Gfp::WRITE.bits();

/// A bit the fast path ORs into every mask before the reject test, so that
/// a reject word of all ones (cpusets in use) turns away the empty mask
/// too; `FAST_REJECT` leaves it clear.
pub(crate) const FAST_REJECT_ALWAYS: u32 = 1 << 31;
const _: () = assert!(FAST_REJECT & FAST_REJECT_ALWAYS == 0);

static NEXT_ID: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(1);

/// A simulated machine's memory and its page allocator.
pub struct Machine {
    pub(crate) id: u32,
    pub(crate) spec: MachineSpec,
    pub(crate) nodes: Vec<NodeData>,
    pub(crate) zones: Vec<Zone>,
    pub(crate) fm: FrameMaps,
    pub(crate) arena: Arena,
    pub(crate) cpus: Box<[CpuSlot]>,
    pub(crate) cpusets: SpinLock<CpusetTree>,
    pub(crate) cpusets_enabled: AtomicBool,
    /// Mask bits that send an allocation to the general path at once:
    /// `__GFP_THISNODE | __GFP_WRITE`, or every bit while cpusets are in
    /// use (the fast path knows no `mems_allowed`); tested against the mask
    /// with [`FAST_REJECT_ALWAYS`] set, so all ones rejects every mask.
    pub(crate) fast_reject: AtomicU32,
    pub(crate) cpuset_seq: AtomicU64,
    pub(crate) init_on_alloc: AtomicBool,
    pub(crate) min_free_kbytes: AtomicU64,
    pub(crate) watermark_scale_factor: AtomicU32,
    pub(crate) dirty_ratio: AtomicU32,
    pub(crate) events: Box<[AtomicU64]>,
    /// `allocstall_<zone>`: direct reclaim entries by the request's highest
    /// zone type (`sc->reclaim_idx`).
    pub(crate) allocstall: [AtomicU64; MAX_NR_ZONES],
    /// The node and zone page-state counters of the layers above (LRU,
    /// slab), shared with them.
    pub(crate) page_state: alloc::sync::Arc<crate::stats::PageState>,
    pub(crate) ratelimit: SpinLock<RateLimit>,
    pub(crate) warned: AtomicU32,
    pub(crate) oom_lock: AtomicBool,
    pub(crate) tuning: SpinLock<()>,
}

impl fmt::Debug for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Machine")
            .field("id", &self.id)
            .field("name", &self.spec.name)
            .field("pages", &self.total_pages())
            .field("zones", &self.zones)
            .finish()
    }
}

/// The kernel's boot default of `min_free_kbytes` for `lowmem_kbytes` of
/// low memory: `sqrt(16 * lowmem_kbytes)` clamped to 128..=262144.
pub fn default_min_free_kbytes(lowmem_kbytes: u64) -> u64 {
    isqrt(lowmem_kbytes * 16).clamp(128, 262_144)
}

fn isqrt(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let mut x = n;
    let mut y = x.div_ceil(2);
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

impl Machine {
    /// Builds the machine with its default memory (`mmap` with `std`).
    pub fn new(spec: MachineSpec) -> Result<Machine, MachineError> {
        spec.validate()?;
        let arena = Arena::new(spec.total_pages() as usize)?;
        Machine::with_arena(spec, arena, None)
    }

    /// Builds the machine on `arena`, which must hold at least the
    /// machine's pages. `id` names the machine in page handles (a fresh one
    /// when `None`); give fixed ids for reproducible runs.
    pub fn with_arena(
        spec: MachineSpec,
        arena: Arena,
        id: Option<u32>,
    ) -> Result<Machine, MachineError> {
        spec.validate()?;
        let total = spec.total_pages() as usize;
        if arena.pages() < total {
            return Err(ArenaError::TooSmall {
                needed: total * PAGE_SIZE,
                given: arena.pages() * PAGE_SIZE,
            }
            .into());
        }
        let id = id.unwrap_or_else(|| NEXT_ID.fetch_add(1, core::sync::atomic::Ordering::Relaxed));
        let nr_nodes = spec.nodes.len();

        // Lay out zones in physical order.
        let mut zones = Vec::new();
        let mut nodes = Vec::new();
        let mut pfn = 0u32;
        let mut zone_of: Vec<Option<usize>> = Vec::with_capacity(total);
        for (nid, node) in spec.nodes.iter().enumerate() {
            let mut ids = [None; MAX_NR_ZONES];
            for (zi, &pages) in node.zone_pages.iter().enumerate() {
                if pages == 0 {
                    continue;
                }
                let zid = zones.len();
                zones.push(Zone::new(zid, nid, ZoneType::ALL[zi], pfn, pages));
                ids[zi] = Some(zid);
                zone_of.extend(core::iter::repeat_n(Some(zid), pages as usize));
                pfn += pages;
            }
            nodes.push(NodeData {
                zones: ids,
                zonelist: Vec::new(),
                zonelist_nofallback: Vec::new(),
                nr_dirty: AtomicI64::new(0),
                nr_writeback: AtomicI64::new(0),
                totalreserve: AtomicU64::new(0),
                cpus: spec.cpus.iter().filter(|&&c| c == nid).count() as u32,
                first_zone: [u32::MAX; MAX_NR_ZONES],
            });
        }

        // Zonelists: the node's zones from the highest down, then the other
        // nodes by distance (ties by node number), each highest first.
        for nid in 0..nr_nodes {
            let mut order: Vec<NodeId> = (0..nr_nodes).collect();
            order.sort_by_key(|&n| (n != nid, spec.distance[nid][n], n));
            let zl = |n: NodeId| {
                nodes[n]
                    .zones
                    .iter()
                    .rev()
                    .flatten()
                    .copied()
                    .collect::<Vec<_>>()
            };
            let list: Vec<ZoneId> = order.iter().flat_map(|&n| zl(n)).collect();
            let local = zl(nid);
            for hz in 0..MAX_NR_ZONES {
                nodes[nid].first_zone[hz] = list
                    .iter()
                    .copied()
                    .find(|&z| (zones[z].ztype as usize) <= hz)
                    .map_or(u32::MAX, |z| z as u32);
            }
            nodes[nid].zonelist = list;
            nodes[nid].zonelist_nofallback = local;
        }

        let pb_order = spec.tunables.pageblock_order;
        let nr_pb = total.div_ceil(1 << pb_order);
        let fm = FrameMaps {
            frames: FrameTable::new(zone_of.into_iter()),
            pageblock_mt: (0..nr_pb)
                .map(|_| AtomicU8::new(crate::zone::pb_byte(MigrateType::Movable)))
                .collect(),
            pb_order,
        };

        let nr_events = NR_EVENTS + zones.len() * NR_ZONE_EVENTS;
        let cpus: Box<[CpuSlot]> = spec
            .cpus
            .iter()
            .enumerate()
            .map(|(cpu, &nid)| {
                CpuSlot::new(
                    cpu,
                    nid,
                    fast_routes(&nodes[nid].first_zone),
                    zones.len(),
                    nr_events,
                )
            })
            .collect();

        let lowmem_kb: u64 = zones
            .iter()
            .filter(|z| !matches!(z.ztype, ZoneType::HighMem | ZoneType::Movable))
            .map(|z| z.managed_pages() * (PAGE_SIZE as u64 / 1024))
            .sum();
        let min_free_kbytes = spec
            .tunables
            .min_free_kbytes
            .unwrap_or_else(|| default_min_free_kbytes(lowmem_kb));

        let page_state =
            alloc::sync::Arc::new(crate::stats::PageState::new(nodes.len(), zones.len()));
        let m = Machine {
            id,
            nodes,
            zones,
            fm,
            arena,
            cpus,
            cpusets: SpinLock::new(CpusetTree::new(NodeMask::first(nr_nodes))),
            cpusets_enabled: AtomicBool::new(false),
            fast_reject: AtomicU32::new(FAST_REJECT),
            cpuset_seq: AtomicU64::new(0),
            init_on_alloc: AtomicBool::new(spec.tunables.init_on_alloc),
            min_free_kbytes: AtomicU64::new(min_free_kbytes),
            watermark_scale_factor: AtomicU32::new(spec.tunables.watermark_scale_factor),
            dirty_ratio: AtomicU32::new(spec.tunables.dirty_ratio),
            events: (0..nr_events).map(|_| AtomicU64::new(0)).collect(),
            allocstall: core::array::from_fn(|_| AtomicU64::new(0)),
            page_state,
            ratelimit: SpinLock::new(RateLimit {
                begin_ns: None,
                printed: 0,
                missed: 0,
            }),
            warned: AtomicU32::new(0),
            oom_lock: AtomicBool::new(false),
            tuning: SpinLock::new(()),
            spec,
        };
        m.free_all_memory();
        m.setup_per_zone_wmarks();
        m.setup_per_zone_lowmem_reserve();
        m.setup_pcp();
        Ok(m)
    }

    /// Hands every page of every zone to the buddy lists, in the largest
    /// aligned blocks that fit.
    fn free_all_memory(&self) {
        for z in &self.zones {
            let mut area = z.free.lock();
            let end = z.start_pfn + z.pages;
            for pfn in z.start_pfn..end {
                self.fm
                    .frames
                    .set(pfn, FrameState::make(FrameKind::FreeTail, z.id, 0));
            }
            let mut pfn = z.start_pfn;
            while pfn < end {
                let mut order = MAX_PAGE_ORDER;
                while order > 0 && (pfn % (1 << order) != 0 || pfn + (1 << order) > end) {
                    order -= 1;
                }
                let mt = self.fm.pb_mt(pfn);
                area.push(&self.fm, pfn, order, mt);
                pfn += 1 << order;
            }
            area.publish(z);
        }
    }

    /// `__setup_per_zone_wmarks()`: min in proportion to each low zone's
    /// share of `min_free_kbytes`, a small capped min for HighMem and
    /// Movable, and low/high each a further `max(min/4, managed *
    /// watermark_scale_factor / 10000)` above.
    fn setup_per_zone_wmarks(&self) {
        let _t = self.tuning.lock();
        let pages_min = self.min_free_kbytes.load(Ordering::Relaxed) / (PAGE_SIZE as u64 / 1024);
        let wsf = self.watermark_scale_factor.load(Ordering::Relaxed) as u64;
        let lowmem: u64 = self
            .zones
            .iter()
            .filter(|z| !matches!(z.ztype, ZoneType::HighMem | ZoneType::Movable))
            .map(Zone::managed_pages)
            .sum::<u64>()
            .max(1);
        for z in &self.zones {
            let managed = z.managed_pages();
            let tmp = pages_min * managed / lowmem;
            let min = if matches!(z.ztype, ZoneType::HighMem | ZoneType::Movable) {
                (managed / 1024).clamp(32, 128)
            } else {
                tmp
            };
            let step = (tmp >> 2).max(managed * wsf / 10_000);
            z.wmark[0].store(min, Ordering::Relaxed);
            z.wmark[1].store(min + step, Ordering::Relaxed);
            z.wmark[2].store(min + 2 * step, Ordering::Relaxed);
            z.refresh_fast_marks();
        }
        drop(_t);
        self.calculate_totalreserve_pages();
    }

    /// `setup_per_zone_lowmem_reserve()`: a zone keeps `managed pages of
    /// the zones above it / ratio` pages from requests that could have used
    /// those higher zones.
    fn setup_per_zone_lowmem_reserve(&self) {
        let ratios = self.spec.tunables.lowmem_reserve_ratio;
        for node in &self.nodes {
            for (i, &ratio) in ratios.iter().enumerate() {
                let Some(zid) = node.zones[i] else { continue };
                let z = &self.zones[zid];
                let ratio = ratio as u64;
                let mut upper = 0u64;
                for j in 0..MAX_NR_ZONES {
                    if j <= i {
                        z.lowmem_reserve[j].store(0, Ordering::Relaxed);
                        continue;
                    }
                    upper += node.zones[j].map_or(0, |u| self.zones[u].managed_pages());
                    let v = upper.checked_div(ratio).unwrap_or(0);
                    z.lowmem_reserve[j].store(v, Ordering::Relaxed);
                }
                z.refresh_fast_marks();
            }
        }
        self.calculate_totalreserve_pages();
    }

    /// `calculate_totalreserve_pages()`: per node, the high watermark plus
    /// the largest lowmem reserve of each zone.
    fn calculate_totalreserve_pages(&self) {
        for node in &self.nodes {
            let mut total = 0;
            for zid in node.zones.iter().flatten() {
                let z = &self.zones[*zid];
                let max = (0..MAX_NR_ZONES)
                    .map(|j| z.lowmem_reserve(j))
                    .max()
                    .unwrap_or(0)
                    + z.watermark(2);
                total += max.min(z.managed_pages());
            }
            node.totalreserve.store(total, Ordering::Relaxed);
        }
    }

    fn setup_pcp(&self) {
        let t = &self.spec.tunables;
        let nr_cpus = self.cpus.len() as u64;
        for z in &self.zones {
            let batch = t
                .pcp_batch
                .unwrap_or_else(|| zone_batchsize(z.managed_pages()))
                .max(1);
            let cpus = match self.nodes[z.nid].cpus as u64 {
                0 => nr_cpus,
                n => n,
            };
            let high = t
                .pcp_high
                .unwrap_or_else(|| (z.watermark(1) / cpus).max(4 * batch as u64) as u32)
                .max(batch);
            z.pcp_batch.store(batch, Ordering::Relaxed);
            z.pcp_high.store(high, Ordering::Relaxed);
            for c in self.cpus.iter() {
                let mut pcp = c.pcp.lock();
                let zp = &mut pcp.zones[z.id];
                zp.high = high;
                zp.batch = batch;
            }
        }
    }

    // ----- accessors -----

    /// The machine's id (carried by its page handles).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The description it was built from.
    pub fn spec(&self) -> &MachineSpec {
        &self.spec
    }

    /// Number of nodes.
    pub fn nr_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Number of CPUs.
    pub fn nr_cpus(&self) -> usize {
        self.cpus.len()
    }

    /// CPU `cpu`, if the machine has it.
    #[cfg(feature = "std")]
    #[inline(always)]
    pub(crate) fn cpu_slot(&self, cpu: usize) -> Option<&CpuSlot> {
        self.cpus.get(cpu)
    }

    /// The node of `cpu` (`cpu_to_node`).
    pub fn cpu_to_node(&self, cpu: usize) -> NodeId {
        self.cpus[cpu].nid
    }

    /// All zones, in physical order.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The zone of `nid` of type `zt`, if populated.
    pub fn zone(&self, nid: NodeId, zt: ZoneType) -> Option<&Zone> {
        self.nodes.get(nid)?.zones[zt as usize].map(|z| &self.zones[z])
    }

    /// The fallback zonelist of `nid` (`ZONELIST_FALLBACK`), as zone ids.
    pub fn zonelist(&self, nid: NodeId) -> &[ZoneId] {
        &self.nodes[nid].zonelist
    }

    /// The local-only zonelist of `nid` (`ZONELIST_NOFALLBACK`, used by
    /// `__GFP_THISNODE`).
    pub fn zonelist_nofallback(&self, nid: NodeId) -> &[ZoneId] {
        &self.nodes[nid].zonelist_nofallback
    }

    /// Total pages.
    pub fn total_pages(&self) -> u64 {
        self.zones.iter().map(Zone::managed_pages).sum()
    }

    /// Pages on the buddy lists of all zones.
    pub fn nr_free_pages(&self) -> i64 {
        self.zones.iter().map(Zone::free_pages).sum()
    }

    /// `min_free_kbytes` in force.
    pub fn min_free_kbytes(&self) -> u64 {
        self.min_free_kbytes.load(Ordering::Relaxed)
    }

    /// Sets `vm.min_free_kbytes` and recomputes watermarks and reserves.
    pub fn set_min_free_kbytes(&self, kb: u64) {
        self.min_free_kbytes.store(kb, Ordering::Relaxed);
        self.setup_per_zone_wmarks();
    }

    /// Sets `vm.watermark_scale_factor` and recomputes watermarks.
    pub fn set_watermark_scale_factor(&self, factor: u32) {
        self.watermark_scale_factor.store(factor, Ordering::Relaxed);
        self.setup_per_zone_wmarks();
    }

    /// Sets `vm.dirty_ratio`.
    pub fn set_dirty_ratio(&self, percent: u32) {
        self.dirty_ratio.store(percent, Ordering::Relaxed);
    }

    /// The `init_on_alloc` switch.
    #[inline]
    pub fn init_on_alloc(&self) -> bool {
        self.init_on_alloc.load(Ordering::Relaxed)
    }

    /// Sets the `init_on_alloc` switch: zero every page allocated from now on.
    pub fn set_init_on_alloc(&self, on: bool) {
        self.init_on_alloc.store(on, Ordering::Relaxed);
    }

    /// Per-node reserve (`pgdat->totalreserve_pages`).
    pub fn node_totalreserve_pages(&self, nid: NodeId) -> u64 {
        self.nodes[nid].totalreserve.load(Ordering::Relaxed)
    }

    /// Pages of `nid` marked dirty (`NR_FILE_DIRTY`).
    pub fn node_dirty_pages(&self, nid: NodeId) -> i64 {
        self.nodes[nid].nr_dirty.load(Ordering::Relaxed)
    }

    /// `node_page_state()` for one of the items the layers above the
    /// allocator keep (LRU lists, mapped page cache, slab), in pages.
    pub fn node_page_state(&self, nid: NodeId, item: crate::stats::NodeStat) -> u64 {
        self.page_state.node(nid, item)
    }

    /// The pages of `zone` on one LRU list (`NR_ZONE_INACTIVE_ANON` ...).
    pub fn zone_lru_pages(&self, zone: ZoneId, lru: crate::vm::LruList) -> u64 {
        self.page_state.zone_lru(zone, lru as usize)
    }

    /// Pages of `zone` dirty or under writeback (`NR_ZONE_WRITE_PENDING`,
    /// the memory summary's `writepending`); the zones of a node together
    /// hold its dirty and writeback pages.
    pub fn zone_write_pending(&self, zone: ZoneId) -> u64 {
        self.zones[zone]
            .nr_write_pending
            .load(Ordering::Relaxed)
            .max(0) as u64
    }

    /// Pages of `zone` starting (positive `delta`) or ending (negative)
    /// writeback, for the layer that models I/O: the node's
    /// `NR_WRITEBACK` and the zone's `NR_ZONE_WRITE_PENDING` move
    /// together, as `__folio_start_writeback()` and
    /// `__folio_end_writeback()` move them. Taking the zone, not the node,
    /// keeps the per-zone figures summing to the node's.
    pub fn add_zone_writeback(&self, zone: ZoneId, delta: i64) {
        let z = &self.zones[zone];
        self.nodes[z.nid]
            .nr_writeback
            .fetch_add(delta, Ordering::Relaxed);
        z.nr_write_pending.fetch_add(delta, Ordering::Relaxed);
    }

    /// A node's free pages in populated zones less its reserve: the part of
    /// `node_dirtyable_memory()` the allocator knows; the file pages on the
    /// node's LRU lists, which the next layer keeps, are added by
    /// [`Machine::node_dirty_limit_with`].
    pub fn node_dirtyable_memory(&self, nid: NodeId) -> u64 {
        let free: i64 = self.nodes[nid]
            .zones
            .iter()
            .flatten()
            .map(|&z| self.zones[z].free_pages().max(0))
            .sum();
        (free as u64).saturating_sub(self.node_totalreserve_pages(nid))
    }

    /// `node_dirty_limit()` for a node without file pages on its LRU lists.
    pub fn node_dirty_limit(&self, nid: NodeId, task: &Task<'_>) -> u64 {
        self.node_dirty_limit_with(nid, task, 0)
    }

    /// `node_dirty_limit()`: `dirty_ratio` percent of the dirtyable memory
    /// (free pages less the reserve, plus `file_lru` file pages on the
    /// node's LRU lists), a quarter more for realtime tasks.
    pub fn node_dirty_limit_with(&self, nid: NodeId, task: &Task<'_>, file_lru: u64) -> u64 {
        let dirtyable = self.node_dirtyable_memory(nid) + file_lru;
        let mut dirty = self.dirty_ratio.load(Ordering::Relaxed) as u64 * dirtyable / 100;
        if task.realtime {
            dirty += dirty / 4;
        }
        dirty.min(u32::MAX as u64)
    }

    /// `node_dirty_ok()` for a node without file pages on its LRU lists.
    pub fn node_dirty_ok(&self, nid: NodeId, task: &Task<'_>) -> bool {
        self.node_dirty_ok_with(nid, task, 0)
    }

    /// `node_dirty_ok()`: dirty and writeback pages within the limit, with
    /// `file_lru` file pages on the node's LRU lists.
    pub fn node_dirty_ok_with(&self, nid: NodeId, task: &Task<'_>, file_lru: u64) -> bool {
        let n = &self.nodes[nid];
        let pages = n.nr_dirty.load(Ordering::Relaxed) + n.nr_writeback.load(Ordering::Relaxed);
        pages.max(0) as u64 <= self.node_dirty_limit_with(nid, task, file_lru)
    }

    // ----- cpusets -----

    /// Creates a cpuset under `parent` with the nodes `mems`.
    pub fn create_cpuset(
        &self,
        parent: CpusetId,
        name: &str,
        mems: NodeMask,
        mem_hardwall: bool,
        mem_exclusive: bool,
    ) -> Result<CpusetId, CpusetError> {
        let mut t = self.cpusets.lock();
        let id = t.create(parent, name, mems, mem_hardwall, mem_exclusive)?;
        let enabled = t.len() > 1;
        self.cpusets_enabled.store(enabled, Ordering::Relaxed);
        self.fast_reject
            .store(if enabled { !0 } else { FAST_REJECT }, Ordering::Relaxed);
        self.cpuset_seq.fetch_add(1, Ordering::Relaxed);
        Ok(id)
    }

    /// Puts `task` in cpuset `id`: sets its cpuset and `mems_allowed`.
    pub fn attach_cpuset(&self, task: &mut Task<'_>, id: CpusetId) -> Result<(), CpusetError> {
        let t = self.cpusets.lock();
        let cs = t.get(id).ok_or(CpusetError::NoParent(id))?;
        task.cpuset = id;
        task.mems_allowed = cs.mems;
        Ok(())
    }

    /// A copy of the cpuset tree.
    pub fn cpusets(&self) -> CpusetTree {
        self.cpusets.lock().clone()
    }

    /// The name of cpuset `id` as failure reports print it (`/` for the
    /// root, or for a cpuset that no longer exists).
    pub(crate) fn cpuset_name(&self, id: crate::cpuset::CpusetId) -> String {
        self.cpusets
            .lock()
            .get(id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "/".into())
    }

    /// The task's `mems_allowed` as reports print it: limited to the
    /// machine's nodes, as a task's nodes are in the kernel (the root
    /// cpuset holds the nodes with memory).
    pub(crate) fn mems_allowed_of(&self, task: &Task<'_>) -> NodeMask {
        task.mems_allowed.and(NodeMask::first(self.nodes.len()))
    }

    /// `cpusets_enabled()`: whether any cpuset besides the root exists.
    #[inline(always)]
    pub fn cpusets_enabled(&self) -> bool {
        self.cpusets_enabled.load(Ordering::Relaxed)
    }

    pub(crate) fn cpuset_node_allowed(&self, task: &Task<'_>, nid: NodeId, gfp: gfp::Gfp) -> bool {
        if task.in_interrupt() || task.mems_allowed.contains(nid) || task.oom_victim {
            return true;
        }
        self.cpusets.lock().node_allowed(task, nid, gfp)
    }

    // ----- counters -----

    pub(crate) fn count(&self, ev: Event, n: u64) {
        self.events[ev as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_zone(&self, zone: ZoneId, ev: ZoneEvent, n: u64) {
        self.events[zone_event_index(zone, ev)].fetch_add(n, Ordering::Relaxed);
    }

    /// The value of a machine-wide event counter.
    pub fn event(&self, ev: Event) -> u64 {
        self.sum_event(ev as usize)
    }

    /// The value of a zone's event counter.
    pub fn zone_event(&self, zone: ZoneId, ev: ZoneEvent) -> u64 {
        self.sum_event(zone_event_index(zone, ev))
    }

    fn sum_event(&self, idx: usize) -> u64 {
        let mut v = self.events[idx].load(Ordering::Relaxed);
        let zone_ev = idx
            .checked_sub(NR_EVENTS)
            .map(|i| (i / NR_ZONE_EVENTS, i % NR_ZONE_EVENTS));
        for c in self.cpus.iter() {
            let pcp = c.pcp.lock();
            v += pcp.events[idx];
            if idx == Event::PgFree as usize {
                v += pcp.zones.iter().map(ZonePcp::freed_pages).sum::<u64>();
            }
            if let Some((zone, ev)) = zone_ev {
                let fast = &pcp.zones[zone].fast_allocs;
                v += match ev {
                    e if e == ZoneEvent::PgAlloc as usize => {
                        fast.iter().enumerate().map(|(o, n)| n << o).sum::<u64>()
                    }
                    // Fast-path allocations are NUMA hits (the first zone
                    // of the CPU's zonelist), local when the zone is on
                    // the CPU's node, "other" when not.
                    e if e == ZoneEvent::NumaHit as usize => fast.iter().sum::<u64>(),
                    e if e == ZoneEvent::NumaLocal as usize && self.zones[zone].nid == c.nid => {
                        fast.iter().sum::<u64>()
                    }
                    e if e == ZoneEvent::NumaOther as usize && self.zones[zone].nid != c.nid => {
                        fast.iter().sum::<u64>()
                    }
                    _ => 0,
                };
            }
        }
        v
    }

    /// Pages held on per-CPU lists of `zone`, over all CPUs.
    pub fn zone_pcp_pages(&self, zone: ZoneId) -> u64 {
        self.cpus
            .iter()
            .map(|c| c.pcp.lock().zones[zone].count as u64)
            .sum()
    }

    /// Pages held on `cpu`'s lists of `zone`.
    pub fn cpu_pcp_pages(&self, cpu: usize, zone: ZoneId) -> u64 {
        self.cpus[cpu].pcp.lock().zones[zone].count as u64
    }

    /// `WARN_ON_ONCE()` at `site`: the first time, the kernel's header line
    /// (`__warn()`: CPU, PID, file and line of the 6.12 source, function),
    /// then `what`, the condition in words, on a line of its own (the
    /// kernel prints the registers and a stack trace there instead).
    pub(crate) fn warn_once(&self, cx: &Cx<'_>, site: WarnSite, what: &str) {
        let bit = 1u32 << site as u32;
        if self.warned.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
            let (line, function) = site.location();
            cx.env.log(
                crate::env::LogLevel::Warning,
                &alloc::format!(
                    "WARNING: CPU: {} PID: {} at mm/page_alloc.c:{line} {function}",
                    cx.cpu,
                    cx.task.pid
                ),
            );
            cx.env.log(crate::env::LogLevel::Warning, what);
        }
    }

    /// Whether any zone of type DMA has pages (`has_managed_dma()`).
    pub fn has_managed_dma(&self) -> bool {
        self.zones.iter().any(|z| z.ztype == ZoneType::Dma)
    }
}
