//! Zones and their buddy free lists: orders 0..=MAX_PAGE_ORDER, one list per
//! migratetype, pageblock migratetypes, merging on free, splitting on
//! allocation, and the kernel's fallback, claiming and stealing between
//! migratetypes.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use gfp::zone::{MigrateType, ZoneType, MAX_PAGE_ORDER};

use crate::alloc_flags::AllocFlags;
use crate::frame::{FrameKind, FrameState, FrameTable};
use crate::nodemask::NodeId;
use crate::spec::MAX_NR_ZONES;
use crate::sync::{AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering, SpinLock};

/// Index of a zone in [`crate::Machine::zones`].
pub type ZoneId = usize;

/// Number of orders (`NR_PAGE_ORDERS`).
pub const NR_PAGE_ORDERS: usize = MAX_PAGE_ORDER as usize + 1;
/// Orders with a fast-path watermark verdict (those of the per-CPU lists).
pub(crate) const FAST_OK_ORDERS: u32 = gfp::zone::PAGE_ALLOC_COSTLY_ORDER + 1;

/// Number of migratetypes with free lists.
pub const MIGRATE_TYPES: usize = 4;
/// Migratetypes that have per-CPU lists (`MIGRATE_PCPTYPES`).
pub const MIGRATE_PCPTYPES: usize = 3;

pub(crate) const NIL: u32 = u32::MAX;

/// All migratetypes by index.
pub const MIGRATETYPES: [MigrateType; MIGRATE_TYPES] = [
    MigrateType::Unmovable,
    MigrateType::Movable,
    MigrateType::Reclaimable,
    MigrateType::HighAtomic,
];

#[inline(always)]
pub(crate) fn mt_from_index(i: u8) -> MigrateType {
    MIGRATETYPES[(i & 3) as usize]
}

/// A pageblock's byte in [`FrameMaps::pageblock_mt`]: the migratetype's
/// index in bits 0..2 and, in the top two bits (so that the shift alone
/// yields an index below four), the column of the per-CPU lists that its
/// pages are freed to: the migratetype's own, but Movable's for a
/// high-atomic block (the reserve is kept on the buddy lists only).
pub(crate) const fn pb_byte(mt: MigrateType) -> u8 {
    let col = match mt {
        MigrateType::HighAtomic => MigrateType::Movable,
        mt => mt,
    };
    mt as u8 | (col as u8) << PB_COLUMN_SHIFT
}

const PB_COLUMN_SHIFT: u32 = 6;

/// The fallback order between migratetypes (`fallbacks[]`).
const FALLBACKS: [[MigrateType; 2]; MIGRATE_PCPTYPES] = [
    [MigrateType::Reclaimable, MigrateType::Movable],
    [MigrateType::Reclaimable, MigrateType::Unmovable],
    [MigrateType::Unmovable, MigrateType::Movable],
];

/// The migratetype of every pageblock, and the frame table: what the buddy
/// code reads and writes besides a zone's own lists.
pub(crate) struct FrameMaps {
    pub(crate) frames: FrameTable,
    pub(crate) pageblock_mt: Box<[AtomicU8]>,
    pub(crate) pb_order: u32,
}

impl FrameMaps {
    #[inline(always)]
    pub(crate) fn pb_mt(&self, pfn: u32) -> MigrateType {
        mt_from_index(self.pageblock_mt[(pfn >> self.pb_order) as usize].load(Ordering::Relaxed))
    }

    /// The per-CPU list column that a free of a page of the pageblock of
    /// `pfn` goes to (see [`pb_byte`]).
    ///
    /// # Safety
    ///
    /// `pfn` lies in the frame table.
    #[inline(always)]
    pub(crate) unsafe fn pb_pcp_column(&self, pfn: u32) -> usize {
        let i = pfn.wrapping_shr(self.pb_order) as usize;
        debug_assert!(i < self.pageblock_mt.len());
        // SAFETY: the map has a byte for every pageblock of the frame table
        // (both are fixed when the machine is built), and `pfn` lies in the
        // table.
        (unsafe { self.pageblock_mt.get_unchecked(i) }.load(Ordering::Relaxed) >> PB_COLUMN_SHIFT)
            as usize
    }

