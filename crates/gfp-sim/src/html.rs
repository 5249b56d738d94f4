//! One self-contained HTML page for a run: header and outcome, per zone
//! an SVG plot of free pages against the min/low/high watermarks, reclaim
//! activity, a timeline of task and kswapd events with every detector
//! finding, the per-task table and the findings.
//!
//! The page is XHTML-compatible HTML5 (it parses as XML), with inline CSS
//! and inline SVG, no scripts and no external resources; details are in
//! SVG `<title>` tooltips. The same report and timeline give the same
//! bytes. All text is escaped: task and lock names come from user files.
//!
//! ```
//! let s = gfp_sim::parse(gfp_sim::builtin::get("swap-over-nfs").unwrap()).unwrap();
//! let (report, timeline) = gfp_sim::run_recorded(&s, 1).unwrap();
//! let page = gfp_sim::html::render(&report, &timeline, &Default::default());
//! assert!(page.contains("<title>gfp sim: swap-over-nfs (seed 1)</title>"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::sim::{Finding, Outcome, Report, Rule};
use crate::timeline::{At, EventKind, Point, Series, Timeline};

/// What the plots' x axis counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XAxis {
    /// Virtual time when at least half of the steps end at a new
    /// instant, scheduler steps otherwise (most operations take no virtual
    /// time, so a short run happens at a handful of instants and a time
    /// axis would stack it on a few vertical lines).
    #[default]
    Auto,
    /// Virtual time.
    Time,
    /// Scheduler steps (with the virtual time under each tick).
    Step,
}

/// Rendering options.
#[derive(Clone, Copy, Debug, Default)]
pub struct HtmlOptions {
    /// The plots' x axis.
    pub x_axis: XAxis,
}

/// Rows of the findings table at most (the text and JSON reports have all).
pub const MAX_FINDING_ROWS: usize = 200;

/// Nanoseconds in the largest unit that keeps a whole number in front:
/// `950 ns`, `13 µs`, `1.5 ms`, `60 s`.
pub fn fmt_ns(ns: u64) -> String {
    let (div, unit) = match ns {
        0..=999 => (1, "ns"),
        1_000..=999_999 => (1_000, "µs"),
        1_000_000..=999_999_999 => (1_000_000, "ms"),
        _ => (1_000_000_000, "s"),
    };
    format!("{} {unit}", trim_num(ns as f64 / div as f64))
}

/// The unit of a time axis reaching `max_ns`: tick labels stay under
/// 10 000 of it.
fn time_unit(max_ns: u64) -> (u64, &'static str) {
    match max_ns {
        0..=9_999 => (1, "ns"),
        10_000..=9_999_999 => (1_000, "µs"),
        10_000_000..=9_999_999_999 => (1_000_000, "ms"),
        _ => (1_000_000_000, "s"),
    }
}

/// A number with at most three decimals, trailing zeros dropped.
fn trim_num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Escapes text for element content and attribute values; characters XML
/// does not allow (most control characters) become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

// ----- geometry -----

/// SVG width; every plot shares the x range so their axes line up.
const W: f64 = 1100.0;
const LEFT: f64 = 130.0;
const RIGHT: f64 = 130.0;
const X0: f64 = LEFT;
const X1: f64 = W - RIGHT;

/// Colours (a colour-blind-safe palette: Okabe-Ito).
const C_FREE: &str = "#0b3d91";
const C_PCP: &str = "#56b4e9";
const C_MIN: &str = "#d55e00";
const C_LOW: &str = "#e69f00";
const C_HIGH: &str = "#009e73";
const C_KSWAPD: &str = "#0072b2";
const C_KSWAPD_LIGHT: &str = "#a6cde6";
const C_DIRECT: &str = "#cc3311";
const C_DIRECT_LIGHT: &str = "#f2b8a8";
const C_FINDING: &str = "#c00000";

/// Watermark dash patterns: the colours differ, and so do the dashes (for
/// grey-scale prints and colour-blind readers).
const DASH_MIN: &str = "12 3";
const DASH_LOW: &str = "6 3";
const DASH_HIGH: &str = "2 3";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Axis {
    Time,
    Step,
}

/// The x scale shared by every plot.
struct XScale<'a> {
    axis: Axis,
    /// Domain maximum (steps or ns), at least 1.
    hi: u64,
    clock: &'a Series,
}

impl XScale<'_> {
    fn pos(&self, at: At) -> f64 {
        let v = match self.axis {
            Axis::Time => at.time_ns,
            Axis::Step => at.step,
        };
        X0 + (X1 - X0) * (v as f64 / self.hi as f64)
    }

    fn label(&self) -> String {
        match self.axis {
            Axis::Time => format!("virtual time ({})", time_unit(self.hi).1),
            Axis::Step => "scheduler step (virtual time below, where it moved)".into(),
        }
    }

    /// The x axis: ticks, labels, and on the step axis the virtual time at
    /// each tick.
    fn draw(&self, o: &mut String, y: f64, grid_top: f64) {
        let _ = writeln!(
            o,
            r#"<line class="axis" x1="{X0}" y1="{y}" x2="{X1}" y2="{y}"/>"#
        );
        let (div, _) = time_unit(self.hi);
        // On the step axis, the virtual time under a tick only where it
        // moved since the tick before: many steps share an instant, and a
        // row of "0 ns" says nothing.
        let mut last_time: Option<(u64, String)> = None;
        for t in ticks(0.0, self.hi as f64, 8) {
            let x = X0 + (X1 - X0) * (t / self.hi as f64);
            let _ = writeln!(
                o,
                r#"<line class="grid" x1="{x:.1}" y1="{grid_top}" x2="{x:.1}" y2="{y}"/><line class="tick" x1="{x:.1}" y1="{y}" x2="{x:.1}" y2="{}"/>"#,
                y + 4.0
            );
            let text = match self.axis {
                Axis::Time => trim_num(t / div as f64),
                Axis::Step => trim_num(t),
            };
            let _ = writeln!(
                o,
                r#"<text class="xtick" x="{x:.1}" y="{}" text-anchor="middle">{text}</text>"#,
                y + 15.0
            );
            if self.axis == Axis::Step {
                let time = clock_at(self.clock, t as u64);
                let Some(text) = (match &last_time {
                    Some((t0, _)) if *t0 == time => None,
                    // Rounded to the same figure as the tick before: exact.
                    Some((_, prev)) if *prev == fmt_ns(time) => Some(format!("{time} ns")),
                    _ => Some(fmt_ns(time)),
                }) else {
                    continue;
                };
                last_time = Some((time, text.clone()));
                let _ = writeln!(
                    o,
                    r#"<text class="xtime" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                    y + 27.0,
                    escape(&text)
                );
            }
        }
        let ly = if self.axis == Axis::Step {
            y + 42.0
        } else {
            y + 30.0
        };
        let _ = writeln!(
            o,
            r#"<text class="axislabel" x="{}" y="{ly}" text-anchor="middle">{}</text>"#,
            (X0 + X1) / 2.0,
            escape(&self.label())
        );
    }

    /// Height the axis needs under the plot.
    fn height(&self) -> f64 {
        if self.axis == Axis::Step {
            50.0
        } else {
            38.0
        }
    }
}

/// Virtual time at the end of `step` (the last clock sample at or before it).
fn clock_at(clock: &Series, step: u64) -> u64 {
    let mut t = 0;
    for p in clock.points() {
        if p.at.step > step {
            break;
        }
        t = p.value.max(0) as u64;
    }
    t
}

