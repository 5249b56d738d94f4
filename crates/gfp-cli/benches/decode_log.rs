//! Decoding a 100 MB kernel log with `gfp decode` against `grep -c` on the
//! same file, in the same run. Target: at least half grep's speed
//! (a ratio of at most 2).
//!
//! `cargo bench -p gfp-cli --bench decode_log` (set `GFP_BENCH_LOG_MB` for
//! another size). The log is synthetic but shaped like a real one: reports
//! of allocation failures and OOM kills, with their call traces and memory
//! dumps, between ordinary messages.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::Criterion;

/// Ordinary kernel messages, between reports.
const NOISE: &[&str] = &[
    "[ 1234.567890] usb 1-1.2: new high-speed USB device number 5 using ehci-pci",
    "[ 1234.567891] EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: (null)",
    "[ 1234.567892] audit: type=1400 audit(1590000000.123:45): apparmor=\"STATUS\" operation=\"profile_load\"",
    "[ 1234.567893] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
    "[ 1234.567894] e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
    "[ 1234.567903] systemd[1]: Started Journal Service.",
    "[ 1234.567904] nvme nvme0: 8/0/0 default/read/write queues",
    "[ 1234.567908] bash (4242): drop_caches: 3",
    "[ 1234.567909] perf: interrupt took too long (2503 > 2500), lowering kernel.perf_event_max_sample_rate to 79750",
    "[ 1234.567910] TCP: request_sock_TCP: Possible SYN flooding on port 80. Sending cookies.",
];

/// A page-allocation-failure report as `warn_alloc()` prints it, and an OOM
/// report: one line with a mask, a banner, and the dump around them.
const REPORT: &[&str] = &[
    "[ 2234.567905] kworker/3:2: page allocation failure: order:4, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null),cpuset=/,mems_allowed=0",
    "[ 2234.567906] CPU: 3 PID: 2511 Comm: kworker/3:2 Not tainted 5.4.0-42-generic #46-Ubuntu",
    "[ 2234.567907] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.13.0-1ubuntu1 04/01/2014",
    "[ 2234.567908] Call Trace:",
    "[ 2234.567909]  dump_stack+0x6d/0x9a",
    "[ 2234.567910]  warn_alloc.cold+0x87/0x10d",
    "[ 2234.567911]  __alloc_pages_slowpath+0xe3e/0xea0",
    "[ 2234.567912]  __alloc_pages_nodemask+0x2d0/0x320",
    "[ 2234.567913]  kmalloc_order+0x1f/0x80",
    "[ 2234.567914]  process_one_work+0x1eb/0x3b0",
    "[ 2234.567915]  worker_thread+0x4d/0x400",
    "[ 2234.567916]  kthread+0x104/0x140",
    "[ 2234.567917]  ret_from_fork+0x35/0x40",
    "[ 2234.567918] Mem-Info:",
    "[ 2234.567919] active_anon:12345 inactive_anon:23456 isolated_anon:0",
    "[ 2234.567920]  active_file:3456 inactive_file:4567 isolated_file:0",
    "[ 2234.567921]  unevictable:0 dirty:12 writeback:0 unstable:0",
    "[ 2234.567922]  slab_reclaimable:5678 slab_unreclaimable:6789",
    "[ 2234.567923]  mapped:1234 shmem:234 pagetables:345 bounce:0",
    "[ 2234.567924]  free:4567 free_pcp:123 free_cma:0",
    "[ 2234.567925] Node 0 active_anon:49380kB inactive_anon:93824kB active_file:13824kB inactive_file:18268kB",
    "[ 2234.567926] Node 0 DMA free:15908kB min:132kB low:164kB high:196kB reserved_highatomic:0KB",
    "[ 2234.567927] lowmem_reserve[]: 0 2967 3870 3870 3870",
    "[ 2234.567928] Node 0 DMA32 free:12344kB min:4392kB low:5488kB high:6584kB reserved_highatomic:0KB",
    "[ 2234.567929] lowmem_reserve[]: 0 0 903 903 903",
    "[ 2234.567930] Node 0 Normal free:4120kB min:1336kB low:1668kB high:2000kB reserved_highatomic:0KB",
    "[ 2234.567931] Node 0 DMA: 1*4kB (U) 0*8kB 0*16kB 1*32kB (U) 2*64kB (U) 1*128kB (U) = 15908kB",
    "[ 2234.567932] Node 0 DMA32: 1020*4kB (UME) 466*8kB (UME) 143*16kB (UME) 0*32kB = 12344kB",
    "[ 2234.567933] Node 0 Normal: 502*4kB (UME) 176*8kB (UME) 38*16kB (UM) 0*32kB = 4120kB",
    "[ 2234.567934] 12345 total pagecache pages",
    "[ 2234.567935] 0 pages in swap cache",
    "[ 2234.567936] 1048445 pages RAM",
    "[ 2234.567937] stress invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
    "[ 2234.567938] CPU: 1 PID: 4242 Comm: stress Not tainted 5.4.0-42-generic #46-Ubuntu",
    "[ 2234.567939] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=stress,pid=4243,uid=0",
    "[ 2234.567940] Out of memory: Killed process 4243 (stress) total-vm:1233456kB, anon-rss:1123412kB, file-rss:0kB",
];

