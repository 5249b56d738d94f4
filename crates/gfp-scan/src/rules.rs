//! The rules: each turns the graph's facts into findings with a stable id.

use std::collections::{HashMap, HashSet, VecDeque};

use gfp::policy::{self, Direction, Verdict};
use gfp::Gfp;

use crate::facts::SwitchOn;
use crate::graph::{chooses_context, may_sleep, AllocEvent, FnId, Graph, Step};
use crate::report::{AllocRef, ContextRef, Finding, Hop, Severity};
use crate::Proposal;

/// Rule ids, stable across releases.
pub mod id {
    /// A sleeping allocation reachable inside an atomic section or from an
    /// atomic entry point.
    pub const SLEEP_IN_ATOMIC: &str = "sleep-in-atomic";
    /// A `__GFP_NOFAIL` allocation without `__GFP_DIRECT_RECLAIM`.
    pub const NOFAIL_NO_RECLAIM: &str = "nofail-no-reclaim";
    /// An explicit GFP_NOFS inside a NOFS (or NOIO) scope on every path.
    pub const REDUNDANT_NOFS: &str = "redundant-gfp-nofs";
    /// An explicit GFP_NOIO inside a NOIO scope on every path.
    pub const REDUNDANT_NOIO: &str = "redundant-gfp-noio";
    /// A save without its restore on some path.
    pub const UNPAIRED_SCOPE: &str = "unpaired-scope";
    /// An explicit GFP_NOFS outside any scope (opt-in).
    pub const NOFS_CANDIDATE: &str = "nofs-conversion-candidate";
    /// An explicit GFP_NOIO outside any scope (opt-in).
    pub const NOIO_CANDIDATE: &str = "noio-conversion-candidate";
    /// A proposed scope breaks a nested allocation.
    pub const SCOPE_BREAKS: &str = "scope-breaks";
    /// A proposed scope changes a nested allocation's mask without breaking it.
    pub const SCOPE_CHANGES: &str = "scope-changes";
    /// Every rule, with its default severity and whether it runs by default.
    pub const ALL: &[(&str, &str, bool)] = &[
        (SLEEP_IN_ATOMIC, "error", true),
        (NOFAIL_NO_RECLAIM, "error", true),
        (UNPAIRED_SCOPE, "warning", true),
        (REDUNDANT_NOFS, "note", true),
        (REDUNDANT_NOIO, "note", true),
        (NOFS_CANDIDATE, "note", false),
        (NOIO_CANDIDATE, "note", false),
        (SCOPE_BREAKS, "error", true),
        (SCOPE_CHANGES, "note", true),
    ];
}

/// What the rules need besides the graph.
pub struct Ctx<'a> {
    /// The graph.
    pub g: &'a Graph,
    /// Renders a mask the way the scanned kernel prints it.
    pub render: &'a (dyn Fn(Gfp) -> String + Sync),
    /// The flags that scopes of this kernel clear (by `PF_*` name).
    pub scope_effect: &'a (dyn Fn(&str) -> (Gfp, Gfp) + Sync),
    /// The allocator table.
    pub allocators: &'a crate::vocab::Allocators,
    /// The longest call chain a finding may have (0: no bound).
    pub max_chain: usize,
    /// How many distinct functions must call a function inside atomic
    /// sections for the scanner to trust it there (0: trust none).
    pub trust_callers: usize,
    /// Struct members raised only around a call (`map->async`): a chain
    /// that tests one without passing such a call cannot run.
    pub windows: &'a crate::windows::MemberWindows<'a>,
}

impl Ctx<'_> {
    fn hop(&self, s: Step) -> Hop {
        let f = self.g.func(s.func);
        let c = &f.calls[s.call as usize];
        Hop {
            function: f.name.clone(),
            file: self.g.file_of(s.func).to_string(),
            line: c.line,
            call: c.name().to_string(),
            via: (c.indirect > 0)
                .then(|| {
                    let m = self.member_called_through(f, c)?;
                    Some(match c.indirect {
                        1 => format!("->{m}"),
                        n => format!("->{m}, one of {n}"),
                    })
                })
                .flatten(),
            when: Vec::new(),
        }
    }

    /// The member a call `--follow-ops` added was made through: the
    /// member of the indirect call it copies. Two member calls of one line
    /// alike in arguments and flow facts (`ops->prep(n) || ops->xmit(n)`)
    /// are told apart by which member an initialiser puts the callee in.
    fn member_called_through<'f>(
        &self,
        f: &'f crate::facts::Function,
        c: &crate::facts::Call,
    ) -> Option<&'f str> {
        let mut alike = f
            .indirect_calls
            .iter()
            .filter(|ic| ic.call.is_copied_as(c))
            .filter_map(|ic| ic.member.as_deref());
        let first = alike.next()?;
        let mut rest = alike.peekable();
        if rest.peek().is_none() {
            return Some(first);
        }
        let callee = c.name();
        let puts = |m: &str| {
            self.g
                .files
                .iter()
                .any(|file| file.ops.iter().any(|(mm, fun)| mm == m && fun == callee))
        };
        std::iter::once(first)
            .chain(rest)
            .find(|m| puts(m))
            .or(Some(first))
    }

    fn alloc_ref(&self, e: &AllocEvent, effective: Gfp) -> AllocRef {
        let last = *e.chain.last().expect("an event has a chain");
        let f = self.g.func(last.func);
        let c = &f.calls[last.call as usize];
        let gfp = crate::report::gfp_arg_text(self.allocators, c);
        AllocRef {
            file: self.g.file_of(last.func).to_string(),
            line: c.line,
            call: c.callee.clone(),
            gfp,
            effective: (self.render)(effective),
        }
    }

    /// The first of `scopes` (of function `f`) that clears `bit`.
    fn scope_clearing<'f>(
        &self,
        f: &'f crate::facts::Function,
        scopes: &[u16],
        bit: Gfp,
    ) -> Option<&'f crate::facts::Scope> {
        scopes.iter().map(|&s| &f.scopes[s as usize]).find(|s| {
            s.flags
                .iter()
                .any(|fl| (self.scope_effect)(fl).0.contains(bit))
        })
    }

    fn chain(&self, prefix: &[Step], e: &AllocEvent) -> Vec<Hop> {
        prefix
            .iter()
            .chain(e.chain.iter())
            .map(|s| self.hop(*s))
            .collect()
    }
}

/// How a function reaches a sleeping allocation in its caller's section:
/// (chain length, the calls from the function to the event's owner as a
/// list in [`Paths`], the event's index, the event's owner).
type Reach = (u32, u32, usize, FnId);

/// The end of a list in [`Paths`].
const NIL: u32 = u32::MAX;

/// The calls of the chains [`reaches`] finds, shared: a reach's list is
/// one call linked to its callee's list, so a chain of n calls costs n
/// nodes however many functions reach through it (copying each chain
/// would cost the square of the depth: a 100,000-deep chain of calls is a
/// few lines of C).
#[derive(Default)]
struct Paths {
    nodes: Vec<(Step, u32)>,
}

impl Paths {
    /// A list that starts with `s` and goes on as `next`.
    fn push(&mut self, s: Step, next: u32) -> u32 {
        self.nodes.push((s, next));
        u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 chain nodes")
    }

    /// The calls of the list at `at`, in order.
    fn steps(&self, mut at: u32) -> Vec<Step> {
        let mut out = Vec::new();
        while at != NIL {
            let (s, next) = self.nodes[at as usize];
            out.push(s);
            at = next;
        }
        out
    }
}

/// A reach that holds when the function's parameters have these truths.
type CondReach = (Vec<(u8, bool)>, Reach);

/// How many reaches a function keeps: the shortest chains to a few
/// allocation sites, so that when the shortest chain turns out infeasible
/// at a caller (a branch it rules out), the next site still stands.
const REACHES_PER_FUNCTION: usize = 8;

/// How many chains a function keeps to one allocation site: a check that
/// rules the shortest out (a constant argument its branch compares away)
/// leaves the next.
const REACHES_PER_SITE: usize = 2;

/// How many reaches a function keeps that hold only under assumptions on
/// its parameters (checks such as `if (!ep || !req) return -EINVAL;` at
/// the top of a function make every reach through it one of these).
const MAX_COND_REACHES: usize = 32;

