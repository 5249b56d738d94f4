//! The flow-sensitive half of the per-function analysis: which atomic
//! sections and scopes are in force at each call, over every path through
//! branches, loops, early returns and `goto` error paths.
//!
//! A forward data-flow over the function's control-flow graph. Sections are
//! tracked as *may* be held (a call is in an atomic section if some path
//! reaches it holding the lock); scopes both as *may* and *must* (a GFP_NOFS
//! is redundant only if every path reaches it inside a NOFS scope). The
//! caller's own section is a token of its own: a function that releases a
//! lock it never took has dropped its caller's lock, and what it calls after
//! that is not in the caller's section.

use std::collections::HashMap;

use crate::extract::foreign_restore;
use crate::facts::{Function, Unpaired};
use crate::vocab::{self, LockClass};

/// One event of a basic block, in execution order.
#[derive(Clone, Debug)]
pub enum Ev {
    /// A direct call (index into [`Function::calls`]).
    Call(u32),
    /// A call through a pointer (index into [`Function::indirect_calls`]).
    Indirect(u32),
    /// A section opens (index into [`Function::sections`]).
    Acquire(u16),
    /// A section of this class, on this lock, closes.
    Release(LockClass, String),
    /// A call to a function declared `__releases(lock)` closes the section
    /// on that lock, whatever its class.
    ReleaseAny(String),
    /// The function's own sections of this class close (the interrupts a
    /// `local_irq_save()` disabled, restored by `spin_unlock_irqrestore()`);
    /// a caller's are not touched.
    ReleaseOwn(LockClass),
    /// The function's own section of this class on this lock was not taken
    /// on this path (`if (!pte)` after `pte_offset_map_lock()`).
    ReleaseHeld(LockClass, String),
    /// The path took this side of a branch on a condition (index into
    /// [`Cfg::conds`]): its truth.
    Cond(u16, bool),
    /// A scope opens (index into [`Function::scopes`]).
    Save(u16),
    /// The scope's opener failed on this path, so it opened nothing
    /// (`if (IS_ERR(handle))` after `handle = jbd2_journal_start(...)`);
    /// with `false`, it may have failed (`if (IS_ERR(handle) || ret)`):
    /// the scope is no longer held on every path, but may still be.
    Unopened(u16, bool),
    /// The path assumes a parameter's truth (a branch on it).
    Assume(u8, bool),
    /// The sections on this lock are let go for a while and taken again
    /// at [`Ev::Resume`]: `wait_event_lock_irq_cmd()` runs its command
    /// with the lock released.
    Suspend(String),
    /// The sections [`Ev::Suspend`] let go are held again.
    Resume,
    /// A scope closes: the one saved into `var`, or the one raising `flags`.
    Restore {
        /// The saved state's variable.
        var: Option<String>,
        /// The flags cleared (`current_restore_flags()`, `&= ~PF_...`).
        flags: Vec<String>,
        /// The 1-based line.
        line: u32,
        /// The restoring call or statement.
        op: String,
        /// A [scope helper](crate::scope_helpers) closes it (`jbd2_journal_stop(handle)`).
        helper: bool,
    },
}

impl Ev {
    /// A restore made by the function itself (no scope helper's).
    pub fn restore(var: Option<String>, flags: Vec<String>, line: u32, op: String) -> Ev {
        Ev::Restore {
            var,
            flags,
            line,
            op,
            helper: false,
        }
    }
}

/// A basic block.
#[derive(Clone, Debug, Default)]
pub struct Block {
    /// Its events.
    pub events: Vec<Ev>,
    /// Its successors.
    pub succ: Vec<u32>,
}

/// A function's control-flow graph. Block 0 is the entry, block 1 the exit.
#[derive(Clone, Debug, Default)]
pub struct Cfg {
    /// The blocks.
    pub blocks: Vec<Block>,
    /// For blocks that end in a `return` (or the closing brace), its line.
    pub exit_line: HashMap<u32, u32>,
    /// The branch conditions [`Ev::Cond`] refers to, normalised.
    pub conds: Vec<String>,
    /// For each condition, the bytes from its first test to the end of its
    /// last.
    pub spans: Vec<(usize, usize)>,
    /// For each condition, whether the function never assigns what it reads
    /// between its first and last test (so the tests agree).
    pub stable: Vec<bool>,
}

