//! The HTML page of a run: well-formed, one plot per zone with the
//! watermarks where the zone has them, monotonic lines, every finding in
//! the timeline, escaped names, deterministic bytes, bounded size on long
//! runs; and recording a timeline leaves the report as it was.

use gfp_mm::Machine;
use gfp_sim::builtin::BUILTIN;
use gfp_sim::html::{render, HtmlOptions, XAxis};
use gfp_sim::sim::{machine_spec, Sim};
use gfp_sim::{parse, run_recorded, Report, Scenario, SimConfig, Timeline};
use roxmltree::{Document, Node};

const SVG: &str = "http://www.w3.org/2000/svg";

/// Parses the page as XML (`<!DOCTYPE html>` is a DTD to roxmltree).
fn parse_page(html: &str) -> Result<Document<'_>, roxmltree::Error> {
    Document::parse_with_options(
        html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
}

fn scenario(text: &str) -> Scenario {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn builtin(name: &str) -> Scenario {
    scenario(gfp_sim::builtin::get(name).expect("builtin"))
}

fn page(s: &Scenario, seed: u64, axis: XAxis) -> (Report, Timeline, String) {
    let (r, tl) = run_recorded(s, seed).expect("runs");
    let html = render(&r, &tl, &HtmlOptions { x_axis: axis });
    (r, tl, html)
}

/// Several tasks on the two-node machine: lock traffic, scopes, sleeps, a
/// softirq that sleeps (sleep-in-atomic on every round), FS reclaim
/// recursion, reclaim.
const BUSY: &str = "gfp-scenario 1
name busy
machine default
fill file-clean
fill anon
lock inode sleeping fs-reclaim

fn grab
  alloc big GFP_KERNEL order=3
  touch big
end

task writer
  repeat 20
    lock inode
    scope nofs
      alloc a GFP_KERNEL
      call grab
    end
    sleep 5000
    unlock inode
    sleep 20000
    free a
    free big
  end
end

task reader
  repeat 20
    lock inode
    alloc b GFP_KERNEL
    unlock inode
    sleep 15000
    free b
  end
end

task irq softirq
  repeat 10
    alloc s GFP_ATOMIC
    sleep 30000
    free s
  end
end
";

/// The elements named `name` in the SVG namespace under `n`.
fn svg_all<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.descendants()
        .filter(move |d| d.tag_name().name() == name && d.tag_name().namespace() == Some(SVG))
}

fn class_is(n: &Node<'_, '_>, c: &str) -> bool {
    n.attribute("class")
        .is_some_and(|v| v.split(' ').any(|x| x == c))
}

fn points(n: &Node<'_, '_>) -> Vec<(f64, f64)> {
    n.attribute("points")
        .expect("points")
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').expect("x,y");
            (x.parse().expect("x"), y.parse().expect("y"))
        })
        .collect()
}

fn title_of(n: &Node<'_, '_>) -> String {
    n.children()
        .find(|c| c.tag_name().name() == "title")
        .and_then(|t| t.text())
        .unwrap_or("")
        .to_string()
}

fn zone_svgs<'a, 'i>(doc: &'a Document<'i>) -> Vec<Node<'a, 'i>> {
    svg_all(doc.root(), "svg")
        .filter(|n| class_is(n, "zone"))
        .collect()
}

/// The y axis as the plot labels it: pixel y of value v, from the first
/// and last tick (value text and grid line).
fn y_axis(plot: &Node<'_, '_>) -> impl Fn(f64) -> f64 {
    let ticks: Vec<(f64, f64)> = svg_all(*plot, "g")
        .filter(|g| class_is(g, "ytick"))
        .map(|g| {
            let v: f64 = svg_all(g, "text")
                .next()
                .and_then(|t| t.text())
                .expect("tick text")
                .parse()
                .expect("tick value");
            let y: f64 = svg_all(g, "line")
                .next()
                .and_then(|l| l.attribute("y1"))
                .expect("tick line")
                .parse()
                .expect("tick y");
            (v, y)
        })
        .collect();
    assert!(ticks.len() >= 2, "a y axis has ticks");
    let (v0, y0) = ticks[0];
    let (v1, y1) = ticks[ticks.len() - 1];
    move |v| y0 + (v - v0) * (y1 - y0) / (v1 - v0)
}

