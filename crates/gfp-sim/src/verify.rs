//! `gfp verify`: derives a verdict for every cell of the scope policy
//! table (every flag, set and cleared) by a bounded search for programs
//! that the scope breaks, run through the simulator.
//!
//! # The search space, the same for every cell
//!
//! A program is an *environment* ([`environments`]: a machine, what fills
//! its memory, the context of the task that enters the scope: plain
//! process, PF_MEMALLOC reclaim path, a memory cgroup, a cpuset) and a
//! *body*: a sequence of call sites from one vocabulary of realistic kernel
//! idioms ([`vocabulary`], the file `src/vocabulary.scenario`), each
//! written without knowing about any scope. The cell decides only the
//! scope wrapped around the body: `scope set F` or `scope clear F`. No
//! environment and no call site names the flag being verified.
//!
//! The search enumerates bodies by size (number of call sites, up to
//! [`Bounds::max_ops`]), then environments in order, then call sites in
//! vocabulary order, so the first counterexample found is a smallest one;
//! then it runs [`Bounds::random`] random programs a little larger
//! (seeded by [`Bounds::seed`]).
//!
//! # What counts as a counterexample
//!
//! A program is a *witness* against a cell when its run with the scope has
//! a finding other than `program-error` and `step-limit` and the same
//! program with its generic scopes removed ([`crate::format::drop_scopes`])
//! runs clean ([`clean`]: no such finding, and every task ran its program
//! to the end), both with scheduler seed [`SCHEDULER_SEED`] (the default of `gfp sim`,
//! so that `gfp sim WITNESS` replays it). The violation is then the
//! scope's doing.
//!
//! A program whose body evaluates no mask that the scope changes runs
//! exactly as its scope-free version: it is counted as explored without
//! being simulated again.
//!
//! # Verdicts and agreement
//!
//! A cell with a witness is derived `unsafe`; otherwise `no violation
//! found` within the bounds, or `not exercised` when no program searched
//! evaluates a mask the scope changes (nothing was simulated). A derived
//! verdict agrees with the policy table when `unsafe` meets a refused cell
//! and `no violation found` an allowed one; `not exercised` never agrees.
//! Cells the table refuses as *mm-internal* rest on who owns the flag, not
//! on a failure mode: they are searched and reported, and agree whatever
//! is derived, provided something was.
//!
//! # Assumptions of the analysis, made explicit
//!
//! * Call sites outside mempools hold at most a few pages at once (they
//!   free what they allocate before returning). The analysis calls a scope
//!   granting the reserves (`set __GFP_MEMALLOC`, PF_MEMALLOC) safe
//!   although it "grants unbounded access to memory reserves": its owner is
//!   trusted to bound what it allocates. Mempools are built for streams
//!   (`blk_writeback` keeps a batch in flight) and keep off the reserves
//!   with `__GFP_NOMEMALLOC`.
//! * An allocation without `__GFP_NOFAIL` that loops waits for others'
//!   progress (kswapd, another task's OOM kill), as the kernel's GFP_NOFS
//!   and GFP_NOIO allocations do: they never invoke the OOM killer. The
//!   simulator stops such a task without a finding. A `__GFP_NOFAIL`
//!   request gets the reserves to make progress on its own; when it
//!   cannot, that is `alloc-stall`.
//! * The small machines keep the proportions of real ones where they
//!   matter: reserves larger than what one call site takes, ZONE_DMA out of
//!   reach of allocations that may use higher zones.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use gfp::context::ScopeChange;
use gfp::policy::{self, Direction, Verdict};
use gfp::{Flag, Gfp};
use rayon::prelude::*;
use serde::Serialize;

use crate::format::{
    self, CpusetDecl, FillDecl, Function, MachineDecl, MemcgDecl, Op, Scenario, Scope,
    TaskContextKind, TaskDecl,
};
use crate::sim::{Report, Rule, Sim, SimConfig, XorShift};

/// The scheduler seed of every run: `gfp sim`'s default, so that a witness
/// replays with `gfp sim FILE`.
pub const SCHEDULER_SEED: u64 = 1;

/// The search bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Bounds {
    /// Bodies of up to this many call sites are enumerated exhaustively.
    pub max_ops: usize,
    /// Random programs per cell after the exhaustive part, with
    /// `max_ops + 1 ..= max_ops + 2` call sites.
    pub random: usize,
    /// Seed of the random part.
    pub seed: u64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_ops: 2,
            random: 512,
            seed: 1,
        }
    }
}

