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
        [
            Fill::FileClean,
            Fill::FileDirty,
            Fill::Anon,
            Fill::Kernel,
            Fill::FsCache,
            Fill::Used,
        ]
        .into_iter()
        .find(|f| f.name() == s)
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

#[derive(Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    line: usize,
    col: usize,
}

struct Line<'a> {
    no: usize,
    toks: Vec<Tok<'a>>,
}

fn err<T>(line: usize, col: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        column: col,
        message: message.into(),
    })
}

fn tokenize(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = match raw.find('#') {
            Some(p) => &raw[..p],
            None => raw,
        };
        let mut toks = Vec::new();
        let mut start: Option<usize> = None;
        for (bi, ch) in content.char_indices().chain([(content.len(), ' ')]) {
            if ch.is_whitespace() {
                if let Some(s) = start.take() {
                    let col = content[..s].chars().count() + 1;
                    toks.push(Tok {
                        text: &content[s..bi],
                        line: i + 1,
                        col,
                    });
                }
            } else if start.is_none() {
                start = Some(bi);
            }
        }
        if !toks.is_empty() {
            out.push(Line { no: i + 1, toks });
        }
    }
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn name_tok(t: &Tok<'_>, what: &str) -> Result<String, ParseError> {
    if is_name(t.text) {
        Ok(t.text.to_string())
    } else {
        err(
            t.line,
            t.col,
            format!(
                "`{}` is not a valid {what} (letters, digits, `_`, `-`, `.`)",
                t.text
            ),
        )
    }
}

/// A declaration's name (`what` is the declaration's keyword): a valid
/// name that `taken` does not already know.
fn new_name(t: &Tok<'_>, what: &str, taken: impl Fn(&str) -> bool) -> Result<String, ParseError> {
    let name = name_tok(t, &format!("{what} name"))?;
    if taken(&name) {
        return err(t.line, t.col, format!("{what} `{name}` declared twice"));
    }
    Ok(name)
}

/// An `order=N` option's value: at most `MAX_PAGE_ORDER` (10), and given
/// once per line (`seen` tracks it).
fn order_opt(t: &Tok<'_>, v: &str, seen: &mut bool) -> Result<u32, ParseError> {
    let o: u32 = num_tok(t, v, "order")?;
    if *seen {
        return err(t.line, t.col, "order given twice");
    }
    if o > 10 {
        return err(t.line, t.col, format!("order {o} above MAX_PAGE_ORDER 10"));
    }
    *seen = true;
    Ok(o)
}

fn mask_tok(t: &Tok<'_>) -> Result<Gfp, ParseError> {
    gfp::parse::parse_native(t.text).or_else(|e| err(t.line, t.col, format!("bad mask: {e}")))
}

fn num_tok<T: core::str::FromStr>(t: &Tok<'_>, s: &str, what: &str) -> Result<T, ParseError> {
    s.parse::<T>()
        .or_else(|_| err(t.line, t.col, format!("`{s}` is not a valid {what}")))
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    last_line: usize,
}

impl<'a> Parser<'a> {
    fn arity(&self, l: &Line<'a>, n: usize, usage: &str) -> Result<(), ParseError> {
        if l.toks.len() == n {
            return Ok(());
        }
        if l.toks.len() > n {
            let t = l.toks[n];
            return err(
                t.line,
                t.col,
                format!("unexpected `{}`; usage: {usage}", t.text),
            );
        }
        let last = l.toks[l.toks.len() - 1];
        err(
            l.no,
            last.col + last.text.chars().count(),
            format!("missing argument; usage: {usage}"),
        )
    }

