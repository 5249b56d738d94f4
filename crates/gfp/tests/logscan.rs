//! Tests of the log and trace reader (`gfp::logscan`).
//!
//! The lines are modelled on the formats quoted in the reference notes
//! (every print site and its historical variants); no kernel sources needed.

use gfp::logscan::{annotate, Finding, LogScanner, Renderer, ScanOptions, VersionSource};
use gfp::{KernelConfig, KernelVersion, Profile};
use proptest::prelude::*;

fn v(s: &str) -> KernelVersion {
    s.parse().unwrap()
}

/// Scans `lines` with a fresh scanner and returns the findings of the last one.
fn scan_last(lines: &[&str]) -> Vec<Finding> {
    let mut s = LogScanner::new(ScanOptions::default());
    let mut last = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        last = s.scan_line(i + 1, l);
    }
    last
}

fn one(line: &str) -> Finding {
    let mut f = scan_last(&[line]);
    assert_eq!(f.len(), 1, "expected one finding in {line:?}, got {f:#?}");
    f.pop().unwrap()
}

fn agrees(f: &Finding, version: &str) -> bool {
    f.agreeing_versions.contains(&v(version))
}

// ---------------------------------------------------------------------------
// Message families
// ---------------------------------------------------------------------------

struct Case {
    line: &'static str,
    message: &'static str,
    mask: u32,
    printed: Option<&'static str>,
    order: Option<i32>,
    comm: Option<&'static str>,
}

