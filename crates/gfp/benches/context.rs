//! `current_gfp_context()` and scope guards, each as a ratio to a baseline
//! measured in the same run: a non-inlined function returning its argument.
//!
//! Run with `cargo bench -p gfp --bench context`; the ratios are printed at
//! the end (medians of criterion's estimates).

use std::hint::black_box;

use criterion::Criterion;
use gfp::{current_gfp_context, flag, scope, Gfp};

#[inline(never)]
fn identity(gfp: Gfp) -> Gfp {
    gfp
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("context");
    g.bench_function("baseline_identity_call", |b| {
        b.iter(|| identity(black_box(Gfp::KERNEL)))
    });
    g.bench_function("current_gfp_context_no_scope", |b| {
        b.iter(|| current_gfp_context(black_box(Gfp::KERNEL)))
    });
    {
        let _a = scope::nofs();
        let _b = scope::set::<flag::Nowarn>();
        let _c = scope::pin();
        g.bench_function("current_gfp_context_3_scopes", |b| {
            b.iter(|| current_gfp_context(black_box(Gfp::KERNEL)))
        });
    }
    g.bench_function("guard_enter_exit_noio", |b| {
        b.iter(|| drop(black_box(scope::noio())))
    });
    g.bench_function("guard_enter_exit_generic", |b| {
        b.iter(|| drop(black_box(scope::clear::<flag::Fs>())))
    });
    g.finish();
}

fn median_ns(id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_string());
    let path = format!("{dir}/criterion/context/{id}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    let Some(base) = median_ns("baseline_identity_call") else {
        return;
    };
    println!("\nratios to the baseline (median {base:.3} ns):");
    for id in [
        "current_gfp_context_no_scope",
        "current_gfp_context_3_scopes",
        "guard_enter_exit_noio",
        "guard_enter_exit_generic",
    ] {
        if let Some(m) = median_ns(id) {
            println!("  {id:<32} {m:>8.3} ns  {:>6.2}x", m / base);
        }
    }
}