    #[inline(always)]
    pub(crate) fn set_pb_mt(&self, pfn: u32, mt: MigrateType) {
        self.pageblock_mt[(pfn >> self.pb_order) as usize].store(pb_byte(mt), Ordering::Relaxed);
    }

    /// `change_pageblock_range()`: every pageblock of a block of `order`.
    pub(crate) fn change_pb_range(&self, pfn: u32, order: u32, mt: MigrateType) {
        let pb = 1u32 << self.pb_order;
        let n = 1u32 << order;
        let mut p = pfn;
        while p < pfn + n.max(1) {
            self.set_pb_mt(p, mt);
            p += pb;
        }
    }

    pub(crate) fn pb_pages(&self) -> u32 {
        1 << self.pb_order
    }
}

/// A zone.
pub struct Zone {
    pub(crate) id: ZoneId,
    pub(crate) nid: NodeId,
    pub(crate) ztype: ZoneType,
    pub(crate) start_pfn: u32,
    pub(crate) pages: u32,
    pub(crate) wmark: [AtomicU64; 3],
    pub(crate) lowmem_reserve: [AtomicU64; MAX_NR_ZONES],
    /// `NR_FREE_PAGES`: pages on the buddy lists (not on per-CPU lists).
    pub(crate) nr_free: AtomicI64,
    pub(crate) nr_free_highatomic: AtomicI64,
    pub(crate) nr_reserved_highatomic: AtomicU64,
    /// `NR_ZONE_WRITE_PENDING`: the zone's dirty pages and pages under
    /// writeback, kept beside the node's `NR_FILE_DIRTY` and
    /// `NR_WRITEBACK` so that the memory summary can give each zone's.
    pub(crate) nr_write_pending: AtomicI64,
    /// Free blocks per order on the per-CPU-type lists and on the
    /// high-atomic lists, published under the zone lock, read without it
    /// (`free_area[o].nr_free` and `free_area_empty()`).
    pub(crate) blocks: [AtomicU32; NR_PAGE_ORDERS],
    pub(crate) blocks_highatomic: [AtomicU32; NR_PAGE_ORDERS],
    /// For each highest zone type `hz`, the low watermark plus
    /// `lowmem_reserve[hz]`: what the fast path compares free pages with.
    /// Derived from `wmark` and `lowmem_reserve` whenever they change.
    pub(crate) fast_mark: [AtomicI64; MAX_NR_ZONES],
    /// The fast path's watermark verdicts: bit `hz * 4 + order` (orders
    /// 0..=3) is set when a request of that highest zone type and order
    /// passes `zone_watermark_fast()` at `ALLOC_WMARK_LOW` without
    /// reserves. Recomputed under the zone lock whenever the free counts or
    /// the marks change, so a fast allocation tests one bit.
    pub(crate) fast_ok: AtomicU32,
    pub(crate) pcp_batch: AtomicU32,
    pub(crate) pcp_high: AtomicU32,
    pub(crate) free: SpinLock<FreeArea>,
}

impl core::fmt::Debug for Zone {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Zone")
            .field("id", &self.id)
            .field("nid", &self.nid)
            .field("type", &self.ztype)
            .field("start_pfn", &self.start_pfn)
            .field("pages", &self.pages)
            .finish()
    }
}

impl Zone {
    pub(crate) fn new(
        id: ZoneId,
        nid: NodeId,
        ztype: ZoneType,
        start_pfn: u32,
        pages: u32,
    ) -> Zone {
        Zone {
            id,
            nid,
            ztype,
            start_pfn,
            pages,
            wmark: [0u64; 3].map(AtomicU64::new),
            lowmem_reserve: [0u64; MAX_NR_ZONES].map(AtomicU64::new),
            nr_free: AtomicI64::new(0),
            nr_free_highatomic: AtomicI64::new(0),
            nr_reserved_highatomic: AtomicU64::new(0),
            nr_write_pending: AtomicI64::new(0),
            blocks: [0u32; NR_PAGE_ORDERS].map(AtomicU32::new),
            blocks_highatomic: [0u32; NR_PAGE_ORDERS].map(AtomicU32::new),
            fast_ok: AtomicU32::new(0),
            fast_mark: [i64::MAX; MAX_NR_ZONES].map(AtomicI64::new),
            pcp_batch: AtomicU32::new(1),
            pcp_high: AtomicU32::new(4),
            free: SpinLock::new(FreeArea::new(id, start_pfn, pages)),
        }
    }

