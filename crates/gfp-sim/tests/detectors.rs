//! One scenario per detector that trips it and a close variant that does
//! not: the difference between the two is what the rule is about.

use gfp_sim::sim::Outcome;
use gfp_sim::{run_text, Report, Rule};

fn run(body: &str) -> Report {
    let text = format!("gfp-scenario 1\nname t\n{body}");
    run_text(&text, 3).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn only(r: &Report, rule: Rule) {
    assert!(
        !r.findings.is_empty() && r.findings.iter().all(|f| f.rule == rule),
        "expected only {}: {}",
        rule.id(),
        r.text()
    );
}

fn clean(r: &Report) {
    assert!(r.clean(), "{}", r.text());
}

#[test]
fn sleep_in_atomic() {
    let spin = "lock s spin\ntask a\n  spin_lock s\n  alloc p GFP_KERNEL\n  spin_unlock s\n  free p\nend\n";
    only(&run(spin), Rule::SleepInAtomic);
    // GFP_ATOMIC under the spinlock is fine.
    clean(&run(&spin.replace("GFP_KERNEL", "GFP_ATOMIC")));
    // RCU read sections and IRQ-off regions are atomic too; so is softirq.
    only(
        &run("task a\n  rcu_read_lock\n  alloc p GFP_KERNEL\n  rcu_read_unlock\n  free p\nend\n"),
        Rule::SleepInAtomic,
    );
    only(
        &run("task a\n  irq_disable\n  sleep 10\n  irq_enable\nend\n"),
        Rule::SleepInAtomic,
    );
    only(
        &run("task a softirq\n  alloc p GFP_NOIO\n  free p\nend\n"),
        Rule::SleepInAtomic,
    );
    // A sleeping lock in atomic context.
    only(
        &run("lock s spin\nlock m sleeping\ntask a\n  spin_lock s\n  lock m\n  unlock m\n  spin_unlock s\nend\n"),
        Rule::SleepInAtomic,
    );
    // A NOWAIT scope makes the same allocation safe in atomic context.
    clean(&run(
        "lock s spin\ntask a\n  scope clear __GFP_DIRECT_RECLAIM\n    spin_lock s\n    alloc p GFP_KERNEL\n    spin_unlock s\n  end\n  free p\nend\n",
    ));
}

#[test]
fn nofail_failed() {
    let body = "fill file-clean\ntask a\n  scope clear __GFP_DIRECT_RECLAIM\n    alloc p GFP_KERNEL|__GFP_NOFAIL\n  end\n  free p\nend\n";
    let r = run(body);
    only(&r, Rule::NofailFailed);
    assert_eq!(r.findings.len(), 1);
    // Without the scope, NOFAIL reclaims and succeeds.
    let r = run(&body.replace("scope clear __GFP_DIRECT_RECLAIM", "scope nofs"));
    clean(&r);
    assert!(r.pgsteal_direct > 0, "{}", r.text());
}

#[test]
fn unhandled_failure() {
    let body = "fill kernel\ntask a\n  alloc p GFP_NOWAIT no-failure-path\n  free p\nend\n";
    only(&run(body), Rule::UnhandledFailure);
    // With a failure path, the same failure is fine.
    clean(&run(&body.replace(" no-failure-path", "")));
    // Using the memory of a failed allocation is a NULL dereference.
    let r = run("fill kernel\ntask a\n  alloc p GFP_NOWAIT\n  touch p\n  free p\nend\n");
    only(&r, Rule::UnhandledFailure);
    assert_eq!(r.tasks[0].outcome, Outcome::Aborted);
}

#[test]
fn reclaim_recursion() {
    let body = "fill file-clean\nlock i sleeping fs-reclaim\ntask a\n  lock i\n  alloc p GFP_KERNEL\n  unlock i\n  free p\nend\n";
    only(&run(body), Rule::ReclaimRecursion);
    // GFP_NOFS at the call site, a NOFS scope, or a lock reclaim never takes.
    clean(&run(&body.replace("GFP_KERNEL", "GFP_NOFS")));
    clean(&run(&body.replace(
        "  alloc p GFP_KERNEL\n",
        "  scope nofs\n    alloc p GFP_KERNEL\n  end\n",
    )));
    clean(&run(&body.replace(" fs-reclaim", "")));
}

#[test]
fn deadlock() {
    // ABBA between two tasks: a wait-for cycle, whatever the interleaving
    // (each task sleeps while holding its first lock).
    let abba = "lock x sleeping\nlock y sleeping\n\
        task a\n  lock x\n  sleep 100\n  lock y\n  unlock y\n  unlock x\nend\n\
        task b\n  lock y\n  sleep 100\n  lock x\n  unlock x\n  unlock y\nend\n";
    for seed in 0..8 {
        let r = run_text(&format!("gfp-scenario 1\n{abba}"), seed).unwrap();
        only(&r, Rule::Deadlock);
        assert!(
            r.findings[0].message.contains("wait-for cycle"),
            "{}",
            r.text()
        );
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Stuck));
    }
    // Same order in both tasks: no cycle.
    let ordered = abba.replace(
        "task b\n  lock y\n  sleep 100\n  lock x\n  unlock x\n  unlock y",
        "task b\n  lock x\n  sleep 100\n  lock y\n  unlock y\n  unlock x",
    );
    for seed in 0..8 {
        let r = run_text(&format!("gfp-scenario 1\n{ordered}"), seed).unwrap();
        clean(&r);
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
    }
    // Taking a lock twice.
    only(
        &run("lock x sleeping\ntask a\n  lock x\n  lock x\nend\n"),
        Rule::Deadlock,
    );
}

