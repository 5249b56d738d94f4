//! The built-in profiles: GFP layouts and name tables of mainline kernels
//! from 3.0 to 7.1, built from rules keyed by version and configuration.
//!
//! Three concerns are kept apart:
//!
//! * `layout` lists the bit positions of one version, lowest first, with
//!   the Kconfig option each conditional flag depends on. Before 6.10 every
//!   flag has a fixed position (a configured-out flag is 0 but keeps its
//!   bit reserved); from 6.10 the bits come from an enum, so the optional
//!   flags take the next free positions.
//! * `composites` derives the `GFP_*` combinations from the flags, with the
//!   definitions of each era.
//! * `pgg_table`, `old_trace_table` and `kasan_trace_names` assemble the
//!   kernel's name tables in the kernel's order.
//!
//! Every era boundary carries a one-line comment with its evidence level:
//! `[src]` read in a source tree of that version, `[patch]` read in the patch
//! or pull request that made the change, `[log]` seen in real kernel logs,
//! `[inferred]` reasoned but not verified against that exact version.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use super::{KernelConfig, KernelVersion, NamedMask, Profile};

/// The newest release whose layout is known.
pub const NEWEST_KNOWN: KernelVersion = KernelVersion::new(7, 1);

/// The oldest release modelled; older versions get its layout and a note.
pub const OLDEST_KNOWN: KernelVersion = KernelVersion::new(3, 0);

/// Every supported mainline release, oldest first: 3.0–3.19, 4.0–4.20,
/// 5.0–5.19, 6.0–6.19, 7.0 and 7.1.
pub fn supported_versions() -> Vec<KernelVersion> {
    let mut v = Vec::new();
    for (major, last) in [(3u16, 19u16), (4, 20), (5, 19), (6, 19), (7, 1)] {
        for minor in 0..=last {
            v.push(KernelVersion::new(major, minor));
        }
    }
    v
}

/// The configuration of a typical x86_64 distribution kernel of that version:
/// no LOCKDEP, no KASAN_HW_TAGS (arm64 only), no KMEMCHECK, and MEMCG=y, which
/// selects SLAB_OBJ_EXT from 6.10 on.
pub fn distro_config(version: KernelVersion) -> KernelConfig {
    KernelConfig {
        lockdep: false,
        kasan_hw_tags: false,
        slab_obj_ext: version.at_least(6, 10),
        kmemcheck: false,
    }
}

/// Builds the profile of `version` with `config`.
///
/// Versions older than [`OLDEST_KNOWN`] get the 3.0 layout and versions newer
/// than [`NEWEST_KNOWN`] the 7.1 layout, each with a note. The patch level
/// only matters for the libtraceevent regression of 6.10 to 6.12.10.
pub fn build(version: KernelVersion, config: KernelConfig) -> Profile {
    let mut notes = Vec::new();
    let mut v = version;
    if version.release() > NEWEST_KNOWN {
        notes.push(format!(
            "{version} is newer than the newest known release {NEWEST_KNOWN}; using the {NEWEST_KNOWN} layout"
        ));
        v = NEWEST_KNOWN;
    } else if version < OLDEST_KNOWN {
        notes.push(format!(
            "{version} is older than the oldest known release {OLDEST_KNOWN}; using the {OLDEST_KNOWN} layout"
        ));
        v = OLDEST_KNOWN;
    }

    let (flags, bits_mask) = assign_bits(&layout(v), config);
    let composites = composites(v, &flags);
    let pgg_names = pgg_table(v, config, &flags, &composites);
    let trace_names = match &pgg_names {
        Some(pgg) => {
            let mut t = pgg.clone();
            t.extend(kasan_trace_names(v, config, &flags));
            t
        }
        None => old_trace_table(&flags, &composites),
    };
    // 4.6: "mm, tracing: unify mm flags handling in tracepoints and printk"
    // changed the zero string of show_gfp_flags() [patch].
    let trace_zero = if v.at_least(4, 6) {
        "none"
    } else {
        "GFP_NOWAIT"
    };

    Profile {
        label: format!("Linux {version} ({config})"),
        version: Some(version),
        config,
        flags,
        composites,
        pgg_names,
        trace_names,
        trace_zero: trace_zero.to_string(),
        trace_userspace_hex: userspace_hex(v),
        bits_mask,
        notes,
    }
}

