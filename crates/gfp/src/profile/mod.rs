//! Kernel profiles: the GFP bit layout, composites and name tables of one kernel
//! version built with one configuration.
//!
//! A [`Profile`] is plain data. The built-in ones come from
//! [`Profile::for_version`] (every mainline release from 3.0 to 7.1, see
//! [`history`]); others can be derived from a kernel source tree
//! ([`source`]) and stored as JSON.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::flags::{Flag, Gfp};

pub mod history;
pub mod source;
pub mod task;

/// A kernel release, `major.minor[.patch]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct KernelVersion {
    /// The major number (the 6 of 6.12.11).
    pub major: u16,
    /// The minor number (the 12 of 6.12.11).
    pub minor: u16,
    /// The stable patch level, if known (the 11 of 6.12.11).
    pub patch: Option<u16>,
}

impl KernelVersion {
    /// `major.minor` with no patch level.
    pub const fn new(major: u16, minor: u16) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch: None,
        }
    }

    /// `major.minor.patch`.
    pub const fn with_patch(major: u16, minor: u16, patch: u16) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch: Some(patch),
        }
    }

    /// A single number that orders versions (a missing patch level counts as 0).
    pub const fn key(self) -> u64 {
        ((self.major as u64) << 32)
            | ((self.minor as u64) << 16)
            | (match self.patch {
                Some(p) => p,
                None => 0,
            }) as u64
    }

    /// Whether this is `major.minor` or later.
    pub const fn at_least(self, major: u16, minor: u16) -> bool {
        self.key() >= KernelVersion::new(major, minor).key()
    }

    /// The release without its patch level.
    pub const fn release(self) -> KernelVersion {
        KernelVersion::new(self.major, self.minor)
    }
}

impl PartialOrd for KernelVersion {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KernelVersion {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{}", self.major, self.minor, p),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

/// A version string that is not `X.Y` or `X.Y.Z`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadVersion(pub String);

impl fmt::Display for BadVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a kernel version: expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 6.12 or 5.4.0",
            self.0
        )
    }
}

impl core::error::Error for BadVersion {}

impl FromStr for KernelVersion {
    type Err = BadVersion;

    /// Parses `6.12`, `6.12.11`, `v6.12`, and release strings such as
    /// `5.4.0-42-generic` (the part after the numbers is ignored).
    fn from_str(s: &str) -> Result<Self, BadVersion> {
        let bad = || BadVersion(s.to_owned());
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let mut parts = t[..end].split('.').filter(|p| !p.is_empty());
        let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let patch = match parts.next() {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None => None,
        };
        Ok(KernelVersion {
            major,
            minor,
            patch,
        })
    }
}

/// The Kconfig options that change GFP bits or names.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct KernelConfig {
    /// `CONFIG_LOCKDEP`: gives `__GFP_NOLOCKDEP` a bit (4.12+).
    pub lockdep: bool,
    /// `CONFIG_KASAN_HW_TAGS`: gives the `__GFP_SKIP_*` flags bits (5.18+).
    pub kasan_hw_tags: bool,
    /// `CONFIG_SLAB_OBJ_EXT` (selected by MEMCG or MEM_ALLOC_PROFILING): gives
    /// `__GFP_NO_OBJ_EXT` a bit (6.10+).
    pub slab_obj_ext: bool,
    /// `CONFIG_KMEMCHECK`: gives `__GFP_NOTRACK` a bit on 2.6.31 to 3.x kernels
    /// that defined it as 0 otherwise.
    pub kmemcheck: bool,
}

impl KernelConfig {
    /// Every option on: the in-process layout's configuration.
    pub const ALL_ON: KernelConfig = KernelConfig {
        lockdep: true,
        kasan_hw_tags: true,
        slab_obj_ext: true,
        kmemcheck: true,
    };

    /// The option names, as `(CONFIG_ name, getter)` pairs.
    pub const OPTIONS: [&'static str; 4] = [
        "CONFIG_LOCKDEP",
        "CONFIG_KASAN_HW_TAGS",
        "CONFIG_SLAB_OBJ_EXT",
        "CONFIG_KMEMCHECK",
    ];

