//! The simulator: runs a [`Scenario`]'s tasks step by step over gfp-mm's
//! [`Machine`] and [`Vm`] with virtual time ([`VirtualEnv`]), picking the
//! next task with a seeded xorshift generator, and checks every step
//! against the detectors ([`Rule`]).
//!
//! Each task keeps its scopes in its own [`gfp::TaskContext`], entered with
//! [`ScopeChange`] whatever the policy says, so the scopes the typed API
//! refuses run here and show what they break. Allocations go through
//! [`Vm::alloc_pages`] (lockdep's `fs_reclaim` check, memcg) and the real
//! slow path: direct reclaim, compaction, OOM. One operation is one step;
//! the scheduler switches tasks between steps and at every blocking point
//! (a contended lock, a sleep, I/O), including those deep inside the
//! allocator: calls that may block run on the task's own kernel stack
//! (module `stack`) and are suspended there while others run.
//!
//! Reclaim reaches the scenario's filesystem and block layer through the
//! simulator's lock model (module `reclaim`), devices have a latency and
//! injected errors (module `devices`), and interrupt handlers run on the
//! CPU of the task they interrupt (module `irq`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

use gfp::context::{ScopeChange, ScopeToken};
use gfp::policy::{self, Direction};
use gfp::{Gfp, TaskContext, TaskFlags};
use gfp_mm::lockdep::LockId;
use gfp_mm::memcg::MemcgId;
use gfp_mm::mempool::Mempool;
use gfp_mm::shrinker::PageCacheShrinker;
use gfp_mm::slab::{Obj, ObjExtMode, Slab, SlabError};
use gfp_mm::{
    AllocError, CpusetId, Cx, Environment, ExecContext, Machine, MachineSpec, NoProgress, NodeMask,
    NodeSpec, Page, PageSpec, Pid, Task, VirtualEnv, Vm, VmConfig,
};
use serde::Serialize;

use crate::format::{
    Alloc, Fill, Kmalloc, LockKind, MachineDecl, Op, PcpSizing, PoolAlloc, Scenario, Scope,
    TaskContextKind,
};
use crate::timeline::Timeline;

mod devices;
mod fast;
mod irq;
mod reclaim;
mod record;
mod stack;

pub use devices::DEFAULT_LATENCY_NS;
use fast::{Blocks, OpInfo, NONE};
use reclaim::{Actor, FsShrinker, ReclaimPath, World};

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
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 15] = [
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
}

impl Report {
    /// Whether any detector fired.
    pub fn clean(&self) -> bool {
        self.findings.is_empty()
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
            "kswapd: {} wake-ups, {} runs, {} pages reclaimed; direct reclaim {} pages; OOM kills {}",
            self.kswapd_wakeups, self.kswapd_runs, self.pgsteal_kswapd, self.pgsteal_direct, self.oom_kills
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

/// Simulation parameters.
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    /// The scheduler's seed.
    pub seed: u64,
    /// Upper bound on scheduler steps.
    pub max_steps: u64,
    /// Deepest call nesting before `unbounded-recursion`.
    pub max_depth: usize,
    /// Record a [`Timeline`] (zone free pages and watermarks, reclaim
    /// activity, task and kswapd events) for [`Sim::run_timeline`]. Off by
    /// default: it costs a look at every zone after each step. It never
    /// changes the report.
    pub record_timeline: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            max_steps: 100_000,
            max_depth: 64,
            record_timeline: false,
        }
    }
}

/// The scheduler's generator: xorshift64*, deterministic per seed.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is remapped, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> XorShift {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Virtual time one allocation may spend before the simulator calls it
/// stalled (the kernel would keep looping): 60 s.
pub const STALL_NS: u64 = 60_000_000_000;

/// Blocking points one allocation may pass before the simulator calls it
/// stalled.
pub const STALL_CALLS: u32 = 2_000;

/// Unwinds out of a stalled allocation (carries no message; never shown).
struct Stall;

/// [`VirtualEnv`] with a watchdog, whose blocking points give the CPU
/// away.
///
/// A blocking point reached on a task's kernel stack (module `stack`)
/// suspends the call there: the scheduler runs others and resumes it when
/// its wait is over. While armed, a blocking point past [`STALL_NS`] of
/// virtual time (or [`STALL_CALLS`] of them) in one allocation unwinds out
/// of the allocator. Blocking points run with no allocator lock held, and
/// the allocator's locks are released by their guards.
struct SimEnv {
    inner: VirtualEnv,
    armed: std::cell::Cell<Option<u64>>,
    calls: std::cell::Cell<u32>,
    /// The lock holders and devices reclaim's I/O reaches.
    world: Arc<World>,
}

impl SimEnv {
    fn check(&self) {
        if let Some(start) = self.armed.get() {
            self.calls.set(self.calls.get() + 1);
            if self.inner.now_ns().wrapping_sub(start) > STALL_NS || self.calls.get() > STALL_CALLS
            {
                self.armed.set(None);
                std::panic::resume_unwind(Box::new(Stall));
            }
        }
    }
}

impl Environment for SimEnv {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.inner.now_ns()
    }
    fn cond_resched(&self) {
        // The CPU time the loop took, then a point where another task may
        // run.
        self.inner.cond_resched();
        let _ = stack::block(stack::Block::Resched);
        self.check();
    }
    fn sleep_ns(&self, ns: u64) {
        if stack::block(stack::Block::Sleep(ns)).is_none() {
            self.inner.sleep_ns(ns);
        }
        self.check();
    }
    fn wake_kswapd(&self, nid: gfp_mm::NodeId, order: u32, highest: gfp::zone::ZoneType) {
        self.inner.wake_kswapd(nid, order, highest);
    }
    fn wait_for_event(&self, event: gfp_mm::env::WaitEvent, timeout_ns: u64) -> bool {
        if let gfp_mm::env::WaitEvent::PoolElement(id) = event {
            let b = stack::Block::Pool { id, timeout_ns };
            if let Some(woken) = stack::block(b) {
                self.check();
                return woken;
            }
        }
        self.sleep_ns(timeout_ns);
        false
    }
    fn notify(&self, event: gfp_mm::env::WaitEvent) {
        if let gfp_mm::env::WaitEvent::PoolElement(id) = event {
            self.world.lock().pool_notified.push(id);
        }
    }
    fn start_io(&self, _io: gfp_mm::env::IoRequest) {
        // The block layer's submission path: takes the io-reclaim locks.
        self.world.submit_io();
    }
    fn swap_write_fails(&self, _nid: gfp_mm::NodeId) -> bool {
        self.world.lock().devices.swap_write_fails()
    }
    fn writeback_fails(&self, _nid: gfp_mm::NodeId) -> bool {
        self.world.lock().devices.writeback_fails()
    }
    fn log(&self, level: gfp_mm::LogLevel, line: &str) {
        self.inner.log(level, line);
    }
}

/// Why a scenario could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

enum FrameKind {
    Body,
    Repeat(u32),
    Call(String),
    Scope(ScopeToken),
    /// An `io` in flight: when its body (submission, the device's latency)
    /// is done, the request completes on this device (`None`: the default
    /// one) and its status goes to the variable.
    Io(Option<usize>, Option<String>),
}

struct Frame {
    ops: Rc<[Op]>,
    pc: usize,
    kind: FrameKind,
    /// Per operation of `ops`: the compiled block it enters (so that
    /// entering a body clones no operation) and its variable's slot.
    info: Rc<[OpInfo]>,
}

#[derive(Clone, Copy)]
enum Var {
    Page {
        page: Page,
        order: u32,
    },
    Obj(Obj),
    Pool {
        pool: usize,
        page: Page,
    },
    /// The status of an `io` or `fsync` that succeeded (a failed one is
    /// [`Var::Failed`]).
    IoDone,
    Failed,
    Freed,
}

struct TaskState {
    name: String,
    context: TaskContextKind,
    pid: Pid,
    ctx: TaskContext,
    frames: Vec<Frame>,
    /// Variables by slot ([`Sim::var`], [`Sim::set_var`]).
    vars: Vec<Option<Var>>,
    held: Vec<usize>,
    spin: u32,
    irq_off: u32,
    /// `local_bh_disable()` depth (`spin_lock_bh` included).
    bh_off: u32,
    rcu: u32,
    wake_at: u64,
    waiting_on: Option<usize>,
    done: Option<Outcome>,
    report: TaskReport,
    /// Its memory cgroup (the root for none).
    memcg: MemcgId,
    /// Its cpuset and nodes, when not the root's.
    cpuset: Option<(CpusetId, NodeMask)>,
    /// Its allocation waits in reclaim for `waiting_on` (the path that
    /// wanted the lock); reclaim goes on once it is free.
    reclaim_wait: Option<ReclaimPath>,
    /// The allocation at `pc` is blocked on the task's kernel stack and
    /// resumes when the operation runs again: the checks made before the
    /// allocator runs have reported already.
    retrying: bool,
    /// Its `mempool_alloc()` sleeps until an element of this pool (wait
    /// event id) comes back.
    pool_wait: Option<u64>,
    /// Its `mempool_alloc()` wait ended by an element coming back, not by
    /// the timeout.
    pool_woken: bool,
    /// The stall watchdog of an allocation blocked on the task's kernel
    /// stack: its first start and blocking points so far.
    alloc_watch: Option<(u64, u32)>,
    /// Where its calls into the allocator run (made on the first).
    stack: Option<stack::KernelStack>,
    /// Not runnable for the scheduler: an interrupt handler that has not
    /// fired, or a task its handler interrupted.
    parked: bool,
    /// The handler running on this task's CPU, which it waits for.
    interrupted_by: Option<usize>,
    /// For an interrupt handler (`interrupts=TASK`): its state.
    irq: Option<irq::Handler>,
}

