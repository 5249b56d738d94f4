//! A slab allocator (mm/slub.c in miniature): kmem caches of fixed-size
//! objects carved from pages of the page allocator, per-CPU free lists in
//! front of per-slab ones, the `kmalloc` size classes with `kmalloc`,
//! `kzalloc`, `krealloc` and `kfree`. Caches created reclaimable allocate
//! their pages with `__GFP_RECLAIMABLE` and act as a shrinker (draining
//! their per-CPU lists and freeing empty slabs).
//!
//! Per-object extension vectors (`slabobj_ext`, memcg and allocation
//! profiling metadata) are allocated lazily, per slab, from the kmalloc
//! caches. The vector is allocated with `__GFP_NO_OBJ_EXT`, so that
//! allocating a vector never needs a vector. [`ObjExtMode::WithoutFlag`]
//! shows what happens without the flag: the vector's own slab needs a
//! vector, from the same cache, whose slab needs a vector... an unbounded
//! recursion, detected here at a fixed depth and reported.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use gfp::Gfp;

use crate::env::LogLevel;
use crate::machine::{Cx, Machine};
use crate::memcg::MemcgId;
use crate::page::{AllocError, Page};
use crate::shrinker::{ShrinkControl, Shrinker};
use crate::sync::{AtomicU32, AtomicU64, CpuLock, Ordering, SpinLock};
use crate::vm::Vm;
use crate::PAGE_SIZE;

/// The kmalloc size classes.
pub const KMALLOC_SIZES: [usize; 13] = [
    8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192,
];

/// Objects moved between a per-CPU list and the slabs at once.
const BATCH: usize = 32;

/// `sizeof(struct obj_cgroup *)` on the 64-bit kernels modelled: the
/// per-object pointer to its group, kept in the slab's extension vector.
/// 6.12 charges it with the object (`obj_full_size()`), as the vector
/// exists only because the object is accounted.
pub const OBJCG_POINTER_SIZE: usize = 8;

/// `obj_full_size()`: what an accounted object of `c` is charged (and
/// uncharged) as, in bytes, in `memory.current` and in `memory.stat`'s
/// slab counters alike.
fn obj_full_size(c: &KmemCache) -> u64 {
    (c.size + OBJCG_POINTER_SIZE) as u64
}

/// Depth at which object-extension recursion is declared unbounded.
pub const OBJ_EXT_MAX_DEPTH: u32 = 8;

/// How object extension vectors are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjExtMode {
    /// No vectors (no memcg accounting, no allocation profiling).
    Off,
    /// Vectors, allocated with `__GFP_NO_OBJ_EXT` (the kernel's way).
    WithFlag,
    /// Vectors, allocated without the flag: the recursion demonstration.
    WithoutFlag,
}

/// Why a slab allocation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlabError {
    /// The page allocator refused a slab page.
    NoMemory(AllocError),
    /// The size is above the largest kmalloc class.
    TooLarge(usize),
    /// Allocating an extension vector recursed without bound.
    ObjExtRecursion {
        /// The depth reached.
        depth: u32,
    },
}

impl core::fmt::Display for SlabError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SlabError::NoMemory(e) => write!(f, "the page allocator refused a slab page ({e})"),
            SlabError::TooLarge(n) => write!(f, "{n} bytes is above the largest kmalloc size"),
            SlabError::ObjExtRecursion { depth } => write!(
                f,
                "allocating the slab's object-extension vector recursed {depth} levels deep"
            ),
        }
    }
}

impl core::error::Error for SlabError {}

struct SlabMeta {
    free: Vec<usize>,
    inuse: u32,
    total: u32,
    obj_exts: Option<usize>,
}

/// One cache (`struct kmem_cache`).
pub struct KmemCache {
    name: String,
    idx: u32,
    size: usize,
    order: u32,
    reclaimable: bool,
    /// Per-CPU free objects. A thread bound to the CPU owns its list and
    /// enters without atomic read-modify-writes, as for the page lists.
    cpus: Vec<CpuLock<Vec<usize>>>,
    slabs: SpinLock<BTreeMap<u32, SlabMeta>>,
    owner: Arc<PfnOwner>,
    pages: AtomicU64,
    machine_id: u32,
}