/// "Nice" tick values (multiples of 1, 2 or 5 times a power of ten) in
/// `[lo, hi]`, about `target` of them; integers only (the domains count
/// pages, steps or nanoseconds).
fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let step = tick_step(hi - lo, target);
    let mut v = Vec::new();
    let mut k = (lo / step).ceil();
    while k * step <= hi + 1e-9 {
        v.push(k * step);
        k += 1.0;
    }
    v
}

fn tick_step(range: f64, target: usize) -> f64 {
    let raw = (range / target.max(1) as f64).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * mag >= raw {
            return m * mag;
        }
    }
    10.0 * mag
}

/// A y range rounded up to a tick: `[0, hi]` with `hi` on a tick.
fn nice_max(max: f64, target: usize) -> f64 {
    let max = max.max(1.0);
    let step = tick_step(max * 1.05, target);
    (max * 1.05 / step).ceil() * step
}

struct YScale {
    lo: f64,
    hi: f64,
    top: f64,
    bottom: f64,
}

impl YScale {
    fn pos(&self, v: f64) -> f64 {
        self.bottom - (self.bottom - self.top) * ((v - self.lo) / (self.hi - self.lo))
    }

    /// Ticks, grid and the axis label; `abs`: label magnitudes (mirrored
    /// plots count upwards and downwards).
    fn draw(&self, o: &mut String, label: &str, abs: bool) {
        let _ = writeln!(
            o,
            r#"<line class="axis" x1="{X0}" y1="{}" x2="{X0}" y2="{}"/>"#,
            self.top, self.bottom
        );
        for t in ticks(self.lo, self.hi, 5) {
            let y = self.pos(t);
            let v = if abs { t.abs() } else { t };
            let _ = writeln!(
                o,
                r#"<g class="ytick"><line class="grid" x1="{X0}" y1="{y:.1}" x2="{X1}" y2="{y:.1}"/><line class="tick" x1="{}" y1="{y:.1}" x2="{X0}" y2="{y:.1}"/><text x="{}" y="{:.1}" text-anchor="end">{}</text></g>"#,
                X0 - 4.0,
                X0 - 7.0,
                y + 3.5,
                trim_num(v)
            );
        }
        let cy = (self.top + self.bottom) / 2.0;
        let _ = writeln!(
            o,
            r#"<text class="axislabel" x="{}" y="{cy:.1}" text-anchor="middle" transform="rotate(-90 {} {cy:.1})">{}</text>"#,
            X0 - 52.0,
            X0 - 52.0,
            escape(label)
        );
    }
}

// ----- polylines -----

/// A series as a step function (the value holds until the next sample):
/// pixel coordinates, monotonic in x, with points that add nothing at
/// this resolution dropped.
fn step_line(points: &[Point], xs: &XScale<'_>, ys: &YScale) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len() * 2);
    let round = |v: f64| (v * 10.0).round() / 10.0;
    let push = |out: &mut Vec<(f64, f64)>, p: (f64, f64)| {
        let p = (round(p.0), round(p.1));
        if out.last() == Some(&p) {
            return;
        }
        // Three points on one horizontal or vertical line: keep the ends.
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            if (a.1 == b.1 && b.1 == p.1) || (a.0 == b.0 && b.0 == p.0) {
                let last = out.len() - 1;
                out[last] = p;
                return;
            }
        }
        out.push(p);
    };
    let mut prev_y: Option<f64> = None;
    for p in points {
        let x = xs.pos(p.at);
        let y = ys.pos(p.value as f64);
        if let Some(py) = prev_y {
            push(&mut out, (x, py));
        }
        push(&mut out, (x, y));
        prev_y = Some(y);
    }
    out
}

fn points_attr(pts: &[(f64, f64)]) -> String {
    let mut s = String::with_capacity(pts.len() * 12);
    for (i, (x, y)) in pts.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x:.1},{y:.1}");
    }
    s
}

// ----- the page -----

/// The page for `report` and the `timeline` recorded with it.
pub fn render(report: &Report, timeline: &Timeline, opts: &HtmlOptions) -> String {
    let axis = match opts.x_axis {
        XAxis::Time => Axis::Time,
        XAxis::Step => Axis::Step,
        XAxis::Auto => {
            if timeline.end.time_ns > 0 && timeline.timed_steps * 2 >= timeline.end.step {
                Axis::Time
            } else {
                Axis::Step
            }
        }
    };
    let xs = XScale {
        axis,
        hi: match axis {
            Axis::Time => timeline.end.time_ns,
            Axis::Step => timeline.end.step,
        }
        .max(1),
        clock: &timeline.clock,
    };
    let mut o = String::with_capacity(64 * 1024);
    let title = format!("gfp sim: {} (seed {})", report.scenario, report.seed);
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>",
        escape(&title),
        CSS
    );
    header(&mut o, report, timeline, &xs);
    let _ = writeln!(o, "<h2>Free pages per zone</h2>");
    let _ = writeln!(
        o,
        "<p class=\"note\">Solid: <code>NR_FREE_PAGES</code>, the pages on the buddy lists, which the watermark checks compare against min/low/high. Dashed: the same plus the pages on the per-CPU lists (free, but not counted by the checks). Below <b>min</b> only allocations that may use reserves succeed (<code>GFP_ATOMIC</code>, <code>PF_MEMALLOC</code>); below <b>low</b> an allocation wakes kswapd, which reclaims up to <b>high</b>. Sampled after every scheduler step where a value changed{}.</p>",
        decimation_note(timeline)
    );
    for (k, z) in timeline.zones.iter().enumerate() {
        zone_plot(&mut o, k, z, &xs);
    }
    let _ = writeln!(o, "<h2>Reclaim activity</h2>");
    reclaim_plot(&mut o, timeline, &xs);
    let _ = writeln!(o, "<h2>Timeline</h2>");
    timeline_svg(&mut o, report, timeline, &xs);
    tasks_table(&mut o, report);
    findings_table(&mut o, report, timeline);
    let _ = writeln!(o, "</body>\n</html>");
    o
}