/// The Kconfig option a flag's bit depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    /// Always defined.
    Always,
    /// `CONFIG_LOCKDEP`.
    Lockdep,
    /// `CONFIG_KASAN_HW_TAGS`.
    KasanHwTags,
    /// `CONFIG_SLAB_OBJ_EXT`.
    SlabObjExt,
    /// `CONFIG_KMEMCHECK`.
    Kmemcheck,
}

impl Cond {
    fn holds(self, c: KernelConfig) -> bool {
        match self {
            Cond::Always => true,
            Cond::Lockdep => c.lockdep,
            Cond::KasanHwTags => c.kasan_hw_tags,
            Cond::SlabObjExt => c.slab_obj_ext,
            Cond::Kmemcheck => c.kmemcheck,
        }
    }
}

/// One bit position of a layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// A flag, by its name without `__GFP_`, and when it gets its bit.
    Flag(&'static str, Cond),
    /// A bit no flag uses in this version.
    Hole,
}

/// The bit positions of one version, lowest first.
struct Layout {
    slots: Vec<Slot>,
    /// 6.10+: an absent optional flag takes no position (enum layout).
    /// Before: it keeps its position with the value 0.
    packed: bool,
}

/// The slots of `v`, lowest bit first.
fn layout(v: KernelVersion) -> Layout {
    use Cond::*;
    use Slot::{Flag as F, Hole};
    let at = |major, minor| v.at_least(major, minor);
    // Bits 0-3, the zone modifiers, never moved [src].
    let mut s = alloc::vec![
        F("DMA", Always),
        F("HIGHMEM", Always),
        F("DMA32", Always),
        F("MOVABLE", Always),
    ];

    if !at(4, 4) {
        // 3.0-4.3, the "WAIT era": __GFP_WAIT 0x10 [src: 3.x headers, perfetto v3_4/v3_10].
        s.extend([
            F("WAIT", Always),
            F("HIGH", Always),
            F("IO", Always),
            F("FS", Always),
            F("COLD", Always),
            F("NOWARN", Always),
            F("REPEAT", Always),
            F("NOFAIL", Always),
            F("NORETRY", Always),
        ]);
        // 3.6: __GFP_MEMALLOC 0x2000 (swap over NFS) [src: 3.10 header; patch].
        s.push(if at(3, 6) {
            F("MEMALLOC", Always)
        } else {
            Hole
        });
        s.extend([
            F("COMP", Always),
            F("ZERO", Always),
            F("NOMEMALLOC", Always),
            F("HARDWALL", Always),
            F("THISNODE", Always),
            F("RECLAIMABLE", Always),
        ]);
        // 0x100000: __GFP_KMEMCG 3.8-3.15 [src: 3.10 header; patch: removal diff],
        // __GFP_NOACCOUNT from 4.2 [patch: Davydov, May 2015].
        s.push(if at(3, 8) && !at(3, 16) {
            F("KMEMCG", Always)
        } else if at(4, 2) {
            F("NOACCOUNT", Always)
        } else {
            Hole
        });
        // 3.7: __GFP_NOTRACK unconditional, 0 without KMEMCHECK before
        // [patch: 3e648ebe0763 "make GFP_NOTRACK definition unconditional", in 3.7-rc1].
        s.push(F("NOTRACK", if at(3, 7) { Always } else { Kmemcheck }));
        s.extend([F("NO_KSWAPD", Always), F("OTHER_NODE", Always)]);
        // 3.3: __GFP_WRITE 0x1000000 [patch: Weiner's per-zone dirty limits; version inferred].
        if at(3, 3) {
            s.push(F("WRITE", Always));
        }
        return Layout {
            slots: s,
            packed: false,
        };
    }

    if !at(4, 18) {
        // 4.4: WAIT and NO_KSWAPD replaced by ATOMIC, DIRECT_RECLAIM and
        // KSWAPD_RECLAIM; RECLAIMABLE moved to 0x10 [patch: Gorman; log: 4.4 0x24000c0].
        s.extend([
            F("RECLAIMABLE", Always),
            F("HIGH", Always),
            F("IO", Always),
            F("FS", Always),
        ]);
        // 4.15: __GFP_COLD removed, leaving a hole [log: 4.15 0x15000c0; patch].
        s.push(if at(4, 15) { Hole } else { F("COLD", Always) });
        s.push(F("NOWARN", Always));
        // 4.13: __GFP_REPEAT renamed __GFP_RETRY_MAYFAIL, same bit [src: perfetto v4_14; version inferred].
        s.push(F(
            if at(4, 13) { "RETRY_MAYFAIL" } else { "REPEAT" },
            Always,
        ));
        s.extend([
            F("NOFAIL", Always),
            F("NORETRY", Always),
            F("MEMALLOC", Always),
            F("COMP", Always),
            F("ZERO", Always),
            F("NOMEMALLOC", Always),
            F("HARDWALL", Always),
            F("THISNODE", Always),
            F("ATOMIC", Always),
        ]);
        // 4.5: __GFP_NOACCOUNT replaced by __GFP_ACCOUNT, same bit [inferred].
        s.push(F(if at(4, 5) { "ACCOUNT" } else { "NOACCOUNT" }, Always));
        // 4.15: __GFP_NOTRACK removed with kmemcheck, leaving a hole [log; patch].
        s.push(if at(4, 15) {
            Hole
        } else {
            F("NOTRACK", Always)
        });
        s.push(F("DIRECT_RECLAIM", Always));
        if !at(4, 10) {
            s.extend([
                F("OTHER_NODE", Always),
                F("WRITE", Always),
                F("KSWAPD_RECLAIM", Always),
            ]);
        } else {
            // 4.10: __GFP_OTHER_NODE removed, WRITE and KSWAPD_RECLAIM move down
            // [patch: "get rid of __GFP_OTHER_NODE"; log: 4.12-4.15].
            s.extend([F("WRITE", Always), F("KSWAPD_RECLAIM", Always)]);
            // 4.12: __GFP_NOLOCKDEP, bit only with LOCKDEP [patch].
            if at(4, 12) {
                s.push(F("NOLOCKDEP", Lockdep));
            }
        }
        return Layout {
            slots: s,
            packed: false,
        };
    }

    if !at(5, 1) {
        // 4.18: "mm: save two stranding bit in gfp_mask" (Shakeel Butt)
        // [patch; src: 4.19 tree; log: 4.19 0x6000c0].
        s.extend([
            F("RECLAIMABLE", Always),
            F("HIGH", Always),
            F("IO", Always),
            F("FS", Always),
            F("WRITE", Always),
            F("NOWARN", Always),
            F("RETRY_MAYFAIL", Always),
            F("NOFAIL", Always),
            F("NORETRY", Always),
            F("MEMALLOC", Always),
            F("COMP", Always),
            F("ZERO", Always),
            F("NOMEMALLOC", Always),
            F("HARDWALL", Always),
            F("THISNODE", Always),
            F("ATOMIC", Always),
            F("ACCOUNT", Always),
            F("DIRECT_RECLAIM", Always),
            F("KSWAPD_RECLAIM", Always),
            F("NOLOCKDEP", Lockdep),
        ]);
        return Layout {
            slots: s,
            packed: false,
        };
    }

    // 5.1: "mm: shuffle GFP_* flags" (Dobriyan), GFP_KERNEL = 0xcc0
    // [patch; version inferred: posted 2019-01-09, after the 5.0 merge window].
    s.extend([
        F("RECLAIMABLE", Always),
        F("HIGH", Always),
        F("IO", Always),
        F("FS", Always),
        F("ZERO", Always),
    ]);
    // 6.3: "mm: discard __GFP_ATOMIC", 0x200 left unused [patch; log: 6.6 0x820].
    s.push(if at(6, 3) { Hole } else { F("ATOMIC", Always) });
    s.extend([
        F("DIRECT_RECLAIM", Always),
        F("KSWAPD_RECLAIM", Always),
        F("WRITE", Always),
        F("NOWARN", Always),
        F("RETRY_MAYFAIL", Always),
        F("NOFAIL", Always),
        F("NORETRY", Always),
        F("MEMALLOC", Always),
        F("COMP", Always),
        F("NOMEMALLOC", Always),
        F("HARDWALL", Always),
        F("THISNODE", Always),
        F("ACCOUNT", Always),
    ]);
    let mut packed = false;
    if !at(5, 14) {
        s.push(F("NOLOCKDEP", Lockdep));
    } else if !at(5, 18) {
        // 5.14: __GFP_ZEROTAGS and an unconditional __GFP_SKIP_KASAN_POISON
        // [patch: base of Konovalov's 5.18 series; Rapoport's name fix in 5.14-rc7].
        s.extend([
            F("ZEROTAGS", Always),
            F("SKIP_KASAN_POISON", Always),
            F("NOLOCKDEP", Lockdep),
        ]);
    } else if !at(6, 4) {
        // 5.18: the KASAN bits become conditional on KASAN_HW_TAGS, fixed
        // positions [patch: Konovalov series; src: 6.1.192].
        s.extend([
            F("ZEROTAGS", Always),
            F("SKIP_ZERO", KasanHwTags),
            F("SKIP_KASAN_UNPOISON", KasanHwTags),
            F("SKIP_KASAN_POISON", KasanHwTags),
            F("NOLOCKDEP", Lockdep),
        ]);
    } else if !at(6, 10) {
        // 6.4: UNPOISON and POISON merged into __GFP_SKIP_KASAN
        // [patch: Collingbourne; src: gfp_types.h at 16f5dfbc851b].
        s.extend([
            F("ZEROTAGS", Always),
            F("SKIP_ZERO", KasanHwTags),
            F("SKIP_KASAN", KasanHwTags),
            F("NOLOCKDEP", Lockdep),
        ]);
    } else {
        // 6.10: "mm: enumerate all gfp flags", optional bits packed; adds
        // __GFP_NO_OBJ_EXT [src: 6.12.117].
        // 6.19: __GFP_NO_OBJ_EXT unconditional ("slab: prevent recursive
        // kmalloc() in alloc_empty_sheaf()", slab pull for 6.19) [patch].
        s.extend([
            F("ZEROTAGS", Always),
            F("SKIP_ZERO", KasanHwTags),
            F("SKIP_KASAN", KasanHwTags),
            F("NOLOCKDEP", Lockdep),
            F("NO_OBJ_EXT", if at(6, 19) { Always } else { SlabObjExt }),
        ]);
        packed = true;
    }
    Layout { slots: s, packed }
}

