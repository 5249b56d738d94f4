//! A task's allocation context: its PF_MEMALLOC* flags and generic scopes.
//!
//! The kernel keeps the scope state in `current->flags`, set and restored by
//! `memalloc_*_save()`/`restore()` pairs that must nest strictly. Here every
//! scope is an entry on a small per-task stack, so that guards dropped in any
//! order leave exactly the effect of the guards still alive; the combined
//! effect is folded into two words so that applying it costs an AND and an OR.

use core::cell::Cell;
use core::fmt;

use crate::flags::Gfp;

/// The task flags that shape allocations (a subset of the kernel's `PF_*`,
/// with the kernel's values).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TaskFlags(u32);

impl TaskFlags {
    /// No flag.
    pub const EMPTY: TaskFlags = TaskFlags(0);
    /// `PF_MEMALLOC`: the task is freeing memory. It may use all reserves and
    /// never recurses into direct reclaim (`memalloc_noreclaim_save()`).
    pub const MEMALLOC: TaskFlags = TaskFlags(0x0000_0800);
    /// `PF_MEMALLOC_NOFS`: allocations behave as `GFP_NOFS` (`memalloc_nofs_save()`).
    pub const MEMALLOC_NOFS: TaskFlags = TaskFlags(0x0004_0000);
    /// `PF_MEMALLOC_NOIO`: allocations behave as `GFP_NOIO` (`memalloc_noio_save()`).
    pub const MEMALLOC_NOIO: TaskFlags = TaskFlags(0x0008_0000);
    /// `PF_MEMALLOC_PIN`: allocations avoid movable memory so that they can be
    /// pinned long-term (`memalloc_pin_save()`).
    pub const MEMALLOC_PIN: TaskFlags = TaskFlags(0x1000_0000);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether all of `other` is set.
    pub const fn contains(self, other: TaskFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union.
    pub const fn union(self, other: TaskFlags) -> TaskFlags {
        TaskFlags(self.0 | other.0)
    }

    /// The mask transformation these flags apply (`current_gfp_context()`):
    /// NOIO removes IO and FS and beats NOFS, NOFS removes FS, PIN removes
    /// MOVABLE. PF_MEMALLOC changes no bit; the allocator reads it directly.
    pub const fn gfp_and_mask(self) -> u32 {
        let mut and = !0u32;
        if self.contains(TaskFlags::MEMALLOC_NOIO) {
            and &= !(Gfp::IO.bits() | Gfp::FS.bits());
        } else if self.contains(TaskFlags::MEMALLOC_NOFS) {
            and &= !Gfp::FS.bits();
        }
        if self.contains(TaskFlags::MEMALLOC_PIN) {
            and &= !Gfp::MOVABLE.bits();
        }
        and
    }
}

impl fmt::Debug for TaskFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (TaskFlags::MEMALLOC, "PF_MEMALLOC"),
            (TaskFlags::MEMALLOC_NOFS, "PF_MEMALLOC_NOFS"),
            (TaskFlags::MEMALLOC_NOIO, "PF_MEMALLOC_NOIO"),
            (TaskFlags::MEMALLOC_PIN, "PF_MEMALLOC_PIN"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("0")?;
        }
        Ok(())
    }
}

/// The combined effect of every live scope of a task.
///
/// # Invariants
///
/// `and == task_flags.gfp_and_mask() & generic_and`; applying the state is
/// `(g & and) | or`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeState {
    /// The task flags in force.
    pub task_flags: TaskFlags,
    generic_and: u32,
    and: u32,
    or: u32,
}

impl ScopeState {
    /// No scope at all.
    pub const NONE: ScopeState = ScopeState {
        task_flags: TaskFlags::EMPTY,
        generic_and: !0,
        and: !0,
        or: 0,
    };

    /// Applies the scopes to a mask.
    #[inline(always)]
    pub const fn apply(self, gfp: Gfp) -> Gfp {
        Gfp::from_bits_retain((gfp.bits() & self.and) | self.or)
    }

    /// The bits every nested mask loses.
    pub const fn cleared(self) -> Gfp {
        Gfp::from_bits_retain(!self.and & !self.or)
    }

    /// The bits every nested mask gains.
    pub const fn set(self) -> Gfp {
        Gfp::from_bits_retain(self.or)
    }
}

/// One scope as entered: the task flags it raises and the generic change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeChange {
    /// Task flags raised for the scope's duration.
    pub task_flags: TaskFlags,
    /// Flags ORed into every nested mask.
    pub set: Gfp,
    /// Flags removed from every nested mask.
    pub clear: Gfp,
}