    /// The zone's id.
    pub fn id(&self) -> ZoneId {
        self.id
    }

    /// The zone's node.
    pub fn nid(&self) -> NodeId {
        self.nid
    }

    /// The zone's type.
    pub fn zone_type(&self) -> ZoneType {
        self.ztype
    }

    /// First PFN.
    pub fn start_pfn(&self) -> u32 {
        self.start_pfn
    }

    /// Managed (and present) pages.
    pub fn managed_pages(&self) -> u64 {
        self.pages as u64
    }

    /// Whether `pfn` is in the zone.
    #[inline(always)]
    pub fn contains(&self, pfn: u32) -> bool {
        pfn.wrapping_sub(self.start_pfn) < self.pages
    }

    /// Free pages on the buddy lists (`NR_FREE_PAGES`).
    #[inline(always)]
    pub fn free_pages(&self) -> i64 {
        self.nr_free.load(Ordering::Relaxed)
    }

    /// Watermark `i` (0 min, 1 low, 2 high), in pages.
    #[inline(always)]
    pub fn watermark(&self, i: usize) -> u64 {
        self.wmark[i].load(Ordering::Relaxed)
    }

    /// Protection against allocations whose highest zone is `zt`.
    #[inline(always)]
    pub fn lowmem_reserve(&self, zt: usize) -> u64 {
        self.lowmem_reserve[zt].load(Ordering::Relaxed)
    }

    /// Recomputes `fast_mark` from the low watermark and the lowmem
    /// reserves, and the fast path's verdicts with them.
    pub(crate) fn refresh_fast_marks(&self) {
        let area = self.free.lock();
        let low = self.watermark(1);
        for (hz, m) in self.fast_mark.iter().enumerate() {
            let v = low
                .saturating_add(self.lowmem_reserve(hz))
                .min(i64::MAX as u64);
            m.store(v as i64, Ordering::Relaxed);
        }
        area.publish(self);
    }

    /// The fast path's watermark test (see `fast_ok`) for an order below
    /// [`FAST_OK_ORDERS`], whose highest zone type's bits start at `shift`
    /// (`highest * FAST_OK_ORDERS`, precomputed in the fast route).
    #[inline(always)]
    pub(crate) fn fast_watermark_ok(&self, order: u32, shift: u32) -> bool {
        debug_assert!(order < FAST_OK_ORDERS && shift % FAST_OK_ORDERS == 0);
        (self.fast_ok.load(Ordering::Relaxed) >> (shift + order)) & 1 != 0
    }

    /// Pages reserved for high-order atomic allocations.
    pub fn reserved_highatomic(&self) -> u64 {
        self.nr_reserved_highatomic.load(Ordering::Relaxed)
    }

    /// `__zone_watermark_ok()`: whether an allocation of `order` with
    /// `alloc_flags` may take pages when `free` pages are free and the mark
    /// is `mark`.
    pub fn watermark_ok_with(
        &self,
        order: u32,
        mark: u64,
        highest: usize,
        af: AllocFlags,
        free: i64,
    ) -> bool {
        let mut min = mark as i64;
        let mut free = free - ((1i64 << order) - 1);
        if !af.intersects(AllocFlags::RESERVES) {
            free -= self.nr_free_highatomic.load(Ordering::Relaxed);
        } else {
            if af.contains(AllocFlags::MIN_RESERVE) {
                min -= min / 2;
                if af.contains(AllocFlags::NON_BLOCK) {
                    min -= min / 4;
                }
            }
            if af.contains(AllocFlags::OOM) {
                min -= min / 2;
            }
        }
        if free <= min + self.lowmem_reserve(highest) as i64 {
            return false;
        }
        order == 0 || self.has_free_block(order, af)
    }

