//! The GFP mask itself: [`Gfp`], its single-bit [`Flag`]s and the kernel's composites.
//!
//! The in-process layout is the one of Linux 6.12 built with every option that
//! moves bits switched on (`CONFIG_KASAN_HW_TAGS`, `CONFIG_LOCKDEP`,
//! `CONFIG_SLAB_OBJ_EXT`), so that every flag owns a bit of its own. Other
//! kernels and configurations are described by [`crate::profile::Profile`],
//! which converts their masks to and from this layout.

use core::fmt;
use core::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not, Sub, SubAssign};

/// What part of an allocation's behaviour a flag controls, following the
/// grouping of the kernel's `gfp_types.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlagGroup {
    /// Selects the highest zone the allocation may be served from.
    ZoneModifier,
    /// Describes how the page may be moved or where it should be placed.
    Placement,
    /// Changes which watermark the allocation must respect (access to reserves).
    Watermark,
    /// Says whether and how the allocation may reclaim, and how hard it retries.
    Reclaim,
    /// Changes what is done to the page or how failure is reported.
    Action,
    /// Debugging aid with no effect on the allocation itself.
    Debug,
}

impl FlagGroup {
    /// A short human-readable name of the group.
    pub const fn describe(self) -> &'static str {
        match self {
            FlagGroup::ZoneModifier => "zone modifier",
            FlagGroup::Placement => "mobility and placement",
            FlagGroup::Watermark => "watermark modifier",
            FlagGroup::Reclaim => "reclaim modifier",
            FlagGroup::Action => "action modifier",
            FlagGroup::Debug => "debugging",
        }
    }
}

macro_rules! define_flags {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident / $konst:ident = $bit:literal, $cname:literal, $group:ident;
    )+) => {
        /// One single-bit GFP flag, as defined by Linux 6.12.
        ///
        /// The discriminant is the flag's bit number in the in-process layout.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Flag {
            $( $(#[doc = $doc])+ $variant = $bit, )+
        }

        impl Flag {
            /// Every flag, in bit order.
            pub const ALL: &'static [Flag] = &[$(Flag::$variant),+];

            /// The kernel's name of the flag, e.g. `__GFP_NOWARN`.
            pub const fn kernel_name(self) -> &'static str {
                match self { $(Flag::$variant => $cname,)+ }
            }

            /// The group the flag belongs to.
            pub const fn group(self) -> FlagGroup {
                match self { $(Flag::$variant => FlagGroup::$group,)+ }
            }

            /// What the flag means, in one paragraph.
            pub const fn meaning(self) -> &'static str {
                match self { $(Flag::$variant => concat!($($doc, "\n"),+),)+ }
            }
        }

        impl Gfp {
            $(
                $(#[doc = $doc])+
                pub const $konst: Gfp = Gfp(1 << $bit);
            )+
        }
    };
}

/// The GFP mask type, `gfp_t` in the kernel.
///
/// # Invariants
///
/// None: any `u32` is a representable mask. Bits above [`Gfp::VALID`] are kept
/// (see [`Gfp::from_bits_retain`]) so that masks read from foreign kernels
/// survive a round trip; [`Gfp::invalid_bits`] reports them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Gfp(u32);

