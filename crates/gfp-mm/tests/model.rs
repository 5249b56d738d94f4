//! Model-based property test: random operation sequences (single and bulk
//! allocations and frees, misuse, dirtying, drains) against a simple
//! reference model (a map of live blocks). After every step the allocator's
//! own consistency check passes, free + per-CPU + allocated pages equal the
//! total, the allocated pages equal the model's, and no page is handed out
//! twice.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::*;
use gfp::Gfp;
use gfp_mm::{AllocError, Cx, Machine, MachineSpec, NoProgress, NodeSpec, Page, VirtualEnv};
use proptest::prelude::*;

const MASKS: [Gfp; 10] = [
    Gfp::KERNEL,
    Gfp::NOWAIT,
    Gfp::ATOMIC,
    Gfp::HIGHUSER_MOVABLE,
    Gfp::from_bits_retain(Gfp::KERNEL.bits() | Gfp::DMA32.bits()),
    Gfp::from_bits_retain(Gfp::KERNEL.bits() | Gfp::RECLAIMABLE.bits()),
    Gfp::from_bits_retain(Gfp::KERNEL.bits() | Gfp::COMP.bits()),
    Gfp::from_bits_retain(Gfp::KERNEL.bits() | Gfp::ZERO.bits()),
    Gfp::from_bits_retain(Gfp::KERNEL.bits() | Gfp::THISNODE.bits()),
    Gfp::from_bits_retain(Gfp::NOWAIT.bits() | Gfp::MEMALLOC.bits()),
];

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        mask: usize,
        order: u32,
        node: Option<usize>,
        cpu: usize,
    },
    Free {
        pick: usize,
        cpu: usize,
    },
    FreeWrongOrder {
        pick: usize,
    },
    FreeTail {
        pick: usize,
    },
    DoubleFree {
        pick: usize,
    },
    FolioPut {
        pick: usize,
    },
    Dirty {
        pick: usize,
    },
    Drain {
        cpu: Option<usize>,
    },
    /// `alloc_pages_bulk()` into an empty array of `n` entries.
    AllocBulk {
        mask: usize,
        order: u32,
        n: usize,
        cpu: usize,
    },
    /// `free_pages_bulk()` of up to `n` live blocks of one order (the
    /// order of the block `pick` names), with a stale handle of that order
    /// in the middle when `stale` and one is at hand.
    FreeBulk {
        pick: usize,
        n: usize,
        stale: bool,
        cpu: usize,
    },
}

fn order() -> impl Strategy<Value = u32> {
    prop_oneof![5 => Just(0u32), 3 => 1u32..=3, 2 => 4u32..=10]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..MASKS.len(), order(), prop::option::of(0usize..2), 0usize..2)
            .prop_map(|(mask, order, node, cpu)| Op::Alloc { mask, order, node, cpu }),
        6 => (any::<usize>(), 0usize..2).prop_map(|(pick, cpu)| Op::Free { pick, cpu }),
        1 => any::<usize>().prop_map(|pick| Op::FreeWrongOrder { pick }),
        1 => any::<usize>().prop_map(|pick| Op::FreeTail { pick }),
        1 => any::<usize>().prop_map(|pick| Op::DoubleFree { pick }),
        1 => any::<usize>().prop_map(|pick| Op::FolioPut { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Dirty { pick }),
        1 => prop::option::of(0usize..2).prop_map(|cpu| Op::Drain { cpu }),
        3 => (0..MASKS.len(), order(), 1usize..24, 0usize..2)
            .prop_map(|(mask, order, n, cpu)| Op::AllocBulk { mask, order, n, cpu }),
        3 => (any::<usize>(), 1usize..24, any::<bool>(), 0usize..2)
            .prop_map(|(pick, n, stale, cpu)| Op::FreeBulk { pick, n, stale, cpu }),
    ]
}

fn spec() -> MachineSpec {
    let mut s = MachineSpec::new(
        "model",
        vec![
            NodeSpec::new(0, 1024, 1024, 0, 512),
            NodeSpec::new(0, 0, 2048, 0, 512),
        ],
        1,
    );
    s.tunables.pageblock_order = 5;
    s.tunables.pcp_batch = Some(3);
    s.tunables.pcp_high = Some(12);
    s
}

