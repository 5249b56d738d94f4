//! Reclaim, shrinkers, the retry rules with real progress, the OOM killer,
//! memcg and the fs_reclaim recursion detector, through `Vm` as the slow
//! path's hooks. Each test fails if the behaviour it names were missing.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use gfp::context::{ScopeChange, TaskContext};
use gfp::{Gfp, TaskFlags};
use gfp_mm::env::{IoRequest, WaitEvent};
use gfp_mm::shrinker::{PageCacheShrinker, ShrinkControl, Shrinker};
use gfp_mm::{
    Cx, Environment, Event, LogLevel, Machine, NoProgress, Page, PageSpec, Task, VirtualEnv, Vm,
    VmConfig, MAX_RECLAIM_RETRIES,
};

/// A virtual-time environment that counts every blocking point and I/O.
#[derive(Default)]
struct Instrumented {
    inner: VirtualEnv,
    sleeps: AtomicU64,
    waits: AtomicU64,
    io: AtomicU64,
}

impl Environment for Instrumented {
    fn now_ns(&self) -> u64 {
        self.inner.now_ns()
    }
    fn sleep_ns(&self, ns: u64) {
        self.sleeps.fetch_add(1, Ordering::Relaxed);
        self.inner.sleep_ns(ns);
    }
    fn wait_for_event(&self, _event: WaitEvent, timeout_ns: u64) -> bool {
        self.waits.fetch_add(1, Ordering::Relaxed);
        self.inner.sleep_ns(timeout_ns);
        false
    }
    fn wake_kswapd(&self, nid: usize, order: u32, z: gfp::zone::ZoneType) {
        self.inner.wake_kswapd(nid, order, z);
    }
    fn start_io(&self, io: IoRequest) {
        self.io.fetch_add(io.pages, Ordering::Relaxed);
    }
    fn log(&self, level: LogLevel, line: &str) {
        self.inner.log(level, line);
    }
}

impl Instrumented {
    fn blocked(&self) -> u64 {
        self.sleeps.load(Ordering::Relaxed) + self.waits.load(Ordering::Relaxed)
    }
    fn io_pages(&self) -> u64 {
        self.io.load(Ordering::Relaxed)
    }
}

const PAGES: u32 = 4096;

fn setup(swap: u64) -> (Machine, Vm) {
    let m = machine(single_zone(PAGES));
    let vm = Vm::new(
        &m,
        VmConfig {
            swap_pages: swap,
            ..VmConfig::default()
        },
    );
    (m, vm)
}

/// No reclaim, no kswapd: fills memory without triggering the slow path's
/// steps.
const FILL: Gfp = Gfp::HIGHUSER_MOVABLE
    .difference(Gfp::DIRECT_RECLAIM)
    .difference(Gfp::KSWAPD_RECLAIM)
    .union(Gfp::NOWARN);

/// Fills memory with LRU pages of `spec` owned by `owner` until the
/// allocator refuses; returns how many.
fn fill(m: &Machine, vm: &Vm, cx: &Cx<'_>, owner: Option<u32>, spec: PageSpec) -> usize {
    let mut n = 0;
    while vm.add_page(m, cx, FILL, owner, spec).is_ok() {
        n += 1;
    }
    n
}

/// Fills the rest with unreclaimable kernel pages.
fn pin_rest(m: &Machine, cx: &Cx<'_>) -> Vec<Page> {
    let c = Cx {
        hooks: &NoProgress,
        ..*cx
    };
    exhaust(m, &c, Gfp::KERNEL)
}

fn scoped(change: ScopeChange) -> Task<'static> {
    let tc = TaskContext::new();
    tc.enter(change).unwrap();
    task().with_scope(tc.state())
}

#[test]
fn reclaim_drops_clean_file_pages_and_runs_with_pf_memalloc() {
    let (m, vm) = setup(0);
    let env = env();
    let c = Cx::new(0, task(), &env, &vm);
    let filled = fill(&m, &vm, &c, None, PageSpec::FILE_CLEAN);
    assert!(filled > 3500);
    // GFP_KERNEL past the fill: direct reclaim frees file pages.
    let mut got = Vec::new();
    for _ in 0..500 {
        got.push(
            vm.alloc_pages(&m, &c, Gfp::KERNEL, 0)
                .expect("reclaim frees clean file"),
        );
    }
    let s = vm.stats();
    assert!(s.pgsteal_direct >= 500, "{s:?}");
    assert_eq!(s.oom_calls, 0);
    assert!(m.event(Event::AllocStall) > 0);
}

#[test]
fn nofs_scope_keeps_fs_shrinkers_from_running() {
    let (m, vm) = setup(0);
    let env = env();
    let c = Cx::new(0, task(), &env, &vm);
    let sb = Arc::new(PageCacheShrinker::new("ext4-sb", true));
    for _ in 0..400 {
        sb.insert(
            m.alloc_pages(&c, Gfp::KERNEL | Gfp::RECLAIMABLE, 0)
                .unwrap(),
        );
    }
    vm.register_shrinker(sb.clone());
    let pinned = pin_rest(&m, &c);
    assert!(!pinned.is_empty());

    let nofs = Cx::new(
        0,
        scoped(ScopeChange::task(TaskFlags::MEMALLOC_NOFS)),
        &env,
        &vm,
    );
    let r = vm.alloc_pages(&m, &nofs, Gfp::KERNEL | Gfp::NORETRY | Gfp::NOWARN, 0);
    assert!(r.is_err(), "nothing but the FS cache was reclaimable");
    assert!(sb.scan_calls() > 0, "the shrinker was asked");
    assert_eq!(sb.freed(), 0, "but freed nothing without __GFP_FS");
    assert!(
        !sb.last_gfp().unwrap().contains(Gfp::FS),
        "it saw the scoped mask"
    );
    assert_eq!(sb.len(), 400);

    // Outside the scope the same request reclaims the cache.
    vm.alloc_pages(&m, &c, Gfp::KERNEL | Gfp::NORETRY, 0)
        .expect("FS shrinker frees pages");
    assert!(sb.freed() > 0);
    assert!(sb.last_gfp().unwrap().contains(Gfp::FS));
}