define_flags! {
    /// Serve the allocation from ZONE_DMA (the lowest 16 MiB on x86), for devices
    /// with the narrowest addressing.
    Dma / DMA = 0, "__GFP_DMA", ZoneModifier;
    /// The allocation may be served from ZONE_HIGHMEM: memory with no permanent
    /// kernel mapping on 32-bit machines. The caller must map the page before
    /// touching it.
    Highmem / HIGHMEM = 1, "__GFP_HIGHMEM", ZoneModifier;
    /// Serve the allocation from ZONE_DMA32 (below 4 GiB), for 32-bit devices.
    Dma32 / DMA32 = 2, "__GFP_DMA32", ZoneModifier;
    /// The page can be migrated or reclaimed. Groups it with other movable pages;
    /// with `HIGHMEM` it may come from ZONE_MOVABLE.
    Movable / MOVABLE = 3, "__GFP_MOVABLE", ZoneModifier;
    /// Slab pages whose objects a shrinker can free; grouped apart so that they
    /// do not pin movable pageblocks.
    Reclaimable / RECLAIMABLE = 4, "__GFP_RECLAIMABLE", Placement;
    /// High priority: the caller cannot reclaim and its failure would hurt, so
    /// it may dip below the min watermark into part of the reserves.
    High / HIGH = 5, "__GFP_HIGH", Watermark;
    /// Reclaim may start physical I/O (swap out anonymous memory, write back).
    Io / IO = 6, "__GFP_IO", Reclaim;
    /// Reclaim may call into the filesystem (release inodes, dentries, fs data).
    /// Cleared when the caller holds locks that filesystem reclaim also takes.
    Fs / FS = 7, "__GFP_FS", Reclaim;
    /// Return the page filled with zeroes.
    Zero / ZERO = 8, "__GFP_ZERO", Action;
    /// The caller may sleep and enter direct reclaim and compaction itself.
    DirectReclaim / DIRECT_RECLAIM = 10, "__GFP_DIRECT_RECLAIM", Reclaim;
    /// Wake kswapd when a zone drops below its low watermark, so that background
    /// reclaim restores the free pool.
    KswapdReclaim / KSWAPD_RECLAIM = 11, "__GFP_KSWAPD_RECLAIM", Reclaim;
    /// The page will be dirtied soon: spread such pages over the nodes so that
    /// none exceeds its share of the dirty limit.
    Write / WRITE = 12, "__GFP_WRITE", Placement;
    /// Do not print the allocation-failure warning; the caller handles failure.
    Nowarn / NOWARN = 13, "__GFP_NOWARN", Action;
    /// Retry as long as reclaim makes progress anywhere, but fail rather than
    /// invoke the OOM killer.
    RetryMayfail / RETRY_MAYFAIL = 14, "__GFP_RETRY_MAYFAIL", Reclaim;
    /// Never fail: loop in reclaim until memory is found. Needs `DIRECT_RECLAIM`;
    /// meant for small orders where the caller has no way to handle failure.
    Nofail / NOFAIL = 15, "__GFP_NOFAIL", Reclaim;
    /// Try once, lightly (one round of reclaim and compaction), and fail without
    /// invoking the OOM killer.
    Noretry / NORETRY = 16, "__GFP_NORETRY", Reclaim;
    /// Ignore the watermarks: full access to the emergency reserves, for callers
    /// that free memory by allocating (the reason PF_MEMALLOC exists).
    Memalloc / MEMALLOC = 17, "__GFP_MEMALLOC", Watermark;
    /// Set up a compound page: head and tail metadata for a high-order block.
    Comp / COMP = 18, "__GFP_COMP", Action;
    /// Forbid access to the emergency reserves, overriding `MEMALLOC` and
    /// PF_MEMALLOC.
    Nomemalloc / NOMEMALLOC = 19, "__GFP_NOMEMALLOC", Watermark;
    /// Enforce the task's cpuset memory policy strictly (user-space allocations).
    Hardwall / HARDWALL = 20, "__GFP_HARDWALL", Placement;
    /// Allocate on the requested node only: no fallback, no NUMA policy.
    Thisnode / THISNODE = 21, "__GFP_THISNODE", Placement;
    /// Charge the allocation to the current task's memory cgroup.
    Account / ACCOUNT = 22, "__GFP_ACCOUNT", Placement;
    /// With `ZERO`, also zero the memory tags (arm64 MTE) of a user page.
    Zerotags / ZEROTAGS = 23, "__GFP_ZEROTAGS", Action;
    /// Skip zeroing because tag initialisation already zeroes (KASAN HW tags).
    SkipZero / SKIP_ZERO = 24, "__GFP_SKIP_ZERO", Action;
    /// Do not unpoison the page on allocation (KASAN HW tags; user pages).
    SkipKasan / SKIP_KASAN = 25, "__GFP_SKIP_KASAN", Action;
    /// Exempt the allocation from lockdep's reclaim-recursion (fs_reclaim)
    /// tracking.
    Nolockdep / NOLOCKDEP = 26, "__GFP_NOLOCKDEP", Debug;
    /// Do not allocate a slab object-extension vector for this allocation;
    /// used by mm itself so that allocating a vector never needs a vector.
    NoObjExt / NO_OBJ_EXT = 27, "__GFP_NO_OBJ_EXT", Placement;
}

