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
//!
//! By concern: module `setup` builds a run from a scenario, `sched` is the
//! scheduler, `exec` executes one operation and `alloc` the allocation
//! operations, `detectors` holds every detector's rule, and `report` the
//! report a run ends with.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

use gfp::context::{ScopeChange, ScopeToken};
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

mod alloc;
mod detectors;
mod devices;
mod exec;
mod fast;
mod irq;
mod reclaim;
mod record;
pub(crate) mod report;
mod sched;
mod setup;
mod stack;

pub use devices::DEFAULT_LATENCY_NS;
use fast::{Blocks, OpInfo, NONE};
use reclaim::{Actor, FsShrinker, ReclaimPath, World};

pub use report::{Finding, MemcgReport, Outcome, Report, Rule, TaskReport};
pub use setup::{machine_spec, DEFAULT_SWAP_PAGES, IO_LATENCY_NS};

/// [`SimConfig::max_steps`]' default.
pub const DEFAULT_MAX_STEPS: u64 = 100_000;

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
            max_steps: DEFAULT_MAX_STEPS,
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
    /// Pages the tasks' `free` operations returned to the allocator
    /// (`pgfree` over each: a slab or mempool free may free none).
    task_freed: u64,
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
    /// The groups of the scenario's `memcg` lines, in declaration order.
    memcg_ids: Vec<MemcgId>,
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

/// Runs an already parsed scenario with `config`.
pub fn run_with(scenario: &Scenario, config: SimConfig) -> Result<Report, SetupError> {
    Ok(Sim::new(scenario, config)?.run())
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
