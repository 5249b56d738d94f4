//! The batch interfaces: `alloc_pages_bulk()` (the kernel's
//! `alloc_pages_bulk_noprof()`, behind `alloc_pages_bulk_array()`), which
//! fills an array from one zone's per-CPU list with one entry into the
//! CPU's lists, and a batched free in the manner of
//! `free_unref_folios()`, which enters the lists once for many pages.
//!
//! Both do per page what the single calls do per page (the same checks,
//! metadata and counters), and once per batch what the single calls
//! repeat: the scopes, the zonelist walk with its watermark test, and the
//! entry into the CPU's lists.

use gfp::zone::{MigrateType, PAGE_ALLOC_COSTLY_ORDER};
use gfp::Gfp;

use crate::machine::{Cx, Machine};
use crate::nodemask::{NodeId, NodeMask};
use crate::page::{BadPage, Page};
use crate::page_alloc::new_head_state;
use crate::pcp::{pcp_allowed_order, CpuPages};
use crate::stats::Event;
use crate::zone::{Zone, ZoneId};

impl Machine {
    /// `alloc_pages_bulk_array(gfp, nr, array)` from the calling CPU's
    /// node: fills the empty (`None`) entries of `pages` with blocks of
    /// `order`, and returns how many leading entries are now filled.
    ///
    /// As in the kernel:
    /// - Leading entries that are already filled are skipped, and a full
    ///   array returns at once.
    /// - With one entry left to fill, or when no zone on the preferred
    ///   node passes the low watermark with room for the whole array
    ///   (the watermark plus `pages.len() << order` pages), or when the
    ///   CPU's lists are busy, one block comes from the full allocator
    ///   ([`Machine::alloc_pages_nodemask`], which may reclaim, fail and
    ///   warn as a single call does) and the call returns.
    /// - Otherwise every empty entry is filled from that zone's list on
    ///   this CPU, refilled from the buddy lists as needed, until the
    ///   array is full or the zone runs out. The entry into the CPU's
    ///   lists, the zonelist walk and the watermark test happen once.
    ///
    /// The kernel's bulk allocator serves order 0 only; here every order
    /// the per-CPU lists hold (0 to 3) takes the bulk path, and a higher
    /// order gets one block per call. The task's scopes apply
    /// (`current_gfp_context()`); `__GFP_ZERO`, `init_on_alloc` and
    /// `__GFP_COMP` are honoured per block. Like the kernel's, it does not
    /// spread `__GFP_WRITE` pages by the nodes' dirty limits.
    pub fn alloc_pages_bulk(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        pages: &mut [Option<Page>],
    ) -> usize {
        self.alloc_pages_bulk_nodemask(cx, gfp, order, None, None, pages)
    }

    /// [`Machine::alloc_pages_bulk`] preferring node `preferred_nid` and
    /// limited to `nodemask` (`alloc_pages_bulk_noprof()`'s full form).
    pub fn alloc_pages_bulk_nodemask(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        preferred_nid: Option<NodeId>,
        nodemask: Option<NodeMask>,
        pages: &mut [Option<Page>],
    ) -> usize {
        let nr = pages.len();
        let populated = pages.iter().take_while(|p| p.is_some()).count();
        if populated == nr {
            return populated;
        }
        if pcp_allowed_order(order) && nr - populated > 1 {
            if let Some(n) =
                self.bulk_from_pcp(cx, gfp, order, preferred_nid, nodemask, pages, populated)
            {
                return n;
            }
        }
        // The kernel's `failed:` label: one block the normal way.
        match self.alloc_pages_nodemask(cx, gfp, order, preferred_nid, nodemask) {
            Ok(p) => {
                pages[populated] = Some(p);
                populated + 1
            }
            Err(_) => populated,
        }
    }

    /// The bulk path proper; `None` sends the caller to the single
    /// allocation (no zone fits, or the lists are busy, or the zone had
    /// nothing at all).
    #[allow(clippy::too_many_arguments)]
    fn bulk_from_pcp(
        &self,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        preferred_nid: Option<NodeId>,
        nodemask: Option<NodeMask>,
        pages: &mut [Option<Page>],
        populated: usize,
    ) -> Option<usize> {
        debug_assert!(order <= PAGE_ALLOC_COSTLY_ORDER);
        let gfp = cx.task.gfp_context(gfp);
        // A bad mask or node: the single call reports it.
        let (ac, alloc_gfp, mut af) = self
            .prepare_alloc_pages(cx, gfp, preferred_nid, nodemask)
            .ok()?;
        af |= self.alloc_flags_nofragment(ac.preferred_zone, gfp);
        let preferred = &self.zones[ac.preferred_zone?];
        let room = (pages.len() as u64) << order;
        let mut chosen = None;
        for &zid in ac.zonelist {
            let z = &self.zones[zid];
            if !self.zone_allowed(cx, &ac, af, alloc_gfp, z) {
                continue;
            }
            // Only the preferred node's zones: a remote zone is left to the
            // single call (and its NUMA accounting).
            if self.nodes.len() > 1 && z.id != preferred.id && z.nid != preferred.nid {
                return None;
            }
            let mark = z.watermark(af.wmark()).saturating_add(room);
            if z.watermark_fast(order, mark, ac.highest_zoneidx, af) {
                chosen = Some(z);
                break;
            }
        }
        let z = chosen?;
        let slot = &self.cpus[cx.cpu];
        let me = crate::sync::owner_word(crate::sync::thread_token(), cx.cpu as u32);
        let mt = ac.migratetype;
        match slot.pcp.try_own_as(me) {
            Some(mut pcp) => {
                self.bulk_take(&mut pcp, z, order, mt, af, alloc_gfp, pages, populated)
            }
            None => {
                let mut pcp = slot.pcp.try_lock()?;
                self.bulk_take(&mut pcp, z, order, mt, af, alloc_gfp, pages, populated)
            }
        }
    }