#[test]
fn private_file_data_needs_fs_and_dirty_pages_wait_for_writeback() {
    let (m, vm) = setup(0);
    let env = env();
    let c = Cx::new(0, task(), &env, &vm);
    let n_priv = 300;
    for _ in 0..n_priv {
        vm.add_page(&m, &c, FILL, None, PageSpec::FILE_PRIVATE)
            .unwrap();
    }
    let dirty = fill(&m, &vm, &c, None, PageSpec::FILE_DIRTY);
    assert!(dirty > 0);
    let nofs = Cx::new(
        0,
        scoped(ScopeChange::task(TaskFlags::MEMALLOC_NOFS)),
        &env,
        &vm,
    );
    // Direct reclaim writes no dirty page, and NOFS frees no private page.
    assert!(vm
        .alloc_pages(&m, &nofs, Gfp::KERNEL | Gfp::NORETRY | Gfp::NOWARN, 0)
        .is_err());
    let s = vm.stats();
    assert!(s.dirty_skipped > 0 && s.file_kept_nofs > 0, "{s:?}");
    assert_eq!(s.pgwriteback, 0, "direct reclaim does not write back");
    assert!(s.flusher_wakeups > 0, "it wakes the flusher instead");
    // With __GFP_FS the private pages go.
    vm.alloc_pages(&m, &c, Gfp::KERNEL | Gfp::NORETRY, 0)
        .unwrap();
    // kswapd writes dirty pages back and reclaims them.
    let _pinned = pin_rest(&m, &c);
    assert!(vm
        .alloc_pages(&m, &c, Gfp::NOWAIT | Gfp::NOWARN, 0)
        .is_err());
    assert!(vm.kswapd_pending(0), "the failed watermark woke kswapd");
    let k = Cx::new(0, Task::new().named("kswapd0"), &env, &vm);
    let got = vm.kswapd_run(&m, &k, 0);
    let s = vm.stats();
    assert!(s.pgwriteback > 0, "kswapd wrote back: {s:?}");
    assert!(got > 0 && s.pgsteal_kswapd > 0);
    assert!(vm.node_balanced(&m, 0, 0, gfp::zone::ZoneType::Movable));
}

