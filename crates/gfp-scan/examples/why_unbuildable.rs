//! Says whether and why the scanner leaves a C file of a kernel tree out:
//! `cargo run --release -p gfp-scan --example why_unbuildable -- TREE FILE...`
//! (FILE relative to TREE).
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(tree) = args.next() else {
        eprintln!("usage: why_unbuildable TREE FILE...");
        std::process::exit(2);
    };
    let never = gfp_scan::kconfig::Unbuildable::read(std::path::Path::new(&tree), "x86_64");
    for f in args {
        println!(
            "{f}: listed by a Makefile: {}; left out: {}",
            never.listed(&f),
            never.reason(&f).unwrap_or("no")
        );
    }
}
