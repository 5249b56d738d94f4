//! Observability: zoneinfo, buddyinfo and vmstat in the kernel's shapes,
//! the memory summary printed after an allocation failure (`show_mem()`),
//! and a full consistency check of the allocator's state.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use gfp::zone::ZoneType;
use gfp::{Gfp, Profile};

use crate::frame::FrameKind;
use crate::machine::Machine;
use crate::nodemask::{NodeId, NodeMask};
use crate::pcp::CpuPages;
use crate::spec::MAX_NR_ZONES;
use crate::stats::{Event, ZoneEvent};
use crate::vm::LruList;
use crate::zone::{FreeArea, Zone, ZoneId, MIGRATE_PCPTYPES, MIGRATE_TYPES, NR_PAGE_ORDERS};
use crate::PAGE_SIZE;

const KB: u64 = PAGE_SIZE as u64 / 1024;

/// One zone's state (`/proc/zoneinfo`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ZoneInfo {
    /// Zone id.
    pub id: ZoneId,
    /// Node.
    pub node: NodeId,
    /// Zone name (`DMA`, `DMA32`, `Normal`, `HighMem`, `Movable`).
    pub zone: &'static str,
    /// First PFN.
    pub start_pfn: u32,
    /// Free pages on the buddy lists.
    pub free: i64,
    /// Min watermark.
    pub min: u64,
    /// Low watermark.
    pub low: u64,
    /// High watermark.
    pub high: u64,
    /// Present pages.
    pub present: u64,
    /// Managed pages.
    pub managed: u64,
    /// Pages reserved for high-order atomic allocations.
    pub reserved_highatomic: u64,
    /// Free pages in high-atomic pageblocks.
    pub free_highatomic: i64,
    /// `protection: (...)`, one value per zone type.
    pub lowmem_reserve: [u64; MAX_NR_ZONES],
    /// Pages held on per-CPU lists.
    pub free_pcp: u64,
    /// Per-CPU refill batch.
    pub pcp_batch: u32,
    /// Per-CPU high mark.
    pub pcp_high: u32,
    /// Pages allocated from the zone so far.
    pub pgalloc: u64,
}

/// One zone's free blocks per order (`/proc/buddyinfo`), and per
/// migratetype (`/proc/pagetypeinfo`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BuddyInfo {
    /// Node.
    pub node: NodeId,
    /// Zone name.
    pub zone: &'static str,
    /// Free blocks per order.
    pub free_blocks: [u64; NR_PAGE_ORDERS],
    /// Free blocks per migratetype (Unmovable, Movable, Reclaimable,
    /// HighAtomic) and order.
    pub by_migratetype: [[u64; NR_PAGE_ORDERS]; MIGRATE_TYPES],
}

/// Page counts from [`Machine::check_invariants`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageCounts {
    /// Pages on the buddy lists.
    pub free_buddy: u64,
    /// Pages on per-CPU lists.
    pub free_pcp: u64,
    /// Pages allocated.
    pub allocated: u64,
    /// All managed pages.
    pub total: u64,
}

impl Machine {
    /// `/proc/zoneinfo` as data.
    pub fn zoneinfo(&self) -> Vec<ZoneInfo> {
        self.zones
            .iter()
            .map(|z| ZoneInfo {
                id: z.id,
                node: z.nid,
                zone: z.ztype.name(),
                start_pfn: z.start_pfn,
                free: z.free_pages(),
                min: z.watermark(0),
                low: z.watermark(1),
                high: z.watermark(2),
                present: z.managed_pages(),
                managed: z.managed_pages(),
                reserved_highatomic: z.reserved_highatomic(),
                free_highatomic: z.nr_free_highatomic.load(crate::sync::Ordering::Relaxed),
                lowmem_reserve: core::array::from_fn(|i| z.lowmem_reserve(i)),
                free_pcp: self.zone_pcp_pages(z.id),
                pcp_batch: z.pcp_batch.load(crate::sync::Ordering::Relaxed),
                pcp_high: z.pcp_high.load(crate::sync::Ordering::Relaxed),
                pgalloc: self.zone_event(z.id, ZoneEvent::PgAlloc),
            })
            .collect()
    }

