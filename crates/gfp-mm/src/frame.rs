//! Page-frame metadata, the analogue of `struct page`: one 32-bit word per
//! frame saying what the frame is (free in the buddy lists, free on a per-CPU
//! list, inside a free block, allocated head, allocated tail), with its
//! order, compound bit, dirty bit, zone and the migratetype it was allocated
//! with. Misuse detection reads it; every change is a single store or
//! compare-and-swap.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use gfp::zone::MigrateType;

use crate::sync::{AtomicU32, Ordering};

/// What a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameKind {
    /// Not managed by the allocator (never handed out).
    Unmanaged,
    /// Head of a free block on a buddy free list (`PageBuddy`).
    Buddy,
    /// Head of a free block on a per-CPU list.
    PerCpu,
    /// Inside a free block, not its head.
    FreeTail,
    /// Head of an allocated block.
    Allocated,
    /// Inside an allocated block, not its head (a tail page when compound).
    Tail,
    /// Head of a block an allocation has taken off the buddy lists and not
    /// yet prepared: no longer free (the pageblock walks of claiming and
    /// compaction must not touch it), not yet allocated (a stale handle's
    /// free must not take it).
    Claimed,
}

const KIND_MASK: u32 = 0x7;
const ORDER_SHIFT: u32 = 3;
const ORDER_MASK: u32 = 0xf << ORDER_SHIFT;
const COMPOUND: u32 = 1 << 7;
const DIRTY: u32 = 1 << 8;
const OFFSET_SHIFT: u32 = 9;
const OFFSET_MASK: u32 = 0x7ff << OFFSET_SHIFT;
const MT_SHIFT: u32 = 20;
const MT_MASK: u32 = 0x3 << MT_SHIFT;
/// An allocated head whose block `prep_new_page()` zeroed.
const ZEROED: u32 = 1 << 22;
const ZONE_SHIFT: u32 = 24;
/// Zones a frame word can name: a machine has at most this many populated
/// zones (`MachineSpec::validate` refuses more).
pub const MAX_FRAME_ZONES: usize = 1 << (32 - ZONE_SHIFT);

/// One frame's metadata word, decoded on demand.
///
/// Layout: kind (3 bits), order (4), compound (1), dirty (1), offset of a
/// tail from its head (11), allocation migratetype (2), zeroed on
/// allocation (1, heads), zone id (8).
///
/// # Invariant
///
/// A word of kind [`FrameKind::Allocated`] in a machine's frame table
/// names one of the machine's zones: only `prep_new_page()` makes such
/// words, from a zone's id (the fast path's free relies on it to index the
/// per-CPU lists without a bounds check).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameState(pub(crate) u32);

/// Reads a frame word (`FrameTable::get` for a word already looked up).
#[inline(always)]
pub(crate) fn load(w: &AtomicU32) -> FrameState {
    FrameState(w.load(Ordering::Acquire))
}

/// Writes a frame word (`FrameTable::set` for a word already looked up).
#[inline(always)]
pub(crate) fn store(w: &AtomicU32, s: FrameState) {
    w.store(s.0, Ordering::Release);
}

impl FrameState {
    #[inline(always)]
    pub(crate) const fn make(kind: FrameKind, zone: usize, order: u32) -> FrameState {
        FrameState(kind as u32 | (order << ORDER_SHIFT) | ((zone as u32) << ZONE_SHIFT))
    }

    /// An allocated head; `mt` is the migratetype's index (0..4).
    #[inline(always)]
    pub(crate) const fn allocated(zone: usize, order: u32, compound: bool, mt: u32) -> FrameState {
        FrameState(
            FrameKind::Allocated as u32
                | (order << ORDER_SHIFT)
                | if compound { COMPOUND } else { 0 }
                | ((mt & 3) << MT_SHIFT)
                | ((zone as u32) << ZONE_SHIFT),
        )
    }

    #[inline(always)]
    pub(crate) const fn tail(zone: usize, offset: u32, compound: bool) -> FrameState {
        FrameState(
            FrameKind::Tail as u32
                | (offset << OFFSET_SHIFT)
                | if compound { COMPOUND } else { 0 }
                | ((zone as u32) << ZONE_SHIFT),
        )
    }

    /// The raw word.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// What the frame is.
    #[inline(always)]
    pub const fn kind(self) -> FrameKind {
        match self.0 & KIND_MASK {
            1 => FrameKind::Buddy,
            2 => FrameKind::PerCpu,
            3 => FrameKind::FreeTail,
            4 => FrameKind::Allocated,
            5 => FrameKind::Tail,
            6 => FrameKind::Claimed,
            _ => FrameKind::Unmanaged,
        }
    }

    /// The order of the block this frame heads (heads only).
    #[inline(always)]
    pub const fn order(self) -> u32 {
        (self.0 & ORDER_MASK) >> ORDER_SHIFT
    }

    /// Whether the frame belongs to a compound page.
    #[inline(always)]
    pub const fn compound(self) -> bool {
        self.0 & COMPOUND != 0
    }

    /// Whether an allocated head is marked dirty.
    #[inline(always)]
    pub const fn dirty(self) -> bool {
        self.0 & DIRTY != 0
    }

    pub(crate) const fn with_dirty(self, dirty: bool) -> FrameState {
        if dirty {
            FrameState(self.0 | DIRTY)
        } else {
            FrameState(self.0 & !DIRTY)
        }
    }

    /// An allocated, clean head of `order` (the free path's common case).
    #[inline(always)]
    pub(crate) const fn is_clean_head(self, order: u32) -> bool {
        self.0 & (KIND_MASK | ORDER_MASK | DIRTY)
            == FrameKind::Allocated as u32 | (order << ORDER_SHIFT)
    }