#[test]
fn every_builtin_page_is_well_formed_xhtml_with_its_title() {
    for (name, _) in BUILTIN {
        let (r, _, html) = page(&builtin(name), 3, XAxis::Auto);
        let doc = parse_page(&html).unwrap_or_else(|e| panic!("{name}: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "html");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/1999/xhtml")
        );
        let title = root
            .descendants()
            .find(|n| n.tag_name().name() == "title")
            .and_then(|n| n.text());
        assert_eq!(title, Some(format!("gfp sim: {name} (seed 3)").as_str()));
        // Self-contained: nothing fetched, nothing run.
        for n in root.descendants().filter(|n| n.is_element()) {
            assert_ne!(n.tag_name().name(), "script", "{name}");
            assert_ne!(n.tag_name().name(), "link", "{name}");
            for a in n.attributes() {
                assert!(
                    !a.value().contains("http") || a.name() == "xmlns",
                    "{name}: {}={}",
                    a.name(),
                    a.value()
                );
            }
        }
        // The outcome in the header.
        if r.clean() {
            assert!(html.contains("clean: no detector fired"), "{name}");
        } else {
            for f in &r.findings {
                assert!(html.contains(&format!("<code>{}</code> ×", f.rule_id)));
            }
        }
    }
}

#[test]
fn one_free_pages_plot_per_zone_with_the_zone_watermarks() {
    let mut scenarios: Vec<Scenario> = BUILTIN.iter().map(|(n, _)| builtin(n)).collect();
    scenarios.push(scenario(BUSY));
    for s in &scenarios {
        for axis in [XAxis::Step, XAxis::Time] {
            let (_, _, html) = page(s, 1, axis);
            let doc = parse_page(&html).expect("parses");
            // The zones of the scenario's machine, built independently.
            let m = Machine::new(machine_spec(&s.machine)).expect("machine");
            let zones: Vec<_> = m.zones().iter().filter(|z| z.managed_pages() > 0).collect();
            let plots = zone_svgs(&doc);
            assert_eq!(plots.len(), zones.len(), "{:?}", s.name);
            for (plot, z) in plots.iter().zip(&zones) {
                assert_eq!(plot.attribute("data-node"), Some(&*z.nid().to_string()));
                assert_eq!(plot.attribute("data-zone"), Some(z.zone_type().name()));
                let y_of = y_axis(plot);
                for (i, class) in ["wm-min", "wm-low", "wm-high"].into_iter().enumerate() {
                    let line = svg_all(*plot, "polyline")
                        .find(|p| class_is(p, class))
                        .unwrap_or_else(|| panic!("{class} line"));
                    let want = y_of(z.watermark(i) as f64);
                    for (_, y) in points(&line) {
                        assert!(
                            (y - want).abs() < 0.11,
                            "{:?} {class}: y {y}, watermark {} at {want}",
                            s.name,
                            z.watermark(i)
                        );
                    }
                }
                // min < low < high on screen: higher values sit higher.
                let ys: Vec<f64> = (0..3).map(|i| y_of(z.watermark(i) as f64)).collect();
                assert!(ys[0] >= ys[1] && ys[1] >= ys[2], "{ys:?}");
            }
        }
    }
}

#[test]
fn lines_are_monotonic_in_x_and_span_the_run() {
    for (text, axis) in [
        (BUSY, XAxis::Time),
        (BUSY, XAxis::Step),
        (
            gfp_sim::builtin::get("bcachefs-explicit-nowait").unwrap(),
            XAxis::Auto,
        ),
    ] {
        let (_, _, html) = page(&scenario(text), 2, axis);
        let doc = parse_page(&html).expect("parses");
        for plot in zone_svgs(&doc) {
            let mut ends = Vec::new();
            for line in svg_all(plot, "polyline") {
                let pts = points(&line);
                assert!(!pts.is_empty());
                assert!(
                    pts.windows(2).all(|w| w[0].0 <= w[1].0),
                    "{:?}: x goes back in {:?}",
                    axis,
                    line.attribute("class")
                );
                ends.push((pts[0].0, pts[pts.len() - 1].0));
            }
            // Every line runs from the start of the run to its end.
            let (first, last) = ends[0];
            assert!(last > first);
            assert!(ends.iter().all(|&e| e == (first, last)), "{ends:?}");
        }
    }
}

