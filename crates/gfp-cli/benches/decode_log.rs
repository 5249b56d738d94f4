//! Decoding a 100 MB kernel log with `gfp decode` against `grep -c` on the
//! same file, in the same run. Target: at least half grep's speed
//! (a ratio of at most 2).
//!
//! `cargo bench -p gfp-cli --bench decode_log` (set `GFP_BENCH_LOG_MB` for
//! another size).

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::Criterion;

/// Lines of the kinds a real `dmesg` holds; about one in twenty carries a mask.
const LINES: &[&str] = &[
    "[ 1234.567890] usb 1-1.2: new high-speed USB device number 5 using ehci-pci",
    "[ 1234.567891] EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: (null)",
    "[ 1234.567892] audit: type=1400 audit(1590000000.123:45): apparmor=\"STATUS\" operation=\"profile_load\"",
    "[ 1234.567893] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
    "[ 1234.567894] e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
    "[ 1234.567895] CPU: 3 PID: 2511 Comm: kworker/3:2 Not tainted 5.4.0-42-generic #46-Ubuntu",
    "[ 1234.567896] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.13.0-1ubuntu1 04/01/2014",
    "[ 1234.567897] Call Trace:",
    "[ 1234.567898]  dump_stack+0x6d/0x9a",
    "[ 1234.567899]  warn_alloc.cold+0x87/0x10d",
    "[ 1234.567900] Mem-Info:",
    "[ 1234.567901] active_anon:12345 inactive_anon:23456 isolated_anon:0",
    "[ 1234.567902] Node 0 DMA32 free:12344kB min:4392kB low:5488kB high:6584kB reserved_highatomic:0KB",
    "[ 1234.567903] systemd[1]: Started Journal Service.",
    "[ 1234.567904] nvme nvme0: 8/0/0 default/read/write queues",
    "[ 1234.567905] kworker/3:2: page allocation failure: order:4, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null),cpuset=/,mems_allowed=0",
    "[ 1234.567906] Out of memory: Killed process 1234 (stress) total-vm:123456kB, anon-rss:1234kB",
    "[ 1234.567907] stress invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
    "[ 1234.567908] bash (4242): drop_caches: 3",
    "[ 1234.567909] perf: interrupt took too long (2503 > 2500), lowering kernel.perf_event_max_sample_rate to 79750",
];

fn make_log(path: &Path, megabytes: usize) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut written = 0;
    let mut i = 0;
    while written < megabytes << 20 {
        let line = LINES[i % LINES.len()];
        writeln!(w, "{line}").unwrap();
        written += line.len() + 1;
        i += 1;
    }
    w.flush().unwrap();
}

fn run(cmd: &mut Command) {
    let status = cmd.stdout(Stdio::null()).status().unwrap();
    black_box(status);
}

fn median_ns(id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_string());
    let text = std::fs::read_to_string(format!("{dir}/criterion/decode_log/{id}/new/estimates.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn main() {
    let mb: usize = std::env::var("GFP_BENCH_LOG_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let path: PathBuf = std::env::temp_dir().join(format!("gfp-bench-{mb}mb.log"));
    if std::fs::metadata(&path).map(|m| m.len() < (mb as u64) << 20).unwrap_or(true) {
        make_log(&path, mb);
    }
    let gfp = env!("CARGO_BIN_EXE_gfp");
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    let mut g = c.benchmark_group("decode_log");
    g.bench_function("grep_c", |b| {
        b.iter(|| run(Command::new("grep").args(["-c", "mode:"]).arg(&path)))
    });
    g.bench_function("gfp_decode", |b| {
        b.iter(|| run(Command::new(gfp).arg("decode").stdin(std::fs::File::open(&path).unwrap())))
    });
    g.bench_function("gfp_decode_json", |b| {
        b.iter(|| run(Command::new(gfp).args(["decode", "--json"]).stdin(std::fs::File::open(&path).unwrap())))
    });
    g.finish();
    c.final_summary();
    if let Some(base) = median_ns("grep_c") {
        println!("\n{mb} MB log; ratio to `grep -c` (median {:.1} ms):", base / 1e6);
        for id in ["gfp_decode", "gfp_decode_json"] {
            if let Some(m) = median_ns(id) {
                println!("  {id:<16} {:>8.1} ms  {:>5.2}x  ({:.0} MB/s)", m / 1e6, m / base, mb as f64 / (m / 1e9));
            }
        }
    }
}