    /// Whether a free block of at least `order` is on a list the request
    /// may use (the high-order part of `__zone_watermark_ok()`).
    #[inline]
    pub(crate) fn has_free_block(&self, order: u32, af: AllocFlags) -> bool {
        let ha = af.intersects(AllocFlags::HIGHATOMIC | AllocFlags::OOM);
        (order as usize..NR_PAGE_ORDERS).any(|o| {
            self.blocks[o].load(Ordering::Relaxed) > 0
                || (ha && self.blocks_highatomic[o].load(Ordering::Relaxed) > 0)
        })
    }

    /// `zone_watermark_fast()`.
    #[inline(always)]
    pub fn watermark_fast(&self, order: u32, mark: u64, highest: usize, af: AllocFlags) -> bool {
        let free = self.free_pages();
        if order == 0 {
            let reserved = if af.intersects(AllocFlags::RESERVES) {
                0
            } else {
                self.nr_free_highatomic.load(Ordering::Relaxed)
            };
            let usable = free - reserved.min(free);
            if usable > (mark + self.lowmem_reserve(highest)) as i64 {
                return true;
            }
        }
        self.watermark_ok_with(order, mark, highest, af, free)
    }
}

#[derive(Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
}

/// A zone's buddy lists, under the zone lock (`zone->free_area`).
pub(crate) struct FreeArea {
    zone: ZoneId,
    start: u32,
    heads: [[u32; MIGRATE_TYPES]; NR_PAGE_ORDERS],
    pub(crate) nr: [[u32; MIGRATE_TYPES]; NR_PAGE_ORDERS],
    links: Vec<Link>,
    pub(crate) nr_free: i64,
    pub(crate) nr_free_highatomic: i64,
    /// Orders whose list counts changed since the last `publish` (bit per
    /// order): only those are published again.
    changed: core::cell::Cell<u32>,
    /// Orders with a block of a per-CPU migratetype, as last published.
    pcp_orders: core::cell::Cell<u32>,
}

impl FreeArea {
    fn new(zone: ZoneId, start: u32, pages: u32) -> FreeArea {
        FreeArea {
            zone,
            start,
            heads: [[NIL; MIGRATE_TYPES]; NR_PAGE_ORDERS],
            nr: [[0; MIGRATE_TYPES]; NR_PAGE_ORDERS],
            links: vec![
                Link {
                    prev: NIL,
                    next: NIL
                };
                pages as usize
            ],
            nr_free: 0,
            nr_free_highatomic: 0,
            changed: core::cell::Cell::new((1 << NR_PAGE_ORDERS) - 1),
            pcp_orders: core::cell::Cell::new(0),
        }
    }

    #[inline]
    fn link(&mut self, pfn: u32) -> &mut Link {
        &mut self.links[(pfn - self.start) as usize]
    }

    /// Publishes the counters read without the lock.
    pub(crate) fn publish(&self, z: &Zone) {
        z.nr_free.store(self.nr_free, Ordering::Relaxed);
        z.nr_free_highatomic
            .store(self.nr_free_highatomic, Ordering::Relaxed);
        let mut orders = self.pcp_orders.get();
        let mut changed = self.changed.replace(0);
        while changed != 0 {
            let o = changed.trailing_zeros() as usize;
            changed &= changed - 1;
            let nr = &self.nr[o];
            let pcptypes: u32 = nr[..MIGRATE_PCPTYPES].iter().sum();
            orders = (orders & !(1 << o)) | (u32::from(pcptypes > 0) << o);
            z.blocks[o].store(pcptypes, Ordering::Relaxed);
            z.blocks_highatomic[o].store(nr[MigrateType::HighAtomic as usize], Ordering::Relaxed);
        }
        self.pcp_orders.set(orders);
        // The fast path's verdicts, as `watermark_fast()` would give them
        // with ALLOC_WMARK_LOW: free pages less the high-atomic reserve less
        // the block's other pages above the mark and the lowmem reserve,
        // and for order > 0 a block of that order or larger.
        let usable = self.nr_free - self.nr_free_highatomic;
        // Order o passes when `usable - (2^o - 1) > mark`, i.e. when
        // `usable - mark >= 2^o`: the orders that pass are a prefix, as
        // long as the difference's bit length. Bit o of `has`: a block of
        // order o or larger exists (order 0 needs none).
        let mut has = 1u32;
        for o in 1..FAST_OK_ORDERS {
            has |= u32::from(orders >> o != 0) << o;
        }
        let mut ok = 0u32;
        for (hz, mark) in z.fast_mark.iter().enumerate() {
            let d = usable.saturating_sub(mark.load(Ordering::Relaxed));
            let passing = if d > 0 {
                (64 - (d as u64).leading_zeros()).min(FAST_OK_ORDERS)
            } else {
                0
            };
            let prefix = (1u32 << passing) - 1;
            ok |= (prefix & has) << (hz as u32 * FAST_OK_ORDERS);
        }
        z.fast_ok.store(ok, Ordering::Relaxed);
    }

