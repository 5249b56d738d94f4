//! Freeing: `__free_pages()`, `free_pages_prepare()`'s checks, the per-CPU
//! lists' flush (`free_pcppages_bulk()`), drains, and the queries that read
//! a page's metadata (compound head, order, zone, dirty state).

use core::ptr::NonNull;

use gfp::zone::ZoneType;

use crate::frame::{self, FrameKind, FrameState};
use crate::machine::{Cx, Machine};
use crate::nodemask::NodeId;
use crate::page::{BadPage, BadPageReason, Page};
use crate::pcp::{pcp_allowed_order, CpuPages, CpuSlot, ZonePcp, NR_PCP_ORDERS, PCP_COLUMNS};
use crate::stats::Event;
use crate::sync::{AtomicU32, Ordering};
use crate::zone::{Zone, ZoneId, MIGRATE_PCPTYPES};

impl Machine {
    fn bad(&self, cx: &Cx<'_>, pfn: u32, reason: BadPageReason, state: FrameState) -> BadPage {
        let b = BadPage {
            pfn,
            reason,
            state,
            comm: cx.comm(),
        };
        self.count(Event::BadPage, 1);
        for line in alloc::format!("{b}").lines() {
            cx.env.log(crate::env::LogLevel::Alert, line);
        }
        b
    }

    /// Checks a handle and returns its frame's state.
    fn lookup(&self, cx: &Cx<'_>, page: Page) -> Result<FrameState, BadPage> {
        let pfn = page.pfn();
        if page.machine_id() != self.id {
            return Err(self.bad(
                cx,
                pfn,
                BadPageReason::ForeignAllocator {
                    owner: page.machine_id(),
                },
                FrameState(0),
            ));
        }
        if pfn as usize >= self.fm.frames.len() {
            return Err(self.bad(cx, pfn, BadPageReason::OutOfRange, FrameState(0)));
        }
        Ok(self.fm.frames.get(pfn))
    }

    /// The metadata of a page (no report on success or failure beyond the
    /// handle check).
    #[inline]
    pub fn page_state(&self, page: Page) -> Option<FrameState> {
        if page.machine_id() != self.id || page.pfn() as usize >= self.fm.frames.len() {
            return None;
        }
        Some(self.fm.frames.get(page.pfn()))
    }

    /// `__free_pages(page, order)`: frees a block by its head and order.
    #[inline]
    pub fn free_pages(&self, cx: &Cx<'_>, page: Page, order: u32) -> Result<(), BadPage> {
        self.free_checked(cx, page, Some(order))
    }

    /// `free_page(page)`: frees an order-0 page.
    pub fn free_page(&self, cx: &Cx<'_>, page: Page) -> Result<(), BadPage> {
        self.free_checked(cx, page, Some(0))
    }

    /// `folio_put()` of the last reference: frees a compound page by its
    /// head, with the order recorded at allocation (or an order-0 page).
    pub fn folio_put(&self, cx: &Cx<'_>, page: Page) -> Result<(), BadPage> {
        self.free_checked(cx, page, None)
    }

    #[inline]
    fn free_checked(&self, cx: &Cx<'_>, page: Page, order: Option<u32>) -> Result<(), BadPage> {
        if let Some(o) = order {
            if self.free_fast(cx.cpu, page, o) {
                return Ok(());
            }
        }
        self.free_slow(cx, page, order)
    }

    /// The common case of freeing: a clean head of a per-CPU order freed
    /// with its order, onto `cpu`'s list. `false` when the page needs the
    /// full checks (or is misused), or the lists are busy, and nothing was
    /// changed.
    #[inline(always)]
    pub(crate) fn free_fast(&self, cpu: usize, page: Page, order: u32) -> bool {
        match self.cpus.get(cpu) {
            Some(slot) => {
                let me = crate::sync::owner_word(crate::sync::thread_token(), cpu as u32);
                self.free_fast_on(slot, me, page, order)
            }
            None => false,
        }
    }

