//! Reclaim-recursion detection: the kernel's `fs_reclaim` lockdep map.
//!
//! Locks are registered with the tracker; tasks report taking and
//! dropping them. Taking a lock while in FS reclaim (a shrinker, a
//! writeback path) records "FS reclaim takes this lock". An allocation that
//! may enter FS reclaim (`__GFP_DIRECT_RECLAIM` and `__GFP_FS` after the
//! task's scopes, no PF_MEMALLOC, no `__GFP_NOLOCKDEP`) records "this
//! lock is held across FS reclaim" for every lock the task holds. Both
//! orders of the same lock form a cycle: the classic deadlock of a
//! filesystem that allocates with `GFP_KERNEL` under a lock its own
//! shrinker takes. The report says who holds what and where it allocated.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::panic::Location;

use gfp::{Gfp, TaskFlags};

use crate::env::LogLevel;
use crate::machine::Cx;
use crate::sync::{AtomicU64, Ordering, SpinLock};

/// A registered lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockId(pub usize);

/// A detected recursion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockdepReport {
    /// The task (pid) that completed the cycle.
    pub pid: u32,
    /// Its name.
    pub comm: String,
    /// The lock involved.
    pub lock: String,
    /// Where the task took the lock it holds (or, for the other order,
    /// where reclaim took it).
    pub held_at: String,
    /// Where the allocation that may enter FS reclaim was made.
    pub alloc_at: String,
    /// Where FS reclaim takes the lock (the recorded dependency).
    pub reclaim_at: String,
    /// The report's text, also logged.
    pub text: String,
}

#[derive(Default)]
struct State {
    names: Vec<String>,
    /// Locks held per task, with where they were taken.
    held: BTreeMap<u32, Vec<(LockId, String)>>,
    /// Tasks inside FS reclaim (nesting depth).
    in_reclaim: BTreeMap<u32, u32>,
    /// fs_reclaim -> lock: where reclaim took it.
    reclaim_takes: BTreeMap<LockId, String>,
    /// lock -> fs_reclaim: where a holder allocated.
    held_across: BTreeMap<LockId, String>,
    reported: BTreeSet<LockId>,
    reports: Vec<LockdepReport>,
}

/// The tracker.
pub struct Lockdep {
    st: SpinLock<State>,
    /// Tracked locks held, by all tasks together (stored under `st` after
    /// each change): while 0, `might_alloc` has nothing to check.
    held: AtomicU64,
    /// Reports so far (stored under `st`).
    nr_reports: AtomicU64,
}

impl core::fmt::Debug for Lockdep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lockdep").finish_non_exhaustive()
    }
}

impl Default for Lockdep {
    fn default() -> Self {
        Lockdep::new()
    }
}

/// `__need_reclaim()` + the `__GFP_FS` test of `fs_reclaim_acquire()`:
/// whether an allocation with `gfp` (scopes applied) by a task with
/// `flags` may enter FS reclaim, for lockdep's purposes.
#[inline]
pub fn may_enter_fs_reclaim(gfp: Gfp, flags: TaskFlags) -> bool {
    gfp.contains(Gfp::DIRECT_RECLAIM | Gfp::FS)
        && !flags.contains(TaskFlags::MEMALLOC)
        && !gfp.contains(Gfp::NOLOCKDEP)
}

impl Lockdep {
    /// No locks.
    pub fn new() -> Lockdep {
        Lockdep {
            st: SpinLock::new(State::default()),
            held: AtomicU64::new(0),
            nr_reports: AtomicU64::new(0),
        }
    }

    /// Registers a lock class.
    pub fn register(&self, name: &str) -> LockId {
        let mut st = self.st.lock();
        st.names.push(name.into());
        LockId(st.names.len() - 1)
    }

    /// Task `cx.task.pid` takes `lock` (call site recorded).
    #[track_caller]
    pub fn lock(&self, cx: &Cx<'_>, lock: LockId) {
        let site = Location::caller();
        let pid = cx.task.pid;
        let mut st = self.st.lock();
        let at = format!("{site}");
        if st.in_reclaim.get(&pid).copied().unwrap_or(0) > 0 {
            st.reclaim_takes.entry(lock).or_insert_with(|| at.clone());
            if let Some(alloc_at) = st.held_across.get(&lock).cloned() {
                let held_at = at.clone();
                self.report(&mut st, cx, lock, held_at, alloc_at, at.clone());
            }
        }
        st.held.entry(pid).or_default().push((lock, at));
        self.held.fetch_add(1, Ordering::Relaxed);
    }

