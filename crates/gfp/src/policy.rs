//! The scope policy: for every flag and direction (set or clear), whether a
//! scope may change it for everything allocated inside it, and why.
//!
//! The verdicts follow Michal Hocko's analysis of scoped GFP flags
//! (linux-mm, 2024-08-28); cells it does not discuss are decided by the same
//! test it applies: a scope is safe only if no nested allocation, written
//! without knowing about the scope, can break because of it.
//!
//! The table is written once, in the `policy_table!` invocation below. It
//! expands into the runtime table [`TABLE`] and into the type-level markers of
//! [`flag`], whose trait implementations make a refused scope a compile
//! error carrying the cell's reason.

use core::fmt;

use crate::flags::{Flag, Gfp};

/// Setting or clearing a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The scope ORs the flag into every nested mask.
    Set,
    /// The scope removes the flag from every nested mask.
    Clear,
}

impl Direction {
    /// `set` or `clear`.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Set => "set",
            Direction::Clear => "clear",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The verdict on one scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Safe, and wanted.
    Safe,
    /// Safe, but nobody has asked for such a scope.
    SafeUnrequested,
    /// Already available as a task flag, through its `memalloc_*_save()` API.
    TaskFlag(&'static str),
    /// Harmless but without a use.
    Pointless,
    /// Breaks nested allocations: refused.
    Unsafe,
    /// The flag belongs to mm itself; nothing outside mm may scope it: refused.
    MmInternal,
}

impl Verdict {
    /// Whether a scope with this verdict may be created.
    pub const fn allowed(self) -> bool {
        !matches!(self, Verdict::Unsafe | Verdict::MmInternal)
    }

    /// A short machine-friendly name (`safe`, `safe-unrequested`,
    /// `task-flag`, `pointless`, `unsafe`, `mm-internal`).
    pub const fn name(self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::SafeUnrequested => "safe-unrequested",
            Verdict::TaskFlag(_) => "task-flag",
            Verdict::Pointless => "pointless",
            Verdict::Unsafe => "unsafe",
            Verdict::MmInternal => "mm-internal",
        }
    }

    /// A human-readable description.
    pub fn describe(self) -> alloc::string::String {
        match self {
            Verdict::Safe => "safe".into(),
            Verdict::SafeUnrequested => "safe, but nobody asked for it".into(),
            Verdict::TaskFlag(pf) => alloc::format!("already exists as {pf}"),
            Verdict::Pointless => "pointless".into(),
            Verdict::Unsafe => "unsafe".into(),
            Verdict::MmInternal => "mm-internal".into(),
        }
    }
}

/// One cell of the table: a flag changed in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The flag.
    pub flag: Flag,
    /// Set or clear.
    pub direction: Direction,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one sentence that names the flag.
    pub reason: &'static str,
    /// For refused cells, the kind of nested allocation that breaks.
    pub breaks: Option<&'static str>,
    /// For unsafe cells, which nested masks the scope breaks: the same
    /// statement as [`Cell::breaks`], in a form a program can apply to a
    /// nested call site's own mask (before the scope). `gfp scan` reads it to
    /// tell a scope that breaks a nested allocation from one that only
    /// changes it.
    pub breaks_when: Option<Nested>,
}

/// A condition on a nested allocation's own mask: the masks a refused scope
/// breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nested {
    /// The nested mask has every flag of the set.
    Has(Gfp),
    /// The nested mask has none of the flags of the set.
    Lacks(Gfp),
    /// Both conditions hold.
    Both(&'static Nested, &'static Nested),
    /// Either condition holds.
    Either(&'static Nested, &'static Nested),
}

impl Nested {
    /// Whether a nested allocation with mask `gfp` is broken by the scope.
    pub const fn matches(&self, gfp: Gfp) -> bool {
        match *self {
            Nested::Has(f) => gfp.bits() & f.bits() == f.bits(),
            Nested::Lacks(f) => gfp.bits() & f.bits() == 0,
            Nested::Both(a, b) => a.matches(gfp) && b.matches(gfp),
            Nested::Either(a, b) => a.matches(gfp) || b.matches(gfp),
        }
    }
}

