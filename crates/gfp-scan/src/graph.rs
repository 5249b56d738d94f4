//! The whole tree as one call graph: name resolution (a `static` function
//! belongs to its file), and the allocation events of every function, with
//! the functions that pass their own `gfp_t` parameter down summarised as
//! allocators of that parameter, to a fixed point.

use std::collections::VecDeque;

// The graph's maps are keyed by names and call sites the scan itself read
// from the tree: a fast hash (no defence against chosen keys) is enough,
// and hashing millions of callee names was a tenth of the graph's build.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use gfp::Gfp;

use crate::facts::{FileFacts, Function};
use crate::mask::{truth_of, Evaluator, Truth, Value};
use crate::vocab::{Allocators, LockClass};

/// A function of the tree: an index into [`Graph::fns`].
pub type FnId = u32;

/// One step of an evidence chain: a call made by a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    /// The calling function.
    pub func: FnId,
    /// The call (index into the function's calls).
    pub call: u32,
}

/// An allocation made at a call of a function: the call is an allocator of
/// the table, or a function summarised as one.
#[derive(Clone, Debug)]
pub struct AllocEvent {
    /// The call in the function that allocates (directly or through helpers).
    pub call: u32,
    /// Its mask in the function's terms (after the function's own scopes).
    pub value: Value,
    /// From the call down to the allocator call itself (one step for a
    /// direct allocation).
    pub chain: Vec<Step>,
    /// The allocator drops an xarray lock held around it to allocate.
    pub drops_xa_lock: bool,
    /// Whether every step below the first keeps the caller's atomic
    /// section (no helper on the way released a lock it did not take).
    pub keeps_section: bool,
}

/// The call graph and everything computed over it.
pub struct Graph {
    /// The files.
    pub files: Vec<FileFacts>,
    /// Every function as (file, index in the file).
    pub fns: Vec<(u32, u32)>,
    /// Non-static functions by name.
    pub by_name: HashMap<String, Vec<FnId>>,
    /// The callees of each call of each function (several when the name
    /// has several non-static definitions: per-architecture variants).
    pub callees: Callees,
    /// Callers: for each function, the (caller, call) pairs.
    pub callers: Vec<Vec<Step>>,
    /// The allocation events of each function.
    pub events: Vec<Vec<AllocEvent>>,
    /// Names whose address is taken somewhere (they may be called through
    /// pointers).
    pub address_taken: HashSet<String>,
    /// Functions that test the context they run in (`in_interrupt()`,
    /// `gfpflags_allow_blocking()`, ...): written for atomic callers too.
    pub context_aware: Vec<bool>,
    /// Calls that hand the callee a `gfp_t` that does not sleep: the caller
    /// told the callee it runs in atomic context.
    pub atomic_gfp_calls: HashSet<Step>,
    /// The value of each named integer constant the tree gives one value
    /// (enumerators, `#define NAME NUMBER`).
    pub constants: HashMap<String, i64>,
}

/// The callees of every call, in three flat arrays rather than a list per
/// call (a whole tree has millions of calls, most with one callee or none).
#[derive(Clone, Debug, Default)]
pub struct Callees {
    /// For each function, where its calls start in `calls`.
    functions: Vec<u32>,
    /// For each call, where its callees start in `targets` (one more entry
    /// at the end closes the last).
    calls: Vec<u32>,
    targets: Vec<FnId>,
}

impl Callees {
    /// The callees of call `call` of function `f`.
    pub fn of(&self, f: FnId, call: u32) -> &[FnId] {
        let c = (self.functions[f as usize] + call) as usize;
        &self.targets[self.calls[c] as usize..self.calls[c + 1] as usize]
    }

    fn start_function(&mut self) {
        self.functions.push(self.index(self.calls.len()));
    }

    fn push_call(&mut self, targets: &[FnId]) {
        self.calls.push(self.index(self.targets.len()));
        self.targets.extend_from_slice(targets);
    }