impl core::fmt::Debug for KmemCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KmemCache")
            .field("name", &self.name)
            .field("size", &self.size)
            .finish()
    }
}

/// Which cache owns each page frame (0: none), the side table that
/// `kfree` uses in place of `struct slab`.
struct PfnOwner {
    base: usize,
    owner: Vec<AtomicU32>,
}

impl PfnOwner {
    fn pfn_of(&self, addr: usize) -> u32 {
        ((addr - self.base) / PAGE_SIZE) as u32
    }
}

/// The slab allocator of one machine.
pub struct Slab {
    caches: SpinLock<Vec<Arc<KmemCache>>>,
    kmalloc: Vec<Arc<KmemCache>>,
    owner: Arc<PfnOwner>,
    nr_cpus: usize,
    machine_id: u32,
    mode: ObjExtMode,
    recursion_reports: AtomicU64,
    memcg: Option<Arc<Vm>>,
    /// Accounted objects: address -> (group, bytes, from a reclaimable
    /// cache) (the obj_cgroup pointer of the object's extension).
    accounted: SpinLock<BTreeMap<usize, (MemcgId, u64, bool)>>,
    /// Bytes charged per group; whole pages are charged to the group.
    bytes: SpinLock<BTreeMap<MemcgId, u64>>,
}

impl core::fmt::Debug for Slab {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Slab").field("mode", &self.mode).finish()
    }
}

/// A slab object: its address in the machine's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Obj(pub usize);

impl Obj {
    /// The object's bytes as a pointer.
    pub fn as_ptr(self) -> *mut u8 {
        self.0 as *mut u8
    }
}

impl Slab {
    /// The slab allocator for `m`, with the kmalloc caches.
    pub fn new(m: &Machine, mode: ObjExtMode) -> Slab {
        let base = m.arena.page_ptr(0).as_ptr() as usize;
        let span = m
            .zones()
            .iter()
            .map(|z| z.start_pfn() as u64 + z.managed_pages())
            .max()
            .unwrap_or(0);
        let owner = Arc::new(PfnOwner {
            base,
            owner: (0..span).map(|_| AtomicU32::new(0)).collect(),
        });
        let mut s = Slab {
            caches: SpinLock::new(Vec::new()),
            kmalloc: Vec::new(),
            owner,
            nr_cpus: m.nr_cpus(),
            machine_id: m.id(),
            mode,
            recursion_reports: AtomicU64::new(0),
            memcg: None,
            accounted: SpinLock::new(BTreeMap::new()),
            bytes: SpinLock::new(BTreeMap::new()),
        };
        let km: Vec<Arc<KmemCache>> = KMALLOC_SIZES
            .iter()
            .map(|&sz| s.create_cache(&format!("kmalloc-{sz}"), sz, false))
            .collect();
        s.kmalloc = km;
        s
    }

    /// Charges `__GFP_ACCOUNT` objects to the allocating task's memory
    /// cgroup in `vm` (bytes, rounded to whole pages per group, as the
    /// kernel's obj_cgroup stock does).
    pub fn with_memcg(mut self, vm: Arc<Vm>) -> Slab {
        self.memcg = Some(vm);
        self
    }

    /// `kmem_cache_create(name, size)`: objects of `size` bytes (rounded
    /// up to 8); `reclaimable` is `SLAB_RECLAIM_ACCOUNT`.
    pub fn create_cache(&self, name: &str, size: usize, reclaimable: bool) -> Arc<KmemCache> {
        let size = size.max(8).next_multiple_of(8);
        let order = if size > PAGE_SIZE {
            (size / PAGE_SIZE).next_power_of_two().trailing_zeros()
        } else {
            0
        };
        let mut caches = self.caches.lock();
        let c = Arc::new(KmemCache {
            name: name.into(),
            idx: caches.len() as u32 + 1,
            size,
            order,
            reclaimable,
            cpus: (0..self.nr_cpus)
                .map(|cpu| CpuLock::for_cpu(Vec::new(), u32::try_from(cpu).unwrap_or(u32::MAX)))
                .collect(),
            slabs: SpinLock::new(BTreeMap::new()),
            owner: self.owner.clone(),
            pages: AtomicU64::new(0),
            machine_id: self.machine_id,
        });
        caches.push(c.clone());
        c
    }