impl fmt::Display for Nested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Nested::Has(g) => write!(f, "has {}", g.kernel_names()),
            Nested::Lacks(g) => write!(f, "lacks {}", g.kernel_names()),
            Nested::Both(a, b) => write!(f, "({a} and {b})"),
            Nested::Either(a, b) => write!(f, "({a} or {b})"),
        }
    }
}

/// A nested allocation that retries with the default policy: it may enter
/// direct reclaim and asked neither to give up early nor to fail softly, so
/// the allocator loops for it (small orders) and the OOM killer may run.
const DEFAULT_RETRY: Nested = Nested::Both(
    &Nested::Has(Gfp::DIRECT_RECLAIM),
    &Nested::Lacks(Gfp::from_bits_retain(
        Gfp::NORETRY.bits() | Gfp::RETRY_MAYFAIL.bits(),
    )),
);

impl Cell {
    /// Whether such a scope may be created.
    pub const fn allowed(&self) -> bool {
        self.verdict.allowed()
    }
}

/// Both cells of one flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagPolicy {
    /// The flag.
    pub flag: Flag,
    /// The verdict on scopes that set it.
    pub set: Cell,
    /// The verdict on scopes that clear it.
    pub clear: Cell,
}

/// Both cells of `flag`.
pub fn row(flag: Flag) -> &'static FlagPolicy {
    &TABLE[flag_index(flag)]
}

/// The cell of `flag` in `direction`.
pub fn cell(flag: Flag, direction: Direction) -> &'static Cell {
    let row = row(flag);
    match direction {
        Direction::Set => &row.set,
        Direction::Clear => &row.clear,
    }
}

fn flag_index(flag: Flag) -> usize {
    // TABLE is in bit order and bit 9 has no flag.
    let bit = flag.bit() as usize;
    if bit > 9 {
        bit - 1
    } else {
        bit
    }
}

/// A type-level marker for a flag, used by [`crate::scope::set`] and
/// [`crate::scope::clear`].
pub trait FlagMarker {
    /// The flag the marker stands for.
    const FLAG: Flag;
}

/// Implemented by the markers of flags that a scope may set.
pub trait ScopedSet: FlagMarker {}

/// Implemented by the markers of flags that a scope may clear.
pub trait ScopedClear: FlagMarker {}

macro_rules! when {
    () => {
        None
    };
    ($e:expr) => {
        Some($e)
    };
}

macro_rules! verdict {
    (Safe) => {
        Verdict::Safe
    };
    (SafeUnrequested) => {
        Verdict::SafeUnrequested
    };
    (Pointless) => {
        Verdict::Pointless
    };
    (Unsafe) => {
        Verdict::Unsafe
    };
    (MmInternal) => {
        Verdict::MmInternal
    };
    (TaskFlag($pf:literal)) => {
        Verdict::TaskFlag($pf)
    };
}

/// Emits the type-level half of one cell: an allowed cell implements the
/// scope trait; a refused one implements it only under a bound on a trait
/// that has no implementation and whose diagnostic is the cell's reason.
macro_rules! cell_impl {
    ($m:ident, $scoped:ident, $refused:ident, Unsafe, $reason:literal, $breaks:literal) => {
        cell_impl!(@refuse $m, $scoped, $refused, $reason, $breaks);
    };
    ($m:ident, $scoped:ident, $refused:ident, MmInternal, $reason:literal, $breaks:literal) => {
        cell_impl!(@refuse $m, $scoped, $refused, $reason, $breaks);
    };
    ($m:ident, $scoped:ident, $refused:ident, $v:ident $(($pf:literal))?, $reason:literal, $breaks:literal) => {
        impl $scoped for $m {}
    };
    (@refuse $m:ident, $scoped:ident, $refused:ident, $reason:literal, $breaks:literal) => {
        /// Refused cell: no implementation exists, on purpose.
        #[diagnostic::on_unimplemented(
            message = $reason,
            label = "refused by gfp's scope policy",
            note = $breaks
        )]
        pub trait $refused {}
        // The higher-ranked bound keeps the where-clause from being trivially
        // false (an error of its own); it can never be satisfied.
        impl $scoped for $m where for<'a> &'a $m: $refused {}
    };
}

