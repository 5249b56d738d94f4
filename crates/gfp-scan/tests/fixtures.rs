//! The rules on C fixtures written for the purpose (no kernel tree needed).
//!
//! In `fixtures/tree`, a line commented `FINDING <rule>` must be the
//! allocation, or a hop of the chain, of a finding of that rule; a line
//! commented `near miss` must be neither for any finding.

use std::path::{Path, PathBuf};

use gfp::KernelVersion;
use gfp_scan::{scan, Proposal, Report, ScanOptions, Severity};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn run(name: &str, opts: ScanOptions) -> Report {
    scan(&fixture(name), &opts, None).expect("the fixture scans")
}

fn on_612() -> ScanOptions {
    ScanOptions {
        kernel: Some(KernelVersion::new(6, 12)),
        ..ScanOptions::default()
    }
}

/// Whether `f` touches `file:line` (its allocation or a hop of its chain).
fn touches(f: &gfp_scan::Finding, file: &str, line: u32) -> bool {
    f.alloc
        .as_ref()
        .is_some_and(|a| a.file == file && a.line == line)
        || f.chain.iter().any(|h| h.file == file && h.line == line)
}

fn markers() -> Vec<(String, u32, String)> {
    let root = fixture("tree");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            for (i, l) in std::fs::read_to_string(&p).unwrap().lines().enumerate() {
                if let Some(c) = l.split("/*").nth(1) {
                    out.push((
                        rel.clone(),
                        i as u32 + 1,
                        c.trim_end_matches("*/").trim().to_string(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_marked_finding_and_no_near_miss() {
    let r = run("tree", on_612());
    let mut checked = 0;
    for (file, line, note) in markers() {
        let rule = if note.starts_with("FINDING sleep") {
            "sleep-in-atomic"
        } else if note.starts_with("FINDING nofail on 6.10") {
            continue;
        } else if note.starts_with("FINDING nofail") {
            "nofail-no-reclaim"
        } else if note.starts_with("FINDING redundant-gfp-noio") {
            "redundant-gfp-noio"
        } else if note.starts_with("FINDING redundant") {
            "redundant-gfp-nofs"
        } else if note.starts_with("near miss") {
            let hit: Vec<_> = r
                .findings
                .iter()
                .filter(|f| touches(f, &file, line))
                .collect();
            assert!(
                hit.is_empty(),
                "{file}:{line} ({note}) has findings: {hit:#?}"
            );
            checked += 1;
            continue;
        } else {
            continue;
        };
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule == rule && touches(f, &file, line)),
            "{file}:{line} ({note}): no {rule} finding; got:\n{}",
            r.to_text()
        );
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} markers checked");
}

#[test]
fn findings_are_not_duplicated() {
    let r = run("tree", on_612());
    for (i, a) in r.findings.iter().enumerate() {
        for b in &r.findings[i + 1..] {
            assert!(
                !(a.rule == b.rule && a.alloc == b.alloc && a.context == b.context),
                "duplicate: {a:#?}"
            );
        }
    }
}

#[test]
fn a_mask_passed_down_three_calls_is_found_with_its_chain() {
    let r = run("tree", on_612());
    let f = r
        .findings
        .iter()
        .find(|f| f.context.function == "three_down_locked")
        .expect("three_down_locked is found");
    let hops: Vec<&str> = f.chain.iter().map(|h| h.function.as_str()).collect();
    assert_eq!(hops, ["three_down_locked", "level1", "level2", "level3"]);
    let a = f.alloc.as_ref().unwrap();
    assert_eq!(
        (a.file.as_str(), a.line, a.call.as_str()),
        ("mm/chains.c", 5, "kmalloc")
    );
    // level2 adds __GFP_NOWARN on the way down.
    assert!(
        a.effective.contains("GFP_KERNEL|__GFP_NOWARN"),
        "{}",
        a.effective
    );
    assert_eq!(f.context.line, 20);
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn entry_points_by_registration_kind() {
    let r = run("tree", on_612());
    let kinds: Vec<(&str, &str)> = r
        .findings
        .iter()
        .filter(|f| f.context.file == "drivers/entry.c")
        .map(|f| (f.context.function.as_str(), f.context.kind.as_str()))
        .collect();
    for want in [
        ("hard_handler", "hard IRQ handler"),
        ("devm_handler", "hard IRQ handler"),
        ("my_timer", "timer callback"),
        ("my_hrtimer", "hrtimer callback"),
        ("my_tasklet", "tasklet"),
        ("my_rcu_cb", "RCU callback"),
        ("wifi_tx", "ieee80211_ops callback (must be atomic)"),
        (
            "uart_fix_poll_get_char",
            "uart_ops poll callback (KGDB, interrupts disabled)",
        ),
    ] {
        assert!(kinds.contains(&want), "{want:?} missing from {kinds:?}");
    }
    assert!(
        !kinds
            .iter()
            .any(|(f, _)| *f == "thread_fn" || *f == "good_handler"),
        "{kinds:?}"
    );
}

#[test]
fn unpaired_scopes_and_scopes_restored_elsewhere() {
    let r = run("tree", on_612());
    let unpaired: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule == "unpaired-scope")
        .collect();
    let leak = unpaired
        .iter()
        .find(|f| f.context.function == "unpaired_on_error")
        .expect("the early return leaks the scope");
    assert_eq!(leak.severity, Severity::Warning);
    assert!(leak.message.contains("line 68"), "{}", leak.message);
    let elsewhere = unpaired
        .iter()
        .find(|f| f.context.function == "begin_transaction")
        .expect("the escaping save is reported");
    assert_eq!(elsewhere.severity, Severity::Note);
    assert!(
        elsewhere.message.contains("end_transaction"),
        "{}",
        elsewhere.message
    );
    let through_local = unpaired
        .iter()
        .find(|f| f.context.function == "server_lock")
        .expect("the save stored through a local is reported");
    assert_eq!(through_local.severity, Severity::Note);
    assert!(
        through_local.message.contains("server->nofs_flag")
            && through_local.message.contains("server_unlock"),
        "{}",
        through_local.message
    );
    let thread = unpaired
        .iter()
        .find(|f| f.context.function == "commit_thread")
        .expect("the discarded save is reported");
    assert_eq!(thread.severity, Severity::Note);
    assert!(
        thread.message.contains("throws the saved state away"),
        "{}",
        thread.message
    );
    for ok in [
        "paired_through_goto",
        "nofs_on_one_path",
        "nofs_in_scope",
        "open_coded",
    ] {
        assert!(
            !unpaired.iter().any(|f| f.context.function == ok),
            "{ok}: {unpaired:#?}"
        );
    }
}

#[test]
fn a_scope_a_helper_opens_for_its_caller_covers_the_code_before_its_closer() {
    let r = run("tree", on_612());
    let in_file: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.context.file == "fs/handles.c")
        .collect();
    // The jbd2 handle, the XFS transaction and the header's lock wrapper
    // each open the scope, and the finding names the helper.
    for (line, helper) in [
        (9, "`obj_lock()`"),
        (31, "`jbd2_journal_start()`"),
        (72, "`xfs_trans_alloc()`"),
    ] {
        let f = in_file
            .iter()
            .find(|f| f.alloc.as_ref().is_some_and(|a| a.line == line))
            .unwrap_or_else(|| panic!("line {line}: {in_file:#?}"));
        assert_eq!(f.rule, "redundant-gfp-nofs");
        assert!(
            f.message
                .contains(&format!("inside the scope {helper} opens")),
            "{}",
            f.message
        );
    }
    // A handle its function does not stop, or stops in another function,
    // is the helpers' way: no unpaired scope.
    assert!(
        !in_file.iter().any(|f| f.rule == "unpaired-scope"),
        "{in_file:#?}"
    );
}

#[test]
fn noreclaim_scope_exists_only_on_the_kernels_that_had_it() {
    let line = 119;
    for (v, expect) in [
        ((6, 11), true),
        ((6, 10), true),
        ((6, 9), false),
        ((6, 12), false),
    ] {
        let r = run(
            "tree",
            ScanOptions {
                kernel: Some(KernelVersion::new(v.0, v.1)),
                ..ScanOptions::default()
            },
        );
        let found = r
            .findings
            .iter()
            .any(|f| f.rule == "nofail-no-reclaim" && touches(f, "fs/scopes.c", line));
        assert_eq!(found, expect, "kernel {v:?}");
        assert_eq!(r.kernel, format!("{}.{}", v.0, v.1));
    }
}

#[test]
fn conversion_candidates_are_opt_in_and_grouped_by_function() {
    let plain = run("tree", on_612());
    assert!(!plain
        .findings
        .iter()
        .any(|f| f.rule.ends_with("conversion-candidate")));
    let r = run(
        "tree",
        ScanOptions {
            conversion: true,
            ..on_612()
        },
    );
    let c: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule == "nofs-conversion-candidate")
        .collect();
    let plain_kernel = c
        .iter()
        .find(|f| f.context.function == "plain_kernel")
        .expect("plain_kernel");
    assert!(
        plain_kernel
            .message
            .contains("2 explicit GFP_NOFS allocations"),
        "{}",
        plain_kernel.message
    );
    // Inside a scope on every path: redundant, not a candidate.
    assert!(!c
        .iter()
        .any(|f| f.context.function == "nofs_in_scope" && f.alloc.as_ref().unwrap().line == 6));
}

#[test]
fn same_named_statics_are_different_functions() {
    let r = run("statics", on_612());
    assert_eq!(r.findings.len(), 1, "{}", r.to_text());
    let f = &r.findings[0];
    assert_eq!(f.context.function, "a_locked");
    assert_eq!(f.alloc.as_ref().unwrap().file, "a.c");
}

fn propose(scope: &str) -> Report {
    run(
        "propose",
        ScanOptions {
            around: Some("outer".into()),
            proposal: Some(Proposal::parse(scope).unwrap()),
            ..on_612()
        },
    )
}

fn breaks_line(r: &Report) -> Vec<u32> {
    let mut v: Vec<u32> = r
        .findings
        .iter()
        .filter(|f| f.rule == "scope-breaks")
        .map(|f| f.alloc.as_ref().unwrap().line)
        .collect();
    v.sort();
    v
}

#[test]
fn proposals_break_what_the_policy_table_says() {
    // Clearing direct reclaim breaks the nested NOFAIL only.
    assert_eq!(breaks_line(&propose("clear __GFP_DIRECT_RECLAIM")), vec![9]);
    // Setting NOFAIL breaks the nested GFP_ATOMIC.
    assert_eq!(breaks_line(&propose("set __GFP_NOFAIL")), vec![10]);
    // Setting __GFP_FS breaks the nested GFP_NOFS.
    assert_eq!(breaks_line(&propose("set __GFP_FS")), vec![11]);
    // A NOFS scope breaks nothing and changes the GFP_KERNEL ones.
    let nofs = propose("nofs");
    assert!(breaks_line(&nofs).is_empty());
    let changed: Vec<u32> = nofs
        .findings
        .iter()
        .map(|f| f.alloc.as_ref().unwrap().line)
        .collect();
    assert!(changed.contains(&9) && changed.contains(&4), "{changed:?}");
    // Nothing outside `outer` is reported.
    assert!(!nofs
        .findings
        .iter()
        .any(|f| f.alloc.as_ref().unwrap().line == 23));
    // The chain starts at the function the scope wraps.
    let f = &propose("clear __GFP_DIRECT_RECLAIM").findings[0];
    assert_eq!(f.chain[0].function, "outer");
    assert_eq!(f.context.function, "outer");
}

#[test]
fn proposal_syntax_errors_name_the_problem() {
    assert!(Proposal::parse("clear GFP_NOWAIT")
        .unwrap_err()
        .contains("not a single __GFP_ flag"));
    assert!(Proposal::parse("flip __GFP_IO")
        .unwrap_err()
        .contains("`set` or `clear`"));
    assert!(Proposal::parse("").is_err());
    assert_eq!(
        Proposal::parse("noio").unwrap().clear,
        gfp::Gfp::IO | gfp::Gfp::FS
    );
    let e = scan(
        &fixture("propose"),
        &ScanOptions {
            around: Some("no_such_fn".into()),
            proposal: Some(Proposal::parse("nofs").unwrap()),
            ..on_612()
        },
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("no_such_fn"), "{e}");
}

#[test]
fn json_has_the_documented_shape() {
    let r = run("tree", on_612());
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "elapsed_ms",
            "files",
            "findings",
            "functions",
            "kernel",
            "parse_errors",
            "root"
        ]
    );
    // In the documented order in the text itself.
    let text = r.to_json();
    let pos = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
    assert!(
        pos("root") < pos("kernel")
            && pos("kernel") < pos("files")
            && pos("elapsed_ms") < pos("findings")
    );
    assert_eq!(v["files"], 23);
    let f = &v["findings"][0];
    for k in ["rule", "severity", "alloc", "context", "chain", "message"] {
        assert!(f.get(k).is_some(), "{k}");
    }
    for k in ["file", "line", "call", "gfp", "effective"] {
        assert!(f["alloc"].get(k).is_some(), "alloc.{k}");
    }
    for k in ["kind", "function", "file", "line", "call"] {
        assert!(f["context"].get(k).is_some(), "context.{k}");
    }
}