/// Composite masks, with the kernel's values in the in-process layout.
impl Gfp {
    /// No flag at all.
    pub const EMPTY: Gfp = Gfp(0);
    /// `__GFP_RECLAIM`: may both reclaim directly and wake kswapd.
    pub const RECLAIM: Gfp = Gfp(Gfp::DIRECT_RECLAIM.0 | Gfp::KSWAPD_RECLAIM.0);
    /// `GFP_ATOMIC`: cannot sleep, must not fail lightly; may use part of the
    /// reserves (interrupt handlers, code under spinlocks).
    pub const ATOMIC: Gfp = Gfp(Gfp::HIGH.0 | Gfp::KSWAPD_RECLAIM.0);
    /// `GFP_KERNEL`: the ordinary kernel allocation; may sleep, reclaim, do I/O
    /// and call into filesystems.
    pub const KERNEL: Gfp = Gfp(Gfp::RECLAIM.0 | Gfp::IO.0 | Gfp::FS.0);
    /// `GFP_KERNEL_ACCOUNT`: `GFP_KERNEL` charged to the task's memory cgroup.
    pub const KERNEL_ACCOUNT: Gfp = Gfp(Gfp::KERNEL.0 | Gfp::ACCOUNT.0);
    /// `GFP_NOWAIT`: must not sleep, fails quietly (6.8+: includes `NOWARN`).
    pub const NOWAIT: Gfp = Gfp(Gfp::KSWAPD_RECLAIM.0 | Gfp::NOWARN.0);
    /// `GFP_NOIO`: may sleep and reclaim, but reclaim starts no I/O.
    pub const NOIO: Gfp = Gfp(Gfp::RECLAIM.0);
    /// `GFP_NOFS`: may sleep, reclaim and do I/O, but not call into filesystems.
    pub const NOFS: Gfp = Gfp(Gfp::RECLAIM.0 | Gfp::IO.0);
    /// `GFP_USER`: memory for user space, held to the cpuset's hardwall.
    pub const USER: Gfp = Gfp(Gfp::KERNEL.0 | Gfp::HARDWALL.0);
    /// `GFP_HIGHUSER`: user memory that may be highmem.
    pub const HIGHUSER: Gfp = Gfp(Gfp::USER.0 | Gfp::HIGHMEM.0);
    /// `GFP_HIGHUSER_MOVABLE`: user memory that may be migrated (page cache,
    /// anonymous memory); KASAN need not unpoison it.
    pub const HIGHUSER_MOVABLE: Gfp = Gfp(Gfp::HIGHUSER.0 | Gfp::MOVABLE.0 | Gfp::SKIP_KASAN.0);
    /// `GFP_TRANSHUGE_LIGHT`: a transparent huge page that does not reclaim and
    /// does not touch the reserves.
    pub const TRANSHUGE_LIGHT: Gfp = Gfp((Gfp::HIGHUSER_MOVABLE.0
        | Gfp::COMP.0
        | Gfp::NOMEMALLOC.0
        | Gfp::NOWARN.0)
        & !Gfp::RECLAIM.0);
    /// `GFP_TRANSHUGE`: a transparent huge page that may compact and reclaim.
    pub const TRANSHUGE: Gfp = Gfp(Gfp::TRANSHUGE_LIGHT.0 | Gfp::DIRECT_RECLAIM.0);

    /// Every bit that some flag owns: `__GFP_BITS_MASK` less the unused bit 9.
    pub const VALID: Gfp = Gfp(((1 << 28) - 1) & !(1 << 9));
    /// The zone-modifier bits (`GFP_ZONEMASK`).
    pub const ZONEMASK: Gfp = Gfp(Gfp::DMA.0 | Gfp::HIGHMEM.0 | Gfp::DMA32.0 | Gfp::MOVABLE.0);
    /// What the kernel lets slab callers pass (bits outside are fixed up with a
    /// warning): everything but `DMA32`, `HIGHMEM` and bits beyond the layout.
    pub const SLAB_BUG_MASK: Gfp = Gfp(Gfp::DMA32.0 | Gfp::HIGHMEM.0 | !Gfp::VALID.0);