    /// The kmalloc cache for `size`.
    pub fn kmalloc_cache(&self, size: usize) -> Option<&Arc<KmemCache>> {
        let i = KMALLOC_SIZES.iter().position(|&s| s >= size)?;
        Some(&self.kmalloc[i])
    }

    /// The memory cgroup `o` is charged to, if it was allocated with
    /// `__GFP_ACCOUNT` (after the task's scopes) and a group took the charge.
    pub fn obj_memcg(&self, o: Obj) -> Option<MemcgId> {
        self.accounted.lock().get(&o.0).map(|&(mc, _, _)| mc)
    }

    /// Object-extension recursions detected so far.
    pub fn recursion_reports(&self) -> u64 {
        self.recursion_reports.load(Ordering::Relaxed)
    }

    /// `slab_want_init_on_alloc()`: whether an object allocated with
    /// `eff` (the mask in force, scopes applied) is zeroed: `__GFP_ZERO`
    /// or the machine's `init_on_alloc`.
    pub fn want_init_on_alloc(m: &Machine, eff: Gfp) -> bool {
        eff.contains(Gfp::ZERO) || m.init_on_alloc()
    }

    /// `kmalloc(size, gfp)`.
    #[inline]
    pub fn kmalloc(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        size: usize,
        gfp: Gfp,
    ) -> Result<Obj, SlabError> {
        let c = self.kmalloc_cache(size).ok_or(SlabError::TooLarge(size))?;
        self.alloc_depth(m, cx, c, gfp, 0)
    }

    /// `kzalloc(size, gfp)`: zeroed.
    pub fn kzalloc(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        size: usize,
        gfp: Gfp,
    ) -> Result<Obj, SlabError> {
        let o = self.kmalloc(m, cx, size, gfp)?;
        // SAFETY: the object was just allocated for the caller and spans
        // at least `size` bytes of the machine's memory.
        unsafe { core::ptr::write_bytes(o.as_ptr(), 0, size) };
        Ok(o)
    }

    /// `kmem_cache_alloc(cache, gfp)`.
    pub fn cache_alloc(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        c: &KmemCache,
        gfp: Gfp,
    ) -> Result<Obj, SlabError> {
        self.alloc_depth(m, cx, c, gfp, 0)
    }

    /// The object's size class (`ksize`), `None` if not a slab object.
    pub fn ksize(&self, o: Obj) -> Option<usize> {
        self.cache_of(o).map(|c| c.size)
    }

    fn cache_of(&self, o: Obj) -> Option<Arc<KmemCache>> {
        let pfn = self.owner.pfn_of(o.0) as usize;
        let idx = self.owner.owner.get(pfn)?.load(Ordering::Relaxed);
        if idx == 0 {
            return None;
        }
        self.caches.lock().get(idx as usize - 1).cloned()
    }

    /// `krealloc(obj, new_size, gfp)`: the same object if it fits, else a
    /// new one with the contents copied and the old one freed.
    pub fn krealloc(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        o: Obj,
        new_size: usize,
        gfp: Gfp,
    ) -> Result<Obj, SlabError> {
        let old = self.ksize(o).unwrap_or(0);
        if new_size <= old {
            return Ok(o);
        }
        let n = self.kmalloc(m, cx, new_size, gfp)?;
        // SAFETY: both are live slab objects of at least `old` bytes
        // (the new one is larger), distinct allocations.
        unsafe { core::ptr::copy_nonoverlapping(o.as_ptr(), n.as_ptr(), old) };
        self.kfree(m, cx, o);
        Ok(n)
    }

