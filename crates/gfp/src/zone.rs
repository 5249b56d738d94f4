//! What a mask implies for placement and behaviour: the kernel's small helper
//! functions (`gfp_zone()`, `gfp_migratetype()`, `gfpflags_allow_blocking()`,
//! `gfp_compaction_allowed()`), with invalid combinations reported as errors
//! instead of the kernel's `VM_BUG_ON`.

use crate::flags::Gfp;
use core::fmt;

/// Orders above this are "costly": reclaim is not expected to produce them
/// reliably (`PAGE_ALLOC_COSTLY_ORDER`).
pub const PAGE_ALLOC_COSTLY_ORDER: u32 = 3;

/// The largest order the buddy allocator serves (`MAX_PAGE_ORDER` on x86_64).
pub const MAX_PAGE_ORDER: u32 = 10;

/// A memory zone, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum ZoneType {
    /// Memory addressable by the most limited devices (below 16 MiB on x86).
    Dma,
    /// Memory below 4 GiB, for 32-bit devices.
    Dma32,
    /// Ordinary, directly mapped memory.
    Normal,
    /// Memory without a permanent kernel mapping (32-bit machines).
    HighMem,
    /// Memory that holds only movable pages, so that it can be offlined.
    Movable,
}

impl ZoneType {
    /// Every zone type, lowest first.
    pub const ALL: [ZoneType; 5] = [
        ZoneType::Dma,
        ZoneType::Dma32,
        ZoneType::Normal,
        ZoneType::HighMem,
        ZoneType::Movable,
    ];

    /// The kernel's name of the zone (`DMA`, `DMA32`, `Normal`, `HighMem`, `Movable`).
    pub const fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Dma32 => "DMA32",
            ZoneType::Normal => "Normal",
            ZoneType::HighMem => "HighMem",
            ZoneType::Movable => "Movable",
        }
    }
}

impl fmt::Display for ZoneType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A combination of zone modifiers that names no zone (the kernel's
/// `GFP_ZONE_BAD` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidZoneCombination {
    /// The zone-modifier bits of the rejected mask.
    pub modifiers: Gfp,
}

impl fmt::Display for InvalidZoneCombination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid zone modifiers {}: __GFP_DMA, __GFP_DMA32 and __GFP_HIGHMEM exclude one another",
            self.modifiers.kernel_names()
        )
    }
}

impl core::error::Error for InvalidZoneCombination {}

/// The highest zone an allocation with this mask may use (`gfp_zone()`).
///
/// `__GFP_MOVABLE` alone means ZONE_NORMAL; only `__GFP_HIGHMEM | __GFP_MOVABLE`
/// reaches ZONE_MOVABLE. Two of `DMA`, `DMA32`, `HIGHMEM` together are an error.
pub const fn highest_zone(gfp: Gfp) -> Result<ZoneType, InvalidZoneCombination> {
    let dma = gfp.contains(Gfp::DMA);
    let dma32 = gfp.contains(Gfp::DMA32);
    let high = gfp.contains(Gfp::HIGHMEM);
    let movable = gfp.contains(Gfp::MOVABLE);
    let zone = match (dma, dma32, high) {
        (false, false, false) => ZoneType::Normal,
        (true, false, false) => ZoneType::Dma,
        (false, true, false) => ZoneType::Dma32,
        (false, false, true) if movable => ZoneType::Movable,
        (false, false, true) => ZoneType::HighMem,
        _ => {
            return Err(InvalidZoneCombination {
                modifiers: Gfp::from_bits_retain(gfp.bits() & Gfp::ZONEMASK.bits()),
            })
        }
    };
    Ok(zone)
}

/// How a page may be moved, which decides the free lists it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum MigrateType {
    /// Kernel memory that cannot move.
    Unmovable,
    /// Pages that can be migrated (user memory, page cache).
    Movable,
    /// Slab pages that shrinkers can free.
    Reclaimable,
    /// Pageblocks reserved for high-order atomic allocations.
    HighAtomic,
}

impl MigrateType {
    /// The kernel's name (`Unmovable`, `Movable`, `Reclaimable`, `HighAtomic`).
    pub const fn name(self) -> &'static str {
        match self {
            MigrateType::Unmovable => "Unmovable",
            MigrateType::Movable => "Movable",
            MigrateType::Reclaimable => "Reclaimable",
            MigrateType::HighAtomic => "HighAtomic",
        }
    }
}

/// The migratetype of an allocation (`gfp_migratetype()`). `MOVABLE` together
/// with `RECLAIMABLE` is a caller bug the kernel warns about; it maps to
/// HighAtomic there, and is reported as `None` here.
pub const fn migratetype(gfp: Gfp) -> Option<MigrateType> {
    match (gfp.contains(Gfp::MOVABLE), gfp.contains(Gfp::RECLAIMABLE)) {
        (false, false) => Some(MigrateType::Unmovable),
        (true, false) => Some(MigrateType::Movable),
        (false, true) => Some(MigrateType::Reclaimable),
        (true, true) => None,
    }
}

/// Whether the allocation may sleep (`gfpflags_allow_blocking()`).
#[inline]
pub const fn may_block(gfp: Gfp) -> bool {
    gfp.contains(Gfp::DIRECT_RECLAIM)
}

/// Whether the allocation may run compaction (`gfp_compaction_allowed()`):
/// migration can issue I/O, so it needs `__GFP_IO`.
#[inline]
pub const fn compaction_allowed(gfp: Gfp) -> bool {
    gfp.contains(Gfp::IO)
}

/// Whether `order` is costly (above [`PAGE_ALLOC_COSTLY_ORDER`]).
#[inline]
pub const fn is_costly_order(order: u32) -> bool {
    order > PAGE_ALLOC_COSTLY_ORDER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_table_matches_the_kernel() {
        // All sixteen combinations of the four zone modifiers.
        let expect = |bits: u32| -> Option<ZoneType> {
            match bits {
                0 | 8 => Some(ZoneType::Normal),
                1 | 9 => Some(ZoneType::Dma),
                2 => Some(ZoneType::HighMem),
                4 | 12 => Some(ZoneType::Dma32),
                10 => Some(ZoneType::Movable),
                _ => None,
            }
        };
        for bits in 0..16 {
            assert_eq!(
                highest_zone(Gfp::from_bits_retain(bits)).ok(),
                expect(bits),
                "{bits}"
            );
        }
        assert_eq!(highest_zone(Gfp::HIGHUSER_MOVABLE), Ok(ZoneType::Movable));
        let err = highest_zone(Gfp::DMA | Gfp::DMA32 | Gfp::KERNEL).unwrap_err();
        assert_eq!(err.modifiers, Gfp::DMA | Gfp::DMA32);
    }

    #[test]
    fn helpers() {
        assert_eq!(migratetype(Gfp::KERNEL), Some(MigrateType::Unmovable));
        assert_eq!(
            migratetype(Gfp::HIGHUSER_MOVABLE),
            Some(MigrateType::Movable)
        );
        assert_eq!(
            migratetype(Gfp::KERNEL | Gfp::RECLAIMABLE),
            Some(MigrateType::Reclaimable)
        );
        assert_eq!(migratetype(Gfp::MOVABLE | Gfp::RECLAIMABLE), None);
        assert!(may_block(Gfp::KERNEL));
        assert!(!may_block(Gfp::ATOMIC));
        assert!(!may_block(Gfp::NOWAIT));
        assert!(compaction_allowed(Gfp::NOFS));
        assert!(!compaction_allowed(Gfp::NOIO));
        assert!(is_costly_order(4));
        assert!(!is_costly_order(3));
    }
}
