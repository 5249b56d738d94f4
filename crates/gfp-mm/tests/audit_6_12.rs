//! The messages and counters of the allocator against Linux 6.12: each test
//! names the kernel function whose output or accounting it pins down.

mod common;

use common::*;
use gfp::Gfp;
use gfp_mm::cpuset::CpusetId;
use gfp_mm::hooks::OomControl;
use gfp_mm::memcg::MemcgId;
use gfp_mm::{
    Cx, Machine, MachineSpec, NoProgress, NodeMask, PageSpec, SlowPathHooks, Vm, VmConfig,
};

/// A single-zone machine with its free pages at the min watermark.
fn at_min() -> Machine {
    let m = machine(single_zone(4096));
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let _ = exhaust(&m, &c, Gfp::KERNEL);
    m
}

/// The first line of the log that contains `what`.
fn line_with(env: &gfp_mm::VirtualEnv, what: &str) -> String {
    env.log_lines()
        .into_iter()
        .map(|(_, l)| l)
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?} in\n{}", env.log_text()))
}

// ----- warn_alloc() -----

#[test]
fn warn_alloc_renders_the_mask_with_6_12s_own_name_table() {
    // warn_alloc() prints `mode:%#x(%pGg)`; 6.12's %pGg table
    // (__def_gfpflag_names in include/trace/events/mmflags.h) has no entry
    // for __GFP_NOLOCKDEP, so that bit is printed as a hex remainder.
    let m = at_min();
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let gfp = Gfp::KERNEL | Gfp::NOLOCKDEP;
    assert!(m.alloc_pages(&c, gfp, 0).is_err());
    let line = line_with(&env, "page allocation failure");
    let want = format!(
        "mode:{:#x}(GFP_KERNEL|{:#x}),",
        gfp.bits(),
        Gfp::NOLOCKDEP.bits()
    );
    assert!(line.contains(&want), "{line}");
}

#[test]
fn warn_alloc_always_prints_the_tasks_cpuset() {
    // warn_alloc() calls cpuset_print_current_mems_allowed() whether or not
    // cpusets are in use: the root cpuset is `/`, and mems_allowed lists
    // the machine's nodes.
    let m = at_min();
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_err());
    let line = line_with(&env, "page allocation failure");
    assert!(
        line.ends_with("nodemask=(null),cpuset=/,mems_allowed=0"),
        "{line}"
    );
}

#[test]
fn warn_alloc_consults_the_rate_limit_before_the_dma_test() {
    // warn_alloc(): `__ratelimit()` is evaluated before the test for a
    // __GFP_DMA request on a machine without a DMA zone, so that request
    // uses up the interval's one report while printing nothing.
    let m = at_min();
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    assert!(!m.has_managed_dma());
    assert!(m.alloc_pages(&c, Gfp::KERNEL | Gfp::DMA, 0).is_err());
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_err());
    assert!(
        !env.log_text().contains("page allocation failure"),
        "{}",
        env.log_text()
    );
    env.advance(10_000_000_001);
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_err());
    let text = env.log_text();
    assert!(
        text.contains("warn_alloc: 1 callbacks suppressed"),
        "{text}"
    );
    assert!(text.contains("page allocation failure: order:0"), "{text}");
}

#[test]
fn warn_alloc_rate_limit_interval_ends_after_ten_seconds_not_at_them() {
    // ___ratelimit() (lib/ratelimit.c) starts a new interval only when
    // `time_is_before_jiffies(begin + interval)`, i.e. strictly after it.
    use gfp_mm::Environment;
    let m = at_min();
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    // A failing call spends virtual time (cond_resched()) before its
    // report, the same each time: the second report falls due exactly at
    // the end of the first one's interval.
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_err());
    let spent = env.now_ns();
    env.clear_log();
    env.advance(10_000_000_000 - spent);
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_err());
    assert!(env.log_lines().is_empty(), "{}", env.log_text());
    env.advance(1);
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_err());
    let text = env.log_text();
    assert!(
        text.contains("warn_alloc: 1 callbacks suppressed"),
        "{text}"
    );
}

// ----- WARN_ON_ONCE in the allocation path -----

#[test]
fn may_oom_nofail_warning_honours_nowarn() {
    // __alloc_pages_may_oom(): WARN_ON_ONCE_GFP(gfp_mask & __GFP_NOFAIL,
    // gfp_mask) is silent under __GFP_NOWARN; the request still gets the
    // reserves.
    let m = at_min();
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let p = m
        .alloc_pages(&c, Gfp::KERNEL | Gfp::NOFAIL | Gfp::NOWARN, 0)
        .expect("NOFAIL dips into the reserves");
    m.free_pages(&c, p, 0).unwrap();
    assert!(!env.log_text().contains("WARNING"), "{}", env.log_text());
    // Without __GFP_NOWARN it warns, once, in the kernel's format.
    let p = m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOFAIL, 0).unwrap();
    m.free_pages(&c, p, 0).unwrap();
    let line = line_with(&env, "WARNING");
    assert_eq!(
        line,
        "WARNING: CPU: 0 PID: 0 at mm/page_alloc.c:3728 __alloc_pages_may_oom"
    );
}

#[test]
fn slowpath_nofail_warnings_ignore_nowarn() {
    // __alloc_pages_slowpath(): the three __GFP_NOFAIL checks are plain
    // WARN_ON_ONCE(), printed even under __GFP_NOWARN.
    let m = at_min();
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    assert!(m
        .alloc_pages(&c, Gfp::NOWAIT | Gfp::NOFAIL | Gfp::NOWARN, 0)
        .is_err());
    let line = line_with(&env, "WARNING");
    assert_eq!(
        line,
        "WARNING: CPU: 0 PID: 0 at mm/page_alloc.c:4317 __alloc_pages_slowpath"
    );
    assert!(env
        .log_text()
        .contains("__GFP_NOFAIL without __GFP_DIRECT_RECLAIM"));
}

#[test]
fn max_page_order_warning_honours_nowarn() {
    // __alloc_pages_noprof(): WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER, gfp).
    let m = machine(single_zone(4096));
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    assert!(m.alloc_pages(&c, Gfp::KERNEL | Gfp::NOWARN, 11).is_err());
    assert!(env.log_lines().is_empty());
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 11).is_err());
    assert!(line_with(&env, "WARNING").ends_with("mm/page_alloc.c:4835 __alloc_pages_noprof"));
}

// ----- memory.events (try_charge_memcg(), memcg_memory_event()) -----

