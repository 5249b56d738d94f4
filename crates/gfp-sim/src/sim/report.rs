//! The report of a run: the detectors' rules ([`Rule`]), their findings,
//! how each task ended, and the text `gfp sim` prints.

use super::*;
use gfp_mm::memcg::MemcgEvents;

/// A detector's rule, with a stable id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// An allocation that may sleep (`__GFP_DIRECT_RECLAIM` after scopes),
    /// a sleeping lock or a sleep, in atomic context (spinlock held, IRQs
    /// off, RCU read section, softirq or hardirq).
    SleepInAtomic,
    /// A `__GFP_NOFAIL` allocation returned no page.
    NofailFailed,
    /// An allocation failed where its caller has no failure path, or a
    /// failed allocation's memory was used.
    UnhandledFailure,
    /// An allocation that may enter FS reclaim under a lock the
    /// filesystem's reclaim path takes (lockdep's `fs_reclaim` map).
    ReclaimRecursion,
    /// A wait-for cycle between tasks and locks, or a lock taken twice by
    /// its holder, or a wait on a lock no task will release.
    Deadlock,
    /// Memory from a zone (or node, with `__GFP_THISNODE`) the call site's
    /// mask cannot use.
    WrongZone,
    /// Memory read as zero that was not zeroed.
    NotZeroed,
    /// Calls nested beyond the simulator's bound.
    UnboundedRecursion,
    /// Compound metadata (`__GFP_COMP`) on a high-order page whose call
    /// site did not ask for it, or missing where it did.
    Compound,
    /// Allocations ran with a zone below its low watermark and kswapd was
    /// never woken (a scope cleared `__GFP_KSWAPD_RECLAIM`).
    KswapdNotWoken,
    /// Allocations without watermarks (PF_MEMALLOC, `__GFP_MEMALLOC`)
    /// drained a zone's reserves below what atomic allocations and reclaim
    /// itself need.
    ReservesDrained,
    /// An allocation that loops without progress (a `__GFP_NOFAIL`
    /// request that cannot be satisfied): the run stops there.
    AllocStall,
    /// An allocation whose call site asked for `__GFP_ACCOUNT`, made by a
    /// task in a memory cgroup, that was not charged to the group: it
    /// escapes the group's limit.
    MemcgEscape,
    /// A program that misuses the simulated kernel API (unlocking a lock
    /// it does not hold, freeing an unknown variable, unbalanced IRQ/RCU).
    ProgramError,
    /// A spinlock an interrupt handler takes is also taken with that
    /// interrupt enabled (lockdep's "inconsistent lock state"): the handler
    /// can interrupt the holder on its CPU and spin forever. Fires whether
    /// or not the interrupt came at the bad moment.
    IrqUnsafeLock,
    /// The run stopped at the scheduler's step limit
    /// ([`SimConfig::max_steps`]) with tasks unfinished: what they would
    /// have done is unknown, so the run is not clean.
    StepLimit,
    /// A page its call site cannot migrate or shrink, filed by the
    /// allocator as movable or reclaimable (a scope's mobility flag) and
    /// placed in a pageblock compaction, offlining or reclaim could empty
    /// before it: now they cannot.
    PinnedBlock,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 17] = [
        Rule::SleepInAtomic,
        Rule::NofailFailed,
        Rule::UnhandledFailure,
        Rule::ReclaimRecursion,
        Rule::Deadlock,
        Rule::WrongZone,
        Rule::NotZeroed,
        Rule::UnboundedRecursion,
        Rule::Compound,
        Rule::KswapdNotWoken,
        Rule::ReservesDrained,
        Rule::AllocStall,
        Rule::MemcgEscape,
        Rule::ProgramError,
        Rule::IrqUnsafeLock,
        Rule::StepLimit,
        Rule::PinnedBlock,
    ];

    /// The stable id.
    pub const fn id(self) -> &'static str {
        match self {
            Rule::SleepInAtomic => "sleep-in-atomic",
            Rule::NofailFailed => "nofail-failed",
            Rule::UnhandledFailure => "unhandled-failure",
            Rule::ReclaimRecursion => "reclaim-recursion",
            Rule::Deadlock => "deadlock",
            Rule::WrongZone => "wrong-zone",
            Rule::NotZeroed => "not-zeroed",
            Rule::UnboundedRecursion => "unbounded-recursion",
            Rule::Compound => "compound",
            Rule::KswapdNotWoken => "kswapd-not-woken",
            Rule::ReservesDrained => "reserves-drained",
            Rule::AllocStall => "alloc-stall",
            Rule::MemcgEscape => "memcg-escape",
            Rule::ProgramError => "program-error",
            Rule::IrqUnsafeLock => "irq-unsafe-lock",
            Rule::StepLimit => "step-limit",
            Rule::PinnedBlock => "pinned-block",
        }
    }
}

