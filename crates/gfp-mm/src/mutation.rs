//! Test-only switches that turn off one piece of the allocator's
//! semantics, to show which of `gfp verify`'s derived verdicts depend on
//! it (`crates/gfp-sim/tests/mutation.rs`).
//!
//! The switch exists only with the `mutation` feature, which nothing but
//! that test enables (`cargo test -p gfp-sim --features mutation --test
//! mutation`); without it every check below is a constant `false` and
//! the allocator is the one users get.

use gfp::zone::MigrateType;
use gfp::Gfp;

/// A piece of semantics a test may switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mutation {
    /// `__GFP_NOFAIL` forces direct reclaim: a request that cannot fail
    /// reclaims whatever its mask says (the kernel instead warns and fails
    /// it without `__GFP_DIRECT_RECLAIM`).
    NofailForcesReclaim = 1,
    /// `__GFP_ACCOUNT` is ignored: nothing is charged to memory cgroups.
    IgnoreAccount = 2,
    /// Mobility is ignored: every allocation is filed as unmovable
    /// (`__GFP_MOVABLE` and `__GFP_RECLAIMABLE` still choose zones).
    IgnoreMobility = 3,
}

#[cfg(feature = "mutation")]
static ACTIVE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Switches `m` on (`None`: the allocator's own semantics), for every
/// machine in the process from now on. Machines built before keep the
/// fast-path routes they were built with: set it before building one.
#[cfg(feature = "mutation")]
pub fn set(m: Option<Mutation>) {
    ACTIVE.store(
        m.map_or(0, |m| m as u8),
        core::sync::atomic::Ordering::SeqCst,
    );
}

/// Whether `m` is switched on.
#[inline(always)]
pub(crate) fn active(m: Mutation) -> bool {
    #[cfg(feature = "mutation")]
    {
        ACTIVE.load(core::sync::atomic::Ordering::Relaxed) == m as u8
    }
    #[cfg(not(feature = "mutation"))]
    {
        let _ = m;
        false
    }
}

/// The migratetype the allocator files a request with
/// (`gfp_migratetype()`).
#[inline(always)]
pub(crate) fn migratetype(gfp: Gfp) -> Option<MigrateType> {
    if active(Mutation::IgnoreMobility) {
        // Mobility bits mean nothing, so no combination of them is wrong.
        return Some(MigrateType::Unmovable);
    }
    gfp::zone::migratetype(gfp)
}

/// The mask the page allocator works with, after the scopes.
#[inline(always)]
pub(crate) fn in_force(gfp: Gfp) -> Gfp {
    if active(Mutation::NofailForcesReclaim) && gfp.contains(Gfp::NOFAIL) {
        gfp | Gfp::DIRECT_RECLAIM
    } else {
        gfp
    }
}

/// Whether an allocation with `gfp` (after the scopes) is accounted.
#[inline(always)]
pub(crate) fn accounted(gfp: Gfp) -> bool {
    gfp.contains(Gfp::ACCOUNT) && !active(Mutation::IgnoreAccount)
}
