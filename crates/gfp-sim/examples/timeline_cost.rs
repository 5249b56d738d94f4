//! What recording a timeline costs: the same runs with
//! `SimConfig::record_timeline` off and on (median of 3 each), and the
//! size of the HTML page rendered from the recording.
//!
//! `cargo run --release -p gfp-sim --example timeline_cost`

use std::time::Instant;

use gfp_sim::html::{render, HtmlOptions};
use gfp_sim::sim::Sim;
use gfp_sim::SimConfig;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let cases = [
        (
            "100k alloc+free, pages=4096 (1 zone, 1 CPU)",
            "gfp-scenario 1\nname loop\nmachine pages=4096\nfill file-clean\n\
             task a\n  repeat 100000\n    alloc p GFP_KERNEL\n    free p\n  end\nend\n",
        ),
        (
            "100k alloc+free, default machine (6 zones, 4 CPUs)",
            "gfp-scenario 1\nname loop-default\nmachine default\nfill file-clean\n\
             task a\n  repeat 100000\n    alloc p GFP_KERNEL\n    free p\n  end\nend\n",
        ),
    ];
    for (what, text) in cases {
        let s = gfp_sim::parse(text).expect("parses");
        let mut times = [Vec::new(), Vec::new()];
        let mut page = 0;
        for _ in 0..3 {
            for (k, record) in [false, true].into_iter().enumerate() {
                let config = SimConfig {
                    seed: 1,
                    record_timeline: record,
                    ..SimConfig::default()
                };
                let t = Instant::now();
                let (r, tl) = Sim::new(&s, config).expect("machine").run_timeline();
                times[k].push(t.elapsed().as_secs_f64());
                if let Some(tl) = tl {
                    page = render(&r, &tl, &HtmlOptions::default()).len();
                }
            }
        }
        let off = median(times[0].clone());
        let on = median(times[1].clone());
        println!(
            "{what}: {:.1} ms without, {:.1} ms recording (+{:.0}%); page {} KiB",
            off * 1e3,
            on * 1e3,
            (on / off - 1.0) * 100.0,
            page / 1024
        );
    }
    for (name, text) in gfp_sim::builtin::BUILTIN {
        let s = gfp_sim::parse(text).expect("parses");
        let (r, tl) = gfp_sim::run_recorded(&s, 1).expect("runs");
        println!(
            "{name}: page {} bytes",
            render(&r, &tl, &HtmlOptions::default()).len()
        );
    }
}