const CASES: &[Case] = &[
    // warn_alloc, every era.
    Case {
        line: "[  123.456] kworker/u8:2: page allocation failure: order:4, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null),cpuset=/,mems_allowed=0",
        message: "page allocation failure",
        mask: 0x40cc0,
        printed: Some("GFP_KERNEL|__GFP_COMP"),
        order: Some(4),
        comm: Some("kworker/u8:2"),
    },
    Case {
        line: "swapper/0: page allocation failure. order:1, mode:0x20",
        message: "page allocation failure",
        mask: 0x20,
        printed: None,
        order: Some(1),
        comm: Some("swapper/0"),
    },
    Case {
        line: "Jan 02 10:00:00 host kernel: java: page allocation failure: order:0, mode:0x24000c0",
        message: "page allocation failure",
        mask: 0x24000c0,
        printed: None,
        order: Some(0),
        comm: Some("java"),
    },
    Case {
        line: "[ 4.9] Web Content: page allocation failure: order:0, mode:0x2084120(GFP_ATOMIC|__GFP_COLD|__GFP_COMP)",
        message: "page allocation failure",
        mask: 0x2084120,
        printed: Some("GFP_ATOMIC|__GFP_COLD|__GFP_COMP"),
        order: Some(0),
        comm: Some("Web Content"),
    },
    Case {
        line: "[ 12.3] chrome: page allocation stalls for 10036ms, order:0, mode:0x14200ca(GFP_HIGHUSER_MOVABLE), nodemask=(null)",
        message: "page allocation stall",
        mask: 0x14200ca,
        printed: Some("GFP_HIGHUSER_MOVABLE"),
        order: Some(0),
        comm: Some("chrome"),
    },
    Case {
        line: "[ 12.3] insmod: vmalloc: allocation failure: 4096 bytes, mode:0x6000c0(GFP_KERNEL), nodemask=(null)",
        message: "vmalloc allocation failure",
        mask: 0x6000c0,
        printed: Some("GFP_KERNEL"),
        order: None,
        comm: Some("insmod"),
    },
    Case {
        line: "[ 12.3] modprobe: vmalloc error: size 16384, page order 2, failed to allocate pages, mode:0xdc0(GFP_KERNEL|__GFP_ZERO), nodemask=(null),cpuset=/,mems_allowed=0",
        message: "vmalloc allocation failure",
        mask: 0xdc0,
        printed: Some("GFP_KERNEL|__GFP_ZERO"),
        order: Some(2),
        comm: Some("modprobe"),
    },
    Case {
        line: "[ 0.3] swapper/0: vmemmap alloc failure: order:9, mode:0x4cc0(GFP_KERNEL|__GFP_RETRY_MAYFAIL), nodemask=(null)",
        message: "vmemmap allocation failure",
        mask: 0x4cc0,
        printed: Some("GFP_KERNEL|__GFP_RETRY_MAYFAIL"),
        order: Some(9),
        comm: Some("swapper/0"),
    },
    // OOM header, every era.
    Case {
        line: "[ 5.1] kworker/0:1 invoked oom-killer: gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), nodemask=(null), order=0, oom_score_adj=0",
        message: "oom-killer",
        mask: 0x6200ca,
        printed: Some("GFP_HIGHUSER_MOVABLE"),
        order: Some(0),
        comm: Some("kworker/0:1"),
    },
    Case {
        line: "[ 5.1] bash invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=-1, oom_score_adj=0",
        message: "oom-killer",
        mask: 0xcc0,
        printed: Some("GFP_KERNEL"),
        order: Some(-1),
        comm: Some("bash"),
    },
    Case {
        line: "[ 5.1] a.out invoked oom-killer: gfp_mask=0x0(), order=0, oom_score_adj=0",
        message: "oom-killer",
        mask: 0,
        printed: Some(""),
        order: Some(0),
        comm: Some("a.out"),
    },
    Case {
        line: "[ 5.1] foo invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0, oom_score_adj=0",
        message: "oom-killer",
        mask: 0x201da,
        printed: None,
        order: Some(0),
        comm: Some("foo"),
    },
    Case {
        line: "foo invoked oom-killer: gfp_mask=0x201da, order=0, oomkilladj=0",
        message: "oom-killer",
        mask: 0x201da,
        printed: None,
        order: Some(0),
        comm: Some("foo"),
    },
    // SLUB / SLAB.
    Case {
        line: "SLUB: Unable to allocate memory on node -1 (gfp=0x20)",
        message: "slub",
        mask: 0x20,
        printed: None,
        order: None,
        comm: None,
    },
    Case {
        line: "[ 7.7] SLUB: Unable to allocate memory on node -1, gfp=0x2080020(GFP_ATOMIC)",
        message: "slub",
        mask: 0x2080020,
        printed: Some("GFP_ATOMIC"),
        order: None,
        comm: None,
    },
    Case {
        line: "[ 7.7] SLUB: Unable to allocate memory on CPU 3 (of node 0) on node -1, gfp=0x820(GFP_ATOMIC)",
        message: "slub",
        mask: 0x820,
        printed: Some("GFP_ATOMIC"),
        order: None,
        comm: None,
    },
    Case {
        line: "SLAB: Unable to allocate memory on node 0, gfp=0xa20(GFP_ATOMIC)",
        message: "slab",
        mask: 0xa20,
        printed: Some("GFP_ATOMIC"),
        order: None,
        comm: None,
    },
    // page_owner and dump_page().
    Case {
        line: "Page allocated via order 0, mask 0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO), pid 1, tgid 1 (swapper/0), ts 1234 ns, free_ts 0 ns",
        message: "page_owner",
        mask: 0x400dc0,
        printed: Some("GFP_KERNEL_ACCOUNT|__GFP_ZERO"),
        order: Some(0),
        comm: Some("swapper/0"),
    },
    Case {
        line: "Page allocated via order 3, mask 0x24200ca",
        message: "page_owner",
        mask: 0x24200ca,
        printed: None,
        order: Some(3),
        comm: None,
    },
    Case {
        line: "[ 9.9] page last allocated via order 0, migratetype Unmovable, gfp_mask 0x2dc2(GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN|__GFP_ZERO), pid 1, tgid 1 (swapper/0), ts 1, free_ts 0",
        message: "dump_page owner",
        mask: 0x2dc2,
        printed: Some("GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN|__GFP_ZERO"),
        order: Some(0),
        comm: Some("swapper/0"),
    },
    // Names only.
    Case {
        line: "[    0.5] DMA: preallocated 1024 KiB GFP_KERNEL pool for atomic allocations",
        message: "dma atomic pool",
        mask: 0xcc0,
        printed: Some("GFP_KERNEL"),
        order: None,
        comm: None,
    },
    Case {
        line: "[    0.5] DMA: preallocated 1024 KiB GFP_KERNEL|GFP_DMA32 pool for atomic allocations",
        message: "dma atomic pool",
        mask: 0xcc4,
        printed: Some("GFP_KERNEL|GFP_DMA32"),
        order: None,
        comm: None,
    },
    Case {
        line: "[    0.5] DMA: failed to allocate 128 KiB GFP_KERNEL|GFP_DMA pool for atomic allocation",
        message: "dma atomic pool",
        mask: 0xcc1,
        printed: Some("GFP_KERNEL|GFP_DMA"),
        order: None,
        comm: None,
    },
    Case {
        line: "[ 0.5] GFP_KERNEL|__GFP_THISNODE allocation from offline node 2",
        message: "allocation from offline node",
        mask: 0x200cc0,
        printed: Some("GFP_KERNEL|__GFP_THISNODE"),
        order: None,
        comm: None,
    },
    Case {
        line: "[ 0.5] ALLOCATE PAGES nr=1 order=2 gfp=GFP_KERNEL",
        message: "test_lockup",
        mask: 0xcc0,
        printed: Some("GFP_KERNEL"),
        order: Some(2),
        comm: None,
    },
    // Hex only, out of the core mm.
    Case {
        line: "XFS: kworker/1:2(123) possible memory allocation deadlock size 65552 in kmem_alloc (mode:0x250)",
        message: "xfs allocation deadlock",
        mask: 0x250,
        printed: None,
        order: None,
        comm: Some("kworker/1:2"),
    },
    Case {
        line: "XFS: possible memory allocation deadlock in kmem_alloc (mode:0x250)",
        message: "xfs allocation deadlock",
        mask: 0x250,
        printed: None,
        order: None,
        comm: None,
    },
    Case {
        line: "SPL: Possible memory allocation deadlock: size=16384 lflags=0x4210",
        message: "spl allocation deadlock",
        mask: 0x4210,
        printed: None,
        order: None,
        comm: None,
    },
    // Tracepoints, kernel and user-space forms.
    Case {
        line: "  <idle>-0  [003] d.h1.  1234.567890: mm_page_alloc: page=0xffffea0004 pfn=0x1234 order=0 migratetype=0 gfp_flags=GFP_KERNEL|__GFP_COMP",
        message: "tracepoint mm_page_alloc",
        mask: 0x40cc0,
        printed: Some("GFP_KERNEL|__GFP_COMP"),
        order: Some(0),
        comm: Some("<idle>"),
    },
    Case {
        line: "            perf  1234 [001]  1234.567890: kmem:kmalloc: call_site=ffffffff81234567 ptr=0xffff888 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL node=-1 accounted=false",
        message: "tracepoint kmalloc",
        mask: 0xcc0,
        printed: Some("GFP_KERNEL"),
        order: None,
        comm: Some("perf"),
    },
    Case {
        line: "    kswapd0-99    [001] ..... 100.000001: mm_shrink_slab_start: super_cache_scan+0x0/0x1a0 0000000012345678: nid: 0 objects to shrink 0 gfp_flags GFP_KERNEL cache items 1234 delta 0 total_scan 0 priority 12",
        message: "tracepoint mm_shrink_slab_start",
        mask: 0xcc0,
        printed: Some("GFP_KERNEL"),
        order: None,
        comm: Some("kswapd0"),
    },
    Case {
        line: "  a.out-123 [000] ..... 5.000: mm_compaction_try_to_compact_pages: order=9 gfp_mask=GFP_TRANSHUGE_LIGHT priority=2",
        message: "tracepoint mm_compaction_try_to_compact_pages",
        mask: 0x1c20ca,
        printed: Some("GFP_TRANSHUGE_LIGHT"),
        order: Some(9),
        comm: Some("a.out"),
    },
    Case {
        line: "  a.out-123 [000] ..... 5.000: mm_vmscan_direct_reclaim_begin: order=0 gfp_flags=none",
        message: "tracepoint mm_vmscan_direct_reclaim_begin",
        mask: 0,
        printed: Some("none"),
        order: Some(0),
        comm: Some("a.out"),
    },
    Case {
        line: "  a.out-123 [000] ..... 5.000: dma_alloc: 0000:00:1f.6 dma_addr=1000 size=4096 virt_addr=ffff flags=GFP_KERNEL|GFP_DMA32 attrs=",
        message: "tracepoint dma_alloc",
        mask: 0xcc4,
        printed: Some("GFP_KERNEL|GFP_DMA32"),
        order: None,
        comm: Some("a.out"),
    },
    Case {
        line: "   btrfs-transacti-414 [002] ..... 77.1: alloc_extent_state: state=0000000012345678 mask=GFP_NOFS caller=foo+0x1/0x2",
        message: "tracepoint alloc_extent_state",
        mask: 0xc40,
        printed: Some("GFP_NOFS"),
        order: None,
        comm: Some("btrfs-transacti"),
    },
    Case {
        line: "  a.out-123 [000] ..... 5.000: myalloc: gfp=3264 (GFP_KERNEL) order=1",
        message: "synthetic event myalloc",
        mask: 0xcc0,
        printed: Some("GFP_KERNEL"),
        order: Some(1),
        comm: Some("a.out"),
    },
    Case {
        line: "  a.out-123 [000] ..... 5.000: myalloc: flags=2080 (GFP_ATOMIC) order=0",
        message: "synthetic event myalloc",
        mask: 0x820,
        printed: Some("GFP_ATOMIC"),
        order: Some(0),
        comm: Some("a.out"),
    },
    Case {
        line: "  percpu-1 [000] ..... 5.000: percpu_alloc_percpu: call_site=pcpu_alloc+0x1 reserved=0 is_atomic=0 size=8 align=8 base_addr=0x1 off=0 ptr=0x2 bytes_alloc=8 gfp_flags=GFP_KERNEL_ACCOUNT",
        message: "tracepoint percpu_alloc_percpu",
        mask: 0x400cc0,
        printed: Some("GFP_KERNEL_ACCOUNT"),
        order: None,
        comm: Some("percpu"),
    },
];