impl ScopeChange {
    /// A scope that raises task flags only (`memalloc_*_save()`).
    pub const fn task(flags: TaskFlags) -> ScopeChange {
        ScopeChange {
            task_flags: flags,
            set: Gfp::EMPTY,
            clear: Gfp::EMPTY,
        }
    }

    /// A generic scope. Setting a zone modifier replaces the nested mask's
    /// zone modifiers: the zone modifiers name one zone, and OR-ing would
    /// build combinations that name none.
    pub const fn generic(set: Gfp, clear: Gfp) -> ScopeChange {
        let mut clear = clear.bits();
        if set.intersects(Gfp::ZONEMASK) {
            clear |= Gfp::ZONEMASK.bits() & !set.bits();
        }
        ScopeChange {
            task_flags: TaskFlags::EMPTY,
            set,
            clear: Gfp::from_bits_retain(clear & !set.bits()),
        }
    }
}

/// Deepest scope nesting a task supports.
pub const MAX_SCOPE_DEPTH: usize = 32;

#[derive(Clone, Copy)]
struct Entry {
    token: u32,
    change: ScopeChange,
}

const EMPTY_ENTRY: Entry = Entry {
    token: 0,
    change: ScopeChange::task(TaskFlags::EMPTY),
};

/// Identifies one entered scope, to leave it later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeToken(u32);

/// Why [`TaskContext::enter`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeDepthExceeded;

impl fmt::Display for ScopeDepthExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {MAX_SCOPE_DEPTH} nested allocation scopes")
    }
}

impl core::error::Error for ScopeDepthExceeded {}

/// A task's scope state (`current->flags` plus generic scopes).
///
/// Uses interior mutability so that guards can borrow it shared; it is
/// neither `Sync` nor meant to cross threads, like the task it describes.
///
/// # Invariants
///
/// `state` is always the fold of `entries[..len]` in order; tokens of live
/// entries are unique and increasing.
pub struct TaskContext {
    state: Cell<ScopeState>,
    len: Cell<u8>,
    next_token: Cell<u32>,
    entries: [Cell<Entry>; MAX_SCOPE_DEPTH],
}

impl Default for TaskContext {
    fn default() -> Self {
        TaskContext::new()
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("state", &self.state.get())
            .field("depth", &self.len.get())
            .finish()
    }
}

impl TaskContext {
    /// A context with no scope.
    pub const fn new() -> TaskContext {
        TaskContext {
            state: Cell::new(ScopeState::NONE),
            len: Cell::new(0),
            next_token: Cell::new(1),
            entries: [const { Cell::new(EMPTY_ENTRY) }; MAX_SCOPE_DEPTH],
        }
    }

    /// The combined effect of the live scopes.
    #[inline(always)]
    pub fn state(&self) -> ScopeState {
        self.state.get()
    }

    /// `current_gfp_context()` for this task.
    #[inline(always)]
    pub fn current_gfp_context(&self, gfp: Gfp) -> Gfp {
        self.state.get().apply(gfp)
    }

    /// The task flags in force.
    pub fn task_flags(&self) -> TaskFlags {
        self.state.get().task_flags
    }

    /// How many scopes are live.
    pub fn depth(&self) -> usize {
        self.len.get() as usize
    }

    /// Enters a scope without consulting the policy. Prefer the guards of
    /// [`crate::scope`]; this is for runtimes and simulators that must also
    /// model the scopes the policy refuses.
    pub fn enter(&self, change: ScopeChange) -> Result<ScopeToken, ScopeDepthExceeded> {
        let len = self.len.get() as usize;
        if len == MAX_SCOPE_DEPTH {
            return Err(ScopeDepthExceeded);
        }
        let token = self.next_token.get();
        // Wrapping is harmless: only live entries are searched, and 2^32
        // scopes cannot be live at once.
        self.next_token.set(token.wrapping_add(1).max(1));
        self.entries[len].set(Entry { token, change });
        self.len.set(len as u8 + 1);
        self.state.set(fold(self.state.get(), change));
        Ok(ScopeToken(token))
    }

    /// Leaves a scope, wherever it is on the stack. Returns `false` if the
    /// token is not live (already left, or from another context).
    pub fn leave(&self, token: ScopeToken) -> bool {
        let len = self.len.get() as usize;
        let Some(pos) = (0..len)
            .rev()
            .find(|&i| self.entries[i].get().token == token.0)
        else {
            return false;
        };
        for i in pos..len - 1 {
            self.entries[i].set(self.entries[i + 1].get());
        }
        self.len.set(len as u8 - 1);
        let mut state = ScopeState::NONE;
        for e in &self.entries[..len - 1] {
            state = fold(state, e.get().change);
        }
        self.state.set(state);
        true
    }
}