/// The free-pages line follows the recorded samples: its lowest point is
/// the zone's lowest free count under the plot's scale.
#[test]
fn free_line_reaches_the_lowest_sample() {
    let (_, tl, html) = page(&scenario(BUSY), 1, XAxis::Step);
    let doc = parse_page(&html).expect("parses");
    for (plot, z) in zone_svgs(&doc).iter().zip(&tl.zones) {
        let y_of = y_axis(plot);
        let line = svg_all(*plot, "polyline")
            .find(|p| class_is(p, "free"))
            .expect("free line");
        let lowest_y = points(&line)
            .iter()
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max);
        let (lo, _) = z.free.range().expect("samples");
        assert!((lowest_y - y_of(lo as f64)).abs() < 0.11, "{}", z.zone);
    }
}

#[test]
fn every_finding_is_in_the_timeline_on_its_task_lane() {
    let mut scenarios: Vec<Scenario> = BUILTIN.iter().map(|(n, _)| builtin(n)).collect();
    scenarios.push(scenario(BUSY));
    let mut seen_findings = 0;
    for s in &scenarios {
        let (r, tl, html) = page(s, 1, XAxis::Auto);
        assert_eq!(tl.finding_at.len(), r.findings.len());
        assert_eq!(
            tl.finding_rules,
            r.findings.iter().map(|f| f.rule).collect::<Vec<_>>()
        );
        let doc = parse_page(&html).expect("parses");
        let timeline = svg_all(doc.root(), "svg")
            .find(|n| class_is(n, "timeline"))
            .expect("timeline");
        // Lane label y by name.
        let lanes: Vec<(String, f64)> = svg_all(timeline, "text")
            .filter(|t| class_is(t, "lane"))
            .map(|t| {
                (
                    title_of(&t),
                    t.attribute("y").unwrap().parse::<f64>().unwrap(),
                )
            })
            .collect();
        assert_eq!(lanes.len(), tl.lanes.len());
        let marks: Vec<(String, String, f64, f64)> = svg_all(timeline, "g")
            .filter(|g| class_is(g, "finding"))
            .map(|g| {
                let line = svg_all(g, "line").next().unwrap();
                let y1: f64 = line.attribute("y1").unwrap().parse().unwrap();
                let y2: f64 = line.attribute("y2").unwrap().parse().unwrap();
                (
                    g.attribute("data-rule").unwrap().to_string(),
                    title_of(&g),
                    y1,
                    y2,
                )
            })
            .collect();
        let mut counted = 0;
        for (rule, title, _, _) in &marks {
            assert!(title.starts_with(&format!("[{rule}]")), "{title}");
            counted += title
                .split_once(" ×")
                .map(|(_, n)| n.split(' ').next().unwrap().parse::<usize>().unwrap())
                .unwrap_or(1);
        }
        assert_eq!(counted, r.findings.len(), "{:?}", s.name);
        for f in &r.findings {
            let lane_y = lanes.iter().find(|(n, _)| *n == f.task).expect("lane").1;
            let on_lane = marks.iter().any(|(rule, title, y1, y2)| {
                rule == f.rule_id
                    && title.contains(&f.task)
                    && (*y1..=*y2).contains(&lane_y)
                    && (title.contains(&f.message) || title.contains(" ×"))
            });
            assert!(
                on_lane,
                "{:?}: {} not on {}'s lane",
                s.name, f.rule_id, f.task
            );
            // And in the findings table.
            assert!(html.contains(&gfp_sim::html::escape(&f.message)));
        }
        seen_findings += r.findings.len();
    }
    assert!(seen_findings > 10, "the scenarios have findings to check");
}

