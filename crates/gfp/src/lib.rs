//! Linux GFP flags, bit-exact, and the scoped allocation context of the kernel's
//! `memalloc_*_save()`/`restore()` API.
//!
//! * [`Gfp`] is the mask in the in-process layout (Linux 6.12 with every
//!   layout-moving option on), with the kernel's flags and composites as
//!   associated constants ([`Gfp::KERNEL`], [`Gfp::NOWARN`], ...).
//! * [`profile`] describes every mainline kernel from 3.0 to 7.1 and any
//!   configuration; [`render`] prints masks exactly as those kernels do, and
//!   [`parse`] reads them back.
//! * [`policy`] is the one table saying which flags may be set or cleared by
//!   a scope, and why (after Michal Hocko's 2024 analysis). The type system
//!   ([`scope::set`], [`scope::clear`]), the runtime check
//!   ([`scope::try_scope`]) and the command-line tool all read it.
//! * [`context`] holds a task's scopes; [`current_gfp_context`] applies them.
//!
//! The crate is `no_std` + `alloc`; the `std` feature (on by default) adds the
//! thread-local task context behind [`current_gfp_context`] and [`scope`].
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod context;
pub mod explain;
pub mod flags;
pub mod logscan;
pub mod parse;
pub mod policy;
pub mod profile;
pub mod render;
pub mod scope;
pub mod zone;

pub use context::{TaskContext, TaskFlags};
pub use flags::{Flag, FlagGroup, Gfp};
pub use policy::flag;
pub use profile::{KernelConfig, KernelProfile, KernelVersion, Profile};

/// Applies the current task's scopes to `gfp`, as the kernel's
/// `current_gfp_context()` does, followed by the generic scopes of
/// [`scope::set`] and [`scope::clear`] in nesting order (innermost last).
///
/// Without any scope this is one thread-local read and returns `gfp` unchanged.
#[cfg(feature = "std")]
#[inline]
pub fn current_gfp_context(gfp: Gfp) -> Gfp {
    scope::current_state().apply(gfp)
}