/// One call site of the vocabulary.
#[derive(Clone, Debug)]
pub struct Idiom {
    /// Its function name.
    pub name: String,
    /// What it is (the comment above it).
    pub summary: String,
    /// Its body.
    pub body: Vec<Op>,
    /// Every mask the allocator may evaluate for it, before scopes (the
    /// call sites' masks and what mempools and the slab derive from them).
    masks: Vec<Gfp>,
    /// Locks and pools it uses.
    locks: BTreeSet<String>,
    pools: BTreeSet<String>,
}

struct Vocabulary {
    decls: Scenario,
    idioms: Vec<Idiom>,
}

fn vocab() -> &'static Vocabulary {
    static V: OnceLock<Vocabulary> = OnceLock::new();
    V.get_or_init(|| {
        let text = include_str!("vocabulary.scenario");
        let decls = format::parse(text).expect("the vocabulary parses");
        let summaries = summaries(text);
        let idioms = decls
            .functions
            .iter()
            .map(|f| {
                let mut locks = BTreeSet::new();
                let mut pools = BTreeSet::new();
                let mut masks = Vec::new();
                walk(&f.body, &mut locks, &mut pools, &mut masks);
                masks.sort_by_key(|m| m.bits());
                masks.dedup();
                Idiom {
                    name: f.name.clone(),
                    summary: summaries
                        .iter()
                        .find(|(n, _)| *n == f.name)
                        .map(|(_, s)| s.clone())
                        .unwrap_or_default(),
                    body: f.body.clone(),
                    masks,
                    locks,
                    pools,
                }
            })
            .collect();
        Vocabulary { decls, idioms }
    })
}

/// `# summary` lines directly above `fn NAME`.
fn summaries(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(name) = l.strip_prefix("fn ") {
            let summary = i
                .checked_sub(1)
                .and_then(|j| lines[j].strip_prefix("# "))
                .unwrap_or("")
                .to_string();
            out.push((name.trim().to_string(), summary));
        }
    }
    out
}

/// Collects locks, pools and the masks the allocator may see.
fn walk(
    ops: &[Op],
    locks: &mut BTreeSet<String>,
    pools: &mut BTreeSet<String>,
    masks: &mut Vec<Gfp>,
) {
    for op in ops {
        match op {
            Op::Lock(n) | Op::SpinLock(n) => {
                locks.insert(n.clone());
            }
            Op::Alloc(a) => masks.push(a.mask),
            Op::MempoolAlloc(a) => {
                // mempool_alloc(): the backing allocator's two attempts.
                let m = a.mask | Gfp::NOMEMALLOC | Gfp::NORETRY | Gfp::NOWARN;
                masks.extend([a.mask, m, m - Gfp::DIRECT_RECLAIM - Gfp::IO]);
                pools.insert(a.pool.clone());
            }
            Op::Kmalloc(a) => {
                // The object, its slab page, the object-extension vector
                // and the vector's slab page.
                let vector = (a.mask - Gfp::ACCOUNT) | Gfp::NO_OBJ_EXT;
                let page = |m: Gfp| (m - Gfp::ZERO - Gfp::NO_OBJ_EXT - Gfp::ACCOUNT) | Gfp::COMP;
                masks.extend([a.mask, vector, page(a.mask), page(vector)]);
            }
            Op::Scope(_, b) | Op::IfFailed(_, b) | Op::Repeat(_, b) => walk(b, locks, pools, masks),
            _ => {}
        }
    }
}

/// The vocabulary's call sites, in search order.
pub fn vocabulary() -> &'static [Idiom] {
    &vocab().idioms
}

/// Where the task that enters the scope runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// A plain process.
    Process,
    /// A reclaim path: PF_MEMALLOC (`memalloc_noreclaim_save()`), as when
    /// swapping out or writing back.
    Reclaim,
}

/// An environment: the machine, its memory and the context of the task
/// that enters the scope.
#[derive(Clone, Debug)]
pub struct Environment {
    /// A short name.
    pub name: &'static str,
    /// What it models.
    pub summary: &'static str,
    /// The machine preset.
    pub machine: &'static str,
    /// Swap pages (`None`: the default).
    pub swap: Option<u64>,
    /// Fills, in order.
    pub fills: Vec<FillDecl>,
    /// The task's memory cgroup.
    pub memcg: Option<MemcgDecl>,
    /// The task's cpuset.
    pub cpuset: Option<CpusetDecl>,
    /// The task's context.
    pub context: Context,
}