/// One detector finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// The rule's id.
    pub rule_id: &'static str,
    /// The task.
    pub task: String,
    /// Where in the program: the call chain and the operation.
    pub at: String,
    /// Virtual time in nanoseconds.
    pub time_ns: u64,
    /// What happened.
    pub message: String,
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Ran its program to the end.
    Completed,
    /// Stopped by a finding it cannot continue past (a NULL dereference,
    /// a self-deadlock, unbounded recursion).
    Aborted,
    /// Waits forever (deadlock).
    Stuck,
    /// The step bound was reached first.
    Unfinished,
    /// Killed by the OOM killer.
    Killed,
}

/// Per-task results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    /// The task's name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Operations executed.
    pub steps: u64,
    /// Allocations made.
    pub allocations: u64,
    /// Allocations that failed.
    pub failures: u64,
    /// Sum of allocation latencies (virtual ns).
    pub latency_total_ns: u64,
    /// Largest allocation latency (virtual ns).
    pub latency_max_ns: u64,
}

/// What became of a declared memory cgroup (`memory.current` and
/// `memory.events` at the end of the run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemcgReport {
    /// The group's name.
    pub name: String,
    /// `memory.current`: pages charged to it at the end.
    pub usage: u64,
    /// Its `memory.events` (flattened into the JSON object).
    #[serde(flatten)]
    pub events: MemcgEvents,
}

/// The simulation's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Virtual time at the end (ns).
    pub time_ns: u64,
    /// Scheduler steps.
    pub steps: u64,
    /// Per task.
    pub tasks: Vec<TaskReport>,
    /// kswapd wake-ups.
    pub kswapd_wakeups: u64,
    /// kswapd runs.
    pub kswapd_runs: u64,
    /// Pages reclaimed by kswapd.
    pub pgsteal_kswapd: u64,
    /// Pages reclaimed by direct reclaim.
    pub pgsteal_direct: u64,
    /// OOM kills.
    pub oom_kills: u64,
    /// Calls of the filesystem's shrinker that took its `fs-reclaim` locks
    /// and allocated (reclaim with `__GFP_FS`).
    pub fs_reclaim_calls: u64,
    /// Pages of the filesystem's caches (`fill fs-cache`) its shrinker
    /// freed.
    pub fs_cache_freed: u64,
    /// Swap-out writes the swap device failed (the pages stayed).
    pub swap_write_errors: u64,
    /// Writeback writes the filesystem's device failed (the mapping kept
    /// the error).
    pub writeback_errors: u64,
    /// `io` requests that failed.
    pub io_errors: u64,
    /// Every finding, in order.
    pub findings: Vec<Finding>,
    /// The declared memory cgroups, in declaration order. Left out of the
    /// JSON when there are none, so that reports of scenarios without
    /// groups read as before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub memcgs: Vec<MemcgReport>,
}

impl Report {
    /// Whether any detector fired.
    pub fn clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// Whether every task ran its program to the end.
    pub fn all_completed(&self) -> bool {
        self.tasks.iter().all(|t| t.outcome == Outcome::Completed)
    }

    /// Whether `rule` fired.
    pub fn has(&self, rule: Rule) -> bool {
        self.findings.iter().any(|f| f.rule == rule)
    }

