//! Reclaim that really runs the filesystem's and the block layer's paths:
//! the shrinker and reclaim's I/O take the `fs-reclaim` and `io-reclaim`
//! locks through the simulator's lock model, so a lock the caller holds is
//! a real self-deadlock, another task's makes the reclaimer wait, and a
//! cycle through such a wait is a deadlock even where lockdep's
//! `fs_reclaim` check has nothing to say.

mod common;

use common::*;

use gfp_sim::sim::Outcome;
use gfp_sim::Rule;

/// B allocates under pressure while A holds the filesystem's lock: B's
/// reclaim waits for it, and B's allocation completes once A lets go.
#[test]
fn reclaim_waits_for_a_lock_another_task_holds() {
    let body = "fill file-clean\nlock inode sleeping fs-reclaim\n\
        task a\n  lock inode\n  sleep 500000\n  unlock inode\nend\n\
        task b\n  sleep 1000\n  alloc p GFP_KERNEL\n  sleep 1000000\n  free p\nend\n";
    for seed in 1..=8 {
        let r = run(body, seed);
        assert!(r.clean(), "{}", r.text());
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
        // B's allocation could not finish before A unlocked at 500 µs;
        // then B sleeps 1 ms.
        assert!(r.time_ns >= 1_500_000, "{}", r.text());
        assert_eq!(r.tasks[1].allocations, 1, "a restart counts once");
    }
    // With GFP_NOFS B's reclaim never enters the filesystem: no wait, B
    // is done about 1 ms after it started.
    let r = run(&body.replace("GFP_KERNEL", "GFP_NOFS"), 1);
    assert!(r.clean(), "{}", r.text());
    assert!(r.time_ns < 1_500_000, "{}", r.text());
}

/// A holds the filesystem's lock and wants B's lock; B holds its lock and
/// allocates with GFP_KERNEL under pressure: B's reclaim waits for A's
/// lock. Nobody holds an fs-reclaim lock across an allocation, so lockdep's
/// check is silent; the wait-for cycle runs through reclaim.
#[test]
fn cycle_through_reclaim_is_a_deadlock() {
    let body = "fill file-clean\nlock inode sleeping fs-reclaim\nlock x sleeping\n\
        task a\n  lock inode\n  sleep 100000\n  lock x\n  unlock x\n  unlock inode\nend\n\
        task b\n  lock x\n  sleep 1000\n  alloc p GFP_KERNEL\n  unlock x\n  free p\nend\n";
    for seed in 1..=8 {
        let r = run(body, seed);
        assert_eq!(rules(&r), [Rule::Deadlock], "{}", r.text());
        let m = &r.findings[0].message;
        assert!(m.contains("wait-for cycle"), "{m}");
        assert!(m.contains("in reclaim's call into the filesystem"), "{m}");
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Stuck));
    }
    // B allocating with GFP_NOFS breaks the cycle.
    for seed in 1..=8 {
        let r = run(&body.replace("GFP_KERNEL", "GFP_NOFS"), seed);
        assert!(r.clean(), "{}", r.text());
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
    }
}

/// Swap-out under the block layer's request-queue lock: reclaim submits
/// I/O, the submission takes the lock the caller holds.
#[test]
fn io_reclaim_under_the_queue_lock_deadlocks() {
    let body = "fill anon\nlock queue sleeping io-reclaim\n\
        task a\n  lock queue\n  alloc rq GFP_KERNEL\n  unlock queue\n  free rq\nend\n";
    for seed in 1..=4 {
        let r = run(body, seed);
        assert_eq!(
            rules(&r),
            [Rule::ReclaimRecursion, Rule::Deadlock],
            "{}",
            r.text()
        );
        assert!(r.findings[1].message.contains("I/O submission"));
        assert_eq!(r.tasks[0].outcome, Outcome::Stuck);
    }
    // The same allocation outside the queue lock: reclaim's submission
    // takes it and goes on.
    let r = run(
        &body.replace(
            "  lock queue\n  alloc rq GFP_KERNEL\n  unlock queue\n",
            "  alloc rq GFP_KERNEL\n",
        ),
        1,
    );
    assert!(r.clean(), "{}", r.text());
    assert_eq!(r.tasks[0].outcome, Outcome::Completed);
}

/// `io` takes the request-queue lock: a task that already holds it waits
/// for itself.
#[test]
fn io_under_the_queue_lock_deadlocks() {
    let body = "lock queue sleeping io-reclaim\ntask a\n  lock queue\n  io\n  unlock queue\nend\n";
    let r = run(body, 1);
    assert_eq!(rules(&r), [Rule::Deadlock], "{}", r.text());
    let r = run(
        &body.replace("  lock queue\n  io\n", "  io\n  lock queue\n"),
        1,
    );
    assert!(r.clean(), "{}", r.text());
}

/// Memory full of the filesystem's inode and dentry caches: direct reclaim
/// with `__GFP_FS` gets pages back through the filesystem's shrinker; in a
/// NOFS scope the same allocation's own reclaim cannot touch them (only
/// kswapd, which reclaims with GFP_KERNEL, can).
#[test]
fn fs_caches_are_reclaimable_only_with_gfp_fs() {
    let body = "machine pages=4096\nswap 0\nfill fs-cache\n\
        task a\n  alloc p GFP_KERNEL\n  free p\nend\n";
    let nofs = body.replace(
        "  alloc p GFP_KERNEL\n",
        "  scope nofs\n    alloc p GFP_KERNEL\n  end\n",
    );
    for seed in 1..=4 {
        let r = run(body, seed);
        assert!(r.clean(), "{}", r.text());
        assert_eq!(r.tasks[0].outcome, Outcome::Completed, "{}", r.text());
        // The caches are slab, not LRU: pgsteal_* does not count them
        // (shrink_slab()'s pages are in slabs_scanned, as in the kernel).
        assert!(r.fs_cache_freed > 0, "{}", r.text());
        assert_eq!(r.pgsteal_direct, 0, "{}", r.text());
        let r = run(&nofs, seed);
        assert!(r.clean(), "{}", r.text());
        assert_eq!(r.pgsteal_direct, 0, "{}", r.text());
        // kswapd freed the caches the NOFS allocation waited for.
        assert!(r.fs_cache_freed > 0, "{}", r.text());
        assert_eq!(r.tasks[0].outcome, Outcome::Completed, "{}", r.text());
    }
}