#[test]
fn every_family_is_recognised() {
    for c in CASES {
        let f = one(c.line);
        assert_eq!(f.message, c.message, "{}", c.line);
        assert_eq!(f.mask, c.mask, "{}: mask {:#x}", c.line, f.mask);
        assert_eq!(f.printed.as_deref(), c.printed, "{}", c.line);
        assert_eq!(f.order, c.order, "{}", c.line);
        assert_eq!(f.comm.as_deref(), c.comm, "{}", c.line);
        assert_eq!(f.line, 1);
        let (a, b) = f.span;
        assert!(
            a < b || (a == b && f.printed.as_deref() == Some("")),
            "{}",
            c.line
        );
        assert!(b <= c.line.len());
        if f.printed.is_none() {
            assert!(f.agreeing_versions.is_empty(), "{}", c.line);
        }
        // The annotation always shows the mask and the profile.
        let text = annotate(&f);
        assert!(text.contains(&format!("{:#x}", f.mask)), "{text}");
        assert!(text.contains(&*f.profile), "{text}");
    }
}

#[test]
fn printed_names_agree_with_their_own_rendering() {
    // Every printed example above comes from a real kernel, so the chosen
    // profile must reproduce it and some release must agree.
    for c in CASES.iter().filter(|c| c.printed.is_some()) {
        let f = one(c.line);
        assert!(
            !f.agreeing_versions.is_empty(),
            "{}: no agreeing version",
            c.line
        );
        assert_eq!(
            f.printed.as_deref(),
            Some(&*f.rendered),
            "{}: {:?}",
            c.line,
            f.notes
        );
        assert_eq!(f.version_source, VersionSource::Names, "{}", c.line);
    }
}

#[test]
fn log_prefixes_and_trace_tools() {
    for (line, comm) in [
        ("[Mon Jan  1 00:00:00 2024] java: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)", "java"),
        ("Jan  1 00:00:00 host kernel: [  12.345678] java: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)", "java"),
        ("2024-01-01T00:00:00+0000 host kernel: java: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)", "java"),
        ("<4>[   12.345678] java: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)", "java"),
    ] {
        let f = one(line);
        assert_eq!(f.comm.as_deref(), Some(comm), "{line}");
        assert_eq!(f.mask, 0xcc0);
    }
    // trace-cmd report: the kernel's layout, names from libtraceevent.
    let f = one("        bash-1234  [001]  5678.901234: mm_page_alloc:        page=0xffffea00 pfn=0x1 order=1 migratetype=0 gfp_flags=GFP_KERNEL");
    assert_eq!((f.order, f.comm.as_deref()), (Some(1), Some("bash")));
    // perf script with custom fields (no timestamp).
    let f = one("kmem:kmalloc: call_site=ffffffff81234567 ptr=0xffff888 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_ATOMIC");
    assert_eq!(f.message, "tracepoint kmalloc");
    assert_eq!(f.mask, 0x820);
    // A tracepoint this crate does not know, but with the gfp_flags field.
    let f = one("  x-1 [000] ..... 5.0: my_event: gfp_flags=GFP_NOFS");
    assert_eq!(f.message, "tracepoint my_event");
}

#[test]
fn whole_logs_in_chunks() {
    let log = "[    0.000000] Linux version 5.4.0-42-generic (buildd@lgw01) (gcc 9.3.0) #46-Ubuntu SMP\n\
        [    1.000000] usb 1-1: new high-speed USB device number 2 using xhci_hcd\n\
        [   12.345678] java: page allocation failure: order:0, mode:0x100cca(GFP_HIGHUSER_MOVABLE), nodemask=(null)\r\n\
        [   12.345679] CPU: 3 PID: 1 Comm: java Not tainted 5.4.0-42-generic #46-Ubuntu\n\
        \n\
        [   99.000000] Linux version 6.12.8 (me@host) (gcc 14) #1\n\
        [  100.000000] bash invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0";
    let mut s = LogScanner::default();
    let scan = s.scan_chunk(1, log.as_bytes());
    assert_eq!(scan.lines, 7);
    let lines: Vec<usize> = scan.found.iter().map(|l| l.line).collect();
    assert_eq!(lines, [3, 7]);
    let first = &scan.found[0];
    assert!(log[first.range.clone()].ends_with("nodemask=(null)"));
    assert!(first.findings[0].profile.contains("5.4"));
    assert!(scan.found[1].findings[0].profile.contains("6.12"));
    assert_eq!(
        s.banner_version(),
        Some(KernelVersion::with_patch(6, 12, 8))
    );
    // Numbering carries over from block to block.
    let next = s.scan_chunk(
        1 + scan.lines,
        b"x: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)\n",
    );
    assert_eq!(next.lines, 1);
    assert_eq!(next.found[0].line, 8);
    assert_eq!(s.scan_chunk(1, b"").lines, 0);
}

#[test]
fn kernels_without_pgg_print_hex_only() {
    let f = one("java: page allocation failure: order:0, mode:0xd0");
    assert!(
        f.notes.iter().any(|n| n.contains("no %pGg")),
        "{:?}",
        f.notes
    );
}

