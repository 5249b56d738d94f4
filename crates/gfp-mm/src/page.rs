//! Page handles and the errors of allocation and freeing.

use alloc::string::String;
use core::fmt;

use gfp::zone::InvalidZoneCombination;
use gfp::Gfp;

use crate::frame::{FrameKind, FrameState};
use crate::nodemask::NodeId;

/// A handle to an allocated block: the machine's id and the head's PFN
/// (`struct page *`). Copyable like the kernel's pointer, so misuse (double
/// free, a stale handle) is possible and is detected from the frame's
/// metadata.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Page {
    machine: u32,
    pfn: u32,
}

impl Page {
    /// A handle from its parts (for tests of misuse, and for layers that
    /// store PFNs).
    pub const fn from_raw(machine: u32, pfn: u32) -> Page {
        Page { machine, pfn }
    }

    /// The page frame number.
    #[inline(always)]
    pub const fn pfn(self) -> u32 {
        self.pfn
    }

    /// The id of the machine the page belongs to.
    #[inline(always)]
    pub const fn machine_id(self) -> u32 {
        self.machine
    }

    /// The handle of the frame `n` frames further (`nth_page`).
    pub const fn nth(self, n: u32) -> Page {
        Page {
            machine: self.machine,
            pfn: self.pfn + n,
        }
    }
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Page(m{}:pfn {:#x})", self.machine, self.pfn)
    }
}

/// Why an allocation returned no page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// `order > MAX_PAGE_ORDER` (the kernel warns once and returns NULL).
    OrderTooLarge {
        /// The requested order.
        order: u32,
    },
    /// The zone modifiers name no zone.
    BadZone(InvalidZoneCombination),
    /// `__GFP_MOVABLE | __GFP_RECLAIMABLE` together name no migratetype.
    BadMigratetype(Gfp),
    /// The preferred node does not exist.
    NoSuchNode(NodeId),
    /// No memory: the request failed after the slow path (reported through
    /// the log sink unless `__GFP_NOWARN`).
    NoMemory {
        /// The mask in force (scopes applied).
        gfp: Gfp,
        /// The order.
        order: u32,
    },
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::OrderTooLarge { order } => write!(
                f,
                "order {order} is above MAX_PAGE_ORDER ({})",
                gfp::zone::MAX_PAGE_ORDER
            ),
            AllocError::BadZone(e) => e.fmt(f),
            AllocError::BadMigratetype(g) => write!(
                f,
                "invalid mask {g:?}: __GFP_MOVABLE and __GFP_RECLAIMABLE exclude one another"
            ),
            AllocError::NoSuchNode(n) => write!(f, "node {n} does not exist"),
            AllocError::NoMemory { gfp, order } => {
                write!(f, "page allocation failure: order:{order}, mode:{gfp:?}")
            }
        }
    }
}

impl core::error::Error for AllocError {}

/// What was wrong with a page passed to a free or query function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadPageReason {
    /// The handle belongs to another machine.
    ForeignAllocator {
        /// The machine named by the handle.
        owner: u32,
    },
    /// The PFN is beyond the machine's memory.
    OutOfRange,
    /// The frame is not managed by the allocator.
    NotManaged,
    /// The page is free already (double free, or never allocated).
    NotAllocated,
    /// The frame is a tail of an allocated block; free its head.
    TailPage {
        /// The head's PFN.
        head: u32,
    },
    /// The order given is not the order the block was allocated with.
    WrongOrder {
        /// The block's order.
        allocated: u32,
        /// The order given.
        freed: u32,
    },
    /// A block of order > 0 that is not compound was freed by head alone;
    /// free it with its order.
    NotCompound {
        /// The block's order.
        order: u32,
    },
    /// Metadata of the block is inconsistent (a tail does not point at
    /// its head).
    Corrupt {
        /// The frame found wrong.
        pfn: u32,
    },
}

/// A misuse report, rendered like the kernel's "BUG: Bad page state".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadPage {
    /// The frame concerned.
    pub pfn: u32,
    /// What was wrong.
    pub reason: BadPageReason,
    /// The frame's metadata when the problem was found.
    pub state: FrameState,
    /// The task that made the call.
    pub comm: String,
}

impl BadPageReason {
    /// The "page dumped because" text.
    pub fn describe(&self) -> String {
        match self {
            BadPageReason::ForeignAllocator { owner } => {
                alloc::format!("page belongs to another allocator (machine {owner})")
            }
            BadPageReason::OutOfRange => "pfn outside this machine's memory".into(),
            BadPageReason::NotManaged => "page is not managed by the allocator".into(),
            BadPageReason::NotAllocated => {
                "freeing a page that is not allocated (double free?)".into()
            }
            BadPageReason::TailPage { head } => {
                alloc::format!("freeing a tail page (head is pfn {head:#x})")
            }
            BadPageReason::WrongOrder { allocated, freed } => {
                alloc::format!("freed with order {freed}, allocated with order {allocated}")
            }
            BadPageReason::NotCompound { order } => {
                alloc::format!("order-{order} page is not compound: free it with its order")
            }
            BadPageReason::Corrupt { pfn } => alloc::format!("corrupted metadata at pfn {pfn:#x}"),
        }
    }
}

impl fmt::Display for BadPage {
    /// Three lines in the kernel's shape: the `BUG:` line, the page dump and
    /// the reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state;
        let (refcount, order) = match s.kind() {
            FrameKind::Allocated => (1, s.order()),
            FrameKind::Buddy | FrameKind::PerCpu => (0, s.order()),
            _ => (0, 0),
        };
        writeln!(
            f,
            "BUG: Bad page state in process {}  pfn:{:05x}",
            self.comm, self.pfn
        )?;
        writeln!(
            f,
            "page: refcount:{refcount} mapcount:0 mapping:0000000000000000 index:0x0 pfn:{:#x}",
            self.pfn
        )?;
        writeln!(f, "flags: {s:?} order:{order}")?;
        write!(f, "page dumped because: {}", self.reason.describe())
    }
}

impl core::error::Error for BadPage {}