fn vm_machine() -> (Machine, Vm) {
    let m = machine(single_zone(4096));
    let vm = Vm::new(&m, VmConfig::default());
    (m, vm)
}

#[test]
fn a_refused_nonblocking_charge_raises_max() {
    // try_charge_memcg(): a charge that cannot block goes to `nomem`, and
    // `out:` raises the MEMCG_MAX event it did not raise before.
    let (m, vm) = vm_machine();
    let env = env();
    let g = vm.memcg_create(MemcgId::ROOT, "g");
    vm.memcg_set_max(g, 0);
    let pid = vm.spawn_in("t", 0, g);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    assert!(vm
        .alloc_pages(&m, &c, Gfp::NOWAIT | Gfp::ACCOUNT, 0)
        .is_err());
    let mc = vm.memcg(g).unwrap();
    assert_eq!(mc.events.max, 1);
    assert_eq!(mc.failcnt, 1);
}

#[test]
fn a_forced_charge_raises_max_once() {
    // try_charge_memcg(): __GFP_HIGH goes over the limit by `force`, and
    // `out:` raises MEMCG_MAX for it too; a blocking charge raises it once
    // per reclaim attempt instead.
    let (m, vm) = vm_machine();
    let env = env();
    let g = vm.memcg_create(MemcgId::ROOT, "g");
    vm.memcg_set_max(g, 0);
    let pid = vm.spawn_in("t", 0, g);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    let p = vm
        .alloc_pages(&m, &c, Gfp::ATOMIC | Gfp::ACCOUNT, 0)
        .expect("forced over the limit");
    let mc = vm.memcg(g).unwrap();
    assert_eq!(mc.usage, 1);
    assert_eq!(mc.events.max, 1);
    vm.free_pages(&m, &c, p, 0).unwrap();
}

#[test]
fn memory_events_count_in_the_ancestors_too() {
    // memcg_memory_event(): in cgroup v2 an event counts in the group and
    // in each ancestor below the root (memory.events is hierarchical).
    let (m, vm) = vm_machine();
    let env = env();
    let parent = vm.memcg_create(MemcgId::ROOT, "parent");
    let child = vm.memcg_create(parent, "child");
    let sibling = vm.memcg_create(parent, "sibling");
    vm.memcg_set_max(child, 0);
    let pid = vm.spawn_in("t", 0, child);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    assert!(vm
        .alloc_pages(&m, &c, Gfp::NOWAIT | Gfp::ACCOUNT, 0)
        .is_err());
    assert_eq!(vm.memcg(child).unwrap().events.max, 1);
    assert_eq!(vm.memcg(parent).unwrap().events.max, 1);
    assert_eq!(vm.memcg(sibling).unwrap().events.max, 0);
    assert_eq!(vm.memcg(MemcgId::ROOT).unwrap().events.max, 0);
    assert_eq!(
        vm.memcg(parent).unwrap().failcnt,
        0,
        "failcnt is per counter"
    );
}

#[test]
fn a_global_oom_kill_counts_in_the_victims_group() {
    // __oom_kill_process(): memcg_memory_event_mm(mm, MEMCG_OOM_KILL) counts
    // the kill in the victim's memory cgroup, for a global OOM kill too;
    // MEMCG_OOM is only for the group's own OOM killer.
    let (m, vm) = vm_machine();
    let env = env();
    let g = vm.memcg_create(MemcgId::ROOT, "job");
    let victim = vm.spawn_in("hog", 0, g);
    let c = Cx::new(0, vm.task(victim), &env, &vm);
    for _ in 0..1000 {
        vm.fault_anon(&m, &c, victim).unwrap();
    }
    let other = vm.spawn("small", 0);
    let co = Cx::new(0, vm.task(other), &env, &vm);
    let oc = OomControl {
        gfp: Gfp::KERNEL,
        order: 0,
        nodemask: None,
        preferred_nid: 0,
    };
    assert!(vm.out_of_memory(&m, &co, &oc));
    assert!(vm.proc_info(victim).unwrap().oom_victim);
    let mc = vm.memcg(g).unwrap();
    assert_eq!(mc.events.oom_kill, 1);
    assert_eq!(mc.events.oom, 0);
}

// ----- the OOM report (dump_header(), dump_oom_victim()) -----

#[test]
fn oom_report_prints_the_requests_nodemask_and_the_tasks_cpuset() {
    // dump_header(): `gfp_mask=%#x(%pGg)` with 6.12's table; dump_oom_victim():
    // `nodemask=%*pbl` of the request and cpuset_print_current_mems_allowed()
    // (one node prints as `0`, not `0-0`).
    let (m, vm) = vm_machine();
    let env = env();
    let victim = vm.spawn("hog", 0);
    let c = Cx::new(0, vm.task(victim), &env, &vm);
    for _ in 0..100 {
        vm.fault_anon(&m, &c, victim).unwrap();
    }
    let gfp = Gfp::KERNEL | Gfp::NOLOCKDEP;
    let oc = OomControl {
        gfp,
        order: 0,
        nodemask: None,
        preferred_nid: 0,
    };
    assert!(vm.out_of_memory(&m, &c, &oc));
    let header = line_with(&env, "invoked oom-killer");
    assert!(
        header.contains(&format!(
            "gfp_mask={:#x}(GFP_KERNEL|{:#x}), order=0",
            gfp.bits(),
            Gfp::NOLOCKDEP.bits()
        )),
        "{header}"
    );
    let summary = line_with(&env, "oom-kill:");
    assert!(
        summary.starts_with(
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
        ),
        "{summary}"
    );
    // With a nodemask, the request's nodes.
    let two = machine(two_nodes());
    let vm2 = Vm::new(&two, VmConfig::default());
    let env2 = common::env();
    let v2 = vm2.spawn("hog", 0);
    let c2 = Cx::new(0, vm2.task(v2), &env2, &vm2);
    for _ in 0..100 {
        vm2.fault_anon(&two, &c2, v2).unwrap();
    }
    let oc = OomControl {
        gfp: Gfp::KERNEL,
        order: 0,
        nodemask: Some(NodeMask::single(1)),
        preferred_nid: 1,
    };
    assert!(vm2.out_of_memory(&two, &c2, &oc));
    let summary = line_with(&env2, "oom-kill:");
    // constrained_alloc(): a nodemask without node 0, which has memory, is
    // a memory policy.
    assert!(
        summary.contains(
            "oom-kill:constraint=CONSTRAINT_MEMORY_POLICY,nodemask=1,cpuset=/,mems_allowed=0-1,"
        ),
        "{summary}"
    );
}