    fn account(&mut self, order: u32, mt: MigrateType, sign: i64) {
        let n = (1i64 << order) * sign;
        self.nr_free += n;
        if mt == MigrateType::HighAtomic {
            self.nr_free_highatomic += n;
        }
    }

    /// Puts a free block on its list and marks its head `Buddy`.
    pub(crate) fn push(&mut self, fm: &FrameMaps, pfn: u32, order: u32, mt: MigrateType) {
        let o = order as usize;
        let m = mt as usize;
        let old = self.heads[o][m];
        *self.link(pfn) = Link {
            prev: NIL,
            next: old,
        };
        if old != NIL {
            self.link(old).prev = pfn;
        }
        self.heads[o][m] = pfn;
        self.nr[o][m] += 1;
        self.changed.set(self.changed.get() | 1 << o);
        self.account(order, mt, 1);
        fm.frames
            .set(pfn, FrameState::make(FrameKind::Buddy, self.zone, order));
    }

    /// Takes a block off its list; the caller sets the head's new state.
    pub(crate) fn remove(&mut self, pfn: u32, order: u32, mt: MigrateType) {
        let o = order as usize;
        let m = mt as usize;
        let Link { prev, next } = *self.link(pfn);
        if prev == NIL {
            debug_assert_eq!(self.heads[o][m], pfn);
            self.heads[o][m] = next;
        } else {
            self.link(prev).next = next;
        }
        if next != NIL {
            self.link(next).prev = prev;
        }
        self.nr[o][m] -= 1;
        self.changed.set(self.changed.get() | 1 << o);
        self.account(order, mt, -1);
    }

    /// The first block of a list.
    pub(crate) fn first(&self, order: usize, mt: MigrateType) -> Option<u32> {
        let h = self.heads[order][mt as usize];
        (h != NIL).then_some(h)
    }