/// A small bit set over a function's sections or scopes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn set(&mut self, i: u16) {
        let w = i as usize / 64;
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: u16) {
        if let Some(w) = self.0.get_mut(i as usize / 64) {
            *w &= !(1 << (i % 64));
        }
    }
    fn union(&mut self, o: &Bits) {
        if self.0.len() < o.0.len() {
            self.0.resize(o.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a |= b;
        }
    }
    fn intersect(&mut self, o: &Bits) {
        for (i, a) in self.0.iter_mut().enumerate() {
            *a &= o.0.get(i).copied().unwrap_or(0);
        }
    }
    fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| (w * 64 + b) as u16)
        })
    }
    fn normalised(mut self) -> Bits {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct State {
    reached: bool,
    held: Bits,
    /// The sections held on every path.
    held_must: Bits,
    inherited: bool,
    /// The classes of the locks some path here released without the
    /// function having taken them: it drops its caller's lock of that class
    /// (perhaps only under a condition the caller shares,
    /// `if (!debug_pagealloc_enabled()) spin_unlock(...)`).
    dropped: u16,
    may: Bits,
    must: Bits,
    assumes: Vec<(u8, bool)>,
    /// The truths of stable branch conditions on every path here.
    conds: Vec<(u16, bool)>,
    /// Sections let go by [`Ev::Suspend`], to be held again (those held on
    /// some path, and on every path).
    suspended: Bits,
    suspended_must: Bits,
}

impl State {
    fn join(&mut self, o: &State) -> bool {
        if !o.reached {
            return false;
        }
        let before = self.clone();
        if !self.reached {
            *self = o.clone();
        } else {
            self.held.union(&o.held);
            self.held_must.intersect(&o.held_must);
            self.inherited |= o.inherited;
            self.dropped |= o.dropped;
            self.may.union(&o.may);
            self.must.intersect(&o.must);
            self.assumes.retain(|a| o.assumes.contains(a));
            self.conds.retain(|a| o.conds.contains(a));
            self.suspended.union(&o.suspended);
            self.suspended_must.intersect(&o.suspended_must);
        }
        self.held = std::mem::take(&mut self.held).normalised();
        self.held_must = std::mem::take(&mut self.held_must).normalised();
        self.may = std::mem::take(&mut self.may).normalised();
        self.must = std::mem::take(&mut self.must).normalised();
        *self != before
    }
}

/// How many branch conditions the flow splits paths on (2^N solutions).
const MAX_SPLIT: usize = 3;

/// The contexts recorded at calls, merged over the path splits.
#[derive(Default)]
struct Recorder {
    calls: Vec<Option<CallCtx>>,
    indirect: Vec<Option<CallCtx>>,
    foreign: Foreign,
    unpaired: Vec<Unpaired>,
    /// The escaping scopes held on every path at every exit seen so far
    /// (`None` before the first exit).
    left_open: Option<Bits>,
}

#[derive(Clone)]
struct CallCtx {
    sections: Bits,
    inherited: bool,
    dropped: u16,
    must: Bits,
    may: Bits,
    assumes: Vec<(u8, bool)>,
    conds: Vec<(u16, bool)>,
}

impl CallCtx {
    fn of(st: &State) -> CallCtx {
        CallCtx {
            sections: st.held.clone(),
            inherited: st.inherited,
            dropped: st.dropped,
            must: st.must.clone(),
            may: st.may.clone(),
            assumes: st.assumes.clone(),
            conds: st.conds.clone(),
        }
    }

    fn merge(slot: &mut Option<CallCtx>, new: CallCtx) {
        match slot {
            None => *slot = Some(new),
            Some(c) => {
                c.sections.union(&new.sections);
                c.inherited |= new.inherited;
                c.dropped |= new.dropped;
                c.must.intersect(&new.must);
                c.may.union(&new.may);
                c.assumes.retain(|a| new.assumes.contains(a));
                c.conds.retain(|a| new.conds.contains(a));
            }
        }
    }
}

/// The conditions worth splitting paths on: tested at least twice, never
/// assigned, and the function opens or closes something.
fn split_conditions(cfg: &Cfg) -> Vec<u16> {
    let opens = cfg.blocks.iter().flat_map(|b| &b.events).any(|e| {
        matches!(
            e,
            Ev::Acquire(_)
                | Ev::Release(..)
                | Ev::ReleaseAny(_)
                | Ev::ReleaseOwn(_)
                | Ev::ReleaseHeld(..)
                | Ev::Save(_)
                | Ev::Unopened(..)
                | Ev::Restore { .. }
        )
    });
    if !opens {
        return Vec::new();
    }
    let mut count = vec![0u32; cfg.conds.len()];
    for e in cfg.blocks.iter().flat_map(|b| &b.events) {
        if let Ev::Cond(k, true) = e {
            if let Some(c) = count.get_mut(*k as usize) {
                *c += 1;
            }
        }
    }
    (0..cfg.conds.len())
        // A call's result may differ between two calls: its truth is kept
        // for the graph (a stub's constant), not split on.
        .filter(|&k| {
            count[k] >= 2
                && cfg.stable.get(k).copied().unwrap_or(false)
                && !cfg.conds[k].contains('(')
        })
        .map(|k| k as u16)
        .take(MAX_SPLIT)
        .collect()
}

/// Computes the context of every call of `f` and its unpaired scopes.
///
/// Paths are split on conditions the function tests more than once
/// (`if (shared) read_unlock(...); else write_unlock(...);` after the
/// matching lock): each assignment of truths is solved apart, and what holds
/// at a call is merged over the assignments that reach it.
pub fn analyse(f: &mut Function, cfg: &Cfg) {
    let split = split_conditions(cfg);
    let order = reverse_postorder(cfg);
    let mut rec = Recorder {
        calls: vec![None; f.calls.len()],
        indirect: vec![None; f.indirect_calls.len()],
        ..Recorder::default()
    };
    for v in 0..(1u32 << split.len()) {
        let truths: Vec<(u16, bool)> = split
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, v >> i & 1 == 1))
            .collect();
        let input = solve(f, cfg, &truths, &order);
        record(f, cfg, &input, &truths, &mut rec);
    }
    let direct = f.calls.iter_mut().zip(rec.calls);
    let through = f
        .indirect_calls
        .iter_mut()
        .map(|ic| &mut ic.call)
        .zip(rec.indirect);
    for (c, ctx) in direct.chain(through) {
        if let Some(x) = ctx {
            c.sections = x.sections.iter().collect();
            c.inherited = x.inherited;
            c.dropped = x.dropped;
            c.scopes_must = x.must.iter().collect();
            c.scopes_may = x.may.iter().collect();
            c.assumes = x.assumes.into();
            c.conds = x.conds.into();
        }
    }
    for (op, saved, line) in rec.foreign {
        foreign_restore(f, &op, saved.as_deref(), line);
    }
    f.foreign_restores.sort_by_key(|r| r.line);
    f.foreign_restores
        .dedup_by(|a, b| a.line == b.line && a.op == b.op);
    let mut unpaired = rec.unpaired;
    unpaired.sort_by_key(|u| u.scope);
    unpaired.dedup_by_key(|u| u.scope);
    f.unpaired = unpaired;
    f.left_open = rec
        .left_open
        .map(|b| {
            b.iter()
                .filter(|&s| f.scopes.get(s as usize).is_some_and(|x| x.escapes))
                .collect()
        })
        .unwrap_or_default();
}