#[test]
fn noio_scope_keeps_swap_io_from_starting() {
    let (m, vm) = setup(2048);
    let env = Instrumented::default();
    let pid = vm.spawn("anon", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    assert!(fill(&m, &vm, &c, Some(pid), PageSpec::ANON) > 3500);
    let noio = Cx::new(
        0,
        scoped(ScopeChange::task(TaskFlags::MEMALLOC_NOIO)).with_pid(pid),
        &env,
        &vm,
    );
    assert!(vm
        .alloc_pages(&m, &noio, Gfp::KERNEL | Gfp::NORETRY | Gfp::NOWARN, 0)
        .is_err());
    assert_eq!(env.io_pages(), 0, "no swap I/O under NOIO");
    assert_eq!(vm.swap_used(), 0);
    assert!(vm.stats().anon_kept_noio > 0);
    vm.alloc_pages(&m, &c, Gfp::KERNEL | Gfp::NORETRY, 0)
        .expect("swap-out frees anon pages");
    assert!(env.io_pages() > 0 && vm.swap_used() > 0);
    let p = vm.proc_info(pid).unwrap();
    assert_eq!(p.swapents, vm.swap_used());
}

#[test]
fn gfp_nowait_never_sleeps() {
    let (m, vm) = setup(2048);
    let env = Instrumented::default();
    let pid = vm.spawn("anon", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    fill(&m, &vm, &c, Some(pid), PageSpec::ANON);
    let before = env.blocked();
    let mut ok = 0;
    for _ in 0..200 {
        if vm.alloc_pages(&m, &c, Gfp::NOWAIT | Gfp::NOWARN, 0).is_ok() {
            ok += 1;
        }
    }
    assert!(ok < 200, "memory was short");
    assert_eq!(env.blocked(), before, "GFP_NOWAIT slept");
    assert_eq!(env.io_pages(), 0);
    assert!(vm.kswapd_pending(0), "but it woke kswapd");
    // GFP_KERNEL under the same pressure does block (swap latency).
    vm.alloc_pages(&m, &c, Gfp::KERNEL, 0).unwrap();
    assert!(env.blocked() > before);
}

#[test]
fn nofail_never_fails_at_99_percent_while_anything_is_reclaimable() {
    let (m, vm) = setup(0);
    let env = env();
    m.set_min_free_kbytes(128);
    let c = Cx::new(0, task(), &env, &vm);
    let file = fill(&m, &vm, &c, None, PageSpec::FILE_CLEAN);
    let used = m.total_pages() as i64 - m.nr_free_pages();
    assert!(used * 100 >= m.total_pages() as i64 * 99, "99% in use");
    let fails = m.event(Event::AllocFail);
    let mut held = Vec::new();
    for i in 0..file - 10 {
        let g = if i % 2 == 0 { Gfp::NOFS } else { Gfp::KERNEL };
        held.push(vm.alloc_pages(&m, &c, g | Gfp::NOFAIL, 0).unwrap());
    }
    assert_eq!(vm.stats().oom_kill, 0);
    assert_eq!(m.event(Event::AllocFail), fails);
}

#[test]
fn noretry_fails_fast_without_oom() {
    let (m, vm) = setup(0);
    let env = env();
    let pid = vm.spawn("hog", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    fill(&m, &vm, &c, Some(pid), PageSpec::ANON);
    let stalls = m.event(Event::AllocStall);
    assert!(vm
        .alloc_pages(&m, &c, Gfp::KERNEL | Gfp::NORETRY | Gfp::NOWARN, 0)
        .is_err());
    assert_eq!(
        m.event(Event::AllocStall) - stalls,
        1,
        "one reclaim attempt"
    );
    assert_eq!(m.event(Event::OomCall), 0);
    assert!(!vm.proc_info(pid).unwrap().oom_victim);
}

#[test]
fn retry_mayfail_retries_while_progress_then_fails_without_oom() {
    let (m, vm) = setup(0);
    let env = env();
    let pid = vm.spawn("hog", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    for _ in 0..200 {
        vm.add_page(&m, &c, FILL, None, PageSpec::FILE_CLEAN)
            .unwrap();
    }
    fill(&m, &vm, &c, Some(pid), PageSpec::ANON);
    let mut n = 0;
    while vm
        .alloc_pages(&m, &c, Gfp::KERNEL | Gfp::RETRY_MAYFAIL | Gfp::NOWARN, 0)
        .is_ok()
    {
        n += 1;
    }
    assert!(n >= 200, "served from the file pages it could reclaim: {n}");
    assert_eq!(m.event(Event::OomCall), 0, "never the OOM killer");
    assert_eq!(vm.stats().oom_kill, 0);
    assert!(!vm.proc_info(pid).unwrap().oom_victim);
    let _ = MAX_RECLAIM_RETRIES;
}

#[test]
fn oom_kills_the_largest_task_and_the_allocation_succeeds() {
    let (m, vm) = setup(0);
    let env = env();
    let small = vm.spawn("small", 0);
    let big = vm.spawn("big", 0);
    let mid = vm.spawn("mid", 0);
    let protected = vm.spawn("sshd", -1000);
    let cx_of = |pid| Cx::new(0, vm.task(pid), &env, &vm);
    for (pid, n) in [(small, 100), (big, 1500), (mid, 600), (protected, 1600)] {
        for _ in 0..n {
            vm.add_page(&m, &cx_of(pid), FILL, Some(pid), PageSpec::ANON)
                .unwrap();
        }
    }
    let c = Cx::new(0, task().with_pid(small), &env, &vm);
    let _pinned = pin_rest(&m, &c);
    let p = vm.alloc_pages(&m, &c, Gfp::KERNEL, 0);
    assert!(p.is_ok(), "the kill freed memory");
    assert!(
        vm.proc_info(big).unwrap().oom_victim,
        "the largest killable task"
    );
    assert!(!vm.proc_info(mid).unwrap().oom_victim);
    assert!(
        !vm.proc_info(protected).unwrap().oom_victim,
        "oom_score_adj -1000"
    );
    assert_eq!(vm.proc_info(big).unwrap().rss(), 0);
    let log = env.log_text();
    assert!(
        log.contains(
            "small invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"
        ),
        "{log}"
    );
    assert!(log.contains("Tasks state (memory values in pages):"));
    assert!(log.contains("[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name"));
    assert!(
        log.contains(&format!(
            "Out of memory: Killed process {big} (big) total-vm:6000kB, anon-rss:6000kB"
        )),
        "{log}"
    );
    assert_eq!(vm.stats().oom_kill, 1);
    assert!(vm.task(big).oom_victim, "the victim may use reserves");
}

#[test]
fn oom_score_adj_shifts_the_choice() {
    let (m, vm) = setup(0);
    let env = env();
    let big = vm.spawn("big", 0);
    let small = vm.spawn("batch", 1000);
    for (pid, n) in [(big, 2000), (small, 100)] {
        let c = Cx::new(0, vm.task(pid), &env, &vm);
        for _ in 0..n {
            vm.add_page(&m, &c, FILL, Some(pid), PageSpec::ANON)
                .unwrap();
        }
    }
    let c = Cx::new(0, task(), &env, &vm);
    let _pinned = pin_rest(&m, &c);
    vm.alloc_pages(&m, &c, Gfp::KERNEL, 0).unwrap();
    assert!(vm.proc_info(small).unwrap().oom_victim);
    assert!(!vm.proc_info(big).unwrap().oom_victim);
}

#[test]
fn no_oom_for_costly_orders_nofs_or_thisnode() {
    let (m, vm) = setup(0);
    let env = env();
    let pid = vm.spawn("hog", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    fill(&m, &vm, &c, Some(pid), PageSpec::ANON);
    assert!(vm
        .alloc_pages(&m, &c, Gfp::KERNEL | Gfp::NOWARN, 4)
        .is_err());
    assert!(vm
        .alloc_pages(&m, &c, Gfp::KERNEL | Gfp::THISNODE | Gfp::NOWARN, 0)
        .is_err());
    assert_eq!(vm.stats().oom_kill, 0);
    assert!(!vm.proc_info(pid).unwrap().oom_victim);
    // GFP_NOFS reaches out_of_memory(), which kills nothing without
    // __GFP_FS: with a NOFAIL-free request the slow path keeps retrying,
    // so check the decision through the hook directly.
    let oc = gfp_mm::hooks::OomControl {
        gfp: Gfp::NOFS,
        order: 0,
        nodemask: None,
        preferred_nid: 0,
    };
    use gfp_mm::SlowPathHooks;
    assert!(vm.out_of_memory(&m, &c, &oc), "pretends progress");
    assert_eq!(vm.stats().oom_kill, 0);
}

#[test]
fn memcg_limit_holds_and_oom_stays_inside_the_group() {
    let (m, vm) = setup(0);
    let env = env();
    let g = vm.memcg_create(gfp_mm::memcg::MemcgId::ROOT, "job");
    vm.memcg_set_max(g, 300);
    let outsider = vm.spawn("db", 0);
    let a1 = vm.spawn_in("worker1", 0, g);
    let a2 = vm.spawn_in("worker2", 0, g);
    let co = Cx::new(0, vm.task(outsider), &env, &vm);
    for _ in 0..2000 {
        vm.fault_anon(&m, &co, outsider).unwrap();
    }
    let c1 = Cx::new(0, vm.task(a1), &env, &vm);
    for _ in 0..250 {
        vm.fault_anon(&m, &c1, a1).unwrap();
    }
    assert_eq!(vm.memcg(g).unwrap().usage, 250);
    let c2 = Cx::new(0, vm.task(a2), &env, &vm);
    for _ in 0..200 {
        vm.fault_anon(&m, &c2, a2).unwrap();
        assert!(vm.memcg(g).unwrap().usage <= 300, "the limit holds");
    }
    assert!(
        vm.proc_info(a1).unwrap().oom_victim,
        "the group's largest task"
    );
    assert!(
        !vm.proc_info(outsider).unwrap().oom_victim,
        "outside the group"
    );
    assert_eq!(vm.proc_info(outsider).unwrap().rss(), 2000);
    let mc = vm.memcg(g).unwrap();
    assert_eq!(mc.events.oom_kill, 1);
    assert!(env
        .log_text()
        .contains("Memory cgroup out of memory: Killed process"));
    assert!(env.log_text().contains("oom_memcg=/job"));

    // Unaccounted kernel allocations are not limited; accounted ones are
    // charged and uncharged on free.
    let before = vm.memcg(g).unwrap().usage;
    let mut k = Vec::new();
    for _ in 0..200 {
        k.push(vm.alloc_pages(&m, &c2, Gfp::KERNEL, 0).unwrap());
    }
    assert_eq!(vm.memcg(g).unwrap().usage, before);
    let acc = vm.alloc_pages(&m, &c2, Gfp::KERNEL_ACCOUNT, 0).unwrap();
    assert_eq!(vm.memcg(g).unwrap().usage, before + 1);
    vm.free_pages(&m, &c2, acc, 0).unwrap();
    assert_eq!(vm.memcg(g).unwrap().usage, before);
    // A non-blocking accounted request at the limit fails instead.
    vm.memcg_set_max(g, before);
    assert!(vm
        .alloc_pages(&m, &c2, Gfp::NOWAIT | Gfp::ACCOUNT | Gfp::NOWARN, 0)
        .is_err());
}

/// A filesystem shrinker that takes the filesystem's lock.
struct LockingShrinker {
    /// Weak: the Vm owns its shrinkers, and a strong reference back would
    /// be a cycle that leaks both (LeakSanitizer reports it).
    vm: std::sync::Weak<Vm>,
    lock: gfp_mm::lockdep::LockId,
    cache: PageCacheShrinker,
}

impl Shrinker for LockingShrinker {
    fn name(&self) -> &str {
        "xfs-inodes"
    }
    fn count(&self, sc: &ShrinkControl) -> u64 {
        self.cache.count(sc)
    }
    fn scan(&self, m: &Machine, cx: &Cx<'_>, sc: &ShrinkControl) -> u64 {
        if !sc.gfp.contains(Gfp::FS) {
            return gfp_mm::shrinker::SHRINK_STOP;
        }
        let Some(vm) = self.vm.upgrade() else {
            return gfp_mm::shrinker::SHRINK_STOP;
        };
        vm.lockdep().lock(cx, self.lock);
        let r = self.cache.scan(m, cx, sc);
        vm.lockdep().unlock(cx, self.lock);
        r
    }
}

#[test]
fn lockdep_reports_fs_lock_then_gfp_kernel_and_is_quiet_for_nofs() {
    let m = machine(single_zone(PAGES));
    let vm = Arc::new(Vm::new(&m, VmConfig::default()));
    let env = env();
    let lock = vm.lockdep().register("&xfs_inode->i_lock");
    let s = Arc::new(LockingShrinker {
        vm: Arc::downgrade(&vm),
        lock,
        cache: PageCacheShrinker::new("xfs-inodes", true),
    });
    let reclaimer = Cx::new(0, task().with_pid(7), &env, &*vm);
    for _ in 0..300 {
        s.cache.insert(
            m.alloc_pages(&reclaimer, Gfp::KERNEL | Gfp::RECLAIMABLE, 0)
                .unwrap(),
        );
    }
    vm.register_shrinker(s.clone());
    let _pinned = pin_rest(&m, &reclaimer);
    // Reclaim runs the shrinker: lockdep learns fs_reclaim -> i_lock.
    vm.alloc_pages(&m, &reclaimer, Gfp::KERNEL, 0).unwrap();
    assert!(s.cache.freed() > 0);
    assert!(vm.lockdep().reports().is_empty());

    let c = Cx::new(0, task().named("writer").with_pid(9), &env, &*vm);
    vm.lockdep().lock(&c, lock);
    // Quiet: GFP_NOFS, __GFP_NOLOCKDEP, and GFP_KERNEL inside a NOFS scope.
    let _ = vm.alloc_pages(&m, &c, Gfp::NOFS | Gfp::NOWARN | Gfp::NORETRY, 0);
    let _ = vm.alloc_pages(
        &m,
        &c,
        Gfp::KERNEL | Gfp::NOLOCKDEP | Gfp::NOWARN | Gfp::NORETRY,
        0,
    );
    let scoped_c = Cx {
        task: scoped(ScopeChange::task(TaskFlags::MEMALLOC_NOFS)).with_pid(9),
        ..c
    };
    let _ = vm.alloc_pages(&m, &scoped_c, Gfp::KERNEL | Gfp::NOWARN | Gfp::NORETRY, 0);
    assert!(
        vm.lockdep().reports().is_empty(),
        "{:?}",
        vm.lockdep().reports()
    );
    // The bug: GFP_KERNEL under the lock reclaim takes.
    let line = line!() + 1;
    let _ = vm.alloc_pages(&m, &c, Gfp::KERNEL | Gfp::NOWARN | Gfp::NORETRY, 0);
    vm.lockdep().unlock(&c, lock);
    let r = vm.lockdep().reports();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].pid, 9);
    assert_eq!(r[0].lock, "&xfs_inode->i_lock");
    assert!(
        r[0].alloc_at.contains(&format!("tests/reclaim.rs:{line}:")),
        "{}",
        r[0].alloc_at
    );
    assert!(r[0].reclaim_at.contains("tests/reclaim.rs"));
    let log = env.log_text();
    assert!(log.contains("WARNING: possible circular locking dependency detected"));
    assert!(log.contains("writer/9 is trying to acquire lock:"));
    assert!(log.contains("(fs_reclaim)"));
}

#[test]
fn compaction_migrates_movable_pages_to_form_high_order_blocks() {
    let (m, vm) = setup(0);
    let env = env();
    let pid = vm.spawn("app", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    let mut pages = Vec::new();
    while let Ok(p) = vm.add_page(&m, &c, FILL, Some(pid), PageSpec::ANON) {
        pages.push(p);
    }
    // Take what is left, reserves included, then free every other LRU
    // page: much memory free, nothing above order 0.
    let _rest = exhaust(
        &m,
        &Cx {
            hooks: &NoProgress,
            ..c
        },
        Gfp::KERNEL | Gfp::MEMALLOC,
    );
    for p in pages.iter().filter(|p| p.pfn() % 2 == 1) {
        assert!(vm.remove_page(&m, &c, *p));
    }
    m.drain_all_pages();
    let lru_before: u64 = vm.lru_sizes(0).iter().sum();
    let nc = Cx {
        hooks: &NoProgress,
        ..c
    };
    assert!(
        m.alloc_pages(&nc, Gfp::KERNEL | Gfp::NOWARN, 3).is_err(),
        "fragmented: no order-3 block without compaction"
    );
    let p = vm
        .alloc_pages(&m, &c, Gfp::KERNEL, 3)
        .expect("compaction formed a block");
    assert_eq!(m.compound_order(p), 0);
    let s = vm.stats();
    assert!(s.pgmigrate_success >= 4 && s.compact_success >= 1, "{s:?}");
    assert_eq!(
        s.pgsteal_direct, 0,
        "nothing was reclaimable: compaction did it"
    );
    assert_eq!(
        vm.lru_sizes(0).iter().sum::<u64>(),
        lru_before,
        "no page lost"
    );
    assert_eq!(vm.proc_info(pid).unwrap().rss_anon, lru_before);
}

#[test]
fn should_compact_retry_follows_6_12() {
    use gfp_mm::compaction::should_compact_retry;
    use gfp_mm::hooks::{CompactPriority as P, CompactResult as R};
    let (mut prio, mut n) = (P::Async, 0);
    assert!(!should_compact_retry(0, R::Complete, &mut prio, &mut n));
    assert!(should_compact_retry(2, R::Complete, &mut prio, &mut n));
    assert_eq!(prio, P::SyncLight);
    assert!(should_compact_retry(2, R::Complete, &mut prio, &mut n));
    assert_eq!(prio, P::SyncFull);
    assert!(
        !should_compact_retry(2, R::Complete, &mut prio, &mut n),
        "highest effort failed"
    );
    // Costly orders stop at sync light.
    let (mut prio, mut n) = (P::SyncLight, 0);
    assert!(!should_compact_retry(9, R::Complete, &mut prio, &mut n));
    // Withdrawn runs do not retry; successes do, a bounded number of times.
    assert!(!should_compact_retry(2, R::Skipped, &mut prio, &mut n));
    let (mut prio, mut n) = (P::SyncFull, 0);
    let mut k = 0;
    while should_compact_retry(2, R::Success, &mut prio, &mut n) {
        k += 1;
    }
    assert_eq!(k, gfp_mm::compaction::MAX_COMPACT_RETRIES);
}

#[test]
fn kswapd_thread_reclaims_to_the_high_watermark() {
    let m = Arc::new(machine(single_zone(PAGES)));
    let vm = Arc::new(Vm::new(&m, VmConfig::default()));
    let env = Arc::new(VirtualEnv::new());
    let c = Cx::new(0, task(), &*env, &*vm);
    fill(&m, &vm, &c, None, PageSpec::FILE_CLEAN);
    assert!(!vm.node_balanced(&m, 0, 0, gfp::zone::ZoneType::Normal));
    let threads = gfp_mm::kswapd::spawn_kswapd(vm.clone(), m.clone(), env.clone());
    // A GFP_NOWAIT request below the low watermark wakes it.
    let _ = vm.alloc_pages(&m, &c, Gfp::NOWAIT | Gfp::NOWARN, 0);
    let t0 = std::time::Instant::now();
    while !vm.node_balanced(&m, 0, 0, gfp::zone::ZoneType::Normal) {
        assert!(
            t0.elapsed().as_secs() < 20,
            "kswapd did not balance the node"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let reclaimed: u64 = threads.into_iter().map(|t| t.stop()).sum();
    assert!(reclaimed > 0);
    assert_eq!(vm.stats().pgsteal_kswapd, reclaimed);
    assert_eq!(vm.stats().pgsteal_direct, 0, "no direct reclaim was needed");
}

#[test]
fn reclaim_benchmarks_produce_rows() {
    let r = gfp_mm::vmbench::bench_reclaim(2048);
    assert_eq!(r.len(), 2);
    assert!(
        r.iter().all(|row| row.pages > 0 && row.pages_per_sec > 0.0),
        "{r:?}"
    );
    let l = gfp_mm::vmbench::bench_latency(2048, 500);
    assert_eq!(l[0].gfp, "GFP_KERNEL");
    assert_eq!(l[0].succeeded, 500, "GFP_KERNEL reclaims: {l:?}");
    assert!(
        l[1].succeeded < 500,
        "GFP_NOWAIT fails under pressure: {l:?}"
    );
    assert!(l.iter().all(|x| x.p50_ns <= x.p99_ns));
    eprintln!("{r:?}\n{l:?}");
}

#[test]
fn lockdep_declared_dependency_and_reverse_order() {
    let m = machine(single_zone(PAGES));
    let vm = Vm::new(&m, VmConfig::default());
    let env = env();
    // Declared: the inode shrinker takes sb->s_umount.
    let umount = vm.lockdep().register("&type->s_umount_key");
    vm.lockdep()
        .taken_in_fs_reclaim(umount, "fs/super.c:super_cache_scan");
    let c = Cx::new(0, task().named("mount").with_pid(3), &env, &vm);
    vm.lockdep().lock(&c, umount);
    let _p = vm.alloc_pages(&m, &c, Gfp::KERNEL, 0).unwrap();
    vm.lockdep().unlock(&c, umount);
    let r = vm.lockdep().reports();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].reclaim_at, "fs/super.c:super_cache_scan");
    // Reverse order: first a GFP_KERNEL allocation under a lock, later
    // reclaim takes the same lock.
    // The shrinker refers back to its Vm weakly: the Vm owns it.
    struct Taker(std::sync::Weak<Vm>, gfp_mm::lockdep::LockId);
    impl Shrinker for Taker {
        fn name(&self) -> &str {
            "taker"
        }
        fn count(&self, _sc: &ShrinkControl) -> u64 {
            1
        }
        fn scan(&self, _m: &Machine, cx: &Cx<'_>, _sc: &ShrinkControl) -> u64 {
            if let Some(vm) = self.0.upgrade() {
                vm.lockdep().lock(cx, self.1);
                vm.lockdep().unlock(cx, self.1);
            }
            0
        }
    }
    let vm = Arc::new(Vm::new(&m, VmConfig::default()));
    let l = vm.lockdep().register("&ei->i_data_sem");
    let c = Cx { hooks: &*vm, ..c };
    vm.lockdep().lock(&c, l);
    let _q = vm.alloc_pages(&m, &c, Gfp::KERNEL, 0).unwrap();
    vm.lockdep().unlock(&c, l);
    assert!(vm.lockdep().reports().is_empty(), "no cycle yet");
    // A task in FS reclaim (a shrinker) takes it: the cycle closes.
    vm.register_shrinker(Arc::new(Taker(Arc::downgrade(&vm), l)));
    let reclaim = Cx::new(0, task().named("reclaimer").with_pid(4), &env, &*vm);
    let req = gfp_mm::hooks::ReclaimRequest {
        gfp: Gfp::KERNEL,
        order: 0,
        preferred_nid: 0,
        nodemask: None,
        highest_zone: gfp::zone::ZoneType::Normal,
    };
    vm.try_to_free_pages(&m, &reclaim, &req);
    let r = vm.lockdep().reports();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].lock, "&ei->i_data_sem");
    assert!(r[0].alloc_at.contains("tests/reclaim.rs"));
}

#[test]
fn memcg_high_reclaims_the_excess_without_oom() {
    let (m, vm) = setup(1024);
    let env = env();
    let g = vm.memcg_create(gfp_mm::memcg::MemcgId::ROOT, "batch");
    vm.memcg_set_high(g, 100);
    let pid = vm.spawn_in("batch", 0, g);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    for _ in 0..300 {
        vm.fault_anon(&m, &c, pid).unwrap();
        assert!(vm.memcg(g).unwrap().usage <= 101, "held at memory.high");
    }
    let mc = vm.memcg(g).unwrap();
    assert!(mc.events.high > 0);
    assert_eq!(mc.events.oom, 0);
    assert!(vm.swap_used() >= 199, "the excess went to swap");
    assert_eq!(vm.proc_info(pid).unwrap().swapents, vm.swap_used());
}

/// Direct reclaim leaves dirty file pages to writeback: with only dirty
/// pages reclaimable, a light allocation fails; once the flusher thread has
/// written them back, reclaim drops them and the allocation succeeds.
#[test]
fn flusher_thread_writes_back_what_direct_reclaim_skips() {
    let m = Arc::new(machine(single_zone(PAGES)));
    let vm = Arc::new(Vm::new(&m, VmConfig::default()));
    let env = Arc::new(VirtualEnv::new());
    let c = Cx::new(0, task(), &*env, &*vm);
    assert!(fill(&m, &vm, &c, None, PageSpec::FILE_DIRTY) > 0);
    let light = (Gfp::KERNEL | Gfp::NORETRY | Gfp::NOWARN) - Gfp::KSWAPD_RECLAIM;
    assert!(
        vm.alloc_pages(&m, &c, light, 0).is_err(),
        "dirty pages are not reclaimable directly"
    );
    assert!(vm.stats().dirty_skipped > 0);
    assert_eq!(vm.stats().pgwriteback, 0);
    let flusher = gfp_mm::kswapd::spawn_flusher(
        vm.clone(),
        m.clone(),
        env.clone(),
        std::time::Duration::from_millis(1),
        1024,
    );
    let t0 = std::time::Instant::now();
    while vm.stats().pgwriteback == 0 {
        assert!(t0.elapsed().as_secs() < 20, "the flusher wrote nothing");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let written = flusher.stop();
    assert!(written > 0);
    assert_eq!(vm.stats().pgwriteback, written);
    let p = vm.alloc_pages(&m, &c, light, 0);
    assert!(p.is_ok(), "written-back pages are clean and reclaimable");
    assert!(vm.stats().pgsteal_direct > 0);
    assert_eq!(vm.stats().oom_kill, 0);
}

/// An environment whose devices fail every write.
#[derive(Default)]
struct FailingDevices {
    inner: Instrumented,
}

impl Environment for FailingDevices {
    fn now_ns(&self) -> u64 {
        self.inner.now_ns()
    }
    fn sleep_ns(&self, ns: u64) {
        self.inner.sleep_ns(ns);
    }
    fn wake_kswapd(&self, nid: usize, order: u32, z: gfp::zone::ZoneType) {
        self.inner.wake_kswapd(nid, order, z);
    }
    fn start_io(&self, io: IoRequest) {
        self.inner.start_io(io);
    }
    fn swap_write_fails(&self, _nid: usize) -> bool {
        true
    }
    fn writeback_fails(&self, _nid: usize) -> bool {
        true
    }
    fn log(&self, level: LogLevel, line: &str) {
        self.inner.log(level, line);
    }
}

#[test]
fn failed_swap_writes_leave_the_pages_in_memory() {
    let (m, vm) = setup(2048);
    let env = FailingDevices::default();
    let pid = vm.spawn("anon", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    let filled = fill(&m, &vm, &c, Some(pid), PageSpec::ANON) as u64;
    assert!(vm
        .alloc_pages(&m, &c, Gfp::KERNEL | Gfp::NORETRY | Gfp::NOWARN, 0)
        .is_err());
    let s = vm.stats();
    // Every write was tried (the device's latency paid) and failed: no
    // page left, no swap slot used, the owner's RSS intact.
    assert!(s.swap_write_errors > 0, "{s:?}");
    assert!(env.inner.io_pages() >= s.swap_write_errors);
    assert_eq!((s.pswpout, s.pgsteal_direct, vm.swap_used()), (0, 0, 0));
    assert_eq!(vm.proc_info(pid).unwrap().rss_anon, filled);
    // The same pressure with a working device swaps out.
    let (m, vm) = setup(2048);
    let env = Instrumented::default();
    let pid = vm.spawn("anon", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    fill(&m, &vm, &c, Some(pid), PageSpec::ANON);
    vm.alloc_pages(&m, &c, Gfp::KERNEL | Gfp::NORETRY, 0)
        .expect("swap-out frees anon pages");
    assert!(vm.stats().pswpout > 0 && vm.stats().swap_write_errors == 0);
}

#[test]
fn failed_writeback_cleans_the_page_and_counts_the_error() {
    let (m, vm) = setup(0);
    let env = FailingDevices::default();
    let c = Cx::new(0, task(), &env, &vm);
    fill(&m, &vm, &c, None, PageSpec::FILE_DIRTY);
    let _pinned = pin_rest(&m, &c);
    assert!(vm
        .alloc_pages(&m, &c, Gfp::NOWAIT | Gfp::NOWARN, 0)
        .is_err());
    let k = Cx::new(0, Task::new().named("kswapd0"), &env, &vm);
    let got = vm.kswapd_run(&m, &k, 0);
    let s = vm.stats();
    // The kernel does not redirty after a writeback error: the pages are
    // clean and reclaim drops them; the mapping keeps the error.
    assert!(
        s.writeback_errors > 0 && s.writeback_errors == s.pgwriteback,
        "{s:?}"
    );
    assert!(got > 0, "{s:?}");
}

/// A shrinker that unwinds out of reclaim, as a simulator's wait does.
struct Unwinds;

impl Shrinker for Unwinds {
    fn name(&self) -> &str {
        "unwinds"
    }
    fn count(&self, _sc: &ShrinkControl) -> u64 {
        1
    }
    fn scan(&self, _m: &Machine, _cx: &Cx<'_>, _sc: &ShrinkControl) -> u64 {
        std::panic::resume_unwind(Box::new(()));
    }
}

#[test]
fn unwinding_out_of_reclaim_leaves_no_charge_and_no_fs_reclaim_section() {
    let (m, vm) = setup(0);
    let env = env();
    let mc = vm.memcg_create(gfp_mm::memcg::MemcgId::ROOT, "box");
    vm.memcg_set_max(mc, 1 << 20);
    let pid = vm.spawn_in("t", 0, mc);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    fill(&m, &vm, &c, None, PageSpec::FILE_CLEAN);
    let usage = |vm: &Vm| vm.memcg(mc).unwrap().usage;
    let before = usage(&vm);
    vm.register_shrinker(Arc::new(Unwinds));
    let lock = vm.lockdep().register("l");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        vm.alloc_pages(&m, &c, Gfp::KERNEL_ACCOUNT, 0)
    }));
    assert!(r.is_err(), "the shrinker ran and unwound");
    assert_eq!(usage(&vm), before, "the charge was given back");
    // Outside reclaim again: taking a lock records no fs_reclaim dependency,
    // so holding it across a GFP_KERNEL allocation is no recursion.
    let plain = Cx::new(0, task().with_pid(99), &env, &NoProgress);
    vm.lockdep().lock(&c, lock);
    vm.lockdep().unlock(&c, lock);
    vm.lockdep().lock(&plain, lock);
    vm.lockdep()
        .might_alloc(&plain, Gfp::KERNEL, core::panic::Location::caller());
    assert!(vm.lockdep().reports().is_empty());
}

/// The first attempt never blocks and, when it gives up, leaves nothing
/// behind: it serves what the fast path and the low watermark allow, and
/// answers `None` (no charge kept, no page taken, no blocking point, no
/// event but the same first attempt the full call then makes) where the
/// full call would charge over a limit, reclaim over `memory.high`, or
/// enter the slow path.
#[test]
fn first_attempt_serves_the_fast_path_and_leaves_the_rest_untouched() {
    let (m, vm) = setup(1024);
    let env = Instrumented::default();
    let g = vm.memcg_create(gfp_mm::memcg::MemcgId::ROOT, "job");
    let pid = vm.spawn_in("job", 0, g);
    let c = Cx::new(0, vm.task(pid), &env, &vm);

    // Plenty of memory: served, and charged like the full call.
    let p = vm
        .alloc_pages_first_attempt(&m, &c, None, Gfp::KERNEL_ACCOUNT, 0)
        .expect("served without blocking")
        .expect("a page");
    assert_eq!(vm.memcg(g).unwrap().usage, 1);
    vm.free_pages(&m, &c, p, 0).unwrap();
    assert_eq!(vm.memcg(g).unwrap().usage, 0);
    // A preferred node and a higher order go through the general path.
    let p = vm
        .alloc_pages_first_attempt(&m, &c, Some(0), Gfp::KERNEL, 4)
        .expect("served")
        .expect("a page");
    vm.free_pages(&m, &c, p, 4).unwrap();
    // Invalid requests fail at once, as the full call would.
    assert!(matches!(
        vm.alloc_pages_first_attempt(&m, &c, Some(7), Gfp::KERNEL, 0),
        Some(Err(gfp_mm::AllocError::NoSuchNode(7)))
    ));

    // Over memory.max: the full call would reclaim; nothing is charged.
    vm.memcg_set_max(g, 0);
    assert!(vm
        .alloc_pages_first_attempt(&m, &c, None, Gfp::KERNEL_ACCOUNT, 0)
        .is_none());
    assert_eq!(vm.memcg(g).unwrap().usage, 0);
    assert_eq!(vm.memcg(g).unwrap().events.max, 0);
    // Over memory.high with direct reclaim: the charge is given back...
    vm.memcg_set_max(g, u64::MAX);
    vm.memcg_set_high(g, 0);
    assert!(vm
        .alloc_pages_first_attempt(&m, &c, None, Gfp::KERNEL_ACCOUNT, 0)
        .is_none());
    assert_eq!(vm.memcg(g).unwrap().usage, 0);
    assert_eq!(vm.memcg(g).unwrap().events.high, 0);
    // ...while a request that cannot reclaim is charged over high, as the
    // full call would charge it.
    let p = vm
        .alloc_pages_first_attempt(&m, &c, None, Gfp::NOWAIT | Gfp::ACCOUNT, 0)
        .expect("no reclaim to do")
        .expect("a page");
    assert_eq!(vm.memcg(g).unwrap().usage, 1);
    vm.free_pages(&m, &c, p, 0).unwrap();

    // Memory below the low watermark: the full call would enter the slow
    // path. The first attempt takes nothing and wakes nobody.
    let nc = Cx::new(0, task(), &env, &NoProgress);
    let pinned = exhaust(&m, &nc, FILL);
    let free = m.nr_free_pages();
    let slow = m.event(Event::AllocSlowpath);
    assert!(vm
        .alloc_pages_first_attempt(&m, &nc, None, Gfp::KERNEL, 0)
        .is_none());
    assert_eq!(m.nr_free_pages(), free);
    assert_eq!(m.event(Event::AllocSlowpath), slow);
    assert_eq!(env.blocked(), 0, "the first attempt never blocks");
    // The full call then does enter the slow path.
    let _ = vm.alloc_pages(&m, &nc, Gfp::KERNEL | Gfp::NOWARN, 0);
    assert_eq!(m.event(Event::AllocSlowpath), slow + 1);
    drop(pinned);
}
