//! Memory cgroups in the simulator: the report's per-group usage and
//! events, and the settings of `memcg` lines at work: `memory.low` shields
//! a group's page cache from global reclaim while an unprotected sibling's
//! is taken, and `memory.oom.group` turns a group's OOM kill into the kill
//! of all its tasks.

mod common;

use common::run;
use gfp_mm::memcg::MemcgEvents;
use gfp_sim::sim::{MemcgReport, Outcome};

/// The report of group `name`.
fn group<'r>(r: &'r gfp_sim::Report, name: &str) -> &'r MemcgReport {
    r.memcgs
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no memcg {name} in\n{}", r.text()))
}

/// Two groups, each filled with 1000 pages of clean page cache (a fill
/// stops at the group's `max`), the rest of memory taken by the kernel;
/// then a task of the root group allocates 600 pages, each one through
/// reclaim. `prot` follows `max=` on `prot`'s line.
fn low_scenario(prot: &str) -> String {
    format!(
        "machine pages=4096\nswap 0\nmemcg prot max=1000{prot}\nmemcg plain max=1000\n\
         fill file-clean owner=p\nfill file-clean owner=q\nfill kernel\n\
         task p memcg=prot\n  sleep 1\nend\ntask q memcg=plain\n  sleep 1\nend\n\
         task hog\n  repeat 600\n    alloc x GFP_KERNEL\n  end\nend\n"
    )
}

#[test]
fn memory_low_keeps_a_groups_page_cache_while_its_sibling_is_reclaimed() {
    // Without protection reclaim takes the older cache, `prot`'s, and
    // leaves `plain` whole: what the second run shows is the setting's
    // doing, not the fill order's.
    let r = run(&low_scenario(""), 1);
    assert!(r.all_completed(), "{}", r.text());
    let (prot, plain) = (group(&r, "prot"), group(&r, "plain"));
    assert_eq!((prot.usage, plain.usage), (253, 1000), "{}", r.text());

    let r = run(&low_scenario(" low=1000"), 1);
    assert!(r.all_completed(), "{}", r.text());
    let (prot, plain) = (group(&r, "prot"), group(&r, "plain"));
    assert_eq!((prot.usage, plain.usage), (1000, 253), "{}", r.text());
    // Reclaim never had to fall back on protected memory.
    assert_eq!(prot.events.low, 0, "{}", r.text());
    assert!(
        r.text()
            .contains("memcg prot: 1000 pages charged; events low 0"),
        "{}",
        r.text()
    );
}

/// Group `job` of 64 pages holds `hog`'s anonymous memory (no swap) and
/// an idle `helper`; `a`, in the group too, makes one accounted
/// allocation over its limit, which only the group's OOM killer can
/// satisfy. `settings` follow `max=` on `job`'s line.
fn oom_scenario(settings: &str) -> String {
    format!(
        "machine small-numa\nswap 0\nmemcg job max=64{settings}\nfill anon owner=hog\n\
         task hog memcg=job\n  sleep 1000000\n  sleep 1000000\nend\n\
         task helper memcg=job\n  sleep 1000000\n  sleep 1000000\nend\n\
         task a memcg=job\n  alloc p GFP_KERNEL_ACCOUNT\n  free p\nend\n"
    )
}

/// The report's `memcgs`: each declared group's usage and
/// `memory.events`, in the text and the JSON; nothing of the kind for a
/// scenario without groups.
#[test]
fn report_gives_each_groups_usage_and_events() {
    let r = run(&oom_scenario(""), 1);
    assert_eq!(
        r.memcgs,
        [MemcgReport {
            name: "job".into(),
            usage: 0,
            events: MemcgEvents {
                low: 0,
                high: 0,
                max: 19,
                oom: 1,
                oom_kill: 1,
                oom_group_kill: 0,
            },
        }],
        "{}",
        r.text()
    );
    assert!(
        r.text().contains(
            "\nmemcg job: 0 pages charged; events low 0 high 0 max 19 oom 1 oom_kill 1 oom_group_kill 0\n"
        ),
        "{}",
        r.text()
    );
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        json.contains(r#""memcgs":[{"name":"job","usage":0,"#),
        "{json}"
    );
    let r = run(
        &oom_scenario("")
            .replace("memcg job max=64\n", "")
            .replace(" memcg=job", ""),
        1,
    );
    assert!(r.memcgs.is_empty());
    assert!(!r.text().contains("memcg"), "{}", r.text());
    assert!(!serde_json::to_string(&r).unwrap().contains("memcgs"));
}

#[test]
fn oom_group_kills_every_task_of_the_group() {
    use Outcome::{Completed, Killed};
    let outcomes =
        |r: &gfp_sim::Report| -> Vec<Outcome> { r.tasks.iter().map(|t| t.outcome).collect() };
    // Without memory.oom.group the OOM kill takes the hog alone, and the
    // allocation goes through on the memory it leaves.
    let r = run(&oom_scenario(""), 1);
    assert_eq!(outcomes(&r), [Killed, Completed, Completed], "{}", r.text());
    assert_eq!(r.oom_kills, 1, "{}", r.text());
    assert_eq!(group(&r, "job").events.oom_group_kill, 0, "{}", r.text());

    // With it every task of the group dies, the allocating one included.
    // The hog, chosen first and not yet reaped, is killed (and counted)
    // again with the group, as oom_kill_memcg_member() does.
    let r = run(&oom_scenario(" oom.group"), 1);
    assert_eq!(outcomes(&r), [Killed, Killed, Killed], "{}", r.text());
    let job = group(&r, "job");
    assert_eq!(
        (
            job.events.oom,
            job.events.oom_group_kill,
            job.events.oom_kill
        ),
        (1, 1, 4),
        "{}",
        r.text()
    );
    assert_eq!(r.oom_kills, 4, "{}", r.text());
}
