//! A blocking point inside an allocation that yields: `mempool_alloc()`
//! waiting for an element sleeps while the other tasks (and kswapd) run,
//! and starts again from the top when an element comes back.

use gfp_sim::sim::Outcome;
use gfp_sim::{run_text, Report, Rule};

fn run(body: &str, seed: u64) -> Report {
    let text = format!("gfp-scenario 1\nname t\n{body}");
    run_text(&text, seed).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

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
