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
    // So is a section with softirqs disabled (local_bh_disable raises
    // the preempt count), where GFP_ATOMIC is fine.
    let bh = "task a\n  local_bh_disable\n  alloc p GFP_KERNEL\n  local_bh_enable\n  free p\nend\n";
    only(&run(bh), Rule::SleepInAtomic);
    clean(&run(&bh.replace("GFP_KERNEL", "GFP_ATOMIC")));
    only(
        &run("task a\n  local_bh_disable\n  sleep 10\n  local_bh_enable\nend\n"),
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
    // Lockdep's view fires whether or not reclaim runs: here memory is
    // free and the allocation never reaches the filesystem.
    let free = "lock i sleeping fs-reclaim\ntask a\n  lock i\n  alloc p GFP_KERNEL\n  unlock i\n  free p\nend\n";
    let r = run(free);
    only(&r, Rule::ReclaimRecursion);
    assert_eq!(r.tasks[0].outcome, Outcome::Completed);
    // Under pressure reclaim really calls into the filesystem, which takes
    // the lock its caller holds: the real deadlock follows.
    let body = format!("fill file-clean\n{free}");
    let r = run(&body);
    let rules: Vec<Rule> = r.findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        [Rule::ReclaimRecursion, Rule::Deadlock],
        "{}",
        r.text()
    );
    assert!(
        r.findings[1].message.contains("waits for itself"),
        "{}",
        r.text()
    );
    assert_eq!(r.tasks[0].outcome, Outcome::Stuck);
    let body = body.as_str();
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
            "program-error",
            "irq-unsafe-lock",
            "step-limit",
            "pinned-block"
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

#[test]
fn memcg_escape() {
    // An accounted allocation by a task in a memory cgroup is charged to
    // it; a scope clearing __GFP_ACCOUNT lets it escape the limit.
    let body = "machine small-numa\nmemcg box max=64\ntask a memcg=box\n  scope clear __GFP_ACCOUNT\n    alloc p GFP_KERNEL_ACCOUNT\n    kmalloc o 128 GFP_KERNEL_ACCOUNT\n  end\n  free p\n  free o\nend\n";
    let r = run(body);
    only(&r, Rule::MemcgEscape);
    assert_eq!(r.findings.len(), 2, "the page and the object: {}", r.text());
    clean(&run(
        &body.replace("scope clear __GFP_ACCOUNT", "scope nofs")
    ));
    // Outside a memory cgroup there is no limit to escape.
    clean(&run(&body.replace(" memcg=box", "")));
}

#[test]
fn wrong_zone_mobility_and_cpuset() {
    // A kernel allocation filed as movable (or reclaimable) lands in a
    // movable (reclaimable) pageblock that compaction (reclaim) could empty
    // before: now it cannot.
    let body = "machine small-numa\ntask a\n  scope set __GFP_MOVABLE\n    alloc p GFP_KERNEL\n  end\n  free p\nend\n";
    let r = run(body);
    only(&r, Rule::PinnedBlock);
    assert!(
        r.findings[0].message.contains("movable pageblock"),
        "{}",
        r.text()
    );
    let r = run(&body.replace("set __GFP_MOVABLE", "set __GFP_RECLAIMABLE"));
    only(&r, Rule::PinnedBlock);
    assert!(
        r.findings[0].message.contains("reclaimable pageblock"),
        "{}",
        r.text()
    );
    // Without the scope the allocator claims an unmovable block for it.
    clean(&run(&body.replace("scope set __GFP_MOVABLE", "scope nofs")));
    // A block already pinned (memory full of kernel memory) loses nothing.
    clean(&run(&body.replace(
        "machine small-numa",
        "machine small-numa\nfill kernel",
    )));
    // Keeping user memory out of movable memory (PF_MEMALLOC_PIN) is fine.
    clean(&run(&body.replace(
        "scope set __GFP_MOVABLE\n    alloc p GFP_KERNEL",
        "scope pin\n    alloc p GFP_HIGHUSER_MOVABLE",
    )));
    // User memory of a task in a cpuset of node 1, node 1 full: without
    // __GFP_HARDWALL it escapes to node 0.
    let cpuset = "machine small-numa\nfill file-clean node=1\ncpuset n1 mems=1\ntask a cpuset=n1\n  scope clear __GFP_HARDWALL\n    alloc p GFP_USER\n  end\n  free p\nend\n";
    let r = run(cpuset);
    only(&r, Rule::WrongZone);
    assert!(r.findings[0].message.contains("cpuset"), "{}", r.text());
    let r = run(&cpuset.replace("scope clear __GFP_HARDWALL", "scope nofs"));
    clean(&r);
    assert_eq!(r.tasks[0].failures, 0, "served on node 1: {}", r.text());
    // Reserve access ignores cpusets in the kernel too: not a finding.
    clean(&run(
        &cpuset.replace("scope clear __GFP_HARDWALL", "scope noreclaim")
    ));
}

