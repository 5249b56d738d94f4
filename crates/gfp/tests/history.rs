//! The built-in kernel history (`gfp::profile::history`) against the worked
//! examples, era tables and real log lines of the reference notes. Needs no
//! kernel sources.

use gfp::parse::parse_mask;
use gfp::profile::history::{self, distro_config, supported_versions, NEWEST_KNOWN};
use gfp::profile::{KernelConfig, KernelVersion, NamedMask, Profile};
use gfp::render;

fn v(major: u16, minor: u16) -> KernelVersion {
    KernelVersion::new(major, minor)
}

fn vp(major: u16, minor: u16, patch: u16) -> KernelVersion {
    KernelVersion::with_patch(major, minor, patch)
}

const OFF: KernelConfig = KernelConfig {
    lockdep: false,
    kasan_hw_tags: false,
    slab_obj_ext: false,
    kmemcheck: false,
};

fn cfg(lockdep: bool, kasan_hw_tags: bool, slab_obj_ext: bool) -> KernelConfig {
    KernelConfig {
        lockdep,
        kasan_hw_tags,
        slab_obj_ext,
        kmemcheck: false,
    }
}

fn p(version: KernelVersion) -> Profile {
    Profile::for_version_default(version)
}

fn pc(version: KernelVersion, config: KernelConfig) -> Profile {
    Profile::for_version(version, config)
}

fn mask(profile: &Profile, name: &str) -> u32 {
    profile
        .lookup(name)
        .unwrap_or_else(|| panic!("{name} not defined in {}", profile.label))
}

fn names(table: &[NamedMask]) -> Vec<&str> {
    table.iter().map(|e| e.name.as_str()).collect()
}

fn pgg_names(profile: &Profile) -> Vec<&str> {
    names(profile.pgg_names.as_deref().expect("no %pGg table"))
}

/// Every release in `[from, to]` (both `major.minor`).
fn range(from: KernelVersion, to: KernelVersion) -> Vec<KernelVersion> {
    supported_versions()
        .into_iter()
        .filter(|x| *x >= from && *x <= to)
        .collect()
}

// ---------------------------------------------------------------------------
// Versions, configs, labels, notes