struct LockState {
    name: String,
    kind: LockKind,
    io_reclaim: bool,
    owner: Option<usize>,
    id: LockId,
}

/// A prepared simulation.
pub struct Sim {
    scenario: Scenario,
    config: SimConfig,
    machine: Rc<Machine>,
    vm: Arc<Vm>,
    env: Rc<SimEnv>,
    /// The slab allocator, made on the first `kmalloc`.
    slab: Option<Rc<Slab>>,
    /// Declared memory pools, in declaration order.
    pools: Vec<(String, Rc<Mempool>)>,
    /// kswapd's kernel stack, and when its blocked run may go on.
    kswapd: Option<stack::KernelStack>,
    kswapd_wake_at: u64,
    /// Slab objects holding an earlier owner's data.
    dirty_objs: BTreeSet<usize>,
    /// I/O-reclaim locks already reported.
    io_reported: BTreeSet<usize>,
    /// OOM kills already turned into killed tasks.
    kills_seen: u64,
    rng: XorShift,
    tasks: Vec<TaskState>,
    locks: Vec<LockState>,
    functions: BTreeMap<String, Rc<[Op]>>,
    /// What reclaim inside the allocator sees of the simulator.
    world: Arc<World>,
    /// The filesystem's shrinker, when the scenario has a filesystem.
    fs_shrinker: Option<Arc<FsShrinker>>,
    /// Interrupt handlers (task indices), and how each lock has been used
    /// with respect to interrupts (lockdep's usage bits).
    irqs: irq::Irqs,
    /// Per page frame: it holds an earlier owner's data.
    dirty: Vec<bool>,
    findings: Vec<Finding>,
    steps: u64,
    kswapd_runs: u64,
    /// The task on the CPU: it keeps running until it blocks.
    current: Option<usize>,
    /// Set by an operation that blocked (slept, waited, reclaimed).
    blocked: bool,
    /// An allocation stalled: the run stops.
    halted: bool,
    /// Lockdep reports already turned into findings.
    reports_seen: usize,
    /// kswapd wake-ups when the tasks started.
    wakeups_at_start: u64,
    /// The first allocation made while a zone sat below its low watermark.
    below_low: Option<(String, String, u64)>,
    /// Zones already reported as drained.
    drained: BTreeSet<usize>,
    /// The timeline being recorded ([`SimConfig::record_timeline`]).
    timeline: Option<Box<record::Recorder>>,
    /// Every block of operations, compiled once.
    blocks: Blocks,
    /// The blocks of the filesystem's operations (`fs_call`) and of the
    /// block layer's submission per block device (`io`; by device index,
    /// the default device's last).
    fs_block: u32,
    io_blocks: Vec<u32>,
    /// The scheduler's list of runnable tasks, kept between steps.
    runnable: Vec<Option<usize>>,
    /// The variable of the operation being executed: its name's address
    /// and length (the name lives in a compiled block), and its slot.
    op_var: (usize, usize, u32),
}

/// The machine a declaration names.
pub fn machine_spec(decl: &MachineDecl) -> MachineSpec {
    match decl {
        MachineDecl::Preset(p) => match p.as_str() {
            "test-64mib" => MachineSpec::test_64mib(),
            "highmem-32bit" => MachineSpec::highmem_32bit(),
            "small-numa" => small(
                "small-numa",
                vec![
                    NodeSpec::new(64, 192, 384, 0, 0),
                    NodeSpec::new(0, 0, 256, 0, 128),
                ],
            ),
            "small-highmem" => small("small-highmem", vec![NodeSpec::new(64, 0, 448, 512, 0)]),
            _ => MachineSpec::default_machine(),
        },
        MachineDecl::Pages(n, pcp) => {
            let mut s = MachineSpec::new("sim", vec![NodeSpec::new(0, 0, *n, 0, 0)], 1);
            if *pcp == PcpSizing::Small {
                s.tunables.pcp_batch = Some(1);
                s.tunables.pcp_high = Some(4);
            }
            s.tunables.pageblock_order = 5;
            s
        }
    }
}

/// A machine of 1024 pages, small enough to build and fill in a fraction
/// of a millisecond, with the proportions that matter on a real machine
/// kept: the reserves below the min watermark hold several times the
/// largest single request (order 3) of an ordinary call site, as a real
/// machine's hold thousands of pages (`min_free_kbytes` 1 MiB: a quarter
/// of memory here); ZONE_DMA is out of reach of allocations that may use
/// higher zones (`lowmem_reserve_ratio` 1, as a 16 MiB ZONE_DMA below
/// gigabytes of higher zones is entirely covered by its reserve).
fn small(name: &str, nodes: Vec<NodeSpec>) -> MachineSpec {
    let mut s = MachineSpec::new(name, nodes, 1);
    s.tunables.min_free_kbytes = Some(1024);
    s.tunables.lowmem_reserve_ratio = [1, 256, 32, 0, 0];
    s.tunables.pcp_batch = Some(1);
    s.tunables.pcp_high = Some(4);
    s.tunables.pageblock_order = 5;
    s
}

/// Fills memory without reclaim and without waking kswapd.
const FILL_MASK: Gfp = Gfp::HIGHUSER_MOVABLE
    .difference(Gfp::DIRECT_RECLAIM)
    .difference(Gfp::KSWAPD_RECLAIM)
    .union(Gfp::NOWARN);

/// Fills the filesystem's caches (`fill fs-cache`): reclaimable slab pages,
/// without reclaim and without waking kswapd.
const FS_CACHE_MASK: Gfp = Gfp::KERNEL
    .union(Gfp::RECLAIMABLE)
    .difference(Gfp::DIRECT_RECLAIM)
    .difference(Gfp::KSWAPD_RECLAIM)
    .union(Gfp::NOWARN);

/// Swap pages when the scenario does not say (`swap N`).
pub const DEFAULT_SWAP_PAGES: u64 = 1024;

/// The simulated block device's latency.
pub const IO_LATENCY_NS: u64 = 100_000;