macro_rules! policy_table {
    ($(
        $m:ident {
            set: $sv:ident $(($spf:literal))?, $sreason:literal, $sbreaks:literal $(, when $swhen:expr)?;
            clear: $cv:ident $(($cpf:literal))?, $creason:literal, $cbreaks:literal $(, when $cwhen:expr)?;
        }
    )+) => {
        /// Every flag's policy, in bit order.
        pub const TABLE: &[FlagPolicy] = &[$(
            FlagPolicy {
                flag: Flag::$m,
                set: Cell {
                    flag: Flag::$m,
                    direction: Direction::Set,
                    verdict: verdict!($sv $(($spf))?),
                    reason: $sreason,
                    breaks: if $sbreaks.is_empty() { None } else { Some($sbreaks) },
                    breaks_when: when!($($swhen)?),
                },
                clear: Cell {
                    flag: Flag::$m,
                    direction: Direction::Clear,
                    verdict: verdict!($cv $(($cpf))?),
                    reason: $creason,
                    breaks: if $cbreaks.is_empty() { None } else { Some($cbreaks) },
                    breaks_when: when!($($cwhen)?),
                },
            },
        )+];

        /// Type-level markers, one per flag, named after the kernel flag in
        /// CamelCase (`Nowarn` for `__GFP_NOWARN`). Pass them to
        /// [`crate::scope::set`] and [`crate::scope::clear`]; a refused scope
        /// does not compile, and the error says why.
        pub mod flag {
            use super::FlagMarker;
            use crate::flags::Flag;
            $(
                #[doc = concat!("Marker for `", stringify!($m), "`: set: ", $sreason, " Clear: ", $creason)]
                #[derive(Clone, Copy, Debug)]
                pub struct $m;
                impl FlagMarker for $m {
                    const FLAG: Flag = Flag::$m;
                }
            )+

            /// The traits behind refused cells. They have no implementations;
            /// their only purpose is the compile error they produce.
            #[allow(non_snake_case)]
            pub mod refused {
                $(
                    #[doc = concat!("Refused cells of `", stringify!($m), "`.")]
                    pub mod $m {
                        use super::super::$m;
                        use crate::policy::{ScopedClear, ScopedSet};
                        cell_impl!($m, ScopedSet, SetRefused, $sv $(($spf))?, $sreason, $sbreaks);
                        cell_impl!($m, ScopedClear, ClearRefused, $cv $(($cpf))?, $creason, $cbreaks);
                    }
                )+
            }
        }
    };
}

