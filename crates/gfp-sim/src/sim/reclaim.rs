//! Reclaim that reaches the scenario's filesystem and block layer.
//!
//! gfp-mm's reclaim runs inside an allocation, within one scheduler step,
//! while the simulator's lock model lives in [`Sim`](super::Sim). [`World`] is what the
//! two share: before each allocation (and each kswapd run) the simulator
//! publishes who is reclaiming and who holds the `fs-reclaim` and
//! `io-reclaim` locks; the reclaim paths read it:
//!
//! * [`FsShrinker`], registered with the [`gfp_mm::Vm`] when the scenario
//!   declares `fs-reclaim` locks or fills memory with the filesystem's
//!   caches (`fill fs-cache`), is the filesystem's shrinker (inode
//!   eviction, as `super_cache_scan()` leads to): with `__GFP_FS` in the
//!   reclaim mask it takes every `fs-reclaim` lock, allocates a page with
//!   `GFP_NOFS` for its writeback and frees it, frees cached pages (up to
//!   what reclaim asked for), and unlocks. Without `__GFP_FS` it does
//!   nothing: a NOFS scope keeps the caches out of reclaim's reach.
//! * Reclaim's I/O (swap-out, writeback) is submitted through the block
//!   layer, which takes every `io-reclaim` lock (the request queue's):
//!   [`World::submit_io`], called from the environment's `start_io`.
//!
//! A lock the reclaiming task holds itself can never be released: the task
//! waits for itself, a real deadlock. A lock another task holds makes the
//! reclaimer wait: its call blocks on its kernel stack (module `stack`)
//! with [`Block::Lock`], the task sleeps on that
//! lock, and once it is free reclaim carries on where it stopped and takes
//! it. The waits are edges of the simulator's wait-for graph, so a cycle
//! through them is a `deadlock` finding. kswapd holds no simulator lock
//! across steps and is never part of a cycle: where a lock is busy it
//! skips the filesystem (`super_cache_scan()`'s trylock) and its I/O goes
//! ahead.

use std::sync::{Arc, Mutex, MutexGuard};

use gfp::Gfp;
use gfp_mm::shrinker::{PageCacheShrinker, ShrinkControl, Shrinker, SHRINK_STOP};
use gfp_mm::{Cx, Environment, Machine};

use super::devices::Devices;
use super::stack::{block, Block};

/// Who runs in the allocator or in reclaim now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Actor {
    /// Nobody the lock model knows: setup, or between steps.
    Outside,
    /// A task (index into the simulator's tasks).
    Task(usize),
    /// kswapd.
    Kswapd,
}

/// Which reclaim path wanted the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReclaimPath {
    /// The filesystem's shrinker (`fs-reclaim` locks).
    Fs,
    /// The block layer's submission of reclaim's I/O (`io-reclaim` locks).
    Io,
}

impl ReclaimPath {
    /// How messages name the path.
    pub(super) fn text(self) -> &'static str {
        match self {
            ReclaimPath::Fs => "reclaim's call into the filesystem (its shrinker)",
            ReclaimPath::Io => {
                "reclaim's I/O submission (swap-out, writeback) through the block layer"
            }
        }
    }
}

/// A reclaim path that found one of its locks taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Blocked {
    /// The lock (index into the simulator's locks).
    pub(super) lock: usize,
    /// Its holder (index into the simulator's tasks).
    pub(super) owner: usize,
    /// The path that wanted it.
    pub(super) path: ReclaimPath,
}

/// What the simulator publishes for the reclaim paths, and what they leave
/// for it.
pub(super) struct WorldState {
    /// Who is in the allocator.
    pub(super) actor: Actor,
    /// Holders of the locks below, by the simulator's lock index.
    pub(super) owners: Vec<Option<usize>>,
    /// Locks the filesystem's reclaim path takes, in declaration order.
    pub(super) fs_locks: Vec<usize>,
    /// Locks the block layer's submission path takes.
    pub(super) io_locks: Vec<usize>,
    /// Pools (wait event ids) an element went back to since the simulator
    /// last looked: their waiters wake.
    pub(super) pool_notified: Vec<u64>,
    /// Calls of the filesystem's shrinker that took its locks and
    /// allocated.
    pub(super) fs_calls: u64,
    /// Pages the filesystem's reclaim path allocated for its writeback
    /// and freed again.
    pub(super) fs_buffers_freed: u64,
    /// Calls kswapd skipped because a filesystem lock was busy.
    pub(super) fs_skipped: u64,
    /// The block and swap devices.
    pub(super) devices: Devices,
}

/// [`WorldState`] behind a lock, shared by the simulator, its environment
/// and the filesystem's shrinker.
pub(super) struct World(Mutex<WorldState>);

impl World {
    /// A world with these reclaim-path locks and devices.
    pub(super) fn new(
        nr_locks: usize,
        fs_locks: Vec<usize>,
        io_locks: Vec<usize>,
        devices: Devices,
    ) -> Arc<World> {
        Arc::new(World(Mutex::new(WorldState {
            actor: Actor::Outside,
            owners: vec![None; nr_locks],
            fs_locks,
            io_locks,
            pool_notified: Vec::new(),
            fs_calls: 0,
            fs_buffers_freed: 0,
            fs_skipped: 0,
            devices,
        })))
    }

    /// The state. Never poisoned in practice (nothing unwinds while it is
    /// held); a poisoned lock is taken over rather than turned into a panic.
    pub(super) fn lock(&self) -> MutexGuard<'_, WorldState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes who runs next in the allocator and the holders of the
    /// reclaim-path locks (`owner` of each lock index).
    pub(super) fn publish(&self, actor: Actor, owner: impl Fn(usize) -> Option<usize>) {
        let mut w = self.lock();
        w.actor = actor;
        let WorldState {
            owners,
            fs_locks,
            io_locks,
            ..
        } = &mut *w;
        for &l in fs_locks.iter().chain(io_locks.iter()) {
            owners[l] = owner(l);
        }
    }

