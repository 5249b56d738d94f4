//! Runs the benchmark of `gfp bench` without the CLI:
//! `cargo run --release -p gfp-mm --example bench [samples] [pairs] [allocator,...] [order,...] [threads,...]`.

fn list<T: std::str::FromStr>(a: Option<String>) -> Option<Vec<T>> {
    a.map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut cfg = gfp_mm::bench::BenchConfig::default();
    if let Some(s) = args.next().and_then(|a| a.parse().ok()) {
        cfg.samples = s;
    }
    if let Some(p) = args.next().and_then(|a| a.parse().ok()) {
        cfg.pairs_per_sample = p;
    }
    if let Some(a) = list(args.next()) {
        cfg.allocators = a;
    }
    if let Some(o) = list(args.next()) {
        cfg.orders = o;
    }
    if let Some(t) = list(args.next()) {
        cfg.threads = t;
    }
    let t = std::time::Instant::now();
    let report = gfp_mm::bench::run(&cfg);
    println!("{}", serde_json::to_string(&report).expect("json"));
    eprintln!("took {:.1} s", t.elapsed().as_secs_f64());
}