/// Offers a reach to a function's list (the shortest chains, at most
/// [`REACHES_PER_SITE`] to one allocation site and [`REACHES_PER_FUNCTION`]
/// in all, shortest first); whether the list changed. A chain the list
/// holds already (the same call on to the same callee chain) is offered
/// again whenever the callee's list changes, and taken once.
fn offer(list: &mut Vec<Reach>, r: Reach, paths: &Paths) -> bool {
    let site = (r.2, r.3);
    let node = |at: u32| paths.nodes.get(at as usize).copied();
    if let Some(i) = list
        .iter()
        .position(|x| (x.2, x.3) == site && node(x.1) == node(r.1))
    {
        if list[i].0 <= r.0 {
            return false;
        }
        list.remove(i);
    }
    // The list is sorted by length: the site's last reach is its longest.
    let mut at_site = list.iter().enumerate().filter(|(_, x)| (x.2, x.3) == site);
    let count = at_site.clone().count();
    if count >= REACHES_PER_SITE {
        let (longest, _) = at_site.next_back().expect("a site holds a reach");
        if list[longest].0 <= r.0 {
            return false;
        }
        list.remove(longest);
    } else if list.len() >= REACHES_PER_FUNCTION {
        if list.last().is_some_and(|x| x.0 <= r.0) {
            return false;
        }
        list.pop();
    }
    let at = list.partition_point(|x| x.0 <= r.0);
    list.insert(at, r);
    true
}

/// Whether a call's arguments make every assumption true (a constant that
/// says so; anything else does not).
fn assumes_hold(assumes: &[(u8, bool)], args: &[String], caller: &crate::facts::Function) -> bool {
    bind_assumes(assumes, args, caller).is_some()
}

/// What the callee's assumptions on its parameters say at one call: `None`
/// when an argument does not satisfy one (a constant that contradicts it,
/// `route(skb, NULL)` under `if (via != NULL)`, or an argument the scanner
/// cannot read, other than a constant expression taken as nonzero);
/// otherwise the assumptions left on the caller's own parameters, which
/// the caller passed on unchanged.
fn bind_assumes(
    assumes: &[(u8, bool)],
    args: &[String],
    caller: &crate::facts::Function,
) -> Option<Vec<(u8, bool)>> {
    use crate::mask::Truth;
    let mut left = Vec::new();
    for &(p, want) in assumes {
        match args
            .get(p as usize)
            .map(|a| crate::mask::truth_of(a, caller))
        {
            Some(Truth::Known(t)) if t != want => return None,
            Some(Truth::Param(i, neg)) => left.push((i, want != neg)),
            Some(Truth::Known(_)) => {}
            // A size or count built from macros is taken as nonzero
            // (`ioremap(base, PAGE_SIZE)` passes `if (!size) return`).
            Some(Truth::Unknown)
                if want && args.get(p as usize).is_some_and(|a| constant_expr(a)) => {}
            // Anything else is not taken to hold: taking it to hold added
            // nine findings on 6.12, of which reviewers judged seven false
            // (an skb the caller allocated, a command the caller fixed).
            _ => return None,
        }
    }
    Some(left)
}

/// Whether an argument is built only from upper-case macro names, numbers
/// and `sizeof(...)`: `PAGE_SIZE`, `2 * SZ_4K`, `sizeof(struct x)`, not
/// `sizeof(*p) * count`.
fn constant_expr(arg: &str) -> bool {
    // Each `sizeof(...)` stands for a nonzero number, whatever it names.
    let mut rest = String::with_capacity(arg.len());
    let mut s = arg;
    while let Some(at) = s.find("sizeof") {
        rest.push_str(&s[..at]);
        let after = s[at + "sizeof".len()..].trim_start();
        let Some(inner) = after.strip_prefix('(') else {
            return false;
        };
        let mut depth = 1;
        let Some(close) = inner.char_indices().find_map(|(i, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(i)
        }) else {
            return false;
        };
        rest.push('1');
        s = &inner[close + 1..];
    }
    rest.push_str(s);
    let mut words = 0;
    for w in rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if w.is_empty() {
            continue;
        }
        words += 1;
        if !w.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && w.bytes().any(|b| b.is_ascii_lowercase())
        {
            return false;
        }
    }
    words > 0 && !rest.contains("->") && !rest.contains('.')
}

/// `sleep-in-atomic`: within a function's own sections, through calls, and
/// from atomic entry points.
pub fn sleep_in_atomic(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let (best, cond, paths) = reaches(cx);
    let mut found = Vec::new();
    section_findings(cx, &best, &cond, &paths, &mut found);
    let first_entry = found.len();
    entry_point_findings(cx, &best, &paths, &mut found);
    // One finding per function holding the context and allocation site,
    // and per call made there: the other calls on the way (and a handler's
    // own lock inside it) are the same question for its author, and so are
    // the other allocations one call in the section reaches. The shortest
    // chain stands for the others.
    let key = |f: &Finding| {
        let a = f.alloc.as_ref().map(|a| (a.file.clone(), a.line));
        (f.context.function.clone(), f.context.file.clone(), a)
    };
    let first_call = |f: &Finding| {
        let h = f.chain.first().map(|h| (h.file.clone(), h.line));
        (f.context.function.clone(), f.context.file.clone(), h)
    };
    let mut shortest: HashMap<_, usize> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        let k = key(f);
        match shortest.get(&k) {
            Some(&j) if found[j].chain.len() <= f.chain.len() => {}
            _ => {
                shortest.insert(k, i);
            }
        }
    }
    let mut by_call: HashMap<_, usize> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        if shortest.get(&key(f)) != Some(&i) {
            continue;
        }
        let k = first_call(f);
        match by_call.get(&k) {
            Some(&j) if found[j].chain.len() <= f.chain.len() => {}
            _ => {
                by_call.insert(k, i);
            }
        }
    }
    let mut keep: Vec<usize> = by_call.into_values().collect();
    keep.sort_unstable();
    let found: Vec<(Finding, bool)> = keep
        .into_iter()
        .map(|i| (found[i].clone(), i >= first_entry))
        .collect();
    out.extend(fold_into_entry_points(found, cx.max_chain));
}

/// How many of the contexts folded into an entry point's finding its
/// message names.
const FOLDED_NAMED: usize = 3;

/// Folds a finding whose chain passes through a function reported as a
/// sleeping atomic entry point into that entry point's finding: the entry
/// point is the defect (`dbgp_setup()` allocates with `GFP_KERNEL` and
/// every UDC calls a gadget driver's `setup` from its interrupt handler),
/// and the contexts that reach the sleep through it are where it runs,
/// which its message lists. `found` pairs each finding with whether it is
/// an entry point's; a finding whose chain is longer than `max_chain` (0:
/// no limit) neither folds nor takes others (the limit drops it), and an
/// entry point's finding that is folded itself takes none (a loop of
/// entry points folds nothing).
fn fold_into_entry_points(found: Vec<(Finding, bool)>, max_chain: usize) -> Vec<Finding> {
    let too_long = |f: &Finding| max_chain > 0 && f.chain.len() > max_chain;
    let at: HashMap<(&str, &str), usize> = found
        .iter()
        .enumerate()
        .filter(|(_, (f, entry))| *entry && !too_long(f))
        .map(|(i, (f, _))| ((f.context.function.as_str(), f.context.file.as_str()), i))
        .collect();
    // The entry point each finding goes through, past its own context.
    let through: Vec<Option<usize>> = found
        .iter()
        .map(|(f, _)| {
            if too_long(f) {
                return None;
            }
            f.chain
                .iter()
                .skip(1)
                .find_map(|h| at.get(&(h.function.as_str(), h.file.as_str())).copied())
        })
        .collect();
    let folded: Vec<Option<usize>> = through
        .iter()
        .map(|t| t.filter(|&e| through[e].is_none()))
        .collect();
    let mut callers: Vec<Vec<(String, String, u32)>> = vec![Vec::new(); found.len()];
    for (i, e) in folded.iter().enumerate() {
        if let Some(&e) = e.as_ref() {
            let c = &found[i].0.context;
            callers[e].push((c.function.clone(), c.file.clone(), c.line));
        }
    }
    let mut kept = Vec::with_capacity(found.len());
    for (((mut f, _), by), gone) in found.into_iter().zip(callers).zip(folded) {
        if gone.is_some() {
            continue;
        }
        if !by.is_empty() {
            f.message.push_str(&folded_text(by));
        }
        kept.push(f);
    }
    kept
}