    /// Parses the body opened by `opener` up to its `end` (consumed).
    ///
    /// Nested blocks are kept on an explicit stack, not parsed by
    /// recursion, so the parser's own stack use does not grow with the
    /// nesting; a block more than [`MAX_NESTING`] deep is an error at its
    /// opener.
    fn body(&mut self, opener: Tok<'a>) -> Result<Vec<Op>, ParseError> {
        // The open blocks, outermost first: opener, what closes it into an
        // op (none for the outermost body), and the ops parsed so far.
        let mut open: Vec<(Tok<'a>, Option<Block>, Vec<Op>)> = vec![(opener, None, Vec::new())];
        loop {
            match self.line()? {
                Parsed::Op(op) => open.last_mut().expect("a body is open").2.push(op),
                Parsed::Open(t, block) => {
                    if open.len() > MAX_NESTING {
                        return err(
                            t.line,
                            t.col,
                            format!("blocks nested more than {MAX_NESTING} deep"),
                        );
                    }
                    open.push((t, Some(block), Vec::new()));
                }
                Parsed::End => {
                    let (_, block, ops) = open.pop().expect("a body is open");
                    let Some(outer) = open.last_mut() else {
                        return Ok(ops);
                    };
                    outer
                        .2
                        .push(match block.expect("only the outermost body has no block") {
                            Block::Repeat(n) => Op::Repeat(n, ops),
                            Block::IfFailed(v) => Op::IfFailed(v, ops),
                            Block::Scope(sc) => Op::Scope(sc, ops),
                        });
                }
                Parsed::Eof => {
                    let (opener, _, _) = open.last().expect("a body is open");
                    return err(
                        self.last_line + 1,
                        1,
                        format!(
                            "`{}` opened at line {}, column {} has no `end`",
                            opener.text, opener.line, opener.col
                        ),
                    );
                }
            }
        }
    }

    /// Parses the next line of a body.
    fn line(&mut self) -> Result<Parsed<'a>, ParseError> {
        {
            let Some(l) = self.lines.get(self.pos) else {
                return Ok(Parsed::Eof);
            };
            let l = Line {
                no: l.no,
                toks: l.toks.clone(),
            };
            self.pos += 1;
            let t0 = l.toks[0];
            let op = match t0.text {
                "end" => {
                    self.arity(&l, 1, "end")?;
                    return Ok(Parsed::End);
                }
                "lock" | "unlock" | "spin_lock" | "spin_unlock" | "spin_lock_bh"
                | "spin_unlock_bh" => {
                    self.arity(&l, 2, &format!("{} LOCK", t0.text))?;
                    let n = name_tok(&l.toks[1], "lock name")?;
                    match t0.text {
                        "lock" => Op::Lock(n),
                        "unlock" => Op::Unlock(n),
                        "spin_lock" => Op::SpinLock(n),
                        "spin_unlock" => Op::SpinUnlock(n),
                        "spin_lock_bh" => Op::SpinLockBh(n),
                        _ => Op::SpinUnlockBh(n),
                    }
                }
                "irq_disable" | "irq_enable" | "rcu_read_lock" | "rcu_read_unlock" | "fs_call"
                | "local_bh_disable" | "local_bh_enable" | "return" => {
                    self.arity(&l, 1, t0.text)?;
                    match t0.text {
                        "irq_disable" => Op::IrqDisable,
                        "irq_enable" => Op::IrqEnable,
                        "rcu_read_lock" => Op::RcuReadLock,
                        "rcu_read_unlock" => Op::RcuReadUnlock,
                        "fs_call" => Op::FsCall,
                        "local_bh_disable" => Op::BhDisable,
                        "local_bh_enable" => Op::BhEnable,
                        _ => Op::Return,
                    }
                }
                "io" => {
                    let usage = "io [VAR] [dev=NAME]";
                    let mut io = BlockIo::default();
                    for t in &l.toks[1..] {
                        if let Some(v) = t.text.strip_prefix("dev=") {
                            if io.device.is_some() {
                                return err(t.line, t.col, "dev given twice");
                            }
                            io.device = Some(name_tok(&Tok { text: v, ..*t }, "device name")?);
                        } else if io.var.is_none() {
                            io.var = Some(name_tok(t, "variable name")?);
                        } else {
                            return err(
                                t.line,
                                t.col,
                                format!("unexpected `{}`; usage: {usage}", t.text),
                            );
                        }
                    }
                    Op::Io(io)
                }
                "fsync" => {
                    if l.toks.len() > 2 {
                        self.arity(&l, 2, "fsync [VAR]")?;
                    }
                    Op::Fsync(match l.toks.get(1) {
                        Some(t) => Some(name_tok(t, "variable name")?),
                        None => None,
                    })
                }
                "mempool_alloc" | "kmalloc" => {
                    let usage = if t0.text == "kmalloc" {
                        "kmalloc VAR SIZE MASK [no-failure-path]"
                    } else {
                        "mempool_alloc VAR POOL MASK [no-failure-path]"
                    };
                    if l.toks.len() < 4 {
                        self.arity(&l, 4, usage)?;
                    }
                    if l.toks.len() > 5 {
                        self.arity(&l, 5, usage)?;
                    }
                    let var = name_tok(&l.toks[1], "variable name")?;
                    let mask = mask_tok(&l.toks[3])?;
                    let no_failure_path = match l.toks.get(4) {
                        None => false,
                        Some(t) if t.text == "no-failure-path" => true,
                        Some(t) => {
                            return err(
                                t.line,
                                t.col,
                                format!("unexpected `{}`: expected no-failure-path", t.text),
                            )
                        }
                    };
                    if t0.text == "kmalloc" {
                        let t = l.toks[2];
                        let size: u32 = num_tok(&t, t.text, "size in bytes")?;
                        if size == 0 || size > MAX_KMALLOC {
                            return err(
                                t.line,
                                t.col,
                                format!("kmalloc size {size}: need 1..={MAX_KMALLOC} bytes"),
                            );
                        }
                        Op::Kmalloc(Kmalloc {
                            var,
                            size,
                            mask,
                            no_failure_path,
                        })
                    } else {
                        Op::MempoolAlloc(PoolAlloc {
                            var,
                            pool: name_tok(&l.toks[2], "pool name")?,
                            mask,
                            no_failure_path,
                        })
                    }
                }
                "free" | "touch" | "expect-zero" | "call" => {
                    self.arity(&l, 2, &format!("{} NAME", t0.text))?;
                    let n = name_tok(&l.toks[1], "name")?;
                    match t0.text {
                        "free" => Op::Free(n),
                        "touch" => Op::Touch(n),
                        "expect-zero" => Op::ExpectZero(n),
                        _ => Op::Call(n),
                    }
                }
                "sleep" => {
                    self.arity(&l, 2, "sleep NANOSECONDS")?;
                    let t = l.toks[1];
                    Op::Sleep(num_tok(&t, t.text, "number of nanoseconds")?)
                }
                "repeat" => {
                    self.arity(&l, 2, "repeat N")?;
                    let t = l.toks[1];
                    let n: u32 = num_tok(&t, t.text, "repeat count")?;
                    if n == 0 || n > MAX_REPEAT {
                        return err(t.line, t.col, format!("repeat {n}: need 1..={MAX_REPEAT}"));
                    }
                    return Ok(Parsed::Open(t0, Block::Repeat(n)));
                }
                "if-failed" => {
                    self.arity(&l, 2, "if-failed VAR")?;
                    let v = name_tok(&l.toks[1], "variable name")?;
                    return Ok(Parsed::Open(t0, Block::IfFailed(v)));
                }
                "scope" => {
                    if l.toks.len() < 2 {
                        self.arity(
                            &l,
                            2,
                            "scope set|clear FLAGS | scope nofs|noio|noreclaim|pin",
                        )?;
                    }
                    let k = l.toks[1];
                    let scope = match k.text {
                        "set" | "clear" => {
                            self.arity(&l, 3, &format!("scope {} FLAGS", k.text))?;
                            let m = mask_tok(&l.toks[2])?;
                            if k.text == "set" {
                                Scope::Set(m)
                            } else {
                                Scope::Clear(m)
                            }
                        }
                        "nofs" | "noio" | "noreclaim" | "pin" => {
                            self.arity(&l, 2, &format!("scope {}", k.text))?;
                            match k.text {
                                "nofs" => Scope::Nofs,
                                "noio" => Scope::Noio,
                                "noreclaim" => Scope::Noreclaim,
                                _ => Scope::Pin,
                            }
                        }
                        other => {
                            return err(
                                k.line,
                                k.col,
                                format!("unknown scope `{other}`: expected set, clear, nofs, noio, noreclaim or pin"),
                            )
                        }
                    };
                    return Ok(Parsed::Open(t0, Block::Scope(scope)));
                }
                "alloc" => {
                    if l.toks.len() < 3 {
                        self.arity(&l, 3, "alloc VAR MASK [order=N] [node=N] [no-failure-path]")?;
                    }
                    let var = name_tok(&l.toks[1], "variable name")?;
                    let mask = mask_tok(&l.toks[2])?;
                    let mut a = Alloc {
                        var,
                        mask,
                        order: 0,
                        node: None,
                        no_failure_path: false,
                    };
                    let (mut seen_order, mut seen_node, mut seen_nfp) = (false, false, false);
                    for t in &l.toks[3..] {
                        if let Some(v) = t.text.strip_prefix("order=") {
                            let o = order_opt(t, v, &mut seen_order)?;
                            a.order = o;
                        } else if let Some(v) = t.text.strip_prefix("node=") {
                            if seen_node {
                                return err(t.line, t.col, "node given twice");
                            }
                            seen_node = true;
                            a.node = Some(num_tok(t, v, "node")?);
                        } else if t.text == "no-failure-path" {
                            if seen_nfp {
                                return err(t.line, t.col, "no-failure-path given twice");
                            }
                            seen_nfp = true;
                            a.no_failure_path = true;
                        } else {
                            return err(
                                t.line,
                                t.col,
                                format!(
                                    "unexpected `{}`: expected order=N, node=N or no-failure-path",
                                    t.text
                                ),
                            );
                        }
                    }
                    Op::Alloc(a)
                }
                other => {
                    return err(t0.line, t0.col, format!("unknown operation `{other}`"));
                }
            };
            Ok(Parsed::Op(op))
        }
    }
}

