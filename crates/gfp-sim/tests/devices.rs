//! Block and swap devices: latency and injected errors, deterministic from
//! the seed; what a failed request does to `io`, `fsync` and reclaim.

mod common;

use common::*;

use gfp_sim::Rule;

/// `io` without a status variable: a failure is unhandled. With one and
/// `if-failed`, the error path runs.
#[test]
fn io_errors_go_to_the_status_variable() {
    let body = "device disk block fail=every:2\ntask a\n  io\n  io\nend\n";
    let r = run(body, 1);
    assert_eq!(rules(&r), [Rule::UnhandledFailure], "{}", r.text());
    assert!(r.findings[0].message.contains("device disk failed"));
    assert_eq!(r.io_errors, 1);
    let handled = "device disk block fail=every:2\ntask a\n  io st\n  io st\n  if-failed st\n    io st\n  end\nend\n";
    let r = run(handled, 1);
    assert!(r.clean(), "{}", r.text());
    assert_eq!(r.io_errors, 1);
    // A device without fail= never fails.
    let r = run(&body.replace(" fail=every:2", ""), 1);
    assert!(r.clean() && r.io_errors == 0, "{}", r.text());
    // An I/O status is not memory.
    let r = run("task a\n  io st\n  free st\nend\n", 1);
    assert_eq!(rules(&r), [Rule::ProgramError], "{}", r.text());
}

/// The three failure modes, request by request.
#[test]
fn fail_modes() {
    let errors = |fail: &str, n: usize, seed: u64| {
        let body =
            format!("device disk block {fail}\ntask a\n  repeat {n}\n    io st\n  end\nend\n");
        run(&body, seed).io_errors
    };
    assert_eq!(errors("fail=every:3", 9, 1), 3);
    assert_eq!(errors("fail=after:4", 9, 1), 5);
    assert_eq!(errors("fail=after:0", 9, 1), 9);
    assert_eq!(errors("fail=rate:0/5", 50, 1), 0);
    assert_eq!(errors("fail=rate:5/5", 50, 1), 50);
    let rate: Vec<u64> = (1..=6).map(|s| errors("fail=rate:1/2", 64, s)).collect();
    assert!(rate.iter().all(|&e| (12..=52).contains(&e)), "{rate:?}");
    assert!(rate.windows(2).any(|w| w[0] != w[1]), "seeded: {rate:?}");
    assert_eq!(
        errors("fail=rate:1/2", 64, 3),
        errors("fail=rate:1/2", 64, 3)
    );
}

/// `io` waits the device's latency; `dev=` picks the device.
#[test]
fn latency_per_device() {
    let body = "device fast block latency=1000\ndevice slow block latency=5000000\n\
        task a\n  io\n  io dev=slow\nend\n";
    let r = run(body, 1);
    assert!(r.clean(), "{}", r.text());
    assert!((5_001_000..5_100_000).contains(&r.time_ns), "{}", r.text());
}

/// A failed swap-out write keeps the page: with the device dead, reclaim
/// of anonymous memory frees nothing and a NORETRY request fails; with a
/// working device it succeeds.
#[test]
fn swap_errors_keep_the_pages() {
    let body = "fill anon\ndevice sw swap fail=after:0\n\
        task a\n  alloc p GFP_KERNEL|__GFP_NORETRY no-failure-path\n  free p\nend\n";
    let r = run(body, 1);
    assert_eq!(rules(&r), [Rule::UnhandledFailure], "{}", r.text());
    assert!(
        r.swap_write_errors > 0 && r.pgsteal_direct == 0,
        "{}",
        r.text()
    );
    let r = run(&body.replace(" fail=after:0", ""), 1);
    assert!(r.clean(), "{}", r.text());
    assert!(
        r.swap_write_errors == 0 && r.pgsteal_direct > 0,
        "{}",
        r.text()
    );
}

/// A writeback error is reported by the next `fsync` only (errseq).
#[test]
fn fsync_reports_a_writeback_error_once() {
    let body = "machine small-numa\nfill file-dirty node=1\ndevice disk block fail=after:0\n\
        task a\n  alloc p GFP_NOWAIT|__GFP_THISNODE node=1\n  free p\n  sleep 10000000\n\
        \x20 fsync st\n  if-failed st\n    fsync st2\n  end\n  fsync\nend\n";
    let r = run(body, 1);
    assert!(r.clean(), "{}", r.text());
    assert!(r.writeback_errors > 0, "{}", r.text());
    // Without kswapd's writeback (a working disk) fsync succeeds.
    let r = run(&body.replace(" fail=after:0", ""), 1);
    assert!(r.clean() && r.writeback_errors == 0, "{}", r.text());
    // The first fsync without a status loses the error: a finding.
    let r = run(&body.replace("  fsync st\n", "  fsync\n  fsync st\n"), 1);
    assert_eq!(rules(&r), [Rule::UnhandledFailure], "{}", r.text());
}
