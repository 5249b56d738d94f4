//! Shrinkers: caches outside the LRU lists that reclaim asks to give memory
//! back (`struct shrinker`, `shrink_slab()`). The callback receives the
//! reclaim context's mask; a filesystem shrinker does nothing without
//! `__GFP_FS`, as `super_cache_scan()` does.

use alloc::vec::Vec;

use gfp::Gfp;

use crate::machine::{Cx, Machine};
use crate::nodemask::NodeId;
use crate::page::Page;
use crate::sync::{AtomicU64, Ordering, SpinLock};

/// What a shrinker is asked (`struct shrink_control`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShrinkControl {
    /// The reclaim context's mask (scopes applied).
    pub gfp: Gfp,
    /// The node being reclaimed.
    pub nid: NodeId,
    /// How many objects to scan.
    pub nr_to_scan: u64,
}

/// `SHRINK_STOP`: the shrinker cannot make progress in this context.
pub const SHRINK_STOP: u64 = u64::MAX;

/// A registered cache (`struct shrinker`'s two callbacks).
pub trait Shrinker: Send + Sync {
    /// The shrinker's name (`shrinker->name`).
    fn name(&self) -> &str;
    /// Freeable objects (`count_objects`).
    fn count(&self, sc: &ShrinkControl) -> u64;
    /// Frees up to `sc.nr_to_scan` objects (`scan_objects`); returns the
    /// pages freed, or [`SHRINK_STOP`].
    fn scan(&self, m: &Machine, cx: &Cx<'_>, sc: &ShrinkControl) -> u64;
}

/// A cache of whole pages (a dentry/inode cache, or a driver's buffer pool)
/// whose objects are pages taken from the allocator. With `fs` set it
/// behaves as a filesystem's superblock shrinker: it frees nothing unless
/// the mask has `__GFP_FS`.
pub struct PageCacheShrinker {
    name: &'static str,
    fs: bool,
    pages: SpinLock<Vec<Page>>,
    calls: AtomicU64,
    freed: AtomicU64,
    last_gfp: AtomicU64,
}

impl core::fmt::Debug for PageCacheShrinker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PageCacheShrinker")
            .field("name", &self.name)
            .field("fs", &self.fs)
            .field("len", &self.len())
            .finish()
    }
}

impl PageCacheShrinker {
    /// An empty cache; `fs`: a filesystem cache (needs `__GFP_FS`).
    pub fn new(name: &'static str, fs: bool) -> PageCacheShrinker {
        PageCacheShrinker {
            name,
            fs,
            pages: SpinLock::new(Vec::new()),
            calls: AtomicU64::new(0),
            freed: AtomicU64::new(0),
            last_gfp: AtomicU64::new(u64::MAX),
        }
    }

    /// Puts a page (allocated by the caller, order 0) in the cache.
    pub fn insert(&self, page: Page) {
        self.pages.lock().push(page);
    }

    /// Pages held.
    pub fn len(&self) -> usize {
        self.pages.lock().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How often `scan` was called.
    pub fn scan_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Pages freed by `scan`.
    pub fn freed(&self) -> u64 {
        self.freed.load(Ordering::Relaxed)
    }

    /// The mask of the last `scan` call, if any.
    pub fn last_gfp(&self) -> Option<Gfp> {
        match self.last_gfp.load(Ordering::Relaxed) {
            u64::MAX => None,
            g => Some(Gfp::from_bits_retain(g as u32)),
        }
    }
}

impl Shrinker for PageCacheShrinker {
    fn name(&self) -> &str {
        self.name
    }

    fn count(&self, _sc: &ShrinkControl) -> u64 {
        self.len() as u64
    }

    fn scan(&self, m: &Machine, cx: &Cx<'_>, sc: &ShrinkControl) -> u64 {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.last_gfp.store(sc.gfp.bits() as u64, Ordering::Relaxed);
        if self.fs && !sc.gfp.contains(Gfp::FS) {
            return SHRINK_STOP;
        }
        let mut freed = 0;
        let mut pages = self.pages.lock();
        while freed < sc.nr_to_scan {
            let Some(p) = pages.pop() else { break };
            if m.free_pages(cx, p, 0).is_ok() {
                freed += 1;
            }
        }
        drop(pages);
        self.freed.fetch_add(freed, Ordering::Relaxed);
        freed
    }
}
