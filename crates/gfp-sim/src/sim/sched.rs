//! The scheduler: runs the tasks and kswapd step by step, picking with
//! the seeded generator whenever the running task blocks, until all are
//! done, stuck, or the step bound is reached.

use super::*;

impl Sim {
    /// Runs to the end and returns the report.
    pub fn run(self) -> Report {
        self.run_timeline().0
    }

    /// The simulated machine: its event counters ([`Machine::event`]) say
    /// what the allocator did so far (the fills included).
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Runs to the end like [`Sim::run`], and gives the machine back with
    /// the report, for its counters.
    pub fn run_machine(self) -> (Report, Machine) {
        let (report, _, machine) = self.run_parts();
        (report, machine)
    }

    /// Runs to the end and returns the report, and the timeline when
    /// [`SimConfig::record_timeline`] is set.
    pub fn run_timeline(self) -> (Report, Option<Timeline>) {
        let (report, timeline, _) = self.run_parts();
        (report, timeline)
    }

    pub(super) fn run_parts(mut self) -> (Report, Option<Timeline>, Machine) {
        while self.steps < self.config.max_steps && !self.halted {
            if !self.step() {
                break;
            }
        }
        self.end_of_run_checks();
        let timeline = self.finish_recording();
        let report = self.report();
        // Calls still blocked on kernel stacks (stuck tasks) unwind here,
        // their guards releasing what they hold, before the machine goes.
        for t in &mut self.tasks {
            t.stack = None;
        }
        self.kswapd = None;
        let machine = Rc::try_unwrap(self.machine)
            .unwrap_or_else(|_| unreachable!("kernel stacks held the only other handles"));
        (report, timeline, machine)
    }

    pub(super) fn kswapd_pending(&self) -> Option<usize> {
        (0..self.machine.nr_nodes()).find(|&n| self.vm.kswapd_pending(n))
    }

    /// kswapd's run is blocked on its stack (an I/O wait, a throttle).
    pub(super) fn kswapd_busy(&self) -> bool {
        self.kswapd.as_ref().is_some_and(|k| k.busy())
    }

    /// kswapd can run at `now`: its blocked run's wait is over, or it was
    /// woken and is idle.
    pub(super) fn kswapd_runnable(&self, now: u64) -> bool {
        if self.kswapd_busy() {
            self.kswapd_wake_at <= now
        } else {
            self.kswapd_pending().is_some()
        }
    }

    /// Whether task `i` can run at `now`: not done, awake, not parked (an
    /// interrupt handler waiting for its moment), not waiting for a held
    /// lock.
    pub(super) fn can_run(&self, i: usize, now: u64) -> bool {
        let t = &self.tasks[i];
        t.done.is_none()
            && t.wake_at <= now
            && !t.parked
            && !matches!(t.waiting_on, Some(l) if self.locks[l].owner.is_some())
    }

    /// One scheduler step; `false` when nothing can run any more.
    pub(super) fn step(&mut self) -> bool {
        let now = self.env.now_ns();
        // The running task keeps the CPU while it can run: the pick below
        // would be it, so the others need not be listed.
        if let Some(c) = self.current.filter(|&c| self.can_run(c, now)) {
            self.steps += 1;
            self.run_pick(Some(c), now);
            return true;
        }
        let mut runnable = std::mem::take(&mut self.runnable);
        runnable.clear();
        for i in 0..self.tasks.len() {
            if self.can_run(i, now) {
                runnable.push(Some(i));
            }
        }
        if self.kswapd_runnable(now) {
            runnable.push(None);
        }
        if runnable.is_empty() {
            self.runnable = runnable;
            let sleeping = self
                .tasks
                .iter()
                .filter(|t| t.done.is_none() && t.wake_at > now && !t.parked)
                .map(|t| t.wake_at)
                .chain(self.kswapd_busy().then_some(self.kswapd_wake_at))
                .min();
            if let Some(w) = sleeping {
                self.env.inner.advance(w - now);
                return true;
            }
            if self.fire_on_idle() {
                return true;
            }
            // Everyone left waits on a lock nobody will release.
            for i in 0..self.tasks.len() {
                if self.tasks[i].done.is_none() {
                    if let Some(l) = self.tasks[i].waiting_on {
                        let owner = self.locks[l].owner;
                        let msg = match owner {
                            Some(o) => format!(
                                "waits{} for lock {} held by {}, which can never release it",
                                self.wait_where(i),
                                self.locks[l].name,
                                self.tasks[o].name
                            ),
                            None => format!("waits for lock {}", self.locks[l].name),
                        };
                        self.finding(i, Rule::Deadlock, msg);
                    }
                    self.tasks[i].done = Some(Outcome::Stuck);
                }
            }
            return false;
        }
        self.steps += 1;
        // The running task keeps the CPU until a blocking point; then the
        // seeded generator picks among everything runnable (kswapd too).
        let pick = match self.current {
            Some(c) if runnable.contains(&Some(c)) => Some(c),
            _ => runnable[self.rng.below(runnable.len())],
        };
        self.runnable = runnable;
        self.run_pick(pick, now);
        true
    }