#[test]
fn kmalloc_fix_flags_gives_two_masks() {
    let line = "[ 3.3] Unexpected gfp: 0x4 (GFP_DMA32). Fixing up to gfp: 0xcc0 (GFP_KERNEL). Fix your code!";
    let f = scan_last(&[line]);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!(f[0].message, "unexpected gfp");
    assert_eq!(f[0].mask, 0x4);
    assert_eq!(f[0].printed.as_deref(), Some("GFP_DMA32"));
    assert_eq!(f[1].message, "unexpected gfp fixed up");
    assert_eq!(f[1].mask, 0xcc0);
    assert_eq!(f[1].printed.as_deref(), Some("GFP_KERNEL"));
    assert!(f[0].span.1 <= f[1].span.0);
    assert!(f[0].notes.iter().any(|n| n.contains("illegal bits")));
    // The 7.0 vmalloc variant prints the same text after a WARNING prefix.
    let g = scan_last(&["WARNING: CPU: 0 PID: 1 at mm/vmalloc.c:3000 __vmalloc_node_range+0x1/0x2: Unexpected gfp: 0x2 (__GFP_HIGHMEM). Fixing up to gfp: 0xdc0 (GFP_KERNEL|__GFP_ZERO). Fix your code!"]);
    assert_eq!(g.len(), 2);
    assert_eq!(g[1].mask, 0xdc0);
}

#[test]
fn lines_without_a_mask_give_nothing() {
    let mut s = LogScanner::default();
    for l in [
        "",
        "[    1.234] usb 1-1: new high-speed USB device number 2 using xhci_hcd",
        "[    1.234] Call Trace:",
        "[    1.234]  __alloc_pages_slowpath.constprop.0+0x1a/0xe30",
        "Node 0 DMA32 free:12345kB min:123kB low:456kB high:789kB",
        "gfp",
        "GFP",
        "mode:",
        "mode:0x",
        "mode:0xzz(GFP_KERNEL)",
        "file mode:0x81a4 changed",
        "flags=GFP_KERNEL outside a dma tracepoint",
        "mask=GFP_KERNEL outside btrfs",
        "irq mask 0xff",
        "gfp_mask=",
        "gfp=",
        "gfp_flags=",
        "Tainted: ",
        "Linux version ",
        "mygfp=0xcc0(GFP_KERNEL)",
    ] {
        assert!(s.scan_line(1, l).is_empty(), "{l:?}");
    }
}

#[test]
fn zero_masks() {
    let f = one("[ 5.1] bash invoked oom-killer: gfp_mask=0x0(), order=0, oom_score_adj=0");
    assert_eq!(f.rendered.as_ref(), "");
    assert!(agrees(&f, "4.6") && agrees(&f, "7.1") && !agrees(&f, "4.5"));
    assert!(f
        .notes
        .iter()
        .any(|n| n.contains("pagefault_out_of_memory")));
    let t =
        one("  a.out-1 [000] ..... 5.000: mm_vmscan_direct_reclaim_begin: order=0 gfp_flags=none");
    assert_eq!(t.rendered.as_ref(), "none");
    assert!(agrees(&t, "4.6") && agrees(&t, "7.1"));
    assert!(!agrees(&t, "4.5"), "4.5 printed GFP_NOWAIT for 0");
    let old = one(
        "  a.out-1 [000] .... 5.000: mm_vmscan_direct_reclaim_begin: order=0 gfp_flags=GFP_NOWAIT",
    );
    assert!(
        agrees(&old, "3.10") || agrees(&old, "4.5"),
        "{:?}",
        old.agreeing_ranges
    );
}

// ---------------------------------------------------------------------------
// The names as an oracle for the version
// ---------------------------------------------------------------------------

#[test]
fn names_date_the_line() {
    // 4.6–4.9: __GFP_COLD and the 4.4 reclaim bits.
    let f = one(
        "x: page allocation failure: order:0, mode:0x2084120(GFP_ATOMIC|__GFP_COLD|__GFP_COMP)",
    );
    assert_eq!(f.agreeing_ranges.as_ref(), "4.6–4.9", "{f:#?}");
    assert_eq!(f.version_source, VersionSource::Names);
    assert!(f.profile.contains("4.9"), "{}", f.profile);

    // GFP_NOWAIT for a bare 0x800: up to 6.7.
    let f = one("x: page allocation failure: order:0, mode:0x800(GFP_NOWAIT)");
    assert!(agrees(&f, "5.1") && agrees(&f, "6.7"));
    assert!(!agrees(&f, "6.8") && !agrees(&f, "7.1"));
    let f = one("x: page allocation failure: order:0, mode:0x800(__GFP_KSWAPD_RECLAIM)");
    assert!(agrees(&f, "6.8") && !agrees(&f, "6.7"));

    // GFP_ATOMIC is 0x820 from 6.3, 0xa20 before.
    let f = one("SLUB: Unable to allocate memory on node -1, gfp=0x820(GFP_ATOMIC)");
    assert!(agrees(&f, "6.3") && agrees(&f, "7.1") && !agrees(&f, "6.2"));
    let f = one("SLUB: Unable to allocate memory on node -1, gfp=0xa20(GFP_ATOMIC)");
    assert!(agrees(&f, "5.1") && agrees(&f, "6.2") && !agrees(&f, "6.3"));

    // Single flags in bit order from 6.15 on.
    let new = one("x invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP), order=0, oom_score_adj=0");
    assert!(agrees(&new, "6.15") && agrees(&new, "7.1") && !agrees(&new, "6.14"));
    let old = one("x invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0");
    assert!(agrees(&old, "6.12") && !agrees(&old, "6.15"));

    // 0x1000000 by name only from 6.15, with LOCKDEP (or the other options).
    let f = one("x: page allocation failure: order:0, mode:0x1000cc0(GFP_KERNEL|__GFP_NOLOCKDEP)");
    assert!(
        agrees(&f, "6.15") && !agrees(&f, "6.12"),
        "{}",
        f.agreeing_ranges
    );
    let f = one("x: page allocation failure: order:0, mode:0x1000cc0(GFP_KERNEL|0x1000000)");
    assert!(agrees(&f, "6.12"));

    // Before 4.6 nothing printed names in printk.
    let f = one("x: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)");
    assert!(!agrees(&f, "4.5") && !agrees(&f, "3.10"));
}

#[test]
fn agreeing_ranges_are_compressed() {
    let f = one(
        "x invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
    );
    // 5.14–5.17 put __GFP_SKIP_KASAN_POISON in GFP_HIGHUSER_MOVABLE.
    assert_eq!(
        f.agreeing_ranges.as_ref(),
        "5.1–5.13, 5.18–7.1",
        "{:?}",
        f.agreeing_versions
    );
    assert!(f.agreeing_versions.windows(2).all(|w| w[0] < w[1]));
    let text = annotate(&f);
    assert!(text.contains("5.1–5.13, 5.18–7.1"), "{text}");
}