    /// Iterates a list (for checks and reports).
    pub(crate) fn list(&self, order: usize, mt: usize) -> impl Iterator<Item = u32> + '_ {
        let mut cur = self.heads[order][mt];
        core::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let p = cur;
            cur = self.links[(p - self.start) as usize].next;
            Some(p)
        })
    }

    /// `move_to_free_list()`.
    fn move_list(
        &mut self,
        fm: &FrameMaps,
        pfn: u32,
        order: u32,
        from: MigrateType,
        to: MigrateType,
    ) {
        self.remove(pfn, order, from);
        self.push(fm, pfn, order, to);
    }

    /// `expand()`: returns the upper halves of a block of order `high` to
    /// the free lists until a block of order `low` at `pfn` remains.
    fn expand(&mut self, fm: &FrameMaps, pfn: u32, low: u32, mut high: u32, mt: MigrateType) {
        while high > low {
            high -= 1;
            self.push(fm, pfn + (1 << high), high, mt);
        }
    }

    /// `__rmqueue_smallest()`.
    pub(crate) fn rmqueue_smallest(
        &mut self,
        fm: &FrameMaps,
        order: u32,
        mt: MigrateType,
    ) -> Option<u32> {
        for o in order..=MAX_PAGE_ORDER {
            if let Some(pfn) = self.first(o as usize, mt) {
                self.remove(pfn, o, mt);
                self.expand(fm, pfn, order, o, mt);
                return Some(pfn);
            }
        }
        None
    }

    /// `__free_one_page()`: frees a block and merges it with its free
    /// buddies. Merging stops at the zone's edge, at a buddy that is not a
    /// free block of the same order, and at pageblocks whose types cannot
    /// merge (the high-atomic reserve).
    pub(crate) fn free_one(
        &mut self,
        fm: &FrameMaps,
        z: &Zone,
        mut pfn: u32,
        mut order: u32,
        mt: MigrateType,
    ) {
        let zone = self.zone;
        while order < MAX_PAGE_ORDER {
            let buddy = pfn ^ (1 << order);
            if !z.contains(buddy)
                || fm.frames.get(buddy) != FrameState::make(FrameKind::Buddy, zone, order)
            {
                break;
            }
            let buddy_mt = fm.pb_mt(buddy);
            let mergeable = |m: MigrateType| m != MigrateType::HighAtomic;
            if order >= fm.pb_order && buddy_mt != mt && (!mergeable(mt) || !mergeable(buddy_mt)) {
                break;
            }
            self.remove(buddy, order, buddy_mt);
            if buddy_mt != mt {
                fm.change_pb_range(buddy, order, mt);
            }
            let combined = pfn & buddy;
            let absorbed = pfn | (1 << order);
            fm.frames
                .set(absorbed, FrameState::make(FrameKind::FreeTail, zone, 0));
            pfn = combined;
            order += 1;
        }
        self.push(fm, pfn, order, mt);
    }

    /// Counts free pages and movable allocated pages of the pageblock at
    /// `start` (`prep_move_freepages_block()`).
    fn count_block(&self, fm: &FrameMaps, start: u32) -> (u32, u32) {
        let end = start + fm.pb_pages();
        let (mut free, mut movable) = (0, 0);
        let mut pfn = start;
        while pfn < end {
            let s = fm.frames.get(pfn);
            match s.kind() {
                FrameKind::Buddy => {
                    free += 1 << s.order();
                    pfn += 1 << s.order();
                }
                FrameKind::Allocated => {
                    if s.alloc_migratetype() == MigrateType::Movable {
                        movable += 1 << s.order();
                    }
                    pfn += 1 << s.order();
                }
                _ => pfn += 1,
            }
        }
        (free.min(fm.pb_pages()), movable.min(fm.pb_pages()))
    }

    /// `__move_freepages_block()`: moves the free blocks of the pageblock at
    /// `start` from `from` lists to `to` lists and retypes the pageblock.
    /// Returns the pages moved.
    pub(crate) fn move_freepages_block(
        &mut self,
        fm: &FrameMaps,
        start: u32,
        from: MigrateType,
        to: MigrateType,
    ) -> u32 {
        let end = start + fm.pb_pages();
        let mut moved = 0;
        let mut pfn = start;
        while pfn < end {
            let s = fm.frames.get(pfn);
            if s.kind() == FrameKind::Buddy {
                self.move_list(fm, pfn, s.order(), from, to);
                moved += 1 << s.order();
                pfn += 1 << s.order();
            } else {
                pfn += 1;
            }
        }
        fm.set_pb_mt(start, to);
        moved
    }

    /// `find_suitable_fallback()`: a fallback type with a free block at
    /// `order`, and whether its pageblock may be claimed.
    fn find_fallback(
        &self,
        order: u32,
        start: MigrateType,
        pb_order: u32,
    ) -> Option<(MigrateType, bool)> {
        let o = order as usize;
        if (start as usize) >= MIGRATE_PCPTYPES {
            return None;
        }
        for fb in FALLBACKS[start as usize] {
            if self.nr[o][fb as usize] == 0 {
                continue;
            }
            let can_steal = order >= pb_order
                || order >= pb_order / 2
                || matches!(start, MigrateType::Reclaimable | MigrateType::Unmovable);
            return Some((fb, can_steal));
        }
        None
    }

    /// `try_to_steal_block()`.
    fn try_claim_block(
        &mut self,
        fm: &FrameMaps,
        pfn: u32,
        current: u32,
        order: u32,
        start: MigrateType,
    ) -> Option<u32> {
        let block_mt = fm.pb_mt(pfn);
        if block_mt == MigrateType::HighAtomic {
            return None;
        }
        if current >= fm.pb_order {
            self.remove(pfn, current, block_mt);
            fm.change_pb_range(pfn, current, start);
            self.expand(fm, pfn, order, current, start);
            return Some(pfn);
        }
        let start_pfn = pfn & !(fm.pb_pages() - 1);
        let (free, movable) = self.count_block(fm, start_pfn);
        let alike = if start == MigrateType::Movable {
            movable
        } else if block_mt == MigrateType::Movable {
            fm.pb_pages() - (free + movable).min(fm.pb_pages())
        } else {
            0
        };
        if free + alike >= fm.pb_pages() / 2 {
            self.move_freepages_block(fm, start_pfn, block_mt, start);
            return self.rmqueue_smallest(fm, order, start);
        }
        None
    }

    /// `__rmqueue_claim()`: takes the largest fallback block and claims its
    /// pageblock for `start` when enough of it is free or alike.
    fn rmqueue_claim(
        &mut self,
        fm: &FrameMaps,
        order: u32,
        start: MigrateType,
        af: AllocFlags,
    ) -> Option<u32> {
        let min_order = if order < fm.pb_order && af.contains(AllocFlags::NOFRAGMENT) {
            fm.pb_order
        } else {
            order
        };
        for current in (min_order..=MAX_PAGE_ORDER).rev() {
            let Some((fb, can_steal)) = self.find_fallback(current, start, fm.pb_order) else {
                continue;
            };
            if !can_steal {
                break;
            }
            let pfn = self.first(current as usize, fb)?;
            if let Some(p) = self.try_claim_block(fm, pfn, current, order, start) {
                return Some(p);
            }
        }
        None
    }

    /// `__rmqueue_steal()`: takes one block of a fallback type, leaving its
    /// pageblock's type alone.
    fn rmqueue_steal(&mut self, fm: &FrameMaps, order: u32, start: MigrateType) -> Option<u32> {
        for current in order..=MAX_PAGE_ORDER {
            let Some((fb, _)) = self.find_fallback(current, start, fm.pb_order) else {
                continue;
            };
            let pfn = self.first(current as usize, fb)?;
            self.remove(pfn, current, fb);
            self.expand(fm, pfn, order, current, fb);
            return Some(pfn);
        }
        None
    }

    /// `__rmqueue()`: the requested type first, then claiming, then
    /// stealing. The flag says whether a fallback was used.
    pub(crate) fn rmqueue(
        &mut self,
        fm: &FrameMaps,
        order: u32,
        mt: MigrateType,
        af: AllocFlags,
    ) -> Option<(u32, bool)> {
        if let Some(p) = self.rmqueue_smallest(fm, order, mt) {
            return Some((p, false));
        }
        if let Some(p) = self.rmqueue_claim(fm, order, mt, af) {
            return Some((p, true));
        }
        if !af.contains(AllocFlags::NOFRAGMENT) {
            if let Some(p) = self.rmqueue_steal(fm, order, mt) {
                return Some((p, true));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{MachineSpec, MAX_NR_ZONES};
    use crate::{AllocFlags, Machine};

    use super::FAST_OK_ORDERS;

    /// The fast path's one-bit verdicts equal `watermark_fast()` at
    /// `ALLOC_WMARK_LOW` for every zone, highest zone type and per-CPU
    /// order, while `min_free_kbytes` sweeps the low watermarks across the
    /// zones' free counts, exact boundaries included.
    #[test]
    fn fast_verdicts_match_the_watermark_test_at_every_mark() {
        let m = Machine::new(MachineSpec::test_64mib()).unwrap();
        let mut boundaries = 0;
        for kb in (128..262_144).step_by(61) {
            m.set_min_free_kbytes(kb);
            for z in m.zones() {
                let usable = z.free_pages() - z.nr_free_highatomic.load(super::Ordering::Relaxed);
                for hz in 0..MAX_NR_ZONES {
                    let mark = (z.watermark(1) + z.lowmem_reserve(hz)) as i64;
                    for o in 0..FAST_OK_ORDERS {
                        let general =
                            z.watermark_fast(o, z.watermark(1), hz, AllocFlags::WMARK_LOW);
                        let fast = z.fast_watermark_ok(o, hz as u32 * FAST_OK_ORDERS);
                        assert_eq!(fast, general, "zone {} hz {hz} order {o} at {kb} kB", z.id);
                        let left = usable - ((1i64 << o) - 1);
                        boundaries += u32::from(left == mark || left == mark + 1);
                    }
                }
            }
        }
        assert!(
            boundaries > 0,
            "the sweep never reached a watermark boundary"
        );
    }
}