/// Gives every slot its value: the flags in bit order (a configured-out flag
/// has mask 0 and sits where its bit would be) and `__GFP_BITS_MASK`.
fn assign_bits(layout: &Layout, config: KernelConfig) -> (Vec<NamedMask>, u32) {
    let mut flags = Vec::new();
    let mut pos = 0u32;
    let mut last_absent = false;
    for slot in &layout.slots {
        match *slot {
            Slot::Hole => {
                pos += 1;
                last_absent = false;
            }
            Slot::Flag(name, cond) => {
                let on = cond.holds(config);
                let mask = if on { 1u32 << pos } else { 0 };
                flags.push(NamedMask::new(format!("__GFP_{name}"), mask));
                if on || !layout.packed {
                    pos += 1;
                }
                last_absent = !on;
            }
        }
    }
    // __GFP_BITS_SHIFT: with fixed positions it counts every slot but a
    // trailing configured-out one (the "+ IS_ENABLED(CONFIG_LOCKDEP)" term);
    // with the enum it is ___GFP_LAST_BIT.
    let shift = if !layout.packed && last_absent {
        pos - 1
    } else {
        pos
    };
    (flags, (1u32 << shift) - 1)
}

/// The mask of `__GFP_<bare>` in `flags`, 0 when the version lacks it.
fn flag(flags: &[NamedMask], bare: &str) -> u32 {
    flags
        .iter()
        .find(|f| &f.name[6..] == bare)
        .map_or(0, |f| f.mask)
}