    /// Fills the empty entries of `pages` from index `i` on from this CPU's
    /// list of `z`, `order` and `mt`; the index reached, or `None` when
    /// not one block could be had.
    #[allow(clippy::too_many_arguments)]
    fn bulk_take(
        &self,
        pcp: &mut CpuPages,
        z: &Zone,
        order: u32,
        mt: MigrateType,
        af: crate::alloc_flags::AllocFlags,
        gfp: Gfp,
        pages: &mut [Option<Page>],
        mut i: usize,
    ) -> Option<usize> {
        let (o, col) = (order as usize, mt as usize);
        // `prep_new_page()` per block: the same head word for all of them,
        // and the same answer to whether they are zeroed.
        let (zero, id) = (self.zeroes(gfp), self.id);
        let head = new_head_state(z.id, order, gfp, mt as u32).with_zeroed(zero);
        let mut got = 0u64;
        while i < pages.len() {
            if pages[i].is_some() {
                i += 1;
                continue;
            }
            if pcp.zones[z.id].lists[o][col].is_empty() {
                if self.pcp_refill(pcp, z, order, mt, af) == 0 {
                    if got == 0 {
                        return None;
                    }
                    break;
                }
                pcp.events[Event::PcpRefill as usize] += 1;
            }
            let zp = &mut pcp.zones[z.id];
            let list = &mut zp.lists[o][col];
            // The run of empty entries from `i`, as far as the list goes;
            // blocks come off the list's top in the order single pops
            // would take them.
            let run = pages[i..]
                .iter()
                .take_while(|p| p.is_none())
                .count()
                .min(list.len());
            let top = list.len() - run;
            for (entry, pfn) in pages[i..i + run].iter_mut().zip(list.drain(top..).rev()) {
                if zero {
                    // SAFETY: the block was just taken off this CPU's list
                    // and its head is not yet marked allocated, so no one
                    // else may access its memory.
                    unsafe { self.arena.zero(pfn, 1 << order) };
                }
                // SAFETY: the per-CPU lists hold only blocks that lie in
                // the frame table (see `ZonePcp::lists`).
                let block = unsafe { self.fm.frames.block_unchecked(pfn, order) };
                Machine::mark_allocated(block, head);
                *entry = Some(Page::from_raw(id, pfn));
            }
            zp.count -= (run as u32) << order;
            // Counted as the fast path counts its pops: the zone is on the
            // preferred node (a NUMA hit), local or not by the CPU's node
            // (`Machine::sum_event` folds these in).
            zp.fast_allocs[o] += run as u64;
            got += run as u64;
            i += run;
        }
        Some(i)
    }

    /// Frees `pages`, blocks of `order`, entering this CPU's lists once for
    /// the run of them that the common case covers (the batched free of
    /// `free_unref_folios()`): each page gets the checks of
    /// [`Machine::free_pages`], and a page that needs more (a dirty page,
    /// a higher order) or is misused leaves the lists for its own call,
    /// which reports misuse as the single call does. Every page that can
    /// be freed is, whatever else the batch holds. The error is the first
    /// bad page's report; every bad page is reported through the log and
    /// counted ([`Event::BadPage`]).
    pub fn free_pages_bulk<I>(&self, cx: &Cx<'_>, pages: I, order: u32) -> Result<(), BadPage>
    where
        I: IntoIterator<Item = Page>,
    {
        let mut pages = pages.into_iter();
        let mut first_bad = None;
        let slot = &self.cpus[cx.cpu];
        loop {
            let left = if pcp_allowed_order(order) {
                let mut pcp = slot.pcp.lock();
                self.free_run_onto(&mut pcp, &mut pages, order)
            } else {
                pages.next()
            };
            let Some(page) = left else { break };
            if let Err(bad) = self.free_slow(cx, page, Some(order)) {
                first_bad.get_or_insert(bad);
            }
        }
        first_bad.map_or(Ok(()), Err)
    }

    /// Frees pages from `pages` onto the entered lists while each is the
    /// common case; the first one that is not, which is left unchanged
    /// for its own call (`None` when `pages` ran out).
    #[inline(always)]
    fn free_run_onto<I>(&self, pcp: &mut CpuPages, pages: &mut I, order: u32) -> Option<Page>
    where
        I: Iterator<Item = Page>,
    {
        for page in pages {
            let Some(zone) = self.claim_for_bulk_free(page, order) else {
                return Some(page);
            };
            // SAFETY: `claim_for_bulk_free` found the block in the frame
            // table, and its head named the zone, one of the machine's
            // (`FrameState`'s invariant).
            unsafe { self.pcp_push(pcp, zone, page.pfn(), order) };
        }
        None
    }

    /// [`Machine::claim_clean_head`] for a handle: its zone, or `None` when
    /// the page needs its own call (nothing was changed).
    #[inline(always)]
    fn claim_for_bulk_free(&self, page: Page, order: u32) -> Option<ZoneId> {
        self.claim_clean_head(self.own_block(page, order)?, order)
    }
}
