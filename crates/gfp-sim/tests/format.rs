//! The scenario format: precise errors, a parser that never panics, and
//! a printer that the parser reads back to the same value.

use gfp::Gfp;
use gfp_sim::format::{
    parse, print, Alloc, BlockIo, CpusetDecl, DeviceDecl, DeviceKind, FailMode, Fill, FillDecl,
    Function, Kmalloc, LockDecl, LockKind, MachineDecl, MemcgDecl, MempoolDecl, Op, PcpSizing,
    PoolAlloc, Scenario, Scope, TaskContextKind, TaskDecl,
};
use proptest::prelude::*;

fn err_at(text: &str) -> (usize, usize, String) {
    let e = parse(text).expect_err("should not parse");
    (e.line, e.column, e.message)
}

#[test]
fn errors_name_line_column_and_problem() {
    let (l, c, m) = err_at("");
    assert_eq!((l, c), (1, 1));
    assert!(m.contains("gfp-scenario 1"), "{m}");
    let (l, c, m) = err_at("# comment\ngfp-scenario 2\n");
    assert_eq!((l, c), (2, 14));
    assert!(m.contains("version `2`"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ntask a\n  alloc p GFP_KERNL\nend\n");
    assert_eq!((l, c), (3, 11));
    assert!(m.contains("bad mask"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ntask a\n  lock x\nend\n");
    assert_eq!((l, c), (3, 8));
    assert!(m.contains("lock `x` is not declared"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\nlock x spin\ntask a\n  lock x\nend\n");
    assert_eq!((l, c), (4, 8));
    assert!(m.contains("spin_lock"), "{m}");
    let (l, _, m) = err_at("gfp-scenario 1\ntask a\n  scope nofs\n    io\nend\n");
    assert_eq!(l, 6);
    assert!(
        m.contains("`task` opened at line 2, column 1 has no `end`"),
        "{m}"
    );
    let (l, c, m) = err_at("gfp-scenario 1\ntask a\n  alloc p GFP_KERNEL order=11\nend\n");
    assert_eq!((l, c), (3, 22));
    assert!(m.contains("MAX_PAGE_ORDER"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ntask a\n  frobnicate\nend\n");
    assert_eq!((l, c), (3, 3));
    assert!(m.contains("unknown operation `frobnicate`"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ntask a\n  call nowhere\nend\n");
    assert_eq!((l, c), (3, 8));
    assert!(m.contains("undefined function `nowhere`"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\nmachine pages=100\n");
    assert_eq!((l, c), (2, 9));
    assert!(m.contains("multiple of 32"), "{m}");
    let (_, _, m) = err_at("gfp-scenario 1\ntask a\n  sleep\nend\n");
    assert!(m.contains("missing argument"), "{m}");
}

#[test]
fn devices_io_and_interrupts_errors() {
    let (l, c, m) = err_at("gfp-scenario 1\ndevice d tape\n");
    assert_eq!((l, c), (2, 10));
    assert!(m.contains("unknown device kind `tape`"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ndevice d block fail=every:0\n");
    assert_eq!((l, c), (2, 16));
    assert!(m.contains("every:N needs N >= 1"), "{m}");
    let (_, _, m) = err_at("gfp-scenario 1\ndevice d swap fail=rate:3/2\n");
    assert!(m.contains("0 <= P <= Q"), "{m}");
    let (_, _, m) = err_at("gfp-scenario 1\ndevice d block fail=sometimes\n");
    assert!(m.contains("expected every:N, after:N or rate:P/Q"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ndevice a swap\ndevice b swap\n");
    assert_eq!((l, c), (3, 10));
    assert!(m.contains("second swap device"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ndevice s swap\ntask a\n  io st dev=s\nend\n");
    assert_eq!((l, c), (4, 9));
    assert!(m.contains("io needs a block device"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ntask a\n  io dev=nope\nend\n");
    assert_eq!((l, c), (3, 6));
    assert!(m.contains("device `nope` is not declared"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ntask a\n  io x y\nend\n");
    assert_eq!((l, c), (3, 8));
    assert!(m.contains("usage: io [VAR] [dev=NAME]"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ntask a interrupts=b\nend\ntask b\nend\n");
    assert_eq!((l, c), (2, 8));
    assert!(m.contains("needs softirq or hardirq"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\ntask a softirq interrupts=b\nend\n");
    assert_eq!((l, c), (2, 16));
    assert!(m.contains("task `b` is not declared"), "{m}");
    let (_, _, m) =
        err_at("gfp-scenario 1\ntask a softirq interrupts=b\nend\ntask b hardirq\nend\n");
    assert!(m.contains("not a process-context task"), "{m}");
    let (l, c, m) = err_at("gfp-scenario 1\nlock m sleeping\ntask a\n  spin_lock_bh m\nend\n");
    assert_eq!((l, c), (4, 16));
    assert!(m.contains("use lock/unlock"), "{m}");
    // Version-1 files from before these additions read as before.
    let s = parse("gfp-scenario 1\ntask a\n  io\nend\n").unwrap();
    assert_eq!(s.tasks[0].body, [Op::Io(BlockIo::default())]);
    assert!(s.devices.is_empty() && s.tasks[0].interrupts.is_none());
}

#[test]
fn comments_blank_lines_and_any_order() {
    let s = parse(
        "  # leading comment\n\ngfp-scenario 1   # header\ntask a # ctx\n  call f\nend\nfn f\n  io\nend\nlock l spin\nmachine default\n",
    )
    .unwrap();
    assert_eq!(s.machine, MachineDecl::Preset("default".into()));
    assert_eq!(s.tasks[0].body, [Op::Call("f".into())]);
    assert_eq!(s.functions[0].body, [Op::Io(BlockIo::default())]);
    assert_eq!(s.locks[0].kind, LockKind::Spin);
}

/// `memcg` settings come in any order and print back in a fixed one; the
/// line as it was before them still means what it meant.
#[test]
fn memcg_settings_in_any_order() {
    let s = parse("gfp-scenario 1\nmemcg a min=1 oom.group max=10 high=5 low=3\nmemcg b max=7\n")
        .unwrap();
    assert_eq!(
        s.memcgs,
        [
            MemcgDecl {
                high: Some(5),
                low: Some(3),
                min: Some(1),
                oom_group: true,
                ..MemcgDecl::with_max("a", 10)
            },
            MemcgDecl::with_max("b", 7),
        ]
    );
    assert_eq!(
        print(&s),
        "gfp-scenario 1\nmachine pages=4096\nmemcg a max=10 high=5 low=3 min=1 oom.group\nmemcg b max=7\n"
    );
    // The kernel's limits as numbers: high above max, and the largest
    // page count, are settings like any other.
    let s = parse("gfp-scenario 1\nmemcg a max=0 high=18446744073709551615 low=0 min=0\n").unwrap();
    assert_eq!(s.memcgs[0].high, Some(u64::MAX));
    assert_eq!(parse(&print(&s)).unwrap(), s);
}

#[test]
fn memcg_setting_errors() {
    let at = |line: &str| err_at(&format!("gfp-scenario 1\n{line}\n"));
    let cases: [(&str, usize, &str); 14] = [
        (
            "memcg a",
            8,
            "missing argument; usage: memcg NAME max=PAGES [high=PAGES]",
        ),
        (
            "memcg a high=5",
            15,
            "missing max=PAGES; usage: memcg NAME max=PAGES",
        ),
        ("memcg a max=10 max=20", 16, "max given twice"),
        ("memcg a low=1 max=10 low=2", 22, "low given twice"),
        (
            "memcg a max=10 oom.group oom.group",
            26,
            "oom.group given twice",
        ),
        ("memcg a max=10 oom.group=1", 16, "oom.group takes no value"),
        (
            "memcg a max=10 lo=5",
            16,
            "unknown memcg setting `lo`: expected max=, high=, low=, min= or oom.group",
        ),
        (
            "memcg a max=10 hardwall",
            16,
            "unexpected `hardwall`; usage: memcg NAME",
        ),
        ("memcg a max=10 low=x", 16, "`x` is not a valid page count"),
        ("memcg a max=10 high=", 16, "`` is not a valid page count"),
        ("memcg a max=-1", 9, "`-1` is not a valid page count"),
        (
            "memcg a max=10 min=18446744073709551616",
            16,
            "`18446744073709551616` is not a valid page count",
        ),
        ("memcg a max=10 min=11", 16, "min=11 is above max=10"),
        ("memcg a low=11 max=10", 9, "low=11 is above max=10"),
    ];
    for (line, col, message) in cases {
        let (l, c, m) = at(line);
        assert_eq!((l, c), (2, col), "{line}: {m}");
        assert!(m.starts_with(message), "{line}: {m}");
    }
    // Declared twice, and a name that is not one.
    let (l, c, m) = err_at("gfp-scenario 1\nmemcg a max=1\nmemcg a max=2\n");
    assert_eq!((l, c, m.as_str()), (3, 7, "memcg `a` declared twice"));
    let (_, c, m) = at("memcg max=1 max=2");
    assert_eq!(c, 7);
    assert!(m.contains("not a valid memcg name"), "{m}");
}

#[test]
fn masks_read_as_the_kernel_names_them() {
    let s = parse("gfp-scenario 1\ntask a\n  alloc p GFP_NOWAIT|__GFP_ZERO order=2 node=1 no-failure-path\nend\n").unwrap();
    assert_eq!(
        s.tasks[0].body,
        [Op::Alloc(Alloc {
            var: "p".into(),
            mask: Gfp::NOWAIT | Gfp::ZERO,
            order: 2,
            node: Some(1),
            no_failure_path: true,
        })]
    );
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,6}"
}

fn mask() -> impl Strategy<Value = Gfp> {
    (0u32..(1 << 27)).prop_map(Gfp::from_bits_retain)
}

fn leaf(locks: Vec<(String, LockKind)>) -> impl Strategy<Value = Op> {
    let lock_ops = if locks.is_empty() {
        Just(Op::Io(BlockIo::default())).boxed()
    } else {
        (
            proptest::sample::select(locks),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|((n, k), take, bh)| match (k, take, bh) {
                (LockKind::Sleeping, true, _) => Op::Lock(n),
                (LockKind::Sleeping, false, _) => Op::Unlock(n),
                (LockKind::Spin, true, false) => Op::SpinLock(n),
                (LockKind::Spin, false, false) => Op::SpinUnlock(n),
                (LockKind::Spin, true, true) => Op::SpinLockBh(n),
                (LockKind::Spin, false, true) => Op::SpinUnlockBh(n),
            })
            .boxed()
    };
    prop_oneof![
        lock_ops,
        Just(Op::Return),
        (name(), 1u32..=8192, mask(), any::<bool>()).prop_map(|(var, size, mask, nfp)| {
            Op::Kmalloc(Kmalloc {
                var,
                size,
                mask,
                no_failure_path: nfp,
            })
        }),
        (name(), mask(), any::<bool>()).prop_map(|(var, mask, nfp)| {
            Op::MempoolAlloc(PoolAlloc {
                var,
                pool: "pool".into(),
                mask,
                no_failure_path: nfp,
            })
        }),
        Just(Op::IrqDisable),
        Just(Op::IrqEnable),
        Just(Op::RcuReadLock),
        Just(Op::RcuReadUnlock),
        Just(Op::FsCall),
        Just(Op::BhDisable),
        Just(Op::BhEnable),
        (
            proptest::option::of(name()),
            proptest::option::of(0usize..3)
        )
            .prop_map(|(var, d)| Op::Io(BlockIo {
                var,
                device: d.map(|d| format!("d{d}")),
            })),
        proptest::option::of(name()).prop_map(Op::Fsync),
        any::<u64>().prop_map(Op::Sleep),
        name().prop_map(Op::Free),
        name().prop_map(Op::Touch),
        name().prop_map(Op::ExpectZero),
        (
            name(),
            mask(),
            0u32..=10,
            proptest::option::of(0u32..4),
            any::<bool>()
        )
            .prop_map(
                |(var, mask, order, node, no_failure_path)| Op::Alloc(Alloc {
                    var,
                    mask,
                    order,
                    node,
                    no_failure_path
                })
            ),
    ]
}

fn ops(locks: Vec<(String, LockKind)>) -> impl Strategy<Value = Vec<Op>> {
    let leaf = leaf(locks);
    let op = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            (
                prop_oneof![
                    mask().prop_map(Scope::Set),
                    mask().prop_map(Scope::Clear),
                    Just(Scope::Nofs),
                    Just(Scope::Noio),
                    Just(Scope::Noreclaim),
                    Just(Scope::Pin),
                ],
                proptest::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(s, b)| Op::Scope(s, b)),
            (name(), proptest::collection::vec(inner.clone(), 0..4))
                .prop_map(|(v, b)| Op::IfFailed(v, b)),
            (1u32..=3, proptest::collection::vec(inner, 0..4)).prop_map(|(n, b)| Op::Repeat(n, b)),
        ]
    });
    proptest::collection::vec(op, 0..6)
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let locks = proptest::collection::btree_map(
        name(),
        (
            prop_oneof![Just(LockKind::Sleeping), Just(LockKind::Spin)],
            0u8..3,
        ),
        0..3,
    );
    let base = (
        proptest::option::of(name()),
        prop_oneof![
            (1u32..64, proptest::bool::ANY).prop_map(|(n, k)| {
                MachineDecl::Pages(
                    n * 32,
                    if k {
                        PcpSizing::Kernel
                    } else {
                        PcpSizing::Small
                    },
                )
            }),
            proptest::sample::select(gfp_sim::format::PRESETS.to_vec())
                .prop_map(|p| MachineDecl::Preset(p.into())),
        ],
        proptest::collection::vec(
            (
                proptest::sample::select(Fill::ALL.to_vec()),
                proptest::option::of(0u32..2),
                proptest::option::of(name()),
            )
                .prop_map(|(kind, node, owner)| FillDecl { kind, node, owner }),
            0..3,
        ),
        locks,
    )
        .prop_flat_map(|(nm, machine, fills, locks)| {
            let decls: Vec<LockDecl> = locks
                .iter()
                .map(|(n, (k, class))| LockDecl {
                    name: n.clone(),
                    kind: *k,
                    fs_reclaim: *class == 1,
                    io_reclaim: *class == 2,
                })
                .collect();
            let pairs: Vec<(String, LockKind)> =
                decls.iter().map(|d| (d.name.clone(), d.kind)).collect();
            let tasks = proptest::collection::btree_map(
                name(),
                (
                    prop_oneof![
                        Just(TaskContextKind::Process),
                        Just(TaskContextKind::SoftIrq),
                        Just(TaskContextKind::HardIrq)
                    ],
                    any::<bool>(),
                    any::<bool>(),
                    any::<bool>(),
                    ops(pairs.clone()),
                ),
                0..3,
            );
            let funcs = proptest::collection::btree_map(name(), ops(pairs), 0..2);
            let devices = proptest::collection::vec(
                (
                    any::<bool>(),
                    proptest::option::of(0u64..1_000_000),
                    proptest::option::of(prop_oneof![
                        (1u64..10).prop_map(FailMode::Every),
                        (0u64..10).prop_map(FailMode::After),
                        (1u32..8)
                            .prop_flat_map(|q| (0..=q, Just(q)))
                            .prop_map(|(p, q)| FailMode::Rate(p, q)),
                    ]),
                ),
                0..3,
            );
            (
                Just(nm),
                Just(machine),
                Just(fills),
                Just(decls),
                funcs,
                tasks,
                devices,
            )
        })
        .prop_map(|(name, machine, fills, locks, funcs, tasks, devices)| {
            // At most one swap device; names d0, d1, ...
            let mut seen_swap = false;
            let devices: Vec<DeviceDecl> = devices
                .into_iter()
                .enumerate()
                .map(|(i, (swap, latency_ns, fail))| {
                    let swap = swap && !seen_swap;
                    seen_swap |= swap;
                    DeviceDecl {
                        name: format!("d{i}"),
                        kind: if swap {
                            DeviceKind::Swap
                        } else {
                            DeviceKind::Block
                        },
                        latency_ns,
                        fail,
                    }
                })
                .collect();
            (name, machine, fills, locks, funcs, tasks, devices)
        })
        .prop_map(|(name, machine, fills, locks, mut funcs, tasks, devices)| {
            let block: Vec<String> = devices
                .iter()
                .filter(|d| d.kind == DeviceKind::Block)
                .map(|d| d.name.clone())
                .collect();
            for body in funcs.values_mut() {
                fix_devices(body, &block);
            }
            let victim = tasks
                .iter()
                .find(|(_, t)| t.0 == TaskContextKind::Process)
                .map(|(n, _)| n.clone());
            let tasks: Vec<TaskDecl> = tasks
                .into_iter()
                .map(|(name, (context, in_memcg, in_cpuset, irq, mut body))| {
                    fix_devices(&mut body, &block);
                    TaskDecl {
                        name,
                        context,
                        memcg: in_memcg.then(|| "box".to_string()),
                        cpuset: in_cpuset.then(|| "node0".to_string()),
                        interrupts: victim
                            .clone()
                            .filter(|_| irq && context != TaskContextKind::Process),
                        body,
                    }
                })
                .collect();
            (name, machine, fills, locks, funcs, tasks, devices)
        })
        .prop_map(
            |(name, machine, fills, locks, funcs, tasks, devices)| Scenario {
                name,
                machine,
                swap: Some(64),
                fills,
                locks,
                mempools: vec![MempoolDecl {
                    name: "pool".into(),
                    min: 2,
                    order: 1,
                }],
                // Replaced below by one with generated settings.
                memcgs: Vec::new(),
                cpusets: vec![CpusetDecl {
                    name: "node0".into(),
                    mems: vec![0],
                    hardwall: true,
                }],
                functions: funcs
                    .into_iter()
                    .map(|(name, body)| Function { name, body })
                    .collect(),
                devices,
                tasks,
            },
        );
    (base, memcg_box()).prop_map(|(mut s, m)| {
        s.memcgs = vec![m];
        s
    })
}

/// The group `box` that generated tasks may join: any `max`, and each
/// other setting present or not, `low` and `min` within `max` as the
/// parser requires.
fn memcg_box() -> impl Strategy<Value = MemcgDecl> {
    (0u64..200)
        .prop_flat_map(|max| {
            (
                Just(max),
                proptest::option::of(prop_oneof![0u64..400, Just(u64::MAX)]),
                proptest::option::of(0..=max),
                proptest::option::of(0..=max),
                any::<bool>(),
            )
        })
        .prop_map(|(max, high, low, min, oom_group)| MemcgDecl {
            high,
            low,
            min,
            oom_group,
            ..MemcgDecl::with_max("box", max)
        })
}

/// `io dev=` names only declared block devices.
fn fix_devices(ops: &mut [Op], block: &[String]) {
    for op in ops {
        match op {
            Op::Io(io) if io.device.as_ref().is_some_and(|d| !block.contains(d)) => {
                io.device = None;
            }
            Op::Scope(_, b) | Op::IfFailed(_, b) | Op::Repeat(_, b) => fix_devices(b, block),
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn print_then_parse_is_identity(s in scenario()) {
        let text = print(&s);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, s);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
        let _ = parse(&format!("gfp-scenario 1\n{text}"));
    }

    #[test]
    fn mutated_scenarios_never_panic(s in scenario(), cut in 0usize..400, junk in "[ a-z_=|0-9#\n]{0,12}") {
        let text = print(&s);
        let mut cut = cut.min(text.len());
        while !text.is_char_boundary(cut) { cut -= 1; }
        let mutated = format!("{}{}{}", &text[..cut], junk, &text[cut..]);
        if let Err(e) = parse(&mutated) {
            prop_assert!(e.line >= 1 && e.column >= 1);
            prop_assert!(!e.message.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any parsed scenario runs to a report without panicking, and the
    /// same seed gives the same report.
    #[test]
    fn any_scenario_runs_deterministically(mut s in scenario(), seed in any::<u64>()) {
        s.machine = MachineDecl::Pages(1024, PcpSizing::Small);
        s.fills.truncate(1);
        for f in &mut s.fills {
            f.node = None;
        }
        let config = gfp_sim::SimConfig { seed, max_steps: 2_000, ..Default::default() };
        let a = gfp_sim::sim::Sim::new(&s, config).unwrap().run();
        let b = gfp_sim::sim::Sim::new(&s, config).unwrap().run();
        prop_assert_eq!(a.text(), b.text());
        prop_assert_eq!(a.tasks.len(), s.tasks.len());
    }
}

/// `pcp=` on a `pages=` machine: parsed, printed back, refused with a
/// message elsewhere; `kernel` sizes the lists from the zone.
#[test]
fn machine_pcp_sizing() {
    let s = parse("gfp-scenario 1\nmachine pages=65536 pcp=kernel\n").unwrap();
    assert_eq!(s.machine, MachineDecl::Pages(65536, PcpSizing::Kernel));
    assert!(print(&s).contains("machine pages=65536 pcp=kernel\n"));
    let s = parse("gfp-scenario 1\nmachine pages=65536 pcp=small\n").unwrap();
    assert_eq!(s.machine, MachineDecl::Pages(65536, PcpSizing::Small));
    assert!(print(&s).contains("machine pages=65536\n"));
    let (l, c, m) = err_at("gfp-scenario 1\nmachine pages=4096 pcp=huge\n");
    assert_eq!((l, c), (2, 20));
    assert!(m.contains("pcp=small or pcp=kernel"), "{m}");
    let (_, _, m) = err_at("gfp-scenario 1\nmachine default pcp=kernel\n");
    assert!(m.contains("usage: machine PRESET"), "{m}");
    // The kernel's sizes for a 256 MiB zone, against the small default.
    let spec = |text: &str| gfp_sim::sim::machine_spec(&parse(text).unwrap().machine);
    let m = gfp_mm::Machine::new(spec("gfp-scenario 1\nmachine pages=65536 pcp=kernel\n")).unwrap();
    let z = &m.zoneinfo()[0];
    assert_eq!(z.pcp_batch, 15, "zone_batchsize() of 65536 pages");
    assert_eq!(u64::from(z.pcp_high), z.low, "the low watermark, one CPU");
    let m = gfp_mm::Machine::new(spec("gfp-scenario 1\nmachine pages=65536\n")).unwrap();
    assert_eq!(
        (m.zoneinfo()[0].pcp_batch, m.zoneinfo()[0].pcp_high),
        (1, 4)
    );
}

/// A scenario declares at most `MAX_TASKS` tasks; one more is an error
/// that names the bound, at the line of the extra task.
#[test]
fn task_count_is_bounded() {
    let n = gfp_sim::format::MAX_TASKS;
    let tasks: String = (0..n)
        .map(|i| format!("task t{i}\n  sleep 1\nend\n"))
        .collect();
    let ok = format!("gfp-scenario 1\n{tasks}");
    assert_eq!(parse(&ok).unwrap().tasks.len(), n);
    let (l, c, m) = err_at(&format!("{ok}task extra\nend\n"));
    assert_eq!((l, c), (2 + 3 * n, 1));
    assert!(m.contains(&format!("more than {n} tasks")), "{m}");
}

/// `depth` blocks nested inside one task, cycling through `scope`,
/// `repeat` and `if-failed`, with an allocation at the bottom.
fn nested_scenario(depth: usize) -> String {
    let mut s = String::from("gfp-scenario 1\ntask t\n  alloc a GFP_NOWAIT\n");
    for i in 0..depth {
        s.push_str(match i % 3 {
            0 => "scope set __GFP_NOWARN\n",
            1 => "repeat 1\n",
            _ => "if-failed a\n",
        });
    }
    s.push_str("alloc b GFP_KERNEL\n");
    for _ in 0..depth {
        s.push_str("end\n");
    }
    s.push_str("end\n");
    s
}

/// Blocks nest at most `MAX_NESTING` deep; one more is a parse error that
/// names the bound, at the opener of the extra block; and everything a
/// scenario at the bound goes through (parse, print, drop_scopes, a run
/// with its page, drop) fits a thread with the default 2 MiB stack.
#[test]
fn nesting_depth_is_bounded_below_the_stack() {
    let n = gfp_sim::format::MAX_NESTING;
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let ok = nested_scenario(n);
            let s = parse(&ok).unwrap();
            assert_eq!(parse(&print(&s)).unwrap(), s);
            let _ = gfp_sim::format::drop_scopes(&s);
            let (report, timeline) = gfp_sim::run_recorded(&s, 1).unwrap();
            // Blocks are not calls: nesting them is not recursion.
            assert!(
                !report.has(gfp_sim::Rule::UnboundedRecursion),
                "{}",
                report.text()
            );
            let _ = gfp_sim::html::render(&report, &timeline, &Default::default());
            let (l, c, m) = err_at(&nested_scenario(n + 1));
            assert_eq!((l, c), (4 + n, 1));
            assert!(m.contains(&format!("nested more than {n} deep")), "{m}");
            // Far past the bound (where the parser used to overflow the
            // stack): the same error, at the same place.
            let (l, _, m) = err_at(&nested_scenario(20_000));
            assert_eq!(l, 4 + n);
            assert!(m.contains(&format!("nested more than {n} deep")), "{m}");
        })
        .unwrap()
        .join()
        .unwrap();
}