    fn alloc_depth(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        c: &KmemCache,
        gfp: Gfp,
        depth: u32,
    ) -> Result<Obj, SlabError> {
        let cpu = cx.cpu % c.cpus.len();
        let got = c.cpus[cpu].lock().pop();
        let addr = match got {
            Some(a) => a,
            None => self.refill(m, cx, c, cpu, gfp)?,
        };
        // The hooks read the mask as the allocator sees it, with the task's
        // scopes applied (`current_gfp_context()`): a scope that changes
        // __GFP_NO_OBJ_EXT or __GFP_ACCOUNT changes what happens here.
        let eff = cx.task.gfp_context(gfp);
        if self.mode != ObjExtMode::Off && !eff.contains(Gfp::NO_OBJ_EXT) {
            if let Err(e) = self.ensure_obj_exts(m, cx, c, addr, gfp, depth) {
                c.cpus[cpu].lock().push(addr);
                return Err(e);
            }
        }
        if crate::mutation::accounted(eff) {
            if let Some(vm) = &self.memcg {
                if let Err(e) = self.charge_obj(vm, m, cx, addr, c, gfp) {
                    c.cpus[cpu].lock().push(addr);
                    return Err(e);
                }
            }
        }
        // `slab_post_alloc_hook()`: `slab_want_init_on_alloc()`.
        if Self::want_init_on_alloc(m, eff) {
            // SAFETY: the object was just taken for the caller and spans
            // the cache's object size of the machine's memory.
            unsafe { core::ptr::write_bytes(addr as *mut u8, 0, c.size) };
        }
        Ok(Obj(addr))
    }

    /// `__memcg_slab_post_alloc_hook()`: charges the object's
    /// `obj_full_size()` (its size and its `obj_cgroup` pointer) to the
    /// task's group, a page at a time; the pages count as the group's
    /// kernel memory and the bytes as its slab (`memory.stat`).
    fn charge_obj(
        &self,
        vm: &Vm,
        m: &Machine,
        cx: &Cx<'_>,
        addr: usize,
        c: &KmemCache,
        gfp: Gfp,
    ) -> Result<(), SlabError> {
        let bytes = obj_full_size(c);
        let mc = vm.memcg_of(cx.task.pid);
        let page = PAGE_SIZE as u64;
        let have = *self.bytes.lock().get(&mc).unwrap_or(&0);
        let pages_needed = (have + bytes).div_ceil(page) - have.div_ceil(page);
        if pages_needed > 0 {
            vm.memcg_try_charge(m, cx, mc, gfp, pages_needed)
                .map_err(SlabError::NoMemory)?;
            vm.memcg_account_kmem(mc, pages_needed as i64);
        }
        vm.memcg_account_slab(mc, c.reclaimable, bytes as i64);
        *self.bytes.lock().entry(mc).or_insert(0) += bytes;
        self.accounted
            .lock()
            .insert(addr, (mc, bytes, c.reclaimable));
        Ok(())
    }

    fn uncharge_obj(&self, addr: usize) {
        let Some(vm) = &self.memcg else { return };
        let Some((mc, bytes, reclaimable)) = self.accounted.lock().remove(&addr) else {
            return;
        };
        vm.memcg_account_slab(mc, reclaimable, -(bytes as i64));
        let page = PAGE_SIZE as u64;
        let mut b = self.bytes.lock();
        let have = b.entry(mc).or_insert(0);
        let before = have.div_ceil(page);
        *have -= bytes;
        let after = have.div_ceil(page);
        drop(b);
        if before > after {
            vm.memcg_uncharge(mc, before - after);
            vm.memcg_account_kmem(mc, -((before - after) as i64));
        }
    }

