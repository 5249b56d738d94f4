//! The allocator's internal flags (`ALLOC_*` of mm/internal.h) and how a GFP
//! mask and the task derive them (`gfp_to_alloc_flags()`,
//! `__gfp_pfmemalloc_flags()` of Linux 6.12).

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign, Not, Sub, SubAssign};

use gfp::Gfp;

use crate::task::{ExecContext, Task};

/// `ALLOC_*` flags, with the kernel's values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AllocFlags(u32);

impl AllocFlags {
    /// Check against the min watermark.
    pub const WMARK_MIN: AllocFlags = AllocFlags(0);
    /// Check against the low watermark.
    pub const WMARK_LOW: AllocFlags = AllocFlags(1);
    /// Check against the high watermark.
    pub const WMARK_HIGH: AllocFlags = AllocFlags(2);
    /// Do not check watermarks at all.
    pub const NO_WATERMARKS: AllocFlags = AllocFlags(0x04);
    /// The bits selecting the watermark.
    pub const WMARK_MASK: AllocFlags = AllocFlags(0x03);
    /// OOM victim: half of what the other reserve users leave.
    pub const OOM: AllocFlags = AllocFlags(0x08);
    /// Cannot block: a further quarter of the min watermark.
    pub const NON_BLOCK: AllocFlags = AllocFlags(0x10);
    /// `__GFP_HIGH`: half of the min watermark.
    pub const MIN_RESERVE: AllocFlags = AllocFlags(0x20);
    /// Check the task's cpuset.
    pub const CPUSET: AllocFlags = AllocFlags(0x40);
    /// May use CMA areas (none are modelled; kept for the values).
    pub const CMA: AllocFlags = AllocFlags(0x80);
    /// Avoid mixing pageblock types until remote nodes are considered.
    pub const NOFRAGMENT: AllocFlags = AllocFlags(0x100);
    /// May use (and create) high-order atomic reserve pageblocks.
    pub const HIGHATOMIC: AllocFlags = AllocFlags(0x200);
    /// May wake kswapd (same bit as `__GFP_KSWAPD_RECLAIM`).
    pub const KSWAPD: AllocFlags = AllocFlags(0x800);
    /// Any access below the min watermark.
    pub const RESERVES: AllocFlags = AllocFlags(0x10 | 0x20 | 0x200 | 0x08);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether all bits of `o` are set (for the watermark values, use
    /// [`AllocFlags::wmark`]).
    #[inline(always)]
    pub const fn contains(self, o: AllocFlags) -> bool {
        self.0 & o.0 == o.0
    }

    /// Whether any bit of `o` is set.
    #[inline(always)]
    pub const fn intersects(self, o: AllocFlags) -> bool {
        self.0 & o.0 != 0
    }

    /// The watermark index (0 min, 1 low, 2 high).
    #[inline(always)]
    pub const fn wmark(self) -> usize {
        (self.0 & 3) as usize
    }
}

impl BitOr for AllocFlags {
    type Output = AllocFlags;
    fn bitor(self, o: AllocFlags) -> AllocFlags {
        AllocFlags(self.0 | o.0)
    }
}
impl BitOrAssign for AllocFlags {
    fn bitor_assign(&mut self, o: AllocFlags) {
        self.0 |= o.0;
    }
}
impl BitAnd for AllocFlags {
    type Output = AllocFlags;
    fn bitand(self, o: AllocFlags) -> AllocFlags {
        AllocFlags(self.0 & o.0)
    }
}
impl Not for AllocFlags {
    type Output = AllocFlags;
    fn not(self) -> AllocFlags {
        AllocFlags(!self.0)
    }
}
impl Sub for AllocFlags {
    type Output = AllocFlags;
    fn sub(self, o: AllocFlags) -> AllocFlags {
        AllocFlags(self.0 & !o.0)
    }
}
impl SubAssign for AllocFlags {
    fn sub_assign(&mut self, o: AllocFlags) {
        self.0 &= !o.0;
    }
}

impl fmt::Debug for AllocFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wm = [
            "ALLOC_WMARK_MIN",
            "ALLOC_WMARK_LOW",
            "ALLOC_WMARK_HIGH",
            "?",
        ][self.wmark()];
        f.write_str(wm)?;
        for (flag, name) in [
            (AllocFlags::NO_WATERMARKS, "ALLOC_NO_WATERMARKS"),
            (AllocFlags::OOM, "ALLOC_OOM"),
            (AllocFlags::NON_BLOCK, "ALLOC_NON_BLOCK"),
            (AllocFlags::MIN_RESERVE, "ALLOC_MIN_RESERVE"),
            (AllocFlags::CPUSET, "ALLOC_CPUSET"),
            (AllocFlags::CMA, "ALLOC_CMA"),
            (AllocFlags::NOFRAGMENT, "ALLOC_NOFRAGMENT"),
            (AllocFlags::HIGHATOMIC, "ALLOC_HIGHATOMIC"),
            (AllocFlags::KSWAPD, "ALLOC_KSWAPD"),
        ] {
            if self.contains(flag) {
                write!(f, "|{name}")?;
            }
        }
        Ok(())
    }
}

