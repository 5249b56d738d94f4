//! `gfp scan`: gfp's scope policy applied to kernel C source.
//!
//! The scanner parses a kernel tree as it is (no configured build) with
//! tree-sitter, in parallel over files, and keeps per function its calls and
//! the context in force at each: atomic sections (spinlocks and the other
//! non-sleeping sections, with their `guard()` forms), and allocation scopes
//! (`memalloc_*_save()`, `current->flags |= PF_MEMALLOC_*`). Over the whole
//! tree's call graph it then applies the rules of [`rules::id`]:
//! allocations that may sleep in atomic context, `__GFP_NOFAIL` without
//! direct reclaim, GFP_NOFS/GFP_NOIO made redundant by a scope, unpaired
//! scopes, and, for a proposed scope around a function, every nested
//! allocation the policy table says it breaks.
//!
//! Masks are evaluated with the gfp crate's profile of the kernel scanned,
//! and a function that passes its own `gfp_t` down is summarised as an
//! allocator of it, so `helper(GFP_KERNEL)` under a lock is found.

#![forbid(unsafe_code)]

pub mod baseline;
mod cond_keys;
pub mod decided;
pub mod extract;
pub mod facts;
mod file;
pub mod flow;
pub mod graph;
pub mod guards;
pub mod headers;
pub mod kconfig;
pub mod lexical;
pub mod mask;
pub mod preproc;
pub mod report;
pub mod rule_docs;
pub mod rules;
pub mod scope_helpers;
pub mod vocab;
pub mod windows;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use gfp::policy::Direction;
use gfp::profile::task::memalloc_flag;
use gfp::{Flag, Gfp, KernelVersion, Profile};
use rayon::prelude::*;

pub use baseline::{Baseline, BaselineError};
pub use file::{parse_file, parse_file_with};
pub use report::{Finding, Report, Severity};
pub use vocab::Allocators;

/// A proposed scope: the bits it would set and clear in every nested mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Bits set.
    pub set: Gfp,
    /// Bits cleared.
    pub clear: Gfp,
    /// As the user wrote it.
    pub label: String,
}

impl Proposal {
    /// Parses `set FLAG`, `clear FLAG`, or a scope's name: `noio`, `nofs`,
    /// `noreclaim` (no direct reclaim), `pin` (no movable memory).
    pub fn parse(s: &str) -> Result<Proposal, String> {
        let t = s.trim();
        let label = t.to_string();
        let (set, clear) = match t {
            "noio" => (Gfp::EMPTY, Gfp::IO | Gfp::FS),
            "nofs" => (Gfp::EMPTY, Gfp::FS),
            "noreclaim" => (Gfp::EMPTY, Gfp::DIRECT_RECLAIM),
            "pin" => (Gfp::EMPTY, Gfp::MOVABLE),
            _ => {
                let mut words = t.split_whitespace();
                let (Some(dir), Some(flag), None) = (words.next(), words.next(), words.next())
                else {
                    return Err(format!(
                        "cannot read the proposal `{t}`: write `set FLAG`, `clear FLAG` (FLAG a __GFP_ name), or one of noio, nofs, noreclaim, pin"
                    ));
                };
                let dir = match dir {
                    "set" => Direction::Set,
                    "clear" => Direction::Clear,
                    other => {
                        return Err(format!(
                            "the proposal `{t}` starts with `{other}`: it must start with `set` or `clear`"
                        ))
                    }
                };
                let Some(f) = Flag::from_kernel_name(flag) else {
                    return Err(format!(
                        "`{flag}` in the proposal is not a single __GFP_ flag (composites such as GFP_NOWAIT are not scopes: name the flags one by one)"
                    ));
                };
                match dir {
                    Direction::Set => (f.mask(), Gfp::EMPTY),
                    Direction::Clear => (Gfp::EMPTY, f.mask()),
                }
            }
        };
        Ok(Proposal { set, clear, label })
    }
}

/// How many functions a call through a member may be for `--follow-ops`
/// to follow it, by default: one. Judged on 6.12 (round 12), the calls
/// with one target gave 12 true findings and 5 false; those with 2 to 16,
/// 9 true and 24 false (a generic interface whose implementations the
/// context cannot tell apart).
pub const DEFAULT_OPS_TARGETS: usize = 1;

/// The most functions `--ops-targets` lets one call through a member be.
pub const MAX_OPS_TARGETS: usize = 64;

/// The default of [`ScanOptions::max_chain`].
pub const DEFAULT_MAX_CHAIN: usize = 6;

/// The default of [`ScanOptions::trust_callers`]. Measured on 6.12's judged
/// findings: 3 leaves every true finding that 8 reports and drops three false
/// ones (a regmap write path that three functions of one driver call under
/// their lock).
pub const DEFAULT_TRUST_CALLERS: usize = 3;