    /// Runs the step's pick (`None`: kswapd) and records the step.
    pub(super) fn run_pick(&mut self, pick: Option<usize>, now: u64) {
        self.current = pick;
        self.blocked = false;
        match pick {
            None => self.run_kswapd(now),
            Some(i) => {
                self.exec(i);
                let t = &self.tasks[i];
                if self.blocked
                    || t.done.is_some()
                    || t.waiting_on.is_some()
                    || t.wake_at > self.env.now_ns()
                {
                    self.current = None;
                }
                if !self.irqs.handlers.is_empty() {
                    self.after_step(i);
                }
            }
        }
        if pick.is_none() {
            self.current = None;
        }
        self.record_step(pick, now);
    }

    /// Runs kswapd on its own stack: a new run on the first node that woke
    /// it, or the blocked run, until it blocks (its I/O waits and
    /// throttles let the tasks run) or ends.
    pub(super) fn run_kswapd(&mut self, now: u64) {
        let busy = self.kswapd_busy();
        let nid = if busy { None } else { self.kswapd_pending() };
        if !busy && nid.is_none() {
            return;
        }
        let kernel = self.kernel();
        self.publish(Actor::Kswapd);
        let stack = self
            .kswapd
            .get_or_insert_with(|| stack::KernelStack::new(kernel, Rc::from("kswapd0")));
        let step = match nid {
            Some(nid) => stack.start(stack::Call::Kswapd(nid), Task::new()),
            None => stack.wake(false),
        };
        self.world.lock().actor = Actor::Outside;
        match step {
            stack::Step::Done(_) => self.kswapd_runs += 1,
            stack::Step::Blocked(stack::Block::Sleep(ns)) => {
                self.kswapd_wake_at = now.saturating_add(ns);
            }
            // kswapd takes no simulator lock and no mempool element: what
            // is left is a point where the CPU may go elsewhere.
            stack::Step::Blocked(_) => self.kswapd_wake_at = now,
        }
    }

    pub(super) fn abort(&mut self, i: usize) {
        let t = &mut self.tasks[i];
        t.done = Some(Outcome::Aborted);
        for l in std::mem::take(&mut t.held) {
            self.locks[l].owner = None;
        }
    }

    /// Tasks the OOM killer chose end: their programs stop and their locks
    /// are released as they exit.
    #[inline]
    pub(super) fn reap_killed(&mut self) {
        let kills = self.vm.oom_kills();
        if kills == self.kills_seen {
            return;
        }
        self.kills_seen = kills;
        for j in 0..self.tasks.len() {
            let pid = self.tasks[j].pid;
            if self.tasks[j].done.is_none() && self.vm.proc_info(pid).is_some_and(|p| p.exited) {
                self.tasks[j].done = Some(Outcome::Killed);
                for l in std::mem::take(&mut self.tasks[j].held) {
                    self.locks[l].owner = None;
                }
            }
        }
    }
}