#[test]
fn libtraceevent_hex_dates_the_trace() {
    let f = one("            perf  1234 [001]  1234.567890: kmem:mm_page_alloc: page=0xffffea0004 pfn=0x1234 order=0 migratetype=0 gfp_flags=0x140cca");
    assert_eq!(f.mask, 0x140cca);
    assert_eq!(f.renderer, Renderer::Libtraceevent);
    assert!(agrees(&f, "6.10") && agrees(&f, "6.13"));
    assert!(!agrees(&f, "6.9") && !agrees(&f, "6.14"));
    assert!(f.notes.iter().any(|n| n.contains("printed hex")));
    // The kernel's own trace names the flags.
    let k = one("  a.out-1 [000] ..... 5.0: mm_page_alloc: page=0x1 pfn=0x1 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP");
    assert_eq!(k.renderer, Renderer::Trace);
}

#[test]
fn old_trace_names() {
    // <= 4.5 tracepoints named single flags without the underscores.
    let f = one("  a.out-123 [000] .... 5.000: kmalloc: call_site=ffffffff81234567 ptr=ffff888 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL|GFP_NOWARN");
    assert!(
        agrees(&f, "4.5") || agrees(&f, "4.4"),
        "{}",
        f.agreeing_ranges
    );
    assert!(!agrees(&f, "4.6"));
    assert!(f.modern.contains("__GFP_NOWARN"), "{}", f.modern);
}

// ---------------------------------------------------------------------------
// Banners, forced profiles, unknown versions
// ---------------------------------------------------------------------------

#[test]
fn banners_select_the_profile() {
    let mut s = LogScanner::default();
    assert_eq!(s.banner_version(), None);
    s.scan_line(1, "[    0.000000] Linux version 5.4.0-42-generic (buildd@lgw01-amd64-038) (gcc version 9.3.0 (Ubuntu 9.3.0-10ubuntu2)) #46-Ubuntu SMP Fri Jul 10 00:24:02 UTC 2020 (Ubuntu 5.4.0-42.46-generic 5.4.44)");
    assert_eq!(s.banner_version(), Some(KernelVersion::with_patch(5, 4, 0)));
    let f = s.scan_line(
        2,
        "[ 5.1] foo: page allocation failure: order:0, mode:0xd0, nodemask=(null)",
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].version_source, VersionSource::Banner);
    assert!(f[0].profile.contains("5.4"), "{}", f[0].profile);
    // 0xd0 in 5.4: __GFP_IO|__GFP_FS|__GFP_RECLAIMABLE, no reclaim bits.
    assert_eq!(
        f[0].rendered.as_ref(),
        "__GFP_IO|__GFP_FS|__GFP_RECLAIMABLE"
    );

    s.scan_line(3, "[ 9.1] CPU: 3 PID: 1 Comm: x Tainted: G        W  O      6.1.0-18-amd64 #1 Debian 6.1.76-1");
    assert_eq!(s.banner_version(), Some(KernelVersion::with_patch(6, 1, 0)));
    let f = s.scan_line(
        4,
        "[ 9.2] foo: page allocation failure: order:0, mode:0x800(GFP_NOWAIT), nodemask=(null)",
    );
    assert!(f[0].profile.contains("6.1"), "{}", f[0].profile);
    assert_eq!(f[0].printed.as_deref(), Some(&*f[0].rendered));

    s.scan_line(
        5,
        "[ 1.0] CPU: 1 UID: 0 PID: 1 Comm: swapper/0 Not tainted 6.12.8 #1",
    );
    assert_eq!(
        s.banner_version(),
        Some(KernelVersion::with_patch(6, 12, 8))
    );
    let f = s.scan_line(
        6,
        "[ 1.1] foo: page allocation failure: order:0, mode:0x800(GFP_NOWAIT), nodemask=(null)",
    );
    assert_eq!(f[0].rendered.as_ref(), "__GFP_KSWAPD_RECLAIM");
    assert!(
        f[0].notes
            .iter()
            .any(|n| n.contains("not the line's names")),
        "{:?}",
        f[0].notes
    );
    assert!(annotate(&f[0]).contains("mismatch"));

    // The newer "Tainted: [W]=WARN" line carries no version.
    s.scan_line(7, "[ 1.2] Tainted: [W]=WARN, [O]=OOT_MODULE");
    assert_eq!(
        s.banner_version(),
        Some(KernelVersion::with_patch(6, 12, 8))
    );
    s.reset();
    assert_eq!(s.banner_version(), None);
}

#[test]
fn banner_and_names_infer_the_configuration() {
    let mut s = LogScanner::default();
    s.scan_line(1, "CPU: 1 PID: 1 Comm: swapper/0 Not tainted 6.12.8 #1");
    // GFP_HIGHUSER_MOVABLE is 0x2100cca only with KASAN_HW_TAGS.
    let f = s.scan_line(2, "x: page allocation failure: order:0, mode:0x2100cca(GFP_HIGHUSER_MOVABLE), nodemask=(null)");
    assert_eq!(
        f[0].rendered.as_ref(),
        "GFP_HIGHUSER_MOVABLE",
        "{:?}",
        f[0].notes
    );
    assert!(f[0].profile.contains("KASAN_HW_TAGS"), "{}", f[0].profile);
    // Later hex is read with that configuration.
    let g = s.scan_line(3, "y: page allocation failure: order:0, mode:0x2100cca(GFP_HIGHUSER_MOVABLE), nodemask=(null)");
    assert!(g[0].profile.contains("KASAN_HW_TAGS"));
    assert!(g[0].notes.iter().all(|n| !n.contains("imply")));
}

#[test]
fn forced_profile_wins_over_banners() {
    let p = Profile::for_version(KernelVersion::new(5, 4), KernelConfig::default());
    let label = p.label.clone();
    let mut s = LogScanner::new(ScanOptions::with_profile(p));
    let f = s.scan_line(
        1,
        "x: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)",
    );
    assert_eq!(f[0].version_source, VersionSource::Forced);
    assert_eq!(f[0].profile.as_ref(), label);
    s.scan_line(2, "Linux version 6.12.8 (me@host) (gcc) #1");
    let f = s.scan_line(
        3,
        "x: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)",
    );
    assert_eq!(f[0].profile.as_ref(), label);
    assert!(
        f[0].notes.iter().any(|n| n.contains("6.12.8")),
        "{:?}",
        f[0].notes
    );
}