#[test]
fn reclaim_bars_add_up_to_the_report() {
    for name in ["bcachefs-explicit-nowait", "fs-reclaim-recursion"] {
        let (r, _, html) = page(&builtin(name), 1, XAxis::Auto);
        assert!(r.pgsteal_kswapd + r.pgsteal_direct > 0, "{name} reclaims");
        let doc = parse_page(&html).expect("parses");
        let plot = svg_all(doc.root(), "svg")
            .find(|n| class_is(n, "reclaim"))
            .expect("reclaim plot");
        let sum = |what: &str| -> u64 {
            svg_all(plot, "rect")
                .map(|r| title_of(&r))
                .filter_map(|t| {
                    t.strip_prefix(&format!("{what}: "))
                        .and_then(|rest| rest.split(' ').next())
                        .map(|n| n.parse::<u64>().unwrap())
                })
                .sum()
        };
        assert_eq!(sum("kswapd reclaimed"), r.pgsteal_kswapd, "{name}");
        assert_eq!(sum("direct reclaim reclaimed"), r.pgsteal_direct, "{name}");
        let wakes: u64 = svg_all(plot, "path")
            .filter(|p| class_is(p, "wake"))
            .map(|p| {
                title_of(&p)
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(wakes, r.kswapd_wakeups, "{name}");
    }
}

#[test]
fn names_from_user_files_are_escaped() {
    let nasty = "a<&\">'b";
    let (mut r, mut tl) = run_recorded(&builtin("bcachefs-scoped-nowait"), 1).unwrap();
    r.scenario = nasty.to_string();
    r.tasks[0].name = nasty.to_string();
    for f in &mut r.findings {
        f.task = nasty.to_string();
        f.message = format!("{} {nasty}", f.message);
        f.at = nasty.to_string();
    }
    tl.lanes[0].name = nasty.to_string();
    tl.machine = nasty.to_string();
    let html = render(&r, &tl, &HtmlOptions::default());
    assert!(!html.contains(nasty));
    let doc = parse_page(&html).expect("escaped text keeps the page well-formed");
    let title = doc
        .descendants()
        .find(|n| n.tag_name().name() == "title")
        .and_then(|n| n.text())
        .unwrap();
    assert_eq!(title, format!("gfp sim: {nasty} (seed 1)"));
    // The lane label reads back as the name itself.
    let lane = doc
        .descendants()
        .find(|n| class_is(n, "lane"))
        .expect("lane label");
    assert_eq!(lane.text(), Some(nasty));
    assert!(doc
        .descendants()
        .filter(|n| n.tag_name().name() == "td")
        .any(|n| n.descendants().any(|d| d.text() == Some(nasty))));
}

#[test]
fn same_scenario_and_seed_give_the_same_bytes() {
    for s in [scenario(BUSY), builtin("swap-over-nfs")] {
        let a = page(&s, 7, XAxis::Auto).2;
        let b = page(&s, 7, XAxis::Auto).2;
        assert!(a == b, "{:?}", s.name);
    }
    // Another seed schedules differently, and the page shows it.
    let s = scenario(BUSY);
    assert_ne!(page(&s, 7, XAxis::Auto).2, page(&s, 8, XAxis::Auto).2);
}

#[test]
fn recording_leaves_the_report_text_and_json_unchanged() {
    let mut scenarios: Vec<Scenario> = BUILTIN.iter().map(|(n, _)| builtin(n)).collect();
    scenarios.push(scenario(BUSY));
    for s in &scenarios {
        for seed in [1, 2, 5] {
            let plain = gfp_sim::sim::run(s, seed).unwrap();
            let (recorded, tl) = run_recorded(s, seed).unwrap();
            assert_eq!(plain.text(), recorded.text(), "{:?} seed {seed}", s.name);
            assert_eq!(
                serde_json::to_string(&plain).unwrap(),
                serde_json::to_string(&recorded).unwrap()
            );
            assert_eq!(tl.end.step, plain.steps);
            assert_eq!(tl.end.time_ns, plain.time_ns);
        }
    }
    // Off by default, and then nothing is recorded.
    let (_, none) = Sim::new(&scenario(BUSY), SimConfig::default())
        .unwrap()
        .run_timeline();
    assert!(none.is_none());
}

#[test]
fn lanes_are_the_tasks_then_kswapd_per_node() {
    let (r, tl, _) = page(&scenario(BUSY), 1, XAxis::Auto);
    let names: Vec<&str> = tl.lanes.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["writer", "reader", "irq", "kswapd0", "kswapd1"]);
    // Each task's lane ends once, with its outcome.
    use gfp_sim::timeline::EventKind;
    for (i, t) in r.tasks.iter().enumerate() {
        let ends: Vec<_> = tl
            .events
            .list()
            .iter()
            .filter(|e| e.lane == i && matches!(e.kind, EventKind::End(_)))
            .collect();
        assert_eq!(ends.len(), 1, "{}", t.name);
        assert_eq!(ends[0].kind, EventKind::End(t.outcome));
    }
    // Lock waits and scopes were seen (writer holds inode across a sleep).
    let kinds: Vec<EventKind> = tl.events.list().iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::WaitLock));
    assert!(kinds.contains(&EventKind::Scope));
    assert!(kinds.contains(&EventKind::Sleep));
}