/// Whether the version defines `__GFP_<bare>` (possibly as 0).
fn defines(flags: &[NamedMask], bare: &str) -> bool {
    flags.iter().any(|f| &f.name[6..] == bare)
}

/// The mask of a composite by name.
fn composite(composites: &[NamedMask], name: &str) -> Option<u32> {
    composites.iter().find(|c| c.name == name).map(|c| c.mask)
}

/// The `GFP_*` composites (and `__GFP_RECLAIM`) of `v`, in the order the
/// kernel's name tables list them.
fn composites(v: KernelVersion, flags: &[NamedMask]) -> Vec<NamedMask> {
    let f = |bare: &str| flag(flags, bare);
    let wait_era = !v.at_least(4, 4);
    let reclaim = if wait_era {
        f("WAIT")
    } else {
        f("DIRECT_RECLAIM") | f("KSWAPD_RECLAIM")
    };
    let noio = reclaim;
    let nofs = noio | f("IO");
    let kernel = nofs | f("FS");
    let user = kernel | f("HARDWALL");
    let highuser = user | f("HIGHMEM");
    // 5.14-6.3 the KASAN skip flags are part of GFP_HIGHUSER_MOVABLE (0 when
    // configured out); 6.4+ __GFP_SKIP_KASAN [patch; src: 6.1, 6.12].
    let highuser_movable = highuser
        | f("MOVABLE")
        | f("SKIP_KASAN_POISON")
        | f("SKIP_KASAN_UNPOISON")
        | f("SKIP_KASAN");
    // 3.x: GFP_ATOMIC was __GFP_HIGH alone; 6.3 dropped __GFP_ATOMIC (f gives 0).
    let atomic = if wait_era {
        f("HIGH")
    } else {
        f("HIGH") | f("ATOMIC") | f("KSWAPD_RECLAIM")
    };
    // 6.8: "gfp: include __GFP_NOWARN in GFP_NOWAIT" (16f5dfbc851b) [patch; src: 6.12].
    let nowait = if wait_era {
        0
    } else if v.at_least(6, 8) {
        f("KSWAPD_RECLAIM") | f("NOWARN")
    } else {
        f("KSWAPD_RECLAIM")
    };
    let light = (highuser_movable | f("COMP") | f("NOMEMALLOC") | f("NOWARN")) & !reclaim;
    let thp_base = highuser_movable | f("COMP") | f("NOMEMALLOC") | f("NORETRY") | f("NOWARN");
    let transhuge = if wait_era {
        thp_base | f("NO_KSWAPD")
    } else if !v.at_least(4, 8) {
        thp_base & !f("KSWAPD_RECLAIM")
    } else {
        // 4.8: GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM [src: 4.9 header].
        light | f("DIRECT_RECLAIM")
    };

    let mut c = Vec::new();
    let mut push = |name: &str, mask: u32, defined: bool| {
        if defined {
            c.push(NamedMask::new(name, mask));
        }
    };
    push("GFP_TRANSHUGE", transhuge, true);
    push("GFP_TRANSHUGE_LIGHT", light, v.at_least(4, 8));
    push("GFP_HIGHUSER_MOVABLE", highuser_movable, true);
    push("GFP_HIGHUSER", highuser, true);
    push("GFP_USER", user, true);
    // 4.14: GFP_TEMPORARY removed [inferred].
    push(
        "GFP_TEMPORARY",
        kernel | f("RECLAIMABLE"),
        !v.at_least(4, 14),
    );
    // 4.5: GFP_KERNEL_ACCOUNT arrives with __GFP_ACCOUNT [inferred].
    push(
        "GFP_KERNEL_ACCOUNT",
        kernel | f("ACCOUNT"),
        v.at_least(4, 5),
    );
    push("GFP_KERNEL", kernel, true);
    push("GFP_NOFS", nofs, true);
    push("GFP_ATOMIC", atomic, true);
    push("GFP_NOIO", noio, true);
    push("GFP_NOWAIT", nowait, true);
    push("GFP_DMA", f("DMA"), true);
    push("GFP_DMA32", f("DMA32"), true);
    push("__GFP_RECLAIM", reclaim, !wait_era);
    c
}