#[test]
fn oom_constraint_is_the_cpuset_that_refused_a_node() {
    // constrained_alloc(): a zone of the zonelist the task's cpuset refuses
    // (cpuset_zone_allowed() with the request's mask) makes the OOM a
    // cpuset one; a __GFP_THISNODE request is never constrained.
    for (gfp, expect) in [
        (Gfp::HIGHUSER, "CONSTRAINT_CPUSET"),
        (Gfp::HIGHUSER | Gfp::THISNODE, "CONSTRAINT_NONE"),
    ] {
        let two = machine(two_nodes());
        let tight = two
            .create_cpuset(CpusetId::ROOT, "tight", NodeMask::single(1), true, false)
            .unwrap();
        let vm = Vm::new(&two, VmConfig::default());
        let env = common::env();
        let v = vm.spawn("hog", 0);
        let mut t = vm.task(v);
        two.attach_cpuset(&mut t, tight).unwrap();
        let c = Cx::new(0, t, &env, &vm);
        for _ in 0..50 {
            vm.fault_anon(&two, &c, v).unwrap();
        }
        let oc = OomControl {
            gfp,
            order: 0,
            nodemask: None,
            preferred_nid: 1,
        };
        assert!(vm.out_of_memory(&two, &c, &oc));
        let summary = line_with(&env, "oom-kill:");
        assert!(
            summary.starts_with(&format!(
                "oom-kill:constraint={expect},nodemask=(null),cpuset=tight,mems_allowed=1,"
            )),
            "{gfp:?}: {summary}"
        );
    }
}

#[test]
fn memcg_oom_report_gives_the_counters_failcnt() {
    // mem_cgroup_print_oom_meminfo(): `failcnt` is the memory counter's
    // failure count (page_counter_try_charge()), not memory.events' max.
    let (m, vm) = vm_machine();
    let env = env();
    let g = vm.memcg_create(MemcgId::ROOT, "job");
    vm.memcg_set_max(g, 50);
    let pid = vm.spawn_in("hog", 0, g);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    for _ in 0..60 {
        let _ = vm.fault_anon(&m, &c, pid);
    }
    let mc = vm.memcg(g).unwrap();
    assert!(mc.events.oom >= 1);
    let line = line_with(&env, "memory: usage");
    assert!(line.contains(", failcnt "), "{line}");
    assert!(mc.failcnt >= mc.events.max, "{mc:?}");
    // Then the swap counter (cgroup v2): nothing of the group is on swap
    // here, and without swap.max its limit is PAGE_COUNTER_MAX pages.
    let swap = line_with(&env, "swap: usage");
    assert_eq!(swap, "swap: usage 0kB, limit 9007199254740988kB, failcnt 0");
}

/// cgroup v2's `memory.stat` entries in 6.12's order (memory_stats[], the
/// `slab` total, pgscan/pgsteal, memcg_vm_event_stat[]) on a kernel with
/// swap, zswap, THP and NUMA balancing.
const MEMORY_STAT_NAMES: [&str; 65] = [
    "anon",
    "file",
    "kernel",
    "kernel_stack",
    "pagetables",
    "sec_pagetables",
    "percpu",
    "sock",
    "vmalloc",
    "shmem",
    "zswap",
    "zswapped",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "swapcached",
    "anon_thp",
    "file_thp",
    "shmem_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "slab",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "pgdemote_kswapd",
    "pgdemote_direct",
    "pgdemote_khugepaged",
    "pgpromote_success",
    "pgscan",
    "pgsteal",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgscan_khugepaged",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgsteal_khugepaged",
    "pgfault",
    "pgmajfault",
    "pgrefill",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "swpin_zero",
    "swpout_zero",
    "zswpin",
    "zswpout",
    "zswpwb",
    "thp_fault_alloc",
    "thp_collapse_alloc",
    "thp_swpout",
    "thp_swpout_fallback",
    "numa_pages_migrated",
    "numa_pte_updates",
    "numa_hint_faults",
];