#[test]
fn io_reclaim_recursion() {
    // A block driver allocating under its request-queue lock must not
    // start I/O from reclaim: GFP_NOIO. A scope setting __GFP_IO recurses.
    let body = "lock queue sleeping io-reclaim\ntask a\n  lock queue\n  scope set __GFP_IO\n    alloc rq GFP_NOIO\n  end\n  unlock queue\n  free rq\nend\n";
    let r = run(body);
    only(&r, Rule::ReclaimRecursion);
    assert!(r.findings[0].message.contains("I/O"), "{}", r.text());
    clean(&run(&body.replace("scope set __GFP_IO", "scope noio")));
    // The same allocation outside the lock is fine.
    clean(&run(&body.replace(" io-reclaim", "")));
}

#[test]
fn obj_ext_recursion_through_kmalloc() {
    let body = "task a\n  scope clear __GFP_NO_OBJ_EXT\n    kmalloc o 64 GFP_KERNEL\n  end\n  free o\nend\n";
    let r = run(body);
    assert!(r.has(Rule::UnboundedRecursion), "{}", r.text());
    assert!(
        r.findings.iter().all(|f| f.rule == Rule::UnboundedRecursion
            || f.rule == Rule::ProgramError
            || f.rule == Rule::UnhandledFailure),
        "{}",
        r.text()
    );
    let r = run(&body.replace("scope clear __GFP_NO_OBJ_EXT", "scope nofs"));
    clean(&r);
    assert_eq!(r.tasks[0].failures, 0);
}

#[test]
fn mempool_falls_back_to_its_pool_and_keeps_off_the_reserves() {
    // Memory exhausted into the atomic reserves, a reclaim path (PF_MEMALLOC)
    // allocating a batch from its mempool: the pool serves it.
    let body = "machine small-numa\nswap 0\nfill kernel\nmempool bios min=32\ntask a\n  scope noreclaim\n    scope clear __GFP_NOMEMALLOC\n      repeat 32\n        mempool_alloc bio bios GFP_NOIO\n      end\n    end\n  end\nend\n";
    let r = run(body);
    only(&r, Rule::ReservesDrained);
    let r = run(&body.replace("scope clear __GFP_NOMEMALLOC", "scope nofs"));
    clean(&r);
    assert_eq!(r.tasks[0].failures, 0, "{}", r.text());
}

#[test]
fn loops_without_nofail_wait_for_others() {
    // GFP_NOFS never invokes the OOM killer: with only a process's memory
    // left it waits for someone else to. Not a finding...
    let body = "machine small-numa\nswap 0\nfill anon owner=hog\nfill kernel\ntask a\n  scope nofs\n    alloc p GFP_KERNEL\n  end\n  free p\nend\n";
    let r = run(body);
    clean(&r);
    assert_eq!(r.tasks[0].outcome, Outcome::Stuck, "{}", r.text());
    // ...while GFP_KERNEL kills the process and goes on,
    let r = run(&body.replace("scope nofs", "scope pin"));
    clean(&r);
    assert_eq!(r.oom_kills, 1);
    assert_eq!(r.tasks[0].outcome, Outcome::Completed);
    // and __GFP_NOFAIL under NOFS gets the reserves to make progress.
    clean(&run(&body.replace(
        "alloc p GFP_KERNEL",
        "alloc p GFP_KERNEL|__GFP_NOFAIL no-failure-path",
    )));
}