/// 100 000 steps: the samples and events are capped, the page stays
/// well under a megabyte, and the lowest free count survives.
#[test]
fn long_runs_are_capped() {
    let texts = [
        // Alloc/free in a loop: free pages flip every step.
        "gfp-scenario 1\nname long\nmachine pages=4096\nfill file-clean\n\
         task a\n  repeat 100000\n    alloc p GFP_KERNEL\n    free p\n  end\nend\n",
        // Every allocation fails; the tasks sleep in between, so they
        // interleave: events on every step, a finding on every round of a.
        "gfp-scenario 1\nname failing\nmachine pages=4096\nfill kernel\n\
         task a\n  repeat 100000\n    alloc p GFP_NOWAIT no-failure-path\n    sleep 1000\n  end\nend\n\
         task b\n  repeat 100000\n    scope nofs\n      alloc q GFP_NOWAIT\n    end\n    sleep 700\n  end\nend\n",
    ];
    for text in texts {
        let s = scenario(text);
        let (r, tl, html) = page(&s, 1, XAxis::Auto);
        assert_eq!(r.steps, 100_000, "{}", r.text().lines().next().unwrap());
        assert!(html.len() < 1_000_000, "{:?}: {} bytes", s.name, html.len());
        for z in &tl.zones {
            assert!(z.free.len() <= gfp_sim::timeline::MAX_BUCKETS);
        }
        assert!(tl.events.list().len() <= gfp_sim::timeline::MAX_EVENTS);
        assert!(tl.activity.len() <= gfp_sim::timeline::MAX_BUCKETS);
        let doc = parse_page(&html).expect("parses");
        let plot = zone_svgs(&doc)[0];
        let free = svg_all(plot, "polyline")
            .find(|p| class_is(p, "free"))
            .expect("free");
        assert!(points(&free).len() <= 8 * gfp_sim::timeline::MAX_BUCKETS);
        // The event counts survive merging.
        let failed: u64 = tl
            .events
            .list()
            .iter()
            .filter(|e| e.kind == gfp_sim::timeline::EventKind::AllocFailed)
            .map(|e| e.count)
            .sum();
        assert_eq!(failed, r.tasks.iter().map(|t| t.failures).sum::<u64>());
        if s.name.as_deref() == Some("failing") {
            assert!(r.findings.len() > 10_000, "{}", r.findings.len());
            assert!(r.tasks.iter().all(|t| t.failures > 10_000));
            assert!(html.contains("more findings"));
            // Dense marks are merged, not dropped: the diamonds' counts add
            // up to every finding.
            let timeline = svg_all(doc.root(), "svg")
                .find(|n| class_is(n, "timeline"))
                .expect("timeline");
            let marks: Vec<String> = svg_all(timeline, "g")
                .filter(|g| class_is(g, "finding"))
                .map(|g| title_of(&g))
                .collect();
            assert!(marks.len() <= gfp_sim::html::MAX_MARKS);
            let counted: usize = marks
                .iter()
                .map(|t| {
                    t.split_once(" ×")
                        .map(|(_, n)| n.split(' ').next().unwrap().parse::<usize>().unwrap())
                        .unwrap_or(1)
                })
                .sum();
            assert_eq!(counted, r.findings.len());
        }
    }
}

#[test]
fn auto_axis_is_time_only_when_time_moves_on_most_steps() {
    let axis_label = |html: &str| {
        let doc = parse_page(html).expect("parses");
        let plot = zone_svgs(&doc)[0];
        let label = svg_all(plot, "text")
            .find(|t| class_is(t, "axislabel") && t.attribute("transform").is_none())
            .and_then(|t| t.text())
            .unwrap()
            .to_string();
        label
    };
    // A hundred steps, time moves in one (the sleep): steps.
    let busy = scenario(
        "gfp-scenario 1\nname busy\nmachine pages=4096\n\
         task a\n  repeat 50\n    alloc p GFP_KERNEL\n    free p\n  end\n  sleep 1000\nend\n",
    );
    let (_, tl, html) = page(&busy, 1, XAxis::Auto);
    assert!(
        tl.timed_steps * 2 < tl.end.step,
        "{} of {}",
        tl.timed_steps,
        tl.end.step
    );
    assert_eq!(
        axis_label(&html),
        "scheduler step (virtual time below, where it moved)"
    );
    // Every step sleeps: time.
    let sleeper = scenario(
        "gfp-scenario 1\nname sleeper\nmachine pages=4096\n\
         task a\n  repeat 50\n    sleep 1000\n  end\nend\n",
    );
    let (_, tl, html) = page(&sleeper, 1, XAxis::Auto);
    assert!(
        tl.timed_steps * 2 >= tl.end.step,
        "{} of {}",
        tl.timed_steps,
        tl.end.step
    );
    assert_eq!(axis_label(&html), "virtual time (µs)");
    // Forced either way.
    assert_eq!(
        axis_label(&page(&sleeper, 1, XAxis::Step).2),
        "scheduler step (virtual time below, where it moved)"
    );
    assert_eq!(
        axis_label(&page(&builtin("swap-over-nfs"), 1, XAxis::Time).2),
        "virtual time (µs)"
    );
}