/// What to scan for.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// The kernel whose layout and task flags apply; `None`: the tree's
    /// own `Makefile` version, or the newest known if it has none.
    pub kernel: Option<KernelVersion>,
    /// The allocator table.
    pub allocators: Allocators,
    /// Run the opt-in conversion-candidate rules.
    pub conversion: bool,
    /// Rules not to run or report (ids of [`rules::id::ALL`]).
    pub left_out: Vec<&'static str>,
    /// Follow calls through ops structures whose member has initialisers.
    pub follow_ops: bool,
    /// With [`Self::follow_ops`]: follow a call through a member only when
    /// it may be at most this many functions (1 to [`MAX_OPS_TARGETS`]).
    pub ops_targets: usize,
    /// The function a proposal wraps.
    pub around: Option<String>,
    /// The proposed scope.
    pub proposal: Option<Proposal>,
    /// Worker threads (`None`: one per core).
    pub jobs: Option<usize>,
    /// Trust a function in atomic context when this many distinct functions
    /// call it inside atomic sections (0: trust none). See
    /// [`rules::trusted_in_atomic`].
    pub trust_callers: usize,
    /// Report an interprocedural finding only when its shortest chain has
    /// at most this many calls (0: no bound). Propagation itself is not
    /// bounded; the bound only keeps long chains, whose paths are rarely
    /// feasible, out of the report (they are counted in its figures).
    pub max_chain: usize,
    /// The architecture whose `arch/` directory is scanned (`None`: all).
    pub arch: Option<String>,
    /// Parse every function with tree-sitter, also those the lexical pass
    /// reads (slower; for checking that pass).
    pub parse_all: bool,
    /// In a kernel tree with an `arch`, leave out the C files that no build
    /// for that architecture compiles, as Kconfig and the Makefiles say
    /// (see [`kconfig::Unbuildable`]).
    pub buildable_only: bool,
}

impl ScanOptions {
    /// Applies a `--rules` list: comma-separated `+conversion` (the opt-in
    /// conversion-candidate rules) and `-RULE` (a rule id not to run or
    /// report). The error names the word at fault and what is known.
    pub fn apply_rules(&mut self, spec: &str) -> Result<(), String> {
        for word in spec.split(',').map(str::trim) {
            if word == "+conversion" {
                self.conversion = true;
                continue;
            }
            if word.is_empty() {
                return Err("an empty item: give +conversion or -RULE, comma-separated".into());
            }
            let known = || {
                rules::id::ALL
                    .iter()
                    .map(|(id, _, _)| format!("-{id}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if word.starts_with('+') {
                return Err(format!("`{word}`: unknown rule set (known: +conversion)"));
            }
            let Some(id) = word.strip_prefix('-') else {
                return Err(format!(
                    "`{word}` is neither +conversion nor -RULE (rules: {})",
                    known()
                ));
            };
            match rules::id::ALL.iter().find(|(r, _, _)| *r == id) {
                Some((r, _, _)) if self.left_out.contains(r) => {}
                Some((r, _, _)) => self.left_out.push(r),
                None => return Err(format!("`{word}`: no rule `{id}` (rules: {})", known())),
            }
        }
        Ok(())
    }
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            kernel: None,
            allocators: Allocators::builtin(),
            conversion: false,
            left_out: Vec::new(),
            follow_ops: false,
            ops_targets: DEFAULT_OPS_TARGETS,
            around: None,
            proposal: None,
            jobs: None,
            parse_all: false,
            buildable_only: true,
            arch: Some("x86".to_string()),
            max_chain: DEFAULT_MAX_CHAIN,
            trust_callers: DEFAULT_TRUST_CALLERS,
        }
    }
}

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The root is not a readable directory.
    #[error("cannot scan {path}: {why}")]
    Root {
        /// The path given.
        path: String,
        /// The system's reason.
        why: String,
    },
    /// `--around` names no function of the tree.
    #[error("--around {0}: no function of that name is defined in the scanned tree")]
    NoSuchFunction(String),
    /// The thread pool could not start.
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    /// The root is a file that is not C source.
    #[error("cannot scan {0}: not a C source file (give a .c or .h file, or a directory)")]
    NotC(String),
    /// The root directory holds no C source.
    #[error("nothing to scan under {0}: no .c or .h files (give a kernel tree or a directory of C source)")]
    NoSource(String),
    /// `--arch` names no directory of the kernel tree's `arch/`.
    #[error("--arch {arch}: the kernel tree has no arch/{arch} (it has: {known}; or give `all`)")]
    NoSuchArch {
        /// The architecture given.
        arch: String,
        /// The tree's architectures, comma-separated.
        known: String,
    },
}

/// Directories of a kernel tree that hold no kernel code: user-space tools,
/// host build scripts, documentation.
const NOT_KERNEL_CODE: &[&str] = &["tools", "scripts", "Documentation", "usr", "samples"];

