//! Interrupt handlers that run on another task's CPU (`interrupts=TASK`):
//! they fire between two steps of that task, see its task flags, make it
//! wait until they return, and every spinlock's use is checked as lockdep
//! checks interrupt safety.

mod common;

use common::*;

use gfp_sim::sim::Outcome;
use gfp_sim::Rule;

const SOFTIRQ_SPIN: &str = "lock rxq spin\n\
    task worker\n  repeat 2\n    spin_lock rxq\n    alloc p GFP_ATOMIC\n    spin_unlock rxq\n    free p\n  end\nend\n\
    task net-rx softirq interrupts=worker\n  spin_lock rxq\n  alloc skb GFP_ATOMIC\n  spin_unlock rxq\n  free skb\nend\n";

/// The classic: a spinlock taken in process context with softirqs on, and
/// in a softirq. Lockdep's check fires on every seed; where the softirq
/// comes while the worker holds the lock, it spins on its own CPU forever.
#[test]
fn softirq_on_a_spinlock_its_victim_holds_deadlocks() {
    let (mut deadlocked, mut survived) = (0, 0);
    for seed in 1..=16 {
        let r = run(SOFTIRQ_SPIN, seed);
        assert_eq!(r.findings[0].rule, Rule::IrqUnsafeLock, "{}", r.text());
        assert!(r.findings[0].message.contains("spin_lock_bh"));
        if r.has(Rule::Deadlock) {
            deadlocked += 1;
            assert_eq!(rules(&r), [Rule::IrqUnsafeLock, Rule::Deadlock]);
            let m = &r.findings[1].message;
            assert!(
                m.contains("worker is interrupted by net-rx on its CPU"),
                "{m}"
            );
            assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Stuck));
        } else {
            survived += 1;
            assert_eq!(rules(&r), [Rule::IrqUnsafeLock]);
            assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
        }
    }
    assert!(deadlocked > 0 && survived > 0, "{deadlocked} {survived}");
}

/// spin_lock_bh keeps the softirq out of the critical section: clean on
/// every seed; so does running it with interrupts disabled.
#[test]
fn spin_lock_bh_or_irqs_off_is_safe() {
    let bh = SOFTIRQ_SPIN
        .replacen("    spin_lock rxq", "    spin_lock_bh rxq", 1)
        .replacen("    spin_unlock rxq", "    spin_unlock_bh rxq", 1);
    let irq = SOFTIRQ_SPIN
        .replacen("    spin_lock rxq", "    irq_disable\n    spin_lock rxq", 1)
        .replacen(
            "    spin_unlock rxq",
            "    spin_unlock rxq\n    irq_enable",
            1,
        );
    for body in [bh, irq] {
        for seed in 1..=16 {
            let r = run(&body, seed);
            assert!(r.clean(), "{}", r.text());
            assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
        }
    }
}

/// A hardirq handler's lock taken elsewhere with interrupts on (softirqs
/// off is not enough).
#[test]
fn hardirq_lock_needs_interrupts_off() {
    let body = "lock q spin\n\
        task worker\n  spin_lock_bh q\n  spin_unlock_bh q\nend\n\
        task dev-irq hardirq interrupts=worker\n  spin_lock q\n  spin_unlock q\nend\n";
    for seed in 1..=8 {
        let r = run(body, seed);
        assert_eq!(r.findings[0].rule, Rule::IrqUnsafeLock, "{}", r.text());
        assert!(r.findings[0].message.contains("hardirq context"));
    }
    let safe = body
        .replace("  spin_lock_bh q\n", "  irq_disable\n  spin_lock q\n")
        .replace("  spin_unlock_bh q\n", "  spin_unlock q\n  irq_enable\n");
    for seed in 1..=8 {
        let r = run(&safe, seed);
        assert!(r.clean(), "{}", r.text());
    }
}

/// The handler allocates in the interrupted task's context: a task in
/// PF_MEMALLOC (a reclaimer writing to swap over the network) lends the
/// reserves to the receive softirq, as `__gfp_pfmemalloc_flags()` grants
/// them in softirq context; without it the receive fails.
#[test]
fn the_handler_sees_the_interrupted_tasks_pf_memalloc() {
    let body = "fill kernel\n\
        task reclaimer\n  scope noreclaim\n    repeat 40\n      sleep 1000\n    end\n  end\nend\n\
        task nfs-rx softirq interrupts=reclaimer\n  alloc skb GFP_ATOMIC no-failure-path\n  free skb\nend\n";
    for seed in 1..=16 {
        let r = run(body, seed);
        assert!(r.clean(), "{}", r.text());
    }
    let plain = body.replace("  scope noreclaim\n", "  scope nofs\n");
    let r = run(&plain, 1);
    assert_eq!(rules(&r), [Rule::UnhandledFailure], "{}", r.text());
}

/// A handler is atomic throughout: it may not sleep.
#[test]
fn the_handler_is_atomic() {
    let body = "task worker\n  sleep 10\nend\n\
        task tick hardirq interrupts=worker\n  alloc p GFP_KERNEL\n  free p\nend\n";
    let r = run(body, 1);
    assert_eq!(rules(&r), [Rule::SleepInAtomic], "{}", r.text());
    assert!(r.findings[0].message.contains("hardirq"));
    let r = run(&body.replace("GFP_KERNEL", "GFP_ATOMIC"), 1);
    assert!(r.clean(), "{}", r.text());
}

/// Softirq tasks without `interrupts=` are scheduled on their own, as
/// before; the interrupt safety check sees them too.
#[test]
fn softirq_tasks_still_run_on_their_own() {
    let body = SOFTIRQ_SPIN.replace(" interrupts=worker", "");
    for seed in 1..=8 {
        let r = run(&body, seed);
        assert_eq!(rules(&r), [Rule::IrqUnsafeLock], "{}", r.text());
        assert!(r.tasks.iter().all(|t| t.outcome == Outcome::Completed));
    }
}
