//! Memory cgroups in the simulator: the report's per-group usage and
//! events.

mod common;

use common::run;
use gfp_sim::sim::MemcgReport;

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
            low: 0,
            high: 0,
            max: 19,
            oom: 1,
            oom_kill: 1,
            oom_group_kill: 0,
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