/// The count of kswapd runs in the page's header, the run marks above the
/// reclaim plot and the run spans on the kswapd lanes are the same figure:
/// a run is one `kswapd()` call that completed, however many scheduler
/// steps it spans (swap-over-nfs: one run over 14 steps).
#[test]
fn kswapd_run_marks_match_the_header_count() {
    for (name, _) in BUILTIN {
        let (r, tl, html) = page(&builtin(name), 1, XAxis::Auto);
        let doc = parse_page(&html).expect("parses");
        let header = doc
            .descendants()
            .find(|n| n.has_tag_name("dd") && n.text().is_some_and(|t| t.starts_with("kswapd:")))
            .and_then(|n| n.text())
            .expect("reclaim row");
        let runs = match r.kswapd_runs {
            1 => " 1 run,".to_string(),
            n => format!(" {n} runs,"),
        };
        assert!(header.contains(&runs), "{name}: {header}");
        let marks: u64 = svg_all(doc.root(), "rect")
            .filter(|n| class_is(n, "run"))
            .map(|n| {
                title_of(&n)
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(marks, r.kswapd_runs, "{name}: run marks");
        let spans: u64 = tl
            .events
            .list()
            .iter()
            .filter(|e| e.kind == gfp_sim::timeline::EventKind::KswapdRun)
            .map(|e| e.count)
            .sum();
        assert_eq!(spans, r.kswapd_runs, "{name}: run spans");
    }
}

/// Every freed page has a source on the page: LRU reclaim by kswapd and
/// by direct reclaim, the shrinkers, the tasks' frees, OOM kills; the free
/// pages rise by what they freed less what was allocated. A reclaimer that
/// blocks in a shrinker (fs-reclaim-recursion's deadlock) has already
/// freed its LRU pages, and they count.
#[test]
fn free_page_rise_is_the_sources_less_the_allocations() {
    // The built-ins, and two runs for the sources they lack: an OOM kill
    // and the filesystem's shrinker.
    let oom = "gfp-scenario 1\nname oom\nmachine small-numa\nswap 0\nfill anon owner=hog\nfill kernel\ntask hog\n  sleep 1000000\n  sleep 1000000\nend\ntask a\n  alloc p GFP_KERNEL\n  free p\nend\n";
    let fs = "gfp-scenario 1\nname fs-cache\nmachine pages=4096\nswap 0\nfill fs-cache\ntask a\n  alloc p GFP_KERNEL\n  free p\nend\n";
    let extra = [("oom", scenario(oom)), ("fs-cache", scenario(fs))];
    let all = BUILTIN
        .iter()
        .map(|(name, _)| (*name, builtin(name)))
        .chain(extra);
    let mut seen_oom = false;
    let mut seen_fs = false;
    for (name, s) in all {
        let (r, tl, html) = page(&s, 1, XAxis::Auto);
        seen_oom |= tl.flow.oom_kills > 0;
        seen_fs |= tl.flow.fs_cache > 0 && tl.flow.shrinkers >= tl.flow.fs_cache;
        let f = tl.flow;
        assert_eq!(
            f.sources(),
            f.freed,
            "{name}: every freed page has a source: {f:?}"
        );
        assert_eq!(f.lru_kswapd, r.pgsteal_kswapd, "{name}");
        assert_eq!(f.lru_direct, r.pgsteal_direct, "{name}");
        let rise: i64 = tl
            .zones
            .iter()
            .map(|z| {
                let p = z.free_pcp.points();
                p.last().unwrap().value - p[0].value
            })
            .sum();
        assert_eq!(
            rise,
            f.sources() as i64 - f.allocated as i64,
            "{name}: {f:?}"
        );
        let doc = parse_page(&html).expect("parses");
        let row = doc
            .descendants()
            .find(|n| n.has_tag_name("dt") && n.text() == Some("free pages"))
            .and_then(|n| n.next_sibling_element())
            .and_then(|n| n.text())
            .expect("free pages row");
        assert!(
            row.starts_with(&format!(
                "{} pages freed: {} LRU pages reclaimed by kswapd, {} by direct reclaim; {} by shrinkers",
                f.freed, f.lru_kswapd, f.lru_direct, f.shrinkers
            )),
            "{name}: {row}"
        );
        assert!(
            row.contains(&format!("{} by the tasks' frees; {} by the filesystem's reclaim path (its writeback buffers); {} by OOM kills. {} pages allocated.", f.task_frees, f.fs_buffers, f.oom_kills, f.allocated)),
            "{name}: {row}"
        );
        // Plotted too: LRU reclaim in the bars (reclaim_bars_add_up_to_the_report),
        // the other sources in the circles above the reclaim plot.
        let plotted: u64 = svg_all(doc.root(), "circle")
            .filter(|n| class_is(n, "freed"))
            .map(|n| {
                title_of(&n)
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(
            plotted,
            f.shrinkers + f.task_frees + f.fs_buffers + f.oom_kills,
            "{name}: other frees plotted"
        );
    }
    assert!(seen_oom && seen_fs);
    // fs-reclaim-recursion, where the issue found 32 pages unaccounted.
    let (r, tl, html) = page(&builtin("fs-reclaim-recursion"), 1, XAxis::Auto);
    assert!(r.pgsteal_direct > 0 && tl.flow.lru_direct == r.pgsteal_direct);
    // NR_FREE_PAGES (what the zone plot draws) and the per-CPU lists apart.
    let buddy: i64 = tl
        .zones
        .iter()
        .map(|z| z.free.points().last().unwrap().value - z.free.points()[0].value)
        .sum();
    let pcp: i64 = tl
        .zones
        .iter()
        .map(|z| z.free_pcp.points().last().unwrap().value - z.free_pcp.points()[0].value)
        .sum::<i64>()
        - buddy;
    assert!(pcp > 0);
    assert!(
        html.contains(&format!(
            "<code>NR_FREE_PAGES</code> (buddy only) rose by {buddy} and the per-CPU lists hold {pcp} more"
        )),
        "NR_FREE_PAGES and the per-CPU lists"
    );
}

/// Findings of different rules at the same step on one lane stand side by
/// side, each diamond visible and each rule named (softirq-spinlock: a
/// deadlock and an irq-unsafe-lock at the same step).
#[test]
fn findings_at_the_same_step_do_not_hide_each_other() {
    let mut pages: Vec<(String, String)> = BUILTIN
        .iter()
        .map(|(name, _)| (name.to_string(), page(&builtin(name), 1, XAxis::Auto).2))
        .collect();
    pages.push(("busy".into(), page(&scenario(BUSY), 1, XAxis::Auto).2));
    let mut side_by_side = false;
    for (name, html) in &pages {
        let doc = parse_page(html).expect("parses");
        let mut centres: Vec<(String, String, String)> = Vec::new();
        for g in svg_all(doc.root(), "g").filter(|n| class_is(n, "finding")) {
            let line = svg_all(g, "line").next().expect("line");
            let d = svg_all(g, "path").next().unwrap().attribute("d").unwrap();
            let cx = d[1..].split(',').next().unwrap().to_string();
            let y1 = line.attribute("y1").unwrap().to_string();
            let x1 = line.attribute("x1").unwrap().to_string();
            assert!(
                !centres.iter().any(|(c, y, _)| *c == cx && *y == y1),
                "{name}: two findings' diamonds at x={cx} on the lane at y={y1}"
            );
            side_by_side |= centres
                .iter()
                .any(|(c, y, x)| *y == y1 && *x == x1 && *c != cx);
            centres.push((cx, y1, x1));
        }
        if name == "softirq-spinlock" {
            let labels: Vec<&str> = svg_all(doc.root(), "text")
                .filter(|n| class_is(n, "rule"))
                .filter_map(|n| n.text())
                .collect();
            for rule in ["deadlock", "irq-unsafe-lock"] {
                assert!(
                    labels
                        .iter()
                        .any(|l| l.split(", ").any(|r| r.starts_with(rule))),
                    "{rule} named: {labels:?}"
                );
            }
        }
    }
    assert!(side_by_side, "some page has findings at the same step");
}

/// The header shows the device errors and the filesystem's reclaim
/// figures the text report prints, for every built-in that has them
/// (swap-write-errors, swap-write-errors-flaky, disk-errors).
#[test]
fn header_shows_device_errors_and_filesystem_reclaim() {
    let mut with_errors = 0;
    for (name, _) in BUILTIN {
        let (r, _, html) = page(&builtin(name), 1, XAxis::Auto);
        let doc = parse_page(&html).expect("parses");
        let row = |key: &str| -> Option<String> {
            doc.descendants()
                .find(|n| n.has_tag_name("dt") && n.text() == Some(key))
                .and_then(|n| n.next_sibling_element())
                .map(|n| {
                    n.descendants()
                        .filter(|t| t.is_text())
                        .filter_map(|t| t.text())
                        .collect()
                })
        };
        let text = r.text();
        if r.swap_write_errors + r.writeback_errors + r.io_errors > 0 {
            with_errors += 1;
            let want = format!(
                "swap writes {}, writeback {}, block I/O {}",
                r.swap_write_errors, r.writeback_errors, r.io_errors
            );
            assert!(text.contains(&format!("device errors: {want}")), "{name}");
            assert_eq!(
                row("device errors").as_deref(),
                Some(want.as_str()),
                "{name}"
            );
        } else {
            assert_eq!(row("device errors"), None, "{name}");
        }
        if r.fs_reclaim_calls > 0 {
            let want = format!(
                "{} calls took its locks and allocated, {} cache pages freed",
                r.fs_reclaim_calls, r.fs_cache_freed
            );
            assert!(text.contains(&want), "{name}");
            assert_eq!(
                row("filesystem reclaim").as_deref(),
                Some(want.as_str()),
                "{name}"
            );
        }
    }
    assert!(
        with_errors >= 3,
        "{with_errors} built-ins with device errors"
    );
}

/// On the step axis the virtual time under the ticks never repeats: it is
/// printed where it moved since the tick before (softirq-spinlock runs at
/// 0 ns throughout, so only the first tick has it), and the tick labels
/// themselves are distinct, on either axis.
#[test]
fn axis_labels_do_not_repeat() {
    let mut step_pages = 0;
    for (name, _) in BUILTIN {
        for axis in [XAxis::Step, XAxis::Time] {
            let (_, _, html) = page(&builtin(name), 1, axis);
            let doc = parse_page(&html).expect("parses");
            for svg in svg_all(doc.root(), "svg") {
                let texts = |class: &str| -> Vec<String> {
                    svg_all(svg, "text")
                        .filter(|n| class_is(n, class))
                        .map(|n| n.text().unwrap_or("").to_string())
                        .collect()
                };
                let ticks = texts("xtick");
                let mut seen = std::collections::BTreeSet::new();
                assert!(
                    ticks.iter().all(|t| seen.insert(t)),
                    "{name}: ticks {ticks:?}"
                );
                let times = texts("xtime");
                assert!(
                    times.windows(2).all(|w| w[0] != w[1]),
                    "{name}: times under the ticks {times:?}"
                );
                if axis == XAxis::Step && !ticks.is_empty() {
                    assert!(!times.is_empty(), "{name}: the first tick's time");
                    step_pages += 1;
                }
            }
        }
    }
    assert!(step_pages > 0);
}

/// The marks above the reclaim plot (wake-up triangles, run squares, freed
/// circles) lie whole inside the plot, also at time 0, where they used to
/// run into the row labels.
#[test]
fn reclaim_marks_stay_inside_the_plot() {
    let mut seen = 0;
    for (name, _) in BUILTIN {
        let (_, _, html) = page(&builtin(name), 1, XAxis::Auto);
        let doc = parse_page(&html).expect("parses");
        for svg in doc.descendants().filter(|n| n.has_tag_name("svg")) {
            let left = svg_all(svg, "line")
                .filter(|n| class_is(n, "axis"))
                .filter_map(|n| n.attribute("x1")?.parse::<f64>().ok())
                .fold(f64::INFINITY, f64::min);
            for wake in svg_all(svg, "path").filter(|n| class_is(n, "wake")) {
                let d = wake.attribute("d").unwrap();
                let x: f64 = d[1..].split(',').next().unwrap().parse().unwrap();
                assert!(
                    x >= left - 0.05,
                    "{name}: wake-up mark at x={x}, plot starts at {left}"
                );
                seen += 1;
            }
            for run in svg_all(svg, "rect").filter(|n| class_is(n, "run")) {
                let x: f64 = run.attribute("x").unwrap().parse().unwrap();
                assert!(
                    x >= left - 0.05,
                    "{name}: run mark at x={x}, plot starts at {left}"
                );
            }
        }
    }
    assert!(seen > 0, "some scenario wakes kswapd");
}