/// What an entry point's message adds for the contexts folded into it:
/// `; 2 other atomic contexts reach it through calls: ...`.
fn folded_text(mut by: Vec<(String, String, u32)>) -> String {
    by.sort();
    by.dedup();
    let n = by.len();
    let named: Vec<String> = by
        .iter()
        .take(FOLDED_NAMED)
        .map(|(func, file, line)| format!("`{func}` ({file}:{line})"))
        .collect();
    let more = n.saturating_sub(FOLDED_NAMED);
    format!(
        "; {n} other atomic context{} reach{} it through calls: {}{}",
        if n == 1 { "" } else { "s" },
        if n == 1 { "es" } else { "" },
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
    )
}

/// For each function, its shortest reach of a sleeping allocation from its
/// start in its caller's section (`best`), and the reaches that hold only
/// under assumptions on its parameters (`cond`).
fn reaches(cx: &Ctx<'_>) -> (Vec<Vec<Reach>>, Vec<Vec<CondReach>>, Paths) {
    let g = cx.g;
    // best[f]: the shortest chains from f's start, in its caller's section,
    // to sleeping allocations (one per site, a few sites).
    let n = g.fns.len();
    let mut best: Vec<Vec<Reach>> = vec![Vec::new(); n];
    // Reaches that hold only under assumptions on the function's own
    // parameters (`if (!on) return ...; add_entry(...)`).
    let mut cond: Vec<Vec<CondReach>> = vec![Vec::new(); n];
    let mut paths = Paths::default();
    let mut queue = VecDeque::new();
    #[allow(clippy::needless_range_loop)]
    for id in 0..n {
        let f = g.func(id as FnId);
        for (ei, e) in g.events[id].iter().enumerate() {
            let c = &f.calls[e.call as usize];
            // Only a sleep whatever the function's parameters: one that
            // depends on them is decided at each caller, whose bound event
            // is an event of its own.
            if c.inherited
                && e.keeps_section
                && !chooses_context(&e.value)
                && e.value
                    .unconditional_constants()
                    .any(|m| m.contains(Gfp::DIRECT_RECLAIM))
            {
                let len = e.chain.len() as u32;
                if !c.assumes.is_empty() {
                    // Made only when the parameters say so: decided at
                    // each caller from its arguments.
                    cond[id].push((c.assumes.to_vec(), (len, NIL, ei, id as FnId)));
                } else {
                    offer(&mut best[id], (len, NIL, ei, id as FnId), &paths);
                }
            }
        }
        if !best[id].is_empty() {
            queue.push_back(id as FnId);
        }
    }
    // Functions the kernel itself treats as safe in atomic context: called
    // inside atomic sections by many different functions. If such a function
    // could sleep on the paths the scanner sees, those paths are infeasible
    // in practice (debug or first-use branches): thousands of callers holding
    // spinlocks would have tripped might_sleep() long ago. The sleep is not
    // propagated through them ("bugs as deviant behaviour": the many callers
    // are the belief, the function's own chains the deviation).
    // A function that tests its context (`in_interrupt()`, ...) chooses by
    // it, and one that frees memory may be called in any context by
    // contract: what they reach is not propagated either.
    let mut trusted = trusted_in_atomic(g, cx.trust_callers);
    for (id, (t, &aware)) in trusted.iter_mut().zip(&g.context_aware).enumerate() {
        *t |= aware || crate::vocab::never_sleeps(&g.func(id as FnId).name);
    }
    // A call that hands its callee a gfp_t that cannot sleep says the callee
    // runs in atomic context, and the callee's contract is to honour it.
    let told_atomic = |s: &Step| g.atomic_gfp_calls.contains(s);
    for (id, b) in best.iter_mut().enumerate() {
        if trusted[id] {
            b.clear();
        }
    }
    queue.retain(|&id| !trusted[id as usize]);
    // Breadth-first over callers (the graph's edges reversed): a caller
    // reaches the sleep through a call made in its own caller's section.
    // Then the conditional reaches are bound at their callers' calls (a
    // constant argument that makes the assumption true), which may start
    // new unconditional ones; a few rounds settle it.
    for _round in 0..4 {
        while let Some(callee) = queue.pop_front() {
            let reaches = best[callee as usize].clone();
            for &s in &g.callers[callee as usize] {
                let call = &g.func(s.func).calls[s.call as usize];
                if !call.inherited || trusted[s.func as usize] || told_atomic(&s) {
                    continue;
                }
                let mut changed = false;
                for &(d, path, ei, owner) in &reaches {
                    let reach = (d + 1, paths.push(s, path), ei, owner);
                    if !call.assumes.is_empty() {
                        if cond[s.func as usize].len() < MAX_COND_REACHES {
                            cond[s.func as usize].push((call.assumes.to_vec(), reach));
                        }
                    } else {
                        changed |= offer(&mut best[s.func as usize], reach, &paths);
                    }
                }
                if changed {
                    queue.push_back(s.func);
                }
            }
        }
        let mut bound = false;
        #[allow(clippy::needless_range_loop)]
        for callee in 0..n {
            if cond[callee].is_empty() {
                continue;
            }
            for &s in &g.callers[callee] {
                let caller = g.func(s.func);
                let call = &caller.calls[s.call as usize];
                if !call.inherited || trusted[s.func as usize] || told_atomic(&s) {
                    continue;
                }
                let mut passed_on = Vec::new();
                for (assumes, (d, path, ei, owner)) in &cond[callee] {
                    let Some(mut left) = bind_assumes(assumes, &call.args, caller) else {
                        continue;
                    };
                    // A call made only on some of the caller's own
                    // parameters adds those to what is left.
                    if call.assumes.iter().any(|&(p, t)| left.contains(&(p, !t))) {
                        continue;
                    }
                    for &a in call.assumes.iter() {
                        if !left.contains(&a) {
                            left.push(a);
                        }
                    }
                    let p = paths.push(s, *path);
                    let reach = (d + 1, p, *ei, *owner);
                    if !left.is_empty() {
                        // Still a question of the caller's own parameters.
                        passed_on.push((left, reach));
                    } else if offer(&mut best[s.func as usize], reach, &paths) {
                        queue.push_back(s.func);
                        bound = true;
                    }
                }
                let caller_cond = &mut cond[s.func as usize];
                for (left, reach) in passed_on {
                    if caller_cond.len() < MAX_COND_REACHES
                        && !caller_cond
                            .iter()
                            .any(|(a, r)| *a == left && (r.2, r.3) == (reach.2, reach.3))
                    {
                        caller_cond.push((left, reach));
                        bound = true;
                    }
                }
            }
        }
        if !bound {
            break;
        }
    }
    (best, cond, paths)
}