fn fill(kind: format::Fill, node: Option<u32>, owner: Option<&str>) -> FillDecl {
    FillDecl {
        kind,
        node,
        owner: owner.map(str::to_string),
    }
}

/// The environments, in search order (simplest first).
pub fn environments() -> Vec<Environment> {
    use format::Fill::*;
    let env = |name, summary, machine| Environment {
        name,
        summary,
        machine,
        swap: None,
        fills: Vec::new(),
        memcg: None,
        cpuset: None,
        context: Context::Process,
    };
    // Memory only the OOM killer can free: a process's anonymous memory
    // with no swap, then kernel memory down into the atomic reserves.
    let exhausted = vec![fill(Anon, None, Some("memhog")), fill(Kernel, None, None)];
    vec![
        Environment {
            fills: vec![fill(Used, None, None)],
            ..env(
                "free",
                "2-node machine with ZONE_DMA, DMA32, Normal, Movable; memory free, every page used before",
                "small-numa",
            )
        },
        Environment {
            fills: vec![fill(FileClean, None, None)],
            ..env(
                "page-cache",
                "memory full of clean page cache, at the min watermark, kswapd asleep",
                "small-numa",
            )
        },
        Environment {
            swap: Some(1024),
            fills: vec![fill(Anon, None, Some("memhog"))],
            ..env(
                "anon",
                "memory full of a process's anonymous memory; reclaim must swap (needs __GFP_IO)",
                "small-numa",
            )
        },
        Environment {
            swap: Some(0),
            fills: exhausted.clone(),
            ..env(
                "exhausted",
                "no swap, memory full of a process's memory and kernel memory into the atomic reserves: only the OOM killer frees memory",
                "small-numa",
            )
        },
        Environment {
            fills: vec![fill(FileClean, Some(1), None)],
            ..env(
                "node1-full",
                "node 1 full of page cache, node 0 free",
                "small-numa",
            )
        },
        Environment {
            fills: vec![fill(FileClean, Some(1), None)],
            cpuset: Some(CpusetDecl {
                name: "node1".into(),
                mems: vec![1],
                hardwall: false,
            }),
            ..env(
                "cpuset",
                "the task in a cpuset of node 1, node 1 full of page cache",
                "small-numa",
            )
        },
        Environment {
            fills: vec![fill(FileClean, None, Some("main"))],
            memcg: Some(MemcgDecl::with_max("box", 64)),
            ..env(
                "memcg",
                "the task in a memory cgroup of 64 pages, full of its page cache",
                "small-numa",
            )
        },
        Environment {
            fills: vec![fill(FileClean, None, None)],
            context: Context::Reclaim,
            ..env(
                "reclaim",
                "a reclaim path (PF_MEMALLOC) with memory full of page cache",
                "small-numa",
            )
        },
        Environment {
            swap: Some(0),
            fills: exhausted,
            context: Context::Reclaim,
            ..env(
                "reclaim-exhausted",
                "a reclaim path (PF_MEMALLOC) with only the OOM killer able to free memory",
                "small-numa",
            )
        },
        env(
            "highmem",
            "32-bit machine with ZONE_HIGHMEM; memory free",
            "small-highmem",
        ),
        Environment {
            fills: vec![fill(FileClean, None, None)],
            ..env(
                "highmem-page-cache",
                "32-bit machine full of clean page cache",
                "small-highmem",
            )
        },
    ]
}

/// A program: an environment and a body of call sites.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Program {
    /// Index into [`environments`].
    pub env: usize,
    /// Indices into [`vocabulary`].
    pub body: Vec<usize>,
}

/// The scope a cell wraps around the body.
pub fn cell_scope(flag: Flag, direction: Direction) -> Scope {
    match direction {
        Direction::Set => Scope::Set(flag.mask()),
        Direction::Clear => Scope::Clear(flag.mask()),
    }
}