policy_table! {
    Dma {
        set: SafeUnrequested, "setting __GFP_DMA in a scope only narrows nested allocations to ZONE_DMA, the most restrictive zone, which every caller can use (the scope replaces the other zone modifiers); nobody has asked for it", "";
        clear: Unsafe, "clearing __GFP_DMA in a scope hands nested GFP_DMA allocations memory above the limit their device can address", "breaks: a nested GFP_DMA allocation for a device that addresses only ZONE_DMA", when Nested::Has(Gfp::DMA);
    }
    Highmem {
        set: Unsafe, "setting __GFP_HIGHMEM in a scope gives nested lowmem allocations pages without a permanent kernel mapping, which their callers touch directly", "breaks: a nested GFP_KERNEL allocation whose caller uses the page through the kernel's direct mapping", when Nested::Lacks(Gfp::HIGHMEM);
        clear: SafeUnrequested, "clearing __GFP_HIGHMEM in a scope only keeps nested allocations in directly mapped memory, which every highmem-capable caller can use; nobody has asked for it", "";
    }
    Dma32 {
        set: Unsafe, "setting __GFP_DMA32 in a scope serves nested __GFP_DMA allocations from ZONE_DMA32, above the limit of the devices that asked for ZONE_DMA", "breaks: a nested GFP_DMA allocation for a device that addresses only ZONE_DMA", when Nested::Has(Gfp::DMA);
        clear: Unsafe, "clearing __GFP_DMA32 in a scope hands nested GFP_DMA32 allocations memory above 4 GiB that their 32-bit device cannot address", "breaks: a nested GFP_DMA32 allocation for a 32-bit device", when Nested::Has(Gfp::DMA32);
    }
    Movable {
        set: Unsafe, "setting __GFP_MOVABLE in a scope marks nested kernel allocations movable although nothing can move them, so they pin movable pageblocks and ZONE_MOVABLE and defeat compaction and memory offlining", "breaks: a nested GFP_KERNEL allocation of a long-lived kernel object", when Nested::Lacks(Gfp::MOVABLE);
        clear: TaskFlag("PF_MEMALLOC_PIN"), "clearing __GFP_MOVABLE in a scope keeps nested allocations out of movable memory so that they may be pinned for long; this is memalloc_pin_save()", "";
    }
    Reclaimable {
        set: Unsafe, "setting __GFP_RECLAIMABLE in a scope groups nested allocations with shrinker-backed slab pages although they have no shrinker, so reclaimable pageblocks fill with memory nothing can free", "breaks: a nested page allocation with no shrinker behind it", when Nested::Lacks(Gfp::from_bits_retain(Gfp::RECLAIMABLE.bits() | Gfp::MOVABLE.bits()));
        clear: MmInternal, "__GFP_RECLAIMABLE is the slab allocator's own placement hint for caches with shrinkers; nested allocations cannot be assumed to have shrinkers, and nothing outside mm should override the hint", "";
    }
    High {
        set: SafeUnrequested, "setting __GFP_HIGH in a scope lets nested allocations dip into the high-priority reserve; it changes neither failure nor reclaim semantics, but nobody has asked for it", "";
        clear: SafeUnrequested, "clearing __GFP_HIGH in a scope only withholds part of the reserves from nested allocations that cannot sleep and already handle failure; nobody has asked for it", "";
    }
    Io {
        set: Unsafe, "setting __GFP_IO in a scope lets nested GFP_NOIO allocations start I/O from reclaim, which deadlocks the block layer and storage drivers that made them", "breaks: a nested GFP_NOIO allocation in the block layer while it holds a request", when Nested::Both(&Nested::Lacks(Gfp::IO), &Nested::Has(Gfp::DIRECT_RECLAIM));
        clear: TaskFlag("PF_MEMALLOC_NOIO"), "clearing __GFP_IO in a scope only constrains reclaim further and keeps the failure semantics, so it is compatible with every other flag; this is memalloc_noio_save()", "";
    }
    Fs {
        set: Unsafe, "setting __GFP_FS in a scope lets nested GFP_NOFS allocations recurse into filesystem reclaim while their callers hold filesystem locks, which deadlocks", "breaks: a nested GFP_NOFS allocation made under a filesystem lock that reclaim also takes", when Nested::Both(&Nested::Lacks(Gfp::FS), &Nested::Has(Gfp::DIRECT_RECLAIM));
        clear: TaskFlag("PF_MEMALLOC_NOFS"), "clearing __GFP_FS in a scope only constrains reclaim further and keeps the failure semantics, so it is compatible with every other flag; this is memalloc_nofs_save()", "";
    }
    Zero {
        set: Safe, "setting __GFP_ZERO in a scope only zeroes nested allocations, as the global init_on_alloc switch does for all of them", "";
        clear: Unsafe, "clearing __GFP_ZERO in a scope hands nested callers that asked for zeroed memory uninitialised pages, which they read as zeroes", "breaks: a nested kzalloc()-style __GFP_ZERO allocation whose caller relies on zeroed memory", when Nested::Has(Gfp::ZERO);
    }
    DirectReclaim {
        set: Unsafe, "setting __GFP_DIRECT_RECLAIM in a scope lets nested GFP_NOWAIT and GFP_ATOMIC allocations sleep, although they may run in atomic context", "breaks: a nested GFP_ATOMIC allocation made under a spinlock or in interrupt context", when Nested::Lacks(Gfp::DIRECT_RECLAIM);
        clear: Unsafe, "clearing __GFP_DIRECT_RECLAIM in a scope breaks every nested __GFP_NOFAIL allocation: without direct reclaim it cannot keep its promise and fails where its caller has no failure path", "breaks: a nested GFP_KERNEL|__GFP_NOFAIL allocation", when Nested::Has(Gfp::NOFAIL);
    }
    KswapdReclaim {
        set: Pointless, "setting __GFP_KSWAPD_RECLAIM in a scope only makes nested allocations wake kswapd, which nearly all of them do anyway; it changes neither failure nor direct reclaim and is pointless", "";
        clear: Unsafe, "clearing __GFP_KSWAPD_RECLAIM in a scope stops nested allocations from waking kswapd, so zones can sit below their low watermark with nobody reclaiming and the system drifts out of balance", "breaks: nested GFP_ATOMIC or GFP_NOWAIT allocations that rely on kswapd to refill the free pool", when Nested::Has(Gfp::KSWAPD_RECLAIM);
    }
    Write {
        set: SafeUnrequested, "setting __GFP_WRITE in a scope only spreads nested allocations across nodes as pages about to be dirtied; nobody has asked for it", "";
        clear: SafeUnrequested, "clearing __GFP_WRITE in a scope only stops spreading nested page-cache allocations over the nodes, a balancing heuristic that no caller relies on for correctness", "";
    }
    Nowarn {
        set: Safe, "setting __GFP_NOWARN in a scope only silences the allocation-failure report of nested allocations", "";
        clear: Safe, "clearing __GFP_NOWARN in a scope only makes nested failures print their report", "";
    }
    RetryMayfail {
        set: Unsafe, "setting __GFP_RETRY_MAYFAIL in a scope changes the failure mode of nested allocations: nested __GFP_NOFAIL ones lose the OOM killer they rely on, and small allocations start failing", "breaks: a nested GFP_KERNEL|__GFP_NOFAIL allocation when only the OOM killer can free memory", when Nested::Either(&Nested::Has(Gfp::NOFAIL), &DEFAULT_RETRY);
        clear: Pointless, "clearing __GFP_RETRY_MAYFAIL in a scope only gives nested allocations the default retry behaviour; safe, but probably pointless", "";
    }
    Nofail {
        set: Unsafe, "setting __GFP_NOFAIL in a scope is incompatible with nested GFP_NOWAIT and GFP_ATOMIC allocations, which cannot loop without sleeping and so fail against the promise", "breaks: a nested GFP_ATOMIC allocation", when Nested::Lacks(Gfp::DIRECT_RECLAIM);
        clear: Unsafe, "clearing __GFP_NOFAIL in a scope gives every nested __GFP_NOFAIL allocation a failure mode its caller does not handle", "breaks: a nested GFP_NOFS|__GFP_NOFAIL allocation with no error path", when Nested::Has(Gfp::NOFAIL);
    }
    Noretry {
        set: Unsafe, "setting __GFP_NORETRY in a scope makes nested allocations give up after one light attempt, which nested __GFP_NOFAIL allocations and small default allocations do not expect", "breaks: a nested GFP_KERNEL|__GFP_NOFAIL allocation when only the OOM killer can free memory", when Nested::Either(&Nested::Has(Gfp::NOFAIL), &DEFAULT_RETRY);
        clear: Pointless, "clearing __GFP_NORETRY in a scope only makes nested allocations retry harder; safe, but probably pointless", "";
    }
    Memalloc {
        set: TaskFlag("PF_MEMALLOC"), "setting __GFP_MEMALLOC in a scope already exists as PF_MEMALLOC (memalloc_noreclaim_save()); it grants unbounded access to the reserves but changes neither allocation nor reclaim semantics", "";
        clear: Unsafe, "clearing __GFP_MEMALLOC in a scope takes the reserves away from nested allocations that were granted them to guarantee forward progress of reclaim, such as swap over the network", "breaks: a nested __GFP_MEMALLOC allocation on the swap-over-network path", when Nested::Has(Gfp::MEMALLOC);
    }
    Comp {
        set: Unsafe, "setting __GFP_COMP in a scope turns nested high-order allocations into compound pages, which breaks callers that manage or split the tail pages themselves", "breaks: a nested order-2 allocation whose caller splits it into single pages", when Nested::Lacks(Gfp::COMP);
        clear: Unsafe, "clearing __GFP_COMP in a scope strips the head and tail metadata from nested compound allocations whose callers rely on it", "breaks: a nested order-3 __GFP_COMP allocation used and freed through its head page", when Nested::Has(Gfp::COMP);
    }
    Nomemalloc {
        set: Unsafe, "setting __GFP_NOMEMALLOC in a scope overrides not only PF_MEMALLOC, which the scope's owner controls, but the __GFP_MEMALLOC of nested call sites: it takes the reserves away from allocations granted them to guarantee forward progress of reclaim, such as swap over the network", "breaks: a nested __GFP_MEMALLOC allocation on the swap-over-network path", when Nested::Has(Gfp::MEMALLOC);
        clear: Unsafe, "clearing __GFP_NOMEMALLOC in a scope lets nested mempool refills made under PF_MEMALLOC drain the emergency reserves instead of falling back to their pools", "breaks: a nested mempool allocation under PF_MEMALLOC", when Nested::Has(Gfp::NOMEMALLOC);
    }
    Hardwall {
        set: SafeUnrequested, "setting __GFP_HARDWALL in a scope only holds nested allocations to the task's own cpuset nodes, which breaks nothing, but it is meant for user memory and nobody has asked for it", "";
        clear: Unsafe, "clearing __GFP_HARDWALL in a scope lets nested user-memory allocations escape the task's cpuset into its ancestors' nodes", "breaks: a nested GFP_USER allocation by a task confined to one node", when Nested::Has(Gfp::HARDWALL);
    }
    Thisnode {
        set: Unsafe, "setting __GFP_THISNODE in a scope changes the failure semantics of nested allocations: they fail instead of falling back to other nodes, and never invoke the OOM killer", "breaks: a nested GFP_KERNEL allocation when the local node is full", when Nested::Lacks(Gfp::THISNODE);
        clear: Unsafe, "clearing __GFP_THISNODE in a scope moves nested node-bound allocations, which mm uses to fill per-node pools, to nodes their callers did not ask for", "breaks: a nested __GFP_THISNODE allocation that fills a per-node pool", when Nested::Has(Gfp::THISNODE);
    }
    Account {
        set: Safe, "setting __GFP_ACCOUNT in a scope charges nested allocations to the task's memory cgroup, which changes neither failure nor reclaim semantics; use it from user context", "";
        clear: Unsafe, "clearing __GFP_ACCOUNT in a scope lets nested allocations made on behalf of a container escape its memory cgroup limit", "breaks: a nested GFP_KERNEL_ACCOUNT allocation by a task in a limited memory cgroup", when Nested::Has(Gfp::ACCOUNT);
    }
    Zerotags {
        set: MmInternal, "__GFP_ZEROTAGS is the page allocator's own detail of zeroing user pages with their MTE tags; it is not for scopes", "";
        clear: MmInternal, "__GFP_ZEROTAGS is the page allocator's own detail of zeroing user pages with their MTE tags; it is not for scopes", "";
    }
    SkipZero {
        set: MmInternal, "__GFP_SKIP_ZERO is KASAN's internal instruction for pages that tag initialisation zeroes anyway; it is not for scopes", "";
        clear: MmInternal, "__GFP_SKIP_ZERO is KASAN's internal instruction for pages that tag initialisation zeroes anyway; it is not for scopes", "";
    }
    SkipKasan {
        set: MmInternal, "__GFP_SKIP_KASAN is KASAN's internal instruction for user pages; it is not for scopes", "";
        clear: MmInternal, "__GFP_SKIP_KASAN is KASAN's internal instruction for user pages; it is not for scopes", "";
    }
    Nolockdep {
        set: Safe, "setting __GFP_NOLOCKDEP in a scope only disables lockdep's reclaim-recursion tracking for nested allocations", "";
        clear: Pointless, "clearing __GFP_NOLOCKDEP in a scope only re-enables tracking for nested allocations that opted out of known false positives; pointless", "";
    }
    NoObjExt {
        set: MmInternal, "__GFP_NO_OBJ_EXT is mm's own guard against recursive object-extension allocation; setting it in a scope would silently drop the memcg and profiling metadata of nested slab objects", "";
        clear: Unsafe, "clearing __GFP_NO_OBJ_EXT in a scope makes allocating a slab object-extension vector need a vector itself: unbounded recursion", "breaks: the slab allocator's own allocation of an object-extension vector", when Nested::Has(Gfp::NO_OBJ_EXT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn table_covers_every_flag_in_bit_order() {
        assert_eq!(TABLE.len(), Flag::ALL.len());
        for (row, &f) in TABLE.iter().zip(Flag::ALL) {
            assert_eq!(row.flag, f);
            assert_eq!(cell(f, Direction::Set).flag, f);
            assert_eq!(cell(f, Direction::Clear).direction, Direction::Clear);
        }
    }

    #[test]
    fn reasons_name_their_flag_and_refusals_say_what_breaks() {
        for row in TABLE {
            for c in [row.set, row.clear] {
                assert!(c.reason.contains(c.flag.kernel_name()), "{:?}", c);
                if c.verdict == Verdict::Unsafe {
                    assert!(c.breaks.is_some(), "unsafe cell without a witness: {c:?}");
                    assert!(
                        c.breaks_when.is_some(),
                        "unsafe cell without a predicate: {c:?}"
                    );
                } else {
                    assert!(c.breaks.is_none(), "{c:?}");
                    assert!(c.breaks_when.is_none(), "{c:?}");
                }
            }
        }
    }

    #[test]
    fn verdicts_of_the_analysis() {
        use Direction::*;
        // The cells the analysis states explicitly.
        let v = |f, d| cell(f, d).verdict;
        assert_eq!(v(Flag::Io, Clear), Verdict::TaskFlag("PF_MEMALLOC_NOIO"));
        assert_eq!(v(Flag::Fs, Clear), Verdict::TaskFlag("PF_MEMALLOC_NOFS"));
        assert_eq!(v(Flag::Io, Set), Verdict::Unsafe);
        assert_eq!(v(Flag::Fs, Set), Verdict::Unsafe);
        assert_eq!(v(Flag::DirectReclaim, Set), Verdict::Unsafe);
        assert_eq!(v(Flag::DirectReclaim, Clear), Verdict::Unsafe);
        assert_eq!(v(Flag::KswapdReclaim, Set), Verdict::Pointless);
        assert_eq!(v(Flag::KswapdReclaim, Clear), Verdict::Unsafe);
        assert_eq!(v(Flag::RetryMayfail, Set), Verdict::Unsafe);
        assert_eq!(v(Flag::Noretry, Set), Verdict::Unsafe);
        assert_eq!(v(Flag::Nofail, Set), Verdict::Unsafe);
        assert_eq!(v(Flag::Nofail, Clear), Verdict::Unsafe);
        assert_eq!(v(Flag::Nowarn, Set), Verdict::Safe);
        assert_eq!(v(Flag::Nowarn, Clear), Verdict::Safe);
        assert_eq!(v(Flag::Comp, Set), Verdict::Unsafe);
        assert_eq!(v(Flag::Comp, Clear), Verdict::Unsafe);
        assert_eq!(v(Flag::Zero, Set), Verdict::Safe);
        assert_eq!(v(Flag::Nolockdep, Set), Verdict::Safe);
        assert_eq!(v(Flag::Memalloc, Set), Verdict::TaskFlag("PF_MEMALLOC"));
        assert_eq!(v(Flag::Thisnode, Set), Verdict::Unsafe);
        assert_eq!(v(Flag::Account, Set), Verdict::Safe);
        assert_eq!(v(Flag::Dma, Set), Verdict::SafeUnrequested);
        assert_eq!(v(Flag::Dma32, Set), Verdict::Unsafe);
        assert!(!cell(Flag::NoObjExt, Set).allowed());
    }

    #[test]
    fn predicates_pick_the_nested_masks_the_cells_name() {
        use Direction::*;
        let breaks = |f, d, g: Gfp| cell(f, d).breaks_when.unwrap().matches(g);
        // Clearing direct reclaim breaks NOFAIL, not a plain GFP_KERNEL.
        assert!(breaks(
            Flag::DirectReclaim,
            Clear,
            Gfp::KERNEL | Gfp::NOFAIL
        ));
        assert!(!breaks(Flag::DirectReclaim, Clear, Gfp::KERNEL));
        // Setting NOFAIL breaks GFP_ATOMIC and GFP_NOWAIT, not GFP_KERNEL.
        assert!(breaks(Flag::Nofail, Set, Gfp::ATOMIC));
        assert!(breaks(Flag::Nofail, Set, Gfp::NOWAIT));
        assert!(!breaks(Flag::Nofail, Set, Gfp::KERNEL));
        // Setting __GFP_FS breaks GFP_NOFS and GFP_NOIO, not GFP_KERNEL.
        assert!(breaks(Flag::Fs, Set, Gfp::NOFS));
        assert!(breaks(Flag::Fs, Set, Gfp::NOIO));
        assert!(!breaks(Flag::Fs, Set, Gfp::KERNEL));
        // An allocation that never reclaims cannot recurse into the filesystem.
        assert!(!breaks(Flag::Fs, Set, Gfp::ATOMIC));
        assert!(!breaks(Flag::Io, Set, Gfp::NOWAIT));
        assert!(breaks(Flag::Io, Set, Gfp::NOIO));
        assert!(!breaks(Flag::Io, Set, Gfp::NOFS));
        // Setting direct reclaim breaks atomic allocations only.
        assert!(breaks(Flag::DirectReclaim, Set, Gfp::ATOMIC));
        assert!(!breaks(Flag::DirectReclaim, Set, Gfp::KERNEL));
        // Setting NORETRY: NOFAIL and default-retry allocations, not NORETRY ones.
        assert!(breaks(Flag::Noretry, Set, Gfp::KERNEL));
        assert!(breaks(Flag::Noretry, Set, Gfp::NOWAIT | Gfp::NOFAIL));
        assert!(!breaks(
            Flag::Noretry,
            Set,
            Gfp::KERNEL | Gfp::RETRY_MAYFAIL
        ));
        assert!(!breaks(Flag::Noretry, Set, Gfp::ATOMIC));
        // Clearing kswapd reclaim: every nested allocation that would wake
        // it (gfp verify's witness is a GFP_KERNEL one), none that would not.
        assert!(breaks(Flag::KswapdReclaim, Clear, Gfp::ATOMIC));
        assert!(breaks(Flag::KswapdReclaim, Clear, Gfp::KERNEL));
        assert!(!breaks(Flag::KswapdReclaim, Clear, Gfp::TRANSHUGE_LIGHT));
        assert_eq!(
            cell(Flag::DirectReclaim, Clear)
                .breaks_when
                .unwrap()
                .to_string(),
            "has __GFP_NOFAIL"
        );
    }
}
