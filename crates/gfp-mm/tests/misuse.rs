//! Misuse is reported like the kernel's bad-page report, never loses a page
//! and never corrupts the allocator.

mod common;

use common::*;
use gfp::Gfp;
use gfp_mm::{BadPageReason, Cx, Event, FrameKind, LogLevel, NoProgress, Page};

#[test]
fn every_misuse_is_an_error_and_nothing_is_lost() {
    let m = machine(two_nodes());
    let other = machine(two_nodes());
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let before = m.check_invariants().unwrap();

    let p = m.alloc_pages(&c, Gfp::KERNEL, 2).unwrap();
    let reason = |r: Result<(), gfp_mm::BadPage>| r.unwrap_err().reason;
    assert_eq!(
        reason(m.free_pages(&c, p, 1)),
        BadPageReason::WrongOrder {
            allocated: 2,
            freed: 1
        }
    );
    assert_eq!(
        reason(m.free_pages(&c, p.nth(1), 0)),
        BadPageReason::TailPage { head: p.pfn() }
    );
    assert_eq!(
        reason(m.folio_put(&c, p)),
        BadPageReason::NotCompound { order: 2 }
    );
    let foreign = other.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    assert_eq!(
        reason(m.free_pages(&c, foreign, 0)),
        BadPageReason::ForeignAllocator { owner: other.id() }
    );
    assert_eq!(
        reason(m.free_pages(&c, Page::from_raw(m.id(), 1 << 30), 0)),
        BadPageReason::OutOfRange
    );
    // The failed frees left the block allocated and intact.
    assert_eq!(m.page_state(p).unwrap().kind(), FrameKind::Allocated);
    m.free_pages(&c, p, 2).unwrap();
    assert_eq!(reason(m.free_pages(&c, p, 2)), BadPageReason::NotAllocated);
    // A page that was never allocated.
    let never = Page::from_raw(m.id(), 100);
    assert_eq!(
        reason(m.free_pages(&c, never, 0)),
        BadPageReason::NotAllocated
    );
    assert_eq!(m.event(Event::BadPage), 7);
    m.drain_all_pages();
    let after = m.check_invariants().unwrap();
    assert_eq!(after.free_buddy, before.free_buddy + before.free_pcp);
    assert_eq!(after.allocated, 0);
}

#[test]
fn bad_page_report_has_the_kernel_shape() {
    let m = machine(two_nodes());
    let env = env();
    let c = Cx::new(0, task().named("kworker/0:1"), &env, &NoProgress);
    let p = m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    m.free_pages(&c, p, 0).unwrap();
    let err = m.free_pages(&c, p, 0).unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "BUG: Bad page state in process kworker/0:1  pfn:{:05x}",
            p.pfn()
        )
    );
    assert!(
        lines[1].starts_with("page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:")
    );
    assert!(lines[2].starts_with("flags: "));
    assert_eq!(
        lines[3],
        "page dumped because: freeing a page that is not allocated (double free?)"
    );
    let log = env.log_lines();
    assert!(log.iter().all(|(l, _)| *l == LogLevel::Alert));
    assert_eq!(log.len(), 4);
}

#[test]
fn dirtying_a_free_page_is_refused() {
    let m = machine(two_nodes());
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let p = m.alloc_pages(&c, Gfp::KERNEL, 0).unwrap();
    m.free_pages(&c, p, 0).unwrap();
    assert_eq!(
        m.set_page_dirty(&c, p).unwrap_err().reason,
        BadPageReason::NotAllocated
    );
    assert_eq!(m.node_dirty_pages(0), 0);
    assert!(m.page_ptr(p).is_none(), "no address for a free page");
}

/// A machine with more populated zones than a page's metadata word can
/// name is refused with an error that says so, instead of pages that name
/// the wrong zone.
#[test]
fn too_many_zones_is_a_clear_error() {
    use gfp_mm::{MachineSpec, NodeSpec};
    // 64 nodes of 5 zones: 320 zones, above the 256 a frame word names.
    let node = NodeSpec {
        zone_pages: [512; 5],
    };
    let spec = MachineSpec::new("wide", vec![node.clone(); 64], 1);
    let e = spec.validate().expect_err("refused");
    assert!(e.to_string().contains("320 populated zones"), "{e}");
    // 51 such nodes (255 zones) are fine.
    let spec = MachineSpec::new("wide", vec![node; 51], 1);
    spec.validate().expect("accepted");
}

/// A second free of a page that another allocation has taken again frees
/// that allocation: the handle carries no generation (nor does the
/// kernel's `struct page *`), so nothing tells the stale handle from the
/// new holder's. The new holder's own free then finds the page free. This
/// is the interleaving that made `rt::tests::bound_owners_and_remote_access`
/// fail under load (its racing double frees let its unbound thread allocate
/// in between): double-free detection holds only while the page stays free.
#[test]
fn a_stale_free_after_reallocation_frees_the_new_holders_page() {
    let m = machine(two_nodes());
    let env = env();
    let (c0, c1) = (
        Cx::new(0, task(), &env, &NoProgress),
        Cx::new(1, task(), &env, &NoProgress),
    );
    let p = m.alloc_pages(&c0, Gfp::KERNEL, 0).unwrap();
    // The first free: onto CPU 0's list, on top.
    m.free_pages(&c0, p, 0).unwrap();
    // Another user's allocation on CPU 0 takes the same page again...
    let q = m.alloc_pages(&c0, Gfp::KERNEL, 0).unwrap();
    assert_eq!(q, p);
    // ...so the stale handle's second free succeeds (onto CPU 1's list)...
    m.free_pages(&c1, p, 0).unwrap();
    // ...and the new holder's free is refused: the page is free already.
    let err = m.free_pages(&c0, q, 0).unwrap_err();
    assert_eq!(err.reason, BadPageReason::NotAllocated);
    assert_eq!(err.state.kind(), FrameKind::PerCpu);
    assert_eq!(err.state.order(), 0);
    let c = m.check_invariants().unwrap();
    assert_eq!(c.allocated, 0);
}