#[test]
fn wrong_zone() {
    // The call site needs DMA32; a scope that clears it hands out Normal.
    let body = "machine test-64mib\ntask a\n  scope clear __GFP_DMA32\n    alloc p GFP_KERNEL|__GFP_DMA32\n  end\n  free p\nend\n";
    only(&run(body), Rule::WrongZone);
    clean(&run(&body.replace("scope clear __GFP_DMA32", "scope nofs")));
    // A scope setting the more restrictive DMA is fine.
    clean(&run(
        &body.replace("scope clear __GFP_DMA32", "scope set __GFP_DMA")
    ));
}

#[test]
fn not_zeroed() {
    // Task writes a page and frees it; the next __GFP_ZERO allocation
    // reuses it, but a scope cleared __GFP_ZERO.
    let body = "task a\n  alloc p GFP_KERNEL\n  touch p\n  free p\n  scope clear __GFP_ZERO\n    alloc q GFP_KERNEL|__GFP_ZERO\n  end\n  expect-zero q\n  free q\nend\n";
    only(&run(body), Rule::NotZeroed);
    clean(&run(&body.replace("scope clear __GFP_ZERO", "scope nofs")));
}

#[test]
fn unbounded_recursion() {
    let r = run("fn f\n  call f\nend\ntask a\n  call f\nend\n");
    only(&r, Rule::UnboundedRecursion);
    assert_eq!(r.tasks[0].outcome, Outcome::Aborted);
    clean(&run(
        "fn g\n  sleep 1\nend\nfn f\n  call g\nend\ntask a\n  call f\nend\n",
    ));
}

#[test]
fn program_errors() {
    only(
        &run("lock x sleeping\ntask a\n  unlock x\nend\n"),
        Rule::ProgramError,
    );
    only(&run("task a\n  free p\nend\n"), Rule::ProgramError);
    only(
        &run("task a\n  alloc p GFP_KERNEL\n  free p\n  free p\nend\n"),
        Rule::ProgramError,
    );
    only(
        &run("lock x sleeping\ntask a\n  lock x\nend\n"),
        Rule::ProgramError,
    );
}

#[test]
fn rule_ids_are_stable_and_distinct() {
    let ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    assert_eq!(
        ids,
        [
            "sleep-in-atomic",
            "nofail-failed",
            "unhandled-failure",
            "reclaim-recursion",
            "deadlock",
            "wrong-zone",
            "not-zeroed",
            "unbounded-recursion",
            "compound",
            "kswapd-not-woken",
            "reserves-drained",
            "alloc-stall",
            "memcg-escape",
            "program-error"
        ]
    );
}

#[test]
fn compound() {
    let asked = "task a\n  scope clear __GFP_COMP\n    alloc p GFP_KERNEL|__GFP_COMP order=2\n  end\n  free p\nend\n";
    only(&run(asked), Rule::Compound);
    clean(&run(&asked.replace("scope clear __GFP_COMP", "scope nofs")));
    let unasked =
        "task a\n  scope set __GFP_COMP\n    alloc p GFP_KERNEL order=2\n  end\n  free p\nend\n";
    only(&run(unasked), Rule::Compound);
    // Order 0 carries no compound metadata either way.
    clean(&run(&unasked.replace(" order=2", "")));
}

#[test]
fn kswapd_not_woken() {
    let body = "fill file-clean\ntask a\n  scope clear __GFP_KSWAPD_RECLAIM\n    alloc p GFP_KERNEL\n  end\n  free p\nend\n";
    let r = run(body);
    only(&r, Rule::KswapdNotWoken);
    assert_eq!(r.kswapd_wakeups, 0);
    let r = run(&body.replace("scope clear __GFP_KSWAPD_RECLAIM", "scope nofs"));
    clean(&r);
    assert!(r.kswapd_wakeups > 0);
}

#[test]
fn reserves_drained() {
    let body = "fill kernel\ntask a\n  scope noreclaim\n    repeat 200\n      alloc p GFP_ATOMIC\n    end\n  end\nend\n";
    let r = run(body);
    only(&r, Rule::ReservesDrained);
    assert_eq!(r.findings.len(), 1, "reported once per zone");
    // A few PF_MEMALLOC allocations (swap over NFS receiving a reply) are
    // what the reserves are for.
    clean(&run(&body.replace("repeat 200", "repeat 4")));
    // Without PF_MEMALLOC the watermarks hold: allocations fail instead.
    let r = run(&body.replace("scope noreclaim", "scope nofs"));
    clean(&r);
    assert_eq!(r.tasks[0].failures, 200);
}

#[test]
fn repeat_runs_its_block_n_times() {
    let r = run("task a\n  repeat 5\n    alloc p GFP_KERNEL\n    free p\n  end\nend\n");
    clean(&r);
    assert_eq!(r.tasks[0].allocations, 5);
    assert_eq!(r.tasks[0].outcome, Outcome::Completed);
}

#[test]
fn alloc_stall_ends_the_run() {
    // NOFAIL with direct reclaim on memory nothing can reclaim, at an
    // order that never frees up: the kernel loops forever.
    let body = "fill kernel\ntask a\n  alloc p GFP_KERNEL|__GFP_NOFAIL order=10\n  free p\nend\ntask b\n  sleep 1\nend\n";
    let r = run_text(&format!("gfp-scenario 1\n{body}"), 1).unwrap();
    assert!(r.has(Rule::AllocStall), "{}", r.text());
    assert_eq!(r.tasks[0].outcome, Outcome::Stuck);
    // The same request on free memory succeeds.
    clean(&run(&body.replace("fill kernel\n", "")));
}
