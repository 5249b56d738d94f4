//! Every built-in scenario, run: the expected detectors fire, the clean
//! counterparts stay clean, and reports are deterministic.

use gfp_sim::builtin::BUILTIN;
use gfp_sim::sim::Outcome;
use gfp_sim::{run_text, Report, Rule};

fn report(name: &str, seed: u64) -> Report {
    let text = gfp_sim::builtin::get(name).expect("builtin");
    run_text(text, seed).expect("runs")
}

fn rules(r: &Report) -> Vec<Rule> {
    let mut v: Vec<Rule> = r.findings.iter().map(|f| f.rule).collect();
    v.dedup();
    v
}

#[test]
fn every_builtin_parses_and_prints_back() {
    for (name, text) in BUILTIN {
        let s = gfp_sim::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.name.as_deref(), Some(*name), "name line matches file");
        assert_eq!(gfp_sim::parse(&gfp_sim::print(&s)).unwrap(), s);
    }
}

#[test]
fn bcachefs_scoped_nowait_is_caught_on_every_seed() {
    for seed in 1..=16 {
        let r = report("bcachefs-scoped-nowait", seed);
        assert_eq!(
            rules(&r),
            [Rule::NofailFailed, Rule::UnhandledFailure],
            "{}",
            r.text()
        );
        let f = &r.findings[0];
        assert!(f.at.contains("btree_node_alloc()"), "{}", f.at);
        assert!(
            f.message.contains("removed __GFP_DIRECT_RECLAIM"),
            "{}",
            f.message
        );
        assert_eq!(r.tasks[0].outcome, Outcome::Aborted);
    }
}

#[test]
fn bcachefs_explicit_nowait_runs_clean_and_takes_the_retry_path() {
    for seed in 1..=16 {
        let r = report("bcachefs-explicit-nowait", seed);
        assert!(r.clean(), "{}", r.text());
        let t = &r.tasks[0];
        assert_eq!(t.outcome, Outcome::Completed);
        // GFP_NOWAIT failed under the lock, the GFP_KERNEL retry and the
        // nested NOFAIL allocation succeeded.
        assert_eq!((t.allocations, t.failures), (3, 1), "{}", r.text());
    }
}

#[test]
fn sleep_in_atomic_builtin() {
    let r = report("scoped-reclaim-in-atomic", 1);
    assert_eq!(rules(&r), [Rule::SleepInAtomic], "{}", r.text());
    assert!(r.findings[0].message.contains("holding spinlock queue"));
}

#[test]
fn fs_recursion_needs_nofs() {
    for seed in 1..=8 {
        // Reclaim calls into the filesystem, which takes the inode lock the
        // writer holds: lockdep's warning, then the real deadlock.
        let r = report("fs-reclaim-recursion", seed);
        assert_eq!(
            rules(&r),
            [Rule::ReclaimRecursion, Rule::Deadlock],
            "{}",
            r.text()
        );
        assert!(r.findings[1].message.contains("waits for itself"));
        assert_eq!(r.tasks[0].outcome, Outcome::Stuck);
        let r = report("fs-reclaim-nofs", seed);
        assert!(r.clean(), "{}", r.text());
        assert_eq!(r.tasks[0].outcome, Outcome::Completed);
    }
}

#[test]
fn swap_over_nfs_needs_pf_memalloc() {
    let r = report("swap-over-nfs", 1);
    assert_eq!(rules(&r), [Rule::UnhandledFailure], "{}", r.text());
    let r = report("swap-over-nfs-memalloc", 1);
    assert!(r.clean(), "{}", r.text());
    assert_eq!(r.tasks[0].failures, 0);
}

#[test]
fn same_seed_same_report_text() {
    for (name, _) in BUILTIN {
        for seed in [0, 1, 7, u64::MAX] {
            let a = report(name, seed);
            let b = report(name, seed);
            assert_eq!(a.text(), b.text(), "{name} seed {seed}");
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                serde_json::to_string(&b).unwrap()
            );
        }
    }
}

#[test]
fn fs_reclaim_cycle_deadlocks_through_reclaim_on_every_seed() {
    for seed in 1..=16 {
        let r = report("fs-reclaim-cycle", seed);
        assert_eq!(rules(&r), [Rule::Deadlock], "{}", r.text());
        let m = &r.findings[0].message;
        assert!(m.contains("wait-for cycle"), "{m}");
        assert!(
            m.contains("trimmer (in reclaim's call into the filesystem (its shrinker)) waits for inode held by journal"),
            "{m}"
        );
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Stuck));
        // GFP_NOFS keeps reclaim out of the filesystem.
        let text = gfp_sim::builtin::get("fs-reclaim-cycle")
            .unwrap()
            .replace("alloc entry GFP_KERNEL", "alloc entry GFP_NOFS");
        let r = run_text(&text, seed).unwrap();
        assert!(r.clean(), "{}", r.text());
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
    }
}

#[test]
fn softirq_spinlock_is_unsafe_on_every_seed_and_deadlocks_on_some() {
    let mut deadlocks = 0;
    for seed in 1..=16 {
        let r = report("softirq-spinlock", seed);
        match rules(&r).as_slice() {
            [Rule::IrqUnsafeLock, Rule::Deadlock] => {
                deadlocks += 1;
                assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Stuck));
            }
            [Rule::IrqUnsafeLock] => {
                assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
            }
            other => panic!("{other:?}\n{}", r.text()),
        }
        let r = report("softirq-spinlock-bh", seed);
        assert!(r.clean(), "{}", r.text());
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
    }
    assert!((1..16).contains(&deadlocks), "{deadlocks} of 16 seeds");
}

#[test]
fn swap_over_nfs_irq_borrows_the_interrupted_tasks_pf_memalloc() {
    for seed in 1..=16 {
        let r = report("swap-over-nfs-irq", seed);
        assert!(r.clean(), "{}", r.text());
        assert_eq!(r.tasks[1].failures, 0);
    }
}

#[test]
fn swap_write_errors_leave_reclaim_without_progress() {
    for seed in 1..=8 {
        let r = report("swap-write-errors", seed);
        assert_eq!(rules(&r), [Rule::UnhandledFailure], "{}", r.text());
        assert!(r.swap_write_errors > 0);
        assert_eq!(r.pgsteal_direct + r.pgsteal_kswapd, 0, "{}", r.text());
        let r = report("swap-write-errors-flaky", seed);
        assert!(r.clean(), "{}", r.text());
        assert!(
            r.swap_write_errors > 0 && r.pgsteal_direct > 0,
            "{}",
            r.text()
        );
    }
    // The flaky device's failures follow the seed.
    let counts: Vec<u64> = (1..=8)
        .map(|s| report("swap-write-errors-flaky", s).swap_write_errors)
        .collect();
    assert!(counts.windows(2).any(|w| w[0] != w[1]), "{counts:?}");
}

#[test]
fn disk_errors_reach_io_and_fsync() {
    for seed in 1..=8 {
        let r = report("disk-errors", seed);
        assert_eq!(rules(&r), [Rule::UnhandledFailure], "{}", r.text());
        assert!(r.findings[0].at.contains("fsync"), "{}", r.text());
        assert_eq!(r.io_errors, 2, "{}", r.text());
        assert!(r.writeback_errors > 0);
        let text = gfp_sim::builtin::get("disk-errors").unwrap().replace(
            "  fsync                               # the error is lost here\n",
            "  fsync st\n  if-failed st\n    sleep 1000\n  end\n",
        );
        let r = run_text(&text, seed).unwrap();
        assert!(r.clean(), "{}", r.text());
    }
}