/// Each block's place in a reverse postorder of the graph from its entry
/// (blocks the entry does not reach come last): every block comes after
/// the blocks that lead to it, but for loops.
fn reverse_postorder(cfg: &Cfg) -> Vec<u32> {
    let n = cfg.blocks.len();
    let mut post: Vec<usize> = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    // An explicit stack of (block, next successor to visit): kernel
    // functions can be long enough to overflow a recursive walk.
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    seen[0] = true;
    while let Some(&mut (b, ref mut next)) = stack.last_mut() {
        match cfg.blocks[b].succ.get(*next) {
            Some(&s) => {
                *next += 1;
                let s = s as usize;
                if !seen[s] {
                    seen[s] = true;
                    stack.push((s, 0));
                }
            }
            None => {
                post.push(b);
                stack.pop();
            }
        }
    }
    let mut order = vec![u32::MAX; n];
    for (i, &b) in post.iter().rev().enumerate() {
        order[b] = i as u32;
    }
    order
}

/// The fixed point: the state at the start of each block, on the paths that
/// agree with `truths`. Blocks are taken in `order` (reverse postorder), so
/// a join is visited once both of its branches are done: in any other
/// order, each `if` of a long function can send its join's changes down
/// the rest of the function again.
fn solve(f: &Function, cfg: &Cfg, truths: &[(u16, bool)], order: &[u32]) -> Vec<State> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let n = cfg.blocks.len();
    let mut input = vec![State::default(); n];
    input[0] = State {
        reached: true,
        inherited: true,
        ..State::default()
    };
    let mut work: BinaryHeap<Reverse<(u32, usize)>> = BinaryHeap::from([Reverse((order[0], 0))]);
    let mut queued = vec![false; n];
    queued[0] = true;
    // Every set only grows (held, may) or shrinks (must) along the way, so
    // the iteration ends; the bound is a guard against a bug, not a limit
    // any real function reaches.
    let mut budget = 64 * n + 1024;
    while let Some(Reverse((_, b))) = work.pop() {
        queued[b] = false;
        if budget == 0 {
            break;
        }
        budget -= 1;
        let mut st = input[b].clone();
        for ev in &cfg.blocks[b].events {
            step(f, &mut st, ev, (truths, &cfg.stable), None);
            if !st.reached {
                break;
            }
        }
        for &s in &cfg.blocks[b].succ {
            let s = s as usize;
            if input[s].join(&st) && !queued[s] {
                queued[s] = true;
                work.push(Reverse((order[s], s)));
            }
        }
    }
    input
}