#[test]
fn unknown_version_hex_only() {
    // No banner, no era hint: the newest profile, and the eras that differ.
    let f = one("SPL: Possible memory allocation deadlock: size=16384 lflags=0x4210");
    assert_eq!(f.version_source, VersionSource::Unknown);
    assert!(
        f.profile
            .contains(&gfp::profile::history::NEWEST_KNOWN.to_string()),
        "{}",
        f.profile
    );
    assert!(f.printed.is_none() && f.agreeing_versions.is_empty());
    let eras = f
        .notes
        .iter()
        .find(|n| n.contains("differs by release"))
        .expect("eras");
    assert!(eras.contains("3.0") && eras.contains("5.1"), "{eras}");
    assert!(eras.len() < 400, "keep it short: {eras}");
}

#[test]
fn message_format_dates_hex_only_lines() {
    // `mode:0xd0` without names: before 4.6, where 0xd0 is GFP_KERNEL of 3.x.
    let f = one("java: page allocation failure: order:0, mode:0xd0");
    assert_eq!(f.version_source, VersionSource::Format);
    assert_eq!(f.rendered.as_ref(), "GFP_KERNEL");
    assert!(f.modern.contains("GFP_KERNEL"), "{}", f.modern);
    // 0x24000c0 is GFP_KERNEL of 4.4/4.5 (undefined bits in 3.x).
    let f = one("java: page allocation failure: order:0, mode:0x24000c0");
    assert_eq!(f.rendered.as_ref(), "GFP_KERNEL");
    assert!(
        f.profile.contains("4.4") || f.profile.contains("4.5"),
        "{}",
        f.profile
    );
    assert!(f.notes.iter().any(|n| n.contains("differs by release")));
    // Old SLUB: 0x20 is GFP_ATOMIC of 3.x.
    let f = one("SLUB: Unable to allocate memory on node -1 (gfp=0x20)");
    assert_eq!(f.rendered.as_ref(), "GFP_ATOMIC");
}

// ---------------------------------------------------------------------------
// Notes and annotation
// ---------------------------------------------------------------------------

#[test]
fn notes_explain_the_mask() {
    let mut s = LogScanner::default();
    s.scan_line(1, "Linux version 6.12.8 (me@host) (gcc) #1");
    let f = &s.scan_line(
        2,
        "x: page allocation failure: order:5, mode:0x200(0x200), nodemask=(null)",
    )[0];
    assert!(
        f.notes
            .iter()
            .any(|n| n.starts_with("0x200") && n.contains("no flag owns")),
        "{:?}",
        f.notes
    );
    assert!(f.notes.iter().any(|n| n.contains("current_gfp_context")));
    assert!(f
        .notes
        .iter()
        .any(|n| n.contains("2^5") && n.contains("costly")));
    let f = &s.scan_line(
        3,
        "x: page allocation failure: order:0, mode:0x80000000, nodemask=(null)",
    )[0];
    assert!(
        f.notes.iter().any(|n| n.contains("__GFP_BITS_MASK")),
        "{:?}",
        f.notes
    );
    let text = annotate(f);
    assert!(text.lines().all(|l| l.starts_with("    ")), "{text}");
    assert!(!text.ends_with('\n'));
}

#[test]
fn truncated_names_fall_back_to_hex() {
    let f = one("x: page allocation failure: order:0, mode:0x20(__GFP_HIGH");
    assert_eq!(f.mask, 0x20);
    assert!(f.printed.is_none());
    assert!(f.notes.iter().any(|n| n.contains("cut")));
    // Cut inside the hex: still a (smaller) mask, never a panic.
    let f = scan_last(&["x: page allocation failure: order:0, mode:0x4"]);
    assert!(f.len() <= 1);
}

#[test]
fn json_shape() {
    let f = one("[  123.456] kworker/u8:2: page allocation failure: order:4, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null)");
    let json = serde_json::to_string(&f).unwrap();
    let keys = [
        "\"line\":1",
        "\"message\":\"page allocation failure\"",
        "\"mask\":\"0x40cc0\"",
        "\"printed\":\"GFP_KERNEL|__GFP_COMP\"",
        "\"profile\":",
        "\"rendered\":\"GFP_KERNEL|__GFP_COMP\"",
        "\"agreeing_versions\":[\"",
    ];
    let mut last = 0;
    for k in keys {
        let p = json
            .find(k)
            .unwrap_or_else(|| panic!("{k} missing in {json}"));
        assert!(p >= last, "{k} out of order in {json}");
        last = p;
    }
    assert!(json.starts_with("{\"line\":1,\"message\":"), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let versions = value["agreeing_versions"].as_array().unwrap();
    assert!(versions
        .iter()
        .all(|v| v.as_str().unwrap().split('.').count() == 2));
    assert!(versions.iter().any(|v| v == "5.1"));
    assert_eq!(value["order"], 4);
    assert_eq!(value["comm"], "kworker/u8:2");
    assert!(value["notes"].is_array());
    assert!(value.get("native").is_none());

    let h = one("swapper/0: page allocation failure. order:1, mode:0x20");
    let value: serde_json::Value = serde_json::to_value(&h).unwrap();
    assert!(value["printed"].is_null());
    assert_eq!(value["agreeing_versions"], serde_json::json!([]));
    assert_eq!(value["mask"], "0x20");
}

// ---------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------

#[test]
fn garbage_and_non_utf8_lines() {
    let raw: &[&[u8]] = &[
        b"\xff\xfe mode:0x\xff(GFP_KERNEL)",
        b"x: page allocation failure: order:0, mode:0xcc0(GFP_\xc3\x28KERNEL)",
        b"\xe2\x82 gfp=0xcc0(GFP_KERNEL) \xe2",
        b"gfp_flags=\xf0\x9f\x92\x96|GFP_KERNEL",
        b"\x00\x00gfp_mask=0x0()\x00",
        b"mode:0xffffffffffffffffffffffffffff(GFP_KERNEL)",
        b"mode:0x1ffffffff(GFP_KERNEL)",
        b"((((((((((((gfp=0x",
        b"order:-99999999999999 mode:0xcc0(GFP_KERNEL)",
        b"Linux version 99999.99999.99999",
        b"Not tainted 2.6.32-754.el6.x86_64 #1",
        b"Tainted: G W 1.0 #1",
    ];
    let mut s = LogScanner::default();
    for (i, r) in raw.iter().enumerate() {
        let line = String::from_utf8_lossy(r);
        for f in s.scan_line(i, &line) {
            let _ = annotate(&f);
            let _ = serde_json::to_string(&f).unwrap();
        }
    }
    // A 2.6 banner still decodes (with the oldest modelled layout).
    let f = s.scan_line(99, "x: page allocation failure. order:0, mode:0xd0");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].version_source, VersionSource::Banner);
}