impl Sim {
    /// Builds the machine, fills memory and creates the tasks.
    ///
    /// The calling thread, which runs the simulation (a `Sim` stays on its
    /// thread), becomes the owner of the machine's per-CPU lists (see
    /// [`gfp_mm::rt::own_per_cpu_lists`]): no other thread uses them.
    pub fn new(scenario: &Scenario, config: SimConfig) -> Result<Sim, SetupError> {
        gfp_mm::rt::own_per_cpu_lists();
        let spec = machine_spec(&scenario.machine);
        let machine = Machine::new(spec).map_err(|e| SetupError(format!("machine: {e}")))?;
        let devices = devices::Devices::new(&scenario.devices, config.seed);
        let mut vm_config = VmConfig {
            swap_pages: scenario.swap.unwrap_or(DEFAULT_SWAP_PAGES),
            ..VmConfig::default()
        };
        // Declared devices set the latencies of reclaim's I/O: swap-out on
        // the swap device, writeback on the filesystem's (first block) one.
        if let Some(d) = devices.swap {
            vm_config.swap_latency_ns = devices.list[d].latency_ns;
        }
        if let Some(d) = devices.fs {
            vm_config.writeback_latency_ns = devices.list[d].latency_ns;
        }
        let io_bodies = Self::io_bodies(scenario, &devices);
        let vm = Arc::new(Vm::new(&machine, vm_config));
        let reclaim_locks = |io: bool| -> Vec<usize> {
            (scenario.locks.iter().enumerate())
                .filter(|(_, l)| if io { l.io_reclaim } else { l.fs_reclaim })
                .map(|(i, _)| i)
                .collect()
        };
        let fs_locks = reclaim_locks(false);
        let world = World::new(
            scenario.locks.len(),
            fs_locks.clone(),
            reclaim_locks(true),
            devices,
        );
        let fs_cache = scenario.fills.iter().any(|f| f.kind == Fill::FsCache);
        let fs_shrinker = (!fs_locks.is_empty() || fs_cache).then(|| {
            // The filesystem's shrinker: reclaim with __GFP_FS calls it.
            let s = Arc::new(FsShrinker {
                world: world.clone(),
                cache: PageCacheShrinker::new("fs-cache", true),
                has_locks: !fs_locks.is_empty(),
            });
            vm.register_shrinker(s.clone());
            s
        });
        let env = SimEnv {
            inner: VirtualEnv::new(),
            armed: std::cell::Cell::new(None),
            calls: std::cell::Cell::new(0),
            world: world.clone(),
        };
        let mut locks = Vec::new();
        for l in &scenario.locks {
            let id = vm.lockdep().register(&l.name);
            if l.fs_reclaim {
                vm.lockdep()
                    .taken_in_fs_reclaim(id, &format!("fs reclaim path (lock {})", l.name));
            }
            locks.push(LockState {
                name: l.name.clone(),
                kind: l.kind,
                io_reclaim: l.io_reclaim,
                owner: None,
                id,
            });
        }
        let functions = scenario
            .functions
            .iter()
            .map(|f| (f.name.clone(), Rc::from(f.body.clone())))
            .collect();
        // The filesystem: takes its reclaim-path locks and allocates.
        let mut fs = Vec::new();
        for l in scenario.locks.iter().filter(|l| l.fs_reclaim) {
            if l.kind == LockKind::Sleeping {
                fs.push(Op::Lock(l.name.clone()));
            }
        }
        fs.push(Op::Alloc(Alloc {
            var: "fs-page".into(),
            mask: Gfp::KERNEL,
            order: 0,
            node: None,
            no_failure_path: false,
        }));
        fs.push(Op::Free("fs-page".into()));
        for l in scenario.locks.iter().filter(|l| l.fs_reclaim).rev() {
            if l.kind == LockKind::Sleeping {
                fs.push(Op::Unlock(l.name.clone()));
            }
        }
        // Pools are made at boot, before memory fills up.
        let mut pools = Vec::new();
        {
            let cx = Cx::new(0, Task::new().named("init"), &env, &*vm);
            let cx = vm.cx(&cx);
            for p in &scenario.mempools {
                let pool = Mempool::new_page_pool(&machine, &cx, p.min as usize, p.order)
                    .map_err(|e| SetupError(format!("mempool {}: {e}", p.name)))?;
                pools.push((p.name.clone(), Rc::new(pool)));
            }
        }
        let memcgs: BTreeMap<&str, MemcgId> = scenario
            .memcgs
            .iter()
            .map(|m| {
                let id = vm.memcg_create(MemcgId::ROOT, &m.name);
                vm.memcg_set_max(id, m.max);
                (m.name.as_str(), id)
            })
            .collect();
        let mut cpusets = BTreeMap::new();
        for c in &scenario.cpusets {
            let mut mask = NodeMask::EMPTY;
            for &n in &c.mems {
                if n as usize >= machine.nr_nodes() {
                    return Err(SetupError(format!(
                        "cpuset {}: node {n} does not exist (the machine has {} nodes)",
                        c.name,
                        machine.nr_nodes()
                    )));
                }
                mask = mask.with(n as usize);
            }
            let id = machine
                .create_cpuset(CpusetId::ROOT, &c.name, mask, c.hardwall, false)
                .map_err(|e| SetupError(format!("cpuset {}: {e}", c.name)))?;
            cpusets.insert(c.name.as_str(), (id, mask));
        }
        for f in &scenario.fills {
            if let Some(n) = f.node.filter(|&n| n as usize >= machine.nr_nodes()) {
                return Err(SetupError(format!(
                    "fill {} node={n}: the machine has {} nodes",
                    f.kind.name(),
                    machine.nr_nodes()
                )));
            }
        }
        let mut blocks = Blocks::with_functions(
            scenario
                .functions
                .iter()
                .map(|f| (f.name.as_str(), f.body.as_slice())),
        );
        let fs_block = blocks.compile(Rc::from(fs));
        let io_blocks: Vec<u32> = io_bodies.into_iter().map(|b| blocks.compile(b)).collect();
        let mut sim = Sim {
            scenario: scenario.clone(),
            config,
            machine: Rc::new(machine),
            vm,
            env: Rc::new(env),
            slab: None,
            pools,
            kswapd: None,
            kswapd_wake_at: 0,
            dirty_objs: BTreeSet::new(),
            io_reported: BTreeSet::new(),
            kills_seen: 0,
            rng: XorShift::new(config.seed),
            tasks: Vec::new(),
            locks,
            functions,
            world,
            fs_shrinker,
            irqs: irq::Irqs::new(scenario.locks.len()),
            dirty: Vec::new(),
            findings: Vec::new(),
            steps: 0,
            kswapd_runs: 0,
            current: None,
            halted: false,
            reports_seen: 0,
            blocked: false,
            wakeups_at_start: 0,
            below_low: None,
            drained: BTreeSet::new(),
            timeline: None,
            blocks,
            fs_block,
            io_blocks,
            runnable: Vec::new(),
            op_var: (0, 0, NONE),
        };
        // Tasks exist before memory is filled, so that fills can name them
        // as owners.
        for t in &scenario.tasks {
            let memcg = t
                .memcg
                .as_deref()
                .and_then(|m| memcgs.get(m).copied())
                .unwrap_or(MemcgId::ROOT);
            let pid = sim.vm.spawn_in(&t.name, 0, memcg);
            let body = sim.blocks.compile(Rc::from(t.body.as_slice()));
            let body = sim.blocks.get(body);
            sim.tasks.push(TaskState {
                name: t.name.clone(),
                context: t.context,
                pid,
                ctx: TaskContext::new(),
                frames: vec![Frame {
                    ops: body.ops.clone(),
                    pc: 0,
                    kind: FrameKind::Body,
                    info: body.info.clone(),
                }],
                vars: Vec::new(),
                held: Vec::new(),
                spin: 0,
                irq_off: 0,
                bh_off: 0,
                rcu: 0,
                wake_at: 0,
                waiting_on: None,
                done: None,
                report: TaskReport {
                    name: t.name.clone(),
                    outcome: Outcome::Unfinished,
                    steps: 0,
                    allocations: 0,
                    failures: 0,
                    latency_total_ns: 0,
                    latency_max_ns: 0,
                },
                memcg,
                cpuset: t.cpuset.as_deref().and_then(|c| cpusets.get(c).copied()),
                reclaim_wait: None,
                retrying: false,
                pool_wait: None,
                pool_woken: false,
                alloc_watch: None,
                stack: None,
                parked: false,
                interrupted_by: None,
                irq: None,
            });
        }
        sim.arm_handlers(scenario);
        sim.fill();
        sim.wakeups_at_start = sim.env.inner.kswapd_wakeups();
        sim.start_recording();
        Ok(sim)
    }

    /// `io`'s body on each block device (by device index, the default
    /// device last): the block layer's submission takes the `io-reclaim`
    /// sleeping locks around the bio's allocation (`GFP_NOIO`), then the
    /// task waits the device's latency; the request completes when the
    /// body's frame ends.
    fn io_bodies(scenario: &Scenario, devices: &devices::Devices) -> Vec<Rc<[Op]>> {
        let queue: Vec<&str> = scenario
            .locks
            .iter()
            .filter(|l| l.io_reclaim && l.kind == LockKind::Sleeping)
            .map(|l| l.name.as_str())
            .collect();
        let latencies = devices
            .list
            .iter()
            .map(|d| d.latency_ns)
            .chain([IO_LATENCY_NS]);
        latencies
            .map(|latency| {
                let mut ops: Vec<Op> = queue.iter().map(|l| Op::Lock(l.to_string())).collect();
                ops.push(Op::Alloc(Alloc {
                    var: "bio-page".into(),
                    mask: Gfp::NOIO,
                    order: 0,
                    node: None,
                    no_failure_path: false,
                }));
                ops.extend(queue.iter().rev().map(|l| Op::Unlock(l.to_string())));
                ops.push(Op::Sleep(latency));
                ops.push(Op::Free("bio-page".into()));
                Rc::from(ops)
            })
            .collect()
    }

    fn set_dirty(&mut self, pfn: u32, on: bool) {
        let i = pfn as usize;
        if i >= self.dirty.len() {
            if !on {
                return;
            }
            self.dirty.resize(i + 1, false);
        }
        self.dirty[i] = on;
    }

    /// The pid owning a fill: a task of that name, or a background
    /// process made for it (once per name).
    fn owner_pid(&mut self, name: &str, extra: &mut BTreeMap<String, Pid>) -> Pid {
        if let Some(t) = self.tasks.iter().find(|t| t.name == name) {
            return t.pid;
        }
        *extra
            .entry(name.to_string())
            .or_insert_with(|| self.vm.spawn(name, 0))
    }

    fn fill(&mut self) {
        let fills = self.scenario.fills.clone();
        let mut extra = BTreeMap::new();
        for f in fills {
            let owner = f.owner.as_deref().map(|o| self.owner_pid(o, &mut extra));
            // A fill of one node allocates from that node's CPU with
            // __GFP_THISNODE; a CPU of node 0 otherwise.
            let (cpu, thisnode) = match f.node {
                Some(n) => (
                    (0..self.machine.nr_cpus())
                        .find(|&c| self.machine.cpu_to_node(c) == n as usize)
                        .unwrap_or(0),
                    Gfp::THISNODE,
                ),
                None => (0, Gfp::EMPTY),
            };
            let cx = Cx::new(cpu, Task::new().named("init"), &*self.env, &*self.vm);
            // Every filled page holds data: once freed, whoever gets it next
            // reads that data unless the page is zeroed.
            let mut used = Vec::new();
            match f.kind {
                Fill::Used => {
                    for z in self.machine.zones() {
                        if f.node.is_none_or(|n| z.nid() == n as usize) {
                            used.extend(z.start_pfn()..z.start_pfn() + z.managed_pages() as u32);
                        }
                    }
                }
                Fill::FsCache => {
                    let c = Cx {
                        hooks: &NoProgress,
                        ..cx
                    };
                    let cache = &self.fs_shrinker.as_ref().expect("made for fs-cache").cache;
                    while let Ok(p) = self.machine.alloc_pages(&c, FS_CACHE_MASK | thisnode, 0) {
                        cache.insert(p);
                        used.push(p.pfn());
                    }
                }
                Fill::Kernel => {
                    let c = Cx {
                        hooks: &NoProgress,
                        ..cx
                    };
                    // Down to the min watermark, then into the atomic
                    // reserves: only PF_MEMALLOC can allocate afterwards.
                    for mask in [
                        (Gfp::KERNEL - Gfp::DIRECT_RECLAIM - Gfp::KSWAPD_RECLAIM) | Gfp::NOWARN,
                        (Gfp::ATOMIC - Gfp::KSWAPD_RECLAIM) | Gfp::NOWARN,
                    ] {
                        while let Ok(p) = self.machine.alloc_pages(&c, mask | thisnode, 0) {
                            used.push(p.pfn());
                        }
                    }
                }
                _ => {
                    let spec = match f.kind {
                        Fill::FileClean => PageSpec::FILE_CLEAN,
                        Fill::FileDirty => PageSpec::FILE_DIRTY,
                        _ => PageSpec::ANON,
                    };
                    while let Ok(p) =
                        self.vm
                            .add_page(&self.machine, &cx, FILL_MASK | thisnode, owner, spec)
                    {
                        used.push(p.pfn());
                    }
                }
            }
            for p in used {
                self.set_dirty(p, true);
            }
        }
    }

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