/// The final pass over a solution: what holds at each call, the scopes left
/// open at exits and the restores of other functions' saves.
fn record(f: &Function, cfg: &Cfg, input: &[State], truths: &[(u16, bool)], rec: &mut Recorder) {
    for (b, start) in input.iter().enumerate() {
        if !start.reached {
            continue;
        }
        let mut st = start.clone();
        for ev in &cfg.blocks[b].events {
            step(f, &mut st, ev, (truths, &cfg.stable), Some(rec));
            if !st.reached {
                break;
            }
        }
        if st.reached && cfg.blocks[b].succ.contains(&1) && b != 1 {
            // Held on every path to this exit: a scope saved on some paths
            // only is usually restored under the same condition, which the
            // scanner cannot correlate.
            match &mut rec.left_open {
                Some(open) => open.intersect(&st.must),
                None => rec.left_open = Some(st.must.clone()),
            }
            for s in st.must.iter() {
                let scope = &f.scopes[s as usize];
                if scope.escapes || scope.helper || rec.unpaired.iter().any(|u| u.scope == s) {
                    continue;
                }
                let exit_line = cfg.exit_line.get(&(b as u32)).copied().unwrap_or(f.line);
                rec.unpaired.push(Unpaired {
                    scope: s,
                    exit_line,
                });
            }
        }
    }
}

type Foreign = Vec<(String, Option<String>, u32)>;

/// A class of section as a bit of [`Call::dropped`](crate::facts::Call::dropped).
pub fn class_bit(c: LockClass) -> u16 {
    1 << c as u8
}

/// The classes a `__releases(lock)` call may close.
const KEYED_CLASSES: u16 = (1 << LockClass::Spin as u8)
    | (1 << LockClass::Xa as u8)
    | (1 << LockClass::Read as u8)
    | (1 << LockClass::Write as u8);

/// Whether two lock expressions name the same lock: equal, or one is the
/// other reached through more pointers (`hwfn->info->lock` and `info->lock`,
/// where `info = hwfn->info`), which the kernel writes both ways.
pub(crate) fn same_lock(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    (short.contains("->") || short.contains('.')) && long.ends_with(short) && {
        let pre = &long[..long.len() - short.len()];
        pre.ends_with("->") || pre.ends_with('.')
    }
}