#[test]
fn sarif_is_2_1_0_with_a_result_per_finding() {
    let r = run("tree", on_612());
    let v: serde_json::Value = serde_json::from_str(&r.to_sarif()).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings.len());
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    for rule in rules {
        let help = rule["help"]["text"].as_str().unwrap();
        assert!(help.contains("What"), "{}: {help}", rule["id"]);
    }
    let mut prints: Vec<&str> = Vec::new();
    for res in results {
        prints.push(
            res["partialFingerprints"]["gfpScanFinding/v1"]
                .as_str()
                .unwrap(),
        );
        let id = res["ruleId"].as_str().unwrap();
        assert!(rules.iter().any(|r| r["id"] == id), "{id}");
        assert!(["error", "warning", "note"].contains(&res["level"].as_str().unwrap()));
        assert!(
            res["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
    // Each finding of the fixture tree is its own.
    prints.sort_unstable();
    prints.dedup();
    assert_eq!(prints.len(), results.len());
}

#[test]
fn user_allocators_extend_the_table() {
    let dir = std::env::temp_dir().join(format!("gfp-scan-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("x.c"),
        "void f(void)\n{\n\tspin_lock(&l);\n\tmy_pool_get(&pool, GFP_KERNEL);\n\tspin_unlock(&l);\n}\n",
    )
    .unwrap();
    let plain = scan(&dir, &on_612(), None).unwrap();
    assert!(plain.findings.is_empty());
    let mut opts = on_612();
    opts.allocators
        .extend_from_text("mine", "my_pool_get 2\n")
        .unwrap();
    let r = scan(&dir, &opts, None).unwrap();
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].alloc.as_ref().unwrap().line, 4);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_missing_root_is_an_error_not_a_panic() {
    let e = scan(Path::new("/nonexistent/gfp-scan"), &on_612(), None).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/gfp-scan"), "{e}");
}

#[test]
fn the_lexical_pass_finds_what_full_parsing_finds() {
    let fast = run("tree", on_612());
    let full = run(
        "tree",
        ScanOptions {
            parse_all: true,
            ..on_612()
        },
    );
    assert_eq!(fast.findings, full.findings);
    assert_eq!(fast.functions, full.functions);
}

#[test]
fn long_chains_are_counted_not_reported_unless_asked() {
    let short = run(
        "tree",
        ScanOptions {
            max_chain: 2,
            ..on_612()
        },
    );
    assert!(short
        .findings
        .iter()
        .all(|f| f.rule != "sleep-in-atomic" || f.chain.len() <= 2));
    assert!(short.stats.long_chains >= 1, "three_down_locked has 4 hops");
    let all = run(
        "tree",
        ScanOptions {
            max_chain: 0,
            ..on_612()
        },
    );
    assert!(all
        .findings
        .iter()
        .any(|f| f.context.function == "three_down_locked"));
    assert_eq!(all.stats.long_chains, 0);
}

#[test]
fn trusted_functions_stop_the_propagation() {
    // With every function that some atomic caller uses trusted, the sleep
    // below plain_middle is no longer followed up to via_plain_middle.
    let r = run(
        "tree",
        ScanOptions {
            trust_callers: 1,
            ..on_612()
        },
    );
    assert!(!r
        .findings
        .iter()
        .any(|f| f.context.function == "via_plain_middle"));
    let r = run("tree", on_612());
    assert!(r
        .findings
        .iter()
        .any(|f| f.context.function == "via_plain_middle"));
}

#[test]
fn another_drivers_unexported_function_is_not_linked() {
    let dir = std::env::temp_dir().join(format!("gfp-scan-drivers-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("drivers/a")).unwrap();
    std::fs::create_dir_all(dir.join("drivers/b")).unwrap();
    let helper = "int poll_it(struct dev *d)\n{\n\treturn kmalloc(8, GFP_KERNEL) != NULL;\n}\n";
    let caller = "void b_locked(struct dev *d)\n{\n\tspin_lock(&d->lock);\n\tpoll_it(d);\n\tspin_unlock(&d->lock);\n}\n";
    std::fs::write(dir.join("drivers/a/a.c"), helper).unwrap();
    std::fs::write(dir.join("drivers/b/b.c"), caller).unwrap();
    let r = scan(&dir, &on_612(), None).unwrap();
    assert!(r.findings.is_empty(), "{}", r.to_text());
    std::fs::write(
        dir.join("drivers/a/a.c"),
        format!("{helper}EXPORT_SYMBOL_GPL(poll_it);\n"),
    )
    .unwrap();
    let r = scan(&dir, &on_612(), None).unwrap();
    assert_eq!(r.findings.len(), 1, "{}", r.to_text());
    std::fs::remove_dir_all(&dir).ok();
}

/// An empty directory under the temp directory for a small kernel tree,
/// and a writer of its files (paths relative to it).
fn temp_tree(tag: &str) -> (PathBuf, impl Fn(&str, &str)) {
    let root = std::env::temp_dir().join(format!("gfp-scan-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let at = root.clone();
    let write = move |rel: &str, text: &str| {
        let p = at.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    (root, write)
}

#[test]
fn a_directory_of_a_tree_links_as_the_whole_tree_does() {
    // Scanning TREE/drivers, the files are `a/a.c` and `b/b.c` to the
    // report, but the linking rules see where they lie in the tree.
    let (root, write) = temp_tree("subtree");
    write(
        "Makefile",
        "VERSION = 6\nPATCHLEVEL = 12\nobj-y += drivers/\n",
    );
    write("Kconfig", "config MMU\n\tdef_bool y\n");
    write("drivers/a/Makefile", "obj-y += a.o\n");
    write("drivers/b/Makefile", "obj-y += b.o\n");
    write(
        "drivers/a/a.c",
        "int poll_it(struct dev *d)\n{\n\treturn kmalloc(8, GFP_KERNEL) != NULL;\n}\n",
    );
    write(
        "drivers/b/b.c",
        "void b_locked(struct dev *d)\n{\n\tspin_lock(&d->lock);\n\tpoll_it(d);\n\tspin_unlock(&d->lock);\n}\n",
    );
    let whole = scan(&root, &ScanOptions::default(), None).expect("scans");
    let sub = scan(&root.join("drivers"), &ScanOptions::default(), None).expect("scans");
    assert!(whole.findings.is_empty(), "{}", whole.to_text());
    assert!(sub.findings.is_empty(), "{}", sub.to_text());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn files_no_build_for_the_arch_compiles_are_left_out() {
    let (root, write) = temp_tree("kconfig");
    write(
        "Makefile",
        "VERSION = 6\nPATCHLEVEL = 12\nobj-y += drivers/\n",
    );
    write("Kconfig", "config MMU\n\tdef_bool y\n");
    write(
        "arch/powerpc/Kconfig",
        "config PPC_PSERIES\n\tbool \"pSeries\"\n",
    );
    write("arch/x86/Kconfig", "config X86\n\tdef_bool y\n");
    write(
        "drivers/Kconfig",
        "config VSCSI\n\ttristate \"v\"\n\tdepends on PPC_PSERIES || COMPILE_TEST\n\thelp\n\t  depends on X86 in prose\n",
    );
    write(
        "drivers/Makefile",
        "obj-$(CONFIG_VSCSI) += vscsi.o\nobj-y += common.o\n",
    );
    let body = "void f(struct d *d)\n{\n\tspin_lock(&d->lock);\n\td->p = kmalloc(8, GFP_KERNEL);\n\tspin_unlock(&d->lock);\n}\n";
    write("drivers/vscsi.c", &format!("#include \"vlib.c\"\n{body}"));
    write("drivers/common.c", &format!("#include \"clib.c\"\n{body}"));
    // No Makefile lists these: each is built with the file including it.
    write("drivers/vlib.c", &body.replace("void f(", "void vf("));
    write("drivers/clib.c", &body.replace("void f(", "void cf("));
    let files = |r: &Report| {
        let mut v: Vec<String> = r
            .findings
            .iter()
            .filter_map(|f| f.alloc.as_ref().map(|a| a.file.clone()))
            .collect();
        v.sort();
        v
    };
    let default = scan(&root, &ScanOptions::default(), None).expect("scans");
    assert_eq!(files(&default), ["drivers/clib.c", "drivers/common.c"]);
    assert_eq!(default.stats.unbuildable_files, 2);
    let all = scan(
        &root,
        &ScanOptions {
            buildable_only: false,
            ..ScanOptions::default()
        },
        None,
    )
    .expect("scans");
    assert_eq!(
        files(&all),
        [
            "drivers/clib.c",
            "drivers/common.c",
            "drivers/vlib.c",
            "drivers/vscsi.c"
        ]
    );
    // A directory inside the tree: the tree's version and configuration.
    let sub = scan(&root.join("drivers"), &ScanOptions::default(), None).expect("scans");
    assert_eq!(sub.kernel, "6.12");
    assert_eq!(files(&sub), ["clib.c", "common.c"]);
    assert_eq!(sub.stats.unbuildable_files, 2);
    // An architecture the tree does not have is refused, naming those it
    // has, from the tree and from a directory inside it.
    for at in [root.clone(), root.join("drivers")] {
        let err = scan(
            &at,
            &ScanOptions {
                arch: Some("x68".into()),
                ..ScanOptions::default()
            },
            None,
        )
        .expect_err("no arch/x68");
        assert_eq!(
            err.to_string(),
            "--arch x68: the kernel tree has no arch/x68 (it has: powerpc, x86; or give `all`)"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Scans a generated C file, in a directory of its own under the temp
/// directory that is removed afterwards.
fn scan_generated(tag: &str, text: &str, opts: &ScanOptions) -> Report {
    let dir = std::env::temp_dir().join(format!("gfp-scan-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("gen.c"), text).unwrap();
    let r = scan(&dir, opts, None).expect("the generated tree scans");
    std::fs::remove_dir_all(&dir).ok();
    r
}

#[test]
fn a_call_chain_thousands_deep_is_followed_to_its_end() {
    // Each function's chain is shared with its callee's (not copied), so a
    // deep chain costs its length, not its square.
    const N: usize = 20_000;
    let mut c = String::new();
    for i in 0..N {
        c.push_str(&format!(
            "static void f{i}(struct p *x)\n{{\n\tf{}(x);\n}}\n",
            i + 1
        ));
    }
    c.push_str(&format!(
        "static void f{N}(struct p *x)\n{{\n\tx->a = kmalloc(1, GFP_KERNEL);\n}}\n\
         void top(struct p *x, spinlock_t *l)\n{{\n\tspin_lock(l);\n\tf0(x);\n\tspin_unlock(l);\n}}\n"
    ));
    let opts = ScanOptions {
        max_chain: 0,
        ..on_612()
    };
    let r = scan_generated("deep", &c, &opts);
    let f = r
        .findings
        .iter()
        .find(|f| f.context.function == "top")
        .expect("the allocation at the bottom is found");
    // top -> f0 -> ... -> fN -> kmalloc
    assert_eq!(f.chain.len(), N + 2);
    assert_eq!(f.chain.last().unwrap().function, format!("f{N}"));
}

#[test]
fn a_switch_of_thousands_of_falling_cases_keeps_a_bounded_label_list() {
    // Past 64 labels a case is taken as reached by any value: the call is
    // still found from a caller passing a constant no label names.
    let mut c = String::from("static void sw(struct p *x, int mode)\n{\n\tswitch (mode) {\n");
    for i in 0..5_000 {
        c.push_str(&format!("\tcase MODE_{i}:\n"));
    }
    c.push_str(
        "\t\tx->a = kmalloc(1, GFP_KERNEL);\n\t\tbreak;\n\t}\n}\n\
         void top(struct p *x, spinlock_t *l)\n{\n\tspin_lock(l);\n\tsw(x, OTHER_MODE);\n\tspin_unlock(l);\n}\n",
    );
    let r = scan_generated("switch", &c, &on_612());
    assert!(
        r.findings.iter().any(|f| f.context.function == "top"),
        "{}",
        r.to_text()
    );
}

#[test]
fn tens_of_thousands_of_defines_are_read_in_linear_time() {
    // Renames, other macros and `#if NAME` on names defined as 0, each in
    // the tens of thousands: each lookup is a hash, not a scan of a list.
    const N: usize = 20_000;
    let mut c = String::new();
    for i in 0..N {
        c.push_str(&format!(
            "#define call{i} impl{i}\n#define other{i}(a) a\n#define OFF{i} 0\n"
        ));
    }
    for i in 0..N {
        c.push_str(&format!("#if OFF{i}\n#endif\n"));
    }
    c.push_str(
        "void impl7(struct p *x)\n{\n\tx->a = kmalloc(1, GFP_KERNEL);\n}\n\
         void top(struct p *x, spinlock_t *l)\n{\n\tspin_lock(l);\n\tcall7(x);\n\tspin_unlock(l);\n}\n",
    );
    let r = scan_generated("defines", &c, &on_612());
    let f = r
        .findings
        .iter()
        .find(|f| f.context.function == "top")
        .expect("call7 is impl7");
    assert_eq!(f.chain[1].function, "impl7");
}

#[test]
fn a_scan_of_part_of_a_tree_says_calls_out_of_it_are_not_followed() {
    // fs/ calls into mm/, which a scan of fs/ alone does not read: the
    // allocation is found from the tree, and the summary of the part says
    // why it is not found there.
    let (root, write) = temp_tree("part");
    write(
        "Makefile",
        "VERSION = 6\nPATCHLEVEL = 12\nobj-y += fs/ mm/\n",
    );
    write("Kconfig", "config MMU\n\tdef_bool y\n");
    write("arch/x86/Kconfig", "config X86\n\tdef_bool y\n");
    write("fs/Makefile", "obj-y += user.o\n");
    write("mm/Makefile", "obj-y += pool.o\n");
    write(
        "mm/pool.c",
        "void *pool_get(void)\n{\n\treturn kmalloc(64, GFP_KERNEL);\n}\n",
    );
    write(
        "fs/user.c",
        "void fs_locked(struct fs *fs)\n{\n\tspin_lock(&fs->lock);\n\tfs->p = pool_get();\n\tspin_unlock(&fs->lock);\n}\n",
    );
    let line = "calls to functions defined elsewhere in the tree were not followed";
    let whole = scan(&root, &ScanOptions::default(), None).expect("scans");
    assert_eq!(whole.findings.len(), 1, "{}", whole.to_text());
    assert!(!whole.to_text().contains(line), "{}", whole.to_text());
    let part = scan(&root.join("fs"), &ScanOptions::default(), None).expect("scans");
    assert!(part.findings.is_empty(), "{}", part.to_text());
    assert!(
        part.to_text().contains("only fs/ of the kernel tree "),
        "{}",
        part.to_text()
    );
    assert!(part.to_text().contains(line), "{}", part.to_text());
    let file = scan(&root.join("fs/user.c"), &ScanOptions::default(), None).expect("scans");
    assert!(
        file.to_text()
            .contains("only fs/user.c of the kernel tree "),
        "{}",
        file.to_text()
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_branch_on_a_configuration_stub_is_decided_by_the_build() {
    // x86 has 4 KiB pages: the subpage test is the stub returning false,
    // so nothing past `if (!fs_is_subpage(...)) return 0;` runs. On a tree
    // without an architecture the page size is unknown, both definitions
    // stay, and the allocation is reached.
    let (root, write) = temp_tree("stub");
    write("Makefile", "VERSION = 6\nPATCHLEVEL = 12\nobj-y += fs/\n");
    write("Kconfig", "config MMU\n\tdef_bool y\n");
    write(
        "arch/x86/Kconfig",
        "config X86\n\tdef_bool y\nconfig FS_ACPI\n\tbool \"acpi\"\n",
    );
    write("fs/Makefile", "obj-y += sub.o user.o\n");
    write(
        "fs/sub.h",
        "#if PAGE_SIZE > SZ_4K\nbool fs_is_subpage(struct fs *fs);\n#else\n\
         static inline bool fs_is_subpage(struct fs *fs)\n{\n\treturn false;\n}\n#endif\n\
         static inline int fs_always(struct fs *fs)\n{\n\treturn 1; /* yes */\n}\n\
         #ifdef CONFIG_FS_ACPI\n#define fs_is_acpi(fs) ((fs)->acpi)\n#else\n\
         static inline bool fs_is_acpi(struct fs *fs)\n{\n\treturn false;\n}\n#endif\n",
    );
    write(
        "fs/sub.c",
        "#include \"sub.h\"\n#if PAGE_SIZE > SZ_4K\nbool fs_is_subpage(struct fs *fs)\n{\n\treturn fs->sectorsize < PAGE_SIZE;\n}\n#endif\n\
         static int fs_alloc_sub(struct fs *fs)\n{\n\tfs->sub = kzalloc(64, GFP_NOFS);\n\treturn fs->sub ? 0 : -ENOMEM;\n}\n\
         int fs_attach(struct fs *fs)\n{\n\tif (!fs_is_subpage(fs) || fs->busy)\n\t\treturn 0;\n\
         \treturn fs_alloc_sub(fs);\n}\n\
         int fs_attach_inline(struct fs *fs)\n{\n\tif (!fs_is_subpage(fs))\n\t\treturn 0;\n\
         \tfs->sub = kzalloc(64, GFP_NOFS);\n\treturn fs->sub ? 0 : -ENOMEM;\n}\n\
         int fs_always_attach(struct fs *fs)\n{\n\tif (fs_always(fs))\n\t\tfs->sub = kzalloc(64, GFP_NOFS);\n\treturn 0;\n}\n\
         int fs_never_attach(struct fs *fs)\n{\n\tif (!fs_always(fs))\n\t\tfs->sub = kzalloc(64, GFP_NOFS);\n\treturn 0;\n}\n\
         int fs_acpi_attach(struct fs *fs)\n{\n\tif (fs_is_acpi(fs))\n\t\tfs->sub = kzalloc(64, GFP_NOFS);\n\treturn 0;\n}\n",
    );
    write(
        "fs/user.c",
        "#include \"sub.h\"\nvoid fs_locked(struct fs *fs)\n{\n\tspin_lock(&fs->lock);\n\tfs_attach(fs);\n\tfs_attach_inline(fs);\n\
         \tfs_always_attach(fs);\n\tfs_never_attach(fs);\n\tfs_acpi_attach(fs);\n\tspin_unlock(&fs->lock);\n}\n",
    );
    let via = |r: &Report| {
        let mut v: Vec<String> = r
            .findings
            .iter()
            .map(|f| f.chain[1].function.clone())
            .collect();
        v.sort();
        v
    };
    let x86 = scan(&root, &ScanOptions::default(), None).expect("scans");
    // A stub in the `#else` of a configuration the build may set is one of
    // two definitions (the other a macro here): it decides nothing.
    assert_eq!(
        via(&x86),
        ["fs_acpi_attach", "fs_always_attach"],
        "{}",
        x86.to_text()
    );
    // The same through the parser's flow instead of the lexical reading.
    let parsed = scan(
        &root,
        &ScanOptions {
            parse_all: true,
            ..ScanOptions::default()
        },
        None,
    )
    .expect("scans");
    assert_eq!(via(&parsed), via(&x86), "{}", parsed.to_text());
    // No architecture: the page size is a choice, the branch is not decided.
    let any = scan(
        &root,
        &ScanOptions {
            arch: None,
            ..ScanOptions::default()
        },
        None,
    )
    .expect("scans");
    assert_eq!(
        via(&any),
        [
            "fs_acpi_attach",
            "fs_always_attach",
            "fs_attach",
            "fs_attach_inline"
        ],
        "{}",
        any.to_text()
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_baseline_keeps_only_new_findings_across_edits() {
    let (root, write) = temp_tree("baseline");
    let locked = "void a_locked(struct dev *d)\n{\n\tspin_lock(&d->lock);\n\tgrow(d);\n\tspin_unlock(&d->lock);\n}\n";
    let grow = "static void grow(struct dev *d)\n{\n\td->buf = kmalloc(64, GFP_KERNEL);\n}\n";
    write("drivers/a.c", &format!("{grow}\n{locked}"));
    let opts = on_612();
    let before = scan(&root, &opts, None).expect("scans");
    assert_eq!(before.findings.len(), 1, "{}", before.to_text());
    let baseline = gfp_scan::Baseline::from_json(&before.to_json()).expect("reads its own JSON");
    // Lines move: the finding is the same one.
    write(
        "drivers/a.c",
        &format!("/*\n * moved\n */\n{grow}\n{locked}"),
    );
    let mut moved = scan(&root, &opts, None).expect("scans");
    assert_eq!(moved.findings.len(), 1);
    assert_ne!(
        moved.findings[0].alloc.as_ref().unwrap().line,
        before.findings[0].alloc.as_ref().unwrap().line
    );
    assert_eq!(baseline.drop_known(&mut moved), 1);
    assert!(moved.findings.is_empty(), "{}", moved.to_text());
    // A new one is kept.
    write(
        "drivers/a.c",
        &format!("{grow}\n{locked}\nvoid b_locked(struct dev *d)\n{{\n\tspin_lock(&d->lock);\n\tgrow(d);\n\tspin_unlock(&d->lock);\n}}\n"),
    );
    let mut grown = scan(&root, &opts, None).expect("scans");
    assert_eq!(grown.findings.len(), 2, "{}", grown.to_text());
    assert_eq!(baseline.drop_known(&mut grown), 1);
    assert_eq!(grown.findings.len(), 1);
    assert_eq!(grown.findings[0].context.function, "b_locked");
    assert!(grown
        .to_text()
        .contains("1 finding of the baseline was left out"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_name_a_header_undefines_for_good_is_undefined_in_the_files_including_it() {
    // `ext2.h` says `#undef EXT2FS_DEBUG` (with no switch to define it):
    // the debug walk of the bitmaps in balloc.c is never compiled.
    let (root, write) = temp_tree("undef");
    write(
        "fs/ext/ext.h",
        "#undef EXT_DEBUG\nstatic inline int ext_x(void) { return 0; }\n",
    );
    let body = "static DEFINE_SPINLOCK(l);\nvoid count(void)\n{\n\tspin_lock(&l);\n#ifdef EXT_DEBUG\n\tkmalloc(8, GFP_KERNEL);\n#endif\n\tspin_unlock(&l);\n}\n";
    write("fs/ext/balloc.c", &format!("#include \"ext.h\"\n{body}"));
    // Without the header, or with the name defined by the file itself,
    // the branch may be compiled.
    write("fs/other/balloc.c", &format!("#include \"ext.h\"\n{body}"));
    write(
        "fs/ext/super.c",
        &format!(
            "#include \"ext.h\"\n#define EXT_DEBUG\n{}",
            body.replace("count", "count2")
        ),
    );
    let r = scan(&root, &ScanOptions::default(), None).expect("scans");
    let mut files: Vec<&str> = r
        .findings
        .iter()
        .filter_map(|f| f.alloc.as_ref().map(|a| a.file.as_str()))
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["fs/ext/super.c", "fs/other/balloc.c"],
        "{}",
        r.to_text()
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn rules_left_out_are_neither_run_nor_reported() {
    let all = run("tree", on_612());
    let mut opts = on_612();
    opts.apply_rules("-sleep-in-atomic, -unpaired-scope")
        .expect("known rules");
    let some = run("tree", opts);
    let rules = |r: &Report| {
        let mut v: Vec<&str> = r.findings.iter().map(|f| f.rule).collect();
        v.sort();
        v.dedup();
        v
    };
    assert!(rules(&all).contains(&"sleep-in-atomic"));
    assert!(rules(&all).contains(&"unpaired-scope"));
    let kept: Vec<&str> = rules(&all)
        .into_iter()
        .filter(|r| !["sleep-in-atomic", "unpaired-scope"].contains(r))
        .collect();
    assert_eq!(rules(&some), kept);
    assert_eq!(some.stats.long_chains, 0);
    assert!(some
        .to_text()
        .contains("rules left out (--rules): sleep-in-atomic, unpaired-scope"));
    // The rest are the same findings.
    let others = |r: &Report| {
        r.findings
            .iter()
            .filter(|f| !["sleep-in-atomic", "unpaired-scope"].contains(&f.rule))
            .count()
    };
    assert_eq!(others(&all), some.findings.len());
    // Unknown words are refused, naming the word.
    let mut o = ScanOptions::default();
    let e = o.apply_rules("-no-such-rule").unwrap_err();
    assert!(e.contains("`-no-such-rule`: no rule `no-such-rule`"), "{e}");
    let e = o.apply_rules("sleep-in-atomic").unwrap_err();
    assert!(e.contains("neither +conversion nor -RULE"), "{e}");
    let e = o.apply_rules("-sleep-in-atomic,,").unwrap_err();
    assert!(e.contains("an empty item"), "{e}");
    o.apply_rules("-sleep-in-atomic").expect("twice is once");
    assert_eq!(o.left_out, ["sleep-in-atomic"]);
    let e = o.apply_rules("+everything").unwrap_err();
    assert!(e.contains("`+everything`: unknown rule set"), "{e}");
    o.apply_rules("+conversion").expect("the opt-in set");
    assert!(o.conversion);
}

#[test]
fn each_hop_shows_the_branch_conditions_it_is_made_under() {
    let c = "static struct stats *lazy(struct dev *d)\n{\n\tif (!d->stats) {\n\t\t/* filled at probe */\n\t\td->stats = kzalloc(64, GFP_KERNEL);\n\t}\n\treturn d->stats;\n}\n\
             static int get(struct dev *d, int mode)\n{\n\tif (unlikely(d->dead))\n\t\treturn -ENODEV;\n\tswitch (mode) {\n\tcase MODE_A:\n\tcase MODE_B:\n\t\tlazy(d);\n\t\tbreak;\n\tdefault:\n\t\tbreak;\n\t}\n\treturn 0;\n}\n\
             void locked(struct dev *d, int mode)\n{\n\tspin_lock(&d->lock);\n\tget(d, mode);\n\tspin_unlock(&d->lock);\n}\n";
    let r = scan_generated("guards", c, &on_612());
    let f = r
        .findings
        .iter()
        .find(|f| f.context.function == "locked")
        .expect("the lazy allocation under the lock is found");
    let when: Vec<Vec<&str>> = f
        .chain
        .iter()
        .map(|h| h.when.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        when,
        [
            vec![],
            vec!["!d->dead", "mode == MODE_A || mode == MODE_B"],
            vec!["!d->stats"],
        ]
    );
    let text = r.to_text();
    assert!(
        text.contains("gen.c:5 lazy -> kzalloc (when !d->stats)\n"),
        "{text}"
    );
    assert!(
        text.contains("-> lazy (when !d->dead && (mode == MODE_A || mode == MODE_B))\n"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let hops = v["findings"][0]["chain"].as_array().unwrap();
    // A hop under no condition has no `when`; the others list theirs.
    assert!(hops[0].get("when").is_none());
    assert_eq!(hops[2]["when"], serde_json::json!(["!d->stats"]));
    let s: serde_json::Value = serde_json::from_str(&r.to_sarif()).unwrap();
    let flow = &s["runs"][0]["results"][0]["codeFlows"][0]["threadFlows"][0]["locations"];
    assert_eq!(
        flow[2]["location"]["message"]["text"],
        "lazy calls kzalloc (when !d->stats)"
    );
}

#[test]
fn a_condition_in_a_branch_no_build_compiles_is_not_shown() {
    // The `if` under `#if 0` is not compiled: the call is unconditional,
    // and the hop shows only the compiled test.
    let c = "static void fill(struct dev *d, int a)\n{\n#if 0\n\tif (a)\n#endif\n\tif (!d->buf)\n\t\td->buf = kzalloc(64, GFP_KERNEL);\n}\n\
             void locked(struct dev *d)\n{\n\tspin_lock(&d->lock);\n\tfill(d, 0);\n\tspin_unlock(&d->lock);\n}\n";
    let r = scan_generated("guards-dead", c, &on_612());
    assert_eq!(r.findings.len(), 1, "{}", r.to_text());
    assert_eq!(r.findings[0].chain[1].when, ["!d->buf"], "{}", r.to_text());
}

#[test]
fn sarif_resolves_paths_against_the_absolute_directory_scanned() {
    // A scanned file's paths are relative to its directory.
    let file = fixture("tree").join("mm/chains.c");
    let r = scan(&file, &on_612(), None).unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.to_sarif()).unwrap();
    let base = v["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"]
        .as_str()
        .unwrap();
    let dir = std::fs::canonicalize(fixture("tree").join("mm")).unwrap();
    assert_eq!(base, format!("file://{}/", dir.display()));
    let uri = v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"]
        .as_str()
        .unwrap();
    assert!(dir.join(uri).is_file(), "{base} + {uri}");
    assert_eq!(
        gfp_scan::report::dir_uri(std::path::Path::new("/a b/%c#d")),
        "file:///a%20b/%25c%23d/"
    );
}

#[test]
fn follow_ops_follows_the_structures_the_calling_file_sees() {
    // Two structures declare an `echo` callback; the core calls through
    // the one its header declares, so only that structure's initialisers
    // are followed. A branch on a parameter under `#ifdef` is still a
    // branch the caller's constant decides.
    let (root, write) = temp_tree("follow-ops");
    write(
        "pps/pps.h",
        "struct pps_info {\n\tvoid (*echo)(struct pps *p, int event);\n\tint (*dump)(struct pps *p, char **buf, bool display);\n};\nstruct pps {\n\tconst struct pps_info *info;\n};\n",
    );
    write(
        "smb/smb.h",
        "struct smb_ops {\n\tint (*echo)(struct server *s);\n};\nstruct server {\n\tstruct smb_ops *info;\n};\n",
    );
    write(
        "pps/core.c",
        "#include \"pps.h\"\nstatic DEFINE_SPINLOCK(lock);\nvoid pps_event(struct pps *p)\n{\n\tspin_lock(&lock);\n\tp->info->echo(p, 1);\n\tp->info->dump(p, NULL, false);\n\tspin_unlock(&lock);\n}\n",
    );
    write(
        "pps/client.c",
        "#include \"pps.h\"\nstatic void client_echo(struct pps *p, int event)\n{\n\tp->last = kmalloc(8, GFP_ATOMIC);\n}\nstatic int client_dump(struct pps *p, char **buf, bool display)\n{\n#ifdef CONFIG_PPS_DEBUG\n\tif (display) {\n\t\t*buf = kmalloc(64, GFP_KERNEL);\n\t\treturn 64;\n\t}\n#endif\n\treturn 0;\n}\nstatic const struct pps_info client_info = {\n\t.echo = client_echo,\n\t.dump = client_dump,\n};\n",
    );
    write(
        "smb/echo.c",
        "#include \"smb.h\"\nint smb_echo(struct server *s)\n{\n\ts->buf = kmalloc(64, GFP_KERNEL);\n\treturn 0;\n}\nstatic const struct smb_ops ops = {\n\t.echo = smb_echo,\n};\n",
    );
    let opts = ScanOptions {
        follow_ops: true,
        ..on_612()
    };
    let r = scan(&root, &opts, None).expect("scans");
    assert!(r.findings.is_empty(), "{}", r.to_text());
    assert_eq!(r.stats.indirect_followed, 2);
    // Once the core passes `true`, the dump's allocation is reached.
    write(
        "pps/core.c",
        "#include \"pps.h\"\nstatic DEFINE_SPINLOCK(lock);\nvoid pps_event(struct pps *p)\n{\n\tspin_lock(&lock);\n\tp->info->dump(p, NULL, true);\n\tspin_unlock(&lock);\n}\n",
    );
    let r = scan(&root, &opts, None).expect("scans");
    assert_eq!(r.findings.len(), 1, "{}", r.to_text());
    assert!(
        touches(&r.findings[0], "pps/client.c", 10),
        "{}",
        r.to_text()
    );
    // The hop names the function, not where --follow-ops found it.
    assert_eq!(r.findings[0].chain[0].call, "client_dump");
    // Without --follow-ops the call is not followed at all.
    let r = scan(&root, &on_612(), None).expect("scans");
    assert!(r.findings.is_empty(), "{}", r.to_text());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn follow_ops_keeps_what_the_indirect_call_knows() {
    // A core function that drops its caller's lock before the callback
    // (as dentry_unlink_inode() does before ->d_iput), a callback read
    // through a file-scope variable, and a hard IRQ handler calling a
    // gadget-like `setup` that is itself an atomic entry point.
    let (root, write) = temp_tree("follow-ops-context");
    write(
        "core.h",
        "struct node_ops {\n\tvoid (*release)(struct node *n);\n};\nstruct node {\n\tconst struct node_ops *ops;\n};\nstruct ctl {\n\tconst struct ctl_ops *ops;\n};\nstruct ctl_ops {\n\tvoid (*poke)(int v);\n};\nstruct other_ops {\n\tvoid (*poke)(int v);\n};\nstruct usb_gadget_driver {\n\tint (*setup)(int req);\n};\nstruct udc {\n\tstruct usb_gadget_driver *driver;\n};\n",
    );
    write(
        "core.c",
        "#include \"core.h\"\nstatic DEFINE_SPINLOCK(lock);\nstatic void unlink(struct node *n)\n{\n\tspin_unlock(&lock);\n\tn->ops->release(n);\n}\nvoid drop(struct node *n)\n{\n\tspin_lock(&lock);\n\tunlink(n);\n}\nstatic struct ctl *controller;\nvoid tick(void)\n{\n\tspin_lock(&lock);\n\tcontroller->ops->poke(1);\n\tspin_unlock(&lock);\n}\n",
    );
    write(
        "fs.c",
        "#include \"core.h\"\nstatic void fs_release(struct node *n)\n{\n\tn->priv = kmalloc(8, GFP_KERNEL);\n}\nstatic const struct node_ops fs_ops = {\n\t.release = fs_release,\n};\n",
    );
    write(
        "pokers.c",
        "#include \"core.h\"\nstatic void ctl_poke(int v)\n{\n\tkmalloc(v, GFP_ATOMIC);\n}\nstatic void other_poke(int v)\n{\n\tkmalloc(v, GFP_KERNEL);\n}\nstatic const struct ctl_ops c = {\n\t.poke = ctl_poke,\n};\nstatic const struct other_ops o = {\n\t.poke = other_poke,\n};\n",
    );
    write(
        "udc.c",
        "#include \"core.h\"\nstatic irqreturn_t udc_irq(int irq, void *data)\n{\n\tstruct udc *u = data;\n\tu->driver->setup(1);\n\treturn IRQ_HANDLED;\n}\nint udc_probe(struct udc *u)\n{\n\treturn request_irq(3, udc_irq, 0, \"udc\", u);\n}\n",
    );
    write(
        "gadget.c",
        "#include \"core.h\"\nstatic int dbg_setup(int req)\n{\n\treturn kmalloc(req, GFP_KERNEL) != NULL;\n}\nstatic struct usb_gadget_driver dbg_driver = {\n\t.setup = dbg_setup,\n};\n",
    );
    let opts = ScanOptions {
        follow_ops: true,
        ..on_612()
    };
    let r = scan(&root, &opts, None).expect("scans");
    // The lock is gone before ->release(); the file-scope `controller` is
    // a `struct ctl`, whose `poke` is ctl_poke (GFP_ATOMIC), not
    // other_poke; the IRQ handler's chain folds into dbg_setup's finding.
    assert_eq!(r.findings.len(), 1, "{}", r.to_text());
    let f = &r.findings[0];
    assert_eq!(f.context.function, "dbg_setup", "{}", r.to_text());
    assert!(touches(f, "gadget.c", 4), "{}", r.to_text());
    assert!(
        f.message
            .contains("1 other atomic context reaches it through calls: `udc_irq` (udc.c:2)"),
        "{}",
        f.message
    );
    // Without the setup entry point, the IRQ handler's own finding stands
    // and its hop says which member it went through.
    write(
        "gadget.c",
        "#include \"core.h\"\nstruct hook {\n\tint (*setup)(int req);\n};\nstatic int dbg_setup(int req)\n{\n\treturn kmalloc(req, GFP_KERNEL) != NULL;\n}\nstatic struct hook plain = {\n\t.setup = dbg_setup,\n};\n",
    );
    write(
        "udc.c",
        "#include \"core.h\"\nstruct hooked {\n\tstruct hook *driver;\n};\nstatic irqreturn_t udc_irq(int irq, void *data)\n{\n\tstruct hooked *u = data;\n\tu->driver->setup(1);\n\treturn IRQ_HANDLED;\n}\nint udc_probe(struct udc *u)\n{\n\treturn request_irq(3, udc_irq, 0, \"udc\", u);\n}\n",
    );
    let r = scan(&root, &opts, None).expect("scans");
    assert_eq!(r.findings.len(), 1, "{}", r.to_text());
    let f = &r.findings[0];
    assert_eq!(f.context.function, "udc_irq", "{}", r.to_text());
    assert_eq!(f.chain[0].call, "dbg_setup");
    assert_eq!(f.chain[0].via.as_deref(), Some("->setup"));
    assert!(
        r.to_text().contains("udc_irq -> dbg_setup [via ->setup]"),
        "{}",
        r.to_text()
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_ruled_out_chain_leaves_the_next_one_to_the_site() {
    // remap() reaches the allocation two ways; the caller's constant
    // rules the shortest out (its branch compares the mode with another
    // value), and the longer one stands.
    let (root, write) = temp_tree("second-chain");
    write(
        "a.c",
        "enum { M_WB = 1, M_WT = 2, M_WC = 3 };\nstatic void *leaf(int n) { return kmalloc(n, GFP_KERNEL); }\nstatic void *via_wt(int n) { return leaf(n); }\nstatic void *via_wb2(int n) { return leaf(n); }\nstatic void *via_wb(int n) { return via_wb2(n); }\nvoid *remap(int n, int mode)\n{\n\tif (mode == M_WT)\n\t\treturn via_wt(n);\n\tif (mode == M_WB)\n\t\treturn via_wb(n);\n\treturn NULL;\n}\nstatic DEFINE_SPINLOCK(zl);\nvoid user(void)\n{\n\tspin_lock(&zl);\n\tremap(1, M_WB);\n\tspin_unlock(&zl);\n}\nvoid other(void)\n{\n\tspin_lock(&zl);\n\tremap(1, 4);\n\tspin_unlock(&zl);\n}\n",
    );
    let opts = ScanOptions {
        max_chain: 0,
        ..on_612()
    };
    let r = scan(&root, &opts, None).expect("scans");
    let got: Vec<(&str, Vec<&str>)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.context.function.as_str(),
                f.chain.iter().map(|h| h.call.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [(
            "user",
            vec!["remap", "via_wb", "via_wb2", "leaf", "kmalloc"]
        )],
        "{}",
        r.to_text()
    );
    // A number compared away as a named constant is: `irq == -1` is not
    // reached from a caller passing -1.
    write(
        "a.c",
        "static int *rows[4];\nstatic int set_map(unsigned int e, unsigned int irq)\n{\n\tif (rows[e] == NULL) {\n\t\tif (irq == -1)\n\t\t\treturn 0;\n\t\trows[e] = (int *)__get_free_pages(GFP_KERNEL, 0);\n\t}\n\treturn 0;\n}\nstatic DEFINE_SPINLOCK(lock);\nvoid clear(unsigned int e)\n{\n\tspin_lock(&lock);\n\tset_map(e, -1);\n\tspin_unlock(&lock);\n}\nvoid bind(unsigned int e)\n{\n\tspin_lock(&lock);\n\tset_map(e, 7);\n\tspin_unlock(&lock);\n}\n",
    );
    let r = scan(&root, &opts, None).expect("scans");
    assert_eq!(r.findings.len(), 1, "{}", r.to_text());
    assert_eq!(r.findings[0].context.function, "bind");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_lock_released_through_a_copy_of_its_pointer_is_released() {
    // dnotify takes the new mark's lock, copies the pointer, and releases
    // through the copy; a copy of another pointer releases nothing.
    let (root, write) = temp_tree("alias-release");
    write(
        "a.c",
        "struct mark { spinlock_t lock; };\nvoid attach(struct mark *found, struct mark *new_mark)\n{\n\tstruct mark *m;\n\tif (found) {\n\t\tm = found;\n\t\tspin_lock(&m->lock);\n\t} else {\n\t\tspin_lock(&new_mark->lock);\n\t\tm = new_mark;\n\t}\n\tspin_unlock(&m->lock);\n\tkmalloc(8, GFP_KERNEL);\n}\nvoid other(struct mark *a, struct mark *b)\n{\n\tstruct mark *m = a;\n\tspin_lock(&b->lock);\n\tspin_unlock(&m->lock);\n\tkmalloc(8, GFP_KERNEL);\n}\n",
    );
    let r = scan(&root, &on_612(), None).expect("scans");
    let contexts: Vec<&str> = r
        .findings
        .iter()
        .map(|f| f.context.function.as_str())
        .collect();
    assert_eq!(contexts, ["other"], "{}", r.to_text());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn ops_targets_bounds_how_generic_a_followed_call_may_be() {
    // Two drivers put a function in `xmit`: by default the call is not
    // followed (either may be the one); with --ops-targets 2 both are, and
    // the hop says the function is one of two.
    let (root, write) = temp_tree("ops-targets");
    write(
        "core.h",
        "struct net_ops {\n\tint (*xmit)(int len);\n};\nstruct netdev {\n\tconst struct net_ops *ops;\n};\n",
    );
    write(
        "core.c",
        "#include \"core.h\"\nstatic DEFINE_SPINLOCK(lock);\nvoid send(struct netdev *d)\n{\n\tspin_lock(&lock);\n\td->ops->xmit(64);\n\tspin_unlock(&lock);\n}\n",
    );
    write(
        "a.c",
        "#include \"core.h\"\nstatic int a_xmit(int len)\n{\n\treturn kmalloc(len, GFP_KERNEL) != NULL;\n}\nstatic const struct net_ops a_ops = {\n\t.xmit = a_xmit,\n};\n",
    );
    write(
        "b.c",
        "#include \"core.h\"\nstatic int b_xmit(int len)\n{\n\treturn kmalloc(len, GFP_ATOMIC) != NULL;\n}\nstatic const struct net_ops b_ops = {\n\t.xmit = b_xmit,\n};\n",
    );
    let mut opts = ScanOptions {
        follow_ops: true,
        ..on_612()
    };
    let r = scan(&root, &opts, None).expect("scans");
    assert!(r.findings.is_empty(), "{}", r.to_text());
    assert_eq!(r.stats.indirect_followed, 0);
    assert_eq!(r.stats.indirect_generic, (1, 1));
    assert!(
        r.to_text().contains("--ops-targets N follows up to N"),
        "{}",
        r.to_text()
    );
    opts.ops_targets = 2;
    let r = scan(&root, &opts, None).expect("scans");
    assert_eq!(r.findings.len(), 1, "{}", r.to_text());
    assert!(touches(&r.findings[0], "a.c", 4), "{}", r.to_text());
    assert_eq!(
        r.findings[0].chain[0].via.as_deref(),
        Some("->xmit, one of 2")
    );
    assert_eq!(r.stats.indirect_followed, 1);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_hop_names_the_member_it_was_called_through() {
    // Two calls through members on one line: the chain's hop names the
    // member that reaches the allocation (`xmit`), not the line's first,
    // also where both calls pass the same arguments under the same
    // conditions (`prep(64) || xmit(64)`).
    let (root, write) = temp_tree("via-member");
    write(
        "core.h",
        "struct net_ops {\n\tint (*prep)(int len);\n\tint (*xmit)(int len);\n};\nstruct netdev {\n\tconst struct net_ops *ops;\n};\n",
    );
    write(
        "core.c",
        "#include \"core.h\"\nstatic DEFINE_SPINLOCK(lock);\nvoid send(struct netdev *d)\n{\n\tspin_lock(&lock);\n\td->ops->prep(0); d->ops->xmit(64);\n\tspin_unlock(&lock);\n}\n\
         void send_either(struct netdev *d)\n{\n\tspin_lock(&lock);\n\tif (d->ops->prep(64) || d->ops->xmit(64))\n\t\td = 0;\n\tspin_unlock(&lock);\n}\n",
    );
    write(
        "a.c",
        "#include \"core.h\"\nstatic int a_prep(int len)\n{\n\treturn len;\n}\nstatic int a_xmit(int len)\n{\n\treturn kmalloc(len, GFP_KERNEL) != NULL;\n}\nstatic const struct net_ops a_ops = {\n\t.prep = a_prep,\n\t.xmit = a_xmit,\n};\n",
    );
    let opts = ScanOptions {
        follow_ops: true,
        ..on_612()
    };
    let r = scan(&root, &opts, None).expect("scans");
    assert_eq!(r.findings.len(), 2, "{}", r.to_text());
    for f in &r.findings {
        assert!(touches(f, "a.c", 8), "{}", r.to_text());
        assert_eq!(f.chain[0].via.as_deref(), Some("->xmit"), "{}", r.to_text());
    }
    assert_eq!(r.stats.indirect_followed, 4);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_strong_definition_replaces_a_weak_one() {
    // lib.c's weak map_cache() is what an architecture without its own
    // compiles; arch.c has one, so a call reaches arch.c's GFP_ATOMIC
    // allocation, not the weak one's GFP_KERNEL.
    let (root, write) = temp_tree("weak");
    write(
        "lib.c",
        "__weak void *map_cache(unsigned long size)\n{\n\treturn kmalloc(size, GFP_KERNEL);\n}\nstatic DEFINE_SPINLOCK(lock);\nvoid user(void)\n{\n\tspin_lock(&lock);\n\tmap_cache(64);\n\tspin_unlock(&lock);\n}\n",
    );
    write(
        "arch.c",
        "void *map_cache(unsigned long size)\n{\n\treturn kmalloc(size, GFP_ATOMIC);\n}\n",
    );
    let r = scan(&root, &on_612(), None).expect("scans");
    assert!(r.findings.is_empty(), "{}", r.to_text());
    // Without the strong one, the weak one is the definition.
    std::fs::remove_file(root.join("arch.c")).expect("removes");
    let r = scan(&root, &on_612(), None).expect("scans");
    assert_eq!(r.findings.len(), 1, "{}", r.to_text());
    assert!(touches(&r.findings[0], "lib.c", 3), "{}", r.to_text());
    let _ = std::fs::remove_dir_all(&root);
}