    /// This word with the order and compound bit of a head (`self` has
    /// none).
    #[inline(always)]
    pub(crate) const fn with_order(self, order: u32, compound: bool) -> FrameState {
        FrameState(self.0 | (order << ORDER_SHIFT) | if compound { COMPOUND } else { 0 })
    }

    /// The allocation migratetype's index (0..4).
    #[inline(always)]
    pub(crate) const fn alloc_mt_index(self) -> usize {
        ((self.0 & MT_MASK) >> MT_SHIFT) as usize
    }

    /// Distance from a tail frame to its head.
    #[inline(always)]
    pub const fn head_offset(self) -> u32 {
        (self.0 & OFFSET_MASK) >> OFFSET_SHIFT
    }

    /// An allocated head's word, marked as zeroed by `prep_new_page()`.
    #[inline(always)]
    pub(crate) const fn with_zeroed(self, zeroed: bool) -> FrameState {
        FrameState(self.0 | if zeroed { ZEROED } else { 0 })
    }

    /// Whether the allocator zeroed this allocated block when it handed it
    /// out (`__GFP_ZERO`, `init_on_alloc`).
    pub const fn zeroed_on_alloc(self) -> bool {
        self.0 & ZEROED != 0
    }

    /// The migratetype an allocated head was allocated with.
    pub const fn alloc_migratetype(self) -> MigrateType {
        match (self.0 & MT_MASK) >> MT_SHIFT {
            0 => MigrateType::Unmovable,
            1 => MigrateType::Movable,
            2 => MigrateType::Reclaimable,
            _ => MigrateType::HighAtomic,
        }
    }

    /// The id of the frame's zone.
    #[inline(always)]
    pub const fn zone(self) -> usize {
        (self.0 >> ZONE_SHIFT) as usize
    }
}

impl fmt::Debug for FrameState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}({:?}", self.0, self.kind())?;
        match self.kind() {
            FrameKind::Buddy | FrameKind::PerCpu | FrameKind::Claimed => {
                write!(f, "|order={}", self.order())?
            }
            FrameKind::Allocated => {
                write!(
                    f,
                    "|order={}|{}",
                    self.order(),
                    self.alloc_migratetype().name()
                )?;
                if self.compound() {
                    f.write_str("|head")?;
                }
                if self.dirty() {
                    f.write_str("|dirty")?;
                }
            }
            FrameKind::Tail => {
                write!(f, "|head-{}", self.head_offset())?;
                if self.compound() {
                    f.write_str("|compound")?;
                }
            }
            _ => {}
        }
        write!(f, "|zone={})", self.zone())
    }
}

/// The metadata of every frame of a machine.
pub(crate) struct FrameTable {
    words: Box<[AtomicU32]>,
}

impl FrameTable {
    pub(crate) fn new(zone_of: impl Iterator<Item = Option<usize>>) -> FrameTable {
        let words: Vec<AtomicU32> = zone_of
            .map(|z| AtomicU32::new(FrameState::make(FrameKind::Unmanaged, z.unwrap_or(0), 0).0))
            .collect();
        FrameTable {
            words: words.into_boxed_slice(),
        }
    }

    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }

    #[inline(always)]
    pub(crate) fn get(&self, pfn: u32) -> FrameState {
        FrameState(self.words[pfn as usize].load(Ordering::Acquire))
    }

    #[inline(always)]
    pub(crate) fn set(&self, pfn: u32, s: FrameState) {
        self.words[pfn as usize].store(s.0, Ordering::Release);
    }

    /// The words of the block of `order` at `pfn` (head first), or `None`
    /// when the block does not fit in the table: one bounds check for the
    /// whole block.
    #[inline(always)]
    pub(crate) fn block(&self, pfn: u32, order: u32) -> Option<&[AtomicU32]> {
        let start = pfn as usize;
        self.words.get(start..start + (1usize << order))
    }

    /// [`FrameTable::block`] without the bounds check.
    ///
    /// # Safety
    ///
    /// The block of `order` at `pfn` lies in the table.
    #[inline(always)]
    pub(crate) unsafe fn block_unchecked(&self, pfn: u32, order: u32) -> &[AtomicU32] {
        let start = pfn as usize;
        debug_assert!(start + (1usize << order) <= self.words.len());
        // SAFETY: the caller's promise.
        unsafe { self.words.get_unchecked(start..start + (1usize << order)) }
    }

    /// Replaces `old` with `new`; `false` if the word was not `old`.
    #[inline(always)]
    pub(crate) fn replace(&self, pfn: u32, old: FrameState, new: FrameState) -> bool {
        self.words[pfn as usize]
            .compare_exchange(old.0, new.0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let s =
            FrameState::allocated(200, 10, true, MigrateType::Reclaimable as u32).with_dirty(true);
        assert_eq!(s.kind(), FrameKind::Allocated);
        assert_eq!(s.order(), 10);
        assert!(s.compound() && s.dirty());
        assert_eq!(s.alloc_migratetype(), MigrateType::Reclaimable);
        assert_eq!(s.zone(), 200);
        let t = FrameState::tail(7, 1023, false);
        assert_eq!(
            (t.kind(), t.head_offset(), t.compound(), t.zone()),
            (FrameKind::Tail, 1023, false, 7)
        );
        assert_eq!(FrameState::make(FrameKind::PerCpu, 3, 2).order(), 2);
        assert!(!s.with_dirty(false).dirty());
    }
}