/// A block opener's op, without its body yet.
enum Block {
    Repeat(u32),
    IfFailed(String),
    Scope(Scope),
}

/// One line of a body, parsed.
enum Parsed<'a> {
    /// A whole op.
    Op(Op),
    /// A block opener (`repeat`, `if-failed`, `scope`).
    Open(Tok<'a>, Block),
    /// `end`.
    End,
    /// No lines left.
    Eof,
}

/// Parses a scenario. Never panics; errors name the line, column and problem.
pub fn parse(text: &str) -> Result<Scenario, ParseError> {
    let lines = tokenize(text);
    let last_line = text.lines().count();
    let Some(first) = lines.first() else {
        return err(1, 1, "empty scenario: expected `gfp-scenario 1`");
    };
    let h = first.toks[0];
    if h.text != "gfp-scenario" {
        return err(
            h.line,
            h.col,
            format!("expected `gfp-scenario 1`, found `{}`", h.text),
        );
    }
    match first.toks.get(1) {
        None => return err(h.line, h.col + h.text.len(), "missing format version"),
        Some(v) if v.text != "1" => {
            return err(
                v.line,
                v.col,
                format!(
                    "unsupported format version `{}` (this reader knows 1)",
                    v.text
                ),
            )
        }
        Some(_) => {}
    }
    if let Some(t) = first.toks.get(2) {
        return err(
            t.line,
            t.col,
            format!("unexpected `{}` after the version", t.text),
        );
    }
    let mut p = Parser {
        lines,
        pos: 1,
        last_line,
    };
    let mut s = Scenario::default();
    let (mut seen_machine, mut seen_name) = (false, false);
    // Names referenced by ops, checked once every declaration is known.
    while let Some(l) = p.lines.get(p.pos) {
        let l = Line {
            no: l.no,
            toks: l.toks.clone(),
        };
        p.pos += 1;
        let t0 = l.toks[0];
        match t0.text {
            "name" => {
                p.arity(&l, 2, "name NAME")?;
                if seen_name {
                    return err(t0.line, t0.col, "second `name` line");
                }
                seen_name = true;
                s.name = Some(name_tok(&l.toks[1], "scenario name")?);
            }
            "machine" => {
                let usage = "machine PRESET | machine pages=N [pcp=small|kernel]";
                let pcp = match l.toks.get(2) {
                    Some(t) if l.toks[1].text.starts_with("pages=") => {
                        p.arity(&l, 3, usage)?;
                        match t.text.strip_prefix("pcp=") {
                            Some("small") => PcpSizing::Small,
                            Some("kernel") => PcpSizing::Kernel,
                            _ => {
                                return err(
                                    t.line,
                                    t.col,
                                    format!(
                                        "unexpected `{}`: expected pcp=small or pcp=kernel",
                                        t.text
                                    ),
                                )
                            }
                        }
                    }
                    _ => {
                        p.arity(&l, 2, usage)?;
                        PcpSizing::Small
                    }
                };
                if seen_machine {
                    return err(t0.line, t0.col, "second `machine` line");
                }
                seen_machine = true;
                let t = l.toks[1];
                s.machine = if let Some(v) = t.text.strip_prefix("pages=") {
                    let n: u32 = num_tok(&t, v, "page count")?;
                    if n == 0 || n % 32 != 0 || n > 1 << 24 {
                        return err(
                            t.line,
                            t.col,
                            format!("pages={n}: need a positive multiple of 32 up to 16777216"),
                        );
                    }
                    MachineDecl::Pages(n, pcp)
                } else if PRESETS.contains(&t.text) {
                    MachineDecl::Preset(t.text.to_string())
                } else {
                    return err(
                        t.line,
                        t.col,
                        format!(
                            "unknown machine `{}`: expected pages=N or one of {}",
                            t.text,
                            PRESETS.join(", ")
                        ),
                    );
                };
            }
            "fill" => {
                let usage = "fill file-clean|file-dirty|anon|kernel|used [node=N] [owner=NAME]";
                if l.toks.len() < 2 {
                    p.arity(&l, 2, usage)?;
                }
                let t = l.toks[1];
                let Some(kind) = Fill::from_name(t.text) else {
                    return err(
                        t.line,
                        t.col,
                        format!(
                            "unknown fill `{}`: expected file-clean, file-dirty, anon, kernel or used",
                            t.text
                        ),
                    );
                };
                let mut f = FillDecl::of(kind);
                for t in &l.toks[2..] {
                    if let Some(v) = t.text.strip_prefix("node=") {
                        if f.node.is_some() {
                            return err(t.line, t.col, "node given twice");
                        }
                        f.node = Some(num_tok(t, v, "node")?);
                    } else if let Some(v) = t.text.strip_prefix("owner=") {
                        if f.owner.is_some() {
                            return err(t.line, t.col, "owner given twice");
                        }
                        let owner = Tok { text: v, ..*t };
                        f.owner = Some(name_tok(&owner, "owner name")?);
                    } else {
                        return err(
                            t.line,
                            t.col,
                            format!("unexpected `{}`; usage: {usage}", t.text),
                        );
                    }
                }
                s.fills.push(f);
            }
            "swap" => {
                p.arity(&l, 2, "swap PAGES")?;
                if s.swap.is_some() {
                    return err(t0.line, t0.col, "second `swap` line");
                }
                let t = l.toks[1];
                s.swap = Some(num_tok(&t, t.text, "number of swap pages")?);
            }
            "mempool" => {
                let usage = "mempool NAME [min=N] [order=N]";
                if l.toks.len() < 2 {
                    p.arity(&l, 2, usage)?;
                }
                let name = new_name(&l.toks[1], "mempool", |n| s.mempools.iter().any(|d| d.name == n))?;
                let mut d = MempoolDecl {
                    name,
                    min: DEFAULT_POOL_MIN,
                    order: 0,
                };
                let (mut seen_min, mut seen_order) = (false, false);
                for t in &l.toks[2..] {
                    if let Some(v) = t.text.strip_prefix("min=") {
                        let n: u32 = num_tok(t, v, "pool size")?;
                        if seen_min || n == 0 || n > MAX_POOL_MIN {
                            return err(
                                t.line,
                                t.col,
                                if seen_min {
                                    "min given twice".to_string()
                                } else {
                                    format!("min={n}: need 1..={MAX_POOL_MIN}")
                                },
                            );
                        }
                        seen_min = true;
                        d.min = n;
                    } else if let Some(v) = t.text.strip_prefix("order=") {
                        let o = order_opt(t, v, &mut seen_order)?;
                        d.order = o;
                    } else {
                        return err(
                            t.line,
                            t.col,
                            format!("unexpected `{}`; usage: {usage}", t.text),
                        );
                    }
                }
                s.mempools.push(d);
            }
            "memcg" => {
                let d = memcg_decl(&p, &l, &s.memcgs)?;
                s.memcgs.push(d);
            }
            "cpuset" => {
                let usage = "cpuset NAME mems=LIST [hardwall]";
                if l.toks.len() < 3 || l.toks.len() > 4 {
                    p.arity(&l, if l.toks.len() < 3 { 3 } else { 4 }, usage)?;
                }
                let name = new_name(&l.toks[1], "cpuset", |n| s.cpusets.iter().any(|d| d.name == n))?;
                let t = l.toks[2];
                let Some(v) = t.text.strip_prefix("mems=") else {
                    return err(
                        t.line,
                        t.col,
                        format!("unexpected `{}`; usage: {usage}", t.text),
                    );
                };
                let mems = node_list(&t, v)?;
                let hardwall = match l.toks.get(3) {
                    None => false,
                    Some(t) if t.text == "hardwall" => true,
                    Some(t) => {
                        return err(
                            t.line,
                            t.col,
                            format!("unexpected `{}`: expected hardwall", t.text),
                        )
                    }
                };
                s.cpusets.push(CpusetDecl {
                    name,
                    mems,
                    hardwall,
                });
            }
            "device" => {
                let usage = "device NAME block|swap [latency=NS] [fail=every:N|after:N|rate:P/Q]";
                if l.toks.len() < 3 {
                    p.arity(&l, 3, usage)?;
                }
                let name = new_name(&l.toks[1], "device", |n| s.devices.iter().any(|d| d.name == n))?;
                let k = l.toks[2];
                let kind = match k.text {
                    "block" => DeviceKind::Block,
                    "swap" => DeviceKind::Swap,
                    o => {
                        return err(
                            k.line,
                            k.col,
                            format!("unknown device kind `{o}`: expected block or swap"),
                        )
                    }
                };
                if kind == DeviceKind::Swap && s.devices.iter().any(|d| d.kind == DeviceKind::Swap)
                {
                    return err(k.line, k.col, "a second swap device (one is modelled)");
                }
                let mut d = DeviceDecl {
                    name,
                    kind,
                    latency_ns: None,
                    fail: None,
                };
                for t in &l.toks[3..] {
                    if let Some(v) = t.text.strip_prefix("latency=") {
                        if d.latency_ns.is_some() {
                            return err(t.line, t.col, "latency given twice");
                        }
                        d.latency_ns = Some(num_tok(t, v, "latency in nanoseconds")?);
                    } else if let Some(v) = t.text.strip_prefix("fail=") {
                        if d.fail.is_some() {
                            return err(t.line, t.col, "fail given twice");
                        }
                        d.fail = Some(fail_mode(t, v)?);
                    } else {
                        return err(
                            t.line,
                            t.col,
                            format!("unexpected `{}`; usage: {usage}", t.text),
                        );
                    }
                }
                s.devices.push(d);
            }
            "lock" => {
                if l.toks.len() < 3 {
                    p.arity(&l, 3, "lock NAME sleeping|spin [fs-reclaim|io-reclaim]")?;
                }
                if l.toks.len() > 4 {
                    p.arity(&l, 4, "lock NAME sleeping|spin [fs-reclaim|io-reclaim]")?;
                }
                let name = new_name(&l.toks[1], "lock", |n| s.locks.iter().any(|d| d.name == n))?;
                let k = l.toks[2];
                let kind = match k.text {
                    "sleeping" => LockKind::Sleeping,
                    "spin" => LockKind::Spin,
                    o => {
                        return err(
                            k.line,
                            k.col,
                            format!("unknown lock kind `{o}`: expected sleeping or spin"),
                        )
                    }
                };
                let (fs_reclaim, io_reclaim) = match l.toks.get(3) {
                    None => (false, false),
                    Some(t) if t.text == "fs-reclaim" => (true, false),
                    Some(t) if t.text == "io-reclaim" => (false, true),
                    Some(t) => {
                        return err(
                            t.line,
                            t.col,
                            format!("unexpected `{}`: expected fs-reclaim or io-reclaim", t.text),
                        )
                    }
                };
                s.locks.push(LockDecl {
                    name,
                    kind,
                    fs_reclaim,
                    io_reclaim,
                });
            }
            "fn" => {
                p.arity(&l, 2, "fn NAME")?;
                let name = name_tok(&l.toks[1], "function name")?;
                if s.functions.iter().any(|f| f.name == name) {
                    return err(
                        l.toks[1].line,
                        l.toks[1].col,
                        format!("function `{name}` defined twice"),
                    );
                }
                let body = p.body(t0)?;
                s.functions.push(Function { name, body });
            }
            "task" => {
                let usage = "task NAME [softirq|hardirq [interrupts=TASK]] [memcg=NAME] [cpuset=NAME]";
                if l.toks.len() < 2 {
                    p.arity(&l, 2, usage)?;
                }
                if s.tasks.len() == MAX_TASKS {
                    return err(
                        l.toks[0].line,
                        l.toks[0].col,
                        format!("more than {MAX_TASKS} tasks"),
                    );
                }
                let name = new_name(&l.toks[1], "task", |n| s.tasks.iter().any(|d| d.name == n))?;
                let mut context = None;
                let (mut memcg, mut cpuset) = (None, None);
                let mut interrupts: Option<(String, Tok<'_>)> = None;
                for t in &l.toks[2..] {
                    let dup = |what: &str| err(t.line, t.col, format!("{what} given twice"));
                    match t.text {
                        "softirq" | "hardirq" => {
                            if context.is_some() {
                                return dup("context");
                            }
                            context = Some(if t.text == "softirq" {
                                TaskContextKind::SoftIrq
                            } else {
                                TaskContextKind::HardIrq
                            });
                        }
                        _ => {
                            if let Some(v) = t.text.strip_prefix("memcg=") {
                                if memcg.is_some() {
                                    return dup("memcg");
                                }
                                memcg = Some(name_tok(&Tok { text: v, ..*t }, "memcg name")?);
                            } else if let Some(v) = t.text.strip_prefix("cpuset=") {
                                if cpuset.is_some() {
                                    return dup("cpuset");
                                }
                                cpuset = Some(name_tok(&Tok { text: v, ..*t }, "cpuset name")?);
                            } else if let Some(v) = t.text.strip_prefix("interrupts=") {
                                if interrupts.is_some() {
                                    return dup("interrupts");
                                }
                                interrupts = Some((
                                    name_tok(&Tok { text: v, ..*t }, "task name")?,
                                    *t,
                                ));
                            } else {
                                return err(
                                    t.line,
                                    t.col,
                                    format!(
                                        "unknown task option `{}`: expected softirq, hardirq, memcg=NAME, cpuset=NAME or interrupts=TASK",
                                        t.text
                                    ),
                                );
                            }
                        }
                    }
                }
                if let Some((_, t)) = &interrupts {
                    if context.is_none() {
                        return err(
                            t.line,
                            t.col,
                            "interrupts=TASK needs softirq or hardirq: only an interrupt handler interrupts a task",
                        );
                    }
                }
                let body = p.body(t0)?;
                s.tasks.push(TaskDecl {
                    name,
                    context: context.unwrap_or_default(),
                    memcg,
                    cpuset,
                    interrupts: interrupts.map(|(n, _)| n),
                    body,
                });
            }
            "gfp-scenario" => return err(t0.line, t0.col, "second `gfp-scenario` header"),
            other => {
                return err(
                    t0.line,
                    t0.col,
                    format!(
                    "unknown declaration `{other}`: expected name, machine, swap, fill, device, lock, mempool, memcg, cpuset, fn or task"
                ),
                )
            }
        }
    }
    check_refs(&s, text)?;
    Ok(s)
}

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

/// How a `memcg` line is written, for its error messages.
const MEMCG_USAGE: &str = "memcg NAME max=PAGES [high=PAGES] [low=PAGES] [min=PAGES] [oom.group]";

/// A `memcg` line: the name, then its settings in any order, each at most
/// once. `max=` is required, as it was when it was the only setting, so
/// that no scenario declares a group that limits nothing by omission.
/// `low=` and `min=` above `max=` are refused: a group never holds more
/// than `max`, so such protection could only be a mistake.
fn memcg_decl<'a>(
    p: &Parser<'a>,
    l: &Line<'a>,
    taken: &[MemcgDecl],
) -> Result<MemcgDecl, ParseError> {
    if l.toks.len() < 3 {
        p.arity(l, 3, MEMCG_USAGE)?;
    }
    let name = new_name(&l.toks[1], "memcg", |n| taken.iter().any(|d| d.name == n))?;
    let mut d = MemcgDecl::with_max(name, 0);
    let mut max = None;
    // The tokens of `low=` and `min=`, to point at once `max` is known.
    let (mut low_tok, mut min_tok) = (None, None);
    for t in &l.toks[2..] {
        if t.text == "oom.group" {
            if d.oom_group {
                return err(t.line, t.col, "oom.group given twice");
            }
            d.oom_group = true;
            continue;
        }
        let Some((key, v)) = t.text.split_once('=') else {
            return err(
                t.line,
                t.col,
                format!("unexpected `{}`; usage: {MEMCG_USAGE}", t.text),
            );
        };
        let slot = match key {
            "max" => &mut max,
            "high" => &mut d.high,
            "low" => {
                low_tok = Some(*t);
                &mut d.low
            }
            "min" => {
                min_tok = Some(*t);
                &mut d.min
            }
            "oom.group" => return err(t.line, t.col, "oom.group takes no value"),
            _ => {
                let expected = "expected max=, high=, low=, min= or oom.group";
                return err(
                    t.line,
                    t.col,
                    format!("unknown memcg setting `{key}`: {expected}"),
                );
            }
        };
        if slot.is_some() {
            return err(t.line, t.col, format!("{key} given twice"));
        }
        *slot = Some(num_tok(t, v, "page count")?);
    }
    let Some(max) = max else {
        let last = l.toks[l.toks.len() - 1];
        return err(
            l.no,
            last.col + last.text.chars().count(),
            format!("missing max=PAGES; usage: {MEMCG_USAGE}"),
        );
    };
    d.max = max;
    for (key, value, tok) in [("low", d.low, low_tok), ("min", d.min, min_tok)] {
        if let (Some(v), Some(t)) = (value, tok) {
            if v > max {
                return err(t.line, t.col, format!("{key}={v} is above max={max}"));
            }
        }
    }
    Ok(d)
}