    /// The options [`KernelConfig::set`] takes, without `CONFIG_`, with the
    /// first release that has them and the last one (`None`: still there).
    /// `KMEMCHECK` came with 2.6.31 and went with 4.15; `KASAN_HW_TAGS` came
    /// with 5.11; `SLAB_OBJ_EXT` and `MEM_ALLOC_PROFILING` with 6.10;
    /// `LOCKDEP` and `MEMCG` predate every modelled release.
    pub const LIFETIMES: [(&'static str, KernelVersion, Option<KernelVersion>); 6] = [
        ("LOCKDEP", KernelVersion::new(2, 6), None),
        ("KASAN_HW_TAGS", KernelVersion::new(5, 11), None),
        ("SLAB_OBJ_EXT", KernelVersion::new(6, 10), None),
        (
            "KMEMCHECK",
            KernelVersion::new(2, 6),
            Some(KernelVersion::new(4, 14)),
        ),
        ("MEMCG", KernelVersion::new(2, 6), None),
        ("MEM_ALLOC_PROFILING", KernelVersion::new(6, 10), None),
    ];

    /// Whether the option `name` (with or without `CONFIG_`) exists in
    /// `version`: `Ok` when it does, else the releases that have it. An
    /// option [`KernelConfig::set`] does not know is `Ok` here.
    pub fn exists_in(name: &str, version: KernelVersion) -> Result<(), String> {
        let bare = name.strip_prefix("CONFIG_").unwrap_or(name);
        let v = version.release();
        for (n, first, last) in Self::LIFETIMES {
            if n != bare {
                continue;
            }
            let ok = v >= first && last.is_none_or(|l| v <= l);
            if ok {
                return Ok(());
            }
            return Err(match last {
                Some(l) => format!("CONFIG_{n} exists in Linux {first} to {l} only"),
                None => format!("CONFIG_{n} exists from Linux {first} on"),
            });
        }
        Ok(())
    }

    /// Sets an option by its Kconfig name (with or without `CONFIG_`).
    /// Returns `false` for an option that does not move GFP bits.
    pub fn set(&mut self, name: &str, on: bool) -> bool {
        let bare = name.strip_prefix("CONFIG_").unwrap_or(name);
        match bare {
            "LOCKDEP" => self.lockdep = on,
            "KASAN_HW_TAGS" => self.kasan_hw_tags = on,
            "SLAB_OBJ_EXT" => self.slab_obj_ext = on,
            "KMEMCHECK" => self.kmemcheck = on,
            // MEMCG and MEM_ALLOC_PROFILING select SLAB_OBJ_EXT.
            "MEMCG" | "MEM_ALLOC_PROFILING" => {
                if on {
                    self.slab_obj_ext = true
                }
            }
            _ => return false,
        }
        true
    }

    /// Every combination of the options, all off first.
    pub fn all_combinations() -> impl Iterator<Item = KernelConfig> {
        (0u8..16).map(|b| KernelConfig {
            lockdep: b & 1 != 0,
            kasan_hw_tags: b & 2 != 0,
            slab_obj_ext: b & 4 != 0,
            kmemcheck: b & 8 != 0,
        })
    }
}

impl fmt::Display for KernelConfig {
    /// The options that are on, e.g. `LOCKDEP+SLAB_OBJ_EXT`, or `defaults off`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (on, name) in [
            (self.lockdep, "LOCKDEP"),
            (self.kasan_hw_tags, "KASAN_HW_TAGS"),
            (self.slab_obj_ext, "SLAB_OBJ_EXT"),
            (self.kmemcheck, "KMEMCHECK"),
        ] {
            if on {
                if !first {
                    f.write_str("+")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("no layout-moving options")?;
        }
        Ok(())
    }
}

/// A name and the mask it stands for, one entry of a kernel name table.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct NamedMask {
    /// The name as the kernel prints it, e.g. `GFP_KERNEL` or `__GFP_NOWARN`.
    pub name: String,
    /// The bits, in the profile's own layout. May be 0 (a configured-out flag
    /// or an old trace-table entry), which the renderers treat as the kernel does.
    pub mask: u32,
}

