//! Property tests of scopes: guards restore the exact previous state in any
//! drop order, and no allowed scope gives an allocation more ability to
//! sleep, reclaim or do I/O than it asked for.

use gfp::context::{ScopeChange, TaskContext, TaskFlags};
use gfp::scope::{self, EnterScope, ScopeGuard};
use gfp::{Flag, Gfp};
use proptest::prelude::*;

/// A scope a caller may enter through the typed or runtime API.
#[derive(Clone, Debug)]
enum Op {
    Noio,
    Nofs,
    Noreclaim,
    Pin,
    Generic(Gfp, Gfp),
}

fn allowed_generic() -> impl Strategy<Value = (Gfp, Gfp)> {
    (any::<u32>(), any::<u32>()).prop_map(|(s, c)| {
        // Keep only the bits the policy allows in each direction.
        let pick = |bits: u32, dir| {
            Flag::ALL
                .iter()
                .filter(|f| bits & f.mask().bits() != 0 && gfp::policy::cell(**f, dir).allowed())
                .fold(Gfp::EMPTY, |m, f| m | f.mask())
        };
        let set = pick(s, gfp::policy::Direction::Set);
        let clear = pick(c, gfp::policy::Direction::Clear) - set;
        (set, clear)
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Noio),
        Just(Op::Nofs),
        Just(Op::Noreclaim),
        Just(Op::Pin),
        allowed_generic().prop_map(|(s, c)| Op::Generic(s, c)),
    ]
}

fn change(op: &Op) -> ScopeChange {
    match *op {
        Op::Noio => ScopeChange::task(TaskFlags::MEMALLOC_NOIO),
        Op::Nofs => ScopeChange::task(TaskFlags::MEMALLOC_NOFS),
        Op::Noreclaim => ScopeChange::task(TaskFlags::MEMALLOC),
        Op::Pin => ScopeChange::task(TaskFlags::MEMALLOC_PIN),
        Op::Generic(s, c) => ScopeChange::generic(s, c),
    }
}

fn enter<'a>(ctx: &'a TaskContext, op: &Op) -> ScopeGuard<&'a TaskContext> {
    match *op {
        Op::Noio => ctx.noio(),
        Op::Nofs => ctx.nofs(),
        Op::Noreclaim => ctx.noreclaim(),
        Op::Pin => ctx.pin(),
        Op::Generic(s, c) => ctx.try_scope(s, c).expect("allowed by construction"),
    }
}

proptest! {
    #[test]
    fn any_drop_order_leaves_exactly_the_live_scopes(
        ops in proptest::collection::vec(op(), 1..12),
        order in any::<proptest::sample::Index>(),
        probe in any::<u32>(),
    ) {
        let ctx = TaskContext::new();
        let mut live: Vec<(usize, ScopeGuard<&TaskContext>)> =
            ops.iter().enumerate().map(|(i, o)| (i, enter(&ctx, o))).collect();
        let mut rng = order.index(usize::MAX);
        while !live.is_empty() {
            let victim = rng % live.len();
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 1;
            drop(live.remove(victim));
            // The model: a fresh context with the surviving scopes, in order.
            let model = TaskContext::new();
            for (i, _) in &live {
                model.enter(change(&ops[*i])).unwrap();
            }
            prop_assert_eq!(ctx.state(), model.state());
            let g = Gfp::from_bits_retain(probe);
            prop_assert_eq!(ctx.current_gfp_context(g), model.current_gfp_context(g));
        }
        prop_assert_eq!(ctx.current_gfp_context(Gfp::from_bits_retain(probe)), Gfp::from_bits_retain(probe));
        prop_assert_eq!(ctx.depth(), 0);
    }

    #[test]
    fn allowed_scopes_never_add_sleeping_reclaim_or_io(
        ops in proptest::collection::vec(op(), 0..8),
        mask in any::<u32>(),
    ) {
        let ctx = TaskContext::new();
        let _guards: Vec<_> = ops.iter().map(|o| enter(&ctx, o)).collect();
        let before = Gfp::from_bits_retain(mask);
        let after = ctx.current_gfp_context(before);
        for ability in [Gfp::DIRECT_RECLAIM, Gfp::IO, Gfp::FS] {
            prop_assert!(
                !after.contains(ability) || before.contains(ability),
                "{:?} gained {:?} under {:?}", before, ability, ops
            );
        }
        // The failure mode of a nested allocation never changes: NOFAIL,
        // NORETRY, RETRY_MAYFAIL are never added, NOFAIL never removed.
        prop_assert_eq!(after.contains(Gfp::NOFAIL), before.contains(Gfp::NOFAIL));
        prop_assert!(!after.contains(Gfp::NORETRY) || before.contains(Gfp::NORETRY));
        prop_assert!(!after.contains(Gfp::RETRY_MAYFAIL) || before.contains(Gfp::RETRY_MAYFAIL));
        // Zone placement only ever narrows: an allowed scope never hands a
        // nested allocation a zone above the one it asked for.
        if let Ok(b) = gfp::zone::highest_zone(before) {
            let a = gfp::zone::highest_zone(after);
            prop_assert!(matches!(a, Ok(a) if a <= b), "zone went from {:?} to {:?}", b, a);
        }
    }
}

#[test]
fn thread_local_guards_are_per_thread() {
    let _nofs = scope::nofs();
    assert_eq!(gfp::current_gfp_context(Gfp::KERNEL), Gfp::NOFS);
    std::thread::spawn(|| assert_eq!(gfp::current_gfp_context(Gfp::KERNEL), Gfp::KERNEL))
        .join()
        .unwrap();
}
