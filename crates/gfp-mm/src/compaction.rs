//! Compaction (mm/compaction.c) for high orders: movable LRU pages are
//! migrated out of an aligned block (contents copied to a new page) until
//! the block is free and merges in the buddy lists. Non-LRU allocated pages
//! pin a block; only movable pages move.

use alloc::vec::Vec;

use gfp::zone::PAGE_ALLOC_COSTLY_ORDER;
use gfp::Gfp;

use crate::frame::FrameKind;
use crate::hooks::{CompactPriority, CompactResult, ReclaimRequest};
use crate::machine::{Cx, Machine};
use crate::page::Page;
use crate::vm::{PageInfo, Stat, Vm};

/// `MAX_COMPACT_RETRIES`.
pub const MAX_COMPACT_RETRIES: u32 = 16;

/// 6.12's `should_compact_retry()`: count successful runs; after a failed
/// full run raise the priority (async, then sync light, then sync full for
/// non-costly orders); withdrawn runs (skipped, deferred, stopped early)
/// do not retry here.
pub fn should_compact_retry(
    order: u32,
    result: CompactResult,
    prio: &mut CompactPriority,
    retries: &mut u32,
) -> bool {
    if order == 0 {
        return false;
    }
    if result == CompactResult::Success {
        *retries += 1;
    }
    let check_priority = |prio: &mut CompactPriority, retries: &mut u32| {
        let min = if order > PAGE_ALLOC_COSTLY_ORDER {
            CompactPriority::SyncLight
        } else {
            CompactPriority::SyncFull
        };
        if *prio > min {
            *prio = match *prio {
                CompactPriority::Async => CompactPriority::SyncLight,
                _ => CompactPriority::SyncFull,
            };
            *retries = 0;
            true
        } else {
            false
        }
    };
    match result {
        CompactResult::Complete => check_priority(prio, retries),
        CompactResult::Skipped | CompactResult::Deferred | CompactResult::PartialSkipped => false,
        CompactResult::Success => {
            let max = if order > PAGE_ALLOC_COSTLY_ORDER {
                MAX_COMPACT_RETRIES / 4
            } else {
                MAX_COMPACT_RETRIES
            };
            if *retries <= max {
                true
            } else {
                check_priority(prio, retries)
            }
        }
    }
}

impl Vm {
    /// `try_to_compact_pages()`: in each eligible zone, from the start,
    /// finds an aligned block of `2^order` pages whose allocated pages are
    /// all movable LRU pages and migrates them elsewhere. Async priority
    /// looks at a quarter of the zone, sync light at half, sync full at all.
    pub fn try_to_compact_pages(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        req: &ReclaimRequest,
        prio: CompactPriority,
    ) -> CompactResult {
        let order = req.order;
        if order == 0 {
            return CompactResult::Skipped;
        }
        let cx = self.cx(cx);
        let zones: Vec<(u32, u32, usize)> = m
            .zonelist(req.preferred_nid)
            .iter()
            .map(|&z| &m.zones()[z])
            .filter(|z| (z.zone_type() as usize) <= req.highest_zone as usize)
            .filter(|z| req.nodemask.is_none_or(|nm| nm.contains(z.nid())))
            .map(|z| (z.start_pfn(), z.managed_pages() as u32, z.nid()))
            .collect();
        if zones.is_empty() {
            return CompactResult::Skipped;
        }
        let size = 1u32 << order;
        for (start, pages, nid) in zones {
            let span = match prio {
                CompactPriority::Async => pages / 4,
                CompactPriority::SyncLight => pages / 2,
                CompactPriority::SyncFull => pages,
            };
            let first = start.div_ceil(size) * size;
            let mut b = first;
            while b + size <= start + span.max(size) && b + size <= start + pages {
                if self.compact_block(m, &cx, b, size, nid) {
                    m.drain_all_pages();
                    self.stats.add(Stat::CompactSuccess, 1);
                    return CompactResult::Success;
                }
                b += size;
            }
        }
        self.stats.add(Stat::CompactFail, 1);
        CompactResult::Complete
    }

    /// Migrates the LRU pages of `[b, b + size)` out; `true` if the block
    /// ended up free.
    fn compact_block(&self, m: &Machine, cx: &Cx<'_>, b: u32, size: u32, nid: usize) -> bool {
        let page = |pfn| Page::from_raw(self.machine_id, pfn);
        let mut movable = Vec::new();
        {
            let st = self.state.lock();
            for pfn in b..b + size {
                let Some(fs) = m.page_state(page(pfn)) else {
                    return false;
                };
                match fs.kind() {
                    // Being allocated by another CPU right now.
                    FrameKind::Claimed => return false,
                    FrameKind::Allocated | FrameKind::Tail => {
                        if st.pages.contains_key(&pfn) {
                            movable.push(pfn);
                        } else {
                            return false;
                        }
                    }
                    _ => {}
                }
            }
        }
        if movable.is_empty() {
            return false;
        }
        // Destination pages: a no-reclaim, no-warn request (the free
        // scanner's pages); ones that land inside the block are held and
        // freed with it.
        let gfp =
            (Gfp::HIGHUSER_MOVABLE | Gfp::NOWARN | Gfp::NORETRY | Gfp::THISNODE | Gfp::NOMEMALLOC)
                - Gfp::DIRECT_RECLAIM
                - Gfp::KSWAPD_RECLAIM;
        let mut held = Vec::new();
        let mut ok = true;
        for &src in &movable {
            let dst = loop {
                match m.alloc_pages_node(cx, nid, gfp, 0) {
                    Ok(p) if p.pfn() >= b && p.pfn() < b + size => held.push(p),
                    Ok(p) => break Some(p),
                    Err(_) => break None,
                }
            };
            let Some(dst) = dst else {
                ok = false;
                break;
            };
            self.migrate_page(m, cx, page(src), dst);
        }
        for p in held {
            let _ = m.free_pages(cx, p, 0);
        }
        ok
    }

    /// `migrate_pages()` for one LRU page: copies the contents, moves the
    /// LRU entry and ownership, frees the source.
    fn migrate_page(&self, m: &Machine, cx: &Cx<'_>, src: Page, dst: Page) {
        if let (Some(s), Some(d)) = (m.page_ptr(src), m.page_ptr(dst)) {
            // SAFETY: both pages are allocated and owned by this manager (the
            // source is on its LRU, the destination was just allocated), so
            // no one else accesses their memory; they are distinct frames.
            unsafe { core::ptr::copy_nonoverlapping(s.as_ptr(), d.as_ptr(), crate::PAGE_SIZE) };
        }
        let mut st = self.state.lock();
        let Some(info) = st.lru_del(src.pfn()) else {
            drop(st);
            let _ = m.free_pages(cx, dst, 0);
            return;
        };
        let old_zone = info.zone;
        let zone = m.page_zone_id(dst).unwrap_or(old_zone);
        let kind = (info.spec.kind == crate::vm::PageKind::File) as usize;
        st.zone_counts[old_zone][kind] -= 1;
        st.zone_counts[zone][kind] += 1;
        st.lru_add(
            dst.pfn(),
            PageInfo {
                zone,
                ztype: m.page_zone_type(dst).unwrap_or(info.ztype),
                nid: m.page_to_nid(dst).unwrap_or(info.nid),
                ..info
            },
        );
        drop(st);
        if info.spec.dirty {
            let _ = m.clear_page_dirty(cx, src);
            let _ = m.set_page_dirty(cx, dst);
        }
        let _ = m.free_pages(cx, src, 0);
        self.stats.add(Stat::PgmigrateSuccess, 1);
    }
}