    /// `/proc/buddyinfo` as data.
    pub fn buddyinfo(&self) -> Vec<BuddyInfo> {
        self.zones
            .iter()
            .map(|z| {
                let area = z.free.lock();
                let mut by_mt = [[0u64; NR_PAGE_ORDERS]; MIGRATE_TYPES];
                let mut free = [0u64; NR_PAGE_ORDERS];
                for (o, f) in free.iter_mut().enumerate() {
                    for (mt, row) in by_mt.iter_mut().enumerate() {
                        row[o] = area.nr[o][mt] as u64;
                        *f += area.nr[o][mt] as u64;
                    }
                }
                BuddyInfo {
                    node: z.nid,
                    zone: z.ztype.name(),
                    free_blocks: free,
                    by_migratetype: by_mt,
                }
            })
            .collect()
    }

    /// `/proc/vmstat`: the allocator's counters, by name.
    pub fn vmstat(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = Vec::new();
        v.push(("nr_free_pages".into(), self.nr_free_pages().max(0) as u64));
        let pcp: u64 = self.zones.iter().map(|z| self.zone_pcp_pages(z.id)).sum();
        v.push(("nr_free_pcp".into(), pcp));
        let dirty: i64 = (0..self.nr_nodes()).map(|n| self.node_dirty_pages(n)).sum();
        v.push(("nr_dirty".into(), dirty.max(0) as u64));
        for zt in ZoneType::ALL {
            let ids: Vec<ZoneId> = self
                .zones
                .iter()
                .filter(|z| z.ztype == zt)
                .map(|z| z.id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let n = ids
                .iter()
                .map(|&z| self.zone_event(z, ZoneEvent::PgAlloc))
                .sum();
            v.push((
                alloc::format!("pgalloc_{}", zt.name().to_ascii_lowercase()),
                n,
            ));
        }
        // 6.12 counts direct reclaim per zone type (`allocstall_normal`,
        // ...); `allocstall` below is this model's total of them.
        for zt in ZoneType::ALL {
            if self.zones.iter().any(|z| z.ztype == zt) {
                v.push((
                    alloc::format!("allocstall_{}", zt.name().to_ascii_lowercase()),
                    self.allocstall[zt as usize].load(crate::sync::Ordering::Relaxed),
                ));
            }
        }
        for ev in [
            ZoneEvent::NumaHit,
            ZoneEvent::NumaMiss,
            ZoneEvent::NumaForeign,
            ZoneEvent::NumaLocal,
            ZoneEvent::NumaOther,
        ] {
            let n = self.zones.iter().map(|z| self.zone_event(z.id, ev)).sum();
            v.push((ev.name().into(), n));
        }
        for ev in Event::ALL {
            v.push((ev.name().into(), self.event(ev)));
        }
        v
    }

    /// `/proc/zoneinfo` as text, in the kernel's layout (the fields this
    /// model has).
    pub fn zoneinfo_text(&self) -> String {
        let mut s = String::new();
        for zi in self.zoneinfo() {
            let _ = writeln!(s, "Node {}, zone {:>8}", zi.node, zi.zone);
            let _ = writeln!(s, "  pages free     {}", zi.free);
            let _ = writeln!(s, "        boost    0");
            let _ = writeln!(s, "        min      {}", zi.min);
            let _ = writeln!(s, "        low      {}", zi.low);
            let _ = writeln!(s, "        high     {}", zi.high);
            let _ = writeln!(s, "        spanned  {}", zi.present);
            let _ = writeln!(s, "        present  {}", zi.present);
            let _ = writeln!(s, "        managed  {}", zi.managed);
            let _ = writeln!(s, "        cma      0");
            let prot: Vec<String> = zi
                .lowmem_reserve
                .iter()
                .map(|p| alloc::format!("{p}"))
                .collect();
            let _ = writeln!(s, "        protection: ({})", prot.join(", "));
            let _ = writeln!(s, "      nr_free_pages {}", zi.free);
            let _ = writeln!(s, "      nr_free_highatomic {}", zi.free_highatomic);
            let _ = writeln!(s, "      nr_reserved_highatomic {}", zi.reserved_highatomic);
            let _ = writeln!(s, "      pgalloc {}", zi.pgalloc);
            let _ = writeln!(s, "  pagesets");
            let _ = writeln!(s, "    count: {}", zi.free_pcp);
            let _ = writeln!(s, "    high:  {}", zi.pcp_high);
            let _ = writeln!(s, "    batch: {}", zi.pcp_batch);
            let _ = writeln!(s, "  start_pfn:           {}", zi.start_pfn);
        }
        s
    }

    /// `/proc/buddyinfo` as text.
    pub fn buddyinfo_text(&self) -> String {
        let mut s = String::new();
        for b in self.buddyinfo() {
            let _ = write!(s, "Node {}, zone {:>8} ", b.node, b.zone);
            for n in b.free_blocks {
                let _ = write!(s, "{n:>6} ");
            }
            s.push('\n');
        }
        s
    }

    /// `/proc/vmstat` as text.
    pub fn vmstat_text(&self) -> String {
        let mut s = String::new();
        for (k, v) in self.vmstat() {
            let _ = writeln!(s, "{k} {v}");
        }
        s
    }

    /// The memory summary of `show_mem()` / `__show_free_areas()`: nodes
    /// outside `nodes` are skipped (`None`: all), zones above `max_zone`
    /// too. The LRU lists, mapped page cache and slab are the counters the
    /// layers above keep ([`Machine::node_page_state`]: [`crate::Vm`]'s
    /// LRU, [`crate::slab::Slab`]); what no layer models (isolated and
    /// unevictable pages, shmem, page tables, kernel stacks, bounce
    /// buffers, CMA, mlocked pages, zone write-pending pages, the swap
    /// cache) prints as 0; the swap figures are those of the swap devices
    /// of the [`crate::Vm`]s made for this machine.
    pub fn show_mem_lines(&self, nodes: Option<NodeMask>, max_zone: ZoneType) -> Vec<String> {
        use crate::stats::NodeStat;
        let show = |nid: NodeId| nodes.is_none_or(|m| m.contains(nid));
        let mut out = Vec::new();
        out.push("Mem-Info:".into());
        // show_free_areas(): free_pcp counts the zones the report shows.
        let pcp: u64 = self
            .zones
            .iter()
            .filter(|z| z.ztype <= max_zone && show(z.nid))
            .map(|z| self.zone_pcp_pages(z.id))
            .sum();
        self.show_mem_global(&mut out, pcp);
        for nid in 0..self.nr_nodes() {
            // node_has_managed_zones(): a node with no zone up to
            // `max_zone` is left out.
            let has_zones = self
                .zones
                .iter()
                .any(|z| z.nid == nid && z.ztype <= max_zone && z.managed_pages() > 0);
            if !show(nid) || !has_zones {
                continue;
            }
            let n = &self.nodes[nid];
            let kb = |item: NodeStat| self.node_page_state(nid, item) * KB;
            out.push(alloc::format!(
                "Node {nid} active_anon:{}kB inactive_anon:{}kB active_file:{}kB inactive_file:{}kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:{}kB dirty:{}kB writeback:{}kB shmem:0kB writeback_tmp:0kB kernel_stack:0kB pagetables:0kB sec_pagetables:0kB all_unreclaimable? no",
                kb(NodeStat::ActiveAnon),
                kb(NodeStat::InactiveAnon),
                kb(NodeStat::ActiveFile),
                kb(NodeStat::InactiveFile),
                kb(NodeStat::FileMapped),
                n.nr_dirty.load(crate::sync::Ordering::Relaxed).max(0) as u64 * KB,
                n.nr_writeback.load(crate::sync::Ordering::Relaxed).max(0) as u64 * KB
            ));
        }
        let zones: Vec<_> = self
            .zones
            .iter()
            .filter(|z| z.ztype <= max_zone && show(z.nid))
            .collect();
        for z in &zones {
            let pcp = self.zone_pcp_pages(z.id);
            let lru = |l: LruList| self.zone_lru_pages(z.id, l) * KB;
            out.push(alloc::format!(
                "Node {} {} free:{}kB boost:0kB min:{}kB low:{}kB high:{}kB reserved_highatomic:{}KB active_anon:{}kB inactive_anon:{}kB active_file:{}kB inactive_file:{}kB unevictable:0kB writepending:{}kB present:{}kB managed:{}kB mlocked:0kB bounce:0kB free_pcp:{}kB local_pcp:0kB free_cma:0kB",
                z.nid,
                z.ztype.name(),
                z.free_pages().max(0) as u64 * KB,
                z.watermark(0) * KB,
                z.watermark(1) * KB,
                z.watermark(2) * KB,
                z.reserved_highatomic() * KB,
                lru(LruList::ActiveAnon),
                lru(LruList::InactiveAnon),
                lru(LruList::ActiveFile),
                lru(LruList::InactiveFile),
                self.zone_write_pending(z.id) * KB,
                z.managed_pages() * KB,
                z.managed_pages() * KB,
                pcp * KB,
            ));
            let prot: Vec<String> = (0..MAX_NR_ZONES)
                .map(|i| alloc::format!(" {}", z.lowmem_reserve(i)))
                .collect();
            out.push(alloc::format!("lowmem_reserve[]:{}", prot.concat()));
        }
        const TYPES: [char; MIGRATE_TYPES] = ['U', 'M', 'E', 'H'];
        for z in &zones {
            let area = z.free.lock();
            let mut line = alloc::format!("Node {} {}: ", z.nid, z.ztype.name());
            let mut total = 0u64;
            for o in 0..NR_PAGE_ORDERS {
                let nr: u64 = (0..MIGRATE_TYPES).map(|m| area.nr[o][m] as u64).sum();
                total += nr << o;
                let _ = write!(line, "{nr}*{}kB ", KB << o);
                if nr > 0 {
                    let types: String = (0..MIGRATE_TYPES)
                        .filter(|&m| area.nr[o][m] > 0)
                        .map(|m| TYPES[m])
                        .collect();
                    let _ = write!(line, "({types}) ");
                }
            }
            let _ = write!(line, "= {}kB", total * KB);
            out.push(line);
        }
        // NR_FILE_PAGES: the page cache is the file LRU pages here (no
        // shmem, no swap cache).
        out.push(alloc::format!(
            "{} total pagecache pages",
            self.global_node_page_state(NodeStat::ActiveFile)
                + self.global_node_page_state(NodeStat::InactiveFile)
        ));
        // show_swap_cache_info(): no swap cache here (a page leaves memory
        // as it is written to swap).
        let (swap_total, swap_used) = self.page_state.swap();
        out.push("0 pages in swap cache".into());
        out.push(alloc::format!(
            "Free swap  = {}kB",
            (swap_total - swap_used) * KB
        ));
        out.push(alloc::format!("Total swap = {}kB", swap_total * KB));
        out.push(alloc::format!("{} pages RAM", self.total_pages()));
        // is_highmem(): HighMem zones, and Movable ones only where they are
        // carved out of high memory (a machine with a HighMem zone); a
        // 64-bit machine's Movable zone is not counted.
        let has_highmem = self.zones.iter().any(|z| z.ztype == ZoneType::HighMem);
        let highmem: u64 = self
            .zones
            .iter()
            .filter(|z| {
                z.ztype == ZoneType::HighMem || (has_highmem && z.ztype == ZoneType::Movable)
            })
            .map(|z| z.managed_pages())
            .sum();
        out.push(alloc::format!("{highmem} pages HighMem/MovableOnly"));
        out.push("0 pages reserved".into());
        out
    }

    /// `global_node_page_state()`: the sum over every node.
    fn global_node_page_state(&self, item: crate::stats::NodeStat) -> u64 {
        (0..self.nr_nodes())
            .map(|n| self.node_page_state(n, item))
            .sum()
    }

    /// The first block of `show_free_areas()`: machine-wide counts, every
    /// node whatever the report's filter, except `free_pcp` (`pcp`), which
    /// counts the zones the report shows.
    fn show_mem_global(&self, out: &mut Vec<String>, pcp: u64) {
        use crate::stats::NodeStat;
        let dirty: i64 = (0..self.nr_nodes()).map(|n| self.node_dirty_pages(n)).sum();
        let wb: i64 = self
            .nodes
            .iter()
            .map(|n| n.nr_writeback.load(crate::sync::Ordering::Relaxed))
            .sum();
        let global = |item: NodeStat| self.global_node_page_state(item);
        out.push(alloc::format!(
            "active_anon:{} inactive_anon:{} isolated_anon:0",
            global(NodeStat::ActiveAnon),
            global(NodeStat::InactiveAnon)
        ));
        out.push(alloc::format!(
            " active_file:{} inactive_file:{} isolated_file:0",
            global(NodeStat::ActiveFile),
            global(NodeStat::InactiveFile)
        ));
        out.push(alloc::format!(
            " unevictable:0 dirty:{} writeback:{}",
            dirty.max(0),
            wb.max(0)
        ));
        out.push(alloc::format!(
            " slab_reclaimable:{} slab_unreclaimable:{}",
            global(NodeStat::SlabReclaimable),
            global(NodeStat::SlabUnreclaimable)
        ));
        out.push(alloc::format!(
            " mapped:{} shmem:0 pagetables:0",
            global(NodeStat::FileMapped)
        ));
        out.push(" sec_pagetables:0 bounce:0".into());
        out.push(" kernel_misc_reclaimable:0".into());
        out.push(alloc::format!(
            " free:{} free_pcp:{pcp} free_cma:0",
            self.nr_free_pages().max(0)
        ));
    }

    /// Checks every structure against every other and counts pages. Locks
    /// everything: call it when no allocation is in flight.
    ///
    /// Checked: each buddy list entry is a free head of that order, aligned,
    /// inside its zone, on the list of its pageblock's type, its other
    /// frames free tails; each per-CPU entry is a per-CPU head of its order;
    /// every allocated head's frames are its tails; the free counters match
    /// the lists; every frame is covered exactly once; and free + per-CPU +
    /// allocated = total.
    pub fn check_invariants(&self) -> Result<PageCounts, String> {
        let pcps: Vec<_> = self.cpus.iter().map(|c| c.pcp.lock()).collect();
        let areas: Vec<_> = self.zones.iter().map(|z| z.free.lock()).collect();
        let total = self.fm.frames.len();
        let mut coverage = Coverage::new(total);
        let mut counts = PageCounts {
            total: self.total_pages(),
            ..PageCounts::default()
        };
        for (z, area) in self.zones.iter().zip(&areas) {
            let (free, free_ha) = self.check_buddy_lists(z, area, &mut coverage)?;
            if free != area.nr_free || free != z.free_pages() {
                return Err(alloc::format!(
                    "zone {}: {free} free pages on lists, counters {} / {}",
                    z.id,
                    area.nr_free,
                    z.free_pages()
                ));
            }
            check_published_blocks(z, area)?;
            // The fast path's one-bit verdicts agree with the general
            // watermark test for every highest zone type and per-CPU order.
            check_fast_watermarks(z)?;
            if free_ha != area.nr_free_highatomic {
                return Err(alloc::format!(
                    "zone {}: high-atomic free {free_ha} vs {}",
                    z.id,
                    area.nr_free_highatomic
                ));
            }
            counts.free_buddy += free as u64;
        }
        for (cpu, pcp) in pcps.iter().enumerate() {
            for z in &self.zones {
                counts.free_pcp += self.check_pcp_lists(cpu, z, pcp, &mut coverage)? as u64;
            }
        }
        counts.allocated += self.check_allocated_blocks(total, &mut coverage)?;
        if let Some(p) = coverage.first_uncovered() {
            return Err(alloc::format!(
                "pfn {p:#x} is neither free nor allocated: {:?}",
                self.fm.frames.get(p as u32)
            ));
        }
        if counts.free_buddy + counts.free_pcp + counts.allocated != counts.total {
            return Err(alloc::format!("page counts do not add up: {counts:?}"));
        }
        self.check_write_pending()?;
        drop(areas);
        drop(pcps);
        Ok(counts)
    }

    /// Walks a zone's buddy lists, checking each block and each list's
    /// counter; returns the free pages listed and those on the high-atomic
    /// lists.
    fn check_buddy_lists(
        &self,
        z: &Zone,
        area: &FreeArea,
        coverage: &mut Coverage,
    ) -> Result<(i64, i64), String> {
        let mut free = 0i64;
        let mut free_ha = 0i64;
        for o in 0..NR_PAGE_ORDERS {
            for mt in 0..MIGRATE_TYPES {
                let mut n = 0;
                for pfn in area.list(o, mt) {
                    self.check_buddy_block(z, o, mt, pfn)?;
                    coverage.cover(pfn, 1 << o, "buddy")?;
                    n += 1;
                    free += 1 << o;
                    if mt == 3 {
                        free_ha += 1 << o;
                    }
                }
                if n != area.nr[o][mt] {
                    return Err(alloc::format!(
                        "zone {} list {o}/{mt}: {n} blocks, counter says {}",
                        z.id,
                        area.nr[o][mt]
                    ));
                }
            }
        }
        Ok((free, free_ha))
    }

    /// One entry of buddy list `o`/`mt` of zone `z`: a free head of that
    /// order, aligned, inside the zone, on the list of its pageblock's
    /// type, its other frames free tails.
    fn check_buddy_block(&self, z: &Zone, o: usize, mt: usize, pfn: u32) -> Result<(), String> {
        let s = self.fm.frames.get(pfn);
        if s.kind() != FrameKind::Buddy || s.order() as usize != o || s.zone() != z.id {
            return Err(alloc::format!(
                "buddy list {o}/{mt} of zone {} holds pfn {pfn:#x} in state {s:?}",
                z.id
            ));
        }
        if pfn % (1 << o) != 0 || !z.contains(pfn) || !z.contains(pfn + (1 << o) - 1) {
            return Err(alloc::format!("misplaced block pfn {pfn:#x} order {o}"));
        }
        if self.fm.pb_mt(pfn) as usize != mt {
            return Err(alloc::format!(
                "pfn {pfn:#x} on list {mt} but its pageblock is {:?}",
                self.fm.pb_mt(pfn)
            ));
        }
        for t in pfn + 1..pfn + (1 << o) {
            if self.fm.frames.get(t).kind() != FrameKind::FreeTail {
                return Err(alloc::format!(
                    "pfn {t:#x} inside free block {pfn:#x} is {:?}",
                    self.fm.frames.get(t)
                ));
            }
        }
        Ok(())
    }

    /// Checks one CPU's lists for zone `z`: each entry a per-CPU head of
    /// its order, its other frames free tails, and the pages listed equal
    /// to the lists' count; returns that count.
    fn check_pcp_lists(
        &self,
        cpu: usize,
        z: &Zone,
        pcp: &CpuPages,
        coverage: &mut Coverage,
    ) -> Result<u32, String> {
        let zp = &pcp.zones[z.id];
        let mut n = 0u32;
        for o in 0..crate::pcp::NR_PCP_ORDERS {
            for mt in 0..MIGRATE_PCPTYPES {
                for &pfn in &zp.lists[o][mt] {
                    let s = self.fm.frames.get(pfn);
                    if s.kind() != FrameKind::PerCpu || s.order() as usize != o || s.zone() != z.id
                    {
                        return Err(alloc::format!(
                            "cpu {cpu} list {o}/{mt} holds pfn {pfn:#x} in state {s:?}"
                        ));
                    }
                    for t in pfn + 1..pfn + (1 << o) {
                        if self.fm.frames.get(t).kind() != FrameKind::FreeTail {
                            return Err(alloc::format!(
                                "pfn {t:#x} inside per-CPU block {pfn:#x} is not a free tail"
                            ));
                        }
                    }
                    coverage.cover(pfn, 1 << o, "pcp")?;
                    n += 1 << o;
                }
            }
        }
        if n != zp.count {
            return Err(alloc::format!(
                "cpu {cpu} zone {}: {n} pages listed, count {}",
                z.id,
                zp.count
            ));
        }
        Ok(n)
    }

    /// Walks the frame table's allocated heads (the first `total` frames),
    /// checking that each head's frames are its tails; returns the pages
    /// allocated.
    fn check_allocated_blocks(&self, total: usize, coverage: &mut Coverage) -> Result<u64, String> {
        let mut allocated = 0u64;
        let mut pfn = 0u32;
        while (pfn as usize) < total {
            let s = self.fm.frames.get(pfn);
            if s.kind() == FrameKind::Allocated {
                let o = s.order();
                for i in 1..(1u32 << o) {
                    let t = self.fm.frames.get(pfn + i);
                    if t.kind() != FrameKind::Tail
                        || t.head_offset() != i
                        || t.compound() != s.compound()
                    {
                        return Err(alloc::format!(
                            "allocated block {pfn:#x}: frame +{i} is {t:?}"
                        ));
                    }
                }
                coverage.cover(pfn, 1 << o, "allocated")?;
                allocated += 1 << o;
                pfn += 1 << o;
            } else {
                pfn += 1;
            }
        }
        Ok(allocated)
    }
}

/// The frames [`Machine::check_invariants`] has found on a list or
/// allocated: every frame must be covered exactly once.
struct Coverage {
    covered: Vec<bool>,
}

impl Coverage {
    /// No frame of `total` covered yet.
    fn new(total: usize) -> Coverage {
        Coverage {
            covered: alloc::vec![false; total],
        }
    }