/// The program as a scenario; `scope`: the cell's scope around the body.
pub fn scenario(envs: &[Environment], p: &Program, scope: Option<Scope>) -> Scenario {
    let v = vocab();
    let e = &envs[p.env];
    let mut used: Vec<usize> = p.body.clone();
    used.sort_unstable();
    used.dedup();
    let idioms: Vec<&Idiom> = used.iter().map(|&i| &v.idioms[i]).collect();
    let locks = v
        .decls
        .locks
        .iter()
        .filter(|l| idioms.iter().any(|i| i.locks.contains(&l.name)))
        .cloned()
        .collect();
    let mempools = v
        .decls
        .mempools
        .iter()
        .filter(|m| idioms.iter().any(|i| i.pools.contains(&m.name)))
        .cloned()
        .collect();
    let mut body: Vec<Op> = p
        .body
        .iter()
        .map(|&i| Op::Call(v.idioms[i].name.clone()))
        .collect();
    if let Some(s) = scope {
        body = vec![Op::Scope(s, body)];
    }
    if e.context == Context::Reclaim {
        body = vec![Op::Scope(Scope::Noreclaim, body)];
    }
    Scenario {
        name: Some(format!("verify-{}", e.name)),
        machine: MachineDecl::Preset(e.machine.into()),
        swap: e.swap,
        fills: e.fills.clone(),
        locks,
        mempools,
        memcgs: e.memcg.iter().cloned().collect(),
        cpusets: e.cpuset.iter().cloned().collect(),
        devices: Vec::new(),
        functions: idioms
            .iter()
            .map(|i| Function {
                name: i.name.clone(),
                body: i.body.clone(),
            })
            .collect(),
        tasks: vec![TaskDecl {
            name: "main".into(),
            context: TaskContextKind::Process,
            memcg: e.memcg.as_ref().map(|m| m.name.clone()),
            cpuset: e.cpuset.as_ref().map(|c| c.name.clone()),
            interrupts: None,
            body,
        }],
    }
}

/// Runs a scenario the way the search does.
pub fn run(s: &Scenario) -> Report {
    // `gfp sim`'s configuration, so that a witness replays as found.
    match Sim::new(
        s,
        SimConfig {
            seed: SCHEDULER_SEED,
            ..SimConfig::default()
        },
    ) {
        Ok(sim) => sim.run(),
        // The environments are fixed and build; a failure here is a bug of
        // the search space, reported as a program error so that it can
        // never count as a witness.
        Err(e) => Report {
            scenario: s.name.clone().unwrap_or_default(),
            seed: SCHEDULER_SEED,
            time_ns: 0,
            steps: 0,
            tasks: Vec::new(),
            kswapd_wakeups: 0,
            kswapd_runs: 0,
            pgsteal_kswapd: 0,
            pgsteal_direct: 0,
            oom_kills: 0,
            fs_reclaim_calls: 0,
            fs_cache_freed: 0,
            swap_write_errors: 0,
            writeback_errors: 0,
            io_errors: 0,
            findings: vec![crate::sim::Finding {
                rule: Rule::ProgramError,
                rule_id: Rule::ProgramError.id(),
                task: String::new(),
                at: String::new(),
                time_ns: 0,
                message: format!("setup: {e}"),
            }],
            memcgs: Vec::new(),
        },
    }
}

/// The finding that makes a run a violation: the first one that is not a
/// `program-error` or `step-limit` (a run cut short shows nothing the scope
/// did).
pub fn violation(r: &Report) -> Option<&crate::sim::Finding> {
    r.findings
        .iter()
        .find(|f| !matches!(f.rule, Rule::ProgramError | Rule::StepLimit))
}

/// Whether a run is clean: no violation, and every task ran its program to
/// the end (none stuck, blocked, killed or cut by the step limit). Only a
/// program whose scope-free run is clean can make a witness.
pub fn clean(r: &Report) -> bool {
    violation(r).is_none() && r.all_completed()
}

/// Whether the scope changes any mask the body may evaluate; if not, the
/// run with the scope is the run without it.
fn affects(change: &ScopeChange, p: &Program) -> bool {
    let v = vocab();
    p.body.iter().any(|&i| {
        v.idioms[i]
            .masks
            .iter()
            .any(|&m| (m - change.clear) | change.set != m)
    })
}

