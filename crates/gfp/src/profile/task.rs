//! The `PF_MEMALLOC*` task flags per kernel release: which scopes a kernel
//! offers and what each does to the masks allocated inside it.
//!
//! The set changed over time: `PF_MEMALLOC_NOIO` came with 3.9, `PF_MEMALLOC_NOFS`
//! with 4.12, `PF_MEMALLOC_NOCMA` with 5.1 (renamed `PF_MEMALLOC_PIN` in
//! 5.12, when it started clearing `__GFP_MOVABLE`), and 6.10 and 6.11 had
//! `PF_MEMALLOC_NORECLAIM` and `PF_MEMALLOC_NOWARN`, added for bcachefs's
//! scoped GFP_NOWAIT and removed again in 6.12 after the analysis this
//! project implements found the first unsafe.

use crate::flags::Gfp;
use crate::profile::KernelVersion;

/// One `PF_MEMALLOC*` task flag as a kernel release defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemallocFlag {
    /// The kernel's name, e.g. `PF_MEMALLOC_NOFS`.
    pub name: &'static str,
    /// The flag's value in `current->flags`. Values of flags that no longer
    /// exist are those of their last release.
    pub value: u32,
    /// The first release that has it.
    pub since: KernelVersion,
    /// The first release that no longer has it, if it was removed or renamed.
    pub until: Option<KernelVersion>,
    /// The bits `current_gfp_context()` removes from every nested mask.
    pub clears: Gfp,
    /// The bits `current_gfp_context()` adds to every nested mask.
    pub sets: Gfp,
    /// The allocator never enters direct reclaim for the task (it is
    /// reclaiming already) and lets it use every reserve: `PF_MEMALLOC`.
    pub no_direct_reclaim: bool,
}

impl MemallocFlag {
    /// Whether release `version` has this flag.
    pub fn in_release(&self, version: KernelVersion) -> bool {
        let v = version.release();
        v >= self.since && self.until.is_none_or(|u| v < u)
    }
}

const fn v(major: u16, minor: u16) -> KernelVersion {
    KernelVersion::new(major, minor)
}

/// Every `PF_MEMALLOC*` flag any release had, oldest first.
pub const MEMALLOC_FLAGS: &[MemallocFlag] = &[
    MemallocFlag {
        name: "PF_MEMALLOC",
        value: 0x0000_0800,
        since: v(2, 6),
        until: None,
        clears: Gfp::EMPTY,
        sets: Gfp::EMPTY,
        no_direct_reclaim: true,
    },
    MemallocFlag {
        name: "PF_MEMALLOC_NOIO",
        value: 0x0008_0000,
        since: v(3, 9),
        until: None,
        clears: Gfp::from_bits_retain(Gfp::IO.bits() | Gfp::FS.bits()),
        sets: Gfp::EMPTY,
        no_direct_reclaim: false,
    },
    MemallocFlag {
        name: "PF_MEMALLOC_NOFS",
        value: 0x0004_0000,
        since: v(4, 12),
        until: None,
        clears: Gfp::FS,
        sets: Gfp::EMPTY,
        no_direct_reclaim: false,
    },
    MemallocFlag {
        name: "PF_MEMALLOC_NOCMA",
        value: 0x1000_0000,
        since: v(5, 1),
        until: Some(v(5, 12)),
        // It kept allocations out of CMA pageblocks without touching the mask.
        clears: Gfp::EMPTY,
        sets: Gfp::EMPTY,
        no_direct_reclaim: false,
    },
    MemallocFlag {
        name: "PF_MEMALLOC_PIN",
        value: 0x1000_0000,
        since: v(5, 12),
        until: None,
        clears: Gfp::MOVABLE,
        sets: Gfp::EMPTY,
        no_direct_reclaim: false,
    },
    MemallocFlag {
        name: "PF_MEMALLOC_NORECLAIM",
        value: 0x0080_0000,
        since: v(6, 10),
        until: Some(v(6, 12)),
        clears: Gfp::DIRECT_RECLAIM,
        sets: Gfp::EMPTY,
        no_direct_reclaim: false,
    },
    MemallocFlag {
        name: "PF_MEMALLOC_NOWARN",
        value: 0x0100_0000,
        since: v(6, 10),
        until: Some(v(6, 12)),
        clears: Gfp::EMPTY,
        sets: Gfp::NOWARN,
        no_direct_reclaim: false,
    },
];

/// The `PF_MEMALLOC*` flags of release `version`.
pub fn memalloc_flags(version: KernelVersion) -> impl Iterator<Item = &'static MemallocFlag> {
    MEMALLOC_FLAGS.iter().filter(move |f| f.in_release(version))
}

/// The flag named `name` in release `version`, if that release has it.
pub fn memalloc_flag(version: KernelVersion, name: &str) -> Option<&'static MemallocFlag> {
    memalloc_flags(version).find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noreclaim_exists_only_in_6_10_and_6_11() {
        assert!(memalloc_flag(v(6, 9), "PF_MEMALLOC_NORECLAIM").is_none());
        let f = memalloc_flag(v(6, 10), "PF_MEMALLOC_NORECLAIM").unwrap();
        assert_eq!(f.clears, Gfp::DIRECT_RECLAIM);
        assert!(memalloc_flag(KernelVersion::with_patch(6, 11, 5), "PF_MEMALLOC_NOWARN").is_some());
        assert!(memalloc_flag(v(6, 12), "PF_MEMALLOC_NORECLAIM").is_none());
    }

    #[test]
    fn pin_replaced_nocma() {
        assert!(memalloc_flag(v(5, 11), "PF_MEMALLOC_PIN").is_none());
        assert!(memalloc_flag(v(5, 11), "PF_MEMALLOC_NOCMA").is_some());
        assert_eq!(
            memalloc_flag(v(5, 12), "PF_MEMALLOC_PIN").unwrap().clears,
            Gfp::MOVABLE
        );
        assert!(memalloc_flag(v(4, 11), "PF_MEMALLOC_NOFS").is_none());
        assert_eq!(memalloc_flags(v(6, 12)).count(), 4);
    }
}