/// Allocations in a function's own sections, directly or through calls.
fn section_findings(
    cx: &Ctx<'_>,
    best: &[Vec<Reach>],
    cond: &[Vec<CondReach>],
    paths: &Paths,
    out: &mut Vec<Finding>,
) {
    let g = cx.g;
    let told_atomic = |s: &Step| g.atomic_gfp_calls.contains(s);
    let (mut seen, mut seen_direct) = (HashSet::new(), HashSet::new());
    for id in 0..g.fns.len() {
        let fid = id as FnId;
        let f = g.func(fid);
        // Allocations (direct or through summarised helpers) in a section.
        for e in &g.events[id] {
            let Some(m) = may_sleep(&e.value) else {
                continue;
            };
            if chooses_context(&e.value) || (!e.keeps_section && e.chain.len() > 1) {
                continue;
            }
            let secs = boot_filtered(f, g.atomic_sections(fid, e.call, e.drops_xa_lock));
            let Some(&s) = secs.last() else { continue };
            if !seen_direct.insert((fid, e.call, s)) {
                continue;
            }
            out.extend(section_finding(cx, fid, s, &[], e, m));
        }
        // Calls in a section to functions that reach a sleep.
        for (ci, c) in f.calls.iter().enumerate() {
            if c.sections.is_empty()
                || told_atomic(&Step {
                    func: fid,
                    call: ci as u32,
                })
            {
                continue;
            }
            // The first target that reaches an allocation stands for the
            // call (same-named definitions are alternatives); each site it
            // reaches is tried, so that one a branch rules out leaves the
            // others.
            let target = g.callees.of(fid, ci as u32).iter().find_map(|&t| {
                let bound = cond[t as usize]
                    .iter()
                    .filter(|(a, _)| assumes_hold(a, &c.args, f))
                    .map(|(_, r)| r);
                let all: Vec<&Reach> = best[t as usize].iter().chain(bound).collect();
                (!all.is_empty()).then_some(all)
            });
            for (_, path, ei, owner) in target.unwrap_or_default() {
                let e = &g.events[*owner as usize][*ei];
                if e.chain.first().map(|s| s.func) == Some(fid) {
                    continue;
                }
                let secs = boot_filtered(f, g.atomic_sections(fid, ci as u32, e.drops_xa_lock));
                let Some(&s) = secs.last() else { continue };
                // A site is reported once, by its shortest chain that the
                // checks leave standing.
                let site = (fid, ci as u32, s, *owner, *ei);
                if seen.contains(&site) {
                    continue;
                }
                let mut prefix = vec![Step {
                    func: fid,
                    call: ci as u32,
                }];
                prefix.extend(paths.steps(*path));
                let m = may_sleep(&e.value).unwrap_or(Gfp::KERNEL);
                if let Some(found) = section_finding(cx, fid, s, &prefix, e, m) {
                    seen.insert(site);
                    out.push(found);
                }
            }
        }
    }
}

/// Atomic entry points: the whole function is the section.
fn entry_point_findings(cx: &Ctx<'_>, best: &[Vec<Reach>], paths: &Paths, out: &mut Vec<Finding>) {
    let g = cx.g;
    let mut entries: Vec<(String, &crate::facts::EntryPoint, usize)> = Vec::new();
    for (fi, file) in g.files.iter().enumerate() {
        for ep in &file.entry_points {
            entries.push((ep.function.clone(), ep, fi));
        }
    }
    let mut done = HashSet::new();
    for (name, ep, fi) in entries {
        // The registered function: a static of the registering file, or a
        // global of that name.
        let target = g.files[fi]
            .functions
            .iter()
            .position(|f| f.name == name && f.is_static)
            .and_then(|i| g.fn_of(fi, i))
            .or_else(|| g.by_name.get(&name).and_then(|v| v.first().copied()));
        let Some(t) = target else { continue };
        if !done.insert(t) {
            continue;
        }
        for (_, path, ei, owner) in &best[t as usize] {
            let e = &g.events[*owner as usize][*ei];
            let path = paths.steps(*path);
            let steps: Vec<Step> = path.iter().chain(e.chain.iter()).copied().collect();
            if case_excluded(g, &steps)
                || param_compared_away(g, &steps)
                || conds_conflict(g, &steps)
                || cx.windows.shut_on(g, &steps)
            {
                continue;
            }
            let m = may_sleep(&e.value).unwrap_or(Gfp::KERNEL);
            let chain = cx.chain(&path, e);
            let alloc = cx.alloc_ref(e, m);
            let message = format!(
                "{} `{}` (registered by {} in {}:{}) runs in atomic context; `{}` at {}:{} uses {}, which may sleep in direct reclaim",
                ep.kind, name, ep.call, g.files[fi].path, ep.line, alloc.call, alloc.file, alloc.line, alloc.effective
            );
            out.push(Finding {
                rule: id::SLEEP_IN_ATOMIC,
                severity: Severity::Error,
                message,
                alloc: Some(alloc),
                context: ContextRef {
                    kind: ep.kind.to_string(),
                    function: name.clone(),
                    file: g.file_of(t).to_string(),
                    line: g.func(t).line,
                    call: ep.call.clone(),
                },
                chain,
            });
        }
    }
}

/// Functions the kernel runs in atomic context widely: at least `min`
/// distinct functions call each of them inside an atomic section, or are
/// themselves such functions (0: none). A least fixed point, growing from
/// the direct callers: `kfree_skb()` is called under locks everywhere, so
/// what it calls in turn is run in atomic context by every one of its
/// callers too.
pub fn trusted_in_atomic(g: &Graph, min: usize) -> Vec<bool> {
    let n = g.fns.len();
    let mut out = vec![false; n];
    if min == 0 {
        return out;
    }
    // Whether enough distinct callers run `id` in atomic context, given
    // the functions trusted so far.
    let enough = |out: &[bool], id: usize| {
        let callers = &g.callers[id];
        if callers.len() < min {
            return false;
        }
        let mut distinct: Vec<FnId> = callers
            .iter()
            .filter(|s| {
                out[s.func as usize] || !g.func(s.func).calls[s.call as usize].sections.is_empty()
            })
            .map(|s| s.func)
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len() >= min
    };
    // A worklist: a function newly trusted may tip its callees over.
    let mut work: Vec<usize> = Vec::new();
    for id in 0..n {
        if enough(&out, id) {
            out[id] = true;
            work.push(id);
        }
    }
    while let Some(id) = work.pop() {
        for ci in 0..g.func(id as FnId).calls.len() as u32 {
            for &t in g.callees.of(id as FnId, ci) {
                let t = t as usize;
                if !out[t] && enough(&out, t) {
                    out[t] = true;
                    work.push(t);
                }
            }
        }
    }
    out
}

/// Interrupts disabled in `__init` code are boot code: until the scheduler
/// runs, the page allocator's `gfp_allowed_mask` takes direct reclaim out of
/// every mask, so nothing sleeps there.
fn boot_filtered(f: &crate::facts::Function, secs: Vec<u16>) -> Vec<u16> {
    if !f.is_init {
        return secs;
    }
    secs.into_iter()
        .filter(|&s| f.sections[s as usize].class != crate::vocab::LockClass::Irq)
        .collect()
}

/// Whether a function on the chain below the section's holder released a
/// lock of the section's class that it did not take, on some path to its
/// next call: the `unlock; allocate; lock` idiom, under a condition the
/// holder shares.
fn dropped_on_the_way(g: &Graph, class: crate::vocab::LockClass, steps: &[Step]) -> bool {
    let bit = crate::flow::class_bit(class);
    steps
        .iter()
        .skip(1)
        .any(|s| g.func(s.func).calls[s.call as usize].dropped & bit != 0)
}

/// Whether some hop of the chain is made under `case` labels that the hops
/// above it rule out: a parameter switched on that a caller passes another
/// named constant for (`__vma_reservation_common(..., VMA_NEEDS_RESV)` does
/// not reach the `case VMA_ADD_RESV:` call), a format string walked
/// character by character that a caller passes as a literal without the
/// case's character (`p9pdu_readf(pdu, 0, "dbw", ...)` never reaches `case
/// 's':`), or a member switched on that a caller has compared with other
/// constants (`if (m->cmd == A || m->cmd == B) dispatch(m);`).
fn case_excluded(g: &Graph, steps: &[Step]) -> bool {
    (1..steps.len()).any(|j| {
        let Some(cl) = &g.func(steps[j].func).calls[steps[j].call as usize].case_labels else {
            return false;
        };
        let labels = &cl.labels;
        match &cl.on {
            SwitchOn::Param(p) => passed_arg(g, &steps[..j], *p as usize).is_some_and(|a| {
                !labels.is_empty() && labels.iter().all(|l| distinct(g, &a, l) == Some(true))
            }),
            SwitchOn::ParamChar(p) => {
                let Some(lit) = passed_arg(g, &steps[..j], *p as usize)
                    .and_then(|a| string_literal(&a).map(str::to_string))
                else {
                    return false;
                };
                labels
                    .iter()
                    .all(|l| char_literal(l).is_some_and(|c| !lit.contains(c)))
            }
            SwitchOn::Member(m) => steps[..j].iter().any(|s| {
                let f = g.func(s.func);
                f.calls[s.call as usize].conds.iter().any(|&(k, t)| {
                    f.cond_keys
                        .get(k as usize)
                        .is_some_and(|k| member_excludes((k, t), m, labels))
                })
            }),
        }
    })
}