    /// The report as text (deterministic).
    pub fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "scenario {} (seed {})", self.scenario, self.seed);
        let _ = writeln!(o, "virtual time {} ns, {} steps", self.time_ns, self.steps);
        let _ = writeln!(o, "tasks:");
        for t in &self.tasks {
            let _ = writeln!(
                o,
                "  {:<16} {:<10} steps {:>4}  allocations {:>4} failed {:>3}  latency total {} ns max {} ns",
                t.name,
                match t.outcome {
                    Outcome::Completed => "completed",
                    Outcome::Aborted => "aborted",
                    Outcome::Stuck => "stuck",
                    Outcome::Unfinished => "unfinished",
                    Outcome::Killed => "killed",
                },
                t.steps,
                t.allocations,
                t.failures,
                t.latency_total_ns,
                t.latency_max_ns
            );
        }
        let _ = writeln!(
            o,
            "kswapd: {}, {}, {} reclaimed; direct reclaim {}; OOM kills {}",
            counted(self.kswapd_wakeups, "wake-up", "wake-ups"),
            counted(self.kswapd_runs, "run", "runs"),
            counted(self.pgsteal_kswapd, "page", "pages"),
            counted(self.pgsteal_direct, "page", "pages"),
            self.oom_kills
        );
        // Only when something happened there: reports of scenarios without
        // a filesystem or failing devices read as before.
        if self.fs_reclaim_calls > 0 {
            let _ = writeln!(
                o,
                "filesystem reclaim: {} calls took its locks and allocated, {} cache pages freed",
                self.fs_reclaim_calls, self.fs_cache_freed
            );
        }
        if self.swap_write_errors + self.writeback_errors + self.io_errors > 0 {
            let _ = writeln!(
                o,
                "device errors: swap writes {}, writeback {}, block I/O {}",
                self.swap_write_errors, self.writeback_errors, self.io_errors
            );
        }
        for m in &self.memcgs {
            let e = &m.events;
            let _ = writeln!(
                o,
                "memcg {}: {} charged; events low {} high {} max {} oom {} oom_kill {} oom_group_kill {}",
                m.name,
                counted(m.usage, "page", "pages"),
                e.low,
                e.high,
                e.max,
                e.oom,
                e.oom_kill,
                e.oom_group_kill
            );
        }
        if self.findings.is_empty() {
            let _ = writeln!(o, "findings: none");
        } else {
            let _ = writeln!(o, "findings ({}):", self.findings.len());
            for f in &self.findings {
                let _ = writeln!(
                    o,
                    "  [{}] {} at {} (t={} ns): {}",
                    f.rule_id, f.task, f.at, f.time_ns, f.message
                );
            }
        }
        o
    }
}

impl Sim {
    /// The report of the run so far (its findings move into it).
    pub(super) fn report(&mut self) -> Report {
        let stats = self.vm.stats();
        let world = self.world.lock();
        let tasks = self
            .tasks
            .iter()
            .map(|t| TaskReport {
                outcome: t.done.unwrap_or(Outcome::Unfinished),
                ..t.report.clone()
            })
            .collect();
        Report {
            scenario: self
                .scenario
                .name
                .clone()
                .unwrap_or_else(|| "unnamed".into()),
            seed: self.config.seed,
            time_ns: self.env.now_ns(),
            steps: self.steps,
            tasks,
            kswapd_wakeups: self.env.inner.kswapd_wakeups(),
            kswapd_runs: self.kswapd_runs,
            pgsteal_kswapd: stats.pgsteal_kswapd,
            pgsteal_direct: stats.pgsteal_direct,
            oom_kills: stats.oom_kill,
            fs_reclaim_calls: world.fs_calls,
            fs_cache_freed: self.fs_shrinker.as_ref().map_or(0, |s| s.cache.freed()),
            swap_write_errors: stats.swap_write_errors,
            writeback_errors: stats.writeback_errors,
            io_errors: world.devices.io_errors,
            findings: std::mem::take(&mut self.findings),
            memcgs: self.memcg_reports(),
        }
    }
}

impl Sim {
    /// Each declared group's usage and events, as the model holds them now.
    fn memcg_reports(&self) -> Vec<MemcgReport> {
        self.scenario
            .memcgs
            .iter()
            .zip(&self.memcg_ids)
            .filter_map(|(d, &id)| {
                let g = self.vm.memcg(id)?;
                Some(MemcgReport {
                    name: d.name.clone(),
                    usage: g.usage,
                    events: g.events,
                })
            })
            .collect()
    }
}

/// `n` with the noun that agrees with it: "1 run", "2 runs".
pub(crate) fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}