impl NamedMask {
    /// A table entry.
    pub fn new(name: impl Into<String>, mask: u32) -> NamedMask {
        NamedMask {
            name: name.into(),
            mask,
        }
    }
}

/// The GFP layout and name tables of one kernel build.
///
/// # Invariants
///
/// Every entry of `flags` has at most one bit set, and no two entries share
/// a bit. `composites`, `pgg_names` and `trace_names` use the same layout.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// A human-readable description, e.g. `Linux 6.12 (SLAB_OBJ_EXT)`.
    pub label: String,
    /// The kernel version, when known.
    pub version: Option<KernelVersion>,
    /// The layout-moving options.
    pub config: KernelConfig,
    /// Every single-bit flag this kernel defines, by its `__GFP_` name, in bit
    /// order; a flag configured out has mask 0.
    pub flags: Vec<NamedMask>,
    /// The `GFP_*` composites (and `__GFP_RECLAIM`) this kernel defines.
    pub composites: Vec<NamedMask>,
    /// The `%pGg` name table in the kernel's order, or `None` for kernels
    /// before 4.6, which had no `%pGg`.
    pub pgg_names: Option<Vec<NamedMask>>,
    /// The tracepoint name table (`show_gfp_flags`) in the kernel's order.
    pub trace_names: Vec<NamedMask>,
    /// What tracepoints print for a zero mask (`none`, or `GFP_NOWAIT` before 4.6).
    pub trace_zero: String,
    /// Whether user-space trace tools (libtraceevent) could not resolve the
    /// names and printed hex (6.10 to 6.12.10 and 6.13).
    pub trace_userspace_hex: bool,
    /// Every bit the layout defines (`__GFP_BITS_MASK`).
    pub bits_mask: u32,
    /// Remarks about how the profile was chosen or derived.
    pub notes: Vec<String>,
}

/// The name the issue tracker uses: a kernel version plus the Kconfig
/// options that move bits, with everything they imply.
pub type KernelProfile = Profile;

/// A profile that breaks its invariants (from a hand-edited or foreign file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidProfile(pub String);

impl fmt::Display for InvalidProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid profile: {}", self.0)
    }
}

impl core::error::Error for InvalidProfile {}

impl Profile {
    /// The built-in profile of `version` with `config`. A version newer than
    /// the newest known one gets the newest layout and a note saying so.
    pub fn for_version(version: KernelVersion, config: KernelConfig) -> Profile {
        history::build(version, config)
    }

    /// The built-in profile of `version` with the configuration of a typical
    /// x86_64 distribution kernel of that era.
    pub fn for_version_default(version: KernelVersion) -> Profile {
        history::build(version, history::distro_config(version))
    }

    /// The in-process layout: Linux 6.12 with every option on.
    pub fn native() -> Profile {
        history::build(KernelVersion::new(6, 12), KernelConfig::ALL_ON)
    }

    /// Checks the invariants.
    pub fn validate(&self) -> Result<(), InvalidProfile> {
        let mut seen = 0u32;
        for f in &self.flags {
            if f.mask.count_ones() > 1 {
                return Err(InvalidProfile(format!(
                    "flag {} has several bits ({:#x})",
                    f.name, f.mask
                )));
            }
            if seen & f.mask != 0 {
                return Err(InvalidProfile(format!(
                    "flag {} shares bit {:#x} with another flag",
                    f.name, f.mask
                )));
            }
            seen |= f.mask;
        }
        if self.pgg_names.as_ref().is_some_and(|t| t.is_empty()) && !self.flags.is_empty() {
            return Err(InvalidProfile("empty %pGg name table".to_string()));
        }
        Ok(())
    }