    /// `alloc_slab_obj_exts()`: the slab of `addr` gets its vector.
    fn ensure_obj_exts(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        c: &KmemCache,
        addr: usize,
        gfp: Gfp,
        depth: u32,
    ) -> Result<(), SlabError> {
        let head = self.owner.pfn_of(addr) & !((1u32 << c.order) - 1);
        let total = {
            let slabs = c.slabs.lock();
            match slabs.get(&head) {
                Some(s) if s.obj_exts.is_none() => s.total as usize,
                _ => return Ok(()),
            }
        };
        if depth >= OBJ_EXT_MAX_DEPTH {
            self.recursion_reports.fetch_add(1, Ordering::Relaxed);
            cx.env.log(
                LogLevel::Warning,
                &format!(
                    "slab: obj_ext vector allocation recursed {depth} levels deep in {} (gfp {gfp}): allocating a vector needs a vector without __GFP_NO_OBJ_EXT",
                    c.name
                ),
            );
            return Err(SlabError::ObjExtRecursion { depth });
        }
        let vgfp = match self.mode {
            ObjExtMode::WithFlag => (gfp - Gfp::ACCOUNT) | Gfp::NO_OBJ_EXT,
            _ => gfp - Gfp::ACCOUNT,
        };
        let size = (total * 8).min(8192);
        let vc = self.kmalloc_cache(size).ok_or(SlabError::TooLarge(size))?;
        let v = self.alloc_depth(m, cx, vc, vgfp, depth + 1)?;
        let mut slabs = c.slabs.lock();
        match slabs.get_mut(&head) {
            Some(s) if s.obj_exts.is_none() => s.obj_exts = Some(v.0),
            _ => {
                drop(slabs);
                self.kfree(m, cx, v);
            }
        }
        Ok(())
    }

    /// The page frame holding `o` (`virt_to_page`).
    pub fn obj_page(&self, o: Obj) -> Page {
        Page::from_raw(self.machine_id, self.owner.pfn_of(o.0))
    }

    /// Whether the slab of `o` has its extension vector.
    pub fn has_obj_exts(&self, o: Obj) -> bool {
        let Some(c) = self.cache_of(o) else {
            return false;
        };
        let head = self.owner.pfn_of(o.0) & !((1u32 << c.order) - 1);
        let has = c
            .slabs
            .lock()
            .get(&head)
            .is_some_and(|s| s.obj_exts.is_some());
        has
    }

    /// Takes up to a batch of objects from partial slabs, or a new slab.
    #[inline(never)]
    fn refill(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        c: &KmemCache,
        cpu: usize,
        gfp: Gfp,
    ) -> Result<usize, SlabError> {
        let mut batch = Vec::with_capacity(BATCH);
        {
            let mut slabs = c.slabs.lock();
            for s in slabs.values_mut() {
                while batch.len() < BATCH {
                    let Some(a) = s.free.pop() else { break };
                    s.inuse += 1;
                    batch.push(a);
                }
                if batch.len() == BATCH {
                    break;
                }
            }
        }
        if batch.is_empty() {
            // new_slab(): a mask with bits slab pages cannot have
            // (GFP_SLAB_BUG_MASK: __GFP_DMA32, __GFP_HIGHMEM) is fixed up
            // by kmalloc_fix_flags(), which says so every time.
            let bug = gfp & (Gfp::DMA32 | Gfp::HIGHMEM);
            let gfp = if bug.is_empty() {
                gfp
            } else {
                let fixed = gfp - bug;
                cx.env.log(
                    LogLevel::Warning,
                    &format!(
                        "Unexpected gfp: {:#x} ({}). Fixing up to gfp: {:#x} ({}). Fix your code!",
                        bug.bits(),
                        crate::report::pgg(bug),
                        fixed.bits(),
                        crate::report::pgg(fixed)
                    ),
                );
                fixed
            };
            let mut pg = (gfp - Gfp::ZERO - Gfp::NO_OBJ_EXT - Gfp::ACCOUNT) | Gfp::COMP;
            if c.reclaimable {
                pg |= Gfp::RECLAIMABLE;
            }
            let page = m
                .alloc_pages(cx, pg, c.order)
                .map_err(SlabError::NoMemory)?;
            let base = m.page_ptr(page).map_or(0, |p| p.as_ptr() as usize);
            let bytes = PAGE_SIZE << c.order;
            let n = bytes / c.size;
            for i in 0..(1u32 << c.order) {
                c.owner.owner[(page.pfn() + i) as usize].store(c.idx, Ordering::Relaxed);
            }
            let mut free: Vec<usize> = (0..n).rev().map(|i| base + i * c.size).collect();
            let take = free.len().min(BATCH);
            batch.extend(free.drain(free.len() - take..));
            c.slabs.lock().insert(
                page.pfn(),
                SlabMeta {
                    free,
                    inuse: take as u32,
                    total: n as u32,
                    obj_exts: None,
                },
            );
            c.pages.fetch_add(1 << c.order, Ordering::Relaxed);
            account_slab_pages(m, c, page, 1);
        }
        let first = batch.pop().expect("a batch");
        c.cpus[cpu].lock().extend(batch);
        Ok(first)
    }