/// A counterexample.
#[derive(Clone, Debug, Serialize)]
pub struct Witness {
    /// The detector's rule id.
    pub detector: &'static str,
    /// Call sites in the body.
    pub size: usize,
    /// The environment's name.
    pub environment: &'static str,
    /// The call sites, in order.
    pub call_sites: Vec<String>,
    /// The finding's message.
    pub message: String,
    /// The scenario file.
    pub text: String,
}

/// The derived verdict of one cell.
#[derive(Clone, Debug, Serialize)]
pub struct CellResult {
    /// The flag's kernel name.
    pub flag: &'static str,
    /// `set` or `clear`.
    pub direction: Direction,
    /// The table's verdict name (`safe`, `unsafe`, `mm-internal`, ...).
    pub documented: &'static str,
    /// Whether the table allows the scope.
    pub documented_allowed: bool,
    /// `unsafe`, `no violation found` or `not exercised`.
    pub derived: &'static str,
    /// Whether the derived verdict agrees with the table.
    pub agrees: bool,
    /// Programs explored.
    pub explored: u64,
    /// Programs simulated with the scope (the rest provably ran as their
    /// scope-free versions).
    pub simulated: u64,
    /// The witness scenario, for `unsafe`.
    pub witness: Option<String>,
    /// The witness's detector.
    pub detector: Option<&'static str>,
    /// Details of the witness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness_details: Option<Witness>,
    /// The bounds searched.
    pub bounds: Bounds,
}

/// Every cell of the table, in table order.
pub fn cells() -> Vec<(Flag, Direction)> {
    policy::TABLE
        .iter()
        .flat_map(|r| [(r.flag, Direction::Set), (r.flag, Direction::Clear)])
        .collect()
}

/// `unsafe` or `no violation found`.
pub const UNSAFE: &str = "unsafe";
/// The derived verdict without a witness.
pub const NO_VIOLATION: &str = "no violation found";
/// The derived verdict of a cell whose scope changed no mask of any
/// program searched: nothing was simulated, so nothing was derived.
pub const NOT_EXERCISED: &str = "not exercised";

/// The exhaustive part of the search space, in search order.
pub fn exhaustive_programs(envs: usize, bounds: &Bounds) -> Vec<Program> {
    let n = vocabulary().len();
    let mut out = Vec::new();
    for size in 1..=bounds.max_ops {
        let count = n.pow(size as u32);
        for env in 0..envs {
            // Bodies as base-n numbers, most significant call site first:
            // lexicographic order.
            for x in 0..count {
                let mut body = vec![0usize; size];
                let mut rest = x;
                for slot in body.iter_mut().rev() {
                    *slot = rest % n;
                    rest /= n;
                }
                out.push(Program { env, body });
            }
        }
    }
    out
}

/// The random part: programs with `max_ops + 1 ..= max_ops + 2` call
/// sites, the same for every cell.
pub fn random_programs(envs: usize, bounds: &Bounds) -> Vec<Program> {
    let n = vocabulary().len();
    let mut rng = XorShift::new(bounds.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED);
    (0..bounds.random)
        .map(|_| {
            let size = bounds.max_ops + 1 + rng.below(2);
            Program {
                env: rng.below(envs),
                body: (0..size).map(|_| rng.below(n)).collect(),
            }
        })
        .collect()
}

/// Every program a search considers, in search order: the exhaustive part,
/// then the random part.
pub fn programs(envs: usize, bounds: &Bounds) -> Vec<Program> {
    let mut p = exhaustive_programs(envs, bounds);
    p.extend(random_programs(envs, bounds));
    p
}

/// Renders a witness scenario with its explanatory comment.
fn witness_text(
    envs: &[Environment],
    p: &Program,
    flag: Flag,
    direction: Direction,
    finding: &crate::sim::Finding,
) -> String {
    let s = scenario(envs, p, Some(cell_scope(flag, direction)));
    let body = format::print(&s);
    let e = &envs[p.env];
    let v = vocab();
    let mut head = String::from("gfp-scenario 1\n");
    head.push_str(&format!(
        "# gfp verify witness: {direction} {} (documented {}): {} fires\n",
        flag.kernel_name(),
        policy::cell(flag, direction).verdict.describe(),
        finding.rule_id
    ));
    head.push_str(&format!("# environment {}: {}\n", e.name, e.summary));
    for &i in &p.body {
        head.push_str(&format!(
            "# call site {}: {}\n",
            v.idioms[i].name, v.idioms[i].summary
        ));
    }
    head.push_str(&format!("# finding: {}\n", finding.message));
    head.push_str(
        "# replay: `gfp sim FILE` (exit 1, the finding); `gfp sim FILE --drop-scopes` (exit 0)\n",
    );
    head + body.strip_prefix("gfp-scenario 1\n").unwrap_or(&body)
}