    /// Marks `n` frames from `pfn` covered by `what`: an error when one is
    /// out of range or already covered.
    fn cover(&mut self, pfn: u32, n: u32, what: &str) -> Result<(), String> {
        for p in pfn..pfn + n {
            let c = self
                .covered
                .get_mut(p as usize)
                .ok_or_else(|| alloc::format!("{what} pfn {p:#x} out of range"))?;
            if *c {
                return Err(alloc::format!("pfn {p:#x} covered twice ({what})"));
            }
            *c = true;
        }
        Ok(())
    }

    /// The first frame nothing covered.
    fn first_uncovered(&self) -> Option<usize> {
        self.covered.iter().position(|c| !c)
    }
}

/// The block counts a zone publishes for lock-free readers match its lists.
fn check_published_blocks(z: &Zone, area: &FreeArea) -> Result<(), String> {
    for o in 0..NR_PAGE_ORDERS {
        let listed: u32 = area.nr[o][..MIGRATE_PCPTYPES].iter().sum();
        let published = z.blocks[o].load(crate::sync::Ordering::Relaxed);
        let ha = z.blocks_highatomic[o].load(crate::sync::Ordering::Relaxed);
        if listed != published || ha != area.nr[o][3] {
            return Err(alloc::format!(
                "zone {} order {o}: published block counts are stale",
                z.id
            ));
        }
    }
    Ok(())
}

/// Checks a zone's fast-path watermark bits against the general watermark
/// test.
fn check_fast_watermarks(z: &Zone) -> Result<(), String> {
    for hz in 0..MAX_NR_ZONES {
        for o in 0..crate::zone::FAST_OK_ORDERS {
            let general = z.watermark_fast(o, z.watermark(1), hz, crate::AllocFlags::WMARK_LOW);
            let shift = hz as u32 * crate::zone::FAST_OK_ORDERS;
            if z.fast_watermark_ok(o, shift) != general {
                return Err(alloc::format!(
                    "zone {} highest zone {hz} order {o}: fast watermark verdict {} but the watermark test says {general}",
                    z.id,
                    !general
                ));
            }
        }
    }
    Ok(())
}

impl Machine {
    /// Each node's zones hold its dirty and writeback pages: the sum of
    /// their `NR_ZONE_WRITE_PENDING` is the node's `NR_FILE_DIRTY` plus
    /// `NR_WRITEBACK`.
    fn check_write_pending(&self) -> Result<(), String> {
        use crate::sync::Ordering::Relaxed;
        for (nid, n) in self.nodes.iter().enumerate() {
            let zones: i64 = n
                .zones
                .iter()
                .flatten()
                .map(|&z| self.zones[z].nr_write_pending.load(Relaxed))
                .sum();
            let node = n.nr_dirty.load(Relaxed) + n.nr_writeback.load(Relaxed);
            if zones != node {
                return Err(alloc::format!(
                    "node {nid}: zones write-pending {zones}, node dirty + writeback {node}"
                ));
            }
        }
        Ok(())
    }
}

/// A mask as 6.12 prints it with `%pGg` in its messages (the allocation
/// failure report, the OOM report): the names of 6.12's own table
/// (`__def_gfpflag_names`), which names neither `__GFP_NOLOCKDEP` nor
/// `__GFP_NO_OBJ_EXT`, so those bits print as a hex remainder. The
/// in-process layout is 6.12's with every option on ([`Profile::native`]).
pub fn pgg(gfp: Gfp) -> String {
    gfp::render::pgg(&Profile::native(), gfp.bits())
}