    /// `kfree(obj)` / `kmem_cache_free()`: to this CPU's list; a long list
    /// gives a batch back to the slabs, and empty slabs beyond two go back
    /// to the page allocator.
    #[inline]
    pub fn kfree(&self, m: &Machine, cx: &Cx<'_>, o: Obj) {
        if self.memcg.is_some() {
            self.uncharge_obj(o.0);
        }
        let pfn = self.owner.pfn_of(o.0) as usize;
        let idx = match self.owner.owner.get(pfn) {
            Some(i) => i.load(Ordering::Relaxed),
            None => return,
        };
        if idx == 0 {
            return;
        }
        // kmalloc caches are borrowed (no reference-count traffic on the
        // hot path); other caches are looked up under the cache-list lock.
        let other;
        let c: &KmemCache = if let Some(k) = self.kmalloc.get(idx as usize - 1) {
            k
        } else {
            match self.caches.lock().get(idx as usize - 1) {
                Some(c) => {
                    other = c.clone();
                    &other
                }
                None => return,
            }
        };
        let cpu = cx.cpu % c.cpus.len();
        let mut l = c.cpus[cpu].lock();
        l.push(o.0);
        if l.len() >= 2 * BATCH {
            let back: Vec<usize> = l.drain(..BATCH).collect();
            drop(l);
            self.flush(m, cx, c, back, 2);
        }
    }

    fn flush(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        c: &KmemCache,
        objs: Vec<usize>,
        keep_empty: usize,
    ) -> u64 {
        let mut slabs = c.slabs.lock();
        for a in objs {
            let head = self.owner.pfn_of(a) & !((1u32 << c.order) - 1);
            if let Some(s) = slabs.get_mut(&head) {
                s.free.push(a);
                s.inuse -= 1;
            }
        }
        let empty: Vec<u32> = slabs
            .iter()
            .filter(|(_, s)| s.inuse == 0)
            .map(|(&p, _)| p)
            .skip(keep_empty)
            .collect();
        let mut freed = 0;
        let mut vectors = Vec::new();
        for p in empty {
            if let Some(s) = slabs.remove(&p) {
                vectors.extend(s.obj_exts);
            }
            for i in 0..(1u32 << c.order) {
                c.owner.owner[(p + i) as usize].store(0, Ordering::Relaxed);
            }
            let page = Page::from_raw(c.machine_id, p);
            // Counted off before the free: once free, the page has no node
            // to look up.
            account_slab_pages(m, c, page, -1);
            if m.free_pages(cx, page, c.order).is_ok() {
                freed += 1 << c.order;
            }
        }
        drop(slabs);
        c.pages.fetch_sub(freed, Ordering::Relaxed);
        for v in vectors {
            self.kfree(m, cx, Obj(v));
        }
        freed
    }

    /// Drains every per-CPU list of `c` and frees its empty slabs; returns
    /// pages freed (the cache's shrinker).
    pub fn shrink_cache(&self, m: &Machine, cx: &Cx<'_>, c: &KmemCache) -> u64 {
        let mut all = Vec::new();
        for l in &c.cpus {
            all.append(&mut l.lock());
        }
        self.flush(m, cx, c, all, 0)
    }
}