/// Parses the value of `fail=`: `every:N`, `after:N`, `rate:P/Q`.
fn fail_mode(t: &Tok<'_>, v: &str) -> Result<FailMode, ParseError> {
    let bad = |why: &str| {
        err(
            t.line,
            t.col,
            format!("bad fail=`{v}`: {why}; expected every:N, after:N or rate:P/Q"),
        )
    };
    let Some((how, n)) = v.split_once(':') else {
        return bad("no `:`");
    };
    match how {
        "every" => match n.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(FailMode::Every(n)),
            _ => bad("every:N needs N >= 1"),
        },
        "after" => match n.parse::<u64>() {
            Ok(n) => Ok(FailMode::After(n)),
            _ => bad("after:N needs a number"),
        },
        "rate" => {
            let parsed = n
                .split_once('/')
                .and_then(|(p, q)| Some((p.parse::<u32>().ok()?, q.parse::<u32>().ok()?)));
            match parsed {
                Some((p, q)) if q >= 1 && p <= q => Ok(FailMode::Rate(p, q)),
                _ => bad("rate:P/Q needs 0 <= P <= Q, Q >= 1"),
            }
        }
        _ => bad(&format!("unknown mode `{how}`")),
    }
}

/// Parses a node list: `1`, `0,1`, `0-3`, `0-1,3`.
fn node_list(t: &Tok<'_>, v: &str) -> Result<Vec<u32>, ParseError> {
    let mut out = Vec::new();
    for part in v.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = num_tok(t, a, "node")?;
        let b: u32 = num_tok(t, b, "node")?;
        if a > b || b >= 64 {
            return err(
                t.line,
                t.col,
                format!("bad node range `{part}`: nodes are 0..=63, low-high"),
            );
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Where the option token `needle` stands on task `task`'s declaration
/// line (line 1, column 1 when it cannot be found).
fn task_option_at(text: &str, task: &str, needle: &str) -> (usize, usize) {
    tokenize(text)
        .into_iter()
        .filter(|l| l.toks[0].text == "task" && l.toks.get(1).is_some_and(|n| n.text == task))
        .find_map(|l| {
            l.toks
                .iter()
                .find(|k| k.text == needle)
                .map(|k| (k.line, k.col))
        })
        .unwrap_or((1, 1))
}

/// Checks that every lock and function an op names is declared, and that
/// locks are used with their kind. Reports the first line that names it.
fn check_refs(s: &Scenario, text: &str) -> Result<(), ParseError> {
    fn walk<'o>(ops: &'o [Op], out: &mut Vec<(&'o str, &'o str)>) {
        for op in ops {
            match op {
                Op::Lock(n) | Op::Unlock(n) => out.push(("lock", n)),
                Op::SpinLock(n) | Op::SpinUnlock(n) | Op::SpinLockBh(n) | Op::SpinUnlockBh(n) => {
                    out.push(("spin", n))
                }
                Op::Io(BlockIo {
                    device: Some(d), ..
                }) => out.push(("device", d)),
                Op::Call(n) => out.push(("call", n)),
                Op::MempoolAlloc(a) => out.push(("mempool", &a.pool)),
                Op::Scope(_, b) | Op::IfFailed(_, b) | Op::Repeat(_, b) => walk(b, out),
                _ => {}
            }
        }
    }
    let mut refs = Vec::new();
    for f in &s.functions {
        walk(&f.body, &mut refs);
    }
    for t in &s.tasks {
        walk(&t.body, &mut refs);
    }
    for (kind, name) in refs {
        let problem = match kind {
            "call" if !s.functions.iter().any(|f| f.name == name) => {
                Some(format!("call of undefined function `{name}`"))
            }
            "mempool" if !s.mempools.iter().any(|m| m.name == name) => {
                Some(format!("mempool `{name}` is not declared"))
            }
            "device" => match s.devices.iter().find(|d| d.name == name) {
                None => Some(format!("device `{name}` is not declared")),
                Some(d) if d.kind != DeviceKind::Block => Some(format!(
                    "device `{name}` is the swap device; io needs a block device"
                )),
                _ => None,
            },
            "lock" | "spin" => match s.locks.iter().find(|l| l.name == name) {
                None => Some(format!("lock `{name}` is not declared")),
                Some(l) if (l.kind == LockKind::Spin) != (kind == "spin") => Some(format!(
                    "lock `{name}` is declared {}; use {}",
                    if l.kind == LockKind::Spin {
                        "spin"
                    } else {
                        "sleeping"
                    },
                    if l.kind == LockKind::Spin {
                        "spin_lock/spin_unlock"
                    } else {
                        "lock/unlock"
                    }
                )),
                _ => None,
            },
            _ => None,
        };
        if let Some(message) = problem {
            let (line, column) = locate(text, kind, name);
            return err(line, column, message);
        }
    }
    for t in &s.tasks {
        let missing = if let Some(m) = t
            .memcg
            .as_ref()
            .filter(|m| !s.memcgs.iter().any(|d| &d.name == *m))
        {
            Some(("memcg=", m, "memcg"))
        } else {
            t.cpuset
                .as_ref()
                .filter(|c| !s.cpusets.iter().any(|d| &d.name == *c))
                .map(|c| ("cpuset=", c, "cpuset"))
        };
        if let Some((key, name, what)) = missing {
            let needle = format!("{key}{name}");
            let (line, column) = task_option_at(text, &t.name, &needle);
            return err(line, column, format!("{what} `{name}` is not declared"));
        }
    }
    for t in &s.tasks {
        let Some(v) = &t.interrupts else { continue };
        let problem = match s.tasks.iter().find(|d| &d.name == v) {
            None => Some(format!("task `{v}` is not declared")),
            Some(d) if d.context != TaskContextKind::Process => Some(format!(
                "task `{v}` is not a process-context task: handlers interrupt tasks"
            )),
            _ => None,
        };
        if let Some(message) = problem {
            let needle = format!("interrupts={v}");
            let (line, column) = task_option_at(text, &t.name, &needle);
            return err(line, column, message);
        }
    }
    Ok(())
}

/// The first op line naming `name` with an op of `kind`.
fn locate(text: &str, kind: &str, name: &str) -> (usize, usize) {
    for l in tokenize(text) {
        let first = l.toks[0].text;
        let matches_kind = match kind {
            "call" => first == "call",
            "mempool" => first == "mempool_alloc",
            "lock" => first == "lock" || first == "unlock",
            "device" => first == "io",
            _ => matches!(
                first,
                "spin_lock" | "spin_unlock" | "spin_lock_bh" | "spin_unlock_bh"
            ),
        };
        if kind == "device" && matches_kind {
            let needle = format!("dev={name}");
            if let Some(t) = l.toks.iter().find(|t| t.text == needle) {
                return (l.no, t.col);
            }
        }
        if matches_kind && kind == "mempool" {
            if let Some(t) = l.toks.get(2).filter(|t| t.text == name) {
                return (l.no, t.col);
            }
        }
        if matches_kind && l.toks.len() == 2 && l.toks[1].text == name {
            return (l.no, l.toks[1].col);
        }
    }
    (1, 1)
}

/// The same scenario with every generic scope (`scope set`, `scope clear`)
/// removed and its body inlined: what `gfp sim --drop-scopes` runs, and
/// what `gfp verify` checks a witness against. The task-flag scopes
/// (`nofs`, `noio`, `noreclaim`, `pin`) describe the program's context and
/// stay.
pub fn drop_scopes(s: &Scenario) -> Scenario {
    fn ops(body: &[Op]) -> Vec<Op> {
        let mut out = Vec::with_capacity(body.len());
        for op in body {
            match op {
                Op::Scope(Scope::Set(_) | Scope::Clear(_), b) => out.extend(ops(b)),
                Op::Scope(k, b) => out.push(Op::Scope(*k, ops(b))),
                Op::IfFailed(v, b) => out.push(Op::IfFailed(v.clone(), ops(b))),
                Op::Repeat(n, b) => out.push(Op::Repeat(*n, ops(b))),
                o => out.push(o.clone()),
            }
        }
        out
    }
    let mut d = s.clone();
    for f in &mut d.functions {
        f.body = ops(&f.body);
    }
    for t in &mut d.tasks {
        t.body = ops(&t.body);
    }
    d
}

/// Prints a scenario in the canonical layout; [`parse`] reads it back to
/// the same value.
pub fn print(s: &Scenario) -> String {
    let mut o = String::new();
    o.push_str("gfp-scenario 1\n");
    if let Some(n) = &s.name {
        o.push_str(&format!("name {n}\n"));
    }
    match &s.machine {
        MachineDecl::Preset(p) => o.push_str(&format!("machine {p}\n")),
        MachineDecl::Pages(n, PcpSizing::Small) => o.push_str(&format!("machine pages={n}\n")),
        MachineDecl::Pages(n, pcp) => {
            o.push_str(&format!("machine pages={n} pcp={}\n", pcp.name()))
        }
    }
    if let Some(n) = s.swap {
        o.push_str(&format!("swap {n}\n"));
    }
    for f in &s.fills {
        o.push_str(&format!("fill {}\n", f.text()));
    }
    for l in &s.locks {
        o.push_str(&format!(
            "lock {} {}{}\n",
            l.name,
            match l.kind {
                LockKind::Sleeping => "sleeping",
                LockKind::Spin => "spin",
            },
            if l.fs_reclaim {
                " fs-reclaim"
            } else if l.io_reclaim {
                " io-reclaim"
            } else {
                ""
            }
        ));
    }
    for m in &s.mempools {
        o.push_str(&format!("mempool {} min={}", m.name, m.min));
        if m.order != 0 {
            o.push_str(&format!(" order={}", m.order));
        }
        o.push('\n');
    }
    for m in &s.memcgs {
        o.push_str(&format!("memcg {} max={}", m.name, m.max));
        for (key, value) in [("high", m.high), ("low", m.low), ("min", m.min)] {
            if let Some(v) = value {
                o.push_str(&format!(" {key}={v}"));
            }
        }
        if m.oom_group {
            o.push_str(" oom.group");
        }
        o.push('\n');
    }
    for c in &s.cpusets {
        let mems: Vec<String> = c.mems.iter().map(|n| n.to_string()).collect();
        o.push_str(&format!(
            "cpuset {} mems={}{}\n",
            c.name,
            mems.join(","),
            if c.hardwall { " hardwall" } else { "" }
        ));
    }
    for d in &s.devices {
        o.push_str(&format!("device {} {}", d.name, d.kind.name()));
        if let Some(l) = d.latency_ns {
            o.push_str(&format!(" latency={l}"));
        }
        if let Some(f) = d.fail {
            o.push_str(&format!(" fail={}", f.text()));
        }
        o.push('\n');
    }
    for f in &s.functions {
        o.push_str(&format!("fn {}\n", f.name));
        print_body(&mut o, &f.body, 1);
        o.push_str("end\n");
    }
    for t in &s.tasks {
        o.push_str(&format!(
            "task {}{}",
            t.name,
            match t.context {
                TaskContextKind::Process => "",
                TaskContextKind::SoftIrq => " softirq",
                TaskContextKind::HardIrq => " hardirq",
            }
        ));
        if let Some(m) = &t.memcg {
            o.push_str(&format!(" memcg={m}"));
        }
        if let Some(c) = &t.cpuset {
            o.push_str(&format!(" cpuset={c}"));
        }
        if let Some(v) = &t.interrupts {
            o.push_str(&format!(" interrupts={v}"));
        }
        o.push('\n');
        print_body(&mut o, &t.body, 1);
        o.push_str("end\n");
    }
    o
}

fn print_body(o: &mut String, ops: &[Op], depth: usize) {
    let pad = "  ".repeat(depth);
    for op in ops {
        o.push_str(&pad);
        match op {
            Op::Lock(n) => o.push_str(&format!("lock {n}\n")),
            Op::Unlock(n) => o.push_str(&format!("unlock {n}\n")),
            Op::SpinLock(n) => o.push_str(&format!("spin_lock {n}\n")),
            Op::SpinUnlock(n) => o.push_str(&format!("spin_unlock {n}\n")),
            Op::SpinLockBh(n) => o.push_str(&format!("spin_lock_bh {n}\n")),
            Op::SpinUnlockBh(n) => o.push_str(&format!("spin_unlock_bh {n}\n")),
            Op::BhDisable => o.push_str("local_bh_disable\n"),
            Op::BhEnable => o.push_str("local_bh_enable\n"),
            Op::IrqDisable => o.push_str("irq_disable\n"),
            Op::IrqEnable => o.push_str("irq_enable\n"),
            Op::RcuReadLock => o.push_str("rcu_read_lock\n"),
            Op::RcuReadUnlock => o.push_str("rcu_read_unlock\n"),
            Op::Scope(sc, body) => {
                match sc {
                    Scope::Set(g) => o.push_str(&format!("scope set {}\n", mask_text(*g))),
                    Scope::Clear(g) => o.push_str(&format!("scope clear {}\n", mask_text(*g))),
                    Scope::Nofs => o.push_str("scope nofs\n"),
                    Scope::Noio => o.push_str("scope noio\n"),
                    Scope::Noreclaim => o.push_str("scope noreclaim\n"),
                    Scope::Pin => o.push_str("scope pin\n"),
                }
                print_body(o, body, depth + 1);
                o.push_str(&pad);
                o.push_str("end\n");
            }
            Op::Repeat(n, body) => {
                o.push_str(&format!("repeat {n}\n"));
                print_body(o, body, depth + 1);
                o.push_str(&pad);
                o.push_str("end\n");
            }
            Op::IfFailed(v, body) => {
                o.push_str(&format!("if-failed {v}\n"));
                print_body(o, body, depth + 1);
                o.push_str(&pad);
                o.push_str("end\n");
            }
            Op::Alloc(a) => {
                o.push_str(&format!("alloc {} {}", a.var, mask_text(a.mask)));
                if a.order != 0 {
                    o.push_str(&format!(" order={}", a.order));
                }
                if let Some(n) = a.node {
                    o.push_str(&format!(" node={n}"));
                }
                if a.no_failure_path {
                    o.push_str(" no-failure-path");
                }
                o.push('\n');
            }
            Op::Free(v) => o.push_str(&format!("free {v}\n")),
            Op::Touch(v) => o.push_str(&format!("touch {v}\n")),
            Op::ExpectZero(v) => o.push_str(&format!("expect-zero {v}\n")),
            Op::Sleep(ns) => o.push_str(&format!("sleep {ns}\n")),
            Op::FsCall => o.push_str("fs_call\n"),
            Op::Io(io) => {
                o.push_str("io");
                if let Some(v) = &io.var {
                    o.push_str(&format!(" {v}"));
                }
                if let Some(d) = &io.device {
                    o.push_str(&format!(" dev={d}"));
                }
                o.push('\n');
            }
            Op::Fsync(v) => match v {
                Some(v) => o.push_str(&format!("fsync {v}\n")),
                None => o.push_str("fsync\n"),
            },
            Op::Call(n) => o.push_str(&format!("call {n}\n")),
            Op::Return => o.push_str("return\n"),
            Op::MempoolAlloc(a) => o.push_str(&format!(
                "mempool_alloc {} {} {}{}\n",
                a.var,
                a.pool,
                mask_text(a.mask),
                if a.no_failure_path {
                    " no-failure-path"
                } else {
                    ""
                }
            )),
            Op::Kmalloc(a) => o.push_str(&format!(
                "kmalloc {} {} {}{}\n",
                a.var,
                a.size,
                mask_text(a.mask),
                if a.no_failure_path {
                    " no-failure-path"
                } else {
                    ""
                }
            )),
        }
    }
}

/// A mask as the format writes it: kernel names when they read back to the
/// same bits, else hexadecimal.
pub fn mask_text(g: Gfp) -> String {
    let named = g.to_string();
    if !named.contains(' ') && gfp::parse::parse_native(&named).ok() == Some(g) {
        named
    } else {
        format!("{:#x}", g.bits())
    }
}