    /// Task `cx.task.pid` drops `lock`.
    pub fn unlock(&self, cx: &Cx<'_>, lock: LockId) {
        let mut st = self.st.lock();
        if let Some(h) = st.held.get_mut(&cx.task.pid) {
            if let Some(i) = h.iter().rposition(|(l, _)| *l == lock) {
                h.remove(i);
                self.held.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Declares that FS reclaim takes `lock` (as if a shrinker had been
    /// seen taking it at `at`).
    pub fn taken_in_fs_reclaim(&self, lock: LockId, at: &str) {
        self.st.lock().reclaim_takes.insert(lock, at.into());
    }

    pub(crate) fn fs_reclaim_enter(&self, pid: u32) {
        *self.st.lock().in_reclaim.entry(pid).or_default() += 1;
    }

    pub(crate) fn fs_reclaim_exit(&self, pid: u32) {
        let mut st = self.st.lock();
        if let Some(d) = st.in_reclaim.get_mut(&pid) {
            *d = d.saturating_sub(1);
        }
    }

    /// `might_alloc()` / `fs_reclaim_acquire()`: called before an
    /// allocation with `gfp` at `site`.
    #[inline]
    pub fn might_alloc(&self, cx: &Cx<'_>, gfp: Gfp, site: &Location<'_>) {
        let gfp = cx.task.gfp_context(gfp);
        if !may_enter_fs_reclaim(gfp, cx.task.flags()) {
            return;
        }
        // No task holds a tracked lock: nothing to record or report. A lock
        // this task holds was counted before this call (same thread).
        if self.held.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.might_alloc_held(cx, site);
    }

    /// [`Lockdep::might_alloc`] when some task holds a tracked lock.
    fn might_alloc_held(&self, cx: &Cx<'_>, site: &Location<'_>) {
        let mut st = self.st.lock();
        // The common case, a task holding no tracked lock, costs one lookup:
        // no formatting, no copying.
        let held: Vec<(LockId, String)> = match st.held.get(&cx.task.pid) {
            Some(h) if !h.is_empty() => h.clone(),
            _ => return,
        };
        let at = format!("{site}");
        for (lock, held_at) in held {
            st.held_across.entry(lock).or_insert_with(|| at.clone());
            if let Some(reclaim_at) = st.reclaim_takes.get(&lock).cloned() {
                self.report(&mut st, cx, lock, held_at, at.clone(), reclaim_at);
            }
        }
    }

    fn report(
        &self,
        st: &mut State,
        cx: &Cx<'_>,
        lock: LockId,
        held_at: String,
        alloc_at: String,
        reclaim_at: String,
    ) {
        if !st.reported.insert(lock) {
            return;
        }
        let name = st.names.get(lock.0).cloned().unwrap_or_default();
        let comm = cx.comm();
        let pid = cx.task.pid;
        let text = format!(
            "======================================================\n\
             WARNING: possible circular locking dependency detected\n\
             ------------------------------------------------------\n\
             {comm}/{pid} is trying to acquire lock:\n \
             (fs_reclaim){{+.+.}}-{{0:0}}, at: {alloc_at}\n\
             \n\
             but task is already holding lock:\n \
             ({name}){{+.+.}}-{{0:0}}, at: {held_at}\n\
             \n\
             which lock already depends on the new lock.\n\
             \n\
             the existing dependency chain (in reverse order) is:\n\
             -> #1 ({name}): taken in fs_reclaim at {reclaim_at}\n\
             -> #0 (fs_reclaim): allocation that may enter FS reclaim at {alloc_at}\n\
             \n\
             Possible unsafe locking scenario:\n\
             \n       CPU0\n       ----\n  lock({name});\n  lock(fs_reclaim);\n  lock({name});\n\
             \n *** DEADLOCK ***"
        );
        for l in text.lines() {
            cx.env.log(LogLevel::Warning, l);
        }
        st.reports.push(LockdepReport {
            pid,
            comm,
            lock: name,
            held_at,
            alloc_at,
            reclaim_at,
            text,
        });
        self.nr_reports
            .store(st.reports.len() as u64, Ordering::Relaxed);
    }

    /// How many reports there are (`reports().len()`, without copying
    /// them).
    pub fn report_count(&self) -> usize {
        self.nr_reports.load(Ordering::Relaxed) as usize
    }

    /// The reports so far.
    pub fn reports(&self) -> Vec<LockdepReport> {
        self.st.lock().reports.clone()
    }
}