    /// The named composites, most bits first (the order the kernel prints them).
    pub const COMPOSITES: &'static [(&'static str, Gfp)] = &[
        ("GFP_TRANSHUGE", Gfp::TRANSHUGE),
        ("GFP_TRANSHUGE_LIGHT", Gfp::TRANSHUGE_LIGHT),
        ("GFP_HIGHUSER_MOVABLE", Gfp::HIGHUSER_MOVABLE),
        ("GFP_HIGHUSER", Gfp::HIGHUSER),
        ("GFP_USER", Gfp::USER),
        ("GFP_KERNEL_ACCOUNT", Gfp::KERNEL_ACCOUNT),
        ("GFP_KERNEL", Gfp::KERNEL),
        ("GFP_NOFS", Gfp::NOFS),
        ("GFP_ATOMIC", Gfp::ATOMIC),
        ("GFP_NOIO", Gfp::NOIO),
        ("GFP_NOWAIT", Gfp::NOWAIT),
        ("GFP_DMA", Gfp::DMA),
        ("GFP_DMA32", Gfp::DMA32),
        ("__GFP_RECLAIM", Gfp::RECLAIM),
    ];

    /// The raw bits.
    #[inline(always)]
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// A mask from raw bits, keeping bits that no flag owns.
    #[inline(always)]
    pub const fn from_bits_retain(bits: u32) -> Gfp {
        Gfp(bits)
    }

    /// A mask from raw bits, or `None` if a bit is not owned by any flag.
    pub const fn from_bits(bits: u32) -> Option<Gfp> {
        if bits & !Gfp::VALID.0 == 0 {
            Some(Gfp(bits))
        } else {
            None
        }
    }

    /// The bits that no flag owns.
    pub const fn invalid_bits(self) -> u32 {
        self.0 & !Gfp::VALID.0
    }

    /// Whether every bit of `other` is set.
    #[inline(always)]
    pub const fn contains(self, other: Gfp) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    #[inline(always)]
    pub const fn intersects(self, other: Gfp) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no bit is set.
    #[inline(always)]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `self | other`, usable in `const` context.
    #[inline(always)]
    pub const fn union(self, other: Gfp) -> Gfp {
        Gfp(self.0 | other.0)
    }

    /// `self - other`, usable in `const` context.
    #[inline(always)]
    pub const fn difference(self, other: Gfp) -> Gfp {
        Gfp(self.0 & !other.0)
    }

    /// Whether the mask has the bit of `flag`.
    #[inline(always)]
    pub const fn has(self, flag: Flag) -> bool {
        self.0 & (1 << flag as u32) != 0
    }

    /// The flags set in the mask, in bit order (bits no flag owns are skipped).
    pub fn flags(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.iter().copied().filter(move |f| self.has(*f))
    }

    /// The kernel's `%pGg` text for this mask, as a current kernel (6.15
    /// and later) with every option on prints it: composites first, then
    /// every remaining flag in bit order, leftover bits in hex.
    pub fn kernel_names(self) -> alloc::string::String {
        crate::render::pgg_with(NATIVE_NAMES, self.0)
    }
}

/// The name table behind [`Gfp::kernel_names`].
const NATIVE_NAMES: &[(&str, u32)] = &{
    const N: usize = 14 + 27;
    let mut t: [(&str, u32); N] = [("", 0); N];
    let mut i = 0;
    while i < Gfp::COMPOSITES.len() {
        t[i] = (Gfp::COMPOSITES[i].0, Gfp::COMPOSITES[i].1 .0);
        i += 1;
    }
    let mut j = 0;
    while j < Flag::ALL.len() {
        t[i + j] = (Flag::ALL[j].kernel_name(), 1 << Flag::ALL[j] as u32);
        j += 1;
    }
    t
};

impl Flag {
    /// The flag as a one-bit mask.
    #[inline(always)]
    pub const fn mask(self) -> Gfp {
        Gfp(1 << self as u32)
    }

    /// The bit number of the flag in the in-process layout.
    pub const fn bit(self) -> u32 {
        self as u32
    }

    /// The flag whose kernel name (with or without `__GFP_`) is `name`.
    pub fn from_kernel_name(name: &str) -> Option<Flag> {
        let bare = name.strip_prefix("__GFP_").unwrap_or(name);
        Flag::ALL
            .iter()
            .copied()
            .find(|f| &f.kernel_name()[6..] == bare)
    }

    /// Whether a scope may set or clear this flag, and why.
    pub fn policy(self) -> &'static crate::policy::FlagPolicy {
        crate::policy::row(self)
    }

    /// The flag's name without the `__GFP_` prefix, e.g. `NOWARN`.
    pub fn short_name(self) -> &'static str {
        &self.kernel_name()[6..]
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kernel_name())
    }
}

impl core::str::FromStr for Gfp {
    type Err = crate::parse::ParseError;

