//! `gfp verify`'s search: derived verdicts agree with the policy table,
//! witnesses replay (a finding with the scope, clean without it), the
//! search is deterministic and the same for every cell.

use gfp::policy::{self, Direction, Verdict};
use gfp::Flag;
use gfp_sim::format::{drop_scopes, parse, Op, Scope};
use gfp_sim::verify::{self, Bounds, CellResult, Selection, NO_VIOLATION, UNSAFE};

/// Bounds that keep the debug-mode suite short: single call sites in every
/// environment, plus a few random pairs and triples.
const SMALL: Bounds = Bounds {
    max_ops: 1,
    random: 24,
    seed: 7,
};

fn all(bounds: &Bounds) -> Vec<CellResult> {
    verify::verify(&Selection::default(), bounds, &|_| {})
}

fn flag(name: &str) -> Flag {
    Flag::from_kernel_name(name).unwrap()
}

#[test]
fn every_cell_agrees_and_every_witness_replays() {
    let results = all(&SMALL);
    assert_eq!(results.len(), 54);
    for c in &results {
        let cell = policy::cell(flag(c.flag), c.direction);
        assert_eq!(c.documented_allowed, cell.allowed());
        assert!(
            c.agrees,
            "{} {}: documented {}, derived {}{}",
            c.flag,
            c.direction,
            c.documented,
            c.derived,
            c.witness_details
                .as_ref()
                .map(|w| format!(": {}", w.text))
                .unwrap_or_default()
        );
        assert!(c.explored > 0);
        // Every cell is exercised: some program evaluates a mask its scope
        // changes and is simulated with it.
        assert!(
            c.simulated > 0 && c.derived != verify::NOT_EXERCISED,
            "{} {}: not exercised",
            c.flag,
            c.direction
        );
        match &c.witness {
            None => assert_eq!(c.derived, NO_VIOLATION),
            Some(text) => {
                assert_eq!(c.derived, UNSAFE);
                let detector = c.detector.expect("a witness names its detector");
                // With the scope: the detector fires (what `gfp sim FILE`
                // runs, seed 1).
                let r = gfp_sim::run_text(text, 1).unwrap();
                assert!(
                    r.findings.iter().any(|f| f.rule_id == detector),
                    "{} {}: {detector} does not fire on replay:\n{text}\n{}",
                    c.flag,
                    c.direction,
                    r.text()
                );
                // Without its scopes (`gfp sim FILE --drop-scopes`): clean,
                // every task finished.
                let s = parse(text).unwrap();
                let dropped = gfp_sim::sim::run(&drop_scopes(&s), 1).unwrap();
                assert!(
                    dropped.clean() && dropped.all_completed(),
                    "{} {}: the witness is not clean without its scope:\n{text}\n{}",
                    c.flag,
                    c.direction,
                    dropped.text()
                );
                // The witness is the cell's scope around vocabulary calls.
                let scope = verify::cell_scope(flag(c.flag), c.direction);
                assert!(text.contains(&format!("{} {}", c.direction, c.flag)));
                assert!(contains_scope(&s.tasks[0].body, scope), "{text}");
            }
        }
    }
    // The refused cells with a failure mode are all shown unsafe; the
    // allowed ones all come out clean.
    for c in &results {
        let v = policy::cell(flag(c.flag), c.direction).verdict;
        if v == Verdict::Unsafe {
            assert_eq!(c.derived, UNSAFE, "{} {}", c.flag, c.direction);
        }
    }
}

fn contains_scope(ops: &[Op], scope: Scope) -> bool {
    ops.iter().any(|op| match op {
        Op::Scope(s, b) => *s == scope || contains_scope(b, scope),
        _ => false,
    })
}

#[test]
fn deterministic() {
    let sel = Selection {
        flag: Some(flag("__GFP_DIRECT_RECLAIM")),
        direction: None,
    };
    let a = serde_json::to_string(&verify::verify(&sel, &SMALL, &|_| {})).unwrap();
    let b = serde_json::to_string(&verify::verify(&sel, &SMALL, &|_| {})).unwrap();
    assert_eq!(a, b);
}