/// Whether a file can hold code that matters: C source or header with at
/// least one brace (generated register headers have none), and not a
/// tracepoint header (its macro bodies define no allocating functions).
fn worth_parsing(path: &Path, src: &[u8]) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with("_sh_mask.h") || name.ends_with("_offset.h") || name.ends_with("_default.h") {
        return false;
    }
    if path.to_string_lossy().contains("/trace/events/")
        || name == "trace.h"
        || name.ends_with("_trace.h")
    {
        return false;
    }
    src.contains(&b'{')
}

/// The files to scan, how many C files were left out as never built for the
/// architecture, and the tree's configuration facts (when read).
fn collect_files(
    root: &Path,
    arch: Option<&str>,
    buildable_only: bool,
) -> Result<(Vec<PathBuf>, usize, Option<kconfig::Unbuildable>), ScanError> {
    let is_kernel = root.join("Makefile").is_file() && root.join("Kconfig").is_file();
    if let (Some(tree), Some(a)) = (kernel_tree(root), arch) {
        let dir = tree.join("arch");
        if dir.is_dir() && !dir.join(a).is_dir() {
            let mut known: Vec<String> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            known.sort();
            return Err(ScanError::NoSuchArch {
                arch: a.to_string(),
                known: known.join(", "),
            });
        }
    }
    let meta = std::fs::metadata(root).map_err(|e| ScanError::Root {
        path: root.display().to_string(),
        why: e.to_string(),
    })?;
    if meta.is_file() {
        let name = root.to_string_lossy();
        if !(name.ends_with(".c") || name.ends_with(".h")) {
            return Err(ScanError::NotC(root.display().to_string()));
        }
        return Ok((vec![root.to_path_buf()], 0, None));
    }
    // A kernel tree, or a directory inside one: the tree's Kconfig and
    // Makefiles say what an x86_64 build compiles. They are read while the
    // scanned directory is walked.
    let tree = kernel_tree(root);
    let (mut out, never) = rayon::join(
        || source_files(root, is_kernel, arch),
        || match (&tree, buildable_only, arch) {
            (Some(tree), true, Some(arch)) => Some(kconfig::Unbuildable::read(tree, arch)),
            _ => None,
        },
    );
    out.sort();
    if out.is_empty() {
        return Err(ScanError::NoSource(root.display().to_string()));
    }
    let mut unbuildable = 0;
    let mut config = None;
    if let (Some(tree), Some(never)) = (&tree, never) {
        // Where the scanned directory lies in the tree (`fs` for TREE/fs).
        let inside = std::fs::canonicalize(root)
            .ok()
            .and_then(|r| r.strip_prefix(tree).ok().map(Path::to_path_buf))
            .unwrap_or_default();
        let rel_of = |p: &Path| {
            inside
                .join(p.strip_prefix(root).unwrap_or(p))
                .to_string_lossy()
                .into_owned()
        };
        let excluded: std::collections::HashSet<PathBuf> = out
            .iter()
            .filter(|p| never.excludes(&rel_of(p)))
            .cloned()
            .collect();
        let unlisted: Vec<&PathBuf> = out
            .iter()
            .filter(|p| {
                !excluded.contains(*p)
                    && p.extension().is_some_and(|e| e == "c")
                    && !never.listed(&rel_of(p))
            })
            .collect();
        let included_by_excluded = only_included_by_excluded(&unlisted, &excluded);
        out.retain(|p| {
            let keep = !excluded.contains(p) && !included_by_excluded.contains(p);
            unbuildable += usize::from(!keep);
            keep
        });
        config = Some(never);
    }
    Ok((out, unbuildable, config))
}

/// The `.c` and `.h` files under `root`: hidden directories are left out,
/// and in a kernel tree what is not kernel code ([`NOT_KERNEL_CODE`]) and
/// the directories of `arch/` other than `arch`'s.
fn source_files(root: &Path, is_kernel: bool, arch: Option<&str>) -> Vec<PathBuf> {
    let arch_dir = root.join("arch");
    walk_dirs(
        root,
        &|dir, name| {
            !(name.starts_with('.')
                || (is_kernel && dir == root && NOT_KERNEL_CODE.contains(&name))
                // The gfp profiles describe an x86_64 build: of `arch/`,
                // only that architecture is compiled with the rest.
                || (is_kernel && dir == arch_dir && arch.is_some_and(|a| a != name)))
        },
        &|path, name| (name.ends_with(".c") || name.ends_with(".h")).then(|| path.to_path_buf()),
    )
}

/// What `take` makes of the files under `dir`, in no particular order,
/// descending into the subdirectories `enter` accepts; both are given the
/// directory (or file) path and its name. Subdirectories are read in
/// parallel: a kernel tree has about 5,000, and reading them one by one
/// was the larger part of a scan's set-up on a directory such as `fs/`.
pub(crate) fn walk_dirs<T: Send>(
    dir: &Path,
    enter: &(dyn Fn(&Path, &str) -> bool + Sync),
    take: &(dyn Fn(&Path, &str) -> Option<T> + Sync),
) -> Vec<T> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut here = Vec::new();
    let mut below = Vec::new();
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let name = e.file_name();
        let name = name.to_string_lossy();
        if ft.is_dir() {
            if enter(dir, &name) {
                below.push(e.path());
            }
        } else if ft.is_file() {
            here.extend(take(&e.path(), &name));
        }
    }
    let nested: Vec<Vec<T>> = below
        .into_par_iter()
        .map(|d| walk_dirs(&d, enter, take))
        .collect();
    here.extend(nested.into_iter().flatten());
    here
}

