//! The scenario format (version 1): data model, parser and printer.
//!
//! A scenario is line-based text. `#` starts a comment that runs to the end
//! of the line; blank lines are ignored; tokens are separated by spaces.
//! The first non-blank, non-comment line must be `gfp-scenario 1`.
//!
//! ```text
//! gfp-scenario 1
//! name example                    # optional
//! machine pages=4096              # or a preset: default, test-64mib, highmem-32bit
//! fill file-clean                 # before the tasks run: file-clean, file-dirty, anon, kernel
//! lock btree sleeping             # or spin; add fs-reclaim if the FS's reclaim path takes it
//! fn helper                       # a named function, run with `call helper`
//!   alloc p GFP_KERNEL|__GFP_NOFAIL no-failure-path
//! end
//! task writer                     # optional context: softirq, hardirq
//!   lock btree
//!   scope clear __GFP_DIRECT_RECLAIM
//!     call helper
//!   end
//!   unlock btree
//! end
//! ```
//!
//! Operations: `lock L`, `unlock L` (sleeping locks); `spin_lock L`,
//! `spin_unlock L`, `spin_lock_bh L`, `spin_unlock_bh L`;
//! `local_bh_disable`, `local_bh_enable`; `irq_disable`, `irq_enable`; `rcu_read_lock`,
//! `rcu_read_unlock`; `scope set FLAGS`, `scope clear FLAGS`, `scope nofs`,
//! `scope noio`, `scope noreclaim`, `scope pin` each opening a block closed
//! by `end`; `alloc VAR MASK [order=N] [node=N] [no-failure-path]`;
//! `if-failed VAR` opening a block closed by `end` (the caller's failure
//! path); `repeat N` opening a block closed by `end` (blocks nest at most
//! [`MAX_NESTING`] deep); `free VAR`; `touch VAR` (writes the memory); `expect-zero VAR`
//! (reads it, relying on it being zero); `sleep NS`; `fs_call` (calls into
//! the filesystem: takes its `fs-reclaim` locks and allocates with
//! `GFP_KERNEL`); `io [VAR] [dev=NAME]` (block I/O: allocates with
//! `GFP_NOIO` under the `io-reclaim` locks, waits for the device, whose
//! status goes to VAR); `fsync [VAR]` (the mapping's writeback error);
//! `call NAME`; `return`; `kmalloc VAR SIZE MASK`;
//! `mempool_alloc VAR POOL MASK`. Declarations besides `name`, `machine`,
//! `fill`, `lock`, `fn` and `task`: `swap PAGES`, `mempool NAME min=N
//! order=N`, `memcg NAME max=PAGES [high=PAGES] [low=PAGES] [min=PAGES]
//! [oom.group]` (settings in any order, each once; `low` and `min` at most
//! `max`), `cpuset NAME mems=LIST [hardwall]`,
//! `device NAME block|swap [latency=NS] [fail=every:N|after:N|rate:P/Q]`;
//! fills take `node=N` and `owner=NAME`, locks `io-reclaim`, tasks
//! `memcg=NAME`, `cpuset=NAME` and (handlers) `interrupts=TASK`. Masks are `|`-joined kernel names or
//! numbers without spaces (`GFP_KERNEL|__GFP_NOWARN`, `0x400`). The full
//! description is `FORMAT.md` in this crate.

use core::fmt;

use gfp::Gfp;
use serde::Serialize;

mod decls;
mod ops;
mod parser;
mod printer;
mod refs;
mod tokens;

pub use parser::parse;
pub use printer::{drop_scopes, mask_text, print};

/// The format version this crate reads and writes.
pub const VERSION: u32 = 1;

/// A parsed scenario.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scenario {
    /// Its name (`name` line), if any.
    pub name: Option<String>,
    /// The machine.
    pub machine: MachineDecl,
    /// The swap device's capacity in pages (`swap N`); `None`: 1024.
    pub swap: Option<u64>,
    /// Memory filled before the tasks start, in order.
    pub fills: Vec<FillDecl>,
    /// Declared locks.
    pub locks: Vec<LockDecl>,
    /// Memory pools (`mempool NAME min=N order=N`).
    pub mempools: Vec<MempoolDecl>,
    /// Memory cgroups (`memcg NAME max=PAGES [high=PAGES] [low=PAGES]
    /// [min=PAGES] [oom.group]`).
    pub memcgs: Vec<MemcgDecl>,
    /// Cpusets (`cpuset NAME mems=LIST [hardwall]`).
    pub cpusets: Vec<CpusetDecl>,
    /// Block and swap devices (`device NAME block|swap ...`).
    pub devices: Vec<DeviceDecl>,
    /// Named functions.
    pub functions: Vec<Function>,
    /// Tasks, in declaration order.
    pub tasks: Vec<TaskDecl>,
}