/// Adds one more (inner) scope to a combined state. Task flags apply before
/// every generic scope, whatever the nesting, as the kernel's
/// `current_gfp_context()` runs before anything else could; since they only
/// clear bits, `G(P(x)) = (x & P & Ga) | Go`.
const fn fold(state: ScopeState, change: ScopeChange) -> ScopeState {
    let task_flags = state.task_flags.union(change.task_flags);
    let clear = change.clear.bits();
    let generic_and = state.generic_and & !clear;
    let or = (state.or & !clear) | change.set.bits();
    ScopeState {
        task_flags,
        generic_and,
        and: generic_and & task_flags.gfp_and_mask(),
        or,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_flags_as_the_kernel() {
        let ctx = TaskContext::new();
        assert_eq!(ctx.current_gfp_context(Gfp::KERNEL), Gfp::KERNEL);
        let nofs = ctx
            .enter(ScopeChange::task(TaskFlags::MEMALLOC_NOFS))
            .unwrap();
        assert_eq!(ctx.current_gfp_context(Gfp::KERNEL), Gfp::NOFS);
        let noio = ctx
            .enter(ScopeChange::task(TaskFlags::MEMALLOC_NOIO))
            .unwrap();
        assert_eq!(ctx.current_gfp_context(Gfp::KERNEL), Gfp::NOIO);
        assert!(ctx.leave(nofs));
        // NOIO still in force after the outer NOFS scope ended out of order.
        assert_eq!(ctx.current_gfp_context(Gfp::KERNEL), Gfp::NOIO);
        assert!(ctx.leave(noio));
        assert!(!ctx.leave(noio));
        assert_eq!(ctx.state(), ScopeState::NONE);
        let pin = ctx
            .enter(ScopeChange::task(TaskFlags::MEMALLOC_PIN))
            .unwrap();
        assert_eq!(
            ctx.current_gfp_context(Gfp::HIGHUSER_MOVABLE),
            Gfp::HIGHUSER_MOVABLE - Gfp::MOVABLE
        );
        ctx.leave(pin);
    }

    #[test]
    fn generic_scopes_apply_innermost_last() {
        let ctx = TaskContext::new();
        let a = ctx
            .enter(ScopeChange::generic(Gfp::NOWARN, Gfp::EMPTY))
            .unwrap();
        let b = ctx
            .enter(ScopeChange::generic(Gfp::EMPTY, Gfp::NOWARN))
            .unwrap();
        assert_eq!(
            ctx.current_gfp_context(Gfp::KERNEL | Gfp::NOWARN),
            Gfp::KERNEL
        );
        ctx.leave(a);
        assert_eq!(
            ctx.current_gfp_context(Gfp::KERNEL | Gfp::NOWARN),
            Gfp::KERNEL
        );
        ctx.leave(b);
        assert_eq!(
            ctx.current_gfp_context(Gfp::KERNEL | Gfp::NOWARN),
            Gfp::KERNEL | Gfp::NOWARN
        );
    }

    #[test]
    fn task_flags_apply_before_generic_scopes() {
        // A generic set of FS (refused by the policy, but representable here)
        // entered *before* NOFS still wins, because task flags apply first.
        let ctx = TaskContext::new();
        let _g = ctx
            .enter(ScopeChange::generic(Gfp::FS, Gfp::EMPTY))
            .unwrap();
        let _t = ctx
            .enter(ScopeChange::task(TaskFlags::MEMALLOC_NOFS))
            .unwrap();
        assert_eq!(ctx.current_gfp_context(Gfp::NOFS), Gfp::KERNEL);
    }

    #[test]
    fn zone_modifier_set_replaces() {
        let ctx = TaskContext::new();
        ctx.enter(ScopeChange::generic(Gfp::DMA, Gfp::EMPTY))
            .unwrap();
        assert_eq!(
            ctx.current_gfp_context(Gfp::KERNEL | Gfp::DMA32),
            Gfp::KERNEL | Gfp::DMA
        );
        assert_eq!(
            ctx.current_gfp_context(Gfp::HIGHUSER_MOVABLE),
            Gfp::USER | Gfp::DMA | Gfp::SKIP_KASAN
        );
    }

    #[test]
    fn depth_is_bounded() {
        let ctx = TaskContext::new();
        for _ in 0..MAX_SCOPE_DEPTH {
            ctx.enter(ScopeChange::task(TaskFlags::MEMALLOC)).unwrap();
        }
        assert_eq!(
            ctx.enter(ScopeChange::task(TaskFlags::MEMALLOC)),
            Err(ScopeDepthExceeded)
        );
    }
}