#[test]
fn oom_kill_ends_the_owning_task() {
    // The task owning all anonymous memory is the OOM killer's victim.
    let body = "machine small-numa\nswap 0\nfill anon owner=hog\nfill kernel\ntask hog\n  sleep 1000000\n  sleep 1000000\nend\ntask a\n  alloc p GFP_KERNEL\n  free p\nend\n";
    let r = run(body);
    clean(&r);
    assert_eq!(r.tasks[0].outcome, Outcome::Killed, "{}", r.text());
    assert_eq!(r.tasks[1].outcome, Outcome::Completed);
}

#[test]
fn used_memory_is_not_zero() {
    let body =
        "fill used\ntask a\n  alloc p GFP_KERNEL|__GFP_ZERO\n  expect-zero p\n  free p\nend\n";
    clean(&run(body));
    only(&run(&body.replace("|__GFP_ZERO", "")), Rule::NotZeroed);
    // Without `fill used` the machine is fresh from boot.
    clean(&run(&body
        .replace("fill used\n", "")
        .replace("|__GFP_ZERO", "")));
}

#[test]
fn return_leaves_the_function_and_its_scopes() {
    let body = "fill kernel\nfn f\n  scope clear __GFP_DIRECT_RECLAIM\n    alloc p GFP_NOWAIT\n    if-failed p\n      return\n    end\n    touch p\n    free p\n  end\nend\ntask a\n  call f\n  lock m\n  unlock m\nend\nlock m sleeping\n";
    let r = run(body);
    clean(&r);
    assert_eq!(r.tasks[0].failures, 1);
    assert_eq!(r.tasks[0].outcome, Outcome::Completed);
}

#[test]
fn scoped_sleep_in_atomic_is_a_sleep_that_happens() {
    // A scope makes GFP_ATOMIC under a spinlock blocking: with memory free
    // the allocator never sleeps, and nothing is reported; with memory
    // full down into the atomic reserves it enters direct reclaim and gives
    // up the CPU there, holding the spinlock.
    let body = "lock s spin\ntask a\n  scope set __GFP_DIRECT_RECLAIM\n    spin_lock s\n    alloc p GFP_ATOMIC\n    spin_unlock s\n  end\n  free p\nend\n";
    clean(&run(body));
    let r = run(&format!(
        "machine pages=4096\nfill file-clean\nfill kernel\n{body}"
    ));
    only(&r, Rule::SleepInAtomic);
    assert!(
        r.findings[0]
            .message
            .contains("inside the allocator holding spinlock s"),
        "{}",
        r.text()
    );
}

#[test]
fn step_limit_is_a_finding() {
    let text = "gfp-scenario 1\nname t\ntask a\n  repeat 500\n    alloc p GFP_KERNEL\n    free p\n  end\nend\n";
    let s = gfp_sim::parse(text).unwrap();
    let config = |max_steps| gfp_sim::SimConfig {
        seed: 1,
        max_steps,
        ..Default::default()
    };
    let r = gfp_sim::sim::run_with(&s, config(100)).unwrap();
    only(&r, Rule::StepLimit);
    assert!(
        r.findings[0].message.contains("step limit (100 steps)"),
        "{}",
        r.text()
    );
    assert_eq!(r.tasks[0].outcome, Outcome::Unfinished);
    assert!(!gfp_sim::verify::clean(&r));
    let r = gfp_sim::sim::run_with(&s, config(100_000)).unwrap();
    clean(&r);
    assert!(r.all_completed() && gfp_sim::verify::clean(&r));
}
