//! Scoped allocation contexts: RAII guards for the kernel's
//! `memalloc_{noio,nofs,noreclaim,pin}_save()` and for generic scopes that set
//! or clear a flag for everything allocated inside them.
//!
//! ```
//! use gfp::{current_gfp_context, flag, scope, Gfp};
//!
//! let _nofs = scope::nofs();
//! let _quiet = scope::set::<flag::Nowarn>();
//! assert_eq!(current_gfp_context(Gfp::KERNEL), Gfp::NOFS | Gfp::NOWARN);
//! ```
//!
//! A scope the policy refuses does not compile, and the error says why:
//!
//! ```compile_fail
//! // error: clearing __GFP_DIRECT_RECLAIM in a scope breaks every nested __GFP_NOFAIL allocation ...
//! let _nowait = gfp::scope::clear::<gfp::flag::DirectReclaim>();
//! ```

use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use crate::context::{ScopeChange, ScopeToken, TaskContext, TaskFlags};
use crate::flags::{Flag, Gfp};
use crate::policy::{self, Direction, ScopedClear, ScopedSet, Verdict};

/// A way to reach a task's context: a reference to an explicit
/// [`TaskContext`], or [`Current`] for the calling thread's.
pub trait ContextHandle: Copy {
    /// Runs `f` on the context.
    fn with<R>(self, f: impl FnOnce(&TaskContext) -> R) -> R;
}

impl ContextHandle for &TaskContext {
    #[inline(always)]
    fn with<R>(self, f: impl FnOnce(&TaskContext) -> R) -> R {
        f(self)
    }
}

#[cfg(feature = "std")]
std::thread_local! {
    static CURRENT: TaskContext = const { TaskContext::new() };
}

/// The calling thread's task context.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct Current;

#[cfg(feature = "std")]
impl ContextHandle for Current {
    #[inline(always)]
    fn with<R>(self, f: impl FnOnce(&TaskContext) -> R) -> R {
        CURRENT.with(f)
    }
}

/// The calling thread's combined scope state.
#[cfg(feature = "std")]
#[inline(always)]
pub fn current_state() -> crate::context::ScopeState {
    CURRENT.with(TaskContext::state)
}

/// The calling thread's task flags (PF_MEMALLOC and friends).
#[cfg(feature = "std")]
pub fn current_task_flags() -> TaskFlags {
    current_state().task_flags
}

/// Ends its scope when dropped, in whatever order guards are dropped: the
/// context then holds exactly the scopes whose guards are still alive.
///
/// Not `Send`: a scope belongs to the task that entered it.
#[must_use = "the scope ends when the guard is dropped"]
pub struct ScopeGuard<H: ContextHandle> {
    handle: H,
    token: ScopeToken,
    _not_send: PhantomData<*const ()>,
}

impl<H: ContextHandle> fmt::Debug for ScopeGuard<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeGuard")
            .field("token", &self.token)
            .finish()
    }
}

impl<H: ContextHandle> Drop for ScopeGuard<H> {
    fn drop(&mut self) {
        let token = self.token;
        let left = self.handle.with(|c| c.leave(token));
        debug_assert!(left, "scope guard outlived its scope entry");
    }
}

/// Why a scope could not be entered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeError {
    /// The policy refuses some of the changes; one entry per refused flag.
    Refused(Vec<Refusal>),
    /// Too many scopes are nested already.
    TooDeep,
}

/// One refused flag of a requested scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The flag, or `None` for bits no flag owns.
    pub flag: Option<Flag>,
    /// The bits concerned.
    pub bits: u32,
    /// Set or clear.
    pub direction: Direction,
    /// The verdict (`None` for bits that are not flags, or a flag both set
    /// and cleared).
    pub verdict: Option<Verdict>,
    /// Why.
    pub reason: &'static str,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.flag {
            Some(flag) => write!(f, "{} {flag}: {}", self.direction, self.reason),
            None => write!(f, "{} {:#x}: {}", self.direction, self.bits, self.reason),
        }
    }
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeError::Refused(list) => {
                write!(
                    f,
                    "scope refused ({} flag{}):",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" }
                )?;
                for r in list {
                    write!(f, "\n  - {r}")?;
                }
                Ok(())
            }
            ScopeError::TooDeep => write!(f, "{}", crate::context::ScopeDepthExceeded),
        }
    }
}

