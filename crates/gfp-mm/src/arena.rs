//! The memory behind the page frames: one contiguous region, frame `pfn` at
//! byte `pfn * PAGE_SIZE`. With `std` it is an anonymous `mmap`; without, a
//! heap block or a region the caller provides.
//!
//! This is one of the two places with `unsafe` code (the other is the spin
//! lock): the region is shared raw memory, and the allocator only touches a
//! page's bytes while it owns the page (between taking it off a free list and
//! handing it out), so no access through this module can race with a user.

use core::fmt;
use core::ptr::NonNull;

use crate::PAGE_SIZE;

/// Why an arena could not be set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArenaError {
    /// The region is smaller than the machine.
    TooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The system refused the memory (errno or allocation failure).
    OutOfMemory,
}

impl fmt::Display for ArenaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArenaError::TooSmall { needed, given } => {
                write!(
                    f,
                    "memory region of {given} bytes is smaller than the {needed} the machine needs"
                )
            }
            ArenaError::OutOfMemory => f.write_str("could not reserve memory for the page frames"),
        }
    }
}

impl core::error::Error for ArenaError {}

enum Backing {
    #[cfg(feature = "std")]
    Mmap,
    Heap(core::alloc::Layout),
    Borrowed,
}

/// The memory of all page frames.
///
/// # Invariants
///
/// `base` points to `pages * PAGE_SIZE` bytes that stay valid and are not
/// used by anything but this arena until it is dropped.
pub struct Arena {
    base: NonNull<u8>,
    pages: usize,
    backing: Backing,
}

// SAFETY: the arena is plain memory owned (or exclusively borrowed) by it;
// the pointer is not tied to a thread.
unsafe impl Send for Arena {}
// SAFETY: shared access only computes addresses and zeroes pages that the
// allocator owns exclusively at that moment (see the module documentation).
unsafe impl Sync for Arena {}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("base", &self.base)
            .field("pages", &self.pages)
            .finish()
    }
}

impl Arena {
    /// Anonymous private memory from `mmap`, lazily committed by the kernel
    /// and zero-filled.
    #[cfg(feature = "std")]
    pub fn mmap(pages: usize) -> Result<Arena, ArenaError> {
        let len = pages
            .checked_mul(PAGE_SIZE)
            .ok_or(ArenaError::OutOfMemory)?
            .max(PAGE_SIZE);
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing has no preconditions; the result is checked below.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(ArenaError::OutOfMemory);
        }
        Ok(Arena {
            base: NonNull::new(p.cast()).ok_or(ArenaError::OutOfMemory)?,
            pages,
            backing: Backing::Mmap,
        })
    }

    /// A zeroed, page-aligned block from the global allocator.
    pub fn heap(pages: usize) -> Result<Arena, ArenaError> {
        let len = pages
            .checked_mul(PAGE_SIZE)
            .ok_or(ArenaError::OutOfMemory)?
            .max(PAGE_SIZE);
        let layout = core::alloc::Layout::from_size_align(len, PAGE_SIZE)
            .map_err(|_| ArenaError::OutOfMemory)?;
        // SAFETY: `layout` has a non-zero size.
        let p = unsafe { alloc::alloc::alloc_zeroed(layout) };
        Ok(Arena {
            base: NonNull::new(p).ok_or(ArenaError::OutOfMemory)?,
            pages,
            backing: Backing::Heap(layout),
        })
    }

    /// A region the caller provides (a `no_std` system's RAM). It should be
    /// page-aligned; only its first `pages * PAGE_SIZE` bytes are used.
    pub fn from_region(region: &'static mut [u8], pages: usize) -> Result<Arena, ArenaError> {
        let needed = pages.saturating_mul(PAGE_SIZE);
        if region.len() < needed {
            return Err(ArenaError::TooSmall {
                needed,
                given: region.len(),
            });
        }
        Ok(Arena {
            base: NonNull::new(region.as_mut_ptr()).ok_or(ArenaError::OutOfMemory)?,
            pages,
            backing: Backing::Borrowed,
        })
    }

    /// The default backing: `mmap` with `std`, the heap without.
    pub fn new(pages: usize) -> Result<Arena, ArenaError> {
        #[cfg(feature = "std")]
        {
            Arena::mmap(pages)
        }
        #[cfg(not(feature = "std"))]
        {
            Arena::heap(pages)
        }
    }

    /// Number of frames.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Address of frame `pfn`'s first byte.
    ///
    /// # Panics
    ///
    /// If `pfn` is outside the arena.
    #[inline(always)]
    pub fn page_ptr(&self, pfn: u32) -> NonNull<u8> {
        assert!((pfn as usize) < self.pages, "pfn {pfn} outside the arena");
        // SAFETY: `pfn < pages`, so the offset stays inside the region
        // (struct invariant) and cannot wrap.
        unsafe { self.base.add(pfn as usize * PAGE_SIZE) }
    }

    /// Fills `count` frames from `pfn` with zeroes.
    ///
    /// # Safety
    ///
    /// The caller owns the frames exclusively: no other thread reads or
    /// writes them during the call (the allocator calls this between taking
    /// a block off a free list and returning it).
    pub(crate) unsafe fn zero(&self, pfn: u32, count: usize) {
        assert!(pfn as usize + count <= self.pages, "zeroing past the arena");
        let p = self.page_ptr(pfn);
        // SAFETY: the range is inside the region (checked above) and the
        // caller guarantees exclusive access.
        unsafe { core::ptr::write_bytes(p.as_ptr(), 0, count * PAGE_SIZE) };
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        match self.backing {
            #[cfg(feature = "std")]
            Backing::Mmap => {
                // SAFETY: the mapping was created by `mmap` with this length
                // and nothing refers to it once the arena is dropped.
                unsafe {
                    libc::munmap(
                        self.base.as_ptr().cast(),
                        (self.pages * PAGE_SIZE).max(PAGE_SIZE),
                    );
                }
            }
            Backing::Heap(layout) => {
                // SAFETY: allocated in `heap` with this layout.
                unsafe { alloc::alloc::dealloc(self.base.as_ptr(), layout) }
            }
            Backing::Borrowed => {}
        }
    }
}
