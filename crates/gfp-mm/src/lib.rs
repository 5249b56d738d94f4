//! A Linux-shaped page allocator driven by GFP masks.
//!
//! The machine ([`Machine`], built from a [`MachineSpec`]) has NUMA nodes
//! with DMA, DMA32, Normal and optionally HighMem and Movable zones, real
//! 4 KiB page frames in one [`Arena`], and per frame a metadata word
//! ([`FrameState`], the `struct page` analogue). Allocation follows Linux
//! 6.12: zonelists by distance, lowmem reserves, min/low/high watermarks from
//! `min_free_kbytes`, reserves derived from the mask and the task
//! ([`AllocFlags`]), a buddy allocator with migratetypes, pageblock
//! fallback and stealing, per-CPU lists for orders 0..=3 (with the batch
//! interfaces [`Machine::alloc_pages_bulk`] and
//! [`Machine::free_pages_bulk`]), and the slow path's skeleton with
//! pluggable steps ([`SlowPathHooks`]).
//!
//! The core is `no_std` + `alloc` and deterministic: every call takes a
//! [`Cx`] naming the CPU, the task ([`Task`], with its
//! [`gfp::context::ScopeState`]), the [`Environment`] (clock, sleeping,
//! wake-ups, log) and the hooks. The `std` feature adds [`rt`], a threaded
//! runtime with the kernel's entry points (`alloc_pages(gfp, order)`, ...)
//! that read the calling thread's scopes, and [`mod@bench`].
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use gfp::Gfp;
//! use gfp_mm::{rt::Mm, MachineSpec};
//!
//! let mm = Mm::new(MachineSpec::test_64mib()).unwrap();
//! let page = mm.alloc_pages(Gfp::KERNEL | Gfp::ZERO, 0).unwrap();
//! assert_eq!(mm.free_pages(page, 1).unwrap_err().reason,
//!            gfp_mm::BadPageReason::WrongOrder { allocated: 0, freed: 1 });
//! mm.free_pages(page, 0).unwrap();
//! # }
//! ```
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// Bytes per page frame.
pub const PAGE_SIZE: usize = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

mod sync;

pub mod alloc_flags;
pub mod arena;
pub mod cpuset;
pub mod env;
pub mod frame;
pub mod hooks;
pub mod mutation;
pub mod nodemask;
pub mod page;
pub mod pcp;
pub mod report;
pub mod spec;
pub mod stats;
pub mod task;
pub mod zone;

pub mod compaction;
pub mod kswapd;
pub mod lockdep;
pub mod memcg;
pub mod mempool;
pub mod oom;
pub mod reclaim;
pub mod shrinker;
pub mod slab;
pub mod vm;

mod bulk;
mod free;
mod machine;
mod page_alloc;

#[cfg(feature = "std")]
pub mod bench;
#[cfg(feature = "std")]
pub mod rt;
#[cfg(feature = "std")]
pub mod vmbench;

pub use alloc_flags::{gfp_to_alloc_flags, pfmemalloc_flags, AllocFlags};
pub use arena::{Arena, ArenaError};
pub use cpuset::{Cpuset, CpusetError, CpusetId, CpusetTree};
pub use env::{Environment, LogLevel, VirtualEnv};
pub use frame::{FrameKind, FrameState};
pub use hooks::{NoProgress, SlowPathHooks};
pub use machine::{default_min_free_kbytes, Cx, Machine, MachineError};
pub use nodemask::{NodeId, NodeMask};
pub use page::{AllocError, BadPage, BadPageReason, Page};
pub use page_alloc::{AllocContext, MAX_RECLAIM_RETRIES};
pub use report::{BuddyInfo, PageCounts, ZoneInfo};
pub use spec::{MachineSpec, NodeSpec, Tunables};
pub use stats::{Event, NodeStat, ZoneEvent};
pub use task::{ExecContext, Task};
pub use vm::{PageKind, PageSpec, Pid, Vm, VmConfig, VmStats};
pub use zone::{Zone, ZoneId};