/// Tasks a scenario may declare: each may get a kernel stack of its own
/// (a memory mapping) in the simulator.
pub const MAX_TASKS: usize = 1024;

/// How deep `scope`, `repeat` and `if-failed` blocks may nest in one body.
/// The parser, the printer, [`drop_scopes`] and the simulator's compiler
/// recurse once per level (and so does dropping a parsed body), so the bound
/// keeps every one of them far inside a 2 MiB thread stack; it is still eight
/// times the scope depth at which the simulator reports `unbounded-recursion`
/// ([`gfp::context::MAX_SCOPE_DEPTH`]), so that finding stays reachable.
pub const MAX_NESTING: usize = 256;

/// The machine a scenario runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MachineDecl {
    /// A preset of [`gfp_mm::MachineSpec`]: `default`, `test-64mib`,
    /// `highmem-32bit`.
    Preset(String),
    /// One node with one Normal zone of this many pages (a multiple of 32),
    /// and per-CPU lists sized as said.
    Pages(u32, PcpSizing),
}

impl Default for MachineDecl {
    fn default() -> Self {
        MachineDecl::Pages(4096, PcpSizing::Small)
    }
}

/// How a `machine pages=N` sizes its per-CPU lists (`pcp=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PcpSizing {
    /// Batch 1, high 4: the lists hide almost nothing from the watermarks,
    /// which small scenarios reason about page by page.
    #[default]
    Small,
    /// As the kernel sizes them for the zone: `zone_batchsize()`, and the
    /// low watermark shared by the node's CPUs as `high`.
    Kernel,
}

impl PcpSizing {
    /// The keyword after `pcp=`.
    pub const fn name(self) -> &'static str {
        match self {
            PcpSizing::Small => "small",
            PcpSizing::Kernel => "kernel",
        }
    }
}

/// What fills memory before the tasks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fill {
    /// Clean page cache: reclaimable by any reclaim.
    FileClean,
    /// Dirty page cache: needs writeback.
    FileDirty,
    /// Anonymous memory: needs swap and `__GFP_IO`.
    Anon,
    /// Unreclaimable kernel memory.
    Kernel,
    /// The filesystem's inode and dentry caches: slab pages only its
    /// shrinker frees, and only for reclaim with `__GFP_FS`.
    FsCache,
    /// Nothing is allocated, but every page has held data before (memory
    /// after a workload): whoever gets a page reads that data unless it is
    /// zeroed.
    Used,
}

impl Fill {
    /// Every kind of fill.
    pub const ALL: [Fill; 6] = [
        Fill::FileClean,
        Fill::FileDirty,
        Fill::Anon,
        Fill::Kernel,
        Fill::FsCache,
        Fill::Used,
    ];

    /// The keyword.
    pub const fn name(self) -> &'static str {
        match self {
            Fill::FileClean => "file-clean",
            Fill::FileDirty => "file-dirty",
            Fill::Anon => "anon",
            Fill::Kernel => "kernel",
            Fill::FsCache => "fs-cache",
            Fill::Used => "used",
        }
    }

    fn from_name(s: &str) -> Option<Fill> {
        Fill::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// One `fill` line: what fills memory, where, and whose it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FillDecl {
    /// What the memory holds.
    pub kind: Fill,
    /// Only this node (`node=N`); `None`: every node.
    pub node: Option<u32>,
    /// The process the pages belong to (`owner=NAME`): a task of that name,
    /// or a background process that exists only as their owner. Owned
    /// anonymous pages count in the owner's RSS, so the OOM killer can free
    /// them by killing it. `None`: nobody's (page cache, kernel memory).
    pub owner: Option<String>,
}

impl FillDecl {
    /// A fill of every node, owned by nobody.
    pub fn of(kind: Fill) -> FillDecl {
        FillDecl {
            kind,
            node: None,
            owner: None,
        }
    }

    /// The declaration's text after `fill`: `anon node=1 owner=db`.
    pub fn text(&self) -> String {
        let mut t = String::from(self.kind.name());
        if let Some(n) = self.node {
            t.push_str(&format!(" node={n}"));
        }
        if let Some(w) = &self.owner {
            t.push_str(&format!(" owner={w}"));
        }
        t
    }
}

/// A memory pool of pages (`mempool_create_page_pool()`), preallocated
/// before memory is filled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MempoolDecl {
    /// Its name.
    pub name: String,
    /// Preallocated elements (`min_nr`).
    pub min: u32,
    /// The order of each element.
    pub order: u32,
}