/// The kernel tree `path` is (or lies in): the nearest directory, itself or
/// above, with a `Kconfig` and a `Makefile` that states a version.
pub fn kernel_tree(path: &Path) -> Option<PathBuf> {
    let abs = std::fs::canonicalize(path).ok()?;
    abs.ancestors()
        .find(|d| d.join("Kconfig").is_file() && makefile_version(d).is_some())
        .map(Path::to_path_buf)
}

/// Of the C files no Makefile lists, those that other C files of their
/// directory include (`#include "lib82596.c"`) where every one of those is
/// in `excluded`: they are built only with them. Each directory's C files
/// are read once, however many unlisted files it has.
fn only_included_by_excluded(
    unlisted: &[&PathBuf],
    excluded: &std::collections::HashSet<PathBuf>,
) -> std::collections::HashSet<PathBuf> {
    use std::collections::{HashMap, HashSet};
    let mut by_dir: HashMap<&Path, Vec<&PathBuf>> = HashMap::new();
    for p in unlisted {
        if let Some(d) = p.parent() {
            by_dir.entry(d).or_default().push(p);
        }
    }
    let mut out = HashSet::new();
    for (dir, files) in by_dir {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        // For each name included by a quoted path: whether every includer
        // is left out.
        let mut includers: HashMap<String, bool> = HashMap::new();
        for e in rd.flatten() {
            let q = e.path();
            if q.extension().is_none_or(|x| x != "c") {
                continue;
            }
            let Ok(text) = std::fs::read(&q) else {
                continue;
            };
            let out_too = excluded.contains(&q);
            for inc in lexical::local_includes(&text) {
                if inc.ends_with(".c") {
                    let all = includers.entry(inc).or_insert(true);
                    *all &= out_too;
                }
            }
        }
        for p in files {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.and_then(|n| includers.get(&n).copied()) == Some(true) {
                out.insert(p.clone());
            }
        }
    }
    out
}

/// The version a tree's top-level `Makefile` states.
pub fn makefile_version(root: &Path) -> Option<KernelVersion> {
    let text = std::fs::read_to_string(root.join("Makefile")).ok()?;
    let field = |k: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(k)
                    .map(|r| r.trim_start().strip_prefix('=').map(str::trim))
            })
            .flatten()
            .and_then(|v| v.parse::<u16>().ok())
    };
    let (major, minor) = (field("VERSION")?, field("PATCHLEVEL")?);
    Some(match field("SUBLEVEL") {
        Some(p) => KernelVersion::with_patch(major, minor, p),
        None => KernelVersion::new(major, minor),
    })
}

/// Scans `root` (a directory, or one file). `progress` is called with
/// (files done, files in all) as parsing goes.
pub fn scan(
    root: &Path,
    opts: &ScanOptions,
    progress: Option<&(dyn Fn(usize, usize) + Sync)>,
) -> Result<Report, ScanError> {
    let mut builder = rayon::ThreadPoolBuilder::new().stack_size(16 << 20);
    if let Some(j) = opts.jobs {
        builder = builder.num_threads(j);
    }
    let pool = builder
        .build()
        .map_err(|e| ScanError::Threads(e.to_string()))?;
    pool.install(|| scan_in_pool(root, opts, progress))
}