impl core::error::Error for ScopeError {}

/// Checks a requested scope against the policy: every refused flag, with
/// its reason. Empty when the scope is allowed.
pub fn check(set: Gfp, clear: Gfp) -> Vec<Refusal> {
    let mut out = Vec::new();
    let both = set & clear;
    for (mask, direction) in [(set, Direction::Set), (clear, Direction::Clear)] {
        for flag in mask.flags() {
            if both.has(flag) {
                if direction == Direction::Set {
                    out.push(Refusal {
                        flag: Some(flag),
                        bits: flag.mask().bits(),
                        direction,
                        verdict: None,
                        reason: "a scope cannot both set and clear the same flag",
                    });
                }
                continue;
            }
            let cell = policy::cell(flag, direction);
            if !cell.allowed() {
                out.push(Refusal {
                    flag: Some(flag),
                    bits: flag.mask().bits(),
                    direction,
                    verdict: Some(cell.verdict),
                    reason: cell.reason,
                });
            }
        }
        let stray = mask.invalid_bits();
        if stray != 0 {
            out.push(Refusal {
                flag: None,
                bits: stray,
                direction,
                verdict: None,
                reason: "these bits are not GFP flags",
            });
        }
    }
    out
}

/// Entering scopes on a task context. Implemented for every
/// [`ContextHandle`]; the free functions of this module use [`Current`].
pub trait EnterScope: ContextHandle {
    /// Enters a scope that the caller has already checked.
    ///
    /// # Panics
    ///
    /// If more than [`crate::context::MAX_SCOPE_DEPTH`] scopes are nested.
    fn enter_checked(self, change: ScopeChange) -> ScopeGuard<Self> {
        match self.with(|c| c.enter(change)) {
            Ok(token) => ScopeGuard {
                handle: self,
                token,
                _not_send: PhantomData,
            },
            Err(e) => panic!("{e}"),
        }
    }

    /// `memalloc_noio_save()`: nested allocations lose `__GFP_IO` and `__GFP_FS`.
    fn noio(self) -> ScopeGuard<Self> {
        self.enter_checked(ScopeChange::task(TaskFlags::MEMALLOC_NOIO))
    }

    /// `memalloc_nofs_save()`: nested allocations lose `__GFP_FS`.
    fn nofs(self) -> ScopeGuard<Self> {
        self.enter_checked(ScopeChange::task(TaskFlags::MEMALLOC_NOFS))
    }

    /// `memalloc_noreclaim_save()`: PF_MEMALLOC, for code that frees memory:
    /// full access to the reserves and no recursion into direct reclaim.
    fn noreclaim(self) -> ScopeGuard<Self> {
        self.enter_checked(ScopeChange::task(TaskFlags::MEMALLOC))
    }

    /// `memalloc_pin_save()`: nested allocations lose `__GFP_MOVABLE`, so
    /// that their pages can be pinned long-term.
    fn pin(self) -> ScopeGuard<Self> {
        self.enter_checked(ScopeChange::task(TaskFlags::MEMALLOC_PIN))
    }

    /// Sets `F` for every nested allocation. Refused flags do not compile.
    fn set<F: ScopedSet>(self) -> ScopeGuard<Self> {
        self.enter_checked(ScopeChange::generic(F::FLAG.mask(), Gfp::EMPTY))
    }

    /// Clears `F` from every nested allocation. Refused flags do not compile.
    fn clear<F: ScopedClear>(self) -> ScopeGuard<Self> {
        self.enter_checked(ScopeChange::generic(Gfp::EMPTY, F::FLAG.mask()))
    }

    /// The runtime form of [`EnterScope::set`] and [`EnterScope::clear`]:
    /// sets `set` and clears `clear` if the policy allows every part.
    fn try_scope(self, set: Gfp, clear: Gfp) -> Result<ScopeGuard<Self>, ScopeError> {
        let refused = check(set, clear);
        if !refused.is_empty() {
            return Err(ScopeError::Refused(refused));
        }
        let token = self
            .with(|c| c.enter(ScopeChange::generic(set, clear)))
            .map_err(|_| ScopeError::TooDeep)?;
        Ok(ScopeGuard {
            handle: self,
            token,
            _not_send: PhantomData,
        })
    }
}