#[derive(Clone, Copy, Debug)]
struct Block {
    order: u32,
    compound: bool,
}

struct Model {
    live: BTreeMap<u32, Block>,
    owned: HashSet<u32>,
    freed: Vec<(Page, u32)>,
}

impl Model {
    fn pick(&self, k: usize) -> Option<(u32, Block)> {
        if self.live.is_empty() {
            return None;
        }
        self.live
            .iter()
            .nth(k % self.live.len())
            .map(|(&p, &b)| (p, b))
    }

    fn allocated(&self) -> u64 {
        self.live.values().map(|b| 1u64 << b.order).sum()
    }
}

fn step(m: &Machine, env: &VirtualEnv, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let cx = |cpu: usize| Cx::new(cpu, task(), env, &NoProgress);
    let id = m.id();
    let took = |model: &mut Model, p: Page, order: u32, gfp: Gfp| -> Result<(), TestCaseError> {
        prop_assert_eq!(p.pfn() % (1 << order), 0, "block not aligned");
        for pfn in p.pfn()..p.pfn() + (1 << order) {
            prop_assert!(model.owned.insert(pfn), "pfn {:#x} handed out twice", pfn);
        }
        let compound = order > 0 && gfp.contains(Gfp::COMP);
        prop_assert_eq!(m.page_is_head(p), compound);
        model.live.insert(p.pfn(), Block { order, compound });
        model.freed.retain(|(f, _)| f.pfn() != p.pfn());
        Ok(())
    };
    let gave_back = |model: &mut Model, pfn: u32, order: u32| {
        model.live.remove(&pfn);
        for p in pfn..pfn + (1 << order) {
            model.owned.remove(&p);
        }
        model.freed.push((Page::from_raw(id, pfn), order));
    };
    match *op {
        Op::Alloc {
            mask,
            order,
            node,
            cpu,
        } => {
            let gfp = MASKS[mask] | Gfp::NOWARN;
            let r = match node {
                Some(n) => m.alloc_pages_node(&cx(cpu), n, gfp, order),
                None => m.alloc_pages(&cx(cpu), gfp, order),
            };
            match r {
                Ok(p) => took(model, p, order, gfp)?,
                Err(AllocError::NoMemory { .. }) => {}
                Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
            }
        }
        Op::Free { pick, cpu } => {
            if let Some((pfn, b)) = model.pick(pick) {
                let page = Page::from_raw(id, pfn);
                m.free_pages(&cx(cpu), page, b.order)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                gave_back(model, pfn, b.order);
            }
        }
        Op::FreeWrongOrder { pick } => {
            if let Some((pfn, b)) = model.pick(pick) {
                let wrong = if b.order == 10 { 9 } else { b.order + 1 };
                prop_assert!(m
                    .free_pages(&cx(0), Page::from_raw(id, pfn), wrong)
                    .is_err());
            }
        }
        Op::FreeTail { pick } => {
            if let Some((pfn, b)) = model.pick(pick) {
                if b.order > 0 {
                    prop_assert!(m
                        .free_pages(&cx(1), Page::from_raw(id, pfn + 1), 0)
                        .is_err());
                }
            }
        }
        Op::DoubleFree { pick } => {
            if !model.freed.is_empty() {
                let (page, order) = model.freed[pick % model.freed.len()];
                if !model.owned.contains(&page.pfn()) {
                    prop_assert!(m.free_pages(&cx(0), page, order).is_err());
                }
            }
        }
        Op::FolioPut { pick } => {
            if let Some((pfn, b)) = model.pick(pick) {
                let r = m.folio_put(&cx(0), Page::from_raw(id, pfn));
                if b.compound || b.order == 0 {
                    prop_assert!(r.is_ok());
                    gave_back(model, pfn, b.order);
                } else {
                    prop_assert!(r.is_err());
                }
            }
        }
        Op::Dirty { pick } => {
            if let Some((pfn, _)) = model.pick(pick) {
                m.set_page_dirty(&cx(0), Page::from_raw(id, pfn))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
        }
        Op::Drain { cpu } => match cpu {
            Some(c) => m.drain_local_pages(c),
            None => m.drain_all_pages(),
        },
        Op::AllocBulk {
            mask,
            order,
            n,
            cpu,
        } => {
            let gfp = MASKS[mask] | Gfp::NOWARN;
            let mut pages = vec![None; n];
            let got = m.alloc_pages_bulk(&cx(cpu), gfp, order, &mut pages);
            prop_assert!(got <= n);
            prop_assert!(
                pages.iter().take(got).all(Option::is_some)
                    && pages.iter().skip(got).all(Option::is_none),
                "filled entries {:?} do not match the count {}",
                pages,
                got
            );
            for p in pages.into_iter().flatten() {
                took(model, p, order, gfp)?;
            }
        }
        Op::FreeBulk {
            pick,
            n,
            stale,
            cpu,
        } => {
            if let Some((_, b)) = model.pick(pick) {
                let order = b.order;
                let mut batch: Vec<Page> = model
                    .live
                    .iter()
                    .filter(|(_, x)| x.order == order)
                    .take(n)
                    .map(|(&pfn, _)| Page::from_raw(id, pfn))
                    .collect();
                let good = batch.len();
                let stale_page = model
                    .freed
                    .iter()
                    .find(|(p, o)| *o == order && !model.owned.contains(&p.pfn()))
                    .map(|&(p, _)| p);
                let injected = match stale_page {
                    Some(p) if stale => {
                        batch.insert(good / 2, p);
                        true
                    }
                    _ => false,
                };
                let bad_before = m.event(gfp_mm::Event::BadPage);
                let r = m.free_pages_bulk(&cx(cpu), batch.iter().copied(), order);
                prop_assert_eq!(r.is_err(), injected, "{:?}", r);
                prop_assert_eq!(
                    m.event(gfp_mm::Event::BadPage) - bad_before,
                    injected as u64
                );
                let freed: Vec<u32> = batch
                    .iter()
                    .map(|p| p.pfn())
                    .filter(|pfn| model.owned.contains(pfn))
                    .collect();
                prop_assert_eq!(freed.len(), good);
                for pfn in freed {
                    gave_back(model, pfn, order);
                }
            }
        }
    }
    let counts = m.check_invariants().map_err(TestCaseError::fail)?;
    prop_assert_eq!(
        counts.free_buddy + counts.free_pcp + counts.allocated,
        counts.total
    );
    prop_assert_eq!(counts.allocated, model.allocated());
    let dirty: i64 = (0..m.nr_nodes()).map(|n| m.node_dirty_pages(n)).sum();
    prop_assert!(dirty >= 0 && dirty as u64 <= counts.allocated);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_every_invariant(ops in prop::collection::vec(op(), 1..160)) {
        let m = machine(spec());
        let env = env();
        let mut model = Model { live: BTreeMap::new(), owned: HashSet::new(), freed: Vec::new() };
        for op in &ops {
            step(&m, &env, &mut model, op)?;
        }
        // Free everything: all memory comes back, in the largest blocks.
        let cx = Cx::new(0, task(), &env, &NoProgress);
        for (&pfn, b) in &model.live {
            m.free_pages(&cx, Page::from_raw(m.id(), pfn), b.order).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        m.drain_all_pages();
        let counts = m.check_invariants().map_err(TestCaseError::fail)?;
        prop_assert_eq!(counts.free_buddy, counts.total);
        prop_assert_eq!(m.nr_free_pages() as u64, counts.total);
        // Every buddy merged back: the same blocks per order as at boot.
        let fresh = machine(spec());
        let blocks = |m: &Machine| m.buddyinfo().iter().map(|b| b.free_blocks).collect::<Vec<_>>();
        prop_assert_eq!(blocks(&m), blocks(&fresh));
        let dirty: i64 = (0..m.nr_nodes()).map(|n| m.node_dirty_pages(n)).sum();
        prop_assert_eq!(dirty, 0);
    }
}