fn scan_in_pool(
    root: &Path,
    opts: &ScanOptions,
    progress: Option<&(dyn Fn(usize, usize) + Sync)>,
) -> Result<Report, ScanError> {
    let start = Instant::now();
    let (files, unbuildable, config) =
        collect_files(root, opts.arch.as_deref(), opts.buildable_only)?;
    let never = |sym: &str| config.as_ref().is_some_and(|c| c.is_impossible(sym));
    let build = match &config {
        Some(c) => preproc::BuildFacts {
            never_set: &never,
            page_shift: c.page_shift(),
        },
        None => preproc::BuildFacts::UNKNOWN,
    };
    let base = if root.is_file() {
        root.parent().unwrap_or(root)
    } else {
        root
    };
    let version = opts
        .kernel
        .or_else(|| kernel_tree(root).and_then(|t| makefile_version(&t)))
        .unwrap_or(gfp::profile::history::NEWEST_KNOWN);
    let profile = Profile::for_version_default(version);
    let evaluator = mask::Evaluator::new(profile);

    let (mut facts, skipped) = parse_tree(&files, base, opts, &build, progress);
    apply_renames(&mut facts);
    let parse_wall = start.elapsed();
    let mut stats = report::Stats {
        skipped_files: skipped,
        unbuildable_files: unbuildable,
        parse_wall_ms: parse_wall.as_millis() as u64,
        ..report::Stats::default()
    };
    let (followed, generic) = if opts.follow_ops {
        let bound = opts.ops_targets.clamp(1, MAX_OPS_TARGETS);
        let (followed, generic) = follow_ops(&mut facts, bound);
        (followed, (generic, bound))
    } else {
        (0, (0, 0))
    };
    let scope_effect = move |pf: &str| -> (Gfp, Gfp) {
        match memalloc_flag(version, pf) {
            Some(f) => (f.clears, f.sets),
            None => (Gfp::EMPTY, Gfp::EMPTY),
        }
    };
    let nfiles = facts.len();
    let parse_errors: u64 = facts.iter().map(|f| f.parse_errors as u64).sum();
    stats.bytes = facts.iter().map(|f| f.bytes as u64).sum();
    count_sites(&facts, &opts.allocators, &mut stats);
    stats.indirect_followed = followed;
    stats.indirect_generic = generic;
    // Where the scanned directory lies in its kernel tree.
    let tree = kernel_tree(root);
    let tree_prefix = tree
        .as_ref()
        .and_then(|t| {
            let r = std::fs::canonicalize(base).ok()?;
            let rel = r.strip_prefix(t).ok()?.to_string_lossy().into_owned();
            Some(if rel.is_empty() {
                rel
            } else {
                format!("{rel}/")
            })
        })
        .unwrap_or_default();
    // The part of the tree scanned, when it is not the whole tree.
    let part = match root.file_name().filter(|_| root.is_file()) {
        Some(name) => format!("{tree_prefix}{}", name.to_string_lossy()),
        None => tree_prefix.clone(),
    };
    if let (Some(t), false) = (&tree, part.is_empty()) {
        stats.inside_tree = Some((t.display().to_string(), part));
    }
    let g = graph::Graph::build(
        facts,
        &opts.allocators,
        &evaluator,
        &scope_effect,
        &tree_prefix,
    );
    let prof = evaluator.profile();
    let render = |m: Gfp| -> String {
        let (bits, _) = prof.from_native(m);
        gfp::render::hex_and_pgg(prof, bits)
    };
    let windows = windows::MemberWindows::new(base, &g.files);
    let cx = rules::Ctx {
        windows: &windows,
        g: &g,
        render: &render,
        scope_effect: &scope_effect,
        allocators: &opts.allocators,
        trust_callers: opts.trust_callers,
        max_chain: opts.max_chain,
    };
    let mut findings = Vec::new();
    if let (Some(around), Some(p)) = (&opts.around, &opts.proposal) {
        stats.around_matches = rules::proposal(&cx, around, p, &mut findings);
        if stats.around_matches == 0 {
            return Err(ScanError::NoSuchFunction(around.clone()));
        }
    } else {
        if !opts.left_out.contains(&rules::id::SLEEP_IN_ATOMIC) {
            rules::sleep_in_atomic(&cx, &mut findings);
        }
        rules::nofail_no_reclaim(&cx, &mut findings);
        rules::unpaired_scope(&cx, &mut findings);
        rules::explicit_nofs_noio(&cx, opts.conversion, &mut findings);
    }
    findings.retain(|f| !opts.left_out.contains(&f.rule));
    stats.rules_left_out.clone_from(&opts.left_out);
    if opts.max_chain > 0 {
        let before = findings.len();
        findings
            .retain(|f| f.rule != rules::id::SLEEP_IN_ATOMIC || f.chain.len() <= opts.max_chain);
        stats.long_chains = before - findings.len();
    }
    sort_findings(&mut findings);
    guards::annotate(base, &build, &mut findings);
    let functions = g.fns.len();
    // SARIF's base for the relative paths: absolute, as a URI needs.
    let base = std::fs::canonicalize(base)
        .or_else(|_| std::env::current_dir().map(|d| d.join(base)))
        .unwrap_or_else(|_| base.to_path_buf());
    Ok(Report {
        base,
        root: root.display().to_string(),
        kernel: version.to_string(),
        files: nfiles,
        functions,
        parse_errors,
        elapsed_ms: start.elapsed().as_millis() as u64,
        findings,
        stats,
    })
}