fn step(
    f: &Function,
    st: &mut State,
    ev: &Ev,
    (truths, stable): (&[(u16, bool)], &[bool]),
    rec: Option<&mut Recorder>,
) {
    match ev {
        Ev::Call(i) => {
            if let Some(r) = rec {
                CallCtx::merge(&mut r.calls[*i as usize], CallCtx::of(st));
            }
        }
        Ev::Indirect(i) => {
            if let Some(r) = rec {
                CallCtx::merge(&mut r.indirect[*i as usize], CallCtx::of(st));
            }
        }
        Ev::Cond(k, t) => {
            if truths.iter().any(|&(x, want)| x == *k && want != *t) {
                st.reached = false;
            }
            if stable.get(*k as usize).copied().unwrap_or(false) {
                st.conds.retain(|c| c.0 != *k);
                st.conds.push((*k, *t));
            }
        }
        Ev::Acquire(id) => {
            st.held.set(*id);
            st.held_must.set(*id);
        }
        Ev::Release(class, lock) => release(f, st, class_bit(*class), |s| {
            s.class == *class
                && (!vocab::keyed(*class) || lock.is_empty() || same_lock(&s.lock, lock))
        }),
        Ev::ReleaseAny(lock) => release(f, st, KEYED_CLASSES, |s| {
            vocab::keyed(s.class) && same_lock(&s.lock, lock)
        }),
        Ev::ReleaseOwn(class) => close_own(f, st, |s| s.class == *class),
        Ev::Suspend(lock) => {
            let on: Vec<u16> = st
                .held
                .iter()
                .filter(|&i| {
                    let s = &f.sections[i as usize];
                    vocab::keyed(s.class) && same_lock(&s.lock, lock)
                })
                .collect();
            for i in on {
                if st.held_must.iter().any(|m| m == i) {
                    st.suspended_must.set(i);
                }
                st.held.clear(i);
                st.held_must.clear(i);
                st.suspended.set(i);
            }
        }
        Ev::Resume => {
            st.held.union(&st.suspended.clone());
            st.held_must.union(&st.suspended_must.clone());
            st.suspended = Bits::default();
            st.suspended_must = Bits::default();
        }
        Ev::ReleaseHeld(class, lock) => {
            close_own(f, st, |s| s.class == *class && same_lock(&s.lock, lock));
        }
        Ev::Save(id) => {
            st.may.set(*id);
            st.must.set(*id);
        }
        Ev::Unopened(id, surely) => {
            if *surely {
                st.may.clear(*id);
            }
            st.must.clear(*id);
        }
        Ev::Assume(p, t) => {
            if st.assumes.contains(&(*p, !*t)) {
                // Contradicts what the path assumed before: a path that
                // cannot run. Keep the later branch's fact only.
                st.assumes.retain(|a| a.0 != *p);
            }
            if !st.assumes.contains(&(*p, *t)) {
                st.assumes.push((*p, *t));
            }
        }
        Ev::Restore {
            var,
            flags,
            line,
            op,
            helper,
        } => {
            let mut matches: Vec<u16> = st
                .may
                .iter()
                .filter(|&i| {
                    let s = &f.scopes[i as usize];
                    match var {
                        Some(v) => s.var.as_deref() == Some(v.as_str()),
                        None => s.flags.iter().any(|fl| flags.contains(fl)),
                    }
                })
                .collect();
            if matches.is_empty() && *helper {
                // A closer given an object the flow did not see opened
                // (a copy of the handle, a member holding it) closes
                // every helper's scope: a scope taken for open where it
                // may be closed would call a mask redundant wrongly.
                matches = st
                    .may
                    .iter()
                    .filter(|&i| f.scopes[i as usize].helper)
                    .collect();
                if matches.is_empty() {
                    return;
                }
            }
            if matches.is_empty() {
                if let Some(r) = rec {
                    r.foreign.push((op.clone(), var.clone(), *line));
                }
                return;
            }
            for i in matches {
                st.may.clear(i);
                st.must.clear(i);
            }
        }
    }
}

/// Closes the function's own held sections that `which` selects, leaving
/// the caller's alone.
fn close_own(f: &Function, st: &mut State, which: impl Fn(&crate::facts::Section) -> bool) {
    let own: Vec<u16> = st
        .held
        .iter()
        .filter(|&i| which(&f.sections[i as usize]))
        .collect();
    for i in own {
        st.held.clear(i);
        st.held_must.clear(i);
    }
}

/// Closes the held sections `which` selects. On a path where the function
/// holds no section of its own on this lock, the release drops its
/// caller's: what follows is outside the caller's section. (A loop that
/// unlocks, calls and relocks reaches the unlock both ways.)
fn release(
    f: &Function,
    st: &mut State,
    classes: u16,
    which: impl Fn(&crate::facts::Section) -> bool,
) {
    let own_on_every_path = st.held_must.iter().any(|i| which(&f.sections[i as usize]));
    if !own_on_every_path {
        // Only a caller's section of this class ends here: which one the
        // caller holds is known at the caller (`dropped` is checked along
        // each chain), and a spinlock dropped inside an RCU read section
        // leaves the RCU section in force.
        st.dropped |= classes;
    }
    close_own(f, st, which);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(succ: &[&[u32]]) -> Cfg {
        Cfg {
            blocks: succ
                .iter()
                .map(|s| Block {
                    events: Vec::new(),
                    succ: s.to_vec(),
                })
                .collect(),
            ..Cfg::default()
        }
    }

    #[test]
    fn reverse_postorder_puts_a_join_after_both_branches() {
        // 0 -> 2 (a switch's `after`, created first) and 0 -> 3, 4 (cases);
        // 3 and 4 -> 2; 2 -> 1 (exit); 5 is unreachable.
        let g = cfg(&[&[2, 3, 4], &[], &[1], &[2], &[2], &[1]]);
        let o = reverse_postorder(&g);
        assert_eq!(o[0], 0);
        assert!(o[2] > o[3] && o[2] > o[4], "{o:?}");
        assert!(o[1] > o[2]);
        assert_eq!(o[5], u32::MAX);
    }

    #[test]
    fn reverse_postorder_of_a_loop_puts_the_body_after_its_head() {
        // 0 -> 2 (head); 2 -> 3 (body), 1 (exit); 3 -> 2 (back edge).
        let g = cfg(&[&[2], &[], &[3, 1], &[2]]);
        let o = reverse_postorder(&g);
        assert!(o[0] < o[2] && o[2] < o[3], "{o:?}");
    }
}