/// `account_slab()` / `unaccount_slab()`: a slab's pages join (`sign` 1)
/// or leave (-1) its node's `NR_SLAB_RECLAIMABLE_B` (a
/// `SLAB_RECLAIM_ACCOUNT` cache) or `NR_SLAB_UNRECLAIMABLE_B`, which
/// `show_mem()` prints.
fn account_slab_pages(m: &Machine, c: &KmemCache, page: Page, sign: i64) {
    let item = if c.reclaimable {
        crate::stats::NodeStat::SlabReclaimable
    } else {
        crate::stats::NodeStat::SlabUnreclaimable
    };
    let nid = m.page_to_nid(page).unwrap_or(0);
    m.page_state.mod_node(nid, item, sign << c.order);
}

impl KmemCache {
    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Object size.
    pub fn size(&self) -> usize {
        self.size
    }
    /// Pages held in slabs.
    pub fn pages(&self) -> u64 {
        self.pages.load(Ordering::Relaxed)
    }
    /// Whether its pages are `__GFP_RECLAIMABLE`.
    pub fn reclaimable(&self) -> bool {
        self.reclaimable
    }
}

/// The shrinker of a reclaimable cache.
pub struct CacheShrinker {
    /// The slab allocator.
    pub slab: Arc<Slab>,
    /// The cache.
    pub cache: Arc<KmemCache>,
}

impl Shrinker for CacheShrinker {
    fn name(&self) -> &str {
        self.cache.name()
    }
    fn count(&self, _sc: &ShrinkControl) -> u64 {
        let slabs = self.cache.slabs.lock();
        slabs.values().filter(|s| s.inuse == 0).count() as u64
            + self
                .cache
                .cpus
                .iter()
                .map(|l| l.lock().len() as u64)
                .sum::<u64>()
    }
    fn scan(&self, m: &Machine, cx: &Cx<'_>, _sc: &ShrinkControl) -> u64 {
        self.slab.shrink_cache(m, cx, &self.cache)
    }
}

/// One row of the kmalloc benchmark (`gfp bench --json`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct KmallocRow {
    /// `gfp-kmalloc` or `system-malloc`.
    pub allocator: &'static str,
    /// Object size in bytes.
    pub size: usize,
    /// Threads.
    pub threads: usize,
    /// Nanoseconds per allocate+free pair (median of the samples).
    pub ns_per_pair: f64,
}

/// kmalloc/kfree pairs of `size`-byte objects beside the system allocator
/// in the same run, single-threaded: `samples` samples of `pairs` pairs,
/// median reported.
#[cfg(feature = "std")]
pub fn bench_kmalloc(size: usize, pairs: usize, samples: usize) -> Vec<KmallocRow> {
    use std::time::Instant;
    let m = Machine::new(crate::MachineSpec::test_64mib()).expect("machine");
    let env = crate::VirtualEnv::new();
    let cx = Cx::new(0, crate::Task::new(), &env, &crate::NoProgress);
    // As a kernel thread runs on its CPU: the bound thread owns CPU 0's lists.
    crate::rt::bind_current_thread(0);
    let slab = Slab::new(&m, ObjExtMode::Off);
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let mut gfp_t = Vec::new();
    let mut sys_t = Vec::new();
    let layout = std::alloc::Layout::from_size_align(size, 8).expect("layout");
    for _ in 0..samples.max(1) {
        let t = Instant::now();
        for _ in 0..pairs {
            let o = slab.kmalloc(&m, &cx, size, Gfp::KERNEL).expect("kmalloc");
            slab.kfree(&m, &cx, core::hint::black_box(o));
        }
        gfp_t.push(t.elapsed().as_nanos() as f64 / pairs as f64);
        let t = Instant::now();
        for _ in 0..pairs {
            // SAFETY: a non-zero-size layout; the block is freed with it.
            unsafe {
                let p = std::alloc::alloc(layout);
                assert!(!p.is_null());
                std::alloc::dealloc(core::hint::black_box(p), layout);
            }
        }
        sys_t.push(t.elapsed().as_nanos() as f64 / pairs as f64);
    }
    alloc::vec![
        KmallocRow {
            allocator: "gfp-kmalloc",
            size,
            threads: 1,
            ns_per_pair: median(gfp_t),
        },
        KmallocRow {
            allocator: "system-malloc",
            size,
            threads: 1,
            ns_per_pair: median(sys_t),
        },
    ]
}