    fn finish(&mut self) {
        self.calls.push(self.index(self.targets.len()));
    }

    fn index(&self, n: usize) -> u32 {
        u32::try_from(n).expect("fewer than 2^32 calls and callees")
    }
}

/// The kernel's tests of the running context. A function that makes one
/// chooses its behaviour by the context, so a sleep the scanner finds below
/// it is on the branch it takes where sleeping is allowed.
const CONTEXT_TESTS: &[&str] = &[
    "in_interrupt",
    "in_atomic",
    "in_irq",
    "in_hardirq",
    "in_softirq",
    "in_serving_softirq",
    "in_task",
    "in_nmi",
    "irqs_disabled",
    "preemptible",
    "rcu_preempt_depth",
    "gfpflags_allow_blocking",
];

/// Which functions test the context they run in: a call of one of
/// [`CONTEXT_TESTS`], or of a predicate built from them alone (a function
/// returning `bool` whose every call, at most four, is a context test:
/// `static inline bool bio_in_atomic(void)`), to a fixed point. Calls are
/// followed as the graph resolved them, so a static predicate in one file
/// says nothing of a same-named function elsewhere; a call the graph did
/// not resolve (a header's static inline reached through another header)
/// counts by name.
fn context_aware(files: &[FileFacts], fns: &[(u32, u32)], callees: &Callees) -> Vec<bool> {
    let func = |id: usize| {
        let (fi, i) = fns[id];
        &files[fi as usize].functions[i as usize]
    };
    // Configuration and branch-hint macros (`IS_ENABLED`, `unlikely`) are
    // no calls of their own.
    let real = |c: &crate::facts::Call| {
        !matches!(c.callee.as_str(), "likely" | "unlikely")
            && c.callee.bytes().any(|b| b.is_ascii_lowercase())
    };
    let named = |c: &crate::facts::Call| CONTEXT_TESTS.contains(&c.callee.as_str());
    let mut predicate = vec![false; fns.len()];
    let mut by_name: HashSet<&str> = HashSet::default();
    loop {
        let mut changed = false;
        for id in 0..fns.len() {
            let f = func(id);
            if predicate[id] || !f.returns_bool {
                continue;
            }
            let calls: Vec<(usize, &crate::facts::Call)> = f
                .calls
                .iter()
                .enumerate()
                .filter(|(_, c)| real(c))
                .collect();
            let tests = |(ci, c): &(usize, &crate::facts::Call)| {
                named(c) || {
                    let t = callees.of(id as FnId, *ci as u32);
                    if t.is_empty() {
                        by_name.contains(c.callee.as_str())
                    } else {
                        t.iter().all(|&t| predicate[t as usize])
                    }
                }
            };
            if (1..=4).contains(&calls.len()) && calls.iter().all(tests) {
                predicate[id] = true;
                by_name.insert(f.name.as_str());
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (0..fns.len())
        .map(|id| {
            func(id).calls.iter().enumerate().any(|(ci, c)| {
                let t = callees.of(id as FnId, ci as u32);
                named(c)
                    || (t.is_empty() && by_name.contains(c.callee.as_str()))
                    || t.iter().any(|&t| predicate[t as usize])
            })
        })
        .collect()
}

/// How many parameter-dependent summaries one function keeps.
const MAX_SUMMARIES: usize = 6;

/// The named constants of every file (`named`, taken out of the facts in
/// the files' order), each with the one value the tree gives it; a name two files give different values
/// (per-architecture or per-driver definitions) is left out, and so is a
/// name no function uses as a case label, in a comparison or as an
/// argument (most are register offsets and fields, a few hundred thousand
/// on a whole tree).
fn tree_constants(files: &[FileFacts], named: Vec<Vec<(String, i64)>>) -> HashMap<String, i64> {
    use rayon::prelude::*;
    let is_name = |t: &str| crate::lexical::is_constant_name(t);
    let used: HashSet<String> = files
        .par_iter()
        .map(|file| {
            let mut mine: HashSet<&str> = Default::default();
            for f in &file.functions {
                for k in &f.cond_keys {
                    mine.extend(
                        k.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .filter(|t| is_name(t)),
                    );
                }
                for c in &f.calls {
                    mine.extend(c.args.iter().map(|a| a.trim()).filter(|a| is_name(a)));
                    if let Some(cl) = &c.case_labels {
                        mine.extend(cl.labels.iter().map(|l| l.trim()));
                    }
                }
            }
            mine.into_iter().map(str::to_string).collect::<Vec<_>>()
        })
        .flatten_iter()
        .collect();
    let mut out: HashMap<String, Option<i64>> = HashMap::default();
    for file_constants in named {
        for (name, v) in file_constants {
            if !used.contains(&name) {
                continue;
            }
            out.entry(name)
                .and_modify(|known| {
                    if *known != Some(v) {
                        *known = None;
                    }
                })
                .or_insert(Some(v));
        }
    }
    out.into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect()
}

impl Graph {
    /// The value of an argument or case label: an integer literal
    /// (`0`, `0x10`, `-1`), or a named constant the tree gives one value.
    pub fn value_of(&self, text: &str) -> Option<i64> {
        let t = text.trim();
        let t = t
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(t)
            .trim();
        match t.strip_prefix('-') {
            Some(n) => crate::preproc::integer(n.trim()).map(|n| -n),
            None => crate::preproc::integer(t).or_else(|| self.constants.get(t).copied()),
        }
    }

    /// The function `id`.
    pub fn func(&self, id: FnId) -> &Function {
        let (f, i) = self.fns[id as usize];
        &self.files[f as usize].functions[i as usize]
    }

    /// The function `i` of file `file` (indexes into [`Graph::files`] and
    /// its functions): the graph numbers the functions file by file, in
    /// order, so the file's functions are a run of ids.
    pub fn fn_of(&self, file: usize, i: usize) -> Option<FnId> {
        let first = self.fns.partition_point(|&(f, _)| (f as usize) < file);
        let id = first + i;
        (self.fns.get(id) == Some(&(file as u32, i as u32))).then_some(id as FnId)
    }

    /// The file of function `id`.
    pub fn file_of(&self, id: FnId) -> &str {
        &self.files[self.fns[id as usize].0 as usize].path
    }

    /// Builds the graph and the allocation events.
    ///
    /// `tree_prefix` is where the scanned directory lies in its kernel tree
    /// (`drivers/` when scanning `TREE/drivers`, empty for the whole tree):
    /// how names resolve depends on a file's place in the tree (`arch/x86`,
    /// a driver's directory), not on the directory scanned.
    pub fn build(
        files: Vec<FileFacts>,
        allocators: &Allocators,
        ev: &Evaluator,
        scope_effect: &(dyn Fn(&str) -> (Gfp, Gfp) + Sync),
        tree_prefix: &str,
    ) -> Graph {
        let mut files = files;
        crate::decided::prune_decided_calls(&mut files);
        let tree_paths: Vec<String> = files
            .iter()
            .map(|f| format!("{tree_prefix}{}", f.path))
            .collect();
        let mut fns = Vec::new();
        let mut by_name: HashMap<String, Vec<FnId>> = HashMap::default();
        let mut statics: HashMap<(u32, &str), FnId> = HashMap::default();
        for (fi, file) in files.iter().enumerate() {
            for (i, f) in file.functions.iter().enumerate() {
                let id = fns.len() as FnId;
                fns.push((fi as u32, i as u32));
                if f.name.is_empty() {
                    continue;
                }
                if f.is_static {
                    statics.insert((fi as u32, f.name.as_str()), id);
                    // A header's static inline is compiled into every file
                    // that includes it: callers elsewhere reach it by name.
                    if file.path.ends_with(".h") {
                        by_name.entry(f.name.clone()).or_default().push(id);
                    }
                } else {
                    by_name.entry(f.name.clone()).or_default().push(id);
                }
            }
        }
        // A weak definition is replaced at link time by a strong one of the
        // same name (`kernel/iomem.c`'s `__weak ioremap_cache()` by x86's).
        for ids in by_name.values_mut() {
            let weak = |id: &FnId| {
                let (fi, i) = fns[*id as usize];
                files[fi as usize].functions[i as usize].is_weak
            };
            if ids.len() > 1 && ids.iter().any(|id| !weak(id)) {
                ids.retain(|id| !weak(id));
            }
        }
        let by_hook: HashMap<&str, &Vec<FnId>> = by_name
            .iter()
            .filter_map(|(n, v)| Some((n.strip_suffix("_noprof")?, v)))
            .collect();
        // `--follow-ops` names another file's static `name@path`.
        let file_at: std::sync::OnceLock<HashMap<&str, u32>> = std::sync::OnceLock::new();
        // The targets of each call of one function, added to a chunk's flat
        // list, with where each call's targets end in it.
        let link = |fi: u32, f: &Function, targets: &mut Vec<FnId>, ends: &mut Vec<u32>| {
            for c in &f.calls {
                // 6.10+ defines an allocation API `foo()` as a macro around
                // `foo_noprof()` (alloc_hooks): a call of `vmalloc` reaches
                // `vmalloc_noprof`. The table's allocators are read at the
                // call instead.
                let hooked = || {
                    if allocators.get(&c.callee).is_some() {
                        return None;
                    }
                    by_hook.get(c.callee.as_str()).copied()
                };
                let elsewhere = c.callee.split_once('@').and_then(|(name, path)| {
                    let at = *file_at
                        .get_or_init(|| {
                            files
                                .iter()
                                .enumerate()
                                .map(|(i, f)| (f.path.as_str(), i as u32))
                                .collect()
                        })
                        .get(path)?;
                    statics.get(&(at, name)).copied()
                });
                match elsewhere.or_else(|| statics.get(&(fi, c.callee.as_str())).copied()) {
                    Some(t) => targets.push(t),
                    None => {
                        if let Some(all) = by_name.get(&c.callee).or_else(hooked) {
                            let mut v = choose(&tree_paths, &fns, &tree_paths[fi as usize], all);
                            // A driver's function that it does not export is
                            // not callable from another driver's directory
                            // (they are separate modules): a same-named call
                            // there is a macro or another function.
                            let from = &tree_paths[fi as usize];
                            v.retain(|&t| {
                                let tfile = &files[fns[t as usize].0 as usize];
                                let tpath = &tree_paths[fns[t as usize].0 as usize];
                                let name = &tfile.functions[fns[t as usize].1 as usize].name;
                                !is_driver_code(tpath)
                                    || dir_of(tpath) == dir_of(from)
                                    || tfile.exports.contains(name)
                            });
                            // A header's static inline is reachable only from
                            // files that include that header.
                            v.retain(|&t| {
                                let (tf, ti) = fns[t as usize];
                                let tfile = &files[tf as usize];
                                if !tfile.functions[ti as usize].is_static {
                                    return true;
                                }
                                let base = tfile.path.rsplit('/').next().unwrap_or(&tfile.path);
                                files[fi as usize].includes.iter().any(|i| i == base)
                            });
                            targets.extend(v);
                        }
                    }
                }
                ends.push(targets.len() as u32);
            }
        };
        // Resolved in parallel, a chunk of functions at a time (each
        // function's calls alone), then laid out and inverted in order.
        const CHUNK: usize = 4096;
        let linked: Vec<(Vec<FnId>, Vec<u32>)> = {
            use rayon::prelude::*;
            fns.par_chunks(CHUNK)
                .map(|chunk| {
                    let (mut targets, mut ends) = (Vec::new(), Vec::new());
                    for &(fi, i) in chunk {
                        link(
                            fi,
                            &files[fi as usize].functions[i as usize],
                            &mut targets,
                            &mut ends,
                        );
                    }
                    (targets, ends)
                })
                .collect()
        };
        let mut callees = Callees::default();
        let mut callers: Vec<Vec<Step>> = vec![Vec::new(); fns.len()];
        let mut id = 0usize;
        for (targets, ends) in linked {
            let mut ends = ends.into_iter();
            let mut start = 0usize;
            for &(fi, i) in &fns[id..(id + CHUNK).min(fns.len())] {
                callees.start_function();
                let ncalls = files[fi as usize].functions[i as usize].calls.len();
                for ci in 0..ncalls {
                    let end = ends.next().expect("one end per call") as usize;
                    let these = &targets[start..end];
                    for &t in these {
                        callers[t as usize].push(Step {
                            func: id as FnId,
                            call: ci as u32,
                        });
                    }
                    callees.push_call(these);
                    start = end;
                }
                id += 1;
            }
        }
        callees.finish();
        drop((statics, by_hook, file_at));
        // The names and constants move out of the files; then four
        // independent readings of the tree run side by side.
        let taken: Vec<Vec<String>> = files
            .iter_mut()
            .map(|f| std::mem::take(&mut f.address_taken))
            .collect();
        let named: Vec<Vec<(String, i64)>> = files
            .iter_mut()
            .map(|f| std::mem::take(&mut f.constants))
            .collect();
        let ((context_aware, atomic_gfp_calls), (address_taken, constants)) = rayon::join(
            || {
                rayon::join(
                    || context_aware(&files, &fns, &callees),
                    || atomic_gfp_calls(&files, &fns, &callees, ev),
                )
            },
            || {
                rayon::join(
                    || taken.into_iter().flatten().collect(),
                    || tree_constants(&files, named),
                )
            },
        );
        let mut g = Graph {
            files,
            fns,
            by_name,
            callees,
            callers,
            events: Vec::new(),
            address_taken,
            context_aware,
            atomic_gfp_calls,
            constants,
        };
        g.events = g.compute_events(allocators, ev, scope_effect);
        g
    }

    /// The scope transform in force at a call (the scopes held on every path).
    fn scope_at(
        &self,
        f: &Function,
        scopes: &[u16],
        effect: &(dyn Fn(&str) -> (Gfp, Gfp) + Sync),
    ) -> (Gfp, Gfp) {
        let mut clears = Gfp::EMPTY;
        let mut sets = Gfp::EMPTY;
        for &s in scopes {
            for flag in &f.scopes[s as usize].flags {
                let (c, st) = effect(flag);
                clears |= c;
                sets |= st;
            }
        }
        (clears, sets)
    }

    fn compute_events(
        &self,
        allocators: &Allocators,
        ev: &Evaluator,
        effect: &(dyn Fn(&str) -> (Gfp, Gfp) + Sync),
    ) -> Vec<Vec<AllocEvent>> {
        use rayon::prelude::*;
        // Direct allocations, in parallel.
        let mut events: Vec<Vec<AllocEvent>> = (0..self.fns.len())
            .into_par_iter()
            .map(|id| {
                let f = self.func(id as FnId);
                let mut out = Vec::new();
                for (ci, c) in f.calls.iter().enumerate() {
                    let Some(a) = allocators.get(&c.callee) else {
                        continue;
                    };
                    let Some(arg) = a.gfp.index(c.args.len()).map(|i| &c.args[i]) else {
                        continue;
                    };
                    let (clears, sets) = self.scope_at(f, &c.scopes_must, effect);
                    let mut value = ev.eval_at(arg, f, Some(c.line)).scoped(clears, sets);
                    if !c.assumes.is_empty() {
                        for a in &mut value.0 {
                            for &fact in &c.assumes {
                                if !a.when.contains(&fact) {
                                    a.when.push(fact);
                                }
                            }
                        }
                    }
                    out.push(AllocEvent {
                        call: ci as u32,
                        value,
                        chain: vec![Step {
                            func: id as FnId,
                            call: ci as u32,
                        }],
                        drops_xa_lock: a.drops_xa_lock,
                        keeps_section: true,
                    });
                }
                out
            })
            .collect();
        // Summaries: a function whose allocation depends on its parameters
        // is an allocator of them; its callers bind their arguments. Worklist
        // to a fixed point; each function keeps a bounded number of
        // distinct summaries, so the iteration ends.
        let mut summaries: Vec<Vec<usize>> = vec![Vec::new(); self.fns.len()];
        let mut queue: VecDeque<FnId> = VecDeque::new();
        for (id, evs) in events.iter().enumerate() {
            let idx: Vec<usize> = evs
                .iter()
                .enumerate()
                .filter(|(_, e)| e.value.depends_on_params())
                .map(|(i, _)| i)
                .take(MAX_SUMMARIES)
                .collect();
            if !idx.is_empty() {
                summaries[id] = idx;
                queue.push_back(id as FnId);
            }
        }
        let mut seen_from: HashMap<(FnId, Step, usize), ()> = HashMap::default();
        while let Some(callee) = queue.pop_front() {
            let sums: Vec<AllocEvent> = summaries[callee as usize]
                .iter()
                .map(|&i| events[callee as usize][i].clone())
                .collect();
            for &step in &self.callers[callee as usize] {
                let caller = self.func(step.func);
                let call = &caller.calls[step.call as usize];
                // A call of a table allocator is the table's allocation
                // (with what the table says of it: `__xa_insert()` drops
                // the xarray's lock to allocate); its body adds nothing.
                if allocators.get(&call.callee).is_some() {
                    continue;
                }
                let args: Vec<Value> = call
                    .args
                    .iter()
                    .map(|a| ev.eval_at(a, caller, Some(call.line)))
                    .collect();
                let truth: Vec<Truth> = call.args.iter().map(|a| truth_of(a, caller)).collect();
                let (clears, sets) = self.scope_at(caller, &call.scopes_must, effect);
                let callee_f = self.func(callee);
                for (si, s) in sums.iter().enumerate() {
                    if seen_from.insert((callee, step, si), ()).is_some() {
                        continue;
                    }
                    let mut value = s.value.bind(&args, &truth).scoped(clears, sets);
                    // Made only where the caller's parameters say so.
                    for a in &mut value.0 {
                        for &fact in &call.assumes {
                            if !a.when.contains(&fact) {
                                a.when.push(fact);
                            }
                        }
                    }
                    let mut chain = vec![step];
                    chain.extend(s.chain.iter().copied());
                    if chain.len() > 64 {
                        continue;
                    }
                    let keeps = s.keeps_section && callee_f.calls[s.call as usize].inherited;
                    let e = AllocEvent {
                        call: step.call,
                        value,
                        chain,
                        drops_xa_lock: s.drops_xa_lock,
                        keeps_section: keeps,
                    };
                    let list = &mut events[step.func as usize];
                    if list.iter().any(|x| x.call == e.call && x.value == e.value) {
                        continue;
                    }
                    let dep = e.value.depends_on_params();
                    list.push(e);
                    if dep && summaries[step.func as usize].len() < MAX_SUMMARIES {
                        summaries[step.func as usize].push(list.len() - 1);
                        queue.push_back(step.func);
                    }
                }
            }
        }
        events
    }

    /// The sections held at a call that an allocation there would sleep in
    /// (an `__xa_*` allocator drops the xarray's lock itself).
    pub fn atomic_sections(&self, id: FnId, call: u32, drops_xa: bool) -> Vec<u16> {
        let f = self.func(id);
        f.calls[call as usize]
            .sections
            .iter()
            .copied()
            .filter(|&s| !(drops_xa && f.sections[s as usize].class == LockClass::Xa))
            .collect()
    }
}

/// Of several definitions of a name, the ones a caller in `from` links
/// with. The scanner assumes an x86 build, as the gfp profiles do: outside
/// `arch/`, only `arch/x86` definitions count; inside `arch/NAME`, that
/// architecture's and the generic ones. Of several left, those in the
/// caller's own subsystem (first two path components); a name defined in
/// more than three places beyond that is ambiguous and not followed.
fn choose(paths: &[String], fns: &[(u32, u32)], from: &str, all: &[FnId]) -> Vec<FnId> {
    if all.len() == 1 {
        let p = &paths[fns[all[0] as usize].0 as usize];
        if !p.starts_with("arch/") || p.starts_with("arch/x86/") || same_arch(from, p) {
            return all.to_vec();
        }
        return Vec::new();
    }
    let path = |id: FnId| paths[fns[id as usize].0 as usize].as_str();
    let ok: Vec<FnId> = all
        .iter()
        .copied()
        .filter(|&id| {
            let p = path(id);
            !p.starts_with("arch/")
                || same_arch(from, p)
                || (!from.starts_with("arch/") && p.starts_with("arch/x86/"))
        })
        .collect();
    if ok.len() <= 1 {
        return ok;
    }
    let subsystem = |p: &str| p.splitn(3, '/').take(2).collect::<Vec<_>>().join("/");
    let mine: Vec<FnId> = ok
        .iter()
        .copied()
        .filter(|&id| subsystem(path(id)) == subsystem(from))
        .collect();
    if !mine.is_empty() {
        return mine;
    }
    if ok.len() <= 3 {
        ok
    } else {
        Vec::new()
    }
}

fn dir_of(p: &str) -> &str {
    p.rsplit_once('/').map_or("", |(d, _)| d)
}

/// Code built as loadable modules, one per directory as a rule.
fn is_driver_code(p: &str) -> bool {
    p.starts_with("drivers/") || p.starts_with("sound/")
}

fn same_arch(a: &str, b: &str) -> bool {
    let arch = |p: &str| {
        p.strip_prefix("arch/")
            .and_then(|r| r.split('/').next())
            .map(str::to_string)
    };
    arch(a).is_some() && arch(a) == arch(b)
}

/// The masks of an event that may sleep: constants with direct reclaim.
pub fn may_sleep(v: &Value) -> Option<Gfp> {
    v.constants().find(|g| g.contains(Gfp::DIRECT_RECLAIM))
}

/// Whether a value chooses between a mask that sleeps and one that does not
/// (`gfp = atomic ? GFP_ATOMIC : GFP_KERNEL`, or the two assigned on
/// different branches) by something the scanner could not bind: the code was
/// written for both contexts, and which arm runs in the atomic one is the
/// author's choice, not a fact the scanner has.
pub fn chooses_context(v: &Value) -> bool {
    may_sleep(v).is_some() && v.constants().any(|g| !g.contains(Gfp::DIRECT_RECLAIM))
}

/// The calls whose argument for a `gfp_t` parameter of the callee is a mask
/// that cannot sleep (every alternative a constant without direct reclaim).
fn atomic_gfp_calls(
    files: &[FileFacts],
    fns: &[(u32, u32)],
    callees: &Callees,
    ev: &Evaluator,
) -> HashSet<Step> {
    let func = |id: FnId| {
        let (f, i) = fns[id as usize];
        &files[f as usize].functions[i as usize]
    };
    let mut out = HashSet::default();
    for id in 0..fns.len() {
        let caller = func(id as FnId);
        for (ci, call) in caller.calls.iter().enumerate() {
            let targets = callees.of(id as FnId, ci as u32);
            let atomic = targets.iter().any(|&t| {
                func(t).params.iter().enumerate().any(|(pi, p)| {
                    p.is_gfp
                        && call.args.get(pi).is_some_and(|a| {
                            let v = ev.eval_at(a, caller, Some(call.line));
                            !v.0.is_empty()
                                && v.0.iter().all(|alt| {
                                    alt.constant_mask()
                                        .is_some_and(|g| !g.contains(Gfp::DIRECT_RECLAIM))
                                })
                        })
                })
            });
            if atomic {
                out.insert(Step {
                    func: id as FnId,
                    call: ci as u32,
                });
            }
        }
    }
    out
}