    fn run_parts(mut self) -> (Report, Option<Timeline>, Machine) {
        while self.steps < self.config.max_steps && !self.halted {
            if !self.step() {
                break;
            }
        }
        if let Some((task, at, time_ns)) = self.below_low.take() {
            if self.env.inner.kswapd_wakeups() == self.wakeups_at_start {
                self.findings.push(Finding {
                    rule: Rule::KswapdNotWoken,
                    rule_id: Rule::KswapdNotWoken.id(),
                    task,
                    at,
                    time_ns,
                    message: "allocations ran with a zone below its low watermark and kswapd was never woken"
                        .into(),
                });
            }
        }
        let timeline = self.finish_recording();
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
        let report = Report {
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
            findings: self.findings,
        };
        drop(world);
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

    fn kswapd_pending(&self) -> Option<usize> {
        (0..self.machine.nr_nodes()).find(|&n| self.vm.kswapd_pending(n))
    }

    /// kswapd's run is blocked on its stack (an I/O wait, a throttle).
    fn kswapd_busy(&self) -> bool {
        self.kswapd.as_ref().is_some_and(|k| k.busy())
    }

    /// kswapd can run at `now`: its blocked run's wait is over, or it was
    /// woken and is idle.
    fn kswapd_runnable(&self, now: u64) -> bool {
        if self.kswapd_busy() {
            self.kswapd_wake_at <= now
        } else {
            self.kswapd_pending().is_some()
        }
    }

    /// Whether task `i` can run at `now`: not done, awake, not parked (an
    /// interrupt handler waiting for its moment), not waiting for a held
    /// lock.
    fn can_run(&self, i: usize, now: u64) -> bool {
        let t = &self.tasks[i];
        t.done.is_none()
            && t.wake_at <= now
            && !t.parked
            && !matches!(t.waiting_on, Some(l) if self.locks[l].owner.is_some())
    }

    /// One scheduler step; `false` when nothing can run any more.
    fn step(&mut self) -> bool {
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
    fn run_pick(&mut self, pick: Option<usize>, now: u64) {
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
    fn run_kswapd(&mut self, now: u64) {
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

    /// Where task `i` is: its call chain and the operation just executed.
    fn where_(&self, i: usize) -> String {
        self.location(i, |pc| pc.saturating_sub(1))
    }

    /// Task `i`'s call chain (`fs() > `...) and the operation of its
    /// innermost frame at `at(pc)`.
    fn location(&self, i: usize, at: impl Fn(usize) -> usize) -> String {
        let t = &self.tasks[i];
        let mut s = String::new();
        for f in &t.frames {
            if let FrameKind::Call(n) = &f.kind {
                s.push_str(n);
                s.push_str("() > ");
            }
        }
        if let Some(op) = t.frames.last().and_then(|f| f.ops.get(at(f.pc))) {
            s.push_str(&op_text(op));
        }
        s
    }

    #[cold]
    fn finding(&mut self, i: usize, rule: Rule, message: String) {
        let at = self.where_(i);
        self.findings.push(Finding {
            rule,
            rule_id: rule.id(),
            task: self.tasks[i].name.clone(),
            at,
            time_ns: self.env.now_ns(),
            message,
        });
    }

    /// Whether task `i` is in atomic context ([`Sim::atomic_reason`] says
    /// why).
    #[inline]
    fn in_atomic(&self, i: usize) -> bool {
        let t = &self.tasks[i];
        t.spin > 0
            || t.irq_off > 0
            || t.bh_off > 0
            || t.rcu > 0
            || t.context != TaskContextKind::Process
    }

    fn atomic_reason(&self, i: usize) -> Option<String> {
        let t = &self.tasks[i];
        if t.spin > 0 {
            let names: Vec<&str> = t
                .held
                .iter()
                .filter(|&&l| self.locks[l].kind == LockKind::Spin)
                .map(|&l| self.locks[l].name.as_str())
                .collect();
            return Some(format!("holding spinlock {}", names.join(", ")));
        }
        if t.irq_off > 0 {
            return Some("with interrupts disabled".into());
        }
        if t.bh_off > 0 {
            // local_bh_disable() raises the preempt count: no sleeping.
            return Some("with softirqs disabled (local_bh_disable)".into());
        }
        if t.rcu > 0 {
            return Some("inside an RCU read-side section".into());
        }
        match t.context {
            TaskContextKind::SoftIrq => Some("in softirq context".into()),
            TaskContextKind::HardIrq => Some("in hardirq context".into()),
            TaskContextKind::Process => None,
        }
    }

    fn gfp_task(&self, i: usize) -> Task<'_> {
        self.task_unnamed(i).named(&self.tasks[i].name)
    }

    /// Task `i` as the allocator sees it, without its name (which a kernel
    /// stack carries).
    fn task_unnamed(&self, i: usize) -> Task<'static> {
        let t = &self.tasks[i];
        // One struct expression (the task is copied into every context: no
        // field written apart just before).
        let (cpuset, mems_allowed) = match t.cpuset {
            Some((id, mems)) => (id, mems),
            None => (Task::new().cpuset, Task::new().mems_allowed),
        };
        Task {
            comm: None,
            scope: t.ctx.state(),
            cpuset,
            mems_allowed,
            oom_victim: self.vm.is_oom_victim(t.pid),
            context: match t.context {
                TaskContextKind::Process => ExecContext::Task,
                TaskContextKind::SoftIrq => ExecContext::SoftIrq,
                TaskContextKind::HardIrq => ExecContext::HardIrq,
            },
            pid: t.pid,
            ..Task::new()
        }
    }

    fn abort(&mut self, i: usize) {
        let t = &mut self.tasks[i];
        t.done = Some(Outcome::Aborted);
        for l in std::mem::take(&mut t.held) {
            self.locks[l].owner = None;
        }
    }

    fn lock_idx(&self, name: &str) -> Option<usize> {
        self.locks.iter().position(|l| l.name == name)
    }

    /// Executes the next operation of task `i`.
    fn exec(&mut self, i: usize) {
        // Pop finished frames (leaving their scopes).
        loop {
            let t = &mut self.tasks[i];
            let Some(f) = t.frames.last() else {
                t.done = Some(Outcome::Completed);
                self.end_checks(i);
                return;
            };
            if f.pc < f.ops.len() {
                break;
            }
            if let Some(Frame {
                kind: FrameKind::Repeat(left),
                pc,
                ..
            }) = t.frames.last_mut()
            {
                if *left > 1 {
                    *left -= 1;
                    *pc = 0;
                    continue;
                }
            }
            match t.frames.pop().map(|f| f.kind) {
                Some(FrameKind::Scope(tok)) => {
                    t.ctx.leave(tok);
                }
                Some(FrameKind::Io(dev, var)) => self.io_complete(i, dev, var),
                _ => {}
            }
        }
        // The frame's ops are shared: clone the handle, not the op.
        let (ops, pc, info) = {
            let t = &self.tasks[i];
            let f = t.frames.last().expect("checked above");
            let none = OpInfo {
                block: NONE,
                var: NONE,
            };
            (
                f.ops.clone(),
                f.pc,
                f.info.get(f.pc).copied().unwrap_or(none),
            )
        };
        let op = &ops[pc];
        let nested = info.block;
        self.op_var = (0, 0, NONE);
        if info.var != NONE {
            if let Some(name) = op_var_name(op) {
                self.op_var = (name.as_ptr() as usize, name.len(), info.var);
            }
        }
        // A contended lock leaves pc in place: the task retries the op.
        let advance = !matches!(op, Op::Lock(_) | Op::SpinLock(_) | Op::SpinLockBh(_));
        if advance {
            self.tasks[i].frames.last_mut().expect("frame").pc += 1;
        }
        self.tasks[i].report.steps += 1;
        let touch = matches!(op, Op::Touch(_));
        if let Op::Alloc(a) = op {
            // The hot path: no clone of the operation.
            self.op_alloc(i, a);
            return;
        }
        match op {
            Op::Lock(n) | Op::SpinLock(n) => self.op_lock(i, n, false),
            Op::SpinLockBh(n) => self.op_lock(i, n, true),
            Op::SpinUnlockBh(n) => {
                self.op_unlock(i, n);
                self.bh_enable(i, "spin_unlock_bh");
            }
            Op::BhDisable => self.tasks[i].bh_off += 1,
            Op::BhEnable => self.bh_enable(i, "local_bh_enable"),
            Op::Fsync(v) => self.op_fsync(i, v.clone()),
            Op::Unlock(n) | Op::SpinUnlock(n) => self.op_unlock(i, n),
            Op::IrqDisable => self.tasks[i].irq_off += 1,
            Op::IrqEnable => {
                if self.tasks[i].irq_off == 0 {
                    self.finding(
                        i,
                        Rule::ProgramError,
                        "irq_enable without irq_disable".into(),
                    );
                } else {
                    self.tasks[i].irq_off -= 1;
                }
            }
            Op::RcuReadLock => self.tasks[i].rcu += 1,
            Op::RcuReadUnlock => {
                if self.tasks[i].rcu == 0 {
                    self.finding(
                        i,
                        Rule::ProgramError,
                        "rcu_read_unlock outside a read section".into(),
                    );
                } else {
                    self.tasks[i].rcu -= 1;
                }
            }
            Op::Scope(sc, body) => {
                let change = match *sc {
                    Scope::Set(g) => ScopeChange::generic(g, Gfp::EMPTY),
                    Scope::Clear(g) => ScopeChange::generic(Gfp::EMPTY, g),
                    Scope::Nofs => ScopeChange::task(TaskFlags::MEMALLOC_NOFS),
                    Scope::Noio => ScopeChange::task(TaskFlags::MEMALLOC_NOIO),
                    Scope::Noreclaim => ScopeChange::task(TaskFlags::MEMALLOC),
                    Scope::Pin => ScopeChange::task(TaskFlags::MEMALLOC_PIN),
                };
                match self.tasks[i].ctx.enter(change) {
                    Ok(tok) => self.push_nested(i, nested, body, FrameKind::Scope(tok)),
                    Err(e) => {
                        self.finding(i, Rule::UnboundedRecursion, e.to_string());
                        self.abort(i);
                    }
                }
            }
            Op::Repeat(n, body) => {
                if !body.is_empty() {
                    self.push_nested(i, nested, body, FrameKind::Repeat(*n));
                }
            }
            Op::IfFailed(v, body) => {
                if matches!(self.var(i, v), Some(Var::Failed)) {
                    self.push_nested(i, nested, body, FrameKind::Body);
                }
            }
            Op::Call(n) => {
                if nested != NONE {
                    self.push_block(i, nested, FrameKind::Call(n.clone()));
                } else if let Some(b) = self.functions.get(n).cloned() {
                    self.push(i, b, FrameKind::Call(n.clone()));
                }
            }
            Op::FsCall => {
                self.push_block(i, self.fs_block, FrameKind::Call("fs".into()));
            }
            Op::Io(io) => self.op_io(i, io.clone()),
            Op::Sleep(ns) => {
                let ns = *ns;
                if let Some(why) = self.atomic_reason(i) {
                    self.finding(i, Rule::SleepInAtomic, format!("sleeps {ns} ns {why}"));
                }
                self.tasks[i].wake_at = self.env.now_ns().saturating_add(ns);
            }
            Op::Alloc(_) => {} // handled above
            Op::MempoolAlloc(a) => self.op_mempool(i, a),
            Op::Kmalloc(a) => self.op_kmalloc(i, a),
            Op::Return => self.op_return(i),
            Op::Free(v) => self.op_free(i, v),
            Op::Touch(v) | Op::ExpectZero(v) => self.op_use(i, v, touch),
        }
    }

    /// `return`: pops frames up to and including the innermost call,
    /// leaving the scopes on the way; in a task's body, ends the program.
    fn op_return(&mut self, i: usize) {
        let t = &mut self.tasks[i];
        while let Some(f) = t.frames.pop() {
            match f.kind {
                FrameKind::Scope(tok) => {
                    t.ctx.leave(tok);
                }
                FrameKind::Call(_) => return,
                // An `io` body has no `return`; a frame left this way
                // would drop its request unfinished.
                FrameKind::Body | FrameKind::Repeat(_) | FrameKind::Io(..) => {}
            }
        }
        // Returned from the task's body: the next step completes it.
    }

    fn op_free(&mut self, i: usize, v: &str) {
        let cx = Cx::new(0, self.gfp_task(i), &*self.env, &*self.vm);
        match self.var(i, v) {
            Some(Var::Page { page, order }) => {
                if let Err(e) = self.vm.free_pages(&self.machine, &cx, page, order) {
                    let d = e.reason.describe();
                    self.finding(i, Rule::ProgramError, d);
                }
                self.set_var(i, v, Var::Freed);
            }
            Some(Var::Obj(o)) => {
                if let Some(slab) = &self.slab {
                    slab.kfree(&self.machine, &self.vm.cx(&cx), o);
                }
                self.set_var(i, v, Var::Freed);
            }
            Some(Var::Pool { pool, page }) => {
                self.pools[pool]
                    .1
                    .free(&self.machine, &self.vm.cx(&cx), page);
                self.set_var(i, v, Var::Freed);
                self.wake_pool_waiters();
            }
            Some(Var::Failed) => {
                // free(NULL) is fine.
            }
            Some(Var::IoDone) => self.finding(
                i,
                Rule::ProgramError,
                format!("frees {v}, an I/O status, not memory"),
            ),
            Some(Var::Freed) => self.finding(i, Rule::ProgramError, format!("double free of {v}")),
            None => self.finding(i, Rule::ProgramError, format!("frees {v}, never allocated")),
        }
    }

    /// `touch` (`write`) or `expect-zero` (`write` false) on a variable.
    fn op_use(&mut self, i: usize, v: &str, write: bool) {
        let pages = match self.var(i, v) {
            Some(Var::Page { page, order }) => Some((page, order)),
            Some(Var::Pool { pool, page }) => Some((page, self.pools[pool].1.order())),
            Some(Var::Obj(o)) => {
                if write {
                    self.dirty_objs.insert(o.0);
                } else if self.dirty_objs.contains(&o.0) {
                    self.finding(
                        i,
                        Rule::NotZeroed,
                        format!("reads {v} as zero, but the object holds an earlier owner's data"),
                    );
                }
                None
            }
            Some(Var::Failed) => {
                self.finding(
                    i,
                    Rule::UnhandledFailure,
                    format!("uses {v}, whose allocation failed (NULL dereference)"),
                );
                self.abort(i);
                None
            }
            _ => {
                self.finding(
                    i,
                    Rule::ProgramError,
                    format!("uses {v}, which it does not own"),
                );
                None
            }
        };
        if let Some((page, order)) = pages {
            let pfns = page.pfn()..page.pfn() + (1u32 << order);
            if write {
                for p in pfns {
                    self.set_dirty(p, true);
                }
            } else if pfns
                .clone()
                .any(|p| self.dirty.get(p as usize) == Some(&true))
            {
                self.finding(
                    i,
                    Rule::NotZeroed,
                    format!("reads {v} as zero, but the page holds an earlier owner's data"),
                );
            }
        }
    }

    /// The slot of variable `name`: the current operation's without a
    /// lookup (the same address and length is the same name, which lives
    /// as long as the simulation), else the interned one.
    #[inline]
    fn var_slot(&self, name: &str) -> Option<u32> {
        if (name.as_ptr() as usize, name.len()) == (self.op_var.0, self.op_var.1) {
            return Some(self.op_var.2);
        }
        self.blocks.vars.find(name)
    }

    /// Task `i`'s variable `name`.
    #[inline]
    fn var(&self, i: usize, name: &str) -> Option<Var> {
        let slot = self.var_slot(name)?;
        self.tasks[i].vars.get(slot as usize).copied().flatten()
    }

    /// Sets task `i`'s variable `name`.
    #[inline]
    fn set_var(&mut self, i: usize, name: &str, v: Var) {
        let slot = match self.var_slot(name) {
            Some(s) => s,
            None => self.blocks.vars.id(name),
        } as usize;
        let vars = &mut self.tasks[i].vars;
        if slot >= vars.len() {
            vars.resize(slot + 1, None);
        }
        vars[slot] = Some(v);
    }

    /// Enters `body`, the nested body of the current operation, whose
    /// compiled block is `nested` (compiled now if it has none).
    fn push_nested(&mut self, i: usize, nested: u32, body: &[Op], kind: FrameKind) {
        if nested != NONE {
            self.push_block(i, nested, kind);
        } else {
            self.push(i, Rc::from(body), kind);
        }
    }

    /// Enters compiled block `b`.
    fn push_block(&mut self, i: usize, b: u32, kind: FrameKind) {
        let block = self.blocks.get(b);
        let (ops, info) = (block.ops.clone(), block.info.clone());
        self.push_frame(i, ops, info, kind);
    }

    /// Enters `ops` (compiled on the way: prefer [`Sim::push_block`]).
    fn push(&mut self, i: usize, ops: Rc<[Op]>, kind: FrameKind) {
        let b = self.blocks.compile(ops);
        self.push_block(i, b, kind);
    }

    fn push_frame(&mut self, i: usize, ops: Rc<[Op]>, info: Rc<[OpInfo]>, kind: FrameKind) {
        if self.tasks[i].frames.len() >= self.config.max_depth {
            self.finding(
                i,
                Rule::UnboundedRecursion,
                format!("call depth above {}", self.config.max_depth),
            );
            self.abort(i);
            return;
        }
        self.tasks[i].frames.push(Frame {
            ops,
            pc: 0,
            kind,
            info,
        });
    }

    fn end_checks(&mut self, i: usize) {
        let t = &self.tasks[i];
        let mut problems = Vec::new();
        if !t.held.is_empty() {
            let names: Vec<&str> = t
                .held
                .iter()
                .map(|&l| self.locks[l].name.as_str())
                .collect();
            problems.push(format!("exits holding {}", names.join(", ")));
        }
        if t.irq_off > 0 {
            problems.push("exits with interrupts disabled".into());
        }
        if t.bh_off > 0 {
            problems.push("exits with softirqs disabled".into());
        }
        if t.rcu > 0 {
            problems.push("exits inside an RCU read section".into());
        }
        for p in problems {
            self.finding(i, Rule::ProgramError, p);
        }
    }

    fn op_unlock(&mut self, i: usize, n: &str) {
        let Some(l) = self.lock_idx(n) else { return };
        let t = &mut self.tasks[i];
        if let Some(p) = t.held.iter().rposition(|&h| h == l) {
            t.held.remove(p);
            if self.locks[l].kind == LockKind::Spin {
                t.spin -= 1;
            }
            self.locks[l].owner = None;
            let cx = Cx::new(0, self.gfp_task(i), &*self.env, &*self.vm);
            self.vm.lockdep().unlock(&cx, self.locks[l].id);
        } else {
            self.finding(
                i,
                Rule::ProgramError,
                format!("unlocks {n}, which it does not hold"),
            );
        }
    }

    /// `local_bh_enable()` (or the end of `spin_unlock_bh`).
    fn bh_enable(&mut self, i: usize, what: &str) {
        if self.tasks[i].bh_off == 0 {
            self.finding(
                i,
                Rule::ProgramError,
                format!("{what} with softirqs not disabled"),
            );
        } else {
            self.tasks[i].bh_off -= 1;
        }
    }

    /// `lock`, `spin_lock`, `spin_lock_bh` (`bh`: softirqs are disabled
    /// once the lock is taken).
    fn op_lock(&mut self, i: usize, n: &str, bh: bool) {
        let Some(l) = self.lock_idx(n) else { return };
        let kind = self.locks[l].kind;
        if kind == LockKind::Spin && self.tasks[i].waiting_on.is_none() {
            self.irq_usage(i, l, bh);
        }
        if kind == LockKind::Sleeping && self.tasks[i].waiting_on.is_none() {
            if let Some(why) = self.atomic_reason(i) {
                self.finding(
                    i,
                    Rule::SleepInAtomic,
                    format!("takes sleeping lock {n} {why}"),
                );
            }
        }
        match self.locks[l].owner {
            Some(o) if o == i => {
                self.finding(
                    i,
                    Rule::Deadlock,
                    format!("takes {n}, which it already holds"),
                );
                self.tasks[i].done = Some(Outcome::Stuck);
            }
            Some(_) => {
                let first = self.tasks[i].waiting_on.is_none();
                self.tasks[i].waiting_on = Some(l);
                if first {
                    if let Some(cycle) = self.wait_cycle(i) {
                        self.finding(i, Rule::Deadlock, format!("wait-for cycle: {cycle}"));
                        self.mark_cycle_stuck(i);
                    }
                }
            }
            None => {
                let t = &mut self.tasks[i];
                t.waiting_on = None;
                t.held.push(l);
                if kind == LockKind::Spin {
                    t.spin += 1;
                }
                self.locks[l].owner = Some(i);
                t.bh_off += u32::from(bh);
                t.frames.last_mut().expect("frame").pc += 1;
                let cx = Cx::new(0, self.gfp_task(i), &*self.env, &*self.vm);
                self.vm.lockdep().lock(&cx, self.locks[l].id);
            }
        }
    }

    /// Follows task -> lock -> owner from `start`; the cycle, if it returns.
    fn wait_cycle(&self, start: usize) -> Option<String> {
        let mut cur = start;
        let mut path = Vec::new();
        for _ in 0..=self.tasks.len() {
            if let Some(h) = self.tasks[cur].interrupted_by {
                // An interrupted task waits for the handler on its CPU.
                path.push(format!(
                    "{} is interrupted by {} on its CPU and runs only when the handler returns",
                    self.tasks[cur].name, self.tasks[h].name
                ));
                if h == start {
                    return Some(path.join(", "));
                }
                cur = h;
                continue;
            }
            let l = self.tasks[cur].waiting_on?;
            let owner = self.locks[l].owner?;
            path.push(format!(
                "{}{} waits for {} held by {}",
                self.tasks[cur].name,
                self.wait_where(cur),
                self.locks[l].name,
                self.tasks[owner].name
            ));
            if owner == start {
                return Some(path.join(", "));
            }
            cur = owner;
        }
        None
    }

    /// Where a waiting task waits, for messages: `" (in reclaim's ...)"`
    /// when its allocation's reclaim waits, else nothing.
    fn wait_where(&self, i: usize) -> String {
        match self.tasks[i].reclaim_wait {
            Some(p) => format!(" (in {})", p.text()),
            None => String::new(),
        }
    }

    fn mark_cycle_stuck(&mut self, start: usize) {
        let mut cur = start;
        for _ in 0..=self.tasks.len() {
            self.tasks[cur].done = Some(Outcome::Stuck);
            let next = match self.tasks[cur].interrupted_by {
                Some(h) => Some(h),
                None => self.tasks[cur].waiting_on.and_then(|l| self.locks[l].owner),
            };
            let Some(o) = next else { return };
            if o == start {
                return;
            }
            cur = o;
        }
    }

    /// What scopes did to a call site's mask, for messages: `" (scopes
    /// added X; removed Y)"`, or nothing.
    fn scope_note(site: Gfp, effective: Gfp) -> String {
        let added = effective - site;
        let removed = site - effective;
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("scopes added {}", added.kernel_names()));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {}", removed.kernel_names()));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join("; "))
        }
    }