/// The `%pGg` table (`__def_gfpflag_names`), or `None` before 4.6.
fn pgg_table(
    v: KernelVersion,
    config: KernelConfig,
    flags: &[NamedMask],
    composites: &[NamedMask],
) -> Option<Vec<NamedMask>> {
    // 4.6: %pGg added, table shared with the tracepoints, __GFP_ spellings
    // [patch: v4 series 2016-01; SUSE "Patch-mainline: v4.6-rc1"].
    if !v.at_least(4, 6) {
        return None;
    }
    let mut t = Vec::new();
    let comp = |name: &str, t: &mut Vec<NamedMask>| {
        if let Some(mask) = composite(composites, name) {
            t.push(NamedMask::new(name, mask));
        }
    };
    for name in [
        "GFP_TRANSHUGE",
        "GFP_TRANSHUGE_LIGHT",
        "GFP_HIGHUSER_MOVABLE",
        "GFP_HIGHUSER",
        "GFP_USER",
        "GFP_TEMPORARY",
        "GFP_KERNEL_ACCOUNT",
        "GFP_KERNEL",
        "GFP_NOFS",
        "GFP_ATOMIC",
        "GFP_NOIO",
        "GFP_NOWAIT",
        "GFP_DMA",
    ] {
        comp(name, &mut t);
    }

    if v.at_least(6, 15) {
        // 6.15: composites, then every configured flag in bit order, from
        // TRACE_GFP_FLAGS [patch: Rostedt 2025-02-25, in trace/for-next for
        // 6.15, with Mladek's "{ 0, NULL }" terminator fix; log: 6.16, 7.1].
        comp("GFP_DMA32", &mut t);
        comp("__GFP_RECLAIM", &mut t);
        for f in flags {
            // NO_OBJ_EXT is only named with SLAB_OBJ_EXT, even after its bit
            // became unconditional in 6.19 [patch: base of a 2026-06 RFC].
            let named = f.name != "__GFP_NO_OBJ_EXT" || config.slab_obj_ext;
            if f.mask != 0 && named {
                t.push(f.clone());
            }
        }
        return Some(t);
    }

    t.push(NamedMask::new("__GFP_HIGHMEM", flag(flags, "HIGHMEM")));
    comp("GFP_DMA32", &mut t);
    for bare in [
        "HIGH",
        "ATOMIC",
        "IO",
        "FS",
        "COLD",
        "NOWARN",
        "REPEAT",
        "RETRY_MAYFAIL",
        "NOFAIL",
        "NORETRY",
        "COMP",
        "ZERO",
        "NOMEMALLOC",
        "MEMALLOC",
        "HARDWALL",
        "THISNODE",
        "RECLAIMABLE",
        "MOVABLE",
        "ACCOUNT",
        "NOTRACK",
        "WRITE",
        "RECLAIM",
        "DIRECT_RECLAIM",
        "KSWAPD_RECLAIM",
        "OTHER_NODE",
        // 5.14: both appended (Rapoport, in 5.14-rc7) [patch].
        "ZEROTAGS",
        "SKIP_KASAN_POISON",
    ] {
        if bare == "RECLAIM" {
            comp("__GFP_RECLAIM", &mut t);
            continue;
        }
        // 5.18: the KASAN names move to the trace-only extension [patch; src: 6.1].
        if bare == "SKIP_KASAN_POISON" && v.at_least(5, 18) {
            continue;
        }
        if defines(flags, bare) {
            t.push(NamedMask::new(format!("__GFP_{bare}"), flag(flags, bare)));
        }
    }
    Some(t)
}