/// `gfp_to_alloc_flags()`: the slow path's flags for a request.
///
/// `__GFP_HIGH` gives `ALLOC_MIN_RESERVE`; a request that cannot reclaim
/// directly gets `ALLOC_NON_BLOCK` (unless `__GFP_NOMEMALLOC`), and with
/// `__GFP_HIGH` at order > 0 also `ALLOC_HIGHATOMIC`; a non-blocking
/// `__GFP_HIGH` request ignores the cpuset; a blocking realtime task gets
/// `ALLOC_MIN_RESERVE`.
pub fn gfp_to_alloc_flags(gfp: Gfp, order: u32, task: &Task<'_>) -> AllocFlags {
    let mut af = AllocFlags::WMARK_MIN | AllocFlags::CPUSET;
    // __GFP_HIGH and __GFP_KSWAPD_RECLAIM have the values of
    // ALLOC_MIN_RESERVE and ALLOC_KSWAPD.
    af |= AllocFlags(gfp.bits() & (Gfp::HIGH.bits() | Gfp::KSWAPD_RECLAIM.bits()));
    if !gfp.contains(Gfp::DIRECT_RECLAIM) {
        if !gfp.contains(Gfp::NOMEMALLOC) {
            af |= AllocFlags::NON_BLOCK;
            if order > 0 && af.contains(AllocFlags::MIN_RESERVE) {
                af |= AllocFlags::HIGHATOMIC;
            }
        }
        if af.contains(AllocFlags::MIN_RESERVE) {
            af -= AllocFlags::CPUSET;
        }
    } else if task.realtime && task.context == ExecContext::Task {
        af |= AllocFlags::MIN_RESERVE;
    }
    af
}

/// `__gfp_pfmemalloc_flags()`: full access to the reserves
/// (`ALLOC_NO_WATERMARKS`) for `__GFP_MEMALLOC` and PF_MEMALLOC tasks,
/// `ALLOC_OOM` for OOM victims, nothing with `__GFP_NOMEMALLOC`.
pub fn pfmemalloc_flags(gfp: Gfp, task: &Task<'_>) -> AllocFlags {
    if gfp.contains(Gfp::NOMEMALLOC) {
        return AllocFlags::default();
    }
    if gfp.contains(Gfp::MEMALLOC) {
        return AllocFlags::NO_WATERMARKS;
    }
    if task.context == ExecContext::SoftIrq && task.memalloc() {
        return AllocFlags::NO_WATERMARKS;
    }
    if !task.in_interrupt() {
        if task.memalloc() {
            return AllocFlags::NO_WATERMARKS;
        }
        if task.oom_victim {
            return AllocFlags::OOM;
        }
    }
    AllocFlags::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gfp::context::{ScopeChange, TaskContext};
    use gfp::TaskFlags;

    #[test]
    fn atomic_gets_min_reserve_and_non_block() {
        let t = Task::new();
        let af = gfp_to_alloc_flags(Gfp::ATOMIC, 0, &t);
        assert_eq!(
            af,
            AllocFlags::MIN_RESERVE | AllocFlags::NON_BLOCK | AllocFlags::KSWAPD
        );
        let af3 = gfp_to_alloc_flags(Gfp::ATOMIC, 3, &t);
        assert!(af3.contains(AllocFlags::HIGHATOMIC));
        let nowait = gfp_to_alloc_flags(Gfp::NOWAIT, 0, &t);
        assert_eq!(
            nowait,
            AllocFlags::CPUSET | AllocFlags::NON_BLOCK | AllocFlags::KSWAPD
        );
        let nomem = gfp_to_alloc_flags(Gfp::ATOMIC | Gfp::NOMEMALLOC, 2, &t);
        assert!(!nomem.intersects(AllocFlags::NON_BLOCK | AllocFlags::HIGHATOMIC));
        let kernel = gfp_to_alloc_flags(Gfp::KERNEL, 0, &t);
        assert_eq!(kernel, AllocFlags::CPUSET | AllocFlags::KSWAPD);
        let rt = Task {
            realtime: true,
            ..Task::new()
        };
        assert!(gfp_to_alloc_flags(Gfp::KERNEL, 0, &rt).contains(AllocFlags::MIN_RESERVE));
    }

    #[test]
    fn pfmemalloc_rules() {
        let ctx = TaskContext::new();
        let plain = Task::new();
        assert_eq!(pfmemalloc_flags(Gfp::KERNEL, &plain), AllocFlags::default());
        assert_eq!(
            pfmemalloc_flags(Gfp::KERNEL | Gfp::MEMALLOC, &plain),
            AllocFlags::NO_WATERMARKS
        );
        assert_eq!(
            pfmemalloc_flags(Gfp::KERNEL | Gfp::MEMALLOC | Gfp::NOMEMALLOC, &plain),
            AllocFlags::default()
        );
        ctx.enter(ScopeChange::task(TaskFlags::MEMALLOC)).unwrap();
        let memalloc = Task::new().with_scope(ctx.state());
        assert_eq!(
            pfmemalloc_flags(Gfp::KERNEL, &memalloc),
            AllocFlags::NO_WATERMARKS
        );
        assert_eq!(
            pfmemalloc_flags(Gfp::KERNEL | Gfp::NOMEMALLOC, &memalloc),
            AllocFlags::default()
        );
        let irq = Task {
            context: ExecContext::HardIrq,
            ..memalloc
        };
        assert_eq!(pfmemalloc_flags(Gfp::ATOMIC, &irq), AllocFlags::default());
        let victim = Task {
            oom_victim: true,
            ..Task::new()
        };
        assert_eq!(pfmemalloc_flags(Gfp::KERNEL, &victim), AllocFlags::OOM);
    }
}