    /// [`Machine::free_fast`] on a CPU already looked up (the runtime
    /// checks the thread's CPU number once, against this table), for the
    /// calling thread, whose owner word for the CPU is `me`
    /// ([`crate::sync::owner_word`]).
    #[inline(always)]
    pub(crate) fn free_fast_on(&self, slot: &CpuSlot, me: u64, page: Page, order: u32) -> bool {
        let pfn = page.pfn();
        if !pcp_allowed_order(order) {
            return false;
        }
        let Some(block) = self.own_block(page, order) else {
            return false;
        };
        if let Some(mut pcp) = slot.pcp.try_own_as(me) {
            return self.free_onto(&mut pcp, pfn, block, order);
        }
        self.free_fast_locked(slot, pfn, block, order)
    }

    /// The frames' words of the block of `order` a handle names, if the
    /// handle is this machine's and the block lies in its frame table (the
    /// common free's handle check; the slow path reports the failures).
    #[inline(always)]
    pub(crate) fn own_block(&self, page: Page, order: u32) -> Option<&[AtomicU32]> {
        if page.machine_id() != self.id {
            return None;
        }
        self.fm.frames.block(page.pfn(), order)
    }

    /// [`Machine::free_fast`] for a thread that does not own the lists.
    #[cold]
    #[inline(never)]
    fn free_fast_locked(&self, slot: &CpuSlot, pfn: u32, block: &[AtomicU32], order: u32) -> bool {
        match slot.pcp.try_lock() {
            Some(mut pcp) => self.free_onto(&mut pcp, pfn, block, order),
            None => false,
        }
    }

    /// [`Machine::free_fast`] with the CPU's lists entered; `block` is the
    /// frames' words of the block at `pfn`.
    #[inline(always)]
    pub(crate) fn free_onto(
        &self,
        pcp: &mut CpuPages,
        pfn: u32,
        block: &[AtomicU32],
        order: u32,
    ) -> bool {
        let Some(zone) = self.claim_clean_head(block, order) else {
            return false;
        };
        // SAFETY: `block` is the table's words at `pfn`, and an allocated
        // head names one of the machine's zones (`FrameState`'s
        // invariant).
        unsafe { self.pcp_push(pcp, zone, pfn, order) };
        true
    }