#[test]
fn very_long_lines_are_linear_and_bounded() {
    let unit = "x: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL) ";
    let long = unit.repeat(20_000);
    let mut s = LogScanner::default();
    let t = std::time::Instant::now();
    let f = s.scan_line(1, &long);
    assert_eq!(f.len(), gfp::logscan::MAX_FINDINGS_PER_LINE);
    let names = format!("gfp_flags={}", "GFP_KERNEL|".repeat(100_000));
    assert!(s.scan_line(2, &names).len() <= 1);
    let junk = "gfp=gfp_mask=mode:0x(".repeat(50_000);
    let _ = s.scan_line(3, &junk);
    let digits = format!("{}.{}: ", "1".repeat(200_000), "2".repeat(200_000));
    let _ = s.scan_line(4, &format!("{digits}gfp_flags=GFP_KERNEL"));
    let plain = "a".repeat(1 << 20);
    assert!(s.scan_line(5, &plain).is_empty());
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
}

#[test]
fn caches_do_not_change_results() {
    let mut s = LogScanner::default();
    let line = "  a.out-1 [000] ..... 5.0: kmalloc: call_site=x ptr=y bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL|__GFP_ZERO";
    let a = s.scan_line(1, line);
    let b = s.scan_line(1, line);
    assert_eq!(a, b);
    // Many distinct masks: the caches are flushed, never wrong.
    for m in 0..2500u32 {
        let l = format!(
            "x: page allocation failure: order:0, mode:{:#x}(GFP_KERNEL)",
            m
        );
        let f = s.scan_line(2, &l);
        assert_eq!(f[0].mask, m);
    }
    assert_eq!(s.scan_line(1, line), a);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(line in any::<String>()) {
        let mut s = LogScanner::default();
        for f in s.scan_line(1, &line) {
            let _ = annotate(&f);
            prop_assert!(f.span.1 <= line.len());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let line = String::from_utf8_lossy(&bytes);
        let mut s = LogScanner::default();
        for f in s.scan_line(1, &line) {
            let _ = annotate(&f);
        }
    }

    #[test]
    fn scan_bytes_equals_lossy_scan_line(bytes in proptest::collection::vec(
        prop_oneof![any::<u8>(), Just(b'g'), Just(b'f'), Just(b'p'), Just(b'('), Just(b'0'), Just(b'x')], 0..200),
        prefix in prop_oneof![Just(""), Just("x: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL"),
            Just("Linux version 4.9.0 "), Just("gfp_flags="), Just("DMA: preallocated 1 KiB ")]) {
        let mut raw = prefix.as_bytes().to_vec();
        raw.extend_from_slice(&bytes);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let mut a = LogScanner::default();
        let mut b = LogScanner::default();
        for n in 0..2 {
            prop_assert_eq!(a.scan_bytes(n, &raw), b.scan_line(n, &text));
            prop_assert_eq!(a.banner_version(), b.banner_version());
        }
    }

    #[test]
    fn scan_chunk_equals_line_by_line(lines in proptest::collection::vec(proptest::collection::vec(prop_oneof![
        Just("x: page allocation failure: order:1, mode:0xcc0(GFP_KERNEL)"), Just("Linux version 4.9.1 "),
        Just("CPU: 1 PID: 1 Comm: a Not tainted 6.12.3 #1"), Just("gfp_flags=GFP_KERNEL"), Just("mode:0x20"),
        Just("mask 0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO)"), Just(" 12.5: kmem:kmalloc: "), Just("plain text "),
        Just("\r"), Just("\u{fffd}"), Just("gf"), Just("p"), Just(":0x"), Just("fl"), Just("ags="),
    ], 0..6), 0..12), trailing_newline in any::<bool>()) {
        let lines: Vec<String> = lines.into_iter().map(|parts| parts.concat()).collect();
        let mut text = lines.join("\n");
        if trailing_newline {
            text.push('\n');
        }
        let mut by_line = LogScanner::default();
        let mut expected = Vec::new();
        let mut count = 0;
        for (i, l) in text.split_terminator('\n').enumerate() {
            count += 1;
            let l = l.strip_suffix('\r').unwrap_or(l);
            let f = by_line.scan_bytes(10 + i, l.as_bytes());
            if !f.is_empty() {
                expected.push((10 + i, f));
            }
        }
        let mut chunked = LogScanner::default();
        let scan = chunked.scan_chunk(10, text.as_bytes());
        prop_assert_eq!(scan.lines, count);
        let got: Vec<(usize, Vec<Finding>)> = scan.found.iter().map(|l| (l.line, l.findings.clone())).collect();
        prop_assert_eq!(got, expected);
        for l in &scan.found {
            prop_assert!(!text.as_bytes()[l.range.clone()].contains(&b'\n'));
        }
        prop_assert_eq!(chunked.banner_version(), by_line.banner_version());
    }

    #[test]
    fn token_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("mode:0x"), Just("gfp_mask="), Just("gfp_mask 0x"), Just("gfp="), Just("(gfp=0x"),
        Just("mask 0x"), Just("gfp_flags="), Just("gfp_flags "), Just("flags="), Just(" lflags=0x"),
        Just("mask="), Just("Unexpected gfp: 0x"), Just("up to gfp: 0x"), Just("DMA: "), Just(" KiB "),
        Just(" pool"), Just(" allocation from offline node"), Just("GFP_KERNEL"), Just("__GFP_COMP"),
        Just("|"), Just("("), Just(")"), Just(" ("), Just("cc0"), Just("0x"), Just("none"),
        Just("1234.5678: "), Just("kmem:kmalloc: "), Just("dma_alloc: "), Just("alloc_extent_state: "),
        Just(" [001] "), Just("-12"), Just("order:"), Just("order=-"), Just("7"), Just(" "),
        Just("invoked oom-killer"), Just("SLUB:"), Just("XFS: "), Just("deadlock"), Just("tgid 1 ("),
        Just("Linux version 4.9.1 "), Just("Not tainted 6.12.3 "), Just("Tainted: G W "), Just("=3264"),
        Just("é"), Just("\u{fffd}"), Just("page allocation failure. order"), Just("ALLOCATE PAGES"),
    ], 0..40)) {
        let line: String = parts.concat();
        let mut s = LogScanner::default();
        for _ in 0..2 {
            for f in s.scan_line(1, &line) {
                let _ = annotate(&f);
                prop_assert!(f.span.0 <= f.span.1 && f.span.1 <= line.len());
            }
        }
    }
}