    /// The checks every allocation makes before the allocator runs; returns
    /// the mask in force (the task's scopes applied).
    fn pre_alloc(&mut self, i: usize, mask: Gfp, node: Option<u32>) -> Gfp {
        let effective = self.tasks[i].ctx.current_gfp_context(mask);
        self.note_below_low(i, effective, node);
        if effective.contains(Gfp::DIRECT_RECLAIM) && !self.tasks[i].retrying && self.in_atomic(i) {
            if let Some(why) = self.atomic_reason(i) {
                let cause = if mask.contains(Gfp::DIRECT_RECLAIM) {
                    "the call site asked for it".to_string()
                } else {
                    format!(
                        "a scope set __GFP_DIRECT_RECLAIM on a {} request ({})",
                        mask,
                        policy::cell(gfp::Flag::DirectReclaim, Direction::Set)
                            .breaks
                            .unwrap_or("")
                    )
                };
                self.finding(
                    i,
                    Rule::SleepInAtomic,
                    format!("allocation with {effective} may sleep {why}: {cause}"),
                );
            }
        }
        self.check_io_reclaim(i, mask, effective);
        effective
    }

    /// The block layer's counterpart of lockdep's `fs_reclaim` check: an
    /// allocation that may enter reclaim with `__GFP_IO` may start I/O
    /// (swap-out, writeback), whose submission takes the request-queue
    /// locks (`io-reclaim`); a caller holding one would wait for itself.
    #[inline]
    fn check_io_reclaim(&mut self, i: usize, mask: Gfp, effective: Gfp) {
        let t = &self.tasks[i];
        if t.held.is_empty()
            || !effective.contains(Gfp::DIRECT_RECLAIM | Gfp::IO)
            || effective.contains(Gfp::NOLOCKDEP)
            || t.ctx.task_flags().contains(TaskFlags::MEMALLOC)
        {
            return;
        }
        let held: Vec<usize> = t
            .held
            .iter()
            .copied()
            .filter(|&l| self.locks[l].io_reclaim && !self.io_reported.contains(&l))
            .collect();
        for l in held {
            self.io_reported.insert(l);
            let name = self.locks[l].name.clone();
            self.finding(
                i,
                Rule::ReclaimRecursion,
                format!(
                    "allocation with {effective}{} may start I/O from reclaim (swap-out, writeback) while holding {name}, which the block layer's submission path takes",
                    Self::scope_note(mask, effective)
                ),
            );
        }
    }