    /// The common free's claim on a block (`block`: its frames' words,
    /// head first): an allocated, clean head of `order` becomes a per-CPU
    /// block, its tails free tails; its zone, or `None` when the block
    /// needs the full checks (nothing was changed). The caller has the
    /// CPU's lists entered and puts the block on them before it leaves.
    #[inline(always)]
    pub(crate) fn claim_clean_head(&self, block: &[AtomicU32], order: u32) -> Option<ZoneId> {
        let (head, tails) = block.split_first()?;
        let s = frame::load(head);
        if !s.is_clean_head(order) {
            return None;
        }
        // The tails of an allocated head are written with it and changed
        // only when the head changes (a tail freed by mistake is refused
        // without a write), so the head vouches for them once this free
        // has won it; the slow path, which any misuse takes, checks them
        // frame by frame. (Before the compare-and-swap a racing free of the
        // same block may already be rewriting them.)
        let zone = s.zone();
        let transit = FrameState::make(FrameKind::PerCpu, zone, order);
        if head
            .compare_exchange(s.0, transit.0, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        debug_assert!((1u32..).zip(tails).all(|(i, t)| {
            let t = frame::load(t);
            t.kind() == FrameKind::Tail && t.head_offset() == i
        }));
        for t in tails {
            frame::store(t, FrameState::make(FrameKind::FreeTail, zone, 0));
        }
        Some(zone)
    }

    #[inline(never)]
    pub(crate) fn free_slow(
        &self,
        cx: &Cx<'_>,
        page: Page,
        order: Option<u32>,
    ) -> Result<(), BadPage> {
        let pfn = page.pfn();
        let mut s = self.lookup(cx, page)?;
        loop {
            match s.kind() {
                FrameKind::Allocated => {}
                FrameKind::Tail => {
                    return Err(self.bad(
                        cx,
                        pfn,
                        BadPageReason::TailPage {
                            head: pfn - s.head_offset(),
                        },
                        s,
                    ));
                }
                FrameKind::Unmanaged => {
                    return Err(self.bad(cx, pfn, BadPageReason::NotManaged, s))
                }
                _ => return Err(self.bad(cx, pfn, BadPageReason::NotAllocated, s)),
            }
            let o = s.order();
            match order {
                Some(given) if given != o => {
                    return Err(self.bad(
                        cx,
                        pfn,
                        BadPageReason::WrongOrder {
                            allocated: o,
                            freed: given,
                        },
                        s,
                    ));
                }
                None if o > 0 && !s.compound() => {
                    return Err(self.bad(cx, pfn, BadPageReason::NotCompound { order: o }, s));
                }
                _ => {}
            }
            for i in 1..(1u32 << o) {
                let t = self.fm.frames.get(pfn + i);
                if t.kind() != FrameKind::Tail || t.head_offset() != i {
                    return Err(self.bad(cx, pfn, BadPageReason::Corrupt { pfn: pfn + i }, s));
                }
            }
            let transit = FrameState::make(FrameKind::PerCpu, s.zone(), o);
            if self.fm.frames.replace(pfn, s, transit) {
                break;
            }
            // Raced with another change of the head (a concurrent free or
            // dirtying): look again.
            s = self.fm.frames.get(pfn);
        }
        let o = s.order();
        let z = &self.zones[s.zone()];
        for i in 1..(1u32 << o) {
            self.fm
                .frames
                .set(pfn + i, FrameState::make(FrameKind::FreeTail, z.id, 0));
        }
        if s.dirty() {
            // A dirty page freed leaves both counts, as
            // folio_account_cleaned() moves them together.
            self.nodes[z.nid]
                .nr_dirty
                .fetch_sub(1 << o, Ordering::Relaxed);
            z.nr_write_pending.fetch_sub(1 << o, Ordering::Relaxed);
        }
        if pcp_allowed_order(o) {
            self.free_to_pcp(cx.cpu, z.id, pfn, o);
        } else {
            let mut area = z.free.lock();
            let mt = self.fm.pb_mt(pfn);
            area.free_one(&self.fm, z, pfn, o, mt);
            area.publish(z);
            drop(area);
            self.count(Event::PgFree, 1 << o);
        }
        Ok(())
    }

    /// `free_unref_page_commit()` from a path that holds no per-CPU lists.
    fn free_to_pcp(&self, cpu: usize, zone: ZoneId, pfn: u32, order: u32) {
        debug_assert!(zone < self.zones.len() && (pfn as usize) < self.fm.frames.len());
        let mut pcp = self.cpus[cpu].pcp.lock();
        // SAFETY: the callers pass a zone's id and a pfn they looked up.
        unsafe { self.pcp_push(&mut pcp, zone, pfn, order) };
    }

    /// `free_unref_page_commit()`: onto the CPU's list of the pageblock's
    /// migratetype; a batch goes back to the buddy lists when the zone's
    /// lists reach their high mark.
    ///
    /// # Safety
    ///
    /// `zone` is one of the machine's zones, and `pfn` lies in the frame
    /// table.
    #[inline(always)]
    pub(crate) unsafe fn pcp_push(&self, pcp: &mut CpuPages, zone: ZoneId, pfn: u32, order: u32) {
        debug_assert!(zone < pcp.zones.len());
        // A high-atomic pageblock's pages go to the movable list: the
        // pageblock's byte says so.
        // SAFETY: the caller's promise on `pfn`.
        let col = unsafe { self.fm.pb_pcp_column(pfn) };
        // SAFETY: the caller's promise on `zone`; every CPU has lists for
        // each zone.
        let zp = unsafe { pcp.zones.get_unchecked_mut(zone) };
        zp.lists[order as usize][col & (PCP_COLUMNS - 1)].push(pfn);
        // `pgfree` is derived from the lists' counters (`freed_pages`).
        zp.count += 1 << order;
        if zp.count >= zp.high {
            self.pcp_flush_high(pcp, zone);
        }
    }

    /// Trims a zone's lists on this CPU to `high - batch` pages.
    #[cold]
    #[inline(never)]
    fn pcp_flush_high(&self, pcp: &mut CpuPages, zone: ZoneId) {
        let zp = &mut pcp.zones[zone];
        let keep = zp.high.saturating_sub(zp.batch);
        let n = zp.count - keep;
        self.free_pcppages_bulk(&self.zones[zone], zp, n);
        pcp.events[Event::PcpFlush as usize] += 1;
    }

    /// `free_pcppages_bulk()`: returns at least `count` pages (oldest
    /// first, lists in turn) to the buddy lists.
    fn free_pcppages_bulk(&self, z: &Zone, zp: &mut ZonePcp, count: u32) {
        let mut to_free = count.min(zp.count) as i64;
        if to_free == 0 {
            return;
        }
        let mut area = z.free.lock();
        let nlists = NR_PCP_ORDERS * MIGRATE_PCPTYPES;
        let mut empty_rounds = 0;
        while to_free > 0 && empty_rounds < nlists {
            let idx = zp.flush_next as usize % nlists;
            zp.flush_next = ((idx + 1) % nlists) as u8;
            let (order, mt) = (idx / MIGRATE_PCPTYPES, idx % MIGRATE_PCPTYPES);
            let list = &mut zp.lists[order][mt];
            if list.is_empty() {
                empty_rounds += 1;
                continue;
            }
            empty_rounds = 0;
            let k = list
                .len()
                .min(((to_free + (1 << order) - 1) >> order) as usize);
            for pfn in list.drain(..k) {
                let bmt = self.fm.pb_mt(pfn);
                area.free_one(&self.fm, z, pfn, order as u32, bmt);
            }
            to_free -= (k as i64) << order;
            zp.count -= (k as u32) << order;
            zp.taken = zp.taken.wrapping_add((k as u64) << order);
        }
        area.publish(z);
    }

    /// `drain_local_pages()`: returns every page on `cpu`'s lists to the
    /// buddy lists.
    pub fn drain_local_pages(&self, cpu: usize) {
        let mut pcp = self.cpus[cpu].pcp.lock();
        for z in &self.zones {
            let zp = &mut pcp.zones[z.id];
            if zp.count > 0 {
                let n = zp.count;
                self.free_pcppages_bulk(z, zp, n);
            }
        }
    }

    /// `drain_all_pages()`: drains every CPU's lists (each under its own
    /// lock, as 6.12 does from the calling CPU).
    pub fn drain_all_pages(&self) {
        self.count(Event::DrainAll, 1);
        for cpu in 0..self.cpus.len() {
            self.drain_local_pages(cpu);
        }
    }

    // ----- queries -----

    /// `compound_head()`: the head of the compound page containing `page`
    /// (the page itself if it is not a tail).
    pub fn compound_head(&self, page: Page) -> Option<Page> {
        let s = self.page_state(page)?;
        match s.kind() {
            FrameKind::Tail if s.compound() => {
                Some(Page::from_raw(self.id, page.pfn() - s.head_offset()))
            }
            _ => Some(page),
        }
    }

    /// `compound_order()`: the order of a compound head, 0 for any other page.
    pub fn compound_order(&self, page: Page) -> u32 {
        match self.page_state(page) {
            Some(s) if s.kind() == FrameKind::Allocated && s.compound() => s.order(),
            _ => 0,
        }
    }

    /// `PageTail()`: whether `page` is a tail of a compound page.
    pub fn page_is_tail(&self, page: Page) -> bool {
        self.page_state(page)
            .is_some_and(|s| s.kind() == FrameKind::Tail && s.compound())
    }

    /// `PageHead()`: whether `page` heads a compound page.
    pub fn page_is_head(&self, page: Page) -> bool {
        self.page_state(page)
            .is_some_and(|s| s.kind() == FrameKind::Allocated && s.compound())
    }

    /// The migratetype of the pageblock holding `page`
    /// (`get_pageblock_migratetype()`): where the allocator files the
    /// block's free pages, and what compaction and offlining expect of it.
    pub fn pageblock_migratetype(&self, page: Page) -> Option<gfp::zone::MigrateType> {
        self.page_state(page)?;
        Some(self.fm.pb_mt(page.pfn()))
    }

    /// The pages of the pageblock holding `page`, within its zone.
    pub fn pageblock_pfns(&self, page: Page) -> Option<core::ops::Range<u32>> {
        let z = self.page_zone(page)?;
        let size = self.spec().pageblock_pages();
        let start = (page.pfn() / size * size).max(z.start_pfn());
        let end = (page.pfn() / size * size + size).min(z.start_pfn() + z.managed_pages() as u32);
        Some(start..end)
    }

    /// The zone of a page (`page_zone()`).
    #[inline]
    pub fn page_zone(&self, page: Page) -> Option<&Zone> {
        let s = self.page_state(page)?;
        let z = self.zones.get(s.zone())?;
        z.contains(page.pfn()).then_some(z)
    }

    /// The zone id of a page.
    pub fn page_zone_id(&self, page: Page) -> Option<ZoneId> {
        self.page_zone(page).map(|z| z.id)
    }

    /// The zone type of a page (`page_zonenum()`).
    #[inline]
    pub fn page_zone_type(&self, page: Page) -> Option<ZoneType> {
        self.page_zone(page).map(|z| z.ztype)
    }

    /// The node of a page (`page_to_nid()`).
    pub fn page_to_nid(&self, page: Page) -> Option<NodeId> {
        self.page_zone(page).map(|z| z.nid)
    }

    /// The address of an allocated page's memory (`page_address()`). The
    /// memory stays valid until the page is freed; reading or writing it is
    /// the caller's business (and `unsafe`).
    pub fn page_ptr(&self, page: Page) -> Option<NonNull<u8>> {
        let s = self.page_state(page)?;
        matches!(s.kind(), FrameKind::Allocated | FrameKind::Tail)
            .then(|| self.arena.page_ptr(page.pfn()))
    }

    /// `set_page_dirty()` for a page about to be written back: counts the
    /// block in its node's dirty pages, which `__GFP_WRITE` placement
    /// reads. Returns whether the page was clean before.
    pub fn set_page_dirty(&self, cx: &Cx<'_>, page: Page) -> Result<bool, BadPage> {
        self.change_dirty(cx, page, true)
    }

    /// Clears the dirty mark (writeback done). Returns whether it was dirty.
    pub fn clear_page_dirty(&self, cx: &Cx<'_>, page: Page) -> Result<bool, BadPage> {
        self.change_dirty(cx, page, false)
    }

    fn change_dirty(&self, cx: &Cx<'_>, page: Page, dirty: bool) -> Result<bool, BadPage> {
        let head = self.compound_head(page).unwrap_or(page);
        let pfn = head.pfn();
        loop {
            let s = self.lookup(cx, head)?;
            if s.kind() != FrameKind::Allocated {
                return Err(self.bad(cx, pfn, BadPageReason::NotAllocated, s));
            }
            if s.dirty() == dirty {
                return Ok(false);
            }
            if self.fm.frames.replace(pfn, s, s.with_dirty(dirty)) {
                let n = 1i64 << s.order();
                let n = if dirty { n } else { -n };
                let z = &self.zones[s.zone()];
                // folio_account_dirtied() and folio_account_cleaned(): the
                // node's NR_FILE_DIRTY and the zone's NR_ZONE_WRITE_PENDING
                // move together.
                self.nodes[z.nid].nr_dirty.fetch_add(n, Ordering::Relaxed);
                z.nr_write_pending.fetch_add(n, Ordering::Relaxed);
                return Ok(true);
            }
        }
    }
}