/// Writes about `megabytes` of log: two reports (two masks in about 72
/// lines) between runs of 60 ordinary messages, so that about one line in 66
/// carries a mask, as in a log that records repeated allocation failures.
fn make_log(path: &Path, megabytes: usize) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut written = 0;
    let mut i = 0;
    while written < megabytes << 20 {
        let noise = (0..60).map(|k| NOISE[(i + k) % NOISE.len()]);
        for line in noise.chain(REPORT.iter().copied()) {
            writeln!(w, "{line}").unwrap();
            written += line.len() + 1;
        }
        i += 1;
    }
    w.flush().unwrap();
}

/// Runs `cmd` with its output read through a pipe: GNU grep stops at the
/// first match when its output is /dev/null, which would not be a fair race.
fn run_piped(cmd: &mut Command) {
    let out = cmd.stdout(Stdio::piped()).output().unwrap();
    black_box(out.stdout.len());
}

/// Runs `cmd` with its output discarded (gfp has no such shortcut).
fn run(cmd: &mut Command) {
    let status = cmd.stdout(Stdio::null()).status().unwrap();
    black_box(status);
}

fn median_ns(id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_string());
    let text = std::fs::read_to_string(format!(
        "{dir}/criterion/decode_log/{id}/new/estimates.json"
    ))
    .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn main() {
    let mb: usize = std::env::var("GFP_BENCH_LOG_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let path: PathBuf = std::env::temp_dir().join(format!("gfp-bench-v2-{mb}mb.log"));
    if std::fs::metadata(&path)
        .map(|m| m.len() < (mb as u64) << 20)
        .unwrap_or(true)
    {
        make_log(&path, mb);
    }
    let gfp = env!("CARGO_BIN_EXE_gfp");
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    let mut g = c.benchmark_group("decode_log");
    g.bench_function("grep_c", |b| {
        b.iter(|| run_piped(Command::new("grep").args(["-c", "mode:"]).arg(&path)))
    });
    g.bench_function("gfp_decode", |b| {
        b.iter(|| {
            run(Command::new(gfp)
                .arg("decode")
                .stdin(std::fs::File::open(&path).unwrap()))
        })
    });
    g.bench_function("gfp_decode_json", |b| {
        b.iter(|| {
            run(Command::new(gfp)
                .args(["decode", "--json"])
                .stdin(std::fs::File::open(&path).unwrap()))
        })
    });
    g.finish();
    c.final_summary();
    if let Some(base) = median_ns("grep_c") {
        println!(
            "\n{mb} MB log; ratio to `grep -c` (median {:.1} ms):",
            base / 1e6
        );
        for id in ["gfp_decode", "gfp_decode_json"] {
            if let Some(m) = median_ns(id) {
                println!(
                    "  {id:<16} {:>8.1} ms  {:>5.2}x  ({:.0} MB/s)",
                    m / 1e6,
                    m / base,
                    mb as f64 / (m / 1e9)
                );
            }
        }
    }
}