    /// The mask of a flag or composite name in this profile.
    pub fn lookup(&self, name: &str) -> Option<u32> {
        let tables = self
            .flags
            .iter()
            .chain(self.composites.iter())
            .chain(self.pgg_names.iter().flatten())
            .chain(self.trace_names.iter());
        for e in tables {
            if e.name == name {
                return Some(e.mask);
            }
        }
        None
    }

    /// The name of the single-bit flag that owns `bit` (a one-bit mask).
    pub fn flag_name(&self, bit: u32) -> Option<&str> {
        self.flags
            .iter()
            .find(|f| f.mask == bit && bit != 0)
            .map(|f| f.name.as_str())
    }

    /// Converts a mask of this profile to the in-process layout, flag by flag.
    ///
    /// Historical flags map to their modern meaning (`__GFP_WAIT` to
    /// `__GFP_DIRECT_RECLAIM`, `__GFP_REPEAT` to `__GFP_RETRY_MAYFAIL`, the
    /// `__GFP_SKIP_KASAN_*` pair to `__GFP_SKIP_KASAN`); bits with no modern
    /// equivalent are returned separately, with their names where known.
    pub fn to_native(&self, mask: u32) -> Translation {
        let mut gfp = Gfp::EMPTY;
        let mut unmapped = Vec::new();
        let mut rest = mask;
        for f in &self.flags {
            if f.mask == 0 || mask & f.mask == 0 {
                continue;
            }
            rest &= !f.mask;
            match native_meaning(&f.name) {
                Some(g) => gfp |= g,
                None => unmapped.push(Unmapped {
                    name: Some(f.name.clone()),
                    mask: f.mask,
                }),
            }
        }
        // Before 4.4 kswapd was woken unless __GFP_NO_KSWAPD was given.
        if self.lookup("__GFP_NO_KSWAPD").is_some_and(|m| m != 0)
            && self.lookup("__GFP_KSWAPD_RECLAIM").is_none()
            && mask & self.lookup("__GFP_NO_KSWAPD").unwrap_or(0) == 0
        {
            gfp |= Gfp::KSWAPD_RECLAIM;
        }
        if rest != 0 {
            unmapped.push(Unmapped {
                name: None,
                mask: rest,
            });
        }
        Translation { gfp, unmapped }
    }

    /// Converts an in-process mask to this profile's layout. Flags this kernel
    /// lacks (or has configured out) are dropped and returned.
    pub fn from_native(&self, gfp: Gfp) -> (u32, Gfp) {
        let mut out = 0u32;
        let mut dropped = Gfp::EMPTY;
        for flag in gfp.flags() {
            let bits = self
                .flags
                .iter()
                .find(|f| f.name == flag.kernel_name())
                .map(|f| f.mask)
                .unwrap_or(0);
            if bits == 0 {
                dropped |= flag.mask();
            }
            out |= bits;
        }
        (out, dropped | Gfp::from_bits_retain(gfp.invalid_bits()))
    }
}

/// The modern meaning of a historical or current flag name.
fn native_meaning(name: &str) -> Option<Gfp> {
    if let Some(flag) = Flag::from_kernel_name(name) {
        return Some(flag.mask());
    }
    Some(match name {
        "__GFP_WAIT" => Gfp::DIRECT_RECLAIM,
        "__GFP_REPEAT" => Gfp::RETRY_MAYFAIL,
        "__GFP_SKIP_KASAN_POISON" | "__GFP_SKIP_KASAN_UNPOISON" => Gfp::SKIP_KASAN,
        "__GFP_KMEMCG" => Gfp::ACCOUNT,
        _ => return None,
    })
}

/// A mask converted from a profile's layout to the in-process one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The flags with a modern meaning.
    pub gfp: Gfp,
    /// Bits with no modern meaning (`__GFP_COLD`, `__GFP_NOTRACK`, vendor bits,
    /// undefined bits).
    pub unmapped: Vec<Unmapped>,
}

/// Bits of a foreign mask with no modern equivalent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmapped {
    /// The flag's name in its kernel, or `None` for bits no flag owns.
    pub name: Option<String>,
    /// The bits.
    pub mask: u32,
}
