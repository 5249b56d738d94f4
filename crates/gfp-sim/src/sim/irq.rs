//! Interrupt handlers that run on another task's CPU
//! (`task NAME softirq|hardirq interrupts=TASK`).
//!
//! A handler is not scheduled on its own. It fires once, between two steps
//! of the task it interrupts: after each step that task runs (one that
//! blocks it included), when the interrupt is enabled there, the scheduler's
//! generator decides with probability 1/2 whether it fires now; when the
//! task ends first, the handler runs on the idle CPU. A softirq is enabled
//! when the task has neither softirqs (`local_bh_disable`, `spin_lock_bh`)
//! nor interrupts (`irq_disable`) disabled; a hardirq when interrupts are
//! on. Holding a spinlock does not keep either out: that is the bug the
//! handlers are there to show.
//!
//! Once fired, the handler runs to its end in atomic context while the
//! task it interrupted cannot run: the task waits for the handler (an edge
//! of the wait-for graph), so a handler spinning on a lock its victim holds
//! is a wait-for cycle, a `deadlock`. The handler sees the interrupted
//! task's task flags (PF_MEMALLOC, NOFS, NOIO, PIN), as a softirq sees
//! `current->flags`; the task's generic scopes stay with the task.
//!
//! Independently of timing, every spinlock's use is recorded as lockdep
//! does (taken in softirq or hardirq context; taken with softirqs or
//! interrupts enabled): a lock used both ways is `irq-unsafe-lock`, whether
//! or not the interrupt came at the bad moment.

use gfp::context::{ScopeChange, ScopeToken};
use gfp::TaskFlags;

use crate::format::{Scenario, TaskContextKind};

use super::{Outcome, Rule, Sim};

/// An interrupt handler's state.
pub(super) struct Handler {
    /// The task whose CPU it runs on.
    target: usize,
    /// It fired: it runs like a task until its program ends.
    fired: bool,
    /// The task it interrupted; `None`: the CPU was idle.
    victim: Option<usize>,
    /// The interrupted task's task flags, entered as the handler's
    /// outermost scope.
    token: Option<ScopeToken>,
    /// It returned.
    finished: bool,
}

/// How a spinlock has been used with respect to interrupts: where each of
/// lockdep's usage bits was first seen.
#[derive(Clone, Default)]
struct Usage {
    in_softirq: Option<String>,
    in_hardirq: Option<String>,
    softirq_on: Option<String>,
    hardirq_on: Option<String>,
    reported: bool,
}

/// The handlers and the locks' usage.
pub(super) struct Irqs {
    /// Handler task indices.
    pub(super) handlers: Vec<usize>,
    usage: Vec<Usage>,
}

impl Irqs {
    /// No handler; `nr_locks` locks without usage.
    pub(super) fn new(nr_locks: usize) -> Irqs {
        Irqs {
            handlers: Vec::new(),
            usage: vec![Usage::default(); nr_locks],
        }
    }
}

impl Sim {
    /// Parks every handler until it fires.
    pub(super) fn arm_handlers(&mut self, scenario: &Scenario) {
        for (h, d) in scenario.tasks.iter().enumerate() {
            let Some(target) = d.interrupts.as_deref() else {
                continue;
            };
            let Some(target) = self.tasks.iter().position(|t| t.name == target) else {
                continue;
            };
            self.tasks[h].irq = Some(Handler {
                target,
                fired: false,
                victim: None,
                token: None,
                finished: false,
            });
            self.tasks[h].parked = true;
            self.irqs.handlers.push(h);
        }
    }

    /// Whether handler `h`'s interrupt is enabled on task `v`'s CPU.
    fn enabled(&self, h: usize, v: usize) -> bool {
        let t = &self.tasks[v];
        if t.interrupted_by.is_some() || t.irq_off > 0 {
            return false;
        }
        self.tasks[h].context != TaskContextKind::SoftIrq || t.bh_off == 0
    }

    /// After task `i` ran a step: a handler that returned gives the CPU
    /// back; handlers of `i`'s CPU may fire.
    pub(super) fn after_step(&mut self, i: usize) {
        if self.tasks[i].done.is_some() {
            self.finish(i);
        }
        for k in 0..self.irqs.handlers.len() {
            let h = self.irqs.handlers[k];
            let Some(irq) = &self.tasks[h].irq else {
                continue;
            };
            if irq.fired || irq.target != i {
                continue;
            }
            if self.tasks[i].done.is_some() {
                self.fire(h, None);
            } else if self.enabled(h, i) && self.rng.below(2) == 0 {
                self.fire(h, Some(i));
            }
        }
    }

