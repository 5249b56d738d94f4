//! Reclaim that reaches the scenario's filesystem and block layer.
//!
//! gfp-mm's reclaim runs inside an allocation, within one scheduler step,
//! while the simulator's lock model lives in [`Sim`]. [`World`] is what the
//! two share: before each allocation (and each kswapd run) the simulator
//! publishes who is reclaiming and who holds the `fs-reclaim` and
//! `io-reclaim` locks; the reclaim paths read it:
//!
//! * [`FsShrinker`], registered with the [`gfp_mm::Vm`] when the scenario
//!   declares `fs-reclaim` locks, is the filesystem's shrinker (inode
//!   eviction, as `super_cache_scan()` leads to): with `__GFP_FS` in the
//!   reclaim mask it takes every `fs-reclaim` lock and allocates a page
//!   with `GFP_NOFS` for its writeback, then frees it and unlocks. It frees
//!   no memory of its own: it is there for the locks and the allocation.
//! * Reclaim's I/O (swap-out, writeback) is submitted through the block
//!   layer, which takes every `io-reclaim` lock (the request queue's):
//!   [`World::submit_io`], called from the environment's `start_io`.
//!
//! A lock the reclaiming task holds itself can never be released: the task
//! waits for itself, a real deadlock. A lock another task holds makes the
//! reclaimer wait: the allocation unwinds out of the allocator (the
//! [`Yield`] payload, like the stall watchdog's) and the task sleeps on
//! that lock; once it is free the allocation starts again from the top,
//! the reclaim work done before the wait staying done. The waits are
//! edges of the simulator's wait-for graph, so a cycle through them is a
//! `deadlock` finding. kswapd holds no simulator lock across steps and is
//! never part of a cycle: where a lock is busy it skips the filesystem
//! (`super_cache_scan()`'s trylock) and its I/O goes ahead.

use std::sync::{Arc, Mutex, MutexGuard};

use gfp::Gfp;
use gfp_mm::shrinker::{ShrinkControl, Shrinker, SHRINK_STOP};
use gfp_mm::{Cx, Environment, Machine};

use super::devices::Devices;

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

/// Unwinds out of an allocation that waits for something only another
/// task can give: a lock its reclaim needs ([`World::take_blocked`]) or a
/// mempool element ([`WorldState::pool_wait`]). Carries no message; never
/// shown.
pub(super) struct Yield;

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
    /// Set by a reclaim path that must wait; taken by the simulator.
    pub(super) blocked: Option<Blocked>,
    /// Set by `mempool_alloc()` about to wait for an element: the pool's
    /// wait event id and the wait's timeout; taken by the simulator.
    pub(super) pool_wait: Option<(u64, u64)>,
    /// Pools (wait event ids) an element went back to since the simulator
    /// last looked: their waiters wake.
    pub(super) pool_notified: Vec<u64>,
    /// Calls of the filesystem's shrinker that took its locks and
    /// allocated.
    pub(super) fs_calls: u64,
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
            blocked: None,
            pool_wait: None,
            pool_notified: Vec::new(),
            fs_calls: 0,
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

    /// The wait a reclaim path left, if any.
    pub(super) fn take_blocked(&self) -> Option<Blocked> {
        self.lock().blocked.take()
    }

    /// The reclaim path `path` takes `locks` for the actor. `true`: all
    /// free, taken and (the path being instantaneous) released. `false`:
    /// kswapd or an unknown actor found one busy and skips. A task that
    /// finds one busy unwinds ([`Yield`]) after leaving the wait in
    /// [`WorldState::blocked`].
    fn take(&self, path: ReclaimPath) -> bool {
        let mut w = self.lock();
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
        match w.actor {
            Actor::Task(_) => {
                w.blocked = Some(Blocked { lock, owner, path });
                drop(w);
                std::panic::resume_unwind(Box::new(Yield));
            }
            Actor::Kswapd | Actor::Outside => false,
        }
    }

    /// `mempool_alloc()` waits for an element of pool `id` for at most
    /// `timeout_ns`. A task yields: the allocation unwinds, the task sleeps
    /// until an element comes back or the timeout passes, and then
    /// `mempool_alloc()` starts again from the top, as the kernel's does
    /// after `io_schedule_timeout()`. `false`: nobody to yield (kswapd,
    /// setup), the caller sleeps in place.
    pub(super) fn pool_wait(&self, id: u64, timeout_ns: u64) -> bool {
        let mut w = self.lock();
        if !matches!(w.actor, Actor::Task(_)) {
            return false;
        }
        w.pool_wait = Some((id, timeout_ns));
        drop(w);
        std::panic::resume_unwind(Box::new(Yield));
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
}

impl Shrinker for FsShrinker {
    fn name(&self) -> &str {
        "fs"
    }

    fn count(&self, _sc: &ShrinkControl) -> u64 {
        // Always something to look at: the filesystem runs on every call.
        1
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
            let _ = m.free_pages(cx, p, 0);
        }
        0
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
            }
        }
    }

    /// Task `i`'s `mempool_alloc()` waits for an element: it sleeps until
    /// one comes back (or the timeout), then the allocation starts again,
    /// its watchdog still counting from the first attempt.
    pub(super) fn pool_blocked(&mut self, i: usize, id: u64, timeout_ns: u64, t0: u64, calls: u32) {
        self.blocked = true;
        let now = self.env.now_ns();
        let t = &mut self.tasks[i];
        t.wake_at = now.saturating_add(timeout_ns);
        t.pool_wait = Some(id);
        t.retrying = true;
        t.alloc_watch = Some((t0, calls));
        if let Some(f) = t.frames.last_mut() {
            f.pc = f.pc.saturating_sub(1);
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
    /// and starts the allocation again once the lock is free; a wait-for
    /// cycle through that wait is a deadlock.
    pub(super) fn reclaim_blocked(&mut self, i: usize, b: Blocked, site: Gfp, effective: Gfp) {
        self.blocked = true;
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
        t.retrying = true;
        if let Some(f) = t.frames.last_mut() {
            // The allocation runs again from the top once the lock is free.
            f.pc = f.pc.saturating_sub(1);
        }
        if let Some(cycle) = self.wait_cycle(i) {
            // The finding names the allocation, not the operation before it.
            if let Some(f) = self.tasks[i].frames.last_mut() {
                f.pc += 1;
            }
            self.finding(i, super::Rule::Deadlock, format!("wait-for cycle: {cycle}"));
            if let Some(f) = self.tasks[i].frames.last_mut() {
                f.pc -= 1;
            }
            self.mark_cycle_stuck(i);
        }
    }
}
