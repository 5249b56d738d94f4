//! Blocking points inside an allocation give the CPU away: the call
//! blocks on the task's kernel stack while the other tasks (and kswapd)
//! run, and carries on where it stopped once its wait is over: reclaim's
//! swap-out I/O, a retry's back-off, `mempool_alloc()` waiting for an
//! element.

mod common;

use common::*;

use gfp_sim::sim::Outcome;
use gfp_sim::timeline::{EventKind, Timeline};
use gfp_sim::{parse, run_recorded, Report, Rule};

/// Memory is exhausted; A holds both elements of the pool for 1 ms. B's
/// mempool_alloc() waits, A runs meanwhile and frees them, B gets one.
#[test]
fn mempool_wait_yields_until_an_element_comes_back() {
    let body = "fill kernel\nmempool bios min=2\n\
        task a\n  mempool_alloc b1 bios GFP_NOIO\n  mempool_alloc b2 bios GFP_NOIO\n  sleep 1000000\n  free b1\n  free b2\nend\n\
        task b\n  sleep 1000\n  mempool_alloc b3 bios GFP_NOIO\n  free b3\nend\n";
    for seed in 1..=8 {
        let r = run(body, seed);
        assert!(r.clean(), "{}", r.text());
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
        let b = &r.tasks[1];
        assert_eq!((b.allocations, b.failures), (1, 0), "{}", r.text());
        // B waited for A's free at 1 ms, not for the 5 s timeout.
        assert!(
            (900_000..1_100_000).contains(&b.latency_max_ns),
            "{}",
            r.text()
        );
    }
}

/// Nobody gives an element back: the waits time out every 5 s and the
/// allocation tries again until the watchdog (60 s) calls it stalled: the
/// task is stuck without a finding, or `alloc-stall` with __GFP_NOFAIL.
/// The other tasks ran meanwhile.
#[test]
fn an_endless_mempool_wait_is_cut_by_the_watchdog() {
    let body = "fill kernel\nmempool bios min=1\n\
        task a\n  mempool_alloc b1 bios GFP_NOIO\n  mempool_alloc b2 bios GFP_NOIO\n  free b1\n  free b2\nend\n\
        task c\n  repeat 5\n    sleep 1000000000\n  end\nend\n";
    let r = run(body, 1);
    assert!(r.clean(), "{}", r.text());
    assert_eq!(r.tasks[0].outcome, Outcome::Stuck, "{}", r.text());
    assert_eq!(r.tasks[1].outcome, Outcome::Completed, "{}", r.text());
    assert!(r.time_ns >= 60_000_000_000, "{}", r.text());
    let r = run(
        &body.replace("b2 bios GFP_NOIO", "b2 bios GFP_NOIO|__GFP_NOFAIL"),
        1,
    );
    let rules: Vec<Rule> = r.findings.iter().map(|f| f.rule).collect();
    assert_eq!(rules, [Rule::AllocStall], "{}", r.text());
}

fn run_tl(body: &str, seed: u64) -> (Report, Timeline) {
    let text = format!("gfp-scenario 1\nname t\n{body}");
    let s = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    run_recorded(&s, seed).expect("runs")
}

/// The span of task `name`'s allocation blocked in the allocator, as
/// scheduler steps.
fn blocked_span(tl: &Timeline, name: &str) -> (u64, u64) {
    let lane = tl.task_lane(name).expect("lane");
    let spans: Vec<(u64, u64)> = (tl.events.list().iter())
        .filter(|e| e.lane == lane && e.kind == EventKind::AllocSlept)
        .map(|e| (e.from.step, e.to.step))
        .collect();
    assert_eq!(spans.len(), 1, "{spans:?}");
    spans[0]
}

fn end_step(tl: &Timeline, name: &str) -> u64 {
    let lane = tl.task_lane(name).expect("lane");
    (tl.events.list().iter())
        .find(|e| e.lane == lane && matches!(e.kind, EventKind::End(_)))
        .map(|e| e.from.step)
        .expect("ends")
}

/// Memory is full of anonymous pages and the swap device takes 200 us per
/// write. The app's allocation enters direct reclaim and waits for its
/// swap-out; the other task runs its whole program meanwhile. (Before the
/// kernel stacks, the wait advanced the clock inside one step and nothing
/// else ran.)
#[test]
fn reclaim_io_wait_lets_other_tasks_run() {
    let body = "machine pages=4096\nfill anon\ndevice swapdev swap latency=200000\n\
        task app\n  alloc buf GFP_KERNEL\n  free buf\nend\n\
        task other\n  repeat 3\n    sleep 1000\n  end\nend\n";
    for seed in 1..=4 {
        let (r, tl) = run_tl(body, seed);
        assert!(r.clean(), "{}", r.text());
        assert!(r.pgsteal_direct > 0, "{}", r.text());
        let (from, to) = blocked_span(&tl, "app");
        let other_end = end_step(&tl, "other");
        assert!(
            from < other_end && other_end <= to,
            "other ended at step {other_end}, app blocked over {from}..{to}\n{}",
            r.text()
        );
        // The allocation's latency is the device's (one wait, not
        // replayed) and the reschedule point before direct reclaim (1 us of
        // virtual CPU time).
        assert_eq!(r.tasks[0].latency_max_ns, 201_000, "{}", r.text());
    }
}

/// kswapd's own swap-out waits let the tasks run too: with a slow device,
/// a task allocating with GFP_NOWAIT keeps making steps while kswapd's run
/// is blocked, and kswapd finishes its run after them.
#[test]
fn kswapd_io_wait_lets_tasks_run() {
    let body = "machine pages=4096\nfill anon\ndevice swapdev swap latency=5000000\n\
        task app\n  repeat 40\n    alloc p GFP_NOWAIT|__GFP_NOWARN\n  end\n  sleep 100\n  repeat 10\n    sleep 1000\n  end\nend\n";
    let (r, tl) = run_tl(body, 1);
    assert!(r.kswapd_runs >= 1, "{}", r.text());
    let kswapd = (tl.lanes.iter())
        .position(|l| l.kswapd_node.is_some())
        .expect("kswapd lane");
    let run = (tl.events.list().iter())
        .find(|e| e.lane == kswapd && e.kind == EventKind::KswapdRun)
        .expect("kswapd ran");
    let app_end = end_step(&tl, "app");
    assert!(
        run.from.step < app_end && app_end <= run.to.step,
        "app ended at step {app_end}, kswapd ran over {}..{}\n{}",
        run.from.step,
        run.to.step,
        r.text()
    );
}