    /// Nothing else can run: a handler not yet fired fires now, on its
    /// task's CPU when the task is still there with the interrupt enabled
    /// (blocked on a lock), on the idle CPU when it has ended. `true` when
    /// one fired.
    pub(super) fn fire_on_idle(&mut self) -> bool {
        for k in 0..self.irqs.handlers.len() {
            let h = self.irqs.handlers[k];
            let Some(irq) = &self.tasks[h].irq else {
                continue;
            };
            if irq.fired {
                continue;
            }
            let target = irq.target;
            if self.tasks[target].done.is_some() {
                self.fire(h, None);
                return true;
            }
            if self.enabled(h, target) {
                self.fire(h, Some(target));
                return true;
            }
        }
        false
    }

    fn fire(&mut self, h: usize, victim: Option<usize>) {
        let mut token = None;
        if let Some(v) = victim {
            self.tasks[v].parked = true;
            self.tasks[v].interrupted_by = Some(h);
            let flags = self.tasks[v].ctx.task_flags();
            if flags != TaskFlags::EMPTY {
                token = self.tasks[h].ctx.enter(ScopeChange::task(flags)).ok();
            }
        }
        let t = &mut self.tasks[h];
        t.parked = false;
        if let Some(irq) = &mut t.irq {
            irq.fired = true;
            irq.victim = victim;
            irq.token = token;
        }
        // The handler has the CPU until it returns or spins.
        self.current = Some(h);
    }

    /// Handler `h` ended. Only one that returned (completed its program)
    /// gives the CPU back: one stuck or stopped leaves its victim waiting.
    fn finish(&mut self, h: usize) {
        let completed = self.tasks[h].done == Some(Outcome::Completed);
        let Some(irq) = &mut self.tasks[h].irq else {
            return;
        };
        if !irq.fired || irq.finished {
            return;
        }
        irq.finished = true;
        let (token, victim) = (irq.token.take(), irq.victim);
        if let Some(tok) = token {
            self.tasks[h].ctx.leave(tok);
        }
        if let (true, Some(v)) = (completed, victim) {
            self.tasks[v].parked = false;
            self.tasks[v].interrupted_by = None;
            if self.tasks[v].done.is_none() {
                self.current = Some(v);
            }
        }
    }

    /// The call chain and the operation at `pc` (not yet executed): where
    /// a lock operation that has not advanced is.
    fn here(&self, i: usize) -> String {
        self.location(i, |pc| pc)
    }

    /// Task `i` tries spinlock `l` (`bh`: with `spin_lock_bh`): records
    /// lockdep's usage bits and reports a lock used both in an interrupt
    /// and with that interrupt enabled.
    pub(super) fn irq_usage(&mut self, i: usize, l: usize, bh: bool) {
        let t = &self.tasks[i];
        let softirq_ctx = t.context == TaskContextKind::SoftIrq;
        let hardirq_ctx = t.context == TaskContextKind::HardIrq;
        let softirq_on =
            t.context == TaskContextKind::Process && t.irq_off == 0 && t.bh_off == 0 && !bh;
        let hardirq_on = !hardirq_ctx && t.irq_off == 0;
        let u = &self.irqs.usage[l];
        let new = [
            (u.in_softirq.is_none() && softirq_ctx),
            (u.in_hardirq.is_none() && hardirq_ctx),
            (u.softirq_on.is_none() && softirq_on),
            (u.hardirq_on.is_none() && hardirq_on),
        ];
        // The common case, a lock used as before, formats nothing.
        if !new.contains(&true) {
            return;
        }
        let site = format!("{} at {}", t.name, self.here(i));
        let u = &mut self.irqs.usage[l];
        for (bit, set) in [
            &mut u.in_softirq,
            &mut u.in_hardirq,
            &mut u.softirq_on,
            &mut u.hardirq_on,
        ]
        .into_iter()
        .zip(new)
        {
            if set {
                *bit = Some(site.clone());
            }
        }
        if u.reported {
            return;
        }
        let name = &self.locks[l].name;
        let msg = match (&u.in_hardirq, &u.hardirq_on, &u.in_softirq, &u.softirq_on) {
            (Some(irq), Some(on), _, _) => format!(
                "inconsistent lock state: spinlock {name} is taken in hardirq context ({irq}) and with interrupts enabled ({on}): the interrupt can come while {name} is held on that CPU and its handler spins on it forever; take {name} with interrupts disabled (spin_lock_irqsave) outside the handler"
            ),
            (_, _, Some(irq), Some(on)) => format!(
                "inconsistent lock state: spinlock {name} is taken in softirq context ({irq}) and with softirqs enabled ({on}): the softirq can run while {name} is held on that CPU and spin on it forever; take {name} with spin_lock_bh (or with interrupts disabled) outside softirq context"
            ),
            _ => return,
        };
        u.reported = true;
        // The finding names the lock operation, which has not advanced.
        if let Some(f) = self.tasks[i].frames.last_mut() {
            f.pc += 1;
        }
        self.finding(i, Rule::IrqUnsafeLock, msg);
        if let Some(f) = self.tasks[i].frames.last_mut() {
            f.pc -= 1;
        }
    }
}