#[test]
fn supported_versions_cover_3_0_to_7_1() {
    let all = supported_versions();
    assert_eq!(all.len(), 20 + 21 + 20 + 20 + 2);
    assert_eq!(all.first(), Some(&v(3, 0)));
    assert_eq!(all.last(), Some(&NEWEST_KNOWN));
    assert_eq!(NEWEST_KNOWN, v(7, 1));
    assert!(all.contains(&v(4, 20)) && all.contains(&v(5, 19)) && all.contains(&v(6, 19)));
    assert!(all.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn distro_config_has_slab_obj_ext_from_6_10_only() {
    assert_eq!(distro_config(v(6, 9)), OFF);
    let d = distro_config(v(6, 10));
    assert!(d.slab_obj_ext && !d.lockdep && !d.kasan_hw_tags && !d.kmemcheck);
    assert!(distro_config(v(7, 1)).slab_obj_ext);
    assert_eq!(distro_config(v(3, 4)), OFF);
}

#[test]
fn labels_and_versions() {
    let p612 = p(v(6, 12));
    assert_eq!(p612.label, "Linux 6.12 (SLAB_OBJ_EXT)");
    assert_eq!(p612.version, Some(v(6, 12)));
    assert!(p612.notes.is_empty());
    let x = pc(vp(5, 4, 0), OFF);
    assert_eq!(x.label, "Linux 5.4.0 (no layout-moving options)");
    assert_eq!(x.version, Some(vp(5, 4, 0)));
}

#[test]
fn newer_than_known_uses_newest_layout_with_note() {
    let np = p(v(7, 3));
    assert_eq!(
        np.notes,
        vec!["7.3 is newer than the newest known release 7.1; using the 7.1 layout".to_string()]
    );
    assert_eq!(np.version, Some(v(7, 3)));
    let newest = p(v(7, 1));
    assert_eq!(np.flags, newest.flags);
    assert_eq!(np.pgg_names, newest.pgg_names);
    assert_eq!(np.bits_mask, newest.bits_mask);
    assert!(p(vp(7, 1, 5)).notes.is_empty());
}

#[test]
fn older_than_known_uses_3_0_with_note() {
    let old = pc(vp(2, 6, 32), OFF);
    assert_eq!(old.notes.len(), 1);
    assert!(
        old.notes[0].contains("older than the oldest known release 3.0"),
        "{:?}",
        old.notes
    );
    let three = pc(v(3, 0), OFF);
    assert_eq!(old.flags, three.flags);
    assert_eq!(old.trace_names, three.trace_names);
    assert_eq!(old.trace_zero, "GFP_NOWAIT");
}

// ---------------------------------------------------------------------------
// Invariants

#[test]
fn every_version_and_config_validates() {
    let mut versions = supported_versions();
    versions.extend([vp(2, 6, 32), vp(6, 12, 5), vp(6, 12, 11), v(7, 3)]);
    for version in versions {
        for config in KernelConfig::all_combinations() {
            let prof = pc(version, config);
            prof.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", prof.label));
            let mut all = 0u32;
            for f in &prof.flags {
                assert!(f.name.starts_with("__GFP_"), "{}: {}", prof.label, f.name);
                assert_eq!(
                    f.mask & !prof.bits_mask,
                    0,
                    "{}: {} outside mask",
                    prof.label,
                    f.name
                );
                all |= f.mask;
            }
            // The flags are listed in bit order.
            let set: Vec<u32> = prof
                .flags
                .iter()
                .map(|f| f.mask)
                .filter(|&m| m != 0)
                .collect();
            assert!(set.windows(2).all(|w| w[0] < w[1]), "{}", prof.label);
            // Composites and names only use defined bits.
            for e in prof
                .composites
                .iter()
                .chain(prof.pgg_names.iter().flatten())
                .chain(prof.trace_names.iter())
            {
                assert_eq!(
                    e.mask & !all,
                    0,
                    "{}: {} uses an undefined bit",
                    prof.label,
                    e.name
                );
            }
            assert_eq!(
                prof.pgg_names.is_none(),
                version < v(4, 6),
                "{}",
                prof.label
            );
            assert!(!prof.trace_names.is_empty());
            assert!((prof.bits_mask + 1).is_power_of_two());
        }
    }
}

#[test]
fn native_is_6_12_with_everything_on() {
    let n = Profile::native();
    assert_eq!(mask(&n, "GFP_KERNEL"), 0xcc0);
    assert_eq!(mask(&n, "GFP_HIGHUSER_MOVABLE"), 0x2100cca);
    assert_eq!(mask(&n, "__GFP_SKIP_ZERO"), 0x100_0000);
    assert_eq!(mask(&n, "__GFP_SKIP_KASAN"), 0x200_0000);
    assert_eq!(mask(&n, "__GFP_NOLOCKDEP"), 0x400_0000);
    assert_eq!(mask(&n, "__GFP_NO_OBJ_EXT"), 0x800_0000);
    assert_eq!(n.bits_mask, 0xfff_ffff);
    // Bit i is the flag of the in-process layout, 0x200 unused.
    for f in gfp::Flag::ALL {
        assert_eq!(n.lookup(f.kernel_name()), Some(f.mask().bits()), "{f:?}");
    }
    assert_eq!(n.flag_name(0x200), None);
}

// ---------------------------------------------------------------------------
// Bit tables per era (reference section 2)

#[test]
fn bit_positions_per_era() {
    // (version, flag, value) with every option on.
    let on = KernelConfig::ALL_ON;
    let cases: &[(KernelVersion, &str, u32)] = &[
        (v(3, 10), "__GFP_WAIT", 0x10),
        (v(3, 10), "__GFP_RECLAIMABLE", 0x80000),
        (v(3, 10), "__GFP_KMEMCG", 0x100000),
        (v(3, 10), "__GFP_NOTRACK", 0x200000),
        (v(3, 10), "__GFP_NO_KSWAPD", 0x400000),
        (v(3, 10), "__GFP_OTHER_NODE", 0x800000),
        (v(3, 10), "__GFP_WRITE", 0x1000000),
        (v(3, 10), "__GFP_MEMALLOC", 0x2000),
        (v(4, 3), "__GFP_NOACCOUNT", 0x100000),
        (v(4, 4), "__GFP_NOACCOUNT", 0x100000),
        (v(4, 4), "__GFP_ATOMIC", 0x80000),
        (v(4, 4), "__GFP_DIRECT_RECLAIM", 0x400000),
        (v(4, 4), "__GFP_KSWAPD_RECLAIM", 0x2000000),
        (v(4, 4), "__GFP_RECLAIMABLE", 0x10),
        (v(4, 5), "__GFP_ACCOUNT", 0x100000),
        (v(4, 9), "__GFP_OTHER_NODE", 0x800000),
        (v(4, 10), "__GFP_WRITE", 0x800000),
        (v(4, 10), "__GFP_KSWAPD_RECLAIM", 0x1000000),
        (v(4, 12), "__GFP_NOLOCKDEP", 0x2000000),
        (v(4, 12), "__GFP_REPEAT", 0x400),
        (v(4, 13), "__GFP_RETRY_MAYFAIL", 0x400),
        (v(4, 14), "__GFP_COLD", 0x100),
        (v(4, 17), "__GFP_NOLOCKDEP", 0x2000000),
        (v(4, 18), "__GFP_WRITE", 0x100),
        (v(4, 18), "__GFP_DIRECT_RECLAIM", 0x200000),
        (v(4, 18), "__GFP_KSWAPD_RECLAIM", 0x400000),
        (v(4, 18), "__GFP_NOLOCKDEP", 0x800000),
        (v(5, 0), "__GFP_ATOMIC", 0x80000),
        (v(5, 1), "__GFP_ZERO", 0x100),
        (v(5, 1), "__GFP_ATOMIC", 0x200),
        (v(5, 1), "__GFP_DIRECT_RECLAIM", 0x400),
        (v(5, 1), "__GFP_KSWAPD_RECLAIM", 0x800),
        (v(5, 1), "__GFP_WRITE", 0x1000),
        (v(5, 1), "__GFP_NOWARN", 0x2000),
        (v(5, 1), "__GFP_RETRY_MAYFAIL", 0x4000),
        (v(5, 1), "__GFP_NOFAIL", 0x8000),
        (v(5, 1), "__GFP_NORETRY", 0x10000),
        (v(5, 1), "__GFP_MEMALLOC", 0x20000),
        (v(5, 1), "__GFP_COMP", 0x40000),
        (v(5, 1), "__GFP_NOMEMALLOC", 0x80000),
        (v(5, 1), "__GFP_HARDWALL", 0x100000),
        (v(5, 1), "__GFP_THISNODE", 0x200000),
        (v(5, 1), "__GFP_ACCOUNT", 0x400000),
        (v(5, 1), "__GFP_NOLOCKDEP", 0x800000),
        (v(5, 14), "__GFP_ZEROTAGS", 0x800000),
        (v(5, 14), "__GFP_SKIP_KASAN_POISON", 0x1000000),
        (v(5, 14), "__GFP_NOLOCKDEP", 0x2000000),
        (v(5, 18), "__GFP_SKIP_ZERO", 0x1000000),
        (v(5, 18), "__GFP_SKIP_KASAN_UNPOISON", 0x2000000),
        (v(5, 18), "__GFP_SKIP_KASAN_POISON", 0x4000000),
        (v(5, 18), "__GFP_NOLOCKDEP", 0x8000000),
        (v(6, 3), "__GFP_NOLOCKDEP", 0x8000000),
        (v(6, 4), "__GFP_SKIP_KASAN", 0x2000000),
        (v(6, 4), "__GFP_NOLOCKDEP", 0x4000000),
        (v(6, 9), "__GFP_NOLOCKDEP", 0x4000000),
        (v(7, 1), "__GFP_NO_OBJ_EXT", 0x8000000),
    ];
    for &(version, name, want) in cases {
        assert_eq!(mask(&pc(version, on), name), want, "{name} in {version}");
    }
}

#[test]
fn flags_appear_and_disappear_with_their_eras() {
    let has = |version, name: &str| {
        pc(version, KernelConfig::ALL_ON)
            .flags
            .iter()
            .any(|f| f.name == name)
    };
    let cases: &[(&str, KernelVersion, KernelVersion)] = &[
        ("__GFP_WAIT", v(3, 0), v(4, 3)),
        ("__GFP_NO_KSWAPD", v(3, 0), v(4, 3)),
        ("__GFP_MEMALLOC", v(3, 6), v(7, 1)),
        ("__GFP_KMEMCG", v(3, 8), v(3, 15)),
        ("__GFP_NOACCOUNT", v(4, 2), v(4, 4)),
        ("__GFP_ACCOUNT", v(4, 5), v(7, 1)),
        ("__GFP_WRITE", v(3, 3), v(7, 1)),
        ("__GFP_ATOMIC", v(4, 4), v(6, 2)),
        ("__GFP_COLD", v(3, 0), v(4, 14)),
        ("__GFP_NOTRACK", v(3, 0), v(4, 14)),
        ("__GFP_OTHER_NODE", v(3, 0), v(4, 9)),
        ("__GFP_REPEAT", v(3, 0), v(4, 12)),
        ("__GFP_RETRY_MAYFAIL", v(4, 13), v(7, 1)),
        ("__GFP_NOLOCKDEP", v(4, 12), v(7, 1)),
        ("__GFP_ZEROTAGS", v(5, 14), v(7, 1)),
        ("__GFP_SKIP_KASAN_POISON", v(5, 14), v(6, 3)),
        ("__GFP_SKIP_KASAN_UNPOISON", v(5, 18), v(6, 3)),
        ("__GFP_SKIP_ZERO", v(5, 18), v(7, 1)),
        ("__GFP_SKIP_KASAN", v(6, 4), v(7, 1)),
        ("__GFP_NO_OBJ_EXT", v(6, 10), v(7, 1)),
        ("__GFP_DIRECT_RECLAIM", v(4, 4), v(7, 1)),
    ];
    for &(name, from, to) in cases {
        for version in supported_versions() {
            assert_eq!(
                has(version, name),
                version >= from && version <= to,
                "{name} in {version}"
            );
        }
    }
}

#[test]
fn configured_out_flags_are_zero() {
    // 3.0-3.6: NOTRACK only with KMEMCHECK; 3.7 made it unconditional.
    let km = KernelConfig {
        kmemcheck: true,
        ..OFF
    };
    assert_eq!(mask(&pc(v(3, 4), OFF), "__GFP_NOTRACK"), 0);
    assert_eq!(mask(&pc(v(3, 4), km), "__GFP_NOTRACK"), 0x200000);
    assert_eq!(mask(&pc(v(3, 6), OFF), "__GFP_NOTRACK"), 0);
    assert_eq!(mask(&pc(v(3, 7), OFF), "__GFP_NOTRACK"), 0x200000);
    assert_eq!(mask(&pc(v(3, 18), OFF), "__GFP_NOTRACK"), 0x200000);
    // LOCKDEP.
    assert_eq!(mask(&pc(v(4, 14), OFF), "__GFP_NOLOCKDEP"), 0);
    assert_eq!(mask(&pc(v(6, 1), OFF), "__GFP_NOLOCKDEP"), 0);
    // KASAN_HW_TAGS, 5.18+ (5.14-5.17 SKIP_KASAN_POISON is unconditional).
    assert_eq!(
        mask(&pc(v(5, 15), OFF), "__GFP_SKIP_KASAN_POISON"),
        0x1000000
    );
    for name in [
        "__GFP_SKIP_ZERO",
        "__GFP_SKIP_KASAN_UNPOISON",
        "__GFP_SKIP_KASAN_POISON",
    ] {
        assert_eq!(mask(&pc(v(6, 1), OFF), name), 0, "{name}");
    }
    assert_eq!(mask(&pc(v(6, 6), OFF), "__GFP_SKIP_KASAN"), 0);
    // SLAB_OBJ_EXT, until 6.19 made the bit unconditional.
    assert_eq!(mask(&pc(v(6, 12), OFF), "__GFP_NO_OBJ_EXT"), 0);
    assert_eq!(mask(&pc(v(6, 18), OFF), "__GFP_NO_OBJ_EXT"), 0);
    assert_eq!(mask(&pc(v(6, 19), OFF), "__GFP_NO_OBJ_EXT"), 0x1000000);
    assert_eq!(mask(&pc(v(7, 1), OFF), "__GFP_NO_OBJ_EXT"), 0x1000000);
}

#[test]
fn bits_mask_per_era() {
    let l = cfg(true, false, false);
    let cases: &[(KernelVersion, KernelConfig, u32)] = &[
        (v(3, 0), OFF, 0xffffff),
        (v(3, 2), OFF, 0xffffff),
        (v(3, 3), OFF, 0x1ffffff),
        (v(4, 3), OFF, 0x1ffffff),
        (v(4, 4), OFF, 0x3ffffff),
        (v(4, 9), OFF, 0x3ffffff),
        (v(4, 10), OFF, 0x1ffffff),
        (v(4, 12), OFF, 0x1ffffff),
        (v(4, 12), l, 0x3ffffff),
        (v(4, 17), l, 0x3ffffff),
        (v(4, 18), OFF, 0x7fffff),
        (v(4, 18), l, 0xffffff),
        (v(5, 13), OFF, 0x7fffff),
        (v(5, 14), OFF, 0x1ffffff),
        (v(5, 14), l, 0x3ffffff),
        (v(5, 18), OFF, 0x7ffffff),
        (v(6, 1), l, 0xfffffff),
        (v(6, 4), OFF, 0x3ffffff),
        (v(6, 9), l, 0x7ffffff),
        (v(6, 12), OFF, 0xffffff),
        (v(6, 19), OFF, 0x1ffffff),
    ];
    for &(version, config, want) in cases {
        assert_eq!(pc(version, config).bits_mask, want, "{version} {config}");
    }
}

// ---------------------------------------------------------------------------
// Composites per era (reference section 2, configs off)

#[test]
fn composite_values_per_era() {
    // Columns: 3.x, 4.4-4.9, 4.10-4.17, 4.18-5.0, 5.1-5.13, 5.14-5.17,
    // 5.18-6.2, 6.3-6.7, 6.8+.
    let eras: [(KernelVersion, KernelVersion); 9] = [
        (v(3, 0), v(4, 3)),
        (v(4, 4), v(4, 9)),
        (v(4, 10), v(4, 17)),
        (v(4, 18), v(5, 0)),
        (v(5, 1), v(5, 13)),
        (v(5, 14), v(5, 17)),
        (v(5, 18), v(6, 2)),
        (v(6, 3), v(6, 7)),
        (v(6, 8), v(7, 1)),
    ];
    let table: &[(&str, [u32; 9])] = &[
        (
            "GFP_ATOMIC",
            [
                0x20, 0x2080020, 0x1080020, 0x480020, 0xa20, 0xa20, 0xa20, 0x820, 0x820,
            ],
        ),
        (
            "GFP_KERNEL",
            [
                0xd0, 0x24000c0, 0x14000c0, 0x6000c0, 0xcc0, 0xcc0, 0xcc0, 0xcc0, 0xcc0,
            ],
        ),
        (
            "GFP_NOWAIT",
            [
                0, 0x2000000, 0x1000000, 0x400000, 0x800, 0x800, 0x800, 0x800, 0x2800,
            ],
        ),
        (
            "GFP_NOIO",
            [
                0x10, 0x2400000, 0x1400000, 0x600000, 0xc00, 0xc00, 0xc00, 0xc00, 0xc00,
            ],
        ),
        (
            "GFP_NOFS",
            [
                0x50, 0x2400040, 0x1400040, 0x600040, 0xc40, 0xc40, 0xc40, 0xc40, 0xc40,
            ],
        ),
        (
            "GFP_USER",
            [
                0x200d0, 0x24200c0, 0x14200c0, 0x6200c0, 0x100cc0, 0x100cc0, 0x100cc0, 0x100cc0,
                0x100cc0,
            ],
        ),
        (
            "GFP_HIGHUSER",
            [
                0x200d2, 0x24200c2, 0x14200c2, 0x6200c2, 0x100cc2, 0x100cc2, 0x100cc2, 0x100cc2,
                0x100cc2,
            ],
        ),
        (
            "GFP_HIGHUSER_MOVABLE",
            [
                0x200da, 0x24200ca, 0x14200ca, 0x6200ca, 0x100cca, 0x1100cca, 0x100cca, 0x100cca,
                0x100cca,
            ],
        ),
    ];
    for (i, &(from, to)) in eras.iter().enumerate() {
        for version in range(from, to) {
            let prof = pc(version, OFF);
            for (name, values) in table {
                assert_eq!(mask(&prof, name), values[i], "{name} in {version}");
            }
        }
    }
    // GFP_KERNEL_ACCOUNT from 4.5.
    for (version, want) in [
        (v(4, 5), 0x25000c0),
        (v(4, 9), 0x25000c0),
        (v(4, 10), 0x15000c0),
        (v(4, 15), 0x15000c0),
        (v(4, 19), 0x7000c0),
        (v(5, 4), 0x400cc0),
        (v(6, 12), 0x400cc0),
    ] {
        assert_eq!(
            mask(&pc(version, OFF), "GFP_KERNEL_ACCOUNT"),
            want,
            "{version}"
        );
    }
    for version in range(v(3, 0), v(4, 4)) {
        assert_eq!(
            pc(version, OFF).lookup("GFP_KERNEL_ACCOUNT"),
            None,
            "{version}"
        );
    }
    // GFP_TEMPORARY until 4.13.
    for (version, want) in [
        (v(3, 10), 0x800d0),
        (v(4, 4), 0x24000d0),
        (v(4, 13), 0x14000d0),
    ] {
        assert_eq!(mask(&pc(version, OFF), "GFP_TEMPORARY"), want, "{version}");
    }
    for version in range(v(4, 14), v(7, 1)) {
        assert_eq!(pc(version, OFF).lookup("GFP_TEMPORARY"), None, "{version}");
    }
    // __GFP_RECLAIM from 4.4.
    assert_eq!(pc(v(4, 3), OFF).lookup("__GFP_RECLAIM"), None);
    assert_eq!(mask(&pc(v(4, 4), OFF), "__GFP_RECLAIM"), 0x2400000);
    assert_eq!(mask(&pc(v(6, 12), OFF), "__GFP_RECLAIM"), 0xc00);
}

#[test]
fn transhuge_values_per_era() {
    let cases: &[(KernelVersion, Option<u32>, u32)] = &[
        (v(3, 10), None, 0x4352da),
        (v(4, 4), None, 0x4352ca),
        (v(4, 7), None, 0x4352ca),
        (v(4, 8), Some(0x342ca), 0x4342ca),
        (v(4, 14), Some(0x342ca), 0x4342ca),
        (v(4, 19), Some(0x342ca), 0x2342ca),
        (v(5, 4), Some(0x1c20ca), 0x1c24ca),
        (v(5, 15), Some(0x11c20ca), 0x11c24ca),
        (v(6, 1), Some(0x1c20ca), 0x1c24ca),
        (v(6, 12), Some(0x1c20ca), 0x1c24ca),
    ];
    for &(version, light, full) in cases {
        let prof = pc(version, OFF);
        assert_eq!(prof.lookup("GFP_TRANSHUGE_LIGHT"), light, "{version}");
        assert_eq!(mask(&prof, "GFP_TRANSHUGE"), full, "{version}");
    }
}

#[test]
fn kasan_hw_tags_composites() {
    let k = cfg(false, true, false);
    assert_eq!(mask(&pc(v(6, 1), k), "GFP_HIGHUSER_MOVABLE"), 0x6100cca);
    assert_eq!(mask(&pc(v(6, 3), k), "GFP_HIGHUSER_MOVABLE"), 0x6100cca);
    assert_eq!(mask(&pc(v(6, 4), k), "GFP_HIGHUSER_MOVABLE"), 0x2100cca);
    assert_eq!(mask(&pc(v(6, 8), k), "GFP_HIGHUSER_MOVABLE"), 0x2100cca);
    assert_eq!(mask(&pc(v(6, 12), k), "GFP_TRANSHUGE"), 0x21c24ca);
    // 5.14-5.17: the unconditional SKIP_KASAN_POISON, whatever the config.
    for config in KernelConfig::all_combinations() {
        assert_eq!(
            mask(&pc(v(5, 16), config), "GFP_HIGHUSER_MOVABLE"),
            0x1100cca
        );
    }
}

#[test]
fn gfp_kernel_fingerprints_the_era() {
    let fingerprints = [
        (v(3, 18), 0xd0),
        (v(4, 4), 0x24000c0),
        (v(4, 14), 0x14000c0),
        (v(4, 19), 0x6000c0),
        (v(5, 4), 0xcc0),
        (v(7, 1), 0xcc0),
    ];
    for (version, want) in fingerprints {
        assert_eq!(mask(&p(version), "GFP_KERNEL"), want, "{version}");
    }
}

// ---------------------------------------------------------------------------
// The 6.10+ enum layout (reference section 3)

#[test]
fn enum_layout_config_matrix_6_12() {
    // (LOCKDEP, KASAN_HW_TAGS, SLAB_OBJ_EXT) -> shift, SKIP_ZERO, SKIP_KASAN,
    // NOLOCKDEP, NO_OBJ_EXT, GFP_HIGHUSER_MOVABLE, GFP_TRANSHUGE.
    type Row = ((bool, bool, bool), u32, [u32; 4], u32, u32);
    let rows: &[Row] = &[
        ((false, false, false), 24, [0, 0, 0, 0], 0x100cca, 0x1c24ca),
        (
            (false, false, true),
            25,
            [0, 0, 0, 0x1000000],
            0x100cca,
            0x1c24ca,
        ),
        (
            (true, false, false),
            25,
            [0, 0, 0x1000000, 0],
            0x100cca,
            0x1c24ca,
        ),
        (
            (true, false, true),
            26,
            [0, 0, 0x1000000, 0x2000000],
            0x100cca,
            0x1c24ca,
        ),
        (
            (false, true, false),
            26,
            [0x1000000, 0x2000000, 0, 0],
            0x2100cca,
            0x21c24ca,
        ),
        (
            (false, true, true),
            27,
            [0x1000000, 0x2000000, 0, 0x4000000],
            0x2100cca,
            0x21c24ca,
        ),
        (
            (true, true, true),
            28,
            [0x1000000, 0x2000000, 0x4000000, 0x8000000],
            0x2100cca,
            0x21c24ca,
        ),
    ];
    for &((l, k, s), shift, bits, hum, thp) in rows {
        for version in [v(6, 10), v(6, 12), v(6, 14), v(6, 18)] {
            let prof = pc(version, cfg(l, k, s));
            assert_eq!(prof.bits_mask, (1u32 << shift) - 1, "{}", prof.label);
            for (name, want) in [
                "__GFP_SKIP_ZERO",
                "__GFP_SKIP_KASAN",
                "__GFP_NOLOCKDEP",
                "__GFP_NO_OBJ_EXT",
            ]
            .iter()
            .zip(bits)
            {
                assert_eq!(mask(&prof, name), want, "{name} in {}", prof.label);
            }
            assert_eq!(mask(&prof, "GFP_HIGHUSER_MOVABLE"), hum, "{}", prof.label);
            assert_eq!(mask(&prof, "GFP_TRANSHUGE"), thp, "{}", prof.label);
        }
    }
}

#[test]
fn bit_24_depends_on_config_in_6_12() {
    let m = 0x1000cc0;
    for config in [
        cfg(false, false, true),
        cfg(true, false, false),
        cfg(false, true, false),
    ] {
        let prof = pc(v(6, 12), config);
        assert_eq!(
            render::pgg(&prof, m),
            "GFP_KERNEL|0x1000000",
            "{}",
            prof.label
        );
    }
    // Tracepoints name SKIP_ZERO only.
    assert_eq!(
        render::trace(&pc(v(6, 12), cfg(false, true, false)), m),
        "GFP_KERNEL|__GFP_SKIP_ZERO"
    );
    assert_eq!(
        render::trace(&pc(v(6, 12), cfg(true, false, false)), m),
        "GFP_KERNEL|0x1000000"
    );
    // 6.15+: all of them by name.
    assert_eq!(
        render::pgg(&pc(v(6, 15), cfg(true, false, false)), m),
        "GFP_KERNEL|__GFP_NOLOCKDEP"
    );
    assert_eq!(
        render::pgg(&pc(v(6, 15), cfg(false, false, true)), m),
        "GFP_KERNEL|__GFP_NO_OBJ_EXT"
    );
    assert_eq!(
        render::pgg(&pc(v(6, 15), cfg(false, true, false)), m),
        "GFP_KERNEL|__GFP_SKIP_ZERO"
    );
}

#[test]
fn no_obj_ext_unconditional_from_6_19_but_named_only_with_slab_obj_ext() {
    let off = pc(v(6, 19), OFF);
    assert_eq!(render::pgg(&off, 0x1000cc0), "GFP_KERNEL|0x1000000");
    let on = pc(v(6, 19), cfg(false, false, true));
    assert_eq!(render::pgg(&on, 0x1000cc0), "GFP_KERNEL|__GFP_NO_OBJ_EXT");
    assert_eq!(off.bits_mask, on.bits_mask);
    assert_eq!(
        mask(&pc(v(7, 1), cfg(true, false, false)), "__GFP_NO_OBJ_EXT"),
        0x2000000
    );
}

// ---------------------------------------------------------------------------
// Name tables (reference section 4)

const PGG_6_12: &[&str] = &[
    "GFP_TRANSHUGE",
    "GFP_TRANSHUGE_LIGHT",
    "GFP_HIGHUSER_MOVABLE",
    "GFP_HIGHUSER",
    "GFP_USER",
    "GFP_KERNEL_ACCOUNT",
    "GFP_KERNEL",
    "GFP_NOFS",
    "GFP_ATOMIC",
    "GFP_NOIO",
    "GFP_NOWAIT",
    "GFP_DMA",
    "__GFP_HIGHMEM",
    "GFP_DMA32",
    "__GFP_HIGH",
    "__GFP_IO",
    "__GFP_FS",
    "__GFP_NOWARN",
    "__GFP_RETRY_MAYFAIL",
    "__GFP_NOFAIL",
    "__GFP_NORETRY",
    "__GFP_COMP",
    "__GFP_ZERO",
    "__GFP_NOMEMALLOC",
    "__GFP_MEMALLOC",
    "__GFP_HARDWALL",
    "__GFP_THISNODE",
    "__GFP_RECLAIMABLE",
    "__GFP_MOVABLE",
    "__GFP_ACCOUNT",
    "__GFP_WRITE",
    "__GFP_RECLAIM",
    "__GFP_DIRECT_RECLAIM",
    "__GFP_KSWAPD_RECLAIM",
    "__GFP_ZEROTAGS",
];

#[test]
fn pgg_table_6_12_is_exact_for_every_config() {
    for config in KernelConfig::all_combinations() {
        let prof = pc(v(6, 12), config);
        assert_eq!(pgg_names(&prof), PGG_6_12, "{}", prof.label);
        let mut trace = PGG_6_12.to_vec();
        if config.kasan_hw_tags {
            trace.extend(["__GFP_SKIP_ZERO", "__GFP_SKIP_KASAN"]);
        }
        assert_eq!(names(&prof.trace_names), trace, "{}", prof.label);
    }
    // 6.4 to 6.14 share it.
    for version in range(v(6, 4), v(6, 14)) {
        assert_eq!(pgg_names(&p(version)), PGG_6_12, "{version}");
    }
}

#[test]
fn pgg_table_4_6_and_its_changes() {
    let t46 = [
        "GFP_TRANSHUGE",
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
        "__GFP_HIGHMEM",
        "GFP_DMA32",
        "__GFP_HIGH",
        "__GFP_ATOMIC",
        "__GFP_IO",
        "__GFP_FS",
        "__GFP_COLD",
        "__GFP_NOWARN",
        "__GFP_REPEAT",
        "__GFP_NOFAIL",
        "__GFP_NORETRY",
        "__GFP_COMP",
        "__GFP_ZERO",
        "__GFP_NOMEMALLOC",
        "__GFP_MEMALLOC",
        "__GFP_HARDWALL",
        "__GFP_THISNODE",
        "__GFP_RECLAIMABLE",
        "__GFP_MOVABLE",
        "__GFP_ACCOUNT",
        "__GFP_NOTRACK",
        "__GFP_WRITE",
        "__GFP_RECLAIM",
        "__GFP_DIRECT_RECLAIM",
        "__GFP_KSWAPD_RECLAIM",
        "__GFP_OTHER_NODE",
    ];
    assert_eq!(pgg_names(&p(v(4, 6))), t46);
    assert_eq!(pgg_names(&p(v(4, 7))), t46);
    for version in range(v(3, 0), v(4, 5)) {
        assert!(p(version).pgg_names.is_none(), "{version}");
    }

    // Each later step, as an edit of the previous table.
    let mut t = t46.to_vec();
    t.insert(1, "GFP_TRANSHUGE_LIGHT"); // 4.8
    assert_eq!(pgg_names(&p(v(4, 8))), t);
    assert_eq!(pgg_names(&p(v(4, 9))), t);
    t.retain(|n| *n != "__GFP_OTHER_NODE"); // 4.10
    assert_eq!(pgg_names(&p(v(4, 10))), t);
    assert_eq!(pgg_names(&p(v(4, 12))), t);
    let i = t.iter().position(|n| *n == "__GFP_REPEAT").unwrap();
    t[i] = "__GFP_RETRY_MAYFAIL"; // 4.13
    assert_eq!(pgg_names(&p(v(4, 13))), t);
    t.retain(|n| *n != "GFP_TEMPORARY"); // 4.14
    assert_eq!(pgg_names(&p(v(4, 14))), t);
    t.retain(|n| *n != "__GFP_COLD" && *n != "__GFP_NOTRACK"); // 4.15
    for version in range(v(4, 15), v(5, 13)) {
        assert_eq!(pgg_names(&p(version)), t, "{version}");
    }
    t.extend(["__GFP_ZEROTAGS", "__GFP_SKIP_KASAN_POISON"]); // 5.14
    for version in range(v(5, 14), v(5, 17)) {
        assert_eq!(pgg_names(&p(version)), t, "{version}");
        assert_eq!(names(&p(version).trace_names), t, "{version}");
    }
    t.pop(); // 5.18: the KASAN names move to the trace-only extension
    for config in KernelConfig::all_combinations() {
        let prof = pc(v(5, 18), config);
        assert_eq!(pgg_names(&prof), t, "{}", prof.label);
        let mut trace = t.clone();
        if config.kasan_hw_tags {
            trace.extend([
                "__GFP_SKIP_ZERO",
                "__GFP_SKIP_KASAN_POISON",
                "__GFP_SKIP_KASAN_UNPOISON",
            ]);
        }
        assert_eq!(names(&prof.trace_names), trace, "{}", prof.label);
    }
    assert_eq!(pgg_names(&p(v(6, 2))), t);
    t.retain(|n| *n != "__GFP_ATOMIC"); // 6.3
    assert_eq!(pgg_names(&p(v(6, 3))), t);
    assert_eq!(t, PGG_6_12);
}

#[test]
fn pgg_table_6_15_is_composites_then_bit_order() {
    let head = [
        "GFP_TRANSHUGE",
        "GFP_TRANSHUGE_LIGHT",
        "GFP_HIGHUSER_MOVABLE",
        "GFP_HIGHUSER",
        "GFP_USER",
        "GFP_KERNEL_ACCOUNT",
        "GFP_KERNEL",
        "GFP_NOFS",
        "GFP_ATOMIC",
        "GFP_NOIO",
        "GFP_NOWAIT",
        "GFP_DMA",
        "GFP_DMA32",
        "__GFP_RECLAIM",
    ];
    let bits = [
        "DMA",
        "HIGHMEM",
        "DMA32",
        "MOVABLE",
        "RECLAIMABLE",
        "HIGH",
        "IO",
        "FS",
        "ZERO",
        "DIRECT_RECLAIM",
        "KSWAPD_RECLAIM",
        "WRITE",
        "NOWARN",
        "RETRY_MAYFAIL",
        "NOFAIL",
        "NORETRY",
        "MEMALLOC",
        "COMP",
        "NOMEMALLOC",
        "HARDWALL",
        "THISNODE",
        "ACCOUNT",
        "ZEROTAGS",
    ];
    for version in range(v(6, 15), v(7, 1)) {
        for config in KernelConfig::all_combinations() {
            let mut want: Vec<String> = head.iter().map(|s| s.to_string()).collect();
            want.extend(bits.iter().map(|b| format!("__GFP_{b}")));
            if config.kasan_hw_tags {
                want.extend([
                    "__GFP_SKIP_ZERO".to_string(),
                    "__GFP_SKIP_KASAN".to_string(),
                ]);
            }
            if config.lockdep {
                want.push("__GFP_NOLOCKDEP".to_string());
            }
            if config.slab_obj_ext {
                want.push("__GFP_NO_OBJ_EXT".to_string());
            }
            let prof = pc(version, config);
            assert_eq!(pgg_names(&prof), want, "{}", prof.label);
            assert_eq!(
                prof.trace_names,
                *prof.pgg_names.as_ref().unwrap(),
                "{}",
                prof.label
            );
        }
    }
}

#[test]
fn old_trace_tables_before_4_6() {
    // 3.4 (KMEMCHECK off): the perfetto v3_4 table, with {0, "GFP_NOTRACK"}.
    let t34: Vec<(&str, u32)> = vec![
        ("GFP_TRANSHUGE", 0x4352da),
        ("GFP_HIGHUSER_MOVABLE", 0x200da),
        ("GFP_HIGHUSER", 0x200d2),
        ("GFP_USER", 0x200d0),
        ("GFP_TEMPORARY", 0x800d0),
        ("GFP_KERNEL", 0xd0),
        ("GFP_NOFS", 0x50),
        ("GFP_ATOMIC", 0x20),
        ("GFP_NOIO", 0x10),
        ("GFP_HIGH", 0x20),
        ("GFP_WAIT", 0x10),
        ("GFP_IO", 0x40),
        ("GFP_COLD", 0x100),
        ("GFP_NOWARN", 0x200),
        ("GFP_REPEAT", 0x400),
        ("GFP_NOFAIL", 0x800),
        ("GFP_NORETRY", 0x1000),
        ("GFP_COMP", 0x4000),
        ("GFP_ZERO", 0x8000),
        ("GFP_NOMEMALLOC", 0x10000),
        ("GFP_HARDWALL", 0x20000),
        ("GFP_THISNODE", 0x40000),
        ("GFP_RECLAIMABLE", 0x80000),
        ("GFP_MOVABLE", 0x08),
        ("GFP_NOTRACK", 0),
        ("GFP_NO_KSWAPD", 0x400000),
        ("GFP_OTHER_NODE", 0x800000),
    ];
    let p34 = pc(v(3, 4), OFF);
    let got: Vec<(&str, u32)> = p34
        .trace_names
        .iter()
        .map(|e| (e.name.as_str(), e.mask))
        .collect();
    assert_eq!(got, t34);

    // 3.10: + MEMALLOC after NOMEMALLOC, + KMEMCG after RECLAIMABLE, NOTRACK set.
    let t310 = names(&pc(v(3, 10), OFF).trace_names).join(",");
    assert!(
        t310.contains("GFP_NOMEMALLOC,GFP_MEMALLOC,GFP_HARDWALL"),
        "{t310}"
    );
    assert!(
        t310.contains("GFP_RECLAIMABLE,GFP_KMEMCG,GFP_MOVABLE"),
        "{t310}"
    );
    assert_eq!(mask(&pc(v(3, 10), OFF), "GFP_NOTRACK"), 0x200000);
    assert!(!names(&pc(v(3, 16), OFF).trace_names).contains(&"GFP_KMEMCG"));

    // 4.4: GFP_ATOMIC for __GFP_ATOMIC, DIRECT/KSWAPD instead of NO_KSWAPD.
    let t44 = pc(v(4, 4), OFF).trace_names;
    let singles: Vec<(&str, u32)> = t44[9..].iter().map(|e| (e.name.as_str(), e.mask)).collect();
    assert_eq!(
        singles,
        vec![
            ("GFP_HIGH", 0x20),
            ("GFP_ATOMIC", 0x80000),
            ("GFP_IO", 0x40),
            ("GFP_COLD", 0x100),
            ("GFP_NOWARN", 0x200),
            ("GFP_REPEAT", 0x400),
            ("GFP_NOFAIL", 0x800),
            ("GFP_NORETRY", 0x1000),
            ("GFP_COMP", 0x4000),
            ("GFP_ZERO", 0x8000),
            ("GFP_NOMEMALLOC", 0x10000),
            ("GFP_MEMALLOC", 0x2000),
            ("GFP_HARDWALL", 0x20000),
            ("GFP_THISNODE", 0x40000),
            ("GFP_RECLAIMABLE", 0x10),
            ("GFP_MOVABLE", 0x08),
            ("GFP_NOTRACK", 0x200000),
            ("GFP_DIRECT_RECLAIM", 0x400000),
            ("GFP_KSWAPD_RECLAIM", 0x2000000),
            ("GFP_OTHER_NODE", 0x800000),
        ]
    );
    assert_eq!(t44[7], NamedMask::new("GFP_ATOMIC", 0x2080020));
    assert_eq!(pc(v(4, 5), OFF).trace_names, t44);
}

// ---------------------------------------------------------------------------
// Worked examples (gfp-print-sites.md section 2e)

#[test]
fn worked_examples_6_12() {
    for config in KernelConfig::all_combinations() {
        let prof = pc(v(6, 12), config);
        for (m, want) in [
            (0x400dc0, "GFP_KERNEL_ACCOUNT|__GFP_ZERO"),
            (0x2820, "GFP_ATOMIC|__GFP_NOWARN"),
            (0x800, "__GFP_KSWAPD_RECLAIM"),
            (0x900, "__GFP_ZERO|__GFP_KSWAPD_RECLAIM"),
            (0x200, "0x200"),
        ] {
            assert_eq!(render::pgg(&prof, m), want, "{m:#x} {}", prof.label);
            assert_eq!(render::trace(&prof, m), want, "{m:#x} {}", prof.label);
        }
        // With KASAN_HW_TAGS, GFP_HIGHUSER_MOVABLE also has __GFP_SKIP_KASAN.
        let hum = if config.kasan_hw_tags {
            "GFP_HIGHUSER|__GFP_COMP|__GFP_ZERO|__GFP_MOVABLE"
        } else {
            "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO"
        };
        assert_eq!(render::pgg(&prof, 0x140dca), hum, "{}", prof.label);
        assert_eq!(render::trace(&prof, 0x140dca), hum, "{}", prof.label);
        assert_eq!(render::pgg(&prof, 0), "");
        assert_eq!(render::hex_and_pgg(&prof, 0), "0x0()");
        assert_eq!(render::trace(&prof, 0), "none");
    }
}

#[test]
fn worked_examples_6_15_order() {
    for version in range(v(6, 15), v(7, 1)) {
        let prof = p(version);
        assert_eq!(
            render::pgg(&prof, 0x140dca),
            "GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP"
        );
        assert_eq!(
            render::trace(&prof, 0x140dca),
            "GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP"
        );
        assert_eq!(render::pgg(&prof, 0x900), "__GFP_ZERO|__GFP_KSWAPD_RECLAIM");
        assert_eq!(
            render::pgg(&prof, 0xc0de0),
            "GFP_KERNEL|__GFP_HIGH|__GFP_ZERO|__GFP_COMP|__GFP_NOMEMALLOC"
        );
        assert_eq!(render::pgg(&prof, 0), "");
    }
    assert_eq!(
        render::pgg(&p(v(6, 14)), 0xc0de0),
        "GFP_KERNEL|__GFP_HIGH|__GFP_COMP|__GFP_ZERO|__GFP_NOMEMALLOC"
    );
}

#[test]
fn bare_0x800_is_gfp_nowait_until_6_7() {
    for version in range(v(5, 1), v(7, 1)) {
        let want = if version <= v(6, 7) {
            "GFP_NOWAIT"
        } else {
            "__GFP_KSWAPD_RECLAIM"
        };
        assert_eq!(render::pgg(&p(version), 0x800), want, "{version}");
        let with_zero = if version <= v(6, 7) {
            "GFP_NOWAIT|__GFP_ZERO"
        } else {
            "__GFP_ZERO|__GFP_KSWAPD_RECLAIM"
        };
        assert_eq!(render::pgg(&p(version), 0x900), with_zero, "{version}");
    }
    assert_eq!(render::pgg(&p(v(6, 8)), 0x2800), "GFP_NOWAIT");
}

#[test]
fn atomic_cold_comp_only_in_4_6_to_4_9() {
    let line = "GFP_ATOMIC|__GFP_COLD|__GFP_COMP";
    for version in supported_versions() {
        for config in [OFF, KernelConfig::ALL_ON] {
            let prof = pc(version, config);
            let hit = render::pgg(&prof, 0x2084120) == line;
            assert_eq!(
                hit,
                version >= v(4, 6) && version <= v(4, 9),
                "{}",
                prof.label
            );
        }
    }
}

#[test]
fn zero_mask_per_renderer() {
    for version in supported_versions() {
        let prof = p(version);
        assert_eq!(render::pgg(&prof, 0), "", "{version}");
        let zero = if version >= v(4, 6) {
            "none"
        } else {
            "GFP_NOWAIT"
        };
        assert_eq!(prof.trace_zero, zero);
        assert_eq!(render::trace(&prof, 0), zero, "{version}");
        let lte = if prof.trace_userspace_hex {
            "0x0"
        } else {
            zero
        };
        assert_eq!(render::libtraceevent(&prof, 0), lte, "{version}");
    }
}

#[test]
fn old_trace_gfp_notrack_quirk() {
    // 3.0-3.6 without KMEMCHECK: {0, "GFP_NOTRACK"} matches whenever bits remain.
    let prof = pc(v(3, 4), OFF);
    assert_eq!(
        render::trace(&prof, 0x400010),
        "GFP_NOIO|GFP_NOTRACK|GFP_NO_KSWAPD"
    );
    assert_eq!(
        render::libtraceevent(&prof, 0x400010),
        "GFP_NOIO|GFP_NO_KSWAPD"
    );
    assert_eq!(render::trace(&prof, 0x80), "GFP_NOTRACK|0x80");
    assert_eq!(render::libtraceevent(&prof, 0x80), "0x80");
    assert_eq!(render::trace(&prof, 0x80d0), "GFP_KERNEL|GFP_ZERO");
    assert_eq!(render::trace(&prof, 0), "GFP_NOWAIT");
    // With KMEMCHECK the bit is real, so no artefact.
    let km = pc(
        v(3, 4),
        KernelConfig {
            kmemcheck: true,
            ..OFF
        },
    );
    assert_eq!(render::trace(&km, 0x80), "0x80");
    assert_eq!(render::trace(&km, 0x2000d0), "GFP_KERNEL|GFP_NOTRACK");
    // 3.7+: unconditional, no artefact either.
    assert_eq!(render::trace(&pc(v(3, 7), OFF), 0x80), "0x80");
}

#[test]
fn libtraceevent_hex_regression() {
    let m = 0x140cca;
    let hex = [
        v(6, 10),
        v(6, 11),
        v(6, 12),
        vp(6, 12, 5),
        vp(6, 12, 10),
        v(6, 13),
        vp(6, 13, 2),
    ];
    for version in hex {
        let prof = p(version);
        assert!(prof.trace_userspace_hex, "{version}");
        assert_eq!(render::libtraceevent(&prof, m), "0x140cca", "{version}");
        // The kernel's own trace file is unaffected.
        assert_eq!(
            render::trace(&prof, m),
            "GFP_HIGHUSER_MOVABLE|__GFP_COMP",
            "{version}"
        );
    }
    for version in [
        v(6, 9),
        vp(6, 12, 11),
        vp(6, 12, 117),
        v(6, 14),
        v(7, 1),
        v(5, 15),
    ] {
        let prof = p(version);
        assert!(!prof.trace_userspace_hex, "{version}");
        assert_ne!(render::libtraceevent(&prof, m), "0x140cca", "{version}");
    }
    assert_eq!(
        render::libtraceevent(&p(vp(6, 12, 11)), m),
        "GFP_HIGHUSER_MOVABLE|__GFP_COMP"
    );
    assert_eq!(
        render::libtraceevent(&p(v(6, 14)), m),
        "GFP_HIGHUSER_MOVABLE|__GFP_COMP"
    );
}

// ---------------------------------------------------------------------------
// Real log lines ([log] entries of the reference)

#[test]
fn real_log_lines() {
    let cases: &[(KernelVersion, u32, &str)] = &[
        // 4.15.0-108: page allocation failure with GFP_KERNEL_ACCOUNT.
        (v(4, 15), 0x15000c0, "GFP_KERNEL_ACCOUNT"),
        // 4.19 OOM report.
        (v(4, 19), 0x6000c0, "GFP_KERNEL"),
        // 6.6 / 6.8 atomic allocation failures.
        (v(6, 6), 0x820, "GFP_ATOMIC"),
        (v(6, 8), 0x820, "GFP_ATOMIC"),
        // 5.13: __GFP_ATOMIC still set in GFP_ATOMIC.
        (v(5, 13), 0x40a20, "GFP_ATOMIC|__GFP_COMP"),
        // 6.16: the bit-order table.
        (
            v(6, 16),
            0x140dca,
            "GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP",
        ),
        // 5.4-era GFP_KERNEL.
        (v(5, 4), 0xcc0, "GFP_KERNEL"),
    ];
    for &(version, m, want) in cases {
        assert_eq!(render::pgg(&p(version), m), want, "{m:#x} on {version}");
    }
    // Old hex-only logs decode to the era's composites.
    assert_eq!(mask(&p(v(3, 18)), "GFP_KERNEL"), 0xd0);
    assert_eq!(
        render::trace(&p(v(3, 18)), 0x2080d0),
        "GFP_KERNEL|GFP_ZERO|GFP_NOTRACK"
    );
    assert_eq!(
        render::trace(&p(v(3, 18)), 0x204010),
        "GFP_NOIO|GFP_COMP|GFP_NOTRACK"
    );
    assert_eq!(mask(&p(v(4, 4)), "GFP_KERNEL"), 0x24000c0);
    assert_eq!(
        render::hex_and_pgg(&p(v(4, 19)), 0x7080c0),
        "0x7080c0(GFP_KERNEL_ACCOUNT|__GFP_ZERO)"
    );
}

// ---------------------------------------------------------------------------
// Round trip: parse(render(m)) == m

/// The kernel's own output is ambiguous on 4.4-4.5 tracepoints: a lone
/// `__GFP_ATOMIC` prints as `GFP_ATOMIC`, the composite's name.
fn ambiguous(prof: &Profile, m: u32) -> bool {
    let v = prof.version.unwrap();
    let atomic_bit = 0x80000;
    v >= KernelVersion::new(4, 4)
        && v < KernelVersion::new(4, 6)
        && m & atomic_bit != 0
        && m & 0x2080020 != 0x2080020
}

fn check_round_trip(prof: &Profile, m: u32) {
    if ambiguous(prof, m) {
        return;
    }
    let text = render::pgg(prof, m);
    if m == 0 {
        assert_eq!(text, "");
        return;
    }
    assert_eq!(
        parse_mask(prof, &text),
        Ok(m),
        "{m:#x} -> {text:?} in {}",
        prof.label
    );
    let text = render::trace(prof, m);
    assert_eq!(
        parse_mask(prof, &text),
        Ok(m),
        "{m:#x} -> {text:?} (trace) in {}",
        prof.label
    );
}

#[test]
fn names_round_trip_every_version() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as u32
    };
    for version in supported_versions() {
        for config in [
            OFF,
            distro_config(version),
            KernelConfig::ALL_ON,
            cfg(true, true, false),
        ] {
            let prof = pc(version, config);
            let all = prof.bits_mask;
            for bit in 0..32 {
                let m = 1u32 << bit;
                if m & all != 0 {
                    check_round_trip(&prof, m);
                }
            }
            for c in prof.composites.iter().chain(prof.trace_names.iter()) {
                check_round_trip(&prof, c.mask);
                check_round_trip(&prof, c.mask | 0x100);
            }
            for _ in 0..300 {
                check_round_trip(&prof, next() & all);
            }
        }
    }
}

#[test]
fn lone_atomic_bit_is_ambiguous_on_4_4() {
    let prof = p(v(4, 4));
    assert_eq!(render::trace(&prof, 0x80000), "GFP_ATOMIC");
    assert_eq!(render::trace(&prof, 0x2080020), "GFP_ATOMIC");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip_native(m in any::<u32>()) {
            let prof = Profile::native();
            let m = m & prof.bits_mask;
            let text = render::pgg(&prof, m);
            if m != 0 {
                prop_assert_eq!(parse_mask(&prof, &text), Ok(m));
            }
        }

        #[test]
        fn round_trip_any_version(idx in 0usize..83, cfgbits in 0u8..16, m in any::<u32>()) {
            let version = supported_versions()[idx];
            let config = KernelConfig::all_combinations().nth(cfgbits as usize).unwrap();
            let prof = Profile::for_version(version, config);
            check_round_trip(&prof, m & prof.bits_mask);
        }
    }
}

#[test]
fn history_module_reexports() {
    // build() is what Profile::for_version uses.
    assert_eq!(history::build(v(5, 10), OFF), pc(v(5, 10), OFF));
}