#[test]
fn memcg_oom_report_prints_the_groups_memory_stat() {
    // mem_cgroup_print_oom_meminfo(): after the memory and swap counters,
    // "Memory cgroup stats for <path>:" and memory_stat_format(), one
    // "name value" line each, page states in bytes, summed over the
    // subtree of the group whose limit was hit.
    use gfp_mm::slab::{ObjExtMode, Slab};
    use std::sync::Arc;
    let m = machine(single_zone(4096));
    let vm = Arc::new(Vm::new(&m, VmConfig::default()));
    let env = env();
    let top = vm.memcg_create(MemcgId::ROOT, "top");
    let job = vm.memcg_create(top, "job");
    vm.memcg_set_max(top, 40);
    let pid = vm.spawn_in("hog", 0, job);
    let c = Cx::new(0, vm.task(pid), &env, &*vm);
    // Kernel memory: an accounted page, and accounted slab objects (whose
    // bytes are charged a page at a time: one page for both).
    vm.alloc_pages(&m, &c, Gfp::KERNEL_ACCOUNT, 0).unwrap();
    let s = Slab::new(&m, ObjExtMode::WithFlag).with_memcg(vm.clone());
    s.kmalloc(&m, &c, 64, Gfp::KERNEL_ACCOUNT).unwrap();
    let dentry = s.create_cache("dentry", 192, true);
    s.cache_alloc(&m, &c, &dentry, Gfp::KERNEL_ACCOUNT).unwrap();
    // Two dirty file pages (direct reclaim leaves them to the flusher),
    // one of them mapped and made active.
    let dirty_mapped = PageSpec {
        mapped: true,
        ..PageSpec::FILE_DIRTY
    };
    let f = vm
        .add_page(&m, &c, Gfp::HIGHUSER_MOVABLE, Some(pid), dirty_mapped)
        .unwrap();
    vm.mark_accessed(f);
    vm.mark_accessed(f);
    vm.add_page(
        &m,
        &c,
        Gfp::HIGHUSER_MOVABLE,
        Some(pid),
        PageSpec::FILE_DIRTY,
    )
    .unwrap();
    // Anonymous faults until the group's OOM killer runs (no swap).
    for _ in 0..37 {
        let _ = vm.fault_anon(&m, &c, pid);
    }
    let log: Vec<String> = env.log_lines().into_iter().map(|(_, l)| l).collect();
    let head = log
        .iter()
        .position(|l| l.starts_with("Memory cgroup stats for "))
        .unwrap_or_else(|| panic!("no stats block in\n{}", env.log_text()));
    assert_eq!(log[head], "Memory cgroup stats for /top:");
    assert!(
        log[head - 1].starts_with("swap: usage "),
        "{}",
        log[head - 1]
    );
    let stat: Vec<(&str, u64)> = log[head + 1..head + 1 + MEMORY_STAT_NAMES.len()]
        .iter()
        .map(|l| {
            let (n, v) = l.split_once(' ').unwrap();
            (n, v.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = stat.iter().map(|&(n, _)| n).collect();
    assert_eq!(names, MEMORY_STAT_NAMES);
    let get = |name: &str| stat.iter().find(|&&(n, _)| n == name).unwrap().1;
    let page = 4096;
    // 40 pages charged: 1 kernel page, 1 page of slab, 2 file, 36 anon.
    assert_eq!(get("anon"), 36 * page);
    assert_eq!(get("inactive_anon"), 36 * page);
    assert_eq!(get("active_anon"), 0);
    assert_eq!(get("file"), 2 * page);
    assert_eq!(get("file_mapped"), page);
    assert_eq!(get("file_dirty"), 2 * page);
    assert_eq!(get("inactive_file"), page);
    assert_eq!(get("active_file"), page);
    assert_eq!(get("kernel"), 2 * page);
    // Each object with its 8-byte obj_cgroup pointer (obj_full_size()).
    assert_eq!(get("slab_reclaimable"), 200);
    assert_eq!(get("slab_unreclaimable"), 72);
    assert_eq!(get("slab"), 272);
    // The fault that met the limit counts too (handle_mm_fault() counts
    // first); reclaim scanned the dirty file pages and freed nothing.
    assert_eq!(get("pgfault"), 37);
    assert_eq!(get("pgactivate"), 1);
    assert!(get("pgscan_direct") > 0);
    assert_eq!(get("pgscan"), get("pgscan_direct"));
    assert_eq!(get("pgsteal"), 0);
    assert_eq!(vm.memcg_memory_stat(top).unwrap().len(), 65);
    // The child's own memory.stat is its subtree: all of it here.
    assert_eq!(
        vm.memcg_memory_stat(job).unwrap()[2],
        ("kernel", 2 * page),
        "the pages are the child's"
    );
}

#[test]
fn memory_stat_anon_is_the_mapped_anonymous_memory() {
    // memory_stats[]: "anon" is NR_ANON_MAPPED, so an anonymous page on
    // the LRU that nobody maps counts in inactive_anon but not in anon.
    let (m, vm) = vm_machine();
    let env = env();
    let g = vm.memcg_create(MemcgId::ROOT, "g");
    let pid = vm.spawn_in("t", 0, g);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    vm.fault_anon(&m, &c, pid).unwrap();
    let unmapped = PageSpec {
        mapped: false,
        ..PageSpec::ANON
    };
    vm.add_page(&m, &c, Gfp::HIGHUSER_MOVABLE, Some(pid), unmapped)
        .unwrap();
    let stat = vm.memcg_memory_stat(g).unwrap();
    let get = |name: &str| stat.iter().find(|&&(n, _)| n == name).unwrap().1;
    assert_eq!(get("anon"), 4096);
    assert_eq!(get("inactive_anon"), 2 * 4096);
    assert_eq!(get("pgfault"), 1, "add_page is no fault");
}

#[test]
fn an_accounted_slab_object_is_charged_its_full_size() {
    // __memcg_slab_post_alloc_hook() charges obj_full_size(), the object
    // and the obj_cgroup pointer its slab keeps for it, and adds the same
    // to the slab counters (mod_objcg_state()); __memcg_slab_free_hook()
    // takes back exactly that.
    use gfp_mm::slab::{ObjExtMode, Slab, OBJCG_POINTER_SIZE};
    use std::sync::Arc;
    let m = machine(single_zone(4096));
    let vm = Arc::new(Vm::new(&m, VmConfig::default()));
    let env = env();
    let g = vm.memcg_create(MemcgId::ROOT, "g");
    let pid = vm.spawn_in("t", 0, g);
    let c = Cx::new(0, vm.task(pid), &env, &*vm);
    let s = Slab::new(&m, ObjExtMode::WithFlag).with_memcg(vm.clone());
    assert_eq!(OBJCG_POINTER_SIZE, 8);
    // 57 objects of 64 bytes fit a page (3648 bytes); at 72 bytes each
    // (4104) they take a second one.
    let objs: Vec<_> = (0..57)
        .map(|_| s.kmalloc(&m, &c, 64, Gfp::KERNEL_ACCOUNT).unwrap())
        .collect();
    let stat = |name: &str| {
        let st = vm.memcg_memory_stat(g).unwrap();
        st.iter().find(|&&(n, _)| n == name).unwrap().1
    };
    assert_eq!(stat("slab_unreclaimable"), 57 * 72);
    assert_eq!(vm.memcg(g).unwrap().usage, 2);
    assert_eq!(stat("kernel"), 2 * 4096);
    // The uncharge is symmetric: nothing is left once every object is
    // freed.
    for o in objs {
        s.kfree(&m, &c, o);
    }
    assert_eq!(vm.memcg(g).unwrap().usage, 0);
    assert_eq!(vm.memcg(MemcgId::ROOT).unwrap().usage, 0);
    assert_eq!(stat("slab_unreclaimable"), 0);
    assert_eq!(stat("kernel"), 0);
}

// ----- memory.low, memory.events.local, memory.oom.group -----

#[test]
fn memory_low_protects_until_nothing_else_is_reclaimable() {
    // shrink_node_memcgs(): a group below its effective low
    // (mem_cgroup_calculate_protection(), mem_cgroup_below_low()) is
    // skipped and memcg_low_skipped set; do_try_to_free_pages() retries a
    // pass that freed nothing with memcg_low_reclaim, which reclaims it
    // and raises MEMCG_LOW in each protected group it visits.
    // memcg_memory_event() counts in memory.events.local of the group only
    // and in memory.events up to the root.
    let (m, vm) = vm_machine();
    let env = env();
    let svc = vm.memcg_create(MemcgId::ROOT, "svc");
    let db = vm.memcg_create(svc, "db");
    let batch = vm.memcg_create(MemcgId::ROOT, "batch");
    // svc's low covers its usage; db's effective low is its protected
    // usage, within what svc affords its children.
    vm.memcg_set_low(svc, 100);
    vm.memcg_set_low(db, 100);
    let db_task = vm.spawn_in("db", 0, db);
    let batch_task = vm.spawn_in("batch", 0, batch);
    let c = Cx::new(0, vm.task(db_task), &env, &vm);
    for pid in [db_task, batch_task] {
        for _ in 0..50 {
            vm.add_page(
                &m,
                &c,
                Gfp::HIGHUSER_MOVABLE,
                Some(pid),
                PageSpec::FILE_CLEAN,
            )
            .unwrap();
        }
    }
    let req = gfp_mm::hooks::ReclaimRequest {
        gfp: Gfp::KERNEL,
        order: 0,
        preferred_nid: 0,
        nodemask: None,
        highest_zone: gfp::zone::ZoneType::Normal,
    };
    // Two passes take batch's pages; db keeps all of its own.
    assert_eq!(vm.try_to_free_pages(&m, &c, &req), 32);
    assert_eq!(vm.try_to_free_pages(&m, &c, &req), 18);
    assert_eq!(vm.memcg(batch).unwrap().usage, 0);
    assert_eq!(vm.memcg(db).unwrap().usage, 50);
    assert_eq!(vm.memcg(svc).unwrap().events.low, 0);
    // Only protected memory is left: the retry reclaims it, one visit of
    // each protected group.
    assert_eq!(vm.try_to_free_pages(&m, &c, &req), 32);
    assert_eq!(vm.memcg(db).unwrap().usage, 18);
    let (svc_g, db_g) = (vm.memcg(svc).unwrap(), vm.memcg(db).unwrap());
    assert_eq!(db_g.events.low, 1);
    assert_eq!(db_g.events_local.low, 1);
    assert_eq!(svc_g.events.low, 2, "its own event and db's");
    assert_eq!(svc_g.events_local.low, 1, "its own event only");
    assert_eq!(vm.memcg(MemcgId::ROOT).unwrap().events.low, 0);
    assert_eq!(vm.memcg(batch).unwrap().events.low, 0, "empty: below min");
    assert_eq!(
        svc_g.events_local.text(),
        "low 1\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"
    );
}

/// A group `db` under `svc` with 50 clean file pages, and an empty
/// unprotected group `batch`: the machine, the Vm, the log, svc, db and
/// db's task.
fn protected_db() -> (
    Machine,
    Vm,
    gfp_mm::VirtualEnv,
    MemcgId,
    MemcgId,
    gfp_mm::Pid,
) {
    let (m, vm) = vm_machine();
    let env = env();
    let svc = vm.memcg_create(MemcgId::ROOT, "svc");
    let db = vm.memcg_create(svc, "db");
    vm.memcg_create(MemcgId::ROOT, "batch");
    let pid = vm.spawn_in("db", 0, db);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    for _ in 0..50 {
        let spec = PageSpec::FILE_CLEAN;
        vm.add_page(&m, &c, Gfp::HIGHUSER_MOVABLE, Some(pid), spec)
            .unwrap();
    }
    (m, vm, env, svc, db, pid)
}

const DIRECT_RECLAIM: gfp_mm::hooks::ReclaimRequest = gfp_mm::hooks::ReclaimRequest {
    gfp: Gfp::KERNEL,
    order: 0,
    preferred_nid: 0,
    nodemask: None,
    highest_zone: gfp::zone::ZoneType::Normal,
};

#[test]
fn memory_min_is_never_reclaimed_not_even_on_the_low_retry() {
    // shrink_node_memcgs(): a group below its effective min
    // (mem_cgroup_below_min()) is skipped on every pass, without a low
    // event and without setting memcg_low_skipped, so
    // do_try_to_free_pages() has no reason to retry and reclaims nothing.
    let (m, vm, env, svc, db, pid) = protected_db();
    vm.memcg_set_min(svc, 100);
    vm.memcg_set_min(db, 100);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    for _ in 0..3 {
        assert_eq!(vm.try_to_free_pages(&m, &c, &DIRECT_RECLAIM), 0);
    }
    let db_g = vm.memcg(db).unwrap();
    assert_eq!(db_g.usage, 50);
    assert_eq!(db_g.events.low, 0);
    assert_eq!(vm.memcg(svc).unwrap().events.low, 0);
    // Reclaim on behalf of db itself ignores db's own protection
    // (mem_cgroup_unprotected()): the target's min does not count.
    assert!(vm.try_to_free_mem_cgroup_pages(&m, &c, db, 10, Gfp::KERNEL) > 0);
    assert!(vm.memcg(db).unwrap().usage < 50);
}

#[test]
fn the_low_retry_stops_at_memory_min() {
    // With memory.low above the usage and memory.min under it, the group
    // is below low only: the memcg_low_reclaim retry reclaims it (one low
    // event) until its usage is within its min, then below_min() leaves
    // it alone for good.
    let (m, vm, env, svc, db, pid) = protected_db();
    for g in [svc, db] {
        vm.memcg_set_low(g, 100);
        vm.memcg_set_min(g, 30);
    }
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    assert!(vm.try_to_free_pages(&m, &c, &DIRECT_RECLAIM) > 0);
    let left = vm.memcg(db).unwrap().usage;
    assert!(left < 50);
    assert_eq!(vm.memcg(db).unwrap().events_local.low, 1);
    while vm.memcg(db).unwrap().usage > 30 {
        assert!(vm.try_to_free_pages(&m, &c, &DIRECT_RECLAIM) > 0);
    }
    let left = vm.memcg(db).unwrap().usage;
    let events = vm.memcg(db).unwrap().events.low;
    for _ in 0..3 {
        assert_eq!(vm.try_to_free_pages(&m, &c, &DIRECT_RECLAIM), 0);
    }
    assert_eq!(vm.memcg(db).unwrap().usage, left);
    assert_eq!(vm.memcg(db).unwrap().events.low, events, "no retry");
}

#[test]
fn memory_events_local_counts_only_the_group_itself() {
    // memcg_memory_event(): memory_events_local[] of the group, then
    // memory_events[] of the group and its ancestors below the root
    // (__memory_events_show() prints both files alike).
    let (m, vm) = vm_machine();
    let env = env();
    let parent = vm.memcg_create(MemcgId::ROOT, "parent");
    let child = vm.memcg_create(parent, "child");
    vm.memcg_set_max(child, 0);
    let pid = vm.spawn_in("t", 0, child);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    assert!(vm
        .alloc_pages(&m, &c, Gfp::NOWAIT | Gfp::ACCOUNT, 0)
        .is_err());
    let (p, ch) = (vm.memcg(parent).unwrap(), vm.memcg(child).unwrap());
    assert_eq!(ch.events_local.max, 1);
    assert_eq!(ch.events.max, 1);
    assert_eq!(p.events.max, 1);
    assert_eq!(p.events_local.max, 0);
    assert_eq!(
        p.events.text(),
        "low 0\nhigh 0\nmax 1\noom 0\noom_kill 0\noom_group_kill 0\n"
    );
}

#[test]
fn oom_group_kills_every_killable_task_of_the_highest_group() {
    // oom_kill_process(): mem_cgroup_get_oom_group() finds the highest
    // group with memory.oom.group between the victim's group and the OOM's
    // domain; after the victim, MEMCG_OOM_GROUP_KILL is raised there,
    // mem_cgroup_print_oom_group() says so, and oom_kill_memcg_member()
    // kills each task of its subtree but OOM_SCORE_ADJ_MIN ones. The
    // victim, not yet reaped, is killed (and counted) again.
    let (m, vm) = vm_machine();
    let env = env();
    let top = vm.memcg_create(MemcgId::ROOT, "top");
    let job = vm.memcg_create(top, "job");
    let other = vm.memcg_create(top, "other");
    let bystanders = vm.memcg_create(MemcgId::ROOT, "bystanders");
    vm.memcg_set_max(top, 40);
    vm.memcg_set_oom_group(top, true);
    let hog = vm.spawn_in("hog", 0, job);
    let helper = vm.spawn_in("helper", 0, other);
    let keeper = vm.spawn_in("keeper", -1000, other);
    let outside = vm.spawn_in("outside", 0, bystanders);
    for (pid, n) in [(helper, 5), (keeper, 3), (outside, 4)] {
        let c = Cx::new(0, vm.task(pid), &env, &vm);
        for _ in 0..n {
            vm.fault_anon(&m, &c, pid).unwrap();
        }
    }
    let c = Cx::new(0, vm.task(hog), &env, &vm);
    for _ in 0..33 {
        let _ = vm.fault_anon(&m, &c, hog);
    }
    let log: Vec<String> = env.log_lines().into_iter().map(|(_, l)| l).collect();
    let killed: Vec<&str> = log
        .iter()
        .filter(|l| l.contains("Killed process") || l.starts_with("Tasks in "))
        .map(|l| l.split(" total-vm").next().unwrap())
        .collect();
    assert_eq!(
        killed,
        [
            format!("Memory cgroup out of memory: Killed process {hog} (hog)"),
            "Tasks in /top are going to be killed due to memory.oom.group set".into(),
            format!("Memory cgroup out of memory: Killed process {hog} (hog)"),
            format!("Memory cgroup out of memory: Killed process {helper} (helper)"),
        ],
        "{}",
        env.log_text()
    );
    let reaped = log.iter().filter(|l| l.starts_with("oom_reaper: ")).count();
    assert_eq!(reaped, 2, "one reaper pass per task");
    let g = |id| vm.memcg(id).unwrap();
    assert_eq!(g(top).events.oom_group_kill, 1);
    assert_eq!(g(top).events_local.oom_group_kill, 1);
    assert_eq!(g(job).events.oom_group_kill, 0);
    assert_eq!(g(top).events.oom_kill, 3);
    assert_eq!(g(job).events_local.oom_kill, 2);
    assert_eq!(g(other).events_local.oom_kill, 1);
    assert_eq!(vm.stats().oom_kill, 3);
    assert!(vm.proc_info(helper).unwrap().exited);
    assert!(!vm.proc_info(keeper).unwrap().exited);
    assert!(!vm.proc_info(outside).unwrap().exited);
    assert_eq!(vm.proc_info(outside).unwrap().rss_anon, 4);
}

// ----- node_dirty_ok() (mm/page-writeback.c) -----

#[test]
fn dirtyable_memory_counts_the_file_lru() {
    // node_dirtyable_memory(): free pages less the reserve, plus the node's
    // NR_INACTIVE_FILE and NR_ACTIVE_FILE. A node full of clean page cache
    // has room for dirty pages; __GFP_WRITE stays there.
    let m = machine(MachineSpec::test_64mib());
    let vm = Vm::new(&m, VmConfig::default());
    let env = env();
    let c = Cx::new(1, task(), &env, &vm);
    let fill = Gfp::HIGHUSER_MOVABLE
        .difference(Gfp::DIRECT_RECLAIM)
        .difference(Gfp::KSWAPD_RECLAIM)
        | Gfp::NOWARN
        | Gfp::THISNODE;
    for _ in 0..5000 {
        vm.add_page(&m, &c, fill, None, PageSpec::FILE_CLEAN)
            .unwrap();
    }
    for _ in 0..900 {
        vm.add_page(&m, &c, fill, None, PageSpec::FILE_DIRTY)
            .unwrap();
    }
    assert_eq!(vm.node_file_lru_pages(&m, 1), 5900);
    assert_eq!(m.node_dirty_pages(1), 900);
    assert!(
        !m.node_dirty_ok(1, &c.task),
        "free pages alone would put the node over its limit"
    );
    assert!(m.node_dirty_ok_with(1, &c.task, 5900));
    let w = m
        .alloc_pages_node(&c, 1, Gfp::KERNEL | Gfp::WRITE, 0)
        .unwrap();
    assert_eq!(m.page_to_nid(w), Some(1), "the node is within its limit");
    // Without the layer that knows the LRU the allocator spreads.
    let bare = Cx::new(1, task(), &env, &NoProgress);
    let w = m
        .alloc_pages_node(&bare, 1, Gfp::KERNEL | Gfp::WRITE, 0)
        .unwrap();
    assert_eq!(m.page_to_nid(w), Some(0));
}

// ----- the memory summary (__show_mem(), show_free_areas()) -----

#[test]
fn show_mem_follows_its_filters_and_counts_only_high_memory() {
    use gfp::zone::ZoneType;
    let m = machine(MachineSpec::default_machine());
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    // Pages on the per-CPU lists of node 1's Normal zone.
    let p = m.alloc_pages_node(&c, 1, Gfp::KERNEL, 0).unwrap();
    m.free_pages(&c, p, 0).unwrap();
    let lines = m.show_mem_lines(Some(NodeMask::single(0)), ZoneType::Dma);
    let text = lines.join("\n");
    // show_free_areas(): free_pcp sums only the zones shown.
    assert!(text.contains(" free_pcp:0 "), "{text}");
    // node_has_managed_zones(): node 1 has no DMA zone, so no node line.
    assert!(text.contains("\nNode 0 active_anon:"), "{text}");
    assert!(!text.contains("Node 1 active_anon:"), "{text}");
    // __show_mem(): is_highmem() is false for a 64-bit Movable zone.
    assert!(m.zone(1, ZoneType::Movable).is_some());
    assert!(text.contains("\n0 pages HighMem/MovableOnly\n"), "{text}");
    let hm = machine(MachineSpec::highmem_32bit());
    let text = hm.show_mem_lines(None, ZoneType::Movable).join("\n");
    let high = hm.zone(0, ZoneType::HighMem).unwrap().managed_pages();
    assert!(
        text.contains(&format!("\n{high} pages HighMem/MovableOnly\n")),
        "{text}"
    );
}

#[test]
fn show_mem_prints_the_lru_mapped_and_slab_counters() {
    // show_free_areas(): the first block sums node_page_state() over every
    // node (NR_ACTIVE_ANON ... NR_FILE_MAPPED, the slab items in pages),
    // each node line gives its own in kB, and each zone line its
    // NR_ZONE_*_ANON/FILE; "total pagecache pages" is NR_FILE_PAGES.
    use gfp::zone::ZoneType;
    use gfp_mm::slab::{ObjExtMode, Slab};
    let (m, vm) = vm_machine();
    let env = env();
    let pid = vm.spawn("t", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    let anon: Vec<_> = (0..3)
        .map(|_| vm.fault_anon(&m, &c, pid).unwrap())
        .collect();
    let mapped: Vec<_> = (0..2)
        .map(|_| {
            vm.add_page(
                &m,
                &c,
                Gfp::HIGHUSER_MOVABLE,
                Some(pid),
                PageSpec::FILE_MAPPED,
            )
            .unwrap()
        })
        .collect();
    vm.add_page(&m, &c, Gfp::HIGHUSER_MOVABLE, None, PageSpec::FILE_CLEAN)
        .unwrap();
    // folio_mark_accessed() twice activates a page.
    for p in [anon[0], mapped[0]] {
        vm.mark_accessed(p);
        vm.mark_accessed(p);
    }
    let s = Slab::new(&m, ObjExtMode::Off);
    s.kmalloc(&m, &c, 64, Gfp::KERNEL).unwrap();
    let dentry = s.create_cache("dentry", 192, true);
    let d = s.cache_alloc(&m, &c, &dentry, Gfp::KERNEL).unwrap();
    let text = m.show_mem_lines(None, ZoneType::Movable).join("\n");
    for want in [
        "\nactive_anon:1 inactive_anon:2 isolated_anon:0\n",
        "\n active_file:1 inactive_file:2 isolated_file:0\n",
        "\n slab_reclaimable:1 slab_unreclaimable:1\n",
        "\n mapped:2 shmem:0 pagetables:0\n",
        "\nNode 0 active_anon:4kB inactive_anon:8kB active_file:4kB inactive_file:8kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:8kB ",
        " active_anon:4kB inactive_anon:8kB active_file:4kB inactive_file:8kB unevictable:0kB writepending:0kB present:",
        "\n3 total pagecache pages\n",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }
    // The task exits: its anonymous pages go, its file pages stay in the
    // page cache, unmapped; the emptied dentry slab goes back.
    vm.exit(&m, &c, pid);
    s.kfree(&m, &c, d);
    s.shrink_cache(&m, &c, &dentry);
    let text = m.show_mem_lines(None, ZoneType::Movable).join("\n");
    for want in [
        "\nactive_anon:0 inactive_anon:0 isolated_anon:0\n",
        "\n active_file:1 inactive_file:2 isolated_file:0\n",
        "\n slab_reclaimable:0 slab_unreclaimable:1\n",
        "\n mapped:0 shmem:0 pagetables:0\n",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }
}

#[test]
fn show_mem_gives_each_zone_its_write_pending_pages() {
    // show_free_areas()'s zone line prints NR_ZONE_WRITE_PENDING, which
    // folio_account_dirtied()/folio_account_cleaned() move with the node's
    // NR_FILE_DIRTY and __folio_start_writeback()/__folio_end_writeback()
    // with its NR_WRITEBACK: a node's zones together hold its dirty and
    // writeback pages.
    use gfp::zone::ZoneType;
    use gfp_mm::NodeSpec;
    let mut spec = MachineSpec::new("dma32+normal", vec![NodeSpec::new(0, 2048, 2048, 0, 0)], 1);
    spec.tunables.pageblock_order = 5;
    let m = machine(spec);
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let low: Vec<_> = (0..3)
        .map(|_| m.alloc_pages(&c, Gfp::DMA32, 0).unwrap())
        .collect();
    let high = m.alloc_pages(&c, Gfp::KERNEL, 1).unwrap();
    assert_eq!(m.page_zone_type(low[0]), Some(ZoneType::Dma32));
    assert_eq!(m.page_zone_type(high), Some(ZoneType::Normal));
    let dma32 = m.page_zone_id(low[0]).unwrap();
    let normal = m.page_zone_id(high).unwrap();
    for &p in low.iter().chain([&high]) {
        m.set_page_dirty(&c, p).unwrap();
    }
    m.add_zone_writeback(dma32, 4);
    let writepending = |zone: &str| -> u64 {
        let lines = m.show_mem_lines(None, ZoneType::Movable);
        let head = format!("Node 0 {zone} free:");
        let line = lines.iter().find(|l| l.starts_with(&head)).unwrap();
        let v = line.split(" writepending:").nth(1).unwrap();
        v.split("kB").next().unwrap().parse().unwrap()
    };
    // Three dirty pages and four under writeback in DMA32, a dirty
    // order-1 block in Normal.
    assert_eq!(writepending("DMA32"), 7 * 4);
    assert_eq!(writepending("Normal"), 2 * 4);
    assert_eq!(
        (m.zone_write_pending(dma32), m.zone_write_pending(normal)),
        (7, 2)
    );
    let text = m.show_mem_lines(None, ZoneType::Movable).join("\n");
    assert!(text.contains(" dirty:20kB writeback:16kB "), "{text}");
    let zones = |m: &Machine| m.zone_write_pending(dma32) + m.zone_write_pending(normal);
    assert_eq!(
        zones(&m),
        m.node_dirty_pages(0) as u64 + 4,
        "node dirty + writeback"
    );
    // Cleaned, freed while dirty, writeback done: each leaves both.
    m.clear_page_dirty(&c, low[0]).unwrap();
    m.free_pages(&c, high, 1).unwrap();
    m.add_zone_writeback(dma32, -3);
    assert_eq!(writepending("DMA32"), 3 * 4);
    assert_eq!(writepending("Normal"), 0);
    assert_eq!(zones(&m), m.node_dirty_pages(0) as u64 + 1);
    let text = m.show_mem_lines(None, ZoneType::Movable).join("\n");
    assert!(text.contains(" dirty:8kB writeback:4kB "), "{text}");
    m.check_invariants().unwrap();
}

#[test]
fn show_mem_ends_with_the_swap_space() {
    // show_free_areas() ends with show_swap_cache_info(): the swap cache
    // (none here), get_nr_swap_pages() and total_swap_pages in kB.
    use gfp::zone::ZoneType;
    let m = machine(single_zone(4096));
    let vm = Vm::new(
        &m,
        VmConfig {
            swap_pages: 256,
            ..VmConfig::default()
        },
    );
    let env = env();
    let pid = vm.spawn("t", 0);
    let c = Cx::new(0, vm.task(pid), &env, &vm);
    for _ in 0..40 {
        vm.fault_anon(&m, &c, pid).unwrap();
    }
    let req = gfp_mm::hooks::ReclaimRequest {
        gfp: Gfp::KERNEL,
        order: 0,
        preferred_nid: 0,
        nodemask: None,
        highest_zone: ZoneType::Normal,
    };
    assert_eq!(vm.try_to_free_pages(&m, &c, &req), 32);
    assert_eq!(vm.swap_used(), 32);
    let swap_lines = |m: &Machine| -> Vec<String> {
        let lines = m.show_mem_lines(None, ZoneType::Movable);
        let i = lines
            .iter()
            .position(|l| l.ends_with(" total pagecache pages"))
            .unwrap();
        lines[i + 1..i + 4].to_vec()
    };
    assert_eq!(
        swap_lines(&m),
        [
            "0 pages in swap cache",
            "Free swap  = 896kB",
            "Total swap = 1024kB"
        ]
    );
    // The task exits: its swap entries are freed.
    vm.exit(&m, &c, pid);
    assert_eq!(swap_lines(&m)[1], "Free swap  = 1024kB");
    // A machine without a swap device.
    let bare = machine(single_zone(4096));
    assert_eq!(swap_lines(&bare)[2], "Total swap = 0kB");
}

// ----- slab pages (new_slab(), kmalloc_fix_flags()) -----

#[test]
fn slab_fixes_up_highmem_and_dma32_and_says_so() {
    // new_slab(): a mask with GFP_SLAB_BUG_MASK bits goes through
    // kmalloc_fix_flags(), which strips them and prints both masks with
    // %pGg; the slab page then comes from low memory.
    use gfp::zone::ZoneType;
    use gfp_mm::slab::{ObjExtMode, Slab};
    let m = machine(MachineSpec::highmem_32bit());
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    let s = Slab::new(&m, ObjExtMode::Off);
    let o = s.kmalloc(&m, &c, 64, Gfp::KERNEL | Gfp::HIGHMEM).unwrap();
    assert_eq!(m.page_zone_type(s.obj_page(o)), Some(ZoneType::Normal));
    let want = format!(
        "Unexpected gfp: {:#x} (__GFP_HIGHMEM). Fixing up to gfp: {:#x} (GFP_KERNEL). Fix your code!",
        Gfp::HIGHMEM.bits(),
        Gfp::KERNEL.bits()
    );
    assert_eq!(line_with(&env, "Unexpected gfp"), want);
}

// ----- log levels -----

#[test]
fn reports_print_at_the_kernels_levels() {
    // dump_header() is pr_warn, dump_tasks() and dump_oom_victim() pr_info,
    // __oom_kill_process()'s "Killed process" pr_err; __show_mem() uses
    // printk() without a level, i.e. the default KERN_WARNING.
    use gfp_mm::LogLevel;
    let (m, vm) = vm_machine();
    let env = env();
    let victim = vm.spawn("hog", 0);
    let c = Cx::new(0, vm.task(victim), &env, &vm);
    for _ in 0..100 {
        vm.fault_anon(&m, &c, victim).unwrap();
    }
    let oc = OomControl {
        gfp: Gfp::KERNEL,
        order: 0,
        nodemask: None,
        preferred_nid: 0,
    };
    assert!(vm.out_of_memory(&m, &c, &oc));
    let level = |what: &str| {
        env.log_lines()
            .into_iter()
            .find(|(_, l)| l.contains(what))
            .map(|(lv, _)| lv)
            .unwrap_or_else(|| panic!("no {what:?}"))
    };
    assert_eq!(level("invoked oom-killer"), LogLevel::Warning);
    assert_eq!(level("Mem-Info:"), LogLevel::Warning);
    assert_eq!(level("Tasks state"), LogLevel::Info);
    assert_eq!(level("oom-kill:constraint"), LogLevel::Info);
    assert_eq!(level("Killed process"), LogLevel::Err);
    assert_eq!(level("oom_reaper: reaped"), LogLevel::Info);
    // warn_alloc()'s summary too.
    let m = at_min();
    let env = common::env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    assert!(m.alloc_pages(&c, Gfp::KERNEL, 0).is_err());
    assert!(env
        .log_lines()
        .iter()
        .all(|(lv, _)| *lv == LogLevel::Warning));
}

// ----- /proc/vmstat -----

#[test]
fn allocstall_is_counted_per_zone_type() {
    // do_try_to_free_pages(): __count_zid_vm_events(ALLOCSTALL,
    // sc->reclaim_idx, 1), shown as allocstall_<zone>.
    let m = machine(MachineSpec::default_machine());
    let env = env();
    let c = Cx::new(0, task(), &env, &NoProgress);
    // The last, failing request of each loop enters direct reclaim.
    let _ = exhaust(&m, &c, Gfp::KERNEL);
    let vm = m.vmstat();
    let get = |k: &str| vm.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let normal = get("allocstall_normal").unwrap();
    assert!(normal >= 1);
    assert_eq!(get("allocstall_movable"), Some(0));
    assert_eq!(get("allocstall_dma"), Some(0));
    assert_eq!(get("allocstall"), Some(normal));
}