/// The printed names say which configurations a kernel was built with.
#[test]
fn agreeing_configs_name_the_options_the_names_imply() {
    let mut s = LogScanner::default();
    let line = |s: &mut LogScanner, text: &str| s.scan_line(1, text).pop().expect("a finding");
    let f = line(&mut s, "a invoked oom-killer: gfp_mask=0x1000cc0(GFP_KERNEL|__GFP_NOLOCKDEP), order=0, oom_score_adj=0");
    assert_eq!(&*f.agreeing_configs, "LOCKDEP=y, KASAN_HW_TAGS=n");
    let f = line(&mut s, "a: page allocation failure: order:0, mode:0x2100cca(GFP_HIGHUSER_MOVABLE), nodemask=(null)");
    assert_eq!(&*f.agreeing_configs, "KASAN_HW_TAGS=y");
    let f = line(
        &mut s,
        "a: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL), nodemask=(null)",
    );
    assert_eq!(&*f.agreeing_configs, "any configuration");
    let f = line(&mut s, "a: page allocation failure: order:0, mode:0x1000cc0(GFP_KERNEL|0x1000000), nodemask=(null)");
    assert!(
        f.agreeing_configs
            .starts_with("LOCKDEP=n, KASAN_HW_TAGS=n, SLAB_OBJ_EXT=n on 6.15"),
        "{}",
        f.agreeing_configs
    );
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(
        json["agreeing_configs"],
        serde_json::Value::from(&*f.agreeing_configs)
    );
}

// ---------------------------------------------------------------------------
// Reports whose banner follows the mask; bare masks
// ---------------------------------------------------------------------------

/// A pre-4.6 failure report prints the mask in hex, then dump_stack()'s
/// banner: the report is decoded under that banner, not a guessed version.
#[test]
fn a_report_uses_its_own_banner_printed_after_the_mask() {
    use gfp::logscan::ReportScanner;
    let log = [
        "[ 1.0] kworker/0:1: page allocation failure: order:0, mode:0x2080020",
        "[ 1.0] CPU: 0 PID: 123 Comm: kworker/0:1 Not tainted 4.4.0-21-generic #37-Ubuntu",
        "[ 1.0] Hardware name: QEMU Standard PC",
    ];
    // The plain scanner only knows banners that came first.
    let before = scan_last(&log[..1]);
    assert_ne!(before[0].version_source, VersionSource::Banner);
    let mut s = ReportScanner::default();
    assert!(s.scan_line(1, log[0]).is_empty());
    assert_eq!(s.holding(), Some(1));
    let out = s.scan_line(2, log[1]);
    assert_eq!(out.len(), 1);
    let (line, f) = &out[0];
    assert_eq!(*line, 1);
    assert_eq!(f[0].version_source, VersionSource::Banner);
    assert!(f[0].profile.contains("4.4.0"), "{}", f[0].profile);
    // 0x2080020 in 4.4: GFP_ATOMIC (HIGH, ATOMIC, KSWAPD_RECLAIM).
    assert_eq!(f[0].mask, 0x2080020);
    assert_eq!(f[0].rendered.as_ref(), "GFP_ATOMIC");
    assert!(
        !f[0].notes.iter().any(|n| n.contains("no banner")),
        "{:?}",
        f[0].notes
    );
    assert!(s.scan_line(3, log[2]).is_empty());
    assert_eq!(s.finish(), None);

    // A banner more than the window away, or after another mask line,
    // belongs to another report; a boot banner never applies backwards.
    let mut s = ReportScanner::default();
    s.scan_line(1, log[0]);
    let late = 2 + gfp::logscan::REPORT_BANNER_WINDOW;
    let out = s.scan_line(late, log[1]);
    assert_eq!(out.len(), 1);
    assert_ne!(out[0].1[0].version_source, VersionSource::Banner);
    let mut s = ReportScanner::default();
    s.scan_line(1, log[0]);
    assert_eq!(
        s.scan_line(2, "[ 1.1] Linux version 4.4.0-21-generic (x@y) #37")
            .len(),
        0
    );
    let (_, f) = s.finish().unwrap();
    assert_ne!(f[0].version_source, VersionSource::Banner);
    // A forced profile holds nothing.
    let mut s = ReportScanner::new(ScanOptions::with_profile(Profile::native()));
    assert_eq!(s.scan_line(1, log[0]).len(), 1);
}

/// A line holding only a number, as `gfp decode MASK` takes one, is decoded.
#[test]
fn bare_masks_on_a_line_are_decoded() {
    let f = one("0xcc0");
    assert_eq!(f.mask, 0xcc0);
    assert_eq!(f.message, "bare mask");
    assert_eq!(f.rendered.as_ref(), "GFP_KERNEL");
    assert_eq!(one("  3264 \r").mask, 0xcc0);
    let f = one("GFP_KERNEL|__GFP_NOWARN");
    assert_eq!((f.mask, f.message.as_ref()), (0x2cc0, "bare mask"));
    assert!(scan_last(&["GFP_KERNEL is here"]).is_empty());
    for not in ["cc0", "0xcc0 0x1", "12345678901234", "x0xcc0", ""] {
        assert!(scan_last(&[not]).is_empty(), "{not:?}");
    }
    let mut s = LogScanner::default();
    let chunk = s.scan_chunk(1, b"hello\n0xcc0\nworld\n  0x2800\n");
    let lines: Vec<usize> = chunk.found.iter().map(|l| l.line).collect();
    assert_eq!(lines, [2, 4]);
    assert_eq!(chunk.lines, 4);
}

/// An order above MAX_PAGE_ORDER in a log is one the allocator refuses at
/// once, not a costly order that failed.
#[test]
fn orders_above_the_largest_in_logs() {
    let f =
        one("[ 1.0] a: page allocation failure: order:11, mode:0xcc0(GFP_KERNEL), nodemask=(null)");
    assert_eq!(f.order, Some(11));
    let note = f.notes.iter().find(|n| n.starts_with("order 11")).unwrap();
    assert!(note.contains("above MAX_PAGE_ORDER (10"), "{note}");
    assert!(!note.contains("costly"), "{note}");
    let f =
        one("[ 1.0] a: page allocation failure: order:10, mode:0xcc0(GFP_KERNEL), nodemask=(null)");
    assert!(f
        .notes
        .iter()
        .any(|n| n.starts_with("order 10") && n.contains("costly")));
}