/// `__def_gfpflag_names_kasan`, the names tracepoints (not `%pGg`) add with
/// KASAN_HW_TAGS in 5.18-6.14 [src: 6.1.192, 6.12.117].
fn kasan_trace_names(
    v: KernelVersion,
    config: KernelConfig,
    flags: &[NamedMask],
) -> Vec<NamedMask> {
    if !config.kasan_hw_tags || !v.at_least(5, 18) || v.at_least(6, 15) {
        return Vec::new();
    }
    let names: &[&str] = if v.at_least(6, 4) {
        &["SKIP_ZERO", "SKIP_KASAN"]
    } else {
        &["SKIP_ZERO", "SKIP_KASAN_POISON", "SKIP_KASAN_UNPOISON"]
    };
    names
        .iter()
        .map(|bare| NamedMask::new(format!("__GFP_{bare}"), flag(flags, bare)))
        .collect()
}

/// The tracepoint table of `include/trace/events/gfpflags.h` before 4.6:
/// names without the leading underscores, no entry for `__GFP_FS`, the zone
/// bits or `__GFP_WRITE`, and `GFP_NOTRACK` with mask 0 where NOTRACK was 0
/// [src: perfetto v3_4/v3_10/v4_4 tables; patch: gfpflags.h diffs].
fn old_trace_table(flags: &[NamedMask], composites: &[NamedMask]) -> Vec<NamedMask> {
    let mut t = Vec::new();
    for name in [
        "GFP_TRANSHUGE",
        "GFP_HIGHUSER_MOVABLE",
        "GFP_HIGHUSER",
        "GFP_USER",
        "GFP_TEMPORARY",
        "GFP_KERNEL",
        "GFP_NOFS",
        "GFP_ATOMIC",
        "GFP_NOIO",
    ] {
        if let Some(mask) = composite(composites, name) {
            t.push(NamedMask::new(name, mask));
        }
    }
    // 4.4: GFP_WAIT's entry became "GFP_ATOMIC" for __GFP_ATOMIC, NO_KSWAPD's
    // became DIRECT_RECLAIM and KSWAPD_RECLAIM [patch: Gorman 4.4 diff].
    // 3.6 adds MEMALLOC; 3.8-3.15 KMEMCG [patch; src: perfetto v3_10].
    for bare in [
        "HIGH",
        "WAIT",
        "ATOMIC",
        "IO",
        "COLD",
        "NOWARN",
        "REPEAT",
        "NOFAIL",
        "NORETRY",
        "COMP",
        "ZERO",
        "NOMEMALLOC",
        "MEMALLOC",
        "HARDWALL",
        "THISNODE",
        "RECLAIMABLE",
        "KMEMCG",
        "MOVABLE",
        "NOTRACK",
        "NO_KSWAPD",
        "DIRECT_RECLAIM",
        "KSWAPD_RECLAIM",
        "OTHER_NODE",
    ] {
        if defines(flags, bare) {
            t.push(NamedMask::new(format!("GFP_{bare}"), flag(flags, bare)));
        }
    }
    t
}

/// Whether trace-cmd/perf printed hex for gfp_flags: 6.10 to 6.12.10 and 6.13,
/// until 60295b944ff6 (6.14-rc1, backported to 6.12.11) [patch; stable review].
fn userspace_hex(v: KernelVersion) -> bool {
    if !v.at_least(6, 10) || v.at_least(6, 14) {
        return false;
    }
    if v.release() == KernelVersion::new(6, 12) {
        return v.patch.unwrap_or(0) <= 10;
    }
    true
}
