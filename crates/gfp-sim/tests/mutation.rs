//! Mutation check: switch off one piece of gfp-mm's semantics and the
//! verdicts that rest on it move, while the others stay. This is what shows
//! that `gfp verify`'s table is derived from what the allocator does, not
//! from the policy table or from rules about masks.
//!
//! Needs the test-only switches: `cargo test -p gfp-sim --features mutation
//! --test mutation`. One test: the switch is process-wide.

use gfp::policy::Direction::{self, Clear, Set};
use gfp::Flag;
use gfp_mm::mutation::{self, Mutation};
use gfp_sim::verify::{self, Bounds, Selection, UNSAFE};

/// Single call sites in every environment, and some random pairs and
/// triples: the bounds of the verify test, where every cell below is
/// `unsafe` with the allocator's own semantics.
const BOUNDS: Bounds = Bounds {
    max_ops: 1,
    random: 24,
    seed: 7,
};

const CELLS: [(Flag, Direction); 4] = [
    (Flag::DirectReclaim, Clear),
    (Flag::Account, Clear),
    (Flag::Movable, Set),
    (Flag::Reclaimable, Set),
];

/// A cell's derived verdict, its witness's detector and the witness.
type Derived = (&'static str, Option<&'static str>, Option<String>);

/// The derived verdict of each of [`CELLS`] with `m` switched on.
fn derived(m: Option<Mutation>) -> Vec<Derived> {
    mutation::set(m);
    let out = CELLS
        .iter()
        .map(|&(flag, direction)| {
            let sel = Selection {
                flag: Some(flag),
                direction: Some(direction),
            };
            let c = verify::verify(&sel, &BOUNDS, &|_| {}).remove(0);
            (c.derived, c.detector, c.witness)
        })
        .collect();
    mutation::set(None);
    out
}

#[test]
fn verdicts_move_with_the_semantics_they_rest_on() {
    let base = derived(None);
    let name = |k: usize| format!("{} {}", CELLS[k].0.kernel_name(), CELLS[k].1);
    for (k, (d, detector, _)) in base.iter().enumerate() {
        assert_eq!(*d, UNSAFE, "{}: {d}", name(k));
        assert!(detector.is_some());
    }
    assert_eq!(base[0].1, Some("nofail-failed"));
    assert_eq!(base[1].1, Some("memcg-escape"));
    assert_eq!(base[2].1, Some("pinned-block"));
    assert_eq!(base[3].1, Some("pinned-block"));
    // Per mutation: the cells it must move (no longer unsafe) and those
    // whose detector must no longer decide them. __GFP_MOVABLE is also a
    // zone modifier: with mobility ignored, setting it still moves
    // allocations out of the zones their call sites need (`wrong-zone`),
    // but no longer pins a pageblock.
    let cases: [(Mutation, &[usize], &[usize]); 3] = [
        (Mutation::NofailForcesReclaim, &[0], &[]),
        (Mutation::IgnoreAccount, &[1], &[]),
        (Mutation::IgnoreMobility, &[3], &[2]),
    ];
    for (m, moved, detector_moved) in cases {
        let got = derived(Some(m));
        for (k, (d, detector, witness)) in got.iter().enumerate() {
            let witness = witness.as_deref().unwrap_or("");
            if moved.contains(&k) {
                assert_ne!(*d, UNSAFE, "{m:?}: {} is still unsafe:\n{witness}", name(k));
            } else if detector_moved.contains(&k) {
                assert_ne!(
                    *detector,
                    base[k].1,
                    "{m:?}: {} still rests on {:?}:\n{witness}",
                    name(k),
                    base[k].1
                );
            } else {
                assert_eq!(
                    (*d, *detector),
                    (base[k].0, base[k].1),
                    "{m:?}: {} moved:\n{witness}",
                    name(k)
                );
            }
        }
    }
}