const CSS: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #222; margin: 20px auto; max-width: 1120px; padding: 0 10px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin: 1em 0 0.2em 0; }
code { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 0.92em; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 0.6em 0; }
dl.meta dt { color: #555; }
dl.meta dd { margin: 0; }
.clean { color: #006d2c; font-weight: bold; }
.dirty { color: #c00000; font-weight: bold; }
.note { color: #444; font-size: 0.9em; max-width: 1080px; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
tr.bad td { background: #fdecea; }
svg { display: block; margin: 0.2em 0 0.8em 0; }
svg text { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: 11px; fill: #333; }
svg .axislabel { font-size: 12px; fill: #222; }
svg .xtime { fill: #777; font-size: 10px; }
svg .lane { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 11px; }
svg .rule { font-size: 10px; fill: #c00000; font-weight: bold; }
svg line.axis { stroke: #333; stroke-width: 1; }
svg line.tick { stroke: #333; stroke-width: 1; }
svg line.grid { stroke: #e6e6e6; stroke-width: 1; }
svg .frame { fill: #fcfcfc; stroke: none; }
";

fn decimation_note(tl: &Timeline) -> String {
    let w = tl
        .zones
        .iter()
        .map(|z| z.free.width())
        .chain([tl.activity.width()])
        .max()
        .unwrap_or(1);
    if w > 1 {
        format!(
            "; this run is long, so each line keeps the first, lowest, highest and last sample of every {w} steps (a dip below a watermark is never averaged away)"
        )
    } else {
        String::new()
    }
}

fn header(o: &mut String, r: &Report, tl: &Timeline, xs: &XScale<'_>) {
    let _ = writeln!(o, "<h1>gfp sim: {}</h1>", escape(&r.scenario));
    let _ = writeln!(o, "<dl class=\"meta\">");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(o, "<dt>{}</dt><dd>{v}</dd>", escape(k));
    };
    row("scenario", format!("<code>{}</code>", escape(&r.scenario)));
    row("seed", r.seed.to_string());
    row("machine", escape(&tl.machine));
    row(
        "filled before the run",
        if tl.fills.is_empty() {
            "nothing".into()
        } else {
            escape(&tl.fills.join(", "))
        },
    );
    row(
        "run",
        format!(
            "{} scheduler steps, {} of virtual time",
            r.steps,
            escape(&fmt_ns(r.time_ns))
        ),
    );
    let outcome = if r.clean() {
        "<span class=\"clean\">clean: no detector fired</span>".to_string()
    } else {
        let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &r.findings {
            *by_rule.entry(f.rule_id).or_default() += 1;
        }
        let parts: Vec<String> = Rule::ALL
            .iter()
            .filter_map(|rule| {
                by_rule
                    .get(rule.id())
                    .map(|n| format!("<code>{}</code> ×{n}", rule.id()))
            })
            .collect();
        format!(
            "<span class=\"dirty\">{} finding{}:</span> {}",
            r.findings.len(),
            if r.findings.len() == 1 { "" } else { "s" },
            parts.join(", ")
        )
    };
    row("outcome", outcome);
    let scanned: (u64, u64) = tl.activity.items().fold((0, 0), |a, b| {
        (a.0 + b.counts.scanned_kswapd, a.1 + b.counts.scanned_direct)
    });
    row(
        "reclaim",
        format!(
            "kswapd: {}, {}, {} scanned, {} reclaimed; direct reclaim: {} scanned, {} reclaimed; OOM kills: {}",
            crate::sim::report::counted(r.kswapd_wakeups, "wake-up request", "wake-up requests"),
            crate::sim::report::counted(r.kswapd_runs, "run", "runs"),
            crate::sim::report::counted(scanned.0, "page", "pages"),
            r.pgsteal_kswapd,
            scanned.1,
            r.pgsteal_direct,
            r.oom_kills
        ),
    );
    // As the text report: only where something happened.
    if r.fs_reclaim_calls > 0 {
        row(
            "filesystem reclaim",
            format!(
                "{} calls took its locks and allocated, {} cache pages freed",
                r.fs_reclaim_calls, r.fs_cache_freed
            ),
        );
    }
    if r.swap_write_errors + r.writeback_errors + r.io_errors > 0 {
        row(
            "device errors",
            format!(
                "<span class=\"dirty\">swap writes {}, writeback {}, block I/O {}</span>",
                r.swap_write_errors, r.writeback_errors, r.io_errors
            ),
        );
    }
    let f = &tl.flow;
    let rise_of = |pcp: bool| -> i64 {
        tl.zones
            .iter()
            .filter_map(|z| {
                let p = if pcp { &z.free_pcp } else { &z.free }.points();
                Some(p.last()?.value - p.first()?.value)
            })
            .sum()
    };
    let (rise, buddy) = (rise_of(true), rise_of(false));
    let signed = |v: i64| {
        if v < 0 {
            format!("fell by {}", v.unsigned_abs())
        } else {
            format!("rose by {v}")
        }
    };
    row(
        "free pages",
        format!(
            "{} pages freed: {} LRU pages reclaimed by kswapd, {} by direct reclaim; {} by shrinkers (of which the filesystem's caches {}); {} by the tasks' frees; {} by the filesystem's reclaim path (its writeback buffers); {} by OOM kills. {} pages allocated. Free pages (buddy plus per-CPU lists, all zones) {}, the freed less the allocated; <code>NR_FREE_PAGES</code> (buddy only) {} and the per-CPU lists hold {}",
            f.sources(),
            f.lru_kswapd,
            f.lru_direct,
            f.shrinkers,
            f.fs_cache,
            f.task_frees,
            f.fs_buffers,
            f.oom_kills,
            f.allocated,
            signed(rise),
            signed(buddy),
            if rise >= buddy {
                format!("{} more", rise - buddy)
            } else {
                format!("{} fewer", buddy - rise)
            }
        ),
    );
    row(
        "x axis",
        match xs.axis {
            Axis::Time => "virtual time".to_string(),
            Axis::Step => format!(
                "scheduler steps: only {} of {} steps ended at a new virtual time, so the run is drawn step by step (one operation or kswapd run each); the virtual time is printed under a tick where it moved since the tick before",
                tl.timed_steps, tl.end.step
            ),
        },
    );
    let _ = writeln!(o, "</dl>");
}

/// A label in the right margin, moved apart from its neighbours.
struct MarginLabel {
    y: f64,
    text: String,
    color: &'static str,
}

fn place_labels(labels: &mut [MarginLabel], top: f64, bottom: f64) {
    const GAP: f64 = 12.0;
    labels.sort_by(|a, b| a.y.total_cmp(&b.y));
    // Push down from the top, then back up from the bottom.
    let mut prev = f64::NEG_INFINITY;
    for l in labels.iter_mut() {
        l.y = l.y.max(prev + GAP).max(top);
        prev = l.y;
    }
    let mut next = f64::INFINITY;
    for l in labels.iter_mut().rev() {
        l.y = l.y.min(next - GAP).min(bottom);
        next = l.y;
    }
}

fn zone_plot(o: &mut String, k: usize, z: &crate::timeline::ZoneSeries, xs: &XScale<'_>) {
    let _ = writeln!(
        o,
        "<h3>Node {}, zone {}: {} pages managed</h3>",
        z.nid,
        escape(z.zone),
        z.managed_pages
    );
    let (lo, hi) = [&z.free, &z.free_pcp, &z.watermarks[2]]
        .iter()
        .filter_map(|s| s.range())
        .fold((0i64, 1i64), |(lo, hi), (a, b)| (lo.min(a), hi.max(b)));
    let top = 34.0;
    let plot_h = 210.0;
    let bottom = top + plot_h;
    let ys = YScale {
        lo: if lo < 0 {
            -nice_max(-lo as f64, 5)
        } else {
            0.0
        },
        hi: nice_max(hi as f64, 5),
        top,
        bottom,
    };
    let height = bottom + xs.height() + 6.0;
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="zone" id="zone-{k}" data-node="{}" data-zone="{}" width="{W}" height="{height}" viewBox="0 0 {W} {height}" role="img">"#,
        z.nid,
        escape(z.zone)
    );
    let _ = writeln!(
        o,
        "<title>Free pages in node {} zone {} against its watermarks</title>",
        z.nid,
        escape(z.zone)
    );
    let _ = writeln!(
        o,
        r#"<rect class="frame" x="{X0}" y="{top}" width="{}" height="{plot_h}"/>"#,
        X1 - X0
    );
    ys.draw(o, "free pages", false);
    xs.draw(o, bottom, top);
    // Shade what lies below min: the reserves.
    let min_pts = step_line(&z.watermarks[0].points(), xs, &ys);
    if let (Some(first), Some(last)) = (min_pts.first(), min_pts.last()) {
        let y0 = ys.pos(ys.lo.max(0.0));
        let mut poly = min_pts.clone();
        poly.push((last.0, y0));
        poly.push((first.0, y0));
        let _ = writeln!(
            o,
            r##"<polygon class="reserve" points="{}" fill="{C_MIN}" fill-opacity="0.07" stroke="none"><title>below the min watermark: the reserves</title></polygon>"##,
            points_attr(&poly)
        );
    }
    let mut labels = Vec::new();
    // Free pages first, the watermarks over them: where free sits on a
    // watermark, the watermark's dashes still show.
    if z.free_pcp.points() != z.free.points() {
        let pts = step_line(&z.free_pcp.points(), xs, &ys);
        let _ = writeln!(
            o,
            r#"<polyline class="free-pcp" points="{}" fill="none" stroke="{C_PCP}" stroke-width="1.2" stroke-dasharray="3 2"><title>free pages plus per-CPU lists</title></polyline>"#,
            points_attr(&pts)
        );
    }
    let pts = step_line(&z.free.points(), xs, &ys);
    let (fmin, fmax) = z.free.range().unwrap_or((0, 0));
    let last_free = z.free.items().last().map(|m| m.last.value).unwrap_or(0);
    let _ = writeln!(
        o,
        r#"<polyline class="free" points="{}" fill="none" stroke="{C_FREE}" stroke-width="1.8" stroke-linejoin="round"><title>NR_FREE_PAGES: from {fmin} to {fmax} pages, {last_free} at the end</title></polyline>"#,
        points_attr(&pts)
    );
    if let Some(&(_, y)) = pts.last() {
        labels.push(MarginLabel {
            y,
            text: format!("free {last_free}"),
            color: C_FREE,
        });
    }
    let wm = [
        ("min", C_MIN, DASH_MIN),
        ("low", C_LOW, DASH_LOW),
        ("high", C_HIGH, DASH_HIGH),
    ];
    for (i, (name, color, dash)) in wm.iter().enumerate() {
        let pts = step_line(&z.watermarks[i].points(), xs, &ys);
        let last_v = z.watermarks[i]
            .items()
            .last()
            .map(|m| m.last.value)
            .unwrap_or(0);
        let _ = writeln!(
            o,
            r#"<polyline class="wm-{name}" points="{}" fill="none" stroke="{color}" stroke-width="1.5" stroke-dasharray="{dash}"><title>{name} watermark: {last_v} pages</title></polyline>"#,
            points_attr(&pts)
        );
        if let Some(&(_, y)) = pts.last() {
            labels.push(MarginLabel {
                y,
                text: format!("{name} {last_v}"),
                color,
            });
        }
    }
    place_labels(&mut labels, top + 4.0, bottom);
    for l in &labels {
        let _ = writeln!(
            o,
            r#"<text class="wmlabel" x="{}" y="{:.1}" fill="{}" style="fill: {}">{}</text>"#,
            X1 + 6.0,
            l.y + 3.5,
            l.color,
            l.color,
            escape(&l.text)
        );
    }
    // Legend, above the plot.
    let mut lx = X0;
    let items: [(&str, &str, &str, f64); 5] = [
        ("free (NR_FREE_PAGES)", C_FREE, "none", 1.8),
        ("free + per-CPU lists", C_PCP, "3 2", 1.2),
        ("high", C_HIGH, DASH_HIGH, 1.5),
        ("low", C_LOW, DASH_LOW, 1.5),
        ("min", C_MIN, DASH_MIN, 1.5),
    ];
    for (text, color, dash, sw) in items {
        let _ = writeln!(
            o,
            r#"<line x1="{lx}" y1="14" x2="{}" y2="14" stroke="{color}" stroke-width="{sw}" stroke-dasharray="{dash}"/><text x="{}" y="18">{}</text>"#,
            lx + 24.0,
            lx + 28.0,
            escape(text)
        );
        lx += 34.0 + 6.5 * text.chars().count() as f64;
    }
    let _ = writeln!(o, "</svg>");
}

/// Reclaim per bar: kswapd upwards, direct reclaim downwards; scanned
/// light, reclaimed dark (reclaimed never exceeds scanned).
fn reclaim_plot(o: &mut String, tl: &Timeline, xs: &XScale<'_>) {
    let bars = reclaim_bars(tl, xs);
    let peak = bars
        .values()
        .map(|b| b.c.scanned_kswapd.max(b.c.scanned_direct))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let hi = nice_max(peak, 3);
    let top = 68.0;
    let plot_h = 200.0;
    let bottom = top + plot_h;
    let ys = YScale {
        lo: -hi,
        hi,
        top,
        bottom,
    };
    let height = bottom + xs.height() + 6.0;
    let per = match xs.axis {
        Axis::Step if tl.activity.width() > 1 => {
            format!("pages per {} steps", tl.activity.width())
        }
        Axis::Step => "pages per step".to_string(),
        Axis::Time => "pages per bar".to_string(),
    };
    let _ = writeln!(
        o,
        "<p class=\"note\">Pages scanned (light) and reclaimed (dark) in each step: kswapd upwards, direct reclaim (the allocating task reclaiming itself) downwards. The marks above the plot are kswapd wake-up requests (triangles, <code>wakeup_kswapd()</code> calls) and kswapd runs (squares, at the step where a run completes: a run that blocks on I/O spans several steps, and its pages are in the bars of each), and pages freed other than by LRU reclaim (circles: the shrinkers, the filesystem's caches among them, the tasks' frees, the filesystem's writeback buffers, OOM kills).</p>"
    );
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="reclaim" width="{W}" height="{height}" viewBox="0 0 {W} {height}" role="img">"#
    );
    let _ = writeln!(o, "<title>Reclaim activity</title>");
    let _ = writeln!(
        o,
        r#"<rect class="frame" x="{X0}" y="{top}" width="{}" height="{plot_h}"/>"#,
        X1 - X0
    );
    ys.draw(o, &per, true);
    xs.draw(o, bottom, top);
    let zero = ys.pos(0.0);
    let _ = writeln!(
        o,
        r#"<line class="axis" x1="{X0}" y1="{zero:.1}" x2="{X1}" y2="{zero:.1}"/>"#
    );
    let _ = writeln!(
        o,
        r#"<text x="{}" y="{}" text-anchor="end">kswapd ↑</text><text x="{}" y="{}" text-anchor="end">direct ↓</text>"#,
        X1 + 60.0,
        top + 12.0,
        X1 + 60.0,
        bottom - 4.0
    );
    // Marks rows: wake-ups at y=22, runs at y=38.
    let _ = writeln!(
        o,
        r#"<text x="{}" y="26" text-anchor="end">kswapd wake-ups</text><text x="{}" y="42" text-anchor="end">kswapd runs</text><text x="{}" y="58" text-anchor="end">other frees</text>"#,
        X0 - 6.0,
        X0 - 6.0,
        X0 - 6.0
    );
    for b in bars.values() {
        reclaim_bar(o, b, &ys, zero);
    }
    if bars.is_empty() {
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="middle">no reclaim in this run</text>"#,
            (X0 + X1) / 2.0,
            zero - 8.0
        );
    }
    reclaim_legend(o);
    let _ = writeln!(o, "</svg>");
}

/// One bar of the reclaim plot: the steps it covers and their reclaim
/// counts, summed.
struct ReclaimBar {
    xa: f64,
    xb: f64,
    c: crate::timeline::ReclaimCounts,
    first: At,
    last: At,
}

/// The run's reclaim activity as the reclaim plot's bars, keyed by their
/// 2 px column.
fn reclaim_bars(tl: &Timeline, xs: &XScale<'_>) -> BTreeMap<i64, ReclaimBar> {
    // Group into bars at least 2 px apart.
    let mut bars: BTreeMap<i64, ReclaimBar> = BTreeMap::new();
    for a in tl.activity.items() {
        // `from` is where the step began: a bar covers its steps.
        let (xa, xb) = (xs.pos(a.from), xs.pos(a.to));
        let col = ((xa - X0) / 2.0).floor() as i64;
        let b = bars.entry(col).or_insert(ReclaimBar {
            xa,
            xb,
            c: Default::default(),
            first: a.from,
            last: a.to,
        });
        b.xa = b.xa.min(xa);
        b.xb = b.xb.max(xb);
        b.last = a.to;
        b.c.add(&a.counts);
    }
    bars
}

/// Draws one bar: its scanned and reclaimed rectangles about the zero line
/// `zero`, and its marks above the plot.
fn reclaim_bar(o: &mut String, b: &ReclaimBar, ys: &YScale, zero: f64) {
    let (mut xa, mut xb) = (b.xa, b.xb.max(b.xa + 2.0));
    if xb - xa > 6.0 {
        let inset = (xb - xa) * 0.15;
        xa += inset;
        xb -= inset;
    }
    let w = xb - xa;
    let c = b.c;
    let when = if b.first == b.last {
        format!("step {} (t={})", b.last.step, fmt_ns(b.last.time_ns))
    } else {
        format!(
            "steps {}–{} (t={}–{})",
            b.first.step,
            b.last.step,
            fmt_ns(b.first.time_ns),
            fmt_ns(b.last.time_ns)
        )
    };
    let rect = |o: &mut String, v: u64, up: bool, color: &str, what: &str| {
        if v == 0 {
            return;
        }
        let y = ys.pos(if up { v as f64 } else { -(v as f64) });
        let (y, h) = if up { (y, zero - y) } else { (zero, y - zero) };
        let _ = writeln!(
            o,
            r#"<rect x="{xa:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{color}"><title>{}</title></rect>"#,
            h.max(0.5),
            escape(&format!("{what}: {v} pages, {when}"))
        );
    };
    rect(o, c.scanned_kswapd, true, C_KSWAPD_LIGHT, "kswapd scanned");
    rect(o, c.reclaimed_kswapd, true, C_KSWAPD, "kswapd reclaimed");
    rect(
        o,
        c.scanned_direct,
        false,
        C_DIRECT_LIGHT,
        "direct reclaim scanned",
    );
    rect(
        o,
        c.reclaimed_direct,
        false,
        C_DIRECT,
        "direct reclaim reclaimed",
    );
    // Marks as wide as the bar, 3 to 10 px: dense runs stay apart. A
    // mark at time 0 (or at the end) stays whole inside the plot rather
    // than running into the row labels.
    let half = ((xb - xa) / 2.0).clamp(1.5, 5.0);
    let cx = ((xa + xb) / 2.0).clamp(X0 + half, (X1 - half).max(X0 + half));
    reclaim_marks(o, &c, cx, half, &when);
}

/// Draws a bar's marks above the reclaim plot, centred at `cx`, `half`
/// wide each side: pages freed other than by LRU reclaim (a circle),
/// kswapd wake-up requests (a triangle) and completed kswapd runs (a
/// square); `when` names the bar's steps.
fn reclaim_marks(
    o: &mut String,
    c: &crate::timeline::ReclaimCounts,
    cx: f64,
    half: f64,
    when: &str,
) {
    if c.freed_other() > 0 {
        let _ = writeln!(
            o,
            r#"<circle class="freed" cx="{cx:.1}" cy="54" r="{:.1}" fill="{C_PCP}"><title>{}</title></circle>"#,
            half.min(4.0),
            escape(&format!(
                "{} pages freed, {when}: shrinkers {} (the filesystem's caches {}), tasks' frees {}, the filesystem's writeback buffers {}, OOM kills {}",
                c.freed_other(),
                c.freed_shrinkers,
                c.freed_fs_cache,
                c.freed_tasks,
                c.freed_fs_buffers,
                c.freed_oom
            ))
        );
    }
    if c.kswapd_wakeups > 0 {
        let _ = writeln!(
            o,
            r#"<path class="wake" d="M{:.1},28 L{cx:.1},18 L{:.1},28 Z" fill="{C_KSWAPD}"><title>{}</title></path>"#,
            cx - half,
            cx + half,
            escape(&format!(
                "{} kswapd wake-up request(s), {when}",
                c.kswapd_wakeups
            ))
        );
    }
    if c.kswapd_runs > 0 {
        let _ = writeln!(
            o,
            r#"<rect class="run" x="{:.1}" y="34" width="{:.1}" height="9" fill="{C_KSWAPD}"><title>{}</title></rect>"#,
            cx - half.min(4.5),
            2.0 * half.min(4.5),
            escape(&format!(
                "{} kswapd run(s) completed, {when}; in this step: scanned {}, reclaimed {}",
                c.kswapd_runs, c.scanned_kswapd, c.reclaimed_kswapd
            ))
        );
    }
}

/// The reclaim plot's legend: the four bar colours, above the plot.
fn reclaim_legend(o: &mut String) {
    // Legend.
    let legend = [
        ("kswapd scanned", C_KSWAPD_LIGHT),
        ("kswapd reclaimed", C_KSWAPD),
        ("direct scanned", C_DIRECT_LIGHT),
        ("direct reclaimed", C_DIRECT),
    ];
    let mut lx = X0;
    for (text, color) in legend {
        let _ = writeln!(
            o,
            r#"<rect x="{lx}" y="4" width="12" height="10" fill="{color}"/><text x="{}" y="13">{text}</text>"#,
            lx + 16.0
        );
        lx += 30.0 + 6.5 * text.len() as f64;
    }
}

const LANE_H: f64 = 30.0;

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Completed => "completed",
        Outcome::Aborted => "aborted",
        Outcome::Stuck => "stuck",
        Outcome::Killed => "killed",
        Outcome::Unfinished => "unfinished",
    }
}

fn kind_style(k: EventKind) -> (&'static str, &'static str) {
    match k {
        EventKind::Start => ("start", "#2e7d32"),
        EventKind::End(Outcome::Completed) => ("end: completed", "#2e7d32"),
        EventKind::End(Outcome::Aborted) => ("end: aborted", "#c00000"),
        EventKind::End(Outcome::Stuck) => ("end: stuck", "#7a0000"),
        EventKind::End(Outcome::Killed) => ("end: killed", "#4a148c"),
        EventKind::End(Outcome::Unfinished) => ("end: unfinished", "#777777"),
        EventKind::WaitLock => ("waits for a lock", "#e69f00"),
        EventKind::Sleep => ("sleeps / I/O", "#9e9e9e"),
        EventKind::AllocSlept => ("sleeps in the allocator", "#8e44ad"),
        EventKind::AllocFailed => ("allocation failed", "#d55e00"),
        EventKind::OomKill => ("OOM kill", "#4a148c"),
        EventKind::OomVictim => ("OOM victim", "#4a148c"),
        EventKind::Scope => ("inside a scope", "#009e73"),
        EventKind::KswapdWake => ("kswapd woken", C_KSWAPD),
        EventKind::KswapdRun => ("kswapd runs", C_KSWAPD),
        EventKind::KswapdSleep => ("kswapd sleeps", "#5b8db8"),
    }
}

/// The SVG shape of a point marker centred at (x, y).
fn marker(k: EventKind, x: f64, y: f64, color: &str) -> String {
    match k {
        EventKind::Start => format!(
            r#"<path d="M{:.1},{:.1} L{:.1},{y:.1} L{:.1},{:.1} Z" fill="{color}""#,
            x,
            y - 6.0,
            x + 8.0,
            x,
            y + 6.0
        ),
        EventKind::End(Outcome::Completed) | EventKind::End(Outcome::Unfinished) => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="{}" stroke="{color}" stroke-width="1.5""#,
            x - 4.5,
            y - 4.5,
            if k == EventKind::End(Outcome::Unfinished) {
                "white"
            } else {
                color
            }
        ),
        EventKind::End(_) | EventKind::OomVictim => format!(
            r#"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="{color}" stroke-width="3" fill="none""#,
            x - 5.0,
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0,
            y + 5.0,
            x + 5.0,
            y - 5.0
        ),
        EventKind::AllocFailed => format!(
            r#"<path d="M{:.1},{:.1} L{:.1},{:.1} L{x:.1},{:.1} Z" fill="{color}""#,
            x - 5.5,
            y + 3.0,
            x + 5.5,
            y + 3.0,
            y + 12.0
        ),
        EventKind::OomKill => format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="5.5" fill="{color}" stroke="white" stroke-width="1""#
        ),
        EventKind::KswapdWake => format!(
            r#"<path d="M{:.1},{:.1} L{x:.1},{:.1} L{:.1},{:.1} Z" fill="{color}""#,
            x - 5.5,
            y + 5.0,
            y - 6.0,
            x + 5.5,
            y + 5.0
        ),
        _ => format!(
            r#"<path d="M{:.1},{:.1} L{x:.1},{:.1} L{:.1},{:.1} Z" fill="white" stroke="{color}" stroke-width="1.5""#,
            x - 5.0,
            y - 5.0,
            y + 5.0,
            x + 5.0,
            y - 5.0
        ),
    }
}

/// The timeline: one lane per task and per node's kswapd, with the tasks'
/// lifetimes, their span and point events, the detector findings and the
/// legend.
fn timeline_svg(o: &mut String, r: &Report, tl: &Timeline, xs: &XScale<'_>) {
    let top = 10.0;
    let lanes_h = LANE_H * tl.lanes.len().max(1) as f64;
    let bottom = top + lanes_h;
    let legend_y = bottom + xs.height() + 16.0;
    let height = legend_y + 48.0;
    let _ = writeln!(
        o,
        "<p class=\"note\">One lane per task and per node's kswapd. Hover a mark for details. Red diamonds are detector findings (their rule id beside them), also listed at the bottom of the page.{}</p>",
        if tl.events.merge_width() > 1 {
            format!(
                " This run has many events: events of one kind on one lane within {} steps are drawn as one mark, its tooltip giving the count.",
                tl.events.merge_width()
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{W}" height="{height}" viewBox="0 0 {W} {height}" role="img">"#
    );
    let _ = writeln!(o, "<title>Timeline of task and kswapd events</title>");
    timeline_lanes(o, tl, top);
    xs.draw(o, bottom, top);
    let lane_mid = |lane: usize| top + LANE_H * lane as f64 + LANE_H / 2.0;
    let when = |a: At| format!("step {}, t={}", a.step, fmt_ns(a.time_ns));
    alive_bars(o, tl, xs, &lane_mid);
    // Spans, then points (points on top). Merged where the page could not
    // show them apart anyway, so a long run stays a page of reasonable size.
    span_marks(o, tl, xs, &lane_mid, &when);
    point_marks(o, tl, xs, &lane_mid, &when);
    findings_marks(o, r, tl, xs, &lane_mid, &when);
    timeline_legend(o, legend_y);
    let _ = writeln!(o, "</svg>");
}

/// The timeline's lanes from `top` down: alternating backgrounds, each
/// named in the left margin (shortened, the full name in its tooltip).
fn timeline_lanes(o: &mut String, tl: &Timeline, top: f64) {
    for (i, lane) in tl.lanes.iter().enumerate() {
        let y = top + LANE_H * i as f64;
        let fill = if i % 2 == 0 { "#f7f7f7" } else { "#ffffff" };
        let _ = writeln!(
            o,
            r#"<rect x="{X0}" y="{y}" width="{}" height="{LANE_H}" fill="{fill}"/>"#,
            X1 - X0
        );
        let mut name = lane.name.clone();
        if name.chars().count() > 17 {
            name = name.chars().take(16).collect::<String>() + "…";
        }
        let _ = writeln!(
            o,
            r#"<text class="lane" x="{}" y="{:.1}" text-anchor="end">{}<title>{}</title></text>"#,
            X0 - 8.0,
            y + LANE_H / 2.0 + 4.0,
            escape(&name),
            escape(&lane.name)
        );
    }
}

/// A grey bar per lane from its start event to its end event, where it
/// has both.
fn alive_bars(o: &mut String, tl: &Timeline, xs: &XScale<'_>, lane_mid: &dyn Fn(usize) -> f64) {
    // Alive bars: start to end.
    let mut alive: BTreeMap<usize, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for e in tl.events.list() {
        match e.kind {
            EventKind::Start => alive.entry(e.lane).or_default().0 = Some(xs.pos(e.from)),
            EventKind::End(_) => alive.entry(e.lane).or_default().1 = Some(xs.pos(e.to)),
            _ => {}
        }
    }
    for (lane, (a, b)) in &alive {
        if let (Some(a), Some(b)) = (a, b) {
            let _ = writeln!(
                o,
                r##"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="6" fill="#cfd8dc"/>"##,
                lane_mid(*lane) - 3.0,
                (b - a).max(1.0)
            );
        }
    }
}

/// The span events (waits, sleeps, scopes, kswapd runs) as rectangles on
/// their lanes, merged by [`merge_spans`].
fn span_marks(
    o: &mut String,
    tl: &Timeline,
    xs: &XScale<'_>,
    lane_mid: &dyn Fn(usize) -> f64,
    when: &dyn Fn(At) -> String,
) {
    for sp in merge_spans(tl, xs) {
        let (what, color) = kind_style(sp.kind);
        let (y, h) = if sp.kind == EventKind::Scope {
            (lane_mid(sp.lane) - 12.0, 4.0)
        } else {
            (lane_mid(sp.lane) - 5.0, 10.0)
        };
        let tip = if sp.count > 1 {
            format!(
                "{}: {what} ×{}, {} to {}; the first: {}",
                tl.lanes[sp.lane].name,
                sp.count,
                when(sp.from),
                when(sp.to),
                sp.detail
            )
        } else {
            format!(
                "{}: {what}, {} to {}: {}",
                tl.lanes[sp.lane].name,
                when(sp.from),
                when(sp.to),
                sp.detail
            )
        };
        let _ = writeln!(
            o,
            r#"<rect class="ev" x="{:.1}" y="{y:.1}" width="{:.1}" height="{h}" fill="{color}" fill-opacity="0.85"><title>{}</title></rect>"#,
            sp.xa,
            sp.xb - sp.xa,
            escape(&tip)
        );
    }
}

/// Point events of one kind in one column of a lane.
struct PointMark<'a> {
    kind: EventKind,
    x: f64,
    count: u64,
    from: At,
    to: At,
    detail: &'a str,
}

/// The point events as markers on their lanes, those of one kind in one
/// pixel column of a lane merged, the columns widening until at most
/// [`MAX_MARKS`] remain.
fn point_marks(
    o: &mut String,
    tl: &Timeline,
    xs: &XScale<'_>,
    lane_mid: &dyn Fn(usize) -> f64,
    when: &dyn Fn(At) -> String,
) {
    let (_, points) = coarsest_needed(MAX_MARKS, |col| {
        let mut points: BTreeMap<(usize, i64, u8), PointMark<'_>> = BTreeMap::new();
        for e in tl.events.list().iter().filter(|e| !e.kind.is_span()) {
            let x = xs.pos(e.from);
            let key = (e.lane, (x / col).floor() as i64, kind_order(e.kind));
            let p = points.entry(key).or_insert(PointMark {
                kind: e.kind,
                x,
                count: 0,
                from: e.from,
                to: e.to,
                detail: &e.detail,
            });
            p.count += e.count;
            p.to = p.to.max(e.to);
        }
        points
    });
    for (&(lane, _, _), m) in &points {
        let PointMark {
            kind,
            x,
            count,
            from,
            to,
            detail,
        } = *m;
        let (what, color) = kind_style(kind);
        let tip = if count > 1 {
            format!(
                "{}: {what} ×{count}, {} to {}; the first: {detail}",
                tl.lanes[lane].name,
                when(from),
                when(to)
            )
        } else {
            format!("{}: {detail} ({})", tl.lanes[lane].name, when(from))
        };
        let _ = writeln!(
            o,
            "{} class=\"ev\"><title>{}</title></{}>",
            marker(kind, x, lane_mid(lane), color),
            escape(&tip),
            marker_tag(kind)
        );
    }
}

/// The element name [`marker`] opens.
fn marker_tag(k: EventKind) -> &'static str {
    match k {
        EventKind::End(Outcome::Completed) | EventKind::End(Outcome::Unfinished) => "rect",
        EventKind::OomKill => "circle",
        _ => "path",
    }
}

/// Drawing order within a lane column.
fn kind_order(k: EventKind) -> u8 {
    match k {
        EventKind::Start => 0,
        EventKind::AllocFailed => 1,
        EventKind::KswapdWake => 2,
        EventKind::KswapdSleep => 3,
        EventKind::OomKill => 4,
        EventKind::OomVictim => 5,
        EventKind::End(_) => 6,
        _ => 7,
    }
}

/// Most marks of one sort (spans, point events, findings) the timeline
/// draws: past it, marks of the same lane and kind in ever wider pixel
/// columns merge (counted in their tooltip).
pub const MAX_MARKS: usize = 600;

/// `group(column_width)` with the narrowest column width (half a pixel,
/// doubling) that gives at most `max` groups, or the widest tried; and
/// that width.
fn coarsest_needed<K, V>(
    max: usize,
    group: impl Fn(f64) -> BTreeMap<K, V>,
) -> (f64, BTreeMap<K, V>) {
    let mut col = 0.5;
    loop {
        let g = group(col);
        if g.len() <= max || col > W {
            return (col, g);
        }
        col *= 2.0;
    }
}

/// Spans of one lane and kind, merged where they touch at this width.
struct SpanMark<'a> {
    lane: usize,
    kind: EventKind,
    xa: f64,
    xb: f64,
    from: At,
    to: At,
    count: u64,
    detail: &'a str,
}

/// The timeline's spans at least 2 px wide, neighbours of one lane and
/// kind closer than a gap merged; the gap widens until at most
/// [`MAX_MARKS`] remain.
fn merge_spans<'a>(tl: &'a Timeline, xs: &XScale<'_>) -> Vec<SpanMark<'a>> {
    let (_, merged) = coarsest_needed(MAX_MARKS, |gap| {
        let mut open: BTreeMap<(usize, u8), SpanMark<'a>> = BTreeMap::new();
        let mut done: BTreeMap<(usize, u8, i64), SpanMark<'a>> = BTreeMap::new();
        let mut n = 0;
        for e in tl.events.list().iter().filter(|e| e.kind.is_span()) {
            let xa = xs.pos(e.from);
            let xb = xs.pos(e.to).max(xa + 2.0);
            let key = (e.lane, span_order(e.kind));
            if let Some(m) = open.get_mut(&key) {
                // Touching, overlapping or nested (scopes): one mark.
                if xa <= m.xb + gap - 0.5 {
                    m.xa = m.xa.min(xa);
                    m.from = m.from.min(e.from);
                    m.xb = m.xb.max(xb);
                    m.to = m.to.max(e.to);
                    m.count += e.count;
                    continue;
                }
            }
            let next = SpanMark {
                lane: e.lane,
                kind: e.kind,
                xa,
                xb,
                from: e.from,
                to: e.to,
                count: e.count,
                detail: &e.detail,
            };
            if let Some(prev) = open.insert(key, next) {
                done.insert((key.0, key.1, n), prev);
                n += 1;
            }
        }
        for (key, m) in open {
            done.insert((key.0, key.1, n), m);
            n += 1;
        }
        done
    });
    merged.into_values().collect()
}

/// A distinct number per span kind.
fn span_order(k: EventKind) -> u8 {
    match k {
        EventKind::WaitLock => 0,
        EventKind::Sleep => 1,
        EventKind::AllocSlept => 2,
        EventKind::Scope => 3,
        _ => 4,
    }
}

fn findings_marks(
    o: &mut String,
    r: &Report,
    tl: &Timeline,
    xs: &XScale<'_>,
    lane_mid: &dyn Fn(usize) -> f64,
    when: &dyn Fn(At) -> String,
) {
    // Group per lane, rule and pixel column: one diamond per group.
    let (col, groups) = coarsest_needed(MAX_MARKS / 2, |col| {
        let mut groups: BTreeMap<(usize, i64, Rule), Vec<(usize, At)>> = BTreeMap::new();
        for (n, f) in r.findings.iter().enumerate() {
            let at = tl.finding_at.get(n).copied().unwrap_or(tl.end);
            let lane = tl.task_lane(&f.task).unwrap_or(0);
            let x = xs.pos(at);
            groups
                .entry((lane, (x / col).floor() as i64, f.rule))
                .or_default()
                .push((n, at));
        }
        groups
    });
    let groups: Vec<_> = groups.into_iter().collect();
    // Diamonds narrow where findings are dense, so each stays visible.
    let half = (7.0 / col).clamp(3.0, 7.0);
    // Labels: never over another label; over later marks (with a white
    // halo) only for the first finding of its rule on the lane.
    let mut label_end: BTreeMap<usize, f64> = BTreeMap::new();
    let mut labelled: BTreeSet<(usize, Rule)> = BTreeSet::new();
    // Groups of different rules in the same column of a lane (findings at
    // the same step) stand side by side: the k-th moves k diamond widths
    // right (left at the page's right edge), its line stays at the time.
    let mut slot = 0usize;
    for (k, ((lane, column, rule), list)) in groups.iter().enumerate() {
        let (n0, at0) = list[0];
        let f: &Finding = &r.findings[n0];
        let x = xs.pos(at0);
        let y = lane_mid(*lane);
        slot = match k.checked_sub(1).map(|p| &groups[p].0) {
            Some((l, c, _)) if l == lane && c == column => slot + 1,
            _ => 0,
        };
        let dx = slot as f64 * (2.0 * half + 2.0);
        let cx = if x + dx + half > W { x - dx } else { x + dx };
        let tip = if list.len() == 1 {
            format!(
                "[{}] {} at {} ({}): {}",
                f.rule_id,
                f.task,
                f.at,
                when(at0),
                f.message
            )
        } else {
            format!(
                "[{}] ×{} on {}; the first at {} ({}): {}",
                f.rule_id,
                list.len(),
                f.task,
                f.at,
                when(at0),
                f.message
            )
        };
        let _ = writeln!(
            o,
            r#"<g class="finding" data-rule="{}"><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{C_FINDING}" stroke-width="1.5"/><path d="M{cx:.1},{:.1} L{:.1},{:.1} L{cx:.1},{:.1} L{:.1},{:.1} Z" fill="{C_FINDING}" stroke="white" stroke-width="1"/><title>{}</title></g>"#,
            rule.id(),
            y - LANE_H / 2.0 + 1.0,
            y + LANE_H / 2.0 - 1.0,
            y - 8.0,
            cx + half,
            y,
            y + 8.0,
            cx - half,
            y,
            escape(&tip)
        );
        // One label per column of a lane, after its last diamond, naming
        // each rule there.
        let last_in_column = groups
            .get(k + 1)
            .is_none_or(|((l, c, _), _)| l != lane || c != column);
        if !last_in_column {
            continue;
        }
        let run = &groups[k - slot..=k];
        let text = run
            .iter()
            .map(|((_, _, rule), list)| {
                if list.len() > 1 {
                    format!("{} ×{}", rule.id(), list.len())
                } else {
                    rule.id().to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let width = 6.2 * text.chars().count() as f64 + 6.0;
        let next_x = groups
            .get(k + 1)
            .filter(|((l, _, _), _)| l == lane)
            .map(|(_, list)| xs.pos(list[0].1))
            .unwrap_or(f64::INFINITY);
        let room = next_x - x.max(cx) > width + 16.0;
        // Right of the marks, or left of them at the page's right edge.
        let lx = if x.max(cx) + 9.0 + width > W {
            x.min(cx) - 9.0 - width
        } else {
            x.max(cx) + 9.0
        };
        let end = label_end.entry(*lane).or_insert(f64::NEG_INFINITY);
        let new_rule = run
            .iter()
            .any(|((_, _, rule), _)| !labelled.contains(&(*lane, *rule)));
        if lx > *end && (room || new_rule) {
            for ((_, _, rule), _) in run {
                labelled.insert((*lane, *rule));
            }
            let _ = writeln!(
                o,
                r#"<text class="rule" x="{lx:.1}" y="{:.1}" stroke="white" stroke-width="3" paint-order="stroke">{}</text>"#,
                y - 4.0,
                escape(&text)
            );
            *end = lx + width;
        }
    }
}

fn timeline_legend(o: &mut String, y: f64) {
    /// What a legend entry shows.
    enum Swatch {
        Marker(EventKind),
        Span(EventKind),
        Scope,
        Finding,
    }
    let items = [
        Swatch::Marker(EventKind::Start),
        Swatch::Marker(EventKind::End(Outcome::Completed)),
        Swatch::Marker(EventKind::End(Outcome::Aborted)),
        Swatch::Marker(EventKind::End(Outcome::Unfinished)),
        Swatch::Marker(EventKind::AllocFailed),
        Swatch::Marker(EventKind::OomKill),
        Swatch::Marker(EventKind::OomVictim),
        Swatch::Marker(EventKind::KswapdWake),
        Swatch::Marker(EventKind::KswapdSleep),
        Swatch::Span(EventKind::KswapdRun),
        Swatch::Span(EventKind::WaitLock),
        Swatch::Span(EventKind::Sleep),
        Swatch::Span(EventKind::AllocSlept),
        Swatch::Scope,
        Swatch::Finding,
    ];
    let (mut x, mut yy) = (X0, y);
    for item in items {
        let (text, color) = match item {
            Swatch::Marker(k) | Swatch::Span(k) => kind_style(k),
            Swatch::Scope => kind_style(EventKind::Scope),
            Swatch::Finding => ("detector finding", C_FINDING),
        };
        let width = 30.0 + 6.2 * text.chars().count() as f64;
        if x + width > X1 + 60.0 {
            x = X0;
            yy += 18.0;
        }
        let swatch = match item {
            Swatch::Marker(k) => format!("{}/>", marker(k, x + 4.0, yy - 3.0, color)),
            Swatch::Span(_) => format!(
                r#"<rect x="{x:.1}" y="{:.1}" width="10" height="9" fill="{color}" fill-opacity="0.85"/>"#,
                yy - 7.5
            ),
            Swatch::Scope => format!(
                r#"<rect x="{x:.1}" y="{:.1}" width="10" height="4" fill="{color}"/>"#,
                yy - 5.0
            ),
            Swatch::Finding => format!(
                r#"<path d="M{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="{C_FINDING}"/>"#,
                x + 4.0,
                yy - 10.0,
                x + 10.0,
                yy - 3.0,
                x + 4.0,
                yy + 4.0,
                x - 2.0,
                yy - 3.0
            ),
        };
        let _ = writeln!(
            o,
            "{swatch}<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 16.0,
            yy + 1.0,
            escape(text)
        );
        x += width;
    }
}

fn tasks_table(o: &mut String, r: &Report) {
    let _ = writeln!(o, "<h2>Tasks</h2>");
    let _ = writeln!(
        o,
        "<table class=\"tasks\">\n<tr><th>task</th><th>outcome</th><th>steps</th><th>allocations</th><th>failed</th><th>latency total</th><th>latency mean</th><th>latency max</th></tr>"
    );
    for t in &r.tasks {
        let bad = t.outcome != Outcome::Completed || t.failures > 0;
        let mean = t.latency_total_ns.checked_div(t.allocations).unwrap_or(0);
        let _ = writeln!(
            o,
            "<tr{}><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            if bad { " class=\"bad\"" } else { "" },
            escape(&t.name),
            outcome_word(t.outcome),
            t.steps,
            t.allocations,
            t.failures,
            escape(&fmt_ns(t.latency_total_ns)),
            escape(&fmt_ns(mean)),
            escape(&fmt_ns(t.latency_max_ns))
        );
    }
    let _ = writeln!(o, "</table>");
}

fn findings_table(o: &mut String, r: &Report, tl: &Timeline) {
    let _ = writeln!(o, "<h2>Findings</h2>");
    if r.findings.is_empty() {
        let _ = writeln!(o, "<p class=\"clean\">None: no detector fired.</p>");
        return;
    }
    let _ = writeln!(
        o,
        "<table class=\"findings\">\n<tr><th>#</th><th>rule</th><th>task</th><th>where</th><th>when</th><th>what happened</th></tr>"
    );
    for (n, f) in r.findings.iter().enumerate().take(MAX_FINDING_ROWS) {
        let at = tl.finding_at.get(n).copied().unwrap_or(tl.end);
        let _ = writeln!(
            o,
            "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td><td>step {}, t={}</td><td>{}</td></tr>",
            n + 1,
            f.rule_id,
            escape(&f.task),
            escape(&f.at),
            at.step,
            escape(&fmt_ns(f.time_ns)),
            escape(&f.message)
        );
    }
    let _ = writeln!(o, "</table>");
    if r.findings.len() > MAX_FINDING_ROWS {
        let _ = writeln!(
            o,
            "<p class=\"note\">… and {} more findings: the text and JSON reports (<code>gfp sim --json</code>) list every one.</p>",
            r.findings.len() - MAX_FINDING_ROWS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_units_and_numbers() {
        assert_eq!(fmt_ns(0), "0 ns");
        assert_eq!(fmt_ns(999), "999 ns");
        assert_eq!(fmt_ns(9_999), "9.999 µs");
        assert_eq!(time_unit(9_999), (1, "ns"));
        assert_eq!(time_unit(1_500_000_000), (1_000_000, "ms"));
        assert_eq!(fmt_ns(13_000), "13 µs");
        assert_eq!(fmt_ns(1_500_000_000), "1.5 s");
        assert_eq!(fmt_ns(60_000_000_000), "60 s");
        assert_eq!(trim_num(2.50), "2.5");
        assert_eq!(trim_num(-0.0001), "0");
    }

    #[test]
    fn ticks_are_nice_and_inside_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.0, 4096.0, 5), [0.0, 1000.0, 2000.0, 3000.0, 4000.0]);
        // Integer domains never get fractional ticks.
        assert_eq!(ticks(0.0, 3.0, 8), [0.0, 1.0, 2.0, 3.0]);
        let t = ticks(-300.0, 300.0, 5);
        assert!(t.contains(&0.0) && t.iter().all(|v| (-300.0..=300.0).contains(v)));
        assert_eq!(nice_max(51.0, 5), 60.0);
    }

    #[test]
    fn escape_covers_markup_and_control_characters() {
        assert_eq!(
            escape("a<&\">'b\u{1}"),
            "a&lt;&amp;&quot;&gt;&#39;b\u{FFFD}"
        );
    }

    #[test]
    fn labels_keep_apart() {
        let mut l: Vec<MarginLabel> = [100.0, 101.0, 102.0]
            .into_iter()
            .map(|y| MarginLabel {
                y,
                text: String::new(),
                color: "",
            })
            .collect();
        place_labels(&mut l, 0.0, 300.0);
        assert!(l.windows(2).all(|w| w[1].y - w[0].y >= 12.0 - 1e-9));
    }
}