/// Reads and parses `files` in parallel (paths relative to `base` in the
/// facts), calling `progress` every 256 files; gives the facts and the
/// number of files skipped as not worth parsing. What only `--follow-ops`
/// reads (the structure definitions, the typed initialisers) is dropped
/// per file without it.
fn parse_tree(
    files: &[PathBuf],
    base: &Path,
    opts: &ScanOptions,
    build: &preproc::BuildFacts<'_>,
    progress: Option<&(dyn Fn(usize, usize) + Sync)>,
) -> (Vec<facts::FileFacts>, usize) {
    let done = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let total = files.len();
    let parse = |p: &PathBuf, outside: &headers::HeaderFacts| {
        let src = std::fs::read(p).ok()?;
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(cb) = progress {
            if n % 256 == 0 || n == total {
                cb(n, total);
            }
        }
        if !worth_parsing(p, &src) {
            skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut facts = parse_file_with(rel_of(p, base), &src, opts.parse_all, build, outside)?;
        if !opts.follow_ops {
            facts.structs = Default::default();
            facts.typed_ops = Vec::new();
        }
        Some(facts)
    };
    // Headers first: their lock wrappers (static inlines that take or drop
    // a lock for their caller) are then known to the files that include
    // them.
    // The facts keep the files' order (which definition of a name comes
    // first is decided by it).
    let is_header = |p: &PathBuf| p.extension().is_some_and(|e| e == "h");
    let none = headers::HeaderFacts::default();
    let mut parsed: Vec<(usize, facts::FileFacts)> = files
        .par_iter()
        .enumerate()
        .filter(|(_, p)| is_header(p))
        .filter_map(|(i, p)| parse(p, &none).map(|f| (i, f)))
        .collect();
    let outside = headers::HeaderFacts::take(parsed.iter_mut().map(|(_, f)| f));
    parsed.extend(
        files
            .par_iter()
            .enumerate()
            .filter(|(_, p)| !is_header(p))
            .filter_map(|(i, p)| parse(p, &outside).map(|f| (i, f)))
            .collect::<Vec<_>>(),
    );
    parsed.sort_by_key(|(i, _)| *i);
    (
        parsed.into_iter().map(|(_, f)| f).collect(),
        skipped.into_inner(),
    )
}

/// A file's path relative to the scanned directory, as the facts name it.
fn rel_of(p: &Path, base: &Path) -> String {
    p.strip_prefix(base)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// Counts the call, allocation, scope and indirect-call sites of the facts
/// into `stats`.
fn count_sites(facts: &[facts::FileFacts], allocators: &Allocators, stats: &mut report::Stats) {
    for f in facts.iter().flat_map(|f| &f.functions) {
        stats.calls += f.calls.len() as u64;
        stats.alloc_sites += f
            .calls
            .iter()
            .filter(|c| allocators.get(&c.callee).is_some())
            .count() as u64;
        stats.scope_sites += f.scopes.len() as u64;
        stats.indirect_calls += f.indirect_calls.len() as u64;
    }
}

/// Orders findings by rule (as [`rules::id::ALL`] lists them), then by
/// allocation and context place.
fn sort_findings(findings: &mut [Finding]) {
    let order = |r: &str| {
        rules::id::ALL
            .iter()
            .position(|(id, _, _)| *id == r)
            .unwrap_or(99)
    };
    findings.sort_by(|a, b| {
        (
            order(a.rule),
            &a.alloc.as_ref().map(|x| (&x.file, x.line)),
            &a.context.file,
            a.context.line,
        )
            .cmp(&(
                order(b.rule),
                &b.alloc.as_ref().map(|x| (&x.file, x.line)),
                &b.context.file,
                b.context.line,
            ))
    });
}

/// Applies each file's renaming macros, and those of the headers it
/// includes by a quoted path, to its definitions and calls: under
/// `#define ieee80211_rx ieee80211_rx_rsl` a staging driver's
/// `ieee80211_rx()` is `ieee80211_rx_rsl()`, not mac80211's.
fn apply_renames(files: &mut [facts::FileFacts]) {
    use std::collections::HashMap;
    if files.iter().all(|f| f.renames.is_empty()) {
        return;
    }
    // Each file's renames and the quoted includes it names, by path.
    type Renames = Vec<(String, String)>;
    let by_path: HashMap<String, (Renames, Vec<String>)> = files
        .iter()
        .map(|f| {
            let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d);
            let incs = f
                .local_includes
                .iter()
                .map(|i| kconfig::join(dir, i))
                .collect();
            (f.path.clone(), (f.renames.clone(), incs))
        })
        .collect();
    for file in files.iter_mut() {
        let mut map: HashMap<&str, &str> = HashMap::new();
        // The file, then the headers it includes, through headers that
        // include others (`r8192U.h` includes `ieee80211/ieee80211.h`).
        let mut queue = vec![file.path.clone()];
        let mut seen: Vec<String> = Vec::new();
        while let Some(p) = queue.pop() {
            if seen.contains(&p) || seen.len() >= 64 {
                continue;
            }
            let Some((renames, incs)) = by_path.get(&p) else {
                seen.push(p);
                continue;
            };
            for (a, b) in renames {
                map.entry(a.as_str()).or_insert(b.as_str());
            }
            queue.extend(incs.iter().filter(|i| i.ends_with(".h")).cloned());
            seen.push(p);
        }
        if map.is_empty() {
            continue;
        }
        for f in &mut file.functions {
            if let Some(to) = map.get(f.name.as_str()) {
                f.name = (*to).to_string();
            }
            for c in &mut f.calls {
                if let Some(to) = map.get(c.callee.as_str()) {
                    c.callee = (*to).to_string();
                }
            }
        }
        for ep in &mut file.entry_points {
            if let Some(to) = map.get(ep.function.as_str()) {
                ep.function = (*to).to_string();
            }
        }
        // `EXPORT_SYMBOL(ieee80211_rx)` exports `ieee80211_rx_rsl`.
        for e in &mut file.exports {
            if let Some(to) = map.get(e.as_str()) {
                *e = (*to).to_string();
            }
        }
    }
}

/// The structure types a receiver may be: its variable's type followed
/// through each member read, or, from the first member whose structure is
/// unknown, every type a member of that name has in any structure.
fn receiver_types(
    r: &facts::Receiver,
    member_of: &std::collections::HashMap<(&str, &str), Vec<&str>>,
    member_types: &std::collections::HashMap<&str, Vec<&str>>,
) -> Vec<String> {
    let mut types: Option<Vec<String>> = r.root.clone().map(|t| vec![t]);
    for m in &r.path {
        let next: Vec<String> = match &types {
            Some(ts) => ts
                .iter()
                .flat_map(|t| {
                    member_of
                        .get(&(t.as_str(), m.as_str()))
                        .into_iter()
                        .flatten()
                })
                .map(|t| t.to_string())
                .collect(),
            None => member_types
                .get(m.as_str())
                .into_iter()
                .flatten()
                .map(|t| t.to_string())
                .collect(),
        };
        types = Some(next);
    }
    let mut out = types.unwrap_or_default();
    out.sort_unstable();
    out.dedup();
    out
}

/// With `--follow-ops`: a call through `x->member(...)` becomes a call to
/// each function an initialiser puts in `member` of the structure `x` is,
/// when there are at most `max_targets` of them (more is a generic
/// interface whose implementations the caller cannot tell apart; see
/// [`DEFAULT_OPS_TARGETS`]). Returns how many calls it followed, and how
/// many it left because more functions may be called there.
///
/// The structure is read from the calling function: the type it declares
/// the variable with (`struct fm10k_vf_info *vf_info`), followed through
/// the members read from it by the types the structure definitions give
/// them (`vf_info->mbx.ops` is a `struct fm10k_mbx_ops`). From a variable
/// the function does not declare, a member is taken to be of any type a
/// member of that name has (`il->ops`, where `il` is a global: every
/// structure type an `ops` member has that declares `dump_fh`). A
/// function put in `member` by an assignment, or by an initialiser that
/// does not name its structure, is followed only when every structure
/// declaring `member` is a candidate. A call whose structure cannot be
/// read is not followed. Another file's `static` target is named
/// `name@path`, which the graph links to that file's function.
fn follow_ops(files: &mut [facts::FileFacts], max_targets: usize) -> (u64, u64) {
    use std::collections::{HashMap, HashSet};
    // The structures declaring each member a function pointer, and the
    // structure types of each member name.
    let mut declared: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut member_types: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut member_of: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for f in files.iter() {
        for (st, m) in &f.structs.fn_members {
            let v = declared.entry(m).or_default();
            if !v.contains(&st.as_str()) {
                v.push(st);
            }
        }
        for (parent, m, st) in &f.structs.struct_members {
            let v = member_types.entry(m).or_default();
            if !v.contains(&st.as_str()) {
                v.push(st);
            }
            let v = member_of.entry((parent, m)).or_default();
            if !v.contains(&st.as_str()) {
                v.push(st);
            }
        }
    }
    // A target is named as the graph links it: a static of another file
    // than the caller's as `name@path` (see `facts::Call::callee`).
    let statics: HashSet<(&str, &str)> = files
        .iter()
        .flat_map(|f| {
            f.functions
                .iter()
                .filter(|g| g.is_static)
                .map(move |g| (f.path.as_str(), g.name.as_str()))
        })
        .collect();
    type Target<'a> = (&'a str, &'a str);
    let mut typed: HashMap<(&str, &str), Vec<Target<'_>>> = HashMap::new();
    let mut typed_pairs: HashSet<(&str, &str)> = HashSet::new();
    for f in files.iter() {
        for (st, m, func) in &f.typed_ops {
            let v = typed.entry((st, m)).or_default();
            if !v.contains(&(func.as_str(), f.path.as_str())) {
                v.push((func, &f.path));
            }
            typed_pairs.insert((m, func));
        }
    }
    let mut untyped: HashMap<&str, Vec<Target<'_>>> = HashMap::new();
    for f in files.iter() {
        for (m, func) in &f.ops {
            if typed_pairs.contains(&(m.as_str(), func.as_str())) {
                continue;
            }
            let v = untyped.entry(m).or_default();
            if !v.contains(&(func.as_str(), f.path.as_str())) {
                v.push((func, &f.path));
            }
        }
    }
    let name_for = |caller: &str, (func, at): Target<'_>| {
        if at != caller && statics.contains(&(at, func)) {
            format!("{func}@{at}")
        } else {
            func.to_string()
        }
    };
    // Each file's resolution, computed first (the facts are borrowed).
    // Per file, per function: (indirect call, the functions it becomes).
    type Resolved = Vec<Vec<(usize, Vec<String>)>>;
    let mut resolved: Vec<Resolved> = Vec::with_capacity(files.len());
    let (mut followed, mut generic) = (0, 0);
    for file in files.iter() {
        let mut per_fn = Vec::with_capacity(file.functions.len());
        let globals = &file.structs.globals;
        for f in &file.functions {
            let mut per_call = Vec::new();
            for (ici, ic) in f.indirect_calls.iter().enumerate() {
                let (Some(m), Some(receiver)) = (ic.member.as_deref(), ic.receiver.as_ref()) else {
                    continue;
                };
                let Some(decls) = declared.get(m) else {
                    continue;
                };
                // A variable the function does not declare: the file's.
                let global = receiver
                    .var
                    .as_ref()
                    .and_then(|v| globals.iter().find(|(g, _)| g == v))
                    .map(|(_, t)| facts::Receiver {
                        root: Some(t.clone()),
                        path: receiver.path.clone(),
                        var: None,
                    });
                let types = receiver_types(
                    global.as_ref().unwrap_or(receiver),
                    &member_of,
                    &member_types,
                );
                let visible: Vec<&str> = decls
                    .iter()
                    .copied()
                    .filter(|d| types.iter().any(|t| t == d))
                    .collect();
                if visible.is_empty() {
                    continue;
                }
                let mut targets: Vec<String> = Vec::new();
                let mut add = |t: Target<'_>| {
                    let name = name_for(&file.path, t);
                    if !targets.contains(&name) {
                        targets.push(name);
                    }
                };
                for st in &visible {
                    typed
                        .get(&(*st, m))
                        .into_iter()
                        .flatten()
                        .for_each(|&t| add(t));
                }
                if decls.iter().all(|st| visible.contains(st)) {
                    untyped.get(m).into_iter().flatten().for_each(|&t| add(t));
                }
                if targets.is_empty() {
                    continue;
                }
                if targets.len() > max_targets {
                    generic += 1;
                    continue;
                }
                followed += 1;
                per_call.push((ici, targets));
            }
            per_fn.push(per_call);
        }
        resolved.push(per_fn);
    }
    for (file, per_fn) in files.iter_mut().zip(resolved) {
        for (f, per_call) in file.functions.iter_mut().zip(per_fn) {
            let mut extra = Vec::new();
            for (ici, targets) in per_call {
                let ic = &f.indirect_calls[ici];
                let count = u8::try_from(targets.len()).unwrap_or(u8::MAX);
                for t in targets {
                    extra.push(facts::Call {
                        callee: t,
                        indirect: count,
                        ..ic.call.clone()
                    });
                }
            }
            f.calls.extend(extra);
        }
    }
    (followed, generic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_condition_keys() {
        use extract::cond_key;
        let key = cond_key;
        // Hints and warnings return their condition's truth.
        assert_eq!(key("unlikely(!p)"), Some(("p".into(), true)));
        assert_eq!(
            key("WARN_ON_ONCE(!dev->ready)"),
            Some(("dev->ready".into(), true))
        );
        assert_eq!(
            key("!btrfs_is_subpage(fs_info, folio->mapping)"),
            Some(("btrfs_is_subpage(fs_info,folio->mapping)".into(), true))
        );
        // Two hints joined are not one: no key.
        assert_eq!(key("unlikely(a) || unlikely(b)"), None);
        assert_eq!(key("WARN_ON(a) && b"), None);
        // Calls with calls or side effects in their arguments are not plain.
        assert_eq!(key("f(g(x))"), None);
        assert_eq!(key("f(x++)"), None);
        assert_eq!(key("f(x = 1)"), None);
        assert_eq!(key("sizeof(x)"), None);
        assert_eq!(extract::called_in_key("f(a,b->c)"), Some("f"));
        assert_eq!(extract::called_in_key("a->b"), None);
    }

    #[test]
    fn constant_returning_bodies() {
        use extract::constant_return;
        let c = |t: &str| constant_return(t.as_bytes());
        assert_eq!(c("{\n\treturn false;\n}"), Some(false));
        assert_eq!(c("{ return (0); }"), Some(false));
        assert_eq!(c("{ return NULL; }"), Some(false));
        assert_eq!(c("{ return true; }"), Some(true));
        assert_eq!(c("{ return -ENODEV; }"), Some(true));
        assert_eq!(c("{ return 0x10UL; }"), Some(true));
        assert_eq!(c("{ return x; }"), None);
        assert_eq!(c("{ return_value(); }"), None);
        assert_eq!(c("{ f(); return 0; }"), None);
        assert_eq!(c("{ return -EINVAL + x; }"), None);
    }
}