/// Whether some hop is made only where one of its function's parameters
/// equals (or differs from) a named constant, and the hops above pass that
/// parameter another (or the same) named constant: `if (new_state ==
/// NVME_CTRL_LIVE) nvme_kick_requeue_lists(ctrl);` is not reached from
/// `nvme_change_ctrl_state(ctrl, NVME_CTRL_DELETING)`.
fn param_compared_away(g: &Graph, steps: &[Step]) -> bool {
    (1..steps.len()).any(|j| {
        let f = g.func(steps[j].func);
        f.calls[steps[j].call as usize].conds.iter().any(|&(k, t)| {
            let Some((lhs, constant, equal)) = f
                .cond_keys
                .get(k as usize)
                .and_then(|k| equality((k, t)).or_else(|| number_equality((k, t))))
            else {
                return false;
            };
            let Some(p) = f.params.iter().position(|q| q.name == lhs) else {
                return false;
            };
            passed_arg(g, &steps[..j], p)
                .and_then(|a| distinct(g, &a, constant))
                .is_some_and(|differ| differ == equal)
        })
    })
}

/// The argument that reaches parameter `p` of the function the last hop of
/// `above` calls: the last hop's argument, followed up the chain while it is
/// a parameter passed on unchanged (`p9pdu_readf()` hands its `fmt` to
/// `p9pdu_vreadf()`). Whitespace is removed.
fn passed_arg(g: &Graph, above: &[Step], mut p: usize) -> Option<String> {
    for s in above.iter().rev() {
        let f = g.func(s.func);
        let a: String = f.calls[s.call as usize]
            .args
            .get(p)?
            .split_whitespace()
            .collect();
        match f.params.iter().position(|q| q.name == a && !a.is_empty()) {
            Some(q) => p = q,
            None => return Some(a),
        }
    }
    None
}

/// Whether an argument and a constant it is compared with (or a case
/// label) differ: by value where the tree gives both one (so `0` is not
/// `RTM_DELADDR`, and two names of one value are the same), else by name
/// when both are named constants; `None` when that cannot be told.
fn distinct(g: &Graph, a: &str, b: &str) -> Option<bool> {
    let (a, b) = (a.trim(), b.trim());
    match (g.value_of(a), g.value_of(b)) {
        (Some(x), Some(y)) => Some(x != y),
        _ if crate::lexical::is_constant_name(a) && crate::lexical::is_constant_name(b) => {
            Some(a != b)
        }
        _ => None,
    }
}

/// The text of a plain string literal (`"dbw"`), without escapes.
fn string_literal(a: &str) -> Option<&str> {
    let inner = a.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains(['"', '\\'])).then_some(inner)
}

/// The character of a plain character literal (`'s'`).
fn char_literal(l: &str) -> Option<char> {
    let inner = l.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    let mut cs = inner.chars();
    let c = cs.next()?;
    (cs.next().is_none() && c != '\\').then_some(c)
}

/// Whether a branch fact rules out every one of `labels` for member `m`:
/// `m == A` (or `m == A || m == B`) holding, with no label among the
/// constants; or `m != A` (or `!(m == A || m == B)`) holding, with every
/// label among them.
fn member_excludes((k, t): (&str, bool), m: &str, labels: &[String]) -> bool {
    if labels.is_empty()
        || !labels
            .iter()
            .all(|l| crate::lexical::is_constant_name(l.trim()))
    {
        return false;
    }
    let (consts, equal): (Vec<&str>, bool) = if let Some(parts) = disjuncts(k) {
        let mut v = Vec::new();
        for part in parts {
            match equality((part, true)) {
                Some((path, c, true)) if same_member(path, m) => v.push(c),
                _ => return false,
            }
        }
        (v, t)
    } else {
        match equality((k, t)) {
            Some((path, c, eq)) if same_member(path, m) => (vec![c], eq),
            _ => return false,
        }
    };
    if equal {
        !labels.iter().any(|l| consts.contains(&l.trim()))
    } else {
        labels.iter().all(|l| consts.contains(&l.trim()))
    }
}

/// The parts of a condition joined by a top-level `||`, when there are two
/// or more and no parentheses (condition keys carry no whitespace).
fn disjuncts(k: &str) -> Option<Vec<&str>> {
    if k.contains(['(', ')', '&']) || !k.contains("||") {
        return None;
    }
    Some(k.split("||").collect())
}

/// Whether two hops of the chain are made under opposite truths of what is
/// the same condition: the same member path (`chip->can_sleep` in the
/// holder, `fwd->chip.can_sleep` below it, matched by their last two
/// components), or a callee's parameter the caller passes the condition as.
fn conds_conflict(g: &Graph, steps: &[Step]) -> bool {
    let facts = |s: &Step| {
        let f = g.func(s.func);
        f.calls[s.call as usize]
            .conds
            .iter()
            .filter_map(|&(k, t)| f.cond_keys.get(k as usize).map(|k| (k.as_str(), t)))
            .collect::<Vec<_>>()
    };
    for (i, a) in steps.iter().enumerate() {
        let fa = facts(a);
        if fa.is_empty() {
            continue;
        }
        for (j, b) in steps.iter().enumerate().skip(i + 1) {
            for (kb, tb) in facts(b) {
                // The condition as the caller's argument, one hop down.
                let passed = (j == i + 1)
                    .then(|| {
                        let callee = g.func(b.func);
                        let p = callee.params.iter().position(|p| p.name == kb)?;
                        let args = &g.func(a.func).calls[a.call as usize].args;
                        args.get(p)
                            .map(|s| s.split_whitespace().collect::<String>())
                    })
                    .flatten();
                if fa.iter().any(|&(ka, ta)| {
                    (ta != tb && (same_member(ka, kb) || passed.as_deref() == Some(ka)))
                        || equalities_conflict((ka, ta), (kb, tb))
                }) {
                    return true;
                }
            }
        }
    }
    false
}

/// A condition that compares a member path with a named constant, as
/// (path, constant, whether it holds as equal) given the condition's truth:
/// `sk->sk_state==TCP_FIN_WAIT2` true, or `sk->sk_state!=TCP_SYN_RECV` false.
fn equality((k, t): (&str, bool)) -> Option<(&str, &str, bool)> {
    let (lhs, rhs, eq) = match (k.split_once("=="), k.split_once("!=")) {
        (Some((l, r)), None) => (l, r, t),
        (None, Some((l, r))) => (l, r, !t),
        _ => return None,
    };
    let constant = !rhs.is_empty()
        && rhs.starts_with(|c: char| c.is_ascii_uppercase())
        && rhs
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    constant.then_some((lhs, rhs, eq))
}

/// A condition that compares with an integer literal, as [`equality`]
/// reads one with a named constant: `irq == -1` is (`irq`, `-1`, true).
/// Kept apart from [`equality`], whose member comparisons stay with names.
fn number_equality((k, t): (&str, bool)) -> Option<(&str, &str, bool)> {
    let (lhs, rhs, eq) = match (k.split_once("=="), k.split_once("!=")) {
        (Some((l, r)), None) => (l, r, t),
        (None, Some((l, r))) => (l, r, !t),
        _ => return None,
    };
    let digits = rhs.strip_prefix('-').unwrap_or(rhs);
    crate::preproc::integer(digits).map(|_| (lhs, rhs, eq))
}

/// Whether two comparisons of the same member with named constants cannot
/// both hold: equal to two different constants, or equal and not equal to
/// one (a state machine's state tested in the holder and below it).
fn equalities_conflict(a: (&str, bool), b: (&str, bool)) -> bool {
    let (Some((pa, ca, ea)), Some((pb, cb, eb))) = (equality(a), equality(b)) else {
        return false;
    };
    same_member(pa, pb) && ((ea && eb && ca != cb) || (ca == cb && ea != eb))
}

/// Whether two condition texts read the same member: plain member paths
/// whose last two components agree.
fn same_member(a: &str, b: &str) -> bool {
    let parts = |s: &str| -> Option<Vec<String>> {
        if !s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'>' | b'.'))
        {
            return None;
        }
        let v: Vec<String> = s
            .replace("->", ".")
            .split('.')
            .map(str::to_string)
            .collect();
        (v.len() >= 2 && v.iter().all(|p| !p.is_empty())).then_some(v)
    };
    match (parts(a), parts(b)) {
        (Some(x), Some(y)) => x[x.len() - 2..] == y[y.len() - 2..],
        _ => false,
    }
}