    /// The reclaim path `path` takes `locks` for the actor. `true`: all
    /// free, taken and (the path being instantaneous) released. `false`:
    /// kswapd or an unknown actor found one busy and skips. A task that
    /// finds one busy blocks until the scheduler sees it free, then looks
    /// again.
    fn take(&self, path: ReclaimPath) -> bool {
        loop {
            let w = self.lock();
            let locks = match path {
                ReclaimPath::Fs => &w.fs_locks,
                ReclaimPath::Io => &w.io_locks,
            };
            let busy = locks
                .iter()
                .find_map(|&l| w.owners[l].map(|owner| (l, owner)));
            let Some((lock, owner)) = busy else {
                return true;
            };
            if !matches!(w.actor, Actor::Task(_)) {
                return false;
            }
            drop(w);
            if block(Block::Lock(Blocked { lock, owner, path })).is_none() {
                // Not on a kernel stack: nothing can wait.
                return false;
            }
        }
    }

    /// Reclaim submits I/O: the block layer takes the `io-reclaim` locks.
    pub(super) fn submit_io(&self) {
        // kswapd's I/O goes ahead whatever it found: the pages are already
        // on their way (the simulation's swap-out is synchronous).
        let _ = self.take(ReclaimPath::Io);
    }
}

/// The filesystem's shrinker: see the module documentation.
pub(super) struct FsShrinker {
    pub(super) world: Arc<World>,
    /// The inode and dentry caches' pages (`fill fs-cache`).
    pub(super) cache: PageCacheShrinker,
    /// The scenario declares `fs-reclaim` locks: the shrinker has work
    /// (locks, writeback) even with an empty cache.
    pub(super) has_locks: bool,
}

impl Shrinker for FsShrinker {
    fn name(&self) -> &str {
        "fs"
    }

    fn count(&self, sc: &ShrinkControl) -> u64 {
        // With locks, always something to look at: the filesystem runs on
        // every call.
        self.cache.count(sc).max(u64::from(self.has_locks))
    }

    fn scan(&self, m: &Machine, cx: &Cx<'_>, sc: &ShrinkControl) -> u64 {
        // super_cache_scan(): nothing without __GFP_FS.
        if !sc.gfp.contains(Gfp::FS) {
            return SHRINK_STOP;
        }
        if !self.world.take(ReclaimPath::Fs) {
            self.world.lock().fs_skipped += 1;
            return SHRINK_STOP;
        }
        let kswapd = {
            let mut w = self.world.lock();
            w.fs_calls += 1;
            w.actor == Actor::Kswapd
        };
        // Writeback from the shrinker allocates with GFP_NOFS; reclaim
        // runs with PF_MEMALLOC, so this neither recurses nor waits. From
        // kswapd it does not wake kswapd: it is running (wakeup_kswapd()
        // finds its wait queue empty). A failure is the filesystem's to
        // handle, quietly.
        let mut gfp = Gfp::NOFS | Gfp::NOWARN;
        if kswapd {
            gfp -= Gfp::KSWAPD_RECLAIM;
        }
        if let Ok(p) = m.alloc_pages(cx, gfp, 0) {
            if m.free_pages(cx, p, 0).is_ok() {
                self.world.lock().fs_buffers_freed += 1;
            }
        }
        // The evicted inodes and dentries: their pages go back.
        match self.cache.scan(m, cx, sc) {
            SHRINK_STOP => 0,
            freed => freed,
        }
    }
}

impl super::Sim {
    /// Wakes the tasks waiting for an element of a pool one went back to.
    pub(super) fn wake_pool_waiters(&mut self) {
        let notified = std::mem::take(&mut self.world.lock().pool_notified);
        if notified.is_empty() {
            return;
        }
        let now = self.env.now_ns();
        for t in &mut self.tasks {
            if t.pool_wait.is_some_and(|id| notified.contains(&id)) {
                t.wake_at = t.wake_at.min(now);
                t.pool_woken = true;
            }
        }
    }

    /// Publishes `actor` and the holders of the reclaim-path locks before
    /// the allocator (or kswapd) runs.
    pub(super) fn publish(&self, actor: Actor) {
        let locks = &self.locks;
        self.world.publish(actor, |l| locks[l].owner);
    }

    /// Task `i`'s allocation found a reclaim-path lock taken. Its own: it
    /// waits for itself, a deadlock. Another task's: it sleeps on the lock
    /// and reclaim goes on once the lock is free; a wait-for cycle through
    /// that wait is a deadlock.
    pub(super) fn reclaim_blocked(&mut self, i: usize, b: Blocked, site: Gfp, effective: Gfp) {
        let lock = self.locks[b.lock].name.clone();
        if b.owner == i {
            let task = self.tasks[i].name.clone();
            self.finding(
                i,
                super::Rule::Deadlock,
                format!(
                    "the allocation with {effective}{} entered reclaim, and {} takes {lock}, which {task} already holds: {task} waits for itself (reclaim recursed into a lock its caller holds)",
                    Self::scope_note(site, effective),
                    b.path.text()
                ),
            );
            self.tasks[i].done = Some(super::Outcome::Stuck);
            return;
        }
        let t = &mut self.tasks[i];
        t.waiting_on = Some(b.lock);
        t.reclaim_wait = Some(b.path);
        if let Some(cycle) = self.wait_cycle(i) {
            self.finding(i, super::Rule::Deadlock, format!("wait-for cycle: {cycle}"));
            self.mark_cycle_stuck(i);
        }
    }
}