/// A memory cgroup, a child of the root group
/// (`memcg NAME max=PAGES [high=PAGES] [low=PAGES] [min=PAGES] [oom.group]`).
///
/// The optional settings are kept as given, not filled with the kernel's
/// defaults, so that a scenario prints back with the keys it was written
/// with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemcgDecl {
    /// Its name.
    pub name: String,
    /// `memory.max` in pages.
    pub max: u64,
    /// `memory.high` in pages (`high=`); `None`: unlimited, the kernel's
    /// default.
    pub high: Option<u64>,
    /// `memory.low` in pages (`low=`): best-effort protection from
    /// reclaim; `None`: 0. At most `max`.
    pub low: Option<u64>,
    /// `memory.min` in pages (`min=`): hard protection from reclaim;
    /// `None`: 0. At most `max`.
    pub min: Option<u64>,
    /// `memory.oom.group` (`oom.group`): an OOM kill of one of its tasks
    /// kills all of them.
    pub oom_group: bool,
}

impl MemcgDecl {
    /// A group with only `memory.max` set, as `memcg NAME max=PAGES`.
    pub fn with_max(name: impl Into<String>, max: u64) -> MemcgDecl {
        MemcgDecl {
            name: name.into(),
            max,
            high: None,
            low: None,
            min: None,
            oom_group: false,
        }
    }
}

/// A cpuset, a child of the root cpuset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpusetDecl {
    /// Its name.
    pub name: String,
    /// Its memory nodes, ascending.
    pub mems: Vec<u32>,
    /// `cpuset.mem_hardwall`: kernel allocations of its tasks may not
    /// escape to the parent's nodes either.
    pub hardwall: bool,
}

/// What a device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// A block device: `io` reaches it; the first one declared holds the
    /// filesystem, whose writeback it serves.
    Block,
    /// The swap device: reclaim's swap-out writes to it.
    Swap,
}

impl DeviceKind {
    /// The keyword.
    pub const fn name(self) -> &'static str {
        match self {
            DeviceKind::Block => "block",
            DeviceKind::Swap => "swap",
        }
    }
}

/// Which requests a device fails (injected errors), counting its requests
/// from 1: one page written by reclaim, or one `io`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailMode {
    /// `every:N`: requests N, 2N, 3N, ... fail (N >= 1).
    Every(u64),
    /// `after:N`: the first N requests succeed, every later one fails (the
    /// device died).
    After(u64),
    /// `rate:P/Q`: each request fails with probability P/Q, drawn from a
    /// generator seeded with the run's seed and the device's position (the
    /// same seed fails the same requests).
    Rate(u32, u32),
}

impl FailMode {
    /// The value after `fail=`: `every:3`, `after:10`, `rate:1/4`.
    pub fn text(self) -> String {
        match self {
            FailMode::Every(n) => format!("every:{n}"),
            FailMode::After(n) => format!("after:{n}"),
            FailMode::Rate(p, q) => format!("rate:{p}/{q}"),
        }
    }
}

/// A device declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceDecl {
    /// Its name.
    pub name: String,
    /// Block or swap.
    pub kind: DeviceKind,
    /// Time one request takes (`latency=NS`); `None`: 100 µs.
    pub latency_ns: Option<u64>,
    /// Injected errors (`fail=`); `None`: it never fails.
    pub fail: Option<FailMode>,
}

/// A block I/O (`io [VAR] [dev=NAME]`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BlockIo {
    /// The variable that receives the I/O's status (`if-failed VAR` is its
    /// error path); `None`: the caller does not look at it.
    pub var: Option<String>,
    /// The block device; `None`: the first one declared (a device that
    /// never fails when there is none).
    pub device: Option<String>,
}

/// Sleeping lock or spinlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockKind {
    /// A mutex: waiting sleeps.
    Sleeping,
    /// A spinlock: holding it is atomic context.
    Spin,
}

/// A lock declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockDecl {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: LockKind,
    /// The filesystem's reclaim path (shrinker, writeback) takes it.
    pub fs_reclaim: bool,
    /// The block layer's submission path takes it (a request queue lock):
    /// reclaim that starts I/O (swap-out, writeback) goes through it.
    pub io_reclaim: bool,
}

/// A named function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// Its body.
    pub body: Vec<Op>,
}

/// Where a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskContextKind {
    /// Process context.
    #[default]
    Process,
    /// Softirq (atomic; PF_MEMALLOC of the interrupted task still counts).
    SoftIrq,
    /// Hard interrupt (atomic).
    HardIrq,
}

