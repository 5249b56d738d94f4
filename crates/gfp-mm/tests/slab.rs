//! The slab allocator: kmalloc classes, reclaimable caches, obj_ext vectors.

mod common;

use std::sync::Arc;

use common::*;
use gfp::Gfp;
use gfp_mm::slab::{CacheShrinker, ObjExtMode, Slab, SlabError};
use gfp_mm::{Cx, NoProgress, Vm, VmConfig};

#[test]
fn kmalloc_classes_realloc_and_free() {
    let m = machine(single_zone(4096));
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let s = Slab::new(&m, ObjExtMode::Off);
    let a = s.kmalloc(&m, &c, 60, Gfp::KERNEL).unwrap();
    assert_eq!(s.ksize(a), Some(64));
    let z = s.kzalloc(&m, &c, 100, Gfp::KERNEL).unwrap();
    assert_eq!(s.ksize(z), Some(128));
    // SAFETY: live 128-byte object.
    let bytes = unsafe { std::slice::from_raw_parts_mut(z.as_ptr(), 100) };
    assert!(bytes.iter().all(|&b| b == 0));
    bytes[..4].copy_from_slice(b"gfp!");
    let r = s.krealloc(&m, &c, z, 1000, Gfp::KERNEL).unwrap();
    assert_eq!(s.ksize(r), Some(1024));
    // SAFETY: live 1024-byte object.
    let head = unsafe { std::slice::from_raw_parts(r.as_ptr(), 4) };
    assert_eq!(head, b"gfp!");
    assert!(matches!(
        s.kmalloc(&m, &c, 9000, Gfp::KERNEL),
        Err(SlabError::TooLarge(9000))
    ));
    // Many objects: distinct, and all freed back to the page allocator.
    let free0 = m.nr_free_pages();
    let objs: Vec<_> = (0..5000)
        .map(|_| s.kmalloc(&m, &c, 64, Gfp::KERNEL).unwrap())
        .collect();
    let mut sorted = objs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5000);
    assert!(m.nr_free_pages() < free0 - 70, "64 objects a page");
    for o in objs {
        s.kfree(&m, &c, o);
    }
    s.kfree(&m, &c, a);
    let cache = s.kmalloc_cache(64).unwrap().clone();
    s.shrink_cache(&m, &c, &cache);
    assert_eq!(cache.pages(), 0);
}

#[test]
fn reclaimable_caches_use_reclaimable_pages_and_shrink() {
    let m = machine(single_zone(4096));
    let vm = Vm::new(&m, VmConfig::default());
    let env = env();
    let c = Cx::new(0, task(), &env, &vm);
    let s = Arc::new(Slab::new(&m, ObjExtMode::Off));
    let dentry = s.create_cache("dentry", 192, true);
    let objs: Vec<_> = (0..2000)
        .map(|_| s.cache_alloc(&m, &c, &dentry, Gfp::KERNEL).unwrap())
        .collect();
    let page = s.obj_page(objs[0]);
    assert_eq!(
        m.page_state(page).unwrap().alloc_migratetype(),
        gfp::zone::MigrateType::Reclaimable
    );
    for o in objs {
        s.kfree(&m, &c, o);
    }
    assert!(dentry.pages() > 0, "empty slabs are kept for reuse");
    vm.register_shrinker(Arc::new(CacheShrinker {
        slab: s.clone(),
        cache: dentry.clone(),
    }));
    let _pinned = exhaust(
        &m,
        &Cx {
            hooks: &NoProgress,
            ..c
        },
        Gfp::KERNEL,
    );
    vm.alloc_pages(&m, &c, Gfp::KERNEL, 0)
        .expect("the cache's shrinker freed slabs");
    assert_eq!(dentry.pages(), 0);
}

#[test]
fn obj_ext_vectors_never_recurse_with_the_flag() {
    let m = machine(single_zone(4096));
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let s = Slab::new(&m, ObjExtMode::WithFlag);
    for size in [8, 64, 512, 4096] {
        let o = s.kmalloc(&m, &c, size, Gfp::KERNEL_ACCOUNT).unwrap();
        assert!(s.has_obj_exts(o), "the slab got its vector");
    }
    assert_eq!(s.recursion_reports(), 0);
}

#[test]
fn obj_ext_recursion_without_the_flag_is_detected() {
    let m = machine(single_zone(4096));
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let s = Slab::new(&m, ObjExtMode::WithoutFlag);
    let r = s.kmalloc(&m, &c, 64, Gfp::KERNEL_ACCOUNT);
    assert!(matches!(r, Err(SlabError::ObjExtRecursion { .. })), "{r:?}");
    assert_eq!(s.recursion_reports(), 1);
    assert!(env
        .log_text()
        .contains("obj_ext vector allocation recursed"));
}

#[test]
fn kmalloc_bench_rows() {
    let rows = gfp_mm::slab::bench_kmalloc(64, 20_000, 3);
    eprintln!("{rows:?}");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].allocator, "gfp-kmalloc");
    assert_eq!(rows[1].allocator, "system-malloc");
    let j = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(j["size"], 64);
    assert_eq!(j["threads"], 1);
    assert!(j["ns_per_pair"].as_f64().unwrap() > 0.0);
}

#[test]
fn accounted_slab_objects_are_charged_and_limited() {
    let m = machine(single_zone(4096));
    let vm = Arc::new(Vm::new(&m, VmConfig::default()));
    let env = env();
    let g = vm.memcg_create(gfp_mm::memcg::MemcgId::ROOT, "svc");
    vm.memcg_set_max(g, 4);
    let pid = vm.spawn_in("svc", 0, g);
    let c = Cx::new(0, vm.task(pid), &env, &*vm);
    let s = Slab::new(&m, ObjExtMode::WithFlag).with_memcg(vm.clone());
    // 64 objects of 64 bytes, each charged with its 8-byte obj_cgroup
    // pointer (obj_full_size()): 4608 bytes, two pages charged.
    let objs: Vec<_> = (0..64)
        .map(|_| s.kmalloc(&m, &c, 64, Gfp::KERNEL_ACCOUNT).unwrap())
        .collect();
    assert_eq!(vm.memcg(g).unwrap().usage, 2);
    // Unaccounted objects are not charged.
    let free = s.kmalloc(&m, &c, 4096, Gfp::KERNEL).unwrap();
    assert_eq!(vm.memcg(g).unwrap().usage, 2);
    // Accounted 4 KiB objects hit the limit: nothing to reclaim in the
    // group, and __GFP_NORETRY fails there without the group's OOM killer.
    let mut big = Vec::new();
    while let Ok(o) = s.kmalloc(&m, &c, 4096, Gfp::KERNEL_ACCOUNT | Gfp::NORETRY) {
        big.push(o);
    }
    // 4608 + 2 * 4104 bytes fit the 4 pages; a third 4104 does not.
    assert_eq!(big.len(), 2, "the limit holds");
    assert_eq!(vm.memcg(g).unwrap().usage, 4);
    assert!(!vm.proc_info(pid).unwrap().oom_victim);
    for o in objs.into_iter().chain(big) {
        s.kfree(&m, &c, o);
    }
    s.kfree(&m, &c, free);
    assert_eq!(vm.memcg(g).unwrap().usage, 0, "uncharged on free");
}