fn section_finding(
    cx: &Ctx<'_>,
    fid: FnId,
    s: u16,
    prefix: &[Step],
    e: &AllocEvent,
    m: Gfp,
) -> Option<Finding> {
    let g = cx.g;
    let f = g.func(fid);
    let sec = &f.sections[s as usize];
    let steps: Vec<Step> = prefix.iter().chain(e.chain.iter()).copied().collect();
    if dropped_on_the_way(g, sec.class, &steps)
        || case_excluded(g, &steps)
        || param_compared_away(g, &steps)
        || conds_conflict(g, &steps)
        || cx.windows.shut_on(g, &steps)
    {
        return None;
    }
    let alloc = cx.alloc_ref(e, m);
    let chain = cx.chain(prefix, e);
    let how = if chain.len() > 1 {
        format!(
            " through {} call{}",
            chain.len() - 1,
            if chain.len() == 2 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    let lock = if sec.lock.is_empty() {
        String::new()
    } else {
        format!("({}) ", sec.lock)
    };
    Some(Finding {
        rule: id::SLEEP_IN_ATOMIC,
        severity: Severity::Error,
        message: format!(
            "`{}` with {} may sleep in direct reclaim, reached{} inside {} {}taken at line {} of `{}` ({})",
            alloc.call,
            alloc.effective,
            how,
            sec.op,
            lock,
            sec.line,
            f.name,
            sec.class.describe()
        ),
        alloc: Some(alloc),
        context: ContextRef {
            kind: sec.class.describe().to_string(),
            function: f.name.clone(),
            file: g.file_of(fid).to_string(),
            line: sec.line,
            call: sec.op.clone(),
        },
        chain,
    })
}

/// `nofail-no-reclaim`: the allocator cannot keep a NOFAIL promise without
/// direct reclaim; checked on every allocation event (helpers bound to
/// their callers' masks included) and under the caller's scopes.
pub fn nofail_no_reclaim(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let g = cx.g;
    let mut seen = HashSet::new();
    for id in 0..g.fns.len() {
        let fid = id as FnId;
        let f = g.func(fid);
        for e in &g.events[id] {
            let Some(m) = e
                .value
                .constants()
                .find(|m| m.contains(Gfp::NOFAIL) && !m.contains(Gfp::DIRECT_RECLAIM))
            else {
                continue;
            };
            let last = *e.chain.last().expect("chain");
            if !seen.insert((fid, e.call, last)) {
                continue;
            }
            let alloc = cx.alloc_ref(e, m);
            let scoped = cx.scope_clearing(
                f,
                &f.calls[e.call as usize].scopes_must,
                Gfp::DIRECT_RECLAIM,
            );
            let why = match scoped {
                Some(s) => format!(
                    " (the {} scope opened at line {} clears direct reclaim)",
                    s.op, s.line
                ),
                None => String::new(),
            };
            out.push(Finding {
                rule: id::NOFAIL_NO_RECLAIM,
                severity: Severity::Error,
                message: format!(
                    "`{}` asks for __GFP_NOFAIL with {}, which lacks __GFP_DIRECT_RECLAIM{}: the allocator cannot reclaim to keep the promise and either loops without progress or fails",
                    alloc.call, alloc.effective, why
                ),
                alloc: Some(alloc),
                context: ContextRef {
                    kind: "function".into(),
                    function: f.name.clone(),
                    file: g.file_of(fid).to_string(),
                    line: f.line,
                    call: f.calls[e.call as usize].callee.clone(),
                },
                chain: cx.chain(&[], e),
            });
        }
    }
}

/// Whether the call's mask argument is written as NOFS (`GFP_NOFS`, or
/// `__GFP_FS` cleared by hand) or NOIO.
fn explicit_kind(arg: &str) -> Option<&'static str> {
    let words: Vec<&str> = arg
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    if words.contains(&"GFP_NOIO") {
        return Some("noio");
    }
    if words.contains(&"GFP_NOFS") {
        return Some("nofs");
    }
    let compact: String = arg.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("~__GFP_IO") || compact.contains("~(__GFP_IO|__GFP_FS)") {
        return Some("noio");
    }
    if compact.contains("~__GFP_FS") {
        return Some("nofs");
    }
    None
}

/// Functions called only inside a scope that clears `bit`: every call site
/// is in such a scope on every path, or in a function that is itself only
/// called so, and the function's address is never taken.
///
/// The least fixed point, by a worklist: each function counts its calls
/// made outside such a scope by callers not yet known to be in one, and
/// is in once that count is zero. A cycle of functions calling each other
/// with no scoped entry never reaches zero and stays out.
fn always_scoped(cx: &Ctx<'_>, bit: Gfp) -> Vec<bool> {
    let g = cx.g;
    let n = g.fns.len();
    let covered_call = |s: Step| {
        let f = g.func(s.func);
        cx.scope_clearing(f, &f.calls[s.call as usize].scopes_must, bit)
            .is_some()
    };
    let eligible = |id: usize| {
        !g.callers[id].is_empty() && !g.address_taken.contains(&g.func(id as FnId).name)
    };
    // Calls not covered where they are made, per callee; a caller's call
    // counts once per target it resolves to, as `callers` lists it.
    let mut pending: Vec<u32> = g
        .callers
        .iter()
        .map(|cs| cs.iter().filter(|&&s| !covered_call(s)).count() as u32)
        .collect();
    let mut ok = vec![false; n];
    let mut work: Vec<usize> = (0..n)
        .filter(|&id| pending[id] == 0 && eligible(id))
        .collect();
    for &id in &work {
        ok[id] = true;
    }
    while let Some(id) = work.pop() {
        let f = g.func(id as FnId);
        for ci in 0..f.calls.len() as u32 {
            let step = Step {
                func: id as FnId,
                call: ci,
            };
            if covered_call(step) {
                continue;
            }
            for &t in g.callees.of(id as FnId, ci) {
                let t = t as usize;
                pending[t] -= 1;
                if pending[t] == 0 && !ok[t] && eligible(t) {
                    ok[t] = true;
                    work.push(t);
                }
            }
        }
    }
    ok
}

/// A function's explicit NOFS/NOIO allocations outside any scope: (call,
/// `nofs` or `noio`).
type Sites = Vec<(u32, &'static str)>;

/// `redundant-gfp-nofs`/`-noio`, and with `conversion` the opt-in
/// `*-conversion-candidate` rules.
pub fn explicit_nofs_noio(cx: &Ctx<'_>, conversion: bool, out: &mut Vec<Finding>) {
    let allocators = cx.allocators;
    let g = cx.g;
    let (in_nofs, in_noio) =
        rayon::join(|| always_scoped(cx, Gfp::FS), || always_scoped(cx, Gfp::IO));
    // Each function's calls alone, in parallel; the findings in order.
    let per_fn = |id: usize| -> (Vec<Finding>, Sites) {
        let mut out = Vec::new();
        let mut mine = Vec::new();
        let fid = id as FnId;
        let f = g.func(fid);
        for (ci, c) in f.calls.iter().enumerate() {
            let Some(a) = allocators.get(&c.callee) else {
                continue;
            };
            let Some(arg) = a.gfp.index(c.args.len()).map(|i| c.args[i].as_str()) else {
                continue;
            };
            let Some(kind) = explicit_kind(arg) else {
                continue;
            };
            let need = if kind == "noio" { Gfp::IO } else { Gfp::FS };
            let scope = cx.scope_clearing(f, &c.scopes_must, need);
            let via_callers = if kind == "noio" {
                in_noio[id]
            } else {
                in_nofs[id]
            };
            let (rule, written) = if kind == "noio" {
                (id::REDUNDANT_NOIO, "GFP_NOIO")
            } else {
                (id::REDUNDANT_NOFS, "GFP_NOFS")
            };
            let step = Step {
                func: fid,
                call: ci as u32,
            };
            let alloc = AllocRef {
                file: g.file_of(fid).to_string(),
                line: c.line,
                call: c.callee.clone(),
                gfp: arg.to_string(),
                effective: String::new(),
            };
            if let Some(s) = scope {
                out.push(Finding {
                    rule,
                    severity: Severity::Note,
                    message: if s.helper {
                        format!(
                            "`{}` passes {written} inside the scope `{}()` opens for its caller at line {}, on every path: the scope already removes what {written} removes, so GFP_KERNEL is enough here",
                            c.callee, s.op, s.line
                        )
                    } else {
                        format!(
                            "`{}` passes {written} inside the {} scope opened at line {} on every path: the scope already removes what {written} removes, so GFP_KERNEL is enough here",
                            c.callee, s.op, s.line
                        )
                    },
                    alloc: Some(alloc),
                    context: scope_context(g, fid, s),
                    chain: vec![cx.hop(step)],
                });
            } else if via_callers {
                let example = g.callers[id][0];
                out.push(Finding {
                    rule,
                    severity: Severity::Note,
                    message: format!(
                        "`{}` passes {written}, but {} `{}` is made inside a scope that already removes it ({}:{}{})",
                        c.callee,
                        match g.callers[id].len() {
                            1 => "the only call to".to_string(),
                            n => format!("every one of the {n} calls to"),
                        },
                        f.name,
                        g.file_of(example.func),
                        g.func(example.func).calls[example.call as usize].line,
                        if g.callers[id].len() == 1 { "" } else { " is one" }
                    ),
                    alloc: Some(alloc),
                    context: ContextRef {
                        kind: "callers".into(),
                        function: g.func(example.func).name.clone(),
                        file: g.file_of(example.func).to_string(),
                        line: g.func(example.func).calls[example.call as usize].line,
                        call: f.name.clone(),
                    },
                    chain: vec![cx.hop(example), cx.hop(step)],
                });
            } else if conversion && c.scopes_may.is_empty() {
                mine.push((ci as u32, kind));
            }
        }
        (out, mine)
    };
    let found: Vec<(usize, (Vec<Finding>, Sites))> = {
        use rayon::prelude::*;
        (0..g.fns.len())
            .into_par_iter()
            .map(|id| (id, per_fn(id)))
            .filter(|(_, (f, c))| !f.is_empty() || !c.is_empty())
            .collect()
    };
    let mut candidates: HashMap<FnId, Sites> = HashMap::new();
    for (id, (found, mine)) in found {
        out.extend(found);
        if !mine.is_empty() {
            candidates.insert(id as FnId, mine);
        }
    }
    let mut fids: Vec<_> = candidates.into_iter().collect();
    fids.sort_by_key(|(f, _)| *f);
    for (fid, sites) in fids {
        let f = g.func(fid);
        for kind in ["nofs", "noio"] {
            let here: Vec<u32> = sites
                .iter()
                .filter(|(_, k)| *k == kind)
                .map(|(c, _)| *c)
                .collect();
            let Some(&first) = here.first() else { continue };
            let c = &f.calls[first as usize];
            let (rule, scope) = if kind == "noio" {
                (id::NOIO_CANDIDATE, "memalloc_noio_save()")
            } else {
                (id::NOFS_CANDIDATE, "memalloc_nofs_save()")
            };
            let lines: Vec<String> = here
                .iter()
                .map(|&ci| f.calls[ci as usize].line.to_string())
                .collect();
            out.push(Finding {
                rule,
                severity: Severity::Note,
                message: format!(
                    "`{}` makes {} explicit GFP_{} allocation{} outside any scope (lines {}): a {} scope around the region that must not recurse would cover them and everything it calls",
                    f.name,
                    here.len(),
                    kind.to_uppercase(),
                    if here.len() == 1 { "" } else { "s" },
                    lines.join(", "),
                    scope
                ),
                alloc: Some(AllocRef {
                    file: g.file_of(fid).to_string(),
                    line: c.line,
                    call: c.callee.clone(),
                    gfp: crate::report::gfp_arg_text(cx.allocators, c),
                    effective: String::new(),
                }),
                context: ContextRef {
                    kind: "function".into(),
                    function: f.name.clone(),
                    file: g.file_of(fid).to_string(),
                    line: f.line,
                    call: String::new(),
                },
                chain: vec![cx.hop(Step { func: fid, call: first })],
            });
        }
    }
}

/// `unpaired-scope`: saves some path does not restore; saves whose state
/// leaves the function are reported with the restore found elsewhere.
pub fn unpaired_scope(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let g = cx.g;
    // Restores of saved state by field name, across the tree.
    let mut restores: HashMap<String, Vec<(FnId, u32)>> = HashMap::new();
    for id in 0..g.fns.len() {
        for r in &g.func(id as FnId).foreign_restores {
            let key = last_field(&r.saved);
            restores.entry(key).or_default().push((id as FnId, r.line));
        }
    }
    for id in 0..g.fns.len() {
        let fid = id as FnId;
        let f = g.func(fid);
        // The save functions themselves raise the flags and return: that is
        // their job, not a missing restore.
        if f.name.starts_with("memalloc_") {
            continue;
        }
        for u in &f.unpaired {
            let s = &f.scopes[u.scope as usize];
            out.push(scope_finding(
                g,
                fid,
                s,
                Severity::Warning,
                format!(
                    "{} at line {} raises {} and the path leaving `{}` at line {} does not restore it: every allocation after the return runs in the scope",
                    s.op,
                    s.line,
                    s.flags.join("|"),
                    f.name,
                    u.exit_line
                ),
            ));
        }
        for s in f
            .scopes
            .iter()
            .filter(|s| s.escapes && s.op.starts_with("memalloc_"))
        {
            let key = s.saved_in().map(last_field).unwrap_or_default();
            // The restore of the same field in the same file, or at least the
            // same directory: field names repeat across unrelated structures.
            let dir = |p: &str| {
                p.rsplit_once('/')
                    .map_or(String::new(), |(d, _)| d.to_string())
            };
            let here = g.file_of(fid);
            let found = restores.get(&key).and_then(|v| {
                let others = || v.iter().filter(|(r, _)| *r != fid);
                others()
                    .find(|(r, _)| g.file_of(*r) == here)
                    .or_else(|| others().find(|(r, _)| dir(g.file_of(*r)) == dir(here)))
            });
            let (severity, msg) = match (found, s.saved_in()) {
                _ if s.discarded => (
                    Severity::Note,
                    format!(
                        "{} at line {} throws the saved state away: the scope is never restored and lasts for the rest of the task that runs `{}` (a kernel thread marking itself)",
                        s.op, s.line, f.name
                    ),
                ),
                (Some(&(r, line)), Some(var)) => (
                    Severity::Note,
                    format!(
                        "{} at line {} saves into `{var}`, which leaves `{}`; the matching restore is in `{}` at {}:{}, so the scope spans both functions",
                        s.op,
                        s.line,
                        f.name,
                        g.func(r).name,
                        g.file_of(r),
                        line
                    ),
                ),
                (_, Some(var)) => (
                    Severity::Warning,
                    format!(
                        "{} at line {} saves into `{var}`, which leaves `{}`, and no restore of it was found in the tree",
                        s.op, s.line, f.name
                    ),
                ),
                (_, None) => (
                    Severity::Note,
                    format!(
                        "{} at line {} hands the saved state to `{}`'s caller: the scope spans the caller until it restores it",
                        s.op, s.line, f.name
                    ),
                ),
            };
            out.push(scope_finding(g, fid, s, severity, msg));
        }
    }
}

/// An `unpaired-scope` finding about scope `s` of function `fid`.
fn scope_finding(
    g: &Graph,
    fid: FnId,
    s: &crate::facts::Scope,
    severity: Severity,
    message: String,
) -> Finding {
    Finding {
        rule: id::UNPAIRED_SCOPE,
        severity,
        message,
        alloc: None,
        context: scope_context(g, fid, s),
        chain: Vec::new(),
    }
}

/// The context of a finding about scope `s` of function `fid`.
fn scope_context(g: &Graph, fid: FnId, s: &crate::facts::Scope) -> ContextRef {
    ContextRef {
        kind: "scope".into(),
        function: g.func(fid).name.clone(),
        file: g.file_of(fid).to_string(),
        line: s.line,
        call: s.op.clone(),
    }
}

fn last_field(expr: &str) -> String {
    let e = expr.trim_start_matches('&');
    e.rsplit(['.', '>']).next().unwrap_or(e).trim().to_string()
}

/// The proposals: every allocation reachable from the functions named
/// `around`, before and after the proposed scope. Returns how many
/// functions `around` matched.
pub fn proposal(cx: &Ctx<'_>, around: &str, p: &Proposal, out: &mut Vec<Finding>) -> usize {
    let g = cx.g;
    let roots: Vec<FnId> = (0..g.fns.len() as FnId)
        .filter(|&i| g.func(i).name == around)
        .collect();
    let cells: Vec<&'static policy::Cell> = p
        .set
        .flags()
        .map(|f| policy::cell(f, Direction::Set))
        .chain(p.clear.flags().map(|f| policy::cell(f, Direction::Clear)))
        .collect();
    let mut paths: HashMap<FnId, Vec<Step>> = HashMap::new();
    let mut queue = VecDeque::new();
    for &r in &roots {
        paths.insert(r, Vec::new());
        queue.push_back(r);
    }
    let mut seen_alloc = HashSet::new();
    while let Some(fid) = queue.pop_front() {
        let path = paths[&fid].clone();
        let f = g.func(fid);
        let root = path.first().map_or(fid, |s| s.func);
        for e in &g.events[fid as usize] {
            let last = *e.chain.last().expect("chain");
            if cx.max_chain > 0 && path.len() + e.chain.len() > cx.max_chain {
                continue;
            }
            for before in e.value.constants() {
                let after = (before - p.clear) | p.set;
                if after == before || !seen_alloc.insert((last, before.bits())) {
                    continue;
                }
                let broken: Vec<&policy::Cell> = cells
                    .iter()
                    .copied()
                    .filter(|c| {
                        c.verdict == Verdict::Unsafe
                            && c.breaks_when.is_some_and(|w| w.matches(before))
                    })
                    .collect();
                let refused: Vec<&policy::Cell> =
                    cells.iter().copied().filter(|c| !c.allowed()).collect();
                let alloc = cx.alloc_ref(e, after);
                let chain = cx.chain(&path, e);
                let before_s = (cx.render)(before);
                let why = match (broken.first(), refused.first()) {
                    (Some(c), _) => format!(": {}", c.reason),
                    (None, Some(c)) => format!(
                        " (this nested mask survives it, but the scope itself is refused: {})",
                        c.reason
                    ),
                    (None, None) => String::new(),
                };
                let breaks = !broken.is_empty();
                out.push(Finding {
                    rule: if breaks {
                        id::SCOPE_BREAKS
                    } else {
                        id::SCOPE_CHANGES
                    },
                    severity: if breaks {
                        Severity::Error
                    } else {
                        Severity::Note
                    },
                    message: format!(
                        "a `{}` scope around `{}` turns `{}`'s {} into {}{}",
                        p.label, around, alloc.call, before_s, alloc.effective, why
                    ),
                    alloc: Some(AllocRef {
                        gfp: crate::report::gfp_arg_text(
                            cx.allocators,
                            &g.func(last.func).calls[last.call as usize],
                        ),
                        ..alloc
                    }),
                    context: ContextRef {
                        kind: "proposal".into(),
                        function: around.to_string(),
                        file: g.file_of(root).to_string(),
                        line: g.func(root).line,
                        call: p.label.clone(),
                    },
                    chain,
                });
            }
        }
        if path.len() >= 256 {
            continue;
        }
        for ci in 0..f.calls.len() {
            for &t in g.callees.of(fid, ci as u32) {
                if let std::collections::hash_map::Entry::Vacant(v) = paths.entry(t) {
                    let mut np = path.clone();
                    np.push(Step {
                        func: fid,
                        call: ci as u32,
                    });
                    v.insert(np);
                    queue.push_back(t);
                }
            }
        }
    }
    roots.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `sleep-in-atomic` finding of `context` whose chain runs through
    /// the functions `through` (all in one file).
    fn finding(context: &str, through: &[&str]) -> Finding {
        let hop = |f: &str| Hop {
            function: f.to_string(),
            file: "a.c".into(),
            line: 1,
            call: "next".into(),
            via: None,
            when: Vec::new(),
        };
        Finding {
            rule: id::SLEEP_IN_ATOMIC,
            severity: Severity::Error,
            alloc: None,
            context: ContextRef {
                kind: "spinlock".into(),
                function: context.into(),
                file: "a.c".into(),
                line: 7,
                call: "spin_lock".into(),
            },
            chain: std::iter::once(context)
                .chain(through.iter().copied())
                .map(hop)
                .collect(),
            message: context.to_string(),
        }
    }

    #[test]
    fn chains_through_an_entry_point_fold_into_its_finding() {
        let found = vec![
            (finding("irq_a", &["setup"]), true),
            (finding("locked_b", &["helper", "setup"]), false),
            (finding("setup", &[]), true),
            (finding("other", &["helper"]), false),
        ];
        let out = fold_into_entry_points(found, 6);
        let names: Vec<&str> = out.iter().map(|f| f.context.function.as_str()).collect();
        assert_eq!(names, ["setup", "other"]);
        assert_eq!(
            out[0].message,
            "setup; 2 other atomic contexts reach it through calls: `irq_a` (a.c:7), `locked_b` (a.c:7)"
        );
        // Two entry points reaching each other fold nothing.
        let found = vec![(finding("a", &["b"]), true), (finding("b", &["a"]), true)];
        assert_eq!(fold_into_entry_points(found, 6).len(), 2);
        // A chain past the limit neither folds nor takes the others: the
        // limit drops it.
        let found = vec![
            (finding("irq_a", &["setup"]), true),
            (finding("setup", &["x", "y", "z"]), true),
        ];
        let out = fold_into_entry_points(found, 2);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|f| !f.message.contains("other atomic")));
        // With more contexts than it names, it counts the rest.
        let mut found: Vec<(Finding, bool)> = ["c1", "c2", "c3", "c4", "c5"]
            .iter()
            .map(|c| (finding(c, &["setup"]), false))
            .collect();
        found.push((finding("setup", &[]), true));
        let out = fold_into_entry_points(found, 0);
        assert_eq!(out.len(), 1);
        assert!(
            out[0].message.ends_with("`c3` (a.c:7) and 2 more"),
            "{}",
            out[0].message
        );
    }

    #[test]
    fn offers_keep_two_chains_per_site() {
        let mut paths = Paths::default();
        let s = |call| Step { func: 0, call };
        let (p1, p2, p3) = (
            paths.push(s(1), NIL),
            paths.push(s(2), NIL),
            paths.push(s(3), NIL),
        );
        let mut list = Vec::new();
        assert!(offer(&mut list, (3, p1, 0, 9), &paths));
        // The same chain again, as long or longer: nothing changes.
        let again = paths.push(s(1), NIL);
        assert!(!offer(&mut list, (3, again, 0, 9), &paths));
        assert!(offer(&mut list, (5, p2, 0, 9), &paths));
        // A third chain to the site replaces the longest only if shorter.
        assert!(!offer(&mut list, (6, p3, 0, 9), &paths));
        assert!(offer(&mut list, (4, p3, 0, 9), &paths));
        let lens: Vec<u32> = list.iter().map(|r| r.0).collect();
        assert_eq!(lens, [3, 4]);
        // Other sites fill the list up to its bound, shortest kept.
        for site in 1..20 {
            offer(&mut list, (site as u32 + 1, NIL, site, 9), &paths);
        }
        assert_eq!(list.len(), REACHES_PER_FUNCTION);
        assert!(list.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn constant_arguments_are_macros_numbers_and_sizes() {
        for yes in [
            "PAGE_SIZE",
            "2 * SZ_4K",
            "sizeof(struct page)",
            "sizeof(*p) * 4",
            "0x1000",
        ] {
            assert!(constant_expr(yes), "{yes}");
        }
        for no in [
            "size",
            "sizeof(*p) * count",
            "p->len",
            "sizeof",
            "sizeof(x",
            "",
        ] {
            assert!(!constant_expr(no), "{no}");
        }
    }
}