impl<H: ContextHandle> EnterScope for H {}

/// `memalloc_noio_save()` on the calling thread.
#[cfg(feature = "std")]
pub fn noio() -> ScopeGuard<Current> {
    Current.noio()
}

/// `memalloc_nofs_save()` on the calling thread.
#[cfg(feature = "std")]
pub fn nofs() -> ScopeGuard<Current> {
    Current.nofs()
}

/// `memalloc_noreclaim_save()` (PF_MEMALLOC) on the calling thread.
#[cfg(feature = "std")]
pub fn noreclaim() -> ScopeGuard<Current> {
    Current.noreclaim()
}

/// `memalloc_pin_save()` on the calling thread.
#[cfg(feature = "std")]
pub fn pin() -> ScopeGuard<Current> {
    Current.pin()
}

/// Sets the flag `F` for everything the calling thread allocates until the
/// guard drops. Only flags the policy allows compile.
#[cfg(feature = "std")]
pub fn set<F: ScopedSet>() -> ScopeGuard<Current> {
    Current.set::<F>()
}

/// Clears the flag `F` from everything the calling thread allocates until
/// the guard drops. Only flags the policy allows compile.
#[cfg(feature = "std")]
pub fn clear<F: ScopedClear>() -> ScopeGuard<Current> {
    Current.clear::<F>()
}

/// Sets and clears flags on the calling thread if the policy allows all of
/// it; otherwise an error listing each refused flag with its reason.
#[cfg(feature = "std")]
pub fn try_scope(set: Gfp, clear: Gfp) -> Result<ScopeGuard<Current>, ScopeError> {
    Current.try_scope(set, clear)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::{current_gfp_context, flag};
    use alloc::string::ToString;

    #[test]
    fn guards_nest_and_restore() {
        assert_eq!(current_gfp_context(Gfp::KERNEL), Gfp::KERNEL);
        {
            let _a = noio();
            assert_eq!(current_gfp_context(Gfp::KERNEL), Gfp::NOIO);
            {
                let _b = set::<flag::Nowarn>();
                assert_eq!(current_gfp_context(Gfp::KERNEL), Gfp::NOIO | Gfp::NOWARN);
            }
            assert_eq!(current_gfp_context(Gfp::KERNEL), Gfp::NOIO);
        }
        assert_eq!(current_gfp_context(Gfp::KERNEL), Gfp::KERNEL);
        let _r = noreclaim();
        assert!(current_task_flags().contains(TaskFlags::MEMALLOC));
    }

    #[test]
    fn try_scope_lists_every_refusal() {
        let err = try_scope(
            Gfp::NOFAIL | Gfp::NOWARN,
            Gfp::DIRECT_RECLAIM | Gfp::from_bits_retain(0x200),
        )
        .unwrap_err();
        let ScopeError::Refused(list) = &err else {
            panic!("{err}")
        };
        let flags: Vec<_> = list.iter().map(|r| r.flag).collect();
        assert_eq!(flags, [Some(Flag::Nofail), Some(Flag::DirectReclaim), None]);
        let text = err.to_string();
        assert!(
            text.contains("__GFP_NOFAIL") && text.contains("0x200"),
            "{text}"
        );
        assert_eq!(current_gfp_context(Gfp::KERNEL), Gfp::KERNEL);
        let g = try_scope(Gfp::NOWARN, Gfp::FS).unwrap();
        assert_eq!(current_gfp_context(Gfp::KERNEL), Gfp::NOFS | Gfp::NOWARN);
        drop(g);
        assert!(matches!(
            try_scope(Gfp::NOWARN, Gfp::NOWARN),
            Err(ScopeError::Refused(_))
        ));
    }

    #[test]
    fn explicit_context_without_thread_local() {
        let ctx = TaskContext::new();
        let g = (&ctx).clear::<flag::Fs>();
        assert_eq!(ctx.current_gfp_context(Gfp::KERNEL), Gfp::NOFS);
        // The thread's own context is untouched.
        assert_eq!(current_gfp_context(Gfp::KERNEL), Gfp::KERNEL);
        drop(g);
        assert_eq!(ctx.current_gfp_context(Gfp::KERNEL), Gfp::KERNEL);
    }
}