    /// Parses `GFP_KERNEL|__GFP_NOWARN`, `0xcc0` or `3264` in the in-process
    /// layout.
    fn from_str(s: &str) -> Result<Gfp, Self::Err> {
        crate::parse::parse_native(s)
    }
}

impl From<Flag> for Gfp {
    fn from(flag: Flag) -> Gfp {
        flag.mask()
    }
}

impl fmt::Debug for Gfp {
    /// Shows the raw value and the kernel's names, e.g. `0xcc0(GFP_KERNEL)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}({})", self.0, self.kernel_names())
    }
}

impl fmt::Display for Gfp {
    /// The kernel's names alone (`GFP_KERNEL|__GFP_NOWARN`), or `0` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("0")
        } else {
            f.write_str(&self.kernel_names())
        }
    }
}

impl fmt::LowerHex for Gfp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl BitOr for Gfp {
    type Output = Gfp;
    #[inline(always)]
    fn bitor(self, rhs: Gfp) -> Gfp {
        Gfp(self.0 | rhs.0)
    }
}

impl BitOrAssign for Gfp {
    #[inline(always)]
    fn bitor_assign(&mut self, rhs: Gfp) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Gfp {
    type Output = Gfp;
    #[inline(always)]
    fn bitand(self, rhs: Gfp) -> Gfp {
        Gfp(self.0 & rhs.0)
    }
}

impl BitAndAssign for Gfp {
    #[inline(always)]
    fn bitand_assign(&mut self, rhs: Gfp) {
        self.0 &= rhs.0;
    }
}

impl Not for Gfp {
    type Output = Gfp;
    /// The complement within all 32 bits (as `~` on a `gfp_t`).
    #[inline(always)]
    fn not(self) -> Gfp {
        Gfp(!self.0)
    }
}

impl Sub for Gfp {
    type Output = Gfp;
    /// `self & !rhs`.
    #[inline(always)]
    fn sub(self, rhs: Gfp) -> Gfp {
        Gfp(self.0 & !rhs.0)
    }
}

impl SubAssign for Gfp {
    #[inline(always)]
    fn sub_assign(&mut self, rhs: Gfp) {
        self.0 &= !rhs.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composites_have_the_kernel_values() {
        // Values of Linux 6.12 with KASAN_HW_TAGS, LOCKDEP and SLAB_OBJ_EXT on.
        assert_eq!(Gfp::KERNEL.bits(), 0xcc0);
        assert_eq!(Gfp::ATOMIC.bits(), 0x820);
        assert_eq!(Gfp::NOWAIT.bits(), 0x2800);
        assert_eq!(Gfp::NOIO.bits(), 0xc00);
        assert_eq!(Gfp::NOFS.bits(), 0xc40);
        assert_eq!(Gfp::USER.bits(), 0x100cc0);
        assert_eq!(Gfp::KERNEL_ACCOUNT.bits(), 0x400cc0);
        assert_eq!(Gfp::HIGHUSER.bits(), 0x100cc2);
        assert_eq!(Gfp::HIGHUSER_MOVABLE.bits(), 0x2100cca);
        assert_eq!(Gfp::TRANSHUGE_LIGHT.bits(), 0x21c20ca);
        assert_eq!(Gfp::TRANSHUGE.bits(), 0x21c24ca);
        assert_eq!(Gfp::NOLOCKDEP.bits(), 0x4000000);
        assert_eq!(Gfp::NO_OBJ_EXT.bits(), 0x8000000);
        assert_eq!(Gfp::VALID.bits(), 0x0fff_fdff);
    }

    #[test]
    fn flag_names_round_trip() {
        for &f in Flag::ALL {
            assert_eq!(Flag::from_kernel_name(f.kernel_name()), Some(f));
            assert_eq!(Flag::from_kernel_name(f.short_name()), Some(f));
            assert_eq!(f.mask().bits().count_ones(), 1);
        }
        assert_eq!(Flag::from_kernel_name("__GFP_WAIT"), None);
    }

    #[test]
    fn operators() {
        let m = Gfp::KERNEL | Gfp::NOWARN;
        assert!(m.contains(Gfp::KERNEL));
        assert!(!m.contains(Gfp::ATOMIC));
        assert!(m.intersects(Gfp::ATOMIC));
        assert_eq!(m - Gfp::NOWARN, Gfp::KERNEL);
        assert_eq!((!Gfp::FS & m) | Gfp::FS, m);
        assert_eq!(m.flags().count(), 5);
    }
}