    /// Runs one allocation on task `i`'s kernel stack under the stall
    /// watchdog, or resumes the one blocked there, then does the
    /// bookkeeping every kind shares. `None`: it blocked (the operation
    /// runs again when the task does, and resumes the call) or stalled. A
    /// stalled `__GFP_NOFAIL` request (at the call site or in force) is a
    /// finding and stops the run; any other request that loops waits for
    /// others' progress, as the kernel's NOFS and NOIO allocations do (they
    /// do not invoke the OOM killer), so the task is stuck without a
    /// finding.
    fn guarded(
        &mut self,
        i: usize,
        site: Gfp,
        effective: Gfp,
        order: u32,
        call: stack::Call,
    ) -> Option<stack::Answer> {
        // The name travels with the stack.
        let task = self.task_unnamed(i);
        let t = &mut self.tasks[i];
        t.waiting_on = None;
        t.reclaim_wait = None;
        let woken = t.pool_wait.take().is_some() && std::mem::take(&mut t.pool_woken);
        // A resumed allocation's watchdog goes on from its first start.
        let (t0, calls) = t.alloc_watch.take().unwrap_or((self.env.now_ns(), 0));
        let retrying = std::mem::take(&mut t.retrying);
        if t.stack.as_ref().is_none_or(|s| s.spent()) {
            let comm: Rc<str> = Rc::from(t.name.as_str());
            let stack = stack::KernelStack::new(self.kernel(), comm);
            self.tasks[i].stack = Some(stack);
        }
        self.publish(Actor::Task(i));
        self.env.armed.set(Some(t0));
        self.env.calls.set(calls);
        let stack = self.tasks[i].stack.as_mut().expect("made above");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if stack.busy() {
                stack.wake(woken)
            } else {
                stack.start(call, task)
            }
        }));
        self.env.armed.set(None);
        self.world.lock().actor = Actor::Outside;
        let blocked = self.env.calls.get();
        if !retrying {
            // An allocation resumed after a wait counts once.
            self.tasks[i].report.allocations += 1;
        }
        let mut block = None;
        let result = match result {
            Ok(stack::Step::Done(r)) => Some(r),
            Ok(stack::Step::Blocked(b)) => {
                // Handled below, after lockdep's view of the same
                // allocation: the wait is what happens next.
                block = Some(b);
                None
            }
            Err(payload) => {
                if payload.downcast_ref::<Stall>().is_none() {
                    std::panic::resume_unwind(payload);
                }
                let waited_ns = self.env.now_ns().saturating_sub(t0);
                if (site | effective).contains(Gfp::NOFAIL) {
                    self.finding(
                        i,
                        Rule::AllocStall,
                        format!(
                            "__GFP_NOFAIL allocation (call site {site}, in force {effective}{}) order {order} made no progress in {waited_ns} ns of virtual time and {blocked} blocking points (the watchdog's bounds: {} s, {STALL_CALLS} points); the kernel would keep looping here",
                            Self::scope_note(site, effective),
                            STALL_NS / 1_000_000_000
                        ),
                    );
                    self.halted = true;
                }
                self.tasks[i].done = Some(Outcome::Stuck);
                None
            }
        };
        if result.is_some() {
            // Accounted once it is done, from its first start.
            let latency = self.env.now_ns().saturating_sub(t0);
            let r = &mut self.tasks[i].report;
            r.latency_total_ns += latency;
            r.latency_max_ns = r.latency_max_ns.max(latency);
        }
        self.lockdep_findings(i, site, effective);
        if let Some(b) = block {
            self.call_blocked(i, b, site, effective, (t0, blocked));
        }
        self.reap_killed();
        result
    }

    /// Turns lockdep's new reports, made by task `i`'s allocation, into
    /// findings.
    #[inline]
    fn lockdep_findings(&mut self, i: usize, site: Gfp, effective: Gfp) {
        // The reports are copied only when there are new ones.
        if self.vm.lockdep().report_count() != self.reports_seen {
            let reports = self.vm.lockdep().reports();
            let before_reports = std::mem::replace(&mut self.reports_seen, reports.len());
            for rep in reports.get(before_reports..).unwrap_or(&[]) {
                self.finding(
                    i,
                    Rule::ReclaimRecursion,
                    format!(
                        "allocation with {effective}{} may enter FS reclaim while holding {}, which the filesystem's reclaim path takes",
                        Self::scope_note(site, effective),
                        rep.lock
                    ),
                );
            }
        }
    }

    /// Task `i`'s call blocked with `b`: the task gives up the CPU until
    /// the wait is over, and its operation runs again then, resuming the
    /// call (`watch`: the call's watchdog so far).
    fn call_blocked(
        &mut self,
        i: usize,
        b: stack::Block,
        site: Gfp,
        effective: Gfp,
        watch: (u64, u32),
    ) {
        self.blocked = true;
        let now = self.env.now_ns();
        let t = &mut self.tasks[i];
        t.alloc_watch = Some(watch);
        t.retrying = true;
        match b {
            stack::Block::Sleep(ns) => t.wake_at = now.saturating_add(ns),
            stack::Block::Resched => {}
            stack::Block::Pool { id, timeout_ns } => {
                t.wake_at = now.saturating_add(timeout_ns);
                t.pool_wait = Some(id);
                t.pool_woken = false;
            }
            stack::Block::Lock(b) => self.reclaim_blocked(i, b, site, effective),
        }
        let t = &mut self.tasks[i];
        if t.done.is_none() {
            if let Some(f) = t.frames.last_mut() {
                f.pc = f.pc.saturating_sub(1);
            }
        }
    }

    /// What kernel stacks run their calls against.
    fn kernel(&self) -> stack::Kernel {
        stack::Kernel {
            machine: self.machine.clone(),
            vm: self.vm.clone(),
            env: self.env.clone(),
        }
    }

    /// Tasks the OOM killer chose end: their programs stop and their locks
    /// are released as they exit.
    #[inline]
    fn reap_killed(&mut self) {
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

    /// Records the first allocation that starts while every zone it may
    /// use sits below its low watermark: the point where the kernel's fast
    /// path fails and the slow path wakes kswapd. Zones the allocation
    /// cannot use do not count, and neither does a zone an allocation
    /// leaves below the mark (the next allocation there wakes kswapd).
    #[inline]
    fn note_below_low(&mut self, i: usize, effective: Gfp, node: Option<u32>) {
        if self.below_low.is_some() {
            return;
        }
        let Ok(highest) = gfp::zone::highest_zone(effective) else {
            return;
        };
        let nodes = match (node, effective.contains(Gfp::THISNODE)) {
            (Some(n), true) => Some(NodeMask::single(n as usize)),
            _ => self.tasks[i].cpuset.map(|(_, m)| m),
        };
        let mut eligible = self.machine.zones().iter().filter(|z| {
            z.managed_pages() > 0
                && z.zone_type() <= highest
                && nodes.is_none_or(|m| m.contains(z.nid()))
        });
        let mut any = false;
        let all_low = eligible.all(|z| {
            any = true;
            z.free_pages() < z.watermark(1) as i64
        });
        if any && all_low {
            self.below_low = Some((
                self.tasks[i].name.clone(),
                self.where_(i),
                self.env.now_ns(),
            ));
        }
    }

    /// A failed allocation: the variable holds NULL; NOFAIL and
    /// no-failure-path callers are findings.
    #[cold]
    fn alloc_failed(
        &mut self,
        i: usize,
        var: &str,
        site: Gfp,
        effective: Gfp,
        no_failure_path: bool,
        err: &str,
    ) {
        self.tasks[i].report.failures += 1;
        self.set_var(i, var, Var::Failed);
        if (site | effective).contains(Gfp::NOFAIL) {
            let why = if !effective.contains(Gfp::DIRECT_RECLAIM)
                && site.contains(Gfp::DIRECT_RECLAIM)
            {
                format!(
                    " a scope cleared __GFP_DIRECT_RECLAIM ({})",
                    policy::cell(gfp::Flag::DirectReclaim, Direction::Clear)
                        .breaks
                        .unwrap_or("NOFAIL needs direct reclaim")
                )
            } else if !effective.contains(Gfp::DIRECT_RECLAIM) {
                " __GFP_NOFAIL without __GFP_DIRECT_RECLAIM cannot loop: the allocator warns and fails".to_string()
            } else {
                String::new()
            };
            self.finding(
                i,
                Rule::NofailFailed,
                format!(
                    "__GFP_NOFAIL allocation (call site {site}, in force {effective}{}) failed: {err};{why}",
                    Self::scope_note(site, effective)
                ),
            );
        }
        if no_failure_path {
            self.finding(
                i,
                Rule::UnhandledFailure,
                format!(
                    "allocation of {var} with {effective}{} failed and the caller has no failure path",
                    Self::scope_note(site, effective)
                ),
            );
        }
    }

    fn op_alloc(&mut self, i: usize, a: &Alloc) {
        let effective = self.pre_alloc(i, a.mask, a.node);
        let node = match a.node {
            Some(n) if n as usize >= self.machine.nr_nodes() => {
                // Refused before the allocator runs, as the kernel's
                // node-id check would.
                let e = AllocError::NoSuchNode(n as usize);
                self.tasks[i].report.allocations += 1;
                let e = e.to_string();
                self.alloc_failed(i, &a.var, a.mask, effective, a.no_failure_path, &e);
                return;
            }
            n => n.map(|n| n as usize),
        };
        // The allocator's first attempt cannot block: it runs here, and
        // only a request bound for the slow path (or one blocked there
        // already) moves to the task's kernel stack.
        let first = if self.tasks[i].retrying {
            None
        } else {
            let cx = Cx::new(0, self.gfp_task(i), &*self.env, &*self.vm);
            (self.vm).alloc_pages_first_attempt(&self.machine, &cx, node, a.mask, a.order)
        };
        let result = if let Some(r) = first {
            self.tasks[i].report.allocations += 1;
            self.lockdep_findings(i, a.mask, effective);
            r
        } else {
            let call = stack::Call::Alloc {
                mask: a.mask,
                order: a.order,
                node,
            };
            match self.guarded(i, a.mask, effective, a.order, call) {
                Some(stack::Answer::Page(r)) => r,
                _ => return,
            }
        };
        match result {
            Ok(page) => {
                self.check_placement(i, a, effective, page);
                self.check_reserves(i, effective, page);
                // Only an accounted call site in a group needs the charge.
                let charged =
                    if a.mask.contains(Gfp::ACCOUNT) && self.tasks[i].memcg != MemcgId::ROOT {
                        self.vm.kmem_memcg(page)
                    } else {
                        None
                    };
                self.check_memcg(i, &a.var, a.mask, effective, charged);
                if effective.contains(Gfp::ZERO) || self.machine.init_on_alloc() {
                    for p in page.pfn()..page.pfn() + (1u32 << a.order) {
                        self.set_dirty(p, false);
                    }
                }
                self.set_var(
                    i,
                    &a.var,
                    Var::Page {
                        page,
                        order: a.order,
                    },
                );
            }
            Err(e) => {
                if let AllocError::BadZone(_) | AllocError::BadMigratetype(_) = e {
                    self.finding(
                        i,
                        Rule::WrongZone,
                        format!(
                            "the mask in force for {}, {effective}{}, names no zone or mobility class the allocator can serve: {e}",
                            a.var,
                            Self::scope_note(a.mask, effective)
                        ),
                    );
                }
                let e = e.to_string();
                self.alloc_failed(i, &a.var, a.mask, effective, a.no_failure_path, &e);
            }
        }
    }

    fn op_mempool(&mut self, i: usize, a: &PoolAlloc) {
        let Some(pool) = self.pools.iter().position(|(n, _)| *n == a.pool) else {
            return;
        };
        // mempool_alloc() adds these for its backing allocator: the pool,
        // not the emergency reserves, is its fallback.
        let backing = a.mask | Gfp::NOMEMALLOC | Gfp::NORETRY | Gfp::NOWARN;
        let effective = self.pre_alloc(i, backing, None);
        let from_reserve = self.pools[pool].1.from_reserve();
        let call = stack::Call::Mempool {
            pool: self.pools[pool].1.clone(),
            mask: a.mask,
        };
        let order = self.pools[pool].1.order();
        let Some(stack::Answer::Pool(got)) = self.guarded(i, a.mask, effective, order, call) else {
            return;
        };
        match got {
            Some(page) => {
                if self.pools[pool].1.from_reserve() == from_reserve {
                    // From the page allocator, not the pool's own elements.
                    self.check_reserves(i, effective, page);
                }
                self.set_var(i, &a.var, Var::Pool { pool, page });
            }
            None => self.alloc_failed(
                i,
                &a.var,
                a.mask,
                effective,
                a.no_failure_path,
                "mempool_alloc returned NULL (no direct reclaim, pool empty)",
            ),
        }
    }

    fn op_kmalloc(&mut self, i: usize, a: &Kmalloc) {
        if self.slab.is_none() {
            self.slab = Some(Rc::new(
                Slab::new(&self.machine, ObjExtMode::WithFlag).with_memcg(self.vm.clone()),
            ));
        }
        let effective = self.pre_alloc(i, a.mask, None);
        let call = stack::Call::Kmalloc {
            slab: self.slab.clone().expect("made above"),
            size: a.size as usize,
            mask: a.mask,
        };
        let Some(stack::Answer::Obj(r)) = self.guarded(i, a.mask, effective, 0, call) else {
            return;
        };
        match r {
            Ok(o) => {
                let charged = self.slab.as_ref().and_then(|s| s.obj_memcg(o));
                self.check_memcg(i, &a.var, a.mask, effective, charged);
                if effective.contains(Gfp::ZERO) {
                    self.dirty_objs.remove(&o.0);
                }
                self.set_var(i, &a.var, Var::Obj(o));
            }
            Err(e) => {
                if let SlabError::ObjExtRecursion { depth } = e {
                    self.finding(
                        i,
                        Rule::UnboundedRecursion,
                        format!(
                            "kmalloc of {} with {effective}{}: allocating the slab's object-extension vector needs a vector itself ({depth} levels deep, unbounded), because the vector's mask lost __GFP_NO_OBJ_EXT",
                            a.var,
                            Self::scope_note(a.mask, effective)
                        ),
                    );
                }
                let e = e.to_string();
                self.alloc_failed(i, &a.var, a.mask, effective, a.no_failure_path, &e);
            }
        }
    }

    /// An allocation its call site accounts (`__GFP_ACCOUNT`), by a task
    /// in a memory cgroup, must be charged to that group.
    #[inline(always)]
    fn check_memcg(
        &mut self,
        i: usize,
        var: &str,
        site: Gfp,
        effective: Gfp,
        charged: Option<MemcgId>,
    ) {
        let mc = self.tasks[i].memcg;
        if !site.contains(Gfp::ACCOUNT) || mc == MemcgId::ROOT || charged == Some(mc) {
            return;
        }
        self.memcg_escape(i, var, site, effective, mc);
    }

    #[cold]
    fn memcg_escape(&mut self, i: usize, var: &str, site: Gfp, effective: Gfp, mc: MemcgId) {
        let group = self
            .vm
            .memcg(mc)
            .map(|g| format!("{} (max {} pages)", g.name, g.max))
            .unwrap_or_default();
        self.finding(
            i,
            Rule::MemcgEscape,
            format!(
                "{var} was allocated for memory cgroup {group} with __GFP_ACCOUNT at its call site but was not charged (in force {effective}{}): it escapes the group's limit",
                Self::scope_note(site, effective)
            ),
        );
    }

    /// Whether an allocation with `effective` by task `i` may ignore the
    /// watermarks (`__gfp_pfmemalloc_flags()` == ALLOC_NO_WATERMARKS).
    #[inline]
    fn no_watermarks(&self, i: usize, effective: Gfp) -> bool {
        let t = &self.tasks[i];
        !effective.contains(Gfp::NOMEMALLOC)
            && (effective.contains(Gfp::MEMALLOC)
                || (t.ctx.task_flags().contains(TaskFlags::MEMALLOC)
                    && t.context != TaskContextKind::HardIrq))
    }

    #[inline(always)]
    fn check_reserves(&mut self, i: usize, effective: Gfp, page: Page) {
        if self.no_watermarks(i, effective) {
            self.check_reserves_left(i, effective, page);
        }
    }

    /// [`Sim::check_reserves`] for an allocation without watermarks.
    fn check_reserves_left(&mut self, i: usize, effective: Gfp, page: Page) {
        let Some(zid) = self.machine.page_zone_id(page) else {
            return;
        };
        let z = &self.machine.zones()[zid];
        let min = z.watermark(0);
        let free = z.free_pages();
        if free < (min / 8) as i64 && self.drained.insert(zid) {
            let msg = format!(
                "allocations without watermarks ({}) left zone {} with {free} free pages (min watermark {min}): atomic allocations and reclaim itself can no longer make progress",
                if effective.contains(Gfp::MEMALLOC) { "__GFP_MEMALLOC" } else { "PF_MEMALLOC" },
                z.zone_type().name()
            );
            self.finding(i, Rule::ReservesDrained, msg);
        }
    }

    fn check_placement(&mut self, i: usize, a: &Alloc, effective: Gfp, page: Page) {
        if a.order > 0 {
            let head = self.machine.page_is_head(page);
            let asked = a.mask.contains(Gfp::COMP);
            if asked != head {
                let msg = if asked {
                    format!(
                        "{} asked for a compound page (__GFP_COMP) and got none: a scope cleared it (in force {effective})",
                        a.var
                    )
                } else {
                    format!(
                        "{} got compound metadata (head/tail pages) its call site did not ask for: a scope set __GFP_COMP",
                        a.var
                    )
                };
                self.finding(i, Rule::Compound, msg);
            }
        }
        // Mobility: the allocator files the page as movable or reclaimable
        // although its call site said neither; compaction and memory
        // offlining will try to move it, shrinkers are assumed behind it.
        // (The same mask has the same migratetype.)
        if effective != a.mask {
            if let (Some(site_mt), Some(mt)) = (
                gfp::zone::migratetype(a.mask),
                gfp::zone::migratetype(effective),
            ) {
                if mt != site_mt
                    && matches!(
                        mt,
                        gfp::zone::MigrateType::Movable | gfp::zone::MigrateType::Reclaimable
                    )
                {
                    self.finding(
                        i,
                        Rule::WrongZone,
                        format!(
                            "{} was allocated as {} memory (in force {effective}) but its call site ({}) asked for {} memory: nothing can move or shrink it, so it pins what compaction and offlining rely on",
                            a.var,
                            mt.name(),
                            a.mask,
                            site_mt.name()
                        ),
                    );
                }
            }
        }
        // Cpuset: user memory (__GFP_HARDWALL at the call site) stays on the
        // task's nodes, except where the kernel lets any allocation leave
        // them: reserve access without watermarks drops the cpuset check
        // (`__alloc_pages_slowpath()` clears ALLOC_CPUSET with the reserve
        // flags), and so do OOM victims and interrupts.
        let exempt = || {
            self.no_watermarks(i, effective)
                || self.tasks[i].context != TaskContextKind::Process
                || self.vm.is_oom_victim(self.tasks[i].pid)
        };
        if a.mask.contains(Gfp::HARDWALL) && self.tasks[i].cpuset.is_some() && !exempt() {
            if let (Some((_, mems)), Some(got)) =
                (self.tasks[i].cpuset, self.machine.page_to_nid(page))
            {
                if !mems.contains(got) {
                    self.finding(
                        i,
                        Rule::WrongZone,
                        format!(
                            "{} is user memory (call site {}) of a task whose cpuset allows nodes {mems}, and got node {got} (in force {effective})",
                            a.var, a.mask
                        ),
                    );
                }
            }
        }
        let Ok(allowed) = gfp::zone::highest_zone(a.mask) else {
            return;
        };
        if let Some(got) = self.machine.page_zone_type(page) {
            if got > allowed {
                self.finding(
                    i,
                    Rule::WrongZone,
                    format!(
                        "{} got a page from zone {} but its call site ({}) can use zones up to {}; in force: {effective}",
                        a.var,
                        got.name(),
                        a.mask,
                        allowed.name()
                    ),
                );
            }
        }
        if let (Some(n), true) = (a.node, a.mask.contains(Gfp::THISNODE)) {
            if let Some(got) = self.machine.page_to_nid(page) {
                if got != n as usize {
                    self.finding(
                        i,
                        Rule::WrongZone,
                        format!(
                            "{} asked __GFP_THISNODE on node {n} and got node {got}",
                            a.var
                        ),
                    );
                }
            }
        }
    }
}

