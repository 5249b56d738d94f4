//! The built-in profiles: GFP layouts and name tables of mainline kernels.
//!
//! PROVISIONAL: only the 6.10+ enum layout is modelled here; older versions
//! fall back to it with a note. To be replaced by the full history.

use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::{KernelConfig, KernelVersion, NamedMask, Profile};

/// The newest release whose layout is known.
pub const NEWEST_KNOWN: KernelVersion = KernelVersion::new(7, 1);

/// Every supported mainline release, oldest first.
pub fn supported_versions() -> Vec<KernelVersion> {
    let mut v = Vec::new();
    for (major, last) in [(3u16, 19u16), (4, 20), (5, 19), (6, 19), (7, 1)] {
        for minor in 0..=last {
            v.push(KernelVersion::new(major, minor));
        }
    }
    v
}

/// The configuration of a typical x86_64 distribution kernel of that version.
pub fn distro_config(version: KernelVersion) -> KernelConfig {
    KernelConfig {
        lockdep: false,
        kasan_hw_tags: false,
        slab_obj_ext: version.at_least(6, 10),
        kmemcheck: false,
    }
}

/// Builds the profile of `version` with `config`.
pub fn build(version: KernelVersion, config: KernelConfig) -> Profile {
    let mut notes = Vec::new();
    let mut v = version;
    if version.release() > NEWEST_KNOWN {
        notes.push(format!(
            "{version} is newer than the newest known release {NEWEST_KNOWN}; using the {NEWEST_KNOWN} layout"
        ));
        v = NEWEST_KNOWN;
    }
    // 6.10+: bits 0..=23 fixed (9 unused), then the optional flags in order.
    let mut flags: Vec<NamedMask> = [
        "DMA", "HIGHMEM", "DMA32", "MOVABLE", "RECLAIMABLE", "HIGH", "IO", "FS", "ZERO", "",
        "DIRECT_RECLAIM", "KSWAPD_RECLAIM", "WRITE", "NOWARN", "RETRY_MAYFAIL", "NOFAIL",
        "NORETRY", "MEMALLOC", "COMP", "NOMEMALLOC", "HARDWALL", "THISNODE", "ACCOUNT",
        "ZEROTAGS",
    ]
    .iter()
    .enumerate()
    .filter(|(_, n)| !n.is_empty())
    .map(|(i, n)| NamedMask::new(format!("__GFP_{n}"), 1 << i))
    .collect();
    let mut next = 24;
    let mut opt = |name: &str, on: bool, flags: &mut Vec<NamedMask>| {
        let mask = if on {
            next += 1;
            1u32 << (next - 1)
        } else {
            0
        };
        flags.push(NamedMask::new(name, mask));
        mask
    };
    let skip_zero = opt("__GFP_SKIP_ZERO", config.kasan_hw_tags, &mut flags);
    let skip_kasan = opt("__GFP_SKIP_KASAN", config.kasan_hw_tags, &mut flags);
    let nolockdep = opt("__GFP_NOLOCKDEP", config.lockdep, &mut flags);
    let no_obj_ext = opt("__GFP_NO_OBJ_EXT", config.slab_obj_ext, &mut flags);
    let bits_mask = (1u32 << next) - 1;
    let f = |n: &str| flags.iter().find(|e| e.name[6..] == *n).map(|e| e.mask).unwrap_or(0);
    let reclaim = f("DIRECT_RECLAIM") | f("KSWAPD_RECLAIM");
    let kernel = reclaim | f("IO") | f("FS");
    let user = kernel | f("HARDWALL");
    let highuser = user | f("HIGHMEM");
    let hum = highuser | f("MOVABLE") | skip_kasan;
    let thl = (hum | f("COMP") | f("NOMEMALLOC") | f("NOWARN")) & !reclaim;
    let composites = vec![
        NamedMask::new("GFP_TRANSHUGE", thl | f("DIRECT_RECLAIM")),
        NamedMask::new("GFP_TRANSHUGE_LIGHT", thl),
        NamedMask::new("GFP_HIGHUSER_MOVABLE", hum),
        NamedMask::new("GFP_HIGHUSER", highuser),
        NamedMask::new("GFP_USER", user),
        NamedMask::new("GFP_KERNEL_ACCOUNT", kernel | f("ACCOUNT")),
        NamedMask::new("GFP_KERNEL", kernel),
        NamedMask::new("GFP_NOFS", reclaim | f("IO")),
        NamedMask::new("GFP_ATOMIC", f("HIGH") | f("KSWAPD_RECLAIM")),
        NamedMask::new("GFP_NOIO", reclaim),
        NamedMask::new("GFP_NOWAIT", f("KSWAPD_RECLAIM") | f("NOWARN")),
        NamedMask::new("GFP_DMA", f("DMA")),
        NamedMask::new("GFP_DMA32", f("DMA32")),
        NamedMask::new("__GFP_RECLAIM", reclaim),
    ];
    let mut pgg: Vec<NamedMask> = composites[..11].to_vec();
    let bit_order = v.at_least(6, 15);
    if bit_order {
        pgg.push(composites[11].clone());
        pgg.push(composites[12].clone());
        pgg.push(composites[13].clone());
        for e in &flags {
            if e.mask != 0 {
                pgg.push(e.clone());
            }
        }
    } else {
        pgg.push(composites[11].clone());
        pgg.push(NamedMask::new("__GFP_HIGHMEM", f("HIGHMEM")));
        pgg.push(composites[12].clone());
        for n in [
            "HIGH", "IO", "FS", "NOWARN", "RETRY_MAYFAIL", "NOFAIL", "NORETRY", "COMP", "ZERO",
            "NOMEMALLOC", "MEMALLOC", "HARDWALL", "THISNODE", "RECLAIMABLE", "MOVABLE", "ACCOUNT",
            "WRITE",
        ] {
            pgg.push(NamedMask::new(format!("__GFP_{n}"), f(n)));
        }
        pgg.push(composites[13].clone());
        for n in ["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "ZEROTAGS"] {
            pgg.push(NamedMask::new(format!("__GFP_{n}"), f(n)));
        }
    }
    let mut trace = pgg.clone();
    if !bit_order && config.kasan_hw_tags {
        trace.push(NamedMask::new("__GFP_SKIP_ZERO", skip_zero));
        trace.push(NamedMask::new("__GFP_SKIP_KASAN", skip_kasan));
    }
    let _ = (nolockdep, no_obj_ext);
    let hex = v.release() == KernelVersion::new(6, 13)
        || (v.at_least(6, 10) && !v.at_least(6, 13) && (v.release() != KernelVersion::new(6, 12) || v.patch.unwrap_or(0) <= 10));
    Profile {
        label: format!("Linux {version} ({config})"),
        version: Some(version),
        config,
        flags,
        composites,
        pgg_names: Some(pgg),
        trace_names: trace,
        trace_zero: "none".to_string(),
        trace_userspace_hex: hex,
        bits_mask,
        notes,
    }
}