/// A task and its program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskDecl {
    /// Its name (`comm`).
    pub name: String,
    /// Its context.
    pub context: TaskContextKind,
    /// Its memory cgroup (`memcg=NAME`); `None`: the root group.
    pub memcg: Option<String>,
    /// Its cpuset (`cpuset=NAME`); `None`: the root cpuset.
    pub cpuset: Option<String>,
    /// A softirq or hardirq handler that interrupts this task
    /// (`interrupts=TASK`): it runs on that task's CPU between two of its
    /// steps, instead of being scheduled on its own.
    pub interrupts: Option<String>,
    /// Its program.
    pub body: Vec<Op>,
}

/// A named scope kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Sets flags on every nested mask.
    Set(Gfp),
    /// Clears flags from every nested mask.
    Clear(Gfp),
    /// `memalloc_nofs_save()`.
    Nofs,
    /// `memalloc_noio_save()`.
    Noio,
    /// `memalloc_noreclaim_save()` (PF_MEMALLOC).
    Noreclaim,
    /// `memalloc_pin_save()`.
    Pin,
}

/// An allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alloc {
    /// The variable that holds the page.
    pub var: String,
    /// The mask at the call site (before scopes).
    pub mask: Gfp,
    /// The order.
    pub order: u32,
    /// The preferred node.
    pub node: Option<u32>,
    /// The caller has no failure path: a failure here is a bug.
    pub no_failure_path: bool,
}

/// An allocation from a memory pool (`mempool_alloc()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolAlloc {
    /// The variable that holds the element.
    pub var: String,
    /// The pool.
    pub pool: String,
    /// The mask at the call site; the pool adds `__GFP_NOMEMALLOC`,
    /// `__GFP_NORETRY` and `__GFP_NOWARN` for its backing allocator.
    pub mask: Gfp,
    /// The caller has no failure path.
    pub no_failure_path: bool,
}

/// A slab allocation (`kmalloc()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kmalloc {
    /// The variable that holds the object.
    pub var: String,
    /// Bytes (1..=8192).
    pub size: u32,
    /// The mask at the call site.
    pub mask: Gfp,
    /// The caller has no failure path.
    pub no_failure_path: bool,
}

/// One operation of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Takes a sleeping lock.
    Lock(String),
    /// Drops a sleeping lock.
    Unlock(String),
    /// Takes a spinlock.
    SpinLock(String),
    /// Drops a spinlock.
    SpinUnlock(String),
    /// Takes a spinlock with softirqs disabled (`spin_lock_bh()`).
    SpinLockBh(String),
    /// Drops a spinlock taken with `spin_lock_bh`, enabling softirqs.
    SpinUnlockBh(String),
    /// `local_bh_disable()`: no softirq runs on this CPU.
    BhDisable,
    /// `local_bh_enable()`.
    BhEnable,
    /// `local_irq_disable()`.
    IrqDisable,
    /// `local_irq_enable()`.
    IrqEnable,
    /// `rcu_read_lock()`.
    RcuReadLock,
    /// `rcu_read_unlock()`.
    RcuReadUnlock,
    /// A scope around a block.
    Scope(Scope, Vec<Op>),
    /// An allocation.
    Alloc(Alloc),
    /// A block run only when the variable's allocation failed.
    IfFailed(String, Vec<Op>),
    /// Frees the variable's page.
    Free(String),
    /// Writes the variable's memory.
    Touch(String),
    /// Reads the variable's memory, relying on it being zero.
    ExpectZero(String),
    /// Sleeps this many nanoseconds.
    Sleep(u64),
    /// Calls into the filesystem.
    FsCall,
    /// Block I/O.
    Io(BlockIo),
    /// Asks the filesystem's mapping for a writeback error (`fsync()`,
    /// `filemap_check_errors()`); the variable receives the status.
    Fsync(Option<String>),
    /// Calls a named function.
    Call(String),
    /// Runs a block this many times (1..=100000).
    Repeat(u32, Vec<Op>),
    /// Leaves the current function (in a task's body: ends the program).
    Return,
    /// An allocation from a memory pool.
    MempoolAlloc(PoolAlloc),
    /// A slab allocation.
    Kmalloc(Kmalloc),
}

/// A parse error: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// The largest `repeat` count.
pub const MAX_REPEAT: u32 = 100_000;

/// The machine presets.
pub const PRESETS: [&str; 5] = [
    "default",
    "test-64mib",
    "highmem-32bit",
    "small-numa",
    "small-highmem",
];

/// The largest `kmalloc` size (the largest kmalloc class).
pub const MAX_KMALLOC: u32 = 8192;

/// A pool's elements when `min=` is not given.
pub const DEFAULT_POOL_MIN: u32 = 4;

/// The largest pool.
pub const MAX_POOL_MIN: u32 = 1024;