/// The variable an operation names (the one its compiled info has a slot
/// for).
fn op_var_name(op: &Op) -> Option<&str> {
    match op {
        Op::Alloc(a) => Some(&a.var),
        Op::MempoolAlloc(a) => Some(&a.var),
        Op::Kmalloc(a) => Some(&a.var),
        Op::Free(v) | Op::Touch(v) | Op::ExpectZero(v) | Op::IfFailed(v, _) => Some(v),
        _ => None,
    }
}

/// The text of one operation, as in the scenario.
pub fn op_text(op: &Op) -> String {
    let s = crate::format::print(&Scenario {
        tasks: vec![crate::format::TaskDecl {
            name: "t".into(),
            context: TaskContextKind::Process,
            memcg: None,
            cpuset: None,
            interrupts: None,
            body: vec![match op {
                Op::Scope(s, _) => Op::Scope(*s, Vec::new()),
                Op::IfFailed(v, _) => Op::IfFailed(v.clone(), Vec::new()),
                Op::Repeat(n, _) => Op::Repeat(*n, Vec::new()),
                o => o.clone(),
            }],
        }],
        ..Scenario::default()
    });
    s.lines().nth(3).unwrap_or("").trim().to_string()
}

/// Parses nothing: runs an already parsed scenario with `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Report, SetupError> {
    Ok(Sim::new(
        scenario,
        SimConfig {
            seed,
            ..SimConfig::default()
        },
    )?
    .run())
}