/// Searches one cell over `programs`; `dropped_clean[k]` caches whether
/// program `k` runs clean without scopes (shared by every cell, computed
/// on first use); `progress` is told how many programs each step explored.
fn search_cell(
    envs: &[Environment],
    programs: &[Program],
    dropped_clean: &[OnceLock<bool>],
    flag: Flag,
    direction: Direction,
    bounds: &Bounds,
    progress: &(dyn Fn(u64) + Sync),
) -> CellResult {
    let scope = cell_scope(flag, direction);
    let change = match scope {
        Scope::Set(g) => ScopeChange::generic(g, Gfp::EMPTY),
        _ => ScopeChange::generic(Gfp::EMPTY, flag.mask()),
    };
    let mut explored = 0u64;
    let mut simulated = 0u64;
    let mut found: Option<(Program, crate::sim::Finding)> = None;
    for (k, p) in programs.iter().enumerate() {
        explored += 1;
        progress(1);
        if !affects(&change, p)
            || !*dropped_clean[k].get_or_init(|| clean(&run(&scenario(envs, p, None))))
        {
            continue;
        }
        simulated += 1;
        let r = run(&scenario(envs, p, Some(scope)));
        if let Some(f) = violation(&r) {
            found = Some((p.clone(), f.clone()));
            break;
        }
    }
    progress(programs.len() as u64 - explored);
    let cell = policy::cell(flag, direction);
    let derived = if found.is_some() {
        UNSAFE
    } else if simulated == 0 {
        NOT_EXERCISED
    } else {
        NO_VIOLATION
    };
    // A cell no program exercised has no derived verdict to agree with.
    let agrees = derived != NOT_EXERCISED
        && (cell.verdict == Verdict::MmInternal || (derived == UNSAFE) != cell.allowed());
    let witness_details = found.map(|(p, f)| {
        let v = vocab();
        Witness {
            detector: f.rule_id,
            size: p.body.len(),
            environment: envs[p.env].name,
            call_sites: p.body.iter().map(|&i| v.idioms[i].name.clone()).collect(),
            message: f.message.clone(),
            text: witness_text(envs, &p, flag, direction, &f),
        }
    });
    CellResult {
        flag: flag.kernel_name(),
        direction,
        documented: cell.verdict.name(),
        documented_allowed: cell.allowed(),
        derived,
        agrees,
        explored,
        simulated,
        witness: witness_details.as_ref().map(|w| w.text.clone()),
        detector: witness_details.as_ref().map(|w| w.detector),
        witness_details,
        bounds: *bounds,
    }
}

/// What to verify.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Only this flag.
    pub flag: Option<Flag>,
    /// Only this direction.
    pub direction: Option<Direction>,
}

impl Selection {
    /// The selected cells, in table order.
    pub fn cells(&self) -> Vec<(Flag, Direction)> {
        cells()
            .into_iter()
            .filter(|(f, d)| {
                self.flag.is_none_or(|x| x == *f) && self.direction.is_none_or(|x| x == *d)
            })
            .collect()
    }
}

/// Runs the search for the selected cells; deterministic for given bounds.
/// `progress` is called with the number of programs each cell just
/// explored, adding up to [`total_work`].
pub fn verify(
    sel: &Selection,
    bounds: &Bounds,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<CellResult> {
    let envs = environments();
    let programs = programs(envs.len(), bounds);
    // The scope-free run of each program, shared by every cell.
    let dropped_clean: Vec<OnceLock<bool>> = programs.iter().map(|_| OnceLock::new()).collect();
    sel.cells()
        .par_iter()
        .map(|&(flag, direction)| {
            search_cell(
                &envs,
                &programs,
                &dropped_clean,
                flag,
                direction,
                bounds,
                progress,
            )
        })
        .collect()
}

/// The units of work [`verify`] reports through `progress`: programs
/// times cells.
pub fn total_work(sel: &Selection, bounds: &Bounds) -> u64 {
    programs(environments().len(), bounds).len() as u64 * sel.cells().len() as u64
}