#[test]
fn allowed_cell_explores_everything_and_finds_nothing() {
    let sel = Selection {
        flag: Some(flag("__GFP_NOWARN")),
        direction: Some(Direction::Set),
    };
    let counted = std::sync::atomic::AtomicU64::new(0);
    let r = verify::verify(&sel, &SMALL, &|n| {
        counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(r.len(), 1);
    let c = &r[0];
    let programs = verify::programs(verify::environments().len(), &SMALL).len() as u64;
    assert_eq!(c.explored, programs);
    // Every call site's mask lacks __GFP_NOWARN somewhere: each program
    // whose scope-free run was clean ran again with the scope.
    assert!(c.simulated > programs / 2, "{c:?}");
    assert!(c.witness.is_none() && c.detector.is_none());
    assert_eq!(c.derived, NO_VIOLATION);
    assert!(c.agrees);
    // The progress callback adds up to the announced total.
    assert_eq!(
        counted.into_inner(),
        verify::total_work(&sel, &SMALL),
        "progress ticks"
    );
}

#[test]
fn the_search_space_does_not_depend_on_the_cell() {
    // The programs are the same list for every cell; only the scope
    // wrapped around the body differs, and dropping it gives the same
    // scenario whatever the cell.
    let envs = verify::environments();
    let programs = verify::programs(envs.len(), &SMALL);
    assert!(programs
        .windows(2)
        .take(200)
        .all(|w| w[0].body.len() <= w[1].body.len()));
    for p in programs.iter().step_by(37) {
        let bare = verify::scenario(&envs, p, None);
        for (f, d) in verify::cells().into_iter().step_by(5) {
            let with = verify::scenario(&envs, p, Some(verify::cell_scope(f, d)));
            assert_eq!(drop_scopes(&with), bare);
        }
    }
    // No call site of the vocabulary is a scope.
    for idiom in verify::vocabulary() {
        assert!(!contains_any_scope(&idiom.body), "{}", idiom.name);
    }
}

fn contains_any_scope(ops: &[Op]) -> bool {
    ops.iter().any(|op| match op {
        Op::Scope(..) => true,
        Op::IfFailed(_, b) | Op::Repeat(_, b) => contains_any_scope(b),
        _ => false,
    })
}

#[test]
fn smallest_witness_first() {
    // The search goes by size: a cell whose danger one call site shows
    // gets a one-call-site witness even with larger bodies in bounds.
    let sel = Selection {
        flag: Some(flag("__GFP_FS")),
        direction: Some(Direction::Set),
    };
    let r = verify::verify(
        &sel,
        &Bounds {
            max_ops: 2,
            random: 0,
            seed: 1,
        },
        &|_| {},
    );
    let w = r[0].witness_details.as_ref().unwrap();
    assert_eq!(w.size, 1);
    assert_eq!(w.detector, "reclaim-recursion");
    assert_eq!(w.call_sites, ["fs_nofs"]);
}

/// Findings describe the run (task, call site, mask, what failed or waited),
/// never the policy table: no finding of a built-in scenario or of a
/// witness quotes a cell's `reason` or `breaks` sentence, so comparing the
/// derived verdicts with the table compares two independent texts.
#[test]
fn findings_never_quote_the_policy_table() {
    let sentences: Vec<&str> = policy::TABLE
        .iter()
        .flat_map(|r| [&r.set, &r.clear])
        .flat_map(|c| [Some(c.reason), c.breaks])
        .flatten()
        .filter(|s| s.len() > 12)
        .collect();
    assert!(!sentences.is_empty());
    let mut reports = Vec::new();
    for (name, text) in gfp_sim::builtin::BUILTIN {
        reports.push((name.to_string(), gfp_sim::run_text(text, 1).unwrap()));
    }
    for c in all(&SMALL) {
        if let Some(text) = &c.witness {
            let who = format!("{} {} witness", c.flag, c.direction);
            reports.push((who, gfp_sim::run_text(text, 1).unwrap()));
        }
    }
    let mut findings = 0;
    for (who, r) in &reports {
        for f in &r.findings {
            findings += 1;
            for s in &sentences {
                assert!(
                    !f.message.contains(s),
                    "{who}: finding [{}] quotes the policy table ({s:?}): {}",
                    f.rule_id,
                    f.message
                );
            }
        }
    }
    assert!(findings > 20, "{findings} findings checked");
}

/// The masks of the call sites nested in a scope of `scope`'s kind,
/// following calls into the scenario's functions.
fn nested_masks(
    s: &gfp_sim::format::Scenario,
    ops: &[Op],
    scope: Scope,
    inside: bool,
    depth: u32,
    out: &mut Vec<gfp::Gfp>,
) {
    if depth > 16 {
        return;
    }
    for op in ops {
        match op {
            Op::Scope(sc, body) => {
                nested_masks(s, body, scope, inside || *sc == scope, depth + 1, out)
            }
            Op::Repeat(_, body) | Op::IfFailed(_, body) => {
                nested_masks(s, body, scope, inside, depth + 1, out)
            }
            Op::Alloc(a) if inside => out.push(a.mask),
            // mempool_alloc() adds these to the caller's mask before it
            // asks the pool's allocator (mm/mempool.c).
            Op::MempoolAlloc(a) if inside => {
                out.push(a.mask | gfp::Gfp::NOMEMALLOC | gfp::Gfp::NORETRY | gfp::Gfp::NOWARN)
            }
            // A slab allocation nests the slab allocator's own allocation of
            // the object-extension vector, marked __GFP_NO_OBJ_EXT (mm/slub.c).
            Op::Kmalloc(a) if inside => {
                out.push(a.mask);
                out.push(a.mask | gfp::Gfp::NO_OBJ_EXT);
            }
            Op::Call(name) => {
                if let Some(f) = s.functions.iter().find(|f| &f.name == name) {
                    nested_masks(s, &f.body, scope, inside, depth + 1, out);
                }
            }
            _ => {}
        }
    }
}

/// The policy table states, beside each unsafe cell, which nested masks the
/// scope breaks (`breaks_when`, what `gfp scan` applies to kernel source).
/// Every witness the search finds nests a call site with such a mask: the
/// table's statement and the simulator's counterexample agree.
#[test]
fn every_witness_nests_a_mask_the_table_says_the_scope_breaks() {
    let results = all(&SMALL);
    let mut checked = 0;
    for c in results.iter().filter(|c| c.witness.is_some()) {
        let cell = policy::cell(flag(c.flag), c.direction);
        if cell.verdict != Verdict::Unsafe {
            continue;
        }
        let when = cell
            .breaks_when
            .expect("an unsafe cell states what it breaks");
        let s = parse(c.witness.as_ref().unwrap()).unwrap();
        let scope = verify::cell_scope(flag(c.flag), c.direction);
        let mut masks = Vec::new();
        for t in &s.tasks {
            nested_masks(&s, &t.body, scope, false, 0, &mut masks);
        }
        assert!(
            masks.iter().any(|&m| when.matches(m)),
            "{} {}: no nested mask {when}; nested: {masks:?}\n{}",
            c.flag,
            c.direction,
            c.witness.as_ref().unwrap()
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} unsafe cells had witnesses");
}
